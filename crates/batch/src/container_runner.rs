//! Attempts as containers of the compute crate's [`ContainerRunner`]: the process runner (no
//! engine: the command runs on the host) or Docker/Podman. The runner's `wait` blocks, so each
//! attempt waits on its own thread and the driver polls the outcome.

use crate::job::Exit;
use crate::runner::{JobRunner, Launch, Progress, RunningAttempt};
use compute::containers::{ContainerEnd, ContainerOutcome, ContainerRunner, ContainerSpec};
use compute::Cancellation;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The label naming the Batch job a container runs.
pub const JOB_LABEL: &str = "io.switchyard.batch.job";

pub struct ContainerJobRunner {
    runner: Arc<dyn ContainerRunner>,
}

impl ContainerJobRunner {
    pub fn new(runner: Arc<dyn ContainerRunner>) -> ContainerJobRunner {
        ContainerJobRunner { runner }
    }
}

impl JobRunner for ContainerJobRunner {
    fn start(&self, launch: &Launch) -> Result<Box<dyn RunningAttempt>, String> {
        let spec = ContainerSpec {
            image: launch.image.clone().unwrap_or_default(),
            command: launch.command.clone(),
            working_dir: launch.working_dir.clone(),
            environment: launch.environment.clone(),
            vcpus: Some(f64::from(launch.demand.millicpus) / 1000.0),
            memory_mib: Some(launch.demand.memory_mib),
            labels: BTreeMap::from([(JOB_LABEL.to_owned(), launch.job_id.clone())]),
            log_file: Some(launch.log_path.clone()),
            ..ContainerSpec::default()
        };
        if let Some(directory) = launch.log_path.parent() {
            std::fs::create_dir_all(directory).map_err(|error| format!("CannotCreateContainerError: {}: {error}", directory.display()))?;
        }
        let started = self.runner.start(&spec).map_err(|error| format!("CannotStartContainerError: {error}"))?;
        let cancellation = Cancellation::new();
        let outcome: Arc<Mutex<Option<ContainerOutcome>>> = Arc::default();
        let (runner, waiting, slot) = (self.runner.clone(), cancellation.clone(), outcome.clone());
        std::thread::Builder::new()
            .name(format!("batch-{}", launch.job_id))
            .spawn(move || {
                let ended = runner.wait(&started, &waiting);
                *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(ended);
            })
            .map_err(|error| format!("CannotStartContainerError: no thread to wait on the container: {error}"))?;
        Ok(Box::new(ContainerAttempt { cancellation, outcome }))
    }
}

struct ContainerAttempt {
    cancellation: Cancellation,
    outcome: Arc<Mutex<Option<ContainerOutcome>>>,
}

impl RunningAttempt for ContainerAttempt {
    fn poll(&mut self) -> Progress {
        let outcome = self.outcome.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match outcome.as_ref() {
            None => Progress::Running,
            Some(outcome) => Progress::Exited(exit_of(outcome)),
        }
    }

    fn stop(&mut self) {
        self.cancellation.cancel();
    }
}

/// The container's end in ECS's words (the `reason` of a Batch attempt's container).
fn exit_of(outcome: &ContainerOutcome) -> Exit {
    let reason = match &outcome.end {
        _ if outcome.oom_killed => Some("OutOfMemoryError: Container killed due to memory usage".to_owned()),
        ContainerEnd::Exited | ContainerEnd::TimedOut | ContainerEnd::Stopped => None,
        ContainerEnd::FailedToStart(error) => Some(format!("CannotStartContainerError: {error}")),
        ContainerEnd::Lost(why) => Some(format!("CannotInspectContainerError: {why}")),
    };
    Exit { exit_code: outcome.exit_code, reason }
}
