//! A runner that gives every container some base environment (the SDK endpoint and credentials)
//! under the task's own variables, whatever runner runs it.

use super::{ContainerError, ContainerOutcome, ContainerRunner, ContainerSpec, StartedContainer};
use crate::Cancellation;
use std::sync::Arc;

pub struct WithEnvironment {
    inner: Arc<dyn ContainerRunner>,
    environment: Vec<(String, String)>,
}

impl WithEnvironment {
    pub fn new(inner: Arc<dyn ContainerRunner>, environment: Vec<(String, String)>) -> WithEnvironment {
        WithEnvironment { inner, environment }
    }
}

impl ContainerRunner for WithEnvironment {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn start(&self, spec: &ContainerSpec) -> Result<StartedContainer, ContainerError> {
        // A later variable wins: the task's own come after the base ones.
        let environment = self.environment.iter().chain(&spec.environment).cloned().collect();
        self.inner.start(&ContainerSpec { environment, ..spec.clone() })
    }

    fn wait(&self, container: &StartedContainer, cancellation: &Cancellation) -> ContainerOutcome {
        self.inner.wait(container, cancellation)
    }

    fn survivors(&self) -> Result<Vec<StartedContainer>, ContainerError> {
        self.inner.survivors()
    }

    fn remove(&self, container: &StartedContainer) {
        self.inner.remove(container)
    }
}
