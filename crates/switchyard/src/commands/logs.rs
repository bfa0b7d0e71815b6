//! `switchyard logs FUNCTION [--follow]`: the logs a server kept of a function's invocations,
//! oldest first; with --follow, then each new invocation's as it ends.

use anyhow::Context;
use clap::Args;
use engine::functions::logs::{function_logs_dir, invocation_files};
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct LogsArgs {
    /// The function's name (or ARN).
    function: String,
    /// Keep printing the logs of new invocations.
    #[arg(long, short)]
    follow: bool,
    /// The server's data directory.
    #[arg(long, default_value = "./.switchyard")]
    data_dir: PathBuf,
}

/// How often --follow looks for new invocations.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let (name, _) = engine::functions::parse_reference(&args.function);
    let directory = function_logs_dir(&args.data_dir, name);
    let mut printed = HashSet::new();
    let mut stdout = std::io::stdout().lock();
    loop {
        let files = invocation_files(&directory).with_context(|| format!("reading {}", directory.display()))?;
        // Only files still there can be listed again: the set stays as bounded as the directory.
        printed.retain(|file| files.contains(file));
        for file in files {
            if printed.contains(&file) {
                continue;
            }
            // A file pruned between listing and reading is simply gone.
            if let Ok(text) = std::fs::read_to_string(&file) {
                stdout.write_all(text.as_bytes())?;
                if !text.is_empty() && !text.ends_with('\n') {
                    stdout.write_all(b"\n")?;
                }
            }
            printed.insert(file);
        }
        stdout.flush()?;
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(FOLLOW_INTERVAL);
    }
}
