//! Step Functions: activities and state machines.

use std::collections::BTreeMap;

use aws_sdk_sfn::types::Tag;

use super::{Aws, AwsError, gone_is_fine};

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

fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

impl Aws {
    /// Every activity of the account and region: name → ARN.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_activities(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let mut found = BTreeMap::new();
        let mut token = None;
        loop {
            let out = self
                .sfn
                .list_activities()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("Step Functions", "ListActivities", "activities", e)
                })?;
            for a in out.activities {
                found.insert(a.name, a.activity_arn);
            }
            token = out.next_token;
            if token.is_none() {
                return Ok(found);
            }
        }
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
            .map_err(|e| {
                AwsError::from_sdk(
                    "Step Functions",
                    "CreateActivity",
                    format!("activity {name}"),
                    e,
                )
            })?;
        Ok(out.activity_arn)
    }

    /// Every state machine of the account and region: name → ARN.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_state_machines(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let mut found = BTreeMap::new();
        let mut token = None;
        loop {
            let out = self
                .sfn
                .list_state_machines()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("Step Functions", "ListStateMachines", "state machines", e)
                })?;
            for m in out.state_machines {
                found.insert(m.name, m.state_machine_arn);
            }
            token = out.next_token;
            if token.is_none() {
                return Ok(found);
            }
        }
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
            .map_err(|e| {
                AwsError::from_sdk(
                    "Step Functions",
                    "DescribeStateMachine",
                    format!("state machine {arn}"),
                    e,
                )
            })?;
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
        // A role made a moment ago may not be assumable yet (IAM is eventually consistent).
        let mut attempt = 0;
        let out = loop {
            let result = self
                .sfn
                .create_state_machine()
                .name(name)
                .definition(definition)
                .role_arn(role_arn)
                .set_tags(Some(tags(tag_map)))
                .send()
                .await;
            match result {
                Ok(out) => break out,
                Err(e) => {
                    let err = AwsError::from_sdk(
                        "Step Functions",
                        "CreateStateMachine",
                        format!("state machine {name}"),
                        e,
                    );
                    let role_not_ready = err.code.as_deref() == Some("AccessDeniedException")
                        && err.message.contains("assume");
                    if role_not_ready && attempt < 12 {
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                        continue;
                    }
                    return Err(err);
                }
            }
        };
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
            .map_err(|e| {
                AwsError::from_sdk(
                    "Step Functions",
                    "UpdateStateMachine",
                    format!("state machine {arn}"),
                    e,
                )
            })?;
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
            .map_err(|e| {
                AwsError::from_sdk("Step Functions", "ListTagsForResource", arn.to_owned(), e)
            })?;
        Ok(out
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key?, t.value?)))
            .collect())
    }

    /// Adds (or overwrites) tags on activity or state machine `arn`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn tag_sfn(
        &self,
        arn: &str,
        tag_map: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.sfn
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags(tag_map)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Step Functions", "TagResource", arn.to_owned(), e))?;
        Ok(())
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
}
