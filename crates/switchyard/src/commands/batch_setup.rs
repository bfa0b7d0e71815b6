//! How `serve` sets up AWS Batch: the scaler's timing and simulations, and the runners jobs go to.

use anyhow::Context;
use batch::{Batch, BatchConfig, ContainerJobRunner, JobRunner, ScalerConfig, SlurmRunner, SlurmSettings};
use compute::containers::{ContainerRunner, EngineConfig, EngineRunner, ProcessRunner, WithEnvironment};
use clap::Args;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use store::Store;

#[derive(Args, Clone)]
pub struct BatchArgs {
    /// Batch: seconds an instance stays up without jobs before the scaler stops it.
    #[arg(long, default_value_t = 60.0)]
    batch_idle_seconds: f64,
    /// Batch: seconds a launched instance takes to become ready (a simulation; 0 = at once).
    #[arg(long, default_value_t = 0.0)]
    batch_launch_delay_seconds: f64,
    /// Batch: reclaim every SPOT instance this many seconds after its launch (a simulation; off
    /// when absent).
    #[arg(long)]
    batch_spot_interruption_seconds: Option<f64>,
    /// Batch: the runner of compute environments without a `switchyard:backend` tag
    /// (process, slurm, or container / podman / docker when an engine answers).
    #[arg(long, default_value = "process")]
    batch_backend: String,
    /// Batch: the working directory of jobs on the process runner (relative commands resolve
    /// here); the current directory when absent.
    #[arg(long)]
    batch_workdir: Option<PathBuf>,
    /// Batch on Slurm: the cluster's slurm.conf (SLURM_CONF of sbatch/squeue/scancel).
    #[arg(long, env = "SLURM_CONF")]
    batch_slurm_conf: Option<PathBuf>,
    /// Batch on Slurm: the partition jobs go to (the cluster's default when absent).
    #[arg(long)]
    batch_slurm_partition: Option<String>,
    /// Batch on Slurm: run job images with this engine (podman, docker); without it the command
    /// runs directly on the node.
    #[arg(long)]
    batch_container_engine: Option<String>,
}

/// Owns Batch's containers; they are not adopted after a restart (their jobs run again), so the
/// ones left from a previous run are removed.
const BATCH_OWNER: &str = "switchyard-batch";

fn container_runner(runner: Arc<dyn ContainerRunner>) -> Arc<dyn JobRunner> {
    for leftover in runner.survivors().unwrap_or_default() {
        runner.remove(&leftover);
    }
    Arc::new(ContainerJobRunner::new(runner))
}

fn milliseconds(seconds: f64) -> i64 {
    (seconds.max(0.0) * 1000.0).round() as i64
}

impl BatchArgs {
    /// Jobs get `environment` (the SDK endpoint and credentials) under their own variables.
    pub fn open(&self, store: Arc<dyn Store>, data_dir: &Path, region: &str, account: &str, environment: Vec<(String, String)>) -> anyhow::Result<Arc<Batch>> {
        let with_environment = |runner: Arc<dyn ContainerRunner>| -> Arc<dyn ContainerRunner> { Arc::new(WithEnvironment::new(runner, environment.clone())) };
        let mut config = BatchConfig::new(data_dir.join("batch-logs"));
        config.region = region.to_owned();
        config.account = account.to_owned();
        config.default_backend = self.batch_backend.clone();
        config.scaler = ScalerConfig {
            idle_timeout_ms: milliseconds(self.batch_idle_seconds),
            launch_delay_ms: milliseconds(self.batch_launch_delay_seconds),
            spot_interruption_after_ms: self.batch_spot_interruption_seconds.map(milliseconds),
        };
        config.poll_interval = Duration::from_millis(10);
        let workdir = match &self.batch_workdir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().context("the current directory")?,
        };
        let mut runners: HashMap<String, Arc<dyn JobRunner>> = HashMap::new();
        let slurm = SlurmSettings {
            partition: self.batch_slurm_partition.clone(),
            container_engine: self.batch_container_engine.clone(),
            working_dir: workdir.clone(),
            refresh: Duration::from_millis(50),
            slurm_conf: self.batch_slurm_conf.clone(),
        };
        let processes = ProcessRunner::open(data_dir.join("batch-processes"), BATCH_OWNER).context("the process runner of Batch jobs")?.with_working_dir(workdir);
        runners.insert("process".into(), container_runner(with_environment(Arc::new(processes))));
        // Docker or Podman when one answers (DOCKER_HOST or the usual sockets). The engine client
        // owns a runtime, which must not be dropped (when no engine answers) on an async worker.
        let engine = std::thread::scope(|scope| scope.spawn(|| EngineRunner::connect(EngineConfig::new(BATCH_OWNER))).join());
        match engine.map_err(|_| anyhow::anyhow!("connecting to the container engine panicked"))? {
            Ok(engine) => {
                let engine = with_environment(Arc::new(engine));
                let name = engine.name().to_owned();
                // One runner under both names, so the leftovers are cleared once.
                let runner = container_runner(engine);
                runners.insert(name, runner.clone());
                runners.insert("container".into(), runner);
            }
            Err(error) => tracing::info!(%error, "Batch: no container engine; environments run on processes or Slurm"),
        }
        runners.insert("slurm".into(), Arc::new(SlurmRunner::new(slurm)));
        let batch = Batch::open(store, config, runners).map_err(|error| anyhow::anyhow!("opening Batch: {error}"))?;
        batch.start().context("starting the Batch driver")?;
        Ok(batch)
    }
}
