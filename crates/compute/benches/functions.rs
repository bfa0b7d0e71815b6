//! Function runtime figures: `cargo bench -p compute`.
//!
//! - warm: a no-op Python handler invoked again and again in its warm environment; the overhead is
//!   the invocation's time minus the handler's own (measured inside it);
//! - cold: a Python function's first invocation in a new environment (forked from the Python
//!   template), to its response;
//! - burst: 1,000 concurrent invocations against a reserved concurrency of 20.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use compute::{Cancellation, Concurrency, FunctionRunner, FunctionSpec, HandlerSource, Outcome, ProcessRunner, Runtime};
use serde_json::{json, Value};

const WARM_INVOCATIONS: usize = 5_000;
const COLD_STARTS: usize = 30;
const BURST_INVOCATIONS: usize = 1_000;
const BURST_RESERVED: u32 = 20;

fn main() {
    warm();
    cold();
    burst();
}

fn python(name: &str, source: &str) -> FunctionSpec {
    FunctionSpec {
        name: name.to_string(),
        arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        runtime: Runtime::parse("python3.12").expect("a known runtime"),
        handler: "handler.handler".to_string(),
        source: HandlerSource::Inline(source.to_string()),
        timeout_seconds: 30,
        memory_mb: 128,
        environment: BTreeMap::new(),
        concurrency: Concurrency::default(),
    }
}

fn warm() {
    let runner = ProcessRunner::new();
    let function =
        python("noop", "import time\ndef handler(event, context):\n    started = time.perf_counter()\n    return time.perf_counter() - started\n");
    let invoke = || {
        let started = Instant::now();
        let invocation = runner.invoke(&function, &json!({}), &Cancellation::new());
        let elapsed = started.elapsed();
        let Outcome::Returned(Value::Number(own)) = invocation.outcome else { panic!("the no-op handler failed: {:?}", invocation.outcome) };
        elapsed.saturating_sub(Duration::from_secs_f64(own.as_f64().unwrap_or(0.0)))
    };
    for _ in 0..200 {
        invoke();
    }
    let mut overheads: Vec<Duration> = (0..WARM_INVOCATIONS).map(|_| invoke()).collect();
    overheads.sort();
    let mut floor = round_trips_to_python(WARM_INVOCATIONS);
    floor.sort();
    println!(
        "warm no-op Python invocation overhead over {WARM_INVOCATIONS} calls: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms \
         (a bare TCP round trip to a Python process here: p50 {:.3} ms, p99 {:.3} ms)",
        millis(percentile(&overheads, 50)),
        millis(percentile(&overheads, 99)),
        millis(overheads.last().copied().unwrap_or_default()),
        millis(percentile(&floor, 50)),
        millis(percentile(&floor, 99)),
    );
}

/// The floor of any invocation on this machine: one byte to a Python process over loopback TCP
/// and back, `count` times.
fn round_trips_to_python(count: usize) -> Vec<Duration> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let echo = format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\ns.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n\
         while True:\n    b = s.recv(1)\n    if not b:\n        break\n    s.sendall(b)\n"
    );
    let mut python = std::process::Command::new("python3").args(["-c", &echo]).spawn().expect("python3 runs");
    let (mut connection, _) = listener.accept().expect("the echo connects");
    connection.set_nodelay(true).expect("TCP_NODELAY");
    let mut byte = [0_u8; 1];
    let trips = (0..count + 200)
        .map(|_| {
            let started = Instant::now();
            connection.write_all(b"x").expect("send");
            connection.read_exact(&mut byte).expect("echo");
            started.elapsed()
        })
        .skip(200)
        .collect();
    drop(connection);
    let _ = python.wait();
    trips
}

fn cold() {
    let runner = ProcessRunner::new();
    let cold_start = |start: usize| {
        // A new name is a new function: its first invocation starts an environment.
        let function = python(&format!("cold-{start}"), "def handler(event, context):\n    return None\n");
        let started = Instant::now();
        let invocation = runner.invoke(&function, &json!({}), &Cancellation::new());
        assert_eq!(invocation.outcome, Outcome::Returned(Value::Null), "{}", invocation.logs);
        started.elapsed()
    };
    // The runner's first Python environment also starts the interpreter's template, which forks
    // the following ones.
    let first = cold_start(0);
    let mut starts: Vec<Duration> = (1..=COLD_STARTS).map(cold_start).collect();
    starts.sort();
    // What the machine itself takes to start and end an interpreter, for comparison.
    let mut bare: Vec<Duration> = (0..COLD_STARTS)
        .map(|_| {
            let started = Instant::now();
            let status = std::process::Command::new("python3").args(["-c", "pass"]).status().expect("python3 runs");
            assert!(status.success());
            started.elapsed()
        })
        .collect();
    bare.sort();
    println!(
        "cold start of a Python function to its first response over {COLD_STARTS} starts: p50 {:.1} ms, min {:.1} ms, max {:.1} ms \
         (the runner's first, which starts the template: {:.1} ms; a bare `python3 -c pass` here: p50 {:.1} ms, min {:.1} ms)",
        millis(percentile(&starts, 50)),
        millis(starts.first().copied().unwrap_or_default()),
        millis(starts.last().copied().unwrap_or_default()),
        millis(first),
        millis(percentile(&bare, 50)),
        millis(bare.first().copied().unwrap_or_default()),
    );
}

fn burst() {
    let runner = ProcessRunner::new();
    let function = FunctionSpec {
        concurrency: Concurrency { reserved: Some(BURST_RESERVED), provisioned: 0 },
        ..python("burst", "import time\ndef handler(event, context):\n    time.sleep(0.05)\n    return event['n']\n")
    };
    let barrier = Arc::new(Barrier::new(BURST_INVOCATIONS));
    let started = Instant::now();
    let outcomes: Vec<(usize, Outcome)> = (0..BURST_INVOCATIONS)
        .map(|n| {
            let (runner, function, barrier) = (runner.clone(), function.clone(), Arc::clone(&barrier));
            thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    barrier.wait();
                    (n, runner.invoke(&function, &json!({ "n": n }), &Cancellation::new()).outcome)
                })
                .expect("a thread per invocation")
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().expect("an invocation"))
        .collect();
    let elapsed = started.elapsed();
    let completed = outcomes.iter().filter(|(n, outcome)| *outcome == Outcome::Returned(json!(n))).count();
    let throttled = outcomes.iter().filter(|(_, outcome)| *outcome == Outcome::Throttled).count();
    let (idle, busy) = runner.environments(&function.name);
    println!(
        "{BURST_INVOCATIONS} concurrent invocations, reserved concurrency {BURST_RESERVED}: {completed} completed, {throttled} throttled, {} lost \
         in {:.0} ms; environments afterwards: {idle} idle, {busy} busy; this process's peak RSS {} MB",
        BURST_INVOCATIONS - completed - throttled,
        millis(elapsed),
        peak_rss_mb()
    );
    assert_eq!(completed + throttled, BURST_INVOCATIONS, "invocations were lost");
    assert!(idle <= BURST_RESERVED as usize, "more environments than the reserved concurrency");
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    sorted.get((sorted.len() * percent / 100).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(0, |kilobytes| kilobytes / 1024)
}
