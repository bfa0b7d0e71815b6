//! A Map Run's results as a ResultWriter exports them, read from the stored child executions a
//! page at a time: a run of a million iterations is exported without holding them in memory.

use super::record::Body;
use asl::map_run::ResultRecord;
use serde_json::Value;
use std::sync::Arc;
use store::{ExecutionPosition, Store};

#[derive(Clone)]
pub struct MapRunResults {
    store: Arc<dyn Store>,
}

/// A closed child execution of a Map Run.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildResult {
    /// Its output when it succeeded; None when it failed, timed out or was aborted.
    pub output: Option<Value>,
    /// Its record (what Transformation NONE exports, and every failure).
    pub record: Value,
}

impl MapRunResults {
    pub fn new(store: Arc<dyn Store>) -> MapRunResults {
        MapRunResults { store }
    }

    /// The closed children among the next `limit` after `after` (None: from the first), and where
    /// the page after starts (None: this was the last).
    pub fn page(&self, map_run_arn: &str, after: Option<ExecutionPosition>, limit: usize) -> Result<(Vec<ChildResult>, Option<ExecutionPosition>), String> {
        let rows = self.store.executions_after(map_run_arn, after, limit).map_err(|problem| problem.to_string())?;
        let next = (rows.len() == limit).then(|| rows.last().map(|(position, _)| *position)).flatten();
        let mut results = Vec::with_capacity(rows.len());
        for (_, row) in rows.iter().filter(|(_, row)| row.status != "RUNNING") {
            let body = Body::from_json(&row.body)?;
            let output = match (row.status.as_str(), &body.output) {
                ("SUCCEEDED", Some(output)) => Some(serde_json::from_str(output).map_err(|error| format!("the output of {}: {error}", row.arn))?),
                ("SUCCEEDED", None) => Some(Value::Null),
                _ => None,
            };
            let record = ResultRecord {
                execution_arn: &row.arn,
                name: &row.name,
                input: &body.input,
                state_machine_arn: body.state_machine_arn.as_deref().unwrap_or_default(),
                status: &row.status,
                output: body.output.as_deref(),
                error: body.error.as_deref(),
                cause: body.cause.as_deref(),
                start_ms: row.start_ms,
                stop_ms: row.stop_ms,
            };
            results.push(ChildResult { output, record: record.to_json() });
        }
        Ok((results, next))
    }
}
