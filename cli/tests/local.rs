//! End-to-end tests of `portico local`: the real `portico` binary serving real app binaries
//! (the hello example and the fixture app, `tests/src/bin/fixture_app.rs`) over real HTTP on
//! 127.0.0.1, each test with its own app directory and its own server on free ports.
//!
//! The fixture's `portico.toml` is `tests/fixtures/fixture.toml`: stage `dev` (the app),
//! `short` (a 1 s function timeout) and `wire` (the fixture answers through its own Runtime
//! API client, to show the raw event and send malformed proxy responses); API keys, usage
//! plans, CORS, binary media types and a 2 s integration timeout.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{
    AppDir, Req, Res, Server, apps, exchange, exchange_with, fixture, pid_alive, wait_for,
};
use serde_json::{Value, json};

const ORIGIN: &str = "https://app.example.com";
const PARTNER_KEY: &str = "partner-key-0123456789abcdef";
const BURST_KEY: &str = "burst-key-0123456789abcdef";
const METERED_KEY: &str = "metered-key-0123456789abcdef";
const ORPHAN_KEY: &str = "orphan-key-0123456789abcdef";
const COMBO_KEY: &str = "combo-key-0123456789abcdef";
const INTERNAL_ERROR: &str = r#"{"message": "Internal server error"}"#;
/// The fixture's `GET /binary` body.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\xff\x00";

/// The fixture app under `portico local` (stage `dev` unless `args` say otherwise).
fn fixture_server(test: &str, args: &[&str]) -> (AppDir, Server) {
    let dir = AppDir::new(test, &fixture("fixture.toml"));
    let server = Server::start(&dir.path, &apps().fixture, args);
    (dir, server)
}

/// `value`'s fields: each `(name, expected)`, named when it differs.
#[track_caller]
fn assert_fields(value: &Value, expected: &[(&str, Value)]) {
    for (name, want) in expected {
        assert_eq!(&value[*name], want, "`{name}` in {value}");
    }
}

/// `GET /private` with API key `key`.
fn get_private(server: &Server, key: &str) -> Res {
    let request = server.request("GET", "/private");
    request.header("x-api-key", key).send()
}

/// API Gateway's 502 for a function that failed or answered with what is no proxy response.
#[track_caller]
fn assert_internal_error(res: &Res) {
    let error_type = Some("InternalServerErrorException");
    assert_gateway_error(res, 502, INTERNAL_ERROR, error_type, true);
}

/// A gateway-made error: status, body byte for byte, `Content-Type`, `x-amzn-ErrorType`,
/// and the `[api.cors]` headers when `cors`.
#[track_caller]
fn assert_gateway_error(res: &Res, status: u16, body: &str, error_type: Option<&str>, cors: bool) {
    assert_eq!(
        (res.status, res.text().as_str()),
        (status, body),
        "{:?}",
        res.headers
    );
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(
        res.header("x-amzn-errortype"),
        error_type,
        "{:?}",
        res.headers
    );
    assert!(
        res.header("x-amzn-requestid").is_some(),
        "{:?}",
        res.headers
    );
    if cors {
        assert_eq!(res.header("access-control-allow-origin"), Some(ORIGIN));
        assert_eq!(
            res.header("access-control-allow-headers"),
            Some("Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token")
        );
        assert_eq!(
            res.header("access-control-expose-headers"),
            Some("X-Fixture")
        );
        assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    } else {
        assert_eq!(res.header("access-control-allow-origin"), None);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The pid the fixture's `GET /env` reports (which process served it).
fn served_by(server: &Server) -> u32 {
    let res = server.get("/env");
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["pid"].as_u64().expect("a pid") as u32
}

#[test]
fn the_hello_example_answers_under_the_stage() {
    let dir = AppDir::new(
        "hello",
        &common::workspace().join("examples/hello/portico.toml"),
    );
    let server = Server::start(&dir.path, &apps().hello, &[]);
    assert_eq!(server.prefix, "/dev");
    assert_eq!(server.api_url, format!("http://{}/dev", server.addr));
    assert!(server.addr.ip().is_loopback());

    let res = server.get("/");
    assert_eq!(
        (res.status, res.text().as_str()),
        (200, r#"{"hello":"world"}"#)
    );
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert!(res.header("x-amzn-requestid").is_some());
    assert!(res.header("x-amz-apigw-id").is_some());
    // `/dev` is the stage's root too.
    let res = Req::new(server.addr, "GET", "/dev").send();
    assert_eq!(
        (res.status, res.text().as_str()),
        (200, r#"{"hello":"world"}"#)
    );

    let res = server.get("/users/42");
    assert_eq!((res.status, res.json()), (200, json!({"id": "42"})));
    let res = server
        .request("POST", "/users")
        .header("Content-Type", "application/json")
        .body(r#"{"name":"Ada","email":"ada@example.com"}"#)
        .send();
    assert_eq!(
        (res.status, res.json()),
        (
            201,
            json!({"id": "u-1", "name": "Ada", "email": "ada@example.com"})
        )
    );
    let res = server.get("/respond/succeed?taskToken=XYZ");
    assert_eq!((res.status, res.text().as_str()), (200, "approved XYZ"));
    let res = server.get("/respond/succeed");
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["code"], "BadRequestError");
    let res = server.get("/nope");
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["code"], "NotFoundError");

    // Outside the stage there is no resource; hello configures no CORS.
    for target in ["/", "/other/users/42", "/devx/users/42"] {
        let res = Req::new(server.addr, "GET", target).send();
        assert_gateway_error(
            &res,
            403,
            r#"{"message":"Missing Authentication Token"}"#,
            Some("MissingAuthenticationTokenException"),
            false,
        );
    }
}

#[test]
fn no_stage_prefix_serves_the_api_at_the_root() {
    let (_dir, server) =
        fixture_server("no-stage-prefix", &["--no-stage-prefix", "--no-schedules"]);
    assert_eq!(server.prefix, "");
    assert_eq!(server.api_url, format!("http://{}", server.addr));

    let seen = server.get("/echo/a/b").json();
    assert_eq!(seen["path"], "/echo/a/b");
    assert_eq!(seen["rest"], "a/b");
    assert_eq!(seen["context"]["stage"], "dev");
    // requestContext.path has no stage either: nothing before the routed path.
    assert_eq!(seen["context"]["base_path"], "");
    assert_eq!(seen["public_base_url"], format!("http://{}", server.addr));

    // The stage is now an ordinary path segment, which the app does not route.
    let res = server.get("/dev/echo/a/b");
    assert_eq!(res.status, 404, "{}", res.text());
    assert_eq!(res.json()["code"], "NotFoundError");
}

#[test]
fn handlers_see_the_path_without_the_stage_and_the_request_as_sent() {
    let (_dir, server) = fixture_server("handler-view", &["--no-schedules"]);
    let res = server
        .request("POST", "/echo/a/b?x=1&x=2&name=J%C3%BCrgen+M&empty=")
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .header("User-Agent", "e2e-agent/1.0")
        .header("Content-Type", "text/plain")
        .body("hello body")
        .send();
    assert_eq!(res.status, 200, "{}", res.text());
    let seen = res.json();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/echo/a/b", "the stage is not in the path");
    assert_eq!(seen["rest"], "a/b");
    assert_eq!(seen["source"], "rest_api", "{seen}");
    assert_eq!(
        seen["query"],
        json!([["x", "1"], ["x", "2"], ["name", "Jürgen M"], ["empty", ""]])
    );
    assert_eq!(seen["headers"]["x-multi"], json!(["one", "two"]));
    assert_eq!(seen["headers"]["user-agent"], json!(["e2e-agent/1.0"]));
    assert_eq!(seen["headers"]["x-forwarded-for"], json!(["127.0.0.1"]));
    assert_eq!(seen["headers"]["x-forwarded-proto"], json!(["http"]));
    assert_eq!(
        seen["headers"]["x-forwarded-port"],
        json!([server.addr.port().to_string()])
    );
    assert!(seen["headers"].get("connection").is_none(), "{seen}");
    assert_eq!(seen["body"], "hello body");

    let context = &seen["context"];
    assert_eq!(context["stage"], "dev");
    // The framework derives the base path from requestContext.path minus the routed path:
    // `/dev` proves requestContext.path was `/dev/echo/a/b`.
    assert_eq!(context["base_path"], "/dev");
    assert_eq!(context["source_ip"], "127.0.0.1");
    assert_eq!(context["user_agent"], "e2e-agent/1.0");
    assert_eq!(context["domain_name"], server.addr.to_string());
    assert_eq!(context["account_id"], "123456789012");
    assert_eq!(
        context["request_id"],
        res.header("x-amzn-requestid").unwrap()
    );
    let epoch = context["request_time_epoch"]
        .as_i64()
        .expect("requestTimeEpoch");
    assert!((epoch - now_ms() as i64).abs() < 60_000, "{epoch}");

    let lambda = &seen["lambda"];
    assert_eq!(lambda["function_name"], "fixture-dev-api");
    assert_eq!(
        lambda["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:fixture-dev-api"
    );
    // Absolute URLs point back at the local gateway, stage included.
    assert_eq!(seen["public_base_url"], server.api_url);
    assert_eq!(
        seen["url_for_echo"]["Ok"],
        format!("{}/echo/a/b", server.api_url),
        "{seen}"
    );
}

#[test]
fn events_are_built_as_api_gateway_builds_them() {
    let (_dir, server) = fixture_server("raw-event", &["--stage", "wire", "--no-schedules"]);
    assert_eq!(server.prefix, "/wire");
    let res = server
        .request("GET", "/raw/event?a=1&a=2&sp=a+b&enc=J%C3%BCrgen")
        .header("X-Mixed-Case", "one")
        .header("X-Mixed-Case", "two")
        .header("x-lower", "l")
        .header("user-agent", "e2e-agent/1.0")
        .header("X-Forwarded-For", "203.0.113.7")
        .send();
    assert_eq!(res.status, 200, "{}", res.text());
    let event = res.json();
    assert_eq!(event["resource"], "/{proxy+}");
    assert_eq!(event["path"], "/raw/event", "no stage in `path`");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["pathParameters"], json!({"proxy": "raw/event"}));
    assert_eq!(event["stageVariables"], Value::Null);
    assert_eq!(event["body"], Value::Null);
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(
        event["queryStringParameters"],
        json!({"a": "2", "sp": "a b", "enc": "Jürgen"})
    );
    assert_eq!(
        event["multiValueQueryStringParameters"],
        json!({"a": ["1", "2"], "sp": ["a b"], "enc": ["Jürgen"]})
    );
    // Header names as sent; the last value in `headers`, all in `multiValueHeaders`.
    let headers = event["headers"].as_object().expect("headers");
    let names: BTreeSet<&str> = headers.keys().map(String::as_str).collect();
    for name in [
        "Host",
        "X-Mixed-Case",
        "x-lower",
        "User-Agent",
        "X-Forwarded-For",
        "X-Forwarded-Port",
        "X-Forwarded-Proto",
        "X-Amzn-Trace-Id",
    ] {
        assert!(names.contains(name), "no {name} in {names:?}");
    }
    for name in ["Connection", "connection", "Content-Length", "x-mixed-case"] {
        assert!(!names.contains(name), "{name} in {names:?}");
    }
    assert_eq!(headers["X-Mixed-Case"], "two");
    assert_eq!(
        event["multiValueHeaders"]["X-Mixed-Case"],
        json!(["one", "two"])
    );
    assert_eq!(event["multiValueHeaders"]["x-lower"], json!(["l"]));
    assert_eq!(headers["Host"], server.addr.to_string());
    assert_eq!(headers["X-Forwarded-For"], "203.0.113.7, 127.0.0.1");
    assert_eq!(headers["X-Forwarded-Port"], server.addr.port().to_string());
    assert_eq!(headers["X-Forwarded-Proto"], "http");

    let ctx = &event["requestContext"];
    assert_fields(
        ctx,
        &[
            // The path has the stage.
            ("path", json!("/wire/raw/event")),
            ("stage", json!("wire")),
            ("resourcePath", json!("/{proxy+}")),
            ("httpMethod", json!("GET")),
            ("protocol", json!("HTTP/1.1")),
            ("accountId", json!("123456789012")),
            ("domainName", json!(server.addr.to_string())),
            ("requestId", json!(res.header("x-amzn-requestid"))),
            ("extendedRequestId", json!(res.header("x-amz-apigw-id"))),
        ],
    );
    assert!(ctx["requestTimeEpoch"].is_i64(), "{ctx}");
    assert!(
        ctx["requestTime"]
            .as_str()
            .is_some_and(|t| t.ends_with(" +0000")),
        "{ctx}"
    );
    assert_eq!(ctx["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(ctx["identity"]["userAgent"], "e2e-agent/1.0");
    assert_eq!(ctx["identity"]["apiKey"], Value::Null);
    assert_eq!(ctx["identity"]["cognitoIdentityId"], Value::Null);

    // Paths and path parameters keep their percent-encoding.
    let event = server.get("/raw/caf%C3%A9/").json();
    assert_eq!(event["path"], "/raw/caf%C3%A9/");
    assert_eq!(event["pathParameters"], json!({"proxy": "raw/caf%C3%A9"}));
    assert_eq!(event["queryStringParameters"], Value::Null);
    assert_eq!(event["multiValueQueryStringParameters"], Value::Null);

    // The stage's root.
    for target in ["/wire/", "/wire"] {
        let event = Req::new(server.addr, "GET", target).send().json();
        assert_eq!(event["resource"], "/", "{target}");
        assert_eq!(event["path"], "/", "{target}");
        assert_eq!(event["pathParameters"], Value::Null, "{target}");
        assert_eq!(event["requestContext"]["path"], "/wire/", "{target}");
    }

    // Bodies: text as is, binary media types (wildcards too) in base64.
    let event = server
        .request("POST", "/raw/event")
        .header("Content-Type", "text/plain; charset=utf-8")
        .body("héllo")
        .send()
        .json();
    assert_eq!(
        (&event["body"], &event["isBase64Encoded"]),
        (&json!("héllo"), &json!(false))
    );
    let bytes = [0x00, 0x9f, 0x92, 0x96, 0xff];
    for content_type in ["application/octet-stream", "image/png"] {
        let event = server
            .request("PUT", "/raw/event")
            .header("Content-Type", content_type)
            .body(bytes.to_vec())
            .send()
            .json();
        assert_eq!(event["isBase64Encoded"], true, "{content_type}");
        assert_eq!(event["body"], "AJ+Slv8=", "{content_type}");
        assert_eq!(event["httpMethod"], "PUT");
    }

    // A route that requires an API key is its own resource, and the key is in the identity.
    let event = get_private(&server, PARTNER_KEY).json();
    assert_eq!(event["resource"], "/private");
    assert_eq!(event["requestContext"]["resourcePath"], "/private");
    assert_eq!(event["pathParameters"], Value::Null);
    assert_eq!(event["requestContext"]["identity"]["apiKey"], PARTNER_KEY);
    assert!(
        event["requestContext"]["identity"]["apiKeyId"].is_string(),
        "{event}"
    );
}

#[test]
fn binary_bodies_round_trip_through_the_app() {
    let (_dir, server) = fixture_server("binary", &["--no-schedules"]);
    let bytes: Vec<u8> = vec![0x00, 0xff, 0xfe, 0x80, b'a', 0x0a];
    let seen = server
        .request("POST", "/echo/upload")
        .header("Content-Type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .json();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        seen["body_hex"], hex,
        "the app got the bytes back from base64"
    );

    // The app answers PNG bytes with isBase64Encoded: decoded when the client accepts the
    // binary type first, else the base64 text, as API Gateway does.
    let res = server
        .request("GET", "/binary")
        .header("Accept", "image/png")
        .send();
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("image/png"));
    assert_eq!(res.body, PNG);
    let res = server
        .request("GET", "/binary")
        .header("Accept", "text/html")
        .send();
    assert_eq!(res.status, 200);
    assert_eq!(
        res.text(),
        base64::engine::general_purpose::STANDARD.encode(PNG)
    );
}

#[test]
fn proxy_responses_are_read_as_api_gateway_reads_them() {
    let (_dir, server) = fixture_server("proxy-response", &["--stage", "wire", "--no-schedules"]);
    let res = server.get("/raw/multi");
    assert_eq!((res.status, res.text().as_str()), (201, "multi"));
    // multiValueHeaders wins over headers for the same name.
    assert_eq!(
        res.header_all("set-cookie"),
        ["a=1; Path=/", "b=2; Path=/; HttpOnly"]
    );
    assert_eq!(res.header_all("x-multi"), ["x", "y"]);
    assert_eq!(res.header("x-single"), Some("one"));
    assert_eq!(res.header("content-type"), Some("text/plain"));

    // Headers API Gateway does not pass on as they are; the default Content-Type.
    let res = server.get("/raw/remapped");
    assert_eq!(res.status, 200);
    assert_eq!(res.header("x-amzn-remapped-server"), Some("fixture"));
    assert_eq!(
        res.header("x-amzn-remapped-www-authenticate"),
        Some("Basic")
    );
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_ne!(res.header("server"), Some("fixture"));

    let res = server
        .request("GET", "/raw/base64")
        .header("Accept", "image/png")
        .send();
    assert_eq!((res.status, res.body.as_slice()), (200, PNG));
    let res = server
        .request("GET", "/raw/base64")
        .header("Accept", "*/*")
        .send();
    assert_eq!(
        res.text(),
        base64::engine::general_purpose::STANDARD.encode(PNG),
        "`*/*` is not a configured binary media type"
    );

    for path in ["/raw/not-json", "/raw/unknown-field", "/raw/body-number"] {
        let res = server.get(path);
        assert_internal_error(&res);
    }
    server.wait_for_line(
        &[
            "/wire/raw/not-json -> 502",
            "Malformed Lambda proxy response",
        ],
        Duration::from_secs(10),
    );
    // The function keeps serving.
    assert_eq!(server.get("/raw/multi").status, 201);
}

#[test]
fn app_responses_keep_multi_value_headers() {
    let (_dir, server) = fixture_server("cookies", &["--no-schedules"]);
    let res = server.get("/cookies");
    assert_eq!((res.status, res.text().as_str()), (200, "two cookies"));
    assert_eq!(
        res.header_all("set-cookie"),
        [
            "session=abc123; Path=/; HttpOnly; Secure",
            "theme=dark; Path=/"
        ]
    );
}

#[test]
fn functions_run_as_lambda_processes_with_lambda_variables() {
    let (_dir, mut server) = fixture_server("lambda-env", &["--no-schedules"]);
    let res = server.get("/env");
    assert_eq!(res.status, 200, "{}", res.text());
    let seen = res.json();
    let env = &seen["env"];
    // Lambda's variables, and the stage's env from portico.toml (`FIXTURE_STAGE`).
    for variable in [
        "AWS_LAMBDA_FUNCTION_NAME=fixture-dev-api",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
        "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fixture-dev-api",
        "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
        "AWS_REGION=us-east-1",
        "AWS_DEFAULT_REGION=us-east-1",
        "AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
        "_HANDLER=bootstrap",
        "TZ=:UTC",
        "PORTICO_HANDLER=api",
        "FIXTURE_STAGE=dev",
    ] {
        let (name, value) = variable.split_once('=').unwrap();
        assert_eq!(env[name], value, "{name} in {env}");
    }
    let runtime_api = env["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .expect("AWS_LAMBDA_RUNTIME_API");
    assert!(runtime_api.starts_with("127.0.0.1:"), "{runtime_api}");
    let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        .as_str()
        .expect("log stream");
    let (date, id) = stream
        .split_once("/[$LATEST]")
        .expect("YYYY/MM/DD/[$LATEST]id");
    assert_eq!(date.len(), 10, "{stream}");
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{stream}"
    );

    // The process is the server's child, running a private copy of the binary in its task
    // root.
    let pid = seen["pid"].as_u64().unwrap() as u32;
    assert!(
        server.children().contains(&pid),
        "{pid} is not a child of {}",
        server.pid
    );
    let exe = seen["exe"].as_str().unwrap();
    let bin_dir = std::env::temp_dir().join(format!("portico-local-{}-", server.pid));
    assert!(exe.starts_with(bin_dir.to_str().unwrap()), "{exe}");
    assert!(exe.ends_with("/bootstrap"), "{exe}");
    let task_root = env["LAMBDA_TASK_ROOT"].as_str().unwrap();
    assert_eq!(seen["cwd"], task_root);
    assert_eq!(format!("{task_root}/bootstrap"), exe);

    // The function timeout (29 s by default for `api`) is the invocation's deadline.
    let left = seen["deadline_ms"].as_u64().unwrap() as i64 - now_ms() as i64;
    assert!((20_000..=29_000).contains(&left), "{left} ms left");
}

#[test]
fn the_function_timeout_comes_from_the_config() {
    let (_dir, server) = fixture_server("short-timeout", &["--stage", "short", "--no-schedules"]);
    // The stage's `api_stage` names the API Gateway stage; the functions keep the stage's.
    assert_eq!(server.prefix, "/v1");
    let seen = server.get("/echo/x").json();
    assert_eq!(seen["path"], "/echo/x");
    assert_eq!(seen["context"]["stage"], "v1");
    assert_eq!(seen["context"]["base_path"], "/v1");
    assert_eq!(seen["lambda"]["function_name"], "fixture-short-api");
    let seen = server.get("/env").json();
    assert_eq!(seen["env"]["FIXTURE_STAGE"], "short");
    let left = seen["deadline_ms"].as_u64().unwrap() as i64 - now_ms() as i64;
    assert!(left <= 1_000, "{left} ms left of a 1 s timeout");
    let pid = seen["pid"].as_u64().unwrap() as u32;

    // Over the function's 1 s (under the gateway's 2 s): Lambda fails it, API Gateway 502s.
    let started = Instant::now();
    let res = server.get("/slow?ms=1800");
    assert_internal_error(&res);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    server.wait_for_line(
        &["Task timed out after 1.00 seconds"],
        Duration::from_secs(10),
    );
    // The timed-out process is killed and replaced; the next request works.
    wait_for(
        "the timed-out process to end",
        Duration::from_secs(10),
        || (!pid_alive(pid)).then_some(()),
    );
    let res = server.get("/slow?ms=10");
    assert_eq!((res.status, res.text().as_str()), (200, "slept 10 ms"));
    assert_ne!(served_by(&server), pid);
}

#[test]
fn a_crash_is_a_502_and_the_process_is_replaced() {
    let (_dir, server) = fixture_server("crash", &["--no-schedules"]);
    let first = served_by(&server);

    // A panic is the app's 500; the process lives on.
    let res = server.get("/panic");
    assert_eq!(res.status, 500, "{}", res.text());
    assert_eq!(served_by(&server), first, "a panic keeps the process");

    let res = server.get("/crash");
    assert_internal_error(&res);
    server.wait_for_line(&["Runtime exited with error"], Duration::from_secs(10));
    server.wait_for_line(
        &["/dev/crash -> 502", "the function crashed"],
        Duration::from_secs(10),
    );
    wait_for(
        "the crashed process to be gone",
        Duration::from_secs(10),
        || (!pid_alive(first)).then_some(()),
    );
    let second = served_by(&server);
    assert_ne!(second, first);
    let res = server.get("/echo/after-crash");
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["path"], "/echo/after-crash");
}

#[test]
fn the_integration_timeout_is_a_504_and_the_next_request_works() {
    let (_dir, server) = fixture_server("integration-timeout", &["--no-schedules"]);
    let started = Instant::now();
    let res = server.get("/slow?ms=3000");
    let took = started.elapsed();
    assert_gateway_error(
        &res,
        504,
        r#"{"message": "Endpoint request timed out"}"#,
        Some("InternalServerErrorException"),
        true,
    );
    // `api.timeout = 2`, not API Gateway's default 29 s (the app would have answered).
    assert!(took >= Duration::from_secs(2), "{took:?}");
    let res = server.get("/slow?ms=10");
    assert_eq!((res.status, res.text().as_str()), (200, "slept 10 ms"));
}

#[test]
fn concurrent_requests_get_a_pool_of_processes() {
    let (_dir, mut server) = fixture_server("pool", &["--concurrency", "3", "--no-schedules"]);
    let addr = server.addr;
    let concurrent = |n: usize, ms: u32| {
        let threads: Vec<_> = (0..n)
            .map(|_| {
                std::thread::spawn(move || {
                    Req::new(addr, "GET", &format!("/dev/slow?ms={ms}")).send()
                })
            })
            .collect();
        for thread in threads {
            let res = thread.join().expect("a request thread");
            assert_eq!((res.status, res.text()), (200, format!("slept {ms} ms")));
        }
    };
    let started = Instant::now();
    concurrent(3, 1000);
    let took = started.elapsed();
    // Three overlapping invocations need three processes.
    assert_eq!(server.children().len(), 3, "{:?}", server.children());
    assert!(
        took < Duration::from_millis(2900),
        "served one after the other: {took:?}"
    );
    // More requests than processes queue for them: never more than --concurrency.
    concurrent(5, 300);
    assert_eq!(server.children().len(), 3, "{:?}", server.children());
}

#[test]
fn request_and_response_size_limits() {
    let (_dir, server) = fixture_server("sizes", &["--no-schedules"]);
    let too_long = r#"{"message":"Request Too Long"}"#;

    // Announced over 10 MB: refused before the body is read.
    let head = format!(
        "POST /dev/echo/big HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        11 * 1024 * 1024
    );
    let res = exchange(server.addr, head.as_bytes(), Duration::from_secs(30)).unwrap();
    assert_gateway_error(&res, 413, too_long, None, true);

    // Streamed (chunked) past 10 MB.
    let head = format!(
        "POST /dev/echo/big HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
        server.addr
    );
    let res = exchange_with(server.addr, Duration::from_secs(30), move |stream| {
        stream.write_all(head.as_bytes())?;
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..11 {
            stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
            stream.write_all(&chunk)?;
            stream.write_all(b"\r\n")?;
        }
        stream.write_all(b"0\r\n\r\n")
    })
    .unwrap();
    assert_gateway_error(&res, 413, too_long, None, true);

    // Under API Gateway's 10 MB but over Lambda's 6 MB once in the event.
    let res = server
        .request("POST", "/echo/big")
        .header("Content-Type", "text/plain")
        .body(vec![b'y'; 7 * 1024 * 1024])
        .send();
    assert_gateway_error(&res, 413, too_long, None, true);

    // Lambda's request limit is 6,291,456 bytes (its response limit is 100 bytes more): find
    // the event's size beyond the body from the gateway's note, then go to the byte.
    let post_items = |len: usize| {
        server
            .request("POST", "/items")
            .header("Content-Type", "text/plain")
            .body(vec![b'y'; len])
            .send()
    };
    let probe = 6 * 1024 * 1024;
    let res = post_items(probe);
    assert_eq!(res.status, 413);
    let request_id = res.header("x-amzn-requestid").unwrap().to_owned();
    let line = server.wait_for_line(&["the event is ", &request_id], Duration::from_secs(10));
    let event_size: usize = line
        .split("the event is ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let overhead = event_size - probe;
    let res = post_items(6_291_456 - overhead);
    assert_eq!(
        res.status,
        415,
        "an event of 6,291,456 bytes reaches the app: {}",
        res.text()
    );
    let res = post_items(6_291_457 - overhead);
    assert_gateway_error(&res, 413, too_long, None, true);

    // A response over Lambda's 6 MB.
    let res = server.get("/big");
    assert_internal_error(&res);
    let res = server.get("/big?bytes=1000");
    assert_eq!((res.status, res.body.len()), (200, 1000));
    let res = server.get("/big?bytes=5000000");
    assert_eq!((res.status, res.body.len()), (200, 5_000_000));

    // Headers over API Gateway's 10,240 bytes, and over the server's 32 KB.
    let res = server
        .request("GET", "/echo/h")
        .header("X-Big", &"h".repeat(11_000))
        .send();
    assert_gateway_error(
        &res,
        431,
        r#"{"message":"Request Header Fields Too Large"}"#,
        None,
        true,
    );
    let res = server
        .request("GET", "/echo/h")
        .header("X-Huge", &"h".repeat(40_000))
        .send();
    assert_eq!(res.status, 431);
    assert_eq!(server.get("/echo/still-up").status, 200);
}

#[test]
fn api_keys_are_required_only_where_the_route_says() {
    let (dir, server) = fixture_server("api-keys", &["--no-schedules"]);
    let forbidden = r#"{"message":"Forbidden"}"#;
    let private = |key: Option<&str>| {
        let req = server.request("GET", "/private");
        match key {
            Some(key) => req.header("X-API-Key", key).send(),
            None => req.send(),
        }
    };
    for key in [
        None,
        Some("not-a-key-0123456789abcdef"),
        Some(ORPHAN_KEY),
        Some(""),
    ] {
        assert_gateway_error(
            &private(key),
            403,
            forbidden,
            Some("ForbiddenException"),
            true,
        );
    }
    let res = private(Some(PARTNER_KEY));
    assert_eq!(
        (res.status, res.text().as_str()),
        (200, "the key was checked by the gateway")
    );
    // HEAD is routed like GET: the key is required too.
    assert_eq!(server.request("HEAD", "/private").send().status, 403);
    assert_eq!(
        server
            .request("HEAD", "/private")
            .header("x-api-key", PARTNER_KEY)
            .send()
            .status,
        200
    );
    // A generated key's value is in .portico/local/api-keys.json.
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dir.local_dir().join("api-keys.json")).unwrap())
            .unwrap();
    assert_eq!(keys["partner"], PARTNER_KEY);
    let generated = keys["generated"].as_str().expect("a generated key");
    assert_eq!(generated.len(), 40);
    assert_eq!(private(Some(generated)).status, 200);
    // Routes without the option need no key, even with a wrong one.
    assert_eq!(server.get("/echo/free").status, 200);
    assert_eq!(
        server
            .request("GET", "/echo/free")
            .header("x-api-key", "wrong")
            .send()
            .status,
        200
    );
    // With [api.cors] a preflight never needs a key; the app answers it.
    let res = server
        .request("OPTIONS", "/private")
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", "GET")
        .send();
    assert!(res.status < 300, "{} {}", res.status, res.text());
    assert_eq!(res.header("access-control-allow-origin"), Some(ORIGIN));
    server.wait_for_line(&["GET /dev/private -> 403"], Duration::from_secs(5));
}

#[test]
fn usage_plan_throttling_is_a_429() {
    let (_dir, server) = fixture_server("throttle", &["--no-schedules"]);
    // A warm process, so that the key's requests follow each other closely.
    assert_eq!(server.get("/echo/warm").status, 200);
    let burst = || get_private(&server, BURST_KEY);
    // burst 2, rate 1/s: two at once pass, the third finds the bucket empty unless a second
    // went by (then the machine is too slow for this check: try again with a full bucket).
    let mut attempts = 0;
    let throttled = loop {
        attempts += 1;
        let started = Instant::now();
        let statuses: Vec<Res> = (0..3).map(|_| burst()).collect();
        if started.elapsed() < Duration::from_millis(900) {
            assert_eq!(
                statuses.iter().map(|r| r.status).collect::<Vec<_>>(),
                [200, 200, 429]
            );
            break statuses.into_iter().last().unwrap();
        }
        assert!(attempts < 3, "three requests never took under a second");
        // Time for the bucket to fill up again (the plan's own timing, not a synchronisation).
        std::thread::sleep(Duration::from_millis(2100));
    };
    assert_gateway_error(
        &throttled,
        429,
        r#"{"message":"Too Many Requests"}"#,
        Some("TooManyRequestsException"),
        true,
    );
    // The bucket refills at the plan's rate.
    wait_for("a token", Duration::from_secs(5), || {
        (burst().status == 200).then_some(())
    });
    // Other keys have buckets of their own.
    assert_eq!(get_private(&server, PARTNER_KEY).status, 200);

    // A throttled request does not count against the quota (burst 1, rate 0.5/s, quota 2).
    let combo = || get_private(&server, COMBO_KEY);
    let too_many = r#"{"message":"Too Many Requests"}"#;
    assert_eq!(combo().status, 200);
    let next_not_throttled = || {
        wait_for("a token", Duration::from_secs(5), || {
            let res = combo();
            (res.text() != too_many).then_some(res)
        })
    };
    assert_eq!(combo().text(), too_many);
    assert_eq!(
        next_not_throttled().status,
        200,
        "the throttled requests were not counted"
    );
    assert_eq!(combo().text(), too_many);
    let res = next_not_throttled();
    assert_gateway_error(
        &res,
        429,
        r#"{"message":"Limit Exceeded"}"#,
        Some("LimitExceededException"),
        true,
    );
}

#[test]
fn quotas_survive_a_restart() {
    let dir = AppDir::new("quota", &fixture("fixture.toml"));
    let day = || now_ms() / 86_400_000;
    let first_day = day();
    let metered = |server: &Server| get_private(server, METERED_KEY);
    let limit_exceeded = r#"{"message":"Limit Exceeded"}"#;
    let generated;
    {
        let mut server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
        for _ in 0..3 {
            assert_eq!(metered(&server).status, 200);
        }
        assert_gateway_error(
            &metered(&server),
            429,
            limit_exceeded,
            Some("LimitExceededException"),
            true,
        );
        generated = std::fs::read_to_string(dir.local_dir().join("api-keys.json")).unwrap();
        assert!(server.stop_with("TERM").success());
    }
    let mut server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let after = metered(&server);
    if day() == first_day {
        assert_gateway_error(
            &after,
            429,
            limit_exceeded,
            Some("LimitExceededException"),
            true,
        );
    } else {
        eprintln!("the UTC day changed during the test: the quota period restarted");
    }
    // Keys without a quota are not affected; a generated key keeps its value.
    assert_eq!(get_private(&server, PARTNER_KEY).status, 200);
    assert_eq!(
        std::fs::read_to_string(dir.local_dir().join("api-keys.json")).unwrap(),
        generated
    );
    assert!(server.stop_with("TERM").success());
}

#[test]
fn function_logs_are_printed_and_kept() {
    let (dir, server) = fixture_server("logs", &["--no-schedules"]);
    let res = server.get("/log?msg=hello-logs-42");
    assert_eq!(res.status, 200);
    let request_id = res.text();
    assert_eq!(request_id.len(), 36, "{request_id}");
    let short = &request_id[..8];
    for stream in ["stdout", "stderr"] {
        let line = server.wait_for_line(
            &[&format!(" api [{short}] fixture: {stream} hello-logs-42")],
            Duration::from_secs(10),
        );
        // `HH:MM:SS.mmm api [xxxxxxxx] message`
        let time = line.split(' ').next().unwrap();
        assert!(
            time.len() == 12 && time.as_bytes()[2] == b':' && time.as_bytes()[8] == b'.',
            "{line}"
        );
    }
    assert!(
        !server.stdout().contains("START RequestId"),
        "Lambda's lines are not printed"
    );

    let db = rusqlite::Connection::open_with_flags(
        dir.local_dir().join("state.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open state.db");
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let rows =
        wait_for(
            "the invocation's REPORT in state.db",
            Duration::from_secs(10),
            || {
                let mut statement = db
            .prepare("SELECT function, stream, message FROM logs WHERE request_id = ?1 ORDER BY id")
            .ok()?;
                let rows: Vec<(String, String, String)> = statement
                    .query_map([&request_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .ok()?
                    .collect::<Result<_, _>>()
                    .ok()?;
                rows.iter()
                    .any(|(_, _, m)| m.contains("\nREPORT RequestId:"))
                    .then_some(rows)
            },
        );
    let messages: Vec<&str> = rows.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        messages[0],
        format!("START RequestId: {request_id} Version: $LATEST")
    );
    assert!(
        messages.contains(&"fixture: stdout hello-logs-42"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"fixture: stderr hello-logs-42"),
        "{messages:?}"
    );
    // END and REPORT share the invocation's last row (`portico logs` splits it).
    assert!(
        messages.last().is_some_and(|m| m.starts_with(&format!(
            "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: "
        ))),
        "{messages:?}"
    );
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(
        rows.iter()
            .all(|(f, s, _)| f == "api" && s.contains("/[$LATEST]")),
        "{rows:?}"
    );
}

/// How many invocations have started (their `START` lines are in `state.db`).
fn started_invocations(dir: &AppDir) -> usize {
    let Ok(db) = rusqlite::Connection::open_with_flags(
        dir.local_dir().join("state.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return 0;
    };
    let _ = db.busy_timeout(Duration::from_secs(5));
    db.query_row(
        "SELECT COUNT(*) FROM logs WHERE message LIKE 'START RequestId:%'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map_or(0, |n| n as usize)
}

/// Local addresses of the listening TCP sockets the process `pid` holds.
fn listening_addresses(pid: u32) -> Vec<(String, u16)> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server's fds")
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            link.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if fields.len() < 10 || fields[3] != "0A" || !inodes.contains(fields[9]) {
                continue;
            }
            let (ip, port) = fields[1].split_once(':').unwrap();
            out.push((ip.to_owned(), u16::from_str_radix(port, 16).unwrap()));
        }
    }
    out
}

#[test]
fn it_listens_on_loopback_only() {
    let (_dir, mut server) = fixture_server("loopback", &["--no-schedules"]);
    // An invocation, so that a process and its Runtime API exist.
    assert_eq!(server.get("/echo/x").status, 200);
    let listening = listening_addresses(server.pid);
    let ports: BTreeSet<u16> = listening.iter().map(|(_, port)| *port).collect();
    assert!(ports.contains(&server.addr.port()), "{listening:?}");
    assert!(ports.contains(&server.services.port()), "{listening:?}");
    assert!(
        listening.len() >= 3,
        "gateway, services and a Runtime API: {listening:?}"
    );
    for (ip, port) in &listening {
        assert_eq!(ip, "0100007F", "port {port} listens on {ip}, not 127.0.0.1");
    }
    for child in server.children() {
        assert!(listening_addresses(child).is_empty());
    }
}

#[test]
fn bad_slow_and_vanishing_clients_do_not_take_the_server_down() {
    let (_dir, mut server) = fixture_server("robust", &["--no-schedules"]);
    let addr = server.addr;
    let t = Duration::from_secs(10);

    // Not HTTP; a bad Content-Length; a bad chunk size.
    for bytes in [
        &b"THIS IS NOT HTTP\r\n\r\n"[..],
        b"GET /dev/echo/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
    ] {
        let res = exchange(addr, bytes, t).unwrap();
        assert_eq!(res.status, 400, "{:?}", String::from_utf8_lossy(bytes));
    }
    let chunked = b"POST /dev/echo/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n";
    let _ = exchange(addr, chunked, t);

    // Slow clients: connections that send half a head, or nothing, and stay open.
    let mut idle: Vec<TcpStream> = Vec::new();
    for i in 0..40 {
        let mut stream = TcpStream::connect(addr).unwrap();
        if i % 2 == 0 {
            stream
                .write_all(b"GET /dev/echo/slow HTTP/1.1\r\nHost: localhost\r\n")
                .unwrap();
        }
        idle.push(stream);
    }
    // A client that leaves in the middle of its body, and one that leaves before the answer.
    {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"POST /dev/echo/gone HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nonly this")
            .unwrap();
    }
    {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /dev/slow?ms=400 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
    }
    // The invocation of the client that left still runs to its end.
    server.wait_for_line(&["API GET /dev/slow?ms=… -> 200"], Duration::from_secs(10));

    // The app crashing does not stop the server either.
    assert_eq!(server.get("/crash").status, 502);
    for _ in 0..3 {
        let res = server.get("/echo/still-here");
        assert_eq!(res.status, 200);
    }
    // Keep-alive: two requests on one connection.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            format!("GET /dev/echo/one HTTP/1.1\r\nHost: {addr}\r\n\r\nGET /dev/echo/two HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    stream.set_read_timeout(Some(t)).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(
        text.contains("/echo/one") && text.contains("/echo/two"),
        "{text}"
    );
    drop(idle);
    assert!(server.running());
    assert_eq!(server.get("/echo/end").status, 200);
}

#[test]
fn a_port_in_use_is_an_error_that_leaves_nothing_behind() {
    let (dir, first) = fixture_server("port-in-use", &["--no-schedules"]);
    let port = first.addr.port().to_string();
    let mut second = std::process::Command::new(common::PORTICO)
        .args(["local", "--app", dir.path.to_str().unwrap(), "--binary"])
        .arg(&apps().fixture)
        .args(["--port", &port, "--services-port", "0", "--no-schedules"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = second.id();
    let status = wait_for(
        "the second server to give up",
        Duration::from_secs(30),
        || second.try_wait().unwrap(),
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")) && stderr.contains("--port"),
        "{stderr}"
    );
    let prefix = format!("portico-local-{pid}-");
    let copies: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(copies.is_empty(), "{copies:?}");
    // The first server is unaffected, its endpoint file too.
    assert_eq!(first.get("/echo/x").status, 200);
    let endpoint: Value =
        serde_json::from_slice(&std::fs::read(dir.local_dir().join("endpoint.json")).unwrap())
            .unwrap();
    assert_eq!(endpoint["pid"], first.pid);
    assert_eq!(endpoint["api_url"], first.api_url);
}

/// Starts a fixture server with several processes (three `api`, one `tick`) and a request
/// in flight, stops it with `signal`, and checks that nothing it started is left.
fn stops_every_child(test: &str, signal: &str) {
    let (dir, mut server) = fixture_server(test, &["--concurrency", "3", "--no-schedules"]);
    let addr = server.addr;
    let threads: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || Req::new(addr, "GET", "/dev/slow?ms=700").send()))
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().status, 200);
    }
    invoke_scheduled_ok(&dir.path, "tick", "fixture-dev-tick");
    let children = server.children();
    assert_eq!(
        children.len(),
        4,
        "three api processes and one tick: {children:?}"
    );
    // Every START so far is stored (lines are written in batches), so the next one is new.
    wait_for(
        "four invocations in state.db",
        Duration::from_secs(10),
        || (started_invocations(&dir) == 4).then_some(()),
    );
    let before = 4;

    // A request in flight when the signal comes.
    let in_flight = std::thread::spawn(move || {
        common::exchange(
            addr,
            format!("GET /dev/slow?ms=1500 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
            Duration::from_secs(30),
        )
    });
    wait_for(
        "the slow invocation to start",
        Duration::from_secs(10),
        || (started_invocations(&dir) > before).then_some(()),
    );
    let status = server.stop_with(signal);
    assert!(
        status.success(),
        "portico local exited with {status} on SIG{signal}"
    );
    server.assert_no_leftovers(Duration::from_secs(3));
    assert!(server.stdout().contains("stopping") || server.stderr().contains("stopping"));
    assert!(
        !dir.local_dir().join("endpoint.json").exists(),
        "endpoint.json is removed"
    );
    let prefix = format!("portico-local-{}-", server.pid);
    let bin_dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    assert!(bin_dirs.is_empty(), "binary copies left: {bin_dirs:?}");
    // The request in flight was given time to finish before its process was stopped.
    let answer = in_flight
        .join()
        .expect("the in-flight request thread")
        .expect("an answer");
    assert_eq!(
        (answer.status, answer.text().as_str()),
        (200, "slept 1500 ms")
    );
}

#[test]
fn sigterm_stops_every_child_process() {
    stops_every_child("sigterm", "TERM");
}

#[test]
fn sigint_stops_every_child_process() {
    stops_every_child("sigint", "INT");
}

#[test]
fn children_die_with_a_killed_server() {
    if !std::path::Path::new("/usr/bin/setpriv").exists()
        && !std::path::Path::new("/bin/setpriv").exists()
    {
        eprintln!("skipped: without setpriv (util-linux) children cannot die with their parent");
        return;
    }
    let (_dir, mut server) = fixture_server("sigkill", &["--concurrency", "2", "--no-schedules"]);
    let addr = server.addr;
    let threads: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || Req::new(addr, "GET", "/dev/slow?ms=500").send()))
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().status, 200);
    }
    assert_eq!(server.children().len(), 2);
    let status = server.stop_with("KILL");
    assert!(!status.success());
    server.assert_no_leftovers(Duration::from_secs(5));

    // The binary copies of a killed run go when the next one starts.
    let prefix = format!("portico-local-{}-", server.pid);
    let stale = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .count()
    };
    let (_next_dir, _next) = fixture_server("after-sigkill", &["--no-schedules"]);
    assert_eq!(stale(), 0, "the killed run's binary copies are left");
}

#[test]
fn watch_swaps_a_replaced_binary_without_dropping_the_server() {
    let dir = AppDir::new("watch", &fixture("fixture.toml"));
    let binary = dir.path.join("bootstrap");
    std::fs::copy(&apps().fixture, &binary).unwrap();
    let mut server = Server::start(&dir.path, &binary, &["--watch", "--no-schedules"]);
    let old = served_by(&server);
    assert_eq!(server.get("/").status, 404, "the fixture has no `/`");
    server.wait_for_line(&["watch:", "watching"], Duration::from_secs(10));

    // A request in flight while the binary changes.
    let addr = server.addr;
    wait_for(
        "two invocations in state.db",
        Duration::from_secs(10),
        || (started_invocations(&dir) == 2).then_some(()),
    );
    let before = 2;
    let in_flight = std::thread::spawn(move || Req::new(addr, "GET", "/dev/slow?ms=1500").send());
    wait_for(
        "the slow request to reach a process",
        Duration::from_secs(10),
        || (started_invocations(&dir) > before).then_some(()),
    );
    // Replace the binary the way a build does: a new file renamed over the old. First with
    // something that is not a Portico app: the previous build keeps serving.
    let staged = dir.path.join("bootstrap.new");
    std::fs::write(&staged, "#!/bin/sh\necho not an app\nexit 3\n").unwrap();
    std::fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::rename(&staged, &binary).unwrap();
    server.wait_for_line(
        &["watch:", "the previous build keeps serving"],
        Duration::from_secs(20),
    );
    assert_eq!(server.get("/echo/still-the-fixture").status, 200);

    std::fs::copy(&apps().hello, &staged).unwrap();
    std::fs::rename(&staged, &binary).unwrap();

    let swapped = wait_for("the new binary to serve", Duration::from_secs(30), || {
        let res = server.get("/");
        (res.status == 200).then_some(res)
    });
    assert_eq!(swapped.text(), r#"{"hello":"world"}"#);
    let res = in_flight.join().unwrap();
    assert_eq!(
        (res.status, res.text().as_str()),
        (200, "slept 1500 ms"),
        "the invocation in flight finished on the old binary"
    );
    assert!(server.running(), "the server was not restarted");
    wait_for("the old process to stop", Duration::from_secs(10), || {
        (!pid_alive(old)).then_some(())
    });
    server.wait_for_line(&["watch:", "reloading"], Duration::from_secs(5));
    server.wait_for_line(&["watch:", "now run the new build"], Duration::from_secs(5));
    assert_eq!(server.get("/users/7").json(), json!({"id": "7"}));
}

/// The event EventBridge sends a scheduled rule's target.
fn scheduled_event(rule: &str) -> String {
    json!({
        "version": "0",
        "id": "6f1b1c8e-0000-4000-8000-000000000001",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-01-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:000000000000:rule/{rule}")],
        "detail": {}
    })
    .to_string()
}

/// `portico invoke --local <function>` for the app in `dir`, with a scheduled event of `rule`.
fn invoke_scheduled(dir: &Path, function: &str, rule: &str) -> Output {
    let app = dir.to_str().unwrap();
    let event = scheduled_event(rule);
    common::portico(
        &["invoke", "--local", function, "--app", app],
        event.as_bytes(),
    )
}

/// [`invoke_scheduled`], which succeeds; what it printed.
#[track_caller]
fn invoke_scheduled_ok(dir: &Path, function: &str, rule: &str) -> String {
    let out = invoke_scheduled(dir, function, rule);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn invoke_local_sends_an_event_to_a_running_function() {
    let (dir, mut server) = fixture_server("invoke", &["--no-schedules"]);
    let app = dir.path.to_str().unwrap();
    let invoke = |name: &str, stdin: &str| {
        common::portico(&["invoke", "--local", name, "--app", app], stdin.as_bytes())
    };

    let out = invoke_scheduled_ok(&dir.path, "tick", "fixture-dev-tick");
    assert_eq!(out, "null\n");
    server.wait_for_line(
        &[
            " tick [",
            "fixture: tick ran at 2026-01-01T12:00:00Z for arn:aws:events:us-east-1:000000000000:rule/fixture-dev-tick",
        ],
        Duration::from_secs(10),
    );
    // The full function name works too.
    invoke_scheduled_ok(&dir.path, "fixture-dev-tick", "by-full-name");
    server.wait_for_line(
        &["fixture: tick ran at", "rule/by-full-name"],
        Duration::from_secs(10),
    );

    let out = invoke_scheduled(&dir.path, "nightly", "fixture-dev-nightly");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "function `nightly` failed: portico.ScheduleHandlerError: the nightly job failed on purpose"
        ),
        "{stderr}"
    );

    // The HTTP function takes a proxy event and returns a proxy response, as on AWS.
    let event = json!({
        "resource": "/{proxy+}",
        "path": "/echo/invoked",
        "httpMethod": "GET",
        "headers": null,
        "multiValueHeaders": null,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"proxy": "echo/invoked"},
        "stageVariables": null,
        "requestContext": {"stage": "dev", "path": "/dev/echo/invoked", "requestId": "r-1"},
        "body": null,
        "isBase64Encoded": false
    });
    let out = invoke("api", &event.to_string());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).expect("a proxy response");
    assert_eq!(reply["statusCode"], 200);
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["path"], "/echo/invoked");
    assert_eq!(body["context"]["base_path"], "/dev");

    for (name, stdin, needle) in [
        ("nope", "{}", "nope"),
        ("tick", "", "empty"),
        ("tick", "{not json", "not valid JSON"),
    ] {
        let out = invoke(name, stdin);
        assert_eq!(out.status.code(), Some(1), "{name} {stdin:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{name} {stdin:?}: {stderr}");
    }

    assert!(server.stop_with("TERM").success());
    let out = invoke("tick", "{}");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("portico local"), "{stderr}");
}

#[test]
fn schedules_fire_unless_turned_off() {
    // `rate(1 minute)` first fires a minute after the start, and the local cloud has no way
    // to fire sooner: this test waits for it, the other tests run meanwhile.
    let (off_dir, off) = fixture_server("schedules-off", &["--no-schedules"]);
    let (on_dir, on) = fixture_server("schedules-on", &[]);
    assert!(
        off.stdout().contains("schedule tick rate(1 minute) (off)"),
        "{}",
        off.stdout()
    );
    assert!(
        on.stdout().contains("schedule tick rate(1 minute)\n"),
        "{}",
        on.stdout()
    );
    on.wait_for_line(
        &["schedule tick: rate(1 minute), next at"],
        Duration::from_secs(10),
    );

    let fired = on.wait_for_line(
        &[
            " tick [",
            "fixture: tick ran at",
            "for arn:aws:events:us-east-1:000000000000:rule/fixture-dev-tick",
        ],
        Duration::from_secs(90),
    );
    let time = fired
        .split("tick ran at ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap();
    // The slot's time, RFC 3339 to the second, a minute after the start.
    let b = time.as_bytes();
    assert!(
        b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[13] == b':' && b[19] == b'Z',
        "{fired}"
    );
    on.wait_for_line(&["schedule tick: firing for"], Duration::from_secs(5));
    on.wait_for_line(&["schedule tick:", "done in"], Duration::from_secs(10));
    let db = rusqlite::Connection::open_with_flags(
        on_dir.local_dir().join("state.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let kept: i64 = wait_for(
        "the tick's line in state.db",
        Duration::from_secs(10),
        || {
            db.query_row(
            "SELECT COUNT(*) FROM logs WHERE function = 'tick' AND message LIKE 'fixture: tick ran at%'",
            [],
            |row| row.get(0),
        )
        .ok()
        .filter(|n: &i64| *n > 0)
        },
    );
    assert_eq!(kept, 1);

    // The server without schedules started first: its slot would have come by now.
    let out = off.stdout();
    assert!(!out.contains("tick ran at"), "{out}");
    assert!(!out.contains("schedule tick:"), "{out}");
    // Its schedule functions still answer `portico invoke`.
    invoke_scheduled_ok(&off_dir.path, "tick", "manual");
    off.wait_for_line(
        &["fixture: tick ran at", "rule/manual"],
        Duration::from_secs(10),
    );
}
