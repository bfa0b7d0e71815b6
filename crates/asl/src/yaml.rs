//! YAML documents as JSON values. CloudFormation short-form tags (`!Ref x`, `!GetAtt a.b`,
//! `!Sub ...`) become their long form (`{"Ref": "x"}`, `{"Fn::GetAtt": ["a", "b"]}`), so that
//! definitions embedded in serverless.yml read the same whichever form they use.

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

pub fn to_json(text: &str) -> Result<Value, String> {
    let documents = Yaml::load_from_str(text).map_err(|e| format!("Invalid YAML: {e}"))?;
    match documents.into_iter().next() {
        Some(document) => convert(&document, 0),
        None => Err("Invalid YAML: the document is empty".to_owned()),
    }
}

fn convert(node: &Yaml, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("Invalid YAML: nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match node {
        Yaml::Value(scalar) => scalar_to_json(scalar),
        Yaml::Representation(text, _, _) => Value::String(text.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(|item| convert(item, depth + 1)).collect::<Result<_, _>>()?),
        Yaml::Mapping(entries) => {
            let mut object = Map::new();
            for (key, value) in entries {
                // JSON has only string keys; a collection as a key (`? {a: b}: c`) has no meaning
                // in a definition, and re-serialising nested ones grows exponentially.
                let key = match convert(key, depth + 1)? {
                    Value::String(text) => text,
                    Value::Array(_) | Value::Object(_) => return Err("Invalid YAML: a mapping key must be a scalar".to_owned()),
                    scalar => scalar.to_string(),
                };
                object.insert(key, convert(value, depth + 1)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tag, inner) => cloudformation_long_form(&tag.suffix, convert(inner, depth + 1)?),
        Yaml::Alias(_) => return Err("Invalid YAML: aliases are not supported".to_owned()),
        Yaml::BadValue => return Err("Invalid YAML: a value cannot be read".to_owned()),
    })
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
    fn broken_yaml_is_an_error_not_a_panic() {
        assert!(to_json("a: [1, 2").unwrap_err().starts_with("Invalid YAML"));
        assert!(to_json("").is_err());
    }
}
