//! Drives the API's router in process, over a catalog kept in a memory store.

#![allow(dead_code)]

use api::deployments::schedules::MissedRuns;
use api::deployments::Deployments;
use api::{router, ApiState};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use engine::catalog::Catalog;
use engine::functions::Functions;
use engine::runtime::Runtime;
use serde_json::{json, Value};
use std::sync::Arc;
use asl::interpreter::TaskRequest;
use asl::Failure;
use engine::runtime::RuntimeConfig;
use engine::TaskDispatcher;
use store::MemoryStore;
use tower::ServiceExt;

pub const ROLE: &str = "arn:aws:iam::123456789012:role/test";
pub const PREFIX: &str = "arn:aws:states:us-east-1:000000000000:";

/// The one place that builds a runtime, over the same store as the catalog.
fn runtime(store: Arc<MemoryStore>) -> Arc<Runtime> {
    Arc::new(Runtime::open(store, Arc::new(NoTasks), RuntimeConfig::default()).unwrap())
}

/// Tasks are not what these tests are about.
struct NoTasks;

impl TaskDispatcher for NoTasks {
    fn run(&self, request: &TaskRequest, _context: &engine::TaskContext) -> Result<Value, Failure> {
        Err(Failure::new("Unsupported", request.resource.clone()))
    }
}

pub struct Api {
    router: Router,
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub request_id: String,
    pub body: Value,
}

impl Api {
    pub fn new() -> Api {
        let store = Arc::new(MemoryStore::new());
        let catalog = Catalog::open(store.clone(), "us-east-1", "000000000000").unwrap();
        let deployments = Arc::new(Deployments::open(store.clone(), 0, MissedRuns::default()).unwrap());
        let functions = Arc::new(Functions::declared_only(compute::FunctionSet::new(), Arc::new(compute::ProcessRunner::new())));
        let batch = batch::Batch::open(store.clone(), batch::BatchConfig::new(std::env::temp_dir()), Default::default()).unwrap();
        Api { router: router(ApiState { catalog: Arc::new(catalog), runtime: runtime(store), functions, deployments, ecs: None, batch, s3: None }) }
    }

    /// POSTs `body` with the given X-Amz-Target (none when `None`) and Host.
    pub async fn send(&self, target: Option<&str>, host: &str, body: &str) -> Answer {
        let mut request = Request::post("/").header("content-type", "application/x-amz-json-1.0").header("host", host);
        if let Some(target) = target {
            request = request.header("x-amz-target", target);
        }
        let response = self.router.clone().oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
        let header = |name: &str| response.headers().get(name).map(|value| value.to_str().unwrap().to_owned()).unwrap_or_default();
        let (status, content_type, request_id) = (response.status(), header("content-type"), header("x-amzn-requestid"));
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Answer { status, content_type, request_id, body: serde_json::from_slice(&bytes).unwrap() }
    }

    pub async fn call(&self, action: &str, body: Value) -> Answer {
        self.send(Some(&format!("AWSStepFunctions.{action}")), "127.0.0.1:8083", &body.to_string()).await
    }

    /// The answer of a call that must succeed.
    pub async fn ok(&self, action: &str, body: Value) -> Value {
        let answer = self.call(action, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{action}: {}", answer.body);
        answer.body
    }

    /// The error code (what SDKs read from `__type`) and message of a call that must fail with 400.
    pub async fn error(&self, action: &str, body: Value) -> (String, String) {
        let answer = self.call(action, body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{action}: {}", answer.body);
        error_of(&answer.body)
    }

    pub async fn create(&self, name: &str, definition: &Value) -> String {
        let created = self.ok("CreateStateMachine", json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE})).await;
        created["stateMachineArn"].as_str().unwrap().to_owned()
    }
}

pub fn error_of(body: &Value) -> (String, String) {
    let error_type = body["__type"].as_str().unwrap();
    let code = error_type.rsplit('#').next().unwrap().to_owned();
    (code, body["message"].as_str().unwrap().to_owned())
}

pub fn pass() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})
}

pub fn pass_result() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 2, "End": true}}})
}
