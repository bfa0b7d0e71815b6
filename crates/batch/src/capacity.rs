//! A compute environment's capacity: the instances it runs, which job fits where (best fit by
//! vCPU, then memory and GPUs), which instance type to launch for a job, and each instance's
//! recorded life (the cost report's input).

use crate::instance_types::{self, InstanceType};
use crate::job::Demand;
use crate::model::ComputeEnvironment;
use serde::{Deserialize, Serialize};

/// One instance's life: what the cost report bills.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    pub instance_id: String,
    pub compute_environment: String,
    pub instance_type: String,
    /// ON_DEMAND, SPOT, FARGATE or FARGATE_SPOT.
    pub market: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub gpus: u32,
    pub usd_per_hour: f64,
    pub launched_at: i64,
    pub ready_at: i64,
    pub stopped_at: Option<i64>,
    pub interrupted: bool,
}

impl InstanceRecord {
    pub fn capacity(&self) -> Demand {
        Demand { millicpus: self.vcpus * 1000, memory_mib: self.memory_mib, gpus: self.gpus }
    }

    /// What the instance cost until `now` (or its stop), billed by the second.
    pub fn cost_usd(&self, now: i64) -> f64 {
        let seconds = (self.stopped_at.unwrap_or(now) - self.launched_at).max(0) as f64 / 1000.0;
        self.usd_per_hour * seconds / 3600.0
    }
}

/// A running (or launching) instance and the jobs placed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub record: InstanceRecord,
    pub used: Demand,
    pub jobs: Vec<String>,
    /// Since when no job has been placed on it.
    pub idle_since: Option<i64>,
}

impl Instance {
    pub fn free(&self) -> Demand {
        self.record.capacity().minus(&self.used)
    }

    pub fn is_ready(&self, now: i64) -> bool {
        self.record.ready_at <= now
    }
}

/// How an environment gets capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityKind {
    /// Managed EC2/SPOT: instances of the allowed types, scaled between minvCpus and maxvCpus.
    Instances,
    /// Fargate: one right-sized slot per job, gone when the job ends.
    PerJob,
    /// A cluster with its own scheduler (Slurm) or unmanaged capacity: jobs are handed over while
    /// their vCPUs fit in the environment's maximum.
    External,
}

pub struct Environment {
    pub spec: ComputeEnvironment,
    pub kind: CapacityKind,
    /// The allowed instance types, cheapest first.
    pub instance_types: Vec<&'static InstanceType>,
    pub instances: Vec<Instance>,
    /// Demand handed to an external cluster.
    pub external_used: Demand,
}

impl Environment {
    pub fn new(spec: ComputeEnvironment, kind: CapacityKind) -> Environment {
        let spot = spec.compute_resources.as_ref().is_some_and(|resources| resources.is_spot());
        let mut instance_types: Vec<&'static InstanceType> = spec
            .compute_resources
            .iter()
            .flat_map(|resources| resources.instance_types.iter())
            .filter_map(|entry| instance_types::expand(entry))
            .flatten()
            .collect();
        if instance_types.is_empty() {
            instance_types = instance_types::expand("optimal").unwrap_or_default();
        }
        instance_types.sort_by(|a, b| price(a, spot).total_cmp(&price(b, spot)).then(a.vcpus.cmp(&b.vcpus)));
        instance_types.dedup_by_key(|instance| instance.name);
        Environment { spec, kind, instance_types, instances: Vec::new(), external_used: Demand::default() }
    }

    pub fn name(&self) -> &str {
        &self.spec.compute_environment_name
    }

    pub fn is_enabled(&self) -> bool {
        self.spec.state == "ENABLED"
    }

    pub fn min_vcpus(&self) -> u32 {
        self.spec.compute_resources.as_ref().map_or(0, |resources| resources.minv_cpus)
    }

    pub fn max_vcpus(&self) -> u32 {
        match &self.spec.compute_resources {
            Some(resources) => resources.maxv_cpus,
            None => self.spec.unmanagedv_cpus.unwrap_or(u32::MAX),
        }
    }

    pub fn market(&self) -> &str {
        match &self.spec.compute_resources {
            Some(resources) if resources.kind == "EC2" => "ON_DEMAND",
            Some(resources) => &resources.kind,
            None => "ON_DEMAND",
        }
    }

    fn is_spot(&self) -> bool {
        self.spec.compute_resources.as_ref().is_some_and(|resources| resources.is_spot())
    }

    /// vCPUs of the instances up (or coming up): the environment's desiredvCpus.
    pub fn running_vcpus(&self) -> u32 {
        self.instances.iter().map(|instance| instance.record.vcpus).sum()
    }

    /// The instance already up (or launching) that fits `demand` most tightly.
    pub fn best_fit(&self, demand: &Demand) -> Option<usize> {
        self.instances
            .iter()
            .enumerate()
            .filter(|(_, instance)| demand.fits_in(&instance.free()))
            .min_by_key(|(_, instance)| (instance.free().millicpus, instance.free().memory_mib))
            .map(|(index, _)| index)
    }

    /// The cheapest allowed instance type that holds `demand` and still fits under maxvCpus.
    pub fn type_to_launch(&self, demand: &Demand) -> Option<&'static InstanceType> {
        let room = self.max_vcpus().saturating_sub(self.running_vcpus());
        self.instance_types.iter().copied().find(|instance| instance.vcpus <= room && demand.fits_in(&capacity_of(instance)))
    }

    /// Whether any job could still be placed now or after a launch.
    pub fn has_room(&self) -> bool {
        match self.kind {
            CapacityKind::External => self.external_used.whole_vcpus() < self.max_vcpus(),
            CapacityKind::Instances | CapacityKind::PerJob => {
                self.running_vcpus() < self.max_vcpus() || self.instances.iter().any(|instance| instance.free().millicpus > 0)
            }
        }
    }

    /// Starts an instance: ready after `launch_delay_ms`.
    pub fn launch(&mut self, instance_type: &InstanceType, instance_id: String, now: i64, launch_delay_ms: i64) -> usize {
        let spot = self.is_spot();
        let record = InstanceRecord {
            instance_id,
            compute_environment: self.name().to_owned(),
            instance_type: instance_type.name.to_owned(),
            market: self.market().to_owned(),
            vcpus: instance_type.vcpus,
            memory_mib: instance_type.memory_mib,
            gpus: instance_type.gpus,
            usd_per_hour: price(instance_type, spot),
            launched_at: now,
            ready_at: now + launch_delay_ms,
            stopped_at: None,
            interrupted: false,
        };
        self.instances.push(Instance { record, used: Demand::default(), jobs: Vec::new(), idle_since: Some(now) });
        self.instances.len() - 1
    }

    /// A Fargate slot sized for one job (vCPUs rounded up; priced like the same vCPUs of c5).
    pub fn launch_for_job(&mut self, demand: &Demand, instance_id: String, now: i64, launch_delay_ms: i64) -> usize {
        let per_vcpu = if self.is_spot() { 0.016 } else { 0.0425 };
        let shape = InstanceType {
            name: "fargate",
            vcpus: demand.whole_vcpus(),
            memory_mib: demand.memory_mib,
            gpus: 0,
            on_demand_usd_per_hour: per_vcpu * demand.whole_vcpus() as f64,
            spot_usd_per_hour: per_vcpu * demand.whole_vcpus() as f64,
        };
        self.launch(&shape, instance_id, now, launch_delay_ms)
    }

    pub fn instance_mut(&mut self, instance_id: &str) -> Option<&mut Instance> {
        self.instances.iter_mut().find(|instance| instance.record.instance_id == instance_id)
    }

    /// Removes a stopped instance, returning its final record.
    pub fn remove(&mut self, index: usize, now: i64, interrupted: bool) -> InstanceRecord {
        let mut instance = self.instances.remove(index);
        instance.record.stopped_at = Some(now);
        instance.record.interrupted = interrupted;
        instance.record
    }
}

fn capacity_of(instance: &InstanceType) -> Demand {
    Demand { millicpus: instance.vcpus * 1000, memory_mib: instance.memory_mib, gpus: instance.gpus }
}

fn price(instance: &InstanceType, spot: bool) -> f64 {
    if spot {
        instance.spot_usd_per_hour
    } else {
        instance.on_demand_usd_per_hour
    }
}
