//! CloudWatch Logs: the functions' log groups and their retention.

use std::collections::BTreeMap;

use super::{Aws, AwsError, AwsResultExt, SdkResultExt};

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

const LOGS: &str = "CloudWatch Logs";

impl Aws {
    /// Every log group whose name starts with `prefix`, with tags.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_log_groups(&self, prefix: &str) -> Result<Vec<LogGroup>, AwsError> {
        let found = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .context(LOGS, "DescribeLogGroups", format!("log groups {prefix}*"))?;
        let mut groups = Vec::with_capacity(found.len());
        for group in found {
            let name = group.log_group_name.unwrap_or_default();
            let arn = group.arn.unwrap_or_default();
            let arn = arn.strip_suffix(":*").unwrap_or(&arn);
            let tags = self
                .logs
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .context(LOGS, "ListTagsForResource", format!("log group {name}"))?
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
        Ok(groups)
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
        self.logs
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .context(LOGS, "CreateLogGroup", format!("log group {name}"))
            .unless_code("ResourceAlreadyExistsException")
    }

    /// Sets (`Some`) or removes (`None`) log group `name`'s retention.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn set_log_retention(&self, name: &str, days: Option<u32>) -> Result<(), AwsError> {
        let what = format!("log group {name}");
        match days {
            Some(days) => self
                .logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(i32::try_from(days).unwrap_or(i32::MAX))
                .send()
                .await
                .map(drop)
                .context(LOGS, "PutRetentionPolicy", what),
            None => self
                .logs
                .delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .map(drop)
                .context(LOGS, "DeleteRetentionPolicy", what),
        }
    }

    /// Deletes log group `name` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_log_group(&self, name: &str) -> Result<(), AwsError> {
        self.logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
            .context(LOGS, "DeleteLogGroup", format!("log group {name}"))
            .gone_is_fine()
    }
}
