//! Errors on the wire: HTTP 400 (500 for our own failures) with `{"__type": "<namespace>#<Code>",
//! "message": "..."}`. AWS namespaces its service exceptions, model-constraint violations and
//! protocol errors differently; SDKs keep what follows the `#`.

use axum::http::StatusCode;
use engine::catalog::INTERNAL_FAILURE;
use engine::ServiceError;

const SERVICE: &str = "com.amazonaws.swf.service.v2.model";
const MODEL_CONSTRAINTS: &str = "com.amazon.coral.validate";
const PROTOCOL: &str = "com.amazon.coral.service";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The `__type`: namespace, `#`, code.
    pub error_type: String,
    pub message: String,
}

impl ApiError {
    fn new(namespace: &str, code: &str, message: impl Into<String>) -> ApiError {
        let status = if code == INTERNAL_FAILURE { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
        ApiError { status, error_type: format!("{namespace}#{code}"), message: message.into() }
    }

    /// A Step Functions exception, e.g. `InvalidArn`.
    pub fn service(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(SERVICE, code, message)
    }

    /// Violations of the API model's constraints, counted as AWS counts them.
    pub fn constraints(violations: &[String]) -> ApiError {
        let noun = if violations.len() == 1 { "error" } else { "errors" };
        let message = format!("{} validation {noun} detected: {}", violations.len(), violations.join("; "));
        ApiError::new(MODEL_CONSTRAINTS, "ValidationException", message)
    }

    /// The body is not JSON, or a member has the wrong type.
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new(PROTOCOL, "SerializationException", message)
    }

    pub fn unknown_operation(target: &str) -> ApiError {
        ApiError::new(PROTOCOL, "UnknownOperationException", format!("Unknown operation: '{target}'"))
    }

    /// The part of `__type` that SDKs read as the error code.
    pub fn code(&self) -> &str {
        self.error_type.rsplit('#').next().unwrap_or_default()
    }
}

/// ECS names its exceptions without a namespace.
impl From<ecs::EcsError> for ApiError {
    fn from(error: ecs::EcsError) -> ApiError {
        let status = if error.is_server_error() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
        ApiError { status, error_type: error.code.to_owned(), message: error.message }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        ApiError::service(error.code, error.message)
    }
}
