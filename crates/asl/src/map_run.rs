//! Distributed Map runs. As on AWS, a Map state in DISTRIBUTED mode starts a Map Run, and every
//! iteration is a child execution with its own ARN and history; the parent's history shows only
//! MapRunStarted / MapRunSucceeded / MapRunFailed. The interpreter keeps them; these are the
//! shapes it exposes to its host (DescribeMapRun, ListExecutions by Map Run, child histories).

use crate::context::iso_time;
use crate::history::Event;
use crate::interpreter::Status;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRunStatus {
    Running,
    Succeeded,
    Failed,
    Aborted,
}

impl MapRunStatus {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MapRunStatus::Running => "RUNNING",
            MapRunStatus::Succeeded => "SUCCEEDED",
            MapRunStatus::Failed => "FAILED",
            MapRunStatus::Aborted => "ABORTED",
        }
    }
}

/// DescribeMapRun's itemCounts / executionCounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapRunCounts {
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub total: u64,
    /// Results a ResultWriter exported.
    pub results_written: u64,
}

impl MapRunCounts {
    fn all_pending(total: u64) -> MapRunCounts {
        MapRunCounts { pending: total, total, ..MapRunCounts::default() }
    }

    fn added(&mut self, count: u64) {
        self.pending += count;
        self.total += count;
    }

    fn started(&mut self, count: u64) {
        self.pending = self.pending.saturating_sub(count);
        self.running += count;
    }

    fn finished(&mut self, count: u64, status: &Status) {
        self.running = self.running.saturating_sub(count);
        let outcome = match status {
            Status::Succeeded(_) => &mut self.succeeded,
            Status::Failed(_) => &mut self.failed,
            Status::TimedOut(_) => &mut self.timed_out,
            Status::Aborted(_) => &mut self.aborted,
            Status::Running => &mut self.running,
        };
        *outcome += count;
    }
}

/// One run of a distributed Map state.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRun {
    pub arn: String,
    /// The execution whose Map state started the run: this execution, or one of its child
    /// executions for a distributed Map nested in another.
    pub execution_arn: String,
    pub state_machine_arn: String,
    /// The Map state's Label, else its name: the part of the ARNs that names the Map.
    pub label: String,
    pub status: MapRunStatus,
    /// Milliseconds since the Unix epoch.
    pub start_time: i64,
    pub stop_time: Option<i64>,
    /// 0: no limit.
    pub max_concurrency: u64,
    pub tolerated_failure_count: u64,
    pub tolerated_failure_percentage: f64,
    pub items: MapRunCounts,
    pub executions: MapRunCounts,
    /// The thread running the Map state (whose fanout UpdateMapRun changes).
    pub(crate) thread: usize,
}

impl MapRun {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        arn: String,
        execution_arn: String,
        state_machine_arn: String,
        label: String,
        start_time: i64,
        settings: &MapRunUpdate,
        items: u64,
        executions: u64,
        thread: usize,
    ) -> MapRun {
        MapRun {
            arn,
            execution_arn,
            state_machine_arn,
            label,
            status: MapRunStatus::Running,
            start_time,
            stop_time: None,
            max_concurrency: settings.max_concurrency.unwrap_or_default(),
            tolerated_failure_count: settings.tolerated_failure_count.unwrap_or_default(),
            tolerated_failure_percentage: settings.tolerated_failure_percentage.unwrap_or_default(),
            items: MapRunCounts::all_pending(items),
            executions: MapRunCounts::all_pending(executions),
            thread,
        }
    }

    /// The state machine ARN of the run's child executions: `...:stateMachine:NAME/LABEL`.
    pub fn child_state_machine_arn(&self) -> String {
        format!("{}/{}", self.state_machine_arn, self.label)
    }

    /// More items were read (and iterations queued for them).
    pub(crate) fn items_added(&mut self, items: u64, executions: u64) {
        self.items.added(items);
        self.executions.added(executions);
    }

    pub(crate) fn child_started(&mut self, items: u64) {
        self.items.started(items);
        self.executions.started(1);
    }

    pub(crate) fn child_finished(&mut self, items: u64, status: &Status) {
        self.items.finished(items, status);
        self.executions.finished(1, status);
    }

    pub(crate) fn close(&mut self, status: MapRunStatus, now: i64) {
        if self.status == MapRunStatus::Running {
            self.status = status;
            self.stop_time = Some(now);
        }
    }

    pub(crate) fn apply(&mut self, update: &MapRunUpdate) {
        if let Some(max_concurrency) = update.max_concurrency {
            self.max_concurrency = max_concurrency;
        }
        if let Some(count) = update.tolerated_failure_count {
            self.tolerated_failure_count = count;
        }
        if let Some(percentage) = update.tolerated_failure_percentage {
            self.tolerated_failure_percentage = percentage;
        }
    }
}

/// UpdateMapRun's settings (None: unchanged); also a run's initial settings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MapRunUpdate {
    pub max_concurrency: Option<u64>,
    pub tolerated_failure_count: Option<u64>,
    pub tolerated_failure_percentage: Option<f64>,
}

/// One iteration of a distributed Map, run as a child execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildExecution {
    /// `arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE_NAME/LABEL:UUID`.
    pub arn: String,
    /// The UUID that ends the ARN.
    pub name: String,
    /// Index into the execution's `map_runs()`.
    pub map_run: usize,
    /// Items the iteration processes: 1, or the batch's size under an ItemBatcher.
    pub item_count: u64,
    pub input: String,
    pub status: Status,
    pub start_time: i64,
    pub stop_time: Option<i64>,
    pub(crate) history: Vec<Event>,
    /// The thread running the iteration's first state.
    pub(crate) root: usize,
}

impl ChildExecution {
    pub fn history(&self) -> &[Event] {
        &self.history
    }
}

/// A closed child execution as a ResultWriter exports it (with Transformation NONE, and every
/// failure): made from the interpreter's own children or from the host's stored rows alike.
#[derive(Debug, Clone, Copy)]
pub struct ResultRecord<'a> {
    pub execution_arn: &'a str,
    pub name: &'a str,
    pub input: &'a str,
    /// The Map Run's child state machine (`...:stateMachine:NAME/LABEL`).
    pub state_machine_arn: &'a str,
    /// SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: &'a str,
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
    pub cause: Option<&'a str>,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
}

impl ResultRecord<'_> {
    pub fn to_json(&self) -> Value {
        let mut record = Map::new();
        record.insert("ExecutionArn".into(), json!(self.execution_arn));
        record.insert("Input".into(), json!(self.input));
        record.insert("InputDetails".into(), json!({ "Included": true }));
        record.insert("Name".into(), json!(self.name));
        if self.status == "SUCCEEDED" {
            record.insert("Output".into(), json!(self.output.unwrap_or("null")));
            record.insert("OutputDetails".into(), json!({ "Included": true }));
        } else {
            record.insert("Error".into(), json!(self.error.unwrap_or_default()));
            if let Some(cause) = self.cause {
                record.insert("Cause".into(), json!(cause));
            }
        }
        record.insert("RedriveCount".into(), json!(0));
        record.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
        record.insert("RedriveStatusReason".into(), json!(format!("Execution is {} and cannot be redriven", self.status)));
        record.insert("StartDate".into(), json!(iso_time(self.start_ms)));
        record.insert("StateMachineArn".into(), json!(self.state_machine_arn));
        record.insert("Status".into(), json!(self.status));
        if let Some(stop) = self.stop_ms {
            record.insert("StopDate".into(), json!(iso_time(stop)));
        }
        Value::Object(record)
    }
}

/// Map runs and child executions changed since the host last asked (indexes, possibly repeated):
/// what the host must persist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub map_runs: Vec<usize>,
    pub children: Vec<usize>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.map_runs.is_empty() && self.children.is_empty()
    }

    /// Sorted, each index once.
    pub(crate) fn settled(mut self) -> Touched {
        for indexes in [&mut self.map_runs, &mut self.children] {
            indexes.sort_unstable();
            indexes.dedup();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Failure;
    use serde_json::json;

    #[test]
    fn counts_move_from_pending_through_running_to_an_outcome() {
        let mut counts = MapRunCounts::all_pending(3);
        counts.started(2);
        counts.finished(1, &Status::Succeeded(json!(1)));
        counts.finished(1, &Status::Failed(Failure::new("E", "c")));
        assert_eq!(counts, MapRunCounts { pending: 1, running: 0, succeeded: 1, failed: 1, timed_out: 0, aborted: 0, total: 3, results_written: 0 });
    }

    #[test]
    fn a_closed_run_keeps_its_first_outcome() {
        let mut run = MapRun::new("r".into(), "e".into(), "m".into(), "L".into(), 0, &MapRunUpdate::default(), 1, 1, 0);
        run.close(MapRunStatus::Failed, 5);
        run.close(MapRunStatus::Aborted, 9);
        assert_eq!((run.status, run.stop_time), (MapRunStatus::Failed, Some(5)));
        assert_eq!(run.child_state_machine_arn(), "m/L");
    }
}
