//! Runs one HTTP request through an example app's real Lambda binary, the way API Gateway and
//! Lambda would: builds the example, starts a Lambda Runtime API on 127.0.0.1, spawns the
//! binary under it, sends a REST (v1) proxy event, prints the proxy response, and stops.
//!
//! ```text
//! cargo run -p portico-e2e --bin invoke -- --app hello GET /users/42
//! cargo run -p portico-e2e --bin invoke -- --app hello POST /users '{"name":"Ada","email":"a@x"}'
//! ```

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use portico_e2e::events::{ProxyResponse, rest_v1};
use portico_e2e::runtime_api::{Invocation, RuntimeApi};

const USAGE: &str = "usage: invoke --app <example> <METHOD> <PATH[?QUERY]> [JSON_BODY]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("invoke: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (app, rest) = match args.as_slice() {
        [flag, app, rest @ ..] if flag == "--app" => (app.clone(), rest.to_vec()),
        _ => return Err(USAGE.to_owned()),
    };
    let (method, target, body) = match rest.as_slice() {
        [m, t] => (m.clone(), t.clone(), None),
        [m, t, b] => (m.clone(), t.clone(), Some(b.clone())),
        _ => return Err(USAGE.to_owned()),
    };
    if !target.starts_with('/') {
        return Err(format!("the path must start with `/`: `{target}`\n{USAGE}"));
    }
    let binary = build(&app)?;

    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut event = rest_v1(&method.to_ascii_uppercase(), path);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        event = event.query(k, v);
    }
    if let Some(body) = &body {
        event = event.header("Content-Type", "application/json").body(body);
    }

    let api = RuntimeApi::start().map_err(|e| format!("cannot start the Runtime API: {e}"))?;
    eprintln!("runtime API on http://{}", api.addr());
    let mut function = api
        .spawn_function(&binary, &[])
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let outcome = api
        .invoke(&event.to_bytes(), Duration::from_secs(30))
        .map_err(|e| format!("{e}\n{}", function.output()))?;
    function.kill();
    match outcome {
        Invocation::Response(payload) => {
            let res = ProxyResponse::parse(&payload)?;
            println!("HTTP {}", res.status);
            for (name, value) in &res.headers {
                println!("{name}: {value}");
            }
            println!();
            println!("{}", res.text());
            Ok(())
        }
        Invocation::Error {
            error_type,
            error_message,
        } => Err(format!(
            "the function failed: {error_type}: {error_message}"
        )),
    }
}

/// Builds the example's `bootstrap` binary and returns its path.
fn build(app: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(&cargo)
        .args(["build", "--quiet", "-p", app, "--bin", "bootstrap"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building `{app}` failed"));
    }
    let target_dir = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let binary = target_dir.join("debug").join("bootstrap");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("no binary at {}", binary.display()))
    }
}
