//! What points the AWS SDKs inside a task at this server: the endpoint and dummy credentials that
//! functions, containers and batch jobs all get, so `boto3.client('s3')` or `aws s3 cp` reach
//! Switchyard unmodified — or, with an external S3, S3 calls reach that one with its
//! credentials. A task's own variables of the same names win.

/// The credentials every task gets; the server accepts any unless access keys are configured.
pub const SDK_CREDENTIAL: &str = "switchyard";

/// An S3 other than this server's (`--s3-endpoint`) that Switchyard and every task use instead.
#[derive(Clone, Debug)]
pub struct ExternalS3 {
    /// `http(s)://HOST:PORT`, addressed path-style.
    pub endpoint: String,
    /// The region requests to it are signed for.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The CA certificates (a PEM file) an https endpoint's certificate is checked with, when
    /// not the platform's: tasks get it too, or their SDKs would refuse the endpoint.
    pub ca_bundle: Option<String>,
}

/// The variables, in order, for a server at `endpoint` (when known) in `region`, with S3 at
/// `external_s3` when given. The external S3's credentials are the task's credentials: the
/// server's other APIs accept any unless access keys are configured.
pub fn sdk_environment(endpoint: Option<&str>, region: &str, external_s3: Option<&ExternalS3>) -> Vec<(String, String)> {
    let mut environment = Vec::new();
    if let Some(endpoint) = endpoint {
        environment.push(("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()));
    }
    match external_s3 {
        Some(s3) => {
            environment.push(("AWS_ENDPOINT_URL_S3".to_owned(), s3.endpoint.clone()));
            environment.push(("AWS_ACCESS_KEY_ID".to_owned(), s3.access_key_id.clone()));
            environment.push(("AWS_SECRET_ACCESS_KEY".to_owned(), s3.secret_access_key.clone()));
            // No session token: a real S3 rejects one it did not issue.
            if let Some(ca_bundle) = &s3.ca_bundle {
                // The AWS SDKs' and CLI's variable, and OpenSSL's for other clients.
                environment.push(("AWS_CA_BUNDLE".to_owned(), ca_bundle.clone()));
                environment.push(("SSL_CERT_FILE".to_owned(), ca_bundle.clone()));
            }
        }
        None => {
            for variable in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
                environment.push((variable.to_owned(), SDK_CREDENTIAL.to_owned()));
            }
        }
    }
    for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        environment.push((variable.to_owned(), region.to_owned()));
    }
    environment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_endpoint_credentials_and_region() {
        let environment = sdk_environment(Some("http://127.0.0.1:8083"), "eu-west-1", None);
        assert_eq!(environment[0], ("AWS_ENDPOINT_URL".to_owned(), "http://127.0.0.1:8083".to_owned()));
        assert!(environment.contains(&("AWS_ACCESS_KEY_ID".to_owned(), SDK_CREDENTIAL.to_owned())));
        assert!(environment.contains(&("AWS_DEFAULT_REGION".to_owned(), "eu-west-1".to_owned())));
        assert_eq!(sdk_environment(None, "us-east-1", None).len(), 5);
    }

    #[test]
    fn an_external_s3_gets_s3_calls_and_its_own_credentials() {
        let s3 = ExternalS3 { endpoint: "http://127.0.0.1:9000".into(), region: "us-east-1".into(), access_key_id: "minio".into(), secret_access_key: "minio-secret".into(), ca_bundle: None };
        let environment = sdk_environment(Some("http://127.0.0.1:8083"), "us-east-1", Some(&s3));
        let value = |name: &str| environment.iter().find(|(variable, _)| variable == name).map(|(_, value)| value.as_str());
        assert_eq!(value("AWS_ENDPOINT_URL"), Some("http://127.0.0.1:8083"));
        assert_eq!(value("AWS_ENDPOINT_URL_S3"), Some("http://127.0.0.1:9000"));
        assert_eq!((value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY")), (Some("minio"), Some("minio-secret")));
        assert_eq!(value("AWS_SESSION_TOKEN"), None);
        assert_eq!(value("AWS_CA_BUNDLE"), None);
    }

    #[test]
    fn an_external_s3_with_its_own_ca_gives_tasks_the_ca_file() {
        let s3 = ExternalS3 { endpoint: "https://s3.internal:9000".into(), region: "us-east-1".into(), access_key_id: "k".into(), secret_access_key: "s".into(), ca_bundle: Some("/etc/ca.pem".into()) };
        let environment = sdk_environment(None, "us-east-1", Some(&s3));
        assert!(environment.contains(&("AWS_ENDPOINT_URL_S3".to_owned(), "https://s3.internal:9000".to_owned())));
        assert!(environment.contains(&("AWS_CA_BUNDLE".to_owned(), "/etc/ca.pem".to_owned())));
        assert!(environment.contains(&("SSL_CERT_FILE".to_owned(), "/etc/ca.pem".to_owned())));
    }
}
