//! What the framework decides on its own, whatever the gateway in front did: a route that
//! requires an API key runs only for events that came through its own API Gateway resource with
//! a key checked, on every event source; and links are built only on hosts the front door
//! vouches for (or the configured public URL), never on a `Host` header the client chose.
//!
//! The events are the AWS-published payloads of `tests/fixtures/events/` (see its README),
//! changed per case.

use std::sync::atomic::{AtomicUsize, Ordering};

use portico::prelude::*;
use portico::testing::TestClient;
use serde_json::{Value, json};

const REST_PROXY: &str = include_str!("fixtures/events/rest_v1_proxy.json");
const REST_API_KEY: &str = include_str!("fixtures/events/rest_v1_api_key.json");
const REST_DOUBLE_SLASH: &str = include_str!("fixtures/events/rest_v1_double_slash.json");
const HTTP_API_V1: &str = include_str!("fixtures/events/http_api_v1.json");
const HTTP_API_V2: &str = include_str!("fixtures/events/http_api_v2.json");
const FUNCTION_URL: &str = include_str!("fixtures/events/function_url.json");
const ALB_SINGLE: &str = include_str!("fixtures/events/alb_single_value.json");
const ALB_MULTI: &str = include_str!("fixtures/events/alb_multi_value.json");

const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;

/// Runs of the keyed handlers: a refused event must not move it.
static KEYED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[post("/requests", api_key_required = true)]
async fn start_request() -> (StatusCode, &'static str) {
    KEYED_RUNS.fetch_add(1, Ordering::SeqCst);
    (StatusCode::ACCEPTED, "started")
}

#[get("/requests/{id}", api_key_required = true)]
async fn request_status(id: String) -> String {
    KEYED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("status of {id}")
}

#[route(ANY, "/admin/{path+}", api_key_required = true)]
async fn admin(path: String) -> String {
    KEYED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("admin {path}")
}

#[get("/open/{name}")]
async fn open(name: String) -> String {
    format!("open {name}")
}

/// The approve link of the approval example, in miniature.
#[get("/respond/{decision}")]
async fn respond(decision: String) -> String {
    decision
}

#[get("/link")]
async fn link(req: LinkProbe) -> String {
    req.0
}

/// `url_for("respond")`, or the error.
struct LinkProbe(String);

impl portico::FromRequest for LinkProbe {
    type Rejection = std::convert::Infallible;
    fn from_request(req: &mut portico::Request) -> Result<Self, Self::Rejection> {
        Ok(LinkProbe(
            match req.url_for("respond", &[("decision", "succeed")]) {
                Ok(url) => url,
                Err(err) => format!("error: {err}"),
            },
        ))
    }
}

fn app() -> App {
    App::new().routes(routes![
        start_request,
        request_status,
        admin,
        open,
        respond,
        link
    ])
}

/// The reply of the function to `event`: status, body, and the whole reply JSON.
async fn call(client: &TestClient, event: &Value) -> (u16, String, Value) {
    let raw = client
        .invoke_raw(&event.to_string())
        .await
        .unwrap_or_else(|(kind, message)| panic!("{kind}: {message}"));
    let reply: Value = serde_json::from_str(&raw).unwrap();
    let status = reply["statusCode"].as_u64().unwrap() as u16;
    let body = reply["body"].as_str().unwrap_or_default().to_owned();
    (status, body, reply)
}

/// Asserts `event` is refused with API Gateway's 403 and ran no keyed handler.
async fn assert_refused(client: &TestClient, event: &Value, case: &str) {
    let before = KEYED_RUNS.load(Ordering::SeqCst);
    let (status, body, reply) = call(client, event).await;
    // A HEAD response has the headers and no body.
    let want = if event["httpMethod"] == "HEAD" {
        ""
    } else {
        FORBIDDEN
    };
    assert_eq!((status, body.as_str()), (403, want), "{case}: {reply}");
    let error_type = reply["multiValueHeaders"]["x-amzn-errortype"][0]
        .as_str()
        .or_else(|| reply["headers"]["x-amzn-errortype"].as_str());
    assert_eq!(error_type, Some("ForbiddenException"), "{case}: {reply}");
    assert_eq!(
        KEYED_RUNS.load(Ordering::SeqCst),
        before,
        "{case}: a keyed handler ran"
    );
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A REST event for `method path` through `resource`, with or without a checked key.
fn rest(method: &str, path: &str, resource: &str, params: Value, key: bool) -> Value {
    let mut event = fixture(REST_API_KEY);
    event["httpMethod"] = json!(method);
    event["path"] = json!(path);
    event["resource"] = json!(resource);
    event["pathParameters"] = params;
    event["body"] = Value::Null;
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["resourcePath"] = json!(resource);
    event["requestContext"]["path"] = json!(format!("/testStage{path}"));
    if !key {
        event["requestContext"]["identity"]["apiKey"] = Value::Null;
        event["requestContext"]["identity"]
            .as_object_mut()
            .unwrap()
            .remove("apiKeyId");
    }
    event
}

#[tokio::test]
async fn rest_api_events_run_keyed_routes_only_through_their_resource_with_a_key() {
    let client = TestClient::new(app());

    // As API Gateway sends it for the keyed method: served.
    let (status, body, _) = call(&client, &fixture(REST_API_KEY)).await;
    assert_eq!((status, body.as_str()), (202, "started"));
    // The issue's case: `//requests` through `/{proxy+}`, no key. The router sees `/requests`
    // (the extra segment looks like a base path); the resource says otherwise.
    assert_refused(&client, &fixture(REST_DOUBLE_SLASH), "POST //requests").await;
    let mut status_event = fixture(REST_DOUBLE_SLASH);
    status_event["httpMethod"] = json!("GET");
    status_event["path"] = json!("//requests/7");
    status_event["pathParameters"] = json!({"proxy": "/requests/7"});
    assert_refused(&client, &status_event, "GET //requests/7").await;

    // `Ok(body)`: served; `Err(case)`: refused.
    for (method, path, resource, params, key, outcome) in [
        // Through their own resources, with a key.
        (
            "GET",
            "/requests/7",
            "/requests/{id}",
            json!({"id": "7"}),
            true,
            Ok("status of 7"),
        ),
        (
            "DELETE",
            "/admin/a/b",
            "/admin/{path+}",
            json!({"path": "a/b"}),
            true,
            Ok("admin a/b"),
        ),
        // Routes without gateway options are untouched, through any resource.
        (
            "GET",
            "/open/x",
            "/{proxy+}",
            json!({"proxy": "open/x"}),
            false,
            Ok("open x"),
        ),
        // Through the proxy, even with a key (another keyed method's), or with `path`
        // normalised.
        (
            "POST",
            "/requests",
            "/{proxy+}",
            json!({"proxy": "requests"}),
            false,
            Err("proxy"),
        ),
        (
            "POST",
            "/requests",
            "/{proxy+}",
            json!({"proxy": "requests"}),
            true,
            Err("proxy, key"),
        ),
        // Its own resource without a key: a method the resource lacks (its open `ANY`), such
        // as HEAD, which the router serves with the keyed GET.
        (
            "HEAD",
            "/requests/7",
            "/requests/{id}",
            json!({"id": "7"}),
            false,
            Err("HEAD, no key"),
        ),
        (
            "POST",
            "/requests",
            "/requests",
            Value::Null,
            false,
            Err("own resource, no key"),
        ),
        // Another keyed resource's key and template.
        (
            "GET",
            "/requests/7",
            "/admin/{path+}",
            json!({"path": "x"}),
            true,
            Err("another resource"),
        ),
    ] {
        let event = rest(method, path, resource, params, key);
        match outcome {
            Ok(want) => {
                let (status, body, _) = call(&client, &event).await;
                assert_eq!((status, body.as_str()), (200, want), "{method} {path}");
            }
            Err(case) => assert_refused(&client, &event, case).await,
        }
    }
    // `resource` and `requestContext.resourcePath` disagree, or are missing.
    let mut forged = fixture(REST_API_KEY);
    forged["requestContext"]["resourcePath"] = json!("/{proxy+}");
    assert_refused(&client, &forged, "resource and resourcePath disagree").await;
    let mut bare = fixture(REST_API_KEY);
    bare.as_object_mut().unwrap().remove("resource");
    bare["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("resourcePath");
    assert_refused(&client, &bare, "no resource").await;
    let mut empty_id = fixture(REST_API_KEY);
    empty_id["requestContext"]["identity"]["apiKeyId"] = json!("");
    assert_refused(&client, &empty_id, "empty apiKeyId").await;
}

#[tokio::test]
async fn the_refusal_is_api_gateways_403_and_keeps_cors() {
    let client = TestClient::new(app().cors(Cors::new().allow_origin("https://app.example")));
    let (_, _, reply) = call(&client, &fixture(REST_DOUBLE_SLASH)).await;
    assert_eq!(reply["statusCode"], 403);
    assert_eq!(reply["body"], FORBIDDEN);
    assert_eq!(
        reply["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert_eq!(
        reply["multiValueHeaders"]["x-amzn-errortype"],
        json!(["ForbiddenException"])
    );
    assert_eq!(
        reply["multiValueHeaders"]["access-control-allow-origin"],
        json!(["https://app.example"])
    );
}

#[tokio::test]
async fn sources_without_api_keys_never_run_keyed_routes() {
    let client = TestClient::new(app());
    let set_path = |mut event: Value, method: &str, path: &str| {
        if event.get("rawPath").is_some() {
            event["rawPath"] = json!(path);
            event["requestContext"]["http"]["method"] = json!(method);
            event["requestContext"]["http"]["path"] = json!(path);
        } else {
            event["path"] = json!(path);
            event["httpMethod"] = json!(method);
            if event["requestContext"].get("path").is_some() {
                event["requestContext"]["path"] = json!(path);
            }
        }
        event["body"] = Value::Null;
        event["isBase64Encoded"] = json!(false);
        event
    };
    for (name, text) in [
        ("HTTP API payload 1.0", HTTP_API_V1),
        ("HTTP API payload 2.0", HTTP_API_V2),
        ("function URL", FUNCTION_URL),
        ("ALB", ALB_SINGLE),
        ("ALB multi-value", ALB_MULTI),
    ] {
        for (method, path) in [
            ("POST", "/requests"),
            ("GET", "/requests/7"),
            ("PUT", "/admin/x"),
        ] {
            let mut event = set_path(fixture(text), method, path);
            // Even an HTTP API route named like the app's route does not vouch for a key.
            if event.get("routeKey").is_some() {
                event["routeKey"] = json!(format!("{method} {path}"));
            }
            if name == "HTTP API payload 1.0" {
                event["resource"] = json!(path);
                event["requestContext"]["resourcePath"] = json!(path);
                event["requestContext"]["identity"]["apiKeyId"] = json!("forged");
            }
            assert_refused(&client, &event, &format!("{name}: {method} {path}")).await;
        }
        let event = set_path(fixture(text), "GET", "/open/y");
        let (status, body, reply) = call(&client, &event).await;
        assert_eq!((status, body.as_str()), (200, "open y"), "{name}: {reply}");
    }
}

#[tokio::test]
async fn links_use_the_host_the_front_door_vouches_for() {
    let client = TestClient::new(app());
    let link = |mut event: Value, host_header: &str| {
        for map in ["headers", "multiValueHeaders"] {
            if let Some(headers) = event.get_mut(map).and_then(Value::as_object_mut) {
                headers.retain(|name, _| !name.eq_ignore_ascii_case("host"));
                let value = if map == "headers" {
                    json!(host_header)
                } else {
                    json!([host_header])
                };
                headers.insert("Host".to_owned(), value);
            }
        }
        if event.get("rawPath").is_some() {
            event["rawPath"] = json!("/link");
            event["requestContext"]["http"]["method"] = json!("GET");
        } else {
            event["path"] = json!("/link");
            event["httpMethod"] = json!("GET");
            event["pathParameters"] = Value::Null;
            if event["requestContext"].get("path").is_some() {
                event["requestContext"]["path"] = json!("/testStage/link");
            }
        }
        event["body"] = Value::Null;
        event["isBase64Encoded"] = json!(false);
        event
    };
    let cases = [
        (
            "REST",
            REST_API_KEY,
            "https://gy415nuibc.execute-api.us-east-1.amazonaws.com/testStage/respond/succeed",
        ),
        (
            "HTTP API 2.0",
            HTTP_API_V2,
            "https://id.execute-api.us-east-1.amazonaws.com/respond/succeed",
        ),
        (
            "function URL",
            FUNCTION_URL,
            "https://<url-id>.lambda-url.us-west-2.on.aws/respond/succeed",
        ),
        // No `domainName` (the documented proxy example has none): no link, rather than one
        // on the `Host` header.
        (
            "REST without domainName",
            REST_PROXY,
            "error: the event carries no domain name",
        ),
        (
            "ALB",
            ALB_SINGLE,
            "error: behind an Application Load Balancer the Host header is the client's choice; \
             set PORTICO_PUBLIC_URL (or App::public_url) to the app's public base URL",
        ),
    ];
    let cases = cases.map(|(name, raw, want)| (name, link(fixture(raw), "evil.example"), want));
    for (name, event, want) in &cases {
        let (status, body, reply) = call(&client, event).await;
        assert_eq!(status, 200, "{name}: {reply}");
        assert_eq!(body, *want, "{name}");
        assert!(!body.contains("evil"), "{name}: {body}");
    }

    // A configured public URL wins for every source.
    let configured = TestClient::new(app().public_url("https://approvals.example.com/hr/"));
    for (name, event, _) in &cases {
        let (_, body, _) = call(&configured, event).await;
        assert_eq!(
            body, "https://approvals.example.com/hr/respond/succeed",
            "{name}"
        );
    }
}

#[test]
#[should_panic(expected = "App::public_url")]
fn a_public_url_must_be_http_or_https() {
    let _ = App::new().public_url("approvals.example.com");
}

#[tokio::test]
async fn the_test_client_plays_the_deployed_gateway() {
    let client = TestClient::new(app());
    let res = client.post("/requests").send().await;
    assert_eq!((res.status().as_u16(), res.text()), (202, "started".into()));
    let res = client
        .get("/requests/9")
        .header("x-api-key", "k")
        .send()
        .await;
    assert_eq!(res.status(), 200);
    // HEAD is the GET's (with a key); another method takes the resource's open ANY, without.
    assert_eq!(
        client.request("HEAD", "/requests/9").send().await.status(),
        200
    );
    let event = client.request("PUT", "/requests/9").to_event();
    assert_eq!(event["resource"], "/requests/{id}");
    assert!(
        event["requestContext"]["identity"]
            .get("apiKeyId")
            .is_none()
    );
    assert_eq!(
        client.request("PUT", "/requests/9").send().await.status(),
        405
    );
    let event = client
        .get("/requests/9")
        .header("x-api-key", "k")
        .to_event();
    assert_eq!(event["resource"], "/requests/{id}");
    assert_eq!(event["pathParameters"], json!({"id": "9"}));
    assert_eq!(event["requestContext"]["identity"]["apiKey"], "k");
    let event = client.get("/open/x").to_event();
    assert_eq!(event["resource"], "/{proxy+}");
    assert!(
        event["requestContext"]["identity"]
            .get("apiKeyId")
            .is_none()
    );
}
