//! Invoke (RequestResponse, Event, DryRun) and the legacy InvokeAsync.

use super::{answer, check_function_name, query_member, LambdaError};
use crate::constraints::Constraints;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use compute::{Cancellation, Outcome};
use engine::functions::logs::tail;
use engine::functions::{FunctionsError, LATEST};
use serde_json::{json, Value};

/// Lambda's limit of a synchronous invocation's request payload.
const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// ... and of an asynchronous one.
const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;
/// `LogType: Tail` returns the last 4 KB of the invocation's logs.
const LOG_TAIL_BYTES: usize = 4096;
const INVOCATION_TYPES: &[&str] = &["Event", "RequestResponse", "DryRun"];

pub async fn invoke(State(state): State<ApiState>, Path(name): Path<String>, uri: Uri, headers: HeaderMap, body: Bytes) -> Result<Response, LambdaError> {
    let qualifier = query_member(&uri, "Qualifier");
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let invocation_type = header("x-amz-invocation-type");
    let log_type = header("x-amz-log-type");
    let mut constraints = Constraints::new();
    constraints.one_of("invocationType", invocation_type, INVOCATION_TYPES).one_of("logType", log_type, &["None", "Tail"]);
    constraints.check()?;
    check_function_name(&name, qualifier.as_deref())?;
    match invocation_type.unwrap_or("RequestResponse") {
        "DryRun" => {
            state.functions.check_invocable(&name, qualifier.as_deref())?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "Event" => {
            let payload = payload(&body, MAX_ASYNC_PAYLOAD_BYTES)?;
            let event = state.functions.invoke_event(&name, qualifier.as_deref(), payload).await?;
            let mut response = StatusCode::ACCEPTED.into_response();
            insert(&mut response, "x-amzn-requestid", &event);
            Ok(response)
        }
        _ => {
            let payload = payload(&body, MAX_SYNC_PAYLOAD_BYTES)?;
            // A caller that goes away stops its invocation (cancelling one that ended does nothing).
            let cancellation = CancelOnDrop(Cancellation::new());
            let (functions, signal) = (state.functions.clone(), cancellation.0.clone());
            let invocation = tokio::task::spawn_blocking(move || functions.invoke(&name, qualifier.as_deref(), &payload, &signal))
                .await
                .map_err(|error| FunctionsError::Service(error.to_string()))??;
            let function_error = match invocation.outcome {
                Outcome::Returned(_) => None,
                Outcome::Failed(_) => Some("Unhandled"),
                Outcome::Unavailable(reason) => return Err(FunctionsError::Service(reason).into()),
                Outcome::Cancelled => return Err(FunctionsError::Service("the invocation was cancelled".to_owned()).into()),
            };
            let mut response = (StatusCode::OK, [("content-type", "application/json")], invocation.payload).into_response();
            insert(&mut response, "x-amzn-requestid", &invocation.request_id);
            insert(&mut response, "x-amz-executed-version", LATEST);
            if let Some(function_error) = function_error {
                insert(&mut response, "x-amz-function-error", function_error);
            }
            if log_type == Some("Tail") {
                insert(&mut response, "x-amz-log-result", &base64::engine::general_purpose::STANDARD.encode(tail(&invocation.logs, LOG_TAIL_BYTES)));
            }
            Ok(response)
        }
    }
}

/// InvokeAsync (deprecated by AWS, still used): an Event invocation answered `{"Status": 202}`.
pub async fn invoke_async(State(state): State<ApiState>, Path(name): Path<String>, body: Bytes) -> Result<Response, LambdaError> {
    check_function_name(&name, None)?;
    let payload = payload(&body, MAX_ASYNC_PAYLOAD_BYTES)?;
    state.functions.invoke_event(&name, None, payload).await?;
    Ok(answer(StatusCode::ACCEPTED, json!({ "Status": 202 })))
}

/// The event: the body's JSON (`{}` when empty, as the CLI sends a missing payload).
fn payload(body: &[u8], max_bytes: usize) -> Result<Value, LambdaError> {
    if body.len() > max_bytes {
        return Err(LambdaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {max_bytes} bytes for the InvokeFunction operation"),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|error| {
        LambdaError::invalid_content(format!("Could not parse request body into json: Could not parse payload into json: {error}"))
    })
}

fn insert(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// Cancels the invocation when the request is dropped before it answered.
struct CancelOnDrop(Cancellation);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
