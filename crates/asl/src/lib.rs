//! The Amazon States Language core: pure and synchronous. Everything that touches the outside world
//! (time, processes, sockets, disk) is a request this crate hands to its host.

pub mod choice;
pub mod context;
pub mod definition;
pub mod failure;
pub mod history;
pub mod interpreter;
pub mod intrinsics;
pub mod jsonata;
pub mod map_run;
pub mod mock;
pub mod path;
pub mod scope;
pub mod service_outputs;
pub mod template;
pub mod test_state;
pub mod validate;
pub mod variables;
pub mod yaml;

pub use failure::Failure;
pub use scope::Scope;
pub use variables::Variables;
