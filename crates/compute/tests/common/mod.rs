//! Helpers shared by the tests that run real interpreters.
// Each test binary uses its own part of them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use compute::{Cancellation, Concurrency, FunctionError, FunctionRunner, FunctionSpec, HandlerSource, Invocation, Outcome, ProcessRunner, Runtime};
use serde_json::Value;

pub const ARN: &str = "arn:aws:lambda:eu-west-1:111111111111:function:probe";

pub fn spec(runtime: &str, handler: &str, source: HandlerSource) -> FunctionSpec {
    FunctionSpec {
        name: "probe".to_string(),
        arn: ARN.to_string(),
        runtime: Runtime::parse(runtime).expect("known runtime"),
        handler: handler.to_string(),
        source,
        timeout_seconds: 10,
        memory_mb: 256,
        environment: BTreeMap::new(),
        concurrency: Concurrency::default(),
    }
}

pub fn invoke(spec: &FunctionSpec, payload: Value) -> Invocation {
    ProcessRunner::new().invoke(spec, &payload, &Cancellation::new())
}

pub fn returned(invocation: &Invocation) -> &Value {
    match &invocation.outcome {
        Outcome::Returned(value) => value,
        other => panic!("expected a result, got {other:?} (logs: {})", invocation.logs),
    }
}

pub fn failed(invocation: &Invocation) -> &FunctionError {
    match &invocation.outcome {
        Outcome::Failed(error) => error,
        other => panic!("expected a failure, got {other:?} (logs: {})", invocation.logs),
    }
}

/// The error document, parsed, for the fields whose exact text does not matter.
pub fn document(error: &FunctionError) -> Value {
    serde_json::from_str(&error.payload).expect("error payloads are JSON")
}

/// A code directory that disappears with the test.
pub struct CodeDir(PathBuf);

impl CodeDir {
    pub fn new(files: &[(&str, &str)]) -> CodeDir {
        let root = std::env::temp_dir().join(format!("switchyard-compute-{}", uuid::Uuid::new_v4()));
        for (name, text) in files {
            let path = root.join(name);
            fs::create_dir_all(path.parent().expect("files live in the directory")).expect("create the code directory");
            fs::write(path, text).expect("write a source file");
        }
        CodeDir(root)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn source(&self) -> HandlerSource {
        HandlerSource::Directory(self.0.clone())
    }
}

impl Drop for CodeDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
