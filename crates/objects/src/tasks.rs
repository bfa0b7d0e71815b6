//! The `aws-sdk:s3` task integration: `arn:aws:states:::aws-sdk:s3:getObject`, `putObject`,
//! `listObjectsV2` and `copyObject`, with the request and response shapes of AWS's SDK
//! integration (PascalCase members, `Body` as text, quoted ETags) and its error names
//! (`S3.NoSuchKeyException`).

use crate::disk::{Attributes, ObjectInfo};
use crate::list::ListRequest;
use crate::{ObjectError, ObjectStore};
use asl::interpreter::{Integration, TaskRequest};
use asl::Failure;
use bytes::Bytes;
use engine::{TaskContext, TaskDispatcher};
use futures::TryStreamExt;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub struct S3Tasks {
    store: Arc<dyn ObjectStore>,
    /// Tasks run on worker threads; the store's calls are async.
    runtime: tokio::runtime::Handle,
}

impl S3Tasks {
    pub fn new(store: Arc<dyn ObjectStore>, runtime: tokio::runtime::Handle) -> S3Tasks {
        S3Tasks { store, runtime }
    }

    async fn call(&self, action: &str, parameters: &Value) -> Result<Value, Failure> {
        let text = |name: &str| parameters.get(name).and_then(Value::as_str);
        let required = |name: &str| text(name).ok_or_else(|| validation(format!("The field '{name}' is required but was missing")));
        match action {
            "getObject" => {
                let (bucket, key) = (required("Bucket")?, required("Key")?);
                let range = text("Range").map(parse_range).transpose()?;
                let (info, stream) = self.store.get_object(bucket, key, range).await.map_err(sdk_failure)?;
                let bytes: Vec<Bytes> = stream.try_collect().await.map_err(|error| sdk_failure(ObjectError::Io(error)))?;
                let body = String::from_utf8_lossy(&bytes.concat()).into_owned();
                let mut response = Map::new();
                response.insert("AcceptRanges".into(), json!("bytes"));
                response.insert("Body".into(), json!(body));
                response.insert("ContentLength".into(), json!(body.len()));
                if let Some(content_type) = &info.attributes.content_type {
                    response.insert("ContentType".into(), json!(content_type));
                }
                response.insert("ETag".into(), json!(quoted(&info)));
                response.insert("LastModified".into(), json!(date(info.last_modified_ms)));
                response.insert("Metadata".into(), json!(info.attributes.metadata));
                Ok(Value::Object(response))
            }
            "putObject" => {
                let (bucket, key) = (required("Bucket")?, required("Key")?);
                // A JSON Body is written as its text, as Step Functions serializes it.
                let body = match parameters.get("Body") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                };
                let attributes = Attributes {
                    content_type: text("ContentType").map(str::to_owned),
                    metadata: parameters
                        .get("Metadata")
                        .and_then(Value::as_object)
                        .map(|metadata| metadata.iter().filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned()))).collect())
                        .unwrap_or_default(),
                    ..Attributes::default()
                };
                let info = self.store.put_object(bucket, key, Bytes::from(body), attributes).await.map_err(sdk_failure)?;
                Ok(json!({ "ETag": quoted(&info), "ServerSideEncryption": "AES256" }))
            }
            "listObjectsV2" => {
                let bucket = required("Bucket")?;
                let prefix = text("Prefix").unwrap_or_default();
                let max_keys = parameters.get("MaxKeys").and_then(Value::as_u64).unwrap_or(1000).min(1000);
                let request = ListRequest { prefix, delimiter: text("Delimiter"), start_after: text("StartAfter"), continuation_token: text("ContinuationToken"), max_keys: max_keys as usize };
                let listing = self.store.list_objects(bucket, &request).await.map_err(sdk_failure)?;
                let mut response = Map::new();
                if let Some(delimiter) = request.delimiter {
                    response.insert("Delimiter".into(), json!(delimiter));
                }
                let contents: Vec<Value> = listing
                    .objects
                    .iter()
                    .map(|info| json!({ "ETag": quoted(info), "Key": info.key, "LastModified": date(info.last_modified_ms), "Size": info.size, "StorageClass": "STANDARD" }))
                    .collect();
                let key_count = contents.len() + listing.common_prefixes.len();
                if !contents.is_empty() {
                    response.insert("Contents".into(), Value::Array(contents));
                }
                if !listing.common_prefixes.is_empty() {
                    response.insert("CommonPrefixes".into(), listing.common_prefixes.iter().map(|prefix| json!({ "Prefix": prefix })).collect());
                }
                if let Some(token) = request.continuation_token {
                    response.insert("ContinuationToken".into(), json!(token));
                }
                response.insert("IsTruncated".into(), json!(listing.next_continuation_token.is_some()));
                response.insert("KeyCount".into(), json!(key_count));
                response.insert("MaxKeys".into(), json!(max_keys));
                response.insert("Name".into(), json!(bucket));
                if let Some(token) = listing.next_continuation_token {
                    response.insert("NextContinuationToken".into(), json!(token));
                }
                response.insert("Prefix".into(), json!(prefix));
                Ok(Value::Object(response))
            }
            "copyObject" => {
                let (bucket, key, source) = (required("Bucket")?, required("Key")?, required("CopySource")?);
                let (source_bucket, source_key) = source
                    .trim_start_matches('/')
                    .split_once('/')
                    .ok_or_else(|| validation("CopySource must be of the form BUCKET/KEY".to_owned()))?;
                let info = self.store.copy_object(source_bucket, source_key, bucket, key).await.map_err(sdk_failure)?;
                Ok(json!({ "CopyObjectResult": { "ETag": quoted(&info), "LastModified": date(info.last_modified_ms) }, "ServerSideEncryption": "AES256" }))
            }
            other => Err(Failure::new(
                "States.Runtime",
                format!("The resource 'arn:aws:states:::aws-sdk:s3:{other}' is not supported by this server (getObject, putObject, listObjectsV2, copyObject are)"),
            )),
        }
    }
}

impl TaskDispatcher for S3Tasks {
    fn run(&self, request: &TaskRequest, _context: &TaskContext) -> Result<Value, Failure> {
        let Integration::Service { action, .. } = &request.integration else {
            return Err(Failure::new("States.Runtime", format!("'{}' is not an S3 task", request.resource)));
        };
        self.runtime.block_on(self.call(action, &request.parameters))
    }
}

fn quoted(info: &ObjectInfo) -> String {
    format!("\"{}\"", info.etag)
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|date| date.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

/// `bytes=FIRST-[LAST]`.
fn parse_range(range: &str) -> Result<(u64, Option<u64>), Failure> {
    let invalid = || validation(format!("Invalid Range: {range}"));
    let (first, last) = range.strip_prefix("bytes=").and_then(|bounds| bounds.split_once('-')).ok_or_else(invalid)?;
    let first = first.parse().map_err(|_| invalid())?;
    let last = if last.is_empty() { None } else { Some(last.parse().map_err(|_| invalid())?) };
    Ok((first, last))
}

fn validation(message: String) -> Failure {
    Failure::new("S3.S3Exception", format!("{message} (Service: S3, Status Code: 400, Request ID: {})", request_id()))
}

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase()
}

/// Step Functions names an SDK error `S3.<modelled error shape>Exception` and falls back to
/// `S3.S3Exception`; the cause is the SDK's message.
fn sdk_failure(error: ObjectError) -> Failure {
    let modelled = matches!(error.code(), "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "BucketAlreadyOwnedByYou" | "BucketAlreadyExists" | "InvalidObjectState" | "ObjectNotInActiveTierError");
    let name = if modelled { format!("S3.{}Exception", error.code()) } else { "S3.S3Exception".to_owned() };
    Failure::new(name, format!("{error} (Service: S3, Status Code: {}, Request ID: {})", error.status(), request_id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Objects;

    fn tasks() -> (S3Tasks, tokio::runtime::Runtime, std::path::PathBuf) {
        let directory = std::env::temp_dir().join(format!("objects-tasks-{}", uuid::Uuid::new_v4()));
        let objects = Arc::new(Objects::open(&directory).unwrap());
        objects.create_bucket("data").unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        (S3Tasks::new(Arc::new(objects), runtime.handle().clone()), runtime, directory)
    }

    fn request(action: &str, parameters: Value) -> TaskRequest {
        let resource = format!("arn:aws:states:::aws-sdk:s3:{action}");
        TaskRequest {
            action: 1,
            state_name: Arc::from("S3"),
            integration: Integration::of(&resource),
            resource,
            parameters,
            task_token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            attempt: 0,
        }
    }

    #[test]
    fn put_get_list_and_copy_answer_in_the_sdk_integration_shapes() {
        let (tasks, _runtime, directory) = tasks();
        let context = TaskContext::default();
        let put = tasks.run(&request("putObject", json!({"Bucket": "data", "Key": "in/a.json", "Body": {"x": 1}})), &context).unwrap();
        assert_eq!(put["ETag"], json!(format!("\"{}\"", crate::store::hex(&<s3s::crypto::Md5 as s3s::crypto::Checksum>::checksum(br#"{"x":1}"#)))));
        let got = tasks.run(&request("getObject", json!({"Bucket": "data", "Key": "in/a.json"})), &context).unwrap();
        assert_eq!((got["Body"].clone(), got["ContentLength"].clone()), (json!(r#"{"x":1}"#), json!(7)));
        tasks.run(&request("copyObject", json!({"Bucket": "data", "Key": "out/b.json", "CopySource": "data/in/a.json"})), &context).unwrap();
        let listed = tasks.run(&request("listObjectsV2", json!({"Bucket": "data", "Delimiter": "/"})), &context).unwrap();
        assert_eq!(listed["CommonPrefixes"], json!([{"Prefix": "in/"}, {"Prefix": "out/"}]));
        assert_eq!(listed["KeyCount"], json!(2));
        let missing = tasks.run(&request("getObject", json!({"Bucket": "data", "Key": "nope"})), &context).unwrap_err();
        assert_eq!(missing.error, "S3.NoSuchKeyException");
        let no_bucket = tasks.run(&request("putObject", json!({"Bucket": "nope", "Key": "k", "Body": ""})), &context).unwrap_err();
        assert_eq!(no_bucket.error, "S3.NoSuchBucketException");
        std::fs::remove_dir_all(directory).unwrap();
    }
}
