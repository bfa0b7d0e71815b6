//! Executions: drives the pure interpreter of `asl`, keeping its timers and sending its task
//! requests to compute; as a local run, or as the durable service behind the API.

pub mod catalog;
pub mod clock;
pub mod dispatch;
pub mod error;
pub mod functions;
pub mod local;
pub mod local_tasks;
pub mod runtime;

pub use clock::VirtualClock;
pub use dispatch::{TaskContext, TaskDispatcher};
pub use error::ServiceError;
pub use local::{run_to_completion, RunOptions};
