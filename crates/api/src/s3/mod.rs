//! S3 on the shared port: requests signed for the `s3` service go to the embedded object store
//! (or, with an external S3, are refused with a message naming it).
//!
//! S3 uses every method and arbitrary paths (`PUT /bucket/key`, `POST /bucket?delete`, and with
//! virtual-host-style addressing even `POST /?delete`), so it cannot be told apart by path like
//! the other APIs: it is recognised by the service in the SigV4 credential scope, from the
//! `Authorization` header or, for presigned URLs, the `X-Amz-Credential` query parameter —
//! before any other routing. Signature version 2 (`Authorization: AWS KEY:SIGNATURE`, presigned
//! `AWSAccessKeyId=...&Signature=...`, what boto3 presigns by default) only exists for S3.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use objects::service::AccessKey;
use objects::{ObjectStore, Objects};
use std::sync::Arc;

/// S3 on this server's port, and the store that deployments create buckets in.
#[derive(Clone)]
pub struct S3Endpoint {
    served: Served,
    /// Where `AWS::S3::Bucket` resources are created.
    pub store: Arc<dyn ObjectStore>,
}

#[derive(Clone)]
enum Served {
    /// The embedded store answers. When access keys are not configured, signatures are removed
    /// before `s3s` sees the request, so that any credentials are accepted.
    Embedded { service: s3s::service::S3Service, verifies_signatures: bool },
    /// With `--s3-endpoint` the external S3 is *the* S3 (tasks, deployments and the engine all
    /// use it): S3 requests that reach this port are refused with a message naming it, rather
    /// than served from a second store holding other buckets.
    External { endpoint: String },
}

impl S3Endpoint {
    pub fn new(objects: Arc<Objects>, key: Option<&AccessKey>) -> S3Endpoint {
        let service = objects::service::build(objects.clone(), key);
        S3Endpoint { served: Served::Embedded { service, verifies_signatures: key.is_some() }, store: Arc::new(objects) }
    }

    /// The S3 at `endpoint`, reached through `store`.
    pub fn external(store: Arc<dyn ObjectStore>, endpoint: &str) -> S3Endpoint {
        S3Endpoint { served: Served::External { endpoint: endpoint.to_owned() }, store }
    }

    async fn call(&self, request: Request) -> Response {
        let (service, verifies_signatures) = match &self.served {
            Served::Embedded { service, verifies_signatures } => (service, *verifies_signatures),
            Served::External { endpoint } => return misdirected(endpoint),
        };
        let request = if verifies_signatures { request } else { unsigned(request) };
        match service.call(request.map(s3s::Body::http_body_unsync)).await {
            Ok(response) => response.map(Body::new),
            Err(error) => {
                tracing::error!(?error, "S3 request failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// The answer to an S3 request while S3 is external. Not S3's PermanentRedirect: SDKs follow that
/// to the bucket's regional AWS endpoint (boto3 loops on it), where the message naming the
/// external S3 is what helps.
fn misdirected(endpoint: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidRequest</Code><Message>This server uses the external S3 at {endpoint}: send S3 requests there (AWS_ENDPOINT_URL_S3={endpoint}).</Message></Error>"
    );
    (StatusCode::BAD_REQUEST, [("content-type", "application/xml")], body).into_response()
}

/// The middleware that sends S3 requests to the S3 endpoint and everything else on.
pub async fn route(State(endpoint): State<Option<S3Endpoint>>, request: Request, next: Next) -> Response {
    match endpoint {
        Some(endpoint) if signed_for_s3(&request) => endpoint.call(request).await,
        _ => next.run(request).await,
    }
}

const CREDENTIAL: &str = "Credential=";

/// The service named in a SigV4 credential (`AKID/20261123/us-east-1/s3/aws4_request`).
fn credential_service(credential: &str) -> Option<&str> {
    credential.split('/').nth(3)
}

fn signed_for_s3(request: &Request) -> bool {
    if let Some(authorization) = request.headers().get("authorization").and_then(|value| value.to_str().ok()) {
        if authorization.starts_with("AWS ") {
            return true;
        }
        return authorization
            .strip_prefix("AWS4-HMAC-SHA256")
            .and_then(|parameters| parameters.split(',').find_map(|parameter| parameter.trim().strip_prefix(CREDENTIAL)))
            .and_then(credential_service)
            == Some("s3");
    }
    query_parameter(request.uri(), "X-Amz-Credential").is_some_and(|credential| credential_service(&credential) == Some("s3"))
        || (query_parameter(request.uri(), "AWSAccessKeyId").is_some() && query_parameter(request.uri(), "Signature").is_some())
}

fn query_parameter(uri: &Uri, wanted: &str) -> Option<String> {
    let query = uri.query()?;
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.eq_ignore_ascii_case(wanted).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match (bytes[at], bytes.get(at + 1..at + 3).and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                at += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Query parameters of a presigned URL's signature (version 4, then version 2).
const PRESIGNING_PARAMETERS: [&str; 10] =
    ["x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders", "x-amz-signature", "x-amz-security-token", "awsaccesskeyid", "signature", "expires"];

/// The request without its signature: what `s3s` serves without authentication.
fn unsigned(mut request: Request) -> Request {
    request.headers_mut().remove("authorization");
    let uri = request.uri().clone();
    if let Some(query) = uri.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !PRESIGNING_PARAMETERS.iter().any(|name| pair.split('=').next().is_some_and(|pair_name| pair_name.eq_ignore_ascii_case(name))))
            .collect();
        let path_and_query = if kept.is_empty() { uri.path().to_owned() } else { format!("{}?{}", uri.path(), kept.join("&")) };
        let mut parts = uri.into_parts();
        if let Ok(path_and_query) = path_and_query.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, authorization: Option<&str>) -> Request {
        let mut builder = axum::http::Request::builder().uri(uri);
        if let Some(authorization) = authorization {
            builder = builder.header("authorization", authorization);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn s3_is_recognised_by_the_credential_scope_of_the_header_or_the_presigned_url() {
        let header = "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc";
        assert!(signed_for_s3(&request("/bucket/key", Some(header))));
        let states = header.replace("/s3/", "/states/");
        assert!(!signed_for_s3(&request("/", Some(&states))));
        assert!(signed_for_s3(&request("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261123%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc", None)));
        assert!(signed_for_s3(&request("/b/k?AWSAccessKeyId=AKID&Signature=abc%3D&Expires=1795449140", None)));
        assert!(signed_for_s3(&request("/b/k", Some("AWS AKID:abc="))));
        assert!(!signed_for_s3(&request("/b/k", None)));
    }

    #[test]
    fn an_unsigned_request_keeps_its_own_query_parameters() {
        let stripped = unsigned(request("/b/k?partNumber=1&X-Amz-Signature=abc&uploadId=u", Some("AWS4-HMAC-SHA256 Credential=x")));
        assert_eq!(stripped.uri().to_string(), "/b/k?partNumber=1&uploadId=u");
        assert!(stripped.headers().get("authorization").is_none());
    }
}
