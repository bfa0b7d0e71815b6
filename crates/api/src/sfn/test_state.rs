//! TestState: one state run once through `asl::test_state`, its request checked as AWS checks
//! it and its answer shaped as AWS's (every data value a JSON text).

use super::{json_syntax_error, Reply, MAX_ARN_CHARS, MAX_PAYLOAD_BYTES};
use crate::constraints::Constraints;
use crate::error::ApiError;
use crate::ApiState;
use asl::definition::{StateKind, StateMachine};
use asl::interpreter::{Integration, TaskRequest};
use asl::service_outputs::{self, FieldValidation};
use engine::TaskContext;
use asl::test_state::{self, Configuration, ErrorDetails, Inspection, InspectionLevel, Mock, TestOutcome, TestRequest};
use asl::{Failure, Variables};
use engine::catalog::{check_definition, MachineType};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const MAX_DEFINITION_CHARS: usize = 1_048_576;
const MAX_STATE_NAME_CHARS: usize = 80;
const INSPECTION_LEVELS: &[&str] = &["INFO", "DEBUG", "TRACE"];
const FIELD_VALIDATION_MODES: &[&str] = &["STRICT", "PRESENT", "NONE"];
const UNSUPPORTED_WITHOUT_MOCK: &str =
    "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]";

/// revealSecrets is not read: it only concerns HTTP Tasks' connection secrets, never shown here.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TestStateRequest {
    definition: Option<String>,
    role_arn: Option<String>,
    input: Option<String>,
    inspection_level: Option<String>,
    variables: Option<String>,
    state_name: Option<String>,
    mock: Option<MockInput>,
    context: Option<String>,
    state_configuration: Option<StateConfiguration>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct MockInput {
    result: Option<String>,
    error_output: Option<MockErrorOutput>,
    field_validation_mode: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MockErrorOutput {
    error: Option<String>,
    cause: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct StateConfiguration {
    retrier_retry_count: Option<i64>,
    error_caused_by_state: Option<String>,
    map_iteration_failure_count: Option<i64>,
    map_item_reader_data: Option<String>,
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::service("ValidationException", message)
}

fn invalid_definition(message: impl Into<String>) -> ApiError {
    ApiError::service("InvalidDefinition", message)
}

/// A Task without a mock calls its real resource, which may take as long as the task does: the
/// test runs off the async workers.
pub async fn test_state(state: &ApiState, request: TestStateRequest) -> Result<Value, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || test_state_blocking(&state, request))
        .await
        .map_err(|_| ApiError::service("InternalFailure", "TestState was interrupted"))?
}

fn test_state_blocking(state: &ApiState, request: TestStateRequest) -> Result<Value, ApiError> {
    check_constraints(&request)?;
    let text = request.definition.as_deref().unwrap_or_default();
    let definition: Value = serde_json::from_str(text)
        .map_err(|error| invalid_definition(format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {}'", engine::catalog::json_syntax_message(text, &error))))?;
    let machine = compile(text, &definition)?;
    let (holder, tested) = match request.state_name.as_deref() {
        Some(name) => test_state::find_state(&machine, name).ok_or_else(|| validation(format!("State '{name}' does not exist in the definition")))?,
        None => (machine.as_ref(), test_state::start_state(&machine).ok_or_else(|| invalid_definition("The definition has no state to test"))?),
    };
    let mock = mock(request.mock.as_ref(), &tested.kind)?;
    let is_task = matches!(tested.kind, StateKind::Task(_));
    if is_task && mock.is_none() && request.role_arn.is_none() {
        return Err(validation("RoleArn must be specified when testing a Task state"));
    }
    let input = parse_payload(request.input.as_deref().unwrap_or("{}"), "input")?;
    let variables = variables(request.variables.as_deref())?;
    let configuration = configuration(request.state_configuration.as_ref());
    let context = match request.context.as_deref() {
        Some(text) => given_context(text, &tested.kind)?,
        None => default_context(state, &input, request.role_arn.as_deref(), &tested.name, configuration.retrier_retry_count),
    };
    let level = match request.inspection_level.as_deref() {
        Some("DEBUG") => InspectionLevel::Debug,
        Some("TRACE") => InspectionLevel::Trace,
        _ => InspectionLevel::Info,
    };
    let dispatcher = state.runtime.dispatcher();
    let run_task = |resource: &str, payload: &Value| {
        let request = TaskRequest {
            action: 0,
            state_name: tested.name.clone(),
            resource: resource.to_owned(),
            integration: Integration::of(resource),
            parameters: payload.clone(),
            task_token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            attempt: 0,
        };
        dispatcher.run(&request, &TaskContext::default())
    };
    let outcome = test_state::run(&TestRequest {
        machine: holder,
        state: tested,
        input,
        context,
        variables,
        mock,
        task_runner: Some(&run_task),
        configuration,
        inspection_level: level,
    });
    Ok(answer(outcome))
}

fn check_constraints(request: &TestStateRequest) -> Result<(), ApiError> {
    let definition = request.definition.as_deref();
    let mut constraints = Constraints::new();
    constraints
        .required("definition", definition)
        .sensitive_length("definition", definition, 1, MAX_DEFINITION_CHARS)
        .length("roleArn", request.role_arn.as_deref(), 1, MAX_ARN_CHARS)
        .payload_size("input", request.input.as_deref(), MAX_PAYLOAD_BYTES)
        .payload_size("variables", request.variables.as_deref(), MAX_PAYLOAD_BYTES)
        .payload_size("context", request.context.as_deref(), MAX_PAYLOAD_BYTES)
        .one_of("inspectionLevel", request.inspection_level.as_deref(), INSPECTION_LEVELS)
        .length("stateName", request.state_name.as_deref(), 1, MAX_STATE_NAME_CHARS);
    if let Some(mock) = &request.mock {
        constraints.payload_size("mock.result", mock.result.as_deref(), MAX_PAYLOAD_BYTES).one_of(
            "mock.fieldValidationMode",
            mock.field_validation_mode.as_deref(),
            FIELD_VALIDATION_MODES,
        );
    }
    if let Some(configuration) = &request.state_configuration {
        constraints
            .range("stateConfiguration.retrierRetryCount", configuration.retrier_retry_count, 0, i64::from(i32::MAX))
            .range("stateConfiguration.mapIterationFailureCount", configuration.map_iteration_failure_count, 0, i64::from(i32::MAX))
            .length("stateConfiguration.errorCausedByState", configuration.error_caused_by_state.as_deref(), 1, MAX_STATE_NAME_CHARS)
            .payload_size("stateConfiguration.mapItemReaderData", configuration.map_item_reader_data.as_deref(), MAX_PAYLOAD_BYTES);
    }
    constraints.check()
}

/// A whole state machine is validated as CreateStateMachine validates it; a lone state is
/// compiled in a machine of its own.
fn compile(text: &str, definition: &Value) -> Result<Arc<StateMachine>, ApiError> {
    if test_state::is_lone_state(definition) {
        return test_state::compile(definition)
            .map(Arc::new)
            .map_err(|message| invalid_definition(format!("Invalid State Machine Definition: '{message}'")));
    }
    Ok(check_definition(text, MachineType::Standard)?)
}

/// The mock, checked against the state it stands in for.
fn mock(mock: Option<&MockInput>, kind: &StateKind) -> Result<Option<Mock>, ApiError> {
    let Some(mock) = mock else {
        return match kind {
            StateKind::Map(_) | StateKind::Parallel { .. } => Err(invalid_definition(UNSUPPORTED_WITHOUT_MOCK)),
            _ => Ok(None),
        };
    };
    if !matches!(kind, StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel { .. }) {
        return Err(validation(format!("State type '{}' is not supported when a mock is specified", type_name(kind))));
    }
    match (&mock.result, &mock.error_output) {
        (Some(_), Some(_)) => Err(validation("A test mock should have only one of the following fields: [result, errorOutput].")),
        (Some(text), None) => {
            let result: Value = serde_json::from_str(text).map_err(|_| validation("Mocked result must be valid JSON"))?;
            check_mocked_result(&result, kind, FieldValidation::parse(mock.field_validation_mode.as_deref()))?;
            Ok(Some(Mock::Result(result)))
        }
        (None, Some(error)) => Ok(Some(Mock::Error(Failure { error: error.error.clone().unwrap_or_default(), cause: error.cause.clone() }))),
        (None, None) => Ok(None),
    }
}

fn check_mocked_result(result: &Value, kind: &StateKind, field_validation: FieldValidation) -> Result<(), ApiError> {
    match kind {
        StateKind::Task(task) => service_outputs::check_mocked_result(&task.resource, result, field_validation).map_err(validation),
        StateKind::Parallel { branches } => match result.as_array() {
            None => Err(validation("Mocked result must be an array.")),
            Some(items) if items.len() != branches.len() => Err(validation("Mocked result must contain the same number of items as number of Parallel branches.")),
            Some(_) => Ok(()),
        },
        StateKind::Map(map) if map.result_writer.is_some() && !result.is_object() => Err(validation("Mocked result must be a JSON object.")),
        _ => Ok(()),
    }
}

fn type_name(kind: &StateKind) -> &'static str {
    match kind {
        StateKind::Pass { .. } => "Pass",
        StateKind::Task(_) => "Task",
        StateKind::Choice { .. } => "Choice",
        StateKind::Wait(_) => "Wait",
        StateKind::Succeed => "Succeed",
        StateKind::Fail { .. } => "Fail",
        StateKind::Parallel { .. } => "Parallel",
        StateKind::Map(_) => "Map",
    }
}

fn parse_payload(text: &str, field: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text).map_err(|_| validation(format!("Invalid {field}: {}", json_syntax_error(text).unwrap_or_default())))
}

fn variables(text: Option<&str>) -> Result<Variables, ApiError> {
    let mut variables = Variables::new();
    let Some(text) = text else { return Ok(variables) };
    match parse_payload(text, "variables")? {
        Value::Object(assigned) => {
            for (name, value) in assigned {
                variables.set(name, value);
            }
            Ok(variables)
        }
        _ => Err(validation("Invalid variables: must be a JSON object")),
    }
}

fn configuration(configuration: Option<&StateConfiguration>) -> Configuration {
    let Some(configuration) = configuration else { return Configuration::default() };
    Configuration {
        retrier_retry_count: configuration.retrier_retry_count.and_then(|count| u32::try_from(count).ok()).unwrap_or_default(),
        map_iteration_failure_count: configuration.map_iteration_failure_count.and_then(|count| u64::try_from(count).ok()).unwrap_or_default(),
    }
}

/// A caller's context object; a `Task` member (its token) only fits a task that waits for one.
fn given_context(text: &str, kind: &StateKind) -> Result<Value, ApiError> {
    let context = parse_payload(text, "context")?;
    let waits = match kind {
        StateKind::Task(task) => [".sync", ".waitForTaskToken"].iter().any(|pattern| task.resource.ends_with(pattern)) || task.resource.contains(".sync:"),
        _ => false,
    };
    if context.get("Task").is_some() && !waits {
        return Err(validation(
            "Invalid Context object provided: Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern",
        ));
    }
    Ok(context)
}

/// The context AWS gives a test: an express execution of a made-up state machine, started now.
fn default_context(state: &ApiState, input: &Value, role_arn: Option<&str>, state_name: &str, retry_count: u32) -> Value {
    let prefix = state.catalog.arns().prefix();
    let machine_name = uuid::Uuid::new_v4().to_string();
    let execution_name = uuid::Uuid::new_v4().to_string();
    let now = asl::context::iso_time(now_ms());
    json!({
        "Execution": {
            "Id": format!("{prefix}express:{machine_name}:{execution_name}"),
            "Input": input,
            "Name": execution_name,
            "RoleArn": role_arn.unwrap_or_default(),
            "StartTime": now,
        },
        "StateMachine": { "Id": format!("{prefix}stateMachine:{machine_name}"), "Name": machine_name },
        "State": { "Name": state_name, "EnteredTime": now, "RetryCount": retry_count },
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

fn answer(outcome: TestOutcome) -> Value {
    let failure = outcome.failure;
    Reply::new()
        .with_some("output", outcome.output.map(|output| output.to_string()))
        .with_some("error", failure.as_ref().map(|failure| failure.error.clone()))
        .with_some("cause", failure.and_then(|failure| failure.cause))
        .with_some("inspectionData", outcome.inspection.map(inspection_data))
        .with_some("nextState", outcome.next_state.map(|name| name.to_string()))
        .with("status", outcome.status.as_str())
        .into()
}

fn inspection_data(inspection: Inspection) -> Value {
    let texts = [
        ("input", inspection.input),
        ("afterInputPath", inspection.after_input_path),
        ("afterItemsPath", inspection.after_items_path),
        ("afterParameters", inspection.after_parameters),
        ("afterArguments", inspection.after_arguments),
        ("result", inspection.result),
        ("afterResultSelector", inspection.after_result_selector),
        ("afterResultPath", inspection.after_result_path),
        ("variables", inspection.variables),
    ];
    let mut data: Map<String, Value> = texts.into_iter().filter_map(|(key, value)| Some((key.to_owned(), Value::from(value?.to_string())))).collect();
    if let Some(details) = inspection.error_details {
        data.insert("errorDetails".into(), match details {
            ErrorDetails::Caught { catch_index } => json!({ "catchIndex": catch_index }),
            ErrorDetails::Retried { retry_index, backoff_seconds } => json!({ "retryIndex": retry_index, "retryBackoffIntervalSeconds": whole_if_integral(backoff_seconds) }),
        });
    }
    if let Some(count) = inspection.max_concurrency {
        data.insert("maxConcurrency".into(), Value::from(count));
    }
    if let Some(count) = inspection.tolerated_failure_count {
        data.insert("toleratedFailureCount".into(), Value::from(count));
    }
    if let Some(percentage) = inspection.tolerated_failure_percentage {
        data.insert("toleratedFailurePercentage".into(), Value::from(percentage));
    }
    Value::Object(data)
}

/// AWS's model types the backoff as an integer count of seconds.
fn whole_if_integral(seconds: f64) -> Value {
    if seconds.fract() == 0.0 && seconds.abs() < 1e15 {
        Value::from(seconds as i64)
    } else {
        Value::from(seconds)
    }
}
