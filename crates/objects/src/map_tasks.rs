//! The host side of a distributed Map's S3 I/O, served to the interpreter as the `s3` service:
//! `arn:aws:states:::s3:getObject` and `...:s3:listObjectsV2` read a page of an ItemReader's
//! items ([`items`](crate::items)), `arn:aws:states:::s3:putObject` writes a ResultWriter's
//! results ([`results`](crate::results)).

use crate::items::read_page;
use crate::results::write_results;
use crate::ObjectStore;
use asl::failure::names;
use asl::interpreter::{Integration, TaskRequest};
use asl::Failure;
use engine::runtime::MapRunResults;
use engine::{TaskContext, TaskDispatcher};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct MapDataTasks {
    store: Arc<dyn ObjectStore>,
    /// The stored child executions whose results a ResultWriter exports.
    children: MapRunResults,
    /// Where result files are put together before they are uploaded.
    spool: PathBuf,
    /// Requests run on worker threads; the store's calls are async.
    runtime: tokio::runtime::Handle,
}

impl MapDataTasks {
    /// Empties `spool` (of what an interrupted export left) or creates it.
    pub fn open(store: Arc<dyn ObjectStore>, children: MapRunResults, spool: &Path, runtime: tokio::runtime::Handle) -> std::io::Result<MapDataTasks> {
        if spool.exists() {
            std::fs::remove_dir_all(spool)?;
        }
        std::fs::create_dir_all(spool)?;
        Ok(MapDataTasks { store, children, spool: spool.to_owned(), runtime })
    }

    async fn call(&self, action: &str, parameters: &Value) -> Result<Value, Failure> {
        match action {
            "getObject" | "listObjectsV2" => {
                let limit = parameters.get("Limit").and_then(Value::as_u64).map_or(1000, |limit| limit as usize);
                let (items, cursor) = read_page(self.store.as_ref(), &parameters["Reader"], &parameters["Cursor"], limit)
                    .await
                    .map_err(|failure| Failure::new(names::ITEM_READER_FAILED, failure.0))?;
                Ok(json!({ "Items": items, "Cursor": cursor }))
            }
            "putObject" => write_results(self.store.as_ref(), &self.children, parameters, &self.spool).await.map_err(|cause| Failure::new(names::RESULT_WRITER_FAILED, cause)),
            other => Err(Failure::new(names::RUNTIME, format!("'arn:aws:states:::s3:{other}' is not an ItemReader or ResultWriter resource"))),
        }
    }
}

impl TaskDispatcher for MapDataTasks {
    fn run(&self, request: &TaskRequest, _context: &TaskContext) -> Result<Value, Failure> {
        let Integration::Service { action, .. } = &request.integration else {
            return Err(Failure::new(names::RUNTIME, format!("'{}' is not a distributed Map resource", request.resource)));
        };
        self.runtime.block_on(self.call(action, &request.parameters))
    }
}
