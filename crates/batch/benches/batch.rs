//! Batch's figures: the scheduler's own cost per job with 10,000 jobs queued, the time from
//! RUNNABLE demand to an attempt starting on an idle environment, and a Slurm job's end-to-end
//! latency through Batch against a bare `sbatch --wait`.
//!
//!     cargo bench -p batch --bench batch     (Slurm part: SLURM_CONF of a running cluster;
//!                                             SLURM_BENCH_SAMPLES pairs, default 15)

use batch::capacity::{CapacityKind, Environment};
use batch::job::{Exit, Job};
use batch::model::{
    ComputeEnvironment, ComputeEnvironmentOrder, ComputeResources, ContainerProperties, FairsharePolicy, JobDefinition, JobQueue, SchedulingPolicy,
    ShareAttributes,
};
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
    scheduler_overhead(None);
    scheduler_overhead(Some(fair_share_policy()));
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

/// Four shares of different weights, 10 % reserved for shares not yet active.
fn fair_share_policy() -> SchedulingPolicy {
    let weights = [("a", 1.0), ("b", 3.0), ("c", 0.5), ("d*", 2.0)];
    SchedulingPolicy {
        name: "fair".into(),
        arn: "arn:sp/fair".into(),
        fairshare_policy: Some(FairsharePolicy {
            share_decay_seconds: Some(600),
            compute_reservation: Some(10),
            share_distribution: weights.iter().map(|(share, weight)| ShareAttributes { share_identifier: (*share).into(), weight_factor: Some(*weight) }).collect(),
        }),
        quota_share_policy: None,
        tags: Default::default(),
    }
}

/// Every job placed, started and ended by the pure scheduler, 8 vCPUs of c5.large at a time; on a
/// fair-share queue, the jobs spread over four shares with scheduling priorities.
fn scheduler_overhead(policy: Option<SchedulingPolicy>) {
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
        scheduling_policy_arn: policy.as_ref().map(|policy| policy.arn.clone()),
        status: "VALID".into(),
        status_reason: String::new(),
        priority: 1,
        compute_environment_order: vec![ComputeEnvironmentOrder { order: 1, compute_environment: "arn:ce/env".into() }],
        tags: Default::default(),
        job_queue_type: "ECS_EC2".into(),
    });
    let kind = if policy.is_some() { "fair-share" } else { "FIFO" };
    let fair_share = policy.is_some();
    if let Some(policy) = policy {
        scheduler.put_policy(policy);
    }
    let definition = definition();
    let jobs: Vec<Job> = (0..QUEUED_JOBS)
        .flat_map(|index| {
            let request = SubmitJobRequest {
                job_name: format!("j{index}"),
                share_identifier: fair_share.then(|| ["a", "b", "c", "d1"][index % 4].to_owned()),
                scheduling_priority_override: fair_share.then_some((index % 7) as i32),
                ..SubmitJobRequest::default()
            };
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
        "scheduler overhead ({kind} queue): {QUEUED_JOBS} jobs queued at once, all placed, started and ended in {passes} passes: {:.1} ms in all, {:.3} ms per job (target <= 2 ms)",
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

/// `true` as a Slurm job: SubmitJob until DescribeJobs says SUCCEEDED, against a bare `sbatch`
/// polled with `squeue` every 10 ms until COMPLETED, the two alternating so that the machine's
/// load weighs on both alike (SLURM_BENCH_SAMPLES pairs, default 15); `sbatch --wait` (which
/// polls slowly by itself) for reference.
fn slurm_end_to_end() {
    let conf = std::env::var_os("SLURM_CONF").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/switchyard-slurm/slurm.conf"));
    let dir = std::env::temp_dir().join(format!("switchyard-batch-bench-slurm-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let settings = SlurmSettings { partition: None, container_engine: None, working_dir: dir.clone(), refresh: Duration::from_millis(50), slurm_conf: Some(conf.clone()) };
    if !SlurmRunner::is_available(&settings) {
        println!("Slurm end to end: no cluster answers (SLURM_CONF={}); not measured", conf.display());
        return;
    }
    let samples: usize = std::env::var("SLURM_BENCH_SAMPLES").ok().and_then(|text| text.parse().ok()).unwrap_or(15);
    let script = dir.join("true.sh");
    let _ = std::fs::write(&script, "#!/bin/sh\ntrue\n");
    let sbatch = |extra: &[&str]| {
        let mut command = Command::new("sbatch");
        command.env("SLURM_CONF", &conf).args(extra).args(["--parsable", "--cpus-per-task=1", "--mem=128", &format!("--output={}/bare.log", dir.display())]).arg(&script);
        command.output().expect("sbatch")
    };
    let bare_polled = || {
        let started = Instant::now();
        let slurm_id = String::from_utf8_lossy(&sbatch(&[]).stdout).trim().to_owned();
        loop {
            let state = Command::new("squeue").env("SLURM_CONF", &conf).args(["-h", "-t", "all", "-o", "%T", "-j", &slurm_id]).output().expect("squeue");
            if String::from_utf8_lossy(&state.stdout).trim() == "COMPLETED" {
                return started.elapsed();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "slurm job {slurm_id}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
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
    let through_batch = |index: usize| {
        let started = Instant::now();
        let submitted = call("submitjob", json!({"jobName": format!("j{index}"), "jobQueue": "q", "jobDefinition": "d"}));
        let job_id = submitted["jobId"].as_str().unwrap_or_default().to_owned();
        loop {
            let status = batch.describe_job(&job_id).and_then(|job| job["status"].as_str().map(str::to_owned)).unwrap_or_default();
            if status == "SUCCEEDED" {
                return started.elapsed();
            }
            assert!(status != "FAILED" && started.elapsed() < Duration::from_secs(60), "job {job_id}: {status}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let (mut polled, mut batched) = (Vec::new(), Vec::new());
    for index in 0..samples {
        polled.push(bare_polled());
        batched.push(through_batch(index));
    }
    let waited: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            assert!(sbatch(&["--wait"]).status.success(), "sbatch --wait");
            started.elapsed()
        })
        .collect();
    // Slurm itself sometimes starts a job at once (tens of ms) and usually on its next cycle
    // (about a second), on both sides alike: quartiles compare them, single pairs do not.
    let quartiles = |samples: &[Duration]| {
        let mut sorted = samples.to_vec();
        sorted.sort();
        [sorted.len() / 4, sorted.len() / 2, sorted.len() * 3 / 4].map(|index| sorted.get(index).copied().unwrap_or_default())
    };
    let (through_batch, bare) = (quartiles(&batched), quartiles(&polled));
    let shown = |quartiles: [Duration; 3]| quartiles.map(|value| format!("{:.0}", millis(value))).join("/");
    println!(
        "Slurm end to end (`true`, {samples} alternating pairs, ms p25/median/p75): through Batch {}; bare sbatch + squeue every 10 ms {}; ratio of medians {:.2}x, of p75 {:.2}x (target <= 1.5x); bare sbatch --wait median of 5 {:.0} ms",
        shown(through_batch),
        shown(bare),
        through_batch[1].as_secs_f64() / bare[1].as_secs_f64(),
        through_batch[2].as_secs_f64() / bare[2].as_secs_f64(),
        millis(median(waited)),
    );
    batch.shut_down();
    let _ = std::fs::remove_dir_all(&dir);
}
