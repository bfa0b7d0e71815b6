//! How `serve` sets up AWS Batch: the scaler's timing and simulations, and the runners jobs go to.

use anyhow::Context;
use batch::{Batch, BatchConfig, JobRunner, ProcessJobRunner, ScalerConfig, SlurmRunner, SlurmSettings};
use clap::Args;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use store::Store;

#[derive(Args)]
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
    /// (process or slurm).
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

fn milliseconds(seconds: f64) -> i64 {
    (seconds.max(0.0) * 1000.0).round() as i64
}

impl BatchArgs {
    pub fn open(&self, store: Arc<dyn Store>, data_dir: &Path, region: &str, account: &str) -> anyhow::Result<Arc<Batch>> {
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
        runners.insert("process".into(), Arc::new(ProcessJobRunner::new(workdir)));
        runners.insert("slurm".into(), Arc::new(SlurmRunner::new(slurm)));
        let batch = Batch::open(store, config, runners).map_err(|error| anyhow::anyhow!("opening Batch: {error}"))?;
        batch.start().context("starting the Batch driver")?;
        Ok(batch)
    }
}
