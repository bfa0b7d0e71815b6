//! `http` events: unsigned requests that match a deployed route start its target, answering as
//! serverless-step-functions' API Gateway integration does (`executionArn`, `startDate`).
//!
//! The execution's input is the request body when there is one, else the query string as an
//! object, else `{}`.

use crate::ApiState;
use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use deploy::plan::{Route, Target};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// Request bodies of routes (API Gateway's payload limit).
const MAX_BODY_BYTES: usize = 10 << 20;

/// The routes of every deployment.
#[derive(Default)]
pub struct RouteTable {
    by_deployment: RwLock<BTreeMap<String, Vec<Route>>>,
}

impl RouteTable {
    pub fn replace(&self, deployment: &str, routes: Vec<Route>) {
        let mut table = self.by_deployment.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if routes.is_empty() {
            table.remove(deployment);
        } else {
            table.insert(deployment.to_owned(), routes);
        }
    }

    /// The route for a request: literal segments win over `{parameters}`.
    pub fn find(&self, method: &str, path: &str) -> Option<Route> {
        let table = self.by_deployment.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        table
            .values()
            .flatten()
            .filter(|route| route.method == "ANY" || route.method == method)
            .filter_map(|route| matches(&route.path, path).map(|parameters| (parameters, route)))
            .min_by_key(|(parameters, _)| *parameters)
            .map(|(_, route)| route.clone())
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
    let query = request.uri().query().map(str::to_owned);
    let is_head = request.method() == Method::HEAD;
    let body = match to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, json!({"message": "Request Too Long"}).to_string()).into_response(),
    };
    let input = execution_input(&body, query.as_deref());
    let answer = match &route.target {
        Target::StateMachine { arn, .. } => start(&state, arn, input).await,
        Target::Function { name, .. } => Err((StatusCode::BAD_GATEWAY, json!({"message": format!("Internal server error: function {name} cannot be invoked (the Lambda service is not part of this server)")}))),
    };
    let (status, body) = answer.unwrap_or_else(|failure| failure);
    let body = if is_head { String::new() } else { body.to_string() };
    (status, [("content-type", "application/json")], body).into_response()
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
        table.replace("a-dev", Vec::new());
        assert!(table.find("GET", "/dev/users/me").is_none());
    }

    #[test]
    fn input_from_body_then_query_then_empty() {
        assert_eq!(execution_input(b"{\"a\": 1}", Some("b=2")), "{\"a\": 1}");
        assert_eq!(execution_input(b"", Some("b=2&c=x%20y")), r#"{"b":"2","c":"x y"}"#);
        assert_eq!(execution_input(b"  ", None), "{}");
    }
}
