//! Versions (PublishStateMachineVersion, ListStateMachineVersions, DeleteStateMachineVersion) and
//! aliases (Create/Describe/Update/Delete StateMachineAlias, ListStateMachineAliases).

use super::{check_paging, checked_arn, timestamp, Reply, MAX_ARN_CHARS, MAX_DESCRIPTION_CHARS, MAX_LONG_ARN_CHARS, MAX_NAME_CHARS, MAX_TOKEN_CHARS};
use crate::arn::{self, STATE_MACHINE};
use crate::constraints::Constraints;
use crate::error::ApiError;
use crate::pagination::{page, Paging};
use crate::ApiState;
use engine::catalog::{is_valid_alias_name, Alias, Route, ALIAS_NAME_PATTERN};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PublishRequest {
    state_machine_arn: Option<String>,
    revision_id: Option<String>,
    description: Option<String>,
}

pub async fn publish(state: &ApiState, request: PublishRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("stateMachineArn", request.state_machine_arn.as_deref(), MAX_ARN_CHARS, &[STATE_MACHINE], |constraints| {
        constraints.sensitive_length("description", request.description.as_deref(), 0, MAX_DESCRIPTION_CHARS);
    })?;
    let version = state.catalog.publish_version(arn, request.revision_id.as_deref(), request.description).await?;
    Ok(json!({ "creationDate": timestamp(version.creation_ms), "stateMachineVersionArn": version.arn }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListRequest {
    state_machine_arn: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

impl ListRequest {
    fn paging(&self) -> Paging<'_> {
        Paging { max_results: self.max_results, next_token: self.next_token.as_deref() }
    }

    fn checked_arn(&self) -> Result<&str, ApiError> {
        checked_arn("stateMachineArn", self.state_machine_arn.as_deref(), MAX_ARN_CHARS, &[STATE_MACHINE], |constraints| {
            check_paging(constraints, self.paging(), MAX_TOKEN_CHARS)
        })
    }
}

pub fn list(state: &ApiState, request: ListRequest) -> Result<Value, ApiError> {
    let arn = request.checked_arn()?;
    let listing = format!("ListStateMachineVersions {arn}");
    let (versions, next_token) = page(state.catalog.list_versions(arn), request.paging(), &listing, |version| version.arn.clone())?;
    let versions: Vec<Value> = versions
        .into_iter()
        .map(|version| json!({ "stateMachineVersionArn": version.arn, "creationDate": timestamp(version.creation_ms) }))
        .collect();
    Ok(Reply::new().with("stateMachineVersions", versions).with_some("nextToken", next_token).into())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DeleteRequest {
    state_machine_version_arn: Option<String>,
}

pub async fn delete(state: &ApiState, request: DeleteRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("stateMachineVersionArn", request.state_machine_version_arn.as_deref(), MAX_LONG_ARN_CHARS, &[STATE_MACHINE], |_| {})?;
    state.catalog.delete_version(arn).await?;
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteInput {
    state_machine_version_arn: Option<String>,
    weight: Option<i64>,
}

const MAX_WEIGHT: i64 = 100;
const MAX_ROUTES: usize = 2;

/// The routing configuration's constraints; AWS quotes a list of the wrong length as Java prints it.
fn check_routing(constraints: &mut Constraints, routing: Option<&[RouteInput]>) {
    let Some(routing) = routing else { return };
    constraints.count("routingConfiguration", routing.len(), 1, MAX_ROUTES, || {
        let items: Vec<String> = routing
            .iter()
            .map(|route| {
                let arn = route.state_machine_version_arn.as_deref().unwrap_or("null");
                let weight = route.weight.map_or("null".to_owned(), |weight| weight.to_string());
                format!("RoutingConfigurationListItem(stateMachineVersionArn={arn}, weight={weight})")
            })
            .collect();
        format!("[{}]", items.join(", "))
    });
    for (index, route) in routing.iter().enumerate() {
        let member = |name: &str| format!("routingConfiguration.{}.member.{name}", index + 1);
        constraints
            .required(&member("stateMachineVersionArn"), route.state_machine_version_arn.as_deref())
            .length(&member("stateMachineVersionArn"), route.state_machine_version_arn.as_deref(), 1, MAX_ARN_CHARS)
            .required(&member("weight"), route.weight.as_ref())
            .range(&member("weight"), route.weight, 0, MAX_WEIGHT);
    }
}

/// The routes of a request whose constraints hold, their ARNs checked.
fn routes(routing: Vec<RouteInput>) -> Result<Vec<Route>, ApiError> {
    routing
        .into_iter()
        .map(|route| {
            let arn = route.state_machine_version_arn.unwrap_or_default();
            arn::check(&arn, &[STATE_MACHINE])?;
            let weight = route.weight.and_then(|weight| u32::try_from(weight).ok()).unwrap_or_default();
            Ok(Route { state_machine_version_arn: arn, weight })
        })
        .collect()
}

fn routing_value(routing: &[Route]) -> Value {
    serde_json::to_value(routing).unwrap_or(Value::Null)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateAliasRequest {
    description: Option<String>,
    name: Option<String>,
    routing_configuration: Option<Vec<RouteInput>>,
}

pub async fn create_alias(state: &ApiState, request: CreateAliasRequest) -> Result<Value, ApiError> {
    let name = request.name.as_deref();
    let mut constraints = Constraints::new();
    constraints
        .sensitive_length("description", request.description.as_deref(), 0, MAX_DESCRIPTION_CHARS)
        .required("name", name)
        .length("name", name, 1, MAX_NAME_CHARS)
        .pattern("name", name.filter(|name| name.len() <= MAX_NAME_CHARS), is_valid_alias_name, ALIAS_NAME_PATTERN)
        .required("routingConfiguration", request.routing_configuration.as_ref());
    check_routing(&mut constraints, request.routing_configuration.as_deref());
    constraints.check()?;
    let routing = routes(request.routing_configuration.unwrap_or_default())?;
    let alias = state.catalog.create_alias(name.unwrap_or_default(), request.description, routing).await?;
    Ok(json!({ "stateMachineAliasArn": alias.arn, "creationDate": timestamp(alias.creation_ms) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AliasRequest {
    state_machine_alias_arn: Option<String>,
}

fn alias_arn(arn: Option<&str>, more: impl FnOnce(&mut Constraints)) -> Result<&str, ApiError> {
    checked_arn("stateMachineAliasArn", arn, MAX_ARN_CHARS, &[STATE_MACHINE], more)
}

pub fn describe_alias(state: &ApiState, request: AliasRequest) -> Result<Value, ApiError> {
    let alias: Alias = state.catalog.describe_alias(alias_arn(request.state_machine_alias_arn.as_deref(), |_| {})?)?;
    Ok(Reply::new()
        .with("stateMachineAliasArn", alias.arn)
        .with("name", alias.name)
        .with_some("description", alias.description)
        .with("routingConfiguration", routing_value(&alias.routing))
        .with("creationDate", timestamp(alias.creation_ms))
        .with("updateDate", timestamp(alias.update_ms))
        .into())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateAliasRequest {
    state_machine_alias_arn: Option<String>,
    description: Option<String>,
    routing_configuration: Option<Vec<RouteInput>>,
}

pub async fn update_alias(state: &ApiState, request: UpdateAliasRequest) -> Result<Value, ApiError> {
    let arn = alias_arn(request.state_machine_alias_arn.as_deref(), |constraints| {
        constraints.sensitive_length("description", request.description.as_deref(), 0, MAX_DESCRIPTION_CHARS);
        check_routing(constraints, request.routing_configuration.as_deref());
    })?;
    let routing = request.routing_configuration.map(routes).transpose()?;
    let update_ms = state.catalog.update_alias(arn, request.description, routing).await?;
    Ok(json!({ "updateDate": timestamp(update_ms) }))
}

pub async fn delete_alias(state: &ApiState, request: AliasRequest) -> Result<Value, ApiError> {
    state.catalog.delete_alias(alias_arn(request.state_machine_alias_arn.as_deref(), |_| {})?).await?;
    Ok(json!({}))
}

pub fn list_aliases(state: &ApiState, request: ListRequest) -> Result<Value, ApiError> {
    let arn = request.checked_arn()?;
    let listing = format!("ListStateMachineAliases {arn}");
    let (aliases, next_token) = page(state.catalog.list_aliases(arn)?, request.paging(), &listing, |alias| alias.arn.clone())?;
    let aliases: Vec<Value> =
        aliases.into_iter().map(|alias| json!({ "stateMachineAliasArn": alias.arn, "creationDate": timestamp(alias.creation_ms) })).collect();
    Ok(Reply::new().with("stateMachineAliases", aliases).with_some("nextToken", next_token).into())
}
