//! Payload templates of JSONPath mode (Parameters, ResultSelector, ItemSelector, Assign): keys ending
//! in `.$` take their value from a path, a context path, a variable or an intrinsic function.

use crate::intrinsics::Intrinsic;
use crate::path::Path;
use crate::{Failure, Scope};
use serde_json::{Map, Value};

/// Deeper templates are rejected so that compiling and evaluating cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone)]
pub struct Template {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    /// A subtree without any `.$` key, copied as a whole.
    Constant(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Path {
        path: Path,
        /// The key as written (`value.$`), which AWS names when the path finds nothing.
        field: String,
    },
    Intrinsic(Intrinsic),
}

impl Template {
    /// Compiles once at definition load so that evaluation does no parsing.
    pub fn compile(template: &Value) -> Result<Template, String> {
        Ok(Template { root: compile_node(template, 0)? })
    }

    /// The payload; failures carry AWS's error and cause text (without the
    /// "An error occurred while executing the state ..." prefix, which the interpreter adds).
    pub fn evaluate(&self, scope: &Scope) -> Result<Value, Failure> {
        evaluate_node(&self.root, scope)
    }
}

fn compile_node(value: &Value, depth: usize) -> Result<Node, String> {
    if depth > MAX_DEPTH {
        return Err(format!("The payload template is nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match value {
        Value::Object(members) => {
            let fields: Vec<(String, Node)> = members
                .iter()
                .map(|(key, member)| match key.strip_suffix(".$") {
                    Some(name) => Ok((name.to_owned(), compile_binding(key, member)?)),
                    None => Ok((key.clone(), compile_node(member, depth + 1)?)),
                })
                .collect::<Result<_, String>>()?;
            if fields.iter().all(|(_, field)| field.is_constant()) {
                return Ok(Node::Constant(value.clone()));
            }
            Node::Object(fields)
        }
        Value::Array(items) => {
            let items: Vec<Node> = items.iter().map(|item| compile_node(item, depth + 1)).collect::<Result<_, _>>()?;
            if items.iter().all(Node::is_constant) {
                return Ok(Node::Constant(value.clone()));
            }
            Node::Array(items)
        }
        scalar => Node::Constant(scalar.clone()),
    })
}

/// The value of a `.$` key: a path (`$.x`, `$$.x`, `$var`) or an intrinsic function call.
fn compile_binding(field: &str, value: &Value) -> Result<Node, String> {
    let compiled = match value.as_str() {
        Some(text) if text.starts_with("States.") => Intrinsic::parse(text).map(Node::Intrinsic).ok(),
        Some(text) => Path::parse(text).ok().map(|path| Node::Path { path, field: field.to_owned() }),
        None => None,
    };
    compiled.ok_or_else(|| {
        format!("The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call")
    })
}

impl Node {
    /// Children are compiled first, so a subtree without bindings is already a single constant.
    fn is_constant(&self) -> bool {
        matches!(self, Node::Constant(_))
    }
}

fn evaluate_node(node: &Node, scope: &Scope) -> Result<Value, Failure> {
    match node {
        Node::Constant(value) => Ok(value.clone()),
        Node::Object(fields) => {
            let mut members = Map::with_capacity(fields.len());
            for (key, field) in fields {
                members.insert(key.clone(), evaluate_node(field, scope)?);
            }
            Ok(Value::Object(members))
        }
        Node::Array(items) => {
            items.iter().map(|item| evaluate_node(item, scope)).collect::<Result<_, _>>().map(Value::Array)
        }
        Node::Path { path, field } => path.select(scope).ok_or_else(|| {
            Failure::runtime(format!(
                "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                path.as_str(),
                scope.input
            ))
        }),
        Node::Intrinsic(intrinsic) => intrinsic.evaluate(scope),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Variables;
    use serde_json::json;

    fn evaluate_with(template: Value, input: &Value, variables: &Variables) -> Result<Value, Failure> {
        let context = json!({"Execution": {"Name": "run-1"}, "Map": {"Item": {"Value": "item"}}});
        let template = Template::compile(&template).unwrap_or_else(|error| panic!("{error}"));
        template.evaluate(&Scope::new(input, &context, variables))
    }

    fn evaluate(template: Value) -> Result<Value, Failure> {
        evaluate_with(template, &json!({"a": {"b": 1}, "list": [1, 2, 3]}), &Variables::new())
    }

    fn compile_error(template: Value) -> String {
        match Template::compile(&template) {
            Ok(compiled) => panic!("compiled: {compiled:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn plain_values_are_copied() {
        let template = json!({"s": "$.a", "n": 1, "z": null, "nested": {"list": [true, {"k": "v"}]}});
        assert_eq!(evaluate(template.clone()), Ok(template));
    }

    #[test]
    fn non_object_templates_are_constants() {
        assert_eq!(evaluate(json!("text")), Ok(json!("text")));
        assert_eq!(evaluate(json!([1, "$.a"])), Ok(json!([1, "$.a"])));
    }

    #[test]
    fn path_keys_drop_the_suffix_and_take_the_selected_value() {
        assert_eq!(
            evaluate(json!({"whole.$": "$", "b.$": "$.a.b", "k": 0})),
            Ok(json!({"whole": {"a": {"b": 1}, "list": [1, 2, 3]}, "b": 1, "k": 0}))
        );
    }

    #[test]
    fn indefinite_paths_give_arrays() {
        assert_eq!(
            evaluate(json!({"tail.$": "$.list[1:]", "none.$": "$.missing[*]"})),
            Ok(json!({"tail": [2, 3], "none": []}))
        );
    }

    #[test]
    fn context_paths_read_the_context_object() {
        assert_eq!(
            evaluate(json!({"name.$": "$$.Execution.Name", "item.$": "$$.Map.Item.Value"})),
            Ok(json!({"name": "run-1", "item": "item"}))
        );
    }

    #[test]
    fn variable_paths_read_variables() {
        let mut variables = Variables::new();
        variables.set("total".to_owned(), json!({"sum": 6}));
        assert_eq!(evaluate_with(json!({"sum.$": "$total.sum"}), &json!({}), &variables), Ok(json!({"sum": 6})));
    }

    #[test]
    fn nested_objects_and_arrays_are_templated() {
        let template = json!({"outer": {"inner.$": "$.a.b", "keep": "x"}, "list": [{"v.$": "$.list[0]"}, 7]});
        assert_eq!(evaluate(template), Ok(json!({"outer": {"inner": 1, "keep": "x"}, "list": [{"v": 1}, 7]})));
    }

    #[test]
    fn key_order_is_kept() {
        let evaluated = evaluate(json!({"z": 1, "a.$": "$.a.b", "m": 2})).ok().map(|value| value.to_string());
        assert_eq!(evaluated.as_deref(), Some(r#"{"z":1,"a":1,"m":2}"#));
    }

    #[test]
    fn a_path_that_finds_nothing_fails_naming_the_field_and_input() {
        assert_eq!(
            evaluate_with(json!({"outer": {"value.$": "$.no_such"}}), &json!({"x": [1, "y"]}), &Variables::new()),
            Err(Failure::runtime(
                r#"The JSONPath '$.no_such' specified for the field 'value.$' could not be found in the input '{"x":[1,"y"]}'"#
            ))
        );
    }

    #[test]
    fn a_context_path_that_finds_nothing_fails_showing_the_state_input() {
        assert_eq!(
            evaluate_with(json!({"value.$": "$$.Execution.Input.no_such"}), &json!({"n": 0}), &Variables::new()),
            Err(Failure::runtime(
                r#"The JSONPath '$$.Execution.Input.no_such' specified for the field 'value.$' could not be found in the input '{"n":0}'"#
            ))
        );
    }

    #[test]
    fn invalid_dollar_values_are_rejected_at_compile() {
        for template in [
            json!({"v.$": 1}),
            json!({"v.$": null}),
            json!({"v.$": "a.b"}),
            json!({"v.$": "$.a b"}),
            json!({"o": [{"v.$": {}}]}),
        ] {
            assert_eq!(
                compile_error(template),
                "The value for the field 'v.$' must be a valid JSONPath or a valid intrinsic function call"
            );
        }
    }

    #[test]
    fn excessive_nesting_is_rejected() {
        let deep = (0..=MAX_DEPTH).fold(json!(1), |inner, _| json!([inner]));
        assert!(compile_error(deep).contains("nested deeper"));
    }

    #[test]
    fn intrinsic_keys_evaluate_the_function() {
        assert_eq!(evaluate(json!({"greeting.$": "States.Format('n={}', $.a.b)"})), Ok(json!({"greeting": "n=1"})));
    }
}
