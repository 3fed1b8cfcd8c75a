//! Harness of the end-to-end tests of `portico local`: the app binaries, a temporary app
//! directory per test, the `portico local` server as a real child process, a raw HTTP/1.1
//! client over loopback (it keeps header case and repeated headers, and can misbehave on
//! purpose), and `/proc` scans for the server's child processes.
//!
//! Every wait polls with a deadline; nothing sleeps as a means of synchronisation.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use portico_e2e::moto::{self, Moto};
use portico_spec::apigw::{first_header, header_values};
use serde_json::Value;

/// The `portico` binary under test.
pub const PORTICO: &str = env!("CARGO_BIN_EXE_portico");

/// How long a server may take to print its banner (it reads the app's manifest first).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped server may take to exit (2 s grace for its children, a few for drains).
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli crate is in the workspace")
        .to_owned()
}

/// A file of `cli/tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// `python3 fixtures/<script>` with boto3 seeing only what the script passes it: no profile,
/// no shared config or credentials, no endpoint from outside, no metadata service.
pub fn boto3_script(script: &str) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(fixture(script))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SESV2")
        .env_remove("AWS_ENDPOINT_URL_SFN")
        .env_remove("AWS_PROFILE");
    command
}

/// The app binaries the tests run, built once per test binary.
pub struct Apps {
    /// `tests/src/bin/fixture_app.rs`.
    pub fixture: PathBuf,
    /// `examples/hello`'s `bootstrap`.
    pub hello: PathBuf,
    /// `tests/src/bin/events_app.rs`: an `#[on_sqs_message]` handler of queue `jobs`.
    pub events: PathBuf,
}

/// Builds the fixture app and the hello example (once), and copies them to this test run's
/// directory, so that a build elsewhere in the workspace cannot change them mid-run.
pub fn apps() -> &'static Apps {
    static APPS: OnceLock<Apps> = OnceLock::new();
    APPS.get_or_init(|| {
        let built = build(&[
            "--package",
            "portico-e2e",
            "--bin",
            "fixture_app",
            "--bin",
            "events_app",
            "--package",
            "hello",
            "--bin",
            "bootstrap",
        ]);
        Apps {
            fixture: copy_built(&built, "fixture_app", "fixture_app"),
            hello: copy_built(&built, "bootstrap", "hello"),
            events: copy_built(&built, "events_app", "events_app"),
        }
    })
}

/// The approval example's binary, built once per test binary and copied like [`apps`]'.
pub fn approval_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let built = build(&["--package", "approval", "--bin", "approval"]);
        copy_built(&built, "approval", "approval")
    })
}

/// `cargo build` with `args`; the executables it reported, by target name.
pub fn build(args: &[&str]) -> std::collections::HashMap<String, PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // Cargo releases its build-directory lock before running tests, so a nested build in
    // the same target directory does not wait for the outer `cargo test`.
    let output = Command::new(cargo)
        .current_dir(workspace())
        .arg("build")
        .args(args)
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build {} failed: the tests need it",
        args.join(" ")
    );
    let mut built = std::collections::HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let (Some(name), Some(exe)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            built.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    built
}

/// Copies the built `target` to this test run's `bin/<name>`.
fn copy_built(
    built: &std::collections::HashMap<String, PathBuf>,
    target: &str,
    name: &str,
) -> PathBuf {
    let from = built
        .get(target)
        .unwrap_or_else(|| panic!("cargo built no `{target}`: {built:?}"));
    let dir = run_dir().join("bin");
    std::fs::create_dir_all(&dir).expect("create the binaries directory");
    let to = dir.join(name);
    std::fs::copy(from, &to).expect("copy a test app");
    to
}

/// This test process's scratch directory; those of test processes that are gone are removed.
fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::temp_dir();
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("portico-cli-e2e-"))
                    .and_then(|p| p.parse::<u32>().ok())
                else {
                    continue;
                };
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("portico-cli-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the test run directory");
        dir
    })
}

/// A fresh app directory for one test: removed when dropped.
pub struct AppDir {
    pub path: PathBuf,
}

impl AppDir {
    /// A directory holding a copy of `config` as its `portico.toml`.
    pub fn new(test: &str, config: &Path) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = run_dir().join(format!("{test}-{n}"));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the app directory");
        std::fs::copy(config, path.join("portico.toml")).expect("copy the config");
        Self { path }
    }

    /// `.portico/local/` of the app.
    pub fn local_dir(&self) -> PathBuf {
        self.path.join(".portico").join("local")
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        if std::env::var_os("PORTICO_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    poll(timeout, Duration::from_millis(25), check, || {
        format!("timed out after {timeout:?} waiting for {what}")
    })
}

/// What `check` finds, asked every `every` until it finds something; after `timeout`, a panic
/// saying `failure()`.
pub fn poll<T>(
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
    failure: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("{}", failure());
        }
        std::thread::sleep(every);
    }
}

/// A running `portico local`.
pub struct Server {
    child: Child,
    /// The server's process id.
    pub pid: u32,
    /// The gateway's address.
    pub addr: SocketAddr,
    /// The gateway's base URL, as the banner prints it (with the stage unless
    /// `--no-stage-prefix`).
    pub api_url: String,
    /// The path prefix of the API: `/dev`, or empty.
    pub prefix: String,
    /// The services endpoint's address.
    pub services: SocketAddr,
    /// The app directory.
    pub app_dir: PathBuf,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// Every child process seen so far: `(pid, start time)`.
    seen_children: Vec<(u32, u64)>,
}

/// `portico local --app DIR --binary BINARY --port 0 --services-port 0`, on free ports.
pub fn local_command(app_dir: &Path, binary: &Path) -> Command {
    let mut command = Command::new(PORTICO);
    command
        .arg("local")
        .arg("--app")
        .arg(app_dir)
        .arg("--binary")
        .arg(binary)
        .args(["--port", "0", "--services-port", "0"]);
    command
}

impl Server {
    /// Starts `portico local --app DIR --binary BINARY --port 0 --services-port 0 ARGS…` and
    /// waits for its banner.
    pub fn start(app_dir: &Path, binary: &Path, args: &[&str]) -> Self {
        Self::start_with_env(app_dir, binary, args, &[])
    }

    /// [`Server::start`] with variables `env` added to `portico local`'s environment.
    pub fn start_with_env(
        app_dir: &Path,
        binary: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = local_command(app_dir, binary);
        command
            .args(args)
            .env_remove("NO_COLOR")
            .envs(env.iter().copied());
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let child = spawn_collected(&mut command, &stdout, &stderr);
        let pid = child.id();
        let mut server = Self {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_url: String::new(),
            prefix: String::new(),
            services: SocketAddr::from(([127, 0, 0, 1], 0)),
            app_dir: app_dir.to_owned(),
            stdout,
            stderr,
            seen_children: Vec::new(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let (api, services) = loop {
            let out = server.stdout();
            let line = |prefix: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(prefix))
                    .map(str::to_owned)
            };
            if let (Some(api), Some(services)) = (
                line("API: "),
                line("AWS services (Lambda, Step Functions, SES v2, SQS, DynamoDB, S3): "),
            ) {
                break (api, services);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "portico local exited with {status} before its banner\nstdout:\n{}\nstderr:\n{}",
                    server.stdout(),
                    server.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no banner within {START_TIMEOUT:?}\nstdout:\n{out}\nstderr:\n{}",
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest = api.strip_prefix("http://").expect("an http:// API URL");
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        server.addr = authority.parse().expect("the API URL's address");
        server.prefix = prefix.to_owned();
        server.api_url = api.clone();
        server.services = services
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .expect("the services URL's address");
        server
    }

    /// Everything the server printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Everything the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until stdout has a line containing every one of `needles`; returns that line.
    pub fn wait_for_line(&self, needles: &[&str], timeout: Duration) -> String {
        let found = || {
            let out = self.stdout();
            let line = out
                .lines()
                .find(|line| needles.iter().all(|n| line.contains(n)));
            line.map(str::to_owned)
        };
        poll(timeout, Duration::from_millis(25), found, || {
            format!(
                "no line with {needles:?} within {timeout:?} in the output of portico local:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }

    /// A request to the API: `path` is below the API's base URL (the stage is added).
    pub fn request(&self, method: &str, path: &str) -> Req {
        Req::new(self.addr, method, &format!("{}{path}", self.prefix))
    }

    /// `GET path` below the API's base URL.
    pub fn get(&self, path: &str) -> Res {
        self.request("GET", path).send()
    }

    /// The server's child processes now (and remembered for [`Server::stop`]'s checks).
    pub fn children(&mut self) -> Vec<u32> {
        let now = children_of(self.pid);
        for child in &now {
            if !self.seen_children.iter().any(|(pid, _)| pid == &child.0) {
                self.seen_children.push(*child);
            }
        }
        now.into_iter().map(|(pid, _)| pid).collect()
    }

    /// Every child process seen by [`Server::children`] so far.
    pub fn seen_children(&self) -> Vec<u32> {
        self.seen_children.iter().map(|(pid, _)| *pid).collect()
    }

    /// Whether the server is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the server to exit by itself (no signal) within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        wait_for("portico local to exit", timeout, || {
            self.child.try_wait().expect("wait for portico local")
        })
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`) to the server.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid, signal);
    }

    /// Sends `signal` and waits for the server to exit.
    pub fn stop_with(&mut self, signal: &str) -> ExitStatus {
        self.children();
        self.signal(signal);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for portico local") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "portico local did not exit within {STOP_TIMEOUT:?} of SIG{signal}\nstdout:\n{}",
                self.stdout()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The children seen while running that are still alive, and every process running a
    /// copy of the app from the server's private binary directory.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left: Vec<String> = self
            .seen_children
            .iter()
            .filter(|child| alive(**child))
            .map(|(pid, _)| format!("child {pid}: {}", describe(*pid)))
            .collect();
        let bin_dir = std::env::temp_dir().join(format!("portico-local-{}-", self.pid));
        let bin_dir = bin_dir.to_string_lossy().into_owned();
        for (pid, _) in all_processes() {
            if let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) {
                if exe.to_string_lossy().starts_with(&bin_dir) && proc_state(pid) != Some('Z') {
                    left.push(format!("process {pid} runs {}", exe.display()));
                }
            }
        }
        left
    }

    /// Waits (up to `timeout`) until no child of the server is left; panics naming them.
    pub fn assert_no_leftovers(&self, timeout: Duration) {
        let none_left = || self.leftovers().is_empty().then_some(());
        poll(timeout, Duration::from_millis(25), none_left, || {
            format!(
                "processes outlived portico local: {:?}\nstdout:\n{}",
                self.leftovers(),
                self.stdout()
            )
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            send_signal(self.pid, "TERM");
            let deadline = Instant::now() + STOP_TIMEOUT;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- portico local (pid {}) stdout:\n{}\n--- stderr:\n{}",
                self.pid,
                self.stdout(),
                self.stderr()
            );
        }
    }
}

/// Spawns `command` with stdin closed and its stdout and stderr collected, line by line as
/// they come, into `stdout` and `stderr` (which may be one buffer).
pub fn spawn_collected(
    command: &mut Command,
    stdout: &Arc<Mutex<String>>,
    stderr: &Arc<Mutex<String>>,
) -> Child {
    let mut child = spawn_piped(command, Stdio::null());
    collect(child.stdout.take().expect("stdout"), Arc::clone(stdout));
    collect(child.stderr.take().expect("stderr"), Arc::clone(stderr));
    child
}

/// Spawns `command` with `stdin`, and its stdout and stderr piped.
fn spawn_piped(command: &mut Command, stdin: Stdio) -> Child {
    command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"))
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            into.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_str(&String::from_utf8_lossy(&line));
            line.clear();
        }
    });
}

/// Sends `signal` (`TERM`, `INT`, `KILL`, …) to `pid` (nix's safe `kill(2)`).
pub fn send_signal(pid: u32, signal: &str) {
    let signal: nix::sys::signal::Signal = format!("SIG{signal}")
        .parse()
        .unwrap_or_else(|_| panic!("no signal SIG{signal}"));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid"));
    nix::sys::signal::kill(pid, signal).unwrap_or_else(|e| panic!("kill -{signal} {pid}: {e}"));
}

/// `(pid, start time)` of every process.
fn all_processes() -> Vec<(u32, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?.start_time)))
        .collect()
}

/// The fields of `/proc/<pid>/stat` the tests need.
struct Stat {
    state: char,
    ppid: u32,
    start_time: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        // Field 22 of the whole line; `rest` starts at field 3.
        start_time: fields.get(19)?.parse().ok()?,
    })
}

fn proc_state(pid: u32) -> Option<char> {
    stat(pid).map(|s| s.state)
}

/// The children of `pid` (zombies excluded): `(pid, start time)`.
pub fn children_of(pid: u32) -> Vec<(u32, u64)> {
    all_processes()
        .into_iter()
        .filter(|(child, _)| stat(*child).is_some_and(|s| s.ppid == pid && s.state != 'Z'))
        .collect()
}

/// Whether the process `(pid, start time)` still runs (a zombie has ended).
fn alive((pid, start_time): (u32, u64)) -> bool {
    stat(pid).is_some_and(|s| s.start_time == start_time && s.state != 'Z')
}

/// Whether `pid` runs (and is not a zombie).
pub fn pid_alive(pid: u32) -> bool {
    stat(pid).is_some_and(|s| s.state != 'Z')
}

fn describe(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

/// A request, written by hand onto a fresh connection.
pub struct Req {
    addr: SocketAddr,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

impl Req {
    /// `method target` to `addr` (`target` as it goes on the request line).
    pub fn new(addr: SocketAddr, method: &str, target: &str) -> Self {
        Self {
            addr,
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }

    /// Adds a header, name spelled as given (repeat it for several values).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body (and `Content-Length`).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The request's bytes: `Host`, the headers, `Content-Length` when there is a body,
    /// `Connection: close`.
    pub fn bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            head.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.body.is_empty() {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Res {
        let bytes = self.bytes();
        let mut res = exchange(self.addr, &bytes, self.timeout)
            .unwrap_or_else(|e| panic!("{} {}: {e}", self.method, self.target));
        if self.method == "HEAD" {
            // The length announced is the GET's; no body follows.
            res.body.clear();
        }
        res
    }
}

/// Writes `bytes` on a new connection to `addr` and reads the response until the server
/// closes the connection.
pub fn exchange(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Result<Res, String> {
    let bytes = bytes.to_vec();
    exchange_with(addr, timeout, move |stream| stream.write_all(&bytes))
}

/// Connects to `addr`, lets `write` send the request from another thread while this one
/// reads the response until the server closes the connection.
///
/// A server that answers before reading everything (413) closes while the rest is still
/// being written; reading at the same time gets its answer before the connection resets.
pub fn exchange_with(
    addr: SocketAddr,
    timeout: Duration,
    write: impl FnOnce(&mut TcpStream) -> std::io::Result<()> + Send + 'static,
) -> Result<Res, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let written = std::thread::spawn(move || write(&mut writer));
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    let written = written
        .join()
        .map_err(|_| "the writer panicked".to_owned())?;
    if raw.is_empty() {
        return Err(format!("no response (write: {written:?}, read: {read:?})"));
    }
    Res::parse(&raw)
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct Res {
    pub status: u16,
    /// Header names as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Res {
    /// Parses a whole HTTP/1.1 response (`Content-Length`, chunked, or until close).
    pub fn parse(raw: &[u8]) -> Result<Self, String> {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("no response head in {:?}", String::from_utf8_lossy(raw)))?;
        let head = String::from_utf8_lossy(&raw[..end]);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
            .collect();
        let rest = &raw[end + 4..];
        let chunked = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        let body = if chunked {
            dechunk(rest)?
        } else {
            match headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
            {
                Some(len) if len <= rest.len() => rest[..len].to_vec(),
                // A HEAD response announces a body it does not send.
                Some(_) if rest.is_empty() => Vec::new(),
                Some(len) => return Err(format!("body of {} bytes, {len} announced", rest.len())),
                None => rest.to_vec(),
            }
        };
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }

    /// Every value of header `name` (any case), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        header_values(&self.headers, name)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size = std::str::from_utf8(&data[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .ok_or("a bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        let start = end + 2;
        let chunk = data.get(start..start + size).ok_or("a truncated chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(start + size + 2..).ok_or("a truncated chunk")?;
    }
}

/// Runs `portico ARGS…` with `stdin` and waits for it (with a deadline).
pub fn portico(args: &[&str], stdin: &[u8]) -> std::process::Output {
    run_with_input(Command::new(PORTICO).args(args), stdin)
}

/// Runs `command` with `stdin` as its input and waits for it (killed after 60 s).
pub fn run_with_input(command: &mut Command, stdin: &[u8]) -> std::process::Output {
    let mut child = spawn_piped(command, Stdio::piped());
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let (done, wait) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match wait.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("wait for the child"),
        Err(_) => {
            send_signal(pid, "KILL");
            panic!("{command:?} did not finish within 60 s");
        }
    };
    let _ = writer.join();
    output
}

// ---------------------------------------------------------------------------------------------
// Deployments against moto (`deploy.rs`, `commands.rs`, `package.rs`): an app directory, the
// `portico deploy` child process, and the AWS SDK pointed at moto to check what exists.

pub const STAGE: &str = "dev";

/// A temporary app directory: a copy of a fixture directory with the app renamed.
pub struct App {
    pub dir: PathBuf,
    pub name: String,
}

impl App {
    /// Gives the deploy fixture's `nightly` function a custom log group,
    /// `/custom/<name>/nightly-jobs`, in its portico.toml; returns the group and the file as
    /// it was.
    pub fn with_custom_nightly_log_group(&self) -> (String, String) {
        let config_path = self.dir.join("portico.toml");
        let full = std::fs::read_to_string(&config_path).unwrap();
        let custom = format!("/custom/{}/nightly-jobs", self.name);
        let with_custom = full.replace(
            "[functions.nightly]\ntimeout = 300\n",
            &format!("[functions.nightly]\ntimeout = 300\nlog_group = \"{custom}\"\n"),
        );
        assert_ne!(with_custom, full, "the fixture has [functions.nightly]");
        std::fs::write(&config_path, &with_custom).unwrap();
        (custom, full)
    }

    pub fn new(fixture: &str, name: &str) -> Self {
        let dir = std::env::temp_dir()
            .join(format!("portico-deploy-tests-{}", std::process::id()))
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let from = workspace().join(fixture);
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            // The config and its definition files; not the crate (the binary is prebuilt).
            if !entry.path().is_file() || entry.file_name() == "Cargo.toml" {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let text = if entry.file_name() == "portico.toml" {
                rename_app(&text, name)
            } else {
                text
            };
            std::fs::write(dir.join(entry.file_name()), text).unwrap();
        }
        Self {
            dir,
            name: name.to_owned(),
        }
    }

    pub fn record(&self) -> PathBuf {
        self.dir
            .join(".portico")
            .join("deployed")
            .join(format!("{STAGE}.json"))
    }

    pub fn prefix(&self) -> String {
        format!("{}-{STAGE}", self.name)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        // The process's directory goes with its last app (removing a non-empty one fails).
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

pub fn rename_app(config: &str, name: &str) -> String {
    let mut out = String::new();
    for line in config.lines() {
        if line.starts_with("name = ") && out.trim_end().ends_with("[app]") {
            out.push_str(&format!("name = \"{name}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// What one `portico deploy` did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall_ms: u128,
}

impl Run {
    pub fn json(&self) -> Value {
        assert_eq!(
            self.code,
            Some(0),
            "deploy failed:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

pub fn deploy(moto: &Moto, app: &App, binary: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    deploy_as(moto, app, binary, "json", extra, env)
}

/// `portico deploy` with `--output output` (`text` or `json`).
pub fn deploy_as(
    moto: &Moto,
    app: &App,
    binary: &Path,
    output: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let started = Instant::now();
    let mut cmd = Command::new(PORTICO);
    cmd.args(["deploy", "--stage", STAGE, "--output", output, "--app"])
        .arg(&app.dir)
        .arg("--binary")
        .arg(binary)
        .args(extra)
        .env_remove("PORTICO_FAIL_AFTER_STEP")
        .env_remove("PORTICO_FAIL_MUTATING_CALL");
    for (k, v) in moto::env(&moto.endpoint()) {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run portico deploy");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall_ms: started.elapsed().as_millis(),
    }
}

pub fn mutating(result: &Value) -> Vec<String> {
    result["calls"]["mutating"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

pub fn start_moto() -> Moto {
    Moto::start().unwrap_or_else(|e| panic!("{e}"))
}

/// A deploy test's own moto server, an SDK client of it, and a copy of the app in `dir` (from
/// the workspace root) named `name`.
pub fn stage(dir: &str, name: &str) -> (Moto, Sdk, App) {
    let moto = start_moto();
    let sdk = Sdk::new(&moto);
    (moto, sdk, App::new(dir, name))
}

/// [`stage`] for the fixture app (`cli/tests/fixtures/deploy-fixture`), and its binary.
pub fn fixture_stage(name: &str) -> (Moto, Sdk, App, &'static Path) {
    let (moto, sdk, app) = stage("cli/tests/fixtures/deploy-fixture", name);
    (moto, sdk, app, &apps().fixture)
}

/// The AWS SDK pointed at moto, for checking what a deploy made.
pub struct Sdk {
    pub rt: tokio::runtime::Runtime,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigw: aws_sdk_apigateway::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sfn: aws_sdk_sfn::Client,
    /// The SDK configuration, for the clients one test alone needs.
    pub config: aws_config::SdkConfig,
}

impl Sdk {
    pub fn new(moto: &Moto) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(moto.endpoint())
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_iam::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .load(),
        );
        Self {
            iam: aws_sdk_iam::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            apigw: aws_sdk_apigateway::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            config,
            rt,
        }
    }

    /// What `list` lists (`items` of its output), whose name passes `keep`. (API Gateway
    /// lists one page of up to 500, more than the tests make.)
    fn named<O, T, E: std::fmt::Debug>(
        &self,
        list: impl std::future::Future<Output = Result<O, E>>,
        items: impl FnOnce(O) -> Option<Vec<T>>,
        name: impl Fn(&T) -> Option<&str>,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<T> {
        let items = items(self.rt.block_on(list).unwrap()).unwrap_or_default();
        items
            .into_iter()
            .filter(|item| keep(name(item).unwrap_or("")))
            .collect()
    }

    pub fn role_policies(&self, role: &str) -> BTreeMap<String, Value> {
        self.role_policies_read_as(role, parse_policy)
    }

    /// Role `role`'s inline policies, each document read by `parse`.
    pub fn role_policies_read_as(
        &self,
        role: &str,
        parse: impl Fn(&str) -> Value,
    ) -> BTreeMap<String, Value> {
        let listed = self.iam.list_role_policies().role_name(role).send();
        let names = self.rt.block_on(listed).unwrap().policy_names;
        names
            .into_iter()
            .map(|name| {
                let policy = self
                    .iam
                    .get_role_policy()
                    .role_name(role)
                    .policy_name(&name);
                let doc = self.rt.block_on(policy.send()).unwrap().policy_document;
                (name, parse(&doc))
            })
            .collect()
    }

    pub fn function(&self, name: &str) -> FunctionConfig {
        self.rt
            .block_on(
                self.lambda
                    .get_function_configuration()
                    .function_name(name)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("function {name}: {e:?}"))
    }

    pub fn function_policy(&self, name: &str) -> Value {
        let out = self
            .rt
            .block_on(self.lambda.get_policy().function_name(name).send())
            .unwrap_or_else(|e| panic!("policy of {name}: {e:?}"));
        serde_json::from_str(out.policy().unwrap()).unwrap()
    }

    pub fn rest_apis(&self, name: &str) -> Vec<aws_sdk_apigateway::types::RestApi> {
        let list = self.apigw.get_rest_apis().limit(500).send();
        self.named(list, |o| o.items, |a| a.name.as_deref(), |n| n == name)
    }

    pub fn api_shape(&self, api: &str) -> ApiShape {
        self.rt.block_on(async {
            let resources = self
                .apigw
                .get_resources()
                .rest_api_id(api)
                .limit(500)
                .send()
                .await
                .unwrap();
            let mut out = BTreeMap::new();
            for r in resources.items.unwrap_or_default() {
                let mut methods = BTreeMap::new();
                for m in r.resource_methods.clone().unwrap_or_default().keys() {
                    let method = self
                        .apigw
                        .get_method()
                        .rest_api_id(api)
                        .resource_id(r.id.as_deref().unwrap())
                        .http_method(m)
                        .send()
                        .await
                        .unwrap();
                    let integration = self
                        .apigw
                        .get_integration()
                        .rest_api_id(api)
                        .resource_id(r.id.as_deref().unwrap())
                        .http_method(m)
                        .send()
                        .await
                        .unwrap();
                    methods.insert(
                        m.clone(),
                        (
                            method.api_key_required.unwrap_or(false),
                            method.authorization_type.unwrap_or_default(),
                            integration
                                .r#type
                                .map(|t| t.as_str().to_owned())
                                .unwrap_or_default(),
                            integration.uri.unwrap_or_default(),
                        ),
                    );
                }
                out.insert(r.path.unwrap_or_default(), methods);
            }
            out
        })
    }

    pub fn usage_plans(&self, name: &str) -> Vec<aws_sdk_apigateway::types::UsagePlan> {
        let list = self.apigw.get_usage_plans().limit(500).send();
        self.named(list, |o| o.items, |p| p.name.as_deref(), |n| n == name)
    }

    pub fn api_keys(&self, name: &str) -> Vec<aws_sdk_apigateway::types::ApiKey> {
        let list = self.apigw.get_api_keys().limit(500).send();
        self.named(list, |o| o.items, |k| k.name.as_deref(), |n| n == name)
    }

    pub fn log_groups(&self, prefix: &str) -> BTreeMap<String, Option<i32>> {
        let out = self
            .rt
            .block_on(
                self.logs
                    .describe_log_groups()
                    .log_group_name_prefix(prefix)
                    .send(),
            )
            .unwrap();
        out.log_groups
            .unwrap_or_default()
            .into_iter()
            .map(|g| (g.log_group_name.unwrap_or_default(), g.retention_in_days))
            .collect()
    }

    /// How many of each kind of resource carry the app's names: the duplicate check, and
    /// (all zeros) the check that nothing is left, for `portico delete`'s tests.
    pub fn census(&self, app: &App) -> BTreeMap<&'static str, usize> {
        let prefix = app.prefix();
        let mut out = BTreeMap::new();
        out.insert("rest_apis", self.rest_apis(&prefix).len());
        let ours = |name: &str| name.starts_with(&prefix);
        let plans = self.apigw.get_usage_plans().limit(500).send();
        let plans = self.named(plans, |o| o.items, |p| p.name.as_deref(), ours);
        out.insert("usage_plans", plans.len());
        let keys = self.apigw.get_api_keys().limit(500).send();
        let keys = self.named(keys, |o| o.items, |k| k.name.as_deref(), ours);
        out.insert("api_keys", keys.len());
        let functions = self.lambda.list_functions().send();
        let functions = self.named(
            functions,
            |o| o.functions,
            |f| f.function_name.as_deref(),
            ours,
        );
        out.insert("functions", functions.len());
        out.insert("rules", self.schedule_rules(&prefix).len());
        out.insert(
            "log_groups",
            self.log_groups(&format!("/aws/lambda/{prefix}")).len(),
        );
        let roles = self.rt.block_on(self.iam.list_roles().send()).unwrap();
        out.insert(
            "roles",
            roles
                .roles
                .iter()
                .filter(|r| r.role_name.starts_with(&prefix))
                .count(),
        );
        let activities = self.rt.block_on(self.sfn.list_activities().send()).unwrap();
        out.insert(
            "activities",
            activities
                .activities
                .iter()
                .filter(|a| a.name.starts_with(&prefix))
                .count(),
        );
        let machines = self
            .rt
            .block_on(self.sfn.list_state_machines().send())
            .unwrap();
        out.insert(
            "state_machines",
            machines
                .state_machines
                .iter()
                .filter(|m| m.name.starts_with(&prefix))
                .count(),
        );
        if let Some(api) = self.rest_apis(&prefix).first() {
            out.insert(
                "api_resources",
                self.api_shape(api.id.as_deref().unwrap()).len(),
            );
        }
        out
    }
}

pub fn parse_policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        serde_json::from_str(&decoded).unwrap()
    })
}

/// Every action of every statement: none is `*` or a whole service (`states:*`).
pub fn assert_no_wildcard_actions(policies: &BTreeMap<String, Value>) {
    for (name, doc) in policies {
        for statement in doc["Statement"].as_array().unwrap() {
            let actions = match &statement["Action"] {
                Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
                Value::String(s) => vec![s.clone()],
                other => panic!("{name}: Action {other}"),
            };
            for action in actions {
                assert!(
                    !action.contains('*'),
                    "policy {name} has a wildcard action {action}"
                );
            }
            let resources = match &statement["Resource"] {
                Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
                Value::String(s) => vec![s.clone()],
                other => panic!("{name}: Resource {other}"),
            };
            assert!(
                !resources.iter().any(|r| r == "*"),
                "policy {name} is on every resource"
            );
        }
    }
}

/// Path → method → (apiKeyRequired, authorization, integration type, integration URI).
pub type ApiShape = BTreeMap<String, BTreeMap<String, (bool, String, String, String)>>;

pub type FunctionConfig =
    aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;

pub fn env_of(f: &FunctionConfig) -> BTreeMap<String, String> {
    f.environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A copy of `binary` with bytes appended: the same app, different code.
pub fn changed_copy(binary: &Path, dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(binary).unwrap();
    bytes.extend_from_slice(b"portico-test: new code\n");
    let path = dir.join("bootstrap-v2");
    std::fs::write(&path, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

impl Sdk {
    /// Creates role `name`, which Lambda may assume, with `tags`; its ARN.
    pub async fn create_lambda_role(&self, name: &str, tags: &[(&str, &str)]) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let mut request = self
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust);
        for (key, value) in tags {
            let tag = aws_sdk_iam::types::Tag::builder().key(*key).value(*value);
            request = request.tags(tag.build().unwrap());
        }
        request.send().await.unwrap().role.unwrap().arn
    }

    /// Makes what another team might have: role `role` (trusting Lambda), function `function`
    /// running under it, activity `activity` and state machine `machine` — all without tags.
    /// Returns the function's, the activity's and the state machine's ARNs.
    pub fn foreign_resources(
        &self,
        role: &str,
        function: &str,
        activity: &str,
        machine: &str,
    ) -> (String, String, String) {
        use aws_sdk_lambda::primitives::Blob;
        use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
        self.rt.block_on(async {
            let role_arn = self.create_lambda_role(role, &[]).await;
            let function_arn = self
                .lambda
                .create_function()
                .function_name(function)
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .role(&role_arn)
                .memory_size(1024)
                .environment(
                    Environment::builder()
                        .variables("OWNER", "another-team")
                        .build(),
                )
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(b"another team's code".to_vec()))
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .function_arn
                .unwrap();
            let activity_arn = self
                .sfn
                .create_activity()
                .name(activity)
                .send()
                .await
                .unwrap()
                .activity_arn;
            let machine_arn = self
                .sfn
                .create_state_machine()
                .name(machine)
                .definition(FOREIGN_DEFINITION)
                .role_arn(&role_arn)
                .send()
                .await
                .unwrap()
                .state_machine_arn;
            (function_arn, activity_arn, machine_arn)
        })
    }

    /// The tags of a Step Functions resource.
    pub fn sfn_tags(&self, arn: &str) -> BTreeMap<String, String> {
        self.rt
            .block_on(self.sfn.list_tags_for_resource().resource_arn(arn).send())
            .unwrap()
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key?, t.value?)))
            .collect()
    }

    /// The EventBridge rules named `prefix…`: name and schedule expression.
    pub fn schedule_rules(&self, prefix: &str) -> Vec<(String, String)> {
        let listed = self.events.list_rules().name_prefix(prefix).send();
        let rules = self.rt.block_on(listed).unwrap().rules.unwrap_or_default();
        rules
            .into_iter()
            .map(|r| {
                (
                    r.name.unwrap_or_default(),
                    r.schedule_expression.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The ARNs of rule `name`'s targets.
    pub fn rule_targets(&self, name: &str) -> Vec<String> {
        let listed = self.events.list_targets_by_rule().rule(name).send();
        let targets = self.rt.block_on(listed).unwrap().targets;
        targets
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.arn)
            .collect()
    }

    /// Role `name`'s trust policy (who may assume it).
    pub fn role_trust(&self, name: &str) -> Value {
        let out = self.rt.block_on(self.iam.get_role().role_name(name).send());
        let role = out.unwrap().role.unwrap();
        parse_policy(&role.assume_role_policy_document.unwrap())
    }

    /// Whether role `name` exists.
    pub fn role_exists(&self, name: &str) -> bool {
        self.rt
            .block_on(self.iam.get_role().role_name(name).send())
            .is_ok()
    }
}

/// The definition of the state machine [`Sdk::foreign_resources`] makes.
pub const FOREIGN_DEFINITION: &str =
    r#"{"StartAt":"Wait","States":{"Wait":{"Type":"Pass","End":true}}}"#;
