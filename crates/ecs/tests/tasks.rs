//! Tasks on the process runner, through the service's own calls: states, stop codes, usage
//! records, idempotent RunTask.

use compute::containers::ProcessRunner;
use compute::Cancellation;
use ecs::{Ecs, Region, Usage};
use serde_json::{json, Value};
use std::sync::Arc;
use store::{MemoryStore, Store};

fn service(name: &str) -> (Arc<Ecs>, Arc<MemoryStore>) {
    let scratch = std::env::temp_dir().join(format!("switchyard-ecs-tasks-{}/{name}", std::process::id()));
    let runner = ProcessRunner::open(scratch.join("containers"), name).expect("runner");
    let store = Arc::new(MemoryStore::new());
    let region = Region { region: "us-east-1".into(), account: "000000000000".into() };
    let ecs = Ecs::open(store.clone(), Arc::new(runner), region, scratch.join("logs")).expect("service");
    ecs.register_task_definition(&json!({
        "family": "job", "cpu": "512", "memory": "256",
        "containerDefinitions": [{ "name": "app", "image": "busybox", "command": ["sh", "-c", "echo hi; exit 0"] }]
    }))
    .expect("registered");
    (ecs, store)
}

fn run(ecs: &Arc<Ecs>, request: Value) -> Value {
    ecs.run_task(&request).expect("run")["tasks"][0].clone()
}

fn arn(task: &Value) -> String {
    task["taskArn"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_task_runs_to_its_end_and_its_usage_is_recorded() {
    let (ecs, store) = service("usage");
    let task = run(&ecs, json!({ "taskDefinition": "job", "launchType": "FARGATE" }));
    assert_eq!(task["lastStatus"], "PROVISIONING");
    let stopped = ecs.wait_until_stopped(&arn(&task), &Cancellation::new()).expect("stopped");
    assert_eq!((&stopped["stopCode"], &stopped["containers"][0]["exitCode"]), (&json!("EssentialContainerExited"), &json!(0)));
    let usage = store.documents("usage").expect("usage").iter().find_map(|document| Usage::parse(&document.body)).expect("a usage record");
    assert_eq!((usage.runner.as_str(), usage.vcpus, usage.memory_mib, usage.exit_code), ("process", 0.5, 256, Some(0)));
    assert!(usage.started_at_ms.is_some_and(|started| started <= usage.stopped_at_ms));
}

#[test]
fn overrides_change_the_command_and_a_non_zero_exit_is_kept() {
    let (ecs, _) = service("overrides");
    let task = run(&ecs, json!({ "taskDefinition": "job", "overrides": { "containerOverrides": [{ "name": "app", "command": ["sh", "-c", "exit 9"] }] } }));
    let stopped = ecs.wait_until_stopped(&arn(&task), &Cancellation::new()).expect("stopped");
    assert_eq!(stopped["containers"][0]["exitCode"], 9);
}

#[test]
fn the_same_client_token_runs_the_task_once() {
    let (ecs, _) = service("token");
    let first = run(&ecs, json!({ "taskDefinition": "job", "clientToken": "once" }));
    let again = run(&ecs, json!({ "taskDefinition": "job", "clientToken": "once" }));
    assert_eq!(arn(&first), arn(&again));
}

#[test]
fn stop_task_stops_a_running_task() {
    let (ecs, _) = service("stop");
    let task = run(&ecs, json!({ "taskDefinition": "job", "overrides": { "containerOverrides": [{ "name": "app", "command": ["sleep", "30"] }] } }));
    ecs.stop_task(&json!({ "task": arn(&task), "reason": "no longer needed" })).expect("stop");
    let stopped = ecs.wait_until_stopped(&arn(&task), &Cancellation::new()).expect("stopped");
    assert_eq!((&stopped["stopCode"], &stopped["stoppedReason"]), (&json!("UserInitiated"), &json!("no longer needed")));
}

#[test]
fn errors_name_what_is_wrong() {
    let (ecs, _) = service("errors");
    let error = |request: Value| ecs.run_task(&request).err().map(|error| error.code);
    assert_eq!(error(json!({ "taskDefinition": "job", "cluster": "nope" })), Some("ClusterNotFoundException"));
    assert_eq!(error(json!({ "taskDefinition": "missing" })), Some("ClientException"));
    assert_eq!(error(json!({})), Some("InvalidParameterException"));
    assert_eq!(error(json!({ "taskDefinition": "job", "overrides": { "containerOverrides": [{ "name": "other" }] } })), Some("InvalidParameterException"));
}
