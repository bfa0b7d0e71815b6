//! ECS/Fargate-like container tasks. Task definitions, clusters and tasks are kept in AWS's shapes
//! (the JSON the ECS API answers with) as store documents; every change is durable before it is
//! answered. A task runs one container per container definition on a [`ContainerRunner`] and goes
//! PROVISIONING → PENDING → RUNNING → STOPPED, as on Fargate.
//!
//! Tasks survive a crash of Switchyard: their containers carry the task's ARN in a label, and
//! [`Ecs::open`] adopts the containers still there (or whose end is still recorded), starts the
//! tasks whose containers never started, and removes any container nobody owns.
//!
//! Calls block (they wait for the store and the runner): async callers use `spawn_blocking`.

mod clusters;
mod definitions;
mod error;
mod names;
mod states;
mod supervisor;
mod tasks;
mod usage;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use compute::containers::ContainerRunner;
use compute::Cancellation;
use serde_json::Value;
use store::{Document, Store, Write};

pub use error::EcsError;
pub use states::EcsTasks;
pub use tasks::TaskRecord;
pub use usage::Usage;

const DEFINITION_KIND: &str = "ecs-task-definition";
const CLUSTER_KIND: &str = "ecs-cluster";
const TASK_KIND: &str = "ecs-task";

/// Where ARNs place resources.
#[derive(Debug, Clone)]
pub struct Region {
    pub region: String,
    pub account: String,
}

/// The ECS service of one region and account.
pub struct Ecs {
    store: Arc<dyn Store>,
    runner: Arc<dyn ContainerRunner>,
    region: Region,
    /// Where task logs are written: `<logs>/<cluster>/<task id>/<container>.log`.
    logs: std::path::PathBuf,
    state: Mutex<Registry>,
    /// Notified whenever a task changes, for callers waiting on a task's end.
    changed: Condvar,
}

#[derive(Default)]
struct Registry {
    /// By family, then revision: `{"taskDefinition": <TaskDefinition>, "tags": [...]}`.
    definitions: BTreeMap<String, BTreeMap<u64, Value>>,
    /// By name: the Cluster shape (without counts, which are computed).
    clusters: BTreeMap<String, Value>,
    tasks: BTreeMap<String, TaskRecord>,
    /// Tasks whose containers run here, with what stops them.
    running: HashMap<String, Cancellation>,
}

impl Ecs {
    /// Loads the service's resources from `store`, then reconciles the runner's containers with
    /// the tasks: survivors of tasks still open are adopted, the others removed, and open tasks
    /// whose containers never started are started.
    pub fn open(store: Arc<dyn Store>, runner: Arc<dyn ContainerRunner>, region: Region, logs: std::path::PathBuf) -> Result<Arc<Ecs>, EcsError> {
        let mut registry = Registry::default();
        for document in store.documents(DEFINITION_KIND).map_err(EcsError::store)? {
            let stored: Value = parse(&document)?;
            let family = stored["taskDefinition"]["family"].as_str().unwrap_or_default().to_owned();
            let revision = stored["taskDefinition"]["revision"].as_u64().unwrap_or_default();
            registry.definitions.entry(family).or_default().insert(revision, stored);
        }
        for document in store.documents(CLUSTER_KIND).map_err(EcsError::store)? {
            registry.clusters.insert(document.key.clone(), parse(&document)?);
        }
        for document in store.documents(TASK_KIND).map_err(EcsError::store)? {
            registry.tasks.insert(document.key.clone(), serde_json::from_str(&document.body).map_err(|error| EcsError::server(format!("stored task {}: {error}", document.key)))?);
        }
        let ecs = Arc::new(Ecs { store, runner, region, logs, state: Mutex::new(registry), changed: Condvar::new() });
        supervisor::recover(&ecs)?;
        Ok(ecs)
    }

    /// The runner's name (`process`, `docker`, `podman`).
    pub fn runner_name(&self) -> &str {
        self.runner.name()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `writes` durable, blocking until the store has them.
    fn persist(&self, writes: Vec<Write>) -> Result<(), EcsError> {
        store::commit_blocking(self.store.as_ref(), writes).map_err(EcsError::store)
    }
}

fn document(kind: &str, key: &str, body: &impl serde::Serialize) -> Result<Write, EcsError> {
    let body = serde_json::to_string(body).map_err(|error| EcsError::server(error.to_string()))?;
    Ok(Write::PutDocument(Document { kind: kind.to_owned(), key: key.to_owned(), body }))
}

fn parse(document: &Document) -> Result<Value, EcsError> {
    serde_json::from_str(&document.body).map_err(|error| EcsError::server(format!("stored {} {}: {error}", document.kind, document.key)))
}
