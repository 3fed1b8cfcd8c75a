//! End to end: the real app binary under `portico local` (the CLI's local cloud: API
//! Gateway emulator, Lambda Runtime API host, scheduler), called over real HTTP on loopback.
//!
//! The `portico` binary is built by a nested `cargo build` (cargo releases its build lock
//! before running tests); the server listens on free ports (`--port 0 --services-port 0`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

const BOOTSTRAP: &str = env!("CARGO_BIN_EXE_axum-app");
/// Only reached when something is wrong (debug builds, a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);
const IO_TIMEOUT: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the example is two levels under the workspace")
        .to_owned()
}

/// Builds the CLI and returns its executable.
fn portico_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--package", "portico-cli", "--bin", "portico"])
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build -p portico-cli failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|m| m["target"]["name"] == "portico" && m["executable"].is_string())
        .map(|m| PathBuf::from(m["executable"].as_str().unwrap()))
        .expect("cargo reported the portico executable")
}

/// `portico local` for the example, in a scratch app directory holding its `portico.toml`.
struct Local {
    child: Child,
    addr: SocketAddr,
    /// The stage prefix of the API URL (`/dev`).
    prefix: String,
    api_url: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    dir: PathBuf,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

impl Local {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("portico-axum-app-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("portico.toml"),
            dir.join("portico.toml"),
        )
        .unwrap();
        let mut child = Command::new(portico_binary())
            .arg("local")
            .arg("--app")
            .arg(&dir)
            .arg("--binary")
            .arg(BOOTSTRAP)
            .args(["--port", "0", "--services-port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start portico local");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), Arc::clone(&stdout));
        collect(child.stderr.take().unwrap(), Arc::clone(&stderr));
        let deadline = Instant::now() + START_TIMEOUT;
        let api_url = loop {
            let out = stdout.lock().unwrap().clone();
            if let Some(url) = out.lines().find_map(|l| l.strip_prefix("API: ")) {
                break url.trim().to_owned();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "portico local exited with {status}\nstdout:\n{out}\nstderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no banner\nstdout:\n{out}\nstderr:\n{}",
                stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest = api_url.strip_prefix("http://").expect("an http:// API URL");
        let (authority, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        Self {
            child,
            addr: authority.parse().expect("the API URL's address"),
            prefix: prefix.to_owned(),
            api_url,
            stdout,
            stderr,
            dir,
        }
    }

    /// One HTTP/1.1 request over a fresh connection to `{stage}{target}`.
    fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Res {
        let mut stream = TcpStream::connect(self.addr).expect("connect to portico local");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut head = format!(
            "{method} {}{target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.prefix,
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read the response");
        Res::parse(&raw).unwrap_or_else(|| {
            panic!(
                "not an HTTP response: {:?}\nstderr:\n{}",
                String::from_utf8_lossy(&raw),
                self.stderr.lock().unwrap()
            )
        })
    }

    fn get(&self, target: &str) -> Res {
        self.send("GET", target, &[], b"")
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // SIGTERM (a graceful stop that ends the function processes too), then wait.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Res {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Res {
    fn parse(raw: &[u8]) -> Option<Self> {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[end + 4..].to_vec();
        if let Some(len) = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
        {
            body.truncate(len);
        }
        Some(Self {
            status,
            headers,
            body,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

#[test]
fn the_axum_app_runs_in_the_local_cloud() {
    let local = Local::start();
    let banner = local.stdout.lock().unwrap().clone();
    assert!(
        banner.contains(&format!("ANY     {}/{{proxy+}}", local.api_url)),
        "the banner lists the service's proxy route:\n{banner}"
    );
    assert!(
        banner.contains("schedule tidy rate(1 hour)"),
        "the banner lists the schedule:\n{banner}"
    );

    // Nested routers, extractors, state and a tower-http layer, under the stage.
    let res = local.get("/");
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"message": "hello from axum"}));
    assert_eq!(res.header("x-served-by"), Some("axum-app"));
    let res = local.get("/users/7?verbose=true");
    assert_eq!(
        res.json(),
        json!({"id": 7, "name": "user 7", "verbose": true})
    );
    let res = local.send(
        "POST",
        "/users",
        &[("Content-Type", "application/json")],
        br#"{"name":"Ada"}"#,
    );
    assert_eq!((res.status, res.json()), (201, json!({"name": "Ada"})));

    // The router sees the request as sent, without the stage.
    let (method, target, header, body) = common::ECHO_PATCH;
    let headers = [header, ("Content-Type", "text/plain")];
    let res = local.send(method, target, &headers, body.as_bytes());
    assert_eq!(res.status, 200);
    common::assert_echoed_patch(&res.json());

    // Binary in, binary out: a REST API returns bytes when the client's first `Accept` type
    // is one of its binary media types (`*/*` here; curl sends `Accept: */*`).
    let bytes: Vec<u8> = (0..=255u8).collect();
    let res = local.send(
        "PUT",
        "/files/blob.bin",
        &[
            ("Content-Type", "application/octet-stream"),
            ("Accept", "*/*"),
        ],
        &bytes,
    );
    assert_eq!(res.status, 200);
    let mut reversed = bytes.clone();
    reversed.reverse();
    assert_eq!(res.body, reversed);
    assert_eq!(res.header("x-file-name"), Some("blob.bin"));

    // The compression layer's gzip reaches the client as bytes.
    let res = local.send(
        "GET",
        "/echo/zipped",
        &[("Accept", "*/*"), ("Accept-Encoding", "gzip")],
        b"",
    );
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(res.body.as_slice())
        .read_to_string(&mut text)
        .expect("a gzip body");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["path"],
        "/echo/zipped"
    );

    // A panic is Portico's 500 (not the gateway's 502), and the next request is served.
    let res = local.get("/boom");
    common::assert_panic_answer(res.status, &res.json());
    assert_eq!(local.get("/users/1").json(), json!({"id": 1}));

    // Links carry the stage the router never saw.
    assert_eq!(
        local.get("/links/self").json(),
        json!({"self": format!("{}/links/self", local.api_url)})
    );
    drop(local);
}
