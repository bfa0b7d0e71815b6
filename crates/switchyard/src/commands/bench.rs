//! `switchyard bench --endpoint URL`: a load generator for any Step Functions endpoint, so that
//! Switchyard and its peers are measured with the same tool, the same machines and the same calls.

use anyhow::{anyhow, bail, Context};
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Map, Value};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchArgs {
    /// The Step Functions endpoint, e.g. http://127.0.0.1:8083.
    #[arg(long)]
    endpoint: String,
    /// STANDARD executions of the Pass machine to start.
    #[arg(long, default_value_t = 20_000)]
    executions: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Pass states in the STANDARD machine.
    #[arg(long, default_value_t = 10)]
    states: usize,
    /// StartSyncExecution calls against a 3-state EXPRESS machine (0 skips the phase).
    #[arg(long, default_value_t = 5_000)]
    sync_executions: usize,
    /// Calls made one at a time to measure latency without queueing (for each call type).
    #[arg(long, default_value_t = 2_000)]
    latency_calls: usize,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Endpoint {
    client: HttpClient,
    url: String,
}

impl Endpoint {
    fn new(url: &str) -> Endpoint {
        let mut connector = HttpConnector::new();
        // Nagle plus delayed ACKs would add ~40 ms to every small request/response pair.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1024).build(connector);
        Endpoint { client, url: url.trim_end_matches('/').to_owned() + "/" }
    }

    async fn call(&self, action: &str, body: &Value) -> anyhow::Result<Value> {
        let request = hyper::Request::post(&self.url)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("AWSStepFunctions.{action}"))
            // Peers that look at it get a well-formed (unchecked) signature header.
            .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0")
            .body(Full::new(Bytes::from(body.to_string())))?;
        let response = self.client.request(request).await.with_context(|| format!("{action} to {}", self.url))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{action} answered {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(answer)
    }
}

pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let endpoint = Arc::new(Endpoint::new(&args.endpoint));
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let role = "arn:aws:iam::000000000000:role/switchyard-bench";
    let standard = endpoint
        .call("CreateStateMachine", &json!({"name": format!("bench-pass-{suffix}"), "definition": pass_chain(args.states).to_string(), "roleArn": role, "type": "STANDARD"}))
        .await?["stateMachineArn"]
        .as_str()
        .ok_or_else(|| anyhow!("CreateStateMachine gave no ARN"))?
        .to_owned();
    println!("endpoint {}: {} STANDARD executions of a {}-state Pass machine, {} in flight", args.endpoint, args.executions, args.states, args.concurrency);

    let (latencies, elapsed) = load(&endpoint, args.executions, args.concurrency, "StartExecution", json!({"stateMachineArn": standard, "input": "{\"n\":1}"})).await?;
    let started_per_second = args.executions as f64 / elapsed.as_secs_f64();
    let completed_after = wait_until_done(&endpoint, &standard).await?;
    let total = elapsed + completed_after;
    let completed_per_second = args.executions as f64 / total.as_secs_f64();
    println!("  throughput: started {started_per_second:.0} executions/s; all completed after {:.2} s: {completed_per_second:.0} executions/s, {:.0} state transitions/s", total.as_secs_f64(), completed_per_second * args.states as f64);
    println!("    StartExecution latency at {} in flight: {}", args.concurrency, summary(latencies));
    if args.latency_calls > 0 {
        let (latencies, _) = load(&endpoint, args.latency_calls, 1, "StartExecution", json!({"stateMachineArn": standard, "input": "{\"n\":1}"})).await?;
        println!("  StartExecution latency, one call at a time: {}", summary(latencies));
    }

    if args.sync_executions > 0 {
        let express = endpoint
            .call("CreateStateMachine", &json!({"name": format!("bench-sync-{suffix}"), "definition": pass_chain(3).to_string(), "roleArn": role, "type": "EXPRESS"}))
            .await?["stateMachineArn"]
            .as_str()
            .ok_or_else(|| anyhow!("CreateStateMachine gave no ARN"))?
            .to_owned();
        let (latencies, elapsed) = load(&endpoint, args.sync_executions, args.concurrency, "StartSyncExecution", json!({"stateMachineArn": express, "input": "{}"})).await?;
        println!(
            "  StartSyncExecution (3-state EXPRESS): {:.0} executions/s; latency at {} in flight: {}",
            args.sync_executions as f64 / elapsed.as_secs_f64(),
            args.concurrency,
            summary(latencies)
        );
        if args.latency_calls > 0 {
            let (latencies, _) = load(&endpoint, args.latency_calls, 1, "StartSyncExecution", json!({"stateMachineArn": express, "input": "{}"})).await?;
            println!("  StartSyncExecution latency, one call at a time: {}", summary(latencies));
        }
        let _ = endpoint.call("DeleteStateMachine", &json!({"stateMachineArn": express})).await;
    }
    let _ = endpoint.call("DeleteStateMachine", &json!({"stateMachineArn": standard})).await;
    Ok(())
}

/// `count` identical calls with `concurrency` in flight; the latency of each, and the time for all.
async fn load(endpoint: &Arc<Endpoint>, count: usize, concurrency: usize, action: &'static str, body: Value) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(body);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (endpoint, next, body) = (endpoint.clone(), next.clone(), body.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        return Ok::<_, anyhow::Error>(latencies);
                    }
                    let sent = Instant::now();
                    endpoint.call(action, &body).await?;
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok((latencies, started.elapsed()))
}

/// Polls until no execution of the state machine is RUNNING; how long that took.
async fn wait_until_done(endpoint: &Endpoint, state_machine_arn: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let running = endpoint.call("ListExecutions", &json!({"stateMachineArn": state_machine_arn, "statusFilter": "RUNNING", "maxResults": 1})).await?;
        if running["executions"].as_array().is_none_or(Vec::is_empty) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("executions still running after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn summary(mut latencies: Vec<Duration>) -> String {
    latencies.sort();
    let at = |quantile: f64| latencies.get(((latencies.len() as f64 - 1.0) * quantile).round() as usize).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    format!("p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} calls)", at(0.5), at(0.99), at(1.0), latencies.len())
}

fn pass_chain(states: usize) -> Value {
    let mut all = Map::new();
    for index in 0..states.max(1) {
        let mut state = json!({"Type": "Pass", "Result": index, "ResultPath": "$.step"});
        if index + 1 == states.max(1) {
            state["End"] = json!(true);
        } else {
            state["Next"] = json!(format!("S{}", index + 1));
        }
        all.insert(format!("S{index}"), state);
    }
    json!({"StartAt": "S0", "States": all})
}
