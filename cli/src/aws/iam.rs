//! IAM: roles and their inline policies.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::{Aws, AwsError, gone_is_fine};

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

fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
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
        let role = match self.iam.get_role().role_name(name).send().await {
            Ok(out) => out.role,
            Err(e) => {
                let err = AwsError::from_sdk("IAM", "GetRole", what(), e);
                return if err.is_not_found() {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        let Some(role) = role else { return Ok(None) };
        let mut inline_policies = BTreeMap::new();
        let mut marker = None;
        loop {
            let out = self
                .iam
                .list_role_policies()
                .role_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "ListRolePolicies", what(), e))?;
            for policy in out.policy_names {
                let doc = self
                    .iam
                    .get_role_policy()
                    .role_name(name)
                    .policy_name(&policy)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("IAM", "GetRolePolicy", what(), e))?;
                inline_policies.insert(policy, parse_policy(&doc.policy_document));
            }
            if !out.is_truncated {
                break;
            }
            marker = out.marker;
        }
        let mut managed_policies = BTreeSet::new();
        let mut marker = None;
        loop {
            let out = self
                .iam
                .list_attached_role_policies()
                .role_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "ListAttachedRolePolicies", what(), e))?;
            managed_policies.extend(
                out.attached_policies
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| p.policy_arn),
            );
            if !out.is_truncated {
                break;
            }
            marker = out.marker;
        }
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
            .map_err(|e| AwsError::from_sdk("IAM", "CreateRole", format!("role {name}"), e))?;
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
            .map_err(|e| {
                AwsError::from_sdk("IAM", "UpdateAssumeRolePolicy", format!("role {name}"), e)
            })?;
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
            .map_err(|e| {
                AwsError::from_sdk(
                    "IAM",
                    "PutRolePolicy",
                    format!("role {role} policy {policy}"),
                    e,
                )
            })?;
        Ok(())
    }

    /// Removes the inline policy `policy` of role `role`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_role_policy(&self, role: &str, policy: &str) -> Result<(), AwsError> {
        match self
            .iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = AwsError::from_sdk(
                    "IAM",
                    "DeleteRolePolicy",
                    format!("role {role} policy {policy}"),
                    e,
                );
                if err.is_not_found() { Ok(()) } else { Err(err) }
            }
        }
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
            .map_err(|e| {
                AwsError::from_sdk(
                    "IAM",
                    "AttachRolePolicy",
                    format!("role {role} policy {arn}"),
                    e,
                )
            })?;
        Ok(())
    }

    /// Detaches the managed policy `arn` from role `role` (not attached is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn detach_role_policy(&self, role: &str, arn: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.iam
                .detach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk(
                        "IAM",
                        "DetachRolePolicy",
                        format!("role {role} policy {arn}"),
                        e,
                    )
                }),
        )
    }

    /// Adds (or overwrites) tags on role `name`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn tag_role(
        &self,
        name: &str,
        tag_map: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(tags(tag_map)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("IAM", "TagRole", format!("role {name}"), e))?;
        Ok(())
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

    /// Deletes role `name` (its inline policies must be gone and its managed policies
    /// detached; gone already is fine).
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
}
