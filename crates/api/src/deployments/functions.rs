//! Applier of functions: created through the function catalog with their code used in place
//! (the project's folder), their settings updated when they change; those a deployment no longer
//! has are deleted.

use super::outcome::{Action, Outcome};
use deploy::plan::Function;
use engine::functions::code::Code;
use engine::functions::{CodeSource, FunctionSettings, Functions, FunctionsError, SettingsUpdate};
use std::path::PathBuf;

/// The role functions are said to run as (roles have no local meaning, but Lambda requires one).
fn role(account: &str, function: &Function) -> String {
    format!("arn:aws:iam::{account}:role/{}-lambdaRole", function.name)
}

pub async fn apply(functions: &Functions, function: &Function, account: &str) -> Result<Outcome, FunctionsError> {
    let outcome = |action| Outcome::new("function", &function.name, &function.arn, action);
    let Some(handler) = &function.handler else {
        return Ok(outcome(Action::Pending).with_detail("image functions are not run locally yet"));
    };
    let settings = FunctionSettings {
        runtime: function.runtime.clone(),
        role: role(account, function),
        handler: handler.clone(),
        description: String::new(),
        timeout_seconds: u32::try_from(function.timeout).unwrap_or(u32::MAX),
        memory_mb: u32::try_from(function.memory_size).unwrap_or(u32::MAX),
        environment: function.environment.clone(),
    };
    let code_dir = PathBuf::from(&function.code_dir);
    let reserved = function.reserved_concurrency.map(|reserved| u32::try_from(reserved).unwrap_or(u32::MAX));
    let action = match functions.get(&function.name, None) {
        Ok(existing) => {
            let mut changed = false;
            if existing.settings != settings {
                let update = SettingsUpdate {
                    runtime: Some(settings.runtime),
                    role: Some(settings.role),
                    handler: Some(settings.handler),
                    description: Some(settings.description),
                    timeout_seconds: Some(settings.timeout_seconds),
                    memory_mb: Some(settings.memory_mb),
                    environment: Some(settings.environment),
                };
                functions.update_settings(&function.name, update, None).await?;
                changed = true;
            }
            if existing.code != (Code::Directory { path: code_dir.clone() }) {
                functions.update_code(&function.name, CodeSource::Directory(code_dir), None).await?;
                changed = true;
            }
            if existing.reserved_concurrency != reserved {
                functions.set_reserved_concurrency(&function.name, reserved).await?;
                changed = true;
            }
            if changed {
                Action::Updated
            } else {
                Action::Unchanged
            }
        }
        Err(FunctionsError::NotFound(_)) => {
            functions.create(&function.name, settings, CodeSource::Directory(code_dir), Vec::new()).await?;
            if reserved.is_some() {
                functions.set_reserved_concurrency(&function.name, reserved).await?;
            }
            Action::Created
        }
        Err(other) => return Err(other),
    };
    Ok(outcome(action))
}

pub async fn remove(functions: &Functions, function: &Function) -> Result<Outcome, FunctionsError> {
    match functions.delete(&function.name, None).await {
        Ok(()) | Err(FunctionsError::NotFound(_)) => Ok(Outcome::new("function", &function.name, &function.arn, Action::Removed)),
        Err(other) => Err(other),
    }
}
