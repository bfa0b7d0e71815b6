//! Parallel branches and Map iterations: the children of a state, each a thread of the
//! execution. A distributed Map's iterations are child executions of a Map Run; its items may
//! arrive page by page from an ItemReader ([`map_io`](super::map_io)), so that neither the items
//! nor the finished iterations are ever all in memory.

use super::map_io::ItemStream;
use super::*;
use std::collections::BTreeSet;

/// AWS runs at most this many child executions of a distributed Map at once (MaxConcurrency 0).
const DISTRIBUTED_CONCURRENCY: usize = 10_000;

/// The children of a Parallel or Map state.
pub(super) struct Fanout {
    pub(super) is_map: bool,
    /// Index into `Execution::map_runs` for a distributed Map.
    pub(super) map_run: Option<usize>,
    /// The children still running, in start order (kept for aborts).
    pub(super) children: BTreeSet<ThreadId>,
    /// Iterations not started yet.
    pub(super) waiting: VecDeque<Iteration>,
    /// The items of the waiting iterations (a batch holds several).
    pub(super) waiting_items: u64,
    /// The outputs by slot; None when a ResultWriter exports them instead.
    pub(super) results: Option<Vec<Value>>,
    /// The children known so far: a Map reading its items learns of more with each page.
    pub(super) count: usize,
    pub(super) finished: usize,
    pub(super) failures: usize,
    pub(super) tolerated_failures: Option<f64>,
    pub(super) tolerated_percentage: Option<f64>,
    /// 0: no limit of the state's own.
    pub(super) max_concurrency: usize,
    /// The ItemBatcher's batch being filled.
    pub(super) batcher: Option<Batcher>,
    /// The items still to read, for a Map with an ItemReader.
    pub(super) stream: Option<Box<ItemStream>>,
}

impl Fanout {
    fn new(is_map: bool, holds_results: bool) -> Fanout {
        Fanout {
            is_map,
            map_run: None,
            children: BTreeSet::new(),
            waiting: VecDeque::new(),
            waiting_items: 0,
            results: holds_results.then(Vec::new),
            count: 0,
            finished: 0,
            failures: 0,
            tolerated_failures: None,
            tolerated_percentage: None,
            max_concurrency: 0,
            batcher: None,
            stream: None,
        }
    }

    /// A new child (branch or iteration) at the end.
    fn add(&mut self) -> usize {
        if let Some(results) = &mut self.results {
            results.push(Value::Null);
        }
        self.count += 1;
        self.count - 1
    }

    fn concurrency_limit(&self) -> usize {
        match (self.max_concurrency, self.map_run) {
            (0, Some(_)) => DISTRIBUTED_CONCURRENCY,
            (0, None) => usize::MAX,
            (limit, _) => limit,
        }
    }

    /// Whether every item is known (read to the end).
    pub(super) fn all_read(&self) -> bool {
        self.stream.as_ref().is_none_or(|stream| stream.exhausted)
    }

    fn all_finished(&self) -> bool {
        self.finished == self.count && self.all_read()
    }

    /// Whether the failures so far are within the tolerance. A percentage can only be judged
    /// once every item is known: until then it tolerates.
    pub(super) fn tolerates_failures(&self) -> bool {
        let within_count = self.tolerated_failures.is_some_and(|allowed| self.failures as f64 <= allowed);
        let within_percentage = self
            .tolerated_percentage
            .is_some_and(|allowed| !self.all_read() || (self.failures as f64) * 100.0 / (self.count.max(1) as f64) <= allowed);
        within_count || within_percentage
    }
}

/// A Map iteration waiting to start.
pub(super) struct Iteration {
    index: usize,
    item: Value,
    input: Value,
    /// 1, or the size of the batch.
    items: u64,
}

/// An ItemBatcher filling batches as items arrive: a batch closes when it holds
/// MaxItemsPerBatch items or the next item would take it past MaxInputBytesPerBatch.
pub(super) struct Batcher {
    max_items: usize,
    max_bytes: usize,
    batch_input: Option<Value>,
    items: Vec<Value>,
    bytes: usize,
}

impl Batcher {
    /// Adds an item; answers the batch it closed, if any.
    fn push(&mut self, item: Value) -> Option<Value> {
        let size = item.to_string().len();
        let closed = (!self.items.is_empty() && (self.items.len() >= self.max_items || self.bytes + size > self.max_bytes)).then(|| self.close());
        self.bytes += size;
        self.items.push(item);
        closed.flatten()
    }

    /// The last, partly filled batch.
    fn close(&mut self) -> Option<Value> {
        if self.items.is_empty() {
            return None;
        }
        self.bytes = 0;
        let mut batch = Map::new();
        if let Some(input) = &self.batch_input {
            batch.insert("BatchInput".into(), input.clone());
        }
        batch.insert("Items".into(), Value::Array(std::mem::take(&mut self.items)));
        Some(Value::Object(batch))
    }
}

impl Execution {
    pub(super) fn start_parallel(&mut self, thread: ThreadId, branches: &[Arc<StateMachine>]) -> Result<Flow, Failure> {
        self.record_for(thread, EventType::ParallelStateStarted, None);
        let input = self.threads[thread].payload.clone();
        let outer = Arc::new(self.threads[thread].variables.clone());
        let sink = self.threads[thread].child;
        let mut fanout = Fanout::new(false, true);
        let last = self.threads[thread].last_event;
        for branch in branches {
            let slot = fanout.add();
            let child = self.spawn(branch.clone(), input.clone(), Variables::nested(outer.clone()), Some(thread), slot, None, sink, last);
            fanout.children.insert(child);
        }
        if branches.is_empty() {
            return Ok(self.fanout_done(thread, fanout));
        }
        self.threads[thread].phase = Phase::Fanout(Box::new(fanout));
        Ok(Flow::Stop)
    }

    pub(super) fn start_map(&mut self, thread: ThreadId, state: &State, map: &MapSpec) -> Result<Flow, Failure> {
        if let Some(reader) = &map.item_reader {
            return self.read_items(thread, state, reader);
        }
        let context = self.context(thread, state);
        let items = self.map_items(thread, state, map, &context)?;
        self.map_over(thread, state, map, items, None)
    }

    /// Starts the Map's iterations over its items: all of them, or the first page of a reader's
    /// (`stream`: the rest).
    pub(super) fn map_over(&mut self, thread: ThreadId, state: &State, map: &MapSpec, items: Vec<Value>, stream: Option<Box<ItemStream>>) -> Result<Flow, Failure> {
        let context = self.context(thread, state);
        let max_concurrency = match &map.max_concurrency {
            Some(dynamic) => whole_number(self.dynamic(thread, state, dynamic, &context)?, dynamic, "integer")?,
            None => 0,
        };
        // The length of items still being read is not known yet.
        let length = if stream.as_ref().is_some_and(|stream| !stream.exhausted) { 0 } else { items.len() };
        // AWS checks MaxConcurrency before the Map starts and the failure tolerance after.
        self.record_for(thread, EventType::MapStateStarted, Some(Details { length: Some(length as u64), ..Details::default() }));
        let tolerated_failures = match &map.tolerated_failure_count {
            Some(dynamic) => Some(whole_number(self.dynamic(thread, state, dynamic, &context)?, dynamic, "integer")? as f64),
            None => None,
        };
        let tolerated_percentage = match &map.tolerated_failure_percentage {
            Some(dynamic) => {
                let value = self.dynamic(thread, state, dynamic, &context)?;
                let percentage = value.as_f64().ok_or_else(|| not_a_number(&value, dynamic, "float"))?;
                if !(0.0..=100.0).contains(&percentage) {
                    return Err(Failure::runtime("ToleratedFailurePercentage must be between 0 and 100."));
                }
                Some(percentage)
            }
            None => None,
        };
        let distributed = map.mode == MapMode::Distributed;
        let exports = distributed && map.result_writer.as_ref().is_some_and(|writer| writer.resource.is_some());
        let mut fanout = Fanout::new(true, !exports);
        fanout.max_concurrency = max_concurrency;
        fanout.tolerated_failures = tolerated_failures;
        fanout.tolerated_percentage = tolerated_percentage;
        fanout.batcher = match &map.item_batcher {
            Some(batcher) => Some(self.batcher(thread, state, batcher, &context)?),
            None => None,
        };
        fanout.stream = stream;
        let (items, executions) = self.enqueue(thread, state, map, &mut fanout, items)?;
        if distributed {
            let label = map.label.as_deref().unwrap_or(&state.name).to_owned();
            let settings = MapRunUpdate {
                max_concurrency: Some(max_concurrency as u64),
                tolerated_failure_count: tolerated_failures.map(|count| count as u64),
                tolerated_failure_percentage: tolerated_percentage,
            };
            fanout.map_run = Some(self.start_map_run(thread, label, &settings, items, executions));
        }
        if fanout.all_finished() {
            return Ok(self.fanout_done(thread, fanout));
        }
        self.threads[thread].phase = Phase::Fanout(Box::new(fanout));
        self.start_iterations(thread, map);
        Ok(Flow::Stop)
    }

    /// Queues the iterations over `items` (batched, then through the ItemSelector); closes the
    /// last batch once every item is read. Answers the items and the iterations added.
    pub(super) fn enqueue(&self, thread: ThreadId, state: &State, map: &MapSpec, fanout: &mut Fanout, items: Vec<Value>) -> Result<(u64, u64), Failure> {
        let (item_count, before) = (items.len() as u64, fanout.count);
        let mut inputs = Vec::with_capacity(items.len());
        match &mut fanout.batcher {
            Some(batcher) => {
                inputs.extend(items.into_iter().filter_map(|item| batcher.push(item)));
                if fanout.stream.as_ref().is_none_or(|stream| stream.exhausted) {
                    inputs.extend(batcher.close());
                }
            }
            None => inputs = items,
        }
        let current = &self.threads[thread];
        for item in inputs {
            let index = fanout.add();
            let input = match &map.item_selector {
                None => item.clone(),
                Some(selector) => {
                    let item_context = self.item_context(thread, state, index, &item);
                    match selector {
                        ItemSelector::JsonPath(template) => template.evaluate(&Scope::new(&current.payload, &item_context, &current.variables))?,
                        ItemSelector::Jsonata(template) => {
                            let states = Value::Object(states_binding(&current.input, &item_context));
                            template.evaluate(&states, &current.variables, "ItemSelector")?
                        }
                    }
                }
            };
            let items = match fanout.batcher {
                Some(_) => item.get("Items").and_then(Value::as_array).map_or(0, Vec::len) as u64,
                None => 1,
            };
            fanout.waiting_items += items;
            fanout.waiting.push_back(Iteration { index, item, input, items });
        }
        Ok((item_count, (fanout.count - before) as u64))
    }

    fn start_map_run(&mut self, thread: ThreadId, label: String, settings: &MapRunUpdate, items: u64, executions: u64) -> usize {
        let run = self.map_runs.len();
        let id = self.derived_uuid(&[run as u64]);
        let arn = format!("{}/{label}:{id}", self.info.state_machine_arn.replacen(":stateMachine:", ":mapRun:", 1));
        self.record_for(thread, EventType::MapRunStarted, Some(Details { map_run_arn: Some(arn.clone()), ..Details::default() }));
        let execution_arn = match self.threads[thread].child {
            Some(child) => self.children[&child].arn.clone(),
            None => self.info.execution_arn.clone(),
        };
        let state_machine_arn = self.info.state_machine_arn.clone();
        self.map_runs.push(MapRun::new(arn, execution_arn, state_machine_arn, label, self.now, settings, items, executions, thread));
        self.touched.map_runs.push(run);
        run
    }

    /// A child execution for a distributed Map's iteration, started with its ExecutionStarted.
    fn start_child_execution(&mut self, run: usize, index: usize, input: &Value, item_count: u64, root: ThreadId) -> usize {
        let child = self.next_child;
        self.next_child += 1;
        let name = self.derived_uuid(&[run as u64, index as u64]);
        let map_run = &mut self.map_runs[run];
        let arn = format!("{}:{name}", map_run.child_state_machine_arn().replacen(":stateMachine:", ":execution:", 1));
        map_run.child_started(item_count);
        self.touched.map_runs.push(run);
        let input = input.to_string();
        let started = Details { input: Some(input.clone()), role_arn: Some(self.info.role_arn.clone()), ..Details::default() };
        let execution = ChildExecution { arn, name, map_run: run, item_count, input, status: Status::Running, start_time: self.now, stop_time: None, history: Vec::new(), root };
        self.children.insert(child, execution);
        self.record_in_child(child, EventType::ExecutionStarted, 0, Some(started));
        child
    }

    /// The thread's child execution when the thread runs its first state (its end ends it).
    pub(super) fn child_execution_root(&self, thread: ThreadId) -> Option<usize> {
        let child = self.threads[thread].child?;
        self.children.get(&child).is_some_and(|execution| execution.root == thread).then_some(child)
    }

    /// Ends a child execution with its closing event and counts it in its Map Run.
    pub(super) fn close_child_execution(&mut self, child: usize, event: EventType, details: Option<Details>, status: Status) {
        let Some(execution) = self.children.get(&child).filter(|execution| execution.status == Status::Running) else { return };
        let previous = execution.history.last().map_or(0, |event| event.id);
        let previous = match event {
            // Success chains to the last state's exit, as the execution's own ExecutionSucceeded.
            EventType::ExecutionSucceeded => self.threads[execution.root].last_event,
            _ => previous,
        };
        self.record_in_child(child, event, previous, details);
        let Some(execution) = self.children.get_mut(&child) else { return };
        execution.stop_time = Some(self.now);
        self.map_runs[execution.map_run].child_finished(execution.item_count, &status);
        self.touched.map_runs.push(execution.map_run);
        execution.status = status;
    }

    pub(super) fn close_map_run(&mut self, run: usize, status: MapRunStatus) {
        if self.map_runs[run].status == MapRunStatus::Running {
            self.map_runs[run].close(status, self.now);
            self.touched.map_runs.push(run);
        }
    }

    /// An execution that ends while distributed Maps run (timeout, history limit) aborts them.
    pub(super) fn abort_open_map_runs(&mut self) {
        let open: Vec<usize> = self.children.iter().filter(|(_, child)| child.status == Status::Running).map(|(index, _)| *index).collect();
        for child in open {
            self.close_child_execution(child, EventType::ExecutionAborted, None, Status::Aborted(Failure::without_cause("")));
        }
        for run in 0..self.map_runs.len() {
            self.close_map_run(run, MapRunStatus::Aborted);
        }
    }

    /// A UUID that is unguessable (it hashes the execution's secret) yet the same when the
    /// execution is replayed after a restart: Map Run and child execution ids.
    fn derived_uuid(&self, parts: &[u64]) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(self.info.token_secret.as_bytes());
        hash.update(b"map-run");
        for part in parts {
            hash.update(part.to_le_bytes());
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash.finalize()[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    fn map_items(&self, thread: ThreadId, state: &State, map: &MapSpec, context: &Value) -> Result<Vec<Value>, Failure> {
        let current = &self.threads[thread];
        let items = match (&map.items, state.query_language) {
            (Some(dynamic), _) => self.dynamic(thread, state, dynamic, context)?,
            (None, QueryLanguage::JsonPath) => current.payload.clone(),
            (None, QueryLanguage::Jsonata) => current.input.clone(),
        };
        match items {
            Value::Array(items) => Ok(items),
            other => match (&map.items, state.query_language) {
                (Some(Dynamic::Jsonata { template, .. }), _) => Err(Failure::query_evaluation(format!(
                    "The JSONata expression '{}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {}",
                    template.source().unwrap_or_default(),
                    json_type_name(&other),
                    other
                ))),
                (_, QueryLanguage::Jsonata) => Err(Failure::query_evaluation(format!("Map state input must be an array but was: {other}"))),
                (_, QueryLanguage::JsonPath) => Err(Failure::runtime(format!("Map state input must be an array but was: {other}"))),
            },
        }
    }

    fn batcher(&self, thread: ThreadId, state: &State, batcher: &ItemBatcher, context: &Value) -> Result<Batcher, Failure> {
        let max_items = match &batcher.max_items_per_batch {
            Some(dynamic) => whole_number(self.dynamic(thread, state, dynamic, context)?, dynamic, "integer")?.max(1),
            None => usize::MAX,
        };
        let max_bytes = match &batcher.max_input_bytes_per_batch {
            Some(dynamic) => whole_number(self.dynamic(thread, state, dynamic, context)?, dynamic, "integer")?.max(1),
            None => MAX_PAYLOAD_BYTES,
        };
        let batch_input = match &batcher.batch_input {
            None => None,
            Some(selector) => Some(self.select(thread, selector, context, "ItemBatcher/BatchInput")?),
        };
        Ok(Batcher { max_items, max_bytes, batch_input, items: Vec::new(), bytes: 0 })
    }

    /// Starts waiting iterations up to the concurrency limit, and asks for more items when few
    /// are left waiting.
    pub(super) fn start_iterations(&mut self, thread: ThreadId, map: &MapSpec) {
        let outer = Arc::new(self.threads[thread].variables.clone());
        let map_name = self.state_name(thread);
        loop {
            let Phase::Fanout(fanout) = &mut self.threads[thread].phase else { return };
            if fanout.children.len() >= fanout.concurrency_limit() {
                break;
            }
            let map_run = fanout.map_run;
            let Some(Iteration { index, item, input, items }) = fanout.waiting.pop_front() else { break };
            fanout.waiting_items -= items;
            // A distributed Map's iteration is a child execution, chained from its own start.
            let (sink, last) = match map_run {
                Some(run) => (Some(self.start_child_execution(run, index, &input, items, self.threads.next_id())), 0),
                None => {
                    let details = Details { name: Some(map_name.clone()), index: Some(index as u64), ..Details::default() };
                    self.record_for(thread, EventType::MapIterationStarted, Some(details));
                    (self.threads[thread].child, self.threads[thread].last_event)
                }
            };
            let child = self.spawn(map.processor.clone(), input, Variables::nested(outer.clone()), Some(thread), index, Some((index, item)), sink, last);
            if let Phase::Fanout(fanout) = &mut self.threads[thread].phase {
                fanout.children.insert(child);
            }
        }
        self.read_more_items(thread);
    }

    pub(super) fn child_finished(&mut self, parent: ThreadId, child: ThreadId, outcome: Result<Value, Failure>) {
        let (slot, execution) = (self.threads[child].slot, self.child_execution_root(child));
        if self.threads[child].child == self.threads[parent].child {
            let child_last = self.threads[child].last_event;
            self.threads[parent].last_event = self.threads[parent].last_event.max(child_last);
        }
        self.threads.release(child);
        let Phase::Fanout(fanout) = &mut self.threads[parent].phase else { return };
        fanout.children.remove(&child);
        fanout.finished += 1;
        let (is_map, map_run) = (fanout.is_map, fanout.map_run);
        if is_map && map_run.is_none() {
            let event = if outcome.is_ok() { EventType::MapIterationSucceeded } else { EventType::MapIterationFailed };
            let details = Details { name: Some(self.state_name(parent)), index: Some(slot as u64), ..Details::default() };
            self.record_for(parent, event, Some(details));
        }
        // A distributed Map that returns its children's records (Transformation NONE) keeps them.
        let record = match execution {
            Some(execution) if self.holds_records(parent) => self.children.get(&execution).map(|execution| self.execution_record(execution)),
            _ => None,
        };
        let Phase::Fanout(fanout) = &mut self.threads[parent].phase else { return };
        let result = match outcome {
            Ok(output) => Some(output),
            Err(failure) => {
                fanout.failures += 1;
                if !fanout.tolerates_failures() {
                    let failure = if fanout.tolerated_failures.is_some() || fanout.tolerated_percentage.is_some() { exceeded_tolerance() } else { failure };
                    return self.fail_fanout(parent, failure);
                }
                Some(failure_output(&failure))
            }
        };
        if let (Some(place), Some(result)) = (fanout.results.as_mut().and_then(|results| results.get_mut(slot)), record.or(result)) {
            *place = result;
        }
        self.fanout_progressed(parent);
    }

    /// After a child finished or more items arrived: the fanout ends when all is done, else
    /// more iterations start.
    pub(super) fn fanout_progressed(&mut self, thread: ThreadId) {
        let Phase::Fanout(fanout) = &self.threads[thread].phase else { return };
        if fanout.all_finished() {
            let Phase::Fanout(fanout) = std::mem::replace(&mut self.threads[thread].phase, Phase::Ready) else { return };
            if let Flow::Continue = self.fanout_done(thread, *fanout) {
                self.ready.push_back(thread);
            }
        } else if fanout.is_map {
            let (index, machine) = self.current_state(thread);
            if let StateKind::Map(map) = &machine.states[index].kind {
                self.start_iterations(thread, map);
            }
        }
    }

    /// Ends a Parallel or Map whose children failed (or whose items could not be read): the
    /// other children are aborted, a Map Run's results are still exported, then the state fails.
    pub(super) fn fail_fanout(&mut self, thread: ThreadId, failure: Failure) {
        let Phase::Fanout(fanout) = &self.threads[thread].phase else { return };
        let (is_map, map_run) = (fanout.is_map, fanout.map_run);
        self.abort_children(thread);
        if let Some(run) = map_run {
            // AWS exports the results of a failed Map Run too, then fails the Map.
            if self.export_results(thread, run, Err(failure.clone())) {
                return;
            }
            self.close_map_run(run, MapRunStatus::Failed);
        }
        let events: &[EventType] = match (is_map, map_run.is_some()) {
            (true, true) => &[EventType::MapRunFailed, EventType::MapStateFailed],
            (true, false) => &[EventType::MapStateFailed],
            (false, _) => &[EventType::ParallelStateFailed],
        };
        self.threads[thread].phase = Phase::Ready;
        self.fail_state_recording(thread, failure, events);
    }

    pub(super) fn fanout_done(&mut self, thread: ThreadId, fanout: Fanout) -> Flow {
        let mut results = Value::Array(fanout.results.unwrap_or_default());
        if let Some(run) = fanout.map_run {
            if self.export_results(thread, run, Ok(())) {
                return Flow::Stop;
            }
            results = self.transformed_results(thread, results);
        }
        let succeeded = if fanout.is_map {
            if let Some(run) = fanout.map_run {
                self.record_for(thread, EventType::MapRunSucceeded, None);
                self.close_map_run(run, MapRunStatus::Succeeded);
            }
            EventType::MapStateSucceeded
        } else {
            EventType::ParallelStateSucceeded
        };
        self.record_for(thread, succeeded, None);
        self.threads[thread].phase = Phase::Ready;
        self.finish_state(thread, Some(results), None)
    }

    /// Stops every running child (and the reading of more items).
    pub(super) fn abort_children(&mut self, parent: ThreadId) {
        let Phase::Fanout(fanout) = &mut self.threads[parent].phase else { return };
        let children = std::mem::take(&mut fanout.children);
        fanout.waiting.clear();
        fanout.waiting_items = 0;
        let reading = fanout.stream.as_mut().and_then(|stream| stream.action.take());
        let (is_map, distributed) = (fanout.is_map, fanout.map_run.is_some());
        if let Some(action) = reading {
            self.actions.remove(&action);
            self.commands.push(Command::Cancel { action });
        }
        for child in children {
            self.abort_thread(child);
            if let Some(execution) = self.child_execution_root(child) {
                self.close_child_execution(execution, EventType::ExecutionAborted, None, Status::Aborted(Failure::without_cause("")));
            }
            if is_map && !distributed {
                let details = Details { name: Some(self.state_name(parent)), index: Some(self.threads[child].slot as u64), ..Details::default() };
                self.record_for(parent, EventType::MapIterationAborted, Some(details));
            }
            self.threads.release(child);
        }
    }
}

fn failure_output(failure: &Failure) -> Value {
    json!({ "Error": failure.error, "Cause": failure.cause })
}

pub(super) fn exceeded_tolerance() -> Failure {
    Failure::new(names::EXCEED_TOLERATED_FAILURE_THRESHOLD, "The specified tolerated failure threshold was exceeded")
}
