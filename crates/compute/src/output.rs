//! What a function prints: its stdout and stderr share one pipe, so that lines keep the order in
//! which they were written (CloudWatch gets both as one stream too).
//!
//! The pipe is read without blocking, and only under one lock: by a background thread whenever it
//! has data (so that the function never blocks on a full pipe), and by [`Output::take`] before it
//! takes the text. So everything the function wrote before `take` (the handler prints, then posts
//! its result) is either still in the pipe or already in the buffer, never in between.

use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread;

/// Output kept per invocation; the rest is read and dropped so that the function never blocks.
const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// The parent's side of a function's output pipe.
pub(crate) struct Output {
    drain: Arc<Mutex<Drain>>,
}

struct Drain {
    pipe: File,
    text: Vec<u8>,
    /// Every writer is gone (the function's processes ended).
    closed: bool,
}

/// The two ends the child gets as its stdout and stderr.
pub(crate) struct ChildOutput {
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

impl Output {
    pub fn open() -> io::Result<(Output, ChildOutput)> {
        let (reader, writer) = pipe()?;
        set_nonblocking(&reader)?;
        let child = ChildOutput { stdout: writer.try_clone()?, stderr: writer };
        let drain = Arc::new(Mutex::new(Drain { pipe: File::from(reader), text: Vec::new(), closed: false }));
        let background = Arc::clone(&drain);
        thread::Builder::new().name("function-output".to_string()).spawn(move || drain_in_background(&background))?;
        Ok((Output { drain }, child))
    }

    /// Everything written to the pipe so far, taken out of the buffer.
    pub fn take(&self) -> String {
        let Ok(mut drain) = self.drain.lock() else { return String::new() };
        drain.read_available();
        String::from_utf8_lossy(&std::mem::take(&mut drain.text)).into_owned()
    }
}

impl Drain {
    fn read_available(&mut self) {
        let mut chunk = [0_u8; 8192];
        while !self.closed {
            match self.pipe.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(read) => {
                    let room = MAX_OUTPUT_BYTES.saturating_sub(self.text.len());
                    self.text.extend_from_slice(&chunk[..read.min(room)]);
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(_) => self.closed = true,
            }
        }
    }
}

/// Waits for data without holding the lock, then reads it under the lock; ends with the pipe.
fn drain_in_background(drain: &Mutex<Drain>) {
    let Ok(fd) = drain.lock().map(|drain| drain.pipe.as_raw_fd()) else { return };
    loop {
        let mut ready = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: poll reads and writes the one pollfd it is given; the descriptor stays open as
        // long as `drain`, which this thread holds.
        if unsafe { libc::poll(&mut ready, 1, -1) } < 0 && io::Error::last_os_error().kind() != ErrorKind::Interrupted {
            return;
        }
        let Ok(mut drain) = drain.lock() else { return };
        drain.read_available();
        if drain.closed {
            return;
        }
    }
}

/// A pipe whose ends are not inherited by other children (the child gets dups of the write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given, which has room for them.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created by pipe2 and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Only this side reads without blocking: the function's writes still block on a full pipe.
fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor this function borrows, with flags it read from it.
    let set = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if set {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn takes_what_was_written_before_in_order() {
        let (output, child) = Output::open().expect("a pipe");
        let (mut stdout, mut stderr) = (File::from(child.stdout), File::from(child.stderr));
        stdout.write_all(b"one\n").expect("write");
        stderr.write_all(b"two\n").expect("write");
        assert_eq!(output.take(), "one\ntwo\n");
        assert_eq!(output.take(), "");
        stdout.write_all(b"three").expect("write");
        assert_eq!(output.take(), "three");
    }

    #[test]
    fn keeps_at_most_the_limit() {
        let (output, child) = Output::open().expect("a pipe");
        let mut stdout = File::from(child.stdout);
        let line = vec![b'x'; 64 << 10];
        for _ in 0..20 {
            stdout.write_all(&line).expect("the pipe is drained in the background");
        }
        drop((stdout, child.stderr));
        assert_eq!(output.take().len(), MAX_OUTPUT_BYTES);
    }
}
