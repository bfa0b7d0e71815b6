//! The running server's deployment endpoint, over loopback HTTP.

use anyhow::{anyhow, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

const DEPLOYMENTS: &str = "/_switchyard/deployments";

pub struct Server {
    endpoint: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What a server says about itself.
pub struct ServerInfo {
    pub region: String,
    pub account: String,
}

impl Server {
    pub fn new(endpoint: &str) -> Server {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_millis(500)));
        Server { endpoint: endpoint.trim_end_matches('/').to_owned(), client: Client::builder(TokioExecutor::new()).build(connector) }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's region and account, or None when nothing answers at the endpoint.
    pub async fn probe(&self) -> Option<ServerInfo> {
        let (status, answer) = tokio::time::timeout(Duration::from_secs(2), self.call("GET", DEPLOYMENTS, None)).await.ok()?.ok()?;
        if status != 200 {
            return None;
        }
        Some(ServerInfo { region: answer.get("region")?.as_str()?.to_owned(), account: answer.get("account")?.as_str()?.to_owned() })
    }

    pub async fn deploy(&self, name: &str, plan: &Value) -> anyhow::Result<Value> {
        self.expect_ok("PUT", &format!("{DEPLOYMENTS}/{name}"), Some(plan.to_string())).await
    }

    /// None when there is no such deployment.
    pub async fn remove(&self, name: &str) -> anyhow::Result<Option<Value>> {
        let (status, answer) = self.call("DELETE", &format!("{DEPLOYMENTS}/{name}"), None).await?;
        match status {
            200 => Ok(Some(answer)),
            404 => Ok(None),
            _ => Err(failure(&answer)),
        }
    }

    async fn expect_ok(&self, method: &str, path: &str, body: Option<String>) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method, path, body).await?;
        if status == 200 {
            Ok(answer)
        } else {
            Err(failure(&answer))
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<String>) -> anyhow::Result<(u16, Value)> {
        let request = hyper::Request::builder().method(method).uri(format!("{}{path}", self.endpoint)).header("content-type", "application/json").body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = self.client.request(request).await.with_context(|| format!("{} does not answer", self.endpoint))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let answer = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, answer))
    }
}

fn failure(answer: &Value) -> anyhow::Error {
    let message = answer.get("message").and_then(Value::as_str).unwrap_or("the server refused the deployment");
    match answer.get("applied").and_then(Value::as_array).filter(|applied| !applied.is_empty()) {
        Some(applied) => anyhow!("{message} (already applied: {})", applied.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
        None => anyhow!("{message}"),
    }
}
