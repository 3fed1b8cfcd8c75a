//! `portico delete [--stage dev] [--yes]`: removes everything a stage's deploy created.
//!
//! 1. **find** (reads only): the resources named like the stage's ([`Names`](crate::deploy::desired::Names)) that carry its
//!    `portico:app` / `portico:stage` tags, plus everything the record lists — so a lost
//!    record still finds them, and a record alone still finds renamed leftovers.
//! 2. **delete**, in dependency order: rules (with their targets) → function permissions →
//!    usage-plan keys, usage plans, API keys → REST API → functions → log groups → state
//!    machines, activities → role policies → roles → the code object in S3.
//!
//! Each deletion treats "not found" as done, and the record is rewritten after each one and
//! removed at the end, so an interrupted delete re-runs to the same end.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::aws::{Aws, AwsArgs, AwsError};
use crate::deploy::desired::{APIGATEWAY_PERMISSION_SID, EVENTS_PERMISSION_SID};
use crate::deploy::record::Record;
use crate::url::StageTarget;
use crate::{AppStage, CliError};

/// Arguments of `portico delete`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    app_stage: AppStage,
    /// Delete without asking (required when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    /// Print what would be deleted and stop.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

/// One deletion, in the order [`find`] lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Deletion {
    /// An EventBridge rule and its targets.
    DeleteRule {
        /// Rule name.
        name: String,
    },
    /// A statement of a function's resource policy.
    RemovePermission {
        /// Function name.
        function: String,
        /// Statement id.
        sid: String,
    },
    /// A key's membership of a usage plan.
    DeleteUsagePlanKey {
        /// Plan id.
        plan: String,
        /// Key id.
        key: String,
    },
    /// A usage plan (detached from its API stages first).
    DeleteUsagePlan {
        /// Plan id.
        id: String,
        /// Plan name.
        name: String,
        /// `(api id, stage)` it is attached to.
        api_stages: Vec<(String, String)>,
    },
    /// An API key.
    DeleteApiKey {
        /// Key id.
        id: String,
        /// Key name.
        name: String,
    },
    /// The REST API with its stages and deployments.
    DeleteRestApi {
        /// API id.
        id: String,
        /// API name.
        name: String,
    },
    /// A function.
    DeleteFunction {
        /// Function name.
        name: String,
    },
    /// A log group.
    DeleteLogGroup {
        /// Log group name.
        name: String,
    },
    /// A state machine.
    DeleteStateMachine {
        /// ARN.
        arn: String,
    },
    /// An activity.
    DeleteActivity {
        /// ARN.
        arn: String,
    },
    /// An inline policy of a role.
    DeleteRolePolicy {
        /// Role name.
        role: String,
        /// Policy name.
        policy: String,
    },
    /// A role.
    DeleteRole {
        /// Role name.
        name: String,
    },
    /// The code zip uploaded to S3 (the bucket stays: stages share it).
    DeleteObject {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

impl Deletion {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Self::DeleteRule { name } => format!("delete rule {name} and its targets"),
            Self::RemovePermission { function, sid } => {
                format!("remove permission {sid} of function {function}")
            }
            Self::DeleteUsagePlanKey { plan, key } => {
                format!("remove API key {key} from usage plan {plan}")
            }
            Self::DeleteUsagePlan { id, name, .. } => format!("delete usage plan {name} ({id})"),
            Self::DeleteApiKey { id, name } => format!("delete API key {name} ({id})"),
            Self::DeleteRestApi { id, name } => format!("delete REST API {name} ({id})"),
            Self::DeleteFunction { name } => format!("delete function {name}"),
            Self::DeleteLogGroup { name } => format!("delete log group {name}"),
            Self::DeleteStateMachine { arn } => format!("delete state machine {arn}"),
            Self::DeleteActivity { arn } => format!("delete activity {arn}"),
            Self::DeleteRolePolicy { role, policy } => {
                format!("delete policy {policy} of role {role}")
            }
            Self::DeleteRole { name } => format!("delete role {name}"),
            Self::DeleteObject { bucket, key } => format!("delete s3://{bucket}/{key}"),
        }
    }

    async fn apply(&self, aws: &Aws) -> Result<(), AwsError> {
        match self {
            Self::DeleteRule { name } => aws.delete_rule(name).await,
            Self::RemovePermission { function, sid } => aws.remove_permission(function, sid).await,
            Self::DeleteUsagePlanKey { plan, key } => aws.delete_usage_plan_key(plan, key).await,
            Self::DeleteUsagePlan { id, api_stages, .. } => {
                aws.delete_usage_plan(id, api_stages).await
            }
            Self::DeleteApiKey { id, .. } => aws.delete_api_key(id).await,
            Self::DeleteRestApi { id, .. } => aws.delete_rest_api(id).await,
            Self::DeleteFunction { name } => aws.delete_function(name).await,
            Self::DeleteLogGroup { name } => aws.delete_log_group(name).await,
            Self::DeleteStateMachine { arn } => aws.delete_state_machine(arn).await,
            Self::DeleteActivity { arn } => aws.delete_activity(arn).await,
            Self::DeleteRolePolicy { role, policy } => aws.delete_role_policy(role, policy).await,
            Self::DeleteRole { name } => aws.delete_role(name).await,
            Self::DeleteObject { bucket, key } => aws.delete_object(bucket, key).await,
        }
    }

    /// Forgets what this deletion removed from `record`.
    fn forget(&self, record: &mut Record) {
        match self {
            Self::DeleteRule { name } => record.rules.retain(|_, r| &r.name != name),
            Self::DeleteUsagePlan { id, .. } => record.usage_plans.retain(|_, p| &p.id != id),
            Self::DeleteApiKey { id, .. } => record.api_keys.retain(|_, k| &k.id != id),
            Self::DeleteRestApi { id, .. } => {
                if record.api.as_ref().is_some_and(|a| &a.id == id) {
                    record.api = None;
                }
            }
            Self::DeleteFunction { name } => record.functions.retain(|_, f| &f.name != name),
            Self::DeleteLogGroup { name } => {
                record.log_groups.remove(name);
            }
            Self::DeleteStateMachine { arn } => record.state_machines.retain(|_, m| &m.arn != arn),
            Self::DeleteActivity { arn } => record.activities.retain(|_, a| &a.arn != arn),
            Self::DeleteRole { name } => record.roles.retain(|_, r| &r.name != name),
            Self::DeleteObject { .. } => record.code_object = None,
            Self::RemovePermission { .. }
            | Self::DeleteUsagePlanKey { .. }
            | Self::DeleteRolePolicy { .. } => {}
        }
    }
}

/// Finds what exists of the stage (read calls only); the deletions in dependency order.
///
/// # Errors
/// When a read call fails.
pub async fn find(aws: &Aws, target: &StageTarget) -> Result<Vec<Deletion>, AwsError> {
    let names = &target.names;
    let prefix = format!("{}-", names.prefix());
    let record = target.record.as_ref();
    let mut out = Vec::new();

    // Rules.
    let mut rule_names: BTreeSet<String> =
        aws.list_rule_names(&prefix).await?.into_iter().collect();
    rule_names.extend(
        record
            .iter()
            .flat_map(|r| r.rules.values().map(|n| n.name.clone())),
    );
    let recorded_rule = |n: &str| record.is_some_and(|r| r.rules.values().any(|x| x.name == n));
    for name in rule_names {
        if let Some(rule) = aws.get_rule(&name).await?
            && (target.owns(&rule.tags) || recorded_rule(&name))
        {
            out.push(Deletion::DeleteRule { name });
        }
    }

    // Functions (and their permissions).
    let mut function_names: BTreeSet<String> = aws
        .list_function_names(&prefix)
        .await?
        .into_iter()
        .collect();
    function_names.extend(
        record
            .iter()
            .flat_map(|r| r.functions.values().map(|f| f.name.clone())),
    );
    let recorded_function =
        |n: &str| record.is_some_and(|r| r.functions.values().any(|f| f.name == n));
    let mut functions = Vec::new();
    for name in function_names {
        if let Some(f) = aws.get_function(&name).await?
            && (target.owns(&f.tags) || recorded_function(&name))
        {
            for statement in aws.get_function_policy(&name).await? {
                if [APIGATEWAY_PERMISSION_SID, EVENTS_PERMISSION_SID]
                    .contains(&statement.sid.as_str())
                {
                    out.push(Deletion::RemovePermission {
                        function: name.clone(),
                        sid: statement.sid,
                    });
                }
            }
            functions.push(name);
        }
    }

    // Usage plans and API keys.
    let recorded_plan =
        |id: &str| record.is_some_and(|r| r.usage_plans.values().any(|p| p.id == id));
    let mut plans = Vec::new();
    for plan in aws.list_usage_plans().await? {
        if (plan.name.starts_with(&prefix) && target.owns(&plan.tags)) || recorded_plan(&plan.id) {
            for key in aws.get_usage_plan_key_ids(&plan.id).await? {
                out.push(Deletion::DeleteUsagePlanKey {
                    plan: plan.id.clone(),
                    key,
                });
            }
            plans.push(Deletion::DeleteUsagePlan {
                id: plan.id,
                name: plan.name,
                api_stages: plan.api_stages,
            });
        }
    }
    out.extend(plans);
    let recorded_key = |id: &str| record.is_some_and(|r| r.api_keys.values().any(|k| k.id == id));
    for key in aws.list_api_keys().await? {
        if (key.name.starts_with(&prefix) && target.owns(&key.tags)) || recorded_key(&key.id) {
            out.push(Deletion::DeleteApiKey {
                id: key.id,
                name: key.name,
            });
        }
    }

    // The REST API: every one with the name and tags, and the recorded one.
    let mut api_ids: BTreeSet<String> = BTreeSet::new();
    for api in aws.find_rest_apis(&names.rest_api()).await? {
        if target.owns(&api.tags) {
            api_ids.insert(api.id);
        }
    }
    if let Some(api) = record.and_then(|r| r.api.as_ref())
        && aws.get_rest_api(&api.id).await?.is_some()
    {
        api_ids.insert(api.id.clone());
    }
    for id in api_ids {
        out.push(Deletion::DeleteRestApi {
            id,
            name: names.rest_api(),
        });
    }

    let log_names: BTreeSet<String> = functions
        .iter()
        .map(|f| format!("/aws/lambda/{f}"))
        .chain(record.iter().flat_map(|r| r.log_groups.iter().cloned()))
        .collect();
    let functions_found = functions.clone();
    for name in functions {
        out.push(Deletion::DeleteFunction { name });
    }
    let default_prefix = format!("/aws/lambda/{prefix}");
    for group in aws.list_log_groups(&default_prefix).await? {
        if target.owns(&group.tags) || log_names.contains(&group.name) {
            out.push(Deletion::DeleteLogGroup { name: group.name });
        }
    }
    // Custom log groups (`log_group` in the config, or in the record): only those that carry
    // the stage's tags, so a group the app did not create is never deleted.
    let custom: BTreeSet<String> = record
        .iter()
        .flat_map(|r| r.functions.values().filter_map(|f| f.log_group.clone()))
        .chain(
            target
                .config
                .functions
                .keys()
                .chain(
                    target
                        .config
                        .stages
                        .get(&target.names.stage)
                        .into_iter()
                        .flat_map(|s| s.functions.keys()),
                )
                .filter_map(|entry| target.config.function(&target.names.stage, entry).log_group),
        )
        .filter(|name| !name.starts_with(&default_prefix))
        .collect();
    for name in custom {
        for group in aws.list_log_groups(&name).await? {
            if group.name == name && target.owns(&group.tags) {
                out.push(Deletion::DeleteLogGroup { name: group.name });
            }
        }
    }

    // Step Functions: those the record lists (by ARN, so a same-named one made since by
    // someone else is not), and those named like the stage's with its tags. A name in the
    // config alone is not enough: the stage may never have made it.
    let recorded_machine =
        |arn: &str| record.is_some_and(|r| r.state_machines.values().any(|m| m.arn == arn));
    for (name, arn) in aws.list_state_machines().await? {
        if recorded_machine(&arn)
            || (name.starts_with(&prefix) && target.owns(&aws.list_sfn_tags(&arn).await?))
        {
            out.push(Deletion::DeleteStateMachine { arn });
        }
    }
    let recorded_activity =
        |arn: &str| record.is_some_and(|r| r.activities.values().any(|a| a.arn == arn));
    for (name, arn) in aws.list_activities().await? {
        if recorded_activity(&arn)
            || (name.starts_with(&prefix) && target.owns(&aws.list_sfn_tags(&arn).await?))
        {
            out.push(Deletion::DeleteActivity { arn });
        }
    }

    // Roles last: everything above ran as them. The functions' roles are named like the
    // functions; those of functions deleted already are found by the prefix.
    let mut role_names: BTreeSet<String> = [names.shared_role(), names.states_role()].into();
    role_names.extend(aws.list_role_names(&prefix).await?);
    role_names.extend(functions_found.iter().cloned());
    role_names.extend(
        record
            .iter()
            .flat_map(|r| r.roles.values().map(|n| n.name.clone())),
    );
    let recorded_role = |n: &str| record.is_some_and(|r| r.roles.values().any(|x| x.name == n));
    let mut roles = Vec::new();
    for name in role_names {
        if let Some(role) = aws.get_role(&name).await?
            && (target.owns(&role.tags) || recorded_role(&name))
        {
            for policy in aws.list_role_policy_names(&name).await? {
                out.push(Deletion::DeleteRolePolicy {
                    role: name.clone(),
                    policy,
                });
            }
            roles.push(Deletion::DeleteRole { name });
        }
    }
    out.extend(roles);

    if let Some((bucket, key)) = record
        .and_then(|r| r.code_object.as_deref())
        .and_then(|o| o.strip_prefix("s3://"))
        .and_then(|o| o.split_once('/'))
    {
        out.push(Deletion::DeleteObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        });
    }
    Ok(out)
}

/// Deletes the stage.
///
/// # Errors
/// When AWS cannot be read or a deletion fails (re-running resumes), or confirmation is
/// needed and stdin is not a terminal.
pub fn run(args: Args) -> Result<(), CliError> {
    let mut target = StageTarget::find(&args.app_stage.app, &args.app_stage.stage)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(delete(&args, &mut target))
}

async fn delete(args: &Args, target: &mut StageTarget) -> Result<(), CliError> {
    let aws = Aws::connect(&args.aws.options(target.region())).await;
    let region = aws.region().to_owned();
    let steps = find(&aws, target).await?;
    let what = format!(
        "app {} stage {} in {region}",
        target.names.app, target.names.stage
    );
    if steps.is_empty() {
        if target.record.is_some() && !args.dry_run {
            std::fs::remove_file(&target.record_path)
                .map_err(|e| format!("{}: {e}", target.record_path.display()))?;
        }
        println!("done   nothing to delete for {what}");
        return Ok(());
    }
    println!("plan   {} deletions for {what}", steps.len());
    for step in &steps {
        println!("       {}", step.describe());
    }
    if args.dry_run {
        return Ok(());
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(format!(
                "not deleting {what} without confirmation; run `portico delete --stage {} --yes`",
                target.names.stage
            )
            .into());
        }
        print!("delete these {} resources? [y/N] ", steps.len());
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err("nothing deleted".into());
        }
    }
    let total = steps.len();
    let width = total.to_string().len();
    for (index, step) in steps.iter().enumerate() {
        step.apply(&aws).await.map_err(|e| {
            format!(
                "{e}; {index} of {total} deletions done — run `portico delete --stage {}` again to resume",
                target.names.stage
            )
        })?;
        if let Some(record) = &mut target.record {
            step.forget(record);
            record.save(&target.record_path)?;
        }
        println!("[{:>width$}/{total}] {}", index + 1, step.describe());
    }
    if target.record.is_some() {
        std::fs::remove_file(&target.record_path)
            .map_err(|e| format!("{}: {e}", target.record_path.display()))?;
    }
    let stats = aws.stats();
    println!(
        "done   deleted {what}: {total} deletions, {} AWS calls",
        stats.total
    );
    Ok(())
}
