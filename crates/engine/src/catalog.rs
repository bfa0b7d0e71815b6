//! State machines (with versions and aliases), activities and tags: the service's catalog,
//! kept in memory and persisted as store documents.
//!
//! Reads are answered from memory. A change is first made durable in the store and applied in
//! memory only once the store has acknowledged it, so no reader ever sees what a crash could
//! lose. Changes take one async writer lock from their checks to their acknowledgement, so that
//! two requests can never both pass a check (a free name, a revision id) and then both write.

use crate::ServiceError;
use asl::definition::StateMachine;
use asl::validate::{self, StateMachineType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use store::{Document, Store, StoreError, Write};
use tokio::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MachineType {
    Standard,
    Express,
}

impl MachineType {
    /// The API's spelling: `STANDARD` or `EXPRESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineType::Standard => "STANDARD",
            MachineType::Express => "EXPRESS",
        }
    }

    pub fn parse(text: &str) -> Option<MachineType> {
        match text {
            "STANDARD" => Some(MachineType::Standard),
            "EXPRESS" => Some(MachineType::Express),
            _ => None,
        }
    }

    fn validation_type(self) -> StateMachineType {
        match self {
            MachineType::Standard => StateMachineType::Standard,
            MachineType::Express => StateMachineType::Express,
        }
    }
}

/// What an execution runs: the state machine (through a version or alias if one was named) and
/// its definition at that revision.
#[derive(Debug, Clone)]
pub struct ResolvedMachine {
    pub state_machine_arn: String,
    pub name: String,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
    pub machine_type: MachineType,
    pub role_arn: String,
    pub definition: String,
    pub compiled: Arc<StateMachine>,
}

// ---------------------------------------------------------------------------------------------
// Names and ARNs

pub const MAX_NAME_CHARS: usize = 80;

/// AWS's rule for the names of state machines, activities and executions: 1 to 80 characters,
/// none of them white space, brackets, wildcards, `" # % \ ^ | ~ ` $ & , ; : /` or control and
/// non-characters.
pub fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&name.chars().count()) && !name.chars().any(is_forbidden_in_name)
}

fn is_forbidden_in_name(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '<' | '>' | '{' | '}' | '[' | ']' | '?' | '*' | '"' | '#' | '%' | '\\' | '^' | '|' | '~' | '`' | '$' | '&' | ',' | ';' | ':' | '/'
        )
        || matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' | '\u{10ffff}')
}

/// The pattern of alias names (CharacterRestrictedName): letters, digits, `_`, `-` and `.`, with at
/// least one that is not a digit, so that an alias ARN never reads as a version ARN.
pub const ALIAS_NAME_PATTERN: &str = r"^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$";

pub fn is_valid_alias_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (1..=MAX_NAME_CHARS).contains(&name.len()) && name.chars().all(allowed) && !name.chars().all(|c| c.is_ascii_digit())
}

/// The ARNs of one region and account: `arn:aws:states:REGION:ACCOUNT:KIND:NAME[:QUALIFIER]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    prefix: String,
}

/// What follows a state machine's name in its ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier<'a> {
    Unqualified,
    Version(u32),
    Alias(&'a str),
}

impl Arns {
    pub fn new(region: &str, account: &str) -> Arns {
        Arns { prefix: format!("arn:aws:states:{region}:{account}:") }
    }

    /// `arn:aws:states:REGION:ACCOUNT:`, what every ARN of this catalog starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn state_machine(&self, name: &str) -> String {
        format!("{}stateMachine:{name}", self.prefix)
    }

    pub fn activity(&self, name: &str) -> String {
        format!("{}activity:{name}", self.prefix)
    }

    fn alias(&self, name: &str, alias: &str) -> String {
        format!("{}stateMachine:{name}:{alias}", self.prefix)
    }

    fn machine_reference<'a>(&self, arn: &'a str) -> Option<(&'a str, Qualifier<'a>)> {
        let reference = arn.strip_prefix(self.prefix.as_str())?.strip_prefix("stateMachine:")?;
        let Some((name, qualifier)) = reference.split_once(':') else {
            return Some((reference, Qualifier::Unqualified));
        };
        let qualifier = if qualifier.bytes().all(|b| b.is_ascii_digit()) {
            Qualifier::Version(qualifier.parse().ok()?)
        } else if is_valid_alias_name(qualifier) {
            Qualifier::Alias(qualifier)
        } else {
            return None;
        };
        Some((name, qualifier))
    }

    fn unqualified_machine_name<'a>(&self, arn: &'a str) -> Option<&'a str> {
        match self.machine_reference(arn)? {
            (name, Qualifier::Unqualified) => Some(name),
            _ => None,
        }
    }

    fn activity_name<'a>(&self, arn: &'a str) -> Option<&'a str> {
        arn.strip_prefix(self.prefix.as_str())?.strip_prefix("activity:")
    }
}

// ---------------------------------------------------------------------------------------------
// Records: what the catalog keeps, persisted as JSON documents and shown through the API

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// In the API's shape; `level` defaults to OFF and `includeExecutionData` to false, as AWS
/// describes a machine created without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggingConfiguration {
    #[serde(default = "LoggingConfiguration::default_level")]
    pub level: String,
    #[serde(default)]
    pub include_execution_data: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<Value>,
}

impl LoggingConfiguration {
    fn default_level() -> String {
        "OFF".to_owned()
    }

    fn check(&self) -> Result<(), ServiceError> {
        let logs = self.level != "OFF";
        if self.destinations.len() > 1 || (logs && self.destinations.is_empty()) {
            return Err(ServiceError::new(
                "InvalidLoggingConfiguration",
                "Invalid Logging Configuration: Must specify exactly one Log Destination.",
            ));
        }
        Ok(())
    }
}

impl Default for LoggingConfiguration {
    fn default() -> Self {
        LoggingConfiguration { level: Self::default_level(), include_execution_data: false, destinations: Vec::new() }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracingConfiguration {
    #[serde(default)]
    pub enabled: bool,
}

/// A state machine's configuration at one revision; versions keep the revision they published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub revision_id: String,
    /// Verbatim, as the caller sent it: DescribeStateMachine answers it unchanged.
    pub definition: String,
    pub role_arn: String,
    pub logging: LoggingConfiguration,
    pub tracing: TracingConfiguration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Value>,
}

impl Revision {
    /// Whether two revisions configure the same machine, whatever their ids.
    fn same_configuration(&self, other: &Revision) -> bool {
        self.definition == other.definition
            && self.role_arn == other.role_arn
            && self.logging == other.logging
            && self.tracing == other.tracing
            && self.encryption == other.encryption
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MachineRecord {
    name: String,
    arn: String,
    machine_type: MachineType,
    creation_ms: i64,
    update_ms: i64,
    /// Version numbers are never reused, even after their version is deleted.
    next_version: u32,
    revision: Revision,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionRecord {
    machine_arn: String,
    number: u32,
    arn: String,
    creation_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    revision: Revision,
}

/// One entry of an alias's routing configuration, in the API's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub state_machine_version_arn: String,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    pub state_machine_arn: String,
    pub name: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub routing: Vec<Route>,
    pub creation_ms: i64,
    pub update_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub name: String,
    pub arn: String,
    pub creation_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Value>,
}

// ---------------------------------------------------------------------------------------------
// Requests and answers

/// CreateStateMachine's request, checked for its model constraints by the API.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStateMachine {
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    pub machine_type: MachineType,
    pub logging: LoggingConfiguration,
    pub tracing: TracingConfiguration,
    pub encryption: Option<Value>,
    pub tags: Vec<Tag>,
    pub publish: bool,
    pub version_description: Option<String>,
}

/// UpdateStateMachine's request: what is `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateMachineUpdate {
    pub definition: Option<String>,
    pub role_arn: Option<String>,
    pub logging: Option<LoggingConfiguration>,
    pub tracing: Option<TracingConfiguration>,
    pub encryption: Option<Value>,
    pub publish: bool,
    pub version_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreatedStateMachine {
    pub arn: String,
    pub creation_ms: i64,
    pub version_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpdatedStateMachine {
    pub update_ms: i64,
    pub revision_id: String,
    pub version_arn: Option<String>,
}

/// DescribeStateMachine's facts about a state machine or one of its versions.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineDescription {
    /// The ARN described: a version's own ARN for a version.
    pub arn: String,
    pub name: String,
    pub machine_type: MachineType,
    pub creation_ms: i64,
    pub update_ms: i64,
    pub revision: Revision,
    /// A version's description.
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineSummary {
    pub arn: String,
    pub name: String,
    pub machine_type: MachineType,
    pub creation_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionSummary {
    pub arn: String,
    pub creation_ms: i64,
}

// ---------------------------------------------------------------------------------------------
// Errors, worded as AWS words them

const MAX_VERSIONS: usize = 1000;
const MAX_TAGS: usize = 50;
/// The code the API answers with HTTP 500: the store failed.
pub const INTERNAL_FAILURE: &str = "InternalFailure";

fn state_machine_does_not_exist(arn: &str) -> ServiceError {
    ServiceError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
}

fn activity_does_not_exist(arn: &str) -> ServiceError {
    ServiceError::new("ActivityDoesNotExist", format!("Activity Does Not Exist: '{arn}'"))
}

/// ResourceNotFound, as AWS answers for an alias, version or tagged resource that does not exist.
pub fn resource_not_found(arn: &str) -> ServiceError {
    ServiceError::new("ResourceNotFound", format!("Resource not found: '{arn}'"))
}

fn invalid_name(name: &str) -> ServiceError {
    ServiceError::new("InvalidName", format!("Invalid Name: '{name}'"))
}

fn invalid_definition(detail: &str) -> ServiceError {
    ServiceError::new("InvalidDefinition", format!("Invalid State Machine Definition: '{detail}'"))
}

fn validation(message: impl Into<String>) -> ServiceError {
    ServiceError::new("ValidationException", message)
}

fn conflict(message: impl Into<String>) -> ServiceError {
    ServiceError::new("ConflictException", message)
}

fn store_failure(error: StoreError) -> ServiceError {
    ServiceError::new(INTERNAL_FAILURE, error.to_string())
}

fn bracketed<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    format!("[{}]", items.into_iter().map(|item| item.to_string()).collect::<Vec<_>>().join(", "))
}

// ---------------------------------------------------------------------------------------------
// Definitions

/// Checks a definition as CreateStateMachine does (strict JSON, then `asl::validate` for the
/// machine's type) and compiles it.
pub fn check_definition(text: &str, machine_type: MachineType) -> Result<Arc<StateMachine>, ServiceError> {
    let definition: Value = serde_json::from_str(text)
        .map_err(|error| invalid_definition(&format!("INVALID_JSON_DESCRIPTION: {}", json_syntax_message(text, &error))))?;
    let diagnostics = validate::validate_for(&definition, machine_type.validation_type());
    if let Some(message) = validate::invalid_definition_message(&diagnostics, text) {
        return Err(ServiceError::new("InvalidDefinition", message));
    }
    StateMachine::compile(&definition).map(Arc::new).map_err(|message| invalid_definition(&message))
}

const VALID_VALUES: &str = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";
/// Jackson cuts the tokens it quotes at this length.
const MAX_QUOTED_TOKEN_CHARS: usize = 256;

/// How AWS (Jackson) words a JSON syntax error, e.g. `Unrecognized token 'not': was expecting
/// (JSON String, Number, Array, Object or token 'null', 'true' or 'false')`. AWS quotes it in
/// InvalidDefinition and InvalidExecutionInput messages.
pub fn json_syntax_message(text: &str, error: &serde_json::Error) -> String {
    let reason = error.to_string();
    let reason = reason.split(" at line ").next().unwrap_or_default();
    let offset = byte_offset(text, error.line(), error.column());
    if error.classify() == serde_json::error::Category::Eof {
        return match reason {
            _ if text.trim().is_empty() => "No content to map due to end-of-input".to_owned(),
            "EOF while parsing an object" => "Unexpected end-of-input: expected close marker for Object".to_owned(),
            "EOF while parsing a list" => "Unexpected end-of-input: expected close marker for Array".to_owned(),
            "EOF while parsing a string" => "Unexpected end-of-input: was expecting closing quote for a string value".to_owned(),
            _ if text.trim_end().ends_with(is_identifier_char) => unrecognized_token(text, text.trim_end().len()),
            _ => "Unexpected end-of-input".to_owned(),
        };
    }
    let Some(found) = text.get(offset..).and_then(|rest| rest.chars().next()) else {
        return reason.to_owned();
    };
    let unexpected = |expectation: &str| format!("Unexpected character ({}): {expectation}", char_description(found));
    match reason {
        "expected ident" | "expected value" | "trailing characters" if is_identifier_char(found) => unrecognized_token(text, offset),
        "key must be a string" => unexpected("was expecting double-quote to start field name"),
        "trailing comma" if found == '}' => unexpected("was expecting double-quote to start field name"),
        "expected value" | "trailing comma" => unexpected(&format!("expected a valid value {VALID_VALUES}")),
        "expected `:`" => unexpected("was expecting a colon to separate field name and value"),
        "expected `,` or `}`" => unexpected("was expecting comma to separate Object entries"),
        "expected `,` or `]`" => unexpected("was expecting comma to separate Array entries"),
        "invalid escape" => format!("Unrecognized character escape {}", char_description(found)),
        _ if reason.starts_with("control character") => format!(
            "Illegal unquoted character ({}): has to be escaped using backslash to be included in string value",
            char_description(found)
        ),
        _ => reason.to_owned(),
    }
}

/// serde_json counts lines from 1 and bytes within the line from 1; the byte it points at is the
/// offending one.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    let offset = (line_start + column.saturating_sub(1)).min(text.len());
    (0..=offset).rev().find(|&index| text.is_char_boundary(index)).unwrap_or(0)
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Jackson quotes the whole word around the offending character.
fn unrecognized_token(text: &str, offset: usize) -> String {
    let start = text[..offset].rfind(|c: char| !is_identifier_char(c)).map_or(0, |index| index + 1);
    let mut token: String = text[start..].chars().take_while(|&c| is_identifier_char(c)).take(MAX_QUOTED_TOKEN_CHARS).collect();
    if text[start + token.len()..].starts_with(is_identifier_char) {
        token.push_str("...");
    }
    format!("Unrecognized token '{token}': was expecting {VALID_VALUES}")
}

fn char_description(c: char) -> String {
    let code = u32::from(c);
    if c.is_control() {
        format!("(CTRL-CHAR, code {code})")
    } else if code > 255 {
        format!("'{c}' (code {code} / 0x{code:x})")
    } else {
        format!("'{c}' (code {code})")
    }
}

// ---------------------------------------------------------------------------------------------
// The catalog

struct Machine {
    record: MachineRecord,
    compiled: Arc<StateMachine>,
    versions: BTreeMap<u32, Version>,
    aliases: BTreeMap<String, Alias>,
}

#[derive(Clone)]
struct Version {
    record: VersionRecord,
    compiled: Arc<StateMachine>,
}

#[derive(Default)]
struct Contents {
    /// By name.
    machines: BTreeMap<String, Machine>,
    /// By name.
    activities: BTreeMap<String, Activity>,
    /// By resource ARN, in the order the keys were first set.
    tags: HashMap<String, Vec<Tag>>,
}

mod kinds {
    pub const STATE_MACHINE: &str = "state-machine";
    pub const VERSION: &str = "state-machine-version";
    pub const ALIAS: &str = "state-machine-alias";
    pub const ACTIVITY: &str = "activity";
    pub const TAGS: &str = "tags";
}

/// One change of the catalog: written to the store, then applied in memory.
enum Change {
    /// Creates or replaces a machine's own record; its versions and aliases stay.
    PutMachine(MachineRecord, Arc<StateMachine>),
    /// Removes a machine with its versions, aliases and tags.
    DeleteMachine(String),
    PutVersion(String, Version),
    DeleteVersion(String, u32),
    PutAlias(String, Alias),
    DeleteAlias(String, String),
    PutActivity(Activity),
    /// Removes an activity with its tags.
    DeleteActivity(String),
    PutTags(String, Vec<Tag>),
}

fn put<T: Serialize>(kind: &str, key: &str, record: &T) -> Result<Write, ServiceError> {
    let body = serde_json::to_string(record).map_err(|error| ServiceError::new(INTERNAL_FAILURE, error.to_string()))?;
    Ok(Write::PutDocument(Document { kind: kind.to_owned(), key: key.to_owned(), body }))
}

fn delete(kind: &str, key: &str) -> Write {
    Write::DeleteDocument { kind: kind.to_owned(), key: key.to_owned() }
}

impl Change {
    /// The store writes of this change, against the contents before it.
    fn writes(&self, contents: &Contents) -> Result<Vec<Write>, ServiceError> {
        Ok(match self {
            Change::PutMachine(record, _) => vec![put(kinds::STATE_MACHINE, &record.arn, record)?],
            Change::DeleteMachine(name) => {
                let Some(machine) = contents.machines.get(name) else { return Ok(Vec::new()) };
                let arn = &machine.record.arn;
                let mut writes = vec![delete(kinds::STATE_MACHINE, arn), delete(kinds::TAGS, arn)];
                writes.extend(machine.versions.values().map(|version| delete(kinds::VERSION, &version.record.arn)));
                writes.extend(machine.aliases.values().map(|alias| delete(kinds::ALIAS, &alias.arn)));
                writes
            }
            Change::PutVersion(_, version) => vec![put(kinds::VERSION, &version.record.arn, &version.record)?],
            Change::DeleteVersion(name, number) => contents
                .machines
                .get(name)
                .and_then(|machine| machine.versions.get(number))
                .map(|version| delete(kinds::VERSION, &version.record.arn))
                .into_iter()
                .collect(),
            Change::PutAlias(_, alias) => vec![put(kinds::ALIAS, &alias.arn, alias)?],
            Change::DeleteAlias(name, alias) => contents
                .machines
                .get(name)
                .and_then(|machine| machine.aliases.get(alias))
                .map(|alias| delete(kinds::ALIAS, &alias.arn))
                .into_iter()
                .collect(),
            Change::PutActivity(activity) => vec![put(kinds::ACTIVITY, &activity.arn, activity)?],
            Change::DeleteActivity(name) => match contents.activities.get(name) {
                Some(activity) => vec![delete(kinds::ACTIVITY, &activity.arn), delete(kinds::TAGS, &activity.arn)],
                None => Vec::new(),
            },
            Change::PutTags(arn, tags) if tags.is_empty() => vec![delete(kinds::TAGS, arn)],
            Change::PutTags(arn, tags) => vec![put(kinds::TAGS, arn, tags)?],
        })
    }

    fn apply(self, contents: &mut Contents) {
        match self {
            Change::PutMachine(record, compiled) => match contents.machines.get_mut(&record.name) {
                Some(machine) => {
                    machine.record = record;
                    machine.compiled = compiled;
                }
                None => {
                    let machine = Machine { record, compiled, versions: BTreeMap::new(), aliases: BTreeMap::new() };
                    contents.machines.insert(machine.record.name.clone(), machine);
                }
            },
            Change::DeleteMachine(name) => {
                if let Some(machine) = contents.machines.remove(&name) {
                    contents.tags.remove(&machine.record.arn);
                }
            }
            Change::PutVersion(name, version) => {
                if let Some(machine) = contents.machines.get_mut(&name) {
                    machine.versions.insert(version.record.number, version);
                }
            }
            Change::DeleteVersion(name, number) => {
                if let Some(machine) = contents.machines.get_mut(&name) {
                    machine.versions.remove(&number);
                }
            }
            Change::PutAlias(name, alias) => {
                if let Some(machine) = contents.machines.get_mut(&name) {
                    machine.aliases.insert(alias.name.clone(), alias);
                }
            }
            Change::DeleteAlias(name, alias) => {
                if let Some(machine) = contents.machines.get_mut(&name) {
                    machine.aliases.remove(&alias);
                }
            }
            Change::PutActivity(activity) => {
                contents.activities.insert(activity.name.clone(), activity);
            }
            Change::DeleteActivity(name) => {
                if let Some(activity) = contents.activities.remove(&name) {
                    contents.tags.remove(&activity.arn);
                }
            }
            Change::PutTags(arn, tags) if tags.is_empty() => {
                contents.tags.remove(&arn);
            }
            Change::PutTags(arn, tags) => {
                contents.tags.insert(arn, tags);
            }
        }
    }
}

/// What publishing needs to know of a machine's newest version.
struct LatestVersion {
    arn: String,
    creation_ms: i64,
    revision_id: String,
}

impl LatestVersion {
    fn of(machine: &Machine) -> Option<LatestVersion> {
        machine.versions.values().next_back().map(|version| LatestVersion {
            arn: version.record.arn.clone(),
            creation_ms: version.record.creation_ms,
            revision_id: version.record.revision.revision_id.clone(),
        })
    }
}

/// A version to answer with: one just published (to be written) or the one that already holds
/// the machine's current revision.
struct Publication {
    arn: String,
    creation_ms: i64,
    new_version: Option<Version>,
}

pub struct Catalog {
    store: Arc<dyn Store>,
    arns: Arns,
    contents: RwLock<Contents>,
    writer: Mutex<()>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn new_revision_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn decode<T: serde::de::DeserializeOwned>(document: &Document) -> Result<T, StoreError> {
    serde_json::from_str(&document.body)
        .map_err(|error| StoreError(format!("the {} document '{}' cannot be read: {error}", document.kind, document.key)))
}

fn compile_stored(revision: &Revision, arn: &str) -> Result<Arc<StateMachine>, StoreError> {
    let definition: Value = serde_json::from_str(&revision.definition)
        .map_err(|error| StoreError(format!("the stored definition of '{arn}' is not JSON: {error}")))?;
    StateMachine::compile(&definition)
        .map(Arc::new)
        .map_err(|error| StoreError(format!("the stored definition of '{arn}' does not compile: {error}")))
}

impl Catalog {
    /// Loads the catalog of a region and account from the store.
    pub fn open(store: Arc<dyn Store>, region: &str, account: &str) -> Result<Catalog, StoreError> {
        let arns = Arns::new(region, account);
        let mut contents = Contents::default();
        for document in store.documents(kinds::STATE_MACHINE)? {
            let record: MachineRecord = decode(&document)?;
            let compiled = compile_stored(&record.revision, &record.arn)?;
            Change::PutMachine(record, compiled).apply(&mut contents);
        }
        for document in store.documents(kinds::VERSION)? {
            let record: VersionRecord = decode(&document)?;
            let compiled = compile_stored(&record.revision, &record.arn)?;
            if let Some(name) = arns.unqualified_machine_name(&record.machine_arn) {
                Change::PutVersion(name.to_owned(), Version { record, compiled }).apply(&mut contents);
            }
        }
        for document in store.documents(kinds::ALIAS)? {
            let alias: Alias = decode(&document)?;
            if let Some(name) = arns.unqualified_machine_name(&alias.state_machine_arn) {
                Change::PutAlias(name.to_owned(), alias).apply(&mut contents);
            }
        }
        for document in store.documents(kinds::ACTIVITY)? {
            Change::PutActivity(decode(&document)?).apply(&mut contents);
        }
        for document in store.documents(kinds::TAGS)? {
            Change::PutTags(document.key.clone(), decode(&document)?).apply(&mut contents);
        }
        Ok(Catalog { store, arns, contents: RwLock::new(contents), writer: Mutex::new(()) })
    }

    pub fn arns(&self) -> &Arns {
        &self.arns
    }

    fn read(&self) -> RwLockReadGuard<'_, Contents> {
        self.contents.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Contents> {
        self.contents.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the changes durable, then applies them. The caller holds the writer lock.
    async fn commit(&self, changes: Vec<Change>) -> Result<(), ServiceError> {
        let writes = {
            let contents = self.read();
            let mut writes = Vec::new();
            for change in &changes {
                writes.extend(change.writes(&contents)?);
            }
            writes
        };
        if !writes.is_empty() {
            // Should the requester go (its connection closed) while this waits, the change is
            // durable all the same but reaches the in-memory catalog only at the next start.
            store::commit(self.store.as_ref(), writes).await.map_err(store_failure)?;
        }
        let mut contents = self.write();
        for change in changes {
            change.apply(&mut contents);
        }
        Ok(())
    }

    // --- state machines ------------------------------------------------------------------

    pub async fn create_state_machine(&self, request: NewStateMachine) -> Result<CreatedStateMachine, ServiceError> {
        if request.version_description.is_some() && !request.publish {
            return Err(validation("Version description can only be set when publish is true"));
        }
        if !is_valid_name(&request.name) {
            return Err(invalid_name(&request.name));
        }
        request.logging.check()?;
        let compiled = check_definition(&request.definition, request.machine_type)?;
        let _writer = self.writer.lock().await;
        let arn = self.arns.state_machine(&request.name);
        let revision = Revision {
            revision_id: new_revision_id(),
            definition: request.definition,
            role_arn: request.role_arn,
            logging: request.logging,
            tracing: request.tracing,
            encryption: request.encryption,
        };
        if let Some(existing) = self.read().machines.get(&request.name) {
            // Idempotent when nothing that defines the machine differs; the role and tags of a
            // repeated request are ignored, as AWS does.
            let record = &existing.record;
            let identical = record.machine_type == request.machine_type
                && record.revision.definition == revision.definition
                && record.revision.logging == revision.logging
                && record.revision.tracing == revision.tracing;
            return match identical {
                true => Ok(CreatedStateMachine { arn, creation_ms: record.creation_ms, version_arn: None }),
                false => Err(ServiceError::new("StateMachineAlreadyExists", format!("State Machine Already Exists: '{arn}'"))),
            };
        }
        let now = now_ms();
        let mut record = MachineRecord {
            name: request.name,
            arn: arn.clone(),
            machine_type: request.machine_type,
            creation_ms: now,
            update_ms: now,
            next_version: 1,
            revision,
        };
        let publication =
            if request.publish { Some(publish(&mut record, &compiled, None, request.version_description, now)?) } else { None };
        let name = record.name.clone();
        let mut changes = vec![Change::PutMachine(record, compiled)];
        let version_arn = publication.map(|publication| {
            changes.extend(publication.new_version.map(|version| Change::PutVersion(name.clone(), version)));
            publication.arn
        });
        if !request.tags.is_empty() {
            changes.push(Change::PutTags(arn.clone(), merge_tags(Vec::new(), request.tags, &arn)?));
        }
        self.commit(changes).await?;
        Ok(CreatedStateMachine { arn, creation_ms: now, version_arn })
    }

    /// DescribeStateMachine: a state machine, or one of its versions.
    pub fn describe_state_machine(&self, arn: &str) -> Result<StateMachineDescription, ServiceError> {
        let contents = self.read();
        let not_found = || state_machine_does_not_exist(arn);
        let (name, qualifier) = self.arns.machine_reference(arn).ok_or_else(not_found)?;
        let machine = contents.machines.get(name).ok_or_else(not_found)?;
        match qualifier {
            Qualifier::Unqualified => Ok(describe_machine(machine)),
            Qualifier::Version(number) => machine.versions.get(&number).map(|version| describe_version(machine, version)).ok_or_else(not_found),
            Qualifier::Alias(_) => Err(not_found()),
        }
    }

    /// The state machine behind a state machine, version or alias ARN.
    pub fn state_machine_of(&self, arn: &str) -> Result<StateMachineSummary, ServiceError> {
        let contents = self.read();
        let not_found = || state_machine_does_not_exist(arn);
        let (name, qualifier) = self.arns.machine_reference(arn).ok_or_else(not_found)?;
        let machine = contents.machines.get(name).ok_or_else(not_found)?;
        let exists = match qualifier {
            Qualifier::Unqualified => true,
            Qualifier::Version(number) => machine.versions.contains_key(&number),
            Qualifier::Alias(alias) => machine.aliases.contains_key(alias),
        };
        exists.then(|| summarize(machine)).ok_or_else(not_found)
    }

    /// DescribeStateMachineForExecution: the version an execution ran, else its state machine.
    pub fn describe_for_execution(&self, state_machine_arn: &str, version_arn: Option<&str>) -> Result<StateMachineDescription, ServiceError> {
        match version_arn.map(|arn| self.describe_state_machine(arn)) {
            Some(Ok(version)) => Ok(version),
            _ => self.describe_state_machine(state_machine_arn),
        }
    }

    /// ListStateMachines, by name.
    pub fn list_state_machines(&self) -> Vec<StateMachineSummary> {
        self.read().machines.values().map(summarize).collect()
    }

    pub async fn update_state_machine(&self, arn: &str, update: StateMachineUpdate) -> Result<UpdatedStateMachine, ServiceError> {
        if update.version_description.is_some() && !update.publish {
            return Err(validation("Version description can only be set when publish is true"));
        }
        let _writer = self.writer.lock().await;
        let (mut record, mut compiled, latest) = {
            let contents = self.read();
            let machine = self
                .arns
                .unqualified_machine_name(arn)
                .and_then(|name| contents.machines.get(name))
                .ok_or_else(|| state_machine_does_not_exist(arn))?;
            (machine.record.clone(), machine.compiled.clone(), LatestVersion::of(machine))
        };
        let StateMachineUpdate { definition, role_arn, logging, tracing, encryption, publish: publishes, version_description } = update;
        if definition.is_none() && role_arn.is_none() && logging.is_none() && tracing.is_none() && encryption.is_none() {
            return Err(ServiceError::new(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
            ));
        }
        let mut revision = record.revision.clone();
        if let Some(definition) = definition {
            compiled = check_definition(&definition, record.machine_type)?;
            revision.definition = definition;
        }
        if let Some(logging) = logging {
            logging.check()?;
            revision.logging = logging;
        }
        revision.role_arn = role_arn.unwrap_or(revision.role_arn);
        revision.tracing = tracing.unwrap_or(revision.tracing);
        revision.encryption = encryption.or(revision.encryption);
        if !revision.same_configuration(&record.revision) {
            revision.revision_id = new_revision_id();
        }
        let now = now_ms();
        record.revision = revision;
        record.update_ms = now;
        let publication = if publishes { Some(publish(&mut record, &compiled, latest, version_description, now)?) } else { None };
        let name = record.name.clone();
        let revision_id = record.revision.revision_id.clone();
        let mut changes = vec![Change::PutMachine(record, compiled)];
        let version_arn = publication.map(|publication| {
            changes.extend(publication.new_version.map(|version| Change::PutVersion(name, version)));
            publication.arn
        });
        self.commit(changes).await?;
        Ok(UpdatedStateMachine { update_ms: now, revision_id, version_arn })
    }

    /// DeleteStateMachine, with its versions, aliases and tags; a machine that does not exist is
    /// no error. Executions keep running on the definitions they hold.
    pub async fn delete_state_machine(&self, arn: &str) -> Result<(), ServiceError> {
        let _writer = self.writer.lock().await;
        let Some(name) = self.arns.unqualified_machine_name(arn).filter(|name| self.read().machines.contains_key(*name)) else {
            return Ok(());
        };
        self.commit(vec![Change::DeleteMachine(name.to_owned())]).await
    }

    // --- versions ------------------------------------------------------------------------

    /// PublishStateMachineVersion: the current revision as a new version, or the version that
    /// already holds it. `revision_id`, when given, must be the current one.
    pub async fn publish_version(&self, arn: &str, revision_id: Option<&str>, description: Option<String>) -> Result<VersionSummary, ServiceError> {
        let _writer = self.writer.lock().await;
        let (mut record, compiled, latest) = {
            let contents = self.read();
            let machine = self
                .arns
                .unqualified_machine_name(arn)
                .and_then(|name| contents.machines.get(name))
                .ok_or_else(|| state_machine_does_not_exist(arn))?;
            (machine.record.clone(), machine.compiled.clone(), LatestVersion::of(machine))
        };
        if let Some(asked) = revision_id.filter(|asked| *asked != record.revision.revision_id) {
            return Err(conflict(format!(
                "Failed to publish the State Machine version for revision {asked}. The current State Machine revision is {}.",
                record.revision.revision_id
            )));
        }
        let publication = publish(&mut record, &compiled, latest, description, now_ms())?;
        if let Some(version) = publication.new_version {
            let name = record.name.clone();
            self.commit(vec![Change::PutMachine(record, compiled), Change::PutVersion(name, version)]).await?;
        }
        Ok(VersionSummary { arn: publication.arn, creation_ms: publication.creation_ms })
    }

    /// ListStateMachineVersions, newest first; none for a machine that does not exist.
    pub fn list_versions(&self, arn: &str) -> Vec<VersionSummary> {
        let contents = self.read();
        let Some(machine) = self.arns.unqualified_machine_name(arn).and_then(|name| contents.machines.get(name)) else {
            return Vec::new();
        };
        machine
            .versions
            .values()
            .rev()
            .map(|version| VersionSummary { arn: version.record.arn.clone(), creation_ms: version.record.creation_ms })
            .collect()
    }

    /// DeleteStateMachineVersion: refused while an alias routes to it; a version that does not
    /// exist is no error.
    pub async fn delete_version(&self, arn: &str) -> Result<(), ServiceError> {
        let _writer = self.writer.lock().await;
        let change = {
            let contents = self.read();
            let Some((name, Qualifier::Version(number))) = self.arns.machine_reference(arn) else {
                return Err(validation(format!("Invalid state machine version ARN: '{arn}'")));
            };
            let Some(machine) = contents.machines.get(name).filter(|machine| machine.versions.contains_key(&number)) else {
                return Ok(());
            };
            let routing_aliases: Vec<&str> = machine
                .aliases
                .values()
                .filter(|alias| alias.routing.iter().any(|route| route.state_machine_version_arn == arn))
                .map(|alias| alias.name.as_str())
                .collect();
            if !routing_aliases.is_empty() {
                return Err(conflict(format!(
                    "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: {}",
                    bracketed(routing_aliases)
                )));
            }
            Change::DeleteVersion(name.to_owned(), number)
        };
        self.commit(vec![change]).await
    }

    // --- aliases -------------------------------------------------------------------------

    /// CreateStateMachineAlias: idempotent while the description and routing are the same.
    pub async fn create_alias(&self, name: &str, description: Option<String>, routing: Vec<Route>) -> Result<Alias, ServiceError> {
        if !is_valid_alias_name(name) {
            return Err(validation(format!("Invalid alias name: '{name}'")));
        }
        let _writer = self.writer.lock().await;
        let (machine_name, alias) = {
            let contents = self.read();
            let machine = self.routed_machine(&contents, &routing)?;
            if let Some(existing) = machine.aliases.get(name) {
                return match existing.description == description && existing.routing == routing {
                    true => Ok(existing.clone()),
                    false => Err(conflict(
                        "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
                    )),
                };
            }
            let now = now_ms();
            let alias = Alias {
                state_machine_arn: machine.record.arn.clone(),
                name: name.to_owned(),
                arn: self.arns.alias(&machine.record.name, name),
                description,
                routing,
                creation_ms: now,
                update_ms: now,
            };
            (machine.record.name.clone(), alias)
        };
        self.commit(vec![Change::PutAlias(machine_name, alias.clone())]).await?;
        Ok(alias)
    }

    pub fn describe_alias(&self, arn: &str) -> Result<Alias, ServiceError> {
        let contents = self.read();
        match self.arns.machine_reference(arn) {
            Some((name, Qualifier::Alias(alias))) => contents.machines.get(name).and_then(|machine| machine.aliases.get(alias)).cloned(),
            _ => None,
        }
        .ok_or_else(|| resource_not_found(arn))
    }

    /// UpdateStateMachineAlias: the update date.
    pub async fn update_alias(&self, arn: &str, description: Option<String>, routing: Option<Vec<Route>>) -> Result<i64, ServiceError> {
        if description.is_none() && routing.is_none() {
            return Err(ServiceError::new(
                "MissingRequiredParameter",
                "Either the description or the RoutingConfiguration must be specified",
            ));
        }
        let _writer = self.writer.lock().await;
        let mut alias = self.describe_alias(arn)?;
        let machine_name = {
            let contents = self.read();
            let machine = self.arns.unqualified_machine_name(&alias.state_machine_arn).and_then(|name| contents.machines.get(name));
            let machine = machine.ok_or_else(|| resource_not_found(arn))?;
            if let Some(routing) = &routing {
                let routed = self.routed_machine(&contents, routing)?;
                if routed.record.arn != alias.state_machine_arn {
                    return Err(validation(format!(
                        "Routing configuration must contain state machine version ARNs of the alias's state machine. Received: {}",
                        bracketed(routing.iter().map(|route| &route.state_machine_version_arn))
                    )));
                }
            }
            machine.record.name.clone()
        };
        alias.description = description.or(alias.description);
        alias.routing = routing.unwrap_or(alias.routing);
        alias.update_ms = now_ms();
        let update_ms = alias.update_ms;
        self.commit(vec![Change::PutAlias(machine_name, alias)]).await?;
        Ok(update_ms)
    }

    /// DeleteStateMachineAlias; an alias that does not exist is no error.
    pub async fn delete_alias(&self, arn: &str) -> Result<(), ServiceError> {
        let _writer = self.writer.lock().await;
        let Ok(alias) = self.describe_alias(arn) else { return Ok(()) };
        let Some(machine_name) = self.arns.unqualified_machine_name(&alias.state_machine_arn) else { return Ok(()) };
        self.commit(vec![Change::DeleteAlias(machine_name.to_owned(), alias.name)]).await
    }

    /// ListStateMachineAliases of a state machine, or of the aliases routing to one version; by
    /// creation.
    pub fn list_aliases(&self, arn: &str) -> Result<Vec<Alias>, ServiceError> {
        let contents = self.read();
        let not_found = || state_machine_does_not_exist(arn);
        let (name, qualifier) = self.arns.machine_reference(arn).ok_or_else(not_found)?;
        let machine = contents.machines.get(name).ok_or_else(not_found)?;
        let mut aliases: Vec<Alias> = match qualifier {
            Qualifier::Unqualified => machine.aliases.values().cloned().collect(),
            Qualifier::Version(_) => machine
                .aliases
                .values()
                .filter(|alias| alias.routing.iter().any(|route| route.state_machine_version_arn == arn))
                .cloned()
                .collect(),
            Qualifier::Alias(_) => return Err(not_found()),
        };
        aliases.sort_by_key(|alias| alias.creation_ms);
        Ok(aliases)
    }

    /// The machine whose versions a routing configuration names: one or two distinct existing
    /// versions of the same machine, with weights summing to 100.
    fn routed_machine<'c>(&self, contents: &'c Contents, routing: &[Route]) -> Result<&'c Machine, ServiceError> {
        let arns = || bracketed(routing.iter().map(|route| &route.state_machine_version_arn));
        if routing.is_empty() || routing.len() > 2 {
            return Err(validation(format!("Routing configuration must name one or two versions. Received: {}", arns())));
        }
        if matches!(routing, [first, second] if first.state_machine_version_arn == second.state_machine_version_arn) {
            return Err(validation(format!("Routing configuration must contain distinct state machine version ARNs. Received: {}", arns())));
        }
        if routing.iter().map(|route| u64::from(route.weight)).sum::<u64>() != 100 {
            return Err(validation(format!(
                "Sum of routing configuration weights must equal 100. Received: {}",
                bracketed(routing.iter().map(|route| route.weight))
            )));
        }
        let mut routed: Option<&Machine> = None;
        for route in routing {
            let Some((name, Qualifier::Version(number))) = self.arns.machine_reference(&route.state_machine_version_arn) else {
                return Err(validation(format!("Routing configuration must contain state machine version ARNs. Received: {}", arns())));
            };
            let machine = contents
                .machines
                .get(name)
                .filter(|machine| machine.versions.contains_key(&number))
                .ok_or_else(|| resource_not_found(&route.state_machine_version_arn))?;
            if routed.is_some_and(|first| first.record.name != machine.record.name) {
                return Err(validation(format!(
                    "Routing configuration must contain versions of a single state machine. Received: {}",
                    arns()
                )));
            }
            routed = Some(machine);
        }
        routed.ok_or_else(|| validation("Routing configuration must not be empty"))
    }

    // --- executions' view ----------------------------------------------------------------

    /// Resolves a state machine, version (`...:stateMachine:NAME:3`) or alias
    /// (`...:stateMachine:NAME:ALIAS`, weighted routing) ARN for StartExecution.
    pub fn resolve(&self, arn: &str) -> Result<ResolvedMachine, ServiceError> {
        let contents = self.read();
        let not_found = || state_machine_does_not_exist(arn);
        let (name, qualifier) = self.arns.machine_reference(arn).ok_or_else(not_found)?;
        let machine = contents.machines.get(name).ok_or_else(not_found)?;
        let (version, alias_arn) = match qualifier {
            Qualifier::Unqualified => (None, None),
            Qualifier::Version(number) => (Some(machine.versions.get(&number).ok_or_else(not_found)?), None),
            Qualifier::Alias(alias) => {
                let alias = machine.aliases.get(alias).ok_or_else(not_found)?;
                let version = pick_route(&alias.routing)
                    .and_then(|route| self.arns.machine_reference(&route.state_machine_version_arn))
                    .and_then(|(_, qualifier)| match qualifier {
                        Qualifier::Version(number) => machine.versions.get(&number),
                        _ => None,
                    })
                    .ok_or_else(not_found)?;
                (Some(version), Some(alias.arn.clone()))
            }
        };
        let (revision, compiled) = match version {
            Some(version) => (&version.record.revision, &version.compiled),
            None => (&machine.record.revision, &machine.compiled),
        };
        Ok(ResolvedMachine {
            state_machine_arn: machine.record.arn.clone(),
            name: machine.record.name.clone(),
            version_arn: version.map(|version| version.record.arn.clone()),
            alias_arn,
            machine_type: machine.record.machine_type,
            role_arn: revision.role_arn.clone(),
            definition: revision.definition.clone(),
            compiled: compiled.clone(),
        })
    }

    // --- activities ----------------------------------------------------------------------

    /// CreateActivity: idempotent by name (a repeated request's tags are ignored, as AWS does).
    pub async fn create_activity(&self, name: &str, tags: Vec<Tag>, encryption: Option<Value>) -> Result<Activity, ServiceError> {
        if !is_valid_name(name) {
            return Err(invalid_name(name));
        }
        let _writer = self.writer.lock().await;
        if let Some(existing) = self.read().activities.get(name) {
            return Ok(existing.clone());
        }
        let activity = Activity { name: name.to_owned(), arn: self.arns.activity(name), creation_ms: now_ms(), encryption };
        let mut changes = vec![Change::PutActivity(activity.clone())];
        if !tags.is_empty() {
            changes.push(Change::PutTags(activity.arn.clone(), merge_tags(Vec::new(), tags, &activity.arn)?));
        }
        self.commit(changes).await?;
        Ok(activity)
    }

    pub fn describe_activity(&self, arn: &str) -> Result<Activity, ServiceError> {
        let contents = self.read();
        self.arns.activity_name(arn).and_then(|name| contents.activities.get(name)).cloned().ok_or_else(|| activity_does_not_exist(arn))
    }

    /// ListActivities, by name.
    pub fn list_activities(&self) -> Vec<Activity> {
        self.read().activities.values().cloned().collect()
    }

    /// DeleteActivity; an activity that does not exist is no error.
    pub async fn delete_activity(&self, arn: &str) -> Result<(), ServiceError> {
        let _writer = self.writer.lock().await;
        let Some(name) = self.arns.activity_name(arn).filter(|name| self.read().activities.contains_key(*name)) else {
            return Ok(());
        };
        self.commit(vec![Change::DeleteActivity(name.to_owned())]).await
    }

    /// Whether an activity exists (activity tasks are only scheduled for existing activities).
    pub fn activity_exists(&self, arn: &str) -> bool {
        self.arns.activity_name(arn).is_some_and(|name| self.read().activities.contains_key(name))
    }

    // --- tags ----------------------------------------------------------------------------

    fn tagged_resource_exists(&self, contents: &Contents, arn: &str) -> bool {
        self.arns.unqualified_machine_name(arn).is_some_and(|name| contents.machines.contains_key(name))
            || self.arns.activity_name(arn).is_some_and(|name| contents.activities.contains_key(name))
    }

    /// ListTagsForResource of a state machine or activity, in the order the keys were first set.
    pub fn tags(&self, arn: &str) -> Result<Vec<Tag>, ServiceError> {
        let contents = self.read();
        if !self.tagged_resource_exists(&contents, arn) {
            return Err(resource_not_found(arn));
        }
        Ok(contents.tags.get(arn).cloned().unwrap_or_default())
    }

    /// TagResource: sets the given keys, keeping the others.
    pub async fn tag_resource(&self, arn: &str, tags: Vec<Tag>) -> Result<(), ServiceError> {
        let _writer = self.writer.lock().await;
        let merged = merge_tags(self.tags(arn)?, tags, arn)?;
        self.commit(vec![Change::PutTags(arn.to_owned(), merged)]).await
    }

    /// UntagResource: removes the given keys.
    pub async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), ServiceError> {
        let _writer = self.writer.lock().await;
        let mut tags = self.tags(arn)?;
        tags.retain(|tag| !keys.contains(&tag.key));
        self.commit(vec![Change::PutTags(arn.to_owned(), tags)]).await
    }
}

fn summarize(machine: &Machine) -> StateMachineSummary {
    StateMachineSummary {
        arn: machine.record.arn.clone(),
        name: machine.record.name.clone(),
        machine_type: machine.record.machine_type,
        creation_ms: machine.record.creation_ms,
    }
}

fn describe_machine(machine: &Machine) -> StateMachineDescription {
    let record = &machine.record;
    StateMachineDescription {
        arn: record.arn.clone(),
        name: record.name.clone(),
        machine_type: record.machine_type,
        creation_ms: record.creation_ms,
        update_ms: record.update_ms,
        revision: record.revision.clone(),
        description: None,
    }
}

fn describe_version(machine: &Machine, version: &Version) -> StateMachineDescription {
    let record = &version.record;
    StateMachineDescription {
        arn: record.arn.clone(),
        name: machine.record.name.clone(),
        machine_type: machine.record.machine_type,
        creation_ms: record.creation_ms,
        update_ms: record.creation_ms,
        revision: record.revision.clone(),
        description: record.description.clone(),
    }
}

/// The version that publishing `record`'s current revision gives: the latest version when it
/// already holds that revision, else a new one (counted in `record.next_version`).
fn publish(
    record: &mut MachineRecord,
    compiled: &Arc<StateMachine>,
    latest: Option<LatestVersion>,
    description: Option<String>,
    now: i64,
) -> Result<Publication, ServiceError> {
    if let Some(latest) = latest.filter(|latest| latest.revision_id == record.revision.revision_id) {
        return Ok(Publication { arn: latest.arn, creation_ms: latest.creation_ms, new_version: None });
    }
    let number = record.next_version;
    if usize::try_from(number).unwrap_or(usize::MAX) > MAX_VERSIONS {
        return Err(ServiceError::new(
            "ServiceQuotaExceededException",
            format!("Failed to publish a new version: the state machine '{}' already had {MAX_VERSIONS} versions", record.arn),
        ));
    }
    record.next_version = number.saturating_add(1);
    let arn = format!("{}:{number}", record.arn);
    let version = Version {
        record: VersionRecord {
            machine_arn: record.arn.clone(),
            number,
            arn: arn.clone(),
            creation_ms: now,
            description,
            revision: record.revision.clone(),
        },
        compiled: compiled.clone(),
    };
    Ok(Publication { arn, creation_ms: now, new_version: Some(version) })
}

/// Sets `added` over `existing`: a key already there keeps its place and takes the new value.
fn merge_tags(mut existing: Vec<Tag>, added: Vec<Tag>, arn: &str) -> Result<Vec<Tag>, ServiceError> {
    for tag in added {
        match existing.iter_mut().find(|present| present.key == tag.key) {
            Some(present) => present.value = tag.value,
            None => existing.push(tag),
        }
    }
    if existing.len() > MAX_TAGS {
        return Err(ServiceError::new(
            "TooManyTags",
            format!("You've exceeded the number of tags allowed for a resource ({MAX_TAGS}): '{arn}'"),
        ));
    }
    Ok(existing)
}

/// Picks a route at random, each as likely as its weight (weights sum to 100).
fn pick_route(routing: &[Route]) -> Option<&Route> {
    let mut ticket = fastrand::u32(0..100);
    let picked = routing.iter().find(|route| {
        let hit = ticket < route.weight;
        ticket = ticket.saturating_sub(route.weight);
        hit
    });
    picked.or(routing.last())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use store::{Acknowledge, ExecutionRecord};

    /// The memory store, whose batches all fail while `failing` is set.
    #[derive(Default)]
    struct MemoryStore {
        inner: store::MemoryStore,
        failing: AtomicBool,
    }

    impl Store for MemoryStore {
        fn submit(&self, writes: Vec<Write>, done: Acknowledge) {
            if self.failing.load(Ordering::SeqCst) {
                return done(Err(StoreError("disk full".to_owned())));
            }
            self.inner.submit(writes, done)
        }

        fn documents(&self, kind: &str) -> Result<Vec<Document>, StoreError> {
            self.inner.documents(kind)
        }

        fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
            self.inner.execution(arn)
        }

        fn executions(&self, state_machine_arn: Option<&str>, status: Option<&str>) -> Result<Vec<ExecutionRecord>, StoreError> {
            self.inner.executions(state_machine_arn, status)
        }

        fn executions_after(&self, state_machine_arn: &str, after: Option<store::ExecutionPosition>, limit: usize) -> Result<Vec<(store::ExecutionPosition, ExecutionRecord)>, StoreError> {
            self.inner.executions_after(state_machine_arn, after, limit)
        }

        fn open_executions(&self) -> Result<Vec<(ExecutionRecord, Vec<String>)>, StoreError> {
            self.inner.open_executions()
        }

        fn inputs(&self, arn: &str) -> Result<Vec<String>, StoreError> {
            self.inner.inputs(arn)
        }

        fn history(&self, arn: &str) -> Result<Vec<String>, StoreError> {
            self.inner.history(arn)
        }

        fn closed_before(&self, before_ms: i64) -> Result<Vec<String>, StoreError> {
            self.inner.closed_before(before_ms)
        }
    }

    const PASS: &str = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
    const PASS_RESULT: &str = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 2, "End": true}}}"#;
    const ROLE: &str = "arn:aws:iam::123456789012:role/test";
    const PREFIX: &str = "arn:aws:states:us-east-1:000000000000:";

    fn open(store: &Arc<MemoryStore>) -> Catalog {
        Catalog::open(store.clone(), "us-east-1", "000000000000").unwrap()
    }

    fn catalog() -> (Arc<MemoryStore>, Catalog) {
        let store = Arc::new(MemoryStore::default());
        let catalog = open(&store);
        (store, catalog)
    }

    fn machine(name: &str, definition: &str) -> NewStateMachine {
        NewStateMachine {
            name: name.to_owned(),
            definition: definition.to_owned(),
            role_arn: ROLE.to_owned(),
            machine_type: MachineType::Standard,
            logging: LoggingConfiguration::default(),
            tracing: TracingConfiguration::default(),
            encryption: None,
            tags: Vec::new(),
            publish: false,
            version_description: None,
        }
    }

    fn tag(key: &str, value: &str) -> Tag {
        Tag { key: key.to_owned(), value: value.to_owned() }
    }

    fn route(arn: &str, weight: u32) -> Route {
        Route { state_machine_version_arn: arn.to_owned(), weight }
    }

    fn failure<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> (&'static str, String) {
        let error = result.unwrap_err();
        (error.code, error.message)
    }

    #[tokio::test]
    async fn a_created_machine_is_described_with_its_definition_verbatim() {
        let (_, catalog) = catalog();
        let definition = "{\n  \"StartAt\": \"P\",\n  \"States\": {\"P\": {\"Type\": \"Pass\", \"End\": true}}\n}";
        let created = catalog.create_state_machine(machine("hello", definition)).await.unwrap();
        assert_eq!(created.arn, format!("{PREFIX}stateMachine:hello"));
        assert_eq!(created.version_arn, None);
        let described = catalog.describe_state_machine(&created.arn).unwrap();
        assert_eq!(described.name, "hello");
        assert_eq!(described.revision.definition, definition);
        assert_eq!(described.revision.role_arn, ROLE);
        assert_eq!(described.machine_type, MachineType::Standard);
        assert_eq!(described.creation_ms, created.creation_ms);
        assert_eq!(catalog.list_state_machines().len(), 1);
    }

    #[tokio::test]
    async fn creating_the_same_machine_again_answers_the_first_one() {
        let (_, catalog) = catalog();
        let first = catalog.create_state_machine(machine("same", PASS)).await.unwrap();
        let again = catalog.create_state_machine(NewStateMachine { role_arn: "arn:aws:iam::1:role/other".into(), ..machine("same", PASS) });
        assert_eq!(again.await.unwrap(), first);
    }

    #[tokio::test]
    async fn creating_a_different_machine_under_a_taken_name_is_refused() {
        let (_, catalog) = catalog();
        catalog.create_state_machine(machine("taken", PASS)).await.unwrap();
        let refused = catalog.create_state_machine(machine("taken", PASS_RESULT)).await;
        assert_eq!(
            failure(refused),
            ("StateMachineAlreadyExists", format!("State Machine Already Exists: '{PREFIX}stateMachine:taken'"))
        );
    }

    #[tokio::test]
    async fn invalid_names_and_definitions_are_refused_in_aws_words() {
        let (_, catalog) = catalog();
        let refused = catalog.create_state_machine(machine("bad name", PASS)).await;
        assert_eq!(failure(refused), ("InvalidName", "Invalid Name: 'bad name'".to_owned()));
        let refused = catalog.create_state_machine(machine("no-states", r#"{"StartAt": "A"}"#)).await;
        assert_eq!(
            failure(refused),
            (
                "InvalidDefinition",
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'".to_owned()
            )
        );
        let refused = catalog.create_state_machine(machine("not-json", "this is not json")).await;
        assert_eq!(
            failure(refused),
            (
                "InvalidDefinition",
                "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unrecognized token 'this': was expecting \
                 (JSON String, Number, Array, Object or token 'null', 'true' or 'false')'"
                    .to_owned()
            )
        );
        assert!(catalog.list_state_machines().is_empty());
    }

    #[tokio::test]
    async fn express_machines_are_checked_as_express() {
        let (_, catalog) = catalog();
        let definition = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken", "Parameters": {"TopicArn": "t", "Message.$": "$$.Task.Token"}, "End": true}}}"#;
        let express = NewStateMachine { machine_type: MachineType::Express, ..machine("express", definition) };
        let (code, message) = failure(catalog.create_state_machine(express).await);
        assert_eq!(code, "InvalidDefinition");
        assert!(message.contains("Express state machine does not support '.waitForTaskToken'"), "{message}");
    }

    #[tokio::test]
    async fn a_version_description_needs_publish() {
        let (_, catalog) = catalog();
        let request = NewStateMachine { version_description: Some("v".into()), ..machine("described", PASS) };
        assert_eq!(
            failure(catalog.create_state_machine(request).await),
            ("ValidationException", "Version description can only be set when publish is true".to_owned())
        );
    }

    #[tokio::test]
    async fn logging_needs_exactly_one_destination_unless_off() {
        let (_, catalog) = catalog();
        let logging = LoggingConfiguration { level: "ALL".into(), ..LoggingConfiguration::default() };
        let request = NewStateMachine { logging, ..machine("logged", PASS) };
        assert_eq!(
            failure(catalog.create_state_machine(request).await),
            ("InvalidLoggingConfiguration", "Invalid Logging Configuration: Must specify exactly one Log Destination.".to_owned())
        );
    }

    #[tokio::test]
    async fn an_update_changes_the_definition_and_the_revision() {
        let (_, catalog) = catalog();
        let arn = catalog.create_state_machine(machine("updated", PASS)).await.unwrap().arn;
        let before = catalog.describe_state_machine(&arn).unwrap().revision.revision_id;
        let update = StateMachineUpdate { definition: Some(PASS_RESULT.into()), ..StateMachineUpdate::default() };
        let updated = catalog.update_state_machine(&arn, update).await.unwrap();
        assert_ne!(updated.revision_id, before);
        let described = catalog.describe_state_machine(&arn).unwrap();
        assert_eq!(described.revision.definition, PASS_RESULT);
        assert_eq!(described.revision.revision_id, updated.revision_id);
        assert_eq!(catalog.resolve(&arn).unwrap().definition, PASS_RESULT);
    }

    #[tokio::test]
    async fn an_update_without_changes_keeps_the_revision() {
        let (_, catalog) = catalog();
        let arn = catalog.create_state_machine(machine("unchanged", PASS)).await.unwrap().arn;
        let before = catalog.describe_state_machine(&arn).unwrap().revision.revision_id;
        let update = StateMachineUpdate { role_arn: Some(ROLE.into()), ..StateMachineUpdate::default() };
        assert_eq!(catalog.update_state_machine(&arn, update).await.unwrap().revision_id, before);
    }

    #[tokio::test]
    async fn an_update_needs_something_to_change_and_an_existing_machine() {
        let (_, catalog) = catalog();
        let arn = catalog.create_state_machine(machine("needs", PASS)).await.unwrap().arn;
        let (code, _) = failure(catalog.update_state_machine(&arn, StateMachineUpdate::default()).await);
        assert_eq!(code, "MissingRequiredParameter");
        let missing = format!("{PREFIX}stateMachine:missing");
        let update = StateMachineUpdate { definition: Some(PASS.into()), ..StateMachineUpdate::default() };
        assert_eq!(
            failure(catalog.update_state_machine(&missing, update).await),
            ("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{missing}'"))
        );
        let invalid = StateMachineUpdate { definition: Some(r#"{"StartAt": "A"}"#.into()), ..StateMachineUpdate::default() };
        assert_eq!(failure(catalog.update_state_machine(&arn, invalid).await).0, "InvalidDefinition");
    }

    #[tokio::test]
    async fn publishing_numbers_versions_and_reuses_one_for_the_same_revision() {
        let (_, catalog) = catalog();
        let created = catalog.create_state_machine(NewStateMachine { publish: true, ..machine("versioned", PASS) }).await.unwrap();
        let arn = created.arn;
        assert_eq!(created.version_arn.as_deref(), Some(format!("{arn}:1").as_str()));
        assert_eq!(catalog.publish_version(&arn, None, None).await.unwrap().arn, format!("{arn}:1"));
        let update = StateMachineUpdate { definition: Some(PASS_RESULT.into()), publish: true, version_description: Some("two".into()), ..Default::default() };
        assert_eq!(catalog.update_state_machine(&arn, update).await.unwrap().version_arn, Some(format!("{arn}:2")));
        let listed: Vec<String> = catalog.list_versions(&arn).into_iter().map(|version| version.arn).collect();
        assert_eq!(listed, [format!("{arn}:2"), format!("{arn}:1")]);
        let version = catalog.describe_state_machine(&format!("{arn}:2")).unwrap();
        assert_eq!(version.description.as_deref(), Some("two"));
        assert_eq!(catalog.resolve(&format!("{arn}:1")).unwrap().definition, PASS);
        assert_eq!(catalog.resolve(&format!("{arn}:1")).unwrap().version_arn, Some(format!("{arn}:1")));
    }

    #[tokio::test]
    async fn deleted_version_numbers_are_not_reused() {
        let (_, catalog) = catalog();
        let arn = catalog.create_state_machine(NewStateMachine { publish: true, ..machine("numbers", PASS) }).await.unwrap().arn;
        catalog.delete_version(&format!("{arn}:1")).await.unwrap();
        catalog.delete_version(&format!("{arn}:1")).await.unwrap();
        assert!(catalog.list_versions(&arn).is_empty());
        let update = StateMachineUpdate { definition: Some(PASS_RESULT.into()), publish: true, ..Default::default() };
        assert_eq!(catalog.update_state_machine(&arn, update).await.unwrap().version_arn, Some(format!("{arn}:2")));
    }

    #[tokio::test]
    async fn publishing_a_stale_revision_conflicts() {
        let (_, catalog) = catalog();
        let arn = catalog.create_state_machine(machine("stale", PASS)).await.unwrap().arn;
        let current = catalog.describe_state_machine(&arn).unwrap().revision.revision_id;
        assert_eq!(
            failure(catalog.publish_version(&arn, Some("old"), None).await),
            (
                "ConflictException",
                format!("Failed to publish the State Machine version for revision old. The current State Machine revision is {current}.")
            )
        );
    }

    async fn two_versions(catalog: &Catalog) -> String {
        let arn = catalog.create_state_machine(NewStateMachine { publish: true, ..machine("aliased", PASS) }).await.unwrap().arn;
        let update = StateMachineUpdate { definition: Some(PASS_RESULT.into()), publish: true, ..Default::default() };
        catalog.update_state_machine(&arn, update).await.unwrap();
        arn
    }

    #[tokio::test]
    async fn an_alias_routes_executions_to_its_versions() {
        let (_, catalog) = catalog();
        let arn = two_versions(&catalog).await;
        let alias = catalog.create_alias("prod", None, vec![route(&format!("{arn}:2"), 100)]).await.unwrap();
        assert_eq!(alias.arn, format!("{arn}:prod"));
        let resolved = catalog.resolve(&alias.arn).unwrap();
        assert_eq!(resolved.alias_arn.as_deref(), Some(alias.arn.as_str()));
        assert_eq!(resolved.version_arn, Some(format!("{arn}:2")));
        assert_eq!(resolved.definition, PASS_RESULT);
        assert_eq!(resolved.state_machine_arn, arn);
    }

    #[tokio::test]
    async fn weighted_routing_picks_both_versions() {
        let (_, catalog) = catalog();
        let arn = two_versions(&catalog).await;
        let routing = vec![route(&format!("{arn}:1"), 50), route(&format!("{arn}:2"), 50)];
        let alias = catalog.create_alias("split", None, routing).await.unwrap();
        let picked: std::collections::HashSet<Option<String>> = (0..200).map(|_| catalog.resolve(&alias.arn).unwrap().version_arn).collect();
        assert_eq!(picked.len(), 2);
    }

    #[tokio::test]
    async fn routing_weights_must_sum_to_100_over_distinct_versions() {
        let (_, catalog) = catalog();
        let arn = two_versions(&catalog).await;
        let (one, two) = (format!("{arn}:1"), format!("{arn}:2"));
        assert_eq!(
            failure(catalog.create_alias("a", None, vec![route(&one, 50), route(&two, 40)]).await),
            ("ValidationException", "Sum of routing configuration weights must equal 100. Received: [50, 40]".to_owned())
        );
        assert_eq!(
            failure(catalog.create_alias("a", None, vec![route(&one, 50), route(&one, 50)]).await),
            ("ValidationException", format!("Routing configuration must contain distinct state machine version ARNs. Received: [{one}, {one}]"))
        );
        assert_eq!(failure(catalog.create_alias("a", None, vec![route(&format!("{arn}:9"), 100)]).await).0, "ResourceNotFound");
        assert_eq!(failure(catalog.create_alias("a", None, vec![route(&arn, 100)]).await).0, "ValidationException");
    }

    #[tokio::test]
    async fn a_version_behind_an_alias_cannot_be_deleted() {
        let (_, catalog) = catalog();
        let arn = two_versions(&catalog).await;
        catalog.create_alias("live", None, vec![route(&format!("{arn}:1"), 100)]).await.unwrap();
        assert_eq!(
            failure(catalog.delete_version(&format!("{arn}:1")).await),
            (
                "ConflictException",
                "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [live]".to_owned()
            )
        );
    }

    #[tokio::test]
    async fn aliases_are_described_updated_listed_and_deleted() {
        let (_, catalog) = catalog();
        let arn = two_versions(&catalog).await;
        let alias = catalog.create_alias("stage", Some("first".into()), vec![route(&format!("{arn}:1"), 100)]).await.unwrap();
        let again = catalog.create_alias("stage", Some("first".into()), vec![route(&format!("{arn}:1"), 100)]).await.unwrap();
        assert_eq!(again, alias);
        let conflict = catalog.create_alias("stage", None, vec![route(&format!("{arn}:2"), 100)]).await;
        assert_eq!(failure(conflict).0, "ConflictException");
        catalog.update_alias(&alias.arn, None, Some(vec![route(&format!("{arn}:2"), 100)])).await.unwrap();
        let described = catalog.describe_alias(&alias.arn).unwrap();
        assert_eq!(described.description.as_deref(), Some("first"));
        assert_eq!(described.routing, vec![route(&format!("{arn}:2"), 100)]);
        assert_eq!(catalog.list_aliases(&arn).unwrap(), vec![described.clone()]);
        assert_eq!(catalog.list_aliases(&format!("{arn}:2")).unwrap(), vec![described]);
        assert!(catalog.list_aliases(&format!("{arn}:1")).unwrap().is_empty());
        catalog.delete_alias(&alias.arn).await.unwrap();
        assert_eq!(failure(catalog.describe_alias(&alias.arn)), ("ResourceNotFound", format!("Resource not found: '{}'", alias.arn)));
        assert_eq!(failure(catalog.update_alias(&alias.arn, Some("x".into()), None).await).0, "ResourceNotFound");
    }

    #[tokio::test]
    async fn deleting_a_machine_removes_its_versions_aliases_and_tags() {
        let (store, catalog) = catalog();
        let arn = two_versions(&catalog).await;
        catalog.create_alias("gone", None, vec![route(&format!("{arn}:1"), 100)]).await.unwrap();
        catalog.tag_resource(&arn, vec![tag("team", "a")]).await.unwrap();
        catalog.delete_state_machine(&arn).await.unwrap();
        catalog.delete_state_machine(&arn).await.unwrap();
        assert_eq!(failure(catalog.describe_state_machine(&arn)).0, "StateMachineDoesNotExist");
        assert_eq!(failure(catalog.resolve(&format!("{arn}:1"))).0, "StateMachineDoesNotExist");
        assert_eq!(failure(catalog.tags(&arn)).0, "ResourceNotFound");
        for kind in [kinds::STATE_MACHINE, kinds::VERSION, kinds::ALIAS, kinds::ACTIVITY, kinds::TAGS] {
            assert!(store.documents(kind).unwrap().is_empty(), "{kind} documents left");
        }
    }

    #[tokio::test]
    async fn a_reopened_catalog_has_everything_that_was_acknowledged() {
        let (store, catalog) = catalog();
        let arn = two_versions(&catalog).await;
        let alias = catalog.create_alias("kept", None, vec![route(&format!("{arn}:2"), 100)]).await.unwrap();
        let activity = catalog.create_activity("worker", vec![tag("kind", "act")], None).await.unwrap();
        catalog.tag_resource(&arn, vec![tag("team", "a"), tag("env", "dev")]).await.unwrap();

        let reopened = open(&store);
        assert_eq!(reopened.describe_state_machine(&arn).unwrap(), catalog.describe_state_machine(&arn).unwrap());
        assert_eq!(reopened.list_versions(&arn), catalog.list_versions(&arn));
        assert_eq!(reopened.resolve(&alias.arn).unwrap().definition, PASS_RESULT);
        assert_eq!(reopened.describe_activity(&activity.arn).unwrap(), activity);
        assert_eq!(reopened.tags(&arn).unwrap(), vec![tag("team", "a"), tag("env", "dev")]);
        assert_eq!(reopened.tags(&activity.arn).unwrap(), vec![tag("kind", "act")]);
        let update = StateMachineUpdate { definition: Some(PASS.into()), publish: true, ..Default::default() };
        assert_eq!(reopened.update_state_machine(&arn, update).await.unwrap().version_arn, Some(format!("{arn}:3")));
    }

    #[tokio::test]
    async fn a_failed_write_changes_nothing() {
        let (store, catalog) = catalog();
        store.failing.store(true, Ordering::SeqCst);
        let (code, message) = failure(catalog.create_state_machine(machine("lost", PASS)).await);
        assert_eq!((code, message.as_str()), (INTERNAL_FAILURE, "store: disk full"));
        assert!(catalog.list_state_machines().is_empty());
    }

    #[tokio::test]
    async fn activities_are_created_once_by_name() {
        let (_, catalog) = catalog();
        let activity = catalog.create_activity("work", Vec::new(), None).await.unwrap();
        assert_eq!(activity.arn, format!("{PREFIX}activity:work"));
        assert_eq!(catalog.create_activity("work", vec![tag("ignored", "yes")], None).await.unwrap(), activity);
        assert_eq!(catalog.tags(&activity.arn).unwrap(), Vec::new());
        assert!(catalog.activity_exists(&activity.arn));
        assert_eq!(catalog.list_activities(), vec![activity.clone()]);
        catalog.delete_activity(&activity.arn).await.unwrap();
        catalog.delete_activity(&activity.arn).await.unwrap();
        assert!(!catalog.activity_exists(&activity.arn));
        assert_eq!(
            failure(catalog.describe_activity(&activity.arn)),
            ("ActivityDoesNotExist", format!("Activity Does Not Exist: '{}'", activity.arn))
        );
        assert_eq!(failure(catalog.create_activity("a/b", Vec::new(), None).await), ("InvalidName", "Invalid Name: 'a/b'".to_owned()));
    }

    #[tokio::test]
    async fn tags_are_set_in_place_and_removed_by_key() {
        let (_, catalog) = catalog();
        let arn = catalog.create_state_machine(NewStateMachine { tags: vec![tag("team", "a")], ..machine("tagged", PASS) }).await.unwrap().arn;
        catalog.tag_resource(&arn, vec![tag("env", "test"), tag("team", "b")]).await.unwrap();
        assert_eq!(catalog.tags(&arn).unwrap(), vec![tag("team", "b"), tag("env", "test")]);
        catalog.untag_resource(&arn, &["team".to_owned()]).await.unwrap();
        assert_eq!(catalog.tags(&arn).unwrap(), vec![tag("env", "test")]);
        let missing = format!("{PREFIX}stateMachine:missing");
        assert_eq!(failure(catalog.tag_resource(&missing, vec![tag("a", "b")]).await), ("ResourceNotFound", format!("Resource not found: '{missing}'")));
        let too_many = (0..51).map(|index| tag(&format!("k{index}"), "v")).collect();
        assert_eq!(failure(catalog.tag_resource(&arn, too_many).await).0, "TooManyTags");
    }

    #[tokio::test]
    async fn resolve_refuses_unknown_machines_versions_and_aliases() {
        let (_, catalog) = catalog();
        let arn = catalog.create_state_machine(machine("known", PASS)).await.unwrap().arn;
        for unknown in [format!("{PREFIX}stateMachine:unknown"), format!("{arn}:1"), format!("{arn}:prod"), "arn:aws:states:eu-west-1:000000000000:stateMachine:known".to_owned()] {
            assert_eq!(failure(catalog.resolve(&unknown)), ("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{unknown}'")));
        }
        let resolved = catalog.resolve(&arn).unwrap();
        assert_eq!((resolved.name.as_str(), resolved.version_arn, resolved.alias_arn), ("known", None, None));
    }

    #[test]
    fn names_follow_aws_rules() {
        for valid in ["a", "sy-run_1.2", "é", &"x".repeat(80)] {
            assert!(is_valid_name(valid), "{valid}");
        }
        for invalid in ["", "a b", "a\tb", "a:b", "a/b", "<a>", "a*", "a\u{7f}", &"x".repeat(81)] {
            assert!(!is_valid_name(invalid), "{invalid}");
        }
        assert!(is_valid_alias_name("prod-1.x"));
        assert!(!is_valid_alias_name("123"));
        assert!(!is_valid_alias_name("a b"));
    }

    fn syntax(text: &str) -> String {
        json_syntax_message(text, &serde_json::from_str::<Value>(text).unwrap_err())
    }

    #[test]
    fn json_syntax_errors_are_worded_as_jackson_words_them() {
        let valid = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";
        assert_eq!(syntax("not some json"), format!("Unrecognized token 'not': was expecting {valid}"));
        assert_eq!(syntax("{'not': 'json'"), "Unexpected character (''' (code 39)): was expecting double-quote to start field name");
        assert_eq!(syntax("[1 2]"), "Unexpected character ('2' (code 50)): was expecting comma to separate Array entries");
        assert_eq!(syntax("{\"a\":1 \"b\":2}"), "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries");
        assert_eq!(syntax("{\"a\" 1}"), "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value");
        assert_eq!(syntax("@"), format!("Unexpected character ('@' (code 64)): expected a valid value {valid}"));
        assert_eq!(syntax("{\"a\":1,}"), "Unexpected character ('}' (code 125)): was expecting double-quote to start field name");
        assert_eq!(syntax("\n\n  trueX"), format!("Unrecognized token 'trueX': was expecting {valid}"));
        assert_eq!(syntax("nul"), format!("Unrecognized token 'nul': was expecting {valid}"));
        assert_eq!(syntax("{\"a\":1"), "Unexpected end-of-input: expected close marker for Object");
        assert_eq!(syntax(" "), "No content to map due to end-of-input");
        assert_eq!(syntax("\"\u{1}\""), "Illegal unquoted character ((CTRL-CHAR, code 1)): has to be escaped using backslash to be included in string value");
        assert_eq!(syntax("[\"é\" €]"), "Unexpected character ('€' (code 8364 / 0x20ac)): was expecting comma to separate Array entries");
    }
}
