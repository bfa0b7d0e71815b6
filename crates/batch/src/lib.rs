//! AWS Batch, locally. Compute environments run "instances" (capacity shaped like EC2 instance
//! types) that a scaler grows with RUNNABLE demand and shrinks when idle; job queues hand jobs to
//! their environments in order; attempts run on a [`JobRunner`]: the compute crate's container runners
//! (local processes, Podman/Docker), or a Slurm cluster. The scheduler is pure ([`scheduler`]); [`Batch`] adds the store, the driver thread
//! and the API's operations.

pub mod capacity;
pub mod container_runner;
pub mod error;
pub mod instance_types;
pub mod job;
pub mod model;
mod operations;
pub mod run_queue;
pub mod runner;
pub mod scheduler;
pub mod slurm;
pub mod service;
pub mod states_task;
pub mod submission;

pub use error::{BatchError, BatchResult};
pub use operations::{SubmittedJob, INSTANCES_OPERATION, QUEUE_DEPTHS_OPERATION};
pub use container_runner::ContainerJobRunner;
pub use runner::{JobRunner, Launch, Progress, RunningAttempt};
pub use scheduler::{ScalerConfig, Scheduler};
pub use slurm::{SlurmRunner, SlurmSettings};
pub use service::{Batch, BatchConfig};
pub use states_task::BatchTasks;
