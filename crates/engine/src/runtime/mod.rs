//! Executions as a service: started, advanced, persisted and recovered. Every accepted change is
//! durable before it is acknowledged.

use crate::catalog::ResolvedMachine;
use crate::ServiceError;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct StartedExecution {
    pub execution_arn: String,
    /// Milliseconds since the Unix epoch.
    pub start_ms: i64,
}

/// DescribeExecution's facts; also StartSyncExecution's answer (with `billing` left to the API).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub state_machine_version_arn: Option<String>,
    pub state_machine_alias_arn: Option<String>,
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    pub status: String,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub redrive_count: u32,
    pub redrive_date_ms: Option<i64>,
    /// REDRIVABLE, NOT_REDRIVABLE, REDRIVABLE_BY_MAP_RUN.
    pub redrive_status: String,
    pub redrive_status_reason: Option<String>,
    pub trace_header: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    pub task_token: String,
    pub input: String,
}

pub struct Runtime {}

impl Runtime {
    /// StartExecution: idempotent by name while the same input is given (AWS's rules);
    /// durable before it returns.
    pub async fn start_execution(&self, machine: ResolvedMachine, name: Option<String>, input: String, trace_header: Option<String>) -> Result<StartedExecution, ServiceError> {
        todo!("{:?}{name:?}{input}{trace_header:?}", machine.state_machine_arn)
    }

    /// StartSyncExecution of an EXPRESS machine: runs to its end and answers with it.
    pub async fn start_sync_execution(&self, machine: ResolvedMachine, name: Option<String>, input: String) -> Result<ExecutionDescription, ServiceError> {
        todo!("{:?}{name:?}{input}", machine.state_machine_arn)
    }

    /// StopExecution: the stop date.
    pub async fn stop_execution(&self, execution_arn: &str, error: Option<String>, cause: Option<String>) -> Result<i64, ServiceError> {
        todo!("{execution_arn}{error:?}{cause:?}")
    }

    pub async fn redrive_execution(&self, execution_arn: &str) -> Result<i64, ServiceError> {
        todo!("{execution_arn}")
    }

    pub fn describe_execution(&self, execution_arn: &str) -> Result<ExecutionDescription, ServiceError> {
        todo!("{execution_arn}")
    }

    /// Newest first; `status` filters (None = all). The API paginates.
    pub fn list_executions(&self, state_machine_arn: &str, status: Option<&str>) -> Result<Vec<ExecutionDescription>, ServiceError> {
        todo!("{state_machine_arn}{status:?}")
    }

    /// The execution's history events in id order, in GetExecutionHistory's JSON shape
    /// (timestamps as epoch seconds). The API reverses, strips data and paginates.
    pub fn history(&self, execution_arn: &str) -> Result<Vec<Value>, ServiceError> {
        todo!("{execution_arn}")
    }

    /// GetActivityTask: waits up to 60 s for a task of the activity; None when none came.
    pub async fn get_activity_task(&self, activity_arn: &str, worker_name: Option<String>) -> Result<Option<ActivityTask>, ServiceError> {
        todo!("{activity_arn}{worker_name:?}")
    }

    pub async fn send_task_success(&self, task_token: &str, output: String) -> Result<(), ServiceError> {
        todo!("{task_token}{output}")
    }

    pub async fn send_task_failure(&self, task_token: &str, error: Option<String>, cause: Option<String>) -> Result<(), ServiceError> {
        todo!("{task_token}{error:?}{cause:?}")
    }

    pub async fn send_task_heartbeat(&self, task_token: &str) -> Result<(), ServiceError> {
        todo!("{task_token}")
    }
}
