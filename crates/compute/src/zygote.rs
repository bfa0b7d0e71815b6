//! Python templates ("zygotes"): per Python executable, one long-lived interpreter that has
//! already started and imported the bootstrap, and forks each new Python execution environment.
//! Starting the interpreter (its `site` setup above all) takes most of a Python cold start; a fork
//! of the template skips it and only imports the function's handler, so every environment is
//! still a process of its own with fresh module state.
//!
//! The template (`python_zygote.py`) is the parent of the environments it forks: it reaps them and
//! reports their exits, and kills them when asked. A template is started at the first Python
//! environment that needs it and again when it died; a template that cannot be started is not
//! tried again for a while, and the caller spawns the environment as before.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

const PYTHON_ZYGOTE: &str = include_str!("python_zygote.py");
/// How the bootstrap's source reaches the template, which loads it without running it.
const BOOTSTRAP_SOURCE_VARIABLE: &str = "_SWITCHYARD_BOOTSTRAP_SOURCE";
/// How long a template may take to start, and to answer a fork.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after a template failed to start it is not tried again.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// What a forked environment reports as its exit when its template died: it was killed with it.
const KILLED: i32 = libc::SIGKILL;

/// What a forked environment becomes: what the spawned one's command would set.
#[derive(Debug, Serialize)]
pub(crate) struct ForkRequest {
    /// The whole environment (not added to the template's).
    pub environment: BTreeMap<String, String>,
    pub directory: Option<String>,
    /// RLIMIT_AS, where no cgroup limits the memory.
    pub memory_limit_bytes: Option<u64>,
    /// The `cgroup.procs` file of the environment's cgroup, which it enters.
    pub cgroup_procs: Option<String>,
}

/// The templates of this runner, by Python executable.
#[derive(Default)]
pub(crate) struct Zygotes {
    templates: Mutex<HashMap<OsString, Template>>,
}

enum Template {
    Running(Arc<Zygote>),
    Unusable { since: Instant },
}

impl Zygotes {
    /// Forks a new environment from the template of `python`, its stdout and stderr going to
    /// `output`; starts the template when there is none running.
    pub fn fork(&self, python: &OsStr, request: &ForkRequest, output: BorrowedFd) -> Result<ForkedProcess, String> {
        let zygote = self.running(python)?;
        let pid = zygote.fork(request, output)?;
        Ok(ForkedProcess { zygote, pid, reaped: None })
    }

    fn running(&self, python: &OsStr) -> Result<Arc<Zygote>, String> {
        let mut templates = self.templates.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match templates.get(python) {
            Some(Template::Running(zygote)) if zygote.is_alive() => return Ok(Arc::clone(zygote)),
            Some(Template::Unusable { since }) if since.elapsed() < RETRY_AFTER => {
                return Err("its Python template could not be started recently".to_string())
            }
            _ => {}
        }
        // Others that need this template wait for it here: it is what they would wait for anyway.
        match Zygote::start(python) {
            Ok(zygote) => {
                let zygote = Arc::new(zygote);
                templates.insert(python.to_owned(), Template::Running(Arc::clone(&zygote)));
                Ok(zygote)
            }
            Err(reason) => {
                templates.insert(python.to_owned(), Template::Unusable { since: Instant::now() });
                Err(reason)
            }
        }
    }
}

/// One running template.
struct Zygote {
    process: Mutex<Child>,
    /// Requests are written under this lock; a fork holds it until its answer is in.
    control: Mutex<UnixStream>,
    reports: Arc<Reports>,
}

/// What the template said, collected by its reader thread.
#[derive(Default)]
struct Reports {
    state: Mutex<ReportState>,
    changed: Condvar,
}

#[derive(Default)]
struct ReportState {
    ready: bool,
    /// The answer to the fork in progress.
    forked: Option<Result<u32, String>>,
    exits: HashMap<u32, ExitStatus>,
    /// The template is gone (its socket closed).
    closed: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Request<'a> {
    Fork(&'a ForkRequest),
    Kill(u32),
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Report {
    Ready,
    Forked(u32),
    Failed(String),
    Exited { pid: u32, status: i32 },
}

impl Zygote {
    fn start(python: &OsStr) -> Result<Zygote, String> {
        let (control, template_end) = UnixStream::pair().map_err(|error| format!("cannot create its control socket: {error}"))?;
        let mut process = Command::new(python)
            .arg("-c")
            .arg(PYTHON_ZYGOTE)
            .env(BOOTSTRAP_SOURCE_VARIABLE, crate::launch::PYTHON_BOOTSTRAP)
            .envs(crate::launch::PYTHON_FLAGS)
            .stdin(Stdio::from(OwnedFd::from(template_end)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start its Python template: {error}"))?;
        let reader = control.try_clone().map_err(|error| format!("cannot read its control socket: {error}"));
        let reports = Arc::new(Reports::default());
        let started = reader.and_then(|reader| {
            let collector = Arc::clone(&reports);
            thread::Builder::new()
                .name("python-template".to_string())
                .spawn(move || collector.collect(BufReader::new(reader)))
                .map_err(|error| format!("cannot read its control socket: {error}"))
        });
        let ready = started.and_then(|_| {
            let state = reports.wait_while(|state| !state.ready && !state.closed);
            if state.ready {
                Ok(())
            } else {
                Err("its Python template did not start".to_string())
            }
        });
        if let Err(reason) = ready {
            let _ = process.kill();
            let _ = process.wait();
            return Err(reason);
        }
        Ok(Zygote { process: Mutex::new(process), control: Mutex::new(control), reports })
    }

    fn is_alive(&self) -> bool {
        !self.reports.lock().closed
    }

    fn fork(&self, request: &ForkRequest, output: BorrowedFd) -> Result<u32, String> {
        let control = self.control.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let line = request_line(&Request::Fork(request))?;
        // An answer that came after an earlier fork gave up waiting is not this fork's.
        self.reports.lock().forked = None;
        send_with_descriptor(&control, &line, output).map_err(|error| format!("cannot reach its Python template: {error}"))?;
        let mut state = self.reports.wait_while(|state| state.forked.is_none() && !state.closed);
        state.forked.take().unwrap_or_else(|| Err("its Python template did not answer".to_string()))
    }

    fn kill(&self, pid: u32) {
        if let Ok(line) = request_line(&Request::Kill(pid)) {
            // Fails only when the template is gone, and its environments with it.
            let _ = self.control.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).write_all(&line);
        }
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        let process = self.process.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Its environments die with it; both fail only when it is already gone and reaped.
        let _ = process.kill();
        let _ = process.wait();
    }
}

impl Reports {
    fn lock(&self) -> MutexGuard<'_, ReportState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits at most [`ANSWER_TIMEOUT`] for `waiting` to turn false.
    fn wait_while(&self, waiting: impl FnMut(&mut ReportState) -> bool) -> MutexGuard<'_, ReportState> {
        let state = self.lock();
        match self.changed.wait_timeout_while(state, ANSWER_TIMEOUT, waiting) {
            Ok((state, _)) => state,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    /// Reads the template's reports until its socket closes.
    fn collect(&self, mut reader: BufReader<UnixStream>) {
        let mut line = String::new();
        loop {
            line.clear();
            let report = match reader.read_line(&mut line) {
                Ok(0) | Err(_) => None,
                Ok(_) => serde_json::from_str::<Report>(&line).ok(),
            };
            let mut state = self.lock();
            match report {
                Some(Report::Ready) => state.ready = true,
                Some(Report::Forked(pid)) => state.forked = Some(Ok(pid)),
                Some(Report::Failed(reason)) => state.forked = Some(Err(reason)),
                Some(Report::Exited { pid, status }) => {
                    state.exits.insert(pid, ExitStatus::from_raw(status));
                }
                None => state.closed = true,
            }
            self.changed.notify_all();
            if state.closed {
                return;
            }
        }
    }
}

/// An environment forked by a template.
pub(crate) struct ForkedProcess {
    zygote: Arc<Zygote>,
    pid: u32,
    /// Its end, once stopped: the template forgot it, and its pid may be another process's now.
    reaped: Option<ExitStatus>,
}

impl ForkedProcess {
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// How it ended, once it has.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        self.reaped.or_else(|| exit_of(&self.zygote.reports.lock(), self.pid))
    }

    /// Kills it (and its process group) and waits until its template has reaped it.
    pub fn stop(&mut self) {
        if self.reaped.is_some() {
            return;
        }
        self.zygote.kill(self.pid);
        let mut state = self.zygote.reports.wait_while(|state| exit_of(state, self.pid).is_none());
        // Without an answer in time, it is left to die with its template.
        self.reaped = Some(state.exits.remove(&self.pid).unwrap_or_else(|| ExitStatus::from_raw(KILLED)));
    }
}

fn exit_of(state: &ReportState, pid: u32) -> Option<ExitStatus> {
    match state.exits.get(&pid) {
        Some(status) => Some(*status),
        None => state.closed.then(|| ExitStatus::from_raw(KILLED)),
    }
}

fn request_line(request: &Request) -> Result<Vec<u8>, String> {
    let mut line = serde_json::to_vec(request).map_err(|error| format!("cannot write its request: {error}"))?;
    line.push(b'\n');
    Ok(line)
}

/// Writes `bytes` with `descriptor` attached to the first of them (SCM_RIGHTS): the receiver gets
/// a descriptor of its own for the same file.
fn send_with_descriptor(mut socket: &UnixStream, bytes: &[u8], descriptor: BorrowedFd) -> io::Result<()> {
    const DESCRIPTOR_SIZE: u32 = std::mem::size_of::<RawFd>() as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(DESCRIPTOR_SIZE) } as usize;
    // u64s: the control buffer must be aligned for a cmsghdr.
    let mut control = vec![0_u64; space.div_ceil(8)];
    let mut data = libc::iovec { iov_base: bytes.as_ptr().cast_mut().cast(), iov_len: bytes.len() };
    // SAFETY: an all-zero msghdr is a valid empty message; the fields set below point into
    // `data` and `control`, which outlive the sendmsg call, and CMSG_FIRSTHDR of a control buffer
    // of CMSG_SPACE(one descriptor) bytes is a header with room for one descriptor.
    let sent = unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut data;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = space;
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(DESCRIPTOR_SIZE) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), descriptor.as_raw_fd());
        libc::sendmsg(socket.as_raw_fd(), &message, libc::MSG_NOSIGNAL)
    };
    let sent = usize::try_from(sent).map_err(|_| io::Error::last_os_error())?;
    // The descriptor went with the first byte; the rest of a long request follows plainly.
    socket.write_all(&bytes[sent..])
}
