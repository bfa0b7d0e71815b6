//! One execution as a deterministic state machine. The host feeds it time, task outcomes and
//! timer firings; it answers with commands (run this task, wake me at T, cancel that) and appends
//! the history AWS would record.
//!
//! Parallel branches and Map iterations are threads of the same execution. A thread runs states
//! until it must wait for something from outside; then the next ready thread runs.

use crate::context::{context_object, ExecutionInfo, StateContext};
use crate::definition::*;
use crate::failure::names;
use crate::history::{Details, Event, EventType};
use crate::map_run::{ChildExecution, MapRun, MapRunStatus, MapRunUpdate, Touched};
use crate::{Failure, Scope, Variables};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

mod fanout;
mod map_io;
mod threads;

use fanout::Fanout;
use threads::Threads;

pub type ActionId = u64;
type ThreadId = usize;
/// Variables a state assigned, with their values as JSON text (as history shows them).
type AssignedVariables = Vec<(String, String)>;
/// A state's output and the variables it assigned.
type StateExit = (Value, Option<AssignedVariables>);

/// An execution whose history grows past this fails, as on AWS.
pub const MAX_HISTORY_EVENTS: usize = 25_000;

/// Payloads (state input/output, task results) may not exceed this, as on AWS.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// How a Task state's Resource is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integration {
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`: the original Lambda resource.
    LambdaFunction,
    /// `arn:aws:states:REGION:ACCOUNT:activity:NAME`.
    Activity,
    /// `arn:aws:states:::SERVICE:ACTION[.sync|.sync:2|.waitForTaskToken]`.
    Service { service: String, action: String, pattern: Pattern },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    RequestResponse,
    Sync,
    WaitForTaskToken,
}

impl Integration {
    pub fn of(resource: &str) -> Integration {
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", _, "lambda", _, _, rest] if rest.starts_with("function:") => Integration::LambdaFunction,
            ["arn", _, "states", _, _, rest] if rest.starts_with("activity:") => Integration::Activity,
            ["arn", _, "states", "", "", rest] => {
                let (service, action) = match rest.rsplit_once(':') {
                    // `aws-sdk:s3:getObject` and `ecs:runTask.sync:2`: the service is what precedes the action.
                    Some((head, "2")) => head.rsplit_once(':').map(|(s, a)| (s.to_owned(), format!("{a}:2"))).unwrap_or_default(),
                    Some((service, action)) => (service.to_owned(), action.to_owned()),
                    None => (rest.to_string(), String::new()),
                };
                let pattern = if action.ends_with(".waitForTaskToken") {
                    Pattern::WaitForTaskToken
                } else if action.contains(".sync") {
                    Pattern::Sync
                } else {
                    Pattern::RequestResponse
                };
                Integration::Service { service, action, pattern }
            }
            _ => Integration::Service { service: String::new(), action: resource.to_owned(), pattern: Pattern::RequestResponse },
        }
    }
}

/// A task for the host to run.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    pub action: ActionId,
    pub state_name: Arc<str>,
    pub resource: String,
    pub integration: Integration,
    pub parameters: Value,
    pub task_token: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
    /// 0 for the first attempt, then one more per retry.
    pub attempt: u32,
}

#[derive(Debug, Clone)]
pub enum Command {
    RunTask(Box<TaskRequest>),
    /// Call `timer_fired(action)` at `at` (milliseconds since the epoch).
    StartTimer { action: ActionId, at: i64 },
    /// The task or timer is no longer wanted.
    Cancel { action: ActionId },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Running,
    Succeeded(Value),
    Failed(Failure),
    TimedOut(Failure),
    Aborted(Failure),
}

enum Phase {
    Ready,
    Task { action: ActionId, timeout: Option<ActionId>, heartbeat: Option<ActionId> },
    Wait { timer: ActionId },
    Backoff { timer: ActionId },
    Fanout(Box<Fanout>),
    /// A distributed Map waiting for the host to read the first page of its items.
    ReadingItems(Box<map_io::ItemStream>),
    /// A distributed Map waiting for the host to export its results.
    WritingResults(Box<map_io::ResultWriting>),
    Done,
}

struct Thread {
    machine: Arc<StateMachine>,
    state: usize,
    /// The current state's input as it arrived (before InputPath).
    input: Value,
    /// The payload the current Task/Parallel/Map state runs with, kept for retries.
    payload: Value,
    variables: Variables,
    parent: Option<ThreadId>,
    /// Position among the parent's children (branch or item index).
    slot: usize,
    phase: Phase,
    retries: Vec<u32>,
    retry_count: u32,
    entered_event: u64,
    entered_time: i64,
    last_event: u64,
    map_item: Option<(usize, Value)>,
    /// The child execution (distributed Map iteration) whose history the thread's events go to;
    /// None: this execution's.
    child: Option<usize>,
    task_token: Option<String>,
}

enum Flow {
    Continue,
    Stop,
}

enum ActionOwner {
    Task(ThreadId),
    TaskTimeout(ThreadId),
    TaskHeartbeat(ThreadId),
    Wait(ThreadId),
    Backoff(ThreadId),
    ExecutionTimeout,
    /// A page of a distributed Map's items (ItemReader).
    ItemReader(ThreadId),
    /// The export of a distributed Map's results (ResultWriter).
    ResultWriter(ThreadId),
}

pub struct Execution {
    info: Arc<ExecutionInfo>,
    threads: Threads,
    ready: VecDeque<ThreadId>,
    history: Vec<Event>,
    actions: HashMap<ActionId, ActionOwner>,
    next_action: ActionId,
    commands: Vec<Command>,
    status: Status,
    now: i64,
    random: fastrand::Rng,
    map_runs: Vec<MapRun>,
    /// Distributed Map iterations by index; the host releases the closed ones once stored.
    children: BTreeMap<usize, ChildExecution>,
    next_child: usize,
    touched: Touched,
    max_history_events: Option<usize>,
}

impl Execution {
    pub fn start(machine: Arc<StateMachine>, info: ExecutionInfo, now: i64, seed: u64) -> Execution {
        let info = Arc::new(info);
        let mut execution = Execution {
            threads: Threads::default(),
            ready: VecDeque::new(),
            history: Vec::with_capacity(64),
            actions: HashMap::new(),
            next_action: 1,
            commands: Vec::new(),
            status: Status::Running,
            now,
            random: fastrand::Rng::with_seed(seed),
            map_runs: Vec::new(),
            children: BTreeMap::new(),
            next_child: 0,
            touched: Touched::default(),
            max_history_events: Some(MAX_HISTORY_EVENTS),
            info: info.clone(),
        };
        let started = Details { input: Some(info.input_text.clone()), role_arn: Some(info.role_arn.clone()), ..Details::default() };
        execution.record(EventType::ExecutionStarted, 0, Some(started));
        if let Some(seconds) = machine.timeout_seconds {
            let action = execution.new_action(ActionOwner::ExecutionTimeout);
            execution.commands.push(Command::StartTimer { action, at: now + seconds as i64 * 1000 });
        }
        // AWS chains the first state's events to 0, not to ExecutionStarted.
        execution.spawn(machine, info.input.clone(), Variables::new(), None, 0, None, None, 0);
        execution
    }

    /// Changes the history limit (None: unlimited), for benchmarks and configured servers.
    pub fn set_max_history_events(&mut self, limit: Option<usize>) {
        self.max_history_events = limit;
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    pub fn history(&self) -> &[Event] {
        &self.history
    }

    pub fn info(&self) -> &ExecutionInfo {
        &self.info
    }

    /// The runs of this execution's distributed Map states, in start order.
    pub fn map_runs(&self) -> &[MapRun] {
        &self.map_runs
    }

    /// The iterations of distributed Maps not released yet, by index in start order.
    pub fn child_executions(&self) -> impl Iterator<Item = (usize, &ChildExecution)> {
        self.children.iter().map(|(index, child)| (*index, child))
    }

    pub fn child_execution(&self, index: usize) -> Option<&ChildExecution> {
        self.children.get(&index)
    }

    /// Forgets the iterations among `touched` that closed: the host calls this once it stored
    /// them, so that a long Map Run holds only its running iterations (an iteration closes with
    /// an event, so every closed one was touched).
    pub fn release_closed_children(&mut self, touched: &Touched) {
        for index in &touched.children {
            if self.children.get(index).is_some_and(|child| child.status != Status::Running) {
                self.children.remove(index);
            }
        }
    }

    /// The map runs and child executions changed since the last call.
    pub fn take_touched(&mut self) -> Touched {
        std::mem::take(&mut self.touched).settled()
    }

    /// UpdateMapRun: a running Map Run takes the new settings; more iterations start at once when
    /// the concurrency grew. False when no running Map Run has that ARN.
    pub fn update_map_run(&mut self, map_run_arn: &str, update: &MapRunUpdate, now: i64) -> bool {
        self.enter(now);
        let Some(run) = self.map_runs.iter().position(|run| run.arn == map_run_arn && run.status == MapRunStatus::Running) else { return false };
        let thread = self.map_runs[run].thread;
        let Phase::Fanout(fanout) = &mut self.threads[thread].phase else { return false };
        if let Some(max_concurrency) = update.max_concurrency {
            fanout.max_concurrency = usize::try_from(max_concurrency).unwrap_or(usize::MAX);
        }
        if let Some(count) = update.tolerated_failure_count {
            fanout.tolerated_failures = Some(count as f64);
        }
        if let Some(percentage) = update.tolerated_failure_percentage {
            fanout.tolerated_percentage = Some(percentage);
        }
        self.map_runs[run].apply(update);
        self.touched.map_runs.push(run);
        let (index, machine) = self.current_state(thread);
        if let StateKind::Map(map) = &machine.states[index].kind {
            self.start_iterations(thread, map);
        }
        true
    }

    /// Runs every ready thread until each waits or ends; returns what the host must do.
    pub fn run(&mut self, now: i64) -> Vec<Command> {
        self.enter(now);
        while let Some(thread) = self.ready.pop_front() {
            while self.threads.contains(thread) && matches!(self.threads[thread].phase, Phase::Ready) && self.status == Status::Running {
                if let Some(limit) = self.max_history_events.filter(|limit| self.history.len() >= *limit) {
                    let failure = Failure::new(names::RUNTIME, format!("The execution reached the maximum number of history events ({limit})."));
                    self.end_execution(EventType::ExecutionFailed, Status::Failed(failure.clone()), &failure);
                    break;
                }
                if let Flow::Stop = self.enter_state(thread) {
                    break;
                }
            }
        }
        std::mem::take(&mut self.commands)
    }

    pub fn task_succeeded(&mut self, action: ActionId, output: Value, now: i64) {
        self.enter(now);
        let thread = match self.take_owner(action) {
            Some(ActionOwner::Task(thread)) => thread,
            Some(ActionOwner::ItemReader(thread)) => return self.items_read(thread, output),
            Some(ActionOwner::ResultWriter(thread)) => return self.results_written(thread, &output),
            _ => return,
        };
        self.clear_task_timeout(thread);
        let (state, machine) = self.current_state(thread);
        let state = &machine.states[state];
        let resource = task_resource(state);
        let text = output.to_string();
        if text.len() > MAX_PAYLOAD_BYTES {
            let failure = Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!("The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.", resource_label(resource)),
            );
            self.task_failed_event(thread, resource, &failure);
            self.fail_state(thread, failure);
        } else {
            let event = match Integration::of(resource) {
                Integration::LambdaFunction => EventType::LambdaFunctionSucceeded,
                Integration::Activity => EventType::ActivitySucceeded,
                Integration::Service { .. } => EventType::TaskSucceeded,
            };
            let mut details = Details { output: Some(text), ..Details::default() };
            service_labels(resource, &mut details);
            self.record_for(thread, event, Some(details));
            self.threads[thread].phase = Phase::Ready;
            if let Flow::Continue = self.finish_state(thread, Some(output), None) {
                self.ready.push_back(thread);
            }
        }
    }

    /// A worker took an activity task (GetActivityTask).
    pub fn task_started(&mut self, action: ActionId, worker_name: Option<String>, now: i64) {
        self.enter(now);
        let Some(&ActionOwner::Task(thread)) = self.actions.get(&action) else { return };
        if !self.threads.contains(thread) {
            return;
        }
        self.record_for(thread, EventType::ActivityStarted, Some(Details { worker_name, ..Details::default() }));
        let (index, machine) = self.current_state(thread);
        if let StateKind::Task(task) = &machine.states[index].kind {
            if let Ok(heartbeat) = self.seconds(thread, &machine.states[index], task.heartbeat.as_ref()) {
                self.arm_heartbeat(thread, heartbeat);
            }
        }
    }

    /// SendTaskHeartbeat: the heartbeat deadline starts again. False when the task is not open.
    pub fn task_heartbeat(&mut self, action: ActionId, now: i64) -> bool {
        self.enter(now);
        let Some(&ActionOwner::Task(thread)) = self.actions.get(&action) else { return false };
        if !self.threads.contains(thread) {
            return false;
        }
        let Phase::Task { heartbeat: Some(timer), .. } = self.threads[thread].phase else { return true };
        self.actions.remove(&timer);
        self.commands.push(Command::Cancel { action: timer });
        let (index, machine) = self.current_state(thread);
        if let StateKind::Task(task) = &machine.states[index].kind {
            if let Ok(heartbeat) = self.seconds(thread, &machine.states[index], task.heartbeat.as_ref()) {
                self.arm_heartbeat(thread, heartbeat);
            }
        }
        true
    }

    /// RedriveExecution: a FAILED, TIMED_OUT or ABORTED execution runs again from the state where
    /// it stopped, with that state's input (a Parallel or Map there runs again whole). False when
    /// the execution is not in a state that can be redriven.
    pub fn redrive(&mut self, now: i64) -> bool {
        self.enter(now);
        if matches!(self.status, Status::Running | Status::Succeeded(_)) {
            return false;
        }
        self.status = Status::Running;
        let info = Arc::make_mut(&mut self.info);
        info.redrive_count += 1;
        let details = Details { redrive_count: Some(u64::from(info.redrive_count)), ..Details::default() };
        let previous = self.history.last().map_or(0, |event| event.id);
        let id = self.record(EventType::ExecutionRedriven, previous, Some(details));
        let root = &mut self.threads[0];
        root.phase = Phase::Ready;
        root.last_event = id;
        self.ready.push_back(0);
        if let Some(seconds) = root.machine.timeout_seconds {
            let action = self.new_action(ActionOwner::ExecutionTimeout);
            self.commands.push(Command::StartTimer { action, at: now + seconds as i64 * 1000 });
        }
        true
    }

    /// Whether a task action is still waiting for its outcome.
    pub fn is_open(&self, action: ActionId) -> bool {
        matches!(self.actions.get(&action), Some(ActionOwner::Task(_) | ActionOwner::ItemReader(_) | ActionOwner::ResultWriter(_)))
    }

    pub fn task_failed(&mut self, action: ActionId, failure: Failure, now: i64) {
        self.enter(now);
        let thread = match self.take_owner(action) {
            Some(ActionOwner::Task(thread)) => thread,
            Some(ActionOwner::ItemReader(thread)) => return self.items_failed(thread, failure),
            Some(ActionOwner::ResultWriter(thread)) => return self.results_failed(thread, failure),
            _ => return,
        };
        self.clear_task_timeout(thread);
        let (state, machine) = self.current_state(thread);
        self.task_failed_event(thread, task_resource(&machine.states[state]), &failure);
        self.fail_state(thread, failure);
    }

    pub fn timer_fired(&mut self, action: ActionId, now: i64) {
        self.enter(now);
        match self.take_owner(action) {
            Some(ActionOwner::Wait(thread)) => {
                self.threads[thread].phase = Phase::Ready;
                if let Flow::Continue = self.finish_state(thread, None, None) {
                    self.ready.push_back(thread);
                }
            }
            Some(ActionOwner::Backoff(thread)) => {
                self.threads[thread].phase = Phase::Ready;
                if let Flow::Continue = self.attempt(thread) {
                    self.ready.push_back(thread);
                }
            }
            Some(ActionOwner::TaskTimeout(thread)) => self.task_timed_out(thread, names::TIMEOUT),
            Some(ActionOwner::TaskHeartbeat(thread)) => self.task_timed_out(thread, names::HEARTBEAT_TIMEOUT),
            Some(ActionOwner::ExecutionTimeout) => {
                let failure = Failure::without_cause(names::TIMEOUT);
                self.end_execution(EventType::ExecutionTimedOut, Status::TimedOut(failure.clone()), &failure);
            }
            Some(ActionOwner::Task(_) | ActionOwner::ItemReader(_) | ActionOwner::ResultWriter(_)) | None => {}
        }
    }

    /// StopExecution: every running thread is aborted and the execution ends ABORTED.
    pub fn stop(&mut self, error: Option<String>, cause: Option<String>, now: i64) {
        self.enter(now);
        if self.status != Status::Running {
            return;
        }
        let failure = Failure { error: error.unwrap_or_default(), cause };
        self.abort_thread(0);
        self.end_execution(EventType::ExecutionAborted, Status::Aborted(failure.clone()), &failure);
    }

    /// Every call from the host starts here. Expressions that draw random numbers (States.UUID,
    /// $random) use the thread-local generator; seeding it from the execution's own generator
    /// makes a replay after a restart draw the same numbers.
    fn enter(&mut self, now: i64) {
        self.now = now;
        fastrand::seed(self.random.u64(..));
    }

    // ----- entering and leaving states -------------------------------------------------------

    fn enter_state(&mut self, thread: ThreadId) -> Flow {
        let (index, machine) = self.current_state(thread);
        let state = &machine.states[index];
        let input_text = if thread == 0 && self.history.len() == 1 { self.info.input_text.clone() } else { self.threads[thread].input.to_string() };
        let entered = Details { name: Some(state.name.to_string()), input: Some(input_text), ..Details::default() };
        let id = self.record_for(thread, entered_event(&state.kind), Some(entered));
        let current = &mut self.threads[thread];
        current.entered_event = id;
        current.entered_time = self.now;
        current.retries.clear();
        current.retry_count = 0;
        current.task_token = None;
        match self.run_state(thread, state) {
            Ok(flow) => flow,
            Err(failure) => {
                let failure = self.located(thread, state, failure);
                self.fail_state(thread, failure);
                Flow::Stop
            }
        }
    }

    fn run_state(&mut self, thread: ThreadId, state: &State) -> Result<Flow, Failure> {
        match &state.kind {
            StateKind::Pass { result } => {
                let result = match (&state.data, result) {
                    (DataFlow::JsonPath { parameters: None, .. }, Some(result)) => Some(result.clone()),
                    (DataFlow::JsonPath { .. }, None) => Some(self.payload(thread, state)?),
                    (DataFlow::JsonPath { parameters: Some(_), .. }, Some(_)) => Some(self.payload(thread, state)?),
                    (DataFlow::Jsonata { .. }, _) => None,
                };
                Ok(self.finish_state(thread, result, None))
            }
            StateKind::Succeed => Ok(self.finish_state(thread, None, None)),
            StateKind::Choice { choices, default } => self.choose(thread, state, choices, *default),
            StateKind::Wait(wait) => {
                let at = self.wait_deadline(thread, state, wait)?;
                if at <= self.now {
                    return Ok(self.finish_state(thread, None, None));
                }
                let timer = self.new_action(ActionOwner::Wait(thread));
                self.commands.push(Command::StartTimer { action: timer, at });
                self.threads[thread].phase = Phase::Wait { timer };
                Ok(Flow::Stop)
            }
            StateKind::Fail { error, cause } => {
                let error = self.fail_field(thread, state, error.as_ref(), "Error", "ErrorPath")?;
                let cause = self.fail_field(thread, state, cause.as_ref(), "Cause", "CausePath")?;
                self.fail_thread(thread, Failure { error: error.unwrap_or_default(), cause });
                Ok(Flow::Stop)
            }
            StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => Ok(self.attempt(thread)),
        }
    }

    /// One attempt of a Task, Parallel or Map state with the payload computed on entry.
    fn attempt(&mut self, thread: ThreadId) -> Flow {
        let (index, machine) = self.current_state(thread);
        let state = &machine.states[index];
        if let StateKind::Task(task) = &state.kind {
            if needs_token(&Integration::of(&task.resource)) {
                let token = self.task_token(thread);
                self.threads[thread].task_token = Some(token);
            }
        }
        // Each attempt evaluates the state's input processing afresh (a retry gets a new token).
        let outcome = self.payload(thread, state).and_then(|payload| {
            self.threads[thread].payload = payload;
            match &state.kind {
                StateKind::Task(task) => self.dispatch(thread, state, task),
            StateKind::Parallel { branches } => self.start_parallel(thread, branches),
                StateKind::Map(map) => self.start_map(thread, state, map),
                _ => Ok(Flow::Stop),
            }
        });
        self.settle_attempt(thread, state, outcome)
    }

    /// Where an attempt leads: on, or into the state's retries and catches.
    fn settle_attempt(&mut self, thread: ThreadId, state: &State, outcome: Result<Flow, Failure>) -> Flow {
        match outcome {
            Ok(flow) => flow,
            Err(failure) => {
                let failure = self.located(thread, state, failure);
                // AWS closes a Map whose items cannot be evaluated with MapStateFailed.
                let closing: &[EventType] = match state.kind {
                    StateKind::Map(_) if failure.error == names::QUERY_EVALUATION_ERROR => &[EventType::MapStateFailed],
                    _ => &[],
                };
                self.fail_state_recording(thread, failure, closing);
                Flow::Stop
            }
        }
    }

    /// Applies a state's result processing, records its exit and moves to the next state.
    /// `result` is None for states that pass their input on (Choice, Wait, Succeed, JSONata Pass).
    fn finish_state(&mut self, thread: ThreadId, result: Option<Value>, next: Option<usize>) -> Flow {
        let (index, machine) = self.current_state(thread);
        let state = &machine.states[index];
        match self.process_result(thread, state, result) {
            Ok((output, assigned)) => self.exit_state(thread, state, output, assigned, next),
            Err(failure) => {
                let failure = self.located(thread, state, failure);
                self.fail_state(thread, failure);
                Flow::Stop
            }
        }
    }

    fn process_result(&mut self, thread: ThreadId, state: &State, result: Option<Value>) -> Result<StateExit, Failure> {
        let context = self.context(thread, state);
        let current = &self.threads[thread];
        match &state.data {
            DataFlow::JsonPath { input_path, result_selector, result_path, output_path, .. } => {
                let raw = &current.input;
                let scope = Scope::new(raw, &context, &current.variables);
                let result = match result {
                    Some(result) => result,
                    None => read_optional(input_path, &scope)?,
                };
                let result = match result_selector {
                    Some(selector) => selector.evaluate(&scope.with_input(&result))?,
                    None => result,
                };
                let assigned = match &state.assign {
                    Some(Assign::JsonPath(template)) => Some(template.evaluate(&scope.with_input(&result))?),
                    _ => None,
                };
                let combined = place_result(result_path, raw.clone(), result)?;
                let output = read_optional(output_path, &scope.with_input(&combined))?;
                Ok((output, self.assign(thread, assigned)))
            }
            DataFlow::Jsonata { output, .. } => {
                let mut states = states_binding(&current.input, &context);
                if let Some(result) = &result {
                    states.insert("result".into(), result.clone());
                }
                let states = Value::Object(states);
                let assigned = match &state.assign {
                    Some(Assign::Jsonata(template)) => Some(template.evaluate(&states, &current.variables, "Assign")?),
                    _ => None,
                };
                let output = match output {
                    Some(template) => template.evaluate(&states, &current.variables, "Output")?,
                    None => result.unwrap_or_else(|| current.input.clone()),
                };
                Ok((output, self.assign(thread, assigned)))
            }
        }
    }

    /// Sets the variables of an evaluated Assign, returning them as history shows them.
    fn assign(&mut self, thread: ThreadId, assigned: Option<Value>) -> Option<AssignedVariables> {
        let Some(Value::Object(assigned)) = assigned else { return None };
        if assigned.is_empty() {
            return None;
        }
        let variables = &mut self.threads[thread].variables;
        let shown = assigned.iter().map(|(name, value)| (name.clone(), value.to_string())).collect();
        for (name, value) in assigned {
            variables.set(name, value);
        }
        Some(shown)
    }

    fn exit_state(&mut self, thread: ThreadId, state: &State, output: Value, assigned: Option<AssignedVariables>, next: Option<usize>) -> Flow {
        let exited = Details {
            name: Some(state.name.to_string()),
            output: Some(output.to_string()),
            assigned_variables: assigned,
            ..Details::default()
        };
        self.record_for(thread, exited_event(&state.kind), Some(exited));
        let next = match (next, state.transition, &state.kind) {
            (Some(next), _, _) => Some(next),
            (None, _, StateKind::Succeed) => None,
            (None, Transition::Next(next), _) => Some(next),
            (None, Transition::End, _) => None,
        };
        match next {
            Some(next) => {
                let current = &mut self.threads[thread];
                current.state = next;
                current.input = output;
                current.phase = Phase::Ready;
                Flow::Continue
            }
            None => {
                self.thread_succeeded(thread, output);
                Flow::Stop
            }
        }
    }

    // ----- failures, retries, catches ----------------------------------------------------------

    /// A failure inside a state: retried or caught where the state says so, else the thread fails.
    fn fail_state(&mut self, thread: ThreadId, failure: Failure) {
        self.fail_state_recording(thread, failure, &[]);
    }

    /// As `fail_state`; `unless_retried` are events recorded only when the state is not retried
    /// (a Map's MapStateFailed: each retry starts the Map afresh).
    fn fail_state_recording(&mut self, thread: ThreadId, failure: Failure, unless_retried: &[EventType]) {
        let (index, machine) = self.current_state(thread);
        let state = &machine.states[index];
        if failure.error == names::QUERY_EVALUATION_ERROR {
            let details = Details {
                error: Some(failure.error.clone()),
                cause: failure.cause.clone(),
                location: evaluation_location(&failure),
                state: Some(state.name.to_string()),
                ..Details::default()
            };
            self.record_for(thread, EventType::EvaluationFailed, Some(details));
        }
        if let Some(position) = state.retry.iter().position(|r| r.error_equals.iter().any(|e| failure.matches(e))) {
            let retrier = &state.retry[position];
            let current = &mut self.threads[thread];
            if current.retries.len() <= position {
                current.retries.resize(position + 1, 0);
            }
            let attempts = current.retries[position];
            if attempts < retrier.max_attempts {
                current.retries[position] += 1;
                current.retry_count += 1;
                let delay = backoff_delay(retrier, attempts, &mut self.random);
                let timer = self.new_action(ActionOwner::Backoff(thread));
                self.commands.push(Command::StartTimer { action: timer, at: self.now + delay });
                self.threads[thread].phase = Phase::Backoff { timer };
                return;
            }
        }
        for event in unless_retried {
            self.record_for(thread, *event, None);
        }
        if let Some(catcher) = state.catch.iter().find(|c| c.error_equals.iter().any(|e| failure.matches(e))) {
            match self.caught_output(thread, state, catcher, &failure) {
                Ok((output, assigned)) => {
                    if let Flow::Continue = self.exit_state(thread, state, output, assigned, Some(catcher.next)) {
                        self.ready.push_back(thread);
                    }
                }
                Err(failure) => {
                    let failure = self.located(thread, state, failure);
                    self.fail_thread(thread, failure);
                }
            }
            return;
        }
        self.fail_thread(thread, failure);
    }

    fn caught_output(&mut self, thread: ThreadId, state: &State, catcher: &Catcher, failure: &Failure) -> Result<StateExit, Failure> {
        let mut error_output = Map::new();
        error_output.insert("Error".into(), Value::from(failure.error.as_str()));
        error_output.insert("Cause".into(), Value::from(failure.cause.as_deref().unwrap_or_default()));
        let error_output = Value::Object(error_output);
        let context = self.context(thread, state);
        let current = &self.threads[thread];
        match state.query_language {
            QueryLanguage::JsonPath => {
                let scope = Scope::new(&error_output, &context, &current.variables);
                let assigned = match &catcher.assign {
                    Some(Assign::JsonPath(template)) => Some(template.evaluate(&scope)?),
                    _ => None,
                };
                let output = place_result(&catcher.result_path, current.input.clone(), error_output)?;
                Ok((output, self.assign(thread, assigned)))
            }
            QueryLanguage::Jsonata => {
                let mut states = states_binding(&current.input, &context);
                states.insert("errorOutput".into(), error_output.clone());
                let states = Value::Object(states);
                let assigned = match &catcher.assign {
                    Some(Assign::Jsonata(template)) => Some(template.evaluate(&states, &current.variables, "Assign")?),
                    _ => None,
                };
                let output = match &catcher.output {
                    Some(template) => template.evaluate(&states, &current.variables, "Output")?,
                    None => error_output,
                };
                Ok((output, self.assign(thread, assigned)))
            }
        }
    }

    /// AWS prefixes errors raised while evaluating a state with where they happened.
    fn located(&self, thread: ThreadId, state: &State, mut failure: Failure) -> Failure {
        if failure.error.starts_with("States.") && failure.error != names::TIMEOUT && failure.error != names::TASK_FAILED {
            if let Some(cause) = &failure.cause {
                if !cause.starts_with("An error occurred while executing the state") {
                    failure.cause = Some(format!(
                        "An error occurred while executing the state '{}' (entered at the event id #{}). {cause}",
                        state.name, self.threads[thread].entered_event
                    ));
                }
            }
        }
        failure
    }

    fn thread_succeeded(&mut self, thread: ThreadId, output: Value) {
        self.threads[thread].phase = Phase::Done;
        match self.threads[thread].parent {
            None => {
                let text = output.to_string();
                if text.len() > MAX_PAYLOAD_BYTES {
                    let failure = Failure::new(names::DATA_LIMIT_EXCEEDED, "The execution output exceeds the maximum number of bytes service limit.");
                    self.end_execution(EventType::ExecutionFailed, Status::Failed(failure.clone()), &failure);
                    return;
                }
                self.record(EventType::ExecutionSucceeded, self.threads[thread].last_event, Some(Details { output: Some(text), ..Details::default() }));
                self.status = Status::Succeeded(output);
                self.cancel_all();
            }
            Some(parent) => {
                if let Some(child) = self.child_execution_root(thread) {
                    let details = Details { output: Some(output.to_string()), ..Details::default() };
                    self.close_child_execution(child, EventType::ExecutionSucceeded, Some(details), Status::Succeeded(output.clone()));
                }
                self.child_finished(parent, thread, Ok(output))
            }
        }
    }

    fn fail_thread(&mut self, thread: ThreadId, failure: Failure) {
        self.threads[thread].phase = Phase::Done;
        match self.threads[thread].parent {
            None => self.end_execution(EventType::ExecutionFailed, Status::Failed(failure.clone()), &failure),
            Some(parent) => {
                if let Some(child) = self.child_execution_root(thread) {
                    let details = Details { error: non_empty(&failure.error), cause: failure.cause.clone(), ..Details::default() };
                    self.close_child_execution(child, EventType::ExecutionFailed, Some(details), Status::Failed(failure.clone()));
                }
                self.child_finished(parent, thread, Err(failure))
            }
        }
    }

    fn end_execution(&mut self, event: EventType, status: Status, failure: &Failure) {
        let details = Details { error: non_empty(&failure.error), cause: failure.cause.clone(), ..Details::default() };
        let previous = self.history.last().map_or(0, |e| e.id);
        self.record(event, previous, Some(details));
        self.status = status;
        self.abort_open_map_runs();
        self.cancel_all();
    }

    fn cancel_all(&mut self) {
        for action in self.actions.keys() {
            self.commands.push(Command::Cancel { action: *action });
        }
        self.actions.clear();
        self.ready.clear();
    }

    // ----- tasks ---------------------------------------------------------------------------------

    fn dispatch(&mut self, thread: ThreadId, state: &State, task: &TaskSpec) -> Result<Flow, Failure> {
        let integration = Integration::of(&task.resource);
        let timeout = self.seconds(thread, state, task.timeout.as_ref())?;
        let heartbeat = self.seconds(thread, state, task.heartbeat.as_ref())?;
        let parameters = self.threads[thread].payload.clone();
        let parameters_text = parameters.to_string();
        let mut details = Details { timeout_in_seconds: timeout, heartbeat_in_seconds: heartbeat, ..Details::default() };
        let (scheduled, started) = match &integration {
            Integration::LambdaFunction => {
                details.input = Some(parameters_text);
                details.resource = Some(task.resource.clone());
                (EventType::LambdaFunctionScheduled, EventType::LambdaFunctionStarted)
            }
            Integration::Activity => {
                details.input = Some(parameters_text);
                details.resource = Some(task.resource.clone());
                (EventType::ActivityScheduled, EventType::ActivityStarted)
            }
            Integration::Service { .. } => {
                details.parameters = Some(parameters_text);
                details.region = Some(self.info.region.clone());
                service_labels(&task.resource, &mut details);
                (EventType::TaskScheduled, EventType::TaskStarted)
            }
        };
        self.record_for(thread, scheduled, Some(details));
        let action = self.new_action(ActionOwner::Task(thread));
        let timeout_timer = timeout.map(|seconds| {
            let timer = self.new_action(ActionOwner::TaskTimeout(thread));
            self.commands.push(Command::StartTimer { action: timer, at: self.now + seconds as i64 * 1000 });
            timer
        });
        self.threads[thread].phase = Phase::Task { action, timeout: timeout_timer, heartbeat: None };
        // An activity starts when a worker takes it (`task_started`); everything else at once.
        if integration != Integration::Activity {
            let mut started_details = Details::default();
            service_labels(&task.resource, &mut started_details);
            self.record_for(thread, started, Some(started_details).filter(|_| matches!(integration, Integration::Service { .. })));
            self.arm_heartbeat(thread, heartbeat);
        }
        let current = &mut self.threads[thread];
        self.commands.push(Command::RunTask(Box::new(TaskRequest {
            action,
            state_name: state.name.clone(),
            resource: task.resource.clone(),
            integration,
            parameters,
            task_token: current.task_token.clone(),
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
            attempt: current.retry_count,
        })));
        Ok(Flow::Stop)
    }

    fn task_failed_event(&mut self, thread: ThreadId, resource: &str, failure: &Failure) {
        let event = match Integration::of(resource) {
            Integration::LambdaFunction => EventType::LambdaFunctionFailed,
            Integration::Activity => EventType::ActivityFailed,
            Integration::Service { .. } => EventType::TaskFailed,
        };
        let mut details = Details { error: non_empty(&failure.error), cause: failure.cause.clone(), ..Details::default() };
        service_labels(resource, &mut details);
        self.record_for(thread, event, Some(details));
    }

    fn arm_heartbeat(&mut self, thread: ThreadId, seconds: Option<u64>) {
        let Some(seconds) = seconds else { return };
        let timer = self.new_action(ActionOwner::TaskHeartbeat(thread));
        self.commands.push(Command::StartTimer { action: timer, at: self.now + seconds as i64 * 1000 });
        if let Phase::Task { heartbeat, .. } = &mut self.threads[thread].phase {
            *heartbeat = Some(timer);
        }
    }

    fn task_timed_out(&mut self, thread: ThreadId, error: &str) {
        let Phase::Task { action, timeout, heartbeat } = self.threads[thread].phase else { return };
        for action in std::iter::once(action).chain(timeout).chain(heartbeat) {
            self.actions.remove(&action);
            self.commands.push(Command::Cancel { action });
        }
        let (index, machine) = self.current_state(thread);
        let resource = task_resource(&machine.states[index]);
        let event = match Integration::of(resource) {
            Integration::LambdaFunction => EventType::LambdaFunctionTimedOut,
            Integration::Activity => EventType::ActivityTimedOut,
            Integration::Service { .. } => EventType::TaskTimedOut,
        };
        let failure = Failure::without_cause(error);
        let mut details = Details { error: Some(failure.error.clone()), ..Details::default() };
        service_labels(resource, &mut details);
        self.record_for(thread, event, Some(details));
        self.fail_state(thread, failure);
    }

    fn clear_task_timeout(&mut self, thread: ThreadId) {
        if let Phase::Task { timeout, heartbeat, .. } = self.threads[thread].phase {
            for timer in timeout.into_iter().chain(heartbeat) {
                self.actions.remove(&timer);
                self.commands.push(Command::Cancel { action: timer });
            }
        }
    }

    /// A task token: unguessable (it hashes the execution's secret), yet the same when the
    /// execution is replayed after a restart, so tokens handed out before a crash stay valid.
    /// It names the execution whose history the task is in: event ids repeat across the
    /// histories of a distributed Map's child executions.
    fn task_token(&self, thread: ThreadId) -> String {
        use sha2::{Digest, Sha256};
        let current = &self.threads[thread];
        let execution_arn = current.child.and_then(|child| self.children.get(&child)).map_or(&self.info.execution_arn, |child| &child.arn);
        let mut hash = Sha256::new();
        hash.update(self.info.token_secret.as_bytes());
        hash.update(execution_arn.as_bytes());
        hash.update(current.entered_event.to_le_bytes());
        hash.update(current.retry_count.to_le_bytes());
        let digest = hash.finalize();
        let nonce: String = digest.iter().take(20).map(|byte| format!("{byte:02x}")).collect();
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{execution_arn}#{}#{nonce}", current.entered_event))
    }

    /// Stops whatever a thread is doing, recording the aborted state as AWS does.
    fn abort_thread(&mut self, thread: ThreadId) {
        let phase = std::mem::replace(&mut self.threads[thread].phase, Phase::Done);
        let aborted = match phase {
            Phase::Task { action, timeout, heartbeat } => {
                for action in std::iter::once(action).chain(timeout).chain(heartbeat) {
                    self.actions.remove(&action);
                    self.commands.push(Command::Cancel { action });
                }
                Some(EventType::TaskStateAborted)
            }
            Phase::Wait { timer } => {
                self.actions.remove(&timer);
                self.commands.push(Command::Cancel { action: timer });
                Some(EventType::WaitStateAborted)
            }
            Phase::Backoff { timer } => {
                self.actions.remove(&timer);
                self.commands.push(Command::Cancel { action: timer });
                let (index, machine) = self.current_state(thread);
                Some(aborted_event(&machine.states[index].kind))
            }
            Phase::Fanout(fanout) => {
                let (is_map, map_run) = (fanout.is_map, fanout.map_run);
                self.threads[thread].phase = Phase::Fanout(fanout);
                self.abort_children(thread);
                if let Some(run) = map_run {
                    self.close_map_run(run, MapRunStatus::Aborted);
                }
                self.threads[thread].phase = Phase::Done;
                Some(if is_map { EventType::MapStateAborted } else { EventType::ParallelStateAborted })
            }
            Phase::ReadingItems(stream) => {
                if let Some(action) = stream.action {
                    self.actions.remove(&action);
                    self.commands.push(Command::Cancel { action });
                }
                Some(EventType::MapStateAborted)
            }
            Phase::WritingResults(writing) => {
                self.actions.remove(&writing.action);
                self.commands.push(Command::Cancel { action: writing.action });
                self.close_map_run(writing.run, MapRunStatus::Aborted);
                Some(EventType::MapStateAborted)
            }
            Phase::Ready | Phase::Done => None,
        };
        if let Some(event) = aborted {
            self.record_for(thread, event, None);
        }
    }

    // ----- Choice, Wait, Fail --------------------------------------------------------------------

    fn choose(&mut self, thread: ThreadId, state: &State, choices: &[ChoiceBranch], default: Option<usize>) -> Result<Flow, Failure> {
        let context = self.context(thread, state);
        let current = &self.threads[thread];
        let chosen = matching_choice(state, choices, &current.input, &context, &current.variables)?;
        match chosen {
            Some(choice) if choice.assign.is_some() || choice.output.is_some() => {
                let (output, assigned) = self.choice_output(thread, state, choice, &context)?;
                Ok(self.exit_state(thread, state, output, assigned, Some(choice.next)))
            }
            Some(choice) => Ok(self.finish_state(thread, None, Some(choice.next))),
            None => match default {
                Some(default) => Ok(self.finish_state(thread, None, Some(default))),
                None => Err(Failure::new(names::NO_CHOICE_MATCHED, "No Matches!")),
            },
        }
    }

    /// A matched Choice rule's own Assign / Output take the place of the state's.
    fn choice_output(&mut self, thread: ThreadId, state: &State, choice: &ChoiceBranch, context: &Value) -> Result<StateExit, Failure> {
        let current = &self.threads[thread];
        match state.query_language {
            QueryLanguage::JsonPath => {
                let DataFlow::JsonPath { input_path, output_path, .. } = &state.data else { return Ok((current.input.clone(), None)) };
                let scope = Scope::new(&current.input, context, &current.variables);
                let effective = read_optional(input_path, &scope)?;
                let assigned = match &choice.assign {
                    Some(Assign::JsonPath(template)) => Some(template.evaluate(&scope.with_input(&effective))?),
                    _ => None,
                };
                let output = read_optional(output_path, &scope.with_input(&effective))?;
                Ok((output, self.assign(thread, assigned)))
            }
            QueryLanguage::Jsonata => {
                let states = Value::Object(states_binding(&current.input, context));
                let assigned = match &choice.assign {
                    Some(Assign::Jsonata(template)) => Some(template.evaluate(&states, &current.variables, "Assign")?),
                    _ => None,
                };
                let output = match (&choice.output, &state.data) {
                    (Some(template), _) => template.evaluate(&states, &current.variables, "Output")?,
                    (None, DataFlow::Jsonata { output: Some(template), .. }) => template.evaluate(&states, &current.variables, "Output")?,
                    (None, _) => current.input.clone(),
                };
                Ok((output, self.assign(thread, assigned)))
            }
        }
    }

    fn wait_deadline(&self, thread: ThreadId, state: &State, wait: &Dynamic) -> Result<i64, Failure> {
        let context = self.context(thread, state);
        let value = self.dynamic(thread, state, wait, &context)?;
        let is_timestamp = match wait {
            Dynamic::Literal(literal) => literal.is_string(),
            Dynamic::Path { field, .. } => *field == "TimestampPath",
            Dynamic::Jsonata { field, .. } => *field == "Timestamp",
        };
        if is_timestamp {
            let text = value.as_str().unwrap_or_default();
            let at = parse_timestamp(text).ok_or_else(|| match wait {
                Dynamic::Path { path, .. } => Failure::runtime(format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                    path.as_str(),
                    value_text(&value)
                )),
                _ => Failure::query_evaluation(format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}")),
            })?;
            return self.wait_until(at);
        }
        let seconds = match value.as_f64() {
            Some(seconds) if seconds >= 0.0 && value.is_i64() || value.is_u64() => seconds,
            _ => {
                return Err(match wait {
                    Dynamic::Path { path, .. } => Failure::runtime(format!("The SecondsPath parameter does not reference a valid integer value: {} == {}", path.as_str(), value_text(&value))),
                    _ => Failure::query_evaluation(format!("The Seconds field must be a non-negative integer, but was: {value}")),
                })
            }
        };
        self.wait_until(self.now + (seconds * 1000.0) as i64)
    }

    /// AWS counts the delay in whole seconds of a 32-bit integer.
    fn wait_until(&self, at: i64) -> Result<i64, Failure> {
        if (at - self.now) / 1000 > i64::from(i32::MAX) {
            return Err(Failure::runtime("Wait state delay is too long."));
        }
        Ok(at)
    }

    fn fail_field(&self, thread: ThreadId, state: &State, field: Option<&FailField>, name: &str, path_name: &str) -> Result<Option<String>, Failure> {
        let Some(field) = field else { return Ok(None) };
        let context = self.context(thread, state);
        let current = &self.threads[thread];
        fail_field_text(field, name, path_name, &current.input, &context, &current.variables).map(Some)
    }

    // ----- evaluation helpers --------------------------------------------------------------------

    /// The payload a state works on: InputPath then Parameters (JSONPath), Arguments (JSONata).
    fn payload(&self, thread: ThreadId, state: &State) -> Result<Value, Failure> {
        let context = self.context(thread, state);
        let current = &self.threads[thread];
        match &state.data {
            DataFlow::JsonPath { input_path, parameters, .. } => {
                let scope = Scope::new(&current.input, &context, &current.variables);
                let effective = read_optional(input_path, &scope)?;
                match parameters {
                    Some(template) => template.evaluate(&scope.with_input(&effective)),
                    None => Ok(effective),
                }
            }
            DataFlow::Jsonata { arguments: Some(template), .. } => {
                let states = Value::Object(states_binding(&current.input, &context));
                template.evaluate(&states, &current.variables, "Arguments")
            }
            DataFlow::Jsonata { arguments: None, .. } => Ok(current.input.clone()),
        }
    }

    fn dynamic(&self, thread: ThreadId, state: &State, dynamic: &Dynamic, context: &Value) -> Result<Value, Failure> {
        let current = &self.threads[thread];
        match dynamic {
            Dynamic::Literal(value) => Ok(value.clone()),
            Dynamic::Path { path, .. } => {
                let effective = match &state.data {
                    DataFlow::JsonPath { input_path, .. } => read_optional(input_path, &Scope::new(&current.input, context, &current.variables))?,
                    DataFlow::Jsonata { .. } => current.input.clone(),
                };
                path.select_required(&Scope::new(&effective, context, &current.variables))
            }
            Dynamic::Jsonata { field, template } => {
                let states = Value::Object(states_binding(&current.input, context));
                template.evaluate(&states, &current.variables, field)
            }
        }
    }

    fn seconds(&self, thread: ThreadId, state: &State, dynamic: Option<&Dynamic>) -> Result<Option<u64>, Failure> {
        let Some(dynamic) = dynamic else { return Ok(None) };
        let context = self.context(thread, state);
        let value = self.dynamic(thread, state, dynamic, &context)?;
        match value.as_u64() {
            Some(seconds) if seconds > 0 => Ok(Some(seconds)),
            _ => Err(match dynamic {
                Dynamic::Path { field, path } => Failure::runtime(format!("The {field} field refers to value \"{}\" which is not a valid integer: {}", value_text(&value), path.as_str())),
                Dynamic::Jsonata { field, template } => Failure::query_evaluation(format!(
                    "The JSONata expression '{}' specified for the field '{field}' returned an unexpected result type. Expected 'integer', but was '{}' for value: {value}",
                    template.source().unwrap_or_default(),
                    json_type_name(&value)
                )),
                Dynamic::Literal(_) => Failure::runtime(format!("The timeout value must be a positive integer, but was: {value}")),
            }),
        }
    }

    /// The context object, built only for states whose expressions can see it.
    fn context(&self, thread: ThreadId, state: &State) -> Value {
        if !state.uses_context {
            return Value::Null;
        }
        let current = &self.threads[thread];
        let map_item = current.map_item.as_ref().map(|(index, value)| (*index, value));
        context_object(
            &self.execution_info(thread),
            &StateContext {
                name: &state.name,
                entered_time: current.entered_time,
                retry_count: matches!(state.kind, StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)).then_some(current.retry_count),
                task_token: current.task_token.as_deref(),
                map_item,
            },
        )
    }

    fn item_context(&self, thread: ThreadId, state: &State, index: usize, item: &Value) -> Value {
        let current = &self.threads[thread];
        context_object(
            &self.execution_info(thread),
            &StateContext { name: &state.name, entered_time: current.entered_time, retry_count: None, task_token: None, map_item: Some((index, item)) },
        )
    }

    /// The execution a thread belongs to, as `$$.Execution` shows it: a distributed Map's
    /// iteration is a child execution of its own.
    fn execution_info(&self, thread: ThreadId) -> std::borrow::Cow<'_, ExecutionInfo> {
        let Some(child) = self.threads[thread].child.and_then(|child| self.children.get(&child)) else {
            return std::borrow::Cow::Borrowed(&self.info);
        };
        std::borrow::Cow::Owned(ExecutionInfo {
            execution_arn: child.arn.clone(),
            name: child.name.clone(),
            start_time: child.start_time,
            input: serde_json::from_str(&child.input).unwrap_or_default(),
            input_text: child.input.clone(),
            redrive_count: 0,
            ..(*self.info).clone()
        })
    }

    // ----- bookkeeping ---------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &mut self,
        machine: Arc<StateMachine>,
        input: Value,
        variables: Variables,
        parent: Option<ThreadId>,
        slot: usize,
        map_item: Option<(usize, Value)>,
        child: Option<usize>,
        last_event: u64,
    ) -> ThreadId {
        let state = machine.start_at;
        let id = self.threads.push(Thread {
            machine,
            state,
            input,
            payload: Value::Null,
            variables,
            parent,
            slot,
            phase: Phase::Ready,
            retries: Vec::new(),
            retry_count: 0,
            entered_event: 0,
            entered_time: self.now,
            last_event,
            map_item,
            child,
            task_token: None,
        });
        self.ready.push_back(id);
        id
    }

    fn current_state(&self, thread: ThreadId) -> (usize, Arc<StateMachine>) {
        let current = &self.threads[thread];
        (current.state, current.machine.clone())
    }

    fn state_name(&self, thread: ThreadId) -> String {
        let current = &self.threads[thread];
        current.machine.states[current.state].name.to_string()
    }

    /// The action's owner, taken out; None when the action is not open or belonged to a thread
    /// that was released since.
    fn take_owner(&mut self, action: ActionId) -> Option<ActionOwner> {
        let owner = self.actions.remove(&action)?;
        let thread = match owner {
            ActionOwner::Task(thread)
            | ActionOwner::TaskTimeout(thread)
            | ActionOwner::TaskHeartbeat(thread)
            | ActionOwner::Wait(thread)
            | ActionOwner::Backoff(thread)
            | ActionOwner::ItemReader(thread)
            | ActionOwner::ResultWriter(thread) => Some(thread),
            ActionOwner::ExecutionTimeout => None,
        };
        thread.is_none_or(|thread| self.threads.contains(thread)).then_some(owner)
    }

    fn new_action(&mut self, owner: ActionOwner) -> ActionId {
        let action = self.next_action;
        self.next_action += 1;
        self.actions.insert(action, owner);
        action
    }

    fn record(&mut self, event_type: EventType, previous_event_id: u64, details: Option<Details>) -> u64 {
        let id = self.history.len() as u64 + 1;
        self.history.push(Event { id, previous_event_id, timestamp: self.now, event_type, details: details.map(Box::new) });
        id
    }

    fn record_in_child(&mut self, child: usize, event_type: EventType, previous_event_id: u64, details: Option<Details>) -> u64 {
        let Some(execution) = self.children.get_mut(&child) else { return 0 };
        let history = &mut execution.history;
        let id = history.len() as u64 + 1;
        history.push(Event { id, previous_event_id, timestamp: self.now, event_type, details: details.map(Box::new) });
        self.touched.children.push(child);
        id
    }

    /// Records an event in a thread's chain, in the history of the execution the thread belongs
    /// to (events of distributed Map iterations belong to their child executions).
    fn record_for(&mut self, thread: ThreadId, event_type: EventType, details: Option<Details>) -> u64 {
        let previous = self.threads[thread].last_event;
        let id = match self.threads[thread].child {
            None => self.record(event_type, previous, details),
            Some(child) => self.record_in_child(child, event_type, previous, details),
        };
        self.threads[thread].last_event = id;
        id
    }
}

/// The first Choice rule that matches the state's input, if any.
pub(crate) fn matching_choice<'c>(state: &State, choices: &'c [ChoiceBranch], input: &Value, context: &Value, variables: &Variables) -> Result<Option<&'c ChoiceBranch>, Failure> {
    match state.query_language {
        QueryLanguage::JsonPath => {
            let effective = match &state.data {
                DataFlow::JsonPath { input_path, .. } => read_optional(input_path, &Scope::new(input, context, variables))?,
                DataFlow::Jsonata { .. } => input.clone(),
            };
            let scope = Scope::new(&effective, context, variables);
            for choice in choices {
                if let Condition::Rule(rule) = &choice.condition {
                    if rule.matches(&scope)? {
                        return Ok(Some(choice));
                    }
                }
            }
            Ok(None)
        }
        QueryLanguage::Jsonata => {
            let states = Value::Object(states_binding(input, context));
            for choice in choices {
                if let Condition::Jsonata(condition) = &choice.condition {
                    match condition.evaluate(&states, variables, "Condition")? {
                        Value::Bool(true) => return Ok(Some(choice)),
                        Value::Bool(false) => {}
                        other => {
                            return Err(Failure::query_evaluation(format!(
                                "The JSONata expression '{}' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '{}' for value: {other}",
                                condition.source().unwrap_or_default(),
                                json_type_name(&other)
                            )))
                        }
                    }
                }
            }
            Ok(None)
        }
    }
}

/// The text of a Fail state's Error or Cause (`name`; `path_name` is its JSONPath form).
pub(crate) fn fail_field_text(field: &FailField, name: &str, path_name: &str, input: &Value, context: &Value, variables: &Variables) -> Result<String, Failure> {
    let scope = Scope::new(input, context, variables);
    let value = match field {
        FailField::Literal(text) => return Ok(text.clone()),
        FailField::Path(path) => path.select(&scope).ok_or_else(|| {
            Failure::runtime(format!("The JSONPath '{}' specified for the field '{path_name}' could not be found in the input '{input}'", path.as_str()))
        })?,
        FailField::Intrinsic(function) => function.evaluate(&scope)?,
        FailField::Jsonata(template) => template.evaluate(&Value::Object(states_binding(input, context)), variables, name)?,
    };
    Ok(value_text(&value))
}

pub(crate) fn read_optional(path: &OptionalPath, scope: &Scope) -> Result<Value, Failure> {
    match path {
        OptionalPath::Whole => Ok(scope.input.clone()),
        OptionalPath::Nothing => Ok(Value::Object(Map::new())),
        OptionalPath::Path(path) => path.select_required(scope),
    }
}

pub(crate) fn place_result(placement: &ResultPlacement, input: Value, result: Value) -> Result<Value, Failure> {
    match placement {
        ResultPlacement::Replace => Ok(result),
        ResultPlacement::Discard => Ok(input),
        ResultPlacement::At(path) => path.write(input, result),
    }
}

pub(crate) fn states_binding(input: &Value, context: &Value) -> Map<String, Value> {
    let mut states = Map::new();
    states.insert("input".into(), input.clone());
    states.insert("context".into(), context.clone());
    states
}

fn backoff_delay(retrier: &Retrier, attempts: u32, random: &mut fastrand::Rng) -> i64 {
    let mut seconds = retrier.interval_seconds * retrier.backoff_rate.powi(attempts.min(1000) as i32);
    if let Some(max) = retrier.max_delay_seconds {
        seconds = seconds.min(max);
    }
    if retrier.full_jitter {
        seconds *= random.f64();
    }
    (seconds.clamp(0.0, 1e12) * 1000.0) as i64
}

/// `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`: AWS accepts only the extended offset form.
fn parse_timestamp(text: &str) -> Option<i64> {
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|time| time.timestamp_millis())
}

fn whole_number(value: Value, dynamic: &Dynamic, kind: &str) -> Result<usize, Failure> {
    match value.as_u64() {
        Some(number) => Ok(usize::try_from(number).unwrap_or(usize::MAX)),
        None => Err(not_a_number(&value, dynamic, kind)),
    }
}

fn not_a_number(value: &Value, dynamic: &Dynamic, kind: &str) -> Failure {
    match dynamic {
        Dynamic::Path { field, path } => Failure::runtime(format!("The {field} field refers to value \"{}\" which is not a valid {kind}: {}", value_text(value), path.as_str())),
        Dynamic::Jsonata { field, template } => Failure::query_evaluation(format!(
            "The JSONata expression '{}' specified for the field '{field}' returned an unexpected result type. Expected '{kind}', but was '{}' for value: {value}",
            template.source().unwrap_or_default(),
            json_type_name(value)
        )),
        Dynamic::Literal(_) => Failure::runtime(format!("The value {value} is not a valid {kind}")),
    }
}

/// A value as AWS quotes it in messages: strings bare, the rest as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// The field an evaluation error names: "... for the field 'Output/x' ..." or "The Timestamp field ...".
fn evaluation_location(failure: &Failure) -> Option<String> {
    let cause = failure.cause.as_deref()?;
    if let Some(start) = cause.find("for the field '").map(|at| at + "for the field '".len()) {
        let end = cause[start..].find('\'')?;
        return Some(cause[start..start + end].to_owned());
    }
    let message = cause.rsplit_once("). ").map_or(cause, |(_, message)| message);
    let field = message.strip_prefix("The ")?.split_once(" field ")?.0;
    (!field.contains(' ')).then(|| field.to_owned())
}

/// Activities and `.waitForTaskToken` integrations complete through a task token.
fn needs_token(integration: &Integration) -> bool {
    matches!(integration, Integration::Activity | Integration::Service { pattern: Pattern::WaitForTaskToken, .. })
}

fn task_resource(state: &State) -> &str {
    match &state.kind {
        StateKind::Task(task) => &task.resource,
        _ => "",
    }
}

/// How AWS names a resource in DataLimitExceeded causes: the service for integrations.
fn resource_label(resource: &str) -> String {
    match Integration::of(resource) {
        Integration::Service { service, .. } => service,
        _ => resource.to_owned(),
    }
}

/// `resourceType` / `resource` of Task* events: `lambda` / `invoke` for `arn:aws:states:::lambda:invoke`.
fn service_labels(resource: &str, details: &mut Details) {
    if let Integration::Service { service, action, .. } = Integration::of(resource) {
        details.resource_type = Some(service);
        details.resource = Some(action);
    }
}

fn entered_event(kind: &StateKind) -> EventType {
    match kind {
        StateKind::Pass { .. } => EventType::PassStateEntered,
        StateKind::Task(_) => EventType::TaskStateEntered,
        StateKind::Choice { .. } => EventType::ChoiceStateEntered,
        StateKind::Wait(_) => EventType::WaitStateEntered,
        StateKind::Succeed => EventType::SucceedStateEntered,
        StateKind::Fail { .. } => EventType::FailStateEntered,
        StateKind::Parallel { .. } => EventType::ParallelStateEntered,
        StateKind::Map(_) => EventType::MapStateEntered,
    }
}

fn exited_event(kind: &StateKind) -> EventType {
    match kind {
        StateKind::Pass { .. } => EventType::PassStateExited,
        StateKind::Task(_) => EventType::TaskStateExited,
        StateKind::Choice { .. } => EventType::ChoiceStateExited,
        StateKind::Wait(_) => EventType::WaitStateExited,
        StateKind::Succeed => EventType::SucceedStateExited,
        StateKind::Fail { .. } => EventType::FailStateEntered,
        StateKind::Parallel { .. } => EventType::ParallelStateExited,
        StateKind::Map(_) => EventType::MapStateExited,
    }
}

fn aborted_event(kind: &StateKind) -> EventType {
    match kind {
        StateKind::Parallel { .. } => EventType::ParallelStateAborted,
        StateKind::Map(_) => EventType::MapStateAborted,
        StateKind::Wait(_) => EventType::WaitStateAborted,
        _ => EventType::TaskStateAborted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info() -> ExecutionInfo {
        ExecutionInfo { token_secret: "secret".into(), ..ExecutionInfo::local("m", "e", json!({}), "{}".into()) }
    }

    fn machine(definition: Value) -> Arc<StateMachine> {
        Arc::new(StateMachine::compile(&definition).unwrap())
    }

    #[test]
    fn a_history_past_the_limit_fails_the_execution() {
        let looping = machine(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}));
        let mut execution = Execution::start(looping, info(), 0, 0);
        execution.set_max_history_events(Some(100));
        execution.run(0);
        let Status::Failed(failure) = execution.status() else { panic!("{:?}", execution.status()) };
        assert_eq!(failure.error, "States.Runtime");
        assert!(execution.history().len() <= 102);
    }

    #[test]
    fn tasks_are_commands_and_their_outcomes_drive_the_execution() {
        let task = machine(json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "End": true}}}));
        let mut execution = Execution::start(task, info(), 0, 0);
        let commands = execution.run(0);
        let [Command::RunTask(request)] = commands.as_slice() else { panic!("{commands:?}") };
        assert_eq!(request.parameters, json!({"FunctionName": "f"}));
        execution.task_succeeded(request.action, json!({"ok": 1}), 5);
        execution.run(5);
        assert_eq!(execution.status(), &Status::Succeeded(json!({"ok": 1})));
    }

    #[test]
    fn activity_tokens_are_stable_across_replays_and_start_with_the_worker() {
        let activity = machine(json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:000000000000:activity:a", "End": true}}}));
        let token_of = |execution: &mut Execution| match execution.run(0).as_slice() {
            [Command::RunTask(request)] => (request.action, request.task_token.clone().unwrap()),
            other => panic!("{other:?}"),
        };
        let mut first = Execution::start(activity.clone(), info(), 0, 0);
        let mut replayed = Execution::start(activity, info(), 0, 0);
        let (action, token) = token_of(&mut first);
        assert_eq!(token_of(&mut replayed), (action, token));
        let types = |execution: &Execution| execution.history().iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>();
        assert_eq!(types(&first).last(), Some(&"ActivityScheduled"));
        first.task_started(action, Some("w".into()), 1);
        assert_eq!(types(&first).last(), Some(&"ActivityStarted"));
    }

    #[test]
    fn a_redriven_execution_runs_again_from_the_state_that_failed() {
        let task = machine(json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}));
        let mut execution = Execution::start(task, info(), 0, 0);
        let Command::RunTask(first) = execution.run(0).remove(0) else { panic!() };
        execution.task_failed(first.action, Failure::new("Boom", "once"), 1);
        execution.run(1);
        assert!(matches!(execution.status(), Status::Failed(_)));
        assert!(execution.redrive(2));
        let Command::RunTask(second) = execution.run(2).remove(0) else { panic!() };
        execution.task_succeeded(second.action, json!("fine"), 3);
        execution.run(3);
        assert_eq!(execution.status(), &Status::Succeeded(json!("fine")));
        assert_eq!(execution.info().redrive_count, 1);
        let types: Vec<_> = execution.history().iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(&types[7..10], ["ExecutionFailed", "ExecutionRedriven", "TaskStateEntered"]);
        assert!(!execution.redrive(4), "a succeeded execution cannot be redriven");
    }

    fn distributed(max_concurrency: u64) -> Arc<StateMachine> {
        machine(json!({"StartAt": "M", "States": {"M": {
            "Type": "Map", "Label": "Run", "MaxConcurrency": max_concurrency, "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}}}}))
    }

    fn tasks(commands: Vec<Command>) -> Vec<ActionId> {
        commands.into_iter().filter_map(|command| if let Command::RunTask(request) = command { Some(request.action) } else { None }).collect()
    }

    fn event_types(history: &[Event]) -> Vec<&'static str> {
        history.iter().map(|event| event.event_type.as_str()).collect()
    }

    #[test]
    fn distributed_iterations_are_child_executions_with_their_own_histories() {
        let mut execution = Execution::start(distributed(0), ExecutionInfo { input: json!([1, 2]), input_text: "[1,2]".into(), ..info() }, 0, 0);
        let actions = tasks(execution.run(0));
        assert_eq!(actions.len(), 2);
        execution.task_succeeded(actions[0], json!("a"), 1);
        execution.task_failed(actions[1], Failure::new("Boom", "why"), 2);
        execution.run(2);
        assert_eq!(event_types(execution.history()), ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"]);
        let children: Vec<&ChildExecution> = execution.child_executions().map(|(_, child)| child).collect();
        let [first, second] = children.as_slice() else { panic!() };
        assert!(first.arn.starts_with("arn:aws:states:us-east-1:000000000000:execution:m/Run:"), "{}", first.arn);
        assert!(first.arn.ends_with(&first.name));
        assert_eq!(first.status, Status::Succeeded(json!("a")));
        assert_eq!(first.input, "1");
        assert_eq!(event_types(first.history()), ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]);
        assert_eq!(first.history()[1].previous_event_id, 0);
        assert_eq!(first.history()[6].previous_event_id, 6);
        assert_eq!(second.status, Status::Failed(Failure::new("Boom", "why")));
        assert_eq!(event_types(second.history()).last(), Some(&"ExecutionFailed"));
        let [run] = execution.map_runs() else { panic!() };
        assert_eq!(run.status, MapRunStatus::Failed);
        assert_eq!(run.execution_arn, info().execution_arn);
        assert_eq!(Some(run.arn.as_str()), execution.history()[3].details.as_ref().and_then(|details| details.map_run_arn.as_deref()));
        assert_eq!((run.executions.succeeded, run.executions.failed, run.executions.total), (1, 1, 2));
    }

    #[test]
    fn a_child_execution_sees_itself_as_the_execution() {
        let definition = json!({"StartAt": "Map", "States": {"Map": {
            "Type": "Map", "Label": "Run", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "Who", "States": {
                "Who": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "input.$": "$$.Execution.Input"}, "End": true}}}}}});
        let machine = Arc::new(StateMachine::compile(&definition).unwrap());
        let mut execution = Execution::start(machine, ExecutionInfo { input: json!([7]), input_text: "[7]".into(), ..info() }, 0, 0);
        execution.run(0);
        let child = execution.child_execution(0).unwrap();
        assert_eq!(execution.status(), &Status::Succeeded(json!([{"id": child.arn, "name": child.name, "input": 7}])));
    }

    #[test]
    fn child_execution_names_are_the_same_when_replayed() {
        let names = || {
            let mut execution = Execution::start(distributed(0), ExecutionInfo { input: json!([1]), input_text: "[1]".into(), ..info() }, 0, 0);
            execution.run(0);
            (execution.map_runs()[0].arn.clone(), execution.child_execution(0).unwrap().arn.clone())
        };
        assert_eq!(names(), names());
    }

    #[test]
    fn map_run_counts_follow_items_and_executions() {
        let mut execution = Execution::start(distributed(1), ExecutionInfo { input: json!([1, 2, 3]), input_text: "[1,2,3]".into(), ..info() }, 0, 0);
        let actions = tasks(execution.run(0));
        assert_eq!(actions.len(), 1, "MaxConcurrency 1 runs one iteration at a time");
        let run = &execution.map_runs()[0];
        assert_eq!((run.items.pending, run.items.running, run.executions.total), (2, 1, 3));
        assert_eq!(execution.take_touched().map_runs, [0]);
        execution.task_succeeded(actions[0], json!(1), 1);
        execution.run(1);
        let run = &execution.map_runs()[0];
        assert_eq!((run.executions.pending, run.executions.running, run.executions.succeeded), (1, 1, 1));
        assert_eq!(run.status, MapRunStatus::Running);
    }

    #[test]
    fn update_map_run_raises_the_concurrency_of_a_running_map() {
        let mut execution = Execution::start(distributed(1), ExecutionInfo { input: json!([1, 2, 3]), input_text: "[1,2,3]".into(), ..info() }, 0, 0);
        assert_eq!(tasks(execution.run(0)).len(), 1);
        let arn = execution.map_runs()[0].arn.clone();
        let update = MapRunUpdate { max_concurrency: Some(0), tolerated_failure_count: Some(2), tolerated_failure_percentage: None };
        assert!(execution.update_map_run(&arn, &update, 1));
        assert_eq!(tasks(execution.run(1)).len(), 2, "no limit: the two waiting iterations start");
        let run = &execution.map_runs()[0];
        assert_eq!((run.max_concurrency, run.tolerated_failure_count, run.executions.running), (0, 2, 3));
        assert!(!execution.update_map_run("arn:aws:states:us-east-1:000000000000:mapRun:m/Run:other", &update, 1));
    }

    #[test]
    fn stopping_the_execution_aborts_its_map_runs_and_child_executions() {
        let mut execution = Execution::start(distributed(0), ExecutionInfo { input: json!([1]), input_text: "[1]".into(), ..info() }, 0, 0);
        execution.run(0);
        execution.stop(None, None, 5);
        assert_eq!(execution.map_runs()[0].status, MapRunStatus::Aborted);
        assert_eq!(execution.map_runs()[0].stop_time, Some(5));
        let child = execution.child_execution(0).unwrap();
        assert!(matches!(child.status, Status::Aborted(_)));
        assert_eq!(event_types(child.history()).last(), Some(&"ExecutionAborted"));
        assert_eq!(execution.map_runs()[0].executions.aborted, 1);
    }

    #[test]
    fn a_missed_heartbeat_times_the_task_out() {
        let activity = machine(json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:000000000000:activity:a", "HeartbeatSeconds": 5, "End": true}}}));
        let mut execution = Execution::start(activity, info(), 0, 0);
        let Command::RunTask(request) = execution.run(0).remove(0) else { panic!() };
        execution.task_started(request.action, None, 1);
        let timer = execution.run(1).into_iter().find_map(|c| match c {
            Command::StartTimer { action, at } => Some((action, at)),
            _ => None,
        });
        let (timer, at) = timer.expect("a heartbeat timer");
        assert_eq!(at, 5001);
        execution.timer_fired(timer, at);
        execution.run(at);
        let Status::Failed(failure) = execution.status() else { panic!("{:?}", execution.status()) };
        assert_eq!(failure.error, "States.HeartbeatTimeout");
    }
}
