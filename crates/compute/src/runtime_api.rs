//! The AWS Lambda Runtime API, as one execution environment sees it at `AWS_LAMBDA_RUNTIME_API`.
//!
//! Every environment gets an endpoint of its own (Lambda's is per sandbox too, and the API has no
//! way to name the caller): the runtime inside polls `GET /2018-06-01/runtime/invocation/next`,
//! which answers with the next [`Job`] once the runner submits one, and posts the handler's result
//! to `.../{id}/response`, its error to `.../{id}/error`, or a failed start to
//! `/2018-06-01/runtime/init/error`. What the runtime says reaches the blocking runner as
//! [`RuntimeEvent`]s.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::runtime::Handle;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::AbortHandle;

/// Lambda's limit on a synchronous invocation's response, in bytes.
const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// The header naming the kind of error a runtime reports (`Unhandled`, `Runtime.ImportModuleError`).
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// One invocation, as `next` hands it to the runtime.
pub(crate) struct Job {
    pub request_id: String,
    /// The event, serialized.
    pub event: Bytes,
    /// The function's timeout, counted from when the runtime takes the job.
    pub timeout: Duration,
    pub invoked_function_arn: String,
    pub trace_id: String,
}

/// What the runtime inside an environment did.
#[derive(Debug)]
pub(crate) enum RuntimeEvent {
    /// It took the job `request_id`: its initialization is over, the handler runs.
    Delivered { request_id: String, at: Instant },
    /// It answered `request_id` with this result.
    Responded { request_id: String, body: Bytes },
    /// It reports that `request_id` failed, with this error document.
    Failed { request_id: String, body: Bytes, error_type: Option<String> },
    /// It could not start (its handler did not load), with this error document.
    InitFailed { body: Bytes },
}

/// A running endpoint; stops serving when dropped.
pub(crate) struct Endpoint {
    address: SocketAddr,
    jobs: UnboundedSender<Job>,
    events: Receiver<RuntimeEvent>,
    server: AbortHandle,
}

struct Shared {
    jobs: tokio::sync::Mutex<UnboundedReceiver<Job>>,
    /// The request the runtime is working on: responses for any other are refused.
    current: Mutex<Option<String>>,
    events: Sender<RuntimeEvent>,
}

impl Endpoint {
    /// Listens on a fresh loopback port and serves on `runtime`.
    pub fn start(runtime: &Handle) -> io::Result<Endpoint> {
        let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (jobs, pending) = unbounded_channel();
        let (events_sender, events) = mpsc::channel();
        let shared = Arc::new(Shared { jobs: tokio::sync::Mutex::new(pending), current: Mutex::new(None), events: events_sender });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{request_id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{request_id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(fail_init))
            // Responses past Lambda's limit are answered with Lambda's error, not refused unread.
            .layer(DefaultBodyLimit::disable())
            .with_state(shared);
        let server = runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            // Nagle plus delayed ACKs would add ~40 ms to every small request/response pair.
            let listener = listener.tap_io(|stream| {
                let _ = stream.set_nodelay(true);
            });
            // Serving ends only when the endpoint is dropped (the task is aborted).
            let _ = axum::serve(listener, app).await;
        });
        Ok(Endpoint { address, jobs, events, server: server.abort_handle() })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Queues a job for the runtime's next `next`; false only once the endpoint is gone.
    pub fn submit(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }

    pub fn events(&self) -> &Receiver<RuntimeEvent> {
        &self.events
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Shared {
    fn report(&self, event: RuntimeEvent) {
        // The runner may have given up on the environment already; then nobody listens.
        let _ = self.events.send(event);
    }

    /// Ends the current request if it is `request_id`.
    fn finish(&self, request_id: &str) -> bool {
        let Ok(mut current) = self.current.lock() else {
            return false;
        };
        if current.as_deref() == Some(request_id) {
            *current = None;
            true
        } else {
            false
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let job = shared.jobs.lock().await.recv().await;
    let Some(job) = job else {
        return error_response(StatusCode::GONE, "Runtime.Shutdown", "the execution environment is shutting down");
    };
    if let Ok(mut current) = shared.current.lock() {
        *current = Some(job.request_id.clone());
    }
    shared.report(RuntimeEvent::Delivered { request_id: job.request_id.clone(), at: Instant::now() });
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &job.request_id);
    set("lambda-runtime-deadline-ms", &epoch_millis(SystemTime::now() + job.timeout).to_string());
    set("lambda-runtime-invoked-function-arn", &job.invoked_function_arn);
    set("lambda-runtime-trace-id", &job.trace_id);
    (headers, job.event).into_response()
}

async fn respond(State(shared): State<Arc<Shared>>, Path(request_id): Path<String>, body: Bytes) -> Response {
    if !shared.finish(&request_id) {
        return invalid_request_id(&request_id);
    }
    if body.len() > MAX_RESPONSE_BYTES {
        let message = format!("Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).");
        let error_type = "Function.ResponseSizeTooLarge";
        let document = serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string();
        shared.report(RuntimeEvent::Failed { request_id, body: Bytes::from(document), error_type: Some(error_type.to_string()) });
        return error_response(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", &message);
    }
    shared.report(RuntimeEvent::Responded { request_id, body });
    accepted()
}

async fn fail(State(shared): State<Arc<Shared>>, Path(request_id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if !shared.finish(&request_id) {
        return invalid_request_id(&request_id);
    }
    let error_type = headers.get(ERROR_TYPE_HEADER).and_then(|value| value.to_str().ok()).map(str::to_string);
    shared.report(RuntimeEvent::Failed { request_id, body, error_type });
    accepted()
}

async fn fail_init(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.report(RuntimeEvent::InitFailed { body });
    accepted()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, [("content-type", "application/json")], r#"{"status":"OK"}"#).into_response()
}

fn invalid_request_id(request_id: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "InvalidRequestID", &format!("Invalid request ID: {request_id:?} is not the invocation in progress"))
}

fn error_response(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string();
    (status, [("content-type", "application/json")], body).into_response()
}

fn epoch_millis(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since_epoch| since_epoch.as_millis())
}
