//! The embedded store: SQLite in WAL mode under the data dir.
//!
//! One writer thread owns the only write connection. It takes every batch waiting in its channel,
//! applies them all in one transaction, commits (one fsync of the WAL, `synchronous=FULL`) and
//! only then acknowledges each batch. Batches that arrive while a commit is on its way to disk wait
//! in the channel and share the next commit: that is the group commit.
//!
//! Each batch runs inside its own savepoint, so a batch whose write fails (a duplicate history
//! chunk, a value SQLite rejects) is rolled back alone and only its `done` hears of the error; the
//! other batches of the group commit. Only a failure of the transaction itself (BEGIN, a savepoint
//! that cannot be rolled back, COMMIT) fails every batch of the group.
//!
//! Reads use a small pool of read-only connections. WAL readers never block the writer, and since a
//! batch is acknowledged after its commit, every read started afterwards sees it.

use crate::{Acknowledge, Document, ExecutionPosition, ExecutionRecord, Store, StoreError, Write};
use rusqlite::types::FromSqlError;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use serde_json::value::RawValue;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The database's file name inside the data dir.
pub const DATABASE_FILE: &str = "switchyard.db";

/// How long a connection waits for a lock held by another process (e.g. a second server started
/// on the same data dir) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read connections kept open between reads; more may exist while reads run concurrently.
const IDLE_READERS: usize = 4;

/// The writer's page cache, in KiB (SQLite's negative `cache_size`): enough to keep the indexes'
/// inner pages, which every insert walks.
const WRITER_CACHE_KIB: i64 = -32 * 1024;

/// Bytes of WAL file kept after a checkpoint (SQLite keeps it all otherwise).
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Enough for every statement the writer or a reader prepares.
const STATEMENT_CACHE: usize = 32;

/// Schema migrations: entry `n` takes a database from `PRAGMA user_version = n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema. STRICT makes SQLite reject values of the wrong type on write, so reads
    // can trust the column types.
    "CREATE TABLE documents (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) STRICT;
    CREATE TABLE executions (
        arn TEXT NOT NULL PRIMARY KEY,
        state_machine_arn TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        stop_ms INTEGER,
        body TEXT NOT NULL
    ) STRICT;
    CREATE INDEX executions_by_state_machine ON executions (state_machine_arn, start_ms);
    CREATE INDEX executions_by_status ON executions (status, start_ms);
    CREATE INDEX executions_by_stop ON executions (stop_ms) WHERE stop_ms IS NOT NULL;
    -- One row per AppendHistory: `events` is a JSON array of the appended events.
    CREATE TABLE history (
        execution_arn TEXT NOT NULL,
        first_event_id INTEGER NOT NULL,
        events TEXT NOT NULL,
        PRIMARY KEY (execution_arn, first_event_id)
    ) STRICT;
    CREATE TABLE inputs (
        execution_arn TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        input TEXT NOT NULL,
        PRIMARY KEY (execution_arn, sequence)
    ) STRICT;",
];

const EXECUTION_COLUMNS: &str = "arn, state_machine_arn, name, status, start_ms, stop_ms, body";
/// The number of columns `EXECUTION_COLUMNS` names (a query may select more after them).
const EXECUTION_COLUMN_COUNT: usize = 7;

/// A batch on its way to the writer. Writes that were rejected before reaching the database
/// travel as the error, so that `done` still runs on the writer thread as the trait promises.
struct Batch {
    writes: Result<Vec<Write>, StoreError>,
    done: Acknowledge,
}

pub struct SqliteStore {
    database: PathBuf,
    /// Taken (closed) on drop, which tells the writer to finish the queued batches and stop.
    batches: Option<Sender<Batch>>,
    writer: Option<JoinHandle<()>>,
    /// Closed on drop, which stops the checkpointer.
    stop_checkpoints: Option<Sender<()>>,
    checkpointer: Option<JoinHandle<()>>,
    idle_readers: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating it if needed) the store in `dir`, bringing its schema up to date. Opening
    /// reads no execution data, so it takes the same time whatever the store holds.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|error| StoreError(format!("cannot create {}: {error}", dir.display())))?;
        let database = dir.join(DATABASE_FILE);
        let mut connection = open_writer(&database)?;
        migrate(&mut connection).context(|| format!("cannot migrate {}", database.display()))?;
        // Fails now, rather than at the first read, if the database cannot be read.
        let reader = open_reader(&database)?;
        let (batches, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run_writer(connection, queue))
            .map_err(|error| StoreError(format!("cannot start the store's writer thread: {error}")))?;
        let checkpoints = open_writer(&database)?;
        let (stop_checkpoints, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("store-checkpointer".into())
            .spawn(move || run_checkpointer(checkpoints, stopped))
            .map_err(|error| StoreError(format!("cannot start the store's checkpoint thread: {error}")))?;
        Ok(SqliteStore {
            database,
            batches: Some(batches),
            writer: Some(writer),
            stop_checkpoints: Some(stop_checkpoints),
            checkpointer: Some(checkpointer),
            idle_readers: Mutex::new(vec![reader]),
        })
    }

    /// Runs `query` on an idle read connection, opening one if none is idle.
    fn read<T>(&self, query: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // The pool is a plain list that a panicking reader cannot leave half-changed.
        let idle = self.idle_readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => open_reader(&self.database)?,
        };
        let result = query(&connection);
        let mut idle_readers = self.idle_readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle_readers.len() < IDLE_READERS {
            idle_readers.push(connection);
        }
        result
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        drop(self.batches.take());
        if let Some(writer) = self.writer.take() {
            // The writer only panics if an acknowledgement does; there is no one left to tell.
            let _ = writer.join();
        }
        drop(self.stop_checkpoints.take());
        if let Some(checkpointer) = self.checkpointer.take() {
            let _ = checkpointer.join();
        }
    }
}

impl Store for SqliteStore {
    fn submit(&self, writes: Vec<Write>, done: Acknowledge) {
        // Checked here, on the submitting thread, to keep the writer thread's work to SQLite.
        let writes = check_events(&writes).map(|()| writes);
        let Some(batches) = &self.batches else {
            done(Err(StoreError("the store is closed".into())));
            return;
        };
        if let Err(mpsc::SendError(batch)) = batches.send(Batch { writes, done }) {
            (batch.done)(Err(StoreError("the store's writer has stopped".into())));
        }
    }

    fn documents(&self, kind: &str) -> Result<Vec<Document>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached("SELECT kind, key, body FROM documents WHERE kind = ?1 ORDER BY key")?;
            let rows = statement.query_map([kind], |row| Ok(Document { kind: row.get(0)?, key: row.get(1)?, body: row.get(2)? }))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .context(|| format!("cannot read the documents of kind {kind}"))
    }

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.read(|connection| {
            let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE arn = ?1");
            Ok(connection.prepare_cached(&sql)?.query_row([arn], execution_from_row).optional()?)
        })
        .context(|| format!("cannot read execution {arn}"))
    }

    fn executions(&self, state_machine_arn: Option<&str>, status: Option<&str>) -> Result<Vec<ExecutionRecord>, StoreError> {
        // One statement per filter combination, so that each can use its index. With both filters,
        // the state machine's index bounds the scan by that machine's executions, where the status
        // index would scan e.g. every SUCCEEDED execution of every machine.
        let (filter, arguments): (&str, Vec<&str>) = match (state_machine_arn, status) {
            (Some(arn), Some(status)) => {
                ("INDEXED BY executions_by_state_machine WHERE state_machine_arn = ?1 AND status = ?2", vec![arn, status])
            }
            (Some(arn), None) => ("WHERE state_machine_arn = ?1", vec![arn]),
            (None, Some(status)) => ("WHERE status = ?1", vec![status]),
            (None, None) => ("", vec![]),
        };
        self.read(|connection| {
            // rowid breaks ties between executions started in the same millisecond: the later
            // inserted is the newer.
            let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions {filter} ORDER BY start_ms DESC, rowid DESC");
            let mut statement = connection.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(arguments), execution_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .context(|| "cannot list executions")
    }

    fn executions_after(&self, state_machine_arn: &str, after: Option<ExecutionPosition>, limit: usize) -> Result<Vec<(ExecutionPosition, ExecutionRecord)>, StoreError> {
        let after = after.unwrap_or(ExecutionPosition { start_ms: i64::MIN, sequence: i64::MIN });
        self.read(|connection| {
            // The state machine's index orders by start time, then rowid: a page is a range scan.
            let sql = format!(
                "SELECT {EXECUTION_COLUMNS}, rowid FROM executions INDEXED BY executions_by_state_machine
                 WHERE state_machine_arn = ?1 AND start_ms >= ?2 AND (start_ms > ?2 OR rowid > ?3)
                 ORDER BY start_ms, rowid LIMIT ?4"
            );
            let mut statement = connection.prepare_cached(&sql)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = statement.query_map(params![state_machine_arn, after.start_ms, after.sequence, limit], |row| {
                let record = execution_from_row(row)?;
                Ok((ExecutionPosition { start_ms: record.start_ms, sequence: row.get(EXECUTION_COLUMN_COUNT)? }, record))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .context(|| format!("cannot list the executions of {state_machine_arn}"))
    }

    fn open_executions(&self) -> Result<Vec<(ExecutionRecord, Vec<String>)>, StoreError> {
        self.read(|connection| {
            let sql = "SELECT e.arn, e.state_machine_arn, e.name, e.status, e.start_ms, e.stop_ms, e.body, i.input
                FROM executions AS e LEFT JOIN inputs AS i ON i.execution_arn = e.arn
                WHERE e.status = 'RUNNING'
                ORDER BY e.start_ms, e.rowid, i.sequence";
            let mut statement = connection.prepare_cached(sql)?;
            let mut rows = statement.query([])?;
            let mut open: Vec<(ExecutionRecord, Vec<String>)> = Vec::new();
            while let Some(row) = rows.next()? {
                let arn: String = row.get(0)?;
                let input: Option<String> = row.get(7)?;
                match open.last_mut() {
                    Some((execution, inputs)) if execution.arn == arn => inputs.extend(input),
                    _ => open.push((execution_from_row(row)?, input.into_iter().collect())),
                }
            }
            Ok(open)
        })
        .context(|| "cannot read the open executions")
    }

    fn history(&self, execution_arn: &str) -> Result<Vec<String>, StoreError> {
        self.read(|connection| {
            let mut statement =
                connection.prepare_cached("SELECT events FROM history WHERE execution_arn = ?1 ORDER BY first_event_id")?;
            let mut rows = statement.query([execution_arn])?;
            let mut events = Vec::new();
            while let Some(row) = rows.next()? {
                let text = row.get_ref(0)?.as_str().context(|| "a history chunk is not text")?;
                let chunk: Vec<&RawValue> = serde_json::from_str(text).context(|| "a history chunk is not a JSON array")?;
                events.extend(chunk.into_iter().map(|event| event.get().to_owned()));
            }
            Ok(events)
        })
        .context(|| format!("cannot read the history of {execution_arn}"))
    }

    fn inputs(&self, execution_arn: &str) -> Result<Vec<String>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached("SELECT input FROM inputs WHERE execution_arn = ?1 ORDER BY sequence")?;
            let rows = statement.query_map([execution_arn], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .context(|| format!("cannot read the input log of {execution_arn}"))
    }

    fn closed_before(&self, before_ms: i64) -> Result<Vec<String>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached("SELECT arn FROM executions WHERE stop_ms < ?1 ORDER BY stop_ms")?;
            let rows = statement.query_map([before_ms], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .context(|| format!("cannot list the executions closed before {before_ms}"))
    }
}

/// Adds what was being done to an error's text.
trait Context<T> {
    fn context<D: Display>(self, doing: impl FnOnce() -> D) -> Result<T, StoreError>;
}

impl<T, E: Cause> Context<T> for Result<T, E> {
    fn context<D: Display>(self, doing: impl FnOnce() -> D) -> Result<T, StoreError> {
        self.map_err(|error| StoreError(format!("{}: {}", doing(), error.cause())))
    }
}

/// An error's text, without the prefix that `StoreError`'s `Display` adds.
trait Cause {
    fn cause(&self) -> String;
}

impl Cause for StoreError {
    fn cause(&self) -> String {
        self.0.clone()
    }
}

impl Cause for rusqlite::Error {
    fn cause(&self) -> String {
        self.to_string()
    }
}

impl Cause for FromSqlError {
    fn cause(&self) -> String {
        self.to_string()
    }
}

impl Cause for serde_json::Error {
    fn cause(&self) -> String {
        self.to_string()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError(format!("sqlite: {error}"))
    }
}

fn open_writer(database: &Path) -> Result<Connection, StoreError> {
    let context = || format!("cannot open {}", database.display());
    let connection = Connection::open(database).context(context)?;
    connection.busy_timeout(BUSY_TIMEOUT).context(context)?;
    let journal_mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).context(context)?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError(format!("{}: the journal mode stays {journal_mode}, not WAL", context())));
    }
    // In WAL mode, FULL syncs the WAL at every commit: an acknowledged batch survives a crash
    // of the machine, not only of the process.
    connection.pragma_update(None, "synchronous", "FULL").context(context)?;
    // Each batch's savepoint journals the pages it changes: in memory, not in a temporary file.
    connection.pragma_update(None, "temp_store", "MEMORY").context(context)?;
    connection.pragma_update(None, "cache_size", WRITER_CACHE_KIB).context(context)?;
    // Bounds the WAL file's size after a burst once a checkpoint has emptied it.
    connection.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT).context(context)?;
    // Checkpoints happen on the checkpointer's own connection, off the commit path.
    connection.pragma_update(None, "wal_autocheckpoint", 0).context(context)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(connection)
}

/// How often the WAL is copied back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Checkpoints the WAL from its own connection: a checkpoint on the writer's connection (SQLite's
/// automatic one) would stall every commit behind it and show as tail latency.
fn run_checkpointer(connection: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        // PASSIVE never waits for writers or readers; what it cannot copy now it copies later.
        let _ = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
    // On a clean stop (the writer has finished): an empty WAL makes the next open instant.
    let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

fn open_reader(database: &Path) -> Result<Connection, StoreError> {
    let open = || -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let connection = Connection::open_with_flags(database, flags)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    };
    open().context(|| format!("cannot open {} for reading", database.display()))
}

/// Brings the schema to the newest version, one migration per transaction. The version is read
/// inside the write transaction, so two processes opening the same store migrate it once.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let newest = MIGRATIONS.len();
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let migration = usize::try_from(version)
            .ok()
            .filter(|version| *version <= newest)
            .ok_or_else(|| StoreError(format!("schema version {version} is newer than this build knows ({newest})")))?;
        let Some(sql) = MIGRATIONS.get(migration) else {
            return Ok(());
        };
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", version + 1)?;
        transaction.commit()?;
    }
}

/// Every history event must be one JSON value: chunks are stored as JSON arrays of them, and a
/// malformed event would corrupt its whole chunk.
fn check_events(writes: &[Write]) -> Result<(), StoreError> {
    for write in writes {
        if let Write::AppendHistory { execution_arn, first_event_id, events } = write {
            for (position, event) in events.iter().enumerate() {
                serde_json::from_str::<&RawValue>(event).context(|| {
                    format!("event #{position} of the history appended to {execution_arn} from id {first_event_id} is not JSON")
                })?;
            }
        }
    }
    Ok(())
}

fn execution_from_row(row: &Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        arn: row.get(0)?,
        state_machine_arn: row.get(1)?,
        name: row.get(2)?,
        status: row.get(3)?,
        start_ms: row.get(4)?,
        stop_ms: row.get(5)?,
        body: row.get(6)?,
    })
}

fn run_writer(mut connection: Connection, queue: Receiver<Batch>) {
    while let Ok(first) = queue.recv() {
        let (group, acknowledgements): (Vec<_>, Vec<_>) =
            std::iter::once(first).chain(queue.try_iter()).map(|batch| (batch.writes, batch.done)).unzip();
        let outcomes = commit_group(&mut connection, &group)
            .unwrap_or_else(|error| group.iter().map(|_| Err(error.clone())).collect());
        for (done, outcome) in acknowledgements.into_iter().zip(outcomes) {
            done(outcome);
        }
    }
}

/// Applies the batches of a group in one transaction, each in its own savepoint, and commits.
/// Returns each batch's outcome, or the error that failed the whole group.
fn commit_group(
    connection: &mut Connection,
    group: &[Result<Vec<Write>, StoreError>],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcomes = group
        .iter()
        .map(|writes| match writes {
            Ok(writes) => apply_batch(&transaction, writes),
            Err(rejected) => Ok(Err(rejected.clone())),
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    transaction.commit()?;
    Ok(outcomes)
}

/// Applies one batch inside a savepoint. The inner result is the batch's own outcome (its writes
/// are undone when it fails); the outer error means the transaction itself is broken.
fn apply_batch(connection: &Connection, writes: &[Write]) -> Result<Result<(), StoreError>, StoreError> {
    let run = |sql: &str| connection.prepare_cached(sql).and_then(|mut statement| statement.execute([]));
    run("SAVEPOINT batch")?;
    let outcome = writes.iter().try_for_each(|write| apply_write(connection, write));
    if outcome.is_err() {
        run("ROLLBACK TO batch")?;
    }
    run("RELEASE batch")?;
    Ok(outcome)
}

fn apply_write(connection: &Connection, write: &Write) -> Result<(), StoreError> {
    let execute = |sql: &str, arguments: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<()> {
        connection.prepare_cached(sql)?.execute(arguments).map(|_| ())
    };
    match write {
        Write::PutDocument(Document { kind, key, body }) => execute(
            "INSERT INTO documents (kind, key, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
            params![kind, key, body],
        )
        .context(|| format!("cannot put document {kind} {key}")),
        Write::DeleteDocument { kind, key } => execute("DELETE FROM documents WHERE kind = ?1 AND key = ?2", params![kind, key])
            .context(|| format!("cannot delete document {kind} {key}")),
        Write::PutExecution(execution) => execute(
            "INSERT INTO executions (arn, state_machine_arn, name, status, start_ms, stop_ms, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (arn) DO UPDATE SET state_machine_arn = excluded.state_machine_arn, name = excluded.name,
                 status = excluded.status, start_ms = excluded.start_ms, stop_ms = excluded.stop_ms, body = excluded.body",
            params![
                execution.arn,
                execution.state_machine_arn,
                execution.name,
                execution.status,
                execution.start_ms,
                execution.stop_ms,
                execution.body
            ],
        )
        .context(|| format!("cannot put execution {}", execution.arn)),
        Write::AppendHistory { events, .. } if events.is_empty() => Ok(()),
        Write::AppendHistory { execution_arn, first_event_id, events } => {
            let first_event_id = sql_integer(*first_event_id, "event id")?;
            let chunk = format!("[{}]", events.join(","));
            // A plain INSERT: appending the same event ids twice is the caller's bug, and fails.
            execute(
                "INSERT INTO history (execution_arn, first_event_id, events) VALUES (?1, ?2, ?3)",
                params![execution_arn, first_event_id, chunk],
            )
            .context(|| format!("cannot append history to {execution_arn} from event id {first_event_id}"))
        }
        Write::AppendInput { execution_arn, sequence, input } => {
            let sequence = sql_integer(*sequence, "input sequence number")?;
            execute("INSERT INTO inputs (execution_arn, sequence, input) VALUES (?1, ?2, ?3)", params![execution_arn, sequence, input])
                .context(|| format!("cannot append input #{sequence} to {execution_arn}"))
        }
        Write::DeleteExecution { arn } => {
            let delete = || -> rusqlite::Result<()> {
                execute("DELETE FROM history WHERE execution_arn = ?1", params![arn])?;
                execute("DELETE FROM inputs WHERE execution_arn = ?1", params![arn])?;
                execute("DELETE FROM executions WHERE arn = ?1", params![arn])
            };
            delete().context(|| format!("cannot delete execution {arn}"))
        }
    }
}

/// SQLite integers are signed 64-bit.
fn sql_integer(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError(format!("{what} {value} is too large to store")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("switchyard-store-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(DATABASE_FILE)
    }

    #[test]
    fn the_writer_syncs_every_commit_of_its_write_ahead_log() {
        let connection = open_writer(&database("pragmas")).unwrap();
        let pragma = |name: &str| connection.pragma_query_value(None, name, |row| row.get::<_, rusqlite::types::Value>(0)).unwrap();
        assert_eq!(pragma("journal_mode"), rusqlite::types::Value::Text("wal".into()));
        assert_eq!(pragma("synchronous"), rusqlite::types::Value::Integer(2)); // FULL
        assert_eq!(pragma("temp_store"), rusqlite::types::Value::Integer(2)); // MEMORY
    }

    #[test]
    fn migrating_an_up_to_date_schema_changes_nothing() {
        let mut connection = open_writer(&database("migrate")).unwrap();
        migrate(&mut connection).unwrap();
        migrate(&mut connection).unwrap();
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert_eq!(usize::try_from(version), Ok(MIGRATIONS.len()));
    }

    #[test]
    fn events_must_each_be_one_json_value() {
        let append = |events: &[&str]| Write::AppendHistory {
            execution_arn: "arn:x".into(),
            first_event_id: 7,
            events: events.iter().map(|event| event.to_string()).collect(),
        };
        assert_eq!(check_events(&[append(&["{}", " [1] ", "\"a\""])]), Ok(()));
        let error = check_events(&[append(&["{}"]), append(&["1", "{} {}"])]).unwrap_err();
        assert_eq!(error.0, "event #1 of the history appended to arn:x from id 7 is not JSON: trailing characters at line 1 column 4");
        assert!(check_events(&[append(&[""])]).is_err());
    }

    #[test]
    fn ids_beyond_sqlite_integers_are_refused() {
        assert_eq!(sql_integer(42, "event id"), Ok(42));
        assert_eq!(sql_integer(u64::MAX, "event id"), Err(StoreError(format!("event id {} is too large to store", u64::MAX))));
    }
}
