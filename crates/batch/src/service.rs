//! The Batch service: the scheduler behind a lock, its state in the store, and the driver thread
//! that starts and stops attempts on the runners and reports their exits.

use crate::capacity::{CapacityKind, Environment, InstanceRecord};
use crate::error::{BatchError, BatchResult};
use crate::job::{Exit, Job};
use crate::model::{ComputeEnvironment, JobDefinition, JobQueue, SchedulingPolicy};
use crate::runner::{ArrayChild, JobRunner, Launch, Progress, RunningAttempt};
use crate::scheduler::{Effect, ScalerConfig, Scheduler};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use store::{Document, Store, Write};

pub const KIND_ENVIRONMENT: &str = "batch-compute-environment";
pub const KIND_QUEUE: &str = "batch-job-queue";
pub const KIND_DEFINITION: &str = "batch-job-definition";
pub const KIND_JOB: &str = "batch-job";
pub const KIND_INSTANCE: &str = "batch-instance";
pub const KIND_POLICY: &str = "batch-scheduling-policy";

/// The tag of a compute environment naming the runner of its jobs (`process`, `slurm`, ...).
pub const BACKEND_TAG: &str = "switchyard:backend";

#[derive(Debug, Clone)]
pub struct BatchConfig {
    pub region: String,
    pub account: String,
    pub scaler: ScalerConfig,
    /// Where attempts' logs are written.
    pub log_dir: PathBuf,
    /// The runner of environments without a `switchyard:backend` tag.
    pub default_backend: String,
    /// How often running attempts are asked how they are.
    pub poll_interval: Duration,
}

impl BatchConfig {
    pub fn new(log_dir: PathBuf) -> BatchConfig {
        BatchConfig {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            scaler: ScalerConfig::default(),
            log_dir,
            default_backend: "process".into(),
            poll_interval: Duration::from_millis(10),
        }
    }

    pub fn arn(&self, resource: &str) -> String {
        format!("arn:aws:batch:{}:{}:{resource}", self.region, self.account)
    }
}

pub(crate) struct State {
    pub scheduler: Scheduler,
    /// Revisions of each job definition, oldest first.
    pub definitions: BTreeMap<String, Vec<JobDefinition>>,
    /// Something happened that the driver should look at now.
    pub poked: bool,
    pub stopped: bool,
}

pub struct Batch {
    pub(crate) config: BatchConfig,
    store: Arc<dyn Store>,
    runners: HashMap<String, Arc<dyn JobRunner>>,
    state: Mutex<State>,
    wake: Condvar,
}

/// Runners that clusters keep attempts in can find them again after a restart.
const REATTACHABLE_BACKENDS: &[&str] = &["slurm"];

impl Batch {
    /// Loads every resource and job from the store. Runners are named by backend (`process`,
    /// `slurm`, ...).
    pub fn open(store: Arc<dyn Store>, config: BatchConfig, runners: HashMap<String, Arc<dyn JobRunner>>) -> BatchResult<Arc<Batch>> {
        let now = now_ms();
        let mut scheduler = Scheduler::new(config.scaler);
        let mut definitions: BTreeMap<String, Vec<JobDefinition>> = BTreeMap::new();
        for environment in load::<ComputeEnvironment>(&*store, KIND_ENVIRONMENT)? {
            let kind = capacity_kind(&environment, &config.default_backend);
            scheduler.put_environment(Environment::new(environment, kind));
        }
        for policy in load::<SchedulingPolicy>(&*store, KIND_POLICY)? {
            scheduler.put_policy(policy);
        }
        for queue in load::<JobQueue>(&*store, KIND_QUEUE)? {
            scheduler.put_queue(queue);
        }
        for definition in load::<JobDefinition>(&*store, KIND_DEFINITION)? {
            definitions.entry(definition.job_definition_name.clone()).or_default().push(definition);
        }
        for revisions in definitions.values_mut() {
            revisions.sort_by_key(|definition| definition.revision);
        }
        let instances = load::<InstanceRecord>(&*store, KIND_INSTANCE)?;
        scheduler.number_instances_from(instances.len() as u64 + 1);
        for record in instances {
            scheduler.restore_instance(record, now);
        }
        let mut jobs = load::<Job>(&*store, KIND_JOB)?;
        jobs.sort_by_key(|job| job.run.sequence);
        for job in jobs {
            let backend = job.run.placement.as_ref().and_then(|placement| scheduler.environment(&placement.environment)).map(|environment| backend_of(&environment.spec, &config.default_backend));
            let reattachable = backend.is_some_and(|backend| REATTACHABLE_BACKENDS.contains(&backend.as_str()));
            scheduler.restore(job, reattachable);
        }
        let state = State { scheduler, definitions, poked: true, stopped: false };
        Ok(Arc::new(Batch { config, store, runners, state: Mutex::new(state), wake: Condvar::new() }))
    }

    /// Starts the driver thread; it runs until [`Batch::shut_down`].
    /// The backend of environments that name none (`process`, `engine`, `slurm`).
    pub fn default_backend(&self) -> &str {
        &self.config.default_backend
    }

    pub fn start(self: &Arc<Batch>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let batch = self.clone();
        std::thread::Builder::new().name("batch-driver".into()).spawn(move || batch.drive())
    }

    pub fn shut_down(&self) {
        self.lock().stopped = true;
        self.wake.notify_all();
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the driver to look now.
    pub(crate) fn poke(&self, state: &mut State) {
        state.poked = true;
        self.wake.notify_all();
    }

    /// Makes `writes` durable before returning.
    pub(crate) fn write(&self, writes: Vec<Write>) -> BatchResult<()> {
        Ok(store::commit_blocking(self.store.as_ref(), writes)?)
    }

    /// Writes what the scheduler changed, without waiting (the order of batches is kept).
    fn write_changes(&self, state: &mut State) {
        let jobs = state.scheduler.take_changed_jobs();
        let instances = state.scheduler.take_changed_instances();
        if jobs.is_empty() && instances.is_empty() {
            return;
        }
        let mut writes: Vec<Write> = jobs.iter().filter_map(|job| document(KIND_JOB, job.id(), job)).collect();
        writes.extend(instances.iter().filter_map(|record| document(KIND_INSTANCE, &record.instance_id, record)));
        self.store.submit(
            writes,
            Box::new(|result| {
                if let Err(error) = result {
                    tracing::error!(%error, "batch: job states were not stored");
                }
            }),
        );
    }

    /// The log of a job's latest attempt.
    pub fn job_log(&self, job_id: &str) -> Option<String> {
        let stream = self.lock().scheduler.job(job_id)?.detail.container.log_stream_name.clone()?;
        std::fs::read_to_string(self.log_path(&stream)).ok()
    }

    fn log_path(&self, log_stream_name: &str) -> PathBuf {
        self.config.log_dir.join(format!("{}.log", log_stream_name.replace('/', "_")))
    }

    /// Every instance's life so far.
    pub fn instance_history(&self) -> Vec<InstanceRecord> {
        self.lock().scheduler.instance_history()
    }

    /// A copy of one job as the scheduler has it.
    pub fn job(&self, job_id: &str) -> Option<Job> {
        self.lock().scheduler.job(job_id).cloned()
    }

    // ---- the driver ----

    fn drive(&self) {
        let mut running: HashMap<String, Attempt> = HashMap::new();
        loop {
            let now = now_ms();
            let (effects, next_deadline) = {
                let mut state = self.lock();
                if state.stopped {
                    break;
                }
                state.poked = false;
                let next = state.scheduler.schedule(now);
                (state.scheduler.take_effects(), next)
            };
            let mut busy = !effects.is_empty();
            let mut starts = Vec::new();
            for effect in effects {
                match effect {
                    Effect::Start { job_id } => starts.push(job_id),
                    Effect::Stop { job_id } => match running.get_mut(&job_id) {
                        Some(attempt) => attempt.attempt.stop(),
                        None => self.lock().scheduler.exited(&job_id, now, Exit { exit_code: None, reason: Some("Task stopped before it started".into()) }),
                    },
                }
            }
            self.start_attempts(&starts, &mut running);
            busy |= self.poll_attempts(&mut running);
            let mut state = self.lock();
            self.write_changes(&mut state);
            if busy || state.poked {
                continue;
            }
            let until_deadline = next_deadline.map(|deadline| Duration::from_millis((deadline - now_ms()).max(1) as u64));
            let wait = match (running.is_empty(), until_deadline) {
                (false, Some(until)) => until.min(self.config.poll_interval),
                (false, None) => self.config.poll_interval,
                (true, Some(until)) => until,
                (true, None) => Duration::from_secs(1),
            };
            let _ = self.wake.wait_timeout_while(state, wait, |state| !state.poked && !state.stopped);
        }
        for attempt in running.values_mut() {
            // Local processes do not outlive the server; their jobs run again after a restart.
            attempt.attempt.stop();
        }
    }

    /// Starts (or finds again) the attempts of these jobs. Children of one array job starting
    /// together go to their runner as one array.
    fn start_attempts(&self, job_ids: &[String], running: &mut HashMap<String, Attempt>) {
        let mut arrays: Vec<(Arc<dyn JobRunner>, Vec<Launch>)> = Vec::new();
        for job_id in job_ids {
            let Some((launch, runner, handle)) = self.launch_of(job_id) else { continue };
            match (runner, handle) {
                (Some(runner), Some(handle)) => {
                    let attempt = runner.reattach(&handle, &launch).ok_or_else(|| format!("CannotInspectContainerError: attempt {handle} was lost"));
                    self.record_start(job_id, attempt, running);
                }
                (Some(runner), None) => {
                    let same_array = |(other, launches): &&mut (Arc<dyn JobRunner>, Vec<Launch>)| {
                        Arc::ptr_eq(other, &runner) && launches.first().is_some_and(|first| in_same_array(first, &launch))
                    };
                    match arrays.iter_mut().find(same_array) {
                        Some((_, launches)) => launches.push(launch),
                        None => arrays.push((runner, vec![launch])),
                    }
                }
                (None, _) => self.record_start(job_id, Err("CannotStartContainerError: no runner for this compute environment".into()), running),
            }
        }
        for (runner, launches) in arrays {
            let attempts = if launches.len() == 1 { vec![runner.start(&launches[0])] } else { runner.start_array(&launches) };
            for (launch, attempt) in launches.iter().zip(attempts) {
                self.record_start(&launch.job_id, attempt, running);
            }
        }
    }

    fn record_start(&self, job_id: &str, started: Result<Box<dyn RunningAttempt>, String>, running: &mut HashMap<String, Attempt>) {
        let now = now_ms();
        let mut state = self.lock();
        match started {
            Ok(attempt) => {
                if let Some(handle) = attempt.handle() {
                    state.scheduler.record_handle(job_id, handle);
                }
                running.insert(job_id.to_owned(), Attempt { attempt, running: false });
            }
            Err(reason) => {
                tracing::warn!(job_id, %reason, "batch: attempt did not start");
                state.scheduler.exited(job_id, now, Exit { exit_code: None, reason: Some(reason) });
            }
        }
    }

    /// What the runner needs for the job's current attempt.
    fn launch_of(&self, job_id: &str) -> Option<PlannedAttempt> {
        let state = self.lock();
        let job = state.scheduler.job(job_id)?;
        let placement = job.run.placement.as_ref()?;
        let environment = state.scheduler.environment(&placement.environment)?;
        let runner = self.runners.get(&backend_of(&environment.spec, &self.config.default_backend)).cloned();
        let detail = &job.detail;
        let attempt = detail.attempts.len() as u32;
        let mut variables: Vec<(String, String)> = vec![
            ("AWS_BATCH_JOB_ID".into(), detail.job_id.clone()),
            ("AWS_BATCH_JOB_ATTEMPT".into(), attempt.to_string()),
            ("AWS_BATCH_JQ_NAME".into(), job.run.queue.clone()),
            ("AWS_BATCH_CE_NAME".into(), placement.environment.clone()),
        ];
        variables.extend(detail.container.environment.iter().map(|variable| (variable.name.clone(), variable.value.clone())));
        let stream = detail.container.log_stream_name.clone().unwrap_or_else(|| detail.job_id.clone());
        let launch = Launch {
            job_id: detail.job_id.clone(),
            job_name: detail.job_name.clone(),
            attempt,
            image: detail.container.image.clone(),
            command: detail.container.command.clone(),
            working_dir: detail.container.other.get("workingDirectory").and_then(Value::as_str).map(str::to_owned),
            environment: variables,
            demand: job.run.demand,
            timeout_seconds: detail.timeout.and_then(|timeout| timeout.attempt_duration_seconds),
            log_path: self.log_path(&stream),
            array_child: job.run.parent.clone().zip(detail.array_properties.as_ref().and_then(|array| array.index)).map(|(parent_job_id, index)| ArrayChild { parent_job_id, index }),
        };
        Some((launch, runner, placement.handle.clone()))
    }

    /// Reports what changed among running attempts; true when any did.
    fn poll_attempts(&self, running: &mut HashMap<String, Attempt>) -> bool {
        let mut progress = Vec::new();
        for (job_id, attempt) in running.iter_mut() {
            match attempt.attempt.poll() {
                Progress::Queued => {}
                Progress::Running if attempt.running => {}
                Progress::Running => {
                    attempt.running = true;
                    progress.push((job_id.clone(), None));
                }
                Progress::Exited(exit) => progress.push((job_id.clone(), Some(exit))),
            }
        }
        if progress.is_empty() {
            return false;
        }
        let now = now_ms();
        let mut state = self.lock();
        for (job_id, exit) in progress {
            match exit {
                None => state.scheduler.started(&job_id, now, true),
                Some(exit) => {
                    running.remove(&job_id);
                    state.scheduler.started(&job_id, now, true);
                    state.scheduler.exited(&job_id, now, exit);
                }
            }
        }
        true
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// An attempt to start: what to run, the runner of its environment, and its handle when it was
/// started before a restart.
type PlannedAttempt = (Launch, Option<Arc<dyn JobRunner>>, Option<String>);

struct Attempt {
    attempt: Box<dyn RunningAttempt>,
    /// Whether the scheduler was told it runs.
    running: bool,
}

/// Attempts of children of the same array job, of the same number.
fn in_same_array(first: &Launch, other: &Launch) -> bool {
    let parent = |launch: &Launch| launch.array_child.as_ref().map(|child| child.parent_job_id.clone());
    parent(first).is_some() && parent(first) == parent(other) && first.attempt == other.attempt
}

/// The runner an environment's jobs go to.
pub fn backend_of(environment: &ComputeEnvironment, default_backend: &str) -> String {
    environment.tags.get(BACKEND_TAG).cloned().unwrap_or_else(|| default_backend.to_owned())
}

pub fn capacity_kind(environment: &ComputeEnvironment, default_backend: &str) -> CapacityKind {
    match &environment.compute_resources {
        _ if REATTACHABLE_BACKENDS.contains(&backend_of(environment, default_backend).as_str()) => CapacityKind::External,
        None => CapacityKind::External,
        Some(resources) if resources.is_fargate() => CapacityKind::PerJob,
        Some(_) => CapacityKind::Instances,
    }
}

pub(crate) fn document<T: Serialize>(kind: &str, key: &str, value: &T) -> Option<Write> {
    match serde_json::to_string(value) {
        Ok(body) => Some(Write::PutDocument(Document { kind: kind.to_owned(), key: key.to_owned(), body })),
        Err(error) => {
            tracing::error!(kind, key, %error, "batch: a document could not be serialized");
            None
        }
    }
}

fn load<T: DeserializeOwned>(store: &dyn Store, kind: &str) -> BatchResult<Vec<T>> {
    store
        .documents(kind)?
        .into_iter()
        .map(|document| serde_json::from_str(&document.body).map_err(|error| BatchError::server(format!("stored {kind} {}: {error}", document.key))))
        .collect()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}
