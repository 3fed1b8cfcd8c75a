//! The one typed boundary every AWS call of the CLI goes through.
//!
//! [`Aws::connect`] loads the SDK configuration (standard credential chain, `--profile`,
//! `--region`, `--endpoint-url` / `AWS_ENDPOINT_URL`) and builds one client per service, each
//! with the [`CallCounter`] interceptor, so a command can report how many calls it made and how
//! many of them changed something. The per-service modules expose what the CLI needs as
//! methods returning plain types ([`iam::Role`], [`lambda::Function`], …); nothing outside this
//! module names an SDK type.

mod apigateway;
mod calls;
mod events;
mod iam;
mod lambda;
pub mod log_events;
mod logs;
mod s3;
mod sfn;
mod tags;

use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;

// Some of these are only named by tests (they build remote states by hand).
#[allow(unused_imports)]
pub use apigateway::{
    ApiKey, GatewayResponse, Integration, Method, Resource, RestApi, Stage, UsagePlan,
    UsagePlanQuota, UsagePlanThrottle,
};
pub use calls::{CallCounter, CallStats};
#[allow(unused_imports)]
pub use events::{Rule, Target};
pub use iam::Role;
pub use lambda::{
    Code, Function, FunctionConfig, HANDLER as LAMBDA_HANDLER, PolicyStatement,
    RUNTIME as LAMBDA_RUNTIME,
};
pub use logs::LogGroup;
pub use sfn::{Activity, StateMachine};
pub use tags::Tagged;

/// An SDK call's result, its error turned into an [`AwsError`] that names the call.
pub(crate) trait SdkResultExt<T> {
    /// The error, if any, as `service`'s `operation` on `resource` failing.
    fn context(
        self,
        service: &'static str,
        operation: &'static str,
        resource: impl Into<String>,
    ) -> Result<T, AwsError>;
}

impl<T, E, R> SdkResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    fn context(
        self,
        service: &'static str,
        operation: &'static str,
        resource: impl Into<String>,
    ) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::from_sdk(service, operation, resource, e))
    }
}

/// What a failed call means for its caller, when a failure can be an answer.
pub(crate) trait AwsResultExt<T> {
    /// `Ok(None)` when AWS said the thing does not exist.
    fn found(self) -> Result<Option<T>, AwsError>;
    /// `Ok(())` when the call succeeded or the thing was already gone.
    fn gone_is_fine(self) -> Result<(), AwsError>;
    /// `Ok(())` also when the call failed with AWS error `code` only, which says that what it
    /// was to make is there already (`ResourceAlreadyExistsException`, …).
    fn unless_code(self, code: &str) -> Result<(), AwsError>;
}

impl<T> AwsResultExt<T> for Result<T, AwsError> {
    fn found(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn gone_is_fine(self) -> Result<(), AwsError> {
        self.found().map(drop)
    }

    fn unless_code(self, code: &str) -> Result<(), AwsError> {
        match self {
            Err(err) if err.code.as_deref() != Some(code) => Err(err),
            _ => Ok(()),
        }
    }
}

/// Runs `call` until it returns, again every 5 seconds (12 times at most) while it fails as
/// `role_not_ready` says a role made moments ago fails: IAM is eventually consistent, so a new
/// role is not assumable at once.
async fn retry_until_role_ready<T, F, Fut>(
    role_not_ready: fn(&AwsError) -> bool,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(err) if role_not_ready(&err) && attempt < 12 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            result => return result,
        }
    }
}

/// The environment variable that makes the N-th mutating AWS call fail before it is sent
/// (a testing hook: it simulates an AWS error in the middle of a deploy).
pub const FAIL_MUTATING_CALL_VAR: &str = "PORTICO_FAIL_MUTATING_CALL";

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--profile`: a profile of `~/.aws/config`.
    pub profile: Option<String>,
    /// `--region`, else the stage's `region`, else the SDK's chain, else `us-east-1`.
    pub region: Option<String>,
    /// `--endpoint-url`: one endpoint for every service (moto, LocalStack).
    pub endpoint_url: Option<String>,
}

/// The command-line options every AWS-facing command takes (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// The AWS profile (`~/.aws/config`); default: the standard chain (`AWS_PROFILE`,
    /// environment variables, SSO, instance roles …).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS region; default: the stage's `region`, else the SDK's chain, else us-east-1.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (moto, LocalStack); `AWS_ENDPOINT_URL` works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The connection options, with `stage_region` (the stage's `region`) below `--region`.
    pub fn options(&self, stage_region: Option<String>) -> ConnectOptions {
        ConnectOptions {
            profile: self.profile.clone(),
            region: self.region.clone().or(stage_region),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

/// An AWS call failed: which call, on what, why, and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{service} {operation} on {resource}: {message}{}", hint_suffix(code.as_deref(), message))]
pub struct AwsError {
    /// The service (`IAM`, `Lambda`, …).
    pub service: &'static str,
    /// The operation (`CreateRole`, …).
    pub operation: &'static str,
    /// What the call was about (`role hello-dev`).
    pub resource: String,
    /// The AWS error code, when AWS answered (`AccessDenied`, …).
    pub code: Option<String>,
    /// AWS's message, or the transport failure.
    pub message: String,
}

impl AwsError {
    /// The error a call returned, for `service`'s `operation` on `resource`.
    fn from_sdk<E, R>(
        service: &'static str,
        operation: &'static str,
        resource: impl Into<String>,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let (code, message) = match &err {
            SdkError::ServiceError(e) => (
                e.err().code().map(str::to_owned),
                e.err()
                    .message()
                    .map_or_else(|| e.err().to_string(), str::to_owned),
            ),
            SdkError::DispatchFailure(_) => {
                let chain = error_text(&err);
                let message = if chain.contains("credential") {
                    format!("no usable AWS credentials ({chain})")
                } else {
                    format!("cannot reach the AWS endpoint ({chain})")
                };
                (None, message)
            }
            SdkError::TimeoutError(_) => (None, "the call timed out".to_owned()),
            other => (None, error_text(other)),
        };
        Self {
            service,
            operation,
            resource: resource.into(),
            code,
            message,
        }
    }

    /// True when AWS said the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "NoSuchEntity"
                    | "ResourceNotFoundException"
                    | "NotFoundException"
                    | "StateMachineDoesNotExist"
                    | "ActivityDoesNotExist"
                    | "NoSuchBucket"
                    | "NotFound"
            )
        )
    }
}

/// An error and its sources, joined with `: `.
pub fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn hint_suffix(code: Option<&str>, message: &str) -> String {
    let hint = match code {
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => {
            "the credentials in use lack this permission; deploy with a role or user allowed to \
             manage IAM, Lambda, API Gateway, EventBridge, CloudWatch Logs and Step Functions"
        }
        Some(
            "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch",
        ) => "the AWS credentials are invalid or expired; refresh them or pass --profile",
        Some("TooManyRequestsException" | "Throttling" | "ThrottlingException") => {
            "AWS throttled the call; run the same command again in a minute (it resumes)"
        }
        _ if message.starts_with("no usable AWS credentials") => {
            "no AWS credentials found; set AWS_PROFILE or pass --profile, or export \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        }
        _ if message.starts_with("cannot reach") => {
            "check the network, --region and --endpoint-url / AWS_ENDPOINT_URL"
        }
        _ => return String::new(),
    };
    format!(" ({hint})")
}

/// The clients of one command run, with their shared call counter.
pub struct Aws {
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    apigateway: aws_sdk_apigateway::Client,
    events: aws_sdk_eventbridge::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    sfn: aws_sdk_sfn::Client,
    sts: aws_sdk_sts::Client,
    s3: aws_sdk_s3::Client,
    counter: CallCounter,
    region: String,
    endpoint_url: Option<String>,
}

impl Aws {
    /// Loads the SDK configuration and builds the clients. Makes no call.
    pub async fn connect(options: &ConnectOptions) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let mut config = loader.load().await;
        if config.region().is_none() {
            config = config
                .into_builder()
                .region(aws_config::Region::from_static("us-east-1"))
                .build();
        }
        let region = config
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
        let endpoint_url = config.endpoint_url().map(str::to_owned);
        let fail_at = std::env::var(FAIL_MUTATING_CALL_VAR)
            .ok()
            .and_then(|v| v.parse().ok());
        let counter = CallCounter::new(fail_at);
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&config)
                        .interceptor(counter.clone())
                        .build(),
                )
            };
        }
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .interceptor(counter.clone())
                // A local endpoint has no per-bucket host names.
                .force_path_style(endpoint_url.is_some())
                .build(),
        );
        Self {
            iam: client!(aws_sdk_iam),
            lambda: client!(aws_sdk_lambda),
            apigateway: client!(aws_sdk_apigateway),
            events: client!(aws_sdk_eventbridge),
            logs: client!(aws_sdk_cloudwatchlogs),
            sfn: client!(aws_sdk_sfn),
            sts: client!(aws_sdk_sts),
            s3,
            counter,
            region,
            endpoint_url,
        }
    }

    /// The region every client calls.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The custom endpoint (moto, LocalStack), if any.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// How many calls were made so far, and how many changed something.
    pub fn stats(&self) -> CallStats {
        self.counter.stats()
    }

    /// The account the credentials belong to (STS GetCallerIdentity).
    ///
    /// # Errors
    /// When the credentials are missing or invalid.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        let out = self.sts.get_caller_identity().send().await.context(
            "STS",
            "GetCallerIdentity",
            "the credentials in use",
        )?;
        Ok(out.account.unwrap_or_default())
    }
}

/// Polls every `interval` until `check` returns `Some`, at most `attempts` times.
async fn poll<T, F, Fut>(
    interval: Duration,
    attempts: u32,
    mut check: F,
) -> Result<Option<T>, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, AwsError>>,
{
    for attempt in 0..attempts {
        if let Some(value) = check().await? {
            return Ok(Some(value));
        }
        if attempt + 1 < attempts {
            tokio::time::sleep(interval).await;
        }
    }
    Ok(None)
}

/// Runs `futures` concurrently and returns their values in order, or the first error (the
/// others are then dropped). For a handful of independent reads, as `tokio::try_join!` is for
/// a fixed number.
///
/// # Errors
/// The first error one of them returns.
pub async fn try_join_all<T, E, F>(futures: impl IntoIterator<Item = F>) -> Result<Vec<T>, E>
where
    F: std::future::Future<Output = Result<T, E>>,
{
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (future, slot) in pending.iter_mut().zip(done.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            match future.as_mut().poll(cx) {
                std::task::Poll::Ready(Ok(value)) => *slot = Some(value),
                std::task::Poll::Ready(Err(err)) => return std::task::Poll::Ready(Err(err)),
                std::task::Poll::Pending => all = false,
            }
        }
        if all {
            std::task::Poll::Ready(Ok(done.iter_mut().filter_map(Option::take).collect()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
