//! The HTTP server: hyper's HTTP/1 server on a listener, one task per connection, with
//! limits and a graceful shutdown.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::gateway::config::MAX_CONNECTIONS;
use crate::gateway::event::ConnInfo;
use crate::gateway::handler::{Gateway, GatewayError};
use crate::gateway::head::{HeadScanner, RawHead, RecordingStream, lock};
use crate::lambda::RunToEnd;
use crate::server::{self};

/// Serves `gateway` on `listener` until `shutdown` turns true (or its sender goes away),
/// then lets requests in flight finish for a few seconds.
///
/// Never fails: a connection's protocol errors end that connection only, and accept errors
/// (out of file descriptors) are waited out.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>, shutdown: watch::Receiver<bool>) {
    let drain = gateway.cfg.limits.drain;
    let log = Arc::clone(&gateway.log);
    server::accept_loop(
        listener,
        MAX_CONNECTIONS,
        drain,
        shutdown.clone(),
        |line| log(&format!("API {line}")),
        |stream, peer| serve_connection(stream, peer, Arc::clone(&gateway), shutdown.clone()),
    )
    .await;
}

async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    gateway: Arc<Gateway>,
    mut shutdown: watch::Receiver<bool>,
) {
    let local = stream.local_addr().unwrap_or(peer);
    let _ = stream.set_nodelay(true);
    let conn = ConnInfo { peer, local };
    let heads: Arc<Mutex<VecDeque<RawHead>>> = Arc::default();
    let io = TokioIo::new(RecordingStream {
        inner: stream,
        scanner: HeadScanner::default(),
        heads: Arc::clone(&heads),
    });
    let limits = gateway.cfg.limits;
    let service = service_fn(move |req: Request<Incoming>| {
        // hyper calls the service in the order the heads arrived.
        let raw_head = lock(&heads).pop_front();
        let gateway = Arc::clone(&gateway);
        async move {
            // Run in the connection's task, without a task per request; still, a panic becomes
            // a 500 here instead of ending the connection, and a client that goes away does
            // not cut the request short (it ends in a task of its own then).
            let handled = RunToEnd::new(Arc::clone(&gateway).handle(req, raw_head, conn)).await;
            let response = match handled {
                Ok(response) => response,
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .copied()
                        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                        .unwrap_or("a panic");
                    (gateway.log)(&format!(
                        "API internal error while handling a request: {message}"
                    ));
                    gateway.error_response(GatewayError::ConfigurationError)
                }
            };
            Ok::<_, Infallible>(response)
        }
    });
    let connection = server::http1_builder(&limits).serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        // Protocol errors (malformed requests, resets, timeouts) end this connection only;
        // hyper has already answered 400/431 where it could.
        _ = connection.as_mut() => {}
        () = wait_for_shutdown(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(limits.drain, connection.as_mut()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::future::Future;

    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};

    use std::time::{Duration, Instant};

    use bytes::Bytes;

    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    use crate::hosts::AllowedHosts;
    use crate::lambda::{InvocationResult, InvokeOutcome};

    use crate::server::{Limits, MAX_HEAD_BYTES};
    use crate::store::Store;
    use crate::usage::ApiKeys;

    use crate::gateway::config::tests::{CONFIG, gateway_config};

    use crate::gateway::config::{
        GatewayConfig, MAX_HEADER_BYTES, MAX_LAMBDA_PAYLOAD, MAX_REQUEST_BODY,
    };
    use crate::gateway::handler::Invoke;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // --- The server, over real sockets, with a fake function. ---

    type Reply = Arc<dyn Fn(&serde_json::Value) -> InvokeOutcome + Send + Sync>;

    struct Fake {
        reply: Reply,
        delay: Duration,
    }

    impl Invoke for Fake {
        fn invoke<'a>(
            &'a self,
            _function: &'a str,
            payload: Bytes,
            deadline: Duration,
        ) -> Pin<Box<dyn Future<Output = InvocationResult> + Send + 'a>> {
            Box::pin(async move {
                let started = Instant::now();
                let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
                // The reply first (tests watch for the call), then the function's run time.
                let outcome = if self.delay >= deadline {
                    tokio::time::sleep(deadline).await;
                    InvokeOutcome::Timeout
                } else {
                    let outcome = (self.reply)(&event);
                    tokio::time::sleep(self.delay).await;
                    outcome
                };
                InvocationResult {
                    request_id: "lambda-request".to_owned(),
                    outcome,
                    duration: started.elapsed(),
                }
            })
        }
    }

    /// The function of the tests: echoes the event it got as its body.
    fn echo() -> Reply {
        Arc::new(|event| {
            let reply = serde_json::json!({
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": event.to_string(),
            });
            InvokeOutcome::Response(Bytes::from(reply.to_string()))
        })
    }

    struct Server {
        addr: SocketAddr,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
        lines: Arc<Mutex<Vec<String>>>,
    }

    async fn start(cfg: GatewayConfig, reply: Reply, delay: Duration) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let keys = ApiKeys::from_pairs(&[
            ("partner", "partner-key-0123456789"),
            ("outsider", "outsider-key-012345678"),
        ]);
        let gateway = Gateway::with_invoker(
            cfg,
            Arc::new(Fake { reply, delay }),
            Arc::new(Store::in_memory()),
            keys,
            Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_owned())),
        );
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, Arc::new(gateway), rx));
        Server {
            addr,
            stop,
            task,
            lines,
        }
    }

    fn test_config() -> GatewayConfig {
        let mut cfg = gateway_config(CONFIG, true);
        cfg.limits = Limits {
            header_read: Duration::from_millis(300),
            body_read: Duration::from_millis(300),
            drain: Duration::from_millis(200),
        };
        cfg
    }

    /// A response as read off the wire.
    #[derive(Debug)]
    struct Reply1 {
        status: u16,
        head: String,
        body: Vec<u8>,
    }

    impl Reply1 {
        fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim())
            })
        }

        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// Reads one response with a Content-Length body.
    async fn read_response(stream: &mut TcpStream) -> Reply1 {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).await.unwrap();
            assert_eq!(
                n,
                1,
                "connection closed mid-head: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.unwrap();
        Reply1 { status, head, body }
    }

    async fn exchange(addr: SocketAddr, request: &[u8]) -> Reply1 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        read_response(&mut stream).await
    }

    async fn get(addr: SocketAddr, path: &str, extra: &str) -> Reply1 {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n");
        exchange(addr, request.as_bytes()).await
    }

    async fn stop(server: Server) {
        server.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .expect("serve stops on shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn serves_events_with_header_case_over_keep_alive() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"POST /dev/users?x=1 HTTP/1.1\r\nHost: localhost\r\nX-Custom-CASE: a\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        let first = read_response(&mut stream).await;
        assert_eq!(first.status, 200, "{first:?}");
        let event = first.json();
        assert_eq!(event["headers"]["X-Custom-CASE"], "a");
        assert_eq!(event["body"], "hello");
        assert_eq!(event["path"], "/users");
        assert_eq!(event["requestContext"]["path"], "/dev/users");
        assert_eq!(event["queryStringParameters"]["x"], "1");
        assert_eq!(event["requestContext"]["domainName"], "localhost");
        assert_eq!(first.header("content-type"), Some("application/json"));
        assert_eq!(
            first.header("x-amzn-RequestId"),
            event["requestContext"]["requestId"].as_str()
        );
        assert_eq!(
            first.header("x-amz-apigw-id"),
            event["requestContext"]["extendedRequestId"].as_str()
        );

        stream
            .write_all(b"GET /dev/ HTTP/1.1\r\nhOsT: localhost\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
            .await
            .unwrap();
        let second = read_response(&mut stream).await;
        let event = second.json();
        assert_eq!(event["headers"]["hOsT"], "localhost");
        assert_eq!(event["resource"], "/");
        assert_eq!(event["body"], "hi");

        let lines = server.lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("API POST /dev/users?x=… -> 200 in "),
            "{lines:?}"
        );
        stop(server).await;
    }

    #[tokio::test]
    async fn doubled_slashes_reach_the_keyed_resource_not_the_proxy() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let addr = server.addr;
        for path in [
            "/dev//users/42",
            "/dev///users/42",
            "/dev/users//42",
            "//dev/users/42",
            "/dev//users/42//",
            "/dev//admin",
        ] {
            let reply = get(addr, path, "").await;
            assert_eq!(reply.status, 403, "{path}: {reply:?}");
            assert_eq!(reply.body, br#"{"message":"Forbidden"}"#, "{path}");
            assert_eq!(reply.header("x-amzn-ErrorType"), Some("ForbiddenException"));
        }
        let reply = get(
            addr,
            "/dev//users/42",
            "x-api-key: partner-key-0123456789\r\n",
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let event = reply.json();
        assert_eq!(event["path"], "/users/42");
        assert_eq!(event["resource"], "/users/{id}");
        assert_eq!(event["requestContext"]["path"], "/dev/users/42");
        assert_eq!(event["pathParameters"], serde_json::json!({"id": "42"}));
        stop(server).await;
    }

    #[tokio::test]
    async fn unknown_hosts_are_forbidden() {
        let mut cfg = test_config();
        cfg = cfg.with_allowed_hosts(AllowedHosts::new(["api.shop.test"]).unwrap());
        let server = start(cfg, echo(), Duration::ZERO).await;
        let addr = server.addr;
        for host in [
            "evil.example",
            "evil.example:8000",
            "localhost.evil.example",
            "10.1.2.3",
        ] {
            let request = format!("GET /dev/users/me HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let reply = exchange(addr, request.as_bytes()).await;
            assert_eq!(reply.status, 403, "{host}: {reply:?}");
            assert_eq!(reply.body, br#"{"message":"Forbidden"}"#);
            assert_eq!(reply.header("x-amzn-ErrorType"), Some("ForbiddenException"));
        }
        // An absolute-form target names the host too.
        let reply = exchange(
            addr,
            b"GET http://evil.example/dev/users/me HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )
        .await;
        assert_eq!(reply.status, 403, "{reply:?}");
        let reply = exchange(
            addr,
            b"GET /dev/users/me HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
        )
        .await;
        assert_eq!(reply.status, 400, "{reply:?}");
        for host in [
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            addr.to_string(),
            "API.shop.test:8000".to_owned(),
        ] {
            let request = format!("GET /dev/users/me HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let reply = exchange(addr, request.as_bytes()).await;
            assert_eq!(reply.status, 200, "{host}: {reply:?}");
            assert_eq!(reply.json()["requestContext"]["domainName"], host.as_str());
        }
        let lines = server.lines.lock().unwrap().clone();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Host `evil.example` is not one of")),
            "{lines:?}"
        );
        stop(server).await;
    }

    #[tokio::test]
    async fn gateway_and_function_agree_on_the_key_and_the_method() {
        let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let record = Arc::clone(&seen);
        let recording: Reply = Arc::new(move |event| {
            record.lock().unwrap().push(event.clone());
            InvokeOutcome::Response(Bytes::from_static(br#"{"statusCode":204}"#))
        });
        let server = start(test_config(), recording, Duration::ZERO).await;
        let addr = server.addr;
        // Two keys: the function would see another value than the gateway checked.
        for extra in [
            "x-api-key: partner-key-0123456789\r\nx-api-key: outsider-key-012345678\r\n",
            "x-api-key: partner-key-0123456789\r\nX-Api-Key: partner-key-0123456789\r\n",
        ] {
            let reply = get(addr, "/dev/users/42", extra).await;
            assert_eq!(reply.status, 403, "{extra}: {reply:?}");
            assert_eq!(reply.body, br#"{"message":"Forbidden"}"#);
        }
        assert!(
            seen.lock().unwrap().is_empty(),
            "nothing reached the function"
        );
        let one = get(
            addr,
            "/dev/users/42",
            "x-api-key: partner-key-0123456789\r\n",
        )
        .await;
        assert_eq!(one.status, 204);
        assert_eq!(
            seen.lock().unwrap()[0]["requestContext"]["identity"]["apiKey"],
            "partner-key-0123456789"
        );
        // HEAD is the keyed GET's: the key is needed.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"HEAD /dev/users/42 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let mut head = Vec::new();
        stream.read_to_end(&mut head).await.unwrap();
        assert!(
            head.starts_with(b"HTTP/1.1 403"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        // Methods the keyed resource does not declare go through its open `ANY`, as deployed:
        // the event names the resource and carries no key, and the app decides (405).
        for method in ["DELETE", "POST"] {
            let request = format!("{method} /dev/users/42 HTTP/1.1\r\nHost: localhost\r\n\r\n");
            let reply = exchange(addr, request.as_bytes()).await;
            assert_eq!(reply.status, 204, "{method}: {reply:?}");
            let event = seen.lock().unwrap().pop().unwrap();
            assert_eq!(event["httpMethod"], method);
            assert_eq!(event["resource"], "/users/{id}", "{method}");
            assert!(
                event["requestContext"]["identity"]
                    .get("apiKeyId")
                    .is_none(),
                "{method}: {event}"
            );
        }
        stop(server).await;
    }

    #[tokio::test]
    async fn paths_outside_the_stage_are_missing_authentication_token() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        for path in ["/", "/other/x", "/devx", "*"] {
            let reply = get(server.addr, path, "").await;
            assert_eq!(reply.status, 403, "{path}");
            assert_eq!(reply.body, br#"{"message":"Missing Authentication Token"}"#);
            assert_eq!(
                reply.header("x-amzn-ErrorType"),
                Some("MissingAuthenticationTokenException")
            );
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_eq!(
                reply.header("access-control-allow-origin"),
                Some("https://shop.example.com")
            );
            assert!(reply.header("x-amzn-RequestId").is_some());
        }
        stop(server).await;
    }

    #[tokio::test]
    async fn api_keys_usage_plans_and_throttling() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let addr = server.addr;

        let missing = get(addr, "/dev/users/42", "").await;
        assert_eq!(missing.status, 403);
        assert_eq!(missing.body, br#"{"message":"Forbidden"}"#);
        assert_eq!(
            missing.header("x-amzn-ErrorType"),
            Some("ForbiddenException")
        );
        assert_eq!(
            missing.header("access-control-allow-origin"),
            Some("https://shop.example.com")
        );

        assert_eq!(
            get(addr, "/dev/users/42", "x-api-key: wrong\r\n")
                .await
                .status,
            403
        );
        let outsider = get(
            addr,
            "/dev/users/42",
            "x-api-key: outsider-key-012345678\r\n",
        )
        .await;
        assert_eq!(outsider.status, 403, "a key in no usage plan");

        // No key needed: another method, a static sibling, the preflight with CORS.
        assert_eq!(get(addr, "/dev/users/me", "").await.status, 200);
        let preflight = exchange(
            addr,
            b"OPTIONS /dev/admin HTTP/1.1\r\nHost: localhost\r\nOrigin: https://shop.example.com\r\nAccess-Control-Request-Method: GET\r\n\r\n",
        )
        .await;
        assert_eq!(preflight.status, 200);

        // burst = 2, then the bucket is empty (rate 0.001/s).
        let key = "X-API-Key: partner-key-0123456789\r\n";
        let ok = get(addr, "/dev/users/42", key).await;
        assert_eq!(ok.status, 200);
        let event = ok.json();
        assert_eq!(event["resource"], "/users/{id}");
        assert_eq!(
            event["requestContext"]["identity"]["apiKey"],
            "partner-key-0123456789"
        );
        assert_eq!(get(addr, "/dev/admin", key).await.status, 200);
        let throttled = get(addr, "/dev/users/42", key).await;
        assert_eq!(throttled.status, 429);
        assert_eq!(throttled.body, br#"{"message":"Too Many Requests"}"#);
        assert_eq!(
            throttled.header("x-amzn-ErrorType"),
            Some("TooManyRequestsException")
        );
        stop(server).await;
    }

    #[tokio::test]
    async fn quotas_answer_limit_exceeded() {
        let text = CONFIG.replace(
            "throttle = { rate = 0.001, burst = 2 }\nquota = { limit = 100, period = \"DAY\" }",
            "quota = { limit = 1, period = \"MONTH\" }",
        );
        let mut cfg = gateway_config(&text, true);
        cfg.limits = test_config().limits;
        let server = start(cfg, echo(), Duration::ZERO).await;
        let key = "x-api-key: partner-key-0123456789\r\n";
        assert_eq!(get(server.addr, "/dev/admin", key).await.status, 200);
        let over = get(server.addr, "/dev/admin", key).await;
        assert_eq!(over.status, 429);
        assert_eq!(over.body, br#"{"message":"Limit Exceeded"}"#);
        assert_eq!(
            over.header("x-amzn-ErrorType"),
            Some("LimitExceededException")
        );
        stop(server).await;
    }

    #[tokio::test]
    async fn function_failures_are_502_and_timeouts_504() {
        let cases: Vec<(Reply, u16, &[u8])> = vec![
            (
                Arc::new(|_| {
                    InvokeOutcome::Response(Bytes::from_static(
                        b"{\"statusCode\": 200, \"body\": {}}",
                    ))
                }),
                502,
                br#"{"message": "Internal server error"}"#,
            ),
            (
                Arc::new(|_| InvokeOutcome::FunctionError {
                    error_type: "Panic".into(),
                    error_message: "boom".into(),
                }),
                502,
                br#"{"message": "Internal server error"}"#,
            ),
            (
                Arc::new(|_| InvokeOutcome::Crashed {
                    detail: "exit 101".into(),
                }),
                502,
                br#"{"message": "Internal server error"}"#,
            ),
            (
                Arc::new(|_| {
                    InvokeOutcome::Response(Bytes::from(vec![b' '; MAX_LAMBDA_PAYLOAD + 1]))
                }),
                502,
                br#"{"message": "Internal server error"}"#,
            ),
            (
                Arc::new(|_| InvokeOutcome::UnknownFunction),
                500,
                br#"{"message": "Internal server error"}"#,
            ),
        ];
        for (reply, status, body) in cases {
            let server = start(test_config(), reply, Duration::ZERO).await;
            let got = get(server.addr, "/dev/x", "").await;
            assert_eq!(got.status, status);
            assert_eq!(got.body, body);
            assert_eq!(
                got.header("x-amzn-ErrorType"),
                Some("InternalServerErrorException")
            );
            assert_eq!(
                got.header("access-control-allow-origin"),
                Some("https://shop.example.com")
            );
            stop(server).await;
        }

        let mut cfg = test_config();
        cfg.integration_timeout = Duration::from_millis(100);
        let server = start(cfg, echo(), Duration::from_secs(5)).await;
        let got = get(server.addr, "/dev/slow", "").await;
        assert_eq!(got.status, 504);
        assert_eq!(got.body, br#"{"message": "Endpoint request timed out"}"#);
        stop(server).await;
    }

    #[tokio::test]
    async fn binary_responses_follow_the_accept_header() {
        let reply: Reply = Arc::new(|_| {
            InvokeOutcome::Response(Bytes::from_static(
                br#"{"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "iVBORw==", "isBase64Encoded": true}"#,
            ))
        });
        let server = start(test_config(), reply, Duration::ZERO).await;
        let binary = get(server.addr, "/dev/logo.png", "Accept: image/png\r\n").await;
        assert_eq!(binary.body, [0x89, b'P', b'N', b'G']);
        assert_eq!(binary.header("content-type"), Some("image/png"));
        let text = get(server.addr, "/dev/logo.png", "Accept: */*\r\n").await;
        assert_eq!(text.body, b"iVBORw==");
        let lines = server.lines.lock().unwrap().clone();
        assert!(!lines[0].contains("base64 text"), "{lines:?}");
        assert!(lines[1].contains("went out as base64 text"), "{lines:?}");
        stop(server).await;
    }

    #[tokio::test]
    async fn oversized_requests_are_refused() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let too_long = exchange(
            server.addr,
            format!(
                "POST /dev/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
                MAX_REQUEST_BODY + 1
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(too_long.status, 413);
        assert_eq!(too_long.body, br#"{"message":"Request Too Long"}"#);
        assert_eq!(too_long.header("connection"), Some("close"));

        // A chunked body that grows past the limit is cut off while it is read.
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(
                b"POST /dev/upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
            )
            .await
            .unwrap();
        let chunk = vec![b'a'; 1 << 20];
        let writer = tokio::spawn(async move {
            for _ in 0..11 {
                let size = format!("{:x}\r\n", chunk.len());
                if stream.write_all(size.as_bytes()).await.is_err()
                    || stream.write_all(&chunk).await.is_err()
                    || stream.write_all(b"\r\n").await.is_err()
                {
                    break;
                }
            }
            stream
        });
        let mut stream = writer.await.unwrap();
        let streamed = read_response(&mut stream).await;
        assert_eq!(streamed.status, 413);

        // Headers over API Gateway's 10,240 bytes.
        let big = format!("X-Big: {}\r\n", "b".repeat(MAX_HEADER_BYTES));
        let headers = get(server.addr, "/dev/x", &big).await;
        assert_eq!(headers.status, 431);
        // Far over: hyper refuses to parse it.
        let huge = format!("X-Huge: {}\r\n", "h".repeat(MAX_HEAD_BYTES * 2));
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let _ = stream
            .write_all(format!("GET /dev/x HTTP/1.1\r\nHost: localhost\r\n{huge}\r\n").as_bytes())
            .await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 431"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );

        assert_eq!(get(server.addr, "/dev/still-up", "").await.status, 200);
        stop(server).await;
    }

    #[tokio::test]
    async fn bad_and_slow_clients_do_not_stop_the_server() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        // Malformed HTTP.
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"THIS IS NOT HTTP\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
            "{answer:?}"
        );

        // Slowloris: half a head, then nothing; hyper closes after the header timeout.
        let mut slow = TcpStream::connect(server.addr).await.unwrap();
        slow.write_all(b"GET /dev/x HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the slow connection is closed");

        // A body that never completes.
        let stalled = exchange(
            server.addr,
            b"POST /dev/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc",
        )
        .await;
        assert_eq!(stalled.status, 408);

        // A client that goes away mid-request.
        let mut gone = TcpStream::connect(server.addr).await.unwrap();
        gone.write_all(b"POST /dev/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nab")
            .await
            .unwrap();
        drop(gone);

        // A function that answers slowly while its client disconnects.
        assert_eq!(get(server.addr, "/dev/ok", "").await.status, 200);
        stop(server).await;
    }

    #[tokio::test]
    async fn shutdown_lets_requests_in_flight_finish() {
        let invoked = Arc::new(tokio::sync::Notify::new());
        let signal = Arc::clone(&invoked);
        let inner = echo();
        let reply: Reply = Arc::new(move |event| {
            signal.notify_one();
            inner(event)
        });
        let mut cfg = test_config();
        cfg.limits.drain = Duration::from_secs(3);
        let server = start(cfg, reply, Duration::from_millis(200)).await;
        let addr = server.addr;
        let in_flight = tokio::spawn(async move { get(addr, "/dev/slow", "").await });
        tokio::time::timeout(Duration::from_secs(10), invoked.notified())
            .await
            .expect("the request reaches the function");
        server.stop.send(true).unwrap();
        assert_eq!(in_flight.await.unwrap().status, 200);
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .unwrap()
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer listening"
        );
    }

    #[tokio::test]
    async fn serve_stops_when_the_shutdown_sender_goes_away() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        drop(server.stop);
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .expect("serve returns")
            .unwrap();
    }

    #[tokio::test]
    async fn head_requests_get_no_body() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(
                b"HEAD /dev/x HTTP/1.1\r\nHost: localhost\r\n\r\nGET /dev/y HTTP/1.1\r\nHost: localhost\r\n\r\n",
            )
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        // The HEAD response has a Content-Length but no body: the GET response follows it.
        while !String::from_utf8_lossy(&got).contains("\"/y\"") {
            let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
        assert!(!text.contains("\"/x\""), "no body for HEAD: {text}");
        stop(server).await;
    }
}
