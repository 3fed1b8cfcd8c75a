//! The HTML pages a manager sees: small, self-contained (no external assets), every value
//! escaped, never cached, never framed, and sending no `Referer` (the URL holds a link).

use portico::prelude::*;
use portico::{HeaderValue, header};

use crate::link::Decision;

/// `&`, `<`, `>`, `"` and `'` as entities (`html-escape`): safe in text and in quoted attributes.
pub fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// A rendered page with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The HTTP status.
    pub status: StatusCode,
    /// The whole document.
    pub html: String,
}

impl IntoResponse for Page {
    fn into_response(self) -> portico::Response {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        (self.status, headers, Html(self.html)).into_response()
    }
}

/// The document around `body` (already escaped HTML).
fn document(status: StatusCode, title: &str, body: &str) -> Page {
    let title = escape(title);
    Page {
        status,
        html: format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex\">\
             <title>{title}</title><style>\
             body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}}\
             button{{font-size:1.1rem;padding:.6rem 1.4rem;border:0;border-radius:.3rem;color:#fff;cursor:pointer}}\
             .approve{{background:#1a7f37}}.reject{{background:#b42318}}.note{{color:#666}}\
             </style></head><body><h1>{title}</h1>\n{body}\n</body></html>\n"
        ),
    }
}

/// GET of a valid link: names the employee and the decision; only the form's POST decides.
pub fn confirm(employee: &str, approver: &str, decision: Decision, sealed: &str) -> Page {
    let employee = escape(employee);
    let approver = escape(approver);
    let (title, verb, class, action) = match decision {
        Decision::Approve => ("Approve the promotion?", "Approve", "approve", "succeed"),
        Decision::Reject => ("Reject the promotion?", "Reject", "reject", "fail"),
    };
    // The form posts to the page's own path (`succeed` or `fail`, relative, so the API stage
    // stays in the URL) with the sealed value in the body: no cookie, nothing to forge.
    let body = format!(
        "<p>You are about to <strong>{verb_lower}</strong> the promotion of \
         <strong>{employee}</strong>.</p>\
         <p class=\"note\">Decision by {approver}. Nothing happens until you press the button.</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"link\" value=\"{sealed}\">\
         <button type=\"submit\" class=\"{class}\">{verb} the promotion of {employee}</button>\
         </form>",
        verb_lower = verb.to_lowercase(),
        sealed = escape(sealed),
    );
    document(StatusCode::OK, title, &body)
}

/// After a POST that Step Functions accepted.
pub fn decided(employee: &str, decision: Decision) -> Page {
    let employee = escape(employee);
    let (title, body) = match decision {
        Decision::Approve => (
            "Promotion approved",
            format!("<p>Thank you. The promotion of <strong>{employee}</strong> is approved.</p>"),
        ),
        Decision::Reject => (
            "Promotion rejected",
            format!("<p>Thank you. The promotion of <strong>{employee}</strong> is rejected.</p>"),
        ),
    };
    document(StatusCode::OK, title, &body)
}

/// The task no longer waits: decided before (this or the other link), timed out, or ended.
pub fn already_decided(employee: &str) -> Page {
    let employee = escape(employee);
    document(
        StatusCode::OK,
        "Already decided",
        &format!(
            "<p>The promotion request for <strong>{employee}</strong> no longer waits for a \
             decision: it was already decided, or it timed out. Nothing was changed.</p>"
        ),
    )
}

/// A link that is not one of ours (altered, truncated, or for the other decision).
pub fn invalid_link() -> Page {
    document(
        StatusCode::BAD_REQUEST,
        "Invalid link",
        "<p>This link is not valid. Use the link from the e-mail exactly as it was sent.</p>",
    )
}

/// An authentic link past its expiry.
pub fn expired(employee: &str) -> Page {
    document(
        StatusCode::GONE,
        "Link expired",
        &format!(
            "<p>This link for the promotion of <strong>{}</strong> has expired; nothing \
             was changed. If the request is still open, use the link of the latest e-mail \
             about it.</p>",
            escape(employee)
        ),
    )
}

/// A request without its `link` parameter.
pub fn missing_parameter(name: &str) -> Page {
    document(
        StatusCode::BAD_REQUEST,
        "Incomplete link",
        &format!(
            "<p>The link is incomplete: the <code>{}</code> parameter is missing. \
             Use the link from the e-mail exactly as it was sent.</p>",
            escape(name)
        ),
    )
}

/// Something on our side failed; the detail is in the log, never on the page.
pub fn unavailable() -> Page {
    document(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Try again later",
        "<p>The decision could not be recorded right now. Nothing was changed; \
         please use the link again in a few minutes.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape("Zoë"), "Zoë");
    }

    #[test]
    fn confirm_page_escapes_names_and_carries_the_sealed_value_in_a_post_form() {
        let page = confirm(
            "<script>alert(1)</script>",
            "\"boss\"@example.com",
            Decision::Reject,
            "abc_-123",
        );
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.html.contains("<script>"), "{}", page.html);
        assert!(page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.html.contains("&quot;boss&quot;@example.com"));
        assert!(page.html.contains(r#"<form method="post" action="fail">"#));
        assert!(page.html.contains(r#"name="link" value="abc_-123""#));
        assert!(page.html.contains("Reject the promotion"));
        // Self-contained: no external script, style, image or font.
        for external in ["src=", "<link", "http://", "https://", "@import"] {
            assert!(!page.html.contains(external), "{external}");
        }
    }

    #[test]
    fn error_pages_have_their_status() {
        assert_eq!(invalid_link().status, StatusCode::BAD_REQUEST);
        assert_eq!(expired("Jim").status, StatusCode::GONE);
        assert_eq!(missing_parameter("link").status, StatusCode::BAD_REQUEST);
        assert_eq!(already_decided("Jim").status, StatusCode::OK);
        assert_eq!(unavailable().status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(expired("<b>").html.contains("&lt;b&gt;"));
        assert!(already_decided("<b>").html.contains("&lt;b&gt;"));
        assert!(decided("<b>", Decision::Approve).html.contains("&lt;b&gt;"));
    }
}
