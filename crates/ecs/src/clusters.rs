//! CreateCluster, ListClusters, DescribeClusters. The `default` cluster always exists, as on AWS
//! where it is made on first use.

use serde_json::{json, Value};

use crate::definitions::includes;
use crate::names::{cluster_name, DEFAULT_CLUSTER};
use crate::{document, Ecs, EcsError, Registry, CLUSTER_KIND};

impl Ecs {
    pub fn create_cluster(&self, request: &Value) -> Result<Value, EcsError> {
        let name = request.get("clusterName").and_then(Value::as_str).unwrap_or(DEFAULT_CLUSTER);
        if name.is_empty() || name.len() > 255 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(EcsError::invalid_parameter(
                "Cluster name must be up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.",
            ));
        }
        let mut state = self.lock();
        if !state.clusters.contains_key(name) {
            let mut cluster = self.new_cluster(name);
            cluster["tags"] = request.get("tags").cloned().unwrap_or_else(|| json!([]));
            if let Some(settings) = request.get("settings") {
                cluster["settings"] = settings.clone();
            }
            self.persist(vec![document(CLUSTER_KIND, name, &cluster)?])?;
            state.clusters.insert(name.to_owned(), cluster);
        }
        Ok(json!({ "cluster": self.cluster_view(&state, name, true) }))
    }

    pub fn list_clusters(&self, request: &Value) -> Result<Value, EcsError> {
        let state = self.lock();
        let arns = cluster_names(&state).into_iter().map(|name| Value::from(self.region.cluster_arn(&name))).collect();
        crate::tasks::page(arns, request, "clusterArns")
    }

    pub fn describe_clusters(&self, request: &Value) -> Result<Value, EcsError> {
        let requested: Vec<String> = match request.get("clusters").and_then(Value::as_array) {
            Some(clusters) => clusters.iter().map(|cluster| cluster.as_str().unwrap_or_default().to_owned()).collect(),
            None => vec![DEFAULT_CLUSTER.to_owned()],
        };
        let with_tags = includes(request, "TAGS");
        let state = self.lock();
        let (mut clusters, mut failures) = (Vec::new(), Vec::new());
        for reference in &requested {
            let name = cluster_name(Some(reference));
            if exists(&state, name) {
                clusters.push(self.cluster_view(&state, name, with_tags));
            } else {
                failures.push(json!({ "arn": self.region.cluster_arn(name), "reason": "MISSING" }));
            }
        }
        Ok(json!({ "clusters": clusters, "failures": failures }))
    }

    fn new_cluster(&self, name: &str) -> Value {
        json!({
            "clusterArn": self.region.cluster_arn(name),
            "clusterName": name,
            "status": "ACTIVE",
            "registeredContainerInstancesCount": 0,
            "runningTasksCount": 0,
            "pendingTasksCount": 0,
            "activeServicesCount": 0,
            "statistics": [],
            "tags": [],
            "settings": [{ "name": "containerInsights", "value": "disabled" }],
            "capacityProviders": [],
            "defaultCapacityProviderStrategy": []
        })
    }

    /// The Cluster shape with its task counts.
    fn cluster_view(&self, state: &Registry, name: &str, with_tags: bool) -> Value {
        let mut cluster = state.clusters.get(name).cloned().unwrap_or_else(|| self.new_cluster(name));
        let arn = self.region.cluster_arn(name);
        let count = |status: &str| state.tasks.values().filter(|record| record.task["clusterArn"] == arn.as_str() && record.task["lastStatus"] == status).count();
        cluster["runningTasksCount"] = count("RUNNING").into();
        cluster["pendingTasksCount"] = (count("PROVISIONING") + count("PENDING")).into();
        if !with_tags {
            if let Some(fields) = cluster.as_object_mut() {
                fields.remove("tags");
            }
        }
        cluster
    }
}

pub(crate) fn exists(state: &Registry, name: &str) -> bool {
    name == DEFAULT_CLUSTER || state.clusters.contains_key(name)
}

fn cluster_names(state: &Registry) -> Vec<String> {
    let mut names: Vec<String> = state.clusters.keys().cloned().collect();
    if !state.clusters.contains_key(DEFAULT_CLUSTER) {
        names.push(DEFAULT_CLUSTER.to_owned());
    }
    names.sort();
    names
}
