//! EventBridge: schedule rules and their targets.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{RuleState, Tag};

use super::{Aws, AwsError};

/// A rule as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// `rate(...)` / `cron(...)`.
    pub expression: String,
    /// Whether it fires.
    pub enabled: bool,
    /// Its targets.
    pub targets: Vec<Target>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A rule's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Target id within the rule.
    pub id: String,
    /// What it invokes.
    pub arn: String,
}

fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

impl Aws {
    /// The rule `name` on the default bus with its targets and tags, or `None`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn get_rule(&self, name: &str) -> Result<Option<Rule>, AwsError> {
        let what = || format!("rule {name}");
        let rule = match self.events.describe_rule().name(name).send().await {
            Ok(out) => out,
            Err(e) => {
                let err = AwsError::from_sdk("EventBridge", "DescribeRule", what(), e);
                return if err.is_not_found() {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        let arn = rule.arn.unwrap_or_default();
        let targets = self
            .events
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("EventBridge", "ListTargetsByRule", what(), e))?
            .targets
            .unwrap_or_default()
            .into_iter()
            .map(|t| Target {
                id: t.id,
                arn: t.arn,
            })
            .collect();
        let tags = self
            .events
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("EventBridge", "ListTagsForResource", what(), e))?
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        Ok(Some(Rule {
            name: rule.name.unwrap_or_default(),
            arn,
            expression: rule.schedule_expression.unwrap_or_default(),
            enabled: rule.state != Some(RuleState::Disabled),
            targets,
            tags,
        }))
    }

    /// Creates or updates the scheduled rule `name` (enabled); returns its ARN.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn put_rule(
        &self,
        name: &str,
        expression: &str,
        description: &str,
        tag_map: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let out = self
            .events
            .put_rule()
            .name(name)
            .schedule_expression(expression)
            .state(RuleState::Enabled)
            .description(description)
            .set_tags(Some(tags(tag_map)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("EventBridge", "PutRule", format!("rule {name}"), e))?;
        Ok(out.rule_arn.unwrap_or_default())
    }

    /// Makes `arn` the target `id` of rule `rule`.
    ///
    /// # Errors
    /// When the call fails or EventBridge refuses the target.
    pub async fn put_target(&self, rule: &str, id: &str, arn: &str) -> Result<(), AwsError> {
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id(id)
            .arn(arn)
            .build()
            .map_err(|e| AwsError {
                service: "EventBridge",
                operation: "PutTargets",
                resource: format!("rule {rule}"),
                code: None,
                message: e.to_string(),
            })?;
        let out = self
            .events
            .put_targets()
            .rule(rule)
            .targets(target)
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("EventBridge", "PutTargets", format!("rule {rule}"), e)
            })?;
        if let Some(failed) = out.failed_entries.unwrap_or_default().first() {
            return Err(AwsError {
                service: "EventBridge",
                operation: "PutTargets",
                resource: format!("rule {rule}"),
                code: failed.error_code.clone(),
                message: failed.error_message.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Removes targets `ids` from rule `rule`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn remove_targets(&self, rule: &str, ids: &[String]) -> Result<(), AwsError> {
        self.events
            .remove_targets()
            .rule(rule)
            .set_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("EventBridge", "RemoveTargets", format!("rule {rule}"), e)
            })?;
        Ok(())
    }

    /// Adds (or overwrites) tags on rule `arn`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn tag_rule(
        &self,
        arn: &str,
        tag_map: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.events
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags(tag_map)))
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("EventBridge", "TagResource", format!("rule {arn}"), e)
            })?;
        Ok(())
    }

    /// Deletes rule `name` after removing its targets (gone already is fine).
    ///
    /// # Errors
    /// When a call fails.
    pub async fn delete_rule(&self, name: &str) -> Result<(), AwsError> {
        let Some(rule) = self.get_rule(name).await? else {
            return Ok(());
        };
        if !rule.targets.is_empty() {
            let ids: Vec<String> = rule.targets.into_iter().map(|t| t.id).collect();
            self.remove_targets(name, &ids).await?;
        }
        self.events
            .delete_rule()
            .name(name)
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("EventBridge", "DeleteRule", format!("rule {name}"), e)
            })?;
        Ok(())
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
}
