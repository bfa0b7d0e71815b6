//! An external S3 (AWS, MinIO, Garage, Ceph, s3s-fs) as Switchyard's object store, for
//! `--s3-endpoint`: requests are presigned with SigV4 (`rusty-s3`, path-style addressing, so any
//! endpoint and bucket name work without DNS) and sent over HTTP/1.1 keep-alive connections, in
//! TLS for an `https` endpoint (its certificate checked against the platform's root
//! certificates, or the CA file `SSL_CERT_FILE` names); S3's error answers become the same
//! [`ObjectError`]s the embedded store returns.

use crate::disk::{Attributes, ObjectInfo};
use crate::list::{ListRequest, Listing};
use crate::store::{now_ms, ObjectStore, ObjectStream};
use crate::ObjectError;
use bytes::Bytes;
use compute::sdk_environment::ExternalS3;
use futures::TryStreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, BodyDataStream, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use rusty_s3::actions::{CreateBucket, DeleteBucket, GetObject, HeadBucket, HeadObject, ListObjectsV2, PutObject};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::sync::Arc;
use std::time::Duration;

/// How long a presigned request stays valid: it is sent at once, so this only absorbs clock skew
/// and slow connections.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(300);

/// A request body: bytes at hand, or a stream (a Map Run's result file).
type RequestBody = BoxBody<Bytes, std::io::Error>;

fn bytes_body(bytes: Bytes) -> RequestBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// The object store on an external S3.
pub struct RemoteObjects {
    endpoint: url::Url,
    region: String,
    credentials: Credentials,
    client: Client<HttpsConnector<HttpConnector>, RequestBody>,
}

impl RemoteObjects {
    /// Fails on an endpoint that is not an `http://` or `https://` URL, and for `https` when no
    /// root certificate can be loaded.
    pub fn new(external: &ExternalS3) -> Result<RemoteObjects, ObjectError> {
        let invalid = |problem: String| ObjectError::InvalidArgument(format!("--s3-endpoint {}: {problem}", external.endpoint));
        let endpoint = url::Url::parse(&external.endpoint).map_err(|error| invalid(error.to_string()))?;
        let https = match endpoint.scheme() {
            _ if endpoint.host_str().is_none() => return Err(invalid("an http(s)://HOST[:PORT] URL is needed".into())),
            "http" => false,
            "https" => true,
            other => return Err(invalid(format!("the scheme {other} is not http or https"))),
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        // The TLS layer below hands https URLs to this connector too.
        connector.enforce_http(false);
        let connector = HttpsConnectorBuilder::new().with_tls_config(tls_config(https).map_err(invalid)?).https_or_http().enable_http1().wrap_connector(connector);
        Ok(RemoteObjects {
            endpoint,
            region: external.region.clone(),
            credentials: Credentials::new(external.access_key_id.clone(), external.secret_access_key.clone()),
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
        })
    }

    fn bucket(&self, name: &str) -> Result<Bucket, ObjectError> {
        Bucket::new(self.endpoint.clone(), UrlStyle::Path, name.to_owned(), self.region.clone())
            .map_err(|error| ObjectError::Remote { code: "InvalidBucketName".into(), message: format!("{name}: {error}"), status: 400 })
    }

    /// Sends a presigned request; answers other than 2xx become errors, read from S3's XML.
    async fn send(&self, method: Method, url: url::Url, headers: &[(&str, &str)], body: Bytes, subject: Subject<'_>) -> Result<Response<Incoming>, ObjectError> {
        self.send_body(method, url, headers, bytes_body(body), subject).await
    }

    async fn send_body(&self, method: Method, url: url::Url, headers: &[(&str, &str)], body: RequestBody, subject: Subject<'_>) -> Result<Response<Incoming>, ObjectError> {
        let mut request = Request::builder().method(method).uri(url.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body).map_err(|error| ObjectError::InvalidArgument(error.to_string()))?;
        let response = self.client.request(request).await.map_err(|error| unreachable_endpoint(&self.endpoint, &error))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = collect(response).await?;
        Err(error_of(status, &body, subject))
    }

    /// PutObject with a body of `size` bytes (S3 wants the length before a streamed body).
    async fn put(&self, bucket: &str, key: &str, body: RequestBody, size: u64, attributes: Attributes) -> Result<ObjectInfo, ObjectError> {
        let location = self.bucket(bucket)?;
        let mut action = PutObject::new(&location, Some(&self.credentials), key);
        // x-amz-* headers must be signed; the others need not.
        for (name, value) in &attributes.metadata {
            action.headers_mut().insert(format!("{METADATA_PREFIX}{name}"), value.clone());
        }
        let url = action.sign(SIGNATURE_LIFETIME);
        let mut headers: Vec<(String, String)> = action.headers_mut().iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect();
        headers.push(("content-length".to_owned(), size.to_string()));
        let mut fields = attributes.clone();
        for (name, field) in ATTRIBUTE_HEADERS.iter().zip(attribute_fields(&mut fields)) {
            if let Some(value) = field.take() {
                headers.push(((*name).to_owned(), value));
            }
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let response = self.send_body(Method::PUT, url, &headers, body, Subject::Key(bucket, key)).await?;
        let etag = unquoted(header(response.headers(), "etag").unwrap_or_default());
        Ok(ObjectInfo { key: key.to_owned(), size, etag, last_modified_ms: now_ms(), attributes })
    }

    async fn head_bucket(&self, location: &Bucket) -> Result<(), ObjectError> {
        let url = HeadBucket::new(location, Some(&self.credentials)).sign(SIGNATURE_LIFETIME);
        self.send(Method::HEAD, url, &[], Bytes::new(), Subject::Bucket(location.name())).await.map(drop)
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError> {
        let location = self.bucket(bucket)?;
        let url = HeadObject::new(&location, Some(&self.credentials), key).sign(SIGNATURE_LIFETIME);
        let response = self.send(Method::HEAD, url, &[], Bytes::new(), Subject::Key(bucket, key)).await?;
        info_of(key, response.headers(), None)
    }
}

/// How certificates are checked: against the platform's root certificates, or the PEM file
/// SSL_CERT_FILE (or the directories SSL_CERT_DIR) names, as OpenSSL-based clients read them. An
/// http endpoint never handshakes and trusts nothing.
fn tls_config(https: bool) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if https {
        let loaded = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            let source = std::env::var("SSL_CERT_FILE").map_or_else(|_| "the platform's certificate store".to_owned(), |file| format!("SSL_CERT_FILE={file}"));
            let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
            return Err(format!("no root certificate to check its TLS certificate with in {source} ({})", errors.join("; ")));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().map_err(|error| error.to_string())?.with_root_certificates(roots).with_no_client_auth())
}

/// What a request was about, to name it in the error S3 answers with.
#[derive(Clone, Copy)]
enum Subject<'a> {
    Bucket(&'a str),
    Key(&'a str, &'a str),
}

/// A request that got no answer: the message names the endpoint and the innermost cause (a
/// refused connection, a certificate that does not verify), which hyper's error only wraps.
fn unreachable_endpoint(endpoint: &url::Url, error: &(dyn std::error::Error + 'static)) -> ObjectError {
    let mut message = format!("the external S3 at {endpoint} could not be reached: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    ObjectError::Remote { code: "ServiceUnavailable".into(), message, status: 503 }
}

async fn collect(response: Response<Incoming>) -> Result<Bytes, ObjectError> {
    Ok(response.into_body().collect().await.map_err(|error| ObjectError::Io(std::io::Error::other(error)))?.to_bytes())
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorDocument {
    code: String,
    message: String,
}

/// The error S3 answered with, as the embedded store names it. HEAD answers carry no body: the
/// status says what is missing.
fn error_of(status: StatusCode, body: &[u8], subject: Subject<'_>) -> ObjectError {
    let document: ErrorDocument = quick_xml::de::from_reader(body).unwrap_or_default();
    let code = match document.code.as_str() {
        "" if status == StatusCode::NOT_FOUND => match subject {
            Subject::Key(..) => "NoSuchKey",
            Subject::Bucket(_) => "NoSuchBucket",
        },
        "" => status.canonical_reason().unwrap_or("InternalError"),
        code => code,
    };
    let (bucket, key) = match subject {
        Subject::Bucket(bucket) => (bucket, ""),
        Subject::Key(bucket, key) => (bucket, key),
    };
    match code {
        "NoSuchKey" => ObjectError::NoSuchKey(key.to_owned()),
        "NoSuchBucket" => ObjectError::NoSuchBucket(bucket.to_owned()),
        "BucketAlreadyOwnedByYou" => ObjectError::BucketAlreadyOwnedByYou(bucket.to_owned()),
        "BucketNotEmpty" => ObjectError::BucketNotEmpty(bucket.to_owned()),
        code => ObjectError::Remote { code: code.to_owned(), message: document.message, status: status.as_u16() },
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The attribute headers S3 stores with an object and returns on reads, with their fields.
const ATTRIBUTE_HEADERS: [&str; 5] = ["content-type", "content-encoding", "content-disposition", "content-language", "cache-control"];

fn attribute_fields(attributes: &mut Attributes) -> [&mut Option<String>; 5] {
    [&mut attributes.content_type, &mut attributes.content_encoding, &mut attributes.content_disposition, &mut attributes.content_language, &mut attributes.cache_control]
}

const METADATA_PREFIX: &str = "x-amz-meta-";

/// An object's metadata from the headers of a GET or HEAD answer; `size` when the body is a
/// range (the whole size is then in `Content-Range`).
fn info_of(key: &str, headers: &HeaderMap, size: Option<u64>) -> Result<ObjectInfo, ObjectError> {
    let malformed = |what: &str| ObjectError::Remote { code: "InternalError".into(), message: format!("the external S3 answered without a valid {what}"), status: 502 };
    let size = match size {
        Some(size) => size,
        None => header(headers, "content-length").and_then(|length| length.parse().ok()).ok_or_else(|| malformed("Content-Length"))?,
    };
    let mut attributes = Attributes::default();
    for (name, field) in ATTRIBUTE_HEADERS.iter().zip(attribute_fields(&mut attributes)) {
        *field = header(headers, name).map(str::to_owned);
    }
    attributes.metadata = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().strip_prefix(METADATA_PREFIX)?.to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let last_modified_ms = header(headers, "last-modified").and_then(|date| chrono::DateTime::parse_from_rfc2822(date).ok()).map_or_else(now_ms, |date| date.timestamp_millis());
    Ok(ObjectInfo { key: key.to_owned(), size, etag: unquoted(header(headers, "etag").unwrap_or_default()), last_modified_ms, attributes })
}

fn unquoted(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

/// The whole size of an object from `Content-Range: bytes 0-9/1234`.
fn whole_size(headers: &HeaderMap) -> Option<u64> {
    header(headers, "content-range")?.rsplit_once('/')?.1.parse().ok()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CopyObjectResult {
    #[serde(rename = "ETag")]
    etag: String,
}

#[async_trait::async_trait]
impl ObjectStore for RemoteObjects {
    async fn get_object(&self, bucket: &str, key: &str, range: Option<(u64, Option<u64>)>) -> Result<(ObjectInfo, ObjectStream), ObjectError> {
        let location = self.bucket(bucket)?;
        let url = GetObject::new(&location, Some(&self.credentials), key).sign(SIGNATURE_LIFETIME);
        let range = range.map(|(first, last)| format!("bytes={first}-{}", last.map(|last| last.to_string()).unwrap_or_default()));
        let headers: Vec<(&str, &str)> = range.iter().map(|range| ("range", range.as_str())).collect();
        let response = self.send(Method::GET, url, &headers, Bytes::new(), Subject::Key(bucket, key)).await?;
        let partial = response.status() == StatusCode::PARTIAL_CONTENT;
        let info = info_of(key, response.headers(), if partial { whole_size(response.headers()) } else { None })?;
        let stream = BodyDataStream::new(response.into_body()).map_err(std::io::Error::other);
        Ok((info, Box::pin(sync_wrapper::SyncStream::new(stream))))
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Bytes, attributes: Attributes) -> Result<ObjectInfo, ObjectError> {
        let size = body.len() as u64;
        self.put(bucket, key, bytes_body(body), size, attributes).await
    }

    async fn put_object_streamed(&self, bucket: &str, key: &str, body: ObjectStream, size: u64, attributes: Attributes) -> Result<ObjectInfo, ObjectError> {
        self.put(bucket, key, StreamBody::new(body.map_ok(Frame::data)).boxed(), size, attributes).await
    }

    async fn list_objects(&self, bucket: &str, request: &ListRequest<'_>) -> Result<Listing, ObjectError> {
        let location = self.bucket(bucket)?;
        let mut action = ListObjectsV2::new(&location, Some(&self.credentials));
        if !request.prefix.is_empty() {
            action.with_prefix(request.prefix);
        }
        if let Some(delimiter) = request.delimiter {
            action.with_delimiter(delimiter);
        }
        if let Some(start_after) = request.start_after {
            action.with_start_after(start_after);
        }
        if let Some(token) = request.continuation_token {
            action.with_continuation_token(token);
        }
        action.with_max_keys(request.max_keys);
        let url = action.sign(SIGNATURE_LIFETIME);
        let response = self.send(Method::GET, url, &[], Bytes::new(), Subject::Bucket(bucket)).await?;
        let body = collect(response).await?;
        let parsed = ListObjectsV2::parse_response(&String::from_utf8_lossy(&body))
            .map_err(|error| ObjectError::Remote { code: "InternalError".into(), message: format!("the external S3 answered a listing that does not parse: {error}"), status: 502 })?;
        let objects = parsed
            .contents
            .into_iter()
            .map(|object| {
                let last_modified_ms = object.last_modified.as_deref().and_then(|date| chrono::DateTime::parse_from_rfc3339(date).ok()).map_or(0, |date| date.timestamp_millis());
                let etag = unquoted(object.etag.as_deref().unwrap_or_default());
                Arc::new(ObjectInfo { key: object.key, size: object.size.unwrap_or(0), etag, last_modified_ms, attributes: Attributes::default() })
            })
            .collect();
        Ok(Listing { objects, common_prefixes: parsed.common_prefixes.into_iter().map(|prefix| prefix.prefix).collect(), next_continuation_token: parsed.next_continuation_token })
    }

    async fn copy_object(&self, source_bucket: &str, source_key: &str, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError> {
        let location = self.bucket(bucket)?;
        // CopyObject is a PUT with a signed x-amz-copy-source (bucket/key, the key URL-encoded).
        let source = format!("{source_bucket}/{}", percent_encoding::utf8_percent_encode(source_key, COPY_SOURCE_ESCAPED));
        let mut action = PutObject::new(&location, Some(&self.credentials), key);
        action.headers_mut().insert("x-amz-copy-source", source.clone());
        let url = action.sign(SIGNATURE_LIFETIME);
        let response = self.send(Method::PUT, url, &[("x-amz-copy-source", &source)], Bytes::new(), Subject::Key(source_bucket, source_key)).await?;
        // S3 may fail a copy after its 200 status line: the body then holds an error.
        let body = collect(response).await?;
        let result: CopyObjectResult = quick_xml::de::from_reader(&body[..]).map_err(|_| error_of(StatusCode::INTERNAL_SERVER_ERROR, &body, Subject::Key(bucket, key)))?;
        let info = self.head(bucket, key).await?;
        Ok(ObjectInfo { etag: unquoted(&result.etag), ..info })
    }

    async fn put_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        let location = self.bucket(bucket)?;
        let action = CreateBucket::new(&location, &self.credentials);
        let url = action.sign(SIGNATURE_LIFETIME);
        match self.send(Method::PUT, url, &[], Bytes::from(action.body()), Subject::Bucket(bucket)).await {
            // Some servers (s3s-fs, Ceph in some setups) say BucketAlreadyExists for a bucket of
            // the same owner: one these credentials can read is theirs.
            Err(ObjectError::Remote { code, .. }) if code == "BucketAlreadyExists" && self.head_bucket(&location).await.is_ok() => Err(ObjectError::BucketAlreadyOwnedByYou(bucket.to_owned())),
            answer => answer.map(drop),
        }
    }

    async fn remove_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        let location = self.bucket(bucket)?;
        let url = DeleteBucket::new(&location, &self.credentials).sign(SIGNATURE_LIFETIME);
        self.send(Method::DELETE, url, &[], Bytes::new(), Subject::Bucket(bucket)).await?;
        Ok(())
    }
}

/// What a copy source key escapes: everything but unreserved characters and `/`.
const COPY_SOURCE_ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_error_codes_become_the_embedded_stores_errors() {
        let no_such_key = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        assert!(matches!(error_of(StatusCode::NOT_FOUND, no_such_key, Subject::Key("b", "k")), ObjectError::NoSuchKey(key) if key == "k"));
        assert!(matches!(error_of(StatusCode::NOT_FOUND, b"", Subject::Bucket("b")), ObjectError::NoSuchBucket(bucket) if bucket == "b"));
        assert!(matches!(error_of(StatusCode::NOT_FOUND, b"", Subject::Key("b", "k")), ObjectError::NoSuchKey(_)));
        let denied = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        let error = error_of(StatusCode::FORBIDDEN, denied, Subject::Bucket("b"));
        assert_eq!((error.code(), error.status(), error.to_string()), ("AccessDenied", 403, "Access Denied".to_owned()));
    }

    /// A throwaway self-signed root (its key discarded): what SSL_CERT_FILE names in these tests,
    /// so that they do not depend on the machine's certificate store.
    const TEST_ROOT: &str = "-----BEGIN CERTIFICATE-----\nMIIBlTCCATugAwIBAgIUYEEsOmAuvGHKXHWiFalrp03whRAwCgYIKoZIzj0EAwIw\nHzEdMBsGA1UEAwwUU3dpdGNoeWFyZCB0ZXN0IHJvb3QwIBcNMjYxMTIzMjAxOTEx\nWhgPMjEyNjEwMzAyMDE5MTFaMB8xHTAbBgNVBAMMFFN3aXRjaHlhcmQgdGVzdCBy\nb290MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAFVA2EbJloAK1Yz2XAaDZ5F/\ny3HaznT9OD6eKUVJU+co3q1yb5ch2ErJkvqPoeXTw9OdAp7xWDQi90hBePP+MqNT\nMFEwHQYDVR0OBBYEFHoh6qZCwu3wwxwxUF/zTKavkmU9MB8GA1UdIwQYMBaAFHoh\n6qZCwu3wwxwxUF/zTKavkmU9MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\nSAAwRQIgDOoLRNxydQYj5nw+U876R5SVvnYGXG+ofC/SzNAWI0oCIQC9lbmK1fnH\nNDEeAFUVeuC03KojvymUPavwX/OjuNL6Yg==\n-----END CERTIFICATE-----\n";

    fn external(endpoint: &str) -> ExternalS3 {
        ExternalS3 { endpoint: endpoint.into(), region: "us-east-1".into(), access_key_id: "k".into(), secret_access_key: "s".into(), ca_bundle: None }
    }

    /// Points SSL_CERT_FILE at `pem` (nextest runs each test in its own process: the variables
    /// reach no other test).
    fn trust(pem: Option<&str>) {
        let file = std::env::temp_dir().join(format!("objects-root-{}.pem", uuid::Uuid::new_v4()));
        if let Some(pem) = pem {
            std::fs::write(&file, pem).unwrap();
        }
        std::env::set_var("SSL_CERT_FILE", &file);
        std::env::remove_var("SSL_CERT_DIR");
    }

    #[test]
    fn http_and_https_endpoints_are_accepted() {
        trust(Some(TEST_ROOT));
        assert!(RemoteObjects::new(&external("http://127.0.0.1:9000")).is_ok());
        assert!(RemoteObjects::new(&external("https://s3.amazonaws.com")).is_ok());
        assert!(RemoteObjects::new(&external("ftp://127.0.0.1:9000")).is_err());
        assert!(RemoteObjects::new(&external("not a url")).is_err());
    }

    #[test]
    fn an_https_endpoint_without_root_certificates_is_refused_naming_ssl_cert_file() {
        trust(None);
        let Err(error) = RemoteObjects::new(&external("https://localhost:9000")) else { panic!("an https endpoint with no root certificate") };
        assert!(error.to_string().starts_with("--s3-endpoint https://localhost:9000: no root certificate to check its TLS certificate with in SSL_CERT_FILE="), "{error}");
        assert!(RemoteObjects::new(&external("http://localhost:9000")).is_ok(), "http needs no root certificate");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_named_with_the_cause() {
        trust(Some(TEST_ROOT));
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let error = RemoteObjects::new(&external(&format!("https://{closed}"))).unwrap().put_bucket("b").await.unwrap_err();
        assert_eq!(error.code(), "ServiceUnavailable");
        assert!(error.to_string().starts_with(&format!("the external S3 at https://{closed}/ could not be reached: ")), "{error}");
        assert!(error.to_string().to_lowercase().contains("connection refused"), "{error}");
    }

    #[test]
    fn a_ranged_answer_gives_the_whole_size() {
        let mut headers = HeaderMap::new();
        headers.insert("content-range", "bytes 0-9/1234".parse().unwrap());
        assert_eq!(whole_size(&headers), Some(1234));
    }
}
