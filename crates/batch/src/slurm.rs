//! Attempts as Slurm jobs: each becomes an `sbatch --parsable` submission (vCPUs →
//! `--cpus-per-task`, memory → `--mem`, GPUs → `--gres`, timeout → `--time`), running the
//! command directly or the image with the configured container engine. States come from one
//! `squeue` snapshot shared by every attempt (refreshed at most every `refresh`), exit codes from
//! `scontrol show job`; stopping is `scancel`. Output goes to the attempt's log file.

use crate::job::Exit;
use crate::runner::{JobRunner, Launch, Progress, RunningAttempt};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SlurmSettings {
    /// The partition jobs go to (the cluster's default when None).
    pub partition: Option<String>,
    /// `podman` or `docker`: runs the job's image; None runs the command directly on the node.
    pub container_engine: Option<String>,
    /// The jobs' working directory (relative commands resolve here).
    pub working_dir: PathBuf,
    /// How old the squeue snapshot may be.
    pub refresh: Duration,
    /// The cluster's slurm.conf (SLURM_CONF of the commands); Slurm's own default when None.
    pub slurm_conf: Option<PathBuf>,
}

impl SlurmSettings {
    /// A Slurm command aimed at this cluster.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        if let Some(conf) = &self.slurm_conf {
            command.env("SLURM_CONF", conf);
        }
        command.stdin(Stdio::null());
        command
    }
}

pub struct SlurmRunner {
    cluster: Arc<Cluster>,
}

struct Cluster {
    settings: SlurmSettings,
    snapshot: Mutex<Snapshot>,
}

#[derive(Default)]
struct Snapshot {
    taken: Option<Instant>,
    /// Job id → squeue's state (PENDING, RUNNING, COMPLETED, FAILED, ...).
    states: HashMap<String, String>,
}

impl SlurmRunner {
    pub fn new(settings: SlurmSettings) -> SlurmRunner {
        SlurmRunner { cluster: Arc::new(Cluster { settings, snapshot: Mutex::new(Snapshot::default()) }) }
    }

    /// Whether the cluster answers (sinfo).
    pub fn is_available(settings: &SlurmSettings) -> bool {
        settings.command("sinfo").arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
    }
}

impl JobRunner for SlurmRunner {
    fn start(&self, launch: &Launch) -> Result<Box<dyn RunningAttempt>, String> {
        let settings = &self.cluster.settings;
        let script_path = launch.log_path.with_extension("sbatch");
        if let Some(directory) = script_path.parent() {
            std::fs::create_dir_all(directory).map_err(|error| format!("CannotCreateContainerError: {}: {error}", directory.display()))?;
        }
        std::fs::write(&script_path, batch_script(launch, settings.container_engine.as_deref()))
            .map_err(|error| format!("CannotCreateContainerError: {}: {error}", script_path.display()))?;
        let output = settings
            .command("sbatch")
            .args(sbatch_arguments(launch, settings))
            .arg(&script_path)
            .output()
            .map_err(|error| format!("CannotStartContainerError: sbatch: {error}"))?;
        if !output.status.success() {
            return Err(format!("CannotStartContainerError: sbatch: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        // --parsable prints "ID" or "ID;CLUSTER".
        let stdout = String::from_utf8_lossy(&output.stdout);
        let slurm_id = stdout.trim().split(';').next().unwrap_or_default().to_owned();
        if slurm_id.is_empty() {
            return Err("CannotStartContainerError: sbatch printed no job id".into());
        }
        Ok(Box::new(SlurmAttempt { cluster: self.cluster.clone(), slurm_id }))
    }

    fn reattach(&self, handle: &str, _launch: &Launch) -> Option<Box<dyn RunningAttempt>> {
        Some(Box::new(SlurmAttempt { cluster: self.cluster.clone(), slurm_id: handle.to_owned() }))
    }
}

fn sbatch_arguments(launch: &Launch, settings: &SlurmSettings) -> Vec<String> {
    let mut arguments = vec![
        "--parsable".to_owned(),
        format!("--job-name={}", launch.job_name),
        format!("--output={}", launch.log_path.display()),
        format!("--chdir={}", settings.working_dir.display()),
        format!("--cpus-per-task={}", launch.demand.whole_vcpus()),
        format!("--mem={}", launch.demand.memory_mib),
    ];
    if launch.demand.gpus > 0 {
        arguments.push(format!("--gres=gpu:{}", launch.demand.gpus));
    }
    if let Some(seconds) = launch.timeout_seconds {
        // Slurm counts minutes; the scheduler enforces the exact timeout itself.
        arguments.push(format!("--time={}", seconds.div_ceil(60)));
    }
    if let Some(partition) = &settings.partition {
        arguments.push(format!("--partition={partition}"));
    }
    arguments
}

/// The script sbatch runs: the job's environment, then the command (or the image) in its place.
fn batch_script(launch: &Launch, engine: Option<&str>) -> String {
    let mut script = String::from("#!/bin/sh\n");
    for (name, value) in &launch.environment {
        script.push_str(&format!("export {name}={}\n", quote(value)));
    }
    let command: Vec<String> = match (engine, &launch.image) {
        (Some(engine), Some(image)) => {
            let mut run = vec![engine.to_owned(), "run".into(), "--rm".into(), "--network=host".into()];
            run.extend(launch.environment.iter().flat_map(|(name, _)| ["-e".to_owned(), name.clone()]));
            run.push(image.clone());
            run.extend(launch.command.iter().cloned());
            run
        }
        _ => launch.command.clone(),
    };
    script.push_str("exec");
    for argument in &command {
        script.push(' ');
        script.push_str(&quote(argument));
    }
    script.push('\n');
    script
}

/// POSIX shell single quotes.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

struct SlurmAttempt {
    cluster: Arc<Cluster>,
    slurm_id: String,
}

const ENDED_STATES: &[&str] = &["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"];

impl Cluster {
    /// squeue's state of a job, from a snapshot at most `refresh` old.
    fn state(&self, slurm_id: &str) -> Option<String> {
        let mut snapshot = self.snapshot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stale = snapshot.taken.is_none_or(|taken| taken.elapsed() >= self.settings.refresh) || !snapshot.states.contains_key(slurm_id);
        if stale && snapshot.taken.is_none_or(|taken| taken.elapsed() >= self.settings.refresh / 4) {
            if let Some(states) = squeue(&self.settings) {
                snapshot.states = states;
                snapshot.taken = Some(Instant::now());
            }
        }
        snapshot.states.get(slurm_id).cloned()
    }
}

fn squeue(settings: &SlurmSettings) -> Option<HashMap<String, String>> {
    let output = settings.command("squeue").args(["-h", "-t", "all", "-o", "%i|%T"]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().filter_map(|line| line.split_once('|')).map(|(id, state)| (id.trim().to_owned(), state.trim().to_owned())).collect())
}

/// `ExitCode=CODE:SIGNAL` of `scontrol show job`: a signal reads as 128 + signal, as a
/// container's exit code does.
fn exit_code(settings: &SlurmSettings, slurm_id: &str) -> Option<i32> {
    let output = settings.command("scontrol").args(["show", "job", "-o", slurm_id]).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let field = text.split_whitespace().find_map(|field| field.strip_prefix("ExitCode="))?;
    let (code, signal) = field.split_once(':')?;
    let (code, signal): (i32, i32) = (code.parse().ok()?, signal.parse().ok()?);
    Some(if signal > 0 { 128 + signal } else { code })
}

impl RunningAttempt for SlurmAttempt {
    fn poll(&mut self) -> Progress {
        match self.cluster.state(&self.slurm_id).as_deref() {
            None | Some("PENDING" | "CONFIGURING" | "REQUEUED" | "RESV_DEL_HOLD" | "SUSPENDED") => Progress::Queued,
            Some(state) if ENDED_STATES.contains(&state) => {
                let reason = match state {
                    "COMPLETED" | "FAILED" => None,
                    "OUT_OF_MEMORY" => Some("OutOfMemoryError: Container killed due to memory usage".to_owned()),
                    other => Some(format!("Slurm job {} ended {other}", self.slurm_id)),
                };
                let exit_code = exit_code(&self.cluster.settings, &self.slurm_id).or(if state == "COMPLETED" { Some(0) } else { None });
                Progress::Exited(Exit { exit_code, reason })
            }
            Some(_) => Progress::Running,
        }
    }

    fn stop(&mut self) {
        let _ = self.cluster.settings.command("scancel").arg(&self.slurm_id).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }

    fn handle(&self) -> Option<String> {
        Some(self.slurm_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Demand;

    fn launch() -> Launch {
        Launch {
            job_id: "j".into(),
            job_name: "train".into(),
            attempt: 1,
            image: Some("busybox".into()),
            command: vec!["echo".into(), "it's".into()],
            working_dir: None,
            environment: vec![("A".into(), "x y".into())],
            demand: Demand { millicpus: 1500, memory_mib: 256, gpus: 1 },
            timeout_seconds: Some(61),
            log_path: PathBuf::from("/logs/j.log"),
        }
    }

    #[test]
    fn resources_become_sbatch_options() {
        let settings = SlurmSettings { partition: Some("gpu".into()), container_engine: None, working_dir: PathBuf::from("/w"), refresh: Duration::from_millis(50), slurm_conf: None };
        let arguments = sbatch_arguments(&launch(), &settings);
        for expected in ["--cpus-per-task=2", "--mem=256", "--gres=gpu:1", "--time=2", "--partition=gpu", "--output=/logs/j.log", "--chdir=/w"] {
            assert!(arguments.iter().any(|argument| argument == expected), "{expected} in {arguments:?}");
        }
    }

    #[test]
    fn the_script_quotes_and_runs_the_command_or_the_image() {
        assert_eq!(batch_script(&launch(), None), "#!/bin/sh\nexport A='x y'\nexec 'echo' 'it'\\''s'\n");
        assert!(batch_script(&launch(), Some("podman")).ends_with("exec 'podman' 'run' '--rm' '--network=host' '-e' 'A' 'busybox' 'echo' 'it'\\''s'\n"));
    }
}
