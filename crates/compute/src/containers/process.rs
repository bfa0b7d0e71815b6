//! The process runner: a container's command runs as a subprocess of the host, for machines
//! without a container engine (the embedded default).
//!
//! There is no image and no isolation: the command runs in the runner's working directory with
//! the spec's environment (plus `PATH`, `HOME`, `LANG` and `TMPDIR` of the host). The memory limit
//! is enforced by watching the resident memory of the process group and killing it past the limit
//! (reported as OOM-killed, as a cgroup's OOM killer would); CPU is not limited.
//!
//! Each run is a process group led by a small `sh` wrapper that writes the command's exit code to
//! a file when it ends, and its output goes straight to a log file: both survive a crash of
//! Switchyard. A record per run (`<id>.json` in the runner's directory: pid, its start time, the
//! [`StartedContainer`]) lets a restarted Switchyard find it again: it is adopted (waited on, its
//! exit code read from the file) or killed with its whole group — never left behind.

use std::collections::HashMap;
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::logs;
use super::{
    deadline_of, labels_of, ContainerEnd, ContainerError, ContainerErrorKind, ContainerOutcome, ContainerRunner, ContainerSpec,
    StartedContainer,
};
use crate::invocation::Cancellation;

/// How often a waiting run checks its process, deadline and cancellation.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// How often the memory of a limited run is measured (a scan of `/proc`).
const MEMORY_INTERVAL: Duration = Duration::from_millis(50);
/// Host variables a command needs to find its programs and write temporary files.
const INHERITED_VARIABLES: [&str; 4] = ["PATH", "HOME", "LANG", "TMPDIR"];
/// Runs the command, then writes its exit code (`$?`: 128 + signal when a signal ended it) to the
/// file named by `$0`, atomically.
const WRAPPER: &str = r#""$@"; code=$?; echo "$code" > "$0.tmp" && mv "$0.tmp" "$0"; exit "$code""#;

/// A [`ContainerRunner`] that runs commands as subprocesses.
pub struct ProcessRunner {
    /// Records, exit codes and default logs of runs.
    directory: PathBuf,
    /// Where commands run unless the spec names an existing absolute directory.
    working_dir: PathBuf,
    owner: String,
    /// How long a stopped run gets between SIGTERM and SIGKILL.
    stop_grace: Duration,
    /// Runs started by this process: their `sh` is our child and must be reaped by us.
    children: Mutex<HashMap<String, Child>>,
}

/// What is kept on disk for each run.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    container: StartedContainer,
    pid: i32,
    /// The process's start time (clock ticks after boot): tells it from a later process that got
    /// the same pid.
    start_ticks: u64,
    memory_mib: Option<u64>,
    /// Whether the log file is the runner's own (removed with the run) or the caller's.
    own_log: bool,
}

impl ProcessRunner {
    /// A runner keeping its records in `directory` (created if missing), for the Switchyard
    /// instance `owner`. Commands run in the current directory.
    pub fn open(directory: impl Into<PathBuf>, owner: impl Into<String>) -> Result<ProcessRunner, ContainerError> {
        let directory = directory.into();
        fs::create_dir_all(&directory).map_err(|error| engine_error(format!("cannot create {}: {error}", directory.display())))?;
        let working_dir = std::env::current_dir().map_err(|error| engine_error(format!("no current directory: {error}")))?;
        Ok(ProcessRunner {
            directory,
            working_dir,
            owner: owner.into(),
            stop_grace: Duration::from_secs(10),
            children: Mutex::new(HashMap::new()),
        })
    }

    /// Commands run in `directory` (e.g. the folder of the project whose tasks they are).
    pub fn with_working_dir(mut self, directory: impl Into<PathBuf>) -> ProcessRunner {
        self.working_dir = directory.into();
        self
    }

    /// How long a stopped command gets to exit after SIGTERM before it is killed (default 10 s).
    pub fn with_stop_grace(mut self, grace: Duration) -> ProcessRunner {
        self.stop_grace = grace;
        self
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.directory.join(format!("{id}.json"))
    }

    fn exit_path(&self, id: &str) -> PathBuf {
        self.directory.join(format!("{id}.exit"))
    }

    fn default_log_path(&self, id: &str) -> PathBuf {
        self.directory.join(format!("{id}.log"))
    }

    fn read_record(&self, id: &str) -> Option<Record> {
        serde_json::from_slice(&fs::read(self.record_path(id)).ok()?).ok()
    }

    fn working_dir_for(&self, spec: &ContainerSpec) -> PathBuf {
        match &spec.working_dir {
            Some(directory) if Path::new(directory).is_absolute() && Path::new(directory).is_dir() => PathBuf::from(directory),
            _ => self.working_dir.clone(),
        }
    }

    fn spawn(&self, spec: &ContainerSpec, id: &str, log_path: &Path) -> Result<Child, ContainerError> {
        let arguments: Vec<&String> = spec.entrypoint.iter().flatten().chain(&spec.command).collect();
        let Some(program) = arguments.first() else {
            return Err(start_error("the container has no command (the process runner has no image to take one from)".to_owned()));
        };
        let working_dir = self.working_dir_for(spec);
        if !is_runnable(program, &working_dir) {
            return Err(start_error(format!("executable file not found: {program} (in {} or PATH)", working_dir.display())));
        }
        if let Some(directory) = log_path.parent() {
            fs::create_dir_all(directory).map_err(|error| engine_error(format!("cannot create {}: {error}", directory.display())))?;
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(|error| engine_error(format!("cannot open the log file {}: {error}", log_path.display())))?;
        let log_too = log.try_clone().map_err(|error| engine_error(format!("cannot share the log file: {error}")))?;
        let mut command = Command::new("sh");
        command.arg("-c").arg(WRAPPER).arg(self.exit_path(id)).args(arguments);
        command.env_clear();
        for name in INHERITED_VARIABLES {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(spec.environment.iter().map(|(name, value)| (name, value)));
        command.current_dir(working_dir).stdin(Stdio::null()).stdout(log).stderr(log_too).process_group(0);
        command.spawn().map_err(|error| engine_error(format!("cannot start sh: {error}")))
    }

    /// Waits for the run's process group leader to end; `None` when the run was stopped.
    fn watch(&self, record: &Record, cancellation: &Cancellation) -> Watched {
        let id = &record.container.id;
        let memory_limit = record.memory_mib.map(|mib| mib * 1024 * 1024);
        let mut next_memory_check = Instant::now();
        loop {
            if let Some(exit) = self.exit_of(record) {
                return Watched::Exited(exit);
            }
            if cancellation.is_cancelled() {
                return Watched::Stopped(ContainerEnd::Stopped);
            }
            if record.container.deadline.is_some_and(|deadline| SystemTime::now() >= deadline) {
                return Watched::Stopped(ContainerEnd::TimedOut);
            }
            if let Some(limit) = memory_limit {
                if Instant::now() >= next_memory_check {
                    if group_resident_bytes(record.pid) > limit {
                        return Watched::OutOfMemory;
                    }
                    next_memory_check = Instant::now() + MEMORY_INTERVAL;
                }
            }
            thread::sleep(POLL_INTERVAL);
            if !self.is_ours(id) && !is_alive(record.pid, record.start_ticks) {
                // Adopted and gone: its exit file (if any) is complete, since it is written before exit.
                return Watched::Exited(self.exit_file_code(id));
            }
        }
    }

    fn is_ours(&self, id: &str) -> bool {
        self.children.lock().unwrap_or_else(PoisonError::into_inner).contains_key(id)
    }

    /// The exit code of a run started by this process, once its `sh` ended (`Some(None)`: ended
    /// without a code of its own); `None` while it runs or when it is not ours.
    fn exit_of(&self, record: &Record) -> Option<Option<i32>> {
        let id = &record.container.id;
        let mut children = self.children.lock().unwrap_or_else(PoisonError::into_inner);
        let status = children.get_mut(id)?.try_wait().ok().flatten()?;
        children.remove(id);
        drop(children);
        Some(self.exit_file_code(id).or(status.code()).or(status.signal().map(|signal| 128 + signal)))
    }

    fn exit_file_code(&self, id: &str) -> Option<i32> {
        fs::read_to_string(self.exit_path(id)).ok()?.trim().parse().ok()
    }

    /// Ends the run's process group: SIGTERM, then SIGKILL after the grace (immediately when
    /// `immediately`), and reaps our child.
    fn kill_group(&self, record: &Record, immediately: bool) {
        let alive = || match self.children.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&record.container.id) {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => is_alive(record.pid, record.start_ticks),
        };
        if !alive() {
            return signal_group(record.pid, libc::SIGKILL);
        }
        if !immediately {
            signal_group(record.pid, libc::SIGTERM);
            let give_up = Instant::now() + self.stop_grace;
            while alive() && Instant::now() < give_up {
                thread::sleep(POLL_INTERVAL);
            }
        }
        // Also whatever the leader left behind in its group.
        signal_group(record.pid, libc::SIGKILL);
        // Taken out first: the other containers' lock is not held while this one is reaped.
        let child = self.children.lock().unwrap_or_else(PoisonError::into_inner).remove(&record.container.id);
        if let Some(mut child) = child {
            let _ = child.wait();
        }
    }

    fn forget(&self, record: &Record) {
        let id = &record.container.id;
        let _ = fs::remove_file(self.exit_path(id));
        if record.own_log {
            let _ = fs::remove_file(self.default_log_path(id));
        }
        let _ = fs::remove_file(self.record_path(id));
    }
}

enum Watched {
    Exited(Option<i32>),
    Stopped(ContainerEnd),
    OutOfMemory,
}

impl ContainerRunner for ProcessRunner {
    fn name(&self) -> &str {
        "process"
    }

    fn start(&self, spec: &ContainerSpec) -> Result<StartedContainer, ContainerError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let log_path = spec.log_file.clone().unwrap_or_else(|| self.default_log_path(&id));
        let child = self.spawn(spec, &id, &log_path)?;
        let started_at = SystemTime::now();
        let pid = child.id() as i32;
        let container = StartedContainer {
            runner: self.name().to_owned(),
            id: id.clone(),
            labels: labels_of(spec, &self.owner),
            started_at,
            deadline: deadline_of(spec, started_at),
            log_file: Some(log_path),
        };
        let record = Record { container, pid, start_ticks: start_ticks(pid).unwrap_or(0), memory_mib: spec.memory_mib, own_log: spec.log_file.is_none() };
        self.children.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), child);
        let written = serde_json::to_vec(&record)
            .map_err(|error| error.to_string())
            .and_then(|bytes| write_atomically(&self.record_path(&id), &bytes).map_err(|error| error.to_string()));
        if let Err(error) = written {
            // Without its record the run could be orphaned by a crash: it does not run at all.
            self.kill_group(&record, true);
            self.forget(&record);
            return Err(engine_error(format!("cannot record the run in {}: {error}", self.directory.display())));
        }
        Ok(record.container)
    }

    fn wait(&self, container: &StartedContainer, cancellation: &Cancellation) -> ContainerOutcome {
        let Some(record) = self.read_record(&container.id) else {
            return lost(self.name(), container, "the process runner has no record of it".to_owned());
        };
        let (end, exit_code, oom_killed) = match self.watch(&record, cancellation) {
            Watched::Exited(code) => (ContainerEnd::Exited, code, false),
            Watched::Stopped(end) => {
                self.kill_group(&record, false);
                (end, self.exit_file_code(&container.id).or(Some(128 + libc::SIGTERM)), false)
            }
            Watched::OutOfMemory => {
                self.kill_group(&record, true);
                (ContainerEnd::Exited, Some(128 + libc::SIGKILL), true)
            }
        };
        // Whatever the command left running in its group ends with it, as in a container.
        signal_group(record.pid, libc::SIGKILL);
        let stopped_at = SystemTime::now();
        let logs = container.log_file.as_deref().map(logs::tail).unwrap_or_default();
        self.forget(&record);
        ContainerOutcome {
            runner: self.name().to_owned(),
            container_id: Some(container.id.clone()),
            end,
            exit_code,
            oom_killed,
            started_at: Some(container.started_at),
            stopped_at,
            logs,
        }
    }

    fn survivors(&self) -> Result<Vec<StartedContainer>, ContainerError> {
        let entries = fs::read_dir(&self.directory).map_err(|error| engine_error(format!("cannot read {}: {error}", self.directory.display())))?;
        let mut survivors = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|extension| extension != "json") {
                continue;
            }
            match fs::read(&path).ok().and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok()) {
                Some(record) => survivors.push(record.container),
                // A torn record (a crash while writing it) names no process; there is nothing to adopt.
                None => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        survivors.sort_by_key(|container| container.started_at);
        Ok(survivors)
    }

    fn remove(&self, container: &StartedContainer) {
        if let Some(record) = self.read_record(&container.id) {
            self.kill_group(&record, true);
            self.forget(&record);
        }
    }
}

fn lost(runner: &str, container: &StartedContainer, reason: String) -> ContainerOutcome {
    ContainerOutcome {
        runner: runner.to_owned(),
        container_id: Some(container.id.clone()),
        end: ContainerEnd::Lost(reason),
        exit_code: None,
        oom_killed: false,
        started_at: Some(container.started_at),
        stopped_at: SystemTime::now(),
        logs: container.log_file.as_deref().map(logs::tail).unwrap_or_default(),
    }
}

fn engine_error(message: String) -> ContainerError {
    ContainerError::new(ContainerErrorKind::Engine, message)
}

fn start_error(message: String) -> ContainerError {
    ContainerError::new(ContainerErrorKind::Start, message)
}

/// Whether `program` names an executable: a path (relative to `working_dir`) or a name on `PATH`.
fn is_runnable(program: &str, working_dir: &Path) -> bool {
    if program.contains('/') {
        return working_dir.join(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|directory| directory.join(program).is_file())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    fs::write(&temporary, bytes)?;
    fs::rename(temporary, path)
}

fn signal_group(leader: i32, signal: i32) {
    if leader > 0 {
        // SAFETY: kill(2) takes plain integers; a negative pid names the process group.
        unsafe {
            libc::kill(-leader, signal);
        }
    }
}

/// `/proc/PID/stat` split after the command name (which may hold spaces and parentheses): the
/// fields from `state` (field 3) on.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    stat_fields_of(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn stat_fields_of(stat: &str) -> Option<Vec<String>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Field 22, `starttime`.
fn start_ticks(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// The process exists, is the one that was recorded (same start time) and has not ended.
fn is_alive(pid: i32, recorded_start_ticks: u64) -> bool {
    match stat_fields(pid) {
        Some(fields) => fields.first().is_some_and(|state| state != "Z") && fields.get(19).and_then(|ticks| ticks.parse().ok()) == Some(recorded_start_ticks),
        None => false,
    }
}

/// The resident memory of every process in the group led by `leader`.
fn group_resident_bytes(leader: i32) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let page_size = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let Ok(processes) = fs::read_dir("/proc") else { return 0 };
    processes
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat_fields)
        // Field 5 is the process group, field 24 the resident pages.
        .filter(|fields| fields.get(2).and_then(|group| group.parse::<i32>().ok()) == Some(leader))
        .filter_map(|fields| fields.get(21)?.parse::<u64>().ok())
        .sum::<u64>()
        * page_size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_fields_after_a_command_name_with_spaces() {
        let fields = stat_fields_of("42 (my (odd) prog) S 1 42 42 0 -1").unwrap_or_default();
        assert_eq!(fields, ["S", "1", "42", "42", "0", "-1"]);
    }

    #[test]
    fn finds_programs_on_the_path_or_relative_to_the_working_dir() {
        assert!(is_runnable("sh", Path::new("/")));
        assert!(is_runnable("bin/sh", Path::new("/")));
        assert!(!is_runnable("no-such-program-here", Path::new("/")));
    }
}
