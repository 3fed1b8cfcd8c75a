//! The calls `portico delete`, `url` and `invoke` add: finding a stage's resources by name
//! prefix, deleting them (gone already is success), and invoking a function.

use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::{Aws, AwsError};

/// `Ok(())` when the call succeeded or the thing was already gone.
fn gone_is_fine<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
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
            .map_err(|e| AwsError::from_sdk("Lambda", "Invoke", format!("function {name}"), e))?;
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
        let mut found = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .lambda
                .list_functions()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("Lambda", "ListFunctions", "functions", e))?;
            found.extend(
                out.functions
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| f.function_name)
                    .filter(|n| n.starts_with(prefix)),
            );
            marker = out.next_marker;
            if marker.is_none() {
                return Ok(found);
            }
        }
    }

    /// The names of the rules (default bus) whose name starts with `prefix`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_rule_names(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .events
                .list_rules()
                .name_prefix(prefix)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("EventBridge", "ListRules", format!("rules {prefix}*"), e)
                })?;
            found.extend(
                out.rules
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|r| r.name),
            );
            token = out.next_token;
            if token.is_none() {
                return Ok(found);
            }
        }
    }

    /// The names of the roles whose name starts with `prefix` (IAM lists them all; the
    /// filter is ours).
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_role_names(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut found = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .iam
                .list_roles()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "ListRoles", "roles", e))?;
            found.extend(
                out.roles
                    .into_iter()
                    .map(|r| r.role_name)
                    .filter(|n| n.starts_with(prefix)),
            );
            if !out.is_truncated {
                return Ok(found);
            }
            marker = out.marker;
        }
    }

    /// The names of role `role`'s inline policies (none when the role is gone).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn list_role_policy_names(&self, role: &str) -> Result<Vec<String>, AwsError> {
        match self.iam.list_role_policies().role_name(role).send().await {
            Ok(out) => Ok(out.policy_names),
            Err(e) => {
                let err = AwsError::from_sdk("IAM", "ListRolePolicies", format!("role {role}"), e);
                if err.is_not_found() {
                    Ok(Vec::new())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Deletes role `name` (its inline policies must be gone; gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.iam
                .delete_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "DeleteRole", format!("role {name}"), e)),
        )
    }

    /// Deletes log group `name` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_log_group(&self, name: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.logs
                .delete_log_group()
                .log_group_name(name)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk(
                        "CloudWatch Logs",
                        "DeleteLogGroup",
                        format!("log group {name}"),
                        e,
                    )
                }),
        )
    }

    /// Deletes REST API `id` with its stages and deployments (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_rest_api(&self, id: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.apigateway
                .delete_rest_api()
                .rest_api_id(id)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("API Gateway", "DeleteRestApi", format!("REST API {id}"), e)
                }),
        )
    }

    /// Detaches the API stages `(api id, stage)` from usage plan `id`, then deletes it (gone
    /// already is fine).
    ///
    /// # Errors
    /// When a call fails.
    pub async fn delete_usage_plan(
        &self,
        id: &str,
        api_stages: &[(String, String)],
    ) -> Result<(), AwsError> {
        let what = || format!("usage plan {id}");
        if !api_stages.is_empty() {
            let ops = api_stages
                .iter()
                .map(|(api, stage)| {
                    PatchOperation::builder()
                        .op(Op::Remove)
                        .path("/apiStages")
                        .value(format!("{api}:{stage}"))
                        .build()
                })
                .collect();
            gone_is_fine(
                self.apigateway
                    .update_usage_plan()
                    .usage_plan_id(id)
                    .set_patch_operations(Some(ops))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("API Gateway", "UpdateUsagePlan", what(), e)),
            )?;
        }
        gone_is_fine(
            self.apigateway
                .delete_usage_plan()
                .usage_plan_id(id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("API Gateway", "DeleteUsagePlan", what(), e)),
        )
    }

    /// Removes key `key` from usage plan `plan` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_usage_plan_key(&self, plan: &str, key: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.apigateway
                .delete_usage_plan_key()
                .usage_plan_id(plan)
                .key_id(key)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk(
                        "API Gateway",
                        "DeleteUsagePlanKey",
                        format!("usage plan {plan} key {key}"),
                        e,
                    )
                }),
        )
    }

    /// Deletes API key `id` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_api_key(&self, id: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.apigateway
                .delete_api_key()
                .api_key(id)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("API Gateway", "DeleteApiKey", format!("API key {id}"), e)
                }),
        )
    }

    /// Deletes state machine `arn` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_state_machine(&self, arn: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.sfn
                .delete_state_machine()
                .state_machine_arn(arn)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("Step Functions", "DeleteStateMachine", arn.to_owned(), e)
                }),
        )
    }

    /// Deletes activity `arn` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_activity(&self, arn: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.sfn
                .delete_activity()
                .activity_arn(arn)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("Step Functions", "DeleteActivity", arn.to_owned(), e)
                }),
        )
    }

    /// Deletes object `key` of `bucket` (gone already is fine; the bucket stays: other stages
    /// share it).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.s3
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("S3", "DeleteObject", format!("s3://{bucket}/{key}"), e)
                }),
        )
    }
}
