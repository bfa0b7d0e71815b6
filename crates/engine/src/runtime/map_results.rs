//! A Map Run's results as a ResultWriter exports them, read from the stored child executions a
//! page at a time: a run of a million iterations is exported without holding them in memory.

use super::record::Body;
use asl::map_run::ResultRecord;
use serde_json::Value;
use std::sync::Arc;
use store::{ExecutionPosition, ExecutionRecord, Store};

#[derive(Clone)]
pub struct MapRunResults {
    store: Arc<dyn Store>,
}

/// A closed child execution of a Map Run.
pub struct ChildResult {
    row: ExecutionRecord,
    body: Body,
}

impl ChildResult {
    /// Its output as JSON text when it succeeded; None when it failed, timed out or was aborted.
    pub fn output(&self) -> Option<&str> {
        (self.row.status == "SUCCEEDED").then(|| self.body.output.as_deref().unwrap_or("null"))
    }

    /// Its record: what Transformation NONE exports, and every failure.
    pub fn record(&self) -> Value {
        ResultRecord {
            execution_arn: &self.row.arn,
            name: &self.row.name,
            input: &self.body.input,
            state_machine_arn: self.body.state_machine_arn.as_deref().unwrap_or_default(),
            status: &self.row.status,
            output: self.body.output.as_deref(),
            error: self.body.error.as_deref(),
            cause: self.body.cause.as_deref(),
            start_ms: self.row.start_ms,
            stop_ms: self.row.stop_ms,
        }
        .to_json()
    }
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
        let closed = rows.into_iter().map(|(_, row)| row).filter(|row| row.status != "RUNNING");
        let results = closed.map(|row| Ok(ChildResult { body: Body::from_json(&row.body)?, row })).collect::<Result<_, String>>()?;
        Ok((results, next))
    }
}
