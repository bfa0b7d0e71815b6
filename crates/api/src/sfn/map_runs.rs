//! DescribeMapRun, ListMapRuns, UpdateMapRun. Distributed Map runs do not exist here yet: every
//! Map Run ARN is unknown, and every execution has none.

use super::{check_paging, checked_arn, MAX_ARN_CHARS, MAX_LONG_ARN_CHARS, MAX_TOKEN_CHARS};
use crate::arn::{EXECUTION, MAP_RUN};
use crate::error::ApiError;
use crate::pagination::Paging;
use crate::ApiState;
use engine::catalog::resource_not_found;
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn not_found(arn: &str) -> ApiError {
    resource_not_found(arn).into()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeRequest {
    map_run_arn: Option<String>,
}

pub fn describe(request: DescribeRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("mapRunArn", request.map_run_arn.as_deref(), MAX_LONG_ARN_CHARS, &[MAP_RUN], |_| {})?;
    Err(not_found(arn))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListRequest {
    execution_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn list(state: &ApiState, request: ListRequest) -> Result<Value, ApiError> {
    let paging = Paging { max_results: request.max_results, next_token: request.next_token.as_deref() };
    let arn = checked_arn("executionArn", request.execution_arn.as_deref(), MAX_ARN_CHARS, &[EXECUTION], |constraints| {
        check_paging(constraints, paging, MAX_TOKEN_CHARS)
    })?;
    state.runtime.describe_execution(arn)?;
    Ok(json!({ "mapRuns": [] }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateRequest {
    map_run_arn: Option<String>,
    max_concurrency: Option<i64>,
    tolerated_failure_count: Option<i64>,
}

pub fn update(request: UpdateRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("mapRunArn", request.map_run_arn.as_deref(), MAX_LONG_ARN_CHARS, &[MAP_RUN], |constraints| {
        constraints.range("maxConcurrency", request.max_concurrency, 0, i64::MAX).range("toleratedFailureCount", request.tolerated_failure_count, 0, i64::MAX);
    })?;
    Err(not_found(arn))
}
