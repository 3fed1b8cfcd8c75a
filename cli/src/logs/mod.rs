//! `portico logs`: the logs of a stage's functions, from CloudWatch Logs or (`--local`) from
//! the local cloud's store, interleaved in time order, in one format for both.
//!
//! The log groups come from the deployment record (`.portico/deployed/<stage>.json`), else
//! from CloudWatch: the groups named `/aws/lambda/<app>-<stage>-*`, and the custom
//! `log_group`s portico.toml names, that carry the app's `portico:app` / `portico:stage` tags.
//! Reference: `docs/logs.md`.

mod follow;
mod pattern;
mod render;
mod source;
mod time;

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};

use crate::aws::{Aws, AwsArgs};
use crate::config::Config;
use crate::deploy::desired::Names;
use crate::project::Project;
use crate::url::StageTarget;
use crate::{AppStage, CliError};

pub use follow::{FollowLimits, Printer, follow, print_window};
pub use render::{Format, Renderer};
pub use source::{AwsSource, Clock, Group, LocalSource, Query, Source, SystemClock};

/// Arguments of `portico logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    app_stage: AppStage,
    /// Only this function (`api`, a schedule, or the full function name); repeatable.
    #[arg(short = 'n', long = "function", value_name = "FUNCTION")]
    functions: Vec<String>,
    /// Keep printing new events as they arrive, until Ctrl-C.
    #[arg(short, long)]
    follow: bool,
    /// From this time: a duration ago (`30s`, `10m`, `2h`, `1d`) or an ISO-8601 time;
    /// default 10m (1d with --request-id).
    #[arg(short, long, value_name = "TIME")]
    since: Option<String>,
    /// Up to this time (same forms as --since); default: now.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// A CloudWatch filter pattern (`ERROR`, `"exact phrase"`, `{ $.level = "ERROR" }`).
    #[arg(long, value_name = "PATTERN")]
    filter: Option<String>,
    /// Every line of one invocation.
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
    /// Show Lambda's own lines (START, END, REPORT, …), hidden by default.
    #[arg(long)]
    include_lambda_messages: bool,
    /// `text` (one line per event) or `json` (one object per line, for scripts).
    #[arg(long, value_enum, default_value = "text")]
    output: Format,
    /// No colours (also when stdout is not a terminal, or NO_COLOR is set).
    #[arg(long)]
    no_color: bool,
    /// Read the logs `portico local` kept (`.portico/local/state.db`) instead of CloudWatch.
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

/// The default window, without --since.
const DEFAULT_SINCE: &str = "10m";
/// The default window with --request-id.
const DEFAULT_SINCE_REQUEST: &str = "1d";
/// Following waits at least this long between polls per log group.
const POLL_PER_GROUP: std::time::Duration = std::time::Duration::from_millis(400);

/// The checked options of one run.
struct Plan {
    query_start: i64,
    query_end: Option<i64>,
    filter: Option<String>,
    request_id: Option<String>,
}

fn check(args: &Args, now_ms: i64) -> Result<Plan, CliError> {
    if args.follow && args.until.is_some() {
        return Err("--follow and --until do not go together: following has no end".into());
    }
    if args.follow && args.request_id.is_some() {
        return Err(
            "--follow and --request-id do not go together: drop --follow to see the invocation"
                .into(),
        );
    }
    if args.local
        && (args.aws.profile.is_some()
            || args.aws.region.is_some()
            || args.aws.endpoint_url.is_some())
    {
        return Err(
            "--local reads the local cloud's logs: --profile, --region and --endpoint-url do not apply"
                .into(),
        );
    }
    let non_empty = |flag: &str, v: &Option<String>| match v.as_deref().map(str::trim) {
        Some("") => Err::<_, CliError>(format!("{flag} is empty").into()),
        Some(v) => Ok(Some(v.to_owned())),
        None => Ok(None),
    };
    let filter = non_empty("--filter", &args.filter)?;
    let request_id = non_empty("--request-id", &args.request_id)?;
    let default_since = if request_id.is_some() {
        DEFAULT_SINCE_REQUEST
    } else {
        DEFAULT_SINCE
    };
    let since = args.since.as_deref().unwrap_or(default_since);
    let query_start = time::parse_time(since, now_ms)
        .map_err(|e| format!("--since: {e}"))?
        .max(0);
    let query_end = args
        .until
        .as_deref()
        .map(|u| time::parse_time(u, now_ms).map_err(|e| format!("--until: {e}")))
        .transpose()?;
    if let Some(end) = query_end
        && end < query_start
    {
        return Err(format!(
            "--until ({}) is before --since ({})",
            portico_local::clock::rfc3339_millis(end),
            portico_local::clock::rfc3339_millis(query_start)
        )
        .into());
    }
    Ok(Plan {
        query_start,
        query_end,
        filter,
        request_id,
    })
}

/// The groups `wanted` names (entry points or full function names), all when empty.
fn select(groups: Vec<Group>, wanted: &[String], names: &Names) -> Result<Vec<Group>, CliError> {
    if wanted.is_empty() {
        return Ok(groups);
    }
    let mut selected = Vec::new();
    for want in wanted {
        let Some(group) = groups
            .iter()
            .find(|g| &g.function == want || &names.function(&g.function) == want)
        else {
            let known: Vec<&str> = groups.iter().map(|g| g.function.as_str()).collect();
            return Err(format!(
                "no function `{want}` in app `{}` stage `{}`; its functions: {}",
                names.app,
                names.stage,
                known.join(", ")
            )
            .into());
        };
        if !selected.contains(group) {
            selected.push(group.clone());
        }
    }
    Ok(selected)
}

/// The stage's log groups: from the record, else by name and tags.
async fn aws_groups(target: &StageTarget, aws: &Aws) -> Result<Vec<Group>, CliError> {
    if let Some(record) = &target.record {
        if record.functions.is_empty() {
            return Err(target
                .not_deployed(&format!(
                    "the record at {} lists no function",
                    target.record_path.display()
                ))
                .into());
        }
        return Ok(unique(
            record
                .functions
                .iter()
                .map(|(entry, f)| Group {
                    function: entry.clone(),
                    name: f.log_group(),
                })
                .collect(),
        ));
    }
    let prefix = format!("/aws/lambda/{}-", target.names.prefix());
    // Custom log groups are named in portico.toml; they count when they carry the tags.
    let mut custom = Vec::new();
    for (entry, group) in custom_log_groups(&target.config, &target.names.stage) {
        if let Some(g) = aws.get_log_group(&group).await?
            && target.owns(&g.tags)
        {
            custom.push(Group {
                function: entry,
                name: g.name,
            });
        }
    }
    let mut groups: Vec<Group> = aws
        .list_log_groups(&prefix)
        .await?
        .into_iter()
        .filter(|g| target.owns(&g.tags))
        .filter_map(|g| {
            let entry = g.name.strip_prefix(&prefix)?.to_owned();
            Some(Group {
                function: entry,
                name: g.name,
            })
        })
        .filter(|g| !custom.iter().any(|c| c.function == g.function))
        .collect();
    groups.extend(custom);
    if groups.is_empty() {
        return Err(target
            .not_deployed(&format!(
                "no record at {} and no log group {prefix}* with its tags in {}",
                target.record_path.display(),
                aws.region()
            ))
            .into());
    }
    // `api` first, then the schedules by name, as deploy orders them.
    groups.sort_by(|a, b| {
        (a.function != "api", &a.function).cmp(&(b.function != "api", &b.function))
    });
    Ok(unique(groups))
}

/// The functions of `stage` whose config names a custom log group: entry → group.
fn custom_log_groups(config: &Config, stage: &str) -> Vec<(String, String)> {
    config
        .function_entries(stage)
        .into_iter()
        .filter_map(|entry| {
            let group = config.function(stage, entry).log_group?;
            Some((entry.to_owned(), group))
        })
        .collect()
}

/// `groups` without repeats of a group name (functions may share one): each is read once.
fn unique(groups: Vec<Group>) -> Vec<Group> {
    let mut seen = BTreeSet::new();
    groups
        .into_iter()
        .filter(|g| seen.insert(g.name.clone()))
        .collect()
}

/// The renderer for stdout.
fn renderer(args: &Args) -> Renderer {
    let terminal = std::io::stdout().is_terminal();
    Renderer {
        format: args.output,
        color: !args.no_color && args.output == Format::Text && crate::color::stdout_has_color(),
        sanitize: terminal,
        include_platform: args.include_lambda_messages,
    }
}

/// Prints the logs.
///
/// # Errors
/// Bad options, an unknown function, a stage never deployed (or `portico local` never run),
/// or a failing AWS call.
pub fn run(args: Args) -> Result<(), CliError> {
    let clock = SystemClock;
    let plan = check(&args, clock.now_ms())?;
    let query = Query {
        start_ms: plan.query_start,
        end_ms: plan.query_end,
        pattern: plan.filter.as_deref(),
        request_id: plan.request_id.as_deref(),
    };
    let stdout = std::io::stdout();
    let mut printer = Printer::new(renderer(&args), std::io::BufWriter::new(stdout.lock()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        if args.local {
            let project = Project::discover_prebuilt(&args.app_stage.app.dir)?;
            project.config.stage(&args.app_stage.stage)?;
            let names = Names {
                app: project.config.app.name.get_ref().clone(),
                stage: args.app_stage.stage.clone(),
            };
            let mut source = LocalSource::open(&LocalSource::path(&project.dir), query.pattern)?;
            let all = source
                .functions()?
                .into_iter()
                .map(|f| Group {
                    name: names.log_group(&f),
                    function: f,
                })
                .collect();
            source.groups = select(all, &args.functions, &names)?;
            let limits = args.follow.then_some(FollowLimits::DEFAULT);
            drive(&source, &clock, &query, limits, &mut printer).await
        } else {
            let target = StageTarget::find(&args.app_stage.app, &args.app_stage.stage)?;
            // The stage's region, else the one it was deployed to.
            let region = target
                .region()
                .or_else(|| target.record.as_ref().map(|r| r.region.clone()));
            let aws = Aws::connect(&args.aws.options(region)).await;
            let groups = select(
                aws_groups(&target, &aws).await?,
                &args.functions,
                &target.names,
            )?;
            // Each poll makes a call per group; FilterLogEvents' default quota is 5 per second
            // per account and region, shared with everything else reading logs.
            let limits = FollowLimits {
                poll_every: FollowLimits::DEFAULT
                    .poll_every
                    .max(POLL_PER_GROUP * u32::try_from(groups.len()).unwrap_or(u32::MAX)),
                ..FollowLimits::DEFAULT
            };
            let source = AwsSource {
                aws: &aws,
                groups,
                clock: &clock,
                page_limit: None,
            };
            drive(
                &source,
                &clock,
                &query,
                args.follow.then_some(limits),
                &mut printer,
            )
            .await
        }
    });
    printer.flush();
    result?;
    match printer.error {
        Some(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to stdout: {err}").into())
        }
        _ => Ok(()),
    }
}

/// A window, or (with limits) following until Ctrl-C.
async fn drive<S: Source, C: Clock, W: Write>(
    source: &S,
    clock: &C,
    query: &Query<'_>,
    follow_limits: Option<FollowLimits>,
    printer: &mut Printer<W>,
) -> Result<(), CliError> {
    let Some(limits) = follow_limits else {
        return print_window(source, query, printer).await;
    };
    tokio::select! {
        result = follow(source, clock, query, printer, limits) => result.map(|_| ()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

#[cfg(test)]
mod tests;
