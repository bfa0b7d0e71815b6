//! Errors of the service operations, in AWS's terms: the API layer answers them as `__type` and
//! `message` with HTTP 400.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// AWS's exception name, e.g. `StateMachineDoesNotExist`, `ExecutionAlreadyExists`.
    pub code: &'static str,
    pub message: String,
}

impl ServiceError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError { code, message: message.into() }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}
