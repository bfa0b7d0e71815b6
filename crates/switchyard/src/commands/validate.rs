use super::read_argument;
use asl::validate::{validate as check, Severity};
use clap::Args;
use serde_json::json;
use std::process::ExitCode;

#[derive(Args)]
pub struct ValidateArgs {
    /// The definition: a JSON or YAML file (or inline JSON).
    definition: String,
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let text = read_argument(&args.definition)?;
    let diagnostics = match asl::definition::parse_text(&text) {
        Ok(definition) => check(&definition),
        Err(message) => vec![asl::validate::Diagnostic {
            severity: Severity::Error,
            code: "INVALID_JSON_DESCRIPTION".to_owned(),
            message,
            location: String::new(),
        }],
    };
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let result = if failed { "FAIL" } else { "OK" };
    println!("{}", serde_json::to_string_pretty(&json!({ "result": result, "diagnostics": diagnostics, "truncated": false }))?);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
