//! DescribeMapRun, ListMapRuns, UpdateMapRun: the runs of distributed Map states, kept by the
//! runtime.

use super::{check_paging, checked_arn, timestamp, Reply, MAX_ARN_CHARS, MAX_LONG_ARN_CHARS, MAX_TOKEN_CHARS};
use crate::arn::{EXECUTION, MAP_RUN};
use crate::error::ApiError;
use crate::pagination::{page, Paging};
use crate::ApiState;
use asl::map_run::{MapRunCounts, MapRunUpdate};
use engine::runtime::MapRunRecord;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeRequest {
    map_run_arn: Option<String>,
}

pub fn describe(state: &ApiState, request: DescribeRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("mapRunArn", request.map_run_arn.as_deref(), MAX_LONG_ARN_CHARS, &[MAP_RUN], |_| {})?;
    let run = state.runtime.describe_map_run(arn)?;
    Ok(Reply::new()
        .with("mapRunArn", run.map_run_arn)
        .with("executionArn", run.execution_arn)
        .with("status", run.status)
        .with("startDate", timestamp(run.start_ms))
        .with_some("stopDate", run.stop_ms.map(timestamp))
        .with("maxConcurrency", run.max_concurrency)
        .with("toleratedFailurePercentage", run.tolerated_failure_percentage)
        .with("toleratedFailureCount", run.tolerated_failure_count)
        .with("itemCounts", counts(&run.item_counts))
        .with("executionCounts", counts(&run.execution_counts))
        .with("redriveCount", 0)
        .into())
}

/// MapRunItemCounts / MapRunExecutionCounts. Redrives of Map Runs are not supported, so their
/// counts are 0.
fn counts(counts: &MapRunCounts) -> Value {
    json!({
        "pending": counts.pending,
        "running": counts.running,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "timedOut": counts.timed_out,
        "aborted": counts.aborted,
        "total": counts.total,
        "resultsWritten": counts.results_written,
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    })
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
    let runs = state.runtime.list_map_runs(arn)?;
    let (runs, next_token) = page(runs, paging, &format!("ListMapRuns {arn}"), |run| run.map_run_arn.clone())?;
    let runs: Vec<Value> = runs.into_iter().map(list_item).collect();
    Ok(Reply::new().with("mapRuns", runs).with_some("nextToken", next_token).into())
}

fn list_item(run: MapRunRecord) -> Value {
    Reply::new()
        .with("executionArn", run.execution_arn)
        .with("mapRunArn", run.map_run_arn)
        .with("stateMachineArn", run.state_machine_arn)
        .with("startDate", timestamp(run.start_ms))
        .with_some("stopDate", run.stop_ms.map(timestamp))
        .into()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateRequest {
    map_run_arn: Option<String>,
    max_concurrency: Option<i64>,
    tolerated_failure_percentage: Option<f64>,
    tolerated_failure_count: Option<i64>,
}

pub async fn update(state: &ApiState, request: UpdateRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("mapRunArn", request.map_run_arn.as_deref(), MAX_LONG_ARN_CHARS, &[MAP_RUN], |constraints| {
        constraints
            .range("maxConcurrency", request.max_concurrency, 0, i64::MAX)
            .float_range("toleratedFailurePercentage", request.tolerated_failure_percentage, 0.0, 100.0)
            .range("toleratedFailureCount", request.tolerated_failure_count, 0, i64::MAX);
    })?;
    // The ranges were checked: the numbers are not negative.
    let update = MapRunUpdate {
        max_concurrency: request.max_concurrency.map(|value| value.unsigned_abs()),
        tolerated_failure_count: request.tolerated_failure_count.map(|value| value.unsigned_abs()),
        tolerated_failure_percentage: request.tolerated_failure_percentage,
    };
    state.runtime.update_map_run(arn, update).await?;
    Ok(json!({}))
}
