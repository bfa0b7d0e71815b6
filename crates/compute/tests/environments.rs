//! Execution environments as Lambda keeps them: warm reuse, cold starts only when none is idle,
//! reaping, provisioned and reserved concurrency, limits and the log lines of every invocation.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{failed, returned, spec};
use compute::{Cancellation, Concurrency, FailureKind, FunctionRunner, FunctionSpec, HandlerSource, Invocation, Outcome, ProcessRunner};
use serde_json::{json, Value};

/// Answers its process id and how often this environment was invoked.
const COUNTING_PYTHON: &str =
    "import os\ncalls = 0\ndef handler(event, context):\n    global calls\n    calls += 1\n    return {'pid': os.getpid(), 'calls': calls}\n";
const COUNTING_NODE: &str = "let calls = 0;\nexports.handler = async () => ({ pid: process.pid, calls: ++calls });\n";

fn python(source: &str) -> FunctionSpec {
    spec("python3.12", "handler.handler", HandlerSource::Inline(source.to_string()))
}

fn call(runner: &ProcessRunner, function: &FunctionSpec, event: Value) -> Invocation {
    runner.invoke(function, &event, &Cancellation::new())
}

#[test]
fn a_warm_environment_is_reused_with_its_state() {
    let runner = ProcessRunner::new();
    for function in [python(COUNTING_PYTHON), spec("nodejs20.x", "index.handler", HandlerSource::Inline(COUNTING_NODE.to_string()))] {
        let first = returned(&call(&runner, &function, json!({}))).clone();
        let second = returned(&call(&runner, &function, json!({}))).clone();
        assert_eq!(first["pid"], second["pid"], "{}", function.runtime.identifier());
        assert_eq!((first["calls"].clone(), second["calls"].clone()), (json!(1), json!(2)));
        assert_eq!(runner.environments(&function.name), (1, 0));
    }
}

#[test]
fn a_new_environment_starts_only_when_none_is_idle() {
    let runner = ProcessRunner::new();
    let function = python("import os, time\ndef handler(event, context):\n    time.sleep(0.3)\n    return os.getpid()\n");
    let barrier = Arc::new(Barrier::new(2));
    let pids: Vec<Value> = (0..2)
        .map(|_| {
            let (runner, function, barrier) = (runner.clone(), function.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                returned(&call(&runner, &function, json!({}))).clone()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().expect("an invocation"))
        .collect();
    assert_ne!(pids[0], pids[1]);
    assert_eq!(runner.environments(&function.name), (2, 0));
    let again = returned(&call(&runner, &function, json!({}))).clone();
    assert!(pids.contains(&again), "{again} is none of {pids:?}");
}

#[test]
fn a_changed_function_never_runs_in_an_old_environment() {
    let runner = ProcessRunner::new();
    let function = python(COUNTING_PYTHON);
    let before = returned(&call(&runner, &function, json!({}))).clone();
    let updated = FunctionSpec { memory_mb: 512, ..function.clone() };
    let after = returned(&call(&runner, &updated, json!({}))).clone();
    assert_ne!(before["pid"], after["pid"]);
    assert_eq!(after["calls"], json!(1));
    let recoded = python(&format!("{COUNTING_PYTHON}\nVERSION = 2\n"));
    assert_ne!(returned(&call(&runner, &recoded, json!({})))["pid"], after["pid"]);
    assert_eq!(runner.environments(&function.name), (1, 0));
}

#[test]
fn idle_environments_are_reaped() {
    let runner = ProcessRunner::new().with_idle_timeout(Duration::from_millis(200));
    let function = python(COUNTING_PYTHON);
    let first = returned(&call(&runner, &function, json!({}))).clone();
    assert_eq!(runner.environments(&function.name), (1, 0));
    let reaped = Instant::now() + Duration::from_secs(5);
    while runner.environments(&function.name).0 > 0 && Instant::now() < reaped {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(runner.environments(&function.name), (0, 0));
    let process = format!("/proc/{}", first["pid"]);
    while std::path::Path::new(&process).exists() && Instant::now() < reaped {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!std::path::Path::new(&process).exists(), "{process} still runs");
    assert_ne!(returned(&call(&runner, &function, json!({})))["pid"], first["pid"]);
}

#[test]
fn provisioned_environments_are_started_ahead_and_kept() {
    let runner = ProcessRunner::new().with_idle_timeout(Duration::from_millis(100));
    let function = FunctionSpec { concurrency: Concurrency { reserved: None, provisioned: 2 }, ..python(COUNTING_PYTHON) };
    runner.provision(&function);
    let ready = Instant::now() + Duration::from_secs(10);
    while runner.environments(&function.name).0 < 2 && Instant::now() < ready {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    assert_eq!(runner.environments(&function.name), (2, 0), "provisioned environments are not reaped");
    let invocation = call(&runner, &function, json!({}));
    assert_eq!(returned(&invocation)["calls"], json!(1));
    assert!(!invocation.logs.contains("Init Duration"), "{}", invocation.logs);
}

#[test]
fn reserved_concurrency_throttles_the_invocations_beyond_it() {
    let runner = ProcessRunner::new();
    let function = FunctionSpec {
        concurrency: Concurrency { reserved: Some(2), provisioned: 0 },
        ..python("import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return 'done'\n")
    };
    let barrier = Arc::new(Barrier::new(5));
    let outcomes: Vec<Outcome> = (0..5)
        .map(|_| {
            let (runner, function, barrier) = (runner.clone(), function.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                call(&runner, &function, json!({})).outcome
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().expect("an invocation"))
        .collect();
    assert_eq!(outcomes.iter().filter(|outcome| **outcome == Outcome::Returned(json!("done"))).count(), 2, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|outcome| **outcome == Outcome::Throttled).count(), 3, "{outcomes:?}");
    let none = FunctionSpec { concurrency: Concurrency { reserved: Some(0), provisioned: 0 }, ..function };
    assert_eq!(call(&runner, &none, json!({})).outcome, Outcome::Throttled);
}

#[test]
fn a_timed_out_environment_is_not_reused() {
    let runner = ProcessRunner::new();
    let mut function =
        python("import os, time\ndef handler(event, context):\n    if event.get('sleep'):\n        time.sleep(60)\n    return os.getpid()\n");
    function.timeout_seconds = 1;
    let pid = returned(&call(&runner, &function, json!({}))).clone();
    let timed_out = call(&runner, &function, json!({"sleep": true}));
    assert_eq!(failed(&timed_out).kind, FailureKind::Timeout);
    assert!(timed_out.logs.contains(&format!(" {} Task timed out after 1.00 seconds\n", timed_out.request_id)), "{}", timed_out.logs);
    assert!(timed_out.logs.contains("\tStatus: timeout\t"), "{}", timed_out.logs);
    assert_ne!(returned(&call(&runner, &function, json!({}))), &pid);
}

#[test]
fn a_handler_error_keeps_the_environment() {
    let runner = ProcessRunner::new();
    let function =
        python("import os\ndef handler(event, context):\n    if event.get('fail'):\n        raise ValueError('no')\n    return os.getpid()\n");
    let pid = returned(&call(&runner, &function, json!({}))).clone();
    assert_eq!(failed(&call(&runner, &function, json!({"fail": true}))).error_type, "ValueError");
    assert_eq!(returned(&call(&runner, &function, json!({}))), &pid);
}

#[test]
fn python_past_its_memory_fails_for_memory() {
    let mut function = python("def handler(event, context):\n    return len(bytearray(event['mb'] << 20))\n");
    function.memory_mb = 128;
    let runner = ProcessRunner::new();
    assert_eq!(returned(&call(&runner, &function, json!({"mb": 16}))), &json!(16 << 20));
    let error = failed(&call(&runner, &function, json!({"mb": 200}))).clone();
    // The allocation fails under RLIMIT_AS; a memory cgroup's limit kills the process instead.
    assert!(
        [(FailureKind::Handler, "MemoryError"), (FailureKind::OutOfMemory, "Runtime.OutOfMemory")].contains(&(error.kind, error.error_type.as_str())),
        "{error:?}"
    );
}

#[test]
fn node_past_its_memory_is_out_of_memory() {
    let mut function = spec(
        "nodejs20.x",
        "index.handler",
        HandlerSource::Inline(
            "exports.handler = async () => {\n  const kept = [];\n  for (;;) kept.push(new Array(1e6).fill(1.5));\n};\n".to_string(),
        ),
    );
    function.memory_mb = 128;
    function.timeout_seconds = 30;
    let invocation = call(&ProcessRunner::new(), &function, json!({}));
    let error = failed(&invocation);
    assert_eq!((error.kind, error.error_type.as_str()), (FailureKind::OutOfMemory, "Runtime.OutOfMemory"), "{}", invocation.logs);
    assert!(
        error.error_message.starts_with(&format!("RequestId: {} Error: Runtime exited with error: signal: ", invocation.request_id)),
        "{}",
        error.error_message
    );
}

#[test]
fn every_invocation_logs_start_end_and_report() {
    let runner = ProcessRunner::new();
    let function = python("print('starting')\ndef handler(event, context):\n    print('hello from', context.aws_request_id)\n    return 1\n");
    let cold = call(&runner, &function, json!({}));
    let id = &cold.request_id;
    let lines: Vec<&str> = cold.logs.lines().collect();
    assert_eq!(lines[0], "starting");
    assert_eq!(lines[1], format!("START RequestId: {id} Version: $LATEST"));
    assert_eq!(lines[2], format!("hello from {id}"));
    assert_eq!(lines[3], format!("END RequestId: {id}"));
    let report = lines[4];
    assert!(report.starts_with(&format!("REPORT RequestId: {id}\tDuration: ")), "{report}");
    for field in ["\tBilled Duration: ", " ms\tMemory Size: 256 MB\tMax Memory Used: ", " MB\tInit Duration: "] {
        assert!(report.contains(field), "{field:?} missing from {report:?}");
    }
    assert!(cold.log_stream_name.contains("/[$LATEST]"), "{}", cold.log_stream_name);
    let warm = call(&runner, &function, json!({}));
    assert!(!warm.logs.contains("Init Duration"), "{}", warm.logs);
    assert_eq!(warm.log_stream_name, cold.log_stream_name);
}

#[test]
fn a_retired_function_leaves_no_environment() {
    let runner = ProcessRunner::new();
    let function = python(COUNTING_PYTHON);
    let pid = returned(&call(&runner, &function, json!({})))["pid"].clone();
    runner.retire(&function.name);
    assert_eq!(runner.environments(&function.name), (0, 0));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "process {pid} still runs");
    assert_ne!(returned(&call(&runner, &function, json!({})))["pid"], pid);
}
