//! A running execution held by the driver: its interpreter, what of it is persisted, and the
//! commands it is waiting on.

use super::record::{Body, Input, MapRunRecord, MAP_RUN_KIND};
use crate::catalog::MachineType;
use asl::context::ExecutionInfo;
use asl::definition::{parse_text, StateMachine};
use asl::history::TimeFormat;
use asl::interpreter::{ActionId, Command, Execution, Status};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use store::{Document, ExecutionRecord, Store, Write};

pub struct Live {
    pub execution: Execution,
    pub state_machine_arn: String,
    pub body: Body,
    /// History events already handed to the store.
    pub persisted_events: usize,
    /// History events already handed to the store, per running child execution (distributed
    /// Map iteration), by index.
    pub persisted_child_events: HashMap<usize, usize>,
    pub next_input: u64,
    /// Tasks and timers the interpreter waits on, by action: re-issued after a restart.
    pub pending: HashMap<ActionId, Command>,
}

impl Live {
    pub fn start(machine: Arc<StateMachine>, info: ExecutionInfo, state_machine_arn: String, body: Body) -> (Live, Vec<Command>) {
        let start = info.start_time;
        let execution = Execution::start(machine, info, start, body.seed);
        let mut live = Live { execution, state_machine_arn, body, persisted_events: 0, persisted_child_events: HashMap::new(), next_input: 0, pending: HashMap::new() };
        let commands = live.run(start);
        (live, commands)
    }

    /// Rebuilds a running execution from its record and input log by replaying them through the
    /// deterministic interpreter; returns it with the commands still pending. The log is read a
    /// page at a time.
    pub fn recover(record: &ExecutionRecord, store: &dyn Store, region: &str) -> Result<(Live, Vec<Command>), String> {
        const PAGE: usize = 1000;
        let body = Body::from_json(&record.body)?;
        let definition = parse_text(&body.definition)?;
        let machine = Arc::new(StateMachine::compile(&definition)?);
        let info = execution_info(record, &body, region)?;
        let (mut live, _) = Live::start(machine, info, record.state_machine_arn.clone(), body);
        loop {
            let page = store.inputs(&record.arn, live.next_input, PAGE).map_err(|problem| problem.to_string())?;
            for input in &page {
                let (input, at) = Input::from_json(input)?;
                live.apply(&input, at);
                // What the replay closes is stored already.
                let touched = live.execution.take_touched();
                live.execution.release_closed_children(&touched);
            }
            live.next_input += page.len() as u64;
            if page.len() < PAGE {
                break;
            }
        }
        live.persisted_events = live.execution.history().len();
        live.persisted_child_events = live.execution.child_executions().map(|(index, child)| (index, child.history().len())).collect();
        let commands = live.pending.values().cloned().collect();
        Ok((live, commands))
    }

    /// Feeds one input; returns the commands it led to.
    pub fn apply(&mut self, input: &Input, at: i64) -> Vec<Command> {
        match input {
            Input::TaskSucceeded { action, output } => {
                self.pending.remove(action);
                self.execution.task_succeeded(*action, output.clone(), at);
            }
            Input::TaskFailed { action, failure } => {
                self.pending.remove(action);
                self.execution.task_failed(*action, failure.clone(), at);
            }
            Input::TaskStarted { action, worker } => self.execution.task_started(*action, worker.clone(), at),
            Input::TaskHeartbeat { action } => {
                self.execution.task_heartbeat(*action, at);
            }
            Input::TimerFired { action } => {
                self.pending.remove(action);
                self.execution.timer_fired(*action, at);
            }
            Input::Stop { error, cause } => self.execution.stop(error.clone(), cause.clone(), at),
            Input::Redrive => {
                self.execution.redrive(at);
                self.body.redrive_count = self.execution.info().redrive_count;
            }
            Input::UpdateMapRun { map_run_arn, update } => {
                self.execution.update_map_run(map_run_arn, update, at);
            }
        }
        self.run(at)
    }

    fn run(&mut self, now: i64) -> Vec<Command> {
        let commands = self.execution.run(now);
        for command in &commands {
            match command {
                Command::RunTask(request) => {
                    self.pending.insert(request.action, command.clone());
                }
                Command::StartTimer { action, .. } => {
                    self.pending.insert(*action, command.clone());
                }
                Command::Cancel { action } => {
                    self.pending.remove(action);
                }
            }
        }
        if self.is_closed() {
            self.pending.clear();
        }
        commands
    }

    pub fn is_closed(&self) -> bool {
        *self.execution.status() != Status::Running
    }

    /// The status word of the API.
    pub fn status(&self) -> &'static str {
        status_name(self.execution.status())
    }

    pub fn stop_ms(&self) -> Option<i64> {
        if self.is_closed() {
            self.execution.history().last().map(|event| event.timestamp)
        } else {
            None
        }
    }

    /// The store writes that make the current state durable: new history, the input that led to
    /// it, and the summary row when it changed.
    pub fn writes(&mut self, input: Option<&Input>, at: i64, row_changed: bool) -> Vec<Write> {
        let mut writes = Vec::with_capacity(3);
        let arn = self.execution.info().execution_arn.clone();
        if row_changed || self.is_closed() {
            self.refresh_outcome();
            writes.push(Write::PutExecution(self.record()));
        }
        if let Some(input) = input {
            writes.push(Write::AppendInput { execution_arn: arn.clone(), sequence: self.next_input, input: input.to_json(at) });
            self.next_input += 1;
        }
        let history = self.execution.history();
        if history.len() > self.persisted_events {
            let events = history[self.persisted_events..].iter().map(|event| event.to_json_text(true, TimeFormat::EpochSeconds)).collect();
            writes.push(Write::AppendHistory { execution_arn: arn.clone(), first_event_id: self.persisted_events as u64 + 1, events });
            self.persisted_events = history.len();
        }
        self.map_run_writes(&arn, &mut writes);
        writes
    }

    /// The rows and new history events of child executions and the Map Run documents that
    /// changed; the closed children are then released from memory.
    fn map_run_writes(&mut self, root_execution_arn: &str, writes: &mut Vec<Write>) {
        let touched = self.execution.take_touched();
        let map_runs = self.execution.map_runs();
        for run in touched.map_runs.iter().filter_map(|run| map_runs.get(*run)) {
            let record = MapRunRecord::of(run, root_execution_arn);
            writes.push(Write::PutDocument(Document { kind: MAP_RUN_KIND.to_owned(), key: record.map_run_arn.clone(), body: record.to_json() }));
        }
        for &index in &touched.children {
            let Some(child) = self.execution.child_execution(index) else { continue };
            let persisted = self.persisted_child_events.entry(index).or_default();
            let Some(run) = map_runs.get(child.map_run) else { continue };
            let (output, failure) = outcome_parts(&child.status);
            let body = Body {
                definition: String::new(),
                machine_type: self.body.machine_type,
                role_arn: self.body.role_arn.clone(),
                version_arn: None,
                alias_arn: None,
                input: child.input.clone(),
                output,
                error: failure.as_ref().map(|f| f.error.clone()).filter(|error| !error.is_empty()),
                cause: failure.and_then(|f| f.cause),
                seed: 0,
                token_secret: String::new(),
                trace_header: None,
                redrive_count: 0,
                map_run_arn: Some(run.arn.clone()),
                state_machine_arn: Some(run.child_state_machine_arn()),
            };
            let closed = child.status != Status::Running;
            writes.push(Write::PutExecution(ExecutionRecord {
                arn: child.arn.clone(),
                state_machine_arn: run.arn.clone(),
                name: child.name.clone(),
                status: status_name(&child.status).to_owned(),
                start_ms: child.start_time,
                stop_ms: child.stop_time.filter(|_| closed),
                body: body.to_json(),
            }));
            let history = child.history();
            if history.len() > *persisted {
                let events = history[*persisted..].iter().map(|event| event.to_json_text(true, TimeFormat::EpochSeconds)).collect();
                writes.push(Write::AppendHistory { execution_arn: child.arn.clone(), first_event_id: *persisted as u64 + 1, events });
                *persisted = history.len();
            }
            if closed {
                self.persisted_child_events.remove(&index);
            }
        }
        self.execution.release_closed_children(&touched);
    }

    fn refresh_outcome(&mut self) {
        let (output, failure) = outcome_parts(self.execution.status());
        self.body.output = output;
        self.body.error = failure.as_ref().map(|f| f.error.clone()).filter(|error| !error.is_empty());
        self.body.cause = failure.and_then(|f| f.cause);
    }

    pub fn record(&self) -> ExecutionRecord {
        let info = self.execution.info();
        ExecutionRecord {
            arn: info.execution_arn.clone(),
            state_machine_arn: self.state_machine_arn.clone(),
            name: info.name.clone(),
            status: self.status().to_owned(),
            start_ms: info.start_time,
            stop_ms: self.stop_ms(),
            body: self.body.to_json(),
        }
    }
}

/// A closed execution's output, or its failure.
fn outcome_parts(status: &Status) -> (Option<String>, Option<asl::Failure>) {
    match status {
        Status::Succeeded(output) => (Some(output.to_string()), None),
        Status::Failed(failure) | Status::TimedOut(failure) | Status::Aborted(failure) => (None, Some(failure.clone())),
        Status::Running => (None, None),
    }
}

pub fn status_name(status: &Status) -> &'static str {
    match status {
        Status::Running => "RUNNING",
        Status::Succeeded(_) => "SUCCEEDED",
        Status::Failed(_) => "FAILED",
        Status::TimedOut(_) => "TIMED_OUT",
        Status::Aborted(_) => "ABORTED",
    }
}

fn execution_info(record: &ExecutionRecord, body: &Body, region: &str) -> Result<ExecutionInfo, String> {
    let input: Value = serde_json::from_str(&body.input).map_err(|e| format!("execution input: {e}"))?;
    let state_machine_name = record.state_machine_arn.rsplit(':').next().unwrap_or_default().to_owned();
    Ok(ExecutionInfo {
        execution_arn: record.arn.clone(),
        name: record.name.clone(),
        state_machine_arn: record.state_machine_arn.clone(),
        state_machine_name,
        role_arn: body.role_arn.clone(),
        region: region.to_owned(),
        start_time: record.start_ms,
        input,
        input_text: body.input.clone(),
        redrive_count: body.redrive_count,
        token_secret: body.token_secret.clone(),
    })
}

impl MachineType {
    pub fn is_express(self) -> bool {
        self == MachineType::Express
    }
}
