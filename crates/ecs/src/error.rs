//! ECS's errors: a code (the `__type` SDKs read) and a message, as the ECS API words them.

use std::fmt;

use store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsError {
    /// `ClientException`, `InvalidParameterException`, `ClusterNotFoundException`, `ServerException`.
    pub code: &'static str,
    pub message: String,
}

impl EcsError {
    pub fn client(message: impl Into<String>) -> EcsError {
        EcsError { code: "ClientException", message: message.into() }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> EcsError {
        EcsError { code: "InvalidParameterException", message: message.into() }
    }

    pub fn cluster_not_found() -> EcsError {
        EcsError { code: "ClusterNotFoundException", message: "Cluster not found.".to_owned() }
    }

    /// A failure of this server (HTTP 500).
    pub fn server(message: impl Into<String>) -> EcsError {
        EcsError { code: "ServerException", message: message.into() }
    }

    pub(crate) fn store(error: StoreError) -> EcsError {
        EcsError::server(error.to_string())
    }

    pub fn is_server_error(&self) -> bool {
        self.code == "ServerException"
    }
}

impl fmt::Display for EcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EcsError {}
