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
    let info = ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:000000000000:execution:f:1".into(),
        name: "1".into(),
        state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:f".into(),
        state_machine_name: "f".into(),
        role_arn: "arn:aws:iam::000000000000:role/f".into(),
        region: "us-east-1".into(),
        start_time: 0,
        input_text: input.to_string(),
        input,
        redrive_count: 0,
        token_secret: String::new(),
    };
    let mut execution = Execution::start(Arc::new(machine), info, 0, 0);
    // Bounded: a definition may loop forever by design (a Pass whose Next is itself).
    for _ in 0..4 {
        let _ = execution.run(0);
    }
});
