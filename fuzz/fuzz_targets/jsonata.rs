//! Any JSONata expression must compile or be refused, and evaluate or fail, never panic.
#![no_main]

use asl::jsonata::JsonataTemplate;
use asl::Variables;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let template = serde_json::Value::String(format!("{{% {text} %}}"));
    let states = serde_json::json!({"input": {"a": [1, 2, 3], "s": "x"}, "context": {}});
    let mut variables = Variables::new();
    variables.set("v".into(), serde_json::json!(5));
    if let Ok(compiled) = JsonataTemplate::compile(&template) {
        let _ = compiled.evaluate(&states, &variables, "Output");
    }
});
