//! Deployments of Serverless projects (`switchyard up`): one internal endpoint takes a whole
//! [`Plan`] and applies it, one applier module per resource kind; routes and schedules switch
//! over once the deployment's record is durable.
//!
//! Why one endpoint rather than the AWS APIs one by one: routes and schedules have no AWS API
//! here (API Gateway and EventBridge are not served), the previous deployment must be known to
//! remove what a new one dropped, and one request keeps `up` within its second.
//!
//! - `GET /_switchyard/deployments`: the server's region and account, and what is deployed.
//! - `PUT /_switchyard/deployments/{name}`: deploys a plan (idempotent: unchanged resources are
//!   left alone, changed ones updated in place so that their histories stay).
//! - `DELETE /_switchyard/deployments/{name}`: removes everything a deployment made.

mod activities;
mod batch;
mod buckets;
mod cloudformation;
mod ecs;
mod functions;
pub mod outcome;
pub mod routes;
pub mod schedules;
mod state_machines;

use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use deploy::plan::{Plan, Resource, ResourceKind};
use outcome::{Action, Outcome};
use routes::RouteTable;
use schedules::{MissedRuns, ScheduleRecord, Schedules};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use store::{Document, Store, StoreError, Write};

pub const DEPLOYMENT_KIND: &str = "deployment";
const PATH: &str = "/_switchyard/deployments";

pub struct Deployments {
    store: Arc<dyn Store>,
    plans: Mutex<BTreeMap<String, Plan>>,
    pub routes: RouteTable,
    pub schedules: Schedules,
    /// One deployment at a time.
    applying: tokio::sync::Mutex<()>,
}

/// What a deployment did, for `switchyard up` to print.
#[derive(Debug, Serialize)]
pub struct Applied {
    pub service: String,
    pub stage: String,
    pub outcomes: Vec<Outcome>,
    pub schedules: Vec<ScheduleRecord>,
    pub warnings: Vec<String>,
}

impl Deployments {
    pub fn open(store: Arc<dyn Store>, now_ms: i64, missed: MissedRuns) -> Result<Deployments, StoreError> {
        let schedules = Schedules::open(store.clone(), now_ms, missed)?;
        let routes = RouteTable::default();
        let mut plans = BTreeMap::new();
        for document in store.documents(DEPLOYMENT_KIND)? {
            let plan: Plan = serde_json::from_str(&document.body).map_err(|error| StoreError(format!("deployment {}: {error}", document.key)))?;
            routes.replace(&document.key, plan.routes.clone());
            plans.insert(document.key, plan);
        }
        Ok(Deployments { store, plans: Mutex::new(plans), routes, schedules, applying: tokio::sync::Mutex::new(()) })
    }

    fn plans(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Plan>> {
        self.plans.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn plan(&self, name: &str) -> Option<Plan> {
        self.plans().get(name).cloned()
    }
}

pub fn router() -> Router<ApiState> {
    Router::new().route(PATH, get(list)).route(&format!("{PATH}/{{name}}"), get(describe).put(put).delete(delete))
}

async fn list(State(state): State<ApiState>) -> Response {
    let prefix = state.catalog.arns().prefix().to_owned();
    let mut parts = prefix.split(':').skip(3);
    let (region, account) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let deployments: Vec<String> = state.deployments.plans().keys().cloned().collect();
    answer(StatusCode::OK, json!({ "region": region, "account": account, "deployments": deployments }))
}

async fn describe(State(state): State<ApiState>, Path(name): Path<String>) -> Response {
    match state.deployments.plan(&name) {
        Some(plan) => answer(StatusCode::OK, json!({ "plan": plan, "schedules": state.deployments.schedules.of_deployment(&name) })),
        None => not_found(&name),
    }
}

async fn put(State(state): State<ApiState>, Path(name): Path<String>, body: Bytes) -> Response {
    let plan: Plan = match serde_json::from_slice(&body) {
        Ok(plan) => plan,
        Err(error) => return answer(StatusCode::BAD_REQUEST, json!({ "__type": "ValidationException", "message": format!("not a deployment plan: {error}") })),
    };
    if plan.deployment_name() != name {
        return answer(StatusCode::BAD_REQUEST, json!({ "__type": "ValidationException", "message": format!("the plan deploys {}, not {name}", plan.deployment_name()) }));
    }
    match apply(&state, plan, chrono::Utc::now().timestamp_millis()).await {
        Ok(applied) => answer(StatusCode::OK, serde_json::to_value(applied).unwrap_or_default()),
        Err(failure) => failure,
    }
}

async fn delete(State(state): State<ApiState>, Path(name): Path<String>) -> Response {
    match remove(&state, &name).await {
        Ok(Some(outcomes)) => answer(StatusCode::OK, json!({ "outcomes": outcomes })),
        Ok(None) => not_found(&name),
        Err(failure) => failure,
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn not_found(name: &str) -> Response {
    answer(StatusCode::NOT_FOUND, json!({ "__type": "ResourceNotFoundException", "message": format!("no deployment named {name}") }))
}

fn failed(what: &str, error: impl std::fmt::Display, applied: &[Outcome]) -> Response {
    let done: Vec<String> = applied.iter().map(|outcome| format!("{} {} {:?}", outcome.kind, outcome.name, outcome.action)).collect();
    answer(StatusCode::BAD_REQUEST, json!({ "__type": "DeploymentFailed", "message": format!("{what}: {error}"), "applied": done }))
}

/// Applies `plan`: resources first, then what a previous deployment had and this one does not
/// is removed, then the deployment's record, schedules and routes switch over together.
pub async fn apply(state: &ApiState, plan: Plan, now_ms: i64) -> Result<Applied, Response> {
    let deployments = &state.deployments;
    let _one_at_a_time = deployments.applying.lock().await;
    let name = plan.deployment_name();
    let previous = deployments.plan(&name);
    let mut outcomes = Vec::new();
    for activity in &plan.activities {
        let outcome = activities::apply(&state.catalog, activity).await.map_err(|error| failed(&format!("activity {}", activity.name), error, &outcomes))?;
        outcomes.push(outcome);
    }
    // Resources first: the revisions registered for task and job definitions are what state
    // machines, functions and later resources reference.
    let mut plan = plan;
    let mut order: Vec<usize> = (0..plan.resources.len()).collect();
    order.sort_by_key(|&index| creation_rank(plan.resources[index].kind));
    for index in order {
        // Taken afresh: the revisions substituted so far are in it.
        let resource = &plan.resources[index].clone();
        let previous = previous.as_ref().and_then(|previous| previous.resources.iter().find(|old| old.logical_id == resource.logical_id && old.kind == resource.kind));
        let outcome = apply_resource(state, resource, previous, &plan.project_dir).await.map_err(|error| failed(&format!("{} {}", kind_name(resource.kind), resource.name), error, &outcomes))?;
        if resource.kind.is_revisioned() {
            plan = plan.with_revision(&resource.arn, &outcome.arn).map_err(|error| failed(&format!("{} {}", kind_name(resource.kind), resource.name), error, &outcomes))?;
        }
        outcomes.push(outcome);
    }
    for machine in &plan.state_machines {
        let outcome = state_machines::apply(&state.catalog, machine).await.map_err(|error| failed(&format!("state machine {}", machine.name), error, &outcomes))?;
        outcomes.push(outcome);
    }
    for function in &plan.functions {
        let outcome = functions::apply(&state.functions, function, &plan.account).await.map_err(|error| failed(&format!("function {}", function.name), error, &outcomes))?;
        outcomes.push(outcome);
    }
    if let Some(previous) = &previous {
        for machine in previous.state_machines.iter().filter(|old| !plan.state_machines.iter().any(|new| new.arn == old.arn)) {
            outcomes.push(state_machines::remove(&state.catalog, machine).await.map_err(|error| failed(&format!("removing state machine {}", machine.name), error, &outcomes))?);
        }
        for activity in previous.activities.iter().filter(|old| !plan.activities.iter().any(|new| new.arn == old.arn)) {
            outcomes.push(activities::remove(&state.catalog, activity).await.map_err(|error| failed(&format!("removing activity {}", activity.name), error, &outcomes))?);
        }
        for function in previous.functions.iter().filter(|old| !plan.functions.iter().any(|new| new.name == old.name)) {
            outcomes.push(functions::remove(&state.functions, function).await.map_err(|error| failed(&format!("removing function {}", function.name), error, &outcomes))?);
        }
        let dropped: Vec<Resource> = previous.resources.iter().filter(|old| !plan.resources.iter().any(|new| new.logical_id == old.logical_id && new.kind == old.kind)).cloned().collect();
        for resource in in_creation_order(&dropped).into_iter().rev() {
            outcomes.push(remove_resource(state, resource).await.map_err(|error| failed(&format!("removing {} {}", kind_name(resource.kind), resource.name), error, &outcomes))?);
        }
    }
    let (records, mut writes) = deployments.schedules.prepare(&name, &plan.schedules, now_ms);
    writes.push(Write::PutDocument(Document { kind: DEPLOYMENT_KIND.to_owned(), key: name.clone(), body: serde_json::to_string(&plan).unwrap_or_default() }));
    store::commit(deployments.store.as_ref(), writes).await.map_err(|error| failed("recording the deployment", error, &outcomes))?;
    deployments.schedules.install(&name, records.clone());
    let warnings = deployments.routes.conflicts(&name, &plan.routes);
    deployments.routes.replace(&name, plan.routes.clone());
    let applied = Applied { service: plan.service.clone(), stage: plan.stage.clone(), outcomes, schedules: records, warnings };
    deployments.plans().insert(name, plan);
    Ok(applied)
}

/// Removes a deployment and everything it made; None when there is no such deployment.
pub async fn remove(state: &ApiState, name: &str) -> Result<Option<Vec<Outcome>>, Response> {
    let deployments = &state.deployments;
    let _one_at_a_time = deployments.applying.lock().await;
    let Some(plan) = deployments.plan(name) else { return Ok(None) };
    let mut outcomes = Vec::new();
    for machine in &plan.state_machines {
        outcomes.push(state_machines::remove(&state.catalog, machine).await.map_err(|error| failed(&format!("removing state machine {}", machine.name), error, &outcomes))?);
    }
    for activity in &plan.activities {
        outcomes.push(activities::remove(&state.catalog, activity).await.map_err(|error| failed(&format!("removing activity {}", activity.name), error, &outcomes))?);
    }
    for function in &plan.functions {
        outcomes.push(functions::remove(&state.functions, function).await.map_err(|error| failed(&format!("removing function {}", function.name), error, &outcomes))?);
    }
    for resource in in_creation_order(&plan.resources).into_iter().rev() {
        outcomes.push(remove_resource(state, resource).await.map_err(|error| failed(&format!("removing {} {}", kind_name(resource.kind), resource.name), error, &outcomes))?);
    }
    let (_, mut writes) = deployments.schedules.prepare(name, &[], 0);
    writes.push(Write::DeleteDocument { kind: DEPLOYMENT_KIND.to_owned(), key: name.to_owned() });
    store::commit(deployments.store.as_ref(), writes).await.map_err(|error| failed("recording the removal", error, &outcomes))?;
    deployments.schedules.install(name, Vec::new());
    deployments.routes.replace(name, Vec::new());
    deployments.plans().remove(name);
    Ok(Some(outcomes))
}

/// Resources ordered so that each comes after those it names (a queue after its compute
/// environments, a task definition after its cluster); removal goes the other way.
fn in_creation_order(resources: &[Resource]) -> Vec<&Resource> {
    let mut ordered: Vec<&Resource> = resources.iter().collect();
    ordered.sort_by_key(|resource| creation_rank(resource.kind));
    ordered
}

fn creation_rank(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::ComputeEnvironment | ResourceKind::Cluster | ResourceKind::Bucket | ResourceKind::LogGroup => 0,
        ResourceKind::JobQueue | ResourceKind::TaskDefinition => 1,
        ResourceKind::JobDefinition | ResourceKind::EcsService => 2,
    }
}

async fn apply_resource(state: &ApiState, resource: &Resource, previous: Option<&Resource>, project_dir: &str) -> Result<Outcome, String> {
    match (resource.kind, &state.ecs, &state.s3) {
        (ResourceKind::ComputeEnvironment | ResourceKind::JobQueue | ResourceKind::JobDefinition, _, _) => batch::apply(&state.batch, resource, previous, project_dir).await.map_err(|error| error.to_string()),
        (ResourceKind::Cluster | ResourceKind::TaskDefinition | ResourceKind::EcsService, Some(service), _) => ecs::apply(service, resource, previous, project_dir).await.map_err(|error| error.to_string()),
        (ResourceKind::Bucket, _, Some(s3)) => buckets::apply(s3.store.as_ref(), resource).await.map_err(|error| error.to_string()),
        (ResourceKind::LogGroup, _, _) => Ok(Outcome::new(kind_name(resource.kind), &resource.name, &resource.arn, Action::Unchanged).with_detail("accepted: task logs are kept by the server")),
        _ => Ok(pending(resource, service_of(resource.kind))),
    }
}

async fn remove_resource(state: &ApiState, resource: &Resource) -> Result<Outcome, String> {
    match (resource.kind, &state.ecs, &state.s3) {
        (ResourceKind::ComputeEnvironment | ResourceKind::JobQueue | ResourceKind::JobDefinition, _, _) => batch::remove(&state.batch, resource).await.map_err(|error| error.to_string()),
        (ResourceKind::Cluster | ResourceKind::TaskDefinition | ResourceKind::EcsService, Some(service), _) => ecs::remove(service, resource).await.map_err(|error| error.to_string()),
        (ResourceKind::Bucket, _, Some(s3)) => buckets::remove(s3.store.as_ref(), resource).await.map_err(|error| error.to_string()),
        _ => Ok(Outcome::new(kind_name(resource.kind), &resource.name, &resource.arn, Action::Removed)),
    }
}

fn pending(resource: &Resource, service: &str) -> Outcome {
    Outcome::new(kind_name(resource.kind), &resource.name, &resource.arn, Action::Pending).with_detail(format!("the {service} service is not part of this server"))
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::ComputeEnvironment => "compute environment",
        ResourceKind::JobQueue => "job queue",
        ResourceKind::JobDefinition => "job definition",
        ResourceKind::Cluster => "cluster",
        ResourceKind::TaskDefinition => "task definition",
        ResourceKind::EcsService => "service",
        ResourceKind::Bucket => "bucket",
        ResourceKind::LogGroup => "log group",
    }
}

fn service_of(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::ComputeEnvironment | ResourceKind::JobQueue | ResourceKind::JobDefinition => "Batch",
        ResourceKind::Cluster | ResourceKind::TaskDefinition | ResourceKind::EcsService => "ECS",
        ResourceKind::Bucket => "S3",
        ResourceKind::LogGroup => "CloudWatch Logs",
    }
}
