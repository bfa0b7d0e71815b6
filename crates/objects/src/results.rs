//! Writing a distributed Map's results to S3, as a ResultWriter describes them: the host side of
//! `arn:aws:states:::s3:putObject`. As on AWS, the results go under `PREFIX/MAP_RUN_ID/`:
//! `SUCCEEDED_n.json` and `FAILED_n.json` (JSON arrays, or JSON Lines with OutputType JSONL; a
//! file that would pass 5 GiB continues in the next n), then `manifest.json`, which names them
//! with their sizes. The results are read from the stored child executions a page at a time and
//! spooled to a temporary file per result file, so that memory does not grow with the run.

use crate::{Attributes, ObjectStore};
use asl::definition::Transformation;
use engine::runtime::MapRunResults;
use serde_json::{json, Value};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// AWS's largest result file.
const MAX_RESULT_FILE_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Child executions read from the store at a time (each may hold 256 KiB of input and as much
/// output).
const PAGE: usize = 100;

/// What the interpreter asks to write (see `asl::interpreter`'s map I/O): `{"Parameters":
/// {"Bucket", "Prefix"}, "MapRunArn", "OutputType", "Transformation"}`. Answers `{"Bucket",
/// "Key"}` (of manifest.json); an error is the cause of `States.ResultWriterFailed`.
pub async fn write_results(store: &dyn ObjectStore, children: &MapRunResults, request: &Value, spool: &Path) -> Result<Value, String> {
    export(store, children, request, spool, MAX_RESULT_FILE_BYTES).await
}

async fn export(store: &dyn ObjectStore, children: &MapRunResults, request: &Value, spool: &Path, max_file_bytes: u64) -> Result<Value, String> {
    let parameters = &request["Parameters"];
    let bucket = parameters.get("Bucket").and_then(Value::as_str).ok_or("The ResultWriter's Parameters lack 'Bucket'")?;
    let prefix = parameters.get("Prefix").and_then(Value::as_str).unwrap_or_default().trim_end_matches('/');
    let map_run_arn = request.get("MapRunArn").and_then(Value::as_str).unwrap_or_default();
    let map_run_id = map_run_arn.rsplit(':').next().unwrap_or_default();
    let directory = if prefix.is_empty() { map_run_id.to_owned() } else { format!("{prefix}/{map_run_id}") };
    let json_lines = request.get("OutputType").and_then(Value::as_str) == Some("JSONL");
    let transformation = request.get("Transformation").and_then(Value::as_str).and_then(Transformation::from_name).unwrap_or(Transformation::None);
    let destination = Destination { store, bucket, directory: &directory, json_lines, spool, max_file_bytes };
    let mut succeeded = ResultFiles::new("SUCCEEDED");
    let mut failed = ResultFiles::new("FAILED");
    let mut after = None;
    loop {
        let (page, next) = children.page(map_run_arn, after, PAGE)?;
        for child in page {
            match child.output() {
                Some(output) => match transformation {
                    Transformation::None => succeeded.append(&destination, &child.record().to_string()).await?,
                    Transformation::Compact => succeeded.append(&destination, output).await?,
                    Transformation::Flatten => match serde_json::from_str::<Value>(output) {
                        Ok(Value::Array(elements)) => {
                            for element in elements {
                                succeeded.append(&destination, &element.to_string()).await?;
                            }
                        }
                        _ => succeeded.append(&destination, output).await?,
                    },
                },
                None => failed.append(&destination, &child.record().to_string()).await?,
            }
        }
        match next {
            Some(position) => after = Some(position),
            None => break,
        }
    }
    let succeeded = succeeded.finish(&destination).await?;
    let failed = failed.finish(&destination).await?;
    let manifest = json!({ "DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": { "FAILED": failed, "PENDING": [], "SUCCEEDED": succeeded } });
    let key = format!("{directory}/manifest.json");
    let body = manifest.to_string();
    destination.put(&key, bytes::Bytes::from(body)).await?;
    Ok(json!({ "Bucket": bucket, "Key": key }))
}

/// Where result files go.
struct Destination<'a> {
    store: &'a dyn ObjectStore,
    bucket: &'a str,
    directory: &'a str,
    json_lines: bool,
    /// The directory of the temporary files.
    spool: &'a Path,
    max_file_bytes: u64,
}

impl Destination<'_> {
    async fn put(&self, key: &str, body: bytes::Bytes) -> Result<(), String> {
        self.store.put_object(self.bucket, key, body, json_attributes()).await.map(drop).map_err(|error| described(&error))
    }
}

fn json_attributes() -> Attributes {
    Attributes { content_type: Some("application/json".into()), ..Attributes::default() }
}

fn described(error: &crate::ObjectError) -> String {
    format!("{error} (Service: S3, Status Code: {}, Error Code: {})", error.status(), error.code())
}

/// The result files of one status (`SUCCEEDED_0.json`, `SUCCEEDED_1.json`, ...).
struct ResultFiles {
    status: &'static str,
    /// The manifest's entries of the files uploaded.
    uploaded: Vec<Value>,
    open: Option<Spool>,
}

/// A result file being written to a temporary file.
struct Spool {
    path: PathBuf,
    file: BufWriter<std::fs::File>,
    size: u64,
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Uploaded or abandoned, the temporary file has served.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl ResultFiles {
    fn new(status: &'static str) -> ResultFiles {
        ResultFiles { status, uploaded: Vec::new(), open: None }
    }

    /// Adds a result (JSON text).
    async fn append(&mut self, destination: &Destination<'_>, text: &str) -> Result<(), String> {
        // Separator and closing bracket of a JSON array, or the line's newline.
        let needed = text.len() as u64 + if destination.json_lines { 1 } else { 2 };
        if self.open.as_ref().is_some_and(|spool| spool.size + needed > destination.max_file_bytes) {
            self.upload(destination).await?;
        }
        let spool = match &mut self.open {
            Some(spool) => spool,
            None => self.open.insert(Spool::create(destination.spool)?),
        };
        let separator: &[u8] = match (destination.json_lines, spool.size) {
            (true, _) => b"",
            (false, 0) => b"[",
            (false, _) => b",",
        };
        let terminator: &[u8] = if destination.json_lines { b"\n" } else { b"" };
        for piece in [separator, text.as_bytes(), terminator] {
            spool.file.write_all(piece).map_err(|error| format!("spooling results: {error}"))?;
            spool.size += piece.len() as u64;
        }
        Ok(())
    }

    /// Uploads the open file as the next of this status.
    async fn upload(&mut self, destination: &Destination<'_>) -> Result<(), String> {
        let Some(mut spool) = self.open.take() else { return Ok(()) };
        if !destination.json_lines {
            spool.file.write_all(b"]").map_err(|error| format!("spooling results: {error}"))?;
            spool.size += 1;
        }
        spool.file.flush().map_err(|error| format!("spooling results: {error}"))?;
        let extension = if destination.json_lines { "jsonl" } else { "json" };
        let key = format!("{}/{}_{}.{extension}", destination.directory, self.status, self.uploaded.len());
        let file = tokio::fs::File::open(&spool.path).await.map_err(|error| format!("reading spooled results: {error}"))?;
        let body = Box::pin(tokio_util::io::ReaderStream::new(file));
        destination.store.put_object_streamed(destination.bucket, &key, body, json_attributes()).await.map_err(|error| described(&error))?;
        self.uploaded.push(json!({ "Key": key, "Size": spool.size }));
        Ok(())
    }

    /// Uploads what is left; answers the manifest's entries.
    async fn finish(mut self, destination: &Destination<'_>) -> Result<Vec<Value>, String> {
        self.upload(destination).await?;
        Ok(self.uploaded)
    }
}

impl Spool {
    fn create(directory: &Path) -> Result<Spool, String> {
        let path = directory.join(format!("results-{}.part", uuid::Uuid::new_v4()));
        let file = std::fs::File::create(&path).map_err(|error| format!("spooling results in {}: {error}", directory.display()))?;
        Ok(Spool { path, file: BufWriter::new(file), size: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Objects;
    use std::sync::Arc;
    use store::{ExecutionRecord, MemoryStore, Store, Write};

    const RUN: &str = "arn:aws:states:us-east-1:1:mapRun:m/Map:run-id";

    /// A Map Run's children as the engine stores them.
    fn stored_children() -> Arc<dyn Store> {
        let store = MemoryStore::new();
        let child = |name: &str, status: &str, start_ms: i64, body: Value| ExecutionRecord {
            arn: format!("arn:aws:states:us-east-1:1:execution:m/Map:{name}"),
            state_machine_arn: RUN.into(),
            name: name.into(),
            status: status.into(),
            start_ms,
            stop_ms: (status != "RUNNING").then_some(start_ms + 1),
            body: body.to_string(),
        };
        let machine = "arn:aws:states:us-east-1:1:stateMachine:m/Map";
        let writes = vec![
            child("a", "SUCCEEDED", 1, json!({"definition": "", "input": "[1,2]", "output": "[1,2]", "stateMachineArn": machine})),
            child("b", "FAILED", 2, json!({"definition": "", "input": "9", "error": "TooBig", "cause": "no", "stateMachineArn": machine})),
            child("c", "SUCCEEDED", 3, json!({"definition": "", "input": "3", "output": "3", "stateMachineArn": machine})),
        ];
        store.submit(writes.into_iter().map(Write::PutExecution).collect(), Box::new(|outcome| outcome.unwrap()));
        Arc::new(store)
    }

    async fn read(objects: &Arc<Objects>, key: &str) -> String {
        use futures::TryStreamExt;
        let (_, body) = objects.get_object("out", key, None).await.unwrap();
        let chunks: Vec<bytes::Bytes> = body.try_collect().await.unwrap();
        String::from_utf8(chunks.concat()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn results_are_exported_by_status_and_split_past_the_file_limit() {
        let root = std::env::temp_dir().join(format!("objects-results-{}", uuid::Uuid::new_v4()));
        let objects = Arc::new(Objects::open(&root.join("objects")).unwrap());
        objects.create_bucket("out").unwrap();
        let spool = root.join("spool");
        std::fs::create_dir_all(&spool).unwrap();
        let children = MapRunResults::new(stored_children());

        let request = json!({"Parameters": {"Bucket": "out", "Prefix": "p/"}, "MapRunArn": RUN, "OutputType": "JSON", "Transformation": "FLATTEN"});
        let written = export(&objects, &children, &request, &spool, MAX_RESULT_FILE_BYTES).await.unwrap();
        assert_eq!(written, json!({"Bucket": "out", "Key": "p/run-id/manifest.json"}));
        assert_eq!(read(&objects, "p/run-id/SUCCEEDED_0.json").await, "[1,2,3]");
        let failed: Value = serde_json::from_str(&read(&objects, "p/run-id/FAILED_0.json").await).unwrap();
        assert_eq!((failed[0]["Status"].clone(), failed[0]["Error"].clone(), failed[0]["Cause"].clone(), failed[0]["Input"].clone()), (json!("FAILED"), json!("TooBig"), json!("no"), json!("9")));
        let manifest: Value = serde_json::from_str(&read(&objects, "p/run-id/manifest.json").await).unwrap();
        assert_eq!(manifest["ResultFiles"]["SUCCEEDED"], json!([{"Key": "p/run-id/SUCCEEDED_0.json", "Size": 7}]));

        // "[1,2]\n" and "3\n" do not fit in 7 bytes together.
        let request = json!({"Parameters": {"Bucket": "out"}, "MapRunArn": RUN, "OutputType": "JSONL", "Transformation": "COMPACT"});
        export(&objects, &children, &request, &spool, 7).await.unwrap();
        assert_eq!(read(&objects, "run-id/SUCCEEDED_0.jsonl").await, "[1,2]\n");
        assert_eq!(read(&objects, "run-id/SUCCEEDED_1.jsonl").await, "3\n");
        assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "the spooled files are gone");
        std::fs::remove_dir_all(root).unwrap();
    }
}
