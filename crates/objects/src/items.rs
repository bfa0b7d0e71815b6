//! Reading a distributed Map's items from S3, as an ItemReader describes them: the host side of
//! `arn:aws:states:::s3:getObject` (ReaderConfig InputType JSON, JSONL or CSV) and
//! `arn:aws:states:::s3:listObjectsV2`. Items are read a page at a time from a cursor (a byte
//! offset into a JSONL or CSV object, an item index into a JSON array, the last key listed), so
//! a Map over millions of items never holds more than a page of them.

use crate::list::ListRequest;
use crate::{ObjectError, ObjectStore};
use bytes::Bytes;
use futures::TryStreamExt;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Why items could not be read: Step Functions fails the Map with `States.ItemReaderFailed`.
#[derive(Debug, PartialEq)]
pub struct ReaderFailure(pub String);

impl From<ObjectError> for ReaderFailure {
    fn from(error: ObjectError) -> ReaderFailure {
        ReaderFailure(format!("{} (Service: S3, Status Code: {}, Error Code: {})", error, error.status(), error.code()))
    }
}

/// Items from `cursor` on (null: the start), at most `limit`, with the cursor of the next page
/// (None: no more). `reader` is the resolved ItemReader (`{"Resource", "ReaderConfig",
/// "Parameters"}`).
pub async fn read_page(store: &dyn ObjectStore, reader: &Value, cursor: &Value, limit: usize) -> Result<(Vec<Value>, Option<Value>), ReaderFailure> {
    let resource = reader.get("Resource").and_then(Value::as_str).unwrap_or_default();
    let parameters = reader.get("Parameters").cloned().unwrap_or(Value::Null);
    let config = reader.get("ReaderConfig").cloned().unwrap_or(Value::Null);
    let text = |name: &str| parameters.get(name).and_then(Value::as_str).ok_or_else(|| ReaderFailure(format!("The ItemReader's Parameters lack '{name}'")));
    match resource {
        "arn:aws:states:::s3:listObjectsV2" => list_page(store, text("Bucket")?, parameters.get("Prefix").and_then(Value::as_str).unwrap_or_default(), cursor.as_str(), limit).await,
        "arn:aws:states:::s3:getObject" => {
            let (bucket, key) = (text("Bucket")?, text("Key")?);
            let offset = cursor.get("Offset").and_then(Value::as_u64).unwrap_or_default();
            let read_error = |error: std::io::Error| ReaderFailure(format!("Reading s3://{bucket}/{key} failed: {error}"));
            match config.get("InputType").and_then(Value::as_str).unwrap_or("JSON") {
                "JSON" => {
                    let (_, stream) = store.get_object(bucket, key, None).await?;
                    let bytes: Vec<Bytes> = stream.try_collect().await.map_err(read_error)?;
                    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&bytes.concat()) else {
                        return Err(ReaderFailure(format!("The object s3://{bucket}/{key} is not a JSON array")));
                    };
                    let start = cursor.as_u64().map_or(0, |index| index as usize);
                    let end = start.saturating_add(limit).min(items.len());
                    let next = (end < items.len()).then(|| json!(end));
                    Ok((items.into_iter().skip(start).take(end.saturating_sub(start)).collect(), next))
                }
                input_type @ ("JSONL" | "CSV") => {
                    let (_, stream) = store.get_object(bucket, key, Some((offset, None))).await?;
                    let mut lines = tokio_util::io::StreamReader::new(stream);
                    let mut position = Position { offset, line: String::new() };
                    let (items, headers) = if input_type == "JSONL" {
                        (jsonl_items(&mut lines, &mut position, limit, bucket, key).await?, None)
                    } else {
                        let headers = csv_headers(&mut lines, &mut position, &config, cursor).await?;
                        (csv_items(&mut lines, &mut position, &config, &headers, limit).await?, Some(headers))
                    };
                    let more = !lines.fill_buf().await.map_err(read_error)?.is_empty();
                    Ok((items, more.then(|| json!({ "Offset": position.offset, "Headers": headers }))))
                }
                other => Err(ReaderFailure(format!("InputType {other} is not supported (JSON, JSONL, CSV are)"))),
            }
        }
        other => Err(ReaderFailure(format!("The ItemReader resource '{other}' is not supported"))),
    }
}

/// Where a JSONL or CSV object is read: the offset of the next line, and the line last read.
struct Position {
    offset: u64,
    line: String,
}

impl Position {
    /// The next non-empty line (without its end), or None at the end of the object.
    async fn next_line<R: AsyncBufRead + Unpin>(&mut self, reader: &mut R) -> Result<Option<&str>, ReaderFailure> {
        loop {
            self.line.clear();
            let read = reader.read_line(&mut self.line).await.map_err(|error| ReaderFailure(error.to_string()))?;
            if read == 0 {
                return Ok(None);
            }
            self.offset += read as u64;
            if !self.line.trim().is_empty() {
                return Ok(Some(self.line.trim_end_matches(['\n', '\r'])));
            }
        }
    }
}

async fn jsonl_items<R: AsyncBufRead + Unpin>(reader: &mut R, position: &mut Position, limit: usize, bucket: &str, key: &str) -> Result<Vec<Value>, ReaderFailure> {
    let mut items = Vec::new();
    while items.len() < limit {
        let at = position.offset;
        let Some(line) = position.next_line(reader).await? else { break };
        items.push(serde_json::from_str(line).map_err(|error| ReaderFailure(format!("The line at byte {at} of s3://{bucket}/{key} is not JSON: {error}")))?);
    }
    Ok(items)
}

async fn list_page(store: &dyn ObjectStore, bucket: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<(Vec<Value>, Option<Value>), ReaderFailure> {
    let request = ListRequest { prefix, delimiter: None, start_after: after, continuation_token: None, max_keys: limit.clamp(1, 1000) };
    let listing = store.list_objects(bucket, &request).await?;
    let next = listing.next_continuation_token.and(listing.objects.last()).map(|last| json!(last.key));
    // As AWS lists them: the ETag quoted, LastModified in epoch seconds.
    let items = listing
        .objects
        .iter()
        .map(|info| json!({ "Etag": format!("\"{}\"", info.etag), "Key": info.key, "LastModified": info.last_modified_ms / 1000, "Size": info.size, "StorageClass": "STANDARD" }))
        .collect();
    Ok((items, next))
}

fn csv_delimiter(config: &Value) -> Result<char, ReaderFailure> {
    match config.get("CSVDelimiter").and_then(Value::as_str).unwrap_or("COMMA") {
        "COMMA" => Ok(','),
        "PIPE" => Ok('|'),
        "SEMICOLON" => Ok(';'),
        "SPACE" => Ok(' '),
        "TAB" => Ok('\t'),
        other => Err(ReaderFailure(format!("CSVDelimiter {other} is not one of COMMA, PIPE, SEMICOLON, SPACE, TAB"))),
    }
}

/// The column names: given, carried in the cursor, or the object's first row (on the first page).
async fn csv_headers<R: AsyncBufRead + Unpin>(reader: &mut R, position: &mut Position, config: &Value, cursor: &Value) -> Result<Vec<String>, ReaderFailure> {
    let names = |value: &Value| value.as_array().map(|names| names.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<String>>());
    if let Some(headers) = cursor.get("Headers").and_then(names) {
        return Ok(headers);
    }
    match config.get("CSVHeaderLocation").and_then(Value::as_str).unwrap_or("FIRST_ROW") {
        "GIVEN" => config.get("CSVHeaders").and_then(names).ok_or_else(|| ReaderFailure("CSVHeaderLocation GIVEN needs CSVHeaders".into())),
        _ => {
            let delimiter = csv_delimiter(config)?;
            Ok(position.next_line(reader).await?.map(|line| split_csv_line(line, delimiter)).unwrap_or_default())
        }
    }
}

async fn csv_items<R: AsyncBufRead + Unpin>(reader: &mut R, position: &mut Position, config: &Value, headers: &[String], limit: usize) -> Result<Vec<Value>, ReaderFailure> {
    let delimiter = csv_delimiter(config)?;
    let mut items = Vec::new();
    while items.len() < limit {
        let Some(line) = position.next_line(reader).await? else { break };
        let fields = split_csv_line(line, delimiter);
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

    /// Every item, read two at a time through the cursors.
    async fn read_all(store: &dyn ObjectStore, reader: &Value) -> Result<Vec<Value>, ReaderFailure> {
        let (mut items, mut cursor) = (Vec::new(), Value::Null);
        loop {
            let (page, next) = read_page(store, reader, &cursor, 2).await?;
            assert!(page.len() <= 2);
            items.extend(page);
            match next {
                Some(next) => cursor = next,
                None => return Ok(items),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn items_come_page_by_page_from_jsonl_csv_json_objects_and_listings() {
        let root = std::env::temp_dir().join(format!("objects-items-{}", uuid::Uuid::new_v4()));
        let objects = Arc::new(Objects::open(&root).unwrap());
        objects.create_bucket("in").unwrap();
        let put = |key: &'static str, body: &'static str| {
            let objects = objects.clone();
            async move { objects.put_object("in", key, Bytes::from_static(body.as_bytes()), Attributes::default()).await.unwrap() }
        };
        put("items.jsonl", "{\"n\":1}\r\n\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}").await;
        put("items.csv", "name;size\nalpha;1\n\"b;eta\";2\ngamma;3\n").await;
        put("items.json", "[1, 2, 3]").await;
        let store: &dyn ObjectStore = &objects;
        let get = |input: &str, key: &str, config: Value| {
            let mut reader_config = json!({"InputType": input, "CSVDelimiter": "SEMICOLON"});
            reader_config.as_object_mut().unwrap().extend(config.as_object().unwrap().clone());
            json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": reader_config, "Parameters": {"Bucket": "in", "Key": key}})
        };
        assert_eq!(read_all(store, &get("JSONL", "items.jsonl", json!({}))).await.unwrap(), [json!({"n": 1}), json!({"n": 2}), json!({"n": 3}), json!({"n": 4})]);
        let csv = read_all(store, &get("CSV", "items.csv", json!({}))).await.unwrap();
        assert_eq!(csv, [json!({"name": "alpha", "size": "1"}), json!({"name": "b;eta", "size": "2"}), json!({"name": "gamma", "size": "3"})]);
        let given = read_all(store, &get("CSV", "items.csv", json!({"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"]}))).await.unwrap();
        assert_eq!((given.len(), &given[0]), (4, &json!({"a": "name", "b": "size"})));
        assert_eq!(read_all(store, &get("JSON", "items.json", json!({}))).await.unwrap(), [json!(1), json!(2), json!(3)]);
        let listed = read_all(store, &json!({"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "in", "Prefix": "items."}})).await.unwrap();
        assert_eq!(listed.iter().map(|item| item["Key"].clone()).collect::<Vec<_>>(), [json!("items.csv"), json!("items.json"), json!("items.jsonl")]);
        let missing = read_all(store, &get("JSONL", "nope", json!({}))).await.unwrap_err();
        assert!(missing.0.contains("Error Code: NoSuchKey"), "{missing:?}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
