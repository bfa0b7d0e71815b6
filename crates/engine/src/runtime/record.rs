//! What is persisted of an execution: its summary row with a JSON body, and its input log (what
//! the host fed the interpreter), from which recovery replays it.

use crate::catalog::MachineType;
use asl::interpreter::ActionId;
use asl::map_run::{MapRun, MapRunCounts, MapRunUpdate};
use asl::Failure;
use serde_json::{json, Map, Value};

/// The execution's facts that are not columns of the store's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub definition: String,
    pub machine_type: MachineType,
    pub role_arn: String,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub seed: u64,
    pub token_secret: String,
    pub trace_header: Option<String>,
    pub redrive_count: u32,
    /// Set for a distributed Map's child execution, whose row lists it under its Map Run (the
    /// row's state machine column holds the Map Run's ARN, this the state machine's).
    pub map_run_arn: Option<String>,
    pub state_machine_arn: Option<String>,
}

impl Body {
    pub fn to_json(&self) -> String {
        let mut body = Map::new();
        body.insert("definition".into(), Value::from(self.definition.as_str()));
        body.insert("type".into(), Value::from(if self.machine_type == MachineType::Express { "EXPRESS" } else { "STANDARD" }));
        body.insert("roleArn".into(), Value::from(self.role_arn.as_str()));
        body.insert("input".into(), Value::from(self.input.as_str()));
        body.insert("seed".into(), Value::from(self.seed.to_string()));
        body.insert("tokenSecret".into(), Value::from(self.token_secret.as_str()));
        body.insert("redriveCount".into(), Value::from(self.redrive_count));
        for (key, value) in [
            ("versionArn", &self.version_arn),
            ("aliasArn", &self.alias_arn),
            ("output", &self.output),
            ("error", &self.error),
            ("cause", &self.cause),
            ("traceHeader", &self.trace_header),
            ("mapRunArn", &self.map_run_arn),
            ("stateMachineArn", &self.state_machine_arn),
        ] {
            if let Some(value) = value {
                body.insert(key.into(), Value::from(value.as_str()));
            }
        }
        Value::Object(body).to_string()
    }

    pub fn from_json(text: &str) -> Result<Body, String> {
        let body: Value = serde_json::from_str(text).map_err(|e| format!("execution record: {e}"))?;
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Body {
            definition: text("definition").ok_or("execution record: no definition")?,
            machine_type: if text("type").as_deref() == Some("EXPRESS") { MachineType::Express } else { MachineType::Standard },
            role_arn: text("roleArn").unwrap_or_default(),
            version_arn: text("versionArn"),
            alias_arn: text("aliasArn"),
            input: text("input").unwrap_or_else(|| "{}".to_owned()),
            output: text("output"),
            error: text("error"),
            cause: text("cause"),
            seed: text("seed").and_then(|seed| seed.parse().ok()).unwrap_or_default(),
            token_secret: text("tokenSecret").unwrap_or_default(),
            trace_header: text("traceHeader"),
            redrive_count: body.get("redriveCount").and_then(Value::as_u64).unwrap_or_default() as u32,
            map_run_arn: text("mapRunArn"),
            state_machine_arn: text("stateMachineArn"),
        })
    }
}

/// One thing the host fed an execution's interpreter, at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    TaskSucceeded { action: ActionId, output: Value },
    TaskFailed { action: ActionId, failure: Failure },
    TaskStarted { action: ActionId, worker: Option<String> },
    TaskHeartbeat { action: ActionId },
    TimerFired { action: ActionId },
    Stop { error: Option<String>, cause: Option<String> },
    Redrive,
    UpdateMapRun { map_run_arn: String, update: MapRunUpdate },
}

impl Input {
    pub fn to_json(&self, at: i64) -> String {
        let value = match self {
            Input::TaskSucceeded { action, output } => json!({"at": at, "kind": "succeeded", "action": action, "output": output}),
            Input::TaskFailed { action, failure } => json!({"at": at, "kind": "failed", "action": action, "error": failure.error, "cause": failure.cause}),
            Input::TaskStarted { action, worker } => json!({"at": at, "kind": "started", "action": action, "worker": worker}),
            Input::TaskHeartbeat { action } => json!({"at": at, "kind": "heartbeat", "action": action}),
            Input::TimerFired { action } => json!({"at": at, "kind": "timer", "action": action}),
            Input::Stop { error, cause } => json!({"at": at, "kind": "stop", "error": error, "cause": cause}),
            Input::Redrive => json!({"at": at, "kind": "redrive"}),
            Input::UpdateMapRun { map_run_arn, update } => json!({
                "at": at,
                "kind": "update-map-run",
                "mapRunArn": map_run_arn,
                "maxConcurrency": update.max_concurrency,
                "toleratedFailureCount": update.tolerated_failure_count,
                "toleratedFailurePercentage": update.tolerated_failure_percentage,
            }),
        };
        value.to_string()
    }

    /// The input and when it was fed.
    pub fn from_json(text: &str) -> Result<(Input, i64), String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("input log: {e}"))?;
        let at = value.get("at").and_then(Value::as_i64).ok_or("input log: no time")?;
        let action = value.get("action").and_then(Value::as_u64).unwrap_or_default();
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let input = match value.get("kind").and_then(Value::as_str) {
            Some("succeeded") => Input::TaskSucceeded { action, output: value.get("output").cloned().unwrap_or(Value::Null) },
            Some("failed") => Input::TaskFailed { action, failure: Failure { error: text("error").unwrap_or_default(), cause: text("cause") } },
            Some("started") => Input::TaskStarted { action, worker: text("worker") },
            Some("heartbeat") => Input::TaskHeartbeat { action },
            Some("timer") => Input::TimerFired { action },
            Some("stop") => Input::Stop { error: text("error"), cause: text("cause") },
            Some("redrive") => Input::Redrive,
            Some("update-map-run") => Input::UpdateMapRun {
                map_run_arn: text("mapRunArn").unwrap_or_default(),
                update: MapRunUpdate {
                    max_concurrency: value.get("maxConcurrency").and_then(Value::as_u64),
                    tolerated_failure_count: value.get("toleratedFailureCount").and_then(Value::as_u64),
                    tolerated_failure_percentage: value.get("toleratedFailurePercentage").and_then(Value::as_f64),
                },
            },
            other => return Err(format!("input log: unknown kind {other:?}")),
        };
        Ok((input, at))
    }
}

/// A Map Run as persisted (a document of kind `MAP_RUN_KIND` keyed by its ARN) and described.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunRecord {
    pub map_run_arn: String,
    pub execution_arn: String,
    /// The execution whose interpreter runs the Map Run: `execution_arn`, or the parent of that
    /// child execution for nested distributed Maps. UpdateMapRun is fed to it.
    pub root_execution_arn: String,
    pub state_machine_arn: String,
    /// RUNNING, SUCCEEDED, FAILED, ABORTED.
    pub status: String,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    pub max_concurrency: u64,
    pub tolerated_failure_percentage: f64,
    pub tolerated_failure_count: u64,
    pub item_counts: MapRunCounts,
    pub execution_counts: MapRunCounts,
}

pub const MAP_RUN_KIND: &str = "map-run";

const COUNT_KEYS: [&str; 8] = ["pending", "running", "succeeded", "failed", "timedOut", "aborted", "total", "resultsWritten"];

impl MapRunRecord {
    pub fn of(run: &MapRun, root_execution_arn: &str) -> MapRunRecord {
        MapRunRecord {
            map_run_arn: run.arn.clone(),
            execution_arn: run.execution_arn.clone(),
            root_execution_arn: root_execution_arn.to_owned(),
            state_machine_arn: run.state_machine_arn.clone(),
            status: run.status.as_str().to_owned(),
            start_ms: run.start_time,
            stop_ms: run.stop_time,
            max_concurrency: run.max_concurrency,
            tolerated_failure_percentage: run.tolerated_failure_percentage,
            tolerated_failure_count: run.tolerated_failure_count,
            item_counts: run.items,
            execution_counts: run.executions,
        }
    }

    pub fn to_json(&self) -> String {
        let counts = |counts: &MapRunCounts| {
            let values = [counts.pending, counts.running, counts.succeeded, counts.failed, counts.timed_out, counts.aborted, counts.total, counts.results_written];
            Value::Object(COUNT_KEYS.iter().zip(values).map(|(key, value)| ((*key).to_owned(), Value::from(value))).collect())
        };
        json!({
            "mapRunArn": self.map_run_arn,
            "executionArn": self.execution_arn,
            "rootExecutionArn": self.root_execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "status": self.status,
            "startMs": self.start_ms,
            "stopMs": self.stop_ms,
            "maxConcurrency": self.max_concurrency,
            "toleratedFailurePercentage": self.tolerated_failure_percentage,
            "toleratedFailureCount": self.tolerated_failure_count,
            "itemCounts": counts(&self.item_counts),
            "executionCounts": counts(&self.execution_counts),
        })
        .to_string()
    }

    pub fn from_json(text: &str) -> Result<MapRunRecord, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("map run record: {e}"))?;
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("map run record: no {key}"));
        let number = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or_default();
        let counts = |key: &str| {
            let of = |name: &str| value.get(key).and_then(|counts| counts.get(name)).and_then(Value::as_u64).unwrap_or_default();
            MapRunCounts {
                pending: of("pending"),
                running: of("running"),
                succeeded: of("succeeded"),
                failed: of("failed"),
                timed_out: of("timedOut"),
                aborted: of("aborted"),
                total: of("total"),
                results_written: of("resultsWritten"),
            }
        };
        Ok(MapRunRecord {
            map_run_arn: text("mapRunArn")?,
            execution_arn: text("executionArn")?,
            root_execution_arn: text("rootExecutionArn")?,
            state_machine_arn: text("stateMachineArn")?,
            status: text("status")?,
            start_ms: value.get("startMs").and_then(Value::as_i64).unwrap_or_default(),
            stop_ms: value.get("stopMs").and_then(Value::as_i64),
            max_concurrency: number("maxConcurrency"),
            tolerated_failure_percentage: value.get("toleratedFailurePercentage").and_then(Value::as_f64).unwrap_or_default(),
            tolerated_failure_count: number("toleratedFailureCount"),
            item_counts: counts("itemCounts"),
            execution_counts: counts("executionCounts"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip() {
        let body = Body {
            definition: "{}".into(),
            machine_type: MachineType::Standard,
            role_arn: "r".into(),
            version_arn: Some("v".into()),
            alias_arn: None,
            input: "{\"a\": 1}".into(),
            output: None,
            error: Some("E".into()),
            cause: None,
            seed: u64::MAX,
            token_secret: "s".into(),
            trace_header: None,
            redrive_count: 2,
            map_run_arn: Some("run".into()),
            state_machine_arn: Some("m/L".into()),
        };
        assert_eq!(Body::from_json(&body.to_json()).unwrap(), body);
    }

    #[test]
    fn inputs_round_trip() {
        let inputs = [
            Input::TaskSucceeded { action: 3, output: json!({"x": [1]}) },
            Input::TaskFailed { action: 4, failure: Failure::new("E", "c") },
            Input::TaskStarted { action: 5, worker: Some("w".into()) },
            Input::TaskHeartbeat { action: 6 },
            Input::TimerFired { action: 7 },
            Input::Stop { error: None, cause: Some("why".into()) },
            Input::Redrive,
            Input::UpdateMapRun { map_run_arn: "run".into(), update: MapRunUpdate { max_concurrency: Some(2), tolerated_failure_count: None, tolerated_failure_percentage: Some(12.5) } },
        ];
        for input in inputs {
            assert_eq!(Input::from_json(&input.to_json(42)).unwrap(), (input, 42));
        }
    }
}
