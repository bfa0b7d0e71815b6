//! Function definitions: what `--functions FILE` and `--function NAME=FILE:FUNCTION` declare, and
//! how a Task's `FunctionName` or Resource ARN finds one of them.
//!
//! The functions file maps names to definitions:
//!
//! ```json
//! { "orders": { "arn": "arn:aws:lambda:us-east-1:111111111111:function:orders",
//!               "handler": "handler.handler",
//!               "handler_source": "def handler(event, context):\n    return event\n",
//!               "runtime": "python3.12", "timeout": 30 } }
//! ```
//!
//! Exactly one of `handler_source` (the module's code, inline) or `code_dir` (a directory put on the
//! module path, relative to the file) is required. `arn` defaults to an ARN in [`DEFAULT_REGION`]
//! and [`DEFAULT_ACCOUNT`]; `runtime` to [`DEFAULT_PYTHON_RUNTIME`]; `timeout` (seconds, 1-900) to
//! Lambda's 3; `memory` (MB, 128-10240) to 128; `environment` (an object of strings) to none;
//! `reserved_concurrency` (at most that many invocations at once, the rest throttled) to none and
//! `provisioned_concurrency` (environments kept started) to 0. A `provided` runtime's `code_dir`
//! holds its `bootstrap` executable.
//! `source_file` may say where an inline source came from; it is not used.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT: &str = "123456789012";
pub const DEFAULT_PYTHON_RUNTIME: &str = "python3.12";
pub const DEFAULT_NODE_RUNTIME: &str = "nodejs20.x";
/// Lambda's defaults and limits for `Timeout` and `MemorySize`.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 3;
pub const DEFAULT_MEMORY_MB: u32 = 128;
const TIMEOUT_SECONDS_RANGE: (u64, u64) = (1, 900);
const MEMORY_MB_RANGE: (u64, u64) = (128, 10_240);
const MAX_FUNCTION_NAME_LENGTH: usize = 64;
/// Lambda's default account concurrency bounds both concurrency settings.
const CONCURRENCY_RANGE: (u64, u64) = (0, 1000);

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    pub arn: String,
    pub runtime: Runtime,
    /// `module.function`, as Lambda's `Handler` setting; checked when the function starts, where
    /// Lambda reports a malformed one.
    pub handler: String,
    pub source: HandlerSource,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    pub concurrency: Concurrency,
}

/// How many invocations of a function may run at once, and how many environments stay started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Concurrency {
    /// Lambda's reserved concurrency: invocations beyond it are throttled; `None` is unreserved.
    pub reserved: Option<u32>,
    /// Lambda's provisioned concurrency: environments started ahead of invocations and never reaped.
    pub provisioned: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerSource {
    /// The code of the handler's module.
    Inline(String),
    /// The function's code directory (Lambda's `/var/task`).
    Directory(PathBuf),
}

/// A Lambda runtime identifier such as `python3.12` or `nodejs20.x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    identifier: String,
    family: RuntimeFamily,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFamily {
    Python,
    Node,
    /// `provided`, `provided.al2`, `provided.al2023`: the code's own `bootstrap` speaks the Runtime API.
    Provided,
}

impl Runtime {
    pub fn parse(identifier: &str) -> Result<Runtime, String> {
        let family = if identifier.strip_prefix("python3.").is_some_and(is_number) {
            RuntimeFamily::Python
        } else if identifier.strip_prefix("nodejs").and_then(|rest| rest.strip_suffix(".x")).is_some_and(is_number) {
            RuntimeFamily::Node
        } else if matches!(identifier, "provided" | "provided.al2" | "provided.al2023") {
            RuntimeFamily::Provided
        } else {
            return Err(format!(
                "unsupported runtime {identifier:?}: expected a Python (\"python3.12\"), Node.js (\"nodejs20.x\") or OS-only (\"provided.al2023\") runtime"
            ));
        };
        Ok(Runtime { identifier: identifier.to_string(), family })
    }

    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    pub fn family(&self) -> RuntimeFamily {
        self.family
    }
}

impl FunctionSpec {
    /// Parses the contents of a `--functions` file; relative `code_dir`s are resolved against
    /// `base_dir`, the file's directory.
    pub fn parse_file(text: &str, base_dir: &Path) -> Result<Vec<FunctionSpec>, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("functions file is not valid JSON: {e}"))?;
        let functions = root.as_object().ok_or("functions file: must be a JSON object mapping function names to their definitions")?;
        functions.iter().map(|(name, definition)| FunctionSpec::from_definition(name, definition, base_dir)).collect()
    }

    /// Parses `NAME=FILE:FUNCTION`, e.g. `orders=src/orders.py:handler`: the function `handler` of
    /// the module `orders` in the code directory `src`. The runtime follows the file's extension.
    pub fn parse_cli(argument: &str) -> Result<FunctionSpec, String> {
        let usage = || format!("--function {argument:?}: expected NAME=FILE:FUNCTION, e.g. orders=src/orders.py:handler");
        let (name, location) = argument.split_once('=').ok_or_else(usage)?;
        let (file, function) = location.rsplit_once(':').ok_or_else(usage)?;
        let file = Path::new(file);
        let module = file.file_stem().and_then(|stem| stem.to_str()).filter(|stem| !stem.is_empty()).ok_or_else(usage)?;
        if function.is_empty() {
            return Err(usage());
        }
        let runtime = match file.extension().and_then(|extension| extension.to_str()) {
            Some("py") => DEFAULT_PYTHON_RUNTIME,
            Some("js" | "mjs" | "cjs") => DEFAULT_NODE_RUNTIME,
            _ => return Err(format!("--function {argument:?}: the handler file must be a Python (.py) or JavaScript (.js, .mjs, .cjs) file")),
        };
        let code_dir = match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        validate_function_name(name).map_err(|reason| format!("--function {argument:?}: {reason}"))?;
        Ok(FunctionSpec {
            name: name.to_string(),
            arn: default_arn(name),
            runtime: Runtime::parse(runtime)?,
            handler: format!("{module}.{function}"),
            source: HandlerSource::Directory(code_dir),
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            memory_mb: DEFAULT_MEMORY_MB,
            environment: BTreeMap::new(),
            concurrency: Concurrency::default(),
        })
    }

    /// Whether an environment started for `other` can run this function: the same code and
    /// configuration. Concurrency settings do not matter to an environment.
    pub fn runs_like(&self, other: &FunctionSpec) -> bool {
        let FunctionSpec { name, arn, runtime, handler, source, timeout_seconds, memory_mb, environment, concurrency: _ } = self;
        *name == other.name
            && *arn == other.arn
            && *runtime == other.runtime
            && *handler == other.handler
            && *source == other.source
            && *timeout_seconds == other.timeout_seconds
            && *memory_mb == other.memory_mb
            && *environment == other.environment
    }

    /// The region of the function's ARN (`AWS_REGION` inside the function).
    pub fn region(&self) -> &str {
        self.arn.split(':').nth(3).filter(|region| !region.is_empty()).unwrap_or(DEFAULT_REGION)
    }

    fn from_definition(name: &str, definition: &Value, base_dir: &Path) -> Result<FunctionSpec, String> {
        let at = |reason: String| format!("functions file: {name:?}: {reason}");
        validate_function_name(name).map_err(at)?;
        let fields = definition.as_object().ok_or_else(|| at("must be a JSON object".to_string()))?;
        reject_unknown_fields(fields).map_err(at)?;
        let string = |field: &str| -> Result<Option<&str>, String> {
            fields.get(field).map(|value| value.as_str().ok_or_else(|| at(format!("\"{field}\" must be a string")))).transpose()
        };
        let bounded = |field: &str, default: u32, (min, max): (u64, u64)| -> Result<u32, String> {
            let Some(value) = fields.get(field) else {
                return Ok(default);
            };
            value
                .as_u64()
                .filter(|number| (min..=max).contains(number))
                .and_then(|number| u32::try_from(number).ok())
                .ok_or_else(|| at(format!("\"{field}\" must be an integer from {min} to {max}")))
        };
        let handler = string("handler")?.ok_or_else(|| at("\"handler\" is required (module.function)".to_string()))?;
        if handler.is_empty() || handler.chars().any(char::is_whitespace) {
            return Err(at(format!("\"handler\" {handler:?} must be module.function, without spaces")));
        }
        let source = match (string("handler_source")?, string("code_dir")?) {
            (Some(code), None) => HandlerSource::Inline(code.to_string()),
            (None, Some(dir)) => HandlerSource::Directory(base_dir.join(dir)),
            _ => return Err(at("needs exactly one of \"handler_source\" (inline code) or \"code_dir\"".to_string())),
        };
        Ok(FunctionSpec {
            name: name.to_string(),
            arn: string("arn")?.map_or_else(|| default_arn(name), str::to_string),
            runtime: Runtime::parse(string("runtime")?.unwrap_or(DEFAULT_PYTHON_RUNTIME)).map_err(at)?,
            handler: handler.to_string(),
            source,
            timeout_seconds: bounded("timeout", DEFAULT_TIMEOUT_SECONDS, TIMEOUT_SECONDS_RANGE)?,
            memory_mb: bounded("memory", DEFAULT_MEMORY_MB, MEMORY_MB_RANGE)?,
            environment: parse_environment(fields.get("environment")).map_err(at)?,
            concurrency: Concurrency {
                reserved: fields.get("reserved_concurrency").map(|_| bounded("reserved_concurrency", 0, CONCURRENCY_RANGE)).transpose()?,
                provisioned: bounded("provisioned_concurrency", 0, CONCURRENCY_RANGE)?,
            },
        })
    }
}

/// The functions a run knows, found the way Lambda's `FunctionName` accepts them: by name, by
/// `name:qualifier`, by partial ARN (`account:function:name`) or by full ARN (qualified or not).
#[derive(Debug, Clone, Default)]
pub struct FunctionSet {
    by_name: HashMap<String, FunctionSpec>,
}

impl FunctionSet {
    pub fn new() -> FunctionSet {
        FunctionSet::default()
    }

    /// Adds a function, replacing (and returning) one of the same name: a `--function` given
    /// after `--functions` overrides the file.
    pub fn insert(&mut self, spec: FunctionSpec) -> Option<FunctionSpec> {
        self.by_name.insert(spec.name.clone(), spec)
    }

    pub fn resolve(&self, function: &str) -> Option<&FunctionSpec> {
        self.by_name.get(function_name_of(function))
    }

    pub fn iter(&self) -> impl Iterator<Item = &FunctionSpec> {
        self.by_name.values()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl FromIterator<FunctionSpec> for FunctionSet {
    fn from_iter<I: IntoIterator<Item = FunctionSpec>>(specs: I) -> FunctionSet {
        let mut set = FunctionSet::new();
        set.extend(specs);
        set
    }
}

impl Extend<FunctionSpec> for FunctionSet {
    fn extend<I: IntoIterator<Item = FunctionSpec>>(&mut self, specs: I) {
        for spec in specs {
            self.insert(spec);
        }
    }
}

/// `arn:aws:lambda:region:account:function:NAME[:qualifier]`, `account:function:NAME[:qualifier]`
/// or `NAME[:qualifier]` -> `NAME`.
fn function_name_of(function: &str) -> &str {
    let unqualified = if function.starts_with("arn:") {
        function.split(':').nth(6).unwrap_or_default()
    } else {
        function.split_once(":function:").map_or(function, |(_, name)| name)
    };
    unqualified.split(':').next().unwrap_or_default()
}

fn default_arn(name: &str) -> String {
    format!("arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{name}")
}

/// Lambda's function name rule: 1 to 64 letters, digits, hyphens or underscores.
fn validate_function_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_FUNCTION_NAME_LENGTH
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!("invalid function name {name:?}: use 1 to {MAX_FUNCTION_NAME_LENGTH} letters, digits, hyphens or underscores"))
    }
}

fn reject_unknown_fields(fields: &Map<String, Value>) -> Result<(), String> {
    const KNOWN: [&str; 11] = [
        "arn",
        "handler",
        "handler_source",
        "code_dir",
        "runtime",
        "timeout",
        "memory",
        "environment",
        "reserved_concurrency",
        "provisioned_concurrency",
        "source_file",
    ];
    match fields.keys().find(|field| !KNOWN.contains(&field.as_str())) {
        Some(unknown) => Err(format!("unknown field {unknown:?} (known: {})", KNOWN.join(", "))),
        None => Ok(()),
    }
}

fn parse_environment(environment: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    let Some(environment) = environment else {
        return Ok(BTreeMap::new());
    };
    let invalid = || "\"environment\" must be an object of string values".to_string();
    environment
        .as_object()
        .ok_or_else(invalid)?
        .iter()
        .map(|(variable, value)| Ok((variable.clone(), value.as_str().ok_or_else(invalid)?.to_string())))
        .collect()
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(definition: &str) -> Result<FunctionSpec, String> {
        let mut specs = FunctionSpec::parse_file(&format!(r#"{{"orders": {definition}}}"#), Path::new("/project"))?;
        Ok(specs.remove(0))
    }

    #[test]
    fn parses_an_inline_python_function() {
        let spec = parse_one(
            r#"{"arn": "arn:aws:lambda:eu-west-1:111111111111:function:orders", "handler": "handler.handler",
                "handler_source": "def handler(event, context):\n    return event\n", "runtime": "python3.12",
                "timeout": 30, "source_file": "templates/id_function.py"}"#,
        )
        .expect("valid definition");
        assert_eq!(
            spec,
            FunctionSpec {
                name: "orders".to_string(),
                arn: "arn:aws:lambda:eu-west-1:111111111111:function:orders".to_string(),
                runtime: Runtime { identifier: "python3.12".to_string(), family: RuntimeFamily::Python },
                handler: "handler.handler".to_string(),
                source: HandlerSource::Inline("def handler(event, context):\n    return event\n".to_string()),
                timeout_seconds: 30,
                memory_mb: DEFAULT_MEMORY_MB,
                environment: BTreeMap::new(),
                concurrency: Concurrency::default(),
            }
        );
        assert_eq!(spec.region(), "eu-west-1");
    }

    #[test]
    fn defaults_follow_lambda() {
        let spec = parse_one(r#"{"handler": "app.main", "code_dir": "src"}"#).expect("valid definition");
        assert_eq!(spec.arn, "arn:aws:lambda:us-east-1:123456789012:function:orders");
        assert_eq!(spec.runtime.identifier(), "python3.12");
        assert_eq!((spec.timeout_seconds, spec.memory_mb), (3, 128));
        assert_eq!(spec.source, HandlerSource::Directory(PathBuf::from("/project/src")));
    }

    #[test]
    fn reads_concurrency() {
        let spec = parse_one(r#"{"handler": "app.main", "code_dir": "src", "reserved_concurrency": 20, "provisioned_concurrency": 2}"#)
            .expect("valid definition");
        assert_eq!(spec.concurrency, Concurrency { reserved: Some(20), provisioned: 2 });
        assert_eq!(parse_one(r#"{"handler": "app.main", "code_dir": "src"}"#).map(|spec| spec.concurrency), Ok(Concurrency::default()));
    }

    #[test]
    fn concurrency_does_not_change_how_a_function_runs() {
        let spec = parse_one(r#"{"handler": "app.main", "code_dir": "src"}"#).expect("valid definition");
        let throttled = FunctionSpec { concurrency: Concurrency { reserved: Some(0), provisioned: 0 }, ..spec.clone() };
        assert!(spec.runs_like(&throttled));
        assert!(!spec.runs_like(&FunctionSpec { memory_mb: 256, ..spec.clone() }));
    }

    #[test]
    fn reads_memory_and_environment() {
        let spec =
            parse_one(r#"{"handler": "app.main", "code_dir": "src", "memory": 512, "environment": {"STAGE": "test"}}"#).expect("valid definition");
        assert_eq!(spec.memory_mb, 512);
        assert_eq!(spec.environment, BTreeMap::from([("STAGE".to_string(), "test".to_string())]));
    }

    #[test]
    fn requires_exactly_one_source() {
        let expected = "functions file: \"orders\": needs exactly one of \"handler_source\" (inline code) or \"code_dir\"";
        assert_eq!(parse_one(r#"{"handler": "app.main"}"#), Err(expected.to_string()));
        assert_eq!(parse_one(r#"{"handler": "app.main", "code_dir": "a", "handler_source": "b"}"#), Err(expected.to_string()));
    }

    #[test]
    fn requires_a_handler() {
        assert_eq!(parse_one(r#"{"code_dir": "src"}"#), Err("functions file: \"orders\": \"handler\" is required (module.function)".to_string()));
    }

    #[test]
    fn rejects_a_timeout_outside_lambda_limits() {
        for timeout in ["0", "901", "2.5", "\"30\""] {
            assert_eq!(
                parse_one(&format!(r#"{{"handler": "app.main", "code_dir": "src", "timeout": {timeout}}}"#)),
                Err("functions file: \"orders\": \"timeout\" must be an integer from 1 to 900".to_string()),
                "timeout {timeout}"
            );
        }
    }

    #[test]
    fn rejects_unsupported_runtimes() {
        assert_eq!(
            parse_one(r#"{"handler": "app.main", "code_dir": "src", "runtime": "java21"}"#),
            Err("functions file: \"orders\": unsupported runtime \"java21\": expected a Python (\"python3.12\"), Node.js (\"nodejs20.x\") or OS-only (\"provided.al2023\") runtime"
                .to_string())
        );
    }

    #[test]
    fn rejects_unknown_fields() {
        assert_eq!(
            parse_one(r#"{"handler": "app.main", "code_dir": "src", "timout": 3}"#),
            Err("functions file: \"orders\": unknown field \"timout\" (known: arn, handler, handler_source, code_dir, runtime, timeout, memory, environment, reserved_concurrency, provisioned_concurrency, source_file)".to_string())
        );
    }

    #[test]
    fn rejects_invalid_function_names() {
        assert_eq!(
            FunctionSpec::parse_file(r#"{"my function": {"handler": "a.b", "code_dir": "."}}"#, Path::new(".")),
            Err("functions file: \"my function\": invalid function name \"my function\": use 1 to 64 letters, digits, hyphens or underscores"
                .to_string())
        );
    }

    #[test]
    fn rejects_a_file_that_is_not_an_object() {
        assert_eq!(
            FunctionSpec::parse_file("[]", Path::new(".")),
            Err("functions file: must be a JSON object mapping function names to their definitions".to_string())
        );
    }

    #[test]
    fn parses_a_cli_python_function() {
        let spec = FunctionSpec::parse_cli("orders=src/app/orders.py:handle").expect("valid argument");
        assert_eq!(spec.name, "orders");
        assert_eq!(spec.handler, "orders.handle");
        assert_eq!(spec.runtime.family(), RuntimeFamily::Python);
        assert_eq!(spec.source, HandlerSource::Directory(PathBuf::from("src/app")));
    }

    #[test]
    fn a_cli_file_without_directory_lives_in_the_current_one() {
        let spec = FunctionSpec::parse_cli("orders=index.mjs:handler").expect("valid argument");
        assert_eq!(spec.handler, "index.handler");
        assert_eq!(spec.runtime.identifier(), "nodejs20.x");
        assert_eq!(spec.source, HandlerSource::Directory(PathBuf::from(".")));
    }

    #[test]
    fn rejects_malformed_cli_functions() {
        for argument in ["orders", "orders=src/orders.py", "orders=src/orders.py:", "=x.py:h"] {
            let error = FunctionSpec::parse_cli(argument).expect_err("invalid argument");
            assert!(error.starts_with(&format!("--function {argument:?}: ")), "{error}");
        }
        assert_eq!(
            FunctionSpec::parse_cli("orders=orders.rb:handler"),
            Err("--function \"orders=orders.rb:handler\": the handler file must be a Python (.py) or JavaScript (.js, .mjs, .cjs) file".to_string())
        );
    }

    #[test]
    fn resolves_every_form_of_function_name() {
        let functions: FunctionSet = [FunctionSpec::parse_cli("orders=orders.py:handler").expect("valid argument")].into_iter().collect();
        for name in [
            "orders",
            "orders:live",
            "123456789012:function:orders",
            "arn:aws:lambda:us-east-1:123456789012:function:orders",
            "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
        ] {
            assert_eq!(functions.resolve(name).map(|spec| spec.name.as_str()), Some("orders"), "{name}");
        }
        assert!(functions.resolve("billing").is_none());
        assert!(functions.resolve("arn:aws:lambda:us-east-1:123456789012:function").is_none());
    }

    #[test]
    fn recognizes_runtime_families() {
        assert_eq!(Runtime::parse("python3.9").map(|runtime| runtime.family()), Ok(RuntimeFamily::Python));
        assert_eq!(Runtime::parse("nodejs18.x").map(|runtime| runtime.family()), Ok(RuntimeFamily::Node));
        assert!(Runtime::parse("python2.7").is_err());
        assert!(Runtime::parse("nodejs.x").is_err());
        assert_eq!(Runtime::parse("provided.al2023").map(|runtime| runtime.family()), Ok(RuntimeFamily::Provided));
        assert!(Runtime::parse("provided.al3").is_err());
    }
}
