//! Durable storage behind one trait. Writers submit batches; a store makes them durable and
//! atomic, sharing one transaction (one fsync) among every batch that arrives while the previous
//! commit is on its way to disk (group commit). Readers see every acknowledged batch.
//!
//! The store knows executions and their histories, and keeps everything else (state machines,
//! versions, aliases, activities, tags, settings) as JSON documents keyed by ARN or name: their
//! shape belongs to the engine.

use serde::{Deserialize, Serialize};
use std::fmt;

mod commit;
pub mod memory;
pub mod sqlite;

pub use commit::{commit, commit_blocking};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// An execution's summary row: what lists and filters need, plus the engine's own JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    /// Everything else the engine keeps (input, output, error, cause, definition, seed, ...).
    pub body: String,
}

/// Where an execution stands in a state machine's executions in start order (the order pages of
/// `executions_after` follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExecutionPosition {
    pub start_ms: i64,
    /// Breaks ties between executions started in the same millisecond: first stored, first.
    pub sequence: i64,
}

/// A document of the engine's catalog: a state machine, version, alias, activity, tag set, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// e.g. "state-machine", "activity", "tags", "setting".
    pub kind: String,
    pub key: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    PutDocument(Document),
    DeleteDocument { kind: String, key: String },
    /// Inserts or replaces an execution's summary row.
    PutExecution(ExecutionRecord),
    /// Appends history events (their JSON, in id order, ids continuing the stored ones).
    AppendHistory { execution_arn: String, first_event_id: u64, events: Vec<String> },
    /// Appends to an execution's input log: what was fed to its interpreter (task outcomes,
    /// timer firings, stops), which recovery replays.
    AppendInput { execution_arn: String, sequence: u64, input: String },
    /// Removes an execution with its history and input log (retention).
    DeleteExecution { arn: String },
}

/// Called once the batch is durable (or failed); runs on the store's writer thread, so it must
/// only hand the result on (e.g. through a channel).
pub type Acknowledge = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

pub trait Store: Send + Sync + 'static {
    /// Makes `writes` durable and atomic, then calls `done`.
    fn submit(&self, writes: Vec<Write>, done: Acknowledge);

    fn documents(&self, kind: &str) -> Result<Vec<Document>, StoreError>;

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError>;

    /// Executions of a state machine (all when None) with the given status (all when None),
    /// newest first.
    fn executions(&self, state_machine_arn: Option<&str>, status: Option<&str>) -> Result<Vec<ExecutionRecord>, StoreError>;

    /// At most `limit` executions of a state machine in start order, after `after` (None: from the
    /// first), with their positions: a Map Run's children are read this way, never all at once.
    fn executions_after(&self, state_machine_arn: &str, after: Option<ExecutionPosition>, limit: usize) -> Result<Vec<(ExecutionPosition, ExecutionRecord)>, StoreError>;

    /// Executions still RUNNING, with their input logs in order: what recovery replays.
    fn open_executions(&self) -> Result<Vec<(ExecutionRecord, Vec<String>)>, StoreError>;

    /// An execution's input log in order (for redriving a closed execution).
    fn inputs(&self, execution_arn: &str) -> Result<Vec<String>, StoreError>;

    /// The stored history events (JSON) of an execution, in id order.
    fn history(&self, execution_arn: &str) -> Result<Vec<String>, StoreError>;

    /// Arns of executions that closed before `before_ms` (for retention).
    fn closed_before(&self, before_ms: i64) -> Result<Vec<String>, StoreError>;
}
