//! CloudWatch Logs: the functions' log groups and their retention.

use std::collections::BTreeMap;

use super::{Aws, AwsError, gone_is_fine};

/// A log group as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    /// Name (`/aws/lambda/<function>`, or the function's custom `log_group`).
    pub name: String,
    /// Retention in days; `None` keeps events forever.
    pub retention_days: Option<u32>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl Aws {
    /// Every log group whose name starts with `prefix`, with tags.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_log_groups(&self, prefix: &str) -> Result<Vec<LogGroup>, AwsError> {
        let what = || format!("log groups {prefix}*");
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .logs
                .describe_log_groups()
                .log_group_name_prefix(prefix)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("CloudWatch Logs", "DescribeLogGroups", what(), e)
                })?;
            for group in out.log_groups.unwrap_or_default() {
                let name = group.log_group_name.unwrap_or_default();
                let arn = group.arn.unwrap_or_default();
                let arn = arn.strip_suffix(":*").unwrap_or(&arn);
                let tags = self
                    .logs
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::from_sdk(
                            "CloudWatch Logs",
                            "ListTagsForResource",
                            format!("log group {name}"),
                            e,
                        )
                    })?
                    .tags
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                groups.push(LogGroup {
                    retention_days: group.retention_in_days.and_then(|d| u32::try_from(d).ok()),
                    name,
                    tags,
                });
            }
            token = out.next_token;
            if token.is_none() {
                return Ok(groups);
            }
        }
    }

    /// The log group named exactly `name`, with tags, or `None`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn get_log_group(&self, name: &str) -> Result<Option<LogGroup>, AwsError> {
        Ok(self
            .list_log_groups(name)
            .await?
            .into_iter()
            .find(|g| g.name == name))
    }

    /// Creates log group `name` with tags.
    ///
    /// # Errors
    /// When the call fails (it already existing is fine).
    pub async fn create_log_group(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let result = self
            .logs
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk(
                    "CloudWatch Logs",
                    "CreateLogGroup",
                    format!("log group {name}"),
                    e,
                )
            });
        AwsError::unless_code(result, "ResourceAlreadyExistsException")
    }

    /// Sets (`Some`) or removes (`None`) log group `name`'s retention.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn set_log_retention(&self, name: &str, days: Option<u32>) -> Result<(), AwsError> {
        let what = || format!("log group {name}");
        match days {
            Some(days) => self
                .logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(i32::try_from(days).unwrap_or(i32::MAX))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    AwsError::from_sdk("CloudWatch Logs", "PutRetentionPolicy", what(), e)
                }),
            None => self
                .logs
                .delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    AwsError::from_sdk("CloudWatch Logs", "DeleteRetentionPolicy", what(), e)
                }),
        }
    }

    /// Adds (or overwrites) tags on log group `arn` (without the `:*` suffix).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn tag_log_group(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.logs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk(
                    "CloudWatch Logs",
                    "TagResource",
                    format!("log group {arn}"),
                    e,
                )
            })?;
        Ok(())
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
}
