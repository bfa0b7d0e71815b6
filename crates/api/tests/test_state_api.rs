//! TestState over the router: AWS's answers (JSON texts, statuses) and request checks.

mod common;

use common::{Api, ROLE};
use serde_json::{json, Value};

fn parsed(text: &Value) -> Value {
    serde_json::from_str(text.as_str().expect("a JSON text")).expect("valid JSON")
}

#[tokio::test]
async fn a_pass_state_answers_its_output_and_inspection_data_as_json_texts() {
    let api = Api::new();
    let definition = json!({"Type": "Pass", "InputPath": "$.a", "End": true});
    let answer = api.ok("TestState", json!({"definition": definition.to_string(), "input": "{\"a\": [1]}", "inspectionLevel": "DEBUG"})).await;
    assert_eq!(answer["status"], "SUCCEEDED");
    assert_eq!(parsed(&answer["output"]), json!([1]));
    assert_eq!(parsed(&answer["inspectionData"]["afterInputPath"]), json!([1]));
    assert!(answer.get("nextState").is_none());
}

#[tokio::test]
async fn info_level_answers_without_inspection_data() {
    let api = Api::new();
    let definition = json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}], "Default": "Other"});
    let answer = api.ok("TestState", json!({"definition": definition.to_string(), "input": "{\"n\": 1}"})).await;
    assert_eq!(answer["nextState"], "One");
    assert!(answer.get("inspectionData").is_none());
}

#[tokio::test]
async fn a_state_of_a_machine_is_tested_by_name() {
    let api = Api::new();
    let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Fail", "Error": "E", "Cause": "C"}}});
    let answer = api.ok("TestState", json!({"definition": definition.to_string(), "stateName": "B"})).await;
    assert_eq!(answer["status"], "FAILED");
    assert_eq!((answer["error"].as_str(), answer["cause"].as_str()), (Some("E"), Some("C")));
}

#[tokio::test]
async fn a_caught_mocked_error_answers_the_catchers_output() {
    let api = Api::new();
    let definition = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Catch": [{"ErrorEquals": ["Boom"], "Next": "Handle"}]});
    let answer = api
        .ok("TestState", json!({"definition": definition.to_string(), "inspectionLevel": "TRACE", "mock": {"errorOutput": {"error": "Boom", "cause": "why"}}}))
        .await;
    assert_eq!(answer["status"], "CAUGHT_ERROR");
    assert_eq!(answer["nextState"], "Handle");
    assert_eq!(parsed(&answer["output"]), json!({"Error": "Boom", "Cause": "why"}));
    assert_eq!(answer["inspectionData"]["errorDetails"], json!({"catchIndex": 0}));
}

#[tokio::test]
async fn a_retriable_error_answers_the_retriers_backoff() {
    let api = Api::new();
    let definition = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true, "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2}]});
    let answer = api
        .ok(
            "TestState",
            json!({"definition": definition.to_string(), "inspectionLevel": "DEBUG", "mock": {"errorOutput": {"error": "Boom"}}, "stateConfiguration": {"retrierRetryCount": 1}}),
        )
        .await;
    assert_eq!(answer["status"], "RETRIABLE");
    assert_eq!(answer["inspectionData"]["errorDetails"], json!({"retryIndex": 0, "retryBackoffIntervalSeconds": 4}));
}

#[tokio::test]
async fn requests_are_checked_as_aws_checks_them() {
    let api = Api::new();
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}).to_string();
    let parallel = json!({"Type": "Parallel", "End": true, "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}]}).to_string();
    let pass = json!({"Type": "Pass", "End": true}).to_string();
    let cases = [
        (json!({"definition": task}), "ValidationException", "RoleArn must be specified when testing a Task state"),
        (json!({"definition": task, "roleArn": ROLE, "mock": {"result": "nope"}}), "ValidationException", "Mocked result must be valid JSON"),
        (
            json!({"definition": task, "mock": {"result": "1", "errorOutput": {"error": "E"}}}),
            "ValidationException",
            "A test mock should have only one of the following fields: [result, errorOutput].",
        ),
        (json!({"definition": pass, "mock": {"result": "1"}}), "ValidationException", "State type 'Pass' is not supported when a mock is specified"),
        (
            json!({"definition": parallel}),
            "InvalidDefinition",
            "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
        ),
        (json!({"definition": parallel, "mock": {"result": "{}"}}), "ValidationException", "Mocked result must be an array."),
        (
            json!({"definition": parallel, "mock": {"result": "[1, 2]"}}),
            "ValidationException",
            "Mocked result must contain the same number of items as number of Parallel branches.",
        ),
        (
            json!({"definition": task, "mock": {"result": "{}"}, "context": "{\"Task\": {\"Token\": \"t\"}}"}),
            "ValidationException",
            "Invalid Context object provided: Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern",
        ),
    ];
    for (request, code, message) in cases {
        assert_eq!(api.error("TestState", request.clone()).await, (code.to_owned(), message.to_owned()), "{request}");
    }
}

#[tokio::test]
async fn the_default_context_is_an_express_execution_of_the_tested_state() {
    let api = Api::new();
    let definition = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true, "ResultSelector": {"context.$": "$$"}});
    let answer = api.ok("TestState", json!({"definition": definition.to_string(), "roleArn": ROLE, "mock": {"result": "{}"}})).await;
    let context = &parsed(&answer["output"])["context"];
    assert_eq!(context["State"]["Name"], "StateName");
    assert_eq!(context["Execution"]["RoleArn"], ROLE);
    assert!(context["Execution"]["Id"].as_str().unwrap().contains(":express:"));
}
