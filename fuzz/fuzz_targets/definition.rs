//! Any text as a definition: parsing (JSON or YAML), validation and compilation, then a run of
//! what compiles, must never panic.
#![no_main]

use asl::context::ExecutionInfo;
use asl::definition::{parse_text, StateMachine};
use asl::interpreter::Execution;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(definition) = parse_text(text) else { return };
    let _ = asl::validate::validate(&definition);
    let Ok(machine) = StateMachine::compile(&definition) else { return };
    let input = serde_json::json!({"a": [1, 2, {"b": "c"}], "n": 3});
    let text = input.to_string();
    let info = ExecutionInfo::local("f", "1", input, text);
    let mut execution = Execution::start(Arc::new(machine), info, 0, 0);
    // Bounded: a definition may loop forever by design (a Pass whose Next is itself).
    for _ in 0..4 {
        let _ = execution.run(0);
    }
});
