//! `cargo bench -p store`: the SQLite store's group-commit throughput and its open time.
//!
//! Throughput: threads each submit batches of one execution row and 22 history events (a
//! 10-state Pass execution) and submit the next as soon as the previous one is acknowledged.
//! Open time: a store holding 1,000,000 history events is opened and read from.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use store::{ExecutionRecord, SqliteStore, Store, StoreError, Write};

const STATES: u64 = 10;
/// ExecutionStarted, each state's Entered and Exited, ExecutionSucceeded.
const EVENTS_PER_EXECUTION: u64 = 2 * STATES + 2;
const RUN_FOR: Duration = Duration::from_secs(5);
const STORED_EVENTS: u64 = 1_000_000;
const EXECUTIONS_PER_FILL_BATCH: u64 = 500;

fn main() -> Result<(), StoreError> {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store-bench");
    for threads in [1, 8, 32] {
        throughput(&scratch.join(format!("throughput-{threads}")), threads)?;
    }
    open_time(&scratch.join("open"))?;
    remove(&scratch)
}

fn throughput(dir: &Path, threads: usize) -> Result<(), StoreError> {
    remove(dir)?;
    let store = Arc::new(SqliteStore::open(dir)?);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let submitters: Vec<_> = (0..threads)
        .map(|thread| {
            let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
            std::thread::spawn(move || -> Result<Vec<Duration>, StoreError> {
                let mut latencies = Vec::new();
                for index in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let batch = execution_batch(&format!("{thread}-{index}"));
                    let submitted = Instant::now();
                    commit(store.as_ref(), batch)?;
                    latencies.push(submitted.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    std::thread::sleep(RUN_FOR);
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for submitter in submitters {
        latencies.extend(submitter.join().map_err(|_| StoreError("a submitter panicked".into()))??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let batches = latencies.len() as f64;
    let percentile = |p: usize| latencies.get(latencies.len() * p / 100).map_or(0.0, |latency| latency.as_secs_f64() * 1e3);
    println!(
        "group commit, {threads:>2} threads, batches of 1 execution + {EVENTS_PER_EXECUTION} events: \
         {:>9.0} events/s {:>7.0} batches/s  latency p50 {:.2} ms p99 {:.2} ms",
        batches * EVENTS_PER_EXECUTION as f64 / elapsed,
        batches / elapsed,
        percentile(50),
        percentile(99),
    );
    drop(store);
    remove(dir)
}

fn open_time(dir: &Path) -> Result<(), StoreError> {
    remove(dir)?;
    let executions = STORED_EVENTS / EVENTS_PER_EXECUTION + 1;
    let filling = Instant::now();
    {
        let store = SqliteStore::open(dir)?;
        for first in (0..executions).step_by(EXECUTIONS_PER_FILL_BATCH as usize) {
            let last = executions.min(first + EXECUTIONS_PER_FILL_BATCH);
            commit(&store, (first..last).flat_map(|index| execution_batch(&index.to_string())).collect())?;
        }
    }
    let filled = filling.elapsed();
    let size = std::fs::metadata(dir.join(store::sqlite::DATABASE_FILE)).map_or(0, |metadata| metadata.len());

    let opening = Instant::now();
    let store = SqliteStore::open(dir)?;
    let opened = opening.elapsed();
    let reading = Instant::now();
    let record = store.execution(&execution_arn("7"))?;
    let history = store.history(&execution_arn("7"))?;
    let read = reading.elapsed();
    if record.is_none() || history.len() as u64 != EVENTS_PER_EXECUTION {
        return Err(StoreError("the filled store lost an execution".into()));
    }
    println!(
        "open a store of {} events ({executions} executions, {:.0} MB, filled in {:.1} s): {:.2} ms; \
         then one execution and its history: {:.2} ms",
        executions * EVENTS_PER_EXECUTION,
        size as f64 / 1e6,
        filled.as_secs_f64(),
        opened.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3,
    );
    drop(store);
    remove(dir)
}

fn execution_arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:Bench:{name}")
}

/// The row and history of a succeeded 10-state Pass execution, as the engine writes them.
fn execution_batch(name: &str) -> Vec<Write> {
    let arn = execution_arn(name);
    let timestamp = 1_700_000_000_000_i64;
    let mut events = Vec::with_capacity(EVENTS_PER_EXECUTION as usize);
    events.push(format!(
        r#"{{"timestamp":{timestamp},"type":"ExecutionStarted","id":1,"previousEventId":0,"executionStartedEventDetails":{{"input":"{{\"value\":1}}","inputDetails":{{"truncated":false}},"roleArn":"arn:aws:iam::123456789012:role/Bench"}}}}"#
    ));
    for state in 0..STATES {
        let entered = 2 * state + 2;
        events.push(format!(
            r#"{{"timestamp":{timestamp},"type":"PassStateEntered","id":{entered},"previousEventId":{},"stateEnteredEventDetails":{{"name":"Step{state}","input":"{{\"value\":1}}","inputDetails":{{"truncated":false}}}}}}"#,
            entered - 1
        ));
        events.push(format!(
            r#"{{"timestamp":{timestamp},"type":"PassStateExited","id":{},"previousEventId":{entered},"stateExitedEventDetails":{{"name":"Step{state}","output":"{{\"value\":1}}","outputDetails":{{"truncated":false}}}}}}"#,
            entered + 1
        ));
    }
    events.push(format!(
        r#"{{"timestamp":{timestamp},"type":"ExecutionSucceeded","id":{EVENTS_PER_EXECUTION},"previousEventId":{},"executionSucceededEventDetails":{{"output":"{{\"value\":1}}","outputDetails":{{"truncated":false}}}}}}"#,
        EVENTS_PER_EXECUTION - 1
    ));
    let record = ExecutionRecord {
        arn: arn.clone(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:Bench".into(),
        name: name.to_owned(),
        status: "SUCCEEDED".into(),
        start_ms: timestamp,
        stop_ms: Some(timestamp),
        body: r#"{"input":"{\"value\":1}","output":"{\"value\":1}"}"#.into(),
    };
    vec![Write::PutExecution(record), Write::AppendHistory { execution_arn: arn, first_event_id: 1, events }]
}

fn commit(store: &dyn Store, writes: Vec<Write>) -> Result<(), StoreError> {
    let (sender, acknowledgement) = mpsc::channel();
    store.submit(
        writes,
        Box::new(move |outcome| {
            let _ = sender.send(outcome);
        }),
    );
    acknowledgement.recv().unwrap_or_else(|_| Err(StoreError("acknowledgement dropped".into())))
}

fn remove(dir: &Path) -> Result<(), StoreError> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(StoreError(format!("cannot remove {}: {error}", dir.display())))
        }
        _ => Ok(()),
    }
}
