//! What is persisted of an execution: its summary row with a JSON body, and its input log (what
//! the host fed the interpreter), from which recovery replays it.

use crate::catalog::MachineType;
use asl::interpreter::ActionId;
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
            other => return Err(format!("input log: unknown kind {other:?}")),
        };
        Ok((input, at))
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
        ];
        for input in inputs {
            assert_eq!(Input::from_json(&input.to_json(42)).unwrap(), (input, 42));
        }
    }
}
