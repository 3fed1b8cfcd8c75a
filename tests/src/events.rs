//! Lambda events as the front doors send them, and their proxy responses, for end-to-end tests.
//!
//! REST and HTTP API events are built by `portico-spec`'s builders, the ones `portico local`'s
//! gateway and the framework's test client use. REST events carry the request of a captured
//! CloudFront-fronted event (the framework's fixture `rest_v1_cloudfront.json`: stage `prod`,
//! execute-api host, CloudFront's headers) with the method, path, query, headers and body a
//! test needs, keeping AWS's conventions: `path` excludes the stage, `requestContext.path`
//! includes it, `multiValue*` maps mirror the single-value ones, and absent maps are `null`.

use portico_spec::apigw::{self, PayloadFormat};
use serde_json::{Value, json};

const REST_TEMPLATE: &str =
    include_str!("../../framework/tests/fixtures/events/rest_v1_cloudfront.json");

/// The stage of [`rest_v1`] events.
pub const REST_STAGE: &str = "prod";

/// A REST API (payload 1.0) proxy event being built.
#[derive(Debug, Clone, PartialEq)]
pub struct RestEvent {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    binary: bool,
    /// A body sent as is with `isBase64Encoded: true` (possibly not base64).
    flagged_body: Option<String>,
    /// The resource template and its path parameters, when not `/` or `/{proxy+}`.
    resource: Option<(String, Vec<(String, String)>)>,
    /// `identity.apiKey` and `identity.apiKeyId` of the key API Gateway checked.
    api_key: Option<(String, String)>,
}

/// A REST API proxy event for `method` and the routed `path` (no stage, starting with `/`),
/// behind the `/{proxy+}` resource — or the `/` resource for the root, which `{proxy+}` does
/// not match on API Gateway — with the CloudFront fixture's headers. No query string, no body.
pub fn rest_v1(method: &str, path: &str) -> RestEvent {
    let template: Value = serde_json::from_str(REST_TEMPLATE).expect("the REST fixture is JSON");
    let headers = template["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(name, values)| {
            values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| Some((name.clone(), v.as_str()?.to_owned())))
                .collect::<Vec<_>>()
        })
        .collect();
    RestEvent {
        method: method.to_owned(),
        path: path.to_owned(),
        query: Vec::new(),
        headers,
        body: Vec::new(),
        binary: false,
        flagged_body: None,
        resource: None,
        api_key: None,
    }
}

impl RestEvent {
    /// Adds a query parameter (decoded, as API Gateway delivers it); repeat for more values.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header value; repeat for more values.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Through the API's own resource `template` (e.g. `/requests/{id}`, as a key-required
    /// route is deployed) with its path parameters, instead of `/` or `/{proxy+}`.
    pub fn through_resource(mut self, template: &str, parameters: &[(&str, &str)]) -> Self {
        let parameters = parameters
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        self.resource = Some((template.to_owned(), parameters));
        self
    }

    /// With the API key (`value`, `id`) API Gateway checked, in `identity`.
    pub fn api_key(mut self, value: &str, id: &str) -> Self {
        self.api_key = Some((value.to_owned(), id.to_owned()));
        self
    }

    /// A text body.
    pub fn body(mut self, text: &str) -> Self {
        text.as_bytes().clone_into(&mut self.body);
        self.binary = false;
        self.flagged_body = None;
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json_body(self, body: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(&body.to_string())
    }

    /// A binary body: base64-encoded, `isBase64Encoded: true`.
    pub fn binary_body(mut self, bytes: &[u8]) -> Self {
        bytes.clone_into(&mut self.body);
        self.binary = true;
        self.flagged_body = None;
        self
    }

    /// `body` as given, flagged as base64 (to send an invalid one).
    pub fn base64_flagged_body(mut self, body: &str) -> Self {
        self.flagged_body = Some(body.to_owned());
        self
    }

    /// The event as JSON, edited by `edit` (to send what no builder would).
    pub fn with(self, edit: impl FnOnce(&mut Value)) -> EditedEvent {
        let mut event = self.into_value();
        edit(&mut event);
        EditedEvent(event)
    }

    /// The event as JSON.
    pub fn into_value(self) -> Value {
        serde_json::from_slice(&self.to_bytes()).expect("the event is JSON")
    }

    /// The event as the invocation payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish();
        let context_path = format!("/{REST_STAGE}{}", self.path);
        let host = apigw::first_header(&self.headers, "host").unwrap_or_default();
        let resource = match &self.resource {
            Some((template, parameters)) => apigw::Resource {
                path: template,
                parameters: parameters.clone(),
            },
            None => apigw::Resource::for_path(&self.path),
        };
        let context = apigw::RestContext {
            api_key: self
                .api_key
                .as_ref()
                .map(|(value, id)| (value.as_str(), id.as_str())),
            resource_id: "x7k2pq",
            extended_request_id: "Wq1xYHd2FiAEQ5A=",
            request_time: "30/Apr/2024:13:37:05 +0000",
            request_time_epoch: 1_714_484_225_123,
            request_id: "8f0f9f49-8a4f-4b7e-9d3c-2b1a0e9f8c7d",
            source_ip: "203.0.113.42",
            api_id: apigw::domain_prefix(host),
            ..apigw::RestContext::new(REST_STAGE, &context_path, host)
        };
        let event = apigw::RestRequest {
            method: &self.method,
            path: &self.path,
            query: (!query.is_empty()).then_some(query.as_str()),
            headers: &self.headers,
            body: &self.body,
            binary_body: self.binary,
            resource: &resource,
            context,
        }
        .to_vec()
        .expect("a REST event serializes");
        match &self.flagged_body {
            None => event,
            Some(body) => {
                let mut event: Value = serde_json::from_slice(&event).expect("the event is JSON");
                event["body"] = json!(body);
                event["isBase64Encoded"] = json!(true);
                event.to_string().into_bytes()
            }
        }
    }
}

/// An event edited as JSON ([`RestEvent::with`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EditedEvent(Value);

impl EditedEvent {
    /// The event as JSON.
    pub fn into_value(self) -> Value {
        self.0
    }

    /// The event as the invocation payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_string().into_bytes()
    }
}

/// An HTTP API (payload 2.0) event on the `$default` stage and route, for `method`, `path` and
/// `raw_query` (without `?`, possibly empty). Headers: `host`, `user-agent`,
/// `x-forwarded-for`, `x-forwarded-proto`; no cookies or body.
pub fn http_api_v2(method: &str, path: &str, raw_query: &str) -> Value {
    const HOST: &str = "r3pmxmplak.execute-api.us-east-1.amazonaws.com";
    let headers: Vec<(String, String)> = [
        ("host", HOST),
        ("user-agent", "curl/8.5.0"),
        ("x-forwarded-for", "198.51.100.7"),
        ("x-forwarded-proto", "https"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    let event = apigw::HttpApiRequest {
        method,
        raw_path: path,
        raw_query,
        headers: &headers,
        cookies: &[],
        body: b"",
        binary_body: false,
        context: apigw::HttpApiContext::new(HOST),
    }
    .to_vec()
    .expect("an HTTP API event serializes");
    serde_json::from_slice(&event).expect("the event is JSON")
}

/// An Application Load Balancer event for `method` and `path`, with the target group's
/// multi-value headers setting on or off. No query string or body.
pub fn alb(method: &str, path: &str, multi_value_headers: bool) -> Value {
    let mut event = json!({
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fixture/49e9d65c45c6791a"
            }
        },
        "httpMethod": method,
        "path": path,
        "body": "",
        "isBase64Encoded": false
    });
    let headers = json!({
        "host": "fixture-alb-123578498.us-east-1.elb.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": "72.12.164.125",
        "x-forwarded-port": "80",
        "x-forwarded-proto": "http"
    });
    if multi_value_headers {
        let multi: serde_json::Map<String, Value> = headers
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), json!([v])))
            .collect();
        event["multiValueHeaders"] = Value::Object(multi);
        event["multiValueQueryStringParameters"] = json!({});
    } else {
        event["headers"] = headers;
        event["queryStringParameters"] = json!({});
    }
    event
}

/// An EventBridge scheduled event for the rule `rule_name`, fired at `time` (RFC 3339).
pub fn scheduled(rule_name: &str, time: &str) -> Value {
    json!({
        "version": "0",
        "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{rule_name}")],
        "detail": {}
    })
}

/// A proxy integration response (REST, HTTP API or ALB format), parsed by `portico-spec`'s
/// parser, the one `portico local`'s gateway uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyResponse {
    /// `statusCode`.
    pub status: u16,
    /// Header values, `multiValueHeaders` winning over `headers` for a name in both; names as
    /// sent.
    pub headers: Vec<(String, String)>,
    /// `cookies` (HTTP API payload 2.0).
    pub cookies: Vec<String>,
    /// The body, base64-decoded when `isBase64Encoded`.
    pub body: Vec<u8>,
    /// `isBase64Encoded`.
    pub is_base64_encoded: bool,
    /// The whole payload.
    pub raw: Value,
}

impl ProxyResponse {
    /// Parses a response payload in the format its fields tell: HTTP API payload 2.0 when it
    /// has `cookies`, ALB when it has `statusDescription`, else REST.
    ///
    /// # Errors
    /// A message when the payload is not a proxy response of that format.
    pub fn parse(payload: &[u8]) -> Result<Self, String> {
        let raw: Value = serde_json::from_slice(payload)
            .map_err(|e| format!("not JSON ({e}): {}", String::from_utf8_lossy(payload)))?;
        let format = if raw.get("cookies").is_some() {
            PayloadFormat::HttpV2
        } else if raw.get("statusDescription").is_some() {
            PayloadFormat::Alb
        } else {
            PayloadFormat::RestV1
        };
        Self::parse_as(payload, format)
    }

    /// Parses a response payload in `format`.
    ///
    /// # Errors
    /// A message when the payload is not a proxy response of that format.
    pub fn parse_as(payload: &[u8], format: PayloadFormat) -> Result<Self, String> {
        let parsed = apigw::parse_proxy_response(payload, format)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(payload)))?;
        let raw: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        Ok(Self {
            status: parsed.status,
            headers: parsed.header_pairs(),
            cookies: parsed.cookies,
            is_base64_encoded: parsed.body.is_base64(),
            body: parsed.body.into_bytes(),
            raw,
        })
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        apigw::header_values(&self.headers, name)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When the body is not JSON — meant for tests.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_events_keep_the_stage_out_of_the_path() {
        let event = rest_v1("POST", "/users/7")
            .query("tag", "a")
            .query("tag", "b b")
            .json_body(&json!({"x": 1}))
            .into_value();
        assert_eq!(event["path"], "/users/7");
        assert_eq!(event["requestContext"]["path"], "/prod/users/7");
        assert_eq!(event["requestContext"]["stage"], "prod");
        assert_eq!(event["resource"], "/{proxy+}");
        assert_eq!(event["pathParameters"], json!({"proxy": "users/7"}));
        assert_eq!(event["queryStringParameters"], json!({"tag": "b b"}));
        assert_eq!(
            event["multiValueQueryStringParameters"],
            json!({"tag": ["a", "b b"]})
        );
        assert_eq!(
            event["multiValueHeaders"]["Content-Type"],
            json!(["application/json"])
        );
        assert_eq!(event["headers"]["CloudFront-Viewer-Country"], "DE");
        assert_eq!(event["body"], r#"{"x":1}"#);
        let root = rest_v1("GET", "/").into_value();
        assert_eq!(
            (root["resource"].clone(), root["pathParameters"].clone()),
            (json!("/"), Value::Null)
        );
        assert_eq!(root["requestContext"]["path"], "/prod/");
    }

    #[test]
    fn the_default_rest_event_is_the_captured_one_for_its_request() {
        let fixture: Value = serde_json::from_str(REST_TEMPLATE).unwrap();
        let built = rest_v1("GET", "/users/42")
            .query("page", "2")
            .query("tag", "a")
            .query("tag", "b")
            .into_value();
        assert_eq!(built, fixture);
    }

    #[test]
    fn invalid_base64_can_be_sent_flagged() {
        let event = rest_v1("POST", "/x")
            .base64_flagged_body("%%%")
            .into_value();
        assert_eq!(
            (event["body"].clone(), event["isBase64Encoded"].clone()),
            (json!("%%%"), json!(true))
        );
        let binary = rest_v1("POST", "/x").binary_body(b"\xff\x00").into_value();
        assert_eq!(binary["body"], "/wA=");
    }

    #[test]
    fn proxy_responses_merge_header_forms_and_decode_bodies() {
        let payload = json!({
            "statusCode": 201,
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "headers": {"set-cookie": "ignored", "Content-Type": "image/png"},
            "body": "/wD+",
            "isBase64Encoded": true
        });
        let res = ProxyResponse::parse(payload.to_string().as_bytes()).unwrap();
        assert_eq!(res.status, 201);
        assert_eq!(res.header_values("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(res.header("content-type"), Some("image/png"));
        assert_eq!(res.body, b"\xff\x00\xfe");
        assert!(ProxyResponse::parse(b"{\"body\":1}").is_err());
        let v2 = ProxyResponse::parse(br#"{"cookies": ["a=1"]}"#).unwrap();
        assert_eq!(v2.cookies, ["a=1"]);
    }
}
