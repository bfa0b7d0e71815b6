//! Tasks of a local run or of the server: Step Functions Local mocks first, then Lambda functions
//! (through [`Functions`]), then the other services' dispatchers.

use crate::{TaskContext, TaskDispatcher};
use asl::interpreter::{Integration, Pattern, TaskRequest};
use asl::mock::{MockConfig, MockedResponse};
use asl::Failure;
use crate::functions::{Functions, FunctionsError};
use compute::{Cancellation, Outcome};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct Mocks {
    pub config: MockConfig,
    pub state_machine: String,
    pub test_case: String,
}

pub struct LocalTasks {
    functions: Arc<Functions>,
    mocks: Option<Mocks>,
    /// Service integrations by service name (`ecs`, `batch`, `aws-sdk:s3`, ...) other than Lambda.
    services: HashMap<String, Arc<dyn TaskDispatcher>>,
    /// How often each state has been invoked: mocked responses are picked by invocation.
    invocations: Mutex<HashMap<String, u32>>,
}

impl LocalTasks {
    pub fn new(functions: Arc<Functions>, mocks: Option<Mocks>) -> LocalTasks {
        LocalTasks { functions, mocks, services: HashMap::new(), invocations: Mutex::new(HashMap::new()) }
    }

    /// Runs the tasks of `arn:aws:states:::SERVICE:...` resources with `dispatcher`.
    pub fn with_service(mut self, service: &str, dispatcher: Arc<dyn TaskDispatcher>) -> LocalTasks {
        self.services.insert(service.to_owned(), dispatcher);
        self
    }

    /// Invokes a function by name or ARN. A handler error becomes a Failure whose error is the
    /// errorType and whose cause is Lambda's error document; what the Lambda service itself
    /// refuses becomes `Lambda.<Exception>` with the cause the AWS SDK for Java words, as Step
    /// Functions reports them.
    fn invoke(&self, function: &str, payload: &Value, cancellation: &Cancellation) -> Result<Value, Failure> {
        let invocation = self.functions.invoke(function, None, payload, cancellation).map_err(|error| service_failure(function, error))?;
        match invocation.outcome {
            Outcome::Returned(value) => Ok(value),
            Outcome::Failed(error) => Err(Failure::new(error.error_type, error.payload)),
            Outcome::Unavailable(reason) => Err(Failure::new("Lambda.ServiceException", reason)),
            Outcome::Cancelled => Err(Failure::without_cause("States.Timeout")),
        }
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
    fn run(&self, request: &TaskRequest, context: &TaskContext) -> Result<Value, Failure> {
        if let Some(mocked) = self.mocked(request) {
            return match mocked {
                MockedResponse::Return(value) => Ok(value),
                MockedResponse::Throw { error, cause } => Err(Failure::new(error, cause)),
            };
        }
        match &request.integration {
            Integration::LambdaFunction => self.invoke(&request.resource, &request.parameters, &context.cancellation),
            Integration::Service { service, action, pattern } if service == "lambda" && action.starts_with("invoke") => {
                let function = request.parameters.get("FunctionName").and_then(Value::as_str).unwrap_or_default();
                // A null or missing Payload is left out of the Invoke call, and Lambda hands an
                // invocation without a payload to the handler as an empty object.
                let payload = match request.parameters.get("Payload") {
                    None | Some(Value::Null) => json!({}),
                    Some(payload) => payload.clone(),
                };
                // The integration reports a handler's error document compacted.
                let result = self.invoke(function, &payload, &context.cancellation).map_err(|failure| Failure {
                    cause: failure.cause.map(|cause| serde_json::from_str::<Value>(&cause).map_or(cause, |document| document.to_string())),
                    ..failure
                })?;
                // With a task token the state ends when the token is used; the invocation (whose
                // payload carries the token) only has to succeed.
                Ok(if *pattern == Pattern::WaitForTaskToken { Value::Null } else { invoke_response(result) })
            }
            Integration::Service { service, .. } => match self.services.get(service) {
                Some(dispatcher) => dispatcher.run(request, context),
                None => Err(unsupported(request)),
            },
            Integration::Activity => Err(unsupported(request)),
        }
    }
}

fn unsupported(request: &TaskRequest) -> Failure {
    Failure::new(
        "States.Runtime",
        format!("Switchyard cannot run the resource '{}' yet; a mock configuration (--mock-config) can answer it.", request.resource),
    )
}

/// The result of `arn:aws:states:::lambda:invoke`: Lambda's Invoke response as the SDK returns it.
fn invoke_response(payload: Value) -> Value {
    let length = python_json_length(&payload).to_string();
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

/// What the Lambda service refused, as the Java SDK inside Step Functions reports it.
fn service_failure(function: &str, error: FunctionsError) -> Failure {
    let (status, code, message) = match error {
        FunctionsError::NotFound(_) => (404, "ResourceNotFoundException", format!("Function not found: {}:$LATEST", qualified_arn(function))),
        FunctionsError::Throttled => (429, "TooManyRequestsException", "Rate Exceeded.".to_owned()),
        FunctionsError::InvalidParameter(message) => (400, "InvalidParameterValueException", message),
        FunctionsError::Conflict(message) => (409, "ResourceConflictException", message),
        FunctionsError::PreconditionFailed(message) => (412, "PreconditionFailedException", message),
        FunctionsError::Service(message) => (500, "ServiceException", message),
    };
    Failure::new(
        format!("Lambda.{code}"),
        format!("{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {}; Proxy: null)", request_id()),
    )
}

/// A function named by its bare name, as Lambda spells it in errors: a full ARN.
fn qualified_arn(function: &str) -> String {
    if function.starts_with("arn:") {
        function.to_owned()
    } else {
        format!("arn:aws:lambda:us-east-1:000000000000:function:{function}")
    }
}

/// The byte length of the payload as Lambda's Python runtime writes it (`json.dumps`: ", " and
/// ": " separators): AWS reports that as the response's Content-Length.
fn python_json_length(payload: &Value) -> usize {
    payload.to_string().len() + separator_spaces(payload)
}

/// One space after each `,` and `:` that separates members.
fn separator_spaces(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len().saturating_sub(1) + items.iter().map(separator_spaces).sum::<usize>(),
        Value::Object(fields) => 2 * fields.len() - usize::from(!fields.is_empty()) + fields.values().map(separator_spaces).sum::<usize>(),
        _ => 0,
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn http_date() -> String {
    chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
