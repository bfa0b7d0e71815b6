//! A `rate(1 minute)` schedule over ten simulated minutes, with two restarts of the server in
//! between (everything reopened from the same SQLite store), fires exactly ten times; a firing
//! whose next time was not persisted before a crash is not fired twice.

use api::deployments::schedules::{self, MissedRuns, SCHEDULE_KIND};
use api::deployments::{self, Deployments};
use api::ApiState;
use asl::interpreter::TaskRequest;
use asl::Failure;
use deploy::plan::{Plan, Schedule, StateMachine, Target};
use engine::catalog::Catalog;
use engine::functions::Functions;
use engine::runtime::{Runtime, RuntimeConfig};
use engine::TaskDispatcher;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use store::{SqliteStore, Store, Write};

const MINUTE_MS: i64 = 60_000;
const MACHINE_ARN: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:ticker";

struct NoTasks;

impl TaskDispatcher for NoTasks {
    fn run(&self, request: &TaskRequest, _context: &engine::TaskContext) -> Result<Value, Failure> {
        Err(Failure::new("Unsupported", request.resource.clone()))
    }
}

/// A server's services on the store in `data_dir`, as if it started at `now_ms`.
fn server(data_dir: &Path, now_ms: i64) -> (ApiState, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(data_dir).unwrap());
    let catalog = Arc::new(Catalog::open(store.clone(), "us-east-1", "000000000000").unwrap());
    let runtime = Arc::new(Runtime::open(store.clone(), Arc::new(NoTasks), RuntimeConfig::default()).unwrap());
    let functions = Arc::new(Functions::declared_only(compute::FunctionSet::new(), Arc::new(compute::ProcessRunner::new())));
    let deployments = Arc::new(Deployments::open(store.clone(), now_ms, MissedRuns::All).unwrap());
    let batch = batch::Batch::open(store.clone(), batch::BatchConfig::new(std::env::temp_dir()), Default::default()).unwrap();
    (ApiState { catalog, runtime, functions, deployments, ecs: None, batch, s3: None }, store)
}

fn plan() -> Plan {
    let target = Target::StateMachine { name: "ticker".into(), arn: MACHINE_ARN.into() };
    Plan {
        service: "clock".into(),
        stage: "dev".into(),
        region: "us-east-1".into(),
        account: "000000000000".into(),
        stack_name: "clock-dev".into(),
        project_dir: ".".into(),
        functions: Vec::new(),
        state_machines: vec![StateMachine {
            key: "ticker".into(),
            logical_id: "Ticker".into(),
            name: "ticker".into(),
            arn: MACHINE_ARN.into(),
            definition: r#"{"StartAt": "Tick", "States": {"Tick": {"Type": "Pass", "End": true}}}"#.into(),
            machine_type: "STANDARD".into(),
            role_arn: "arn:aws:iam::000000000000:role/clock".into(),
            logging_configuration: None,
            tracing_configuration: None,
        }],
        activities: Vec::new(),
        resources: Vec::new(),
        images: Vec::new(),
        routes: Vec::new(),
        schedules: vec![Schedule { id: "clock-dev-ticker-schedule-1".into(), expression: "rate(1 minute)".into(), enabled: true, input: Some(serde_json::json!({"tick": true})), input_path: None, target }],
        outputs: Vec::new(),
        not_applicable: Vec::new(),
        warnings: Vec::new(),
        notes: Vec::new(),
    }
}

fn executions(state: &ApiState) -> usize {
    state.runtime.list_executions(MACHINE_ARN, None).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_rate_fires_ten_times_in_ten_minutes_across_two_restarts() {
    let data_dir = std::env::temp_dir().join(format!("switchyard-schedules-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let start_ms = 1_800_000_000_000;
    let (mut state, _) = server(&data_dir, start_ms);
    deployments::apply(&state, plan(), start_ms).await.map_err(|_| "deploying").unwrap();
    // Simulated time in steps of 7 seconds; the server restarts at 3.5 and 7.2 minutes.
    let restarts = [start_ms + 7 * MINUTE_MS / 2, start_ms + 72 * MINUTE_MS / 10];
    let mut now = start_ms;
    while now < start_ms + 10 * MINUTE_MS {
        now = (now + 7_000).min(start_ms + 10 * MINUTE_MS);
        if restarts.iter().any(|restart| (now - 7_000..now).contains(restart)) {
            drop(state);
            state = server(&data_dir, now).0;
        }
        schedules::tick(&state, now).await;
    }
    assert_eq!(executions(&state), 10);

    // A crash after the last firing but before its next time was persisted: the schedule's
    // record still says the tenth minute is due.
    let record = state.deployments.schedules.of_deployment("clock-dev").remove(0);
    let mut stale = record.clone();
    stale.next_ms = start_ms + 10 * MINUTE_MS;
    drop(state);
    let (state, store) = server(&data_dir, now);
    store::commit(store.as_ref(), vec![Write::PutDocument(store::Document { kind: SCHEDULE_KIND.into(), key: stale.schedule.id.clone(), body: serde_json::to_string(&stale).unwrap() })]).await.unwrap();
    drop(state);
    let (state, _) = server(&data_dir, now);
    schedules::tick(&state, now).await;
    assert_eq!(executions(&state), 10, "the repeated firing found its execution already started");
    assert_eq!(state.deployments.schedules.of_deployment("clock-dev")[0].next_ms, record.next_ms);
    drop(state);
    std::fs::remove_dir_all(&data_dir).unwrap();
}
