//! Where attempts run: one trait for the container runners (processes, Podman/Docker) and Slurm.

use crate::job::{Demand, Exit};
use std::path::PathBuf;

/// One attempt to run, as a runner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub job_id: String,
    pub job_name: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub image: Option<String>,
    pub command: Vec<String>,
    /// Where the command runs: a job definition's `workingDirectory` (a Switchyard extension that
    /// `switchyard up` sets for the process runner, which has no image to start in).
    pub working_dir: Option<String>,
    /// The container's environment plus Batch's own (AWS_BATCH_JOB_ID, ...).
    pub environment: Vec<(String, String)>,
    pub demand: Demand,
    pub timeout_seconds: Option<u64>,
    /// Where the attempt's stdout and stderr go.
    pub log_path: PathBuf,
    /// Set for a child of an array job.
    pub array_child: Option<ArrayChild>,
}

/// Which child of which array job an attempt runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayChild {
    pub parent_job_id: String,
    pub index: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Accepted, not yet running (a cluster's queue).
    Queued,
    Running,
    Exited(Exit),
}

/// An attempt that has been started.
pub trait RunningAttempt: Send {
    /// Where it is now; never blocks for long.
    fn poll(&mut self) -> Progress;
    /// Asks it to stop; its exit is reported by a later poll.
    fn stop(&mut self);
    /// The runner's own id of the attempt, when the runner can find it again after a restart.
    fn handle(&self) -> Option<String> {
        None
    }
}

pub trait JobRunner: Send + Sync {
    /// Starts an attempt. An error is the reason it could not start (the container's reason).
    fn start(&self, launch: &Launch) -> Result<Box<dyn RunningAttempt>, String>;

    /// Starts attempts of children of one array job that became runnable together (one result
    /// per launch, in order). A cluster runs them as one array submission; others one by one.
    fn start_array(&self, launches: &[Launch]) -> Vec<Result<Box<dyn RunningAttempt>, String>> {
        launches.iter().map(|launch| self.start(launch)).collect()
    }

    /// Finds a started attempt again by its handle (after a restart); None when it cannot.
    fn reattach(&self, _handle: &str, _launch: &Launch) -> Option<Box<dyn RunningAttempt>> {
        None
    }
}
