//! API Gateway HTTP API events (payload format 2.0) and Lambda function URL events, which have
//! the same shape and expect the same response.

use http::HeaderValue;
use http::header::{COOKIE, SET_COOKIE};

use super::{
    DecodeError, Payload, RawEvent, ReplyFormat, decode_body, encode_with, header_map,
    http_request, opt_string, owned_pairs, parse_method, push_joined_headers, push_json_str,
    routed_segments, segment_count, single_pairs, split_segments, strip_stage,
};
use crate::request::{EventSource, Request, RequestContext};
use crate::response::Response;

/// `<url-id>.lambda-url.<region>.on.aws`.
fn is_function_url_host(host: &str) -> bool {
    host.contains(".lambda-url.") && host.ends_with(".on.aws")
}

/// HTTP API (payload 2.0) or function URL event → request.
///
/// `rawPath` is the path the client called: a named stage (and a custom domain's API mapping
/// key) is still in it. The routed path is what the route (`routeKey` plus its greedy
/// `pathParameters`) covers; for a `$default` route only a named stage can be recognized.
pub(super) fn decode_http_api_event(
    event: RawEvent<'_>,
    payload: &Payload<'_>,
) -> Result<(Request, ReplyFormat), DecodeError> {
    let format = ReplyFormat::HttpApi;
    let context = event.request_context.unwrap_or_default();
    let authorizer = context.authorizer_value()?;
    let Some(http) = context.http else {
        return Err(DecodeError::Malformed(
            "API Gateway HTTP API (payload 2.0) event without `requestContext.http`".to_owned(),
        ));
    };
    let Some(raw_path) = event.raw_path.as_deref().or(http.path.as_deref()) else {
        return Err(DecodeError::Malformed(
            "API Gateway HTTP API (payload 2.0) event without `rawPath`".to_owned(),
        ));
    };
    let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
    let mut headers = header_map(&single_pairs(event.headers, "headers")?, payload);
    // Payload 2.0 moves the `Cookie` header into `cookies`.
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty()) {
        let joined = cookies.iter().map(|c| &**c).collect::<Vec<_>>().join("; ");
        if let Ok(value) = HeaderValue::from_str(&joined) {
            let _ = headers.try_insert(COOKIE, value);
        }
    }
    // `rawQueryString` keeps repeated names apart (`queryStringParameters` comma-joins them).
    let query = match event.raw_query_string.as_deref() {
        Some(raw) => form_urlencoded::parse(raw.strip_prefix('?').unwrap_or(raw).as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect(),
        None => owned_pairs(single_pairs(event.query, "queryStringParameters")?),
    };
    let Some(method) = http.method.as_deref() else {
        return Err(DecodeError::Malformed(
            "API Gateway HTTP API (payload 2.0) event without `requestContext.http.method`"
                .to_owned(),
        ));
    };
    let method = parse_method(method, format)?;
    let body = decode_body(event.body, event.is_base64_encoded, format, payload)?;

    let function_url = context
        .domain_name
        .as_deref()
        .is_some_and(is_function_url_host);
    // Function URLs have no stages; Lambda fills in `$default` as a placeholder.
    let stage = match context.stage.as_deref() {
        Some(_) if function_url => "",
        Some(stage) => stage,
        None => "",
    };
    // `ANY /requests/{id}`: the route's path is the resource it came through.
    let route_path = event
        .route_key
        .as_deref()
        .and_then(|key| key.split_once(' '))
        .map(|(_, template)| template)
        .filter(|template| template.starts_with('/'));
    let routed = route_path.and_then(|template| routed_segments(template, event.path_parameters));
    let (base_path, path) = match routed.and_then(|r| segment_count(raw_path).checked_sub(r)) {
        Some(extra) => split_segments(raw_path, extra),
        None => strip_stage(raw_path, stage).unwrap_or(("", raw_path)),
    };

    let source = if function_url {
        EventSource::FunctionUrl
    } else {
        EventSource::HttpApi
    };
    let context = RequestContext {
        request_id: opt_string(context.request_id).unwrap_or_default(),
        stage: stage.to_owned(),
        source_ip: opt_string(http.source_ip),
        user_agent: opt_string(http.user_agent),
        domain_name: opt_string(context.domain_name),
        base_path: base_path.trim_end_matches('/').to_owned(),
        api_id: opt_string(context.api_id),
        account_id: opt_string(context.account_id),
        authorizer,
        request_time_epoch: context.time_epoch.and_then(|epoch| epoch.0),
        resource_path: route_path.map(str::to_owned),
        // HTTP APIs and function URLs have no API keys.
        api_key_id: None,
    };
    let request = http_request(
        method,
        path.to_owned(),
        source,
        query,
        headers,
        body,
        context,
    );
    Ok((request, format))
}

/// Response → HTTP API (payload 2.0) / function URL response: `Set-Cookie` values go in
/// `cookies` (each becomes its own header), other repeated headers are comma-joined.
/// `cookies` is always present (an empty list when there are none): AWS accepts either, and
/// some local emulators of function URLs reject a response without it.
pub(super) fn encode_http_api_response(res: &Response, head_request: bool) -> Vec<u8> {
    encode_with(res, head_request, |out| {
        out.extend_from_slice(b",\"headers\":");
        push_joined_headers(out, res.headers(), Some(&SET_COOKIE));
        out.extend_from_slice(b",\"cookies\":[");
        for (i, cookie) in res.headers().get_all(SET_COOKIE).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_str(out, &super::header_text(cookie));
        }
        out.push(b']');
    })
}

#[cfg(test)]
mod tests {
    use http::header;
    use serde_json::{Value, json};

    use super::super::tests::{
        COOKIES, FUNCTION_URL, HTTP_API_V2 as V2, HTTP_API_V2_STAGE as V2_STAGE, assert_routed,
        bad_request, decode_http, decode_value, encoded, header_values, query, response,
        with_cookies,
    };
    use super::super::{DecodeError, ReplyFormat, decode_event};
    use crate::response::Response;

    #[test]
    fn decodes_the_documented_event() {
        let (req, _) = decode_http(V2);
        assert_eq!(
            query(&req),
            [
                ("parameter1", "value1"),
                ("parameter1", "value2"),
                ("parameter2", "value")
            ]
        );
        assert_eq!(header_values(&req, "header2"), ["value1,value2"]);
        assert_eq!(header_values(&req, "cookie"), ["cookie1; cookie2"]);
        assert_eq!(&req.body[..], b"Hello from Lambda");
        let ctx = &req.context;
        assert_eq!(ctx.user_agent.as_deref(), Some("agent"));
        assert_eq!(
            ctx.domain_name.as_deref(),
            Some("id.execute-api.us-east-1.amazonaws.com")
        );
        assert_eq!(ctx.request_time_epoch, Some(1_583_348_638_390));
        let authorizer = ctx.authorizer.as_ref().unwrap();
        assert_eq!(authorizer["jwt"]["claims"]["claim1"], "value1");
        assert_eq!(authorizer["lambda"]["exampleKey1"], "exampleValue1");
    }

    #[test]
    fn a_named_stage_is_stripped_from_raw_path() {
        let (req, _) = decode_http(V2_STAGE);
        assert_eq!(req.context.base_path, "/default");
        assert_eq!(req.context.stage, "default");
        // Marked base64 without a body.
        assert!(req.body.is_empty());
        assert!(req.query.is_empty());
        assert_eq!(
            header_values(&req, "cookie"),
            ["s_fid=7AABXMPL1AFD9BBF-0643XMPL09956DE2; regStatus=pre-register"]
        );
    }

    #[test]
    fn a_default_route_on_a_named_stage() {
        let mut event: Value = serde_json::from_str(V2_STAGE).unwrap();
        event["routeKey"] = json!("$default");
        event["rawPath"] = json!("/default");
        assert_routed(&event, "/", "/default");
    }

    #[test]
    fn an_api_mapping_key_is_split_off_by_the_route() {
        let mut event: Value = serde_json::from_str(V2).unwrap();
        event["routeKey"] = json!("ANY /{proxy+}");
        event["rawPath"] = json!("/orders/v1/items/7");
        event["pathParameters"] = json!({ "proxy": "items/7" });
        event["requestContext"]["domainName"] = json!("api.example.com");
        assert_routed(&event, "/items/7", "/orders/v1");
    }

    #[test]
    fn decodes_the_documented_function_url_event() {
        let (req, _) = decode_http(FUNCTION_URL);
        assert_eq!(
            req.context.domain_name.as_deref(),
            Some("<url-id>.lambda-url.us-west-2.on.aws")
        );
        assert_eq!(
            req.context.authorizer.as_ref().unwrap()["iam"]["accountId"],
            "111122223333"
        );
        assert_eq!(&req.body[..], b"Hello from client!");
        assert_eq!(header_values(&req, "header2"), ["value1,value2"]);
    }

    #[test]
    fn the_raw_query_string_is_form_decoded() {
        let mut event: Value = serde_json::from_str(V2).unwrap();
        event["rawQueryString"] = json!("q=a+b%26c&q=%E2%9C%93&flag");
        let (req, _) = decode_value(&event);
        assert_eq!(query(&req), [("q", "a b&c"), ("q", "✓"), ("flag", "")]);
    }

    #[test]
    fn without_raw_query_string_the_parameters_are_used() {
        let mut event: Value = serde_json::from_str(V2).unwrap();
        event.as_object_mut().unwrap().remove("rawQueryString");
        let (req, _) = decode_value(&event);
        assert_eq!(
            query(&req),
            [("parameter1", "value1,value2"), ("parameter2", "value")]
        );
    }

    #[test]
    fn base64_bodies_and_errors() {
        let mut event: Value = serde_json::from_str(V2).unwrap();
        event["isBase64Encoded"] = json!(true);
        event["body"] = json!("aGk=");
        let (req, _) = decode_value(&event);
        assert_eq!(&req.body[..], b"hi");

        event["body"] = json!("a");
        bad_request(&event, ReplyFormat::HttpApi);

        let mut event: Value = serde_json::from_str(V2).unwrap();
        event["requestContext"]["http"]["method"] = json!("");
        bad_request(&event, ReplyFormat::HttpApi);

        event["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("http");
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed(_)), "{err:?}");
    }

    fn response_with_cookies() -> Response {
        with_cookies(201, "{\"ok\":true}", "application/json")
    }

    #[test]
    fn encodes_cookies_and_joins_repeated_headers() {
        assert_eq!(
            encoded(ReplyFormat::HttpApi, response_with_cookies(), false),
            json!({
                "statusCode": 201,
                "headers": { "content-type": "application/json", "vary": "Origin, Accept" },
                "cookies": COOKIES,
                "body": "{\"ok\":true}",
                "isBase64Encoded": false
            })
        );
    }

    #[test]
    fn encodes_binary_and_head() {
        let res = response(
            200,
            vec![0u8, 1, 2, 3],
            &[(header::CONTENT_TYPE, "application/octet-stream")],
        );
        let out = encoded(ReplyFormat::HttpApi, res, false);
        assert_eq!(
            (out["body"].as_str(), out["isBase64Encoded"].as_bool()),
            (Some("AAECAw=="), Some(true))
        );
        assert_eq!(out["cookies"], serde_json::json!([]));

        let out = encoded(ReplyFormat::HttpApi, response_with_cookies(), true);
        assert_eq!(out["body"], "");
        assert_eq!(out["cookies"].as_array().unwrap().len(), 2);
    }
}
