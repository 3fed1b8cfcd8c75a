//! The planner: desired state vs. what exists → the list of [`Instruction`]s that makes the
//! stage match, in dependency order. Pure; every instruction is one step of the executor and
//! names its resources by their config names (entry points, paths), so the plan is the same
//! whether or not the resources it creates exist yet.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::aws::{FunctionConfig, Role};

use super::desired::{
    APIGATEWAY_PERMISSION_SID, Desired, EVENTS_PERMISSION_SID, OWNED_POLICIES, RoleSpec,
};
use super::remote::Remote;

/// The id of the target Portico puts on a schedule's rule.
pub const RULE_TARGET_ID: &str = "portico";

/// Which of the stage's roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleKind {
    /// The execution role of an entry point's function.
    Function(String),
    /// The state machines' role.
    StateMachines,
    /// The one role every function shared before each got its own (removed on upgrade).
    Shared,
}

impl RoleKind {
    /// The role's name.
    pub fn name(&self, desired: &Desired) -> String {
        let names = desired.names();
        match self {
            Self::Function(entry) => names.function_role(entry),
            Self::StateMachines => names.states_role(),
            Self::Shared => names.shared_role(),
        }
    }

    /// The role's key in the record (`roles`).
    pub fn record_key(&self) -> String {
        match self {
            Self::Function(entry) => format!("function:{entry}"),
            Self::StateMachines => "state_machines".to_owned(),
            Self::Shared => "functions".to_owned(),
        }
    }
}

/// Who may invoke a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Invoker {
    /// The REST API (any method, any stage).
    ApiGateway,
    /// The function's schedule rule.
    Schedule,
}

/// One step of a deployment. The executor runs each with one or a few AWS calls and records
/// the result before the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Instruction {
    /// Create a role with its trust policy and tags.
    CreateRole { role: RoleKind },
    /// Replace a role's trust policy.
    UpdateTrustPolicy { role: RoleKind },
    /// Add or replace an inline policy of a role.
    PutRolePolicy { role: RoleKind, policy: String },
    /// Remove an inline policy the config no longer asks for.
    DeleteRolePolicy { role: RoleKind, policy: String },
    /// Attach a managed policy the config names to a role.
    AttachRolePolicy { role: RoleKind, arn: String },
    /// Detach a managed policy from a role (one Portico attached that left the config, or
    /// any, before the role is deleted).
    DetachRolePolicy { role: RoleKind, arn: String },
    /// Add the stage's tags to a role.
    TagRole { role: RoleKind },
    /// Delete a role (its inline policies are deleted by the steps before).
    DeleteRole { role: RoleKind },
    /// Create a function's log group (with tags).
    CreateLogGroup { log_group: String },
    /// Set (or remove, `None`) a log group's retention.
    SetLogRetention {
        log_group: String,
        days: Option<u32>,
    },
    /// Add the stage's tags to a log group.
    TagLogGroup { log_group: String },
    /// Delete the log group of a function that left the app.
    DeleteLogGroup { log_group: String },
    /// Upload the code zip to S3 (zips over Lambda's 50 MB inline limit).
    UploadCode { bucket: String, key: String },
    /// Create the function of an entry point (waits until it is active).
    CreateFunction { entry: String },
    /// Replace a function's code (waits until the update is done).
    UpdateFunctionCode { entry: String },
    /// Replace a function's settings.
    UpdateFunctionConfiguration { entry: String, changes: Vec<String> },
    /// Add the stage's tags to a function.
    TagFunction { entry: String },
    /// Let a service invoke a function; `replace` drops an outdated statement first.
    AllowInvoke {
        entry: String,
        from: Invoker,
        replace: bool,
    },
    /// Remove the permission of an invoker the function no longer has (a schedule that became
    /// another kind of entry point).
    DisallowInvoke { entry: String, from: Invoker },
    /// Delete a function whose entry point left the app.
    DeleteFunction { entry: String, name: String },
    /// Create a Step Functions activity.
    CreateActivity { activity: String },
    /// Create a state machine.
    CreateStateMachine { state_machine: String },
    /// Replace a state machine's definition and role.
    UpdateStateMachine { state_machine: String },
    /// Add the stage's tags to an activity.
    TagActivity { activity: String },
    /// Add the stage's tags to a state machine.
    TagStateMachine { state_machine: String },
    /// Delete a state machine that left the config.
    DeleteStateMachine { state_machine: String, arn: String },
    /// Delete an activity that left the config.
    DeleteActivity { activity: String, arn: String },
    /// Create the REST API (with tags).
    CreateRestApi,
    /// Delete a REST API with its stages and deployments (the stage has none any more, or this
    /// one is a duplicate).
    DeleteRestApi { id: String },
    /// Add and remove binary media types.
    SetBinaryMediaTypes {
        add: Vec<String>,
        remove: Vec<String>,
    },
    /// Add the stage's tags to the REST API.
    TagRestApi,
    /// Create a resource (its parent exists by then).
    CreateResource { path: String },
    /// Delete a resource and everything under it.
    DeleteResource { path: String },
    /// Add a method (`replace`: delete the existing one first; API Gateway has no in-place
    /// update that every implementation supports).
    PutMethod {
        path: String,
        method: String,
        api_key_required: bool,
        replace: bool,
    },
    /// Set a method's `AWS_PROXY` integration to the API function.
    PutIntegration { path: String, method: String },
    /// Remove a method.
    DeleteMethod { path: String, method: String },
    /// Set a gateway response's headers (CORS on gateway-made errors).
    PutGatewayResponse { response: String },
    /// Reset a gateway response to AWS's default.
    DeleteGatewayResponse { response: String },
    /// Snapshot the API into a deployment and point the stage at it (creating the stage).
    DeployApi {
        stage: String,
        hash: String,
        create_stage: bool,
    },
    /// Create a usage plan.
    CreateUsagePlan { plan: String },
    /// Replace a usage plan's throttle and quota.
    UpdateUsagePlan { plan: String, changes: Vec<String> },
    /// Bind a usage plan to the API's stage.
    BindUsagePlan { plan: String },
    /// Create an API key.
    CreateApiKey { key: String },
    /// Put an API key into a usage plan.
    AddApiKeyToPlan { plan: String, key: String },
    /// Take an API key out of a usage plan that no longer lists it.
    RemoveApiKeyFromPlan {
        plan: String,
        key: String,
        key_id: String,
    },
    /// Add the stage's tags to a usage plan.
    TagUsagePlan { plan: String },
    /// Add the stage's tags to an API key.
    TagApiKey { key: String },
    /// Detach a usage plan that left the config from its stages, and delete it.
    DeleteUsagePlan {
        plan: String,
        id: String,
        api_stages: Vec<(String, String)>,
    },
    /// Delete an API key that left the config.
    DeleteApiKey { key: String, id: String },
    /// Create or update a schedule's rule.
    PutRule { schedule: String },
    /// Point a schedule's rule at its function.
    PutRuleTarget { schedule: String },
    /// Add the stage's tags to a rule.
    TagRule { schedule: String },
    /// Delete a rule whose schedule left the app.
    DeleteRule { schedule: String, name: String },
    /// Delete the code zip uploaded to S3 once no function runs it (the bucket stays: stages
    /// share it).
    DeleteCode { bucket: String, key: String },
}

impl Instruction {
    /// One line for people: what the step does, to what.
    pub fn describe(&self, desired: &Desired) -> String {
        let names = desired.names();
        let role = |kind: &RoleKind| kind.name(desired);
        let scoped = |n: &str| names.scoped(n);
        match self {
            Self::CreateRole { role: r } => format!("create role {}", role(r)),
            Self::UpdateTrustPolicy { role: r } => {
                format!("update the trust policy of role {}", role(r))
            }
            Self::PutRolePolicy { role: r, policy } => {
                format!("put policy {policy} on role {}", role(r))
            }
            Self::DeleteRolePolicy { role: r, policy } => {
                format!("delete policy {policy} of role {}", role(r))
            }
            Self::AttachRolePolicy { role: r, arn } => {
                format!("attach managed policy {arn} to role {}", role(r))
            }
            Self::DetachRolePolicy { role: r, arn } => {
                format!("detach managed policy {arn} from role {}", role(r))
            }
            Self::TagRole { role: r } => format!("tag role {}", role(r)),
            Self::DeleteRole { role: r } => format!("delete role {}", role(r)),
            Self::CreateLogGroup { log_group } => format!("create log group {log_group}"),
            Self::SetLogRetention {
                log_group,
                days: Some(d),
            } => {
                format!("keep {log_group} for {d} days")
            }
            Self::SetLogRetention {
                log_group,
                days: None,
            } => {
                format!("keep {log_group} forever")
            }
            Self::TagLogGroup { log_group } => format!("tag log group {log_group}"),
            Self::DeleteLogGroup { log_group } => format!("delete log group {log_group}"),
            Self::UploadCode { bucket, key } => format!("upload the code to s3://{bucket}/{key}"),
            Self::CreateFunction { entry } => format!("create function {}", names.function(entry)),
            Self::UpdateFunctionCode { entry } => {
                format!("update the code of function {}", names.function(entry))
            }
            Self::UpdateFunctionConfiguration { entry, changes } => format!(
                "update function {} ({})",
                names.function(entry),
                changes.join(", ")
            ),
            Self::TagFunction { entry } => format!("tag function {}", names.function(entry)),
            Self::AllowInvoke { entry, from, .. } => format!(
                "allow {} to invoke function {}",
                match from {
                    Invoker::ApiGateway => "API Gateway".to_owned(),
                    Invoker::Schedule => format!("rule {}", names.rule(entry)),
                },
                names.function(entry)
            ),
            Self::DisallowInvoke { entry, from } => format!(
                "stop allowing {} to invoke function {}",
                match from {
                    Invoker::ApiGateway => "API Gateway",
                    Invoker::Schedule => "its former rule",
                },
                names.function(entry)
            ),
            Self::DeleteFunction { name, .. } => format!("delete function {name}"),
            Self::CreateActivity { activity } => format!("create activity {}", scoped(activity)),
            Self::CreateStateMachine { state_machine } => {
                format!("create state machine {}", scoped(state_machine))
            }
            Self::UpdateStateMachine { state_machine } => {
                format!("update state machine {}", scoped(state_machine))
            }
            Self::TagActivity { activity } => format!("tag activity {}", scoped(activity)),
            Self::TagStateMachine { state_machine } => {
                format!("tag state machine {}", scoped(state_machine))
            }
            Self::DeleteStateMachine { state_machine, .. } => {
                format!("delete state machine {}", scoped(state_machine))
            }
            Self::DeleteActivity { activity, .. } => {
                format!("delete activity {}", scoped(activity))
            }
            Self::CreateRestApi => format!("create REST API {}", desired.api.name),
            Self::DeleteRestApi { id } => format!("delete REST API {} ({id})", desired.api.name),
            Self::SetBinaryMediaTypes { add, remove } => {
                let mut parts = Vec::new();
                if !add.is_empty() {
                    parts.push(format!("add {}", add.join(", ")));
                }
                if !remove.is_empty() {
                    parts.push(format!("remove {}", remove.join(", ")));
                }
                format!("binary media types: {}", parts.join("; "))
            }
            Self::TagRestApi => format!("tag REST API {}", desired.api.name),
            Self::CreateResource { path } => format!("create resource {path}"),
            Self::DeleteResource { path } => format!("delete resource {path}"),
            Self::PutMethod {
                path,
                method,
                api_key_required,
                replace,
            } => format!(
                "{} method {method} {path}{}",
                if *replace { "replace" } else { "add" },
                if *api_key_required {
                    " (API key required)"
                } else {
                    ""
                }
            ),
            Self::PutIntegration { path, method } => {
                format!(
                    "integrate {method} {path} with function {}",
                    desired.api.function
                )
            }
            Self::DeleteMethod { path, method } => format!("delete method {method} {path}"),
            Self::PutGatewayResponse { response } => {
                format!("add CORS headers to gateway response {response}")
            }
            Self::DeleteGatewayResponse { response } => {
                format!("reset gateway response {response}")
            }
            Self::DeployApi {
                stage,
                create_stage,
                ..
            } => {
                if *create_stage {
                    format!("deploy the API to new stage {stage}")
                } else {
                    format!("deploy the API to stage {stage}")
                }
            }
            Self::CreateUsagePlan { plan } => format!("create usage plan {}", scoped(plan)),
            Self::UpdateUsagePlan { plan, changes } => {
                format!(
                    "update usage plan {} ({})",
                    scoped(plan),
                    changes.join(", ")
                )
            }
            Self::BindUsagePlan { plan } => format!(
                "bind usage plan {} to stage {}",
                scoped(plan),
                desired.api.stage
            ),
            Self::CreateApiKey { key } => format!("create API key {}", scoped(key)),
            Self::AddApiKeyToPlan { plan, key } => {
                format!("add API key {} to usage plan {}", scoped(key), scoped(plan))
            }
            Self::RemoveApiKeyFromPlan { plan, key, .. } => format!(
                "remove API key {} from usage plan {}",
                scoped(key),
                scoped(plan)
            ),
            Self::TagUsagePlan { plan } => format!("tag usage plan {}", scoped(plan)),
            Self::TagApiKey { key } => format!("tag API key {}", scoped(key)),
            Self::DeleteUsagePlan { plan, id, .. } => {
                format!("delete usage plan {} ({id})", scoped(plan))
            }
            Self::DeleteApiKey { key, id } => format!("delete API key {} ({id})", scoped(key)),
            Self::PutRule { schedule } => {
                let s = desired.schedules.iter().find(|s| &s.entry == schedule);
                format!(
                    "put rule {} ({})",
                    names.rule(schedule),
                    s.map_or("", |s| s.expression.as_str())
                )
            }
            Self::PutRuleTarget { schedule } => format!(
                "target function {} from rule {}",
                names.function(schedule),
                names.rule(schedule)
            ),
            Self::TagRule { schedule } => format!("tag rule {}", names.rule(schedule)),
            Self::DeleteRule { name, .. } => format!("delete rule {name}"),
            Self::DeleteCode { bucket, key } => format!("delete s3://{bucket}/{key}"),
        }
    }

    /// Whether the step changes what the REST API's deployment snapshots.
    fn changes_api_definition(&self) -> bool {
        matches!(
            self,
            Self::CreateRestApi
                | Self::SetBinaryMediaTypes { .. }
                | Self::CreateResource { .. }
                | Self::DeleteResource { .. }
                | Self::PutMethod { .. }
                | Self::PutIntegration { .. }
                | Self::DeleteMethod { .. }
                | Self::PutGatewayResponse { .. }
                | Self::DeleteGatewayResponse { .. }
        )
    }
}

/// The description Portico gives the stage: the hash of the API definition it serves.
pub fn stage_description(hash: &str) -> String {
    format!("portico api {hash}")
}

fn has_tags(remote: &BTreeMap<String, String>, desired: &BTreeMap<String, String>) -> bool {
    desired.iter().all(|(k, v)| remote.get(k) == Some(v))
}

/// The plan that makes `remote` match `desired`.
pub fn plan(desired: &Desired, remote: &Remote) -> Vec<Instruction> {
    let mut out = Vec::new();
    for f in desired.functions.iter().filter(|f| f.own_role) {
        plan_role(
            &mut out,
            &RoleKind::Function(f.entry.clone()),
            &f.role,
            remote.roles.get(&f.entry),
            &remote.attached,
            desired,
        );
    }
    if let Some(spec) = &desired.states_role {
        plan_role(
            &mut out,
            &RoleKind::StateMachines,
            spec,
            remote.states_role.as_ref(),
            &remote.attached,
            desired,
        );
    }
    plan_logs(&mut out, desired, remote);
    plan_functions(&mut out, desired, remote);
    plan_step_functions(&mut out, desired, remote);
    plan_api(&mut out, desired, remote);
    plan_usage_plans(&mut out, desired, remote);
    if !desired.wants_api() {
        // After the usage plans are detached from its stage.
        let ids = remote
            .api
            .iter()
            .map(|a| &a.api.id)
            .chain(&remote.other_apis);
        for id in ids {
            out.push(Instruction::DeleteRestApi { id: id.clone() });
        }
    }
    plan_schedules(&mut out, desired, remote);
    for (schedule, name) in &remote.stale_rules {
        out.push(Instruction::DeleteRule {
            schedule: schedule.clone(),
            name: name.clone(),
        });
    }
    // Permissions of invokers a function no longer has.
    for f in &desired.functions {
        let statements = remote.permissions.get(&f.entry).into_iter().flatten();
        for statement in statements {
            let from = match statement.sid.as_str() {
                EVENTS_PERMISSION_SID if !desired.schedules.iter().any(|s| s.entry == f.entry) => {
                    Invoker::Schedule
                }
                APIGATEWAY_PERMISSION_SID if f.entry != "api" => Invoker::ApiGateway,
                _ => continue,
            };
            out.push(Instruction::DisallowInvoke {
                entry: f.entry.clone(),
                from,
            });
        }
    }
    for (entry, name) in &remote.stale_functions {
        out.push(Instruction::DeleteFunction {
            entry: entry.clone(),
            name: name.clone(),
        });
    }
    for log_group in &remote.stale_log_groups {
        out.push(Instruction::DeleteLogGroup {
            log_group: log_group.clone(),
        });
    }
    for (state_machine, arn) in &remote.stale_state_machines {
        out.push(Instruction::DeleteStateMachine {
            state_machine: state_machine.clone(),
            arn: arn.clone(),
        });
    }
    for (activity, arn) in &remote.stale_activities {
        out.push(Instruction::DeleteActivity {
            activity: activity.clone(),
            arn: arn.clone(),
        });
    }
    if let (None, Some(policies)) = (&desired.states_role, &remote.stale_states_role) {
        for policy in policies {
            out.push(Instruction::DeleteRolePolicy {
                role: RoleKind::StateMachines,
                policy: policy.clone(),
            });
        }
        detach_all(&mut out, &RoleKind::StateMachines, desired, remote);
        out.push(Instruction::DeleteRole {
            role: RoleKind::StateMachines,
        });
    }
    // Roles nothing uses any more, last: the functions above run under their own by now.
    let stale_roles = remote
        .stale_roles
        .iter()
        .map(|(entry, policies)| (RoleKind::Function(entry.clone()), policies))
        .chain(remote.shared_role.iter().map(|p| (RoleKind::Shared, p)));
    for (role, policies) in stale_roles {
        for policy in policies {
            out.push(Instruction::DeleteRolePolicy {
                role: role.clone(),
                policy: policy.clone(),
            });
        }
        detach_all(&mut out, &role, desired, remote);
        out.push(Instruction::DeleteRole { role });
    }
    if let (true, Some((bucket, key))) = (desired.functions.is_empty(), &remote.code_object) {
        out.push(Instruction::DeleteCode {
            bucket: bucket.clone(),
            key: key.clone(),
        });
    }
    out
}

/// Detaches every managed policy of a role about to be deleted, whoever attached it.
fn detach_all(out: &mut Vec<Instruction>, role: &RoleKind, desired: &Desired, remote: &Remote) {
    let attached = remote.stale_managed.get(&role.name(desired));
    for arn in attached.into_iter().flatten() {
        out.push(Instruction::DetachRolePolicy {
            role: role.clone(),
            arn: arn.clone(),
        });
    }
}

/// A role Portico makes: its trust policy, its inline policies among [`OWNED_POLICIES`] (an
/// inline policy of another name was added by hand and stays), the managed policies the config
/// names (one Portico attached that left the config is detached; one attached by hand stays),
/// and its tags.
fn plan_role(
    out: &mut Vec<Instruction>,
    kind: &RoleKind,
    spec: &RoleSpec,
    remote: Option<&Role>,
    attached: &BTreeMap<String, BTreeSet<String>>,
    desired: &Desired,
) {
    let Some(remote) = remote else {
        out.push(Instruction::CreateRole { role: kind.clone() });
        for policy in spec.policies.keys() {
            out.push(Instruction::PutRolePolicy {
                role: kind.clone(),
                policy: policy.clone(),
            });
        }
        for arn in &spec.managed_policies {
            out.push(Instruction::AttachRolePolicy {
                role: kind.clone(),
                arn: arn.clone(),
            });
        }
        return;
    };
    if remote.assume_policy != spec.assume_policy {
        out.push(Instruction::UpdateTrustPolicy { role: kind.clone() });
    }
    for (name, document) in &spec.policies {
        if remote.inline_policies.get(name) != Some(document) {
            out.push(Instruction::PutRolePolicy {
                role: kind.clone(),
                policy: name.clone(),
            });
        }
    }
    for name in remote.inline_policies.keys() {
        if OWNED_POLICIES.contains(&name.as_str()) && !spec.policies.contains_key(name) {
            out.push(Instruction::DeleteRolePolicy {
                role: kind.clone(),
                policy: name.clone(),
            });
        }
    }
    for arn in spec.managed_policies.difference(&remote.managed_policies) {
        out.push(Instruction::AttachRolePolicy {
            role: kind.clone(),
            arn: arn.clone(),
        });
    }
    let ours = attached.get(&spec.name).into_iter().flatten();
    for arn in ours {
        if !spec.managed_policies.contains(arn) && remote.managed_policies.contains(arn) {
            out.push(Instruction::DetachRolePolicy {
                role: kind.clone(),
                arn: arn.clone(),
            });
        }
    }
    if !has_tags(&remote.tags, &desired.tags) {
        out.push(Instruction::TagRole { role: kind.clone() });
    }
}

fn plan_logs(out: &mut Vec<Instruction>, desired: &Desired, remote: &Remote) {
    let mut seen = BTreeSet::new();
    for f in &desired.functions {
        // Functions may share a custom log group.
        if !seen.insert(&f.log_group) {
            continue;
        }
        match remote.log_groups.get(&f.log_group) {
            None => {
                out.push(Instruction::CreateLogGroup {
                    log_group: f.log_group.clone(),
                });
                if desired.log_retention.is_some() {
                    out.push(Instruction::SetLogRetention {
                        log_group: f.log_group.clone(),
                        days: desired.log_retention,
                    });
                }
            }
            Some(group) => {
                if group.retention_days != desired.log_retention {
                    out.push(Instruction::SetLogRetention {
                        log_group: f.log_group.clone(),
                        days: desired.log_retention,
                    });
                }
                if !has_tags(&group.tags, &desired.tags) {
                    out.push(Instruction::TagLogGroup {
                        log_group: f.log_group.clone(),
                    });
                }
            }
        }
    }
}

/// What differs between two function settings, for people.
fn config_changes(remote: &FunctionConfig, desired: &FunctionConfig) -> Vec<String> {
    let mut changes = Vec::new();
    if remote.memory != desired.memory {
        changes.push(format!("memory {} → {} MB", remote.memory, desired.memory));
    }
    if remote.timeout != desired.timeout {
        changes.push(format!(
            "timeout {} → {} s",
            remote.timeout, desired.timeout
        ));
    }
    if remote.role_arn != desired.role_arn {
        changes.push("role".to_owned());
    }
    if remote.runtime != desired.runtime {
        changes.push(format!("runtime {} → {}", remote.runtime, desired.runtime));
    }
    if remote.handler != desired.handler {
        changes.push(format!("handler {} → {}", remote.handler, desired.handler));
    }
    // An endpoint that does not report the function's logging config (moto) cannot show a
    // difference; AWS always reports it.
    if let (Some(from), Some(to)) = (&remote.log_group, &desired.log_group)
        && from != to
    {
        changes.push(format!("log group {from} → {to}"));
    }
    let keys: BTreeSet<&String> = remote.env.keys().chain(desired.env.keys()).collect();
    for key in keys {
        match (remote.env.get(key), desired.env.get(key)) {
            (None, Some(_)) => changes.push(format!("env {key} added")),
            (Some(_), None) => changes.push(format!("env {key} removed")),
            (Some(a), Some(b)) if a != b => changes.push(format!("env {key} changed")),
            _ => {}
        }
    }
    changes
}

fn plan_functions(out: &mut Vec<Instruction>, desired: &Desired, remote: &Remote) {
    let needs_code = desired.functions.iter().any(|f| {
        remote
            .functions
            .get(&f.entry)
            .is_none_or(|r| r.code_sha256 != desired.code.sha256)
    });
    if let (true, Some((bucket, key))) = (needs_code, &desired.code.s3) {
        out.push(Instruction::UploadCode {
            bucket: bucket.clone(),
            key: key.clone(),
        });
    }
    for f in &desired.functions {
        let Some(existing) = remote.functions.get(&f.entry) else {
            out.push(Instruction::CreateFunction {
                entry: f.entry.clone(),
            });
            continue;
        };
        // The architecture can only change with the code.
        let arch_changed = existing.config.architecture != f.config.architecture;
        let changes = config_changes(&existing.config, &f.deployed_config());
        if !changes.is_empty() {
            out.push(Instruction::UpdateFunctionConfiguration {
                entry: f.entry.clone(),
                changes,
            });
        }
        if existing.code_sha256 != desired.code.sha256 || arch_changed {
            out.push(Instruction::UpdateFunctionCode {
                entry: f.entry.clone(),
            });
        }
        if !has_tags(&existing.tags, &desired.tags) {
            out.push(Instruction::TagFunction {
                entry: f.entry.clone(),
            });
        }
    }
}

fn plan_step_functions(out: &mut Vec<Instruction>, desired: &Desired, remote: &Remote) {
    for a in &desired.activities {
        match remote.activities.get(&a.key) {
            None => out.push(Instruction::CreateActivity {
                activity: a.key.clone(),
            }),
            Some(existing) if !has_tags(&existing.tags, &desired.tags) => {
                out.push(Instruction::TagActivity {
                    activity: a.key.clone(),
                });
            }
            Some(_) => {}
        }
    }
    let role_arn = desired
        .states_role
        .as_ref()
        .map(|r| desired.location.role_arn(&r.name))
        .unwrap_or_default();
    for m in &desired.state_machines {
        match remote.state_machines.get(&m.key) {
            None => out.push(Instruction::CreateStateMachine {
                state_machine: m.key.clone(),
            }),
            Some(existing) => {
                let same_definition = serde_json::from_str::<Value>(&existing.definition).ok()
                    == m.definition
                        .as_deref()
                        .and_then(|d| serde_json::from_str(d).ok());
                if !same_definition || existing.role_arn != role_arn {
                    out.push(Instruction::UpdateStateMachine {
                        state_machine: m.key.clone(),
                    });
                }
                if !has_tags(&existing.tags, &desired.tags) {
                    out.push(Instruction::TagStateMachine {
                        state_machine: m.key.clone(),
                    });
                }
            }
        }
    }
}

fn plan_api(out: &mut Vec<Instruction>, desired: &Desired, remote: &Remote) {
    if !desired.wants_api() {
        return;
    }
    let spec = &desired.api;
    let start = out.len();
    let put_all = |out: &mut Vec<Instruction>, path: &str, replace: bool| {
        for (method, m) in &spec.resources[path] {
            out.push(Instruction::PutMethod {
                path: path.to_owned(),
                method: method.clone(),
                api_key_required: m.api_key_required,
                replace,
            });
            out.push(Instruction::PutIntegration {
                path: path.to_owned(),
                method: method.clone(),
            });
        }
    };
    let stage_ok = match &remote.api {
        None => {
            out.push(Instruction::CreateRestApi);
            if !spec.binary_media_types.is_empty() {
                out.push(Instruction::SetBinaryMediaTypes {
                    add: spec.binary_media_types.clone(),
                    remove: Vec::new(),
                });
            }
            for path in spec.resources.keys() {
                if path != "/" {
                    out.push(Instruction::CreateResource { path: path.clone() });
                }
                put_all(out, path, false);
            }
            for response in spec.gateway_responses.keys() {
                out.push(Instruction::PutGatewayResponse {
                    response: response.clone(),
                });
            }
            false
        }
        Some(api) => {
            let remote_types: BTreeSet<&String> = api.api.binary_media_types.iter().collect();
            let desired_types: BTreeSet<&String> = spec.binary_media_types.iter().collect();
            let add: Vec<String> = desired_types
                .difference(&remote_types)
                .map(|s| (*s).clone())
                .collect();
            let remove: Vec<String> = remote_types
                .difference(&desired_types)
                .map(|s| (*s).clone())
                .collect();
            if !add.is_empty() || !remove.is_empty() {
                out.push(Instruction::SetBinaryMediaTypes { add, remove });
            }
            let by_path: BTreeMap<&str, &crate::aws::Resource> =
                api.resources.iter().map(|r| (r.path.as_str(), r)).collect();
            let mut deleted: Vec<&str> = Vec::new();
            for path in by_path.keys() {
                let under_deleted = deleted.iter().any(|d| {
                    path.strip_prefix(d)
                        .is_some_and(|rest| rest.starts_with('/'))
                });
                if *path != "/" && !spec.resources.contains_key(*path) && !under_deleted {
                    out.push(Instruction::DeleteResource {
                        path: (*path).to_owned(),
                    });
                    deleted.push(path);
                }
            }
            for (path, methods) in &spec.resources {
                let Some(existing) = by_path.get(path.as_str()) else {
                    out.push(Instruction::CreateResource { path: path.clone() });
                    put_all(out, path, false);
                    continue;
                };
                for (method, m) in methods {
                    match existing.methods.get(method) {
                        None => {
                            out.push(Instruction::PutMethod {
                                path: path.clone(),
                                method: method.clone(),
                                api_key_required: m.api_key_required,
                                replace: false,
                            });
                            out.push(Instruction::PutIntegration {
                                path: path.clone(),
                                method: method.clone(),
                            });
                        }
                        Some(found) => {
                            let method_ok = found.api_key_required == m.api_key_required
                                && found.authorization == "NONE";
                            if !method_ok {
                                out.push(Instruction::PutMethod {
                                    path: path.clone(),
                                    method: method.clone(),
                                    api_key_required: m.api_key_required,
                                    replace: true,
                                });
                            }
                            let integration_ok = found.integration.as_ref().is_some_and(|i| {
                                i.kind == "AWS_PROXY"
                                    && i.uri == spec.integration_uri
                                    && i.timeout_ms == spec.timeout_ms
                            });
                            if !method_ok || !integration_ok {
                                out.push(Instruction::PutIntegration {
                                    path: path.clone(),
                                    method: method.clone(),
                                });
                            }
                        }
                    }
                }
                for method in existing.methods.keys() {
                    if !methods.contains_key(method) {
                        out.push(Instruction::DeleteMethod {
                            path: path.clone(),
                            method: method.clone(),
                        });
                    }
                }
            }
            let kinds: BTreeSet<&String> = spec
                .gateway_responses
                .keys()
                .chain(
                    api.gateway_responses
                        .keys()
                        .filter(|k| k.starts_with("DEFAULT_")),
                )
                .collect();
            for kind in kinds {
                match (
                    spec.gateway_responses.get(kind),
                    api.gateway_responses.get(kind),
                ) {
                    (Some(want), Some(have)) if &have.parameters == want => {}
                    (Some(_), _) => out.push(Instruction::PutGatewayResponse {
                        response: kind.clone(),
                    }),
                    (None, Some(_)) => out.push(Instruction::DeleteGatewayResponse {
                        response: kind.clone(),
                    }),
                    (None, None) => {}
                }
            }
            api.stage
                .as_ref()
                .is_some_and(|s| s.description == stage_description(&spec.hash))
        }
    };
    let definition_changed = out[start..].iter().any(Instruction::changes_api_definition);
    if definition_changed || !stage_ok {
        out.push(Instruction::DeployApi {
            stage: spec.stage.clone(),
            hash: spec.hash.clone(),
            create_stage: remote.api.as_ref().is_none_or(|a| a.stage.is_none()),
        });
    }
    if let Some(api) = &remote.api {
        if !has_tags(&api.api.tags, &desired.tags) {
            out.push(Instruction::TagRestApi);
        }
    }
    let source = remote
        .api
        .as_ref()
        .map(|a| desired.location.execute_api_arn(&a.api.id));
    plan_permission(
        out,
        &desired.location.account,
        remote,
        "api",
        Invoker::ApiGateway,
        APIGATEWAY_PERMISSION_SID,
        source.as_deref(),
    );
}

/// `AllowInvoke` unless the function's policy has statement `sid` for `source` (`None`: the
/// source does not exist yet, so neither can the statement).
fn plan_permission(
    out: &mut Vec<Instruction>,
    account: &str,
    remote: &Remote,
    entry: &str,
    from: Invoker,
    sid: &str,
    source: Option<&str>,
) {
    let statements = remote
        .permissions
        .get(entry)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let existing = statements.iter().find(|s| s.sid == sid);
    // Both conditions: a statement of an older deploy without the account is replaced.
    let ok = existing.is_some_and(|s| {
        source.is_some()
            && s.source_arn.as_deref() == source
            && s.source_account.as_deref() == Some(account)
    });
    if !ok {
        out.push(Instruction::AllowInvoke {
            entry: entry.to_owned(),
            from,
            replace: existing.is_some(),
        });
    }
}

fn plan_usage_plans(out: &mut Vec<Instruction>, desired: &Desired, remote: &Remote) {
    let api_id = remote.api.as_ref().map(|a| a.api.id.as_str());
    for key in &desired.api_keys {
        match remote.api_keys.get(&key.key) {
            None => out.push(Instruction::CreateApiKey {
                key: key.key.clone(),
            }),
            Some(existing) if !has_tags(&existing.tags, &desired.tags) => {
                out.push(Instruction::TagApiKey {
                    key: key.key.clone(),
                });
            }
            Some(_) => {}
        }
    }
    for plan in &desired.usage_plans {
        match remote.usage_plans.get(&plan.key) {
            None => {
                out.push(Instruction::CreateUsagePlan {
                    plan: plan.key.clone(),
                });
                out.push(Instruction::BindUsagePlan {
                    plan: plan.key.clone(),
                });
            }
            Some(existing) => {
                let mut changes = Vec::new();
                if existing.plan.throttle != plan.throttle {
                    changes.push("throttle".to_owned());
                }
                if existing.plan.quota != plan.quota {
                    changes.push("quota".to_owned());
                }
                if !changes.is_empty() {
                    out.push(Instruction::UpdateUsagePlan {
                        plan: plan.key.clone(),
                        changes,
                    });
                }
                if !has_tags(&existing.plan.tags, &desired.tags) {
                    out.push(Instruction::TagUsagePlan {
                        plan: plan.key.clone(),
                    });
                }
                let bound = api_id.is_some_and(|id| {
                    existing
                        .plan
                        .api_stages
                        .iter()
                        .any(|(a, s)| a == id && s == &desired.api.stage)
                });
                if !bound {
                    out.push(Instruction::BindUsagePlan {
                        plan: plan.key.clone(),
                    });
                }
            }
        }
        for key in &plan.api_keys {
            let present = match (remote.usage_plans.get(&plan.key), remote.api_keys.get(key)) {
                (Some(p), Some(k)) => p.key_ids.contains(&k.id),
                _ => false,
            };
            if !present {
                out.push(Instruction::AddApiKeyToPlan {
                    plan: plan.key.clone(),
                    key: key.clone(),
                });
            }
        }
        // Keys in the plan that it no longer lists (or that left the config).
        if let Some(existing) = remote.usage_plans.get(&plan.key) {
            for key_id in &existing.key_ids {
                let listed = plan
                    .api_keys
                    .iter()
                    .any(|k| remote.api_keys.get(k).is_some_and(|a| &a.id == key_id));
                if !listed {
                    let key = remote
                        .api_keys
                        .iter()
                        .chain(&remote.stale_api_keys)
                        .find(|(_, a)| &a.id == key_id)
                        .map_or_else(|| key_id.clone(), |(k, _)| k.clone());
                    out.push(Instruction::RemoveApiKeyFromPlan {
                        plan: plan.key.clone(),
                        key,
                        key_id: key_id.clone(),
                    });
                }
            }
        }
    }
    for (plan, existing) in &remote.stale_usage_plans {
        out.push(Instruction::DeleteUsagePlan {
            plan: plan.clone(),
            id: existing.id.clone(),
            api_stages: existing.api_stages.clone(),
        });
    }
    for (key, existing) in &remote.stale_api_keys {
        out.push(Instruction::DeleteApiKey {
            key: key.clone(),
            id: existing.id.clone(),
        });
    }
}

fn plan_schedules(out: &mut Vec<Instruction>, desired: &Desired, remote: &Remote) {
    for s in &desired.schedules {
        let rule = remote.rules.get(&s.entry);
        match rule {
            Some(r) if r.expression == s.expression && r.enabled => {
                if !has_tags(&r.tags, &desired.tags) {
                    out.push(Instruction::TagRule {
                        schedule: s.entry.clone(),
                    });
                }
            }
            _ => out.push(Instruction::PutRule {
                schedule: s.entry.clone(),
            }),
        }
        let targeted = rule.is_some_and(|r| {
            r.targets
                .iter()
                .any(|t| t.id == RULE_TARGET_ID && t.arn == s.function_arn)
        });
        if !targeted {
            out.push(Instruction::PutRuleTarget {
                schedule: s.entry.clone(),
            });
        }
        plan_permission(
            out,
            &desired.location.account,
            remote,
            &s.entry,
            Invoker::Schedule,
            EVENTS_PERMISSION_SID,
            Some(&s.rule_arn),
        );
    }
}

/// The plan as text: one line per step, numbered.
pub fn render_text(plan: &[Instruction], desired: &Desired) -> String {
    if plan.is_empty() {
        return "nothing to do: the stage matches the app\n".to_owned();
    }
    let width = plan.len().to_string().len();
    plan.iter()
        .enumerate()
        .map(|(i, step)| format!("{:>width$}. {}\n", i + 1, step.describe(desired)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::Instruction as I;
    use super::*;
    use crate::aws::{
        ApiKey, Function, GatewayResponse, Integration, LogGroup, Method, PolicyStatement,
        Resource, RestApi, Rule, Stage, Target, UsagePlan,
    };
    use crate::deploy::desired::tests::{config, inputs, manifest};
    use crate::deploy::remote::{RemoteApi, RemotePlan};

    const FIXTURE: &str = include_str!("fixtures/shop.toml");

    fn desired(text: &str) -> Desired {
        Desired::new(
            &config(text),
            &manifest(&[("GET", "/private")], &[("cleanup", "rate(5 minutes)")]),
            &inputs(Path::new(".")),
        )
        .unwrap()
    }

    /// What exists after the plan ran: the remote state matching `d` exactly.
    fn converged(d: &Desired) -> Remote {
        let role = |spec: &RoleSpec| Role {
            name: spec.name.clone(),
            arn: d.location.role_arn(&spec.name),
            assume_policy: spec.assume_policy.clone(),
            inline_policies: spec.policies.clone(),
            managed_policies: spec.managed_policies.clone(),
            tags: d.tags.clone(),
        };
        let api_id = "a1b2c3";
        let mut remote = Remote {
            roles: d
                .functions
                .iter()
                .map(|f| (f.entry.clone(), role(&f.role)))
                .collect(),
            states_role: d.states_role.as_ref().map(role),
            ..Remote::default()
        };
        for f in &d.functions {
            remote.log_groups.insert(
                f.log_group.clone(),
                LogGroup {
                    name: f.log_group.clone(),
                    retention_days: d.log_retention,
                    tags: d.tags.clone(),
                },
            );
            remote.functions.insert(
                f.entry.clone(),
                Function {
                    name: f.name.clone(),
                    arn: f.arn.clone(),
                    code_sha256: d.code.sha256.clone(),
                    config: f.deployed_config(),
                    tags: d.tags.clone(),
                },
            );
            let (sid, source) = match d.schedules.iter().find(|s| s.entry == f.entry) {
                Some(s) => (EVENTS_PERMISSION_SID, s.rule_arn.clone()),
                None if f.entry == "api" => (
                    APIGATEWAY_PERMISSION_SID,
                    d.location.execute_api_arn(api_id),
                ),
                // Invoked directly: no permission.
                None => continue,
            };
            remote.permissions.insert(
                f.entry.clone(),
                vec![PolicyStatement {
                    sid: sid.to_owned(),
                    principal: String::new(),
                    source_arn: Some(source),
                    source_account: Some(d.location.account.clone()),
                }],
            );
        }
        for s in &d.schedules {
            remote.rules.insert(
                s.entry.clone(),
                Rule {
                    name: s.rule.clone(),
                    arn: s.rule_arn.clone(),
                    expression: s.expression.clone(),
                    enabled: true,
                    targets: vec![Target {
                        id: RULE_TARGET_ID.to_owned(),
                        arn: s.function_arn.clone(),
                    }],
                    tags: d.tags.clone(),
                },
            );
        }
        let resources = d
            .api
            .resources
            .iter()
            .enumerate()
            .map(|(i, (path, methods))| Resource {
                id: format!("r{i}"),
                path: path.clone(),
                methods: methods
                    .iter()
                    .map(|(m, spec)| {
                        (
                            m.clone(),
                            Method {
                                authorization: "NONE".into(),
                                api_key_required: spec.api_key_required,
                                integration: Some(Integration {
                                    kind: "AWS_PROXY".into(),
                                    uri: d.api.integration_uri.clone(),
                                    timeout_ms: d.api.timeout_ms,
                                }),
                            },
                        )
                    })
                    .collect(),
            })
            .collect();
        remote.api = Some(RemoteApi {
            api: RestApi {
                id: api_id.into(),
                name: d.api.name.clone(),
                binary_media_types: d.api.binary_media_types.clone(),
                tags: d.tags.clone(),
                created: 0,
            },
            resources,
            gateway_responses: d
                .api
                .gateway_responses
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        GatewayResponse {
                            parameters: v.clone(),
                        },
                    )
                })
                .collect(),
            stage: Some(Stage {
                deployment_id: "dep1".into(),
                description: stage_description(&d.api.hash),
                tags: d.tags.clone(),
            }),
        });
        for a in &d.activities {
            remote.activities.insert(
                a.key.clone(),
                crate::aws::Activity {
                    name: a.name.clone(),
                    arn: a.arn.clone(),
                    tags: d.tags.clone(),
                },
            );
        }
        for m in &d.state_machines {
            remote.state_machines.insert(
                m.key.clone(),
                crate::aws::StateMachine {
                    name: m.name.clone(),
                    arn: m.arn.clone(),
                    definition: m.definition.clone().unwrap_or_default(),
                    role_arn: d.location.role_arn(&d.names().states_role()),
                    tags: d.tags.clone(),
                    deleting: false,
                },
            );
        }
        for k in &d.api_keys {
            remote.api_keys.insert(
                k.key.clone(),
                ApiKey {
                    id: format!("key-{}", k.key),
                    name: k.name.clone(),
                    tags: d.tags.clone(),
                },
            );
        }
        for p in &d.usage_plans {
            remote.usage_plans.insert(
                p.key.clone(),
                RemotePlan {
                    plan: UsagePlan {
                        id: format!("plan-{}", p.key),
                        name: p.name.clone(),
                        throttle: p.throttle,
                        quota: p.quota.clone(),
                        api_stages: vec![(api_id.into(), d.api.stage.clone())],
                        tags: d.tags.clone(),
                    },
                    key_ids: p.api_keys.iter().map(|k| format!("key-{k}")).collect(),
                },
            );
        }
        remote
    }

    fn s(v: &str) -> String {
        v.to_owned()
    }

    fn put(path: &str, method: &str, key: bool) -> [I; 2] {
        [
            I::PutMethod {
                path: s(path),
                method: s(method),
                api_key_required: key,
                replace: false,
            },
            I::PutIntegration {
                path: s(path),
                method: s(method),
            },
        ]
    }

    #[test]
    fn a_first_deploy_creates_everything_in_dependency_order() {
        let d = desired(FIXTURE);
        let plan = plan(&d, &Remote::default());
        let mut want = vec![
            I::CreateRole {
                role: RoleKind::Function(s("api")),
            },
            I::PutRolePolicy {
                role: RoleKind::Function(s("api")),
                policy: s("logs"),
            },
            I::CreateRole {
                role: RoleKind::Function(s("cleanup")),
            },
            I::PutRolePolicy {
                role: RoleKind::Function(s("cleanup")),
                policy: s("logs"),
            },
            I::CreateLogGroup {
                log_group: s("/aws/lambda/shop-dev-api"),
            },
            I::SetLogRetention {
                log_group: s("/aws/lambda/shop-dev-api"),
                days: Some(14),
            },
            I::CreateLogGroup {
                log_group: s("/aws/lambda/shop-dev-cleanup"),
            },
            I::SetLogRetention {
                log_group: s("/aws/lambda/shop-dev-cleanup"),
                days: Some(14),
            },
            I::CreateFunction { entry: s("api") },
            I::CreateFunction {
                entry: s("cleanup"),
            },
            I::CreateRestApi,
            I::SetBinaryMediaTypes {
                add: vec![s("image/png")],
                remove: vec![],
            },
        ];
        want.extend(put("/", "ANY", false));
        want.push(I::CreateResource {
            path: s("/private"),
        });
        want.extend(put("/private", "ANY", false));
        want.extend(put("/private", "GET", true));
        want.extend(put("/private", "OPTIONS", false));
        want.push(I::CreateResource {
            path: s("/private/{proxy+}"),
        });
        want.extend(put("/private/{proxy+}", "ANY", false));
        want.push(I::CreateResource {
            path: s("/{proxy+}"),
        });
        want.extend(put("/{proxy+}", "ANY", false));
        want.extend([
            I::PutGatewayResponse {
                response: s("DEFAULT_4XX"),
            },
            I::PutGatewayResponse {
                response: s("DEFAULT_5XX"),
            },
            I::DeployApi {
                stage: s("dev"),
                hash: d.api.hash.clone(),
                create_stage: true,
            },
            I::AllowInvoke {
                entry: s("api"),
                from: Invoker::ApiGateway,
                replace: false,
            },
            I::CreateApiKey { key: s("partner") },
            I::CreateUsagePlan { plan: s("gold") },
            I::BindUsagePlan { plan: s("gold") },
            I::AddApiKeyToPlan {
                plan: s("gold"),
                key: s("partner"),
            },
            I::PutRule {
                schedule: s("cleanup"),
            },
            I::PutRuleTarget {
                schedule: s("cleanup"),
            },
            I::AllowInvoke {
                entry: s("cleanup"),
                from: Invoker::Schedule,
                replace: false,
            },
        ]);
        assert_eq!(plan, want);
    }

    #[test]
    fn nothing_changed_means_an_empty_plan() {
        let d = desired(FIXTURE);
        assert_eq!(plan(&d, &converged(&d)), vec![]);
    }

    #[test]
    fn new_code_updates_only_the_code() {
        let d = desired(FIXTURE);
        let mut remote = converged(&d);
        for f in remote.functions.values_mut() {
            f.code_sha256 = s("old");
        }
        assert_eq!(
            plan(&d, &remote),
            vec![
                I::UpdateFunctionCode { entry: s("api") },
                I::UpdateFunctionCode {
                    entry: s("cleanup")
                },
            ]
        );
    }

    #[test]
    fn secrets_are_set_kept_overridden_and_removed_by_name_only() {
        use crate::deploy::desired::SecretValues;
        use crate::deploy::secrets::resolve;
        const VALUE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let with_secret = FIXTURE.replace(
            "[logs]",
            "[[secrets]]\nname = \"LINK_KEY\"\ngenerate = \"base64-32\"\n\n[logs]",
        );
        let never = |_| -> std::io::Result<String> { panic!("nothing to generate") };
        let with = |text: &str, remote: &Remote, generate: &mut dyn FnMut(_) -> _| {
            let mut d = desired(text);
            let r = resolve(&d, remote, &[], generate).unwrap();
            d.set_secret_values(&r.values);
            d
        };

        // Present remotely in every function: no change, and the value is kept.
        let mut deployed = desired(&with_secret);
        deployed.set_secret_values(&SecretValues(
            [("LINK_KEY".to_owned(), VALUE.to_owned())].into(),
        ));
        let remote = converged(&deployed);
        let d = with(&with_secret, &remote, &mut { never });
        assert_eq!(d.functions[1].deployed_config().env["LINK_KEY"], VALUE);
        assert_eq!(plan(&d, &remote), vec![]);

        // Absent (the secret is new): every function gets it, named, never shown.
        let before = converged(&desired(FIXTURE));
        let d = with(
            &with_secret,
            &before,
            &mut portico_local::secrets::generate_value,
        );
        let steps = plan(&d, &before);
        let added = |entry: &str| I::UpdateFunctionConfiguration {
            entry: s(entry),
            changes: vec![s("env LINK_KEY added")],
        };
        assert_eq!(steps, vec![added("api"), added("cleanup")]);
        let value = d.functions[0].deployed_config().env["LINK_KEY"].clone();
        assert_eq!(d.functions[1].deployed_config().env["LINK_KEY"], value);
        let shown = format!(
            "{}{}{}{d:?}",
            render_text(&steps, &d),
            serde_json::to_string(&steps).unwrap(),
            serde_json::to_string(&d).unwrap()
        );
        assert!(!shown.contains(&value), "{shown}");

        // One function lacks it: only that one is updated, with the API function's value.
        let mut partial = remote.clone();
        partial
            .functions
            .get_mut("cleanup")
            .unwrap()
            .config
            .env
            .remove("LINK_KEY");
        let d = with(&with_secret, &partial, &mut { never });
        assert_eq!(plan(&d, &partial), vec![added("cleanup")]);
        assert_eq!(d.functions[1].deployed_config().env["LINK_KEY"], VALUE);

        // A stage env var of the same name overrides it: the functions get the stage's value.
        let pinned = with_secret.replace(
            "[logs]",
            "[stages.dev]\nenv = { LINK_KEY = \"pinned\" }\n\n[logs]",
        );
        let d = with(&pinned, &remote, &mut { never });
        let changed = |entry: &str| I::UpdateFunctionConfiguration {
            entry: s(entry),
            changes: vec![s("env LINK_KEY changed")],
        };
        assert_eq!(plan(&d, &remote), vec![changed("api"), changed("cleanup")]);
        assert_eq!(d.functions[0].deployed_config().env["LINK_KEY"], "pinned");

        // Removed from the config: the variable is removed.
        let d = with(FIXTURE, &remote, &mut { never });
        let removed = |entry: &str| I::UpdateFunctionConfiguration {
            entry: s(entry),
            changes: vec![s("env LINK_KEY removed")],
        };
        assert_eq!(plan(&d, &remote), vec![removed("api"), removed("cleanup")]);
    }

    #[test]
    fn settings_changes_update_configuration_without_redeploying_the_api() {
        let old = desired(FIXTURE);
        let new = desired(&FIXTURE.replace(
            "[logs]",
            "[functions.api]\nmemory = 512\nenv = { MODE = \"x\" }\n\n[logs]",
        ));
        assert_eq!(
            plan(&new, &converged(&old)),
            vec![I::UpdateFunctionConfiguration {
                entry: s("api"),
                changes: vec![s("memory 128 → 512 MB"), s("env MODE added")],
            }]
        );
    }

    #[test]
    fn a_custom_log_group_is_created_set_on_the_function_and_compared_when_reported() {
        let custom = FIXTURE.replace(
            "[logs]",
            "[functions.cleanup]\nlog_group = \"/custom/shop/cleanup\"\n\n[logs]",
        );
        let old = desired(FIXTURE);
        let new = desired(&custom);
        let cleanup = &new.functions[1];
        assert_eq!(cleanup.entry, "cleanup");
        assert_eq!(cleanup.log_group, "/custom/shop/cleanup");
        assert_eq!(
            cleanup.deployed_config().log_group.as_deref(),
            Some("/custom/shop/cleanup"),
            "the function's LoggingConfig names it"
        );
        assert_eq!(
            new.functions[0].deployed_config().log_group.as_deref(),
            Some("/aws/lambda/shop-dev-api")
        );
        // From the default group to the custom one: the new group, the policy naming it, the
        // function's logging config; the default group is stale only when found so.
        let mut remote = converged(&old);
        assert_eq!(
            plan(&new, &remote),
            vec![
                I::PutRolePolicy {
                    role: RoleKind::Function(s("cleanup")),
                    policy: s("logs"),
                },
                I::CreateLogGroup {
                    log_group: s("/custom/shop/cleanup"),
                },
                I::SetLogRetention {
                    log_group: s("/custom/shop/cleanup"),
                    days: Some(14),
                },
                I::UpdateFunctionConfiguration {
                    entry: s("cleanup"),
                    changes: vec![s(
                        "log group /aws/lambda/shop-dev-cleanup → /custom/shop/cleanup"
                    )],
                },
            ]
        );
        // An endpoint that does not report the logging config (moto): nothing to compare.
        for f in remote.functions.values_mut() {
            f.config.log_group = None;
        }
        assert_eq!(plan(&old, &remote), vec![]);
        // Converged on the custom group: nothing to do.
        assert_eq!(plan(&new, &converged(&new)), vec![]);
        let mut unreported = converged(&new);
        for f in unreported.functions.values_mut() {
            f.config.log_group = None;
        }
        assert_eq!(plan(&new, &unreported), vec![]);
        // Two functions sharing a group: created once.
        let shared = desired(&custom.replace(
            "[functions.cleanup]",
            "[functions.api]\nlog_group = \"/custom/shop/cleanup\"\n\n[functions.cleanup]",
        ));
        let creates = plan(&shared, &Remote::default())
            .into_iter()
            .filter(|i| matches!(i, I::CreateLogGroup { .. }))
            .count();
        assert_eq!(creates, 1);
        for f in &shared.functions {
            assert_eq!(
                f.role.policies["logs"]["Statement"][0]["Resource"],
                serde_json::json!([
                    "arn:aws:logs:eu-west-1:123456789012:log-group:/custom/shop/cleanup:*"
                ])
            );
        }
    }

    #[test]
    fn an_api_change_redeploys_the_stage() {
        let old = desired(FIXTURE);
        let new = desired(&FIXTURE.replace("\"image/png\"", "\"image/png\", \"application/pdf\""));
        assert_eq!(
            plan(&new, &converged(&old)),
            vec![
                I::SetBinaryMediaTypes {
                    add: vec![s("application/pdf")],
                    remove: vec![]
                },
                I::DeployApi {
                    stage: s("dev"),
                    hash: new.api.hash.clone(),
                    create_stage: false
                },
            ]
        );
    }

    #[test]
    fn a_route_losing_its_key_requirement_removes_its_resources() {
        let old = desired(FIXTURE);
        let new = Desired::new(
            &config(FIXTURE),
            &manifest(&[], &[("cleanup", "rate(5 minutes)")]),
            &inputs(Path::new(".")),
        )
        .unwrap();
        assert_eq!(
            plan(&new, &converged(&old)),
            vec![
                I::DeleteResource {
                    path: s("/private")
                },
                I::DeployApi {
                    stage: s("dev"),
                    hash: new.api.hash.clone(),
                    create_stage: false
                },
            ]
        );
    }

    #[test]
    fn turning_cors_off_resets_the_gateway_responses_and_the_preflight() {
        let old = desired(FIXTURE);
        let new = desired(&FIXTURE.replace(
            "cors = { allow_origin = \"https://shop.example.com\" }\n",
            "",
        ));
        assert_eq!(
            plan(&new, &converged(&old)),
            vec![
                I::DeleteMethod {
                    path: s("/private"),
                    method: s("OPTIONS")
                },
                I::DeleteGatewayResponse {
                    response: s("DEFAULT_4XX")
                },
                I::DeleteGatewayResponse {
                    response: s("DEFAULT_5XX")
                },
                I::DeployApi {
                    stage: s("dev"),
                    hash: new.api.hash.clone(),
                    create_stage: false
                },
            ]
        );
    }

    #[test]
    fn an_interrupted_first_deploy_resumes_where_it_stopped() {
        // The API was created, but its stage never was, and nothing after it exists.
        let d = desired(FIXTURE);
        let mut remote = converged(&d);
        remote.api.as_mut().unwrap().stage = None;
        remote.permissions.remove("api");
        remote.usage_plans.clear();
        remote.api_keys.clear();
        remote.rules.clear();
        remote.permissions.remove("cleanup");
        assert_eq!(
            plan(&d, &remote),
            vec![
                I::DeployApi {
                    stage: s("dev"),
                    hash: d.api.hash.clone(),
                    create_stage: true
                },
                I::AllowInvoke {
                    entry: s("api"),
                    from: Invoker::ApiGateway,
                    replace: false
                },
                I::CreateApiKey { key: s("partner") },
                I::CreateUsagePlan { plan: s("gold") },
                I::BindUsagePlan { plan: s("gold") },
                I::AddApiKeyToPlan {
                    plan: s("gold"),
                    key: s("partner")
                },
                I::PutRule {
                    schedule: s("cleanup")
                },
                I::PutRuleTarget {
                    schedule: s("cleanup")
                },
                I::AllowInvoke {
                    entry: s("cleanup"),
                    from: Invoker::Schedule,
                    replace: false
                },
            ]
        );
    }

    #[test]
    fn drift_is_repaired() {
        let d = desired(FIXTURE);
        let mut remote = converged(&d);
        let role = remote.roles.get_mut("api").unwrap();
        // `ses` is Portico's own name, not asked for: deleted; `admin` was added by hand: kept.
        role.inline_policies
            .insert(s("ses"), serde_json::json!({"Statement": []}));
        role.inline_policies
            .insert(s("admin"), serde_json::json!({"Statement": []}));
        role.managed_policies
            .insert(s("arn:aws:iam::aws:policy/ByHand"));
        role.inline_policies
            .insert(s("logs"), serde_json::json!({"Statement": []}));
        remote
            .log_groups
            .values_mut()
            .next()
            .unwrap()
            .retention_days = None;
        let api = remote.api.as_mut().unwrap();
        let private = api
            .resources
            .iter_mut()
            .find(|r| r.path == "/private")
            .unwrap();
        private.methods.get_mut("GET").unwrap().api_key_required = false;
        api.api.tags.clear();
        api.resources.push(Resource {
            id: s("x"),
            path: s("/manual"),
            methods: BTreeMap::new(),
        });
        remote.usage_plans.get_mut("gold").unwrap().plan.quota = None;
        remote.permissions.insert(
            s("api"),
            vec![PolicyStatement {
                sid: s(APIGATEWAY_PERMISSION_SID),
                principal: String::new(),
                source_arn: Some(s("arn:aws:execute-api:eu-west-1:123456789012:other/*")),
                source_account: Some(s("123456789012")),
            }],
        );
        remote.rules.get_mut("cleanup").unwrap().enabled = false;
        assert_eq!(
            plan(&d, &remote),
            vec![
                I::PutRolePolicy {
                    role: RoleKind::Function(s("api")),
                    policy: s("logs")
                },
                I::DeleteRolePolicy {
                    role: RoleKind::Function(s("api")),
                    policy: s("ses")
                },
                I::SetLogRetention {
                    log_group: s("/aws/lambda/shop-dev-api"),
                    days: Some(14)
                },
                I::DeleteResource { path: s("/manual") },
                I::PutMethod {
                    path: s("/private"),
                    method: s("GET"),
                    api_key_required: true,
                    replace: true
                },
                I::PutIntegration {
                    path: s("/private"),
                    method: s("GET")
                },
                I::DeployApi {
                    stage: s("dev"),
                    hash: d.api.hash.clone(),
                    create_stage: false
                },
                I::TagRestApi,
                I::AllowInvoke {
                    entry: s("api"),
                    from: Invoker::ApiGateway,
                    replace: true
                },
                I::UpdateUsagePlan {
                    plan: s("gold"),
                    changes: vec![s("quota")]
                },
                I::PutRule {
                    schedule: s("cleanup")
                },
            ]
        );
    }

    #[test]
    fn schedules_that_left_the_app_are_removed() {
        let d = Desired::new(
            &config(FIXTURE),
            &manifest(&[("GET", "/private")], &[]),
            &inputs(Path::new(".")),
        )
        .unwrap();
        let mut remote = converged(&d);
        remote
            .stale_rules
            .insert(s("cleanup"), s("shop-dev-cleanup"));
        remote
            .stale_functions
            .insert(s("cleanup"), s("shop-dev-cleanup"));
        assert_eq!(
            plan(&d, &remote),
            vec![
                I::DeleteRule {
                    schedule: s("cleanup"),
                    name: s("shop-dev-cleanup")
                },
                I::DeleteFunction {
                    entry: s("cleanup"),
                    name: s("shop-dev-cleanup")
                },
            ]
        );
    }

    #[test]
    fn a_schedule_that_became_a_function_loses_its_rule_and_permission() {
        let old = desired(FIXTURE);
        let mut m = manifest(&[("GET", "/private")], &[]);
        m.entry_points.push(s("cleanup"));
        let new = Desired::new(&config(FIXTURE), &m, &inputs(Path::new("."))).unwrap();
        let mut remote = converged(&old);
        remote.rules.remove("cleanup");
        remote
            .stale_rules
            .insert(s("cleanup"), s("shop-dev-cleanup"));
        assert_eq!(
            plan(&new, &remote),
            vec![
                I::DeleteRule {
                    schedule: s("cleanup"),
                    name: s("shop-dev-cleanup")
                },
                I::DisallowInvoke {
                    entry: s("cleanup"),
                    from: Invoker::Schedule
                },
            ]
        );
    }

    #[test]
    fn against_the_empty_state_everything_found_is_deleted_in_dependency_order() {
        let tmp = crate::test_support::TempDir::new("plan", "empty");
        let old = with_extras(&tmp.0);
        let empty = Desired::empty(&config(FIXTURE), "dev", old.location.clone());
        assert!(!empty.wants_api());
        // What `Remote::sweep` finds for the empty state where `old` was deployed: all of it
        // stale, a duplicate REST API, the shared role of an older deploy, the code in S3.
        let converged = converged(&old);
        let mut remote = Remote {
            api: converged.api.clone(),
            other_apis: vec![s("dup1")],
            shared_role: Some(vec![s("logs")]),
            code_object: Some((s("bucket"), s("shop/dev/abc.zip"))),
            stale_states_role: Some(vec![s("invoke-functions")]),
            stale_log_groups: converged.log_groups.keys().cloned().collect(),
            ..Remote::default()
        };
        for (entry, f) in &converged.functions {
            remote.stale_functions.insert(entry.clone(), f.name.clone());
        }
        for (entry, role) in &converged.roles {
            let policies = role.inline_policies.keys().cloned().collect();
            remote.stale_roles.insert(entry.clone(), policies);
        }
        for (schedule, rule) in &converged.rules {
            remote
                .stale_rules
                .insert(schedule.clone(), rule.name.clone());
        }
        for (key, plan) in &converged.usage_plans {
            remote
                .stale_usage_plans
                .insert(key.clone(), plan.plan.clone());
        }
        remote.stale_api_keys = converged.api_keys.clone();
        for (key, a) in &converged.activities {
            remote.stale_activities.insert(key.clone(), a.arn.clone());
        }
        for (key, m) in &converged.state_machines {
            remote
                .stale_state_machines
                .insert(key.clone(), m.arn.clone());
        }

        let mut want = vec![
            I::DeleteUsagePlan {
                plan: s("gold"),
                id: s("plan-gold"),
                api_stages: vec![(s("a1b2c3"), s("dev"))],
            },
            I::DeleteUsagePlan {
                plan: s("silver"),
                id: s("plan-silver"),
                api_stages: vec![(s("a1b2c3"), s("dev"))],
            },
            I::DeleteApiKey {
                key: s("partner"),
                id: s("key-partner"),
            },
            I::DeleteApiKey {
                key: s("spare"),
                id: s("key-spare"),
            },
            I::DeleteRestApi { id: s("a1b2c3") },
            I::DeleteRestApi { id: s("dup1") },
            I::DeleteRule {
                schedule: s("cleanup"),
                name: s("shop-dev-cleanup"),
            },
            I::DeleteFunction {
                entry: s("api"),
                name: s("shop-dev-api"),
            },
            I::DeleteFunction {
                entry: s("cleanup"),
                name: s("shop-dev-cleanup"),
            },
            I::DeleteLogGroup {
                log_group: s("/aws/lambda/shop-dev-api"),
            },
            I::DeleteLogGroup {
                log_group: s("/aws/lambda/shop-dev-cleanup"),
            },
            I::DeleteStateMachine {
                state_machine: s("Flow"),
                arn: s("arn:aws:states:eu-west-1:123456789012:stateMachine:shop-dev-Flow"),
            },
            I::DeleteActivity {
                activity: s("Approve"),
                arn: s("arn:aws:states:eu-west-1:123456789012:activity:shop-dev-Approve"),
            },
            I::DeleteRolePolicy {
                role: RoleKind::StateMachines,
                policy: s("invoke-functions"),
            },
            I::DeleteRole {
                role: RoleKind::StateMachines,
            },
        ];
        let shared = vec![s("logs")];
        let roles = remote
            .stale_roles
            .iter()
            .map(|(entry, policies)| (RoleKind::Function(entry.clone()), policies))
            .chain([(RoleKind::Shared, &shared)]);
        for (role, policies) in roles {
            assert!(!policies.is_empty(), "{role:?}");
            for policy in policies {
                want.push(I::DeleteRolePolicy {
                    role: role.clone(),
                    policy: policy.clone(),
                });
            }
            want.push(I::DeleteRole { role });
        }
        want.push(I::DeleteCode {
            bucket: s("bucket"),
            key: s("shop/dev/abc.zip"),
        });
        let steps = plan(&empty, &remote);
        assert_eq!(steps, want);
        let text = render_text(&steps, &empty);
        assert!(text.contains("delete REST API shop-dev (dup1)\n"), "{text}");
        // What is gone is not planned again: the plan of an interrupted delete is the rest.
        assert_eq!(plan(&empty, &Remote::default()), vec![]);
    }

    #[test]
    fn big_code_goes_through_s3_first() {
        let mut d = desired("[app]\nname = \"shop\"\n");
        d.code.s3 = Some((s("bucket"), s("shop/dev/abc.zip")));
        let mut remote = converged(&d);
        remote.functions.get_mut("cleanup").unwrap().code_sha256 = s("old");
        assert_eq!(
            plan(&d, &remote),
            vec![
                I::UploadCode {
                    bucket: s("bucket"),
                    key: s("shop/dev/abc.zip")
                },
                I::UpdateFunctionCode {
                    entry: s("cleanup")
                },
            ]
        );
    }

    /// [`FIXTURE`] plus a second key in `gold`, a second plan, an activity and a state
    /// machine (its definition written to `dir`).
    fn with_extras(dir: &Path) -> Desired {
        std::fs::write(
            dir.join("sm.json"),
            r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${activity:Approve}", "Next": "B"}, "B": {"Type": "Task", "Resource": "${function:cleanup}", "End": true}}}"#,
        )
        .unwrap();
        let text = FIXTURE.replace(
            "api_keys = [\"partner\"]",
            "api_keys = [\"partner\", \"spare\"]",
        ) + "\n[[api_keys]]\nname = \"spare\"\n\n[[usage_plans]]\nname = \"silver\"\nthrottle = { rate = 1.0, burst = 1 }\napi_keys = [\"spare\"]\n\n[[activities]]\nname = \"Approve\"\n\n[[state_machines]]\nname = \"Flow\"\ndefinition = \"sm.json\"\n\n[functions.cleanup]\npermissions = [\"states:GetActivityTask\"]\n";
        Desired::new(
            &config(&text),
            &manifest(&[("GET", "/private")], &[("cleanup", "rate(5 minutes)")]),
            &inputs(dir),
        )
        .unwrap()
    }

    #[test]
    fn plans_keys_and_step_functions_that_left_the_config_are_removed() {
        let tmp = crate::test_support::TempDir::new("plan", "stale");
        let old = with_extras(&tmp.0);
        let new = desired(FIXTURE);
        // What `Remote::read` finds for `new` where `old` was deployed.
        let mut remote = converged(&old);
        let spare = remote.api_keys.remove("spare").unwrap();
        remote.stale_api_keys.insert(s("spare"), spare);
        let silver = remote.usage_plans.remove("silver").unwrap();
        remote.stale_usage_plans.insert(s("silver"), silver.plan);
        for (key, a) in std::mem::take(&mut remote.activities) {
            remote.stale_activities.insert(key, a.arn);
        }
        for (key, m) in std::mem::take(&mut remote.state_machines) {
            remote.stale_state_machines.insert(key, m.arn);
        }
        let states_role = remote.states_role.take().unwrap();
        remote.stale_states_role = Some(states_role.inline_policies.keys().cloned().collect());
        remote
            .stale_log_groups
            .insert(s("/aws/lambda/shop-dev-gone"));
        assert_eq!(
            plan(&new, &remote),
            vec![
                I::DeleteRolePolicy {
                    role: RoleKind::Function(s("cleanup")),
                    policy: s("step-functions")
                },
                I::RemoveApiKeyFromPlan {
                    plan: s("gold"),
                    key: s("spare"),
                    key_id: s("key-spare")
                },
                I::DeleteUsagePlan {
                    plan: s("silver"),
                    id: s("plan-silver"),
                    api_stages: vec![(s("a1b2c3"), s("dev"))]
                },
                I::DeleteApiKey {
                    key: s("spare"),
                    id: s("key-spare")
                },
                I::DeleteLogGroup {
                    log_group: s("/aws/lambda/shop-dev-gone")
                },
                I::DeleteStateMachine {
                    state_machine: s("Flow"),
                    arn: s("arn:aws:states:eu-west-1:123456789012:stateMachine:shop-dev-Flow")
                },
                I::DeleteActivity {
                    activity: s("Approve"),
                    arn: s("arn:aws:states:eu-west-1:123456789012:activity:shop-dev-Approve")
                },
                I::DeleteRolePolicy {
                    role: RoleKind::StateMachines,
                    policy: s("invoke-functions")
                },
                I::DeleteRole {
                    role: RoleKind::StateMachines
                },
            ]
        );
        let text = render_text(&plan(&new, &remote), &new);
        assert!(
            text.contains("delete usage plan shop-dev-silver (plan-silver)"),
            "{text}"
        );
        assert!(text.contains("delete role shop-dev-states"), "{text}");
        // Once they are gone, nothing is left to do.
        assert_eq!(plan(&new, &converged(&new)), vec![]);
    }

    #[test]
    fn missing_tags_on_plans_keys_and_step_functions_are_put_back() {
        let tmp = crate::test_support::TempDir::new("plan", "tags");
        let d = with_extras(&tmp.0);
        let mut remote = converged(&d);
        remote
            .usage_plans
            .get_mut("gold")
            .unwrap()
            .plan
            .tags
            .remove(super::super::desired::TAG_APP);
        remote.api_keys.get_mut("spare").unwrap().tags.clear();
        remote
            .activities
            .get_mut("Approve")
            .unwrap()
            .tags
            .insert(s(super::super::desired::TAG_STAGE), s("prod"));
        remote.state_machines.get_mut("Flow").unwrap().tags.clear();
        assert_eq!(
            plan(&d, &remote),
            vec![
                I::TagActivity {
                    activity: s("Approve")
                },
                I::TagStateMachine {
                    state_machine: s("Flow")
                },
                I::TagApiKey { key: s("spare") },
                I::TagUsagePlan { plan: s("gold") },
            ]
        );
        assert_eq!(plan(&d, &converged(&d)), vec![]);
    }

    #[test]
    fn a_shared_role_deployment_moves_to_per_function_roles_and_loses_the_old_role() {
        let d = desired(FIXTURE);
        // What a deploy from before per-function roles left: one role `shop-dev` (tagged, so
        // `Remote::read` reports its policies), every function running under it, and invoke
        // permissions without the account condition.
        let mut remote = converged(&d);
        remote.roles.clear();
        remote.shared_role = Some(vec![s("logs"), s("ses")]);
        for f in remote.functions.values_mut() {
            f.config.role_arn = d.location.role_arn("shop-dev");
        }
        for statements in remote.permissions.values_mut() {
            for statement in statements {
                statement.source_account = None;
            }
        }
        let role = |e: &str| RoleKind::Function(s(e));
        assert_eq!(
            plan(&d, &remote),
            vec![
                I::CreateRole { role: role("api") },
                I::PutRolePolicy {
                    role: role("api"),
                    policy: s("logs")
                },
                I::CreateRole {
                    role: role("cleanup")
                },
                I::PutRolePolicy {
                    role: role("cleanup"),
                    policy: s("logs")
                },
                I::UpdateFunctionConfiguration {
                    entry: s("api"),
                    changes: vec![s("role")]
                },
                I::UpdateFunctionConfiguration {
                    entry: s("cleanup"),
                    changes: vec![s("role")]
                },
                I::AllowInvoke {
                    entry: s("api"),
                    from: Invoker::ApiGateway,
                    replace: true
                },
                I::AllowInvoke {
                    entry: s("cleanup"),
                    from: Invoker::Schedule,
                    replace: true
                },
                I::DeleteRolePolicy {
                    role: RoleKind::Shared,
                    policy: s("logs")
                },
                I::DeleteRolePolicy {
                    role: RoleKind::Shared,
                    policy: s("ses")
                },
                I::DeleteRole {
                    role: RoleKind::Shared
                },
            ]
        );
        let text = render_text(&plan(&d, &remote), &d);
        assert!(text.contains("delete role shop-dev\n"), "{text}");
        // An untagged role of that name is not reported, so never deleted; once moved, nothing
        // is left to do.
        assert_eq!(plan(&d, &converged(&d)), vec![]);
    }

    #[test]
    fn the_role_of_a_function_that_left_the_app_is_removed_after_it() {
        let d = desired(FIXTURE);
        let mut remote = converged(&d);
        remote.stale_functions.insert(s("gone"), s("shop-dev-gone"));
        remote.stale_roles.insert(s("gone"), vec![s("logs")]);
        assert_eq!(
            plan(&d, &remote),
            vec![
                I::DeleteFunction {
                    entry: s("gone"),
                    name: s("shop-dev-gone")
                },
                I::DeleteRolePolicy {
                    role: RoleKind::Function(s("gone")),
                    policy: s("logs")
                },
                I::DeleteRole {
                    role: RoleKind::Function(s("gone"))
                },
            ]
        );
        let text = render_text(&plan(&d, &remote), &d);
        assert!(text.contains("delete role shop-dev-gone"), "{text}");
    }

    #[test]
    fn managed_policies_are_attached_and_only_portico_s_detached() {
        let config = format!(
            "{FIXTURE}\n[iam]\nmanaged_policies = [\"arn:aws:iam::aws:policy/Declared\"]\n"
        );
        let d = desired(&config);
        let role = |e: &str| RoleKind::Function(s(e));
        // Created: attached after the inline policies.
        let fresh = plan(&d, &Remote::default());
        assert_eq!(
            fresh[..3],
            [
                I::CreateRole { role: role("api") },
                I::PutRolePolicy {
                    role: role("api"),
                    policy: s("logs")
                },
                I::AttachRolePolicy {
                    role: role("api"),
                    arn: s("arn:aws:iam::aws:policy/Declared")
                },
            ]
        );
        // Existing: one Portico attached earlier (the record says) and the config dropped is
        // detached; one attached by hand stays.
        let mut remote = converged(&d);
        let api = remote.roles.get_mut("api").unwrap();
        api.managed_policies
            .insert(s("arn:aws:iam::aws:policy/Old"));
        api.managed_policies
            .insert(s("arn:aws:iam::aws:policy/ByHand"));
        remote.attached.insert(
            s("shop-dev-api"),
            [
                s("arn:aws:iam::aws:policy/Declared"),
                s("arn:aws:iam::aws:policy/Old"),
            ]
            .into(),
        );
        assert_eq!(
            plan(&d, &remote),
            [I::DetachRolePolicy {
                role: role("api"),
                arn: s("arn:aws:iam::aws:policy/Old")
            }]
        );
        // A role about to be deleted loses every managed policy first, whoever attached it.
        let mut remote = converged(&d);
        remote.stale_functions.insert(s("gone"), s("shop-dev-gone"));
        remote.stale_roles.insert(s("gone"), vec![s("logs")]);
        remote.stale_managed.insert(
            s("shop-dev-gone"),
            [s("arn:aws:iam::aws:policy/ByHand")].into(),
        );
        let steps = plan(&d, &remote);
        assert_eq!(
            steps[steps.len() - 2..],
            [
                I::DetachRolePolicy {
                    role: role("gone"),
                    arn: s("arn:aws:iam::aws:policy/ByHand")
                },
                I::DeleteRole { role: role("gone") },
            ]
        );
    }

    #[test]
    fn a_function_with_a_role_arn_gets_no_role() {
        let own = "arn:aws:iam::123456789012:role/cleanup-jobs";
        let config = format!("{FIXTURE}\n[functions.cleanup.iam]\nrole_arn = \"{own}\"\n");
        let d = desired(&config);
        let cleanup = d.function("cleanup").unwrap();
        assert!(!cleanup.own_role);
        assert_eq!(cleanup.config.role_arn, own);
        let steps = plan(&d, &Remote::default());
        assert!(
            !steps.iter().any(|i| matches!(i,
                I::CreateRole { role } | I::PutRolePolicy { role, .. }
                    if *role == RoleKind::Function(s("cleanup")))),
            "{steps:?}"
        );
        assert!(steps.contains(&I::CreateRole {
            role: RoleKind::Function(s("api"))
        }));
    }

    #[test]
    fn the_text_plan_is_numbered_and_never_shows_key_values() {
        let d = desired(FIXTURE);
        let text = render_text(&plan(&d, &Remote::default()), &d);
        assert!(text.starts_with(" 1. create role shop-dev-api\n"), "{text}");
        assert!(
            text.contains(" 3. create role shop-dev-cleanup\n"),
            "{text}"
        );
        assert!(text.contains("create API key shop-dev-partner"), "{text}");
        assert!(!text.contains("partner-key-0123456789abcdef"), "{text}");
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("partner-key-0123456789abcdef"), "{json}");
        assert_eq!(
            render_text(&[], &d),
            "nothing to do: the stage matches the app\n"
        );
    }
}
