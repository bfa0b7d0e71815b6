//! The 18 intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...), nested to AWS's depth.

use crate::{Failure, Scope};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Intrinsic {}

impl Intrinsic {
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        todo!("{text}")
    }

    pub fn evaluate(&self, scope: &Scope) -> Result<Value, Failure> {
        todo!("{:?}", scope.input)
    }
}
