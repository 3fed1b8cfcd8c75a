//! Lambda: functions, their code and configuration, and resource-policy permissions.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, InvocationType, LastUpdateStatus, LogFormat,
    LoggingConfig, Runtime, State,
};
use serde_json::Value;

use super::{Aws, AwsError, AwsResultExt, SdkResultExt, poll, retry_until_role_ready};

/// The runtime every Portico function uses.
pub const RUNTIME: &str = "provided.al2023";
/// The handler name of an OS-only runtime (unused by the runtime, shown in the console).
pub const HANDLER: &str = "bootstrap";

/// The settings of a function that `portico deploy` manages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunctionConfig {
    /// The execution role's ARN.
    pub role_arn: String,
    /// Memory, MB.
    pub memory: u32,
    /// Timeout, seconds.
    pub timeout: u32,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// Always [`RUNTIME`] for functions Portico made.
    pub runtime: String,
    /// Always [`HANDLER`] for functions Portico made.
    pub handler: String,
    /// The CloudWatch log group it writes to (Lambda's `LoggingConfig.LogGroup`). Portico
    /// always sets it; read back, `None` means the endpoint did not report a `LoggingConfig`
    /// (AWS always does; moto does not), and the planner then leaves it alone.
    pub log_group: Option<String>,
}

/// A function as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Name.
    pub name: String,
    /// ARN (unqualified).
    pub arn: String,
    /// Lambda's CodeSha256: base64 of the zip's SHA-256.
    pub code_sha256: String,
    /// Its settings.
    pub config: FunctionConfig,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// One statement of a function's resource policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatement {
    /// Statement id.
    pub sid: String,
    /// The principal service (`apigateway.amazonaws.com`).
    pub principal: String,
    /// The `AWS:SourceArn` condition.
    pub source_arn: Option<String>,
    /// The `AWS:SourceAccount` condition.
    pub source_account: Option<String>,
}

/// Where the code comes from.
#[derive(Debug, Clone, Copy)]
pub enum Code<'a> {
    /// The zip's bytes, sent with the call (up to 50 MB).
    Zip(&'a [u8]),
    /// An object uploaded to S3 first.
    S3 {
        /// Bucket.
        bucket: &'a str,
        /// Key.
        key: &'a str,
    },
}

/// Plain-text logs to `log_group` (Lambda's default group when `None`).
fn logging_of(log_group: Option<&String>) -> LoggingConfig {
    LoggingConfig::builder()
        .log_format(LogFormat::Text)
        .set_log_group(log_group.cloned())
        .build()
}

fn env_of(env: &BTreeMap<String, String>) -> Environment {
    Environment::builder()
        .set_variables(Some(env.clone().into_iter().collect()))
        .build()
}

const LAMBDA: &str = "Lambda";

impl Aws {
    /// The function `name`, or `None`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn get_function(&self, name: &str) -> Result<Option<Function>, AwsError> {
        let result = self.lambda.get_function().function_name(name).send().await;
        let Some(out) = result
            .context(LAMBDA, "GetFunction", format!("function {name}"))
            .found()?
        else {
            return Ok(None);
        };
        let Some(c) = out.configuration else {
            return Ok(None);
        };
        Ok(Some(Function {
            name: c.function_name.clone().unwrap_or_default(),
            arn: c.function_arn.clone().unwrap_or_default(),
            code_sha256: c.code_sha256.clone().unwrap_or_default(),
            config: FunctionConfig {
                role_arn: c.role.clone().unwrap_or_default(),
                memory: c.memory_size.unwrap_or_default().try_into().unwrap_or(0),
                timeout: c.timeout.unwrap_or_default().try_into().unwrap_or(0),
                env: c
                    .environment
                    .as_ref()
                    .and_then(|e| e.variables.clone())
                    .map(|v| v.into_iter().collect())
                    .unwrap_or_default(),
                architecture: c
                    .architectures
                    .as_ref()
                    .and_then(|a| a.first())
                    .map_or_else(|| "x86_64".to_owned(), |a| a.as_str().to_owned()),
                runtime: c
                    .runtime
                    .as_ref()
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default(),
                handler: c.handler.clone().unwrap_or_default(),
                log_group: c.logging_config.as_ref().and_then(|l| l.log_group.clone()),
            },
            tags: out.tags.unwrap_or_default().into_iter().collect(),
        }))
    }

    /// The statements of function `name`'s resource policy (empty when it has none).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn get_function_policy(&self, name: &str) -> Result<Vec<PolicyStatement>, AwsError> {
        let result = self.lambda.get_policy().function_name(name).send().await;
        let Some(out) = result
            .context(LAMBDA, "GetPolicy", format!("function {name}"))
            .found()?
        else {
            return Ok(Vec::new());
        };
        let policy: Value = out
            .policy
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null);
        let statements = match &policy["Statement"] {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            single => vec![single.clone()],
        };
        Ok(statements
            .iter()
            .map(|s| PolicyStatement {
                sid: s["Sid"].as_str().unwrap_or_default().to_owned(),
                principal: match &s["Principal"] {
                    Value::String(p) => p.clone(),
                    p => p["Service"].as_str().unwrap_or_default().to_owned(),
                },
                source_arn: s["Condition"]["ArnLike"]["AWS:SourceArn"]
                    .as_str()
                    .map(str::to_owned),
                source_account: s["Condition"]["StringEquals"]["AWS:SourceAccount"]
                    .as_str()
                    .map(str::to_owned),
            })
            .collect())
    }

    /// Creates function `name`; retries while a new role is not yet assumable (IAM is
    /// eventually consistent). Returns the ARN.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_function(
        &self,
        name: &str,
        config: &FunctionConfig,
        code: Code<'_>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let code = match code {
            Code::Zip(bytes) => FunctionCode::builder().zip_file(Blob::new(bytes)).build(),
            Code::S3 { bucket, key } => FunctionCode::builder()
                .s3_bucket(bucket)
                .s3_key(key)
                .build(),
        };
        let out = retry_until_role_ready(role_not_ready, || async {
            self.lambda
                .create_function()
                .function_name(name)
                .runtime(Runtime::from(config.runtime.as_str()))
                .handler(&config.handler)
                .role(&config.role_arn)
                .memory_size(i32::try_from(config.memory).unwrap_or(i32::MAX))
                .timeout(i32::try_from(config.timeout).unwrap_or(i32::MAX))
                .environment(env_of(&config.env))
                .logging_config(logging_of(config.log_group.as_ref()))
                .architectures(Architecture::from(config.architecture.as_str()))
                .code(code.clone())
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .context(LAMBDA, "CreateFunction", format!("function {name}"))
        })
        .await?;
        if !ready(out.state.as_ref(), out.last_update_status.as_ref()) {
            self.wait_for_function(name).await?;
        }
        Ok(out.function_arn.unwrap_or_default())
    }

    /// Replaces function `name`'s code and waits until the update is done.
    ///
    /// # Errors
    /// When a call fails or the update does not finish.
    pub async fn update_function_code(
        &self,
        name: &str,
        code: Code<'_>,
        architecture: &str,
    ) -> Result<(), AwsError> {
        let call = self
            .lambda
            .update_function_code()
            .function_name(name)
            .architectures(Architecture::from(architecture));
        let call = match code {
            Code::Zip(bytes) => call.zip_file(Blob::new(bytes)),
            Code::S3 { bucket, key } => call.s3_bucket(bucket).s3_key(key),
        };
        let out =
            call.send()
                .await
                .context(LAMBDA, "UpdateFunctionCode", format!("function {name}"))?;
        if ready(out.state.as_ref(), out.last_update_status.as_ref()) {
            return Ok(());
        }
        self.wait_for_function(name).await
    }

    /// Replaces function `name`'s settings and waits until the update is done.
    ///
    /// # Errors
    /// When a call fails or the update does not finish.
    pub async fn update_function_configuration(
        &self,
        name: &str,
        config: &FunctionConfig,
    ) -> Result<(), AwsError> {
        let out = retry_until_role_ready(role_not_ready, || async {
            self.lambda
                .update_function_configuration()
                .function_name(name)
                .runtime(Runtime::from(config.runtime.as_str()))
                .handler(&config.handler)
                .role(&config.role_arn)
                .memory_size(i32::try_from(config.memory).unwrap_or(i32::MAX))
                .timeout(i32::try_from(config.timeout).unwrap_or(i32::MAX))
                .environment(env_of(&config.env))
                .logging_config(logging_of(config.log_group.as_ref()))
                .send()
                .await
                .context(
                    LAMBDA,
                    "UpdateFunctionConfiguration",
                    format!("function {name}"),
                )
        })
        .await?;
        if ready(out.state.as_ref(), out.last_update_status.as_ref()) {
            return Ok(());
        }
        self.wait_for_function(name).await
    }

    /// Waits until function `name` is active and no update is in progress (Lambda refuses the
    /// next change until then). Not called when the change's own answer already says so.
    async fn wait_for_function(&self, name: &str) -> Result<(), AwsError> {
        let done = poll(Duration::from_secs(1), 300, || async {
            let c = self
                .lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .context(
                    LAMBDA,
                    "GetFunctionConfiguration",
                    format!("function {name}"),
                )?;
            if c.state == Some(State::Failed)
                || c.last_update_status == Some(LastUpdateStatus::Failed)
            {
                return Err(AwsError {
                    service: LAMBDA,
                    operation: "GetFunctionConfiguration",
                    resource: format!("function {name}"),
                    code: c
                        .last_update_status_reason_code
                        .map(|r| r.as_str().to_owned()),
                    message: c
                        .last_update_status_reason
                        .or(c.state_reason)
                        .unwrap_or_else(|| "the function update failed".to_owned()),
                });
            }
            let busy = c.state == Some(State::Pending)
                || c.last_update_status == Some(LastUpdateStatus::InProgress);
            Ok((!busy).then_some(()))
        })
        .await?;
        done.ok_or_else(|| AwsError {
            service: LAMBDA,
            operation: "GetFunctionConfiguration",
            resource: format!("function {name}"),
            code: None,
            message: "the function did not become ready within 5 minutes; run the deploy again"
                .to_owned(),
        })
    }

    /// Lets `principal` (a service) invoke function `name` from `source_arn` of account
    /// `source_account` (both conditions: the confused-deputy guard).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn add_permission(
        &self,
        name: &str,
        sid: &str,
        principal: &str,
        source_arn: &str,
        source_account: &str,
    ) -> Result<(), AwsError> {
        self.lambda
            .add_permission()
            .function_name(name)
            .statement_id(sid)
            .action("lambda:InvokeFunction")
            .principal(principal)
            .source_arn(source_arn)
            .source_account(source_account)
            .send()
            .await
            .context(LAMBDA, "AddPermission", format!("function {name} ({sid})"))?;
        Ok(())
    }

    /// Removes statement `sid` from function `name`'s resource policy.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn remove_permission(&self, name: &str, sid: &str) -> Result<(), AwsError> {
        self.lambda
            .remove_permission()
            .function_name(name)
            .statement_id(sid)
            .send()
            .await
            .context(
                LAMBDA,
                "RemovePermission",
                format!("function {name} ({sid})"),
            )
            .gone_is_fine()
    }

    /// Deletes function `name` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_function(&self, name: &str) -> Result<(), AwsError> {
        self.lambda
            .delete_function()
            .function_name(name)
            .send()
            .await
            .context(LAMBDA, "DeleteFunction", format!("function {name}"))
            .gone_is_fine()
    }
}

/// Whether Lambda refused a role it cannot assume yet: a role made moments ago is not usable
/// at once (IAM is eventually consistent), so creating or moving a function onto it is retried.
fn role_not_ready(err: &AwsError) -> bool {
    err.code.as_deref() == Some("InvalidParameterValueException") && err.message.contains("role")
}

/// Whether a create or update answer already says the function is active with no update in
/// progress, so there is nothing to wait for (Lambda itself answers `Pending` / `InProgress`).
fn ready(state: Option<&State>, last_update: Option<&LastUpdateStatus>) -> bool {
    state == Some(&State::Active)
        && matches!(last_update, None | Some(LastUpdateStatus::Successful))
}

/// What a synchronous invocation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The function's result (or its error document).
    pub payload: Vec<u8>,
    /// Lambda's `X-Amz-Function-Error` (`Unhandled`, …) when the function failed.
    pub function_error: Option<String>,
}

impl Aws {
    /// Invokes function `name` synchronously (`RequestResponse`) with `payload`.
    ///
    /// # Errors
    /// When the call fails (the function's own failure is in [`Invocation::function_error`]).
    pub async fn invoke_function(
        &self,
        name: &str,
        payload: &[u8],
    ) -> Result<Invocation, AwsError> {
        let out = self
            .lambda
            .invoke()
            .function_name(name)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload.to_vec()))
            .send()
            .await
            .context(LAMBDA, "Invoke", format!("function {name}"))?;
        Ok(Invocation {
            payload: out.payload.map(Blob::into_inner).unwrap_or_default(),
            function_error: out.function_error,
        })
    }

    /// The names of every function whose name starts with `prefix`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_function_names(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let functions = self.lambda.list_functions().into_paginator().items().send();
        Ok(functions
            .try_collect()
            .await
            .context(LAMBDA, "ListFunctions", "functions")?
            .into_iter()
            .filter_map(|f| f.function_name)
            .filter(|n| n.starts_with(prefix))
            .collect())
    }
}
