//! The scheduler, pure: jobs move through their lifecycle, queues hand RUNNABLE jobs to their
//! compute environments in order, environments grow and shrink. Time comes in as an argument and
//! what must happen outside (start or stop an attempt) comes out as [`Effect`]s, so every rule
//! is testable without processes or clocks.

use crate::capacity::{CapacityKind, Environment, InstanceRecord};
use crate::job::{should_retry, Exit, Job, Placement, StopCause};
use crate::model::{ArrayPropertiesDetail, AttemptContainerDetail, AttemptDetail, JobQueue, JobStatus, SchedulingPolicy};
use crate::run_queue::{FairShare, QueuedJob, RunQueue, Walk};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The scaler's timing, and the simulations tests turn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalerConfig {
    /// How long an instance stays up without jobs before it is stopped (down to minvCpus).
    pub idle_timeout_ms: i64,
    /// How long a launched instance takes to become ready.
    pub launch_delay_ms: i64,
    /// Every SPOT instance is reclaimed this long after its launch (off when None).
    pub spot_interruption_after_ms: Option<i64>,
}

impl Default for ScalerConfig {
    fn default() -> ScalerConfig {
        ScalerConfig { idle_timeout_ms: 60_000, launch_delay_ms: 0, spot_interruption_after_ms: None }
    }
}

/// What the driver must do outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run the job's next attempt where its placement says.
    Start { job_id: String },
    /// Stop the job's running attempt; its exit comes back through [`Scheduler::exited`].
    Stop { job_id: String },
}

const STATUS_REASON_EXITED: &str = "Essential container in task exited";
const STATUS_REASON_DEPENDENCY_FAILED: &str = "Dependent Job failed";

pub struct Scheduler {
    config: ScalerConfig,
    environments: BTreeMap<String, Environment>,
    queues: BTreeMap<String, JobQueue>,
    /// Scheduling policies by ARN.
    policies: BTreeMap<String, SchedulingPolicy>,
    jobs: HashMap<String, Job>,
    /// RUNNABLE jobs not yet placed, per queue.
    runnable: BTreeMap<String, RunQueue>,
    /// Jobs waiting (PENDING) on each job.
    dependents: HashMap<String, Vec<String>>,
    /// SUBMITTED jobs, promoted on the next pass.
    submitted: Vec<String>,
    /// Running attempts' timeouts, soonest first.
    deadlines: BTreeSet<(i64, String)>,
    /// Stopped instances' records, for cost reports.
    stopped_instances: Vec<InstanceRecord>,
    next_sequence: u64,
    next_instance: u64,
    effects: Vec<Effect>,
    changed_jobs: HashSet<String>,
    changed_instances: Vec<InstanceRecord>,
}

impl Scheduler {
    pub fn new(config: ScalerConfig) -> Scheduler {
        Scheduler {
            config,
            environments: BTreeMap::new(),
            queues: BTreeMap::new(),
            policies: BTreeMap::new(),
            jobs: HashMap::new(),
            runnable: BTreeMap::new(),
            dependents: HashMap::new(),
            submitted: Vec::new(),
            deadlines: BTreeSet::new(),
            stopped_instances: Vec::new(),
            next_sequence: 0,
            next_instance: 0,
            effects: Vec::new(),
            changed_jobs: HashSet::new(),
            changed_instances: Vec::new(),
        }
    }

    pub fn config(&self) -> ScalerConfig {
        self.config
    }

    // ---- resources ----

    /// Adds or replaces an environment, keeping the instances it runs.
    pub fn put_environment(&mut self, environment: Environment) {
        let name = environment.name().to_owned();
        let instances = self.environments.remove(&name).map(|old| old.instances).unwrap_or_default();
        let mut environment = environment;
        environment.instances = instances;
        self.environments.insert(name, environment);
    }

    pub fn remove_environment(&mut self, name: &str, now: i64) {
        if let Some(mut environment) = self.environments.remove(name) {
            while !environment.instances.is_empty() {
                let record = environment.remove(0, now, false);
                self.record_stopped(record);
            }
        }
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.get(name)
    }

    pub fn environments(&self) -> impl Iterator<Item = &Environment> {
        self.environments.values()
    }

    pub fn put_queue(&mut self, queue: JobQueue) {
        self.runnable.entry(queue.job_queue_name.clone()).or_default();
        self.queues.insert(queue.job_queue_name.clone(), queue);
    }

    pub fn remove_queue(&mut self, name: &str) {
        self.queues.remove(name);
    }

    pub fn queue(&self, name: &str) -> Option<&JobQueue> {
        self.queues.get(name)
    }

    pub fn queues(&self) -> impl Iterator<Item = &JobQueue> {
        self.queues.values()
    }

    pub fn put_policy(&mut self, policy: SchedulingPolicy) {
        self.policies.insert(policy.arn.clone(), policy);
    }

    pub fn remove_policy(&mut self, arn: &str) {
        self.policies.remove(arn);
    }

    pub fn policy(&self, arn: &str) -> Option<&SchedulingPolicy> {
        self.policies.get(arn)
    }

    pub fn policies(&self) -> impl Iterator<Item = &SchedulingPolicy> {
        self.policies.values()
    }

    /// The fair share a queue schedules by; None for a FIFO queue.
    fn fair_share_of(&self, queue: &str) -> Option<FairShare> {
        let arn = self.queues.get(queue)?.scheduling_policy_arn.as_ref()?;
        let policy = self.policies.get(arn).and_then(|policy| policy.fairshare_policy.clone()).unwrap_or_default();
        Some(FairShare::new(&policy))
    }

    // ---- jobs ----

    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.get(id)
    }

    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values()
    }

    /// Accepts jobs (an array parent with its children, or one job) as SUBMITTED.
    pub fn submit(&mut self, jobs: Vec<Job>) {
        for mut job in jobs {
            job.run.sequence = self.next_sequence;
            self.next_sequence += 1;
            self.changed_jobs.insert(job.id().to_owned());
            self.submitted.push(job.id().to_owned());
            self.jobs.insert(job.id().to_owned(), job);
        }
    }

    /// Takes back jobs from the store after a restart. An attempt that was running on a runner
    /// that cannot be found again (a local process) runs again: at least once, never lost.
    pub fn restore(&mut self, mut job: Job, reattachable: bool) {
        self.next_sequence = self.next_sequence.max(job.run.sequence + 1);
        let id = job.id().to_owned();
        match job.detail.status {
            JobStatus::Submitted | JobStatus::Pending => self.submitted.push(id.clone()),
            JobStatus::Runnable => {
                job.run.placement = None;
                self.runnable.entry(job.run.queue.clone()).or_default().insert(&queued(&job));
            }
            JobStatus::Starting | JobStatus::Running if reattachable && job.run.placement.as_ref().is_some_and(|p| p.handle.is_some()) => {
                if let Some(deadline) = job.run.deadline {
                    self.deadlines.insert((deadline, id.clone()));
                }
                let share = queued(&job).share;
                self.runnable.entry(job.run.queue.clone()).or_default().restore_placed(&share, job.run.demand.millicpus);
                self.effects.push(Effect::Start { job_id: id.clone() });
            }
            JobStatus::Starting | JobStatus::Running => {
                job.detail.status = JobStatus::Runnable;
                job.run.placement = None;
                self.changed_jobs.insert(id.clone());
                self.runnable.entry(job.run.queue.clone()).or_default().insert(&queued(&job));
            }
            JobStatus::Succeeded | JobStatus::Failed => {}
        }
        self.jobs.insert(id, job);
    }

    /// An instance's life recorded before a restart; one that was up then is stopped now.
    pub fn restore_instance(&mut self, mut record: InstanceRecord, now: i64) {
        if record.stopped_at.is_none() {
            record.stopped_at = Some(now);
            self.changed_instances.push(record.clone());
        }
        self.stopped_instances.push(record);
    }

    /// Instance numbers continue from `number` (ids stay unique across restarts).
    pub fn number_instances_from(&mut self, number: u64) {
        self.next_instance = number;
    }

    /// The runner's own id of a started attempt, kept to find it again after a restart.
    pub fn record_handle(&mut self, job_id: &str, handle: String) {
        if let Some(job) = self.jobs.get_mut(job_id) {
            if let Some(placement) = job.run.placement.as_mut() {
                placement.handle = Some(handle);
                self.changed_jobs.insert(job_id.to_owned());
            }
        }
    }

    /// The runner started the attempt (`running`: its process is up; a cluster may still queue it).
    pub fn started(&mut self, job_id: &str, now: i64, running: bool) {
        let Some(job) = self.jobs.get_mut(job_id) else { return };
        if job.detail.status.is_done() {
            return;
        }
        if running && job.detail.status != JobStatus::Running {
            job.detail.status = JobStatus::Running;
            job.detail.started_at.get_or_insert(now);
            if let Some(attempt) = job.detail.attempts.last_mut() {
                attempt.started_at.get_or_insert(now);
            }
            self.changed_jobs.insert(job_id.to_owned());
        }
        let parent = job.run.parent.clone();
        if let Some(parent) = parent {
            self.refresh_parent(&parent, now);
        }
    }

    /// The attempt ended: the job succeeds, fails, or is RUNNABLE again for its next attempt.
    pub fn exited(&mut self, job_id: &str, now: i64, exit: Exit) {
        let Some(job) = self.jobs.get_mut(job_id) else { return };
        // Only a started attempt can end (a stop may arrive after its start already failed).
        if !matches!(job.detail.status, JobStatus::Starting | JobStatus::Running) {
            return;
        }
        let placement = job.run.placement.take();
        let stop = job.run.stop.take();
        if let Some(deadline) = job.run.deadline.take() {
            self.deadlines.remove(&(deadline, job_id.to_owned()));
        }
        let status_reason = stop.as_ref().map_or(STATUS_REASON_EXITED.to_owned(), StopCause::status_reason);
        if let Some(attempt) = job.detail.attempts.last_mut() {
            attempt.started_at.get_or_insert(now);
            attempt.stopped_at = Some(now);
            attempt.status_reason = Some(status_reason.clone());
            attempt.container.exit_code = exit.exit_code;
            attempt.container.reason = exit.reason.clone();
        }
        job.detail.container.exit_code = exit.exit_code;
        job.detail.container.reason = exit.reason.clone();
        let succeeded = stop.is_none() && exit.exit_code == Some(0);
        let retry = !succeeded
            && !matches!(stop, Some(StopCause::Terminated(_)))
            && (job.detail.attempts.len() as u32) < job.run.attempts_allowed
            && should_retry(
                job.detail.retry_strategy.as_ref().map_or(&[][..], |strategy| &strategy.evaluate_on_exit),
                exit.exit_code,
                exit.reason.as_deref(),
                &status_reason,
            );
        let demand = job.run.demand;
        self.changed_jobs.insert(job_id.to_owned());
        if let Some(placement) = placement {
            self.release(&placement, job_id, &demand, now);
        }
        if retry {
            self.make_runnable(job_id);
        } else {
            let status = if succeeded { JobStatus::Succeeded } else { JobStatus::Failed };
            self.finish(job_id, status, status_reason, now);
        }
    }

    /// CancelJob: jobs not yet started fail; started ones are left to run (as AWS does).
    pub fn cancel(&mut self, job_id: &str, reason: &str, now: i64) {
        for id in self.with_children(job_id) {
            let Some(job) = self.jobs.get_mut(&id) else { continue };
            if matches!(job.detail.status, JobStatus::Submitted | JobStatus::Pending | JobStatus::Runnable) {
                job.detail.is_cancelled = true;
                self.unplace(&id, now);
                self.finish(&id, JobStatus::Failed, reason.to_owned(), now);
            }
        }
    }

    /// TerminateJob: like CancelJob, and started attempts are stopped; no retries.
    pub fn terminate(&mut self, job_id: &str, reason: &str, now: i64) {
        for id in self.with_children(job_id) {
            let Some(job) = self.jobs.get_mut(&id) else { continue };
            match job.detail.status {
                JobStatus::Submitted | JobStatus::Pending | JobStatus::Runnable => {
                    job.detail.is_terminated = true;
                    self.unplace(&id, now);
                    self.finish(&id, JobStatus::Failed, reason.to_owned(), now);
                }
                JobStatus::Starting | JobStatus::Running => {
                    job.detail.is_terminated = true;
                    job.run.stop = Some(StopCause::Terminated(reason.to_owned()));
                    self.changed_jobs.insert(id.clone());
                    self.effects.push(Effect::Stop { job_id: id });
                }
                JobStatus::Succeeded | JobStatus::Failed => {}
            }
        }
    }

    fn with_children(&self, job_id: &str) -> Vec<String> {
        let children = self.jobs.get(job_id).map(|job| job.run.children.clone()).unwrap_or_default();
        std::iter::once(job_id.to_owned()).chain(children).collect()
    }

    /// A RUNNABLE job waiting for a launching instance gives its place back.
    fn unplace(&mut self, job_id: &str, now: i64) {
        let Some(job) = self.jobs.get_mut(job_id) else { return };
        if let Some(run_queue) = self.runnable.get_mut(&job.run.queue) {
            run_queue.remove(&queued(job));
        }
        let demand = job.run.demand;
        if let Some(placement) = job.run.placement.take() {
            self.release(&placement, job_id, &demand, now);
        }
    }

    fn make_runnable(&mut self, job_id: &str) {
        let Some(job) = self.jobs.get_mut(job_id) else { return };
        job.detail.status = JobStatus::Runnable;
        self.changed_jobs.insert(job_id.to_owned());
        self.runnable.entry(job.run.queue.clone()).or_default().insert(&queued(job));
    }

    fn finish(&mut self, job_id: &str, status: JobStatus, status_reason: String, now: i64) {
        let Some(job) = self.jobs.get_mut(job_id) else { return };
        job.detail.status = status;
        job.detail.status_reason = Some(status_reason);
        job.detail.stopped_at = Some(now);
        self.changed_jobs.insert(job_id.to_owned());
        let parent = job.run.parent.clone();
        let waiting = self.dependents.remove(job_id).unwrap_or_default();
        for dependent in waiting {
            self.submitted.push(dependent);
        }
        if let Some(parent) = parent {
            self.refresh_parent(&parent, now);
        }
    }

    /// An array parent's status summary, and its end once every child has ended.
    fn refresh_parent(&mut self, parent_id: &str, now: i64) {
        let Some(parent) = self.jobs.get(parent_id) else { return };
        let mut summary: BTreeMap<String, u32> = JobStatus::ALL.iter().map(|status| (status.as_str().to_owned(), 0)).collect();
        let mut first_start: Option<i64> = None;
        for child in parent.run.children.iter().filter_map(|id| self.jobs.get(id)) {
            *summary.entry(child.detail.status.as_str().to_owned()).or_default() += 1;
            if let Some(started) = child.detail.started_at {
                first_start = Some(first_start.map_or(started, |first| first.min(started)));
            }
        }
        let size = parent.run.children.len() as u32;
        let done = summary["SUCCEEDED"] + summary["FAILED"];
        let failed = summary["FAILED"];
        let parent_status = parent.detail.status;
        if let Some(parent) = self.jobs.get_mut(parent_id) {
            parent.detail.array_properties =
                Some(ArrayPropertiesDetail { status_summary: Some(summary), status_summary_last_updated_at: Some(now), size: Some(size), index: None });
            if first_start.is_some() && parent.detail.started_at.is_none() {
                parent.detail.started_at = first_start;
            }
            self.changed_jobs.insert(parent_id.to_owned());
        }
        if done == size && !parent_status.is_done() {
            let (status, reason) = if failed == 0 {
                (JobStatus::Succeeded, "Array Child Job succeeded".to_owned())
            } else {
                (JobStatus::Failed, format!("Array Child Job failed: {failed} of {size} children failed"))
            };
            self.finish(parent_id, status, reason, now);
        }
    }

    /// Frees the job's share of its instance (or cluster).
    fn release(&mut self, placement: &Placement, job_id: &str, demand: &crate::job::Demand, now: i64) {
        self.release_from_queue(job_id);
        let Some(environment) = self.environments.get_mut(&placement.environment) else { return };
        match &placement.instance {
            Some(instance_id) => {
                let Some(index) = environment.instances.iter().position(|instance| &instance.record.instance_id == instance_id) else { return };
                let instance = &mut environment.instances[index];
                instance.used = instance.used.minus(demand);
                instance.jobs.retain(|id| id != job_id);
                if instance.jobs.is_empty() {
                    instance.idle_since = Some(now);
                    if environment.kind == CapacityKind::PerJob {
                        let record = environment.remove(index, now, false);
                        self.record_stopped(record);
                    }
                }
            }
            None => environment.external_used = environment.external_used.minus(demand),
        }
    }

    /// The job no longer holds part of its queue's capacity.
    fn release_from_queue(&mut self, job_id: &str) {
        let Some(job) = self.jobs.get(job_id) else { return };
        if let Some(run_queue) = self.runnable.get_mut(&job.run.queue) {
            run_queue.released(&queued(job).share, job.run.demand.millicpus);
        }
    }

    fn record_stopped(&mut self, record: InstanceRecord) {
        self.changed_instances.push(record.clone());
        self.stopped_instances.push(record);
    }

    // ---- the pass ----

    /// One scheduling pass at `now`: promotes submitted jobs, enforces timeouts, places RUNNABLE
    /// jobs (launching instances as needed) and stops idle or reclaimed instances. Returns when
    /// the next pass is due at the latest (None: only when something happens).
    pub fn schedule(&mut self, now: i64) -> Option<i64> {
        self.promote_submitted(now);
        self.interrupt_spot_instances(now);
        self.enforce_timeouts(now);
        self.start_on_ready_instances(now);
        self.place_runnable(now);
        self.keep_minimum(now);
        self.stop_idle_instances(now);
        self.next_deadline(now)
    }

    fn promote_submitted(&mut self, now: i64) {
        while let Some(job_id) = self.submitted.pop() {
            let Some(job) = self.jobs.get(&job_id) else { continue };
            if job.detail.status.is_done() {
                continue;
            }
            let dependencies: Vec<String> = job.dependencies().map(str::to_owned).collect();
            let is_parent = job.is_array_parent();
            let mut waiting_on = None;
            let mut failed_dependency = false;
            for dependency in &dependencies {
                match self.jobs.get(dependency).map(|job| job.detail.status) {
                    Some(JobStatus::Succeeded) | None => {}
                    Some(JobStatus::Failed) => failed_dependency = true,
                    Some(_) => {
                        waiting_on = Some(dependency.clone());
                        break;
                    }
                }
            }
            if failed_dependency {
                self.finish(&job_id, JobStatus::Failed, STATUS_REASON_DEPENDENCY_FAILED.to_owned(), now);
            } else if let Some(dependency) = waiting_on {
                self.dependents.entry(dependency).or_default().push(job_id.clone());
                self.set_status(&job_id, JobStatus::Pending);
            } else if is_parent {
                // The children do the work; the parent waits for them.
                self.set_status(&job_id, JobStatus::Pending);
            } else {
                self.make_runnable(&job_id);
            }
        }
    }

    fn set_status(&mut self, job_id: &str, status: JobStatus) {
        if let Some(job) = self.jobs.get_mut(job_id) {
            if job.detail.status != status {
                job.detail.status = status;
                self.changed_jobs.insert(job_id.to_owned());
            }
        }
    }

    fn interrupt_spot_instances(&mut self, now: i64) {
        let Some(after) = self.config.spot_interruption_after_ms else { return };
        let mut reclaimed = Vec::new();
        for environment in self.environments.values_mut() {
            if environment.market() != "SPOT" {
                continue;
            }
            while let Some(index) = environment.instances.iter().position(|instance| instance.record.launched_at + after <= now) {
                let jobs = environment.instances[index].jobs.clone();
                let record = environment.remove(index, now, true);
                reclaimed.push((record, jobs));
            }
        }
        for (record, jobs) in reclaimed {
            for job_id in jobs {
                let Some(job) = self.jobs.get_mut(&job_id) else { continue };
                match job.detail.status {
                    JobStatus::Starting | JobStatus::Running => {
                        job.run.stop = Some(StopCause::HostTerminated(record.instance_id.clone()));
                        // The instance is gone: nothing to give back when the attempt exits.
                        if let Some(placement) = job.run.placement.as_mut() {
                            placement.instance = None;
                            placement.environment = String::new();
                        }
                        self.effects.push(Effect::Stop { job_id });
                    }
                    _ => {
                        job.run.placement = None;
                        self.release_from_queue(&job_id);
                        self.make_runnable(&job_id);
                    }
                }
            }
            self.record_stopped(record);
        }
    }

    fn enforce_timeouts(&mut self, now: i64) {
        while let Some((deadline, job_id)) = self.deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(job) = self.jobs.get_mut(&job_id) else { continue };
            job.run.deadline = None;
            if job.run.stop.is_none() {
                job.run.stop = Some(StopCause::TimedOut);
                self.effects.push(Effect::Stop { job_id });
            }
        }
    }

    /// Jobs placed on instances that were launching start once those are ready.
    fn start_on_ready_instances(&mut self, now: i64) {
        let waiting: Vec<String> = self
            .environments
            .values()
            .flat_map(|environment| environment.instances.iter())
            .filter(|instance| instance.is_ready(now))
            .flat_map(|instance| instance.jobs.iter())
            .filter(|job_id| self.jobs.get(*job_id).is_some_and(|job| job.detail.status == JobStatus::Runnable))
            .cloned()
            .collect();
        for job_id in waiting {
            self.begin_attempt(&job_id, now);
        }
    }

    fn place_runnable(&mut self, now: i64) {
        let mut queues: Vec<&JobQueue> = self.queues.values().filter(|queue| queue.state == "ENABLED").collect();
        queues.sort_by_key(|queue| std::cmp::Reverse(queue.priority));
        let order: Vec<(String, Vec<String>)> = queues
            .into_iter()
            .map(|queue| {
                let mut environments = queue.compute_environment_order.clone();
                environments.sort_by_key(|entry| entry.order);
                (queue.job_queue_name.clone(), environments.into_iter().map(|entry| name_of(&entry.compute_environment).to_owned()).collect())
            })
            .collect();
        for (queue, environments) in order {
            let fair_share = self.fair_share_of(&queue);
            let capacity_millicpus: u64 =
                environments.iter().filter_map(|name| self.environments.get(name)).map(|environment| u64::from(environment.max_vcpus()) * 1000).sum();
            // Walks the queue in order without copying it: a full environment ends the walk early,
            // so a pass costs what it places, not what is queued.
            let mut walk = Walk::default();
            while let Some(run_queue) = self.runnable.get(&queue) {
                let Some(next) = run_queue.next(&walk, fair_share.as_ref(), now) else { break };
                walk.pass(&next);
                if !environments.iter().any(|name| self.environments.get(name).is_some_and(|environment| environment.is_enabled() && environment.has_room())) {
                    break;
                }
                let Some(demand) = self.jobs.get(&next.job_id).map(|job| job.run.demand) else { break };
                if let Some(fair_share) = &fair_share {
                    let usable = fair_share.usable_millicpus(capacity_millicpus, run_queue.active_shares());
                    if run_queue.placed_millicpus() + u64::from(demand.millicpus) > usable {
                        // The rest is held back for shares that are not active yet.
                        break;
                    }
                }
                if let Some((placement, ready)) = self.place(&next.job_id, &environments, now) {
                    if let Some(run_queue) = self.runnable.get_mut(&queue) {
                        run_queue.remove(&next);
                        run_queue.placed(&next.share, demand.millicpus, fair_share.as_ref(), now);
                    }
                    if let Some(job) = self.jobs.get_mut(&next.job_id) {
                        job.run.placement = Some(placement);
                    }
                    if ready {
                        self.begin_attempt(&next.job_id, now);
                    }
                }
            }
        }
    }

    /// Finds room for a job in the first environment that has it; true when it can start now.
    fn place(&mut self, job_id: &str, environments: &[String], now: i64) -> Option<(Placement, bool)> {
        let demand = self.jobs.get(job_id)?.run.demand;
        for name in environments {
            let Some(environment) = self.environments.get_mut(name) else { continue };
            if !environment.is_enabled() {
                continue;
            }
            let index = match environment.kind {
                CapacityKind::External => {
                    if environment.external_used.plus(&demand).whole_vcpus() > environment.max_vcpus() {
                        continue;
                    }
                    environment.external_used = environment.external_used.plus(&demand);
                    return Some((Placement { environment: name.clone(), instance: None, handle: None }, true));
                }
                CapacityKind::PerJob => {
                    if environment.running_vcpus() + demand.whole_vcpus() > environment.max_vcpus() {
                        continue;
                    }
                    self.next_instance += 1;
                    environment.launch_for_job(&demand, instance_id(self.next_instance), now, self.config.launch_delay_ms)
                }
                CapacityKind::Instances => match environment.best_fit(&demand) {
                    Some(index) => index,
                    None => {
                        let Some(instance_type) = environment.type_to_launch(&demand) else { continue };
                        self.next_instance += 1;
                        environment.launch(instance_type, instance_id(self.next_instance), now, self.config.launch_delay_ms)
                    }
                },
            };
            let instance = &mut environment.instances[index];
            instance.used = instance.used.plus(&demand);
            instance.jobs.push(job_id.to_owned());
            instance.idle_since = None;
            let placement = Placement { environment: name.clone(), instance: Some(instance.record.instance_id.clone()), handle: None };
            return Some((placement, instance.is_ready(now)));
        }
        None
    }

    fn begin_attempt(&mut self, job_id: &str, now: i64) {
        let Some(job) = self.jobs.get_mut(job_id) else { return };
        job.detail.status = JobStatus::Starting;
        let instance = job.run.placement.as_ref().and_then(|placement| {
            let environment = self.environments.get(&placement.environment)?;
            let instance_id = placement.instance.as_ref()?;
            let instance = environment.instances.iter().find(|instance| &instance.record.instance_id == instance_id)?;
            Some((instance_id.clone(), instance.record.instance_type.clone()))
        });
        let attempt = job.detail.attempts.len() + 1;
        let task = format!("{}-{attempt}", job.detail.job_id.replace(':', "-"));
        let definition_name = name_of(&job.detail.job_definition).split(':').next().unwrap_or_default();
        job.detail.container.log_stream_name = Some(format!("{definition_name}/default/{task}"));
        job.detail.container.task_arn = Some(format!("arn:aws:ecs:local:task/{task}"));
        job.detail.container.container_instance_arn = instance.as_ref().map(|(id, _)| format!("arn:aws:ecs:local:container-instance/{id}"));
        job.detail.container.instance_type = instance.map(|(_, instance_type)| instance_type);
        job.detail.container.exit_code = None;
        job.detail.container.reason = None;
        job.detail.attempts.push(AttemptDetail {
            container: AttemptContainerDetail {
                container_instance_arn: job.detail.container.container_instance_arn.clone(),
                task_arn: job.detail.container.task_arn.clone(),
                log_stream_name: job.detail.container.log_stream_name.clone(),
                ..AttemptContainerDetail::default()
            },
            ..AttemptDetail::default()
        });
        job.run.deadline = job.detail.timeout.and_then(|timeout| timeout.attempt_duration_seconds).map(|seconds| now + seconds as i64 * 1000);
        if let Some(deadline) = job.run.deadline {
            self.deadlines.insert((deadline, job_id.to_owned()));
        }
        self.changed_jobs.insert(job_id.to_owned());
        self.effects.push(Effect::Start { job_id: job_id.to_owned() });
    }

    /// Instances up to minvCpus, of the cheapest type, even without jobs.
    fn keep_minimum(&mut self, now: i64) {
        for environment in self.environments.values_mut() {
            if environment.kind != CapacityKind::Instances || !environment.is_enabled() {
                continue;
            }
            while environment.running_vcpus() < environment.min_vcpus() {
                let Some(cheapest) = environment.instance_types.iter().copied().min_by_key(|instance| instance.vcpus) else { break };
                if environment.running_vcpus() + cheapest.vcpus > environment.max_vcpus() {
                    break;
                }
                self.next_instance += 1;
                environment.launch(cheapest, instance_id(self.next_instance), now, self.config.launch_delay_ms);
            }
        }
    }

    fn stop_idle_instances(&mut self, now: i64) {
        let idle_timeout = self.config.idle_timeout_ms;
        let mut stopped = Vec::new();
        for environment in self.environments.values_mut() {
            let minimum = environment.min_vcpus();
            while let Some(index) = environment.instances.iter().position(|instance| {
                instance.jobs.is_empty() && instance.idle_since.is_some_and(|since| since + idle_timeout <= now)
            }) {
                if environment.running_vcpus() - environment.instances[index].record.vcpus < minimum {
                    break;
                }
                stopped.push(environment.remove(index, now, false));
            }
        }
        for record in stopped {
            self.record_stopped(record);
        }
    }

    /// The earliest moment after `now` at which a pass has something to do.
    fn next_deadline(&self, now: i64) -> Option<i64> {
        let instances = self.environments.values().flat_map(|environment| environment.instances.iter());
        let mut deadlines: Vec<i64> = Vec::new();
        for instance in instances {
            deadlines.push(instance.record.ready_at);
            if let Some(since) = instance.idle_since {
                deadlines.push(since + self.config.idle_timeout_ms);
            }
            if let (Some(after), "SPOT") = (self.config.spot_interruption_after_ms, instance.record.market.as_str()) {
                deadlines.push(instance.record.launched_at + after);
            }
        }
        deadlines.extend(self.deadlines.first().map(|(deadline, _)| *deadline));
        deadlines.into_iter().filter(|deadline| *deadline > now).min()
    }

    // ---- what the driver collects ----

    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Jobs changed since the last call: what must be written to the store.
    pub fn take_changed_jobs(&mut self) -> Vec<Job> {
        let changed = std::mem::take(&mut self.changed_jobs);
        changed.into_iter().filter_map(|id| self.jobs.get(&id).cloned()).collect()
    }

    pub fn take_changed_instances(&mut self) -> Vec<InstanceRecord> {
        std::mem::take(&mut self.changed_instances)
    }

    /// Every instance's life so far: stopped ones, then the ones up.
    pub fn instance_history(&self) -> Vec<InstanceRecord> {
        let running = self.environments.values().flat_map(|environment| environment.instances.iter().map(|instance| instance.record.clone()));
        self.stopped_instances.iter().cloned().chain(running).collect()
    }

    /// Jobs per queue and status (the CLI's queue depth).
    pub fn queue_depths(&self) -> BTreeMap<String, BTreeMap<JobStatus, usize>> {
        let mut depths: BTreeMap<String, BTreeMap<JobStatus, usize>> = BTreeMap::new();
        for job in self.jobs.values().filter(|job| !job.is_array_parent()) {
            *depths.entry(job.run.queue.clone()).or_default().entry(job.detail.status).or_default() += 1;
        }
        depths
    }
}

/// A RUNNABLE job's place in its queue's order.
fn queued(job: &Job) -> QueuedJob {
    let share = job.detail.share_identifier.clone();
    // Scheduling priorities order jobs within a share: they do not count on FIFO queues.
    let priority = if share.is_some() { job.detail.scheduling_priority.unwrap_or(0) } else { 0 };
    QueuedJob { share: share.unwrap_or_default(), priority, sequence: job.run.sequence, job_id: job.id().to_owned() }
}

fn instance_id(number: u64) -> String {
    format!("i-{number:017x}")
}

/// `name` or an ARN ending in `/name`.
pub fn name_of(name_or_arn: &str) -> &str {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
}
