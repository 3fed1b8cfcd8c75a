//! End-to-end tests of `portico local`'s Step Functions: the real `portico` binary serving the
//! fixture app (`tests/src/bin/fixture_app.rs`), driven by boto3 (`python3`, the official AWS
//! SDK for Python) from `tests/fixtures/sfn/sfn_client.py`, whose assertions fail the test.
//!
//! The app directory is `tests/fixtures/sfn/`: a `portico.toml` declaring an activity and
//! five state machines, and their definitions.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{AppDir, Server, apps, boto3_script, fixture};

/// A fresh copy of `tests/fixtures/sfn/` (the config and the definitions).
fn sfn_app(test: &str) -> AppDir {
    let dir = AppDir::new(test, &fixture("sfn/portico.toml"));
    for entry in std::fs::read_dir(fixture("sfn")).expect("the sfn fixtures") {
        let path = entry.expect("a fixture").path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::copy(&path, dir.path.join(path.file_name().expect("a name")))
                .expect("copy a definition");
        }
    }
    dir
}

/// Runs `sfn_client.py ARGS…` against `server`; panics with its output when it fails.
fn boto3(server: &Server, args: &[&str]) {
    let endpoint = format!("http://{}", server.services);
    let output = boto3_script("sfn/sfn_client.py")
        .arg(args[0])
        .arg(&endpoint)
        .args(&args[1..])
        .output()
        .expect("run python3 (boto3 is needed: python3 -m pip install boto3)");
    assert!(
        output.status.success(),
        "sfn_client.py {} failed\nstdout:\n{}\nstderr:\n{}",
        args[0],
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[test]
fn boto3_runs_activities_callbacks_invocations_and_timeouts() {
    let dir = sfn_app("sfn-boto3");
    let mut server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let banner = server.stdout();
    for line in [
        "  activity ManualStep arn:aws:states:us-east-1:000000000000:activity:fixture-dev-ManualStep",
        "  state machine Approval arn:aws:states:us-east-1:000000000000:stateMachine:fixture-dev-Approval",
        "  state machine Callback arn:aws:states:us-east-1:000000000000:stateMachine:fixture-dev-Callback",
    ] {
        assert!(banner.lines().any(|l| l == line), "{line} in\n{banner}");
    }
    let tokens_file = dir.path.join("tokens.json");
    boto3(
        &server,
        &[
            "main",
            &path_arg(&dir.local_dir().join("state.db")),
            &path_arg(&tokens_file),
        ],
    );
    // The function processes were pointed at the services endpoint.
    let endpoint = format!("http://{}", server.services);
    let environments: Vec<String> = server
        .children()
        .into_iter()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/environ")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).into_owned())
        .filter(|env| env.split('\0').any(|v| v == "PORTICO_HANDLER=api"))
        .collect();
    assert!(!environments.is_empty(), "no api function process");
    for env in &environments {
        for variable in ["AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL_SESV2"] {
            let wanted = format!("{variable}={endpoint}");
            assert!(env.split('\0').any(|v| v == wanted), "{wanted} in {env:?}");
        }
    }
    // Task tokens are bearer secrets: never on the terminal.
    let tokens: Vec<String> =
        serde_json::from_slice(&std::fs::read(&tokens_file).expect("the tokens the script saw"))
            .expect("a JSON list");
    assert_eq!(tokens.len(), 6, "{tokens:?}");
    let printed = format!("{}{}", server.stdout(), server.stderr());
    for token in &tokens {
        assert!(
            !printed.contains(token.as_str()),
            "a task token was printed"
        );
    }
    assert!(
        printed.contains("states: execution approve-1 succeeded"),
        "{printed}"
    );
}

#[test]
fn a_waiting_task_token_still_completes_its_execution_after_a_restart() {
    let dir = sfn_app("sfn-restart");
    let saved = dir.path.join("waiting.json");
    let mut server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    boto3(&server, &["start-wait", &path_arg(&saved)]);
    let status = server.stop_with("TERM");
    assert!(status.success(), "{status}");
    drop(server);

    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    server.wait_for_line(
        &["states: resumed 1 running execution(s)"],
        Duration::from_secs(10),
    );
    boto3(&server, &["finish-wait", &path_arg(&saved)]);
}

#[test]
fn an_unsupported_definition_stops_portico_local_at_start() {
    let dir = sfn_app("sfn-invalid");
    std::fs::write(
        dir.path.join("quick.json"),
        r#"{"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemsPath": "$.items", "End": true}}}"#,
    )
    .expect("write a definition");
    let output = common::local_command(&dir.path, &apps().fixture)
        .arg("--no-schedules")
        .output()
        .expect("run portico local");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("quick.json: state machine `Quick` cannot run under portico local")
            && stderr.contains("at /States/Fan/ItemProcessor"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("API: "),
        "no banner"
    );
}
