//! Batch and ECS resources of a deployment: created by a first apply, left alone by a second,
//! updated in place when their properties change, and taken away by a removal.

use api::deployments::outcome::{Action, Outcome};
use api::deployments::schedules::MissedRuns;
use api::deployments::{self, Deployments};
use api::ApiState;
use asl::interpreter::TaskRequest;
use asl::Failure;
use deploy::plan::{Plan, Resource, ResourceKind};
use ecs::{Ecs, Region};
use engine::catalog::Catalog;
use engine::functions::Functions;
use engine::runtime::{Runtime, RuntimeConfig};
use engine::TaskDispatcher;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::{MemoryStore, Store};

struct NoTasks;

impl TaskDispatcher for NoTasks {
    fn run(&self, request: &TaskRequest, _context: &engine::TaskContext) -> Result<Value, Failure> {
        Err(Failure::new("Unsupported", request.resource.clone()))
    }
}

/// A scratch folder removed when the test ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn server(scratch: &Path) -> ApiState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let catalog = Arc::new(Catalog::open(store.clone(), "us-east-1", "000000000000").unwrap());
    let runtime = Arc::new(Runtime::open(store.clone(), Arc::new(NoTasks), RuntimeConfig::default()).unwrap());
    let functions = Arc::new(Functions::declared_only(compute::FunctionSet::new(), Arc::new(compute::ProcessRunner::new())));
    let deployments = Arc::new(Deployments::open(store.clone(), 0, MissedRuns::All).unwrap());
    let batch = batch::Batch::open(store.clone(), batch::BatchConfig::new(scratch.join("batch-logs")), Default::default()).unwrap();
    let runner = compute::containers::ProcessRunner::open(scratch.join("containers"), "deployed-resources").unwrap();
    let region = Region { region: "us-east-1".into(), account: "000000000000".into() };
    let ecs = Ecs::open(store, Arc::new(runner), region, scratch.join("ecs-logs")).unwrap();
    ApiState { catalog, runtime, functions, deployments, ecs: Some(ecs), batch, s3: None }
}

fn resource(logical_id: &str, kind: ResourceKind, name: &str, arn: &str, properties: Value) -> Resource {
    Resource { logical_id: logical_id.into(), kind, name: name.into(), arn: arn.into(), properties }
}

/// A project with a whole Batch stack, an ECS cluster, task definition and service, and a log group.
fn plan(max_vcpus: u32, job_command: &str) -> Plan {
    let queue_arn = "arn:aws:batch:us-east-1:000000000000:job-queue/jobs";
    let environment_arn = "arn:aws:batch:us-east-1:000000000000:compute-environment/spot";
    Plan {
        service: "pipeline".into(),
        stage: "dev".into(),
        region: "us-east-1".into(),
        account: "000000000000".into(),
        stack_name: "pipeline-dev".into(),
        project_dir: "/project".into(),
        functions: Vec::new(),
        state_machines: Vec::new(),
        activities: Vec::new(),
        // Listed out of order: a queue needs its environment first.
        resources: vec![
            resource("JobQueue", ResourceKind::JobQueue, "jobs", queue_arn, json!({ "Priority": 1, "State": "ENABLED", "ComputeEnvironmentOrder": [{ "Order": 1, "ComputeEnvironment": environment_arn }] })),
            resource("ComputeEnvironment", ResourceKind::ComputeEnvironment, "spot", environment_arn, json!({ "Type": "MANAGED", "State": "ENABLED", "ComputeResources": { "Type": "SPOT", "MinvCpus": 0, "MaxvCpus": max_vcpus, "InstanceTypes": ["c5.large"], "Subnets": ["s"], "InstanceRole": "r" } })),
            resource("JobDefinition", ResourceKind::JobDefinition, "work", "arn:aws:batch:us-east-1:000000000000:job-definition/work", json!({ "Type": "Container", "ContainerProperties": { "Image": "app:latest", "Command": [job_command], "Vcpus": 1, "Memory": 128 } })),
            resource("Cluster", ResourceKind::Cluster, "tasks", "arn:aws:ecs:us-east-1:000000000000:cluster/tasks", json!({})),
            resource("TaskDefinition", ResourceKind::TaskDefinition, "worker", "arn:aws:ecs:us-east-1:000000000000:task-definition/worker", json!({ "Cpu": 256, "Memory": "512", "ContainerDefinitions": [{ "Name": "app", "Image": "app:latest", "Command": [job_command], "Memory": "512" }] })),
            resource("Service", ResourceKind::EcsService, "workers", "arn:aws:ecs:us-east-1:000000000000:service/tasks/workers", json!({ "DesiredCount": 2 })),
            resource("Logs", ResourceKind::LogGroup, "/ecs/worker", "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/worker:*", json!({})),
        ],
        images: Vec::new(),
        routes: Vec::new(),
        schedules: Vec::new(),
        outputs: Vec::new(),
        not_applicable: Vec::new(),
        warnings: Vec::new(),
        notes: Vec::new(),
    }
}

fn action_of<'a>(outcomes: &'a [Outcome], name: &str) -> &'a Action {
    &outcomes.iter().find(|outcome| outcome.name == name).unwrap_or_else(|| panic!("no outcome for {name} in {outcomes:?}")).action
}

fn batch_call(state: &ApiState, operation: &str, request: Value) -> Value {
    state.batch.call(operation, request).unwrap()
}

fn active_job_definitions(state: &ApiState) -> Vec<Value> {
    batch_call(state, "describejobdefinitions", json!({ "jobDefinitionName": "work", "status": "ACTIVE" }))["jobDefinitions"].as_array().cloned().unwrap_or_default()
}

fn latest_task_definition(state: &ApiState) -> Option<Value> {
    state.ecs.as_ref().unwrap().describe_task_definition(&json!({ "taskDefinition": "worker" })).ok().map(|described| described["taskDefinition"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_and_ecs_resources_are_created_kept_updated_and_removed() {
    let scratch = Scratch(std::env::temp_dir().join(format!("switchyard-deployed-resources-{}", std::process::id())));
    let state = server(&scratch.0);

    let created = deployments::apply(&state, plan(16, "app/exec"), 0).await.map_err(|_| "first apply").unwrap().outcomes;
    for name in ["spot", "jobs", "work", "tasks", "worker", "workers"] {
        assert_eq!(action_of(&created, name), &Action::Created, "{name}");
    }
    assert_eq!(action_of(&created, "/ecs/worker"), &Action::Unchanged);
    let environment = &batch_call(&state, "describecomputeenvironments", json!({ "computeEnvironments": ["spot"] }))["computeEnvironments"][0];
    assert_eq!(environment["computeResources"]["maxvCpus"], 16);
    let definitions = active_job_definitions(&state);
    assert_eq!(definitions.len(), 1);
    assert_eq!(definitions[0]["type"], "container");
    // The process runner has no image: the command runs from the project's folder.
    assert_eq!(definitions[0]["containerProperties"]["workingDirectory"], "/project");
    let task_definition = latest_task_definition(&state).unwrap();
    assert_eq!((task_definition["revision"].clone(), task_definition["cpu"].clone()), (json!(1), json!("256")));
    assert_eq!(task_definition["containerDefinitions"][0]["workingDirectory"], "/project");

    let again = deployments::apply(&state, plan(16, "app/exec"), 0).await.map_err(|_| "second apply").unwrap().outcomes;
    assert!(again.iter().all(|outcome| outcome.action == Action::Unchanged), "{again:?}");
    assert_eq!(active_job_definitions(&state).len(), 1);
    assert_eq!(latest_task_definition(&state).unwrap()["revision"], 1);

    let changed = deployments::apply(&state, plan(32, "app/other"), 0).await.map_err(|_| "changed apply").unwrap().outcomes;
    for name in ["spot", "work", "worker"] {
        assert_eq!(action_of(&changed, name), &Action::Updated, "{name}");
    }
    let environment = &batch_call(&state, "describecomputeenvironments", json!({ "computeEnvironments": ["spot"] }))["computeEnvironments"][0];
    assert_eq!(environment["computeResources"]["maxvCpus"], 32);
    let latest = latest_task_definition(&state).unwrap();
    assert_eq!((latest["revision"].clone(), latest["containerDefinitions"][0]["command"].clone()), (json!(2), json!(["app/other"])));

    let removed = deployments::remove(&state, "pipeline-dev").await.map_err(|_| "removal").unwrap().unwrap();
    for name in ["spot", "jobs", "work", "worker"] {
        assert_eq!(action_of(&removed, name), &Action::Removed, "{name}");
    }
    assert!(active_job_definitions(&state).is_empty());
    assert_eq!(batch_call(&state, "describejobqueues", json!({ "jobQueues": ["jobs"] }))["jobQueues"], json!([]));
    assert_eq!(batch_call(&state, "describecomputeenvironments", json!({ "computeEnvironments": ["spot"] }))["computeEnvironments"], json!([]));
    assert!(latest_task_definition(&state).is_none_or(|definition| definition["status"] == "INACTIVE"));
}
