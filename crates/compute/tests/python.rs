//! Python functions run by a real `python3`, checked against what AWS Lambda returns.

mod common;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{document, failed, invoke, returned, spec, CodeDir, ARN};
use compute::{Cancellation, FailureKind, FunctionRunner, FunctionSpec, HandlerSource, Outcome, ProcessRunner};
use serde_json::json;

fn python(handler: &str, source: HandlerSource) -> FunctionSpec {
    spec("python3.12", handler, source)
}

fn inline(source: &str) -> FunctionSpec {
    python("handler.handler", HandlerSource::Inline(source.to_string()))
}

#[test]
fn returns_what_the_handler_returns() {
    let invocation = invoke(&inline("def handler(event, context):\n    return {'echo': event, 'count': 2}\n"), json!({"a": [1, "b"]}));
    assert_eq!(returned(&invocation), &json!({"echo": {"a": [1, "b"]}, "count": 2}));
}

#[test]
fn keeps_non_ascii_text() {
    let invocation = invoke(&inline("def handler(event, context):\n    return event + ' ✓'\n"), json!("héllo"));
    assert_eq!(returned(&invocation), &json!("héllo ✓"));
}

#[test]
fn an_exception_is_reported_exactly_like_lambda() {
    let invocation = invoke(&inline("def handler(event, context):\n    raise Exception(\"Some exception was raised.\")\n"), json!({}));
    let error = failed(&invocation);
    assert_eq!(error.kind, FailureKind::Handler);
    assert_eq!((error.error_type.as_str(), error.error_message.as_str()), ("Exception", "Some exception was raised."));
    assert_eq!(
        error.payload,
        format!(
            r#"{{"errorMessage": "Some exception was raised.", "errorType": "Exception", "requestId": "{}", "stackTrace": ["  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n"]}}"#,
            invocation.request_id
        )
    );
}

#[test]
fn the_error_type_is_the_exception_class() {
    let source = "class OrderRejected(Exception):\n    pass\n\ndef handler(event, context):\n    raise OrderRejected('no stock')\n";
    let error_type = failed(&invoke(&inline(source), json!({}))).error_type.clone();
    assert_eq!(error_type, "OrderRejected");
}

#[test]
fn the_stack_trace_follows_calls_through_the_module() {
    let source = "def check(order):\n    return order['id']\n\ndef handler(event, context):\n    return check(event)\n";
    let invocation = invoke(&inline(source), json!({}));
    let error = failed(&invocation);
    assert_eq!(error.error_type, "KeyError");
    assert_eq!(error.error_message, "'id'");
    assert_eq!(
        document(error)["stackTrace"],
        json!([
            "  File \"/var/task/handler.py\", line 5, in handler\n    return check(event)\n",
            "  File \"/var/task/handler.py\", line 2, in check\n    return order['id']\n"
        ])
    );
}

#[test]
fn prints_do_not_corrupt_the_result() {
    let source = r#"import os, sys
def handler(event, context):
    print('{"requestId": "forged", "kind": "result", "payload": "1"}')
    sys.stdout.write('no newline')
    os.write(1, b'raw bytes on fd 1\n')
    print('to stderr', file=sys.stderr)
    return 'the result'
"#;
    let invocation = invoke(&inline(source), json!({}));
    assert_eq!(returned(&invocation), &json!("the result"));
    for printed in ["\"forged\"", "no newline", "raw bytes on fd 1", "to stderr"] {
        assert!(invocation.logs.contains(printed), "{printed:?} missing from logs {:?}", invocation.logs);
    }
}

#[test]
fn logging_is_formatted_like_lambda() {
    let source = "import logging\ndef handler(event, context):\n    logging.warning('careful')\n    return 1\n";
    let invocation = invoke(&inline(source), json!({}));
    let line = invocation.logs.lines().find(|line| line.starts_with("[WARNING]\t")).expect("a log line");
    assert!(line.ends_with(&format!("Z\t{}\tcareful", invocation.request_id)), "{line:?}");
}

#[test]
fn the_context_describes_the_function_and_the_invocation() {
    let source = r#"import os
def handler(event, context):
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name.startswith(__import__("time").strftime("%Y/%m/%d/[$LATEST]")),
        "remaining_ms": 0 < context.get_remaining_time_in_millis() <= 10000,
        "region": os.environ["AWS_REGION"],
        "stage": os.environ["STAGE"],
    }
"#;
    let mut function = inline(source);
    function.environment.insert("STAGE".to_string(), "test".to_string());
    let invocation = invoke(&function, json!({}));
    assert_eq!(
        returned(&invocation),
        &json!({
            "aws_request_id": invocation.request_id,
            "function_name": "probe",
            "function_version": "$LATEST",
            "memory_limit_in_mb": "256",
            "invoked_function_arn": ARN,
            "log_group_name": "/aws/lambda/probe",
            "log_stream_name": true,
            "remaining_ms": true,
            "region": "eu-west-1",
            "stage": "test",
        })
    );
}

#[test]
fn every_invocation_has_its_own_request_id() {
    let function = inline("def handler(event, context):\n    return context.aws_request_id\n");
    let (first, second) = (invoke(&function, json!({})), invoke(&function, json!({})));
    assert_ne!(first.request_id, second.request_id);
    assert_eq!(returned(&first), &json!(first.request_id));
    assert!(uuid::Uuid::parse_str(&first.request_id).is_ok());
}

#[test]
fn a_large_event_goes_through() {
    let event = json!({"items": vec!["x".repeat(1000); 2000]});
    let invocation = invoke(&inline("def handler(event, context):\n    return len(event['items'])\n"), event);
    assert_eq!(returned(&invocation), &json!(2000));
}

#[test]
fn bytes_are_returned_as_they_are() {
    let invocation = invoke(&inline("def handler(event, context):\n    return b'\"HelloWorld!\"'\n"), json!({}));
    assert_eq!(returned(&invocation), &json!("HelloWorld!"));
}

#[test]
fn decimals_are_returned_as_numbers() {
    let source = "from decimal import Decimal\ndef handler(event, context):\n    return {'price': Decimal('9.5')}\n";
    assert_eq!(returned(&invoke(&inline(source), json!({}))), &json!({"price": 9.5}));
}

#[test]
fn a_result_that_is_not_json_is_a_marshal_error() {
    let invocation = invoke(&inline("def handler(event, context):\n    return {1, 2}\n"), json!({}));
    let error = failed(&invocation);
    assert_eq!(error.kind, FailureKind::Runtime);
    assert_eq!(
        document(error),
        json!({
            "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
            "errorType": "Runtime.MarshalError",
            "requestId": invocation.request_id,
            "stackTrace": []
        })
    );
}

#[test]
fn a_slow_function_times_out_like_lambda() {
    let mut function = inline("import time\ndef handler(event, context):\n    time.sleep(60)\n");
    function.timeout_seconds = 1;
    let started = Instant::now();
    let invocation = invoke(&function, json!({}));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let error = failed(&invocation);
    assert_eq!(error.kind, FailureKind::Timeout);
    assert_eq!(
        error.payload,
        format!(
            r#"{{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: {} Error: Task timed out after 1.00 seconds"}}"#,
            invocation.request_id
        )
    );
}

#[test]
fn cancelling_stops_the_invocation() {
    let function = inline("import time\ndef handler(event, context):\n    time.sleep(60)\n");
    let cancellation = Cancellation::new();
    let canceller = cancellation.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        canceller.cancel();
    });
    let started = Instant::now();
    let invocation = ProcessRunner::new().invoke(&function, &json!({}), &cancellation);
    assert_eq!(invocation.outcome, Outcome::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn a_process_that_exits_is_a_runtime_exit_error() {
    let invocation = invoke(&inline("import os\ndef handler(event, context):\n    os._exit(3)\n"), json!({}));
    let error = failed(&invocation);
    assert_eq!(error.kind, FailureKind::Crash);
    assert_eq!(
        error.payload,
        format!(
            r#"{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {} Error: Runtime exited with error: exit status 3"}}"#,
            invocation.request_id
        )
    );
}

#[test]
fn a_missing_module_is_an_import_error() {
    let code = CodeDir::new(&[("app.py", "def main(event, context):\n    return 1\n")]);
    let invocation = invoke(&python("missing.main", code.source()), json!({}));
    let error = failed(&invocation);
    assert_eq!(error.kind, FailureKind::Runtime);
    assert_eq!(
        error.payload,
        r#"{"errorMessage": "Unable to import module 'missing': No module named 'missing'", "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}"#
    );
}

#[test]
fn a_failing_import_inside_the_module_is_an_import_error() {
    let error = failed(&invoke(&inline("import no_such_dependency\ndef handler(event, context):\n    return 1\n"), json!({}))).clone();
    assert_eq!(error.error_type, "Runtime.ImportModuleError");
    assert_eq!(error.error_message, "Unable to import module 'handler': No module named 'no_such_dependency'");
}

#[test]
fn a_missing_handler_function_is_handler_not_found() {
    let invocation = invoke(&python("handler.absent", HandlerSource::Inline("def handler(event, context):\n    return 1\n".to_string())), json!({}));
    assert_eq!(
        document(failed(&invocation)),
        json!({
            "errorMessage": "Handler 'absent' missing on module 'handler'",
            "errorType": "Runtime.HandlerNotFound",
            "requestId": invocation.request_id,
            "stackTrace": []
        })
    );
}

#[test]
fn a_handler_without_module_is_malformed() {
    let error = failed(&invoke(&python("handler", HandlerSource::Inline(String::new())), json!({}))).clone();
    assert_eq!(error.error_type, "Runtime.MalformedHandlerName");
    assert_eq!(error.error_message, "Bad handler 'handler': not enough values to unpack (expected 2, got 1)");
}

#[test]
fn a_builtin_module_cannot_be_the_handler_module() {
    let error = failed(&invoke(&python("sys.handler", HandlerSource::Inline(String::new())), json!({}))).clone();
    assert_eq!(error.error_type, "Runtime.BuiltInModuleConflict");
    assert_eq!(error.error_message, "Cannot use built-in module sys as a handler module");
}

#[test]
fn a_syntax_error_points_into_the_task_root() {
    let invocation = invoke(&inline("def handler(event, context)\n    return 1\n"), json!({}));
    let error = failed(&invocation);
    assert_eq!(error.error_type, "Runtime.UserCodeSyntaxError");
    assert!(error.error_message.starts_with("Syntax error in module 'handler': "), "{}", error.error_message);
    assert_eq!(document(error)["stackTrace"], json!(["  File \"/var/task/handler.py\" Line 1\n    def handler(event, context)\n"]));
}

#[test]
fn an_exception_while_loading_the_module_has_no_request_id() {
    let error = failed(&invoke(&inline("raise ValueError('bad config')\n"), json!({}))).clone();
    let document = document(&error);
    assert_eq!((error.error_type.as_str(), error.error_message.as_str()), ("ValueError", "bad config"));
    assert_eq!(document["requestId"], json!(""));
    let stack_trace = document["stackTrace"].as_array().expect("a stack trace");
    assert_eq!(stack_trace.last(), Some(&json!("  File \"/var/task/handler.py\", line 1, in <module>\n    raise ValueError('bad config')\n")));
}

#[test]
fn a_code_directory_is_the_task_root() {
    let code = CodeDir::new(&[
        ("app.py", "from lib.checks import check\n\ndef main(event, context):\n    return check(event)\n"),
        ("lib/__init__.py", ""),
        (
            "lib/checks.py",
            "import os\n\ndef check(event):\n    if event.get('fail'):\n        raise RuntimeError('failed')\n    return os.getcwd()\n",
        ),
    ]);
    let function = python("app.main", code.source());
    let working_directory = returned(&invoke(&function, json!({}))).clone();
    assert_eq!(working_directory.as_str().map(Path::new), Some(code.path()));
    let failure = invoke(&function, json!({"fail": true}));
    assert_eq!(
        document(failed(&failure))["stackTrace"],
        json!([
            "  File \"/var/task/app.py\", line 4, in main\n    return check(event)\n",
            "  File \"/var/task/lib/checks.py\", line 5, in check\n    raise RuntimeError('failed')\n"
        ])
    );
}

#[test]
fn a_missing_interpreter_makes_the_function_unavailable() {
    let runner = ProcessRunner::new().with_python("/nonexistent/python3");
    let invocation = runner.invoke(&inline("def handler(event, context):\n    return 1\n"), &json!({}), &Cancellation::new());
    match invocation.outcome {
        Outcome::Unavailable(reason) => assert!(reason.starts_with("function \"probe\": cannot start /nonexistent/python3: "), "{reason}"),
        other => panic!("expected the function to be unavailable, got {other:?}"),
    }
}

#[test]
fn the_payload_is_the_result_as_the_runtime_serialized_it() {
    let invocation = invoke(&inline("def handler(event, context):\n    return event\n"), json!({"foo": "foo-1", "n": [1, 2]}));
    assert_eq!(invocation.payload, r#"{"foo": "foo-1", "n": [1, 2]}"#);
}

#[test]
fn the_payload_of_a_failure_is_its_error_document() {
    let invocation = invoke(&inline("def handler(event, context):\n    raise ValueError('no')\n"), json!({}));
    assert_eq!(invocation.payload, failed(&invocation).payload);
}

#[test]
fn a_response_past_lambdas_limit_is_an_error() {
    let invocation = invoke(&inline("def handler(event, context):\n    return 'x' * (7 << 20)\n"), json!({}));
    let error = failed(&invocation);
    assert_eq!((error.kind, error.error_type.as_str()), (FailureKind::Runtime, "Function.ResponseSizeTooLarge"));
    assert_eq!(error.error_message, "Response payload size exceeded maximum allowed payload size (6291556 bytes).");
}
