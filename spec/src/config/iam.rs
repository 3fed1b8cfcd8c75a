//! `[iam]`, `[functions.<entry>.iam]` and `permissions`: what the app's roles may do beyond
//! Portico's own policies, checked at load (see `docs/permissions.md`).

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, Config, FunctionSettings};

/// `[iam]` (app-wide) or `[functions.<entry>.iam]`: the role's extra permissions, or a role
/// of the app's own. See `docs/permissions.md`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamSection {
    /// `[[iam.statements]]`: added to the role's `statements` inline policy.
    #[serde(default)]
    pub statements: Vec<IamStatement>,
    /// ARNs of managed policies to attach to the role.
    #[serde(default)]
    pub managed_policies: Vec<Spanned<String>>,
    /// An existing role the function runs under: Portico then creates, changes and deletes
    /// no role for it.
    pub role_arn: Option<Spanned<String>>,
}

/// One `[[iam.statements]]` entry: an IAM policy statement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamStatement {
    /// `Allow` (the default) or `Deny`.
    pub effect: Option<Spanned<String>>,
    /// `service:Action` names (wildcards such as `dynamodb:Get*` allowed).
    pub actions: Spanned<Vec<Spanned<String>>>,
    /// Resource ARNs; `*` only with `allow_any_resource = true`.
    pub resources: Spanned<Vec<Spanned<String>>>,
    /// An IAM `Condition` block, written as a table (`{ StringEquals = { ... } }`).
    pub condition: Option<serde_json::Map<String, serde_json::Value>>,
    /// Allows `resources = ["*"]` (off: a statement on every resource is refused).
    #[serde(default)]
    pub allow_any_resource: bool,
}

impl IamStatement {
    /// The statement as IAM policy JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        out.insert(
            "Effect".to_owned(),
            self.effect
                .as_ref()
                .map_or("Allow", |e| e.get_ref().as_str())
                .into(),
        );
        let list = |v: &Spanned<Vec<Spanned<String>>>| {
            serde_json::Value::from(
                v.get_ref()
                    .iter()
                    .map(|a| a.get_ref().clone())
                    .collect::<Vec<_>>(),
            )
        };
        out.insert("Action".to_owned(), list(&self.actions));
        out.insert("Resource".to_owned(), list(&self.resources));
        if let Some(condition) = &self.condition {
            out.insert(
                "Condition".to_owned(),
                serde_json::Value::Object(condition.clone()),
            );
        }
        serde_json::Value::Object(out)
    }
}

/// What an action in `permissions` is allowed on: always the app's own declared resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionScope {
    /// The `[[state_machines]]`.
    StateMachines,
    /// The executions of the `[[state_machines]]`.
    Executions,
    /// The `[[activities]]`.
    Activities,
    /// The `[[activities]]` and `[[state_machines]]` (task tokens come from either).
    Tasks,
    /// The `[[email_identities]]`.
    EmailIdentities,
}

/// The actions `permissions` may name, with their scope.
pub const PERMISSIONS: [(&str, PermissionScope); 10] = [
    ("states:StartExecution", PermissionScope::StateMachines),
    ("states:DescribeExecution", PermissionScope::Executions),
    ("states:StopExecution", PermissionScope::Executions),
    ("states:GetActivityTask", PermissionScope::Activities),
    ("states:SendTaskSuccess", PermissionScope::Tasks),
    ("states:SendTaskFailure", PermissionScope::Tasks),
    ("states:SendTaskHeartbeat", PermissionScope::Tasks),
    ("ses:SendEmail", PermissionScope::EmailIdentities),
    ("ses:SendRawEmail", PermissionScope::EmailIdentities),
    ("ses:SendTemplatedEmail", PermissionScope::EmailIdentities),
];

/// The scope of `action`, if `permissions` may name it.
pub fn permission_scope(action: &str) -> Option<PermissionScope> {
    PERMISSIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, scope)| *scope)
}

impl IamSection {
    pub(super) fn validate(&self, c: &mut Checker<'_>, table: &str) {
        for statement in &self.statements {
            statement.validate(c, table);
        }
        for arn in &self.managed_policies {
            if !is_iam_arn(arn.get_ref(), "policy", true) {
                c.error(
                    arn.span().start,
                    &format!(
                        "`{table}.managed_policies`: `{}` is not a managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)",
                        arn.get_ref()
                    ),
                );
            }
        }
        if let Some(arn) = &self.role_arn {
            if !is_iam_arn(arn.get_ref(), "role", false) {
                c.error(
                    arn.span().start,
                    &format!(
                        "`{table}.role_arn`: `{}` is not a role ARN (arn:aws:iam::<account>:role/<name>)",
                        arn.get_ref()
                    ),
                );
            } else if !self.statements.is_empty() || !self.managed_policies.is_empty() {
                c.error(
                    arn.span().start,
                    &format!(
                        "`{table}.role_arn` with `statements` or `managed_policies` beside it: Portico does not change a role of your own; give that role the permissions, or drop `role_arn`"
                    ),
                );
            }
        }
    }
}

impl IamStatement {
    pub(super) fn validate(&self, c: &mut Checker<'_>, table: &str) {
        if let Some(effect) = &self.effect {
            if !matches!(effect.get_ref().as_str(), "Allow" | "Deny") {
                c.error(
                    effect.span().start,
                    &format!("`{table}.statements.effect` must be `Allow` or `Deny`"),
                );
            }
        }
        if self.actions.get_ref().is_empty() {
            c.error(
                self.actions.span().start,
                &format!("`{table}.statements.actions` must name at least one action"),
            );
        }
        for action in self.actions.get_ref() {
            if !is_action(action.get_ref()) {
                c.error(
                    action.span().start,
                    &format!(
                        "`{table}.statements.actions`: `{}` is not an IAM action; write `service:Action` (e.g. `dynamodb:GetItem`)",
                        action.get_ref()
                    ),
                );
            }
        }
        if self.resources.get_ref().is_empty() {
            c.error(
                self.resources.span().start,
                &format!("`{table}.statements.resources` must name at least one ARN"),
            );
        }
        for resource in self.resources.get_ref() {
            let r = resource.get_ref();
            if r == "*" {
                if !self.allow_any_resource {
                    c.error(
                        resource.span().start,
                        &format!(
                            "`{table}.statements.resources`: `*` allows the actions on every resource; name the ARNs, or set `allow_any_resource = true` on this statement if the actions take no resource"
                        ),
                    );
                }
            } else if !is_arn(r) {
                c.error(
                    resource.span().start,
                    &format!(
                        "`{table}.statements.resources`: `{r}` is not an ARN (arn:<partition>:<service>:<region>:<account>:<resource>)"
                    ),
                );
            }
        }
    }
}

/// `service:Action`: a lowercase service prefix, an action name of letters, digits and `*`.
fn is_action(action: &str) -> bool {
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '*' || ch == '?')
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>`, the partition and service set.
fn is_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && !parts[2].is_empty()
        && !parts[5].is_empty()
}

/// An IAM ARN of `kind` (`role`, `policy`): `arn:aws:iam::<account>:<kind>/<path/name>`;
/// `aws` as the account only when `aws_owned` (AWS managed policies).
fn is_iam_arn(arn: &str, kind: &str, aws_owned: bool) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return false;
    }
    let account_ok = (parts[4].len() == 12 && parts[4].chars().all(|ch| ch.is_ascii_digit()))
        || (aws_owned && parts[4] == "aws");
    let name = parts[5]
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'));
    parts[2] == "iam"
        && parts[3].is_empty()
        && account_ok
        && name.is_some_and(|n| !n.is_empty() && !n.ends_with('/'))
}

impl Config {
    /// A function's own `statements` or `managed_policies` under a `role_arn` that reaches it
    /// from `[iam]` or a stage: refused, as Portico would drop them.
    pub(super) fn check_own_roles(&self, c: &mut Checker<'_>) {
        let app_role = self.iam.role_arn.is_some();
        let tables = self
            .functions
            .iter()
            .chain(self.stages.values().flat_map(|s| s.functions.iter()));
        for (entry, settings) in tables {
            let Some(iam) = &settings.iam else { continue };
            let own_role = app_role
                || self.stages.values().any(|s| {
                    s.functions
                        .get(entry)
                        .and_then(|f| f.iam.as_ref())
                        .is_some_and(|i| i.role_arn.is_some())
                })
                || self
                    .functions
                    .get(entry)
                    .and_then(|f| f.iam.as_ref())
                    .is_some_and(|i| i.role_arn.is_some());
            let extra = iam
                .statements
                .first()
                .map(|s| s.actions.span().start)
                .or_else(|| iam.managed_policies.first().map(|a| a.span().start));
            if let (true, Some(at), None) = (own_role, extra, &iam.role_arn) {
                c.error(
                    at,
                    &format!(
                        "function `{entry}`: `iam.statements`/`iam.managed_policies` beside a `role_arn` for the same function; Portico does not change a role of your own"
                    ),
                );
            }
        }
    }

    /// Every action of `settings.permissions` is one portico can scope, to resources the
    /// config declares.
    pub(super) fn check_permissions(&self, settings: &FunctionSettings, c: &mut Checker<'_>) {
        for action in settings.permissions.iter().flatten() {
            let Some(scope) = permission_scope(action.get_ref()) else {
                let known: Vec<&str> = PERMISSIONS.iter().map(|(a, _)| *a).collect();
                c.error(
                    action.span().start,
                    &format!(
                        "`{}` is not an action portico can scope to the app's resources; use one of: {}",
                        action.get_ref(),
                        known.join(", ")
                    ),
                );
                continue;
            };
            let missing = match scope {
                PermissionScope::StateMachines | PermissionScope::Executions => self
                    .state_machines
                    .is_empty()
                    .then_some("[[state_machines]]"),
                PermissionScope::Activities => {
                    self.activities.is_empty().then_some("[[activities]]")
                }
                PermissionScope::Tasks => (self.activities.is_empty()
                    && self.state_machines.is_empty())
                .then_some("[[activities]] or [[state_machines]]"),
                PermissionScope::EmailIdentities => self
                    .email_identities
                    .is_empty()
                    .then_some("[[email_identities]]"),
            };
            if let Some(missing) = missing {
                c.error(
                    action.span().start,
                    &format!(
                        "`{}` needs something to act on: the config declares no {missing}",
                        action.get_ref()
                    ),
                );
            }
        }
    }
}
