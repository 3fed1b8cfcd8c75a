//! Step Functions: activities and state machines.

use std::collections::BTreeMap;

use aws_sdk_sfn::types::Tag;

use super::{Aws, AwsError, AwsResultExt, SdkResultExt, retry_until_role_ready};

/// A state machine as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachine {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// The definition (Amazon States Language JSON).
    pub definition: String,
    /// The role it runs as.
    pub role_arn: String,
    /// Tags (read separately: [`Aws::list_sfn_tags`]).
    pub tags: BTreeMap<String, String>,
    /// Whether it is being deleted (Step Functions deletes asynchronously and lists it
    /// meanwhile).
    pub deleting: bool,
}

/// An activity as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// The tags in the SDK's form.
pub(super) fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

const SFN: &str = "Step Functions";

impl Aws {
    /// Every activity of the account and region: name → ARN.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_activities(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let activities = self.sfn.list_activities().into_paginator().items().send();
        Ok(activities
            .try_collect()
            .await
            .context(SFN, "ListActivities", "activities")?
            .into_iter()
            .map(|a| (a.name, a.activity_arn))
            .collect())
    }

    /// Creates activity `name` (Step Functions returns the existing one for the same name);
    /// returns its ARN.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_activity(
        &self,
        name: &str,
        tag_map: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let out = self
            .sfn
            .create_activity()
            .name(name)
            .set_tags(Some(tags(tag_map)))
            .send()
            .await
            .context(SFN, "CreateActivity", format!("activity {name}"))?;
        Ok(out.activity_arn)
    }

    /// Every state machine of the account and region: name → ARN.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_state_machines(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let machines = self
            .sfn
            .list_state_machines()
            .into_paginator()
            .items()
            .send();
        Ok(machines
            .try_collect()
            .await
            .context(SFN, "ListStateMachines", "state machines")?
            .into_iter()
            .map(|m| (m.name, m.state_machine_arn))
            .collect())
    }

    /// The state machine `arn`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn describe_state_machine(&self, arn: &str) -> Result<StateMachine, AwsError> {
        let out = self
            .sfn
            .describe_state_machine()
            .state_machine_arn(arn)
            .send()
            .await
            .context(SFN, "DescribeStateMachine", format!("state machine {arn}"))?;
        Ok(StateMachine {
            name: out.name,
            arn: out.state_machine_arn,
            definition: out.definition,
            role_arn: out.role_arn,
            tags: BTreeMap::new(),
            deleting: out
                .status
                .as_ref()
                .is_some_and(|s| s.as_str() == "DELETING"),
        })
    }

    /// Creates state machine `name`; returns its ARN.
    ///
    /// # Errors
    /// When the call fails (e.g. an invalid definition).
    pub async fn create_state_machine(
        &self,
        name: &str,
        definition: &str,
        role_arn: &str,
        tag_map: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let out = retry_until_role_ready(role_not_ready, || async {
            self.sfn
                .create_state_machine()
                .name(name)
                .definition(definition)
                .role_arn(role_arn)
                .set_tags(Some(tags(tag_map)))
                .send()
                .await
                .context(SFN, "CreateStateMachine", format!("state machine {name}"))
        })
        .await?;
        Ok(out.state_machine_arn)
    }

    /// Replaces state machine `arn`'s definition and role.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn update_state_machine(
        &self,
        arn: &str,
        definition: &str,
        role_arn: &str,
    ) -> Result<(), AwsError> {
        self.sfn
            .update_state_machine()
            .state_machine_arn(arn)
            .definition(definition)
            .role_arn(role_arn)
            .send()
            .await
            .context(SFN, "UpdateStateMachine", format!("state machine {arn}"))?;
        Ok(())
    }

    /// The tags of activity or state machine `arn`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn list_sfn_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .sfn
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .context(SFN, "ListTagsForResource", arn)?;
        Ok(out
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key?, t.value?)))
            .collect())
    }

    /// Deletes state machine `arn` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_state_machine(&self, arn: &str) -> Result<(), AwsError> {
        self.sfn
            .delete_state_machine()
            .state_machine_arn(arn)
            .send()
            .await
            .context(SFN, "DeleteStateMachine", arn)
            .gone_is_fine()
    }

    /// Deletes activity `arn` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_activity(&self, arn: &str) -> Result<(), AwsError> {
        self.sfn
            .delete_activity()
            .activity_arn(arn)
            .send()
            .await
            .context(SFN, "DeleteActivity", arn)
            .gone_is_fine()
    }
}

/// Whether Step Functions refused a role it cannot assume yet.
fn role_not_ready(err: &AwsError) -> bool {
    err.code.as_deref() == Some("AccessDeniedException") && err.message.contains("assume")
}
