//! What a stage of the app should look like on AWS, computed from `portico.toml`, the app's
//! manifest, the account, the region and the code's hash. Pure: no AWS call, no clock.
//!
//! Every name and ARN is derived from the app, the stage and the config, so the planner can
//! compare before anything exists, and `delete`, `url` and `invoke` can find the same
//! resources again ([`Names`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::aws::{FunctionConfig, UsagePlanQuota, UsagePlanThrottle};
use crate::project::Manifest;
use portico_spec::config::{Config, CorsSection, PermissionScope, SecretFormat, permission_scope};
pub use portico_spec::definition::{DefinitionError, state_machine_definition};
pub use portico_spec::names::{Location, Names};

/// The tag every resource carries with the app's name.
pub const TAG_APP: &str = "portico:app";
/// The tag every resource carries with the stage's name.
pub const TAG_STAGE: &str = "portico:stage";
/// The statement id of the permission that lets API Gateway invoke the API function.
pub const APIGATEWAY_PERMISSION_SID: &str = "portico-apigateway";
/// The statement id of the permission that lets a schedule's rule invoke its function.
pub const EVENTS_PERMISSION_SID: &str = "portico-schedule";
/// The API Gateway console's "Enable CORS" request headers (what `portico local` uses too).
const DEFAULT_CORS_ALLOW_HEADERS: &str =
    "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token";

/// Building the desired state failed: a definition file is wrong, or a name is too long.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// A state machine's definition cannot be used.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// An entry point's role would take the name of the state machines' role.
    #[error(
        "the app has an entry point named `{entry}`, whose role would be `{role}`, the name of the state machines' role; rename the function"
    )]
    RoleNameTaken {
        /// The entry point.
        entry: String,
        /// The role name.
        role: String,
    },
    /// A derived name is longer than AWS allows.
    #[error("the {what} name `{name}` is {} characters, over AWS's {max}; shorten `app.name`, the stage or the {what}'s name in portico.toml", name.len())]
    NameTooLong {
        /// What kind of resource.
        what: &'static str,
        /// The name.
        name: String,
        /// AWS's limit.
        max: usize,
    },
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleSpec {
    /// Name.
    pub name: String,
    /// Trust policy.
    pub assume_policy: Value,
    /// Inline policies by name (their names are among [`OWNED_POLICIES`]).
    pub policies: BTreeMap<String, Value>,
    /// The ARNs of the managed policies the config attaches to it.
    pub managed_policies: BTreeSet<String>,
}

/// The names of the inline policies Portico writes on the roles it makes. Any other inline
/// policy on such a role was added by someone else: `deploy` leaves it alone (only deleting
/// the role takes it along).
pub const OWNED_POLICIES: [&str; 5] = [
    "logs",
    "step-functions",
    "ses",
    "statements",
    "invoke-functions",
];

/// A Lambda function.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionSpec {
    /// Entry point (`api` or a schedule's name): the value of `PORTICO_HANDLER`.
    pub entry: String,
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Its log group.
    pub log_group: String,
    /// Settings, without the secrets' values (see [`FunctionSpec::deployed_config`]).
    pub config: FunctionConfig,
    /// Its own execution role: its log group, and the `permissions` and `iam` of its config.
    /// Unused when the config gives a `role_arn` ([`Self::own_role`] false).
    pub role: RoleSpec,
    /// Whether it runs under the role Portico makes ([`Self::role`]), not a `role_arn` of the
    /// app's own.
    pub own_role: bool,
    /// The `[[secrets]]` it gets: those its stage or function `env` does not set.
    pub secrets: Vec<String>,
    /// Their values, once [`Desired::set_secret_values`] ran: never serialized, and `Debug`
    /// shows names only.
    #[serde(skip)]
    pub secret_values: SecretValues,
}

impl FunctionSpec {
    /// The settings the function is deployed with: [`Self::config`] plus the secrets' values.
    pub fn deployed_config(&self) -> FunctionConfig {
        let mut config = self.config.clone();
        for (name, value) in &self.secret_values.0 {
            config.env.insert(name.clone(), value.clone());
        }
        config
    }
}

/// Secret values by variable name. `Debug` shows the names only, so a value cannot reach a
/// log line or an error message through `{:?}`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(pub BTreeMap<String, String>);

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A `[[secrets]]` entry: a variable whose value is generated once and kept in the
/// functions' configuration (see [`super::secrets`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretSpec {
    /// The variable's name.
    pub name: String,
    /// `<encoding>-<bytes>`, e.g. `base64-32`.
    pub generate: String,
}

impl SecretSpec {
    /// The parsed `generate` (validated when the config loads).
    pub fn format(&self) -> Option<SecretFormat> {
        SecretFormat::parse(&self.generate)
    }
}

/// A schedule: a rule invoking a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleSpec {
    /// Entry point.
    pub entry: String,
    /// Rule name.
    pub rule: String,
    /// Rule ARN.
    pub rule_arn: String,
    /// `rate(...)` / `cron(...)`.
    pub expression: String,
    /// The function's name.
    pub function: String,
    /// The function's ARN.
    pub function_arn: String,
}

/// A method of a REST API resource; every one is an `AWS_PROXY` call of the API function
/// without an authorizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodSpec {
    /// Whether the gateway demands an API key.
    pub api_key_required: bool,
}

/// The REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiSpec {
    /// Name.
    pub name: String,
    /// Stage name.
    pub stage: String,
    /// Binary media types, sorted.
    pub binary_media_types: Vec<String>,
    /// Resources by path, each with its methods; parents sort before children. None: the
    /// stage has no API (the empty desired state of `delete`, [`Desired::empty`]).
    pub resources: BTreeMap<String, BTreeMap<String, MethodSpec>>,
    /// Gateway responses (`DEFAULT_4XX`, `DEFAULT_5XX`) and their header mappings.
    pub gateway_responses: BTreeMap<String, BTreeMap<String, String>>,
    /// The integration URI of every method.
    pub integration_uri: String,
    /// The integration timeout, ms.
    pub timeout_ms: u32,
    /// The API function's name (for its permission).
    pub function: String,
    /// Hash of everything a deployment snapshots: a new deployment is made when the stage's
    /// differs.
    pub hash: String,
}

/// A usage plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsagePlanSpec {
    /// The name in portico.toml.
    pub key: String,
    /// The deployed name.
    pub name: String,
    /// Throttle.
    pub throttle: Option<UsagePlanThrottle>,
    /// Quota.
    pub quota: Option<UsagePlanQuota>,
    /// The config names of its API keys.
    pub api_keys: Vec<String>,
}

/// An API key. Its value is never printed nor recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeySpec {
    /// The name in portico.toml.
    pub key: String,
    /// The deployed name.
    pub name: String,
    /// The literal value, or `None` to let API Gateway generate one.
    #[serde(skip)]
    pub value: Option<String>,
}

impl std::fmt::Debug for ApiKeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeySpec")
            .field("key", &self.key)
            .field("name", &self.name)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A Step Functions activity or state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepFunctionsSpec {
    /// The name in portico.toml.
    pub key: String,
    /// The deployed name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// The definition after substitution (state machines only), compact JSON.
    pub definition: Option<String>,
}

/// The code every function runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeSpec {
    /// Lambda's CodeSha256 of the zip.
    pub sha256: String,
    /// When the zip goes through S3: the bucket and key.
    pub s3: Option<(String, String)>,
}

/// Everything one stage should have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Desired {
    /// The app's name.
    pub app: String,
    /// The stage.
    pub stage: String,
    /// Partition, region and account.
    pub location: Location,
    /// Tags of every resource: `portico:app`, `portico:stage` and `[tags]`.
    pub tags: BTreeMap<String, String>,
    /// The state machines' role (when there are state machines).
    pub states_role: Option<RoleSpec>,
    /// Log retention in days (`None`: forever).
    pub log_retention: Option<u32>,
    /// Functions, `api` first.
    pub functions: Vec<FunctionSpec>,
    /// Schedules.
    pub schedules: Vec<ScheduleSpec>,
    /// The REST API.
    pub api: ApiSpec,
    /// Usage plans.
    pub usage_plans: Vec<UsagePlanSpec>,
    /// API keys.
    pub api_keys: Vec<ApiKeySpec>,
    /// Activities.
    pub activities: Vec<StepFunctionsSpec>,
    /// State machines.
    pub state_machines: Vec<StepFunctionsSpec>,
    /// The code.
    pub code: CodeSpec,
    /// `[[secrets]]`, in config order.
    pub secrets: Vec<SecretSpec>,
}

/// What [`Desired::new`] needs besides the config and the manifest.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The stage.
    pub stage: &'a str,
    /// Where.
    pub location: Location,
    /// Lambda's CodeSha256 of the zip.
    pub code_sha256: String,
    /// The zip's hex SHA-256 and whether it goes through S3.
    pub code_s3: Option<(String, String)>,
    /// `x86_64` or `arm64`.
    pub architecture: &'a str,
    /// The directory of `portico.toml` (definition files are relative to it).
    pub config_dir: &'a Path,
}

impl Desired {
    /// The desired state of `inputs.stage`.
    ///
    /// # Errors
    /// When a definition file is unreadable or wrong, or a derived name is too long.
    pub fn new(
        config: &Config,
        manifest: &Manifest,
        inputs: &Inputs<'_>,
    ) -> Result<Self, DesiredError> {
        let app = config.app.name.get_ref().clone();
        let stage = inputs.stage.to_owned();
        let names = Names {
            app: app.clone(),
            stage: stage.clone(),
        };
        let loc = &inputs.location;
        let mut tags = config.tags.clone();
        tags.insert(TAG_APP.to_owned(), app.clone());
        tags.insert(TAG_STAGE.to_owned(), stage.clone());

        // `api` first, then the schedules by name.
        let mut entries: Vec<&String> = manifest.entry_points.iter().collect();
        entries.sort_by_key(|e| (e.as_str() != "api", e.as_str()));
        entries.dedup();

        check_len("IAM role", &names.states_role(), 64)?;
        let mut functions = Vec::new();
        for entry in &entries {
            let name = names.function(entry);
            check_len("function", &name, 64)?;
            let role_name = names.function_role(entry);
            if role_name == names.states_role() {
                return Err(DesiredError::RoleNameTaken {
                    entry: (*entry).clone(),
                    role: role_name,
                });
            }
            check_len("IAM role", &role_name, 64)?;
            let settings = config.function(&stage, entry);
            let log_group = settings
                .log_group
                .clone()
                .unwrap_or_else(|| names.log_group(entry));
            let mut env = settings.env.clone();
            env.insert(manifest.entry_point_variable.clone(), (*entry).clone());
            // A stage or function env var of the same name wins over a secret.
            let secrets = config
                .secrets
                .iter()
                .map(|s| s.name.get_ref().clone())
                .filter(|name| !env.contains_key(name))
                .collect();
            functions.push(FunctionSpec {
                entry: (*entry).clone(),
                secrets,
                secret_values: SecretValues::default(),
                arn: loc.function_arn(&name),
                log_group: log_group.clone(),
                name,
                role: RoleSpec {
                    assume_policy: trust_policy("lambda.amazonaws.com", None),
                    policies: BTreeMap::new(),
                    managed_policies: settings.managed_policies.iter().cloned().collect(),
                    name: role_name.clone(),
                },
                own_role: settings.role_arn.is_none(),
                config: FunctionConfig {
                    role_arn: settings
                        .role_arn
                        .clone()
                        .unwrap_or_else(|| loc.role_arn(&role_name)),
                    memory: settings.memory,
                    timeout: settings.timeout,
                    env,
                    architecture: inputs.architecture.to_owned(),
                    runtime: crate::aws::LAMBDA_RUNTIME.to_owned(),
                    handler: crate::aws::LAMBDA_HANDLER.to_owned(),
                    log_group: Some(log_group),
                },
            });
        }
        let function_arn = |entry: &str| loc.function_arn(&names.function(entry));

        let schedules = manifest
            .schedules
            .iter()
            .map(|s| {
                let rule = names.rule(&s.name);
                ScheduleSpec {
                    entry: s.name.clone(),
                    rule_arn: loc.rule_arn(&rule),
                    rule,
                    expression: s.expression.clone(),
                    function: names.function(&s.name),
                    function_arn: function_arn(&s.name),
                }
            })
            .collect();

        let activities: Vec<StepFunctionsSpec> = config
            .activities
            .iter()
            .map(|a| {
                let name = names.scoped(a.name.get_ref());
                StepFunctionsSpec {
                    key: a.name.get_ref().clone(),
                    arn: loc.activity_arn(&name),
                    name,
                    definition: None,
                }
            })
            .collect();
        let mut state_machines = Vec::new();
        for machine in &config.state_machines {
            let key = machine.name.get_ref().clone();
            let name = names.scoped(&key);
            check_len("state machine", &name, 80)?;
            let parsed = state_machine_definition(
                config,
                machine,
                &names,
                loc,
                &entries,
                inputs.config_dir,
            )?;
            state_machines.push(StepFunctionsSpec {
                key,
                arn: loc.state_machine_arn(&name),
                name,
                definition: Some(parsed.to_string()),
            });
        }

        for f in &mut functions {
            let settings = config.function(&stage, &f.entry);
            f.role.policies = function_policies(
                config,
                loc,
                &f.log_group,
                &settings.permissions,
                &activities,
                &state_machines,
            );
            if !settings.statements.is_empty() {
                f.role
                    .policies
                    .insert("statements".to_owned(), policy(settings.statements));
            }
        }
        // The state machines may invoke the functions their definitions name, and no other.
        let invoked: Vec<String> = functions
            .iter()
            .filter(|f| {
                state_machines.iter().any(|m| {
                    m.definition
                        .as_deref()
                        .is_some_and(|d| names_function(d, &f.arn) || names_function(d, &f.name))
                })
            })
            .flat_map(|f| [f.arn.clone(), format!("{}:*", f.arn)])
            .collect();
        let states_role = (!state_machines.is_empty()).then(|| RoleSpec {
            name: names.states_role(),
            // Step Functions documents both keys for its execution roles: only this account's
            // state machines of this stage may assume it.
            assume_policy: trust_policy(
                "states.amazonaws.com",
                Some((
                    &loc.account,
                    &loc.state_machine_arn(&format!("{}-*", names.prefix())),
                )),
            ),
            policies: if invoked.is_empty() {
                BTreeMap::new()
            } else {
                BTreeMap::from([(
                    "invoke-functions".to_owned(),
                    policy(vec![statement(&["lambda:InvokeFunction"], invoked)]),
                )])
            },
            managed_policies: BTreeSet::new(),
        });

        let api = api_spec(
            config,
            manifest,
            &names,
            loc,
            &config.api_stage_name(&stage),
        );
        let usage_plans = config
            .usage_plans
            .iter()
            .map(|p| UsagePlanSpec {
                key: p.name.get_ref().clone(),
                name: names.scoped(p.name.get_ref()),
                throttle: p.throttle.as_ref().map(|t| UsagePlanThrottle {
                    rate: *t.rate.get_ref(),
                    burst: *t.burst.get_ref(),
                }),
                quota: p.quota.as_ref().map(|q| UsagePlanQuota {
                    limit: *q.limit.get_ref(),
                    period: q.period.get_ref().clone(),
                }),
                api_keys: p.api_keys.iter().map(|k| k.get_ref().clone()).collect(),
            })
            .collect();
        let api_keys = config
            .api_keys
            .iter()
            .map(|k| ApiKeySpec {
                key: k.name.get_ref().clone(),
                name: names.scoped(k.name.get_ref()),
                value: (k.value.get_ref() != "generate").then(|| k.value.get_ref().clone()),
            })
            .collect();

        Ok(Self {
            app,
            stage,
            location: loc.clone(),
            tags,
            states_role,
            log_retention: config.logs.retention_days.as_ref().map(|d| *d.get_ref()),
            functions,
            schedules,
            api,
            usage_plans,
            api_keys,
            activities,
            state_machines,
            code: CodeSpec {
                sha256: inputs.code_sha256.clone(),
                s3: inputs.code_s3.clone(),
            },
            secrets: config
                .secrets
                .iter()
                .map(|s| SecretSpec {
                    name: s.name.get_ref().clone(),
                    generate: s.generate.get_ref().clone(),
                })
                .collect(),
        })
    }

    /// The empty desired state of a stage: nothing. Planned against what exists, it deletes
    /// everything the stage has (`portico delete`); the names are those [`Desired::new`] gives.
    pub fn empty(config: &Config, stage: &str, location: Location) -> Self {
        let app = config.app.name.get_ref().clone();
        let names = Names {
            app: app.clone(),
            stage: stage.to_owned(),
        };
        Self {
            tags: BTreeMap::from([
                (TAG_APP.to_owned(), app.clone()),
                (TAG_STAGE.to_owned(), stage.to_owned()),
            ]),
            api: ApiSpec {
                name: names.rest_api(),
                stage: config.api_stage_name(stage),
                binary_media_types: Vec::new(),
                resources: BTreeMap::new(),
                gateway_responses: BTreeMap::new(),
                integration_uri: String::new(),
                timeout_ms: 0,
                function: String::new(),
                hash: String::new(),
            },
            app,
            stage: stage.to_owned(),
            location,
            states_role: None,
            log_retention: None,
            functions: Vec::new(),
            schedules: Vec::new(),
            usage_plans: Vec::new(),
            api_keys: Vec::new(),
            activities: Vec::new(),
            state_machines: Vec::new(),
            code: CodeSpec {
                sha256: String::new(),
                s3: None,
            },
            secrets: Vec::new(),
        }
    }

    /// Whether the stage should have a REST API (every app has one; the empty state none).
    pub fn wants_api(&self) -> bool {
        !self.api.resources.is_empty()
    }

    /// Gives every function the `values` (by name) of the secrets it gets
    /// ([`FunctionSpec::secrets`]); the planner and the executor then see them in
    /// [`FunctionSpec::deployed_config`], and describe them by name only.
    pub fn set_secret_values(&mut self, values: &SecretValues) {
        for f in &mut self.functions {
            f.secret_values = SecretValues(
                f.secrets
                    .iter()
                    .filter_map(|name| Some((name.clone(), values.0.get(name)?.clone())))
                    .collect(),
            );
        }
    }

    /// The names of this stage's resources.
    pub fn names(&self) -> Names {
        Names {
            app: self.app.clone(),
            stage: self.stage.clone(),
        }
    }

    /// The function of entry point `entry`.
    pub fn function(&self, entry: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.entry == entry)
    }
}

fn check_len(what: &'static str, name: &str, max: usize) -> Result<(), DesiredError> {
    if name.len() > max {
        return Err(DesiredError::NameTooLong {
            what,
            name: name.to_owned(),
            max,
        });
    }
    Ok(())
}

/// A role `service` may assume; with `source`, only on behalf of account `source.0` and
/// resources matching ARN pattern `source.1` (`aws:SourceAccount`, `aws:SourceArn`: the
/// confused-deputy guard, for services that document it).
fn trust_policy(service: &str, source: Option<(&str, &str)>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole"
    });
    if let Some((account, arn)) = source {
        statement["Condition"] = json!({
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": arn},
        });
    }
    json!({"Version": "2012-10-17", "Statement": [statement]})
}

fn policy(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn statement(actions: &[&str], resources: Vec<String>) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resources})
}

/// One function's inline policies: writing to its own log group, and the actions of its
/// `permissions`, each on the app's own resources of its kind only.
fn function_policies(
    config: &Config,
    loc: &Location,
    log_group: &str,
    permissions: &[String],
    activities: &[StepFunctionsSpec],
    state_machines: &[StepFunctionsSpec],
) -> BTreeMap<String, Value> {
    let mut policies = BTreeMap::new();
    policies.insert(
        "logs".to_owned(),
        policy(vec![statement(
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![loc.log_group_arn(log_group)],
        )]),
    );
    // One statement per scope, its actions sorted (`Config::function` sorts them).
    let mut by_scope: Vec<(PermissionScope, Vec<&str>)> = Vec::new();
    for action in permissions {
        let Some(scope) = permission_scope(action) else {
            continue;
        };
        match by_scope.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, actions)) => actions.push(action),
            None => by_scope.push((scope, vec![action])),
        }
    }
    let order = [
        PermissionScope::StateMachines,
        PermissionScope::Executions,
        PermissionScope::Activities,
        PermissionScope::Tasks,
        PermissionScope::EmailIdentities,
    ];
    by_scope.sort_by_key(|(scope, _)| order.iter().position(|o| o == scope));
    let mut states = Vec::new();
    let mut ses = Vec::new();
    for (scope, actions) in by_scope {
        let resources: Vec<String> = match scope {
            PermissionScope::StateMachines => {
                state_machines.iter().map(|m| m.arn.clone()).collect()
            }
            PermissionScope::Executions => state_machines
                .iter()
                .map(|m| loc.executions_arn(&m.name))
                .collect(),
            PermissionScope::Activities => activities.iter().map(|a| a.arn.clone()).collect(),
            PermissionScope::Tasks => activities
                .iter()
                .chain(state_machines)
                .map(|s| s.arn.clone())
                .collect(),
            PermissionScope::EmailIdentities => config
                .email_identities
                .iter()
                .map(|i| loc.ses_identity_arn(i.identity()))
                .collect(),
        };
        // The config check refuses an action without resources; never grant on none.
        if resources.is_empty() {
            continue;
        }
        let out = if scope == PermissionScope::EmailIdentities {
            &mut ses
        } else {
            &mut states
        };
        out.push(statement(&actions, resources));
    }
    if !states.is_empty() {
        policies.insert("step-functions".to_owned(), policy(states));
    }
    if !ses.is_empty() {
        policies.insert("ses".to_owned(), policy(ses));
    }
    policies
}
/// When the file is unreadable, a reference names nothing, or the result is not JSON.
/// Whether the compact JSON `definition` names the function `reference` (its ARN or name) as
/// a whole string, or with a `:qualifier`.
fn names_function(definition: &str, reference: &str) -> bool {
    definition.contains(&format!("\"{reference}\""))
        || definition.contains(&format!("\"{reference}:"))
}

/// The REST API: `/` and `/{proxy+}` with `ANY`, plus explicit resources for routes whose
/// gateway options differ (an API key required), their parents, and a `{proxy+}` under each
/// explicit resource so the paths below it still reach the app.
fn api_spec(
    config: &Config,
    manifest: &Manifest,
    names: &Names,
    loc: &Location,
    stage: &str,
) -> ApiSpec {
    let open = || MethodSpec {
        api_key_required: false,
    };
    let cors = config.api.cors.as_ref();
    let mut resources: BTreeMap<String, BTreeMap<String, MethodSpec>> = BTreeMap::new();
    resources.insert("/".to_owned(), BTreeMap::from([("ANY".to_owned(), open())]));
    resources.insert(
        "/{proxy+}".to_owned(),
        BTreeMap::from([("ANY".to_owned(), open())]),
    );
    for route in manifest
        .routes
        .iter()
        .filter(|r| r.options.api_key_required)
    {
        let path = route.path.clone();
        // Parents: reachable without a key, as before.
        let mut parent = String::new();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for segment in &segments[..segments.len().saturating_sub(1)] {
            parent = format!("{parent}/{segment}");
            resources
                .entry(parent.clone())
                .or_default()
                .entry("ANY".to_owned())
                .or_insert_with(open);
        }
        let methods = resources.entry(path).or_default();
        methods.insert(
            route.method.clone(),
            MethodSpec {
                api_key_required: true,
            },
        );
        // Other methods of the path reach the app (which answers them or 405) without a key,
        // and so do CORS preflights (browsers never send a key with them).
        if route.method != "ANY" {
            methods.entry("ANY".to_owned()).or_insert_with(open);
        }
        if cors.is_some() && route.method != "OPTIONS" {
            methods.entry("OPTIONS".to_owned()).or_insert_with(open);
        }
    }
    // A greedy child under each explicit resource, unless it has a variable child already
    // (API Gateway allows one variable per level) or is greedy itself.
    let explicit: Vec<String> = resources
        .keys()
        .filter(|p| p.as_str() != "/" && !p.ends_with("+}"))
        .cloned()
        .collect();
    for path in explicit {
        let prefix = format!("{path}/");
        let has_variable_child = resources.keys().any(|p| {
            p.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.contains('/') && rest.starts_with('{'))
        });
        if !has_variable_child && path != "/{proxy+}" {
            resources
                .entry(format!("{path}/{{proxy+}}"))
                .or_default()
                .entry("ANY".to_owned())
                .or_insert_with(open);
        }
    }
    let mut gateway_responses = BTreeMap::new();
    if let Some(cors) = cors {
        let parameters = cors_parameters(cors);
        gateway_responses.insert("DEFAULT_4XX".to_owned(), parameters.clone());
        gateway_responses.insert("DEFAULT_5XX".to_owned(), parameters);
    }
    let mut binary_media_types = config.api.binary_media_types.clone();
    binary_media_types.sort();
    binary_media_types.dedup();
    let function = names.function("api");
    let integration_uri = loc.lambda_integration_uri(&loc.function_arn(&function));
    let timeout_ms = config.api.timeout.as_ref().map_or(29, |t| *t.get_ref()) * 1000;
    let hash = {
        let snapshot = json!({
            "binary_media_types": binary_media_types,
            "resources": resources,
            "gateway_responses": gateway_responses,
            "integration_uri": integration_uri,
            "timeout_ms": timeout_ms,
        });
        let digest = Sha256::digest(snapshot.to_string().as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    };
    ApiSpec {
        name: names.rest_api(),
        stage: stage.to_owned(),
        binary_media_types,
        resources,
        gateway_responses,
        integration_uri,
        timeout_ms,
        function,
        hash,
    }
}

/// The header mappings of gateway responses under `[api.cors]` (values are quoted literals).
fn cors_parameters(cors: &CorsSection) -> BTreeMap<String, String> {
    let header = |name: &str| format!("gatewayresponse.header.{name}");
    let literal = |value: &str| format!("'{value}'");
    let mut out = BTreeMap::new();
    out.insert(
        header("Access-Control-Allow-Origin"),
        literal(&cors.allow_origin),
    );
    let allow_headers = if cors.allow_headers.is_empty() {
        DEFAULT_CORS_ALLOW_HEADERS.to_owned()
    } else {
        cors.allow_headers.join(",")
    };
    out.insert(
        header("Access-Control-Allow-Headers"),
        literal(&allow_headers),
    );
    if !cors.expose_headers.is_empty() {
        out.insert(
            header("Access-Control-Expose-Headers"),
            literal(&cors.expose_headers.join(",")),
        );
    }
    if cors.allow_credentials {
        out.insert(header("Access-Control-Allow-Credentials"), literal("true"));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::project::{ManifestRoute, ManifestSchedule};
    use crate::test_support::assert_error_contains;
    use portico_spec::manifest::RouteOptions as ManifestRouteOptions;

    pub(crate) fn manifest(keyed: &[(&str, &str)], schedules: &[(&str, &str)]) -> Manifest {
        let mut routes: Vec<ManifestRoute> = keyed
            .iter()
            .map(|(method, path)| ManifestRoute {
                name: format!("{method}{path}"),
                method: (*method).to_owned(),
                path: (*path).to_owned(),
                handler: String::new(),
                options: ManifestRouteOptions {
                    api_key_required: true,
                    ..ManifestRouteOptions::default()
                },
                source: String::new(),
            })
            .collect();
        routes.push(ManifestRoute {
            name: "open".into(),
            method: "GET".into(),
            path: "/open/{id}".into(),
            handler: String::new(),
            options: ManifestRouteOptions::default(),
            source: String::new(),
        });
        let mut entry_points = vec!["api".to_owned()];
        entry_points.extend(schedules.iter().map(|(n, _)| (*n).to_owned()));
        Manifest {
            entry_points,
            routes,
            schedules: schedules
                .iter()
                .map(|(n, e)| ManifestSchedule {
                    name: (*n).to_owned(),
                    expression: (*e).to_owned(),
                    source: String::new(),
                })
                .collect(),
            ..Manifest::new("0.1.0")
        }
    }

    pub(crate) fn config(text: &str) -> Config {
        Config::parse(Path::new("portico.toml"), text).unwrap()
    }

    /// The desired state of `text` (a `portico.toml`) and `manifest`, stage `dev`.
    fn desired_from(text: &str, manifest: &Manifest) -> Result<Desired, DesiredError> {
        Desired::new(&config(text), manifest, &inputs(Path::new(".")))
    }

    pub(crate) fn inputs(dir: &Path) -> Inputs<'_> {
        Inputs {
            stage: "dev",
            location: Location::new("eu-west-1", "123456789012"),
            code_sha256: "c2hh".into(),
            code_s3: None,
            architecture: "x86_64",
            config_dir: dir,
        }
    }

    #[test]
    fn names_and_arns_follow_the_app_and_stage() {
        let desired = desired_from(
            "[app]\nname = \"shop\"\n",
            &manifest(&[], &[("cleanup", "rate(5 minutes)")]),
        )
        .unwrap();
        let entries: Vec<&str> = desired.functions.iter().map(|f| f.entry.as_str()).collect();
        assert_eq!(entries, ["api", "cleanup"]);
        let api = &desired.functions[0];
        assert_eq!(api.name, "shop-dev-api");
        assert_eq!(
            api.arn,
            "arn:aws:lambda:eu-west-1:123456789012:function:shop-dev-api"
        );
        assert_eq!(api.config.env["PORTICO_HANDLER"], "api");
        assert_eq!(
            desired.functions[1].config.env["PORTICO_HANDLER"],
            "cleanup"
        );
        // Each function runs under its own role, named like it.
        assert_eq!(
            api.config.role_arn,
            "arn:aws:iam::123456789012:role/shop-dev-api"
        );
        assert_eq!(api.role.name, "shop-dev-api");
        assert_eq!(desired.functions[1].role.name, "shop-dev-cleanup");
        assert_eq!(
            desired.functions[1].config.role_arn,
            "arn:aws:iam::123456789012:role/shop-dev-cleanup"
        );
        assert_eq!(
            (api.config.runtime.as_str(), api.config.handler.as_str()),
            ("provided.al2023", "bootstrap")
        );
        assert_eq!(desired.schedules[0].rule, "shop-dev-cleanup");
        assert_eq!(desired.api.stage, "dev");
        let v1 = desired_from(
            "[app]\nname = \"shop\"\n[stages.dev]\napi_stage = \"v1\"\n",
            &manifest(&[], &[]),
        )
        .unwrap();
        assert_eq!(v1.api.stage, "v1", "the API Gateway stage is `api_stage`");
        assert_eq!(desired.tags[TAG_APP], "shop");
        assert_eq!(desired.tags[TAG_STAGE], "dev");
        assert_eq!(
            desired.api.integration_uri,
            "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:shop-dev-api/invocations"
        );
    }

    #[test]
    fn only_keyed_routes_get_explicit_resources() {
        let desired = desired_from(
            "[app]\nname = \"shop\"\n[api]\ncors = {}\n",
            &manifest(&[("GET", "/private"), ("POST", "/admin/users/{id}")], &[]),
        )
        .unwrap();
        let shape: Vec<(String, Vec<(String, bool)>)> = desired
            .api
            .resources
            .iter()
            .map(|(path, methods)| {
                (
                    path.clone(),
                    methods
                        .iter()
                        .map(|(m, s)| (m.clone(), s.api_key_required))
                        .collect(),
                )
            })
            .collect();
        let s = |p: &str, m: &[(&str, bool)]| {
            (
                p.to_owned(),
                m.iter()
                    .map(|(a, b)| ((*a).to_owned(), *b))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            shape,
            vec![
                s("/", &[("ANY", false)]),
                s("/admin", &[("ANY", false)]),
                s("/admin/users", &[("ANY", false)]),
                s(
                    "/admin/users/{id}",
                    &[("ANY", false), ("OPTIONS", false), ("POST", true)]
                ),
                s("/admin/users/{id}/{proxy+}", &[("ANY", false)]),
                s("/admin/{proxy+}", &[("ANY", false)]),
                s(
                    "/private",
                    &[("ANY", false), ("GET", true), ("OPTIONS", false)]
                ),
                s("/private/{proxy+}", &[("ANY", false)]),
                s("/{proxy+}", &[("ANY", false)]),
            ]
        );
        assert_eq!(
            desired.api.gateway_responses["DEFAULT_4XX"]["gatewayresponse.header.Access-Control-Allow-Origin"],
            "'*'"
        );
    }

    #[test]
    fn policies_name_only_the_apps_resources() {
        let tmp = crate::test_support::TempDir::new("desired", "policies");
        let dir = &tmp.0;
        std::fs::write(
            dir.join("sm.json"),
            r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${activity:ManualStep}", "Next": "B"},
               "B": {"Type": "Task", "Resource": "${function:notify}", "End": true}}}"#,
        )
        .unwrap();
        let cfg = config(
            "[app]\nname = \"hr\"\n[[activities]]\nname = \"ManualStep\"\n[[state_machines]]\nname = \"Promotion\"\ndefinition = \"sm.json\"\n[[email_identities]]\naddress = \"hr@example.com\"\n\
             [functions.api]\npermissions = [\"states:StartExecution\", \"states:SendTaskSuccess\", \"states:DescribeExecution\"]\n\
             [functions.notify]\npermissions = [\"ses:SendEmail\", \"states:GetActivityTask\", \"states:SendTaskFailure\"]\n\
             [stages.prod.functions.notify]\npermissions = [\"ses:SendEmail\"]\n",
        );
        let desired = Desired::new(
            &cfg,
            &manifest(&[], &[("notify", "rate(1 day)")]),
            &inputs(dir),
        )
        .unwrap();
        let machine = &desired.state_machines[0];
        assert_eq!(machine.name, "hr-dev-Promotion");
        let definition: Value = serde_json::from_str(machine.definition.as_ref().unwrap()).unwrap();
        assert_eq!(
            definition["States"]["A"]["Resource"],
            "arn:aws:states:eu-west-1:123456789012:activity:hr-dev-ManualStep"
        );
        assert_eq!(
            definition["States"]["B"]["Resource"],
            "arn:aws:lambda:eu-west-1:123456789012:function:hr-dev-notify"
        );
        for f in &desired.functions {
            let all = serde_json::to_string(&f.role.policies).unwrap();
            assert!(!all.contains("\"*\""), "{all}");
            assert!(!all.contains("states:*"), "{all}");
            assert_eq!(
                f.role.assume_policy,
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            );
        }
        let arn = |r: &str| format!("arn:aws:{r}");
        let machine = arn("states:eu-west-1:123456789012:stateMachine:hr-dev-Promotion");
        let activity = arn("states:eu-west-1:123456789012:activity:hr-dev-ManualStep");
        let logs = |entry: &str| {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [arn(&format!("logs:eu-west-1:123456789012:log-group:/aws/lambda/hr-dev-{entry}:*"))]}]})
        };
        // The API: exactly its three actions, each on its kind of resource; no SES, no
        // activity polling.
        assert_eq!(
            desired.functions[0].role.policies,
            BTreeMap::from([
                ("logs".to_owned(), logs("api")),
                (
                    "step-functions".to_owned(),
                    json!({"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [machine]},
                        {"Effect": "Allow", "Action": ["states:DescribeExecution"],
                         "Resource": [arn("states:eu-west-1:123456789012:execution:hr-dev-Promotion:*")]},
                        {"Effect": "Allow", "Action": ["states:SendTaskSuccess"], "Resource": [activity, machine]},
                    ]})
                ),
            ])
        );
        assert_eq!(
            desired.functions[1].role.policies,
            BTreeMap::from([
                ("logs".to_owned(), logs("notify")),
                (
                    "ses".to_owned(),
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Action": ["ses:SendEmail"],
                        "Resource": ["arn:aws:ses:eu-west-1:123456789012:identity/hr@example.com"]}]})
                ),
                (
                    "step-functions".to_owned(),
                    json!({"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": ["states:GetActivityTask"], "Resource": [activity]},
                        {"Effect": "Allow", "Action": ["states:SendTaskFailure"], "Resource": [activity, machine]},
                    ]})
                ),
            ])
        );
        // A stage's list replaces the default one.
        let prod = Desired::new(
            &cfg,
            &manifest(&[], &[("notify", "rate(1 day)")]),
            &Inputs {
                stage: "prod",
                ..inputs(dir)
            },
        )
        .unwrap();
        assert_eq!(
            prod.functions[1].role.policies.keys().collect::<Vec<_>>(),
            ["logs", "ses"]
        );
        // Without `permissions`, a function may only write its logs.
        let bare = Desired::new(
            &config("[app]\nname = \"hr\"\n[[email_identities]]\naddress = \"hr@example.com\"\n"),
            &manifest(&[], &[("notify", "rate(1 day)")]),
            &inputs(dir),
        )
        .unwrap();
        for f in &bare.functions {
            assert_eq!(f.role.policies.keys().collect::<Vec<_>>(), ["logs"]);
        }
        // A custom log group: the policy names it instead of the default group.
        let custom =
            config("[app]\nname = \"hr\"\n[functions.notify]\nlog_group = \"/hr/notify\"\n");
        let custom = Desired::new(
            &custom,
            &manifest(&[], &[("notify", "rate(1 day)")]),
            &inputs(dir),
        )
        .unwrap();
        assert_eq!(custom.functions[1].log_group, "/hr/notify");
        assert_eq!(
            custom.functions[1].config.log_group.as_deref(),
            Some("/hr/notify")
        );
        assert_eq!(
            custom.functions[1].role.policies["logs"]["Statement"][0]["Resource"],
            json!(["arn:aws:logs:eu-west-1:123456789012:log-group:/hr/notify:*"])
        );
        let states_role = desired.states_role.as_ref().unwrap();
        assert_eq!(states_role.name, "hr-dev-states");
        // Step Functions documents both confused-deputy keys for its roles.
        assert_eq!(
            states_role.assume_policy["Statement"][0]["Condition"],
            json!({
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:hr-dev-*"},
            })
        );
        // The state machines may invoke what their definitions name (notify), not the API.
        assert_eq!(
            states_role.policies["invoke-functions"]["Statement"][0]["Resource"],
            json!([
                "arn:aws:lambda:eu-west-1:123456789012:function:hr-dev-notify",
                "arn:aws:lambda:eu-west-1:123456789012:function:hr-dev-notify:*"
            ])
        );

        std::fs::write(
            dir.join("sm.json"),
            "{\n\"Resource\": \"${activity:Nope}\"}",
        )
        .unwrap();
        assert_error_contains(
            Desired::new(&cfg, &manifest(&[], &[]), &inputs(dir)),
            &["sm.json:2: `${activity:Nope}`", "declared: ManualStep"],
        );
    }

    #[test]
    fn an_entry_point_cannot_take_the_state_machines_role_name() {
        let m = manifest(&[], &[("states", "rate(1 day)")]);
        assert_error_contains(
            desired_from("[app]\nname = \"hr\"\n", &m),
            &["entry point named `states`", "rename the function"],
        );
    }

    #[test]
    fn the_api_hash_follows_the_api_definition_only() {
        let m = manifest(&[("GET", "/private")], &[]);
        let base = desired_from("[app]\nname = \"a\"\n", &m).unwrap();
        let memory =
            desired_from("[app]\nname = \"a\"\n[functions.api]\nmemory = 512\n", &m).unwrap();
        let binary = desired_from(
            "[app]\nname = \"a\"\n[api]\nbinary_media_types = [\"image/png\"]\n",
            &m,
        )
        .unwrap();
        assert_eq!(base.api.hash, memory.api.hash);
        assert_ne!(base.api.hash, binary.api.hash);
    }
}
