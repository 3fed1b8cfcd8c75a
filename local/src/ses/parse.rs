//! Reading messages: raw messages from the app (and tests), their headers, MIME parts,
//! transfer encodings and charsets.

use std::collections::BTreeMap;

use base64::Engine as _;

/// A parsed message: unfolded headers and the body.
#[derive(Debug, Default)]
pub(crate) struct ParsedMessage {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl ParsedMessage {
    /// The first header `name` (case-insensitive), undecoded.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first `text/plain` and `text/html` parts, decoded (attachments skipped).
    pub(crate) fn bodies(&self) -> (Option<String>, Option<String>) {
        let mut text = None;
        let mut html = None;
        self.collect_bodies(&mut text, &mut html, 0);
        (text, html)
    }

    fn collect_bodies(&self, text: &mut Option<String>, html: &mut Option<String>, depth: u8) {
        let (mime, params) = content_type(self.header("content-type").unwrap_or("text/plain"));
        if self
            .header("content-disposition")
            .is_some_and(|d| d.trim().to_ascii_lowercase().starts_with("attachment"))
        {
            return;
        }
        if mime.starts_with("multipart/") {
            let Some(boundary) = params.get("boundary") else {
                return;
            };
            if depth > 8 {
                return;
            }
            for part in split_multipart(&self.body, boundary) {
                parse_message(part).collect_bodies(text, html, depth + 1);
            }
            return;
        }
        let slot = match mime.as_str() {
            "text/plain" => text,
            "text/html" => html,
            _ => return,
        };
        if slot.is_none() {
            let bytes = decode_transfer(
                self.header("content-transfer-encoding").unwrap_or("7bit"),
                &self.body,
            );
            *slot = Some(decode_charset(
                params.get("charset").map_or("us-ascii", String::as_str),
                &bytes,
            ));
        }
    }
}

/// Splits headers (unfolded) from the body.
pub(crate) fn parse_message(bytes: &[u8]) -> ParsedMessage {
    let (head, body) = match find(bytes, b"\r\n\r\n") {
        Some(i) => (&bytes[..i], &bytes[i + 4..]),
        None => match find(bytes, b"\n\n") {
            Some(i) => (&bytes[..i], &bytes[i + 2..]),
            None => (bytes, &[][..]),
        },
    };
    let head = String::from_utf8_lossy(head);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            if !name.is_empty() && !name.contains(' ') {
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
    }
    ParsedMessage {
        headers,
        body: body.to_vec(),
    }
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `type/subtype` (lowercase) and the parameters of a `Content-Type` value.
pub(crate) fn content_type(value: &str) -> (String, BTreeMap<String, String>) {
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect();
    (mime, params)
}

fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let mut current: Option<usize> = None;
    let mut offset = 0;
    // Walk line by line: a delimiter line starts a part, the close delimiter ends them.
    while !rest.is_empty() {
        let end = find(rest, b"\n").map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        let trimmed = String::from_utf8_lossy(line);
        let trimmed = trimmed.trim_end();
        if trimmed == delimiter || trimmed == format!("{delimiter}--") {
            if let Some(start) = current {
                // The CRLF before the delimiter belongs to it.
                let mut stop = offset;
                if body[..stop].ends_with(b"\r\n") {
                    stop -= 2;
                } else if body[..stop].ends_with(b"\n") {
                    stop -= 1;
                }
                parts.push(&body[start..stop.max(start)]);
            }
            if trimmed.ends_with("--") && trimmed != delimiter {
                break;
            }
            current = Some(offset + end);
        }
        offset += end;
        rest = &rest[end..];
    }
    parts
}

fn decode_transfer(encoding: &str, body: &[u8]) -> Vec<u8> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .unwrap_or_else(|_| body.to_vec())
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_vec(),
    }
}

pub(crate) fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'=' if body[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if body[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if i + 2 < body.len() => {
                let hex = std::str::from_utf8(&body[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    match charset.trim().to_ascii_lowercase().as_str() {
        "iso-8859-1" | "latin1" | "windows-1252" => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words (`=?UTF-8?B?...?=`, `=?utf-8?Q?...?=`) in a header value;
/// whitespace between two encoded words is dropped, as the RFC says.
pub(crate) fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut pending_space = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, used)) = rest.strip_prefix("=?").and_then(decode_word) {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = &rest[used + 2..];
            last_was_word = true;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            pending_space.push(c);
        } else {
            out.push_str(&pending_space);
            pending_space.clear();
            out.push(c);
            last_was_word = false;
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&pending_space);
    out
}

/// One encoded word after its `=?`: the text and how many bytes it used (up to `?=`).
fn decode_word(rest: &str) -> Option<(String, usize)> {
    let (charset, rest2) = rest.split_once('?')?;
    let (encoding, rest3) = rest2.split_once('?')?;
    let end = rest3.find("?=")?;
    let text = &rest3[..end];
    if text.contains(' ') {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "Q" | "q" => decode_quoted_printable(text.replace('_', " ").as_bytes()),
        _ => return None,
    };
    let charset = charset.split('*').next().unwrap_or(charset);
    let used = charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((decode_charset(charset, &bytes), used))
}

/// Addresses of a header such as `To` (commas inside quotes or angle brackets kept).
pub(crate) fn split_addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle) = (false, false);
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(std::mem::take(&mut current).trim().to_owned());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_owned());
    out.retain(|a| !a.is_empty());
    out
}
