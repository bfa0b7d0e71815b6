//! Execution history events in the shapes GetExecutionHistory returns.

use serde_json::{json, Map, Value};

/// Payloads above this many bytes are cut in history and flagged `truncated`, as AWS does.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

macro_rules! event_types {
    ($($name:ident),* $(,)?) => {
        /// Every `HistoryEventType` of the Step Functions API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType { $($name),* }

        impl EventType {
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$name => stringify!($name)),* }
            }
        }
    };
}

event_types!(
    ActivityFailed, ActivityScheduled, ActivityScheduleFailed, ActivityStarted, ActivitySucceeded, ActivityTimedOut,
    ChoiceStateEntered, ChoiceStateExited, EvaluationFailed, ExecutionAborted, ExecutionFailed, ExecutionRedriven,
    ExecutionStarted, ExecutionSucceeded, ExecutionTimedOut, FailStateEntered, LambdaFunctionFailed,
    LambdaFunctionScheduled, LambdaFunctionScheduleFailed, LambdaFunctionStarted, LambdaFunctionStartFailed,
    LambdaFunctionSucceeded, LambdaFunctionTimedOut, MapIterationAborted, MapIterationFailed, MapIterationStarted,
    MapIterationSucceeded, MapRunAborted, MapRunFailed, MapRunRedriven, MapRunStarted, MapRunSucceeded,
    MapStateAborted, MapStateEntered, MapStateExited, MapStateFailed, MapStateStarted, MapStateSucceeded,
    ParallelStateAborted, ParallelStateEntered, ParallelStateExited, ParallelStateFailed, ParallelStateStarted,
    ParallelStateSucceeded, PassStateEntered, PassStateExited, SucceedStateEntered, SucceedStateExited, TaskFailed,
    TaskScheduled, TaskStarted, TaskStartFailed, TaskStateAborted, TaskStateEntered, TaskStateExited,
    TaskSubmitFailed, TaskSubmitted, TaskSucceeded, TaskTimedOut, WaitStateAborted, WaitStateEntered,
    WaitStateExited,
);

impl EventType {
    /// The name of the event's details member: `stateEnteredEventDetails` for every
    /// `*StateEntered`, otherwise the type in lower camel case + `EventDetails`.
    fn details_key(self) -> Option<String> {
        let name = self.as_str();
        if name.ends_with("StateEntered") {
            return Some("stateEnteredEventDetails".to_owned());
        }
        if name.ends_with("StateExited") {
            return Some("stateExitedEventDetails".to_owned());
        }
        let mut key = String::with_capacity(name.len() + 12);
        let mut chars = name.chars();
        if let Some(first) = chars.next() {
            key.push(first.to_ascii_lowercase());
        }
        key.extend(chars);
        key.push_str("EventDetails");
        Some(key)
    }
}

/// The details of an event; only the members its type carries are set. Payloads are kept as the
/// JSON text AWS returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub name: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub resource: Option<String>,
    pub resource_type: Option<String>,
    pub region: Option<String>,
    pub parameters: Option<String>,
    pub timeout_in_seconds: Option<u64>,
    pub heartbeat_in_seconds: Option<u64>,
    pub index: Option<u64>,
    pub length: Option<u64>,
    pub role_arn: Option<String>,
    pub assigned_variables: Option<Vec<(String, String)>>,
    pub location: Option<String>,
    pub state: Option<String>,
    pub map_run_arn: Option<String>,
    pub worker_name: Option<String>,
    pub redrive_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub previous_event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub event_type: EventType,
    pub details: Option<Box<Details>>,
}

impl Event {
    /// The event as GetExecutionHistory returns it; `timestamp` renders the time (the API wants
    /// epoch seconds, `switchyard run` ISO-8601).
    pub fn to_json(&self, include_data: bool, timestamp: impl Fn(i64) -> Value) -> Value {
        let mut event = Map::new();
        event.insert("timestamp".into(), timestamp(self.timestamp));
        event.insert("type".into(), Value::from(self.event_type.as_str()));
        event.insert("id".into(), Value::from(self.id));
        event.insert("previousEventId".into(), Value::from(self.previous_event_id));
        if let (Some(details), Some(key)) = (&self.details, self.event_type.details_key()) {
            event.insert(key, details.to_json(include_data));
        }
        Value::Object(event)
    }
}

impl Details {
    fn to_json(&self, include_data: bool) -> Value {
        let mut out = Map::new();
        let mut text = |key: &str, value: &Option<String>| {
            if let Some(value) = value {
                out.insert(key.to_owned(), Value::from(value.as_str()));
            }
        };
        text("name", &self.name);
        text("error", &self.error);
        text("cause", &self.cause);
        text("resourceType", &self.resource_type);
        text("resource", &self.resource);
        text("region", &self.region);
        text("roleArn", &self.role_arn);
        text("location", &self.location);
        text("state", &self.state);
        text("mapRunArn", &self.map_run_arn);
        text("workerName", &self.worker_name);
        for (key, payload) in [("input", &self.input), ("output", &self.output), ("parameters", &self.parameters)] {
            if let Some(payload) = payload {
                let (shown, truncated) = truncate(payload, include_data);
                out.insert(key.to_owned(), Value::from(shown));
                if key != "parameters" {
                    out.insert(format!("{key}Details"), json!({ "truncated": truncated }));
                }
            }
        }
        for (key, number) in [
            ("timeoutInSeconds", self.timeout_in_seconds),
            ("heartbeatInSeconds", self.heartbeat_in_seconds),
            ("index", self.index),
            ("length", self.length),
            ("redriveCount", self.redrive_count),
        ] {
            if let Some(number) = number {
                out.insert(key.to_owned(), Value::from(number));
            }
        }
        if let Some(assigned) = &self.assigned_variables {
            let variables: Map<String, Value> = assigned.iter().map(|(name, value)| (name.clone(), Value::from(value.as_str()))).collect();
            out.insert("assignedVariables".into(), Value::Object(variables));
            out.insert("assignedVariablesDetails".into(), json!({ "truncated": false }));
        }
        Value::Object(out)
    }
}

fn truncate(payload: &str, include_data: bool) -> (&str, bool) {
    if !include_data {
        return ("", false);
    }
    if payload.len() <= MAX_PAYLOAD_BYTES {
        return (payload, false);
    }
    let mut end = MAX_PAYLOAD_BYTES;
    while !payload.is_char_boundary(end) {
        end -= 1;
    }
    (&payload[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: EventType, details: Details) -> Value {
        let event = Event { id: 2, previous_event_id: 0, timestamp: 0, event_type, details: Some(Box::new(details)) };
        event.to_json(true, |_| Value::Null)
    }

    #[test]
    fn state_events_use_the_shared_details_member() {
        let entered = event(EventType::PassStateEntered, Details { name: Some("A".into()), input: Some("{}".into()), ..Details::default() });
        assert_eq!(entered["stateEnteredEventDetails"], json!({"name": "A", "input": "{}", "inputDetails": {"truncated": false}}));
        assert_eq!(entered["type"], "PassStateEntered");
    }

    #[test]
    fn other_events_name_their_details_after_their_type() {
        let failed = event(EventType::LambdaFunctionFailed, Details { error: Some("E".into()), ..Details::default() });
        assert_eq!(failed["lambdaFunctionFailedEventDetails"], json!({"error": "E"}));
        let iteration = event(EventType::MapIterationStarted, Details { name: Some("M".into()), index: Some(3), ..Details::default() });
        assert_eq!(iteration["mapIterationStartedEventDetails"], json!({"name": "M", "index": 3}));
    }

    #[test]
    fn oversized_payloads_are_cut_and_flagged() {
        let big = "x".repeat(MAX_PAYLOAD_BYTES + 10);
        let exited = event(EventType::TaskStateExited, Details { output: Some(big), ..Details::default() });
        assert_eq!(exited["stateExitedEventDetails"]["outputDetails"]["truncated"], true);
        assert_eq!(exited["stateExitedEventDetails"]["output"].as_str().unwrap().len(), MAX_PAYLOAD_BYTES);
    }
}
