use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::clock::Clock;
use crate::logs::LogSink;
use crate::sfn::engine::records::{ActivityTask, ApiError, ExecutionRecord};
use crate::sfn::engine::service::StepFunctions;
use crate::store::Store;

pub(crate) use crate::clock::ManualClock;
use crate::testing::StubHost;
use std::sync::atomic::{AtomicI64, Ordering};

pub(crate) struct Fixture {
    pub(crate) store: Arc<Store>,
    pub(crate) host: Arc<StubHost>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) engine: Arc<StepFunctions<StubHost>>,
}

pub(crate) const ACTIVITY: &str = "arn:aws:states:us-east-1:000000000000:activity:shop-dev-Approve";
const ROLE: &str = "arn:aws:iam::000000000000:role/shop-dev-states";

impl Fixture {
    pub(crate) fn new() -> Self {
        let store = Arc::new(Store::in_memory());
        let host = Arc::new(StubHost::default());
        let clock = Arc::new(ManualClock(AtomicI64::new(1_800_000_000_000)));
        let engine = Self::engine(&store, &host, &clock);
        engine.create_activity("shop-dev-Approve").unwrap();
        Self {
            store,
            host,
            clock,
            engine,
        }
    }

    pub(crate) fn engine(
        store: &Arc<Store>,
        host: &Arc<StubHost>,
        clock: &Arc<ManualClock>,
    ) -> Arc<StepFunctions<StubHost>> {
        let mut engine = StepFunctions::new(
            Arc::clone(store),
            Arc::clone(host),
            "shop-dev-".to_owned(),
            Arc::clone(clock) as Arc<dyn Clock>,
            None,
        );
        engine.poll_timeout = Duration::from_millis(300);
        Arc::new(engine)
    }

    /// Starts an execution of a machine with this definition.
    pub(crate) fn start(&self, definition: Value, input: Value) -> String {
        let name = crate::ids::uuid_v4();
        let (machine, _) = self
            .engine
            .create_state_machine(&name, &definition.to_string(), ROLE, false)
            .unwrap();
        self.engine
            .start_execution(&machine, "run", &input.to_string())
            .unwrap()
            .0
    }

    /// Moves the clock and lets the execution see it.
    pub(crate) fn tick(&self, arn: &str, ms: i64) {
        self.tick_on(&self.engine, arn, ms);
    }

    /// Moves the clock and lets the execution see it, on `engine` (a restarted one).
    pub(crate) fn tick_on(&self, engine: &StepFunctions<StubHost>, arn: &str, ms: i64) {
        self.clock.0.fetch_add(ms, Ordering::SeqCst);
        engine.wake(arn);
    }

    /// Waits until the execution `arn` on `engine` is no longer running.
    pub(crate) async fn stopped_running(engine: &StepFunctions<StubHost>, arn: &str) {
        for _ in 0..2000 {
            if engine.execution(arn).unwrap().status != "RUNNING" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{arn} still runs");
    }

    pub(crate) async fn settled(&self, arn: &str, status: &str) -> ExecutionRecord {
        for _ in 0..2000 {
            let e = self.engine.execution(arn).unwrap();
            if e.status == status {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "{arn} is not {status}: {:?}\n{:#?}",
            self.engine.execution(arn),
            self.kinds(arn)
        );
    }

    /// Waits until `arn` succeeds; its output.
    pub(crate) async fn output(&self, arn: &str) -> Value {
        let done = self.settled(arn, "SUCCEEDED").await;
        serde_json::from_str(done.output.as_deref().expect("an output")).unwrap()
    }

    /// Gives the execution time to act on the clock, and checks that it is still running.
    pub(crate) async fn still_running(&self, arn: &str, why: &str) {
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            self.engine.execution(arn).unwrap().status,
            "RUNNING",
            "{why}"
        );
    }

    /// The error kind with which a task success for `token` is refused.
    pub(crate) fn refused_success(&self, token: &str) -> &'static str {
        self.engine.send_task_success(token, "{}").unwrap_err().kind
    }

    /// Waits until the history of `arn` has an event of `kind`.
    pub(crate) async fn reached(&self, arn: &str, kind: &str) {
        for _ in 0..2000 {
            if self.kinds(arn).iter().any(|k| k == kind) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("no {kind} in {:?}", self.kinds(arn));
    }

    pub(crate) async fn task(&self) -> ActivityTask {
        self.engine
            .get_activity_task(ACTIVITY, Some("worker-1"))
            .await
            .unwrap()
            .expect("a task")
    }

    pub(crate) fn kinds(&self, arn: &str) -> Vec<String> {
        self.engine
            .history(arn)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

/// The details of the first event of `kind` in the history of `arn`.
fn details_of(engine: &StepFunctions<StubHost>, arn: &str, kind: &str) -> Value {
    engine
        .history(arn)
        .unwrap()
        .into_iter()
        .find(|e| e.kind == kind)
        .and_then(|e| e.details)
        .unwrap_or_else(|| panic!("no {kind} with details"))
        .1
}

fn activity_machine(task: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": ACTIVITY, "End": true});
    state
        .as_object_mut()
        .unwrap()
        .extend(task.as_object().unwrap().clone());
    json!({"StartAt": "Approve", "States": {"Approve": state, "Caught": {"Type": "Pass", "End": true}}})
}

#[tokio::test]
async fn an_activity_task_completes_the_execution_with_its_output() {
    let f = Fixture::new();
    let arn = f.start(
        activity_machine(json!({
            "Parameters": {"who.$": "$.who", "run.$": "$$.Execution.Name"},
            "ResultPath": "$.decision"
        })),
        json!({"who": "ada"}),
    );
    let task = f.task().await;
    assert_eq!(
        serde_json::from_str::<Value>(&task.input).unwrap(),
        json!({"who": "ada", "run": "run"})
    );
    assert!(crate::sfn::token::token_is_well_formed(&task.token));
    f.engine
        .send_task_heartbeat(&task.token)
        .expect("a heartbeat for an open task");
    f.engine
        .send_task_success(&task.token, r#"{"approved": true}"#)
        .unwrap();
    assert_eq!(
        f.output(&arn).await,
        json!({"who": "ada", "decision": {"approved": true}})
    );
    assert_eq!(
        f.kinds(&arn),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let history = f.engine.history(&arn).unwrap();
    assert_eq!(
        history[3].details,
        Some((
            "activityStartedEventDetails".into(),
            json!({"workerName": "worker-1"})
        ))
    );
    assert!(
        history
            .windows(2)
            .all(|w| w[1].previous_event_id == w[0].id)
    );
    // The token is spent.
    let again = f.engine.send_task_success(&task.token, "{}").unwrap_err();
    assert_eq!(again.kind, "TaskTimedOut");
    // No other task waits: the long poll ends empty.
    assert_eq!(
        f.engine.get_activity_task(ACTIVITY, None).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn tokens_stay_out_of_the_terminal_and_the_log_table() {
    let f = Fixture::new();
    let (logs, printed) = LogSink::to_buffer(Arc::clone(&f.store), crate::logs::Style::Plain);
    let mut engine = StepFunctions::new(
        Arc::clone(&f.store),
        Arc::clone(&f.host),
        "shop-dev-".to_owned(),
        Arc::clone(&f.clock) as Arc<dyn Clock>,
        Some(logs.clone()),
    );
    engine.poll_timeout = Duration::from_millis(300);
    let engine = Arc::new(engine);
    let (machine, _) = engine
        .create_state_machine("m", &activity_machine(json!({})).to_string(), ROLE, false)
        .unwrap();
    let (arn, _) = engine.start_execution(&machine, "secretive", "{}").unwrap();
    let task = engine
        .get_activity_task(ACTIVITY, None)
        .await
        .unwrap()
        .unwrap();
    engine.send_task_success(&task.token, "{}").unwrap();
    for _ in 0..2000 {
        if engine.execution(&arn).unwrap().status == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    logs.flush().await;
    let printed = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("states: execution secretive succeeded"),
        "{printed}"
    );
    assert!(!printed.contains(&task.token));
    let stored: Vec<String> = f
        .store
        .with_connection(|c| {
            let mut stmt = c.prepare("SELECT message FROM logs")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
        .unwrap();
    assert!(
        stored.iter().all(|m| !m.contains(&task.token)),
        "{stored:?}"
    );
}

#[tokio::test]
async fn bad_tokens_and_outputs_get_the_aws_errors() {
    let f = Fixture::new();
    let _arn = f.start(activity_machine(json!({})), json!({}));
    let task = f.task().await;
    let kind = |r: Result<(), ApiError>| r.unwrap_err().kind;
    assert_eq!(
        kind(f.engine.send_task_success("garbage", "{}")),
        "InvalidToken"
    );
    assert_eq!(
        kind(
            f.engine
                .send_task_success(&crate::sfn::token::random_token(), "{}")
        ),
        "TaskDoesNotExist"
    );
    assert_eq!(
        kind(f.engine.send_task_success(&task.token, "{nope")),
        "InvalidOutput"
    );
    assert_eq!(
        kind(f.engine.send_task_failure("x", None, None)),
        "InvalidToken"
    );
    assert_eq!(
        kind(
            f.engine
                .send_task_heartbeat(&crate::sfn::token::random_token())
        ),
        "TaskDoesNotExist"
    );
    assert_eq!(
        f.engine
            .get_activity_task("arn:aws:states:us-east-1:000000000000:activity:nope", None)
            .await
            .unwrap_err()
            .kind,
        "ActivityDoesNotExist"
    );
}

#[tokio::test]
async fn a_task_failure_is_caught_or_fails_the_execution() {
    let f = Fixture::new();
    let caught = f.start(
        activity_machine(json!({
            "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": true
        })),
        json!({"id": 7}),
    );
    let task = f.task().await;
    f.engine
        .send_task_failure(&task.token, Some("Rejected"), Some("no budget"))
        .unwrap();
    assert_eq!(
        f.output(&caught).await,
        json!({"id": 7, "error": {"Error": "Rejected", "Cause": "no budget"}})
    );

    let failed = f.start(activity_machine(json!({})), json!({}));
    let task = f.task().await;
    f.engine
        .send_task_failure(&task.token, Some("Rejected"), Some("no budget"))
        .unwrap();
    let done = f.settled(&failed, "FAILED").await;
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("Rejected"), Some("no budget"))
    );
    assert!(
        f.kinds(&failed)
            .ends_with(&["ActivityFailed".into(), "ExecutionFailed".into()])
    );
}

#[tokio::test]
async fn task_timeouts_use_the_clock_and_heartbeats_extend_them() {
    let f = Fixture::new();
    let arn = f.start(
        activity_machine(json!({"TimeoutSeconds": 60, "HeartbeatSeconds": 10})),
        json!({}),
    );
    let task = f.task().await;
    f.tick(&arn, 8_000);
    f.engine.send_task_heartbeat(&task.token).unwrap();
    f.tick(&arn, 8_000);
    f.still_running(&arn, "the heartbeat kept it").await;
    f.tick(&arn, 3_000);
    let done = f.settled(&arn, "FAILED").await;
    assert_eq!(done.error.as_deref(), Some("States.HeartbeatTimeout"));
    assert_eq!(f.refused_success(&task.token), "TaskTimedOut");

    // TimeoutSeconds, caught by States.Timeout. It counts from when a worker takes the
    // task (`ActivityStarted`), as on AWS: a task nobody polls for waits.
    let arn = f.start(
        activity_machine(json!({"TimeoutSeconds": 5,
            "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}]})),
        json!({}),
    );
    f.reached(&arn, "ActivityScheduled").await;
    f.tick(&arn, 60_000);
    f.still_running(&arn, "not taken yet").await;
    f.task().await;
    f.tick(&arn, 4_999);
    f.still_running(&arn, "before the limit").await;
    f.tick(&arn, 1);
    assert_eq!(f.output(&arn).await["Error"], "States.Timeout");
    assert!(f.kinds(&arn).contains(&"ActivityTimedOut".to_owned()));
}

#[tokio::test]
async fn timeout_and_heartbeat_seconds_paths_read_the_state_input() {
    let f = Fixture::new();
    let arn = f.start(
        activity_machine(json!({"TimeoutSecondsPath": "$.limits.timeout",
            "HeartbeatSecondsPath": "$.limits.heartbeat",
            "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}]})),
        json!({"limits": {"timeout": 5, "heartbeat": 2}}),
    );
    f.task().await;
    f.tick(&arn, 1_999);
    f.still_running(&arn, "before the limit").await;
    f.tick(&arn, 1);
    assert_eq!(f.output(&arn).await["Error"], "States.HeartbeatTimeout");
    let details = details_of(&f.engine, &arn, "ActivityScheduled");
    assert_eq!(
        (&details["timeoutInSeconds"], &details["heartbeatInSeconds"]),
        (&json!(5), &json!(2))
    );

    // A value that is not a positive integer fails the execution (States.Runtime).
    let arn = f.start(
        activity_machine(json!({"TimeoutSecondsPath": "$.timeout",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]})),
        json!({"timeout": 0}),
    );
    let done = f.settled(&arn, "FAILED").await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(
        done.cause
            .as_deref()
            .is_some_and(|c| c.contains("TimeoutSecondsPath")),
        "{done:?}"
    );
}

#[tokio::test]
async fn lambda_invoke_retries_with_backoff_then_catches() {
    let f = Fixture::new();
    let definition = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "shop-dev-boom", "Payload": {"n.$": "$.n"}},
            "Retry": [{"ErrorEquals": ["MyError"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3}],
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Done"}],
            "End": true},
        "Done": {"Type": "Pass", "End": true}}});
    let arn = f.start(definition, json!({"n": 1}));
    let calls = |f: &Fixture| f.host.calls.lock().unwrap().len();
    // A retry's wait is recorded with its `TaskFailed` event, in one transaction.
    let failures = async |f: &Fixture, n: usize| {
        for _ in 0..2000 {
            if f.kinds(&arn).iter().filter(|k| *k == "TaskFailed").count() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("not {n} TaskFailed: {:?}", f.kinds(&arn));
    };
    failures(&f, 1).await;
    assert_eq!(
        f.host.calls.lock().unwrap()[0],
        ("boom".into(), r#"{"n":1}"#.into())
    );
    f.tick(&arn, 1_999);
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(calls(&f), 1, "the first retry waits IntervalSeconds");
    f.tick(&arn, 1);
    failures(&f, 2).await;
    assert_eq!(calls(&f), 2);
    f.tick(&arn, 6_000);
    let done = f.settled(&arn, "SUCCEEDED").await;
    assert_eq!(calls(&f), 3, "MaxAttempts 2: three invocations");
    let output: Value = serde_json::from_str(done.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["failure"]["Error"], "MyError");
    let cause: Value = serde_json::from_str(output["failure"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "it broke");
    assert_eq!(
        f.kinds(&arn).iter().filter(|k| *k == "TaskFailed").count(),
        3
    );
}

#[tokio::test]
async fn lambda_results_are_wrapped_for_lambda_invoke_and_plain_for_a_function_arn() {
    let f = Fixture::new();
    let definition = json!({"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:shop-dev-echo:$LATEST",
                "Payload.$": "$"},
            "ResultSelector": {"body.$": "$.Payload", "status.$": "$.StatusCode"},
            "ResultPath": "$.invoked", "Next": "Plain"},
        "Plain": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:shop-dev-echo",
            "Parameters": {"again.$": "$.invoked.status"}, "ResultPath": "$.plain", "End": true}}});
    let arn = f.start(definition, json!({"x": 1}));
    assert_eq!(
        f.output(&arn).await,
        json!({"x": 1, "invoked": {"body": {"x": 1}, "status": 200}, "plain": {"again": 200}})
    );
    let kinds = f.kinds(&arn);
    for kind in [
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
    ] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }

    // `InvocationType: Event` goes on at once with Lambda's 202; the call still happens.
    let arn = f.start(
        json!({"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "echo", "InvocationType": "Event", "Payload": {"fire": "forget"}},
            "ResultSelector": {"status.$": "$.StatusCode"}, "End": true}}}),
        json!({}),
    );
    let done = f.settled(&arn, "SUCCEEDED").await;
    assert_eq!(done.output.as_deref(), Some(r#"{"status":202}"#));
    for _ in 0..2000 {
        if f.host
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|(_, p)| p.contains("forget"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        f.host
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|(_, p)| p == r#"{"fire":"forget"}"#)
    );

    // An unknown function is a task failure naming it.
    let arn = f.start(
        json!({"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "nope"}, "End": true}}}),
        json!({}),
    );
    let done = f.settled(&arn, "FAILED").await;
    assert_eq!(
        done.error.as_deref(),
        Some("Lambda.ResourceNotFoundException")
    );
}

#[tokio::test]
async fn wait_for_task_token_hands_the_token_to_the_function_and_survives_a_restart() {
    let f = Fixture::new();
    let definition = json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token", "who.$": "$.who"}},
            "TimeoutSeconds": 3600, "End": true}}});
    let arn = f.start(definition, json!({"who": "ada"}));
    for _ in 0..2000 {
        if !f.host.calls.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (function, payload) = f.host.calls.lock().unwrap()[0].clone();
    assert_eq!(function, "echo");
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["who"], "ada");
    let token = payload["token"].as_str().unwrap().to_owned();
    // The token is in TaskScheduled's parameters too, as on AWS.
    let history = f.engine.history(&arn).unwrap();
    let scheduled = history.iter().find(|e| e.kind == "TaskScheduled").unwrap();
    let parameters: Value = serde_json::from_str(
        scheduled.details.as_ref().unwrap().1["parameters"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(parameters["Payload"]["token"], token.as_str());

    // A new engine on the same store, as after a restart of `portico local`.
    let restarted = Fixture::engine(&f.store, &f.host, &f.clock);
    assert_eq!(restarted.resume().unwrap(), 1);
    restarted.send_task_success(&token, r#"{"ok": 1}"#).unwrap();
    for _ in 0..2000 {
        if restarted.execution(&arn).unwrap().status == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let done = restarted.execution(&arn).unwrap();
    assert_eq!(
        (done.status.as_str(), done.output.as_deref()),
        ("SUCCEEDED", Some(r#"{"ok":1}"#))
    );
}

#[tokio::test]
async fn a_wait_state_resumes_at_its_deadline_after_a_restart() {
    let f = Fixture::new();
    let definition = json!({"StartAt": "Pause", "States": {
        "Pause": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Route"},
        "Route": {"Type": "Choice", "Choices": [
            {"Variable": "$.delay", "NumericGreaterThan": 5, "Next": "Long"}], "Default": "Short"},
        "Long": {"Type": "Pass", "Result": "long", "End": true},
        "Short": {"Type": "Pass", "Result": "short", "End": true}}});
    let arn = f.start(definition, json!({"delay": 30}));
    // The deadline is computed (from the clock, not yet moved) and kept in the cursor.
    for _ in 0..2000 {
        let cursor: String = f
            .store
            .with_connection(|c| {
                c.query_row(
                    "SELECT cursor FROM sfn_executions WHERE arn = ?1",
                    [&arn],
                    |r| r.get(0),
                )
            })
            .unwrap();
        if cursor.contains(r#""phase":"Wait""#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let restarted = Fixture::engine(&f.store, &f.host, &f.clock);
    restarted.resume().unwrap();
    f.tick_on(&restarted, &arn, 29_000);
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(restarted.execution(&arn).unwrap().status, "RUNNING");
    f.tick_on(&restarted, &arn, 1_000);
    Fixture::stopped_running(&restarted, &arn).await;
    assert_eq!(
        restarted.execution(&arn).unwrap().output.as_deref(),
        Some("\"long\"")
    );
}

#[tokio::test]
async fn stopping_and_timing_out_end_executions_and_their_tokens() {
    let f = Fixture::new();
    let arn = f.start(activity_machine(json!({})), json!({}));
    let task = f.task().await;
    f.engine
        .stop_execution(&arn, Some("Stopped"), Some("by a test"))
        .unwrap();
    let done = f.settled(&arn, "ABORTED").await;
    assert_eq!(done.error.as_deref(), Some("Stopped"));
    assert_eq!(f.refused_success(&task.token), "TaskTimedOut");
    assert_eq!(
        f.kinds(&arn).last().map(String::as_str),
        Some("ExecutionAborted")
    );

    let mut definition = activity_machine(json!({}));
    definition["TimeoutSeconds"] = json!(10);
    let arn = f.start(definition, json!({}));
    f.reached(&arn, "ActivityScheduled").await;
    f.tick(&arn, 10_000);
    let done = f.settled(&arn, "TIMED_OUT").await;
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        f.kinds(&arn).last().map(String::as_str),
        Some("ExecutionTimedOut")
    );
}

#[tokio::test]
async fn fail_states_choices_without_match_and_path_errors_fail_the_execution() {
    let f = Fixture::new();
    let fail = f.start(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "Cause": "because"}}}),
        json!({"e": "Custom"}),
    );
    let done = f.settled(&fail, "FAILED").await;
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("Custom"), Some("because"))
    );
    let choice = f.start(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
            {"Variable": "$.a", "IsPresent": true, "Next": "C"}]}}}),
        json!({}),
    );
    let done = f.settled(&choice, "FAILED").await;
    assert_eq!(done.error.as_deref(), Some("States.NoChoiceMatched"));
    let path = f.start(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}),
        json!({}),
    );
    let done = f.settled(&path, "FAILED").await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn executions_are_idempotent_by_name_and_machines_by_definition() {
    let f = Fixture::new();
    let definition =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}})
            .to_string();
    let (machine, _) = f
        .engine
        .create_state_machine("m", &definition, ROLE, false)
        .unwrap();
    assert_eq!(
        f.engine
            .create_state_machine("m", &definition, ROLE, false)
            .unwrap()
            .0,
        machine
    );
    let other = definition.replace("100", "5");
    assert_eq!(
        f.engine
            .create_state_machine("m", &other, ROLE, false)
            .unwrap_err()
            .kind,
        "StateMachineAlreadyExists"
    );
    let invalid = f
        .engine
        .create_state_machine(
            "bad",
            r#"{"StartAt": "X", "States": {"X": {"Type": "Map", "End": true}}}"#,
            ROLE,
            false,
        )
        .unwrap_err();
    assert_eq!(invalid.kind, "InvalidDefinition");
    assert!(
        invalid.message.contains("/States/X/ItemProcessor"),
        "{}",
        invalid.message
    );
    let first = f.engine.start_execution(&machine, "once", "{}").unwrap();
    assert_eq!(
        f.engine.start_execution(&machine, "once", "{}").unwrap(),
        first
    );
    assert_eq!(
        f.engine
            .start_execution(&machine, "once", r#"{"a":1}"#)
            .unwrap_err()
            .kind,
        "ExecutionAlreadyExists"
    );
    assert_eq!(
        f.engine
            .start_execution(&machine, "x", "{nope")
            .unwrap_err()
            .kind,
        "InvalidExecutionInput"
    );
    assert_eq!(
        f.engine
            .start_execution(
                "arn:aws:states:us-east-1:000000000000:stateMachine:none",
                "x",
                "{}"
            )
            .unwrap_err()
            .kind,
        "StateMachineDoesNotExist"
    );
    assert_eq!(
        f.engine
            .executions(&machine, Some("RUNNING"))
            .unwrap()
            .len(),
        1
    );
    assert!(
        f.engine
            .executions(&machine, Some("FAILED"))
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn keys_keep_their_written_order_through_templates_restarts_and_history() {
    let f = Fixture::new();
    let definition = json!({"StartAt": "Build", "States": {
        "Build": {"Type": "Pass", "Parameters": {"zeta": 1, "alpha.$": "$.b", "mid": {"y": 1, "x": 2}},
            "ResultPath": "$.built", "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 30, "Next": "Text"},
        "Text": {"Type": "Pass", "Parameters": {"text.$": "States.JsonToString($.built)", "all.$": "$"},
            "End": true}}});
    let arn = f.start(definition, json!({"b": "bee", "a": "ay"}));
    f.reached(&arn, "WaitStateEntered").await;
    // The cursor (with the state's input) is in SQLite; a new engine reads it back.
    let restarted = Fixture::engine(&f.store, &f.host, &f.clock);
    restarted.resume().unwrap();
    f.tick_on(&restarted, &arn, 30_000);
    Fixture::stopped_running(&restarted, &arn).await;
    let built = r#"{"zeta":1,"alpha":"bee","mid":{"y":1,"x":2}}"#;
    let expected = format!(
        r#"{{"text":{},"all":{{"b":"bee","a":"ay","built":{built}}}}}"#,
        Value::String(built.to_owned())
    );
    assert_eq!(
        restarted.execution(&arn).unwrap().output.as_deref(),
        Some(expected.as_str())
    );
    let details = details_of(&restarted, &arn, "PassStateExited");
    assert_eq!(
        details["output"],
        json!(format!(r#"{{"b":"bee","a":"ay","built":{built}}}"#))
    );
}

#[tokio::test]
async fn a_result_path_that_cannot_apply_is_an_error_catchers_see() {
    let f = Fixture::new();
    // `$.a` is a string: the result cannot go to `$.a.b`.
    let arn = f.start(
        activity_machine(json!({"ResultPath": "$.a.b",
            "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"], "ResultPath": "$.error", "Next": "Caught"}]})),
        json!({"a": "text"}),
    );
    let task = f.task().await;
    f.engine.send_task_success(&task.token, "{}").unwrap();
    let done = f.settled(&arn, "SUCCEEDED").await;
    let output: Value = serde_json::from_str(done.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["a"], "text");
    assert_eq!(output["error"]["Error"], "States.ResultPathMatchFailure");

    // Without a catcher it fails the execution with that error.
    let arn = f.start(
        activity_machine(json!({"ResultPath": "$.a.b"})),
        json!({"a": 1}),
    );
    let task = f.task().await;
    f.engine.send_task_success(&task.token, "{}").unwrap();
    let done = f.settled(&arn, "FAILED").await;
    assert_eq!(done.error.as_deref(), Some("States.ResultPathMatchFailure"));

    // A ResultSelector path that selects nothing is States.Runtime: States.ALL does not catch it.
    let arn = f.start(
        activity_machine(json!({"ResultSelector": {"x.$": "$.missing"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]})),
        json!({}),
    );
    let task = f.task().await;
    f.engine.send_task_success(&task.token, "{}").unwrap();
    let done = f.settled(&arn, "FAILED").await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}
