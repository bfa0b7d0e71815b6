//! The Batch API's operations, by the name in their path (`/v1/submitjob` → `submitjob`):
//! requests and answers in AWS's JSON shapes; every rejection a ClientException naming the field.

use crate::capacity::Environment;
use crate::error::{BatchError, BatchResult};
use crate::instance_types;
use crate::job::Job;
use crate::model::{
    ComputeEnvironment, ComputeEnvironmentOrder, ComputeResources, ContainerProperties, FairsharePolicy, JobDefinition, JobQueue, JobStatus, JobTimeout,
    Parameters, RetryStrategy, SchedulingPolicy, Tags,
};
use crate::scheduler::name_of;
use crate::service::{capacity_kind, document, now_ms, Batch, KIND_DEFINITION, KIND_ENVIRONMENT, KIND_JOB, KIND_POLICY, KIND_QUEUE};
use crate::submission::{jobs_for, validate_name, SubmitJobRequest, Target, MAX_SCHEDULING_PRIORITY};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use store::Write;

/// Every instance's life and what it cost.
pub const INSTANCES_OPERATION: &str = "x-switchyard-instances";
/// Jobs per queue and status.
pub const QUEUE_DEPTHS_OPERATION: &str = "x-switchyard-queue-depths";
const MAX_DESCRIBE_JOBS: usize = 100;
const DEFAULT_PAGE: usize = 100;

impl Batch {
    /// Runs one operation; `operation` is the last path segment, lower case.
    pub fn call(&self, operation: &str, body: Value) -> BatchResult<Value> {
        match operation {
            "createcomputeenvironment" => self.create_compute_environment(decode(body)?),
            "updatecomputeenvironment" => self.update_compute_environment(decode(body)?),
            "deletecomputeenvironment" => self.delete_compute_environment(decode(body)?),
            "describecomputeenvironments" => self.describe_compute_environments(decode(body)?),
            "createjobqueue" => self.create_job_queue(decode(body)?),
            "updatejobqueue" => self.update_job_queue(decode(body)?),
            "deletejobqueue" => self.delete_job_queue(decode(body)?),
            "describejobqueues" => self.describe_job_queues(decode(body)?),
            "createschedulingpolicy" => self.create_scheduling_policy(decode(body)?),
            "updateschedulingpolicy" => self.update_scheduling_policy(decode(body)?),
            "deleteschedulingpolicy" => self.delete_scheduling_policy(decode(body)?),
            "describeschedulingpolicies" => self.describe_scheduling_policies(decode(body)?),
            "listschedulingpolicies" => self.list_scheduling_policies(decode(body)?),
            "registerjobdefinition" => self.register_job_definition(decode(body)?),
            "deregisterjobdefinition" => self.deregister_job_definition(decode(body)?),
            "describejobdefinitions" => self.describe_job_definitions(decode(body)?),
            "submitjob" => self.submit_job(decode(body)?).map(|submitted| json!(submitted)),
            "describejobs" => self.describe_jobs(decode(body)?),
            "listjobs" => self.list_jobs(decode(body)?),
            "canceljob" => self.stop_job(decode(body)?, false),
            "terminatejob" => self.stop_job(decode(body)?, true),
            // Switchyard's own, for `switchyard batch` and cost reports (not in AWS's model).
            INSTANCES_OPERATION => Ok(self.instances_report()),
            QUEUE_DEPTHS_OPERATION => Ok(self.queue_depths_report()),
            other => Err(BatchError::client(format!("Unknown operation: {other}"))),
        }
    }

    fn instances_report(&self) -> Value {
        let now = now_ms();
        let instances = self.instance_history();
        let cost: f64 = instances.iter().map(|instance| instance.cost_usd(now)).sum();
        json!({ "instances": instances, "totalCostUsd": cost })
    }

    fn queue_depths_report(&self) -> Value {
        let state = self.lock();
        let queues: Map<String, Value> = state
            .scheduler
            .queue_depths()
            .into_iter()
            .map(|(queue, depths)| (queue, Value::Object(depths.into_iter().map(|(status, count)| (status.as_str().to_owned(), json!(count))).collect())))
            .collect();
        json!({ "queues": queues })
    }

    // ---- compute environments ----

    fn create_compute_environment(&self, request: CreateComputeEnvironment) -> BatchResult<Value> {
        validate_name(&request.compute_environment_name)?;
        one_of("type", &request.kind, &["MANAGED", "UNMANAGED"])?;
        let state = request.state.unwrap_or_else(|| "ENABLED".into());
        one_of("state", &state, &["ENABLED", "DISABLED"])?;
        match (&request.kind[..], &request.compute_resources) {
            ("MANAGED", None) => return Err(BatchError::client("Error executing request, Exception : computeResources is required for MANAGED compute environments.")),
            ("MANAGED", Some(resources)) => validate_resources(resources)?,
            _ => {}
        }
        let name = request.compute_environment_name.clone();
        let arn = self.config.arn(&format!("compute-environment/{name}"));
        let environment = ComputeEnvironment {
            compute_environment_name: name.clone(),
            compute_environment_arn: arn.clone(),
            ecs_cluster_arn: format!("arn:aws:ecs:{}:{}:cluster/{name}_Batch_{}", self.config.region, self.config.account, short_id()),
            kind: request.kind,
            state,
            status: "VALID".into(),
            status_reason: "ComputeEnvironment Healthy".into(),
            unmanagedv_cpus: request.unmanagedv_cpus,
            compute_resources: request.compute_resources.map(|mut resources| {
                resources.minv_cpus = resources.minv_cpus.min(resources.maxv_cpus);
                resources
            }),
            service_role: request.service_role,
            tags: request.tags,
            uuid: uuid::Uuid::new_v4().to_string(),
            container_orchestration_type: "ECS".into(),
        };
        let mut state = self.lock();
        if state.scheduler.environment(&name).is_some() {
            return Err(BatchError::client("Error executing request, Exception : Object already exists"));
        }
        self.write(document(KIND_ENVIRONMENT, &name, &environment).into_iter().collect())?;
        let kind = capacity_kind(&environment, &self.config.default_backend);
        state.scheduler.put_environment(Environment::new(environment, kind));
        self.poke(&mut state);
        Ok(json!({ "computeEnvironmentName": name, "computeEnvironmentArn": arn }))
    }

    fn update_compute_environment(&self, request: UpdateComputeEnvironment) -> BatchResult<Value> {
        let mut state = self.lock();
        let name = name_of(&request.compute_environment).to_owned();
        let Some(existing) = state.scheduler.environment(&name) else {
            return Err(BatchError::client(format!("Error executing request, Exception : ComputeEnvironment {} does not exist", request.compute_environment)));
        };
        let mut environment = existing.spec.clone();
        if let Some(new_state) = request.state {
            one_of("state", &new_state, &["ENABLED", "DISABLED"])?;
            environment.state = new_state;
        }
        if let Some(unmanaged) = request.unmanagedv_cpus {
            environment.unmanagedv_cpus = Some(unmanaged);
        }
        if let Some(role) = request.service_role {
            environment.service_role = Some(role);
        }
        if let (Some(update), Some(resources)) = (request.compute_resources, environment.compute_resources.as_mut()) {
            if let Some(value) = update.minv_cpus {
                resources.minv_cpus = value;
            }
            if let Some(value) = update.maxv_cpus {
                resources.maxv_cpus = value;
            }
            if let Some(value) = update.desiredv_cpus {
                resources.desiredv_cpus = value;
            }
            if let Some(types) = update.instance_types {
                resources.instance_types = types;
            }
            if let Some(strategy) = update.allocation_strategy {
                resources.allocation_strategy = Some(strategy);
            }
            resources.other.extend(update.other);
            validate_resources(resources)?;
        }
        self.write(document(KIND_ENVIRONMENT, &name, &environment).into_iter().collect())?;
        let arn = environment.compute_environment_arn.clone();
        let kind = capacity_kind(&environment, &self.config.default_backend);
        state.scheduler.put_environment(Environment::new(environment, kind));
        self.poke(&mut state);
        Ok(json!({ "computeEnvironmentName": name, "computeEnvironmentArn": arn }))
    }

    fn delete_compute_environment(&self, request: DeleteComputeEnvironment) -> BatchResult<Value> {
        let mut state = self.lock();
        let name = name_of(&request.compute_environment).to_owned();
        let Some(environment) = state.scheduler.environment(&name) else {
            return Err(BatchError::client(format!("Error executing request, Exception : ComputeEnvironment {} does not exist", request.compute_environment)));
        };
        if environment.spec.state != "DISABLED" {
            return Err(BatchError::client("Error executing request, Exception : Cannot delete, resource is being modified or is not DISABLED"));
        }
        let used = state.scheduler.queues().any(|queue| queue.compute_environment_order.iter().any(|entry| name_of(&entry.compute_environment) == name));
        if used {
            return Err(BatchError::client("Error executing request, Exception : Cannot delete, found existing JobQueue relationship"));
        }
        self.write(vec![Write::DeleteDocument { kind: KIND_ENVIRONMENT.into(), key: name.clone() }])?;
        state.scheduler.remove_environment(&name, now_ms());
        Ok(json!({}))
    }

    fn describe_compute_environments(&self, request: DescribeComputeEnvironments) -> BatchResult<Value> {
        let state = self.lock();
        let wanted: Vec<&str> = request.compute_environments.iter().map(|entry| name_of(entry)).collect();
        let environments: Vec<Value> = state
            .scheduler
            .environments()
            .filter(|environment| wanted.is_empty() || wanted.contains(&environment.name()))
            .map(|environment| {
                let mut spec = environment.spec.clone();
                if let Some(resources) = spec.compute_resources.as_mut() {
                    resources.desiredv_cpus = environment.running_vcpus();
                }
                json!(spec)
            })
            .collect();
        page("computeEnvironments", environments, request.max_results, request.next_token.as_deref())
    }

    // ---- job queues ----

    fn create_job_queue(&self, request: CreateJobQueue) -> BatchResult<Value> {
        validate_name(&request.job_queue_name)?;
        let state_name = request.state.unwrap_or_else(|| "ENABLED".into());
        one_of("state", &state_name, &["ENABLED", "DISABLED"])?;
        let mut state = self.lock();
        let order = self.environment_order(&state, request.compute_environment_order)?;
        if let Some(arn) = &request.scheduling_policy_arn {
            existing_policy(&state, arn)?;
        }
        let name = request.job_queue_name;
        if state.scheduler.queue(&name).is_some() {
            return Err(BatchError::client("Error executing request, Exception : Object already exists"));
        }
        let arn = self.config.arn(&format!("job-queue/{name}"));
        let queue = JobQueue {
            job_queue_name: name.clone(),
            job_queue_arn: arn.clone(),
            state: state_name,
            scheduling_policy_arn: request.scheduling_policy_arn,
            status: "VALID".into(),
            status_reason: "JobQueue Healthy".into(),
            priority: request.priority,
            compute_environment_order: order,
            tags: request.tags,
            job_queue_type: "ECS_EC2".into(),
        };
        self.write(document(KIND_QUEUE, &name, &queue).into_iter().collect())?;
        state.scheduler.put_queue(queue);
        self.poke(&mut state);
        Ok(json!({ "jobQueueName": name, "jobQueueArn": arn }))
    }

    /// Checks that every environment exists, and names them by ARN as AWS answers.
    fn environment_order(&self, state: &crate::service::State, order: Vec<ComputeEnvironmentOrder>) -> BatchResult<Vec<ComputeEnvironmentOrder>> {
        if order.is_empty() || order.len() > 3 {
            return Err(BatchError::client("Error executing request, Exception : computeEnvironmentOrder must name 1 to 3 compute environments."));
        }
        order
            .into_iter()
            .map(|entry| match state.scheduler.environment(name_of(&entry.compute_environment)) {
                Some(environment) => Ok(ComputeEnvironmentOrder { order: entry.order, compute_environment: environment.spec.compute_environment_arn.clone() }),
                None => Err(BatchError::client(format!("Error executing request, Exception : ComputeEnvironment {} does not exist", entry.compute_environment))),
            })
            .collect()
    }

    fn update_job_queue(&self, request: UpdateJobQueue) -> BatchResult<Value> {
        let mut state = self.lock();
        let name = name_of(&request.job_queue).to_owned();
        let Some(mut queue) = state.scheduler.queue(&name).cloned() else {
            return Err(BatchError::client(format!("Error executing request, Exception : JobQueue {} does not exist", request.job_queue)));
        };
        if let Some(new_state) = request.state {
            one_of("state", &new_state, &["ENABLED", "DISABLED"])?;
            queue.state = new_state;
        }
        if let Some(priority) = request.priority {
            queue.priority = priority;
        }
        if let Some(order) = request.compute_environment_order {
            queue.compute_environment_order = self.environment_order(&state, order)?;
        }
        if let Some(arn) = request.scheduling_policy_arn {
            // AWS: a fair-share policy can be replaced, not added to a FIFO queue nor removed.
            if queue.scheduling_policy_arn.is_none() {
                return Err(BatchError::client("Error executing request, Exception : A job queue without a fair-share scheduling policy can't have one added."));
            }
            existing_policy(&state, &arn)?;
            queue.scheduling_policy_arn = Some(arn);
        }
        self.write(document(KIND_QUEUE, &name, &queue).into_iter().collect())?;
        let arn = queue.job_queue_arn.clone();
        state.scheduler.put_queue(queue);
        self.poke(&mut state);
        Ok(json!({ "jobQueueName": name, "jobQueueArn": arn }))
    }

    fn delete_job_queue(&self, request: DeleteJobQueue) -> BatchResult<Value> {
        let mut state = self.lock();
        let name = name_of(&request.job_queue).to_owned();
        let Some(queue) = state.scheduler.queue(&name) else {
            return Err(BatchError::client(format!("Error executing request, Exception : JobQueue {} does not exist", request.job_queue)));
        };
        if queue.state != "DISABLED" {
            return Err(BatchError::client("Error executing request, Exception : Cannot delete, resource is being modified or is not DISABLED"));
        }
        self.write(vec![Write::DeleteDocument { kind: KIND_QUEUE.into(), key: name.clone() }])?;
        let open: Vec<String> = state.scheduler.jobs().filter(|job| job.run.queue == name && !job.detail.status.is_done()).map(|job| job.id().to_owned()).collect();
        for job_id in open {
            state.scheduler.terminate(&job_id, "Job queue deleted", now_ms());
        }
        state.scheduler.remove_queue(&name);
        self.poke(&mut state);
        Ok(json!({}))
    }

    fn describe_job_queues(&self, request: DescribeJobQueues) -> BatchResult<Value> {
        let state = self.lock();
        let wanted: Vec<&str> = request.job_queues.iter().map(|entry| name_of(entry)).collect();
        let queues: Vec<Value> =
            state.scheduler.queues().filter(|queue| wanted.is_empty() || wanted.contains(&queue.job_queue_name.as_str())).map(|queue| json!(queue)).collect();
        page("jobQueues", queues, request.max_results, request.next_token.as_deref())
    }

    // ---- scheduling policies ----

    fn create_scheduling_policy(&self, request: CreateSchedulingPolicy) -> BatchResult<Value> {
        validate_name(&request.name)?;
        if let Some(fair_share) = &request.fairshare_policy {
            validate_fair_share(fair_share)?;
        }
        let mut state = self.lock();
        let arn = self.config.arn(&format!("scheduling-policy/{}", request.name));
        if state.scheduler.policy(&arn).is_some() {
            return Err(BatchError::client("Error executing request, Exception : Object already exists"));
        }
        let policy = SchedulingPolicy {
            name: request.name,
            arn: arn.clone(),
            fairshare_policy: request.fairshare_policy,
            quota_share_policy: request.quota_share_policy,
            tags: request.tags,
        };
        self.write(document(KIND_POLICY, &policy.name, &policy).into_iter().collect())?;
        let name = policy.name.clone();
        state.scheduler.put_policy(policy);
        Ok(json!({ "name": name, "arn": arn }))
    }

    fn update_scheduling_policy(&self, request: UpdateSchedulingPolicy) -> BatchResult<Value> {
        if let Some(fair_share) = &request.fairshare_policy {
            validate_fair_share(fair_share)?;
        }
        let mut state = self.lock();
        let mut policy = existing_policy(&state, &request.arn)?.clone();
        if let Some(fair_share) = request.fairshare_policy {
            policy.fairshare_policy = Some(fair_share);
        }
        if let Some(quota_share) = request.quota_share_policy {
            policy.quota_share_policy = Some(quota_share);
        }
        self.write(document(KIND_POLICY, &policy.name, &policy).into_iter().collect())?;
        state.scheduler.put_policy(policy);
        self.poke(&mut state);
        Ok(json!({}))
    }

    fn delete_scheduling_policy(&self, request: DeleteSchedulingPolicy) -> BatchResult<Value> {
        let mut state = self.lock();
        let name = existing_policy(&state, &request.arn)?.name.clone();
        if state.scheduler.queues().any(|queue| queue.scheduling_policy_arn.as_deref() == Some(request.arn.as_str())) {
            return Err(BatchError::client("Error executing request, Exception : Cannot delete, found existing JobQueue relationship"));
        }
        self.write(vec![Write::DeleteDocument { kind: KIND_POLICY.into(), key: name }])?;
        state.scheduler.remove_policy(&request.arn);
        Ok(json!({}))
    }

    fn describe_scheduling_policies(&self, request: DescribeSchedulingPolicies) -> BatchResult<Value> {
        let state = self.lock();
        let policies: Vec<Value> = request.arns.iter().filter_map(|arn| state.scheduler.policy(arn)).map(|policy| json!(policy)).collect();
        Ok(json!({ "schedulingPolicies": policies }))
    }

    fn list_scheduling_policies(&self, request: ListSchedulingPolicies) -> BatchResult<Value> {
        let state = self.lock();
        let policies: Vec<Value> = state.scheduler.policies().map(|policy| json!({ "arn": policy.arn })).collect();
        page("schedulingPolicies", policies, request.max_results, request.next_token.as_deref())
    }

    // ---- job definitions ----

    fn register_job_definition(&self, request: RegisterJobDefinition) -> BatchResult<Value> {
        validate_name(&request.job_definition_name)?;
        one_of("type", &request.kind, &["container", "multinode"])?;
        if request.kind == "container" && request.container_properties.is_none() {
            return Err(BatchError::client("Error executing request, Exception : containerProperties is required for jobs of type container."));
        }
        if request.scheduling_priority.is_some_and(|priority| !(0..=MAX_SCHEDULING_PRIORITY).contains(&priority)) {
            return Err(BatchError::client(format!("Error executing request, Exception : schedulingPriority must be between 0 and {MAX_SCHEDULING_PRIORITY}.")));
        }
        if let Some(attempts) = request.retry_strategy.as_ref().and_then(|strategy| strategy.attempts) {
            if !(1..=10).contains(&attempts) {
                return Err(BatchError::client("Error executing request, Exception : retryStrategy.attempts must be between 1 and 10."));
            }
        }
        let mut state = self.lock();
        let name = request.job_definition_name;
        let revision = state.definitions.get(&name).and_then(|revisions| revisions.last()).map_or(1, |last| last.revision + 1);
        let arn = self.config.arn(&format!("job-definition/{name}:{revision}"));
        let definition = JobDefinition {
            job_definition_name: name.clone(),
            job_definition_arn: arn.clone(),
            revision,
            status: "ACTIVE".into(),
            kind: request.kind,
            scheduling_priority: request.scheduling_priority,
            parameters: request.parameters,
            retry_strategy: request.retry_strategy,
            container_properties: request.container_properties,
            timeout: request.timeout,
            tags: request.tags,
            propagate_tags: request.propagate_tags.unwrap_or(false),
            platform_capabilities: request.platform_capabilities.unwrap_or_else(|| vec!["EC2".into()]),
            container_orchestration_type: "ECS".into(),
        };
        self.write(document(KIND_DEFINITION, &format!("{name}:{revision}"), &definition).into_iter().collect())?;
        state.definitions.entry(name.clone()).or_default().push(definition);
        Ok(json!({ "jobDefinitionName": name, "jobDefinitionArn": arn, "revision": revision }))
    }

    fn deregister_job_definition(&self, request: DeregisterJobDefinition) -> BatchResult<Value> {
        let mut state = self.lock();
        let (name, revision) = split_definition(&request.job_definition);
        let Some(revision) = revision else {
            return Err(BatchError::client("Error executing request, Exception : jobDefinition must name a revision (name:revision or its ARN)."));
        };
        let Some(definition) = state.definitions.get_mut(name).and_then(|revisions| revisions.iter_mut().find(|definition| definition.revision == revision))
        else {
            return Err(BatchError::client(format!("Error executing request, Exception : Job definition {} does not exist", request.job_definition)));
        };
        definition.status = "INACTIVE".into();
        let write = document(KIND_DEFINITION, &format!("{name}:{revision}"), &*definition);
        self.write(write.into_iter().collect())?;
        Ok(json!({}))
    }

    fn describe_job_definitions(&self, request: DescribeJobDefinitions) -> BatchResult<Value> {
        let state = self.lock();
        let wanted: Vec<(&str, Option<u32>)> = request.job_definitions.iter().map(|entry| split_definition(entry)).collect();
        let definitions: Vec<Value> = state
            .definitions
            .values()
            .flatten()
            .filter(|definition| request.job_definition_name.as_ref().is_none_or(|name| &definition.job_definition_name == name))
            .filter(|definition| request.status.as_ref().is_none_or(|status| &definition.status == status))
            .filter(|definition| {
                wanted.is_empty()
                    || wanted.iter().any(|(name, revision)| *name == definition.job_definition_name && revision.is_none_or(|revision| revision == definition.revision))
            })
            .map(|definition| json!(definition))
            .collect();
        page("jobDefinitions", definitions, request.max_results, request.next_token.as_deref())
    }

    // ---- jobs ----

    /// SubmitJob: the job is on disk before the answer.
    pub fn submit_job(&self, request: SubmitJobRequest) -> BatchResult<SubmittedJob> {
        let mut state = self.lock();
        let queue_name = name_of(&request.job_queue).to_owned();
        let Some(queue) = state.scheduler.queue(&queue_name) else {
            return Err(BatchError::client(format!("Error executing request, Exception : JobQueue {} not found", request.job_queue)));
        };
        let queue_arn = queue.job_queue_arn.clone();
        let fair_share = queue.scheduling_policy_arn.is_some();
        let definition = resolve_definition(&state.definitions, &request.job_definition)?.clone();
        validate_share(&request, &definition, fair_share)?;
        for dependency in &request.depends_on {
            if !dependency.job_id.is_empty() && state.scheduler.job(&dependency.job_id).is_none() {
                return Err(BatchError::client(format!("Error executing request, Exception : Dependent job id {} does not exist", dependency.job_id)));
            }
        }
        let job_id = uuid::Uuid::new_v4().to_string();
        let arn_prefix = self.config.arn("job/");
        let target = Target { job_id: job_id.clone(), job_arn_prefix: &arn_prefix, queue_name: &queue_name, queue_arn: &queue_arn, definition: &definition, now: now_ms() };
        let jobs: Vec<Job> = jobs_for(&request, &target)?;
        let writes: Vec<Write> = jobs.iter().filter_map(|job| document(KIND_JOB, job.id(), job)).collect();
        self.write(writes)?;
        let submitted = SubmittedJob { job_arn: jobs[0].detail.job_arn.clone(), job_name: request.job_name, job_id };
        state.scheduler.submit(jobs);
        self.poke(&mut state);
        Ok(submitted)
    }

    fn describe_jobs(&self, request: DescribeJobs) -> BatchResult<Value> {
        if request.jobs.len() > MAX_DESCRIBE_JOBS {
            return Err(BatchError::client(format!("Error executing request, Exception : jobs can name at most {MAX_DESCRIBE_JOBS} jobs.")));
        }
        let state = self.lock();
        let jobs: Vec<Value> = request.jobs.iter().filter_map(|id| state.scheduler.job(name_of(id))).map(|job| json!(job.detail)).collect();
        Ok(json!({ "jobs": jobs }))
    }

    /// A job as DescribeJobs answers it.
    pub fn describe_job(&self, job_id: &str) -> Option<Value> {
        self.lock().scheduler.job(job_id).map(|job| json!(job.detail))
    }

    fn list_jobs(&self, request: ListJobs) -> BatchResult<Value> {
        let state = self.lock();
        let (queue, parent) = match (&request.job_queue, &request.array_job_id) {
            (Some(queue), _) => {
                let name = name_of(queue);
                if state.scheduler.queue(name).is_none() {
                    return Err(BatchError::client(format!("Error executing request, Exception : JobQueue {queue} not found")));
                }
                (Some(name.to_owned()), None)
            }
            (None, Some(parent)) => (None, Some(parent.clone())),
            (None, None) => return Err(BatchError::client("Error executing request, Exception : jobQueue, arrayJobId or multiNodeJobId is required.")),
        };
        let status = match &request.job_status {
            Some(text) => Some(JobStatus::parse(text).ok_or_else(|| BatchError::client(format!("Error executing request, Exception : Invalid jobStatus {text}")))?),
            None if request.filters.is_empty() => Some(JobStatus::Running),
            None => None,
        };
        let name_filter = request.filters.iter().find(|filter| filter.name == "JOB_NAME").and_then(|filter| filter.values.first().cloned());
        let mut jobs: Vec<&Job> = state
            .scheduler
            .jobs()
            .filter(|job| match (&queue, &parent) {
                (Some(queue), _) => &job.run.queue == queue && job.run.parent.is_none(),
                (None, Some(parent)) => job.run.parent.as_ref() == Some(parent),
                (None, None) => false,
            })
            .filter(|job| status.is_none_or(|status| job.detail.status == status))
            .filter(|job| name_filter.as_ref().is_none_or(|pattern| matches_name(pattern, &job.detail.job_name)))
            .collect();
        jobs.sort_by_key(|job| std::cmp::Reverse(job.run.sequence));
        let summaries: Vec<Value> = jobs.into_iter().map(summary).collect();
        page("jobSummaryList", summaries, request.max_results, request.next_token.as_deref())
    }

    fn stop_job(&self, request: StopJob, terminate: bool) -> BatchResult<Value> {
        let mut state = self.lock();
        if state.scheduler.job(&request.job_id).is_none() {
            return Err(BatchError::client(format!("Error executing request, Exception : Job {} does not exist", request.job_id)));
        }
        let now = now_ms();
        if terminate {
            state.scheduler.terminate(&request.job_id, &request.reason, now);
        } else {
            state.scheduler.cancel(&request.job_id, &request.reason, now);
        }
        self.poke(&mut state);
        Ok(json!({}))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedJob {
    pub job_arn: String,
    pub job_name: String,
    pub job_id: String,
}

fn summary(job: &Job) -> Value {
    let detail = &job.detail;
    let mut summary = json!({
        "jobArn": detail.job_arn,
        "jobId": detail.job_id,
        "jobName": detail.job_name,
        "createdAt": detail.created_at,
        "status": detail.status,
        "jobDefinition": detail.job_definition,
    });
    let Some(fields) = summary.as_object_mut() else { return summary };
    let optional = [
        ("statusReason", json!(detail.status_reason)),
        ("startedAt", json!(detail.started_at)),
        ("stoppedAt", json!(detail.stopped_at)),
        ("shareIdentifier", json!(detail.share_identifier)),
    ];
    fields.extend(optional.into_iter().filter(|(_, value)| !value.is_null()).map(|(key, value)| (key.to_owned(), value)));
    if detail.container.exit_code.is_some() || detail.container.reason.is_some() {
        let mut container = Map::new();
        if let Some(code) = detail.container.exit_code {
            container.insert("exitCode".into(), json!(code));
        }
        if let Some(reason) = &detail.container.reason {
            container.insert("reason".into(), json!(reason));
        }
        fields.insert("container".into(), Value::Object(container));
    }
    if let Some(array) = &detail.array_properties {
        fields.insert("arrayProperties".into(), json!({ "size": array.size, "index": array.index }).as_object().map_or(json!({}), |object| {
            Value::Object(object.iter().filter(|(_, value)| !value.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
        }));
    }
    summary
}

/// ListJobs' JOB_NAME filter: exact, or a prefix ending in `*`.
fn matches_name(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// `name`, `name:revision`, or an ARN of either: the latest ACTIVE revision when none is named.
fn resolve_definition<'a>(definitions: &'a std::collections::BTreeMap<String, Vec<JobDefinition>>, reference: &str) -> BatchResult<&'a JobDefinition> {
    let (name, revision) = split_definition(reference);
    let revisions = definitions.get(name).map(Vec::as_slice).unwrap_or_default();
    let found = match revision {
        Some(revision) => revisions.iter().find(|definition| definition.revision == revision),
        None => revisions.iter().rev().find(|definition| definition.status == "ACTIVE"),
    };
    match found {
        Some(definition) if definition.status == "ACTIVE" => Ok(definition),
        Some(_) => Err(BatchError::client(format!("Error executing request, Exception : Job definition {reference} is INACTIVE"))),
        None => Err(BatchError::client(format!("Error executing request, Exception : Job definition {reference} not found"))),
    }
}

fn split_definition(reference: &str) -> (&str, Option<u32>) {
    let name = name_of(reference);
    match name.rsplit_once(':') {
        Some((name, revision)) => match revision.parse() {
            Ok(revision) => (name, Some(revision)),
            Err(_) => (name, None),
        },
        None => (name, None),
    }
}

fn existing_policy<'a>(state: &'a crate::service::State, arn: &str) -> BatchResult<&'a SchedulingPolicy> {
    state.scheduler.policy(arn).ok_or_else(|| BatchError::client(format!("Error executing request, Exception : SchedulingPolicy {arn} does not exist")))
}

const MAX_SHARE_DECAY_SECONDS: u32 = 604_800;
const MAX_COMPUTE_RESERVATION: u32 = 99;
const WEIGHT_FACTORS: std::ops::RangeInclusive<f64> = 0.0001..=999.9999;

fn validate_fair_share(policy: &FairsharePolicy) -> BatchResult<()> {
    let invalid = |message: String| Err(BatchError::client(format!("Error executing request, Exception : {message}")));
    if policy.share_decay_seconds.is_some_and(|seconds| seconds > MAX_SHARE_DECAY_SECONDS) {
        return invalid(format!("fairsharePolicy.shareDecaySeconds must be between 0 and {MAX_SHARE_DECAY_SECONDS}."));
    }
    if policy.compute_reservation.is_some_and(|reservation| reservation > MAX_COMPUTE_RESERVATION) {
        return invalid(format!("fairsharePolicy.computeReservation must be between 0 and {MAX_COMPUTE_RESERVATION}."));
    }
    for (index, share) in policy.share_distribution.iter().enumerate() {
        validate_share_identifier("fairsharePolicy.shareDistribution.shareIdentifier", &share.share_identifier)?;
        if share.weight_factor.is_some_and(|weight| !WEIGHT_FACTORS.contains(&weight)) {
            return invalid(format!("fairsharePolicy.shareDistribution.weightFactor must be between 0.0001 and 999.9999, got {:?}", share.weight_factor));
        }
        let overlapping = policy.share_distribution[..index].iter().find(|earlier| shares_overlap(&earlier.share_identifier, &share.share_identifier));
        if let Some(earlier) = overlapping {
            return invalid(format!("fairsharePolicy.shareDistribution: share identifiers {} and {} overlap.", earlier.share_identifier, share.share_identifier));
        }
    }
    Ok(())
}

/// Two entries overlap when one names, or is a prefix (`name*`) of, the other.
fn shares_overlap(first: &str, second: &str) -> bool {
    let covers = |pattern: &str, other: &str| match pattern.strip_suffix('*') {
        Some(prefix) => other.trim_end_matches('*').starts_with(prefix),
        None => pattern == other,
    };
    covers(first, second) || covers(second, first)
}

/// Up to 255 letters and digits, optionally followed by `*`.
fn validate_share_identifier(field: &str, share: &str) -> BatchResult<()> {
    let stem = share.strip_suffix('*').unwrap_or(share);
    if stem.is_empty() || share.len() > 255 || !stem.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(BatchError::client(format!("Error executing request, Exception : {field} must be up to 255 letters and numbers, optionally followed by *, got {share:?}")));
    }
    Ok(())
}

/// AWS's rules for shareIdentifier and the scheduling priority, by the kind of queue.
fn validate_share(request: &SubmitJobRequest, definition: &JobDefinition, fair_share: bool) -> BatchResult<()> {
    match (&request.share_identifier, fair_share) {
        (None, true) => Err(BatchError::client("Error executing request, Exception : shareIdentifier must be specified.")),
        (Some(_), false) => {
            Err(BatchError::client("Error executing request, Exception : shareIdentifier can only be specified for a job queue with a fair share scheduling policy."))
        }
        (Some(share), true) => {
            validate_share_identifier("shareIdentifier", share)?;
            if request.scheduling_priority_override.is_none() && definition.scheduling_priority.is_none() {
                return Err(BatchError::client(
                    "Error executing request, Exception : Either schedulingPriority in job definition or schedulingPriorityOverride should be specified.",
                ));
            }
            Ok(())
        }
        (None, false) => Ok(()),
    }
}

fn validate_resources(resources: &ComputeResources) -> BatchResult<()> {
    one_of("computeResources.type", &resources.kind, &["EC2", "SPOT", "FARGATE", "FARGATE_SPOT"])?;
    if let Some(strategy) = &resources.allocation_strategy {
        one_of("computeResources.allocationStrategy", strategy, &["BEST_FIT", "BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"])?;
    }
    if resources.minv_cpus > resources.maxv_cpus {
        return Err(BatchError::client("Error executing request, Exception : minvCpus must be less than or equal to maxvCpus"));
    }
    if resources.is_fargate() {
        if !resources.instance_types.is_empty() {
            return Err(BatchError::client("Error executing request, Exception : instanceTypes is not supported for FARGATE compute environments."));
        }
        return Ok(());
    }
    if resources.instance_types.is_empty() {
        return Err(BatchError::client("Error executing request, Exception : computeResources.instanceTypes is required for EC2 and SPOT compute environments."));
    }
    for entry in &resources.instance_types {
        if instance_types::expand(entry).is_none() {
            let known: Vec<&str> = instance_types::CATALOG.iter().map(|instance| instance.name).collect();
            return Err(BatchError::client(format!(
                "Error executing request, Exception : Instance type can only be one of [optimal, c5, m5, r5, p2, p3, g4dn, {}], got {entry}",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> BatchResult<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(BatchError::client(format!("Error executing request, Exception : {field} must be one of [{}], got {value}", allowed.join(", "))))
    }
}

/// One page of a listing: `nextToken` is the offset of the next page.
fn page(member: &str, items: Vec<Value>, max_results: Option<usize>, next_token: Option<&str>) -> BatchResult<Value> {
    let start = match next_token {
        Some(token) => token.parse::<usize>().map_err(|_| BatchError::client(format!("Error executing request, Exception : Invalid nextToken {token}")))?,
        None => 0,
    };
    let size = max_results.unwrap_or(DEFAULT_PAGE).clamp(1, 1000);
    let end = (start + size).min(items.len());
    let mut answer = Map::new();
    answer.insert(member.into(), Value::Array(items.get(start..end).map(<[Value]>::to_vec).unwrap_or_default()));
    if end < items.len() {
        answer.insert("nextToken".into(), json!(end.to_string()));
    }
    Ok(Value::Object(answer))
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

fn decode<T: DeserializeOwned>(body: Value) -> BatchResult<T> {
    serde_json::from_value(body).map_err(|error| BatchError::client(format!("Error executing request, Exception : {error}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateComputeEnvironment {
    compute_environment_name: String,
    #[serde(rename = "type")]
    kind: String,
    state: Option<String>,
    unmanagedv_cpus: Option<u32>,
    compute_resources: Option<ComputeResources>,
    service_role: Option<String>,
    #[serde(default)]
    tags: Tags,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateComputeEnvironment {
    compute_environment: String,
    state: Option<String>,
    unmanagedv_cpus: Option<u32>,
    compute_resources: Option<ComputeResourcesUpdate>,
    service_role: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComputeResourcesUpdate {
    minv_cpus: Option<u32>,
    maxv_cpus: Option<u32>,
    desiredv_cpus: Option<u32>,
    instance_types: Option<Vec<String>>,
    allocation_strategy: Option<String>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteComputeEnvironment {
    compute_environment: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeComputeEnvironments {
    #[serde(default)]
    compute_environments: Vec<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateJobQueue {
    job_queue_name: String,
    state: Option<String>,
    scheduling_policy_arn: Option<String>,
    priority: i32,
    #[serde(default)]
    compute_environment_order: Vec<ComputeEnvironmentOrder>,
    #[serde(default)]
    tags: Tags,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateJobQueue {
    job_queue: String,
    state: Option<String>,
    scheduling_policy_arn: Option<String>,
    priority: Option<i32>,
    compute_environment_order: Option<Vec<ComputeEnvironmentOrder>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteJobQueue {
    job_queue: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeJobQueues {
    #[serde(default)]
    job_queues: Vec<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSchedulingPolicy {
    name: String,
    fairshare_policy: Option<FairsharePolicy>,
    quota_share_policy: Option<Value>,
    #[serde(default)]
    tags: Tags,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateSchedulingPolicy {
    arn: String,
    fairshare_policy: Option<FairsharePolicy>,
    quota_share_policy: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteSchedulingPolicy {
    arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeSchedulingPolicies {
    arns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListSchedulingPolicies {
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterJobDefinition {
    job_definition_name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    parameters: Parameters,
    scheduling_priority: Option<i32>,
    container_properties: Option<ContainerProperties>,
    retry_strategy: Option<RetryStrategy>,
    propagate_tags: Option<bool>,
    timeout: Option<JobTimeout>,
    #[serde(default)]
    tags: Tags,
    platform_capabilities: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeregisterJobDefinition {
    job_definition: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeJobDefinitions {
    #[serde(default)]
    job_definitions: Vec<String>,
    max_results: Option<usize>,
    job_definition_name: Option<String>,
    status: Option<String>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeJobs {
    jobs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListJobs {
    job_queue: Option<String>,
    array_job_id: Option<String>,
    job_status: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
    #[serde(default)]
    filters: Vec<KeyValues>,
}

#[derive(Deserialize)]
struct KeyValues {
    #[serde(default)]
    name: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopJob {
    job_id: String,
    reason: String,
}
