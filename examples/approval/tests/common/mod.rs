//! What the moto tests share: SDK clients pointed at moto server, the callback state machine
//! in moto's Step Functions engine, and waiting on its executions.

use std::time::{Duration, Instant};

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use portico_e2e::moto::Moto;
use serde_json::Value;

/// How long an execution may take to schedule its task or to finish.
const WAIT: Duration = Duration::from_secs(20);

/// The SDK configuration of a client of the moto server at `endpoint`.
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "moto",
        )))
        .behavior_version(BehaviorVersion::latest())
        .build()
}

/// A moto server whose Lambda answers the state machine's invoke itself instead of running
/// the function in Docker: the notification is not under test there, the decision is.
pub fn moto_without_docker() -> Moto {
    let moto = Moto::start().expect("moto server");
    moto.request(
        "POST",
        "/moto-api/config",
        r#"{"lambda":{"use_docker":false}}"#,
    )
    .expect("moto config");
    moto
}

/// Creates the state machine `name` from the callback `definition`, its `notify` task
/// invoking `notify_arn`; its ARN.
pub async fn create_callback_machine(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    definition: &str,
    notify_arn: &str,
) -> String {
    let definition = definition.replace("${function:notify}", notify_arn);
    assert!(!definition.contains("${"), "unresolved substitution");
    sfn.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(format!("arn:aws:iam::123456789012:role/{name}-states"))
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_owned()
}

/// The Lambda invoke parameters of every TaskScheduled event of `execution` so far.
pub async fn scheduled_tasks(sfn: &aws_sdk_sfn::Client, execution: &str) -> Vec<Value> {
    let history = sfn
        .get_execution_history()
        .execution_arn(execution)
        .send()
        .await
        .expect("GetExecutionHistory");
    history
        .events()
        .iter()
        .filter_map(|e| e.task_scheduled_event_details())
        .map(|d| serde_json::from_str::<Value>(d.parameters()).unwrap())
        .collect()
}

/// The Lambda invoke parameters of the first task `execution` schedules, once it has.
pub async fn first_scheduled_task(sfn: &aws_sdk_sfn::Client, execution: &str) -> Value {
    wait_for("a TaskScheduled event", || async {
        scheduled_tasks(sfn, execution).await.into_iter().next()
    })
    .await
}

/// The status of `execution` once it leaves RUNNING, and its error.
pub async fn final_status(sfn: &aws_sdk_sfn::Client, execution: &str) -> (String, Option<String>) {
    wait_for("the execution to leave RUNNING", || async {
        let out = sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .expect("DescribeExecution");
        let status = out.status().as_str().to_owned();
        (status != "RUNNING").then(|| (status, out.error().map(str::to_owned)))
    })
    .await
}

/// What `probe` finds, polling until it finds something.
async fn wait_for<T, F: Future<Output = Option<T>>>(what: &str, mut probe: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
/// Makes `address` a verified SES identity, from which SES v2 then sends.
pub async fn verify_sender(config: &aws_config::SdkConfig, address: &str) {
    aws_sdk_sesv2::Client::new(config)
        .create_email_identity()
        .email_identity(address)
        .send()
        .await
        .expect("CreateEmailIdentity");
}
