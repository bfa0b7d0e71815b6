//! RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions, DeregisterTaskDefinition.

use serde_json::{json, Map, Value};

use crate::names::{definition_reference, now};
use crate::{document, Ecs, EcsError, Registry, DEFINITION_KIND};

/// Members of RegisterTaskDefinition's request that the TaskDefinition keeps as they are.
const KEPT_MEMBERS: [&str; 12] = [
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "runtimePlatform",
];

impl Ecs {
    pub fn register_task_definition(&self, request: &Value) -> Result<Value, EcsError> {
        let family = required_string(request, "family")?;
        if family.is_empty() || family.len() > 255 || !family.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(EcsError::client(
                "Family contains invalid characters or is too long. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.",
            ));
        }
        let containers = match request.get("containerDefinitions") {
            Some(Value::Array(containers)) if !containers.is_empty() => containers.iter().map(container_definition).collect::<Result<Vec<_>, _>>()?,
            _ => return Err(EcsError::client("Container list cannot be empty.")),
        };
        let mut definition = Map::new();
        for member in KEPT_MEMBERS {
            if let Some(value) = request.get(member) {
                definition.insert(member.to_owned(), value.clone());
            }
        }
        definition.insert("containerDefinitions".into(), Value::Array(containers));
        definition.entry("volumes").or_insert_with(|| json!([]));
        definition.entry("placementConstraints").or_insert_with(|| json!([]));
        definition.insert("status".into(), "ACTIVE".into());
        definition.insert("requiresAttributes".into(), json!([]));
        definition.insert("compatibilities".into(), json!(["EC2", "FARGATE"]));
        definition.insert("registeredAt".into(), now());
        definition.insert("registeredBy".into(), format!("arn:aws:iam::{}:root", self.region.account).into());
        let tags = request.get("tags").cloned().unwrap_or_else(|| json!([]));
        let mut state = self.lock();
        let revision = state.definitions.get(family).and_then(|revisions| revisions.keys().next_back()).copied().unwrap_or(0) + 1;
        let arn = self.region.definition_arn(family, revision);
        let mut ordered = Map::new();
        ordered.insert("taskDefinitionArn".into(), arn.clone().into());
        ordered.insert("revision".into(), revision.into());
        ordered.extend(definition);
        let stored = json!({ "taskDefinition": ordered, "tags": tags });
        self.persist(vec![document(DEFINITION_KIND, &arn, &stored)?])?;
        state.definitions.entry(family.to_owned()).or_default().insert(revision, stored.clone());
        Ok(answer(&stored, true))
    }

    pub fn describe_task_definition(&self, request: &Value) -> Result<Value, EcsError> {
        let reference = required_string(request, "taskDefinition")?;
        let include_tags = includes(request, "TAGS");
        let state = self.lock();
        Ok(answer(find(&state, reference)?, include_tags))
    }

    pub fn list_task_definitions(&self, request: &Value) -> Result<Value, EcsError> {
        let prefix = request.get("familyPrefix").and_then(Value::as_str).unwrap_or_default();
        let status = request.get("status").and_then(Value::as_str).unwrap_or("ACTIVE");
        let state = self.lock();
        let mut arns: Vec<Value> = state
            .definitions
            .iter()
            .filter(|(family, _)| family.starts_with(prefix))
            .flat_map(|(_, revisions)| revisions.values())
            .map(|stored| &stored["taskDefinition"])
            .filter(|definition| status == "ALL" || definition["status"] == status)
            .map(|definition| definition["taskDefinitionArn"].clone())
            .collect();
        if request.get("sort").and_then(Value::as_str) == Some("DESC") {
            arns.reverse();
        }
        crate::tasks::page(arns, request, "taskDefinitionArns")
    }

    pub fn deregister_task_definition(&self, request: &Value) -> Result<Value, EcsError> {
        let reference = required_string(request, "taskDefinition")?;
        if definition_reference(reference).1.is_none() {
            return Err(EcsError::client("Invalid revision number. Number: "));
        }
        let mut state = self.lock();
        let mut stored = find(&state, reference)?.clone();
        stored["taskDefinition"]["status"] = "INACTIVE".into();
        stored["taskDefinition"]["deregisteredAt"] = now();
        let arn = stored["taskDefinition"]["taskDefinitionArn"].as_str().unwrap_or_default().to_owned();
        self.persist(vec![document(DEFINITION_KIND, &arn, &stored)?])?;
        let family = stored["taskDefinition"]["family"].as_str().unwrap_or_default().to_owned();
        let revision = stored["taskDefinition"]["revision"].as_u64().unwrap_or_default();
        state.definitions.entry(family).or_default().insert(revision, stored.clone());
        Ok(json!({ "taskDefinition": stored["taskDefinition"] }))
    }
}

/// The stored `{taskDefinition, tags}` a reference names: `family` is its latest ACTIVE revision.
pub(crate) fn find<'a>(state: &'a Registry, reference: &str) -> Result<&'a Value, EcsError> {
    let (family, revision) = definition_reference(reference);
    let revisions = state.definitions.get(family);
    let found = match revision {
        Some(revision) => {
            let revision: u64 = revision.parse().map_err(|_| EcsError::client(format!("Invalid revision number. Number: {revision}")))?;
            revisions.and_then(|revisions| revisions.get(&revision))
        }
        None => revisions.and_then(|revisions| revisions.values().rev().find(|stored| stored["taskDefinition"]["status"] == "ACTIVE")),
    };
    found.ok_or_else(|| EcsError::client("Unable to describe task definition."))
}

fn answer(stored: &Value, with_tags: bool) -> Value {
    let mut answer = json!({ "taskDefinition": stored["taskDefinition"] });
    if with_tags {
        answer["tags"] = stored["tags"].clone();
    }
    answer
}

/// A container definition with the defaults ECS fills in.
fn container_definition(container: &Value) -> Result<Value, EcsError> {
    let Value::Object(fields) = container else {
        return Err(EcsError::client("Container definition must be an object."));
    };
    if fields.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(EcsError::client("Container.name should not be null or empty."));
    }
    if fields.get("image").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(EcsError::client("Container.image should not be null or empty."));
    }
    let mut filled = fields.clone();
    for (member, default) in [("cpu", json!(0)), ("portMappings", json!([])), ("essential", json!(true)), ("environment", json!([])), ("mountPoints", json!([])), ("volumesFrom", json!([]))] {
        filled.entry(member).or_insert(default);
    }
    Ok(Value::Object(filled))
}

pub(crate) fn required_string<'a>(request: &'a Value, member: &str) -> Result<&'a str, EcsError> {
    request.get(member).and_then(Value::as_str).ok_or_else(|| EcsError::invalid_parameter(format!("{member} can not be blank.")))
}

pub(crate) fn includes(request: &Value, option: &str) -> bool {
    request.get("include").and_then(Value::as_array).is_some_and(|include| include.iter().any(|item| item == option))
}
