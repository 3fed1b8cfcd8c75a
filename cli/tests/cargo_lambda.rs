//! Runtime API conformance with `cargo lambda watch`: the hello example and the approval
//! binary run under cargo-lambda's Lambda emulator (which builds and starts the function
//! itself, hands it `AWS_LAMBDA_RUNTIME_API` with a path prefix — `127.0.0.1:PORT/.rt/<bin>`
//! — and sends Function URL events) and under `portico local` (API Gateway REST events from
//! Portico's own Runtime API host). The same requests get the same answers: status,
//! `Content-Type` and body.
//!
//! cargo-lambda comes from PyPI (`python3 -m pip install cargo-lambda==1.9.2`; `scripts/test`
//! installs it). Without it these tests fail: they are not skipped.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{AppDir, Req, Res, Server, approval_binary, apps, poll, workspace};

/// The cargo-lambda release the tests (and `scripts/test`, `scripts/bench-local.sh`) use.
const CARGO_LAMBDA_VERSION: &str = "1.9.2";

/// cargo-lambda starts the function (`cargo run`, already built) on the first request. Only
/// reached when something is wrong.
const FIRST_ANSWER: Duration = Duration::from_secs(600);

/// A key for the approval example's sealed links (32 bytes, base64): any valid one will do,
/// the requests below carry links that are not sealed with it.
const LINK_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// `cargo lambda watch` serving `--bin` of `--package`, as its own process group.
struct CargoLambda {
    child: Child,
    addr: SocketAddr,
    /// The Function URL path prefix: `/lambda-url/<bin>`.
    prefix: String,
    output: Arc<Mutex<String>>,
}

impl CargoLambda {
    fn start(package: &str, bin: &str, env: &[(&str, &str)]) -> Self {
        require_cargo_lambda();
        // cargo-lambda runs `cargo run -p PACKAGE --bin BIN`; the same build here first (the
        // same features, so the same artifacts) keeps the compile out of its request timeout.
        common::build(&["--package", package, "--bin", bin]);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new("cargo");
        command
            .current_dir(workspace())
            .args(["lambda", "watch", "--ignore-changes", "--color", "never"])
            .args(["-A", "127.0.0.1", "-P", &port.to_string()])
            .args(["-p", package, "--bin", bin]);
        for (name, value) in env {
            command.arg("--env-var").arg(format!("{name}={value}"));
        }
        let output = Arc::new(Mutex::new(String::new()));
        let child = common::spawn_collected(command.process_group(0), &output, &output);
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            prefix: format!("/lambda-url/{bin}"),
            output,
        };
        server.wait_for_first_answer();
        server
    }

    /// Waits until the function answers at all (cargo-lambda builds it on the first
    /// request, which it may time out while the build runs).
    fn wait_for_first_answer(&mut self) {
        let req = Req::new(self.addr, "GET", &format!("{}/", self.prefix));
        let output = Arc::clone(&self.output);
        let answered = || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "cargo lambda watch exited with {status}:\n{}",
                    self.output()
                );
            }
            let res = common::exchange(self.addr, &req.bytes(), Duration::from_secs(120));
            // Anything but cargo-lambda's own "no function answered yet" errors.
            res.ok().filter(|res| res.status < 500).map(drop)
        };
        poll(FIRST_ANSWER, Duration::from_millis(200), answered, || {
            format!(
                "the function under cargo lambda watch did not answer within {FIRST_ANSWER:?}:\n{}",
                output.lock().unwrap_or_else(|e| e.into_inner())
            )
        });
    }

    fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for CargoLambda {
    fn drop(&mut self) {
        // cargo-lambda runs `cargo run`, whose function process may leave the group: stop
        // every descendant, then the group.
        let mut tree = descendants(self.child.id());
        tree.push(self.child.id());
        for pid in &tree {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && tree.iter().any(|&p| common::pid_alive(p)) {
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        for pid in tree.iter().filter(|&&p| common::pid_alive(p)) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.wait();
    }
}

/// Every live descendant of `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut todo = vec![pid];
    while let Some(parent) = todo.pop() {
        for (child, _) in common::children_of(parent) {
            if !found.contains(&child) {
                found.push(child);
                todo.push(child);
            }
        }
    }
    found
}

/// Fails (never skips) when cargo-lambda is missing or another release.
fn require_cargo_lambda() {
    let version = Command::new("cargo")
        .args(["lambda", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        version.contains(CARGO_LAMBDA_VERSION),
        "cargo-lambda {CARGO_LAMBDA_VERSION} is required by these tests (found {version:?}): \
         python3 -m pip install cargo-lambda=={CARGO_LAMBDA_VERSION} (scripts/test installs it)"
    );
}

/// One request of a conformance run.
struct Call {
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
}

const fn call(method: &'static str, path: &'static str) -> Call {
    Call {
        method,
        path,
        headers: &[],
        body: "",
    }
}

impl Call {
    fn send(&self, addr: SocketAddr, prefix: &str) -> Res {
        let mut req = Req::new(addr, self.method, &format!("{prefix}{}", self.path));
        for (name, value) in self.headers {
            req = req.header(name, value);
        }
        if !self.body.is_empty() {
            req = req.body(self.body);
        }
        req.send()
    }
}

/// What both sides must agree on.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: String,
}

impl From<Res> for Answer {
    fn from(res: Res) -> Self {
        Self {
            status: res.status,
            content_type: res.header("content-type").map(str::to_owned),
            body: res.text(),
        }
    }
}

/// Sends every call to both and compares the answers; returns them for further checks.
fn same_answers(cargo: &CargoLambda, portico: &Server, calls: &[Call]) -> Vec<Answer> {
    let mut answers = Vec::new();
    for call in calls {
        let theirs = Answer::from(call.send(cargo.addr, &cargo.prefix));
        let ours = Answer::from(call.send(portico.addr, &portico.prefix));
        assert_eq!(
            theirs,
            ours,
            "{} {}: cargo lambda watch (left) and portico local (right) disagree\n\
             --- cargo lambda watch ---\n{}\n--- portico local ---\n{}",
            call.method,
            call.path,
            cargo.output(),
            portico.stderr()
        );
        answers.push(ours);
    }
    answers
}

#[test]
fn the_hello_example_answers_the_same_under_cargo_lambda_watch_and_portico_local() {
    let cargo = CargoLambda::start("hello", "bootstrap", &[]);
    let dir = AppDir::new(
        "cargo-lambda-hello",
        &workspace().join("examples/hello/portico.toml"),
    );
    let portico = Server::start(&dir.path, &apps().hello, &["--no-schedules"]);
    let answers = same_answers(
        &cargo,
        &portico,
        &[
            call("GET", "/"),
            call("GET", "/users/42"),
            call("GET", "/users/a%20b"),
            Call {
                method: "POST",
                path: "/users",
                headers: &[("Content-Type", "application/json")],
                body: r#"{"name":"Ada","email":"ada@example.com"}"#,
            },
            Call {
                method: "POST",
                path: "/users",
                headers: &[("Content-Type", "application/json")],
                body: r#"{"name":"Ada"}"#,
            },
            call("GET", "/respond/succeed?taskToken=tok-1"),
            call("GET", "/respond/succeed"),
            call("GET", "/nowhere"),
            call("DELETE", "/users/42"),
        ],
    );
    // The answers are the app's, not two identical failures.
    assert_eq!(answers[0].status, 200);
    assert_eq!(answers[0].body, r#"{"hello":"world"}"#);
    assert_eq!(answers[1].body, r#"{"id":"42"}"#);
    assert_eq!(answers[3].status, 201);
    assert_eq!(answers[4].status, 400);
    assert_eq!(answers[5].body, "approved tok-1");
    assert_eq!(answers[7].status, 404);
    assert_eq!(answers[8].status, 405);
    // The function instance cargo-lambda started is the one that answered: it reached the
    // Runtime API through the path prefix and never exited.
    let output = cargo.output();
    assert!(!output.contains("invalid port"), "{output}");
    assert!(
        !output.contains("portico: the Lambda runtime stopped"),
        "{output}"
    );
}

#[test]
fn the_approval_binary_answers_the_same_under_cargo_lambda_watch_and_portico_local() {
    let env = [
        ("APPROVAL_DESIGN", "activity"),
        ("APPROVAL_SENDER", "hr@example.com"),
        ("APPROVAL_LINK_KEY", LINK_KEY),
    ];
    let cargo = CargoLambda::start("approval", "approval", &env);
    let source = workspace().join("examples/approval");
    let dir = AppDir::new("cargo-lambda-approval", &source.join("portico.toml"));
    let machines = dir.path.join("statemachines");
    std::fs::create_dir_all(&machines).expect("create statemachines/");
    for name in ["activity.asl.json", "callback.asl.json"] {
        std::fs::copy(source.join("statemachines").join(name), machines.join(name))
            .expect("copy a state machine");
    }
    let portico = Server::start(&dir.path, approval_binary(), &["--no-schedules"]);
    let answers = same_answers(
        &cargo,
        &portico,
        &[
            call("GET", "/respond/succeed"),
            call("GET", "/respond/fail?token=not-a-sealed-link"),
            Call {
                method: "POST",
                path: "/respond/succeed",
                headers: &[("Content-Type", "application/x-www-form-urlencoded")],
                body: "token=not-a-sealed-link",
            },
            call("GET", "/no/such/page"),
            call("PUT", "/respond/fail"),
        ],
    );
    assert_eq!(
        answers[0].content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(answers[0].status >= 400, "{answers:?}");
    assert_eq!(answers[3].status, 404);
    assert_eq!(answers[4].status, 405);
}
