//! CreateActivity, DescribeActivity, ListActivities, DeleteActivity.

use super::{checked_arn, tags, timestamp, PlainListRequest, Reply, MAX_ARN_CHARS, MAX_NAME_CHARS};
use crate::arn::ACTIVITY;
use crate::constraints::Constraints;
use crate::error::ApiError;
use crate::pagination::page;
use crate::ApiState;
use engine::catalog::Tag;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateRequest {
    name: Option<String>,
    tags: Option<Vec<Tag>>,
    encryption_configuration: Option<Value>,
}

pub async fn create(state: &ApiState, request: CreateRequest) -> Result<Value, ApiError> {
    let mut constraints = Constraints::new();
    constraints.required("name", request.name.as_deref()).length("name", request.name.as_deref(), 1, MAX_NAME_CHARS);
    tags::check_tags(&mut constraints, request.tags.as_deref().unwrap_or_default());
    constraints.check()?;
    let name = request.name.unwrap_or_default();
    let activity = state.catalog.create_activity(&name, request.tags.unwrap_or_default(), request.encryption_configuration).await?;
    Ok(json!({ "activityArn": activity.arn, "creationDate": timestamp(activity.creation_ms) }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityRequest {
    activity_arn: Option<String>,
}

impl ActivityRequest {
    fn checked_arn(&self) -> Result<&str, ApiError> {
        checked_arn("activityArn", self.activity_arn.as_deref(), MAX_ARN_CHARS, &[ACTIVITY], |_| {})
    }
}

pub fn describe(state: &ApiState, request: ActivityRequest) -> Result<Value, ApiError> {
    let activity = state.catalog.describe_activity(request.checked_arn()?)?;
    Ok(Reply::new()
        .with("activityArn", activity.arn)
        .with("name", activity.name)
        .with("creationDate", timestamp(activity.creation_ms))
        .with_some("encryptionConfiguration", activity.encryption)
        .into())
}

pub fn list(state: &ApiState, request: PlainListRequest) -> Result<Value, ApiError> {
    let paging = request.paging()?;
    let (activities, next_token) = page(state.catalog.list_activities(), paging, "ListActivities", |activity| activity.arn.clone())?;
    let activities: Vec<Value> = activities
        .into_iter()
        .map(|activity| json!({ "activityArn": activity.arn, "name": activity.name, "creationDate": timestamp(activity.creation_ms) }))
        .collect();
    Ok(Reply::new().with("activities", activities).with_some("nextToken", next_token).into())
}

pub async fn delete(state: &ApiState, request: ActivityRequest) -> Result<Value, ApiError> {
    state.catalog.delete_activity(request.checked_arn()?).await?;
    Ok(json!({}))
}
