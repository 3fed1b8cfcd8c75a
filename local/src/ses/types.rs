//! What the parts of the local SES share: limits, the outbox's `Mail` record, and the
//! replies (pages and SES's REST-JSON errors).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::scheduler::event_id;

/// Where `SendEmail` is served.
pub(crate) const SEND_EMAIL_PATH: &str = "/v2/email/outbound-emails";

/// The largest `SendEmail` request taken: 10 MB, the API port's limit (and SES v1's message
/// limit). SES v2 takes messages up to 40 MB, but a local cloud that buffered 54 MB requests
/// would let any client grow it by hundreds of megabytes; a request announcing more is refused
/// before its body is read.
pub(crate) const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Messages on one page of `/outbox` and `/outbox.json`.
pub(crate) const PAGE_SIZE: usize = 50;

/// The region named in errors, as the rest of the local cloud's services.
pub(crate) const REGION: &str = "us-east-1";

/// SES refuses a message with more recipients than this.
pub(crate) const MAX_RECIPIENTS: usize = 50;

pub(crate) type Reply = Response<Full<Bytes>>;

/// One message of the outbox, as `<id>.json` keeps it and `/outbox.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mail {
    /// The `MessageId` answered to the sender; also the file name.
    pub(crate) id: String,
    /// When it was accepted, in milliseconds since the Unix epoch.
    pub(crate) timestamp_ms: i64,
    /// The `From` mailbox as given (`Name <address>` or an address).
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    pub(crate) cc: Vec<String>,
    pub(crate) bcc: Vec<String>,
    pub(crate) reply_to: Vec<String>,
    pub(crate) subject: String,
    pub(crate) text: Option<String>,
    pub(crate) html: Option<String>,
    /// Sent as `Content.Raw` (the `.eml` is the caller's message).
    pub(crate) raw: bool,
}

#[derive(Clone, Copy)]
pub(crate) enum View {
    Page,
    Body,
    Eml,
}

pub(crate) const HTML: &str = "text/html; charset=utf-8";

pub(crate) fn page(status: StatusCode, content_type: &'static str, body: Bytes) -> Reply {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if content_type == HTML {
        res.headers_mut().insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src 'self'; frame-ancestors 'self'",
            ),
        );
    }
    res
}

/// An SES error: AWS's REST-JSON shape, the code in `x-amzn-ErrorType`.
pub(crate) fn ses_error(status: StatusCode, code: &'static str, message: &str) -> Reply {
    let mut res = page(
        status,
        "application/json",
        json!({ "message": message }).to_string().into(),
    );
    res.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(code));
    res
}

pub(crate) fn bad_request(message: &str) -> Reply {
    ses_error(StatusCode::BAD_REQUEST, "BadRequestException", message)
}

/// An SES-like message id: `<13 hex digits of ms>-<uuid>-000000`.
pub(crate) fn message_id() -> String {
    format!("{:013x}-{}-000000", crate::clock::now_ms(), event_id())
}

/// Whether `id` is shaped like the ids [`message_id`] makes (no path tricks).
pub(crate) fn is_message_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 80 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// A `SendEmail` over [`BODY_LIMIT`]: `MessageRejected`, and the connection closes (the rest
/// of the body is not read).
pub(crate) fn too_large(announced: Option<u64>) -> Reply {
    let size = announced.map_or_else(|| format!("over {BODY_LIMIT}"), |n| n.to_string());
    closing(ses_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "MessageRejected",
        &format!(
            "Message length is more than {BODY_LIMIT} bytes long: '{size}' (portico local takes \
             SendEmail requests up to 10 MB)"
        ),
    ))
}

/// `reply`, closing the connection.
pub(crate) fn closing(mut reply: Reply) -> Reply {
    reply
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    reply
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn mail(text: Option<&str>, html: Option<&str>) -> Mail {
        Mail {
            id: "0000000000001-abc-000000".to_owned(),
            timestamp_ms: 1_764_187_200_000,
            from: "Ünïcode HR <hr@example.com>".to_owned(),
            to: vec!["manager@example.com".to_owned()],
            cc: vec!["\"Boss, The\" <boss@example.com>".to_owned()],
            bcc: vec!["audit@example.com".to_owned()],
            reply_to: vec!["noreply@example.com".to_owned()],
            subject: "Promotion request for Jim — approve? ✅".to_owned(),
            text: text.map(str::to_owned),
            html: html.map(str::to_owned),
            raw: false,
        }
    }

    #[test]
    fn dates_are_rfc_5322() {
        assert_eq!(crate::clock::rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            crate::clock::rfc2822(1_764_187_200_000),
            "Wed, 26 Nov 2025 20:00:00 +0000"
        );
    }
}
