//! End-to-end tests of the approval example (`examples/approval`) in the local cloud: the real
//! `portico local` serving the example's real binary (built by cargo on first use), over HTTP
//! on loopback, in both designs. A request is started with the API key, the mail is read from
//! the outbox (`/outbox.json` and the `.eml`), its links are followed (GET: the confirmation
//! page; POST: the decision), and the execution's end is checked through the app's status
//! route and the local Step Functions' `DescribeExecution`. The activity design's worker is
//! fired with `portico invoke --local worker --scheduled-event`, as a user would, instead of
//! waiting a minute for its schedule. One test clicks the button in headless Chromium
//! (`chromium` and `chromium-driver`, over the WebDriver protocol).

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{AppDir, Req, Res, Server, approval_binary, portico, wait_for, workspace};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const EMPLOYEE: &str = "Jim O'Neil";
const MANAGER: &str = "boss@example.com";

/// A copy of the example's `portico.toml` and state machines with the design chosen, `env`
/// added to the stage's env and `timeout` as the Task's `TimeoutSeconds`.
fn example(test: &str, design: &str, env: &[(&str, &str)], timeout: Option<u32>) -> AppDir {
    let source = workspace().join("examples").join("approval");
    let dir = AppDir::new(test, &source.join("portico.toml"));
    let config_path = dir.path.join("portico.toml");
    let config = std::fs::read_to_string(&config_path).expect("read the config");
    let stage_env =
        "env = { APPROVAL_DESIGN = \"activity\", APPROVAL_SENDER = \"hr@example.com\" }";
    assert!(
        config.contains(stage_env),
        "the example's stage env changed"
    );
    let mut replacement =
        format!("env = {{ APPROVAL_DESIGN = \"{design}\", APPROVAL_SENDER = \"hr@example.com\"");
    for (k, v) in env {
        replacement.push_str(&format!(", {k} = \"{v}\""));
    }
    replacement.push_str(" }");
    std::fs::write(&config_path, config.replace(stage_env, &replacement)).expect("write config");
    let machines = dir.path.join("statemachines");
    std::fs::create_dir_all(&machines).expect("create statemachines/");
    for name in ["activity.asl.json", "callback.asl.json"] {
        let text = std::fs::read_to_string(source.join("statemachines").join(name))
            .expect("read a definition");
        let text = match timeout {
            Some(seconds) => {
                assert!(text.contains("\"TimeoutSeconds\": 3600"), "{name}");
                text.replace(
                    "\"TimeoutSeconds\": 3600",
                    &format!("\"TimeoutSeconds\": {seconds}"),
                )
            }
            None => text,
        };
        std::fs::write(machines.join(name), text).expect("write a definition");
    }
    dir
}

fn start(dir: &AppDir) -> Server {
    Server::start(&dir.path, approval_binary(), &["--no-schedules"])
}

/// The generated value of the `hr-system` API key.
fn api_key(dir: &AppDir) -> String {
    let keys: Value = serde_json::from_slice(
        &std::fs::read(dir.local_dir().join("api-keys.json")).expect("api-keys.json"),
    )
    .expect("JSON");
    keys["hr-system"].as_str().expect("the key").to_owned()
}

/// `POST /requests` with the API key; the request id.
fn start_request(server: &Server, key: &str, employee: &str) -> String {
    let res = server
        .request("POST", "/requests")
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(json!({"employeeName": employee, "managerEmailAddress": MANAGER}).to_string())
        .send();
    assert_eq!(res.status, 202, "{}", res.text());
    let body = res.json();
    assert_eq!(body["status"], "pending");
    body["requestId"].as_str().expect("a request id").to_owned()
}

/// `GET /requests/{id}`'s status.
fn status(server: &Server, key: &str, id: &str) -> String {
    let res = server
        .request("GET", &format!("/requests/{id}"))
        .header("x-api-key", key)
        .send();
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["status"].as_str().expect("a status").to_owned()
}

/// `DescribeExecution` on the local Step Functions.
fn describe(server: &Server, machine: &str, id: &str) -> Value {
    let arn =
        format!("arn:aws:states:us-east-1:000000000000:execution:approval-dev-{machine}:{id}");
    let res = Req::new(server.services, "POST", "/")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "AWSStepFunctions.DescribeExecution")
        .body(json!({"executionArn": arn}).to_string())
        .send();
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

fn wait_for_execution(server: &Server, machine: &str, id: &str, timeout: Duration) -> Value {
    wait_for(&format!("execution {id} to end"), timeout, || {
        let execution = describe(server, machine, id);
        (execution["status"] != "RUNNING").then_some(execution)
    })
}

/// Fires the activity design's worker now, as a user would.
fn fire_worker(dir: &AppDir) {
    let app = dir.path.to_str().expect("a UTF-8 path");
    let out = portico(
        &[
            "invoke",
            "--local",
            "worker",
            "--scheduled-event",
            "--app",
            app,
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "portico invoke --local worker --scheduled-event: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A mail of the outbox: what `/outbox.json` says, and the links of its text.
struct Mail {
    json: Value,
    approve: String,
    reject: String,
}

/// The mails for `employee`, in the order sent.
fn mails(server: &Server, employee: &str) -> Vec<Mail> {
    let res = Req::new(server.services, "GET", "/outbox.json").send();
    assert_eq!(res.status, 200, "{}", res.text());
    let link = |text: &str, label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|l| l.trim().to_owned())
            .unwrap_or_else(|| panic!("no `{label}` line in {text:?}"))
    };
    let mut list: Vec<Mail> = res
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter(|m| m["subject"] == format!("Promotion approval requested: {employee}"))
        .map(|m| {
            let text = m["text"].as_str().expect("a text part");
            Mail {
                approve: link(text, "Approve: "),
                reject: link(text, "Reject: "),
                json: m.clone(),
            }
        })
        .collect();
    list.sort_by(|a, b| {
        a.json["id"]
            .as_str()
            .unwrap_or("")
            .cmp(b.json["id"].as_str().unwrap_or(""))
    });
    list
}

fn wait_for_mails(server: &Server, employee: &str, count: usize) -> Vec<Mail> {
    wait_for(&format!("{count} mail(s) about {employee}"), WAIT, || {
        let list = mails(server, employee);
        (list.len() >= count).then_some(list)
    })
}

/// The path and query of a link (the server's address may have changed since the mail).
fn target(link: &str) -> String {
    let rest = link.strip_prefix("http://").expect("an http:// link");
    rest[rest.find('/').expect("a path")..].to_owned()
}

/// The `link` parameter of a link.
fn sealed(link: &str) -> String {
    link.split_once("?link=")
        .expect("a link parameter")
        .1
        .to_owned()
}

fn get(server: &Server, link: &str) -> Res {
    Req::new(server.addr, "GET", &target(link)).send()
}

/// The confirmation page's form POST: `link` in the body.
fn post(server: &Server, link: &str) -> Res {
    let path = target(link);
    let path = path.split('?').next().expect("a path").to_owned();
    Req::new(server.addr, "POST", &path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("link={}", sealed(link)))
        .send()
}

/// The page at `link` (the confirmation page): `status`, and it says each of `needles`.
#[track_caller]
fn assert_get(server: &Server, link: &str, status: u16, needles: &[&str]) {
    assert_page(&get(server, link), status, needles);
}

/// Submitting the form of the page at `link`: `status`, and the page says each of `needles`.
#[track_caller]
fn assert_post(server: &Server, link: &str, status: u16, needles: &[&str]) {
    assert_page(&post(server, link), status, needles);
}

fn assert_page(res: &Res, status: u16, needles: &[&str]) {
    let text = res.text();
    assert_eq!(res.status, status, "{text}");
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
}

/// The environment of the server's function processes that run entry point `entry`.
fn function_env(server: &mut Server, entry: &str) -> Vec<String> {
    let wanted = format!("PORTICO_HANDLER={entry}");
    server
        .children()
        .into_iter()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/environ")).ok())
        .map(|raw| {
            String::from_utf8_lossy(&raw)
                .split('\0')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .find(|vars| vars.contains(&wanted))
        .unwrap_or_else(|| panic!("no function process for `{entry}`"))
}

#[test]
fn activity_design_mails_on_the_worker_and_an_approval_survives_a_restart() {
    let dir = example("approval-activity", "activity", &[], None);
    let mut server = start(&dir);
    assert!(
        server
            .stdout()
            .contains("Secrets (APPROVAL_LINK_KEY): generated, values in "),
        "{}",
        server.stdout()
    );
    let key = api_key(&dir);

    // The API key and the body are checked before anything starts.
    let res = server
        .request("POST", "/requests")
        .header("content-type", "application/json")
        .body(json!({"employeeName": EMPLOYEE, "managerEmailAddress": MANAGER}).to_string())
        .send();
    assert_eq!(res.status, 403, "no API key: {}", res.text());
    let res = server
        .request("POST", "/requests")
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(json!({"employeeName": EMPLOYEE}).to_string())
        .send();
    assert_eq!(res.status, 400, "no manager: {}", res.text());

    let id = start_request(&server, &key, EMPLOYEE);
    assert_eq!(status(&server, &key, &id), "pending");
    // Nothing mails the manager until the worker runs.
    assert!(mails(&server, EMPLOYEE).is_empty());
    fire_worker(&dir);
    let mail = wait_for_mails(&server, EMPLOYEE, 1).remove(0);
    assert_eq!(mail.json["to"], json!([MANAGER]));
    assert_eq!(mail.json["from"], "hr@example.com");
    let eml = std::fs::read_to_string(mail.json["eml"].as_str().expect("the .eml path"))
        .expect("read the .eml");
    assert!(
        eml.contains("Subject: Promotion approval requested: Jim O'Neil"),
        "{eml}"
    );
    // The text part is quoted-printable: soft line breaks, `=` as `=3D`.
    let unfolded = eml.replace("=\r\n", "").replace("=\n", "");
    assert!(
        unfolded.contains(&format!(
            "Approve: {}",
            mail.approve.replace("?link=", "?link=3D")
        )),
        "the approve link is in the .eml"
    );
    // No task token in the link: it is sealed (the token is in the execution's history only).
    assert!(!mail.approve.contains("token"), "{}", mail.approve);

    // GET decides nothing: the confirmation page names the employee and the decision.
    assert_get(
        &server,
        &mail.approve,
        200,
        &[
            "Approve the promotion?",
            "Jim O&#x27;Neil",
            "<form method=\"post\" action=\"succeed\">",
        ],
    );
    assert_eq!(
        describe(&server, "PromotionApproval", &id)["status"],
        "RUNNING"
    );

    // A restart while the task waits loses nothing.
    let stopped = server.stop_with("TERM");
    assert!(stopped.success(), "{stopped}");
    drop(server);
    let server = start(&dir);
    assert_eq!(api_key(&dir), key, "the generated key survives the restart");
    assert_eq!(status(&server, &key, &id), "pending");

    assert_post(
        &server,
        &mail.approve,
        200,
        &["Promotion approved", "Jim O&#x27;Neil"],
    );
    let execution = wait_for_execution(&server, "PromotionApproval", &id, WAIT);
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let output: Value =
        serde_json::from_str(execution["output"].as_str().expect("an output")).expect("JSON");
    assert_eq!(output["decision"]["decision"], "approved", "{output}");
    assert_eq!(output["decision"]["approver"], MANAGER, "{output}");
    assert_eq!(status(&server, &key, &id), "approved");

    // Replays of either link, either method: "Already decided".
    for res in [
        get(&server, &mail.approve),
        post(&server, &mail.approve),
        post(&server, &mail.reject),
    ] {
        assert_page(&res, 200, &["Already decided"]);
    }

    // A rejection fails the execution.
    let rejected = start_request(&server, &key, "Ada");
    fire_worker(&dir);
    let mail = wait_for_mails(&server, "Ada", 1).remove(0);
    assert_get(
        &server,
        &mail.reject,
        200,
        &["Reject the promotion?", "Ada"],
    );
    assert_post(&server, &mail.reject, 200, &["Promotion rejected"]);
    let execution = wait_for_execution(&server, "PromotionApproval", &rejected, WAIT);
    assert_eq!(execution["status"], "FAILED", "{execution}");
    assert_eq!(execution["error"], "Rejected", "{execution}");
    assert_eq!(status(&server, &key, &rejected), "rejected");
}

#[test]
fn callback_design_mails_at_once_and_a_rejection_fails_the_execution() {
    let dir = example("approval-callback", "callback", &[], None);
    let mut server = start(&dir);
    let key = api_key(&dir);

    // The generated secret reaches the functions, stays private, and is never printed.
    let secrets_file = dir.local_dir().join("secrets.json");
    let secrets: Value =
        serde_json::from_slice(&std::fs::read(&secrets_file).expect("secrets.json")).expect("JSON");
    let link_key = secrets["APPROVAL_LINK_KEY"]["value"]
        .as_str()
        .expect("a value")
        .to_owned();
    assert_eq!(link_key.len(), 44, "32 bytes in base64");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets_file)
            .expect("secrets.json")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Approve one request, reject another, from mail sent at once by `notify`.
    let approved = start_request(&server, &key, "Ada");
    // The function processes start on demand: the API's runs now.
    let env = function_env(&mut server, "api");
    assert!(env.contains(&format!("APPROVAL_LINK_KEY={link_key}")));
    // Credentials: the user's, or the dummy ones when there are none.
    assert!(
        env.iter().any(|v| v.starts_with("AWS_ACCESS_KEY_ID="))
            || env.iter().any(|v| v.starts_with("AWS_PROFILE=")),
        "{env:?}"
    );
    let rejected = start_request(&server, &key, EMPLOYEE);
    let approve_mail = wait_for_mails(&server, "Ada", 1).remove(0);
    let reject_mail = wait_for_mails(&server, EMPLOYEE, 1).remove(0);

    // Links that are not ours, or incomplete: 400, nothing decided.
    // One character of the sealed value changed (mid-value: every bit there counts).
    let mut tampered = approve_mail.approve.clone().into_bytes();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    assert_get(&server, &tampered, 400, &["Invalid link"]);
    assert_post(&server, &tampered, 400, &["Invalid link"]);
    // An approve link on the reject page.
    let crossed = format!(
        "{}?link={}",
        approve_mail.reject.split('?').next().expect("a path"),
        sealed(&approve_mail.approve)
    );
    assert_get(&server, &crossed, 400, &["Invalid link"]);
    let bare = approve_mail
        .approve
        .split('?')
        .next()
        .expect("a path")
        .to_owned();
    assert_get(&server, &bare, 400, &["Incomplete link"]);
    assert_get(&server, &format!("{bare}?link="), 400, &["Incomplete link"]);

    assert_get(
        &server,
        &reject_mail.reject,
        200,
        &["Reject the promotion?", "Jim O&#x27;Neil"],
    );
    assert_post(&server, &reject_mail.reject, 200, &["Promotion rejected"]);
    let execution = wait_for_execution(&server, "PromotionApprovalCallback", &rejected, WAIT);
    assert_eq!(execution["status"], "FAILED", "{execution}");
    assert_eq!(execution["error"], "Rejected", "{execution}");
    assert_eq!(execution["cause"], format!("rejected by {MANAGER}"));
    assert_eq!(status(&server, &key, &rejected), "rejected");
    assert_get(&server, &reject_mail.approve, 200, &["Already decided"]);

    assert_post(&server, &approve_mail.approve, 200, &["Promotion approved"]);
    let execution = wait_for_execution(&server, "PromotionApprovalCallback", &approved, WAIT);
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(status(&server, &key, &approved), "approved");

    // Without credentials of the user's, the functions got dummy ones instead of asking the
    // instance metadata service.
    if server
        .stdout()
        .contains("AWS credentials: none in the environment or ~/.aws")
    {
        for wanted in [
            "AWS_ACCESS_KEY_ID=local",
            "AWS_SECRET_ACCESS_KEY=local",
            "AWS_EC2_METADATA_DISABLED=true",
        ] {
            assert!(env.iter().any(|v| v == wanted), "{wanted} in {env:?}");
        }
    }

    // Neither the secret nor a link's sealed value reached the terminal.
    let printed = format!("{}{}", server.stdout(), server.stderr());
    assert!(!printed.contains(&link_key), "the link key was printed");
    assert!(
        !printed.contains(&sealed(&approve_mail.approve)),
        "a link was printed"
    );
}

#[test]
fn callback_restart_while_waiting_then_a_decision_completes_it() {
    let dir = example("approval-restart", "callback", &[], None);
    let mut server = start(&dir);
    let key = api_key(&dir);
    let id = start_request(&server, &key, EMPLOYEE);
    let mail = wait_for_mails(&server, EMPLOYEE, 1).remove(0);
    let stopped = server.stop_with("TERM");
    assert!(stopped.success(), "{stopped}");
    drop(server);

    let server = start(&dir);
    server.wait_for_line(&["states: resumed 1 running execution(s)"], WAIT);
    // The same generated link key: the link sent before the restart still opens.
    assert_get(&server, &mail.approve, 200, &["Approve the promotion?"]);
    assert_post(&server, &mail.approve, 200, &["Promotion approved"]);
    let execution = wait_for_execution(&server, "PromotionApprovalCallback", &id, WAIT);
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(status(&server, &key, &id), "approved");
}

#[test]
fn expired_links_answer_410_and_an_undecided_request_times_out() {
    // Links live 1 s; the Task waits 2 s, is retried once on its timeout (a second mail), then
    // the definition's catch ends the execution in `NoDecision`.
    // The stage's env also sets the link key: it wins over the generated secret.
    let stage_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let dir = example(
        "approval-timeout",
        "callback",
        &[
            ("APPROVAL_LINK_TTL_SECONDS", "1"),
            ("APPROVAL_LINK_KEY", stage_key),
        ],
        Some(2),
    );
    let mut server = start(&dir);
    let key = api_key(&dir);
    let started = Instant::now();
    let id = start_request(&server, &key, EMPLOYEE);
    let env = function_env(&mut server, "api");
    assert!(
        env.contains(&format!("APPROVAL_LINK_KEY={stage_key}")),
        "{env:?}"
    );
    let first = wait_for_mails(&server, EMPLOYEE, 1).remove(0);
    // Expiry is checked in whole seconds: wait past it.
    std::thread::sleep(Duration::from_millis(2100).saturating_sub(started.elapsed()));
    assert_get(
        &server,
        &first.approve,
        410,
        &["Link expired", "Jim O&#x27;Neil"],
    );
    assert_post(&server, &first.approve, 410, &["Link expired"]);

    let execution = wait_for_execution(&server, "PromotionApprovalCallback", &id, WAIT);
    assert_eq!(execution["status"], "FAILED", "{execution}");
    assert_eq!(execution["error"], "NoDecision", "{execution}");
    assert_eq!(status(&server, &key, &id), "timedOut");
    assert_eq!(
        mails(&server, EMPLOYEE).len(),
        2,
        "the retry after the first timeout mailed again"
    );
}

#[test]
fn a_state_machine_timeout_ends_the_execution_timed_out() {
    // A test copy of the callback definition with an execution timeout of 2 s (the Task's own
    // stays at an hour): nobody decides, so Step Functions ends the execution TIMED_OUT.
    let dir = example("approval-timed-out", "callback", &[], None);
    let definition = dir.path.join("statemachines").join("callback.asl.json");
    let text = std::fs::read_to_string(&definition).expect("read the definition");
    let start_at = "\"StartAt\": \"ManualApproval\",";
    assert!(text.contains(start_at), "the definition's start changed");
    std::fs::write(
        &definition,
        text.replacen(
            start_at,
            &format!("{start_at}\n  \"TimeoutSeconds\": 2,"),
            1,
        ),
    )
    .expect("write the definition");
    let server = start(&dir);
    let key = api_key(&dir);
    let id = start_request(&server, &key, EMPLOYEE);
    let mail = wait_for_mails(&server, EMPLOYEE, 1).remove(0);
    let execution = wait_for_execution(&server, "PromotionApprovalCallback", &id, WAIT);
    assert_eq!(execution["status"], "TIMED_OUT", "{execution}");
    assert_eq!(status(&server, &key, &id), "timedOut");
    // The task went with the execution: its links say so instead of failing.
    assert_get(&server, &mail.approve, 200, &["Already decided"]);
    assert_post(&server, &mail.reject, 200, &["Already decided"]);
}

// --- Headless Chromium --------------------------------------------------------------------

/// A `chromedriver` on a loopback port, ended when dropped.
struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Driver {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "run chromedriver (Debian: apt-get install -y chromium chromium-driver; .ci/run \
                 installs them)",
            );
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let driver = Self { child, addr };
        wait_for("chromedriver to be ready", WAIT, || {
            webdriver_exchange(addr, "GET", "/status", None)
                .ok()
                .filter(|(_, reply)| reply["value"]["ready"] == true)
        });
        driver
    }

    /// One WebDriver command; its `value`. chromedriver keeps connections open, so the reply
    /// is read by its `Content-Length`, not to the end of the connection.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, reply) = webdriver_exchange(self.addr, method, path, body.as_ref())
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        assert_eq!(status, 200, "WebDriver {method} {path}: {reply}");
        reply["value"].clone()
    }
}

fn webdriver_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    use std::io::{BufRead, BufReader, Read, Write};
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(WAIT))
        .map_err(|e| e.to_string())?;
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{content_type}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP reply: {line:?}"))?;
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(|_| "a bad Content-Length")?;
            }
        }
    }
    let mut reply = vec![0; length];
    reader.read_exact(&mut reply).map_err(|e| e.to_string())?;
    let reply = serde_json::from_slice(&reply).map_err(|e| format!("not JSON: {e}"))?;
    Ok((status, reply))
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session.
struct Browser<'d> {
    driver: &'d Driver,
    session: String,
}

impl<'d> Browser<'d> {
    fn open(driver: &'d Driver) -> Self {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("chromium is installed (apt-get install -y chromium chromium-driver)");
        let value = driver.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--no-first-run"],
                },
            }}})),
        );
        Self {
            driver,
            session: value["sessionId"]
                .as_str()
                .expect("a session id")
                .to_owned(),
        }
    }

    fn go(&self, url: &str) {
        self.driver.call(
            "POST",
            &format!("/session/{}/url", self.session),
            Some(json!({"url": url})),
        );
    }

    fn find(&self, css: &str) -> String {
        let value = self.driver.call(
            "POST",
            &format!("/session/{}/element", self.session),
            Some(json!({"using": "css selector", "value": css})),
        );
        value["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .expect("an element")
            .to_owned()
    }

    /// The text of `css`, or `None` while the page is changing (no such element yet, or the
    /// one found belongs to the page being left).
    fn try_text(&self, css: &str) -> Option<String> {
        let (status, found) = webdriver_exchange(
            self.driver.addr,
            "POST",
            &format!("/session/{}/element", self.session),
            Some(&json!({"using": "css selector", "value": css})),
        )
        .ok()?;
        let element = found["value"]["element-6066-11e4-a52e-4f735466cecf"].as_str()?;
        let (text_status, text) = webdriver_exchange(
            self.driver.addr,
            "GET",
            &format!("/session/{}/element/{element}/text", self.session),
            None,
        )
        .ok()?;
        (status == 200 && text_status == 200)
            .then(|| text["value"].as_str().map(str::to_owned))
            .flatten()
    }

    fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.driver
            .call(
                "GET",
                &format!("/session/{}/element/{element}/text", self.session),
                None,
            )
            .as_str()
            .expect("text")
            .to_owned()
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.driver.call(
            "POST",
            &format!("/session/{}/element/{element}/click", self.session),
            Some(json!({})),
        );
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = webdriver_exchange(
            self.driver.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

#[test]
fn headless_chromium_approves_from_the_confirmation_page() {
    let dir = example("approval-browser", "callback", &[], None);
    let server = start(&dir);
    let key = api_key(&dir);
    let id = start_request(&server, &key, EMPLOYEE);
    let mail = wait_for_mails(&server, EMPLOYEE, 1).remove(0);
    // The mail's links point at this server; the browser follows the approve link as is.
    assert!(
        mail.approve.starts_with(&server.api_url),
        "{} under {}",
        mail.approve,
        server.api_url
    );

    let driver = Driver::start();
    let browser = Browser::open(&driver);
    // The mail's HTML body, as the outbox shows it on its own page: its Approve link.
    let id_in_outbox = mail.json["id"].as_str().expect("a message id");
    browser.go(&format!(
        "http://{}/outbox/{id_in_outbox}/body",
        server.services
    ));
    browser.click("a[href*=\"/respond/succeed?link=\"]");
    let heading = wait_for("the confirmation page", WAIT, || {
        browser
            .try_text("h1")
            .filter(|heading| heading == "Approve the promotion?")
    });
    assert_eq!(heading, "Approve the promotion?");
    let body = browser.text("body");
    assert!(
        body.contains(&format!(
            "You are about to approve the promotion of {EMPLOYEE}."
        )),
        "{body}"
    );
    assert!(body.contains(&format!("Decision by {MANAGER}.")), "{body}");
    assert_eq!(
        browser.text("button.approve"),
        format!("Approve the promotion of {EMPLOYEE}")
    );
    // Opening the page decided nothing.
    assert_eq!(
        describe(&server, "PromotionApprovalCallback", &id)["status"],
        "RUNNING"
    );

    browser.click("button.approve");
    let heading = wait_for("the result page", WAIT, || {
        browser
            .try_text("h1")
            .filter(|heading| heading != "Approve the promotion?")
    });
    assert_eq!(heading, "Promotion approved");
    assert!(
        browser
            .text("body")
            .contains(&format!("The promotion of {EMPLOYEE} is approved.")),
        "{}",
        browser.text("body")
    );
    let execution = wait_for_execution(&server, "PromotionApprovalCallback", &id, WAIT);
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(status(&server, &key, &id), "approved");

    // Back to the link: the page now says it is over.
    browser.go(&mail.approve);
    assert_eq!(browser.text("h1"), "Already decided");
}

#[test]
fn activity_design_times_out_after_two_unanswered_mails() {
    // The Task waits 2 s after a worker picked it up, is retried once on its timeout (back to
    // the queue: the worker fired again mails again), then the catch ends it in `NoDecision`.
    let dir = example("approval-activity-timeout", "activity", &[], Some(2));
    let server = start(&dir);
    let key = api_key(&dir);
    let id = start_request(&server, &key, EMPLOYEE);
    fire_worker(&dir);
    let first = wait_for_mails(&server, EMPLOYEE, 1).remove(0);
    // The second run long-polls until the retry puts the task back.
    fire_worker(&dir);
    wait_for_mails(&server, EMPLOYEE, 2);
    let execution = wait_for_execution(&server, "PromotionApproval", &id, WAIT);
    assert_eq!(execution["status"], "FAILED", "{execution}");
    assert_eq!(execution["error"], "NoDecision", "{execution}");
    assert_eq!(status(&server, &key, &id), "timedOut");
    // The first mail's token is spent: its links, still within their hour, say so.
    assert_get(&server, &first.approve, 200, &["Already decided"]);
    assert_post(&server, &first.approve, 200, &["Already decided"]);
}

/// Issue 12, defects 1, 2 and 8, over real HTTP: a doubled slash reaches the keyed resource
/// (and needs the key), a `Host` that is not the gateway's is refused (so no link can name
/// it), and the gateway and the function agree on the key and the method.
#[test]
fn doubled_slashes_and_foreign_hosts_do_not_get_past_the_gateway() {
    let dir = example("approval-gateway", "callback", &[], None);
    let server = start(&dir);
    let key = api_key(&dir);
    let body = |employee: &str| {
        json!({"employeeName": employee, "managerEmailAddress": MANAGER}).to_string()
    };
    let forbidden = |res: &Res, case: &str| {
        assert_eq!(
            (res.status, res.text()),
            (403, r#"{"message":"Forbidden"}"#.to_owned()),
            "{case}"
        );
    };
    let prefix = &server.prefix;

    // The issue's curl: `POST /dev//requests` without a key (and its variants).
    for path in [
        format!("{prefix}//requests"),
        format!("{prefix}///requests"),
        format!("/{prefix}/requests"),
    ] {
        let res = Req::new(server.addr, "POST", &path)
            .header("content-type", "application/json")
            .body(body("Double Slash"))
            .send();
        forbidden(&res, &path);
        assert_eq!(
            res.header("x-amzn-ErrorType"),
            Some("ForbiddenException"),
            "{path}: the gateway answered"
        );
    }

    // A key, but a Host that is not one of the gateway's: refused before anything starts.
    let res = server
        .request("POST", "/requests")
        .header("Host", "evil.example")
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(body("Evil Host"))
        .send();
    forbidden(&res, "Host: evil.example");
    // Two keys: the gateway would check one and the function see the other.
    let res = server
        .request("POST", "/requests")
        .header("x-api-key", &key)
        .header("x-api-key", "another")
        .header("content-type", "application/json")
        .body(body("Two Keys"))
        .send();
    forbidden(&res, "two x-api-key headers");

    // A real request, on the gateway's own name.
    let own_host = format!("localhost:{}", server.addr.port());
    let res = server
        .request("POST", "/requests")
        .header("Host", &own_host)
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(body("Host Check"))
        .send();
    assert_eq!(res.status, 202, "{}", res.text());
    let id = res.json()["requestId"].as_str().expect("an id").to_owned();
    assert_eq!(
        res.json()["statusUrl"],
        format!("http://{own_host}{prefix}/requests/{id}")
    );

    // `GET /dev//requests/<id>` without a key: 403, like the single-slash path.
    for path in [
        format!("{prefix}//requests/{id}"),
        format!("{prefix}/requests//{id}"),
        format!("{prefix}/requests/{id}"),
    ] {
        forbidden(&Req::new(server.addr, "GET", &path).send(), &path);
    }
    assert_eq!(status(&server, &key, &id), "pending");
    // Methods the keyed resource does not declare reach the app through its open `ANY`
    // (as deployed) without a key, and the app answers 405; HEAD is the keyed GET's.
    let res = server.request("POST", &format!("/requests/{id}")).send();
    assert_eq!(res.status, 405, "{}", res.text());
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
    let res = server.request("HEAD", &format!("/requests/{id}")).send();
    assert_eq!(res.status, 403);
    assert_eq!(res.header("x-amzn-ErrorType"), Some("ForbiddenException"));
    let res = server
        .request("HEAD", &format!("/requests/{id}"))
        .header("x-api-key", &key)
        .send();
    assert_eq!(res.status, 200);

    // The mail's links name the host the request came to; nothing names evil.example, and
    // the refused requests sent nothing.
    let mail = wait_for_mails(&server, "Host Check", 1).remove(0);
    let own = format!("http://{own_host}{prefix}/respond/");
    assert!(mail.approve.starts_with(&own), "{}", mail.approve);
    assert!(mail.reject.starts_with(&own), "{}", mail.reject);
    let outbox = Req::new(server.services, "GET", "/outbox.json")
        .send()
        .text();
    assert!(!outbox.contains("evil.example"), "{outbox}");
    for employee in ["Double Slash", "Evil Host", "Two Keys"] {
        assert!(mails(&server, employee).is_empty(), "{employee}");
    }
}
