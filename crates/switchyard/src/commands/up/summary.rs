//! What `up` prints, in the spirit of `serverless deploy`'s service information.

use deploy::Plan;
use serde_json::Value;
use std::fmt::Write;

pub fn warnings(plan: &Plan) -> String {
    let notes = plan.notes.iter().map(|note| format!("note: {note}\n"));
    notes.chain(plan.warnings.iter().map(|warning| format!("warning: {warning}\n"))).collect()
}

/// The plan with the revisions the server registered for its task and job definitions, whose
/// outcomes name them (`ARN:N`).
fn with_registered_revisions(plan: &Plan, outcomes: &[Value]) -> Plan {
    let mut revised = plan.clone();
    for resource in plan.resources.iter().filter(|resource| resource.kind.is_revisioned()) {
        let revision_prefix = format!("{}:", resource.arn);
        let registered = outcomes.iter().filter_map(|outcome| outcome["arn"].as_str()).find(|arn| arn.starts_with(&revision_prefix));
        if let Some(Ok(plan)) = registered.map(|arn| revised.with_revision(&resource.arn, arn)) {
            revised = plan;
        }
    }
    revised
}

/// `applied` is the server's answer: one outcome per resource, and the schedules' next times.
pub fn service_information(plan: &Plan, applied: &Value, endpoint: &str) -> String {
    let mut text = String::new();
    let outcomes = applied.get("outcomes").and_then(Value::as_array).cloned().unwrap_or_default();
    let outcome_of = |kind: &str, name: &str| -> String {
        outcomes
            .iter()
            .find(|outcome| outcome["kind"] == kind && outcome["name"] == name)
            .map(|outcome| {
                let action = outcome["action"].as_str().unwrap_or_default();
                match outcome.get("detail").and_then(Value::as_str) {
                    Some(detail) => format!("{action}: {detail}"),
                    None => action.to_owned(),
                }
            })
            .unwrap_or_default()
    };
    let _ = writeln!(text, "Service Information");
    let _ = writeln!(text, "service: {}", plan.service);
    let _ = writeln!(text, "stage: {}", plan.stage);
    let _ = writeln!(text, "region: {}", plan.region);
    let _ = writeln!(text, "stack: {}", plan.stack_name);
    let _ = writeln!(text, "endpoints:{}", if plan.routes.is_empty() { " none" } else { "" });
    for route in &plan.routes {
        let _ = writeln!(text, "  {} - {endpoint}{}", route.method, route.path);
    }
    let _ = writeln!(text, "functions:{}", if plan.functions.is_empty() { " none" } else { "" });
    for function in &plan.functions {
        let _ = writeln!(text, "  {}: {} ({})", function.key, function.name, outcome_of("function", &function.name));
    }
    let _ = writeln!(text, "state machines:{}", if plan.state_machines.is_empty() { " none" } else { "" });
    for machine in &plan.state_machines {
        let _ = writeln!(text, "  {}: {} ({})", machine.key, machine.arn, outcome_of("state machine", &machine.name));
    }
    if !plan.activities.is_empty() {
        let _ = writeln!(text, "activities:");
        for activity in &plan.activities {
            let _ = writeln!(text, "  {}: {} ({})", activity.name, activity.arn, outcome_of("activity", &activity.name));
        }
    }
    let schedules = applied.get("schedules").and_then(Value::as_array).cloned().unwrap_or_default();
    if !schedules.is_empty() {
        let _ = writeln!(text, "schedules:");
        for schedule in &schedules {
            let next = schedule["next_ms"].as_i64().and_then(chrono::DateTime::from_timestamp_millis).map(|next| next.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default();
            let enabled = schedule["schedule"]["enabled"].as_bool().unwrap_or(true);
            let target = schedule["schedule"]["target"].as_object().and_then(|target| target.values().next()).and_then(|target| target["name"].as_str()).unwrap_or_default().to_owned();
            let when = if enabled { format!("next {next}") } else { "disabled".to_owned() };
            let _ = writeln!(text, "  {} -> {target} ({when})", schedule["schedule"]["expression"].as_str().unwrap_or_default());
        }
    }
    if !plan.resources.is_empty() {
        let _ = writeln!(text, "resources:");
        for resource in &plan.resources {
            // A task or job definition's outcome names the revision it registered: `ARN:N`.
            let is_of_resource = |arn: &str| arn.strip_prefix(resource.arn.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(':'));
            let kind = outcomes.iter().find(|outcome| outcome["arn"].as_str().is_some_and(is_of_resource)).and_then(|outcome| outcome["kind"].as_str()).unwrap_or_default().to_owned();
            let _ = writeln!(text, "  {}: {} ({})", resource.logical_id, resource.name, outcome_of(&kind, &resource.name));
        }
    }
    if !plan.images.is_empty() {
        let _ = writeln!(text, "images:");
        for image in &plan.images {
            let _ = writeln!(text, "  {}: {} from {}/{}", image.name, image.reference, image.context, image.dockerfile);
        }
    }
    if !plan.outputs.is_empty() {
        let _ = writeln!(text, "Stack Outputs:");
        for output in &with_registered_revisions(plan, &outcomes).outputs {
            let _ = writeln!(text, "  {}: {}", output.name, output.value);
        }
    }
    if !plan.not_applicable.is_empty() {
        let skipped: Vec<String> = plan.not_applicable.iter().map(|skipped| format!("{} ({})", skipped.logical_id, skipped.resource_type)).collect();
        let _ = writeln!(text, "not applicable locally: {}", skipped.join(", "));
    }
    let removed: Vec<String> = outcomes.iter().filter(|outcome| outcome["action"] == "removed").map(|outcome| format!("{} {}", outcome["kind"].as_str().unwrap_or_default(), outcome["name"].as_str().unwrap_or_default())).collect();
    if !removed.is_empty() {
        let _ = writeln!(text, "removed: {}", removed.join(", "));
    }
    for warning in applied.get("warnings").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        let _ = writeln!(text, "warning: {warning}");
    }
    text
}
