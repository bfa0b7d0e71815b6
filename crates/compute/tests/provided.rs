//! `provided` runtimes: the code's own `bootstrap` speaks the Runtime API. Run here with the real
//! clients users bring: AWS's Python runtime interface client (`awslambdaric`, from PyPI) and a
//! Rust function built with the `lambda_runtime` crate (tests/fixtures/rust-fn).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{document, failed, returned, spec, CodeDir, ARN};
use compute::{Cancellation, FailureKind, FunctionRunner, FunctionSpec, HandlerSource, Invocation, ProcessRunner};
use serde_json::{json, Value};

const AWSLAMBDARIC_HANDLER: &str = r#"import os
calls = 0

def handler(event, context):
    global calls
    calls += 1
    if event.get("fail"):
        raise KeyError(event["fail"])
    print("handled", context.aws_request_id)
    return {
        "echo": event,
        "pid": os.getpid(),
        "calls": calls,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "remaining": 0 < context.get_remaining_time_in_millis() <= 10000,
    }
"#;

fn provided(code: &CodeDir) -> FunctionSpec {
    spec("provided.al2023", "handler.handler", code.source())
}

fn call(runner: &ProcessRunner, function: &FunctionSpec, event: Value) -> Invocation {
    runner.invoke(function, &event, &Cancellation::new())
}

fn make_executable(path: &Path) {
    let mut permissions = std::fs::metadata(path).expect("the bootstrap exists").permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(path, permissions).expect("make the bootstrap executable");
}

#[test]
fn awslambdaric_runs_a_python_handler_unmodified() {
    let code = CodeDir::new(&[("handler.py", AWSLAMBDARIC_HANDLER), ("bootstrap", "#!/bin/sh\nexec python3 -m awslambdaric handler.handler\n")]);
    make_executable(&code.path().join("bootstrap"));
    let runner = ProcessRunner::new();
    let function = provided(&code);
    let first = call(&runner, &function, json!({"order": 7}));
    let result = returned(&first).clone();
    assert_eq!(result["echo"], json!({"order": 7}));
    assert_eq!(result["request_id"], json!(first.request_id));
    assert_eq!(result["function_name"], json!("probe"));
    assert_eq!(result["memory_limit_in_mb"], json!("256"));
    assert_eq!(result["invoked_function_arn"], json!(ARN));
    assert_eq!(result["log_group_name"], json!("/aws/lambda/probe"));
    assert_eq!(result["remaining"], json!(true));
    assert!(first.logs.contains(&format!("handled {}", first.request_id)), "{}", first.logs);
    assert!(first.logs.contains("Init Duration: "), "{}", first.logs);

    let failure = call(&runner, &function, json!({"fail": "sku"}));
    let error = failed(&failure);
    assert_eq!((error.kind, error.error_type.as_str(), error.error_message.as_str()), (FailureKind::Handler, "KeyError", "'sku'"));
    assert_eq!(document(error)["requestId"], json!(failure.request_id));

    let warm = returned(&call(&runner, &function, json!({}))).clone();
    assert_eq!((warm["pid"].clone(), warm["calls"].clone()), (result["pid"].clone(), json!(3)));
}

#[test]
fn awslambdaric_reports_a_missing_module_as_lambda_does() {
    let code = CodeDir::new(&[("bootstrap", "#!/bin/sh\nexec python3 -m awslambdaric missing.handler\n")]);
    make_executable(&code.path().join("bootstrap"));
    let invocation = call(&ProcessRunner::new(), &provided(&code), json!({}));
    let error = failed(&invocation);
    assert_eq!(error.error_type, "Runtime.ImportModuleError");
    assert_eq!(error.error_message, "Unable to import module 'missing': No module named 'missing'");
}

#[test]
fn a_rust_function_built_with_lambda_runtime_runs_unmodified() {
    let code = CodeDir::new(&[]);
    std::fs::create_dir_all(code.path()).expect("create the code directory");
    std::fs::copy(build_rust_function(), code.path().join("bootstrap")).expect("copy the function's binary");
    let runner = ProcessRunner::new();
    let function = provided(&code);
    let first = call(&runner, &function, json!({"order": 7}));
    let result = returned(&first).clone();
    assert_eq!(result["echo"], json!({"order": 7}));
    assert_eq!(result["requestId"], json!(first.request_id));
    assert_eq!((result["functionName"].clone(), result["memory"].clone()), (json!("probe"), json!(256)));
    let error = failed(&call(&runner, &function, json!({"fail": "out of stock"}))).clone();
    assert_eq!((error.kind, error.error_message.as_str()), (FailureKind::Handler, "out of stock"));
    assert_eq!(returned(&call(&runner, &function, json!({})))["pid"], result["pid"]);
}

/// A bootstrap that speaks the Runtime API by hand and answers with what it saw.
const RAW_BOOTSTRAP: &str = r#"#!/usr/bin/env python3
import http.client, json, os, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
api = http.client.HTTPConnection(host, int(port))
def call(method, path, body=None):
    api.request(method, "/2018-06-01/runtime" + path, body=body)
    response = api.getresponse()
    return response.status, dict((name.lower(), value) for name, value in response.getheaders()), response.read()
status, headers, body = call("GET", "/invocation/next")
request_id = headers["lambda-runtime-aws-request-id"]
wrong_status, _, wrong_body = call("POST", "/invocation/not-the-request/response", b"1")
environment = {name: os.environ.get(name) for name in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "_HANDLER", "AWS_REGION", "AWS_LAMBDA_LOG_GROUP_NAME"]}
answer = {
    "status": status,
    "event": json.loads(body),
    "deadline_in_future": int(headers["lambda-runtime-deadline-ms"]) > time.time() * 1000,
    "arn": headers["lambda-runtime-invoked-function-arn"],
    "trace": headers["lambda-runtime-trace-id"].startswith("Root=1-"),
    "content_type": headers["content-type"],
    "wrong_request": [wrong_status, json.loads(wrong_body)["errorType"]],
    "environment": environment,
    "task_root_is_cwd": os.environ["LAMBDA_TASK_ROOT"] == os.getcwd(),
}
accepted, _, _ = call("POST", "/invocation/%s/response" % request_id, json.dumps(answer).encode())
call("GET", "/invocation/next")
"#;

#[test]
fn the_runtime_api_speaks_as_lambdas() {
    let code = CodeDir::new(&[("bootstrap", RAW_BOOTSTRAP)]);
    make_executable(&code.path().join("bootstrap"));
    let invocation = call(&ProcessRunner::new(), &provided(&code), json!({"order": 7}));
    assert_eq!(
        returned(&invocation),
        &json!({
            "status": 200,
            "event": {"order": 7},
            "deadline_in_future": true,
            "arn": ARN,
            "trace": true,
            "content_type": "application/json",
            "wrong_request": [400, "InvalidRequestID"],
            "environment": {
                "AWS_LAMBDA_FUNCTION_NAME": "probe",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "_HANDLER": "handler.handler",
                "AWS_REGION": "eu-west-1",
                "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/probe",
            },
            "task_root_is_cwd": true,
        })
    );
}

#[test]
fn a_provided_function_needs_its_bootstrap() {
    let code = CodeDir::new(&[("handler.py", AWSLAMBDARIC_HANDLER), ("bootstrap", "#!/bin/sh\nexec python3 -m awslambdaric handler.handler\n")]);
    let runner = ProcessRunner::new();
    let not_executable = call(&runner, &provided(&code), json!({}));
    let bootstrap = code.path().join("bootstrap");
    assert_eq!(
        failed(&not_executable).payload,
        json!({
            "errorType": "Runtime.InvalidEntrypoint",
            "errorMessage": format!("RequestId: {} Error: fork/exec {}: permission denied", not_executable.request_id, bootstrap.display()),
        })
        .to_string()
    );
    std::fs::remove_file(&bootstrap).expect("remove the bootstrap");
    let missing = call(&runner, &provided(&code), json!({}));
    assert!(failed(&missing).error_message.ends_with(": no such file or directory"), "{}", failed(&missing).error_message);
    let inline = spec("provided", "handler.handler", HandlerSource::Inline(String::new()));
    assert!(matches!(call(&ProcessRunner::new(), &inline, json!({})).outcome, compute::Outcome::Unavailable(_)));
}

/// Builds tests/fixtures/rust-fn (its own workspace, into `<target>/rust-fn`) and returns its binary.
fn build_rust_function() -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rust-fn");
    // This test binary lives in <target>/debug/deps.
    let executable = std::env::current_exe().expect("the test binary's path");
    let target = executable.ancestors().nth(3).expect("the target directory").join("rust-fn");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--locked", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building {} failed", fixture.display());
    target.join("debug/rust-fn")
}
