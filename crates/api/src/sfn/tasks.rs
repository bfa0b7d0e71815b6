//! Activity workers and task tokens: GetActivityTask, SendTaskSuccess, SendTaskFailure,
//! SendTaskHeartbeat.

use super::{checked_arn, json_syntax_error, Reply, MAX_ARN_CHARS, MAX_CAUSE_CHARS, MAX_ERROR_CHARS, MAX_NAME_CHARS, MAX_PAYLOAD_BYTES};
use crate::arn::ACTIVITY;
use crate::constraints::Constraints;
use crate::error::ApiError;
use crate::ApiState;
use serde::Deserialize;
use serde_json::{json, Value};

const MAX_TASK_TOKEN_CHARS: usize = 2048;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GetActivityTaskRequest {
    activity_arn: Option<String>,
    worker_name: Option<String>,
}

/// Waits (up to a minute, in the runtime) for a task of an existing activity; `{}` when none came.
pub async fn get_activity_task(state: &ApiState, request: GetActivityTaskRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("activityArn", request.activity_arn.as_deref(), MAX_ARN_CHARS, &[ACTIVITY], |constraints| {
        constraints.length("workerName", request.worker_name.as_deref(), 1, MAX_NAME_CHARS);
    })?;
    state.catalog.describe_activity(arn)?;
    let task = state.runtime.get_activity_task(arn, request.worker_name).await?;
    Ok(match task {
        Some(task) => Reply::new().with("taskToken", task.task_token).with("input", task.input).into(),
        None => json!({}),
    })
}

fn check_token(constraints: &mut Constraints, token: Option<&str>) {
    constraints.required("taskToken", token).length("taskToken", token, 1, MAX_TASK_TOKEN_CHARS);
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SuccessRequest {
    task_token: Option<String>,
    output: Option<String>,
}

pub async fn send_success(state: &ApiState, request: SuccessRequest) -> Result<Value, ApiError> {
    let mut constraints = Constraints::new();
    check_token(&mut constraints, request.task_token.as_deref());
    constraints.required("output", request.output.as_deref()).payload_size("output", request.output.as_deref(), MAX_PAYLOAD_BYTES).check()?;
    let output = request.output.unwrap_or_default();
    if let Some(detail) = json_syntax_error(&output) {
        return Err(ApiError::service("InvalidOutput", format!("Invalid State Machine Output: '{detail}'")));
    }
    state.runtime.send_task_success(request.task_token.as_deref().unwrap_or_default(), output).await?;
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FailureRequest {
    task_token: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

pub async fn send_failure(state: &ApiState, request: FailureRequest) -> Result<Value, ApiError> {
    let mut constraints = Constraints::new();
    check_token(&mut constraints, request.task_token.as_deref());
    constraints
        .sensitive_length("error", request.error.as_deref(), 0, MAX_ERROR_CHARS)
        .sensitive_length("cause", request.cause.as_deref(), 0, MAX_CAUSE_CHARS)
        .check()?;
    state.runtime.send_task_failure(request.task_token.as_deref().unwrap_or_default(), request.error, request.cause).await?;
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatRequest {
    task_token: Option<String>,
}

pub async fn send_heartbeat(state: &ApiState, request: HeartbeatRequest) -> Result<Value, ApiError> {
    let mut constraints = Constraints::new();
    check_token(&mut constraints, request.task_token.as_deref());
    constraints.check()?;
    state.runtime.send_task_heartbeat(request.task_token.as_deref().unwrap_or_default()).await?;
    Ok(json!({}))
}
