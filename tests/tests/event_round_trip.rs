//! One event builder for every producer: for each HTTP event fixture (real payloads from AWS's
//! documentation, `framework/tests/fixtures/events`), the request the framework decodes from
//! the fixture is rebuilt as a REST v1 event by the local gateway's builder
//! (`portico_spec::apigw::RestRequest`, as `portico local` calls it) and by the framework's
//! test client; both must decode to the same request, and that request must be the fixture's.
//! HTTP API (payload 2.0) fixtures are also rebuilt by the v2 builder.

use std::path::Path;

use portico::prelude::*;
use portico::testing::{TEST_STAGE, TestClient};
use portico::{FromRequest, Request};
use portico_spec::apigw::{
    self, HttpApiContext, HttpApiRequest, Resource, RestContext, RestRequest,
};
use serde_json::{Value, json};

/// What a handler sees of a request, as JSON.
struct Seen(Value);

impl FromRequest for Seen {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(Self(portico_e2e::request_json(req)))
    }
}

#[route(ANY, "/")]
async fn root(Seen(seen): Seen) -> Json<Value> {
    Json(seen)
}

#[route(ANY, "/{rest+}")]
async fn anything(rest: String, Seen(seen): Seen) -> Json<Value> {
    assert!(!rest.is_empty());
    Json(seen)
}

fn client() -> TestClient {
    TestClient::new(App::new().routes(routes![root, anything]))
}

/// Runs `event` through the framework's decode → route → encode path and returns what the
/// handler saw.
async fn decode(event: &[u8]) -> Value {
    let payload = std::str::from_utf8(event).unwrap();
    let reply = client().invoke_raw(payload).await.unwrap();
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["statusCode"], 200, "{reply}");
    serde_json::from_str(reply["body"].as_str().unwrap()).unwrap()
}

/// The request part of what a handler saw: what the client sent, not how it travelled.
fn request_part(seen: &Value) -> Value {
    let mut headers = seen["headers"].as_object().unwrap().clone();
    headers.remove("host");
    json!({
        "method": seen["method"],
        "path": seen["path"],
        "query": seen["query"],
        "headers": headers,
        "body": seen["body"],
    })
}

fn header_pairs(seen: &Value, skip: &[&str]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (name, values) in seen["headers"].as_object().unwrap() {
        if skip.contains(&name.as_str()) {
            continue;
        }
        for value in values.as_array().unwrap() {
            pairs.push((name.clone(), value.as_str().unwrap().to_owned()));
        }
    }
    pairs
}

fn body_bytes(seen: &Value) -> Vec<u8> {
    seen["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
        .collect()
}

fn fixtures() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../framework/tests/fixtures/events");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, event));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn is_http_event(event: &Value) -> bool {
    event.get("httpMethod").is_some() || event["requestContext"].get("http").is_some()
}

#[tokio::test(flavor = "current_thread")]
async fn gateway_and_test_client_events_decode_to_each_fixtures_request() {
    let fixtures = fixtures();
    let http: Vec<&(String, Value)> = fixtures.iter().filter(|(_, e)| is_http_event(e)).collect();
    assert!(http.len() >= 9, "{} HTTP fixtures", http.len());
    for (name, fixture) in http {
        let original = decode(fixture.to_string().as_bytes()).await;
        let binary = fixture["isBase64Encoded"].as_bool().unwrap_or(false)
            && fixture["body"].as_str().is_some_and(|b| !b.is_empty());
        let path = original["path"].as_str().unwrap();
        let query_pairs: Vec<(String, String)> =
            serde_json::from_value(original["query"].clone()).unwrap();
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&query_pairs)
            .finish();
        let body = body_bytes(&original);
        let host = original["headers"]["host"][0]
            .as_str()
            .or(original["context"]["domain_name"].as_str())
            .unwrap_or("localhost")
            .to_owned();
        let context_path = if host.contains(".execute-api.") {
            format!("/{TEST_STAGE}{path}")
        } else {
            path.to_owned()
        };

        // The local gateway's builder, called as `portico local` calls it.
        let mut headers = vec![("Host".to_owned(), host.clone())];
        headers.extend(header_pairs(&original, &["host"]));
        let resource = Resource::for_path(path);
        let gateway_event = RestRequest {
            method: original["method"].as_str().unwrap(),
            path,
            query: (!query.is_empty()).then_some(query.as_str()),
            headers: &headers,
            body: &body,
            binary_body: binary,
            resource: &resource,
            context: RestContext {
                resource_id: "k3x9aa",
                extended_request_id: "Wq1xYHd2FiAEQ5A=",
                request_time: "30/Apr/2024:13:37:05 +0000",
                request_time_epoch: 1_714_484_225_123,
                request_id: "8f0f9f49-8a4f-4b7e-9d3c-2b1a0e9f8c7d",
                deployment_id: Some("local1"),
                api_id: apigw::domain_prefix(&host),
                ..RestContext::new(TEST_STAGE, &context_path, &host)
            },
        }
        .to_vec()
        .unwrap();
        let from_gateway = decode(&gateway_event).await;

        // The test client, given the same request.
        let client = client().with_host(host.clone());
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        let mut request = client
            .request(original["method"].as_str().unwrap(), &target)
            .body(body.clone());
        for (header, value) in header_pairs(&original, &["host"]) {
            request = request.header(&header, &value);
        }
        if binary {
            request = request.base64();
        }
        let response = request.send().await;
        assert_eq!(response.status(), 200, "{name}: {}", response.text());
        let from_client = response.json();

        assert_eq!(from_gateway, from_client, "{name}: gateway vs test client");
        assert_eq!(
            request_part(&from_gateway),
            request_part(&original),
            "{name}: the rebuilt event vs the fixture"
        );
        assert_eq!(from_gateway["source"], "rest_api", "{name}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn http_api_events_rebuilt_decode_to_each_fixtures_request() {
    let fixtures = fixtures();
    let v2: Vec<&(String, Value)> = fixtures
        .iter()
        .filter(|(_, e)| e["version"] == "2.0")
        .collect();
    assert!(v2.len() >= 3, "{} payload 2.0 fixtures", v2.len());
    for (name, fixture) in v2 {
        let original = decode(fixture.to_string().as_bytes()).await;
        let body = body_bytes(&original);
        let binary = fixture["isBase64Encoded"].as_bool().unwrap_or(false) && !body.is_empty();
        let cookies: Vec<String> =
            serde_json::from_value(fixture.get("cookies").cloned().unwrap_or(json!([]))).unwrap();
        let context = &fixture["requestContext"];
        let headers = header_pairs(&original, &["cookie"]);
        let event = HttpApiRequest {
            method: original["method"].as_str().unwrap(),
            raw_path: fixture["rawPath"].as_str().unwrap(),
            raw_query: fixture["rawQueryString"].as_str().unwrap_or_default(),
            headers: &headers,
            cookies: &cookies,
            body: &body,
            binary_body: binary,
            context: HttpApiContext {
                stage: context["stage"].as_str().unwrap(),
                source_ip: context["http"]["sourceIp"].as_str().unwrap(),
                ..HttpApiContext::new(context["domainName"].as_str().unwrap())
            },
        }
        .to_vec()
        .unwrap();
        let rebuilt = decode(&event).await;
        assert_eq!(
            request_part(&rebuilt),
            request_part(&original),
            "{name}: the rebuilt event vs the fixture"
        );
        assert_eq!(
            rebuilt["context"]["base_path"], original["context"]["base_path"],
            "{name}"
        );
    }
}
