//! Jobs on a real single-node Slurm cluster: sbatch submissions, exit codes, logs, scancel.

mod common;

use batch::{JobRunner, SlurmRunner};
use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn jobs_run_as_slurm_jobs_with_exit_codes_logs_and_termination() {
    let dir = scratch_dir("slurm");
    let settings = slurm_settings(&dir);
    if !slurm_is_up(&settings) {
        return;
    }
    let runners: HashMap<String, Arc<dyn JobRunner>> = [("slurm".to_owned(), Arc::new(SlurmRunner::new(settings)) as Arc<dyn JobRunner>)].into();
    let batch = service_with(runners, &dir, "slurm");
    setup(&batch, "EC2", &["optimal"], 16);
    let succeeding = submit(&batch, json!({"containerOverrides": {"command": ["sh", "-c", "echo hello from $AWS_BATCH_JOB_ID"]}}));
    let failing = submit(&batch, json!({"containerOverrides": {"command": ["sh", "-c", "exit 3"]}}));
    let long = submit(&batch, json!({"containerOverrides": {"command": ["sleep", "60"]}}));
    let succeeded = wait_done(&batch, &succeeding, Duration::from_secs(30));
    assert_eq!(succeeded["status"], "SUCCEEDED", "{succeeded}");
    assert_eq!(succeeded["container"]["exitCode"], 0);
    assert!(batch.job_log(&succeeding).unwrap_or_default().contains(&format!("hello from {succeeding}")));
    let failed = wait_done(&batch, &failing, Duration::from_secs(30));
    assert_eq!((failed["status"].as_str(), failed["container"]["exitCode"].as_i64()), (Some("FAILED"), Some(3)), "{failed}");
    assert!(wait_until(Duration::from_secs(20), || status(&batch, &long) == "RUNNING"), "the long job runs");
    call(&batch, "terminatejob", json!({"jobId": long, "reason": "enough"}));
    let terminated = wait_done(&batch, &long, Duration::from_secs(30));
    assert_eq!((terminated["status"].as_str(), terminated["statusReason"].as_str()), (Some("FAILED"), Some("enough")), "{terminated}");
}
