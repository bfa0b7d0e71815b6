//! The service runtime end to end on an in-memory store: executions, activities and tokens,
//! stops, timers, and recovery after the runtime is dropped mid-execution.

use asl::definition::StateMachine;
use asl::interpreter::TaskRequest;
use asl::Failure;
use engine::catalog::{MachineType, ResolvedMachine};
use engine::runtime::{Runtime, RuntimeConfig};
use engine::TaskDispatcher;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use store::{MemoryStore, Store};

/// Tasks fail, except a task whose parameters say {"succeed": true}; once `healed`, all succeed.
#[derive(Default)]
struct NoTasks {
    healed: std::sync::atomic::AtomicBool,
}

impl TaskDispatcher for NoTasks {
    fn run(&self, request: &TaskRequest, _context: &engine::TaskContext) -> Result<Value, Failure> {
        if self.healed.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(json!("healed"));
        }
        Err(Failure::new("Unsupported", request.resource.clone()))
    }
}

fn machine(name: &str, definition: Value) -> ResolvedMachine {
    ResolvedMachine {
        state_machine_arn: format!("arn:aws:states:us-east-1:000000000000:stateMachine:{name}"),
        name: name.into(),
        version_arn: None,
        alias_arn: None,
        machine_type: MachineType::Standard,
        role_arn: "arn:aws:iam::000000000000:role/r".into(),
        definition: definition.to_string(),
        compiled: Arc::new(StateMachine::compile(&definition).unwrap()),
    }
}

fn open(store: &Arc<MemoryStore>) -> Runtime {
    open_with(store, RuntimeConfig { activity_poll: Duration::from_secs(5), ..RuntimeConfig::default() })
}

fn open_with(store: &Arc<MemoryStore>, config: RuntimeConfig) -> Runtime {
    Runtime::open(store.clone(), Arc::new(NoTasks::default()), config).unwrap()
}

async fn wait_closed(runtime: &Runtime, arn: &str) -> String {
    for _ in 0..500 {
        let status = runtime.describe_execution(arn).unwrap().status;
        if status != "RUNNING" {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{arn} did not finish");
}

fn event_types(runtime: &Runtime, arn: &str) -> Vec<String> {
    runtime.history(arn).unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_pass_execution_is_durable_when_started() {
    let store = Arc::new(MemoryStore::default());
    let runtime = open(&store);
    let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": true}}});
    let started = runtime.start_execution(machine("m", definition), Some("e1".into()), "{}".into(), None).await.unwrap();
    let stored = store.execution(&started.execution_arn).unwrap().unwrap();
    assert_eq!(stored.status, "SUCCEEDED");
    let described = runtime.describe_execution(&started.execution_arn).unwrap();
    assert_eq!(described.output.as_deref(), Some("1"));
    assert_eq!(event_types(&runtime, &started.execution_arn), ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
}

#[tokio::test]
async fn starting_again_is_idempotent_only_while_running_with_the_same_input() {
    let store = Arc::new(MemoryStore::default());
    let runtime = open(&store);
    let waiting = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}});
    let first = runtime.start_execution(machine("w", waiting.clone()), Some("same".into()), "{}".into(), None).await.unwrap();
    let again = runtime.start_execution(machine("w", waiting.clone()), Some("same".into()), "{}".into(), None).await.unwrap();
    assert_eq!(first, again);
    let other = runtime.start_execution(machine("w", waiting), Some("same".into()), "{\"x\":1}".into(), None).await.unwrap_err();
    assert_eq!(other.code, "ExecutionAlreadyExists");
    runtime.stop_execution(&first.execution_arn, Some("E".into()), Some("C".into())).await.unwrap();
    assert_eq!(runtime.describe_execution(&first.execution_arn).unwrap().status, "ABORTED");
}

#[tokio::test]
async fn activity_tasks_reach_workers_and_complete_by_token() {
    let store = Arc::new(MemoryStore::default());
    let runtime = Arc::new(open(&store));
    let activity = "arn:aws:states:us-east-1:000000000000:activity:work";
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 30, "End": true}}});
    let poller = {
        let runtime = runtime.clone();
        tokio::spawn(async move { runtime.get_activity_task(activity, Some("worker-1".into())).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = runtime.start_execution(machine("a", definition), None, "{\"job\":1}".into(), None).await.unwrap();
    let task = poller.await.unwrap().unwrap().expect("a task");
    assert_eq!(task.input, "{\"job\":1}");
    runtime.send_task_heartbeat(&task.task_token).await.unwrap();
    runtime.send_task_success(&task.task_token, "{\"done\":true}".into()).await.unwrap();
    assert_eq!(wait_closed(&runtime, &started.execution_arn).await, "SUCCEEDED");
    assert_eq!(
        event_types(&runtime, &started.execution_arn),
        ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"]
    );
    let closed = runtime.send_task_success(&task.task_token, "{}".into()).await.unwrap_err();
    assert_eq!(closed.code, "TaskTimedOut");
    let garbage = runtime.send_task_heartbeat("not-a-token").await.unwrap_err();
    assert_eq!(garbage.code, "InvalidToken");
}

#[tokio::test]
async fn an_execution_resumes_after_the_runtime_is_dropped() {
    let store = Arc::new(MemoryStore::default());
    let definition = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
        "P": {"Type": "Pass", "Result": "after", "End": true}}});
    let arn = {
        let runtime = open(&store);
        runtime.start_execution(machine("r", definition), Some("resume".into()), "{}".into(), None).await.unwrap().execution_arn
    };
    let runtime = open(&store);
    assert_eq!(wait_closed(&runtime, &arn).await, "SUCCEEDED");
    let types = event_types(&runtime, &arn);
    assert_eq!(types, ["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
    let ids: Vec<u64> = runtime.history(&arn).unwrap().iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=6).collect::<Vec<_>>());
}

#[tokio::test]
async fn closed_executions_are_purged_after_the_retention() {
    let store = Arc::new(MemoryStore::default());
    let runtime = open_with(&store, RuntimeConfig { retention: Duration::from_millis(200), ..RuntimeConfig::default() });
    let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
    let arn = runtime.start_execution(machine("p", definition), None, "{}".into(), None).await.unwrap().execution_arn;
    assert_eq!(runtime.describe_execution(&arn).unwrap().status, "SUCCEEDED");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(runtime.describe_execution(&arn).unwrap_err().code, "ExecutionDoesNotExist");
}

#[tokio::test]
async fn a_failed_execution_is_redriven_from_the_failed_state() {
    let store = Arc::new(MemoryStore::default());
    let tasks = Arc::new(NoTasks::default());
    let runtime = Runtime::open(store.clone(), tasks.clone(), RuntimeConfig::default()).unwrap();
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}});
    let arn = runtime.start_execution(machine("rd", definition), None, "{}".into(), None).await.unwrap().execution_arn;
    assert_eq!(wait_closed(&runtime, &arn).await, "FAILED");
    assert_eq!(runtime.redrive_execution("arn:aws:states:us-east-1:000000000000:execution:rd:nope").await.unwrap_err().code, "ExecutionDoesNotExist");
    tasks.healed.store(true, std::sync::atomic::Ordering::SeqCst);
    runtime.redrive_execution(&arn).await.unwrap();
    assert_eq!(wait_closed(&runtime, &arn).await, "SUCCEEDED");
    let described = runtime.describe_execution(&arn).unwrap();
    assert_eq!((described.redrive_count, described.output.as_deref()), (1, Some("\"healed\"")));
    let types = event_types(&runtime, &arn);
    assert_eq!(types.iter().filter(|t| *t == "ExecutionRedriven").count(), 1);
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
    assert_eq!(runtime.redrive_execution(&arn).await.unwrap_err().code, "ExecutionNotRedrivable");
}

#[tokio::test]
async fn distributed_map_iterations_are_child_executions_of_a_map_run_that_survives_a_restart() {
    let store = Arc::new(MemoryStore::default());
    let activity = "arn:aws:states:us-east-1:000000000000:activity:items";
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "Label": "Items", "MaxConcurrency": 1, "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": activity, "End": true}}}}}});
    let (arn, map_run_arn, first_token) = {
        let runtime = open(&store);
        let arn = runtime.start_execution(machine("dm", definition), Some("run".into()), "[1, 2]".into(), None).await.unwrap().execution_arn;
        let first = runtime.get_activity_task(activity, None).await.unwrap().expect("the first iteration's task");
        let [run] = runtime.list_map_runs(&arn).unwrap().try_into().unwrap();
        assert_eq!((run.status.as_str(), run.max_concurrency, run.execution_counts.running, run.execution_counts.pending), ("RUNNING", 1, 1, 1));
        let children = runtime.list_executions(&run.map_run_arn, None).unwrap();
        let [child] = children.as_slice() else { panic!("{children:?}") };
        assert!(child.execution_arn.starts_with("arn:aws:states:us-east-1:000000000000:execution:dm/Items:"), "{}", child.execution_arn);
        assert_eq!(child.map_run_arn.as_deref(), Some(run.map_run_arn.as_str()));
        assert_eq!(child.state_machine_arn, "arn:aws:states:us-east-1:000000000000:stateMachine:dm/Items");
        assert_eq!(child.input, "1");
        runtime.update_map_run(&run.map_run_arn, asl::map_run::MapRunUpdate { max_concurrency: Some(5), ..Default::default() }).await.unwrap();
        assert_eq!(runtime.describe_map_run(&run.map_run_arn).unwrap().execution_counts.running, 2);
        (arn, run.map_run_arn, first.task_token)
    };
    // After a restart the replayed execution has the same Map Run, children and task tokens.
    let runtime = open(&store);
    let mut tokens = Vec::new();
    for _ in 0..2 {
        tokens.push(runtime.get_activity_task(activity, None).await.unwrap().expect("both pending tasks are offered again").task_token);
    }
    assert!(tokens.contains(&first_token) && tokens[0] != tokens[1], "each iteration has its own token");
    for token in &tokens {
        runtime.send_task_success(token, "\"done\"".into()).await.unwrap();
    }
    assert_eq!(wait_closed(&runtime, &arn).await, "SUCCEEDED");
    let run = runtime.describe_map_run(&map_run_arn).unwrap();
    assert_eq!((run.status.as_str(), run.max_concurrency, run.execution_counts.succeeded, run.item_counts.total), ("SUCCEEDED", 5, 2, 2));
    assert!(run.stop_ms.is_some());
    let children = runtime.list_executions(&map_run_arn, Some("SUCCEEDED")).unwrap();
    assert_eq!(children.len(), 2);
    for child in &children {
        assert_eq!(child.output.as_deref(), Some("\"done\""));
        // (A task taken again after the restart records a second ActivityStarted.)
        let types = event_types(&runtime, &child.execution_arn);
        assert_eq!(&types[..3], ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled"]);
        assert_eq!(types[types.len() - 3..], ["ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"]);
    }
    assert_eq!(event_types(&runtime, &arn), ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]);
    let unknown = runtime.describe_map_run(&format!("{map_run_arn}x")).unwrap_err();
    assert_eq!(unknown.code, "ResourceNotFound");
}
