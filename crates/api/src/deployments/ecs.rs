//! Applier of ECS resources through the ECS service's own operations: clusters are created,
//! task definitions get a new revision when their properties change (the outcome names the
//! revision that references resolve to), services are accepted without running anything.

use super::cloudformation::api_request;
use super::outcome::{Action, Outcome};
use deploy::plan::{latest_revision, Resource, ResourceKind};
use ecs::{Ecs, EcsError};
use serde_json::{json, Value};
use std::sync::Arc;

/// Operations wait for the store's acknowledgement: off the async workers.
async fn call(ecs: &Arc<Ecs>, operation: fn(&Ecs, &Value) -> Result<Value, EcsError>, request: Value) -> Result<Value, EcsError> {
    let ecs = ecs.clone();
    tokio::task::spawn_blocking(move || operation(&ecs, &request))
        .await
        .unwrap_or_else(|error| Err(EcsError::server(format!("the operation stopped: {error}"))))
}

/// Applies an ECS resource; `previous` is the same resource as the last deployment had it;
/// `project_dir` stands in for images the process runner does not have.
pub async fn apply(ecs: &Arc<Ecs>, resource: &Resource, previous: Option<&Resource>, project_dir: &str) -> Result<Outcome, EcsError> {
    let outcome = |action| Outcome::new(super::kind_name(resource.kind), &resource.name, &resource.arn, action);
    let unchanged = previous.is_some_and(|previous| previous.properties == resource.properties);
    match resource.kind {
        ResourceKind::Cluster => {
            let existed = cluster_exists(ecs, &resource.name).await?;
            call(ecs, Ecs::create_cluster, json!({ "clusterName": resource.name })).await?;
            Ok(outcome(if existed { Action::Unchanged } else { Action::Created }))
        }
        ResourceKind::TaskDefinition => {
            let latest = latest_revision(active_revisions(ecs, &resource.name).await?);
            if let (Some(latest), true) = (&latest, unchanged) {
                return Ok(Outcome::new(super::kind_name(resource.kind), &resource.name, latest, Action::Unchanged));
            }
            let request = task_definition_request(resource, ecs.runner_name() == "process", project_dir);
            let registered = call(ecs, Ecs::register_task_definition, request).await?;
            let revision_arn = registered["taskDefinition"]["taskDefinitionArn"].as_str().unwrap_or(&resource.arn);
            let action = if latest.is_some() { Action::Updated } else { Action::Created };
            Ok(Outcome::new(super::kind_name(resource.kind), &resource.name, revision_arn, action))
        }
        _ => {
            let detail = "accepted: services are not kept running here (DesiredCount is ignored); tasks run through RunTask";
            Ok(outcome(if unchanged { Action::Unchanged } else { Action::Created }).with_detail(detail))
        }
    }
}

/// Removes an ECS resource: a task definition's revisions are deregistered; clusters stay
/// (ECS here has no DeleteCluster) and services were never running.
pub async fn remove(ecs: &Arc<Ecs>, resource: &Resource) -> Result<Outcome, EcsError> {
    let outcome = Outcome::new(super::kind_name(resource.kind), &resource.name, &resource.arn, Action::Removed);
    match resource.kind {
        ResourceKind::TaskDefinition => {
            for revision in active_revisions(ecs, &resource.name).await? {
                call(ecs, Ecs::deregister_task_definition, json!({ "taskDefinition": revision })).await?;
            }
            Ok(outcome)
        }
        ResourceKind::Cluster => Ok(outcome.with_detail("the cluster is kept: it has no tasks of its own")),
        _ => Ok(outcome),
    }
}

/// The RegisterTaskDefinition request of a resource. With the process runner there is no image
/// to run commands in, so they run from the project's folder (`app/exec` is the project's file)
/// unless a container names its own working directory.
fn task_definition_request(resource: &Resource, process_runner: bool, project_dir: &str) -> Value {
    let mut request = api_request(&resource.properties);
    request["family"] = json!(resource.name);
    for field in ["cpu", "memory"] {
        // The task-level sizes are strings in the API; templates often give numbers.
        if let Some(number) = request[field].as_i64() {
            request[field] = json!(number.to_string());
        }
    }
    if let Some(containers) = request["containerDefinitions"].as_array_mut() {
        for container in containers {
            for field in ["cpu", "memory"] {
                if let Some(number) = container[field].as_str().and_then(|text| text.parse::<i64>().ok()) {
                    container[field] = json!(number);
                }
            }
            if process_runner && container.get("workingDirectory").is_none() {
                container["workingDirectory"] = json!(project_dir);
            }
        }
    }
    request
}

async fn cluster_exists(ecs: &Arc<Ecs>, name: &str) -> Result<bool, EcsError> {
    let described = call(ecs, Ecs::describe_clusters, json!({ "clusters": [name] })).await?;
    Ok(described["clusters"].as_array().is_some_and(|found| !found.is_empty()))
}

/// The ARNs of a family's active revisions.
async fn active_revisions(ecs: &Arc<Ecs>, family: &str) -> Result<Vec<String>, EcsError> {
    let listed = call(ecs, Ecs::list_task_definitions, json!({ "familyPrefix": family, "status": "ACTIVE" })).await?;
    let family_arn = format!("task-definition/{family}:");
    Ok(listed["taskDefinitionArns"].as_array().into_iter().flatten().filter_map(Value::as_str).filter(|arn| arn.contains(&family_arn)).map(str::to_owned).collect())
}
