//! Counters of the runtime in Prometheus' text format, for `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Commit latency buckets (seconds), from fsync-bound to pathological.
const COMMIT_BUCKETS: [f64; 8] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0];

#[derive(Default)]
pub struct Metrics {
    /// State machine ARN -> outcome (started, SUCCEEDED, FAILED, ...) -> count.
    executions: BTreeMap<String, BTreeMap<&'static str, u64>>,
    transitions: u64,
    commits: u64,
    commit_seconds: f64,
    commit_buckets: [u64; COMMIT_BUCKETS.len()],
    messages_batched: u64,
}

impl Metrics {
    pub fn execution(&mut self, state_machine_arn: &str, outcome: &'static str) {
        // Looked up before inserting: counting must not allocate on the hot path.
        let outcomes = match self.executions.get_mut(state_machine_arn) {
            Some(outcomes) => outcomes,
            None => self.executions.entry(state_machine_arn.to_owned()).or_default(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }

    pub fn transitions(&mut self, count: u64) {
        self.transitions += count;
    }

    pub fn commit(&mut self, took: Duration, messages: usize) {
        let seconds = took.as_secs_f64();
        self.commits += 1;
        self.commit_seconds += seconds;
        self.messages_batched += messages as u64;
        for (bucket, limit) in self.commit_buckets.iter_mut().zip(COMMIT_BUCKETS) {
            if seconds <= limit {
                *bucket += 1;
            }
        }
    }

    /// `running`: executions in flight; `queued`: activity tasks waiting for a worker.
    pub fn render(&self, running: usize, queued: usize) -> String {
        let mut text = String::new();
        text.push_str("# TYPE switchyard_executions_total counter\n");
        for (state_machine, outcomes) in &self.executions {
            for (outcome, count) in outcomes {
                let _ = writeln!(text, "switchyard_executions_total{{state_machine=\"{}\",outcome=\"{outcome}\"}} {count}", escape(state_machine));
            }
        }
        let _ = writeln!(text, "# TYPE switchyard_state_transitions_total counter\nswitchyard_state_transitions_total {}", self.transitions);
        let _ = writeln!(text, "# TYPE switchyard_executions_running gauge\nswitchyard_executions_running {running}");
        let _ = writeln!(text, "# TYPE switchyard_activity_tasks_queued gauge\nswitchyard_activity_tasks_queued {queued}");
        let _ = writeln!(text, "# TYPE switchyard_store_messages_batched_total counter\nswitchyard_store_messages_batched_total {}", self.messages_batched);
        text.push_str("# TYPE switchyard_store_commit_seconds histogram\n");
        for (limit, count) in COMMIT_BUCKETS.iter().zip(self.commit_buckets) {
            let _ = writeln!(text, "switchyard_store_commit_seconds_bucket{{le=\"{limit}\"}} {count}");
        }
        let _ = writeln!(text, "switchyard_store_commit_seconds_bucket{{le=\"+Inf\"}} {}", self.commits);
        let _ = writeln!(text, "switchyard_store_commit_seconds_sum {}\nswitchyard_store_commit_seconds_count {}", self.commit_seconds, self.commits);
        text
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_the_commit_histogram() {
        let mut metrics = Metrics::default();
        metrics.execution("arn:sm", "started");
        metrics.execution("arn:sm", "SUCCEEDED");
        metrics.transitions(10);
        metrics.commit(Duration::from_micros(700), 3);
        let text = metrics.render(2, 1);
        assert!(text.contains("switchyard_executions_total{state_machine=\"arn:sm\",outcome=\"started\"} 1"));
        assert!(text.contains("switchyard_state_transitions_total 10"));
        assert!(text.contains("switchyard_executions_running 2"));
        assert!(text.contains("switchyard_store_commit_seconds_bucket{le=\"0.0005\"} 0"));
        assert!(text.contains("switchyard_store_commit_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("switchyard_store_commit_seconds_count 1"));
    }
}
