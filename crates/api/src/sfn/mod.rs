//! Step Functions: the 37 operations of AWS's model (AWSStepFunctions, JSON 1.0).
//!
//! Each operation checks its request in AWS's order: the model's constraints
//! (ValidationException), the ARN's syntax (InvalidArn), then what the catalog or runtime says.

mod activities;
mod executions;
mod map_runs;
mod state_machines;
mod tags;
mod tasks;
mod test_state;
mod validation;
mod versions;

use crate::constraints::Constraints;
use crate::error::ApiError;
use crate::pagination::Paging;
use crate::ApiState;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub async fn call(state: &ApiState, action: &str, body: &[u8]) -> Result<Value, ApiError> {
    match action {
        "CreateStateMachine" => state_machines::create(state, decode(body)?).await,
        "DescribeStateMachine" => state_machines::describe(state, decode(body)?),
        "ListStateMachines" => state_machines::list(state, decode(body)?),
        "UpdateStateMachine" => state_machines::update(state, decode(body)?).await,
        "DeleteStateMachine" => state_machines::delete(state, decode(body)?).await,
        "PublishStateMachineVersion" => versions::publish(state, decode(body)?).await,
        "ListStateMachineVersions" => versions::list(state, decode(body)?),
        "DeleteStateMachineVersion" => versions::delete(state, decode(body)?).await,
        "CreateStateMachineAlias" => versions::create_alias(state, decode(body)?).await,
        "DescribeStateMachineAlias" => versions::describe_alias(state, decode(body)?),
        "UpdateStateMachineAlias" => versions::update_alias(state, decode(body)?).await,
        "DeleteStateMachineAlias" => versions::delete_alias(state, decode(body)?).await,
        "ListStateMachineAliases" => versions::list_aliases(state, decode(body)?),
        "CreateActivity" => activities::create(state, decode(body)?).await,
        "DescribeActivity" => activities::describe(state, decode(body)?),
        "ListActivities" => activities::list(state, decode(body)?),
        "DeleteActivity" => activities::delete(state, decode(body)?).await,
        "TagResource" => tags::tag(state, decode(body)?).await,
        "UntagResource" => tags::untag(state, decode(body)?).await,
        "ListTagsForResource" => tags::list(state, decode(body)?),
        "StartExecution" => executions::start(state, decode(body)?).await,
        "StartSyncExecution" => executions::start_sync(state, decode(body)?).await,
        "StopExecution" => executions::stop(state, decode(body)?).await,
        "RedriveExecution" => executions::redrive(state, decode(body)?).await,
        "DescribeExecution" => executions::describe(state, decode(body)?),
        "DescribeStateMachineForExecution" => executions::describe_state_machine(state, decode(body)?),
        "ListExecutions" => executions::list(state, decode(body)?),
        "GetExecutionHistory" => executions::history(state, decode(body)?),
        "GetActivityTask" => tasks::get_activity_task(state, decode(body)?).await,
        "SendTaskSuccess" => tasks::send_success(state, decode(body)?).await,
        "SendTaskFailure" => tasks::send_failure(state, decode(body)?).await,
        "SendTaskHeartbeat" => tasks::send_heartbeat(state, decode(body)?).await,
        "ValidateStateMachineDefinition" => validation::validate(decode(body)?),
        "TestState" => test_state::test_state(state, decode(body)?).await,
        "DescribeMapRun" => map_runs::describe(state, decode(body)?),
        "ListMapRuns" => map_runs::list(state, decode(body)?),
        "UpdateMapRun" => map_runs::update(state, decode(body)?).await,
        _ => Err(ApiError::unknown_operation(&format!("AWSStepFunctions.{action}"))),
    }
}

/// A request's members; an empty body is an empty request, as AWS takes it.
fn decode<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|error| ApiError::serialization(error.to_string()))
}

/// Execution input and task output (SensitiveData): 256 KiB of UTF-8.
const MAX_PAYLOAD_BYTES: usize = 262_144;
const MAX_ARN_CHARS: usize = 256;
/// Map Run and version ARNs (LongArn).
const MAX_LONG_ARN_CHARS: usize = 2000;
const MAX_NAME_CHARS: usize = engine::catalog::MAX_NAME_CHARS;
const MAX_DESCRIPTION_CHARS: usize = 256;
const MAX_ERROR_CHARS: usize = 256;
const MAX_CAUSE_CHARS: usize = 32_768;
const MAX_PAGE_SIZE: i64 = 1000;
/// PageToken; ListExecutions' tokens may be longer.
const MAX_TOKEN_CHARS: usize = 1024;
const INCLUDED_DATA: &[&str] = &["ALL_DATA", "METADATA_ONLY"];

/// The members of a listing that takes nothing but a page size and a token.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PlainListRequest {
    max_results: Option<i64>,
    next_token: Option<String>,
}

impl PlainListRequest {
    /// Its paging, checked against the model's constraints.
    fn paging(&self) -> Result<Paging<'_>, ApiError> {
        let paging = Paging { max_results: self.max_results, next_token: self.next_token.as_deref() };
        let mut constraints = Constraints::new();
        check_paging(&mut constraints, paging, MAX_TOKEN_CHARS);
        constraints.check()?;
        Ok(paging)
    }
}

/// The model's constraints on maxResults and nextToken.
fn check_paging(constraints: &mut Constraints, paging: Paging, max_token_chars: usize) {
    constraints.range("maxResults", paging.max_results, 0, MAX_PAGE_SIZE).length("nextToken", paging.next_token, 1, max_token_chars);
}

/// Checks an ARN member's model constraints (and, through `more`, the rest of the request's),
/// then its syntax and resource type.
fn checked_arn<'a>(
    field: &str,
    value: Option<&'a str>,
    max_chars: usize,
    accepted: &[&str],
    more: impl FnOnce(&mut Constraints),
) -> Result<&'a str, ApiError> {
    let mut constraints = Constraints::new();
    constraints.required(field, value).length(field, value, 1, max_chars);
    more(&mut constraints);
    constraints.check()?;
    let arn = value.unwrap_or_default();
    crate::arn::check(arn, accepted)?;
    Ok(arn)
}

/// How AWS words a payload's JSON syntax error, if it has one.
fn json_syntax_error(payload: &str) -> Option<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(payload).err().map(|error| engine::catalog::json_syntax_message(payload, &error))
}

/// Timestamps travel as epoch seconds, with the milliseconds as fraction.
fn timestamp(epoch_ms: i64) -> Value {
    Value::from(epoch_ms as f64 / 1000.0)
}

/// An answer's members, the optional ones left out when absent.
#[derive(Default)]
struct Reply(Map<String, Value>);

impl Reply {
    fn new() -> Reply {
        Reply::default()
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Reply {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    fn with_some(self, key: &str, value: Option<impl Into<Value>>) -> Reply {
        match value {
            Some(value) => self.with(key, value),
            None => self,
        }
    }

    fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

impl From<Reply> for Value {
    fn from(reply: Reply) -> Value {
        reply.into_value()
    }
}
