//! `#[function]` handlers through the in-process client: events in, JSON or Lambda function
//! errors out, exactly as the runtime reports them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portico::prelude::*;
use portico::testing::TestClient;
use portico::{BuildError, FunctionError};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct NotifyInput {
    task_token: String,
    employee: String,
}

#[derive(Clone)]
struct Config {
    manager: &'static str,
}

#[derive(Debug)]
struct NotifyError(String);

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot notify: {}", self.0)
    }
}

#[function]
async fn notify(
    Json(input): Json<NotifyInput>,
    State(cfg): State<Config>,
    ctx: LambdaContext,
) -> Result<Json<Value>, NotifyError> {
    if input.employee.is_empty() {
        return Err(NotifyError("no employee".into()));
    }
    Ok(Json(json!({
        "to": cfg.manager,
        "employee": input.employee,
        "token": input.task_token,
        "request_id": ctx.request_id,
    })))
}

#[function(name = "count-calls")]
async fn count(State(counter): State<Arc<AtomicUsize>>, Json(_any): Json<Value>) {
    counter.fetch_add(1, Ordering::SeqCst);
}

#[function]
async fn echo(Json(event): Json<Value>) -> Json<Value> {
    Json(event)
}

#[function]
async fn typed_failure(Json(days): Json<u32>) -> Result<Json<u32>, FunctionError> {
    if days > 30 {
        return Err(FunctionError::new(
            "RequestExpired",
            format!("{days} days is too old"),
        ));
    }
    Ok(Json(days))
}

#[function]
async fn boxed_failure() -> Result<(), Error> {
    Err("the database is on fire".into())
}

#[function]
async fn explode(Json(what): Json<String>) -> Json<String> {
    panic!("exploding on purpose: {what}")
}

#[derive(Clone)]
struct Missing;

#[function]
async fn needs_missing_state(State(_m): State<Missing>) {}

#[schedule("rate(1 hour)")]
async fn tick() {}

fn client() -> (TestClient, Arc<AtomicUsize>) {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = App::new()
        .state(Config {
            manager: "manager@example.com",
        })
        .state(Arc::clone(&counter))
        .schedules(schedules![tick])
        .functions(functions![
            notify,
            count,
            echo,
            typed_failure,
            boxed_failure,
            explode,
            needs_missing_state
        ]);
    (TestClient::new(app), counter)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

#[test]
fn a_function_gets_the_event_state_and_context_and_returns_json() {
    rt().block_on(async {
        let (client, _) = client();
        let out = client
            .invoke_function(
                "notify",
                &json!({"task_token": "tok-1", "employee": "Jim", "extra": [1, 2]}),
            )
            .await
            .expect("success");
        assert_eq!(out["to"], "manager@example.com");
        assert_eq!(out["employee"], "Jim");
        assert_eq!(out["token"], "tok-1");
        assert!(out["request_id"].is_string());
    });
}

#[test]
fn any_json_reaches_a_value_function_even_http_and_scheduled_shapes() {
    rt().block_on(async {
        let (client, _) = client();
        for event in [
            json!(null),
            json!([1, "two"]),
            json!({"httpMethod": "GET", "path": "/x", "requestContext": {}}),
            json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
        ] {
            assert_eq!(client.invoke_function("echo", &event).await, Ok(event));
        }
    });
}

#[test]
fn unit_returns_null_and_renamed_functions_answer_to_their_name() {
    rt().block_on(async {
        let (client, counter) = client();
        assert_eq!(
            client.invoke_function("count-calls", &json!({})).await,
            Ok(Value::Null)
        );
        assert_eq!(counter.load(Ordering::SeqCst), 1);
        let (error_type, _) = client
            .invoke_function("count", &json!({}))
            .await
            .unwrap_err();
        assert_eq!(error_type, "portico.NoFunctionHandler");
    });
}

#[test]
fn an_event_that_does_not_deserialize_is_an_invalid_event_naming_the_field() {
    rt().block_on(async {
        let (client, _) = client();
        let (error_type, message) = client
            .invoke_function("notify", &json!({"task_token": "t", "employee": 42}))
            .await
            .unwrap_err();
        assert_eq!(error_type, "InvalidEvent");
        assert!(message.contains("at `employee`"), "{message}");
        assert!(message.contains("NotifyInput"), "{message}");
        assert!(message.contains("invalid type: integer `42`"), "{message}");

        let (error_type, message) = client
            .invoke_function("notify", &json!({"employee": "Jim"}))
            .await
            .unwrap_err();
        assert_eq!(error_type, "InvalidEvent");
        assert!(message.contains("missing field `task_token`"), "{message}");

        let (error_type, message) = client
            .invoke_function_raw("echo", "{not json")
            .await
            .unwrap_err();
        assert_eq!(error_type, "InvalidEvent", "{message}");
    });
}

#[test]
fn errors_are_function_errors_typed_by_the_error() {
    rt().block_on(async {
        let (client, _) = client();
        assert_eq!(
            client
                .invoke_function("notify", &json!({"task_token": "t", "employee": ""}))
                .await,
            Err((
                "NotifyError".to_owned(),
                "cannot notify: no employee".to_owned()
            ))
        );
        assert_eq!(
            client.invoke_function("typed_failure", &json!(31)).await,
            Err(("RequestExpired".to_owned(), "31 days is too old".to_owned()))
        );
        assert_eq!(
            client.invoke_function("typed_failure", &json!(3)).await,
            Ok(json!(3))
        );
        assert_eq!(
            client.invoke_function("boxed_failure", &json!({})).await,
            Err((
                "FunctionError".to_owned(),
                "the database is on fire".to_owned()
            ))
        );
        let (error_type, message) = client
            .invoke_function("needs_missing_state", &json!({}))
            .await
            .unwrap_err();
        assert_eq!(error_type, "portico.MissingState");
        assert!(message.contains("Missing"), "{message}");
    });
}

#[test]
fn a_panic_is_a_function_panic_and_the_app_keeps_serving() {
    rt().block_on(async {
        let (client, _) = client();
        let (error_type, message) = client
            .invoke_function("explode", &json!("now"))
            .await
            .unwrap_err();
        assert_eq!(error_type, "FunctionPanic");
        assert_eq!(
            message,
            "function `explode` panicked: exploding on purpose: now"
        );
        assert_eq!(
            client.invoke_function("echo", &json!(1)).await,
            Ok(json!(1))
        );
    });
}

mod clash {
    use super::*;

    #[schedule("rate(1 day)", name = "report")]
    pub async fn report_schedule() {}

    #[function(name = "report")]
    pub async fn report_function() {}

    #[function(name = "report")]
    pub async fn report_again() {}
}

#[test]
fn entry_point_names_are_unique_and_api_is_reserved() {
    let err = App::new()
        .schedules(schedules![clash::report_schedule])
        .functions(functions![clash::report_function])
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        BuildError::DuplicateEntryPoint { name: "report", .. }
    ));
    let text = err.to_string();
    assert!(
        text.contains("the schedule at framework/tests/functions.rs:")
            && text.contains("the function at framework/tests/functions.rs:"),
        "{text}"
    );

    let err = App::new()
        .functions(functions![clash::report_function, clash::report_again])
        .build()
        .unwrap_err();
    assert!(
        matches!(err, BuildError::DuplicateEntryPoint { .. }),
        "{err}"
    );

    let mut api = functions![echo];
    api[0].name = "api";
    let err = App::new().functions(api).build().unwrap_err();
    assert!(
        err.to_string()
            .contains("named `api`, the name of the HTTP entry point"),
        "{err}"
    );
}

#[test]
fn the_manifest_lists_functions_as_entry_points() {
    let app = App::new()
        .schedules(schedules![tick])
        .functions(functions![notify, count]);
    let manifest: Value = serde_json::from_str(&portico::manifest::manifest_json(&app)).unwrap();
    assert_eq!(manifest["manifest_version"], 1);
    assert_eq!(
        manifest["entry_points"],
        json!(["api", "tick", "notify", "count-calls"])
    );
    assert_eq!(manifest["functions"][0]["name"], "notify");
    assert_eq!(manifest["functions"][1]["name"], "count-calls");
    assert!(
        manifest["functions"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("framework/tests/functions.rs:"),
        "{manifest}"
    );
    let empty: Value =
        serde_json::from_str(&portico::manifest::manifest_json(&App::new())).unwrap();
    assert_eq!(empty["functions"], json!([]));
}
