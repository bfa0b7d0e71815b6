//! The Step Functions API in process: every catalog operation, the protocol and the error shapes,
//! and the checks that execution operations make before they reach the runtime.

mod common;

use axum::http::StatusCode;
use common::{error_of, pass, pass_result, Api, PREFIX, ROLE};
use serde_json::{json, Value};

const VALID_VALUES: &str = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";

fn strings(values: &Value, field: &str) -> Vec<String> {
    values.as_array().unwrap().iter().map(|value| value[field].as_str().unwrap().to_owned()).collect()
}

// --- protocol ------------------------------------------------------------------------------

#[tokio::test]
async fn answers_are_json_1_0_with_a_request_id() {
    let api = Api::new();
    let answer = api.call("ListStateMachines", json!({})).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, "application/x-amz-json-1.0");
    assert_eq!(answer.request_id.len(), 36);
    assert_eq!(answer.body, json!({"stateMachines": []}));
}

#[tokio::test]
async fn errors_carry_a_namespaced_type_and_a_message() {
    let api = Api::new();
    let answer = api.call("DescribeStateMachine", json!({"stateMachineArn": "not_a_valid_arn"})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.content_type, "application/x-amz-json-1.0");
    assert_eq!(
        answer.body,
        json!({"__type": "com.amazonaws.swf.service.v2.model#InvalidArn", "message": "Invalid Arn: 'Invalid ARN prefix: not_a_valid_arn'"})
    );
}

#[tokio::test]
async fn unknown_actions_and_targets_are_unknown_operations() {
    let api = Api::new();
    assert_eq!(api.error("NoSuchAction", json!({})).await.0, "UnknownOperationException");
    let answer = api.send(None, "localhost", "{}").await;
    assert_eq!((answer.status, error_of(&answer.body).0.as_str()), (StatusCode::BAD_REQUEST, "UnknownOperationException"));
    let answer = api.send(Some("Lambda.Invoke"), "localhost", "{}").await;
    assert_eq!(error_of(&answer.body).0, "UnknownOperationException");
}

#[tokio::test]
async fn bodies_that_are_not_json_requests_are_serialization_errors() {
    let api = Api::new();
    for body in ["{not json", "[1, 2]", r#"{"maxResults": "ten"}"#] {
        let answer = api.send(Some("AWSStepFunctions.ListStateMachines"), "localhost", body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.body["__type"], "com.amazon.coral.service#SerializationException", "{body}");
    }
    let empty = api.send(Some("AWSStepFunctions.ListStateMachines"), "localhost", "").await;
    assert_eq!(empty.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_members_are_validation_errors_in_aws_words() {
    let api = Api::new();
    let answer = api.call("CreateStateMachine", json!({"name": "n"})).await;
    assert_eq!(answer.body["__type"], "com.amazon.coral.validate#ValidationException");
    assert_eq!(
        answer.body["message"],
        "2 validation errors detected: Value null at 'definition' failed to satisfy constraint: Member must not be null; \
         Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
    );
}

#[tokio::test]
async fn routing_ignores_the_host_sdks_prefix() {
    let api = Api::new();
    let arn = api.create("standard", &pass()).await;
    let body = json!({"stateMachineArn": arn}).to_string();
    let answer = api.send(Some("AWSStepFunctions.StartSyncExecution"), "sync-127.0.0.1:8083", &body).await;
    assert_eq!(
        error_of(&answer.body),
        ("StateMachineTypeNotSupported".to_owned(), "This operation is not supported by this type of state machine".to_owned())
    );
}

// --- state machines ------------------------------------------------------------------------

#[tokio::test]
async fn a_created_state_machine_is_described_as_aws_describes_it() {
    let api = Api::new();
    let definition = serde_json::to_string_pretty(&pass()).unwrap();
    let created = api.ok("CreateStateMachine", json!({"name": "hello", "definition": definition, "roleArn": ROLE})).await;
    let arn = format!("{PREFIX}stateMachine:hello");
    assert_eq!(created["stateMachineArn"], arn);
    assert!(created["creationDate"].is_f64());
    assert!(created.get("stateMachineVersionArn").is_none());
    let described = api.ok("DescribeStateMachine", json!({"stateMachineArn": arn})).await;
    assert!(described["revisionId"].is_string());
    assert_eq!(
        described,
        json!({
            "stateMachineArn": arn,
            "name": "hello",
            "status": "ACTIVE",
            "type": "STANDARD",
            "creationDate": created["creationDate"],
            "definition": definition,
            "roleArn": ROLE,
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
            "tracingConfiguration": {"enabled": false},
            "revisionId": described["revisionId"],
        })
    );
    let metadata = api.ok("DescribeStateMachine", json!({"stateMachineArn": arn, "includedData": "METADATA_ONLY"})).await;
    assert!(metadata.get("definition").is_none());
}

#[tokio::test]
async fn express_machines_are_described_as_express() {
    let api = Api::new();
    let body = json!({"name": "fast", "definition": pass().to_string(), "roleArn": ROLE, "type": "EXPRESS"});
    let arn = api.ok("CreateStateMachine", body).await["stateMachineArn"].as_str().unwrap().to_owned();
    assert_eq!(api.ok("DescribeStateMachine", json!({"stateMachineArn": arn})).await["type"], "EXPRESS");
    let (code, _) = api.error("CreateStateMachine", json!({"name": "n", "definition": "{}", "roleArn": ROLE, "type": "SLOW"})).await;
    assert_eq!(code, "ValidationException");
}

#[tokio::test]
async fn state_machines_are_listed_by_pages() {
    let api = Api::new();
    for name in ["a", "b", "c"] {
        api.create(name, &pass()).await;
    }
    let first = api.ok("ListStateMachines", json!({"maxResults": 2})).await;
    assert_eq!(strings(&first["stateMachines"], "name"), ["a", "b"]);
    assert_eq!(first["stateMachines"][0]["type"], "STANDARD");
    assert!(first["stateMachines"][0]["creationDate"].is_f64());
    let second = api.ok("ListStateMachines", json!({"maxResults": 2, "nextToken": first["nextToken"]})).await;
    assert_eq!(strings(&second["stateMachines"], "name"), ["c"]);
    assert!(second.get("nextToken").is_none());
    let (code, message) = api.error("ListStateMachines", json!({"nextToken": "garbage"})).await;
    assert_eq!((code.as_str(), message.as_str()), ("InvalidToken", "Invalid Token: 'Invalid token'"));
    let (code, message) = api.error("ListStateMachines", json!({"maxResults": 1001})).await;
    assert_eq!(code, "ValidationException");
    assert!(message.ends_with("Member must have value less than or equal to 1000"), "{message}");
}

#[tokio::test]
async fn creating_again_is_idempotent_until_the_definition_differs() {
    let api = Api::new();
    let arn = api.create("same", &pass()).await;
    assert_eq!(api.create("same", &pass()).await, arn);
    let (code, message) = api.error("CreateStateMachine", json!({"name": "same", "definition": pass_result().to_string(), "roleArn": ROLE})).await;
    assert_eq!((code.as_str(), message), ("StateMachineAlreadyExists", format!("State Machine Already Exists: '{arn}'")));
}

#[tokio::test]
async fn invalid_definitions_are_refused_with_aws_messages() {
    let api = Api::new();
    let cases = [
        (json!({"StartAt": "A"}).to_string(), "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'".to_owned()),
        ("this is not json".to_owned(), format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unrecognized token 'this': was expecting {VALID_VALUES}'")),
    ];
    for (definition, expected) in cases {
        let (code, message) = api.error("CreateStateMachine", json!({"name": "bad", "definition": definition, "roleArn": ROLE})).await;
        assert_eq!((code.as_str(), message), ("InvalidDefinition", expected));
    }
    for definition in [
        json!({"StartAt": "A", "States": {"A": {"Type": "NoSuchType", "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}),
    ] {
        let (code, _) = api.error("CreateStateMachine", json!({"name": "bad", "definition": definition.to_string(), "roleArn": ROLE})).await;
        assert_eq!(code, "InvalidDefinition");
    }
    assert_eq!(api.ok("ListStateMachines", json!({})).await["stateMachines"], json!([]));
}

#[tokio::test]
async fn names_and_arns_are_checked_as_aws_checks_them() {
    let api = Api::new();
    let (code, message) = api.error("CreateStateMachine", json!({"name": "bad name", "definition": pass().to_string(), "roleArn": ROLE})).await;
    assert_eq!((code.as_str(), message.as_str()), ("InvalidName", "Invalid Name: 'bad name'"));
    let long = "a".repeat(81);
    let (code, message) = api.error("CreateStateMachine", json!({"name": long, "definition": pass().to_string(), "roleArn": ROLE})).await;
    assert_eq!(code, "ValidationException");
    assert_eq!(message, format!("1 validation error detected: Value '{long}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"));
    let (code, message) = api.error("CreateStateMachine", json!({"name": "n", "definition": pass().to_string(), "roleArn": "role"})).await;
    assert_eq!((code.as_str(), message.as_str()), ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: role'"));
    let activity = format!("{PREFIX}activity:a");
    let (code, message) = api.error("DescribeStateMachine", json!({"stateMachineArn": activity})).await;
    assert_eq!((code.as_str(), message.as_str()), ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: activity'"));
}

#[tokio::test]
async fn unknown_state_machines_do_not_exist() {
    let api = Api::new();
    let missing = format!("{PREFIX}stateMachine:missing");
    let expected = ("StateMachineDoesNotExist".to_owned(), format!("State Machine Does Not Exist: '{missing}'"));
    assert_eq!(api.error("DescribeStateMachine", json!({"stateMachineArn": missing})).await, expected);
    assert_eq!(api.error("StartExecution", json!({"stateMachineArn": missing, "name": "a b", "input": "{"})).await, expected);
    assert_eq!(api.error("ListExecutions", json!({"stateMachineArn": missing})).await, expected);
    assert_eq!(api.error("UpdateStateMachine", json!({"stateMachineArn": missing, "definition": pass().to_string()})).await, expected);
}

#[tokio::test]
async fn an_update_replaces_the_definition() {
    let api = Api::new();
    let arn = api.create("updated", &pass()).await;
    let definition = serde_json::to_string_pretty(&pass_result()).unwrap();
    let updated = api.ok("UpdateStateMachine", json!({"stateMachineArn": arn, "definition": definition})).await;
    assert!(updated["updateDate"].is_f64());
    let described = api.ok("DescribeStateMachine", json!({"stateMachineArn": arn})).await;
    assert_eq!((&described["definition"], &described["revisionId"]), (&json!(definition), &updated["revisionId"]));
    let (code, message) = api.error("UpdateStateMachine", json!({"stateMachineArn": arn})).await;
    assert_eq!(code, "MissingRequiredParameter");
    assert_eq!(message, "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified");
    let (code, _) = api.error("UpdateStateMachine", json!({"stateMachineArn": arn, "definition": json!({"StartAt": "A"}).to_string()})).await;
    assert_eq!(code, "InvalidDefinition");
}

#[tokio::test]
async fn a_deleted_state_machine_is_gone_and_deleting_again_is_no_error() {
    let api = Api::new();
    let arn = api.create("doomed", &pass()).await;
    assert_eq!(api.ok("DeleteStateMachine", json!({"stateMachineArn": arn})).await, json!({}));
    assert_eq!(api.error("DescribeStateMachine", json!({"stateMachineArn": arn})).await.0, "StateMachineDoesNotExist");
    assert_eq!(api.error("StartExecution", json!({"stateMachineArn": arn})).await.0, "StateMachineDoesNotExist");
    assert_eq!(api.ok("DeleteStateMachine", json!({"stateMachineArn": format!("{PREFIX}stateMachine:never")})).await, json!({}));
}

#[tokio::test]
async fn logging_configurations_are_checked_and_described() {
    let api = Api::new();
    let body = json!({"name": "n", "definition": pass().to_string(), "roleArn": ROLE, "loggingConfiguration": {"level": "ALL"}});
    let (code, message) = api.error("CreateStateMachine", body).await;
    assert_eq!((code.as_str(), message.as_str()), ("InvalidLoggingConfiguration", "Invalid Logging Configuration: Must specify exactly one Log Destination."));
    let destination = json!({"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:g:*"}});
    let logging = json!({"level": "ERROR", "includeExecutionData": true, "destinations": [destination]});
    let body = json!({"name": "logged", "definition": pass().to_string(), "roleArn": ROLE, "loggingConfiguration": logging, "tracingConfiguration": {"enabled": true}});
    let arn = api.ok("CreateStateMachine", body).await["stateMachineArn"].clone();
    let described = api.ok("DescribeStateMachine", json!({"stateMachineArn": arn})).await;
    assert_eq!((&described["loggingConfiguration"], &described["tracingConfiguration"]), (&logging, &json!({"enabled": true})));
}

#[tokio::test]
async fn a_version_description_needs_publish() {
    let api = Api::new();
    let body = json!({"name": "n", "definition": pass().to_string(), "roleArn": ROLE, "versionDescription": "HelloWorld!"});
    let (code, message) = api.error("CreateStateMachine", body).await;
    assert_eq!((code.as_str(), message.as_str()), ("ValidationException", "Version description can only be set when publish is true"));
}

// --- versions and aliases ------------------------------------------------------------------

#[tokio::test]
async fn versions_are_published_listed_described_and_deleted() {
    let api = Api::new();
    let body = json!({"name": "versioned", "definition": pass().to_string(), "roleArn": ROLE, "publish": true, "versionDescription": "first"});
    let created = api.ok("CreateStateMachine", body).await;
    let arn = created["stateMachineArn"].as_str().unwrap().to_owned();
    assert_eq!(created["stateMachineVersionArn"], format!("{arn}:1"));
    let again = api.ok("PublishStateMachineVersion", json!({"stateMachineArn": arn})).await;
    assert_eq!(again["stateMachineVersionArn"], format!("{arn}:1"));
    let update = json!({"stateMachineArn": arn, "definition": pass_result().to_string(), "publish": true});
    assert_eq!(api.ok("UpdateStateMachine", update).await["stateMachineVersionArn"], format!("{arn}:2"));
    let listed = api.ok("ListStateMachineVersions", json!({"stateMachineArn": arn})).await;
    assert_eq!(strings(&listed["stateMachineVersions"], "stateMachineVersionArn"), [format!("{arn}:2"), format!("{arn}:1")]);
    let version = api.ok("DescribeStateMachine", json!({"stateMachineArn": format!("{arn}:1")})).await;
    assert_eq!((&version["stateMachineArn"], &version["description"]), (&json!(format!("{arn}:1")), &json!("first")));
    assert_eq!(version["definition"], pass().to_string());
    let stale = api.error("PublishStateMachineVersion", json!({"stateMachineArn": arn, "revisionId": "stale"})).await;
    assert_eq!(stale.0, "ConflictException");
    api.ok("DeleteStateMachineVersion", json!({"stateMachineVersionArn": format!("{arn}:1")})).await;
    let listed = api.ok("ListStateMachineVersions", json!({"stateMachineArn": arn})).await;
    assert_eq!(strings(&listed["stateMachineVersions"], "stateMachineVersionArn"), [format!("{arn}:2")]);
}

#[tokio::test]
async fn aliases_route_to_versions() {
    let api = Api::new();
    let body = json!({"name": "aliased", "definition": pass().to_string(), "roleArn": ROLE, "publish": true});
    let arn = api.ok("CreateStateMachine", body).await["stateMachineArn"].as_str().unwrap().to_owned();
    let version = format!("{arn}:1");
    let routing = json!([{"stateMachineVersionArn": version, "weight": 100}]);
    let created = api.ok("CreateStateMachineAlias", json!({"name": "prod", "routingConfiguration": routing, "description": "live"})).await;
    let alias = format!("{arn}:prod");
    assert_eq!(created["stateMachineAliasArn"], alias);
    let described = api.ok("DescribeStateMachineAlias", json!({"stateMachineAliasArn": alias})).await;
    assert_eq!(
        described,
        json!({
            "stateMachineAliasArn": alias, "name": "prod", "description": "live", "routingConfiguration": routing,
            "creationDate": created["creationDate"], "updateDate": created["creationDate"],
        })
    );
    let listed = api.ok("ListStateMachineAliases", json!({"stateMachineArn": arn})).await;
    assert_eq!(strings(&listed["stateMachineAliases"], "stateMachineAliasArn"), [alias.as_str()]);
    let referenced = api.error("DeleteStateMachineVersion", json!({"stateMachineVersionArn": version})).await;
    assert_eq!(referenced.0, "ConflictException");
    assert!(api.ok("UpdateStateMachineAlias", json!({"stateMachineAliasArn": alias, "description": "still live"})).await["updateDate"].is_f64());
    assert_eq!(api.ok("DescribeStateMachineAlias", json!({"stateMachineAliasArn": alias})).await["description"], "still live");
    assert_eq!(api.error("UpdateStateMachineAlias", json!({"stateMachineAliasArn": alias})).await.0, "MissingRequiredParameter");
    api.ok("DeleteStateMachineAlias", json!({"stateMachineAliasArn": alias})).await;
    let (code, message) = api.error("DescribeStateMachineAlias", json!({"stateMachineAliasArn": alias})).await;
    assert_eq!((code.as_str(), message), ("ResourceNotFound", format!("Resource not found: '{alias}'")));
}

#[tokio::test]
async fn alias_requests_are_checked_against_the_model() {
    let api = Api::new();
    let version = format!("{PREFIX}stateMachine:m:1");
    let three = json!([
        {"stateMachineVersionArn": version, "weight": 50},
        {"stateMachineVersionArn": version, "weight": 50},
        {"stateMachineVersionArn": version, "weight": 101},
    ]);
    let (code, message) = api.error("CreateStateMachineAlias", json!({"name": "123", "routingConfiguration": three})).await;
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        format!(
            "3 validation errors detected: Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: \
             ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$; Value '[RoutingConfigurationListItem(stateMachineVersionArn={version}, weight=50), \
             RoutingConfigurationListItem(stateMachineVersionArn={version}, weight=50), RoutingConfigurationListItem(stateMachineVersionArn={version}, weight=101)]' \
             at 'routingConfiguration' failed to satisfy constraint: Member must have length less than or equal to 2; Value '101' at \
             'routingConfiguration.3.member.weight' failed to satisfy constraint: Member must have value less than or equal to 100"
        )
    );
    let uneven = json!([{"stateMachineVersionArn": version, "weight": 60}]);
    let (code, message) = api.error("CreateStateMachineAlias", json!({"name": "a", "routingConfiguration": uneven})).await;
    assert_eq!((code.as_str(), message.as_str()), ("ValidationException", "Sum of routing configuration weights must equal 100. Received: [60]"));
}

// --- activities and tags -------------------------------------------------------------------

#[tokio::test]
async fn activities_are_created_once_described_listed_and_deleted() {
    let api = Api::new();
    let created = api.ok("CreateActivity", json!({"name": "work"})).await;
    let arn = format!("{PREFIX}activity:work");
    assert_eq!(created["activityArn"], arn);
    assert_eq!(api.ok("CreateActivity", json!({"name": "work"})).await, created);
    let described = api.ok("DescribeActivity", json!({"activityArn": arn})).await;
    assert_eq!(described, json!({"activityArn": arn, "name": "work", "creationDate": created["creationDate"]}));
    let listed = api.ok("ListActivities", json!({})).await;
    assert_eq!(listed, json!({"activities": [described]}));
    api.ok("DeleteActivity", json!({"activityArn": arn})).await;
    api.ok("DeleteActivity", json!({"activityArn": arn})).await;
    let expected = ("ActivityDoesNotExist".to_owned(), format!("Activity Does Not Exist: '{arn}'"));
    assert_eq!(api.error("DescribeActivity", json!({"activityArn": arn})).await, expected);
    assert_eq!(api.error("GetActivityTask", json!({"activityArn": arn})).await, expected);
    assert_eq!(api.error("CreateActivity", json!({"name": "bad name"})).await.0, "InvalidName");
    assert_eq!(api.error("DescribeActivity", json!({"activityArn": "not_a_valid_arn"})).await.0, "InvalidArn");
}

async fn tags_of(api: &Api, arn: &str) -> Value {
    api.ok("ListTagsForResource", json!({"resourceArn": arn})).await["tags"].clone()
}

#[tokio::test]
async fn state_machines_and_activities_are_tagged_and_untagged() {
    let api = Api::new();
    let body = json!({"name": "tagged", "definition": pass().to_string(), "roleArn": ROLE, "tags": [{"key": "team", "value": "a"}]});
    let machine = api.ok("CreateStateMachine", body).await["stateMachineArn"].as_str().unwrap().to_owned();
    let activity = api.ok("CreateActivity", json!({"name": "act", "tags": [{"key": "kind", "value": "activity"}]})).await["activityArn"].as_str().unwrap().to_owned();
    for (arn, first) in [(&machine, json!({"key": "team", "value": "a"})), (&activity, json!({"key": "kind", "value": "activity"}))] {
        assert_eq!(tags_of(&api, arn).await, json!([first]));
        assert_eq!(api.ok("TagResource", json!({"resourceArn": arn, "tags": [{"key": "env", "value": "test"}]})).await, json!({}));
        assert_eq!(tags_of(&api, arn).await, json!([first, {"key": "env", "value": "test"}]));
        api.ok("UntagResource", json!({"resourceArn": arn, "tagKeys": [first["key"]]})).await;
        assert_eq!(tags_of(&api, arn).await, json!([{"key": "env", "value": "test"}]));
    }
    let missing = format!("{PREFIX}stateMachine:missing");
    let expected = ("ResourceNotFound".to_owned(), format!("Resource not found: '{missing}'"));
    assert_eq!(api.error("ListTagsForResource", json!({"resourceArn": missing})).await, expected);
    assert_eq!(api.error("TagResource", json!({"resourceArn": missing, "tags": [{"key": "a", "value": "b"}]})).await, expected);
    let (code, message) = api.error("TagResource", json!({"resourceArn": machine, "tags": [{"key": "", "value": "b"}]})).await;
    assert_eq!(code, "ValidationException");
    assert!(message.contains("Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{message}");
}

// --- validation, map runs (TestState: test_state_api.rs) -------------------------------------------------------

#[tokio::test]
async fn definitions_are_validated_with_diagnostics() {
    let api = Api::new();
    let ok = api.ok("ValidateStateMachineDefinition", json!({"definition": pass().to_string(), "type": "EXPRESS"})).await;
    assert_eq!(ok, json!({"result": "OK", "diagnostics": [], "truncated": false}));
    let no_start = json!({"States": {"S": {"Type": "Pass", "End": true}}}).to_string();
    let failed = api.ok("ValidateStateMachineDefinition", json!({"definition": no_start})).await;
    assert_eq!(
        failed,
        json!({
            "result": "FAIL",
            "diagnostics": [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": "These fields are required: [StartAt]", "location": "/"}],
            "truncated": false,
        })
    );
    let not_json = api.ok("ValidateStateMachineDefinition", json!({"definition": "not a definition"})).await;
    assert_eq!(not_json["result"], "FAIL");
    assert_eq!(not_json["diagnostics"][0]["code"], "INVALID_JSON_DESCRIPTION");
    assert_eq!(not_json["diagnostics"][0]["message"], format!("Unrecognized token 'not': was expecting {VALID_VALUES}"));
}

#[tokio::test]
async fn unknown_map_runs_are_not_found() {
    let api = Api::new();
    let map_run = format!("{PREFIX}mapRun:m/label:1");
    let expected = ("ResourceNotFound".to_owned(), format!("Resource not found: '{map_run}'"));
    assert_eq!(api.error("DescribeMapRun", json!({"mapRunArn": map_run})).await, expected);
    assert_eq!(api.error("UpdateMapRun", json!({"mapRunArn": map_run, "maxConcurrency": 2})).await, expected);
    assert_eq!(api.error("DescribeMapRun", json!({"mapRunArn": "x"})).await.0, "InvalidArn");
}

// --- execution requests refused before the runtime -----------------------------------------

#[tokio::test]
async fn execution_arns_are_checked() {
    let api = Api::new();
    for action in ["DescribeExecution", "GetExecutionHistory", "StopExecution", "DescribeStateMachineForExecution", "RedriveExecution"] {
        assert_eq!(api.error(action, json!({"executionArn": "not_a_valid_arn"})).await.0, "InvalidArn", "{action}");
    }
    let express = format!("{PREFIX}express:m:e:1");
    let (code, message) = api.error("DescribeExecution", json!({"executionArn": express})).await;
    assert_eq!((code.as_str(), message.as_str()), ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: express'"));
    assert_eq!(api.error("ListExecutions", json!({"stateMachineArn": "not_a_valid_arn"})).await.0, "InvalidArn");
    assert_eq!(api.error("StartExecution", json!({"stateMachineArn": "not_a_valid_arn"})).await.0, "InvalidArn");
}

#[tokio::test]
async fn start_execution_checks_name_and_input() {
    let api = Api::new();
    let arn = api.create("inputs", &pass()).await;
    let start = |extra: Value| {
        let mut body = json!({"stateMachineArn": arn});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    assert_eq!(api.error("StartExecution", start(json!({"name": "bad name"}))).await, ("InvalidName".to_owned(), "Invalid Name: 'bad name'".to_owned()));
    let invalid_inputs = [
        ("not some json", format!("Unrecognized token 'not': was expecting {VALID_VALUES}")),
        ("{'not': 'json'", "Unexpected character (''' (code 39)): was expecting double-quote to start field name".to_owned()),
        ("", "Invalid execution input.".to_owned()),
    ];
    for (input, detail) in invalid_inputs {
        let expected = ("InvalidExecutionInput".to_owned(), format!("Invalid State Machine Execution Input: '{detail}'"));
        assert_eq!(api.error("StartExecution", start(json!({"input": input}))).await, expected);
    }
    let too_large = serde_json::to_string(&"é".repeat(131_072)).unwrap();
    let (code, message) = api.error("StartExecution", start(json!({"input": too_large}))).await;
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding"
    );
}

#[tokio::test]
async fn express_machines_have_no_execution_listing() {
    let api = Api::new();
    let body = json!({"name": "fast", "definition": pass().to_string(), "roleArn": ROLE, "type": "EXPRESS"});
    let arn = api.ok("CreateStateMachine", body).await["stateMachineArn"].clone();
    assert_eq!(api.error("ListExecutions", json!({"stateMachineArn": arn})).await.0, "StateMachineTypeNotSupported");
    let (code, message) = api.error("ListExecutions", json!({"stateMachineArn": arn, "statusFilter": "succeeded"})).await;
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value 'succeeded' at 'statusFilter' failed to satisfy constraint: \
         Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"
    );
    assert_eq!(api.error("ListExecutions", json!({})).await.0, "ValidationException");
}

#[tokio::test]
async fn task_requests_are_checked_against_the_model() {
    let api = Api::new();
    let (code, message) = api.error("SendTaskSuccess", json!({"output": "{}"})).await;
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "1 validation error detected: Value null at 'taskToken' failed to satisfy constraint: Member must not be null");
    let (code, message) = api.error("SendTaskSuccess", json!({"taskToken": "t", "output": "{oops"})).await;
    assert_eq!(code, "InvalidOutput");
    assert_eq!(message, "Invalid State Machine Output: 'Unexpected character ('o' (code 111)): was expecting double-quote to start field name'");
    let (code, _) = api.error("SendTaskFailure", json!({"taskToken": "t", "error": "e".repeat(257)})).await;
    assert_eq!(code, "ValidationException");
}

// --- executions through the runtime --------------------------------------------------------

fn three_passes() -> Value {
    json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": "a", "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Pass", "End": true},
    }})
}

async fn closed(api: &Api, execution_arn: &Value) -> Value {
    for _ in 0..500 {
        let described = api.ok("DescribeExecution", json!({"executionArn": execution_arn})).await;
        if described["status"] != "RUNNING" {
            return described;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{execution_arn} did not close");
}

#[tokio::test]
async fn an_execution_is_started_described_and_listed() {
    let api = Api::new();
    let arn = api.create("runs", &three_passes()).await;
    let started = api.ok("StartExecution", json!({"stateMachineArn": arn, "name": "first", "input": "{\"x\": 1}"})).await;
    let execution = format!("{PREFIX}execution:runs:first");
    assert_eq!(started["executionArn"], execution);
    assert!(started["startDate"].is_f64());
    let described = closed(&api, &started["executionArn"]).await;
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!((&described["input"], &described["output"]), (&json!("{\"x\": 1}"), &json!("{\"x\":1,\"a\":\"a\"}")));
    assert_eq!((&described["inputDetails"], &described["outputDetails"]), (&json!({"included": true}), &json!({"included": true})));
    assert_eq!((&described["startDate"], &described["stateMachineArn"]), (&started["startDate"], &json!(arn)));
    let metadata = api.ok("DescribeExecution", json!({"executionArn": execution, "includedData": "METADATA_ONLY"})).await;
    assert!(metadata.get("input").is_none() && metadata.get("output").is_none());

    api.ok("StartExecution", json!({"stateMachineArn": arn, "name": "second"})).await;
    let first_page = api.ok("ListExecutions", json!({"stateMachineArn": arn, "maxResults": 1})).await;
    assert_eq!(first_page["executions"].as_array().unwrap().len(), 1);
    let second_page = api.ok("ListExecutions", json!({"stateMachineArn": arn, "maxResults": 1, "nextToken": first_page["nextToken"]})).await;
    let mut names = [strings(&first_page["executions"], "name"), strings(&second_page["executions"], "name")].concat();
    names.sort();
    assert_eq!(names, ["first", "second"]);
    assert!(second_page.get("nextToken").is_none());
    let for_execution = api.ok("DescribeStateMachineForExecution", json!({"executionArn": execution})).await;
    assert_eq!((&for_execution["stateMachineArn"], &for_execution["name"]), (&json!(arn), &json!("runs")));
    assert_eq!(for_execution["definition"], three_passes().to_string());
    // An update does not change what an earlier execution ran.
    let updated = json!({"StartAt": "Only", "States": {"Only": {"Type": "Succeed"}}});
    api.ok("UpdateStateMachine", json!({"stateMachineArn": arn, "definition": updated.to_string()})).await;
    let after_update = api.ok("DescribeStateMachineForExecution", json!({"executionArn": execution})).await;
    assert_eq!(after_update["definition"], three_passes().to_string());
}

#[tokio::test]
async fn histories_are_paged_reversed_and_stripped_of_data() {
    let api = Api::new();
    let arn = api.create("history", &three_passes()).await;
    let execution = api.ok("StartExecution", json!({"stateMachineArn": arn, "input": "{\"secret\": true}"})).await["executionArn"].clone();
    closed(&api, &execution).await;
    let ids = |page: &Value| page["events"].as_array().unwrap().iter().map(|event| event["id"].as_i64().unwrap()).collect::<Vec<_>>();
    let first = api.ok("GetExecutionHistory", json!({"executionArn": execution, "maxResults": 3, "reverseOrder": true})).await;
    assert_eq!(ids(&first), [8, 7, 6]);
    let second = api.ok("GetExecutionHistory", json!({"executionArn": execution, "maxResults": 3, "reverseOrder": true, "nextToken": first["nextToken"]})).await;
    assert_eq!(ids(&second), [5, 4, 3]);
    let forward = api.error("GetExecutionHistory", json!({"executionArn": execution, "maxResults": 3, "nextToken": first["nextToken"]})).await;
    assert_eq!(forward.0, "InvalidToken");
    let stripped = api.ok("GetExecutionHistory", json!({"executionArn": execution, "includeExecutionData": false})).await;
    assert_eq!(ids(&stripped), (1..=8).collect::<Vec<_>>());
    assert!(stripped["events"][0]["executionStartedEventDetails"].get("input").is_none());
    assert!(stripped["events"][7]["executionSucceededEventDetails"].get("output").is_none());
}

#[tokio::test]
async fn a_synchronous_express_execution_answers_with_its_end_and_billing() {
    let api = Api::new();
    let body = json!({"name": "sync", "definition": three_passes().to_string(), "roleArn": ROLE, "type": "EXPRESS"});
    let arn = api.ok("CreateStateMachine", body).await["stateMachineArn"].clone();
    let answer = api.send(Some("AWSStepFunctions.StartSyncExecution"), "sync-localhost", &json!({"stateMachineArn": arn, "name": "now"}).to_string()).await;
    let ended = answer.body;
    assert_eq!((&ended["status"], &ended["name"], &ended["stateMachineArn"]), (&json!("SUCCEEDED"), &json!("now"), &arn));
    assert_eq!(ended["output"], "{\"a\":\"a\"}");
    assert!(ended["executionArn"].as_str().unwrap().starts_with(&format!("{PREFIX}express:sync:now:")));
    assert_eq!(ended["billingDetails"]["billedMemoryUsedInMB"], 64);
    assert!(ended["billingDetails"]["billedDurationInMilliseconds"].as_i64().unwrap() >= 100);
    assert!(ended["startDate"].is_f64() && ended["stopDate"].is_f64());
}

#[tokio::test]
async fn task_tokens_that_are_not_tokens_are_invalid() {
    let api = Api::new();
    for action in ["SendTaskHeartbeat", "SendTaskFailure"] {
        assert_eq!(api.error(action, json!({"taskToken": "not-a-token"})).await.0, "InvalidToken", "{action}");
    }
    assert_eq!(api.error("SendTaskSuccess", json!({"taskToken": "not-a-token", "output": "{}"})).await.0, "InvalidToken");
}

#[tokio::test]
async fn a_version_or_alias_lists_the_executions_started_through_it() {
    let api = Api::new();
    let body = json!({"name": "listed", "definition": pass().to_string(), "roleArn": ROLE, "publish": true});
    let arn = api.ok("CreateStateMachine", body).await["stateMachineArn"].as_str().unwrap().to_owned();
    let version = format!("{arn}:1");
    let alias = api.ok("CreateStateMachineAlias", json!({"name": "live", "routingConfiguration": [{"stateMachineVersionArn": version, "weight": 100}]})).await;
    let alias = alias["stateMachineAliasArn"].as_str().unwrap().to_owned();
    for (through, name) in [(&arn, "plain"), (&version, "versioned"), (&alias, "aliased")] {
        let started = api.ok("StartExecution", json!({"stateMachineArn": through, "name": name})).await;
        closed(&api, &started["executionArn"]).await;
    }
    let names = |listed: Value| {
        let mut names = strings(&listed["executions"], "name");
        names.sort();
        names
    };
    assert_eq!(names(api.ok("ListExecutions", json!({"stateMachineArn": arn})).await), ["aliased", "plain", "versioned"]);
    assert_eq!(names(api.ok("ListExecutions", json!({"stateMachineArn": version})).await), ["aliased", "versioned"]);
    assert_eq!(names(api.ok("ListExecutions", json!({"stateMachineArn": alias})).await), ["aliased"]);
    let redriven = api.ok("ListExecutions", json!({"stateMachineArn": arn, "redriveFilter": "REDRIVEN"})).await;
    assert_eq!(redriven["executions"], json!([]));
}

#[tokio::test]
async fn distributed_map_runs_and_their_child_executions_are_described_and_listed() {
    let api = Api::new();
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "Label": "Items", "MaxConcurrency": 3, "ToleratedFailureCount": 1, "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P", "States": {
            "P": {"Type": "Pass", "End": true}}}}}});
    let machine = api.create("dm", &definition).await;
    let execution = api.ok("StartExecution", json!({"stateMachineArn": machine, "input": "[1, 2]"})).await["executionArn"].as_str().unwrap().to_owned();
    let runs = api.ok("ListMapRuns", json!({"executionArn": execution})).await;
    let map_run = runs["mapRuns"][0]["mapRunArn"].as_str().unwrap().to_owned();
    assert!(map_run.starts_with(&format!("{PREFIX}mapRun:dm/Items:")), "{map_run}");
    assert_eq!(runs["mapRuns"][0]["stateMachineArn"], machine.as_str());
    let described = api.ok("DescribeMapRun", json!({"mapRunArn": map_run})).await;
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(described["executionArn"], execution.as_str());
    assert_eq!((described["maxConcurrency"].as_u64(), described["toleratedFailureCount"].as_u64()), (Some(3), Some(1)));
    assert_eq!(described["executionCounts"]["succeeded"], 2);
    assert_eq!(described["itemCounts"]["total"], 2);
    assert_eq!(described["itemCounts"]["resultsWritten"], 0);
    let children = api.ok("ListExecutions", json!({"mapRunArn": map_run})).await;
    assert_eq!(strings(&children["executions"], "mapRunArn"), [map_run.clone(), map_run.clone()]);
    let child = children["executions"][0]["executionArn"].as_str().unwrap().to_owned();
    assert!(child.starts_with(&format!("{PREFIX}execution:dm/Items:")), "{child}");
    let child_description = api.ok("DescribeExecution", json!({"executionArn": child})).await;
    assert_eq!((child_description["status"].as_str(), child_description["mapRunArn"].as_str()), (Some("SUCCEEDED"), Some(map_run.as_str())));
    assert_eq!(child_description["stateMachineArn"], format!("{machine}/Items"));
    let history = api.ok("GetExecutionHistory", json!({"executionArn": child})).await;
    assert_eq!(strings(&history["events"], "type"), ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
    assert_eq!(api.ok("UpdateMapRun", json!({"mapRunArn": map_run, "maxConcurrency": 1})).await, json!({}));
    let (code, message) = api.error("UpdateMapRun", json!({"mapRunArn": map_run, "toleratedFailurePercentage": 150.0})).await;
    assert_eq!(code, "ValidationException");
    assert!(message.contains("toleratedFailurePercentage"), "{message}");
    assert_eq!(api.ok("ListMapRuns", json!({"executionArn": child})).await, json!({"mapRuns": []}));
}
