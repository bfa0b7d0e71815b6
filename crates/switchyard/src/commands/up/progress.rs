//! Live progress of a foreground `up`: each execution of the deployed state machines as it
//! starts and ends.

use api::ApiState;
use std::collections::HashMap;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(250);

/// Prints executions' starts and ends until the process stops.
pub async fn follow(state: ApiState, state_machine_arns: Vec<String>) {
    let mut seen: HashMap<String, String> = HashMap::new();
    // What ran before this `up` is history, not progress.
    for arn in &state_machine_arns {
        for execution in state.runtime.list_executions(arn, None).unwrap_or_default() {
            seen.insert(execution.execution_arn, execution.status);
        }
    }
    loop {
        tokio::time::sleep(POLL).await;
        for arn in &state_machine_arns {
            let machine = arn.rsplit(':').next().unwrap_or_default();
            let mut executions = state.runtime.list_executions(arn, None).unwrap_or_default();
            executions.reverse();
            for execution in executions {
                if seen.get(&execution.execution_arn) == Some(&execution.status) {
                    continue;
                }
                let time = chrono::Local::now().format("%H:%M:%S");
                let line = match (&execution.status[..], execution.stop_ms) {
                    ("RUNNING", _) => format!("{time} {machine} {} started", execution.name),
                    (status, Some(stop_ms)) => {
                        let seconds = (stop_ms - execution.start_ms) as f64 / 1000.0;
                        let detail = match (&execution.output, &execution.error) {
                            (_, Some(error)) => format!(" {error}: {}", execution.cause.clone().unwrap_or_default()),
                            (Some(output), None) => format!(" -> {}", truncated(output)),
                            _ => String::new(),
                        };
                        format!("{time} {machine} {} {status} in {seconds:.1} s{detail}", execution.name)
                    }
                    (status, None) => format!("{time} {machine} {} {status}", execution.name),
                };
                println!("{line}");
                seen.insert(execution.execution_arn, execution.status);
            }
        }
    }
}

fn truncated(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        format!("{}...", text.chars().take(MAX_CHARS).collect::<String>())
    }
}
