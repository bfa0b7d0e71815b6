//! Any path and any payload template, evaluated against a fixed input, must never panic.
#![no_main]

use asl::path::{Path, ReferencePath};
use asl::template::Template;
use asl::{Scope, Variables};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let input = serde_json::json!({"a": [1, 2, {"b": "c"}], "n": 3, "s": "x"});
    let context = serde_json::json!({"Execution": {"Id": "e"}});
    let mut variables = Variables::new();
    variables.set("v".into(), serde_json::json!({"w": [1]}));
    let scope = Scope::new(&input, &context, &variables);
    if let Ok(path) = Path::parse(text) {
        let _ = path.select(&scope);
    }
    if let Ok(reference) = ReferencePath::parse(text) {
        let _ = reference.write(input.clone(), serde_json::json!(1));
    }
    if let Ok(template) = serde_json::from_str(text) {
        if let Ok(template) = Template::compile(&template) {
            let _ = template.evaluate(&scope);
        }
    }
});
