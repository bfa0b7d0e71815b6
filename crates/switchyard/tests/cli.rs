//! The `switchyard` binary as users call it.

use serde_json::{json, Value};
use std::process::Command;

fn switchyard(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard")).args(args).output().expect("switchyard runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn run_json(args: &[&str]) -> Value {
    let mut all = vec!["run", "--format", "json", "--time-scale", "0"];
    all.extend_from_slice(args);
    let (_, stdout, stderr) = switchyard(&all);
    serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("not JSON: {stdout} {stderr}"))
}

fn example(name: &str) -> String {
    format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_hello_example_gives_its_expected_output() {
    let result = run_json(&[&example("hello.asl.json"), "--input", &example("hello.input.json")]);
    assert_eq!(result["status"], "SUCCEEDED");
    assert_eq!(
        result["output"],
        json!({"greeting": "Hello, world!", "count": 3, "items": [1, 2, 3], "size": "many", "doubled": [{"n": 2}, {"n": 4}, {"n": 6}]})
    );
    let events = result["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["type"], "ExecutionStarted");
    assert_eq!(events.last().unwrap()["type"], "ExecutionSucceeded");
}

#[test]
fn yaml_definitions_run_too() {
    let definition = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Result: {x: 1}\n    End: true\n";
    let path = std::env::temp_dir().join(format!("switchyard-yaml-{}.yml", std::process::id()));
    std::fs::write(&path, definition).unwrap();
    let result = run_json(&[path.to_str().unwrap()]);
    assert_eq!(result["output"], json!({"x": 1}));
}

#[test]
fn mocked_responses_replace_tasks_by_test_case() {
    let dir = std::env::temp_dir().join(format!("switchyard-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("mock.json");
    std::fs::write(
        &config,
        json!({
            "StateMachines": {"m": {"TestCases": {"happy": {"Call": "ok"}, "sad": {"Call": "boom"}}}},
            "MockedResponses": {
                "ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"x": 1}}}},
                "boom": {"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "down"}}}
            }
        })
        .to_string(),
    )
    .unwrap();
    let definition = r#"{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"OutputPath":"$.Payload","End":true}}}"#;
    let happy = run_json(&[definition, "--mock-config", config.to_str().unwrap(), "--test-case", "happy"]);
    assert_eq!(happy["output"], json!({"x": 1}));
    let sad = run_json(&[definition, "--mock-config", config.to_str().unwrap(), "--test-case", "sad"]);
    assert_eq!((sad["status"].as_str(), sad["error"].as_str(), sad["cause"].as_str()), (Some("FAILED"), Some("Lambda.ServiceException"), Some("down")));
}

#[test]
fn a_python_handler_runs_as_a_lambda_task() {
    let handler = std::env::temp_dir().join(format!("switchyard_handler_{}.py", std::process::id()));
    std::fs::write(&handler, "def handler(event, context):\n    return {'got': event, 'fn': context.function_name}\n").unwrap();
    let function = format!("hello={}:handler", handler.display());
    let definition = r#"{"StartAt":"C","States":{"C":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:hello","End":true}}}"#;
    let result = run_json(&[definition, "--function", &function, "--input", r#"{"a":1}"#]);
    assert_eq!(result["output"], json!({"got": {"a": 1}, "fn": "hello"}));
}

#[test]
fn validate_reports_errors_and_fails() {
    let (ok, stdout, _) = switchyard(&["validate", r#"{"StartAt":"Nowhere","States":{"A":{"Type":"Pass","End":true}}}"#]);
    assert!(!ok);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["result"], "FAIL");
    assert!(!report["diagnostics"].as_array().unwrap().is_empty());
    let (ok, _, _) = switchyard(&["validate", &example("hello.asl.json")]);
    assert!(ok);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let (ok, _, stderr) = switchyard(&["run", r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#, "--input", "{not json"]);
    assert!(!ok);
    assert!(stderr.contains("input is not JSON"), "{stderr}");
}
