//! SubmitJob, pure: a job definition plus the request's overrides and parameters become the
//! job (and, for an array job, its children) as the scheduler takes them.

use crate::error::{BatchError, BatchResult};
use crate::job::{Demand, Job, JobRun};
use crate::model::{
    ArrayPropertiesDetail, ContainerDetail, ContainerOverrides, JobDefinition, JobDependency, JobDetail, JobStatus, JobTimeout, KeyValuePair, Parameters,
    ResourceRequirement, RetryStrategy, Tags,
};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitJobRequest {
    pub job_name: String,
    pub job_queue: String,
    pub job_definition: String,
    #[serde(default)]
    pub array_properties: Option<ArrayProperties>,
    #[serde(default)]
    pub depends_on: Vec<JobDependency>,
    #[serde(default)]
    pub parameters: Parameters,
    #[serde(default)]
    pub container_overrides: Option<ContainerOverrides>,
    #[serde(default)]
    pub retry_strategy: Option<RetryStrategy>,
    #[serde(default)]
    pub propagate_tags: Option<bool>,
    #[serde(default)]
    pub timeout: Option<JobTimeout>,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub share_identifier: Option<String>,
    #[serde(default)]
    pub scheduling_priority_override: Option<i32>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct ArrayProperties {
    pub size: Option<u32>,
}

/// Where the job goes, resolved by the caller.
pub struct Target<'a> {
    pub job_id: String,
    pub job_arn_prefix: &'a str,
    pub queue_name: &'a str,
    pub queue_arn: &'a str,
    pub definition: &'a JobDefinition,
    pub now: i64,
}

const MAX_ARRAY_SIZE: u32 = 10_000;
const MIN_TIMEOUT_SECONDS: u64 = 60;
pub const MAX_SCHEDULING_PRIORITY: i32 = 9999;

/// The jobs to accept: one, or an array parent followed by its children.
pub fn jobs_for(request: &SubmitJobRequest, target: &Target) -> BatchResult<Vec<Job>> {
    validate_name(&request.job_name)?;
    let definition = target.definition;
    let parameters: Parameters = definition.parameters.iter().chain(request.parameters.iter()).map(|(k, v)| (k.clone(), v.clone())).collect();
    let container = effective_container(definition, request.container_overrides.as_ref(), &parameters);
    let demand = Demand::of(&container).map_err(BatchError::client)?;
    let retry_strategy = request.retry_strategy.clone().or_else(|| definition.retry_strategy.clone());
    let attempts = retry_strategy.as_ref().and_then(|strategy| strategy.attempts).unwrap_or(1);
    if !(1..=10).contains(&attempts) {
        return Err(BatchError::client("Error executing request, Exception : attempts must be between 1 and 10."));
    }
    let timeout = request.timeout.or(definition.timeout);
    if timeout.and_then(|timeout| timeout.attempt_duration_seconds).is_some_and(|seconds| seconds < MIN_TIMEOUT_SECONDS) {
        return Err(BatchError::client("Error executing request, Exception : attemptDurationSeconds must be at least 60."));
    }
    if request.scheduling_priority_override.is_some_and(|priority| !(0..=MAX_SCHEDULING_PRIORITY).contains(&priority)) {
        return Err(BatchError::client(format!("Error executing request, Exception : schedulingPriorityOverride must be between 0 and {MAX_SCHEDULING_PRIORITY}.")));
    }
    let size = match request.array_properties.and_then(|properties| properties.size) {
        Some(size) if !(2..=MAX_ARRAY_SIZE).contains(&size) => {
            return Err(BatchError::client(format!("Error executing request, Exception : Array size must be between 2 and {MAX_ARRAY_SIZE}.")));
        }
        size => size,
    };
    let tags: Tags = if request.propagate_tags.unwrap_or(definition.propagate_tags) {
        definition.tags.iter().chain(request.tags.iter()).map(|(k, v)| (k.clone(), v.clone())).collect()
    } else {
        request.tags.clone()
    };
    let detail = JobDetail {
        job_arn: format!("{}{}", target.job_arn_prefix, target.job_id),
        job_name: request.job_name.clone(),
        job_id: target.job_id.clone(),
        job_queue: target.queue_arn.to_owned(),
        status: JobStatus::Submitted,
        share_identifier: request.share_identifier.clone(),
        scheduling_priority: request.scheduling_priority_override.or(definition.scheduling_priority),
        attempts: Vec::new(),
        status_reason: None,
        created_at: target.now,
        retry_strategy: retry_strategy.clone(),
        started_at: None,
        stopped_at: None,
        depends_on: request.depends_on.clone(),
        job_definition: definition.job_definition_arn.clone(),
        parameters,
        container,
        array_properties: size.map(|size| ArrayPropertiesDetail { size: Some(size), ..ArrayPropertiesDetail::default() }),
        timeout,
        tags,
        propagate_tags: request.propagate_tags.unwrap_or(definition.propagate_tags),
        platform_capabilities: definition.platform_capabilities.clone(),
        is_cancelled: false,
        is_terminated: false,
    };
    let run = JobRun { queue: target.queue_name.to_owned(), demand, attempts_allowed: attempts, ..JobRun::default() };
    let parent = Job { detail, run };
    let Some(size) = size else { return Ok(vec![parent]) };
    let children: Vec<Job> = (0..size).map(|index| child(&parent, index, &request.depends_on)).collect();
    let mut parent = parent;
    parent.run.children = children.iter().map(|child| child.id().to_owned()).collect();
    Ok(std::iter::once(parent).chain(children).collect())
}

/// Child `index` of an array job: `PARENT:INDEX`, with AWS_BATCH_JOB_ARRAY_INDEX.
fn child(parent: &Job, index: u32, depends_on: &[JobDependency]) -> Job {
    let mut detail = parent.detail.clone();
    detail.job_id = format!("{}:{index}", parent.detail.job_id);
    detail.job_arn = format!("{}:{index}", parent.detail.job_arn);
    detail.array_properties = Some(ArrayPropertiesDetail { index: Some(index), ..ArrayPropertiesDetail::default() });
    detail.depends_on = Vec::new();
    detail.container.environment.push(KeyValuePair { name: "AWS_BATCH_JOB_ARRAY_INDEX".into(), value: index.to_string() });
    let mut implicit_dependencies = Vec::new();
    for dependency in depends_on {
        match dependency.kind.as_deref() {
            Some("SEQUENTIAL") if index > 0 => implicit_dependencies.push(format!("{}:{}", parent.detail.job_id, index - 1)),
            Some("N_TO_N") => implicit_dependencies.push(format!("{}:{index}", dependency.job_id)),
            Some("SEQUENTIAL") => {}
            _ => implicit_dependencies.push(dependency.job_id.clone()),
        }
    }
    let run = JobRun { parent: Some(parent.detail.job_id.clone()), implicit_dependencies, ..parent.run.clone() };
    Job { detail, run }
}

/// The definition's container with the overrides applied and `Ref::NAME` replaced by parameters.
pub fn effective_container(definition: &JobDefinition, overrides: Option<&ContainerOverrides>, parameters: &Parameters) -> ContainerDetail {
    let properties = definition.container_properties.clone().unwrap_or_default();
    let mut container = ContainerDetail {
        image: properties.image,
        vcpus: properties.vcpus,
        memory: properties.memory,
        command: properties.command,
        environment: properties.environment,
        resource_requirements: properties.resource_requirements,
        instance_type: properties.instance_type,
        other: properties.other,
        ..ContainerDetail::default()
    };
    if let Some(overrides) = overrides {
        if let Some(command) = &overrides.command {
            container.command = command.clone();
        }
        container.vcpus = overrides.vcpus.or(container.vcpus);
        container.memory = overrides.memory.or(container.memory);
        for variable in overrides.environment.iter().flatten() {
            container.environment.retain(|existing| existing.name != variable.name);
            container.environment.push(variable.clone());
        }
        for requirement in overrides.resource_requirements.iter().flatten() {
            container.resource_requirements.retain(|existing: &ResourceRequirement| existing.kind != requirement.kind);
            container.resource_requirements.push(requirement.clone());
        }
    }
    container.command = container.command.iter().map(|argument| substitute(argument, parameters)).collect();
    container.log_stream_name = None;
    container
}

/// `Ref::NAME` placeholders, for every parameter that is defined.
fn substitute(argument: &str, parameters: &Parameters) -> String {
    let mut result = argument.to_owned();
    // Longest names first, so that Ref::input_file is not taken for Ref::input.
    let mut names: Vec<&String> = parameters.keys().collect();
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    for name in names {
        result = result.replace(&format!("Ref::{name}"), &parameters[name]);
    }
    result
}

/// Names of jobs, queues, environments and definitions: up to 128 letters, digits, - and _.
pub fn validate_name(name: &str) -> BatchResult<()> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.chars().next().is_some_and(|first| first.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(BatchError::client(format!(
            "Error executing request, Exception : Name {name:?} is invalid: up to 128 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed, starting with a letter or number."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContainerProperties;

    fn definition() -> JobDefinition {
        JobDefinition {
            job_definition_name: "train".into(),
            job_definition_arn: "arn:aws:batch:us-east-1:000000000000:job-definition/train:1".into(),
            revision: 1,
            status: "ACTIVE".into(),
            kind: "container".into(),
            scheduling_priority: None,
            parameters: [("epochs".to_owned(), "1".to_owned())].into(),
            retry_strategy: None,
            container_properties: Some(ContainerProperties {
                image: Some("busybox".into()),
                vcpus: Some(1),
                memory: Some(128),
                command: vec!["train".into(), "--epochs".into(), "Ref::epochs".into(), "Ref::rate".into()],
                ..ContainerProperties::default()
            }),
            timeout: None,
            tags: Tags::new(),
            propagate_tags: false,
            platform_capabilities: vec!["EC2".into()],
            container_orchestration_type: "ECS".into(),
        }
    }

    fn target(definition: &JobDefinition) -> Target<'_> {
        Target { job_id: "j1".into(), job_arn_prefix: "arn:job/", queue_name: "q", queue_arn: "arn:q", definition, now: 5 }
    }

    #[test]
    fn parameters_of_the_request_win_and_unknown_refs_stay() {
        let definition = definition();
        let request = SubmitJobRequest { job_name: "t".into(), parameters: [("epochs".to_owned(), "3".to_owned())].into(), ..SubmitJobRequest::default() };
        let jobs = jobs_for(&request, &target(&definition)).unwrap_or_default();
        assert_eq!(jobs[0].detail.container.command, ["train", "--epochs", "3", "Ref::rate"]);
    }

    #[test]
    fn overrides_replace_the_command_and_merge_the_environment() {
        let definition = definition();
        let overrides = ContainerOverrides {
            command: Some(vec!["echo".into(), "hi".into()]),
            environment: Some(vec![KeyValuePair { name: "A".into(), value: "1".into() }]),
            vcpus: Some(2),
            ..ContainerOverrides::default()
        };
        let container = effective_container(&definition, Some(&overrides), &Parameters::new());
        assert_eq!(container.command, ["echo", "hi"]);
        assert_eq!(container.vcpus, Some(2));
        assert_eq!(container.environment.len(), 1);
    }

    #[test]
    fn an_array_job_has_indexed_children_and_sequential_ones_chain() {
        let definition = definition();
        let request = SubmitJobRequest {
            job_name: "t".into(),
            array_properties: Some(ArrayProperties { size: Some(3) }),
            depends_on: vec![JobDependency { job_id: "j1".into(), kind: Some("SEQUENTIAL".into()) }],
            ..SubmitJobRequest::default()
        };
        let jobs = jobs_for(&request, &target(&definition)).unwrap_or_default();
        assert_eq!(jobs.len(), 4);
        assert_eq!(jobs[0].run.children, ["j1:0", "j1:1", "j1:2"]);
        assert_eq!(jobs[2].detail.container.environment.last().map(|v| v.value.as_str()), Some("1"));
        assert_eq!(jobs[3].run.implicit_dependencies, ["j1:1"]);
        assert!(jobs[1].run.implicit_dependencies.is_empty());
    }

    #[test]
    fn bad_requests_are_client_errors() {
        let definition = definition();
        let bad_size = SubmitJobRequest { job_name: "t".into(), array_properties: Some(ArrayProperties { size: Some(1) }), ..SubmitJobRequest::default() };
        assert!(matches!(jobs_for(&bad_size, &target(&definition)), Err(BatchError::Client(_))));
        let bad_name = SubmitJobRequest { job_name: "no spaces".into(), ..SubmitJobRequest::default() };
        assert!(matches!(jobs_for(&bad_name, &target(&definition)), Err(BatchError::Client(_))));
    }
}
