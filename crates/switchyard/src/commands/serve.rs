//! `switchyard serve`: every AWS-compatible API on one port, state durable under the data dir.

use anyhow::Context;
use api::deployments::schedules::{self, MissedRuns, SystemClock};
use api::deployments::Deployments;
use api::ApiState;
use clap::Args;
use compute::{FunctionSet, ProcessRunner};
use ecs::EcsTasks;
use engine::catalog::Catalog;
use engine::functions::{activity_push, Functions, FunctionsConfig};
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
    #[command(flatten)]
    services: ServiceArgs,
}

/// How a server runs schedules, container tasks and Batch jobs and where its S3 is, whether `serve` or `up` starts it.
#[derive(Args, Clone)]
pub struct ServiceArgs {
    /// Scheduled firings that fell due while no server ran: fire the latest only, all of them,
    /// or skip them.
    #[arg(long, default_value = "latest", value_parser = clap::value_parser!(MissedRuns))]
    pub missed_schedules: MissedRuns,
    #[command(flatten)]
    pub containers: super::containers::ContainerArgs,
    #[command(flatten)]
    pub batch: super::batch_setup::BatchArgs,
    #[command(flatten)]
    pub s3: super::s3_setup::S3Args,
}

impl ServiceArgs {
    /// The service flags of a command line (`up`'s, with their values), for the server `up`
    /// starts in the background. Taken from what the user typed rather than spelled again
    /// field by field, so that a flag added to these arguments is passed on as well. The S3
    /// flags are left to [`super::s3_setup::S3Args::pass_to`], which keeps credentials off the
    /// command line.
    pub fn flags_in(command_line: &[std::ffi::OsString]) -> Vec<std::ffi::OsString> {
        let long_flags = |command: clap::Command| -> Vec<(String, bool)> { command.get_arguments().filter_map(|flag| Some((format!("--{}", flag.get_long()?), flag.get_action().takes_values()))).collect() };
        let s3_flags = long_flags(<super::s3_setup::S3Args as Args>::augment_args(clap::Command::new("s3")));
        let takes_value: std::collections::HashMap<String, bool> = long_flags(<ServiceArgs as Args>::augment_args(clap::Command::new("serve"))).into_iter().filter(|flag| !s3_flags.contains(flag)).collect();
        let mut passed = Vec::new();
        let mut arguments = command_line.iter();
        while let Some(argument) = arguments.next() {
            let text = argument.to_string_lossy();
            if text == "--" {
                break;
            }
            let (name, inline_value) = match text.split_once('=') {
                Some((name, _)) => (name, true),
                None => (&*text, false),
            };
            match takes_value.get(name) {
                Some(true) if !inline_value => {
                    passed.push(argument.clone());
                    passed.extend(arguments.next().cloned());
                }
                Some(_) => passed.push(argument.clone()),
                None => {}
            }
        }
        passed
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
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

/// The URL functions reach this server at: a wildcard listen address is reached on the loopback.
fn endpoint_of(address: std::net::SocketAddr) -> String {
    let host = match address.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(host, address.port()))
}

pub fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colours);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// What a server is made of, whether `serve` or `up` starts it.
pub struct ServerSettings {
    pub data_dir: PathBuf,
    pub region: String,
    pub account: String,
    /// Functions declared on the command line (besides those created through the Lambda API).
    pub functions: FunctionSet,
    pub services: ServiceArgs,
    /// The access key S3 requests must be signed with; any signature is accepted without one.
    pub s3_access_key: Option<objects::service::AccessKey>,
}

/// Opens the store under the data dir and every service on it for a server listening at
/// `address`; resumes accepted asynchronous invocations and starts firing schedules. Must be
/// called inside a tokio runtime.
pub fn assemble(settings: ServerSettings, address: std::net::SocketAddr) -> anyhow::Result<ApiState> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&settings.data_dir).with_context(|| format!("opening the store in {}", settings.data_dir.display()))?);
    let catalog = Arc::new(Catalog::open(store.clone(), &settings.region, &settings.account)?);
    let external_s3 = settings.services.s3.external()?;
    let functions_config = FunctionsConfig {
        region: settings.region.clone(),
        account: settings.account.clone(),
        data_dir: Some(settings.data_dir.clone()),
        endpoint: Some(endpoint_of(address)),
        external_s3: external_s3.clone(),
    };
    let functions = Arc::new(Functions::open(store.clone(), functions_config, settings.functions, Arc::new(ProcessRunner::new()))?);
    let config = RuntimeConfig { region: settings.region.clone(), account: settings.account.clone(), ..RuntimeConfig::default() };
    let tasks_environment = compute::sdk_environment::sdk_environment(Some(&endpoint_of(address)), &settings.region, external_s3.as_ref());
    // Each connects to the container engine and clears what a previous run left there, which
    // takes a few hundred milliseconds with Podman: side by side, a server is ready sooner.
    let (ecs, batch) = std::thread::scope(|scope| {
        let batch = scope.spawn(|| settings.services.batch.open(store.clone(), &settings.data_dir, &settings.region, &settings.account, tasks_environment.clone()));
        let ecs = settings.services.containers.ecs(store.clone(), &settings.data_dir, &settings.region, &settings.account, tasks_environment.clone());
        (ecs, batch.join().unwrap_or_else(|_| Err(anyhow::anyhow!("setting up Batch panicked"))))
    });
    let (ecs, batch) = (ecs?, batch?);
    tracing::info!(runner = ecs.runner_name(), "container tasks");
    let s3 = super::s3_setup::open(external_s3.as_ref(), &settings.data_dir, settings.s3_access_key.as_ref())?;
    let s3_tasks = Arc::new(objects::tasks::S3Tasks::new(s3.store.clone(), tokio::runtime::Handle::current()));
    // A distributed Map's ItemReader and ResultWriter (`arn:aws:states:::s3:...`).
    let spool = settings.data_dir.join("results-spool");
    let map_results = engine::runtime::MapRunResults::new(store.clone());
    let map_data_tasks = objects::map_tasks::MapDataTasks::open(s3.store.clone(), map_results, &spool, tokio::runtime::Handle::current())
        .with_context(|| format!("preparing {}", spool.display()))?;
    let map_data_tasks = Arc::new(map_data_tasks);
    let tasks = LocalTasks::new(functions.clone(), None)
        .with_service("aws-sdk:s3", s3_tasks)
        .with_service("s3", map_data_tasks)
        .with_service("ecs", Arc::new(EcsTasks::new(ecs.clone())))
        .with_service("batch", Arc::new(batch::BatchTasks::new(batch.clone())));
    let runtime = Arc::new(Runtime::open(store.clone(), Arc::new(tasks), config)?);
    let resumed_events = functions.resume_events()?;
    tracing::info!(resumed_events, "asynchronous invocations resumed");
    activity_push::start(catalog.clone(), runtime.clone(), functions.clone());
    let deployments = Arc::new(Deployments::open(store, chrono::Utc::now().timestamp_millis(), settings.services.missed_schedules)?);
    let state = ApiState { catalog, runtime, functions, deployments, ecs: Some(ecs), batch, s3: Some(s3) };
    tokio::spawn(schedules::run(state.clone(), Arc::new(SystemClock)));
    Ok(state)
}

/// Serves `state` on `listener` until Ctrl-C or SIGTERM.
pub async fn serve_until_stopped(listener: tokio::net::TcpListener, state: ApiState) -> anyhow::Result<()> {
    let batch = state.batch.clone();
    let (stopping, mut stop) = tokio::sync::watch::channel(false);
    let serving = api::serve(listener, state, async move {
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
    batch.shut_down();
    tracing::info!("stopped; what was acknowledged is on disk");
    Ok(())
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    init_logs(args.log_format);
    let functions = super::tasks::load_functions(args.functions.as_deref(), &args.function)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
        let s3_access_key = args.access_key.zip(args.secret_key).map(|(access_key_id, secret_access_key)| objects::service::AccessKey { access_key_id, secret_access_key });
        let settings = ServerSettings { data_dir: args.data_dir.clone(), region: args.region, account: args.account, functions, services: args.services, s3_access_key };
        let state = assemble(settings, listener.local_addr()?)?;
        let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(listen = %args.listen, data_dir = %args.data_dir.display(), ready_ms, "switchyard serving");
        serve_until_stopped(listener, state).await
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::ServiceArgs;
    use std::ffi::OsString;

    #[test]
    fn service_flags_are_picked_out_of_a_command_line() {
        let command_line: Vec<OsString> = ["switchyard", "up", "project", "--stage", "dev", "--container-runner", "engine", "--batch-backend=container", "--detach", "--missed-schedules", "all", "--s3-endpoint", "http://127.0.0.1:9000"].iter().map(OsString::from).collect();
        let flags: Vec<OsString> = ["--container-runner", "engine", "--batch-backend=container", "--missed-schedules", "all"].iter().map(OsString::from).collect();
        assert_eq!(ServiceArgs::flags_in(&command_line), flags);
    }
}
