//! A distributed Map's data in and out of S3: the interpreter does no I/O, so it asks its host.
//!
//! ItemReader: the host reads the items a page at a time (`RunTask` with the reader's resource,
//! `arn:aws:states:::s3:getObject` or `...:s3:listObjectsV2`, and parameters
//! `{"Reader": {"Resource", "ReaderConfig", "Parameters"}, "Cursor", "Limit"}`) and answers
//! `{"Items": [...], "Cursor": next or null}`. ResultWriter: once the Map Run ends the host writes
//! the results (`RunTask` with `arn:aws:states:::s3:putObject` and parameters
//! `{"Parameters": {"Bucket", "Prefix"}, "MapRunArn", "OutputType", "Succeeded": [...],
//! "Failed": [...]}`) and answers `{"Bucket", "Key"}` (of manifest.json).

use super::*;
use crate::context::iso_time;

/// Items asked of the host at a time.
const PAGE_ITEMS: usize = 1000;

pub(crate) struct ItemReading {
    pub(super) action: ActionId,
    /// The resolved reader the host is given with each page's cursor.
    reader: Value,
    items: Vec<Value>,
    /// ReaderConfig MaxItems (usize::MAX: all).
    max_items: usize,
}

pub(crate) struct ResultWriting {
    pub(super) action: ActionId,
    pub(super) run: usize,
    /// How the Map ends once the results are written.
    outcome: Result<(), Failure>,
    /// The items and child executions whose results are written.
    items: u64,
    executions: u64,
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
        let action = self.request_items(thread, &reader, Value::Null, max_items);
        self.threads[thread].phase = Phase::ReadingItems(Box::new(ItemReading { action, reader, items: Vec::new(), max_items }));
        Ok(Flow::Stop)
    }

    fn request_items(&mut self, thread: ThreadId, reader: &Value, cursor: Value, remaining: usize) -> ActionId {
        let action = self.new_action(ActionOwner::ItemReader(thread));
        let resource = reader["Resource"].as_str().unwrap_or_default().to_owned();
        let parameters = json!({ "Reader": reader, "Cursor": cursor, "Limit": remaining.min(PAGE_ITEMS) });
        self.host_request(thread, action, resource, parameters);
        action
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

    /// A page of items arrived: ask for the next, or start the Map over them all.
    pub(super) fn items_read(&mut self, thread: ThreadId, mut page: Value) {
        let Phase::ReadingItems(reading) = &mut self.threads[thread].phase else { return };
        let Some(Value::Array(items)) = page.get_mut("Items").map(Value::take) else {
            return self.items_failed(thread, Failure::new(names::ITEM_READER_FAILED, "The item reader answered without items."));
        };
        reading.items.extend(items);
        reading.items.truncate(reading.max_items);
        let cursor = page.get_mut("Cursor").map(Value::take).unwrap_or_default();
        if !cursor.is_null() && reading.items.len() < reading.max_items {
            let (reader, remaining) = (reading.reader.clone(), reading.max_items - reading.items.len());
            let action = self.request_items(thread, &reader, cursor, remaining);
            if let Phase::ReadingItems(reading) = &mut self.threads[thread].phase {
                reading.action = action;
            }
            return;
        }
        let Phase::ReadingItems(reading) = std::mem::replace(&mut self.threads[thread].phase, Phase::Ready) else { return };
        let (index, machine) = self.current_state(thread);
        let state = &machine.states[index];
        let StateKind::Map(map) = &state.kind else { return };
        let outcome = self.map_over(thread, state, map, reading.items);
        if let Flow::Continue = self.settle_attempt(thread, state, outcome) {
            self.ready.push_back(thread);
        }
    }

    pub(super) fn items_failed(&mut self, thread: ThreadId, failure: Failure) {
        self.threads[thread].phase = Phase::Ready;
        let failure = reported_as(failure, names::ITEM_READER_FAILED);
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
        let (mut succeeded, mut failed, mut items, mut executions) = (Vec::new(), Vec::new(), 0, 0);
        for child in self.children.iter().filter(|child| child.map_run == run && child.status != Status::Running) {
            items += child.item_count;
            executions += 1;
            match &child.status {
                Status::Succeeded(output) => transform_into(&mut succeeded, writer.transformation, output, || self.execution_record(child)),
                Status::Running => {}
                _ => failed.push(self.execution_record(child)),
            }
        }
        let request = json!({
            "Parameters": parameters,
            "MapRunArn": self.map_runs[run].arn,
            "OutputType": if writer.json_lines { "JSONL" } else { "JSON" },
            "Succeeded": succeeded,
            "Failed": failed,
        });
        let action = self.new_action(ActionOwner::ResultWriter(thread));
        self.host_request(thread, action, resource.clone(), request);
        self.threads[thread].phase = Phase::WritingResults(Box::new(ResultWriting { action, run, outcome, items, executions }));
        true
    }

    /// A distributed Map's output when a ResultWriter has only a WriterConfig: its transformation
    /// of the results (COMPACT: as they are).
    pub(super) fn transformed_results(&self, thread: ThreadId, run: usize, results: Value) -> Value {
        let (index, machine) = self.current_state(thread);
        let StateKind::Map(map) = &machine.states[index].kind else { return results };
        let Some(ResultWriter { transformation, resource: None, .. }) = &map.result_writer else { return results };
        let Value::Array(results) = results else { return results };
        let mut transformed = Vec::with_capacity(results.len());
        match transformation {
            Transformation::Compact => return Value::Array(results),
            Transformation::Flatten => results.into_iter().for_each(|output| transform_into(&mut transformed, Transformation::Flatten, &output, || Value::Null)),
            Transformation::None => transformed.extend(self.children.iter().filter(|child| child.map_run == run).map(|child| self.execution_record(child))),
        }
        Value::Array(transformed)
    }

    pub(super) fn results_written(&mut self, thread: ThreadId, written: &Value) {
        let Phase::WritingResults(writing) = std::mem::replace(&mut self.threads[thread].phase, Phase::Ready) else { return };
        let run = writing.run;
        self.map_runs[run].items.results_written = writing.items;
        self.map_runs[run].executions.results_written = writing.executions;
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
    fn execution_record(&self, child: &ChildExecution) -> Value {
        let run = &self.map_runs[child.map_run];
        let mut record = Map::new();
        record.insert("ExecutionArn".into(), json!(child.arn));
        record.insert("Input".into(), json!(child.input));
        record.insert("InputDetails".into(), json!({ "Included": true }));
        record.insert("Name".into(), json!(child.name));
        let status = match &child.status {
            Status::Succeeded(output) => {
                record.insert("Output".into(), json!(output.to_string()));
                record.insert("OutputDetails".into(), json!({ "Included": true }));
                "SUCCEEDED"
            }
            Status::Failed(failure) | Status::TimedOut(failure) | Status::Aborted(failure) => {
                record.insert("Error".into(), json!(failure.error));
                if let Some(cause) = &failure.cause {
                    record.insert("Cause".into(), json!(cause));
                }
                match child.status {
                    Status::Failed(_) => "FAILED",
                    Status::TimedOut(_) => "TIMED_OUT",
                    _ => "ABORTED",
                }
            }
            Status::Running => "RUNNING",
        };
        record.insert("RedriveCount".into(), json!(0));
        record.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
        record.insert("RedriveStatusReason".into(), json!(format!("Execution is {status} and cannot be redriven")));
        record.insert("StartDate".into(), json!(iso_time(child.start_time)));
        record.insert("StateMachineArn".into(), json!(run.child_state_machine_arn()));
        record.insert("Status".into(), json!(status));
        if let Some(stop) = child.stop_time {
            record.insert("StopDate".into(), json!(iso_time(stop)));
        }
        Value::Object(record)
    }
}

/// Adds a succeeded child's result as the transformation shows it: its record (NONE), its output
/// (COMPACT), or its output's elements when it is an array (FLATTEN).
fn transform_into(results: &mut Vec<Value>, transformation: Transformation, output: &Value, record: impl FnOnce() -> Value) {
    match (transformation, output) {
        (Transformation::None, _) => results.push(record()),
        (Transformation::Flatten, Value::Array(elements)) => results.extend(elements.iter().cloned()),
        _ => results.push(output.clone()),
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
        assert_eq!((write.parameters["Parameters"].clone(), write.parameters["OutputType"].clone()), (json!({"Bucket": "in", "Prefix": "out"}), json!("JSONL")));
        assert_eq!(write.parameters["Succeeded"], json!([1, 2, 3]), "FLATTEN spreads array outputs");
        let failed = &write.parameters["Failed"][0];
        assert_eq!((failed["Status"].clone(), failed["Error"].clone(), failed["Input"].clone()), (json!("FAILED"), json!("TooBig"), json!("4")));
        let run_arn = execution.map_runs()[0].arn.clone();
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
        assert_eq!(write.parameters["Failed"].as_array().map(Vec::len), Some(1));
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
}
