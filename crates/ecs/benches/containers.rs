//! Container task figures, side by side in one run:
//! 1. start-to-running latency of an ECS task (RunTask until the task is RUNNING) against a raw
//!    `podman run` of the same image (until the container's first output line), alternating;
//! 2. 100 short tasks at a concurrency of 8, then a count of the containers left behind.
//!
//! `DOCKER_HOST=unix:///tmp/switchyard-podman/podman.sock cargo bench -p ecs --bench containers [-- --runner process]`
//! (scripts/setup/podman.sh starts the service and builds the image).

use compute::containers::{ContainerRunner, EngineConfig, EngineRunner, ProcessRunner};
use compute::Cancellation;
use ecs::{Ecs, Region};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use store::MemoryStore;

const IMAGE: &str = "localhost/switchyard-busybox";
const LATENCY_SAMPLES: usize = 10;
const SHORT_TASKS: usize = 100;
const CONCURRENCY: usize = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let process = std::env::args().any(|argument| argument == "process");
    let scratch = std::env::temp_dir().join(format!("switchyard-bench-containers-{}", std::process::id()));
    let owner = scratch.to_string_lossy().into_owned();
    let runner: Arc<dyn ContainerRunner> = if process {
        Arc::new(ProcessRunner::open(scratch.join("containers"), owner.clone())?)
    } else {
        Arc::new(EngineRunner::connect(EngineConfig::new(owner.clone()))?)
    };
    let region = Region { region: "us-east-1".into(), account: "000000000000".into() };
    let ecs = Ecs::open(Arc::new(MemoryStore::new()), runner.clone(), region, scratch.join("logs"))?;
    let register = |family: &str, command: &[&str]| {
        ecs.register_task_definition(&json!({
            "family": family, "cpu": "256", "memory": "512", "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [{ "name": "app", "image": IMAGE, "command": command }]
        }))
    };
    register("ready", &["sh", "-c", "echo ready; sleep 1"])?;
    register("short", &["sh", "-c", "echo short"])?;
    println!("runner: {}", runner.name());

    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..LATENCY_SAMPLES {
        ours.push(task_to_running(&ecs)?);
        if !process {
            raw.push(podman_run_to_output()?);
        }
    }
    report("switchyard RunTask -> RUNNING", &mut ours);
    if !process {
        report("raw `podman run` -> first output", &mut raw);
        println!("ratio of medians: {:.2}x (target <= 1.2x)", median(&ours) / median(&raw));
    }

    let started = Instant::now();
    let queue = Arc::new(std::sync::Mutex::new(0..SHORT_TASKS));
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    thread::scope(|scope| {
        for _ in 0..CONCURRENCY {
            let (queue, failures, ecs) = (queue.clone(), failures.clone(), ecs.clone());
            scope.spawn(move || {
                while queue.lock().map(|mut queue| queue.next()).ok().flatten().is_some() {
                    let ok = run_and_wait(&ecs, "short").is_some_and(|task| task["containers"][0]["exitCode"] == 0);
                    if !ok {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let left = runner.survivors()?.len();
    println!(
        "{SHORT_TASKS} short tasks at concurrency {CONCURRENCY}: {:.2} s ({:.1} tasks/s), {} failed, {left} containers left behind",
        elapsed.as_secs_f64(),
        SHORT_TASKS as f64 / elapsed.as_secs_f64(),
        failures.load(std::sync::atomic::Ordering::Relaxed)
    );
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// RunTask, then the time until DescribeTasks would say RUNNING; waits for the task's end.
fn task_to_running(ecs: &Arc<Ecs>) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let answer = ecs.run_task(&json!({ "taskDefinition": "ready", "launchType": "FARGATE" }))?;
    let arn = answer["tasks"][0]["taskArn"].as_str().unwrap_or_default().to_owned();
    loop {
        let status = ecs.task(&arn).map(|record| record.task["lastStatus"].clone()).unwrap_or(Value::Null);
        if status == "RUNNING" || status == "STOPPED" {
            break;
        }
        thread::sleep(Duration::from_micros(200));
    }
    let latency = started.elapsed();
    ecs.wait_until_stopped(&arn, &Cancellation::new());
    Ok(latency)
}

fn run_and_wait(ecs: &Arc<Ecs>, family: &str) -> Option<Value> {
    let answer = ecs.run_task(&json!({ "taskDefinition": family, "launchType": "FARGATE" })).ok()?;
    ecs.wait_until_stopped(answer["tasks"][0]["taskArn"].as_str()?, &Cancellation::new())
}

/// `podman run --rm` of the same image and command, until its first line of output.
fn podman_run_to_output() -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut child = Command::new("podman")
        .args(["run", "--rm", "--cpus", "0.25", "--memory", "512m", IMAGE, "sh", "-c", "echo ready; sleep 1"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let latency = started.elapsed();
    child.wait()?;
    Ok(latency)
}

fn median(samples: &[Duration]) -> f64 {
    let mut sorted: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "{name}: median {:.1} ms, min {:.1} ms, max {:.1} ms ({} samples)",
        median(samples) * 1000.0,
        samples.first().map_or(f64::NAN, |sample| ms(*sample)),
        samples.last().map_or(f64::NAN, |sample| ms(*sample)),
        samples.len()
    );
}
