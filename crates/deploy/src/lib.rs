//! Serverless projects as deployments: `serverless.yml` (Serverless Framework v1 to v4, the
//! serverless-step-functions and serverless-pseudo-parameters plugins, and the CloudFormation
//! subset its `resources` use) read into a [`plan::Plan`] of local resources.
//!
//! Everything here is pure: the only I/O is reading the configuration files it is given
//! (`serverless.yml` and what `${file(...)}` names). Environment variables and options come in
//! as values, so that the same inputs always give the same plan.

pub mod error;
pub mod events;
pub mod images;
pub mod intrinsics;
pub mod naming;
pub mod plan;
pub mod project;
pub mod resources;
pub mod schedule;
pub mod source;
pub mod template;
pub mod variables;

pub use error::ConfigError;
pub use naming::Partition;
pub use plan::Plan;
pub use project::plan;
pub use variables::Sources;
