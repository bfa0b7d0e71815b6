//! JSONPath in JSONPath-mode states: reading paths (`$`, `$$` context, `$var` variables) and
//! reference paths (ResultPath) that write into the input.
//!
//! AWS evaluates these with Jayway JsonPath, whose syntax is looser than RFC 9535: dot names may hold
//! any character but `.`, `[`, `(` and space (`$.delivery-partner`), quoted names keep their
//! backslashes verbatim, and a trailing `.length()` is a function call. Paths are therefore parsed
//! here; definite ones (names and indexes only) are walked directly, and the rest are rewritten to
//! RFC 9535 and compiled once with `serde_json_path`.

use crate::failure::names;
use crate::{Failure, Scope};
use serde_json::Value;
use serde_json_path::JsonPath;
use std::borrow::Cow;
use std::fmt::Write as _;

/// A path that reads: `$...` from the state input, `$$...` from the context object,
/// `$name...` from a workflow variable.
#[derive(Debug, Clone)]
pub struct Path {
    text: String,
    root: Root,
    query: Query,
    /// A trailing `.length()`: the size of the selected array or object.
    length: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Root {
    Input,
    Context,
    Variable(String),
}

#[derive(Debug, Clone)]
enum Query {
    /// Names and indexes only: selects at most one value, walked without a query engine.
    Definite(Vec<Step>),
    /// Wildcards, slices, unions, filters or deep scans: selects the array of all matches.
    Indefinite(JsonPath),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Name(String),
    /// Negative indexes count from the end, as in Jayway.
    Index(i64),
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, String> {
        let parsed = Parsed::parse(text)?;
        let query = match parsed.definite_steps() {
            Some(steps) => Query::Definite(steps),
            None => Query::Indefinite(parsed.compile_rfc9535()?),
        };
        Ok(Path { text: text.to_owned(), root: parsed.root, query, length: parsed.length })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path selects a single value rather than an array of matches.
    pub fn is_definite(&self) -> bool {
        matches!(self.query, Query::Definite(_))
    }

    /// The selected value; `None` when the path matches nothing. Indefinite paths (wildcards,
    /// filters, slices, unions, deep scan) select an array of their matches.
    pub fn select(&self, scope: &Scope) -> Option<Value> {
        self.select_borrowed(scope).map(Cow::into_owned)
    }

    /// As [`Path::select`], borrowing from the scope when the path is definite so that callers
    /// which only read the value avoid a copy.
    pub fn select_borrowed<'a>(&self, scope: &Scope<'a>) -> Option<Cow<'a, Value>> {
        let root = match &self.root {
            Root::Input => scope.input,
            Root::Context => scope.context,
            Root::Variable(name) => scope.variables.get(name)?,
        };
        let selected = match &self.query {
            Query::Definite(steps) => Cow::Borrowed(walk(root, steps)?),
            Query::Indefinite(query) => {
                Cow::Owned(Value::Array(query.query(root).iter().map(|&found| found.clone()).collect()))
            }
        };
        if self.length {
            Some(Cow::Owned(length_of(&selected)))
        } else {
            Some(selected)
        }
    }

    /// As InputPath / OutputPath / ItemsPath read: no match is AWS's States.Runtime
    /// "Invalid path '$.x' : No results for path: $['x']".
    pub fn select_required(&self, scope: &Scope) -> Result<Value, Failure> {
        self.select(scope).ok_or_else(|| self.no_results())
    }

    fn no_results(&self) -> Failure {
        Failure::runtime(format!("Invalid path '{}' : No results for path: {}", self.text, self.normalized()))
    }

    /// Jayway's rendering of the path relative to its root (`$['a'][0]`), which AWS quotes when a
    /// definite path finds nothing.
    fn normalized(&self) -> String {
        match &self.query {
            Query::Definite(steps) => render_normalized(steps),
            Query::Indefinite(_) => self.text.clone(),
        }
    }
}

fn walk<'v>(mut value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    for step in steps {
        value = match step {
            Step::Name(name) => value.as_object()?.get(name)?,
            Step::Index(index) => {
                let items = value.as_array()?;
                items.get(resolve_index(items.len(), *index)?)?
            }
        };
    }
    Some(value)
}

fn resolve_index(len: usize, index: i64) -> Option<usize> {
    let magnitude = usize::try_from(index.unsigned_abs()).ok()?;
    if index >= 0 {
        (magnitude < len).then_some(magnitude)
    } else {
        len.checked_sub(magnitude)
    }
}

/// Jayway's `length()`: the size of an array or object, null for anything else.
fn length_of(value: &Value) -> Value {
    match value {
        Value::Array(items) => items.len().into(),
        Value::Object(members) => members.len().into(),
        _ => Value::Null,
    }
}

fn render_normalized(steps: &[Step]) -> String {
    let mut rendered = String::from("$");
    for step in steps {
        // Writing into a String cannot fail.
        let _ = match step {
            Step::Name(name) => write!(rendered, "['{name}']"),
            Step::Index(index) => write!(rendered, "[{index}]"),
        };
    }
    rendered
}

/// A ResultPath: a definite path into the state input where the result is placed.
#[derive(Debug, Clone)]
pub struct ReferencePath {
    text: String,
    steps: Vec<Step>,
}

impl ReferencePath {
    pub fn parse(text: &str) -> Result<ReferencePath, String> {
        let parsed = Parsed::parse(text)?;
        let steps = match (&parsed.root, parsed.length, parsed.definite_steps()) {
            (Root::Input, false, Some(steps)) => steps,
            _ => {
                return Err(format!(
                    "'{text}' is not a valid reference path: only names and indexes into '$' are allowed"
                ))
            }
        };
        Ok(ReferencePath { text: text.to_owned(), steps })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `input` with `result` placed at this path (creating objects on the way as AWS does), or
    /// States.ResultPathMatchFailure when the path runs into a non-object.
    pub fn write(&self, mut input: Value, result: Value) -> Result<Value, Failure> {
        if self.steps.is_empty() {
            return Ok(result);
        }
        match place(&mut input, &self.steps, result) {
            Ok(()) => Ok(input),
            Err(Unplaceable) => Err(Failure::new(
                names::RESULT_PATH_MATCH_FAILURE,
                format!("Unable to apply ReferencePath {} to input {}", self.text, input),
            )),
        }
    }
}

/// The path runs into a value it cannot descend into; the input is left untouched.
struct Unplaceable;

/// Descends through existing members and elements without changing anything, so that a failure
/// leaves `target` intact for the error message; the first missing member is inserted whole.
fn place(mut target: &mut Value, steps: &[Step], result: Value) -> Result<(), Unplaceable> {
    for (position, step) in steps.iter().enumerate() {
        let is_last = position + 1 == steps.len();
        match step {
            Step::Name(name) => {
                let Value::Object(members) = target else { return Err(Unplaceable) };
                if is_last || !members.contains_key(name) {
                    let rest = steps.get(position + 1..).unwrap_or_default();
                    members.insert(name.clone(), nest(rest, result)?);
                    return Ok(());
                }
                target = members.get_mut(name).ok_or(Unplaceable)?;
            }
            Step::Index(index) => {
                let Value::Array(items) = target else { return Err(Unplaceable) };
                let slot = resolve_index(items.len(), *index).and_then(|at| items.get_mut(at)).ok_or(Unplaceable)?;
                if is_last {
                    *slot = result;
                    return Ok(());
                }
                target = slot;
            }
        }
    }
    Ok(())
}

/// `result` wrapped in the objects that the remaining names create; an index cannot be created.
fn nest(steps: &[Step], result: Value) -> Result<Value, Unplaceable> {
    steps.iter().rev().try_fold(result, |inner, step| match step {
        Step::Name(name) => Ok(Value::Object([(name.clone(), inner)].into_iter().collect())),
        Step::Index(_) => Err(Unplaceable),
    })
}

/// A path split into its root and segments, in Jayway's syntax.
struct Parsed {
    root: Root,
    segments: Vec<Segment>,
    length: bool,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Step(Step),
    /// Any other segment, already in RFC 9535 syntax (`[*]`, `[1:3]`, `..['x']`, `[?(...)]`).
    Rfc9535(String),
}

impl Parsed {
    fn parse(text: &str) -> Result<Parsed, String> {
        let mut cursor = Cursor { text, position: 0 };
        let root = cursor.root()?;
        let mut segments = Vec::new();
        let mut length = false;
        while let Some(next) = cursor.peek() {
            if length {
                return Err(cursor.error("length() must end the path"));
            }
            match next {
                '.' => {
                    cursor.bump();
                    match cursor.dot_segment()? {
                        DotSegment::Segment(segment) => segments.push(segment),
                        DotSegment::Length => length = true,
                    }
                }
                '[' => segments.push(cursor.bracket_segment()?),
                other => return Err(cursor.error(&format!("unexpected character '{other}'"))),
            }
        }
        Ok(Parsed { root, segments, length })
    }

    fn definite_steps(&self) -> Option<Vec<Step>> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Step(step) => Some(step.clone()),
                Segment::Rfc9535(_) => None,
            })
            .collect()
    }

    fn compile_rfc9535(&self) -> Result<JsonPath, String> {
        let mut query = String::from("$");
        for segment in &self.segments {
            match segment {
                Segment::Step(Step::Name(name)) => {
                    query.push('[');
                    query.push_str(&quote(name));
                    query.push(']');
                }
                // Writing into a String cannot fail.
                Segment::Step(Step::Index(index)) => {
                    let _ = write!(query, "[{index}]");
                }
                Segment::Rfc9535(text) => query.push_str(text),
            }
        }
        JsonPath::parse(&query).map_err(|error| format!("Invalid JSONPath: {error}"))
    }
}

/// An RFC 9535 string literal: JSON's double-quoted escaping is valid there.
fn quote(name: &str) -> String {
    Value::from(name).to_string()
}

enum DotSegment {
    Segment(Segment),
    Length,
}

struct Cursor<'t> {
    text: &'t str,
    position: usize,
}

impl<'t> Cursor<'t> {
    fn rest(&self) -> &str {
        self.text.get(self.position..).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let next = self.peek()?;
        self.position += next.len_utf8();
        Some(next)
    }

    fn eat(&mut self, expected: char) -> bool {
        let found = self.peek() == Some(expected);
        if found {
            self.bump();
        }
        found
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.bump();
        }
    }

    /// Consumes up to (not including) the first character for which `stop` holds.
    fn take_until(&mut self, stop: impl Fn(char) -> bool) -> &'t str {
        let start = self.position;
        while self.peek().is_some_and(|next| !stop(next)) {
            self.bump();
        }
        self.text.get(start..self.position).unwrap_or_default()
    }

    fn error(&self, problem: &str) -> String {
        format!("Invalid JSONPath '{}': {problem} at position {}", self.text, self.position)
    }

    fn root(&mut self) -> Result<Root, String> {
        if !self.eat('$') {
            return Err(self.error("a path must start with '$'"));
        }
        match self.peek() {
            None | Some('.' | '[') => Ok(Root::Input),
            Some('$') => {
                self.bump();
                Ok(Root::Context)
            }
            Some(_) => {
                let name = self.take_until(|next| !(next.is_alphanumeric() || next == '_'));
                if name.is_empty() {
                    return Err(self.error("expected '.', '[', '$' or a variable name after '$'"));
                }
                Ok(Root::Variable(name.to_owned()))
            }
        }
    }

    /// After a `.`: a name, `*`, `length()`, or (after `..`) a deep scan.
    fn dot_segment(&mut self) -> Result<DotSegment, String> {
        if self.eat('.') {
            let target = match self.peek() {
                Some('[') => self.bracket_segment()?,
                _ => self.dot_name()?,
            };
            let target = match target {
                Segment::Step(Step::Name(name)) => format!("[{}]", quote(&name)),
                Segment::Step(Step::Index(index)) => format!("[{index}]"),
                Segment::Rfc9535(text) => text,
            };
            return Ok(DotSegment::Segment(Segment::Rfc9535(format!("..{target}"))));
        }
        if self.rest().starts_with("length()") {
            self.position += "length()".len();
            return Ok(DotSegment::Length);
        }
        self.dot_name().map(DotSegment::Segment)
    }

    fn dot_name(&mut self) -> Result<Segment, String> {
        let name = self.take_until(|next| matches!(next, '.' | '[' | '(' | ' '));
        if name == "*" {
            return Ok(Segment::Rfc9535("[*]".to_owned()));
        }
        if name.is_empty() {
            return Err(self.error("expected a name after '.'"));
        }
        let name = name.to_owned();
        match self.peek() {
            Some(' ') => Err(self.error("use bracket notation ['my prop'] for names with spaces")),
            Some('(') => Err(self.error(&format!("unsupported function '{name}()'"))),
            _ => Ok(Segment::Step(Step::Name(name))),
        }
    }

    fn bracket_segment(&mut self) -> Result<Segment, String> {
        self.bump();
        self.skip_spaces();
        let segment = match self.peek() {
            Some(quote_char @ ('\'' | '"')) => self.quoted_names(quote_char)?,
            Some('?') => Segment::Rfc9535(format!("[{}]", self.filter()?)),
            _ => {
                let content = self.take_until(|next| next == ']').trim();
                if content == "*" {
                    Segment::Rfc9535("[*]".to_owned())
                } else if let Ok(index) = content.parse::<i64>() {
                    Segment::Step(Step::Index(index))
                } else if !content.is_empty()
                    && content.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | ',' | ' '))
                {
                    // Slices and index unions mean the same in Jayway and RFC 9535.
                    Segment::Rfc9535(format!("[{content}]"))
                } else {
                    return Err(self.error(&format!("unsupported bracket expression '[{content}]'")));
                }
            }
        };
        self.skip_spaces();
        if !self.eat(']') {
            return Err(self.error("expected ']'"));
        }
        Ok(segment)
    }

    /// `'a'` or `'a', 'b'` (a union). Jayway keeps backslashes in names verbatim: they only stop
    /// the next character from closing the name.
    fn quoted_names(&mut self, quote_char: char) -> Result<Segment, String> {
        let mut names = vec![self.quoted_name(quote_char)?];
        loop {
            self.skip_spaces();
            if !self.eat(',') {
                break;
            }
            self.skip_spaces();
            match self.peek() {
                Some(next @ ('\'' | '"')) => names.push(self.quoted_name(next)?),
                _ => return Err(self.error("expected a quoted name after ','")),
            }
        }
        if names.len() == 1 {
            if let Some(name) = names.pop() {
                return Ok(Segment::Step(Step::Name(name)));
            }
        }
        let quoted: Vec<String> = names.iter().map(|name| quote(name)).collect();
        Ok(Segment::Rfc9535(format!("[{}]", quoted.join(","))))
    }

    fn quoted_name(&mut self, quote_char: char) -> Result<String, String> {
        self.bump();
        let mut name = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated quoted name")),
                Some(c) if c == quote_char => return Ok(name),
                Some('\\') => {
                    name.push('\\');
                    if let Some(escaped) = self.bump() {
                        name.push(escaped);
                    }
                }
                Some(c) => name.push(c),
            }
        }
    }

    /// `?(...)` up to the `]` that closes the segment, skipping brackets and quotes inside. Jayway's
    /// parenthesized filters are valid RFC 9535 filter expressions.
    fn filter(&mut self) -> Result<String, String> {
        let start = self.position;
        let mut depth = 0usize;
        let mut quote_char = None;
        while let Some(next) = self.peek() {
            match (quote_char, next) {
                (Some(_), '\\') => {
                    self.bump();
                }
                (Some(open), c) if c == open => quote_char = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote_char = Some(next),
                (None, '(' | '[') => depth += 1,
                (None, ')') => depth = depth.saturating_sub(1),
                (None, ']') if depth == 0 => break,
                (None, ']') => depth -= 1,
                (None, _) => {}
            }
            self.bump();
        }
        let filter = self.text.get(start..self.position).unwrap_or_default();
        if self.peek().is_none() {
            return Err(self.error("unterminated filter"));
        }
        Ok(filter.trim_end().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Variables;
    use serde_json::json;

    fn select_in(path: &str, input: &Value) -> Option<Value> {
        let context = json!({"Execution": {"Id": "exec-1"}, "Map": {"Item": {"Index": 2}}});
        let mut variables = Variables::new();
        variables.set("count".to_owned(), json!(42));
        variables.set("order".to_owned(), json!({"items": [{"sku": "a"}, {"sku": "b"}]}));
        let path = Path::parse(path).unwrap_or_else(|error| panic!("{error}"));
        path.select(&Scope::new(input, &context, &variables))
    }

    fn select(path: &str) -> Option<Value> {
        let input = json!({
            "a": {"b": 1, "list": [10, 20, 30]},
            "delivery-partner": "UQS",
            "users": [{"name": "x", "status": 0}, {"name": "y", "status": 1}, {"name": "z"}],
            "nothing": null
        });
        select_in(path, &input)
    }

    #[test]
    fn dollar_selects_the_whole_input() {
        assert_eq!(select_in("$", &json!([1, 2])), Some(json!([1, 2])));
    }

    #[test]
    fn dot_and_bracket_names_select_members() {
        assert_eq!(select("$.a.b"), Some(json!(1)));
        assert_eq!(select("$['a']['b']"), Some(json!(1)));
        assert_eq!(select("$[\"a\"].b"), Some(json!(1)));
        assert_eq!(select("$[ 'a' ].list[ 1 ]"), Some(json!(20)));
    }

    #[test]
    fn dot_names_may_hold_dashes() {
        assert_eq!(select("$.delivery-partner"), Some(json!("UQS")));
    }

    #[test]
    fn null_members_are_found() {
        assert_eq!(select("$.nothing"), Some(Value::Null));
    }

    #[test]
    fn indexes_select_single_elements_and_count_back_when_negative() {
        assert_eq!(select("$.a.list[0]"), Some(json!(10)));
        assert_eq!(select("$.a.list[-1]"), Some(json!(30)));
        assert_eq!(select("$.a.list[3]"), None);
        assert_eq!(select("$.a.list[-4]"), None);
    }

    #[test]
    fn definite_paths_that_miss_select_nothing() {
        assert_eq!(select("$.missing"), None);
        assert_eq!(select("$.a.b.c"), None);
        assert_eq!(select("$.a[0]"), None);
        assert_eq!(select("$.nothing.x"), None);
    }

    #[test]
    fn wildcards_select_arrays_of_matches() {
        assert_eq!(select("$.users[*].name"), Some(json!(["x", "y", "z"])));
        assert_eq!(select("$.a.*"), Some(json!([1, [10, 20, 30]])));
        assert_eq!(select("$.users[*].status"), Some(json!([0, 1])));
    }

    #[test]
    fn indefinite_paths_that_miss_select_an_empty_array() {
        assert_eq!(select("$.missing.items[1:5]"), Some(json!([])));
        assert_eq!(select("$.missing[*].x"), Some(json!([])));
    }

    #[test]
    fn slices_and_index_unions_select_arrays() {
        assert_eq!(select("$.a.list[1:]"), Some(json!([20, 30])));
        assert_eq!(select("$.a.list[:1]"), Some(json!([10])));
        assert_eq!(select("$.a.list[-2:]"), Some(json!([20, 30])));
        assert_eq!(select("$.a.list[0,2]"), Some(json!([10, 30])));
    }

    #[test]
    fn name_unions_select_arrays() {
        assert_eq!(select("$.a['b','list']"), Some(json!([1, [10, 20, 30]])));
    }

    #[test]
    fn deep_scan_finds_members_at_any_depth() {
        assert_eq!(select_in("$..id", &json!({"id": 1, "x": {"id": 2, "y": [{"id": 3}]}})), Some(json!([1, 2, 3])));
        assert_eq!(select_in("$..['id']", &json!({"x": {"id": 2}})), Some(json!([2])));
    }

    #[test]
    fn filters_select_matching_elements() {
        assert_eq!(select("$.users[?(@.status == 0)]"), Some(json!([{"name": "x", "status": 0}])));
        assert_eq!(select("$.users[?(@.status)].name"), Some(json!(["x", "y"])));
        assert_eq!(select("$.users[?(@.name == 'y' || @.status > 0)].name"), Some(json!(["y"])));
        assert_eq!(select("$.users[?(@.name == ']')]"), Some(json!([])));
    }

    #[test]
    fn quoted_names_keep_backslashes_verbatim() {
        let input = json!({"Test\\\"\"Name\"": "found"});
        assert_eq!(select_in(r#"$['Test\""Name"']"#, &input), Some(json!("found")));
    }

    #[test]
    fn length_counts_arrays_and_objects() {
        assert_eq!(select("$.a.list.length()"), Some(json!(3)));
        assert_eq!(select("$.a.length()"), Some(json!(2)));
        assert_eq!(select("$.users[*].status.length()"), Some(json!(2)));
        assert_eq!(select("$.a.b.length()"), Some(Value::Null));
        assert_eq!(select("$.missing.length()"), None);
    }

    #[test]
    fn double_dollar_reads_the_context_object() {
        assert_eq!(select("$$.Execution.Id"), Some(json!("exec-1")));
        assert_eq!(select("$$.Map.Item.Index"), Some(json!(2)));
        assert_eq!(select("$$.Execution.Missing"), None);
        assert_eq!(select("$$"), Some(json!({"Execution": {"Id": "exec-1"}, "Map": {"Item": {"Index": 2}}})));
    }

    #[test]
    fn dollar_name_reads_a_variable() {
        assert_eq!(select("$count"), Some(json!(42)));
        assert_eq!(select("$order.items[1].sku"), Some(json!("b")));
        assert_eq!(select("$order.items[*].sku"), Some(json!(["a", "b"])));
        assert_eq!(select("$unknown"), None);
    }

    #[test]
    fn select_borrowed_does_not_copy_definite_selections() {
        let input = json!({"a": [1]});
        let (context, variables) = (Value::Null, Variables::new());
        let path = Path::parse("$.a").unwrap_or_else(|error| panic!("{error}"));
        let selected = path.select_borrowed(&Scope::new(&input, &context, &variables));
        assert!(matches!(selected, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn select_required_reports_the_normalized_path() {
        let input = json!({"a": {}});
        let (context, variables) = (Value::Null, Variables::new());
        let scope = Scope::new(&input, &context, &variables);
        let failure = Path::parse("$.a.b[0]").map(|path| path.select_required(&scope)).ok();
        assert_eq!(
            failure,
            Some(Err(Failure::runtime("Invalid path '$.a.b[0]' : No results for path: $['a']['b'][0]")))
        );
        let found = Path::parse("$.a").map(|path| path.select_required(&scope)).ok();
        assert_eq!(found, Some(Ok(json!({}))));
    }

    #[test]
    fn as_str_and_definiteness_are_reported() {
        let path = Path::parse("$.a[*]").unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(path.as_str(), "$.a[*]");
        assert!(!path.is_definite());
        assert!(Path::parse("$.a[0].b").is_ok_and(|path| path.is_definite()));
    }

    #[test]
    fn malformed_paths_are_rejected_with_a_reason() {
        for (text, reason) in [
            ("", "must start with '$'"),
            ("a.b", "must start with '$'"),
            ("$.", "expected a name"),
            ("$.a b", "bracket notation"),
            ("$['a'", "expected ']'"),
            ("$['a]", "unterminated quoted name"),
            ("$[abc]", "unsupported bracket expression"),
            ("$.a.sum()", "unsupported function 'sum()'"),
            ("$.a.length().b", "length() must end"),
            ("$.a[?(@.x == 1]", "unterminated filter"),
            ("$.a[?(@.x === 1)]", "Invalid JSONPath"),
            ("$ x", "variable name"),
            ("$a}", "unexpected character '}'"),
        ] {
            match Path::parse(text) {
                Ok(path) => panic!("{text} parsed as {path:?}"),
                Err(error) => assert!(error.contains(reason), "{text}: {error}"),
            }
        }
    }

    fn write(path: &str, input: Value, result: Value) -> Result<Value, Failure> {
        ReferencePath::parse(path).unwrap_or_else(|error| panic!("{error}")).write(input, result)
    }

    #[test]
    fn result_path_dollar_replaces_the_input() {
        assert_eq!(write("$", json!({"a": 1}), json!("r")), Ok(json!("r")));
    }

    #[test]
    fn result_path_sets_and_replaces_members() {
        assert_eq!(write("$.r", json!({"a": 1}), json!(2)), Ok(json!({"a": 1, "r": 2})));
        assert_eq!(write("$.a", json!({"a": 1, "b": 0}), json!(2)), Ok(json!({"a": 2, "b": 0})));
        assert_eq!(write("$['a']['b']", json!({"a": {"c": 0}}), json!(2)), Ok(json!({"a": {"c": 0, "b": 2}})));
    }

    #[test]
    fn result_path_creates_missing_objects() {
        assert_eq!(write("$.x.y.z", json!({"a": 1}), json!(true)), Ok(json!({"a": 1, "x": {"y": {"z": true}}})));
    }

    #[test]
    fn result_path_replaces_existing_array_elements() {
        assert_eq!(write("$.a[1]", json!({"a": [0, 0]}), json!(5)), Ok(json!({"a": [0, 5]})));
        assert_eq!(write("$.a[-1].b", json!({"a": [{}, {}]}), json!(5)), Ok(json!({"a": [{}, {"b": 5}]})));
    }

    #[test]
    fn result_path_into_a_non_object_fails() {
        let failure = |cause: &str| Err(Failure::new(names::RESULT_PATH_MATCH_FAILURE, cause));
        assert_eq!(
            write("$.r", json!("text"), json!(1)),
            failure("Unable to apply ReferencePath $.r to input \"text\"")
        );
        assert_eq!(
            write("$.a.b", json!({"a": [1]}), json!(1)),
            failure("Unable to apply ReferencePath $.a.b to input {\"a\":[1]}")
        );
        assert_eq!(
            write("$.a[2]", json!({"a": [1]}), json!(1)),
            failure("Unable to apply ReferencePath $.a[2] to input {\"a\":[1]}")
        );
        assert_eq!(
            write("$.x.y[0]", json!({"a": 1}), json!(1)),
            failure("Unable to apply ReferencePath $.x.y[0] to input {\"a\":1}")
        );
    }

    #[test]
    fn reference_paths_must_be_definite_input_paths() {
        for text in ["$$.Execution", "$var", "$.a[*]", "$..a", "$.a[?(@.x)]", "$.a.length()", "$.a[0:1]"] {
            assert!(
                ReferencePath::parse(text).is_err_and(|error| error.contains("not a valid reference path")),
                "{text}"
            );
        }
        assert!(ReferencePath::parse("$.a b").is_err());
        assert_eq!(ReferencePath::parse("$.a[0]").map(|path| path.as_str().to_owned()), Ok("$.a[0]".to_owned()));
    }
}
