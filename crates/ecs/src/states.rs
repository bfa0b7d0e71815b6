//! The Step Functions integration `arn:aws:states:::ecs:runTask[.sync|.waitForTaskToken]`.
//!
//! Parameters come in the SDK's PascalCase (`Cluster`, `TaskDefinition`, `Overrides`...) and the
//! results go out the way Step Functions serializes ECS's answers: PascalCase members and
//! timestamps in epoch milliseconds. `.sync` waits for the task to stop; a task whose essential
//! container exited non-zero (or that never started) fails the state with `States.TaskFailed`
//! and the task as the cause.

use std::sync::Arc;

use asl::interpreter::{Integration, Pattern, TaskRequest};
use asl::Failure;
use engine::{TaskContext, TaskDispatcher};
use serde_json::{json, Map, Value};

use crate::{Ecs, EcsError};

/// Step Functions' reason when it stops a task whose execution no longer wants it.
const STOPPED_BY_STEP_FUNCTIONS: &str = "Task stopped by Step Functions";

pub struct EcsTasks {
    ecs: Arc<Ecs>,
}

impl EcsTasks {
    pub fn new(ecs: Arc<Ecs>) -> EcsTasks {
        EcsTasks { ecs }
    }
}

impl TaskDispatcher for EcsTasks {
    fn run(&self, request: &TaskRequest, context: &TaskContext) -> Result<Value, Failure> {
        let Integration::Service { action, pattern, .. } = &request.integration else {
            return Err(Failure::runtime(format!("'{}' is not an ECS integration", request.resource)));
        };
        // The action keeps its pattern's suffix (`runTask.sync`).
        if action.split('.').next() != Some("runTask") {
            return Err(Failure::runtime(format!("Switchyard's ECS integration supports runTask, not '{action}' ({})", request.resource)));
        }
        let mut parameters = recase(&request.parameters, Case::Camel);
        // A task dispatched again after a restart finds the task it started the first time.
        parameters["clientToken"] = format!("{}#{}#{}", context.execution_arn, request.action, request.attempt).into();
        let response = self.ecs.run_task(&parameters).map_err(service_failure)?;
        match pattern {
            Pattern::RequestResponse => Ok(sdk_response(&response)),
            Pattern::WaitForTaskToken => Ok(Value::Null),
            Pattern::Sync => self.wait(&response, context),
        }
    }
}

impl EcsTasks {
    /// Waits for every task of the response to stop; answers (or fails with) the first.
    fn wait(&self, response: &Value, context: &TaskContext) -> Result<Value, Failure> {
        let arns: Vec<&str> = response["tasks"].as_array().into_iter().flatten().filter_map(|task| task["taskArn"].as_str()).collect();
        let mut stopped = Vec::new();
        for arn in &arns {
            match self.ecs.wait_until_stopped(arn, &context.cancellation) {
                Some(task) => stopped.push(task),
                None => {
                    for arn in &arns {
                        let _ = self.ecs.stop_task(&json!({ "cluster": response["tasks"][0]["clusterArn"], "task": arn, "reason": STOPPED_BY_STEP_FUNCTIONS }));
                    }
                    return Err(Failure::without_cause("States.Timeout"));
                }
            }
        }
        if let Some(failed) = stopped.iter().find(|task| !succeeded(task)) {
            return Err(Failure::new("States.TaskFailed", recase(failed, Case::Pascal).to_string()));
        }
        Ok(stopped.first().map(|task| recase(task, Case::Pascal)).unwrap_or(Value::Null))
    }
}

/// Every essential container ended by itself with exit code 0.
fn succeeded(task: &Value) -> bool {
    task["stopCode"] == "EssentialContainerExited" && task["containers"].as_array().into_iter().flatten().all(|container| container["exitCode"] == 0)
}

/// RunTask's answer as the SDK returns it to Step Functions.
fn sdk_response(response: &Value) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut answer = recase(response, Case::Pascal);
    answer["SdkHttpMetadata"] = json!({
        "AllHttpHeaders": { "x-amzn-RequestId": [request_id], "Content-Type": ["application/x-amz-json-1.1"] },
        "HttpHeaders": { "Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id },
        "HttpStatusCode": 200
    });
    answer["SdkResponseMetadata"] = json!({ "RequestId": request_id });
    answer
}

/// An ECS error as the integration reports it.
fn service_failure(error: EcsError) -> Failure {
    let status = if error.is_server_error() { 500 } else { 400 };
    Failure::new(
        format!("ECS.{}", error.code),
        format!(
            "{} (Service: AmazonECS; Status Code: {status}; Error Code: {}; Request ID: {}; Proxy: null)",
            error.message,
            error.code,
            uuid::Uuid::new_v4()
        ),
    )
}

#[derive(Clone, Copy)]
enum Case {
    /// The wire's `taskArn`, timestamps in seconds.
    Camel,
    /// The SDK's `TaskArn`, timestamps in milliseconds.
    Pascal,
}

/// The same document with every member renamed to `case`; with [`Case::Pascal`], timestamps
/// (`...At` members) become epoch milliseconds.
fn recase(value: &Value, case: Case) -> Value {
    match value {
        Value::Object(fields) => {
            let mut renamed = Map::new();
            for (name, member) in fields {
                let member = match (case, member) {
                    (Case::Pascal, Value::Number(seconds)) if name.ends_with("At") => Value::from((seconds.as_f64().unwrap_or_default() * 1000.0).round() as i64),
                    _ => recase(member, case),
                };
                renamed.insert(rename(name, case), member);
            }
            Value::Object(renamed)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| recase(item, case)).collect()),
        other => other.clone(),
    }
}

fn rename(name: &str, case: Case) -> String {
    let mut characters = name.chars();
    match characters.next() {
        Some(first) => {
            let first = match case {
                Case::Camel => first.to_ascii_lowercase(),
                Case::Pascal => first.to_ascii_uppercase(),
            };
            std::iter::once(first).chain(characters).collect()
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_the_wire_shape_and_answers_the_sdk_shape() {
        let parameters = json!({ "TaskDefinition": "app", "Overrides": { "ContainerOverrides": [{ "Name": "c", "Command": ["x"] }] } });
        assert_eq!(recase(&parameters, Case::Camel), json!({ "taskDefinition": "app", "overrides": { "containerOverrides": [{ "name": "c", "command": ["x"] }] } }));
        let task = json!({ "taskArn": "t", "createdAt": 1.5, "containers": [{ "exitCode": 0 }] });
        assert_eq!(recase(&task, Case::Pascal), json!({ "TaskArn": "t", "CreatedAt": 1500, "Containers": [{ "ExitCode": 0 }] }));
    }

    #[test]
    fn a_task_succeeds_when_its_containers_exit_with_zero() {
        assert!(succeeded(&json!({ "stopCode": "EssentialContainerExited", "containers": [{ "exitCode": 0 }] })));
        assert!(!succeeded(&json!({ "stopCode": "EssentialContainerExited", "containers": [{ "exitCode": 1 }] })));
        assert!(!succeeded(&json!({ "stopCode": "TaskFailedToStart", "containers": [{}] })));
    }
}
