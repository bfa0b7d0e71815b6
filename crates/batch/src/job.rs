//! A job as the scheduler keeps it: AWS's JobDetail plus what placement needs (its queue, its
//! resource demand, its dependencies, where it runs). Both are stored together.

use crate::model::{ContainerDetail, EvaluateOnExit, JobDetail, ResourceRequirement};
use serde::{Deserialize, Serialize};

/// What one attempt of a job needs from an instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    /// Thousandths of a vCPU: Fargate jobs ask for 0.25 vCPU.
    pub millicpus: u32,
    pub memory_mib: u64,
    pub gpus: u32,
}

impl Demand {
    /// The container's demand: resourceRequirements win over the legacy vcpus/memory members.
    pub fn of(container: &ContainerDetail) -> Result<Demand, String> {
        let mut demand = Demand { millicpus: container.vcpus.unwrap_or(1) * 1000, memory_mib: container.memory.unwrap_or(2048), gpus: 0 };
        for requirement in &container.resource_requirements {
            apply(&mut demand, requirement)?;
        }
        if demand.millicpus == 0 {
            return Err("Job vcpus must be greater than 0".into());
        }
        Ok(demand)
    }

    pub fn fits_in(&self, free: &Demand) -> bool {
        self.millicpus <= free.millicpus && self.memory_mib <= free.memory_mib && self.gpus <= free.gpus
    }

    pub fn plus(&self, other: &Demand) -> Demand {
        Demand { millicpus: self.millicpus + other.millicpus, memory_mib: self.memory_mib + other.memory_mib, gpus: self.gpus + other.gpus }
    }

    pub fn minus(&self, other: &Demand) -> Demand {
        Demand {
            millicpus: self.millicpus.saturating_sub(other.millicpus),
            memory_mib: self.memory_mib.saturating_sub(other.memory_mib),
            gpus: self.gpus.saturating_sub(other.gpus),
        }
    }

    /// Whole vCPUs, rounded up (what `--cpus-per-task` and instance sizes count).
    pub fn whole_vcpus(&self) -> u32 {
        self.millicpus.div_ceil(1000)
    }
}

fn apply(demand: &mut Demand, requirement: &ResourceRequirement) -> Result<(), String> {
    let invalid = || format!("Invalid {} resource requirement value: {}", requirement.kind, requirement.value);
    match requirement.kind.as_str() {
        "VCPU" => {
            let vcpus: f64 = requirement.value.parse().map_err(|_| invalid())?;
            if !(vcpus > 0.0 && vcpus <= 4096.0) {
                return Err(invalid());
            }
            demand.millicpus = (vcpus * 1000.0).round() as u32;
        }
        "MEMORY" => demand.memory_mib = requirement.value.parse().map_err(|_| invalid())?,
        "GPU" => demand.gpus = requirement.value.parse().map_err(|_| invalid())?,
        other => return Err(format!("Unknown resource requirement type: {other}")),
    }
    Ok(())
}

/// Why the scheduler asked a running attempt to stop: it decides how the attempt ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopCause {
    /// TerminateJob: the job fails, without retries.
    Terminated(String),
    /// The attempt outlived the job's timeout; retried per the retry strategy.
    TimedOut,
    /// The SPOT instance under it was reclaimed; retried per the retry strategy.
    HostTerminated(String),
}

impl StopCause {
    pub fn status_reason(&self) -> String {
        match self {
            StopCause::Terminated(reason) => reason.clone(),
            StopCause::TimedOut => "Job attempt duration exceeded timeout".into(),
            StopCause::HostTerminated(instance) => format!("Host EC2 (instance {instance}) terminated."),
        }
    }
}

/// Where an attempt runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub environment: String,
    /// The instance, for scaled environments; none on a cluster (Slurm places it).
    pub instance: Option<String>,
    /// The runner's own id of the attempt (a Slurm job id), to find it again after a restart.
    pub handle: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    /// The queue's name.
    pub queue: String,
    /// Submission order: FIFO within a queue.
    pub sequence: u64,
    pub demand: Demand,
    pub attempts_allowed: u32,
    pub placement: Option<Placement>,
    pub stop: Option<StopCause>,
    /// When the running attempt must stop (milliseconds since the epoch).
    pub deadline: Option<i64>,
    /// The array parent of a child job.
    pub parent: Option<String>,
    /// The children of an array parent, in index order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    /// Jobs this one waits for, beyond `dependsOn` (array children: N_TO_N and SEQUENTIAL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implicit_dependencies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub detail: JobDetail,
    pub run: JobRun,
}

impl Job {
    pub fn id(&self) -> &str {
        &self.detail.job_id
    }

    pub fn is_array_parent(&self) -> bool {
        !self.run.children.is_empty()
    }

    /// Every job this one waits for.
    /// (An array parent's N_TO_N and SEQUENTIAL dependencies are its children's.)
    pub fn dependencies(&self) -> impl Iterator<Item = &str> {
        let parent = self.is_array_parent();
        self.detail
            .depends_on
            .iter()
            .filter(move |dependency| !(dependency.job_id.is_empty() || parent && dependency.kind.is_some()))
            .map(|dependency| dependency.job_id.as_str())
            .chain(self.run.implicit_dependencies.iter().map(String::as_str))
    }
}

/// How an attempt ended, as the runner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub exit_code: Option<i32>,
    /// The container's reason (e.g. "CannotStartContainerError: ...", "OutOfMemoryError").
    pub reason: Option<String>,
}

/// The retry strategy's verdict on a failed attempt (`evaluateOnExit`, first match wins; no
/// match retries).
pub fn should_retry(rules: &[EvaluateOnExit], exit_code: Option<i32>, reason: Option<&str>, status_reason: &str) -> bool {
    let exit_code = exit_code.map(|code| code.to_string());
    let matching = rules.iter().find(|rule| {
        matches_glob(rule.on_exit_code.as_deref(), exit_code.as_deref())
            && matches_glob(rule.on_reason.as_deref(), reason)
            && matches_glob(rule.on_status_reason.as_deref(), Some(status_reason))
    });
    matching.is_none_or(|rule| rule.action.eq_ignore_ascii_case("RETRY"))
}

/// Batch's patterns: exact text, or a prefix ending in `*`. An absent pattern matches anything.
fn matches_glob(pattern: Option<&str>, value: Option<&str>) -> bool {
    match pattern {
        None => true,
        Some(pattern) => {
            let value = value.unwrap_or_default();
            match pattern.strip_suffix('*') {
                Some(prefix) => value.starts_with(prefix),
                None => value == pattern,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(on_exit_code: Option<&str>, on_status_reason: Option<&str>, action: &str) -> EvaluateOnExit {
        EvaluateOnExit { on_exit_code: on_exit_code.map(Into::into), on_status_reason: on_status_reason.map(Into::into), on_reason: None, action: action.into() }
    }

    #[test]
    fn retry_rules_match_in_order_and_default_to_retrying() {
        let rules = [rule(None, Some("Host EC2*"), "RETRY"), rule(Some("*"), None, "EXIT")];
        assert!(should_retry(&rules, None, None, "Host EC2 (instance i-1) terminated."));
        assert!(!should_retry(&rules, Some(3), None, "Essential container in task exited"));
        assert!(should_retry(&[rule(Some("137"), None, "EXIT")], Some(1), None, ""));
        assert!(should_retry(&[], Some(1), None, ""));
    }

    #[test]
    fn resource_requirements_override_legacy_members() {
        let container = ContainerDetail {
            vcpus: Some(4),
            memory: Some(512),
            resource_requirements: vec![
                ResourceRequirement { kind: "VCPU".into(), value: "0.25".into() },
                ResourceRequirement { kind: "GPU".into(), value: "2".into() },
            ],
            ..ContainerDetail::default()
        };
        assert_eq!(Demand::of(&container), Ok(Demand { millicpus: 250, memory_mib: 512, gpus: 2 }));
        let bad = ContainerDetail { resource_requirements: vec![ResourceRequirement { kind: "VCPU".into(), value: "many".into() }], ..container };
        assert!(Demand::of(&bad).is_err());
    }
}
