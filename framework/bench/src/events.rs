//! The event mix: API Gateway REST API (payload 1.0) proxy events as an edge-optimized API
//! delivers them, CloudFront headers included, built from one template.

use serde_json::{Map, Value, json};

/// The template every event is built from: the workspace's fixture
/// `framework/tests/fixtures/events/rest_v1_cloudfront.json`, a `GET /users/42` on stage `prod`
/// of a REST API whose only resources are `/` and `/{proxy+}` with method `ANY` (how Portico
/// deploys), with the headers an edge-optimized endpoint adds (`CloudFront-*`, `Via`,
/// `X-Amz-Cf-Id`, `X-Amzn-Trace-Id`, `X-Forwarded-*`) and a desktop browser sends (its README
/// gives the sources). Method, path, query, body and ids are replaced per request.
pub const TEMPLATE: &str = include_str!("../../tests/fixtures/events/rest_v1_cloudfront.json");

/// The stage in the template's `requestContext`.
pub const STAGE: &str = "prod";

/// One request of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSpec {
    /// Short label for tables, e.g. `GET /users/{id}`.
    pub label: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Path without the stage, as the client asked for it after the stage.
    pub path: &'static str,
    /// Decoded query string parameters.
    pub query: &'static [(&'static str, &'static str)],
    /// `(content type, body)` of a request with a body.
    pub body: Option<(&'static str, &'static str)>,
}

/// The five requests the hello API is measured on, one of each behaviour.
pub const MIX: [RequestSpec; 5] = [
    RequestSpec {
        label: "GET /",
        method: "GET",
        path: "/",
        query: &[],
        body: None,
    },
    RequestSpec {
        label: "GET /users/{id}",
        method: "GET",
        path: "/users/42",
        query: &[],
        body: None,
    },
    RequestSpec {
        label: "POST /users",
        method: "POST",
        path: "/users",
        query: &[],
        body: Some((
            "application/json",
            r#"{"name":"Ada Lovelace","email":"ada@example.com"}"#,
        )),
    },
    RequestSpec {
        label: "GET /respond/succeed",
        method: "GET",
        path: "/respond/succeed",
        query: &[("taskToken", "AAAAKgAAAAIAAAAAAAAAAb0cL9Zq2lN1x")],
        body: None,
    },
    RequestSpec {
        label: "GET /nope (404)",
        method: "GET",
        path: "/nope",
        query: &[],
        body: None,
    },
];

/// Requests outside the mix whose answers must also agree across peers: the error paths.
pub const ERROR_CASES: [RequestSpec; 6] = [
    RequestSpec {
        label: "POST /users missing field",
        method: "POST",
        path: "/users",
        query: &[],
        body: Some(("application/json", r#"{"name":"Ada"}"#)),
    },
    RequestSpec {
        label: "POST /users wrong type",
        method: "POST",
        path: "/users",
        query: &[],
        body: Some(("application/json", r#"{"name":1,"email":"x"}"#)),
    },
    RequestSpec {
        label: "POST /users malformed",
        method: "POST",
        path: "/users",
        query: &[],
        body: Some(("application/json", r#"{"name": "#)),
    },
    RequestSpec {
        label: "POST /users charset",
        method: "POST",
        path: "/users",
        query: &[],
        body: Some((
            "application/json; charset=utf-8",
            r#"{"name":"Ada","email":"ada@example.com"}"#,
        )),
    },
    RequestSpec {
        label: "GET /respond/succeed no token",
        method: "GET",
        path: "/respond/succeed",
        query: &[],
        body: None,
    },
    RequestSpec {
        label: "GET /respond/succeed empty token",
        method: "GET",
        path: "/respond/succeed",
        query: &[("taskToken", "")],
        body: None,
    },
];

/// A ready-to-send invocation payload.
#[derive(Debug, Clone)]
pub struct Event {
    /// The request it carries.
    pub spec: RequestSpec,
    /// Compact JSON, as the Runtime API hands it to the function.
    pub payload: Vec<u8>,
}

/// The mix as payloads, in [`MIX`] order.
pub fn mix() -> Vec<Event> {
    MIX.iter().enumerate().map(|(i, s)| event(s, i)).collect()
}

/// The error cases as payloads, in [`ERROR_CASES`] order.
pub fn error_cases() -> Vec<Event> {
    ERROR_CASES
        .iter()
        .enumerate()
        .map(|(i, s)| event(s, 100 + i))
        .collect()
}

fn event(spec: &RequestSpec, n: usize) -> Event {
    Event {
        spec: *spec,
        payload: rest_event(spec, n),
    }
}

/// Builds the REST API proxy event API Gateway would send for `spec`; `n` varies the request
/// ids so that no two events of a run are byte-identical.
///
/// # Panics
/// If [`TEMPLATE`] is not the JSON object it ships as.
pub fn rest_event(spec: &RequestSpec, n: usize) -> Vec<u8> {
    let mut ev: Value = serde_json::from_str(TEMPLATE).expect("the event template is JSON");
    let root = spec.path == "/";
    let resource = if root { "/" } else { "/{proxy+}" };
    let o = ev.as_object_mut().expect("the event template is an object");
    o.insert("resource".into(), json!(resource));
    o.insert("path".into(), json!(spec.path));
    o.insert("httpMethod".into(), json!(spec.method));
    o.insert(
        "pathParameters".into(),
        if root {
            Value::Null
        } else {
            json!({ "proxy": &spec.path[1..] })
        },
    );
    let (single, multi) = if spec.query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let mut single = Map::new();
        let mut multi = Map::new();
        for (k, v) in spec.query {
            single.insert((*k).into(), json!(v));
            multi.insert((*k).into(), json!([v]));
        }
        (Value::Object(single), Value::Object(multi))
    };
    o.insert("queryStringParameters".into(), single);
    o.insert("multiValueQueryStringParameters".into(), multi);
    if let Some((content_type, body)) = spec.body {
        for (name, value) in [
            ("Content-Type", content_type.to_owned()),
            ("Content-Length", body.len().to_string()),
        ] {
            o["headers"][name] = json!(value);
            o["multiValueHeaders"][name] = json!([value]);
        }
        o.insert("body".into(), json!(body));
    }
    let ctx = &mut o["requestContext"];
    ctx["resourcePath"] = json!(resource);
    ctx["httpMethod"] = json!(spec.method);
    ctx["path"] = json!(format!("/{STAGE}{}", spec.path));
    ctx["requestId"] = json!(format!("5c8f2d1e-9a7b-4c3d-8e6f-{n:012x}"));
    ctx["requestTimeEpoch"] = json!(1_764_175_001_123_u64 + n as u64);
    serde_json::to_vec(&ev).expect("a JSON value serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_the_size_api_gateway_sends() {
        for ev in mix() {
            let len = ev.payload.len();
            assert!(
                (2_700..3_300).contains(&len),
                "{}: {len} bytes",
                ev.spec.label
            );
        }
    }

    #[test]
    fn stage_is_in_the_context_path_only() {
        let ev: Value = serde_json::from_slice(&mix()[1].payload).unwrap();
        assert_eq!(ev["path"], "/users/42");
        assert_eq!(ev["requestContext"]["path"], "/prod/users/42");
        assert_eq!(ev["pathParameters"]["proxy"], "users/42");
    }
}
