//! Durability under `kill -9`: a child process (this test binary, re-executed in writer mode)
//! submits batches from several threads and prints each acknowledged batch; the test kills it at a
//! random moment, reopens the store and checks that every acknowledged batch is there in full and
//! that no batch is there in part.

mod common;

use common::{append_history, commit, events, execution, fresh_dir};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store::{Document, SqliteStore, Store, Write};

/// Set in the child: the data dir to write to.
const WRITER_MODE: &str = "SWITCHYARD_STORE_CRASH_WRITER";
const TEST_NAME: &str = "acknowledged_batches_survive_sigkill_and_no_batch_is_partial";
const WRITER_THREADS: u64 = 4;
const EVENTS_PER_BATCH: u64 = 22;
const INPUTS_PER_BATCH: u64 = 3;
/// The child stops by itself after this many batches, should its parent be gone.
const MOST_BATCHES: u64 = 200_000;

#[test]
fn acknowledged_batches_survive_sigkill_and_no_batch_is_partial() {
    if let Some(dir) = std::env::var_os(WRITER_MODE) {
        write_until_killed(Path::new(&dir));
        return;
    }
    for round in 0..4 {
        let dir = fresh_dir(&format!("crash-{round}"));
        let acknowledged = run_writer_and_kill_it(&dir);
        assert!(!acknowledged.is_empty(), "round {round}: the writer acknowledged nothing");
        eprintln!("round {round}: {} acknowledged", acknowledged.len());
        check_store(&dir, &acknowledged);
    }
}

/// Runs the writer child, kills it after a random number of acknowledgements plus a random
/// delay, and returns every batch it acknowledged before dying.
fn run_writer_and_kill_it(dir: &Path) -> BTreeSet<u64> {
    let executable = std::env::current_exe().unwrap();
    let mut child = Command::new(executable)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(WRITER_MODE, dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let kill_after = fastrand::usize(1..2_000);
    let mut acknowledged = BTreeSet::new();
    for line in lines.by_ref() {
        record(&mut acknowledged, &line.unwrap());
        if acknowledged.len() >= kill_after {
            break;
        }
    }
    std::thread::sleep(Duration::from_micros(fastrand::u64(0..3_000)));
    child.kill().unwrap(); // SIGKILL
    // What the child printed before it died is still in the pipe.
    for line in lines {
        record(&mut acknowledged, &line.unwrap());
    }
    child.wait().unwrap();
    acknowledged
}

fn record(acknowledged: &mut BTreeSet<u64>, line: &str) {
    if let Some(sequence) = line.strip_prefix("acknowledged ") {
        acknowledged.insert(sequence.parse().unwrap());
    }
}

/// The child: each thread submits its batches one after the other, printing each acknowledged one.
fn write_until_killed(dir: &Path) {
    let store = Arc::new(SqliteStore::open(dir).unwrap());
    let next_sequence = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..WRITER_THREADS)
        .map(|thread| {
            let (store, next_sequence) = (Arc::clone(&store), Arc::clone(&next_sequence));
            std::thread::spawn(move || {
                for round in 0.. {
                    let sequence = next_sequence.fetch_add(1, Ordering::Relaxed);
                    if sequence >= MOST_BATCHES {
                        return;
                    }
                    commit(store.as_ref(), batch(sequence, thread, round)).unwrap();
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "acknowledged {sequence}").unwrap();
                    stdout.flush().unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
}

fn name(sequence: u64) -> String {
    format!("batch-{sequence}")
}

fn thread_log(thread: u64) -> String {
    format!("thread-{thread}")
}

/// Batch `sequence`, the `round`th of its thread: a new execution with its history and inputs,
/// plus an update of two rows its thread already has (its log's history and its progress
/// document), which must move together.
fn batch(sequence: u64, thread: u64, round: u64) -> Vec<Write> {
    let record = execution("Crash", &name(sequence), "RUNNING", i64::try_from(sequence).unwrap(), None);
    let log = common::execution_arn("Crash", &thread_log(thread));
    let mut writes = vec![Write::PutExecution(record.clone()), append_history(&record.arn, 1, EVENTS_PER_BATCH)];
    writes.extend((0..INPUTS_PER_BATCH).map(|input| Write::AppendInput {
        execution_arn: record.arn.clone(),
        sequence: input,
        input: format!("input {input}"),
    }));
    writes.push(append_history(&log, round * 2 + 1, 2));
    writes.push(Write::PutDocument(Document { kind: "progress".into(), key: thread.to_string(), body: (round + 1).to_string() }));
    writes
}

fn check_store(dir: &Path, acknowledged: &BTreeSet<u64>) {
    let store = SqliteStore::open(dir).unwrap();
    let inputs: HashMap<String, Vec<String>> =
        store.open_executions().unwrap().into_iter().map(|record| (record.arn.clone(), store.inputs(&record.arn, 0, usize::MAX).unwrap())).collect();
    let expected_inputs: Vec<String> = (0..INPUTS_PER_BATCH).map(|input| format!("input {input}")).collect();
    let highest = acknowledged.last().copied().unwrap_or(0);
    // Batches above the highest acknowledged one may have been committed but not yet acknowledged.
    for sequence in 0..=highest + WRITER_THREADS * 2 {
        let arn = common::execution_arn("Crash", &name(sequence));
        let record = store.execution(&arn).unwrap();
        let history = store.history(&arn).unwrap();
        if record.is_some() {
            assert_eq!(history, events(1, EVENTS_PER_BATCH), "batch {sequence}: history");
            assert_eq!(inputs.get(&arn), Some(&expected_inputs), "batch {sequence}: inputs");
        } else {
            assert!(!acknowledged.contains(&sequence), "acknowledged batch {sequence} is missing");
            assert!(history.is_empty() && !inputs.contains_key(&arn), "batch {sequence} is partially present");
        }
    }
    let progress: HashMap<String, String> =
        store.documents("progress").unwrap().into_iter().map(|document| (document.key, document.body)).collect();
    for thread in 0..WRITER_THREADS {
        let rounds: usize = progress.get(&thread.to_string()).map_or(0, |rounds| rounds.parse().unwrap());
        let log = store.history(&common::execution_arn("Crash", &thread_log(thread))).unwrap();
        assert_eq!(log.len(), rounds * 2, "thread {thread}: its log and its progress document disagree");
    }
    // The reopened store takes new batches.
    commit(&store, vec![append_history(&common::execution_arn("Crash", "after"), 1, 1)]).unwrap();
}
