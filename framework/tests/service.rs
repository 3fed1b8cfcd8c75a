//! `App::service`: an axum router behind every front door, in-process.
//!
//! REST API events come from the test client (the builder `portico local`'s gateway uses, on
//! an execute-api host with stage `test`); HTTP API, function URL and ALB events are the
//! AWS-published payloads of `tests/fixtures/events/` with method, path, query, headers and
//! body set per case. Each reply is read with the front door's own response parser.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use portico::prelude::*;
use portico::testing::TestClient;
use portico::{ServiceBody, ServiceContext};
use portico_spec::apigw::{PayloadFormat, ProxyResponse, parse_proxy_response};
use serde_json::{Value, json};

const HTTP_API_V2_STAGE: &str = include_str!("fixtures/events/http_api_v2_stage.json");
const FUNCTION_URL: &str = include_str!("fixtures/events/function_url.json");
const ALB_MULTI: &str = include_str!("fixtures/events/alb_multi_value.json");
const ALB_SINGLE: &str = include_str!("fixtures/events/alb_single_value.json");

/// Bytes that are not UTF-8 (and include a NUL).
const BINARY: &[u8] = &[0, 159, 146, 150, 255, 1, 254];

/// What the handler saw, and an answer with a status, repeated headers and cookies the front
/// door must pass on unchanged.
async fn echo(
    method: Method,
    uri: Uri,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut pairs = pairs;
    pairs.sort();
    let seen = json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": pairs,
        "custom": headers.get("x-custom").and_then(|v| v.to_str().ok()),
        "content_type": headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        "body": B64.encode(&body),
    });
    let mut res = (StatusCode::ACCEPTED, Json(seen)).into_response();
    let h = res.headers_mut();
    h.insert("x-echo", HeaderValue::from_static("yes"));
    h.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
    h.append(header::SET_COOKIE, HeaderValue::from_static("b=2; Path=/"));
    res
}

async fn bytes() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/octet-stream")], BINARY)
}

async fn boom() -> &'static str {
    panic!("the service's handler panicked on purpose")
}

async fn links(Extension(portico): Extension<ServiceContext>) -> Json<Value> {
    Json(json!({
        "self": portico.url("/links").ok(),
        "native": portico.url_for("native", &[]).ok(),
        "stage": portico.context().stage,
        "source": format!("{:?}", portico.source()),
    }))
}

async fn fallback(method: Method, uri: Uri) -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"axum_fallback": format!("{method} {}", uri.path())})),
    )
}

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "root of the service" }))
        .route("/echo/{*rest}", any(echo))
        .route("/bytes", get(bytes))
        .route("/boom", get(boom))
        .route("/links", get(links))
        .fallback(fallback)
}

#[get("/native")]
async fn native() -> &'static str {
    "portico route"
}

fn app() -> App {
    App::new().routes(routes![native]).service(router())
}

/// One request, as every source delivers it.
struct Case<'a> {
    method: &'a str,
    /// Path as the client sent it (percent-encoded), without the stage.
    path: &'a str,
    /// Raw query string, without `?`.
    query: &'a str,
    content_type: &'a str,
    body: &'a [u8],
    base64: bool,
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn body_fields(event: &mut Value, case: &Case<'_>) {
    event["body"] = if case.base64 {
        json!(B64.encode(case.body))
    } else {
        json!(String::from_utf8(case.body.to_vec()).unwrap())
    };
    event["isBase64Encoded"] = json!(case.base64);
}

/// An HTTP API event on the named stage `default` (`rawPath` keeps the stage) or a function
/// URL event (no stage).
fn http_api_event(case: &Case<'_>, function_url: bool) -> Value {
    let mut event = fixture(if function_url {
        FUNCTION_URL
    } else {
        HTTP_API_V2_STAGE
    });
    let raw_path = if function_url {
        case.path.to_owned()
    } else {
        format!("/default{}", case.path)
    };
    event["routeKey"] = json!("$default");
    event["requestContext"]["routeKey"] = json!("$default");
    event["rawPath"] = json!(raw_path);
    event["requestContext"]["http"]["path"] = json!(raw_path);
    event["requestContext"]["http"]["method"] = json!(case.method);
    event["rawQueryString"] = json!(case.query);
    event
        .as_object_mut()
        .unwrap()
        .remove("queryStringParameters");
    event.as_object_mut().unwrap().remove("pathParameters");
    event["headers"]["x-custom"] = json!("yes");
    event["headers"]["content-type"] = json!(case.content_type);
    body_fields(&mut event, case);
    event
}

/// An ALB event with multi-value headers and query (which the load balancer passes as the
/// client sent them, percent-encoded).
fn alb_event(case: &Case<'_>) -> Value {
    let mut event = fixture(ALB_MULTI);
    event["httpMethod"] = json!(case.method);
    event["path"] = json!(case.path);
    let mut query = serde_json::Map::new();
    for pair in case.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(k.to_owned())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap()
            .push(json!(v));
    }
    event["multiValueQueryStringParameters"] = Value::Object(query);
    event["multiValueHeaders"]["x-custom"] = json!(["yes"]);
    event["multiValueHeaders"]["content-type"] = json!([case.content_type]);
    body_fields(&mut event, case);
    event
}

async fn invoke(client: &TestClient, event: &Value, format: PayloadFormat) -> ProxyResponse {
    let raw = client
        .invoke_raw(&event.to_string())
        .await
        .unwrap_or_else(|(kind, message)| panic!("{kind}: {message}"));
    parse_proxy_response(raw.as_bytes(), format)
        .unwrap_or_else(|e| panic!("not a {format:?} response ({e}): {raw}"))
}

/// The reply to `case` from each source: (source name, status, headers, cookies, body).
async fn each_source(client: &TestClient, case: &Case<'_>) -> Vec<(&'static str, ProxyResponse)> {
    let mut rest = client.request(case.method, &format!("{}?{}", case.path, case.query));
    rest = rest
        .header("x-custom", "yes")
        .header("content-type", case.content_type)
        .body(case.body.to_vec());
    if case.base64 {
        rest = rest.base64();
    }
    let rest_event = rest.to_event();
    vec![
        (
            "REST API",
            invoke(client, &rest_event, PayloadFormat::RestV1).await,
        ),
        (
            "HTTP API",
            invoke(client, &http_api_event(case, false), PayloadFormat::HttpV2).await,
        ),
        (
            "function URL",
            invoke(client, &http_api_event(case, true), PayloadFormat::HttpV2).await,
        ),
        (
            "ALB",
            invoke(client, &alb_event(case), PayloadFormat::Alb).await,
        ),
    ]
}

fn header<'r>(res: &'r ProxyResponse, name: &str) -> Vec<&'r str> {
    res.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, values)| values.iter().map(String::as_str))
        .collect()
}

/// `Set-Cookie` values, wherever the source's format puts them.
fn cookies(res: &ProxyResponse) -> Vec<&str> {
    let mut all: Vec<&str> = header(res, "set-cookie");
    all.extend(res.cookies.iter().map(String::as_str));
    all
}

#[tokio::test]
async fn every_source_reaches_the_service_with_the_request_as_sent() {
    let client = TestClient::new(app());
    let cases = [
        Case {
            method: "POST",
            path: "/echo/items/42",
            query: "q=rust%20lang&tag=a&tag=b",
            content_type: "text/plain; charset=utf-8",
            body: b"hello body",
            base64: false,
        },
        Case {
            method: "PUT",
            path: "/echo/files/photo.bin",
            query: "v=2",
            content_type: "application/octet-stream",
            body: BINARY,
            base64: true,
        },
        Case {
            method: "DELETE",
            path: "/echo/x",
            query: "",
            content_type: "text/plain",
            body: b"",
            base64: false,
        },
    ];
    for case in &cases {
        let mut want_query: Vec<(String, String)> = form_urlencoded::parse(case.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        want_query.sort();
        for (source, res) in each_source(&client, case).await {
            let what = format!("{source}: {} {}", case.method, case.path);
            assert_eq!(res.status, 202, "{what}: {res:?}");
            let seen: Value = serde_json::from_slice(res.body.bytes()).expect("echo JSON");
            assert_eq!(seen["method"], case.method, "{what}");
            assert_eq!(seen["path"], case.path, "{what}: the stage never shows");
            assert_eq!(seen["query"], json!(want_query), "{what}");
            assert_eq!(seen["custom"], "yes", "{what}");
            assert_eq!(seen["content_type"], case.content_type, "{what}");
            assert_eq!(seen["body"], B64.encode(case.body), "{what}: body bytes");
            assert_eq!(header(&res, "x-echo"), ["yes"], "{what}");
            assert_eq!(header(&res, "content-type"), ["application/json"], "{what}");
            assert_eq!(cookies(&res), ["a=1; Path=/", "b=2; Path=/"], "{what}");
        }
    }
}

#[tokio::test]
async fn binary_responses_are_base64_on_the_wire_for_every_source() {
    let client = TestClient::new(app());
    let case = Case {
        method: "GET",
        path: "/bytes",
        query: "",
        content_type: "text/plain",
        body: b"",
        base64: false,
    };
    for (source, res) in each_source(&client, &case).await {
        assert_eq!(res.status, 200, "{source}");
        assert!(res.body.is_base64(), "{source}: {res:?}");
        assert_eq!(res.body.bytes(), BINARY, "{source}");
        assert_eq!(
            header(&res, "content-type"),
            ["application/octet-stream"],
            "{source}"
        );
    }
}

#[tokio::test]
async fn a_panic_is_portico_s_500_and_the_next_request_is_served() {
    let client = TestClient::new(app());
    for round in 0..3 {
        let res = client.get("/boom").send().await;
        assert_eq!(res.status(), 500, "round {round}");
        assert_eq!(
            res.json(),
            json!({"code": "InternalServerError", "message": "An internal server error occurred."})
        );
        let res = client.post("/echo/after?round=1").body("next").send().await;
        assert_eq!(res.status(), 202, "round {round}: {}", res.text());
        assert_eq!(res.json()["body"], B64.encode("next"));
    }
    // Through the other front doors too (the panic never reaches the Lambda runtime).
    let case = Case {
        method: "GET",
        path: "/boom",
        query: "",
        content_type: "text/plain",
        body: b"",
        base64: false,
    };
    for (source, res) in each_source(&client, &case).await {
        assert_eq!(res.status, 500, "{source}");
        let body: Value = serde_json::from_slice(res.body.bytes()).unwrap();
        assert_eq!(body["code"], "InternalServerError", "{source}");
    }
}

/// A service whose calls fail for `/fail` (and whose readiness fails after `/unready`).
#[derive(Clone)]
struct Failing {
    inner: Router,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<http::Request<ServiceBody>> for Failing {
    type Response = axum::response::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<ServiceBody>) -> Self::Future {
        if req.uri().path() == "/fail" {
            return Box::pin(async { Err("the database is gone".into()) });
        }
        let mut inner = self.inner.clone();
        Box::pin(async move {
            tower_service::Service::call(&mut inner, req)
                .await
                .map_err(Into::into)
        })
    }
}

#[tokio::test]
async fn a_service_error_is_portico_s_500() {
    let client = TestClient::new(App::new().service(Failing { inner: router() }));
    let res = client.get("/fail").send().await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.json()["code"], "InternalServerError");
    assert!(
        !res.text().contains("database"),
        "the error's text stays in the log: {}",
        res.text()
    );
    assert_eq!(client.get("/").send().await.text(), "root of the service");
}

#[tokio::test]
async fn routes_win_and_the_service_answers_everything_else() {
    let client = TestClient::new(app());
    assert_eq!(client.get("/native").send().await.text(), "portico route");
    // The route's path with another method: the service's, which may answer it.
    let res = client.post("/native").send().await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json(), json!({"axum_fallback": "POST /native"}));
    let res = client.get("/nowhere/at/all").send().await;
    assert_eq!(res.json(), json!({"axum_fallback": "GET /nowhere/at/all"}));
    assert_eq!(client.get("/").send().await.text(), "root of the service");

    // Without routes, the service answers everything.
    let only = TestClient::new(App::new().service(router()));
    assert_eq!(
        only.get("/native").send().await.json(),
        json!({"axum_fallback": "GET /native"})
    );
}

#[tokio::test]
async fn the_service_builds_links_with_the_stage_it_never_sees() {
    let client = TestClient::new(app());
    let res = client.get("/links").send().await;
    assert_eq!(
        res.json(),
        json!({
            "self": "https://abcdef1234.execute-api.us-east-1.amazonaws.com/test/links",
            "native": "https://abcdef1234.execute-api.us-east-1.amazonaws.com/test/native",
            "stage": "test",
            "source": "RestApi",
        })
    );
    let custom = TestClient::new(app()).with_host("api.example.com");
    assert_eq!(
        custom.get("/links").send().await.json()["self"],
        "https://api.example.com/links"
    );

    let case = Case {
        method: "GET",
        path: "/links",
        query: "",
        content_type: "text/plain",
        body: b"",
        base64: false,
    };
    let replies = each_source(&client, &case).await;
    let links: Vec<(&str, Value)> = replies
        .iter()
        .map(|(source, res)| (*source, serde_json::from_slice(res.body.bytes()).unwrap()))
        .collect();
    assert_eq!(
        links[1].1["self"],
        "https://r3pmxmplak.execute-api.us-east-2.amazonaws.com/default/links"
    );
    assert_eq!(links[1].1["source"], "HttpApi");
    assert_eq!(links[2].1["source"], "FunctionUrl");
    assert_eq!(
        links[2].1["self"],
        "https://<url-id>.lambda-url.us-west-2.on.aws/links"
    );
    // Behind a load balancer the Host header is the client's: no link without a public URL.
    assert_eq!(links[3].1["source"], "Alb");
    assert_eq!(links[3].1["self"], Value::Null);
}

#[tokio::test]
async fn single_value_alb_events_reach_the_service() {
    let client = TestClient::new(app());
    let mut event = fixture(ALB_SINGLE);
    event["httpMethod"] = json!("POST");
    event["path"] = json!("/echo/single");
    event["queryStringParameters"] = json!({"a": "1%202"});
    event["body"] = json!("plain");
    event["isBase64Encoded"] = json!(false);
    let res = invoke(&client, &event, PayloadFormat::Alb).await;
    assert_eq!(res.status, 202);
    let seen: Value = serde_json::from_slice(res.body.bytes()).unwrap();
    assert_eq!(seen["path"], "/echo/single");
    assert_eq!(seen["query"], json!([["a", "1 2"]]));
    assert_eq!(seen["body"], B64.encode("plain"));
}

#[test]
fn the_manifest_describes_the_service_as_any_proxy() {
    let manifest = portico::manifest::manifest(&app());
    let routes: Vec<(&str, &str, &str)> = manifest
        .routes
        .iter()
        .map(|r| (r.name.as_str(), r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        routes,
        [
            ("native", "GET", "/native"),
            ("service", "ANY", "/{proxy+}")
        ]
    );
    let service = &manifest.routes[1];
    assert!(
        service.source.starts_with("framework/tests/service.rs:"),
        "{}",
        service.source
    );
    assert!(!service.options.api_key_required);
}

#[test]
#[should_panic(expected = "App::service: this app has a service already (set at")]
fn a_second_service_is_refused() {
    let _ = App::new().service(router()).service(router());
}
