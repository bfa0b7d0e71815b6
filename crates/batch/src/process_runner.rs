//! Attempts as local processes: the command runs directly in a working directory (the image is
//! not used), with the job's environment, its output appended to the attempt's log file.

use crate::job::Exit;
use crate::runner::{JobRunner, Launch, Progress, RunningAttempt};
use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct ProcessJobRunner {
    working_dir: PathBuf,
}

impl ProcessJobRunner {
    /// Relative commands (`app/exec`) resolve against `working_dir`, as they would in the image's
    /// working directory.
    pub fn new(working_dir: PathBuf) -> ProcessJobRunner {
        ProcessJobRunner { working_dir }
    }
}

impl JobRunner for ProcessJobRunner {
    fn start(&self, launch: &Launch) -> Result<Box<dyn RunningAttempt>, String> {
        let Some((program, arguments)) = launch.command.split_first() else {
            return Err("CannotStartContainerError: the job has no command".into());
        };
        let log = open_log(launch)?;
        let errors = log.try_clone().map_err(|error| format!("CannotStartContainerError: {error}"))?;
        let program = if program.contains('/') && !program.starts_with('/') { self.working_dir.join(program) } else { PathBuf::from(program) };
        let child = Command::new(&program)
            .args(arguments)
            .envs(launch.environment.iter().map(|(name, value)| (name, value)))
            .current_dir(&self.working_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(errors)
            // Its own process group, so that stopping it stops what it started too.
            .process_group(0)
            .spawn()
            .map_err(|error| format!("CannotStartContainerError: {}: {error}", program.display()))?;
        Ok(Box::new(LocalAttempt { child }))
    }
}

pub(crate) fn open_log(launch: &Launch) -> Result<File, String> {
    if let Some(directory) = launch.log_path.parent() {
        std::fs::create_dir_all(directory).map_err(|error| format!("CannotCreateContainerError: {}: {error}", directory.display()))?;
    }
    File::options().create(true).append(true).open(&launch.log_path).map_err(|error| format!("CannotCreateContainerError: {}: {error}", launch.log_path.display()))
}

struct LocalAttempt {
    child: Child,
}

impl RunningAttempt for LocalAttempt {
    fn poll(&mut self) -> Progress {
        match self.child.try_wait() {
            Ok(None) => Progress::Running,
            Ok(Some(status)) => Progress::Exited(Exit { exit_code: status.code().or(status.signal().map(|signal| 128 + signal)), reason: None }),
            Err(error) => Progress::Exited(Exit { exit_code: None, reason: Some(format!("InternalError: {error}")) }),
        }
    }

    fn stop(&mut self) {
        // The whole group: a shell's children must not outlive the job.
        let group = format!("-{}", self.child.id());
        let killed = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        if !killed.is_ok_and(|status| status.success()) {
            let _ = self.child.kill();
        }
    }
}
