//! Runs a task's containers through its states (PROVISIONING → PENDING → RUNNING → STOPPED), one
//! thread per task, and after a restart picks up the tasks that were open.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use compute::containers::{ContainerEnd, ContainerErrorKind, ContainerOutcome, StartedContainer};
use compute::Cancellation;
use serde_json::Value;

use crate::names::{now, timestamp};
use crate::tasks::{TaskRecord, CONTAINER_LABEL, TASK_LABEL};
use crate::usage::Usage;
use crate::{document, Ecs, EcsError, TASK_KIND};

/// Runs the task `arn` to its end on a thread of its own; `adopted` are its containers that
/// already run (after a restart).
pub(crate) fn spawn(ecs: Arc<Ecs>, arn: String, cancellation: Cancellation, adopted: BTreeMap<String, StartedContainer>) {
    let name = format!("ecs-task-{}", crate::names::task_id(&arn));
    let supervisor = ecs.clone();
    let task = arn.clone();
    let spawned = thread::Builder::new().name(name).spawn(move || supervise(&supervisor, &task, &cancellation, adopted));
    if let Err(error) = spawned {
        ecs.finish(&arn, Vec::new(), Some(format!("Switchyard could not start the task: {error}")));
    }
}

/// Adopts the runner's surviving containers of open tasks, removes the others, and restarts the
/// open tasks.
pub(crate) fn recover(ecs: &Arc<Ecs>) -> Result<(), EcsError> {
    let survivors = ecs.runner.survivors().map_err(|error| EcsError::server(format!("the container runner cannot list its containers: {error}")))?;
    let mut adopted: BTreeMap<String, BTreeMap<String, StartedContainer>> = BTreeMap::new();
    let open: Vec<String> = ecs.lock().tasks.values().filter(|record| !record.is_stopped()).map(|record| record.arn().to_owned()).collect();
    for survivor in survivors {
        match (survivor.label(TASK_LABEL), survivor.label(CONTAINER_LABEL)) {
            (Some(task), Some(container)) if open.iter().any(|arn| arn == task) => {
                adopted.entry(task.to_owned()).or_default().insert(container.to_owned(), survivor.clone());
            }
            // A container of a task that ended (or was never recorded: its RunTask was not
            // acknowledged), or not a task's at all.
            _ => ecs.runner.remove(&survivor),
        }
    }
    for arn in open {
        let cancellation = Cancellation::new();
        ecs.lock().running.insert(arn.clone(), cancellation.clone());
        let containers = adopted.remove(&arn).unwrap_or_default();
        spawn(ecs.clone(), arn, cancellation, containers);
    }
    Ok(())
}

fn supervise(ecs: &Arc<Ecs>, arn: &str, cancellation: &Cancellation, adopted: BTreeMap<String, StartedContainer>) {
    let Some(record) = ecs.task(arn) else { return };
    ecs.update(arn, |record| {
        if record.task["lastStatus"] == "PROVISIONING" {
            record.task["lastStatus"] = "PENDING".into();
            record.task["pullStartedAt"] = now();
        }
    });
    let mut started = Vec::new();
    let mut failures = Vec::new();
    for planned in &record.containers {
        if let Some(container) = adopted.get(&planned.name) {
            started.push((planned.clone(), container.clone()));
            continue;
        }
        if let Some(vanished) = record.started.get(&planned.name) {
            // It ran before the restart, and its runner no longer has it: its end is unknown.
            failures.push((planned.name.clone(), lost(ecs, vanished)));
            continue;
        }
        if cancellation.is_cancelled() {
            break;
        }
        match ecs.runner.start(&planned.spec) {
            Ok(container) => started.push((planned.clone(), container)),
            Err(error) => {
                failures.push((planned.name.clone(), ContainerOutcome::failed_to_start(ecs.runner.name(), error)));
                break;
            }
        }
    }
    if !failures.is_empty() || cancellation.is_cancelled() {
        // The task does not run partly: what started is stopped.
        cancellation.cancel();
    } else {
        ecs.update(arn, |record| {
            record.task["lastStatus"] = "RUNNING".into();
            record.task["pullStoppedAt"] = now();
            record.task["startedAt"] = now();
            record.task["connectivity"] = "CONNECTED".into();
            record.task["connectivityAt"] = now();
            for (planned, container) in &started {
                record.started.insert(planned.name.clone(), container.clone());
                if let Some(shape) = container_shape(record, &planned.name) {
                    shape["lastStatus"] = "RUNNING".into();
                    shape["runtimeId"] = container.id.clone().into();
                }
            }
        });
    }
    let outcomes = wait_all(ecs, started, cancellation);
    ecs.finish(arn, failures.into_iter().chain(outcomes).collect(), None);
}

/// Waits for every started container; when an essential one ends, the others are stopped.
fn wait_all(ecs: &Arc<Ecs>, started: Vec<(crate::tasks::PlannedContainer, StartedContainer)>, cancellation: &Cancellation) -> Vec<(String, ContainerOutcome)> {
    thread::scope(|scope| {
        let waits: Vec<_> = started
            .into_iter()
            .map(|(planned, container)| {
                scope.spawn(move || {
                    let outcome = ecs.runner.wait(&container, cancellation);
                    if planned.essential {
                        cancellation.cancel();
                    }
                    (planned.name, outcome)
                })
            })
            .collect();
        waits.into_iter().filter_map(|wait| wait.join().ok()).collect()
    })
}

fn lost(ecs: &Ecs, container: &StartedContainer) -> ContainerOutcome {
    ContainerOutcome {
        runner: ecs.runner.name().to_owned(),
        container_id: Some(container.id.clone()),
        end: ContainerEnd::Lost("the container was gone after Switchyard restarted".to_owned()),
        exit_code: None,
        oom_killed: false,
        started_at: Some(container.started_at),
        stopped_at: std::time::SystemTime::now(),
        logs: String::new(),
    }
}

fn container_shape<'a>(record: &'a mut TaskRecord, name: &str) -> Option<&'a mut Value> {
    record.task["containers"].as_array_mut()?.iter_mut().find(|shape| shape["name"] == name)
}

impl Ecs {
    /// Changes a task in memory only: the steps a crash may lose, because recovery redoes them.
    fn update(&self, arn: &str, change: impl FnOnce(&mut TaskRecord)) {
        let mut state = self.lock();
        if let Some(record) = state.tasks.get_mut(arn) {
            change(record);
            record.task["version"] = (record.task["version"].as_u64().unwrap_or(1) + 1).into();
        }
        self.changed.notify_all();
    }

    /// Records the task's end (durably, with its usage) from its containers' outcomes.
    fn finish(&self, arn: &str, outcomes: Vec<(String, ContainerOutcome)>, failure: Option<String>) {
        let mut state = self.lock();
        let Some(mut record) = state.tasks.get(arn).cloned() else { return };
        let stopped_at = now();
        for (name, outcome) in &outcomes {
            if let Some(shape) = container_shape(&mut record, name) {
                shape["lastStatus"] = "STOPPED".into();
                if let Some(code) = outcome.exit_code {
                    shape["exitCode"] = code.into();
                }
                if let Some(reason) = container_reason(outcome) {
                    shape["reason"] = reason.into();
                }
            }
        }
        let (stop_code, reason) = stop_code_and_reason(&record, &outcomes, failure);
        let task = &mut record.task;
        task["lastStatus"] = "STOPPED".into();
        task["desiredStatus"] = "STOPPED".into();
        task["stopCode"] = stop_code.into();
        task["stoppedReason"] = reason.into();
        if task.get("stoppingAt").is_none() {
            task["stoppingAt"] = stopped_at.clone();
        }
        task["executionStoppedAt"] = outcomes.iter().map(|(_, outcome)| outcome.stopped_at).max().map_or_else(|| stopped_at.clone(), timestamp);
        task["stoppedAt"] = stopped_at;
        task["connectivity"] = "DISCONNECTED".into();
        task["version"] = (task["version"].as_u64().unwrap_or(1) + 1).into();
        let usage = Usage::of(&record, &outcomes, self.runner.name());
        let writes = [document(TASK_KIND, arn, &record), usage.write()].into_iter().collect::<Result<Vec<_>, _>>();
        // The task's end is reported from memory even when the store fails; a restart then finds
        // the task open and its containers gone, and reports them lost.
        let _ = writes.and_then(|writes| self.persist(writes));
        state.tasks.insert(arn.to_owned(), record);
        state.running.remove(arn);
        self.changed.notify_all();
    }
}

/// ECS's reason on a stopped container.
fn container_reason(outcome: &ContainerOutcome) -> Option<String> {
    match &outcome.end {
        _ if outcome.oom_killed => Some("OutOfMemoryError: Container killed due to memory usage".to_owned()),
        ContainerEnd::FailedToStart(error) => Some(match error.kind {
            ContainerErrorKind::Image if error.message.starts_with("CannotPullContainerError") => error.message.clone(),
            ContainerErrorKind::Image => format!("CannotPullContainerError: {}", error.message),
            ContainerErrorKind::Start | ContainerErrorKind::Engine => format!("CannotStartContainerError: {}", error.message),
        }),
        ContainerEnd::Lost(reason) => Some(reason.clone()),
        ContainerEnd::Exited | ContainerEnd::TimedOut | ContainerEnd::Stopped => None,
    }
}

/// The task's stopCode and stoppedReason, as ECS words them.
fn stop_code_and_reason(record: &TaskRecord, outcomes: &[(String, ContainerOutcome)], failure: Option<String>) -> (&'static str, String) {
    if let Some(failure) = failure {
        return ("TaskFailedToStart", failure);
    }
    if let Some(reason) = outcomes.iter().find(|(_, outcome)| matches!(outcome.end, ContainerEnd::FailedToStart(_))).and_then(|(_, outcome)| container_reason(outcome)) {
        return ("TaskFailedToStart", reason);
    }
    if let Some(reason) = &record.stop_reason {
        return ("UserInitiated", reason.clone());
    }
    ("EssentialContainerExited", "Essential container in task exited".to_owned())
}
