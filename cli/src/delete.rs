//! `portico delete [--stage dev] [--yes] [--dry-run]`: the deploy pipeline run against an
//! empty desired state.
//!
//! 1. **read** (read calls only): [`Remote::sweep`] finds what the stage has — by the names
//!    `<app>-<stage>-…` **and** the stage's `portico:app` / `portico:stage` tags, by the
//!    record, and by the config's custom log groups (when tagged) — so a lost record still
//!    finds everything, and nothing without the stage's name and tags or a place in the
//!    record is touched.
//! 2. **plan**: [`plan::plan`] of [`Desired::empty`] against it: only deletions, in the
//!    planner's dependency order (usage plans → API keys → REST API → rules → functions →
//!    log groups → state machines → activities → role policies → roles → the S3 code object).
//!    `--dry-run` prints it and stops.
//! 3. **apply**: the deploy [`Executor`] runs the steps ("not found" counts as done), writing
//!    the record after each; the record is removed at the end. An interrupted delete re-reads
//!    what is left and plans only that, so running it again finishes the job.
//!
//! Kept: what the stage did not create, the `portico-code-…` bucket (stages share it), and
//! a custom log group without the stage's tags.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};

use crate::aws::{Aws, AwsArgs};
use crate::deploy::apply::{Executor, Progress};
use crate::deploy::desired::{Desired, Location};
use crate::deploy::plan;
use crate::deploy::remote::Remote;
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

/// Deletes the stage.
///
/// # Errors
/// When AWS cannot be read or a deletion fails (re-running resumes), or confirmation is
/// needed and stdin is not a terminal.
pub fn run(args: Args) -> Result<(), CliError> {
    let target = StageTarget::find(&args.app_stage.app, &args.app_stage.stage)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(delete(&args, &target))
}

/// The custom `log_group`s the config gives the stage's functions.
fn configured_log_groups(target: &StageTarget) -> BTreeSet<String> {
    let stage = &target.names.stage;
    target
        .config
        .function_entries(stage)
        .into_iter()
        .filter_map(|entry| target.config.function(stage, entry).log_group)
        .collect()
}

async fn delete(args: &Args, target: &StageTarget) -> Result<(), CliError> {
    let aws = Aws::connect(&args.aws.options(target.region())).await;
    let account = aws.account_id().await?;
    let region = aws.region().to_owned();
    let desired = Desired::empty(
        &target.config,
        &target.names.stage,
        Location::new(&region, &account),
    );
    // A record of another account, region or endpoint describes another deployment.
    let record = target.record.clone().filter(|r| {
        r.account == account
            && r.region == region
            && r.endpoint_url.as_deref() == aws.endpoint_url()
    });
    let remote = Remote::sweep(
        &aws,
        &desired,
        record.as_ref(),
        &configured_log_groups(target),
    )
    .await?;
    let steps = plan::plan(&desired, &remote);
    let what = format!(
        "app {} stage {} in {region}",
        target.names.app, target.names.stage
    );
    let remove_record = || -> Result<(), CliError> {
        if record.is_some() {
            std::fs::remove_file(&target.record_path)
                .map_err(|e| format!("{}: {e}", target.record_path.display()))?;
        }
        Ok(())
    };
    if steps.is_empty() {
        if !args.dry_run {
            remove_record()?;
        }
        println!("done   nothing to delete for {what}");
        return Ok(());
    }
    println!(
        "plan   {} deletions for {what} ({} AWS calls to read the stage)",
        steps.len(),
        aws.stats().total
    );
    for step in &steps {
        println!("       {}", step.describe(&desired));
    }
    if args.dry_run {
        let stats = aws.stats();
        println!(
            "dry run: nothing deleted ({} AWS calls, {} changing something)",
            stats.total,
            stats.mutating.len()
        );
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
    let mut executor =
        Executor::new(&aws, &desired, &remote, &[], &target.record_path).for_command("delete");
    executor
        .run(&steps, &mut |event| {
            if let Progress::Done { index, step, .. } = event {
                println!(
                    "[{:>width$}/{total}] {}",
                    index + 1,
                    step.describe(&desired)
                );
            }
        })
        .await?;
    std::fs::remove_file(&target.record_path)
        .map_err(|e| format!("{}: {e}", target.record_path.display()))?;
    println!(
        "done   deleted {what}: {total} deletions, {} AWS calls",
        aws.stats().total
    );
    Ok(())
}
