//! The approval example: an employee's promotion waits in a Step Functions execution until the
//! manager approves or rejects it from links in an e-mail.
//!
//! - `POST /requests` (API key) `{"employeeName", "managerEmailAddress"}` starts an execution
//!   of the configured design's state machine → 202 `{"requestId", "status", "statusUrl"}`.
//! - `GET /requests/{id}` (API key) → `{"requestId", "employeeName", "status"}` with status
//!   `pending`, `approved`, `rejected`, `timedOut`, …
//! - `GET /respond/succeed?link=…`, `GET /respond/fail?link=…`: a confirmation page; only the
//!   page's form (`POST` of the same path, `link` in the body) decides, with `SendTaskSuccess`
//!   or `SendTaskFailure` (error `Rejected`).
//! - The `worker` schedule (activity design) polls `GetActivityTask` and mails the manager;
//!   the `notify` function (callback design, [`notify_callback`]) does the same for a
//!   `.waitForTaskToken` task.
//!
//! Links never carry the task token in clear: see [`link`]. Configuration comes from the
//! environment: see [`Settings`] and the example's README.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // A decision page without its link answers 400 before any AWS call.
//! let client = portico::testing::TestClient::new(approval::app());
//! let res = client.get("/respond/succeed").send().await;
//! assert_eq!(res.status(), 400);
//! assert!(res.text().contains("Incomplete link"));
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use portico::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub mod link;
pub mod pages;
pub mod services;

use link::{Decision, KeyError, LinkClaims, LinkError, LinkKey};
use pages::Page;
use services::{Aws, Mail, Mailer, SfnError, StepFunctions};

/// A Step Functions task token. Its `Debug` never shows it and it has no `Display`, so it
/// cannot end up in a log line by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskToken(String);

impl TaskToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, for the Step Functions call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken(<{} characters>)", self.0.len())
    }
}

/// Which of the two designs the app runs (`APPROVAL_DESIGN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Design {
    /// The original: state machine `PromotionApproval` waits on activity `ManualStep`; the
    /// `worker` schedule polls for it.
    Activity,
    /// State machine `PromotionApprovalCallback` invokes the `notify` function with
    /// `.waitForTaskToken`.
    Callback,
}

impl Design {
    /// The `[[state_machines]]` name of this design in `portico.toml`.
    pub fn state_machine(self) -> &'static str {
        match self {
            Design::Activity => "PromotionApproval",
            Design::Callback => "PromotionApprovalCallback",
        }
    }

    /// `activity` or `callback`.
    pub fn as_str(self) -> &'static str {
        match self {
            Design::Activity => "activity",
            Design::Callback => "callback",
        }
    }
}

/// The activity's `[[activities]]` name in `portico.toml`.
pub const ACTIVITY: &str = "ManualStep";

/// The app's configuration, from the environment. Problems are kept, not fatal: they are
/// printed at start ([`Settings::problems`]) and fail the requests that need the setting.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `APPROVAL_DESIGN`: `activity` (default) or `callback`.
    pub design: Result<Design, String>,
    /// `APPROVAL_LINK_KEY`: 32 bytes, base64.
    pub link_key: Result<LinkKey, KeyError>,
    /// `APPROVAL_SENDER`: the From address (an SES identity of the app).
    pub sender: Option<String>,
    /// `APPROVAL_STATE_MACHINE_ARN`: overrides the ARN derived from the function's own.
    pub state_machine_arn: Option<String>,
    /// `APPROVAL_ACTIVITY_ARN`: overrides the ARN derived from the function's own.
    pub activity_arn: Option<String>,
    /// `APPROVAL_PUBLIC_URL`: the API's base URL (stage included) for the links, instead of
    /// the URL `POST /requests` was called on; also for executions whose input has no links
    /// (started from the console rather than `POST /requests`).
    pub public_url: Option<String>,
    /// `APPROVAL_LINK_TTL_SECONDS`: how long links work (default 3600, the Task's timeout).
    pub link_ttl: u64,
}

impl Settings {
    /// The settings in the process environment.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let design = match var("APPROVAL_DESIGN").as_deref() {
            None | Some("activity") => Ok(Design::Activity),
            Some("callback") => Ok(Design::Callback),
            Some(other) => Err(format!(
                "APPROVAL_DESIGN is `{other}`; use `activity` or `callback`"
            )),
        };
        let link_ttl = match var("APPROVAL_LINK_TTL_SECONDS") {
            None => 3600,
            Some(text) => text.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| {
                eprintln!(
                    "approval: APPROVAL_LINK_TTL_SECONDS `{text}` is not a positive number; using 3600"
                );
                3600
            }),
        };
        Self {
            design,
            link_key: LinkKey::from_env(),
            sender: var("APPROVAL_SENDER"),
            state_machine_arn: var("APPROVAL_STATE_MACHINE_ARN"),
            activity_arn: var("APPROVAL_ACTIVITY_ARN"),
            public_url: var("APPROVAL_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            link_ttl,
        }
    }

    /// What is wrong with these settings, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = &self.design {
            problems.push(e.clone());
        }
        if let Err(e) = &self.link_key {
            problems.push(e.to_string());
        }
        if self.sender.is_none() {
            problems.push(
                "APPROVAL_SENDER is not set; set it to the [[email_identities]] address mail is sent from"
                    .to_owned(),
            );
        }
        problems
    }

    /// The state machine of the configured design: `APPROVAL_STATE_MACHINE_ARN`, else the ARN
    /// beside this function's (`arn:…:function:<app>-<stage>-<entry>` →
    /// `arn:…:stateMachine:<app>-<stage>-<machine>`).
    ///
    /// # Errors
    /// When neither gives one.
    pub fn state_machine_arn(&self, function_arn: &str) -> Result<String, String> {
        if let Some(arn) = &self.state_machine_arn {
            return Ok(arn.clone());
        }
        let design = self.design.clone()?;
        sibling_arn(function_arn, "stateMachine", design.state_machine()).ok_or_else(|| {
            format!(
                "cannot tell the state machine's ARN from the function ARN `{function_arn}`; \
                 set APPROVAL_STATE_MACHINE_ARN"
            )
        })
    }

    /// The activity: `APPROVAL_ACTIVITY_ARN`, else the ARN beside this function's.
    ///
    /// # Errors
    /// When neither gives one.
    pub fn activity_arn(&self, function_arn: &str) -> Result<String, String> {
        if let Some(arn) = &self.activity_arn {
            return Ok(arn.clone());
        }
        sibling_arn(function_arn, "activity", ACTIVITY).ok_or_else(|| {
            format!(
                "cannot tell the activity's ARN from the function ARN `{function_arn}`; \
                 set APPROVAL_ACTIVITY_ARN"
            )
        })
    }
}

/// The ARN of Step Functions resource `name` of the same app and stage as the function
/// `function_arn`: `portico deploy` names both `<app>-<stage>-…` in the same region and account.
pub fn sibling_arn(function_arn: &str, kind: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = function_arn.split(':').collect();
    let [
        "arn",
        partition,
        "lambda",
        region,
        account,
        "function",
        function,
        ..,
    ] = parts.as_slice()
    else {
        return None;
    };
    // `<app>-<stage>-<entry point>`; a function named otherwise was not deployed by
    // `portico deploy`, and only the explicit variables can say where its resources are.
    let entry = std::env::var("PORTICO_HANDLER").unwrap_or_else(|_| "api".to_owned());
    let prefix = function
        .strip_suffix(entry.as_str())
        .and_then(|p| p.strip_suffix('-'))?;
    if prefix.is_empty() {
        return None;
    }
    Some(format!(
        "arn:{partition}:states:{region}:{account}:{kind}:{prefix}-{name}"
    ))
}

/// An execution's ARN from its state machine's and its name.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (head, machine) = state_machine_arn.split_once(":stateMachine:")?;
    Some(format!("{head}:execution:{machine}:{name}"))
}

/// What the app needs at run time: the AWS services and the settings.
#[derive(Debug, Clone)]
pub struct Services {
    /// Step Functions.
    pub sfn: Arc<dyn StepFunctions>,
    /// SES.
    pub mailer: Arc<dyn Mailer>,
    /// Configuration.
    pub settings: Arc<Settings>,
}

impl Services {
    /// The AWS SDK (clients built on first use) and the environment's settings.
    pub fn from_env() -> Self {
        let aws = Arc::new(Aws::from_env());
        Self {
            sfn: aws.clone(),
            mailer: aws,
            settings: Arc::new(Settings::from_env()),
        }
    }
}

/// The links for the two decisions, without their `link` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// `…/respond/succeed`.
    pub approve: String,
    /// `…/respond/fail`.
    pub reject: String,
}

/// An execution's input: who is to be promoted, who decides, and where the links point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    /// The employee.
    pub employee_name: String,
    /// The manager who decides.
    pub manager_email_address: String,
    /// The execution's name, when started through `POST /requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The public links, when started through `POST /requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
}

impl ApprovalRequest {
    /// Checks the fields a person typed.
    ///
    /// # Errors
    /// What is wrong, for a 400 or a failed notification.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.employee_name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(
                "`employeeName` must be 1 to 200 characters without control characters".to_owned(),
            );
        }
        // The name goes into the mail's subject: a bidi override there can make
        // "Jim\u{202E}gnp.exe" read as "Jimexe.png" in the manager's inbox.
        if name.chars().any(is_bidi_control) {
            return Err(
                "`employeeName` must not contain bidirectional control characters \
                 (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069)"
                    .to_owned(),
            );
        }
        if let Err(why) = check_email_address(&self.manager_email_address) {
            return Err(format!(
                "`managerEmailAddress` is not an address SES can send to: {why}"
            ));
        }
        if let Some(links) = &self.links {
            for url in [&links.approve, &links.reject] {
                if !(url.starts_with("https://") || url.starts_with("http://"))
                    || url.contains(['?', '#', '"', '<', '>', ' '])
                {
                    return Err("`links` must be plain http(s) URLs".to_owned());
                }
            }
        }
        Ok(())
    }
}

/// Whether `c` changes the direction of the text around it (Unicode's bidirectional
/// formatting characters: embeddings, overrides, isolates and the implicit marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a single address the way SES does, so that a request SES would refuse gets a 400
/// now rather than a notification that fails after its retries: SES has no SMTPUTF8, so the
/// address is 7-bit ASCII (a Unicode domain is given in Punycode, `xn--…`); the local part is
/// dot-separated words of letters, digits and ``!#$%&'*+-/=?^_`{|}~`` (no leading, trailing or
/// doubled dot; quoted local parts are not taken here); the domain is at least two host-name
/// labels (letters, digits, `-`; 1 to 63 characters; no `-` at either end).
fn check_email_address(text: &str) -> Result<(), &'static str> {
    const ATEXT: &str = "!#$%&'*+-/=?^_`{|}~";
    if !text.is_ascii() {
        return Err(
            "it must be 7-bit ASCII (give a Unicode domain in Punycode, xn--…; a Unicode local \
             part cannot be sent)",
        );
    }
    let Some((local, domain)) = text.rsplit_once('@') else {
        return Err("it has no '@domain'");
    };
    if local.is_empty() || local.len() > 64 || text.len() > 254 {
        return Err("the part before '@' must be 1 to 64 characters, the whole at most 254");
    }
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || ATEXT.contains(c))
    };
    if !local.split('.').all(word) {
        return Err(
            "the part before '@' must be letters, digits and !#$%&'*+-/=?^_`{|}~ between single dots",
        );
    }
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.split('.').count() < 2 || !domain.split('.').all(label) {
        return Err(
            "the domain must be two or more labels of letters, digits and '-' between single dots",
        );
    }
    Ok(())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a manager could not be notified. Reported to Step Functions as error
/// `NotificationFailed` (the state machines retry it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationFailed(pub String);

impl fmt::Display for NotificationFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotificationFailed {}

/// Seals the two links for `token` and mails them to the manager.
///
/// # Errors
/// [`NotificationFailed`] when the input, the configuration or SES is at fault.
pub async fn notify_manager(
    services: &Services,
    request: &ApprovalRequest,
    token: TaskToken,
) -> Result<(), NotificationFailed> {
    let fail = |m: String| NotificationFailed(m);
    request.validate().map_err(fail)?;
    let settings = &services.settings;
    let key = settings
        .link_key
        .as_ref()
        .map_err(|e| fail(e.to_string()))?;
    let sender = settings.sender.clone().ok_or_else(|| {
        fail("APPROVAL_SENDER is not set; set it to the address mail is sent from".to_owned())
    })?;
    let links = match (&request.links, &settings.public_url) {
        (Some(links), _) => links.clone(),
        (None, Some(base)) => Links {
            approve: format!("{base}/respond/succeed"),
            reject: format!("{base}/respond/fail"),
        },
        (None, None) => {
            return Err(fail(
                "the execution input has no `links` and APPROVAL_PUBLIC_URL is not set".to_owned(),
            ));
        }
    };
    let claims = LinkClaims {
        task_token: token,
        request_id: request.request_id.clone(),
        employee: request.employee_name.trim().to_owned(),
        approver: request.manager_email_address.clone(),
        expires_at: now().saturating_add(settings.link_ttl),
    };
    let approve = format!(
        "{}?link={}",
        links.approve,
        key.seal(&claims, Decision::Approve)
    );
    let reject = format!(
        "{}?link={}",
        links.reject,
        key.seal(&claims, Decision::Reject)
    );
    let mail = approval_mail(&sender, &claims, &approve, &reject, settings.link_ttl);
    services.mailer.send(mail).await.map_err(|e| {
        fail(format!(
            "cannot send the approval e-mail to {}: {e}",
            claims.approver
        ))
    })?;
    eprintln!(
        "approval: request {} mailed to {}",
        claims.request_id.as_deref().unwrap_or("-"),
        claims.approver
    );
    Ok(())
}

/// The e-mail with both links, in text and HTML.
fn approval_mail(sender: &str, claims: &LinkClaims, approve: &str, reject: &str, ttl: u64) -> Mail {
    let employee = &claims.employee;
    let minutes = ttl.div_ceil(60);
    let text = format!(
        "{employee} has been nominated for promotion and needs your decision.\n\n\
         Approve: {approve}\n\nReject: {reject}\n\n\
         Each link opens a page where you confirm. The links work for {minutes} minutes.\n"
    );
    let e = pages::escape;
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p><strong>{}</strong> has been nominated for promotion and needs your decision.</p>\
         <p><a href=\"{}\">Approve</a> &nbsp; <a href=\"{}\">Reject</a></p>\
         <p style=\"color:#666\">Each link opens a page where you confirm. \
         The links work for {minutes} minutes.</p></body></html>",
        e(employee),
        e(approve),
        e(reject),
    );
    Mail {
        from: sender.to_owned(),
        to: claims.approver.clone(),
        subject: format!("Promotion approval requested: {employee}"),
        text,
        html,
    }
}

/// The event the callback design's state machine invokes `notify` with: the Task's
/// `Parameters.Payload` (`{"taskToken.$": "$$.Task.Token", "request.$": "$"}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyInput {
    /// The task token to hand to the manager's links.
    pub task_token: TaskToken,
    /// The execution's input.
    pub request: ApprovalRequest,
}

/// The callback design's notification: mails the manager the links for `input.task_token`.
/// Returning does not end the Task: it waits until a link's POST sends the token back.
///
/// # Errors
/// [`NotificationFailed`] (the function's `errorType`, retried by the state machine).
pub async fn notify_callback(
    services: &Services,
    input: NotifyInput,
) -> Result<Value, NotificationFailed> {
    notify_manager(services, &input.request, input.task_token).await?;
    Ok(json!({"notified": input.request.manager_email_address}))
}

/// The `notify` entry point the callback design's state machine invokes.
#[function]
async fn notify(
    Json(input): Json<NotifyInput>,
    State(services): State<Services>,
) -> Result<Json<Value>, NotificationFailed> {
    notify_callback(&services, input).await.map(Json)
}

/// The activity design's worker: one `GetActivityTask` long poll; a task's manager is mailed,
/// and a task that cannot be mailed fails with `NotificationFailed` rather than wait an hour.
///
/// # Errors
/// When Step Functions cannot be asked (the invocation fails; the next one tries again).
pub async fn poll_activity(
    services: &Services,
    function_arn: &str,
    worker: &str,
) -> Result<(), String> {
    match &services.settings.design {
        Ok(Design::Activity) => {}
        Ok(Design::Callback) => return Ok(()),
        Err(e) => return Err(e.clone()),
    }
    let activity = services.settings.activity_arn(function_arn)?;
    let Some(task) = services
        .sfn
        .get_activity_task(&activity, worker)
        .await
        .map_err(|e| format!("GetActivityTask: {e}"))?
    else {
        return Ok(());
    };
    let outcome = match serde_json::from_str::<ApprovalRequest>(&task.input) {
        Ok(request) => notify_manager(services, &request, task.token.clone()).await,
        Err(e) => Err(NotificationFailed(format!(
            "the task's input is not a promotion request: {e}"
        ))),
    };
    if let Err(failure) = outcome {
        eprintln!("approval: notification failed: {failure}");
        match services
            .sfn
            .send_task_failure(&task.token, "NotificationFailed", failure.0)
            .await
        {
            Ok(()) | Err(SfnError::TaskGone) => {}
            Err(e) => return Err(format!("SendTaskFailure: {e}")),
        }
    }
    Ok(())
}

/// The body of `POST /requests`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewRequest {
    employee_name: String,
    manager_email_address: String,
}

/// The public URLs the request came through (stage prefix or custom domain included): of the
/// decision pages, for the mail, and of the API, for the status URL. `None` when the event
/// names no host.
struct PublicUrls {
    links: Option<Links>,
    base: Option<String>,
}

impl portico::FromRequest for PublicUrls {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        let links = match (
            req.url_for("approve_page", &[]),
            req.url_for("reject_page", &[]),
        ) {
            (Ok(approve), Ok(reject)) => Some(Links { approve, reject }),
            _ => None,
        };
        Ok(Self {
            links,
            base: req.public_base_url(),
        })
    }
}

/// The function's own ARN, when run by Lambda.
fn function_arn(ctx: &Option<LambdaContext>) -> &str {
    ctx.as_ref().map_or("", |c| c.invoked_function_arn.as_str())
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[post(
    "/requests",
    api_key_required = true,
    content_types = ["application/json"]
)]
async fn start_request(
    Json(body): Json<NewRequest>,
    State(services): State<Services>,
    urls: PublicUrls,
    ctx: Option<LambdaContext>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let settings = &services.settings;
    let design = settings.design.clone().map_err(HttpError::internal)?;
    // `APPROVAL_PUBLIC_URL` wins: it is set for a custom domain the request did not use.
    let links = settings
        .public_url
        .as_ref()
        .map(|base| Links {
            approve: format!("{base}/respond/succeed"),
            reject: format!("{base}/respond/fail"),
        })
        .or(urls.links)
        .ok_or_else(|| {
            HttpError::internal(
                "the request names no host to build the decision links on; set APPROVAL_PUBLIC_URL",
            )
        })?;
    let request = ApprovalRequest {
        employee_name: body.employee_name.trim().to_owned(),
        manager_email_address: body.manager_email_address.trim().to_owned(),
        request_id: Some(random_id()),
        links: Some(links),
    };
    request.validate().map_err(HttpError::bad_request)?;
    let id = request.request_id.clone().unwrap_or_default();
    let machine = settings
        .state_machine_arn(function_arn(&ctx))
        .map_err(HttpError::internal)?;
    let input = serde_json::to_string(&request).map_err(HttpError::internal)?;
    services
        .sfn
        .start_execution(&machine, &id, input)
        .await
        .map_err(|e| HttpError::internal(format!("StartExecution: {e}")))?;
    eprintln!(
        "approval: request {id} started ({} design)",
        design.as_str()
    );
    let status_url = urls.base.map(|base| format!("{base}/requests/{id}"));
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "requestId": id,
            "status": "pending",
            "design": design.as_str(),
            "statusUrl": status_url,
        })),
    ))
}

#[get("/requests/{id}", api_key_required = true)]
async fn request_status(
    id: String,
    State(services): State<Services>,
    ctx: Option<LambdaContext>,
) -> Result<Json<Value>, HttpError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(HttpError::not_found(format!("no request `{id}`")));
    }
    let machine = services
        .settings
        .state_machine_arn(function_arn(&ctx))
        .map_err(HttpError::internal)?;
    let execution = execution_arn(&machine, &id)
        .ok_or_else(|| HttpError::internal(format!("`{machine}` is not a state machine ARN")))?;
    let info = match services.sfn.describe_execution(&execution).await {
        Ok(info) => info,
        Err(SfnError::ExecutionDoesNotExist) => {
            return Err(HttpError::not_found(format!("no request `{id}`")));
        }
        Err(e) => return Err(HttpError::internal(format!("DescribeExecution: {e}"))),
    };
    let employee = info
        .input
        .as_deref()
        .and_then(|i| serde_json::from_str::<ApprovalRequest>(i).ok())
        .map(|r| r.employee_name);
    Ok(Json(json!({
        "requestId": id,
        "employeeName": employee,
        "status": request_status_name(&info.status, info.error.as_deref()),
    })))
}

/// A request's status from its execution's.
fn request_status_name(status: &str, error: Option<&str>) -> String {
    match (status, error) {
        ("RUNNING" | "PENDING_REDRIVE", _) => "pending".to_owned(),
        ("SUCCEEDED", _) => "approved".to_owned(),
        ("FAILED", Some("Rejected")) => "rejected".to_owned(),
        ("FAILED", Some("NoDecision")) | ("TIMED_OUT", _) => "timedOut".to_owned(),
        (other, _) => other.to_lowercase(),
    }
}

/// `?link=…` or the form field `link`.
#[derive(Debug, Deserialize)]
struct LinkParam {
    link: Option<String>,
}

fn link_value(param: Option<LinkParam>) -> Result<String, Page> {
    param
        .and_then(|p| p.link)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| pages::missing_parameter("link"))
}

/// Opens a link for `decision`, or the page saying why not.
fn open_link(services: &Services, sealed: &str, decision: Decision) -> Result<LinkClaims, Page> {
    let key = services.settings.link_key.as_ref().map_err(|e| {
        eprintln!("approval: {e}");
        pages::unavailable()
    })?;
    key.open(sealed, decision, now()).map_err(|e| match e {
        LinkError::Malformed | LinkError::Forged => {
            eprintln!("approval: refused a link to {}: {e}", decision.as_str());
            pages::invalid_link()
        }
        LinkError::Expired { employee } => pages::expired(&employee),
    })
}

/// GET: the confirmation page, or "already decided" when the execution is known to be over.
async fn confirmation(
    services: &Services,
    param: Option<LinkParam>,
    decision: Decision,
    ctx: &Option<LambdaContext>,
) -> Page {
    let sealed = match link_value(param) {
        Ok(sealed) => sealed,
        Err(page) => return page,
    };
    let claims = match open_link(services, &sealed, decision) {
        Ok(claims) => claims,
        Err(page) => return page,
    };
    // Best effort: a request known to be over says so at once. Any doubt shows the form; the
    // POST is what checks for real.
    if let Some(id) = &claims.request_id {
        let execution = services
            .settings
            .state_machine_arn(function_arn(ctx))
            .ok()
            .and_then(|m| execution_arn(&m, id));
        if let Some(execution) = execution {
            if let Ok(info) = services.sfn.describe_execution(&execution).await {
                if info.status != "RUNNING" {
                    return pages::already_decided(&claims.employee);
                }
            }
        }
    }
    pages::confirm(&claims.employee, &claims.approver, decision, &sealed)
}

/// POST: the decision.
async fn decide(services: &Services, param: Option<LinkParam>, decision: Decision) -> Page {
    let sealed = match link_value(param) {
        Ok(sealed) => sealed,
        Err(page) => return page,
    };
    let claims = match open_link(services, &sealed, decision) {
        Ok(claims) => claims,
        Err(page) => return page,
    };
    let request = claims.request_id.as_deref().unwrap_or("-");
    let sent = match decision {
        Decision::Approve => {
            let output = json!({
                "decision": "approved",
                "approver": claims.approver,
                "requestId": claims.request_id,
            });
            services
                .sfn
                .send_task_success(&claims.task_token, output.to_string())
                .await
        }
        Decision::Reject => {
            services
                .sfn
                .send_task_failure(
                    &claims.task_token,
                    "Rejected",
                    format!("rejected by {}", claims.approver),
                )
                .await
        }
    };
    match sent {
        Ok(()) => {
            eprintln!(
                "approval: request {request}: {} by {}",
                decision.as_str(),
                claims.approver
            );
            pages::decided(&claims.employee, decision)
        }
        Err(SfnError::TaskGone) => {
            eprintln!("approval: request {request}: already decided or timed out");
            pages::already_decided(&claims.employee)
        }
        Err(e) => {
            eprintln!(
                "approval: request {request}: cannot record the decision ({}): {e}",
                decision.as_str()
            );
            pages::unavailable()
        }
    }
}

#[get("/respond/succeed")]
async fn approve_page(
    query: Option<Query<LinkParam>>,
    State(services): State<Services>,
    ctx: Option<LambdaContext>,
) -> Page {
    confirmation(&services, query.map(|q| q.0), Decision::Approve, &ctx).await
}

#[get("/respond/fail")]
async fn reject_page(
    query: Option<Query<LinkParam>>,
    State(services): State<Services>,
    ctx: Option<LambdaContext>,
) -> Page {
    confirmation(&services, query.map(|q| q.0), Decision::Reject, &ctx).await
}

#[post("/respond/succeed")]
async fn approve(form: Option<Form<LinkParam>>, State(services): State<Services>) -> Page {
    decide(&services, form.map(|f| f.0), Decision::Approve).await
}

#[post("/respond/fail")]
async fn reject(form: Option<Form<LinkParam>>, State(services): State<Services>) -> Page {
    decide(&services, form.map(|f| f.0), Decision::Reject).await
}

#[schedule("rate(1 minute)")]
async fn worker(State(services): State<Services>, ctx: LambdaContext) -> Result<(), Error> {
    let worker = if ctx.request_id.is_empty() {
        "approval-worker".to_owned()
    } else {
        format!("approval-worker-{}", ctx.request_id)
    };
    poll_activity(&services, &ctx.invoked_function_arn, &worker)
        .await
        .map_err(Error::from)
}

/// The app with `services`: what tests run against fakes or moto.
pub fn app_with(services: Services) -> App {
    App::new()
        .name("approval")
        .state(services)
        .routes(routes![
            start_request,
            request_status,
            approve_page,
            reject_page,
            approve,
            reject
        ])
        .schedules(schedules![worker])
        .functions(functions![notify])
}

/// The app as Lambda runs it: AWS through the SDK, settings from the environment.
pub fn app() -> App {
    app_with(Services::from_env())
}

#[cfg(test)]
mod tests;
