//! One execution environment: a runtime process, its Runtime API endpoint and its output. It runs
//! one invocation at a time and stays started between them (a warm start); the pool decides when
//! it is reused and when it goes.

use std::os::fd::AsFd;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::{SecondsFormat, Utc};
use serde_json::Value;
use tokio::runtime::Handle;
use uuid::Uuid;

use crate::cgroup::MemoryCgroup;
use crate::function::{FunctionSpec, RuntimeFamily};
use crate::invocation::{Cancellation, FailureKind, FunctionError, Invocation, Outcome};
use crate::launch::{self, Interpreters};
use crate::output::Output;
use crate::process::Process;
use crate::report::Report;
use crate::runtime_api::{Endpoint, Job, RuntimeEvent};
use crate::zygote::Zygotes;

/// How often a waiting invocation checks its deadline, its cancellation and its process.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Without a cgroup to say so, a process that died after using this share of its memory ran out
/// of memory, as Lambda reports it.
const OUT_OF_MEMORY_PERCENT: u64 = 90;
/// How long a new environment may take to start, on top of the function's timeout (Lambda's init
/// phase limit).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Instance {
    process: Process,
    /// Dropped (removed) after the child is stopped.
    cgroup: Option<MemoryCgroup>,
    endpoint: Endpoint,
    output: Output,
    log_stream_name: String,
    /// When the process started, until its first invocation reports the Init Duration.
    cold_since: Option<Instant>,
    /// The highest resident memory seen, in bytes (read from /proc while the process lives).
    peak_memory: u64,
    pub idle_since: Instant,
}

/// Why an environment did not start.
pub(crate) enum StartFailure {
    /// This machine cannot run it (an interpreter is missing): not something Lambda reports.
    Machine(String),
    /// The function's `bootstrap` cannot be executed: Lambda's `Runtime.InvalidEntrypoint`.
    Entrypoint(String),
}

/// An invocation's end, and whether its environment can run another one.
pub(crate) struct Ended {
    pub invocation: Invocation,
    pub reusable: bool,
}

enum End {
    Responded(Bytes),
    Failed { body: Bytes, error_type: Option<String> },
    InitFailed(Bytes),
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
    Lost(String),
}

impl Instance {
    /// Starts an environment for `spec`. `warm_up`: it is started ahead of invocations
    /// (provisioned), so that its initialization is not part of any invocation.
    /// A Python environment is forked from its interpreter's template in `zygotes` where it can
    /// be, and spawned otherwise.
    pub fn start(
        spec: &FunctionSpec,
        interpreters: &Interpreters,
        zygotes: &Zygotes,
        runtime: &Handle,
        warm_up: bool,
    ) -> Result<Instance, StartFailure> {
        let endpoint = Endpoint::start(runtime).map_err(|error| StartFailure::Machine(format!("cannot serve its Runtime API: {error}")))?;
        let log_stream_name = log_stream_name();
        let runtime_api = endpoint.address();
        let (mut command, cgroup) = interpreters
            .command(spec, &launch::Instance { runtime_api: &runtime_api, log_stream_name: &log_stream_name })
            .map_err(StartFailure::Machine)?;
        let (output, child_output) = Output::open().map_err(|error| StartFailure::Machine(format!("cannot capture its output: {error}")))?;
        let started = Instant::now();
        let forked = launch::fork_request(&command, spec, cgroup.as_ref())
            // A template that fails leaves the spawn as before.
            .and_then(|request| zygotes.fork(&interpreters.python, &request, child_output.stdout.as_fd()).ok());
        if let Some(forked) = forked {
            return Ok(Instance::new(Process::Forked(forked), cgroup, endpoint, output, log_stream_name, started, warm_up));
        }
        command.stdin(Stdio::null()).stdout(Stdio::from(child_output.stdout)).stderr(Stdio::from(child_output.stderr));
        let child = command.spawn().map_err(|error| {
            let program = command.get_program().to_string_lossy();
            match spec.runtime.family() {
                // The function's own executable: Lambda blames the function, in Go's words.
                RuntimeFamily::Provided => StartFailure::Entrypoint(format!("fork/exec {program}: {}", go_error_text(&error))),
                RuntimeFamily::Python | RuntimeFamily::Node => StartFailure::Machine(format!("cannot start {program}: {error}")),
            }
        })?;
        Ok(Instance::new(Process::Spawned(child), cgroup, endpoint, output, log_stream_name, started, warm_up))
    }

    fn new(
        process: Process,
        cgroup: Option<MemoryCgroup>,
        endpoint: Endpoint,
        output: Output,
        log_stream_name: String,
        started: Instant,
        warm_up: bool,
    ) -> Instance {
        Instance { process, cgroup, endpoint, output, log_stream_name, cold_since: (!warm_up).then_some(started), peak_memory: 0, idle_since: started }
    }

    /// Whether its process still runs (a process that died while idle is not reused).
    pub fn is_alive(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }

    pub fn invoke(&mut self, spec: &FunctionSpec, payload: &Value, request_id: &str, cancellation: &Cancellation) -> Ended {
        let submitted = Instant::now();
        let timeout = Duration::from_secs(u64::from(spec.timeout_seconds));
        let job = Job {
            request_id: request_id.to_string(),
            event: Bytes::from(payload.to_string()),
            timeout,
            invoked_function_arn: spec.arn.clone(),
            trace_id: trace_id(),
        };
        let mut progress = Progress::default();
        let end = if self.endpoint.submit(job) {
            // Starting gets time of its own, as Lambda's init phase does.
            let start_allowance = if self.cold_since.is_some() { INIT_TIMEOUT } else { Duration::ZERO };
            self.wait(request_id, submitted + start_allowance + timeout, timeout, cancellation, &mut progress)
        } else {
            End::Lost("its Runtime API endpoint stopped".to_string())
        };
        let duration = progress.handler_started.unwrap_or(submitted).elapsed();
        let reusable = matches!(end, End::Responded(_) | End::Failed { .. });
        if reusable {
            self.sample_memory();
        } else {
            self.stop();
        }
        let (outcome, response) = self.outcome(end, spec, request_id);
        let mut output = self.output.take();
        let (status, error_type) = match &outcome {
            Outcome::Failed(error) if error.kind == FailureKind::Timeout => {
                // Lambda's own line in the function's log stream.
                output.push_str(&format!("{} {request_id} Task timed out after {}.00 seconds\n", timestamp(), spec.timeout_seconds));
                (Some("timeout"), None)
            }
            Outcome::Failed(error) if !reusable => (Some("error"), Some(error.error_type.as_str())),
            _ => (None, None),
        };
        let report = Report {
            request_id,
            duration,
            memory_size_mb: spec.memory_mb,
            max_memory_used_bytes: self.peak_memory,
            init_duration: progress.init_duration,
            status,
            error_type,
        };
        let logs = progress.init_output + &report.around(&output);
        self.idle_since = Instant::now();
        Ended {
            invocation: Invocation {
                request_id: request_id.to_string(),
                outcome,
                payload: response,
                logs,
                log_stream_name: self.log_stream_name.clone(),
            },
            reusable,
        }
    }

    /// Waits for the runtime to answer `request_id`, for its process to end, for the deadline or
    /// for the caller to cancel, whichever comes first. The deadline moves to `timeout` after the
    /// runtime took the invocation.
    fn wait(&mut self, request_id: &str, mut deadline: Instant, timeout: Duration, cancellation: &Cancellation, progress: &mut Progress) -> End {
        loop {
            match self.endpoint.events().recv_timeout(POLL_INTERVAL) {
                Ok(RuntimeEvent::Delivered { request_id: delivered, at }) if delivered == request_id => {
                    progress.handler_started = Some(at);
                    deadline = at + timeout;
                    if let Some(since) = self.cold_since.take() {
                        progress.init_duration = Some(at.saturating_duration_since(since));
                        // What it printed while starting comes before START, as in Lambda's log stream.
                        progress.init_output = self.output.take();
                    }
                }
                Ok(RuntimeEvent::Responded { request_id: answered, body }) if answered == request_id => return End::Responded(body),
                Ok(RuntimeEvent::Failed { request_id: answered, body, error_type }) if answered == request_id => {
                    return End::Failed { body, error_type }
                }
                Ok(RuntimeEvent::InitFailed { body }) => return End::InitFailed(body),
                // What is left of an earlier invocation that was given up.
                Ok(_) => {}
                // The peak is a high-water mark: read while the handler runs, it is there if the
                // process dies; a reading per event would only slow quick invocations down.
                Err(RecvTimeoutError::Timeout) => self.sample_memory(),
                Err(RecvTimeoutError::Disconnected) => return End::Lost("its Runtime API endpoint stopped".to_string()),
            }
            match self.process.try_wait() {
                Ok(Some(status)) => return End::Exited(status),
                Ok(None) => {}
                Err(error) => return End::Lost(error.to_string()),
            }
            if cancellation.is_cancelled() {
                return End::Cancelled;
            }
            if Instant::now() >= deadline {
                return End::TimedOut;
            }
        }
    }

    fn sample_memory(&mut self) {
        let peak = match &self.cgroup {
            Some(cgroup) => cgroup.peak(),
            None => launch::peak_memory(self.process.id()),
        };
        if let Some(peak) = peak {
            self.peak_memory = self.peak_memory.max(peak);
        }
    }

    /// The outcome an end reports, and Lambda's response body.
    fn outcome(&self, end: End, spec: &FunctionSpec, request_id: &str) -> (Outcome, String) {
        let failure = |error: FunctionError| {
            let response = error.payload.clone();
            (Outcome::Failed(error), response)
        };
        match end {
            End::Responded(body) => {
                let text = String::from_utf8_lossy(&body).into_owned();
                // Lambda hands back whatever the handler returned; what is not JSON stays text.
                let value = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(text.clone()));
                (Outcome::Returned(value), text)
            }
            End::Failed { body, error_type } => {
                let error = FunctionError::from_payload(FailureKind::Handler, String::from_utf8_lossy(&body).into_owned());
                // Lambda's own error types: the runtime's (`Runtime.*`) and the service's (`Function.*`).
                let lambda_error = |error_type: &str| error_type.starts_with("Runtime.") || error_type.starts_with("Function.");
                let runtime_fault = lambda_error(&error.error_type) || error_type.as_deref().is_some_and(lambda_error);
                failure(FunctionError { kind: if runtime_fault { FailureKind::Runtime } else { FailureKind::Handler }, ..error })
            }
            End::InitFailed(body) => failure(FunctionError::from_payload(FailureKind::Runtime, String::from_utf8_lossy(&body).into_owned())),
            End::Exited(status) => {
                let reason = exit_reason(status);
                let out_of_memory = match &self.cgroup {
                    Some(cgroup) => cgroup.was_out_of_memory(),
                    None => self.peak_memory * 100 >= (u64::from(spec.memory_mb) << 20) * OUT_OF_MEMORY_PERCENT,
                };
                if out_of_memory {
                    failure(FunctionError::out_of_memory(request_id, reason.as_deref()))
                } else {
                    failure(FunctionError::crashed(request_id, reason.as_deref()))
                }
            }
            End::TimedOut => failure(FunctionError::timed_out(request_id, spec.timeout_seconds)),
            End::Cancelled => (Outcome::Cancelled, String::new()),
            End::Lost(reason) => (Outcome::Unavailable(format!("function {:?}: {reason}", spec.name)), String::new()),
        }
    }

    /// Ends the process (an environment that timed out, crashed or was given up is discarded).
    fn stop(&mut self) {
        self.process.stop();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What happened so far in an invocation.
#[derive(Default)]
struct Progress {
    /// When the runtime took the invocation: the handler's time starts.
    handler_started: Option<Instant>,
    /// How long the environment took to start, when this invocation started it.
    init_duration: Option<Duration>,
    /// What the environment printed while starting.
    init_output: String,
}

/// Lambda's log stream name: `YYYY/MM/DD/[$LATEST]` and 32 hexadecimal digits.
fn log_stream_name() -> String {
    format!("{}{}", Utc::now().format("%Y/%m/%d/[$LATEST]"), Uuid::new_v4().simple())
}

/// An X-Ray trace header: `Root=1-<epoch seconds, hex>-<96 random bits>;Parent=<64 bits>;Sampled=0`.
fn trace_id() -> String {
    let random = Uuid::new_v4().simple().to_string();
    format!("Root=1-{:08x}-{};Parent={};Sampled=0", Utc::now().timestamp(), &random[..24], &random[16..])
}

/// `2026-11-23T14:05:09.123Z`, as Lambda stamps its own log lines.
fn timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An OS error as Go prints it (`permission denied`), which is how Lambda's messages read.
fn go_error_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut characters = text.chars();
    characters.next().map_or_else(String::new, |first| first.to_lowercase().chain(characters).collect())
}

/// How Lambda words a runtime's exit: `exit status 1`, `signal: killed`; `None` for a clean exit.
fn exit_reason(status: ExitStatus) -> Option<String> {
    match status.code() {
        Some(0) => None,
        Some(code) => Some(format!("exit status {code}")),
        None => Some(signal_reason(status)),
    }
}

fn signal_reason(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    // Lambda's runtime manager is written in Go and prints Go's signal names.
    const NAMES: [&str; 15] = [
        "hangup",
        "interrupt",
        "quit",
        "illegal instruction",
        "trace/breakpoint trap",
        "aborted",
        "bus error",
        "floating point exception",
        "killed",
        "user defined signal 1",
        "segmentation fault",
        "user defined signal 2",
        "broken pipe",
        "alarm clock",
        "terminated",
    ];
    match status.signal() {
        Some(signal) => match usize::try_from(signal).ok().and_then(|number| number.checked_sub(1)).and_then(|index| NAMES.get(index)) {
            Some(name) => format!("signal: {name}"),
            None => format!("signal: signal {signal}"),
        },
        None => "signal: unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn words_exits_like_lambda() {
        assert_eq!(exit_reason(ExitStatus::from_raw(0)), None);
        assert_eq!(exit_reason(ExitStatus::from_raw(3 << 8)).as_deref(), Some("exit status 3"));
        assert_eq!(exit_reason(ExitStatus::from_raw(9)).as_deref(), Some("signal: killed"));
        assert_eq!(exit_reason(ExitStatus::from_raw(11)).as_deref(), Some("signal: segmentation fault"));
        assert_eq!(exit_reason(ExitStatus::from_raw(31)).as_deref(), Some("signal: signal 31"));
    }

    #[test]
    fn os_errors_read_like_go() {
        assert_eq!(go_error_text(&std::io::Error::from_raw_os_error(13)), "permission denied");
        assert_eq!(go_error_text(&std::io::Error::from_raw_os_error(2)), "no such file or directory");
    }

    #[test]
    fn trace_ids_read_like_x_ray() {
        let trace = trace_id();
        let parts: Vec<&str> = trace.split(';').collect();
        assert_eq!(parts.len(), 3, "{trace}");
        assert!(parts[0].starts_with("Root=1-") && parts[0].len() == "Root=1-".len() + 8 + 1 + 24, "{trace}");
        assert_eq!(parts[2], "Sampled=0");
    }
}
