//! The executor: runs a plan's instructions in order through the AWS boundary, the only
//! part of `deploy` that changes anything, and writes the record after every step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::aws::{Aws, AwsError, Code, Tagged};

use super::desired::{APIGATEWAY_PERMISSION_SID, Desired, EVENTS_PERMISSION_SID};
use super::plan::{Instruction, Invoker, RULE_TARGET_ID, RoleKind, stage_description};
use super::record::{Identified, Named, Record, RecordApi, RecordError, RecordFunction};
use super::remote::Remote;

/// The environment variable that stops the process right after the N-th successful step
/// (and its record write), as if it were killed: a testing hook for interrupted deploys.
pub const FAIL_AFTER_STEP_VAR: &str = "PORTICO_FAIL_AFTER_STEP";
/// The exit status of a process stopped by [`FAIL_AFTER_STEP_VAR`].
pub const FAIL_AFTER_STEP_EXIT: i32 = 86;

/// A step failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An AWS call of a step failed.
    #[error(
        "step {step}/{total} ({description}) failed: {source}\nthe steps before it are done and recorded in {}; fix the cause and run the same `portico {command}` again: it continues from there",
        record.display()
    )]
    Step {
        /// `deploy` or `delete`.
        command: &'static str,
        /// 1-based.
        step: usize,
        /// Steps in the plan.
        total: usize,
        /// What the step does.
        description: String,
        /// The record file.
        record: PathBuf,
        /// The failed call.
        source: AwsError,
    },
    /// The record cannot be written.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// What the executor reports while it works.
pub enum Progress<'a> {
    /// Step `index` (0-based) of `total` starts.
    Start {
        /// 0-based.
        index: usize,
        /// Steps in the plan.
        total: usize,
        /// The step.
        step: &'a Instruction,
    },
    /// It succeeded.
    Done {
        /// 0-based.
        index: usize,
        /// Steps in the plan.
        total: usize,
        /// The step.
        step: &'a Instruction,
    },
}

/// Ids and ARNs AWS assigns, known from the remote state or learnt as steps create things.
#[derive(Debug, Default)]
struct Ids {
    api: Option<String>,
    resources: BTreeMap<String, String>,
    plans: BTreeMap<String, String>,
    keys: BTreeMap<String, String>,
    state_machines: BTreeMap<String, String>,
}

/// Runs plans for one stage.
pub struct Executor<'a> {
    aws: &'a Aws,
    desired: &'a Desired,
    zip: &'a [u8],
    ids: Ids,
    record: Record,
    record_path: PathBuf,
    fail_after: Option<usize>,
    command: &'static str,
}

/// The base URL of a REST API's stage.
pub fn stage_url(api_id: &str, region: &str, stage: &str) -> String {
    format!("https://{api_id}.execute-api.{region}.amazonaws.com/{stage}")
}

impl<'a> Executor<'a> {
    /// An executor for `desired`, starting from what `remote` found; `zip` is the code.
    pub fn new(
        aws: &'a Aws,
        desired: &'a Desired,
        remote: &Remote,
        zip: &'a [u8],
        record_path: &Path,
    ) -> Self {
        let mut ids = Ids::default();
        let mut record = Record::new(
            &desired.app,
            &desired.stage,
            &desired.location.region,
            &desired.location.account,
            aws.endpoint_url(),
        );
        record.attached_policies = remote.attached.clone();
        for (entry, role) in &remote.roles {
            record.roles.insert(
                RoleKind::Function(entry.clone()).record_key(),
                Named::new(&role.name, &role.arn),
            );
        }
        let stale_roles = remote
            .stale_roles
            .keys()
            .map(|e| RoleKind::Function(e.clone()))
            .chain(remote.shared_role.as_ref().map(|_| RoleKind::Shared));
        for kind in stale_roles {
            let name = kind.name(desired);
            let arn = desired.location.role_arn(&name);
            record
                .roles
                .insert(kind.record_key(), Named::new(name, arn));
        }
        if let Some(role) = &remote.states_role {
            record
                .roles
                .insert("state_machines".into(), Named::new(&role.name, &role.arn));
        }
        record.log_groups = remote
            .log_groups
            .keys()
            .chain(&remote.stale_log_groups)
            .cloned()
            .collect();
        if remote.stale_states_role.is_some() {
            let name = desired.names().states_role();
            let arn = desired.location.role_arn(&name);
            record
                .roles
                .insert("state_machines".into(), Named::new(name, arn));
        }
        for (entry, f) in &remote.functions {
            record.functions.insert(
                entry.clone(),
                RecordFunction {
                    name: f.name.clone(),
                    arn: f.arn.clone(),
                    code_sha256: f.code_sha256.clone(),
                    log_group: custom_log_group(
                        &f.name,
                        f.config.log_group.as_ref().or_else(|| {
                            desired
                                .functions
                                .iter()
                                .find(|d| &d.entry == entry)
                                .map(|d| &d.log_group)
                        }),
                    ),
                },
            );
        }
        for (entry, name) in &remote.stale_functions {
            record.functions.insert(
                entry.clone(),
                RecordFunction {
                    name: name.clone(),
                    arn: desired.location.function_arn(name),
                    code_sha256: String::new(),
                    log_group: None,
                },
            );
        }
        if let Some(api) = &remote.api {
            ids.api = Some(api.api.id.clone());
            ids.resources = api
                .resources
                .iter()
                .map(|r| (r.path.clone(), r.id.clone()))
                .collect();
            let deployed_hash = api.stage.as_ref().and_then(|s| {
                s.description
                    .strip_prefix(&stage_description(""))
                    .map(str::to_owned)
            });
            record.api = Some(RecordApi {
                name: api.api.name.clone(),
                id: api.api.id.clone(),
                stage: desired.api.stage.clone(),
                url: stage_url(&api.api.id, &desired.location.region, &desired.api.stage),
                deployed_hash,
            });
        }
        for (key, plan) in &remote.usage_plans {
            ids.plans.insert(key.clone(), plan.plan.id.clone());
            record
                .usage_plans
                .insert(key.clone(), Identified::new(&plan.plan.name, &plan.plan.id));
        }
        for (key, k) in &remote.api_keys {
            ids.keys.insert(key.clone(), k.id.clone());
            record
                .api_keys
                .insert(key.clone(), Identified::new(&k.name, &k.id));
        }
        for (entry, rule) in &remote.rules {
            record
                .rules
                .insert(entry.clone(), Named::new(&rule.name, &rule.arn));
        }
        for (entry, name) in &remote.stale_rules {
            record.rules.insert(
                entry.clone(),
                Named::new(name, desired.location.rule_arn(name)),
            );
        }
        for (key, a) in &remote.activities {
            record
                .activities
                .insert(key.clone(), Named::new(&a.name, &a.arn));
        }
        for (key, arn) in &remote.stale_activities {
            record
                .activities
                .insert(key.clone(), Named::new(desired.names().scoped(key), arn));
        }
        for (key, arn) in &remote.stale_state_machines {
            record
                .state_machines
                .insert(key.clone(), Named::new(desired.names().scoped(key), arn));
        }
        for (key, plan) in &remote.stale_usage_plans {
            record
                .usage_plans
                .insert(key.clone(), Identified::new(&plan.name, &plan.id));
        }
        for (key, k) in &remote.stale_api_keys {
            record
                .api_keys
                .insert(key.clone(), Identified::new(&k.name, &k.id));
        }
        for (key, m) in &remote.state_machines {
            ids.state_machines.insert(key.clone(), m.arn.clone());
            record
                .state_machines
                .insert(key.clone(), Named::new(&m.name, &m.arn));
        }
        record.code_object = remote
            .code_object
            .as_ref()
            .map(|(bucket, key)| format!("s3://{bucket}/{key}"));
        let fail_after = std::env::var(FAIL_AFTER_STEP_VAR)
            .ok()
            .and_then(|v| v.parse().ok());
        Self {
            aws,
            desired,
            zip,
            ids,
            record,
            record_path: record_path.to_owned(),
            fail_after,
            command: "deploy",
        }
    }

    /// Names `command` (`delete`) instead of `deploy` in the message of a failed step.
    #[must_use]
    pub fn for_command(mut self, command: &'static str) -> Self {
        self.command = command;
        self
    }

    /// The record as it stands.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// Runs `plan`; the record is written before the first step and after each one.
    ///
    /// # Errors
    /// The first step that fails (later steps do not run), or a record write.
    pub async fn run(
        &mut self,
        plan: &[Instruction],
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(), ApplyError> {
        self.record.save(&self.record_path)?;
        let total = plan.len();
        for (index, step) in plan.iter().enumerate() {
            progress(Progress::Start { index, total, step });
            self.step(step).await.map_err(|source| ApplyError::Step {
                command: self.command,
                step: index + 1,
                total,
                description: step.describe(self.desired),
                record: self.record_path.clone(),
                source,
            })?;
            self.record.save(&self.record_path)?;
            progress(Progress::Done { index, total, step });
            if self.fail_after == Some(index + 1) {
                eprintln!(
                    "{FAIL_AFTER_STEP_VAR}={}: stopping the process after step {} of {total} (a testing hook)",
                    index + 1,
                    index + 1
                );
                std::process::exit(FAIL_AFTER_STEP_EXIT);
            }
        }
        self.record.complete = true;
        self.record.save(&self.record_path)?;
        Ok(())
    }

    fn api_id(&self) -> Result<&str, AwsError> {
        self.ids
            .api
            .as_deref()
            .ok_or_else(|| missing("the REST API"))
    }

    fn resource_id(&self, path: &str) -> Result<&str, AwsError> {
        self.ids
            .resources
            .get(path)
            .map(String::as_str)
            .ok_or_else(|| missing(&format!("resource {path}")))
    }

    fn code(&self) -> Code<'_> {
        match &self.desired.code.s3 {
            Some((bucket, key)) => Code::S3 { bucket, key },
            None => Code::Zip(self.zip),
        }
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per instruction reads best as one match"
    )]
    async fn step(&mut self, step: &Instruction) -> Result<(), AwsError> {
        let d = self.desired;
        let aws = self.aws;
        let loc = &d.location;
        let role_spec = |kind: &RoleKind| match kind {
            RoleKind::Function(entry) => d
                .function(entry)
                .map(|f| &f.role)
                .ok_or_else(|| missing(&format!("the role of entry point {entry}"))),
            RoleKind::StateMachines => d
                .states_role
                .as_ref()
                .ok_or_else(|| missing("the state machines' role")),
            RoleKind::Shared => Err(missing("the shared role (it is only deleted)")),
        };
        let role_name = |kind: &RoleKind| kind.name(d);
        let role_key = RoleKind::record_key;
        let function = |entry: &str| {
            d.function(entry)
                .ok_or_else(|| missing(&format!("entry point {entry}")))
        };
        match step {
            Instruction::CreateRole { role } => {
                let spec = role_spec(role)?;
                let arn = aws
                    .create_role(&spec.name, &spec.assume_policy, &d.tags)
                    .await?;
                self.record
                    .roles
                    .insert(role_key(role), Named::new(&spec.name, arn));
            }
            Instruction::UpdateTrustPolicy { role } => {
                let spec = role_spec(role)?;
                aws.update_assume_role_policy(&spec.name, &spec.assume_policy)
                    .await?;
            }
            Instruction::PutRolePolicy { role, policy } => {
                let spec = role_spec(role)?;
                let document = spec.policies.get(policy).ok_or_else(|| missing(policy))?;
                aws.put_role_policy(&spec.name, policy, document).await?;
            }
            Instruction::DeleteRolePolicy { role, policy } => {
                aws.delete_role_policy(&role_name(role), policy).await?;
            }
            Instruction::AttachRolePolicy { role, arn } => {
                let name = role_name(role);
                aws.attach_role_policy(&name, arn).await?;
                self.record
                    .attached_policies
                    .entry(name)
                    .or_default()
                    .insert(arn.clone());
            }
            Instruction::DetachRolePolicy { role, arn } => {
                let name = role_name(role);
                aws.detach_role_policy(&name, arn).await?;
                if let Some(set) = self.record.attached_policies.get_mut(&name) {
                    set.remove(arn);
                    if set.is_empty() {
                        self.record.attached_policies.remove(&name);
                    }
                }
            }
            Instruction::TagRole { role } => {
                aws.tag(Tagged::Role(&role_name(role)), &d.tags).await?
            }
            Instruction::DeleteRole { role } => {
                aws.delete_role(&role_name(role)).await?;
                self.record.attached_policies.remove(&role_name(role));
                self.record.roles.remove(&role_key(role));
            }
            Instruction::CreateLogGroup { log_group } => {
                aws.create_log_group(log_group, &d.tags).await?;
                self.record.log_groups.insert(log_group.clone());
            }
            Instruction::SetLogRetention { log_group, days } => {
                aws.set_log_retention(log_group, *days).await?;
            }
            Instruction::TagLogGroup { log_group } => {
                let arn = loc.log_group_arn(log_group);
                aws.tag(Tagged::LogGroup(arn.trim_end_matches(":*")), &d.tags)
                    .await?;
            }
            Instruction::DeleteLogGroup { log_group } => {
                aws.delete_log_group(log_group).await?;
                self.record.log_groups.remove(log_group);
            }
            Instruction::UploadCode { bucket, key } => {
                if !aws.bucket_exists(bucket).await? {
                    aws.create_bucket(bucket).await?;
                }
                aws.upload_if_absent(bucket, key, self.zip).await?;
                self.record.code_object = Some(format!("s3://{bucket}/{key}"));
            }
            Instruction::CreateFunction { entry } => {
                let f = function(entry)?;
                let arn = aws
                    .create_function(&f.name, &f.deployed_config(), self.code(), &d.tags)
                    .await?;
                self.record.functions.insert(
                    entry.clone(),
                    RecordFunction {
                        name: f.name.clone(),
                        arn,
                        code_sha256: d.code.sha256.clone(),
                        log_group: custom_log_group(&f.name, Some(&f.log_group)),
                    },
                );
            }
            Instruction::UpdateFunctionCode { entry } => {
                let f = function(entry)?;
                aws.update_function_code(&f.name, self.code(), &f.config.architecture)
                    .await?;
                self.record.functions.insert(
                    entry.clone(),
                    RecordFunction {
                        name: f.name.clone(),
                        arn: f.arn.clone(),
                        code_sha256: d.code.sha256.clone(),
                        log_group: self
                            .record
                            .functions
                            .get(entry)
                            .and_then(|r| r.log_group.clone()),
                    },
                );
            }
            Instruction::UpdateFunctionConfiguration { entry, .. } => {
                let f = function(entry)?;
                aws.update_function_configuration(&f.name, &f.deployed_config())
                    .await?;
                if let Some(r) = self.record.functions.get_mut(entry) {
                    r.log_group = custom_log_group(&f.name, Some(&f.log_group));
                }
            }
            Instruction::TagFunction { entry } => {
                aws.tag(Tagged::Function(&function(entry)?.arn), &d.tags)
                    .await?
            }
            Instruction::AllowInvoke {
                entry,
                from,
                replace,
            } => {
                let f = function(entry)?;
                let (sid, principal, source) = match from {
                    Invoker::ApiGateway => (
                        APIGATEWAY_PERMISSION_SID,
                        "apigateway.amazonaws.com",
                        loc.execute_api_arn(self.api_id()?),
                    ),
                    Invoker::Schedule => (
                        EVENTS_PERMISSION_SID,
                        "events.amazonaws.com",
                        loc.rule_arn(&d.names().rule(entry)),
                    ),
                };
                if *replace {
                    aws.remove_permission(&f.name, sid).await?;
                }
                aws.add_permission(&f.name, sid, principal, &source, &loc.account)
                    .await?;
            }
            Instruction::DisallowInvoke { entry, from } => {
                let sid = match from {
                    Invoker::ApiGateway => APIGATEWAY_PERMISSION_SID,
                    Invoker::Schedule => EVENTS_PERMISSION_SID,
                };
                aws.remove_permission(&function(entry)?.name, sid).await?;
            }
            Instruction::DeleteFunction { entry, name } => {
                aws.delete_function(name).await?;
                self.record.functions.remove(entry);
            }
            Instruction::CreateActivity { activity } => {
                let name = d.names().scoped(activity);
                let arn = aws.create_activity(&name, &d.tags).await?;
                self.record
                    .activities
                    .insert(activity.clone(), Named::new(name, arn));
            }
            Instruction::CreateStateMachine { state_machine } => {
                let spec = find(&d.state_machines, state_machine, |m| &m.key)?;
                let role = loc.role_arn(&role_spec(&RoleKind::StateMachines)?.name);
                let arn = aws
                    .create_state_machine(
                        &spec.name,
                        spec.definition.as_deref().unwrap_or("{}"),
                        &role,
                        &d.tags,
                    )
                    .await?;
                self.ids
                    .state_machines
                    .insert(state_machine.clone(), arn.clone());
                self.record
                    .state_machines
                    .insert(state_machine.clone(), Named::new(&spec.name, arn));
            }
            Instruction::UpdateStateMachine { state_machine } => {
                let spec = find(&d.state_machines, state_machine, |m| &m.key)?;
                let arn = self
                    .ids
                    .state_machines
                    .get(state_machine)
                    .cloned()
                    .unwrap_or_else(|| spec.arn.clone());
                let role = loc.role_arn(&role_spec(&RoleKind::StateMachines)?.name);
                aws.update_state_machine(&arn, spec.definition.as_deref().unwrap_or("{}"), &role)
                    .await?;
            }
            Instruction::TagActivity { activity } => {
                let arn = self.record.activities.get(activity).map_or_else(
                    || loc.activity_arn(&d.names().scoped(activity)),
                    |a| a.arn.clone(),
                );
                aws.tag(Tagged::StepFunctions(&arn), &d.tags).await?;
            }
            Instruction::TagStateMachine { state_machine } => {
                let arn = self
                    .ids
                    .state_machines
                    .get(state_machine)
                    .cloned()
                    .unwrap_or_else(|| loc.state_machine_arn(&d.names().scoped(state_machine)));
                aws.tag(Tagged::StepFunctions(&arn), &d.tags).await?;
            }
            Instruction::DeleteStateMachine { state_machine, arn } => {
                aws.delete_state_machine(arn).await?;
                self.record.state_machines.remove(state_machine);
            }
            Instruction::DeleteActivity { activity, arn } => {
                aws.delete_activity(arn).await?;
                self.record.activities.remove(activity);
            }
            Instruction::CreateRestApi => {
                let (id, root) = aws.create_rest_api(&d.api.name, &d.tags).await?;
                self.ids.resources.insert("/".into(), root);
                self.record.api = Some(RecordApi {
                    name: d.api.name.clone(),
                    id: id.clone(),
                    stage: d.api.stage.clone(),
                    url: stage_url(&id, &loc.region, &d.api.stage),
                    deployed_hash: None,
                });
                self.ids.api = Some(id);
            }
            Instruction::DeleteRestApi { id } => {
                aws.delete_rest_api(id).await?;
                if self.record.api.as_ref().is_some_and(|a| &a.id == id) {
                    self.record.api = None;
                }
                if self.ids.api.as_ref() == Some(id) {
                    self.ids.api = None;
                    self.ids.resources.clear();
                }
            }
            Instruction::SetBinaryMediaTypes { add, remove } => {
                aws.update_binary_media_types(self.api_id()?, add, remove)
                    .await?;
            }
            Instruction::TagRestApi => {
                aws.tag(
                    Tagged::ApiGateway(&loc.rest_api_arn(self.api_id()?)),
                    &d.tags,
                )
                .await?;
            }
            Instruction::CreateResource { path } => {
                let (parent, part) = path.rsplit_once('/').unwrap_or(("", path));
                let parent = if parent.is_empty() { "/" } else { parent };
                let id = aws
                    .create_resource(self.api_id()?, self.resource_id(parent)?, part)
                    .await?;
                self.ids.resources.insert(path.clone(), id);
            }
            Instruction::DeleteResource { path } => {
                aws.delete_resource(self.api_id()?, self.resource_id(path)?)
                    .await?;
                let prefix = format!("{path}/");
                self.ids
                    .resources
                    .retain(|p, _| p != path && !p.starts_with(&prefix));
            }
            Instruction::PutMethod {
                path,
                method,
                api_key_required,
                replace,
            } => {
                let (api, resource) = (self.api_id()?, self.resource_id(path)?);
                if *replace {
                    aws.delete_method(api, resource, method).await?;
                }
                aws.put_method(api, resource, method, *api_key_required)
                    .await?;
            }
            Instruction::PutIntegration { path, method } => {
                aws.put_proxy_integration(
                    self.api_id()?,
                    self.resource_id(path)?,
                    method,
                    &d.api.integration_uri,
                    d.api.timeout_ms,
                )
                .await?;
            }
            Instruction::DeleteMethod { path, method } => {
                aws.delete_method(self.api_id()?, self.resource_id(path)?, method)
                    .await?;
            }
            Instruction::PutGatewayResponse { response } => {
                let parameters = d
                    .api
                    .gateway_responses
                    .get(response)
                    .ok_or_else(|| missing(response))?;
                aws.put_gateway_response(self.api_id()?, response, parameters)
                    .await?;
            }
            Instruction::DeleteGatewayResponse { response } => {
                aws.delete_gateway_response(self.api_id()?, response)
                    .await?;
            }
            Instruction::DeployApi {
                stage,
                hash,
                create_stage,
            } => {
                let api = self.api_id()?.to_owned();
                let description = stage_description(hash);
                let deployment = aws.create_deployment(&api, &description).await?;
                if *create_stage {
                    aws.create_stage(&api, stage, &deployment, &description, &d.tags)
                        .await?;
                } else {
                    aws.update_stage(&api, stage, &deployment, &description)
                        .await?;
                }
                if let Some(record) = &mut self.record.api {
                    record.deployed_hash = Some(hash.clone());
                }
            }
            Instruction::CreateUsagePlan { plan } => {
                let spec = find(&d.usage_plans, plan, |p| &p.key)?;
                let id = aws
                    .create_usage_plan(&spec.name, spec.throttle, spec.quota.as_ref(), &d.tags)
                    .await?;
                self.ids.plans.insert(plan.clone(), id.clone());
                self.record
                    .usage_plans
                    .insert(plan.clone(), Identified::new(&spec.name, id));
            }
            Instruction::UpdateUsagePlan { plan, changes } => {
                let spec = find(&d.usage_plans, plan, |p| &p.key)?;
                let id = known(&self.ids.plans, plan)?;
                let changed = |what: &str| changes.iter().any(|c| c == what);
                aws.update_usage_plan_limits(
                    id,
                    changed("throttle").then_some(spec.throttle),
                    changed("quota").then_some(spec.quota.as_ref()),
                )
                .await?;
            }
            Instruction::BindUsagePlan { plan } => {
                let id = known(&self.ids.plans, plan)?;
                aws.add_usage_plan_stage(id, self.api_id()?, &d.api.stage)
                    .await?;
            }
            Instruction::CreateApiKey { key } => {
                let spec = find(&d.api_keys, key, |k| &k.key)?;
                let id = aws
                    .create_api_key(&spec.name, spec.value.as_deref(), &d.tags)
                    .await?;
                self.ids.keys.insert(key.clone(), id.clone());
                self.record
                    .api_keys
                    .insert(key.clone(), Identified::new(&spec.name, id));
            }
            Instruction::AddApiKeyToPlan { plan, key } => {
                let plan_id = known(&self.ids.plans, plan)?;
                let key_id = known(&self.ids.keys, key)?;
                aws.create_usage_plan_key(plan_id, key_id).await?;
            }
            Instruction::RemoveApiKeyFromPlan { plan, key_id, .. } => {
                let plan_id = known(&self.ids.plans, plan)?;
                aws.delete_usage_plan_key(plan_id, key_id).await?;
            }
            Instruction::TagUsagePlan { plan } => {
                let id = known(&self.ids.plans, plan)?;
                aws.tag(Tagged::ApiGateway(&loc.usage_plan_arn(id)), &d.tags)
                    .await?;
            }
            Instruction::TagApiKey { key } => {
                let id = known(&self.ids.keys, key)?;
                aws.tag(Tagged::ApiGateway(&loc.api_key_arn(id)), &d.tags)
                    .await?;
            }
            Instruction::DeleteUsagePlan {
                plan,
                id,
                api_stages,
            } => {
                aws.delete_usage_plan(id, api_stages).await?;
                self.record.usage_plans.remove(plan);
            }
            Instruction::DeleteApiKey { key, id } => {
                aws.delete_api_key(id).await?;
                self.record.api_keys.remove(key);
            }
            Instruction::PutRule { schedule } => {
                let s = find(&d.schedules, schedule, |s| &s.entry)?;
                let description = format!("portico: runs {} on schedule", s.function);
                let arn = aws
                    .put_rule(&s.rule, &s.expression, &description, &d.tags)
                    .await?;
                self.record
                    .rules
                    .insert(schedule.clone(), Named::new(&s.rule, arn));
            }
            Instruction::PutRuleTarget { schedule } => {
                let s = find(&d.schedules, schedule, |s| &s.entry)?;
                aws.put_target(&s.rule, RULE_TARGET_ID, &s.function_arn)
                    .await?;
            }
            Instruction::TagRule { schedule } => {
                aws.tag(
                    Tagged::Rule(&loc.rule_arn(&d.names().rule(schedule))),
                    &d.tags,
                )
                .await?;
            }
            Instruction::DeleteRule { schedule, name } => {
                aws.delete_rule(name).await?;
                self.record.rules.remove(schedule);
            }
            Instruction::DeleteCode { bucket, key } => {
                aws.delete_object(bucket, key).await?;
                self.record.code_object = None;
            }
        }
        Ok(())
    }
}

/// The desired item of `items` whose key (`key_of`) is `key`.
fn find<'d, T>(
    items: &'d [T],
    key: &str,
    key_of: impl Fn(&T) -> &String,
) -> Result<&'d T, AwsError> {
    items
        .iter()
        .find(|item| key_of(item) == key)
        .ok_or_else(|| missing(key))
}

/// The id an earlier step made (or the remote state had) for `key`.
fn known<'i>(ids: &'i BTreeMap<String, String>, key: &str) -> Result<&'i String, AwsError> {
    ids.get(key).ok_or_else(|| missing(key))
}

/// `group` as the record keeps it: `None` for Lambda's default group of function `name`.
fn custom_log_group(name: &str, group: Option<&String>) -> Option<String> {
    group
        .filter(|g| **g != format!("/aws/lambda/{name}"))
        .cloned()
}

/// A step needs something an earlier step should have made: a planner bug, reported as such.
fn missing(what: &str) -> AwsError {
    AwsError {
        service: "portico",
        operation: "plan",
        resource: what.to_owned(),
        code: None,
        message: "the plan refers to something that neither exists nor was created before this \
                  step (a bug in portico; run the deploy again, and report it if it repeats)"
            .to_owned(),
    }
}
