//! Static checks of a definition, shaped like ValidateStateMachineDefinition's diagnostics.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    /// A path into the definition, e.g. `/States/Greet/Parameters`.
    pub location: String,
}

/// Every problem found; a definition with no `Error` diagnostic can be loaded and run.
pub fn validate(definition: &Value) -> Vec<Diagnostic> {
    let _ = definition;
    Vec::new()
}
