//! ValidateStateMachineDefinition, through `asl::validate`.

use super::Reply;
use crate::constraints::Constraints;
use crate::error::ApiError;
use asl::validate::{self, Diagnostic, Severity, StateMachineType};
use engine::catalog::json_syntax_message;
use serde::Deserialize;
use serde_json::Value;

const MAX_DEFINITION_CHARS: usize = 1_048_576;
const MACHINE_TYPES: &[&str] = &["STANDARD", "EXPRESS"];
const SEVERITIES: &[&str] = &["ERROR", "WARNING"];
/// ValidateStateMachineDefinitionMaxResult; 0 or none means all of them, up to this.
const MAX_DIAGNOSTICS: i64 = 100;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ValidateRequest {
    definition: Option<String>,
    #[serde(rename = "type")]
    machine_type: Option<String>,
    severity: Option<String>,
    max_results: Option<i64>,
}

/// Every diagnostic of a definition: a JSON syntax error, or what `asl::validate` finds.
fn diagnose(definition: &str, machine_type: StateMachineType) -> Vec<Diagnostic> {
    match serde_json::from_str::<Value>(definition) {
        Ok(definition) => validate::validate_for(&definition, machine_type),
        Err(error) => vec![Diagnostic {
            severity: Severity::Error,
            code: "INVALID_JSON_DESCRIPTION".to_owned(),
            message: json_syntax_message(definition, &error),
            location: String::new(),
        }],
    }
}

/// Answers OK or FAIL with HTTP 200 either way; `severity` WARNING adds warnings to the errors.
pub fn validate(request: ValidateRequest) -> Result<Value, ApiError> {
    let definition = request.definition.as_deref();
    Constraints::new()
        .required("definition", definition)
        .sensitive_length("definition", definition, 1, MAX_DEFINITION_CHARS)
        .one_of("type", request.machine_type.as_deref(), MACHINE_TYPES)
        .one_of("severity", request.severity.as_deref(), SEVERITIES)
        .range("maxResults", request.max_results, 0, MAX_DIAGNOSTICS)
        .check()?;
    let machine_type = match request.machine_type.as_deref() {
        Some("EXPRESS") => StateMachineType::Express,
        _ => StateMachineType::Standard,
    };
    let mut diagnostics = diagnose(definition.unwrap_or_default(), machine_type);
    let failed = diagnostics.iter().any(|diagnostic| diagnostic.severity == Severity::Error);
    if request.severity.as_deref() != Some("WARNING") {
        diagnostics.retain(|diagnostic| diagnostic.severity == Severity::Error);
    }
    let limit = request.max_results.and_then(|max| usize::try_from(max).ok()).filter(|&max| max > 0).unwrap_or(100);
    let truncated = diagnostics.len() > limit;
    diagnostics.truncate(limit);
    Ok(Reply::new()
        .with("result", if failed { "FAIL" } else { "OK" })
        .with("diagnostics", serde_json::to_value(&diagnostics).unwrap_or(Value::Null))
        .with("truncated", truncated)
        .into())
}
