//! What applying a deployment did to each resource: the answer `switchyard up` prints from.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    /// Deleted and created again (a state machine whose type changed).
    Replaced,
    Removed,
    /// Not deployed by this server: the service it needs is not part of it.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `state machine`, `activity`, `job queue`, ...
    pub kind: String,
    pub name: String,
    pub arn: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Outcome {
    pub fn new(kind: &str, name: &str, arn: &str, action: Action) -> Outcome {
        Outcome { kind: kind.to_owned(), name: name.to_owned(), arn: arn.to_owned(), action, detail: None }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Outcome {
        self.detail = Some(detail.into());
        self
    }
}
