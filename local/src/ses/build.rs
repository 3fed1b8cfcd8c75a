//! Building messages: RFC 5322 with MIME (encoded words, quoted-printable UTF-8 bodies,
//! `multipart/alternative`).

use base64::Engine as _;

use crate::clock::rfc2822;
use crate::ses::address::{Mailbox, mailbox};
use crate::ses::types::Mail;

/// The RFC 5322 message for a simple `SendEmail`: CRLF line ends, encoded words for non-ASCII
/// headers, quoted-printable UTF-8 bodies, `multipart/alternative` with both bodies.
/// `Bcc` is kept, as in a sender's copy.
pub(crate) fn build_message(mail: &Mail, extra_headers: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("Date", &rfc2822(mail.timestamp_ms));
    header("From", &mailbox_header(&mail.from));
    for (name, list) in [
        ("To", &mail.to),
        ("Cc", &mail.cc),
        ("Bcc", &mail.bcc),
        ("Reply-To", &mail.reply_to),
    ] {
        if !list.is_empty() {
            let values: Vec<String> = list.iter().map(|m| mailbox_header(m)).collect();
            header(name, &values.join(",\r\n "));
        }
    }
    header("Subject", &encode_header_text(&mail.subject));
    header("Message-ID", &format!("<{}@portico.local>", mail.id));
    for (name, value) in extra_headers {
        header(name, &encode_header_text(value));
    }
    header("MIME-Version", "1.0");
    let part = |content_type: &str, text: &str| {
        format!(
            "Content-Type: {content_type}; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
            quoted_printable(text)
        )
    };
    match (&mail.text, &mail.html) {
        (Some(text), Some(html)) => {
            // `=_` never occurs in quoted-printable text, so the boundary cannot either.
            let boundary = format!("=_portico_{}", mail.id);
            out.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
            ));
            out.push_str(&format!(
                "--{boundary}\r\n{}\r\n--{boundary}\r\n{}\r\n--{boundary}--\r\n",
                part("text/plain", text),
                part("text/html", html)
            ));
        }
        (Some(text), None) => out.push_str(&part("text/plain", text)),
        (None, Some(html)) => out.push_str(&part("text/html", html)),
        (None, None) => out.push_str("Content-Type: text/plain; charset=UTF-8\r\n\r\n"),
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// A mailbox for a header: the address alone, or the display name (quoted, or as encoded words
/// when not ASCII) and the address.
fn mailbox_header(given: &str) -> String {
    match mailbox(given) {
        Ok(Mailbox {
            name: Some(name),
            address,
        }) => {
            if name.bytes().all(|b| (0x20..0x7f).contains(&b)) && !name.contains("=?") {
                let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{quoted}\" <{address}>")
            } else {
                format!("{} <{address}>", encoded_words(&name))
            }
        }
        Ok(Mailbox {
            name: None,
            address,
        }) => address,
        Err(_) => given.replace(['\r', '\n'], " "),
    }
}

/// Header text: as is when it is printable ASCII (folded at spaces past 78 characters),
/// else RFC 2047 encoded words.
fn encode_header_text(text: &str) -> String {
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b)) && !text.contains("=?");
    if !plain {
        return encoded_words(text);
    }
    let mut out = String::new();
    let mut line = 0;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            if line + 1 + word.len() > 76 && line > 0 {
                out.push_str("\r\n ");
                line = 1;
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

/// `=?UTF-8?B?...?=` words of at most 75 characters, split on character boundaries, folded.
fn encoded_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Quoted-printable (RFC 2045) of UTF-8 text with CRLF line ends and lines of at most 76.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = text.split('\n').collect();
    for (n, line) in lines.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b'!'..=b'~').contains(&b) && b != b'=' || (b == b' ' || b == b'\t') && !last;
            let piece = if literal {
                char::from(b).to_string()
            } else {
                format!("={b:02X}")
            };
            // Keep room for the soft break `=` (and for the last piece, none is needed).
            let room = if last { 76 } else { 75 };
            if width + piece.len() > room {
                out.push_str("=\r\n");
                width = 0;
            }
            out.push_str(&piece);
            width += piece.len();
        }
        if n + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ses::parse::{decode_quoted_printable, decode_words, parse_message};
    use crate::ses::types::tests::mail;
    #[test]
    fn quoted_printable_round_trips_and_keeps_lines_short() {
        let text = format!(
            "Grüße, Jim!\nA = B \nend with tab\t\n{}\n\n€ 5",
            "x".repeat(200)
        );
        let encoded = quoted_printable(&text);
        assert!(encoded.is_ascii());
        for line in encoded.split("\r\n") {
            assert!(line.len() <= 76, "{line:?}");
            assert!(!line.ends_with(' ') && !line.ends_with('\t'), "{line:?}");
        }
        assert!(encoded.contains("Gr=C3=BC=C3=9Fe"), "{encoded}");
        assert!(encoded.contains("A =3D B=20\r\n"), "{encoded}");
        let decoded = String::from_utf8(decode_quoted_printable(encoded.as_bytes())).unwrap();
        assert_eq!(decoded, text.replace('\n', "\r\n"));
    }

    #[test]
    fn headers_are_encoded_words_when_not_ascii() {
        let subject = "Promotion request for Jim — approve? ✅ ".repeat(3);
        let encoded = encode_header_text(&subject);
        for word in encoded.split("\r\n ") {
            assert!(word.len() <= 75, "{word}");
            assert!(
                word.starts_with("=?UTF-8?B?") && word.ends_with("?="),
                "{word}"
            );
        }
        assert_eq!(decode_words(&encoded), subject);
        assert_eq!(encode_header_text("Plain subject"), "Plain subject");
        let long = "word ".repeat(40);
        let folded = encode_header_text(long.trim_end());
        assert!(folded.split("\r\n").all(|l| l.len() <= 78), "{folded}");
        assert_eq!(folded.replace("\r\n ", " "), long.trim_end());
        // Text that looks like an encoded word is encoded, so it is not decoded by readers.
        assert!(encode_header_text("=?UTF-8?B?eA==?=").starts_with("=?UTF-8?B?PT9"));
        assert_eq!(
            mailbox_header("Ünïcode HR <hr@example.com>"),
            "=?UTF-8?B?w5xuw69jb2RlIEhS?= <hr@example.com>"
        );
        assert_eq!(
            mailbox_header("\"Boss, The\" <boss@example.com>"),
            "\"Boss, The\" <boss@example.com>"
        );
        assert_eq!(mailbox_header("a@example.com"), "a@example.com");
    }

    #[test]
    fn text_and_html_make_a_multipart_alternative_message() {
        let text = "Approve: https://example.com/a?x=1&y=2\nThanks — HR";
        let html = "<p>Approve <a href=\"https://example.com/a?x=1&amp;y=2\">here</a> — HR</p>";
        let eml = build_message(&mail(Some(text), Some(html)), &[]);
        let eml_text = String::from_utf8(eml.clone()).unwrap();
        assert!(eml_text.is_ascii());
        assert!(!eml_text.replace("\r\n", "").contains('\n'), "bare LF");
        let parsed = parse_message(&eml);
        assert_eq!(
            parsed.header("content-type"),
            Some("multipart/alternative; boundary=\"=_portico_0000000000001-abc-000000\"")
        );
        assert_eq!(parsed.header("mime-version"), Some("1.0"));
        assert_eq!(
            parsed.header("date"),
            Some("Wed, 26 Nov 2025 20:00:00 +0000")
        );
        assert_eq!(
            parsed.header("message-id"),
            Some("<0000000000001-abc-000000@portico.local>")
        );
        assert_eq!(
            decode_words(parsed.header("subject").unwrap()),
            "Promotion request for Jim — approve? ✅"
        );
        assert_eq!(
            decode_words(parsed.header("from").unwrap()),
            "Ünïcode HR <hr@example.com>"
        );
        assert_eq!(
            parsed.header("cc"),
            Some("\"Boss, The\" <boss@example.com>")
        );
        assert_eq!(parsed.header("bcc"), Some("audit@example.com"));
        assert_eq!(parsed.header("reply-to"), Some("noreply@example.com"));
        let (got_text, got_html) = parsed.bodies();
        assert_eq!(
            got_text.as_deref(),
            Some(text.replace('\n', "\r\n").as_str())
        );
        assert_eq!(got_html.as_deref(), Some(html));
    }

    #[test]
    fn a_single_body_is_not_multipart() {
        let eml = build_message(
            &mail(None, Some("<b>hi</b>")),
            &[("X-Tag".into(), "ok".into())],
        );
        let parsed = parse_message(&eml);
        assert_eq!(
            parsed.header("content-type"),
            Some("text/html; charset=UTF-8")
        );
        assert_eq!(parsed.header("x-tag"), Some("ok"));
        // The message's last line ends with CRLF, as every line of a message does.
        assert_eq!(parsed.bodies(), (None, Some("<b>hi</b>\r\n".to_owned())));
    }
}
