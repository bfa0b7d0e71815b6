//! Compute backends behind one trait. For now: functions, run locally the way AWS Lambda runs
//! them ([`FunctionRunner`], implemented by [`ProcessRunner`]): warm execution environments per
//! function that speak the Lambda Runtime API, declared by [`FunctionSpec`]s and found by name or
//! ARN in a [`FunctionSet`]; and container tasks, run by a [`containers::ContainerRunner`] over a
//! container engine or as subprocesses.

mod cgroup;
pub mod containers;
pub mod function;
mod instance;
pub mod invocation;
mod launch;
mod output;
mod pool;
mod process;
mod report;
mod runtime_api;
pub mod sdk_environment;
mod zygote;

pub use function::{Concurrency, FunctionSet, FunctionSpec, HandlerSource, Runtime, RuntimeFamily};
pub use invocation::{Cancellation, FailureKind, FunctionError, FunctionRunner, Invocation, Outcome};
pub use pool::{ProcessRunner, DEFAULT_IDLE_TIMEOUT};
