//! The context object (`$$` in JSONPath, `$states.context` in JSONata) and the facts about an
//! execution it is built from.

use serde_json::{json, Map, Value};

/// What the host tells the interpreter about the execution it runs.
#[derive(Debug, Clone)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub role_arn: String,
    pub region: String,
    /// Milliseconds since the Unix epoch.
    pub start_time: i64,
    pub input: Value,
    /// The input exactly as the caller sent it: AWS shows this text, not a re-serialisation, in
    /// the first events.
    pub input_text: String,
    pub redrive_count: u32,
    /// Kept secret by the host: task tokens are derived from it.
    pub token_secret: String,
}

impl ExecutionInfo {
    /// An execution in the default region and account (us-east-1, 000000000000): local runs,
    /// tests, benchmarks. `input_text` is the input as the caller wrote it.
    pub fn local(state_machine_name: &str, execution_name: &str, input: Value, input_text: String) -> ExecutionInfo {
        let prefix = "arn:aws:states:us-east-1:000000000000";
        ExecutionInfo {
            execution_arn: format!("{prefix}:execution:{state_machine_name}:{execution_name}"),
            name: execution_name.to_owned(),
            state_machine_arn: format!("{prefix}:stateMachine:{state_machine_name}"),
            state_machine_name: state_machine_name.to_owned(),
            role_arn: "arn:aws:iam::000000000000:role/switchyard".to_owned(),
            region: "us-east-1".to_owned(),
            start_time: 0,
            input,
            input_text,
            redrive_count: 0,
            token_secret: String::new(),
        }
    }
}

/// ISO-8601 with milliseconds, as AWS writes times in the context object.
pub fn iso_time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The per-state part of the context object.
pub struct StateContext<'a> {
    pub name: &'a str,
    pub entered_time: i64,
    pub retry_count: Option<u32>,
    pub task_token: Option<&'a str>,
    pub map_item: Option<(usize, &'a Value)>,
}

pub fn context_object(info: &ExecutionInfo, state: &StateContext) -> Value {
    let mut state_object = Map::new();
    state_object.insert("Name".into(), Value::from(state.name));
    state_object.insert("EnteredTime".into(), Value::from(iso_time(state.entered_time)));
    if let Some(retries) = state.retry_count {
        state_object.insert("RetryCount".into(), Value::from(retries));
    }
    let mut context = Map::new();
    context.insert(
        "Execution".into(),
        json!({
            "Id": info.execution_arn,
            "Input": info.input,
            "StartTime": iso_time(info.start_time),
            "Name": info.name,
            "RoleArn": info.role_arn,
            "RedriveCount": info.redrive_count,
        }),
    );
    context.insert("StateMachine".into(), json!({ "Id": info.state_machine_arn, "Name": info.state_machine_name }));
    context.insert("State".into(), Value::Object(state_object));
    if let Some(token) = state.task_token {
        context.insert("Task".into(), json!({ "Token": token }));
    }
    if let Some((index, value)) = state.map_item {
        context.insert("Map".into(), json!({ "Item": { "Index": index, "Value": value } }));
    }
    Value::Object(context)
}
