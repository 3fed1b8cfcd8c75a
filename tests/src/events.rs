//! Lambda events as the front doors send them, and their proxy responses, for end-to-end tests.
//!
//! REST API events start from a captured CloudFront-fronted event (the framework's fixture
//! `rest_v1_cloudfront.json`: stage `prod`, execute-api host), then get the method, path, query,
//! headers and body a test needs, keeping AWS's conventions: `path` excludes the stage,
//! `requestContext.path` includes it, `multiValue*` maps mirror the single-value ones, and
//! absent maps are `null`.

use serde_json::{Value, json};

const REST_TEMPLATE: &str =
    include_str!("../../framework/tests/fixtures/events/rest_v1_cloudfront.json");

/// The stage of [`rest_v1`] events.
pub const REST_STAGE: &str = "prod";

/// A REST API (payload 1.0) proxy event being built.
#[derive(Debug, Clone, PartialEq)]
pub struct RestEvent(Value);

/// A REST API proxy event for `method` and the routed `path` (no stage, starting with `/`),
/// behind the `/{proxy+}` resource — or the `/` resource for the root, which `{proxy+}` does
/// not match on API Gateway. No query string, no body.
pub fn rest_v1(method: &str, path: &str) -> RestEvent {
    let mut event: Value = serde_json::from_str(REST_TEMPLATE).expect("the REST fixture is JSON");
    let (resource, path_parameters) = if path == "/" {
        ("/", Value::Null)
    } else {
        (
            "/{proxy+}",
            json!({ "proxy": path.trim_start_matches('/') }),
        )
    };
    event["resource"] = json!(resource);
    event["path"] = json!(path);
    event["httpMethod"] = json!(method);
    event["pathParameters"] = path_parameters;
    event["queryStringParameters"] = Value::Null;
    event["multiValueQueryStringParameters"] = Value::Null;
    event["body"] = Value::Null;
    event["isBase64Encoded"] = json!(false);
    let context = &mut event["requestContext"];
    context["resourcePath"] = json!(resource);
    context["httpMethod"] = json!(method);
    context["path"] = json!(format!("/{REST_STAGE}{path}"));
    RestEvent(event)
}

impl RestEvent {
    /// Adds a query parameter (decoded, as API Gateway delivers it); repeat for more values.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        add_pair(
            &mut self.0,
            "queryStringParameters",
            "multiValueQueryStringParameters",
            name,
            value,
        );
        self
    }

    /// Adds a header value; repeat for more values.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        add_pair(&mut self.0, "headers", "multiValueHeaders", name, value);
        self
    }

    /// A text body.
    pub fn body(mut self, text: &str) -> Self {
        self.0["body"] = json!(text);
        self.0["isBase64Encoded"] = json!(false);
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json_body(self, body: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(&body.to_string())
    }

    /// A binary body: base64-encoded, `isBase64Encoded: true`.
    pub fn binary_body(mut self, bytes: &[u8]) -> Self {
        self.0["body"] = json!(base64_encode(bytes));
        self.0["isBase64Encoded"] = json!(true);
        self
    }

    /// `body` as given, flagged as base64 (to send an invalid one).
    pub fn base64_flagged_body(mut self, body: &str) -> Self {
        self.0["body"] = json!(body);
        self.0["isBase64Encoded"] = json!(true);
        self
    }

    /// Edits the JSON directly.
    pub fn with(mut self, edit: impl FnOnce(&mut Value)) -> Self {
        edit(&mut self.0);
        self
    }

    /// The event as JSON.
    pub fn into_value(self) -> Value {
        self.0
    }

    /// The event as the invocation payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_string().into_bytes()
    }
}

fn add_pair(event: &mut Value, single: &str, multi: &str, name: &str, value: &str) {
    for key in [single, multi] {
        if event[key].is_null() {
            event[key] = json!({});
        }
    }
    event[single][name] = json!(value);
    match event[multi][name].as_array_mut() {
        Some(values) => values.push(json!(value)),
        None => event[multi][name] = json!([value]),
    }
}

/// An HTTP API (payload 2.0) event on the `$default` stage and route, for `method`, `path` and
/// `raw_query` (without `?`, possibly empty). Headers: `host`, `user-agent`; no cookies or body.
pub fn http_api_v2(method: &str, path: &str, raw_query: &str) -> Value {
    let query: Value = if raw_query.is_empty() {
        Value::Null
    } else {
        // payload 2.0 joins repeated names with commas in `queryStringParameters`.
        let mut map = serde_json::Map::new();
        for pair in raw_query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match map.get_mut(k) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(v);
                }
                _ => {
                    map.insert(k.to_owned(), json!(v));
                }
            }
        }
        Value::Object(map)
    };
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {
            "host": "r3pmxmplak.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-forwarded-for": "198.51.100.7",
            "x-forwarded-proto": "https"
        },
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r3pmxmplak",
            "domainName": "r3pmxmplak.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "r3pmxmplak",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "10/Mar/2020:05:16:23 +0000",
            "timeEpoch": 1583817383220_i64
        },
        "isBase64Encoded": false
    })
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

/// A proxy integration response (REST, HTTP API or ALB format), parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyResponse {
    /// `statusCode`.
    pub status: u16,
    /// Header values from `multiValueHeaders`, then from `headers` for names not already
    /// there, in payload order; names as sent.
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
    /// Parses a response payload.
    ///
    /// # Errors
    /// A message when the payload is not a proxy response.
    pub fn parse(payload: &[u8]) -> Result<Self, String> {
        let raw: Value = serde_json::from_slice(payload)
            .map_err(|e| format!("not JSON ({e}): {}", String::from_utf8_lossy(payload)))?;
        let status = raw["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format!("no numeric statusCode in {raw}"))?;
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(multi) = raw["multiValueHeaders"].as_object() {
            for (name, values) in multi {
                let values = values
                    .as_array()
                    .ok_or_else(|| format!("multiValueHeaders.{name} is not an array"))?;
                for value in values {
                    let value = value.as_str().ok_or_else(|| {
                        format!("a value of multiValueHeaders.{name} is not a string")
                    })?;
                    headers.push((name.clone(), value.to_owned()));
                }
            }
        }
        if let Some(single) = raw["headers"].as_object() {
            for (name, value) in single {
                if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    continue;
                }
                let value = value
                    .as_str()
                    .ok_or_else(|| format!("headers.{name} is not a string"))?;
                headers.push((name.clone(), value.to_owned()));
            }
        }
        let cookies = match &raw["cookies"] {
            Value::Null => Vec::new(),
            Value::Array(list) => list
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(str::to_owned)
                        .ok_or("a cookie is not a string")
                })
                .collect::<Result<_, _>>()?,
            other => return Err(format!("cookies is not an array: {other}")),
        };
        let is_base64_encoded = raw["isBase64Encoded"].as_bool().unwrap_or(false);
        let body_text = match &raw["body"] {
            Value::Null => "",
            Value::String(s) => s.as_str(),
            other => return Err(format!("body is not a string: {other}")),
        };
        let body = if is_base64_encoded {
            base64_decode(body_text).ok_or_else(|| format!("body is not base64: {body_text}"))?
        } else {
            body_text.as_bytes().to_vec()
        };
        Ok(Self {
            status,
            headers,
            cookies,
            body,
            is_base64_encoded,
            raw,
        })
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
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

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding required); `None` when `text` is not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (index, quad) in bytes.chunks(4).enumerate() {
        let last = index == bytes.len() / 4 - 1;
        let pad = quad.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for (i, &b) in quad[..4 - pad].iter().enumerate() {
            let v = ALPHABET.iter().position(|&a| a == b)? as u32;
            n |= v << (18 - 6 * i);
        }
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_rejects_junk() {
        for (raw, encoded) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"\xff\x00\xfe", "/wD+"),
        ] {
            assert_eq!(base64_encode(raw), encoded);
            assert_eq!(base64_decode(encoded).as_deref(), Some(raw));
        }
        for junk in ["Zg", "Zg=a", "Z===", "Zg==Zg==", "!!!!"] {
            assert_eq!(base64_decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn rest_events_keep_the_stage_out_of_the_path() {
        let event = rest_v1("POST", "/users/7")
            .query("tag", "a")
            .query("tag", "b")
            .json_body(&json!({"x": 1}))
            .into_value();
        assert_eq!(event["path"], "/users/7");
        assert_eq!(event["requestContext"]["path"], "/prod/users/7");
        assert_eq!(event["requestContext"]["stage"], "prod");
        assert_eq!(event["resource"], "/{proxy+}");
        assert_eq!(event["pathParameters"], json!({"proxy": "users/7"}));
        assert_eq!(event["queryStringParameters"], json!({"tag": "b"}));
        assert_eq!(
            event["multiValueQueryStringParameters"],
            json!({"tag": ["a", "b"]})
        );
        assert_eq!(
            event["multiValueHeaders"]["Content-Type"],
            json!(["application/json"])
        );
        assert_eq!(event["body"], r#"{"x":1}"#);
        let root = rest_v1("GET", "/").into_value();
        assert_eq!(
            (root["resource"].clone(), root["pathParameters"].clone()),
            (json!("/"), Value::Null)
        );
        assert_eq!(root["requestContext"]["path"], "/prod/");
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
        assert!(ProxyResponse::parse(b"{\"body\":\"x\"}").is_err());
    }
}
