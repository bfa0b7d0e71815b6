//! State machines (with versions and aliases), activities and tags: the service's catalog,
//! kept in memory and persisted as store documents.

use crate::ServiceError;
use asl::definition::StateMachine;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineType {
    Standard,
    Express,
}

/// What an execution runs: the state machine (through a version or alias if one was named) and
/// its definition at that revision.
#[derive(Debug, Clone)]
pub struct ResolvedMachine {
    pub state_machine_arn: String,
    pub name: String,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
    pub machine_type: MachineType,
    pub role_arn: String,
    pub definition: String,
    pub compiled: Arc<StateMachine>,
}

pub struct Catalog {}

impl Catalog {
    /// Resolves a state machine, version (`...:stateMachine:NAME:3`) or alias
    /// (`...:stateMachine:NAME:ALIAS`, weighted routing) ARN for StartExecution.
    pub fn resolve(&self, arn: &str) -> Result<ResolvedMachine, ServiceError> {
        todo!("{arn}")
    }

    /// Whether an activity exists (activity tasks are only scheduled for existing activities).
    pub fn activity_exists(&self, arn: &str) -> bool {
        todo!("{arn}")
    }
}
