//! RunTask, DescribeTasks, ListTasks, StopTask, and what a task's containers are made of.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use compute::containers::{ContainerSpec, StartedContainer};
use compute::Cancellation;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::clusters::exists;
use crate::definitions::{find, includes, required_string};
use crate::names::{cluster_name, new_task_id, now, task_id};
use crate::{document, supervisor, Ecs, EcsError, TASK_KIND};

/// Labels on every container of a task: how a restarted Switchyard finds the task again.
pub(crate) const TASK_LABEL: &str = "io.switchyard.ecs.task-arn";
pub(crate) const CONTAINER_LABEL: &str = "io.switchyard.ecs.container-name";
/// ECS's limit on RunTask's count.
const MAX_COUNT: u64 = 10;
/// How often a caller waiting for a task's end checks its cancellation.
const WAIT_INTERVAL: Duration = Duration::from_millis(50);

/// A task as it is stored: AWS's Task shape plus what running it takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The Task as DescribeTasks answers it.
    pub task: Value,
    pub client_token: Option<String>,
    /// One per container definition, in order.
    pub containers: Vec<PlannedContainer>,
    /// Containers started so far, by name.
    pub started: BTreeMap<String, StartedContainer>,
    /// StopTask's reason, once it was asked.
    pub stop_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedContainer {
    pub name: String,
    pub essential: bool,
    pub spec: ContainerSpec,
}

impl TaskRecord {
    pub fn is_stopped(&self) -> bool {
        self.task["lastStatus"] == "STOPPED"
    }

    pub(crate) fn arn(&self) -> &str {
        self.task["taskArn"].as_str().unwrap_or_default()
    }
}

impl Ecs {
    pub fn run_task(self: &Arc<Self>, request: &Value) -> Result<Value, EcsError> {
        let cluster = cluster_name(request.get("cluster").and_then(Value::as_str)).to_owned();
        let reference = required_string(request, "taskDefinition")?;
        let count = request.get("count").and_then(Value::as_u64).unwrap_or(1);
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(EcsError::invalid_parameter(format!("Count must be between 1 and {MAX_COUNT}.")));
        }
        let launch_type = request.get("launchType").and_then(Value::as_str).unwrap_or("EC2");
        if !["EC2", "FARGATE", "EXTERNAL"].contains(&launch_type) {
            return Err(EcsError::invalid_parameter(format!("Launch type {launch_type} is not supported.")));
        }
        let client_token = request.get("clientToken").and_then(Value::as_str).map(str::to_owned);
        let mut state = self.lock();
        if !exists(&state, &cluster) {
            return Err(EcsError::cluster_not_found());
        }
        if let Some(token) = &client_token {
            let earlier: Vec<Value> = state.tasks.values().filter(|record| record.client_token.as_ref() == Some(token)).map(|record| record.task.clone()).collect();
            if !earlier.is_empty() {
                return Ok(json!({ "tasks": earlier, "failures": [] }));
            }
        }
        let definition = find(&state, reference)?["taskDefinition"].clone();
        let overrides = request.get("overrides").cloned().unwrap_or_else(|| json!({}));
        check_overrides(&definition, &overrides)?;
        let records: Vec<TaskRecord> = (0..count).map(|_| self.new_task(&cluster, &definition, &overrides, request, launch_type, client_token.clone())).collect();
        let writes = records.iter().map(|record| document(TASK_KIND, record.arn(), record)).collect::<Result<Vec<_>, _>>()?;
        self.persist(writes)?;
        let tasks: Vec<Value> = records.iter().map(|record| record.task.clone()).collect();
        for record in records {
            let arn = record.arn().to_owned();
            let cancellation = Cancellation::new();
            state.running.insert(arn.clone(), cancellation.clone());
            state.tasks.insert(arn.clone(), record);
            supervisor::spawn(self.clone(), arn, cancellation, BTreeMap::new());
        }
        Ok(json!({ "tasks": tasks, "failures": [] }))
    }

    pub fn describe_tasks(&self, request: &Value) -> Result<Value, EcsError> {
        let cluster = cluster_name(request.get("cluster").and_then(Value::as_str)).to_owned();
        let Some(requested) = request.get("tasks").and_then(Value::as_array) else {
            return Err(EcsError::invalid_parameter("Tasks cannot be empty."));
        };
        let with_tags = includes(request, "TAGS");
        let state = self.lock();
        if !exists(&state, &cluster) {
            return Err(EcsError::cluster_not_found());
        }
        let (mut tasks, mut failures) = (Vec::new(), Vec::new());
        for reference in requested {
            let reference = reference.as_str().unwrap_or_default();
            let arn = self.region.task_arn(&cluster, task_id(reference));
            match state.tasks.get(&arn) {
                Some(record) => tasks.push(task_view(&record.task, with_tags)),
                None => failures.push(json!({ "arn": reference, "reason": "MISSING" })),
            }
        }
        Ok(json!({ "tasks": tasks, "failures": failures }))
    }

    pub fn list_tasks(&self, request: &Value) -> Result<Value, EcsError> {
        let cluster = cluster_name(request.get("cluster").and_then(Value::as_str)).to_owned();
        let text = |member: &str| request.get(member).and_then(Value::as_str);
        let desired = text("desiredStatus").unwrap_or("RUNNING");
        let state = self.lock();
        if !exists(&state, &cluster) {
            return Err(EcsError::cluster_not_found());
        }
        let cluster_arn = self.region.cluster_arn(&cluster);
        let arns = state
            .tasks
            .values()
            .map(|record| &record.task)
            .filter(|task| task["clusterArn"] == cluster_arn.as_str() && task["desiredStatus"] == desired)
            .filter(|task| text("family").is_none_or(|family| task["group"] == format!("family:{family}").as_str()))
            .filter(|task| text("startedBy").is_none_or(|started_by| task["startedBy"] == started_by))
            .filter(|task| text("launchType").is_none_or(|launch_type| task["launchType"] == launch_type))
            .map(|task| task["taskArn"].clone())
            .collect();
        page(arns, request, "taskArns")
    }

    pub fn stop_task(&self, request: &Value) -> Result<Value, EcsError> {
        let cluster = cluster_name(request.get("cluster").and_then(Value::as_str)).to_owned();
        let reference = required_string(request, "task")?;
        let reason = request.get("reason").and_then(Value::as_str).unwrap_or("Task stopped by user");
        let mut state = self.lock();
        if !exists(&state, &cluster) {
            return Err(EcsError::cluster_not_found());
        }
        let arn = self.region.task_arn(&cluster, task_id(reference));
        let Some(record) = state.tasks.get(&arn) else {
            return Err(EcsError::invalid_parameter("The referenced task was not found."));
        };
        if record.is_stopped() || record.stop_reason.is_some() {
            return Ok(json!({ "task": task_view(&record.task, false) }));
        }
        let mut record = record.clone();
        record.stop_reason = Some(reason.to_owned());
        record.task["desiredStatus"] = "STOPPED".into();
        record.task["stoppingAt"] = now();
        self.persist(vec![document(TASK_KIND, &arn, &record)?])?;
        let task = task_view(&record.task, false);
        state.tasks.insert(arn.clone(), record);
        if let Some(cancellation) = state.running.get(&arn) {
            cancellation.cancel();
        }
        self.changed.notify_all();
        Ok(json!({ "task": task }))
    }

    /// The stored record of a task.
    pub fn task(&self, arn: &str) -> Option<TaskRecord> {
        self.lock().tasks.get(arn).cloned()
    }

    /// Blocks until the task is STOPPED and answers its Task shape; `None` when the task is
    /// unknown or `cancellation` fired first.
    pub fn wait_until_stopped(&self, arn: &str, cancellation: &Cancellation) -> Option<Value> {
        let mut state = self.lock();
        loop {
            let record = state.tasks.get(arn)?;
            if record.is_stopped() {
                return Some(task_view(&record.task, false));
            }
            if cancellation.is_cancelled() {
                return None;
            }
            state = self.changed.wait_timeout(state, WAIT_INTERVAL).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
        }
    }

    fn new_task(&self, cluster: &str, definition: &Value, overrides: &Value, request: &Value, launch_type: &str, client_token: Option<String>) -> TaskRecord {
        let id = new_task_id();
        let task_arn = self.region.task_arn(cluster, &id);
        let container_overrides = overrides["containerOverrides"].as_array().cloned().unwrap_or_default();
        let override_of = |name: &str| container_overrides.iter().find(|item| item["name"] == name).cloned().unwrap_or_else(|| json!({}));
        let definitions = definition["containerDefinitions"].as_array().cloned().unwrap_or_default();
        let task_cpu = overrides["cpu"].as_str().or(definition["cpu"].as_str()).map(str::to_owned);
        let task_memory = overrides["memory"].as_str().or(definition["memory"].as_str()).map(str::to_owned);
        let single = definitions.len() == 1;
        let mut containers = Vec::new();
        let mut planned = Vec::new();
        for container in &definitions {
            let name = container["name"].as_str().unwrap_or_default().to_owned();
            let container_override = override_of(&name);
            let mut spec = container_spec(container, &container_override, single.then_some((task_cpu.as_deref(), task_memory.as_deref())));
            spec.labels.insert(TASK_LABEL.to_owned(), task_arn.clone());
            spec.labels.insert(CONTAINER_LABEL.to_owned(), name.clone());
            spec.log_file = Some(self.logs.join(cluster).join(&id).join(format!("{name}.log")));
            let mut shape = json!({
                "containerArn": self.region.container_arn(cluster, &id),
                "taskArn": task_arn,
                "name": name,
                "image": container["image"],
                "lastStatus": "PENDING",
                "networkInterfaces": [],
                "cpu": container_override["cpu"].as_u64().or(container["cpu"].as_u64()).unwrap_or(0).to_string(),
            });
            if let Some(memory) = container_override["memory"].as_u64().or(container["memory"].as_u64()) {
                shape["memory"] = memory.to_string().into();
            }
            containers.push(shape);
            planned.push(PlannedContainer { name, essential: container["essential"].as_bool().unwrap_or(true), spec });
        }
        let mut task = Map::new();
        task.insert("attachments".into(), json!([]));
        task.insert("attributes".into(), json!([{ "name": "ecs.cpu-architecture", "value": "x86_64" }]));
        task.insert("availabilityZone".into(), format!("{}a", self.region.region).into());
        task.insert("clusterArn".into(), self.region.cluster_arn(cluster).into());
        task.insert("containers".into(), Value::Array(containers));
        if let Some(cpu) = &task_cpu {
            task.insert("cpu".into(), cpu.clone().into());
        }
        task.insert("createdAt".into(), now());
        task.insert("desiredStatus".into(), "RUNNING".into());
        task.insert("enableExecuteCommand".into(), false.into());
        task.insert("group".into(), request.get("group").cloned().unwrap_or_else(|| format!("family:{}", definition["family"].as_str().unwrap_or_default()).into()));
        task.insert("lastStatus".into(), "PROVISIONING".into());
        task.insert("launchType".into(), launch_type.into());
        if let Some(memory) = &task_memory {
            task.insert("memory".into(), memory.clone().into());
        }
        task.insert("overrides".into(), task_overrides(overrides));
        if launch_type == "FARGATE" {
            task.insert("platformVersion".into(), "1.4.0".into());
            task.insert("platformFamily".into(), "Linux".into());
            task.insert("ephemeralStorage".into(), json!({ "sizeInGiB": 20 }));
        }
        if let Some(started_by) = request.get("startedBy") {
            task.insert("startedBy".into(), started_by.clone());
        }
        task.insert("tags".into(), request.get("tags").cloned().unwrap_or_else(|| json!([])));
        task.insert("taskArn".into(), task_arn.into());
        task.insert("taskDefinitionArn".into(), definition["taskDefinitionArn"].clone());
        task.insert("version".into(), 1.into());
        TaskRecord { task: Value::Object(task), client_token, containers: planned, started: BTreeMap::new(), stop_reason: None }
    }
}

/// The Task as answered: tags only when asked for.
pub(crate) fn task_view(task: &Value, with_tags: bool) -> Value {
    let mut view = task.clone();
    if !with_tags {
        if let Some(fields) = view.as_object_mut() {
            fields.remove("tags");
        }
    }
    view
}

/// The overrides as the Task echoes them.
fn task_overrides(overrides: &Value) -> Value {
    let mut echoed = overrides.clone();
    if let Some(fields) = echoed.as_object_mut() {
        fields.entry("containerOverrides").or_insert_with(|| json!([]));
        fields.entry("inferenceAcceleratorOverrides").or_insert_with(|| json!([]));
    }
    echoed
}

fn check_overrides(definition: &Value, overrides: &Value) -> Result<(), EcsError> {
    let names: Vec<&Value> = definition["containerDefinitions"].as_array().map(|containers| containers.iter().map(|container| &container["name"]).collect()).unwrap_or_default();
    for container_override in overrides["containerOverrides"].as_array().into_iter().flatten() {
        let name = &container_override["name"];
        if !names.contains(&name) {
            return Err(EcsError::invalid_parameter(format!(
                "Override for container named {} is not a container in the TaskDefinition.",
                name.as_str().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// A container definition with its override, as the runner takes it. `task_limits` (CPU units and
/// MiB, as strings) apply to the only container of a task whose container sets none.
fn container_spec(container: &Value, container_override: &Value, task_limits: Option<(Option<&str>, Option<&str>)>) -> ContainerSpec {
    let strings = |value: &Value| value.as_array().map(|items| items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect::<Vec<_>>());
    let mut environment: Vec<(String, String)> = Vec::new();
    for variable in container["environment"].as_array().into_iter().flatten().chain(container_override["environment"].as_array().into_iter().flatten()) {
        let (Some(name), Some(value)) = (variable["name"].as_str(), variable["value"].as_str()) else { continue };
        environment.retain(|(existing, _)| existing != name);
        environment.push((name.to_owned(), value.to_owned()));
    }
    let (task_cpu, task_memory) = task_limits.unwrap_or((None, None));
    let cpu_units = container_override["cpu"].as_u64().or(container["cpu"].as_u64()).filter(|units| *units > 0).or_else(|| task_cpu.and_then(|cpu| cpu.parse().ok()));
    let memory = container_override["memory"]
        .as_u64()
        .or(container["memory"].as_u64())
        .or_else(|| task_memory.and_then(|memory| memory.parse().ok()))
        .or(container_override["memoryReservation"].as_u64())
        .or(container["memoryReservation"].as_u64());
    let labels = container["dockerLabels"].as_object().map(|labels| labels.iter().filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned()))).collect()).unwrap_or_default();
    ContainerSpec {
        image: container["image"].as_str().unwrap_or_default().to_owned(),
        command: strings(&container_override["command"]).or_else(|| strings(&container["command"])).unwrap_or_default(),
        entrypoint: strings(&container["entryPoint"]),
        environment,
        vcpus: cpu_units.map(|units| units as f64 / 1024.0),
        memory_mib: memory,
        working_dir: container["workingDirectory"].as_str().map(str::to_owned),
        labels,
        timeout: None,
        log_file: None,
    }
}

/// One page of `items` under `member`, with `nextToken` when more follow (`maxResults`, default 100).
pub(crate) fn page(items: Vec<Value>, request: &Value, member: &str) -> Result<Value, EcsError> {
    let start = match request.get("nextToken").and_then(Value::as_str) {
        Some(token) => token.parse::<usize>().map_err(|_| EcsError::invalid_parameter("Invalid token"))?,
        None => 0,
    };
    let size = request.get("maxResults").and_then(Value::as_u64).unwrap_or(100).clamp(1, 100) as usize;
    let end = (start + size).min(items.len());
    let mut answer = Map::new();
    answer.insert(member.to_owned(), Value::Array(items.get(start.min(end)..end).map(<[Value]>::to_vec).unwrap_or_default()));
    if end < items.len() {
        answer.insert("nextToken".into(), end.to_string().into());
    }
    Ok(Value::Object(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_command_and_add_environment() {
        let container = json!({
            "name": "app", "image": "busybox", "command": ["a"], "cpu": 0, "memory": 256,
            "environment": [{ "name": "A", "value": "1" }, { "name": "B", "value": "2" }]
        });
        let container_override = json!({ "name": "app", "command": ["b"], "environment": [{ "name": "B", "value": "3" }], "cpu": 512 });
        let spec = container_spec(&container, &container_override, Some((Some("1024"), Some("2048"))));
        assert_eq!(spec.command, ["b"]);
        assert_eq!(spec.environment, [("A".to_owned(), "1".to_owned()), ("B".to_owned(), "3".to_owned())]);
        assert_eq!((spec.vcpus, spec.memory_mib), (Some(0.5), Some(256)));
    }

    #[test]
    fn the_task_limits_apply_to_a_container_without_its_own() {
        let spec = container_spec(&json!({ "name": "app", "image": "busybox", "cpu": 0 }), &json!({}), Some((Some("256"), Some("512"))));
        assert_eq!((spec.vcpus, spec.memory_mib), (Some(0.25), Some(512)));
    }

    #[test]
    fn pages_carry_a_token_while_more_follow() {
        let items: Vec<Value> = (0..3).map(Value::from).collect();
        let first = page(items.clone(), &json!({ "maxResults": 2 }), "arns").unwrap_or_default();
        assert_eq!(first, json!({ "arns": [0, 1], "nextToken": "2" }));
        assert_eq!(page(items, &json!({ "nextToken": "2" }), "arns").unwrap_or_default(), json!({ "arns": [2] }));
    }
}
