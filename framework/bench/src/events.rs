//! The event mix: API Gateway REST API (payload 1.0) proxy events as an edge-optimized API
//! delivers them, CloudFront headers included, built from one template.

use portico_spec::apigw::{Resource, RestContext, RestRequest};
use serde_json::Value;

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

/// Builds the REST API proxy event API Gateway would send for `spec`, with the workspace's
/// one REST v1 builder (`portico_spec::apigw`, which the local gateway and the test client
/// use too) fed the template's headers and request context; `n` varies the request ids so
/// that no two events of a run are byte-identical.
///
/// # Panics
/// If [`TEMPLATE`] is not the event it ships as.
pub fn rest_event(spec: &RequestSpec, n: usize) -> Vec<u8> {
    let template: Value = serde_json::from_str(TEMPLATE).expect("the event template is JSON");
    let text = |v: &Value| {
        v.as_str()
            .expect("a string in the event template")
            .to_owned()
    };
    let mut headers: Vec<(String, String)> = template["headers"]
        .as_object()
        .expect("the template has headers")
        .iter()
        .map(|(name, value)| (name.clone(), text(value)))
        .collect();
    if let Some((content_type, body)) = spec.body {
        headers.push(("Content-Type".to_owned(), content_type.to_owned()));
        headers.push(("Content-Length".to_owned(), body.len().to_string()));
    }
    let query: Vec<String> = spec.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let query = query.join("&");
    let ctx = &template["requestContext"];
    let field = |name: &str| text(&ctx[name]);
    let (resource_id, extended_request_id, request_time) = (
        field("resourceId"),
        field("extendedRequestId"),
        field("requestTime"),
    );
    let (account_id, protocol, domain_name, api_id) = (
        field("accountId"),
        field("protocol"),
        field("domainName"),
        field("apiId"),
    );
    let source_ip = text(&ctx["identity"]["sourceIp"]);
    let context_path = format!("/{STAGE}{}", spec.path);
    let request_id = format!("5c8f2d1e-9a7b-4c3d-8e6f-{n:012x}");
    let mut context = RestContext::new(STAGE, &context_path, &domain_name);
    context.resource_id = &resource_id;
    context.extended_request_id = &extended_request_id;
    context.request_time = &request_time;
    context.request_time_epoch = 1_764_175_001_123 + n as i64;
    context.account_id = &account_id;
    context.protocol = &protocol;
    context.request_id = &request_id;
    context.source_ip = &source_ip;
    context.api_id = &api_id;
    RestRequest {
        method: spec.method,
        path: spec.path,
        query: (!query.is_empty()).then_some(query.as_str()),
        headers: &headers,
        body: spec.body.map_or(&b""[..], |(_, body)| body.as_bytes()),
        binary_body: false,
        resource: &Resource::for_path(spec.path),
        context,
    }
    .to_vec()
    .expect("a REST event serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn events_keep_the_template_and_vary_per_request() {
        let template: Value = serde_json::from_str(TEMPLATE).unwrap();
        let root: Value = serde_json::from_slice(&mix()[0].payload).unwrap();
        assert_eq!(
            (&root["resource"], &root["pathParameters"]),
            (&json!("/"), &Value::Null)
        );
        let post: Value = serde_json::from_slice(&mix()[2].payload).unwrap();
        assert_eq!(post["headers"]["Content-Length"], "49");
        assert_eq!(post["headers"]["Via"], template["headers"]["Via"]);
        assert_eq!(
            post["requestContext"]["identity"],
            template["requestContext"]["identity"]
        );
        assert_eq!(post["requestContext"]["domainPrefix"], "a1b2c3d4e5");
        let token: Value = serde_json::from_slice(&mix()[3].payload).unwrap();
        assert_eq!(
            token["multiValueQueryStringParameters"]["taskToken"],
            json!(["AAAAKgAAAAIAAAAAAAAAAb0cL9Zq2lN1x"])
        );
        let ids: Vec<Value> = mix()
            .iter()
            .map(|e| {
                serde_json::from_slice::<Value>(&e.payload).unwrap()["requestContext"]["requestId"]
                    .clone()
            })
            .collect();
        assert!(ids.windows(2).all(|w| w[0] != w[1]), "{ids:?}");
    }
}
