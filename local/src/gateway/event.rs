//! The REST v1 proxy event the function receives (headers, ids, `requestTime`) and the
//! checked reading of its proxy response.

use std::net::SocketAddr;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::gateway::config::{
    ACCOUNT_ID, DROPPED_REQUEST_HEADERS, DROPPED_RESPONSE_HEADERS, GatewayConfig,
    REMAPPED_RESPONSE_HEADERS, RouteMatch,
};
use crate::gateway::head::RawHead;
use crate::usage::{self};
use portico_spec::apigw::{self};

/// Ids of one request: `requestContext.requestId` (= `x-amzn-RequestId`),
/// `extendedRequestId` (= `x-amz-apigw-id`) and the X-Ray trace header.
pub(crate) struct RequestIds {
    pub(crate) request_id: String,
    pub(crate) extended_request_id: String,
    pub(crate) trace_id: String,
}

/// A request's random ids, from the one random source (`crate::ids`).
pub(crate) struct Ids;

impl Ids {
    pub(crate) fn new() -> Self {
        Self
    }

    /// A random (version 4) UUID.
    pub(crate) fn uuid(&self) -> String {
        crate::ids::uuid_v4()
    }

    /// Like `Wq1xYHd2FiAEQ5A=`: 11 random bytes in base64.
    pub(crate) fn apigw_id(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(crate::ids::bytes::<11>())
    }

    /// `Root=1-<epoch seconds, hex>-<96 random bits, hex>`.
    pub(crate) fn trace_id(&self, now_ms: i64) -> String {
        let [a @ .., b0, b1, b2, b3] = crate::ids::bytes::<12>();
        format!(
            "Root=1-{:08x}-{:016x}{:08x}",
            now_ms.div_euclid(1000),
            u64::from_le_bytes(a),
            u32::from_le_bytes([b0, b1, b2, b3])
        )
    }
}

/// The connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
}

/// The request headers with their names as sent, in order: from the scanner when it saw
/// exactly the head hyper parsed, else hyper's (lowercase) names.
pub(crate) fn original_headers(raw: Option<RawHead>, parsed: &HeaderMap) -> Vec<(String, String)> {
    if let Some(raw) = raw {
        let same = raw.headers.len() == parsed.len()
            && raw.headers.iter().all(|(name, value)| {
                HeaderName::from_bytes(name.as_bytes()).is_ok_and(|name| {
                    parsed
                        .get_all(&name)
                        .iter()
                        .any(|v| v.as_bytes() == value.as_slice())
                })
            });
        if same {
            return raw
                .headers
                .into_iter()
                .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
                .collect();
        }
    }
    parsed
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The headers the function sees: what the client sent, without hop-by-hop headers, with
/// `Authorization` and `User-Agent` spelled that way (CloudFront does it), and the
/// `X-Forwarded-*` and `X-Amzn-Trace-Id` headers API Gateway adds.
pub(crate) fn event_headers(
    mut headers: Vec<(String, String)>,
    client_ip: &str,
    local_port: u16,
    trace_id: &str,
) -> Vec<(String, String)> {
    headers.retain(|(name, _)| {
        !DROPPED_REQUEST_HEADERS
            .iter()
            .any(|d| name.eq_ignore_ascii_case(d))
            && !name.eq_ignore_ascii_case("x-forwarded-port")
            && !name.eq_ignore_ascii_case("x-forwarded-proto")
    });
    for (name, _) in &mut headers {
        if name.eq_ignore_ascii_case("authorization") {
            "Authorization".clone_into(name);
        } else if name.eq_ignore_ascii_case("user-agent") {
            "User-Agent".clone_into(name);
        }
    }
    match headers
        .iter_mut()
        .rev()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-forwarded-for"))
    {
        Some((_, value)) => {
            value.push_str(", ");
            value.push_str(client_ip);
        }
        None => headers.push(("X-Forwarded-For".to_owned(), client_ip.to_owned())),
    }
    headers.push(("X-Forwarded-Port".to_owned(), local_port.to_string()));
    headers.push(("X-Forwarded-Proto".to_owned(), "http".to_owned()));
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("x-amzn-trace-id"))
    {
        headers.push(("X-Amzn-Trace-Id".to_owned(), trace_id.to_owned()));
    }
    headers
}

/// Everything a REST v1 proxy event is built from.
pub(crate) struct EventInput<'a> {
    pub(crate) method: &'a str,
    /// The path with the stage removed.
    pub(crate) path: &'a str,
    pub(crate) context_path: &'a str,
    pub(crate) query: Option<&'a str>,
    /// The headers as the function sees them ([`event_headers`]).
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: &'a [u8],
    pub(crate) source_ip: &'a str,
    pub(crate) protocol: &'a str,
    pub(crate) route: Option<&'a RouteMatch<'a>>,
    pub(crate) request_id: &'a str,
    pub(crate) extended_request_id: &'a str,
    pub(crate) now_ms: i64,
    /// `(value, id)` of the API key the request passed with.
    pub(crate) api_key: Option<(&'a str, &'a str)>,
    pub(crate) deployment_id: &'a str,
    /// `domainName` when the client sent no `Host`.
    pub(crate) fallback_host: &'a str,
}

/// Builds the REST v1 proxy event JSON.
pub(crate) fn build_event(
    cfg: &GatewayConfig,
    input: &EventInput<'_>,
) -> serde_json::Result<Vec<u8>> {
    // The resource API Gateway matched: an explicit one (a route needing a key), else the
    // root or the greedy proxy.
    let resource = match input.route {
        Some(m) if m.entry.is_explicit_resource() => apigw::Resource {
            path: m.entry.template.as_str(),
            parameters: m.params.clone(),
        },
        _ => apigw::Resource::for_path(input.path),
    };
    let binary_body = apigw::first_header(input.headers, "content-type")
        .is_some_and(|ct| apigw::is_binary_media_type(ct, &cfg.binary_media_types));
    let host = apigw::first_header(input.headers, "host").unwrap_or(input.fallback_host);
    let request_time = crate::clock::request_time(input.now_ms);
    let resource_id = usage::short_id(&format!("resource{}", resource.path), 6);
    apigw::RestRequest {
        method: input.method,
        path: input.path,
        query: input.query,
        headers: input.headers,
        body: input.body,
        binary_body,
        resource: &resource,
        context: apigw::RestContext {
            resource_id: &resource_id,
            extended_request_id: input.extended_request_id,
            request_time: &request_time,
            request_time_epoch: input.now_ms,
            path: input.context_path,
            account_id: ACCOUNT_ID,
            protocol: input.protocol,
            stage: &cfg.stage,
            request_id: input.request_id,
            source_ip: input.source_ip,
            api_key: input.api_key,
            authorizer: None,
            domain_name: host,
            deployment_id: Some(input.deployment_id),
            api_id: &cfg.api_id,
        },
    }
    .to_vec()
}

/// A valid proxy response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ProxyResponse {
    pub(crate) status: StatusCode,
    /// `headers` merged with `multiValueHeaders` (which wins for a name in both).
    pub(crate) headers: Vec<(String, Vec<String>)>,
    pub(crate) body: Bytes,
    /// `isBase64Encoded`, but the client did not ask for binary: the body is the base64 text.
    pub(crate) base64_as_text: bool,
}

/// Why a function's reply is not a proxy response (502 or 500).
pub(crate) type BadResponse = apigw::BadProxyResponse;

/// Checks and reads the function's reply the way API Gateway does (see
/// [`apigw::parse_proxy_response`]). A base64 body is returned decoded when `binary_accept`
/// (the client's first `Accept` type is a binary media type), else as the base64 text.
pub(crate) fn parse_proxy_response(
    bytes: &[u8],
    binary_accept: bool,
) -> Result<ProxyResponse, BadResponse> {
    let proxy = apigw::parse_proxy_response(bytes, apigw::PayloadFormat::RestV1)?;
    let base64_as_text = proxy.body.is_base64() && !binary_accept;
    let body = match proxy.body {
        apigw::ResponseBody::Base64 { bytes, .. } if binary_accept => Bytes::from(bytes),
        apigw::ResponseBody::Base64 { text, .. } | apigw::ResponseBody::Text(text) => {
            Bytes::from(text)
        }
    };
    Ok(ProxyResponse {
        // `parse_proxy_response` keeps the status within 200..=599.
        status: StatusCode::from_u16(proxy.status).unwrap_or(StatusCode::BAD_GATEWAY),
        headers: proxy.headers,
        body,
        base64_as_text,
    })
}

/// The HTTP response for a proxy response: `Content-Type` defaults to `application/json`,
/// headers API Gateway remaps are renamed `x-amzn-Remapped-<name>`.
pub(crate) fn proxy_into_http(proxy: ProxyResponse) -> Result<Response<Full<Bytes>>, String> {
    let mut response = Response::new(Full::new(proxy.body));
    *response.status_mut() = proxy.status;
    let headers = response.headers_mut();
    for (name, values) in proxy.headers {
        if DROPPED_RESPONSE_HEADERS
            .iter()
            .any(|d| name.eq_ignore_ascii_case(d))
        {
            continue;
        }
        let name = if REMAPPED_RESPONSE_HEADERS
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r))
        {
            format!("x-amzn-Remapped-{name}")
        } else {
            name
        };
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        for value in values {
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("header `{name}` has an invalid value {value:?}"))?;
            headers.append(header_name.clone(), value);
        }
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(response)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use bytes::Bytes;

    use http::StatusCode;

    use portico_spec::apigw::{self, accepts_binary};

    use crate::gateway::config::tests::{CONFIG, gateway_config};

    const CLOUDFRONT: &str =
        include_str!("../../../framework/tests/fixtures/events/rest_v1_cloudfront.json");
    const CONSOLE: &str =
        include_str!("../../../framework/tests/fixtures/events/rest_v1_console.json");

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    pub(crate) struct EventCase<'a> {
        pub(crate) method: &'a str,
        pub(crate) path: &'a str,
        pub(crate) query: Option<&'a str>,
        pub(crate) headers: &'a [(&'a str, &'a str)],
        pub(crate) body: &'a [u8],
        pub(crate) api_key: Option<(&'a str, &'a str)>,
    }

    impl<'a> EventCase<'a> {
        /// `method path`, without query, headers, body or API key.
        pub(crate) fn new(method: &'a str, path: &'a str) -> Self {
            Self {
                method,
                path,
                query: None,
                headers: &[],
                body: b"",
                api_key: None,
            }
        }
    }

    pub(crate) fn event(cfg: &GatewayConfig, case: &EventCase<'_>) -> serde_json::Value {
        let headers = event_headers(owned(case.headers), "203.0.113.42", 8000, "Root=1-x-y");
        let route = cfg.routes.find(case.method, case.path);
        let context_path = cfg.context_path(case.path);
        let input = EventInput {
            method: case.method,
            path: case.path,
            context_path: &context_path,
            query: case.query,
            headers: &headers,
            body: case.body,
            source_ip: "203.0.113.42",
            protocol: "HTTP/1.1",
            route: route.as_ref(),
            request_id: "8f0f9f49-8a4f-4b7e-9d3c-2b1a0e9f8c7d",
            extended_request_id: "Wq1xYHd2FiAEQ5A=",
            now_ms: 1_714_484_225_123,
            api_key: case.api_key,
            deployment_id: "abc123",
            fallback_host: "127.0.0.1:8000",
        };
        serde_json::from_slice(&build_event(cfg, &input).unwrap()).unwrap()
    }

    pub(crate) fn keys(value: &serde_json::Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn the_event_has_the_shape_of_a_real_one() {
        let cfg = gateway_config(CONFIG, true);
        let got = event(
            &cfg,
            &EventCase {
                query: Some("page=2&tag=a&tag=b"),
                headers: &[
                    ("Host", "127.0.0.1:8000"),
                    ("Accept", "text/html"),
                    ("User-Agent", "Mozilla/5.0"),
                    ("sec-ch-ua-mobile", "?0"),
                ],
                ..EventCase::new("GET", "/orders/42")
            },
        );
        let fixture: serde_json::Value = serde_json::from_str(CLOUDFRONT).unwrap();
        assert_eq!(keys(&got), keys(&fixture));
        let mut context = keys(&got["requestContext"]);
        context.retain(|k| *k != "deploymentId");
        assert_eq!(context, keys(&fixture["requestContext"]));
        assert_eq!(
            keys(&got["requestContext"]["identity"]),
            keys(&fixture["requestContext"]["identity"])
        );
        for key in [
            "cognitoIdentityPoolId",
            "accountId",
            "caller",
            "user",
            "userArn",
            "accessKey",
        ] {
            assert!(got["requestContext"]["identity"][key].is_null(), "{key}");
        }

        assert_eq!(got["resource"], "/{proxy+}");
        assert_eq!(got["path"], "/orders/42");
        assert_eq!(got["httpMethod"], "GET");
        assert_eq!(
            got["pathParameters"],
            serde_json::json!({"proxy": "orders/42"})
        );
        assert!(got["stageVariables"].is_null());
        assert!(got["body"].is_null());
        assert_eq!(got["isBase64Encoded"], false);
        assert_eq!(
            got["queryStringParameters"],
            serde_json::json!({"page": "2", "tag": "b"})
        );
        assert_eq!(
            got["multiValueQueryStringParameters"],
            serde_json::json!({"page": ["2"], "tag": ["a", "b"]})
        );
        // Case as sent; the gateway's own headers added.
        assert_eq!(got["headers"]["User-Agent"], "Mozilla/5.0");
        assert_eq!(got["headers"]["sec-ch-ua-mobile"], "?0");
        assert_eq!(got["headers"]["X-Forwarded-For"], "203.0.113.42");
        assert_eq!(got["headers"]["X-Forwarded-Port"], "8000");
        assert_eq!(got["headers"]["X-Forwarded-Proto"], "http");
        assert_eq!(got["headers"]["X-Amzn-Trace-Id"], "Root=1-x-y");
        assert_eq!(
            got["multiValueHeaders"]["Accept"],
            serde_json::json!(["text/html"])
        );

        let ctx = &got["requestContext"];
        assert_eq!(ctx["path"], "/dev/orders/42");
        assert_eq!(ctx["stage"], "dev");
        assert_eq!(ctx["resourcePath"], "/{proxy+}");
        assert_eq!(ctx["httpMethod"], "GET");
        assert_eq!(ctx["requestId"], "8f0f9f49-8a4f-4b7e-9d3c-2b1a0e9f8c7d");
        assert_eq!(ctx["extendedRequestId"], "Wq1xYHd2FiAEQ5A=");
        assert_eq!(ctx["requestTimeEpoch"], 1_714_484_225_123_i64);
        assert_eq!(ctx["requestTime"], "30/Apr/2024:13:37:05 +0000");
        assert_eq!(ctx["protocol"], "HTTP/1.1");
        assert_eq!(ctx["domainName"], "127.0.0.1:8000");
        assert_eq!(ctx["domainPrefix"], "127");
        assert_eq!(ctx["accountId"], ACCOUNT_ID);
        assert_eq!(ctx["apiId"].as_str().unwrap().len(), 10);
        assert_eq!(ctx["resourceId"].as_str().unwrap().len(), 6);
        assert_eq!(ctx["identity"]["sourceIp"], "203.0.113.42");
        assert_eq!(ctx["identity"]["userAgent"], "Mozilla/5.0");
    }

    #[test]
    fn the_root_is_its_own_resource_without_path_parameters() {
        let cfg = gateway_config(CONFIG, true);
        let got = event(&cfg, &EventCase::new("GET", "/"));
        let console: serde_json::Value = serde_json::from_str(CONSOLE).unwrap();
        assert_eq!(got["resource"], console["resource"]);
        assert!(got["pathParameters"].is_null() && console["pathParameters"].is_null());
        assert_eq!(got["requestContext"]["resourcePath"], "/");
        assert_eq!(got["requestContext"]["path"], "/dev/");
        assert!(got["queryStringParameters"].is_null());
        assert!(got["multiValueQueryStringParameters"].is_null());
        // No Host: the listener's address.
        assert_eq!(got["requestContext"]["domainName"], "127.0.0.1:8000");
        assert!(got["requestContext"]["identity"]["userAgent"].is_null());
    }

    #[test]
    fn paths_keep_their_encoding_and_query_parameters_are_decoded() {
        // As AWS: `path` and `pathParameters` as sent, the query decoded (`+` is a space).
        let cfg = gateway_config(CONFIG, true);
        let got = event(
            &cfg,
            &EventCase {
                query: Some(
                    "email=test%2Balias@gmail.com&plus=test+alias@gmail.com&whitespace=foo%20bar&flag",
                ),
                ..EventCase::new(
                    "GET",
                    "/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com/",
                )
            },
        );
        assert_eq!(
            got["path"],
            "/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com/"
        );
        assert_eq!(
            got["pathParameters"]["proxy"],
            "api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
        );
        let q = &got["queryStringParameters"];
        assert_eq!(q["email"], "test+alias@gmail.com");
        assert_eq!(q["plus"], "test alias@gmail.com");
        assert_eq!(q["whitespace"], "foo bar");
        assert_eq!(q["flag"], "");
    }

    #[test]
    fn without_the_stage_prefix_the_context_path_is_the_path() {
        let cfg = gateway_config(CONFIG, false);
        assert_eq!(cfg.strip_stage("/users/42"), Some("/users/42"));
        assert_eq!(cfg.strip_stage("/"), Some("/"));
        assert_eq!(cfg.strip_stage("*"), None);
        assert_eq!(cfg.context_path("/users/42"), "/users/42");
        assert_eq!(
            cfg.base_url("127.0.0.1:8000".parse().unwrap()),
            "http://127.0.0.1:8000"
        );
        let got = event(&cfg, &EventCase::new("GET", "/users/me"));
        assert_eq!(got["requestContext"]["path"], "/users/me");
        assert_eq!(got["requestContext"]["stage"], "dev");
    }

    #[test]
    fn binary_bodies_are_base64_by_content_type() {
        let cfg = gateway_config(CONFIG, true);
        let png = event(
            &cfg,
            &EventCase {
                headers: &[("Content-Type", "image/png"), ("Content-Length", "4")],
                body: &[0x89, b'P', b'N', b'G'],
                ..EventCase::new("POST", "/upload")
            },
        );
        assert_eq!(png["isBase64Encoded"], true);
        assert_eq!(png["body"], "iVBORw==");
        assert!(
            png["headers"].get("Content-Length").is_none(),
            "framing headers are dropped"
        );

        let json = event(
            &cfg,
            &EventCase {
                headers: &[("Content-Type", "application/json; charset=utf-8")],
                body: br#"{"a":1}"#,
                ..EventCase::new("POST", "/upload")
            },
        );
        assert_eq!(json["isBase64Encoded"], false);
        assert_eq!(json["body"], r#"{"a":1}"#);

        let everything = vec!["*/*".to_owned()];
        assert!(apigw::is_binary_media_type("application/json", &everything));
        assert!(apigw::is_binary_media_type(
            "Image/PNG",
            &["image/*".to_owned()]
        ));
        assert!(!apigw::is_binary_media_type(
            "text/plain",
            &["image/*".to_owned()]
        ));
        assert!(!apigw::is_binary_media_type("", &everything));
        assert!(apigw::is_binary_media_type(
            "application/vnd.ms-excel",
            &["application/vnd.*".to_owned()]
        ));
    }

    #[test]
    fn request_headers_are_adjusted_like_aws() {
        let got = event_headers(
            owned(&[
                ("authorization", "Bearer x"),
                ("user-agent", "curl/8"),
                ("Connection", "keep-alive"),
                ("X-Forwarded-For", "198.51.100.7"),
                ("X-Forwarded-Port", "1"),
                ("Cookie", "a=1"),
                ("cookie", "b=2"),
            ]),
            "203.0.113.42",
            8000,
            "Root=1-a-b",
        );
        let grouped = apigw::group_headers(got);
        let names: Vec<&str> = grouped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Authorization",
                "User-Agent",
                "X-Forwarded-For",
                "Cookie",
                "X-Forwarded-Port",
                "X-Forwarded-Proto",
                "X-Amzn-Trace-Id"
            ]
        );
        assert_eq!(grouped[2].1, ["198.51.100.7, 203.0.113.42"]);
        assert_eq!(grouped[3].1, ["a=1", "b=2"]);
        assert_eq!(grouped[4].1, ["8000"]);
    }

    fn proxy(json: &str) -> Result<ProxyResponse, BadResponse> {
        parse_proxy_response(json.as_bytes(), false)
    }

    #[test]
    fn proxy_responses_merge_multi_value_headers() {
        let got = proxy(
            r#"{"statusCode": 201, "headers": {"X-One": "1", "Set-Cookie": "lost=1", "X-Flag": true},
                "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "X-Many": ["x", "y"]},
                "body": "hi", "isBase64Encoded": false}"#,
        )
        .unwrap();
        assert_eq!(got.status, StatusCode::CREATED);
        assert_eq!(got.body, Bytes::from_static(b"hi"));
        let find = |name: &str| {
            got.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(find("x-one").unwrap(), ["1"]);
        assert_eq!(find("x-flag").unwrap(), ["true"]);
        assert_eq!(find("set-cookie").unwrap(), ["a=1", "b=2"]);
        assert_eq!(find("x-many").unwrap(), ["x", "y"]);

        let http = proxy_into_http(got).unwrap();
        let cookies: Vec<&str> = http
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(http.headers()["content-type"], "application/json");
    }

    #[test]
    fn every_field_of_a_proxy_response_is_optional() {
        let got = proxy("{}").unwrap();
        assert_eq!(got.status, StatusCode::OK);
        assert!(got.body.is_empty() && got.headers.is_empty());
        assert_eq!(
            proxy(r#"{"statusCode": "404"}"#).unwrap().status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            proxy(r#"{"statusCode": 200.0, "body": null}"#)
                .unwrap()
                .status,
            StatusCode::OK
        );
    }

    #[test]
    fn malformed_proxy_responses_are_rejected() {
        for bad in [
            "not json",
            "[]",
            "\"text\"",
            r#"{"statusCode": 200, "wrongValue": "value"}"#,
            r#"{"statusCode": "abc"}"#,
            r#"{"statusCode": 99}"#,
            r#"{"statusCode": 700}"#,
            r#"{"statusCode": -1}"#,
            r#"{"statusCode": true}"#,
            r#"{"body": {"a": 1}}"#,
            r#"{"body": 5}"#,
            r#"{"headers": {"X": 5}}"#,
            r#"{"headers": ["x"]}"#,
            r#"{"multiValueHeaders": {"X": [{"a": 1}]}}"#,
            r#"{"isBase64Encoded": "yes"}"#,
            r#"{"errorMessage": "boom", "errorType": "Error"}"#,
        ] {
            assert!(
                matches!(proxy(bad), Err(BadResponse::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            proxy(r#"{"body": "%%%", "isBase64Encoded": true}"#),
            Err(BadResponse::Base64(_))
        ));
        // Invalid header names or values only show when building the HTTP response.
        let bad_name = proxy(r#"{"headers": {"bad name": "x"}}"#).unwrap();
        assert!(proxy_into_http(bad_name).is_err());
        let bad_value = proxy(r#"{"headers": {"X": "a\nb"}}"#).unwrap();
        assert!(proxy_into_http(bad_value).is_err());
    }

    #[test]
    fn base64_bodies_are_decoded_for_binary_accept_types() {
        let json = r#"{"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "iVBORw==", "isBase64Encoded": true}"#;
        let binary = parse_proxy_response(json.as_bytes(), true).unwrap();
        assert_eq!(&binary.body[..], &[0x89, b'P', b'N', b'G']);
        // Like AWS, without a binary Accept the client gets the base64 text.
        let text = parse_proxy_response(json.as_bytes(), false).unwrap();
        assert_eq!(&text.body[..], b"iVBORw==");
        // Unpadded base64 is accepted.
        let unpadded = r#"{"body": "iVBORw", "isBase64Encoded": true}"#;
        assert_eq!(
            parse_proxy_response(unpadded.as_bytes(), true)
                .unwrap()
                .body
                .len(),
            4
        );

        let types = vec!["image/*".to_owned()];
        let accept = |v: &str| accepts_binary(&owned(&[("Accept", v)]), &types);
        assert!(accept("image/png"));
        assert!(accept("image/webp,*/*;q=0.8"));
        assert!(!accept("text/html,image/png"), "only the first type counts");
        assert!(!accepts_binary(&[], &types));
    }

    #[test]
    fn remapped_and_hop_by_hop_response_headers() {
        let got = proxy(
            r#"{"headers": {"WWW-Authenticate": "Basic", "Content-Length": "3", "Transfer-Encoding": "chunked", "Content-Type": "text/plain"}}"#,
        )
        .unwrap();
        let http = proxy_into_http(got).unwrap();
        let h = http.headers();
        assert_eq!(h["x-amzn-remapped-www-authenticate"], "Basic");
        assert_eq!(h["x-amzn-remapped-content-length"], "3");
        assert!(!h.contains_key("www-authenticate"));
        assert!(!h.contains_key("transfer-encoding"));
        assert_eq!(h["content-type"], "text/plain");
    }

    #[test]
    fn request_times_and_ids_have_aws_formats() {
        assert_eq!(
            crate::clock::request_time(1_714_484_225_123),
            "30/Apr/2024:13:37:05 +0000"
        );
        assert_eq!(crate::clock::request_time(0), "01/Jan/1970:00:00:00 +0000");
        let ids = Ids::new();
        let uuid = ids.uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(ids.uuid(), uuid);
        assert_eq!(ids.apigw_id().len(), 16);
        let trace = ids.trace_id(1_714_484_225_123);
        assert!(trace.starts_with("Root=1-6630f401-"), "{trace}");
        assert_eq!(
            trace.len(),
            "Root=1-6630f2a1-4b1e0c2d7f9a3e5b6c8d0e1f".len()
        );
        assert_eq!(
            apigw::domain_prefix("a1b2.execute-api.eu-central-1.amazonaws.com"),
            "a1b2"
        );
        assert_eq!(apigw::domain_prefix("localhost:8000"), "localhost");
        assert_eq!(apigw::domain_prefix("[::1]:8000"), "[::1]");
    }
}
