//! Typical functions: typed and untyped events, state, the Lambda context, a custom name,
//! every return shape. They are then invoked through the in-process test client.

use std::fmt;

use portico::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize)]
struct NotifyInput {
    task_token: String,
    employee: String,
}

#[derive(Serialize)]
struct Notified {
    to: String,
    employee: String,
}

#[derive(Clone)]
struct Config {
    manager: String,
}

#[derive(Debug)]
struct MyError;

impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("my error")
    }
}

#[function]
async fn notify(
    Json(input): Json<NotifyInput>,
    State(cfg): State<Config>,
    _ctx: LambdaContext,
) -> Result<Json<Notified>, MyError> {
    if input.task_token.is_empty() {
        return Err(MyError);
    }
    Ok(Json(Notified {
        to: cfg.manager,
        employee: input.employee,
    }))
}

#[function(name = "audit-log")]
pub async fn audit(Json(_event): Json<Value>) {}

#[function]
pub(crate) async fn nothing() -> Result<(), Error> {
    Ok(())
}

#[function]
async fn r#typed() -> Result<Json<u8>, FunctionError> {
    Ok(Json(7))
}

fn main() {
    let app = App::new()
        .state(Config {
            manager: "manager@example.com".into(),
        })
        .functions(functions![notify, audit, nothing, typed]);
    let names: Vec<&str> = app.function_list().iter().map(|f| f.name).collect();
    assert_eq!(names, ["notify", "audit-log", "nothing", "typed"]);
    assert_eq!(app.function_list()[0].line, 36, "the line of the attribute");
    assert!(app.function_list()[0].file.ends_with("typical_functions.rs"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = portico::testing::TestClient::new(app);
        let out = client
            .invoke_function("notify", &json!({"task_token": "t", "employee": "Jim"}))
            .await
            .expect("notify");
        assert_eq!(out, json!({"to": "manager@example.com", "employee": "Jim"}));
        let err = client
            .invoke_function("notify", &json!({"task_token": "", "employee": "Jim"}))
            .await
            .unwrap_err();
        assert_eq!(err, ("MyError".to_owned(), "my error".to_owned()));
        assert_eq!(client.invoke_function("audit-log", &json!([1])).await, Ok(Value::Null));
        assert_eq!(client.invoke_function("nothing", &json!({})).await, Ok(Value::Null));
        assert_eq!(client.invoke_function("typed", &json!({})).await, Ok(json!(7)));
    });
}
