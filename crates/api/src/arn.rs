//! ARN syntax at the edge: `arn:PARTITION:states:REGION:ACCOUNT:TYPE:NAME...`, and whether its
//! resource type suits the operation. What the ARN names is the catalog's and runtime's question.

use crate::error::ApiError;

pub const STATE_MACHINE: &str = "stateMachine";
pub const EXECUTION: &str = "execution";
pub const ACTIVITY: &str = "activity";
pub const MAP_RUN: &str = "mapRun";

fn invalid_arn(detail: &str) -> ApiError {
    ApiError::service("InvalidArn", format!("Invalid Arn: '{detail}'"))
}

/// The ARN's resource type, e.g. `stateMachine`, when the rest of its syntax holds.
fn resource_type(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(7, ':');
    let well_formed = parts.next() == Some("arn")
        && parts.next().is_some_and(|partition| partition.starts_with("aws"))
        && parts.next() == Some("states")
        && parts.next().is_some_and(|region| !region.is_empty())
        && parts.next().is_some_and(|account| account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
    let resource_type = parts.next().filter(|_| well_formed)?;
    parts.next().filter(|name| !name.is_empty()).map(|_| resource_type)
}

/// Checks an ARN of Step Functions whose type must be one of `accepted`.
pub fn check(arn: &str, accepted: &[&str]) -> Result<(), ApiError> {
    match resource_type(arn) {
        None => Err(invalid_arn(&format!("Invalid ARN prefix: {arn}"))),
        Some(resource_type) if accepted.contains(&resource_type) => Ok(()),
        Some(resource_type) => Err(invalid_arn(&format!("Resource type not valid in this context: {resource_type}"))),
    }
}

/// Checks the ARN of an IAM role (or any other service's resource): only its prefix.
pub fn check_foreign(arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, service, _, _, resource] if partition.starts_with("aws") && !service.is_empty() && !resource.is_empty() => Ok(()),
        _ => Err(invalid_arn(&format!("Invalid ARN prefix: {arn}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_are_no_arns_have_an_invalid_prefix() {
        for arn in ["not_a_valid_arn", "arn:aws:lambda:us-east-1:000000000000:function:f", "arn:aws:states:us-east-1:0:stateMachine:m", "arn:aws:states:us-east-1:000000000000:stateMachine:"] {
            let error = check(arn, &[STATE_MACHINE]).unwrap_err();
            assert_eq!((error.code(), error.message.as_str()), ("InvalidArn", format!("Invalid Arn: 'Invalid ARN prefix: {arn}'").as_str()));
        }
    }

    #[test]
    fn an_arn_of_another_type_is_not_valid_in_this_context() {
        let error = check("arn:aws:states:us-east-1:000000000000:express:m:e:1", &[EXECUTION]).unwrap_err();
        assert_eq!(error.message, "Invalid Arn: 'Resource type not valid in this context: express'");
        assert!(check("arn:aws:states:us-east-1:000000000000:stateMachine:m:prod", &[STATE_MACHINE]).is_ok());
        assert!(check("arn:aws-us-gov:states:us-gov-west-1:000000000000:activity:a", &[STATE_MACHINE, ACTIVITY]).is_ok());
    }

    #[test]
    fn foreign_arns_need_only_a_prefix() {
        assert!(check_foreign("arn:aws:iam::123456789012:role/x").is_ok());
        assert_eq!(check_foreign("role").unwrap_err().message, "Invalid Arn: 'Invalid ARN prefix: role'");
    }
}
