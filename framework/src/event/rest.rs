//! API Gateway REST API proxy events (payload format 1.0). HTTP APIs whose integration is set to
//! payload 1.0 send the same shape (with `"version": "1.0"`) and expect the same response.

use std::sync::Arc;

use http::header::HOST;

use super::{
    DecodeError, Payload, RawEvent, ReplyFormat, decode_body, header_map, opt_string, owned_pairs,
    parse_method, prefer_multi, push_body, push_multi_value_headers, push_status,
    response_capacity, routed_segments, segment_count, split_segments, strip_stage,
};
use crate::request::{EventSource, Request, RequestContext};
use crate::response::Response;

/// REST (payload 1.0) event → request.
///
/// `path` is the routed path: API Gateway leaves the stage out of it on the execute-api host,
/// but leaves a custom domain's base path mapping in (and HTTP APIs leave a named stage in), so
/// the extra leading segments are found by comparing with the route (`resource` plus its greedy
/// `pathParameters`). `requestContext.path` is the path the client called; what it has before
/// the routed path is the base path.
pub(super) fn decode_rest_event(
    event: RawEvent<'_>,
    payload: &Payload<'_>,
) -> Result<(Request, ReplyFormat), DecodeError> {
    let format = ReplyFormat::RestApi;
    let context = event.request_context.unwrap_or_default();
    let http_api = event.version.as_deref() == Some("1.0");
    let Some(raw_path) = event.path.as_deref() else {
        return Err(DecodeError::Malformed(
            "API Gateway REST API (payload 1.0) event without `path`".to_owned(),
        ));
    };
    // `multiValueHeaders` is a superset of `headers`; likewise for the query.
    let headers = header_map(
        &prefer_multi(event.multi_value_headers, event.headers, "headers")?,
        payload,
    );
    let query = owned_pairs(prefer_multi(
        event.multi_value_query,
        event.query,
        "queryStringParameters",
    )?);
    let authorizer = context.authorizer_value()?;
    let method = parse_method(event.http_method.as_deref().unwrap_or_default(), format)?;
    let body = decode_body(
        event.body,
        event.is_base64_encoded.unwrap_or(false),
        format,
        payload,
    )?;

    let stage = context.stage.as_deref().unwrap_or_default();
    let host = context
        .domain_name
        .as_deref()
        .or_else(|| headers.get(HOST).and_then(|h| h.to_str().ok()));
    let routed = event
        .resource
        .as_deref()
        .and_then(|template| routed_segments(template, event.path_parameters));
    let (path, base_path) = split_rest_path(
        raw_path,
        context.path.as_deref(),
        routed,
        stage,
        host,
        http_api,
    );
    let stage = stage.to_owned();

    let source = if http_api {
        EventSource::HttpApi
    } else {
        EventSource::RestApi
    };
    // The resource the event came through; when `resource` and `requestContext.resourcePath`
    // disagree, neither is vouched for.
    let resource_path = match (event.resource, context.resource_path) {
        (Some(resource), Some(matched)) if resource != matched => None,
        (Some(resource), _) | (None, Some(resource)) => Some(resource.into_owned()),
        (None, None) => None,
    };
    let (source_ip, user_agent, api_key_id) = match context.identity {
        Some(identity) => (
            opt_string(identity.source_ip),
            opt_string(identity.user_agent),
            opt_string(identity.api_key_id).filter(|id| !id.is_empty()),
        ),
        None => (None, None, None),
    };
    let mut request = Request::new(method, path, source);
    request.query = query;
    request.headers = headers;
    request.body = body;
    request.context = Arc::new(RequestContext {
        request_id: opt_string(context.request_id).unwrap_or_default(),
        stage,
        source_ip,
        user_agent,
        domain_name: opt_string(context.domain_name),
        base_path,
        api_id: opt_string(context.api_id),
        account_id: opt_string(context.account_id),
        authorizer,
        request_time_epoch: context.request_time_epoch.and_then(|epoch| epoch.0),
        resource_path,
        api_key_id,
    });
    Ok((request, format))
}

/// Splits a payload 1.0 `path` into the routed path and the base path the client's URL has
/// before it (without a trailing slash).
///
/// `routed` is the number of segments the matched route covers, when the event says.
fn split_rest_path(
    path: &str,
    context_path: Option<&str>,
    routed: Option<usize>,
    stage: &str,
    host: Option<&str>,
    http_api: bool,
) -> (String, String) {
    let path = if path.is_empty() { "/" } else { path };
    // Leading segments of `path` that are not part of the route.
    let (prefix, routed_path) = match routed.and_then(|r| segment_count(path).checked_sub(r)) {
        Some(extra) => split_segments(path, extra),
        None if http_api => strip_stage(path, stage).unwrap_or(("", path)),
        None => ("", path),
    };
    let routed_count = segment_count(routed_path);
    let base = match context_path.filter(|full| full.starts_with('/')) {
        // `requestContext.path` = base path + routed path (percent-encoding may differ, the
        // number of segments does not).
        Some(full) => segment_count(full)
            .checked_sub(routed_count)
            .map(|extra| split_segments(full, extra).0),
        None => (!prefix.is_empty()).then_some(prefix),
    };
    let base = match base {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => fallback_base_path(stage, host),
    };
    (routed_path.to_owned(), base)
}

/// When the event does not say: execute-api URLs carry the stage, other hosts are assumed to map
/// the API at their root.
fn fallback_base_path(stage: &str, host: Option<&str>) -> String {
    if host.is_some_and(super::is_execute_api_host) && !stage.is_empty() && stage != "$default" {
        format!("/{stage}")
    } else {
        String::new()
    }
}

/// Response → REST (payload 1.0) proxy response.
///
/// Every header goes in `multiValueHeaders` only: it carries single values too, and API Gateway
/// merges `headers` into it, which duplicates a header present in both on HTTP APIs set to
/// payload 1.0.
pub(super) fn encode_rest_response(res: &Response, head_request: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(response_capacity(res));
    out.push(b'{');
    push_status(&mut out, res);
    out.extend_from_slice(b",\"multiValueHeaders\":");
    push_multi_value_headers(&mut out, res.headers());
    out.push(b',');
    push_body(&mut out, res, head_request);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
    use serde_json::{Value, json};

    use super::super::tests::{decode_http, decode_value, header_values, query, response_json};
    use super::super::{DecodeError, ReplyFormat, decode_event, encode_response};
    use crate::request::EventSource;
    use crate::response::{Body, Response};

    const PROXY: &str = include_str!("../../tests/fixtures/events/rest_v1_proxy.json");
    const CONSOLE: &str = include_str!("../../tests/fixtures/events/rest_v1_console.json");
    const HTTP_API_V1: &str = include_str!("../../tests/fixtures/events/http_api_v1.json");
    const CLOUDFRONT: &str = include_str!("../../tests/fixtures/events/rest_v1_cloudfront.json");

    #[test]
    fn decodes_the_documented_proxy_event() {
        let (req, format) = decode_http(PROXY);
        assert_eq!(format, ReplyFormat::RestApi);
        assert_eq!(req.source, EventSource::RestApi);
        assert_eq!(req.method, Method::POST);
        assert_eq!(req.path, "/hello/world");
        assert_eq!(
            query(&req),
            [
                ("name", "me"),
                ("multivalueName", "you"),
                ("multivalueName", "me")
            ]
        );
        assert_eq!(header_values(&req, "content-type"), ["application/json"]);
        assert_eq!(
            header_values(&req, "x-forwarded-for"),
            ["54.240.196.186, 54.182.214.83"]
        );
        assert_eq!(header_values(&req, "headername"), ["headerValue"]);
        assert_eq!(&req.body[..], b"{\r\n\t\"a\": 1\r\n}");
        let ctx = &req.context;
        assert_eq!(ctx.request_id, "deef4878-7910-11e6-8f14-25afc3e9ae33");
        assert_eq!(ctx.stage, "testStage");
        // No `requestContext.path`: the stage is in the URL of an execute-api host.
        assert_eq!(ctx.base_path, "/testStage");
        assert_eq!(ctx.source_ip.as_deref(), Some("192.168.196.186"));
        assert_eq!(ctx.user_agent.as_deref(), Some("PostmanRuntime/2.4.5"));
        assert_eq!(ctx.api_id.as_deref(), Some("gy415nuibc"));
        assert_eq!(ctx.account_id.as_deref(), Some("12345678912"));
        assert_eq!(ctx.domain_name, None);
        assert_eq!(ctx.authorizer, None);
    }

    #[test]
    fn an_empty_header_name_is_skipped() {
        // The documented example has `"": [""]` in `multiValueHeaders`.
        let (req, _) = decode_http(PROXY);
        assert_eq!(req.headers.len(), 19);
        assert!(req.headers.keys().all(|name| !name.as_str().is_empty()));
    }

    #[test]
    fn decodes_the_console_event_with_the_stage_in_the_context_path() {
        let (req, _) = decode_http(CONSOLE);
        assert_eq!(req.method, Method::GET);
        assert_eq!(req.path, "/");
        assert!(req.query.is_empty());
        assert!(req.body.is_empty());
        let ctx = &req.context;
        assert_eq!(ctx.base_path, "/Prod");
        assert_eq!(
            ctx.domain_name.as_deref(),
            Some("70ixmpl4fl.execute-api.us-east-2.amazonaws.com")
        );
        assert_eq!(ctx.request_time_epoch, Some(1_583_798_639_428));
        // `multiValueHeaders` wins over `headers` (they differ in this example).
        assert_eq!(
            header_values(&req, "cookie"),
            ["s_fid=7AABXMPL1AFD9BBF-0643XMPL09956DE2; regStatus=pre-register;"]
        );
        assert_eq!(
            header_values(&req, "host"),
            ["70ixmpl4fl.execute-api.ca-central-1.amazonaws.com"]
        );
    }

    #[test]
    fn decodes_http_api_payload_1_0() {
        let (req, format) = decode_http(HTTP_API_V1);
        assert_eq!(format, ReplyFormat::RestApi);
        assert_eq!(req.source, EventSource::HttpApi);
        assert_eq!(req.method, Method::GET);
        assert_eq!(req.path, "/my/path");
        assert_eq!(req.context.base_path, "");
        assert_eq!(req.context.stage, "$default");
        assert_eq!(header_values(&req, "header2"), ["value1", "value2"]);
        assert_eq!(
            query(&req),
            [
                ("parameter1", "value1"),
                ("parameter1", "value2"),
                ("parameter2", "value")
            ]
        );
        assert_eq!(&req.body[..], b"Hello from Lambda!");
        assert_eq!(
            req.context.authorizer,
            Some(json!({"claims": null, "scopes": null}))
        );
        assert_eq!(req.context.request_time_epoch, Some(1_583_349_317_135));
        assert_eq!(req.context.source_ip.as_deref(), Some("IP"));
    }

    #[test]
    fn http_api_payload_1_0_on_a_named_stage_strips_the_stage() {
        let mut event: Value = serde_json::from_str(HTTP_API_V1).unwrap();
        event["path"] = json!("/dev/my/path");
        event["requestContext"]["path"] = json!("/dev/my/path");
        event["requestContext"]["stage"] = json!("dev");
        let (req, _) = decode_value(&event);
        assert_eq!(req.path, "/my/path");
        assert_eq!(req.context.base_path, "/dev");
    }

    #[test]
    fn decodes_the_cloudfront_benchmark_event() {
        assert!(
            CLOUDFRONT.len() >= 2700,
            "the benchmark event is about 2.8 KB"
        );
        let (req, _) = decode_http(CLOUDFRONT);
        assert_eq!(req.method, Method::GET);
        assert_eq!(req.path, "/users/42");
        assert_eq!(req.context.base_path, "/prod");
        assert_eq!(header_values(&req, "cloudfront-viewer-country"), ["DE"]);
        assert_eq!(
            header_values(&req, "accept-language"),
            ["en-GB,en;q=0.9,de;q=0.8"]
        );
        assert_eq!(query(&req), [("page", "2"), ("tag", "a"), ("tag", "b")]);
    }

    /// The proxy fixture, as called through different front doors.
    fn proxy_event(path: &str, context_path: Option<&str>, domain: Option<&str>) -> Value {
        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        let proxy = path.trim_start_matches('/');
        event["path"] = json!(path);
        event["pathParameters"] = json!({ "proxy": proxy });
        event["requestContext"]["path"] = json!(context_path);
        event["requestContext"]["domainName"] = json!(domain);
        event
    }

    #[test]
    fn the_stage_is_the_base_path_on_execute_api() {
        let host = "abc.execute-api.eu-west-1.amazonaws.com";
        let (req, _) = decode_value(&proxy_event(
            "/users/42",
            Some("/prod/users/42"),
            Some(host),
        ));
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            ("/users/42", "/prod")
        );
    }

    #[test]
    fn a_custom_domain_at_the_root_has_no_base_path() {
        let (req, _) = decode_value(&proxy_event(
            "/users/42",
            Some("/users/42"),
            Some("api.example.com"),
        ));
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            ("/users/42", "")
        );
    }

    #[test]
    fn a_base_path_mapping_is_split_off_the_path() {
        // API Gateway leaves the mapping in `path`; `resource` + `pathParameters` tell the route.
        let mut event = proxy_event(
            "/v1/users/42",
            Some("/v1/users/42"),
            Some("api.example.com"),
        );
        event["pathParameters"] = json!({ "proxy": "users/42" });
        let (req, _) = decode_value(&event);
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            ("/users/42", "/v1")
        );

        let mut nested = proxy_event(
            "/api/v2/users/42/",
            Some("/api/v2/users/42/"),
            Some("api.example.com"),
        );
        nested["pathParameters"] = json!({ "proxy": "users/42/" });
        let (req, _) = decode_value(&nested);
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            ("/users/42/", "/api/v2")
        );
    }

    #[test]
    fn a_base_path_mapping_at_the_root_resource() {
        let mut event = proxy_event("/v1", Some("/v1"), Some("api.example.com"));
        event["resource"] = json!("/");
        event["pathParameters"] = Value::Null;
        let (req, _) = decode_value(&event);
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            ("/", "/v1")
        );
    }

    #[test]
    fn the_root_with_and_without_trailing_slash() {
        let host = "abc.execute-api.eu-west-1.amazonaws.com";
        for context_path in ["/prod", "/prod/"] {
            let mut event = proxy_event("/", Some(context_path), Some(host));
            event["resource"] = json!("/");
            event["pathParameters"] = Value::Null;
            let (req, _) = decode_value(&event);
            assert_eq!(
                (req.path.as_str(), req.context.base_path.as_str()),
                ("/", "/prod")
            );
        }
    }

    #[test]
    fn percent_encoding_differences_do_not_break_the_split() {
        let mut event = proxy_event(
            "/files/a b",
            Some("/api/files/a%20b"),
            Some("api.example.com"),
        );
        event["resource"] = json!("/files/{name}");
        event["pathParameters"] = json!({ "name": "a b" });
        let (req, _) = decode_value(&event);
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            ("/files/a b", "/api")
        );
    }

    #[test]
    fn mismatched_context_path_falls_back() {
        let host = "abc.execute-api.eu-west-1.amazonaws.com";
        let (req, _) = decode_value(&proxy_event("/a/b/c", Some("/x"), Some(host)));
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            ("/a/b/c", "/prod")
        );
        let (req, _) = decode_value(&proxy_event("/a/b/c", Some("/x"), Some("api.example.com")));
        assert_eq!(req.context.base_path, "");
    }

    #[test]
    fn without_resource_the_context_path_suffix_decides() {
        let mut event = proxy_event("/users/42", Some("/prod/users/42"), None);
        event.as_object_mut().unwrap().remove("resource");
        let (req, _) = decode_value(&event);
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            ("/users/42", "/prod")
        );
    }

    #[test]
    fn cognito_claims_are_in_the_authorizer() {
        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        event["requestContext"]["authorizer"] =
            json!({ "claims": { "sub": "u-1", "email": "ada@example.com" } });
        let (req, _) = decode_value(&event);
        let authorizer = req.context.authorizer.as_ref().unwrap();
        assert_eq!(authorizer["claims"]["email"], "ada@example.com");
    }

    #[test]
    fn nulls_everywhere_they_can_be() {
        let event = json!({
            "resource": "/{proxy+}", "path": "/x", "httpMethod": "GET",
            "headers": null, "multiValueHeaders": null,
            "queryStringParameters": null, "multiValueQueryStringParameters": null,
            "pathParameters": null, "stageVariables": null,
            "requestContext": {
                "requestId": null, "stage": null, "path": null, "domainName": null,
                "identity": null, "authorizer": null, "requestTimeEpoch": null
            },
            "body": null, "isBase64Encoded": false
        });
        let (req, _) = decode_value(&event);
        assert_eq!(req.path, "/x");
        assert!(req.headers.is_empty() && req.query.is_empty() && req.body.is_empty());
        assert_eq!(req.context.request_id, "");
        assert_eq!(req.context.base_path, "");
        assert_eq!(req.context.authorizer, None);
    }

    #[test]
    fn single_value_maps_are_used_without_multi_value_ones() {
        let event = json!({
            "path": "/x", "httpMethod": "GET",
            "headers": { "X-One": "1" }, "multiValueHeaders": {},
            "queryStringParameters": { "q": "a b" },
            "requestContext": {}
        });
        let (req, _) = decode_value(&event);
        assert_eq!(header_values(&req, "x-one"), ["1"]);
        assert_eq!(query(&req), [("q", "a b")]);
    }

    #[test]
    fn base64_bodies_are_decoded_and_need_not_be_utf8() {
        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        event["body"] = json!("/wABAg==");
        event["isBase64Encoded"] = json!(true);
        let (req, _) = decode_value(&event);
        assert_eq!(&req.body[..], [0xff, 0x00, 0x01, 0x02]);
        event["body"] = json!("/wABAg");
        let (req, _) = decode_value(&event);
        assert_eq!(
            &req.body[..],
            [0xff, 0x00, 0x01, 0x02],
            "padding is optional"
        );
    }

    #[test]
    fn bad_base64_and_bad_methods_are_bad_requests() {
        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        event["body"] = json!("not base64!");
        event["isBase64Encoded"] = json!(true);
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::BadRequest {
                    format: ReplyFormat::RestApi,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.error_type(), "portico.BadRequest");

        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        event["httpMethod"] = json!("GE T");
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(matches!(err, DecodeError::BadRequest { .. }), "{err:?}");
        assert!(err.to_string().contains("GE T"));

        event["httpMethod"] = json!("PROPFIND");
        let (req, _) = decode_value(&event);
        assert_eq!(req.method.as_str(), "PROPFIND");
    }

    #[test]
    fn invalid_header_names_and_values_are_skipped() {
        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        event["multiValueHeaders"] = json!({
            "bad name": ["x"], "good": ["ok", "bad\nvalue", "also ok"], "x-utf8": ["héllo"]
        });
        let (req, _) = decode_value(&event);
        assert_eq!(req.headers.len(), 3);
        assert_eq!(header_values(&req, "good"), ["ok", "also ok"]);
        assert_eq!(req.headers["x-utf8"].as_bytes(), "héllo".as_bytes());
    }

    #[test]
    fn a_wrong_shape_is_malformed() {
        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        event["multiValueHeaders"] = json!(["not", "a", "map"]);
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed(_)), "{err:?}");
        assert_eq!(err.error_type(), "portico.MalformedEvent");

        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        event["path"] = json!(42);
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(err.to_string().contains("REST"), "{err}");

        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        event.as_object_mut().unwrap().remove("path");
        assert!(matches!(
            decode_event(&event.to_string()),
            Err(DecodeError::Malformed(_))
        ));
    }

    fn text_response() -> Response {
        let mut res = Response::new(Body::from("héllo \"world\"\n"));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        res
    }

    #[test]
    fn encodes_text() {
        let out = response_json(encode_response(
            ReplyFormat::RestApi,
            text_response(),
            false,
        ));
        assert_eq!(
            out,
            json!({
                "statusCode": 200,
                "multiValueHeaders": { "content-type": ["text/plain; charset=utf-8"] },
                "body": "héllo \"world\"\n",
                "isBase64Encoded": false
            })
        );
    }

    #[test]
    fn encodes_json_with_a_status() {
        let mut res = Response::new(Body::from(r#"{"id":"u-1"}"#));
        *res.status_mut() = StatusCode::CREATED;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let out = response_json(encode_response(ReplyFormat::RestApi, res, false));
        assert_eq!(out["statusCode"], 201);
        assert_eq!(out["body"], r#"{"id":"u-1"}"#);
        assert_eq!(out["isBase64Encoded"], false);
    }

    #[test]
    fn encodes_binary_as_base64() {
        let mut res = Response::new(Body::from(vec![0x89, b'P', b'N', b'G', 0, 0xff]));
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        let out = response_json(encode_response(ReplyFormat::RestApi, res, false));
        assert_eq!(out["body"], "iVBORwD/");
        assert_eq!(out["isBase64Encoded"], true);

        // Text media type but not UTF-8: base64 too.
        let mut res = Response::new(Body::from(vec![0xff, 0xfe]));
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let out = response_json(encode_response(ReplyFormat::RestApi, res, false));
        assert_eq!(
            (out["body"].as_str(), out["isBase64Encoded"].as_bool()),
            (Some("//4="), Some(true))
        );
    }

    #[test]
    fn repeated_set_cookie_survives() {
        let mut headers = HeaderMap::new();
        headers.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"),
        );
        let mut res = text_response();
        res.headers_mut().extend(headers);
        let out = response_json(encode_response(ReplyFormat::RestApi, res, false));
        assert_eq!(
            out["multiValueHeaders"]["set-cookie"],
            json!(["a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"])
        );
        assert!(out.get("headers").is_none());
    }

    #[test]
    fn head_drops_the_body() {
        let out = response_json(encode_response(ReplyFormat::RestApi, text_response(), true));
        assert_eq!(out["body"], "");
        assert_eq!(out["isBase64Encoded"], false);
        assert_eq!(
            out["multiValueHeaders"]["content-type"][0],
            "text/plain; charset=utf-8"
        );
    }

    #[test]
    fn empty_response() {
        let res = Response::new(Body::empty());
        let out = encode_response(ReplyFormat::RestApi, res, false);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"statusCode":200,"multiValueHeaders":{},"body":"","isBase64Encoded":false}"#
        );
    }
}
