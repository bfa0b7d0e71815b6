//! Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency.

use super::{answer, check_function_name, decode, LambdaError};
use crate::constraints::Constraints;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Lambda's default account limit (1000) less the 100 it keeps unreserved.
const MAX_RESERVED: i64 = 900;
const MIN_UNRESERVED: i64 = 100;

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutRequest {
    reserved_concurrent_executions: Option<i64>,
}

pub async fn put(State(state): State<ApiState>, Path(name): Path<String>, body: Bytes) -> Result<Response, LambdaError> {
    check_function_name(&name, None)?;
    let request: PutRequest = decode(&body)?;
    let mut constraints = Constraints::new();
    constraints.required("reservedConcurrentExecutions", request.reserved_concurrent_executions.as_ref()).range(
        "reservedConcurrentExecutions",
        request.reserved_concurrent_executions,
        0,
        i64::MAX,
    );
    constraints.check()?;
    let reserved = request.reserved_concurrent_executions.unwrap_or_default();
    if reserved > MAX_RESERVED {
        return Err(LambdaError::invalid_parameter(format!(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
        )));
    }
    // 0..=900 after the checks above.
    let reserved = reserved as u32;
    state.functions.set_reserved_concurrency(&name, Some(reserved)).await?;
    Ok(answer(StatusCode::OK, json!({ "ReservedConcurrentExecutions": reserved })))
}

pub async fn get(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Response, LambdaError> {
    check_function_name(&name, None)?;
    let record = state.functions.get(&name, None)?;
    let body = match record.reserved_concurrency {
        Some(reserved) => json!({ "ReservedConcurrentExecutions": reserved }),
        None => json!({}),
    };
    Ok(answer(StatusCode::OK, body))
}

pub async fn delete(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Response, LambdaError> {
    check_function_name(&name, None)?;
    state.functions.set_reserved_concurrency(&name, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
