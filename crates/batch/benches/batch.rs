//! Batch's figures: the scheduler's own cost per job with 10,000 jobs queued, the time from
//! RUNNABLE demand to an attempt starting on an idle environment, and a Slurm job's end-to-end
//! latency through Batch against a bare `sbatch --wait`.
//!
//!     cargo bench -p batch --bench batch            (Slurm part: SLURM_CONF of a running cluster)

use batch::capacity::{CapacityKind, Environment};
use batch::job::{Exit, Job};
use batch::model::{ComputeEnvironment, ComputeEnvironmentOrder, ComputeResources, ContainerProperties, JobDefinition, JobQueue};
use batch::scheduler::{Effect, ScalerConfig, Scheduler};
use batch::submission::{jobs_for, SubmitJobRequest, Target};
use batch::{Batch, BatchConfig, JobRunner, Launch, Progress, RunningAttempt, SlurmRunner, SlurmSettings};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::MemoryStore;

const QUEUED_JOBS: usize = 10_000;

fn main() {
    scheduler_overhead();
    runnable_to_started();
    slurm_end_to_end();
}

fn definition() -> JobDefinition {
    JobDefinition {
        job_definition_name: "d".into(),
        job_definition_arn: "arn:jd/d:1".into(),
        revision: 1,
        status: "ACTIVE".into(),
        kind: "container".into(),
        scheduling_priority: None,
        parameters: Default::default(),
        retry_strategy: None,
        container_properties: Some(ContainerProperties { vcpus: Some(1), memory: Some(512), command: vec!["true".into()], ..Default::default() }),
        timeout: None,
        tags: Default::default(),
        propagate_tags: false,
        platform_capabilities: vec![],
        container_orchestration_type: "ECS".into(),
    }
}

/// Every job placed, started and ended by the pure scheduler, 8 vCPUs of c5.large at a time.
fn scheduler_overhead() {
    let mut scheduler = Scheduler::new(ScalerConfig::default());
    let spec = ComputeEnvironment {
        compute_environment_name: "env".into(),
        compute_environment_arn: "arn:ce/env".into(),
        ecs_cluster_arn: String::new(),
        kind: "MANAGED".into(),
        state: "ENABLED".into(),
        status: "VALID".into(),
        status_reason: String::new(),
        unmanagedv_cpus: None,
        compute_resources: Some(ComputeResources {
            kind: "SPOT".into(),
            allocation_strategy: None,
            minv_cpus: 0,
            maxv_cpus: 8,
            desiredv_cpus: 0,
            instance_types: vec!["c5.large".into()],
            other: Default::default(),
        }),
        service_role: None,
        tags: Default::default(),
        uuid: String::new(),
        container_orchestration_type: "ECS".into(),
    };
    scheduler.put_environment(Environment::new(spec, CapacityKind::Instances));
    scheduler.put_queue(JobQueue {
        job_queue_name: "q".into(),
        job_queue_arn: "arn:jq/q".into(),
        state: "ENABLED".into(),
        scheduling_policy_arn: None,
        status: "VALID".into(),
        status_reason: String::new(),
        priority: 1,
        compute_environment_order: vec![ComputeEnvironmentOrder { order: 1, compute_environment: "arn:ce/env".into() }],
        tags: Default::default(),
        job_queue_type: "ECS_EC2".into(),
    });
    let definition = definition();
    let jobs: Vec<Job> = (0..QUEUED_JOBS)
        .flat_map(|index| {
            let request = SubmitJobRequest { job_name: format!("j{index}"), ..SubmitJobRequest::default() };
            let target = Target { job_id: format!("job-{index}"), job_arn_prefix: "arn:job/", queue_name: "q", queue_arn: "arn:jq/q", definition: &definition, now: 0 };
            jobs_for(&request, &target).unwrap_or_default()
        })
        .collect();
    let started = Instant::now();
    scheduler.submit(jobs);
    let mut done = 0;
    let mut now = 0;
    let mut passes = 0;
    while done < QUEUED_JOBS {
        now += 1;
        passes += 1;
        scheduler.schedule(now);
        for effect in scheduler.take_effects() {
            if let Effect::Start { job_id } = effect {
                scheduler.started(&job_id, now, true);
                scheduler.exited(&job_id, now, Exit { exit_code: Some(0), reason: None });
                done += 1;
            }
        }
        // What the driver persists after each pass.
        let _ = scheduler.take_changed_jobs();
    }
    let elapsed = started.elapsed();
    println!(
        "scheduler overhead: {QUEUED_JOBS} jobs queued at once, all placed, started and ended in {passes} passes: {:.1} ms in all, {:.3} ms per job (target <= 2 ms)",
        elapsed.as_secs_f64() * 1000.0,
        elapsed.as_secs_f64() * 1000.0 / QUEUED_JOBS as f64
    );
}

/// Records when each attempt reached the runner; the attempt ends at once.
#[derive(Default)]
struct RecordingRunner {
    starts: Mutex<HashMap<String, Instant>>,
}

struct Done;

impl RunningAttempt for Done {
    fn poll(&mut self) -> Progress {
        Progress::Exited(Exit { exit_code: Some(0), reason: None })
    }

    fn stop(&mut self) {}
}

impl JobRunner for RecordingRunner {
    fn start(&self, launch: &Launch) -> Result<Box<dyn RunningAttempt>, String> {
        self.starts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(launch.job_id.clone(), Instant::now());
        Ok(Box::new(Done))
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// SubmitJob's answer (the job is stored and RUNNABLE next) to the runner being asked to start it,
/// on an environment with nothing running (scaled to 0: the instance is launched for the job).
fn runnable_to_started() {
    let runner = Arc::new(RecordingRunner::default());
    let runners: HashMap<String, Arc<dyn JobRunner>> = [("process".to_owned(), runner.clone() as Arc<dyn JobRunner>)].into();
    let mut config = BatchConfig::new(std::env::temp_dir().join("switchyard-batch-bench"));
    config.scaler.idle_timeout_ms = 0;
    let batch = Batch::open(Arc::new(MemoryStore::new()), config, runners).expect("the service opens");
    batch.start().expect("the driver starts");
    let call = |operation: &str, body: serde_json::Value| batch.call(operation, body).expect(operation);
    call(
        "createcomputeenvironment",
        json!({"computeEnvironmentName": "env", "type": "MANAGED", "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": 8, "instanceTypes": ["c5.large"], "subnets": ["s"]}}),
    );
    call("createjobqueue", json!({"jobQueueName": "q", "priority": 1, "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "env"}]}));
    call("registerjobdefinition", json!({"jobDefinitionName": "d", "type": "container", "containerProperties": {"image": "x", "vcpus": 1, "memory": 128, "command": ["true"]}}));
    let mut samples = Vec::new();
    for index in 0..50 {
        // Idle: the previous job ended and its instance was stopped.
        std::thread::sleep(Duration::from_millis(20));
        let submitted = call("submitjob", json!({"jobName": format!("j{index}"), "jobQueue": "q", "jobDefinition": "d"}));
        let answered = Instant::now();
        let job_id = submitted["jobId"].as_str().unwrap_or_default().to_owned();
        let deadline = Instant::now() + Duration::from_secs(5);
        let started = loop {
            if let Some(at) = runner.starts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&job_id) {
                break *at;
            }
            assert!(Instant::now() < deadline, "job {job_id} did not start");
            std::thread::yield_now();
        };
        samples.push(started.saturating_duration_since(answered));
    }
    let worst = samples.iter().max().copied().unwrap_or_default();
    println!(
        "RUNNABLE -> started on an idle environment (scaled to 0, launch delay 0): median {:.3} ms, worst {:.3} ms of {} (target <= 100 ms + runner start)",
        millis(median(samples.clone())),
        millis(worst),
        samples.len()
    );
    batch.shut_down();
}

/// `true` as a Slurm job: bare `sbatch --wait` against SubmitJob until DescribeJobs says SUCCEEDED.
fn slurm_end_to_end() {
    let conf = std::env::var_os("SLURM_CONF").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/switchyard-slurm/slurm.conf"));
    let dir = std::env::temp_dir().join(format!("switchyard-batch-bench-slurm-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let settings = SlurmSettings { partition: None, container_engine: None, working_dir: dir.clone(), refresh: Duration::from_millis(50), slurm_conf: Some(conf.clone()) };
    if !SlurmRunner::is_available(&settings) {
        println!("Slurm end to end: no cluster answers (SLURM_CONF={}); not measured", conf.display());
        return;
    }
    const SAMPLES: usize = 5;
    let script = dir.join("true.sh");
    let _ = std::fs::write(&script, "#!/bin/sh\ntrue\n");
    let mut polled = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let submitted = Command::new("sbatch")
            .env("SLURM_CONF", &conf)
            .args(["--parsable", "--cpus-per-task=1", "--mem=128", &format!("--output={}/bare.log", dir.display())])
            .arg(&script)
            .output()
            .expect("sbatch");
        let slurm_id = String::from_utf8_lossy(&submitted.stdout).trim().to_owned();
        loop {
            let state = Command::new("squeue").env("SLURM_CONF", &conf).args(["-h", "-t", "all", "-o", "%T", "-j", &slurm_id]).output().expect("squeue");
            if String::from_utf8_lossy(&state.stdout).trim() == "COMPLETED" {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "slurm job {slurm_id}");
            std::thread::sleep(Duration::from_millis(10));
        }
        polled.push(started.elapsed());
    }
    let mut bare = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let status = Command::new("sbatch")
            .env("SLURM_CONF", &conf)
            .args(["--wait", "--parsable", "--cpus-per-task=1", "--mem=128", &format!("--output={}/bare.log", dir.display())])
            .arg(&script)
            .output();
        assert!(status.is_ok_and(|output| output.status.success()), "sbatch --wait");
        bare.push(started.elapsed());
    }
    let runners: HashMap<String, Arc<dyn JobRunner>> = [("slurm".to_owned(), Arc::new(SlurmRunner::new(settings)) as Arc<dyn JobRunner>)].into();
    let mut config = BatchConfig::new(dir.join("logs"));
    config.default_backend = "slurm".into();
    let batch = Batch::open(Arc::new(MemoryStore::new()), config, runners).expect("the service opens");
    batch.start().expect("the driver starts");
    let call = |operation: &str, body: serde_json::Value| batch.call(operation, body).expect(operation);
    call(
        "createcomputeenvironment",
        json!({"computeEnvironmentName": "env", "type": "MANAGED", "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": 8, "instanceTypes": ["optimal"], "subnets": ["s"]}}),
    );
    call("createjobqueue", json!({"jobQueueName": "q", "priority": 1, "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "env"}]}));
    call("registerjobdefinition", json!({"jobDefinitionName": "d", "type": "container", "containerProperties": {"image": "x", "vcpus": 1, "memory": 128, "command": ["true"]}}));
    let mut through_batch = Vec::new();
    for index in 0..SAMPLES {
        let started = Instant::now();
        let submitted = call("submitjob", json!({"jobName": format!("j{index}"), "jobQueue": "q", "jobDefinition": "d"}));
        let job_id = submitted["jobId"].as_str().unwrap_or_default().to_owned();
        loop {
            let status = batch.describe_job(&job_id).and_then(|job| job["status"].as_str().map(str::to_owned)).unwrap_or_default();
            if status == "SUCCEEDED" {
                break;
            }
            assert!(status != "FAILED" && started.elapsed() < Duration::from_secs(60), "job {job_id}: {status}");
            std::thread::sleep(Duration::from_millis(5));
        }
        through_batch.push(started.elapsed());
    }
    let (bare, polled, through_batch) = (median(bare), median(polled), median(through_batch));
    println!(
        "Slurm end to end (`true`, median of {SAMPLES}): through Batch {:.0} ms; bare sbatch --wait {:.0} ms ({:.2}x); bare sbatch + squeue every 10 ms {:.0} ms ({:.2}x) (target <= 1.5x)",
        millis(through_batch),
        millis(bare),
        through_batch.as_secs_f64() / bare.as_secs_f64(),
        millis(polled),
        through_batch.as_secs_f64() / polled.as_secs_f64()
    );
    batch.shut_down();
    let _ = std::fs::remove_dir_all(&dir);
}
