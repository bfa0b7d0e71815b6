//! Tasks of a local run: Step Functions Local mocks first, then local Lambda functions.

use crate::TaskDispatcher;
use asl::interpreter::{Integration, Pattern, TaskRequest};
use asl::mock::{MockConfig, MockedResponse};
use asl::Failure;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// Invokes a Lambda function by name or ARN. A handler error is a Failure whose error is the
/// errorType and whose cause is Lambda's error JSON, as Step Functions reports it.
pub trait Functions: Send + Sync {
    fn invoke(&self, function: &str, payload: &Value) -> Result<Value, Failure>;
}

pub struct Mocks {
    pub config: MockConfig,
    pub state_machine: String,
    pub test_case: String,
}

pub struct LocalTasks {
    functions: Box<dyn Functions>,
    mocks: Option<Mocks>,
    /// How often each state has been invoked: mocked responses are picked by invocation.
    invocations: Mutex<HashMap<String, u32>>,
}

impl LocalTasks {
    pub fn new(functions: Box<dyn Functions>, mocks: Option<Mocks>) -> LocalTasks {
        LocalTasks { functions, mocks, invocations: Mutex::new(HashMap::new()) }
    }

    fn mocked(&self, request: &TaskRequest) -> Option<MockedResponse> {
        let mocks = self.mocks.as_ref()?;
        let invocation = {
            let mut invocations = self.invocations.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = invocations.entry(request.state_name.to_string()).or_insert(0);
            *count += 1;
            *count - 1
        };
        mocks.config.response(&mocks.state_machine, &mocks.test_case, &request.state_name, invocation)
    }
}

impl TaskDispatcher for LocalTasks {
    fn run(&self, request: &TaskRequest) -> Result<Value, Failure> {
        if let Some(mocked) = self.mocked(request) {
            return match mocked {
                MockedResponse::Return(value) => Ok(value),
                MockedResponse::Throw { error, cause } => Err(Failure::new(error, cause)),
            };
        }
        match &request.integration {
            Integration::LambdaFunction => self.functions.invoke(&request.resource, &request.parameters),
            Integration::Service { service, action, pattern } if service == "lambda" && action.starts_with("invoke") => {
                if *pattern == Pattern::WaitForTaskToken {
                    return Err(unsupported(request));
                }
                let function = request.parameters.get("FunctionName").and_then(Value::as_str).unwrap_or_default();
                let payload = request.parameters.get("Payload").cloned().unwrap_or(Value::Null);
                let result = self.functions.invoke(function, &payload)?;
                Ok(invoke_response(result))
            }
            _ => Err(unsupported(request)),
        }
    }
}

fn unsupported(request: &TaskRequest) -> Failure {
    Failure::new(
        "States.Runtime",
        format!("The resource '{}' cannot run in a local run; give it a mocked response (--mock-config) or use `switchyard serve`.", request.resource),
    )
}

/// The result of `arn:aws:states:::lambda:invoke`: Lambda's Invoke response as the SDK returns it.
fn invoke_response(payload: Value) -> Value {
    let length = payload.to_string().len().to_string();
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id()],
                "Content-Length": [length],
                "Date": [http_date()],
                "X-Amzn-Trace-Id": ["Root=1-00000000-000000000000000000000000;Sampled=0"],
                "Content-Type": ["application/json"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": http_date(),
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id(),
                "X-Amzn-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0"
            },
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": { "RequestId": request_id() },
        "StatusCode": 200
    })
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn http_date() -> String {
    chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
