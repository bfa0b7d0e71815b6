//! `switchyard serve`: every AWS-compatible API on one port, state durable under the data dir.

use anyhow::Context;
use api::ApiState;
use clap::Args;
use compute::ProcessRunner;
use engine::catalog::Catalog;
use engine::local_tasks::LocalTasks;
use engine::runtime::{Runtime, RuntimeConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use store::{SqliteStore, Store};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8083")]
    listen: String,
    /// Where state is kept.
    #[arg(long, default_value = "./.switchyard")]
    data_dir: PathBuf,
    /// The region in ARNs.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The account in ARNs.
    #[arg(long, default_value = "000000000000")]
    account: String,
    /// Lambda functions for Task states: {NAME: {"arn", "handler", "handler_source" | "code_dir", "runtime"}}.
    #[arg(long)]
    functions: Option<String>,
    /// A Lambda function as NAME=FILE.py:handler (repeatable).
    #[arg(long = "function", value_name = "NAME=FILE:HANDLER")]
    function: Vec<String>,
    /// The access key id S3 requests must be signed with (SigV4); with --secret-key. Without
    /// keys, the embedded S3 accepts any credentials.
    #[arg(long, requires = "secret_key", env = "SWITCHYARD_ACCESS_KEY")]
    access_key: Option<String>,
    /// The secret access key S3 signatures are checked against.
    #[arg(long, requires = "access_key", env = "SWITCHYARD_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Log lines as text or JSON (one object per line); SWITCHYARD_LOG filters them
    /// (e.g. `info`, `engine=debug`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// How long a stopping server lets requests in flight finish.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Ctrl-C or SIGTERM. (A `kill -9` loses nothing either: this only lets the store close cleanly.)
async fn stop_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colours);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    init_logs(args.log_format);
    let functions = super::tasks::load_functions(args.functions.as_deref(), &args.function)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&args.data_dir).with_context(|| format!("opening the store in {}", args.data_dir.display()))?);
        let catalog = Arc::new(Catalog::open(store.clone(), &args.region, &args.account)?);
        let config = RuntimeConfig { region: args.region.clone(), account: args.account.clone(), ..RuntimeConfig::default() };
        let objects = Arc::new(objects::Objects::open(&args.data_dir.join("objects")).with_context(|| format!("opening the object store in {}", args.data_dir.display()))?);
        let s3_tasks = Arc::new(objects::tasks::S3Tasks::new(Arc::new(objects.clone()), tokio::runtime::Handle::current()));
        let tasks = LocalTasks::new(functions, Box::new(ProcessRunner::new()), None).with_service("aws-sdk:s3", s3_tasks);
        let executions = Arc::new(Runtime::open(store, Arc::new(tasks), config)?);
        let access_key = args.access_key.zip(args.secret_key).map(|(access_key_id, secret_access_key)| objects::service::AccessKey { access_key_id, secret_access_key });
        let s3 = Some(api::S3Endpoint::new(objects, access_key.as_ref()));
        let listener = tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
        let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(listen = %args.listen, data_dir = %args.data_dir.display(), ready_ms, "switchyard serving");
        let (stopping, mut stop) = tokio::sync::watch::channel(false);
        let serving = api::serve(listener, ApiState { catalog, runtime: executions, s3 }, async move {
            stop_signal().await;
            let _ = stopping.send(true);
        });
        // Requests in flight get a moment to finish; long polls (GetActivityTask holds up to 60 s)
        // are not waited for.
        let drained = async {
            let _ = stop.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(DRAIN_GRACE).await;
        };
        tokio::select! {
            served = serving => served?,
            () = drained => tracing::warn!("requests still in flight after the grace period; stopping anyway"),
        }
        tracing::info!("stopped; what was acknowledged is on disk");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
