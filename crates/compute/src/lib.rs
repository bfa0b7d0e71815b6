//! Compute backends behind one trait. For now: functions, run locally the way AWS Lambda runs
//! Python and Node.js handlers ([`FunctionRunner`], implemented by [`ProcessRunner`]), declared by
//! [`FunctionSpec`]s and found by name or ARN in a [`FunctionSet`]; and container tasks, run by a
//! [`containers::ContainerRunner`] over a container engine or as subprocesses.

pub mod containers;
pub mod function;
pub mod invocation;
pub mod process;

pub use function::{FunctionSet, FunctionSpec, HandlerSource, Runtime, RuntimeFamily};
pub use invocation::{Cancellation, FailureKind, FunctionError, FunctionRunner, Invocation, Outcome};
pub use process::ProcessRunner;
