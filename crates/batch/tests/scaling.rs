//! The scaler end to end on the process runner: demand grows an environment up to maxvCpus and
//! idleness shrinks it back to minvCpus.

mod common;

use batch::ScalerConfig;
use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn fifty_jobs_on_two_vcpu_instances_scale_to_four_and_back_to_zero() {
    let scaler = ScalerConfig { idle_timeout_ms: 300, launch_delay_ms: 20, spot_interruption_after_ms: None };
    let (batch, _dir) = memory_service(scaler, "scaling");
    setup(&batch, "SPOT", &["c5.large"], 8);
    let jobs: Vec<String> =
        (0..50).map(|index| submit(&batch, json!({"jobName": format!("job{index}"), "containerOverrides": {"command": ["sleep", "0.05"]}}))).collect();
    for job in &jobs {
        assert_eq!(wait_done(&batch, job, Duration::from_secs(60))["status"], "SUCCEEDED", "job {job}");
    }
    let history = batch.instance_history();
    assert!(history.iter().all(|instance| instance.instance_type == "c5.large" && instance.market == "SPOT"));
    let most_at_once = history
        .iter()
        .map(|instance| history.iter().filter(|other| other.launched_at <= instance.launched_at && other.stopped_at.is_none_or(|stop| stop > instance.launched_at)).count())
        .max();
    assert_eq!(most_at_once, Some(4), "at most 8 vCPUs of 2-vCPU instances, and demand for all of them");
    let scaled_down = wait_until(Duration::from_secs(10), || {
        let environments = call(&batch, "describecomputeenvironments", json!({"computeEnvironments": ["env"]}));
        environments["computeEnvironments"][0]["computeResources"]["desiredvCpus"] == 0
    });
    assert!(scaled_down, "back to minvCpus 0 after the idle time");
    assert!(batch.instance_history().iter().all(|instance| instance.stopped_at.is_some()));
}
