//! The two AWS services the app talks to, behind small traits: Step Functions
//! ([`StepFunctions`]) and SES v2 ([`Mailer`]). [`Aws`] implements both with the official AWS
//! SDK for Rust; unit tests use in-process fakes.
//!
//! The SDK reads its endpoint from the standard variables, so the same code reaches AWS, the
//! local cloud (`AWS_ENDPOINT_URL_SFN`, `AWS_ENDPOINT_URL_SESV2`) or moto (`AWS_ENDPOINT_URL`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use tokio::sync::OnceCell;

use crate::TaskToken;

/// A boxed future, so the traits stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failed Step Functions call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfnError {
    /// The task is over: `TaskTimedOut`, `TaskDoesNotExist` or `InvalidToken` (the token was
    /// already used, the execution ended, or it never existed).
    TaskGone,
    /// `ExecutionDoesNotExist`.
    ExecutionDoesNotExist,
    /// `ExecutionAlreadyExists`.
    ExecutionAlreadyExists,
    /// Anything else: the error code and message (never a task token).
    Other(String),
}

impl fmt::Display for SfnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SfnError::TaskGone => f.write_str("the task is no longer waiting for a decision"),
            SfnError::ExecutionDoesNotExist => f.write_str("no such execution"),
            SfnError::ExecutionAlreadyExists => f.write_str("the execution already exists"),
            SfnError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for SfnError {}

/// What `DescribeExecution` says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, …
    pub status: String,
    /// The execution's input (JSON).
    pub input: Option<String>,
    /// The error it failed with (`Rejected`, `NoDecision`, …).
    pub error: Option<String>,
}

/// A task handed out by `GetActivityTask`. Its `Debug` hides the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityTask {
    /// The task token.
    pub token: TaskToken,
    /// The task's input (JSON).
    pub input: String,
}

/// The Step Functions calls the app makes.
pub trait StepFunctions: Send + Sync + fmt::Debug {
    /// `StartExecution`; the execution's ARN.
    fn start_execution<'a>(
        &'a self,
        state_machine_arn: &'a str,
        name: &'a str,
        input: String,
    ) -> BoxFuture<'a, Result<String, SfnError>>;

    /// `DescribeExecution`.
    fn describe_execution<'a>(
        &'a self,
        execution_arn: &'a str,
    ) -> BoxFuture<'a, Result<ExecutionInfo, SfnError>>;

    /// `SendTaskSuccess`.
    fn send_task_success<'a>(
        &'a self,
        token: &'a TaskToken,
        output: String,
    ) -> BoxFuture<'a, Result<(), SfnError>>;

    /// `SendTaskFailure`.
    fn send_task_failure<'a>(
        &'a self,
        token: &'a TaskToken,
        error: &'a str,
        cause: String,
    ) -> BoxFuture<'a, Result<(), SfnError>>;

    /// `GetActivityTask` (a long poll of up to 60 s); `None` when no task came.
    fn get_activity_task<'a>(
        &'a self,
        activity_arn: &'a str,
        worker_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActivityTask>, SfnError>>;
}

/// One e-mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The sender (an SES identity).
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Sends e-mail.
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends `mail`; the error says why not (never the body, which holds the links).
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), String>>;
}

/// The SDK clients, built once per process on first use.
#[derive(Default)]
pub struct Aws {
    config: OnceCell<aws_config::SdkConfig>,
    sfn: OnceCell<aws_sdk_sfn::Client>,
    ses: OnceCell<aws_sdk_sesv2::Client>,
}

impl fmt::Debug for Aws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aws")
            .field("loaded", &self.config.initialized())
            .finish()
    }
}

impl Aws {
    /// Clients configured from the environment (region, credentials, endpoints), loaded on
    /// first use.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// Clients built from `config` (tests point it at moto).
    pub fn from_config(config: aws_config::SdkConfig) -> Self {
        Self {
            config: OnceCell::new_with(Some(config)),
            ..Self::default()
        }
    }

    async fn config(&self) -> &aws_config::SdkConfig {
        self.config
            .get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()))
            .await
    }

    async fn sfn(&self) -> &aws_sdk_sfn::Client {
        self.sfn
            .get_or_init(|| async { aws_sdk_sfn::Client::new(self.config().await) })
            .await
    }

    async fn ses(&self) -> &aws_sdk_sesv2::Client {
        self.ses
            .get_or_init(|| async { aws_sdk_sesv2::Client::new(self.config().await) })
            .await
    }
}

/// Classifies an SDK error by its code; the message loses any task token in it.
fn sfn_error<E: ProvideErrorMetadata + std::error::Error>(
    err: E,
    token: Option<&TaskToken>,
) -> SfnError {
    match err.code() {
        Some("TaskTimedOut" | "TaskDoesNotExist" | "InvalidToken") => SfnError::TaskGone,
        Some("ExecutionDoesNotExist") => SfnError::ExecutionDoesNotExist,
        Some("ExecutionAlreadyExists") => SfnError::ExecutionAlreadyExists,
        code => {
            let mut message = match (code, err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => aws_sdk_sfn::error::DisplayErrorContext(&err).to_string(),
            };
            if let Some(token) = token {
                if !token.expose().is_empty() {
                    message = message.replace(token.expose(), "<task token>");
                }
            }
            SfnError::Other(message)
        }
    }
}

impl StepFunctions for Aws {
    fn start_execution<'a>(
        &'a self,
        state_machine_arn: &'a str,
        name: &'a str,
        input: String,
    ) -> BoxFuture<'a, Result<String, SfnError>> {
        Box::pin(async move {
            let out = self
                .sfn()
                .await
                .start_execution()
                .state_machine_arn(state_machine_arn)
                .name(name)
                .input(input)
                .send()
                .await
                .map_err(|e| sfn_error(e, None))?;
            Ok(out.execution_arn().to_owned())
        })
    }

    fn describe_execution<'a>(
        &'a self,
        execution_arn: &'a str,
    ) -> BoxFuture<'a, Result<ExecutionInfo, SfnError>> {
        Box::pin(async move {
            let out = self
                .sfn()
                .await
                .describe_execution()
                .execution_arn(execution_arn)
                .send()
                .await
                .map_err(|e| sfn_error(e, None))?;
            let status = out.status().as_str().to_owned();
            Ok(ExecutionInfo {
                status,
                input: out.input().map(str::to_owned),
                error: out.error().map(str::to_owned),
            })
        })
    }

    fn send_task_success<'a>(
        &'a self,
        token: &'a TaskToken,
        output: String,
    ) -> BoxFuture<'a, Result<(), SfnError>> {
        Box::pin(async move {
            self.sfn()
                .await
                .send_task_success()
                .task_token(token.expose())
                .output(output)
                .send()
                .await
                .map_err(|e| sfn_error(e, Some(token)))?;
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
            self.sfn()
                .await
                .send_task_failure()
                .task_token(token.expose())
                .error(error)
                .cause(cause)
                .send()
                .await
                .map_err(|e| sfn_error(e, Some(token)))?;
            Ok(())
        })
    }

    fn get_activity_task<'a>(
        &'a self,
        activity_arn: &'a str,
        worker_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActivityTask>, SfnError>> {
        Box::pin(async move {
            let out = self
                .sfn()
                .await
                .get_activity_task()
                .activity_arn(activity_arn)
                .worker_name(worker_name)
                .send()
                .await
                .map_err(|e| sfn_error(e, None))?;
            // No task within the poll: an empty or missing token.
            Ok(match out.task_token() {
                Some(token) if !token.is_empty() => Some(ActivityTask {
                    token: TaskToken::new(token),
                    input: out.input().unwrap_or("{}").to_owned(),
                }),
                _ => None,
            })
        })
    }
}

impl Mailer for Aws {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let content = |text: String| {
                Content::builder()
                    .data(text)
                    .charset("UTF-8")
                    .build()
                    .map_err(|e| e.to_string())
            };
            let message = Message::builder()
                .subject(content(mail.subject)?)
                .body(
                    Body::builder()
                        .text(content(mail.text)?)
                        .html(content(mail.html)?)
                        .build(),
                )
                .build();
            self.ses()
                .await
                .send_email()
                .from_email_address(mail.from)
                .destination(Destination::builder().to_addresses(mail.to).build())
                .content(EmailContent::builder().simple(message).build())
                .send()
                .await
                .map_err(|e| match (e.code(), e.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    _ => aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string(),
                })?;
            Ok(())
        })
    }
}
