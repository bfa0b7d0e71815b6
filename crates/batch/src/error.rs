//! Batch's two errors: ClientException (HTTP 400: the request is wrong or names what does not
//! exist) and ServerException (HTTP 500: we failed, e.g. the store).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    Client(String),
    Server(String),
}

impl BatchError {
    pub fn client(message: impl Into<String>) -> BatchError {
        BatchError::Client(message.into())
    }

    pub fn server(message: impl Into<String>) -> BatchError {
        BatchError::Server(message.into())
    }

    /// The error code SDKs read: `ClientException` or `ServerException`.
    pub fn code(&self) -> &'static str {
        match self {
            BatchError::Client(_) => "ClientException",
            BatchError::Server(_) => "ServerException",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            BatchError::Client(message) | BatchError::Server(message) => message,
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for BatchError {}

impl From<store::StoreError> for BatchError {
    fn from(error: store::StoreError) -> BatchError {
        BatchError::server(error.to_string())
    }
}

pub type BatchResult<T> = Result<T, BatchError>;
