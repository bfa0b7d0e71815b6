//! CloudFormation intrinsic functions, long form (short-form tags are read into it by
//! `asl::yaml`): Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If with
//! conditions, Fn::Equals/Not/And/Or, Fn::GetAZs, Fn::Base64; and serverless-pseudo-parameters'
//! `#{Name}`, which is `Fn::Sub`'s `${Name}`.

use crate::error::KeyError;
use asl::yaml::{child_path, item_path};
use serde_json::{Map, Value};

/// What references resolve to: parameters, pseudo parameters and logical ids of the stack.
pub trait Stack {
    /// `Ref`: a parameter's value, a pseudo parameter, or a resource's reference value.
    fn reference(&self, name: &str) -> Result<Value, String>;
    /// `Fn::GetAtt`.
    fn attribute(&self, name: &str, attribute: &str) -> Result<Value, String>;
    /// A named condition of the template's `Conditions`.
    fn condition(&self, name: &str) -> Result<bool, String>;
}

const NO_VALUE: &str = "AWS::NoValue";
/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 128;

/// Evaluates every intrinsic function in `value`; `AWS::NoValue` removes the key or item it is in.
pub fn evaluate(value: &Value, stack: &dyn Stack, key: &str) -> Result<Value, KeyError> {
    Ok(eval(value, stack, key, 0)?.unwrap_or(Value::Null))
}

/// A condition expression (`Fn::Equals`, `Fn::And`, `Condition: Name`, ...) as a boolean.
pub fn evaluate_condition(value: &Value, stack: &dyn Stack, key: &str) -> Result<bool, KeyError> {
    condition_value(value, stack, key, 0)
}

/// serverless-pseudo-parameters: every string with `#{...}` becomes an `Fn::Sub` of `${...}`.
pub fn pseudo_parameters_to_substitutions(value: Value) -> Value {
    match value {
        Value::String(text) if text.contains("#{") => {
            let mut object = Map::new();
            object.insert("Fn::Sub".to_owned(), Value::String(text.replace("#{", "${")));
            Value::Object(object)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(pseudo_parameters_to_substitutions).collect()),
        Value::Object(entries) => Value::Object(entries.into_iter().map(|(name, item)| (name, pseudo_parameters_to_substitutions(item))).collect()),
        scalar => scalar,
    }
}

fn eval(value: &Value, stack: &dyn Stack, key: &str, depth: usize) -> Result<Option<Value>, KeyError> {
    if depth > MAX_DEPTH {
        return Err(KeyError::new(key, "intrinsic functions nest too deeply"));
    }
    match value {
        Value::Object(entries) if entries.len() == 1 => {
            let (name, argument) = entries.iter().next().expect("one entry");
            if name == "Ref" || name.starts_with("Fn::") {
                return function(name, argument, stack, &child_path(key, name), depth);
            }
            object(entries, stack, key, depth).map(Some)
        }
        Value::Object(entries) => object(entries, stack, key, depth).map(Some),
        Value::Array(items) => {
            let mut evaluated = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                if let Some(item) = eval(item, stack, &item_path(key, index), depth + 1)? {
                    evaluated.push(item);
                }
            }
            Ok(Some(Value::Array(evaluated)))
        }
        scalar => Ok(Some(scalar.clone())),
    }
}

fn object(entries: &Map<String, Value>, stack: &dyn Stack, key: &str, depth: usize) -> Result<Value, KeyError> {
    let mut evaluated = Map::new();
    for (name, item) in entries {
        if let Some(item) = eval(item, stack, &child_path(key, name), depth + 1)? {
            evaluated.insert(name.clone(), item);
        }
    }
    Ok(Value::Object(evaluated))
}

fn function(name: &str, argument: &Value, stack: &dyn Stack, key: &str, depth: usize) -> Result<Option<Value>, KeyError> {
    let failed = |message: String| KeyError::new(key, message);
    let evaluated = |value: &Value| -> Result<Value, KeyError> { Ok(eval(value, stack, key, depth + 1)?.unwrap_or(Value::Null)) };
    match name {
        "Ref" => {
            let target = text(&evaluated(argument)?).ok_or_else(|| failed("Ref takes a logical id or parameter name".into()))?;
            if target == NO_VALUE {
                return Ok(None);
            }
            stack.reference(&target).map(Some).map_err(failed)
        }
        "Fn::GetAtt" => {
            let (resource, attribute) = match evaluated(argument)? {
                Value::Array(parts) if parts.len() == 2 => (text(&parts[0]), text(&parts[1])),
                Value::String(dotted) => match dotted.split_once('.') {
                    Some((resource, attribute)) => (Some(resource.to_owned()), Some(attribute.to_owned())),
                    None => (None, None),
                },
                _ => (None, None),
            };
            match (resource, attribute) {
                (Some(resource), Some(attribute)) => stack.attribute(&resource, &attribute).map(Some).map_err(failed),
                _ => Err(failed("Fn::GetAtt takes [LogicalId, Attribute] or 'LogicalId.Attribute'".into())),
            }
        }
        "Fn::Join" => {
            let Value::Array(parts) = argument else { return Err(failed("Fn::Join takes [delimiter, [values]]".into())) };
            let [delimiter, values] = parts.as_slice() else { return Err(failed("Fn::Join takes [delimiter, [values]]".into())) };
            let delimiter = text(&evaluated(delimiter)?).ok_or_else(|| failed("Fn::Join's delimiter must be a string".into()))?;
            let Value::Array(values) = evaluated(values)? else { return Err(failed("Fn::Join's second item must be a list".into())) };
            let pieces: Option<Vec<String>> = values.iter().map(text).collect();
            let pieces = pieces.ok_or_else(|| failed("Fn::Join joins strings and numbers only".into()))?;
            Ok(Some(Value::String(pieces.join(&delimiter))))
        }
        "Fn::Sub" => {
            let (template, variables) = match argument {
                Value::String(template) => (template.clone(), Map::new()),
                Value::Array(parts) if parts.len() == 2 => {
                    let template = text(&evaluated(&parts[0])?).ok_or_else(|| failed("Fn::Sub's template must be a string".into()))?;
                    let Value::Object(variables) = evaluated(&parts[1])? else { return Err(failed("Fn::Sub's variables must be a map".into())) };
                    (template, variables)
                }
                _ => return Err(failed("Fn::Sub takes a template or [template, {variables}]".into())),
            };
            substitute(&template, &variables, stack).map(|text| Some(Value::String(text))).map_err(failed)
        }
        "Fn::Select" => {
            let Value::Array(parts) = argument else { return Err(failed("Fn::Select takes [index, [values]]".into())) };
            let [index, values] = parts.as_slice() else { return Err(failed("Fn::Select takes [index, [values]]".into())) };
            let index = text(&evaluated(index)?).and_then(|index| index.parse::<usize>().ok()).ok_or_else(|| failed("Fn::Select's index must be a whole number".into()))?;
            let Value::Array(values) = evaluated(values)? else { return Err(failed("Fn::Select's second item must be a list".into())) };
            values.get(index).cloned().map(Some).ok_or_else(|| failed(format!("Fn::Select: index {index} is out of the list's {} items", values.len())))
        }
        "Fn::Split" => {
            let Value::Array(parts) = argument else { return Err(failed("Fn::Split takes [delimiter, string]".into())) };
            let [delimiter, source] = parts.as_slice() else { return Err(failed("Fn::Split takes [delimiter, string]".into())) };
            let (Some(delimiter), Some(source)) = (text(&evaluated(delimiter)?), text(&evaluated(source)?)) else {
                return Err(failed("Fn::Split takes strings".into()));
            };
            Ok(Some(Value::Array(source.split(delimiter.as_str()).map(Value::from).collect())))
        }
        "Fn::GetAZs" => {
            let region = match text(&evaluated(argument)?) {
                Some(region) if !region.is_empty() => region,
                _ => text(&stack.reference("AWS::Region").map_err(failed)?).unwrap_or_default(),
            };
            Ok(Some(Value::Array(["a", "b", "c"].iter().map(|zone| Value::String(format!("{region}{zone}"))).collect())))
        }
        "Fn::Base64" => {
            use base64::Engine;
            let source = text(&evaluated(argument)?).ok_or_else(|| failed("Fn::Base64 takes a string".into()))?;
            Ok(Some(Value::String(base64::engine::general_purpose::STANDARD.encode(source.as_bytes()))))
        }
        "Fn::If" => {
            let Value::Array(parts) = argument else { return Err(failed("Fn::If takes [condition, value if true, value if false]".into())) };
            let [condition, when_true, when_false] = parts.as_slice() else { return Err(failed("Fn::If takes [condition, value if true, value if false]".into())) };
            let condition = text(condition).ok_or_else(|| failed("Fn::If's condition must be a condition's name".into()))?;
            let chosen = if stack.condition(&condition).map_err(failed)? { when_true } else { when_false };
            eval(chosen, stack, key, depth + 1)
        }
        "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => {
            let mut object = Map::new();
            object.insert(name.to_owned(), argument.clone());
            condition_value(&Value::Object(object), stack, key, depth).map(|flag| Some(Value::Bool(flag)))
        }
        "Fn::ImportValue" | "Fn::FindInMap" | "Fn::Cidr" | "Fn::Transform" | "Fn::Length" | "Fn::ToJsonString" => Err(failed(format!("{name} is not supported locally"))),
        other => Err(failed(format!("{other} is not an intrinsic function"))),
    }
}

fn condition_value(value: &Value, stack: &dyn Stack, key: &str, depth: usize) -> Result<bool, KeyError> {
    if depth > MAX_DEPTH {
        return Err(KeyError::new(key, "conditions nest too deeply"));
    }
    let failed = |message: &str| KeyError::new(key, message.to_owned());
    let Value::Object(entries) = value else {
        return match value {
            Value::Bool(flag) => Ok(*flag),
            Value::String(flag) if flag == "true" || flag == "false" => Ok(flag == "true"),
            _ => Err(failed("a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition")),
        };
    };
    let Some((name, argument)) = entries.iter().next().filter(|_| entries.len() == 1) else {
        return Err(failed("a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition"));
    };
    let operands = || match argument {
        Value::Array(items) => Ok(items),
        _ => Err(failed(&format!("{name} takes a list"))),
    };
    let key = &child_path(key, name);
    match name.as_str() {
        "Condition" => stack.condition(&text(argument).unwrap_or_default()).map_err(|message| KeyError::new(key, message)),
        "Fn::Equals" => {
            let items = operands()?;
            let [left, right] = items.as_slice() else { return Err(failed("Fn::Equals compares two values")) };
            let left = eval(left, stack, key, depth + 1)?;
            let right = eval(right, stack, key, depth + 1)?;
            // CloudFormation compares as strings: `!Equals [1, "1"]` holds.
            Ok(left.as_ref().and_then(text) == right.as_ref().and_then(text) && left.is_some())
        }
        "Fn::Not" => {
            let items = operands()?;
            let [inner] = items.as_slice() else { return Err(failed("Fn::Not takes one condition")) };
            Ok(!condition_value(inner, stack, key, depth + 1)?)
        }
        "Fn::And" => {
            let mut all = true;
            for item in operands()? {
                all &= condition_value(item, stack, key, depth + 1)?;
            }
            Ok(all)
        }
        "Fn::Or" => {
            let mut any = false;
            for item in operands()? {
                any |= condition_value(item, stack, key, depth + 1)?;
            }
            Ok(any)
        }
        _ => {
            let value = eval(value, stack, key, depth + 1)?;
            condition_value(&value.unwrap_or(Value::Null), stack, key, depth + 1)
        }
    }
}

/// `Fn::Sub`: `${Name}` is a variable, parameter, pseudo parameter or resource; `${Name.Attr}` an
/// attribute; `${!Literal}` stays `${Literal}`.
fn substitute(template: &str, variables: &Map<String, Value>, stack: &dyn Stack) -> Result<String, String> {
    let mut spelled = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        spelled.push_str(&rest[..start]);
        let Some(length) = rest[start + 2..].find('}') else {
            spelled.push_str(&rest[start..]);
            return Ok(spelled);
        };
        let name = rest[start + 2..start + 2 + length].trim();
        if let Some(literal) = name.strip_prefix('!') {
            spelled.push_str("${");
            spelled.push_str(literal);
            spelled.push('}');
        } else {
            let value = match variables.get(name) {
                Some(value) => value.clone(),
                None => match name.split_once('.') {
                    Some((resource, attribute)) if !name.starts_with("AWS::") => stack.attribute(resource, attribute)?,
                    _ => stack.reference(name)?,
                },
            };
            spelled.push_str(&text(&value).ok_or_else(|| format!("${{{name}}} is not a string"))?);
        }
        rest = &rest[start + 3 + length..];
    }
    spelled.push_str(rest);
    Ok(spelled)
}

/// Strings and numbers as text (CloudFormation passes numbers as strings).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A stack with one parameter, one resource and the condition IsProd.
    struct Fixture;

    impl Stack for Fixture {
        fn reference(&self, name: &str) -> Result<Value, String> {
            match name {
                "AWS::Region" => Ok(json!("us-east-1")),
                "AWS::AccountId" => Ok(json!("000000000000")),
                "Stage" => Ok(json!("prod")),
                "Queue" => Ok(json!("arn:aws:batch:us-east-1:000000000000:job-queue/q")),
                other => Err(format!("Unresolved resource dependency [{other}]")),
            }
        }

        fn attribute(&self, name: &str, attribute: &str) -> Result<Value, String> {
            match (name, attribute) {
                ("Fn", "Arn") => Ok(json!("arn:aws:lambda:us-east-1:000000000000:function:f")),
                _ => Err(format!("no attribute {attribute} of {name}")),
            }
        }

        fn condition(&self, name: &str) -> Result<bool, String> {
            match name {
                "IsProd" => Ok(true),
                other => Err(format!("no condition {other}")),
            }
        }
    }

    fn run(value: Value) -> Result<Value, KeyError> {
        evaluate(&value, &Fixture, "x")
    }

    #[test]
    fn references_joins_and_substitutions() {
        assert_eq!(run(json!({"Ref": "Queue"})).unwrap(), "arn:aws:batch:us-east-1:000000000000:job-queue/q");
        assert_eq!(run(json!({"Fn::GetAtt": ["Fn", "Arn"]})).unwrap(), "arn:aws:lambda:us-east-1:000000000000:function:f");
        assert_eq!(run(json!({"Fn::GetAtt": "Fn.Arn"})).unwrap(), "arn:aws:lambda:us-east-1:000000000000:function:f");
        assert_eq!(run(json!({"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":role/x"]]})).unwrap(), "arn:aws:iam::000000000000:role/x");
        assert_eq!(run(json!({"Fn::Sub": "${AWS::Region}-${Stage}-${Fn.Arn}-${!Literal}"})).unwrap(), "us-east-1-prod-arn:aws:lambda:us-east-1:000000000000:function:f-${Literal}");
        assert_eq!(run(json!({"Fn::Sub": ["${A}-${Stage}", {"A": {"Ref": "AWS::Region"}}]})).unwrap(), "us-east-1-prod");
        assert_eq!(run(json!({"Fn::Select": [1, {"Fn::GetAZs": {"Ref": "AWS::Region"}}]})).unwrap(), "us-east-1b");
        assert_eq!(run(json!({"Fn::Select": ["0", {"Fn::GetAZs": ""}]})).unwrap(), "us-east-1a");
        assert_eq!(run(json!({"Fn::Split": [",", "a,b"]})).unwrap(), json!(["a", "b"]));
        assert_eq!(run(json!({"Fn::Base64": "hi"})).unwrap(), "aGk=");
    }

    #[test]
    fn conditions_choose_and_no_value_removes() {
        assert_eq!(run(json!({"Fn::If": ["IsProd", 512, 128]})).unwrap(), 512);
        assert_eq!(run(json!({"a": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 1]}, "b": [1, {"Ref": "AWS::NoValue"}]})).unwrap(), json!({"b": [1]}));
        assert!(evaluate_condition(&json!({"Fn::Equals": [{"Ref": "Stage"}, "prod"]}), &Fixture, "c").unwrap());
        assert!(evaluate_condition(&json!({"Fn::Equals": [1, "1"]}), &Fixture, "c").unwrap());
        assert!(!evaluate_condition(&json!({"Fn::Not": [{"Condition": "IsProd"}]}), &Fixture, "c").unwrap());
        assert!(evaluate_condition(&json!({"Fn::Or": [{"Fn::Equals": ["a", "b"]}, {"Condition": "IsProd"}]}), &Fixture, "c").unwrap());
        assert!(!evaluate_condition(&json!({"Fn::And": [{"Fn::Equals": ["a", "a"]}, {"Fn::Equals": ["a", "b"]}]}), &Fixture, "c").unwrap());
    }

    #[test]
    fn errors_name_the_key() {
        let error = run(json!({"Properties": {"Name": {"Ref": "Missing"}}})).unwrap_err();
        assert_eq!(error.key, "x.Properties.Name.Ref");
        assert!(error.message.contains("Missing"));
        assert!(run(json!({"Fn::Select": [5, [1]]})).unwrap_err().message.contains("out of"));
        assert!(run(json!({"Fn::ImportValue": "x"})).unwrap_err().message.contains("not supported"));
        assert!(run(json!({"Fn::Nope": "x"})).unwrap_err().message.contains("not an intrinsic"));
    }

    #[test]
    fn pseudo_parameters_become_substitutions() {
        let converted = pseudo_parameters_to_substitutions(json!({"a": "arn:#{AWS::Region}:#{Queue}", "b": ["plain"]}));
        assert_eq!(converted, json!({"a": {"Fn::Sub": "arn:${AWS::Region}:${Queue}"}, "b": ["plain"]}));
        assert_eq!(run(converted["a"].clone()).unwrap(), "arn:us-east-1:arn:aws:batch:us-east-1:000000000000:job-queue/q");
    }
}
