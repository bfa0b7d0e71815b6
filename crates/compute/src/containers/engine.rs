//! The engine runner: containers on a Docker Engine API — Docker itself, or Podman's compatible
//! service (`podman system service`).
//!
//! The engine is found through `DOCKER_HOST`, or else the first of the usual sockets that answers
//! (Docker's, then Podman's system and rootless ones). Images are used as they are in the local
//! store; a missing image is pulled when the [`PullPolicy`] allows it. Containers are not removed
//! by the engine when they exit (no auto-remove): their exit code, OOM flag, times and logs are
//! read first, also after a crash of Switchyard, and then they are removed. What a restarted
//! runner needs to wait on a container again (its deadline, its log file) is in its labels.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::future::Future;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, HostConfig};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::StreamExt;

use super::logs;
use super::{
    deadline_of, labels_of, ContainerEnd, ContainerError, ContainerErrorKind, ContainerOutcome, ContainerRunner, ContainerSpec,
    StartedContainer, OWNER_LABEL,
};
use crate::invocation::Cancellation;

/// When the container was started and its deadline (milliseconds since the epoch), for a runner
/// that adopts it.
const STARTED_LABEL: &str = "io.switchyard.started-ms";
const DEADLINE_LABEL: &str = "io.switchyard.deadline-ms";
/// Where its logs are copied when it ends.
const LOG_FILE_LABEL: &str = "io.switchyard.log-file";
/// Sockets tried, in order, when `DOCKER_HOST` is not set (`{uid}` is the user's id).
const USUAL_SOCKETS: [&str; 4] = ["/var/run/docker.sock", "/run/podman/podman.sock", "/run/user/{uid}/podman/podman.sock", "/run/user/{uid}/docker.sock"];
/// How often a waiting container checks the cancellation.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Requests last as long as the container (waits) or a pull: the runner applies its own deadlines.
const REQUEST_TIMEOUT_SECONDS: u64 = 24 * 3600;
/// How long connecting to an engine may take before it counts as absent.
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// How often listing containers is retried while Podman shows a transient state.
const LIST_ATTEMPTS: u32 = 50;
const LIST_RETRY_INTERVAL: Duration = Duration::from_millis(100);
const MIN_NANO_CPUS: i64 = 10_000_000;
/// The exit code of a process killed by SIGKILL.
const KILLED_EXIT_CODE: i64 = 137;

/// When an image is pulled from its registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Only local images are used.
    Never,
    /// Pulled when it is not in the local store (the default).
    #[default]
    Missing,
    /// Pulled before every start; the local image is used when the registry cannot be reached.
    Always,
}

/// How to reach the engine and run containers on it.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `unix:///path`, `tcp://host:port` or a socket path; `None`: `DOCKER_HOST`, then the usual
    /// sockets.
    pub host: Option<String>,
    pub pull: PullPolicy,
    /// Names the Switchyard instance in the owner label of its containers.
    pub owner: String,
    /// How long a stopped container gets between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
}

impl EngineConfig {
    pub fn new(owner: impl Into<String>) -> EngineConfig {
        EngineConfig { host: None, pull: PullPolicy::default(), owner: owner.into(), stop_grace: Duration::from_secs(10) }
    }
}

/// A [`ContainerRunner`] over the Docker Engine API.
pub struct EngineRunner {
    docker: Docker,
    /// `docker` or `podman`, from the engine's version.
    name: String,
    config: EngineConfig,
    /// bollard is asynchronous and the runner's callers are threads: its requests run here.
    runtime: ClientRuntime,
}

/// A runtime that may be dropped anywhere, also inside another runtime (where dropping a tokio
/// runtime would block, which tokio forbids): it shuts down in the background.
struct ClientRuntime(Option<tokio::runtime::Runtime>);

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl EngineRunner {
    /// Connects to the engine, or says why none answers.
    pub fn connect(config: EngineConfig) -> Result<EngineRunner, ContainerError> {
        let runtime = ClientRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("container-engine")
                .enable_all()
                .build()
                .map_err(|error| engine_error(format!("cannot start the engine client: {error}")))?,
        ));
        let (docker, name) = block_on(&runtime, find_engine(config.host.clone()))??;
        Ok(EngineRunner { docker, name, config, runtime })
    }

    fn block<F>(&self, future: F) -> Result<F::Output, ContainerError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        block_on(&self.runtime, future)
    }

    /// Makes sure the image is in the local store, pulling it as the policy says.
    async fn provide_image(docker: Docker, image: String, policy: PullPolicy) -> Result<(), ContainerError> {
        let local = docker.inspect_image(&image).await;
        let pull = match (policy, &local) {
            (PullPolicy::Never, _) | (PullPolicy::Missing, Ok(_)) => false,
            (PullPolicy::Missing, Err(_)) | (PullPolicy::Always, _) => true,
        };
        let pulled = if pull { pull_image(&docker, &image).await } else { Ok(()) };
        match (local, pulled) {
            (_, Ok(())) if pull => Ok(()),
            (Ok(_), _) => Ok(()),
            (Err(error), Ok(())) => Err(ContainerError::new(
                ContainerErrorKind::Image,
                format!("CannotPullContainerError: the image {image} is not in the local store and the pull policy forbids pulling ({})", describe(&error)),
            )),
            (Err(_), Err(error)) => Err(ContainerError::new(ContainerErrorKind::Image, format!("CannotPullContainerError: pull image {image}: {error}"))),
        }
    }

    async fn create_and_start(docker: Docker, body: ContainerCreateBody) -> Result<String, ContainerError> {
        let created = docker.create_container(None, body).await.map_err(|error| start_error(format!("create: {}", describe(&error))))?;
        if let Err(error) = docker.start_container(&created.id, None).await {
            // A container that never ran is not kept.
            let _ = docker.remove_container(&created.id, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await;
            return Err(start_error(format!("CannotStartContainerError: {}", describe(&error))));
        }
        Ok(created.id)
    }

    /// Waits until the container is not running, its deadline passes or the cancellation fires;
    /// stops it in the last two cases.
    async fn watch(docker: Docker, container: StartedContainer, cancellation: Cancellation, stop_grace: Duration) -> Result<ContainerEnd, ContainerError> {
        // The log file fills as the container writes (a task reads it while it runs); `collect`
        // writes it whole at the end.
        let _follower = container.log_file.clone().map(|file| AbortOnDrop(tokio::spawn(follow_logs(docker.clone(), container.id.clone(), file))));
        let condition = WaitContainerOptionsBuilder::default().condition("not-running").build();
        let mut exited = Box::pin(docker.wait_container(&container.id, Some(condition)));
        let deadline = container.deadline.map(|deadline| deadline.duration_since(SystemTime::now()).unwrap_or_default());
        let timed_out = async {
            match deadline {
                Some(remaining) => tokio::time::sleep(remaining).await,
                None => std::future::pending().await,
            }
        };
        let cancelled = async {
            while !cancellation.is_cancelled() {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        };
        let end = tokio::select! {
            // A wait answers (with the exit code, or an error bollard makes of a non-zero one) when
            // the container is not running, or fails when it is gone: inspecting tells which.
            _ = exited.next() => return Ok(ContainerEnd::Exited),
            () = timed_out => ContainerEnd::TimedOut,
            () = cancelled => ContainerEnd::Stopped,
        };
        let grace = i32::try_from(stop_grace.as_secs()).unwrap_or(i32::MAX);
        docker
            .stop_container(&container.id, Some(StopContainerOptionsBuilder::default().t(grace).build()))
            .await
            .map_err(|error| engine_error(format!("stop: {}", describe(&error))))?;
        Ok(end)
    }

    /// Reads how the container ended and its logs, then removes it.
    async fn collect(docker: Docker, runner: String, container: StartedContainer, end: ContainerEnd) -> ContainerOutcome {
        let state = match docker.inspect_container(&container.id, None).await {
            Ok(state) => state,
            Err(error) => {
                return ContainerOutcome {
                    runner,
                    container_id: Some(container.id.clone()),
                    end: ContainerEnd::Lost(format!("the engine no longer knows the container: {}", describe(&error))),
                    exit_code: None,
                    oom_killed: false,
                    started_at: Some(container.started_at),
                    stopped_at: SystemTime::now(),
                    logs: String::new(),
                }
            }
        };
        let logs = read_logs(&docker, &container.id).await;
        if let Some(file) = &container.log_file {
            // The outcome carries the logs too; a log file that cannot be written loses only the copy.
            let _ = file.parent().map(fs::create_dir_all);
            let _ = fs::write(file, &logs);
        }
        let _ = docker.remove_container(&container.id, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await;
        let exit_code = state.state.as_ref().and_then(|state| state.exit_code);
        let oom_killed = was_oom_killed(&state, &end);
        let times = state.state.as_ref();
        let started_at = times.and_then(|state| parse_time(state.started_at.as_deref())).or(Some(container.started_at));
        ContainerOutcome {
            runner,
            container_id: Some(container.id.clone()),
            end,
            exit_code: exit_code.and_then(|code| i32::try_from(code).ok()),
            oom_killed,
            started_at,
            // The engine's clock rounds: a short run may seem to finish before it started.
            stopped_at: times.and_then(|state| parse_time(state.finished_at.as_deref())).unwrap_or_else(SystemTime::now).max(started_at.unwrap_or(UNIX_EPOCH)),
            logs: logs::keep_end(logs),
        }
    }
}

impl ContainerRunner for EngineRunner {
    fn name(&self) -> &str {
        &self.name
    }

    fn start(&self, spec: &ContainerSpec) -> Result<StartedContainer, ContainerError> {
        if spec.image.is_empty() {
            return Err(start_error("the container has no image".to_owned()));
        }
        self.block(EngineRunner::provide_image(self.docker.clone(), spec.image.clone(), self.config.pull))??;
        // Whole milliseconds, as the labels that an adopting runner reads keep it.
        let started_at = UNIX_EPOCH + Duration::from_millis(u64::try_from(epoch_millis(SystemTime::now())).unwrap_or(0));
        let deadline = deadline_of(spec, started_at);
        let mut labels = labels_of(spec, &self.config.owner);
        labels.insert(STARTED_LABEL.to_owned(), epoch_millis(started_at).to_string());
        if let Some(deadline) = deadline {
            labels.insert(DEADLINE_LABEL.to_owned(), epoch_millis(deadline).to_string());
        }
        if let Some(file) = &spec.log_file {
            labels.insert(LOG_FILE_LABEL.to_owned(), file.to_string_lossy().into_owned());
        }
        let body = create_body(spec, &labels);
        let id = self.block(EngineRunner::create_and_start(self.docker.clone(), body))??;
        Ok(StartedContainer { runner: self.name.clone(), id, labels, started_at, deadline, log_file: spec.log_file.clone() })
    }

    fn wait(&self, container: &StartedContainer, cancellation: &Cancellation) -> ContainerOutcome {
        let watched = EngineRunner::watch(self.docker.clone(), container.clone(), cancellation.clone(), self.config.stop_grace);
        let end = match self.block(watched) {
            Ok(Ok(end)) => end,
            Ok(Err(error)) | Err(error) => ContainerEnd::Lost(error.message),
        };
        let collected = EngineRunner::collect(self.docker.clone(), self.name.clone(), container.clone(), end.clone());
        self.block(collected).unwrap_or_else(|error| ContainerOutcome {
            runner: self.name.clone(),
            container_id: Some(container.id.clone()),
            end: ContainerEnd::Lost(error.message),
            exit_code: None,
            oom_killed: false,
            started_at: Some(container.started_at),
            stopped_at: SystemTime::now(),
            logs: String::new(),
        })
    }

    fn survivors(&self) -> Result<Vec<StartedContainer>, ContainerError> {
        let docker = self.docker.clone();
        let filter = HashMap::from([("label".to_owned(), vec![format!("{OWNER_LABEL}={}", self.config.owner)])]);
        let listed = self.block(async move {
            let options = ListContainersOptionsBuilder::default().all(true).filters(&filter).build();
            let mut attempts = 0;
            loop {
                match docker.list_containers(Some(options.clone())).await {
                    // Podman lists a container that just exited as `stopped` until its cleanup
                    // has run (moments later), a state the Docker API (and bollard) does not know.
                    Err(bollard::errors::Error::JsonDataError { .. }) if attempts < LIST_ATTEMPTS => {
                        attempts += 1;
                        tokio::time::sleep(LIST_RETRY_INTERVAL).await;
                    }
                    listed => return listed,
                }
            }
        })?;
        let containers = listed.map_err(|error| engine_error(format!("list containers: {}", describe(&error))))?;
        let mut survivors: Vec<StartedContainer> = containers
            .into_iter()
            .filter_map(|summary| {
                let labels: BTreeMap<String, String> = summary.labels.unwrap_or_default().into_iter().collect();
                let millis = |label: &str| labels.get(label).and_then(|value| value.parse::<u64>().ok()).map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
                Some(StartedContainer {
                    runner: self.name.clone(),
                    id: summary.id?,
                    deadline: millis(DEADLINE_LABEL),
                    log_file: labels.get(LOG_FILE_LABEL).map(PathBuf::from),
                    started_at: millis(STARTED_LABEL).unwrap_or(UNIX_EPOCH + Duration::from_secs(summary.created.and_then(|created| u64::try_from(created).ok()).unwrap_or(0))),
                    labels,
                })
            })
            .collect();
        survivors.sort_by_key(|container| container.started_at);
        Ok(survivors)
    }

    fn remove(&self, container: &StartedContainer) {
        let docker = self.docker.clone();
        let id = container.id.clone();
        // A container that is already gone needs no removal.
        let _ = self.block(async move { docker.remove_container(&id, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await });
    }
}

/// Runs `future` on `runtime` and blocks this thread until it is done. Unlike `Runtime::block_on`,
/// this also works on threads that belong to another runtime (the server's blocking tasks).
fn block_on<F>(runtime: &ClientRuntime, future: F) -> Result<F::Output, ContainerError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(runtime) = &runtime.0 else {
        return Err(engine_error("the engine client stopped".to_owned()));
    };
    let (sender, receiver) = mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().map_err(|_| engine_error("the engine client stopped".to_owned()))
}

/// The first engine that answers at `host`, else `DOCKER_HOST`, else the usual sockets; with its
/// name (`docker` or `podman`).
pub(super) async fn find_engine(host: Option<String>) -> Result<(Docker, String), ContainerError> {
    let candidates = match host.or_else(|| std::env::var("DOCKER_HOST").ok()) {
        Some(host) => vec![host],
        // SAFETY: getuid has no preconditions and cannot fail.
        None => USUAL_SOCKETS.iter().map(|socket| socket.replace("{uid}", &unsafe { libc::getuid() }.to_string())).collect(),
    };
    let mut failures = Vec::new();
    for host in candidates {
        let answered = match connect_to(&host) {
            Ok(docker) => engine_name(docker.clone()).await.map(|name| (docker, name)),
            Err(error) => Err(error),
        };
        match answered {
            Ok(engine) => return Ok(engine),
            Err(error) => failures.push(format!("{host}: {error}")),
        }
    }
    Err(engine_error(format!("no container engine answers ({})", failures.join("; "))))
}

fn connect_to(host: &str) -> Result<Docker, ContainerError> {
    let connected = if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, REQUEST_TIMEOUT_SECONDS, API_DEFAULT_VERSION)
    } else {
        Docker::connect_with_unix(host, REQUEST_TIMEOUT_SECONDS, API_DEFAULT_VERSION)
    };
    connected.map_err(|error| engine_error(describe(&error)))
}

/// `podman` when the engine is Podman's compatible service, else `docker`; fails when nothing answers.
async fn engine_name(docker: Docker) -> Result<String, ContainerError> {
    let version = tokio::time::timeout(PING_TIMEOUT, docker.version())
        .await
        .map_err(|_| engine_error("no answer".to_owned()))?
        .map_err(|error| engine_error(describe(&error)))?;
    let podman = version.components.unwrap_or_default().iter().any(|component| component.name.to_lowercase().contains("podman"));
    Ok(if podman { "podman" } else { "docker" }.to_owned())
}

async fn pull_image(docker: &Docker, image: &str) -> Result<(), String> {
    let options = CreateImageOptionsBuilder::default().from_image(image).build();
    let mut progress = docker.create_image(Some(options), None, None);
    while let Some(step) = progress.next().await {
        step.map_err(|error| describe(&error))?;
    }
    Ok(())
}

fn create_body(spec: &ContainerSpec, labels: &BTreeMap<String, String>) -> ContainerCreateBody {
    let memory = spec.memory_mib.and_then(|mib| i64::try_from(mib.saturating_mul(1024 * 1024)).ok());
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        entrypoint: spec.entrypoint.clone(),
        env: Some(spec.environment.iter().map(|(name, value)| format!("{name}={value}")).collect()),
        working_dir: spec.working_dir.clone(),
        labels: Some(labels.clone().into_iter().collect()),
        host_config: Some(HostConfig {
            // The kernel's smallest CFS quota is 1 ms per 100 ms period: 0.01 vCPU.
            nano_cpus: spec.vcpus.map(|vcpus| ((vcpus * 1e9).round() as i64).max(MIN_NANO_CPUS)),
            memory,
            // No swap: past the limit the container is OOM-killed, as on Fargate.
            memory_swap: memory,
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    }
}

/// Stops a background task when its owner is done with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Copies the container's output to `file` as it comes.
async fn follow_logs(docker: Docker, id: String, file: PathBuf) {
    let _ = file.parent().map(fs::create_dir_all);
    let Ok(mut out) = fs::File::create(&file) else { return };
    let options = LogsOptionsBuilder::default().stdout(true).stderr(true).follow(true).build();
    let mut stream = docker.logs(&id, Some(options));
    while let Some(Ok(chunk)) = stream.next().await {
        if out.write_all(chunk.as_ref()).is_err() {
            return;
        }
    }
}

/// stdout and stderr, interleaved as they were written.
async fn read_logs(docker: &Docker, id: &str) -> String {
    let options = LogsOptionsBuilder::default().stdout(true).stderr(true).follow(false).build();
    let mut stream = docker.logs(id, Some(options));
    let mut bytes = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        bytes.extend_from_slice(chunk.as_ref());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The engine's OOM flag. Podman on cgroup v1 does not always set it: a container with a memory
/// limit that died of SIGKILL that the runner did not send was killed by the kernel's OOM killer.
fn was_oom_killed(inspected: &ContainerInspectResponse, end: &ContainerEnd) -> bool {
    let state = inspected.state.as_ref();
    let flagged = state.and_then(|state| state.oom_killed).unwrap_or(false);
    let limited = inspected.host_config.as_ref().and_then(|config| config.memory).is_some_and(|memory| memory > 0);
    let killed = state.and_then(|state| state.exit_code) == Some(KILLED_EXIT_CODE);
    flagged || (limited && killed && *end == ContainerEnd::Exited)
}

/// An engine timestamp (RFC 3339); `None` for the zero time of a container that never started.
fn parse_time(text: Option<&str>) -> Option<SystemTime> {
    let time = chrono::DateTime::parse_from_rfc3339(text?).ok()?;
    let millis = u64::try_from(time.timestamp_millis()).ok().filter(|millis| *millis > 0)?;
    Some(UNIX_EPOCH + Duration::from_millis(millis))
}

fn epoch_millis(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()
}

/// The engine's own message for server errors, bollard's description otherwise.
pub(super) fn describe(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { status_code, message } => format!("{message} (HTTP {status_code})"),
        other => other.to_string(),
    }
}

fn engine_error(message: String) -> ContainerError {
    ContainerError::new(ContainerErrorKind::Engine, message)
}

fn start_error(message: String) -> ContainerError {
    ContainerError::new(ContainerErrorKind::Start, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_become_nano_cpus_and_bytes_without_swap() {
        let spec = ContainerSpec { image: "busybox".into(), vcpus: Some(0.25), memory_mib: Some(512), ..ContainerSpec::default() };
        let host = create_body(&spec, &BTreeMap::new()).host_config.unwrap_or_default();
        assert_eq!((host.nano_cpus, host.memory, host.memory_swap), (Some(250_000_000), Some(512 << 20), Some(512 << 20)));
    }

    #[test]
    fn an_empty_command_keeps_the_image_one() {
        let spec = ContainerSpec { image: "busybox".into(), ..ContainerSpec::default() };
        assert_eq!(create_body(&spec, &BTreeMap::new()).cmd, None);
    }

    #[test]
    fn reads_engine_times() {
        assert_eq!(parse_time(Some("2026-11-23T13:45:00.5Z")), Some(UNIX_EPOCH + Duration::from_millis(1_795_441_500_500)));
        assert_eq!(parse_time(Some("0001-01-01T00:00:00Z")), None);
    }
}
