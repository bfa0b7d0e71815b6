//! Metering: what every task used — the input to cost reports. One `usage` document per task,
//! keyed by its ARN.

use compute::containers::ContainerOutcome;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::Write;

use crate::tasks::TaskRecord;
use crate::EcsError;

pub const USAGE_KIND: &str = "usage";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// `ecs` (Batch records its jobs under its own name).
    pub service: String,
    pub resource_arn: String,
    pub launch_type: String,
    /// The runner that ran it: `process`, `docker` or `podman`.
    pub runner: String,
    /// The limits asked for, summed over the containers (0 when unlimited).
    pub vcpus: f64,
    pub memory_mib: u64,
    /// Milliseconds since the epoch; `None` when no container started.
    pub started_at_ms: Option<u64>,
    pub stopped_at_ms: u64,
    /// The essential container's exit code.
    pub exit_code: Option<i32>,
    pub stop_code: String,
}

impl Usage {
    pub(crate) fn of(record: &TaskRecord, outcomes: &[(String, ContainerOutcome)], runner: &str) -> Usage {
        let millis = |time: std::time::SystemTime| time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        let essential = record.containers.iter().find(|container| container.essential).map(|container| container.name.as_str());
        Usage {
            service: "ecs".to_owned(),
            resource_arn: record.arn().to_owned(),
            launch_type: record.task["launchType"].as_str().unwrap_or_default().to_owned(),
            runner: runner.to_owned(),
            vcpus: record.containers.iter().filter_map(|container| container.spec.vcpus).sum(),
            memory_mib: record.containers.iter().filter_map(|container| container.spec.memory_mib).sum(),
            started_at_ms: outcomes.iter().filter_map(|(_, outcome)| outcome.started_at).min().map(millis),
            stopped_at_ms: outcomes.iter().map(|(_, outcome)| outcome.stopped_at).max().map_or_else(|| millis(std::time::SystemTime::now()), millis),
            exit_code: outcomes.iter().find(|(name, _)| Some(name.as_str()) == essential).and_then(|(_, outcome)| outcome.exit_code),
            stop_code: record.task["stopCode"].as_str().unwrap_or_default().to_owned(),
        }
    }

    pub(crate) fn write(&self) -> Result<Write, EcsError> {
        crate::document(USAGE_KIND, &self.resource_arn, self)
    }

    /// Reads a stored usage document.
    pub fn parse(body: &str) -> Option<Usage> {
        serde_json::from_str::<Value>(body).ok().and_then(|value| serde_json::from_value(value).ok())
    }
}
