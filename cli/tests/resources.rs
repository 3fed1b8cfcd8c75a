//! Declared resources (`[[queues]]`, …). `portico local`'s SQS: the queues
//! `fixtures/sqs/portico.toml` declares, served on the services endpoint to boto3
//! (`fixtures/sqs/sqs_client.py`, whose assertions fail the test) as an app's SDK would call
//! them, the functions pointed at them through their variables, and the messages kept across
//! a restart. DynamoDB and S3: moto server behind the services endpoint, the declared table and
//! bucket created, their data kept across a restart (`fixtures/data/data_client.py`), and the
//! app still running without moto. `portico deploy` and `package` refuse declared resources
//! until they create them.

mod common;

use std::process::Command;

use std::time::Duration;

use common::{AppDir, PORTICO, Req, Server, apps, boto3_script, fixture};

/// Runs `sqs_client.py PHASE` against `server`; panics with its output when it fails.
fn boto3(server: &Server, phase: &str) {
    run_script(server, "sqs/sqs_client.py", phase);
}

fn run_script(server: &Server, script: &str, phase: &str) {
    let output = boto3_script(script)
        .arg(phase)
        .arg(format!("http://{}", server.services))
        .output()
        .expect("run python3 (boto3 is installed by scripts/test)");
    assert!(
        output.status.success(),
        "{script} {phase} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn boto3_uses_the_declared_queues_and_messages_survive_a_restart() {
    let dir = AppDir::new("sqs-boto3", &fixture("sqs/portico.toml"));
    let mut server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let banner = server.stdout();
    let endpoint = format!("http://{}", server.services);
    let line = format!("  queue jobs {endpoint}/000000000000/fixture-dev-jobs");
    assert!(banner.lines().any(|l| l == line), "{line} in\n{banner}");
    boto3(&server, "main");

    // Every function gets the endpoint and each queue's URL under its variable (a request
    // starts the api function's process).
    assert_eq!(server.get("/env").status, 200);
    let environment = server
        .children()
        .into_iter()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/environ")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).into_owned())
        .find(|env| env.split('\0').any(|v| v == "PORTICO_HANDLER=api"))
        .expect("the api function's process");
    let variables: Vec<&str> = environment.split('\0').collect();
    for expected in [
        format!("AWS_ENDPOINT_URL_SQS={endpoint}"),
        format!("JOBS_QUEUE_URL={endpoint}/000000000000/fixture-dev-jobs"),
        format!("JOBS_DLQ_QUEUE_URL={endpoint}/000000000000/fixture-dev-jobs-dlq"),
        format!("ORDERS_URL={endpoint}/000000000000/fixture-dev-orders.fifo"),
    ] {
        assert!(
            variables.contains(&expected.as_str()),
            "{expected} in {variables:?}"
        );
    }

    let stopped = server.stop_with("TERM");
    assert!(stopped.success(), "{stopped}");
    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    boto3(&server, "after-restart");
}

#[test]
fn deploy_and_package_refuse_declared_resources_before_any_call() {
    let dir = AppDir::new("resources-refused", &fixture("sqs/portico.toml"));
    let out_dir = dir.path.join("out");
    for command in ["deploy", "package"] {
        let mut cmd = Command::new(PORTICO);
        cmd.args([command, "--stage", "dev", "--app"])
            .arg(&dir.path)
            .arg("--binary")
            .arg(&apps().fixture)
            // Nothing listens there: a call to AWS would fail differently.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_REGION", "us-east-1");
        if command == "package" {
            cmd.arg("--out").arg(&out_dir);
        }
        let out = cmd.output().expect("run portico");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command} succeeded: {stderr}");
        assert!(
            stderr.contains("portico.toml declares [[queues]]")
                && stderr.contains("nothing was deployed"),
            "{command}: {stderr}"
        );
    }
    assert!(!out_dir.exists(), "package wrote nothing");
}

#[test]
fn tables_and_buckets_run_on_moto_and_keep_their_data_across_a_restart() {
    let dir = AppDir::new("data-moto", &fixture("data/portico.toml"));
    let mut server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let banner = server.stdout();
    for line in [
        "  table users fixture-dev-users",
        "  bucket uploads fixture-dev-uploads-000000000000",
    ] {
        assert!(banner.lines().any(|l| l == line), "{line} in\n{banner}");
    }
    // moto server is a child of portico local: it must not outlive it.
    assert!(!server.children().is_empty());
    run_script(&server, "data/data_client.py", "write");
    let stopped = server.stop_with("TERM");
    assert!(stopped.success(), "{stopped}");
    server.assert_no_leftovers(Duration::from_secs(10));

    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    run_script(&server, "data/data_client.py", "read");
}

#[test]
fn without_moto_the_app_still_runs_and_says_how_to_install_it() {
    let dir = AppDir::new("data-no-moto", &fixture("data/portico.toml"));
    let server = Server::start_with_env(
        &dir.path,
        &apps().fixture,
        &["--no-schedules"],
        &[("PORTICO_MOTO_SERVER", "/nonexistent/moto_server")],
    );
    let banner = server.stdout();
    assert!(
        banner.contains("python3 -m pip install 'moto[server]'"),
        "{banner}"
    );
    assert_eq!(server.get("/env").status, 200, "the API still runs");
    let res = Req::new(server.services, "POST", "/")
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .header("content-type", "application/x-amz-json-1.0")
        .body("{}")
        .send();
    assert_eq!(res.status, 503, "{}", res.text());
    assert!(res.text().contains("moto[server]"), "{}", res.text());
}

#[test]
fn the_sqs_poller_fires_the_handler_and_redrives_what_it_reports_failed() {
    let dir = AppDir::new("sqs-poller", &fixture("sqs/portico.toml"));
    let server = Server::start(&dir.path, &apps().events, &["--no-schedules"]);
    boto3(&server, "poller");
    let out = server.stdout();
    // "hello" was handled once: only the failed "bad" came back.
    assert_eq!(
        out.lines()
            .filter(|l| l.ends_with("fixture: job hello"))
            .count(),
        1,
        "{out}"
    );
    assert!(!out.contains("fixture: job bad"), "{out}");
    assert!(
        out.contains("sqs: fixture-dev-jobs → jobs: 2 message(s), 1 reported failed (kept)"),
        "{out}"
    );
}

#[test]
fn a_handler_naming_an_undeclared_queue_stops_portico_local() {
    let dir = AppDir::new("sqs-undeclared", &fixture("fixture.toml"));
    let out = Command::new(PORTICO)
        .args(["local", "--port", "0", "--services-port", "0", "--app"])
        .arg(&dir.path)
        .arg("--binary")
        .arg(&apps().events)
        .output()
        .expect("run portico local");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("event handler `jobs` (")
            && stderr
                .contains("names queue `jobs`, which no [[queues]] entry in portico.toml declares"),
        "{stderr}"
    );
}
