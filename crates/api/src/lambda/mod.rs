//! AWS Lambda's REST JSON API: `/2015-03-31/functions/...` and its dated siblings, as the AWS CLI
//! and boto3 call them (paths, status codes and headers from the botocore model). Errors carry
//! their code in `x-amzn-ErrorType` and `{"Type", "Message"}` in the body, as Lambda sends them.

mod concurrency;
mod functions;
mod invoke;
mod shapes;

use crate::constraints::Constraints;
use crate::ApiState;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put, MethodRouter};
use axum::Router;
use engine::functions::FunctionsError;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// A 50 MB zip, base64 in JSON.
const MAX_BODY_BYTES: usize = 70 << 20;

/// The Lambda routes; each also answers with a trailing slash, which some SDKs send.
pub fn routes() -> Router<ApiState> {
    let routes: [(&str, MethodRouter<ApiState>); 9] = [
        ("/2015-03-31/functions", post(functions::create).get(functions::list)),
        ("/2015-03-31/functions/{name}", get(functions::get).delete(functions::delete)),
        ("/2015-03-31/functions/{name}/configuration", get(functions::get_configuration).put(functions::update_configuration)),
        ("/2015-03-31/functions/{name}/code", put(functions::update_code)),
        ("/2015-03-31/functions/{name}/invocations", post(invoke::invoke)),
        ("/2014-11-13/functions/{name}/invoke-async", post(invoke::invoke_async)),
        ("/2017-10-31/functions/{name}/concurrency", put(concurrency::put).delete(concurrency::delete)),
        ("/2019-09-30/functions/{name}/concurrency", get(concurrency::get)),
        ("/switchyard/functions/{name}/code.zip", get(functions::code_zip)),
    ];
    routes
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| router.route(path, handler.clone()).route(&format!("{path}/"), handler))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// An error as Lambda answers it.
#[derive(Debug)]
pub struct LambdaError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// TooManyRequestsException's `Reason`.
    reason: Option<&'static str>,
}

impl LambdaError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> LambdaError {
        LambdaError { status, code, message: message.into(), reason: None }
    }

    fn invalid_parameter(message: impl Into<String>) -> LambdaError {
        LambdaError::new(StatusCode::BAD_REQUEST, "InvalidParameterValueException", message)
    }

    fn invalid_content(message: impl Into<String>) -> LambdaError {
        LambdaError::new(StatusCode::BAD_REQUEST, "InvalidRequestContentException", message)
    }
}

impl From<FunctionsError> for LambdaError {
    fn from(error: FunctionsError) -> LambdaError {
        match error {
            FunctionsError::NotFound(message) => LambdaError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message),
            FunctionsError::Conflict(message) => LambdaError::new(StatusCode::CONFLICT, "ResourceConflictException", message),
            FunctionsError::InvalidParameter(message) => LambdaError::invalid_parameter(message),
            FunctionsError::PreconditionFailed(message) => LambdaError::new(StatusCode::PRECONDITION_FAILED, "PreconditionFailedException", message),
            FunctionsError::Throttled => LambdaError {
                reason: Some("ReservedFunctionConcurrentInvocationLimitExceeded"),
                ..LambdaError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", "Rate Exceeded.")
            },
            FunctionsError::Service(message) => LambdaError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", message),
        }
    }
}

impl From<crate::ApiError> for LambdaError {
    /// The model's constraints, reported in the same words as the other services.
    fn from(error: crate::ApiError) -> LambdaError {
        LambdaError::new(StatusCode::BAD_REQUEST, "ValidationException", error.message)
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let kind = if self.status.is_server_error() { "Service" } else { "User" };
        let body = match self.reason {
            Some(reason) => json!({ "Reason": reason, "Type": kind, "message": self.message }),
            None => json!({ "Type": kind, "Message": self.message }),
        };
        let mut response = (self.status, [("content-type", "application/json")], body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        if let Ok(request_id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            headers.insert("x-amzn-requestid", request_id);
        }
        if self.reason.is_some() {
            headers.insert("retry-after", HeaderValue::from_static("1"));
        }
        response
    }
}

/// A successful JSON answer.
fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, [("content-type", "application/json")], body.to_string()).into_response();
    if let Ok(request_id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-requestid", request_id);
    }
    response
}

/// A request body's members; an empty body is an empty request.
fn decode<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, LambdaError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|error| LambdaError::invalid_content(format!("Could not parse request body into json: {error}")))
}

/// A query string member.
fn query_member(uri: &Uri, member: &str) -> Option<String> {
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == member).map(|(_, value)| value.into_owned())
}

/// FunctionName in a path: a name, partial ARN or ARN, possibly qualified (up to 140 characters).
fn check_function_name(name: &str, qualifier: Option<&str>) -> Result<(), LambdaError> {
    let mut constraints = Constraints::new();
    constraints.length("functionName", Some(name), 1, 140).length("qualifier", qualifier, 1, 128);
    constraints.check()?;
    Ok(())
}
