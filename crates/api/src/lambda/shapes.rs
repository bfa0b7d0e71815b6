//! Lambda's answers about functions: FunctionConfiguration, as Lambda describes a zip function
//! that is ready (State Active, LastUpdateStatus Successful).

use engine::catalog::Tag;
use engine::functions::{FunctionRecord, LATEST};
use serde_json::{json, Map, Value};

pub fn configuration(record: &FunctionRecord) -> Value {
    let settings = &record.settings;
    let mut shape = json!({
        "FunctionName": record.name,
        "FunctionArn": record.arn,
        "Runtime": settings.runtime,
        "Role": settings.role,
        "Handler": settings.handler,
        "CodeSize": record.code.size(),
        "Description": settings.description,
        "Timeout": settings.timeout_seconds,
        "MemorySize": settings.memory_mb,
        "LastModified": last_modified(record.last_modified_ms),
        "CodeSha256": record.code.sha256(),
        "Version": LATEST,
        "TracingConfig": { "Mode": "PassThrough" },
        "RevisionId": record.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": { "Size": 512 },
        "SnapStart": { "ApplyOn": "None", "OptimizationStatus": "Off" },
        "LoggingConfig": { "LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", record.name) },
    });
    // Lambda leaves Environment out for a function without variables.
    if !settings.environment.is_empty() {
        shape["Environment"] = json!({ "Variables": settings.environment });
    }
    shape
}

pub fn tags(tags: &[Tag]) -> Value {
    Value::Object(tags.iter().map(|tag| (tag.key.clone(), Value::from(tag.value.as_str()))).collect::<Map<_, _>>())
}

/// `2024-01-01T12:00:00.000+0000`, as Lambda writes LastModified.
fn last_modified(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_modified_reads_like_lambda() {
        assert_eq!(super::last_modified(1_704_067_200_123), "2024-01-01T00:00:00.123+0000");
    }
}
