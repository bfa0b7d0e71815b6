//! Writing a distributed Map's results to S3, as a ResultWriter describes them: the host side of
//! `arn:aws:states:::s3:putObject`. As on AWS, the results go under `PREFIX/MAP_RUN_ID/`:
//! `SUCCEEDED_0.json` and `FAILED_0.json` (JSON arrays, or JSON Lines with OutputType JSONL),
//! then `manifest.json`, which names them with their sizes.

use crate::{Attributes, ObjectStore};
use bytes::Bytes;
use serde_json::{json, Value};

/// What the interpreter asks to write (see `asl::interpreter`'s map I/O): `{"Parameters":
/// {"Bucket", "Prefix"}, "MapRunArn", "OutputType", "Succeeded": [...], "Failed": [...]}`.
/// Answers `{"Bucket", "Key"}` (of manifest.json); an error is the cause of
/// `States.ResultWriterFailed`.
pub async fn write_results(store: &dyn ObjectStore, request: &Value) -> Result<Value, String> {
    let parameters = &request["Parameters"];
    let bucket = parameters.get("Bucket").and_then(Value::as_str).ok_or("The ResultWriter's Parameters lack 'Bucket'")?;
    let prefix = parameters.get("Prefix").and_then(Value::as_str).unwrap_or_default().trim_end_matches('/');
    let map_run_arn = request.get("MapRunArn").and_then(Value::as_str).unwrap_or_default();
    let map_run_id = map_run_arn.rsplit(':').next().unwrap_or_default();
    let directory = if prefix.is_empty() { map_run_id.to_owned() } else { format!("{prefix}/{map_run_id}") };
    let json_lines = request.get("OutputType").and_then(Value::as_str) == Some("JSONL");
    let mut manifest = json!({ "DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": { "FAILED": [], "PENDING": [], "SUCCEEDED": [] } });
    for (field, category) in [("Succeeded", "SUCCEEDED"), ("Failed", "FAILED")] {
        let results = request.get(field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if results.is_empty() {
            continue;
        }
        let body = if json_lines { results.iter().map(|result| format!("{result}\n")).collect() } else { Value::from(results).to_string() };
        let extension = if json_lines { "jsonl" } else { "json" };
        let key = format!("{directory}/{category}_0.{extension}");
        let size = body.len();
        put(store, bucket, &key, body).await?;
        manifest["ResultFiles"][category] = json!([{ "Key": key, "Size": size }]);
    }
    let key = format!("{directory}/manifest.json");
    put(store, bucket, &key, manifest.to_string()).await?;
    Ok(json!({ "Bucket": bucket, "Key": key }))
}

async fn put(store: &dyn ObjectStore, bucket: &str, key: &str, body: String) -> Result<(), String> {
    let attributes = Attributes { content_type: Some("application/json".into()), ..Attributes::default() };
    store
        .put_object(bucket, key, Bytes::from(body), attributes)
        .await
        .map(drop)
        .map_err(|error| format!("{error} (Service: S3, Status Code: {}, Error Code: {})", error.status(), error.code()))
}
