//! Payload templates of JSONPath mode (Parameters, ResultSelector, ItemSelector, Assign): keys ending
//! in `.$` take their value from a path, a context path, a variable or an intrinsic function.

use crate::{Failure, Scope};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Template {}

impl Template {
    /// Compiles once at definition load so that evaluation does no parsing.
    pub fn compile(template: &Value) -> Result<Template, String> {
        todo!("{template}")
    }

    /// The payload; failures carry AWS's error and cause text (without the
    /// "An error occurred while executing the state ..." prefix, which the interpreter adds).
    pub fn evaluate(&self, scope: &Scope) -> Result<Value, Failure> {
        todo!("{:?}", scope.input)
    }
}
