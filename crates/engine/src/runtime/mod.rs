//! Executions as a service: started, advanced, persisted and recovered.
//!
//! One driver task owns every running execution. It takes all the messages waiting for it
//! (starts, task outcomes, timer firings, stops), applies them, hands the resulting writes to the
//! store as one batch, and only once that batch is durable replies to callers. An acknowledged
//! change is therefore never lost. An execution's first tasks are dispatched once its start is
//! durable; the tasks that follow a task's outcome are dispatched as soon as it is applied, while
//! it is being committed (a chain of tasks does not wait for the disk between its states), except
//! what hands a task token or an activity to the outside world, which waits for the disk too.
//! After a crash, an execution resumes from its last durable state: a task whose outcome was not
//! durable yet is dispatched again (at-least-once), never lost.

mod activities;
mod live;
mod map_results;
mod metrics;
mod record;

use crate::catalog::{MachineType, ResolvedMachine};
use crate::{ServiceError, TaskContext, TaskDispatcher};
use compute::Cancellation;
use activities::{ActivityQueues, QueuedTask};
use asl::context::ExecutionInfo;
use asl::interpreter::{ActionId, Command, Integration, Pattern, Status};
use asl::Failure;
use asl::history::TimeFormat;
use live::{status_name, Live};
use asl::map_run::MapRunUpdate;
use record::{Body, Input, MAP_RUN_KIND};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use store::{ExecutionRecord, Store, StoreError, Write};
use tokio::sync::{mpsc, oneshot};

pub use activities::ActivityTask;
pub use map_results::{ChildResult, MapRunResults};
pub use record::MapRunRecord;

#[derive(Debug, Clone, PartialEq)]
pub struct StartedExecution {
    pub execution_arn: String,
    /// Milliseconds since the Unix epoch.
    pub start_ms: i64,
}

/// DescribeExecution's facts; also StartSyncExecution's answer (with `billing` left to the API).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub state_machine_version_arn: Option<String>,
    pub state_machine_alias_arn: Option<String>,
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    pub status: String,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub redrive_count: u32,
    pub redrive_date_ms: Option<i64>,
    /// REDRIVABLE, NOT_REDRIVABLE, REDRIVABLE_BY_MAP_RUN.
    pub redrive_status: String,
    pub redrive_status_reason: Option<String>,
    pub trace_header: Option<String>,
    /// The definition and role the execution started with (DescribeStateMachineForExecution).
    pub definition: String,
    pub role_arn: String,
    /// The Map Run that started it, for a distributed Map's child execution.
    pub map_run_arn: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub region: String,
    pub account: String,
    /// How long GetActivityTask holds a poll with no work (AWS: 60 s).
    pub activity_poll: Duration,
    /// Closed executions are purged (with their histories) this long after they closed
    /// (AWS: 90 days).
    pub retention: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            activity_poll: Duration::from_secs(60),
            retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

enum Message {
    Start {
        machine: ResolvedMachine,
        name: String,
        /// False for a generated (UUID) name, which no stored execution can have.
        named: bool,
        input: String,
        trace_header: Option<String>,
        reply: oneshot::Sender<Result<StartedExecution, ServiceError>>,
    },
    Feed { execution_arn: String, input: Input, reply: Option<oneshot::Sender<Result<(), ServiceError>>> },
    Redrive { execution_arn: String, reply: oneshot::Sender<Result<i64, ServiceError>> },
}

/// What to do once a batch is durable.
enum After {
    Started(oneshot::Sender<Result<StartedExecution, ServiceError>>, Result<StartedExecution, ServiceError>),
    Fed(oneshot::Sender<Result<(), ServiceError>>, Result<(), ServiceError>),
    Redriven(oneshot::Sender<Result<i64, ServiceError>>, i64),
    Perform { execution_arn: String, commands: Vec<Command> },
    /// Commands carried out while their batch is being committed (see the module's doc).
    PerformNow { execution_arn: String, commands: Vec<Command> },
}

struct State {
    live: HashMap<String, Live>,
    /// Open task tokens: which execution's action each one completes.
    tokens: HashMap<String, (String, ActionId)>,
    timers: HashMap<(String, ActionId), tokio::task::AbortHandle>,
    /// Tasks being run by the dispatcher, to stop when their execution no longer wants them.
    running: HashMap<(String, ActionId), Cancellation>,
    activities: ActivityQueues,
    metrics: metrics::Metrics,
}

struct Shared {
    store: Arc<dyn Store>,
    state: Mutex<State>,
    inbox: mpsc::UnboundedSender<Message>,
    dispatcher: Arc<dyn TaskDispatcher>,
    config: RuntimeConfig,
}

pub struct Runtime {
    shared: Arc<Shared>,
    driver: tokio::task::AbortHandle,
    purger: tokio::task::AbortHandle,
}

impl Drop for Runtime {
    /// Stops driving executions (as a crash would): what is durable is resumed by the next open.
    fn drop(&mut self) {
        self.driver.abort();
        self.purger.abort();
        for timer in self.shared.lock().timers.values() {
            timer.abort();
        }
    }
}

impl Runtime {
    /// Opens the runtime on a store, resuming every execution that was running: each is replayed
    /// from its input log, then its pending tasks are dispatched again and its timers re-armed
    /// with their original deadlines. Must be called inside a tokio runtime.
    pub fn open(store: Arc<dyn Store>, dispatcher: Arc<dyn TaskDispatcher>, config: RuntimeConfig) -> Result<Runtime, StoreError> {
        let (inbox, messages) = mpsc::unbounded_channel();
        let mut state = State {
            live: HashMap::new(),
            tokens: HashMap::new(),
            running: HashMap::new(),
            timers: HashMap::new(),
            activities: ActivityQueues::default(),
            metrics: metrics::Metrics::default(),
        };
        let mut resumed = Vec::new();
        for (record, inputs) in store.open_executions()? {
            // A distributed Map's child executions are resumed with the execution that runs them.
            if Body::from_json(&record.body).is_ok_and(|body| body.map_run_arn.is_some()) {
                continue;
            }
            match Live::recover(&record, &inputs, &config.region) {
                Ok((live, commands)) => {
                    register_tokens(&mut state, &record.arn, &commands);
                    resumed.push((record.arn.clone(), commands));
                    state.live.insert(record.arn, live);
                }
                Err(problem) => return Err(StoreError(format!("cannot resume {}: {problem}", record.arn))),
            }
        }
        tracing::info!(resumed = resumed.len(), "executions resumed from the store");
        let shared = Arc::new(Shared { store, state: Mutex::new(state), inbox, dispatcher, config });
        for (execution_arn, commands) in resumed {
            shared.perform(&execution_arn, commands);
        }
        let driver = tokio::spawn(drive(shared.clone(), messages)).abort_handle();
        let purger = tokio::spawn(purge(shared.clone())).abort_handle();
        Ok(Runtime { shared, driver, purger })
    }

    /// StartExecution: idempotent by name while the execution runs with the same input (AWS's
    /// rule); durable before it returns.
    pub async fn start_execution(&self, machine: ResolvedMachine, name: Option<String>, input: String, trace_header: Option<String>) -> Result<StartedExecution, ServiceError> {
        let named = name.is_some();
        let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if machine.machine_type.is_express() {
            let description = self.run_express(machine, name, input, trace_header).await?;
            return Ok(StartedExecution { execution_arn: description.execution_arn, start_ms: description.start_ms });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Message::Start { machine, name, named, input, trace_header, reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// StartSyncExecution of an EXPRESS machine: runs in memory to its end (as AWS, EXPRESS
    /// executions are not kept) and answers with it.
    pub async fn start_sync_execution(&self, machine: ResolvedMachine, name: Option<String>, input: String) -> Result<ExecutionDescription, ServiceError> {
        if !machine.machine_type.is_express() {
            return Err(ServiceError::new("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine"));
        }
        let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.run_express(machine, name, input, None).await
    }

    async fn run_express(&self, machine: ResolvedMachine, name: String, input: String, trace_header: Option<String>) -> Result<ExecutionDescription, ServiceError> {
        let config = &self.shared.config;
        let arn = format!("arn:aws:states:{}:{}:express:{}:{}:{}", config.region, config.account, machine.name, name, uuid::Uuid::new_v4());
        let info = new_info(&machine, &arn, &name, &input, &config.region)?;
        let (start_ms, state_machine_arn) = (info.start_time, machine.state_machine_arn.clone());
        let (definition, role_arn) = (machine.definition.clone(), machine.role_arn.clone());
        let dispatcher = self.shared.dispatcher.clone();
        let options = crate::RunOptions { time_scale: 1.0, seed: info.start_time as u64 };
        let execution = tokio::task::spawn_blocking(move || crate::run_to_completion(machine.compiled.clone(), info, dispatcher, &options))
            .await
            .map_err(|e| ServiceError::new("InternalServerError", format!("the execution could not run: {e}")))?;
        let stop_ms = execution.history().last().map(|event| event.timestamp);
        let (output, error, cause) = outcome(execution.status());
        Ok(ExecutionDescription {
            execution_arn: arn,
            state_machine_arn,
            state_machine_version_arn: None,
            state_machine_alias_arn: None,
            name,
            status: status_name(execution.status()).to_owned(),
            start_ms,
            stop_ms,
            input,
            output,
            error,
            cause,
            redrive_count: 0,
            redrive_date_ms: None,
            redrive_status: "NOT_REDRIVABLE".into(),
            redrive_status_reason: None,
            trace_header,
            map_run_arn: None,
            definition,
            role_arn,
        })
    }

    /// StopExecution: the stop date.
    pub async fn stop_execution(&self, execution_arn: &str, error: Option<String>, cause: Option<String>) -> Result<i64, ServiceError> {
        reject_express(execution_arn)?;
        if !self.shared.lock().live.contains_key(execution_arn) {
            let record = self.record(execution_arn)?;
            return record.stop_ms.ok_or_else(|| does_not_exist(execution_arn));
        }
        self.feed(execution_arn, Input::Stop { error, cause }).await?;
        Ok(self.record(execution_arn)?.stop_ms.unwrap_or_else(now_ms))
    }

    /// RedriveExecution: a FAILED, TIMED_OUT or ABORTED execution of the last 14 days runs again
    /// from the state where it stopped; the redrive date.
    pub async fn redrive_execution(&self, execution_arn: &str) -> Result<i64, ServiceError> {
        reject_express(execution_arn)?;
        let (reply, answer) = oneshot::channel();
        self.send(Message::Redrive { execution_arn: execution_arn.to_owned(), reply })?;
        answer.await.map_err(|_| stopped())?
    }

    pub fn describe_execution(&self, execution_arn: &str) -> Result<ExecutionDescription, ServiceError> {
        reject_express(execution_arn)?;
        if let Some(live) = self.shared.lock().live.get(execution_arn) {
            return describe(&live.record());
        }
        describe(&self.record(execution_arn)?)
    }

    /// Newest first; `status` filters (None = all). The API paginates.
    pub fn list_executions(&self, state_machine_arn: &str, status: Option<&str>) -> Result<Vec<ExecutionDescription>, ServiceError> {
        let records = self.shared.store.executions(Some(state_machine_arn), status).map_err(internal)?;
        records.iter().map(describe).collect()
    }

    /// The execution's history events in id order, in GetExecutionHistory's JSON shape
    /// (timestamps as epoch seconds). The API reverses, strips data and paginates.
    pub fn history(&self, execution_arn: &str) -> Result<Vec<Value>, ServiceError> {
        reject_express(execution_arn)?;
        if let Some(live) = self.shared.lock().live.get(execution_arn) {
            return Ok(live.execution.history().iter().map(|event| event.to_json(true, TimeFormat::EpochSeconds)).collect());
        }
        self.record(execution_arn)?;
        let events = self.shared.store.history(execution_arn).map_err(internal)?;
        events.iter().map(|event| serde_json::from_str(event).map_err(|e| internal(StoreError(e.to_string())))).collect()
    }

    /// DescribeMapRun.
    pub fn describe_map_run(&self, map_run_arn: &str) -> Result<MapRunRecord, ServiceError> {
        let documents = self.shared.store.documents(MAP_RUN_KIND).map_err(internal)?;
        let document = documents.into_iter().find(|document| document.key == map_run_arn).ok_or_else(|| crate::catalog::resource_not_found(map_run_arn))?;
        MapRunRecord::from_json(&document.body).map_err(|e| internal(StoreError(e)))
    }

    /// ListMapRuns: the Map Runs an execution started, newest first.
    pub fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, ServiceError> {
        self.describe_execution(execution_arn)?;
        let documents = self.shared.store.documents(MAP_RUN_KIND).map_err(internal)?;
        let mut runs = documents
            .iter()
            .map(|document| MapRunRecord::from_json(&document.body).map_err(|e| internal(StoreError(e))))
            .filter(|run| run.as_ref().map_or(true, |run| run.execution_arn == execution_arn))
            .collect::<Result<Vec<_>, _>>()?;
        runs.sort_by(|a, b| b.start_ms.cmp(&a.start_ms).then_with(|| b.map_run_arn.cmp(&a.map_run_arn)));
        Ok(runs)
    }

    /// UpdateMapRun: a running Map Run takes the new settings (a closed one keeps its own).
    pub async fn update_map_run(&self, map_run_arn: &str, update: MapRunUpdate) -> Result<(), ServiceError> {
        let run = self.describe_map_run(map_run_arn)?;
        if run.status != "RUNNING" || !self.shared.lock().live.contains_key(&run.root_execution_arn) {
            return Ok(());
        }
        self.feed(&run.root_execution_arn, Input::UpdateMapRun { map_run_arn: map_run_arn.to_owned(), update }).await
    }

    /// GetActivityTask: waits up to the poll time for a task of the activity; None when none came.
    pub async fn get_activity_task(&self, activity_arn: &str, worker_name: Option<String>) -> Result<Option<ActivityTask>, ServiceError> {
        let waiter = {
            let mut state = self.shared.lock();
            match state.activities.take(activity_arn) {
                Some(task) => Ok(task),
                None => Err(state.activities.wait(activity_arn)),
            }
        };
        let task = match waiter {
            Ok(task) => task,
            Err(waiter) => match tokio::time::timeout(self.shared.config.activity_poll, waiter).await {
                Ok(Ok(task)) => task,
                _ => return Ok(None),
            },
        };
        let started = Input::TaskStarted { action: task.action, worker: worker_name };
        // The task is the worker's even if recording its start fails; the start is history only.
        let _ = self.feed(&task.execution_arn, started).await;
        Ok(Some(ActivityTask { task_token: task.token, input: task.input }))
    }

    pub async fn send_task_success(&self, task_token: &str, output: String) -> Result<(), ServiceError> {
        let output: Value = serde_json::from_str(&output).map_err(|e| ServiceError::new("InvalidOutput", format!("Invalid Output: '{e}'")))?;
        let (execution_arn, action) = self.token(task_token)?;
        self.feed(&execution_arn, Input::TaskSucceeded { action, output }).await
    }

    pub async fn send_task_failure(&self, task_token: &str, error: Option<String>, cause: Option<String>) -> Result<(), ServiceError> {
        let (execution_arn, action) = self.token(task_token)?;
        let failure = Failure { error: error.unwrap_or_default(), cause };
        self.feed(&execution_arn, Input::TaskFailed { action, failure }).await
    }

    pub async fn send_task_heartbeat(&self, task_token: &str) -> Result<(), ServiceError> {
        let (execution_arn, action) = self.token(task_token)?;
        self.feed(&execution_arn, Input::TaskHeartbeat { action }).await
    }

    /// `/metrics`: Prometheus text.
    /// What runs this runtime's tasks, for callers that run a task outside any execution
    /// (TestState without a mock).
    pub fn dispatcher(&self) -> Arc<dyn TaskDispatcher> {
        self.shared.dispatcher.clone()
    }

    pub fn metrics(&self) -> String {
        let state = self.shared.lock();
        state.metrics.render(state.live.len(), state.activities.queued())
    }

    /// The open task a token stands for: InvalidToken for text that is no token of ours,
    /// TaskTimedOut for a genuine token whose task has closed (AWS's answers).
    fn token(&self, task_token: &str) -> Result<(String, ActionId), ServiceError> {
        if let Some(open) = self.shared.lock().tokens.get(task_token) {
            return Ok(open.clone());
        }
        if activities::is_token(task_token) {
            Err(ServiceError::new("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"))
        } else {
            Err(ServiceError::new("InvalidToken", "Invalid Token: 'Invalid token'"))
        }
    }

    async fn feed(&self, execution_arn: &str, input: Input) -> Result<(), ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.send(Message::Feed { execution_arn: execution_arn.to_owned(), input, reply: Some(reply) })?;
        answer.await.map_err(|_| stopped())?
    }

    fn send(&self, message: Message) -> Result<(), ServiceError> {
        self.shared.inbox.send(message).map_err(|_| stopped())
    }

    fn record(&self, execution_arn: &str) -> Result<ExecutionRecord, ServiceError> {
        self.shared.store.execution(execution_arn).map_err(internal)?.ok_or_else(|| does_not_exist(execution_arn))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn apply(&self, state: &mut State, message: Message, writes: &mut Vec<Write>, after: &mut Vec<After>) {
        match message {
            Message::Start { machine, name, named, input, trace_header, reply } => match self.start(state, machine, name, named, input, trace_header, writes, after) {
                Ok(started) => after.push(After::Started(reply, Ok(started))),
                Err(error) => {
                    // Nothing was written for it: answer at once.
                    let _ = reply.send(Err(error));
                }
            },
            Message::Redrive { execution_arn, reply } => match self.redrive(state, &execution_arn, writes, after) {
                Ok(at) => after.push(After::Redriven(reply, at)),
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            Message::Feed { execution_arn, input, reply } => {
                let outcome = self.feed(state, &execution_arn, input, writes, after);
                if let Some(reply) = reply {
                    after.push(After::Fed(reply, outcome));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        state: &mut State,
        machine: ResolvedMachine,
        name: String,
        named: bool,
        input: String,
        trace_header: Option<String>,
        writes: &mut Vec<Write>,
        after: &mut Vec<After>,
    ) -> Result<StartedExecution, ServiceError> {
        let arn = format!("arn:aws:states:{}:{}:execution:{}:{}", self.config.region, self.config.account, machine.name, name);
        if let Some(existing) = state.live.get(&arn) {
            // AWS: starting a running execution again with the same input is idempotent.
            return if existing.body.input == input {
                Ok(StartedExecution { execution_arn: arn, start_ms: existing.execution.info().start_time })
            } else {
                Err(already_exists(&arn))
            };
        }
        if named && self.store.execution(&arn).map_err(internal)?.is_some() {
            return Err(already_exists(&arn));
        }
        let info = new_info(&machine, &arn, &name, &input, &self.config.region)?;
        let start_ms = info.start_time;
        let body = Body {
            definition: machine.definition.clone(),
            machine_type: MachineType::Standard,
            role_arn: machine.role_arn.clone(),
            version_arn: machine.version_arn.clone(),
            alias_arn: machine.alias_arn.clone(),
            input,
            output: None,
            error: None,
            cause: None,
            seed: random_u64(),
            token_secret: info.token_secret.clone(),
            trace_header,
            redrive_count: 0,
            map_run_arn: None,
            state_machine_arn: None,
        };
        let (mut live, commands) = Live::start(machine.compiled.clone(), info, machine.state_machine_arn.clone(), body);
        tracing::debug!(execution = %arn, "execution started");
        state.metrics.execution(&machine.state_machine_arn, "started");
        count_progress(&mut state.metrics, &live, 0);
        writes.extend(live.writes(None, start_ms, true));
        register_tokens(state, &arn, &commands);
        after.push(After::Perform { execution_arn: arn.clone(), commands });
        if !live.is_closed() {
            state.live.insert(arn.clone(), live);
        }
        Ok(StartedExecution { execution_arn: arn, start_ms })
    }

    fn redrive(&self, state: &mut State, execution_arn: &str, writes: &mut Vec<Write>, after: &mut Vec<After>) -> Result<i64, ServiceError> {
        const REDRIVE_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;
        let not_redrivable = |why: String| ServiceError::new("ExecutionNotRedrivable", format!("Execution {execution_arn} cannot be redriven: {why}"));
        if state.live.contains_key(execution_arn) {
            return Err(not_redrivable("it is RUNNING".into()));
        }
        let record = self.store.execution(execution_arn).map_err(internal)?.ok_or_else(|| does_not_exist(execution_arn))?;
        if !matches!(record.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
            return Err(not_redrivable(format!("it is {}", record.status)));
        }
        if Body::from_json(&record.body).is_ok_and(|body| body.map_run_arn.is_some()) {
            return Err(not_redrivable("it is a child execution of a Map Run".into()));
        }
        let now = now_ms();
        if record.stop_ms.is_some_and(|stop| now - stop > REDRIVE_WINDOW_MS) {
            return Err(not_redrivable("it closed more than 14 days ago".into()));
        }
        let inputs = self.store.inputs(execution_arn).map_err(internal)?;
        let (mut live, _) = Live::recover(&record, &inputs, &self.config.region).map_err(|e| internal(StoreError(e)))?;
        let commands = live.apply(&Input::Redrive, now);
        writes.extend(live.writes(Some(&Input::Redrive), now, true));
        register_tokens(state, execution_arn, &commands);
        after.push(After::Perform { execution_arn: execution_arn.to_owned(), commands });
        if !live.is_closed() {
            state.live.insert(execution_arn.to_owned(), live);
        }
        Ok(now)
    }

    fn feed(&self, state: &mut State, execution_arn: &str, input: Input, writes: &mut Vec<Write>, after: &mut Vec<After>) -> Result<(), ServiceError> {
        let Some(live) = state.live.get_mut(execution_arn) else {
            return Err(ServiceError::new("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"));
        };
        if let Input::TaskSucceeded { action, .. } | Input::TaskFailed { action, .. } | Input::TaskHeartbeat { action } = &input {
            if !live.execution.is_open(*action) {
                return Err(ServiceError::new("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"));
            }
        }
        let now = now_ms();
        let before = live.persisted_events;
        let commands = live.apply(&input, now);
        count_progress(&mut state.metrics, live, before);
        writes.extend(live.writes(Some(&input), now, false));
        let (closed, status) = (live.is_closed(), live.status());
        register_tokens(state, execution_arn, &commands);
        let (now, once_durable) = commands.into_iter().partition(needs_no_durability);
        after.push(After::PerformNow { execution_arn: execution_arn.to_owned(), commands: now });
        after.push(After::Perform { execution_arn: execution_arn.to_owned(), commands: once_durable });
        if closed {
            tracing::debug!(execution = execution_arn, status, "execution closed");
            state.live.remove(execution_arn);
            state.tokens.retain(|_, (arn, _)| arn != execution_arn);
            state.activities.forget(execution_arn);
            state.timers.retain(|(arn, _), timer| {
                let keep = arn != execution_arn;
                if !keep {
                    timer.abort();
                }
                keep
            });
        }
        Ok(())
    }

    /// Carries out an execution's commands (after the state that issued them is durable).
    fn perform(self: &Arc<Self>, execution_arn: &str, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::RunTask(request) => match &request.integration {
                    Integration::Activity => {
                        let task = QueuedTask {
                            token: request.task_token.clone().unwrap_or_default(),
                            input: request.parameters.to_string(),
                            execution_arn: execution_arn.to_owned(),
                            action: request.action,
                        };
                        self.lock().activities.offer(&request.resource, task);
                    }
                    integration => {
                        let waits_for_token = matches!(integration, Integration::Service { pattern: Pattern::WaitForTaskToken, .. });
                        let shared = self.clone();
                        let execution_arn = execution_arn.to_owned();
                        let context = TaskContext { execution_arn: execution_arn.clone(), cancellation: Cancellation::new() };
                        self.lock().running.insert((execution_arn.clone(), request.action), context.cancellation.clone());
                        tokio::task::spawn_blocking(move || {
                            let outcome = shared.dispatcher.run(&request, &context);
                            shared.lock().running.remove(&(execution_arn.clone(), request.action));
                            let input = match outcome {
                                // The task ends when its token is used, not when the call returns.
                                Ok(_) if waits_for_token => return,
                                Ok(output) => Input::TaskSucceeded { action: request.action, output },
                                Err(failure) => Input::TaskFailed { action: request.action, failure },
                            };
                            // A runtime that is shutting down has nobody left to tell.
                            let _ = shared.inbox.send(Message::Feed { execution_arn, input, reply: None });
                        });
                    }
                },
                Command::StartTimer { action, at } => {
                    let shared = self.clone();
                    let arn = execution_arn.to_owned();
                    let delay = Duration::from_millis((at - now_ms()).max(0) as u64);
                    let timer = tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = shared.inbox.send(Message::Feed { execution_arn: arn, input: Input::TimerFired { action }, reply: None });
                    });
                    self.lock().timers.insert((execution_arn.to_owned(), action), timer.abort_handle());
                }
                Command::Cancel { action } => {
                    let mut state = self.lock();
                    if let Some(timer) = state.timers.remove(&(execution_arn.to_owned(), action)) {
                        timer.abort();
                    }
                    if let Some(cancellation) = state.running.remove(&(execution_arn.to_owned(), action)) {
                        cancellation.cancel();
                    }
                    state.tokens.retain(|_, open| open.0 != execution_arn || open.1 != action);
                    state.activities.withdraw(execution_arn, action);
                }
            }
        }
    }

    /// Hands writes to the store; the receiver answers once they are durable.
    fn submit(&self, writes: Vec<Write>) -> oneshot::Receiver<Result<(), StoreError>> {
        let (done, durable) = oneshot::channel();
        if writes.is_empty() {
            let _ = done.send(Ok(()));
        } else {
            self.store.submit(
                writes,
                Box::new(move |result| {
                    let _ = done.send(result);
                }),
            );
        }
        durable
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.submit(writes).await.unwrap_or_else(|_| Err(StoreError("the store stopped".into())))
    }

    /// Once a batch is durable: answer its callers and carry out its commands.
    fn settle(self: &Arc<Self>, after: Vec<After>, durable: &Result<(), StoreError>) {
        for action in after {
            match (action, durable) {
                (After::Started(reply, result), Ok(())) => {
                    let _ = reply.send(result);
                }
                (After::Fed(reply, result), Ok(())) => {
                    let _ = reply.send(result);
                }
                (After::Perform { execution_arn, commands }, Ok(())) => self.perform(&execution_arn, commands),
                (After::Redriven(reply, at), Ok(())) => {
                    let _ = reply.send(Ok(at));
                }
                (After::Redriven(reply, _), Err(problem)) => {
                    let _ = reply.send(Err(internal(problem.clone())));
                }
                (After::Started(reply, _), Err(problem)) => {
                    let _ = reply.send(Err(internal(problem.clone())));
                }
                (After::Fed(reply, _), Err(problem)) => {
                    let _ = reply.send(Err(internal(problem.clone())));
                }
                (After::Perform { .. }, Err(_)) => {}
                (After::PerformNow { .. }, _) => {}
            }
        }
    }
}

/// A batch on its way to disk, with what to do once it is there.
struct InFlight {
    durable: oneshot::Receiver<Result<(), StoreError>>,
    after: Vec<After>,
    submitted: Instant,
    messages: usize,
}

/// The driver: batches of messages, one durable store batch each. The next batch is applied
/// while the previous one is being committed; batches settle in order, so nothing is answered
/// before everything it depends on is durable.
async fn drive(shared: Arc<Shared>, mut inbox: mpsc::UnboundedReceiver<Message>) {
    const MOST_PER_BATCH: usize = 4096;
    let (in_flight, mut settling) = mpsc::unbounded_channel::<InFlight>();
    let settler = shared.clone();
    tokio::spawn(async move {
        while let Some(batch) = settling.recv().await {
            let durable = batch.durable.await.unwrap_or_else(|_| Err(StoreError("the store stopped".into())));
            if let Err(problem) = &durable {
                tracing::error!(%problem, messages = batch.messages, "a batch could not be made durable; its callers get an error");
            }
            settler.lock().metrics.commit(batch.submitted.elapsed(), batch.messages);
            settler.settle(batch.after, &durable);
        }
    });
    while let Some(first) = inbox.recv().await {
        let mut messages = vec![first];
        while messages.len() < MOST_PER_BATCH {
            match inbox.try_recv() {
                Ok(message) => messages.push(message),
                Err(_) => break,
            }
        }
        let batched = messages.len();
        let mut writes = Vec::new();
        let mut after = Vec::new();
        {
            let mut state = shared.lock();
            for message in messages {
                shared.apply(&mut state, message, &mut writes, &mut after);
            }
        }
        let durable = shared.submit(writes);
        let (now, after): (Vec<After>, Vec<After>) = after.into_iter().partition(|after| matches!(after, After::PerformNow { .. }));
        for perform in now {
            if let After::PerformNow { execution_arn, commands } = perform {
                shared.perform(&execution_arn, commands);
            }
        }
        let batch = InFlight { durable, after, submitted: Instant::now(), messages: batched };
        if in_flight.send(batch).is_err() {
            return;
        }
    }
}

/// Whether a command may be carried out before the state that issued it is durable: a task that
/// hands nothing to the outside world (no token, no activity), or a timer; a task started this
/// way for a state lost in a crash is dispatched again from the state before it. Cancellations wait,
/// so that they never overtake the start of a task that waits for the disk, and so do a
/// distributed Map's reads and exports (the `s3` service): an export reads the stored child
/// executions, which must include the ones that just closed.
fn needs_no_durability(command: &Command) -> bool {
    match command {
        Command::RunTask(request) => match &request.integration {
            Integration::Activity | Integration::Service { pattern: Pattern::WaitForTaskToken, .. } => false,
            Integration::Service { service, .. } => service != "s3",
            Integration::LambdaFunction => true,
        },
        Command::StartTimer { .. } => true,
        Command::Cancel { .. } => false,
    }
}

/// Counts the state transitions since `before` events, and the outcome if the execution closed.
fn count_progress(metrics: &mut metrics::Metrics, live: &Live, before: usize) {
    let entered = live.execution.history()[before..].iter().filter(|event| event.event_type.as_str().ends_with("StateEntered")).count();
    metrics.transitions(entered as u64);
    if live.is_closed() {
        metrics.execution(&live.state_machine_arn, live.status());
    }
}

/// Deletes executions closed longer ago than the retention, now and then.
async fn purge(shared: Arc<Shared>) {
    let every = shared.config.retention.min(Duration::from_secs(3600)).max(Duration::from_millis(100));
    loop {
        let before = now_ms() - shared.config.retention.as_millis() as i64;
        // A failed purge is tried again at the next round; nothing depends on it.
        match shared.store.closed_before(before) {
            Ok(expired) if !expired.is_empty() => {
                let count = expired.len();
                let expired_runs = expired_map_runs(shared.store.as_ref(), &expired);
                let writes: Vec<Write> = expired.into_iter().map(|arn| Write::DeleteExecution { arn }).chain(expired_runs).collect();
                match shared.commit(writes).await {
                    Ok(()) => tracing::info!(purged = count, "closed executions past the retention purged"),
                    Err(problem) => tracing::warn!(%problem, "purge failed; tried again later"),
                }
            }
            Ok(_) => {}
            Err(problem) => tracing::warn!(%problem, "purge could not list expired executions"),
        }
        tokio::time::sleep(every).await;
    }
}

/// The Map Run documents of executions being purged.
fn expired_map_runs(store: &dyn Store, expired: &[String]) -> Vec<Write> {
    if expired.is_empty() {
        return Vec::new();
    }
    let expired: std::collections::HashSet<&str> = expired.iter().map(String::as_str).collect();
    let documents = store.documents(MAP_RUN_KIND).unwrap_or_default();
    documents
        .into_iter()
        .filter(|document| record::MapRunRecord::from_json(&document.body).is_ok_and(|run| expired.contains(run.root_execution_arn.as_str())))
        .map(|document| Write::DeleteDocument { kind: document.kind, key: document.key })
        .collect()
}

fn register_tokens(state: &mut State, execution_arn: &str, commands: &[Command]) {
    for command in commands {
        if let Command::RunTask(request) = command {
            if let Some(token) = &request.task_token {
                state.tokens.insert(token.clone(), (execution_arn.to_owned(), request.action));
            }
        }
    }
}

fn new_info(machine: &ResolvedMachine, arn: &str, name: &str, input: &str, region: &str) -> Result<ExecutionInfo, ServiceError> {
    let parsed: Value = serde_json::from_str(input).map_err(|e| ServiceError::new("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{e}'")))?;
    Ok(ExecutionInfo {
        execution_arn: arn.to_owned(),
        name: name.to_owned(),
        state_machine_arn: machine.state_machine_arn.clone(),
        state_machine_name: machine.name.clone(),
        role_arn: machine.role_arn.clone(),
        region: region.to_owned(),
        start_time: now_ms(),
        input: parsed,
        input_text: input.to_owned(),
        redrive_count: 0,
        // Two v4 UUIDs: 244 random bits behind every task token of the execution.
        token_secret: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
    })
}

fn describe(record: &ExecutionRecord) -> Result<ExecutionDescription, ServiceError> {
    let body = Body::from_json(&record.body).map_err(|e| internal(StoreError(e)))?;
    let closed = record.status != "RUNNING";
    let redrivable = matches!(record.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED");
    Ok(ExecutionDescription {
        execution_arn: record.arn.clone(),
        state_machine_version_arn: body.version_arn,
        state_machine_alias_arn: body.alias_arn,
        name: record.name.clone(),
        status: record.status.clone(),
        start_ms: record.start_ms,
        stop_ms: record.stop_ms.filter(|_| closed),
        input: body.input,
        output: body.output,
        error: body.error,
        cause: body.cause,
        redrive_count: body.redrive_count,
        redrive_date_ms: None,
        redrive_status: if redrivable { "REDRIVABLE" } else { "NOT_REDRIVABLE" }.into(),
        redrive_status_reason: (!redrivable && closed).then(|| format!("Execution is {}", record.status)),
        trace_header: body.trace_header,
        state_machine_arn: body.state_machine_arn.unwrap_or_else(|| record.state_machine_arn.clone()),
        map_run_arn: body.map_run_arn,
        definition: body.definition,
        role_arn: body.role_arn,
    })
}

fn outcome(status: &Status) -> (Option<String>, Option<String>, Option<String>) {
    match status {
        Status::Succeeded(output) => (Some(output.to_string()), None, None),
        Status::Failed(failure) | Status::TimedOut(failure) | Status::Aborted(failure) => {
            (None, Some(failure.error.clone()).filter(|error| !error.is_empty()), failure.cause.clone())
        }
        Status::Running => (None, None, None),
    }
}

/// AWS serves neither DescribeExecution nor GetExecutionHistory nor StopExecution for EXPRESS
/// executions: they answer InvalidArn.
fn reject_express(execution_arn: &str) -> Result<(), ServiceError> {
    if execution_arn.contains(":express:") {
        return Err(ServiceError::new("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: express' ({execution_arn})")));
    }
    Ok(())
}

fn random_u64() -> u64 {
    let bytes = uuid::Uuid::new_v4().as_u128();
    (bytes >> 64) as u64 ^ bytes as u64
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis() as i64)
}

fn already_exists(arn: &str) -> ServiceError {
    ServiceError::new("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'"))
}

fn does_not_exist(arn: &str) -> ServiceError {
    ServiceError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
}

fn internal(problem: StoreError) -> ServiceError {
    ServiceError::new("InternalServerError", problem.to_string())
}

fn stopped() -> ServiceError {
    ServiceError::new("InternalServerError", "the runtime has stopped")
}
