//! `cargo bench -p engine`: durable STANDARD executions per second through the runtime and the
//! SQLite store, without HTTP (the API's share is measured by `switchyard bench`).

use asl::definition::StateMachine;
use asl::interpreter::TaskRequest;
use asl::Failure;
use engine::catalog::{MachineType, ResolvedMachine};
use engine::runtime::{Runtime, RuntimeConfig};
use engine::TaskDispatcher;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct NoTasks;

impl TaskDispatcher for NoTasks {
    fn run(&self, request: &TaskRequest, _context: &engine::TaskContext) -> Result<Value, Failure> {
        Err(Failure::new("Unsupported", request.resource.clone()))
    }
}

fn pass_chain(states: usize) -> Value {
    let mut all = Map::new();
    for index in 0..states {
        let mut state = json!({"Type": "Pass", "Result": index, "ResultPath": "$.step"});
        if index + 1 == states {
            state["End"] = json!(true);
        } else {
            state["Next"] = json!(format!("S{}", index + 1));
        }
        all.insert(format!("S{index}"), state);
    }
    json!({"StartAt": "S0", "States": all})
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("switchyard-bench-{}", std::process::id()));
        let store = Arc::new(store::SqliteStore::open(&dir).expect("store"));
        let executions = Arc::new(Runtime::open(store, Arc::new(NoTasks), RuntimeConfig::default()).expect("runtime"));
        let definition = pass_chain(10);
        let machine = ResolvedMachine {
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:bench".into(),
            name: "bench".into(),
            version_arn: None,
            alias_arn: None,
            machine_type: MachineType::Standard,
            role_arn: "arn:aws:iam::000000000000:role/bench".into(),
            definition: definition.to_string(),
            compiled: Arc::new(StateMachine::compile(&definition).expect("definition")),
        };
        let (count, concurrency) = (20_000usize, 64usize);
        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|worker| {
                let (executions, machine) = (executions.clone(), machine.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    for index in (worker..count).step_by(concurrency) {
                        let sent = Instant::now();
                        executions.start_execution(machine.clone(), Some(format!("e{index}")), "{\"n\":1}".into(), None).await.expect("start");
                        latencies.push(sent.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies: Vec<Duration> = Vec::new();
        for worker in workers {
            latencies.extend(worker.await.expect("worker"));
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
        println!(
            "durable 10-state Pass executions (started and completed, SQLite, {concurrency} in flight): {:.0} executions/s, {:.0} state transitions/s; start p50 {:.3} ms, p99 {:.3} ms",
            count as f64 / elapsed,
            count as f64 * 10.0 / elapsed,
            at(0.5),
            at(0.99)
        );
        drop(executions);
        let _ = std::fs::remove_dir_all(dir);
    });
}
