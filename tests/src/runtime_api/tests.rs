//! The Runtime API (`portico_local::lambda::runtime_api`, the one implementation, through this
//! handle) against a raw HTTP/1.1 client, and `spawn_function` against shell scripts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;

const WAIT: Duration = Duration::from_secs(10);

/// A client that writes bytes exactly as given and parses responses.
struct RawClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: portico::HeaderMap,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

impl RawClient {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect to the host");
        // A broken host fails the test instead of hanging it.
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Self {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes);
        self.read_response().expect("a response")
    }

    /// The next response; `None` when the server closed the connection instead.
    fn read_response(&mut self) -> Option<RawResponse> {
        let mut line = String::new();
        if self
            .reader
            .read_line(&mut line)
            .expect("reading the status line")
            == 0
        {
            return None;
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = portico::HeaderMap::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("a header line");
            let name = portico::header::HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, value.trim().parse().unwrap());
        }
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = response
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        response.body = vec![0; len];
        self.reader.read_exact(&mut response.body).unwrap();
        Some(response)
    }

    /// Whether the server closed the connection (end of stream before any byte).
    fn at_eof(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }

    /// Posts invocation `id`'s response.
    fn respond(&mut self, id: &str, headers: &[(&str, &str)], body: &[u8]) -> RawResponse {
        let path = format!("/2018-06-01/runtime/invocation/{id}/response");
        self.request("POST", &path, headers, body)
    }

    fn next(&mut self) -> RawResponse {
        self.request("GET", "/2018-06-01/runtime/invocation/next", &[], b"")
    }
}

/// A host with an event (`{}`) queued, its request id, and a client connected to the host.
fn host_with_event() -> (RuntimeApi, String, RawClient) {
    let api = RuntimeApi::start().unwrap();
    let id = api.enqueue(b"{}", WAIT);
    let client = RawClient::connect(api.addr());
    (api, id, client)
}

/// A host, and a client of it whose `/next` poll has arrived (and waits, unanswered).
fn host_with_waiting_poll() -> (RuntimeApi, RawClient) {
    let api = RuntimeApi::start().unwrap();
    let mut client = RawClient::connect(api.addr());
    client.send(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(api.wait_for_next_request(WAIT).is_some());
    (api, client)
}

/// Runs `function` with a new client of `api`, on a thread of its own.
fn client_thread<T: Send + 'static>(
    api: &RuntimeApi,
    function: impl FnOnce(RawClient) -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let addr = api.addr();
    std::thread::spawn(move || function(RawClient::connect(addr)))
}

fn request_id(response: &RawResponse) -> String {
    response
        .header("Lambda-Runtime-Aws-Request-Id")
        .expect("a request id header")
        .to_owned()
}

#[test]
fn next_blocks_until_an_event_is_queued_and_carries_the_invocation_headers() {
    let api = RuntimeApi::start().unwrap();
    let poller = client_thread(&api, |mut client| {
        let event = client.next();
        (client, event)
    });
    assert!(
        api.wait_for_next_request(WAIT).is_some(),
        "the client never polled"
    );
    // The poll has arrived and nothing is queued: it must still be waiting.
    assert!(!poller.is_finished(), "/next answered with no event queued");

    let id = api.enqueue(br#"{"n":1}"#, Duration::from_secs(30));
    let (mut client, event) = poller.join().unwrap();
    assert_eq!(event.status, 200);
    assert_eq!(event.body, br#"{"n":1}"#);
    assert_eq!(request_id(&event), id);
    assert_eq!(event.header("content-type"), Some("application/json"));
    let deadline: u128 = event
        .header("Lambda-Runtime-Deadline-Ms")
        .expect("a deadline header")
        .parse()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(
        deadline > now + 20_000 && deadline <= now + 30_000,
        "{deadline} vs {now}"
    );
    assert_eq!(
        event.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some(api.function_arn().as_str())
    );
    assert!(
        event
            .header("Lambda-Runtime-Trace-Id")
            .is_some_and(|t| t.starts_with("Root=1-")),
        "{:?}",
        event.headers
    );

    // Same connection: keep-alive.
    let answer = client.respond(
        &id,
        &[("Content-Type", "application/json")],
        br#"{"ok":true}"#,
    );
    assert_eq!(answer.status, 202);
    assert_eq!(answer.json(), serde_json::json!({"status": "OK"}));

    let record = api.wait_for(&id, WAIT).unwrap();
    assert_eq!(
        record.outcome,
        Invocation::Response(br#"{"ok":true}"#.to_vec())
    );
    assert_eq!(record.request_id, id);
    assert!(record.queued_at <= record.delivered_at && record.delivered_at <= record.completed_at);
    assert_eq!(api.next_request_times().len(), 1);
}

#[test]
fn invoke_returns_what_a_client_answers() {
    let api = RuntimeApi::start().unwrap();
    let function = client_thread(&api, |mut client| {
        for _ in 0..2 {
            let event = client.next();
            let id = request_id(&event);
            let mut body = b"echo:".to_vec();
            body.extend_from_slice(&event.body);
            client.respond(&id, &[], &body);
        }
    });
    assert_eq!(
        api.invoke(b"a", WAIT).unwrap(),
        Invocation::Response(b"echo:a".to_vec())
    );
    assert_eq!(
        api.invoke(b"b", WAIT).unwrap(),
        Invocation::Response(b"echo:b".to_vec())
    );
    function.join().unwrap();
}

#[test]
fn chunked_response_bodies_are_reassembled() {
    let (api, id, mut client) = host_with_event();
    assert_eq!(request_id(&client.next()), id);
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    // Written in pieces that split a size line and a chunk, as a streaming client may.
    for piece in [
        head.as_str(),
        "5\r\nhel",
        "lo\r\n1",
        "0;name=value\r\n0123456789abcdef\r\n",
        "0\r\n\r\n",
    ] {
        client.send(piece.as_bytes());
    }
    let answer = client.read_response().unwrap();
    assert_eq!(
        answer.status,
        202,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    let record = api.wait_for(&id, WAIT).unwrap();
    assert_eq!(
        record.outcome,
        Invocation::Response(b"hello0123456789abcdef".to_vec())
    );
}

#[test]
fn streamed_errors_in_trailers_fail_the_invocation() {
    let (api, id, mut client) = host_with_event();
    client.next();
    client.send(
        format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
             Transfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n\
             3\r\nabc\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n\
             Lambda-Runtime-Function-Error-Body: Ym9vbQ==\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(client.read_response().unwrap().status, 202);
    assert_failed_with(&api, &id, "Runtime.StreamError", "Ym9vbQ==");
}

/// The outcome of invocation `id`: an error of `error_type` with `error_message`.
#[track_caller]
fn assert_failed_with(api: &RuntimeApi, id: &str, error_type: &str, error_message: &str) {
    assert_eq!(
        api.wait_for(id, WAIT).unwrap().outcome,
        Invocation::Error {
            error_type: error_type.to_owned(),
            error_message: error_message.to_owned()
        }
    );
}

#[test]
fn errors_are_reported_with_type_and_message() {
    let api = RuntimeApi::start().unwrap();
    let mut client = RawClient::connect(api.addr());
    // The error type header and the body the function posts, and the error it becomes.
    for (header, body, error_type, error_message) in [
        (
            "unhandled",
            br#"{"errorType":"portico.MalformedEvent","errorMessage":"bad event","stackTrace":[]}"#
                .as_slice(),
            "portico.MalformedEvent",
            "bad event",
        ),
        // Lambda accepts any error body; the header then names the type.
        ("Runtime.Crash", b"not json", "Runtime.Crash", "not json"),
    ] {
        let id = api.enqueue(b"{}", WAIT);
        client.next();
        let answer = client.request(
            "POST",
            &format!("/2018-06-01/runtime/invocation/{id}/error"),
            &[("Lambda-Runtime-Function-Error-Type", header)],
            body,
        );
        assert_eq!(answer.status, 202, "{header}");
        assert_failed_with(&api, &id, error_type, error_message);
    }
}

#[test]
fn unknown_and_answered_request_ids_are_refused() {
    let api = RuntimeApi::start().unwrap();
    let mut client = RawClient::connect(api.addr());
    let refused = client.request(
        "POST",
        "/2018-06-01/runtime/invocation/nope/response",
        &[],
        b"{}",
    );
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.json(),
        serde_json::json!({"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"})
    );

    let id = api.enqueue(b"{}", WAIT);
    client.next();
    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    assert_eq!(client.request("POST", &path, &[], b"1").status, 202);
    assert_eq!(client.request("POST", &path, &[], b"2").status, 400);
    let error_path = format!("/2018-06-01/runtime/invocation/{id}/error");
    assert_eq!(client.request("POST", &error_path, &[], b"{}").status, 400);
    assert_eq!(
        api.wait_for(&id, WAIT).unwrap().outcome,
        Invocation::Response(b"1".to_vec())
    );
    assert_eq!(
        api.wait_for(&id, WAIT),
        Err(InvokeError::UnknownRequestId(id.clone())),
        "an outcome is handed out once"
    );
}

#[test]
fn unknown_paths_are_404_wrong_methods_405_on_one_kept_alive_connection() {
    let api = RuntimeApi::start().unwrap();
    let mut client = RawClient::connect(api.addr());
    for path in [
        "/",
        "/2018-06-01/runtime/invocation/next/more",
        "/2018-06-01/runtime/invocation//response",
        "/2018-06-01/runtime/restore/next",
        "/2019-01-01/runtime/invocation/next",
    ] {
        let res = client.request("GET", path, &[], b"");
        assert_eq!(res.status, 404, "{path}");
        assert_eq!(res.json()["errorType"], "NotFound", "{path}");
    }
    let res = client.request("POST", "/2018-06-01/runtime/invocation/next", &[], b"");
    assert_eq!((res.status, res.header("allow")), (405, Some("GET")));
    let res = client.request("GET", "/2018-06-01/runtime/init/error", &[], b"");
    assert_eq!((res.status, res.header("allow")), (405, Some("POST")));
    let res = client.request("PUT", "/2018-06-01/runtime/invocation/x/response", &[], b"");
    assert_eq!((res.status, res.header("allow")), (405, Some("POST")));

    let res = client.request("GET", "/", &[("Connection", "close")], b"");
    assert_eq!(res.header("connection"), Some("close"));
    assert!(
        client.at_eof(),
        "the host kept the connection open after `Connection: close`"
    );

    let paths: Vec<(String, u16)> = api
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(paths.len(), 9);
    assert_eq!(
        paths[5],
        ("/2018-06-01/runtime/invocation/next".to_owned(), 405)
    );
}

#[test]
fn http_1_0_clients_get_one_response_per_connection() {
    let api = RuntimeApi::start().unwrap();
    let mut client = RawClient::connect(api.addr());
    client.send(b"GET /x HTTP/1.0\r\n\r\n");
    assert_eq!(client.read_response().unwrap().status, 404);
    assert!(client.at_eof());
}

#[test]
fn malformed_and_oversized_requests_get_an_error_and_the_connection_closes() {
    let api = RuntimeApi::start().unwrap();
    let mut client = RawClient::connect(api.addr());
    client.send(b"GARBAGE\r\n\r\n");
    let res = client.read_response().unwrap();
    assert_eq!(res.status, 400);
    assert!(client.at_eof());

    let mut client = RawClient::connect(api.addr());
    client.send(
        format!(
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            // More than the host reads to drop (64 MiB): refused unread.
            64 * 1024 * 1024 + 1
        )
        .as_bytes(),
    );
    assert_eq!(client.read_response().unwrap().status, 413);
    assert!(client.at_eof());
}

#[test]
fn responses_over_the_payload_limit_fail_the_invocation() {
    let (api, id, mut client) = host_with_event();
    client.next();
    let big = vec![b'a'; MAX_RESPONSE_BYTES + 1];
    let res = client.respond(&id, &[], &big);
    assert_eq!(res.status, 413);
    assert_eq!(res.json()["errorType"], "RequestEntityTooLarge");
    match api.wait_for(&id, WAIT).unwrap().outcome {
        Invocation::Error { error_type, .. } => {
            assert_eq!(error_type, "Function.ResponseSizeTooLarge")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn expect_continue_is_answered_before_the_body_is_sent() {
    let (api, id, mut client) = host_with_event();
    client.next();
    client.send(
        format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nExpect: 100-continue\r\n\
             Content-Length: 2\r\n\r\n"
        )
        .as_bytes(),
    );
    let interim = client.read_response().unwrap();
    assert_eq!(interim.status, 100);
    client.send(b"ok");
    assert_eq!(client.read_response().unwrap().status, 202);
    assert_eq!(
        api.wait_for(&id, WAIT).unwrap().outcome,
        Invocation::Response(b"ok".to_vec())
    );
}

#[test]
fn invoke_times_out_and_withdraws_the_unclaimed_event() {
    let api = RuntimeApi::start().unwrap();
    let started = Instant::now();
    assert_eq!(
        api.invoke(b"stale", Duration::from_millis(50)),
        Err(InvokeError::Timeout)
    );
    assert!(started.elapsed() >= Duration::from_millis(50));

    let id = api.enqueue(b"fresh", WAIT);
    let mut client = RawClient::connect(api.addr());
    let event = client.next();
    assert_eq!((request_id(&event), event.body), (id, b"fresh".to_vec()));
}

#[test]
fn init_errors_fail_waiting_invocations() {
    let (api, id, mut client) = host_with_event();
    let res = client.request(
        "POST",
        "/2018-06-01/runtime/init/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")],
        br#"{"errorType":"portico.Config","errorMessage":"no config"}"#,
    );
    assert_eq!(res.status, 202);
    let expected = InitError {
        error_type: "portico.Config".to_owned(),
        error_message: "no config".to_owned(),
    };
    assert_eq!(
        api.wait_for(&id, WAIT),
        Err(InvokeError::InitError(expected.clone()))
    );
    assert_eq!(api.init_error(), Some(expected));
}

#[test]
fn an_event_is_not_handed_to_a_client_that_left() {
    let (api, gone) = host_with_waiting_poll();
    gone.writer.shutdown(Shutdown::Both).unwrap();
    drop(gone);

    let id = api.enqueue(b"{}", WAIT);
    let mut client = RawClient::connect(api.addr());
    assert_eq!(request_id(&client.next()), id);
}

#[test]
fn dropping_the_host_releases_a_waiting_client() {
    let (api, mut client) = host_with_waiting_poll();
    let poller = std::thread::spawn(move || client.read_response().map(|r| r.status));
    drop(api);
    assert_eq!(
        poller.join().unwrap(),
        None,
        "the waiting poll should see the connection close"
    );
}

// --- spawn_function, with shell scripts standing in for function binaries ---

/// An executable `bootstrap` running `body`, alone in a new temporary folder (which is kept:
/// the function process may outlive the test's reading of it).
fn script(body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("portico-e2e-")
        .tempdir()
        .unwrap()
        .keep();
    let path = dir.join("bootstrap");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Spawns, retrying while another test thread's fork still holds the fresh script open for
/// writing (`ETXTBSY`).
fn spawn(api: &RuntimeApi, path: &Path, env: &[(&str, &str)]) -> FunctionProcess {
    let deadline = Instant::now() + WAIT;
    loop {
        match api.spawn_function(path, env) {
            Ok(function) => return function,
            Err(e)
                if e.kind() == io::ErrorKind::ExecutableFileBusy && Instant::now() < deadline =>
            {
                std::thread::yield_now();
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn functions_get_the_lambda_environment_and_their_output_is_captured() {
    let api = RuntimeApi::start().unwrap();
    let path = script(
        r#"echo "api=$AWS_LAMBDA_RUNTIME_API name=$AWS_LAMBDA_FUNCTION_NAME mem=$AWS_LAMBDA_FUNCTION_MEMORY_SIZE version=$AWS_LAMBDA_FUNCTION_VERSION handler=$_HANDLER tz=$TZ region=$AWS_REGION/$AWS_DEFAULT_REGION"
echo "group=$AWS_LAMBDA_LOG_GROUP_NAME stream=$AWS_LAMBDA_LOG_STREAM_NAME"
echo "root=$LAMBDA_TASK_ROOT cwd=$(pwd) extra=$EXTRA home=${HOME-unset}"
echo "to stderr" >&2
exit 3"#,
    );
    let mut function = spawn(&api, &path, &[("EXTRA", "yes"), ("TZ", ":Europe/Paris")]);
    let status = function.wait_for_exit(WAIT).expect("the script exits");
    assert_eq!(status.code(), Some(3));
    let stdout = function.stdout();
    let dir = path.parent().unwrap().canonicalize().unwrap();
    for expected in [
        format!("api={} ", api.addr()),
        "name=portico-e2e mem=128 version=$LATEST handler=bootstrap tz=:Europe/Paris".to_owned(),
        "region=us-east-1/us-east-1".to_owned(),
        "group=/aws/lambda/portico-e2e stream=".to_owned(),
        format!("root={0} cwd={0} extra=yes home=unset", dir.display()),
    ] {
        assert!(
            stdout.contains(&expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(stdout.contains("/[$LATEST]"), "{stdout}");
    assert_eq!(function.stderr(), "to stderr\n");
    assert!(function.output().contains("to stderr"));
    assert!(!function.is_running());
}

#[test]
fn invoke_fails_fast_when_the_function_exits() {
    let api = RuntimeApi::start().unwrap();
    let function = spawn(&api, &script("echo 'cannot start' >&2\nexit 7"), &[]);
    let started = Instant::now();
    match api.invoke(b"{}", Duration::from_secs(60)) {
        Err(InvokeError::FunctionExited {
            status,
            output_tail,
        }) => {
            assert!(status.contains('7'), "{status}");
            assert!(output_tail.contains("cannot start"), "{output_tail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    drop(function);
}

#[test]
fn peak_rss_is_read_before_the_kill_and_drop_kills() {
    let api = RuntimeApi::start().unwrap();
    let mut function = spawn(&api, &script("echo ready\nexec sleep 600"), &[]);
    assert!(
        function.wait_for_output("ready", WAIT),
        "{}",
        function.output()
    );
    assert!(function.is_running());
    // "ready" comes before the `exec`: wait for `sleep` itself, asleep in its system call,
    // whose peak then stays put. Read earlier, it would be the shell's, or that of a `sleep`
    // whose loader is still mapping libraries (its name changes at the exec, before that).
    let comm = format!("/proc/{}/comm", function.pid());
    let status = format!("/proc/{}/status", function.pid());
    let exec_deadline = Instant::now() + WAIT;
    while std::fs::read_to_string(&comm).unwrap_or_default().trim() != "sleep"
        || !std::fs::read_to_string(&status)
            .unwrap_or_default()
            .contains("State:\tS")
    {
        assert!(
            Instant::now() < exec_deadline,
            "the script never slept in sleep"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let rss = function.peak_rss_kib().expect("VmHWM of a running process");
    assert!(rss > 0);
    function.kill();
    assert!(!function.is_running());
    assert!(function.exit_status().is_some_and(|s| !s.success()));
    assert_eq!(function.peak_rss_kib(), Some(rss));

    let function = spawn(&api, &script("echo ready\nexec sleep 600"), &[]);
    assert!(function.wait_for_output("ready", WAIT));
    let pid = function.pid();
    drop(function);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        !status.contains("State:\tS"),
        "process {pid} still alive after drop:\n{status}"
    );
}

#[test]
fn spawning_a_missing_binary_names_it() {
    let api = RuntimeApi::start().unwrap();
    let err = api
        .spawn_function(Path::new("/nonexistent/bootstrap"), &[])
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/bootstrap"), "{err}");
}
