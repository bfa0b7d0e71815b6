//! ECS (Amazon EC2 Container Service, AWS JSON 1.1): task definitions, clusters and tasks. The
//! service itself is the `ecs` crate; this module decodes requests and answers in AWS's shapes.
//! Its calls block on the store and the container runner, so they run on blocking threads.

use crate::error::ApiError;
use crate::ApiState;
use ecs::{Ecs, EcsError};
use serde_json::Value;
use std::sync::Arc;

type Operation = fn(&Arc<Ecs>, &Value) -> Result<Value, EcsError>;

pub async fn call(state: &ApiState, action: &str, body: &[u8]) -> Result<Value, ApiError> {
    let Some(service) = state.ecs.clone() else {
        return Err(ApiError::unknown_operation(&format!("AmazonEC2ContainerServiceV20141113.{action}")));
    };
    let operation: Operation = match action {
        "RegisterTaskDefinition" => |ecs, request| ecs.register_task_definition(request),
        "DescribeTaskDefinition" => |ecs, request| ecs.describe_task_definition(request),
        "ListTaskDefinitions" => |ecs, request| ecs.list_task_definitions(request),
        "DeregisterTaskDefinition" => |ecs, request| ecs.deregister_task_definition(request),
        "CreateCluster" => |ecs, request| ecs.create_cluster(request),
        "ListClusters" => |ecs, request| ecs.list_clusters(request),
        "DescribeClusters" => |ecs, request| ecs.describe_clusters(request),
        "RunTask" => |ecs, request| ecs.run_task(request),
        "DescribeTasks" => |ecs, request| ecs.describe_tasks(request),
        "StopTask" => |ecs, request| ecs.stop_task(request),
        "ListTasks" => |ecs, request| ecs.list_tasks(request),
        _ => return Err(ApiError::unknown_operation(&format!("AmazonEC2ContainerServiceV20141113.{action}"))),
    };
    let request = decode(body)?;
    tokio::task::spawn_blocking(move || operation(&service, &request))
        .await
        .map_err(|error| ApiError::from(EcsError::server(format!("the request failed: {error}"))))?
        .map_err(ApiError::from)
}

/// The request document: an object (an empty body is an empty request).
fn decode(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice(body) {
        Ok(request @ Value::Object(_)) => Ok(request),
        Ok(_) => Err(ApiError::serialization("The request body must be a JSON object")),
        Err(error) => Err(ApiError::serialization(format!("The request body is not JSON: {error}"))),
    }
}
