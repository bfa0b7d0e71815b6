//! The AWS-compatible APIs over HTTP, on one port.
//!
//! Step Functions speaks AWS JSON 1.0: every call is a `POST /` with
//! `X-Amz-Target: AWSStepFunctions.<Action>` and a JSON body, answered with JSON of content type
//! `application/x-amz-json-1.0`, or with HTTP 400 and `{"__type", "message"}`. Routing looks at
//! neither the path nor the Host: SDKs prefix the host with `sync-` for StartSyncExecution.
//!
//! ```ignore
//! let state = api::ApiState { catalog, runtime, functions, deployments, ecs: None, batch, s3: None };
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:8083").await?, api::router(state)).await?;
//! ```

mod arn;
mod batch;
mod constraints;
pub mod deployments;
mod ecs;
mod error;
mod lambda;
mod pagination;
mod s3;
mod server;
mod sfn;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use engine::catalog::Catalog;
use engine::functions::Functions;
use engine::runtime::Runtime;
use serde_json::json;
use std::sync::Arc;

pub use error::ApiError;
pub use s3::S3Endpoint;
pub use server::serve;

/// What the API serves: the catalog (state machines, activities, tags), the runtime
/// (executions, activity tasks) and the Lambda functions of one region and account.
#[derive(Clone)]
pub struct ApiState {
    pub catalog: Arc<Catalog>,
    pub runtime: Arc<Runtime>,
    pub functions: Arc<Functions>,
    /// Deployed Serverless projects: their HTTP routes and schedules.
    pub deployments: Arc<deployments::Deployments>,
    /// ECS container tasks; `None` where the server runs none.
    pub ecs: Option<Arc<::ecs::Ecs>>,
    /// AWS Batch: `/v1/...` REST paths.
    pub batch: Arc<::batch::Batch>,
    /// The embedded S3 store, when this server serves one.
    pub s3: Option<S3Endpoint>,
}

/// Bodies up to this size are read, so that the model's own limits (1 MiB definitions, 256 KiB
/// payloads, before JSON escaping) are reported as AWS reports them.
const MAX_BODY_BYTES: usize = 8 << 20;
const JSON_1_0: &str = "application/x-amz-json-1.0";
const JSON_1_1: &str = "application/x-amz-json-1.1";
const STEP_FUNCTIONS_TARGET: &str = "AWSStepFunctions.";
const ECS_TARGET: &str = "AmazonEC2ContainerServiceV20141113.";

pub fn router(state: ApiState) -> Router {
    let s3 = state.s3.clone();
    Router::new()
        .route("/", post(handle))
        // REST paths: Batch.
        .route("/v1/{operation}", post(batch::handle))
        .merge(deployments::router())
        // Unsigned requests to any other path are for the routes of deployed `http` events.
        .fallback(deployments::routes::serve)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // REST paths: Lambda (with its own body limit, for zip uploads).
        .merge(lambda::routes())
        .with_state(state)
        // S3 is recognised before any route: see `s3`.
        .layer(axum::middleware::from_fn_with_state(s3, s3::route))
}

async fn handle(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|target| target.to_str().ok()).unwrap_or_default();
    let (outcome, content_type) = if let Some(action) = target.strip_prefix(STEP_FUNCTIONS_TARGET) {
        (sfn::call(&state, action, &body).await, JSON_1_0)
    } else if let Some(action) = target.strip_prefix(ECS_TARGET) {
        (ecs::call(&state, action, &body).await, JSON_1_1)
    } else {
        (Err(ApiError::unknown_operation(target)), JSON_1_0)
    };
    let (status, body) = match outcome {
        Ok(answer) => (StatusCode::OK, answer),
        Err(error) => (error.status, json!({ "__type": error.error_type, "message": error.message })),
    };
    let headers = [("content-type", content_type.to_owned()), ("x-amzn-requestid", uuid::Uuid::new_v4().to_string())];
    (status, headers, body.to_string()).into_response()
}
