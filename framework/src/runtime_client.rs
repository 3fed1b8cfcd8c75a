//! Portico's own Lambda Runtime API client: one kept-alive HTTP/1.1 connection to
//! `AWS_LAMBDA_RUNTIME_API`, over which the process asks for the next invocation
//! (`GET /2018-06-01/runtime/invocation/next`) and posts its outcome (`…/{id}/response` or
//! `…/{id}/error`), one invocation at a time, for ever.
//!
//! Why not `lambda_runtime::run`: per invocation it deserializes the payload into a boxed
//! value and serializes the response once more, runs a tower stack and checks a connection
//! out of a pooled client; Portico hands the payload text to its decoder as it arrived and
//! writes the encoder's bytes as they are. The context type stays `lambda_runtime::Context`
//! (built from the `/next` headers the same way), so handlers see the same
//! [`LambdaContext`](crate::LambdaContext).
//!
//! Everywhere `lambda_runtime` runs, this must too: docs/runtime.md goes through its
//! behaviour point by point (`AWS_LAMBDA_RUNTIME_API` forms, answers, retries, errors) with
//! the test of each.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::log::Excerpt;

/// The Runtime API's version prefix.
const PREFIX: &str = "/2018-06-01/runtime";

/// The per-invocation nonce the Runtime API may send with `/next`; echoed with the outcome
/// so a late answer of a timed-out invocation cannot be taken for a newer one's.
const INVOCATION_ID: &str = "lambda-runtime-invocation-id";

/// `lambda-runtime-function-error-type`, sent with invocation and init errors.
const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// Waits between attempts to connect to a Runtime API that refuses connections (it may be
/// starting or restarting): about 2 s in all, then the process gives up and exits, as
/// Lambda then starts a new one.
const CONNECT_RETRY_DELAYS_MS: [u64; 8] = [5, 10, 20, 50, 100, 200, 500, 1000];

/// The longest wait between two `/next` polls the Runtime API answered `204 No Content`
/// (`cargo lambda watch` does while it has no function instance waiting for events).
const IDLE_POLL_MAX: Duration = Duration::from_millis(100);

/// Why the loop stopped: the Runtime API cannot be reached or answered something no
/// invocation can follow.
#[derive(Debug)]
pub(crate) struct ClientError(String);

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClientError {}

/// Where the Runtime API is, from `AWS_LAMBDA_RUNTIME_API`, in every form `lambda_runtime`
/// accepts: `host:port`, an IPv6 literal (`[::1]:9001`), with a path prefix
/// (`127.0.0.1:9000/.rt/bootstrap`, as `cargo lambda watch` sets it) and with an `http://`
/// scheme. A missing port is 80, as for any `http` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The host to connect to (an IPv6 literal without its brackets).
    host: String,
    port: u16,
    /// The `Host` header: the authority as given.
    authority: HeaderValue,
    /// What goes before `/2018-06-01/…`: empty, or a path without a trailing slash.
    base_path: String,
    /// The variable's value, for messages.
    display: String,
}

impl Endpoint {
    /// Parses `AWS_LAMBDA_RUNTIME_API`.
    pub(crate) fn parse(value: &str) -> Result<Self, ClientError> {
        let unusable = |why: &str| {
            ClientError(format!(
                "AWS_LAMBDA_RUNTIME_API={value:?} is unusable: {why}. Expected host:port, \
                 optionally with http:// before it and a path prefix after it \
                 (127.0.0.1:9001, [::1]:9001, http://127.0.0.1:9000/.rt/bootstrap)"
            ))
        };
        if value.is_empty() {
            return Err(unusable("it is empty"));
        }
        let rest = match value.find("://") {
            Some(i) if value[..i].eq_ignore_ascii_case("http") => &value[i + 3..],
            Some(_) => return Err(unusable("the only scheme a Runtime API speaks is http://")),
            None => value,
        };
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        if authority.is_empty() {
            return Err(unusable("it names no host"));
        }
        if authority.contains('@') {
            return Err(unusable("it carries user information"));
        }
        let parsed: http::uri::Authority = authority
            .parse()
            .map_err(|e| unusable(&format!("the host:port is invalid ({e})")))?;
        let host = parsed.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(unusable("it names no host"));
        }
        let port = match parsed.port_u16() {
            Some(port) => port,
            // `host:` or a port out of range: `Authority` keeps them, a connection cannot.
            None if parsed.as_str().len() > parsed.host().len() => {
                return Err(unusable("the port is not a number from 0 to 65535"));
            }
            None => 80,
        };
        if path.contains(['?', '#']) {
            return Err(unusable("the path prefix has a query or fragment"));
        }
        let base_path = path.trim_end_matches('/');
        if !base_path.is_empty() {
            format!("{base_path}{PREFIX}/invocation/next")
                .parse::<Uri>()
                .map_err(|e| unusable(&format!("the path prefix is invalid ({e})")))?;
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: HeaderValue::from_str(parsed.as_str())
                .map_err(|_| unusable("the host:port is not a header value"))?,
            base_path: base_path.to_owned(),
            display: value.to_owned(),
        })
    }

    /// The URI of the Runtime API path `path` (which starts after the version prefix).
    fn uri(&self, path: &str) -> Result<Uri, ClientError> {
        let uri = format!("{}{PREFIX}{path}", self.base_path);
        uri.parse()
            .map_err(|e| ClientError(format!("bad Runtime API path {uri:?}: {e}")))
    }
}

/// One invocation as `/next` hands it out.
pub(crate) struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Invocation-Id`, when the Runtime API sent one: echoed with the outcome.
    pub invocation_id: Option<HeaderValue>,
    /// The `/next` response's headers (deadline, ARN, trace id, client context, identity).
    pub headers: http::HeaderMap,
    /// The payload as it arrived.
    pub payload: Bytes,
}

/// A connection to the Runtime API, opened on first use and again whenever it breaks.
pub(crate) struct RuntimeClient {
    endpoint: Arc<Endpoint>,
    /// `GET …/invocation/next`, built once.
    next_uri: Uri,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl RuntimeClient {
    /// A client of the Runtime API at `endpoint`.
    pub(crate) fn new(endpoint: Arc<Endpoint>) -> Result<Self, ClientError> {
        let next_uri = endpoint.uri("/invocation/next")?;
        Ok(Self {
            endpoint,
            next_uri,
            sender: None,
        })
    }

    /// Waits for the next invocation. A `204 No Content` (no event for now) is polled
    /// again, after a pause that grows while they last.
    pub(crate) async fn next(&mut self) -> Result<Invocation, ClientError> {
        let mut idle = Duration::from_millis(1);
        let (headers, payload) = loop {
            let uri = self.next_uri.clone();
            let (status, headers, payload) = self.send(Method::GET, uri, None, None, None).await?;
            match status {
                StatusCode::OK => break (headers, payload),
                StatusCode::NO_CONTENT => {
                    tokio::time::sleep(idle).await;
                    idle = (idle * 2).min(IDLE_POLL_MAX);
                }
                status => {
                    return Err(ClientError(format!(
                        "the Runtime API at {} answered {status} to GET {}: {}",
                        self.endpoint.display,
                        self.next_uri,
                        Excerpt::of(&String::from_utf8_lossy(&payload))
                    )));
                }
            }
        };
        let request_id = headers
            .get("lambda-runtime-aws-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ClientError("the Runtime API sent an invocation without a request id".to_owned())
            })?
            .to_owned();
        let invocation_id = headers.get(INVOCATION_ID).cloned();
        Ok(Invocation {
            request_id,
            invocation_id,
            headers,
            payload,
        })
    }

    /// Posts a successful invocation's response payload.
    pub(crate) async fn respond(
        &mut self,
        invocation: &Invocation,
        payload: Vec<u8>,
    ) -> Result<(), ClientError> {
        let path = format!("/invocation/{}/response", invocation.request_id);
        self.post(&path, invocation, Bytes::from(payload), None)
            .await
    }

    /// Posts a failed invocation's error (`errorType`, `errorMessage`).
    pub(crate) async fn fail(
        &mut self,
        invocation: &Invocation,
        error_type: &str,
        message: &str,
    ) -> Result<(), ClientError> {
        let path = format!("/invocation/{}/error", invocation.request_id);
        self.post(
            &path,
            invocation,
            error_body(error_type, message),
            Some("Unhandled"),
        )
        .await
    }

    /// Posts an initialization error (`/runtime/init/error`): Lambda then fails the pending
    /// invocation with it instead of a bare exit status.
    pub(crate) async fn init_error(
        &mut self,
        error_type: &str,
        message: &str,
    ) -> Result<(), ClientError> {
        let uri = self.endpoint.uri("/init/error")?;
        let (status, _, answer) = self
            .send(
                Method::POST,
                uri,
                Some(error_body(error_type, message)),
                Some("Runtime.InitError"),
                None,
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(ClientError(format!(
                "the Runtime API answered {status} to the init error: {}",
                Excerpt::of(&String::from_utf8_lossy(&answer))
            )))
        }
    }

    async fn post(
        &mut self,
        path: &str,
        invocation: &Invocation,
        body: Bytes,
        error_type: Option<&'static str>,
    ) -> Result<(), ClientError> {
        let uri = self.endpoint.uri(path)?;
        let (status, _, answer) = self
            .send(
                Method::POST,
                uri,
                Some(body),
                error_type,
                invocation.invocation_id.as_ref(),
            )
            .await?;
        // 202 from Lambda, 200 from `cargo lambda watch`. Anything else concerns this
        // invocation only (an unknown request id, an invocation that timed out meanwhile, a
        // payload too large): the Runtime API records it as failed, and the process goes on
        // with the next `/next`, whose answer says whether it can (as `lambda_runtime` does).
        if !status.is_success() {
            eprintln!(
                "portico: the Runtime API refused POST {path} ({status}): {}",
                Excerpt::of(&String::from_utf8_lossy(&answer))
            );
        }
        Ok(())
    }

    /// Sends one request over the kept-alive connection; a connection that turns out to be
    /// closed (the Runtime API may close idle ones) is replaced once.
    async fn send(
        &mut self,
        method: Method,
        uri: Uri,
        body: Option<Bytes>,
        error_type: Option<&'static str>,
        invocation_id: Option<&HeaderValue>,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), ClientError> {
        let mut last_error = None;
        for _attempt in 0..2 {
            let reused = self.sender.is_some();
            let sender = match self.sender.as_mut() {
                Some(sender) => sender,
                None => self.sender.insert(self.connect().await?),
            };
            if sender.ready().await.is_err() {
                self.sender = None;
                if reused {
                    continue;
                }
                return Err(ClientError(format!(
                    "the connection to the Runtime API at {} closed at once",
                    self.endpoint.display
                )));
            }
            let mut request = Request::new(Full::new(body.clone().unwrap_or_default()));
            *request.method_mut() = method.clone();
            *request.uri_mut() = uri.clone();
            let headers = request.headers_mut();
            headers.insert(header::HOST, self.endpoint.authority.clone());
            if body.is_some() {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            if let Some(error_type) = error_type {
                headers.insert(ERROR_TYPE, HeaderValue::from_static(error_type));
            }
            if let Some(invocation_id) = invocation_id {
                headers.insert(INVOCATION_ID, invocation_id.clone());
            }
            match sender.send_request(request).await {
                Ok(response) => {
                    let (parts, incoming) = response.into_parts();
                    let bytes = incoming
                        .collect()
                        .await
                        .map_err(|e| {
                            self.sender = None;
                            ClientError(format!("reading the Runtime API's answer failed: {e}"))
                        })?
                        .to_bytes();
                    return Ok((parts.status, parts.headers, bytes));
                }
                Err(err) => {
                    self.sender = None;
                    // Only a request that never reached a reused connection is sent again.
                    if reused && err.is_canceled() {
                        last_error = Some(err.to_string());
                        continue;
                    }
                    return Err(ClientError(format!(
                        "{method} {uri} to the Runtime API at {} failed: {err}",
                        self.endpoint.display
                    )));
                }
            }
        }
        Err(ClientError(format!(
            "the Runtime API at {} keeps closing the connection{}",
            self.endpoint.display,
            last_error.map(|e| format!(": {e}")).unwrap_or_default()
        )))
    }

    /// Opens a connection, retrying for about 2 s while the Runtime API refuses them.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let endpoint = &self.endpoint;
        let mut delays = CONNECT_RETRY_DELAYS_MS.iter();
        let stream = loop {
            match TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await {
                Ok(stream) => break stream,
                Err(e) => match delays.next() {
                    Some(&ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    None => {
                        return Err(ClientError(format!(
                            "cannot connect to the Runtime API at {}: {e}",
                            endpoint.display
                        )));
                    }
                },
            }
        };
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError(format!("HTTP handshake with the Runtime API: {e}")))?;
        tokio::spawn(async move {
            // Ends when the connection closes; the next request then reconnects.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// The error document of the Runtime API: `{"errorType": …, "errorMessage": …}`.
fn error_body(error_type: &str, message: &str) -> Bytes {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    Bytes::from(body.to_string())
}

/// The Lambda context of `invocation`, as `lambda_runtime` builds it.
pub(crate) fn context(
    config: &Arc<lambda_runtime::Config>,
    invocation: &Invocation,
) -> Result<lambda_runtime::Context, String> {
    lambda_runtime::Context::new(
        &invocation.request_id,
        Arc::clone(config),
        &invocation.headers,
    )
    .map_err(|e| format!("the invocation's Runtime API headers are unusable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Reads one request head and body (by `Content-Length`) from `stream`.
    async fn read_request(stream: &mut TcpStream) -> String {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending a whole request");
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if data.len() >= end + 4 + length {
                    return text;
                }
            }
        }
    }

    /// A Runtime API that answers every request on a connection of its own and closes it:
    /// one invocation, then the response post; what it received comes back on the channel.
    async fn closing_runtime_api() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for answer in [
                "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-1\r\n\
                 Lambda-Runtime-Deadline-Ms: 99999999999999\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n\
                 Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ] {
                let (mut stream, _) = listener.accept().await.unwrap();
                let request = read_request(&mut stream).await;
                tx.send(request).unwrap();
                stream.write_all(answer.as_bytes()).await.unwrap();
                stream.shutdown().await.unwrap();
            }
        });
        (address, rx)
    }

    fn client(address: &str) -> RuntimeClient {
        RuntimeClient::new(Arc::new(Endpoint::parse(address).unwrap())).unwrap()
    }

    /// A Runtime API that answers each request of one kept-alive connection with the next
    /// of `answers`; what it received comes back on the channel.
    async fn scripted_runtime_api(
        listener: TcpListener,
        answers: Vec<&'static str>,
    ) -> tokio::sync::mpsc::UnboundedReceiver<String> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            for answer in answers {
                let request = read_request(&mut stream).await;
                tx.send(request).unwrap();
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        rx
    }

    const EVENT: &str = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-1\r\n\
         Lambda-Runtime-Deadline-Ms: 99999999999999\r\nContent-Length: 2\r\n\r\n{}";

    fn invocation(request_id: &str) -> Invocation {
        Invocation {
            request_id: request_id.to_owned(),
            invocation_id: None,
            headers: http::HeaderMap::new(),
            payload: Bytes::new(),
        }
    }

    #[test]
    fn every_form_lambda_runtime_accepts_is_an_endpoint() {
        for (value, host, port, authority, base) in [
            ("127.0.0.1:9001", "127.0.0.1", 9001, "127.0.0.1:9001", ""),
            ("localhost:9001", "localhost", 9001, "localhost:9001", ""),
            ("[::1]:9001", "::1", 9001, "[::1]:9001", ""),
            (
                "127.0.0.1:9000/.rt/bootstrap",
                "127.0.0.1",
                9000,
                "127.0.0.1:9000",
                "/.rt/bootstrap",
            ),
            (
                "http://127.0.0.1:9000/.rt/bootstrap/",
                "127.0.0.1",
                9000,
                "127.0.0.1:9000",
                "/.rt/bootstrap",
            ),
            ("HTTP://[::1]:80/", "::1", 80, "[::1]:80", ""),
            ("runtime.local", "runtime.local", 80, "runtime.local", ""),
        ] {
            let endpoint = Endpoint::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(
                (
                    endpoint.host.as_str(),
                    endpoint.port,
                    endpoint.authority.to_str().unwrap(),
                    endpoint.base_path.as_str()
                ),
                (host, port, authority, base),
                "{value}"
            );
            assert_eq!(
                endpoint.uri("/invocation/next").unwrap().to_string(),
                format!("{base}/2018-06-01/runtime/invocation/next")
            );
        }
    }

    #[test]
    fn an_unusable_value_is_an_error_saying_why_and_what_is_expected() {
        for (value, why) in [
            ("", "empty"),
            ("https://127.0.0.1:9001", "http://"),
            ("127.0.0.1:99999", "port"),
            ("127.0.0.1:", "port"),
            ("127.0.0.1:x", "port"),
            ("/2018-06-01", "no host"),
            ("user@127.0.0.1:9001", "user information"),
            ("127.0.0.1:9001/rt?x=1", "query"),
            ("bad host:9001", "invalid"),
        ] {
            let err = Endpoint::parse(value).err().unwrap().to_string();
            assert!(err.contains(why), "{value:?}: {err}");
            assert!(err.contains(&format!("{value:?}")), "{err}");
            assert!(err.contains("Expected host:port"), "{err}");
        }
    }

    #[tokio::test]
    async fn the_path_prefix_comes_before_every_runtime_api_path() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("{}/.rt/bootstrap", listener.local_addr().unwrap());
        let mut received = scripted_runtime_api(
            listener,
            vec![
                EVENT,
                // `cargo lambda watch` takes outcomes with 200, Lambda with 202.
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            ],
        )
        .await;
        let mut client = client(&address);
        let invocation = client.next().await.unwrap();
        client.respond(&invocation, b"{}".to_vec()).await.unwrap();
        let next = received.recv().await.unwrap();
        assert!(
            next.starts_with("GET /.rt/bootstrap/2018-06-01/runtime/invocation/next HTTP/1.1\r\n"),
            "{next}"
        );
        let post = received.recv().await.unwrap();
        assert!(
            post.starts_with(
                "POST /.rt/bootstrap/2018-06-01/runtime/invocation/r-1/response HTTP/1.1\r\n"
            ),
            "{post}"
        );
    }

    #[tokio::test]
    async fn an_ipv6_runtime_api_is_reached() {
        // Not every test machine has IPv6 loopback; where it has none there is nothing to reach.
        let Ok(listener) = TcpListener::bind("[::1]:0").await else {
            return;
        };
        let address = listener.local_addr().unwrap().to_string();
        assert!(address.starts_with("[::1]:"), "{address}");
        let mut received = scripted_runtime_api(listener, vec![EVENT]).await;
        let invocation = client(&address).next().await.unwrap();
        assert_eq!(invocation.request_id, "r-1");
        let next = received.recv().await.unwrap();
        assert!(next.contains(&format!("host: {address}\r\n")), "{next}");
    }

    #[tokio::test]
    async fn no_content_from_next_is_polled_again() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let no_content = "HTTP/1.1 204 No Content\r\nLambda-Runtime-Aws-Request-Id: idle\r\n\r\n";
        let mut received =
            scripted_runtime_api(listener, vec![no_content, no_content, EVENT]).await;
        let invocation = client(&address).next().await.unwrap();
        assert_eq!(invocation.request_id, "r-1");
        assert_eq!(&invocation.payload[..], b"{}");
        for _ in 0..3 {
            let next = received.recv().await.unwrap();
            assert!(
                next.starts_with("GET /2018-06-01/runtime/invocation/next "),
                "{next}"
            );
        }
    }

    #[tokio::test]
    async fn a_next_answered_with_an_error_status_stops_the_loop_naming_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let _received = scripted_runtime_api(
            listener,
            vec!["HTTP/1.1 500 Internal Server Error\r\nContent-Length: 30\r\n\r\n{\"errorType\":\"Runtime.Broken\"}"],
        )
        .await;
        let err = client(&address).next().await.err().unwrap().to_string();
        assert!(err.contains("500 Internal Server Error"), "{err}");
        assert!(err.contains("Runtime.Broken"), "{err}");
        assert!(err.contains(&address), "{err}");
    }

    #[tokio::test]
    async fn a_refused_outcome_is_logged_and_the_loop_goes_on() {
        for refusal in [
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap().to_string();
            let mut received = scripted_runtime_api(listener, vec![refusal, EVENT]).await;
            let mut client = client(&address);
            client
                .respond(&invocation("r-0"), b"{}".to_vec())
                .await
                .unwrap_or_else(|e| panic!("{refusal}: {e}"));
            // The same connection then serves the next poll.
            assert_eq!(client.next().await.unwrap().request_id, "r-1");
            assert!(received.recv().await.unwrap().starts_with("POST "));
            assert!(received.recv().await.unwrap().starts_with("GET "));
        }
    }

    #[tokio::test]
    async fn a_runtime_api_that_is_briefly_unavailable_is_waited_for() {
        // Bind, note the port, free it, and listen on it again a little later.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let server = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let listener = TcpListener::bind(address).await.unwrap();
            let mut received = scripted_runtime_api(listener, vec![EVENT]).await;
            received.recv().await.unwrap()
        });
        let invocation = client(&address.to_string()).next().await.unwrap();
        assert_eq!(invocation.request_id, "r-1");
        assert!(server.await.unwrap().starts_with("GET "));
    }

    #[tokio::test]
    async fn init_errors_go_to_init_error_with_their_type() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("{}/prefix", listener.local_addr().unwrap());
        let mut received = scripted_runtime_api(
            listener,
            vec!["HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"],
        )
        .await;
        client(&address)
            .init_error("portico.InvalidApp", "two routes for GET /")
            .await
            .unwrap();
        let request = received.recv().await.unwrap();
        assert!(
            request.starts_with("POST /prefix/2018-06-01/runtime/init/error HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains("lambda-runtime-function-error-type: Runtime.InitError\r\n"),
            "{request}"
        );
        let body: serde_json::Value =
            serde_json::from_str(request.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"errorType": "portico.InvalidApp", "errorMessage": "two routes for GET /"})
        );
    }

    #[tokio::test]
    async fn a_connection_the_runtime_api_closed_is_replaced() {
        let (address, mut received) = closing_runtime_api().await;
        let mut client = client(&address);
        let invocation = client.next().await.unwrap();
        assert_eq!(invocation.request_id, "r-1");
        assert_eq!(&invocation.payload[..], b"{}");
        let next = received.recv().await.unwrap();
        assert!(
            next.starts_with("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"),
            "{next}"
        );
        // The first connection is closed by now: the post goes over a new one.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        client
            .respond(&invocation, br#"{"ok":true}"#.to_vec())
            .await
            .unwrap();
        let post = received.recv().await.unwrap();
        assert!(
            post.starts_with("POST /2018-06-01/runtime/invocation/r-1/response HTTP/1.1\r\n"),
            "{post}"
        );
        assert!(post.ends_with("\r\n\r\n{\"ok\":true}"), "{post}");
        assert!(
            !post.contains("lambda-runtime-invocation-id"),
            "none sent, none echoed: {post}"
        );
    }

    #[tokio::test]
    async fn errors_carry_the_type_header_and_body() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = read_request(&mut stream).await;
            stream
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            request
        });
        let mut client = client(&address);
        let invocation = Invocation {
            request_id: "r-2".to_owned(),
            invocation_id: Some(HeaderValue::from_static("nonce-2")),
            headers: http::HeaderMap::new(),
            payload: Bytes::new(),
        };
        client
            .fail(&invocation, "portico.Boom", "it \"broke\"")
            .await
            .unwrap();
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /2018-06-01/runtime/invocation/r-2/error HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains("lambda-runtime-function-error-type: Unhandled\r\n"),
            "{request}"
        );
        assert!(
            request.contains("lambda-runtime-invocation-id: nonce-2\r\n"),
            "the invocation id goes back: {request}"
        );
        let body = request.split("\r\n\r\n").nth(1).unwrap();
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"errorType": "portico.Boom", "errorMessage": "it \"broke\""})
        );
    }

    #[tokio::test]
    async fn an_unreachable_runtime_api_is_an_error_naming_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let mut client = client(&address);
        let err = client.next().await.err().unwrap().to_string();
        assert!(err.contains(&address), "{err}");
        assert!(Endpoint::parse("bad\nhost").is_err());
    }
}
