//! Step Functions' Batch integration: `arn:aws:states:::batch:submitJob[.sync]`. Parameters
//! come in Step Functions' PascalCase (JobName, ContainerOverrides.Command, ...); answers go back
//! the same way: SubmitJob's response, or with `.sync` the job as DescribeJobs has it once it
//! ends. A failed job fails the state with States.TaskFailed and the job as its cause.

use crate::job::Job;
use crate::model::JobStatus;
use crate::service::Batch;
use crate::submission::SubmitJobRequest;
use asl::interpreter::{Integration, Pattern, TaskRequest};
use asl::Failure;
use engine::{TaskContext, TaskDispatcher};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// How often a `.sync` task looks at its job.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Members whose keys are the user's own names, not API members.
const FREE_FORM_MEMBERS: &[&str] = &["Parameters", "Tags", "parameters", "tags"];

pub struct BatchTasks {
    batch: Arc<Batch>,
}

impl BatchTasks {
    pub fn new(batch: Arc<Batch>) -> BatchTasks {
        BatchTasks { batch }
    }

    fn wait_for_end(&self, job_id: &str, context: &TaskContext) -> Result<Job, Failure> {
        loop {
            let Some(job) = self.batch.job(job_id) else {
                return Err(Failure::new("States.TaskFailed", format!("Job {job_id} no longer exists")));
            };
            if job.detail.status.is_done() {
                return Ok(job);
            }
            if context.cancellation.is_cancelled() {
                let _ = self.batch.call("terminatejob", json!({ "jobId": job_id, "reason": "Terminated by AWS Step Functions" }));
                return Err(Failure::without_cause("States.Timeout"));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl TaskDispatcher for BatchTasks {
    fn run(&self, request: &TaskRequest, context: &TaskContext) -> Result<Value, Failure> {
        let Integration::Service { action, pattern, .. } = &request.integration else {
            return Err(unsupported(request));
        };
        // The action keeps its suffix (`submitJob.sync`); the pattern says which it is.
        if action.split('.').next() != Some("submitJob") || *pattern == Pattern::WaitForTaskToken {
            return Err(unsupported(request));
        }
        let submit: SubmitJobRequest = serde_json::from_value(camel_case(&request.parameters))
            .map_err(|error| Failure::new("States.Runtime", format!("The Parameters of batch:submitJob are not a SubmitJob request: {error}")))?;
        let submitted = self.batch.submit_job(submit).map_err(|error| Failure::new(format!("Batch.{}", error.code()), error.message().to_owned()))?;
        if *pattern == Pattern::RequestResponse {
            return Ok(json!({ "JobArn": submitted.job_arn, "JobId": submitted.job_id, "JobName": submitted.job_name }));
        }
        let job = self.wait_for_end(&submitted.job_id, context)?;
        let described = pascal_case(&json!(job.detail));
        match job.detail.status {
            JobStatus::Succeeded => Ok(described),
            _ => Err(Failure::new("States.TaskFailed", described.to_string())),
        }
    }
}

fn unsupported(request: &TaskRequest) -> Failure {
    Failure::new("States.Runtime", format!("Switchyard runs batch:submitJob and batch:submitJob.sync; not '{}'.", request.resource))
}

/// Keys as the Batch API spells them (`JobName` → `jobName`), except inside free-form maps.
fn camel_case(value: &Value) -> Value {
    recase(value, lower_first)
}

/// Keys as Step Functions answers them (`jobName` → `JobName`).
fn pascal_case(value: &Value) -> Value {
    recase(value, upper_first)
}

fn recase(value: &Value, rename: fn(&str) -> String) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, member)| {
                    let member = if FREE_FORM_MEMBERS.contains(&key.as_str()) { member.clone() } else { recase(member, rename) };
                    (rename(key), member)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| recase(item, rename)).collect()),
        other => other.clone(),
    }
}

fn lower_first(key: &str) -> String {
    let mut characters = key.chars();
    characters.next().map(|first| first.to_lowercase().chain(characters).collect()).unwrap_or_default()
}

fn upper_first(key: &str) -> String {
    let mut characters = key.chars();
    characters.next().map(|first| first.to_uppercase().chain(characters).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_recased_except_free_form_maps() {
        let parameters = json!({"JobName": "a", "ContainerOverrides": {"Command": ["x"], "Environment": [{"Name": "N", "Value": "V"}]}, "Parameters": {"Epochs": "3"}});
        assert_eq!(
            camel_case(&parameters),
            json!({"jobName": "a", "containerOverrides": {"command": ["x"], "environment": [{"name": "N", "value": "V"}]}, "parameters": {"Epochs": "3"}})
        );
        assert_eq!(pascal_case(&json!({"jobId": "1", "tags": {"team": "x"}})), json!({"JobId": "1", "Tags": {"team": "x"}}));
    }
}
