//! Where a Task state's request goes: one trait, so the local runner and the server share it.

use asl::interpreter::TaskRequest;
use asl::Failure;
use compute::Cancellation;
use serde_json::Value;

/// What a task knows of the execution that asked for it.
#[derive(Debug, Clone, Default)]
pub struct TaskContext {
    pub execution_arn: String,
    /// Fired when the execution no longer wants the task (the state timed out, the execution was
    /// stopped or failed elsewhere): whatever runs the task should stop it.
    pub cancellation: Cancellation,
}

pub trait TaskDispatcher: Send + Sync {
    /// Runs a task to its end. Called on a worker thread; may block.
    fn run(&self, request: &TaskRequest, context: &TaskContext) -> Result<Value, Failure>;
}
