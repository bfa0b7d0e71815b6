//! `schedule` events, fired durably.
//!
//! Each schedule is a store document holding its next firing time. A firing starts its target,
//! then the next time is persisted; the execution is named after the schedule and the firing
//! time, so a firing repeated after a crash between the two finds its execution already there
//! and is not run twice (a function target has no such name: at most one extra invocation).
//!
//! Firings that fell due while no server was running are "missed" and follow a policy:
//! `latest` (the default) fires the most recent missed one only, `all` fires each of them in
//! order, `skip` fires none and waits for the next time.

use crate::ApiState;
use deploy::plan::{Schedule, Target};
use deploy::schedule::ScheduleExpression;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use store::{Document, Store, StoreError, Write};

pub const SCHEDULE_KIND: &str = "schedule";
/// A schedule that fell far behind fires at most this many missed times at once (policy `all`).
const MAX_CATCH_UP: usize = 1000;
/// The loop looks again at least this often, so that clock jumps are noticed.
const MAX_SLEEP_MS: i64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedRuns {
    All,
    #[default]
    Latest,
    Skip,
}

impl FromStr for MissedRuns {
    type Err = String;

    fn from_str(text: &str) -> Result<MissedRuns, String> {
        match text {
            "all" => Ok(MissedRuns::All),
            "latest" => Ok(MissedRuns::Latest),
            "skip" => Ok(MissedRuns::Skip),
            other => Err(format!("'{other}' is not a missed-run policy: all, latest or skip")),
        }
    }
}

/// What the scheduler reads the time from: the system's, or a test's.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    pub deployment: String,
    pub schedule: Schedule,
    /// When the schedule was first deployed: rates count their periods from it.
    pub anchor_ms: i64,
    pub next_ms: i64,
}

impl ScheduleRecord {
    fn expression(&self) -> Option<ScheduleExpression> {
        ScheduleExpression::parse(&self.schedule.expression).ok()
    }
}

/// One schedule's due firings, and the time up to which they account for its expression.
pub struct Due {
    pub record: ScheduleRecord,
    pub fire_at: Vec<i64>,
    pub covered_until_ms: i64,
}

pub struct Schedules {
    store: Arc<dyn Store>,
    records: Mutex<BTreeMap<String, ScheduleRecord>>,
    /// Firings before this instant were missed (no server was running).
    started_ms: i64,
    missed: MissedRuns,
    pub changed: tokio::sync::Notify,
}

impl Schedules {
    pub fn open(store: Arc<dyn Store>, now_ms: i64, missed: MissedRuns) -> Result<Schedules, StoreError> {
        let mut records = BTreeMap::new();
        for document in store.documents(SCHEDULE_KIND)? {
            let record: ScheduleRecord = serde_json::from_str(&document.body).map_err(|error| StoreError(format!("schedule {}: {error}", document.key)))?;
            records.insert(document.key, record);
        }
        Ok(Schedules { store, records: Mutex::new(records), started_ms: now_ms, missed, changed: tokio::sync::Notify::new() })
    }

    fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ScheduleRecord>> {
        self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The records and writes that make `deployment`'s schedules `schedules`. A schedule whose
    /// expression did not change keeps its next time; install the records once the writes are durable.
    pub fn prepare(&self, deployment: &str, schedules: &[Schedule], now_ms: i64) -> (Vec<ScheduleRecord>, Vec<Write>) {
        let existing = self.records();
        let mut records = Vec::new();
        let mut writes = Vec::new();
        for schedule in schedules {
            let kept = existing.get(&schedule.id).filter(|record| record.schedule.expression == schedule.expression);
            let (anchor_ms, next_ms) = match kept {
                Some(record) => (record.anchor_ms, record.next_ms),
                None => {
                    let next = ScheduleExpression::parse(&schedule.expression).ok().and_then(|expression| expression.next_after(now_ms, now_ms)).unwrap_or(i64::MAX);
                    (now_ms, next)
                }
            };
            let record = ScheduleRecord { deployment: deployment.to_owned(), schedule: schedule.clone(), anchor_ms, next_ms };
            writes.push(put(&record));
            records.push(record);
        }
        for (id, record) in existing.iter() {
            if record.deployment == deployment && !schedules.iter().any(|schedule| &schedule.id == id) {
                writes.push(Write::DeleteDocument { kind: SCHEDULE_KIND.to_owned(), key: id.clone() });
            }
        }
        (records, writes)
    }

    /// Makes `records` the schedules of `deployment` (after `prepare`'s writes are durable).
    pub fn install(&self, deployment: &str, records: Vec<ScheduleRecord>) {
        let mut existing = self.records();
        existing.retain(|_, record| record.deployment != deployment);
        existing.extend(records.into_iter().map(|record| (record.schedule.id.clone(), record)));
        drop(existing);
        self.changed.notify_one();
    }

    pub fn of_deployment(&self, deployment: &str) -> Vec<ScheduleRecord> {
        self.records().values().filter(|record| record.deployment == deployment).cloned().collect()
    }

    /// Enabled schedules whose next time has come, with the missed-run policy applied.
    pub fn due(&self, now_ms: i64) -> Vec<Due> {
        let records = self.records();
        let mut due = Vec::new();
        for record in records.values().filter(|record| record.schedule.enabled && record.next_ms <= now_ms) {
            let Some(expression) = record.expression() else { continue };
            let mut times = vec![record.next_ms];
            while times.len() < MAX_CATCH_UP {
                match expression.next_after(record.anchor_ms, *times.last().unwrap_or(&record.next_ms)) {
                    Some(next) if next <= now_ms => times.push(next),
                    _ => break,
                }
            }
            let covered_until_ms = *times.last().unwrap_or(&record.next_ms);
            let (missed, current): (Vec<i64>, Vec<i64>) = times.into_iter().partition(|at| *at < self.started_ms);
            let mut fire_at = match self.missed {
                MissedRuns::All => missed,
                MissedRuns::Latest => missed.last().copied().into_iter().collect(),
                MissedRuns::Skip => Vec::new(),
            };
            fire_at.extend(current);
            due.push(Due { record: record.clone(), fire_at, covered_until_ms });
        }
        due
    }

    /// Persists the next time after `covered_until_ms`.
    pub async fn advance(&self, id: &str, covered_until_ms: i64) -> Result<(), StoreError> {
        let Some(mut record) = self.records().get(id).cloned() else { return Ok(()) };
        record.next_ms = record.expression().and_then(|expression| expression.next_after(record.anchor_ms, covered_until_ms)).unwrap_or(i64::MAX);
        store::commit(self.store.as_ref(), vec![put(&record)]).await?;
        self.records().insert(id.to_owned(), record);
        Ok(())
    }

    pub fn next_due_ms(&self) -> Option<i64> {
        self.records().values().filter(|record| record.schedule.enabled).map(|record| record.next_ms).min()
    }
}

fn put(record: &ScheduleRecord) -> Write {
    Write::PutDocument(Document { kind: SCHEDULE_KIND.to_owned(), key: record.schedule.id.clone(), body: serde_json::to_string(record).unwrap_or_default() })
}

/// Fires every due schedule once; returns how many firings started their target.
pub async fn tick(state: &ApiState, now_ms: i64) -> usize {
    let schedules = &state.deployments.schedules;
    let mut fired = 0;
    for due in schedules.due(now_ms) {
        for at_ms in &due.fire_at {
            match fire(state, &due.record, *at_ms).await {
                Ok(()) => fired += 1,
                Err(problem) => tracing::warn!(schedule = %due.record.schedule.id, %problem, "a scheduled firing failed"),
            }
        }
        if let Err(error) = schedules.advance(&due.record.schedule.id, due.covered_until_ms).await {
            tracing::error!(schedule = %due.record.schedule.id, %error, "cannot persist the schedule's next time");
        }
    }
    fired
}

/// Runs the schedules until the server stops.
pub async fn run(state: ApiState, clock: Arc<dyn Clock>) {
    loop {
        tick(&state, clock.now_ms()).await;
        let now = clock.now_ms();
        let wait_ms = state.deployments.schedules.next_due_ms().map_or(MAX_SLEEP_MS, |next| (next - now).clamp(0, MAX_SLEEP_MS));
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(wait_ms as u64)) => {}
            () = state.deployments.schedules.changed.notified() => {}
        }
    }
}

async fn fire(state: &ApiState, record: &ScheduleRecord, at_ms: i64) -> Result<(), String> {
    let input = input(state, record, at_ms)?;
    match &record.schedule.target {
        Target::StateMachine { arn, .. } => {
            let machine = state.catalog.resolve(arn).map_err(|error| error.to_string())?;
            match state.runtime.start_execution(machine, Some(execution_name(&record.schedule.id, at_ms)), input, None).await {
                // Started before a crash that came before its next time was persisted.
                Err(error) if error.code == "ExecutionAlreadyExists" => Ok(()),
                outcome => outcome.map(|_| ()).map_err(|error| error.to_string()),
            }
        }
        // EventBridge invokes functions asynchronously.
        Target::Function { name, .. } => {
            let payload = serde_json::from_str(&input).unwrap_or(Value::String(input));
            state.functions.invoke_event(name, None, payload).await.map(|_| ()).map_err(|error| error.to_string())
        }
    }
}

/// The constant input, or EventBridge's scheduled event (through `inputPath` when given).
fn input(state: &ApiState, record: &ScheduleRecord, at_ms: i64) -> Result<String, String> {
    if let Some(input) = &record.schedule.input {
        return Ok(match input {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        });
    }
    let region = state.catalog.arns().prefix().split(':').nth(3).unwrap_or_default().to_owned();
    let account = state.catalog.arns().prefix().split(':').nth(4).unwrap_or_default().to_owned();
    let time = chrono::DateTime::from_timestamp_millis(at_ms).map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default();
    let event = json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time,
        "region": region,
        "resources": [format!("arn:aws:events:{region}:{account}:rule/{}", record.schedule.id)],
        "detail": {},
    });
    let selected = match &record.schedule.input_path {
        Some(path) => {
            let path = asl::path::Path::parse(path).map_err(|error| format!("inputPath {path}: {error}"))?;
            let variables = asl::Variables::default();
            path.select(&asl::Scope::new(&event, &Value::Null, &variables)).unwrap_or(Value::Null)
        }
        None => event,
    };
    Ok(selected.to_string())
}

/// `<schedule id>-<firing time in seconds>`, within the 80 characters and the alphabet of
/// execution names.
fn execution_name(id: &str, at_ms: i64) -> String {
    let seconds = at_ms.div_euclid(1000).to_string();
    let allowed: String = id.chars().map(|character| if character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.') { character } else { '-' }).collect();
    let room = engine::catalog::MAX_NAME_CHARS - seconds.len() - 1;
    let start = allowed.len().saturating_sub(room);
    format!("{}-{seconds}", &allowed[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::MemoryStore;

    const MINUTE: i64 = 60_000;

    fn schedule(id: &str, expression: &str) -> Schedule {
        Schedule { id: id.into(), expression: expression.into(), enabled: true, input: None, input_path: None, target: Target::StateMachine { name: "m".into(), arn: "arn".into() } }
    }

    async fn deployed(store: Arc<dyn Store>, now: i64, missed: MissedRuns, schedules: &[Schedule]) -> Schedules {
        let opened = Schedules::open(store.clone(), now, missed).unwrap();
        let (records, writes) = opened.prepare("svc-dev", schedules, now);
        store::commit(store.as_ref(), writes).await.unwrap();
        opened.install("svc-dev", records);
        opened
    }

    #[tokio::test]
    async fn missed_runs_follow_the_policy() {
        for (policy, expected) in [(MissedRuns::All, vec![MINUTE, 2 * MINUTE, 3 * MINUTE, 4 * MINUTE]), (MissedRuns::Latest, vec![3 * MINUTE, 4 * MINUTE]), (MissedRuns::Skip, vec![4 * MINUTE])] {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
            drop(deployed(store.clone(), 0, policy, &[schedule("s", "rate(1 minute)")]).await);
            // Down from 0 to 3.5 minutes, then up until 4 minutes.
            let reopened = Schedules::open(store, 3 * MINUTE + MINUTE / 2, policy).unwrap();
            let due = reopened.due(4 * MINUTE);
            assert_eq!(due.len(), 1);
            assert_eq!(due[0].fire_at, expected, "{policy:?}");
            assert_eq!(due[0].covered_until_ms, 4 * MINUTE);
            reopened.advance("s", due[0].covered_until_ms).await.unwrap();
            assert_eq!(reopened.next_due_ms(), Some(5 * MINUTE));
        }
    }

    #[tokio::test]
    async fn a_redeploy_keeps_the_next_time_of_an_unchanged_schedule() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let schedules = deployed(store.clone(), 0, MissedRuns::Latest, &[schedule("s", "rate(5 minutes)"), schedule("t", "rate(1 minute)")]).await;
        let (records, writes) = schedules.prepare("svc-dev", &[schedule("s", "rate(5 minutes)")], 3 * MINUTE);
        assert_eq!(records[0].next_ms, 5 * MINUTE);
        assert!(writes.iter().any(|write| matches!(write, Write::DeleteDocument { key, .. } if key == "t")));
        let (records, _) = schedules.prepare("svc-dev", &[schedule("s", "rate(10 minutes)")], 3 * MINUTE);
        assert_eq!(records[0].next_ms, 13 * MINUTE, "a changed expression starts again");
    }

    #[tokio::test]
    async fn disabled_schedules_do_not_fire() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut off = schedule("s", "rate(1 minute)");
        off.enabled = false;
        let schedules = deployed(store, 0, MissedRuns::All, &[off]).await;
        assert!(schedules.due(10 * MINUTE).is_empty());
    }

    #[test]
    fn execution_names_fit() {
        assert_eq!(execution_name("svc-dev-m-schedule-1", 120_000), "svc-dev-m-schedule-1-120");
        let long = execution_name(&"x".repeat(100), 1_700_000_000_000);
        assert_eq!(long.len(), 80);
        assert!(engine::catalog::is_valid_name(&execution_name("a b:c", 0)));
    }
}
