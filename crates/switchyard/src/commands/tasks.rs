//! The task dispatcher of `switchyard run`: mocks and local functions from the command line.

use super::read_argument;
use super::run::RunArgs;
use anyhow::anyhow;
use asl::mock::MockConfig;
use compute::{FunctionSet, FunctionSpec, ProcessRunner};
use engine::functions::Functions;
use engine::local_tasks::{LocalTasks, Mocks};
use ecs::EcsTasks;
use engine::TaskDispatcher;
use store::MemoryStore;
use std::path::Path;
use std::sync::Arc;

pub fn local_dispatcher(args: &RunArgs) -> anyhow::Result<Arc<dyn TaskDispatcher>> {
    let mocks = match (&args.mock_config, &args.test_case) {
        (Some(path), Some(test_case)) => Some(Mocks {
            config: MockConfig::parse(&read_argument(path)?).map_err(|e| anyhow!("invalid mock config {path}: {e}"))?,
            state_machine: args.name.clone().unwrap_or_default(),
            test_case: test_case.clone(),
        }),
        _ => None,
    };
    let functions = Functions::declared_only(load_functions(args.functions.as_deref(), &args.function)?, Arc::new(ProcessRunner::new()));
    let ecs = args.containers.ecs(Arc::new(MemoryStore::new()), &run_scratch_dir(), "us-east-1", "000000000000", Vec::new())?;
    Ok(Arc::new(LocalTasks::new(Arc::new(functions), mocks).with_service("ecs", Arc::new(EcsTasks::new(ecs)))))
}

/// Where the container tasks of a `switchyard run` keep their runner's records and logs; removed
/// when the run ends.
pub fn run_scratch_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("switchyard-run-{}", std::process::id()))
}

/// Lambda functions named by `--functions FILE` and `--function NAME=FILE:HANDLER` (the latter win).
pub fn load_functions(file: Option<&str>, each: &[String]) -> anyhow::Result<FunctionSet> {
    let mut functions = FunctionSet::new();
    if let Some(path) = file {
        let base = Path::new(path).parent().unwrap_or(Path::new("."));
        for spec in FunctionSpec::parse_file(&read_argument(path)?, base).map_err(|e| anyhow!("invalid functions file {path}: {e}"))? {
            functions.insert(spec);
        }
    }
    for argument in each {
        functions.insert(FunctionSpec::parse_cli(argument).map_err(|e| anyhow!("invalid --function {argument}: {e}"))?);
    }
    Ok(functions)
}
