//! AWS Batch: REST JSON, `POST /v1/<operation>` with a JSON body. Errors are HTTP 400
//! (ClientException) or 500 (ServerException) with the code in `x-amzn-ErrorType` and the body
//! `{"__type", "message"}`, which botocore and the AWS CLI read.

use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use batch::BatchError;
use serde_json::{json, Value};

pub async fn handle(State(state): State<ApiState>, Path(operation): Path<String>, body: Bytes) -> Response {
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(error) => return answer(Err(BatchError::client(format!("Error executing request, Exception : the body is not JSON: {error}")))),
        }
    };
    let service = state.batch.clone();
    let operation = operation.to_ascii_lowercase();
    // Operations wait for the store's acknowledgement: off the async workers.
    let outcome = tokio::task::spawn_blocking(move || service.call(&operation, request))
        .await
        .unwrap_or_else(|error| Err(BatchError::server(format!("the operation stopped: {error}"))));
    answer(outcome)
}

fn answer(outcome: Result<Value, BatchError>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    match outcome {
        Ok(body) => (StatusCode::OK, [("content-type", "application/json".to_owned()), ("x-amzn-requestid", request_id)], body.to_string()).into_response(),
        Err(error) => {
            let status = match error {
                BatchError::Client(_) => StatusCode::BAD_REQUEST,
                BatchError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let body = json!({ "__type": error.code(), "message": error.message() });
            let headers = [("content-type", "application/json".to_owned()), ("x-amzn-requestid", request_id), ("x-amzn-errortype", error.code().to_owned())];
            (status, headers, body.to_string()).into_response()
        }
    }
}
