//! Where a Task state's request goes: one trait, so the local runner and the server share it.

use asl::interpreter::TaskRequest;
use asl::Failure;
use serde_json::Value;

pub trait TaskDispatcher: Send + Sync {
    /// Runs a task to its end. Called on a worker thread; may block.
    fn run(&self, request: &TaskRequest) -> Result<Value, Failure>;
}
