//! Execution history events in the shapes GetExecutionHistory returns.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

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
    fn details_key(self) -> String {
        let name = self.as_str();
        if name.ends_with("StateEntered") {
            return "stateEnteredEventDetails".to_owned();
        }
        if name.ends_with("StateExited") {
            return "stateExitedEventDetails".to_owned();
        }
        let mut key = String::with_capacity(name.len() + 12);
        let mut chars = name.chars();
        if let Some(first) = chars.next() {
            key.push(first.to_ascii_lowercase());
        }
        key.extend(chars);
        key.push_str("EventDetails");
        key
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

/// How event times are written: the API's epoch seconds or `switchyard run`'s ISO-8601.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    EpochSeconds,
    Iso,
}

impl Event {
    /// The event as GetExecutionHistory returns it.
    pub fn to_json(&self, include_data: bool, time: TimeFormat) -> Value {
        serde_json::to_value(Shown { event: self, include_data, time }).unwrap_or(Value::Null)
    }

    /// The same, as JSON text, written directly (the store keeps every event this way).
    pub fn to_json_text(&self, include_data: bool, time: TimeFormat) -> String {
        serde_json::to_string(&Shown { event: self, include_data, time }).unwrap_or_default()
    }
}

struct Shown<'a> {
    event: &'a Event,
    include_data: bool,
    time: TimeFormat,
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.event;
        let mut map = serializer.serialize_map(None)?;
        match self.time {
            TimeFormat::EpochSeconds => map.serialize_entry("timestamp", &(event.timestamp as f64 / 1000.0))?,
            TimeFormat::Iso => map.serialize_entry("timestamp", &crate::context::iso_time(event.timestamp))?,
        }
        map.serialize_entry("type", event.event_type.as_str())?;
        map.serialize_entry("id", &event.id)?;
        map.serialize_entry("previousEventId", &event.previous_event_id)?;
        if let Some(details) = &event.details {
            map.serialize_entry(&event.event_type.details_key(), &ShownDetails { details, include_data: self.include_data })?;
        }
        map.end()
    }
}

struct ShownDetails<'a> {
    details: &'a Details,
    include_data: bool,
}

#[derive(serde::Serialize)]
struct Truncated {
    truncated: bool,
}

struct Assigned<'a>(&'a [(String, String)]);

impl Serialize for Assigned<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Serialize for ShownDetails<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let details = self.details;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in [
            ("name", &details.name),
            ("error", &details.error),
            ("cause", &details.cause),
            ("resourceType", &details.resource_type),
            ("resource", &details.resource),
            ("region", &details.region),
            ("roleArn", &details.role_arn),
            ("location", &details.location),
            ("state", &details.state),
            ("mapRunArn", &details.map_run_arn),
            ("workerName", &details.worker_name),
        ] {
            if let Some(value) = value {
                map.serialize_entry(key, value)?;
            }
        }
        for (key, details_key, payload) in [
            ("input", Some("inputDetails"), &details.input),
            ("output", Some("outputDetails"), &details.output),
            ("parameters", None, &details.parameters),
        ] {
            if let Some(payload) = payload {
                let (shown, truncated) = truncate(payload, self.include_data);
                map.serialize_entry(key, shown)?;
                if let Some(details_key) = details_key {
                    map.serialize_entry(details_key, &Truncated { truncated })?;
                }
            }
        }
        for (key, number) in [
            ("timeoutInSeconds", details.timeout_in_seconds),
            ("heartbeatInSeconds", details.heartbeat_in_seconds),
            ("index", details.index),
            ("length", details.length),
            ("redriveCount", details.redrive_count),
        ] {
            if let Some(number) = number {
                map.serialize_entry(key, &number)?;
            }
        }
        if let Some(assigned) = &details.assigned_variables {
            map.serialize_entry("assignedVariables", &Assigned(assigned))?;
            map.serialize_entry("assignedVariablesDetails", &Truncated { truncated: false })?;
        }
        map.end()
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
    use serde_json::json;

    fn event(event_type: EventType, details: Details) -> Value {
        let event = Event { id: 2, previous_event_id: 0, timestamp: 0, event_type, details: Some(Box::new(details)) };
        let text: Value = serde_json::from_str(&event.to_json_text(true, TimeFormat::EpochSeconds)).unwrap();
        assert_eq!(text, event.to_json(true, TimeFormat::EpochSeconds));
        text
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
