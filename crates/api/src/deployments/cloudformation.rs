//! CloudFormation properties as AWS API requests: the Batch and ECS resource types spell their
//! properties as the services' request fields with a capital first letter (`JobQueueName` for
//! `jobQueueName`, `ContainerDefinitions` for `containerDefinitions`), so one rule maps them.

use serde_json::{Map, Value};

/// `properties` with every object key's first letter in lower case, at every depth.
pub fn api_request(properties: &Value) -> Value {
    match properties {
        Value::Object(fields) => Value::Object(fields.iter().map(|(key, value)| (lower_first(key), api_request(value))).collect::<Map<_, _>>()),
        Value::Array(items) => Value::Array(items.iter().map(api_request).collect()),
        other => other.clone(),
    }
}

fn lower_first(key: &str) -> String {
    let mut characters = key.chars();
    characters.next().map(|first| first.to_lowercase().chain(characters).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_lose_their_capital_at_every_depth() {
        let properties = json!({ "JobQueueName": "q", "ComputeEnvironmentOrder": [{ "Order": 1, "ComputeEnvironment": "Ce" }], "": 0 });
        assert_eq!(api_request(&properties), json!({ "jobQueueName": "q", "computeEnvironmentOrder": [{ "order": 1, "computeEnvironment": "Ce" }], "": 0 }));
    }
}
