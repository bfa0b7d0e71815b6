//! Workflow variables (`Assign`): each Parallel branch and Map iteration reads the variables of its
//! enclosing scopes and writes only its own.

use serde_json::{Map, Value};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Variables {
    own: Map<String, Value>,
    outer: Option<Arc<Variables>>,
}

impl Variables {
    pub fn new() -> Self {
        Self::default()
    }

    /// A nested scope (branch or iteration) that sees `outer` read-only.
    pub fn nested(outer: Arc<Variables>) -> Self {
        Variables { own: Map::new(), outer: Some(outer) }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.own.get(name) {
            Some(value) => Some(value),
            None => self.outer.as_deref().and_then(|outer| outer.get(name)),
        }
    }

    pub fn set(&mut self, name: String, value: Value) {
        self.own.insert(name, value);
    }

    /// Every visible variable, inner scopes shadowing outer ones (JSONata binds them all).
    pub fn visible(&self) -> Map<String, Value> {
        let mut all = self.outer.as_deref().map(Variables::visible).unwrap_or_default();
        for (name, value) in &self.own {
            all.insert(name.clone(), value.clone());
        }
        all
    }

    pub fn own(&self) -> &Map<String, Value> {
        &self.own
    }
}
