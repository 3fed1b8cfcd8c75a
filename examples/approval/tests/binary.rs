//! The real `approval` binary under a loopback Lambda Runtime API, configured only through its
//! environment as Lambda would run it, against moto: the API starts an execution of the
//! callback state machine, the `notify` entry point mails the manager through SES v2, and the
//! decision page completes the execution. Neither process may log the task token or a link.

use std::time::Duration;

use approval::TaskToken;
use approval::link::{Decision, LinkClaims, LinkKey};
use common::{create_callback_machine, first_scheduled_task, sdk_config};
use portico_e2e::events::{ProxyResponse, rest_v1};
use portico_e2e::moto;
use portico_e2e::runtime_api::{FunctionProcess, Invocation, RuntimeApi};
use serde_json::{Value, json};

mod common;

const BINARY: &str = env!("CARGO_BIN_EXE_approval");
/// Only reached when something is wrong (debug binary, loaded machine).
const WAIT: Duration = Duration::from_secs(60);
const MACHINE_NAME: &str = "approval-e2e-PromotionApprovalCallback";
/// `base64` of 32 bytes of 42, as in the stage's env.
const LINK_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

struct Function {
    api: RuntimeApi,
    process: FunctionProcess,
}

impl Function {
    /// The binary as the function of entry point `entry`.
    fn start(entry: &str, env: &[(&str, String)]) -> Self {
        let api = RuntimeApi::start().expect("start the Runtime API");
        let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.push(("PORTICO_HANDLER", entry));
        let process = api
            .spawn_function(BINARY.as_ref(), &vars)
            .expect("spawn the approval binary");
        Self { api, process }
    }

    fn invoke(&self, event: &Value) -> Invocation {
        self.api
            .invoke(event.to_string().as_bytes(), WAIT)
            .unwrap_or_else(|e| panic!("{e:?}\n--- output ---\n{}", self.process.output()))
    }

    #[track_caller]
    fn call(&self, event: Value) -> ProxyResponse {
        match self.invoke(&event) {
            Invocation::Response(payload) => ProxyResponse::parse(&payload)
                .unwrap_or_else(|e| panic!("{e}\n--- output ---\n{}", self.process.output())),
            other => panic!("{other:?}\n--- output ---\n{}", self.process.output()),
        }
    }
}

#[tokio::test]
async fn the_binary_runs_the_callback_design_against_moto_without_logging_secrets() {
    let moto = common::moto_without_docker();
    let config = sdk_config(&moto.endpoint());
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine = create_callback_machine(
        &sfn,
        MACHINE_NAME,
        include_str!("../statemachines/callback.asl.json"),
        "arn:aws:lambda:us-east-1:123456789012:function:approval-e2e-notify",
    )
    .await;
    common::verify_sender(&config, "hr@example.com").await;

    let mut env: Vec<(&str, String)> = moto::env(&moto.endpoint());
    env.extend([
        ("APPROVAL_DESIGN", "callback".to_owned()),
        ("APPROVAL_LINK_KEY", LINK_KEY.to_owned()),
        ("APPROVAL_SENDER", "hr@example.com".to_owned()),
        ("APPROVAL_STATE_MACHINE_ARN", machine),
    ]);
    let api = Function::start("api", &env);
    let notify = Function::start("notify", &env);

    // The HR system starts a request.
    let res = api.call(
        through_keyed_resource(rest_v1("POST", "/requests"), "/requests", &[])
            .json_body(&json!({"employeeName": "Jim", "managerEmailAddress": "boss@example.com"}))
            .into_value(),
    );
    assert_eq!(res.status, 202, "{}", res.text());
    let id = res.json()["requestId"].as_str().unwrap().to_owned();

    // Step Functions (moto) scheduled the notification with the task token.
    let execution = format!("arn:aws:states:us-east-1:123456789012:execution:{MACHINE_NAME}:{id}");
    let payload = first_scheduled_task(&sfn, &execution).await["Payload"].clone();
    let token = payload["taskToken"].as_str().unwrap().to_owned();
    assert_eq!(payload["request"]["requestId"], id);

    // The notify entry point gets that payload and mails the manager (SES v2 in moto).
    match notify.invoke(&payload) {
        Invocation::Response(body) => assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"notified": "boss@example.com"})
        ),
        other => panic!("{other:?}\n--- output ---\n{}", notify.process.output()),
    }

    // The manager's link (sealed with the stage's key, as notify seals it): GET confirms,
    // POST decides.
    let sealed = LinkKey::from_base64(LINK_KEY).unwrap().seal(
        &LinkClaims {
            task_token: TaskToken::new(token.clone()),
            request_id: Some(id.clone()),
            employee: "Jim".to_owned(),
            approver: "boss@example.com".to_owned(),
            expires_at: 4_000_000_000,
        },
        Decision::Approve,
    );
    let res = api.call(
        rest_v1("GET", "/respond/succeed")
            .query("link", &sealed)
            .into_value(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        res.text().contains("Approve the promotion"),
        "{}",
        res.text()
    );
    let res = api.call(
        rest_v1("POST", "/respond/succeed")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(&format!("link={sealed}"))
            .into_value(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(res.text().contains("is approved"), "{}", res.text());

    assert_eq!(
        common::final_status(&sfn, &execution).await,
        ("SUCCEEDED".to_owned(), None)
    );
    let res = api.call(
        through_keyed_resource(
            rest_v1("GET", &format!("/requests/{id}")),
            "/requests/{id}",
            &[("id", id.as_str())],
        )
        .into_value(),
    );
    assert_eq!(res.json()["status"], "approved", "{}", res.text());

    // What the functions logged names the request, never the token or the link.
    for (name, function) in [("api", &api), ("notify", &notify)] {
        let output = function.process.output();
        assert!(output.contains(&id), "{name}: {output}");
        assert!(
            !output.contains(&token),
            "{name} logged the token: {output}"
        );
        assert!(
            !output.contains(&sealed),
            "{name} logged the link: {output}"
        );
        assert!(
            !output.contains(LINK_KEY),
            "{name} logged the key: {output}"
        );
    }
}

/// `event` as API Gateway sends it for a key-required route: through the route's own
/// resource, with the key it checked (the app refuses keyed routes reached otherwise).
fn through_keyed_resource(
    event: portico_e2e::events::RestEvent,
    resource: &str,
    path_parameters: &[(&str, &str)],
) -> portico_e2e::events::RestEvent {
    event
        .through_resource(resource, path_parameters)
        .api_key("hr-system-key", "hrkeyid123")
}
