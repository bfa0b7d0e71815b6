//! Memory limits through cgroup v2, where this process may create cgroups with the memory
//! controller (a delegated subtree: systemd's `Delegate=`, a container with its own cgroup
//! namespace). Each environment gets a cgroup of its own whose `memory.max` is the function's
//! memory: the kernel stops it when it goes past, as Lambda's sandbox does, and the cgroup tells
//! its peak and whether it was killed for memory.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use uuid::Uuid;

/// One environment's cgroup; removed when dropped (after its processes are gone).
pub(crate) struct MemoryCgroup {
    path: PathBuf,
    procs: File,
}

impl MemoryCgroup {
    /// A new cgroup limited to `bytes`, or `None` where cgroup v2's memory controller cannot be
    /// used by this process.
    pub fn create(bytes: u64) -> Option<MemoryCgroup> {
        let parent = delegated_parent()?;
        let path = parent.join(format!("switchyard-{}", Uuid::new_v4().simple()));
        fs::create_dir(&path).ok()?;
        let limited = fs::write(path.join("memory.max"), bytes.to_string()).is_ok();
        // Without swap, like Lambda; a kernel without swap accounting has no such file.
        let _ = fs::write(path.join("memory.swap.max"), "0");
        match (limited, OpenOptions::new().write(true).open(path.join("cgroup.procs"))) {
            (true, Ok(procs)) => Some(MemoryCgroup { path, procs }),
            _ => {
                let _ = fs::remove_dir(&path);
                None
            }
        }
    }

    /// Moves the command's process into the cgroup between fork and exec.
    pub fn enter_on_exec(&self, command: &mut Command) {
        let procs = self.procs.as_raw_fd();
        // SAFETY: the closure runs in the forked child before exec and only calls write(2), which
        // is async-signal-safe, on a descriptor the parent keeps open. "0" names the writer itself.
        unsafe {
            command.pre_exec(move || if libc::write(procs, b"0".as_ptr().cast(), 1) == 1 { Ok(()) } else { Err(io::Error::last_os_error()) });
        }
    }

    /// The file a process writes `0` to, to enter the cgroup itself (a forked environment does).
    pub fn procs_path(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }

    /// The most memory its processes used together, in bytes (`memory.peak`, Linux 5.19+).
    pub fn peak(&self) -> Option<u64> {
        fs::read_to_string(self.path.join("memory.peak")).ok()?.trim().parse().ok()
    }

    /// Whether the kernel killed one of its processes for going past the limit.
    pub fn was_out_of_memory(&self) -> bool {
        fs::read_to_string(self.path.join("memory.events")).is_ok_and(|events| oom_kills(&events) > 0)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Fails only while a process the function started still lives in it; the kernel keeps
        // an empty cgroup cheaply, and its name is never reused.
        let _ = fs::remove_dir(&self.path);
    }
}

/// This process's cgroup, when it may create children that use the memory controller.
fn delegated_parent() -> Option<&'static Path> {
    static PARENT: OnceLock<Option<PathBuf>> = OnceLock::new();
    PARENT
        .get_or_init(|| {
            let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
            let membership = fs::read_to_string("/proc/self/cgroup").ok()?;
            let directory = own_cgroup_directory(&mountinfo, &membership)?;
            let controllers = fs::read_to_string(directory.join("cgroup.controllers")).ok()?;
            if !controllers.split_whitespace().any(|controller| controller == "memory") {
                return None;
            }
            let subtree = directory.join("cgroup.subtree_control");
            let enabled = fs::read_to_string(&subtree).is_ok_and(|control| control.split_whitespace().any(|controller| controller == "memory"));
            (enabled || fs::write(&subtree, "+memory").is_ok()).then_some(directory)
        })
        .as_deref()
}

/// The directory of this process's cgroup v2: the `0::PATH` line of /proc/self/cgroup, under the
/// cgroup2 mount of /proc/self/mountinfo (whose root may be part of that path).
fn own_cgroup_directory(mountinfo: &str, membership: &str) -> Option<PathBuf> {
    let cgroup = membership.lines().find_map(|line| line.strip_prefix("0::"))?;
    mountinfo.lines().find_map(|line| {
        let (mount, filesystem) = line.split_once(" - ")?;
        if filesystem.split_whitespace().next() != Some("cgroup2") {
            return None;
        }
        let mut fields = mount.split_whitespace();
        let root = fields.nth(3)?;
        let mount_point = fields.next()?;
        let relative = cgroup.strip_prefix(root).unwrap_or(cgroup);
        Some(Path::new(mount_point).join(relative.trim_start_matches('/')))
    })
}

/// The `oom_kill` count of a `memory.events` file.
fn oom_kills(events: &str) -> u64 {
    events.lines().find_map(|line| line.strip_prefix("oom_kill ")).and_then(|count| count.trim().parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
35 25 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 25 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_the_own_cgroup_under_the_cgroup2_mount() {
        assert_eq!(
            own_cgroup_directory(MOUNTINFO, "4:memory:/ignored\n0::/system.slice/switchyard.service\n"),
            Some(PathBuf::from("/sys/fs/cgroup/unified/system.slice/switchyard.service"))
        );
        assert_eq!(own_cgroup_directory(MOUNTINFO, "4:memory:/only-v1\n"), None);
        assert_eq!(own_cgroup_directory("35 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n", "0::/\n"), None);
    }

    #[test]
    fn a_mount_of_a_subtree_is_followed() {
        let mountinfo = "50 40 0:40 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(own_cgroup_directory(mountinfo, "0::/kubepods/pod1/app\n"), Some(PathBuf::from("/sys/fs/cgroup/app")));
    }

    #[test]
    fn counts_oom_kills() {
        assert_eq!(oom_kills("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n"), 1);
        assert_eq!(oom_kills("low 0\n"), 0);
    }

    #[test]
    fn a_cgroup_limits_where_one_can_be_created() {
        // Where this process may not create cgroups (as on a machine with cgroup v1 only), the
        // runner falls back to RLIMIT_AS; where it may, the limit must be in place.
        if let Some(cgroup) = MemoryCgroup::create(128 << 20) {
            assert_eq!(fs::read_to_string(cgroup.path.join("memory.max")).ok().as_deref().map(str::trim), Some("134217728"));
            assert!(!cgroup.was_out_of_memory());
        }
    }
}
