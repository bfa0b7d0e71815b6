//! JSONata query language: `{% ... %}` expressions inside any JSON value (Arguments, Output, Assign,
//! Condition, Items, ...), with `$states` and workflow variables bound, plus AWS's extra functions.
//!
//! Templates are parsed once ([`JsonataTemplate::compile`]); each evaluation binds only what the
//! template's expressions mention (`$states` members and workflow variables found by scanning their
//! text), so evaluating `{% $states.input.id %}` never converts the context object or unrelated
//! variables.

use crate::{Failure, Variables};
use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions, HostFnResult};
use jsonata_core::value::{with_stack, JArray, JMap, JValue};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;

/// The host's handle to stop an evaluation (see [`Environment::cancel`]).
pub use jsonata_core::evaluator::CancelToken;

const OPEN: &str = "{%";
const CLOSE: &str = "%}";

/// Deeper templates are refused at compile time, so walking one recurses a bounded number of times.
const MAX_TEMPLATE_DEPTH: usize = 512;
/// Deeper results fail the evaluation: anything downstream (serialization, drop) recurses on them.
const MAX_RESULT_DEPTH: usize = 512;
/// Integral doubles below this magnitude come back as JSON integers, as AWS writes them (the
/// largest magnitude a Java `long` holds).
const LARGEST_INTEGER: f64 = 9.223_372_036_854_776e18;
/// The most elements `$range` may produce (JSONata's own bound for the `..` range operator).
const MAX_RANGE_LENGTH: i128 = 10_000_000;

/// True when a string is a JSONata expression: it starts with `{%` and ends with `%}` (AWS's rule;
/// surrounding whitespace makes it a literal).
pub fn is_expression(text: &str) -> bool {
    text.len() >= OPEN.len() + CLOSE.len() && text.starts_with(OPEN) && text.ends_with(CLOSE)
}

/// A JSON value whose strings may be `{% expr %}`, compiled once.
#[derive(Debug, Clone)]
pub struct JsonataTemplate {
    root: Node,
    references: References,
}

#[derive(Debug, Clone)]
enum Node {
    /// A subtree without expressions, returned as written.
    Literal(Value),
    Expression(Expression),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
}

#[derive(Debug, Clone)]
struct Expression {
    /// The text between the delimiters, trimmed, as AWS quotes it in error messages.
    source: String,
    ast: AstNode,
}

/// Everything an evaluation reads. This crate has no clock and no entropy of its own: the host
/// may pin the time `$now()`/`$millis()` see and seed `$random()`/`$uuid()` (for replay).
#[derive(Debug, Clone, Copy)]
pub struct Environment<'a> {
    /// The `$states` object: {input, context, result?, errorOutput?}.
    pub states: &'a Value,
    pub variables: &'a Variables,
    /// Milliseconds since the epoch for `$now()`/`$millis()`. Default: the context's
    /// `State.EnteredTime` (else `Execution.StartTime`, else the epoch).
    pub now_millis: Option<i64>,
    /// Seed of `$random()` (without argument) and `$uuid()`. Default: fresh randomness.
    pub random_seed: Option<u64>,
    /// Lets the host stop a runaway expression (`$f := function() { $f() }; $f()` never ends):
    /// once cancelled, evaluation fails with "U1003: Evaluation cancelled".
    pub cancel: Option<&'a CancelToken>,
}

impl<'a> Environment<'a> {
    pub fn new(states: &'a Value, variables: &'a Variables) -> Self {
        Environment { states, variables, now_millis: None, random_seed: None, cancel: None }
    }
}

/// A failed evaluation and where it happened: `location` is the field path AWS reports in the
/// `EvaluationFailed` event ("Output/result", "Items", "Arguments/list[2]").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationFailure {
    pub location: String,
    pub failure: Failure,
}

impl From<EvaluationFailure> for Failure {
    fn from(failure: EvaluationFailure) -> Failure {
        failure.failure
    }
}

impl JsonataTemplate {
    /// Parses every `{% %}` string of `template`. Errors name the expression and JSONata's parser
    /// message (e.g. "The JSONata expression '(' is invalid: S0207: Unexpected end of expression").
    pub fn compile(template: &Value) -> Result<JsonataTemplate, String> {
        let mut references = References::default();
        let root = Node::compile(template, &mut references, 0)?;
        Ok(JsonataTemplate { root, references })
    }

    /// The expression's text when the whole template is one `{% expr %}` string (for messages).
    pub fn source(&self) -> Option<&str> {
        match &self.root {
            Node::Expression(expression) => Some(&expression.source),
            _ => None,
        }
    }

    /// `states` is the `$states` object ({input, context, result?, errorOutput?}). `field` names the
    /// field for error messages ("Output", "Arguments", "Assign/x"); nested keys extend it
    /// ("Output/result"). Failures: States.QueryEvaluationError with AWS's message (without the
    /// "An error occurred while executing the state ..." prefix, which the interpreter adds).
    pub fn evaluate(&self, states: &Value, variables: &Variables, field: &str) -> Result<Value, Failure> {
        self.evaluate_in(&Environment::new(states, variables), field).map_err(Failure::from)
    }

    /// [`evaluate`](Self::evaluate) with the host's clock, seed and cancellation, reporting where it
    /// failed.
    pub fn evaluate_in(&self, environment: &Environment, field: &str) -> Result<Value, EvaluationFailure> {
        let mut session = Session::new(environment, &self.references);
        self.root.evaluate(&mut session, &FieldPath::Field(field))
    }
}

impl Node {
    fn compile(template: &Value, references: &mut References, depth: usize) -> Result<Node, String> {
        if depth > MAX_TEMPLATE_DEPTH {
            return Err(format!("The JSONata template is nested more than {MAX_TEMPLATE_DEPTH} levels deep"));
        }
        let node = match template {
            Value::String(text) if is_expression(text) => Node::Expression(Expression::compile(text, references)?),
            Value::Object(entries) => Node::Object(
                entries
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), Node::compile(value, references, depth + 1)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Value::Array(items) => Node::Array(
                items.iter().map(|item| Node::compile(item, references, depth + 1)).collect::<Result<_, _>>()?,
            ),
            literal => return Ok(Node::Literal(literal.clone())),
        };
        // Children are compiled bottom-up, so a literal subtree is already one `Literal` node.
        let all_literal = match &node {
            Node::Object(entries) => entries.iter().all(|(_, node)| node.is_literal()),
            Node::Array(items) => items.iter().all(Node::is_literal),
            Node::Literal(_) | Node::Expression(_) => false,
        };
        Ok(if all_literal { Node::Literal(template.clone()) } else { node })
    }

    fn is_literal(&self) -> bool {
        matches!(self, Node::Literal(_))
    }

    fn evaluate(&self, session: &mut Session, path: &FieldPath) -> Result<Value, EvaluationFailure> {
        match self {
            Node::Literal(value) => Ok(value.clone()),
            Node::Expression(expression) => session.evaluate(expression, path),
            Node::Object(entries) => {
                let mut object = Map::with_capacity(entries.len());
                for (key, node) in entries {
                    object.insert(key.clone(), node.evaluate(session, &FieldPath::Key(path, key))?);
                }
                Ok(Value::Object(object))
            }
            Node::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, node)| node.evaluate(session, &FieldPath::Index(path, index)))
                .collect::<Result<_, _>>()
                .map(Value::Array),
        }
    }
}

impl Expression {
    fn compile(text: &str, references: &mut References) -> Result<Expression, String> {
        let source = text[OPEN.len()..text.len() - CLOSE.len()].trim();
        let ast = jsonata_core::parser::parse(source)
            .map_err(|error| format!("The JSONata expression '{source}' is invalid: {error}"))?;
        references.scan(source);
        Ok(Expression { source: source.to_string(), ast })
    }
}

/// What a template's expressions may read, found by scanning their text for `$name`. A superset
/// (a `$name` inside a string literal counts too) is harmless: binding only needs to miss nothing,
/// and JSONata can reach a variable only by writing its name (AWS disables `$eval`).
#[derive(Debug, Clone, Default)]
struct References {
    states: StatesUse,
    variables: BTreeSet<String>,
}

/// Which part of `$states` to bind: converting the context object (which repeats the execution
/// input) for every `$states.input.x` would double the work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum StatesUse {
    #[default]
    Unused,
    Members(BTreeSet<String>),
    Whole,
}

impl References {
    fn scan(&mut self, source: &str) {
        let mut rest = source;
        while let Some(dollar) = rest.find('$') {
            rest = &rest[dollar + 1..];
            let name = leading_name(rest);
            rest = &rest[name.len()..];
            if name == "states" {
                let member = rest.strip_prefix('.').map(leading_name).unwrap_or_default();
                self.use_states(member);
            } else if !name.is_empty() {
                self.variables.insert(name.to_string());
            }
        }
    }

    /// Records a use of `$states.<member>`, or of all of `$states` when `member` is empty.
    fn use_states(&mut self, member: &str) {
        match &mut self.states {
            StatesUse::Whole => {}
            _ if member.is_empty() => self.states = StatesUse::Whole,
            StatesUse::Members(members) => {
                members.insert(member.to_string());
            }
            StatesUse::Unused => self.states = StatesUse::Members(BTreeSet::from([member.to_string()])),
        }
    }
}

/// The identifier at the start of `text` (AWS variable names are letters, digits and `_`).
fn leading_name(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// A field name extended by object keys ("Output/result") and array indexes ("Items[1]"), rendered
/// only when an evaluation fails.
enum FieldPath<'a> {
    Field(&'a str),
    Key(&'a FieldPath<'a>, &'a str),
    Index(&'a FieldPath<'a>, usize),
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Field(field) => f.write_str(field),
            FieldPath::Key(parent, key) => write!(f, "{parent}/{key}"),
            FieldPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// One evaluation of a template: its JSONata evaluator, with the bindings and AWS's functions,
/// is made when the first expression runs and shared by the others (each expression still runs
/// in its own scope, so `$x := 1` in one is not seen by the next).
struct Session<'a> {
    environment: &'a Environment<'a>,
    references: &'a References,
    evaluator: Option<Evaluator>,
}

impl<'a> Session<'a> {
    fn new(environment: &'a Environment<'a>, references: &'a References) -> Self {
        Session { environment, references, evaluator: None }
    }

    fn evaluate(&mut self, expression: &Expression, path: &FieldPath) -> Result<Value, EvaluationFailure> {
        let fail = |problem: String| EvaluationFailure {
            location: path.to_string(),
            failure: Failure::query_evaluation(format!(
                "The JSONata expression '{}' specified for the field '{path}' {problem}",
                expression.source
            )),
        };
        let threw = |error: EvaluatorError| fail(format!("threw an error during evaluation. {}", aws_message(&error)));
        let result = match self.evaluator() {
            Ok(evaluator) => evaluator.evaluate(&expression.ast, &JValue::Undefined).map_err(threw)?,
            Err(error) => return Err(threw(error)),
        };
        match result {
            JValue::Undefined => Err(fail("returned nothing (undefined).".to_string())),
            JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => {
                Err(fail("returned an unsupported result type.".to_string()))
            }
            value => to_json(&value, 0).ok_or_else(|| {
                fail(format!(
                    "threw an error during evaluation. The result is nested more than {MAX_RESULT_DEPTH} levels deep"
                ))
            }),
        }
    }

    fn evaluator(&mut self) -> Result<&mut Evaluator, EvaluatorError> {
        let evaluator = match self.evaluator.take() {
            Some(evaluator) => evaluator,
            None => self.build_evaluator()?,
        };
        Ok(self.evaluator.insert(evaluator))
    }

    fn build_evaluator(&self) -> Result<Evaluator, EvaluatorError> {
        let environment = self.environment;
        let mut context = Context::new();
        for name in &self.references.variables {
            if let Some(value) = environment.variables.get(name) {
                context.bind(name.clone(), to_jsonata(value));
            }
        }
        // Bound last: `$states` is reserved, whatever the variables hold.
        let states = match &self.references.states {
            StatesUse::Unused => None,
            StatesUse::Whole => Some(to_jsonata(environment.states)),
            StatesUse::Members(members) => Some(JValue::Object(Rc::new(
                members
                    .iter()
                    .filter_map(|member| Some((member.clone(), to_jsonata(environment.states.get(member)?))))
                    .collect::<JMap>(),
            ))),
        };
        if let Some(states) = states {
            context.bind("states".to_string(), states);
        }
        let options = EvaluatorOptions { cancel: environment.cancel.cloned(), ..EvaluatorOptions::default() };
        let mut evaluator = Evaluator::with_options(context, options);
        register_aws_functions(&mut evaluator, environment)?;
        Ok(evaluator)
    }
}

/// jsonata-core names the missing function in T1006 ("...: $name"); jsonata-js, whose messages
/// AWS reports, does not.
fn aws_message(error: &EvaluatorError) -> String {
    const NOT_A_FUNCTION: &str = "T1006: Attempted to invoke a non-function";
    let message = error.message();
    match message.strip_prefix(NOT_A_FUNCTION) {
        Some(rest) if rest.starts_with(": $") => NOT_A_FUNCTION.to_string(),
        _ => message.to_string(),
    }
}

/// serde_json value to JSONata value, without cloning the source first.
fn to_jsonata(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::Null,
        Value::Bool(flag) => JValue::Bool(*flag),
        Value::Number(number) => JValue::Number(number.as_f64().unwrap_or(f64::NAN)),
        Value::String(text) => JValue::string(text.as_str()),
        Value::Array(items) => with_stack(|| {
            // "Flat" (no nested array) lets JSONata path steps skip a scan; false is always safe.
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(items.iter().map(to_jsonata).collect(), flat))
        }),
        Value::Object(entries) => with_stack(|| {
            JValue::Object(Rc::new(entries.iter().map(|(key, value)| (key.clone(), to_jsonata(value))).collect()))
        }),
    }
}

/// JSONata value to JSON, as AWS writes it: integral numbers as integers, non-finite numbers as
/// JavaScript names them ("Infinity", "NaN"), and inside containers undefined and functions
/// dropped from objects and null in arrays (JSON.stringify). None when nested too deeply.
fn to_json(value: &JValue, depth: usize) -> Option<Value> {
    if depth > MAX_RESULT_DEPTH {
        return None;
    }
    Some(match value {
        JValue::Null | JValue::Undefined | JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => {
            Value::Null
        }
        JValue::Bool(flag) => Value::Bool(*flag),
        JValue::Number(number) => number_to_json(*number),
        JValue::String(text) => Value::String(text.to_string()),
        JValue::Array(items) => Value::Array(items.iter().map(|item| to_json(item, depth + 1)).collect::<Option<_>>()?),
        JValue::Object(entries) => Value::Object(
            entries
                .iter()
                .filter(|(_, value)| is_json_value(value))
                .map(|(key, value)| Some((key.clone(), to_json(value, depth + 1)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

fn is_json_value(value: &JValue) -> bool {
    !matches!(value, JValue::Undefined | JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. })
}

fn number_to_json(number: f64) -> Value {
    if number.is_nan() {
        Value::String("NaN".to_string())
    } else if number.is_infinite() {
        Value::String(if number > 0.0 { "Infinity" } else { "-Infinity" }.to_string())
    } else if number.fract() == 0.0 && number.abs() < LARGEST_INTEGER {
        // Exact: the value is integral and within i64 range.
        Value::from(number as i64)
    } else {
        serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
    }
}

/// AWS's additions ($partition, $range, $hash, $random with a seed, $uuid, $parse), `$eval`
/// disabled, and `$now`/`$millis` read from the environment instead of the system clock.
fn register_aws_functions(evaluator: &mut Evaluator, environment: &Environment) -> Result<(), EvaluatorError> {
    let rng = Rc::new(RefCell::new(match environment.random_seed {
        Some(seed) => fastrand::Rng::with_seed(seed),
        None => fastrand::Rng::new(),
    }));
    let now_millis = environment.now_millis.unwrap_or_else(|| context_time_millis(environment.states));

    evaluator.register_fn("partition", partition)?;
    evaluator.register_fn("range", range)?;
    evaluator.register_fn("hash", hash)?;
    evaluator.register_fn("parse", parse)?;
    let uuid_rng = Rc::clone(&rng);
    evaluator.register_fn("uuid", move |_: &[JValue]| uuid(&uuid_rng))?;
    evaluator.register_fn_override("random", move |args: &[JValue]| random(args, &rng))?;
    evaluator.register_fn_override("eval", |_: &[JValue]| {
        // As if it did not exist, which is how AWS's JSONata reports it.
        Err(EvaluatorError::TypeError("T1006: Attempted to invoke a non-function".to_string()))
    })?;
    evaluator.register_fn_override("millis", move |_: &[JValue]| Ok(JValue::Number(now_millis as f64)))?;
    evaluator.register_fn_override("now", move |args: &[JValue]| now(now_millis, args))?;
    Ok(())
}

/// The state's entry time, the closest the pure core has to "now".
fn context_time_millis(states: &Value) -> i64 {
    ["/context/State/EnteredTime", "/context/Execution/StartTime"]
        .iter()
        .filter_map(|pointer| states.pointer(pointer)?.as_str())
        .find_map(|time| chrono::DateTime::parse_from_rfc3339(time).ok())
        .map_or(0, |time| time.timestamp_millis())
}

fn signature_error(function: &str, argument: usize) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument {argument} of function \"{function}\" does not match function signature"
    ))
}

fn evaluation_error(message: impl Into<String>) -> EvaluatorError {
    EvaluatorError::EvaluationError(message.into())
}

/// The argument at `index`, None when it was not given or is undefined.
fn argument(args: &[JValue], index: usize) -> Option<&JValue> {
    args.get(index).filter(|value| !value.is_undefined())
}

/// A numeric argument rounded towards zero, as AWS reads its integer arguments.
fn integer_argument(args: &[JValue], index: usize, function: &str) -> Result<Option<i64>, EvaluatorError> {
    match argument(args, index) {
        None => Ok(None),
        // `as` saturates (and maps NaN to 0): no overflow on any input.
        Some(JValue::Number(number)) => Ok(Some(number.trunc() as i64)),
        Some(_) => Err(signature_error(function, index + 1)),
    }
}

/// `$partition(array, size)`: the array in chunks of `size` items, the last one shorter.
fn partition(args: &[JValue]) -> HostFnResult {
    let items = match argument(args, 0) {
        None => return Ok(JValue::Undefined),
        Some(JValue::Array(items)) => items,
        Some(_) => {
            return Err(EvaluatorError::TypeError(
                "T0412: Argument 1 of function \"partition\" must be an array of undefined".to_string(),
            ))
        }
    };
    if items.is_empty() {
        return Ok(JValue::Undefined);
    }
    let size = match integer_argument(args, 1, "partition")? {
        None => items.len(),
        Some(size) if size < 0 => return Err(evaluation_error("D3137: Second argument must be zero or greater")),
        Some(0) => return Ok(JValue::Undefined),
        Some(size) => usize::try_from(size).unwrap_or(usize::MAX),
    };
    Ok(JValue::array(items.chunks(size).map(|chunk| JValue::array(chunk.to_vec())).collect()))
}

/// `$range(start, end, step)`: start, start + step, ... up to end. A JSONata sequence, so one
/// value comes back bare and none as undefined, as on AWS.
fn range(args: &[JValue]) -> HostFnResult {
    let bound = |index| integer_argument(args, index, "range")?.ok_or_else(|| signature_error("range", index + 1));
    let (start, end) = (bound(0)?, bound(1)?);
    let step = match integer_argument(args, 2, "range")? {
        None | Some(0) => return Ok(JValue::Undefined),
        Some(step) => step,
    };
    let span = i128::from(end) - i128::from(start);
    if span != 0 && (span > 0) != (step > 0) {
        return Ok(JValue::Undefined);
    }
    let length = span / i128::from(step) + 1;
    if length > MAX_RANGE_LENGTH {
        return Err(evaluation_error(format!(
            "D2014: The size of the sequence allocated by $range must not exceed 1e7. Attempted to allocate {length}."
        )));
    }
    let values = (0..length).map(|offset| JValue::Number((i128::from(start) + offset * i128::from(step)) as f64));
    Ok(JValue::sequence(values.collect()))
}

/// `$hash(text, algorithm)`: the lowercase hex digest.
fn hash(args: &[JValue]) -> HostFnResult {
    use sha2::Digest;
    let Some(text) = argument(args, 0).and_then(JValue::as_str) else {
        return Err(signature_error("hash", 1));
    };
    let algorithm = match argument(args, 1) {
        None => return Ok(JValue::Undefined),
        Some(algorithm) => algorithm.as_str().ok_or_else(|| signature_error("hash", 2))?,
    };
    let bytes = text.as_bytes();
    let digest = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(evaluation_error(format!(
                "D3137: Hash algorithm '{other}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
            )))
        }
    };
    Ok(JValue::string(digest.iter().map(|byte| format!("{byte:02x}")).collect::<String>()))
}

/// `$random([seed])`: a number in [0, 1). Seeded, it is the first `nextDouble()` of a
/// `java.util.Random` with that seed, which is what AWS returns.
fn random(args: &[JValue], rng: &RefCell<fastrand::Rng>) -> HostFnResult {
    match integer_argument(args, 0, "random")? {
        Some(seed) => Ok(JValue::Number(JavaRandom::new(seed).next_double())),
        None => Ok(JValue::Number(borrow_rng(rng)?.f64())),
    }
}

/// `$uuid()`: a random version 4 UUID.
fn uuid(rng: &RefCell<fastrand::Rng>) -> HostFnResult {
    let mut bytes = [0u8; 16];
    borrow_rng(rng)?.fill(&mut bytes);
    Ok(JValue::string(uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()))
}

fn borrow_rng(rng: &RefCell<fastrand::Rng>) -> Result<std::cell::RefMut<'_, fastrand::Rng>, EvaluatorError> {
    rng.try_borrow_mut().map_err(|_| evaluation_error("The random generator is already in use"))
}

/// `$parse(json)`: the value a JSON string holds. Strict like AWS: no trailing text, no repeated key.
fn parse(args: &[JValue]) -> HostFnResult {
    let text = match argument(args, 0) {
        None => return Ok(JValue::Undefined),
        Some(text) => text.as_str().ok_or_else(|| signature_error("parse", 1))?,
    };
    serde_json::from_str::<StrictJson>(text).map(|json| json.0).map_err(|_| evaluation_error("D3137: Invalid JSON"))
}

/// `$now([picture [, timezone]])`: the environment's time, formatted by JSONata's `$fromMillis`.
fn now(millis: i64, args: &[JValue]) -> HostFnResult {
    let format = jsonata_core::parser::parse("$fromMillis($millis, $picture, $timezone)")
        .map_err(|error| evaluation_error(error.to_string()))?;
    let mut context = Context::new();
    context.bind("millis".to_string(), JValue::Number(millis as f64));
    context.bind("picture".to_string(), args.first().cloned().unwrap_or(JValue::Undefined));
    context.bind("timezone".to_string(), args.get(1).cloned().unwrap_or(JValue::Undefined));
    Evaluator::with_context(context).evaluate(&format, &JValue::Undefined)
}

/// `java.util.Random`'s generator, for AWS's seeded `$random`.
struct JavaRandom(u64);

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom((seed as u64 ^ Self::MULTIPLIER) & Self::MASK)
    }

    fn next(&mut self, bits: u32) -> u64 {
        self.0 = self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB) & Self::MASK;
        self.0 >> (48 - bits)
    }

    fn next_double(&mut self) -> f64 {
        let high = self.next(26) << 27;
        (high + self.next(27)) as f64 / (1u64 << 53) as f64
    }
}

/// A JSON document read straight into a JSONata value, refusing repeated object keys.
struct StrictJson(JValue);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictJsonVisitor).map(StrictJson)
    }
}

struct StrictJsonVisitor;

impl<'de> serde::de::Visitor<'de> for StrictJsonVisitor {
    type Value = JValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<JValue, E> {
        Ok(JValue::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<JValue, E> {
        Ok(JValue::Number(number as f64))
    }

    fn visit_u64<E>(self, number: u64) -> Result<JValue, E> {
        Ok(JValue::Number(number as f64))
    }

    fn visit_f64<E>(self, number: f64) -> Result<JValue, E> {
        Ok(JValue::Number(number))
    }

    fn visit_str<E>(self, text: &str) -> Result<JValue, E> {
        Ok(JValue::string(text))
    }

    fn visit_unit<E>(self) -> Result<JValue, E> {
        Ok(JValue::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<JValue, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(JValue::array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<JValue, A::Error> {
        let mut entries = JMap::default();
        while let Some((key, StrictJson(value))) = map.next_entry::<String, StrictJson>()? {
            if entries.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key}")));
            }
            entries.insert(key, value);
        }
        Ok(JValue::Object(Rc::new(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn states() -> Value {
        json!({
            "input": {"name": "Ada", "items": [1, 2, 3], "nested": {"deep": true}},
            "context": {"State": {"Name": "S", "EnteredTime": "2024-01-02T03:04:05.678Z"}}
        })
    }

    fn variables() -> Variables {
        let mut variables = Variables::new();
        variables.set("count".to_string(), json!(41));
        variables.set("label".to_string(), json!("x"));
        variables
    }

    fn run(template: Value) -> Result<Value, Failure> {
        JsonataTemplate::compile(&template).map_err(Failure::query_evaluation)?.evaluate(
            &states(),
            &variables(),
            "Output",
        )
    }

    fn eval(expression: &str) -> Result<Value, Failure> {
        run(Value::String(format!("{{% {expression} %}}")))
    }

    fn cause(expression: &str) -> String {
        match eval(expression) {
            Ok(value) => panic!("{expression} returned {value}"),
            Err(failure) => {
                assert_eq!(failure.error, "States.QueryEvaluationError");
                failure.cause.unwrap_or_default()
            }
        }
    }

    fn threw(expression: &str, message: &str) -> String {
        format!(
            "The JSONata expression '{expression}' specified for the field 'Output' threw an error during evaluation. {message}"
        )
    }

    #[test]
    fn templates_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<JsonataTemplate>();
    }

    #[test]
    fn the_host_can_cancel_a_runaway_expression() {
        let template = JsonataTemplate::compile(&json!("{% ($f := function() { $f() }; $f()) %}")).unwrap();
        let (states, variables, cancel) = (states(), Variables::new(), CancelToken::new());
        cancel.cancel();
        let environment = Environment { cancel: Some(&cancel), ..Environment::new(&states, &variables) };
        let failure = template.evaluate_in(&environment, "Output").unwrap_err();
        assert!(failure
            .failure
            .cause
            .unwrap_or_default()
            .ends_with("threw an error during evaluation. U1003: Evaluation cancelled"));
    }

    #[test]
    fn expressions_are_exactly_delimited_strings() {
        assert!(is_expression("{% $x %}"));
        assert!(is_expression("{%$x%}"));
        assert!(!is_expression(" {% $x %}"));
        assert!(!is_expression("{% $x %} "));
        assert!(!is_expression("{%}"));
        assert!(!is_expression("$states.input"));
    }

    #[test]
    fn literals_come_back_as_written() {
        let template = json!({"int": 0, "float": 0.1, "one": 1.0, "text": " {% $x %} ", "list": [null, true, "$.a"]});
        assert_eq!(run(template.clone()), Ok(template));
    }

    #[test]
    fn expressions_are_evaluated_inside_objects_and_arrays() {
        let template = json!({"who": "{% $states.input.name %}", "list": [1, "{% $count + 1 %}"], "fixed": "a"});
        assert_eq!(run(template), Ok(json!({"who": "Ada", "list": [1, 42], "fixed": "a"})));
    }

    #[test]
    fn states_and_variables_are_bound() {
        assert_eq!(eval("$states.input.items"), Ok(json!([1, 2, 3])));
        assert_eq!(eval("$states.context.State.Name & $label"), Ok(json!("Sx")));
        assert_eq!(eval("$sum($states.input.items) + $count"), Ok(json!(47)));
        assert_eq!(eval("$states"), Ok(states()));
    }

    #[test]
    fn outer_scope_variables_are_visible() {
        let mut inner = Variables::nested(std::sync::Arc::new(variables()));
        inner.set("label".to_string(), json!("inner"));
        let template = JsonataTemplate::compile(&json!("{% $label & $count %}")).unwrap();
        assert_eq!(template.evaluate(&states(), &inner, "Output"), Ok(json!("inner41")));
    }

    #[test]
    fn only_referenced_states_members_and_variables_are_scanned() {
        let mut references = References::default();
        references.scan("$states.input.a & $myVar & '$quoted' & $$ & $");
        assert_eq!(references.states, StatesUse::Members(BTreeSet::from(["input".to_string()])));
        assert_eq!(references.variables, BTreeSet::from(["myVar".to_string(), "quoted".to_string()]));
        references.scan("$lookup($states, 'context')");
        assert_eq!(references.states, StatesUse::Whole);
    }

    #[test]
    fn assignments_do_not_leak_between_fields() {
        let template = json!({"a": "{% $x := 5 %}", "b": "{% $exists($x) %}"});
        assert_eq!(run(template), Ok(json!({"a": 5, "b": false})));
    }

    #[test]
    fn undefined_results_fail_with_the_field_path() {
        let expected = |field: &str| {
            Failure::query_evaluation(format!(
                "The JSONata expression '$doesNotExist' specified for the field '{field}' returned nothing (undefined)."
            ))
        };
        assert_eq!(eval("$doesNotExist"), Err(expected("Output")));
        assert_eq!(run(json!({"result": "{% $doesNotExist %}"})), Err(expected("Output/result")));
        assert_eq!(run(json!({"a": [0, {"b": "{% $doesNotExist %}"}]})), Err(expected("Output/a[1]/b")));
    }

    #[test]
    fn failures_carry_their_location() {
        let template = JsonataTemplate::compile(&json!({"list": ["{% $nothing %}"]})).unwrap();
        let (states, variables) = (states(), Variables::new());
        let failure = template.evaluate_in(&Environment::new(&states, &variables), "Arguments").unwrap_err();
        assert_eq!(failure.location, "Arguments/list[0]");
    }

    #[test]
    fn evaluation_errors_quote_jsonata() {
        assert_eq!(
            cause("$randomSeeded($states.input.name)"),
            threw("$randomSeeded($states.input.name)", "T1006: Attempted to invoke a non-function")
        );
        assert_eq!(
            cause("$states.input.name + 1"),
            threw("$states.input.name + 1", "T2001: The left side of the + operator must evaluate to a number")
        );
    }

    #[test]
    fn eval_is_disabled() {
        assert_eq!(cause("$eval('1')"), threw("$eval('1')", "T1006: Attempted to invoke a non-function"));
    }

    #[test]
    fn functions_are_an_unsupported_result() {
        assert_eq!(
            cause("function($x) { $x }"),
            "The JSONata expression 'function($x) { $x }' specified for the field 'Output' returned an unsupported result type."
        );
        assert_eq!(eval("{'f': function() { 1 }, 'a': 1}"), Ok(json!({"a": 1})));
    }

    #[test]
    fn numbers_are_written_as_aws_writes_them() {
        assert_eq!(eval("$number('2')"), Ok(json!(2)));
        assert_eq!(eval("2.0").unwrap().to_string(), "2");
        assert_eq!(eval("7 / 2"), Ok(json!(3.5)));
        assert_eq!(eval("1 / 0"), Ok(json!("Infinity")));
        assert_eq!(eval("[-1 / 0]"), Ok(json!(["-Infinity"])));
    }

    #[test]
    fn regular_expressions_work() {
        assert_eq!(eval(r#"$contains("hello$world", /^hello\$/)"#), Ok(json!(true)));
        assert_eq!(eval(r"$contains('hello$world', /^hello\ /)"), Ok(json!(false)));
    }

    #[test]
    fn results_nested_too_deeply_fail() {
        let expression = "$reduce([1..600], function($acc, $item) { {'a': $acc} }, 0)";
        assert_eq!(cause(expression), threw(expression, "The result is nested more than 512 levels deep"));
    }

    #[test]
    fn invalid_expressions_fail_to_compile() {
        assert_eq!(
            JsonataTemplate::compile(&json!({"a": ["{% ( %}"]})).unwrap_err(),
            "The JSONata expression '(' is invalid: S0207: Unexpected end of expression"
        );
    }

    #[test]
    fn templates_nested_too_deeply_fail_to_compile() {
        let mut template = json!("{% 1 %}");
        for _ in 0..=MAX_TEMPLATE_DEPTH {
            template = json!([template]);
        }
        assert!(JsonataTemplate::compile(&template).is_err());
    }

    #[test]
    fn source_is_the_text_of_a_whole_template_expression() {
        let source = |template: Value| JsonataTemplate::compile(&template).unwrap().source().map(str::to_string);
        assert_eq!(source(json!("{%  $states.input.items  %}")), Some("$states.input.items".to_string()));
        assert_eq!(source(json!(["{% $x %}"])), None);
        assert_eq!(source(json!("literal")), None);
    }

    #[test]
    fn partition_splits_into_chunks() {
        assert_eq!(eval("$partition([0], 1)"), Ok(json!([[0]])));
        assert_eq!(eval("$partition([0, 1, 2, 3], 3)"), Ok(json!([[0, 1, 2], [3]])));
        assert_eq!(eval("$partition([0, 1], 5)"), Ok(json!([[0, 1]])));
        assert_eq!(eval("$partition([0, 1])"), Ok(json!([[0, 1]])));
        assert_eq!(eval("$partition([0, 1], 2.9)"), Ok(json!([[0, 1]])));
        assert!(cause("$partition([], 2)").ends_with("returned nothing (undefined)."));
        assert!(cause("$partition([1], 0)").ends_with("returned nothing (undefined)."));
    }

    #[test]
    fn partition_errors() {
        assert_eq!(
            cause("$partition([1], -2)"),
            threw("$partition([1], -2)", "D3137: Second argument must be zero or greater")
        );
        assert_eq!(
            cause("$partition('a', 1)"),
            threw("$partition('a', 1)", "T0412: Argument 1 of function \"partition\" must be an array of undefined")
        );
        assert_eq!(
            cause("$partition([1], 'a')"),
            threw(
                "$partition([1], 'a')",
                "T0410: Argument 2 of function \"partition\" does not match function signature"
            )
        );
    }

    #[test]
    fn range_counts_by_step() {
        assert_eq!(eval("$range(0, 10, 3)"), Ok(json!([0, 3, 6, 9])));
        assert_eq!(eval("$range(1, 9, 2)"), Ok(json!([1, 3, 5, 7, 9])));
        assert_eq!(eval("$range(5, 1, -2)"), Ok(json!([5, 3, 1])));
        assert_eq!(eval("$range(1, 9, 9)"), Ok(json!(1)));
        assert!(cause("$range(1, 9, -1)").ends_with("returned nothing (undefined)."));
        assert!(cause("$range(1, 9, 0)").ends_with("returned nothing (undefined)."));
    }

    #[test]
    fn range_errors() {
        assert_eq!(
            cause("$range('a', 9, 1)"),
            threw("$range('a', 9, 1)", "T0410: Argument 1 of function \"range\" does not match function signature")
        );
        assert!(cause("$range(0, 100000000, 1)").contains("D2014: "));
    }

    #[test]
    fn hash_digests_in_hex() {
        assert_eq!(eval("$hash('abc', 'MD5')"), Ok(json!("900150983cd24fb0d6963f7d28e17f72")));
        assert_eq!(eval("$hash('abc', 'SHA-1')"), Ok(json!("a9993e364706816aba3e25717850c26c9cd0d89d")));
        assert_eq!(
            eval("$hash('abc', 'SHA-256')"),
            Ok(json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        );
        assert_eq!(eval("$length($hash('abc', 'SHA-384'))"), Ok(json!(96)));
        assert_eq!(eval("$length($hash('abc', 'SHA-512'))"), Ok(json!(128)));
    }

    #[test]
    fn hash_errors() {
        assert_eq!(
            cause("$hash('abc', 'SHA-3')"),
            threw(
                "$hash('abc', 'SHA-3')",
                "D3137: Hash algorithm 'SHA-3' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
            )
        );
        assert_eq!(
            cause("$hash(1, 'MD5')"),
            threw("$hash(1, 'MD5')", "T0410: Argument 1 of function \"hash\" does not match function signature")
        );
    }

    #[test]
    fn seeded_random_matches_java() {
        assert_eq!(eval("$random(42)"), Ok(json!(0.7275636800328681)));
        assert_eq!(eval("$random(42.9) = $random(42)"), Ok(json!(true)));
    }

    #[test]
    fn random_and_uuid_follow_the_host_seed() {
        let template = JsonataTemplate::compile(&json!(["{% $random() %}", "{% $uuid() %}", "{% $uuid() %}"])).unwrap();
        let variables = Variables::new();
        let states = states();
        let environment = Environment { random_seed: Some(7), ..Environment::new(&states, &variables) };
        let first = template.evaluate_in(&environment, "Output").unwrap();
        assert_eq!(template.evaluate_in(&environment, "Output").unwrap(), first);
        let number = first[0].as_f64().unwrap();
        assert!((0.0..1.0).contains(&number));
        let uuid = first[1].as_str().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
        assert_ne!(first[1], first[2]);
    }

    #[test]
    fn parse_reads_json_strictly() {
        assert_eq!(eval(r#"$parse('{"a": [1, null, "x"]}')"#), Ok(json!({"a": [1, null, "x"]})));
        assert_eq!(
            eval("$parse('2').a"),
            Err(Failure::query_evaluation(
                "The JSONata expression '$parse('2').a' specified for the field 'Output' returned nothing (undefined)."
            ))
        );
        for invalid in ["$parse('{')", "$parse('1 2')", r#"$parse('{"a": 1, "a": 2}')"#, "$parse('')"] {
            assert_eq!(cause(invalid), threw(invalid, "D3137: Invalid JSON"));
        }
        assert_eq!(
            cause("$parse(1)"),
            threw("$parse(1)", "T0410: Argument 1 of function \"parse\" does not match function signature")
        );
    }

    #[test]
    fn now_is_the_state_entry_time_unless_the_host_sets_it() {
        assert_eq!(eval("$now()"), Ok(json!("2024-01-02T03:04:05.678Z")));
        assert_eq!(eval("$millis()"), Ok(json!(1704164645678_i64)));
        let template = JsonataTemplate::compile(&json!("{% $now('[Y0001]-[M01]-[D01]', '+0100') %}")).unwrap();
        let variables = Variables::new();
        let states = states();
        let environment = Environment { now_millis: Some(0), ..Environment::new(&states, &variables) };
        assert_eq!(template.evaluate_in(&environment, "Output"), Ok(json!("1970-01-01")));
    }
}
