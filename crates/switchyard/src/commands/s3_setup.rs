//! How a server gets its S3: the embedded store under the data dir, or with `--s3-endpoint` an
//! external S3 that Switchyard and every task use instead.

use anyhow::Context;
use clap::Args;
use compute::sdk_environment::ExternalS3;
use objects::service::AccessKey;
use std::path::Path;
use std::sync::Arc;

#[derive(Args, Clone)]
pub struct S3Args {
    /// An external S3 (AWS, MinIO, Garage, Ceph, s3s-fs; http(s)://HOST:PORT, path-style) that
    /// Switchyard and every function, container and batch job use instead of the embedded
    /// store. S3 requests sent to this server are then refused, naming it. An https endpoint's
    /// certificate is checked against the platform's CAs, or those in the file SSL_CERT_FILE
    /// names (which tasks then get as AWS_CA_BUNDLE and SSL_CERT_FILE).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// The access key id for --s3-endpoint. (Not `requires = "s3_endpoint"`: clap would then
    /// demand an endpoint from everyone whose environment holds AWS credentials.)
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    s3_access_key_id: Option<String>,
    /// The secret access key for --s3-endpoint.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    s3_secret_access_key: Option<String>,
    /// The region requests to --s3-endpoint are signed for.
    #[arg(long, default_value = "us-east-1")]
    s3_region: String,
}

impl S3Args {
    /// The external S3, when one is named; its credentials are required.
    pub fn external(&self) -> anyhow::Result<Option<ExternalS3>> {
        let Some(endpoint) = &self.s3_endpoint else { return Ok(None) };
        let (Some(access_key_id), Some(secret_access_key)) = (&self.s3_access_key_id, &self.s3_secret_access_key) else {
            anyhow::bail!("--s3-endpoint needs --s3-access-key-id and --s3-secret-access-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
        };
        let ca_bundle = std::env::var("SSL_CERT_FILE").ok().filter(|_| endpoint.starts_with("https://"));
        Ok(Some(ExternalS3 { endpoint: endpoint.clone(), region: self.s3_region.clone(), access_key_id: access_key_id.clone(), secret_access_key: secret_access_key.clone(), ca_bundle }))
    }

    /// Gives these settings to a `serve` started for `up --detach`; the credentials go through
    /// its environment, not its command line (which `ps` shows).
    pub fn pass_to(&self, serve: &mut std::process::Command) -> anyhow::Result<()> {
        if let Some(external) = self.external()? {
            serve.args(["--s3-endpoint", &external.endpoint, "--s3-region", &external.region]);
            serve.env("AWS_ACCESS_KEY_ID", &external.access_key_id).env("AWS_SECRET_ACCESS_KEY", &external.secret_access_key);
        }
        Ok(())
    }
}

/// The S3 of a server: the external one when given, else the embedded store in `data_dir`
/// (checking signatures with `key` when one is configured).
pub fn open(external: Option<&ExternalS3>, data_dir: &Path, key: Option<&AccessKey>) -> anyhow::Result<api::S3Endpoint> {
    match external {
        Some(external) => {
            let store = objects::RemoteObjects::new(external).map_err(|error| anyhow::anyhow!("{error}"))?;
            tracing::info!(endpoint = %external.endpoint, "objects are kept in the external S3");
            Ok(api::S3Endpoint::external(Arc::new(store), &external.endpoint))
        }
        None => {
            let objects = objects::Objects::open(&data_dir.join("objects")).with_context(|| format!("opening the object store in {}", data_dir.display()))?;
            Ok(api::S3Endpoint::new(Arc::new(objects), key))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::S3Args;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        s3: S3Args,
    }

    #[test]
    fn credentials_in_the_environment_ask_for_no_endpoint() {
        // nextest runs each test in its own process: the variables reach no other test.
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "secret");
        let parsed = Command::try_parse_from(["switchyard"]).unwrap_or_else(|error| panic!("{error}"));
        assert!(parsed.s3.external().unwrap().is_none());
        let parsed = Command::try_parse_from(["switchyard", "--s3-endpoint", "http://127.0.0.1:9000"]).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(parsed.s3.external().unwrap().unwrap().access_key_id, "AKIDEXAMPLE");
    }

    #[test]
    fn an_https_endpoint_hands_tasks_the_ca_file_of_ssl_cert_file() {
        // nextest runs each test in its own process: the variables reach no other test.
        std::env::set_var("SSL_CERT_FILE", "/tmp/ca.pem");
        let external = |endpoint: &str| {
            let parsed = Command::try_parse_from(["switchyard", "--s3-endpoint", endpoint, "--s3-access-key-id", "k", "--s3-secret-access-key", "s"]).unwrap_or_else(|error| panic!("{error}"));
            parsed.s3.external().unwrap().unwrap()
        };
        assert_eq!(external("https://s3.internal:9000").ca_bundle.as_deref(), Some("/tmp/ca.pem"));
        assert_eq!(external("http://127.0.0.1:9000").ca_bundle, None);
    }
}
