//! A Serverless project (`serverless.yml`) to a [`Plan`]: variables first, then
//! serverless-pseudo-parameters, then the stack's references, then each part of the project.

use crate::error::{ConfigError, KeyError};
use crate::events::{self, EventTarget};
use crate::images::{built_image_reference, local_image};
use crate::intrinsics::{evaluate, evaluate_condition, pseudo_parameters_to_substitutions};
use crate::naming::{self, Partition};
use crate::plan::{Activity, Function, Image, Output, Plan, Resource, ResourceKind, Skipped, StateMachine, Target};
use crate::resources::{self, Deployment};
use crate::source::SourceFile;
use crate::template::{Entity, EntityKind, Template};
use crate::variables::{self, Sources};
use asl::yaml::{child_path, item_path};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Plugins whose effect `switchyard up` provides itself.
const PROVIDED_PLUGINS: &[&str] = &["serverless-step-functions", "serverless-pseudo-parameters"];
/// Popular plugins that shape packaging, IAM or the cloud account: their configuration is
/// accepted, and what each amounts to locally is noted rather than warned about.
const LOCALLY_MOOT_PLUGINS: &[(&str, &str)] = &[
    ("serverless-python-requirements", "handlers import what the local Python environment has installed"),
    ("serverless-offline", "switchyard up itself serves the project's endpoints"),
    ("serverless-iam-roles-per-function", "IAM is not applicable locally"),
    ("serverless-prune-plugin", "no function versions are kept locally"),
    ("serverless-plugin-typescript", "handlers run from the project's folder as they are"),
    ("serverless-webpack", "handlers run from the project's folder as they are"),
    ("serverless-esbuild", "handlers run from the project's folder as they are"),
    ("serverless-dotenv-plugin", "the environment of switchyard up is what ${env:...} reads"),
    ("serverless-plugin-log-retention", "logs are kept by the server"),
];
/// The framework's defaults for functions.
const DEFAULT_RUNTIME: &str = "nodejs20.x";
const DEFAULT_MEMORY_MB: u64 = 1024;
const DEFAULT_TIMEOUT_S: u64 = 6;

/// Reads `serverless.yml` at `path` and plans its deployment into `partition`.
pub fn plan(path: &Path, sources: &Sources, partition: Partition) -> Result<Plan, ConfigError> {
    let file = SourceFile::read(path)?;
    plan_source(&file, sources, partition)
}

/// The region `file` deploys to: `--region`, else `provider.region`, else us-east-1.
pub fn region(file: &SourceFile, sources: &Sources) -> Result<String, ConfigError> {
    let (_, region) = variables::stage_and_region(&file.value, &project_dir(file), sources).map_err(|error| file.error(error))?;
    Ok(region)
}

/// The folder of the project's file, absolute.
fn project_dir(file: &SourceFile) -> std::path::PathBuf {
    let base_dir = std::path::absolute(file.path.parent().unwrap_or(Path::new("."))).unwrap_or_default();
    if base_dir.as_os_str().is_empty() {
        Path::new(".").to_path_buf()
    } else {
        base_dir
    }
}

pub fn plan_source(file: &SourceFile, sources: &Sources, partition: Partition) -> Result<Plan, ConfigError> {
    let base_dir = project_dir(file);
    let placed = |error: KeyError| file.error(error);
    let resolved = variables::resolve(&file.value, &base_dir, sources).map_err(placed)?;
    let (stage, _) = variables::stage_and_region(&file.value, &base_dir, sources).map_err(placed)?;
    let config = pseudo_parameters_to_substitutions(resolved);
    let service = match config.get("service") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(Value::Object(service)) => service.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    if service.is_empty() {
        return Err(placed(KeyError::new("service", "a service name is required")));
    }
    let builder = Builder::new(&config, &base_dir, sources, partition, service, stage).map_err(placed)?;
    builder.build().map_err(placed)
}

/// One `resources` section's parts, with the key path of each (the section may be a list).
#[derive(Default)]
struct Sections {
    parameters: Vec<(String, String, Value)>,
    conditions: Map<String, Value>,
    resources: Vec<(String, String, Value)>,
    outputs: Vec<(String, String, Value)>,
}

fn sections(config: &Value) -> Sections {
    let mut sections = Sections::default();
    let listed: Vec<(String, &Value)> = match config.get("resources") {
        Some(Value::Array(items)) => items.iter().enumerate().map(|(index, item)| (item_path("resources", index), item)).collect(),
        Some(section) => vec![("resources".to_owned(), section)],
        None => Vec::new(),
    };
    for (path, section) in listed {
        let entries = |name: &str| section.get(name).and_then(Value::as_object).cloned().unwrap_or_default();
        for (name, declaration) in entries("Parameters") {
            sections.parameters.push((name.clone(), child_path(&child_path(&path, "Parameters"), &name), declaration));
        }
        sections.conditions.extend(entries("Conditions"));
        for (logical_id, resource) in entries("Resources") {
            sections.resources.push((logical_id.clone(), child_path(&child_path(&path, "Resources"), &logical_id), resource));
        }
        for (name, output) in entries("Outputs") {
            sections.outputs.push((name.clone(), child_path(&child_path(&path, "Outputs"), &name), output));
        }
    }
    sections
}

struct Builder<'a> {
    config: &'a Value,
    base_dir: &'a Path,
    template: Template,
    sections: Sections,
    plan: Plan,
    /// Images of `provider.ecr.images` given by `uri` rather than built, made local.
    image_uris: BTreeMap<String, String>,
}

impl<'a> Builder<'a> {
    fn new(config: &'a Value, base_dir: &'a Path, sources: &Sources, partition: Partition, service: String, stage: String) -> Result<Builder<'a>, KeyError> {
        let stack_name = format!("{service}-{stage}");
        let sections = sections(config);
        let mut parameters = BTreeMap::new();
        for (name, key, declaration) in &sections.parameters {
            let numeric = declaration.get("Type").and_then(Value::as_str) == Some("Number");
            // CloudFormation checks that a Number is one, and then references get it as text.
            let value = match (sources.params.get(name), declaration.get("Default")) {
                (Some(given), _) if numeric => given.parse::<serde_json::Number>().map(|_| Value::String(given.clone())).map_err(|_| KeyError::new(key.as_str(), format!("--param {name}={given}: the parameter is a Number")))?,
                (Some(given), _) => Value::String(given.clone()),
                (None, Some(Value::Number(default))) => Value::String(default.to_string()),
                (None, Some(default)) => default.clone(),
                (None, None) => return Err(KeyError::new(key.as_str(), format!("parameter {name} has no Default: give it with --param {name}=VALUE"))),
            };
            parameters.insert(name.clone(), value);
        }
        let template = Template::new(partition.clone(), stack_name.clone(), parameters, sections.conditions.clone());
        let plan = Plan {
            service,
            stage,
            region: partition.region,
            account: partition.account,
            stack_name,
            project_dir: base_dir.display().to_string(),
            functions: Vec::new(),
            state_machines: Vec::new(),
            activities: Vec::new(),
            resources: Vec::new(),
            images: Vec::new(),
            routes: Vec::new(),
            schedules: Vec::new(),
            outputs: Vec::new(),
            not_applicable: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        Ok(Builder { config, base_dir, template, sections, plan, image_uris: BTreeMap::new() })
    }

    fn build(mut self) -> Result<Plan, KeyError> {
        self.declare_functions();
        self.declare_step_functions();
        self.declare_resources()?;
        self.images()?;
        self.functions()?;
        self.state_machines()?;
        self.activities()?;
        self.resources()?;
        self.outputs()?;
        self.plugins();
        Ok(self.plan)
    }

    fn entries(&self, path: &str) -> Vec<(String, Value)> {
        match variables::lookup(self.config, path) {
            Some(Value::Object(entries)) => entries.iter().map(|(key, value)| (key.clone(), value.clone())).collect(),
            // Framework v1 also took a list of one-entry maps.
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).flat_map(|entries| entries.iter().map(|(key, value)| (key.clone(), value.clone()))).collect(),
            _ => Vec::new(),
        }
    }

    fn declare_functions(&mut self) {
        for (key, function) in self.entries("functions") {
            let logical_id = naming::function_logical_id(&key);
            let name = function.get("name").cloned().unwrap_or_else(|| Value::String(format!("{}-{key}", self.plan.stack_name)));
            let name_key = child_path(&child_path("functions", &key), "name");
            self.template.add(&logical_id, Entity { kind: EntityKind::Function, name: Some(name), name_key, properties: Value::Null });
            self.template.add_function_key(&key, &logical_id);
        }
    }

    fn declare_step_functions(&mut self) {
        for (key, machine) in self.entries("stepFunctions.stateMachines") {
            let name = machine.get("name").cloned();
            let logical_id = naming::state_machine_logical_id(&key, machine.get("id").and_then(Value::as_str), name.as_ref().and_then(Value::as_str));
            let name_key = child_path(&child_path("stepFunctions.stateMachines", &key), "name");
            self.template.add(&logical_id, Entity { kind: EntityKind::StateMachine, name: Some(name.unwrap_or_else(|| Value::String(format!("{}-{key}", self.plan.stack_name)))), name_key, properties: Value::Null });
        }
        for (index, name) in self.activity_names().into_iter().enumerate() {
            let name_key = item_path("stepFunctions.activities", index);
            self.template.add(&naming::activity_logical_id(&name), Entity { kind: EntityKind::Activity, name: Some(Value::String(name)), name_key, properties: Value::Null });
        }
    }

    /// `activities: [a, b]`, or items of the form `{name: a}` / `{a: {...}}`.
    fn activity_names(&self) -> Vec<String> {
        let Some(Value::Array(items)) = variables::lookup(self.config, "stepFunctions.activities") else { return Vec::new() };
        items
            .iter()
            .filter_map(|item| match item {
                Value::String(name) => Some(name.clone()),
                Value::Object(entries) => entries.get("name").and_then(Value::as_str).map(str::to_owned).or_else(|| entries.keys().next().cloned()),
                _ => None,
            })
            .collect()
    }

    fn declare_resources(&mut self) -> Result<(), KeyError> {
        for (logical_id, key, resource) in &self.sections.resources {
            let resource_type = resource.get("Type").and_then(Value::as_str).ok_or_else(|| KeyError::new(child_path(key, "Type"), "every resource needs a Type"))?;
            let properties = resource.get("Properties").cloned().unwrap_or(Value::Object(Map::new()));
            let property = |name: &str| properties.get(name).cloned();
            let (kind, name) = match resources::deployment_of(resource_type) {
                Deployment::Local(kind) => (EntityKind::Local(kind), property(resources::name_property(kind))),
                Deployment::StateMachine => (EntityKind::StateMachine, property("StateMachineName")),
                Deployment::Activity => (EntityKind::Activity, property("Name")),
                Deployment::NotApplicable | Deployment::Unknown => (EntityKind::Placeholder { resource_type: resource_type.to_owned() }, None),
            };
            let name_key = child_path(&child_path(key, "Properties"), "Name");
            self.template.add(logical_id, Entity { kind, name, name_key, properties });
        }
        Ok(())
    }

    fn evaluated(&self, value: &Value, key: &str) -> Result<Value, KeyError> {
        evaluate(value, &self.template, key)
    }

    fn named(&self, logical_id: &str, key: &str) -> Result<(String, String), KeyError> {
        let name = self.template.name(logical_id).map_err(|message| KeyError::new(key, message))?;
        let arn = self.template.arn(logical_id).map_err(|message| KeyError::new(key, message))?;
        Ok((name, arn))
    }

    fn images(&mut self) -> Result<(), KeyError> {
        for (name, declaration) in self.entries("provider.ecr.images") {
            let key = child_path("provider.ecr.images", &name);
            let declaration = self.evaluated(&declaration, &key)?;
            if let Some(uri) = declaration.get("uri") {
                let uri = uri.as_str().ok_or_else(|| KeyError::new(child_path(&key, "uri"), "an image's uri is a string"))?;
                self.image_uris.insert(name.clone(), local_image(uri));
                continue;
            }
            let Some(path) = declaration.get("path").and_then(Value::as_str) else {
                return Err(KeyError::new(key, "an image needs a path (to build from) or a uri"));
            };
            let build_args = declaration.get("buildArgs").and_then(Value::as_object).map(|arguments| arguments.iter().map(|(name, value)| (name.clone(), text_of(value))).collect()).unwrap_or_default();
            self.plan.images.push(Image {
                name: name.clone(),
                reference: built_image_reference(&name),
                context: self.base_dir.join(path).display().to_string(),
                dockerfile: declaration.get("file").and_then(Value::as_str).unwrap_or("Dockerfile").to_owned(),
                build_args,
                platform: declaration.get("platform").and_then(Value::as_str).map(str::to_owned),
                cache_from: declaration.get("cacheFrom").and_then(Value::as_array).map(|images| images.iter().filter_map(Value::as_str).map(local_image).collect()).unwrap_or_default(),
            });
        }
        Ok(())
    }

    fn functions(&mut self) -> Result<(), KeyError> {
        let provider = self.config.get("provider").cloned().unwrap_or(Value::Null);
        let provider_environment = self.evaluated(provider.get("environment").unwrap_or(&Value::Null), "provider.environment")?;
        let package_patterns = patterns(self.config.get("package"));
        for (key, function) in self.entries("functions") {
            let path = child_path("functions", &key);
            let logical_id = naming::function_logical_id(&key);
            let (name, arn) = self.named(&logical_id, &path)?;
            let function = self.evaluated(&function, &path)?;
            let setting = |field: &str| function.get(field).or_else(|| provider.get(field));
            let mut environment = BTreeMap::new();
            for variables in [&provider_environment, function.get("environment").unwrap_or(&Value::Null)] {
                if let Value::Object(variables) = variables {
                    environment.extend(variables.iter().map(|(name, value)| (name.clone(), text_of(value))));
                }
            }
            let image = match function.get("image") {
                Some(Value::String(image)) => Some(self.image_reference(image)),
                Some(Value::Object(image)) => image.get("uri").or_else(|| image.get("name")).and_then(Value::as_str).map(|image| self.image_reference(image)),
                _ => None,
            };
            let handler = function.get("handler").and_then(Value::as_str).map(str::to_owned);
            if handler.is_none() && image.is_none() {
                return Err(KeyError::new(path, "a function needs a handler or an image"));
            }
            let mut patterns = package_patterns.clone();
            patterns.extend(self::patterns(function.get("package")));
            self.plan.functions.push(Function {
                key: key.clone(),
                logical_id,
                name: name.clone(),
                arn: arn.clone(),
                handler,
                image,
                runtime: setting("runtime").and_then(Value::as_str).unwrap_or(DEFAULT_RUNTIME).to_owned(),
                memory_size: number(setting("memorySize")).unwrap_or(DEFAULT_MEMORY_MB),
                timeout: number(setting("timeout")).unwrap_or(DEFAULT_TIMEOUT_S),
                environment,
                reserved_concurrency: number(function.get("reservedConcurrency")),
                code_dir: self.base_dir.display().to_string(),
                package_patterns: patterns,
            });
            let target = EventTarget { key: key.clone(), target: Target::Function { name, arn } };
            events::add(&mut self.plan, &target, function.get("events"), &child_path(&path, "events"))?;
        }
        Ok(())
    }

    /// An image of `provider.ecr.images` by name (built, or its uri), or any reference made local.
    /// The framework pushes the images it builds to the repository `serverless-SERVICE-STAGE`,
    /// tagged with their name: such references are the built images too.
    fn image_reference(&self, image: &str) -> String {
        let local = local_image(image);
        let framework_repository = format!("serverless-{}-{}:", self.plan.service, self.plan.stage);
        let name = local.strip_prefix(&framework_repository).unwrap_or(image);
        match (self.plan.images.iter().find(|built| built.name == name), self.image_uris.get(name)) {
            (Some(built), _) => built.reference.clone(),
            (None, Some(uri)) => uri.clone(),
            (None, None) => local,
        }
    }

    fn state_machines(&mut self) -> Result<(), KeyError> {
        for (key, machine) in self.entries("stepFunctions.stateMachines") {
            let path = child_path("stepFunctions.stateMachines", &key);
            let logical_id = naming::state_machine_logical_id(&key, machine.get("id").and_then(Value::as_str), machine.get("name").and_then(Value::as_str));
            let (name, arn) = self.named(&logical_id, &path)?;
            let machine = self.evaluated(&machine, &path)?;
            let definition_key = child_path(&path, "definition");
            let definition = match machine.get("definition") {
                Some(Value::String(text)) => asl::definition::parse_text(text).map_err(|message| KeyError::new(definition_key.as_str(), message))?,
                Some(definition) => definition.clone(),
                None => return Err(KeyError::new(path, "a state machine needs a definition")),
            };
            let machine_type = machine.get("type").and_then(Value::as_str).unwrap_or("STANDARD").to_uppercase();
            check_definition(&definition, &machine_type, &definition_key)?;
            let role_arn = match machine.get("role").and_then(Value::as_str) {
                Some(role) => role.to_owned(),
                None => format!("arn:aws:iam::{}:role/{}-{logical_id}Role", self.plan.account, self.plan.stack_name),
            };
            self.plan.state_machines.push(StateMachine {
                key: key.clone(),
                logical_id,
                name: name.clone(),
                arn: arn.clone(),
                definition: definition.to_string(),
                machine_type,
                role_arn,
                logging_configuration: machine.get("loggingConfig").map(logging_configuration),
                tracing_configuration: machine.get("tracingConfig").map(|tracing| serde_json::json!({ "enabled": tracing.get("enabled").and_then(Value::as_bool).unwrap_or(false) })),
            });
            let target = EventTarget { key: key.clone(), target: Target::StateMachine { name, arn } };
            events::add(&mut self.plan, &target, machine.get("events"), &child_path(&path, "events"))?;
        }
        Ok(())
    }

    fn activities(&mut self) -> Result<(), KeyError> {
        for (index, name) in self.activity_names().into_iter().enumerate() {
            let logical_id = naming::activity_logical_id(&name);
            let (name, arn) = self.named(&logical_id, &item_path("stepFunctions.activities", index))?;
            self.plan.activities.push(Activity { logical_id, name, arn });
        }
        Ok(())
    }

    fn resources(&mut self) -> Result<(), KeyError> {
        let resources = std::mem::take(&mut self.sections.resources);
        for (logical_id, key, resource) in &resources {
            if !self.holds(resource, key)? {
                continue;
            }
            let resource_type = resource.get("Type").and_then(Value::as_str).unwrap_or_default();
            let properties_key = child_path(key, "Properties");
            let properties = || self.evaluated(resource.get("Properties").unwrap_or(&Value::Object(Map::new())), &properties_key);
            match resources::deployment_of(resource_type) {
                Deployment::Local(kind) => {
                    let (name, arn) = self.named(logical_id, key)?;
                    let properties = local_images(kind, properties()?, self);
                    self.plan.resources.push(Resource { logical_id: logical_id.clone(), kind, name, arn, properties });
                }
                Deployment::StateMachine => {
                    let (name, arn) = self.named(logical_id, key)?;
                    let properties = properties()?;
                    let definition = resource_definition(&properties, &properties_key)?;
                    let machine_type = properties.get("StateMachineType").and_then(Value::as_str).unwrap_or("STANDARD").to_owned();
                    check_definition(&definition, &machine_type, &properties_key)?;
                    let role_arn = properties.get("RoleArn").and_then(Value::as_str).map_or_else(|| format!("arn:aws:iam::{}:role/{}-{logical_id}Role", self.plan.account, self.plan.stack_name), str::to_owned);
                    self.plan.state_machines.push(StateMachine { key: logical_id.clone(), logical_id: logical_id.clone(), name, arn, definition: definition.to_string(), machine_type, role_arn, logging_configuration: None, tracing_configuration: None });
                }
                Deployment::Activity => {
                    let (name, arn) = self.named(logical_id, key)?;
                    self.plan.activities.push(Activity { logical_id: logical_id.clone(), name, arn });
                }
                Deployment::NotApplicable => self.plan.not_applicable.push(Skipped { logical_id: logical_id.clone(), resource_type: resource_type.to_owned() }),
                Deployment::Unknown => self.plan.warnings.push(format!("{key}: {resource_type} is not deployed locally (references to {logical_id} get placeholder values)")),
            }
        }
        Ok(())
    }

    fn outputs(&mut self) -> Result<(), KeyError> {
        for (name, key, output) in std::mem::take(&mut self.sections.outputs) {
            if !self.holds(&output, &key)? {
                continue;
            }
            let output = self.evaluated(&output, &key)?;
            let value = output.get("Value").ok_or_else(|| KeyError::new(key.as_str(), "an output needs a Value"))?;
            let text = |value: Option<&Value>| value.map(text_of);
            self.plan.outputs.push(Output { name, value: text_of(value), description: text(output.get("Description")), export_name: text(output.pointer("/Export/Name")) });
        }
        Ok(())
    }

    /// Whether the `Condition` of a resource or output (if it has one) holds.
    fn holds(&self, declaration: &Value, key: &str) -> Result<bool, KeyError> {
        match declaration.get("Condition") {
            Some(condition) => evaluate_condition(&serde_json::json!({ "Condition": condition }), &self.template, &child_path(key, "Condition")),
            None => Ok(true),
        }
    }

    fn plugins(&mut self) {
        let plugins = match self.config.get("plugins") {
            Some(Value::Array(plugins)) => plugins.clone(),
            Some(Value::Object(section)) => section.get("modules").and_then(Value::as_array).cloned().unwrap_or_default(),
            _ => Vec::new(),
        };
        for plugin in plugins.iter().filter_map(Value::as_str) {
            if PROVIDED_PLUGINS.contains(&plugin) {
                continue;
            }
            match LOCALLY_MOOT_PLUGINS.iter().find(|(name, _)| *name == plugin) {
                Some((_, locally)) => self.plan.notes.push(format!("plugins: {plugin}: {locally}")),
                None => self.plan.warnings.push(format!("plugins: {plugin} is not run locally")),
            }
        }
    }
}

/// Image references of task and job definitions made local.
fn local_images(kind: ResourceKind, mut properties: Value, builder: &Builder) -> Value {
    let rewrite = |container: &mut Value| {
        if let Some(Value::String(image)) = container.get_mut("Image") {
            *image = builder.image_reference(image);
        }
    };
    match kind {
        ResourceKind::TaskDefinition => {
            if let Some(Value::Array(containers)) = properties.get_mut("ContainerDefinitions") {
                containers.iter_mut().for_each(rewrite);
            }
        }
        ResourceKind::JobDefinition => {
            if let Some(container) = properties.get_mut("ContainerProperties") {
                rewrite(container);
            }
        }
        _ => {}
    }
    properties
}

/// `AWS::StepFunctions::StateMachine`: `Definition` (an object) or `DefinitionString`, with
/// `DefinitionSubstitutions` applied.
fn resource_definition(properties: &Value, key: &str) -> Result<Value, KeyError> {
    let mut text = match (properties.get("Definition"), properties.get("DefinitionString")) {
        (Some(definition), _) => definition.to_string(),
        (None, Some(Value::String(text))) => text.clone(),
        _ => return Err(KeyError::new(key, "a state machine needs Definition or DefinitionString")),
    };
    if let Some(Value::Object(substitutions)) = properties.get("DefinitionSubstitutions") {
        for (name, value) in substitutions {
            text = text.replace(&format!("${{{name}}}"), &text_of(value));
        }
    }
    asl::definition::parse_text(&text).map_err(|message| KeyError::new(child_path(key, "DefinitionString"), message))
}

/// The plugin's `loggingConfig` in Step Functions' `loggingConfiguration` shape.
fn logging_configuration(config: &Value) -> Value {
    let destinations: Vec<Value> = config
        .get("destinations")
        .and_then(Value::as_array)
        .map(|destinations| destinations.iter().map(|arn| serde_json::json!({ "cloudWatchLogsLogGroup": { "logGroupArn": text_of(arn) } })).collect())
        .unwrap_or_default();
    serde_json::json!({
        "level": config.get("level").and_then(Value::as_str).unwrap_or("OFF"),
        "includeExecutionData": config.get("includeExecutionData").and_then(Value::as_bool).unwrap_or(false),
        "destinations": destinations,
    })
}

/// The definition checked as CreateStateMachine would, with the error placed at its key.
fn check_definition(definition: &Value, machine_type: &str, key: &str) -> Result<(), KeyError> {
    let validation_type = if machine_type == "EXPRESS" { asl::validate::StateMachineType::Express } else { asl::validate::StateMachineType::Standard };
    let diagnostics = asl::validate::validate_for(definition, validation_type);
    match diagnostics.iter().find(|diagnostic| diagnostic.severity == asl::validate::Severity::Error) {
        Some(diagnostic) => {
            let location: String = diagnostic.location.split('/').filter(|part| !part.is_empty()).fold(key.to_owned(), |path, part| child_path(&path, part));
            Err(KeyError::new(location, format!("{}: {}", diagnostic.code, diagnostic.message)))
        }
        None => Ok(()),
    }
}

fn patterns(package: Option<&Value>) -> Vec<String> {
    let Some(package) = package else { return Vec::new() };
    let mut patterns = Vec::new();
    for (field, prefix) in [("patterns", ""), ("include", ""), ("exclude", "!")] {
        if let Some(Value::Array(items)) = package.get(field) {
            patterns.extend(items.iter().filter_map(Value::as_str).map(|pattern| format!("{prefix}{pattern}")));
        }
    }
    patterns
}

fn number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// Environment values, build arguments and substitutions are text.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
