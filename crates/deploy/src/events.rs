//! Events of functions and state machines: `http` (and `httpApi`) events become routes,
//! `schedule` events become schedules; others are warned about.

use crate::error::KeyError;
use crate::plan::{Plan, Route, Schedule, Target};
use crate::schedule::ScheduleExpression;
use asl::yaml::{child_path, item_path};
use serde_json::Value;

/// The function or state machine events belong to, with its key in the file.
pub struct EventTarget {
    pub key: String,
    pub target: Target,
}

pub fn add(plan: &mut Plan, owner: &EventTarget, events: Option<&Value>, path: &str) -> Result<(), KeyError> {
    let Some(events) = events else { return Ok(()) };
    let Value::Array(events) = events else { return Err(KeyError::new(path, "events must be a list")) };
    for (index, event) in events.iter().enumerate() {
        let event_path = item_path(path, index);
        let Some((kind, settings)) = event.as_object().filter(|entries| entries.len() == 1).and_then(|entries| entries.iter().next()) else {
            return Err(KeyError::new(event_path, "an event is a map with one key: its type (http, schedule, ...)"));
        };
        let settings_path = child_path(&event_path, kind);
        match kind.as_str() {
            "http" => plan.routes.push(route(settings, &settings_path, Some(&plan.stage), &owner.target)?),
            "httpApi" => plan.routes.push(route(settings, &settings_path, None, &owner.target)?),
            "schedule" => {
                for (expression, enabled, input, input_path) in schedules(settings, &settings_path)? {
                    let number = plan.schedules.iter().filter(|schedule| schedule.target == owner.target).count() + 1;
                    let id = format!("{}-{}-schedule-{number}", plan.stack_name, owner.key);
                    plan.schedules.push(Schedule { id, expression, enabled, input, input_path, target: owner.target.clone() });
                }
            }
            other => plan.warnings.push(format!("{settings_path}: {other} events are not triggered locally")),
        }
    }
    Ok(())
}

/// `http: GET path`, `http: {method, path}`; `httpApi` routes have no stage prefix.
fn route(settings: &Value, path: &str, stage: Option<&str>, target: &Target) -> Result<Route, KeyError> {
    let (method, route_path) = match settings {
        Value::String(text) if text == "*" => ("ANY".to_owned(), "{proxy+}".to_owned()),
        Value::String(text) => match text.split_once(char::is_whitespace) {
            Some((method, route_path)) => (method.to_owned(), route_path.trim().to_owned()),
            None => return Err(KeyError::new(path, "an http event is 'METHOD path' or {method, path}")),
        },
        Value::Object(entries) => {
            let route_path = entries.get("path").and_then(Value::as_str).unwrap_or("/");
            let method = entries.get("method").and_then(Value::as_str).unwrap_or(if stage.is_some() { "" } else { "ANY" });
            if method.is_empty() {
                return Err(KeyError::new(child_path(path, "method"), "an http event needs a method"));
            }
            (method.to_owned(), route_path.to_owned())
        }
        _ => return Err(KeyError::new(path, "an http event is 'METHOD path' or {method, path}")),
    };
    let method = match method.to_uppercase().as_str() {
        "*" | "ANY" => "ANY".to_owned(),
        known @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => known.to_owned(),
        other => return Err(KeyError::new(path, format!("{other} is not an HTTP method"))),
    };
    let trimmed = route_path.trim_matches('/');
    let full = match (stage, trimmed.is_empty()) {
        (Some(stage), true) => format!("/{stage}"),
        (Some(stage), false) => format!("/{stage}/{trimmed}"),
        (None, _) => format!("/{trimmed}"),
    };
    Ok(Route { method, path: full, target: target.clone() })
}

type ScheduleSettings = (String, bool, Option<Value>, Option<String>);

/// `schedule: rate(...)` or `schedule: {rate: EXPRESSION | [EXPRESSIONS], enabled, input, inputPath}`.
fn schedules(settings: &Value, path: &str) -> Result<Vec<ScheduleSettings>, KeyError> {
    let (expressions, enabled, input, input_path) = match settings {
        Value::String(expression) => (vec![(expression.clone(), path.to_owned())], true, None, None),
        Value::Object(entries) => {
            let rate_path = child_path(path, "rate");
            let expressions = match entries.get("rate") {
                Some(Value::String(expression)) => vec![(expression.clone(), rate_path)],
                Some(Value::Array(items)) => items.iter().enumerate().map(|(index, item)| (item.as_str().unwrap_or_default().to_owned(), item_path(&rate_path, index))).collect(),
                _ => return Err(KeyError::new(rate_path, "a schedule needs a rate: rate(...) or cron(...)")),
            };
            let input = match entries.get("input") {
                Some(Value::String(text)) => Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))),
                other => other.cloned(),
            };
            let enabled = entries.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            (expressions, enabled, input, entries.get("inputPath").and_then(Value::as_str).map(str::to_owned))
        }
        _ => return Err(KeyError::new(path, "a schedule is rate(...), cron(...) or {rate, enabled, input, inputPath}")),
    };
    expressions
        .into_iter()
        .map(|(expression, expression_path)| {
            ScheduleExpression::parse(&expression).map_err(|message| KeyError::new(expression_path, message))?;
            Ok((expression, enabled, input.clone(), input_path.clone()))
        })
        .collect()
}
