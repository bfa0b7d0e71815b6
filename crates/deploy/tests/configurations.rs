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
    assert!(plan("service: [unclosed\n").unwrap_err().message.starts_with("Invalid YAML"));
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
fn plugins_not_provided_are_warned_about() {
    let plan = plan("service: s\nplugins:\n  - serverless-step-functions\n  - serverless-offline\n").unwrap();
    assert_eq!(plan.warnings, ["plugins: serverless-offline is not run locally"]);
}
