//! Compute backends behind one trait. For now: functions, run locally the way AWS Lambda runs
//! them ([`FunctionRunner`], implemented by [`ProcessRunner`]), declared by [`FunctionSpec`]s.

pub mod function;
pub mod invocation;
pub mod process;

pub use function::{FunctionSet, FunctionSpec, HandlerSource, Runtime, RuntimeFamily};
pub use invocation::{Cancellation, FailureKind, FunctionError, FunctionRunner, Invocation, Outcome};
pub use process::ProcessRunner;
