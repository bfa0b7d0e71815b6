//! What an expression can see while a state runs: its input, the context object (`$$`) and the
//! workflow variables.

use crate::Variables;
use serde_json::Value;

#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
    pub variables: &'a Variables,
}

impl<'a> Scope<'a> {
    pub fn new(input: &'a Value, context: &'a Value, variables: &'a Variables) -> Self {
        Scope { input, context, variables }
    }

    /// The same context and variables over another input (e.g. ResultSelector sees the task result).
    pub fn with_input(self, input: &'a Value) -> Self {
        Scope { input, ..self }
    }
}
