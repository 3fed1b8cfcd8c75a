//! The real `bootstrap` binary under a loopback Lambda Runtime API, answering REST API (v1)
//! proxy events the way API Gateway sends them for the `/{proxy+}` resource (stage `prod`:
//! `path` without it, `requestContext.path` with it).

use std::time::Duration;

use portico_e2e::events::{ProxyResponse, RestEvent, rest_v1};
use portico_e2e::runtime_api::{FunctionProcess, Invocation, RuntimeApi};
use serde_json::json;

const BOOTSTRAP: &str = env!("CARGO_BIN_EXE_bootstrap");
/// Only reached when something is wrong (debug binary, loaded machine).
const WAIT: Duration = Duration::from_secs(30);

struct Hello {
    api: RuntimeApi,
    function: FunctionProcess,
}

impl Hello {
    fn start() -> Self {
        let api = RuntimeApi::start().expect("start the Runtime API");
        let function = api
            .spawn_function(BOOTSTRAP.as_ref(), &[])
            .expect("spawn the hello bootstrap");
        Self { api, function }
    }

    #[track_caller]
    fn call(&self, event: RestEvent) -> ProxyResponse {
        let event = event.into_value();
        assert!(
            event["requestContext"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/prod/")),
            "the event should carry the stage in requestContext.path: {event}"
        );
        match self.api.invoke(event.to_string().as_bytes(), WAIT) {
            Ok(Invocation::Response(payload)) => {
                ProxyResponse::parse(&payload).unwrap_or_else(|e| {
                    panic!("{e}\n--- function output ---\n{}", self.function.output())
                })
            }
            other => panic!(
                "{other:?}\n--- function output ---\n{}",
                self.function.output()
            ),
        }
    }
}

#[test]
fn serves_the_benchmark_routes_from_the_real_binary() {
    let mut hello = Hello::start();
    let pid = hello.function.pid();

    let res = hello.call(rest_v1("GET", "/"));
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.json(), json!({"hello": "world"}));
    assert!(!res.is_base64_encoded);

    for id in ["42", "u-7", "prod"] {
        let res = hello.call(rest_v1("GET", &format!("/users/{id}")));
        assert_eq!(res.status, 200, "{id}: {}", res.text());
        assert_eq!(res.json(), json!({"id": id}));
    }

    let res = hello.call(
        rest_v1("POST", "/users").json_body(&json!({"name": "Ada", "email": "ada@example.com"})),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(
        res.json(),
        json!({"id": "u-1", "name": "Ada", "email": "ada@example.com"})
    );

    let res = hello.call(rest_v1("GET", "/respond/succeed").query("taskToken", "XYZ"));
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.text(), "approved XYZ");
    assert!(
        res.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        res.headers
    );

    for event in [
        rest_v1("GET", "/respond/succeed"),
        rest_v1("GET", "/respond/succeed").query("taskToken", ""),
    ] {
        let res = hello.call(event);
        assert_eq!(res.status, 400, "{}", res.text());
        assert_eq!(res.json()["code"], "BadRequestError");
    }

    for path in [
        "/nope",
        "/users/42/extra",
        "/respond/fail",
        "/prod/users/42",
    ] {
        let res = hello.call(rest_v1("GET", path));
        assert_eq!(res.status, 404, "{path}: {}", res.text());
        assert_eq!(res.json()["code"], "NotFoundError", "{path}");
    }

    assert_eq!(hello.function.pid(), pid);
    assert!(hello.function.is_running(), "{}", hello.function.output());
}

#[test]
fn rejects_bad_user_bodies_with_json_errors() {
    let hello = Hello::start();
    let bodies = [
        ("{\"name\": ", "invalid JSON"),
        (r#"{"name": "Ada"}"#, "missing email"),
        (r#"{"email": "ada@example.com"}"#, "missing name"),
        (
            r#"{"name": 1, "email": "ada@example.com"}"#,
            "mistyped name",
        ),
        (r#"{"name": "Ada", "email": ["a"]}"#, "mistyped email"),
        ("[]", "not an object"),
        ("", "empty body"),
    ];
    for (body, why) in bodies {
        let event = rest_v1("POST", "/users")
            .header("Content-Type", "application/json")
            .body(body);
        let res = hello.call(event);
        assert_eq!(res.status, 400, "{why}: {}", res.text());
        assert_eq!(
            res.header("content-type"),
            Some("application/json"),
            "{why}"
        );
        let error = res.json();
        assert_eq!(error["code"], "BadRequestError", "{why}: {error}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{why}: {error}"
        );
    }
    // Not JSON at all: the JSON extractor refuses the media type.
    let res = hello.call(
        rest_v1("POST", "/users")
            .header("Content-Type", "text/plain")
            .body("name=Ada"),
    );
    assert_eq!(res.status, 415, "{}", res.text());
}

#[test]
fn a_second_process_starts_cold_and_answers_too() {
    // Cold start through the same path the benchmark measures: spawn → first /next → answer.
    let hello = Hello::start();
    let first_poll = hello
        .api
        .wait_for_next_request(WAIT)
        .unwrap_or_else(|| panic!("never polled:\n{}", hello.function.output()));
    assert!(first_poll >= hello.function.spawned_at());
    let record = hello
        .api
        .invoke_detailed(rest_v1("GET", "/").to_bytes().as_slice(), WAIT)
        .expect("an answer");
    assert!(record.delivered_at >= first_poll);
    assert!(hello.function.peak_rss_kib().is_some_and(|kib| kib > 0));
}
