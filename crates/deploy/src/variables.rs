//! Serverless Framework variables: `${self:...}`, `${opt:stage, 'dev'}`, `${env:X, default}`,
//! `${sls:stage}`, `${sls:instanceId}`, `${param:x}`, `${file(./x.yml):key}`, `${aws:region}`,
//! `${strToBool(...)}`, nested (`${self:custom.${opt:stage}}`) and with fallbacks.
//!
//! A string that is one variable takes the variable's value whatever its type; a variable inside
//! a longer string is spelled into it. `${AWS::Region}` and `${Logical.Attr}` are not variables
//! (the framework's syntax wants a source then `:` not followed by `:`): they are left for
//! `Fn::Sub`.

use crate::error::KeyError;
use crate::source::SourceFile;
use asl::yaml::{child_path, item_path};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Deeper nesting or chains of `${self:...}` than this are taken for a cycle.
const MAX_DEPTH: usize = 64;

/// Where variables take their values from, besides the configuration itself.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Command-line options: `stage`, `region` and any other `--name value`.
    pub options: BTreeMap<String, String>,
    /// Environment variables (`${env:...}`), given rather than read so that resolution is pure.
    pub env: BTreeMap<String, String>,
    /// `--param K=V`, which win over the stage's `params:`.
    pub params: BTreeMap<String, String>,
    /// `${sls:instanceId}`: one random id per command run.
    pub instance_id: String,
    /// The account in `${aws:accountId}`.
    pub account: String,
}

pub const DEFAULT_STAGE: &str = "dev";
pub const DEFAULT_REGION: &str = "us-east-1";

/// Resolves every variable of `config` (read from a file in `base_dir`).
pub fn resolve(config: &Value, base_dir: &Path, sources: &Sources) -> Result<Value, KeyError> {
    Resolver { root: config, base_dir, sources, settling: false }.resolve_value(config, "", 0)
}

/// The stage and region a configuration deploys to: options first, then `provider`, then defaults.
pub fn stage_and_region(config: &Value, base_dir: &Path, sources: &Sources) -> Result<(String, String), KeyError> {
    let resolver = Resolver { root: config, base_dir, sources, settling: false };
    Ok((resolver.stage(0)?, resolver.region(0)?))
}

struct Resolver<'a> {
    root: &'a Value,
    base_dir: &'a Path,
    sources: &'a Sources,
    /// True while `provider.stage` / `provider.region` themselves are resolved: there, an
    /// `${opt:stage}` without option or fallback is the default rather than a question back.
    settling: bool,
}

impl Resolver<'_> {
    fn resolve_value(&self, value: &Value, key: &str, depth: usize) -> Result<Value, KeyError> {
        if depth > MAX_DEPTH {
            return Err(KeyError::new(key, "variables refer to each other too deeply (is there a cycle?)"));
        }
        Ok(match value {
            Value::String(text) => self.expand(text, key, depth)?,
            Value::Array(items) => Value::Array(items.iter().enumerate().map(|(index, item)| self.resolve_value(item, &item_path(key, index), depth + 1)).collect::<Result<_, _>>()?),
            Value::Object(entries) => {
                let mut resolved = Map::new();
                for (name, item) in entries {
                    resolved.insert(name.clone(), self.resolve_value(item, &child_path(key, name), depth + 1)?);
                }
                Value::Object(resolved)
            }
            scalar => scalar.clone(),
        })
    }

    /// Replaces the variables of one string; a string that is exactly one variable becomes its value.
    fn expand(&self, text: &str, key: &str, depth: usize) -> Result<Value, KeyError> {
        if !text.contains("${") {
            return Ok(Value::String(text.to_owned()));
        }
        let mut spelled = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(length) = closing_brace(&rest[start + 2..]) else { break };
            let inner = &rest[start + 2..start + 2 + length];
            let inner = value_as_text(&self.expand(inner, key, depth + 1)?);
            let whole = start == 0 && start + 3 + length == rest.len() && spelled.is_empty();
            spelled.push_str(&rest[..start]);
            if is_variable(&inner) {
                let value = self.variable(&inner, key, depth + 1)?;
                if whole {
                    return Ok(value);
                }
                spelled.push_str(&value_as_text(&value));
            } else {
                spelled.push_str("${");
                spelled.push_str(&inner);
                spelled.push('}');
            }
            rest = &rest[start + 3 + length..];
        }
        spelled.push_str(rest);
        Ok(Value::String(spelled))
    }

    /// One variable with its fallbacks: the first that has a value wins.
    fn variable(&self, expression: &str, key: &str, depth: usize) -> Result<Value, KeyError> {
        let candidates = split_fallbacks(expression);
        for candidate in &candidates {
            if let Some(value) = self.candidate(candidate.trim(), key, depth)? {
                return Ok(value);
            }
        }
        let first = candidates.first().map_or("", |candidate| candidate.trim());
        // Without --stage, `${opt:stage}` is the stage the project deploys to (the framework
        // would stop here; the examples are written to run with `--stage` or without it).
        match (first, self.settling) {
            ("opt:stage", false) => return self.stage(depth).map(Value::String),
            ("opt:region", false) => return self.region(depth).map(Value::String),
            ("opt:stage", true) => return Ok(Value::String(DEFAULT_STAGE.to_owned())),
            ("opt:region", true) => return Ok(Value::String(DEFAULT_REGION.to_owned())),
            _ => {}
        }
        let source = first.split([':', '(']).next().unwrap_or(first);
        let remedy = if matches!(source, "cf" | "ssm" | "s3") { format!(" (locally, give it with --param '{first}=VALUE')") } else { String::new() };
        Err(KeyError::new(key, format!("${{{expression}}}: value not found at \"{source}\" source and no default was given{remedy}")))
    }

    fn candidate(&self, candidate: &str, key: &str, depth: usize) -> Result<Option<Value>, KeyError> {
        if let Some(literal) = quoted(candidate) {
            return Ok(Some(Value::String(literal.to_owned())));
        }
        if let Ok(number) = candidate.parse::<serde_json::Number>() {
            return Ok(Some(Value::Number(number)));
        }
        match candidate {
            "true" => return Ok(Some(Value::Bool(true))),
            "false" => return Ok(Some(Value::Bool(false))),
            "null" => return Ok(None),
            _ => {}
        }
        if !is_variable(candidate) {
            // A bare word as a fallback: the framework reads it as text.
            return Ok(Some(Value::String(candidate.to_owned())));
        }
        if let Some(path) = candidate.strip_prefix("self:") {
            return self.self_reference(path.trim(), depth);
        }
        if let Some(name) = candidate.strip_prefix("opt:") {
            return Ok(self.sources.options.get(name.trim()).map(|value| Value::String(value.clone())));
        }
        if let Some(name) = candidate.strip_prefix("env:") {
            return Ok(self.sources.env.get(name.trim()).map(|value| Value::String(value.clone())));
        }
        if let Some(name) = candidate.strip_prefix("param:") {
            return self.param(name.trim(), depth);
        }
        if let Some(name) = candidate.strip_prefix("sls:") {
            return match name.trim() {
                "stage" => Ok(Some(Value::String(self.stage(depth)?))),
                "instanceId" => Ok(Some(Value::String(self.sources.instance_id.clone()))),
                other => Err(KeyError::new(key, format!("${{sls:{other}}} is not a variable (sls: knows stage and instanceId)"))),
            };
        }
        if let Some(name) = candidate.strip_prefix("aws:") {
            return match name.trim() {
                "region" => Ok(Some(Value::String(self.region(depth)?))),
                "accountId" => Ok(Some(Value::String(self.sources.account.clone()))),
                other => Err(KeyError::new(key, format!("${{aws:{other}}} is not a variable (aws: knows region and accountId)"))),
            };
        }
        if let Some(rest) = candidate.strip_prefix("file(") {
            return self.file(rest, key, depth);
        }
        if let Some(rest) = candidate.strip_prefix("strToBool(") {
            let text = rest.strip_suffix(')').unwrap_or(rest).trim();
            return match text {
                "true" | "1" => Ok(Some(Value::Bool(true))),
                "false" | "0" | "null" | "" => Ok(Some(Value::Bool(false))),
                other => Err(KeyError::new(key, format!("strToBool({other}): expected true, false, 0 or 1"))),
            };
        }
        // cf:, ssm:, s3: and the like read from an AWS account: locally the value is given on the
        // command line under the reference's own name (`--param 'ssm:/app/table=orders'`).
        Ok(self.sources.params.get(candidate).map(|value| Value::String(value.clone())))
    }

    fn self_reference(&self, path: &str, depth: usize) -> Result<Option<Value>, KeyError> {
        match lookup(self.root, path) {
            Some(found) => self.resolve_value(found, path, depth + 1).map(Some),
            None => match path {
                "provider.stage" => Ok(Some(Value::String(self.stage(depth)?))),
                "provider.region" => Ok(Some(Value::String(self.region(depth)?))),
                _ => Ok(None),
            },
        }
    }

    /// `--param` first, then `params.<stage>`, then `params.default`.
    fn param(&self, name: &str, depth: usize) -> Result<Option<Value>, KeyError> {
        if let Some(value) = self.sources.params.get(name) {
            return Ok(Some(Value::String(value.clone())));
        }
        let stage = self.stage(depth)?;
        for scope in [stage.as_str(), "default"] {
            let path = format!("params.{scope}.{name}");
            if let Some(found) = lookup(self.root, &path) {
                return self.resolve_value(found, &path, depth + 1).map(Some);
            }
        }
        Ok(None)
    }

    /// `file(./other.yml)` or `file(./other.yml):some.key`, relative to the service's folder.
    fn file(&self, rest: &str, key: &str, depth: usize) -> Result<Option<Value>, KeyError> {
        let Some((name, selector)) = rest.split_once(')') else {
            return Err(KeyError::new(key, format!("file({rest}: the closing parenthesis is missing")));
        };
        let path = self.base_dir.join(name.trim().trim_matches(['\'', '"']));
        let extension = path.extension().and_then(|extension| extension.to_str()).unwrap_or_default();
        if matches!(extension, "js" | "cjs" | "mjs" | "ts") {
            return Err(KeyError::new(key, format!("file({name}): JavaScript variable files cannot be run locally; use YAML or JSON")));
        }
        if !path.exists() {
            return Ok(None);
        }
        let source = SourceFile::read(&path).map_err(|error| KeyError::new(key, error.to_string()))?;
        let base_dir = path.parent().unwrap_or(self.base_dir);
        let nested = Resolver { root: self.root, base_dir, sources: self.sources, settling: self.settling };
        let selected = match selector.trim().strip_prefix(':') {
            Some(selector) => match lookup(&source.value, selector.trim()) {
                Some(found) => found,
                None => return Ok(None),
            },
            None => &source.value,
        };
        nested.resolve_value(selected, key, depth + 1).map_err(|error| KeyError::new(key, format!("in {}: {}: {}", path.display(), error.key, error.message))).map(Some)
    }

    fn stage(&self, depth: usize) -> Result<String, KeyError> {
        self.option_or_provider("stage", DEFAULT_STAGE, depth)
    }

    fn region(&self, depth: usize) -> Result<String, KeyError> {
        self.option_or_provider("region", DEFAULT_REGION, depth)
    }

    fn option_or_provider(&self, name: &str, default: &str, depth: usize) -> Result<String, KeyError> {
        if let Some(value) = self.sources.options.get(name) {
            return Ok(value.clone());
        }
        let path = format!("provider.{name}");
        let settling = Resolver { settling: true, ..*self };
        match lookup(self.root, &path) {
            Some(found) => Ok(value_as_text(&settling.resolve_value(found, &path, depth + 1)?)),
            None => Ok(default.to_owned()),
        }
    }
}

/// Source prefixes of the framework's variables; anything else in `${...}` belongs to CloudFormation.
fn is_variable(expression: &str) -> bool {
    let expression = expression.trim_start();
    if expression.starts_with("file(") || expression.starts_with("strToBool(") {
        return true;
    }
    match expression.split_once(':') {
        Some((source, rest)) => !rest.starts_with(':') && matches!(source, "self" | "opt" | "env" | "sls" | "param" | "aws" | "cf" | "ssm" | "s3"),
        None => false,
    }
}

/// The length of what lies before the `}` that closes an opened `${`.
fn closing_brace(text: &str) -> Option<usize> {
    let mut open = 0usize;
    for (at, character) in text.char_indices() {
        match character {
            '{' => open += 1,
            '}' if open == 0 => return Some(at),
            '}' => open -= 1,
            _ => {}
        }
    }
    None
}

/// `opt:stage, 'dev'` → [`opt:stage`, ` 'dev'`]: commas inside quotes or parentheses do not split.
fn split_fallbacks(expression: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut parentheses, mut quote) = (0, 0usize, None);
    for (at, character) in expression.char_indices() {
        match (character, quote) {
            ('\'' | '"', None) => quote = Some(character),
            (close, Some(open)) if close == open => quote = None,
            ('(', None) => parentheses += 1,
            (')', None) => parentheses = parentheses.saturating_sub(1),
            (',', None) if parentheses == 0 => {
                parts.push(&expression[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&expression[start..]);
    parts
}

fn quoted(candidate: &str) -> Option<&str> {
    ['\'', '"'].into_iter().find_map(|quote| candidate.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)))
}

/// A dotted path (`custom.tables.0.name`) into a value.
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(value);
    }
    path.split('.').try_fold(value, |current, part| match current {
        Value::Object(entries) => entries.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|index| items.get(index)),
        _ => None,
    })
}

fn value_as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sources() -> Sources {
        Sources { instance_id: "abc123".into(), account: "000000000000".into(), ..Sources::default() }
    }

    fn resolved(config: Value, sources: &Sources) -> Result<Value, KeyError> {
        resolve(&config, Path::new("/nonexistent"), sources)
    }

    #[test]
    fn self_opt_env_and_sls() {
        let mut sources = sources();
        sources.options.insert("stage".into(), "prod".into());
        sources.env.insert("BUCKET".into(), "mine".into());
        let config = json!({
            "service": "svc",
            "custom": {"prod": {"size": 512}},
            "a": "${self:service}-${opt:stage}-map",
            "b": "${env:BUCKET, 'training-data'}",
            "c": "${env:MISSING, 'training-data'}",
            "d": "${env:MISSING, \"double\"}",
            "e": "${self:custom.${opt:stage}.size}",
            "f": "${sls:stage}/${sls:instanceId}",
            "g": "${opt:region, 'eu-west-1'}",
            "h": "${self:custom}",
        });
        let value = resolved(config, &sources).unwrap();
        assert_eq!(value["a"], "svc-prod-map");
        assert_eq!(value["b"], "mine");
        assert_eq!(value["c"], "training-data");
        assert_eq!(value["d"], "double");
        assert_eq!(value["e"], 512, "a whole-string variable keeps its type");
        assert_eq!(value["f"], "prod/abc123");
        assert_eq!(value["g"], "eu-west-1");
        assert_eq!(value["h"], json!({"prod": {"size": 512}}));
    }

    #[test]
    fn stage_comes_from_options_then_provider_then_dev() {
        let config = json!({"provider": {"stage": "${opt:stage, 'qa'}"}, "x": "${sls:stage}", "y": "${opt:stage}"});
        assert_eq!(resolved(json!({"provider": {"stage": "${opt:stage}"}, "x": "${opt:stage}"}), &sources()).unwrap()["x"], "dev");
        assert_eq!(resolved(config.clone(), &sources()).unwrap()["x"], "qa");
        assert_eq!(resolved(json!({"x": "${opt:stage}"}), &sources()).unwrap()["x"], "dev");
        let mut sources = sources();
        sources.options.insert("stage".into(), "prod".into());
        assert_eq!(resolved(config, &sources).unwrap()["y"], "prod");
    }

    #[test]
    fn cloudformation_substitutions_are_left_alone() {
        let config = json!({"a": "arn:${AWS::Region}:${Queue.Arn}:${!Literal}", "b": "#{AWS::AccountId}"});
        assert_eq!(resolved(config.clone(), &sources()).unwrap(), config);
    }

    #[test]
    fn params_from_the_command_line_then_the_stage_then_default() {
        let config = json!({"params": {"default": {"size": 1, "name": "d"}, "dev": {"size": 2}}, "a": "${param:size}", "b": "${param:name}", "c": "${param:other, 'x'}"});
        let value = resolved(config.clone(), &sources()).unwrap();
        assert_eq!((value["a"].clone(), value["b"].clone(), value["c"].clone()), (json!(2), json!("d"), json!("x")));
        let mut sources = sources();
        sources.params.insert("size".into(), "9".into());
        assert_eq!(resolved(config, &sources).unwrap()["a"], "9");
    }

    #[test]
    fn chained_self_references_resolve_and_cycles_are_errors() {
        let config = json!({"custom": {"a": "${self:custom.b}", "b": "${opt:stage}-x"}, "v": "${self:custom.a}"});
        assert_eq!(resolved(config, &sources()).unwrap()["v"], "dev-x");
        let cycle = json!({"custom": {"a": "${self:custom.b}", "b": "${self:custom.a}"}});
        assert!(resolved(cycle, &sources()).unwrap_err().message.contains("too deeply"));
    }

    #[test]
    fn missing_values_without_default_name_their_source_and_key() {
        let error = resolved(json!({"provider": {"environment": {"X": "${env:NOPE}"}}}), &sources()).unwrap_err();
        assert_eq!(error.key, "provider.environment.X");
        assert!(error.message.contains("\"env\" source"), "{}", error.message);
        let error = resolved(json!({"x": "${ssm:/param}"}), &sources()).unwrap_err();
        assert!(error.message.contains("\"ssm\" source"));
        assert!(error.message.contains("--param 'ssm:/param=VALUE'"), "{}", error.message);
        assert_eq!(resolved(json!({"x": "${ssm:/param, 'local'}"}), &sources()).unwrap()["x"], "local");
        let mut given = sources();
        given.params.insert("ssm:/param".into(), "from the command line".into());
        given.params.insert("cf:other-stack.TableName".into(), "orders".into());
        let value = resolved(json!({"x": "${ssm:/param}", "y": "${cf:other-stack.TableName}"}), &given).unwrap();
        assert_eq!(value, json!({"x": "from the command line", "y": "orders"}));
    }

    #[test]
    fn files_nested_with_selectors_and_defaults() {
        let folder = std::env::temp_dir().join(format!("deploy-variables-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("config.yml"), "dev:\n  memory: 256\n  name: ${self:service}-cfg\n").unwrap();
        std::fs::write(folder.join("definition.json"), "{\"StartAt\": \"A\"}").unwrap();
        let config = json!({
            "service": "svc",
            "a": "${file(./config.yml):${opt:stage}.memory}",
            "b": "${file(./config.yml):dev.name}",
            "c": "${file(./definition.json)}",
            "d": "${file(./missing.yml):x, 'fallback'}",
        });
        let value = resolve(&config, &folder, &sources()).unwrap();
        std::fs::remove_dir_all(&folder).unwrap();
        assert_eq!(value["a"], 256);
        assert_eq!(value["b"], "svc-cfg");
        assert_eq!(value["c"], json!({"StartAt": "A"}));
        assert_eq!(value["d"], "fallback");
    }

    #[test]
    fn unterminated_variables_stay_text() {
        assert_eq!(resolved(json!({"a": "x ${self:service"}), &sources()).unwrap()["a"], "x ${self:service");
    }
}
