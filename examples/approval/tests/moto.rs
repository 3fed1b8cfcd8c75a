//! The decision path against moto server: the callback design's state machine runs in moto's
//! Step Functions engine; the app (its real SDK clients, pointed at moto) starts executions,
//! and the decision pages send the task token back.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use approval::link::{Decision, LinkClaims, LinkKey};
use approval::services::Aws;
use approval::{Design, Services, Settings, TaskToken};
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use portico::testing::TestClient;
use portico_e2e::moto::Moto;
use serde_json::{Value, json};

const NOTIFY_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:approval-test-notify";

fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "moto",
        )))
        .behavior_version(BehaviorVersion::latest())
        .build()
}

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
    let moto = Moto::start().expect("moto server");
    // moto's Lambda answers the state machine's invoke itself instead of running the
    // function in Docker: the notification is not under test here, the decision is.
    moto.request(
        "POST",
        "/moto-api/config",
        r#"{"lambda":{"use_docker":false}}"#,
    )
    .expect("moto config");
    let config = sdk_config(&moto.endpoint());
    let sfn = aws_sdk_sfn::Client::new(&config);
    let definition = definition.replace("${function:notify}", NOTIFY_ARN);
    assert!(!definition.contains("${"), "unresolved substitution");
    let machine = sfn
        .create_state_machine()
        .name("approval-test-PromotionApprovalCallback")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/approval-test-states")
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_owned();
    let key = LinkKey::from_bytes(&[42; 32]);
    let aws = Arc::new(Aws::from_config(config));
    let services = Services {
        sfn: aws.clone(),
        mailer: aws,
        settings: Arc::new(Settings {
            design: Ok(Design::Callback),
            link_key: Ok(key.clone()),
            sender: Some("hr@example.com".to_owned()),
            state_machine_arn: Some(machine),
            activity_arn: None,
            public_url: None,
            link_ttl: 3600,
        }),
    };
    Setup {
        _moto: moto,
        sfn,
        key,
        client: TestClient::new(approval::app_with(services)),
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
    let history = sfn
        .get_execution_history()
        .execution_arn(execution_arn(id))
        .send()
        .await
        .expect("GetExecutionHistory");
    history
        .events()
        .iter()
        .filter_map(|e| e.task_scheduled_event_details())
        .map(|d| serde_json::from_str::<Value>(d.parameters()).unwrap()["Payload"].clone())
        .collect()
}

/// The `Payload` moto's engine invoked `notify` with, from the TaskScheduled event.
async fn notify_payload(sfn: &aws_sdk_sfn::Client, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let history = sfn
            .get_execution_history()
            .execution_arn(execution_arn(id))
            .send()
            .await
            .expect("GetExecutionHistory");
        let scheduled = history.events().iter().find_map(|e| {
            e.task_scheduled_event_details()
                .map(|d| d.parameters().to_owned())
        });
        if let Some(parameters) = scheduled {
            let parameters: Value = serde_json::from_str(&parameters).unwrap();
            assert_eq!(parameters["FunctionName"], NOTIFY_ARN);
            return parameters["Payload"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no TaskScheduled event: {history:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The execution's status once it leaves RUNNING, and its error.
async fn final_status(sfn: &aws_sdk_sfn::Client, id: &str) -> (String, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = sfn
            .describe_execution()
            .execution_arn(execution_arn(id))
            .send()
            .await
            .expect("DescribeExecution");
        let status = out.status().as_str().to_owned();
        if status != "RUNNING" {
            return (status, out.error().map(str::to_owned));
        }
        assert!(Instant::now() < deadline, "still RUNNING");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Seals the link a manager would get for the waiting task of request `id`.
async fn link_for(setup: &Setup, id: &str, decision: Decision) -> String {
    let payload = notify_payload(&setup.sfn, id).await;
    let token = payload["taskToken"]
        .as_str()
        .expect("a task token")
        .to_owned();
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
    let claims = LinkClaims {
        task_token: TaskToken::new(token),
        request_id: Some(id.to_owned()),
        employee: "Jim".to_owned(),
        approver: "boss@example.com".to_owned(),
        expires_at: now() + 600,
    };
    setup.key.seal(&claims, decision)
}

#[tokio::test]
async fn an_approval_completes_the_execution_and_a_replay_is_already_decided() {
    let setup = setup().await;
    let id = start(&setup, "Jim").await;
    let sealed = link_for(&setup, &id, Decision::Approve).await;

    // The confirmation page decides nothing.
    let res = setup
        .client
        .get(&format!("/respond/succeed?link={sealed}"))
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text().contains("Approve the promotion"),
        "{}",
        res.text()
    );
    let status = setup.client.get(&format!("/requests/{id}")).send().await;
    assert_eq!(status.json()["status"], "pending");

    let res = setup
        .client
        .post("/respond/succeed")
        .form(&[("link", &sealed)])
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("is approved"), "{}", res.text());
    assert_eq!(
        final_status(&setup.sfn, &id).await,
        ("SUCCEEDED".to_owned(), None)
    );
    let status = setup.client.get(&format!("/requests/{id}")).send().await;
    assert_eq!(
        status.json(),
        json!({"requestId": id, "employeeName": "Jim", "status": "approved"})
    );

    // The token is spent: a replay, and the confirmation page, say so without an error.
    let res = setup
        .client
        .post("/respond/succeed")
        .form(&[("link", &sealed)])
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("Already decided"), "{}", res.text());
    let res = setup
        .client
        .get(&format!("/respond/succeed?link={sealed}"))
        .send()
        .await;
    assert!(res.text().contains("Already decided"), "{}", res.text());
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
        .form(&[("link", &sealed)])
        .send()
        .await;
    assert_eq!(res.status(), 400);

    let res = setup
        .client
        .post("/respond/fail")
        .form(&[("link", &sealed)])
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("is rejected"), "{}", res.text());
    assert_eq!(
        final_status(&setup.sfn, &id).await,
        ("FAILED".to_owned(), Some("Rejected".to_owned()))
    );
    let status = setup.client.get(&format!("/requests/{id}")).send().await;
    assert_eq!(status.json()["status"], "rejected");

    // The spent token: an approve link for it finds the task gone. (Replaying the reject
    // itself is not asked of moto 5.2.5, whose SendTaskFailure accepts tokens of executions
    // that have ended; the unit tests cover that path.)
    let claims = LinkClaims {
        task_token: TaskToken::new(
            notify_payload(&setup.sfn, &id).await["taskToken"]
                .as_str()
                .unwrap(),
        ),
        request_id: Some(id.clone()),
        employee: "Jim".to_owned(),
        approver: "boss@example.com".to_owned(),
        expires_at: now() + 600,
    };
    let approve = setup.key.seal(&claims, Decision::Approve);
    let res = setup
        .client
        .post("/respond/succeed")
        .form(&[("link", &approve)])
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("Already decided"), "{}", res.text());
    // The confirmation page knows from the execution.
    let res = setup
        .client
        .get(&format!("/respond/fail?link={sealed}"))
        .send()
        .await;
    assert!(res.text().contains("Already decided"), "{}", res.text());
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
    let claims = LinkClaims {
        task_token: TaskToken::new("never-issued"),
        request_id: None,
        employee: "Jim".to_owned(),
        approver: "boss@example.com".to_owned(),
        expires_at: now() + 600,
    };
    let sealed = setup.key.seal(&claims, Decision::Approve);
    let res = setup
        .client
        .post("/respond/succeed")
        .form(&[("link", &sealed)])
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("Already decided"), "{}", res.text());
}

#[tokio::test]
async fn notify_sends_through_ses_v2_from_a_verified_identity_only() {
    let moto = Moto::start().expect("moto server");
    let config = sdk_config(&moto.endpoint());
    let aws = Arc::new(Aws::from_config(config.clone()));
    let client = TestClient::new(approval::app_with(Services {
        sfn: aws.clone(),
        mailer: aws,
        settings: Arc::new(Settings {
            design: Ok(Design::Callback),
            link_key: Ok(LinkKey::from_bytes(&[42; 32])),
            sender: Some("hr@example.com".to_owned()),
            state_machine_arn: None,
            activity_arn: None,
            public_url: Some("https://hr.example.com/prod".to_owned()),
            link_ttl: 3600,
        }),
    }));
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

    aws_sdk_sesv2::Client::new(&config)
        .create_email_identity()
        .email_identity("hr@example.com")
        .send()
        .await
        .expect("CreateEmailIdentity");
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
    let status = setup.client.get(&format!("/requests/{id}")).send().await;
    assert_eq!(status.json()["status"], "timedOut");

    // A link from the first mail finds the task gone.
    let claims = LinkClaims {
        task_token: TaskToken::new(payloads[0]["taskToken"].as_str().unwrap()),
        request_id: Some(id.clone()),
        employee: "Jim".to_owned(),
        approver: "boss@example.com".to_owned(),
        expires_at: now() + 600,
    };
    let sealed = setup.key.seal(&claims, Decision::Approve);
    let res = setup
        .client
        .post("/respond/succeed")
        .form(&[("link", &sealed)])
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("Already decided"), "{}", res.text());
}
