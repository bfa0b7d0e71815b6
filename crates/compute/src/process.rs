//! Runs every invocation in a fresh interpreter process: a cold start each time.
//!
//! The interpreter runs a bootstrap embedded in this crate that plays the Lambda runtime of its
//! language. It reads JSON lines on stdin (the function's setup, then one line per invocation) and
//! answers each invocation with one JSON line on stdout, naming the invocation's request id. The
//! function's own output is sent to stderr; any other line that still reaches stdout is a log line,
//! so whatever the handler prints cannot corrupt the answer. Timeouts and cancellation are enforced
//! from here by killing the process. The protocol already allows several invocations per process,
//! which is what a pool of warm environments will build on.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::function::{FunctionSpec, HandlerSource, RuntimeFamily};
use crate::invocation::{Cancellation, FailureKind, FunctionError, FunctionRunner, Invocation, Outcome};

const PYTHON_BOOTSTRAP: &str = include_str!("python_bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("node_bootstrap.js");
/// Where Lambda unpacks a function's code; what the function sees when it has no directory.
const LAMBDA_TASK_ROOT: &str = "/var/task";
/// How often a waiting invocation checks its deadline and its cancellation.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How long to wait for the rest of the logs once the process is gone (a process it started may
/// still hold the pipe open).
const LOG_DRAIN_GRACE: Duration = Duration::from_millis(200);
/// Logs kept per invocation; the rest is read and dropped so that the function never blocks.
const MAX_LOG_BYTES: usize = 1 << 20;

/// A [`FunctionRunner`] that starts a new process for every invocation.
#[derive(Debug, Clone)]
pub struct ProcessRunner {
    python: OsString,
    node: OsString,
}

impl Default for ProcessRunner {
    fn default() -> ProcessRunner {
        ProcessRunner { python: "python3".into(), node: "node".into() }
    }
}

impl ProcessRunner {
    pub fn new() -> ProcessRunner {
        ProcessRunner::default()
    }

    /// The Python interpreter to run Python functions with (default: `python3` from `PATH`).
    pub fn with_python(mut self, interpreter: impl Into<OsString>) -> ProcessRunner {
        self.python = interpreter.into();
        self
    }

    /// The Node.js interpreter to run Node.js functions with (default: `node` from `PATH`).
    pub fn with_node(mut self, interpreter: impl Into<OsString>) -> ProcessRunner {
        self.node = interpreter.into();
        self
    }

    fn command(&self, spec: &FunctionSpec) -> Command {
        match spec.runtime.family() {
            RuntimeFamily::Python => {
                let mut command = Command::new(&self.python);
                command.arg("-c").arg(PYTHON_BOOTSTRAP);
                command.env("PYTHONUNBUFFERED", "1").env("PYTHONDONTWRITEBYTECODE", "1").env("PYTHONUTF8", "1");
                command
            }
            RuntimeFamily::Node => {
                let mut command = Command::new(&self.node);
                command.arg("--no-warnings").arg("-e").arg(NODE_BOOTSTRAP);
                command
            }
        }
    }

    /// Runs one invocation, or says why the function could not be run at all.
    fn run(&self, spec: &FunctionSpec, payload: &Value, request_id: &str, cancellation: &Cancellation) -> Result<Invocation, String> {
        let unavailable = |reason: String| format!("function {:?}: {reason}", spec.name);
        let task_root = match &spec.source {
            HandlerSource::Inline(_) => None,
            HandlerSource::Directory(directory) => {
                Some(std::path::absolute(directory).map_err(|error| unavailable(format!("code directory {directory:?}: {error}")))?)
            }
        };
        let input = protocol_input(spec, task_root.as_deref(), payload, request_id).map_err(|error| unavailable(error.to_string()))?;
        let mut command = self.command(spec);
        set_lambda_environment(&mut command, spec, task_root.as_deref());
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|error| unavailable(format!("cannot start {}: {error}", command.get_program().to_string_lossy())))?;
        let started = Instant::now();
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            stop(&mut child);
            return Err(unavailable("its process has no pipes".to_string()));
        };
        // A separate writer: a function that never reads must not block the deadline.
        thread::spawn(move || {
            let mut stdin = stdin;
            // A function that exits early closes the pipe; its exit is reported instead.
            let _ = stdin.write_all(input.as_bytes());
        });
        let logs = Logs::default();
        let answers = read_answers(stdout, request_id, logs.clone());
        let logs_drained = logs.drain(stderr);
        let deadline = started + Duration::from_secs(u64::from(spec.timeout_seconds));
        let end = wait(&mut child, &answers, deadline, cancellation);
        stop(&mut child);
        let (outcome, response) = match end {
            End::Answered(answer) => outcome_of(answer),
            End::Exited(status) => failure(FunctionError::crashed(request_id, exit_reason(status).as_deref())),
            End::TimedOut => failure(FunctionError::timed_out(request_id, spec.timeout_seconds)),
            End::Cancelled => (Outcome::Cancelled, String::new()),
            End::Lost(error) => return Err(unavailable(error.to_string())),
        };
        // A process it started may still hold stderr open: keep what came so far.
        let _ = logs_drained.recv_timeout(LOG_DRAIN_GRACE);
        Ok(Invocation { request_id: request_id.to_string(), outcome, payload: response, logs: logs.take() })
    }
}

impl FunctionRunner for ProcessRunner {
    fn invoke(&self, spec: &FunctionSpec, payload: &Value, cancellation: &Cancellation) -> Invocation {
        let request_id = Uuid::new_v4().to_string();
        self.run(spec, payload, &request_id, cancellation).unwrap_or_else(|reason| Invocation {
            request_id,
            outcome: Outcome::Unavailable(reason),
            payload: String::new(),
            logs: String::new(),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SetupMessage<'a> {
    handler: &'a str,
    inline_source: Option<&'a str>,
    task_root: Option<&'a Path>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvocationMessage<'a> {
    request_id: &'a str,
    deadline_ms: u64,
    invoked_function_arn: &'a str,
    event: &'a Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    request_id: String,
    kind: AnswerKind,
    payload: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AnswerKind {
    Result,
    HandlerError,
    RuntimeError,
}

/// The bootstrap's stdin: the setup line, then the invocation line.
fn protocol_input(spec: &FunctionSpec, task_root: Option<&Path>, payload: &Value, request_id: &str) -> Result<String, serde_json::Error> {
    let inline_source = match &spec.source {
        HandlerSource::Inline(source) => Some(source.as_str()),
        HandlerSource::Directory(_) => None,
    };
    let setup = SetupMessage { handler: &spec.handler, inline_source, task_root };
    let invocation = InvocationMessage {
        request_id,
        deadline_ms: epoch_millis(SystemTime::now() + Duration::from_secs(u64::from(spec.timeout_seconds))),
        invoked_function_arn: &spec.arn,
        event: payload,
    };
    Ok(format!("{}\n{}\n", serde_json::to_string(&setup)?, serde_json::to_string(&invocation)?))
}

/// The variables Lambda defines for a function, over the function's own `environment`.
fn set_lambda_environment(command: &mut Command, spec: &FunctionSpec, task_root: Option<&Path>) {
    command.envs(&spec.environment).env_remove("AWS_LAMBDA_LOG_STREAM_NAME");
    if let Some(task_root) = task_root {
        command.current_dir(task_root);
    }
    command
        .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
        .env("AWS_REGION", spec.region())
        .env("AWS_DEFAULT_REGION", spec.region())
        .env("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime.identifier()))
        .env("LAMBDA_TASK_ROOT", task_root.map_or_else(|| PathBuf::from(LAMBDA_TASK_ROOT), Path::to_path_buf))
        .env("_HANDLER", &spec.handler)
        .env("TZ", ":UTC");
}

fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since_epoch| u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

/// The answer to `request_id` once it arrives, or `None` once the process closed stdout without
/// answering. Other lines are the function's output.
fn read_answers(stdout: ChildStdout, request_id: &str, logs: Logs) -> Receiver<Option<Answer>> {
    let (sender, receiver) = mpsc::channel();
    let request_id = request_id.to_string();
    thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = Vec::new();
        let answer = loop {
            line.clear();
            match stdout.read_until(b'\n', &mut line) {
                Ok(read) if read > 0 => match serde_json::from_slice::<Answer>(&line) {
                    Ok(answer) if answer.request_id == request_id => break Some(answer),
                    _ => logs.append(&line),
                },
                _ => break None,
            }
        };
        // The invocation may have ended (timed out) before the answer came.
        let _ = sender.send(answer);
    });
    receiver
}

enum End {
    Answered(Answer),
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
    Lost(std::io::Error),
}

/// How long after a process exits its last output may still be on the way (a grandchild that
/// keeps stdout open bounds it).
const EXIT_GRACE: Duration = Duration::from_secs(2);

fn wait(child: &mut Child, answers: &Receiver<Option<Answer>>, deadline: Instant, cancellation: &Cancellation) -> End {
    let mut stdout_open = true;
    loop {
        if stdout_open {
            match answers.recv_timeout(POLL_INTERVAL) {
                Ok(Some(answer)) => return End::Answered(answer),
                Ok(None) | Err(RecvTimeoutError::Disconnected) => stdout_open = false,
                Err(RecvTimeoutError::Timeout) => {}
            }
        } else {
            // It closed stdout yet runs on: only its exit, the deadline or the caller can end this.
            thread::sleep(POLL_INTERVAL);
        }
        match child.try_wait() {
            // An answer written just before exiting may still be in the pipe, and its reader may
            // be slow to get to it on a loaded machine: wait for the pipe's end, not one poll.
            Ok(Some(status)) => {
                return match answers.recv_timeout(EXIT_GRACE) {
                    Ok(Some(answer)) => End::Answered(answer),
                    _ => End::Exited(status),
                }
            }
            Ok(None) => {}
            Err(error) => return End::Lost(error),
        }
        if cancellation.is_cancelled() {
            return End::Cancelled;
        }
        if Instant::now() >= deadline {
            return End::TimedOut;
        }
    }
}

/// Ends the process (Lambda freezes or discards the environment once it has answered).
fn stop(child: &mut Child) {
    // Both fail only when the process is already gone and reaped, which is the goal.
    let _ = child.kill();
    let _ = child.wait();
}

/// The outcome an answer reports, and Lambda's response body.
fn outcome_of(answer: Answer) -> (Outcome, String) {
    let outcome = match answer.kind {
        // Lambda hands back whatever the handler returned; what is not JSON stays text.
        AnswerKind::Result => Outcome::Returned(serde_json::from_str(&answer.payload).unwrap_or_else(|_| Value::String(answer.payload.clone()))),
        AnswerKind::HandlerError => Outcome::Failed(FunctionError::from_payload(FailureKind::Handler, answer.payload.clone())),
        AnswerKind::RuntimeError => Outcome::Failed(FunctionError::from_payload(FailureKind::Runtime, answer.payload.clone())),
    };
    (outcome, answer.payload)
}

fn failure(error: FunctionError) -> (Outcome, String) {
    let response = error.payload.clone();
    (Outcome::Failed(error), response)
}

/// How Lambda words a runtime's exit: `exit status 1`, `signal: killed`; `None` for a clean exit.
fn exit_reason(status: ExitStatus) -> Option<String> {
    match status.code() {
        Some(0) => None,
        Some(code) => Some(format!("exit status {code}")),
        None => Some(signal_reason(status)),
    }
}

#[cfg(unix)]
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

#[cfg(not(unix))]
fn signal_reason(_status: ExitStatus) -> String {
    "signal: unknown".to_string()
}

/// What the function printed, shared by the threads that read its output.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn append(&self, bytes: &[u8]) {
        if let Ok(mut text) = self.0.lock() {
            let room = MAX_LOG_BYTES.saturating_sub(text.len());
            text.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        }
    }

    /// Reads `stderr` as it comes, so that the function never blocks on a full pipe; signals once
    /// it is closed.
    fn drain(&self, mut stderr: ChildStderr) -> Receiver<()> {
        let (sender, drained) = mpsc::channel();
        let logs = self.clone();
        thread::spawn(move || {
            let mut chunk = [0_u8; 8192];
            while let Ok(read) = stderr.read(&mut chunk) {
                let Some(bytes) = chunk.get(..read).filter(|bytes| !bytes.is_empty()) else { break };
                logs.append(bytes);
            }
            let _ = sender.send(());
        });
        drained
    }

    fn take(&self) -> String {
        let text = self.0.lock().map(|mut text| std::mem::take(&mut *text)).unwrap_or_default();
        String::from_utf8_lossy(&text).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn words_exits_like_lambda() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_reason(ExitStatus::from_raw(0)), None);
        assert_eq!(exit_reason(ExitStatus::from_raw(3 << 8)).as_deref(), Some("exit status 3"));
        assert_eq!(exit_reason(ExitStatus::from_raw(9)).as_deref(), Some("signal: killed"));
        assert_eq!(exit_reason(ExitStatus::from_raw(11)).as_deref(), Some("signal: segmentation fault"));
        assert_eq!(exit_reason(ExitStatus::from_raw(31)).as_deref(), Some("signal: signal 31"));
    }
}
