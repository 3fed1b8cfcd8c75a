//! Header names as the client spelled them: a scanner beside hyper that follows HTTP/1.1
//! framing just enough to record each request head.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::server::MAX_HEAD_BYTES;

/// A request head as the client wrote it: header names in their original case.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RawHead {
    pub(crate) headers: Vec<(String, Vec<u8>)>,
}

/// The TCP stream, with every byte read also fed to a [`HeadScanner`].
pub(crate) struct RecordingStream {
    pub(crate) inner: TcpStream,
    pub(crate) scanner: HeadScanner,
    pub(crate) heads: Arc<Mutex<VecDeque<RawHead>>>,
}

impl AsyncRead for RecordingStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let fresh = &buf.filled()[before..];
            if !fresh.is_empty() {
                this.scanner.feed(fresh, &this.heads);
            }
        }
        polled
    }
}

impl AsyncWrite for RecordingStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Where the scanner is in the byte stream of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Reading a request head.
    Head,
    /// Skipping this many body bytes.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Skipping this many chunk bytes.
    ChunkData(u64),
    /// Reading the CRLF after a chunk.
    ChunkEnd,
    /// Reading trailer lines up to the empty one.
    Trailers,
    /// Lost (something hyper will reject, or a tunnel): names fall back to lowercase.
    Off,
}

/// Follows HTTP/1.1 framing just enough to record each request head's header names as sent
/// (hyper keeps only lowercase names). If it ever disagrees with hyper, the gateway notices
/// (the recorded head differs from the parsed one) and uses hyper's names.
#[derive(Debug)]
pub(crate) struct HeadScanner {
    state: Scan,
    /// The current head or line.
    buf: Vec<u8>,
    /// Where the current line starts in `buf` (heads only).
    line_start: usize,
}

impl Default for HeadScanner {
    fn default() -> Self {
        Self {
            state: Scan::Head,
            buf: Vec::new(),
            line_start: 0,
        }
    }
}

impl HeadScanner {
    fn feed(&mut self, mut data: &[u8], heads: &Mutex<VecDeque<RawHead>>) {
        while !data.is_empty() {
            match self.state {
                Scan::Off => return,
                Scan::Body(left) | Scan::ChunkData(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                    data = &data[take..];
                    let left = left - take as u64;
                    self.state = match (self.state, left) {
                        (Scan::Body(_), 0) => Scan::Head,
                        (Scan::Body(_), left) => Scan::Body(left),
                        (_, 0) => Scan::ChunkEnd,
                        (_, left) => Scan::ChunkData(left),
                    };
                }
                Scan::Head | Scan::ChunkSize | Scan::ChunkEnd | Scan::Trailers => {
                    let Some(end) = data.iter().position(|&b| b == b'\n') else {
                        self.buf.extend_from_slice(data);
                        if self.buf.len() > MAX_HEAD_BYTES {
                            self.lose();
                        }
                        return;
                    };
                    self.buf.extend_from_slice(&data[..=end]);
                    data = &data[end + 1..];
                    if self.buf.len() > MAX_HEAD_BYTES {
                        self.lose();
                        return;
                    }
                    self.on_line(heads);
                }
            }
        }
    }

    fn lose(&mut self) {
        self.state = Scan::Off;
        self.buf = Vec::new();
    }

    /// A line ended at the end of `buf`.
    fn on_line(&mut self, heads: &Mutex<VecDeque<RawHead>>) {
        let line = trim_line_end(&self.buf[self.line_start..]);
        match self.state {
            Scan::Head => {
                if !line.is_empty() {
                    self.line_start = self.buf.len();
                    return;
                }
                if self.line_start == 0 {
                    // Empty lines before a request line are allowed and ignored.
                    self.buf.clear();
                    return;
                }
                let parsed = parse_head(&self.buf[..self.line_start]);
                self.buf.clear();
                self.line_start = 0;
                match parsed {
                    Some((head, next)) => {
                        lock(heads).push_back(head);
                        self.state = next;
                    }
                    None => self.lose(),
                }
            }
            Scan::ChunkSize => {
                let size = parse_chunk_size(line);
                self.buf.clear();
                self.state = match size {
                    Some(0) => Scan::Trailers,
                    Some(n) => Scan::ChunkData(n),
                    None => Scan::Off,
                };
            }
            Scan::ChunkEnd => {
                let empty = line.is_empty();
                self.buf.clear();
                self.state = if empty { Scan::ChunkSize } else { Scan::Off };
            }
            Scan::Trailers => {
                let empty = line.is_empty();
                self.buf.clear();
                if empty {
                    self.state = Scan::Head;
                }
            }
            Scan::Body(_) | Scan::ChunkData(_) | Scan::Off => {}
        }
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line
        .split(|&b| b == b';' || b == b' ' || b == b'\t')
        .next()?;
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// The header names and values of a request head (request line and header lines, without
/// the final empty line), and what follows it on the wire.
fn parse_head(head: &[u8]) -> Option<(RawHead, Scan)> {
    let mut lines = head.split(|&b| b == b'\n').map(trim_line_end);
    let request_line = lines.next()?;
    let method = request_line.split(|&b| b == b' ').next()?;
    let mut headers = Vec::new();
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<bool> = None;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            // Obsolete line folding: hyper rejects it.
            return None;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = std::str::from_utf8(&line[..colon]).ok()?;
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return None;
        }
        let value = trim_ows(&line[colon + 1..]);
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = std::str::from_utf8(value).ok()?.trim().parse().ok()?;
            if content_length.is_some_and(|c| c != n) {
                return None;
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = std::str::from_utf8(value).ok()?.rsplit(',').next()?.trim();
            transfer_encoding = Some(last.eq_ignore_ascii_case("chunked"));
        }
        headers.push((name.to_owned(), value.to_vec()));
    }
    let next = if method == b"CONNECT" {
        Scan::Off
    } else {
        match (transfer_encoding, content_length) {
            (Some(true), _) => Scan::ChunkSize,
            (Some(false), _) => Scan::Off,
            (None, Some(n)) if n > 0 => Scan::Body(n),
            (None, _) => Scan::Head,
        }
    };
    Some((RawHead { headers }, next))
}

/// The recorded heads, whether or not a task panicked while holding them.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    use std::sync::Mutex;

    #[test]
    fn the_scanner_records_header_case_across_keep_alive_bodies() {
        let heads = Mutex::new(VecDeque::new());
        let mut scanner = HeadScanner::default();
        let wire = b"\r\nPOST /dev/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Mixed-Case: 1\r\n\r\nhello\
GET /dev/b HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer-X: t\r\n\r\n\
GET /dev/c HTTP/1.1\nUser-AGENT:  curl \n\n";
        // Byte by byte: reads can split anywhere.
        for b in wire {
            scanner.feed(std::slice::from_ref(b), &heads);
        }
        let heads: Vec<RawHead> = heads.into_inner().unwrap().into();
        let names: Vec<Vec<&str>> = heads
            .iter()
            .map(|h| h.headers.iter().map(|(n, _)| n.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            [
                vec!["Host", "Content-Length", "X-Mixed-Case"],
                vec!["host", "Transfer-Encoding"],
                vec!["User-AGENT"],
            ]
        );
        assert_eq!(heads[2].headers[0].1, b"curl");
        assert_eq!(scanner.state, Scan::Head);

        let lost = Mutex::new(VecDeque::new());
        let mut scanner = HeadScanner::default();
        scanner.feed(
            b"GET / HTTP/1.1\r\n folded: x\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            &lost,
        );
        assert_eq!(scanner.state, Scan::Off);
        assert!(lost.lock().unwrap().is_empty());
    }
}
