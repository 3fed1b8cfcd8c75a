//! EventBridge: schedule rules and their targets.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{RuleState, Tag};

use super::{Aws, AwsError, AwsResultExt, SdkResultExt};

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

/// The tags in the SDK's form.
pub(super) fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

const EVENTS: &str = "EventBridge";

impl Aws {
    /// The rule `name` on the default bus with its targets and tags, or `None`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn get_rule(&self, name: &str) -> Result<Option<Rule>, AwsError> {
        let what = || format!("rule {name}");
        let result = self.events.describe_rule().name(name).send().await;
        let Some(rule) = result.context(EVENTS, "DescribeRule", what()).found()? else {
            return Ok(None);
        };
        let arn = rule.arn.unwrap_or_default();
        let targets = self
            .events
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .context(EVENTS, "ListTargetsByRule", what())?
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
            .context(EVENTS, "ListTagsForResource", what())?
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
            .context(EVENTS, "PutRule", format!("rule {name}"))?;
        Ok(out.rule_arn.unwrap_or_default())
    }

    /// Makes `arn` the target `id` of rule `rule`.
    ///
    /// # Errors
    /// When the call fails or EventBridge refuses the target.
    pub async fn put_target(&self, rule: &str, id: &str, arn: &str) -> Result<(), AwsError> {
        let refused = |code: Option<String>, message: String| AwsError {
            service: EVENTS,
            operation: "PutTargets",
            resource: format!("rule {rule}"),
            code,
            message,
        };
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id(id)
            .arn(arn)
            .build()
            .map_err(|e| refused(None, e.to_string()))?;
        let out = self
            .events
            .put_targets()
            .rule(rule)
            .targets(target)
            .send()
            .await
            .context(EVENTS, "PutTargets", format!("rule {rule}"))?;
        if let Some(failed) = out.failed_entries.unwrap_or_default().first() {
            return Err(refused(
                failed.error_code.clone(),
                failed.error_message.clone().unwrap_or_default(),
            ));
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
            .context(EVENTS, "RemoveTargets", format!("rule {rule}"))?;
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
        self.events.delete_rule().name(name).send().await.context(
            EVENTS,
            "DeleteRule",
            format!("rule {name}"),
        )?;
        Ok(())
    }

    /// The names of the rules (default bus) whose name starts with `prefix`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_rule_names(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        // EventBridge's model has no paginator for ListRules: page by hand.
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
                .context(EVENTS, "ListRules", format!("rules {prefix}*"))?;
            found.extend(out.rules.into_iter().flatten().filter_map(|r| r.name));
            token = out.next_token;
            if token.is_none() {
                return Ok(found);
            }
        }
    }
}
