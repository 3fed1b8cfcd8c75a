//! The events app's real binary (`tests/src/bin/events_app.rs`) under the loopback Runtime API, as the function whose
//! `PORTICO_HANDLER` names its `#[on_sqs_message]` handler: an SQS batch in, Lambda's partial
//! batch response out; malformed events and panics fail only their invocation.

use std::time::Duration;

use portico_e2e::runtime_api::{FunctionProcess, Invocation, RuntimeApi};
use portico_spec::event_samples::sample;
use portico_spec::event_sources::EventKind;
use serde_json::{Value, json};

const FIXTURE: &str = env!("CARGO_BIN_EXE_events_app");
/// Generous: debug binaries on a loaded 2-core machine. Only reached when something is wrong.
const WAIT: Duration = Duration::from_secs(30);

fn start() -> (RuntimeApi, FunctionProcess) {
    let api = RuntimeApi::start().expect("start the Runtime API");
    let function = api
        .spawn_function(FIXTURE.as_ref(), &[("PORTICO_HANDLER", "jobs")])
        .expect("spawn the fixture app");
    (api, function)
}

/// The SQS sample event (two messages, as AWS documents it) with a third message whose body
/// is `body`, id `third-id`.
fn sqs_batch_with(body: &str) -> Value {
    let mut event: Value = serde_json::from_str(sample(EventKind::Sqs)).unwrap();
    let records = event["Records"].as_array_mut().unwrap();
    let mut third = records[0].clone();
    third["messageId"] = json!("c80e8021-a70a-42c7-a470-796e1186f753");
    third["body"] = json!(body);
    records.push(third);
    event
}

#[track_caller]
fn invoke(api: &RuntimeApi, function: &FunctionProcess, event: &[u8]) -> Invocation {
    api.invoke(event, WAIT)
        .unwrap_or_else(|e| panic!("{e:?}\n--- function output ---\n{}", function.output()))
}

#[test]
fn a_bad_message_is_the_only_batch_item_failure() {
    let (api, function) = start();
    let event = sqs_batch_with("bad");
    let answer = invoke(&api, &function, event.to_string().as_bytes());
    assert!(matches!(answer, Invocation::Response(_)), "{answer:?}");
    assert_eq!(
        answer.json(),
        json!({"batchItemFailures": [{"itemIdentifier": "c80e8021-a70a-42c7-a470-796e1186f753"}]})
    );
    for key in ["in/photo.jpg", "in/banner.jpg"] {
        assert!(
            function.wait_for_output(
                &format!("fixture: job {{\"job\": \"resize\", \"key\": \"{key}\"}}"),
                WAIT
            ),
            "{}",
            function.output()
        );
    }

    // A batch without a bad message: nothing to retry.
    let answer = invoke(&api, &function, sample(EventKind::Sqs).as_bytes());
    assert_eq!(answer.json(), json!({"batchItemFailures": []}));
}

#[test]
fn malformed_events_and_panics_fail_the_invocation_and_the_process_keeps_serving() {
    let (api, mut function) = start();
    let pid = function.pid();
    for (payload, error_type, words) in [
        (b"{\"Records\": 5}".to_vec(), "InvalidEvent", "at `Records`"),
        (
            b"not json".to_vec(),
            "InvalidEvent",
            "the event is not a valid",
        ),
        (
            sqs_batch_with("panic").to_string().into_bytes(),
            "FunctionPanic",
            "event handler `jobs` panicked: the fixture queue handler panics on purpose",
        ),
    ] {
        match invoke(&api, &function, &payload) {
            Invocation::Error {
                error_type: found,
                error_message,
            } => {
                assert_eq!(found, error_type, "{error_message}");
                assert!(error_message.contains(words), "{error_message}");
            }
            other => panic!("expected an error, got {other:?}\n{}", function.output()),
        }
        assert_eq!(function.pid(), pid);
        assert!(function.is_running(), "{}", function.output());
    }
    let answer = invoke(
        &api,
        &function,
        sqs_batch_with("bad").to_string().as_bytes(),
    );
    assert_eq!(
        answer.json()["batchItemFailures"][0]["itemIdentifier"],
        "c80e8021-a70a-42c7-a470-796e1186f753"
    );
}

#[test]
fn the_manifest_lists_the_handler_with_its_queue() {
    let output = std::process::Command::new(FIXTURE)
        .arg("--portico-manifest")
        .output()
        .expect("run the events app");
    assert!(output.status.success(), "{output:?}");
    let manifest: Value = serde_json::from_slice(&output.stdout).expect("manifest JSON");
    assert_eq!(manifest["entry_points"], json!(["api", "jobs"]));
    assert_eq!(manifest["event_handlers"][0]["kind"], "sqs");
    assert_eq!(manifest["event_handlers"][0]["queue"], "jobs");
}
