//! The EC2 instance types a compute environment may launch: shape and hourly price (us-east-1,
//! Linux; spot prices are typical recent averages), the basis of bin-packing and cost reports.

/// One instance type's capacity and price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub gpus: u32,
    pub on_demand_usd_per_hour: f64,
    pub spot_usd_per_hour: f64,
}

const fn shape(name: &'static str, vcpus: u32, memory_gib: u64, gpus: u32, on_demand: f64, spot: f64) -> InstanceType {
    InstanceType { name, vcpus, memory_mib: memory_gib * 1024, gpus, on_demand_usd_per_hour: on_demand, spot_usd_per_hour: spot }
}

pub const CATALOG: &[InstanceType] = &[
    shape("c5.large", 2, 4, 0, 0.085, 0.032),
    shape("c5.xlarge", 4, 8, 0, 0.17, 0.064),
    shape("c5.2xlarge", 8, 16, 0, 0.34, 0.128),
    shape("c5.4xlarge", 16, 32, 0, 0.68, 0.256),
    shape("c5.9xlarge", 36, 72, 0, 1.53, 0.576),
    shape("m5.large", 2, 8, 0, 0.096, 0.037),
    shape("m5.xlarge", 4, 16, 0, 0.192, 0.074),
    shape("m5.2xlarge", 8, 32, 0, 0.384, 0.148),
    shape("m5.4xlarge", 16, 64, 0, 0.768, 0.296),
    shape("r5.large", 2, 16, 0, 0.126, 0.041),
    shape("r5.xlarge", 4, 32, 0, 0.252, 0.082),
    shape("r5.2xlarge", 8, 64, 0, 0.504, 0.164),
    shape("r5.4xlarge", 16, 128, 0, 1.008, 0.328),
    shape("p2.xlarge", 4, 61, 1, 0.90, 0.270),
    shape("p2.8xlarge", 32, 488, 8, 7.20, 2.160),
    shape("p2.16xlarge", 64, 732, 16, 14.40, 4.320),
    shape("p3.2xlarge", 8, 61, 1, 3.06, 0.918),
    shape("p3.8xlarge", 32, 244, 4, 12.24, 3.672),
    shape("p3.16xlarge", 64, 488, 8, 24.48, 7.344),
    shape("g4dn.xlarge", 4, 16, 1, 0.526, 0.158),
    shape("g4dn.2xlarge", 8, 32, 1, 0.752, 0.226),
    shape("g4dn.4xlarge", 16, 64, 1, 1.204, 0.361),
    shape("g4dn.12xlarge", 48, 192, 4, 3.912, 1.174),
];

/// What "optimal" means to Batch: the newest general purpose, compute and memory families.
const OPTIMAL_FAMILIES: &[&str] = &["c5", "m5", "r5"];

fn family(instance: &InstanceType) -> &str {
    instance.name.split('.').next().unwrap_or_default()
}

/// The instance types an `instanceTypes` entry stands for: an exact type, a family (`c5`), or
/// `optimal`. None when the catalog does not know it.
pub fn expand(entry: &str) -> Option<Vec<&'static InstanceType>> {
    let matching: Vec<&'static InstanceType> = if entry == "optimal" {
        CATALOG.iter().filter(|instance| OPTIMAL_FAMILIES.contains(&family(instance))).collect()
    } else if entry.contains('.') {
        CATALOG.iter().filter(|instance| instance.name == entry).collect()
    } else {
        CATALOG.iter().filter(|instance| family(instance) == entry).collect()
    };
    (!matching.is_empty()).then_some(matching)
}

pub fn named(name: &str) -> Option<&'static InstanceType> {
    CATALOG.iter().find(|instance| instance.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expand_to_types_families_and_optimal() {
        assert_eq!(expand("c5.large").map(|types| types.len()), Some(1));
        assert_eq!(expand("g4dn").map(|types| types.iter().all(|t| t.gpus > 0)), Some(true));
        let optimal = expand("optimal").unwrap_or_default();
        assert!(optimal.iter().any(|t| t.name == "m5.large") && optimal.iter().all(|t| t.gpus == 0));
        assert_eq!(expand("z9.huge"), None);
        assert_eq!(expand("c5.huge"), None);
    }

    #[test]
    fn spot_is_cheaper_than_on_demand_everywhere() {
        assert!(CATALOG.iter().all(|t| t.spot_usd_per_hour < t.on_demand_usd_per_hour));
    }
}
