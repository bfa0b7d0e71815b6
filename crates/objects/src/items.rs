//! Reading a distributed Map's items from S3, as an ItemReader describes them: the host side of
//! `arn:aws:states:::s3:getObject` (ReaderConfig InputType JSON, JSONL, CSV, or a manifest of
//! data files: MANIFEST / ManifestType S3_INVENTORY, ManifestType ATHENA_DATA) and
//! `arn:aws:states:::s3:listObjectsV2` (the objects' metadata, or with Transformation
//! LOAD_AND_FLATTEN the items in the objects). Items are read a page at a time from a cursor (a byte
//! offset into a JSONL or CSV object, a file and an offset in it for a manifest, an item index
//! into a JSON array, the last key listed), so a Map over millions of items never holds more
//! than a page of them. Objects whose keys end in `.gz` are decompressed as they are read.

mod gunzip;
mod lines;
mod manifests;

use crate::list::ListRequest;
use crate::{ObjectError, ObjectStore};
use lines::{read_lines, read_whole, LineFormat};
use manifests::{read_manifest_page, Manifest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
        "arn:aws:states:::s3:listObjectsV2" => {
            let (bucket, prefix) = (text("Bucket")?, parameters.get("Prefix").and_then(Value::as_str).unwrap_or_default());
            match config.get("Transformation").and_then(Value::as_str).unwrap_or("NONE") {
                "NONE" => list_page(store, bucket, prefix, cursor.as_str(), limit).await,
                "LOAD_AND_FLATTEN" => match source(&config)? {
                    Source::Manifest(_) => Err(ReaderFailure("Transformation LOAD_AND_FLATTEN reads the listed objects as CSV, JSON, JSONL or PARQUET, not as manifests".into())),
                    _ if config.get("InputType").is_none() => Err(ReaderFailure("Transformation LOAD_AND_FLATTEN needs an InputType".into())),
                    source => flattened_listing_page(store, bucket, prefix, &source, cursor, limit).await,
                },
                other => Err(ReaderFailure(format!("Transformation {other} is not one of NONE, LOAD_AND_FLATTEN"))),
            }
        }
        "arn:aws:states:::s3:getObject" => object_page(store, text("Bucket")?, text("Key")?, &source(&config)?, cursor, limit).await,
        other => Err(ReaderFailure(format!("The ItemReader resource '{other}' is not supported"))),
    }
}

/// The items of one object (or of the files its manifest lists), a page from `cursor` on.
async fn object_page(store: &dyn ObjectStore, bucket: &str, key: &str, source: &Source, cursor: &Value, limit: usize) -> Result<(Vec<Value>, Option<Value>), ReaderFailure> {
    match source {
        Source::JsonArray => json_array_page(store, bucket, key, cursor, limit).await,
        Source::Lines(format) => {
            let (items, next) = read_lines(store, bucket, key, format, parse_cursor(cursor)?, limit).await?;
            Ok((items, next.map(|next| serde_json::to_value(next).unwrap_or_default())))
        }
        Source::Manifest(manifest) => read_manifest_page(store, bucket, key, manifest, cursor, limit).await,
    }
}

/// The cursor a page was read with, as the previous page gave it; null: the start.
fn parse_cursor<T: DeserializeOwned + Default>(cursor: &Value) -> Result<T, ReaderFailure> {
    match cursor {
        Value::Null => Ok(T::default()),
        cursor => serde_json::from_value(cursor.clone()).map_err(|error| ReaderFailure(format!("The ItemReader's cursor {cursor} is not one this reader gave: {error}"))),
    }
}

/// What an `s3:getObject` reader reads, from its ReaderConfig.
enum Source {
    JsonArray,
    Lines(LineFormat),
    Manifest(Manifest),
}

fn source(config: &Value) -> Result<Source, ReaderFailure> {
    let word = |name: &str| config.get(name).and_then(Value::as_str);
    let lines = |input_type: &str| match input_type {
        "JSONL" => Ok(LineFormat::Jsonl),
        "CSV" => LineFormat::csv(config),
        "PARQUET" => Err(ReaderFailure("InputType PARQUET is not supported (JSON, JSONL, CSV and MANIFEST are)".into())),
        other => Err(ReaderFailure(format!("InputType {other} is not one of JSON, JSONL, CSV, PARQUET, MANIFEST"))),
    };
    match (word("ManifestType"), word("InputType")) {
        (None, None | Some("JSON")) => Ok(Source::JsonArray),
        (None, Some("MANIFEST")) | (Some("S3_INVENTORY"), None) => Ok(Source::Manifest(Manifest::S3Inventory)),
        (None, Some(input_type)) => lines(input_type).map(Source::Lines),
        (Some("S3_INVENTORY"), Some(input_type)) => Err(ReaderFailure(format!("ManifestType S3_INVENTORY takes no InputType (its files are CSV), not {input_type}"))),
        (Some("ATHENA_DATA"), Some(input_type @ ("CSV" | "JSONL" | "PARQUET"))) => lines(input_type).map(|format| Source::Manifest(Manifest::AthenaData(format))),
        (Some("ATHENA_DATA"), input_type) => Err(ReaderFailure(format!("ManifestType ATHENA_DATA needs InputType CSV, JSONL or PARQUET, not {}", input_type.unwrap_or("none")))),
        (Some(other), _) => Err(ReaderFailure(format!("ManifestType {other} is not one of ATHENA_DATA, S3_INVENTORY"))),
    }
}

/// The items of a JSON array object from index `cursor` (the array is parsed whole: JSON has no
/// line to resume at).
async fn json_array_page(store: &dyn ObjectStore, bucket: &str, key: &str, cursor: &Value, limit: usize) -> Result<(Vec<Value>, Option<Value>), ReaderFailure> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&read_whole(store, bucket, key).await?) else {
        return Err(ReaderFailure(format!("The object s3://{bucket}/{key} is not a JSON array")));
    };
    let start = cursor.as_u64().map_or(0, |index| index as usize);
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| json!(end));
    Ok((items.into_iter().skip(start).take(end.saturating_sub(start)).collect(), next))
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

/// Where a LOAD_AND_FLATTEN listing is read: the object being read and its own cursor, or the
/// last object read to its end. `{"Key", "Position"}` / `{"After"}` as the Map's cursor.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ListingCursor {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    position: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// Transformation LOAD_AND_FLATTEN: the items in the objects listed under `prefix`, object after
/// object in key order, rather than the objects' metadata. Empty objects (such as the "folders"
/// the S3 console creates) hold no items.
async fn flattened_listing_page(store: &dyn ObjectStore, bucket: &str, prefix: &str, source: &Source, cursor: &Value, limit: usize) -> Result<(Vec<Value>, Option<Value>), ReaderFailure> {
    let ListingCursor { key, position, mut after } = parse_cursor(cursor)?;
    let mut items = Vec::new();
    let mut reading = key.map(|key| (key, position));
    loop {
        if let Some((key, position)) = reading.take() {
            let (page, rest) = object_page(store, bucket, &key, source, &position, limit - items.len()).await?;
            items.extend(page);
            if let Some(position) = rest {
                let cursor = ListingCursor { key: Some(key), position, after: None };
                return Ok((items, Some(serde_json::to_value(cursor).unwrap_or_default())));
            }
            after = Some(key);
        }
        let request = ListRequest { prefix, delimiter: None, start_after: after.as_deref(), continuation_token: None, max_keys: 1000 };
        let listing = store.list_objects(bucket, &request).await?;
        let Some(next) = listing.objects.iter().find(|object| object.size > 0) else {
            if listing.next_continuation_token.is_none() {
                return Ok((items, None));
            }
            after = listing.objects.last().map(|last| last.key.clone());
            continue;
        };
        if items.len() == limit {
            let cursor = ListingCursor { after, ..ListingCursor::default() };
            return Ok((items, Some(serde_json::to_value(cursor).unwrap_or_default())));
        }
        reading = Some((next.key.clone(), Value::Null));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attributes, Objects};
    use bytes::Bytes;
    use std::sync::Arc;

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

    fn gzipped(text: &str) -> Bytes {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        Bytes::from(encoder.finish().unwrap())
    }

    fn get_object(key: &str, config: Value) -> Value {
        json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config, "Parameters": {"Bucket": "in", "Key": key}})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn manifests_give_the_rows_of_their_files_one_file_after_another() {
        let root = std::env::temp_dir().join(format!("objects-manifests-{}", uuid::Uuid::new_v4()));
        let objects = Arc::new(Objects::open(&root).unwrap());
        for bucket in ["in", "inventory"] {
            objects.create_bucket(bucket).unwrap();
        }
        let put = |bucket: &'static str, key: &'static str, body: Bytes| objects.put_object(bucket, key, body, Attributes::default());
        let manifest = json!({
            "sourceBucket": "source", "destinationBucket": "arn:aws:s3:::inventory", "version": "2016-11-30", "creationTimestamp": "1668560400000",
            "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, LastModifiedDate",
            "files": [{"key": "data/a.csv.gz", "size": 1, "MD5checksum": "x"}, {"key": "data/empty.csv.gz", "size": 1, "MD5checksum": "x"}, {"key": "data/b.csv.gz", "size": 1, "MD5checksum": "x"}]
        });
        put("in", "inventory/manifest.json", Bytes::from(manifest.to_string())).await.unwrap();
        put("inventory", "data/a.csv.gz", gzipped("\"source\",\"csvDataset/\",\"0\",\"2022-11-16T00:27:19.000Z\"\n\"source\",\"csvDataset/titles.csv\",\"3399671\",\"2022-11-16T00:29:32.000Z\"\n\"source\",\"c\",\"3\",\"t\"\n")).await.unwrap();
        put("inventory", "data/empty.csv.gz", gzipped("")).await.unwrap();
        put("inventory", "data/b.csv.gz", gzipped("\"source\",\"d\",\"4\",\"t\"\n")).await.unwrap();
        let store: &dyn ObjectStore = &objects;
        let inventory = get_object("inventory/manifest.json", json!({"InputType": "MANIFEST"}));
        let items = read_all(store, &inventory).await.unwrap();
        assert_eq!(items[1], json!({"Bucket": "source", "Key": "csvDataset/titles.csv", "Size": "3399671", "LastModifiedDate": "2022-11-16T00:29:32.000Z"}));
        assert_eq!(items.iter().map(|item| item["Key"].as_str().unwrap()).collect::<Vec<_>>(), ["csvDataset/", "csvDataset/titles.csv", "c", "d"]);
        assert_eq!(read_all(store, &get_object("inventory/manifest.json", json!({"ManifestType": "S3_INVENTORY"}))).await.unwrap(), items);
        // A page that ends inside a file resumes there; MaxItems is the interpreter's limit.
        let (page, cursor) = read_page(store, &inventory, &Value::Null, 3).await.unwrap();
        assert_eq!((page.len(), cursor.as_ref().map(|cursor| cursor["File"].clone())), (3, Some(json!(1))));

        put("in", "athena/q-manifest.csv", Bytes::from("s3://in/athena/part-0.gz\ns3://in/athena/part-1\n")).await.unwrap();
        put("in", "athena/part-0.gz", gzipped("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n")).await.unwrap();
        put("in", "athena/part-1", Bytes::from("{\"n\":4}\n")).await.unwrap();
        let athena = get_object("athena/q-manifest.csv", json!({"ManifestType": "ATHENA_DATA", "InputType": "JSONL"}));
        assert_eq!(read_all(store, &athena).await.unwrap(), [json!({"n": 1}), json!({"n": 2}), json!({"n": 3}), json!({"n": 4})]);
        put("in", "athena/csv-manifest.csv", Bytes::from("s3://in/athena/rows.csv.gz\n")).await.unwrap();
        put("in", "athena/rows.csv.gz", gzipped("1,a\n2,b\n")).await.unwrap();
        let given = json!({"ManifestType": "ATHENA_DATA", "InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "name"]});
        assert_eq!(read_all(store, &get_object("athena/csv-manifest.csv", given)).await.unwrap(), [json!({"id": "1", "name": "a"}), json!({"id": "2", "name": "b"})]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn what_is_wrong_with_a_manifest_is_named() {
        let root = std::env::temp_dir().join(format!("objects-manifest-errors-{}", uuid::Uuid::new_v4()));
        let objects = Arc::new(Objects::open(&root).unwrap());
        objects.create_bucket("in").unwrap();
        let inventory = |format: &str, schema: &str| json!({"destinationBucket": "arn:aws:s3:::in", "fileFormat": format, "fileSchema": schema, "files": [{"key": "data/a.csv.gz"}]}).to_string();
        for (key, body) in [("orc.json", inventory("ORC", "Bucket, Key")), ("schema.json", inventory("CSV", "Bucket,,Key")), ("files.json", inventory("CSV", "Bucket, Key")), ("not.json", "{}".into())] {
            objects.put_object("in", key, Bytes::from(body), Attributes::default()).await.unwrap();
        }
        let store: &dyn ObjectStore = &objects;
        let cause = |key: &'static str, config: Value| async move { read_page(store, &get_object(key, config), &Value::Null, 10).await.unwrap_err().0 };
        let manifest = json!({"InputType": "MANIFEST"});
        for (key, expected) in [
            ("missing.json", "Reading the manifest s3://in/missing.json failed: The specified key does not exist."),
            ("orc.json", "has fileFormat ORC: only CSV inventories can be read"),
            ("schema.json", "The fileSchema 'Bucket,,Key' of s3://in/schema.json names an empty column"),
            ("not.json", "is not an S3 inventory manifest"),
            ("files.json", "Error Code: NoSuchKey"),
        ] {
            let cause = cause(key, manifest.clone()).await;
            assert!(cause.contains(expected), "{key}: {cause}");
        }
        assert!(cause("orc.json", json!({"ManifestType": "S3_INVENTORY", "InputType": "CSV"})).await.contains("takes no InputType"));
        assert!(cause("orc.json", json!({"ManifestType": "ATHENA_DATA"})).await.contains("needs InputType CSV, JSONL or PARQUET"));
        assert!(cause("orc.json", json!({"ManifestType": "ATHENA_DATA", "InputType": "PARQUET"})).await.contains("PARQUET is not supported"));
        assert!(cause("orc.json", json!({"InputType": "MANIFEST", "ManifestType": "OTHER"})).await.contains("ManifestType OTHER is not one of"));
        objects.put_object("in", "athena.csv", Bytes::from("not-a-uri\n"), Attributes::default()).await.unwrap();
        assert!(cause("athena.csv", json!({"ManifestType": "ATHENA_DATA", "InputType": "JSONL"})).await.contains("The line 'not-a-uri' of the Athena manifest"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn load_and_flatten_reads_the_items_of_every_listed_object() {
        let root = std::env::temp_dir().join(format!("objects-flatten-{}", uuid::Uuid::new_v4()));
        let objects = Arc::new(Objects::open(&root).unwrap());
        objects.create_bucket("in").unwrap();
        for (key, body) in [("logs/", ""), ("logs/a.jsonl", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"), ("logs/b.jsonl", "{\"n\":4}\n{\"n\":5}\n"), ("other/c.jsonl", "{\"n\":6}\n"), ("arrays/1.json", "[1, 2]"), ("arrays/2.json", "[3]")] {
            objects.put_object("in", key, Bytes::from(body), Attributes::default()).await.unwrap();
        }
        let store: &dyn ObjectStore = &objects;
        let listing = |prefix: &str, config: Value| json!({"Resource": "arn:aws:states:::s3:listObjectsV2", "ReaderConfig": config, "Parameters": {"Bucket": "in", "Prefix": prefix}});
        let flatten = |input: &str| json!({"InputType": input, "Transformation": "LOAD_AND_FLATTEN"});
        assert_eq!(read_all(store, &listing("logs/", flatten("JSONL"))).await.unwrap(), (1..=5).map(|n| json!({"n": n})).collect::<Vec<_>>());
        assert_eq!(read_all(store, &listing("arrays/", flatten("JSON"))).await.unwrap(), [json!(1), json!(2), json!(3)]);
        let (metadata, _) = read_page(store, &listing("logs/", json!({"Transformation": "NONE"})), &Value::Null, 10).await.unwrap();
        assert_eq!(metadata.len(), 3);
        let cause = |config: Value| async move { read_page(store, &listing("logs/", config), &Value::Null, 10).await.unwrap_err().0 };
        assert_eq!(cause(json!({"Transformation": "LOAD_AND_FLATTEN"})).await, "Transformation LOAD_AND_FLATTEN needs an InputType");
        assert!(cause(json!({"InputType": "MANIFEST", "Transformation": "LOAD_AND_FLATTEN"})).await.contains("not as manifests"));
        assert!(cause(json!({"Transformation": "OTHER"})).await.contains("is not one of NONE, LOAD_AND_FLATTEN"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn gzipped_objects_resume_at_their_decompressed_offset() {
        let root = std::env::temp_dir().join(format!("objects-gzip-{}", uuid::Uuid::new_v4()));
        let objects = Arc::new(Objects::open(&root).unwrap());
        objects.create_bucket("in").unwrap();
        let lines: String = (0..100).map(|n| format!("{{\"n\":{n}}}\n")).collect();
        objects.put_object("in", "items.jsonl.gz", gzipped(&lines), Attributes::default()).await.unwrap();
        objects.put_object("in", "items.json.gz", gzipped("[1, 2, 3]"), Attributes::default()).await.unwrap();
        let store: &dyn ObjectStore = &objects;
        let items = read_all(store, &get_object("items.jsonl.gz", json!({"InputType": "JSONL"}))).await.unwrap();
        assert_eq!(items, (0..100).map(|n| json!({"n": n})).collect::<Vec<_>>());
        assert_eq!(read_all(store, &get_object("items.json.gz", json!({"InputType": "JSON"}))).await.unwrap(), [json!(1), json!(2), json!(3)]);
        // With no stream left open at the cursor (a restart), the object is read again up to it:
        // lines 0-9 are 8 bytes long, 10-99 9 bytes.
        let reader = get_object("items.jsonl.gz", json!({"InputType": "JSONL"}));
        let (page, _) = read_page(store, &reader, &json!({"Offset": 10 * 8 + 40 * 9}), 1).await.unwrap();
        assert_eq!(page, [json!({"n": 50})]);
        // A page continues the stream the previous one left open: the object replaced in between
        // (shorter than the cursor's offset) is not read again.
        let (_, cursor) = read_page(store, &reader, &Value::Null, 10).await.unwrap();
        objects.put_object("in", "items.jsonl.gz", gzipped("{\"n\":\"replaced\"}\n"), Attributes::default()).await.unwrap();
        let (page, _) = read_page(store, &reader, &cursor.unwrap(), 1).await.unwrap();
        assert_eq!(page, [json!({"n": 10})]);
        std::fs::remove_dir_all(root).unwrap();
    }
}
