//! Runs every invocation in a fresh interpreter process: a cold start each time.
//!
//! The interpreter runs a bootstrap embedded in this crate that plays the Lambda runtime of its
//! language. It reads JSON lines on stdin (the function's setup, then one line per invocation) and
//! answers each invocation with one JSON line on its original stdout; the function's own output is
//! sent to stderr, so whatever the handler prints cannot corrupt the answer. Timeouts and
//! cancellation are enforced from here by killing the process. The protocol already allows several
//! invocations per process, which is what a pool of warm environments will build on.

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
}

impl Default for ProcessRunner {
    fn default() -> ProcessRunner {
        ProcessRunner { python: "python3".into() }
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

    fn command(&self, spec: &FunctionSpec) -> Result<Command, String> {
        match spec.runtime.family() {
            RuntimeFamily::Python => {
                let mut command = Command::new(&self.python);
                command.arg("-c").arg(PYTHON_BOOTSTRAP);
                command.env("PYTHONUNBUFFERED", "1").env("PYTHONDONTWRITEBYTECODE", "1").env("PYTHONUTF8", "1");
                Ok(command)
            }
            RuntimeFamily::Node => Err(format!("function {:?}: the {} runtime is not supported yet", spec.name, spec.runtime.identifier())),
        }
    }

    fn run(&self, spec: &FunctionSpec, payload: &Value, request_id: &str, cancellation: &Cancellation) -> (Outcome, String) {
        let task_root = match &spec.source {
            HandlerSource::Inline(_) => None,
            HandlerSource::Directory(directory) => match std::path::absolute(directory) {
                Ok(directory) => Some(directory),
                Err(error) => {
                    return (Outcome::Unavailable(format!("function {:?}: code directory {directory:?}: {error}", spec.name)), String::new())
                }
            },
        };
        let input = match protocol_input(spec, task_root.as_deref(), payload, request_id) {
            Ok(input) => input,
            Err(error) => return (Outcome::Unavailable(error), String::new()),
        };
        let mut command = match self.command(spec) {
            Ok(command) => command,
            Err(error) => return (Outcome::Unavailable(error), String::new()),
        };
        set_lambda_environment(&mut command, spec, task_root.as_deref());
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                let program = command.get_program().to_string_lossy().into_owned();
                return (Outcome::Unavailable(format!("function {:?}: cannot start {program}: {error}", spec.name)), String::new());
            }
        };
        let started = Instant::now();
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            stop(&mut child);
            return (Outcome::Unavailable(format!("function {:?}: its process has no pipes", spec.name)), String::new());
        };
        // A separate writer: a function that never reads must not block the deadline.
        thread::spawn(move || {
            let mut stdin = stdin;
            // A function that exits early closes the pipe; its exit is reported instead.
            let _ = stdin.write_all(input.as_bytes());
        });
        let answers = read_answers(stdout);
        let logs = Logs::collect(stderr);
        let deadline = started + Duration::from_secs(u64::from(spec.timeout_seconds));
        let end = wait(&mut child, &answers, deadline, cancellation);
        stop(&mut child);
        let outcome = match end {
            End::Answered(line) => read_answer(spec, &line, request_id),
            End::Exited(status) => Outcome::Failed(FunctionError::crashed(request_id, exit_reason(status).as_deref())),
            End::TimedOut => Outcome::Failed(FunctionError::timed_out(request_id, spec.timeout_seconds)),
            End::Cancelled => Outcome::Cancelled,
            End::Lost(error) => Outcome::Unavailable(format!("function {:?}: {error}", spec.name)),
        };
        (outcome, logs.finish())
    }
}

impl FunctionRunner for ProcessRunner {
    fn invoke(&self, spec: &FunctionSpec, payload: &Value, cancellation: &Cancellation) -> Invocation {
        let request_id = Uuid::new_v4().to_string();
        let (outcome, logs) = self.run(spec, payload, &request_id, cancellation);
        Invocation { request_id, outcome, logs }
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
fn protocol_input(spec: &FunctionSpec, task_root: Option<&Path>, payload: &Value, request_id: &str) -> Result<String, String> {
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
    let line = |message: Result<String, serde_json::Error>| message.map_err(|error| format!("function {:?}: {error}", spec.name));
    Ok(format!("{}\n{}\n", line(serde_json::to_string(&setup))?, line(serde_json::to_string(&invocation))?))
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

/// Answer lines as they arrive; `None` once the process closed its end.
fn read_answers(stdout: ChildStdout) -> Receiver<Option<String>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let answer = match stdout.read_line(&mut line) {
            Ok(read) if read > 0 => Some(line),
            _ => None,
        };
        // The invocation may have ended (timed out) before the answer came.
        let _ = sender.send(answer);
    });
    receiver
}

enum End {
    Answered(String),
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
    Lost(std::io::Error),
}

fn wait(child: &mut Child, answers: &Receiver<Option<String>>, deadline: Instant, cancellation: &Cancellation) -> End {
    loop {
        match answers.recv_timeout(POLL_INTERVAL) {
            Ok(Some(line)) => return End::Answered(line),
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                return match child.wait() {
                    Ok(status) => End::Exited(status),
                    Err(error) => End::Lost(error),
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if cancellation.is_cancelled() {
            return End::Cancelled;
        }
        if Instant::now() >= deadline {
            return End::TimedOut;
        }
        match child.try_wait() {
            // Exited while a process it started keeps stdout open: no answer can come any more.
            Ok(Some(status)) => {
                return match answers.recv_timeout(POLL_INTERVAL) {
                    Ok(Some(line)) => End::Answered(line),
                    _ => End::Exited(status),
                }
            }
            Ok(None) => {}
            Err(error) => return End::Lost(error),
        }
    }
}

/// Ends the process (Lambda freezes or discards the environment once it has answered).
fn stop(child: &mut Child) {
    // Both fail only when the process is already gone and reaped, which is the goal.
    let _ = child.kill();
    let _ = child.wait();
}

fn read_answer(spec: &FunctionSpec, line: &str, request_id: &str) -> Outcome {
    let answer = match serde_json::from_str::<Answer>(line) {
        Ok(answer) if answer.request_id == request_id => answer,
        _ => return Outcome::Unavailable(format!("function {:?}: its runtime sent an unexpected answer: {line:?}", spec.name)),
    };
    match answer.kind {
        // Lambda hands back whatever the handler returned; what is not JSON stays text.
        AnswerKind::Result => Outcome::Returned(serde_json::from_str(&answer.payload).unwrap_or(Value::String(answer.payload))),
        AnswerKind::HandlerError => Outcome::Failed(FunctionError::from_payload(FailureKind::Handler, answer.payload)),
        AnswerKind::RuntimeError => Outcome::Failed(FunctionError::from_payload(FailureKind::Runtime, answer.payload)),
    }
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

/// The function's stderr, read as it comes so that the function never blocks on a full pipe.
struct Logs {
    text: Arc<Mutex<Vec<u8>>>,
    finished: Receiver<()>,
}

impl Logs {
    fn collect(mut stderr: ChildStderr) -> Logs {
        let text = Arc::new(Mutex::new(Vec::new()));
        let (sender, finished) = mpsc::channel();
        let collected = Arc::clone(&text);
        thread::spawn(move || {
            let mut chunk = [0_u8; 8192];
            while let Ok(read) = stderr.read(&mut chunk) {
                let Some(bytes) = chunk.get(..read).filter(|bytes| !bytes.is_empty()) else { break };
                if let Ok(mut text) = collected.lock() {
                    let room = MAX_LOG_BYTES.saturating_sub(text.len());
                    text.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
                }
            }
            let _ = sender.send(());
        });
        Logs { text, finished }
    }

    fn finish(self) -> String {
        let _ = self.finished.recv_timeout(LOG_DRAIN_GRACE);
        let text = self.text.lock().map(|mut text| std::mem::take(&mut *text)).unwrap_or_default();
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
