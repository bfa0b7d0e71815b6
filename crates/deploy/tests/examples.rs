//! The example projects planned as `switchyard up --stage dev` plans them.

use deploy::plan::{ResourceKind, Target};
use deploy::{Partition, Plan, Sources};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name).join("serverless.yml")
}

fn sources() -> Sources {
    let mut sources = Sources { instance_id: "i1".into(), account: "000000000000".into(), ..Sources::default() };
    sources.options.insert("stage".into(), "dev".into());
    sources
}

fn local() -> Partition {
    Partition { region: "us-east-1".into(), account: "000000000000".into() }
}

fn planned(name: &str) -> Plan {
    deploy::plan(&example(name), &sources(), local()).unwrap_or_else(|error| panic!("{error}"))
}

fn definition(plan: &Plan, name: &str) -> Value {
    let machine = plan.state_machines.iter().find(|machine| machine.name == name).unwrap_or_else(|| panic!("no state machine {name}"));
    serde_json::from_str(&machine.definition).unwrap()
}

#[test]
fn activity_checker() {
    let plan = planned("activity-checker");
    assert_eq!((plan.service.as_str(), plan.stage.as_str(), plan.stack_name.as_str()), ("stepf", "dev", "stepf-dev"));
    let names: Vec<&str> = plan.functions.iter().map(|function| function.name.as_str()).collect();
    assert_eq!(names, ["stepf-dev-main", "stepf-dev-checker", "stepf-dev-proc"]);
    let checker = &plan.functions[1];
    assert_eq!(checker.environment["activityName"], "arn:aws:states:us-east-1:000000000000:activity:outsideTask");
    assert_eq!(checker.environment["executorName"], "arn:aws:lambda:us-east-1:000000000000:function:stepf-dev-proc");
    assert_eq!((checker.runtime.as_str(), checker.memory_size, checker.timeout), ("python3.11", 128, 300));
    assert_eq!(plan.activities[0].arn, "arn:aws:states:us-east-1:000000000000:activity:outsideTask");
    let definition = definition(&plan, "myStateMachine");
    assert_eq!(definition["States"]["TaskLambda"]["Resource"], "arn:aws:lambda:us-east-1:000000000000:function:stepf-dev-main");
    assert_eq!(definition["States"]["TaskActivity"]["Resource"], "arn:aws:states:us-east-1:000000000000:activity:outsideTask");
    assert_eq!(plan.routes.len(), 1);
    assert_eq!((plan.routes[0].method.as_str(), plan.routes[0].path.as_str()), ("GET", "/dev/gofunction"));
    assert_eq!(plan.schedules.len(), 1);
    assert_eq!(plan.schedules[0].expression, "rate(5 minutes)");
    assert_eq!(plan.schedules[0].target, Target::Function { name: "stepf-dev-checker".into(), arn: "arn:aws:lambda:us-east-1:000000000000:function:stepf-dev-checker".into() });
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn batch_pipeline() {
    let plan = planned("batch-pipeline");
    let definition = definition(&plan, "StepFuncBatch-StepFunction");
    let batch = &definition["States"]["BatchStep"]["Parameters"];
    assert_eq!(batch["JobQueue"], "arn:aws:batch:us-east-1:000000000000:job-queue/StepFuncBatch-dev-JobQueue");
    // `Ref` names the revision the server registers, which it fills in.
    assert_eq!(batch["JobDefinition"], "arn:aws:batch:us-east-1:000000000000:job-definition/StepFuncBatch-dev-JobDefinition:${Revision}");
    let revised = plan.with_revision("arn:aws:batch:us-east-1:000000000000:job-definition/StepFuncBatch-dev-JobDefinition", "arn:aws:batch:us-east-1:000000000000:job-definition/StepFuncBatch-dev-JobDefinition:3").unwrap();
    assert_eq!(self::definition(&revised, "StepFuncBatch-StepFunction")["States"]["BatchStep"]["Parameters"]["JobDefinition"], "arn:aws:batch:us-east-1:000000000000:job-definition/StepFuncBatch-dev-JobDefinition:3");
    let queue = plan.resources.iter().find(|resource| resource.kind == ResourceKind::JobQueue).unwrap();
    assert_eq!(queue.properties["ComputeEnvironmentOrder"][0]["ComputeEnvironment"], "arn:aws:batch:us-east-1:000000000000:compute-environment/StepFuncBatch-dev-ComputeEnvironment");
    let job = plan.resources.iter().find(|resource| resource.kind == ResourceKind::JobDefinition).unwrap();
    assert_eq!(job.properties["ContainerProperties"]["Image"], "stepfunctiontest:latest");
    let environment = plan.resources.iter().find(|resource| resource.kind == ResourceKind::ComputeEnvironment).unwrap();
    assert_eq!(environment.properties["ComputeResources"]["Subnets"][0], "PublicSubnet1");
    assert_eq!(plan.images.len(), 1);
    assert_eq!(plan.images[0].reference, "stepfunctiontest:latest");
    assert!(plan.images[0].context.ends_with("batch-pipeline/./") || plan.images[0].context.ends_with("batch-pipeline/"), "{}", plan.images[0].context);
    let skipped: Vec<&str> = plan.not_applicable.iter().map(|skipped| skipped.resource_type.as_str()).collect();
    assert_eq!(skipped, ["AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup"]);
    assert_eq!(plan.routes[0].path, "/dev/startFunction");
}

#[test]
fn fargate_pipeline() {
    let plan = planned("fargate-pipeline");
    let machine = plan.state_machines.iter().find(|machine| machine.name == "StepFunctionFargate-StepFunction").unwrap();
    assert_eq!(machine.role_arn, "arn:aws:iam::000000000000:role/StepFunctionFargate-dev-ECSPassRole");
    let definition: Value = serde_json::from_str(&machine.definition).unwrap();
    let run = &definition["States"]["FargateStep"]["Parameters"];
    assert_eq!(run["Cluster"], "StepFunctionFargate-dev-ECSCluster");
    assert_eq!(run["TaskDefinition"], "arn:aws:ecs:us-east-1:000000000000:task-definition/dockerFargate:${Revision}");
    assert_eq!(run["Overrides"]["ContainerOverrides"][0]["Name"], "dockerFargate");
    let task = plan.resources.iter().find(|resource| resource.kind == ResourceKind::TaskDefinition).unwrap();
    assert_eq!(task.properties["ContainerDefinitions"][0]["Image"], "stepfunctiontest:latest");
    // A Number parameter is text where it is referenced, as in CloudFormation; the ECS applier makes it a number again.
    assert_eq!(task.properties["ContainerDefinitions"][0]["Cpu"], "256");
    assert_eq!(task.properties["ContainerDefinitions"][0]["LogConfiguration"]["Options"]["awslogs-group"], "/ecs/fargate-StepFunctionFargate-dev");
    assert!(plan.resources.iter().any(|resource| resource.kind == ResourceKind::LogGroup && resource.name == "/ecs/fargate-StepFunctionFargate-dev"));
}

#[test]
fn hyperparameter_training() {
    let plan = planned("hyperparameter-training");
    let definition = definition(&plan, "DeepLearningTrainingCPU-StepFunction");
    assert_eq!(definition["States"]["PrepareMapStepF"]["Resource"], "arn:aws:lambda:us-east-1:000000000000:function:DeepLearningTrainingCPU-dev-LambdaMap");
    assert_eq!(definition["States"]["StartStepF"]["Result"]["s3_bucket"], "training-data");
    let bucket = plan.resources.iter().find(|resource| resource.kind == ResourceKind::Bucket).unwrap();
    assert_eq!(bucket.name, "training-data");
    let environment = plan.resources.iter().find(|resource| resource.kind == ResourceKind::ComputeEnvironment).unwrap();
    assert_eq!(environment.name, "i1-ComputeEnvironment");
    assert_eq!(environment.properties["ComputeResources"]["Type"], "SPOT");
    assert_eq!(plan.functions[0].environment["S3_BUCKET"], "training-data");
    let mut sources = sources();
    sources.env.insert("S3_BUCKET".into(), "elsewhere".into());
    let plan = deploy::plan(&example("hyperparameter-training"), &sources, local()).unwrap();
    assert_eq!(plan.resources.iter().find(|resource| resource.kind == ResourceKind::Bucket).unwrap().name, "elsewhere");
}

#[test]
fn nightly_report() {
    let plan = planned("nightly-report");
    assert_eq!(plan.schedules.len(), 1);
    let schedule = &plan.schedules[0];
    assert_eq!(schedule.expression, "cron(0 2 * * ? *)");
    assert_eq!(schedule.input, Some(serde_json::json!({"bucket": "reports", "prefix": "incoming/"})));
    assert_eq!(schedule.id, "nightly-report-dev-NightlyReport-schedule-1");
    let definition = definition(&plan, "nightly-report");
    assert_eq!(definition["States"]["Summarize"]["Parameters"]["Cluster"], "nightly-report-dev-ReportCluster");
    assert_eq!(definition["States"]["Summarize"]["Parameters"]["TaskDefinition"], "arn:aws:ecs:us-east-1:000000000000:task-definition/nightly-report:${Revision}");
    assert!(plan.routes.is_empty());
}

#[test]
fn the_region_of_arns_is_the_servers() {
    let plan = deploy::plan(&example("activity-checker"), &sources(), Partition { region: "eu-west-3".into(), account: "123456789012".into() }).unwrap();
    assert_eq!(plan.functions[0].arn, "arn:aws:lambda:eu-west-3:123456789012:function:stepf-dev-main");
}
