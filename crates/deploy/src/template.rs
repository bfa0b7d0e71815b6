//! The stack a project compiles to, as far as references need it: parameters, conditions and
//! every logical id (functions, state machines, activities, resources) with its name and ARN.
//! Names are evaluated on first use, since they may themselves use intrinsic functions.

use crate::intrinsics::{evaluate, evaluate_condition, Stack};
use crate::naming::Partition;
use crate::plan::ResourceKind;
use crate::resources;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub enum EntityKind {
    Function,
    StateMachine,
    Activity,
    Local(ResourceKind),
    /// Not deployed (not applicable locally, or of an unknown type): answers with placeholders.
    Placeholder { resource_type: String },
}

#[derive(Debug, Clone)]
pub struct Entity {
    pub kind: EntityKind,
    /// The name, possibly with intrinsic functions in it; None when generated.
    pub name: Option<Value>,
    /// Where the name is written, for errors.
    pub name_key: String,
    /// Resource properties (intrinsics unresolved), for ARNs that depend on them.
    pub properties: Value,
}

pub struct Template {
    pub partition: Partition,
    pub stack_name: String,
    parameters: BTreeMap<String, Value>,
    conditions: Map<String, Value>,
    entities: BTreeMap<String, Entity>,
    /// Function keys (`map`) to logical ids (`MapLambdaFunction`): serverless-step-functions lets
    /// `Fn::GetAtt: [map, Arn]` name a function by its key.
    function_keys: BTreeMap<String, String>,
    names: RefCell<BTreeMap<String, String>>,
    /// Names and conditions being evaluated, to report cycles instead of recursing forever.
    evaluating: RefCell<Vec<String>>,
}

impl Template {
    pub fn new(partition: Partition, stack_name: String, parameters: BTreeMap<String, Value>, conditions: Map<String, Value>) -> Template {
        Template { partition, stack_name, parameters, conditions, entities: BTreeMap::new(), function_keys: BTreeMap::new(), names: RefCell::default(), evaluating: RefCell::default() }
    }

    pub fn add(&mut self, logical_id: &str, entity: Entity) {
        self.entities.insert(logical_id.to_owned(), entity);
    }

    pub fn add_function_key(&mut self, key: &str, logical_id: &str) {
        self.function_keys.insert(key.to_owned(), logical_id.to_owned());
    }

    pub fn contains(&self, logical_id: &str) -> bool {
        self.entities.contains_key(logical_id) || self.parameters.contains_key(logical_id)
    }

    /// The deployed name of a logical id.
    pub fn name(&self, logical_id: &str) -> Result<String, String> {
        if let Some(name) = self.names.borrow().get(logical_id) {
            return Ok(name.clone());
        }
        let entity = self.entities.get(logical_id).ok_or_else(|| unresolved(logical_id))?;
        let name = match (&entity.name, &entity.kind) {
            (Some(raw), _) => {
                let value = self.guarded(logical_id, || evaluate(raw, self, &entity.name_key).map_err(|error| format!("{}: {}", error.key, error.message)))?;
                match value {
                    Value::String(name) => name,
                    other => other.to_string(),
                }
            }
            (None, EntityKind::Local(kind)) => resources::generated_name(*kind, &self.stack_name, logical_id),
            (None, _) => format!("{}-{logical_id}", self.stack_name),
        };
        self.names.borrow_mut().insert(logical_id.to_owned(), name.clone());
        Ok(name)
    }

    pub fn arn(&self, logical_id: &str) -> Result<String, String> {
        let entity = self.entities.get(logical_id).ok_or_else(|| unresolved(logical_id))?;
        let name = self.name(logical_id)?;
        Ok(match &entity.kind {
            EntityKind::Function => self.partition.function(&name),
            EntityKind::StateMachine => self.partition.state_machine(&name),
            EntityKind::Activity => self.partition.activity(&name),
            EntityKind::Local(kind) => {
                let cluster = match entity.properties.get("Cluster") {
                    Some(cluster) => self.guarded(logical_id, || evaluate(cluster, self, "Cluster").map_err(|error| error.message))?,
                    None => Value::Null,
                };
                resources::arn(*kind, &self.partition, &name, &serde_json::json!({ "Cluster": cluster }))
            }
            EntityKind::Placeholder { resource_type } => match resources::placeholder_attribute(resource_type, logical_id, &self.stack_name, &self.partition, "Arn") {
                Value::String(arn) => arn,
                other => other.to_string(),
            },
        })
    }

    fn guarded<T>(&self, what: &str, evaluate: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        if self.evaluating.borrow().iter().any(|open| open == what) {
            return Err(format!("circular reference through {what}"));
        }
        self.evaluating.borrow_mut().push(what.to_owned());
        let outcome = evaluate();
        self.evaluating.borrow_mut().pop();
        outcome
    }

    fn function_logical_id<'a>(&'a self, name: &'a str) -> &'a str {
        self.function_keys.get(name).map_or(name, String::as_str)
    }
}

fn unresolved(name: &str) -> String {
    format!("Unresolved resource dependency [{name}]: no parameter, resource, function, state machine or activity has this name")
}

impl Stack for Template {
    fn reference(&self, name: &str) -> Result<Value, String> {
        let text = |value: String| Ok(Value::String(value));
        match name {
            "AWS::Region" => return text(self.partition.region.clone()),
            "AWS::AccountId" => return text(self.partition.account.clone()),
            "AWS::StackName" => return text(self.stack_name.clone()),
            "AWS::Partition" => return text("aws".to_owned()),
            "AWS::URLSuffix" => return text("amazonaws.com".to_owned()),
            "AWS::StackId" => return text(self.partition.arn("cloudformation", &format!("stack/{}/00000000-0000-0000-0000-000000000000", self.stack_name))),
            "AWS::NotificationARNs" => return Ok(Value::Array(Vec::new())),
            _ => {}
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        let logical_id = self.function_logical_id(name);
        let entity = self.entities.get(logical_id).ok_or_else(|| unresolved(name))?;
        match &entity.kind {
            EntityKind::Function => self.name(logical_id).map(Value::String),
            EntityKind::StateMachine | EntityKind::Activity => self.arn(logical_id).map(Value::String),
            EntityKind::Local(kind) => Ok(resources::reference(*kind, &self.name(logical_id)?, &self.arn(logical_id)?)),
            EntityKind::Placeholder { resource_type } => Ok(resources::placeholder_reference(resource_type, logical_id, &self.stack_name)),
        }
    }

    fn attribute(&self, name: &str, attribute: &str) -> Result<Value, String> {
        let logical_id = self.function_logical_id(name);
        let entity = self.entities.get(logical_id).ok_or_else(|| unresolved(name))?;
        let missing = || format!("{name} has no attribute {attribute}");
        match (&entity.kind, attribute) {
            (EntityKind::Function | EntityKind::StateMachine | EntityKind::Activity, "Arn") => self.arn(logical_id).map(Value::String),
            (EntityKind::StateMachine | EntityKind::Activity, "Name") => self.name(logical_id).map(Value::String),
            (EntityKind::Function | EntityKind::StateMachine | EntityKind::Activity, _) => Err(missing()),
            (EntityKind::Local(kind), _) => resources::attribute(*kind, &self.name(logical_id)?, &self.arn(logical_id)?, &self.partition, attribute).ok_or_else(missing),
            (EntityKind::Placeholder { resource_type }, _) => Ok(resources::placeholder_attribute(resource_type, logical_id, &self.stack_name, &self.partition, attribute)),
        }
    }

    fn condition(&self, name: &str) -> Result<bool, String> {
        let expression = self.conditions.get(name).ok_or_else(|| format!("no condition named {name} in resources.Conditions"))?;
        self.guarded(&format!("Conditions.{name}"), || evaluate_condition(expression, self, &format!("resources.Conditions.{name}")).map_err(|error| format!("{}: {}", error.key, error.message)))
    }
}
