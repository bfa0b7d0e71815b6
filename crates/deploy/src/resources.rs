//! CloudFormation resource types: which become local resources, what their names, `Ref` and
//! `Fn::GetAtt` values are, and which have no local meaning.

use crate::naming::Partition;
use crate::plan::{pending_revision, ResourceKind};
use serde_json::Value;

/// How a resource of the template is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    Local(ResourceKind),
    /// `AWS::StepFunctions::StateMachine` / `Activity` declared as plain resources.
    StateMachine,
    Activity,
    /// IAM, VPC and networking: accepted, listed, not deployed.
    NotApplicable,
    /// Anything else: warned about by name.
    Unknown,
}

/// Prefixes of types that configure AWS itself (permissions, networks, load balancers, alarms).
const NOT_APPLICABLE: &[&str] = &[
    "AWS::IAM::",
    "AWS::EC2::",
    "AWS::ElasticLoadBalancing::",
    "AWS::ElasticLoadBalancingV2::",
    "AWS::ApplicationAutoScaling::",
    "AWS::AutoScaling::",
    "AWS::CloudWatch::",
    "AWS::ServiceDiscovery::",
    "AWS::Route53::",
    "AWS::KMS::",
    "AWS::Logs::SubscriptionFilter",
    "AWS::Logs::MetricFilter",
    "AWS::Lambda::Permission",
    "AWS::ECR::Repository",
];

pub fn deployment_of(resource_type: &str) -> Deployment {
    match resource_type {
        "AWS::Batch::ComputeEnvironment" => Deployment::Local(ResourceKind::ComputeEnvironment),
        "AWS::Batch::JobQueue" => Deployment::Local(ResourceKind::JobQueue),
        "AWS::Batch::JobDefinition" => Deployment::Local(ResourceKind::JobDefinition),
        "AWS::ECS::Cluster" => Deployment::Local(ResourceKind::Cluster),
        "AWS::ECS::TaskDefinition" => Deployment::Local(ResourceKind::TaskDefinition),
        "AWS::ECS::Service" => Deployment::Local(ResourceKind::EcsService),
        "AWS::S3::Bucket" => Deployment::Local(ResourceKind::Bucket),
        "AWS::Logs::LogGroup" => Deployment::Local(ResourceKind::LogGroup),
        "AWS::StepFunctions::StateMachine" => Deployment::StateMachine,
        "AWS::StepFunctions::Activity" => Deployment::Activity,
        other if NOT_APPLICABLE.iter().any(|prefix| other.starts_with(prefix)) => Deployment::NotApplicable,
        _ => Deployment::Unknown,
    }
}

/// The property that names a resource of this kind.
pub fn name_property(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::ComputeEnvironment => "ComputeEnvironmentName",
        ResourceKind::JobQueue => "JobQueueName",
        ResourceKind::JobDefinition => "JobDefinitionName",
        ResourceKind::Cluster => "ClusterName",
        ResourceKind::TaskDefinition => "Family",
        ResourceKind::EcsService => "ServiceName",
        ResourceKind::Bucket => "BucketName",
        ResourceKind::LogGroup => "LogGroupName",
    }
}

/// The name CloudFormation would generate (without its random suffix, so redeploys keep it).
pub fn generated_name(kind: ResourceKind, stack_name: &str, logical_id: &str) -> String {
    match kind {
        ResourceKind::Bucket => format!("{stack_name}-{logical_id}").to_lowercase(),
        ResourceKind::LogGroup => format!("/{stack_name}/{logical_id}"),
        _ => format!("{stack_name}-{logical_id}"),
    }
}

pub fn arn(kind: ResourceKind, partition: &Partition, name: &str, properties: &Value) -> String {
    match kind {
        ResourceKind::ComputeEnvironment => partition.arn("batch", &format!("compute-environment/{name}")),
        ResourceKind::JobQueue => partition.arn("batch", &format!("job-queue/{name}")),
        ResourceKind::JobDefinition => partition.arn("batch", &format!("job-definition/{name}")),
        ResourceKind::Cluster => partition.arn("ecs", &format!("cluster/{name}")),
        ResourceKind::TaskDefinition => partition.arn("ecs", &format!("task-definition/{name}")),
        ResourceKind::EcsService => {
            let cluster = properties.get("Cluster").and_then(Value::as_str).unwrap_or("default");
            let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
            partition.arn("ecs", &format!("service/{cluster}/{name}"))
        }
        ResourceKind::Bucket => format!("arn:aws:s3:::{name}"),
        ResourceKind::LogGroup => partition.arn("logs", &format!("log-group:{name}:*")),
    }
}

/// `Ref`, as CloudFormation documents it for each type: a name for clusters, buckets and log
/// groups; the registered revision's ARN for task and job definitions; an ARN for the rest.
pub fn reference(kind: ResourceKind, name: &str, arn: &str) -> Value {
    match kind {
        ResourceKind::Cluster | ResourceKind::Bucket | ResourceKind::LogGroup => Value::String(name.to_owned()),
        ResourceKind::TaskDefinition | ResourceKind::JobDefinition => Value::String(pending_revision(arn)),
        ResourceKind::ComputeEnvironment | ResourceKind::JobQueue | ResourceKind::EcsService => Value::String(arn.to_owned()),
    }
}

/// `Fn::GetAtt`, for the attributes CloudFormation documents for each type (a job definition
/// has none).
pub fn attribute(kind: ResourceKind, name: &str, arn: &str, partition: &Partition, attribute: &str) -> Option<Value> {
    let text = |value: String| Some(Value::String(value));
    match (kind, attribute) {
        (ResourceKind::ComputeEnvironment, "ComputeEnvironmentArn") | (ResourceKind::JobQueue, "JobQueueArn") | (ResourceKind::EcsService, "ServiceArn") => text(arn.to_owned()),
        (ResourceKind::Cluster | ResourceKind::Bucket | ResourceKind::LogGroup, "Arn") => text(arn.to_owned()),
        (ResourceKind::TaskDefinition, "TaskDefinitionArn") => text(pending_revision(arn)),
        (ResourceKind::EcsService, "Name") => text(name.to_owned()),
        (ResourceKind::Bucket, "DomainName") => text(format!("{name}.s3.amazonaws.com")),
        (ResourceKind::Bucket, "RegionalDomainName") => text(format!("{name}.s3.{}.amazonaws.com", partition.region)),
        (ResourceKind::Bucket, "DualStackDomainName") => text(format!("{name}.s3.dualstack.{}.amazonaws.com", partition.region)),
        (ResourceKind::Bucket, "WebsiteURL") => text(format!("http://{name}.s3-website-{}.amazonaws.com", partition.region)),
        _ => None,
    }
}

/// A not-applicable resource still answers `Ref` and `Fn::GetAtt`, with values of the right
/// shape (an IAM role's ARN must look like one where a state machine's role is checked).
pub fn placeholder_reference(resource_type: &str, logical_id: &str, stack_name: &str) -> Value {
    match resource_type {
        "AWS::IAM::Role" | "AWS::IAM::InstanceProfile" | "AWS::IAM::User" | "AWS::IAM::ManagedPolicy" => Value::String(format!("{stack_name}-{logical_id}")),
        _ => Value::String(logical_id.to_owned()),
    }
}

pub fn placeholder_attribute(resource_type: &str, logical_id: &str, stack_name: &str, partition: &Partition, attribute: &str) -> Value {
    let name = format!("{stack_name}-{logical_id}");
    match (resource_type, attribute) {
        ("AWS::IAM::Role", "Arn") => Value::String(format!("arn:aws:iam::{}:role/{name}", partition.account)),
        ("AWS::IAM::InstanceProfile", "Arn") => Value::String(format!("arn:aws:iam::{}:instance-profile/{name}", partition.account)),
        ("AWS::IAM::ManagedPolicy", "Arn") | ("AWS::IAM::ManagedPolicy", "PolicyArn") => Value::String(format!("arn:aws:iam::{}:policy/{name}", partition.account)),
        (_, "Arn") => {
            let service = resource_type.split("::").nth(1).unwrap_or("unknown").to_lowercase();
            Value::String(partition.arn(&service, logical_id))
        }
        _ => Value::String(format!("{logical_id}.{attribute}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_are_classified() {
        assert_eq!(deployment_of("AWS::Batch::JobQueue"), Deployment::Local(ResourceKind::JobQueue));
        assert_eq!(deployment_of("AWS::EC2::Subnet"), Deployment::NotApplicable);
        assert_eq!(deployment_of("AWS::IAM::Role"), Deployment::NotApplicable);
        assert_eq!(deployment_of("AWS::SQS::Queue"), Deployment::Unknown);
    }

    #[test]
    fn references_and_attributes() {
        let partition = Partition { region: "us-east-1".into(), account: "000000000000".into() };
        let arn = arn(ResourceKind::JobQueue, &partition, "q", &json!({}));
        assert_eq!(arn, "arn:aws:batch:us-east-1:000000000000:job-queue/q");
        assert_eq!(reference(ResourceKind::JobQueue, "q", &arn), json!(arn));
        assert_eq!(reference(ResourceKind::TaskDefinition, "family", "arn:aws:ecs:us-east-1:000000000000:task-definition/family"), json!("arn:aws:ecs:us-east-1:000000000000:task-definition/family:${Revision}"));
        assert_eq!(reference(ResourceKind::Cluster, "c", "arn:aws:ecs:us-east-1:000000000000:cluster/c"), json!("c"));
        assert_eq!(attribute(ResourceKind::JobQueue, "q", &arn, &partition, "JobQueueArn"), Some(json!(arn)));
        assert_eq!(attribute(ResourceKind::JobQueue, "q", &arn, &partition, "Arn"), None);
        assert_eq!(attribute(ResourceKind::LogGroup, "/g", "arn:aws:logs:us-east-1:000000000000:log-group:/g:*", &partition, "Arn"), Some(json!("arn:aws:logs:us-east-1:000000000000:log-group:/g:*")));
        assert_eq!(attribute(ResourceKind::Bucket, "b", "arn:aws:s3:::b", &partition, "DomainName"), Some(json!("b.s3.amazonaws.com")));
        assert_eq!(attribute(ResourceKind::Bucket, "b", "arn:aws:s3:::b", &partition, "Arn"), Some(json!("arn:aws:s3:::b")));
        assert_eq!(attribute(ResourceKind::Bucket, "b", "arn:aws:s3:::b", &partition, "Nope"), None);
        assert_eq!(generated_name(ResourceKind::Bucket, "Svc-dev", "Data"), "svc-dev-data");
        assert_eq!(placeholder_attribute("AWS::IAM::Role", "Role", "svc-dev", &partition, "Arn"), json!("arn:aws:iam::000000000000:role/svc-dev-Role"));
    }
}
