//! Reading a distributed Map's items from S3, as an ItemReader describes them: the host side of
//! `arn:aws:states:::s3:getObject` (ReaderConfig InputType JSON, JSONL or CSV) and
//! `arn:aws:states:::s3:listObjectsV2`. JSONL and CSV objects are read line by line as they
//! stream in, so only the items (never the object's whole text) are held.

use crate::list::ListRequest;
use crate::{ObjectError, ObjectStore};
use bytes::Bytes;
use futures::TryStreamExt;
use serde_json::{json, Map, Value};
use tokio::io::AsyncBufReadExt;

/// Why items could not be read: Step Functions fails the Map with `States.ItemReaderFailed`.
#[derive(Debug, PartialEq)]
pub struct ReaderFailure(pub String);

impl From<ObjectError> for ReaderFailure {
    fn from(error: ObjectError) -> ReaderFailure {
        ReaderFailure(format!("{} ({})", error, error.code()))
    }
}

/// The items named by a resolved ItemReader (`{"Resource", "ReaderConfig", "Parameters"}` with
/// paths already evaluated).
pub async fn read_items(store: &dyn ObjectStore, reader: &Value) -> Result<Vec<Value>, ReaderFailure> {
    let resource = reader.get("Resource").and_then(Value::as_str).unwrap_or_default();
    let parameters = reader.get("Parameters").or_else(|| reader.get("Arguments")).cloned().unwrap_or(Value::Null);
    let config = reader.get("ReaderConfig").cloned().unwrap_or(Value::Null);
    let max_items = config.get("MaxItems").and_then(Value::as_u64).map_or(usize::MAX, |max| max as usize);
    let text = |name: &str| parameters.get(name).and_then(Value::as_str).ok_or_else(|| ReaderFailure(format!("The ItemReader's Parameters lack '{name}'")));
    match resource {
        "arn:aws:states:::s3:listObjectsV2" => list_items(store, text("Bucket")?, parameters.get("Prefix").and_then(Value::as_str).unwrap_or_default(), max_items).await,
        "arn:aws:states:::s3:getObject" => {
            let (bucket, key) = (text("Bucket")?, text("Key")?);
            let input_type = config.get("InputType").and_then(Value::as_str).unwrap_or("JSON");
            let (_, stream) = store.get_object(bucket, key, None).await?;
            let reader = tokio_util::io::StreamReader::new(stream);
            match input_type {
                "JSON" => {
                    let bytes: Vec<Bytes> = tokio_util::io::ReaderStream::new(reader).try_collect().await.map_err(|error| ReaderFailure(error.to_string()))?;
                    match serde_json::from_slice::<Value>(&bytes.concat()) {
                        Ok(Value::Array(items)) => Ok(items.into_iter().take(max_items).collect()),
                        _ => Err(ReaderFailure(format!("The object s3://{bucket}/{key} is not a JSON array"))),
                    }
                }
                "JSONL" => {
                    let mut lines = reader.lines();
                    let mut items = Vec::new();
                    while items.len() < max_items {
                        let Some(line) = lines.next_line().await.map_err(|error| ReaderFailure(error.to_string()))? else { break };
                        if line.trim().is_empty() {
                            continue;
                        }
                        items.push(serde_json::from_str(&line).map_err(|error| ReaderFailure(format!("Line {} of s3://{bucket}/{key} is not JSON: {error}", items.len() + 1)))?);
                    }
                    Ok(items)
                }
                "CSV" => csv_items(reader.lines(), &config, max_items).await,
                other => Err(ReaderFailure(format!("InputType {other} is not supported (JSON, JSONL, CSV are)"))),
            }
        }
        other => Err(ReaderFailure(format!("The ItemReader resource '{other}' is not supported"))),
    }
}

async fn list_items(store: &dyn ObjectStore, bucket: &str, prefix: &str, max_items: usize) -> Result<Vec<Value>, ReaderFailure> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = ListRequest { prefix, delimiter: None, start_after: None, continuation_token: token.as_deref(), max_keys: 1000 };
        let listing = store.list_objects(bucket, &request).await?;
        for info in listing.objects {
            if items.len() == max_items {
                return Ok(items);
            }
            // As AWS lists them: the ETag quoted, LastModified in epoch seconds.
            items.push(json!({ "Etag": format!("\"{}\"", info.etag), "Key": info.key, "LastModified": info.last_modified_ms / 1000, "Size": info.size, "StorageClass": "STANDARD" }));
        }
        match listing.next_continuation_token {
            Some(next) => token = Some(next),
            None => return Ok(items),
        }
    }
}

async fn csv_items<R: tokio::io::AsyncBufRead + Unpin>(mut lines: tokio::io::Lines<R>, config: &Value, max_items: usize) -> Result<Vec<Value>, ReaderFailure> {
    let delimiter = match config.get("CSVDelimiter").and_then(Value::as_str).unwrap_or("COMMA") {
        "COMMA" => ',',
        "PIPE" => '|',
        "SEMICOLON" => ';',
        "SPACE" => ' ',
        "TAB" => '\t',
        other => return Err(ReaderFailure(format!("CSVDelimiter {other} is not one of COMMA, PIPE, SEMICOLON, SPACE, TAB"))),
    };
    let read_error = |error: std::io::Error| ReaderFailure(error.to_string());
    let headers: Vec<String> = match config.get("CSVHeaderLocation").and_then(Value::as_str).unwrap_or("FIRST_ROW") {
        "GIVEN" => config
            .get("CSVHeaders")
            .and_then(Value::as_array)
            .map(|headers| headers.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .ok_or_else(|| ReaderFailure("CSVHeaderLocation GIVEN needs CSVHeaders".into()))?,
        _ => match lines.next_line().await.map_err(read_error)? {
            Some(line) => split_csv_line(&line, delimiter),
            None => return Ok(Vec::new()),
        },
    };
    let mut items = Vec::new();
    while items.len() < max_items {
        let Some(line) = lines.next_line().await.map_err(read_error)? else { break };
        if line.is_empty() {
            continue;
        }
        let fields = split_csv_line(&line, delimiter);
        let item: Map<String, Value> = headers.iter().cloned().zip(fields.into_iter().map(Value::String).chain(std::iter::repeat(Value::String(String::new())))).collect();
        items.push(Value::Object(item));
    }
    Ok(items)
}

/// One CSV record (RFC 4180 quoting: `"a ""b"", c"`); records do not span lines.
fn split_csv_line(line: &str, delimiter: char) -> Vec<String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut characters = line.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '"' if quoted && characters.peek() == Some(&'"') => {
                field.push('"');
                characters.next();
            }
            '"' => quoted = !quoted,
            character if character == delimiter && !quoted => fields.push(std::mem::take(&mut field)),
            character => field.push(character),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attributes, Objects};
    use std::sync::Arc;

    #[test]
    fn csv_fields_keep_quoted_delimiters_and_quotes() {
        assert_eq!(split_csv_line(r#"a,"b, c","say ""hi""",""#, ','), ["a", "b, c", "say \"hi\"", ""]);
        assert_eq!(split_csv_line("x|y\r", '|'), ["x", "y"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn items_come_from_jsonl_csv_json_objects_and_listings() {
        let root = std::env::temp_dir().join(format!("objects-items-{}", uuid::Uuid::new_v4()));
        let objects = Arc::new(Objects::open(&root).unwrap());
        objects.create_bucket("in").unwrap();
        let put = |key: &'static str, body: &'static str| {
            let objects = objects.clone();
            async move { objects.put_object("in", key, Bytes::from_static(body.as_bytes()), Attributes::default()).await.unwrap() }
        };
        put("items.jsonl", "{\"n\":1}\n\n{\"n\":2}\n{\"n\":3}\n").await;
        put("items.csv", "name,size\nalpha,1\n\"b,eta\",2\n").await;
        put("items.json", "[1, 2, 3]").await;
        let store: &dyn ObjectStore = &objects;
        let get = |input: &str, key: &str, config: Value| json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": input, "MaxItems": config.get("MaxItems"), "CSVHeaderLocation": config.get("Location"), "CSVHeaders": config.get("Headers")}, "Parameters": {"Bucket": "in", "Key": key}});
        assert_eq!(read_items(store, &get("JSONL", "items.jsonl", json!({}))).await.unwrap(), [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
        assert_eq!(read_items(store, &get("JSONL", "items.jsonl", json!({"MaxItems": 2}))).await.unwrap().len(), 2);
        assert_eq!(read_items(store, &get("CSV", "items.csv", json!({}))).await.unwrap(), [json!({"name": "alpha", "size": "1"}), json!({"name": "b,eta", "size": "2"})]);
        let given = read_items(store, &get("CSV", "items.csv", json!({"Location": "GIVEN", "Headers": ["a", "b"]}))).await.unwrap();
        assert_eq!(given[0], json!({"a": "name", "b": "size"}));
        assert_eq!(read_items(store, &get("JSON", "items.json", json!({}))).await.unwrap(), [json!(1), json!(2), json!(3)]);
        let listed = read_items(store, &json!({"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "in", "Prefix": "items."}})).await.unwrap();
        assert_eq!(listed.iter().map(|item| item["Key"].clone()).collect::<Vec<_>>(), [json!("items.csv"), json!("items.json"), json!("items.jsonl")]);
        let missing = read_items(store, &get("JSONL", "nope", json!({}))).await.unwrap_err();
        assert!(missing.0.contains("NoSuchKey"), "{missing:?}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
