//! The Step Functions conformance suite: every case of `tests/fixtures/sfn/conformance/<feature>/`
//! (a definition, an input, and the outcome the AWS documentation gives for them) is created
//! with `CreateStateMachine` and run with `StartExecution` against the real `portico local`,
//! by boto3 (`conformance.py`, as `sfn.rs` drives `sfn_client.py`). A failing case is reported
//! with its file.
//!
//! `SFN_CONFORMANCE=<part of a path>` runs only the matching cases.

mod common;

use common::{AppDir, Server, apps, boto3_script, fixture};

#[test]
fn documented_step_functions_behaviour_holds_under_portico_local() {
    let dir = AppDir::new("sfn-conformance", &fixture("sfn/conformance/portico.toml"));
    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let output = boto3_script("sfn/conformance/conformance.py")
        .arg(format!("http://{}", server.services))
        .arg(fixture("sfn/conformance"))
        .arg(std::env::var("SFN_CONFORMANCE").unwrap_or_default())
        .output()
        .expect("run python3 (boto3 is needed: python3 -m pip install boto3)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "conformance cases failed:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" cases pass"), "{stdout}");
    // `cargo test … -- --nocapture` shows the count.
    println!("{stdout}");
}
