//! StartExecution, StartSyncExecution, StopExecution, RedriveExecution, DescribeExecution,
//! DescribeStateMachineForExecution, ListExecutions, GetExecutionHistory: checked here, carried
//! out by the runtime.

use super::{
    check_paging, checked_arn, json_syntax_error, state_machines, timestamp, Reply, INCLUDED_DATA, MAX_ARN_CHARS, MAX_CAUSE_CHARS,
    MAX_ERROR_CHARS, MAX_LONG_ARN_CHARS, MAX_NAME_CHARS, MAX_PAYLOAD_BYTES, MAX_TOKEN_CHARS,
};
use crate::arn::{self, EXECUTION, MAP_RUN, STATE_MACHINE};
use crate::constraints::Constraints;
use crate::error::ApiError;
use crate::pagination::{page, Paging};
use crate::ApiState;
use engine::catalog::{is_valid_name, MachineType, ResolvedMachine, Revision};
use engine::runtime::ExecutionDescription;
use serde::Deserialize;
use serde_json::{json, Value};

const MAX_TRACE_HEADER_CHARS: usize = 256;
/// In the order AWS lists them in its message.
const EXECUTION_STATUSES: &[&str] = &["SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING"];
const REDRIVE_FILTERS: &[&str] = &["REDRIVEN", "NOT_REDRIVEN"];
/// ListExecutions' tokens (ListExecutionsPageToken) may be longer than other listings'.
const MAX_EXECUTIONS_TOKEN_CHARS: usize = 3096;
const MAX_CLIENT_TOKEN_CHARS: usize = 64;
/// Express executions are billed by 64 MB of memory and by 100 ms, at least 100 ms.
const BILLED_MEMORY_MB: i64 = 64;
const BILLED_DURATION_STEP_MS: i64 = 100;

fn type_not_supported() -> ApiError {
    ApiError::service("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")
}

fn invalid_input(detail: &str) -> ApiError {
    ApiError::service("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{detail}'"))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StartRequest {
    state_machine_arn: Option<String>,
    name: Option<String>,
    input: Option<String>,
    trace_header: Option<String>,
    included_data: Option<String>,
}

/// A start request whose checks passed.
struct Start {
    machine: ResolvedMachine,
    name: Option<String>,
    input: String,
    trace_header: Option<String>,
    includes_data: bool,
}

/// The checks of StartExecution and StartSyncExecution, in AWS's order: constraints, ARN, the
/// state machine's existence (and, for a synchronous start, its type), name, input.
fn prepare(state: &ApiState, request: StartRequest, synchronous: bool) -> Result<Start, ApiError> {
    let trace_header = request.trace_header.as_deref();
    let arn = checked_arn("stateMachineArn", request.state_machine_arn.as_deref(), MAX_ARN_CHARS, &[STATE_MACHINE], |constraints| {
        constraints
            .length("name", request.name.as_deref(), 1, MAX_NAME_CHARS)
            .payload_size("input", request.input.as_deref(), MAX_PAYLOAD_BYTES)
            .length("traceHeader", trace_header, 0, MAX_TRACE_HEADER_CHARS)
            .pattern("traceHeader", trace_header, |header| header.is_ascii(), r"\p{ASCII}*")
            .one_of("includedData", request.included_data.as_deref(), INCLUDED_DATA);
    })?;
    let machine = state.catalog.resolve(arn)?;
    if synchronous && machine.machine_type != MachineType::Express {
        return Err(type_not_supported());
    }
    if let Some(name) = request.name.as_deref().filter(|name| !is_valid_name(name)) {
        return Err(ApiError::service("InvalidName", format!("Invalid Name: '{name}'")));
    }
    let input = request.input.unwrap_or_else(|| "{}".to_owned());
    if input.trim().is_empty() {
        return Err(invalid_input("Invalid execution input."));
    }
    if let Some(detail) = json_syntax_error(&input) {
        return Err(invalid_input(&detail));
    }
    Ok(Start {
        machine,
        name: request.name,
        input,
        trace_header: request.trace_header,
        includes_data: request.included_data.as_deref() != Some("METADATA_ONLY"),
    })
}

pub async fn start(state: &ApiState, request: StartRequest) -> Result<Value, ApiError> {
    let start = prepare(state, request, false)?;
    let started = state.runtime.start_execution(start.machine, start.name, start.input, start.trace_header).await?;
    Ok(json!({ "executionArn": started.execution_arn, "startDate": timestamp(started.start_ms) }))
}

/// The input and output members of an execution's answer; METADATA_ONLY leaves the data out.
fn with_data(reply: Reply, execution: &ExecutionDescription, includes_data: bool) -> Reply {
    let details = json!({ "included": includes_data });
    let reply = reply.with_some("input", includes_data.then(|| execution.input.clone())).with("inputDetails", details.clone());
    match &execution.output {
        Some(output) => reply.with_some("output", includes_data.then(|| output.clone())).with("outputDetails", details),
        None => reply,
    }
}

fn billed_duration_ms(execution: &ExecutionDescription) -> i64 {
    let duration = execution.stop_ms.unwrap_or(execution.start_ms).saturating_sub(execution.start_ms);
    let steps = duration.saturating_add(BILLED_DURATION_STEP_MS - 1) / BILLED_DURATION_STEP_MS;
    steps.max(1).saturating_mul(BILLED_DURATION_STEP_MS)
}

pub async fn start_sync(state: &ApiState, request: StartRequest) -> Result<Value, ApiError> {
    let start = prepare(state, request, true)?;
    let includes_data = start.includes_data;
    let execution = state.runtime.start_sync_execution(start.machine, start.name, start.input).await?;
    let reply = Reply::new()
        .with("executionArn", execution.execution_arn.clone())
        .with("stateMachineArn", execution.state_machine_arn.clone())
        .with("name", execution.name.clone())
        .with("startDate", timestamp(execution.start_ms))
        .with("stopDate", timestamp(execution.stop_ms.unwrap_or(execution.start_ms)))
        .with("status", execution.status.clone())
        .with_some("error", execution.error.clone())
        .with_some("cause", execution.cause.clone());
    Ok(with_data(reply, &execution, includes_data)
        .with_some("traceHeader", execution.trace_header.clone())
        .with("billingDetails", json!({ "billedMemoryUsedInMB": BILLED_MEMORY_MB, "billedDurationInMilliseconds": billed_duration_ms(&execution) }))
        .into())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StopRequest {
    execution_arn: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

pub async fn stop(state: &ApiState, request: StopRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("executionArn", request.execution_arn.as_deref(), MAX_ARN_CHARS, &[EXECUTION], |constraints| {
        constraints
            .sensitive_length("error", request.error.as_deref(), 0, MAX_ERROR_CHARS)
            .sensitive_length("cause", request.cause.as_deref(), 0, MAX_CAUSE_CHARS);
    })?;
    let stop_ms = state.runtime.stop_execution(arn, request.error, request.cause).await?;
    Ok(json!({ "stopDate": timestamp(stop_ms) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RedriveRequest {
    execution_arn: Option<String>,
    client_token: Option<String>,
}

pub async fn redrive(state: &ApiState, request: RedriveRequest) -> Result<Value, ApiError> {
    let client_token = request.client_token.as_deref();
    let arn = checked_arn("executionArn", request.execution_arn.as_deref(), MAX_ARN_CHARS, &[EXECUTION], |constraints| {
        constraints
            .length("clientToken", client_token, 1, MAX_CLIENT_TOKEN_CHARS)
            .pattern("clientToken", client_token, |token| token.bytes().all(|byte| (b'!'..=b'~').contains(&byte)), "[!-~]+");
    })?;
    let redrive_ms = state.runtime.redrive_execution(arn).await?;
    Ok(json!({ "redriveDate": timestamp(redrive_ms) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeRequest {
    execution_arn: Option<String>,
    included_data: Option<String>,
}

impl DescribeRequest {
    fn checked_arn(&self) -> Result<&str, ApiError> {
        checked_arn("executionArn", self.execution_arn.as_deref(), MAX_ARN_CHARS, &[EXECUTION], |constraints| {
            constraints.one_of("includedData", self.included_data.as_deref(), INCLUDED_DATA);
        })
    }

    fn includes_data(&self) -> bool {
        self.included_data.as_deref() != Some("METADATA_ONLY")
    }
}

pub fn describe(state: &ApiState, request: DescribeRequest) -> Result<Value, ApiError> {
    let execution = state.runtime.describe_execution(request.checked_arn()?)?;
    let reply = Reply::new()
        .with("executionArn", execution.execution_arn.clone())
        .with("stateMachineArn", execution.state_machine_arn.clone())
        .with("name", execution.name.clone())
        .with("status", execution.status.clone())
        .with("startDate", timestamp(execution.start_ms))
        .with_some("stopDate", execution.stop_ms.map(timestamp));
    Ok(with_data(reply, &execution, request.includes_data())
        .with_some("error", execution.error)
        .with_some("cause", execution.cause)
        .with_some("traceHeader", execution.trace_header)
        .with_some("mapRunArn", execution.map_run_arn)
        .with_some("stateMachineVersionArn", execution.state_machine_version_arn)
        .with_some("stateMachineAliasArn", execution.state_machine_alias_arn)
        .with("redriveCount", execution.redrive_count)
        .with_some("redriveDate", execution.redrive_date_ms.map(timestamp))
        .with("redriveStatus", execution.redrive_status)
        .with_some("redriveStatusReason", execution.redrive_status_reason)
        .into())
}

pub fn describe_state_machine(state: &ApiState, request: DescribeRequest) -> Result<Value, ApiError> {
    let execution = state.runtime.describe_execution(request.checked_arn()?)?;
    let machine = state.catalog.describe_for_execution(&execution.state_machine_arn, execution.state_machine_version_arn.as_deref())?;
    let reply = Reply::new()
        .with("stateMachineArn", execution.state_machine_arn)
        .with("name", machine.name)
        .with("updateDate", timestamp(machine.update_ms));
    // AWS answers with the definition the execution ran, even after the machine was updated.
    let revision = Revision { definition: execution.definition, role_arn: execution.role_arn, ..machine.revision };
    Ok(state_machines::with_revision(reply, &revision, request.includes_data()).into())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListRequest {
    state_machine_arn: Option<String>,
    status_filter: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    map_run_arn: Option<String>,
    redrive_filter: Option<String>,
}

pub fn list(state: &ApiState, request: ListRequest) -> Result<Value, ApiError> {
    let paging = Paging { max_results: request.max_results, next_token: request.next_token.as_deref() };
    let status = request.status_filter.as_deref();
    let redrive_filter = request.redrive_filter.as_deref();
    let mut constraints = Constraints::new();
    constraints
        .length("stateMachineArn", request.state_machine_arn.as_deref(), 1, MAX_ARN_CHARS)
        .one_of("statusFilter", status, EXECUTION_STATUSES)
        .length("mapRunArn", request.map_run_arn.as_deref(), 1, MAX_LONG_ARN_CHARS)
        .one_of("redriveFilter", redrive_filter, REDRIVE_FILTERS);
    check_paging(&mut constraints, paging, MAX_EXECUTIONS_TOKEN_CHARS);
    constraints.check()?;
    let (arn, mut executions, qualified) = match (request.map_run_arn.as_deref(), request.state_machine_arn.as_deref()) {
        (Some(map_run), _) => {
            arn::check(map_run, &[MAP_RUN])?;
            state.runtime.describe_map_run(map_run)?;
            // A Map Run's child executions are kept under its ARN.
            (map_run, state.runtime.list_executions(map_run, status)?, false)
        }
        (None, Some(arn)) => {
            arn::check(arn, &[STATE_MACHINE])?;
            let machine = state.catalog.state_machine_of(arn)?;
            if machine.machine_type == MachineType::Express {
                return Err(type_not_supported());
            }
            // A version or alias ARN lists the executions started through it.
            (arn, state.runtime.list_executions(&machine.arn, status)?, arn != machine.arn)
        }
        (None, None) => return Err(ApiError::constraints(&["Must provide a StateMachine ARN or MapRun ARN".to_owned()])),
    };
    executions.retain(|execution| {
        let started_through = |through: &Option<String>| through.as_deref() == Some(arn);
        let redriven = execution.redrive_count > 0;
        (!qualified || started_through(&execution.state_machine_version_arn) || started_through(&execution.state_machine_alias_arn))
            && match redrive_filter {
                Some("REDRIVEN") => redriven,
                Some("NOT_REDRIVEN") => !redriven,
                _ => true,
            }
    });
    let listing = format!("ListExecutions {arn} {status:?} {redrive_filter:?}");
    let (executions, next_token) = page(executions, paging, &listing, |execution| execution.execution_arn.clone())?;
    let executions: Vec<Value> = executions
        .into_iter()
        .map(|execution| {
            Reply::new()
                .with("executionArn", execution.execution_arn)
                .with("stateMachineArn", execution.state_machine_arn)
                .with("name", execution.name)
                .with("status", execution.status)
                .with("startDate", timestamp(execution.start_ms))
                .with_some("stopDate", execution.stop_ms.map(timestamp))
                .with_some("mapRunArn", execution.map_run_arn)
                .with_some("stateMachineVersionArn", execution.state_machine_version_arn)
                .with_some("stateMachineAliasArn", execution.state_machine_alias_arn)
                .with("redriveCount", execution.redrive_count)
                .with_some("redriveDate", execution.redrive_date_ms.map(timestamp))
                .into()
        })
        .collect();
    Ok(Reply::new().with("executions", executions).with_some("nextToken", next_token).into())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HistoryRequest {
    execution_arn: Option<String>,
    max_results: Option<i64>,
    reverse_order: Option<bool>,
    next_token: Option<String>,
    include_execution_data: Option<bool>,
}

/// Removes the input and output that events' details carry (includeExecutionData false).
fn strip_data(event: &mut Value) {
    let Some(fields) = event.as_object_mut() else { return };
    for (field, details) in fields.iter_mut() {
        if let Some(details) = details.as_object_mut().filter(|_| field.ends_with("EventDetails")) {
            details.remove("input");
            details.remove("output");
        }
    }
}

pub fn history(state: &ApiState, request: HistoryRequest) -> Result<Value, ApiError> {
    let paging = Paging { max_results: request.max_results, next_token: request.next_token.as_deref() };
    let arn = checked_arn("executionArn", request.execution_arn.as_deref(), MAX_ARN_CHARS, &[EXECUTION], |constraints| {
        check_paging(constraints, paging, MAX_TOKEN_CHARS)
    })?;
    let reverse = request.reverse_order.unwrap_or(false);
    let mut events = state.runtime.history(arn)?;
    if reverse {
        events.reverse();
    }
    let listing = format!("GetExecutionHistory {arn} {reverse}");
    let (mut events, next_token) = page(events, paging, &listing, |event| event.get("id").map(Value::to_string).unwrap_or_default())?;
    if request.include_execution_data == Some(false) {
        events.iter_mut().for_each(strip_data);
    }
    Ok(Reply::new().with("events", events).with_some("nextToken", next_token).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(start_ms: i64, stop_ms: Option<i64>, output: Option<&str>) -> ExecutionDescription {
        ExecutionDescription {
            execution_arn: "arn:aws:states:us-east-1:000000000000:express:m:e:1".into(),
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:m".into(),
            state_machine_version_arn: None,
            state_machine_alias_arn: None,
            name: "e".into(),
            status: "SUCCEEDED".into(),
            start_ms,
            stop_ms,
            input: "{}".into(),
            output: output.map(str::to_owned),
            error: None,
            cause: None,
            redrive_count: 0,
            redrive_date_ms: None,
            redrive_status: "NOT_REDRIVABLE".into(),
            redrive_status_reason: None,
            trace_header: None,
            map_run_arn: None,
            definition: "{}".into(),
            role_arn: "arn:aws:iam::000000000000:role/r".into(),
        }
    }

    #[test]
    fn express_durations_are_billed_by_100_ms_at_least_once() {
        assert_eq!(billed_duration_ms(&execution(1000, Some(1000), None)), 100);
        assert_eq!(billed_duration_ms(&execution(1000, Some(1100), None)), 100);
        assert_eq!(billed_duration_ms(&execution(1000, Some(1101), None)), 200);
    }

    #[test]
    fn metadata_only_leaves_the_data_out() {
        let with = with_data(Reply::new(), &execution(0, Some(1), Some("[1]")), true).into_value();
        assert_eq!(with, json!({"input": "{}", "inputDetails": {"included": true}, "output": "[1]", "outputDetails": {"included": true}}));
        let without = with_data(Reply::new(), &execution(0, Some(1), Some("[1]")), false).into_value();
        assert_eq!(without, json!({"inputDetails": {"included": false}, "outputDetails": {"included": false}}));
    }

    #[test]
    fn history_without_data_keeps_everything_else() {
        let mut event = json!({"id": 1, "type": "ExecutionStarted", "executionStartedEventDetails": {"input": "{}", "inputDetails": {"truncated": false}, "roleArn": "r"}});
        strip_data(&mut event);
        assert_eq!(event, json!({"id": 1, "type": "ExecutionStarted", "executionStartedEventDetails": {"inputDetails": {"truncated": false}, "roleArn": "r"}}));
    }
}
