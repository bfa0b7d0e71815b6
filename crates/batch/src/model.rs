//! Batch's resources in AWS's wire shapes (camelCase JSON, as botocore's `batch` model names
//! them). The same documents are what the store keeps. Members Switchyard does not interpret
//! (subnets, roles, volumes, ...) are kept as given and echoed back in `other`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;
pub type Parameters = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComputeEnvironment {
    pub compute_environment_name: String,
    pub compute_environment_arn: String,
    pub ecs_cluster_arn: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    pub status: String,
    pub status_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmanagedv_cpus: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<ComputeResources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_role: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    pub uuid: String,
    pub container_orchestration_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComputeResources {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation_strategy: Option<String>,
    #[serde(default)]
    pub minv_cpus: u32,
    pub maxv_cpus: u32,
    #[serde(default)]
    pub desiredv_cpus: u32,
    #[serde(default)]
    pub instance_types: Vec<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ComputeResources {
    pub fn is_fargate(&self) -> bool {
        self.kind.starts_with("FARGATE")
    }

    pub fn is_spot(&self) -> bool {
        self.kind == "SPOT" || self.kind == "FARGATE_SPOT"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobQueue {
    pub job_queue_name: String,
    pub job_queue_arn: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_policy_arn: Option<String>,
    pub status: String,
    pub status_reason: String,
    pub priority: i32,
    pub compute_environment_order: Vec<ComputeEnvironmentOrder>,
    #[serde(default)]
    pub tags: Tags,
    pub job_queue_type: String,
}

/// A scheduling policy: fair share between the share identifiers of a queue's jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingPolicy {
    pub name: String,
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairshare_policy: Option<FairsharePolicy>,
    /// Kept as given: Switchyard schedules quota shares as FIFO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_share_policy: Option<Value>,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FairsharePolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_decay_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute_reservation: Option<u32>,
    #[serde(default)]
    pub share_distribution: Vec<ShareAttributes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareAttributes {
    pub share_identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_factor: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComputeEnvironmentOrder {
    pub order: i32,
    pub compute_environment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDefinition {
    pub job_definition_name: String,
    pub job_definition_arn: String,
    pub revision: u32,
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_priority: Option<i32>,
    #[serde(default)]
    pub parameters: Parameters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_properties: Option<ContainerProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<JobTimeout>,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub propagate_tags: bool,
    #[serde(default)]
    pub platform_capabilities: Vec<String>,
    pub container_orchestration_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub environment: Vec<KeyValuePair>,
    #[serde(default)]
    pub resource_requirements: Vec<ResourceRequirement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverrides {
    pub vcpus: Option<u32>,
    pub memory: Option<u64>,
    pub command: Option<Vec<String>>,
    pub instance_type: Option<String>,
    pub environment: Option<Vec<KeyValuePair>>,
    pub resource_requirements: Option<Vec<ResourceRequirement>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValuePair {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRequirement {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluate_on_exit: Vec<EvaluateOnExit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateOnExit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_status_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_exit_code: Option<String>,
    pub action: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTimeout {
    pub attempt_duration_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDependency {
    /// Absent for an array job's SEQUENTIAL dependency on itself.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_id: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A job as DescribeJobs answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetail {
    pub job_arn: String,
    pub job_name: String,
    pub job_id: String,
    pub job_queue: String,
    pub status: JobStatus,
    /// Set on jobs of fair-share queues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_identifier: Option<String>,
    /// Orders jobs of one share on a fair-share queue (higher first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_priority: Option<i32>,
    pub attempts: Vec<AttemptDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<i64>,
    pub depends_on: Vec<JobDependency>,
    pub job_definition: String,
    pub parameters: Parameters,
    pub container: ContainerDetail,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array_properties: Option<ArrayPropertiesDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<JobTimeout>,
    pub tags: Tags,
    pub propagate_tags: bool,
    pub platform_capabilities: Vec<String>,
    pub is_cancelled: bool,
    pub is_terminated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    pub command: Vec<String>,
    pub environment: Vec<KeyValuePair>,
    pub resource_requirements: Vec<ResourceRequirement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// What the job definition says and Switchyard passes through (roles, volumes, ...).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptDetail {
    pub container: AttemptContainerDetail,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptContainerDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream_name: Option<String>,
    pub network_interfaces: Vec<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArrayPropertiesDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_summary: Option<BTreeMap<String, u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_summary_last_updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Submitted,
    Pending,
    Runnable,
    Starting,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] =
        [JobStatus::Submitted, JobStatus::Pending, JobStatus::Runnable, JobStatus::Starting, JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed];

    pub fn is_done(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Submitted => "SUBMITTED",
            JobStatus::Pending => "PENDING",
            JobStatus::Runnable => "RUNNABLE",
            JobStatus::Starting => "STARTING",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }
}
