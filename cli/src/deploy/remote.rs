//! What exists on AWS for one stage: read through the AWS boundary, read calls only.
//!
//! Resources are found by their derived names (see [`super::desired::Names`]); those whose names
//! AWS does not keep unique (REST APIs, usage plans, API keys) must also carry the app's
//! `portico:app` / `portico:stage` tags. The record speeds this up (the REST API's id) and
//! remembers resources that left the config; those are also found by the stage's name prefix
//! and tags, so a deploy from a fresh checkout removes them too.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::{
    Activity, ApiKey, Aws, AwsError, Function, GatewayResponse, LogGroup, PolicyStatement,
    Resource, RestApi, Role, Rule, Stage, StateMachine, UsagePlan,
};

use super::desired::{Desired, TAG_APP, TAG_STAGE};
use super::record::Record;

/// A REST API with everything a deployment snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteApi {
    /// The API.
    pub api: RestApi,
    /// Its resources.
    pub resources: Vec<Resource>,
    /// Its gateway responses that were set.
    pub gateway_responses: BTreeMap<String, GatewayResponse>,
    /// The stage, if it exists.
    pub stage: Option<Stage>,
}

/// A usage plan with its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotePlan {
    /// The plan.
    pub plan: UsagePlan,
    /// The ids of its keys.
    pub key_ids: Vec<String>,
}

/// A resource named like one of the stage's that the stage did not make: it carries
/// neither the stage's `portico:app` / `portico:stage` tags nor a place in the record. The
/// deploy stops rather than change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    /// What it is: `IAM role`, `log group`, `function`, `rule`, `activity`, `state machine`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Its ARN (what the tagging command takes).
    pub arn: String,
}

impl Clash {
    /// The AWS CLI command that marks it as the stage's (for when it is: made by an older
    /// portico, or its tags were removed).
    pub fn tag_command(&self, app: &str, stage: &str) -> String {
        let (name, arn) = (&self.name, &self.arn);
        let pairs = format!("Key={TAG_APP},Value={app} Key={TAG_STAGE},Value={stage}");
        let map = format!("{TAG_APP}={app},{TAG_STAGE}={stage}");
        match self.kind {
            "IAM role" => format!("aws iam tag-role --role-name {name} --tags {pairs}"),
            "log group" => format!("aws logs tag-resource --resource-arn {arn} --tags {map}"),
            "function" => format!("aws lambda tag-resource --resource {arn} --tags {map}"),
            "rule" => format!("aws events tag-resource --resource-arn {arn} --tags {pairs}"),
            _ => format!(
                "aws stepfunctions tag-resource --resource-arn {arn} --tags key={TAG_APP},value={app} key={TAG_STAGE},value={stage}"
            ),
        }
    }
}

/// The error that stops a deploy which would take over `clashes`: what, and how to fix it.
pub fn clash_message(app: &str, stage: &str, clashes: &[Clash]) -> String {
    let mut out = format!(
        "stage {stage} of app {app} would take over {} that it did not create (no {TAG_APP}={app} / {TAG_STAGE}={stage} tags, not in the deployment record); nothing was changed:",
        if clashes.len() == 1 {
            "a resource".to_owned()
        } else {
            format!("{} resources", clashes.len())
        }
    );
    for c in clashes {
        out.push_str(&format!("\n  {} {}", c.kind, c.name));
    }
    out.push_str(
        "\nfix: deploy under another name (`app.name`, the stage, or the activity's or state machine's `name` in portico.toml), or delete or rename the other resource; if it is in fact this stage's (made by an older portico, or its tags were removed), tag it and deploy again:",
    );
    for c in clashes {
        out.push_str(&format!("\n  {}", c.tag_command(app, stage)));
    }
    out
}

/// What exists, keyed like [`Desired`] (entry points, config names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remote {
    /// The functions' roles by entry point.
    pub roles: BTreeMap<String, Role>,
    /// The role every function shared before each got its own, with the names of its inline
    /// policies, when it carries the stage's tags: removed at the end of the plan.
    pub shared_role: Option<Vec<String>>,
    /// Roles of functions that left the app (or now run under a `role_arn` of the app's
    /// own): entry point → inline policy names.
    pub stale_roles: BTreeMap<String, Vec<String>>,
    /// The managed policies attached to the roles about to be deleted (stale, shared, the
    /// state machines' one), by role name, whoever attached them: detached first, or
    /// `DeleteRole` fails.
    pub stale_managed: BTreeMap<String, BTreeSet<String>>,
    /// The managed policies the record says Portico attached, by role name.
    pub attached: BTreeMap<String, BTreeSet<String>>,
    /// Resources named like the stage's that it did not make (see [`Clash`]).
    pub clashes: Vec<Clash>,
    /// The state machines' role.
    pub states_role: Option<Role>,
    /// Log groups by name.
    pub log_groups: BTreeMap<String, LogGroup>,
    /// Functions by entry point.
    pub functions: BTreeMap<String, Function>,
    /// Functions' resource-policy statements by entry point.
    pub permissions: BTreeMap<String, Vec<PolicyStatement>>,
    /// Rules by schedule.
    pub rules: BTreeMap<String, Rule>,
    /// Activities by config name.
    pub activities: BTreeMap<String, Activity>,
    /// State machines by config name.
    pub state_machines: BTreeMap<String, StateMachine>,
    /// The REST API.
    pub api: Option<RemoteApi>,
    /// The ids of other REST APIs with the stage's name and tags (duplicates: `deploy` warns
    /// about them, `delete` deletes them).
    pub other_apis: Vec<String>,
    /// Usage plans by config name.
    pub usage_plans: BTreeMap<String, RemotePlan>,
    /// API keys by config name.
    pub api_keys: BTreeMap<String, ApiKey>,
    /// Functions that exist but left the config: entry point → name.
    pub stale_functions: BTreeMap<String, String>,
    /// Rules that exist but left the config: schedule → name.
    pub stale_rules: BTreeMap<String, String>,
    /// Usage plans that exist but left the config: config name → plan.
    pub stale_usage_plans: BTreeMap<String, UsagePlan>,
    /// API keys that exist but left the config: config name → key.
    pub stale_api_keys: BTreeMap<String, ApiKey>,
    /// Activities that exist but left the config: config name → ARN.
    pub stale_activities: BTreeMap<String, String>,
    /// State machines that exist but left the config: config name → ARN.
    pub stale_state_machines: BTreeMap<String, String>,
    /// Log groups of functions that left the app.
    pub stale_log_groups: BTreeSet<String>,
    /// The state machines' role, with the names of its inline policies, when the config has
    /// no state machine left.
    pub stale_states_role: Option<Vec<String>>,
    /// The code zip the record says was uploaded to S3: bucket and key.
    pub code_object: Option<(String, String)>,
    /// Things worth telling (duplicates found, …).
    pub warnings: Vec<String>,
}

/// What `read` answers when `wanted`, else the empty answer without a call.
async fn read_if<T: Default>(
    wanted: bool,
    read: impl std::future::Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    if wanted { read.await } else { Ok(T::default()) }
}

fn owned_by(tags: &BTreeMap<String, String>, desired: &Desired) -> bool {
    tags.get(TAG_APP) == Some(&desired.app) && tags.get(TAG_STAGE) == Some(&desired.stage)
}

/// The config name of a resource named `<app>-<stage>-<name>` (else the whole name).
fn config_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

impl Remote {
    /// Reads what exists of `desired`, and what the stage has that the config no longer
    /// declares.
    ///
    /// With a record of a deploy that finished ([`Record::complete`]), only what the config
    /// or the record says can exist is read. Without one, or when AWS disagrees with it (a
    /// recorded resource is gone, or the stage has a log group the record does not know), the
    /// stage is discovered by its name prefix and tags, so a fresh checkout, an interrupted
    /// deploy or a deploy from another checkout still finds everything.
    ///
    /// # Errors
    /// When a read call fails.
    pub async fn read(
        aws: &Aws,
        desired: &Desired,
        record: Option<&Record>,
    ) -> Result<Self, AwsError> {
        if let Some(trusted) = record.filter(|r| r.complete) {
            let remote = Self::read_scoped(aws, desired, record, true, None).await?;
            if remote.agrees_with(trusted, desired) {
                return Ok(remote);
            }
        }
        Self::read_scoped(aws, desired, record, false, None).await
    }

    /// What `delete` reads: everything of the stage, found as an unscoped [`Remote::read`]
    /// finds it, and also by the places `deploy` need not look: every function and role named
    /// with the stage's prefix (a function with a custom log group, a role whose function is
    /// gone), the record's REST API whatever its name and tags now, every REST API with the
    /// stage's name and tags, Lambda's default log group of each function found, and the
    /// custom `log_groups` the config names (deleted only when they carry the stage's tags).
    ///
    /// # Errors
    /// When a read call fails.
    pub async fn sweep(
        aws: &Aws,
        desired: &Desired,
        record: Option<&Record>,
        log_groups: &BTreeSet<String>,
    ) -> Result<Self, AwsError> {
        Self::read_scoped(aws, desired, record, false, Some(log_groups)).await
    }

    /// Whether what was read matches `record` (then nothing outside it needs looking for).
    fn agrees_with(&self, record: &Record, desired: &Desired) -> bool {
        let recorded_found = record.functions.iter().all(|(entry, _)| {
            self.functions.contains_key(entry) || self.stale_functions.contains_key(entry)
        }) && record
            .rules
            .keys()
            .all(|s| self.rules.contains_key(s) || self.stale_rules.contains_key(s))
            && record.usage_plans.keys().all(|p| {
                self.usage_plans.contains_key(p) || self.stale_usage_plans.contains_key(p)
            })
            && record
                .api_keys
                .keys()
                .all(|k| self.api_keys.contains_key(k) || self.stale_api_keys.contains_key(k))
            && record
                .activities
                .keys()
                .all(|a| self.activities.contains_key(a) || self.stale_activities.contains_key(a))
            && record.state_machines.keys().all(|m| {
                self.state_machines.contains_key(m) || self.stale_state_machines.contains_key(m)
            })
            && (record.api.is_none() || self.api.is_some());
        let roles_found = desired.functions.iter().all(|f| {
            self.roles.contains_key(&f.entry)
                || self.stale_roles.contains_key(&f.entry)
                || !record.roles.values().any(|r| r.name == f.role.name)
        });
        // A log group of the stage the record does not know: another checkout deployed more.
        let groups_known = self
            .log_groups
            .keys()
            .chain(&self.stale_log_groups)
            .all(|g| record.log_groups.contains(g));
        recorded_found && roles_found && groups_known && self.clashes.is_empty()
    }

    /// [`Remote::read`]: with `scoped`, the kinds of resource that neither the config nor the
    /// record has are not listed; with `sweep` (the config's custom log groups), also what
    /// [`Remote::sweep`] looks for.
    #[allow(
        clippy::too_many_lines,
        reason = "one read per kind of resource, in one place"
    )]
    async fn read_scoped(
        aws: &Aws,
        desired: &Desired,
        record: Option<&Record>,
        scoped: bool,
        sweep: Option<&BTreeSet<String>>,
    ) -> Result<Self, AwsError> {
        use crate::aws::try_join_all;

        let names = desired.names();
        let mut remote = Self {
            code_object: record
                .and_then(|r| r.code_object.as_deref())
                .and_then(|o| o.strip_prefix("s3://"))
                .and_then(|o| o.split_once('/'))
                .map(|(bucket, key)| (bucket.to_owned(), key.to_owned())),
            attached: record
                .map(|r| r.attached_policies.clone())
                .unwrap_or_default(),
            ..Self::default()
        };
        let prefix = format!("{}-", names.prefix());
        let log_prefix = format!("/aws/lambda/{prefix}");
        let states_role_name = names.states_role();
        let shared_role_name = names.shared_role();
        let recorded_role =
            |name: &str| record.is_some_and(|r| r.roles.values().any(|n| n.name == name));
        // What to look for beyond the config's own names.
        let look = |declared: bool, recorded: fn(&Record) -> bool| {
            !scoped || declared || record.is_some_and(recorded)
        };
        let look_shared = !scoped || recorded_role(&shared_role_name);
        let look_states = look(desired.states_role.is_some(), |r| {
            r.roles.contains_key("state_machines")
        });
        let look_plans = look(!desired.usage_plans.is_empty(), |r| {
            !r.usage_plans.is_empty()
        });
        let look_keys = look(!desired.api_keys.is_empty(), |r| !r.api_keys.is_empty());
        let look_activities = look(!desired.activities.is_empty(), |r| !r.activities.is_empty());
        let look_machines = look(!desired.state_machines.is_empty(), |r| {
            !r.state_machines.is_empty()
        });
        // Scoped, a rule that left the config is found through the record.
        let look_rules = !scoped;
        let custom: BTreeSet<&String> = desired
            .functions
            .iter()
            .map(|f| &f.log_group)
            .filter(|g| !g.starts_with(&log_prefix))
            .collect();
        // Every independent read at once.
        let (
            (shared_role, states_role, log_groups, api),
            (all_plans, all_keys, all_activities, all_machines, rule_names),
            (roles, functions, rules, custom_groups),
        ) = tokio::try_join!(
            async {
                tokio::try_join!(
                    read_if(look_shared, aws.get_role(&shared_role_name)),
                    read_if(look_states, aws.get_role(&states_role_name)),
                    aws.list_log_groups(&log_prefix),
                    read_api(aws, desired, record, sweep.is_some()),
                )
            },
            async {
                tokio::try_join!(
                    read_if(look_plans, aws.list_usage_plans()),
                    read_if(look_keys, aws.list_api_keys()),
                    read_if(look_activities, aws.list_activities()),
                    read_if(look_machines, aws.list_state_machines()),
                    read_if(look_rules, aws.list_rule_names(&prefix)),
                )
            },
            async {
                tokio::try_join!(
                    try_join_all(desired.functions.iter().map(|f| aws.get_role(&f.role.name))),
                    try_join_all(desired.functions.iter().map(|f| async {
                        tokio::try_join!(
                            aws.get_function(&f.name),
                            aws.get_function_policy(&f.name)
                        )
                    })),
                    try_join_all(desired.schedules.iter().map(|s| aws.get_rule(&s.rule))),
                    try_join_all(custom.iter().map(|name| aws.get_log_group(name))),
                )
            },
        )?;
        for (f, role) in desired.functions.iter().zip(roles) {
            if let Some(role) = role {
                let owned = owned_by(&role.tags, desired) || recorded_role(&role.name);
                if !f.own_role {
                    // The function now runs under a role of the app's own: the one Portico
                    // made for it goes; someone else's of that name stays.
                    if owned {
                        remote
                            .stale_managed
                            .insert(role.name, role.managed_policies);
                        remote
                            .stale_roles
                            .insert(f.entry.clone(), role.inline_policies.into_keys().collect());
                    }
                } else if owned {
                    remote.roles.insert(f.entry.clone(), role);
                } else {
                    remote.clashes.push(Clash {
                        kind: "IAM role",
                        name: role.name,
                        arn: role.arn,
                    });
                }
            }
        }
        // The role of deployments made before each function had its own: removed once the
        // functions have moved to theirs, and only when it carries the stage's tags or the
        // record lists it.
        if let Some(role) = shared_role
            && (owned_by(&role.tags, desired) || recorded_role(&role.name))
        {
            remote.shared_role = Some(role.inline_policies.keys().cloned().collect());
            remote
                .stale_managed
                .insert(role.name, role.managed_policies);
        }
        let foreign = states_role
            .as_ref()
            .is_some_and(|role| !(owned_by(&role.tags, desired) || recorded_role(&role.name)));
        match states_role {
            Some(role) if foreign && desired.states_role.is_some() => {
                remote.clashes.push(Clash {
                    kind: "IAM role",
                    name: role.name,
                    arn: role.arn,
                });
            }
            // Someone else's role of that name, and none wanted: left alone.
            Some(_) if foreign => {}
            Some(role) if desired.states_role.is_some() => remote.states_role = Some(role),
            Some(role) => {
                remote.stale_states_role = Some(role.inline_policies.keys().cloned().collect());
                remote
                    .stale_managed
                    .insert(role.name, role.managed_policies);
            }
            None => {}
        }
        // Every function portico made has its log group (created first, with the stage's tags):
        // the groups named like the stage's name the functions to look at, without listing
        // every function of the account.
        let function_names: Vec<String> = log_groups
            .iter()
            .filter_map(|g| g.name.strip_prefix("/aws/lambda/"))
            .map(str::to_owned)
            .collect();
        let mut unclaimed = Vec::new();
        for group in log_groups {
            if desired.functions.iter().any(|f| f.log_group == group.name) {
                remote.log_groups.insert(group.name.clone(), group);
            } else if owned_by(&group.tags, desired)
                || record.is_some_and(|r| r.log_groups.contains(&group.name))
            {
                remote.stale_log_groups.insert(group.name);
            } else {
                unclaimed.push(group.name);
            }
        }
        // Custom log groups (`log_group = ...`): the config's by name; the record's that left
        // the config are removed only when they carry the stage's tags (the app made them).
        for group in custom_groups.into_iter().flatten() {
            remote.log_groups.insert(group.name.clone(), group);
        }
        let recorded_custom: BTreeSet<&String> = record
            .iter()
            .flat_map(|r| {
                r.log_groups
                    .iter()
                    .chain(r.functions.values().filter_map(|f| f.log_group.as_ref()))
            })
            .chain(sweep.into_iter().flatten())
            .filter(|g| !g.starts_with(&log_prefix) && !custom.contains(g))
            .collect();
        for name in recorded_custom {
            if let Some(group) = aws.get_log_group(name).await?
                && owned_by(&group.tags, desired)
            {
                remote.stale_log_groups.insert(group.name);
            }
        }
        let (api, others, warning) = api;
        if sweep.is_none() {
            remote.warnings.extend(warning);
        }
        remote.api = api;
        remote.other_apis = others;

        let recorded_function =
            |name: &str| record.is_some_and(|r| r.functions.values().any(|f| f.name == name));
        for (f, (function, policy)) in desired.functions.iter().zip(functions) {
            if let Some(function) = function {
                if !(owned_by(&function.tags, desired) || recorded_function(&f.name)) {
                    remote.clashes.push(Clash {
                        kind: "function",
                        name: function.name,
                        arn: function.arn,
                    });
                    continue;
                }
                remote.permissions.insert(f.entry.clone(), policy);
                remote.functions.insert(f.entry.clone(), function);
            }
        }
        // A group is the stage's when tagged or recorded, or when it is Lambda's default
        // group of one of the stage's functions (Lambda makes it again if it was deleted).
        for (name, group) in &remote.log_groups {
            let default_of_ours = desired.functions.iter().any(|f| {
                remote.functions.contains_key(&f.entry)
                    && name == &format!("/aws/lambda/{}", f.name)
            });
            let recorded = record.is_some_and(|r| r.log_groups.contains(name));
            if !(owned_by(&group.tags, desired) || recorded || default_of_ours) {
                remote.clashes.push(Clash {
                    kind: "log group",
                    name: name.clone(),
                    arn: desired
                        .location
                        .log_group_arn(name)
                        .trim_end_matches(":*")
                        .to_owned(),
                });
            }
        }
        // Functions that left the app: the record's, and those of the stage's log groups that
        // carry its tags.
        let mut candidates: BTreeMap<String, (String, bool)> = function_names
            .into_iter()
            .map(|n| (n.clone(), (config_name(&n, &prefix), false)))
            .collect();
        if sweep.is_some() {
            for name in aws.list_function_names(&prefix).await? {
                candidates
                    .entry(name.clone())
                    .or_insert_with(|| (config_name(&name, &prefix), false));
            }
        }
        for (entry, f) in record.iter().flat_map(|r| &r.functions) {
            candidates.insert(f.name.clone(), (entry.clone(), true));
        }
        for (name, (entry, recorded)) in candidates {
            if desired.functions.iter().any(|f| f.name == name) {
                continue;
            }
            if let Some(f) = aws.get_function(&name).await?
                && (recorded || owned_by(&f.tags, desired))
            {
                remote.stale_functions.insert(entry, name);
            }
        }
        // Lambda's default groups of those functions, when the stage is swept (Lambda makes
        // them, untagged, when a function logs without its group).
        if sweep.is_some() {
            for name in unclaimed {
                let default_of_stale = remote
                    .stale_functions
                    .values()
                    .any(|f| name == format!("/aws/lambda/{f}"));
                if default_of_stale {
                    remote.stale_log_groups.insert(name);
                }
            }
        }
        // Their roles, and those the record lists of functions already gone.
        let mut stale_entries: BTreeSet<String> = remote.stale_functions.keys().cloned().collect();
        if sweep.is_some() {
            // Roles named like the stage's functions, whose functions may be gone already.
            stale_entries.extend(
                aws.list_role_names(&prefix)
                    .await?
                    .iter()
                    .filter(|n| **n != states_role_name)
                    .map(|n| config_name(n, &prefix))
                    .filter(|e| desired.function(e).is_none()),
            );
        }
        stale_entries.extend(
            record
                .iter()
                .flat_map(|r| r.roles.keys())
                .filter_map(|k| k.strip_prefix("function:"))
                .filter(|e| desired.function(e).is_none())
                .map(str::to_owned),
        );
        for entry in stale_entries {
            if let Some(role) = aws.get_role(&names.function_role(&entry)).await?
                && (owned_by(&role.tags, desired) || recorded_role(&role.name))
            {
                remote
                    .stale_roles
                    .insert(entry, role.inline_policies.keys().cloned().collect());
                remote
                    .stale_managed
                    .insert(role.name, role.managed_policies);
            }
        }

        let recorded_rule =
            |name: &str| record.is_some_and(|r| r.rules.values().any(|x| x.name == name));
        for (s, rule) in desired.schedules.iter().zip(rules) {
            if let Some(rule) = rule {
                if owned_by(&rule.tags, desired) || recorded_rule(&rule.name) {
                    remote.rules.insert(s.entry.clone(), rule);
                } else {
                    remote.clashes.push(Clash {
                        kind: "rule",
                        name: rule.name,
                        arn: rule.arn,
                    });
                }
            }
        }
        let mut candidates: BTreeMap<String, (String, bool)> = rule_names
            .into_iter()
            .map(|n| (n.clone(), (config_name(&n, &prefix), false)))
            .collect();
        for (entry, r) in record.iter().flat_map(|r| &r.rules) {
            candidates.insert(r.name.clone(), (entry.clone(), true));
        }
        for (name, (entry, recorded)) in candidates {
            if desired.schedules.iter().any(|s| s.rule == name) {
                continue;
            }
            if let Some(rule) = aws.get_rule(&name).await?
                && (recorded || owned_by(&rule.tags, desired))
            {
                remote.stale_rules.insert(entry, name);
            }
        }

        for (name, arn) in all_activities {
            if let Some(a) = desired.activities.iter().find(|a| a.name == name) {
                let tags = aws.list_sfn_tags(&arn).await?;
                let recorded = record.is_some_and(|r| r.activities.values().any(|x| x.arn == arn));
                if owned_by(&tags, desired) || recorded {
                    remote
                        .activities
                        .insert(a.key.clone(), Activity { name, arn, tags });
                } else {
                    remote.clashes.push(Clash {
                        kind: "activity",
                        name,
                        arn,
                    });
                }
            } else if name.starts_with(&prefix) {
                let recorded = record.is_some_and(|r| r.activities.values().any(|x| x.arn == arn));
                if recorded || owned_by(&aws.list_sfn_tags(&arn).await?, desired) {
                    remote
                        .stale_activities
                        .insert(config_name(&name, &prefix), arn);
                }
            }
        }
        for (name, arn) in all_machines {
            if let Some(m) = desired.state_machines.iter().find(|m| m.name == name) {
                let mut machine = aws.describe_state_machine(&arn).await?;
                machine.tags = aws.list_sfn_tags(&arn).await?;
                let recorded =
                    record.is_some_and(|r| r.state_machines.values().any(|x| x.arn == arn));
                if owned_by(&machine.tags, desired) || recorded {
                    remote.state_machines.insert(m.key.clone(), machine);
                } else {
                    remote.clashes.push(Clash {
                        kind: "state machine",
                        name,
                        arn,
                    });
                }
            } else if name.starts_with(&prefix) {
                let recorded =
                    record.is_some_and(|r| r.state_machines.values().any(|x| x.arn == arn));
                // One being deleted (asynchronously) is listed until it is gone.
                let deleting = aws.describe_state_machine(&arn).await?.deleting;
                if !deleting && (recorded || owned_by(&aws.list_sfn_tags(&arn).await?, desired)) {
                    remote
                        .stale_state_machines
                        .insert(config_name(&name, &prefix), arn);
                }
            }
        }

        // Usage plans and keys: by name plus the stage's tags, or by the record's id (a plan
        // whose tags were removed is still this stage's; its tags are put back).
        let recorded_plan =
            |id: &str| record.is_some_and(|r| r.usage_plans.values().any(|p| p.id == id));
        for p in &desired.usage_plans {
            let mut found: Vec<&UsagePlan> = all_plans
                .iter()
                .filter(|u| {
                    u.name == p.name && (owned_by(&u.tags, desired) || recorded_plan(&u.id))
                })
                .collect();
            found.sort_by(|a, b| a.id.cmp(&b.id));
            if found.len() > 1 {
                remote.warnings.push(format!(
                    "{} usage plans are named {}; using {}",
                    found.len(),
                    p.name,
                    found[0].id
                ));
            }
            if let Some(plan) = found.first() {
                let key_ids = aws.get_usage_plan_key_ids(&plan.id).await?;
                remote.usage_plans.insert(
                    p.key.clone(),
                    RemotePlan {
                        plan: (*plan).clone(),
                        key_ids,
                    },
                );
            }
        }
        for u in &all_plans {
            let declared = desired.usage_plans.iter().any(|p| p.name == u.name);
            if !declared
                && ((u.name.starts_with(&prefix) && owned_by(&u.tags, desired))
                    || recorded_plan(&u.id))
            {
                remote
                    .stale_usage_plans
                    .insert(config_name(&u.name, &prefix), u.clone());
            }
        }
        let recorded_key =
            |id: &str| record.is_some_and(|r| r.api_keys.values().any(|k| k.id == id));
        for k in &desired.api_keys {
            let mut found: Vec<&ApiKey> = all_keys
                .iter()
                .filter(|a| a.name == k.name && (owned_by(&a.tags, desired) || recorded_key(&a.id)))
                .collect();
            found.sort_by(|a, b| a.id.cmp(&b.id));
            if let Some(key) = found.first() {
                remote.api_keys.insert(k.key.clone(), (*key).clone());
            }
        }
        for a in &all_keys {
            let declared = desired.api_keys.iter().any(|k| k.name == a.name);
            if !declared
                && ((a.name.starts_with(&prefix) && owned_by(&a.tags, desired))
                    || recorded_key(&a.id))
            {
                remote
                    .stale_api_keys
                    .insert(config_name(&a.name, &prefix), a.clone());
            }
        }
        Ok(remote)
    }
}

/// The stage's REST API: the record's id if it still names our API, else the oldest API with
/// the name and our tags; and the ids of the other APIs with the name and our tags (looked for
/// only when none was recorded, or when `sweep`ing: then the record's API is the stage's
/// whatever its name and tags now).
async fn read_api(
    aws: &Aws,
    desired: &Desired,
    record: Option<&Record>,
    sweep: bool,
) -> Result<(Option<RemoteApi>, Vec<String>, Option<String>), AwsError> {
    let mut warning = None;
    let mut api = None;
    let mut others = Vec::new();
    if let Some(id) = record.and_then(|r| r.api.as_ref()).map(|a| a.id.as_str()) {
        api = aws
            .get_rest_api(id)
            .await?
            .filter(|a| sweep || (a.name == desired.api.name && owned_by(&a.tags, desired)));
    }
    if sweep && let Some(recorded) = &api {
        others = aws
            .find_rest_apis(&desired.api.name)
            .await?
            .into_iter()
            .filter(|a| owned_by(&a.tags, desired) && a.id != recorded.id)
            .map(|a| a.id)
            .collect();
    }
    if api.is_none() {
        let mut found: Vec<RestApi> = aws
            .find_rest_apis(&desired.api.name)
            .await?
            .into_iter()
            .filter(|a| owned_by(&a.tags, desired))
            .collect();
        found.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        if found.len() > 1 {
            warning = Some(format!(
                "{} REST APIs are named {} with this app's tags; using the oldest, {} (delete the others: {})",
                found.len(),
                desired.api.name,
                found[0].id,
                found[1..]
                    .iter()
                    .map(|a| a.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut found = found.into_iter();
        api = found.next();
        others = found.map(|a| a.id).collect();
    }
    let Some(api) = api else {
        return Ok((None, others, warning));
    };
    let (resources, gateway_responses, stage) = tokio::try_join!(
        aws.get_resources(&api.id),
        aws.get_gateway_responses(&api.id),
        aws.get_stage(&api.id, &desired.api.stage),
    )?;
    Ok((
        Some(RemoteApi {
            api,
            resources,
            gateway_responses,
            stage,
        }),
        others,
        warning,
    ))
}
