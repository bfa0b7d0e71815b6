//! Choice rules of JSONPath mode: comparison operators, their `...Path` forms, the `Is*` tests,
//! And / Or / Not. (JSONata mode's `Condition` is a JSONata expression, see `jsonata`.)

use crate::{Failure, Scope};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct ChoiceRule {}

impl ChoiceRule {
    /// A rule object (top-level rules also carry `Next` / `Assign` / `Output`, which are ignored here).
    pub fn compile(rule: &Value) -> Result<ChoiceRule, String> {
        todo!("{rule}")
    }

    pub fn matches(&self, scope: &Scope) -> Result<bool, Failure> {
        todo!("{:?}", scope.input)
    }
}
