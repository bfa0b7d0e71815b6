//! `switchyard batch queues|jobs|envs`: a running server's Batch queues (depth per status), jobs
//! and compute environments (instances up, vCPUs, cost), once or live with `--watch`.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct BatchArgs {
    #[command(subcommand)]
    view: View,
    /// The server.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8083")]
    endpoint: String,
    /// Redraw every SECONDS until interrupted.
    #[arg(long, global = true, value_name = "SECONDS")]
    watch: Option<f64>,
}

#[derive(Subcommand, Clone)]
enum View {
    /// Job queues: jobs per status.
    Queues,
    /// Jobs of every queue (RUNNING unless --status says otherwise).
    Jobs {
        #[arg(long, default_value = "RUNNING")]
        status: String,
    },
    /// Compute environments: vCPUs, instances up, and what the instances cost so far.
    Envs,
}

const STATUSES: [&str; 7] = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"];

pub fn batch(args: BatchArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let server = Server::new(&args.endpoint);
        loop {
            let page = match &args.view {
                View::Queues => queues(&server).await?,
                View::Jobs { status } => jobs(&server, status).await?,
                View::Envs => environments(&server).await?,
            };
            let Some(seconds) = args.watch else {
                print!("{page}");
                return Ok(ExitCode::SUCCESS);
            };
            // Clear the screen and redraw from its top.
            print!("\x1b[2J\x1b[H{}  (every {seconds} s)\n\n{page}", chrono::Utc::now().format("%H:%M:%S"));
            tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.1))).await;
        }
    })
}

async fn queues(server: &Server) -> anyhow::Result<String> {
    let queues = server.call("describejobqueues", json!({})).await?;
    let depths = server.call(batch::QUEUE_DEPTHS_OPERATION, json!({})).await?;
    let mut page = format!("{:<28} {:<9} {:>8}", "QUEUE", "STATE", "PRIORITY");
    for status in STATUSES {
        write!(page, " {status:>9}")?;
    }
    page.push('\n');
    for queue in items(&queues, "jobQueues") {
        let name = text(queue, "jobQueueName");
        write!(page, "{name:<28} {:<9} {:>8}", text(queue, "state"), queue["priority"])?;
        for status in STATUSES {
            write!(page, " {:>9}", depths["queues"][name][status].as_u64().unwrap_or(0))?;
        }
        page.push('\n');
    }
    Ok(page)
}

async fn jobs(server: &Server, status: &str) -> anyhow::Result<String> {
    let queues = server.call("describejobqueues", json!({})).await?;
    let mut page = format!("{:<28} {:<38} {:<24} {:<10} {}\n", "QUEUE", "JOB ID", "NAME", "STATUS", "REASON");
    for queue in items(&queues, "jobQueues") {
        let name = text(queue, "jobQueueName");
        let mut token: Option<String> = None;
        loop {
            let mut request = json!({ "jobQueue": name, "jobStatus": status, "maxResults": 1000 });
            if let Some(token) = &token {
                request["nextToken"] = json!(token);
            }
            let listed = server.call("listjobs", request).await?;
            for job in items(&listed, "jobSummaryList") {
                writeln!(page, "{name:<28} {:<38} {:<24} {:<10} {}", text(job, "jobId"), text(job, "jobName"), text(job, "status"), text(job, "statusReason"))?;
            }
            token = listed["nextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(page)
}

async fn environments(server: &Server) -> anyhow::Result<String> {
    let environments = server.call("describecomputeenvironments", json!({})).await?;
    let report = server.call(batch::INSTANCES_OPERATION, json!({})).await?;
    let instances = items(&report, "instances");
    let mut page = format!("{:<28} {:<9} {:<13} {:>5} {:>8} {:>5} {:>10} {:>9}  {}\n", "ENVIRONMENT", "STATE", "TYPE", "MIN", "DESIRED", "MAX", "INSTANCES", "COST USD", "INSTANCE TYPES");
    for environment in items(&environments, "computeEnvironments") {
        let name = text(environment, "computeEnvironmentName");
        let resources = &environment["computeResources"];
        let ours = instances.iter().filter(|instance| text(instance, "computeEnvironment") == name);
        let up = ours.clone().filter(|instance| instance["stoppedAt"].is_null()).count();
        let launched = ours.clone().count();
        let cost: f64 = ours.filter_map(|instance| cost_so_far(instance)).sum();
        let kind = format!("{}/{}", text(environment, "type"), resources["type"].as_str().unwrap_or("-"));
        let types: Vec<&str> = resources["instanceTypes"].as_array().map(|types| types.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        writeln!(
            page,
            "{name:<28} {:<9} {kind:<13} {:>5} {:>8} {:>5} {:>10} {cost:>9.4}  {}",
            text(environment, "state"),
            resources["minvCpus"].as_u64().unwrap_or(0),
            resources["desiredvCpus"].as_u64().unwrap_or(0),
            resources["maxvCpus"].as_u64().unwrap_or(0),
            format!("{up} ({launched})"),
            types.join(",")
        )?;
    }
    write!(page, "\nINSTANCES: up now (launched in all); total cost {:.4} USD\n", report["totalCostUsd"].as_f64().unwrap_or(0.0))?;
    Ok(page)
}

fn cost_so_far(instance: &Value) -> Option<f64> {
    let now = chrono::Utc::now().timestamp_millis();
    let launched = instance["launchedAt"].as_i64()?;
    let stopped = instance["stoppedAt"].as_i64().unwrap_or(now);
    Some(instance["usdPerHour"].as_f64()? * (stopped - launched).max(0) as f64 / 3_600_000.0)
}

fn items<'a>(answer: &'a Value, member: &str) -> Vec<&'a Value> {
    answer[member].as_array().map(|items| items.iter().collect()).unwrap_or_default()
}

fn text<'a>(value: &'a Value, member: &str) -> &'a str {
    value[member].as_str().unwrap_or("")
}

struct Server {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Server {
    fn new(endpoint: &str) -> Server {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Server { client: Client::builder(TokioExecutor::new()).build(connector), base: endpoint.trim_end_matches('/').to_owned() }
    }

    /// One Batch operation (`POST /v1/OPERATION`).
    async fn call(&self, operation: &str, body: Value) -> anyhow::Result<Value> {
        let url = format!("{}/v1/{operation}", self.base);
        let request = hyper::Request::post(&url).header("content-type", "application/json").body(Full::new(Bytes::from(body.to_string())))?;
        let response = self.client.request(request).await.with_context(|| format!("{operation} to {url}"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("{operation} answered {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}
