//! Static checks of a definition, shaped like ValidateStateMachineDefinition's diagnostics.
//!
//! Codes, messages and locations follow what AWS answers: schema problems are
//! `SCHEMA_VALIDATION_FAILED` located at the object that holds the offending field (or at the field
//! itself when its value is wrong), transitions are checked per container (the machine, each
//! Parallel branch, each Map processor) and array elements are located as `Choices[0]`.
//! CreateStateMachine joins the same diagnostics into its InvalidDefinition message, see
//! [`invalid_definition_message`].

use crate::definition::QueryLanguage;
use crate::failure;
use crate::intrinsics::Intrinsic;
use crate::jsonata;
use crate::path::{Path, ReferencePath};
use jsonata_core::parser::ParserError;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt::{self, Write as _};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    /// A path into the definition, e.g. `/States/Greet/Parameters`; empty for problems of the whole
    /// document (not a JSON object, no terminal state), where AWS gives no location.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub location: String,
}

impl Diagnostic {
    fn error(code: &str, message: impl Into<String>, location: String) -> Self {
        Diagnostic { severity: Severity::Error, code: code.to_owned(), message: message.into(), location }
    }
}

/// As CreateStateMachine quotes a diagnostic: `CODE: message at /location` (`at null` without one).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = if self.location.is_empty() { "null" } else { &self.location };
        write!(f, "{}: {} at {location}", self.code, self.message)
    }
}

/// The diagnostic codes AWS documents for ValidateStateMachineDefinition, plus the JSONata and
/// variable codes its CreateStateMachine errors carry.
pub mod codes {
    pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
    pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
    pub const MISSING_END_STATE: &str = "MISSING_END_STATE";
    pub const DUPLICATE_STATE_NAME: &str = "DUPLICATE_STATE_NAME";
    pub const INVALID_STATE_NAME: &str = "INVALID_STATE_NAME";
    pub const INVALID_LABEL_NAME: &str = "INVALID_LABEL_NAME";
    pub const TOO_DEEPLY_NESTED: &str = "TOO_DEEPLY_NESTED";
    pub const INVALID_JSONATA_EXPRESSION: &str = "INVALID_JSONATA_EXPRESSION";
    pub const INVALID_VARIABLE_NAME: &str = "INVALID_VARIABLE_NAME";
    pub const RESERVED_VARIABLE_NAME: &str = "RESERVED_VARIABLE_NAME";
}

use codes::*;

/// Express machines refuse the `.sync` and `.waitForTaskToken` patterns and activities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateMachineType {
    #[default]
    Standard,
    Express,
}

/// Every problem found in a STANDARD machine; a definition with no `Error` diagnostic can be loaded
/// and run.
pub fn validate(definition: &Value) -> Vec<Diagnostic> {
    validate_for(definition, StateMachineType::Standard)
}

/// Every problem found, for a machine of the given type.
pub fn validate_for(definition: &Value, machine_type: StateMachineType) -> Vec<Diagnostic> {
    let mut validator = Validator {
        machine_type,
        machine_language: QueryLanguage::JsonPath,
        state_names: HashSet::new(),
        schema: Vec::new(),
        transitions: Vec::new(),
        names: Vec::new(),
    };
    validator.machine(definition);
    let Validator { schema, mut transitions, names, .. } = validator;
    // AWS checks the state graph only once the definition passes its schema.
    if !schema.is_empty() {
        return schema;
    }
    transitions.extend(names);
    transitions
}

/// CreateStateMachine's InvalidDefinition message for these diagnostics, or `None` when none is an
/// error. `definition_text` is the definition exactly as the caller sent it: AWS quotes it whole
/// when a Map `Label` is invalid.
pub fn invalid_definition_message(diagnostics: &[Diagnostic], definition_text: &str) -> Option<String> {
    let errors: Vec<&Diagnostic> =
        diagnostics.iter().filter(|diagnostic| diagnostic.severity == Severity::Error).collect();
    if errors.is_empty() {
        return None;
    }
    if let Some(label) = errors.iter().find(|diagnostic| diagnostic.code == INVALID_LABEL_NAME) {
        // AWS lets the Label check escape as a raw Python exception.
        return Some(format!(
            "Error=ValueError Args=[{}] in definition '{definition_text}'.",
            python_repr(&label.message)
        ));
    }
    let joined = errors.iter().map(|diagnostic| diagnostic.to_string()).collect::<Vec<_>>().join(", ");
    Some(format!("Invalid State Machine Definition: '{joined}'"))
}

/// Deeper nesting of states or of JSON values is refused rather than walked, which keeps the
/// recursion bounded whatever the host hands in (YAML has no depth limit of its own).
const MAX_DEPTH: usize = 128;
const MAX_STATE_NAME_CHARS: usize = 80;
const MAX_LABEL_CHARS: usize = 40;
const MAX_SECONDS: i64 = 99_999_999;
const MAX_RETRY_DELAY_SECONDS: i64 = 31_622_400;

// ---------------------------------------------------------------------------------------------
// Locations

/// Where a value sits in the definition, kept as a chain of borrowed steps so that walking costs
/// nothing; it is rendered to AWS's text form only when a diagnostic needs it.
#[derive(Clone, Copy)]
struct Location<'a> {
    parent: Option<&'a Location<'a>>,
    step: Step<'a>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    Field(&'a str),
    Index(usize),
}

impl<'a> Location<'a> {
    const ROOT: Location<'static> = Location { parent: None, step: Step::Root };

    fn field<'b>(&'b self, name: &'b str) -> Location<'b> {
        Location { parent: Some(self), step: Step::Field(name) }
    }

    fn index(&self, index: usize) -> Location<'_> {
        Location { parent: Some(self), step: Step::Index(index) }
    }

    fn render(&self) -> String {
        let mut steps = Vec::new();
        let mut current = Some(self);
        while let Some(location) = current {
            steps.push(location.step);
            current = location.parent;
        }
        let mut text = String::new();
        for step in steps.iter().rev() {
            match step {
                Step::Root => {}
                Step::Field(name) => {
                    text.push('/');
                    text.push_str(name);
                }
                Step::Index(index) => {
                    let _ = write!(text, "[{index}]");
                }
            }
        }
        if text.is_empty() {
            text.push('/');
        }
        text
    }
}

// ---------------------------------------------------------------------------------------------
// The language's vocabulary

/// The value of `QueryLanguage` that selects `language`.
fn language_name(language: QueryLanguage) -> &'static str {
    match language {
        QueryLanguage::JsonPath => "JSONPath",
        QueryLanguage::Jsonata => "JSONata",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateType {
    Task,
    Wait,
    Pass,
    Succeed,
    Fail,
    Choice,
    Parallel,
    Map,
}

impl StateType {
    fn parse(name: &str) -> Option<StateType> {
        Some(match name {
            "Task" => StateType::Task,
            "Wait" => StateType::Wait,
            "Pass" => StateType::Pass,
            "Succeed" => StateType::Succeed,
            "Fail" => StateType::Fail,
            "Choice" => StateType::Choice,
            "Parallel" => StateType::Parallel,
            "Map" => StateType::Map,
            _ => return None,
        })
    }

    /// The fields AWS accepts on this type besides `Type`, `Comment` and `QueryLanguage`.
    fn fields(self) -> &'static [&'static str] {
        match self {
            StateType::Pass => {
                &["InputPath", "OutputPath", "Result", "ResultPath", "Parameters", "Output", "Assign", "Next", "End"]
            }
            StateType::Task => &[
                "InputPath",
                "OutputPath",
                "ResultPath",
                "Parameters",
                "Arguments",
                "Output",
                "Assign",
                "Resource",
                "Credentials",
                "ResultSelector",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
                "HeartbeatSeconds",
                "HeartbeatSecondsPath",
                "Next",
                "End",
            ],
            StateType::Wait => &[
                "InputPath",
                "OutputPath",
                "Output",
                "Assign",
                "Seconds",
                "Timestamp",
                "SecondsPath",
                "TimestampPath",
                "Next",
                "End",
            ],
            StateType::Parallel => &[
                "InputPath",
                "OutputPath",
                "ResultPath",
                "Parameters",
                "Arguments",
                "Output",
                "Assign",
                "ResultSelector",
                "Retry",
                "Catch",
                "Branches",
                "Next",
                "End",
            ],
            StateType::Map => &[
                "InputPath",
                "OutputPath",
                "ResultPath",
                "Parameters",
                "Output",
                "Assign",
                "ResultSelector",
                "Retry",
                "Catch",
                "ItemProcessor",
                "Iterator",
                "ItemsPath",
                "Items",
                "ItemSelector",
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "MaxConcurrency",
                "MaxConcurrencyPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "Label",
                "Next",
                "End",
            ],
            StateType::Choice => &["InputPath", "OutputPath", "Output", "Assign", "Choices", "Default"],
            StateType::Succeed => &["InputPath", "OutputPath", "Output"],
            StateType::Fail => &["Error", "Cause", "ErrorPath", "CausePath"],
        }
    }

    /// Types that continue with `Next` or stop with `End`.
    fn transitions(self) -> bool {
        !matches!(self, StateType::Choice | StateType::Succeed | StateType::Fail)
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            StateType::Task => &["Resource"],
            StateType::Parallel => &["Branches"],
            StateType::Choice => &["Choices"],
            _ => &[],
        }
    }
}

const STATE_TYPE_NAMES: &str = "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]";
const STATE_COMMON_FIELDS: &[&str] = &["Type", "Comment", "QueryLanguage"];
const MACHINE_FIELDS: &[&str] = &["Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"];
const BRANCH_FIELDS: &[&str] = &["Comment", "StartAt", "States"];
const PROCESSOR_FIELDS: &[&str] = &["Comment", "StartAt", "States", "ProcessorConfig"];
const CONTAINER_REQUIRED: &[&str] = &["States", "StartAt"];
const RETRIER_FIELDS: &[&str] =
    &["ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"];
const CATCHER_FIELDS: &[&str] = &["ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"];
const WAIT_DURATIONS: &[&str] = &["SecondsPath", "Seconds", "TimestampPath", "Timestamp"];
const MAP_PROCESSORS: &[&str] = &["ItemProcessor", "Iterator"];
const NEXT_OR_END: &[&str] = &["Next", "End"];
/// Literal fields that a JSONata state may give as a `{% %}` expression instead.
const EXPRESSION_FIELDS: &[&str] = &[
    "Error",
    "Cause",
    "Timestamp",
    "Label",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Seconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];
/// A literal and its `...Path` twin may not both be set.
const EXCLUSIVE_PAIRS: &[[&str; 2]] = &[
    ["TimeoutSeconds", "TimeoutSecondsPath"],
    ["HeartbeatSeconds", "HeartbeatSecondsPath"],
    ["MaxConcurrency", "MaxConcurrencyPath"],
    ["ToleratedFailurePercentage", "ToleratedFailurePercentagePath"],
    ["ToleratedFailureCount", "ToleratedFailureCountPath"],
    ["Error", "ErrorPath"],
    ["Cause", "CausePath"],
];

/// The query language a field belongs to; `None` for fields of both.
fn field_language(field: &str) -> Option<QueryLanguage> {
    match field {
        "InputPath"
        | "OutputPath"
        | "ResultPath"
        | "Parameters"
        | "ResultSelector"
        | "Result"
        | "ItemsPath"
        | "TimeoutSecondsPath"
        | "HeartbeatSecondsPath"
        | "SecondsPath"
        | "TimestampPath"
        | "MaxConcurrencyPath"
        | "ToleratedFailurePercentagePath"
        | "ToleratedFailureCountPath"
        | "ErrorPath"
        | "CausePath"
        | "Variable"
        | "And"
        | "Or"
        | "Not" => Some(QueryLanguage::JsonPath),
        "Arguments" | "Output" | "Items" | "Condition" => Some(QueryLanguage::Jsonata),
        _ => ChoiceOperator::find(field).map(|_| QueryLanguage::JsonPath),
    }
}

/// What a Choice comparison operator compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    String,
    Number,
    Boolean,
    Timestamp,
    /// A path to the value to compare with (the `...Path` forms).
    Path,
}

struct ChoiceOperator;

impl ChoiceOperator {
    const ALL: &'static [(&'static str, Operand)] = &[
        ("StringEquals", Operand::String),
        ("StringEqualsPath", Operand::Path),
        ("StringLessThan", Operand::String),
        ("StringLessThanPath", Operand::Path),
        ("StringGreaterThan", Operand::String),
        ("StringGreaterThanPath", Operand::Path),
        ("StringLessThanEquals", Operand::String),
        ("StringLessThanEqualsPath", Operand::Path),
        ("StringGreaterThanEquals", Operand::String),
        ("StringGreaterThanEqualsPath", Operand::Path),
        ("StringMatches", Operand::String),
        ("NumericEquals", Operand::Number),
        ("NumericEqualsPath", Operand::Path),
        ("NumericLessThan", Operand::Number),
        ("NumericLessThanPath", Operand::Path),
        ("NumericGreaterThan", Operand::Number),
        ("NumericGreaterThanPath", Operand::Path),
        ("NumericLessThanEquals", Operand::Number),
        ("NumericLessThanEqualsPath", Operand::Path),
        ("NumericGreaterThanEquals", Operand::Number),
        ("NumericGreaterThanEqualsPath", Operand::Path),
        ("BooleanEquals", Operand::Boolean),
        ("BooleanEqualsPath", Operand::Path),
        ("TimestampEquals", Operand::Timestamp),
        ("TimestampEqualsPath", Operand::Path),
        ("TimestampLessThan", Operand::Timestamp),
        ("TimestampLessThanPath", Operand::Path),
        ("TimestampGreaterThan", Operand::Timestamp),
        ("TimestampGreaterThanPath", Operand::Path),
        ("TimestampLessThanEquals", Operand::Timestamp),
        ("TimestampLessThanEqualsPath", Operand::Path),
        ("TimestampGreaterThanEquals", Operand::Timestamp),
        ("TimestampGreaterThanEqualsPath", Operand::Path),
        ("IsNull", Operand::Boolean),
        ("IsPresent", Operand::Boolean),
        ("IsNumeric", Operand::Boolean),
        ("IsString", Operand::Boolean),
        ("IsBoolean", Operand::Boolean),
        ("IsTimestamp", Operand::Boolean),
    ];

    fn find(name: &str) -> Option<Operand> {
        Self::ALL.iter().find(|(operator, _)| *operator == name).map(|(_, operand)| *operand)
    }

    fn names() -> impl Iterator<Item = &'static str> {
        Self::ALL.iter().map(|(operator, _)| *operator)
    }
}

const RULE_COMBINATORS: &[&str] = &["And", "Or", "Not", "Variable"];

/// Optimized integrations (`arn:<partition>:states:::<service>:<action>`) with every integration
/// pattern each action offers. Services not listed (aws-sdk, and those whose API lists are long)
/// are accepted as written.
const OPTIMIZED_INTEGRATIONS: &[(&str, &[&str])] = &[
    ("lambda", &["invoke", "invoke.waitForTaskToken"]),
    ("dynamodb", &["getItem", "putItem", "updateItem", "deleteItem"]),
    ("sns", &["publish", "publish.waitForTaskToken"]),
    ("sqs", &["sendMessage", "sendMessage.waitForTaskToken"]),
    ("states", &["startExecution", "startExecution.sync", "startExecution.sync:2", "startExecution.waitForTaskToken"]),
    ("events", &["putEvents", "putEvents.waitForTaskToken"]),
    ("ecs", &["runTask", "runTask.sync", "runTask.waitForTaskToken"]),
    ("batch", &["submitJob", "submitJob.sync"]),
    ("glue", &["startJobRun", "startJobRun.sync"]),
    ("apigateway", &["invoke", "invoke.waitForTaskToken"]),
    (
        "athena",
        &[
            "startQueryExecution",
            "startQueryExecution.sync",
            "stopQueryExecution",
            "getQueryExecution",
            "getQueryResults",
        ],
    ),
    ("http", &["invoke"]),
];

// ---------------------------------------------------------------------------------------------
// The walk

struct Validator<'d> {
    machine_type: StateMachineType,
    /// States inherit the machine's language, not that of an enclosing Map or Parallel.
    machine_language: QueryLanguage,
    state_names: HashSet<&'d str>,
    /// Shape and value problems, in document order; when there are none, transition and then
    /// state-name findings are reported instead.
    schema: Vec<Diagnostic>,
    transitions: Vec<Diagnostic>,
    names: Vec<Diagnostic>,
}

impl<'d> Validator<'d> {
    fn report(&mut self, code: &str, message: impl Into<String>, at: &Location) {
        self.schema.push(Diagnostic::error(code, message, at.render()));
    }

    fn schema_error(&mut self, message: impl Into<String>, at: &Location) {
        self.report(SCHEMA_VALIDATION_FAILED, message, at);
    }

    fn machine(&mut self, definition: &'d Value) {
        let Some(fields) = definition.as_object() else {
            self.schema.push(Diagnostic::error(
                SCHEMA_VALIDATION_FAILED,
                "Definition must be a valid JSON object",
                String::new(),
            ));
            return;
        };
        let root = Location::ROOT;
        self.unsupported_fields(fields, MACHINE_FIELDS, &root);
        self.required_fields(fields, CONTAINER_REQUIRED, &root);
        if let Some(comment) = fields.get("Comment") {
            self.string(comment, &root.field("Comment"));
        }
        if let Some(version) = fields.get("Version") {
            self.one_of_values(version, &["1.0"], &root.field("Version"));
        }
        if let Some(timeout) = fields.get("TimeoutSeconds") {
            self.integer_in(timeout, &root.field("TimeoutSeconds"), 0, Some(MAX_SECONDS));
        }
        if let Some(language) = fields.get("QueryLanguage") {
            self.machine_language = self.query_language(language, &root.field("QueryLanguage"));
        }
        self.container_states(fields, &root, 0);
    }

    /// `StartAt` and `States` of the machine, a Parallel branch or a Map processor.
    fn container_states(&mut self, fields: &'d Map<String, Value>, at: &Location, depth: usize) {
        if depth >= MAX_DEPTH {
            self.report(TOO_DEEPLY_NESTED, "The states are too deeply nested", at);
            return;
        }
        let start_at = fields.get("StartAt").and_then(|start_at| self.string(start_at, &at.field("StartAt")));
        let Some(states) = fields.get("States") else { return };
        let states_at = at.field("States");
        let Some(states) = self.object(states, &states_at) else { return };
        for (name, state) in states {
            self.state(name, state, &states_at.field(name), depth);
        }
        self.check_transitions(start_at, states, at, depth > 0);
    }

    fn state(&mut self, name: &'d str, state: &'d Value, at: &Location, depth: usize) {
        if name.chars().count() > MAX_STATE_NAME_CHARS {
            self.names.push(Diagnostic::error(
                INVALID_STATE_NAME,
                format!("Invalid State name: State exceeds the {MAX_STATE_NAME_CHARS}-character limit allowed by the service"),
                at.render(),
            ));
        }
        if !self.state_names.insert(name) {
            self.names.push(Diagnostic::error(
                DUPLICATE_STATE_NAME,
                format!("Duplicate State name: {name}"),
                at.render(),
            ));
        }
        let Some(fields) = self.object(state, at) else { return };
        let Some(state_type) = self.state_type(fields, at) else { return };
        let language = self.state_language(fields, at);

        for (field, value) in fields {
            if STATE_COMMON_FIELDS.contains(&field.as_str()) {
                continue;
            }
            if !state_type.fields().contains(&field.as_str()) {
                self.schema_error(format!("Field '{field}' is not supported"), at);
            } else if self.language_allows(field, language, at) {
                self.state_field(field, value, language, &at.field(field), depth);
            }
        }
        if let Some(comment) = fields.get("Comment") {
            self.string(comment, &at.field("Comment"));
        }
        self.required_fields(fields, state_type.required(), at);
        if state_type.transitions() {
            self.exactly_one(fields, NEXT_OR_END, at);
        }
        match state_type {
            StateType::Wait => {
                self.exactly_one(fields, WAIT_DURATIONS, at);
            }
            StateType::Map => {
                self.exactly_one(fields, MAP_PROCESSORS, at);
            }
            StateType::Task => self.heartbeat_within_timeout(fields, at),
            _ => {}
        }
        for [literal, path] in EXCLUSIVE_PAIRS {
            if fields.contains_key(*literal) && fields.contains_key(*path) && field_language(path) == Some(language) {
                self.schema_error(
                    format!("There should only be one of the following fields: [{literal}, {path}]"),
                    &at.field(literal),
                );
            }
        }
    }

    fn state_type(&mut self, fields: &Map<String, Value>, at: &Location) -> Option<StateType> {
        let Some(type_name) = fields.get("Type") else {
            self.required_fields(fields, &["Type"], at);
            return None;
        };
        let state_type = type_name.as_str().and_then(StateType::parse);
        if state_type.is_none() {
            self.schema_error(
                format!("The field 'Type' should have one of these values: {STATE_TYPE_NAMES}"),
                &at.field("Type"),
            );
        }
        state_type
    }

    /// A state's own `QueryLanguage`, which may only narrow a JSONPath machine to JSONata.
    fn state_language(&mut self, fields: &Map<String, Value>, at: &Location) -> QueryLanguage {
        let Some(declared) = fields.get("QueryLanguage") else { return self.machine_language };
        let language = self.query_language(declared, &at.field("QueryLanguage"));
        if self.machine_language == QueryLanguage::Jsonata && language == QueryLanguage::JsonPath {
            self.schema_error("'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", at);
        }
        language
    }

    /// AWS reads only the exact `JSONPath` as JSONPath; anything else it reports and runs as JSONata.
    fn query_language(&mut self, value: &Value, at: &Location) -> QueryLanguage {
        if self.one_of_values(value, &["JSONPath", "JSONata"], at) == Some("JSONPath") {
            QueryLanguage::JsonPath
        } else {
            QueryLanguage::Jsonata
        }
    }

    /// False, with AWS's diagnostic at `holder`, when `field` belongs to the other query language.
    fn language_allows(&mut self, field: &str, language: QueryLanguage, holder: &Location) -> bool {
        match field_language(field) {
            Some(required) if required != language => {
                self.schema_error(
                    format!(
                        "The QueryLanguage is set to '{}', but field '{field}' is only supported for the '{}' QueryLanguage",
                        language_name(language),
                        language_name(required)
                    ),
                    holder,
                );
                false
            }
            _ => true,
        }
    }

    fn state_field(&mut self, field: &str, value: &'d Value, language: QueryLanguage, at: &Location, depth: usize) {
        if EXPRESSION_FIELDS.contains(&field) && self.expression_stands_in(value, language, at) {
            return;
        }
        match field {
            "Next" | "Default" | "Error" | "Cause" => {
                self.string(value, at);
            }
            "Resource" => {
                if let Some(resource) = self.string(value, at) {
                    self.resource(resource, at);
                }
            }
            "End" => {
                self.boolean(value, at);
            }
            "InputPath" | "OutputPath" => self.json_path(value, at, true),
            "ResultPath" => self.result_path(value, at),
            "ItemsPath" => self.json_path(value, at, false),
            "TimeoutSecondsPath"
            | "HeartbeatSecondsPath"
            | "SecondsPath"
            | "TimestampPath"
            | "MaxConcurrencyPath"
            | "ToleratedFailurePercentagePath"
            | "ToleratedFailureCountPath" => self.reference_path(value, at),
            "ErrorPath" | "CausePath" => self.path_or_intrinsic(value, at),
            "Parameters" | "ResultSelector" => self.payload_template(value, at, 0),
            "ItemSelector" => self.payload(value, language, at),
            "ItemReader" | "ItemBatcher" | "ResultWriter" | "Credentials" => self.configuration(value, language, at),
            "Arguments" | "Output" | "Items" => self.jsonata_value(value, at, 0),
            "Assign" => self.assign(value, language, at),
            "Result" => {}
            "Timestamp" => {
                if let Some(text) = self.string(value, at) {
                    self.timestamp(text, at);
                }
            }
            "Label" => {
                if let Some(text) = self.string(value, at) {
                    self.label(text, at);
                }
            }
            "TimeoutSeconds" | "HeartbeatSeconds" => self.integer_in(value, at, 1, Some(MAX_SECONDS)),
            "Seconds" => self.integer_in(value, at, 0, Some(MAX_SECONDS)),
            "MaxConcurrency" | "ToleratedFailureCount" => self.integer_in(value, at, 0, None),
            "ToleratedFailurePercentage" => self.decimal_in(value, at, 0.0, Some(100.0)),
            "Retry" => self.retriers(value, at),
            "Catch" => self.catchers(value, language, at),
            "Choices" => self.choices(value, language, at, depth),
            "Branches" => self.branches(value, at, depth),
            "ItemProcessor" | "Iterator" => self.processor(value, at, depth),
            _ => {}
        }
    }

    // -- Task, Wait, Map specifics ------------------------------------------------------------

    fn resource(&mut self, resource: &str, at: &Location) {
        let Some(after_partition) =
            resource.strip_prefix("arn:").and_then(|rest| rest.split_once(':')).map(|(_, rest)| rest)
        else {
            self.schema_error("Value is not a valid resource ARN", at);
            return;
        };
        if let Some(integration) = after_partition.strip_prefix("states:::") {
            self.integration(resource, integration, at);
        } else if self.machine_type == StateMachineType::Express && is_activity_arn(after_partition) {
            self.schema_error("Express state machine does not support Activity ARN", at);
        }
    }

    fn integration(&mut self, resource: &str, integration: &str, at: &Location) {
        if self.machine_type == StateMachineType::Express {
            if integration.ends_with(".sync") || integration.ends_with(".sync:2") {
                self.schema_error("Express state machine does not support '.sync' service integration", at);
                return;
            }
            if integration.ends_with(".waitForTaskToken") {
                // AWS's message really ends with a space.
                self.schema_error(
                    "Express state machine does not support '.waitForTaskToken' service integration ",
                    at,
                );
                return;
            }
        }
        let Some((service, action)) = integration.split_once(':') else { return };
        let known = OPTIMIZED_INTEGRATIONS.iter().find(|(name, _)| *name == service);
        if known.is_some_and(|(_, actions)| !actions.contains(&action)) {
            self.schema_error(
                format!(
                    "The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."
                ),
                at,
            );
        }
    }

    fn heartbeat_within_timeout(&mut self, fields: &Map<String, Value>, at: &Location) {
        let heartbeat = fields.get("HeartbeatSeconds").and_then(Value::as_i64);
        let timeout = fields.get("TimeoutSeconds").and_then(Value::as_i64);
        if let (Some(heartbeat), Some(timeout)) = (heartbeat, timeout) {
            if heartbeat >= timeout {
                self.schema_error(
                    "HeartbeatSeconds must be smaller than TimeoutSeconds",
                    &at.field("HeartbeatSeconds"),
                );
            }
        }
    }

    fn timestamp(&mut self, text: &str, at: &Location) {
        if !is_timestamp(text) {
            self.schema_error("String does not match RFC3339 timestamp", at);
        }
    }

    /// Map Run labels: AWS's checks, in AWS's words.
    fn label(&mut self, label: &str, at: &Location) {
        let message = if label.is_empty() {
            "Label cannot be empty".to_owned()
        } else if label.chars().count() > MAX_LABEL_CHARS {
            format!("Label cannot exceed {MAX_LABEL_CHARS} characters")
        } else if let Some(invalid) = label.chars().find(|&c| !is_label_char(c)) {
            format!("Label contains invalid character: {}", python_repr(&invalid.to_string()))
        } else {
            return;
        };
        self.report(INVALID_LABEL_NAME, message, at);
    }

    fn branches(&mut self, value: &'d Value, at: &Location, depth: usize) {
        let Some(branches) = self.non_empty_array(value, at) else { return };
        for (index, branch) in branches.iter().enumerate() {
            let branch_at = at.index(index);
            if let Some(fields) = self.object(branch, &branch_at) {
                self.unsupported_fields(fields, BRANCH_FIELDS, &branch_at);
                self.required_fields(fields, CONTAINER_REQUIRED, &branch_at);
                self.container_states(fields, &branch_at, depth + 1);
            }
        }
    }

    fn processor(&mut self, value: &'d Value, at: &Location, depth: usize) {
        let Some(fields) = self.object(value, at) else { return };
        self.unsupported_fields(fields, PROCESSOR_FIELDS, at);
        self.required_fields(fields, CONTAINER_REQUIRED, at);
        if let Some(config) = fields.get("ProcessorConfig") {
            self.processor_config(config, &at.field("ProcessorConfig"));
        }
        self.container_states(fields, at, depth + 1);
    }

    fn processor_config(&mut self, value: &Value, at: &Location) {
        let Some(fields) = self.object(value, at) else { return };
        self.unsupported_fields(fields, &["Mode", "ExecutionType"], at);
        let mode = match fields.get("Mode") {
            Some(mode) => self.one_of_values(mode, &["INLINE", "DISTRIBUTED"], &at.field("Mode")),
            None => Some("INLINE"),
        };
        if let Some(execution_type) = fields.get("ExecutionType") {
            self.one_of_values(execution_type, &["STANDARD", "EXPRESS"], &at.field("ExecutionType"));
        }
        match mode {
            Some("DISTRIBUTED") => self.required_fields(fields, &["ExecutionType"], at),
            Some("INLINE") if fields.contains_key("ExecutionType") => {
                self.schema_error("Field 'ExecutionType' is not supported", at)
            }
            _ => {}
        }
    }

    // -- Choice rules ---------------------------------------------------------------------------

    fn choices(&mut self, value: &Value, language: QueryLanguage, at: &Location, depth: usize) {
        let Some(rules) = self.non_empty_array(value, at) else { return };
        for (index, rule) in rules.iter().enumerate() {
            self.choice_rule(rule, language, &at.index(index), true, depth);
        }
    }

    fn choice_rule(&mut self, rule: &Value, language: QueryLanguage, at: &Location, top_level: bool, depth: usize) {
        if depth >= MAX_DEPTH {
            self.report(TOO_DEEPLY_NESTED, "The choice rule is too deeply nested", at);
            return;
        }
        let Some(fields) = self.object(rule, at) else { return };
        for (field, value) in fields {
            let shared = field == "Comment" || (top_level && (field == "Next" || field == "Assign"));
            let jsonpath_field = RULE_COMBINATORS.contains(&field.as_str()) || ChoiceOperator::find(field).is_some();
            let jsonata_field = field == "Condition" || (top_level && field == "Output");
            if !(shared || jsonpath_field || jsonata_field) {
                self.schema_error(format!("Field '{field}' is not supported"), at);
            } else if self.language_allows(field, language, at) {
                self.choice_rule_field(field, value, language, &at.field(field), depth);
            }
        }
        if top_level {
            self.required_fields(fields, &["Next"], at);
        }
        match language {
            QueryLanguage::Jsonata => self.required_fields(fields, &["Condition"], at),
            QueryLanguage::JsonPath => self.comparison(fields, at),
        }
    }

    fn choice_rule_field(&mut self, field: &str, value: &Value, language: QueryLanguage, at: &Location, depth: usize) {
        match field {
            "Comment" | "Next" => {
                self.string(value, at);
            }
            "Assign" => self.assign(value, language, at),
            "Output" => self.jsonata_value(value, at, 0),
            "Condition" => {
                if !self.expression_stands_in(value, language, at) {
                    self.boolean(value, at);
                }
            }
            "Variable" => self.rule_path(value, at),
            "And" | "Or" => {
                if let Some(rules) = self.non_empty_array(value, at) {
                    for (index, rule) in rules.iter().enumerate() {
                        self.choice_rule(rule, language, &at.index(index), false, depth + 1);
                    }
                }
            }
            "Not" => self.choice_rule(value, language, at, false, depth + 1),
            operator => match ChoiceOperator::find(operator) {
                Some(Operand::String) => {
                    self.string(value, at);
                }
                Some(Operand::Number) => self.number(value, at),
                Some(Operand::Boolean) => {
                    self.boolean(value, at);
                }
                Some(Operand::Timestamp) => {
                    if let Some(text) = self.string(value, at) {
                        self.timestamp(text, at);
                    }
                }
                Some(Operand::Path) => self.rule_path(value, at),
                None => {}
            },
        }
    }

    /// A JSONPath rule: exactly one of And / Or / Not / Variable, and a Variable with exactly one
    /// comparison.
    fn comparison(&mut self, fields: &Map<String, Value>, at: &Location) {
        if !self.exactly_one(fields, RULE_COMBINATORS, at) || !fields.contains_key("Variable") {
            return;
        }
        let operators = fields.keys().filter(|field| ChoiceOperator::find(field).is_some()).count();
        if operators != 1 {
            let names = ChoiceOperator::names().collect::<Vec<_>>().join(", ");
            let message = if operators == 0 {
                format!("This object should have only one of the following fields: [{names}]")
            } else {
                format!("There should only be one of the following fields: [{names}]")
            };
            self.schema_error(message, at);
        }
    }

    // -- Retry and Catch ------------------------------------------------------------------------

    fn retriers(&mut self, value: &Value, at: &Location) {
        let Some(retriers) = self.array(value, at) else { return };
        for (index, retrier) in retriers.iter().enumerate() {
            let retrier_at = at.index(index);
            let Some(fields) = self.object(retrier, &retrier_at) else { continue };
            self.unsupported_fields(fields, RETRIER_FIELDS, &retrier_at);
            self.required_fields(fields, &["ErrorEquals"], &retrier_at);
            let is_last = index + 1 == retriers.len();
            for (field, value) in fields {
                let field_at = retrier_at.field(field);
                match field.as_str() {
                    "ErrorEquals" => self.error_equals(value, &field_at, is_last),
                    "Comment" => {
                        self.string(value, &field_at);
                    }
                    "IntervalSeconds" => self.integer_in(value, &field_at, 0, Some(MAX_SECONDS)),
                    "MaxAttempts" => self.integer_in(value, &field_at, 0, Some(MAX_SECONDS)),
                    "MaxDelaySeconds" => self.integer_in(value, &field_at, 1, Some(MAX_RETRY_DELAY_SECONDS)),
                    "BackoffRate" => self.decimal_in(value, &field_at, 1.0, None),
                    "JitterStrategy" => {
                        self.one_of_values(value, &["NONE", "FULL"], &field_at);
                    }
                    _ => {}
                }
            }
        }
    }

    fn catchers(&mut self, value: &Value, language: QueryLanguage, at: &Location) {
        let Some(catchers) = self.array(value, at) else { return };
        for (index, catcher) in catchers.iter().enumerate() {
            let catcher_at = at.index(index);
            let Some(fields) = self.object(catcher, &catcher_at) else { continue };
            self.unsupported_fields(fields, CATCHER_FIELDS, &catcher_at);
            self.required_fields(fields, &["ErrorEquals", "Next"], &catcher_at);
            let is_last = index + 1 == catchers.len();
            for (field, value) in fields {
                if !CATCHER_FIELDS.contains(&field.as_str()) || !self.language_allows(field, language, &catcher_at) {
                    continue;
                }
                let field_at = catcher_at.field(field);
                match field.as_str() {
                    "ErrorEquals" => self.error_equals(value, &field_at, is_last),
                    "Next" | "Comment" => {
                        self.string(value, &field_at);
                    }
                    "ResultPath" => self.result_path(value, &field_at),
                    "Output" => self.jsonata_value(value, &field_at, 0),
                    "Assign" => self.assign(value, language, &field_at),
                    _ => {}
                }
            }
        }
    }

    /// Non-empty error names; `States.ALL` only alone, in the last retrier or catcher.
    fn error_equals(&mut self, value: &Value, at: &Location, is_last: bool) {
        let Some(names) = self.non_empty_array(value, at) else { return };
        for (index, name) in names.iter().enumerate() {
            self.string(name, &at.index(index));
        }
        let catches_all = names.iter().any(|name| name.as_str() == Some(failure::names::ALL));
        if catches_all && (names.len() > 1 || !is_last) {
            self.schema_error("States.ALL must appear alone and at end of list", at);
        }
    }

    // -- Paths, payload templates, JSONata ------------------------------------------------------

    fn json_path(&mut self, value: &Value, at: &Location, nullable: bool) {
        if value.is_null() && nullable {
            return;
        }
        if let Some(path) = self.string(value, at) {
            if !is_json_path(path) {
                self.schema_error("Value must be a valid JSONPath.", at);
            }
        }
    }

    fn result_path(&mut self, value: &Value, at: &Location) {
        if !value.is_null() {
            self.reference_path_with(value, at, is_result_path);
        }
    }

    fn reference_path(&mut self, value: &Value, at: &Location) {
        self.reference_path_with(value, at, is_reference_path);
    }

    fn reference_path_with(&mut self, value: &Value, at: &Location, is_valid: fn(&str) -> bool) {
        if let Some(path) = self.string(value, at) {
            if !is_valid(path) {
                self.schema_error("Value is not a Reference Path", at);
            }
        }
    }

    /// Choice `Variable` and the `...Path` operands: any readable path (input, context, variable).
    fn rule_path(&mut self, value: &Value, at: &Location) {
        if let Some(path) = self.string(value, at) {
            if !is_json_path(path) {
                self.schema_error("Value is not a Reference Path", at);
            }
        }
    }

    fn path_or_intrinsic(&mut self, value: &Value, at: &Location) {
        if let Some(text) = self.string(value, at) {
            if !is_json_path(text) && !is_intrinsic_call(text) {
                self.schema_error("Value must be a valid JSONPath.", at);
            }
        }
    }

    /// The payload of a field that takes a template in JSONPath states and JSONata in JSONata ones.
    fn payload(&mut self, value: &Value, language: QueryLanguage, at: &Location) {
        match language {
            QueryLanguage::JsonPath => self.payload_template(value, at, 0),
            QueryLanguage::Jsonata => self.jsonata_value(value, at, 0),
        }
    }

    /// Task Credentials and the Map reader, batcher and writer: objects holding a payload.
    fn configuration(&mut self, value: &Value, language: QueryLanguage, at: &Location) {
        if self.object(value, at).is_some() {
            self.payload(value, language, at);
        }
    }

    /// Keys ending in `.$` take a path or an intrinsic call; AWS locates a bad one at its object.
    fn payload_template(&mut self, value: &Value, at: &Location, depth: usize) {
        if depth >= MAX_DEPTH {
            self.report(TOO_DEEPLY_NESTED, "The payload template is too deeply nested", at);
            return;
        }
        match value {
            Value::Object(fields) => {
                for (key, field_value) in fields {
                    if key.ends_with(".$") {
                        self.dynamic_value(key, field_value, at);
                    } else {
                        self.payload_template(field_value, &at.field(key), depth + 1);
                    }
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.payload_template(item, &at.index(index), depth + 1);
                }
            }
            _ => {}
        }
    }

    fn dynamic_value(&mut self, key: &str, value: &Value, holder: &Location) {
        let valid = value.as_str().is_some_and(|text| is_json_path(text) || is_intrinsic_call(text));
        if !valid {
            self.schema_error(
                format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"),
                holder,
            );
        }
    }

    /// Every `{% %}` string inside a JSONata-mode value must compile.
    fn jsonata_value(&mut self, value: &Value, at: &Location, depth: usize) {
        if depth >= MAX_DEPTH {
            self.report(TOO_DEEPLY_NESTED, "The JSONata value is too deeply nested", at);
            return;
        }
        match value {
            Value::String(text) => {
                if let Some(problem) = jsonata_problem(text) {
                    self.report(INVALID_JSONATA_EXPRESSION, problem, at);
                }
            }
            Value::Object(fields) => {
                for (key, field_value) in fields {
                    self.jsonata_value(field_value, &at.field(key), depth + 1);
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.jsonata_value(item, &at.index(index), depth + 1);
                }
            }
            _ => {}
        }
    }

    /// True when `value` is a JSONata expression standing in for a literal (JSONata states only);
    /// the expression itself is checked.
    fn expression_stands_in(&mut self, value: &Value, language: QueryLanguage, at: &Location) -> bool {
        match value.as_str() {
            Some(text) if language == QueryLanguage::Jsonata && jsonata::is_expression(text) => {
                self.jsonata_value(value, at, 0);
                true
            }
            _ => false,
        }
    }

    fn assign(&mut self, value: &Value, language: QueryLanguage, at: &Location) {
        let Some(assignments) = self.object(value, at) else { return };
        for (key, assigned) in assignments {
            let (name, dynamic) = match key.strip_suffix(".$") {
                Some(name) if language == QueryLanguage::JsonPath => (name, true),
                _ => (key.as_str(), false),
            };
            if name == "states" {
                self.report(RESERVED_VARIABLE_NAME, "Cannot assign to reserved variable '$states'.", at);
            } else if !is_variable_name(name) {
                self.report(
                    INVALID_VARIABLE_NAME,
                    format!("Invalid variable name '{name}': the variable name contains invalid characters."),
                    at,
                );
            }
            match language {
                QueryLanguage::JsonPath if dynamic => self.dynamic_value(key, assigned, at),
                QueryLanguage::JsonPath => self.payload_template(assigned, &at.field(key), 1),
                QueryLanguage::Jsonata => self.jsonata_value(assigned, &at.field(key), 1),
            }
        }
    }

    // -- Shapes and values ----------------------------------------------------------------------

    fn unsupported_fields(&mut self, fields: &Map<String, Value>, allowed: &[&str], at: &Location) {
        for field in fields.keys() {
            if !allowed.contains(&field.as_str()) {
                self.schema_error(format!("Field '{field}' is not supported"), at);
            }
        }
    }

    fn required_fields(&mut self, fields: &Map<String, Value>, required: &[&str], at: &Location) {
        let missing: Vec<&str> = required.iter().copied().filter(|field| !fields.contains_key(*field)).collect();
        if !missing.is_empty() {
            self.schema_error(format!("These fields are required: [{}]", missing.join(", ")), at);
        }
    }

    /// False (after reporting) unless exactly one of `group` is present.
    fn exactly_one(&mut self, fields: &Map<String, Value>, group: &[&str], at: &Location) -> bool {
        let present = group.iter().filter(|field| fields.contains_key(**field)).count();
        let names = group.join(", ");
        match present {
            1 => return true,
            0 => self.schema_error(format!("This object should have only one of the following fields: [{names}]"), at),
            _ => self.schema_error(format!("There should only be one of the following fields: [{names}]"), at),
        }
        false
    }

    fn type_error(&mut self, expected: &str, at: &Location) {
        self.schema_error(format!("Expected value of type {expected}"), at);
    }

    fn string<'v>(&mut self, value: &'v Value, at: &Location) -> Option<&'v str> {
        let text = value.as_str();
        if text.is_none() {
            self.type_error("String", at);
        }
        text
    }

    fn number(&mut self, value: &Value, at: &Location) {
        if !value.is_number() {
            self.type_error("Number", at);
        }
    }

    fn boolean(&mut self, value: &Value, at: &Location) {
        if !value.is_boolean() {
            self.type_error("Boolean", at);
        }
    }

    fn object<'v>(&mut self, value: &'v Value, at: &Location) -> Option<&'v Map<String, Value>> {
        let fields = value.as_object();
        if fields.is_none() {
            self.type_error("Object", at);
        }
        fields
    }

    fn array<'v>(&mut self, value: &'v Value, at: &Location) -> Option<&'v Vec<Value>> {
        let items = value.as_array();
        if items.is_none() {
            self.type_error("Array", at);
        }
        items
    }

    fn non_empty_array<'v>(&mut self, value: &'v Value, at: &Location) -> Option<&'v Vec<Value>> {
        let items = self.array(value, at)?;
        if items.is_empty() {
            self.schema_error("Value cannot be empty", at);
            return None;
        }
        Some(items)
    }

    /// The value when it is one of `allowed`.
    fn one_of_values<'v>(&mut self, value: &'v Value, allowed: &[&str], at: &Location) -> Option<&'v str> {
        let text = self.string(value, at)?;
        if allowed.contains(&text) {
            Some(text)
        } else {
            self.schema_error(format!("Value should be one of the following: [{}]", allowed.join(", ")), at);
            None
        }
    }

    fn integer_in(&mut self, value: &Value, at: &Location, min: i64, max: Option<i64>) {
        let Some(number) = value.as_i64().map(i128::from).or_else(|| value.as_u64().map(i128::from)) else {
            self.type_error("Integer", at);
            return;
        };
        if number < i128::from(min) {
            self.schema_error(format!("Minimum value is {min}"), at);
        } else if let Some(max) = max.filter(|&max| number > i128::from(max)) {
            self.schema_error(format!("Maximum value is {max}"), at);
        }
    }

    fn decimal_in(&mut self, value: &Value, at: &Location, min: f64, max: Option<f64>) {
        let Some(number) = value.as_f64() else {
            self.type_error("Number", at);
            return;
        };
        if number < min {
            self.schema_error(format!("Minimum value is {min:.1}"), at);
        } else if let Some(max) = max.filter(|&max| number > max) {
            self.schema_error(format!("Maximum value is {max:.1}"), at);
        }
    }

    // -- Transitions ----------------------------------------------------------------------------

    /// Targets exist, some state ends the container and every state can be reached. A container
    /// without terminal state is reported alone: AWS skips the reachability walk then.
    fn check_transitions(&mut self, start_at: Option<&str>, states: &Map<String, Value>, at: &Location, nested: bool) {
        let states_at = at.field("States");
        if let Some(start) = start_at.filter(|start| !states.contains_key(*start)) {
            self.missing_target(start, at.field("StartAt").render());
        }
        for (name, state) in states {
            let state_at = states_at.field(name);
            for_each_transition(state, |target, site| {
                if !states.contains_key(target) {
                    self.missing_target(target, site.render(&state_at));
                }
            });
        }
        if !states.values().any(is_terminal) {
            let location = if nested { at.render() } else { String::new() };
            self.transitions.push(Diagnostic::error(MISSING_END_STATE, "Workflow has no terminal state", location));
            return;
        }
        let reachable = reachable_states(start_at, states);
        for name in states.keys().filter(|name| !reachable.contains(name.as_str())) {
            self.transitions.push(Diagnostic::error(
                MISSING_TRANSITION_TARGET,
                format!("State \"{name}\" is not reachable."),
                states_at.field(name).render(),
            ));
        }
    }

    fn missing_target(&mut self, target: &str, location: String) {
        self.transitions.push(Diagnostic::error(
            MISSING_TRANSITION_TARGET,
            format!("Missing 'Next' target: {target}"),
            location,
        ));
    }
}

/// Where a state names its successor.
#[derive(Clone, Copy)]
enum TransitionSite {
    Next,
    Default,
    Choice(usize),
    Catch(usize),
}

impl TransitionSite {
    fn render(self, state_at: &Location) -> String {
        match self {
            TransitionSite::Next => state_at.field("Next").render(),
            TransitionSite::Default => state_at.field("Default").render(),
            TransitionSite::Choice(index) => state_at.field("Choices").index(index).field("Next").render(),
            TransitionSite::Catch(index) => state_at.field("Catch").index(index).field("Next").render(),
        }
    }
}

fn for_each_transition<'v>(state: &'v Value, mut visit: impl FnMut(&'v str, TransitionSite)) {
    let target = |value: Option<&'v Value>| value.and_then(Value::as_str);
    if let Some(next) = target(state.get("Next")) {
        visit(next, TransitionSite::Next);
    }
    let entries = |field: &str| state.get(field).and_then(Value::as_array).into_iter().flatten().enumerate();
    for (index, rule) in entries("Choices") {
        if let Some(next) = target(rule.get("Next")) {
            visit(next, TransitionSite::Choice(index));
        }
    }
    if let Some(default) = target(state.get("Default")) {
        visit(default, TransitionSite::Default);
    }
    for (index, catcher) in entries("Catch") {
        if let Some(next) = target(catcher.get("Next")) {
            visit(next, TransitionSite::Catch(index));
        }
    }
}

fn is_terminal(state: &Value) -> bool {
    matches!(state.get("Type").and_then(Value::as_str), Some("Succeed" | "Fail"))
        || state.get("End").and_then(Value::as_bool) == Some(true)
}

fn reachable_states<'s>(start_at: Option<&'s str>, states: &'s Map<String, Value>) -> HashSet<&'s str> {
    let mut reachable = HashSet::new();
    let mut pending: Vec<&str> = start_at.filter(|start| states.contains_key(*start)).into_iter().collect();
    while let Some(name) = pending.pop() {
        if !reachable.insert(name) {
            continue;
        }
        if let Some(state) = states.get(name) {
            for_each_transition(state, |target, _| {
                if states.contains_key(target) && !reachable.contains(target) {
                    pending.push(target);
                }
            });
        }
    }
    reachable
}

// ---------------------------------------------------------------------------------------------
// Lexical checks

/// A path that reads: `$...` (input), `$$...` (context object) or `$name...` (variable).
fn is_json_path(text: &str) -> bool {
    Path::parse(text).is_ok()
}

/// ResultPath: a definite path into the state input.
fn is_result_path(text: &str) -> bool {
    ReferencePath::parse(text).is_ok()
}

/// The `...Path` fields of Task, Wait and Map: a definite path to one value, not in the context
/// object.
fn is_reference_path(text: &str) -> bool {
    !text.starts_with("$$") && Path::parse(text).is_ok_and(|path| path.is_definite())
}

fn is_intrinsic_call(text: &str) -> bool {
    Intrinsic::parse(text).is_ok()
}

/// The parser's complaint about a `{% %}` string, worded as AWS quotes it (jsonata-js's message
/// without its code); other strings are literals.
///
/// The expression is parsed here rather than through `JsonataTemplate::compile` because AWS
/// reports the bare parser message, at the string's own location.
fn jsonata_problem(text: &str) -> Option<String> {
    if !jsonata::is_expression(text) {
        return None;
    }
    let body = text.strip_prefix("{%")?.strip_suffix("%}")?;
    let error = jsonata_core::parser::parse(body.trim()).err()?;
    Some(jsonata_js_message(&error))
}

/// jsonata-js words token errors with the tokens' JSON text (`Expected "]", got ","`) where
/// jsonata-core names them (`Expected RightBracket, got Comma`).
fn jsonata_js_message(error: &ParserError) -> String {
    match error {
        ParserError::Expected { expected, .. } if expected == "parameter name" => {
            "Parameter of function definition must be a variable name (start with $)".to_owned()
        }
        ParserError::Expected { expected, found } if found == "Eof" => {
            format!("Expected {} before end of expression", token_json(expected))
        }
        ParserError::Expected { expected, found } => {
            format!("Expected {}, got {}", token_json(expected), token_json(found))
        }
        ParserError::UnexpectedToken(token) if is_token_name(token) && token != "Eof" => {
            format!("The symbol {} cannot be used as a unary operator", token_json(token))
        }
        ParserError::InvalidSyntax(detail) => {
            let detail = without_error_code(detail);
            match detail.strip_prefix("Syntax error: ").filter(|token| is_token_name(token)) {
                Some(token) => format!("Syntax error: {}", token_json(token)),
                None => detail.to_owned(),
            }
        }
        other => without_error_code(&other.to_string()).to_owned(),
    }
}

/// Whether jsonata-core's text is a token (`Comma`, `Identifier("a")`) rather than a sentence.
fn is_token_name(text: &str) -> bool {
    let name = text.split_once('(').map_or(text, |(name, _)| name);
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic())
}

/// A token as jsonata-js quotes it: `JSON.stringify` of its value.
fn token_json(token: &str) -> String {
    const SYMBOLS: &[(&str, &str)] = &[
        ("Plus", "+"),
        ("Minus", "-"),
        ("Star", "*"),
        ("StarStar", "**"),
        ("Slash", "/"),
        ("Percent", "%"),
        ("Equal", "="),
        ("NotEqual", "!="),
        ("LessThan", "<"),
        ("LessThanOrEqual", "<="),
        ("GreaterThan", ">"),
        ("GreaterThanOrEqual", ">="),
        ("And", "and"),
        ("Or", "or"),
        ("In", "in"),
        ("Ampersand", "&"),
        ("Dot", "."),
        ("DotDot", ".."),
        ("Question", "?"),
        ("QuestionQuestion", "??"),
        ("QuestionColon", "?:"),
        ("Colon", ":"),
        ("ColonEqual", ":="),
        ("TildeArrow", "~>"),
        ("LeftParen", "("),
        ("RightParen", ")"),
        ("LeftBracket", "["),
        ("RightBracket", "]"),
        ("LeftBrace", "{"),
        ("RightBrace", "}"),
        ("Comma", ","),
        ("Semicolon", ";"),
        ("Caret", "^"),
        ("Pipe", "|"),
        ("Hash", "#"),
        ("At", "@"),
        ("True", "true"),
        ("False", "false"),
        ("Null", "null"),
    ];
    if let Some((_, symbol)) = SYMBOLS.iter().find(|(name, _)| *name == token) {
        return Value::from(*symbol).to_string();
    }
    // Valued tokens print as `Name("value")` or `Number(1.0)`.
    let Some(value) = token.split_once('(').and_then(|(_, rest)| rest.strip_suffix(')')) else {
        return token.to_owned();
    };
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Number(number)) => match number.as_f64() {
            Some(float) if float.fract() == 0.0 && float.abs() < 1e15 => format!("{float:.0}"),
            _ => number.to_string(),
        },
        Ok(parsed) => parsed.to_string(),
        Err(_) => value.to_owned(),
    }
}

/// `S0207: Unexpected end of expression` without `S0207: `.
fn without_error_code(message: &str) -> &str {
    match message.split_once(": ") {
        Some((code, rest))
            if code.len() == 5
                && code.starts_with(|c: char| c.is_ascii_uppercase())
                && code.bytes().skip(1).all(|b| b.is_ascii_digit()) =>
        {
            rest
        }
        _ => message,
    }
}

fn is_timestamp(text: &str) -> bool {
    text.contains('T') && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

fn is_activity_arn(after_partition: &str) -> bool {
    let mut parts = after_partition.split(':');
    parts.next() == Some("states") && parts.nth(2) == Some("activity")
}

/// Letters, digits and underscores, not starting with a digit.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// AWS's naming rule for labels: no white space, brackets, wildcards, specials or control
/// characters.
fn is_label_char(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

/// Python's `repr` of a string, which AWS's Label errors quote.
fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut repr = String::with_capacity(text.len() + 2);
    repr.push(quote);
    for c in text.chars() {
        match c {
            '\\' => repr.push_str("\\\\"),
            '\n' => repr.push_str("\\n"),
            '\r' => repr.push_str("\\r"),
            '\t' => repr.push_str("\\t"),
            c if c == quote => {
                repr.push('\\');
                repr.push(c);
            }
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                let code = u32::from(c);
                let _ = match code {
                    0..=0xff => write!(repr, "\\x{code:02x}"),
                    0x100..=0xffff => write!(repr, "\\u{code:04x}"),
                    _ => write!(repr, "\\U{code:08x}"),
                };
            }
            c => repr.push(c),
        }
    }
    repr.push(quote);
    repr
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each diagnostic as CreateStateMachine quotes it.
    fn findings(definition: Value) -> Vec<String> {
        validate(&definition).iter().map(Diagnostic::to_string).collect()
    }

    fn express_findings(definition: Value) -> Vec<String> {
        validate_for(&definition, StateMachineType::Express).iter().map(Diagnostic::to_string).collect()
    }

    /// A one-state machine around `state`, named `A`.
    fn single(state: Value) -> Value {
        json!({"StartAt": "A", "States": {"A": state}})
    }

    fn single_jsonata(state: Value) -> Value {
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": state}})
    }

    #[test]
    fn accepts_a_minimal_machine() {
        assert!(findings(single(json!({"Type": "Pass", "End": true}))).is_empty());
    }

    #[test]
    fn accepts_every_state_type_used_well() {
        let definition = json!({
            "Comment": "all types",
            "Version": "1.0",
            "TimeoutSeconds": 0,
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "f", "Payload.$": "$", "Token.$": "$$.Task.Token"},
                    "ResultSelector": {"body.$": "States.StringToJson($.Payload)"},
                    "ResultPath": "$.result",
                    "TimeoutSeconds": 30,
                    "HeartbeatSeconds": 10,
                    "Retry": [
                        {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 0, "BackoffRate": 1.5},
                        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0, "JitterStrategy": "FULL"}
                    ],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
                    "Next": "Decide"
                },
                "Decide": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Pause"},
                        {"And": [{"Variable": "$.s", "IsPresent": true}, {"Not": {"Variable": "$.s", "StringEquals": "x"}}], "Next": "Fan"}
                    ],
                    "Default": "Done"
                },
                "Pause": {"Type": "Wait", "Timestamp": "2030-01-01T00:00:00Z", "Next": "Fan"},
                "Fan": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}],
                    "Next": "Each"
                },
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 2,
                    "ItemProcessor": {"StartAt": "M", "States": {"M": {"Type": "Succeed"}}},
                    "Next": "Done"
                },
                "Done": {"Type": "Succeed"},
                "Failed": {"Type": "Fail", "Error": "E", "Cause": "C"}
            }
        });
        assert_eq!(findings(definition), Vec::<String>::new());
    }

    #[test]
    fn a_definition_must_be_an_object() {
        let diagnostics = validate(&json!([1]));
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].message, "Definition must be a valid JSON object");
        assert_eq!(diagnostics[0].location, "");
    }

    #[test]
    fn reports_missing_top_level_fields_together() {
        assert_eq!(
            findings(json!({})),
            ["SCHEMA_VALIDATION_FAILED: These fields are required: [States, StartAt] at /"]
        );
        assert_eq!(
            findings(json!({"Comment": "x", "StartAt": "A"})),
            ["SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /"]
        );
    }

    #[test]
    fn rejects_unknown_top_level_fields() {
        let mut definition = single(json!({"Type": "Pass", "End": true}));
        definition["Coment"] = json!("typo");
        assert_eq!(findings(definition), ["SCHEMA_VALIDATION_FAILED: Field 'Coment' is not supported at /"]);
    }

    #[test]
    fn checks_top_level_value_types() {
        let mut definition = single(json!({"Type": "Pass", "End": true}));
        definition["Comment"] = json!(1);
        definition["Version"] = json!("2.0");
        definition["TimeoutSeconds"] = json!(-1);
        definition["QueryLanguage"] = json!("XPath");
        assert_eq!(
            findings(definition),
            [
                "SCHEMA_VALIDATION_FAILED: Expected value of type String at /Comment",
                "SCHEMA_VALIDATION_FAILED: Value should be one of the following: [1.0] at /Version",
                "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /TimeoutSeconds",
                "SCHEMA_VALIDATION_FAILED: Value should be one of the following: [JSONPath, JSONata] at /QueryLanguage",
            ]
        );
    }

    #[test]
    fn state_type_must_be_known() {
        assert_eq!(
            findings(single(json!({"Type": "Sleep", "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/A/Type"]
        );
        assert_eq!(
            findings(single(json!({"End": true}))),
            ["SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at /States/A"]
        );
    }

    #[test]
    fn a_state_must_be_an_object() {
        assert_eq!(
            findings(single(json!("Pass"))),
            ["SCHEMA_VALIDATION_FAILED: Expected value of type Object at /States/A"]
        );
    }

    #[test]
    fn fields_foreign_to_the_state_type_are_located_at_the_state() {
        assert_eq!(
            findings(single(json!({"Type": "Pass", "End": true, "TimeoutSeconds": 5, "Retry": []}))),
            [
                "SCHEMA_VALIDATION_FAILED: Field 'TimeoutSeconds' is not supported at /States/A",
                "SCHEMA_VALIDATION_FAILED: Field 'Retry' is not supported at /States/A",
            ]
        );
        assert_eq!(
            findings(single(json!({"Type": "Succeed", "Next": "A"}))),
            ["SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at /States/A"]
        );
    }

    #[test]
    fn jsonpath_fields_are_refused_in_jsonata_states() {
        assert_eq!(
            findings(single_jsonata(json!({"Type": "Pass", "End": true, "InputPath": "$.a", "Result": 1}))),
            [
                "SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for the 'JSONPath' QueryLanguage at /States/A",
                "SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONata', but field 'Result' is only supported for the 'JSONPath' QueryLanguage at /States/A",
            ]
        );
    }

    #[test]
    fn jsonata_fields_are_refused_in_jsonpath_states() {
        assert_eq!(
            findings(single(json!({"Type": "Pass", "End": true, "Output": 1}))),
            ["SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage at /States/A"]
        );
    }

    #[test]
    fn a_state_may_not_downgrade_a_jsonata_machine() {
        assert_eq!(
            findings(single_jsonata(json!({"Type": "Pass", "End": true, "QueryLanguage": "JSONPath"}))),
            ["SCHEMA_VALIDATION_FAILED: 'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine at /States/A"]
        );
    }

    #[test]
    fn nested_states_inherit_the_machine_language_not_the_map_language() {
        let definition = json!({
            "QueryLanguage": "JSONPath",
            "StartAt": "M",
            "States": {"M": {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Output": 1, "End": true}}
                },
                "End": true
            }}
        });
        assert_eq!(
            findings(definition),
            ["SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage at /States/M/ItemProcessor/States/P"]
        );
    }

    #[test]
    fn needs_exactly_one_of_next_and_end() {
        assert_eq!(
            findings(single(json!({"Type": "Pass"}))),
            ["SCHEMA_VALIDATION_FAILED: This object should have only one of the following fields: [Next, End] at /States/A"]
        );
        assert_eq!(
            findings(single(json!({"Type": "Pass", "Next": "A", "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [Next, End] at /States/A"]
        );
    }

    #[test]
    fn checks_field_value_types() {
        assert_eq!(
            findings(single(json!({"Type": "Pass", "End": "true", "Comment": 3}))),
            [
                "SCHEMA_VALIDATION_FAILED: Expected value of type Boolean at /States/A/End",
                "SCHEMA_VALIDATION_FAILED: Expected value of type String at /States/A/Comment",
            ]
        );
        assert_eq!(
            findings(single(json!({"Type": "Parallel", "Branches": {}, "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: Expected value of type Array at /States/A/Branches"]
        );
    }

    #[test]
    fn a_missing_next_target_is_reported_where_it_is_named() {
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"},
            "B": {"Type": "Succeed"}
        }});
        assert_eq!(
            findings(definition),
            [
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/A/Next",
                "MISSING_TRANSITION_TARGET: State \"B\" is not reachable. at /States/B",
            ]
        );
    }

    #[test]
    fn every_transition_site_is_checked() {
        let definition = json!({"StartAt": "Start", "States": {
            "Start": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f",
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Gone1"}], "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Gone2"}], "Default": "Gone3"},
            "Lost": {"Type": "Succeed"}
        }});
        assert_eq!(
            findings(definition),
            [
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone1 at /States/Start/Catch[0]/Next",
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone2 at /States/C/Choices[0]/Next",
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone3 at /States/C/Default",
                "MISSING_TRANSITION_TARGET: State \"Lost\" is not reachable. at /States/Lost",
            ]
        );
    }

    #[test]
    fn start_at_must_name_a_state() {
        let definition = json!({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}});
        assert_eq!(
            findings(definition),
            [
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /StartAt",
                "MISSING_TRANSITION_TARGET: State \"A\" is not reachable. at /States/A",
            ]
        );
    }

    #[test]
    fn a_machine_without_terminal_state_is_reported_alone() {
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"},
            "Island": {"Type": "Pass", "Next": "A"}
        }});
        let diagnostics = validate(&definition);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, MISSING_END_STATE);
        assert_eq!(diagnostics[0].message, "Workflow has no terminal state");
        assert_eq!(diagnostics[0].location, "");
    }

    #[test]
    fn the_graph_is_checked_only_once_the_schema_passes() {
        assert_eq!(
            findings(json!({"States": {"A": {"Type": "Pass", "End": true}}})),
            ["SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /"]
        );
    }

    #[test]
    fn nested_containers_are_checked_with_their_locations() {
        let definition = single(json!({
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}},
                {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Next": "Elsewhere"}, "B3": {"Type": "Succeed"}}}
            ],
            "End": true
        }));
        assert_eq!(
            findings(definition),
            [
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Elsewhere at /States/A/Branches[1]/States/B2/Next",
                "MISSING_TRANSITION_TARGET: State \"B3\" is not reachable. at /States/A/Branches[1]/States/B3",
            ]
        );
        let empty_branch = single(json!({"Type": "Parallel", "Branches": [{"States": {}}], "End": true}));
        assert_eq!(
            findings(empty_branch),
            ["SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /States/A/Branches[0]"]
        );
    }

    #[test]
    fn state_names_are_unique_across_the_machine() {
        let definition = single(json!({
            "Type": "Parallel",
            "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}],
            "End": true
        }));
        assert_eq!(
            findings(definition),
            ["DUPLICATE_STATE_NAME: Duplicate State name: A at /States/A/Branches[0]/States/A"]
        );
    }

    #[test]
    fn state_names_are_at_most_80_characters() {
        let name = "n".repeat(81);
        let definition = json!({"StartAt": name, "States": {name.clone(): {"Type": "Succeed"}}});
        assert_eq!(
            findings(definition),
            [format!("INVALID_STATE_NAME: Invalid State name: State exceeds the 80-character limit allowed by the service at /States/{name}")]
        );
    }

    #[test]
    fn input_and_output_paths_must_be_paths_or_null() {
        assert_eq!(
            findings(single(json!({"Type": "Pass", "InputPath": "input", "OutputPath": null, "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: Value must be a valid JSONPath. at /States/A/InputPath"]
        );
    }

    #[test]
    fn result_path_must_be_a_reference_path() {
        assert_eq!(
            findings(single(json!({"Type": "Pass", "ResultPath": "$$.Execution", "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: Value is not a Reference Path at /States/A/ResultPath"]
        );
        assert!(findings(single(json!({"Type": "Pass", "ResultPath": null, "End": true}))).is_empty());
    }

    #[test]
    fn dynamic_keys_need_a_path_or_intrinsic_and_are_located_at_their_object() {
        let definition = single(json!({
            "Type": "Pass",
            "Parameters": {"top.$": "plain", "nested": {"inner.$": 5}, "fine.$": "States.Array($.a)"},
            "End": true
        }));
        assert_eq!(
            findings(definition),
            [
                "SCHEMA_VALIDATION_FAILED: The value for the field 'top.$' must be a valid JSONPath or a valid intrinsic function call at /States/A/Parameters",
                "SCHEMA_VALIDATION_FAILED: The value for the field 'inner.$' must be a valid JSONPath or a valid intrinsic function call at /States/A/Parameters/nested",
            ]
        );
    }

    #[test]
    fn assigned_variable_names_are_checked() {
        let definition = single(json!({
            "Type": "Pass",
            "Assign": {"states": 1, "9lives": 2, "ok_name.$": "$.x", "bad.$": "x"},
            "End": true
        }));
        assert_eq!(
            findings(definition),
            [
                "RESERVED_VARIABLE_NAME: Cannot assign to reserved variable '$states'. at /States/A/Assign",
                "INVALID_VARIABLE_NAME: Invalid variable name '9lives': the variable name contains invalid characters. at /States/A/Assign",
                "SCHEMA_VALIDATION_FAILED: The value for the field 'bad.$' must be a valid JSONPath or a valid intrinsic function call at /States/A/Assign",
            ]
        );
    }

    fn choice(rules: Value) -> Value {
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": rules, "Default": "Done"},
            "Done": {"Type": "Succeed"}
        }})
    }

    #[test]
    fn choice_needs_non_empty_rules_with_next() {
        assert_eq!(
            findings(choice(json!([]))),
            ["SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/C/Choices"]
        );
        assert_eq!(
            findings(choice(json!([{"Variable": "$.a", "IsNull": true}]))),
            ["SCHEMA_VALIDATION_FAILED: These fields are required: [Next] at /States/C/Choices[0]"]
        );
    }

    #[test]
    fn nested_choice_rules_carry_no_next() {
        let rules = json!([{"Not": {"Variable": "$.a", "IsNull": true, "Next": "Done"}, "Next": "Done"}]);
        assert_eq!(
            findings(choice(rules)),
            ["SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at /States/C/Choices[0]/Not"]
        );
    }

    #[test]
    fn a_choice_rule_has_one_combinator_and_one_comparison() {
        let both = json!([{"Variable": "$.a", "And": [], "Next": "Done"}]);
        assert_eq!(
            findings(choice(both)),
            [
                "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/C/Choices[0]/And",
                "SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [And, Or, Not, Variable] at /States/C/Choices[0]",
            ]
        );
        let two = findings(choice(json!([{"Variable": "$.a", "IsNull": true, "IsString": true, "Next": "Done"}])));
        assert_eq!(two.len(), 1);
        assert!(two[0].starts_with("SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [StringEquals, StringEqualsPath,"));
        assert!(two[0].ends_with("IsTimestamp] at /States/C/Choices[0]"));
        let none = findings(choice(json!([{"Variable": "$.a", "Next": "Done"}])));
        assert!(none[0].starts_with(
            "SCHEMA_VALIDATION_FAILED: This object should have only one of the following fields: [StringEquals,"
        ));
    }

    #[test]
    fn choice_operands_have_the_operator_type() {
        let rules = json!([
            {"Variable": "$.a", "NumericEquals": "3", "Next": "Done"},
            {"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "Done"},
            {"Variable": "a", "StringEqualsPath": "$.b", "Next": "Done"}
        ]);
        assert_eq!(
            findings(choice(rules)),
            [
                "SCHEMA_VALIDATION_FAILED: Expected value of type Number at /States/C/Choices[0]/NumericEquals",
                "SCHEMA_VALIDATION_FAILED: String does not match RFC3339 timestamp at /States/C/Choices[1]/TimestampEquals",
                "SCHEMA_VALIDATION_FAILED: Value is not a Reference Path at /States/C/Choices[2]/Variable",
            ]
        );
    }

    #[test]
    fn jsonata_choice_rules_need_a_condition() {
        let definition = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [
                {"Next": "Done"},
                {"Variable": "$.a", "Condition": "{% $states.input.a %}", "Next": "Done"},
                {"Condition": true, "Output": "{% 1 %}", "Next": "Done"}
            ]},
            "Done": {"Type": "Succeed"}
        }});
        assert_eq!(
            findings(definition),
            [
                "SCHEMA_VALIDATION_FAILED: These fields are required: [Condition] at /States/C/Choices[0]",
                "SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONata', but field 'Variable' is only supported for the 'JSONPath' QueryLanguage at /States/C/Choices[1]",
            ]
        );
    }

    fn task(extra: Value) -> Value {
        let mut state =
            json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f", "End": true});
        if let (Some(state), Some(extra)) = (state.as_object_mut(), extra.as_object()) {
            state.extend(extra.clone());
        }
        single(state)
    }

    #[test]
    fn retriers_are_checked() {
        let definition = task(json!({"Retry": [
            {"ErrorEquals": []},
            {"ErrorEquals": ["States.ALL", "Other"], "MaxAttempts": -1, "BackoffRate": 0.5, "JitterStrategy": "SOME"},
            {"ErrorEquals": ["Late"], "MaxDelaySeconds": 0, "Extra": 1}
        ]}));
        assert_eq!(
            findings(definition),
            [
                "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/A/Retry[0]/ErrorEquals",
                "SCHEMA_VALIDATION_FAILED: States.ALL must appear alone and at end of list at /States/A/Retry[1]/ErrorEquals",
                "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /States/A/Retry[1]/MaxAttempts",
                "SCHEMA_VALIDATION_FAILED: Minimum value is 1.0 at /States/A/Retry[1]/BackoffRate",
                "SCHEMA_VALIDATION_FAILED: Value should be one of the following: [NONE, FULL] at /States/A/Retry[1]/JitterStrategy",
                "SCHEMA_VALIDATION_FAILED: Field 'Extra' is not supported at /States/A/Retry[2]",
                "SCHEMA_VALIDATION_FAILED: Minimum value is 1 at /States/A/Retry[2]/MaxDelaySeconds",
            ]
        );
    }

    #[test]
    fn states_all_must_be_in_the_last_catcher() {
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}, {"ErrorEquals": ["E"], "Next": "F"}, {}]},
            "F": {"Type": "Fail"}
        }});
        assert_eq!(
            findings(definition),
            [
                "SCHEMA_VALIDATION_FAILED: States.ALL must appear alone and at end of list at /States/A/Catch[0]/ErrorEquals",
                "SCHEMA_VALIDATION_FAILED: These fields are required: [ErrorEquals, Next] at /States/A/Catch[2]",
            ]
        );
    }

    #[test]
    fn wait_takes_exactly_one_duration() {
        assert_eq!(
            findings(single(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [SecondsPath, Seconds, TimestampPath, Timestamp] at /States/A"]
        );
        assert_eq!(
            findings(single(json!({"Type": "Wait", "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: This object should have only one of the following fields: [SecondsPath, Seconds, TimestampPath, Timestamp] at /States/A"]
        );
    }

    #[test]
    fn wait_values_are_checked() {
        assert_eq!(
            findings(single(json!({"Type": "Wait", "Seconds": -1, "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /States/A/Seconds"]
        );
        assert_eq!(
            findings(single(json!({"Type": "Wait", "Timestamp": "2030-01-01 00:00:00", "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: String does not match RFC3339 timestamp at /States/A/Timestamp"]
        );
        assert_eq!(
            findings(single(json!({"Type": "Wait", "SecondsPath": "$.a[*]", "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: Value is not a Reference Path at /States/A/SecondsPath"]
        );
    }

    #[test]
    fn jsonata_states_may_compute_literal_fields() {
        let definition = single_jsonata(json!({"Type": "Wait", "Seconds": "{% $states.input.delay %}", "End": true}));
        assert!(findings(definition).is_empty());
    }

    #[test]
    fn jsonata_expressions_are_located_at_their_value() {
        let definition =
            single_jsonata(json!({"Type": "Pass", "Output": {"v": "{%  %}", "w": "{% 1 %}"}, "End": true}));
        assert_eq!(
            findings(definition),
            ["INVALID_JSONATA_EXPRESSION: Unexpected end of expression at /States/A/Output/v"]
        );
    }

    #[test]
    fn jsonata_parse_errors_read_as_jsonata_js_words_them() {
        let problem = |expression: &str| {
            let definition =
                single_jsonata(json!({"Type": "Pass", "Output": format!("{{% {expression} %}}"), "End": true}));
            validate(&definition).into_iter().map(|diagnostic| diagnostic.message).collect::<Vec<_>>()
        };
        assert_eq!(problem("a[1,2)"), [r##"Expected "]", got ",""##]);
        assert_eq!(problem("[1,2"), [r#"Expected "]" before end of expression"#]);
        assert_eq!(problem(r#"{"a":}"#), [r#"The symbol "}" cannot be used as a unary operator"#]);
        assert_eq!(problem("a b"), [r#"Syntax error: "b""#]);
        assert_eq!(problem("1 +"), ["Unexpected end of expression"]);
        assert_eq!(problem(r#""open"#), ["String literal must be terminated by a matching quote"]);
        assert_eq!(
            problem("function(x){1}"),
            ["Parameter of function definition must be a variable name (start with $)"]
        );
    }

    #[test]
    fn jsonata_delimiters_must_wrap_the_whole_string() {
        let definition =
            single_jsonata(json!({"Type": "Pass", "Output": {"a": " {% 1 + %}", "b": "{% 1 + %} "}, "End": true}));
        assert!(findings(definition).is_empty());
    }

    #[test]
    fn intrinsic_string_literals_may_not_escape_double_quotes() {
        let definition = single(json!({
            "Type": "Pass",
            "Parameters": {"said.$": r#"States.Format('say \"{}\"', $.name)"#, "ok.$": r#"States.Format('a \'{}\'', $.name)"#},
            "End": true
        }));
        assert_eq!(
            findings(definition),
            ["SCHEMA_VALIDATION_FAILED: The value for the field 'said.$' must be a valid JSONPath or a valid intrinsic function call at /States/A/Parameters"]
        );
    }

    #[test]
    fn error_and_cause_paths_take_paths_or_intrinsics() {
        let definition =
            single(json!({"Type": "Fail", "ErrorPath": "$.error", "CausePath": "States.Format('{}', $.c)"}));
        assert!(findings(definition).is_empty());
        assert_eq!(
            findings(single(json!({"Type": "Fail", "CausePath": "cause", "Cause": "c"}))),
            [
                "SCHEMA_VALIDATION_FAILED: Value must be a valid JSONPath. at /States/A/CausePath",
                "SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [Cause, CausePath] at /States/A/Cause",
            ]
        );
    }

    #[test]
    fn task_resource_is_required_and_must_be_an_arn() {
        assert_eq!(
            findings(single(json!({"Type": "Task", "End": true}))),
            ["SCHEMA_VALIDATION_FAILED: These fields are required: [Resource] at /States/A"]
        );
        assert_eq!(
            findings(task(json!({"Resource": "my-function"}))),
            ["SCHEMA_VALIDATION_FAILED: Value is not a valid resource ARN at /States/A/Resource"]
        );
    }

    #[test]
    fn unknown_optimized_integrations_are_not_recognized() {
        assert_eq!(
            findings(task(json!({"Resource": "arn:aws:states:::dynamodb:scan"}))),
            ["SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::dynamodb:scan is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/A/Resource"]
        );
        assert!(findings(task(json!({"Resource": "arn:aws:states:::aws-sdk:dynamodb:scan"}))).is_empty());
        assert!(findings(task(json!({"Resource": "arn:aws:states:::ecs:runTask.sync"}))).is_empty());
    }

    #[test]
    fn express_machines_refuse_waiting_patterns() {
        assert_eq!(
            express_findings(task(json!({"Resource": "arn:aws:states:::states:startExecution.sync:2"}))),
            ["SCHEMA_VALIDATION_FAILED: Express state machine does not support '.sync' service integration at /States/A/Resource"]
        );
        assert_eq!(
            express_findings(task(json!({"Resource": "arn:aws:states:::sns:publish.waitForTaskToken"}))),
            ["SCHEMA_VALIDATION_FAILED: Express state machine does not support '.waitForTaskToken' service integration  at /States/A/Resource"]
        );
        assert_eq!(
            express_findings(task(json!({"Resource": "arn:aws:states:us-east-1:000000000000:activity:work"}))),
            ["SCHEMA_VALIDATION_FAILED: Express state machine does not support Activity ARN at /States/A/Resource"]
        );
        assert!(findings(task(json!({"Resource": "arn:aws:states:::sns:publish.waitForTaskToken"}))).is_empty());
    }

    #[test]
    fn task_timeouts_are_checked() {
        assert_eq!(
            findings(task(json!({"TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t", "HeartbeatSeconds": 10}))),
            [
                "SCHEMA_VALIDATION_FAILED: HeartbeatSeconds must be smaller than TimeoutSeconds at /States/A/HeartbeatSeconds",
                "SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [TimeoutSeconds, TimeoutSecondsPath] at /States/A/TimeoutSeconds",
            ]
        );
        assert_eq!(
            findings(task(json!({"TimeoutSeconds": 0, "HeartbeatSeconds": 1.5}))),
            [
                "SCHEMA_VALIDATION_FAILED: Minimum value is 1 at /States/A/TimeoutSeconds",
                "SCHEMA_VALIDATION_FAILED: Expected value of type Integer at /States/A/HeartbeatSeconds",
            ]
        );
    }

    fn map(extra: Value) -> Value {
        let mut state = json!({
            "Type": "Map",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true
        });
        if let (Some(state), Some(extra)) = (state.as_object_mut(), extra.as_object()) {
            state.extend(extra.clone());
        }
        json!({"StartAt": "M", "States": {"M": state}})
    }

    #[test]
    fn map_needs_one_processor() {
        let mut both = map(json!({}));
        both["States"]["M"]["Iterator"] = both["States"]["M"]["ItemProcessor"].clone();
        assert_eq!(
            findings(both),
            ["SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [ItemProcessor, Iterator] at /States/M"]
        );
        assert_eq!(
            findings(json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true}}})),
            ["SCHEMA_VALIDATION_FAILED: This object should have only one of the following fields: [ItemProcessor, Iterator] at /States/M"]
        );
    }

    #[test]
    fn map_limits_are_checked() {
        assert_eq!(
            findings(map(
                json!({"MaxConcurrency": -1, "ToleratedFailurePercentage": 100.5, "ToleratedFailureCount": "2"})
            )),
            [
                "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /States/M/MaxConcurrency",
                "SCHEMA_VALIDATION_FAILED: Maximum value is 100.0 at /States/M/ToleratedFailurePercentage",
                "SCHEMA_VALIDATION_FAILED: Expected value of type Integer at /States/M/ToleratedFailureCount",
            ]
        );
        assert!(findings(map(json!({"MaxConcurrency": 9_223_372_036_854_775_807_i64}))).is_empty());
    }

    #[test]
    fn distributed_maps_need_an_execution_type() {
        let mut definition = map(json!({}));
        definition["States"]["M"]["ItemProcessor"]["ProcessorConfig"] = json!({"Mode": "DISTRIBUTED"});
        assert_eq!(
            findings(definition.clone()),
            ["SCHEMA_VALIDATION_FAILED: These fields are required: [ExecutionType] at /States/M/ItemProcessor/ProcessorConfig"]
        );
        definition["States"]["M"]["ItemProcessor"]["ProcessorConfig"] =
            json!({"Mode": "INLINE", "ExecutionType": "EXPRESS"});
        assert_eq!(
            findings(definition),
            ["SCHEMA_VALIDATION_FAILED: Field 'ExecutionType' is not supported at /States/M/ItemProcessor/ProcessorConfig"]
        );
    }

    #[test]
    fn processors_take_no_query_language() {
        let mut definition = map(json!({}));
        definition["States"]["M"]["ItemProcessor"]["QueryLanguage"] = json!("JSONata");
        assert_eq!(
            findings(definition),
            ["SCHEMA_VALIDATION_FAILED: Field 'QueryLanguage' is not supported at /States/M/ItemProcessor"]
        );
    }

    #[test]
    fn map_labels_follow_the_naming_rules() {
        let label_findings = |label: &str| findings(map(json!({"Label": label})));
        assert_eq!(label_findings(""), ["INVALID_LABEL_NAME: Label cannot be empty at /States/M/Label"]);
        assert_eq!(
            label_findings(&"x".repeat(41)),
            ["INVALID_LABEL_NAME: Label cannot exceed 40 characters at /States/M/Label"]
        );
        assert_eq!(
            label_findings("a b"),
            ["INVALID_LABEL_NAME: Label contains invalid character: ' ' at /States/M/Label"]
        );
        assert_eq!(
            label_findings("a\u{85}"),
            ["INVALID_LABEL_NAME: Label contains invalid character: '\\x85' at /States/M/Label"]
        );
        assert!(label_findings("batch-1_ok").is_empty());
    }

    #[test]
    fn create_state_machine_joins_errors() {
        let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}});
        let diagnostics = validate(&definition);
        assert_eq!(
            invalid_definition_message(&diagnostics, "ignored").as_deref(),
            Some("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next, MISSING_END_STATE: Workflow has no terminal state at null'")
        );
        assert_eq!(invalid_definition_message(&validate(&single(json!({"Type": "Succeed"}))), "{}"), None);
    }

    #[test]
    fn create_state_machine_quotes_label_errors_as_aws_does() {
        let text = r#"{"StartAt": "M", ...}"#;
        let diagnostics = validate(&map(json!({"Label": "a\"b"})));
        assert_eq!(
            invalid_definition_message(&diagnostics, text).as_deref(),
            Some(
                r#"Error=ValueError Args=['Label contains invalid character: \'"\''] in definition '{"StartAt": "M", ...}'."#
            )
        );
    }

    #[test]
    fn python_repr_matches_python() {
        assert_eq!(python_repr("plain"), "'plain'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("'\""), "'\\'\"'");
        assert_eq!(python_repr("a\\b\n\u{1}\u{9f}"), "'a\\\\b\\n\\x01\\x9f'");
    }

    #[test]
    fn diagnostics_serialize_in_the_api_shape() {
        let diagnostics = validate(&json!({}));
        assert_eq!(
            serde_json::to_value(&diagnostics[0]).ok(),
            Some(
                json!({"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": "These fields are required: [States, StartAt]", "location": "/"})
            )
        );
        let unlocated = validate(&json!(null));
        assert_eq!(serde_json::to_value(&unlocated[0]).ok().and_then(|v| v.get("location").cloned()), None);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing() {
        let mut payload = json!("leaf");
        for _ in 0..(MAX_DEPTH + 10) {
            payload = json!({"k": payload});
        }
        let definition = single(json!({"Type": "Pass", "Parameters": payload, "End": true}));
        let found = findings(definition);
        assert_eq!(found.len(), 1);
        assert!(found[0]
            .starts_with("TOO_DEEPLY_NESTED: The payload template is too deeply nested at /States/A/Parameters/k/k"));

        let mut state = json!({"Type": "Pass", "End": true});
        for depth in 0..(MAX_DEPTH + 10) {
            let name = format!("S{depth}");
            state = json!({"Type": "Parallel", "Branches": [{"StartAt": name, "States": {name.clone(): state}}], "End": true});
        }
        let found = findings(single(state));
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("TOO_DEEPLY_NESTED: The states are too deeply nested at /States/A/Branches[0]"));
    }

    #[test]
    fn large_machines_validate_quickly() {
        let count = 20_000;
        let mut states = Map::new();
        for index in 0..count {
            let state = if index + 1 == count {
                json!({"Type": "Succeed"})
            } else {
                json!({"Type": "Pass", "Parameters": {"i": index, "v.$": "$.v"}, "Next": format!("S{}", index + 1)})
            };
            states.insert(format!("S{index}"), state);
        }
        let definition = json!({"StartAt": "S0", "States": states});
        let started = std::time::Instant::now();
        assert!(validate(&definition).is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
