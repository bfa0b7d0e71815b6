//! Applier of Batch resources (compute environments, job queues, job definitions) through the
//! Batch service's own operations, as its API would call them: created, updated in place when
//! their properties change, and disabled then deleted (definitions deregistered) on removal.

use super::cloudformation::api_request;
use super::outcome::{Action, Outcome};
use batch::{Batch, BatchError};
use deploy::plan::{latest_revision, Resource, ResourceKind};
use serde_json::{json, Value};
use std::sync::Arc;

/// Operations wait for the store's acknowledgement: off the async workers.
async fn call(batch: &Arc<Batch>, operation: &'static str, request: Value) -> Result<Value, BatchError> {
    let batch = batch.clone();
    tokio::task::spawn_blocking(move || batch.call(operation, request))
        .await
        .unwrap_or_else(|error| Err(BatchError::server(format!("the operation stopped: {error}"))))
}

/// Applies a Batch resource; `previous` is the same resource as the last deployment had it.
/// `project_dir` stands in for images the process runner does not have.
pub async fn apply(batch: &Arc<Batch>, resource: &Resource, previous: Option<&Resource>, project_dir: &str) -> Result<Outcome, BatchError> {
    let outcome = |action| Outcome::new(super::kind_name(resource.kind), &resource.name, &resource.arn, action);
    let exists = exists(batch, resource).await?;
    if exists && previous.is_some_and(|previous| previous.properties == resource.properties) {
        return revisioned(batch, resource, outcome(Action::Unchanged)).await;
    }
    let mut request = api_request(&resource.properties);
    let name_field = match resource.kind {
        ResourceKind::ComputeEnvironment => "computeEnvironmentName",
        ResourceKind::JobQueue => "jobQueueName",
        _ => "jobDefinitionName",
    };
    request[name_field] = json!(resource.name);
    match (resource.kind, exists) {
        (ResourceKind::ComputeEnvironment, true) => {
            let update = json!({ "computeEnvironment": resource.name, "state": request["state"], "serviceRole": request["serviceRole"], "computeResources": request["computeResources"] });
            call(batch, "updatecomputeenvironment", without_nulls(update)).await?;
        }
        (ResourceKind::ComputeEnvironment, false) => drop(call(batch, "createcomputeenvironment", request).await?),
        (ResourceKind::JobQueue, true) => {
            let update = json!({ "jobQueue": resource.name, "state": request["state"], "priority": request["priority"], "computeEnvironmentOrder": request["computeEnvironmentOrder"] });
            call(batch, "updatejobqueue", without_nulls(update)).await?;
        }
        (ResourceKind::JobQueue, false) => drop(call(batch, "createjobqueue", request).await?),
        _ => {
            // CloudFormation spells the type `Container`; the API takes `container`.
            if let Some(kind) = request["type"].as_str() {
                request["type"] = json!(kind.to_ascii_lowercase());
            }
            // Without an image, commands (`app/exec`) are the project's files.
            if batch.default_backend() == "process" && request["containerProperties"].is_object() && request["containerProperties"].get("workingDirectory").is_none() {
                request["containerProperties"]["workingDirectory"] = json!(project_dir);
            }
            call(batch, "registerjobdefinition", request).await?;
        }
    }
    revisioned(batch, resource, outcome(if exists { Action::Updated } else { Action::Created })).await
}

/// A job definition's outcome names its latest revision, which references resolve to.
async fn revisioned(batch: &Arc<Batch>, resource: &Resource, outcome: Outcome) -> Result<Outcome, BatchError> {
    if resource.kind != ResourceKind::JobDefinition {
        return Ok(outcome);
    }
    let latest = latest_revision(active_definitions(batch, &resource.name).await?);
    Ok(Outcome { arn: latest.unwrap_or(outcome.arn.clone()), ..outcome })
}

/// Removes a Batch resource: environments and queues are disabled first, as Batch requires.
pub async fn remove(batch: &Arc<Batch>, resource: &Resource) -> Result<Outcome, BatchError> {
    let outcome = |action| Outcome::new(super::kind_name(resource.kind), &resource.name, &resource.arn, action);
    if !exists(batch, resource).await? {
        return Ok(outcome(Action::Removed).with_detail("already gone"));
    }
    match resource.kind {
        ResourceKind::ComputeEnvironment => {
            call(batch, "updatecomputeenvironment", json!({ "computeEnvironment": resource.name, "state": "DISABLED" })).await?;
            call(batch, "deletecomputeenvironment", json!({ "computeEnvironment": resource.name })).await?;
        }
        ResourceKind::JobQueue => {
            call(batch, "updatejobqueue", json!({ "jobQueue": resource.name, "state": "DISABLED" })).await?;
            call(batch, "deletejobqueue", json!({ "jobQueue": resource.name })).await?;
        }
        _ => {
            for revision in active_definitions(batch, &resource.name).await? {
                call(batch, "deregisterjobdefinition", json!({ "jobDefinition": revision })).await?;
            }
        }
    }
    Ok(outcome(Action::Removed))
}

async fn exists(batch: &Arc<Batch>, resource: &Resource) -> Result<bool, BatchError> {
    Ok(match resource.kind {
        ResourceKind::ComputeEnvironment => {
            let described = call(batch, "describecomputeenvironments", json!({ "computeEnvironments": [resource.name] })).await?;
            described["computeEnvironments"].as_array().is_some_and(|found| !found.is_empty())
        }
        ResourceKind::JobQueue => {
            let described = call(batch, "describejobqueues", json!({ "jobQueues": [resource.name] })).await?;
            described["jobQueues"].as_array().is_some_and(|found| !found.is_empty())
        }
        _ => !active_definitions(batch, &resource.name).await?.is_empty(),
    })
}

/// The ARNs of a job definition's active revisions.
async fn active_definitions(batch: &Arc<Batch>, name: &str) -> Result<Vec<String>, BatchError> {
    let described = call(batch, "describejobdefinitions", json!({ "jobDefinitionName": name, "status": "ACTIVE" })).await?;
    Ok(described["jobDefinitions"].as_array().into_iter().flatten().filter_map(|definition| definition["jobDefinitionArn"].as_str().map(str::to_owned)).collect())
}

/// An update request without the fields the properties did not set.
fn without_nulls(mut request: Value) -> Value {
    if let Some(fields) = request.as_object_mut() {
        fields.retain(|_, value| !value.is_null());
    }
    request
}
