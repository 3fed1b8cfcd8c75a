//! The `portico` command line: local cloud, deployment and logs for Portico apps.
//!
//! Subcommands arrive one module each (`new`, `build`, `local`, `deploy`, `package`, `delete`,
//! `url`, `invoke`, `logs`), each exposing a `run()`.

use clap::Parser;

/// Build, run locally, and deploy Portico apps (Rust web APIs on AWS Lambda + API Gateway).
#[derive(Debug, Parser)]
#[command(name = "portico", version, about, long_about = None)]
struct Cli {}

fn main() {
    let Cli {} = Cli::parse();
    println!("portico {}: no subcommand given; see `portico --help`", env!("CARGO_PKG_VERSION"));
}
