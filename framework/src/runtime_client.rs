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

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The Runtime API's version prefix.
const PREFIX: &str = "/2018-06-01/runtime";

/// The per-invocation nonce the Runtime API may send with `/next`; echoed with the outcome
/// so a late answer of a timed-out invocation cannot be taken for a newer one's.
const INVOCATION_ID: &str = "lambda-runtime-invocation-id";

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
    /// `host:port`.
    address: String,
    /// `Host` header value.
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl RuntimeClient {
    /// A client of the Runtime API at `address` (`host:port`, as in `AWS_LAMBDA_RUNTIME_API`).
    pub(crate) fn new(address: &str) -> Result<Self, ClientError> {
        let host = HeaderValue::from_str(address).map_err(|_| {
            ClientError(format!(
                "AWS_LAMBDA_RUNTIME_API is not a host:port: {address:?}"
            ))
        })?;
        Ok(Self {
            address: address.to_owned(),
            host,
            sender: None,
        })
    }

    /// Waits for the next invocation.
    pub(crate) async fn next(&mut self) -> Result<Invocation, ClientError> {
        let uri = format!("{PREFIX}/invocation/next");
        let (status, headers, payload) = self.send(Method::GET, &uri, None, None, None).await?;
        if status != StatusCode::OK {
            return Err(ClientError(format!(
                "the Runtime API answered {status} to GET {uri}: {}",
                String::from_utf8_lossy(&payload)
            )));
        }
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
        let uri = format!("{PREFIX}/invocation/{}/response", invocation.request_id);
        self.post(&uri, invocation, Bytes::from(payload), None)
            .await
    }

    /// Posts a failed invocation's error (`errorType`, `errorMessage`).
    pub(crate) async fn fail(
        &mut self,
        invocation: &Invocation,
        error_type: &str,
        message: &str,
    ) -> Result<(), ClientError> {
        let uri = format!("{PREFIX}/invocation/{}/error", invocation.request_id);
        let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
        self.post(
            &uri,
            invocation,
            Bytes::from(body.to_string()),
            Some("Unhandled"),
        )
        .await
    }

    async fn post(
        &mut self,
        uri: &str,
        invocation: &Invocation,
        body: Bytes,
        error_type: Option<&'static str>,
    ) -> Result<(), ClientError> {
        let (status, _, answer) = self
            .send(
                Method::POST,
                uri,
                Some(body),
                error_type,
                invocation.invocation_id.as_ref(),
            )
            .await?;
        match status {
            // 202: taken. 400/410/413 concern this invocation only (an unknown request id, an
            // invocation that timed out meanwhile, a payload too large): the Runtime API
            // records the invocation as failed and the process goes on with the next one, as
            // the official runtimes do.
            StatusCode::ACCEPTED => Ok(()),
            s if s.is_client_error() => {
                eprintln!(
                    "portico: the Runtime API refused POST {uri} ({s}): {}",
                    String::from_utf8_lossy(&answer)
                );
                Ok(())
            }
            s => Err(ClientError(format!(
                "the Runtime API answered {s} to POST {uri}: {}",
                String::from_utf8_lossy(&answer)
            ))),
        }
    }

    /// Sends one request over the kept-alive connection; a connection that turns out to be
    /// closed (the Runtime API may close idle ones) is replaced once.
    async fn send(
        &mut self,
        method: Method,
        uri: &str,
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
                    self.address
                )));
            }
            let mut request = Request::new(Full::new(body.clone().unwrap_or_default()));
            *request.method_mut() = method.clone();
            *request.uri_mut() = uri
                .parse()
                .map_err(|e| ClientError(format!("bad Runtime API path {uri:?}: {e}")))?;
            let headers = request.headers_mut();
            headers.insert(header::HOST, self.host.clone());
            if body.is_some() {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            if let Some(error_type) = error_type {
                headers.insert(
                    "lambda-runtime-function-error-type",
                    HeaderValue::from_static(error_type),
                );
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
                        self.address
                    )));
                }
            }
        }
        Err(ClientError(format!(
            "the Runtime API at {} keeps closing the connection{}",
            self.address,
            last_error.map(|e| format!(": {e}")).unwrap_or_default()
        )))
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let stream = TcpStream::connect(&self.address).await.map_err(|e| {
            ClientError(format!(
                "cannot connect to the Runtime API at {}: {e}",
                self.address
            ))
        })?;
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

    #[tokio::test]
    async fn a_connection_the_runtime_api_closed_is_replaced() {
        let (address, mut received) = closing_runtime_api().await;
        let mut client = RuntimeClient::new(&address).unwrap();
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
        let mut client = RuntimeClient::new(&address).unwrap();
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
        let mut client = RuntimeClient::new(&address).unwrap();
        let err = client.next().await.err().unwrap().to_string();
        assert!(err.contains(&address), "{err}");
        assert!(RuntimeClient::new("bad\nhost").is_err());
    }
}
