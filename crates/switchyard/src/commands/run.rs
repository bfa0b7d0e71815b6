use super::read_argument;
use anyhow::{anyhow, Context};
use asl::context::ExecutionInfo;
use asl::history::TimeFormat;
use asl::definition::{parse_text, StateMachine};
use asl::interpreter::Status;
use clap::{Args, ValueEnum};
use engine::{run_to_completion, RunOptions};
use serde_json::{Map, Value};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct RunArgs {
    /// The definition: a JSON or YAML file (or inline JSON).
    #[arg(long = "definition", value_name = "DEFINITION")]
    definition_flag: Option<String>,
    #[arg(value_name = "DEFINITION", required_unless_present = "definition_flag")]
    definition: Option<String>,
    /// The execution input: inline JSON, @FILE or FILE.
    #[arg(long, default_value = "{}")]
    input: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Multiplies every wait; 0 skips waiting (history times still move by the full wait).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Lambda functions for Task states: {NAME: {"arn", "handler", "handler_source" | "code_dir", "runtime"}}.
    #[arg(long)]
    pub functions: Option<String>,
    /// A Lambda function as NAME=FILE.py:handler (repeatable).
    #[arg(long = "function", value_name = "NAME=FILE:HANDLER")]
    pub function: Vec<String>,
    /// Step Functions Local mock configuration (with --test-case).
    #[arg(long, requires = "test_case")]
    pub mock_config: Option<String>,
    #[arg(long)]
    pub test_case: Option<String>,
    /// The state machine's name (as the mock configuration names it; without it, the mock
    /// configuration's only state machine is used).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub containers: super::containers::ContainerArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let definition_argument = args.definition_flag.as_deref().or(args.definition.as_deref()).ok_or_else(|| anyhow!("no definition given"))?;
    let definition = parse_text(&read_argument(definition_argument)?).map_err(|e| anyhow!(e))?;
    let errors: Vec<String> = asl::validate::validate(&definition)
        .into_iter()
        .filter(|d| d.severity == asl::validate::Severity::Error)
        .map(|d| format!("{} at {}: {}", d.code, d.location, d.message))
        .collect();
    if !errors.is_empty() {
        return Err(anyhow!("invalid definition:\n  {}", errors.join("\n  ")));
    }
    let machine = Arc::new(StateMachine::compile(&definition).map_err(|e| anyhow!("invalid definition: {e}"))?);
    let input_text = read_argument(&args.input)?;
    let input: Value = serde_json::from_str(&input_text).context("the input is not JSON")?;
    let dispatcher = crate::commands::tasks::local_dispatcher(&args)?;
    let execution_name = "run-00000000-0000-0000-0000-000000000000";
    let machine_name = args.name.as_deref().unwrap_or("switchyard-run");
    let info = ExecutionInfo::local(machine_name, execution_name, input, input_text.trim().to_owned());
    let execution = run_to_completion(machine, info, dispatcher, &RunOptions { time_scale: args.time_scale, seed: 0 });
    let _ = std::fs::remove_dir_all(crate::commands::tasks::run_scratch_dir());
    let mut result = Map::new();
    let (status, failure) = match execution.status() {
        Status::Succeeded(output) => {
            result.insert("output".into(), output.clone());
            ("SUCCEEDED", None)
        }
        Status::Failed(failure) => ("FAILED", Some(failure)),
        Status::TimedOut(failure) => ("TIMED_OUT", Some(failure)),
        Status::Aborted(failure) => ("ABORTED", Some(failure)),
        Status::Running => ("RUNNING", None),
    };
    result.insert("status".into(), Value::from(status));
    if let Some(failure) = failure {
        if !failure.error.is_empty() {
            result.insert("error".into(), Value::from(failure.error.as_str()));
        }
        if let Some(cause) = &failure.cause {
            result.insert("cause".into(), Value::from(cause.as_str()));
        }
    }
    match args.format {
        Format::Json => {
            let events: Vec<Value> = execution.history().iter().map(|event| event.to_json(true, TimeFormat::Iso)).collect();
            result.insert("events".into(), Value::Array(events));
            println!("{}", Value::Object(result));
        }
        Format::Text => {
            println!("{status}");
            if let Some(output) = result.get("output") {
                println!("{}", serde_json::to_string_pretty(output)?);
            }
            for key in ["error", "cause"] {
                if let Some(Value::String(text)) = result.get(key) {
                    println!("{key}: {text}");
                }
            }
        }
    }
    Ok(if status == "SUCCEEDED" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
