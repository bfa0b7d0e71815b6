//! Both container runners end to end, through the same cases: the process runner on this host,
//! the engine runner on the engine `DOCKER_HOST` names (Podman's service in CI: see
//! scripts/setup/podman.sh, which builds the `localhost/switchyard-busybox` image used here).
//! Without an engine the engine cases are skipped, except under CI where that is a failure.

use compute::containers::{ContainerEnd, ContainerErrorKind, ContainerRunner, ContainerSpec, EngineConfig, EngineRunner, ProcessRunner, OWNER_LABEL};
use compute::Cancellation;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

const IMAGE: &str = "localhost/switchyard-busybox";
const STOP_GRACE: Duration = Duration::from_secs(1);

/// A directory of this test process for the case `name`.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("switchyard-container-runners-{}/{name}", std::process::id()))
}

fn shell(script: &str) -> ContainerSpec {
    ContainerSpec { image: IMAGE.into(), command: vec!["sh".into(), "-c".into(), script.into()], ..ContainerSpec::default() }
}

/// Opens a runner for the case `name`; the same name gives a runner that sees the same containers
/// (as a restarted Switchyard does).
trait Runners {
    fn open(name: &str) -> Option<Box<dyn ContainerRunner>>;
}

struct Process;
impl Runners for Process {
    fn open(name: &str) -> Option<Box<dyn ContainerRunner>> {
        Some(Box::new(ProcessRunner::open(scratch(name), format!("test-{name}")).expect("process runner").with_stop_grace(STOP_GRACE)))
    }
}

struct Engine;
impl Runners for Engine {
    fn open(name: &str) -> Option<Box<dyn ContainerRunner>> {
        let mut config = EngineConfig::new(format!("test-{name}-{}", std::process::id()));
        config.stop_grace = STOP_GRACE;
        match EngineRunner::connect(config) {
            Ok(runner) => Some(Box::new(runner)),
            Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => panic!("no container engine in CI: {error}"),
            Err(error) => {
                eprintln!("skipped: {error} (scripts/setup/podman.sh starts one)");
                None
            }
        }
    }
}

fn success<R: Runners>() {
    let Some(runner) = R::open("success") else { return };
    let mut spec = shell("echo \"hello $GREETING\"; echo oops >&2");
    spec.environment = vec![("GREETING".into(), "world".into())];
    spec.vcpus = Some(0.5);
    spec.memory_mib = Some(64);
    let before = SystemTime::now() - Duration::from_secs(1);
    let outcome = runner.run(&spec, &Cancellation::new());
    assert_eq!((&outcome.end, outcome.exit_code, outcome.oom_killed), (&ContainerEnd::Exited, Some(0), false), "{outcome:?}");
    assert_eq!(outcome.logs, "hello world\noops\n");
    assert!(outcome.started_at.is_some_and(|started| started >= before && started <= outcome.stopped_at), "{outcome:?}");
    assert!(runner.survivors().expect("survivors").is_empty(), "nothing left behind");
}

fn entrypoint<R: Runners>() {
    let Some(runner) = R::open("entrypoint") else { return };
    let spec = ContainerSpec { image: IMAGE.into(), entrypoint: Some(vec!["echo".into(), "a".into()]), command: vec!["b".into()], ..ContainerSpec::default() };
    assert_eq!(runner.run(&spec, &Cancellation::new()).logs, "a b\n");
}

fn non_zero_exit<R: Runners>() {
    let Some(runner) = R::open("exit") else { return };
    let outcome = runner.run(&shell("exit 3"), &Cancellation::new());
    assert_eq!((outcome.end, outcome.exit_code), (ContainerEnd::Exited, Some(3)));
}

fn missing_program<R: Runners>() {
    let Some(runner) = R::open("missing") else { return };
    let spec = ContainerSpec { image: IMAGE.into(), command: vec!["app/no-such-exec".into()], ..ContainerSpec::default() };
    match runner.run(&spec, &Cancellation::new()).end {
        ContainerEnd::FailedToStart(error) => assert_eq!(error.kind, ContainerErrorKind::Start),
        other => panic!("expected a failure to start, got {other:?}"),
    }
    assert!(runner.survivors().expect("survivors").is_empty());
}

fn timeout<R: Runners>() {
    let Some(runner) = R::open("timeout") else { return };
    let mut spec = shell("sleep 30");
    spec.timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    let outcome = runner.run(&spec, &Cancellation::new());
    assert_eq!(outcome.end, ContainerEnd::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(5), "stopped promptly: {:?}", started.elapsed());
    assert!(runner.survivors().expect("survivors").is_empty());
}

fn out_of_memory<R: Runners>() {
    let Some(runner) = R::open("oom") else { return };
    let mut spec = shell("x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo ${#x}; sleep 10");
    spec.memory_mib = Some(32);
    let outcome = runner.run(&spec, &Cancellation::new());
    assert_eq!((&outcome.end, outcome.exit_code, outcome.oom_killed), (&ContainerEnd::Exited, Some(137), true), "{outcome:?}");
}

fn stopped_mid_run<R: Runners>() {
    let Some(runner) = R::open("cancel") else { return };
    let cancellation = Cancellation::new();
    let stopper = cancellation.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(500));
        stopper.cancel();
    });
    let started = Instant::now();
    let outcome = runner.run(&shell("echo started; sleep 30"), &cancellation);
    assert_eq!(outcome.end, ContainerEnd::Stopped);
    assert!(matches!(outcome.exit_code, Some(137 | 143)), "{outcome:?}");
    assert_eq!(outcome.logs, "started\n");
    // Well short of the 30 s the command would take; a loaded engine can take seconds to stop it.
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

fn adopted_after_a_crash<R: Runners>() {
    let Some(first) = R::open("adopt") else { return };
    let log_file = scratch("adopt-log").with_extension("log");
    let mut spec = shell("sleep 1; echo done; exit 7");
    spec.labels.insert("task".into(), "t-1".into());
    spec.log_file = Some(log_file.clone());
    spec.timeout = Some(Duration::from_secs(60));
    let started = first.start(&spec).expect("started");
    // The first runner is gone (as after kill -9); a new one finds the container and waits for it.
    drop(first);
    let restarted = R::open("adopt").expect("runner");
    let survivors = restarted.survivors().expect("survivors");
    assert_eq!(survivors.iter().map(|survivor| &survivor.id).collect::<Vec<_>>(), vec![&started.id]);
    assert_eq!(survivors[0].label("task"), Some("t-1"));
    assert!(survivors[0].label(OWNER_LABEL).is_some_and(|owner| owner.starts_with("test-adopt")));
    assert_eq!(survivors[0].deadline.map(|deadline| deadline.duration_since(started.started_at).unwrap_or_default().as_secs()), Some(60));
    let outcome = restarted.wait(&survivors[0], &Cancellation::new());
    assert_eq!((&outcome.end, outcome.exit_code), (&ContainerEnd::Exited, Some(7)), "{outcome:?}");
    assert_eq!(outcome.logs, "done\n");
    assert_eq!(std::fs::read_to_string(&log_file).unwrap_or_default(), "done\n");
    assert!(restarted.survivors().expect("survivors").is_empty());
}

fn orphan_removed<R: Runners>() {
    let Some(first) = R::open("orphan") else { return };
    let started = first.start(&shell("sleep 30")).expect("started");
    drop(first);
    let restarted = R::open("orphan").expect("runner");
    let begun = Instant::now();
    restarted.remove(&started);
    assert!(begun.elapsed() < Duration::from_secs(5));
    assert!(restarted.survivors().expect("survivors").is_empty());
}

macro_rules! cases {
    ($module:ident, $runners:ty) => {
        mod $module {
            #[test]
            fn a_command_runs_with_its_environment_and_its_logs_are_kept() {
                super::success::<$runners>();
            }
            #[test]
            fn an_entrypoint_comes_before_the_command() {
                super::entrypoint::<$runners>();
            }
            #[test]
            fn a_non_zero_exit_is_reported() {
                super::non_zero_exit::<$runners>();
            }
            #[test]
            fn a_missing_program_fails_to_start() {
                super::missing_program::<$runners>();
            }
            #[test]
            fn a_command_past_its_timeout_is_stopped() {
                super::timeout::<$runners>();
            }
            #[test]
            fn a_command_over_its_memory_limit_is_killed_as_out_of_memory() {
                super::out_of_memory::<$runners>();
            }
            #[test]
            fn a_cancelled_run_is_stopped_mid_run() {
                super::stopped_mid_run::<$runners>();
            }
            #[test]
            fn a_run_survives_a_crash_of_its_runner_and_is_adopted() {
                super::adopted_after_a_crash::<$runners>();
            }
            #[test]
            fn a_survivor_nobody_adopts_is_removed() {
                super::orphan_removed::<$runners>();
            }
        }
    };
}

cases!(process, super::Process);
cases!(engine, super::Engine);

#[test]
fn the_process_runner_kills_the_children_of_a_stopped_command() {
    let directory = scratch("children");
    let marker = directory.join("child-survived");
    let runner = ProcessRunner::open(&directory, "test-children").expect("runner").with_stop_grace(STOP_GRACE);
    let mut spec = shell(&format!("(sleep 2; touch {}) & sleep 30", marker.display()));
    spec.timeout = Some(Duration::from_millis(300));
    assert_eq!(runner.run(&spec, &Cancellation::new()).end, ContainerEnd::TimedOut);
    thread::sleep(Duration::from_millis(2500));
    assert!(!marker.exists(), "the command's children were killed with it");
}

#[test]
fn the_engine_runner_reports_a_missing_image_without_pulling_when_told_not_to() {
    let Some(_) = Engine::open("image") else { return };
    let mut config = EngineConfig::new("test-image");
    config.pull = compute::containers::PullPolicy::Never;
    let runner = EngineRunner::connect(config).expect("engine");
    let spec = ContainerSpec { image: "localhost/switchyard-no-such-image:latest".into(), ..ContainerSpec::default() };
    match runner.run(&spec, &Cancellation::new()).end {
        ContainerEnd::FailedToStart(error) => {
            assert_eq!(error.kind, ContainerErrorKind::Image);
            assert!(error.message.starts_with("CannotPullContainerError"), "{}", error.message);
        }
        other => panic!("expected a failure to start, got {other:?}"),
    }
}
