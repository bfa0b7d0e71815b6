//! A deployment plan: every local resource a project deploys, with names, ARNs and properties
//! fully resolved. It crosses from `switchyard up` to the server as JSON, where one applier per
//! resource kind turns it into local resources.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub service: String,
    pub stage: String,
    /// The region and account of every ARN (the server's, so that definitions written for AWS
    /// resolve to local resources).
    pub region: String,
    pub account: String,
    /// `${service}-${stage}`, as CloudFormation names the framework's stack.
    pub stack_name: String,
    /// The folder of serverless.yml: functions' code and images' build contexts are under it.
    pub project_dir: String,
    #[serde(default)]
    pub functions: Vec<Function>,
    #[serde(default)]
    pub state_machines: Vec<StateMachine>,
    #[serde(default)]
    pub activities: Vec<Activity>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// `resources.Outputs` whose condition holds, evaluated.
    #[serde(default)]
    pub outputs: Vec<Output>,
    /// Resources that have no local meaning (IAM, VPC, networking): accepted and listed.
    #[serde(default)]
    pub not_applicable: Vec<Skipped>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// What parts of the configuration that are accepted amount to locally.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Plan {
    /// The name deployments are kept under: one per service and stage.
    pub fn deployment_name(&self) -> String {
        self.stack_name.clone()
    }

    /// The plan with every reference to the definition `resource_arn` (unrevisioned) naming the
    /// revision `revision_arn` the server registered.
    pub fn with_revision(&self, resource_arn: &str, revision_arn: &str) -> Result<Plan, serde_json::Error> {
        let text = serde_json::to_string(self)?.replace(&pending_revision(resource_arn), revision_arn);
        serde_json::from_str(&text)
    }
}

/// What stands for the revision number in references to a task or job definition until the
/// server has registered it: CloudFormation's `Ref` names a revision, which only the
/// registration tells.
const PENDING_REVISION: &str = "${Revision}";

/// `arn:...:task-definition/family` → `arn:...:task-definition/family:${Revision}`.
pub fn pending_revision(arn: &str) -> String {
    format!("{arn}:{PENDING_REVISION}")
}

/// The newest of a definition's revision ARNs (`...:family:3` is newer than `...:family:2`).
pub fn latest_revision(arns: impl IntoIterator<Item = String>) -> Option<String> {
    arns.into_iter().max_by_key(|arn| arn.rsplit(':').next().and_then(|revision| revision.parse::<u64>().ok()).unwrap_or_default())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// The key under `functions:`.
    pub key: String,
    pub logical_id: String,
    /// The deployed name: `${service}-${stage}-${key}` unless the function names itself.
    pub name: String,
    pub arn: String,
    /// `file.function` for zip functions; None for image functions.
    pub handler: Option<String>,
    /// A local image reference for image functions.
    pub image: Option<String>,
    pub runtime: String,
    pub memory_size: u64,
    pub timeout: u64,
    pub environment: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u64>,
    /// Absolute folder of the handler's code.
    pub code_dir: String,
    #[serde(default)]
    pub package_patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachine {
    /// The key under `stepFunctions.stateMachines:` (or the resource's logical id).
    pub key: String,
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    /// The ASL definition as JSON text.
    pub definition: String,
    /// STANDARD or EXPRESS.
    pub machine_type: String,
    pub role_arn: String,
    pub logging_configuration: Option<Value>,
    pub tracing_configuration: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
}

/// CloudFormation resource types deployed as local resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceKind {
    ComputeEnvironment,
    JobQueue,
    JobDefinition,
    Cluster,
    TaskDefinition,
    EcsService,
    Bucket,
    LogGroup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub logical_id: String,
    pub kind: ResourceKind,
    /// The resource's name (compute environment, queue, job definition, cluster, family,
    /// service, bucket, log group).
    pub name: String,
    /// Without a revision for task and job definitions (see [`pending_revision`]).
    pub arn: String,
    /// CloudFormation's properties with every intrinsic function resolved and image references
    /// made local.
    pub properties: Value,
}

/// An image built from a Dockerfile before deploying (`provider.ecr.images`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub name: String,
    /// The local reference the build is tagged with (`NAME:latest`).
    pub reference: String,
    /// Absolute build context.
    pub context: String,
    /// The Dockerfile, relative to the context.
    pub dockerfile: String,
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// `linux/amd64`, ...; the engine's own when None.
    #[serde(default)]
    pub platform: Option<String>,
    /// Images whose layers the build may reuse (`cacheFrom`).
    #[serde(default)]
    pub cache_from: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    StateMachine { name: String, arn: String },
    Function { name: String, arn: String },
}

impl ResourceKind {
    /// Task and job definitions: every registration makes a new revision, and references name one.
    pub fn is_revisioned(self) -> bool {
        matches!(self, ResourceKind::TaskDefinition | ResourceKind::JobDefinition)
    }
}

impl Target {
    pub fn arn(&self) -> &str {
        match self {
            Target::StateMachine { arn, .. } | Target::Function { arn, .. } => arn,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Target::StateMachine { name, .. } | Target::Function { name, .. } => name,
        }
    }
}

/// An `http` event: requests with this method and path start the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Upper case, or `ANY`.
    pub method: String,
    /// With its leading `/` and the stage prefix (`/dev/startFunction`); `{name}` and `{name+}`
    /// segments match any value.
    pub path: String,
    pub target: Target,
}

/// A `schedule` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Stable across deployments, so that a redeploy keeps the next firing time.
    pub id: String,
    /// `rate(...)` or `cron(...)`.
    pub expression: String,
    pub enabled: bool,
    /// A constant input; without it the target gets EventBridge's scheduled event.
    pub input: Option<Value>,
    /// A JSONPath into the scheduled event, instead of it whole.
    pub input_path: Option<String>,
    pub target: Target,
}

/// A stack output, as `serverless deploy` prints them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub name: String,
    pub value: String,
    pub description: Option<String>,
    /// `Export.Name`.
    pub export_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub logical_id: String,
    pub resource_type: String,
}
