//! `http` events: unsigned requests that match a deployed route start its target, answering as
//! serverless-step-functions' API Gateway integration does (`executionArn`, `startDate`).
//!
//! The execution's input is the request body when there is one, else the query string as an
//! object, else `{}`. A function's route invokes it with API Gateway's proxy event (REST API,
//! payload format 1.0) and answers with the `statusCode`, `headers` and `body` it returns.

use crate::ApiState;
use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use deploy::plan::{Route, Target};
use serde_json::{json, Map, Value};
use std::sync::RwLock;

/// Request bodies of routes (API Gateway's payload limit).
const MAX_BODY_BYTES: usize = 10 << 20;

/// The routes of every deployment, the most recently deployed last.
#[derive(Default)]
pub struct RouteTable {
    deployments: RwLock<Vec<(String, Vec<Route>)>>,
}

impl RouteTable {
    pub fn replace(&self, deployment: &str, routes: Vec<Route>) {
        let mut table = self.deployments.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        table.retain(|(name, _)| name != deployment);
        if !routes.is_empty() {
            table.push((deployment.to_owned(), routes));
        }
    }

    /// Other deployments' routes with the same method and path as one of `routes`.
    pub fn conflicts(&self, deployment: &str, routes: &[Route]) -> Vec<String> {
        let table = self.deployments.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut conflicts = Vec::new();
        for (other, deployed) in table.iter().filter(|(name, _)| name != deployment) {
            for route in routes.iter().filter(|route| deployed.iter().any(|old| old.method == route.method && old.path == route.path)) {
                conflicts.push(format!("{} {} is also a route of {other}: requests now go to {deployment}", route.method, route.path));
            }
        }
        conflicts
    }

    /// The route for a request: literal segments win over `{parameters}`, and among equals the
    /// most recently deployed.
    pub fn find(&self, method: &str, path: &str) -> Option<Route> {
        let table = self.deployments.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut best: Option<(usize, &Route)> = None;
        for route in table.iter().flat_map(|(_, routes)| routes).filter(|route| route.method == "ANY" || route.method == method) {
            if let Some(parameters) = matches(&route.path, path) {
                if best.is_none_or(|(fewest, _)| parameters <= fewest) {
                    best = Some((parameters, route));
                }
            }
        }
        best.map(|(_, route)| route.clone())
    }
}

/// How many parameters a route's path used to match `path`; None when it does not match.
fn matches(pattern: &str, path: &str) -> Option<usize> {
    let mut wanted = pattern.trim_matches('/').split('/');
    let mut given = path.trim_matches('/').split('/');
    let mut parameters = 0;
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(parameters),
            (Some(segment), Some(_)) if segment.starts_with('{') && segment.ends_with("+}") => return Some(parameters + 1),
            (Some(segment), Some(value)) if segment.starts_with('{') && segment.ends_with('}') && !value.is_empty() => parameters += 1,
            (Some(segment), Some(value)) if segment == value => {}
            _ => return None,
        }
    }
}

/// Requests no other API took: a deployed route's, or API Gateway's answer for a missing one.
pub async fn serve(axum::extract::State(state): axum::extract::State<ApiState>, request: Request<Body>) -> Response {
    let signed = request.headers().get("authorization").and_then(|value| value.to_str().ok()).is_some_and(|value| value.starts_with("AWS4-HMAC-SHA256"));
    let route = if signed { None } else { state.deployments.routes.find(request.method().as_str(), request.uri().path()) };
    let Some(route) = route else {
        return (StatusCode::FORBIDDEN, [("content-type", "application/json"), ("x-amzn-errortype", "MissingAuthenticationTokenException")], json!({"message": "Missing Authentication Token"}).to_string()).into_response();
    };
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, json!({"message": "Request Too Long"}).to_string()).into_response(),
    };
    let is_head = parts.method == Method::HEAD;
    let answer = match &route.target {
        Target::StateMachine { arn, .. } => start(&state, arn, execution_input(&body, parts.uri.query())).await,
        Target::Function { name, .. } => return invoke(&state, name, proxy_event(&route, &parts, &body)).await,
    };
    let (status, body) = answer.unwrap_or_else(|failure| failure);
    let body = if is_head { String::new() } else { body.to_string() };
    (status, [("content-type", "application/json")], body).into_response()
}

/// API Gateway's proxy integration event (REST API, payload format 1.0).
fn proxy_event(route: &Route, parts: &axum::http::request::Parts, body: &[u8]) -> Value {
    let headers: Map<String, Value> = parts.headers.iter().filter_map(|(name, value)| Some((name.as_str().to_owned(), Value::String(value.to_str().ok()?.to_owned())))).collect();
    let query: Map<String, Value> = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).map(|(name, value)| (name.into_owned(), Value::String(value.into_owned()))).collect();
    let (stage, resource) = route.path.trim_start_matches('/').split_once('/').map_or(("", route.path.as_str()), |(stage, rest)| (stage, rest));
    let parameters = path_parameters(&route.path, parts.uri.path());
    let (body, base64) = match std::str::from_utf8(body) {
        Ok("") => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => {
            use base64::Engine;
            (Value::String(base64::engine::general_purpose::STANDARD.encode(body)), true)
        }
    };
    let or_null = |map: Map<String, Value>| if map.is_empty() { Value::Null } else { Value::Object(map) };
    json!({
        "resource": format!("/{resource}"),
        "path": parts.uri.path().strip_prefix(&format!("/{stage}")).unwrap_or(parts.uri.path()),
        "httpMethod": parts.method.as_str(),
        "headers": headers,
        "queryStringParameters": or_null(query),
        "pathParameters": or_null(parameters),
        "stageVariables": null,
        "requestContext": {
            "stage": stage,
            "httpMethod": parts.method.as_str(),
            "path": parts.uri.path(),
            "requestId": uuid::Uuid::new_v4().to_string(),
            "requestTimeEpoch": chrono::Utc::now().timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// The values of a route's `{name}` and `{name+}` segments.
fn path_parameters(pattern: &str, path: &str) -> Map<String, Value> {
    let mut parameters = Map::new();
    let given: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (index, segment) in pattern.trim_matches('/').split('/').enumerate() {
        let Some(name) = segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) else { continue };
        match name.strip_suffix('+') {
            Some(greedy) => {
                parameters.insert(greedy.to_owned(), Value::String(given.get(index..).unwrap_or_default().join("/")));
            }
            None => {
                parameters.insert(name.to_owned(), Value::String(given.get(index).copied().unwrap_or_default().to_owned()));
            }
        }
    }
    parameters
}

/// Invokes the function and answers with what it returned, as the proxy integration does.
async fn invoke(state: &ApiState, name: &str, event: Value) -> Response {
    let functions = state.functions.clone();
    let function = name.to_owned();
    let invoked = tokio::task::spawn_blocking(move || functions.invoke(&function, None, &event, &compute::Cancellation::new())).await;
    let internal_error = || (StatusCode::BAD_GATEWAY, [("content-type", "application/json")], json!({"message": "Internal server error"}).to_string()).into_response();
    let Ok(Ok(invocation)) = invoked else { return internal_error() };
    if !matches!(invocation.outcome, compute::Outcome::Returned(_)) {
        return internal_error();
    }
    let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(&invocation.payload) else { return internal_error() };
    let status = answer.get("statusCode").and_then(Value::as_u64).and_then(|code| StatusCode::from_u16(u16::try_from(code).ok()?).ok()).unwrap_or(StatusCode::OK);
    let body = match answer.get("body") {
        Some(Value::String(text)) if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default()
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
        None => Vec::new(),
    };
    let mut response = (status, body).into_response();
    if let Some(Value::Object(headers)) = answer.get("headers") {
        for (name, value) in headers {
            let (Ok(name), Some(Ok(value))) = (axum::http::HeaderName::try_from(name.as_str()), value.as_str().map(axum::http::HeaderValue::from_str)) else { continue };
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn execution_input(body: &[u8], query: Option<&str>) -> String {
    if !body.iter().all(u8::is_ascii_whitespace) {
        return String::from_utf8_lossy(body).into_owned();
    }
    let parameters: Map<String, Value> = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).map(|(name, value)| (name.into_owned(), Value::String(value.into_owned()))).collect();
    Value::Object(parameters).to_string()
}

async fn start(state: &ApiState, arn: &str, input: String) -> Result<(StatusCode, Value), (StatusCode, Value)> {
    let failed = |error: engine::ServiceError| (StatusCode::BAD_REQUEST, json!({"__type": error.code, "message": error.message}));
    let machine = state.catalog.resolve(arn).map_err(failed)?;
    let started = state.runtime.start_execution(machine, None, input, None).await.map_err(failed)?;
    Ok((StatusCode::OK, json!({"executionArn": started.execution_arn, "startDate": started.start_ms as f64 / 1000.0})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route { method: method.into(), path: path.into(), target: Target::StateMachine { name: path.into(), arn: path.into() } }
    }

    #[test]
    fn literal_paths_win_over_parameters() {
        let table = RouteTable::default();
        table.replace("a-dev", vec![route("GET", "/dev/users/{id}"), route("GET", "/dev/users/me"), route("ANY", "/dev/files/{path+}"), route("POST", "/dev")]);
        assert_eq!(table.find("GET", "/dev/users/me").unwrap().path, "/dev/users/me");
        assert_eq!(table.find("GET", "/dev/users/42").unwrap().path, "/dev/users/{id}");
        assert_eq!(table.find("DELETE", "/dev/files/a/b/c").unwrap().path, "/dev/files/{path+}");
        assert_eq!(table.find("POST", "/dev/").unwrap().path, "/dev");
        assert!(table.find("POST", "/dev/users/me").is_none());
        assert!(table.find("GET", "/prod/users/me").is_none());
        table.replace("b-dev", vec![route("GET", "/dev/users/me")]);
        assert_eq!(table.conflicts("c-dev", &[route("GET", "/dev/users/me")]).len(), 2);
        table.replace("a-dev", Vec::new());
        assert!(table.find("GET", "/dev/users/me").is_some());
        table.replace("b-dev", Vec::new());
        assert!(table.find("GET", "/dev/users/me").is_none());
    }

    #[test]
    fn path_parameters_of_a_request() {
        let parameters = path_parameters("/dev/users/{id}/files/{path+}", "/dev/users/7/files/a/b");
        assert_eq!(Value::Object(parameters), json!({"id": "7", "path": "a/b"}));
    }

    #[test]
    fn input_from_body_then_query_then_empty() {
        assert_eq!(execution_input(b"{\"a\": 1}", Some("b=2")), "{\"a\": 1}");
        assert_eq!(execution_input(b"", Some("b=2&c=x%20y")), r#"{"b":"2","c":"x y"}"#);
        assert_eq!(execution_input(b"  ", None), "{}");
    }
}
