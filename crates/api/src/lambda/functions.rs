//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, DeleteFunction,
//! UpdateFunctionCode, UpdateFunctionConfiguration.
//!
//! Code comes as `ZipFile` (base64 in JSON), or, for code used in place from this machine, as
//! `S3Bucket: "hot-reload"` with `S3Key` the absolute directory (LocalStack's convention, which
//! deployment tools already emit for local runs).

use super::{answer, check_function_name, decode, query_member, shapes, LambdaError};
use crate::constraints::Constraints;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use engine::catalog::Tag;
use engine::functions::{CodeSource, FunctionSettings, SettingsUpdate};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

const HOT_RELOAD_BUCKET: &str = "hot-reload";
const DEFAULT_TIMEOUT: i64 = 3;
const DEFAULT_MEMORY: i64 = 128;
/// ListFunctions answers at most 50 functions a page.
const MAX_PAGE: usize = 50;

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    function_name: Option<String>,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    code: Option<CodeMembers>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentMembers>,
    tags: Option<BTreeMap<String, String>>,
    package_type: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CodeMembers {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    image_uri: Option<String>,
    revision_id: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct EnvironmentMembers {
    variables: Option<BTreeMap<String, String>>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateConfigurationRequest {
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentMembers>,
    revision_id: Option<String>,
}

/// The model's constraints shared by CreateFunction and UpdateFunctionConfiguration.
fn check_settings(constraints: &mut Constraints, timeout: Option<i64>, memory: Option<i64>, description: Option<&str>, handler: Option<&str>) {
    constraints
        .range("timeout", timeout, 1, i64::MAX)
        .range("memorySize", memory, 128, 32_768)
        .length("description", description, 0, 256)
        .length("handler", handler, 0, 128);
}

/// Lambda's own limits, beyond the model's.
fn check_limits(timeout: Option<i64>, memory: Option<i64>) -> Result<(), LambdaError> {
    if let Some(timeout) = timeout.filter(|timeout| *timeout > 900) {
        return Err(LambdaError::invalid_parameter(format!("{timeout} is not a valid timeout value. Timeout must be between 1 and 900 seconds.")));
    }
    if memory.is_some_and(|memory| memory > 10_240) {
        return Err(LambdaError::invalid_parameter("'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240"));
    }
    Ok(())
}

fn code_source(code: CodeMembers) -> Result<CodeSource, LambdaError> {
    match code {
        CodeMembers { zip_file: Some(zip), .. } => base64::engine::general_purpose::STANDARD
            .decode(zip.as_bytes())
            .map(CodeSource::Zip)
            .map_err(|_| LambdaError::invalid_content("Could not parse request body into json: ZipFile is not valid base64")),
        CodeMembers { s3_bucket: Some(bucket), s3_key: Some(key), .. } if bucket == HOT_RELOAD_BUCKET => Ok(CodeSource::Directory(PathBuf::from(key))),
        CodeMembers { s3_bucket: Some(_), .. } => Err(LambdaError::invalid_parameter(format!(
            "Code from S3 is not supported yet: upload a ZipFile, or use S3Bucket \"{HOT_RELOAD_BUCKET}\" with S3Key naming a directory on the server."
        ))),
        CodeMembers { image_uri: Some(_), .. } => Err(LambdaError::invalid_parameter("Container image functions are not supported: use PackageType Zip.")),
        _ => Err(LambdaError::invalid_parameter("Please provide a source for function code.")),
    }
}

fn tags_of(tags: Option<BTreeMap<String, String>>) -> Vec<Tag> {
    tags.unwrap_or_default().into_iter().map(|(key, value)| Tag { key, value }).collect()
}

fn positive(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

pub async fn create(State(state): State<ApiState>, body: Bytes) -> Result<Response, LambdaError> {
    let request: CreateRequest = decode(&body)?;
    let mut constraints = Constraints::new();
    constraints.required("functionName", request.function_name.as_deref()).length("functionName", request.function_name.as_deref(), 1, 140);
    constraints.required("role", request.role.as_deref()).required("code", request.code.as_ref());
    check_settings(&mut constraints, request.timeout, request.memory_size, request.description.as_deref(), request.handler.as_deref());
    constraints.one_of("packageType", request.package_type.as_deref(), &["Zip", "Image"]);
    constraints.check()?;
    check_limits(request.timeout, request.memory_size)?;
    let reference = request.function_name.unwrap_or_default();
    let (name, qualifier) = engine::functions::parse_reference(&reference);
    if qualifier.is_some() || !is_function_name(name) {
        return Err(LambdaError::invalid_parameter(format!(
            "1 validation error detected: Value '{reference}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)"
        )));
    }
    let (Some(runtime), Some(handler)) = (request.runtime, request.handler) else {
        return Err(LambdaError::invalid_parameter("Runtime and Handler are mandatory parameters for functions created with Zip Package Type"));
    };
    let settings = FunctionSettings {
        runtime,
        role: request.role.unwrap_or_default(),
        handler,
        description: request.description.unwrap_or_default(),
        timeout_seconds: positive(request.timeout.unwrap_or(DEFAULT_TIMEOUT)),
        memory_mb: positive(request.memory_size.unwrap_or(DEFAULT_MEMORY)),
        environment: request.environment.and_then(|environment| environment.variables).unwrap_or_default(),
    };
    let source = code_source(request.code.unwrap_or_default())?;
    let record = state.functions.create(name, settings, source, tags_of(request.tags)).await?;
    Ok(answer(StatusCode::CREATED, shapes::configuration(&record)))
}

/// Lambda's function names: letters, digits, hyphens and underscores, up to 64.
fn is_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

pub async fn get(State(state): State<ApiState>, Path(name): Path<String>, uri: Uri, headers: HeaderMap) -> Result<Response, LambdaError> {
    let qualifier = query_member(&uri, "Qualifier");
    check_function_name(&name, qualifier.as_deref())?;
    let record = state.functions.get(&name, qualifier.as_deref())?;
    let host = headers.get("host").and_then(|host| host.to_str().ok()).unwrap_or("127.0.0.1:8083");
    let mut body = json!({
        "Configuration": shapes::configuration(&record),
        "Code": { "RepositoryType": "S3", "Location": format!("http://{host}/switchyard/functions/{}/code.zip", record.name) },
    });
    if !record.tags.is_empty() {
        body["Tags"] = shapes::tags(&record.tags);
    }
    if let Some(reserved) = record.reserved_concurrency {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": reserved });
    }
    Ok(answer(StatusCode::OK, body))
}

pub async fn get_configuration(State(state): State<ApiState>, Path(name): Path<String>, uri: Uri) -> Result<Response, LambdaError> {
    let qualifier = query_member(&uri, "Qualifier");
    check_function_name(&name, qualifier.as_deref())?;
    let record = state.functions.get(&name, qualifier.as_deref())?;
    Ok(answer(StatusCode::OK, shapes::configuration(&record)))
}

/// The kept zip of a function: what GetFunction's Code.Location points at.
pub async fn code_zip(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Response, LambdaError> {
    let path = state.functions.code_zip(&name)?;
    let zip = tokio::fs::read(&path).await.map_err(|error| LambdaError::from(engine::functions::FunctionsError::Service(error.to_string())))?;
    Ok(([("content-type", "application/zip")], zip).into_response())
}

/// ListFunctions: by name, `Marker` being the name to continue from.
pub async fn list(State(state): State<ApiState>, uri: Uri) -> Result<Response, LambdaError> {
    let max_items = query_member(&uri, "MaxItems");
    let max_items = match max_items.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(number)) => Some(number),
        Some(Err(_)) => return Err(LambdaError::invalid_parameter(format!("Invalid value for MaxItems: {}", max_items.unwrap_or_default()))),
    };
    let mut constraints = Constraints::new();
    constraints.range("maxItems", max_items, 1, 10_000);
    constraints.check()?;
    let page_size = max_items.map_or(MAX_PAGE, |items| usize::try_from(items).unwrap_or(MAX_PAGE).min(MAX_PAGE));
    let marker = query_member(&uri, "Marker");
    let functions = state.functions.list();
    let start = marker.as_deref().map_or(0, |marker| functions.partition_point(|record| record.name.as_str() < marker));
    let page: Vec<Value> = functions.iter().skip(start).take(page_size).map(shapes::configuration).collect();
    let mut body = json!({ "Functions": page });
    if let Some(next) = functions.get(start + page_size) {
        body["NextMarker"] = Value::from(next.name.as_str());
    }
    Ok(answer(StatusCode::OK, body))
}

pub async fn delete(State(state): State<ApiState>, Path(name): Path<String>, uri: Uri) -> Result<Response, LambdaError> {
    let qualifier = query_member(&uri, "Qualifier");
    check_function_name(&name, qualifier.as_deref())?;
    state.functions.delete(&name, qualifier.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn update_code(State(state): State<ApiState>, Path(name): Path<String>, body: Bytes) -> Result<Response, LambdaError> {
    check_function_name(&name, None)?;
    let code: CodeMembers = decode(&body)?;
    let revision_id = code.revision_id.clone();
    let record = state.functions.update_code(&name, code_source(code)?, revision_id.as_deref()).await?;
    Ok(answer(StatusCode::OK, shapes::configuration(&record)))
}

pub async fn update_configuration(State(state): State<ApiState>, Path(name): Path<String>, body: Bytes) -> Result<Response, LambdaError> {
    check_function_name(&name, None)?;
    let request: UpdateConfigurationRequest = decode(&body)?;
    let mut constraints = Constraints::new();
    check_settings(&mut constraints, request.timeout, request.memory_size, request.description.as_deref(), request.handler.as_deref());
    constraints.check()?;
    check_limits(request.timeout, request.memory_size)?;
    let update = SettingsUpdate {
        runtime: request.runtime,
        role: request.role,
        handler: request.handler,
        description: request.description,
        timeout_seconds: request.timeout.map(positive),
        memory_mb: request.memory_size.map(positive),
        environment: request.environment.map(|environment| environment.variables.unwrap_or_default()),
    };
    let record = state.functions.update_settings(&name, update, request.revision_id.as_deref()).await?;
    Ok(answer(StatusCode::OK, shapes::configuration(&record)))
}
