//! What exists on AWS for one stage: read through the AWS boundary, read calls only.
//!
//! Resources are found by their derived names (see [`super::desired::Names`]); those whose names
//! AWS does not keep unique (REST APIs, usage plans, API keys) must also carry the app's
//! `portico:app` / `portico:stage` tags. The record only speeds this up (the REST API's id) and
//! remembers resources that left the config, so they can be removed.

use std::collections::BTreeMap;

use crate::aws::{
    ApiKey, Aws, AwsError, Function, GatewayResponse, LogGroup, PolicyStatement, Resource, RestApi,
    Role, Rule, Stage, StateMachine, UsagePlan,
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

/// What exists, keyed like [`Desired`] (entry points, config names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remote {
    /// The functions' role.
    pub role: Option<Role>,
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
    /// Activity ARNs by config name.
    pub activities: BTreeMap<String, String>,
    /// State machines by config name.
    pub state_machines: BTreeMap<String, StateMachine>,
    /// The REST API.
    pub api: Option<RemoteApi>,
    /// Usage plans by config name.
    pub usage_plans: BTreeMap<String, RemotePlan>,
    /// API keys by config name.
    pub api_keys: BTreeMap<String, ApiKey>,
    /// Functions that exist but left the config: entry point → name.
    pub stale_functions: BTreeMap<String, String>,
    /// Rules that exist but left the config: schedule → name.
    pub stale_rules: BTreeMap<String, String>,
    /// Things worth telling (duplicates found, …).
    pub warnings: Vec<String>,
}

fn owned_by(tags: &BTreeMap<String, String>, desired: &Desired) -> bool {
    tags.get(TAG_APP) == Some(&desired.app) && tags.get(TAG_STAGE) == Some(&desired.stage)
}

impl Remote {
    /// Reads what exists of `desired` (and of the record's resources that left the config).
    ///
    /// # Errors
    /// When a read call fails.
    pub async fn read(
        aws: &Aws,
        desired: &Desired,
        record: Option<&Record>,
    ) -> Result<Self, AwsError> {
        let names = desired.names();
        let mut remote = Self::default();
        let log_prefix = format!("/aws/lambda/{}-", names.prefix());
        let (role, states_role, log_groups, api) = tokio::try_join!(
            aws.get_role(&desired.role.name),
            async {
                match &desired.states_role {
                    Some(r) => aws.get_role(&r.name).await,
                    None => Ok(None),
                }
            },
            aws.list_log_groups(&log_prefix),
            read_api(aws, desired, record),
        )?;
        remote.role = role;
        remote.states_role = states_role;
        remote.log_groups = log_groups
            .into_iter()
            .filter(|g| desired.functions.iter().any(|f| f.log_group == g.name))
            .map(|g| (g.name.clone(), g))
            .collect();
        let (mut api, warning) = api;
        remote.warnings.extend(warning);
        remote.api = api.take();

        for f in &desired.functions {
            if let Some(function) = aws.get_function(&f.name).await? {
                remote
                    .permissions
                    .insert(f.entry.clone(), aws.get_function_policy(&f.name).await?);
                remote.functions.insert(f.entry.clone(), function);
            }
        }
        for s in &desired.schedules {
            if let Some(rule) = aws.get_rule(&s.rule).await? {
                remote.rules.insert(s.entry.clone(), rule);
            }
        }
        if !desired.activities.is_empty() {
            let all = aws.list_activities().await?;
            for a in &desired.activities {
                if let Some(arn) = all.get(&a.name) {
                    remote.activities.insert(a.key.clone(), arn.clone());
                }
            }
        }
        if !desired.state_machines.is_empty() {
            let all = aws.list_state_machines().await?;
            for m in &desired.state_machines {
                if let Some(arn) = all.get(&m.name) {
                    remote
                        .state_machines
                        .insert(m.key.clone(), aws.describe_state_machine(arn).await?);
                }
            }
        }
        if !desired.usage_plans.is_empty() {
            let all = aws.list_usage_plans().await?;
            for p in &desired.usage_plans {
                let mut found: Vec<&UsagePlan> = all
                    .iter()
                    .filter(|u| u.name == p.name && owned_by(&u.tags, desired))
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
        }
        if !desired.api_keys.is_empty() {
            let all = aws.list_api_keys().await?;
            for k in &desired.api_keys {
                let mut found: Vec<&ApiKey> = all
                    .iter()
                    .filter(|a| a.name == k.name && owned_by(&a.tags, desired))
                    .collect();
                found.sort_by(|a, b| a.id.cmp(&b.id));
                if let Some(key) = found.first() {
                    remote.api_keys.insert(k.key.clone(), (*key).clone());
                }
            }
        }
        if let Some(record) = record {
            for (entry, f) in &record.functions {
                if desired.function(entry).is_none() && aws.get_function(&f.name).await?.is_some() {
                    remote.stale_functions.insert(entry.clone(), f.name.clone());
                }
            }
            for (entry, r) in &record.rules {
                if !desired.schedules.iter().any(|s| &s.entry == entry)
                    && aws.get_rule(&r.name).await?.is_some()
                {
                    remote.stale_rules.insert(entry.clone(), r.name.clone());
                }
            }
        }
        Ok(remote)
    }
}

/// The stage's REST API: the record's id if it still names our API, else the oldest API with
/// the name and our tags.
async fn read_api(
    aws: &Aws,
    desired: &Desired,
    record: Option<&Record>,
) -> Result<(Option<RemoteApi>, Option<String>), AwsError> {
    let mut warning = None;
    let mut api = None;
    if let Some(id) = record.and_then(|r| r.api.as_ref()).map(|a| a.id.as_str()) {
        api = aws
            .get_rest_api(id)
            .await?
            .filter(|a| a.name == desired.api.name && owned_by(&a.tags, desired));
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
        api = found.into_iter().next();
    }
    let Some(api) = api else {
        return Ok((None, warning));
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
        warning,
    ))
}
