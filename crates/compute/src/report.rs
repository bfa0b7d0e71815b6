//! The lines Lambda writes around every invocation's own output in its log stream (the REPORT
//! line's fields are separated by tabs):
//!
//! ```text
//! START RequestId: 8f50… Version: $LATEST
//! …what the function printed…
//! END RequestId: 8f50…
//! REPORT RequestId: 8f50… Duration: 1.52 ms Billed Duration: 2 ms Memory Size: 128 MB Max Memory Used: 37 MB Init Duration: 61.20 ms
//! ```

use std::fmt::Write;
use std::time::Duration;

/// What the REPORT line says about one invocation.
pub(crate) struct Report<'a> {
    pub request_id: &'a str,
    pub duration: Duration,
    pub memory_size_mb: u32,
    pub max_memory_used_bytes: u64,
    /// How long the environment took to start, on a cold start.
    pub init_duration: Option<Duration>,
    /// `timeout` or `error` when the environment was stopped, as Lambda's newer REPORT lines say.
    pub status: Option<&'a str>,
    /// The error type of an environment that was stopped (`Runtime.ExitError`).
    pub error_type: Option<&'a str>,
}

impl Report<'_> {
    /// The invocation's log: START, the function's `output`, END and REPORT.
    pub fn around(&self, output: &str) -> String {
        let request_id = self.request_id;
        let mut log = format!("START RequestId: {request_id} Version: $LATEST\n{output}");
        if !log.ends_with('\n') {
            log.push('\n');
        }
        let _ = writeln!(log, "END RequestId: {request_id}");
        let _ = write!(
            log,
            "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            milliseconds(self.duration),
            // Lambda bills by the millisecond, rounded up.
            self.duration.as_micros().div_ceil(1000).max(1),
            self.memory_size_mb,
            self.max_memory_used_bytes.div_ceil(1 << 20),
        );
        if let Some(init) = self.init_duration {
            let _ = write!(log, "Init Duration: {:.2} ms\t", milliseconds(init));
        }
        if let Some(status) = self.status {
            let _ = write!(log, "Status: {status}\t");
        }
        if let Some(error_type) = self.error_type {
            let _ = write!(log, "Error Type: {error_type}\t");
        }
        log.push('\n');
        log
    }
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_lambda() {
        let report = Report {
            request_id: "8f50",
            duration: Duration::from_micros(1_520),
            memory_size_mb: 128,
            max_memory_used_bytes: 36 << 20 | 1,
            init_duration: Some(Duration::from_micros(61_204)),
            status: None,
            error_type: None,
        };
        assert_eq!(
            report.around("hello"),
            "START RequestId: 8f50 Version: $LATEST\nhello\nEND RequestId: 8f50\n\
             REPORT RequestId: 8f50\tDuration: 1.52 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 37 MB\tInit Duration: 61.20 ms\t\n"
        );
    }

    #[test]
    fn says_why_the_environment_was_stopped() {
        let report = Report {
            request_id: "8f50",
            duration: Duration::from_secs(1),
            memory_size_mb: 128,
            max_memory_used_bytes: 0,
            init_duration: None,
            status: Some("timeout"),
            error_type: None,
        };
        assert!(report.around("").ends_with("Max Memory Used: 0 MB\tStatus: timeout\t\n"), "{}", report.around(""));
    }
}
