//! JSONPath in JSONPath-mode states: reading paths (`$`, `$$` context, `$var` variables) and
//! reference paths (ResultPath) that write into the input.

use crate::{Failure, Scope};
use serde_json::Value;

/// A path that reads: `$...` from the state input, `$$...` from the context object,
/// `$name...` from a workflow variable.
#[derive(Debug, Clone)]
pub struct Path {}

impl Path {
    pub fn parse(text: &str) -> Result<Path, String> {
        todo!("{text}")
    }

    pub fn as_str(&self) -> &str {
        todo!()
    }

    /// The selected value; `None` when the path matches nothing. Indefinite paths (wildcards,
    /// filters, slices, unions, deep scan) select an array of their matches.
    pub fn select(&self, scope: &Scope) -> Option<Value> {
        todo!("{:?}", scope.input)
    }

    /// As InputPath / OutputPath / ItemsPath read: no match is AWS's States.Runtime
    /// "Invalid path '$.x' : No results for path: $['x']".
    pub fn select_required(&self, scope: &Scope) -> Result<Value, Failure> {
        todo!("{:?}", scope.input)
    }
}

/// A ResultPath: a definite path into the state input where the result is placed.
#[derive(Debug, Clone)]
pub struct ReferencePath {}

impl ReferencePath {
    pub fn parse(text: &str) -> Result<ReferencePath, String> {
        todo!("{text}")
    }

    /// `input` with `result` placed at this path (creating objects on the way as AWS does), or
    /// States.ResultPathMatchFailure when the path runs into a non-object.
    pub fn write(&self, input: Value, result: Value) -> Result<Value, Failure> {
        todo!("{input}{result}")
    }
}
