//! Node.js functions run by a real `node`, checked against what AWS Lambda returns.

mod common;

use common::{document, failed, invoke, returned, spec, CodeDir, ARN};
use compute::{FailureKind, FunctionSpec, HandlerSource};
use serde_json::json;

fn node(handler: &str, source: HandlerSource) -> FunctionSpec {
    spec("nodejs20.x", handler, source)
}

fn inline(source: &str) -> FunctionSpec {
    node("index.handler", HandlerSource::Inline(source.to_string()))
}

#[test]
fn returns_what_a_common_js_handler_resolves() {
    let invocation = invoke(&inline("exports.handler = async (event) => ({ echo: event, count: 2 });\n"), json!({"a": [1, "b"]}));
    assert_eq!(returned(&invocation), &json!({"echo": {"a": [1, "b"]}, "count": 2}));
}

#[test]
fn returns_what_an_es_module_handler_resolves() {
    let invocation = invoke(&inline("export const handler = async (event) => event.name + ' ✓';\n"), json!({"name": "héllo"}));
    assert_eq!(returned(&invocation), &json!("héllo ✓"));
}

#[test]
fn a_callback_handler_answers_through_its_callback() {
    let invocation = invoke(&inline("exports.handler = (event, context, callback) => { setTimeout(() => callback(null, 42), 10); };\n"), json!({}));
    assert_eq!(returned(&invocation), &json!(42));
}

#[test]
fn undefined_is_returned_as_null() {
    assert_eq!(returned(&invoke(&inline("exports.handler = async () => {};\n"), json!({}))), &json!(null));
}

#[test]
fn an_error_is_reported_like_lambda() {
    let invocation = invoke(&inline("export const handler = async () => {\n  throw new TypeError('no stock');\n};\n"), json!({}));
    let error = failed(&invocation);
    assert_eq!(error.kind, FailureKind::Handler);
    assert_eq!((error.error_type.as_str(), error.error_message.as_str()), ("TypeError", "no stock"));
    let document = document(error);
    assert_eq!(document["trace"][0], json!("TypeError: no stock"));
    assert_eq!(document["trace"][1], json!("    at Runtime.handler (file:///var/task/index.mjs:2:9)"));
    assert!(error.payload.starts_with(r#"{"errorType":"TypeError","errorMessage":"no stock","trace":["#), "{}", error.payload);
}

#[test]
fn a_thrown_value_that_is_not_an_error_is_reported_by_type() {
    let error = failed(&invoke(&inline("exports.handler = async () => { throw 'plain'; };\n"), json!({}))).clone();
    assert_eq!(error.payload, r#"{"errorType":"string","errorMessage":"plain","trace":[]}"#);
}

#[test]
fn console_output_is_logged_like_lambda_and_never_corrupts_the_result() {
    let source = r#"const fs = require('node:fs');
exports.handler = async () => {
  console.log('hello', { a: 1 });
  process.stdout.write('written to stdout\n');
  fs.writeSync(1, 'raw line on fd 1\n');
  return 'the result';
};
"#;
    let invocation = invoke(&inline(source), json!({}));
    assert_eq!(returned(&invocation), &json!("the result"));
    let line = invocation.logs.lines().find(|line| line.ends_with("\tINFO\thello { a: 1 }")).expect("a console line");
    assert!(line.contains(&format!("Z\t{}\t", invocation.request_id)), "{line:?}");
    for printed in ["written to stdout", "raw line on fd 1"] {
        assert!(invocation.logs.contains(printed), "{printed:?} missing from logs {:?}", invocation.logs);
    }
}

#[test]
fn the_context_describes_the_function_and_the_invocation() {
    let source = r#"exports.handler = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  memoryLimitInMB: context.memoryLimitInMB,
  invokedFunctionArn: context.invokedFunctionArn,
  logGroupName: context.logGroupName,
  remaining: context.getRemainingTimeInMillis() > 0,
  region: process.env.AWS_REGION,
});
"#;
    let invocation = invoke(&inline(source), json!({}));
    assert_eq!(
        returned(&invocation),
        &json!({
            "awsRequestId": invocation.request_id,
            "functionName": "probe",
            "memoryLimitInMB": "256",
            "invokedFunctionArn": ARN,
            "logGroupName": "/aws/lambda/probe",
            "remaining": true,
            "region": "eu-west-1",
        })
    );
}

#[test]
fn a_result_that_cannot_be_serialized_is_a_runtime_error() {
    let error = failed(&invoke(&inline("exports.handler = async () => 10n;\n"), json!({}))).clone();
    assert_eq!((error.kind, error.error_type.as_str()), (FailureKind::Runtime, "Error"));
    assert_eq!(error.error_message, "Unable to stringify response body");
}

#[test]
fn a_missing_export_is_handler_not_found() {
    let error = failed(&invoke(&node("index.absent", HandlerSource::Inline("exports.handler = async () => 1;\n".to_string())), json!({}))).clone();
    assert_eq!(error.kind, FailureKind::Runtime);
    assert_eq!((error.error_type.as_str(), error.error_message.as_str()), ("Runtime.HandlerNotFound", "index.absent is undefined or not exported"));
}

#[test]
fn a_handler_without_function_is_malformed() {
    let error = failed(&invoke(&node("index", HandlerSource::Inline(String::new())), json!({}))).clone();
    assert_eq!((error.error_type.as_str(), error.error_message.as_str()), ("Runtime.MalformedHandlerName", "Bad handler"));
}

#[test]
fn a_syntax_error_is_a_user_code_syntax_error() {
    let error = failed(&invoke(&inline("exports.handler = async () => {\n"), json!({}))).clone();
    assert_eq!((error.error_type.as_str(), error.error_message.as_str()), ("Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected end of input"));
}

#[test]
fn a_missing_module_is_an_import_error() {
    let code = CodeDir::new(&[("app.js", "exports.handler = async () => 1;\n")]);
    let error = failed(&invoke(&node("missing.handler", code.source()), json!({}))).clone();
    assert_eq!(error.error_type, "Runtime.ImportModuleError");
    assert_eq!(error.error_message, "Error: Cannot find module 'missing'\nRequire stack:\n- /var/runtime/index.mjs");
}

#[test]
fn a_missing_dependency_is_an_import_error_naming_the_importer() {
    let error = failed(&invoke(&inline("require('no-such-dependency');\nexports.handler = async () => 1;\n"), json!({}))).clone();
    assert_eq!(error.error_type, "Runtime.ImportModuleError");
    assert_eq!(error.error_message, "Error: Cannot find module 'no-such-dependency'\nRequire stack:\n- /var/task/index.js");
}

#[test]
fn a_code_directory_loads_modules_as_lambda_does() {
    let code = CodeDir::new(&[
        ("package.json", r#"{"type": "module"}"#),
        ("app.js", "import { check } from './lib/checks.js';\nexport const handler = async (event) => check(event);\n"),
        ("lib/checks.js", "export function check(event) {\n  if (event.fail) throw new Error('failed');\n  return process.cwd();\n}\n"),
    ]);
    let function = node("app.handler", code.source());
    assert_eq!(returned(&invoke(&function, json!({}))).as_str().map(std::path::Path::new), Some(code.path()));
    let failure = invoke(&function, json!({"fail": true}));
    assert_eq!(document(failed(&failure))["trace"][1], json!("    at check (file:///var/task/lib/checks.js:2:25)"));
}

#[test]
fn a_common_js_module_in_a_directory_is_required() {
    let code = CodeDir::new(&[("handlers/orders.cjs", "module.exports.create = async (event) => ({ created: event.id });\n")]);
    let invocation = invoke(&node("handlers/orders.create", code.source()), json!({"id": 7}));
    assert_eq!(returned(&invocation), &json!({"created": 7}));
}

#[test]
fn a_function_that_closes_stdout_still_times_out() {
    let mut function = inline("const fs = require('node:fs');\nexports.handler = async () => {\n  fs.closeSync(1);\n  await new Promise((resolve) => setTimeout(resolve, 60000));\n};\n");
    function.timeout_seconds = 1;
    let started = std::time::Instant::now();
    let invocation = invoke(&function, json!({}));
    assert_eq!(failed(&invocation).kind, FailureKind::Timeout);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
}
