//! The task dispatcher of `switchyard run`: mocks and local functions from the command line.

use super::read_argument;
use super::run::RunArgs;
use anyhow::anyhow;
use asl::mock::MockConfig;
use asl::Failure;
use engine::local_tasks::{Functions, LocalTasks, Mocks};
use engine::TaskDispatcher;
use serde_json::Value;
use std::sync::Arc;

struct NoFunctions;

impl Functions for NoFunctions {
    fn invoke(&self, function: &str, _payload: &Value) -> Result<Value, Failure> {
        Err(Failure::new("Lambda.ResourceNotFoundException", format!("Function not found: {function}")))
    }
}

pub fn local_dispatcher(args: &RunArgs) -> anyhow::Result<Arc<dyn TaskDispatcher>> {
    let mocks = match (&args.mock_config, &args.test_case) {
        (Some(path), Some(test_case)) => Some(Mocks {
            config: MockConfig::parse(&read_argument(path)?).map_err(|e| anyhow!("invalid mock config {path}: {e}"))?,
            state_machine: args.name.clone(),
            test_case: test_case.clone(),
        }),
        _ => None,
    };
    Ok(Arc::new(LocalTasks::new(Box::new(NoFunctions), mocks)))
}
