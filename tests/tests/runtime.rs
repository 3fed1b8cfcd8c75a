//! The fixture app's real binary under the loopback Runtime API: what `portico::run` does with
//! panics, errors, malformed events, schedules, its entry-point variable and its manifest.

use std::process::Command;
use std::time::Duration;

use portico_e2e::events::{self, ProxyResponse, rest_v1};
use portico_e2e::runtime_api::{
    FunctionProcess, Invocation, InvokeError, RuntimeApi, invocation_id,
};
use serde_json::{Value, json};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture_app");
/// Generous: debug binaries on a loaded 2-core machine. Only reached when something is wrong.
const WAIT: Duration = Duration::from_secs(30);
const ORIGIN: &str = "https://app.example.com";

fn start(env: &[(&str, &str)]) -> (RuntimeApi, FunctionProcess) {
    let api = RuntimeApi::start().expect("start the Runtime API");
    let function = api
        .spawn_function(FIXTURE.as_ref(), env)
        .expect("spawn the fixture app");
    (api, function)
}

/// Invokes and parses the proxy response, failing with the function's output otherwise.
#[track_caller]
fn call(api: &RuntimeApi, function: &FunctionProcess, event: &[u8]) -> ProxyResponse {
    match api.invoke(event, WAIT) {
        Ok(Invocation::Response(payload)) => ProxyResponse::parse(&payload)
            .unwrap_or_else(|e| panic!("{e}\n--- function output ---\n{}", function.output())),
        other => panic!("{other:?}\n--- function output ---\n{}", function.output()),
    }
}

#[track_caller]
fn invocation_error(
    api: &RuntimeApi,
    function: &FunctionProcess,
    event: &[u8],
) -> (String, String) {
    match api.invoke(event, WAIT) {
        Ok(Invocation::Error {
            error_type,
            error_message,
        }) => (error_type, error_message),
        other => panic!(
            "expected an invocation error, got {other:?}\n--- function output ---\n{}",
            function.output()
        ),
    }
}

/// Asserts the process is the same live one and still answers.
#[track_caller]
fn assert_still_serving(api: &RuntimeApi, function: &mut FunctionProcess, pid: u32) {
    assert_eq!(function.pid(), pid);
    assert!(
        function.is_running(),
        "the function exited:\n{}",
        function.output()
    );
    let res = call(
        api,
        function,
        &rest_v1("GET", "/echo/still-here").to_bytes(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["rest"], "still-here");
    assert!(function.is_running());
}

#[test]
fn a_panic_is_a_500_and_the_same_process_serves_the_next_event() {
    let (api, mut function) = start(&[]);
    let pid = function.pid();
    let res = call(&api, &function, &rest_v1("GET", "/panic").to_bytes());
    assert_eq!(res.status, 500, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.json()["code"], "InternalServerError");
    assert!(
        !res.text().contains("on purpose"),
        "the panic message leaked: {}",
        res.text()
    );
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some(ORIGIN),
        "CORS on a 500"
    );
    assert!(
        function.wait_for_output("the fixture panics on purpose", WAIT),
        "the panic is not logged:\n{}",
        function.output()
    );
    assert_still_serving(&api, &mut function, pid);

    // And again: a second panic in the same process.
    let res = call(&api, &function, &rest_v1("GET", "/panic").to_bytes());
    assert_eq!(res.status, 500);
    assert_still_serving(&api, &mut function, pid);
}

#[test]
fn a_handler_error_is_a_500_with_the_internal_error_code() {
    let (api, mut function) = start(&[]);
    let pid = function.pid();
    let res = call(&api, &function, &rest_v1("GET", "/error").to_bytes());
    assert_eq!(res.status, 500);
    assert_eq!(
        res.json(),
        json!({"code": "InternalServerError", "message": "An internal server error occurred."})
    );
    assert!(
        function.wait_for_output("the fixture's database is on fire", WAIT),
        "the error is not logged:\n{}",
        function.output()
    );
    assert_still_serving(&api, &mut function, pid);
}

#[test]
fn malformed_events_fail_the_invocation_and_the_process_keeps_serving() {
    let (api, mut function) = start(&[]);
    let pid = function.pid();

    let s3 = json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]});
    let (error_type, message) = invocation_error(&api, &function, s3.to_string().as_bytes());
    assert_eq!(error_type, "portico.UnknownEvent", "{message}");
    assert!(
        message.contains("REST API"),
        "the message lists what is handled: {message}"
    );
    assert_still_serving(&api, &mut function, pid);

    // A REST API event with a field of the wrong type.
    let wrong_shape = rest_v1("GET", "/echo/x")
        .with(|e| e["path"] = json!(42))
        .to_bytes();
    let (error_type, message) = invocation_error(&api, &function, &wrong_shape);
    assert_eq!(error_type, "portico.MalformedEvent", "{message}");
    assert!(message.contains("REST API"), "{message}");
    assert_still_serving(&api, &mut function, pid);

    // A request that can be answered: the client gets a 400.
    let bad_base64 = rest_v1("POST", "/echo/x")
        .base64_flagged_body("!!! not base64 !!!")
        .to_bytes();
    let res = call(&api, &function, &bad_base64);
    assert_eq!(res.status, 400, "{}", res.text());
    assert_eq!(res.json()["code"], "BadRequestError");
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some(ORIGIN),
        "CORS on a 400"
    );
    assert_still_serving(&api, &mut function, pid);

    // What the runtime reported is on stderr too, for CloudWatch.
    assert!(
        function.output().contains("portico.UnknownEvent"),
        "{}",
        function.output()
    );
}

#[test]
fn a_payload_that_is_not_json_fails_as_a_malformed_event() {
    let (api, mut function) = start(&[]);
    let pid = function.pid();
    let (error_type, message) = invocation_error(&api, &function, b"this is not JSON");
    assert_still_serving(&api, &mut function, pid);
    assert_eq!(error_type, "portico.MalformedEvent", "{message}");
    assert!(message.contains("not JSON"), "{message}");
}

#[test]
fn rest_v1_events_reach_the_handler_without_the_stage_and_with_the_lambda_context() {
    let (api, function) = start(&[]);
    let event = rest_v1("POST", "/echo/a/b")
        .query("tag", "a")
        .query("tag", "b c")
        .query("page", "2")
        .header("X-Custom", "one")
        .header("X-Custom", "two")
        .json_body(&json!({"hello": "world"}));
    let record = api
        .invoke_detailed(&event.to_bytes(), WAIT)
        .expect("an answer");
    let Invocation::Response(payload) = &record.outcome else {
        panic!("{:?}\n{}", record.outcome, function.output());
    };
    let res = ProxyResponse::parse(payload).unwrap();
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        res.header("access-control-expose-headers"),
        Some("X-Fixture")
    );
    assert_eq!(res.header("vary"), Some("Origin"));
    assert!(
        res.raw.get("multiValueHeaders").is_some(),
        "REST format: {}",
        res.raw
    );

    let seen = res.json();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/echo/a/b");
    assert_eq!(seen["rest"], "a/b");
    assert_eq!(seen["source"], "rest_api");
    // Names come in the event's map order; a repeated name's values keep theirs.
    let query = seen["query"].as_array().expect("query pairs");
    let values = |name: &str| -> Vec<&Value> {
        query
            .iter()
            .filter(|p| p[0] == name)
            .map(|p| &p[1])
            .collect()
    };
    assert_eq!(query.len(), 3, "{query:?}");
    assert_eq!(values("tag"), [&json!("a"), &json!("b c")]);
    assert_eq!(values("page"), [&json!("2")]);
    assert_eq!(seen["headers"]["x-custom"], json!(["one", "two"]));
    assert_eq!(seen["headers"]["content-type"], json!(["application/json"]));
    assert_eq!(seen["body"], r#"{"hello":"world"}"#);
    let context = &seen["context"];
    assert_eq!(context["stage"], "prod");
    assert_eq!(context["base_path"], "/prod");
    assert_eq!(context["source_ip"], "203.0.113.42");
    assert_eq!(
        context["request_id"],
        "8f0f9f49-8a4f-4b7e-9d3c-2b1a0e9f8c7d"
    );
    assert_eq!(context["api_id"], "a1b2c3d4e5");
    assert_eq!(context["request_time_epoch"], 1_714_484_225_123_i64);
    let host = "https://a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com";
    assert_eq!(seen["public_base_url"], format!("{host}/prod"));
    assert_eq!(
        seen["url_for_echo"],
        json!({"Ok": format!("{host}/prod/echo/a/b")})
    );

    let lambda = &seen["lambda"];
    assert_eq!(lambda["request_id"], record.request_id.as_str());
    assert_eq!(lambda["invoked_function_arn"], api.function_arn().as_str());
    assert_eq!(lambda["function_name"], "portico-e2e");
    assert!(
        lambda["deadline_ms"]
            .as_u64()
            .is_some_and(|d| d > 1_700_000_000_000),
        "{lambda}"
    );
    assert!(
        lambda["xray_trace_id"]
            .as_str()
            .is_some_and(|t| t.starts_with("Root=1-")),
        "{lambda}"
    );
}

#[test]
fn responses_of_every_kind_survive_the_rest_format() {
    let (api, function) = start(&[]);

    let res = call(&api, &function, &rest_v1("GET", "/binary").to_bytes());
    assert_eq!(res.status, 200);
    assert!(res.is_base64_encoded, "{}", res.raw);
    assert_eq!(res.header("content-type"), Some("image/png"));
    assert!(res.body.starts_with(b"\x89PNG\r\n\x1a\n"), "{:?}", res.body);
    assert_eq!(res.body.last(), Some(&0));

    let res = call(&api, &function, &rest_v1("GET", "/cookies").to_bytes());
    assert_eq!(
        res.header_values("set-cookie"),
        [
            "session=abc123; Path=/; HttpOnly; Secure",
            "theme=dark; Path=/"
        ]
    );
    assert_eq!(res.text(), "two cookies");

    let bytes = [0u8, 0xff, 0x10, b'a', 0x80];
    let res = call(
        &api,
        &function,
        &rest_v1("PUT", "/echo/bin").binary_body(&bytes).to_bytes(),
    );
    assert_eq!(res.json()["body_hex"], "00ff106180");
    assert_eq!(res.json()["body"], Value::Null);

    let res = call(
        &api,
        &function,
        &rest_v1("GET", "/slow").query("ms", "20").to_bytes(),
    );
    assert_eq!((res.status, res.text()), (200, "slept 20 ms".to_owned()));

    let res = call(&api, &function, &rest_v1("GET", "/state").to_bytes());
    assert_eq!(res.text(), "hello from state");

    let res = call(&api, &function, &rest_v1("GET", "/redirect").to_bytes());
    assert_eq!(
        (res.status, res.header("location")),
        (303, Some("/echo/redirected"))
    );

    // The gateway checks the key on the route's own resource; the function serves what came
    // through it with a key, and nothing that reached it another way.
    let keyed = rest_v1("GET", "/private").with(|event| {
        event["resource"] = json!("/private");
        event["pathParameters"] = Value::Null;
        event["requestContext"]["resourcePath"] = json!("/private");
        event["requestContext"]["identity"]["apiKey"] = json!("a-key-value");
        event["requestContext"]["identity"]["apiKeyId"] = json!("keyid12345");
    });
    let res = call(&api, &function, &keyed.to_bytes());
    assert_eq!(
        res.status, 200,
        "the gateway checks the key; the function serves"
    );
    let res = call(&api, &function, &rest_v1("GET", "/private").to_bytes());
    assert_eq!(
        (res.status, res.text()),
        (403, r#"{"message":"Forbidden"}"#.to_owned()),
        "through /{{proxy+}}: no key was checked"
    );

    let res = call(&api, &function, &rest_v1("GET", "/no-cors").to_bytes());
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("access-control-allow-origin"),
        None,
        "{:?}",
        res.headers
    );

    let res = call(&api, &function, &rest_v1("HEAD", "/echo/head").to_bytes());
    assert_eq!(res.status, 200);
    assert!(
        res.body.is_empty(),
        "a HEAD response has no body: {}",
        res.text()
    );
}

#[test]
fn routing_and_extractor_failures_are_json_errors() {
    let (api, function) = start(&[]);

    let res = call(&api, &function, &rest_v1("GET", "/nowhere").to_bytes());
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["code"], "NotFoundError");
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some(ORIGIN),
        "CORS on a 404"
    );

    let res = call(&api, &function, &rest_v1("POST", "/panic").to_bytes());
    assert_eq!(res.status, 405);
    assert_eq!(res.json()["code"], "MethodNotAllowedError");
    assert!(
        res.header("allow").is_some_and(|a| a.contains("GET")),
        "{:?}",
        res.headers
    );

    let item = rest_v1("POST", "/items").json_body(&json!({"name": "chair"}));
    let res = call(&api, &function, &item.to_bytes());
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(res.json(), json!({"id": "item-1", "name": "chair"}));

    let wrong_type = rest_v1("POST", "/items")
        .header("Content-Type", "text/plain")
        .body("chair");
    let res = call(&api, &function, &wrong_type.to_bytes());
    assert_eq!(res.status, 415, "{}", res.text());

    for body in [r#"{"name": 1}"#, "{}", r#"{"name": "#] {
        let bad = rest_v1("POST", "/items")
            .header("Content-Type", "application/json")
            .body(body);
        let res = call(&api, &function, &bad.to_bytes());
        assert_eq!(res.status, 400, "{body}: {}", res.text());
        assert_eq!(res.json()["code"], "BadRequestError", "{body}");
    }

    let res = call(
        &api,
        &function,
        &rest_v1("GET", "/slow").query("ms", "soon").to_bytes(),
    );
    assert_eq!(res.status, 400, "{}", res.text());
}

#[test]
fn cors_preflights_are_answered() {
    let (api, function) = start(&[]);
    let preflight = rest_v1("OPTIONS", "/echo/x")
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", "POST");
    let res = call(&api, &function, &preflight.to_bytes());
    assert!(
        res.status == 200 || res.status == 204,
        "{}: {}",
        res.status,
        res.text()
    );
    assert_eq!(res.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(
        res.header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST")),
        "{:?}",
        res.headers
    );
    assert_eq!(res.header("access-control-max-age"), Some("600"));
}

#[test]
fn http_api_v2_events_are_answered_in_the_v2_format() {
    let (api, function) = start(&[]);
    let mut event = events::http_api_v2("GET", "/echo/v2", "a=1&a=2&b=x");
    event["cookies"] = json!(["c1=v1", "c2=v2"]);
    let res = call(&api, &function, event.to_string().as_bytes());
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        res.raw.get("multiValueHeaders").is_none(),
        "v2 format: {}",
        res.raw
    );
    assert!(res.raw["headers"].is_object(), "{}", res.raw);
    let seen = res.json();
    assert_eq!(seen["source"], "http_api");
    assert_eq!(seen["path"], "/echo/v2");
    assert_eq!(seen["query"], json!([["a", "1"], ["a", "2"], ["b", "x"]]));
    assert_eq!(seen["headers"]["cookie"], json!(["c1=v1; c2=v2"]));
    assert_eq!(seen["context"]["source_ip"], "198.51.100.7");
    assert_eq!(seen["context"]["base_path"], "");

    let get_v2 = |path| {
        call(
            &api,
            &function,
            events::http_api_v2("GET", path, "").to_string().as_bytes(),
        )
    };
    let res = get_v2("/cookies");
    assert_eq!(
        res.cookies,
        [
            "session=abc123; Path=/; HttpOnly; Secure",
            "theme=dark; Path=/"
        ]
    );
    assert!(
        res.raw["headers"].get("set-cookie").is_none(),
        "{}",
        res.raw
    );

    let res = get_v2("/binary");
    assert!(res.is_base64_encoded);
    assert!(res.body.starts_with(b"\x89PNG"));
}

#[test]
fn alb_events_are_answered_in_the_alb_format() {
    let (api, function) = start(&[]);
    for multi in [false, true] {
        let event = events::alb("GET", "/echo/alb%20path", multi);
        let res = call(&api, &function, event.to_string().as_bytes());
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.raw["statusDescription"], "200 OK");
        assert_eq!(
            res.raw.get("multiValueHeaders").is_some(),
            multi,
            "{}",
            res.raw
        );
        let seen = res.json();
        assert_eq!(seen["source"], "alb");
        assert_eq!(seen["path"], "/echo/alb path", "ALB paths arrive encoded");

        let res = call(
            &api,
            &function,
            events::alb("GET", "/nowhere", multi).to_string().as_bytes(),
        );
        assert_eq!(res.raw["statusDescription"], "404 Not Found");
    }
    let res = call(
        &api,
        &function,
        events::alb("GET", "/cookies", true).to_string().as_bytes(),
    );
    assert_eq!(res.header_values("set-cookie").len(), 2, "{}", res.raw);
}

#[test]
fn the_schedule_named_by_portico_handler_runs() {
    let (api, function) = start(&[("PORTICO_HANDLER", "tick")]);
    let event = events::scheduled("any-rule-name", "2024-05-01T12:00:00Z");
    match api.invoke(event.to_string().as_bytes(), WAIT) {
        Ok(Invocation::Response(payload)) => assert_eq!(payload, b"null"),
        other => panic!("{other:?}\n{}", function.output()),
    }
    let line = "fixture: tick ran at 2024-05-01T12:00:00Z for \
                arn:aws:events:us-east-1:123456789012:rule/any-rule-name";
    assert!(
        function.wait_for_output(line, WAIT),
        "{}",
        function.output()
    );
}

#[test]
fn a_failing_schedule_fails_the_invocation() {
    let (api, mut function) = start(&[("PORTICO_HANDLER", "nightly")]);
    let event = events::scheduled("fixture-prod-nightly", "2024-05-01T03:00:00Z");
    let (error_type, message) = invocation_error(&api, &function, event.to_string().as_bytes());
    assert_eq!(error_type, "portico.ScheduleHandlerError");
    assert!(message.contains("failed on purpose"), "{message}");
    assert!(function.is_running());
}

#[test]
fn the_api_function_runs_a_schedule_whose_rule_names_it() {
    let (api, function) = start(&[]);
    let event = events::scheduled("fixture-prod-tick", "2024-05-01T12:01:00Z");
    match api.invoke(event.to_string().as_bytes(), WAIT) {
        Ok(Invocation::Response(payload)) => assert_eq!(payload, b"null"),
        other => panic!("{other:?}\n{}", function.output()),
    }
    assert!(
        function.wait_for_output("tick ran at 2024-05-01T12:01:00Z", WAIT),
        "{}",
        function.output()
    );

    let stranger = events::scheduled("someone-elses-rule", "2024-05-01T12:02:00Z");
    let (error_type, message) = invocation_error(&api, &function, stranger.to_string().as_bytes());
    assert_eq!(error_type, "portico.NoScheduleHandler");
    assert!(
        message.contains("tick") && message.contains("nightly"),
        "{message}"
    );
}

/// Invokes the function entry point and returns the JSON result.
#[track_caller]
fn call_function(api: &RuntimeApi, function: &FunctionProcess, event: &Value) -> Value {
    match api.invoke(event.to_string().as_bytes(), WAIT) {
        Ok(invocation @ Invocation::Response(_)) => invocation.json(),
        other => panic!("{other:?}\n--- function output ---\n{}", function.output()),
    }
}

#[test]
fn the_invocation_id_goes_back_with_responses_and_errors() {
    // Lambda's Runtime API sends a nonce per event (`Lambda-Runtime-Invocation-Id`) and
    // checks it on the answer, so a timed-out invocation's late answer cannot be taken for
    // a newer one's; this host sends one too and records what came back.
    let (api, function) = start(&[("PORTICO_HANDLER", "notify")]);
    let event = json!({"task_token": "tok-1", "employee": "Ann"});
    let ok = api
        .invoke_detailed(event.to_string().as_bytes(), WAIT)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", function.output()));
    assert!(matches!(ok.outcome, Invocation::Response(_)), "{ok:?}");
    assert_eq!(
        ok.echoed_invocation_id.as_deref(),
        Some(invocation_id(&ok.request_id).as_str())
    );
    let failed = api
        .invoke_detailed(b"[1, 2]", WAIT)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", function.output()));
    assert!(
        matches!(failed.outcome, Invocation::Error { .. }),
        "{failed:?}"
    );
    assert_eq!(
        failed.echoed_invocation_id.as_deref(),
        Some(invocation_id(&failed.request_id).as_str())
    );
    assert_ne!(ok.echoed_invocation_id, failed.echoed_invocation_id);
}

#[test]
fn a_function_entry_point_takes_any_json_event_and_answers_json() {
    let (api, mut function) = start(&[("PORTICO_HANDLER", "notify")]);
    let pid = function.pid();
    let event = json!({"task_token": "tok-123", "employee": "Jim", "extra": {"ignored": true}});
    let record = api
        .invoke_detailed(event.to_string().as_bytes(), WAIT)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", function.output()));
    let out = record.outcome.json();
    assert_eq!(out["notified"], "Jim");
    assert_eq!(out["task_token"], "tok-123");
    assert_eq!(out["greeting"], "hello from state");
    assert_eq!(out["pid"], pid);
    assert_eq!(out["request_id"], record.request_id.as_str());
    assert!(
        function.wait_for_output("fixture: notify Jim", WAIT),
        "{}",
        function.output()
    );

    // An HTTP-shaped event is just an event to a function: it does not deserialize into its
    // input type, and the process serves the next one.
    let (error_type, message) =
        invocation_error(&api, &function, &rest_v1("GET", "/echo/x").to_bytes());
    assert_eq!(error_type, "InvalidEvent");
    assert!(message.contains("missing field `task_token`"), "{message}");
    let (error_type, message) = invocation_error(
        &api,
        &function,
        json!({"task_token": "t", "employee": ["not", "a", "string"]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(error_type, "InvalidEvent");
    assert!(message.contains("at `employee`"), "{message}");
    assert!(message.contains("invalid type: sequence"), "{message}");
    assert_eq!(function.pid(), pid);
    assert!(function.is_running(), "{}", function.output());
    let out = call_function(
        &api,
        &function,
        &json!({"task_token": "t2", "employee": "Pam"}),
    );
    assert_eq!(out["notified"], "Pam");
}

#[test]
fn a_function_error_or_panic_is_a_function_error_and_the_process_keeps_serving() {
    let (api, mut function) = start(&[("PORTICO_HANDLER", "notify")]);
    let pid = function.pid();
    // `notify` for `employee`; the error it fails with.
    let notify = |function: &FunctionProcess, employee: &str| {
        let event = json!({"task_token": "t", "employee": employee}).to_string();
        invocation_error(&api, function, event.as_bytes())
    };
    let (error_type, message) = notify(&function, "");
    assert_eq!(
        (error_type.as_str(), message.as_str()),
        ("NotifyError", "cannot notify: no employee given")
    );

    for _ in 0..2 {
        let (error_type, message) = notify(&function, "panic");
        assert_eq!(error_type, "FunctionPanic");
        assert_eq!(
            message,
            "function `notify` panicked: the fixture function panics on purpose"
        );
        assert_eq!(function.pid(), pid);
        assert!(function.is_running(), "{}", function.output());
    }
    assert!(
        function.wait_for_output("the fixture function panics on purpose", WAIT),
        "the panic is not logged:\n{}",
        function.output()
    );
    let out = call_function(
        &api,
        &function,
        &json!({"task_token": "t", "employee": "Dwight"}),
    );
    assert_eq!(out["notified"], "Dwight");
    assert_eq!(out["pid"], pid);
}

#[test]
fn an_unknown_portico_handler_exits_1_naming_the_entry_points() {
    let (api, mut function) = start(&[("PORTICO_HANDLER", "nope")]);
    let status = function.wait_for_exit(WAIT).expect("the process exits");
    assert_eq!(status.code(), Some(1), "{}", function.output());
    let stderr = function.stderr();
    for expected in ["`nope`", "api", "tick", "nightly", "notify"] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in {stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(api.next_request_times().is_empty(), "it polled for events");
    // Lambda learns why through `/runtime/init/error`, and fails the invocation with it.
    let init_error = api.init_error().expect("an init error was posted");
    assert_eq!(init_error.error_type, "portico.UnknownHandler");
    assert!(
        init_error.error_message.contains("`nope`"),
        "{init_error:?}"
    );
    assert!(matches!(
        api.invoke(b"{}", WAIT),
        Err(InvokeError::InitError(_))
    ));
}

#[test]
fn the_manifest_is_printed_without_a_runtime_api() {
    for how in ["flag", "env"] {
        let mut command = Command::new(FIXTURE);
        command.env_clear();
        match how {
            "flag" => command.arg("--portico-manifest"),
            _ => command.env("PORTICO_MANIFEST", "1"),
        };
        let output = command.output().expect("run the fixture");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{how}: {:?}: {stderr}",
            output.status
        );
        let manifest: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{how}: {e}: {}", String::from_utf8_lossy(&output.stdout)));

        assert_eq!(manifest["app_name"], "fixture");
        assert_eq!(
            manifest["entry_points"],
            json!(["api", "tick", "nightly", "notify"])
        );
        assert_eq!(manifest["functions"][0]["name"], "notify");
        assert!(
            manifest["functions"][0]["source"]
                .as_str()
                .is_some_and(|s| s.contains("fixture_app.rs:")),
            "{manifest}"
        );
        assert_eq!(manifest["entry_point_variable"], "PORTICO_HANDLER");
        let routes = manifest["routes"].as_array().expect("routes");
        let route = |method: &str, path: &str| {
            routes
                .iter()
                .find(|r| r["method"] == method && r["path"] == path)
                .unwrap_or_else(|| panic!("no {method} {path} in {routes:?}"))
        };
        assert_eq!(
            route("GET", "/private")["options"]["api_key_required"],
            true
        );
        assert_eq!(route("GET", "/panic")["options"]["api_key_required"], false);
        assert_eq!(route("ANY", "/echo/{rest+}")["handler"], "echo");
        assert_eq!(
            route("POST", "/items")["options"]["content_types"],
            json!(["application/json"])
        );
        assert_eq!(
            route("GET", "/no-cors")["options"]["cors"]["mode"],
            "disabled"
        );
        assert!(
            route("GET", "/binary")["source"]
                .as_str()
                .is_some_and(|s| s.contains("fixture_app.rs:")),
            "{routes:?}"
        );
        assert_eq!(routes.len(), 15);
        let schedules: Vec<(&str, &str)> = manifest["schedules"]
            .as_array()
            .expect("schedules")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap(),
                    s["expression"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            schedules,
            [("tick", "rate(1 minute)"), ("nightly", "cron(0 3 * * ? *)")]
        );
    }
}

#[test]
fn without_a_runtime_api_the_process_exits_1_with_a_message() {
    let output = Command::new(FIXTURE)
        .env_clear()
        .output()
        .expect("run the fixture");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("AWS_LAMBDA_RUNTIME_API"), "{stderr}");
    assert!(
        stderr.contains("portico local"),
        "the message says what to do: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unreachable_runtime_api_exits_instead_of_hanging() {
    // A port nothing listens on: bind one, then free it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let api = RuntimeApi::start().unwrap();
    let mut function = api
        .spawn_function(FIXTURE.as_ref(), &[("AWS_LAMBDA_RUNTIME_API", &addr)])
        .unwrap();
    let status = function.wait_for_exit(WAIT);
    assert!(
        status.is_some_and(|s| !s.success()),
        "{status:?}\n{}",
        function.output()
    );
    assert!(
        !function.output().contains("panicked"),
        "{}",
        function.output()
    );
}

#[test]
fn an_invocation_that_outlives_its_timeout_does_not_break_the_next_one() {
    let (api, function) = start(&[]);
    // Warm: the function is polling, so the slow event is taken at once.
    assert_eq!(
        call(&api, &function, &rest_v1("GET", "/echo/warm").to_bytes()).status,
        200
    );
    let slow = rest_v1("GET", "/slow").query("ms", "1500").to_bytes();
    assert_eq!(
        api.invoke(&slow, Duration::from_millis(100)),
        Err(InvokeError::Timeout)
    );
    // The function finishes the slow one, then takes this one.
    let res = call(&api, &function, &rest_v1("GET", "/echo/next").to_bytes());
    assert_eq!(res.json()["rest"], "next");
}

#[test]
fn payloads_of_megabytes_cross_the_runtime_api_both_ways() {
    // Near Lambda's 6 MB synchronous limit, in and out: the Runtime API client reads and posts
    // bodies of any size, not just what fits one read.
    let (api, function) = start(&[("PORTICO_HANDLER", "notify")]);
    let employee = "J".repeat(2_500_000);
    let out = call_function(
        &api,
        &function,
        &json!({"task_token": "tok-big", "employee": employee}),
    );
    assert_eq!(out["notified"].as_str().map(str::len), Some(2_500_000));
    assert_eq!(out["task_token"], "tok-big");
}

#[test]
fn the_invocation_headers_reach_the_lambda_context_and_the_trace_reaches_the_sdk_variable() {
    let (api, function) = start(&[]);
    let event = rest_v1("GET", "/echo/ctx").to_bytes();
    let client_context = r#"{"client":{"installationId":"inst-1","appTitle":"t","appVersionName":"1","appVersionCode":"1","appPackageName":"p"},"custom":{"k":"v"},"environment":{"platform":"linux"}}"#;
    let identity =
        r#"{"cognitoIdentityId":"us-east-1:id-1","cognitoIdentityPoolId":"us-east-1:pool-1"}"#;
    let request_id = api.enqueue_with_headers(
        &event,
        &[
            ("Lambda-Runtime-Client-Context", client_context),
            ("Lambda-Runtime-Cognito-Identity", identity),
        ],
        WAIT,
    );
    let record = api.wait_for(&request_id, WAIT).expect("an answer");
    let seen = match &record.outcome {
        Invocation::Response(payload) => ProxyResponse::parse(payload).unwrap().json(),
        other => panic!("{other:?}\n{}", function.output()),
    };
    let lambda = &seen["lambda"];
    assert_eq!(lambda["request_id"], request_id.as_str());
    assert_eq!(lambda["invoked_function_arn"], api.function_arn().as_str());
    assert_eq!(lambda["client_context"]["custom"]["k"], "v");
    assert_eq!(
        lambda["client_context"]["client"]["installationId"],
        "inst-1"
    );
    assert_eq!(lambda["identity"]["identityId"], "us-east-1:id-1");
    assert_eq!(lambda["identity"]["identityPoolId"], "us-east-1:pool-1");
    let trace = lambda["xray_trace_id"].as_str().expect("a trace id");
    assert!(trace.starts_with("Root="), "{trace}");
    assert_eq!(
        lambda["trace_env"], trace,
        "_X_AMZN_TRACE_ID is the invocation's"
    );

    // The next invocation carries none: nothing of the previous one is left over.
    let seen = call(&api, &function, &event).json();
    assert_eq!(seen["lambda"]["client_context"], Value::Null);
    assert_eq!(seen["lambda"]["identity"], Value::Null);
    let trace_2 = seen["lambda"]["xray_trace_id"].as_str().unwrap().to_owned();
    assert_ne!(trace_2, trace);
    assert_eq!(seen["lambda"]["trace_env"], trace_2.as_str());
}

#[test]
fn an_unusable_client_context_fails_only_that_invocation() {
    let (api, mut function) = start(&[]);
    let pid = function.pid();
    let event = rest_v1("GET", "/echo/ctx").to_bytes();
    let request_id = api.enqueue_with_headers(
        &event,
        &[("Lambda-Runtime-Client-Context", "not JSON")],
        WAIT,
    );
    match api.wait_for(&request_id, WAIT).map(|r| r.outcome) {
        Ok(Invocation::Error {
            error_type,
            error_message,
        }) => {
            assert_eq!(error_type, "portico.MalformedEvent");
            assert!(error_message.contains("headers"), "{error_message}");
        }
        other => panic!("{other:?}\n{}", function.output()),
    }
    assert_still_serving(&api, &mut function, pid);
}

#[test]
fn an_unusable_runtime_api_variable_exits_1_naming_it() {
    for value in ["https://127.0.0.1:9001", "127.0.0.1:99999", ""] {
        let api = RuntimeApi::start().unwrap();
        let mut function = api
            .spawn_function(FIXTURE.as_ref(), &[("AWS_LAMBDA_RUNTIME_API", value)])
            .unwrap();
        let status = function.wait_for_exit(WAIT).expect("the process exits");
        let stderr = function.stderr();
        assert_eq!(status.code(), Some(1), "{value:?}: {stderr}");
        assert!(
            stderr.contains(&format!("AWS_LAMBDA_RUNTIME_API={value:?} is unusable")),
            "{stderr}"
        );
        assert!(stderr.contains("Expected host:port"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_huge_malformed_event_is_logged_as_an_excerpt_and_the_process_keeps_serving() {
    let (api, mut function) = start(&[]);
    let pid = function.pid();
    // A string where a boolean belongs: serde's message quotes the whole string.
    let secret = format!("secret-{}", "x".repeat(300_000));
    let event = rest_v1("GET", "/echo/x")
        .with(|e| e["isBase64Encoded"] = json!(secret))
        .to_bytes();
    let (error_type, message) = invocation_error(&api, &function, &event);
    assert_eq!(error_type, "portico.MalformedEvent");
    assert!(
        message.contains("expected a boolean"),
        "the type is named: {message}"
    );
    assert!(message.contains("line 1 column"), "where: {message}");
    assert!(message.contains("bytes cut"), "{message}");
    assert!(message.len() < 400, "{} bytes: {message}", message.len());
    assert_still_serving(&api, &mut function, pid);
    let output = function.output();
    let longest = output.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest < 400,
        "a log line of {longest} bytes; the whole log is {} bytes",
        output.len()
    );
    assert!(output.contains("portico.MalformedEvent"), "{output}");
}

#[test]
fn max_concurrency_takes_that_many_invocations_at_once() {
    let (api, function) = start(&[("AWS_LAMBDA_MAX_CONCURRENCY", "3")]);
    let records = warm_then_sleep(&api, &function, 3, 700);
    let first_done = records.iter().map(|r| r.completed_at).min().unwrap();
    for record in &records {
        let res = ProxyResponse::parse(&record_payload(record)).expect("a proxy response");
        assert_eq!(res.text(), "slept 700 ms", "{}", function.output());
        assert!(
            record.delivered_at < first_done,
            "all three were taken before any was answered"
        );
    }
    // Several invocations at once share one environment: no `_X_AMZN_TRACE_ID`, as in
    // `lambda_runtime::run_concurrent`; the context still has the trace.
    let event = rest_v1("GET", "/echo/warm").to_bytes();
    let seen = call(&api, &function, &event).json();
    assert_eq!(seen["lambda"]["trace_env"], Value::Null);
    assert!(seen["lambda"]["xray_trace_id"].is_string());
}

#[test]
fn without_max_concurrency_invocations_are_taken_one_at_a_time() {
    let (api, function) = start(&[("AWS_LAMBDA_MAX_CONCURRENCY", "not a number")]);
    let [first, second] = warm_then_sleep(&api, &function, 2, 300).try_into().unwrap();
    assert!(
        second.delivered_at >= first.completed_at,
        "the second was taken before the first was answered\n{}",
        function.output()
    );
}

/// Once a first request has warmed the function, `count` requests that each sleep `ms`,
/// queued at once; their records.
fn warm_then_sleep(
    api: &RuntimeApi,
    function: &FunctionProcess,
    count: usize,
    ms: u64,
) -> Vec<portico_e2e::runtime_api::InvocationRecord> {
    let warm = rest_v1("GET", "/echo/warm").to_bytes();
    assert_eq!(call(api, function, &warm).status, 200);
    let slow = rest_v1("GET", "/slow")
        .query("ms", &ms.to_string())
        .to_bytes();
    let ids: Vec<String> = (0..count).map(|_| api.enqueue(&slow, WAIT)).collect();
    ids.iter()
        .map(|id| api.wait_for(id, WAIT).expect("an answer"))
        .collect()
}

/// The payload of a successful record (for comparing outcomes).
fn record_payload(record: &portico_e2e::runtime_api::InvocationRecord) -> Vec<u8> {
    match &record.outcome {
        Invocation::Response(payload) => payload.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sigterm_ends_the_process_at_once() {
    // Lambda sends SIGTERM at shutdown when extensions are registered. Like `lambda_runtime`
    // without its `graceful-shutdown` feature, Portico registers no extension and keeps the
    // signal's default action: the process ends, between invocations.
    let (api, mut function) = start(&[]);
    let event = rest_v1("GET", "/echo/warm").to_bytes();
    assert_eq!(call(&api, &function, &event).status, 200);
    assert!(api.wait_for_next_request(WAIT).is_some());
    let killed = Command::new("kill")
        .args(["-TERM", &function.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let status = function.wait_for_exit(WAIT).expect("the process ends");
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(
        status.signal(),
        Some(15),
        "{status:?}\n{}",
        function.output()
    );
}
