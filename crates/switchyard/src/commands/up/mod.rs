//! `switchyard up [serverless.yml]`: deploys a Serverless project into the server at
//! `--endpoint`, or, when none answers, into a server it starts: in the foreground with live
//! progress, or in the background with `--detach`. `switchyard remove` takes it away again.

mod client;
mod images;
mod progress;
mod summary;

use super::serve::{assemble, init_logs, serve_until_stopped, LogFormat, ServerSettings, ServiceArgs};
use anyhow::{anyhow, bail, Context};
use clap::Args;
use client::{Server, ServerInfo};
use compute::FunctionSet;
use deploy::source::SourceFile;
use deploy::{Partition, Plan, Sources};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const DEFAULT_ACCOUNT: &str = "000000000000";
/// How long a detached server may take to answer.
const DETACHED_START_TIMEOUT: Duration = Duration::from_secs(15);

/// Which project, as which stage and region, and which server: what `up` and `remove` share.
#[derive(Args)]
pub struct ProjectArgs {
    /// The project's serverless.yml, or its folder.
    #[arg(default_value = ".")]
    config: PathBuf,
    /// The stage (`${opt:stage}`, `${sls:stage}`); default: provider.stage, else dev.
    #[arg(long)]
    stage: Option<String>,
    /// A parameter (`${param:K}`, or a CloudFormation parameter of `resources.Parameters`); repeatable.
    #[arg(long = "param", value_name = "K=V")]
    params: Vec<String>,
    /// The region (`${opt:region}`); default: provider.region, else us-east-1. A server started
    /// here serves it; a running server's own region wins (its ARNs are the ones it accepts).
    #[arg(long)]
    region: Option<String>,
    /// The server the project is deployed into (`up` starts one here when none answers).
    #[arg(long, default_value = "http://127.0.0.1:8083")]
    endpoint: String,
}

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// Leave the started server running in the background and return.
    #[arg(long)]
    detach: bool,
    /// Where a started server keeps its state.
    #[arg(long, default_value = "./.switchyard")]
    data_dir: PathBuf,
    /// What a started server runs with.
    #[command(flatten)]
    services: ServiceArgs,
}

#[derive(Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let project = Project::read(&args.project)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let server = Server::new(&args.project.endpoint);
        if let Some(info) = server.probe().await {
            let plan = project.plan_for_server(&info, server.endpoint())?;
            images::build(&plan).await?;
            deploy_remotely(&server, &plan, started).await?;
            return Ok(ExitCode::SUCCESS);
        }
        let plan = project.plan(Partition { region: project.region()?, account: DEFAULT_ACCOUNT.to_owned() })?;
        images::build(&plan).await?;
        if args.detach {
            start_detached(&args, &plan).await?;
            deploy_remotely(&server, &plan, started).await?;
            return Ok(ExitCode::SUCCESS);
        }
        deploy_in_foreground(&args, plan, started).await?;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn remove(args: RemoveArgs) -> anyhow::Result<ExitCode> {
    let project = Project::read(&args.project)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let server = Server::new(&args.project.endpoint);
        let info = server.probe().await.ok_or_else(|| anyhow!("no Switchyard server answers at {}", args.project.endpoint))?;
        let plan = project.plan_for_server(&info, server.endpoint())?;
        match server.remove(&plan.deployment_name()).await? {
            Some(_) => println!("removed {} (service {}, stage {})", plan.deployment_name(), plan.service, plan.stage),
            None => println!("{} is not deployed at {}", plan.deployment_name(), args.project.endpoint),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A project's file with the command line's options and this process's environment.
struct Project {
    file: SourceFile,
    sources: Sources,
}

impl Project {
    fn read(args: &ProjectArgs) -> anyhow::Result<Project> {
        let file = SourceFile::read(&project_file(&args.config)?)?;
        let mut sources = Sources { env: std::env::vars().collect(), instance_id: instance_id(), account: DEFAULT_ACCOUNT.to_owned(), ..Sources::default() };
        for (option, value) in [("stage", &args.stage), ("region", &args.region)] {
            if let Some(value) = value {
                sources.options.insert(option.to_owned(), value.to_owned());
            }
        }
        for param in &args.params {
            let (name, value) = param.split_once('=').ok_or_else(|| anyhow!("--param {param}: expected K=V"))?;
            sources.params.insert(name.to_owned(), value.to_owned());
        }
        Ok(Project { file, sources })
    }

    /// `--region`, else provider.region, else us-east-1.
    fn region(&self) -> anyhow::Result<String> {
        Ok(deploy::project::region(&self.file, &self.sources)?)
    }

    fn plan(&self, partition: Partition) -> anyhow::Result<Plan> {
        let sources = Sources { account: partition.account.clone(), ..self.sources.clone() };
        let plan = deploy::project::plan_source(&self.file, &sources, partition)?;
        eprint!("{}", summary::warnings(&plan));
        Ok(plan)
    }

    /// The plan in a running server's region and account: a server accepts ARNs of its own
    /// region only, so a project for another region is told so rather than deployed with ARNs
    /// the server would refuse back.
    fn plan_for_server(&self, server: &ServerInfo, endpoint: &str) -> anyhow::Result<Plan> {
        let region = self.region()?;
        if region != server.region {
            eprintln!("warning: {} deploys to {region}, but the server at {endpoint} serves {}: ARNs and AWS::Region are {}'s (a server started with --region {region} matches the project)", self.file.path.display(), server.region, server.region);
        }
        self.plan(Partition { region: server.region.clone(), account: server.account.clone() })
    }
}

/// `serverless.yml` (or `.yaml`, or `.json`) in a folder, or the file given.
fn project_file(config: &Path) -> anyhow::Result<PathBuf> {
    if !config.is_dir() {
        return Ok(config.to_owned());
    }
    ["serverless.yml", "serverless.yaml", "serverless.json"]
        .iter()
        .map(|name| config.join(name))
        .find(|candidate| candidate.exists())
        .ok_or_else(|| anyhow!("{} has no serverless.yml", config.display()))
}

/// `${sls:instanceId}`: random for every run, as the framework makes it.
fn instance_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

async fn deploy_remotely(server: &Server, plan: &Plan, started: Instant) -> anyhow::Result<()> {
    let applied = server.deploy(&plan.deployment_name(), &serde_json::to_value(plan)?).await?;
    print!("{}", summary::service_information(plan, &applied, server.endpoint()));
    println!("deployed into {} in {} ms", server.endpoint(), started.elapsed().as_millis());
    Ok(())
}

/// The address to listen on for an endpoint URL such as `http://127.0.0.1:8083`.
fn listen_address(endpoint: &str) -> anyhow::Result<String> {
    let address = endpoint.strip_prefix("http://").ok_or_else(|| anyhow!("--endpoint {endpoint}: a server can only be started for an http:// endpoint"))?;
    Ok(address.trim_end_matches('/').to_owned())
}

/// Starts `switchyard serve` in the background, and waits until it answers.
async fn start_detached(args: &UpArgs, plan: &Plan) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let log_path = args.data_dir.join("server.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["serve", "--listen", &listen_address(&args.project.endpoint)?])
        .args(["--region", &plan.region, "--account", &plan.account])
        .args(ServiceArgs::flags_in(&std::env::args_os().collect::<Vec<_>>()))
        .arg("--data-dir")
        .arg(&args.data_dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: the terminal's Ctrl-C is not for it.
        .process_group(0);
    args.services.s3.pass_to(&mut command)?;
    let child = command.spawn().context("starting the server")?;
    let server = Server::new(&args.project.endpoint);
    let deadline = Instant::now() + DETACHED_START_TIMEOUT;
    while server.probe().await.is_none() {
        if Instant::now() > deadline {
            bail!("the server started in the background (pid {}) does not answer; see {}", child.id(), log_path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("server running in the background: pid {}, log {}", child.id(), log_path.display());
    Ok(())
}

/// Starts a server in this process, deploys into it, and follows executions until Ctrl-C.
async fn deploy_in_foreground(args: &UpArgs, plan: Plan, started: Instant) -> anyhow::Result<()> {
    init_logs(LogFormat::Text);
    let address = listen_address(&args.project.endpoint)?;
    let listener = tokio::net::TcpListener::bind(&address).await.with_context(|| format!("listening on {address}"))?;
    let settings = ServerSettings { data_dir: args.data_dir.clone(), region: plan.region.clone(), account: plan.account.clone(), functions: FunctionSet::new(), services: args.services.clone(), s3_access_key: None };
    let state = assemble(settings, listener.local_addr()?)?;
    let applied = api::deployments::apply(&state, plan.clone(), chrono::Utc::now().timestamp_millis()).await.map_err(|_| anyhow!("the deployment of {} failed", plan.deployment_name()))?;
    print!("{}", summary::service_information(&plan, &serde_json::to_value(&applied)?, &args.project.endpoint));
    println!("ready in {} ms; following executions (Ctrl-C stops the server)", started.elapsed().as_millis());
    let machines = plan.state_machines.iter().map(|machine| machine.arn.clone()).collect();
    tokio::spawn(progress::follow(state.clone(), machines));
    serve_until_stopped(listener, state).await
}
