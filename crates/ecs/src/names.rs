//! ARNs, ids and times as ECS writes them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::Region;

pub(crate) const DEFAULT_CLUSTER: &str = "default";

impl Region {
    fn arn(&self, resource: &str) -> String {
        format!("arn:aws:ecs:{}:{}:{resource}", self.region, self.account)
    }

    pub(crate) fn cluster_arn(&self, name: &str) -> String {
        self.arn(&format!("cluster/{name}"))
    }

    pub(crate) fn definition_arn(&self, family: &str, revision: u64) -> String {
        self.arn(&format!("task-definition/{family}:{revision}"))
    }

    pub(crate) fn task_arn(&self, cluster: &str, id: &str) -> String {
        self.arn(&format!("task/{cluster}/{id}"))
    }

    pub(crate) fn container_arn(&self, cluster: &str, task_id: &str) -> String {
        self.arn(&format!("container/{cluster}/{task_id}/{}", uuid::Uuid::new_v4()))
    }
}

/// A cluster named by name or ARN (`None`: the default cluster).
pub(crate) fn cluster_name(cluster: Option<&str>) -> &str {
    match cluster {
        None | Some("") => DEFAULT_CLUSTER,
        Some(cluster) => cluster.rsplit_once(":cluster/").map_or(cluster, |(_, name)| name),
    }
}

/// The last part of a task ARN (new or old format), or the id itself.
pub(crate) fn task_id(task: &str) -> &str {
    task.rsplit('/').next().unwrap_or(task)
}

/// A task definition named as `family`, `family:revision` or its ARN.
pub(crate) fn definition_reference(reference: &str) -> (&str, Option<&str>) {
    let name = reference.rsplit_once(":task-definition/").map_or(reference, |(_, name)| name);
    match name.rsplit_once(':') {
        Some((family, revision)) => (family, Some(revision)),
        None => (name, None),
    }
}

pub(crate) fn new_task_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A timestamp as AWS JSON 1.1 sends it: seconds since the epoch, with milliseconds.
pub(crate) fn timestamp(time: SystemTime) -> Value {
    let millis = time.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    Value::from(millis as f64 / 1000.0)
}

pub(crate) fn now() -> Value {
    timestamp(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_references_in_every_form() {
        assert_eq!(cluster_name(Some("arn:aws:ecs:us-east-1:000000000000:cluster/work")), "work");
        assert_eq!(cluster_name(None), "default");
        assert_eq!(definition_reference("arn:aws:ecs:us-east-1:000000000000:task-definition/app:3"), ("app", Some("3")));
        assert_eq!(definition_reference("app"), ("app", None));
        assert_eq!(task_id("arn:aws:ecs:us-east-1:000000000000:task/default/abc"), "abc");
    }

    #[test]
    fn timestamps_are_seconds_with_milliseconds() {
        assert_eq!(timestamp(UNIX_EPOCH + std::time::Duration::from_millis(1_500)), Value::from(1.5));
    }
}
