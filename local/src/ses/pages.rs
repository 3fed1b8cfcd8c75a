//! The outbox pages' HTML: escaping, links, and the sandboxed body document.

use std::fmt::Write as _;

use crate::ses::types::Mail;

/// Escapes text for HTML content and quoted attribute values (`&<>"'`, with `html-escape`).
pub(crate) fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// Escaped text with its `http(s)://` URLs as links.
pub(crate) fn linkify(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&escape(&rest[..start]));
        let url_len = rest[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(rest.len() - start);
        let url = rest[start..start + url_len].trim_end_matches(['.', ',', ')', ';']);
        let _ = write!(out, "<a href=\"{0}\">{0}</a>", escape(url));
        rest = &rest[start + url.len()..];
    }
    out.push_str(&escape(rest));
    out
}

/// The HTML body alone; its links open in the whole window when it is shown in a frame.
pub(crate) fn body_document(mail: &Mail) -> String {
    let html = mail.html.as_deref().unwrap_or_default();
    format!("<!DOCTYPE html>\n<base target=\"_top\">\n{html}")
}

pub(crate) fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · portico local</title>\n<style>\
         body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}\
         table{{border-collapse:collapse;width:100%}}\
         th,td{{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}}\
         table.headers th{{width:8rem;color:#555;font-weight:600}}\
         .meta{{color:#666}} pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}\
         iframe{{width:100%;height:32rem;border:1px solid #ccc}}\
         </style></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ses::types::tests::mail;

    use crate::ses::service::Ses;
    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            linkify("go to https://example.com/a?x=1&y=\"2\". <b>"),
            "go to <a href=\"https://example.com/a?x=1&amp;y=\">https://example.com/a?x=1&amp;y=</a>&quot;2&quot;. &lt;b&gt;"
        );
        let dir = std::env::temp_dir().join(format!("portico-ses-unit-{}", std::process::id()));
        let ses = Ses::new(
            dir.clone(),
            ["example.com".to_owned()],
            None,
            "http://x".into(),
        );
        let mut evil = mail(
            Some("t"),
            Some("<script>alert(1)</script><a href=\"https://e.com\">e</a>"),
        );
        evil.subject = "<img src=x onerror=alert(1)>".into();
        evil.from = "\"<b>Evil</b>\" <hr@example.com>".into();
        let page = ses.detail_page(&evil);
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(!page.contains("<b>Evil"), "{page}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{page}"
        );
        assert!(
            !page.contains("<script>"),
            "the HTML body is only in the sandboxed frame"
        );
        assert!(body_document(&evil).contains("<a href=\"https://e.com\">e</a>"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
