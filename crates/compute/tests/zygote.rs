//! Python environments forked from the interpreter's template (zygote): each is still a process of
//! its own, with only its own function's environment, limits and fate, and the template is
//! replaced when it dies or avoided when it cannot start.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{failed, returned, spec, CodeDir};
use compute::{Cancellation, FailureKind, FunctionRunner, FunctionSpec, HandlerSource, Invocation, ProcessRunner};
use serde_json::{json, Value};

/// A handler that tells which process runs it and what it sees.
const PROBE: &str = "import json, os, resource, sys\n\
    def handler(event, context):\n\
    \x20   json.touched_by = getattr(json, 'touched_by', os.environ['AWS_LAMBDA_FUNCTION_NAME'])\n\
    \x20   return {'pid': os.getpid(), 'parent': os.getppid(), 'environment': dict(os.environ), 'cwd': os.getcwd(),\n\
    \x20           'touched_by': json.touched_by, 'address_space': resource.getrlimit(resource.RLIMIT_AS)[0]}\n";

fn function(name: &str, source: &str, environment: &[(&str, &str)]) -> FunctionSpec {
    let mut function = spec("python3.12", "handler.handler", HandlerSource::Inline(source.to_string()));
    function.name = name.to_string();
    function.environment = environment.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect::<BTreeMap<_, _>>();
    function
}

fn call(runner: &ProcessRunner, function: &FunctionSpec) -> Invocation {
    runner.invoke(function, &json!({}), &Cancellation::new())
}

fn probe(runner: &ProcessRunner, function: &FunctionSpec) -> Value {
    returned(&call(runner, function)).clone()
}

fn pid(value: &Value, field: &str) -> i32 {
    value[field].as_i64().and_then(|pid| i32::try_from(pid).ok()).expect("a pid")
}

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

#[test]
fn python_environments_are_forked_by_a_template_of_their_own() {
    let runner = ProcessRunner::new();
    let first = probe(&runner, &function("first", PROBE, &[]));
    let second = probe(&runner, &function("second", PROBE, &[]));
    let own = i64::from(std::process::id());
    assert_ne!(first["parent"], own, "forked, not spawned by this process");
    assert_eq!(first["parent"], second["parent"], "one template per interpreter");
    assert_ne!(first["pid"], second["pid"], "a process per environment");
}

#[test]
fn each_environment_has_only_its_own_function_environment_and_module_state() {
    let runner = ProcessRunner::new();
    let one = probe(&runner, &function("one", PROBE, &[("ONLY_ONE", "1")]));
    let two = probe(&runner, &function("two", PROBE, &[("ONLY_TWO", "2")]));
    assert_eq!(one["environment"]["ONLY_ONE"], "1");
    assert_eq!(one["environment"]["AWS_LAMBDA_FUNCTION_NAME"], "one");
    assert_eq!(two["environment"]["ONLY_TWO"], "2");
    assert_eq!(two["environment"]["AWS_LAMBDA_FUNCTION_NAME"], "two");
    assert!(two["environment"].get("ONLY_ONE").is_none(), "{}", two["environment"]);
    assert!(two["environment"].get("_SWITCHYARD_BOOTSTRAP_SOURCE").is_none(), "the template's own variables do not leak");
    assert_eq!(two["environment"]["TZ"], ":UTC");
    assert_eq!(two["touched_by"], "two", "a module changed in one environment is fresh in the next");
}

#[test]
fn a_code_directory_is_the_working_directory_of_a_forked_environment() {
    let code = CodeDir::new(&[("handler.py", PROBE)]);
    let mut function = function("directory", PROBE, &[]);
    function.source = code.source();
    let seen = probe(&ProcessRunner::new(), &function);
    assert_eq!(seen["cwd"], code.path().to_str().expect("a UTF-8 path"));
    assert_ne!(seen["parent"], i64::from(std::process::id()));
}

#[test]
fn a_function_that_sets_interpreter_variables_is_spawned() {
    let seen = probe(&ProcessRunner::new(), &function("path", PROBE, &[("PYTHONPATH", "/opt/nothing")]));
    assert_eq!(seen["parent"], i64::from(std::process::id()));
    assert_eq!(seen["environment"]["PYTHONPATH"], "/opt/nothing");
}

#[test]
fn a_timeout_kills_only_its_own_environment() {
    let runner = ProcessRunner::new();
    let steady = function("steady", PROBE, &[]);
    let before = probe(&runner, &steady);
    let mut slow = function("slow", "import time\ndef handler(event, context):\n    time.sleep(60)\n", &[]);
    slow.timeout_seconds = 1;
    let started = Instant::now();
    let invocation = call(&runner, &slow);
    assert_eq!(failed(&invocation).kind, FailureKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(runner.environments("slow"), (0, 0), "the timed-out environment is gone");
    let after = probe(&runner, &steady);
    assert_eq!(before["pid"], after["pid"], "the other function's environment lives on");
    assert!(alive(pid(&after, "parent")), "and so does the template");
}

#[test]
fn the_memory_limit_applies_to_a_forked_environment() {
    let mut hungry = function(
        "hungry",
        "import os\ndef handler(event, context):\n    os.environ['PARENT'] = str(os.getppid())\n    return len(bytearray(512 << 20))\n",
        &[],
    );
    hungry.memory_mb = 128;
    let invocation = call(&ProcessRunner::new(), &hungry);
    let error = failed(&invocation);
    assert!(error.error_type == "MemoryError" || error.error_type == "Runtime.OutOfMemory", "{error:?}");
    let limits = probe(&ProcessRunner::new(), &FunctionSpec { memory_mb: 128, ..function("limited", PROBE, &[]) });
    // Without a cgroup of its own, the limit is the address space's.
    let limit = limits["address_space"].as_i64().expect("a limit");
    assert!(limit == 128 << 20 || limit == -1, "{limit}");
}

#[test]
fn a_memory_limited_environment_starts_as_many_threads_as_a_boto3_transfer() {
    let threaded = "import threading, time\n\
        def handler(event, context):\n\
        \x20   threads = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(16)]\n\
        \x20   for thread in threads: thread.start()\n\
        \x20   for thread in threads: thread.join()\n\
        \x20   return len(threads)\n";
    let runner = ProcessRunner::new();
    for environment in [&[][..], &[("PYTHONPATH", "/opt/nothing")][..]] {
        let function = FunctionSpec { memory_mb: 128, ..function("threaded", threaded, environment) };
        assert_eq!(returned(&call(&runner, &function)), &json!(16), "forked or spawned ({environment:?})");
    }
}

#[test]
fn a_template_that_died_is_replaced_and_its_environments_are_not_reused() {
    let runner = ProcessRunner::new();
    let function = function("survivor", PROBE, &[]);
    let before = probe(&runner, &function);
    let template = pid(&before, "parent");
    // SAFETY: kill(2) on the template this test's runner started.
    assert_eq!(unsafe { libc::kill(template, libc::SIGKILL) }, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid(&before, "pid")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid(&before, "pid")), "its environments die with it");
    let after = probe(&runner, &function);
    assert_ne!(after["pid"], before["pid"]);
    assert_ne!(after["parent"], before["parent"], "a new template");
    assert_ne!(after["parent"], i64::from(std::process::id()));
}

#[test]
fn a_python_whose_template_cannot_start_still_runs_functions() {
    // An interpreter that refuses to be a template (it exits when given the bootstrap to load).
    let wrapper = "#!/bin/sh\nif [ -n \"$_SWITCHYARD_BOOTSTRAP_SOURCE\" ]; then exit 1; fi\nexec python3 \"$@\"\n";
    let code = CodeDir::new(&[("python-without-templates", wrapper)]);
    let python = code.path().join("python-without-templates");
    fs::set_permissions(&python, fs::Permissions::from_mode(0o755)).expect("make it executable");
    let runner = ProcessRunner::new().with_python(&python);
    let seen = probe(&runner, &function("fallback", PROBE, &[]));
    assert_eq!(seen["parent"], i64::from(std::process::id()), "spawned");
}
