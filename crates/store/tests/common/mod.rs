//! Helpers shared by the store's integration tests.
#![allow(dead_code)] // Each test binary uses its own subset.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use store::{ExecutionRecord, Store, StoreError, Write};

/// An empty directory under cargo's scratch dir for tests (on the real disk, unlike a tmpfs),
/// removed when dropped.
pub struct ScratchDir(PathBuf);

impl std::ops::Deref for ScratchDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn fresh_dir(name: &str) -> ScratchDir {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("store-{name}-{}", std::process::id()));
    match std::fs::remove_dir_all(&dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => panic!("cannot clear {}: {error}", dir.display()),
        _ => ScratchDir(dir),
    }
}

/// Submits `writes` and waits for the acknowledgement.
pub fn commit(store: &dyn Store, writes: Vec<Write>) -> Result<(), StoreError> {
    let (sender, acknowledgement) = mpsc::channel();
    store.submit(
        writes,
        Box::new(move |outcome| {
            let _ = sender.send(outcome);
        }),
    );
    acknowledgement.recv().unwrap_or_else(|_| Err(StoreError("acknowledgement dropped".into())))
}

pub fn execution(state_machine: &str, name: &str, status: &str, start_ms: i64, stop_ms: Option<i64>) -> ExecutionRecord {
    ExecutionRecord {
        arn: execution_arn(state_machine, name),
        state_machine_arn: format!("arn:aws:states:us-east-1:123456789012:stateMachine:{state_machine}"),
        name: name.to_owned(),
        status: status.to_owned(),
        start_ms,
        stop_ms,
        body: format!(r#"{{"input":"{{\"name\":\"{name}\"}}"}}"#),
    }
}

pub fn execution_arn(state_machine: &str, name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:{state_machine}:{name}")
}

/// History events `first..first + count` as the engine writes them.
pub fn events(first: u64, count: u64) -> Vec<String> {
    (first..first + count)
        .map(|id| format!(r#"{{"id":{id},"previousEventId":{},"type":"PassStateEntered","details":{{"name":"Step {id}"}}}}"#, id.saturating_sub(1)))
        .collect()
}

pub fn append_history(arn: &str, first: u64, count: u64) -> Write {
    Write::AppendHistory { execution_arn: arn.to_owned(), first_event_id: first, events: events(first, count) }
}
