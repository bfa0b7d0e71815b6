//! Attempts as Slurm jobs: each becomes an `sbatch --parsable` submission (vCPUs →
//! `--cpus-per-task`, memory → `--mem`, GPUs → `--gres`, timeout → `--time`), running the
//! command directly or the image with the configured container engine. Children of an array job
//! that become runnable together are one `sbatch --array` submission, tracked as
//! `<jobid>_<index>`; each reads its AWS_BATCH_JOB_ARRAY_INDEX from SLURM_ARRAY_TASK_ID.
//!
//! The script records the command's exit code in a file beside the log the moment it exits, so an
//! attempt ends without waiting for the next `squeue`; states and exit codes also come from one
//! `squeue` snapshot shared by every attempt (refreshed at most every `refresh`), which is what
//! reports jobs Slurm itself ended (cancelled, timed out, node failure). Stopping is `scancel`.

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
    /// Job id (`<jobid>_<index>` for an array's child) → squeue's state and exit code.
    jobs: HashMap<String, SlurmJob>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SlurmJob {
    /// PENDING, RUNNING, COMPLETED, FAILED, ...
    state: String,
    exit_code: Option<i32>,
}

/// The variables that differ between the children of an array job.
const ARRAY_INDEX_VARIABLE: &str = "AWS_BATCH_JOB_ARRAY_INDEX";
const JOB_ID_VARIABLE: &str = "AWS_BATCH_JOB_ID";

impl SlurmRunner {
    pub fn new(settings: SlurmSettings) -> SlurmRunner {
        SlurmRunner { cluster: Arc::new(Cluster { settings, snapshot: Mutex::new(Snapshot::default()) }) }
    }

    /// Whether the cluster answers (sinfo).
    pub fn is_available(settings: &SlurmSettings) -> bool {
        settings.command("sinfo").arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
    }

    /// Writes the script and submits it; sbatch's job id.
    fn submit(&self, script_path: &std::path::Path, script: &str, arguments: Vec<String>) -> Result<String, String> {
        if let Some(directory) = script_path.parent() {
            std::fs::create_dir_all(directory).map_err(|error| format!("CannotCreateContainerError: {}: {error}", directory.display()))?;
        }
        std::fs::write(script_path, script).map_err(|error| format!("CannotCreateContainerError: {}: {error}", script_path.display()))?;
        let output = self
            .cluster
            .settings
            .command("sbatch")
            .args(arguments)
            .arg(script_path)
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
        Ok(slurm_id)
    }

    fn attempt(&self, slurm_id: String, launch: &Launch) -> Box<dyn RunningAttempt> {
        Box::new(SlurmAttempt { cluster: self.cluster.clone(), slurm_id, exit_file: exit_file(launch) })
    }
}

impl JobRunner for SlurmRunner {
    fn start(&self, launch: &Launch) -> Result<Box<dyn RunningAttempt>, String> {
        let settings = &self.cluster.settings;
        let script = batch_script(launch, settings.container_engine.as_deref(), &Outputs::Single);
        let slurm_id = self.submit(&launch.log_path.with_extension("sbatch"), &script, sbatch_arguments(launch, settings))?;
        Ok(self.attempt(slurm_id, launch))
    }

    fn start_array(&self, launches: &[Launch]) -> Vec<Result<Box<dyn RunningAttempt>, String>> {
        let Some(pattern) = ArrayPattern::of(launches) else {
            return launches.iter().map(|launch| self.start(launch)).collect();
        };
        let settings = &self.cluster.settings;
        let first = &launches[0];
        let script = batch_script(first, settings.container_engine.as_deref(), &Outputs::Array(&pattern));
        let mut arguments = sbatch_arguments(first, settings);
        arguments.retain(|argument| !argument.starts_with("--output="));
        arguments.push(format!("--output={}", pattern.log_path()));
        arguments.push(format!("--array={}", index_ranges(&pattern.indices)));
        match self.submit(&pattern.script_path(), &script, arguments) {
            Ok(slurm_id) => pattern.indices.iter().zip(launches).map(|(index, launch)| Ok(self.attempt(format!("{slurm_id}_{index}"), launch))).collect(),
            Err(reason) => launches.iter().map(|_| Err(reason.clone())).collect(),
        }
    }

    fn reattach(&self, handle: &str, launch: &Launch) -> Option<Box<dyn RunningAttempt>> {
        Some(self.attempt(handle.to_owned(), launch))
    }
}

/// Where the script writes the command's exit code: beside its log.
fn exit_file(launch: &Launch) -> PathBuf {
    launch.log_path.with_extension("exit")
}

/// The children of one array job submitted together: their files differ only by their index,
/// which Slurm's `%a` (and the script's SLURM_ARRAY_TASK_ID) fill in.
struct ArrayPattern {
    /// The log path up to the index, and after it without the extension.
    before: String,
    after: String,
    indices: Vec<u32>,
}

impl ArrayPattern {
    /// None unless every launch is a child of the same array job whose attempts differ only by
    /// index (the same attempt number, command, environment and log naming).
    fn of(launches: &[Launch]) -> Option<ArrayPattern> {
        let first = launches.first()?;
        let first_child = first.array_child.as_ref()?;
        let (before, after) = split_at_index(first, first_child.index)?;
        let shared = |launch: &Launch| Launch { job_id: String::new(), log_path: PathBuf::new(), array_child: None, environment: shared_environment(launch), ..launch.clone() };
        let template = shared(first);
        let mut indices = Vec::with_capacity(launches.len());
        for launch in launches {
            let child = launch.array_child.as_ref()?;
            let same_array = child.parent_job_id == first_child.parent_job_id && shared(launch) == template;
            if !same_array || split_at_index(launch, child.index)? != (before.clone(), after.clone()) {
                return None;
            }
            indices.push(child.index);
        }
        (launches.len() > 1).then_some(ArrayPattern { before, after, indices })
    }

    /// Slurm's `--output` pattern (`%a` the index, `%%` a literal `%`).
    fn log_path(&self) -> String {
        format!("{}%a{}.log", self.before.replace('%', "%%"), self.after.replace('%', "%%"))
    }

    /// The one script of every child.
    fn script_path(&self) -> PathBuf {
        PathBuf::from(format!("{}array{}.sbatch", self.before, self.after))
    }

    /// The same file, as the script names it for its own child.
    fn shell_path(&self, extension: &str) -> String {
        format!("{}\"$SLURM_ARRAY_TASK_ID\"{}", quote(&self.before), quote(&format!("{}.{extension}", self.after)))
    }
}

/// The log path around the child's index (`.../job-INDEX-ATTEMPT.log` → `.../job-`, `-ATTEMPT`).
fn split_at_index(launch: &Launch, index: u32) -> Option<(String, String)> {
    let path = launch.log_path.with_extension("");
    let path = path.to_str()?;
    let marker = format!("-{index}-{}", launch.attempt);
    let at = path.rfind(&marker)?;
    (at + marker.len() == path.len()).then(|| (format!("{}-", &path[..at]), format!("-{}", launch.attempt)))
}

fn shared_environment(launch: &Launch) -> Vec<(String, String)> {
    launch.environment.iter().filter(|(name, _)| name != ARRAY_INDEX_VARIABLE && name != JOB_ID_VARIABLE).cloned().collect()
}

/// `0-3,5,7-8`.
fn index_ranges(indices: &[u32]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for index in sorted {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == index => *end = index,
            _ => ranges.push((index, index)),
        }
    }
    ranges.iter().map(|(start, end)| if start == end { start.to_string() } else { format!("{start}-{end}") }).collect::<Vec<_>>().join(",")
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

/// Whether the script runs one attempt or every child of an array.
enum Outputs<'a> {
    Single,
    Array(&'a ArrayPattern),
}

/// The script sbatch runs: the job's environment, the command (or the image), then its exit code
/// written where the runner looks for it.
fn batch_script(launch: &Launch, engine: Option<&str>, outputs: &Outputs) -> String {
    let mut script = String::from("#!/bin/sh\n");
    let exit_file = match outputs {
        Outputs::Single => {
            for (name, value) in &launch.environment {
                script.push_str(&format!("export {name}={}\n", quote(value)));
            }
            quote(&exit_file(launch).to_string_lossy())
        }
        Outputs::Array(pattern) => {
            for (name, value) in &shared_environment(launch) {
                script.push_str(&format!("export {name}={}\n", quote(value)));
            }
            let parent = launch.array_child.as_ref().map(|child| child.parent_job_id.as_str()).unwrap_or_default();
            script.push_str(&format!("export {ARRAY_INDEX_VARIABLE}=\"$SLURM_ARRAY_TASK_ID\"\n"));
            script.push_str(&format!("export {JOB_ID_VARIABLE}={}\"$SLURM_ARRAY_TASK_ID\"\n", quote(&format!("{parent}:"))));
            pattern.shell_path("exit")
        }
    };
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
    let words: Vec<String> = command.iter().map(|argument| quote(argument)).collect();
    script.push_str(&words.join(" "));
    // Written to a temporary name and renamed: the runner never reads half a number.
    script.push_str(&format!("\ncode=$?\necho $code > {exit_file}.tmp && mv {exit_file}.tmp {exit_file}\nexit $code\n"));
    script
}

/// POSIX shell single quotes.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

struct SlurmAttempt {
    cluster: Arc<Cluster>,
    slurm_id: String,
    exit_file: PathBuf,
}

const ENDED_STATES: &[&str] = &["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"];

impl Cluster {
    /// squeue's view of a job, from a snapshot at most `refresh` old.
    fn job(&self, slurm_id: &str) -> Option<SlurmJob> {
        let mut snapshot = self.snapshot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stale = snapshot.taken.is_none_or(|taken| taken.elapsed() >= self.settings.refresh) || !snapshot.jobs.contains_key(slurm_id);
        if stale && snapshot.taken.is_none_or(|taken| taken.elapsed() >= self.settings.refresh / 4) {
            if let Some(jobs) = squeue(&self.settings) {
                snapshot.jobs = jobs;
                snapshot.taken = Some(Instant::now());
            }
        }
        snapshot.jobs.get(slurm_id).cloned()
    }
}

/// Every job Slurm still knows, one line per array child (`-r`).
fn squeue(settings: &SlurmSettings) -> Option<HashMap<String, SlurmJob>> {
    let output = settings.command("squeue").args(["-h", "-r", "-t", "all", "-O", "JobArrayID:64|,State:24|,exit_code:12"]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().filter_map(parse_squeue_line).collect())
}

fn parse_squeue_line(line: &str) -> Option<(String, SlurmJob)> {
    let mut fields = line.split('|').map(str::trim);
    let (id, state, status) = (fields.next()?, fields.next()?, fields.next()?);
    let exit_code = status.parse::<i32>().ok().map(exit_code_of_wait_status);
    Some((id.to_owned(), SlurmJob { state: state.to_owned(), exit_code }))
}

/// squeue's exit_code is the wait status: a signal reads as 128 + signal, as a container's exit
/// code does.
fn exit_code_of_wait_status(status: i32) -> i32 {
    let signal = status & 0x7f;
    if signal > 0 {
        128 + signal
    } else {
        (status >> 8) & 0xff
    }
}

impl SlurmAttempt {
    /// The exit code the script recorded, once the command has exited.
    fn recorded_exit_code(&self) -> Option<i32> {
        std::fs::read_to_string(&self.exit_file).ok()?.trim().parse().ok()
    }
}

impl RunningAttempt for SlurmAttempt {
    fn poll(&mut self) -> Progress {
        if let Some(exit_code) = self.recorded_exit_code() {
            return Progress::Exited(Exit { exit_code: Some(exit_code), reason: None });
        }
        let Some(job) = self.cluster.job(&self.slurm_id) else { return Progress::Queued };
        match job.state.as_str() {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "RESV_DEL_HOLD" | "SUSPENDED" => Progress::Queued,
            state if ENDED_STATES.contains(&state) => {
                let reason = match state {
                    "COMPLETED" | "FAILED" => None,
                    "OUT_OF_MEMORY" => Some("OutOfMemoryError: Container killed due to memory usage".to_owned()),
                    other => Some(format!("Slurm job {} ended {other}", self.slurm_id)),
                };
                // The script's own record wins: it may have been written after the snapshot.
                let exit_code = self.recorded_exit_code().or(job.exit_code);
                Progress::Exited(Exit { exit_code, reason })
            }
            _ => Progress::Running,
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
    use crate::runner::ArrayChild;

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
            array_child: None,
        }
    }

    fn child(index: u32) -> Launch {
        let mut launch = launch();
        launch.job_id = format!("p:{index}");
        launch.log_path = PathBuf::from(format!("/logs/d_default_p-{index}-1.log"));
        launch.environment.push((JOB_ID_VARIABLE.into(), format!("p:{index}")));
        launch.environment.push((ARRAY_INDEX_VARIABLE.into(), index.to_string()));
        launch.array_child = Some(ArrayChild { parent_job_id: "p".into(), index });
        launch
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
    fn the_script_quotes_and_runs_the_command_or_the_image_then_records_its_exit_code() {
        let record = "code=$?\necho $code > '/logs/j.exit'.tmp && mv '/logs/j.exit'.tmp '/logs/j.exit'\nexit $code\n";
        assert_eq!(batch_script(&launch(), None, &Outputs::Single), format!("#!/bin/sh\nexport A='x y'\n'echo' 'it'\\''s'\n{record}"));
        let podman = batch_script(&launch(), Some("podman"), &Outputs::Single);
        assert!(podman.contains("\n'podman' 'run' '--rm' '--network=host' '-e' 'A' 'busybox' 'echo' 'it'\\''s'\n"), "{podman}");
    }

    #[test]
    fn children_of_one_array_share_a_script_that_takes_its_index_from_slurm() {
        let children = [child(0), child(1), child(2), child(4)];
        let pattern = ArrayPattern::of(&children).expect("one array");
        assert_eq!(index_ranges(&pattern.indices), "0-2,4");
        assert_eq!(pattern.log_path(), "/logs/d_default_p-%a-1.log");
        let script = batch_script(&children[0], None, &Outputs::Array(&pattern));
        assert!(script.contains("export AWS_BATCH_JOB_ARRAY_INDEX=\"$SLURM_ARRAY_TASK_ID\"\nexport AWS_BATCH_JOB_ID='p:'\"$SLURM_ARRAY_TASK_ID\"\n"), "{script}");
        assert!(script.contains("> '/logs/d_default_p-'\"$SLURM_ARRAY_TASK_ID\"'-1.exit'.tmp"), "{script}");
        assert!(!script.contains("'p:0'"), "{script}");
        let mut retried = child(3);
        retried.attempt = 2;
        assert!(ArrayPattern::of(&[child(0), retried]).is_none(), "attempts of different numbers go one by one");
        assert!(ArrayPattern::of(&[launch()]).is_none());
    }

    #[test]
    fn squeue_lines_give_states_and_exit_codes_of_array_children() {
        assert_eq!(parse_squeue_line("144_1     |FAILED      |768   "), Some(("144_1".into(), SlurmJob { state: "FAILED".into(), exit_code: Some(3) })));
        assert_eq!(parse_squeue_line("145|CANCELLED|9").and_then(|(_, job)| job.exit_code), Some(137));
    }
}
