//! The compiled form of a state machine definition: every path, template, rule and expression is
//! parsed once here, and states refer to each other by index, so running a state does no parsing
//! and no name lookups.
//!
//! Loading does not re-check everything `validate` reports; it only refuses what it cannot run,
//! with a message naming the place.

use crate::choice::ChoiceRule;
use crate::intrinsics::Intrinsic;
use crate::jsonata::{self, JsonataTemplate};
use crate::path::{Path, ReferencePath};
use crate::template::Template;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLanguage {
    JsonPath,
    Jsonata,
}

/// A state machine or a nested one (Parallel branch, Map processor).
#[derive(Debug)]
pub struct StateMachine {
    pub start_at: usize,
    pub states: Vec<State>,
    pub timeout_seconds: Option<u64>,
    pub query_language: QueryLanguage,
}

#[derive(Debug)]
pub struct State {
    pub name: Arc<str>,
    pub kind: StateKind,
    pub query_language: QueryLanguage,
    pub transition: Transition,
    pub data: DataFlow,
    /// JSONPath mode: a template; JSONata mode: a JSONata template. Evaluated as the state exits.
    pub assign: Option<Assign>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    /// Whether any expression of the state can read the context object (`$$`, `$states.context`),
    /// so that it is only built where it can be seen.
    pub uses_context: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Next(usize),
    End,
}

/// Where a read path may be given as JSONPath `null` (AWS: "take nothing", giving `{}`).
#[derive(Debug)]
pub enum OptionalPath {
    Whole,
    Nothing,
    Path(Path),
}

#[derive(Debug)]
pub enum ResultPlacement {
    /// The result replaces the input (ResultPath `$`, the default).
    Replace,
    /// The result is dropped and the input passes through (ResultPath `null`).
    Discard,
    At(ReferencePath),
}

#[derive(Debug)]
pub enum DataFlow {
    JsonPath {
        input_path: OptionalPath,
        parameters: Option<Template>,
        result_selector: Option<Template>,
        result_path: ResultPlacement,
        output_path: OptionalPath,
    },
    Jsonata {
        arguments: Option<JsonataTemplate>,
        output: Option<JsonataTemplate>,
    },
}

#[derive(Debug)]
pub enum Assign {
    JsonPath(Template),
    Jsonata(JsonataTemplate),
}

/// A value given literally, through a JSONPath (`...Path` field) or as a JSONata expression.
#[derive(Debug)]
pub enum Dynamic {
    Literal(Value),
    Path { field: &'static str, path: Path },
    Jsonata { field: &'static str, template: JsonataTemplate },
}

#[derive(Debug)]
pub enum StateKind {
    Pass { result: Option<Value> },
    Task(Box<TaskSpec>),
    Choice { choices: Vec<ChoiceBranch>, default: Option<usize> },
    Wait(Dynamic),
    Succeed,
    Fail { error: Option<FailField>, cause: Option<FailField> },
    Parallel { branches: Vec<Arc<StateMachine>> },
    Map(Box<MapSpec>),
}

#[derive(Debug)]
pub enum FailField {
    Literal(String),
    Path(Path),
    Intrinsic(Intrinsic),
    Jsonata(JsonataTemplate),
}

#[derive(Debug)]
pub struct TaskSpec {
    pub resource: String,
    pub timeout: Option<Dynamic>,
    pub heartbeat: Option<Dynamic>,
    pub credentials: Option<Value>,
}

#[derive(Debug)]
pub struct ChoiceBranch {
    pub condition: Condition,
    pub next: usize,
    pub assign: Option<Assign>,
    pub output: Option<JsonataTemplate>,
}

#[derive(Debug)]
pub enum Condition {
    Rule(ChoiceRule),
    Jsonata(JsonataTemplate),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapMode {
    Inline,
    Distributed,
}

#[derive(Debug)]
pub struct MapSpec {
    pub processor: Arc<StateMachine>,
    pub mode: MapMode,
    /// JSONPath `ItemsPath` (default `$`) or JSONata `Items` (default the input).
    pub items: Option<Dynamic>,
    pub item_selector: Option<ItemSelector>,
    pub max_concurrency: Option<Dynamic>,
    pub tolerated_failure_count: Option<Dynamic>,
    pub tolerated_failure_percentage: Option<Dynamic>,
    pub item_batcher: Option<ItemBatcher>,
    pub item_reader: Option<ItemReader>,
    pub result_writer: Option<ResultWriter>,
    pub label: Option<String>,
}

/// Where a distributed Map reads its items: the host reads them (`arn:aws:states:::s3:getObject`,
/// `...:s3:listObjectsV2`) page by page when the interpreter asks.
#[derive(Debug)]
pub struct ItemReader {
    pub resource: String,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata): the bucket and key or prefix.
    pub arguments: Option<ItemSelector>,
    /// ReaderConfig without MaxItems (InputType, CSVHeaderLocation, CSVHeaders, CSVDelimiter, ...).
    pub config: Value,
    /// ReaderConfig's MaxItems / MaxItemsPath.
    pub max_items: Option<Dynamic>,
}

/// Where and how a distributed Map exports its child executions' results.
#[derive(Debug)]
pub struct ResultWriter {
    /// `arn:aws:states:::s3:putObject`, or None: only WriterConfig, the results stay the output.
    pub resource: Option<String>,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata): Bucket and Prefix.
    pub arguments: Option<ItemSelector>,
    pub transformation: Transformation,
    /// WriterConfig's OutputType: JSONL files instead of JSON arrays.
    pub json_lines: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformation {
    /// Each child execution's metadata with its input and output (the default with a Resource).
    None,
    /// The outputs alone (the default without a ResultWriter).
    Compact,
    /// The outputs, arrays among them flattened into the list.
    Flatten,
}

impl Transformation {
    pub fn as_str(self) -> &'static str {
        match self {
            Transformation::None => "NONE",
            Transformation::Compact => "COMPACT",
            Transformation::Flatten => "FLATTEN",
        }
    }

    pub fn from_name(name: &str) -> Option<Transformation> {
        [Transformation::None, Transformation::Compact, Transformation::Flatten].into_iter().find(|transformation| transformation.as_str() == name)
    }
}

#[derive(Debug)]
pub enum ItemSelector {
    JsonPath(Template),
    Jsonata(JsonataTemplate),
}

#[derive(Debug)]
pub struct ItemBatcher {
    pub max_items_per_batch: Option<Dynamic>,
    pub max_input_bytes_per_batch: Option<Dynamic>,
    pub batch_input: Option<ItemSelector>,
}

#[derive(Debug)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub full_jitter: bool,
}

#[derive(Debug)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: usize,
    pub result_path: ResultPlacement,
    pub output: Option<JsonataTemplate>,
    pub assign: Option<Assign>,
}

/// Parses a definition given as JSON or YAML text.
pub fn parse_text(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(json_error) if text.trim_start().starts_with('{') => Err(format!("Invalid JSON definition: {json_error}")),
        Err(_) => crate::yaml::to_json(text),
    }
}

impl StateMachine {
    pub fn compile(definition: &Value) -> Result<StateMachine, String> {
        let top = as_object(definition, "")?;
        let language = match top.get("QueryLanguage") {
            None => QueryLanguage::JsonPath,
            Some(value) => parse_language(value, "/QueryLanguage")?,
        };
        compile_machine(top, "", language)
    }

    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|state| &*state.name == name)
    }
}

fn compile_machine(machine: &Map<String, Value>, at: &str, language: QueryLanguage) -> Result<StateMachine, String> {
    let states = machine
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{at}/States: must be an object of states"))?;
    let indices: HashMap<&str, usize> = states.keys().enumerate().map(|(index, name)| (name.as_str(), index)).collect();
    let start_name = machine
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}/StartAt: must be a state name"))?;
    let start_at = *indices.get(start_name).ok_or_else(|| format!("{at}/StartAt: no state named '{start_name}'"))?;
    let timeout_seconds = match machine.get("TimeoutSeconds") {
        None => None,
        Some(value) => Some(value.as_u64().ok_or_else(|| format!("{at}/TimeoutSeconds: must be a non-negative integer"))?),
    };
    let resolver = Resolver { indices: &indices };
    let compiled = states
        .iter()
        .map(|(name, state)| compile_state(name, state, &format!("{at}/States/{name}"), language, &resolver))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StateMachine { start_at, states: compiled, timeout_seconds, query_language: language })
}

struct Resolver<'a> {
    indices: &'a HashMap<&'a str, usize>,
}

impl Resolver<'_> {
    fn target(&self, value: Option<&Value>, at: &str) -> Result<usize, String> {
        let name = value.and_then(Value::as_str).ok_or_else(|| format!("{at}: must be a state name"))?;
        self.indices.get(name).copied().ok_or_else(|| format!("{at}: no state named '{name}'"))
    }
}

fn compile_state(name: &str, state: &Value, at: &str, inherited: QueryLanguage, resolver: &Resolver) -> Result<State, String> {
    let fields = as_object(state, at)?;
    let language = match fields.get("QueryLanguage") {
        None => inherited,
        Some(value) => parse_language(value, &format!("{at}/QueryLanguage"))?,
    };
    let state_type = fields.get("Type").and_then(Value::as_str).ok_or_else(|| format!("{at}/Type: missing"))?;
    let ctx = Fields { fields, at, language };
    let kind = match state_type {
        "Pass" => StateKind::Pass { result: fields.get("Result").cloned() },
        "Task" => StateKind::Task(Box::new(TaskSpec {
            resource: ctx.string("Resource")?.ok_or_else(|| format!("{at}/Resource: missing"))?,
            timeout: ctx.dynamic("TimeoutSeconds", "TimeoutSecondsPath")?,
            heartbeat: ctx.dynamic("HeartbeatSeconds", "HeartbeatSecondsPath")?,
            credentials: fields.get("Credentials").cloned(),
        })),
        "Choice" => StateKind::Choice {
            choices: compile_choices(&ctx, resolver)?,
            default: match fields.get("Default") {
                None => None,
                Some(default) => Some(resolver.target(Some(default), &format!("{at}/Default"))?),
            },
        },
        "Wait" => StateKind::Wait(compile_wait(&ctx)?),
        "Succeed" => StateKind::Succeed,
        "Fail" => StateKind::Fail { error: ctx.fail_field("Error", "ErrorPath")?, cause: ctx.fail_field("Cause", "CausePath")? },
        "Parallel" => StateKind::Parallel {
            branches: fields
                .get("Branches")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{at}/Branches: must be an array"))?
                .iter()
                .enumerate()
                .map(|(index, branch)| {
                    let branch_at = format!("{at}/Branches[{index}]");
                    compile_machine(as_object(branch, &branch_at)?, &branch_at, language).map(Arc::new)
                })
                .collect::<Result<_, _>>()?,
        },
        "Map" => StateKind::Map(Box::new(compile_map(&ctx)?)),
        other => return Err(format!("{at}/Type: unknown state type '{other}'")),
    };
    let transition = match (fields.get("Next"), fields.get("End")) {
        (Some(next), _) => Transition::Next(resolver.target(Some(next), &format!("{at}/Next"))?),
        _ => Transition::End,
    };
    // A Map's legacy `Parameters` is its ItemSelector, not a payload template.
    let data = if matches!(kind, StateKind::Map(_)) { ctx.data_flow_without("Parameters")? } else { ctx.data_flow()? };
    Ok(State {
        name: Arc::from(name),
        data,
        assign: ctx.assign(fields.get("Assign"), &format!("{at}/Assign"))?,
        retry: ctx.retriers()?,
        catch: ctx.catchers(resolver)?,
        kind,
        query_language: language,
        transition,
        uses_context: reads_context(state),
    })
}

fn compile_choices(ctx: &Fields, resolver: &Resolver) -> Result<Vec<ChoiceBranch>, String> {
    let choices = ctx.fields.get("Choices").and_then(Value::as_array).ok_or_else(|| format!("{}/Choices: must be an array", ctx.at))?;
    choices
        .iter()
        .enumerate()
        .map(|(index, choice)| {
            let at = format!("{}/Choices[{index}]", ctx.at);
            let rule = as_object(choice, &at)?;
            let condition = match ctx.language {
                QueryLanguage::JsonPath => Condition::Rule(ChoiceRule::compile(choice).map_err(|e| format!("{at}: {e}"))?),
                QueryLanguage::Jsonata => Condition::Jsonata(
                    JsonataTemplate::compile(rule.get("Condition").ok_or_else(|| format!("{at}/Condition: missing"))?)
                        .map_err(|e| format!("{at}/Condition: {e}"))?,
                ),
            };
            Ok(ChoiceBranch {
                condition,
                next: resolver.target(rule.get("Next"), &format!("{at}/Next"))?,
                assign: ctx.assign(rule.get("Assign"), &format!("{at}/Assign"))?,
                output: ctx.jsonata(rule.get("Output"), &format!("{at}/Output"))?,
            })
        })
        .collect()
}

fn compile_wait(ctx: &Fields) -> Result<Dynamic, String> {
    for (literal, path) in [("Seconds", "SecondsPath"), ("Timestamp", "TimestampPath")] {
        if let Some(dynamic) = ctx.dynamic(literal, path)? {
            return Ok(dynamic);
        }
    }
    Err(format!("{}: a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath", ctx.at))
}

fn compile_map(ctx: &Fields) -> Result<MapSpec, String> {
    let at = ctx.at;
    let (processor_value, processor_at) = match (ctx.fields.get("ItemProcessor"), ctx.fields.get("Iterator")) {
        (Some(processor), _) => (processor, format!("{at}/ItemProcessor")),
        (None, Some(iterator)) => (iterator, format!("{at}/Iterator")),
        (None, None) => return Err(format!("{at}: a Map state needs ItemProcessor")),
    };
    let processor = as_object(processor_value, &processor_at)?;
    let mode = match processor.get("ProcessorConfig").and_then(|config| config.get("Mode")).and_then(Value::as_str) {
        Some("DISTRIBUTED") => MapMode::Distributed,
        _ => MapMode::Inline,
    };
    let items = match ctx.language {
        QueryLanguage::JsonPath => ctx.path_field("ItemsPath")?.map(|path| Dynamic::Path { field: "ItemsPath", path }),
        QueryLanguage::Jsonata => ctx.dynamic("Items", "ItemsPath")?,
    };
    let item_batcher = match ctx.fields.get("ItemBatcher") {
        None => None,
        Some(batcher) => {
            let batcher_at = format!("{at}/ItemBatcher");
            let inner = Fields { fields: as_object(batcher, &batcher_at)?, at: &batcher_at, language: ctx.language };
            Some(ItemBatcher {
                max_items_per_batch: inner.dynamic("MaxItemsPerBatch", "MaxItemsPerBatchPath")?,
                max_input_bytes_per_batch: inner.dynamic("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath")?,
                batch_input: inner.selector("BatchInput")?,
            })
        }
    };
    Ok(MapSpec {
        processor: Arc::new(compile_machine(processor, &processor_at, ctx.language)?),
        mode,
        items,
        item_selector: match ctx.selector("ItemSelector")? {
            Some(selector) => Some(selector),
            None => ctx.selector_if_jsonpath("Parameters")?,
        },
        max_concurrency: ctx.dynamic("MaxConcurrency", "MaxConcurrencyPath")?,
        tolerated_failure_count: ctx.dynamic("ToleratedFailureCount", "ToleratedFailureCountPath")?,
        tolerated_failure_percentage: ctx.dynamic("ToleratedFailurePercentage", "ToleratedFailurePercentagePath")?,
        item_batcher,
        item_reader: item_reader(ctx, at)?,
        result_writer: result_writer(ctx, at)?,
        label: ctx.string("Label")?,
    })
}

fn item_reader(ctx: &Fields, at: &str) -> Result<Option<ItemReader>, String> {
    let Some(reader) = ctx.fields.get("ItemReader") else { return Ok(None) };
    let reader_at = format!("{at}/ItemReader");
    let inner = Fields { fields: as_object(reader, &reader_at)?, at: &reader_at, language: ctx.language };
    let resource = inner.string("Resource")?.ok_or_else(|| format!("{reader_at}: Resource is required"))?;
    let (config, max_items) = match inner.fields.get("ReaderConfig") {
        None => (Value::Object(Map::new()), None),
        Some(config) => {
            let config_at = format!("{reader_at}/ReaderConfig");
            let fields = as_object(config, &config_at)?;
            let max_items = Fields { fields, at: &config_at, language: ctx.language }.dynamic("MaxItems", "MaxItemsPath")?;
            let rest = fields.iter().filter(|(name, _)| !matches!(name.as_str(), "MaxItems" | "MaxItemsPath")).map(|(name, value)| (name.clone(), value.clone())).collect();
            (Value::Object(rest), max_items)
        }
    };
    Ok(Some(ItemReader { resource, arguments: inner.arguments()?, config, max_items }))
}

fn result_writer(ctx: &Fields, at: &str) -> Result<Option<ResultWriter>, String> {
    let Some(writer) = ctx.fields.get("ResultWriter") else { return Ok(None) };
    let writer_at = format!("{at}/ResultWriter");
    let inner = Fields { fields: as_object(writer, &writer_at)?, at: &writer_at, language: ctx.language };
    let resource = inner.string("Resource")?;
    let config = inner.fields.get("WriterConfig");
    let word = |name: &str| config.and_then(|config| config.get(name)).and_then(Value::as_str);
    let transformation = match word("Transformation") {
        None if resource.is_some() => Transformation::None,
        None => Transformation::Compact,
        Some(name) => Transformation::from_name(name).ok_or_else(|| format!("{writer_at}/WriterConfig/Transformation: '{name}' is not one of NONE, COMPACT, FLATTEN"))?,
    };
    let json_lines = match word("OutputType") {
        None | Some("JSON") => false,
        Some("JSONL") => true,
        Some(other) => return Err(format!("{writer_at}/WriterConfig/OutputType: '{other}' is not one of JSON, JSONL")),
    };
    Ok(Some(ResultWriter { resource, arguments: inner.arguments()?, transformation, json_lines }))
}

/// The fields of one state, with where they are (for messages) and the state's query language.
struct Fields<'a> {
    fields: &'a Map<String, Value>,
    at: &'a str,
    language: QueryLanguage,
}

impl Fields<'_> {
    fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.fields.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("{}/{key}: must be a string", self.at)),
        }
    }

    fn path_field(&self, key: &str) -> Result<Option<Path>, String> {
        match self.string(key)? {
            None => Ok(None),
            Some(text) => Path::parse(&text).map(Some).map_err(|e| format!("{}/{key}: {e}", self.at)),
        }
    }

    fn optional_path(&self, key: &str) -> Result<OptionalPath, String> {
        match self.fields.get(key) {
            None => Ok(OptionalPath::Whole),
            Some(Value::Null) => Ok(OptionalPath::Nothing),
            Some(_) => Ok(self.path_field(key)?.map_or(OptionalPath::Whole, OptionalPath::Path)),
        }
    }

    fn result_placement(&self, fields: &Map<String, Value>, at: &str) -> Result<ResultPlacement, String> {
        match fields.get("ResultPath") {
            None => Ok(ResultPlacement::Replace),
            Some(Value::Null) => Ok(ResultPlacement::Discard),
            Some(Value::String(text)) if text == "$" => Ok(ResultPlacement::Replace),
            Some(Value::String(text)) => ReferencePath::parse(text).map(ResultPlacement::At).map_err(|e| format!("{at}/ResultPath: {e}")),
            Some(_) => Err(format!("{at}/ResultPath: must be a string or null")),
        }
    }

    fn template(&self, key: &str) -> Result<Option<Template>, String> {
        match self.fields.get(key) {
            None => Ok(None),
            Some(value) => Template::compile(value).map(Some).map_err(|e| format!("{}/{key}: {e}", self.at)),
        }
    }

    fn jsonata(&self, value: Option<&Value>, at: &str) -> Result<Option<JsonataTemplate>, String> {
        match value {
            None => Ok(None),
            Some(value) => JsonataTemplate::compile(value).map(Some).map_err(|e| format!("{at}: {e}")),
        }
    }

    fn selector(&self, key: &str) -> Result<Option<ItemSelector>, String> {
        let Some(value) = self.fields.get(key) else { return Ok(None) };
        let at = format!("{}/{key}", self.at);
        Ok(Some(match self.language {
            QueryLanguage::JsonPath => ItemSelector::JsonPath(Template::compile(value).map_err(|e| format!("{at}: {e}"))?),
            QueryLanguage::Jsonata => ItemSelector::Jsonata(JsonataTemplate::compile(value).map_err(|e| format!("{at}: {e}"))?),
        }))
    }

    /// `Parameters` under JSONPath, `Arguments` under JSONata.
    fn arguments(&self) -> Result<Option<ItemSelector>, String> {
        self.selector(match self.language {
            QueryLanguage::JsonPath => "Parameters",
            QueryLanguage::Jsonata => "Arguments",
        })
    }

    fn selector_if_jsonpath(&self, key: &str) -> Result<Option<ItemSelector>, String> {
        match self.language {
            QueryLanguage::JsonPath => self.selector(key),
            QueryLanguage::Jsonata => Ok(None),
        }
    }

    fn assign(&self, value: Option<&Value>, at: &str) -> Result<Option<Assign>, String> {
        let Some(value) = value else { return Ok(None) };
        Ok(Some(match self.language {
            QueryLanguage::JsonPath => Assign::JsonPath(Template::compile(value).map_err(|e| format!("{at}: {e}"))?),
            QueryLanguage::Jsonata => Assign::Jsonata(JsonataTemplate::compile(value).map_err(|e| format!("{at}: {e}"))?),
        }))
    }

    /// A number-like field given literally, through its `...Path` twin, or (JSONata) as `{% %}`.
    fn dynamic(&self, literal: &'static str, path: &'static str) -> Result<Option<Dynamic>, String> {
        if let Some(value) = self.fields.get(literal) {
            if self.language == QueryLanguage::Jsonata && contains_expression(value) {
                let template = JsonataTemplate::compile(value).map_err(|e| format!("{}/{literal}: {e}", self.at))?;
                return Ok(Some(Dynamic::Jsonata { field: literal, template }));
            }
            return Ok(Some(Dynamic::Literal(value.clone())));
        }
        Ok(self.path_field(path)?.map(|parsed| Dynamic::Path { field: path, path: parsed }))
    }

    fn fail_field(&self, literal: &str, path: &str) -> Result<Option<FailField>, String> {
        if let Some(text) = self.string(literal)? {
            if self.language == QueryLanguage::Jsonata && jsonata::is_expression(&text) {
                let template = JsonataTemplate::compile(&Value::String(text)).map_err(|e| format!("{}/{literal}: {e}", self.at))?;
                return Ok(Some(FailField::Jsonata(template)));
            }
            return Ok(Some(FailField::Literal(text)));
        }
        let Some(text) = self.string(path)? else { return Ok(None) };
        if text.starts_with("States.") {
            return Intrinsic::parse(&text).map(|f| Some(FailField::Intrinsic(f))).map_err(|e| format!("{}/{path}: {e}", self.at));
        }
        Path::parse(&text).map(|p| Some(FailField::Path(p))).map_err(|e| format!("{}/{path}: {e}", self.at))
    }

    fn data_flow(&self) -> Result<DataFlow, String> {
        self.data_flow_without("")
    }

    fn data_flow_without(&self, ignored: &str) -> Result<DataFlow, String> {
        Ok(match self.language {
            QueryLanguage::JsonPath => DataFlow::JsonPath {
                input_path: self.optional_path("InputPath")?,
                parameters: if ignored == "Parameters" { None } else { self.template("Parameters")? },
                result_selector: self.template("ResultSelector")?,
                result_path: self.result_placement(self.fields, self.at)?,
                output_path: self.optional_path("OutputPath")?,
            },
            QueryLanguage::Jsonata => DataFlow::Jsonata {
                arguments: self.jsonata(self.fields.get("Arguments"), &format!("{}/Arguments", self.at))?,
                output: self.jsonata(self.fields.get("Output"), &format!("{}/Output", self.at))?,
            },
        })
    }

    fn retriers(&self) -> Result<Vec<Retrier>, String> {
        self.each("Retry", |retrier, at| {
            let number = |key: &str, default: f64| match retrier.get(key) {
                None => Ok(default),
                Some(value) => value.as_f64().ok_or_else(|| format!("{at}/{key}: must be a number")),
            };
            Ok(Retrier {
                error_equals: error_equals(retrier, &at)?,
                interval_seconds: number("IntervalSeconds", 1.0)?,
                max_attempts: number("MaxAttempts", 3.0)?.clamp(0.0, u32::MAX as f64) as u32,
                backoff_rate: number("BackoffRate", 2.0)?,
                max_delay_seconds: retrier.get("MaxDelaySeconds").and_then(Value::as_f64),
                full_jitter: retrier.get("JitterStrategy").and_then(Value::as_str) == Some("FULL"),
            })
        })
    }

    fn catchers(&self, resolver: &Resolver) -> Result<Vec<Catcher>, String> {
        self.each("Catch", |catcher, at| {
            Ok(Catcher {
                error_equals: error_equals(catcher, &at)?,
                next: resolver.target(catcher.get("Next"), &format!("{at}/Next"))?,
                result_path: self.result_placement(catcher, &at)?,
                output: self.jsonata(catcher.get("Output"), &format!("{at}/Output"))?,
                assign: self.assign(catcher.get("Assign"), &format!("{at}/Assign"))?,
            })
        })
    }

    fn each<T>(&self, key: &str, compile: impl Fn(&Map<String, Value>, String) -> Result<T, String>) -> Result<Vec<T>, String> {
        let Some(list) = self.fields.get(key) else { return Ok(Vec::new()) };
        let list = list.as_array().ok_or_else(|| format!("{}/{key}: must be an array", self.at))?;
        list.iter()
            .enumerate()
            .map(|(index, item)| {
                let at = format!("{}/{key}[{index}]", self.at);
                compile(as_object(item, &at)?, at)
            })
            .collect()
    }
}

fn contains_expression(value: &Value) -> bool {
    match value {
        Value::String(text) => jsonata::is_expression(text),
        Value::Array(items) => items.iter().any(contains_expression),
        Value::Object(fields) => fields.values().any(contains_expression),
        _ => false,
    }
}

fn reads_context(state: &Value) -> bool {
    fn walk(value: &Value) -> bool {
        match value {
            Value::String(text) => text.contains("$$") || text.contains("$states.context") || text.contains("$states"),
            Value::Array(items) => items.iter().any(walk),
            Value::Object(fields) => fields.iter().any(|(key, value)| key.contains("$$") || walk(value)),
            _ => false,
        }
    }
    walk(state)
}

fn error_equals(fields: &Map<String, Value>, at: &str) -> Result<Vec<String>, String> {
    fields
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .and_then(|names| names.iter().map(|name| name.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| format!("{at}/ErrorEquals: must be an array of error names"))
}

fn parse_language(value: &Value, at: &str) -> Result<QueryLanguage, String> {
    match value.as_str() {
        Some("JSONPath") => Ok(QueryLanguage::JsonPath),
        Some("JSONata") => Ok(QueryLanguage::Jsonata),
        _ => Err(format!("{at}: must be \"JSONPath\" or \"JSONata\"")),
    }
}

fn as_object<'v>(value: &'v Value, at: &str) -> Result<&'v Map<String, Value>, String> {
    value.as_object().ok_or_else(|| format!("{}: must be an object", if at.is_empty() { "/" } else { at }))
}
