//! The decision path against moto server: the callback design's state machine runs in moto's
//! Step Functions engine; the app (its real SDK clients, pointed at moto) starts executions,
//! and the decision pages send the task token back.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use approval::link::{Decision, LinkClaims, LinkKey};
use approval::services::Aws;
use approval::{Design, Services, Settings, TaskToken};
use common::{create_callback_machine, first_scheduled_task, sdk_config};
use portico::testing::{TestClient, TestResponse};
use portico_e2e::moto::Moto;
use serde_json::{Value, json};

mod common;

const NOTIFY_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:approval-test-notify";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Setup {
    _moto: Moto,
    sfn: aws_sdk_sfn::Client,
    key: LinkKey,
    client: TestClient,
}

/// moto with the callback state machine, and the app pointed at both.
async fn setup() -> Setup {
    setup_with(include_str!("../statemachines/callback.asl.json").to_owned()).await
}

/// moto with `definition` as the callback state machine.
async fn setup_with(definition: String) -> Setup {
    let moto = common::moto_without_docker();
    let config = sdk_config(&moto.endpoint());
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine = create_callback_machine(
        &sfn,
        "approval-test-PromotionApprovalCallback",
        &definition,
        NOTIFY_ARN,
    )
    .await;
    let key = LinkKey::from_bytes(&[42; 32]);
    let services = services(
        &config,
        Settings {
            state_machine_arn: Some(machine),
            ..callback_settings(key.clone())
        },
    );
    Setup {
        _moto: moto,
        sfn,
        key,
        client: TestClient::new(approval::app_with(services)),
    }
}

/// The callback design's settings, without a state machine or a public URL.
fn callback_settings(key: LinkKey) -> Settings {
    Settings {
        design: Ok(Design::Callback),
        link_key: Ok(key),
        sender: Some("hr@example.com".to_owned()),
        state_machine_arn: None,
        activity_arn: None,
        public_url: None,
        link_ttl: 3600,
    }
}

/// The app's services: the real SDK clients of `config`.
fn services(config: &aws_config::SdkConfig, settings: Settings) -> Services {
    let aws = Arc::new(Aws::from_config(config.clone()));
    Services {
        sfn: aws.clone(),
        mailer: aws,
        settings: Arc::new(settings),
    }
}

/// Starts a request through the app; its id.
async fn start(setup: &Setup, employee: &str) -> String {
    let res = setup
        .client
        .post("/requests")
        .json(&json!({"employeeName": employee, "managerEmailAddress": "boss@example.com"}))
        .send()
        .await;
    assert_eq!(res.status(), 202, "{}", res.text());
    res.json()["requestId"].as_str().unwrap().to_owned()
}

fn execution_arn(id: &str) -> String {
    format!(
        "arn:aws:states:us-east-1:123456789012:execution:approval-test-PromotionApprovalCallback:{id}"
    )
}

/// Every `Payload` moto's engine invoked `notify` with, from the TaskScheduled events.
async fn notify_payloads(sfn: &aws_sdk_sfn::Client, id: &str) -> Vec<Value> {
    let tasks = common::scheduled_tasks(sfn, &execution_arn(id)).await;
    tasks.iter().map(|t| t["Payload"].clone()).collect()
}

/// The `Payload` moto's engine invoked `notify` with, from the TaskScheduled event.
async fn notify_payload(sfn: &aws_sdk_sfn::Client, id: &str) -> Value {
    let parameters = first_scheduled_task(sfn, &execution_arn(id)).await;
    assert_eq!(parameters["FunctionName"], NOTIFY_ARN);
    parameters["Payload"].clone()
}

/// The execution's status once it leaves RUNNING, and its error.
async fn final_status(sfn: &aws_sdk_sfn::Client, id: &str) -> (String, Option<String>) {
    common::final_status(sfn, &execution_arn(id)).await
}

/// Seals the link a manager would get for the waiting task of request `id`.
impl Setup {
    /// A link for `token` that the app's key seals, as a mail would carry it.
    fn seal(&self, token: &str, request_id: Option<&str>, decision: Decision) -> String {
        let claims = LinkClaims {
            task_token: TaskToken::new(token),
            request_id: request_id.map(str::to_owned),
            employee: "Jim".to_owned(),
            approver: "boss@example.com".to_owned(),
            expires_at: now() + 600,
        };
        self.key.seal(&claims, decision)
    }

    /// Decides, and the answer is a 200 page that `says` so.
    async fn expect_decision(&self, path: &str, sealed: &str, says: &str) {
        assert_page(
            &self
                .client
                .post(path)
                .form(&[("link", sealed)])
                .send()
                .await,
            says,
        );
    }

    /// Opens the confirmation page `path` of a link: a 200 page that `says` so.
    async fn expect_page(&self, path: &str, sealed: &str, says: &str) {
        assert_page(
            &self
                .client
                .get(&format!("{path}?link={sealed}"))
                .send()
                .await,
            says,
        );
    }

    /// The link's task is gone: deciding, and its confirmation page, say so without an error.
    async fn expect_spent(&self, path: &str, sealed: &str) {
        self.expect_decision(path, sealed, "Already decided").await;
        self.expect_page(path, sealed, "Already decided").await;
    }

    /// The app's status of request `id`.
    async fn status(&self, id: &str) -> Value {
        self.client
            .get(&format!("/requests/{id}"))
            .send()
            .await
            .json()
    }
}

/// A 200 page that `says` so.
fn assert_page(res: &TestResponse, says: &str) {
    assert_eq!(res.status(), 200, "{}", res.text());
    assert!(res.text().contains(says), "{}", res.text());
}

async fn link_for(setup: &Setup, id: &str, decision: Decision) -> String {
    let payload = notify_payload(&setup.sfn, id).await;
    let token = payload["taskToken"].as_str().expect("a task token");
    // The function gets the execution's input: who, and where the links point.
    assert_eq!(payload["request"]["requestId"], id);
    assert_eq!(payload["request"]["employeeName"], "Jim");
    assert!(
        payload["request"]["links"]["approve"]
            .as_str()
            .unwrap()
            .ends_with("/respond/succeed"),
        "{payload}"
    );
    setup.seal(token, Some(id), decision)
}

#[tokio::test]
async fn an_approval_completes_the_execution_and_a_replay_is_already_decided() {
    let setup = setup().await;
    let id = start(&setup, "Jim").await;
    let sealed = link_for(&setup, &id, Decision::Approve).await;

    // The confirmation page decides nothing.
    setup
        .expect_page("/respond/succeed", &sealed, "Approve the promotion")
        .await;
    assert_eq!(setup.status(&id).await["status"], "pending");

    setup
        .expect_decision("/respond/succeed", &sealed, "is approved")
        .await;
    assert_eq!(
        final_status(&setup.sfn, &id).await,
        ("SUCCEEDED".to_owned(), None)
    );
    assert_eq!(
        setup.status(&id).await,
        json!({"requestId": id, "employeeName": "Jim", "status": "approved"})
    );

    // The token is spent: a replay, and the confirmation page, say so without an error.
    setup.expect_spent("/respond/succeed", &sealed).await;
}

#[tokio::test]
async fn a_rejection_fails_the_execution_with_rejected() {
    let setup = setup().await;
    let id = start(&setup, "Jim").await;
    let sealed = link_for(&setup, &id, Decision::Reject).await;
    // The reject link does not open on the approve page.
    let res = setup
        .client
        .post("/respond/succeed")
        .form(&[("link", sealed.as_str())])
        .send()
        .await;
    assert_eq!(res.status(), 400);

    setup
        .expect_decision("/respond/fail", &sealed, "is rejected")
        .await;
    assert_eq!(
        final_status(&setup.sfn, &id).await,
        ("FAILED".to_owned(), Some("Rejected".to_owned()))
    );
    assert_eq!(setup.status(&id).await["status"], "rejected");

    // The spent token: an approve link for it finds the task gone. (Replaying the reject
    // itself is not asked of moto 5.2.5, whose SendTaskFailure accepts tokens of executions
    // that have ended; the unit tests cover that path.)
    let payload = notify_payload(&setup.sfn, &id).await;
    let token = payload["taskToken"].as_str().unwrap();
    let approve = setup.seal(token, Some(&id), Decision::Approve);
    setup.expect_spent("/respond/succeed", &approve).await;
    // The confirmation page knows from the execution.
    setup
        .expect_page("/respond/fail", &sealed, "Already decided")
        .await;
}

#[tokio::test]
async fn unknown_requests_and_tokens_are_handled_as_such() {
    let setup = setup().await;
    let res = setup
        .client
        .get("/requests/0123456789abcdef0123456789abcdef")
        .send()
        .await;
    assert_eq!(res.status(), 404, "{}", res.text());

    // A well-sealed link whose token Step Functions never issued.
    let sealed = setup.seal("never-issued", None, Decision::Approve);
    setup
        .expect_decision("/respond/succeed", &sealed, "Already decided")
        .await;
}

#[tokio::test]
async fn notify_sends_through_ses_v2_from_a_verified_identity_only() {
    let moto = Moto::start().expect("moto server");
    let config = sdk_config(&moto.endpoint());
    let settings = Settings {
        public_url: Some("https://hr.example.com/prod".to_owned()),
        ..callback_settings(LinkKey::from_bytes(&[42; 32]))
    };
    let client = TestClient::new(approval::app_with(services(&config, settings)));
    let event = json!({
        "taskToken": "a-task-token",
        "request": {"employeeName": "Jim", "managerEmailAddress": "boss@example.com"}
    });

    // SES refuses a sender that is not a verified identity; the function fails so that the
    // state machine retries.
    let (kind, message) = client.invoke_function("notify", &event).await.unwrap_err();
    assert_eq!(kind, "NotificationFailed");
    assert!(message.contains("MessageRejected"), "{message}");
    assert!(!message.contains("a-task-token"), "{message}");

    common::verify_sender(&config, "hr@example.com").await;
    let result = client.invoke_function("notify", &event).await.unwrap();
    assert_eq!(result, json!({"notified": "boss@example.com"}));
}

#[tokio::test]
async fn a_request_nobody_decides_is_sent_again_then_times_out() {
    // The real definition with a one-second Task timeout instead of an hour.
    let definition = include_str!("../statemachines/callback.asl.json")
        .replace(r#""TimeoutSeconds": 3600"#, r#""TimeoutSeconds": 1"#);
    assert!(definition.contains(r#""TimeoutSeconds": 1,"#));
    let setup = setup_with(definition).await;
    let id = start(&setup, "Jim").await;
    assert_eq!(
        final_status(&setup.sfn, &id).await,
        ("FAILED".to_owned(), Some("NoDecision".to_owned()))
    );
    // The Retry on States.Timeout asked again once, with the same request. (Step Functions
    // gives the second attempt a new token; moto 5.2.5 reuses the first.)
    let payloads = notify_payloads(&setup.sfn, &id).await;
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    assert_eq!(payloads[0]["request"], payloads[1]["request"]);
    assert_eq!(payloads[0]["request"]["requestId"], id);
    assert_eq!(setup.status(&id).await["status"], "timedOut");

    // A link from the first mail finds the task gone.
    let token = payloads[0]["taskToken"].as_str().unwrap();
    let sealed = setup.seal(token, Some(&id), Decision::Approve);
    setup
        .expect_decision("/respond/succeed", &sealed, "Already decided")
        .await;
}
