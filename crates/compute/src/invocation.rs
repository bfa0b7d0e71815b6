//! What invoking a function gives back, shaped like Lambda's `Invoke` response.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::function::FunctionSpec;

/// Runs functions. One invocation blocks the calling thread until it ends; callers run several at
/// once from several threads. Implementations may keep state between calls (warm environments).
pub trait FunctionRunner: Send + Sync {
    /// Invokes `spec` with `payload` as its event. `cancellation` stops waiting early (a state's
    /// `TimeoutSeconds`, an aborted execution): the invocation is killed and reports `Cancelled`.
    fn invoke(&self, spec: &FunctionSpec, payload: &Value, cancellation: &Cancellation) -> Invocation;

    /// Starts the function's provisioned concurrency ahead of its invocations, where the runner
    /// keeps environments.
    fn provision(&self, _spec: &FunctionSpec) {}

    /// Stops whatever the runner keeps of a deleted function.
    fn retire(&self, _function: &str) {}
}

#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// A fresh v4 UUID: the context's `aws_request_id` and the error payload's `requestId`.
    pub request_id: String,
    pub outcome: Outcome,
    /// The response body as Lambda's `Invoke` returns it: the result as the function's runtime
    /// serialized it (its length is the `Content-Length` AWS reports), or the error document (the
    /// failure's payload). Empty when nothing answered: unavailable or cancelled.
    pub payload: String,
    /// The invocation's part of the log stream, as it reaches CloudWatch: `START RequestId: …`,
    /// what the function printed (stdout and stderr, in order), `END …` and `REPORT …` (Duration,
    /// Billed Duration, Memory Size, Max Memory Used, Init Duration on a cold start).
    pub logs: String,
    /// The log stream of the environment that ran it (`2026/11/23/[$LATEST]3f…`); empty when none did.
    pub log_stream_name: String,
}

impl Invocation {
    /// An invocation that never reached an environment.
    pub(crate) fn without_environment(request_id: String, outcome: Outcome) -> Invocation {
        Invocation { request_id, outcome, payload: String::new(), logs: String::new(), log_stream_name: String::new() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The handler returned this JSON. A handler returning bytes that are not JSON gives a JSON
    /// string of them.
    Returned(Value),
    /// Lambda reports the invocation as failed (`FunctionError: Unhandled`).
    Failed(FunctionError),
    /// The function could not be run at all (its interpreter is missing, a pipe broke): a problem
    /// of this machine that Lambda itself would never report.
    Unavailable(String),
    /// The caller cancelled the invocation before it ended.
    Cancelled,
    /// The function's reserved concurrency was all in use: Lambda's `TooManyRequestsException`
    /// (reason `ReservedFunctionConcurrentInvocationLimitExceeded`), nothing ran.
    Throttled,
}

/// A failed invocation: Lambda's error document and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub kind: FailureKind,
    /// `errorType`: the exception's class (`"Exception"`), or Lambda's own (`"Runtime.ImportModuleError"`,
    /// `"Sandbox.Timedout"`, `"Runtime.ExitError"`).
    pub error_type: String,
    pub error_message: String,
    /// The error document exactly as Lambda returns it, which Step Functions uses verbatim as the
    /// cause, e.g. `{"errorMessage": "boom", "errorType": "Exception", "requestId": "…", "stackTrace": […]}`.
    pub payload: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The handler raised (threw) an error.
    Handler,
    /// The runtime could not run the handler: its module failed to load, the handler is missing,
    /// or its result could not be serialized.
    Runtime,
    /// The function ran past its timeout and was stopped.
    Timeout,
    /// The function's process ended without answering.
    Crash,
    /// The function's process ran out of its memory and was stopped.
    OutOfMemory,
}

impl FunctionError {
    /// Reads Lambda's `errorType` and `errorMessage` out of an error document.
    pub(crate) fn from_payload(kind: FailureKind, payload: String) -> FunctionError {
        let document: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
        let text = |field: &str| document.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
        FunctionError { kind, error_type: text("errorType"), error_message: text("errorMessage"), payload }
    }

    /// A failure the Lambda service reports itself, not the runtime inside the function.
    fn from_service(kind: FailureKind, error_type: &str, request_id: &str, reason: &str) -> FunctionError {
        let error_message = format!("RequestId: {request_id} Error: {reason}");
        let payload = json!({ "errorType": error_type, "errorMessage": error_message }).to_string();
        FunctionError { kind, error_type: error_type.to_string(), error_message, payload }
    }

    /// The function's process died of running out of memory (`Runtime.OutOfMemory`); `reason` as
    /// in [`FunctionError::crashed`].
    pub(crate) fn out_of_memory(request_id: &str, reason: Option<&str>) -> FunctionError {
        let reason = format!("Runtime exited with error: {}", reason.unwrap_or("signal: killed"));
        FunctionError::from_service(FailureKind::OutOfMemory, "Runtime.OutOfMemory", request_id, &reason)
    }

    /// The function's `bootstrap` could not be executed; `reason` as Go words it.
    pub(crate) fn invalid_entrypoint(request_id: &str, reason: &str) -> FunctionError {
        FunctionError::from_service(FailureKind::Runtime, "Runtime.InvalidEntrypoint", request_id, reason)
    }

    /// Lambda stopped the function at its timeout.
    pub(crate) fn timed_out(request_id: &str, timeout_seconds: u32) -> FunctionError {
        let reason = format!("Task timed out after {timeout_seconds}.00 seconds");
        FunctionError::from_service(FailureKind::Timeout, "Sandbox.Timedout", request_id, &reason)
    }

    /// The function's process ended without answering; `reason` as Lambda words it (`exit status 1`,
    /// `signal: killed`), or `None` when it exited successfully.
    pub(crate) fn crashed(request_id: &str, reason: Option<&str>) -> FunctionError {
        let reason = match reason {
            Some(reason) => format!("Runtime exited with error: {reason}"),
            None => "Runtime exited without providing a reason".to_string(),
        };
        FunctionError::from_service(FailureKind::Crash, "Runtime.ExitError", request_id, &reason)
    }
}

/// Tells a running invocation to stop; clones share the same signal.
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Arc<AtomicBool>);

impl Cancellation {
    pub fn new() -> Cancellation {
        Cancellation::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_reads_like_lambda() {
        let error = FunctionError::timed_out("7d0c", 3);
        assert_eq!(error.error_type, "Sandbox.Timedout");
        assert_eq!(error.payload, r#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 7d0c Error: Task timed out after 3.00 seconds"}"#);
    }

    #[test]
    fn a_crash_reads_like_lambda() {
        assert_eq!(
            FunctionError::crashed("7d0c", Some("exit status 2")).error_message,
            "RequestId: 7d0c Error: Runtime exited with error: exit status 2"
        );
        assert_eq!(FunctionError::crashed("7d0c", None).error_message, "RequestId: 7d0c Error: Runtime exited without providing a reason");
    }

    #[test]
    fn running_out_of_memory_reads_like_lambda() {
        assert_eq!(
            FunctionError::out_of_memory("7d0c", Some("signal: killed")).payload,
            r#"{"errorType":"Runtime.OutOfMemory","errorMessage":"RequestId: 7d0c Error: Runtime exited with error: signal: killed"}"#
        );
    }

    #[test]
    fn reads_type_and_message_from_an_error_document() {
        let error = FunctionError::from_payload(
            FailureKind::Handler,
            r#"{"errorMessage": "boom", "errorType": "ValueError", "requestId": "r", "stackTrace": []}"#.to_string(),
        );
        assert_eq!((error.error_type.as_str(), error.error_message.as_str()), ("ValueError", "boom"));
    }

    #[test]
    fn cancellation_is_shared_by_clones() {
        let cancellation = Cancellation::new();
        let observer = cancellation.clone();
        cancellation.cancel();
        assert!(observer.is_cancelled());
    }
}
