//! Container logs: files written while the container runs, read back (their end) when it is over.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::MAX_OUTCOME_LOG_BYTES;

/// The last [`MAX_OUTCOME_LOG_BYTES`] of a log file (empty when there is none).
pub(super) fn tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else { return String::new() };
    let length = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    let skip = length.saturating_sub(MAX_OUTCOME_LOG_BYTES as u64);
    if file.seek(SeekFrom::Start(skip)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    // A log that cannot be read to its end is reported with what could be read.
    let _ = file.take(MAX_OUTCOME_LOG_BYTES as u64).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Keeps the end of `logs` within [`MAX_OUTCOME_LOG_BYTES`], cut at a character boundary.
pub(super) fn keep_end(logs: String) -> String {
    if logs.len() <= MAX_OUTCOME_LOG_BYTES {
        return logs;
    }
    let mut start = logs.len() - MAX_OUTCOME_LOG_BYTES;
    while !logs.is_char_boundary(start) {
        start += 1;
    }
    logs[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_end_of_long_logs() {
        let logs = format!("{}é{}", "a".repeat(10), "b".repeat(MAX_OUTCOME_LOG_BYTES - 1));
        let kept = keep_end(logs);
        assert!(kept.len() <= MAX_OUTCOME_LOG_BYTES);
        assert!(kept.ends_with('b') && !kept.contains('a'));
    }

    #[test]
    fn a_missing_log_is_empty() {
        assert_eq!(tail(Path::new("/nonexistent/switchyard.log")), "");
    }
}
