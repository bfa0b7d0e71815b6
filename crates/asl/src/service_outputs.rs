//! Checks a mocked Task result against the output shape of the API action the Task calls, as
//! TestState does with its `fieldValidationMode`.
//!
//! The shapes come from botocore's service models, reduced to what validation reads by
//! `scripts/generate-service-outputs.py` and embedded in the binary (parsed on first use). A
//! resource whose service is not among them is not checked, as AWS does not check a plain Lambda
//! function's result either.

use crate::interpreter::{Integration, Pattern};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

const SERVICE_OUTPUTS: &str = include_str!("../data/service_outputs.json");

/// How strictly a mocked result must match its action's output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Every field present must have its shape, and required fields must be present.
    Strict,
    /// Only the fields present are checked.
    Present,
    None,
}

impl FieldValidation {
    /// `fieldValidationMode` as the API spells it; STRICT when absent.
    pub fn parse(mode: Option<&str>) -> FieldValidation {
        match mode {
            Some("PRESENT") => FieldValidation::Present,
            Some("NONE") => FieldValidation::None,
            _ => FieldValidation::Strict,
        }
    }
}

#[derive(Deserialize)]
struct Service {
    operations: HashMap<String, String>,
    shapes: HashMap<String, Shape>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Shape {
    Structure {
        #[serde(default)]
        members: HashMap<String, String>,
        #[serde(default)]
        required: Vec<String>,
    },
    List {
        member: String,
    },
    Map {
        value: String,
    },
    String {
        min: Option<f64>,
        max: Option<f64>,
        #[serde(rename = "enum")]
        allowed: Option<Vec<String>>,
    },
    Blob {
        min: Option<f64>,
        max: Option<f64>,
    },
    Integer {
        min: Option<f64>,
        max: Option<f64>,
    },
    Long {
        min: Option<f64>,
        max: Option<f64>,
    },
    Double {
        min: Option<f64>,
        max: Option<f64>,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean,
    Timestamp,
    /// Shapes validation does not look into (documents, event streams).
    #[serde(other)]
    Unchecked,
}

fn services() -> &'static HashMap<String, Service> {
    static SERVICES: OnceLock<HashMap<String, Service>> = OnceLock::new();
    // The embedded file is generated and covered by tests: failing to read it is a build defect.
    SERVICES.get_or_init(|| serde_json::from_str(SERVICE_OUTPUTS).unwrap_or_default())
}

/// Checks `result`, the mocked result of a Task whose Resource is `resource`. The error is AWS's
/// message, e.g. "Mock result schema validation error: Field 'StatusCode' must be a number".
pub fn check_mocked_result(resource: &str, result: &Value, mode: FieldValidation) -> Result<(), String> {
    if mode == FieldValidation::None {
        return Ok(());
    }
    let Some(target) = Target::of(resource) else { return Ok(()) };
    let Some(service) = services().get(target.service) else { return Ok(()) };
    let Some(output) = service.operations.get(&target.operation) else { return Ok(()) };
    let checker = Checker { service, mode, blobs_are_json: target.blobs_are_json };
    checker.check(output, "", result, 0).map_err(|problem| format!("Mock result schema validation error: {problem}"))
}

/// The model and operation a Task resource calls.
struct Target {
    service: &'static str,
    operation: String,
    /// Optimized integrations hand blobs (a Lambda's `Payload`) over as JSON, not base64 text.
    blobs_are_json: bool,
}

impl Target {
    fn of(resource: &str) -> Option<Target> {
        let Integration::Service { service, action, pattern: Pattern::RequestResponse } = Integration::of(resource) else {
            return None;
        };
        let (service, blobs_are_json) = match service.strip_prefix("aws-sdk:") {
            Some(sdk_service) => (sdk_service, false),
            None => (service.as_str(), true),
        };
        let model = match service {
            "states" | "sfn" => "stepfunctions",
            "eventbridge" => "events",
            other => services().get_key_value(other)?.0.as_str(),
        };
        Some(Target { service: model, operation: pascal_case(&action), blobs_are_json })
    }
}

fn pascal_case(name: &str) -> String {
    let mut characters = name.chars();
    characters.next().map(|first| first.to_uppercase().chain(characters).collect()).unwrap_or_default()
}

struct Checker<'a> {
    service: &'a Service,
    mode: FieldValidation,
    blobs_are_json: bool,
}

/// Shapes nest, but never deeper than this in a real model; it bounds recursive shapes.
const MAX_DEPTH: usize = 64;

impl Checker<'_> {
    fn check(&self, shape_name: &str, field: &str, value: &Value, depth: usize) -> Result<(), String> {
        let Some(shape) = self.service.shapes.get(shape_name) else { return Ok(()) };
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let must_be = |kind: &str| Err(format!("Field '{field}' must be {kind}"));
        match shape {
            Shape::Structure { members, required } => {
                let Some(fields) = value.as_object() else { return must_be("an object") };
                if self.mode == FieldValidation::Strict {
                    if let Some(missing) = required.iter().map(|member| pascal_case(member)).find(|member| !fields.contains_key(member)) {
                        return Err(format!("Required field '{missing}' is missing"));
                    }
                }
                for (member, shape) in members {
                    let name = pascal_case(member);
                    if let Some(nested) = fields.get(&name) {
                        self.check(shape, &name, nested, depth + 1)?;
                    }
                }
                Ok(())
            }
            Shape::List { member } => {
                let Some(items) = value.as_array() else { return must_be("an array") };
                items.iter().try_for_each(|item| self.check(member, field, item, depth + 1))
            }
            Shape::Map { value: entry } => {
                let Some(entries) = value.as_object() else { return must_be("an object") };
                entries.values().try_for_each(|item| self.check(entry, field, item, depth + 1))
            }
            Shape::String { min, max, allowed } => {
                let Some(text) = value.as_str() else { return must_be("a string") };
                if allowed.as_ref().is_some_and(|allowed| !allowed.iter().any(|option| option == text)) {
                    return Err(format!("Field '{field}' is not an expected value"));
                }
                check_length(field, text, *min, *max)
            }
            Shape::Blob { .. } if self.blobs_are_json => Ok(()),
            Shape::Blob { min, max } => match value.as_str() {
                Some(text) => check_length(field, text, *min, *max),
                None => must_be("a string"),
            },
            Shape::Integer { min, max } | Shape::Long { min, max } | Shape::Double { min, max } | Shape::Float { min, max } => {
                let Some(number) = value.as_f64() else { return must_be("a number") };
                if min.is_some_and(|min| number < min) {
                    return Err(format!("Field '{field}' is less than the minimum value"));
                }
                if max.is_some_and(|max| number > max) {
                    return Err(format!("Field '{field}' exceeds the maximum value"));
                }
                Ok(())
            }
            Shape::Boolean if !value.is_boolean() => must_be("a boolean"),
            Shape::Timestamp if !value.is_string() => must_be("a string"),
            Shape::Boolean | Shape::Timestamp | Shape::Unchecked => Ok(()),
        }
    }
}

fn check_length(field: &str, text: &str, min: Option<f64>, max: Option<f64>) -> Result<(), String> {
    let length = text.chars().count() as f64;
    if min.is_some_and(|min| length < min) {
        return Err(format!("Field '{field}' is smaller than the minimum length"));
    }
    if max.is_some_and(|max| length > max) {
        return Err(format!("Field '{field}' is larger than the maximum length"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(resource: &str, result: Value, mode: FieldValidation) -> Result<(), String> {
        check_mocked_result(resource, &result, mode)
    }

    const START_EXECUTION: &str = "arn:aws:states:::states:startExecution";

    #[test]
    fn the_embedded_models_load() {
        assert!(services().contains_key("lambda") && services().contains_key("stepfunctions"));
    }

    #[test]
    fn strict_mode_wants_required_fields_in_the_sdks_capitalised_names() {
        let lowercase = json!({"executionArn": "arn", "startDate": "2025-01-01"});
        assert_eq!(
            check(START_EXECUTION, lowercase.clone(), FieldValidation::Strict),
            Err("Mock result schema validation error: Required field 'ExecutionArn' is missing".into())
        );
        assert_eq!(check(START_EXECUTION, lowercase, FieldValidation::Present), Ok(()));
        assert_eq!(check(START_EXECUTION, json!({"ExecutionArn": "arn", "StartDate": "2025-01-01"}), FieldValidation::Strict), Ok(()));
    }

    #[test]
    fn fields_outside_the_model_are_ignored() {
        assert_eq!(check("arn:aws:states:::events:putEvents", json!({"random": "json"}), FieldValidation::Strict), Ok(()));
    }

    #[test]
    fn types_are_named_as_aws_names_them() {
        let cases = [
            ("arn:aws:states:::lambda:invoke", json!({"StatusCode": "200"}), "Field 'StatusCode' must be a number"),
            (START_EXECUTION, json!({"ExecutionArn": "arn", "StartDate": 17}), "Field 'StartDate' must be a string"),
            ("arn:aws:states:::events:putEvents", json!({"Entries": "x"}), "Field 'Entries' must be an array"),
            ("arn:aws:states:::events:putEvents", json!({"Entries": [{"EventId": "a"}, {"EventId": ["b"]}]}), "Field 'EventId' must be a string"),
            ("arn:aws:states:::aws-sdk:kms:encrypt", json!({"CiphertextBlob": 123}), "Field 'CiphertextBlob' must be a string"),
            ("arn:aws:states:::aws-sdk:s3:getObject", json!({"StorageClass": "Papyrus"}), "Field 'StorageClass' is not an expected value"),
        ];
        for (resource, result, problem) in cases {
            assert_eq!(check(resource, result, FieldValidation::Present), Err(format!("Mock result schema validation error: {problem}")), "{resource}");
        }
    }

    #[test]
    fn bounds_are_checked() {
        let get_function = "arn:aws:states:::aws-sdk:lambda:getFunction";
        let memory = |size: i64| check(get_function, json!({"Configuration": {"MemorySize": size}}), FieldValidation::Present);
        assert_eq!(memory(127), Err("Mock result schema validation error: Field 'MemorySize' is less than the minimum value".into()));
        // The current model's maximum (32,768 MB); AWS's own validator answered with 10,240 in 2025.
        assert_eq!(memory(32_769), Err("Mock result schema validation error: Field 'MemorySize' exceeds the maximum value".into()));
        assert_eq!(memory(512), Ok(()));
        assert_eq!(
            check("arn:aws:states:::aws-sdk:kms:encrypt", json!({"CiphertextBlob": ""}), FieldValidation::Present),
            Err("Mock result schema validation error: Field 'CiphertextBlob' is smaller than the minimum length".into())
        );
    }

    #[test]
    fn an_optimized_lambda_payload_is_json_and_unchecked_modes_pass_anything() {
        assert_eq!(check("arn:aws:states:::lambda:invoke", json!({"StatusCode": 200, "Payload": {"a": 1}}), FieldValidation::Strict), Ok(()));
        assert_eq!(check("arn:aws:states:::lambda:invoke", json!({"StatusCode": "200"}), FieldValidation::None), Ok(()));
    }

    #[test]
    fn resources_without_a_model_are_not_checked() {
        assert_eq!(check("arn:aws:lambda:us-east-1:123456789012:function:f", json!({"StatusCode": "x"}), FieldValidation::Strict), Ok(()));
        assert_eq!(check("arn:aws:states:::aws-sdk:unknownservice:doThing", json!(1), FieldValidation::Strict), Ok(()));
        assert_eq!(check("arn:aws:states:::states:startExecution.sync:2", json!({}), FieldValidation::Strict), Ok(()));
    }
}
