//! The local cloud's state database (`.portico/local/state.db`) across versions and damage,
//! with the real `portico local`:
//! - a database written by the last version without numbered migrations (checked in under
//!   `tests/fixtures/state-v0/`, made by running that version on the approval example: a
//!   waiting callback execution, quota counters, a sent mail, logs) opens with this one, and
//!   its execution, key, counters and logs are all still there;
//! - a damaged file (zeroed header; an overwritten page) stops `portico local` at start with
//!   the file's path and what to do, and leaves the file as it was;
//! - the file deleted while `portico local` runs stops it with an error.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{AppDir, Req, Server, approval_binary, apps, fixture, portico, wait_for};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// The checked-in app directory whose `.portico/local/` an older `portico local` wrote.
fn old_state() -> PathBuf {
    fixture("state-v0")
}

/// A copy of the old app directory (config, state machines, and `local/` as
/// `.portico/local/`).
fn old_app(test: &str) -> AppDir {
    let source = old_state();
    let dir = AppDir::new(test, &source.join("portico.toml"));
    copy_tree(
        &source.join("statemachines"),
        &dir.path.join("statemachines"),
    );
    copy_tree(&source.join("local"), &dir.local_dir());
    // Logs older than the retention (7 days) are pruned at start: move the old lines to
    // today, as if the old version had just stopped (the schema is left as it was).
    let conn = rusqlite::Connection::open(dir.local_dir().join("state.db")).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    conn.execute(
        "UPDATE logs SET timestamp_ms = timestamp_ms + (?1 - (SELECT max(timestamp_ms) FROM logs))",
        [now_ms - 1000],
    )
    .unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn query<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> Vec<T> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The one mail in the old outbox: its approve link's path.
fn old_approve_link(dir: &AppDir) -> String {
    let outbox = dir.local_dir().join("outbox");
    let json = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a mail in the old outbox");
    let mail: Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let text = mail.to_string();
    let start = text.find("/respond/succeed").expect("an approve link");
    let begin = text[..start].rfind("http://").unwrap();
    let link = &text[begin..];
    let end = link.find(['"', ' ', '\\', '<']).unwrap();
    let link = &link[..end];
    // The path, for this run's server (the old one listened elsewhere).
    let rest = link.strip_prefix("http://").unwrap();
    rest[rest.find('/').unwrap()..].to_owned()
}

#[test]
fn a_database_from_before_migrations_opens_with_its_data() {
    let dir = old_app("state-v0");
    let db = dir.local_dir().join("state.db");
    // Read from a copy: even a read-only open of a WAL database writes `-shm`/`-wal` beside it.
    let old_db = dir.path.join("old-state.db");
    std::fs::copy(old_state().join("local").join("state.db"), &old_db).unwrap();
    let version: Vec<i64> = query(&old_db, "PRAGMA user_version");
    assert_eq!(version, [0], "the fixture is from before migrations");
    let old_key: Vec<String> = query(
        &old_db,
        "SELECT value FROM kv WHERE key = 'api_key.hr-system'",
    );
    let old_quota: Vec<i64> = query(&old_db, "SELECT used FROM quota_usage");
    let old_period: Vec<i64> = query(&old_db, "SELECT period_start FROM quota_usage");
    let old_logs: Vec<String> = query(&old_db, "SELECT message FROM logs ORDER BY id");
    let executions: Vec<String> = query(
        &old_db,
        "SELECT name FROM sfn_executions WHERE status = 'RUNNING'",
    );
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert!(!old_quota.is_empty() && !old_logs.is_empty() && old_key.len() == 1);

    let mut server = Server::start(&dir.path, approval_binary(), &["--no-schedules"]);
    server.wait_for_line(&["states: resumed 1 running execution(s)"], WAIT);
    // The generated API key is the stored one: the old key still works.
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dir.local_dir().join("api-keys.json")).unwrap())
            .unwrap();
    assert_eq!(keys["hr-system"], old_key[0].as_str());
    let res = server
        .request("GET", &format!("/requests/{}", executions[0]))
        .header("x-api-key", &old_key[0])
        .send();
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "pending");
    // The link mailed by the old version decides the waiting execution.
    // The confirmation page's form POST, as in tests/approval.rs: the sealed link in the body.
    let link = old_approve_link(&dir);
    let (path, sealed) = link.split_once("?link=").expect("a link parameter");
    let res = Req::new(server.addr, "POST", path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("link={sealed}"))
        .send();
    assert_eq!(res.status, 200, "{}", res.text());
    let arn = format!(
        "arn:aws:states:us-east-1:000000000000:execution:approval-dev-PromotionApprovalCallback:{}",
        executions[0]
    );
    wait_for("the old execution to succeed", WAIT, || {
        let res = Req::new(server.services, "POST", "/")
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "AWSStepFunctions.DescribeExecution")
            .body(json!({ "executionArn": arn }).to_string())
            .send();
        (res.json()["status"] == "SUCCEEDED").then_some(())
    });
    let stopped = server.stop_with("TERM");
    assert!(stopped.success(), "{stopped}");

    // Migrated in place: numbered now, the old rows kept.
    let version: Vec<i64> = query(&db, "PRAGMA user_version");
    assert_eq!(version, [3], "every migration ran");
    // The old period's counter is still there (one more if that period is today: the GET
    // above counted).
    let quota: Vec<i64> = query(
        &db,
        &format!(
            "SELECT used FROM quota_usage WHERE period_start = {}",
            old_period[0]
        ),
    );
    assert_eq!(quota.len(), 1, "{quota:?}");
    assert!(
        quota[0] == old_quota[0] || quota[0] == old_quota[0] + 1,
        "{quota:?} {old_quota:?}"
    );
    // The old logs, as `portico logs --local` shows them.
    let app = dir.path.to_str().unwrap();
    let out = portico(&["logs", "--local", "--app", app, "--since", "1d"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first_app_line = old_logs
        .iter()
        .find(|m| !m.starts_with("START") && !m.starts_with("END"))
        .expect("an app log line");
    assert!(
        text.contains(first_app_line.as_str()),
        "{first_app_line}\n{text}"
    );
}

/// `portico local` on an app whose `state.db` is `bytes`: its exit status and stderr. It must
/// stop by itself (before its banner).
fn run_on_damaged(test: &str, bytes: &[u8]) -> (AppDir, std::process::ExitStatus, String) {
    let dir = AppDir::new(test, &fixture("fixture.toml"));
    std::fs::create_dir_all(dir.local_dir()).unwrap();
    let db = dir.local_dir().join("state.db");
    std::fs::write(&db, bytes).unwrap();
    let out = common::local_command(&dir.path, &apps().fixture)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes,
        "the damaged file is kept as it was"
    );
    (dir, out.status, stderr)
}

fn assert_explains(dir: &AppDir, stderr: &str, detail: &str) {
    let db = dir.local_dir().join("state.db");
    let path = db.display().to_string();
    assert!(stderr.contains(&format!("{path} is damaged")), "{stderr}");
    assert!(stderr.contains(detail), "{stderr}");
    assert!(
        stderr.contains(&format!("mv {path} {path}.damaged")),
        "says how to start fresh: {stderr}"
    );
    assert!(
        stderr.contains(&format!("sqlite3 {path} .recover")),
        "says how to keep it: {stderr}"
    );
}

#[test]
fn a_zeroed_header_stops_with_the_path_and_what_to_do() {
    let mut bytes = std::fs::read(old_state().join("local").join("state.db")).unwrap();
    bytes[..100].fill(0);
    let (dir, status, stderr) = run_on_damaged("zeroed-header", &bytes);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_explains(&dir, &stderr, "file is not a database");
}

#[test]
fn an_overwritten_page_stops_with_the_path_and_what_to_do() {
    let mut bytes = std::fs::read(old_state().join("local").join("state.db")).unwrap();
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    assert!(bytes.len() >= 3 * page, "the fixture has a few pages");
    // Page 2 is a table's b-tree root: scribble over it.
    for (i, b) in bytes[page..2 * page].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let (dir, status, stderr) = run_on_damaged("overwritten-page", &bytes);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_explains(&dir, &stderr, "malformed");
}

#[test]
fn deleting_the_database_while_running_stops_with_an_error() {
    let dir = AppDir::new("deleted-db", &fixture("fixture.toml"));
    let mut server = Server::start(&dir.path, &apps().fixture, &[]);
    let db = dir.local_dir().join("state.db");
    std::fs::remove_file(&db).unwrap();
    let status = server.wait_exit(WAIT);
    assert_eq!(status.code(), Some(1));
    let stderr = server.stderr();
    assert!(
        stderr.contains(&format!(
            "{} was deleted while portico local was running",
            db.display()
        )),
        "{stderr}"
    );
}
