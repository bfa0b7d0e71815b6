//! An execution environment's process: spawned by this process, or forked by a Python template
//! (see `zygote`), whose parent is then the template.

use std::io;
use std::process::{Child, ExitStatus};

use crate::zygote::ForkedProcess;

pub(crate) enum Process {
    Spawned(Child),
    Forked(ForkedProcess),
}

impl Process {
    pub fn id(&self) -> u32 {
        match self {
            Process::Spawned(child) => child.id(),
            Process::Forked(forked) => forked.id(),
        }
    }

    /// How it ended, once it has.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self {
            Process::Spawned(child) => child.try_wait(),
            Process::Forked(forked) => Ok(forked.try_wait()),
        }
    }

    /// Kills it and waits until it is gone (reaped).
    pub fn stop(&mut self) {
        match self {
            Process::Spawned(child) => {
                // Both fail only when the process is already gone and reaped, which is the goal.
                let _ = child.kill();
                let _ = child.wait();
            }
            Process::Forked(forked) => forked.stop(),
        }
    }
}
