//! The process runner end to end: real subprocesses, real signals, a runner "crash" in between.

use compute::containers::{ContainerEnd, ContainerErrorKind, ContainerRunner, ContainerSpec, ProcessRunner, OWNER_LABEL};
use compute::Cancellation;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("switchyard-process-runner-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    directory
}

fn runner(directory: &PathBuf) -> ProcessRunner {
    ProcessRunner::open(directory, "test-owner").expect("runner").with_stop_grace(Duration::from_millis(500))
}

fn shell(script: &str) -> ContainerSpec {
    ContainerSpec { command: vec!["sh".into(), "-c".into(), script.into()], ..ContainerSpec::default() }
}

#[test]
fn a_command_runs_with_its_environment_and_its_logs_are_kept() {
    let directory = scratch("success");
    let mut spec = shell("echo \"hello $GREETING\"; echo oops >&2");
    spec.environment = vec![("GREETING".into(), "world".into())];
    let before = SystemTime::now();
    let outcome = runner(&directory).run(&spec, &Cancellation::new());
    assert_eq!((outcome.end, outcome.exit_code, outcome.oom_killed), (ContainerEnd::Exited, Some(0), false));
    assert_eq!(outcome.logs, "hello world\noops\n");
    assert_eq!(outcome.runner, "process");
    assert!(outcome.started_at.is_some_and(|started| started >= before && started <= outcome.stopped_at));
    assert_eq!(std::fs::read_dir(&directory).map(|entries| entries.count()).unwrap_or(1), 0, "nothing left behind");
}

#[test]
fn an_entrypoint_comes_before_the_command() {
    let directory = scratch("entrypoint");
    let spec = ContainerSpec { entrypoint: Some(vec!["echo".into(), "a".into()]), command: vec!["b".into()], ..ContainerSpec::default() };
    assert_eq!(runner(&directory).run(&spec, &Cancellation::new()).logs, "a b\n");
}

#[test]
fn a_non_zero_exit_is_reported() {
    let directory = scratch("exit");
    let outcome = runner(&directory).run(&shell("exit 3"), &Cancellation::new());
    assert_eq!((outcome.end, outcome.exit_code), (ContainerEnd::Exited, Some(3)));
}

#[test]
fn a_missing_program_fails_to_start() {
    let directory = scratch("missing");
    let spec = ContainerSpec { command: vec!["app/no-such-exec".into()], ..ContainerSpec::default() };
    match runner(&directory).run(&spec, &Cancellation::new()).end {
        ContainerEnd::FailedToStart(error) => assert_eq!(error.kind, ContainerErrorKind::Start),
        other => panic!("expected a failure to start, got {other:?}"),
    }
}

#[test]
fn a_command_past_its_timeout_is_stopped_with_its_children() {
    let directory = scratch("timeout");
    let marker = directory.join("child-survived");
    let mut spec = shell(&format!("(sleep 2; touch {}) & sleep 30", marker.display()));
    spec.timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    let outcome = runner(&directory).run(&spec, &Cancellation::new());
    assert_eq!(outcome.end, ContainerEnd::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(5), "stopped promptly: {:?}", started.elapsed());
    thread::sleep(Duration::from_millis(2500));
    assert!(!marker.exists(), "the command's children were killed with it");
}

#[test]
fn a_command_over_its_memory_limit_is_killed_as_out_of_memory() {
    let directory = scratch("oom");
    let mut spec = shell("python3 -c 'import time; x = bytearray(200 * 1024 * 1024); time.sleep(10)'");
    spec.memory_mib = Some(64);
    let outcome = runner(&directory).run(&spec, &Cancellation::new());
    assert_eq!((outcome.end, outcome.exit_code, outcome.oom_killed), (ContainerEnd::Exited, Some(137), true));
}

#[test]
fn a_cancelled_run_is_stopped_mid_run() {
    let directory = scratch("cancel");
    let cancellation = Cancellation::new();
    let stopper = cancellation.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        stopper.cancel();
    });
    let started = Instant::now();
    let outcome = runner(&directory).run(&shell("echo started; sleep 30"), &cancellation);
    assert_eq!(outcome.end, ContainerEnd::Stopped);
    assert_eq!(outcome.exit_code, Some(143));
    assert_eq!(outcome.logs, "started\n");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_run_survives_a_crash_of_its_runner_and_is_adopted() {
    let directory = scratch("adopt");
    let mut spec = shell("sleep 0.5; echo done; exit 7");
    spec.labels.insert("task".into(), "t-1".into());
    let started = runner(&directory).start(&spec).expect("started");
    // The first runner is gone (as after kill -9); a new one finds the run and waits for it.
    let restarted = runner(&directory);
    let survivors = restarted.survivors().expect("survivors");
    assert_eq!(survivors, vec![started.clone()]);
    assert_eq!(survivors[0].label("task"), Some("t-1"));
    assert_eq!(survivors[0].label(OWNER_LABEL), Some("test-owner"));
    let outcome = restarted.wait(&survivors[0], &Cancellation::new());
    assert_eq!((outcome.end, outcome.exit_code), (ContainerEnd::Exited, Some(7)));
    assert_eq!(outcome.logs, "done\n");
    assert!(restarted.survivors().expect("survivors").is_empty());
}

#[test]
fn a_survivor_nobody_adopts_is_removed_with_its_processes() {
    let directory = scratch("orphan");
    let marker = directory.join("still-running");
    let started = runner(&directory).start(&shell(&format!("sleep 1; touch {}", marker.display()))).expect("started");
    let restarted = runner(&directory);
    restarted.remove(&started);
    thread::sleep(Duration::from_millis(1500));
    assert!(!marker.exists(), "the orphan was killed");
    assert!(restarted.survivors().expect("survivors").is_empty());
}
