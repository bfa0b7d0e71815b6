//! How an execution environment is started: the runtime's program (Switchyard's bootstrap for
//! Python and Node.js, the code's own `bootstrap` for `provided`), the environment Lambda defines,
//! and the memory limit: a cgroup of its own where this process may create one, otherwise the
//! limits the runtime itself can be given.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cgroup::MemoryCgroup;
use crate::function::{FunctionSpec, HandlerSource, RuntimeFamily};
use crate::zygote::ForkRequest;

pub(crate) const PYTHON_BOOTSTRAP: &str = include_str!("python_bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("node_bootstrap.js");
/// Where Lambda unpacks a function's code; what the function sees when it has no directory.
const LAMBDA_TASK_ROOT: &str = "/var/task";
/// The handler's module source of an inline function, read (and removed) by the bootstraps.
const INLINE_SOURCE_VARIABLE: &str = "_SWITCHYARD_HANDLER_SOURCE";
/// The executable a `provided` runtime starts, in the code directory.
const PROVIDED_BOOTSTRAP: &str = "bootstrap";
/// Node.js gets this share of the memory for its heap, as Lambda's own Node.js runtime sets it.
const NODE_HEAP_PERCENT: u32 = 90;
/// How Python runs every function: unbuffered output (lines reach the logs as printed), no
/// bytecode written into code directories, UTF-8 whatever the locale.
pub(crate) const PYTHON_FLAGS: [(&str, &str); 3] = [("PYTHONUNBUFFERED", "1"), ("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONUTF8", "1")];
/// Variables read while an interpreter starts (`PYTHONPATH`, `LD_PRELOAD`...): a template started
/// before cannot follow a function that sets them.
const STARTUP_VARIABLE_PREFIXES: [&str; 2] = ["PYTHON", "LD_"];

/// The interpreters the bootstraps run on.
#[derive(Debug, Clone)]
pub(crate) struct Interpreters {
    pub python: OsString,
    pub node: OsString,
}

impl Default for Interpreters {
    fn default() -> Interpreters {
        Interpreters { python: "python3".into(), node: "node".into() }
    }
}

/// What the environment's process needs to know beyond the function.
pub(crate) struct Instance<'a> {
    /// `host:port` of its Runtime API (`AWS_LAMBDA_RUNTIME_API`).
    pub runtime_api: &'a str,
    pub log_stream_name: &'a str,
}

impl Interpreters {
    /// The command that starts an environment of `spec` and the cgroup that limits its memory
    /// (where there is one), or why it cannot be started.
    pub fn command(&self, spec: &FunctionSpec, instance: &Instance) -> Result<(Command, Option<MemoryCgroup>), String> {
        let memory_bytes = memory_bytes(spec);
        let cgroup = MemoryCgroup::create(memory_bytes);
        let task_root = match &spec.source {
            HandlerSource::Inline(_) => None,
            HandlerSource::Directory(directory) => {
                Some(std::path::absolute(directory).map_err(|error| format!("code directory {directory:?}: {error}"))?)
            }
        };
        let mut command = match spec.runtime.family() {
            RuntimeFamily::Python => {
                let mut command = Command::new(&self.python);
                command.arg("-c").arg(PYTHON_BOOTSTRAP);
                command.envs(PYTHON_FLAGS);
                if cgroup.is_none() {
                    limit_address_space(&mut command, memory_bytes);
                }
                command
            }
            RuntimeFamily::Node => {
                let mut command = Command::new(&self.node);
                let heap_mb = spec.memory_mb * NODE_HEAP_PERCENT / 100;
                command.arg("--no-warnings").arg(format!("--max-old-space-size={heap_mb}")).arg("-e").arg(NODE_BOOTSTRAP);
                command
            }
            RuntimeFamily::Provided => {
                let Some(task_root) = &task_root else {
                    return Err(format!("runtime {} needs a code directory holding its {PROVIDED_BOOTSTRAP} executable", spec.runtime.identifier()));
                };
                Command::new(task_root.join(PROVIDED_BOOTSTRAP))
            }
        };
        set_lambda_environment(&mut command, spec, task_root.as_deref(), instance);
        if let Some(cgroup) = &cgroup {
            cgroup.enter_on_exec(&mut command);
        }
        Ok((command, cgroup))
    }
}

/// What a Python environment forked from its template gets instead of `command` (Python's, from
/// [`Interpreters::command`]): the same environment, directory and memory limit. `None` when it
/// has to be spawned: the function sets variables that only a starting interpreter reads, or
/// the environment is not UTF-8.
pub(crate) fn fork_request(command: &Command, spec: &FunctionSpec, cgroup: Option<&MemoryCgroup>) -> Option<ForkRequest> {
    if spec.runtime.family() != RuntimeFamily::Python
        || spec.environment.keys().any(|name| STARTUP_VARIABLE_PREFIXES.iter().any(|prefix| name.starts_with(prefix)))
    {
        return None;
    }
    let mut environment: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => environment.insert(name.to_owned(), value.to_owned()),
            None => environment.remove(name),
        };
    }
    let environment = environment.into_iter().map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?))).collect::<Option<_>>()?;
    let directory = match command.get_current_dir() {
        Some(directory) => Some(directory.to_str()?.to_string()),
        None => None,
    };
    let cgroup_procs = match cgroup {
        Some(cgroup) => Some(cgroup.procs_path().into_os_string().into_string().ok()?),
        None => None,
    };
    Some(ForkRequest { environment, directory, memory_limit_bytes: cgroup.is_none().then(|| memory_bytes(spec)), cgroup_procs })
}

fn memory_bytes(spec: &FunctionSpec) -> u64 {
    u64::from(spec.memory_mb) << 20
}

/// The variables Lambda defines for a function, over the function's own `environment`.
fn set_lambda_environment(command: &mut Command, spec: &FunctionSpec, task_root: Option<&Path>, instance: &Instance) {
    command.envs(&spec.environment);
    match (&spec.source, task_root) {
        (HandlerSource::Inline(source), _) => {
            command.env(INLINE_SOURCE_VARIABLE, source);
        }
        (HandlerSource::Directory(_), Some(task_root)) => {
            command.current_dir(task_root);
        }
        (HandlerSource::Directory(_), None) => {}
    }
    command
        .env("AWS_LAMBDA_RUNTIME_API", instance.runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", instance.log_stream_name)
        .env("AWS_REGION", spec.region())
        .env("AWS_DEFAULT_REGION", spec.region())
        .env("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime.identifier()))
        .env("LAMBDA_TASK_ROOT", task_root.map_or_else(|| PathBuf::from(LAMBDA_TASK_ROOT), Path::to_path_buf))
        .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
        .env("_HANDLER", &spec.handler)
        .env("TZ", ":UTC");
}

/// Caps the child's address space (RLIMIT_AS), set between fork and exec. Without a writable
/// cgroup this is the limit the kernel enforces per process: an allocation past it fails (a
/// Python `MemoryError`) instead of growing. Only for runtimes that do not reserve address space
/// far beyond what they use (V8 and multi-threaded allocators do).
fn limit_address_space(command: &mut Command, bytes: u64) {
    let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    // SAFETY: the closure runs in the forked child before exec and only calls setrlimit, which is
    // async-signal-safe, on a value copied into it.
    unsafe {
        command.pre_exec(move || if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 { Ok(()) } else { Err(io::Error::last_os_error()) });
    }
}

/// The peak resident memory of a running process (`VmHWM`), in bytes.
pub(crate) fn peak_memory(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kilobytes = status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_memory_of_this_process() {
        let peak = peak_memory(std::process::id()).expect("a peak");
        assert!(peak > 1 << 20, "{peak}");
    }
}
