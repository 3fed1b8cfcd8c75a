//! The services endpoint (`--services-port`) of a real `portico local` as an attacker on the
//! same machine meets it: a web page in the user's browser (cross-origin requests, DNS
//! rebinding), a client holding sockets open or sending huge bodies, another user reading
//! the state files.

mod common;

use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use common::{AppDir, Req, Server, apps, exchange, exchange_with, fixture};
use serde_json::json;

const INVOKE: &str = "/2015-03-31/functions/api/invocations";

fn ses_server(test: &str) -> (AppDir, Server) {
    let dir = AppDir::new(test, &fixture("ses.toml"));
    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    (dir, server)
}

fn mail_request(to: &str) -> Vec<u8> {
    json!({
        "FromEmailAddress": "hr@example.com",
        "Destination": {"ToAddresses": [to]},
        "Content": {"Simple": {"Subject": {"Data": "Approve?"}, "Body": {"Text": {"Data": "http://x/approve"}}}},
    })
    .to_string()
    .into_bytes()
}

fn send_mail(server: &Server, to: &str) -> u16 {
    Req::new(server.services, "POST", "/v2/email/outbound-emails")
        .header("Content-Type", "application/json")
        .body(mail_request(to))
        .send()
        .status
}

#[test]
fn web_pages_cannot_drive_the_aws_apis_or_read_the_outbox() {
    let (_dir, server) = ses_server("services-browser");
    assert_eq!(send_mail(&server, "boss@example.com"), 200);
    let port = server.services.port();

    // A cross-site form or `fetch(…, {mode: "no-cors"})`: a simple request, no preflight.
    let forged = json!({"httpMethod": "GET", "path": "/echo/x", "resource": "/{proxy+}"});
    let res = Req::new(server.services, "POST", INVOKE)
        .header("Content-Type", "text/plain")
        .header("Origin", "http://evil.example")
        .body(forged.to_string())
        .send();
    assert_eq!(res.status, 403, "{}", res.text());
    assert_eq!(
        res.header("x-amzn-errortype"),
        Some("AccessDeniedException")
    );
    // A sandboxed frame's `Origin: null`, and a browser that sends only Sec-Fetch-Site.
    for (name, value) in [("Origin", "null"), ("Sec-Fetch-Site", "cross-site")] {
        let res = Req::new(server.services, "POST", INVOKE)
            .header("Content-Type", "text/plain")
            .header(name, value)
            .body("{}")
            .send();
        assert_eq!(res.status, 403, "{name}: {value}");
    }
    // Step Functions and SES likewise.
    let res = Req::new(server.services, "POST", "/")
        .header("X-Amz-Target", "AWSStepFunctions.ListStateMachines")
        .header("Content-Type", "application/x-amz-json-1.0")
        .header("Origin", "http://evil.example")
        .body("{}")
        .send();
    assert_eq!(res.status, 403);
    let res = Req::new(server.services, "POST", "/v2/email/outbound-emails")
        .header("Content-Type", "text/plain")
        .header("Origin", "http://evil.example")
        .body(mail_request("boss@example.com"))
        .send();
    assert_eq!(res.status, 403);
    // The SDK's request (no Origin) still works.
    let res = Req::new(server.services, "POST", INVOKE)
        .header("Content-Type", "application/json")
        .body(forged.to_string())
        .send();
    assert_eq!(res.status, 200, "{}", res.text());

    // DNS rebinding: evil.example resolves to 127.0.0.1, so the browser sends its name.
    for path in ["/outbox.json", "/outbox", INVOKE] {
        let res = Req::new(server.services, "GET", path)
            .header("Host", &format!("evil.example:{port}"))
            .send();
        assert_eq!(res.status, 403, "{path}: {}", res.text());
        assert!(!res.text().contains("approve"), "{}", res.text());
    }
    let res = Req::new(server.services, "GET", "/outbox.json")
        .header("Host", &format!("localhost:{port}"))
        .send();
    assert_eq!(res.status, 200);
    assert!(res.text().contains("http://x/approve"), "{}", res.text());
    // A cross-origin read of the outbox; a same-origin one is fine.
    let res = Req::new(server.services, "GET", "/outbox.json")
        .header("Origin", "http://evil.example")
        .send();
    assert_eq!(res.status, 403);
    let res = Req::new(server.services, "GET", "/outbox.json")
        .header("Origin", &format!("http://{}", server.services))
        .send();
    assert_eq!(res.status, 200);
}

#[test]
fn the_services_port_has_the_api_ports_limits() {
    let (_dir, server) = ses_server("services-limits");

    // A SendEmail announcing 60 MB is refused on its head, before a byte of body is sent.
    let head = format!(
        "POST /v2/email/outbound-emails HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 60000000\r\n\r\n",
        server.services
    );
    let res = exchange(server.services, head.as_bytes(), Duration::from_secs(20))
        .expect("an answer without the body");
    assert_eq!(res.status, 413, "{}", res.text());
    assert_eq!(res.header("x-amzn-errortype"), Some("MessageRejected"));
    assert!(res.text().contains("Message length"), "{}", res.text());
    // Chunked, so no length up front: cut off at the limit, still the SES error.
    let res = exchange_with(server.services, Duration::from_secs(60), {
        let host = server.services;
        move |stream| {
            stream.write_all(
                format!(
                    "POST /v2/email/outbound-emails HTTP/1.1\r\nHost: {host}\r\n\
                     Transfer-Encoding: chunked\r\n\r\n"
                )
                .as_bytes(),
            )?;
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..12 {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                stream.write_all(&chunk)?;
                stream.write_all(b"\r\n")?;
            }
            stream.write_all(b"0\r\n\r\n")
        }
    })
    .expect("an answer");
    assert_eq!(res.status, 413);
    assert_eq!(res.header("x-amzn-errortype"), Some("MessageRejected"));

    // Idle sockets beyond the cap wait in the backlog instead of taking file descriptors.
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..400 {
        idle.push(TcpStream::connect(server.services).unwrap());
    }
    // The accepted ones are served in order; give the loop time to take what it may.
    let res = Req::new(server.addr, "GET", &format!("{}/echo/x", server.prefix)).send();
    assert_eq!(res.status, 200, "the API answers");
    std::thread::sleep(Duration::from_millis(500));
    let sockets = open_sockets(server.pid);
    assert!(
        sockets < 256 + 40,
        "{sockets} sockets open for 400 idle clients: the services port has no connection cap"
    );
    drop(idle);
    assert_eq!(send_mail(&server, "boss@example.com"), 200);
}

/// How many sockets `pid` has open.
fn open_sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

#[cfg(unix)]
#[test]
fn state_files_are_owner_only_and_old_ones_are_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let dir = AppDir::new("services-modes", &fixture("ses.toml"));
    let local = dir.local_dir();
    // What an older version left: a readable folder, database and outbox.
    std::fs::create_dir_all(local.join("outbox")).unwrap();
    let old_mail = local.join("outbox/0000000000001-old-000000.json");
    std::fs::write(&old_mail, b"{}").unwrap();
    std::fs::write(local.join("state.db"), b"").unwrap();
    for path in [
        &local,
        &local.join("outbox"),
        &old_mail,
        &local.join("state.db"),
    ] {
        let open = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(open)).unwrap();
    }

    let mut server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    assert_eq!(send_mail(&server, "boss@example.com"), 200);
    assert_eq!(mode(&local), 0o700);
    assert_eq!(mode(&local.join("outbox")), 0o700);
    assert_eq!(mode(&old_mail), 0o600);
    let mut checked = 0;
    for entry in std::fs::read_dir(&local).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("state.db") {
            assert_eq!(mode(&entry.path()), 0o600, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 2, "state.db and its -wal/-shm");
    for entry in std::fs::read_dir(local.join("outbox")).unwrap().flatten() {
        assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
    }
    server.stop_with("TERM");

    // A new folder is created owner-only from the start.
    let fresh = AppDir::new("services-modes-fresh", &fixture("ses.toml"));
    let mut server = Server::start(&fresh.path, &apps().fixture, &["--no-schedules"]);
    assert_eq!(mode(&fresh.local_dir()), 0o700);
    assert_eq!(mode(&fresh.local_dir().join("state.db")), 0o600);
    server.stop_with("TERM");
}
