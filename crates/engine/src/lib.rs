//! Executions: drives the pure interpreter of `asl`, keeping its timers and sending its task
//! requests to compute.

pub mod clock;
pub mod dispatch;
pub mod local;
pub mod local_tasks;


pub use clock::VirtualClock;
pub use dispatch::TaskDispatcher;
pub use local::{run_to_completion, RunOptions};
