//! Container tasks: one image plus a command, with CPU and memory, run to its end by a
//! [`ContainerRunner`] — over the Docker Engine API (Docker or Podman, [`EngineRunner`]) or as a
//! plain subprocess when there is no engine ([`ProcessRunner`]).
//!
//! A run is split in [`start`](ContainerRunner::start) and [`wait`](ContainerRunner::wait) so that
//! a container outlives a crash of Switchyard: every container carries the runner's labels, the
//! caller keeps the [`StartedContainer`] (or finds it again with
//! [`survivors`](ContainerRunner::survivors) after a restart) and waits on it again — the
//! container is adopted, never orphaned and never started twice. Whatever is not adopted is
//! [`remove`](ContainerRunner::remove)d.
//!
//! ```ignore
//! let runner = ProcessRunner::open(data_dir.join("containers"), "my-node")?;
//! let spec = ContainerSpec { command: vec!["sh".into(), "-c".into(), "echo hi".into()], ..ContainerSpec::default() };
//! let outcome = runner.run(&spec, &Cancellation::new());
//! assert_eq!((outcome.end, outcome.exit_code), (ContainerEnd::Exited, Some(0)));
//! ```

pub mod build;
mod engine;
mod logs;
mod process;
mod with_environment;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::invocation::Cancellation;

pub use engine::{EngineConfig, EngineRunner, PullPolicy};
pub use process::ProcessRunner;
pub use with_environment::WithEnvironment;

/// Every container Switchyard starts has this label; its value names the Switchyard instance (its
/// data directory) that owns the container, so that instances sharing one engine leave each
/// other's containers alone.
pub const OWNER_LABEL: &str = "io.switchyard.owner";
/// Logs kept in a [`ContainerOutcome`]; the rest is in the log file.
pub const MAX_OUTCOME_LOG_BYTES: usize = 1 << 20;

/// What to run: an image and a command, the way a task definition's container and its overrides
/// describe it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// The image, e.g. `localhost/busybox` or an ECR name. The process runner has no images: it
    /// runs the command on the host.
    pub image: String,
    /// The command (`CMD`); empty keeps the image's.
    pub command: Vec<String>,
    /// Replaces the image's `ENTRYPOINT` when given.
    pub entrypoint: Option<Vec<String>>,
    /// Environment variables, in order (a later one wins).
    pub environment: Vec<(String, String)>,
    /// CPU limit in vCPUs (fractions allowed); `None` is unlimited.
    pub vcpus: Option<f64>,
    /// Memory limit in MiB (hard: the container is killed past it, reported as OOM-killed).
    pub memory_mib: Option<u64>,
    /// The working directory inside the container; the image's when `None`.
    pub working_dir: Option<String>,
    /// Labels set on the container (the task's ARN, its cluster, ...), besides the runner's own.
    pub labels: BTreeMap<String, String>,
    /// The container is stopped when it runs longer, and its end is [`ContainerEnd::TimedOut`].
    pub timeout: Option<Duration>,
    /// Where the container's output (stdout and stderr, interleaved) is also written; it is
    /// complete once [`ContainerRunner::wait`] returns.
    pub log_file: Option<PathBuf>,
}

/// A container that was started: what it takes to wait on it again, also after a restart
/// (persist it as JSON, or find it again with [`ContainerRunner::survivors`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartedContainer {
    /// The runner that started it ([`ContainerRunner::name`]).
    pub runner: String,
    /// The engine's container id, or the process runner's own id.
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub started_at: SystemTime,
    /// When it is stopped as timed out.
    pub deadline: Option<SystemTime>,
    pub log_file: Option<PathBuf>,
}

impl StartedContainer {
    /// A label the container was started with.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerOutcome {
    /// The runner that ran it ([`ContainerRunner::name`]).
    pub runner: String,
    /// The container's id; `None` when it never started.
    pub container_id: Option<String>,
    pub end: ContainerEnd,
    /// The main process's exit code (128 + signal when a signal ended it); `None` when it never
    /// started or its end could not be observed.
    pub exit_code: Option<i32>,
    /// The memory limit was hit and the container was killed for it.
    pub oom_killed: bool,
    pub started_at: Option<SystemTime>,
    pub stopped_at: SystemTime,
    /// The container's output (stdout and stderr), at most [`MAX_OUTCOME_LOG_BYTES`] (the end is kept).
    pub logs: String,
}

impl ContainerOutcome {
    /// The outcome of a container that could not be started.
    pub fn failed_to_start(runner: &str, error: ContainerError) -> ContainerOutcome {
        ContainerOutcome {
            runner: runner.to_owned(),
            container_id: None,
            end: ContainerEnd::FailedToStart(error),
            exit_code: None,
            oom_killed: false,
            started_at: None,
            stopped_at: SystemTime::now(),
            logs: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ContainerEnd {
    /// Its main process exited by itself (see `exit_code` and `oom_killed`).
    Exited,
    /// It ran past [`ContainerSpec::timeout`] and was stopped.
    TimedOut,
    /// It was stopped through the [`Cancellation`].
    Stopped,
    /// It never ran.
    FailedToStart(ContainerError),
    /// It disappeared without a trace of its end (removed behind the runner's back).
    Lost(String),
}

/// Why a container could not be run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerError {
    pub kind: ContainerErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerErrorKind {
    /// The image is not there and could not be pulled (ECS: `CannotPullContainerError`).
    Image,
    /// The container could not be created or started from a valid image: a missing executable,
    /// an invalid spec (ECS: `CannotStartContainerError`).
    Start,
    /// No engine answers, or it failed (a problem of this machine, not of the task).
    Engine,
}

impl ContainerError {
    pub fn new(kind: ContainerErrorKind, message: impl Into<String>) -> ContainerError {
        ContainerError { kind, message: message.into() }
    }
}

impl fmt::Display for ContainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ContainerError {}

/// Runs containers. Calls block the calling thread; callers run several containers at once from
/// several threads.
pub trait ContainerRunner: Send + Sync {
    /// Names the runner in outcomes and metering: `process`, `docker` or `podman`.
    fn name(&self) -> &str;

    /// Starts a container and returns as soon as it runs (its image is resolved, pulled if the
    /// pull policy allows, and the process is started).
    fn start(&self, spec: &ContainerSpec) -> Result<StartedContainer, ContainerError>;

    /// Waits for a started container to end: it exits, its deadline passes (it is stopped), or
    /// `cancellation` fires (it is stopped). Its logs are collected and the container is removed.
    /// Waiting on a container that already ended (while Switchyard was down) answers at once.
    fn wait(&self, container: &StartedContainer, cancellation: &Cancellation) -> ContainerOutcome;

    /// Containers of this owner that still exist, running or ended but not yet waited on: after a
    /// crash, the caller adopts each one ([`wait`](ContainerRunner::wait)) or
    /// [`remove`](ContainerRunner::remove)s it.
    fn survivors(&self) -> Result<Vec<StartedContainer>, ContainerError>;

    /// Stops (if running) and forgets a container nobody waits for.
    fn remove(&self, container: &StartedContainer);

    /// Starts and waits.
    fn run(&self, spec: &ContainerSpec, cancellation: &Cancellation) -> ContainerOutcome {
        match self.start(spec) {
            Ok(container) => self.wait(&container, cancellation),
            Err(error) => ContainerOutcome::failed_to_start(self.name(), error),
        }
    }
}

/// The deadline of a container started at `started_at`.
fn deadline_of(spec: &ContainerSpec, started_at: SystemTime) -> Option<SystemTime> {
    spec.timeout.map(|timeout| started_at + timeout)
}

/// The labels of a container: the spec's, then the runner's owner label (which wins).
fn labels_of(spec: &ContainerSpec, owner: &str) -> BTreeMap<String, String> {
    let mut labels = spec.labels.clone();
    labels.insert(OWNER_LABEL.to_owned(), owner.to_owned());
    labels
}
