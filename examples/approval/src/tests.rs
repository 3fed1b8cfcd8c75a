//! Routes, worker and notification against in-process fakes of Step Functions and SES.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use portico::testing::{TestClient, TestResponse};
use serde_json::{Value, json};

use super::*;
use crate::services::{ActivityTask, BoxFuture, ExecutionInfo};

/// Opens the confirmation page `path` (`/respond/succeed` or `/respond/fail`) of a link, as
/// a manager's browser does.
async fn page(client: &TestClient, path: &str, sealed: &str) -> TestResponse {
    client.get(&format!("{path}?link={sealed}")).send().await
}

/// Submits the confirmation page's form: the decision.
async fn decide(client: &TestClient, path: &str, sealed: &str) -> TestResponse {
    client.post(path).form(&[("link", sealed)]).send().await
}

const MACHINE: &str =
    "arn:aws:states:us-east-1:123456789012:stateMachine:approval-test-PromotionApproval";
const ACTIVITY_ARN: &str =
    "arn:aws:states:us-east-1:123456789012:activity:approval-test-ManualStep";
const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAfake-task-token-0123456789";

/// What the fake Step Functions was asked.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Start {
        machine: String,
        name: String,
        input: Value,
    },
    Success {
        token: String,
        output: Value,
    },
    Failure {
        token: String,
        error: String,
        cause: String,
    },
    Poll {
        activity: String,
    },
}

/// Step Functions in memory: tokens are single-use, like the real service's.
#[derive(Debug, Default)]
struct FakeSfn {
    calls: Mutex<Vec<Call>>,
    live_tokens: Mutex<HashSet<String>>,
    executions: Mutex<HashMap<String, ExecutionInfo>>,
    tasks: Mutex<VecDeque<ActivityTask>>,
    /// Every call fails with this (a service outage).
    outage: Mutex<Option<String>>,
}

impl FakeSfn {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn add_token(&self, token: &str) {
        self.live_tokens.lock().unwrap().insert(token.to_owned());
    }

    fn outage(&self) -> Result<(), SfnError> {
        match self.outage.lock().unwrap().clone() {
            Some(message) => Err(SfnError::Other(message)),
            None => Ok(()),
        }
    }

    fn use_token(&self, token: &TaskToken) -> Result<(), SfnError> {
        self.outage()?;
        if self.live_tokens.lock().unwrap().remove(token.expose()) {
            Ok(())
        } else {
            Err(SfnError::TaskGone)
        }
    }
}

impl StepFunctions for FakeSfn {
    fn start_execution<'a>(
        &'a self,
        state_machine_arn: &'a str,
        name: &'a str,
        input: String,
    ) -> BoxFuture<'a, Result<String, SfnError>> {
        Box::pin(async move {
            self.outage()?;
            self.calls.lock().unwrap().push(Call::Start {
                machine: state_machine_arn.to_owned(),
                name: name.to_owned(),
                input: serde_json::from_str(&input).unwrap(),
            });
            let arn = execution_arn(state_machine_arn, name).unwrap();
            self.executions.lock().unwrap().insert(
                arn.clone(),
                ExecutionInfo {
                    status: "RUNNING".to_owned(),
                    input: Some(input),
                    error: None,
                },
            );
            Ok(arn)
        })
    }

    fn describe_execution<'a>(
        &'a self,
        execution_arn: &'a str,
    ) -> BoxFuture<'a, Result<ExecutionInfo, SfnError>> {
        Box::pin(async move {
            self.outage()?;
            self.executions
                .lock()
                .unwrap()
                .get(execution_arn)
                .cloned()
                .ok_or(SfnError::ExecutionDoesNotExist)
        })
    }

    fn send_task_success<'a>(
        &'a self,
        token: &'a TaskToken,
        output: String,
    ) -> BoxFuture<'a, Result<(), SfnError>> {
        Box::pin(async move {
            self.use_token(token)?;
            self.calls.lock().unwrap().push(Call::Success {
                token: token.expose().to_owned(),
                output: serde_json::from_str(&output).unwrap(),
            });
            Ok(())
        })
    }

    fn send_task_failure<'a>(
        &'a self,
        token: &'a TaskToken,
        error: &'a str,
        cause: String,
    ) -> BoxFuture<'a, Result<(), SfnError>> {
        Box::pin(async move {
            self.use_token(token)?;
            self.calls.lock().unwrap().push(Call::Failure {
                token: token.expose().to_owned(),
                error: error.to_owned(),
                cause,
            });
            Ok(())
        })
    }

    fn get_activity_task<'a>(
        &'a self,
        activity_arn: &'a str,
        _worker_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActivityTask>, SfnError>> {
        Box::pin(async move {
            self.outage()?;
            self.calls.lock().unwrap().push(Call::Poll {
                activity: activity_arn.to_owned(),
            });
            Ok(self.tasks.lock().unwrap().pop_front())
        })
    }
}

/// SES in memory.
#[derive(Debug, Default)]
struct FakeMailer {
    sent: Mutex<Vec<Mail>>,
    refuse: Mutex<Option<String>>,
}

impl Mailer for FakeMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if let Some(why) = self.refuse.lock().unwrap().clone() {
                return Err(why);
            }
            self.sent.lock().unwrap().push(mail);
            Ok(())
        })
    }
}

fn key() -> LinkKey {
    LinkKey::from_bytes(&[7; 32])
}

fn settings() -> Settings {
    Settings {
        design: Ok(Design::Activity),
        link_key: Ok(key()),
        sender: Some("hr@example.com".to_owned()),
        state_machine_arn: Some(MACHINE.to_owned()),
        activity_arn: Some(ACTIVITY_ARN.to_owned()),
        public_url: None,
        link_ttl: 3600,
    }
}

struct World {
    sfn: Arc<FakeSfn>,
    mailer: Arc<FakeMailer>,
    services: Services,
    client: TestClient,
}

fn world_with(settings: Settings) -> World {
    let sfn = Arc::new(FakeSfn::default());
    let mailer = Arc::new(FakeMailer::default());
    let services = Services {
        sfn: sfn.clone(),
        mailer: mailer.clone(),
        settings: Arc::new(settings),
    };
    let client = TestClient::new(app_with(services.clone()));
    World {
        sfn,
        mailer,
        services,
        client,
    }
}

impl World {
    /// Asks the app to start a promotion request.
    async fn start(&self, employee: &str, manager: &str) -> TestResponse {
        let body = json!({"employeeName": employee, "managerEmailAddress": manager});
        self.client.post("/requests").json(&body).send().await
    }

    /// Invokes `notify`, which fails with `NotificationFailed`; the error's message.
    async fn notify_failure(&self, event: &Value) -> String {
        let (kind, message) = self
            .client
            .invoke_function("notify", event)
            .await
            .unwrap_err();
        assert_eq!(kind, "NotificationFailed", "{message}");
        message
    }
}

fn world() -> World {
    world_with(settings())
}

fn claims(expires_at: u64) -> LinkClaims {
    LinkClaims {
        task_token: TaskToken::new(TOKEN),
        request_id: None,
        employee: "Jim".to_owned(),
        approver: "boss@example.com".to_owned(),
        expires_at,
    }
}

fn fresh_claims() -> LinkClaims {
    claims(now() + 600)
}

/// The path and query of an absolute link from a mail, as the test client wants it.
fn path_of(url: &str) -> String {
    let start = url.find("/respond/").expect("a decision link");
    url[start..].to_owned()
}

/// The `(approve, reject)` links in a mail's text.
fn mail_links(mail: &Mail) -> (String, String) {
    let find = |label: &str| {
        mail.text
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in {}", mail.text))
            .trim()
            .to_owned()
    };
    (find("Approve: "), find("Reject: "))
}

fn sealed_of(link: &str) -> String {
    link.split_once("?link=").unwrap().1.to_owned()
}

#[test]
fn the_start_and_status_routes_require_an_api_key_and_the_pages_do_not() {
    let app = app_with(world().services);
    let keyed: Vec<(&str, bool)> = app
        .route_list()
        .iter()
        .map(|r| (r.path, r.options.api_key_required))
        .collect();
    assert!(keyed.contains(&("/requests", true)), "{keyed:?}");
    assert!(keyed.contains(&("/requests/{id}", true)), "{keyed:?}");
    for (path, required) in keyed {
        if path.starts_with("/respond/") {
            assert!(!required, "{path}");
        }
    }
}

#[tokio::test]
async fn starting_a_request_starts_an_execution_with_the_links_and_answers_202() {
    let w = world();
    let res = w.start(" Jim ", "boss@example.com").await;
    assert_eq!(res.status(), 202, "{}", res.text());
    let body = res.json();
    let id = body["requestId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(body["status"], "pending");
    assert_eq!(body["design"], "activity");
    let base = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/test";
    assert_eq!(body["statusUrl"], format!("{base}/requests/{id}"));

    let calls = w.sfn.calls();
    let [
        Call::Start {
            machine,
            name,
            input,
        },
    ] = calls.as_slice()
    else {
        panic!("{calls:?}");
    };
    assert_eq!(machine, MACHINE);
    assert_eq!(name, &id);
    assert_eq!(
        input,
        &json!({
            "employeeName": "Jim",
            "managerEmailAddress": "boss@example.com",
            "requestId": id,
            "links": {
                "approve": format!("{base}/respond/succeed"),
                "reject": format!("{base}/respond/fail"),
            }
        })
    );

    // Its status, from the execution.
    let res = w.client.get(&format!("/requests/{id}")).send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json(),
        json!({"requestId": id, "employeeName": "Jim", "status": "pending"})
    );
}

#[tokio::test]
async fn a_configured_public_url_is_the_base_of_the_links() {
    let w = world_with(Settings {
        public_url: Some("https://hr.example.com/approval".to_owned()),
        ..settings()
    });
    let res = w.start("Jim", "boss@example.com").await;
    assert_eq!(res.status(), 202, "{}", res.text());
    let calls = w.sfn.calls();
    let [Call::Start { input, .. }] = calls.as_slice() else {
        panic!("{calls:?}");
    };
    assert_eq!(
        input["links"],
        json!({
            "approve": "https://hr.example.com/approval/respond/succeed",
            "reject": "https://hr.example.com/approval/respond/fail",
        })
    );
}

#[tokio::test]
async fn bad_start_requests_are_400s_and_start_nothing() {
    let w = world();
    for body in [
        json!({"employeeName": "Jim"}),
        json!({"employeeName": "", "managerEmailAddress": "boss@example.com"}),
        json!({"employeeName": "Jim\nBcc: x@example.com", "managerEmailAddress": "boss@example.com"}),
        json!({"employeeName": "Jim", "managerEmailAddress": "not an address"}),
        json!({"employeeName": "Jim", "managerEmailAddress": "a@b.com, c@d.com"}),
        json!({"employeeName": "Jim", "managerEmailAddress": "boss@example.com", "extra": 1}),
        json!({"employeeName": "x".repeat(201), "managerEmailAddress": "boss@example.com"}),
        // What SES refuses is refused up front, not after the notification's retries.
        json!({"employeeName": "Jim", "managerEmailAddress": "bóss@exämple.com"}),
        json!({"employeeName": "Jim", "managerEmailAddress": "boss@exämple.com"}),
        json!({"employeeName": "Jim", "managerEmailAddress": "boss@@example.com"}),
        json!({"employeeName": "Jim", "managerEmailAddress": "boss@example..com"}),
        json!({"employeeName": "Jim", "managerEmailAddress": "x@y.z/../"}),
        json!({"employeeName": "Jim", "managerEmailAddress": ".boss@example.com"}),
        json!({"employeeName": "Jim", "managerEmailAddress": "boss@example"}),
        // Bidi controls would reorder the subject the manager reads.
        json!({"employeeName": "Jim\u{202E}gnp.exe", "managerEmailAddress": "boss@example.com"}),
        json!({"employeeName": "Jim\u{2067}x\u{2069}", "managerEmailAddress": "boss@example.com"}),
        json!({"employeeName": "Jim\u{200F}", "managerEmailAddress": "boss@example.com"}),
    ] {
        let res = w.client.post("/requests").json(&body).send().await;
        assert_eq!(res.status(), 400, "{body}: {}", res.text());
        assert_eq!(res.json()["code"], "BadRequestError");
    }
    let res = w.start("Jim", "boss@@example.com").await;
    assert!(
        res.text()
            .contains("`managerEmailAddress` is not an address SES can send to"),
        "{}",
        res.text()
    );
    // A body that is not JSON.
    for (content_type, body, status) in [("text/plain", "Jim", 415), ("application/json", "{", 400)]
    {
        let request = w
            .client
            .post("/requests")
            .header("Content-Type", content_type);
        let res = request.body(body).send().await;
        assert_eq!(res.status(), status, "{content_type}: {body}");
    }
    assert!(w.sfn.calls().is_empty(), "{:?}", w.sfn.calls());
    // Non-Latin names and Punycode domains are fine.
    let res = w
        .start("Jürgen Ωmega", "o'brien+hr@xn--exmple-cua.example")
        .await;
    assert_eq!(res.status(), 202, "{}", res.text());
}

#[tokio::test]
async fn a_step_functions_outage_on_start_is_a_500_without_detail() {
    let w = world();
    *w.sfn.outage.lock().unwrap() = Some("ServiceUnavailable: try later".to_owned());
    let res = w.start("Jim", "boss@example.com").await;
    assert_eq!(res.status(), 500);
    assert!(!res.text().contains("ServiceUnavailable"), "{}", res.text());
}

#[tokio::test]
async fn status_follows_the_execution() {
    let w = world();
    let id = "0123456789abcdef0123456789abcdef";
    let arn = execution_arn(MACHINE, id).unwrap();
    for (status, error, expected) in [
        ("RUNNING", None, "pending"),
        ("SUCCEEDED", None, "approved"),
        ("FAILED", Some("Rejected"), "rejected"),
        ("FAILED", Some("NoDecision"), "timedOut"),
        ("TIMED_OUT", None, "timedOut"),
        ("ABORTED", None, "aborted"),
    ] {
        w.sfn.executions.lock().unwrap().insert(
            arn.clone(),
            ExecutionInfo {
                status: status.to_owned(),
                input: Some(r#"{"employeeName":"Jim","managerEmailAddress":"b@x.io"}"#.to_owned()),
                error: error.map(str::to_owned),
            },
        );
        let res = w.client.get(&format!("/requests/{id}")).send().await;
        assert_eq!(res.json()["status"], expected, "{status} {error:?}");
    }
    // Unknown, and impossible, ids.
    let res = w
        .client
        .get("/requests/ffffffffffffffffffffffffffffffff")
        .send()
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(w.client.get("/requests/nope").send().await.status(), 404);
}

#[tokio::test]
async fn the_worker_mails_links_that_confirm_then_decide_once() {
    let w = world();
    w.sfn.add_token(TOKEN);
    w.sfn.tasks.lock().unwrap().push_back(ActivityTask {
        token: TaskToken::new(TOKEN),
        input: json!({
            "employeeName": "Jim <b>",
            "managerEmailAddress": "boss@example.com",
            "requestId": "r-1",
            "links": {
                "approve": "https://api.example.com/prod/respond/succeed",
                "reject": "https://api.example.com/prod/respond/fail",
            }
        })
        .to_string(),
    });
    w.client.fire_schedule("worker").await.unwrap();
    assert_eq!(
        w.sfn.calls(),
        vec![Call::Poll {
            activity: ACTIVITY_ARN.to_owned()
        }]
    );

    let mail = w.mailer.sent.lock().unwrap().pop().expect("a mail");
    assert_eq!(mail.from, "hr@example.com");
    assert_eq!(mail.to, "boss@example.com");
    assert_eq!(mail.subject, "Promotion approval requested: Jim <b>");
    assert!(mail.html.contains("Jim &lt;b&gt;"), "{}", mail.html);
    for part in [&mail.text, &mail.html, &mail.subject] {
        assert!(!part.contains(TOKEN), "the token is in the mail: {part}");
    }
    let (approve, reject) = mail_links(&mail);
    assert!(approve.starts_with("https://api.example.com/prod/respond/succeed?link="));
    assert!(reject.starts_with("https://api.example.com/prod/respond/fail?link="));

    // GET only shows the page: a mail scanner following the link decides nothing.
    for _ in 0..2 {
        let res = w.client.get(&path_of(&approve)).send().await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.header("cache-control"), Some("no-store"));
        assert_eq!(res.header("referrer-policy"), Some("no-referrer"));
        let html = res.text();
        assert!(html.contains("Jim &lt;b&gt;"), "{html}");
        assert!(html.contains(r#"<form method="post" action="succeed">"#));
        assert!(html.contains(&sealed_of(&approve)));
    }
    assert_eq!(w.sfn.calls().len(), 1, "{:?}", w.sfn.calls());

    // The form's POST decides.
    let res = decide(&w.client, "/respond/succeed", &sealed_of(&approve)).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("is approved"), "{}", res.text());
    assert_eq!(
        w.sfn.calls()[1],
        Call::Success {
            token: TOKEN.to_owned(),
            output: json!({"decision": "approved", "approver": "boss@example.com", "requestId": "r-1"}),
        }
    );

    // Replays, and the other link, find the task gone: a friendly page, not an error.
    for (path, link) in [("/respond/succeed", &approve), ("/respond/fail", &reject)] {
        let res = decide(&w.client, path, &sealed_of(link)).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.text().contains("Already decided"), "{}", res.text());
    }
    assert_eq!(w.sfn.calls().len(), 2);
}

#[tokio::test]
async fn a_reject_link_fails_the_task_with_rejected() {
    let w = world();
    w.sfn.add_token(TOKEN);
    let sealed = key().seal(&fresh_claims(), Decision::Reject);
    let res = page(&w.client, "/respond/fail", &sealed).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains(r#"action="fail""#));
    let res = decide(&w.client, "/respond/fail", &sealed).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("is rejected"));
    assert_eq!(
        w.sfn.calls(),
        vec![Call::Failure {
            token: TOKEN.to_owned(),
            error: "Rejected".to_owned(),
            cause: "rejected by boss@example.com".to_owned(),
        }]
    );
}

#[tokio::test]
async fn bad_links_get_400_and_410_pages_and_reach_no_service() {
    let w = world();
    w.sfn.add_token(TOKEN);
    let approve = key().seal(&fresh_claims(), Decision::Approve);
    let other_key = LinkKey::from_bytes(&[8; 32]).seal(&fresh_claims(), Decision::Approve);
    let expired = key().seal(&claims(now() - 1), Decision::Approve);
    let mut tampered = approve.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/respond/succeed", tampered, 400, "Invalid link"),
        ("/respond/succeed", other_key, 400, "Invalid link"),
        (
            "/respond/succeed",
            "garbage!".to_owned(),
            400,
            "Invalid link",
        ),
        // An approve link on the reject page.
        ("/respond/fail", approve.clone(), 400, "Invalid link"),
        ("/respond/succeed", expired, 410, "Link expired"),
        ("/respond/succeed", String::new(), 400, "Incomplete link"),
    ];
    for (path, sealed, status, title) in &cases {
        let res = w.client.get(&format!("{path}?link={sealed}")).send().await;
        assert_eq!(res.status(), *status, "GET {path} {sealed:.20}");
        assert!(res.text().contains(title), "{}", res.text());
        assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
        let res = decide(&w.client, path, sealed).await;
        assert_eq!(res.status(), *status, "POST {path} {sealed:.20}");
        assert!(res.text().contains(title), "{}", res.text());
    }
    // No parameter at all, or a body that is not a form.
    assert_eq!(w.client.get("/respond/succeed").send().await.status(), 400);
    assert_eq!(w.client.post("/respond/fail").send().await.status(), 400);
    let res = w
        .client
        .post("/respond/succeed")
        .json(&json!({"link": approve}))
        .send()
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().contains("Incomplete link"));
    assert!(w.sfn.calls().is_empty(), "{:?}", w.sfn.calls());
}

#[tokio::test]
async fn the_confirmation_page_says_already_decided_when_the_execution_is_over() {
    let w = world();
    let id = "0123456789abcdef0123456789abcdef";
    w.sfn.executions.lock().unwrap().insert(
        execution_arn(MACHINE, id).unwrap(),
        ExecutionInfo {
            status: "SUCCEEDED".to_owned(),
            input: None,
            error: None,
        },
    );
    let mut c = fresh_claims();
    c.request_id = Some(id.to_owned());
    let sealed = key().seal(&c, Decision::Approve);
    let res = page(&w.client, "/respond/succeed", &sealed).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("Already decided"), "{}", res.text());
}

#[tokio::test]
async fn an_outage_while_deciding_is_a_500_page_and_the_link_still_works_later() {
    let w = world();
    w.sfn.add_token(TOKEN);
    *w.sfn.outage.lock().unwrap() = Some("ServiceUnavailable".to_owned());
    let sealed = key().seal(&fresh_claims(), Decision::Approve);
    let res = decide(&w.client, "/respond/succeed", &sealed).await;
    assert_eq!(res.status(), 500);
    assert!(res.text().contains("Try again later"));
    assert!(!res.text().contains("ServiceUnavailable"));
    *w.sfn.outage.lock().unwrap() = None;
    let res = decide(&w.client, "/respond/succeed", &sealed).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("is approved"));
}

#[tokio::test]
async fn without_a_link_key_the_pages_fail_clearly_and_safely() {
    let w = world_with(Settings {
        link_key: Err(KeyError::Missing),
        ..settings()
    });
    let sealed = key().seal(&fresh_claims(), Decision::Approve);
    let res = page(&w.client, "/respond/succeed", &sealed).await;
    assert_eq!(res.status(), 500);
    assert!(
        w.services
            .settings
            .problems()
            .iter()
            .any(|p| p.contains("APPROVAL_LINK_KEY is not set"))
    );
}

#[tokio::test]
async fn a_task_that_cannot_be_mailed_fails_with_notification_failed() {
    let w = world();
    w.sfn.add_token(TOKEN);
    *w.mailer.refuse.lock().unwrap() = Some("MessageRejected: not verified".to_owned());
    w.sfn.tasks.lock().unwrap().push_back(ActivityTask {
        token: TaskToken::new(TOKEN),
        input: json!({"employeeName": "Jim", "managerEmailAddress": "boss@example.com",
                      "links": {"approve": "https://a.example/respond/succeed",
                                "reject": "https://a.example/respond/fail"}})
        .to_string(),
    });
    w.client.fire_schedule("worker").await.unwrap();
    let calls = w.sfn.calls();
    let Some(Call::Failure { error, cause, .. }) = calls.last() else {
        panic!("{calls:?}");
    };
    assert_eq!(error, "NotificationFailed");
    assert!(cause.contains("MessageRejected"), "{cause}");

    // Input that is no promotion request fails the same way.
    w.sfn.add_token("t2");
    w.sfn.tasks.lock().unwrap().push_back(ActivityTask {
        token: TaskToken::new("t2"),
        input: r#"{"who": "Jim"}"#.to_owned(),
    });
    w.client.fire_schedule("worker").await.unwrap();
    let calls = w.sfn.calls();
    assert!(
        matches!(calls.last(), Some(Call::Failure { token, error, .. }) if token == "t2" && error == "NotificationFailed"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn the_worker_idles_without_tasks_and_in_the_callback_design() {
    let w = world();
    w.client.fire_schedule("worker").await.unwrap();
    assert_eq!(w.sfn.calls().len(), 1);
    assert!(w.mailer.sent.lock().unwrap().is_empty());

    let w = world_with(Settings {
        design: Ok(Design::Callback),
        ..settings()
    });
    w.client.fire_schedule("worker").await.unwrap();
    assert!(w.sfn.calls().is_empty());

    // A poll that fails fails the invocation (the schedule tries again next minute).
    let w = world();
    *w.sfn.outage.lock().unwrap() = Some("ThrottlingException".to_owned());
    let (_, message) = w.client.fire_schedule("worker").await.unwrap_err();
    assert!(message.contains("ThrottlingException"), "{message}");
}

#[tokio::test]
async fn notify_mails_the_callback_token_and_falls_back_to_the_public_url() {
    let w = world_with(Settings {
        design: Ok(Design::Callback),
        public_url: Some("https://hr.example.com/api".to_owned()),
        ..settings()
    });
    // The event is the Task's Payload: `{"taskToken.$": "$$.Task.Token", "request.$": "$"}`.
    let event = json!({
        "taskToken": TOKEN,
        "request": {"employeeName": "Jim", "managerEmailAddress": "boss@example.com"}
    });
    let result = w.client.invoke_function("notify", &event).await.unwrap();
    assert_eq!(result, json!({"notified": "boss@example.com"}));
    let mail = w.mailer.sent.lock().unwrap().pop().unwrap();
    let (approve, _) = mail_links(&mail);
    assert!(approve.starts_with("https://hr.example.com/api/respond/succeed?link="));
    let opened = key()
        .open(&sealed_of(&approve), Decision::Approve, now())
        .unwrap();
    assert_eq!(opened.task_token.expose(), TOKEN);
    assert!(opened.expires_at > now() + 3500 && opened.expires_at <= now() + 3600);

    // Without links in the input nor a public URL, or without a sender, or with an SES
    // failure: a `NotificationFailed` function error, which the state machine retries.
    let w = world_with(Settings {
        design: Ok(Design::Callback),
        ..settings()
    });
    let message = w.notify_failure(&event).await;
    assert!(message.contains("APPROVAL_PUBLIC_URL"), "{message}");
    let w = world_with(Settings {
        sender: None,
        public_url: Some("https://hr.example.com".to_owned()),
        ..settings()
    });
    let message = w.notify_failure(&event).await;
    assert!(message.contains("APPROVAL_SENDER"), "{message}");
    let w = world_with(Settings {
        public_url: Some("https://hr.example.com".to_owned()),
        ..settings()
    });
    *w.mailer.refuse.lock().unwrap() = Some("MessageRejected: not verified".to_owned());
    let message = w.notify_failure(&event).await;
    assert!(message.contains("MessageRejected"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");

    // An event that is not the Task's payload is refused before anything is sent.
    let (kind, _) = w
        .client
        .invoke_function("notify", &json!({"employeeName": "Jim"}))
        .await
        .unwrap_err();
    assert_eq!(kind, "InvalidEvent");
    assert!(w.mailer.sent.lock().unwrap().is_empty());
}

#[test]
fn arns_of_the_app_resources_come_from_the_function_arn() {
    let f = "arn:aws:lambda:eu-west-1:111122223333:function:approval-prod-api";
    assert_eq!(
        sibling_arn(f, "stateMachine", "PromotionApproval").as_deref(),
        Some("arn:aws:states:eu-west-1:111122223333:stateMachine:approval-prod-PromotionApproval")
    );
    assert_eq!(
        sibling_arn(&format!("{f}:$LATEST"), "activity", "ManualStep").as_deref(),
        Some("arn:aws:states:eu-west-1:111122223333:activity:approval-prod-ManualStep")
    );
    assert_eq!(sibling_arn("", "activity", "ManualStep"), None);
    // Not `<app>-<stage>-api`: not deployed by portico, nothing to derive.
    assert_eq!(
        sibling_arn(
            "arn:aws:lambda:eu-west-1:111122223333:function:something-else",
            "activity",
            "ManualStep"
        ),
        None
    );
    assert_eq!(sibling_arn("arn:aws:s3:::bucket", "activity", "M"), None);
    assert_eq!(
        execution_arn(
            "arn:aws:states:eu-west-1:1:stateMachine:approval-prod-PromotionApproval",
            "abc"
        )
        .as_deref(),
        Some("arn:aws:states:eu-west-1:1:execution:approval-prod-PromotionApproval:abc")
    );
    let derived = Settings {
        state_machine_arn: None,
        design: Ok(Design::Callback),
        ..settings()
    };
    assert_eq!(
        derived.state_machine_arn(f).unwrap(),
        "arn:aws:states:eu-west-1:111122223333:stateMachine:approval-prod-PromotionApprovalCallback"
    );
    assert!(
        derived
            .state_machine_arn("")
            .unwrap_err()
            .contains("APPROVAL_STATE_MACHINE_ARN")
    );
}

#[test]
fn task_tokens_never_show_in_debug_output() {
    let task = ActivityTask {
        token: TaskToken::new(TOKEN),
        input: "{}".to_owned(),
    };
    let input: NotifyInput = serde_json::from_value(json!({
        "taskToken": TOKEN,
        "request": {"employeeName": "Jim", "managerEmailAddress": "boss@example.com"}
    }))
    .unwrap();
    let text = format!("{task:?} {input:?} {:?}", fresh_claims());
    assert!(!text.contains(TOKEN), "{text}");
}
