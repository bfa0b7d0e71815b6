//! What a function prints: its stdout and stderr share one pipe, so that lines keep the order in
//! which they were written (CloudWatch gets both as one stream too).
//!
//! A reader thread empties the pipe as it fills, so that the function never blocks on it. To
//! know that it has read everything the function wrote before a given moment (the handler prints,
//! then posts its result), this end of the pipe writes a marker into it: the pipe keeps order, so
//! once the reader meets the marker, every earlier byte is in the buffer.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Written atomically (shorter than PIPE_BUF); NUL bytes keep it apart from any text.
const MARKER: &[u8] = b"\0switchyard:output-mark\0";
/// Output kept per invocation; the rest is read and dropped so that the function never blocks.
const MAX_OUTPUT_BYTES: usize = 1 << 20;
/// How long to wait for the reader to reach a marker; only a process tree that floods its output
/// can hold it up this long, and what it printed so far is kept.
const MARK_WAIT: Duration = Duration::from_secs(1);

/// The parent's side of a function's output pipe.
pub(crate) struct Output {
    marker_writer: File,
    buffer: Arc<(Mutex<Buffer>, Condvar)>,
    markers_written: u64,
}

#[derive(Default)]
struct Buffer {
    text: Vec<u8>,
    /// Bytes that may be the start of a marker split across two reads.
    pending: Vec<u8>,
    markers_read: u64,
}

/// The two ends the child gets as its stdout and stderr.
pub(crate) struct ChildOutput {
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl Output {
    pub fn open() -> io::Result<(Output, ChildOutput)> {
        let (reader, writer) = pipe()?;
        let child = ChildOutput { stdout: Stdio::from(writer.try_clone()?), stderr: Stdio::from(writer.try_clone()?) };
        let buffer = Arc::new((Mutex::new(Buffer::default()), Condvar::new()));
        let shared = Arc::clone(&buffer);
        thread::Builder::new().name("function-output".to_string()).spawn(move || read_into(File::from(reader), &shared))?;
        Ok((Output { marker_writer: File::from(writer), buffer, markers_written: 0 }, child))
    }

    /// Everything written to the pipe so far, taken out of the buffer.
    pub fn take(&mut self) -> String {
        let mark = self.marker_writer.write_all(MARKER).is_ok();
        if mark {
            self.markers_written += 1;
        }
        let (lock, read) = &*self.buffer;
        let Ok(mut buffer) = lock.lock() else {
            return String::new();
        };
        let give_up = Instant::now() + MARK_WAIT;
        while mark && buffer.markers_read < self.markers_written {
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            buffer = match read.wait_timeout(buffer, left) {
                Ok((buffer, _)) => buffer,
                Err(_) => return String::new(),
            };
        }
        String::from_utf8_lossy(&std::mem::take(&mut buffer.text)).into_owned()
    }
}

fn read_into(mut reader: File, buffer: &(Mutex<Buffer>, Condvar)) {
    let mut chunk = [0_u8; 8192];
    // Ends when every writer is gone: the function's processes and this side's marker writer.
    while let Ok(read) = reader.read(&mut chunk) {
        let Some(bytes) = chunk.get(..read).filter(|bytes| !bytes.is_empty()) else {
            return;
        };
        let (lock, read) = buffer;
        let Ok(mut buffer) = lock.lock() else { return };
        if buffer.absorb(bytes) {
            read.notify_all();
        }
    }
}

impl Buffer {
    /// Appends `bytes`, taking the markers out; says whether it met one.
    fn absorb(&mut self, bytes: &[u8]) -> bool {
        self.pending.extend_from_slice(bytes);
        let mut met = false;
        while let Some(at) = find(&self.pending, MARKER) {
            let before: Vec<u8> = self.pending.drain(..at + MARKER.len()).take(at).collect();
            self.keep(&before);
            self.markers_read += 1;
            met = true;
        }
        let undecided = (1..MARKER.len()).rev().find(|&length| self.pending.ends_with(&MARKER[..length])).unwrap_or(0);
        let decided: Vec<u8> = self.pending.drain(..self.pending.len() - undecided).collect();
        self.keep(&decided);
        met
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = MAX_OUTPUT_BYTES.saturating_sub(self.text.len());
        self.text.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_split_across_reads_are_taken_out() {
        let mut buffer = Buffer::default();
        let (head, tail) = MARKER.split_at(5);
        assert!(!buffer.absorb(&[b"abc", head].concat()));
        assert!(buffer.absorb(&[tail, b"def"].concat()));
        assert_eq!((buffer.text.as_slice(), buffer.markers_read), (b"abcdef".as_slice(), 1));
    }

    #[test]
    fn takes_what_was_written_before() {
        let (mut output, _child) = Output::open().expect("a pipe");
        output.marker_writer.write_all(b"printed\n").expect("write");
        assert_eq!(output.take(), "printed\n");
        assert_eq!(output.take(), "");
    }
}
