//! `Parallel` and `Map` in the engine: branches joined in order, failures, Retry and Catch,
//! MaxConcurrency, history events, and executions resumed mid-branch after a restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::sfn::engine::records::{ActivityTask, ExecutionRecord};
use crate::sfn::engine::service::StepFunctions;
use crate::sfn::engine::tests::{ACTIVITY, Fixture};
use crate::testing::StubHost;

#[tokio::test]
async fn parallel_joins_branch_outputs_in_order_and_map_runs_each_item() {
    let f = Fixture::new();
    let arn = f.start(
        json!({"StartAt": "Fan", "States": {
            "Fan": {"Type": "Parallel", "InputPath": "$.order", "ResultPath": "$.both", "Next": "Each",
                "ResultSelector": {"first.$": "$[0]", "second.$": "$[1].label"},
                "Branches": [
                    {"StartAt": "Total", "States": {"Total": {"Type": "Pass",
                        "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "OutputPath": "$.sum", "End": true}}},
                    {"StartAt": "Pick", "States": {
                        "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericGreaterThan": 1, "Next": "Big"}],
                            "Default": "Small"},
                        "Big": {"Type": "Pass", "Result": {"label": "big"}, "End": true},
                        "Small": {"Type": "Pass", "Result": {"label": "small"}, "End": true}}}
                ]},
            "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.mapped", "End": true,
                "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Double", "States": {
                    "Double": {"Type": "Pass", "Parameters": {"at.$": "$.index", "twice.$": "States.MathAdd($.value, $.value)",
                        "tag.$": "$.tag"}, "End": true}}}}
        }}),
        json!({"order": {"a": 2, "b": 3}, "items": [1, 5, 7], "tag": "t"}),
    );
    let done = f.settled(&arn, "SUCCEEDED").await;
    let output: Value = serde_json::from_str(done.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["both"], json!({"first": 5, "second": "big"}));
    assert_eq!(
        output["mapped"],
        json!([
            {"at": 0, "twice": 2, "tag": "t"},
            {"at": 1, "twice": 10, "tag": "t"},
            {"at": 2, "twice": 14, "tag": "t"}
        ])
    );
    let kinds = f.kinds(&arn);
    let position = |kind: &str| {
        kinds
            .iter()
            .position(|k| k == kind)
            .unwrap_or_else(|| panic!("no {kind} in {kinds:?}"))
    };
    assert!(position("ParallelStateEntered") < position("ParallelStateStarted"));
    assert!(position("ParallelStateStarted") < position("PassStateEntered"));
    assert!(position("ChoiceStateExited") < position("ParallelStateSucceeded"));
    assert!(position("ParallelStateSucceeded") < position("ParallelStateExited"));
    assert!(position("MapStateEntered") < position("MapStateStarted"));
    assert!(position("MapStateSucceeded") < position("MapStateExited"));
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(count("MapIterationStarted"), 3);
    assert_eq!(count("MapIterationSucceeded"), 3);
    let history = f.engine.history(&arn).unwrap();
    let started = history
        .iter()
        .find(|e| e.kind == "MapStateStarted")
        .and_then(|e| e.details.clone());
    assert_eq!(
        started,
        Some((
            "mapStateStartedEventDetails".to_owned(),
            json!({"length": 3})
        ))
    );
    let iteration = history
        .iter()
        .filter(|e| e.kind == "MapIterationSucceeded")
        .nth(2)
        .and_then(|e| e.details.clone());
    assert_eq!(
        iteration,
        Some((
            "mapIterationSucceededEventDetails".to_owned(),
            json!({"name": "Each", "index": 2})
        ))
    );
}

#[tokio::test]
async fn a_failing_branch_fails_the_state_where_retry_and_catch_apply() {
    let f = Fixture::new();
    let machine = |handlers: Value| {
        let mut fan = json!({"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "End": true}}},
            {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "branch 1"}}}
        ]});
        fan.as_object_mut()
            .unwrap()
            .extend(handlers.as_object().unwrap().clone());
        json!({"StartAt": "Fan", "States": {"Fan": fan,
            "Caught": {"Type": "Pass", "End": true}}})
    };
    let caught = f.start(
        machine(json!({"Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Caught"}]})),
        json!({"keep": 1}),
    );
    let done = f.settled(&caught, "SUCCEEDED").await;
    let output: Value = serde_json::from_str(done.output.as_deref().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"keep": 1, "error": {"Error": "Boom", "Cause": "branch 1"}})
    );
    assert!(f.kinds(&caught).contains(&"ParallelStateFailed".to_owned()));

    let retried = f.start(
        machine(
            json!({"Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 1}]}),
        ),
        json!({}),
    );
    f.reached(&retried, "ParallelStateFailed").await;
    assert_eq!(f.engine.execution(&retried).unwrap().status, "RUNNING");
    f.tick(&retried, 2_000);
    let done = f.settled(&retried, "FAILED").await;
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("Boom"), Some("branch 1"))
    );
    let kinds = f.kinds(&retried);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "ParallelStateStarted")
            .count(),
        2
    );

    // A Map over something that is not an array fails with States.Runtime.
    let not_array = f.start(
        json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
        json!({"items": {"a": 1}}),
    );
    let done = f.settled(&not_array, "FAILED").await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

/// The execution's saved cursor.
fn saved_cursor(f: &Fixture, arn: &str) -> String {
    f.store
        .with_connection(|c| {
            c.query_row(
                "SELECT cursor FROM sfn_executions WHERE arn = ?1",
                [arn],
                |r| r.get(0),
            )
        })
        .unwrap()
}

async fn settled_on(engine: &StepFunctions<StubHost>, arn: &str, status: &str) -> ExecutionRecord {
    for _ in 0..2000 {
        let e = engine.execution(arn).unwrap();
        if e.status == status {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{arn} is not {status}: {:?}", engine.execution(arn));
}

#[tokio::test]
async fn a_parallel_state_waiting_on_a_task_survives_a_restart() {
    let f = Fixture::new();
    let arn = f.start(
        json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "ResultPath": "$.both", "End": true,
            "Branches": [
                {"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "Result": "first", "End": true}}},
                {"StartAt": "Ask", "States": {
                    "Ask": {"Type": "Task", "Resource": ACTIVITY, "Next": "Keep"},
                    "Keep": {"Type": "Pass", "Parameters": {"answer.$": "$.answer"}, "End": true}}}
            ]}}}),
        json!({"id": 7}),
    );
    let task = f.task().await;
    assert_eq!(
        serde_json::from_str::<Value>(&task.input).unwrap(),
        json!({"id": 7})
    );
    let cursor = saved_cursor(&f, &arn);
    assert!(cursor.contains(r#""phase":"Fanout""#), "{cursor}");

    // A new engine on the same store, as after a restart of `portico local`.
    let restarted = Fixture::engine(&f.store, &f.host, &f.clock);
    assert_eq!(restarted.resume().unwrap(), 1);
    restarted
        .send_task_success(&task.token, r#"{"answer": 42}"#)
        .unwrap();
    let done = settled_on(&restarted, &arn, "SUCCEEDED").await;
    assert_eq!(
        serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
        json!({"id": 7, "both": ["first", {"answer": 42}]})
    );
    let kinds = f.kinds(&arn);
    for kind in [
        "ParallelStateStarted",
        "ActivityScheduled",
        "ActivitySucceeded",
        "ParallelStateSucceeded",
        "ParallelStateExited",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn a_map_keeps_max_concurrency_and_item_order_across_a_restart() {
    let f = Fixture::new();
    let arn = f.start(
        json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
            "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}, "End": true,
            "ItemProcessor": {"StartAt": "Work", "States": {
                "Work": {"Type": "Task", "Resource": ACTIVITY, "End": true}}}}}}),
        json!({"items": [10, 20, 30]}),
    );
    let first = f.task().await;
    let second = f.task().await;
    // Two run at once: the third item waits.
    assert!(
        f.engine
            .get_activity_task(ACTIVITY, Some("worker-1"))
            .await
            .unwrap()
            .is_none()
    );
    let restarted = Fixture::engine(&f.store, &f.host, &f.clock);
    assert_eq!(restarted.resume().unwrap(), 1);
    let answer = |task: &ActivityTask| {
        let input: Value = serde_json::from_str(&task.input).unwrap();
        json!({"doubled": input["n"].as_i64().unwrap() * 2, "i": input["i"]}).to_string()
    };
    // The second finishes first: the results still come in item order.
    restarted
        .send_task_success(&second.token, &answer(&second))
        .unwrap();
    let third = restarted
        .get_activity_task(ACTIVITY, Some("worker-2"))
        .await
        .unwrap()
        .expect("the third item starts when one ends");
    assert_eq!(
        serde_json::from_str::<Value>(&third.input).unwrap(),
        json!({"n": 30, "i": 2})
    );
    restarted
        .send_task_success(&third.token, &answer(&third))
        .unwrap();
    restarted
        .send_task_success(&first.token, &answer(&first))
        .unwrap();
    let done = settled_on(&restarted, &arn, "SUCCEEDED").await;
    assert_eq!(
        serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
        json!([{"doubled": 20, "i": 0}, {"doubled": 40, "i": 1}, {"doubled": 60, "i": 2}])
    );
    let kinds = f.kinds(&arn);
    assert_eq!(
        kinds.iter().filter(|k| *k == "MapIterationStarted").count(),
        3
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "MapIterationSucceeded")
            .count(),
        3
    );
}

#[tokio::test]
async fn a_failing_branch_stops_the_waiting_ones_and_lambda_tasks_run_in_branches() {
    let f = Fixture::new();
    let arn = f.start(
        json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true,
            "Catch": [{"ErrorEquals": ["Broken"], "Next": "Caught"}],
            "Branches": [
                {"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": ACTIVITY, "End": true}}},
                {"StartAt": "Later", "States": {
                    "Later": {"Type": "Wait", "Seconds": 5, "Next": "Broken"},
                    "Broken": {"Type": "Fail", "Error": "Broken", "Cause": "late"}}}
            ]},
            "Caught": {"Type": "Pass", "End": true}}}),
        json!({}),
    );
    let task = f.task().await;
    f.tick(&arn, 5_000);
    let done = f.settled(&arn, "SUCCEEDED").await;
    assert_eq!(
        serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
        json!({"Error": "Broken", "Cause": "late"})
    );
    // The waiting branch's token no longer works.
    assert!(f.engine.send_task_success(&task.token, "{}").is_err());

    let mapped = f.start(
        json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "End": true,
            "ItemSelector": {"v.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": {"Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "echo", "Payload.$": "$"},
                "OutputPath": "$.Payload", "End": true}}}}}}),
        json!([1, 2, 3]),
    );
    let done = f.settled(&mapped, "SUCCEEDED").await;
    assert_eq!(
        serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
        json!([{"v": 1}, {"v": 2}, {"v": 3}])
    );

    // A failing iteration aborts the running ones.
    let aborted = f.start(
        json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "Route", "States": {
                "Route": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 1, "Next": "Bad"}],
                    "Default": "Ask"},
                "Ask": {"Type": "Task", "Resource": ACTIVITY, "End": true},
                "Bad": {"Type": "Fail", "Error": "Bad"}}}}}}),
        json!([0, 1]),
    );
    let done = f.settled(&aborted, "FAILED").await;
    assert_eq!(done.error.as_deref(), Some("Bad"));
    let history = f.engine.history(&aborted).unwrap();
    let details = |kind: &str| {
        history
            .iter()
            .filter(|e| e.kind == kind)
            .filter_map(|e| e.details.clone())
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        details("MapIterationAborted"),
        [json!({"name": "Each", "index": 0})]
    );
    assert_eq!(
        details("MapIterationFailed"),
        [json!({"name": "Each", "index": 1})]
    );
}
