//! The Lambda REST API's shapes: paths, status codes, headers and error bodies as the AWS SDKs
//! read them, over a function catalog in a memory store and a runner that plays the function.

use api::{router, ApiState};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use compute::{Cancellation, FailureKind, FunctionError, FunctionRunner, FunctionSet, FunctionSpec, Invocation, Outcome};
use engine::catalog::Catalog;
use engine::functions::{Functions, FunctionsConfig};
use engine::runtime::{Runtime, RuntimeConfig};
use engine::TaskDispatcher;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use store::MemoryStore;
use tower::ServiceExt;

const FUNCTIONS: &str = "/2015-03-31/functions";
const ROLE: &str = "arn:aws:iam::000000000000:role/lambda";

/// Echoes the event, raises for `{"raise": true}`, throttles functions reserved to 0.
struct PlayedFunction;

impl FunctionRunner for PlayedFunction {
    fn invoke(&self, spec: &FunctionSpec, payload: &Value, _: &Cancellation) -> Invocation {
        let request_id = uuid::Uuid::new_v4().to_string();
        let logs = format!("START RequestId: {request_id} Version: $LATEST\nhandled {payload}\nEND RequestId: {request_id}\n");
        let (outcome, body) = if spec.concurrency.reserved == Some(0) {
            (Outcome::Throttled, String::new())
        } else if payload.get("raise").is_some() {
            let document = json!({"errorMessage": "boom", "errorType": "ValueError", "requestId": request_id, "stackTrace": []}).to_string();
            let error = FunctionError { kind: FailureKind::Handler, error_type: "ValueError".into(), error_message: "boom".into(), payload: document.clone() };
            (Outcome::Failed(error), document)
        } else {
            (Outcome::Returned(payload.clone()), payload.to_string())
        };
        Invocation { request_id, outcome, payload: body, logs, log_stream_name: String::new() }
    }
}

struct NoTasks;

impl TaskDispatcher for NoTasks {
    fn run(&self, request: &asl::interpreter::TaskRequest, _: &engine::TaskContext) -> Result<Value, asl::Failure> {
        Err(asl::Failure::new("Unsupported", request.resource.clone()))
    }
}

struct Lambda {
    router: Router,
}

struct Answer {
    status: StatusCode,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

impl Lambda {
    fn new() -> Lambda {
        let store = Arc::new(MemoryStore::new());
        let data_dir = std::env::temp_dir().join(format!("switchyard-lambda-api-{}", uuid::Uuid::new_v4()));
        let config = FunctionsConfig { region: "us-east-1".into(), account: "000000000000".into(), data_dir: Some(data_dir), endpoint: None, external_s3: None };
        let functions = Arc::new(Functions::open(store.clone(), config, FunctionSet::new(), Arc::new(PlayedFunction)).expect("functions"));
        let catalog = Arc::new(Catalog::open(store.clone(), "us-east-1", "000000000000").expect("catalog"));
        let runtime = Arc::new(Runtime::open(store.clone(), Arc::new(NoTasks), RuntimeConfig::default()).expect("runtime"));
        let deployments = Arc::new(api::deployments::Deployments::open(store.clone(), 0, Default::default()).expect("deployments"));
        let batch = batch::Batch::open(store, batch::BatchConfig::new(std::env::temp_dir()), Default::default()).expect("batch");
        Lambda { router: router(ApiState { catalog, runtime, functions, deployments, ecs: None, batch, s3: None }) }
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Answer {
        let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(Body::from(body.into())).expect("request")).await.expect("response");
        let status = response.status();
        let headers =
            response.headers().iter().map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned())).collect();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").to_vec();
        Answer { status, headers, body }
    }

    async fn create(&self, name: &str) -> Answer {
        let request = json!({
            "FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
            "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(zip_of("def handler(e, c): return e\n")) },
            "Environment": { "Variables": { "STAGE": "test" } },
        });
        self.send("POST", FUNCTIONS, &[], request.to_string()).await
    }

    async fn invoke(&self, name: &str, headers: &[(&str, &str)], payload: &str) -> Answer {
        self.send("POST", &format!("{FUNCTIONS}/{name}/invocations"), headers, payload).await
    }
}

fn zip_of(text: &str) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut bytes);
    writer.start_file("app.py", zip::write::SimpleFileOptions::default()).expect("entry");
    writer.write_all(text.as_bytes()).expect("write");
    writer.finish().expect("finish");
    bytes.into_inner()
}

/// The error code and message of a failed call, checked to come as Lambda sends them.
fn error(answer: &Answer, status: StatusCode) -> (String, String) {
    assert_eq!(answer.status, status, "{}", String::from_utf8_lossy(&answer.body));
    let body = answer.json();
    assert_eq!(body["Type"], if status.is_server_error() { "Service" } else { "User" });
    let message = body.get("Message").or_else(|| body.get("message")).and_then(Value::as_str).unwrap_or_default().to_owned();
    (answer.header("x-amzn-errortype").unwrap_or_default().to_owned(), message)
}

#[tokio::test]
async fn create_answers_201_with_the_function_configuration() {
    let lambda = Lambda::new();
    let created = lambda.create("echo").await;
    assert_eq!(created.status, StatusCode::CREATED);
    let configuration = created.json();
    assert_eq!(configuration["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:echo");
    assert_eq!(configuration["Version"], "$LATEST");
    assert_eq!(configuration["State"], "Active");
    assert_eq!(configuration["PackageType"], "Zip");
    assert_eq!(configuration["Environment"], json!({"Variables": {"STAGE": "test"}}));
    let zip = zip_of("def handler(e, c): return e\n");
    let digest = base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(&zip));
    assert_eq!(configuration["CodeSha256"], digest);
    assert_eq!(configuration["CodeSize"], zip.len());
    let again = lambda.create("echo").await;
    assert_eq!(error(&again, StatusCode::CONFLICT), ("ResourceConflictException".into(), "Function already exist: echo".into()));
}

#[tokio::test]
async fn requests_are_checked_in_lambda_words() {
    let lambda = Lambda::new();
    let not_zip = json!({"FunctionName": "bad", "Runtime": "python3.12", "Role": ROLE, "Handler": "a.b", "Code": {"ZipFile": "bm90IGEgemlw"}});
    let (code, message) = error(&lambda.send("POST", FUNCTIONS, &[], not_zip.to_string()).await, StatusCode::BAD_REQUEST);
    assert_eq!((code.as_str(), message.as_str()), ("InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again."));
    let zero_timeout = json!({"FunctionName": "bad", "Role": ROLE, "Code": {"ZipFile": ""}, "Timeout": 0});
    let (code, message) = error(&lambda.send("POST", FUNCTIONS, &[], zero_timeout.to_string()).await, StatusCode::BAD_REQUEST);
    assert_eq!(code, "ValidationException");
    assert_eq!(message, "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1");
}

#[tokio::test]
async fn missing_functions_are_404_resource_not_found() {
    let lambda = Lambda::new();
    for (method, path) in [("GET", format!("{FUNCTIONS}/nope")), ("DELETE", format!("{FUNCTIONS}/nope")), ("POST", format!("{FUNCTIONS}/nope/invocations"))] {
        let (code, message) = error(&lambda.send(method, &path, &[], "{}").await, StatusCode::NOT_FOUND);
        assert_eq!(code, "ResourceNotFoundException", "{method} {path}");
        assert_eq!(message, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
    }
}

#[tokio::test]
async fn get_list_and_delete() {
    let lambda = Lambda::new();
    for name in ["a", "b", "c"] {
        lambda.create(name).await;
    }
    let got = lambda.send("GET", &format!("{FUNCTIONS}/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ab"), &[("host", "example:1")], "").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json()["Configuration"]["FunctionName"], "b");
    assert_eq!(got.json()["Code"], json!({"RepositoryType": "S3", "Location": "http://example:1/switchyard/functions/b/code.zip"}));
    let zip = lambda.send("GET", "/switchyard/functions/b/code.zip", &[], "").await;
    assert_eq!(zip.body, zip_of("def handler(e, c): return e\n"));
    let page = lambda.send("GET", &format!("{FUNCTIONS}/?MaxItems=2"), &[], "").await.json();
    assert_eq!(page["Functions"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["NextMarker"], "c");
    let rest = lambda.send("GET", &format!("{FUNCTIONS}/?Marker=c"), &[], "").await.json();
    assert_eq!(rest["Functions"][0]["FunctionName"], "c");
    assert!(rest.get("NextMarker").is_none());
    assert_eq!(lambda.send("DELETE", &format!("{FUNCTIONS}/b"), &[], "").await.status, StatusCode::NO_CONTENT);
    assert_eq!(lambda.send("GET", &format!("{FUNCTIONS}/b/configuration"), &[], "").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invoke_answers_the_payload_with_lambda_headers() {
    let lambda = Lambda::new();
    lambda.create("echo").await;
    let answer = lambda.invoke("echo", &[("x-amz-log-type", "Tail")], r#"{"n": 1}"#).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"n": 1}));
    assert_eq!(answer.header("x-amz-executed-version"), Some("$LATEST"));
    assert_eq!(answer.header("x-amz-function-error"), None);
    let request_id = answer.header("x-amzn-requestid").unwrap_or_default();
    let logs = base64::engine::general_purpose::STANDARD.decode(answer.header("x-amz-log-result").unwrap_or_default()).expect("base64");
    assert!(String::from_utf8_lossy(&logs).starts_with(&format!("START RequestId: {request_id} ")));
    let failed = lambda.invoke("echo", &[], r#"{"raise": true}"#).await;
    assert_eq!(failed.status, StatusCode::OK);
    assert_eq!(failed.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(failed.json()["errorType"], "ValueError");
    assert!(failed.header("x-amz-log-result").is_none());
}

#[tokio::test]
async fn event_and_dry_run_invocations_answer_without_a_body() {
    let lambda = Lambda::new();
    lambda.create("echo").await;
    let event = lambda.invoke("echo", &[("x-amz-invocation-type", "Event")], "{}").await;
    assert_eq!((event.status, event.body.len()), (StatusCode::ACCEPTED, 0));
    let dry = lambda.invoke("echo", &[("x-amz-invocation-type", "DryRun")], "{}").await;
    assert_eq!((dry.status, dry.body.len()), (StatusCode::NO_CONTENT, 0));
    let legacy = lambda.send("POST", "/2014-11-13/functions/echo/invoke-async/", &[], "{}").await;
    assert_eq!((legacy.status, legacy.json()), (StatusCode::ACCEPTED, json!({"Status": 202})));
}

#[tokio::test]
async fn invoke_refuses_what_is_not_json_and_unknown_qualifiers() {
    let lambda = Lambda::new();
    lambda.create("echo").await;
    let (code, message) = error(&lambda.invoke("echo", &[], "{not json").await, StatusCode::BAD_REQUEST);
    assert_eq!(code, "InvalidRequestContentException");
    assert!(message.starts_with("Could not parse request body into json: "), "{message}");
    let (code, message) = error(&lambda.send("POST", &format!("{FUNCTIONS}/echo/invocations?Qualifier=7"), &[], "{}").await, StatusCode::NOT_FOUND);
    assert_eq!((code.as_str(), message.as_str()), ("ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:echo:7"));
    assert_eq!(lambda.send("POST", &format!("{FUNCTIONS}/echo/invocations?Qualifier=%24LATEST"), &[], "{}").await.status, StatusCode::OK);
}

#[tokio::test]
async fn reserved_concurrency_is_set_read_and_throttles_with_a_reason() {
    let lambda = Lambda::new();
    lambda.create("echo").await;
    assert_eq!(lambda.send("GET", "/2019-09-30/functions/echo/concurrency", &[], "").await.json(), json!({}));
    let put = lambda.send("PUT", "/2017-10-31/functions/echo/concurrency", &[], r#"{"ReservedConcurrentExecutions": 0}"#).await;
    assert_eq!(put.json(), json!({"ReservedConcurrentExecutions": 0}));
    let throttled = lambda.invoke("echo", &[], "{}").await;
    assert_eq!(error(&throttled, StatusCode::TOO_MANY_REQUESTS), ("TooManyRequestsException".into(), "Rate Exceeded.".into()));
    assert_eq!(throttled.json()["Reason"], "ReservedFunctionConcurrentInvocationLimitExceeded");
    assert_eq!(lambda.send("DELETE", "/2017-10-31/functions/echo/concurrency", &[], "").await.status, StatusCode::NO_CONTENT);
    assert_eq!(lambda.invoke("echo", &[], "{}").await.status, StatusCode::OK);
}

#[tokio::test]
async fn updates_answer_the_new_configuration_and_check_revisions() {
    let lambda = Lambda::new();
    let created = lambda.create("echo").await.json();
    let update = json!({"Timeout": 9, "Environment": {"Variables": {}}, "RevisionId": created["RevisionId"]});
    let updated = lambda.send("PUT", &format!("{FUNCTIONS}/echo/configuration"), &[], update.to_string()).await.json();
    assert_eq!(updated["Timeout"], 9);
    assert!(updated.get("Environment").is_none());
    let stale = json!({"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip_of("v2")), "RevisionId": created["RevisionId"]});
    let (code, _) = error(&lambda.send("PUT", &format!("{FUNCTIONS}/echo/code"), &[], stale.to_string()).await, StatusCode::PRECONDITION_FAILED);
    assert_eq!(code, "PreconditionFailedException");
}
