//! The scheduler without processes or clocks: time is an argument, starts and stops are effects.

use batch::capacity::Environment;
use batch::service::capacity_kind;
use batch::job::{Exit, Job};
use batch::model::{
    ComputeEnvironment, ComputeEnvironmentOrder, ComputeResources, ContainerProperties, EvaluateOnExit, FairsharePolicy, JobDefinition, JobQueue, JobStatus,
    JobTimeout, ResourceRequirement, RetryStrategy, SchedulingPolicy, ShareAttributes,
};
use batch::scheduler::{Effect, ScalerConfig, Scheduler};
use batch::submission::{jobs_for, SubmitJobRequest, Target};

fn environment(name: &str, kind: &str, min: u32, max: u32, types: &[&str]) -> Environment {
    let spec = ComputeEnvironment {
        compute_environment_name: name.into(),
        compute_environment_arn: format!("arn:ce/{name}"),
        ecs_cluster_arn: String::new(),
        kind: "MANAGED".into(),
        state: "ENABLED".into(),
        status: "VALID".into(),
        status_reason: String::new(),
        unmanagedv_cpus: None,
        compute_resources: Some(ComputeResources {
            kind: kind.into(),
            allocation_strategy: None,
            minv_cpus: min,
            maxv_cpus: max,
            desiredv_cpus: 0,
            instance_types: types.iter().map(|t| t.to_string()).collect(),
            other: Default::default(),
        }),
        service_role: None,
        tags: Default::default(),
        uuid: String::new(),
        container_orchestration_type: "ECS".into(),
    };
    let kind = capacity_kind(&spec, "process");
    Environment::new(spec, kind)
}

fn queue(name: &str, priority: i32, environment: &str) -> JobQueue {
    JobQueue {
        job_queue_name: name.into(),
        job_queue_arn: format!("arn:jq/{name}"),
        state: "ENABLED".into(),
        scheduling_policy_arn: None,
        status: "VALID".into(),
        status_reason: String::new(),
        priority,
        compute_environment_order: vec![ComputeEnvironmentOrder { order: 1, compute_environment: format!("arn:ce/{environment}") }],
        tags: Default::default(),
        job_queue_type: "ECS_EC2".into(),
    }
}

fn definition(vcpus: u32, retry: Option<RetryStrategy>, timeout: Option<u64>) -> JobDefinition {
    let mut definition = fargate_definition(retry, timeout);
    if let Some(properties) = definition.container_properties.as_mut() {
        properties.vcpus = Some(vcpus);
        properties.resource_requirements.clear();
    }
    definition
}

/// A quarter vCPU, as Fargate jobs ask.
fn fargate_definition(retry: Option<RetryStrategy>, timeout: Option<u64>) -> JobDefinition {
    JobDefinition {
        job_definition_name: "d".into(),
        job_definition_arn: "arn:jd/d:1".into(),
        revision: 1,
        status: "ACTIVE".into(),
        kind: "container".into(),
        scheduling_priority: None,
        parameters: Default::default(),
        retry_strategy: retry,
        container_properties: Some(ContainerProperties {
            memory: Some(512),
            command: vec!["true".into()],
            resource_requirements: vec![ResourceRequirement { kind: "VCPU".into(), value: "0.25".into() }],
            ..Default::default()
        }),
        timeout: timeout.map(|seconds| JobTimeout { attempt_duration_seconds: Some(seconds) }),
        tags: Default::default(),
        propagate_tags: false,
        platform_capabilities: vec![],
        container_orchestration_type: "ECS".into(),
    }
}

fn job(id: &str, queue: &str, definition: &JobDefinition) -> Vec<Job> {
    let request = SubmitJobRequest { job_name: id.into(), ..SubmitJobRequest::default() };
    let target = Target { job_id: id.into(), job_arn_prefix: "arn:job/", queue_name: queue, queue_arn: queue, definition, now: 0 };
    jobs_for(&request, &target).expect("a valid job")
}

fn started(effects: &[Effect]) -> Vec<String> {
    effects.iter().filter_map(|effect| if let Effect::Start { job_id } = effect { Some(job_id.clone()) } else { None }).collect()
}

fn status(scheduler: &Scheduler, id: &str) -> JobStatus {
    scheduler.job(id).map(|job| job.detail.status).expect("the job exists")
}

#[test]
fn a_reclaimed_spot_instance_retries_its_job_per_the_retry_strategy() {
    let config = ScalerConfig { idle_timeout_ms: 1000, launch_delay_ms: 0, spot_interruption_after_ms: Some(500) };
    let mut scheduler = Scheduler::new(config);
    scheduler.put_environment(environment("spot", "SPOT", 0, 4, &["c5.large"]));
    scheduler.put_queue(queue("q", 1, "spot"));
    let retry = RetryStrategy { attempts: Some(2), evaluate_on_exit: vec![EvaluateOnExit { on_status_reason: Some("Host EC2*".into()), on_reason: None, on_exit_code: None, action: "RETRY".into() }] };
    scheduler.submit(job("a", "q", &definition(1, Some(retry), None)));
    scheduler.schedule(0);
    assert_eq!(started(&scheduler.take_effects()), ["a"]);
    scheduler.started("a", 10, true);
    scheduler.schedule(500);
    assert_eq!(scheduler.take_effects(), [Effect::Stop { job_id: "a".into() }]);
    scheduler.exited("a", 510, Exit { exit_code: Some(137), reason: None });
    assert_eq!(status(&scheduler, "a"), JobStatus::Runnable);
    let history = scheduler.instance_history();
    assert!(history[0].interrupted && history[0].stopped_at == Some(500), "{history:?}");
    scheduler.schedule(520);
    assert_eq!(started(&scheduler.take_effects()), ["a"], "a new instance takes the retry");
    scheduler.exited("a", 600, Exit { exit_code: Some(0), reason: None });
    let job = scheduler.job("a").expect("the job");
    assert_eq!(job.detail.status, JobStatus::Succeeded);
    assert_eq!(job.detail.attempts[0].status_reason.as_deref(), Some("Host EC2 (instance i-00000000000000001) terminated."));
}

#[test]
fn an_attempt_past_its_timeout_is_stopped_and_fails_with_aws_reason() {
    let mut scheduler = Scheduler::new(ScalerConfig::default());
    scheduler.put_environment(environment("ec2", "EC2", 0, 4, &["m5"]));
    scheduler.put_queue(queue("q", 1, "ec2"));
    scheduler.submit(job("slow", "q", &definition(1, None, Some(60))));
    scheduler.schedule(0);
    scheduler.take_effects();
    assert_eq!(scheduler.schedule(1000), Some(60_000), "the next pass is due at the deadline");
    scheduler.schedule(60_000);
    assert_eq!(scheduler.take_effects(), [Effect::Stop { job_id: "slow".into() }]);
    scheduler.exited("slow", 60_010, Exit { exit_code: Some(137), reason: None });
    let job = scheduler.job("slow").expect("the job");
    assert_eq!((job.detail.status, job.detail.status_reason.as_deref()), (JobStatus::Failed, Some("Job attempt duration exceeded timeout")));
}

#[test]
fn higher_priority_queues_go_first_and_jobs_pack_onto_the_cheapest_fitting_type() {
    let mut scheduler = Scheduler::new(ScalerConfig::default());
    scheduler.put_environment(environment("ec2", "EC2", 0, 4, &["c5", "m5"]));
    scheduler.put_queue(queue("low", 1, "ec2"));
    scheduler.put_queue(queue("high", 10, "ec2"));
    scheduler.submit(job("low-job", "low", &definition(4, None, None)));
    scheduler.submit(job("high-job", "high", &definition(4, None, None)));
    scheduler.schedule(0);
    assert_eq!(started(&scheduler.take_effects()), ["high-job"], "4 vCPUs of room: the high-priority queue takes them");
    assert_eq!(scheduler.instance_history()[0].instance_type, "c5.xlarge");
    scheduler.exited("high-job", 10, Exit { exit_code: Some(0), reason: None });
    scheduler.schedule(10);
    assert_eq!(started(&scheduler.take_effects()), ["low-job"]);
    assert_eq!(scheduler.instance_history().len(), 1, "the idle instance is reused");
}

#[test]
fn min_vcpus_stay_up_when_idle_and_extra_instances_go_after_the_idle_time() {
    let config = ScalerConfig { idle_timeout_ms: 100, ..ScalerConfig::default() };
    let mut scheduler = Scheduler::new(config);
    scheduler.put_environment(environment("ec2", "EC2", 2, 8, &["c5.large"]));
    scheduler.put_queue(queue("q", 1, "ec2"));
    scheduler.schedule(0);
    let running = |scheduler: &Scheduler| scheduler.environment("ec2").map(|environment| environment.running_vcpus());
    assert_eq!(running(&scheduler), Some(2));
    for id in ["a", "b", "c"] {
        scheduler.submit(job(id, "q", &definition(2, None, None)));
    }
    scheduler.schedule(10);
    assert_eq!(started(&scheduler.take_effects()).len(), 3);
    assert_eq!(running(&scheduler), Some(6));
    for id in ["a", "b", "c"] {
        scheduler.exited(id, 20, Exit { exit_code: Some(0), reason: None });
    }
    scheduler.schedule(50);
    assert_eq!(running(&scheduler), Some(6), "not idle long enough");
    scheduler.schedule(120);
    assert_eq!(running(&scheduler), Some(2), "back to minvCpus");
}

#[test]
fn a_launch_delay_keeps_jobs_runnable_until_their_instance_is_ready() {
    let config = ScalerConfig { launch_delay_ms: 300, ..ScalerConfig::default() };
    let mut scheduler = Scheduler::new(config);
    scheduler.put_environment(environment("ec2", "EC2", 0, 4, &["c5.large"]));
    scheduler.put_queue(queue("q", 1, "ec2"));
    scheduler.submit(job("a", "q", &definition(1, None, None)));
    assert_eq!(scheduler.schedule(0), Some(300));
    assert!(scheduler.take_effects().is_empty());
    assert_eq!(status(&scheduler, "a"), JobStatus::Runnable);
    scheduler.schedule(300);
    assert_eq!(started(&scheduler.take_effects()), ["a"]);
    assert_eq!(status(&scheduler, "a"), JobStatus::Starting);
}

#[test]
fn a_job_too_big_for_every_type_stays_runnable() {
    let mut scheduler = Scheduler::new(ScalerConfig::default());
    scheduler.put_environment(environment("ec2", "EC2", 0, 256, &["c5.large"]));
    scheduler.put_queue(queue("q", 1, "ec2"));
    scheduler.submit(job("huge", "q", &definition(4, None, None)));
    scheduler.schedule(0);
    assert!(scheduler.take_effects().is_empty());
    assert_eq!(status(&scheduler, "huge"), JobStatus::Runnable);
}

#[test]
fn fargate_gives_each_job_its_own_slot_and_releases_it_with_the_job() {
    let mut scheduler = Scheduler::new(ScalerConfig::default());
    scheduler.put_environment(environment("fargate", "FARGATE", 0, 2, &[]));
    scheduler.put_queue(queue("q", 1, "fargate"));
    for id in ["a", "b", "c"] {
        scheduler.submit(job(id, "q", &fargate_definition(None, None)));
    }
    scheduler.schedule(0);
    assert_eq!(started(&scheduler.take_effects()), ["a", "b"], "two 1-vCPU slots fit in maxvCpus 2");
    scheduler.exited("a", 5, Exit { exit_code: Some(0), reason: None });
    let history = scheduler.instance_history();
    assert_eq!(history.iter().filter(|slot| slot.stopped_at == Some(5)).count(), 1, "a's slot goes with it: {history:?}");
    scheduler.schedule(5);
    assert_eq!(started(&scheduler.take_effects()), ["c"]);
    assert!(scheduler.instance_history().iter().all(|slot| slot.instance_type == "fargate" && slot.market == "FARGATE"));
}

/// A fair-share queue `q` on an EC2 environment of at most `vcpus` vCPUs of c5 instances.
fn fair_share_scheduler(vcpus: u32, reservation: u32, weights: &[(&str, f64)]) -> Scheduler {
    let mut scheduler = Scheduler::new(ScalerConfig::default());
    scheduler.put_environment(environment("ec2", "EC2", 0, vcpus, &["c5"]));
    scheduler.put_policy(SchedulingPolicy {
        name: "fair".into(),
        arn: "arn:sp/fair".into(),
        fairshare_policy: Some(FairsharePolicy {
            share_decay_seconds: Some(3600),
            compute_reservation: Some(reservation),
            share_distribution: weights.iter().map(|(share, weight)| ShareAttributes { share_identifier: (*share).into(), weight_factor: Some(*weight) }).collect(),
        }),
        quota_share_policy: None,
        tags: Default::default(),
    });
    scheduler.put_queue(JobQueue { scheduling_policy_arn: Some("arn:sp/fair".into()), ..queue("q", 1, "ec2") });
    scheduler
}

fn shared_job(id: &str, share: &str, priority: i32, vcpus: u32) -> Vec<Job> {
    let definition = definition(vcpus, None, None);
    let request = SubmitJobRequest { job_name: id.into(), share_identifier: Some(share.into()), scheduling_priority_override: Some(priority), ..SubmitJobRequest::default() };
    let target = Target { job_id: id.into(), job_arn_prefix: "arn:job/", queue_name: "q", queue_arn: "q", definition: &definition, now: 0 };
    jobs_for(&request, &target).expect("a valid job")
}

/// Runs one job at a time to the end: the order jobs start in.
fn start_one_at_a_time(scheduler: &mut Scheduler, count: usize) -> Vec<String> {
    let mut order = Vec::new();
    for step in 0..count as i64 {
        scheduler.schedule(step * 10);
        for job_id in started(&scheduler.take_effects()) {
            scheduler.exited(&job_id, step * 10 + 5, Exit { exit_code: Some(0), reason: None });
            order.push(job_id);
        }
    }
    order
}

#[test]
fn backlogged_shares_start_jobs_in_inverse_proportion_to_their_weight_factor() {
    let mut scheduler = fair_share_scheduler(2, 0, &[("light", 1.0), ("heavy", 3.0)]);
    for index in 0..30 {
        scheduler.submit(shared_job(&format!("heavy-{index}"), "heavy", 0, 2));
        scheduler.submit(shared_job(&format!("light-{index}"), "light", 0, 2));
    }
    let order = start_one_at_a_time(&mut scheduler, 24);
    let heavy = order.iter().filter(|id| id.starts_with("heavy")).count();
    assert_eq!((order.len() - heavy, heavy), (18, 6), "{order:?}");
}

#[test]
fn within_a_share_the_scheduling_priority_goes_first_and_fifo_queues_ignore_it() {
    let mut scheduler = fair_share_scheduler(2, 0, &[]);
    scheduler.submit(shared_job("low", "a", 1, 2));
    scheduler.submit(shared_job("high", "a", 9, 2));
    assert_eq!(start_one_at_a_time(&mut scheduler, 2), ["high", "low"]);

    let mut fifo = Scheduler::new(ScalerConfig::default());
    fifo.put_environment(environment("ec2", "EC2", 0, 2, &["c5"]));
    fifo.put_queue(queue("q", 1, "ec2"));
    let mut prioritized = definition(2, None, None);
    prioritized.scheduling_priority = Some(9);
    fifo.submit(job("first", "q", &definition(2, None, None)));
    fifo.submit(job("second", "q", &prioritized));
    assert_eq!(start_one_at_a_time(&mut fifo, 2), ["first", "second"]);
}

#[test]
fn compute_reservation_holds_capacity_back_for_shares_not_yet_active() {
    // 50 % reserved with one active share: 4 of 8 vCPUs; with two, 25 %: 6 of 8.
    let mut scheduler = fair_share_scheduler(8, 50, &[]);
    for index in 0..8 {
        scheduler.submit(shared_job(&format!("a-{index}"), "a", 0, 1));
    }
    scheduler.schedule(0);
    assert_eq!(started(&scheduler.take_effects()).len(), 4);
    for index in 0..8 {
        scheduler.submit(shared_job(&format!("b-{index}"), "b", 0, 1));
    }
    scheduler.schedule(10);
    let more = started(&scheduler.take_effects());
    assert_eq!(more.len(), 2, "{more:?}");
    assert!(more.iter().all(|id| id.starts_with('b')), "the new share takes the freed reservation: {more:?}");
}
