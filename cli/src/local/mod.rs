//! `portico local`: the local cloud ([`portico_local`]) for the app in `--app`, built (or
//! `--binary`), with a banner saying where everything is, and `--watch` rebuilding on source
//! changes ([`watch`]).

pub mod watch;

use std::net::IpAddr;
use std::path::PathBuf;

use portico_local::logs::Style;
use portico_local::{LocalCloud, Options, Running, ses, sfn, usage};
use portico_spec::config::ResourceKind;

use crate::project::{self, Manifest, Project};
use crate::{AppDir, CliError};

pub use portico_local::Endpoint;

/// Arguments of `portico local`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub app: AppDir,
    /// The stage whose settings (env, memory, timeouts) the functions get.
    #[arg(long, default_value = "dev")]
    pub stage: String,
    /// Address to listen on; only loopback unless you mean it.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// API Gateway port (`0` picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Also answer API requests whose `Host` names this (repeatable). Loopback names
    /// (`localhost`, `127.0.0.1`, `[::1]`) and the listening address are always accepted; any
    /// other `Host` gets 403, as API Gateway answers a host it does not serve.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// AWS services port (Lambda Invoke, Step Functions, SES v2 and the outbox; `0` picks a free
    /// one). Default: port + 1.
    #[arg(long)]
    pub services_port: Option<u16>,
    /// Serve paths without the stage prefix, like a custom domain (default: `/{stage}/...`
    /// like an execute-api invoke URL).
    #[arg(long)]
    pub no_stage_prefix: bool,
    /// Do not fire `#[schedule]` handlers.
    #[arg(long)]
    pub no_schedules: bool,
    /// Rebuild on source changes and swap the function processes.
    #[arg(long)]
    pub watch: bool,
    /// Processes per HTTP function (concurrent requests).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Use a release build.
    #[arg(long)]
    pub release: bool,
    /// Use this binary instead of building (it must be a Portico app).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
}

/// Runs the local cloud until Ctrl-C.
pub fn run(args: Args) -> Result<(), CliError> {
    // One thread runs the gateway, the Runtime API host and the services: every request
    // crosses from the client's connection to a function's and back, and on one thread those
    // hand-overs are plain task wake-ups instead of cross-thread ones (measured: 13 % less
    // CPU per request than two workers; docs/benchmarks.md). Function processes and the log
    // writer run beside it, so the local cloud still uses every core under load.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(args))
}

/// The project, the binary (built unless `--binary`) and its manifest.
struct Plan {
    project: Project,
    binary: PathBuf,
    manifest: Manifest,
}

fn plan(args: &Args) -> Result<Plan, CliError> {
    // A prebuilt binary needs no Cargo package: a directory with a portico.toml will do.
    let project = if args.binary.is_some() {
        Project::discover_prebuilt(&args.app.dir)?
    } else {
        Project::discover(&args.app.dir)?
    };
    project.config.stage(&args.stage)?;
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => project.build(args.release)?,
    };
    let manifest = project::read_manifest(&binary)?;
    Ok(Plan {
        project,
        binary,
        manifest,
    })
}

async fn serve(args: Args) -> Result<(), CliError> {
    let plan = plan(&args)?;
    let running = LocalCloud::start(Options {
        config: plan.project.config.clone(),
        config_dir: plan.project.dir.clone(),
        local_dir: plan.project.local_dir(),
        manifest: plan.manifest.clone(),
        binary: plan.binary.clone(),
        stage: args.stage.clone(),
        host: args.host,
        port: args.port,
        services_port: args.services_port,
        allow_hosts: args.allow_host.clone(),
        stage_prefix: !args.no_stage_prefix,
        schedules: !args.no_schedules,
        concurrency: args.concurrency,
        style: Style::detect(),
    })
    .await?;
    let watch_task = args.watch.then(|| {
        tokio::spawn(watch::run_with(
            plan.project.clone(),
            plan.binary.clone(),
            args.clone(),
            std::sync::Arc::clone(&running.host),
            running.logs.clone(),
            watch::Followers {
                schedules: running.schedule_updates.clone(),
            },
            running.shutdown_signal(),
        ))
    });

    print_banner(&plan, &running, &args);

    let lost = tokio::select! {
        () = wait_for_stop() => None,
        lost = running.state_file_lost() => Some(lost),
    };
    if let Some(lost) = &lost {
        eprintln!("error: {lost}");
    }
    eprintln!("stopping: finishing requests in flight, then ending every function process");
    running.stop(watch_task.into_iter().collect()).await;
    match lost {
        Some(lost) => Err(lost.into()),
        None => Ok(()),
    }
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_banner(plan: &Plan, running: &Running, args: &Args) {
    let api_url = &running.endpoint.api_url;
    let services_url = &running.endpoint.services_url;
    let mut out = String::new();
    out.push_str(&format!(
        "portico local: {} (stage {}) from {}\n",
        plan.project.config.app.name.get_ref(),
        args.stage,
        plan.binary.display()
    ));
    for route in &plan.manifest.routes {
        let key = if route.options.api_key_required {
            "  [API key]"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {:<7} {api_url}{}{key}\n",
            route.method, route.path
        ));
    }
    for schedule in &plan.manifest.schedules {
        let state = if args.no_schedules { " (off)" } else { "" };
        out.push_str(&format!(
            "  schedule {} {}{state}\n",
            schedule.name, schedule.expression
        ));
    }
    if running.keys.iter().next().is_some() {
        let names: Vec<&str> = running.keys.iter().map(|(name, _)| name).collect();
        out.push_str(&format!(
            "  API keys ({}): values in {}\n",
            names.join(", "),
            usage::ApiKeys::file(&plan.project.local_dir()).display()
        ));
    }
    let sfn::Created {
        activities,
        state_machines,
    } = &running.step_functions;
    for (name, arn) in activities {
        out.push_str(&format!("  activity {name} {arn}\n"));
    }
    for (name, arn) in state_machines {
        out.push_str(&format!("  state machine {name} {arn}\n"));
    }
    for resource in running.resources.iter().filter(|r| !r.external) {
        let kind = resource.kind;
        let served = match kind {
            ResourceKind::Queue => Some(&resource.value),
            ResourceKind::Table | ResourceKind::Bucket => Some(&resource.physical),
            ResourceKind::Topic => None,
        };
        if let Some(served) = served {
            out.push_str(&format!("  {} {} {served}\n", kind.as_str(), resource.name));
        }
    }
    if let Some(Err(why)) = &running.emulator {
        out.push_str(&format!(
            "warning: {why}\n  DynamoDB and S3 requests get 503 until then; the rest of the app runs\n"
        ));
    }
    out.push_str(&format!(
        "AWS services (Lambda, Step Functions, SES v2, SQS, DynamoDB, S3): {services_url}\n"
    ));
    out.push_str(&format!(
        "Outbox (SES): {}\n",
        ses::Ses::outbox_url(services_url)
    ));
    out.push_str(&format!("API: {api_url}\n"));
    // Names and where the values are; never a value.
    if !running.secret_names.is_empty() {
        out.push_str(&format!(
            "Secrets ({}): generated, values in {}\n",
            running.secret_names.join(", "),
            portico_local::secrets::Secrets::file(&plan.project.local_dir()).display()
        ));
    }
    if running.dummy_credentials {
        out.push_str(
            "AWS credentials: none in the environment or ~/.aws; the functions get dummy ones \
             for the local services (AWS_ACCESS_KEY_ID=local)\n",
        );
    }
    print!("{out}");
}
