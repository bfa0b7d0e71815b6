//! serverless.yml forms beyond the examples, and errors that name file, line and key.

use deploy::plan::{ResourceKind, Target};
use deploy::source::SourceFile;
use deploy::{ConfigError, Partition, Plan, Sources};
use std::path::Path;

fn plan(text: &str) -> Result<Plan, ConfigError> {
    let file = SourceFile::parse(Path::new("/project/serverless.yml"), text)?;
    let sources = Sources { instance_id: "i1".into(), account: "000000000000".into(), ..Sources::default() };
    deploy::project::plan_source(&file, &sources, Partition { region: "us-east-1".into(), account: "000000000000".into() })
}

#[test]
fn errors_name_file_line_and_key() {
    let error = plan("service: s\nfunctions:\n  a:\n    handler: h.a\n    environment:\n      X: ${env:NOT_SET}\n").unwrap_err();
    assert_eq!(error.to_string().split(": ").next(), Some("/project/serverless.yml:6"));
    assert_eq!(error.key, "functions.a.environment.X");
    let error = plan("service: s\nstepFunctions:\n  stateMachines:\n    m:\n      definition:\n        StartAt: A\n        States:\n          A:\n            Type: Task\n            Resource: !GetAtt Missing.Arn\n            End: true\n").unwrap_err();
    assert_eq!(error.line, Some(10), "{error}");
    assert!(error.message.contains("Missing"), "{error}");
    let error = plan("service: s\nfunctions:\n  a:\n    handler: h.a\n    events:\n      - schedule: rate(5 minute)\n").unwrap_err();
    assert_eq!((error.line, error.key.as_str()), (Some(6), "functions.a.events[0].schedule"));
    let error = plan("service: s\nstepFunctions:\n  stateMachines:\n    m:\n      definition:\n        StartAt: Nowhere\n        States:\n          A: {Type: Pass, End: true}\n").unwrap_err();
    assert!(error.message.contains("Nowhere") || error.message.contains("MISSING"), "{error}");
    let error = plan("service: [unclosed\n").unwrap_err();
    assert!(error.message.starts_with("Invalid YAML") && error.line.is_some(), "{error}");
    let error = plan("service: s\nfunctions:\n  a:\n    <<: *missing\n").unwrap_err();
    assert_eq!(error.line, Some(4), "{error}");
    assert_eq!(plan("provider: {name: aws}\n").unwrap_err().key, "service");
}

#[test]
fn http_event_forms_and_functions() {
    let plan = plan(
        "service: s\nprovider: {name: aws, runtime: python3.12, environment: {A: '1'}}\nfunctions:\n  hello:\n    handler: app.hello\n    name: custom-name\n    environment: {B: 2}\n    events:\n      - http: get users/{id}\n      - httpApi: 'POST /items'\n      - http: {path: /, method: any}\n      - sqs: arn:aws:sqs:us-east-1:000000000000:q\n",
    )
    .unwrap();
    let function = &plan.functions[0];
    assert_eq!((function.name.as_str(), function.runtime.as_str(), function.memory_size, function.timeout), ("custom-name", "python3.12", 1024, 6));
    assert_eq!(function.environment.get("A").map(String::as_str), Some("1"));
    assert_eq!(function.environment.get("B").map(String::as_str), Some("2"));
    let routes: Vec<(&str, &str)> = plan.routes.iter().map(|route| (route.method.as_str(), route.path.as_str())).collect();
    assert_eq!(routes, [("GET", "/dev/users/{id}"), ("POST", "/items"), ("ANY", "/dev")]);
    assert!(matches!(&plan.routes[0].target, Target::Function { name, .. } if name == "custom-name"));
    assert_eq!(plan.warnings, ["functions.hello.events[3].sqs: sqs events are not triggered locally"]);
}

#[test]
fn conditions_parameters_and_resource_state_machines() {
    let plan = plan(
        "service: s
provider: {name: aws, stage: prod}
resources:
  Parameters:
    Size: {Type: Number, Default: 2}
  Conditions:
    IsProd: !Equals [!Ref 'AWS::StackName', s-prod]
    IsDev: !Not [!Condition IsProd]
  Resources:
    Logs:
      Type: AWS::Logs::LogGroup
      Condition: IsDev
    Queue:
      Type: AWS::SQS::Queue
    Machine:
      Type: AWS::StepFunctions::StateMachine
      Properties:
        StateMachineName: !Sub '${AWS::StackName}-machine'
        DefinitionString: '{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Pass\", \"Result\": \"${size}\", \"End\": true}}}'
        DefinitionSubstitutions:
          size: !If [IsProd, !Ref Size, 1]
    Work:
      Type: AWS::StepFunctions::Activity
      Properties: {Name: work}
    Cluster:
      Type: AWS::ECS::Cluster
      Properties: {ClusterName: !Join ['-', [!Ref 'AWS::StackName', c]]}
",
    )
    .unwrap();
    assert_eq!(plan.stage, "prod");
    assert!(plan.resources.iter().all(|resource| resource.kind != ResourceKind::LogGroup), "the IsDev resource is left out");
    assert_eq!(plan.state_machines[0].name, "s-prod-machine");
    assert_eq!(plan.state_machines[0].definition, r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"2","End":true}}}"#);
    assert_eq!(plan.activities[0].arn, "arn:aws:states:us-east-1:000000000000:activity:work");
    assert_eq!(plan.resources[0].name, "s-prod-c");
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].contains("AWS::SQS::Queue"), "{:?}", plan.warnings);
}

#[test]
fn plugins_not_provided_are_warned_about_and_popular_ones_explained() {
    let plan = plan("service: s\nplugins:\n  - serverless-step-functions\n  - serverless-offline\n  - serverless-domain-manager\n").unwrap();
    assert_eq!(plan.warnings, ["plugins: serverless-domain-manager is not run locally"]);
    assert_eq!(plan.notes, ["plugins: serverless-offline: switchyard up itself serves the project's endpoints"]);
}

#[test]
fn images_resolve_by_name_uri_and_the_frameworks_repository() {
    let plan = plan(
        "service: s\nprovider:\n  name: aws\n  ecr:\n    images:\n      app:\n        path: ./app\n        file: Containerfile\n        buildArgs: {V: 2}\n        platform: linux/arm64\n        cacheFrom: [123456789012.dkr.ecr.us-east-1.amazonaws.com/app:cache]\n      prebuilt:\n        uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/tools:v1\nfunctions:\n  byName: {image: {name: app}}\n  byUri: {image: prebuilt}\nresources:\n  Resources:\n    Task:\n      Type: AWS::ECS::TaskDefinition\n      Properties:\n        ContainerDefinitions:\n          - {Name: a, Image: '000000000000.dkr.ecr.us-east-1.amazonaws.com/serverless-s-dev:app'}\n          - {Name: b, Image: prebuilt}\n",
    )
    .unwrap();
    let image = &plan.images[0];
    assert_eq!((image.reference.as_str(), image.dockerfile.as_str(), image.platform.as_deref()), ("app:latest", "Containerfile", Some("linux/arm64")));
    assert_eq!((image.build_args["V"].as_str(), image.cache_from.as_slice()), ("2", ["app:cache".to_owned()].as_slice()));
    assert_eq!(plan.images.len(), 1, "a uri is not built");
    let images: Vec<Option<&str>> = plan.functions.iter().map(|function| function.image.as_deref()).collect();
    assert_eq!(images, [Some("app:latest"), Some("tools:v1")]);
    let containers = &plan.resources[0].properties["ContainerDefinitions"];
    assert_eq!((containers[0]["Image"].as_str(), containers[1]["Image"].as_str()), (Some("app:latest"), Some("tools:v1")));
}

#[test]
fn outputs_are_evaluated_when_their_condition_holds() {
    let plan = plan(
        "service: s\nresources:\n  Conditions:\n    IsProd: !Equals ['${sls:stage}', prod]\n  Resources:\n    Queue:\n      Type: AWS::Batch::JobQueue\n      Properties: {JobQueueName: q, Priority: 1, ComputeEnvironmentOrder: []}\n    Job:\n      Type: AWS::Batch::JobDefinition\n      Properties: {Type: container}\n  Outputs:\n    QueueArn:\n      Description: the queue\n      Value: !GetAtt Queue.JobQueueArn\n      Export: {Name: !Sub '${AWS::StackName}-queue'}\n    Job:\n      Value: !Ref Job\n    OnlyInProd:\n      Condition: IsProd\n      Value: x\n",
    )
    .unwrap();
    let outputs: Vec<(&str, &str, Option<&str>)> = plan.outputs.iter().map(|output| (output.name.as_str(), output.value.as_str(), output.export_name.as_deref())).collect();
    assert_eq!(
        outputs,
        [
            ("QueueArn", "arn:aws:batch:us-east-1:000000000000:job-queue/q", Some("s-dev-queue")),
            ("Job", "arn:aws:batch:us-east-1:000000000000:job-definition/s-dev-Job:${Revision}", None),
        ]
    );
    let error = self::plan("service: s\nresources:\n  Outputs:\n    Broken:\n      Value: !Ref Nothing\n").unwrap_err();
    assert_eq!((error.line, error.key.as_str()), (Some(5), "resources.Outputs.Broken.Value.Ref"), "{error}");
}

#[test]
fn the_region_is_the_option_then_the_providers() {
    let file = SourceFile::parse(Path::new("/project/serverless.yml"), "service: s\nprovider: {name: aws, region: eu-west-1}\n").unwrap();
    let mut sources = Sources::default();
    assert_eq!(deploy::project::region(&file, &sources).unwrap(), "eu-west-1");
    sources.options.insert("region".into(), "ap-south-1".into());
    assert_eq!(deploy::project::region(&file, &sources).unwrap(), "ap-south-1");
}

#[test]
fn merge_keys_share_function_settings() {
    let plan = plan("service: s\ncustom:\n  defaults: &defaults\n    memorySize: 256\n    timeout: 30\nfunctions:\n  a:\n    <<: *defaults\n    handler: a.main\n    timeout: 5\n").unwrap();
    assert_eq!((plan.functions[0].memory_size, plan.functions[0].timeout), (256, 5));
}
