//! `cargo bench -p asl`: state transitions per second of the pure interpreter, history kept.
//! Prints figures; asserts nothing (timings belong in the README, not in tests).

use asl::context::ExecutionInfo;
use asl::definition::StateMachine;
use asl::interpreter::{Execution, Status};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

fn info(input: Value) -> ExecutionInfo {
    let text = input.to_string();
    ExecutionInfo::local("bench", "1", input, text)
}

/// 100 states alternating Pass (writing a counter with ResultPath) and Choice on it.
fn pass_choice_chain(states: usize) -> Value {
    let mut all = Map::new();
    for index in 0..states {
        let next = if index + 1 == states { None } else { Some(format!("S{}", index + 1)) };
        let state = if index % 2 == 0 {
            let mut pass = json!({"Type": "Pass", "Result": index, "ResultPath": "$.step"});
            match next {
                Some(next) => pass["Next"] = json!(next),
                None => pass["End"] = json!(true),
            }
            pass
        } else {
            let next = next.unwrap_or_else(|| "Done".into());
            json!({"Type": "Choice", "Choices": [{"Variable": "$.step", "NumericGreaterThanEquals": 0, "Next": next}], "Default": "Done"})
        };
        all.insert(format!("S{index}"), state);
    }
    all.insert("Done".into(), json!({"Type": "Succeed"}));
    json!({"StartAt": "S0", "States": all})
}

fn run_once(machine: &Arc<StateMachine>, input: &Value) -> usize {
    let mut execution = Execution::start(machine.clone(), info(input.clone()), 0, 0);
    // A 10,000-item inline Map records 40,000 events: more than AWS allows, measured all the same.
    execution.set_max_history_events(None);
    let commands = execution.run(0);
    assert!(commands.is_empty() && matches!(execution.status(), Status::Succeeded(_)), "{:?}", execution.status());
    execution.history().len()
}

fn measure(label: &str, unit: &str, units_per_run: usize, machine: &Arc<StateMachine>, input: &Value, seconds: f64) {
    let started = Instant::now();
    let mut runs = 0usize;
    let mut events = 0usize;
    while started.elapsed().as_secs_f64() < seconds {
        events += run_once(machine, input);
        runs += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = (runs * units_per_run) as f64 / elapsed;
    println!("{label}: {rate:>12.0} {unit}/s  ({runs} executions, {events} history events, {elapsed:.2} s, one core)");
}

fn main() {
    let chain = Arc::new(StateMachine::compile(&pass_choice_chain(100)).expect("benchmark definition"));
    measure("100-state Pass/Choice chain", "state transitions", 100, &chain, &json!({"step": 0}), 3.0);

    let map = Arc::new(
        StateMachine::compile(&json!({
            "StartAt": "M",
            "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}
        }))
        .expect("benchmark definition"),
    );
    let items: Vec<Value> = (0..10_000).map(Value::from).collect();
    measure("inline Map of 10,000 Pass items", "items", 10_000, &map, &json!({"items": items}), 3.0);
}
