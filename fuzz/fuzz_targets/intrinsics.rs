//! Any intrinsic function call text must parse or be refused, and evaluate or fail, never panic.
#![no_main]

use asl::intrinsics::Intrinsic;
use asl::{Scope, Variables};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let input = serde_json::json!({"a": [1, 2, 2, "x"], "n": 3, "s": "a,b", "j": "{\"k\": 1}"});
    let context = serde_json::json!({});
    let variables = Variables::new();
    if let Ok(function) = Intrinsic::parse(text) {
        let _ = function.evaluate(&Scope::new(&input, &context, &variables));
    }
});
