//! Application Load Balancer target events (Lambda target groups), with or without the target
//! group's multi-value headers setting.

use std::borrow::Cow;

use http::header::{SET_COOKIE, USER_AGENT};
use percent_encoding::percent_decode_str;

use super::{
    DecodeError, Payload, RawEvent, ReplyFormat, decode_body, encode_with, header_text,
    http_request, parse_method, push_joined_headers, push_json_str, push_multi_value_headers,
};
use crate::request::{EventSource, Request, RequestContext};
use crate::response::Response;

/// ALB event → request.
///
/// Unlike API Gateway, the load balancer passes the path and the query parameters as the client
/// sent them: they are percent-decoded here (the query form-style, `+` as space). With
/// multi-value headers enabled the event has `multiValueHeaders` /
/// `multiValueQueryStringParameters` instead of `headers` / `queryStringParameters`, and the
/// response must use the same form.
pub(super) fn decode_alb_event(
    mut event: RawEvent<'_>,
    payload: &Payload<'_>,
) -> Result<(Request, ReplyFormat), DecodeError> {
    let multi_value_headers =
        event.multi_value_headers.is_some() || event.multi_value_query.is_some();
    let format = ReplyFormat::Alb {
        multi_value_headers,
    };
    let (headers, query) = event.take_headers_and_query(payload)?;
    let query = query
        .iter()
        .map(|(name, value)| (decode_form_component(name), decode_form_component(value)))
        .collect();
    let Some(raw_path) = event.path.as_deref() else {
        return Err(DecodeError::Malformed(
            "Application Load Balancer event without `path`".to_owned(),
        ));
    };
    let path = match percent_decode_str(raw_path).decode_utf8_lossy() {
        Cow::Borrowed("") => "/".to_owned(),
        path => path.into_owned(),
    };
    let method = parse_method(event.http_method.as_deref().unwrap_or_default(), format)?;
    let body = decode_body(event.body, event.is_base64_encoded, format, payload)?;

    // The load balancer appends the address it saw to `X-Forwarded-For`: the last entry is the
    // one a client cannot forge.
    let source_ip = headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|ip| ip.trim().to_owned())
        .filter(|ip| !ip.is_empty());
    let user_agent = headers.get(USER_AGENT).map(|v| header_text(v).into_owned());
    let context = RequestContext {
        source_ip,
        user_agent,
        ..RequestContext::default()
    };
    let request = http_request(
        method,
        path,
        EventSource::Alb,
        query,
        headers,
        body,
        context,
    );
    Ok((request, format))
}

/// `application/x-www-form-urlencoded` decoding of one name or value: `+` is a space, invalid
/// UTF-8 becomes U+FFFD.
fn decode_form_component(raw: &str) -> String {
    if !raw.contains(['%', '+']) {
        return raw.to_owned();
    }
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Response → ALB target response, in the header form the target group uses.
///
/// Without multi-value headers a header can appear once: repeated values are comma-joined,
/// except `Set-Cookie`, where only the last one can be sent (the same rule the load balancer
/// applies to repeated request headers). Enable multi-value headers on the target group to send
/// several cookies.
pub(super) fn encode_alb_response(
    res: &Response,
    head_request: bool,
    multi_value_headers: bool,
) -> Vec<u8> {
    encode_with(res, head_request, |out| {
        out.extend_from_slice(b",\"statusDescription\":");
        let status = res.status();
        let description = format!(
            "{} {}",
            status.as_str(),
            status.canonical_reason().unwrap_or("Unknown")
        );
        push_json_str(out, &description);
        if multi_value_headers {
            out.extend_from_slice(b",\"multiValueHeaders\":");
            push_multi_value_headers(out, res.headers());
        } else {
            out.extend_from_slice(b",\"headers\":");
            push_joined_headers(out, res.headers(), Some(&SET_COOKIE));
            if let Some(cookie) = res.headers().get_all(SET_COOKIE).iter().next_back() {
                out.pop(); // the object's closing brace
                if !out.ends_with(b"{") {
                    out.push(b',');
                }
                push_json_str(out, SET_COOKIE.as_str());
                out.push(b':');
                push_json_str(out, &header_text(cookie));
                out.push(b'}');
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use http::header;
    use serde_json::{Value, json};

    use super::super::ReplyFormat;
    use super::super::tests::{
        ALB_MULTI as MULTI, ALB_SINGLE as SINGLE, COOKIES, assert_multi_value_headers, bad_request,
        decode_http, decode_value, encoded, header_values, query, response, with_cookies,
    };
    use crate::response::{Body, Response};

    const SINGLE_VALUE: ReplyFormat = ReplyFormat::Alb {
        multi_value_headers: false,
    };
    const MULTI_VALUE: ReplyFormat = ReplyFormat::Alb {
        multi_value_headers: true,
    };

    #[test]
    fn decodes_the_documented_single_value_event() {
        let (req, _) = decode_http(SINGLE);
        assert_eq!(query(&req), [("query", "1234ABCD")]);
        assert_eq!(
            header_values(&req, "host"),
            ["lambda-alb-123578498.us-east-2.elb.amazonaws.com"]
        );
        assert_eq!(header_values(&req, "x-imforwards"), ["20"]);
        assert!(req.body.is_empty());
        let ctx = &req.context;
        assert_eq!(ctx.source_ip.as_deref(), Some("72.12.164.125"));
        assert!(
            ctx.user_agent
                .as_deref()
                .unwrap()
                .starts_with("Mozilla/5.0 (Windows NT 10.0")
        );
        assert_eq!(
            (
                ctx.request_id.as_str(),
                ctx.stage.as_str(),
                ctx.base_path.as_str()
            ),
            ("", "", "")
        );
        assert_eq!(ctx.domain_name, None);
    }

    #[test]
    fn decodes_the_documented_multi_value_event() {
        let (req, _) = decode_http(MULTI);
        assert_eq!(query(&req), [("myKey", "val1"), ("myKey", "val2")]);
        assert_eq!(
            header_values(&req, "cookie"),
            ["name1=value1", "name2=value2"]
        );
        assert_eq!(&req.body[..], b"request_body");
        assert_eq!(req.context.source_ip.as_deref(), Some("72.21.198.66"));
    }

    #[test]
    fn path_and_query_are_percent_decoded() {
        let mut event: Value = serde_json::from_str(SINGLE).unwrap();
        event["path"] = json!("/files/a%20b%2Fc");
        event["queryStringParameters"] =
            json!({ "q": "a+b%26c", "na%6De": "%E2%9C%93", "bad": "%ff" });
        let (req, _) = decode_value(&event);
        assert_eq!(req.path, "/files/a b/c");
        let mut pairs = query(&req);
        pairs.sort();
        assert_eq!(pairs, [("bad", "\u{fffd}"), ("name", "✓"), ("q", "a b&c")]);
    }

    #[test]
    fn health_checks_decode() {
        let event = json!({
            "requestContext": { "elb": { "targetGroupArn": "arn:aws:elasticloadbalancing:region:123456789012:targetgroup/my-target-group/6d0ecf831eec9f09" } },
            "httpMethod": "GET", "path": "/", "queryStringParameters": {},
            "headers": { "user-agent": "ELB-HealthChecker/2.0" }, "body": "", "isBase64Encoded": false
        });
        let (req, format) = decode_value(&event);
        assert_eq!(format, SINGLE_VALUE);
        assert_eq!(
            req.context.user_agent.as_deref(),
            Some("ELB-HealthChecker/2.0")
        );
        assert_eq!(req.context.source_ip, None);
    }

    #[test]
    fn bad_base64_is_a_bad_request_in_the_alb_format() {
        let mut event: Value = serde_json::from_str(MULTI).unwrap();
        event["isBase64Encoded"] = json!(true);
        event["body"] = json!("%%%");
        bad_request(&event, MULTI_VALUE);
    }

    fn not_found() -> Response {
        with_cookies(404, "<h1>Hello from Lambda!</h1>", "text/html")
    }

    #[test]
    fn encodes_single_value_headers() {
        assert_eq!(
            encoded(SINGLE_VALUE, not_found(), false),
            json!({
                "statusCode": 404,
                "statusDescription": "404 Not Found",
                "headers": { "content-type": "text/html", "vary": "Origin, Accept", "set-cookie": COOKIES[1] },
                "body": "<h1>Hello from Lambda!</h1>",
                "isBase64Encoded": false
            })
        );
        let only_cookie = response(200, Body::empty(), &[(header::SET_COOKIE, "c=3")]);
        let out = encoded(SINGLE_VALUE, only_cookie, false);
        assert_eq!(out["headers"], json!({ "set-cookie": "c=3" }));
    }

    #[test]
    fn encodes_multi_value_headers() {
        let out = encoded(MULTI_VALUE, not_found(), false);
        assert_eq!(out["statusDescription"], "404 Not Found");
        assert_multi_value_headers(&out);
    }

    #[test]
    fn encodes_binary_head_and_unknown_statuses() {
        let res = response(200, vec![0xffu8; 3], &[(header::CONTENT_TYPE, "image/gif")]);
        let out = encoded(SINGLE_VALUE, res, false);
        assert_eq!(
            (out["body"].as_str(), out["isBase64Encoded"].as_bool()),
            (Some("////"), Some(true))
        );

        let out = encoded(SINGLE_VALUE, not_found(), true);
        assert_eq!(out["body"], "");

        let out = encoded(SINGLE_VALUE, response(599, Body::empty(), &[]), false);
        assert_eq!(out["statusDescription"], "599 Unknown");
    }
}
