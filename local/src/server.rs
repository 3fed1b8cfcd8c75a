//! What the local cloud's two HTTP ports (the API port, [`crate::gateway`], and the services
//! port, [`crate::services`]) share: the limits that keep one client from holding the server
//! (a cap on open connections, head and body read timeouts, a head size limit), the accept
//! loop that enforces the cap, reading a body within a size and a time limit, and the check
//! that a request names one of the server's own host names (DNS rebinding).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// Beyond this the head is not even parsed: hyper answers `431` and closes.
pub(crate) const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Time limits of an HTTP server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A client must send its whole request head within this time.
    pub(crate) header_read: Duration,
    /// A client must send its whole body within this time.
    pub(crate) body_read: Duration,
    /// On shutdown, requests in flight get this long to finish.
    pub(crate) drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(20),
            body_read: Duration::from_secs(60),
            drain: Duration::from_secs(4),
        }
    }
}

/// hyper's HTTP/1 server with `limits`' head timeout and the head size limit.
pub(crate) fn http1_builder(limits: &Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_header_size(MAX_HEAD_BYTES);
    builder
}

/// Accepts connections on `listener` until `shutdown` turns true (or its sender goes away),
/// at most `max_connections` open at once (more wait in the listen backlog, so idle sockets
/// cannot run the process out of file descriptors), each served by `serve` in a task of its
/// own; then waits up to `drain` (and a little) for the open ones to end.
///
/// Never fails: accept errors (out of file descriptors) are reported to `log` and waited out.
pub(crate) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    max_connections: usize,
    drain: Duration,
    mut shutdown: watch::Receiver<bool>,
    log: impl Fn(&str),
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stopped(&mut shutdown) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut shutdown) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = serve(stream, peer);
                tokio::spawn(async move {
                    connection.await;
                    drop(permit);
                });
            }
            Err(e) => {
                log(&format!("cannot accept a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(drain + Duration::from_millis(500), slots.acquire_many(all)).await;
}

/// Returns once `shutdown` is true or its sender is gone.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Over the limit: announced by `Content-Length` (nothing was read) or found while reading.
    TooLarge,
    /// Not all there within the body read timeout.
    Timeout,
    /// The connection failed or the framing was bad.
    Read(String),
}

/// The declared `Content-Length`, when there is one and it is a number.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads a whole body of at most `limit` bytes within `timeout`. A `Content-Length` over the
/// limit is refused before a byte is read; a chunked body is cut off at the limit, so no
/// more than `limit` bytes are ever held.
///
/// # Errors
/// See [`BodyError`].
pub(crate) async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if content_length(headers).is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(BodyError::Timeout),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Ok(Err(e)) => Err(BodyError::Read(e.to_string())),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_before_reading() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, "11".parse().unwrap());
        // A body that would never end: refused on the announced length alone.
        let never = Pending;
        let read = read_body(&headers, never, 10, Duration::from_secs(30)).await;
        assert!(matches!(read, Err(BodyError::TooLarge)), "{read:?}");

        let body = http_body_util::Full::new(Bytes::from_static(b"0123456789x"));
        let read = read_body(&HeaderMap::new(), body, 10, Duration::from_secs(30)).await;
        assert!(matches!(read, Err(BodyError::TooLarge)), "{read:?}");

        let never = Pending;
        let read = read_body(&HeaderMap::new(), never, 10, Duration::from_millis(50)).await;
        assert!(matches!(read, Err(BodyError::Timeout)), "{read:?}");

        let body = http_body_util::Full::new(Bytes::from_static(b"0123456789"));
        let read = read_body(&HeaderMap::new(), body, 10, Duration::from_secs(30)).await;
        assert_eq!(read.unwrap(), Bytes::from_static(b"0123456789"));
    }

    /// A body that never sends a byte.
    struct Pending;

    impl Body for Pending {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            std::task::Poll::Pending
        }
    }
}
