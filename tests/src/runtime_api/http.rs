//! The server side of HTTP/1.1, as much as Runtime API clients use: requests with
//! `Content-Length` or chunked bodies (with trailers), `Expect: 100-continue`, keep-alive.

use std::io::{self, BufRead, BufReader, Read, Write};

/// Longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted; bigger requests are answered 413 and the connection closed.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpRequest {
    pub(crate) method: String,
    pub(crate) target: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub(crate) minor_version: u8,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Trailer fields of a chunked body.
    pub(crate) trailers: Vec<(String, String)>,
}

impl HttpRequest {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        find_field(&self.headers, name)
    }

    /// The first value of trailer `name` (case-insensitive).
    pub(crate) fn trailer(&self, name: &str) -> Option<&str> {
        find_field(&self.trailers, name)
    }

    /// The target without its query string.
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// Whether the client wants the connection kept open after the response.
    pub(crate) fn keep_alive(&self) -> bool {
        let tokens: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .collect();
        if tokens.iter().any(|t| t == "close") {
            return false;
        }
        self.minor_version >= 1 || tokens.iter().any(|t| t == "keep-alive")
    }
}

fn find_field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The client closed the connection between requests.
    Closed,
    /// The connection failed.
    Io,
    /// Not HTTP/1.x as we understand it: answer 400 and close.
    Malformed(String),
    /// The head or body is too large: answer with this status and close.
    TooLarge(u16),
}

impl From<io::Error> for ReadError {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            Self::Malformed("the connection closed in the middle of a request".to_owned())
        } else {
            Self::Io
        }
    }
}

/// Reads one request. `S` is written to only to send `100 Continue`.
pub(crate) fn read_request<S: Read + Write>(
    reader: &mut BufReader<S>,
) -> Result<HttpRequest, ReadError> {
    let mut head_budget = MAX_HEAD;
    // RFC 9112 §2.2: a server should ignore empty lines received before the request line.
    let request_line = loop {
        match read_line(reader, &mut head_budget)? {
            None => return Err(ReadError::Closed),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let (method, target, minor_version) = parse_request_line(&request_line)?;
    let headers = read_fields(reader, &mut head_budget)?;
    let mut request = HttpRequest {
        method,
        target,
        minor_version,
        headers,
        body: Vec::new(),
        trailers: Vec::new(),
    };

    let framing = body_framing(&request)?;
    let expects_body = !matches!(framing, Framing::Length(0));
    if expects_body
        && request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let stream = reader.get_mut();
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        stream.flush()?;
    }
    match framing {
        Framing::Length(len) => {
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            request.body = body;
        }
        Framing::Chunked => {
            let (body, trailers) = read_chunked(reader)?;
            request.body = body;
            request.trailers = trailers;
        }
    }
    Ok(request)
}

/// Reads a line ending in LF, without its CRLF / LF; `None` at end of stream before any byte.
fn read_line<R: BufRead>(reader: &mut R, budget: &mut usize) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if read > *budget {
        return Err(ReadError::TooLarge(431));
    }
    *budget -= read;
    if line.pop() != Some(b'\n') {
        return Err(ReadError::Malformed(
            "the connection closed in the middle of a line".to_owned(),
        ));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, u8), ReadError> {
    let text = std::str::from_utf8(line)
        .map_err(|_| ReadError::Malformed("the request line is not UTF-8".to_owned()))?;
    let mut parts = text.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed(format!("bad request line `{text}`")));
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) || target.is_empty() {
        return Err(ReadError::Malformed(format!("bad request line `{text}`")));
    }
    let minor_version = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        other => {
            return Err(ReadError::Malformed(format!(
                "unsupported protocol version `{other}`"
            )));
        }
    };
    Ok((method.to_owned(), target.to_owned(), minor_version))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Reads header (or trailer) fields up to the empty line.
fn read_fields<R: BufRead>(
    reader: &mut R,
    budget: &mut usize,
) -> Result<Vec<(String, String)>, ReadError> {
    let mut fields = Vec::new();
    loop {
        let Some(line) = read_line(reader, budget)? else {
            return Err(ReadError::Malformed(
                "the connection closed in the middle of the header".to_owned(),
            ));
        };
        if line.is_empty() {
            return Ok(fields);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(ReadError::Malformed(
                "obsolete header line folding is not accepted".to_owned(),
            ));
        }
        let text = String::from_utf8(line)
            .map_err(|_| ReadError::Malformed("a header field is not UTF-8".to_owned()))?;
        let Some((name, value)) = text.split_once(':') else {
            return Err(ReadError::Malformed(format!(
                "header line without `:`: `{text}`"
            )));
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ReadError::Malformed(format!("bad header name `{name}`")));
        }
        fields.push((name.to_owned(), value.trim().to_owned()));
    }
}

enum Framing {
    Length(usize),
    Chunked,
}

fn body_framing(request: &HttpRequest) -> Result<Framing, ReadError> {
    let codings: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, v)| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    if !codings.is_empty() {
        // RFC 9112 §6.3: chunked must be the final coding of a request, and wins over
        // Content-Length.
        return if codings.last().map(String::as_str) == Some("chunked") {
            Ok(Framing::Chunked)
        } else {
            Err(ReadError::Malformed(format!(
                "unsupported transfer coding `{}`",
                codings.join(", ")
            )))
        };
    }
    let mut length: Option<usize> = None;
    for value in request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .flat_map(|(_, v)| v.split(','))
    {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReadError::Malformed(format!(
                "bad Content-Length `{value}`"
            )));
        }
        let parsed: usize = value.parse().map_err(|_| ReadError::TooLarge(413))?;
        if length.is_some_and(|l| l != parsed) {
            return Err(ReadError::Malformed(
                "conflicting Content-Length values".to_owned(),
            ));
        }
        length = Some(parsed);
    }
    match length {
        Some(len) if len > MAX_BODY => Err(ReadError::TooLarge(413)),
        Some(len) => Ok(Framing::Length(len)),
        None => Ok(Framing::Length(0)),
    }
}

type Fields = Vec<(String, String)>;

fn read_chunked<R: BufRead>(reader: &mut R) -> Result<(Vec<u8>, Fields), ReadError> {
    let mut body = Vec::new();
    let mut line_budget = MAX_HEAD;
    loop {
        let Some(line) = read_line(reader, &mut line_budget)? else {
            return Err(ReadError::Malformed(
                "the connection closed before the last chunk".to_owned(),
            ));
        };
        let text = String::from_utf8_lossy(&line);
        // Chunk extensions (`;name=value`) are allowed and ignored.
        let size_text = text.split(';').next().unwrap_or_default().trim();
        if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReadError::Malformed(format!(
                "bad chunk size `{size_text}`"
            )));
        }
        let size = usize::from_str_radix(size_text, 16).map_err(|_| ReadError::TooLarge(413))?;
        if size == 0 {
            let trailers = read_fields(reader, &mut line_budget)?;
            return Ok((body, trailers));
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::TooLarge(413));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        match read_line(reader, &mut line_budget)? {
            Some(rest) if rest.is_empty() => {}
            _ => {
                return Err(ReadError::Malformed(
                    "chunk data longer than its size".to_owned(),
                ));
            }
        }
    }
}

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    /// A JSON response.
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        }
    }

    /// The Runtime API's error body: `{"errorMessage", "errorType"}`.
    pub(crate) fn error(status: u16, error_type: &str, message: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!({ "errorMessage": message, "errorType": error_type }),
        )
    }

    /// Writes the response in one `write` call; `close` adds `Connection: close`.
    pub(crate) fn write_to(&self, out: &mut impl Write, close: bool) -> io::Result<()> {
        let mut bytes =
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).into_bytes();
        for (name, value) in &self.headers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        bytes.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        if close {
            bytes.extend_from_slice(b"Connection: close\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&self.body);
        out.write_all(&bytes)?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(raw: &[u8]) -> Result<HttpRequest, ReadError> {
        read_request(&mut BufReader::new(Cursor::new(raw.to_vec())))
    }

    #[test]
    fn reads_a_content_length_request() {
        let req =
            parse(b"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.target, "/a?b=c");
        assert_eq!(req.path(), "/a");
        assert_eq!(req.header("host"), Some("x"));
        assert_eq!(req.body, b"hello");
        assert!(req.keep_alive());
    }

    #[test]
    fn reads_chunked_bodies_with_extensions_and_trailers() {
        let req = parse(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
              3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n",
        )
        .unwrap();
        assert_eq!(req.body, b"abc0123456789");
        assert_eq!(req.trailer("x-trailer"), Some("yes"));
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_header() {
        let close = parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!close.keep_alive());
        let old = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!old.keep_alive());
        let old_kept = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(old_kept.keep_alive());
    }

    #[test]
    fn distinguishes_a_closed_connection_from_a_truncated_request() {
        assert!(matches!(parse(b""), Err(ReadError::Closed)));
        assert!(matches!(parse(b"\r\n"), Err(ReadError::Closed)));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"),
            Err(ReadError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_what_it_cannot_frame() {
        for raw in [
            &b"GET /\r\n\r\n"[..],
            b"GET / HTTP/2\r\n\r\n",
            b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n",
        ] {
            let result = parse(raw);
            assert!(
                matches!(result, Err(ReadError::Malformed(_))),
                "{:?} → {result:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn refuses_oversized_heads_and_bodies() {
        let mut big_head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big_head.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        big_head.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(parse(&big_head), Err(ReadError::TooLarge(431))));
        let big_body = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(matches!(
            parse(big_body.as_bytes()),
            Err(ReadError::TooLarge(413))
        ));
        let big_chunk = format!(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            MAX_BODY + 1
        );
        assert!(matches!(
            parse(big_chunk.as_bytes()),
            Err(ReadError::TooLarge(413))
        ));
    }

    #[test]
    fn answers_expect_continue_before_reading_the_body() {
        // A Cursor is both the input and the output here: the interim response is written
        // at the current position, which is the end of the request.
        let raw =
            b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi".to_vec();
        let len = raw.len();
        let mut cursor = Cursor::new(raw);
        cursor.set_position(0);
        let mut reader = BufReader::new(cursor);
        let req = read_request(&mut reader).unwrap();
        assert_eq!(req.body, b"hi");
        let written = reader.into_inner().into_inner();
        assert_eq!(
            String::from_utf8_lossy(&written[len..]),
            "HTTP/1.1 100 Continue\r\n\r\n"
        );
    }

    #[test]
    fn writes_content_length_and_connection_close() {
        let mut out = Vec::new();
        HttpResponse::error(404, "NotFound", "no")
            .write_to(&mut out, true)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.contains("Content-Length: 44\r\n"), "{text}");
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(
            text.ends_with(r#"{"errorMessage":"no","errorType":"NotFound"}"#),
            "{text}"
        );
    }
}
