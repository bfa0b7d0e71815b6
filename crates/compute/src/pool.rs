//! Runs functions the way Lambda does: in execution environments that stay started between
//! invocations, per function.
//!
//! An invocation takes an idle environment of its function when there is one (a warm start) and
//! starts a new one only when there is none (a cold start). Environments idle for longer than the
//! idle timeout are stopped, except the function's provisioned concurrency, which is started ahead
//! and kept. Invocations beyond a function's reserved concurrency are throttled. A function whose
//! code or configuration changed never runs in an environment started for the old one.

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

use crate::function::FunctionSpec;
use crate::instance::{Instance, StartFailure};
use crate::invocation::{Cancellation, FunctionError, FunctionRunner, Invocation, Outcome};
use crate::launch::Interpreters;
use crate::zygote::Zygotes;

/// How long an environment stays started without invocations, by default (Lambda keeps them for
/// minutes, unspecified).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The Runtime API endpoints are all served by this many threads.
const RUNTIME_API_THREADS: usize = 2;
/// The reaper looks for idle environments at most this long after they expire.
const MAX_REAP_INTERVAL: Duration = Duration::from_secs(1);

/// A [`FunctionRunner`] that keeps warm environments per function. Clones share the environments.
#[derive(Clone)]
pub struct ProcessRunner {
    interpreters: Interpreters,
    pools: Arc<Pools>,
}

struct Pools {
    functions: Mutex<HashMap<String, FunctionPool>>,
    idle_timeout_ms: AtomicU64,
    /// Serves the Runtime API of every environment; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    /// The Python templates that fork Python environments.
    zygotes: Arc<Zygotes>,
}

/// The environments of one function.
struct FunctionPool {
    /// What its environments run.
    spec: FunctionSpec,
    /// Counts the changes of `spec`: an environment of an older generation is not reused.
    generation: u64,
    /// Most recently used last.
    idle: Vec<Instance>,
    /// Invocations running now.
    busy: u32,
    /// Environments being started ahead of invocations.
    starting: u32,
}

impl Default for ProcessRunner {
    fn default() -> ProcessRunner {
        ProcessRunner::new()
    }
}

impl ProcessRunner {
    pub fn new() -> ProcessRunner {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(RUNTIME_API_THREADS).thread_name("runtime-api").enable_io().build().ok();
        let pools = Arc::new(Pools {
            functions: Mutex::new(HashMap::new()),
            idle_timeout_ms: AtomicU64::new(millis(DEFAULT_IDLE_TIMEOUT)),
            runtime,
            zygotes: Arc::default(),
        });
        start_reaper(Arc::downgrade(&pools));
        ProcessRunner { interpreters: Interpreters::default(), pools }
    }

    /// The Python interpreter to run Python functions with (default: `python3` from `PATH`).
    pub fn with_python(mut self, interpreter: impl Into<OsString>) -> ProcessRunner {
        self.interpreters.python = interpreter.into();
        self
    }

    /// The Node.js interpreter to run Node.js functions with (default: `node` from `PATH`).
    pub fn with_node(mut self, interpreter: impl Into<OsString>) -> ProcessRunner {
        self.interpreters.node = interpreter.into();
        self
    }

    /// How long an environment stays started without invocations (default [`DEFAULT_IDLE_TIMEOUT`]),
    /// for every clone of this runner.
    pub fn with_idle_timeout(self, idle_timeout: Duration) -> ProcessRunner {
        self.pools.idle_timeout_ms.store(millis(idle_timeout), Ordering::Relaxed);
        self
    }

    /// Starts the function's provisioned concurrency now rather than at its first invocation.
    pub fn provision(&self, spec: &FunctionSpec) {
        let mut functions = self.pools.lock();
        let (pool, retired) = pool_for(&mut functions, spec);
        self.top_up(pool, spec);
        drop(functions);
        drop(retired);
    }

    /// Stops the environments of a function that is gone (deleted): the idle ones now, the busy
    /// ones when their invocation ends.
    pub fn retire(&self, function: &str) {
        let retired = self.pools.lock().remove(function);
        drop(retired);
    }

    /// Environments of `function` started now: (idle, running an invocation).
    pub fn environments(&self, function: &str) -> (usize, u32) {
        self.pools.lock().get(function).map_or((0, 0), |pool| (pool.idle.len(), pool.busy))
    }

    /// Starts the environments missing from the function's provisioned concurrency, in the
    /// background; they join the idle ones as they are ready.
    fn top_up(&self, pool: &mut FunctionPool, spec: &FunctionSpec) {
        let started = u32::try_from(pool.idle.len()).unwrap_or(u32::MAX).saturating_add(pool.busy).saturating_add(pool.starting);
        let missing = spec.concurrency.provisioned.saturating_sub(started);
        if missing == 0 {
            return;
        }
        let Some(runtime) = self.pools.runtime.as_ref().map(|runtime| runtime.handle().clone()) else {
            return;
        };
        pool.starting += missing;
        let generation = pool.generation;
        for _ in 0..missing {
            let (pools, interpreters, spec, runtime) = (Arc::downgrade(&self.pools), self.interpreters.clone(), spec.clone(), runtime.clone());
            let zygotes = Arc::clone(&self.pools.zygotes);
            thread::spawn(move || {
                // One that fails to start is started again by the next invocation's top-up.
                let started = Instance::start(&spec, &interpreters, &zygotes, &runtime, true);
                let Some(pools) = pools.upgrade() else { return };
                let mut functions = pools.lock();
                let Some(pool) = functions.get_mut(&spec.name) else { return };
                pool.starting = pool.starting.saturating_sub(1);
                let stale = match started {
                    Ok(instance) if pool.generation == generation => {
                        pool.idle.push(instance);
                        None
                    }
                    other => other.ok(),
                };
                // A function that changed meanwhile: its environment is stopped, not under the lock.
                drop(functions);
                drop(stale);
            });
        }
    }

    /// Takes an environment for an invocation of `spec`: an idle one, `None` to start one, or
    /// `Err` when the function's reserved concurrency is all in use.
    fn acquire(&self, spec: &FunctionSpec) -> Result<(Option<Instance>, u64), Throttled> {
        let mut stopped = Vec::new();
        let acquired = {
            let mut functions = self.pools.lock();
            let (pool, retired) = pool_for(&mut functions, spec);
            stopped.extend(retired);
            self.top_up(pool, spec);
            if spec.concurrency.reserved.is_some_and(|reserved| pool.busy >= reserved) {
                Err(Throttled)
            } else {
                pool.busy += 1;
                let mut warm = None;
                while let Some(mut instance) = pool.idle.pop() {
                    if instance.is_alive() {
                        warm = Some(instance);
                        break;
                    }
                    stopped.push(instance);
                }
                Ok((warm, pool.generation))
            }
        };
        // Stopping waits for the processes: not while holding the lock.
        drop(stopped);
        acquired
    }

    /// Gives back the environment of an invocation that ended; `None` when it was discarded.
    fn release(&self, function: &str, generation: u64, instance: Option<Instance>) {
        let mut functions = self.pools.lock();
        let Some(pool) = functions.get_mut(function) else {
            return;
        };
        pool.busy = pool.busy.saturating_sub(1);
        let stale = match instance {
            Some(instance) if pool.generation == generation => {
                pool.idle.push(instance);
                None
            }
            other => other,
        };
        drop(functions);
        drop(stale);
    }
}

struct Throttled;

impl FunctionRunner for ProcessRunner {
    fn invoke(&self, spec: &FunctionSpec, payload: &Value, cancellation: &Cancellation) -> Invocation {
        let request_id = Uuid::new_v4().to_string();
        let Ok((warm, generation)) = self.acquire(spec) else {
            return Invocation::without_environment(request_id, Outcome::Throttled);
        };
        let instance = match (warm, &self.pools.runtime) {
            (Some(instance), _) => Ok(instance),
            (None, Some(runtime)) => Instance::start(spec, &self.interpreters, &self.pools.zygotes, runtime.handle(), false),
            (None, None) => Err(StartFailure::Machine("the runner is shutting down".to_string())),
        };
        let mut instance = match instance {
            Ok(instance) => instance,
            Err(failure) => {
                self.release(&spec.name, generation, None);
                let outcome = match failure {
                    StartFailure::Machine(reason) => Outcome::Unavailable(format!("function {:?}: {reason}", spec.name)),
                    StartFailure::Entrypoint(reason) => Outcome::Failed(FunctionError::invalid_entrypoint(&request_id, &reason)),
                };
                return Invocation::without_environment(request_id, outcome);
            }
        };
        let ended = instance.invoke(spec, payload, &request_id, cancellation);
        self.release(&spec.name, generation, ended.reusable.then_some(instance));
        ended.invocation
    }

    fn provision(&self, spec: &FunctionSpec) {
        ProcessRunner::provision(self, spec);
    }

    fn retire(&self, function: &str) {
        ProcessRunner::retire(self, function);
    }
}

impl Pools {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, FunctionPool>> {
        // A panic while holding the lock leaves the pools consistent enough: counts only.
        self.functions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stops the environments idle for longer than the idle timeout, keeping the provisioned ones.
    fn reap(&self) {
        let idle_timeout = Duration::from_millis(self.idle_timeout_ms.load(Ordering::Relaxed));
        let now = Instant::now();
        let mut expired = Vec::new();
        for pool in self.lock().values_mut() {
            let provisioned = usize::try_from(pool.spec.concurrency.provisioned).unwrap_or(usize::MAX);
            let busy = usize::try_from(pool.busy).unwrap_or(usize::MAX);
            // The least recently used come first.
            while pool.idle.len() + busy > provisioned
                && pool.idle.first().is_some_and(|oldest| now.duration_since(oldest.idle_since) >= idle_timeout)
            {
                expired.push(pool.idle.remove(0));
            }
        }
        drop(expired);
    }
}

impl Drop for Pools {
    fn drop(&mut self) {
        // Stop the environments before the runtime that serves their endpoints.
        self.lock().clear();
        if let Some(runtime) = self.runtime.take() {
            // Dropping may happen inside another runtime, where waiting for this one is not allowed.
            runtime.shutdown_background();
        }
    }
}

/// The pool of `spec`'s function, created or brought to `spec`, and the environments that ran an
/// older version of it, to be stopped by the caller once the lock is released.
fn pool_for<'a>(functions: &'a mut HashMap<String, FunctionPool>, spec: &FunctionSpec) -> (&'a mut FunctionPool, Vec<Instance>) {
    let pool = functions.entry(spec.name.clone()).or_insert_with(|| FunctionPool {
        spec: spec.clone(),
        generation: 0,
        idle: Vec::new(),
        busy: 0,
        starting: 0,
    });
    if pool.spec.runs_like(spec) {
        pool.spec.concurrency = spec.concurrency;
        return (pool, Vec::new());
    }
    pool.spec = spec.clone();
    pool.generation += 1;
    pool.starting = 0;
    let retired = std::mem::take(&mut pool.idle);
    (pool, retired)
}

/// Reaps idle environments until the pools are dropped.
fn start_reaper(pools: Weak<Pools>) {
    let spawned = thread::Builder::new().name("function-reaper".to_string()).spawn(move || loop {
        let interval = match pools.upgrade() {
            Some(pools) => {
                pools.reap();
                Duration::from_millis(pools.idle_timeout_ms.load(Ordering::Relaxed) / 2).clamp(Duration::from_millis(10), MAX_REAP_INTERVAL)
            }
            None => return,
        };
        thread::sleep(interval);
    });
    // Without a reaper, idle environments only go with the runner: not worth failing for.
    drop(spawned);
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
