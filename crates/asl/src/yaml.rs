//! YAML documents as JSON values. CloudFormation short-form tags (`!Ref x`, `!GetAtt a.b`,
//! `!Sub ...`) become their long form (`{"Ref": "x"}`, `{"Fn::GetAtt": ["a", "b"]}`), so that
//! definitions embedded in serverless.yml read the same whichever form they use.
//!
//! [`to_json_with_lines`] also tells on which line each value starts, so that errors found later
//! (in a serverless.yml, say) can name the line of the key they are about.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;
/// YAML 1.1's merge key.
const MERGE_KEY: &str = "<<";

/// Where each value of a document starts: 1-based lines by key path (`functions.main.events[0]`;
/// the root is the empty path).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lines(HashMap<String, usize>);

impl Lines {
    /// The line of the value at `path`, or of its closest ancestor that has one.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.0.get(path) {
                return Some(*line);
            }
            let parent = path.rfind(['.', '[']).map(|at| &path[..at])?;
            path = parent;
        }
    }
}

/// A key path one level down: `parent.key`, or `parent[index]` for sequence items.
pub fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub fn item_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Why a document is not valid YAML, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based, when the fault has a place.
    pub line: Option<usize>,
    /// The key path of the value at fault (empty for the document or when the parser stopped).
    pub key: String,
    pub message: String,
}

impl YamlError {
    fn at(line: usize, key: &str, message: impl Into<String>) -> YamlError {
        YamlError { line: Some(line), key: key.to_owned(), message: message.into() }
    }
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} (line {line})", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

pub fn to_json(text: &str) -> Result<Value, String> {
    convert_document(text, None).map_err(|error| error.to_string())
}

/// The document and the line of every value in it.
pub fn to_json_with_lines(text: &str) -> Result<(Value, Lines), YamlError> {
    let mut lines = Lines::default();
    let value = convert_document(text, Some(&mut lines))?;
    Ok((value, lines))
}

fn convert_document(text: &str, lines: Option<&mut Lines>) -> Result<Value, YamlError> {
    let documents = MarkedYaml::load_from_str(text).map_err(|error| YamlError::at(error.marker().line(), "", format!("Invalid YAML: {}", error.info())))?;
    match documents.into_iter().next() {
        Some(document) => Converter { lines }.convert(&document, String::new(), 0),
        None => Err(YamlError { line: None, key: String::new(), message: "Invalid YAML: the document is empty".to_owned() }),
    }
}

struct Converter<'a> {
    lines: Option<&'a mut Lines>,
}

impl Converter<'_> {
    fn convert(&mut self, node: &MarkedYaml, path: String, depth: usize) -> Result<Value, YamlError> {
        let line = node.span.start.line();
        if depth > MAX_DEPTH {
            return Err(YamlError::at(line, &path, format!("Invalid YAML: nested deeper than {MAX_DEPTH} levels")));
        }
        self.record(&path, node.span.start.line());
        let value = match &node.data {
            YamlData::Value(scalar) => scalar_to_json(scalar),
            YamlData::Representation(text, _, _) => Value::String(text.to_string()),
            YamlData::Sequence(items) => {
                let mut values = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    values.push(self.convert(item, item_path(&path, index), depth + 1)?);
                }
                Value::Array(values)
            }
            YamlData::Mapping(entries) => {
                let mut object = Map::new();
                let mut merged = Vec::new();
                for (key_node, value) in entries {
                    let key = self.key(key_node, &path, depth)?;
                    if key == MERGE_KEY {
                        merged.push(value);
                        continue;
                    }
                    let value_path = child_path(&path, &key);
                    // A key's line is where readers look for it, even when its value starts below.
                    self.record(&value_path, key_node.span.start.line());
                    let converted = self.convert(value, value_path, depth + 1)?;
                    object.insert(key, converted);
                }
                // After the explicit keys, which win over merged ones wherever they are written.
                for value in merged {
                    self.merge(&mut object, value, &path, depth + 1)?;
                }
                Value::Object(object)
            }
            YamlData::Tagged(tag, inner) => cloudformation_long_form(&tag.suffix, self.convert(inner, path.clone(), depth + 1)?),
            // The loader resolves aliases to copies of their anchors' values.
            YamlData::Alias(_) => return Err(YamlError::at(line, &path, "Invalid YAML: an alias names no anchor")),
            YamlData::BadValue => return Err(YamlError::at(line, &path, "Invalid YAML: a value cannot be read")),
        };
        Ok(value)
    }

    /// A mapping key as text. JSON has only string keys; a collection as a key (`? {a: b}: c`)
    /// has no meaning in a definition, and re-serialising nested ones grows exponentially.
    fn key(&mut self, key_node: &MarkedYaml, path: &str, depth: usize) -> Result<String, YamlError> {
        match (Converter { lines: None }).convert(key_node, path.to_owned(), depth + 1)? {
            Value::String(text) => Ok(text),
            Value::Array(_) | Value::Object(_) => Err(YamlError::at(key_node.span.start.line(), path, "Invalid YAML: a mapping key must be a scalar")),
            scalar => Ok(scalar.to_string()),
        }
    }

    /// `<<: *defaults` (YAML 1.1's merge key, which the Serverless Framework accepts): the keys of
    /// a mapping, or of a list of mappings (the first having precedence), that `object` does not
    /// have yet. Their lines are those of the mapping they come from.
    fn merge(&mut self, object: &mut Map<String, Value>, source: &MarkedYaml, path: &str, depth: usize) -> Result<(), YamlError> {
        let sources: Vec<&MarkedYaml> = match &source.data {
            YamlData::Sequence(items) => items.iter().collect(),
            _ => vec![source],
        };
        for source in sources {
            let Value::Object(merged) = self.convert(source, path.to_owned(), depth + 1)? else {
                return Err(YamlError::at(source.span.start.line(), &child_path(path, MERGE_KEY), "Invalid YAML: `<<` merges a mapping or a list of mappings"));
            };
            for (key, value) in merged {
                object.entry(key).or_insert(value);
            }
        }
        Ok(())
    }

    fn record(&mut self, path: &str, line: usize) {
        if let Some(lines) = self.lines.as_deref_mut() {
            lines.0.entry(path.to_owned()).or_insert(line);
        }
    }
}

fn scalar_to_json(scalar: &Scalar) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(flag) => Value::Bool(*flag),
        Scalar::Integer(number) => Value::from(*number),
        Scalar::FloatingPoint(number) => Number::from_f64(number.into_inner()).map_or(Value::Null, Value::Number),
        Scalar::String(text) => Value::String(text.to_string()),
    }
}

fn cloudformation_long_form(tag: &str, value: Value) -> Value {
    let (key, value) = match (tag, value) {
        ("Ref", value) => ("Ref".to_owned(), value),
        ("GetAtt", Value::String(dotted)) => {
            let parts = match dotted.split_once('.') {
                Some((resource, attribute)) => vec![Value::from(resource), Value::from(attribute)],
                None => vec![Value::from(dotted)],
            };
            ("Fn::GetAtt".to_owned(), Value::Array(parts))
        }
        ("Condition", value) => ("Condition".to_owned(), value),
        (name, value) => (format!("Fn::{name}"), value),
    };
    let mut object = Map::new();
    object.insert(key, value);
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_yaml_becomes_json() {
        let value = to_json("StartAt: A\nStates:\n  A: {Type: Pass, End: true, Result: [1, 2.5, null, yes]}\n").unwrap();
        assert_eq!(value, json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Result": [1, 2.5, null, "yes"]}}}));
    }

    #[test]
    fn cloudformation_tags_take_their_long_form() {
        let value = to_json("a: !Ref Bucket\nb: !GetAtt Fn.Arn\nc: !Sub 'x-${AWS::Region}'\n").unwrap();
        assert_eq!(value, json!({"a": {"Ref": "Bucket"}, "b": {"Fn::GetAtt": ["Fn", "Arn"]}, "c": {"Fn::Sub": "x-${AWS::Region}"}}));
    }

    #[test]
    fn collections_as_keys_are_refused() {
        assert!(to_json("? [a]\n: 1\n").unwrap_err().contains("mapping key must be a scalar"));
        // Found by fuzzing: nested complex keys once took exponential time to re-serialise.
        assert!(to_json(&"? ".repeat(40)).unwrap_err().contains("mapping key must be a scalar"));
    }

    #[test]
    fn lines_name_where_each_value_starts() {
        let (value, lines) = to_json_with_lines("service: a\nfunctions:\n  main:\n    handler: h.main\n    events:\n      - http: {path: x}\n").unwrap();
        assert_eq!(value["functions"]["main"]["events"][0]["http"]["path"], "x");
        assert_eq!(lines.line_of("service"), Some(1));
        assert_eq!(lines.line_of("functions.main.handler"), Some(4));
        assert_eq!(lines.line_of("functions.main.events[0].http.path"), Some(6));
        // Unknown keys fall back to their closest known ancestor.
        assert_eq!(lines.line_of("functions.main.timeout"), Some(3));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = "defaults: &defaults\n  memorySize: 256\n  timeout: 10\nmore: &more {runtime: python3.12, timeout: 20}\nfunctions:\n  a:\n    handler: a.main\n    <<: *defaults\n    memorySize: 512\n  b:\n    <<: [*defaults, *more]\n    handler: b.main\n  c: *more\n";
        let (value, lines) = to_json_with_lines(text).unwrap();
        assert_eq!(value["functions"]["a"], json!({"handler": "a.main", "memorySize": 512, "timeout": 10}));
        assert_eq!(value["functions"]["b"], json!({"handler": "b.main", "memorySize": 256, "timeout": 10, "runtime": "python3.12"}));
        assert_eq!(value["functions"]["c"], json!({"runtime": "python3.12", "timeout": 20}));
        assert_eq!(lines.line_of("functions.a.memorySize"), Some(9));
        // A merged key is where it is written: in the anchored mapping.
        assert_eq!(lines.line_of("functions.a.timeout"), Some(3));
        assert_eq!(lines.line_of("functions.a"), Some(6));
        let error = to_json_with_lines("a:\n  <<: 3\n").unwrap_err();
        assert_eq!((error.line, error.key.as_str()), (Some(2), "a.<<"), "{error}");
        assert_eq!(to_json_with_lines("a:\n  b: *nowhere\n").unwrap_err().line, Some(2));
    }

    #[test]
    fn broken_yaml_is_an_error_not_a_panic() {
        assert!(to_json("a: [1, 2").unwrap_err().starts_with("Invalid YAML"));
        assert!(to_json("").is_err());
    }
}
