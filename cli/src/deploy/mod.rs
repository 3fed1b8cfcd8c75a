//! `portico deploy`: build → plan → apply.
//!
//! 1. **build** (local only): the release binary, checked and zipped ([`crate::artifact`]),
//!    and its manifest (routes, schedules, entry points).
//! 2. **plan** (reads AWS only): [`desired::Desired`] from `portico.toml` and the manifest,
//!    [`remote::Remote`] from AWS, [`plan::plan`] → a `Vec` of [`plan::Instruction`]s.
//!    `--dry-run` prints it (text, or `--output json`) and stops.
//! 3. **apply** (the only step that changes anything): [`apply::Executor`] runs the
//!    instructions in order and writes the [`record::Record`] after each one, so an
//!    interrupted deploy re-runs to the same end state.
//!
//! `[[secrets]]` are resolved between reading and planning ([`secrets`]): kept from the
//! deployed functions, or generated.
//!
//! Then one smoke request to the API ([`smoke`]), and a summary with the URL.
//!
//! `portico delete` (`delete.rs`) is the same read → plan → apply against
//! [`desired::Desired::empty`], read by [`remote::Remote::sweep`].

pub mod apply;
pub mod desired;
pub mod plan;
pub mod record;
pub mod remote;
pub mod secrets;
pub mod smoke;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::artifact::{self, Arch, BuildOptions};
use crate::aws::{Aws, AwsArgs, CallStats};
use crate::project::{self, Project};
use crate::{AppDir, AppStage, CliError};

use apply::{Executor, Progress};
use desired::{Desired, Inputs, Location};
use record::Record;
use remote::Remote;
use smoke::Smoke;

/// The environment variable that sends the code through S3 whatever its size (a testing
/// hook: the S3 path is otherwise taken only by zips over 50 MiB).
pub const UPLOAD_VIA_S3_VAR: &str = "PORTICO_UPLOAD_VIA_S3";

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Step lines and a summary, for people.
    Text,
    /// One JSON object at the end, for scripts.
    Json,
}

/// Arguments of `portico deploy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    app_stage: AppStage,
    /// Print the plan and stop: nothing is changed.
    #[arg(long)]
    dry_run: bool,
    /// `text` for people, `json` for scripts (the plan and the result).
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
    #[command(flatten)]
    aws: AwsArgs,
    /// Skip the request to the API after deploying.
    #[arg(long)]
    no_smoke: bool,
    /// Deploy this prebuilt Linux binary instead of building (it is checked and zipped the
    /// same way).
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// Compile for this target triple instead of choosing one.
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// Generate a new value for this `[[secrets]]` entry instead of keeping the deployed one
    /// (repeatable).
    #[arg(long, value_name = "NAME")]
    rotate_secret: Vec<String>,
}

/// Step lines for people: on a terminal, a line that completes in place; elsewhere, a line per
/// finished step. Nothing in JSON mode.
struct Lines {
    enabled: bool,
    tty: bool,
    open: bool,
}

impl Lines {
    fn new(format: OutputFormat) -> Self {
        Self {
            enabled: format == OutputFormat::Text,
            tty: std::io::stdout().is_terminal(),
            open: false,
        }
    }

    fn say(&mut self, text: &str) {
        if self.enabled {
            self.close();
            println!("{text}");
        }
    }

    fn progress(&mut self, event: &Progress<'_>, desired: &Desired) {
        if !self.enabled {
            return;
        }
        let (index, total, step, done) = match event {
            Progress::Start { index, total, step } => (*index, *total, *step, false),
            Progress::Done { index, total, step } => (*index, *total, *step, true),
        };
        let width = total.to_string().len();
        let line = format!("[{:>width$}/{total}] {}", index + 1, step.describe(desired));
        let mut out = std::io::stdout().lock();
        if self.tty {
            if done {
                let _ = writeln!(out, "\r\x1b[2K{line}");
                self.open = false;
            } else {
                let _ = write!(out, "{line} …");
                self.open = true;
            }
            let _ = out.flush();
        } else if done {
            let _ = writeln!(out, "{line}");
        }
    }

    /// Ends a line left open by a step that did not finish.
    fn close(&mut self) {
        if self.open {
            println!();
            self.open = false;
        }
    }
}

/// What the build phase made for a stage: the checked zip and the app's manifest.
pub(crate) struct Built {
    /// The app.
    pub project: Project,
    /// The stage's config.
    pub stage: crate::config::Stage,
    /// The checked, zipped binary.
    pub artifact: artifact::Artifact,
    /// Routes, schedules and entry points.
    pub manifest: project::Manifest,
}

/// The build phase of `deploy` and `package`: finds the app and the stage, builds (or takes
/// `binary`), checks and zips the release binary, and reads the app's manifest. Local only.
///
/// # Errors
/// When the app, the stage or the build is wrong, or a check fails.
/// Declared resources (`[[tables]]`, `[[buckets]]`, `[[queues]]`, `[[topics]]`) are served by
/// `portico local` before deploy creates them: refused here rather than deployed without them
/// (the functions would miss their variables and permissions).
fn refuse_undeployable(config: &crate::config::Config) -> Result<(), CliError> {
    let declared: Vec<&str> = [
        (!config.tables.is_empty()).then_some("[[tables]]"),
        (!config.buckets.is_empty()).then_some("[[buckets]]"),
        (!config.queues.is_empty()).then_some("[[queues]]"),
        (!config.topics.is_empty()).then_some("[[topics]]"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if declared.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} declares {}: `portico local` serves declared resources, `portico deploy` and \
         `portico package` do not create them yet (docs/config.md, \"Resources\"); nothing was deployed",
        crate::config::FILE_NAME,
        declared.join(", ")
    )
    .into())
}

pub(crate) fn build(
    app: &AppDir,
    stage: &str,
    binary: Option<&PathBuf>,
    target: Option<&String>,
) -> Result<Built, CliError> {
    let project = if binary.is_some() {
        Project::discover_prebuilt(&app.dir)?
    } else {
        Project::discover(&app.dir)?
    };
    let stage = project.config.stage(stage)?.clone();
    refuse_undeployable(&project.config)?;
    let arch = Arch::from_config(&project.config);
    let artifact = artifact::build_artifact_with(
        &project,
        arch,
        &BuildOptions {
            target: target.cloned(),
            binary: binary.cloned(),
        },
    )?;
    // The manifest is the same whatever the target: a host build prints it when the Lambda
    // binary cannot run here (only then is Cargo asked about the package, with `--binary`).
    let manifest = if artifact.runs_here() {
        project::read_manifest(&artifact.binary_path)?
    } else if binary.is_some() {
        project::read_manifest(&Project::discover(&project.dir)?.build(false)?)?
    } else {
        project::read_manifest(&project.build(false)?)?
    };
    Ok(Built {
        project,
        stage,
        artifact,
        manifest,
    })
}

/// Deploys the app's stage.
pub fn run(args: Args) -> Result<(), CliError> {
    let started = Instant::now();
    let mut lines = Lines::new(args.output);
    let Built {
        project,
        stage,
        artifact,
        manifest,
    } = build(
        &args.app_stage.app,
        &args.app_stage.stage,
        args.binary.as_ref(),
        args.target.as_ref(),
    )?;
    lines.say(&format!(
        "build  {} ({}, {}{})",
        artifact.zip_path.display(),
        artifact::human_size(artifact.zip_len()),
        artifact.architecture,
        if artifact.reused {
            "; same binary as last time, zip reused"
        } else {
            ""
        }
    ));
    for verdict in artifact.verdicts() {
        lines.say(&format!("check  {verdict}"));
    }
    let built = started.elapsed();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(deploy(
        &args,
        &project,
        &stage,
        &artifact,
        &manifest,
        &mut lines,
        (started, built),
    ));
    lines.close();
    result
}

#[allow(clippy::too_many_arguments, reason = "the phases of one command")]
async fn deploy(
    args: &Args,
    project: &Project,
    stage: &crate::config::Stage,
    artifact: &artifact::Artifact,
    manifest: &project::Manifest,
    lines: &mut Lines,
    (started, built): (Instant, Duration),
) -> Result<(), CliError> {
    let planning = Instant::now();
    let aws = Aws::connect(&args.aws.options(stage.region.clone())).await;
    let account = aws.account_id().await?;
    let region = aws.region().to_owned();
    let app = project.config.app.name.get_ref().clone();
    let via_s3 =
        artifact::needs_s3_upload(artifact) || std::env::var_os(UPLOAD_VIA_S3_VAR).is_some();
    let code_s3 = via_s3.then(|| {
        (
            format!("portico-code-{account}-{region}"),
            format!("{app}/{}/{}.zip", args.app_stage.stage, artifact.sha256_hex),
        )
    });
    let mut desired = Desired::new(
        &project.config,
        manifest,
        &Inputs {
            stage: &args.app_stage.stage,
            location: Location::new(&region, &account),
            code_sha256: artifact.sha256_base64.clone(),
            code_s3,
            architecture: artifact.architecture.lambda_name(),
            config_dir: &project.dir,
        },
    )?;
    let record_path = Record::path(&project.dir, &args.app_stage.stage);
    // A record of another account, region or endpoint describes another deployment.
    let record = Record::load(&record_path)?.filter(|r| {
        r.account == account
            && r.region == region
            && r.endpoint_url.as_deref() == aws.endpoint_url()
    });
    let remote = Remote::read(&aws, &desired, record.as_ref()).await?;
    if !remote.clashes.is_empty() {
        return Err(remote::clash_message(&desired.app, &desired.stage, &remote.clashes).into());
    }
    for warning in remote
        .warnings
        .iter()
        .chain(&unused_resources(&desired, &project.config))
    {
        lines.say(&format!("warn   {warning}"));
    }
    let resolved = secrets::resolve(
        &desired,
        &remote,
        &args.rotate_secret,
        portico_local::secrets::generate_value,
    )?;
    desired.set_secret_values(&resolved.values);
    for (name, origin) in &resolved.origins {
        let what = match origin {
            secrets::Origin::Kept => continue,
            secrets::Origin::Generated => {
                "generated (no deployed function has a value of its format)"
            }
            secrets::Origin::Rotated => "generated anew (--rotate-secret)",
            secrets::Origin::Overridden => "not used: every function's env sets the variable",
        };
        lines.say(&format!("secret {name}: {what}"));
    }
    let steps = plan::plan(&desired, &remote);
    let read_calls = aws.stats().total;
    let planned = planning.elapsed();
    // `--output json`: what a dry run and a deploy both report, then `more`.
    let json_report = |more: Value| {
        let mut out = json!({
            "app": app,
            "stage": args.app_stage.stage,
            "region": region,
            "dry_run": args.dry_run,
            "plan": plan_json(&steps, &desired),
            "secrets": resolved.origins,
        });
        if let (Value::Object(out), Value::Object(more)) = (&mut out, more) {
            out.extend(more);
        }
        out
    };

    if args.dry_run {
        match args.output {
            OutputFormat::Text => {
                lines.say(&format!(
                    "plan   {} for {app} stage {} in {region} ({read_calls} AWS calls, none changed anything)",
                    plural(steps.len(), "step"),
                    args.app_stage.stage
                ));
                print!("{}", plan::render_text(&steps, &desired));
            }
            OutputFormat::Json => {
                let out = json_report(json!({ "calls": aws.stats() }));
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
        }
        return Ok(());
    }

    lines.say(&format!(
        "plan   {} ({read_calls} AWS calls to read the stage)",
        plural(steps.len(), "step")
    ));
    let applying = Instant::now();
    let mut executor = Executor::new(&aws, &desired, &remote, &artifact.zip_bytes, &record_path);
    executor
        .run(&steps, &mut |event| lines.progress(&event, &desired))
        .await?;
    let applied = applying.elapsed();
    let record = executor.record().clone();
    let url = record
        .api
        .as_ref()
        .map(|a| a.url.clone())
        .unwrap_or_default();
    let smoke = if args.no_smoke {
        Smoke::Skipped {
            reason: "--no-smoke".to_owned(),
        }
    } else if let Some(endpoint) = aws.endpoint_url() {
        Smoke::Skipped {
            reason: format!(
                "the API is served by a custom endpoint ({endpoint}); emulators such as moto do not run Lambda code"
            ),
        }
    } else {
        smoke::check(&url, &args.app_stage.stage).await
    };
    let stats = aws.stats();
    let elapsed = started.elapsed();
    match args.output {
        OutputFormat::Text => {
            lines.say(&summary(
                &app,
                &args.app_stage.stage,
                steps.len(),
                &stats,
                elapsed,
            ));
            lines.say(&match &smoke {
                Smoke::Ok { status } => format!("smoke  GET / answered {status}"),
                Smoke::Problem {
                    status: Some(s),
                    explanation,
                } => {
                    format!("smoke  warning: GET / answered {s}: {explanation}")
                }
                Smoke::Problem {
                    status: None,
                    explanation,
                } => format!("smoke  warning: {explanation}"),
                Smoke::Skipped { reason } => format!("smoke  skipped: {reason}"),
            });
            if let (Some(endpoint), Some(api)) = (aws.endpoint_url(), &record.api) {
                lines.say(&format!(
                    "note   {endpoint} serves it for requests with `Host: {}.execute-api.{region}.amazonaws.com`",
                    api.id
                ));
            }
            lines.say(&url);
        }
        OutputFormat::Json => {
            let out = json_report(json!({
                "url": url,
                "record": record_path,
                "calls": stats,
                "zip": {"code_sha256": artifact.sha256_base64, "reused": artifact.reused},
                "wall_ms": ms(elapsed),
                "phases_ms": {"build": ms(built), "plan": ms(planned), "apply": ms(applied)},
                "smoke": smoke,
            }));
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(())
}

/// Declared Step Functions resources or e-mail identities that no function's role may use:
/// most likely an app from before per-function roles, whose functions need `permissions`.
fn unused_resources(desired: &Desired, config: &crate::config::Config) -> Vec<String> {
    let granted = |policy: &str| {
        desired
            .functions
            .iter()
            .any(|f| f.role.policies.contains_key(policy))
    };
    let mut out = Vec::new();
    if (!desired.activities.is_empty() || !desired.state_machines.is_empty())
        && !granted("step-functions")
    {
        out.push("the app declares Step Functions resources, but no function's role may use them; list the actions each function needs in `permissions` under [functions.<entry point>] (docs/config.md)".to_owned());
    }
    if !config.email_identities.is_empty() && !granted("ses") {
        out.push("the app declares e-mail identities, but no function's role may send from them; add `ses:SendEmail` to the `permissions` of the functions that send mail (docs/config.md)".to_owned());
    }
    out
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn summary(app: &str, stage: &str, steps: usize, stats: &CallStats, elapsed: Duration) -> String {
    let what = if steps == 0 {
        "nothing changed".to_owned()
    } else {
        plural(steps, "step")
    };
    format!(
        "done   {app} stage {stage}: {what} in {:.1} s, {} AWS calls ({} changing something)",
        elapsed.as_secs_f64(),
        stats.total,
        stats.mutating.len()
    )
}

/// The plan for scripts: each instruction with its description.
fn plan_json(steps: &[plan::Instruction], desired: &Desired) -> Vec<Value> {
    steps
        .iter()
        .map(|step| {
            let mut value = serde_json::to_value(step).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("description".into(), Value::String(step.describe(desired)));
            }
            value
        })
        .collect()
}
