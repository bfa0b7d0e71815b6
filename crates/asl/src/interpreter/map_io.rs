//! A distributed Map's data in and out of S3: the interpreter does no I/O, so it asks its host.
//!
//! ItemReader: the host reads the items a page at a time (`RunTask` with the reader's resource,
//! `arn:aws:states:::s3:getObject` or `...:s3:listObjectsV2`, and parameters
//! `{"Reader": {"Resource", "ReaderConfig", "Parameters"}, "Cursor", "Limit"}`) and answers
//! `{"Items": [...], "Cursor": next or null}`. The Map starts with the first page and asks for
//! the next while iterations run, whenever fewer than a page's worth wait: items are never all in
//! memory. ResultWriter: once the Map Run ends the host exports the results of its child
//! executions, which it has stored (`RunTask` with `arn:aws:states:::s3:putObject` and
//! parameters `{"Parameters": {"Bucket", "Prefix"}, "MapRunArn", "OutputType",
//! "Transformation"}`), and answers `{"Bucket", "Key"}` (of manifest.json).

use super::fanout::exceeded_tolerance;
use super::*;
use crate::map_run::ResultRecord;

/// Items asked of the host at a time.
const PAGE_ITEMS: usize = 1000;

/// The items of an ItemReader still to be read.
pub(crate) struct ItemStream {
    /// The resolved reader the host is given with each page's cursor.
    reader: Value,
    cursor: Value,
    /// The page being read.
    pub(super) action: Option<ActionId>,
    /// What ReaderConfig MaxItems still allows (usize::MAX: all).
    remaining: usize,
    /// No page is left.
    pub(super) exhausted: bool,
}

impl ItemStream {
    /// Takes a page's items and where the next page starts.
    fn advance(&mut self, mut page: Value) -> Result<Vec<Value>, Failure> {
        self.action = None;
        let Some(Value::Array(mut items)) = page.get_mut("Items").map(Value::take) else {
            return Err(Failure::new(names::ITEM_READER_FAILED, "The item reader answered without items."));
        };
        items.truncate(self.remaining);
        self.remaining -= items.len();
        self.cursor = page.get_mut("Cursor").map(Value::take).unwrap_or_default();
        self.exhausted = self.cursor.is_null() || self.remaining == 0;
        Ok(items)
    }
}

pub(crate) struct ResultWriting {
    pub(super) action: ActionId,
    pub(super) run: usize,
    /// How the Map ends once the results are written.
    outcome: Result<(), Failure>,
}

impl Execution {
    /// Evaluates an ItemSelector-like template (JSONPath against the state's effective input,
    /// JSONata against `$states`).
    pub(super) fn select(&self, thread: ThreadId, selector: &ItemSelector, context: &Value, field: &str) -> Result<Value, Failure> {
        let current = &self.threads[thread];
        match selector {
            ItemSelector::JsonPath(template) => template.evaluate(&Scope::new(&current.payload, context, &current.variables)),
            ItemSelector::Jsonata(template) => template.evaluate(&Value::Object(states_binding(&current.input, context)), &current.variables, field),
        }
    }

    pub(super) fn read_items(&mut self, thread: ThreadId, state: &State, reader: &ItemReader) -> Result<Flow, Failure> {
        let context = self.context(thread, state);
        let parameters = match &reader.arguments {
            Some(selector) => self.select(thread, selector, &context, "ItemReader/Arguments")?,
            None => Value::Object(Map::new()),
        };
        let max_items = match &reader.max_items {
            Some(dynamic) => whole_number(self.dynamic(thread, state, dynamic, &context)?, dynamic, "integer")?,
            None => usize::MAX,
        };
        let reader = json!({ "Resource": reader.resource, "ReaderConfig": reader.config, "Parameters": parameters });
        let mut stream = ItemStream { reader, cursor: Value::Null, action: None, remaining: max_items, exhausted: false };
        stream.action = Some(self.request_items(thread, &stream));
        self.threads[thread].phase = Phase::ReadingItems(Box::new(stream));
        Ok(Flow::Stop)
    }

    fn request_items(&mut self, thread: ThreadId, stream: &ItemStream) -> ActionId {
        let action = self.new_action(ActionOwner::ItemReader(thread));
        let resource = stream.reader["Resource"].as_str().unwrap_or_default().to_owned();
        let parameters = json!({ "Reader": stream.reader, "Cursor": stream.cursor, "Limit": stream.remaining.min(PAGE_ITEMS) });
        self.host_request(thread, action, resource, parameters);
        action
    }

    /// Asks for the next page when a running Map has fewer than a page of items waiting (items,
    /// not iterations: a batch of a thousand holds as much as a page).
    pub(super) fn read_more_items(&mut self, thread: ThreadId) {
        let Phase::Fanout(fanout) = &mut self.threads[thread].phase else { return };
        let waiting = fanout.waiting_items;
        let Some(mut stream) = fanout.stream.take() else { return };
        if !stream.exhausted && stream.action.is_none() && waiting < PAGE_ITEMS as u64 {
            stream.action = Some(self.request_items(thread, &stream));
        }
        if let Phase::Fanout(fanout) = &mut self.threads[thread].phase {
            fanout.stream = Some(stream);
        }
    }

    fn host_request(&mut self, thread: ThreadId, action: ActionId, resource: String, parameters: Value) {
        self.commands.push(Command::RunTask(Box::new(TaskRequest {
            action,
            state_name: self.threads[thread].machine.states[self.threads[thread].state].name.clone(),
            integration: Integration::of(&resource),
            resource,
            parameters,
            task_token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            attempt: 0,
        })));
    }

    /// A page of items arrived: the first starts the Map, the others join its iterations.
    pub(super) fn items_read(&mut self, thread: ThreadId, page: Value) {
        let (index, machine) = self.current_state(thread);
        let state = &machine.states[index];
        let StateKind::Map(map) = &state.kind else { return };
        match std::mem::replace(&mut self.threads[thread].phase, Phase::Ready) {
            Phase::ReadingItems(mut stream) => {
                let outcome = match stream.advance(page) {
                    Ok(items) => self.map_over(thread, state, map, items, Some(stream)),
                    Err(failure) => return self.items_failed(thread, failure),
                };
                if let Flow::Continue = self.settle_attempt(thread, state, outcome) {
                    self.ready.push_back(thread);
                }
            }
            Phase::Fanout(mut fanout) => {
                let Some(stream) = fanout.stream.as_mut() else {
                    self.threads[thread].phase = Phase::Fanout(fanout);
                    return;
                };
                let added = stream.advance(page).and_then(|items| self.enqueue(thread, state, map, &mut fanout, items));
                let exceeded = fanout.all_read() && fanout.failures > 0 && !fanout.tolerates_failures();
                let run = fanout.map_run;
                self.threads[thread].phase = Phase::Fanout(fanout);
                match added {
                    Ok(_) if exceeded => self.fail_fanout(thread, exceeded_tolerance()),
                    Ok((items, executions)) => {
                        if let Some(run) = run {
                            self.map_runs[run].items_added(items, executions);
                            self.touched.map_runs.push(run);
                        }
                        self.fanout_progressed(thread);
                    }
                    Err(failure) => self.fail_fanout(thread, reported_as(failure, names::ITEM_READER_FAILED)),
                }
            }
            other => self.threads[thread].phase = other,
        }
    }

    pub(super) fn items_failed(&mut self, thread: ThreadId, failure: Failure) {
        let failure = reported_as(failure, names::ITEM_READER_FAILED);
        if let Phase::Fanout(_) = self.threads[thread].phase {
            return self.fail_fanout(thread, failure);
        }
        self.threads[thread].phase = Phase::Ready;
        self.fail_state_recording(thread, failure, &[EventType::MapStateFailed]);
    }

    /// Asks the host to export a finished Map Run's results when the Map has a ResultWriter with
    /// a Resource; false when it has none (the Map ends at once).
    pub(super) fn export_results(&mut self, thread: ThreadId, run: usize, outcome: Result<(), Failure>) -> bool {
        let (index, machine) = self.current_state(thread);
        let state = &machine.states[index];
        let StateKind::Map(map) = &state.kind else { return false };
        let Some(writer @ ResultWriter { resource: Some(resource), .. }) = &map.result_writer else { return false };
        let context = self.context(thread, state);
        let parameters = match &writer.arguments {
            Some(selector) => match self.select(thread, selector, &context, "ResultWriter/Arguments") {
                Ok(parameters) => parameters,
                Err(failure) => {
                    self.threads[thread].phase = Phase::Ready;
                    self.close_map_run(run, MapRunStatus::Failed);
                    self.fail_state_recording(thread, failure, &[EventType::MapRunFailed, EventType::MapStateFailed]);
                    return true;
                }
            },
            None => Value::Object(Map::new()),
        };
        let request = json!({
            "Parameters": parameters,
            "MapRunArn": self.map_runs[run].arn,
            "OutputType": if writer.json_lines { "JSONL" } else { "JSON" },
            "Transformation": writer.transformation.as_str(),
        });
        let action = self.new_action(ActionOwner::ResultWriter(thread));
        self.host_request(thread, action, resource.clone(), request);
        self.threads[thread].phase = Phase::WritingResults(Box::new(ResultWriting { action, run, outcome }));
        true
    }

    /// Whether the Map's output is its children's records (a ResultWriter with only a
    /// WriterConfig, Transformation NONE).
    pub(super) fn holds_records(&self, thread: ThreadId) -> bool {
        let (index, machine) = self.current_state(thread);
        let StateKind::Map(map) = &machine.states[index].kind else { return false };
        matches!(map.result_writer, Some(ResultWriter { resource: None, transformation: Transformation::None, .. }))
    }

    /// A distributed Map's output when a ResultWriter has only a WriterConfig: its transformation
    /// of the results (the records of NONE were kept as the children finished).
    pub(super) fn transformed_results(&self, thread: ThreadId, results: Value) -> Value {
        let (index, machine) = self.current_state(thread);
        let StateKind::Map(map) = &machine.states[index].kind else { return results };
        match (&map.result_writer, results) {
            (Some(ResultWriter { transformation: Transformation::Flatten, resource: None, .. }), Value::Array(results)) => {
                let flattened = results.into_iter().flat_map(|output| match output {
                    Value::Array(elements) => elements,
                    other => vec![other],
                });
                Value::Array(flattened.collect())
            }
            (_, results) => results,
        }
    }

    pub(super) fn results_written(&mut self, thread: ThreadId, written: &Value) {
        let Phase::WritingResults(writing) = std::mem::replace(&mut self.threads[thread].phase, Phase::Ready) else { return };
        let run = writing.run;
        let map_run = &mut self.map_runs[run];
        for counts in [&mut map_run.items, &mut map_run.executions] {
            counts.results_written = counts.succeeded + counts.failed + counts.timed_out + counts.aborted;
        }
        self.touched.map_runs.push(run);
        match writing.outcome {
            Ok(()) => {
                self.record_for(thread, EventType::MapRunSucceeded, None);
                self.close_map_run(run, MapRunStatus::Succeeded);
                self.record_for(thread, EventType::MapStateSucceeded, None);
                let details = json!({ "Bucket": written.get("Bucket"), "Key": written.get("Key") });
                let output = json!({ "MapRunArn": self.map_runs[run].arn, "ResultWriterDetails": details });
                if let Flow::Continue = self.finish_state(thread, Some(output), None) {
                    self.ready.push_back(thread);
                }
            }
            Err(failure) => {
                self.close_map_run(run, MapRunStatus::Failed);
                self.fail_state_recording(thread, failure, &[EventType::MapRunFailed, EventType::MapStateFailed]);
            }
        }
    }

    pub(super) fn results_failed(&mut self, thread: ThreadId, failure: Failure) {
        let Phase::WritingResults(writing) = std::mem::replace(&mut self.threads[thread].phase, Phase::Ready) else { return };
        self.close_map_run(writing.run, MapRunStatus::Failed);
        let failure = reported_as(failure, names::RESULT_WRITER_FAILED);
        self.fail_state_recording(thread, failure, &[EventType::MapRunFailed, EventType::MapStateFailed]);
    }

    /// A child execution as ResultWriter exports it (Transformation NONE, and every failure).
    pub(super) fn execution_record(&self, child: &ChildExecution) -> Value {
        let (status, output, failure) = match &child.status {
            Status::Succeeded(output) => ("SUCCEEDED", Some(output.to_string()), None),
            Status::Failed(failure) => ("FAILED", None, Some(failure)),
            Status::TimedOut(failure) => ("TIMED_OUT", None, Some(failure)),
            Status::Aborted(failure) => ("ABORTED", None, Some(failure)),
            Status::Running => ("RUNNING", None, None),
        };
        let state_machine_arn = self.map_runs[child.map_run].child_state_machine_arn();
        ResultRecord {
            execution_arn: &child.arn,
            name: &child.name,
            input: &child.input,
            state_machine_arn: &state_machine_arn,
            status,
            output: output.as_deref(),
            error: failure.map(|failure| failure.error.as_str()),
            cause: failure.and_then(|failure| failure.cause.as_deref()),
            start_ms: child.start_time,
            stop_ms: child.stop_time,
        }
        .to_json()
    }
}

/// A host's failure under the name Step Functions reports it with, the original kept as cause.
fn reported_as(failure: Failure, error: &str) -> Failure {
    if failure.error == error {
        return failure;
    }
    let cause = match failure.cause {
        Some(cause) if !cause.is_empty() => cause,
        _ => failure.error,
    };
    Failure::new(error, cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(map: Value, input: Value) -> Execution {
        let definition = json!({"StartAt": "Map", "States": {"Map": map}});
        let machine = Arc::new(StateMachine::compile(&definition).unwrap());
        let info = ExecutionInfo { token_secret: "secret".into(), ..ExecutionInfo::local("m", "e", input.clone(), input.to_string()) };
        Execution::start(machine, info, 0, 0)
    }

    fn distributed_map(extra: Value) -> Value {
        let mut map = json!({
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL", "MaxItemsPath": "$.max"}, "Parameters": {"Bucket.$": "$.bucket", "Key": "items.jsonl"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$", "IsNumeric": true}, {"Variable": "$", "NumericGreaterThan": 3}], "Next": "Fail"}], "Default": "Done"},
                "Fail": {"Type": "Fail", "Error": "TooBig"},
                "Done": {"Type": "Pass", "End": true}}},
            "End": true
        });
        map.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        map
    }

    fn only_request(commands: Vec<Command>) -> TaskRequest {
        match commands.as_slice() {
            [Command::RunTask(request)] => (**request).clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn items_are_asked_of_the_host_page_by_page_up_to_max_items() {
        let mut execution = start(distributed_map(json!({})), json!({"bucket": "in", "max": 1500}));
        let first = only_request(execution.run(0));
        assert_eq!(first.integration, Integration::Service { service: "s3".into(), action: "getObject".into(), pattern: Pattern::RequestResponse });
        assert_eq!(first.parameters["Reader"]["Parameters"], json!({"Bucket": "in", "Key": "items.jsonl"}));
        assert_eq!((first.parameters["Cursor"].clone(), first.parameters["Limit"].clone()), (Value::Null, json!(1000)));
        execution.task_succeeded(first.action, json!({"Items": vec![json!(1); 1000], "Cursor": {"Offset": 9}}), 1);
        let second = only_request(execution.run(1));
        assert_eq!((second.parameters["Cursor"].clone(), second.parameters["Limit"].clone()), (json!({"Offset": 9}), json!(500)));
        execution.task_succeeded(second.action, json!({"Items": vec![json!(2); 500], "Cursor": {"Offset": 20}}), 2);
        execution.run(2);
        assert_eq!(execution.status(), &Status::Succeeded(Value::Array([vec![json!(1); 1000], vec![json!(2); 500]].concat())));
        assert_eq!(execution.map_runs()[0].items.total, 1500);
    }

    #[test]
    fn jsonata_readers_take_arguments_and_an_expression_for_max_items() {
        let definition = json!({"QueryLanguage": "JSONata", "StartAt": "Map", "States": {"Map": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "ReaderConfig": {"MaxItems": "{% $states.input.max %}"}, "Arguments": {"Bucket": "{% $states.input.bucket %}", "Prefix": "p/"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}},
            "End": true}}});
        let machine = Arc::new(StateMachine::compile(&definition).unwrap());
        let input = json!({"bucket": "in", "max": 2});
        let info = ExecutionInfo { token_secret: "secret".into(), ..ExecutionInfo::local("m", "e", input.clone(), input.to_string()) };
        let mut execution = Execution::start(machine, info, 0, 0);
        let request = only_request(execution.run(0));
        assert_eq!(request.parameters["Reader"]["Parameters"], json!({"Bucket": "in", "Prefix": "p/"}));
        assert_eq!(request.parameters["Limit"], json!(2));
        execution.task_succeeded(request.action, json!({"Items": [{"Key": "p/a"}, {"Key": "p/b"}], "Cursor": "p/b"}), 1);
        execution.run(1);
        assert_eq!(execution.status(), &Status::Succeeded(json!([{"Key": "p/a"}, {"Key": "p/b"}])), "MaxItems reached: no further page");
    }

    #[test]
    fn a_reader_failure_fails_the_map_with_item_reader_failed() {
        let mut execution = start(distributed_map(json!({})), json!({"bucket": "in", "max": 5}));
        let request = only_request(execution.run(0));
        execution.task_failed(request.action, Failure::new("S3.NoSuchKey", "The specified key does not exist."), 1);
        execution.run(1);
        assert_eq!(execution.status(), &Status::Failed(Failure::new(names::ITEM_READER_FAILED, "The specified key does not exist.")));
        assert!(execution.history().iter().any(|event| event.event_type == EventType::MapStateFailed));
    }

    fn read_one_page(execution: &mut Execution, items: Value) -> Vec<Command> {
        let request = only_request(execution.run(0));
        execution.task_succeeded(request.action, json!({"Items": items, "Cursor": null}), 1);
        execution.run(1)
    }

    #[test]
    fn results_are_written_by_the_host_and_the_map_answers_where() {
        let writer = json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket.$": "$.bucket", "Prefix": "out"}, "WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSONL"}}, "ToleratedFailureCount": 1});
        let mut execution = start(distributed_map(writer), json!({"bucket": "in", "max": 10}));
        let write = only_request(read_one_page(&mut execution, json!([1, [2, 3], 4])));
        assert_eq!(write.resource, "arn:aws:states:::s3:putObject");
        let run_arn = execution.map_runs()[0].arn.clone();
        let asked = json!({"Parameters": {"Bucket": "in", "Prefix": "out"}, "MapRunArn": run_arn, "OutputType": "JSONL", "Transformation": "FLATTEN"});
        assert_eq!(write.parameters, asked, "the host exports the stored children of the run");
        execution.task_succeeded(write.action, json!({"Bucket": "in", "Key": "out/id/manifest.json"}), 2);
        execution.run(2);
        let expected = json!({"MapRunArn": run_arn, "ResultWriterDetails": {"Bucket": "in", "Key": "out/id/manifest.json"}});
        assert_eq!(execution.status(), &Status::Succeeded(expected));
        let run = &execution.map_runs()[0];
        assert_eq!((run.status, run.items.results_written, run.executions.results_written), (MapRunStatus::Succeeded, 3, 3));
    }

    #[test]
    fn a_run_past_its_tolerance_still_writes_its_results_then_fails() {
        let writer = json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}}, "ToleratedFailureCount": 0});
        let mut execution = start(distributed_map(writer), json!({"bucket": "in", "max": 10}));
        let write = only_request(read_one_page(&mut execution, json!([9])));
        assert_eq!(execution.map_runs()[0].executions.failed, 1);
        execution.task_succeeded(write.action, json!({"Bucket": "b", "Key": "id/manifest.json"}), 2);
        execution.run(2);
        let Status::Failed(failure) = execution.status() else { panic!("{:?}", execution.status()) };
        assert_eq!(failure.error, names::EXCEED_TOLERATED_FAILURE_THRESHOLD);
        assert_eq!(execution.map_runs()[0].status, MapRunStatus::Failed);
    }

    #[test]
    fn a_writer_failure_fails_the_map_with_result_writer_failed() {
        let writer = json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "nope"}}});
        let mut execution = start(distributed_map(writer), json!({"bucket": "in", "max": 10}));
        let write = only_request(read_one_page(&mut execution, json!([1])));
        execution.task_failed(write.action, Failure::new("S3.NoSuchBucket", "The specified bucket does not exist"), 2);
        execution.run(2);
        assert_eq!(execution.status(), &Status::Failed(Failure::new(names::RESULT_WRITER_FAILED, "The specified bucket does not exist")));
    }

    #[test]
    fn a_writer_config_alone_transforms_the_output() {
        let writer = json!({"ResultWriter": {"WriterConfig": {"Transformation": "NONE", "OutputType": "JSON"}}});
        let mut execution = start(distributed_map(writer), json!({"bucket": "in", "max": 10}));
        assert!(read_one_page(&mut execution, json!([2])).is_empty());
        let Status::Succeeded(Value::Array(records)) = execution.status() else { panic!("{:?}", execution.status()) };
        assert_eq!((records[0]["Status"].clone(), records[0]["Output"].clone()), (json!("SUCCEEDED"), json!("2")));
    }

    fn invoking_map(extra: Value) -> Value {
        let mut map = json!({
            "Type": "Map", "MaxConcurrency": 2,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"}, "Parameters": {"Bucket": "in", "Key": "k"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "Work", "States": {
                "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:work", "End": true}}},
            "End": true
        });
        map.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        map
    }

    fn split(commands: Vec<Command>) -> (Vec<TaskRequest>, Vec<TaskRequest>) {
        let requests = commands.into_iter().filter_map(|command| match command {
            Command::RunTask(request) => Some(*request),
            _ => None,
        });
        requests.partition(|request| request.resource.starts_with("arn:aws:states:::s3:"))
    }

    #[test]
    fn iterations_start_with_the_first_page_and_the_next_is_read_while_they_run() {
        let mut execution = start(invoking_map(json!({})), json!({}));
        let first_page = only_request(execution.run(0));
        execution.task_succeeded(first_page.action, json!({"Items": [1, 2, 3], "Cursor": {"Offset": 6}}), 1);
        let (pages, mut work) = split(execution.run(1));
        assert_eq!(work.len(), 2, "MaxConcurrency");
        assert_eq!(pages.len(), 1, "fewer than a page wait: the next is read");
        assert_eq!(pages[0].parameters["Cursor"], json!({"Offset": 6}));
        let started = execution.history().iter().find(|event| event.event_type == EventType::MapStateStarted).unwrap();
        assert_eq!(started.details.as_ref().unwrap().length, Some(0), "the length is not known while items are read");
        execution.task_succeeded(pages[0].action, json!({"Items": [4, 5], "Cursor": null}), 2);
        assert!(execution.run(2).is_empty());
        assert_eq!(execution.map_runs()[0].items.total, 5);
        let mut now = 3;
        while let Some(request) = work.pop() {
            execution.task_succeeded(request.action, json!(request.parameters.as_i64().unwrap() * 10), now);
            work.extend(split(execution.run(now)).1);
            let touched = execution.take_touched();
            execution.release_closed_children(&touched);
            assert!(execution.child_executions().count() <= 2, "closed children are released");
            now += 1;
        }
        assert_eq!(execution.status(), &Status::Succeeded(json!([10, 20, 30, 40, 50])));
        assert_eq!(execution.map_runs()[0].executions.succeeded, 5);
    }

    #[test]
    fn reading_pauses_while_a_page_of_items_waits() {
        let mut execution = start(invoking_map(json!({"MaxConcurrency": 1, "ItemBatcher": {"MaxItemsPerBatch": 500}})), json!({}));
        let first_page = only_request(execution.run(0));
        execution.task_succeeded(first_page.action, json!({"Items": vec![json!(1); 1000], "Cursor": {"Offset": 1}}), 1);
        let (pages, work) = split(execution.run(1));
        assert_eq!((pages.len(), work.len()), (1, 1), "one batch of 500 runs, 500 items wait: read on");
        execution.task_succeeded(pages[0].action, json!({"Items": vec![json!(2); 1000], "Cursor": {"Offset": 2}}), 2);
        assert!(execution.run(2).is_empty(), "two batches, 1,000 items, wait: no more reading");
        execution.task_succeeded(work[0].action, json!(0), 3);
        let (pages, work) = split(execution.run(3));
        assert_eq!((pages.len(), work.len()), (1, 1), "the next batch starts, 500 items wait: the next page is read");
    }

    #[test]
    fn a_failure_percentage_is_judged_once_every_item_is_read() {
        for (percentage, outcome) in [(50, "SUCCEEDED"), (10, "FAILED")] {
            let mut execution = start(distributed_map(json!({"ToleratedFailurePercentage": percentage})), json!({"bucket": "in", "max": 10}));
            let first_page = only_request(execution.run(0));
            execution.task_succeeded(first_page.action, json!({"Items": [9], "Cursor": {"Offset": 2}}), 1);
            let second_page = only_request(execution.run(1));
            execution.task_succeeded(second_page.action, json!({"Items": [1, 1, 1], "Cursor": null}), 2);
            execution.run(2);
            assert_eq!(outcome_word(execution.status()), outcome, "1 of 4 failed, {percentage}% tolerated");
        }
    }

    fn outcome_word(status: &Status) -> &'static str {
        match status {
            Status::Succeeded(_) => "SUCCEEDED",
            Status::Failed(failure) if failure.error == names::EXCEED_TOLERATED_FAILURE_THRESHOLD => "FAILED",
            _ => "OTHER",
        }
    }

    #[test]
    fn batches_fill_across_pages() {
        let mut execution = start(distributed_map(json!({"ItemBatcher": {"MaxItemsPerBatch": 2}})), json!({"bucket": "in", "max": 10}));
        let first_page = only_request(execution.run(0));
        execution.task_succeeded(first_page.action, json!({"Items": [1, 2, 3], "Cursor": {"Offset": 3}}), 1);
        let second_page = only_request(execution.run(1));
        execution.task_succeeded(second_page.action, json!({"Items": [4], "Cursor": null}), 2);
        execution.run(2);
        assert_eq!(execution.status(), &Status::Succeeded(json!([{"Items": [1, 2]}, {"Items": [3, 4]}])));
        let run = &execution.map_runs()[0];
        assert_eq!((run.items.total, run.executions.total), (4, 2));
    }
}
