//! Choice rules of JSONPath mode: comparison operators, their `...Path` forms, the `Is*` tests,
//! And / Or / Not. (JSONata mode's `Condition` is a JSONata expression, see `jsonata`.)
//!
//! A rule is compiled once into a tree whose leaves hold parsed paths and pre-parsed literals, so
//! that evaluation only reads the scope. AWS's runtime semantics:
//! - a value of the wrong type for the operator makes the comparison false, never an error;
//! - a `Variable` (or `...Path` operand) that selects nothing fails with States.Runtime, except
//!   under `IsPresent`;
//! - numbers compare by value (1 equals 1.0); strings compare like Java's `String.compareTo`
//!   (UTF-16 code units); timestamps compare as instants.

use crate::path::Path;
use crate::{Failure, Scope};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{Number, Value};
use std::cmp::Ordering;
use std::fmt;

/// Deeper nesting of And / Or / Not is refused at compile time, which bounds the recursion of both
/// compiling and evaluating (serde_json refuses deeper JSON anyway; other loaders might not).
const MAX_NESTING: usize = 100;

#[derive(Debug, Clone)]
pub struct ChoiceRule {
    rule: Rule,
}

/// Why a rule does not compile: `message` names the problem, `pointer` is the JSON pointer of the
/// offending field relative to the rule object (e.g. `/And/1/NumericEquals`; empty for the rule
/// itself), so that a validator can prefix `/States/<name>/Choices/<index>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub pointer: String,
    pub message: String,
}

impl RuleError {
    fn new(message: impl Into<String>) -> Self {
        RuleError {
            pointer: String::new(),
            message: message.into(),
        }
    }

    /// The same error seen from the object that holds `field` (RFC 6901 escaping).
    fn within(mut self, field: &str) -> Self {
        let segment = format!("/{}", field.replace('~', "~0").replace('/', "~1"));
        self.pointer.insert_str(0, &segment);
        self
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} at {}", self.message, self.pointer)
        }
    }
}

impl ChoiceRule {
    /// A rule object (top-level rules also carry `Next` / `Assign` / `Output`, which are ignored here).
    /// The error reads "<message> at <pointer relative to the rule>", e.g.
    /// "Expected value of type: Number at /And/0/NumericEquals".
    pub fn compile(rule: &Value) -> Result<ChoiceRule, String> {
        ChoiceRule::compile_located(rule).map_err(|error| error.to_string())
    }

    /// As `compile`, with the failing field's location kept apart from the message.
    pub fn compile_located(rule: &Value) -> Result<ChoiceRule, RuleError> {
        Ok(ChoiceRule {
            rule: Rule::compile(rule, Depth::TOP_LEVEL)?,
        })
    }

    pub fn matches(&self, scope: &Scope) -> Result<bool, Failure> {
        self.rule.matches(scope)
    }
}

#[derive(Debug, Clone)]
enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test { variable: Path, check: Check },
}

/// What a leaf rule asks of its `Variable`.
#[derive(Debug, Clone)]
enum Check {
    /// The only check that a missing value answers rather than fails.
    IsPresent(bool),
    Value(Condition),
}

#[derive(Debug, Clone)]
enum Condition {
    IsType {
        kind: TypeTest,
        expected: bool,
    },
    StringMatches(WildcardPattern),
    Compare {
        kind: Kind,
        relation: Relation,
        operand: Operand,
    },
}

/// The types the `Is*` operators test for (besides `IsPresent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeTest {
    Null,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

/// What a comparison operator compares: `String...`, `Numeric...`, `Boolean...`, `Timestamp...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

/// The right-hand side of a comparison: a literal checked and parsed at compile time, or a path
/// read at run time (`...Path` operators).
#[derive(Debug, Clone)]
enum Operand {
    Literal(Literal),
    Path(Path),
}

#[derive(Debug, Clone)]
enum Literal {
    String(String),
    Number(Number),
    Boolean(bool),
    Timestamp(Timestamp),
}

/// A value viewed as one comparison kind; two of different variants have no order.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    String(&'a str),
    Number(&'a Number),
    Boolean(bool),
    Timestamp(Timestamp),
}

/// How deep a rule sits: top-level rules may carry transition fields, nested ones may not, and
/// the nesting is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Depth(usize);

impl Depth {
    const TOP_LEVEL: Depth = Depth(0);

    fn nested(self) -> Result<Depth, RuleError> {
        if self.0 >= MAX_NESTING {
            return Err(RuleError::new(format!(
                "Choice rules may be nested at most {MAX_NESTING} levels deep"
            )));
        }
        Ok(Depth(self.0 + 1))
    }

    /// Fields that a rule at this depth may carry besides the rule itself.
    fn allows_extra_field(self, name: &str) -> bool {
        name == "Comment"
            || (self == Depth::TOP_LEVEL && matches!(name, "Next" | "Assign" | "Output"))
    }
}

/// What a rule's defining field makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKind {
    Combinator(Combinator),
    Operator(Operator),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combinator {
    And,
    Or,
    Not,
}

impl RuleKind {
    fn of_field(name: &str) -> Option<RuleKind> {
        let combinator = match name {
            "And" => Combinator::And,
            "Or" => Combinator::Or,
            "Not" => Combinator::Not,
            name => return Operator::parse(name).map(RuleKind::Operator),
        };
        Some(RuleKind::Combinator(combinator))
    }
}

/// A rule's defining field (And / Or / Not or an operator): its name, meaning and value.
type DefiningField<'a> = (&'a str, RuleKind, &'a Value);

impl Rule {
    fn compile(rule: &Value, depth: Depth) -> Result<Rule, RuleError> {
        let Value::Object(object) = rule else {
            return Err(RuleError::new(expected_type("Object")));
        };
        let mut defining: Option<DefiningField> = None;
        let mut variable = None;
        for (name, value) in object {
            if name == "Variable" {
                variable = Some(value);
            } else if let Some(kind) = RuleKind::of_field(name) {
                if let Some((first, _, _)) = defining {
                    return Err(RuleError::new(format!(
                        "A choice rule may have only one of And, Or, Not or a comparison operator, found both \"{first}\" and \"{name}\""
                    )));
                }
                defining = Some((name, kind, value));
            } else if !depth.allows_extra_field(name) {
                return Err(RuleError::new(format!(
                    "The field \"{name}\" is not supported by Step Functions"
                ))
                .within(name));
            }
        }
        let Some((name, kind, value)) = defining else {
            return Err(RuleError::new(
                "A choice rule must have And, Or, Not or a comparison operator",
            ));
        };
        let (operator, variable) = match (kind, variable) {
            (RuleKind::Operator(operator), Some(variable)) => (operator, variable),
            (RuleKind::Operator(_), None) => {
                return Err(RuleError::new("These fields are required: [Variable]"))
            }
            (RuleKind::Combinator(_), Some(_)) => {
                return Err(RuleError::new(format!(
                    "The field \"Variable\" is not supported together with \"{name}\""
                ))
                .within("Variable"));
            }
            (RuleKind::Combinator(combinator), None) => {
                return Rule::compile_combinator(combinator, value, depth)
                    .map_err(|error| error.within(name))
            }
        };
        let check = operator
            .compile(value)
            .map_err(|error| RuleError::new(error).within(name))?;
        let variable =
            compile_path(variable).map_err(|error| RuleError::new(error).within("Variable"))?;
        Ok(Rule::Test { variable, check })
    }

    /// `value` is the combinator's field; `depth` that of the rule holding it.
    fn compile_combinator(
        combinator: Combinator,
        value: &Value,
        depth: Depth,
    ) -> Result<Rule, RuleError> {
        let depth = depth.nested()?;
        if combinator == Combinator::Not {
            return Ok(Rule::Not(Box::new(Rule::compile(value, depth)?)));
        }
        let Value::Array(rules) = value else {
            return Err(RuleError::new(expected_type("Array")));
        };
        if rules.is_empty() {
            return Err(RuleError::new(
                "And / Or must hold at least one choice rule",
            ));
        }
        let rules = rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                Rule::compile(rule, depth).map_err(|error| error.within(&index.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if combinator == Combinator::And {
            Rule::And(rules)
        } else {
            Rule::Or(rules)
        })
    }

    fn matches(&self, scope: &Scope) -> Result<bool, Failure> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.matches(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.matches(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.matches(scope)?),
            Rule::Test {
                variable,
                check: Check::IsPresent(expected),
            } => Ok(variable.select_borrowed(scope).is_some() == *expected),
            Rule::Test {
                variable,
                check: Check::Value(condition),
            } => {
                let value = variable
                    .select_borrowed(scope)
                    .ok_or_else(|| invalid_path(variable))?;
                condition.holds(&value, scope)
            }
        }
    }
}

fn compile_path(value: &Value) -> Result<Path, String> {
    let Value::String(text) = value else {
        return Err(expected_type("String"));
    };
    Path::parse(text)
}

fn expected_type(name: &str) -> String {
    format!("Expected value of type: {name}")
}

/// AWS's cause when a rule's path selects nothing.
fn invalid_path(path: &Path) -> Failure {
    Failure::runtime(format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        path.as_str()
    ))
}

/// An operator field name, decoded: `IsString`, `StringMatches`, `NumericLessThanPath`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    IsPresent,
    IsType(TypeTest),
    StringMatches,
    Compare {
        kind: Kind,
        relation: Relation,
        reads_path: bool,
    },
}

impl Operator {
    fn parse(name: &str) -> Option<Operator> {
        let type_test = match name {
            "IsPresent" => return Some(Operator::IsPresent),
            "StringMatches" => return Some(Operator::StringMatches),
            "IsNull" => Some(TypeTest::Null),
            "IsNumeric" => Some(TypeTest::Numeric),
            "IsString" => Some(TypeTest::String),
            "IsBoolean" => Some(TypeTest::Boolean),
            "IsTimestamp" => Some(TypeTest::Timestamp),
            _ => None,
        };
        if let Some(kind) = type_test {
            return Some(Operator::IsType(kind));
        }
        let (name, reads_path) = match name.strip_suffix("Path") {
            Some(literal_form) => (literal_form, true),
            None => (name, false),
        };
        let (kind, relation) = [
            ("String", Kind::String),
            ("Numeric", Kind::Numeric),
            ("Boolean", Kind::Boolean),
            ("Timestamp", Kind::Timestamp),
        ]
        .into_iter()
        .find_map(|(prefix, kind)| Some((kind, Relation::parse(name.strip_prefix(prefix)?)?)))?;
        if kind == Kind::Boolean && relation != Relation::Equals {
            return None;
        }
        Some(Operator::Compare {
            kind,
            relation,
            reads_path,
        })
    }

    /// The check this operator makes with its field's `value`.
    fn compile(self, value: &Value) -> Result<Check, String> {
        let condition = match self {
            Operator::IsPresent => return Ok(Check::IsPresent(expect_boolean(value)?)),
            Operator::IsType(kind) => Condition::IsType {
                kind,
                expected: expect_boolean(value)?,
            },
            Operator::StringMatches => match value {
                Value::String(pattern) => Condition::StringMatches(WildcardPattern::parse(pattern)),
                _ => return Err(expected_type("String")),
            },
            Operator::Compare {
                kind,
                relation,
                reads_path,
            } => {
                let operand = if reads_path {
                    Operand::Path(compile_path(value)?)
                } else {
                    Operand::Literal(kind.literal(value)?)
                };
                Condition::Compare {
                    kind,
                    relation,
                    operand,
                }
            }
        };
        Ok(Check::Value(condition))
    }
}

fn expect_boolean(value: &Value) -> Result<bool, String> {
    value.as_bool().ok_or_else(|| expected_type("Boolean"))
}

impl Relation {
    fn parse(name: &str) -> Option<Relation> {
        Some(match name {
            "Equals" => Relation::Equals,
            "LessThan" => Relation::LessThan,
            "GreaterThan" => Relation::GreaterThan,
            "LessThanEquals" => Relation::LessThanEquals,
            "GreaterThanEquals" => Relation::GreaterThanEquals,
            _ => return None,
        })
    }

    /// Whether the variable stands in this relation to the operand, given how it compares to it.
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equals => ordering.is_eq(),
            Relation::LessThan => ordering.is_lt(),
            Relation::GreaterThan => ordering.is_gt(),
            Relation::LessThanEquals => ordering.is_le(),
            Relation::GreaterThanEquals => ordering.is_ge(),
        }
    }
}

impl Kind {
    fn literal(self, value: &Value) -> Result<Literal, String> {
        let literal = match (self, value) {
            (Kind::String, Value::String(text)) => Literal::String(text.clone()),
            (Kind::Numeric, Value::Number(number)) => Literal::Number(number.clone()),
            (Kind::Boolean, Value::Bool(flag)) => Literal::Boolean(*flag),
            (Kind::Timestamp, Value::String(text)) => Literal::Timestamp(
                Timestamp::parse(text)
                    .ok_or_else(|| format!("String does not match RFC3339 timestamp: {text}"))?,
            ),
            (Kind::String | Kind::Timestamp, _) => return Err(expected_type("String")),
            (Kind::Numeric, _) => return Err(expected_type("Number")),
            (Kind::Boolean, _) => return Err(expected_type("Boolean")),
        };
        Ok(literal)
    }

    /// `value` as this kind, or `None` when it is of another type (which makes comparisons false).
    fn view(self, value: &Value) -> Option<Scalar<'_>> {
        match (self, value) {
            (Kind::String, Value::String(text)) => Some(Scalar::String(text)),
            (Kind::Numeric, Value::Number(number)) => Some(Scalar::Number(number)),
            (Kind::Boolean, Value::Bool(flag)) => Some(Scalar::Boolean(*flag)),
            (Kind::Timestamp, Value::String(text)) => Timestamp::parse(text).map(Scalar::Timestamp),
            _ => None,
        }
    }
}

impl Literal {
    fn view(&self) -> Scalar<'_> {
        match self {
            Literal::String(text) => Scalar::String(text),
            Literal::Number(number) => Scalar::Number(number),
            Literal::Boolean(flag) => Scalar::Boolean(*flag),
            Literal::Timestamp(timestamp) => Scalar::Timestamp(*timestamp),
        }
    }
}

impl Scalar<'_> {
    fn compare(self, other: Scalar) -> Option<Ordering> {
        match (self, other) {
            (Scalar::String(left), Scalar::String(right)) => Some(compare_utf16(left, right)),
            (Scalar::Number(left), Scalar::Number(right)) => compare_numbers(left, right),
            (Scalar::Boolean(left), Scalar::Boolean(right)) => Some(left.cmp(&right)),
            (Scalar::Timestamp(left), Scalar::Timestamp(right)) => Some(left.cmp(&right)),
            _ => None,
        }
    }
}

impl TypeTest {
    fn describes(self, value: &Value) -> bool {
        match self {
            TypeTest::Null => value.is_null(),
            TypeTest::Numeric => value.is_number(),
            TypeTest::String => value.is_string(),
            TypeTest::Boolean => value.is_boolean(),
            TypeTest::Timestamp => value.as_str().and_then(Timestamp::parse).is_some(),
        }
    }
}

impl Condition {
    /// Whether `value` (the rule's `Variable`) meets this condition; `scope` serves `...Path`
    /// operands.
    fn holds(&self, value: &Value, scope: &Scope) -> Result<bool, Failure> {
        Ok(match self {
            Condition::IsType { kind, expected } => kind.describes(value) == *expected,
            Condition::StringMatches(pattern) => {
                value.as_str().is_some_and(|text| pattern.matches(text))
            }
            Condition::Compare {
                kind,
                relation,
                operand,
            } => {
                let operand_value;
                let right = match operand {
                    Operand::Literal(literal) => Some(literal.view()),
                    Operand::Path(path) => {
                        operand_value = path
                            .select_borrowed(scope)
                            .ok_or_else(|| invalid_path(path))?;
                        kind.view(&operand_value)
                    }
                };
                let ordering = kind
                    .view(value)
                    .zip(right)
                    .and_then(|(left, right)| left.compare(right));
                ordering.is_some_and(|ordering| relation.holds(ordering))
            }
        })
    }
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units. (Rust's `str` order is by code
/// point, which differs once a character above U+FFFF meets one in U+E000..U+FFFF.) The first
/// differing characters decide, so only those two are encoded.
fn compare_utf16(left: &str, right: &str) -> Ordering {
    match left
        .chars()
        .zip(right.chars())
        .find(|(left, right)| left != right)
    {
        Some((left, right)) => left
            .encode_utf16(&mut [0; 2])
            .cmp(&right.encode_utf16(&mut [0; 2])),
        None => left.len().cmp(&right.len()),
    }
}

/// Numbers compare by exact value whatever their JSON form: 1 equals 1.0, and integers beyond
/// 2^53 are not rounded to the nearest float.
fn compare_numbers(left: &Number, right: &Number) -> Option<Ordering> {
    match (exact_integer(left), exact_integer(right)) {
        (Some(left), Some(right)) => Some(left.cmp(&right)),
        (Some(left), None) => compare_integer_with_float(left, right.as_f64()?),
        (None, Some(right)) => {
            compare_integer_with_float(right, left.as_f64()?).map(Ordering::reverse)
        }
        (None, None) => left.as_f64()?.partial_cmp(&right.as_f64()?),
    }
}

fn exact_integer(number: &Number) -> Option<i128> {
    number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from))
}

fn compare_integer_with_float(integer: i128, float: f64) -> Option<Ordering> {
    // JSON integers lie within ±2^64: a float beyond that is decided by its sign, and one within
    // converts its whole part to i128 exactly.
    const BEYOND_INTEGERS: f64 = 18_446_744_073_709_551_616.0;
    if float.is_nan() {
        return None;
    }
    if float >= BEYOND_INTEGERS {
        return Some(Ordering::Less);
    }
    if float <= -BEYOND_INTEGERS {
        return Some(Ordering::Greater);
    }
    let whole = float.trunc();
    let by_whole = integer.cmp(&(whole as i128));
    Some(by_whole.then_with(|| {
        0.0f64
            .partial_cmp(&(float - whole))
            .unwrap_or(Ordering::Equal)
    }))
}

/// A `StringMatches` pattern: `*` matches any run of characters, `\*` a literal `*` and `\\` a
/// literal backslash; every other character (a lone backslash included) matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WildcardPattern {
    /// The literal text between wildcards: n wildcards make n + 1 (possibly empty) pieces.
    pieces: Vec<String>,
}

impl WildcardPattern {
    fn parse(pattern: &str) -> WildcardPattern {
        let mut pieces = Vec::new();
        let mut piece = String::new();
        let mut characters = pattern.chars().peekable();
        while let Some(character) = characters.next() {
            match character {
                '*' => pieces.push(std::mem::take(&mut piece)),
                '\\' => piece.push(
                    characters
                        .next_if(|next| matches!(next, '*' | '\\'))
                        .unwrap_or('\\'),
                ),
                literal => piece.push(literal),
            }
        }
        pieces.push(piece);
        WildcardPattern { pieces }
    }

    fn matches(&self, text: &str) -> bool {
        let [first, middle @ .., last] = self.pieces.as_slice() else {
            return self.pieces.first().is_some_and(|only| only == text);
        };
        // Stripping the suffix from what follows the prefix keeps the two from overlapping.
        let Some(mut rest) = text
            .strip_prefix(first.as_str())
            .and_then(|rest| rest.strip_suffix(last.as_str()))
        else {
            return false;
        };
        // Taking each middle piece at its first occurrence leaves the most room for the next ones.
        for piece in middle {
            match rest.split_once(piece.as_str()) {
                Some((_, after)) => rest = after,
                None => return false,
            }
        }
        true
    }
}

/// An instant read from a timestamp string, ordered in time.
///
/// AWS parses timestamps with Java's ISO-8601 extended offset date-time format (its Wait-state
/// errors name it): `yyyy-MM-ddTHH:mm[:ss[.fraction]]` followed by `Z` or an offset `+HH[:MM[:SS]]`,
/// letters case-insensitive, at most 9 fraction digits, every field range-checked (no 24:00, no
/// leap second, no February 30). A date alone or a date-time without an offset is not a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    seconds_since_epoch: i64,
    nanoseconds: u32,
}

impl Timestamp {
    pub fn parse(text: &str) -> Option<Timestamp> {
        let mut reader = TimestampReader {
            rest: text.as_bytes(),
        };
        let year = reader.number(4)?;
        reader.expect(b'-')?;
        let month = reader.number(2)?;
        reader.expect(b'-')?;
        let day = reader.number(2)?;
        reader.expect_letter(b'T')?;
        let hour = reader.number(2)?;
        reader.expect(b':')?;
        let minute = reader.number(2)?;
        let (second, nanoseconds) = if reader.accept(b':') {
            let second = reader.number(2)?;
            let nanoseconds = if reader.accept(b'.') {
                reader.fraction()?
            } else {
                0
            };
            (second, nanoseconds)
        } else {
            (0, 0)
        };
        let offset_seconds = reader.offset()?;
        if !reader.rest.is_empty() {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
        let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanoseconds)?;
        let local_seconds = NaiveDateTime::new(date, time).and_utc().timestamp();
        Some(Timestamp {
            seconds_since_epoch: local_seconds - i64::from(offset_seconds),
            nanoseconds,
        })
    }
}

struct TimestampReader<'a> {
    rest: &'a [u8],
}

impl TimestampReader<'_> {
    fn accept(&mut self, byte: u8) -> bool {
        match self.rest.split_first() {
            Some((&first, rest)) if first == byte => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.accept(byte).then_some(())
    }

    fn expect_letter(&mut self, upper_case: u8) -> Option<()> {
        (self.accept(upper_case) || self.accept(upper_case.to_ascii_lowercase())).then_some(())
    }

    /// Exactly `digits` ASCII digits.
    fn number(&mut self, digits: usize) -> Option<u32> {
        let (number, rest) = self.rest.split_at_checked(digits)?;
        self.rest = rest;
        number.iter().try_fold(0u32, |value, &byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    }

    /// Up to nine digits after the decimal point (Java accepts none), as nanoseconds.
    fn fraction(&mut self) -> Option<u32> {
        let digits = self
            .rest
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if digits > 9 {
            return None;
        }
        let value = self.number(digits)?;
        let digits = u32::try_from(digits).ok()?;
        Some(value * 10u32.pow(9 - digits))
    }

    /// `Z`, or a signed `HH[:MM[:SS]]` of at most 18 hours, in seconds east of UTC.
    fn offset(&mut self) -> Option<i32> {
        if self.expect_letter(b'Z').is_some() {
            return Some(0);
        }
        let sign = if self.accept(b'+') {
            1
        } else if self.accept(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.number(2)?;
        let (mut minutes, mut seconds) = (0, 0);
        if self.accept(b':') {
            minutes = self.number(2)?;
            if self.accept(b':') {
                seconds = self.number(2)?;
            }
        }
        let total = hours * 3600 + minutes * 60 + seconds;
        if hours > 18 || minutes > 59 || seconds > 59 || total > 18 * 3600 {
            return None;
        }
        Some(sign * i32::try_from(total).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Variables;
    use serde_json::json;

    fn compile(rule: Value) -> ChoiceRule {
        ChoiceRule::compile(&rule).unwrap_or_else(|error| panic!("{rule} should compile: {error}"))
    }

    fn compile_error(rule: Value) -> String {
        ChoiceRule::compile(&rule)
            .err()
            .unwrap_or_else(|| panic!("{rule} should not compile"))
    }

    fn evaluate(rule: Value, input: Value) -> Result<bool, Failure> {
        let variables = Variables::new();
        compile(rule).matches(&Scope::new(&input, &json!({}), &variables))
    }

    fn holds(rule: Value, input: Value) -> bool {
        evaluate(rule, input).unwrap_or_else(|failure| panic!("unexpected failure: {failure}"))
    }

    /// `operator` with literal `operand` against `$.v` = `variable`.
    fn compares(operator: &str, variable: Value, operand: Value) -> bool {
        holds(
            json!({"Variable": "$.v", operator: operand}),
            json!({"v": variable}),
        )
    }

    #[test]
    fn type_tests_accept_only_their_type() {
        let samples = [
            json!(null),
            json!(0),
            json!(1.5),
            json!(""),
            json!("2012-10-09T19:00:55Z"),
            json!([]),
            json!({}),
            json!(true),
        ];
        let expectations = [
            (
                "IsNull",
                [true, false, false, false, false, false, false, false],
            ),
            (
                "IsNumeric",
                [false, true, true, false, false, false, false, false],
            ),
            (
                "IsString",
                [false, false, false, true, true, false, false, false],
            ),
            (
                "IsBoolean",
                [false, false, false, false, false, false, false, true],
            ),
            (
                "IsTimestamp",
                [false, false, false, false, true, false, false, false],
            ),
        ];
        for (operator, expected) in expectations {
            for (sample, expected) in samples.iter().zip(expected) {
                assert_eq!(
                    compares(operator, sample.clone(), json!(true)),
                    expected,
                    "{operator} {sample}"
                );
                assert_eq!(
                    compares(operator, sample.clone(), json!(false)),
                    !expected,
                    "{operator} false {sample}"
                );
            }
        }
    }

    #[test]
    fn is_present_answers_for_missing_values() {
        assert!(holds(
            json!({"Variable": "$.v", "IsPresent": true}),
            json!({"v": null})
        ));
        assert!(!holds(
            json!({"Variable": "$.v", "IsPresent": true}),
            json!({})
        ));
        assert!(holds(
            json!({"Variable": "$.v", "IsPresent": false}),
            json!({})
        ));
    }

    #[test]
    fn other_operators_fail_on_a_missing_variable() {
        let failure =
            evaluate(json!({"Variable": "$.missing", "IsNull": true}), json!({})).unwrap_err();
        assert_eq!(
            failure,
            Failure::runtime("Invalid path '$.missing': The choice state's condition path references an invalid value.")
        );
    }

    #[test]
    fn a_missing_operand_path_fails_naming_that_path() {
        let failure = evaluate(
            json!({"Variable": "$.v", "NumericEqualsPath": "$.limit"}),
            json!({"v": 1}),
        )
        .unwrap_err();
        assert_eq!(failure.cause.as_deref(), Some("Invalid path '$.limit': The choice state's condition path references an invalid value."));
        assert_eq!(failure.error, "States.Runtime");
    }

    #[test]
    fn numbers_compare_by_value_across_integer_and_float() {
        assert!(compares("NumericEquals", json!(1), json!(1.0)));
        assert!(compares("NumericEquals", json!(0.0), json!(0)));
        assert!(!compares("NumericEquals", json!(1.1), json!(1)));
        assert!(compares("NumericLessThan", json!(1), json!(1.5)));
        assert!(compares("NumericGreaterThan", json!(-1), json!(-1.5)));
        assert!(compares("NumericLessThanEquals", json!(2.0), json!(2)));
        assert!(compares("NumericGreaterThanEquals", json!(3), json!(2.999)));
        // 2^53 + 1 is not rounded to 2^53.
        assert!(!compares(
            "NumericEquals",
            json!(9_007_199_254_740_993_u64),
            json!(9_007_199_254_740_992.0)
        ));
        assert!(compares(
            "NumericGreaterThan",
            json!(u64::MAX),
            json!(i64::MIN)
        ));
    }

    #[test]
    fn comparisons_of_another_type_are_false() {
        assert!(!compares("NumericEquals", json!("1"), json!(1)));
        assert!(!compares("NumericLessThan", json!(true), json!(1)));
        assert!(!compares("StringEquals", json!(1), json!("1")));
        assert!(!compares("BooleanEquals", json!("true"), json!(true)));
        assert!(!compares(
            "TimestampEquals",
            json!("not a time"),
            json!("2012-10-09T19:00:55Z")
        ));
        assert!(holds(
            json!({"Not": {"Variable": "$.v", "NumericEquals": 1}}),
            json!({"v": "1"})
        ));
    }

    #[test]
    fn operand_paths_of_another_type_are_false() {
        let rule = json!({"Variable": "$.v", "NumericLessThanEqualsPath": "$.limit"});
        assert!(holds(rule.clone(), json!({"v": 8, "limit": 8.0})));
        assert!(!holds(rule, json!({"v": 8, "limit": {"value": 8}})));
        let rule = json!({"Variable": "$.v", "BooleanEqualsPath": "$.flag"});
        assert!(holds(rule.clone(), json!({"v": false, "flag": false})));
        assert!(!holds(rule, json!({"v": false, "flag": 0})));
    }

    #[test]
    fn strings_order_by_utf16_code_units() {
        assert!(compares("StringLessThan", json!("A"), json!("AB")));
        assert!(compares("StringGreaterThan", json!("a"), json!("B")));
        assert!(!compares("StringGreaterThan", json!("A"), json!("A ")));
        assert!(compares("StringGreaterThanEquals", json!(""), json!("")));
        // U+FF61 sorts after U+1F600 in UTF-16 (0xFF61 > 0xD83D) but before it by code point.
        assert!(compares(
            "StringGreaterThan",
            json!("\u{FF61}"),
            json!("\u{1F600}")
        ));
        assert!(!compares("StringEquals", json!("\t\n"), json!("\t\r\n")));
    }

    #[test]
    fn string_matches_wildcards_and_escapes() {
        let matches =
            |pattern: &str, text: &str| compares("StringMatches", json!(text), json!(pattern));
        assert!(matches("log-*.txt", "log-2024.txt"));
        assert!(matches("log-*.txt", "log-.txt"));
        assert!(!matches("log-*.txt", "log-2024.txt.gz"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "abbbc"));
        assert!(!matches("a*a", "a"));
        assert!(matches("*ab*ab*", "xxabyyab"));
        assert!(!matches("*ab*ab*", "xxab"));
        assert!(matches(r"a\*", "a*"));
        assert!(!matches(r"a\*", "ab"));
        assert!(matches(r"a\\*", r"a\anything"));
        assert!(matches(r"a\b", r"a\b"));
        assert!(matches("exact", "exact"));
        assert!(!compares("StringMatches", json!(5), json!("*")));
    }

    #[test]
    fn timestamps_follow_javas_offset_date_time_format() {
        for valid in [
            "2012-10-09T19:00:55Z",
            "2012-10-09T19:00:55.123Z",
            "2012-10-09T19:00:55.123456789+01:00",
            "2012-10-09T19:00Z",
            "2012-10-09t19:00:55z",
            "2012-10-09T19:00:55+01",
            "2012-10-09T19:00:55-05:30:15",
            "2012-10-09T19:00:55.Z",
            "2016-02-29T00:00:00Z",
        ] {
            assert!(Timestamp::parse(valid).is_some(), "{valid}");
        }
        for invalid in [
            "2012-10-09T19:00:55",
            "2023-02-24",
            "2023-02-24 12:15:56.832957",
            "2012-10-09 19:00:55Z",
            "2012-10-09T19:00:55.1234567890Z",
            "2012-10-09T24:00:00Z",
            "2012-10-09T19:00:60Z",
            "2015-02-29T00:00:00Z",
            "2012-13-09T19:00:55Z",
            "2012-10-09T19:00:55+19:00",
            "2012-10-09T19:00:55+0100",
            "12-10-09T19:00:55Z",
            "2012-10-09T19:00:55Z ",
            "",
        ] {
            assert!(Timestamp::parse(invalid).is_none(), "{invalid}");
        }
    }

    #[test]
    fn timestamps_compare_as_instants() {
        assert!(compares(
            "TimestampEquals",
            json!("2012-10-09T20:00:55+01:00"),
            json!("2012-10-09T19:00:55Z")
        ));
        assert!(compares(
            "TimestampEquals",
            json!("2012-10-09T19:00:55.000Z"),
            json!("2012-10-09T19:00:55Z")
        ));
        assert!(compares(
            "TimestampLessThan",
            json!("2012-10-09T19:00:55Z"),
            json!("2012-10-09T19:00:55.000000001Z")
        ));
        assert!(compares(
            "TimestampGreaterThan",
            json!("2012-10-09T19:00:56Z"),
            json!("2012-10-09T19:00:55Z")
        ));
        assert!(compares(
            "TimestampLessThanEquals",
            json!("2012-10-09T19:00:55Z"),
            json!("2012-10-09T19:00:55Z")
        ));
        assert!(!compares(
            "TimestampGreaterThanEquals",
            json!("2012-10-09T19:00:55Z"),
            json!("2012-10-09T19:00:56Z")
        ));
        let rule = json!({"Variable": "$.v", "TimestampLessThanPath": "$.limit"});
        assert!(holds(
            rule.clone(),
            json!({"v": "2012-10-09T19:00:55Z", "limit": "2012-10-09T19:00:56Z"})
        ));
        assert!(!holds(
            rule,
            json!({"v": "2012-10-09T19:00:55Z", "limit": "tomorrow"})
        ));
    }

    #[test]
    fn boolean_equals_compares_booleans() {
        assert!(compares("BooleanEquals", json!(true), json!(true)));
        assert!(compares("BooleanEquals", json!(false), json!(false)));
        assert!(!compares("BooleanEquals", json!(false), json!(true)));
    }

    #[test]
    fn and_or_not_combine_and_short_circuit() {
        let in_twenties = json!({"And": [
            {"Variable": "$.value", "NumericGreaterThanEquals": 20},
            {"Variable": "$.value", "NumericLessThan": 30}
        ]});
        assert!(holds(in_twenties.clone(), json!({"value": 22})));
        assert!(!holds(in_twenties, json!({"value": 30})));
        let either = json!({"Or": [
            {"Variable": "$.type", "StringEquals": "Public"},
            {"Not": {"Variable": "$.value", "IsNumeric": true}}
        ]});
        assert!(holds(either.clone(), json!({"type": "Public"})));
        assert!(holds(
            either.clone(),
            json!({"type": "Private", "value": "x"})
        ));
        assert!(!holds(either, json!({"type": "Private", "value": 1})));
        // The second rule would fail on the missing path, but the first already decides.
        assert!(!holds(
            json!({"And": [{"Variable": "$.a", "IsNull": true}, {"Variable": "$.missing", "IsNull": true}]}),
            json!({"a": 1})
        ));
        assert!(holds(
            json!({"Or": [{"Variable": "$.a", "IsNull": false}, {"Variable": "$.missing", "IsNull": true}]}),
            json!({"a": 1})
        ));
    }

    #[test]
    fn variables_and_context_are_readable() {
        let mut variables = Variables::new();
        variables.set("limit".to_owned(), json!(10));
        let context = json!({"Execution": {"Name": "run-1"}});
        let input = json!({"v": 5});
        let scope = Scope::new(&input, &context, &variables);
        assert_eq!(
            compile(json!({"Variable": "$.v", "NumericLessThanPath": "$limit"})).matches(&scope),
            Ok(true)
        );
        assert_eq!(
            compile(json!({"Variable": "$$.Execution.Name", "StringMatches": "run-*"}))
                .matches(&scope),
            Ok(true)
        );
        assert_eq!(
            compile(json!({"Variable": "$other", "IsPresent": false})).matches(&scope),
            Ok(true)
        );
    }

    #[test]
    fn top_level_rules_may_carry_transition_fields_but_nested_ones_may_not() {
        compile(
            json!({"Variable": "$.v", "IsNull": true, "Next": "A", "Assign": {}, "Output": {}, "Comment": "c"}),
        );
        compile(json!({"Not": {"Variable": "$.v", "IsNull": true, "Comment": "c"}, "Next": "A"}));
        assert_eq!(
            compile_error(
                json!({"And": [{"Variable": "$.v", "IsNull": true, "Next": "A"}], "Next": "A"})
            ),
            "The field \"Next\" is not supported by Step Functions at /And/0/Next"
        );
    }

    #[test]
    fn compile_errors_name_the_field() {
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "NumericEquals": "1"})),
            "Expected value of type: Number at /NumericEquals"
        );
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "IsNull": "yes"})),
            "Expected value of type: Boolean at /IsNull"
        );
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "StringEquals": 1})),
            "Expected value of type: String at /StringEquals"
        );
        assert_eq!(
            compile_error(json!({"Variable": 5, "IsNull": true})),
            "Expected value of type: String at /Variable"
        );
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "TimestampEquals": "2012-10-09"})),
            "String does not match RFC3339 timestamp: 2012-10-09 at /TimestampEquals"
        );
        assert_eq!(
            compile_error(
                json!({"Or": [{"Variable": "$.v", "IsNull": true}, {"Not": {"Variable": "$.v", "BooleanEquals": 1}}]})
            ),
            "Expected value of type: Boolean at /Or/1/Not/BooleanEquals"
        );
    }

    #[test]
    fn compile_errors_for_the_rule_shape() {
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "NumericEqual": 1})),
            "The field \"NumericEqual\" is not supported by Step Functions at /NumericEqual"
        );
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "BooleanLessThan": true})),
            "The field \"BooleanLessThan\" is not supported by Step Functions at /BooleanLessThan"
        );
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "IsNull": true, "IsString": true})),
            "A choice rule may have only one of And, Or, Not or a comparison operator, found both \"IsNull\" and \"IsString\""
        );
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "Next": "A"})),
            "A choice rule must have And, Or, Not or a comparison operator"
        );
        assert_eq!(
            compile_error(json!({"IsNull": true})),
            "These fields are required: [Variable]"
        );
        assert_eq!(
            compile_error(json!({"Variable": "$.v", "Not": {"Variable": "$.v", "IsNull": true}})),
            "The field \"Variable\" is not supported together with \"Not\" at /Variable"
        );
        assert_eq!(
            compile_error(json!({"And": []})),
            "And / Or must hold at least one choice rule at /And"
        );
        assert_eq!(
            compile_error(json!({"Or": {}})),
            "Expected value of type: Array at /Or"
        );
        assert_eq!(
            compile_error(json!({"Not": [1]})),
            "Expected value of type: Object at /Not"
        );
        assert_eq!(
            compile_error(json!("rule")),
            "Expected value of type: Object"
        );
    }

    #[test]
    fn located_errors_keep_pointer_and_message_apart() {
        let error = ChoiceRule::compile_located(
            &json!({"And": [{"Variable": "$.v", "NumericEquals": "x"}]}),
        )
        .unwrap_err();
        assert_eq!(
            error,
            RuleError {
                pointer: "/And/0/NumericEquals".to_owned(),
                message: "Expected value of type: Number".to_owned()
            }
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut rule = json!({"Variable": "$.v", "IsNull": true});
        for _ in 0..MAX_NESTING {
            rule = json!({"Not": rule});
        }
        assert!(holds(rule.clone(), json!({"v": null})));
        assert_eq!(
            compile_error(json!({"Not": rule})),
            format!(
                "Choice rules may be nested at most 100 levels deep at {}",
                "/Not".repeat(MAX_NESTING + 1)
            )
        );
    }
}
