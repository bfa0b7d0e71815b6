//! Container tasks for `serve` and `run`: which runner runs them, and the ECS service over it.

use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};
use compute::containers::{ContainerRunner, EngineConfig, EngineRunner, ProcessRunner, PullPolicy, WithEnvironment};
use ecs::{Ecs, Region};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::Store;

#[derive(Args, Clone)]
pub struct ContainerArgs {
    /// What runs container tasks: `process` (subprocesses, no images), `engine` (Docker or Podman
    /// through the Docker Engine API, found via DOCKER_HOST or the usual sockets) or `auto` (the
    /// engine when one answers, else processes).
    #[arg(long, value_enum, default_value_t = RunnerChoice::Process)]
    container_runner: RunnerChoice,
    /// When the engine pulls an image: `missing` (only when not in the local store), `never`, `always`.
    #[arg(long, value_enum, default_value_t = Pull::Missing)]
    container_pull: Pull,
    /// Where the process runner runs commands (default: the current directory).
    #[arg(long, value_name = "DIR")]
    container_workdir: Option<PathBuf>,
    /// An ECS task definition to register at startup: a RegisterTaskDefinition request as JSON,
    /// inline or in a file (repeatable).
    #[arg(long = "task-definition", value_name = "JSON|FILE")]
    task_definitions: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RunnerChoice {
    Process,
    Engine,
    Auto,
}

#[derive(Clone, Copy, ValueEnum)]
enum Pull {
    Missing,
    Never,
    Always,
}

impl ContainerArgs {
    /// The runner, keeping its own records under `data_dir`; its containers are labelled as owned
    /// by the Switchyard instance of this data directory.
    pub fn runner(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn ContainerRunner>> {
        let owner = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned()).to_string_lossy().into_owned();
        let engine = || {
            let mut config = EngineConfig::new(owner.clone());
            config.pull = match self.container_pull {
                Pull::Missing => PullPolicy::Missing,
                Pull::Never => PullPolicy::Never,
                Pull::Always => PullPolicy::Always,
            };
            EngineRunner::connect(config)
        };
        let process = || -> anyhow::Result<Arc<dyn ContainerRunner>> {
            let mut runner = ProcessRunner::open(data_dir.join("containers"), owner.clone())?;
            if let Some(directory) = &self.container_workdir {
                runner = runner.with_working_dir(directory);
            }
            Ok(Arc::new(runner))
        };
        match self.container_runner {
            RunnerChoice::Process => process(),
            RunnerChoice::Engine => Ok(Arc::new(engine().map_err(|error| anyhow!("--container-runner engine: {error}"))?)),
            RunnerChoice::Auto => match engine() {
                Ok(runner) => Ok(Arc::new(runner)),
                Err(error) => {
                    tracing::info!(%error, "no container engine; container tasks run as processes");
                    process()
                }
            },
        }
    }

    /// The ECS service over the chosen runner, its tasks in `store` and its logs under `data_dir`.
    /// Containers get `environment` (the SDK endpoint and credentials) under their own variables.
    pub fn ecs(&self, store: Arc<dyn Store>, data_dir: &Path, region: &str, account: &str, environment: Vec<(String, String)>) -> anyhow::Result<Arc<Ecs>> {
        let runner: Arc<dyn ContainerRunner> = Arc::new(WithEnvironment::new(self.runner(data_dir)?, environment));
        let region = Region { region: region.to_owned(), account: account.to_owned() };
        let ecs = Ecs::open(store, runner, region, data_dir.join("logs").join("ecs")).context("opening the ECS service")?;
        for argument in &self.task_definitions {
            let request: serde_json::Value = serde_json::from_str(&super::read_argument(argument)?).with_context(|| format!("--task-definition {argument}: not JSON"))?;
            ecs.register_task_definition(&request).map_err(|error| anyhow!("--task-definition {argument}: {error}"))?;
        }
        Ok(ecs)
    }
}
