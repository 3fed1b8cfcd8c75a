//! IAM: roles and their inline policies.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::{Aws, AwsError, AwsResultExt, SdkResultExt};

/// A role as it exists, with its inline policies (documents parsed, so comparisons ignore
/// formatting and IAM's URL-encoding).
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// The trust policy.
    pub assume_policy: Value,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, Value>,
    /// The ARNs of the managed policies attached to it.
    pub managed_policies: BTreeSet<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// IAM returns policy documents URL-encoded (moto: sometimes not).
fn parse_policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        serde_json::from_str(&decoded).unwrap_or(Value::String(text.to_owned()))
    })
}

/// The tags in the SDK's form.
pub(super) fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

impl Aws {
    /// The role `name` with its inline policies, or `None`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn get_role(&self, name: &str) -> Result<Option<Role>, AwsError> {
        let what = || format!("role {name}");
        let result = self.iam.get_role().role_name(name).send().await;
        let Some(role) = result
            .context("IAM", "GetRole", what())
            .found()?
            .and_then(|out| out.role)
        else {
            return Ok(None);
        };
        let policy_names = self
            .iam
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .context("IAM", "ListRolePolicies", what())?;
        let mut inline_policies = BTreeMap::new();
        for policy in policy_names {
            let doc = self
                .iam
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .context("IAM", "GetRolePolicy", what())?;
            inline_policies.insert(policy, parse_policy(&doc.policy_document));
        }
        let managed_policies = self
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .context("IAM", "ListAttachedRolePolicies", what())?
            .into_iter()
            .filter_map(|p| p.policy_arn)
            .collect();
        Ok(Some(Role {
            name: role.role_name().to_owned(),
            arn: role.arn().to_owned(),
            assume_policy: parse_policy(role.assume_role_policy_document().unwrap_or("{}")),
            inline_policies,
            managed_policies,
            tags: role
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        }))
    }

    /// Creates role `name` with its trust policy and tags; returns its ARN.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_role(
        &self,
        name: &str,
        assume_policy: &Value,
        tag_map: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let out = self
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(assume_policy.to_string())
            .description("Managed by portico deploy")
            .set_tags(Some(tags(tag_map)))
            .send()
            .await
            .context("IAM", "CreateRole", format!("role {name}"))?;
        Ok(out.role.map(|r| r.arn).unwrap_or_default())
    }

    /// Replaces role `name`'s trust policy.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn update_assume_role_policy(
        &self,
        name: &str,
        policy: &Value,
    ) -> Result<(), AwsError> {
        self.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(policy.to_string())
            .send()
            .await
            .context("IAM", "UpdateAssumeRolePolicy", format!("role {name}"))?;
        Ok(())
    }

    /// Adds or replaces the inline policy `policy` of role `role`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn put_role_policy(
        &self,
        role: &str,
        policy: &str,
        document: &Value,
    ) -> Result<(), AwsError> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document.to_string())
            .send()
            .await
            .context(
                "IAM",
                "PutRolePolicy",
                format!("role {role} policy {policy}"),
            )?;
        Ok(())
    }

    /// Removes the inline policy `policy` of role `role` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_role_policy(&self, role: &str, policy: &str) -> Result<(), AwsError> {
        self.iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .context(
                "IAM",
                "DeleteRolePolicy",
                format!("role {role} policy {policy}"),
            )
            .gone_is_fine()
    }

    /// Attaches the managed policy `arn` to role `role`.
    ///
    /// # Errors
    /// When the call fails (e.g. no such policy).
    pub async fn attach_role_policy(&self, role: &str, arn: &str) -> Result<(), AwsError> {
        self.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .context(
                "IAM",
                "AttachRolePolicy",
                format!("role {role} policy {arn}"),
            )?;
        Ok(())
    }

    /// Detaches the managed policy `arn` from role `role` (not attached is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn detach_role_policy(&self, role: &str, arn: &str) -> Result<(), AwsError> {
        self.iam
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .context(
                "IAM",
                "DetachRolePolicy",
                format!("role {role} policy {arn}"),
            )
            .gone_is_fine()
    }

    /// The names of the roles whose name starts with `prefix` (IAM lists them all; the
    /// filter is ours).
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_role_names(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let roles = self.iam.list_roles().into_paginator().items().send();
        Ok(roles
            .try_collect()
            .await
            .context("IAM", "ListRoles", "roles")?
            .into_iter()
            .map(|r| r.role_name)
            .filter(|n| n.starts_with(prefix))
            .collect())
    }

    /// Deletes role `name` (its inline policies must be gone and its managed policies
    /// detached; gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        self.iam
            .delete_role()
            .role_name(name)
            .send()
            .await
            .context("IAM", "DeleteRole", format!("role {name}"))
            .gone_is_fine()
    }
}
