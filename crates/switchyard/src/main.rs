//! `switchyard`: run, validate and (later) serve Amazon States Language state machines.

mod commands;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "switchyard", version, about = "Hybrid serverless/cluster workflows in Amazon States Language")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one execution in this process and print its result.
    Run(commands::run::RunArgs),
    /// Check a definition; prints diagnostics and fails on any ERROR.
    Validate(commands::validate::ValidateArgs),
    /// Serve the AWS-compatible APIs on one port, with durable state under --data-dir.
    Serve(commands::serve::ServeArgs),
    /// Print the logs of a function's invocations (kept by `serve` under its data dir).
    Logs(commands::logs::LogsArgs),
    /// Load-test a Step Functions endpoint (Switchyard's or any other).
    Bench(commands::bench::BenchArgs),
    /// Deploy a Serverless project (serverless.yml) into a running server, or into one started here.
    Up(commands::up::UpArgs),
    /// Remove a deployed Serverless project.
    Remove(commands::up::RemoveArgs),
    /// Show a server's Batch queues, jobs or compute environments (live with --watch).
    Batch(commands::batch::BatchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Validate(args) => commands::validate::validate(args),
        Command::Serve(args) => commands::serve::serve(args),
        Command::Bench(args) => commands::bench::bench(args),
        Command::Up(args) => commands::up::up(args),
        Command::Remove(args) => commands::up::remove(args),
        Command::Logs(args) => commands::logs::logs(args),
        Command::Batch(args) => commands::batch::batch(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("switchyard: {error:#}");
            ExitCode::from(2)
        }
    }
}
