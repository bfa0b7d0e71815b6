//! Every invocation's logs, kept per function and per invocation under the data dir:
//! `logs/FUNCTION/EPOCH_MS-REQUEST_ID.log`, the newest [`KEPT_INVOCATIONS`] of each function, each
//! cut to its last [`KEPT_BYTES`]. Files are written off the invocation's path by one thread and
//! appear whole (written aside, then renamed), so a reader never sees half a file.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

pub const KEPT_INVOCATIONS: usize = 1000;
pub const KEPT_BYTES: usize = 256 * 1024;
const SUFFIX: &str = ".log";

/// Hands invocation logs to the thread that writes them.
#[derive(Debug, Clone)]
pub struct InvocationLogs {
    sender: mpsc::Sender<Entry>,
}

struct Entry {
    function: String,
    request_id: String,
    at_ms: i64,
    text: String,
}

impl InvocationLogs {
    /// Starts the writer of a data dir's logs.
    pub fn open(data_dir: &Path) -> InvocationLogs {
        let logs_dir = logs_root(data_dir);
        let (sender, entries) = mpsc::channel::<Entry>();
        std::thread::Builder::new()
            .name("function-logs".to_owned())
            .spawn(move || {
                let mut writer = Writer { root: logs_dir, kept: HashMap::new() };
                for entry in entries {
                    if let Err(error) = writer.write(&entry) {
                        tracing::warn!(function = entry.function, request_id = entry.request_id, %error, "invocation logs not kept");
                    }
                }
            })
            .map_or_else(|error| tracing::warn!(%error, "no thread for invocation logs; they are not kept"), drop);
        InvocationLogs { sender }
    }

    pub fn record(&self, function: &str, request_id: &str, at_ms: i64, text: &str) {
        // Only a writer thread that could not start is gone; its absence was logged.
        let _ = self.sender.send(Entry { function: function.to_owned(), request_id: request_id.to_owned(), at_ms, text: text.to_owned() });
    }
}

struct Writer {
    root: PathBuf,
    /// The files of each function written to so far, oldest first.
    kept: HashMap<String, VecDeque<PathBuf>>,
}

impl Writer {
    fn write(&mut self, entry: &Entry) -> std::io::Result<()> {
        let directory = self.root.join(&entry.function);
        let kept = match self.kept.entry(entry.function.clone()) {
            std::collections::hash_map::Entry::Occupied(kept) => kept.into_mut(),
            std::collections::hash_map::Entry::Vacant(vacant) => {
                std::fs::create_dir_all(&directory)?;
                vacant.insert(invocation_files(&directory)?.into())
            }
        };
        let path = directory.join(format!("{:013}-{}{SUFFIX}", entry.at_ms.max(0), entry.request_id));
        let aside = directory.join(format!(".{}.partial", entry.request_id));
        std::fs::write(&aside, tail(&entry.text, KEPT_BYTES))?;
        std::fs::rename(&aside, &path)?;
        kept.push_back(path);
        while kept.len() > KEPT_INVOCATIONS {
            if let Some(oldest) = kept.pop_front() {
                let _ = std::fs::remove_file(oldest);
            }
        }
        Ok(())
    }
}

/// The invocation log files of a function's directory, oldest first.
pub fn invocation_files(directory: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(directory) {
        Ok(entries) => entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.ends_with(SUFFIX) && !name.starts_with('.')))
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error),
    };
    files.sort();
    Ok(files)
}

fn logs_root(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The directory of a function's logs under a data dir.
pub fn function_logs_dir(data_dir: &Path, function: &str) -> PathBuf {
    logs_root(data_dir).join(function)
}

/// The last `limit` bytes of `text`, starting at a character boundary.
pub fn tail(text: &str, limit: usize) -> &str {
    let mut start = text.len().saturating_sub(limit);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_cut_at_character_boundaries() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 3), "ab");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("aéb", 2), "b");
    }

    #[test]
    fn each_function_keeps_its_newest_invocations() {
        let root = std::env::temp_dir().join(format!("switchyard-logs-{}", uuid::Uuid::new_v4()));
        let mut writer = Writer { root: root.clone(), kept: HashMap::new() };
        for at_ms in 0..(KEPT_INVOCATIONS as i64 + 2) {
            let entry = Entry { function: "echo".into(), request_id: format!("r{at_ms}"), at_ms, text: format!("line {at_ms}\n") };
            writer.write(&entry).expect("written");
        }
        let files = invocation_files(&root.join("echo")).expect("listed");
        assert_eq!(files.len(), KEPT_INVOCATIONS);
        assert_eq!(std::fs::read_to_string(&files[0]).expect("read"), "line 2\n");
        let _ = std::fs::remove_dir_all(root);
    }
}
