//! Lambda functions as the service keeps them: a catalog persisted as store documents (functions
//! survive restarts; uploaded code is kept under the data dir, see [`code`]), reserved
//! concurrency, and the front door every invocation goes through (the Invoke API, Task states,
//! pushed activity tasks): it resolves the function, throttles, gives the function the endpoint
//! and credentials that make AWS SDK calls inside it reach this server, runs it, and keeps its logs.
//!
//! Functions declared on the command line (`--functions`, `--function`) can be invoked as well;
//! the catalog's own win over them by name.

pub mod activity_push;
pub mod code;
pub mod logs;

use crate::catalog::Tag;
use code::{Code, CodeStore};
use compute::sdk_environment::sdk_environment;
use compute::{Cancellation, Concurrency, FunctionRunner, FunctionSet, FunctionSpec, HandlerSource, Invocation, Outcome, Runtime};
use logs::InvocationLogs;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use store::{Document, Store, Write};

/// `$LATEST`: the only version a function has until versions are published.
pub const LATEST: &str = "$LATEST";
const FUNCTION_KIND: &str = "function";
/// An accepted asynchronous (`Event`) invocation not yet delivered.
const EVENT_KIND: &str = "function-event";
/// Lambda keeps retrying a throttled asynchronous invocation for up to six hours.
const MAX_EVENT_AGE: Duration = Duration::from_secs(6 * 3600);
const MAX_THROTTLE_BACKOFF: Duration = Duration::from_secs(60);

/// Errors in the terms of Lambda's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionsError {
    /// ResourceNotFoundException (404).
    NotFound(String),
    /// ResourceConflictException (409).
    Conflict(String),
    /// InvalidParameterValueException (400).
    InvalidParameter(String),
    /// PreconditionFailedException (412): a stale RevisionId.
    PreconditionFailed(String),
    /// TooManyRequestsException (429), reason ReservedFunctionConcurrentInvocationLimitExceeded.
    Throttled,
    /// ServiceException (500): a failure of this server.
    Service(String),
}

impl std::fmt::Display for FunctionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FunctionsError::NotFound(message)
            | FunctionsError::Conflict(message)
            | FunctionsError::InvalidParameter(message)
            | FunctionsError::PreconditionFailed(message)
            | FunctionsError::Service(message) => f.write_str(message),
            FunctionsError::Throttled => f.write_str("Rate Exceeded."),
        }
    }
}

impl std::error::Error for FunctionsError {}

/// A function in the catalog, as it is persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionRecord {
    pub name: String,
    pub arn: String,
    #[serde(flatten)]
    pub settings: FunctionSettings,
    pub code: Code,
    pub last_modified_ms: i64,
    pub revision_id: String,
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// What CreateFunction and UpdateFunctionConfiguration set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSettings {
    pub runtime: String,
    pub role: String,
    pub handler: String,
    #[serde(default)]
    pub description: String,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

/// New code: an uploaded zip, or a directory of this machine used in place.
pub enum CodeSource {
    Zip(Vec<u8>),
    Directory(PathBuf),
}

/// UpdateFunctionConfiguration: the members given.
#[derive(Debug, Default)]
pub struct SettingsUpdate {
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout_seconds: Option<u32>,
    pub memory_mb: Option<u32>,
    pub environment: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
pub struct FunctionsConfig {
    pub region: String,
    pub account: String,
    /// Where uploaded code and invocation logs are kept; without one (a local run) functions
    /// cannot be created and logs are not kept.
    pub data_dir: Option<PathBuf>,
    /// The URL AWS SDKs inside functions call (`AWS_ENDPOINT_URL`): this server's.
    pub endpoint: Option<String>,
    /// The S3 functions use instead of this server's (`--s3-endpoint`).
    pub external_s3: Option<compute::sdk_environment::ExternalS3>,
}

/// A catalog function with what running it needs.
struct Entry {
    record: FunctionRecord,
    spec: Arc<FunctionSpec>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingEvent {
    id: String,
    function: String,
    payload: Value,
    accepted_ms: i64,
}

pub struct Functions {
    store: Arc<dyn Store>,
    config: FunctionsConfig,
    code: Option<CodeStore>,
    logs: Option<InvocationLogs>,
    runner: Arc<dyn FunctionRunner>,
    declared: FunctionSet,
    functions: RwLock<BTreeMap<String, Arc<Entry>>>,
    /// Serializes changes from their checks to their acknowledgement.
    writer: tokio::sync::Mutex<()>,
}

impl Functions {
    /// Loads the catalog from the store; `declared` are the command line's functions.
    pub fn open(store: Arc<dyn Store>, config: FunctionsConfig, declared: FunctionSet, runner: Arc<dyn FunctionRunner>) -> Result<Functions, FunctionsError> {
        let functions = Functions::new(store, config, declared, runner);
        let mut loaded = BTreeMap::new();
        for document in functions.store.documents(FUNCTION_KIND).map_err(store_failure)? {
            let record: FunctionRecord = serde_json::from_str(&document.body)
                .map_err(|error| FunctionsError::Service(format!("the stored function '{}' cannot be read: {error}", document.key)))?;
            loaded.insert(record.name.clone(), Arc::new(functions.entry(record)?));
        }
        *functions.write() = loaded;
        functions.provision();
        Ok(functions)
    }

    /// Functions of a local run: only the declared ones, nothing kept.
    pub fn declared_only(declared: FunctionSet, runner: Arc<dyn FunctionRunner>) -> Functions {
        let config = FunctionsConfig { region: compute::function::DEFAULT_REGION.to_owned(), account: "000000000000".to_owned(), data_dir: None, endpoint: None, external_s3: None };
        Functions::new(Arc::new(store::MemoryStore::new()), config, declared, runner)
    }

    /// Starts the provisioned concurrency of every function that has one.
    fn provision(&self) {
        let catalog: Vec<Arc<FunctionSpec>> = self.read().values().map(|entry| entry.spec.clone()).collect();
        for spec in catalog.iter().map(Arc::as_ref).chain(self.declared.iter()).filter(|spec| spec.concurrency.provisioned > 0) {
            self.runner.provision(spec);
        }
    }

    fn new(store: Arc<dyn Store>, config: FunctionsConfig, declared: FunctionSet, runner: Arc<dyn FunctionRunner>) -> Functions {
        let code = config.data_dir.as_deref().map(CodeStore::new);
        let logs = config.data_dir.as_deref().map(InvocationLogs::open);
        let mut functions = Functions {
            store,
            config,
            code,
            logs,
            runner,
            declared: FunctionSet::new(),
            functions: RwLock::new(BTreeMap::new()),
            writer: tokio::sync::Mutex::new(()),
        };
        functions.declared = declared.iter().map(|spec| functions.with_sdk_environment(spec.clone())).collect();
        functions
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{}:function:{name}", self.config.region, self.config.account)
    }

    // --- the catalog -------------------------------------------------------------------------

    pub async fn create(&self, name: &str, settings: FunctionSettings, source: CodeSource, tags: Vec<Tag>) -> Result<FunctionRecord, FunctionsError> {
        Runtime::parse(&settings.runtime).map_err(FunctionsError::InvalidParameter)?;
        let _writer = self.writer.lock().await;
        if self.read().contains_key(name) {
            return Err(FunctionsError::Conflict(format!("Function already exist: {name}")));
        }
        let code = self.keep_code(name, source).await?;
        let record = FunctionRecord {
            name: name.to_owned(),
            arn: self.arn(name),
            settings,
            code,
            last_modified_ms: now_ms(),
            revision_id: new_revision_id(),
            reserved_concurrency: None,
            tags,
        };
        self.put(record).await
    }

    /// A function by name or ARN; `qualifier` (or one in the reference) must be `$LATEST`.
    pub fn get(&self, reference: &str, qualifier: Option<&str>) -> Result<FunctionRecord, FunctionsError> {
        let (name, qualifier) = self.qualified(reference, qualifier)?;
        let entry = self.read().get(name).cloned().ok_or_else(|| self.not_found(name, qualifier))?;
        Ok(entry.record.clone())
    }

    /// Every catalog function, by name.
    pub fn list(&self) -> Vec<FunctionRecord> {
        self.read().values().map(|entry| entry.record.clone()).collect()
    }

    pub async fn delete(&self, reference: &str, qualifier: Option<&str>) -> Result<(), FunctionsError> {
        let (name, qualifier) = self.qualified(reference, qualifier)?;
        let _writer = self.writer.lock().await;
        if !self.read().contains_key(name) {
            return Err(self.not_found(name, qualifier));
        }
        self.persist(vec![Write::DeleteDocument { kind: FUNCTION_KIND.to_owned(), key: name.to_owned() }]).await?;
        self.write().remove(name);
        self.runner.retire(name);
        if let Some(code) = &self.code {
            code.remove_all_but(name, None);
        }
        Ok(())
    }

    pub async fn update_code(&self, reference: &str, source: CodeSource, revision_id: Option<&str>) -> Result<FunctionRecord, FunctionsError> {
        let _writer = self.writer.lock().await;
        let mut record = self.current(reference, revision_id)?;
        record.code = self.keep_code(&record.name, source).await?;
        self.changed(record).await
    }

    pub async fn update_settings(&self, reference: &str, update: SettingsUpdate, revision_id: Option<&str>) -> Result<FunctionRecord, FunctionsError> {
        if let Some(runtime) = &update.runtime {
            Runtime::parse(runtime).map_err(FunctionsError::InvalidParameter)?;
        }
        let _writer = self.writer.lock().await;
        let mut record = self.current(reference, revision_id)?;
        let settings = &mut record.settings;
        let SettingsUpdate { runtime, role, handler, description, timeout_seconds, memory_mb, environment } = update;
        settings.runtime = runtime.unwrap_or(std::mem::take(&mut settings.runtime));
        settings.role = role.unwrap_or(std::mem::take(&mut settings.role));
        settings.handler = handler.unwrap_or(std::mem::take(&mut settings.handler));
        settings.description = description.unwrap_or(std::mem::take(&mut settings.description));
        settings.timeout_seconds = timeout_seconds.unwrap_or(settings.timeout_seconds);
        settings.memory_mb = memory_mb.unwrap_or(settings.memory_mb);
        settings.environment = environment.unwrap_or(std::mem::take(&mut settings.environment));
        self.changed(record).await
    }

    /// PutFunctionConcurrency (Some) and DeleteFunctionConcurrency (None).
    pub async fn set_reserved_concurrency(&self, reference: &str, reserved: Option<u32>) -> Result<FunctionRecord, FunctionsError> {
        let _writer = self.writer.lock().await;
        let mut record = self.current(reference, None)?;
        record.reserved_concurrency = reserved;
        // Concurrency is no change of the function's configuration: same revision, same date.
        self.put(record).await
    }

    /// The kept zip of a function's code (GetFunction's Code.Location).
    pub fn code_zip(&self, reference: &str) -> Result<PathBuf, FunctionsError> {
        let record = self.get(reference, None)?;
        self.code.as_ref().and_then(|code| code.zip_path(&record.name, &record.code)).ok_or_else(|| {
            FunctionsError::NotFound(format!("The code of {} is used in place from a directory; there is no zip to download.", record.name))
        })
    }

    // --- invocations -------------------------------------------------------------------------

    /// Checks that a function can be invoked (DryRun), without running it.
    pub fn check_invocable(&self, reference: &str, qualifier: Option<&str>) -> Result<(), FunctionsError> {
        self.target(reference, qualifier).map(drop)
    }

    /// Runs a function to its end (blocks). Throttled when its reserved concurrency is in use
    /// (the runner counts it).
    pub fn invoke(&self, reference: &str, qualifier: Option<&str>, payload: &Value, cancellation: &Cancellation) -> Result<Invocation, FunctionsError> {
        let spec = self.target(reference, qualifier)?;
        let started_ms = now_ms();
        let invocation = self.runner.invoke(&spec, payload, cancellation);
        if invocation.outcome == Outcome::Throttled {
            return Err(FunctionsError::Throttled);
        }
        // An invocation that never reached an environment has nothing to keep.
        if let Some(logs) = self.logs.as_ref().filter(|_| !invocation.logs.is_empty()) {
            logs.record(&spec.name, &invocation.request_id, started_ms, &invocation.logs);
        }
        Ok(invocation)
    }

    /// An asynchronous (`Event`) invocation: durable once accepted, then delivered in the
    /// background, throttled ones retried for up to six hours as Lambda does.
    pub async fn invoke_event(self: &Arc<Self>, reference: &str, qualifier: Option<&str>, payload: Value) -> Result<String, FunctionsError> {
        let spec = self.target(reference, qualifier)?;
        let event = PendingEvent { id: uuid::Uuid::new_v4().to_string(), function: spec.name.clone(), payload, accepted_ms: now_ms() };
        let body = serde_json::to_string(&event).map_err(|error| FunctionsError::Service(error.to_string()))?;
        self.persist(vec![Write::PutDocument(Document { kind: EVENT_KIND.to_owned(), key: event.id.clone(), body })]).await?;
        let id = event.id.clone();
        tokio::spawn(self.clone().deliver(event));
        Ok(id)
    }

    /// Delivers the asynchronous invocations accepted before a restart. Call inside a tokio runtime.
    pub fn resume_events(self: &Arc<Self>) -> Result<usize, FunctionsError> {
        let documents = self.store.documents(EVENT_KIND).map_err(store_failure)?;
        let count = documents.len();
        for document in documents {
            match serde_json::from_str::<PendingEvent>(&document.body) {
                Ok(event) => drop(tokio::spawn(self.clone().deliver(event))),
                Err(error) => tracing::warn!(event = document.key, %error, "an accepted function event cannot be read; dropped"),
            }
        }
        Ok(count)
    }

    async fn deliver(self: Arc<Self>, event: PendingEvent) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let functions = self.clone();
            let (function, payload) = (event.function.clone(), event.payload.clone());
            let outcome = tokio::task::spawn_blocking(move || functions.invoke(&function, None, &payload, &Cancellation::new()).map(drop)).await;
            match outcome {
                Ok(Err(FunctionsError::Throttled)) if now_ms() - event.accepted_ms < MAX_EVENT_AGE.as_millis() as i64 => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_THROTTLE_BACKOFF);
                }
                Ok(Ok(())) => break,
                Ok(Err(error)) => {
                    tracing::warn!(function = event.function, event = event.id, ?error, "asynchronous invocation dropped");
                    break;
                }
                Err(error) => {
                    tracing::warn!(function = event.function, event = event.id, %error, "asynchronous invocation failed");
                    break;
                }
            }
        }
        let _ = self.persist(vec![Write::DeleteDocument { kind: EVENT_KIND.to_owned(), key: event.id }]).await;
    }

    // --- helpers -----------------------------------------------------------------------------

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Entry>>> {
        self.functions.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Entry>>> {
        self.functions.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The name a reference names, with its qualifier (from the reference or the request, which
    /// must agree).
    fn split_reference<'a>(reference: &'a str, qualifier: Option<&'a str>) -> Result<(&'a str, Option<&'a str>), FunctionsError> {
        let (name, derived) = parse_reference(reference);
        match (derived, qualifier) {
            (Some(derived), Some(given)) if derived != given => {
                Err(FunctionsError::InvalidParameter("The derived qualifier from the function name does not match the specified qualifier.".to_owned()))
            }
            (derived, given) => Ok((name, derived.or(given))),
        }
    }

    /// A catalog function's name and qualifier: only `$LATEST` exists.
    fn qualified<'a>(&self, reference: &'a str, qualifier: Option<&'a str>) -> Result<(&'a str, Option<&'a str>), FunctionsError> {
        let (name, qualifier) = Functions::split_reference(reference, qualifier)?;
        match qualifier {
            Some(qualifier) if qualifier != LATEST => Err(self.not_found(name, Some(qualifier))),
            _ => Ok((name, qualifier)),
        }
    }

    fn not_found(&self, name: &str, qualifier: Option<&str>) -> FunctionsError {
        let arn = self.arn(name);
        FunctionsError::NotFound(match qualifier {
            Some(qualifier) => format!("Function not found: {arn}:{qualifier}"),
            None => format!("Function not found: {arn}"),
        })
    }

    /// What an invocation runs: a catalog function, else a declared one (whose qualifiers are
    /// not checked: a local run's definitions may name versions and aliases of them).
    fn target(&self, reference: &str, qualifier: Option<&str>) -> Result<Arc<FunctionSpec>, FunctionsError> {
        let (name, given) = Functions::split_reference(reference, qualifier)?;
        if self.read().contains_key(name) {
            let (name, _) = self.qualified(reference, qualifier)?;
            if let Some(entry) = self.read().get(name) {
                return Ok(entry.spec.clone());
            }
        }
        match self.declared.resolve(name) {
            Some(spec) => Ok(Arc::new(spec.clone())),
            None => Err(self.not_found(name, given)),
        }
    }

    /// The record of a catalog function about to change, checked against an expected revision.
    fn current(&self, reference: &str, revision_id: Option<&str>) -> Result<FunctionRecord, FunctionsError> {
        let record = self.get(reference, None)?;
        if revision_id.is_some_and(|expected| expected != record.revision_id) {
            return Err(FunctionsError::PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".to_owned(),
            ));
        }
        Ok(record)
    }

    async fn keep_code(&self, name: &str, source: CodeSource) -> Result<Code, FunctionsError> {
        match source {
            CodeSource::Directory(path) if path.is_dir() => Ok(Code::Directory { path }),
            CodeSource::Directory(path) => Err(FunctionsError::InvalidParameter(format!("The code directory {} does not exist on this machine.", path.display()))),
            CodeSource::Zip(zip) => {
                let store = self.code.clone().ok_or_else(|| FunctionsError::Service("this server keeps no code: it has no data directory".to_owned()))?;
                let name = name.to_owned();
                tokio::task::spawn_blocking(move || store.keep_zip(&name, &zip)).await.map_err(|error| FunctionsError::Service(error.to_string()))?
            }
        }
    }

    /// Writes a changed function as a new revision, then drops code no longer used.
    async fn changed(&self, mut record: FunctionRecord) -> Result<FunctionRecord, FunctionsError> {
        record.last_modified_ms = now_ms();
        record.revision_id = new_revision_id();
        let record = self.put(record).await?;
        if let Some(code) = &self.code {
            code.remove_all_but(&record.name, Some(&record.code));
        }
        Ok(record)
    }

    async fn put(&self, record: FunctionRecord) -> Result<FunctionRecord, FunctionsError> {
        let entry = self.entry(record)?;
        let body = serde_json::to_string(&entry.record).map_err(|error| FunctionsError::Service(error.to_string()))?;
        self.persist(vec![Write::PutDocument(Document { kind: FUNCTION_KIND.to_owned(), key: entry.record.name.clone(), body })]).await?;
        let record = entry.record.clone();
        self.write().insert(record.name.clone(), Arc::new(entry));
        Ok(record)
    }

    fn entry(&self, record: FunctionRecord) -> Result<Entry, FunctionsError> {
        let directory = match &self.code {
            Some(code) => code.directory(&record.name, &record.code)?,
            None => match &record.code {
                Code::Directory { path } => path.clone(),
                Code::Zip { .. } => return Err(FunctionsError::Service("this server keeps no code: it has no data directory".to_owned())),
            },
        };
        let settings = &record.settings;
        let spec = FunctionSpec {
            name: record.name.clone(),
            arn: record.arn.clone(),
            runtime: Runtime::parse(&settings.runtime).map_err(FunctionsError::Service)?,
            handler: settings.handler.clone(),
            source: HandlerSource::Directory(directory),
            timeout_seconds: settings.timeout_seconds,
            memory_mb: settings.memory_mb,
            environment: settings.environment.clone(),
            concurrency: Concurrency { reserved: record.reserved_concurrency, provisioned: 0 },
        };
        Ok(Entry { spec: Arc::new(self.with_sdk_environment(spec)), record })
    }

    /// The endpoint and dummy credentials that point AWS SDKs inside the function at this
    /// server; the function's own variables win.
    fn with_sdk_environment(&self, mut spec: FunctionSpec) -> FunctionSpec {
        let mut environment: BTreeMap<String, String> = sdk_environment(self.config.endpoint.as_deref(), spec.region(), self.config.external_s3.as_ref()).into_iter().collect();
        environment.append(&mut spec.environment);
        spec.environment = environment;
        spec
    }

    async fn persist(&self, writes: Vec<Write>) -> Result<(), FunctionsError> {
        store::commit(self.store.as_ref(), writes).await.map_err(store_failure)
    }
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`, `ACCOUNT:function:NAME[:QUALIFIER]`
/// or `NAME[:QUALIFIER]` -> (NAME, QUALIFIER).
pub fn parse_reference(reference: &str) -> (&str, Option<&str>) {
    let unqualified = if reference.starts_with("arn:") {
        reference.splitn(7, ':').nth(6).unwrap_or_default()
    } else {
        reference.split_once(":function:").map_or(reference, |(_, rest)| rest)
    };
    match unqualified.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier)),
        None => (unqualified, None),
    }
}

fn store_failure(error: store::StoreError) -> FunctionsError {
    FunctionsError::Service(error.to_string())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn new_revision_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests;
