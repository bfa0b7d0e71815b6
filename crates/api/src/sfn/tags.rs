//! TagResource, UntagResource, ListTagsForResource: of state machines and activities.

use super::{checked_arn, MAX_ARN_CHARS};
use crate::arn::{ACTIVITY, STATE_MACHINE};
use crate::constraints::Constraints;
use crate::error::ApiError;
use crate::ApiState;
use engine::catalog::Tag;
use serde::Deserialize;
use serde_json::{json, Value};

const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;
const TAGGABLE: &[&str] = &[STATE_MACHINE, ACTIVITY];

/// The constraints on a request's tags, e.g. `tags.1.member.key`.
pub(super) fn check_tags(constraints: &mut Constraints, tags: &[Tag]) {
    for (index, tag) in tags.iter().enumerate() {
        constraints
            .length(&format!("tags.{}.member.key", index + 1), Some(&tag.key), 1, MAX_KEY_CHARS)
            .length(&format!("tags.{}.member.value", index + 1), Some(&tag.value), 0, MAX_VALUE_CHARS);
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TagRequest {
    resource_arn: Option<String>,
    tags: Option<Vec<Tag>>,
}

pub async fn tag(state: &ApiState, request: TagRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("resourceArn", request.resource_arn.as_deref(), MAX_ARN_CHARS, TAGGABLE, |constraints| {
        constraints.required("tags", request.tags.as_ref());
        check_tags(constraints, request.tags.as_deref().unwrap_or_default());
    })?;
    state.catalog.tag_resource(arn, request.tags.unwrap_or_default()).await?;
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UntagRequest {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn untag(state: &ApiState, request: UntagRequest) -> Result<Value, ApiError> {
    let keys = request.tag_keys.as_deref();
    let arn = checked_arn("resourceArn", request.resource_arn.as_deref(), MAX_ARN_CHARS, TAGGABLE, |constraints| {
        constraints.required("tagKeys", keys);
        for (index, key) in keys.unwrap_or_default().iter().enumerate() {
            constraints.length(&format!("tagKeys.{}.member", index + 1), Some(key), 1, MAX_KEY_CHARS);
        }
    })?;
    state.catalog.untag_resource(arn, keys.unwrap_or_default()).await?;
    Ok(json!({}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListRequest {
    resource_arn: Option<String>,
}

pub fn list(state: &ApiState, request: ListRequest) -> Result<Value, ApiError> {
    let arn = checked_arn("resourceArn", request.resource_arn.as_deref(), MAX_ARN_CHARS, TAGGABLE, |_| {})?;
    Ok(json!({ "tags": state.catalog.tags(arn)? }))
}
