//! CreateStateMachine, DescribeStateMachine, ListStateMachines, UpdateStateMachine,
//! DeleteStateMachine.

use super::{checked_arn, tags, timestamp, PlainListRequest, Reply, INCLUDED_DATA, MAX_ARN_CHARS, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};
use crate::arn::{self, STATE_MACHINE};
use crate::constraints::Constraints;
use crate::error::ApiError;
use crate::pagination::page;
use crate::ApiState;
use engine::catalog::{LoggingConfiguration, MachineType, NewStateMachine, Revision, StateMachineDescription, StateMachineUpdate, Tag, TracingConfiguration};
use serde::Deserialize;
use serde_json::{json, Value};

const MAX_DEFINITION_CHARS: usize = 1_048_576;
const MACHINE_TYPES: &[&str] = &["STANDARD", "EXPRESS"];
const LOG_LEVELS: &[&str] = &["ALL", "ERROR", "FATAL", "OFF"];

/// The constraints shared by CreateStateMachine and UpdateStateMachine.
fn check_configuration(
    constraints: &mut Constraints,
    definition: Option<&str>,
    role_arn: Option<&str>,
    logging: Option<&LoggingConfiguration>,
    version_description: Option<&str>,
) {
    constraints
        .sensitive_length("definition", definition, 1, MAX_DEFINITION_CHARS)
        .length("roleArn", role_arn, 1, MAX_ARN_CHARS)
        .one_of("loggingConfiguration.level", logging.map(|logging| logging.level.as_str()), LOG_LEVELS)
        .sensitive_length("versionDescription", version_description, 0, MAX_DESCRIPTION_CHARS);
}

fn check_role(role_arn: Option<&str>) -> Result<(), ApiError> {
    role_arn.map_or(Ok(()), arn::check_foreign)
}

/// The members that describe a revision, shared with DescribeStateMachineForExecution.
pub(super) fn with_revision(reply: Reply, revision: &Revision, with_definition: bool) -> Reply {
    reply
        .with_some("definition", with_definition.then(|| revision.definition.clone()))
        .with("roleArn", revision.role_arn.clone())
        .with("loggingConfiguration", serde_json::to_value(&revision.logging).unwrap_or(Value::Null))
        .with("tracingConfiguration", json!({ "enabled": revision.tracing.enabled }))
        .with("revisionId", revision.revision_id.clone())
        .with_some("encryptionConfiguration", revision.encryption.clone())
}

fn description(described: StateMachineDescription, with_definition: bool) -> Value {
    let reply = Reply::new()
        .with("stateMachineArn", described.arn)
        .with("name", described.name)
        .with("status", "ACTIVE")
        .with("type", described.machine_type.as_str())
        .with("creationDate", timestamp(described.creation_ms))
        .with_some("description", described.description);
    with_revision(reply, &described.revision, with_definition).into()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateRequest {
    name: Option<String>,
    definition: Option<String>,
    role_arn: Option<String>,
    #[serde(rename = "type")]
    machine_type: Option<String>,
    logging_configuration: Option<LoggingConfiguration>,
    tracing_configuration: Option<TracingConfiguration>,
    encryption_configuration: Option<Value>,
    tags: Option<Vec<Tag>>,
    publish: Option<bool>,
    version_description: Option<String>,
}

pub async fn create(state: &ApiState, request: CreateRequest) -> Result<Value, ApiError> {
    let mut constraints = Constraints::new();
    constraints
        .required("name", request.name.as_deref())
        .length("name", request.name.as_deref(), 1, MAX_NAME_CHARS)
        .required("definition", request.definition.as_deref())
        .required("roleArn", request.role_arn.as_deref())
        .one_of("type", request.machine_type.as_deref(), MACHINE_TYPES);
    check_configuration(
        &mut constraints,
        request.definition.as_deref(),
        request.role_arn.as_deref(),
        request.logging_configuration.as_ref(),
        request.version_description.as_deref(),
    );
    tags::check_tags(&mut constraints, request.tags.as_deref().unwrap_or_default());
    constraints.check()?;
    check_role(request.role_arn.as_deref())?;
    let created = state
        .catalog
        .create_state_machine(NewStateMachine {
            name: request.name.unwrap_or_default(),
            definition: request.definition.unwrap_or_default(),
            role_arn: request.role_arn.unwrap_or_default(),
            machine_type: request.machine_type.as_deref().and_then(MachineType::parse).unwrap_or(MachineType::Standard),
            logging: request.logging_configuration.unwrap_or_default(),
            tracing: request.tracing_configuration.unwrap_or_default(),
            encryption: request.encryption_configuration,
            tags: request.tags.unwrap_or_default(),
            publish: request.publish.unwrap_or(false),
            version_description: request.version_description,
        })
        .await?;
    Ok(Reply::new()
        .with("stateMachineArn", created.arn)
        .with("creationDate", timestamp(created.creation_ms))
        .with_some("stateMachineVersionArn", created.version_arn)
        .into())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeRequest {
    state_machine_arn: Option<String>,
    included_data: Option<String>,
}

pub fn describe(state: &ApiState, request: DescribeRequest) -> Result<Value, ApiError> {
    let included_data = request.included_data.as_deref();
    let arn = checked_arn("stateMachineArn", request.state_machine_arn.as_deref(), MAX_ARN_CHARS, &[STATE_MACHINE], |constraints| {
        constraints.one_of("includedData", included_data, INCLUDED_DATA);
    })?;
    Ok(description(state.catalog.describe_state_machine(arn)?, included_data != Some("METADATA_ONLY")))
}

pub fn list(state: &ApiState, request: PlainListRequest) -> Result<Value, ApiError> {
    let paging = request.paging()?;
    let (machines, next_token) = page(state.catalog.list_state_machines(), paging, "ListStateMachines", |machine| machine.arn.clone())?;
    let machines: Vec<Value> = machines
        .into_iter()
        .map(|machine| {
            json!({
                "stateMachineArn": machine.arn,
                "name": machine.name,
                "type": machine.machine_type.as_str(),
                "creationDate": timestamp(machine.creation_ms),
            })
        })
        .collect();
    Ok(Reply::new().with("stateMachines", machines).with_some("nextToken", next_token).into())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateRequest {
    state_machine_arn: Option<String>,
    definition: Option<String>,
    role_arn: Option<String>,
    logging_configuration: Option<LoggingConfiguration>,
    tracing_configuration: Option<TracingConfiguration>,
    publish: Option<bool>,
    version_description: Option<String>,
    encryption_configuration: Option<Value>,
}

pub async fn update(state: &ApiState, request: UpdateRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("stateMachineArn", request.state_machine_arn.as_deref(), MAX_ARN_CHARS, &[STATE_MACHINE], |constraints| {
        check_configuration(
            constraints,
            request.definition.as_deref(),
            request.role_arn.as_deref(),
            request.logging_configuration.as_ref(),
            request.version_description.as_deref(),
        )
    })?;
    check_role(request.role_arn.as_deref())?;
    let update = StateMachineUpdate {
        definition: request.definition,
        role_arn: request.role_arn,
        logging: request.logging_configuration,
        tracing: request.tracing_configuration,
        encryption: request.encryption_configuration,
        publish: request.publish.unwrap_or(false),
        version_description: request.version_description,
    };
    let updated = state.catalog.update_state_machine(arn, update).await?;
    Ok(Reply::new()
        .with("updateDate", timestamp(updated.update_ms))
        .with("revisionId", updated.revision_id)
        .with_some("stateMachineVersionArn", updated.version_arn)
        .into())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DeleteRequest {
    state_machine_arn: Option<String>,
}

pub async fn delete(state: &ApiState, request: DeleteRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("stateMachineArn", request.state_machine_arn.as_deref(), MAX_ARN_CHARS, &[STATE_MACHINE], |_| {})?;
    state.catalog.delete_state_machine(arn).await?;
    Ok(json!({}))
}
