//! JSONata query language: `{% ... %}` expressions inside any JSON value (Arguments, Output, Assign,
//! Condition, Items, ...), with `$states` and workflow variables bound, plus AWS's extra functions.

use crate::{Failure, Variables};
use serde_json::Value;

/// True when a string is a JSONata expression: `{%` ... `%}`.
pub fn is_expression(text: &str) -> bool {
    todo!("{text}")
}

/// A JSON value whose strings may be `{% expr %}`, compiled once.
#[derive(Debug, Clone)]
pub struct JsonataTemplate {}

impl JsonataTemplate {
    pub fn compile(template: &Value) -> Result<JsonataTemplate, String> {
        todo!("{template}")
    }

    /// The expression's text when the whole template is one `{% expr %}` string (for messages).
    pub fn source(&self) -> Option<&str> {
        todo!()
    }

    /// `states` is the `$states` object ({input, context, result?, errorOutput?}). `field` names the
    /// field for error messages ("Output", "Arguments", "Assign/x"); nested keys extend it
    /// ("Output/result"). Failures: States.QueryEvaluationError with AWS's message (without the
    /// "An error occurred while executing the state ..." prefix, which the interpreter adds).
    pub fn evaluate(&self, states: &Value, variables: &Variables, field: &str) -> Result<Value, Failure> {
        todo!("{states}{variables:?}{field}")
    }
}
