//! TestState: one state of a definition run once on a given input, with its task result (or
//! error) mocked, reporting what each step of its data flow produced, as AWS's TestState API does.
//!
//! The host parses the request and builds the context object; this module compiles the state,
//! evaluates it and decides the status: SUCCEEDED, FAILED, RETRIABLE (a Retry would run it again)
//! or CAUGHT_ERROR (a Catch handles the failure).

use crate::definition::*;
use crate::failure::names;
use crate::interpreter::{fail_field_text, matching_choice, place_result, read_optional, states_binding};
use crate::{Failure, Scope, Variables};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The name a lone state (a definition with a `Type` and no `States`) is tested under, as AWS
/// names it in the context object.
pub const LONE_STATE_NAME: &str = "StateName";

/// AWS's cause when a Map state's mocked failures exceed what it tolerates.
const THRESHOLD_EXCEEDED: &str = "The specified tolerated failure threshold was exceeded";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InspectionLevel {
    Info,
    Debug,
    Trace,
}

/// The outcome a Task, Map or Parallel state gets instead of running.
#[derive(Debug, Clone)]
pub enum Mock {
    Result(Value),
    Error(Failure),
}

/// `stateConfiguration`: where in its life the tested state is assumed to be.
#[derive(Debug, Clone, Default)]
pub struct Configuration {
    /// Attempts already made under the Retry rule that matches the failure.
    pub retrier_retry_count: u32,
    /// Map iterations assumed to have failed.
    pub map_iteration_failure_count: u64,
}

pub struct TestRequest<'a> {
    pub machine: &'a StateMachine,
    pub state: &'a State,
    pub input: Value,
    /// The context object (`$$`, `$states.context`).
    pub context: Value,
    pub variables: Variables,
    pub mock: Option<Mock>,
    /// Runs a Task state's resource with its payload when no mock stands in for it, as TestState
    /// calls the real service; without one an unmocked Task fails.
    pub task_runner: Option<&'a TaskRunner<'a>>,
    pub configuration: Configuration,
    pub inspection_level: InspectionLevel,
}

/// Runs a Task's `Resource` with its effective payload.
pub type TaskRunner<'a> = dyn Fn(&str, &Value) -> Result<Value, Failure> + Sync + 'a;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    Succeeded,
    Failed,
    Retriable,
    CaughtError,
}

impl TestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Succeeded => "SUCCEEDED",
            TestStatus::Failed => "FAILED",
            TestStatus::Retriable => "RETRIABLE",
            TestStatus::CaughtError => "CAUGHT_ERROR",
        }
    }
}

/// Which handler took the failure.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorDetails {
    Caught { catch_index: usize },
    Retried { retry_index: usize, backoff_seconds: f64 },
}

/// The values of each data-flow step, as far as the state got (DEBUG and TRACE only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inspection {
    pub input: Option<Value>,
    pub after_input_path: Option<Value>,
    pub after_items_path: Option<Value>,
    pub after_parameters: Option<Value>,
    pub after_arguments: Option<Value>,
    pub result: Option<Value>,
    pub after_result_selector: Option<Value>,
    pub after_result_path: Option<Value>,
    pub variables: Option<Value>,
    pub error_details: Option<ErrorDetails>,
    pub max_concurrency: Option<u64>,
    pub tolerated_failure_count: Option<u64>,
    pub tolerated_failure_percentage: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub status: TestStatus,
    pub output: Option<Value>,
    pub failure: Option<Failure>,
    pub next_state: Option<Arc<str>>,
    /// None at INFO level.
    pub inspection: Option<Inspection>,
}

/// Compiles a TestState definition: a whole state machine, or a lone state whose transitions
/// may name states that do not exist (they are stood in for, so that `nextState` can name them).
pub fn compile(definition: &Value) -> Result<StateMachine, String> {
    match definition.get("States") {
        Some(_) => StateMachine::compile(definition),
        None => StateMachine::compile(&lone_state_machine(definition)),
    }
}

/// Whether a definition is a lone state rather than a state machine.
pub fn is_lone_state(definition: &Value) -> bool {
    definition.get("States").is_none()
}

fn lone_state_machine(state: &Value) -> Value {
    let mut states = Map::new();
    states.insert(LONE_STATE_NAME.to_owned(), state.clone());
    for target in transition_targets(state) {
        if target != LONE_STATE_NAME {
            states.entry(target.to_owned()).or_insert_with(|| serde_json::json!({ "Type": "Succeed" }));
        }
    }
    let mut machine = Map::new();
    if let Some(language) = state.get("QueryLanguage") {
        machine.insert("QueryLanguage".into(), language.clone());
    }
    machine.insert("StartAt".into(), Value::from(LONE_STATE_NAME));
    machine.insert("States".into(), Value::Object(states));
    Value::Object(machine)
}

/// The state names a state's Next, Default, Choices and Catch lead to.
fn transition_targets(state: &Value) -> Vec<&str> {
    let listed = |field: &str| state.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(|rule| rule.get("Next"));
    state.get("Next").into_iter().chain(state.get("Default")).chain(listed("Choices")).chain(listed("Catch")).filter_map(Value::as_str).collect()
}

/// The state named `name` in a machine or in any Parallel branch or Map processor inside it,
/// with the machine that holds it.
pub fn find_state<'m>(machine: &'m StateMachine, name: &str) -> Option<(&'m StateMachine, &'m State)> {
    find_nested(machine, name, 0)
}

/// Nesting deeper than this is not searched (definitions are bounded by their size anyway).
const MAX_NESTING: usize = 64;

fn find_nested<'m>(machine: &'m StateMachine, name: &str, depth: usize) -> Option<(&'m StateMachine, &'m State)> {
    if depth > MAX_NESTING {
        return None;
    }
    if let Some(state) = machine.states.iter().find(|state| &*state.name == name) {
        return Some((machine, state));
    }
    machine.states.iter().find_map(|state| match &state.kind {
        StateKind::Parallel { branches } => branches.iter().find_map(|branch| find_nested(branch, name, depth + 1)),
        StateKind::Map(map) => find_nested(&map.processor, name, depth + 1),
        _ => None,
    })
}

/// The state machine's starting state, the one tested when no stateName is given.
pub fn start_state(machine: &StateMachine) -> Option<&State> {
    machine.states.get(machine.start_at)
}

/// Runs the state once. Failures of Task, Map and Parallel states go through their Retry and
/// Catch rules; a Fail state's error, and failures of the others, end the test as FAILED.
pub fn run(request: &TestRequest) -> TestOutcome {
    let mut run = Run { request, inspection: Inspection { input: Some(request.input.clone()), ..Inspection::default() }, variables: request.variables.clone() };
    let (status, output, failure, next) = match run.evaluate() {
        Ok((output, next)) => (TestStatus::Succeeded, Some(output), None, next),
        Err(failure) if handles_errors(&request.state.kind) => run.handle(failure),
        Err(failure) => (TestStatus::Failed, None, Some(failure), None),
    };
    let next_state = match status {
        TestStatus::Succeeded | TestStatus::CaughtError => next.and_then(|index| request.machine.states.get(index)).map(|state| state.name.clone()),
        TestStatus::Failed | TestStatus::Retriable => None,
    };
    let mut inspection = run.inspection;
    let visible = run.variables.visible();
    if !visible.is_empty() {
        inspection.variables = Some(Value::Object(visible));
    }
    TestOutcome { status, output, failure, next_state, inspection: (request.inspection_level > InspectionLevel::Info).then_some(inspection) }
}

fn handles_errors(kind: &StateKind) -> bool {
    matches!(kind, StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_))
}

struct Run<'r, 'a> {
    request: &'r TestRequest<'a>,
    inspection: Inspection,
    variables: Variables,
}

type Evaluated = Result<(Value, Option<usize>), Failure>;

impl Run<'_, '_> {
    fn state(&self) -> &State {
        self.request.state
    }

    fn next(&self) -> Option<usize> {
        match self.state().transition {
            Transition::Next(next) => Some(next),
            Transition::End => None,
        }
    }

    fn evaluate(&mut self) -> Evaluated {
        let state = self.request.state;
        match &state.kind {
            StateKind::Pass { result } => self.pass(result.as_ref()),
            StateKind::Succeed => Ok((self.pass_through()?, None)),
            StateKind::Wait(_) => Ok((self.pass_through()?, self.next())),
            StateKind::Choice { choices, default } => self.choice(choices, *default),
            StateKind::Fail { error, cause } => Err(self.fail(error.as_ref(), cause.as_ref())),
            StateKind::Task(task) => {
                let payload = self.payload()?;
                let result = match (&self.request.mock, self.request.task_runner) {
                    (None, Some(run)) => run(&task.resource, &payload)?,
                    _ => self.mocked()?,
                };
                self.finish(result)
            }
            StateKind::Parallel { .. } => {
                let result = self.mocked()?;
                self.finish_with(Some(result), self.next())
            }
            StateKind::Map(map) => self.map(map),
        }
    }

    fn mocked(&self) -> Result<Value, Failure> {
        match &self.request.mock {
            Some(Mock::Result(result)) => Ok(result.clone()),
            Some(Mock::Error(failure)) => Err(failure.clone()),
            None => Err(Failure::new(names::TASK_FAILED, "The state's result must be mocked")),
        }
    }

    /// The input after InputPath (JSONPath states), recorded for inspection.
    fn effective_input(&mut self) -> Result<Value, Failure> {
        let request = self.request;
        match &request.state.data {
            DataFlow::JsonPath { input_path, .. } => {
                let effective = read_optional(input_path, &Scope::new(&request.input, &request.context, &self.variables))?;
                self.inspection.after_input_path = Some(effective.clone());
                Ok(effective)
            }
            DataFlow::Jsonata { .. } => Ok(request.input.clone()),
        }
    }

    /// InputPath then Parameters (JSONPath), or Arguments (JSONata): what a task is called with.
    fn payload(&mut self) -> Result<Value, Failure> {
        let request = self.request;
        let effective = self.effective_input()?;
        match &request.state.data {
            DataFlow::JsonPath { parameters, .. } => {
                let payload = match parameters {
                    Some(template) => template.evaluate(&Scope::new(&effective, &request.context, &self.variables))?,
                    None => effective,
                };
                self.inspection.after_parameters = Some(payload.clone());
                Ok(payload)
            }
            DataFlow::Jsonata { arguments, .. } => {
                let payload = match arguments {
                    Some(template) => template.evaluate(&Value::Object(states_binding(&request.input, &request.context)), &self.variables, "Arguments")?,
                    None => effective,
                };
                if arguments.is_some() {
                    self.inspection.after_arguments = Some(payload.clone());
                }
                Ok(payload)
            }
        }
    }

    fn pass(&mut self, result: Option<&Value>) -> Evaluated {
        match (&self.state().data, result) {
            (DataFlow::JsonPath { .. }, Some(result)) => self.finish(result.clone()),
            (DataFlow::JsonPath { .. }, None) => {
                let payload = self.payload()?;
                self.finish_with(Some(payload), self.next())
            }
            // A JSONata Pass state passes its input on (Output may reshape it).
            (DataFlow::Jsonata { .. }, _) => self.finish_with(None, self.next()),
        }
    }

    /// Succeed and Wait: the input after InputPath and OutputPath.
    fn pass_through(&mut self) -> Result<Value, Failure> {
        let effective = self.effective_input()?;
        let request = self.request;
        match &request.state.data {
            DataFlow::JsonPath { output_path, .. } => read_optional(output_path, &Scope::new(&effective, &request.context, &self.variables)),
            DataFlow::Jsonata { output: Some(template), .. } => {
                template.evaluate(&Value::Object(states_binding(&request.input, &request.context)), &self.variables, "Output")
            }
            DataFlow::Jsonata { output: None, .. } => Ok(effective),
        }
    }

    fn choice(&mut self, choices: &[ChoiceBranch], default: Option<usize>) -> Evaluated {
        let request = self.request;
        self.effective_input()?;
        let chosen = matching_choice(request.state, choices, &request.input, &request.context, &self.variables)?;
        let (next, assign, output) = match (chosen, default) {
            (Some(choice), _) => (choice.next, choice.assign.as_ref(), choice.output.as_ref()),
            (None, Some(default)) => (default, None, None),
            (None, None) => return Err(Failure::new(names::NO_CHOICE_MATCHED, "No Matches!")),
        };
        let output = match (&request.state.data, output) {
            (DataFlow::Jsonata { .. }, Some(template)) => {
                let states = Value::Object(states_binding(&request.input, &request.context));
                let output = template.evaluate(&states, &self.variables, "Output")?;
                self.assign(assign, &states)?;
                output
            }
            (DataFlow::Jsonata { .. }, None) => {
                let output = self.pass_through()?;
                self.assign(assign.or(request.state.assign.as_ref()), &Value::Object(states_binding(&request.input, &request.context)))?;
                output
            }
            (DataFlow::JsonPath { .. }, _) => {
                let output = self.pass_through()?;
                self.assign(assign.or(request.state.assign.as_ref()), &request.input)?;
                output
            }
        };
        Ok((output, Some(next)))
    }

    fn fail(&mut self, error: Option<&FailField>, cause: Option<&FailField>) -> Failure {
        let request = self.request;
        let field = |field: Option<&FailField>, name: &str, path_name: &str| match field {
            Some(field) => fail_field_text(field, name, path_name, &request.input, &request.context, &request.variables).map(Some),
            None => Ok(None),
        };
        let evaluated = self.effective_input().and_then(|_| Ok(Failure { error: field(error, "Error", "ErrorPath")?.unwrap_or_default(), cause: field(cause, "Cause", "CausePath")? }));
        evaluated.unwrap_or_else(|failure| failure)
    }

    fn map(&mut self, map: &MapSpec) -> Evaluated {
        let request = self.request;
        if let DataFlow::JsonPath { .. } = request.state.data {
            let effective = self.effective_input()?;
            let items = match &map.items {
                Some(Dynamic::Path { path, .. }) => path.select_required(&Scope::new(&effective, &request.context, &self.variables))?,
                _ => effective,
            };
            if !items.is_array() {
                // AWS names a context path ($$...) with a single `$`.
                let path = match &map.items {
                    Some(Dynamic::Path { path, .. }) => path.as_str().strip_prefix('$').filter(|rest| rest.starts_with('$')).unwrap_or(path.as_str()),
                    _ => "$",
                };
                return Err(Failure::runtime(format!("Reference path \"{path}\" must point to array.")));
            }
            self.inspection.after_items_path = Some(items);
        }
        self.inspection.max_concurrency = Some(match &map.max_concurrency {
            Some(Dynamic::Literal(value)) => value.as_u64().unwrap_or_default(),
            _ => 0,
        });
        if let Some(Dynamic::Literal(value)) = &map.tolerated_failure_count {
            self.inspection.tolerated_failure_count = value.as_u64();
        }
        if let Some(Dynamic::Literal(value)) = &map.tolerated_failure_percentage {
            self.inspection.tolerated_failure_percentage = value.as_f64();
        }
        let result = self.mocked()?;
        if self.exceeds_tolerance() {
            return Err(Failure::new(names::EXCEED_TOLERATED_FAILURE_THRESHOLD, THRESHOLD_EXCEEDED));
        }
        self.finish_with(Some(result), self.next())
    }

    /// Whether the configured failed iterations are more than the state tolerates (a Map that
    /// states no tolerance is not checked: its iterations' failures are its own).
    fn exceeds_tolerance(&self) -> bool {
        let failures = self.request.configuration.map_iteration_failure_count;
        self.inspection.tolerated_failure_count.is_some_and(|tolerated| failures > tolerated)
    }

    /// A state with a result of its own (Task, Pass with Result), which inspection shows.
    fn finish(&mut self, result: Value) -> Evaluated {
        self.inspection.result = Some(result.clone());
        self.finish_with(Some(result), self.next())
    }

    /// ResultSelector, ResultPath, Assign and OutputPath (JSONPath), or Assign and Output (JSONata).
    fn finish_with(&mut self, result: Option<Value>, next: Option<usize>) -> Evaluated {
        let request = self.request;
        match &request.state.data {
            DataFlow::JsonPath { result_selector, result_path, output_path, .. } => {
                let scope = Scope::new(&request.input, &request.context, &request.variables);
                let result = result.unwrap_or_else(|| request.input.clone());
                let selected = match result_selector {
                    Some(selector) => selector.evaluate(&scope.with_input(&result))?,
                    None => result,
                };
                self.inspection.after_result_selector = Some(selected.clone());
                self.assign(request.state.assign.as_ref(), &selected)?;
                let combined = place_result(result_path, request.input.clone(), selected)?;
                self.inspection.after_result_path = Some(combined.clone());
                Ok((read_optional(output_path, &scope.with_input(&combined))?, next))
            }
            DataFlow::Jsonata { output, .. } => {
                let mut states = states_binding(&request.input, &request.context);
                if let Some(result) = &result {
                    states.insert("result".into(), result.clone());
                }
                let states = Value::Object(states);
                self.assign(request.state.assign.as_ref(), &states)?;
                let output = match output {
                    Some(template) => template.evaluate(&states, &request.variables, "Output")?,
                    None => result.unwrap_or_else(|| request.input.clone()),
                };
                Ok((output, next))
            }
        }
    }

    /// Evaluates an Assign (on the JSONPath result, or the JSONata `$states`) against the
    /// variables as they were before the state, then sets them.
    fn assign(&mut self, assign: Option<&Assign>, on: &Value) -> Result<(), Failure> {
        let request = self.request;
        let assigned = match assign {
            Some(Assign::JsonPath(template)) => template.evaluate(&Scope::new(on, &request.context, &request.variables))?,
            Some(Assign::Jsonata(template)) => template.evaluate(on, &request.variables, "Assign")?,
            None => return Ok(()),
        };
        if let Value::Object(assigned) = assigned {
            for (name, value) in assigned {
                self.variables.set(name, value);
            }
        }
        Ok(())
    }

    /// A failed Task, Map or Parallel state: RETRIABLE if a Retry rule still has attempts left,
    /// else CAUGHT_ERROR if a Catch rule takes it, else FAILED.
    fn handle(&mut self, failure: Failure) -> (TestStatus, Option<Value>, Option<Failure>, Option<usize>) {
        let state = self.request.state;
        let retry_count = self.request.configuration.retrier_retry_count;
        if let Some((retry_index, retrier)) = state.retry.iter().enumerate().find(|(_, retrier)| matches_any(&failure, &retrier.error_equals)) {
            if retry_count < retrier.max_attempts {
                let backoff_seconds = backoff_seconds(retrier, retry_count);
                self.inspection.error_details = Some(ErrorDetails::Retried { retry_index, backoff_seconds });
                return (TestStatus::Retriable, None, Some(failure), None);
            }
        }
        let Some((catch_index, catcher)) = state.catch.iter().enumerate().find(|(_, catcher)| matches_any(&failure, &catcher.error_equals)) else {
            return (TestStatus::Failed, None, Some(failure), None);
        };
        match self.caught_output(catcher, &failure) {
            Ok(output) => {
                self.inspection.error_details = Some(ErrorDetails::Caught { catch_index });
                (TestStatus::CaughtError, Some(output), Some(failure), Some(catcher.next))
            }
            Err(failure) => (TestStatus::Failed, None, Some(failure), None),
        }
    }

    fn caught_output(&mut self, catcher: &Catcher, failure: &Failure) -> Result<Value, Failure> {
        let request = self.request;
        let mut error_output = Map::new();
        error_output.insert("Error".into(), Value::from(failure.error.as_str()));
        error_output.insert("Cause".into(), Value::from(failure.cause.as_deref().unwrap_or_default()));
        let error_output = Value::Object(error_output);
        match request.state.query_language {
            QueryLanguage::JsonPath => {
                self.assign(catcher.assign.as_ref(), &error_output)?;
                place_result(&catcher.result_path, request.input.clone(), error_output)
            }
            QueryLanguage::Jsonata => {
                let mut states = states_binding(&request.input, &request.context);
                states.insert("errorOutput".into(), error_output.clone());
                let states = Value::Object(states);
                self.assign(catcher.assign.as_ref(), &states)?;
                match &catcher.output {
                    Some(template) => template.evaluate(&states, &request.variables, "Output"),
                    None => Ok(error_output),
                }
            }
        }
    }
}

fn matches_any(failure: &Failure, error_equals: &[String]) -> bool {
    error_equals.iter().any(|error| failure.matches(error))
}

/// The wait before the next attempt, without jitter: IntervalSeconds × BackoffRate^attempts,
/// capped by MaxDelaySeconds.
fn backoff_seconds(retrier: &Retrier, attempts: u32) -> f64 {
    let exponent = i32::try_from(attempts.min(1000)).unwrap_or(1000);
    let seconds = retrier.interval_seconds * retrier.backoff_rate.powi(exponent);
    retrier.max_delay_seconds.map_or(seconds, |max| seconds.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn test(definition: Value, input: Value, mock: Option<Mock>, configuration: Configuration) -> TestOutcome {
        let machine = compile(&definition).expect("definition compiles");
        let state = start_state(&machine).expect("a start state");
        run(&TestRequest {
            machine: &machine,
            state,
            input,
            context: json!({}),
            variables: Variables::new(),
            mock,
            task_runner: None,
            configuration,
            inspection_level: InspectionLevel::Debug,
        })
    }

    fn inspection(outcome: &TestOutcome) -> &Inspection {
        outcome.inspection.as_ref().expect("inspection at DEBUG")
    }

    fn mock_error(error: &str) -> Option<Mock> {
        Some(Mock::Error(Failure::new(error, "it broke")))
    }

    #[test]
    fn a_pass_state_shows_each_step_of_its_data_flow() {
        let outcome = test(
            json!({"Type": "Pass", "InputPath": "$.a", "Parameters": {"b.$": "$.b"}, "ResultPath": "$.out", "End": true}),
            json!({"a": {"b": 1}}),
            None,
            Configuration::default(),
        );
        assert_eq!(outcome.status, TestStatus::Succeeded);
        assert_eq!(outcome.output, Some(json!({"a": {"b": 1}, "out": {"b": 1}})));
        assert_eq!(outcome.next_state, None);
        let inspection = inspection(&outcome);
        assert_eq!(inspection.after_input_path, Some(json!({"b": 1})));
        assert_eq!(inspection.after_parameters, Some(json!({"b": 1})));
        assert_eq!(inspection.result, None);
        assert_eq!(inspection.after_result_path, Some(json!({"a": {"b": 1}, "out": {"b": 1}})));
    }

    #[test]
    fn a_pass_state_with_a_result_shows_it_and_skips_the_input_steps() {
        let outcome = test(json!({"Type": "Pass", "Result": 7, "Next": "Elsewhere"}), json!({}), None, Configuration::default());
        assert_eq!(outcome.output, Some(json!(7)));
        assert_eq!(outcome.next_state.as_deref(), Some("Elsewhere"));
        assert_eq!(inspection(&outcome).result, Some(json!(7)));
        assert_eq!(inspection(&outcome).after_input_path, None);
    }

    #[test]
    fn a_choice_state_names_the_matching_rules_next_state() {
        let definition = json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Big"}], "Default": "Small"});
        let big = test(definition.clone(), json!({"n": 9}), None, Configuration::default());
        assert_eq!(big.next_state.as_deref(), Some("Big"));
        assert_eq!(big.output, Some(json!({"n": 9})));
        let small = test(definition, json!({"n": 1}), None, Configuration::default());
        assert_eq!(small.next_state.as_deref(), Some("Small"));
    }

    #[test]
    fn a_fail_state_fails_with_its_error_and_cause() {
        let outcome = test(json!({"Type": "Fail", "Error": "Oops", "CausePath": "$.why"}), json!({"why": "because"}), None, Configuration::default());
        assert_eq!(outcome.status, TestStatus::Failed);
        assert_eq!(outcome.failure, Some(Failure::new("Oops", "because")));
        assert_eq!(outcome.output, None);
    }

    #[test]
    fn a_task_state_runs_its_result_processing_on_the_mocked_result() {
        let outcome = test(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"x.$": "$.x"}, "ResultSelector": {"got.$": "$.value"}, "ResultPath": "$.r", "End": true}),
            json!({"x": 1}),
            Some(Mock::Result(json!({"value": 2}))),
            Configuration::default(),
        );
        assert_eq!(outcome.status, TestStatus::Succeeded);
        assert_eq!(outcome.output, Some(json!({"x": 1, "r": {"got": 2}})));
        let inspection = inspection(&outcome);
        assert_eq!(inspection.after_parameters, Some(json!({"x": 1})));
        assert_eq!(inspection.result, Some(json!({"value": 2})));
        assert_eq!(inspection.after_result_selector, Some(json!({"got": 2})));
    }

    #[test]
    fn a_mocked_error_without_handlers_fails_the_state() {
        let outcome = test(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}), json!({}), mock_error("Boom"), Configuration::default());
        assert_eq!(outcome.status, TestStatus::Failed);
        assert_eq!(outcome.failure, Some(Failure::new("Boom", "it broke")));
    }

    #[test]
    fn a_retry_with_attempts_left_makes_the_state_retriable() {
        let definition = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
            "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 2, "BackoffRate": 3}]});
        let outcome = test(definition.clone(), json!({}), mock_error("Boom"), Configuration { retrier_retry_count: 1, ..Configuration::default() });
        assert_eq!(outcome.status, TestStatus::Retriable);
        assert_eq!(inspection(&outcome).error_details, Some(ErrorDetails::Retried { retry_index: 1, backoff_seconds: 6.0 }));
        let exhausted = test(definition, json!({}), mock_error("Boom"), Configuration { retrier_retry_count: 2, ..Configuration::default() });
        assert_eq!(exhausted.status, TestStatus::Failed);
    }

    #[test]
    fn a_catch_gives_its_output_and_next_state() {
        let outcome = test(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}]}),
            json!({"a": 1}),
            mock_error("Boom"),
            Configuration::default(),
        );
        assert_eq!(outcome.status, TestStatus::CaughtError);
        assert_eq!(outcome.next_state.as_deref(), Some("Handle"));
        assert_eq!(outcome.output, Some(json!({"a": 1, "error": {"Error": "Boom", "Cause": "it broke"}})));
        assert_eq!(inspection(&outcome).error_details, Some(ErrorDetails::Caught { catch_index: 0 }));
    }

    #[test]
    fn a_jsonata_task_shows_its_arguments_and_sets_variables() {
        let outcome = test(
            json!({"QueryLanguage": "JSONata", "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                "Arguments": {"n": "{% $states.input.n + 1 %}"}, "Assign": {"seen": "{% $states.result.ok %}"}, "Output": "{% $states.result %}"}),
            json!({"n": 1}),
            Some(Mock::Result(json!({"ok": true}))),
            Configuration::default(),
        );
        assert_eq!(outcome.output, Some(json!({"ok": true})));
        let inspection = inspection(&outcome);
        assert_eq!(inspection.after_arguments, Some(json!({"n": 2})));
        assert_eq!(inspection.after_input_path, None);
        assert_eq!(inspection.variables, Some(json!({"seen": true})));
    }

    #[test]
    fn a_map_failing_more_iterations_than_tolerated_exceeds_the_threshold() {
        let definition = json!({"Type": "Map", "ToleratedFailureCount": 1, "End": true,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}});
        let configuration = Configuration { map_iteration_failure_count: 2, ..Configuration::default() };
        let outcome = test(definition, json!([1, 2]), Some(Mock::Result(json!([1, 2]))), configuration);
        assert_eq!(outcome.failure, Some(Failure::new("States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded")));
        assert_eq!(inspection(&outcome).tolerated_failure_count, Some(1));
    }

    #[test]
    fn info_level_shows_no_inspection_data() {
        let machine = compile(&json!({"Type": "Succeed"})).expect("compiles");
        let state = start_state(&machine).expect("a state");
        let outcome = run(&TestRequest {
            machine: &machine,
            state,
            input: json!({}),
            context: json!({}),
            variables: Variables::new(),
            mock: None,
            task_runner: None,
            configuration: Configuration::default(),
            inspection_level: InspectionLevel::Info,
        });
        assert!(outcome.inspection.is_none());
    }

    #[test]
    fn states_are_found_inside_map_processors() {
        let machine = compile(&json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": true}}}}}}))
        .expect("compiles");
        assert_eq!(find_state(&machine, "Inner").map(|(_, state)| &*state.name), Some("Inner"));
        assert!(find_state(&machine, "Missing").is_none());
    }
}
