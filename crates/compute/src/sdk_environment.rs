//! What points the AWS SDKs inside a task at this server: the endpoint and dummy credentials that
//! functions, containers and batch jobs all get, so `boto3.client('s3')` or `aws s3 cp` reach
//! Switchyard unmodified. A task's own variables of the same names win.

/// The credentials every task gets; the server accepts any unless access keys are configured.
pub const SDK_CREDENTIAL: &str = "switchyard";

/// The variables, in order, for a server at `endpoint` (when known) in `region`.
pub fn sdk_environment(endpoint: Option<&str>, region: &str) -> Vec<(String, String)> {
    let mut environment = Vec::new();
    if let Some(endpoint) = endpoint {
        environment.push(("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()));
    }
    for variable in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        environment.push((variable.to_owned(), SDK_CREDENTIAL.to_owned()));
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
        let environment = sdk_environment(Some("http://127.0.0.1:8083"), "eu-west-1");
        assert_eq!(environment[0], ("AWS_ENDPOINT_URL".to_owned(), "http://127.0.0.1:8083".to_owned()));
        assert!(environment.contains(&("AWS_ACCESS_KEY_ID".to_owned(), SDK_CREDENTIAL.to_owned())));
        assert!(environment.contains(&("AWS_DEFAULT_REGION".to_owned(), "eu-west-1".to_owned())));
        assert_eq!(sdk_environment(None, "us-east-1").len(), 5);
    }
}
