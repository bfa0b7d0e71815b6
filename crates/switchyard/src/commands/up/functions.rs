//! Until the server has the Lambda API, a project's functions reach a server `up` starts the way
//! `serve --functions FILE` takes them; each gets what its handler needs to call back into the
//! server with an AWS SDK (endpoint, region, credentials).

use deploy::Plan;
use serde_json::{json, Map, Value};

/// The `--functions` file for `plan`'s zip functions (image functions need the Lambda service).
pub fn functions_file(plan: &Plan, endpoint: &str) -> Value {
    let mut functions = Map::new();
    for function in &plan.functions {
        let Some(handler) = &function.handler else { continue };
        let mut environment: Map<String, Value> = function.environment.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))).collect();
        for (name, value) in [("AWS_ENDPOINT_URL", endpoint), ("AWS_ACCESS_KEY_ID", "switchyard"), ("AWS_SECRET_ACCESS_KEY", "switchyard")] {
            environment.entry(name.to_owned()).or_insert_with(|| Value::String(std::env::var(name).unwrap_or_else(|_| value.to_owned())));
        }
        functions.insert(
            function.name.clone(),
            json!({
                "arn": function.arn,
                "handler": handler,
                "code_dir": function.code_dir,
                "runtime": function.runtime,
                "timeout": function.timeout.clamp(1, 900),
                "memory": function.memory_size.clamp(128, 10_240),
                "environment": environment,
            }),
        );
    }
    Value::Object(functions)
}
