//! The `portico` command line: local cloud, deployment and logs for Portico apps.
//!
//! One module per subcommand, each with a `run()`; `project` is the only module that talks to
//! Cargo.

mod artifact;
mod aws;
mod build;
mod delete;
mod deploy;
mod invoke;
mod local;
mod logs;
mod new;
mod package;
mod project;
#[cfg(test)]
mod test_support;
mod url;

use portico_local::color;
use portico_spec::config;

/// The local cloud allocates a few short-lived buffers per request (event JSON, headers, log
/// lines); mimalloc serves those with less CPU than glibc's allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build, run locally, and deploy Portico apps (Rust web APIs on AWS Lambda + API Gateway).
#[derive(Debug, Parser)]
#[command(name = "portico", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new app crate with two routes, a test and a portico.toml.
    New(new::Args),
    /// Build the app's Lambda binary.
    Build(build::Args),
    /// Run the app in the local cloud: API Gateway, Lambda, schedules (no Docker).
    Local(local::Args),
    /// Send a JSON event from stdin to a function and print the result.
    Invoke(invoke::Args),
    /// Deploy the app to AWS: plan what differs, apply it, record what exists.
    Deploy(deploy::Args),
    /// Write the stage as a CloudFormation template plus the code zip, for deploying with
    /// CloudFormation.
    Package(package::Args),
    /// Print the base URL of a deployed stage's API.
    Url(url::Args),
    /// Print the stage's function logs (CloudWatch, or the local cloud's with --local).
    Logs(logs::Args),
    /// Delete everything a stage's deploy created (found by record, else by name and tags).
    Delete(delete::Args),
}

/// Where the app is: `--app DIR`, default the current directory.
#[derive(Debug, Clone, clap::Args)]
struct AppDir {
    /// The app's directory (holding portico.toml); default: the current directory.
    #[arg(long = "app", value_name = "DIR", default_value = ".")]
    dir: PathBuf,
}

/// An app and one of its stages: `--app DIR --stage NAME`.
#[derive(Debug, Clone, clap::Args)]
struct AppStage {
    #[command(flatten)]
    app: AppDir,
    /// The stage (`[stages.<name>]` in portico.toml).
    #[arg(long, default_value = "dev")]
    stage: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(args),
        Command::Local(args) => local::run(args),
        Command::Invoke(args) => invoke::run(args),
        Command::Deploy(args) => deploy::run(args),
        Command::Package(args) => package::run(args),
        Command::Url(args) => url::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Delete(args) => delete::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The error type subcommands report: printed once, by `main`.
pub type CliError = Box<dyn std::error::Error + Send + Sync>;
