//! API Gateway REST API proxy events (payload format 1.0). HTTP APIs whose integration is set to
//! payload 1.0 send the same shape (with `"version": "1.0"`) and expect the same response.

use http::header::HOST;

use super::{
    DecodeError, Payload, RawEvent, ReplyFormat, decode_body, encode_with, http_request,
    opt_string, owned_pairs, parse_method, push_multi_value_headers, routed_segments,
    segment_count, split_segments, strip_stage,
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
    mut event: RawEvent<'_>,
    payload: &Payload<'_>,
) -> Result<(Request, ReplyFormat), DecodeError> {
    let format = ReplyFormat::RestApi;
    let context = event.request_context.take().unwrap_or_default();
    let http_api = event.version.as_deref() == Some("1.0");
    let Some(raw_path) = event.path.take() else {
        return Err(DecodeError::Malformed(
            "API Gateway REST API (payload 1.0) event without `path`".to_owned(),
        ));
    };
    // `multiValueHeaders` is a superset of `headers`; likewise for the query.
    let (headers, query) = event.take_headers_and_query(payload)?;
    let query = owned_pairs(query);
    let authorizer = context.authorizer_value()?;
    let method = parse_method(event.http_method.as_deref().unwrap_or_default(), format)?;
    let body = decode_body(event.body, event.is_base64_encoded, format, payload)?;

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
        &raw_path,
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
    let context = RequestContext {
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
    };
    let request = http_request(method, path, source, query, headers, body, context);
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
    encode_with(res, head_request, |out| {
        out.extend_from_slice(b",\"multiValueHeaders\":");
        push_multi_value_headers(out, res.headers());
    })
}

#[cfg(test)]
mod tests {
    use http::header;
    use serde_json::{Value, json};

    use super::super::tests::{
        HTTP_API_V1, REST_CLOUDFRONT as CLOUDFRONT, REST_CONSOLE as CONSOLE, REST_PROXY as PROXY,
        assert_multi_value_headers, assert_routed, bad_request, decode_http, decode_value, encoded,
        header_values, query, response, with_cookies,
    };
    use super::super::{DecodeError, ReplyFormat, decode_event, encode_response};
    use crate::response::{Body, Response};

    #[test]
    fn decodes_the_documented_proxy_event() {
        let (req, _) = decode_http(PROXY);
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
        assert_eq!(ctx.user_agent.as_deref(), Some("PostmanRuntime/2.4.5"));
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
        let (req, _) = decode_http(HTTP_API_V1);
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
    }

    #[test]
    fn http_api_payload_1_0_on_a_named_stage_strips_the_stage() {
        let mut event: Value = serde_json::from_str(HTTP_API_V1).unwrap();
        event["path"] = json!("/dev/my/path");
        event["requestContext"]["path"] = json!("/dev/my/path");
        event["requestContext"]["stage"] = json!("dev");
        assert_routed(&event, "/my/path", "/dev");
    }

    #[test]
    fn decodes_the_cloudfront_benchmark_event() {
        assert!(
            CLOUDFRONT.len() >= 2700,
            "the benchmark event is about 2.8 KB"
        );
        let (req, _) = decode_http(CLOUDFRONT);
        assert_eq!(header_values(&req, "cloudfront-viewer-country"), ["DE"]);

        assert_eq!(
            header_values(&req, "accept-language"),
            ["en-GB,en;q=0.9,de;q=0.8"]
        );
        assert_eq!(query(&req), [("page", "2"), ("tag", "a"), ("tag", "b")]);
    }

    /// The CloudFront fixture with some of its fields replaced.
    fn cloudfront_with(fields: &[(&str, Value)]) -> Value {
        let mut event: Value = serde_json::from_str(CLOUDFRONT).unwrap();
        for (name, value) in fields {
            event[*name] = value.clone();
        }
        event
    }

    /// The proxy fixture, as called through different front doors.
    fn proxy_event(path: &str, context_path: Option<&str>, domain: Option<&str>) -> Value {
        let mut event = cloudfront_with(&[
            ("path", json!(path)),
            (
                "pathParameters",
                json!({ "proxy": path.trim_start_matches('/') }),
            ),
        ]);
        event["requestContext"]["path"] = json!(context_path);
        event["requestContext"]["domainName"] = json!(domain);
        event
    }

    const EXECUTE_API: &str = "abc.execute-api.eu-west-1.amazonaws.com";

    #[test]
    fn the_base_path_is_split_off_the_path() {
        let custom = Some("api.example.com");
        let execute_api = Some(EXECUTE_API);
        // (path, requestContext.path, domain, proxy parameter, routed path, base path)
        for (path, context_path, domain, proxy, routed, base_path) in [
            // The stage is the base path on execute-api.
            (
                "/users/42",
                "/prod/users/42",
                execute_api,
                None,
                "/users/42",
                "/prod",
            ),
            // A custom domain at the root has none.
            ("/users/42", "/users/42", custom, None, "/users/42", ""),
            // API Gateway leaves a base path mapping in `path`; `resource` + `pathParameters`
            // tell the route.
            (
                "/v1/users/42",
                "/v1/users/42",
                custom,
                Some("users/42"),
                "/users/42",
                "/v1",
            ),
            (
                "/api/v2/users/42/",
                "/api/v2/users/42/",
                custom,
                Some("users/42/"),
                "/users/42/",
                "/api/v2",
            ),
            // A context path that does not end with the routed path falls back.
            ("/a/b/c", "/x", execute_api, None, "/a/b/c", "/prod"),
            ("/a/b/c", "/x", custom, None, "/a/b/c", ""),
        ] {
            let mut event = proxy_event(path, Some(context_path), domain);
            if let Some(proxy) = proxy {
                event["pathParameters"] = json!({ "proxy": proxy });
            }
            assert_routed(&event, routed, base_path);
        }
    }

    #[test]
    fn the_root_resource_with_a_base_path() {
        for (path, context_path, domain, base_path) in [
            // A base path mapping at the root resource.
            ("/v1", "/v1", "api.example.com", "/v1"),
            // The root with and without trailing slash.
            ("/", "/prod", EXECUTE_API, "/prod"),
            ("/", "/prod/", EXECUTE_API, "/prod"),
        ] {
            let mut event = proxy_event(path, Some(context_path), Some(domain));
            event["resource"] = json!("/");
            event["pathParameters"] = Value::Null;
            assert_routed(&event, "/", base_path);
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
        assert_routed(&event, "/files/a b", "/api");
    }

    #[test]
    fn without_resource_the_context_path_suffix_decides() {
        let mut event = proxy_event("/users/42", Some("/prod/users/42"), None);
        event.as_object_mut().unwrap().remove("resource");
        assert_routed(&event, "/users/42", "/prod");
    }

    #[test]
    fn cognito_claims_are_in_the_authorizer() {
        let mut event = cloudfront_with(&[]);
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
        // Padding is optional.
        for body in ["/wABAg==", "/wABAg"] {
            let event = cloudfront_with(&[("body", json!(body)), ("isBase64Encoded", json!(true))]);
            let (req, _) = decode_value(&event);
            assert_eq!(&req.body[..], [0xff, 0x00, 0x01, 0x02], "{body}");
        }
    }

    #[test]
    fn bad_base64_and_bad_methods_are_bad_requests() {
        let event = cloudfront_with(&[
            ("body", json!("not base64!")),
            ("isBase64Encoded", json!(true)),
        ]);
        bad_request(&event, ReplyFormat::RestApi);

        let mut event = cloudfront_with(&[("httpMethod", json!("GE T"))]);
        let err = bad_request(&event, ReplyFormat::RestApi);
        assert!(err.to_string().contains("GE T"));

        event["httpMethod"] = json!("PROPFIND");
        let (req, _) = decode_value(&event);
        assert_eq!(req.method.as_str(), "PROPFIND");
    }

    #[test]
    fn invalid_header_names_and_values_are_skipped() {
        let event = cloudfront_with(&[(
            "multiValueHeaders",
            json!({ "bad name": ["x"], "good": ["ok", "bad\nvalue", "also ok"], "x-utf8": ["héllo"] }),
        )]);
        let (req, _) = decode_value(&event);
        assert_eq!(req.headers.len(), 3);
        assert_eq!(header_values(&req, "good"), ["ok", "also ok"]);
        assert_eq!(req.headers["x-utf8"].as_bytes(), "héllo".as_bytes());
    }

    #[test]
    fn a_wrong_shape_is_malformed() {
        let event = cloudfront_with(&[("multiValueHeaders", json!(["not", "a", "map"]))]);
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed(_)), "{err:?}");
        assert_eq!(err.error_type(), "portico.MalformedEvent");

        let event = cloudfront_with(&[("path", json!(42))]);
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(err.to_string().contains("REST"), "{err}");

        let mut event = cloudfront_with(&[]);
        event.as_object_mut().unwrap().remove("path");
        assert!(matches!(
            decode_event(&event.to_string()),
            Err(DecodeError::Malformed(_))
        ));
    }

    fn text_response() -> Response {
        response(
            200,
            "héllo \"world\"\n",
            &[(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        )
    }

    #[test]
    fn encodes_text() {
        assert_eq!(
            encoded(ReplyFormat::RestApi, text_response(), false),
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
        let res = response(
            201,
            r#"{"id":"u-1"}"#,
            &[(header::CONTENT_TYPE, "application/json")],
        );
        let out = encoded(ReplyFormat::RestApi, res, false);
        assert_eq!(out["statusCode"], 201);
        assert_eq!(out["body"], r#"{"id":"u-1"}"#);
        assert_eq!(out["isBase64Encoded"], false);
    }

    #[test]
    fn encodes_binary_as_base64() {
        for (body, content_type, base64) in [
            (
                vec![0x89, b'P', b'N', b'G', 0, 0xff],
                "image/png",
                "iVBORwD/",
            ),
            // Text media type but not UTF-8: base64 too.
            (vec![0xff, 0xfe], "text/plain", "//4="),
        ] {
            let res = response(200, body, &[(header::CONTENT_TYPE, content_type)]);
            let out = encoded(ReplyFormat::RestApi, res, false);
            assert_eq!(
                (out["body"].as_str(), out["isBase64Encoded"].as_bool()),
                (Some(base64), Some(true)),
                "{content_type}"
            );
        }
    }

    #[test]
    fn repeated_set_cookie_survives() {
        let res = with_cookies(200, "hi", "text/plain");
        let out = encoded(ReplyFormat::RestApi, res, false);
        assert_multi_value_headers(&out);
    }

    #[test]
    fn head_drops_the_body() {
        let out = encoded(ReplyFormat::RestApi, text_response(), true);
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
