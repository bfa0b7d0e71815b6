//! A Batch service on the process runner over an in-memory store, and helpers to drive it.
#![allow(dead_code)]

use batch::{Batch, BatchConfig, ContainerJobRunner, JobRunner, ScalerConfig};
use compute::containers::ProcessRunner;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{MemoryStore, Store};

pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchyard-batch-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

pub fn service(store: Arc<dyn Store>, scaler: ScalerConfig, dir: &std::path::Path) -> Arc<Batch> {
    let mut config = BatchConfig::new(dir.join("logs"));
    config.scaler = scaler;
    let mut runners: HashMap<String, Arc<dyn JobRunner>> = HashMap::new();
    let processes = ProcessRunner::open(dir.join("processes"), "batch-test").expect("the process runner").with_working_dir(dir);
    runners.insert("process".into(), Arc::new(ContainerJobRunner::new(Arc::new(processes))));
    let batch = Batch::open(store, config, runners).expect("the service opens");
    batch.start().expect("the driver starts");
    batch
}

pub fn memory_service(scaler: ScalerConfig, name: &str) -> (Arc<Batch>, PathBuf) {
    let dir = scratch_dir(name);
    (service(Arc::new(MemoryStore::new()), scaler, &dir), dir)
}

pub fn call(batch: &Batch, operation: &str, body: Value) -> Value {
    batch.call(operation, body).unwrap_or_else(|error| panic!("{operation}: {error}"))
}

/// An environment of `instance_types` (max `max_vcpus`), a queue on it and a job definition.
pub fn setup(batch: &Batch, kind: &str, instance_types: &[&str], max_vcpus: u32) {
    call(
        batch,
        "createcomputeenvironment",
        json!({"computeEnvironmentName": "env", "type": "MANAGED", "computeResources": {
            "type": kind, "minvCpus": 0, "maxvCpus": max_vcpus, "instanceTypes": instance_types, "subnets": ["subnet-1"]}}),
    );
    call(batch, "createjobqueue", json!({"jobQueueName": "queue", "priority": 1, "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "env"}]}));
    call(
        batch,
        "registerjobdefinition",
        json!({"jobDefinitionName": "work", "type": "container", "containerProperties": {"image": "busybox", "vcpus": 1, "memory": 512, "command": ["true"]}}),
    );
}

pub fn submit(batch: &Batch, body: Value) -> String {
    let mut request = json!({"jobName": "job", "jobQueue": "queue", "jobDefinition": "work"});
    if let (Some(request), Some(extra)) = (request.as_object_mut(), body.as_object()) {
        request.extend(extra.clone());
    }
    call(batch, "submitjob", request)["jobId"].as_str().unwrap_or_default().to_owned()
}

pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

pub fn status(batch: &Batch, job_id: &str) -> String {
    batch.describe_job(job_id).and_then(|job| job["status"].as_str().map(str::to_owned)).unwrap_or_default()
}

pub fn wait_done(batch: &Batch, job_id: &str, timeout: Duration) -> Value {
    wait_until(timeout, || matches!(status(batch, job_id).as_str(), "SUCCEEDED" | "FAILED"));
    batch.describe_job(job_id).unwrap_or_default()
}

/// The test cluster of scripts/setup/slurm.sh.
pub fn slurm_settings(working_dir: &std::path::Path) -> batch::SlurmSettings {
    let conf = std::env::var_os("SLURM_CONF").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/switchyard-slurm/slurm.conf"));
    batch::SlurmSettings {
        partition: None,
        container_engine: None,
        working_dir: working_dir.to_path_buf(),
        refresh: Duration::from_millis(50),
        slurm_conf: conf.exists().then_some(conf),
    }
}

/// Whether Slurm is up; under CI its absence is a failure, elsewhere the test is skipped.
pub fn slurm_is_up(settings: &batch::SlurmSettings) -> bool {
    if batch::SlurmRunner::is_available(settings) {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "Slurm is not running (scripts/setup/slurm.sh starts it)");
    eprintln!("Slurm is not running: skipped (scripts/setup/slurm.sh starts it)");
    false
}

/// A service whose environments run on `runners` (by backend name).
pub fn service_with(runners: HashMap<String, Arc<dyn JobRunner>>, dir: &std::path::Path, default_backend: &str) -> Arc<Batch> {
    let mut config = BatchConfig::new(dir.join("logs"));
    config.default_backend = default_backend.to_owned();
    config.scaler = ScalerConfig { idle_timeout_ms: 200, ..ScalerConfig::default() };
    let batch = Batch::open(Arc::new(MemoryStore::new()), config, runners).expect("the service opens");
    batch.start().expect("the driver starts");
    batch
}
