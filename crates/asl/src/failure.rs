//! A failed step: the error name and cause that Step Functions reports, catches and retries on.

use std::fmt;

/// The `States.*` error names AWS raises itself.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const RUNTIME: &str = "States.Runtime";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

/// An error raised while running a state; `cause` is free text (often JSON) exactly as AWS words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub cause: Option<String>,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure { error: error.into(), cause: Some(cause.into()) }
    }

    pub fn without_cause(error: impl Into<String>) -> Self {
        Failure { error: error.into(), cause: None }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Failure::new(names::RUNTIME, cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Failure::new(names::INTRINSIC_FAILURE, cause)
    }

    pub fn query_evaluation(cause: impl Into<String>) -> Self {
        Failure::new(names::QUERY_EVALUATION_ERROR, cause)
    }

    /// Errors that no Retry or Catch may handle. (AWS's documentation also names
    /// `States.DataLimitExceeded`, but AWS catches it when a task result is too large.)
    pub fn is_uncatchable(&self) -> bool {
        self.error == names::RUNTIME
    }

    /// Whether an `ErrorEquals` entry names this failure. `States.ALL` matches every catchable
    /// error; `States.TaskFailed` matches every error a task can report except timeouts.
    pub fn matches(&self, error_equals: &str) -> bool {
        if self.is_uncatchable() {
            return false;
        }
        match error_equals {
            names::ALL => true,
            names::TASK_FAILED => self.error != names::TIMEOUT,
            name => self.error == name,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {}", self.error, cause),
            None => f.write_str(&self.error),
        }
    }
}

impl std::error::Error for Failure {}
