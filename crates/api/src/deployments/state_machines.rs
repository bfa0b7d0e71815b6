//! Applier of state machines: created, updated in place (executions and their histories stay),
//! or left alone when nothing changed; those a deployment no longer has are deleted.

use super::outcome::{Action, Outcome};
use deploy::plan::StateMachine;
use engine::catalog::{Catalog, LoggingConfiguration, MachineType, NewStateMachine, StateMachineUpdate, TracingConfiguration};
use engine::ServiceError;

pub async fn apply(catalog: &Catalog, machine: &StateMachine) -> Result<Outcome, ServiceError> {
    let machine_type = MachineType::parse(&machine.machine_type).ok_or_else(|| ServiceError::new("ValidationException", format!("{}: type must be STANDARD or EXPRESS", machine.name)))?;
    let logging = match &machine.logging_configuration {
        Some(configuration) => serde_json::from_value(configuration.clone()).map_err(|error| ServiceError::new("InvalidLoggingConfiguration", error.to_string()))?,
        None => LoggingConfiguration::default(),
    };
    let tracing = TracingConfiguration { enabled: machine.tracing_configuration.as_ref().and_then(|tracing| tracing.get("enabled")).and_then(serde_json::Value::as_bool).unwrap_or(false) };
    let outcome = |action| Outcome::new("state machine", &machine.name, &machine.arn, action);
    match catalog.describe_state_machine(&machine.arn) {
        Ok(existing) if existing.machine_type == machine_type => {
            let revision = &existing.revision;
            if revision.definition == machine.definition && revision.role_arn == machine.role_arn && revision.logging == logging && revision.tracing == tracing {
                return Ok(outcome(Action::Unchanged));
            }
            let update = StateMachineUpdate { definition: Some(machine.definition.clone()), role_arn: Some(machine.role_arn.clone()), logging: Some(logging), tracing: Some(tracing), ..StateMachineUpdate::default() };
            catalog.update_state_machine(&machine.arn, update).await?;
            Ok(outcome(Action::Updated))
        }
        existing => {
            // A machine's type cannot change in place: it is replaced (its executions go with it).
            let replaced = existing.is_ok();
            if replaced {
                catalog.delete_state_machine(&machine.arn).await?;
            }
            let request = NewStateMachine {
                name: machine.name.clone(),
                definition: machine.definition.clone(),
                role_arn: machine.role_arn.clone(),
                machine_type,
                logging,
                tracing,
                encryption: None,
                tags: Vec::new(),
                publish: false,
                version_description: None,
            };
            catalog.create_state_machine(request).await?;
            Ok(outcome(if replaced { Action::Replaced } else { Action::Created }))
        }
    }
}

pub async fn remove(catalog: &Catalog, machine: &StateMachine) -> Result<Outcome, ServiceError> {
    catalog.delete_state_machine(&machine.arn).await?;
    Ok(Outcome::new("state machine", &machine.name, &machine.arn, Action::Removed))
}
