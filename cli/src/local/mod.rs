//! `portico local`: the local cloud. The unmodified app binary runs under a local Lambda
//! Runtime API host ([`lambda`]), behind a local API Gateway REST emulator ([`gateway`]) that
//! enforces API keys and usage plans ([`usage`]); schedules fire ([`scheduler`]); function
//! logs are printed and kept ([`logs`]); a services endpoint ([`services`]) speaks AWS
//! protocols (Lambda Invoke, Step Functions: [`sfn`]). State that must survive a restart
//! lives in [`store`].

pub(crate) mod files;
pub mod gateway;
pub mod hosts;
pub mod lambda;
pub mod logs;
pub mod scheduler;
pub mod secrets;
pub(crate) mod server;
pub mod services;
pub mod ses;
pub mod sfn;
pub mod store;
pub mod usage;
pub mod watch;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::project::{self, Manifest, Project};
use crate::{AppDir, CliError};

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

/// What a running local cloud publishes for other commands (`portico invoke --local`,
/// `portico logs --local`): `.portico/local/endpoint.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    /// The gateway's base URL including the stage, e.g. `http://127.0.0.1:8000/dev`.
    pub api_url: String,
    /// The services endpoint, e.g. `http://127.0.0.1:8001`.
    pub services_url: String,
    /// The `portico local` process.
    pub pid: u32,
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

/// Everything the parts need, resolved from config, manifest and arguments.
pub(crate) struct Plan {
    pub project: Project,
    pub binary: PathBuf,
    pub manifest: Manifest,
    pub functions: Vec<lambda::FunctionSpec>,
    pub gateway: gateway::GatewayConfig,
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
    let functions = function_specs(&project, &manifest, &binary, args);
    let gateway = gateway::GatewayConfig::from_config(
        &project.config,
        &manifest,
        &args.stage,
        !args.no_stage_prefix,
    )?
    .with_allowed_hosts(hosts::AllowedHosts::new(&args.allow_host)?);
    Ok(Plan {
        project,
        binary,
        manifest,
        functions,
        gateway,
    })
}

pub(crate) fn function_specs(
    project: &Project,
    manifest: &Manifest,
    binary: &std::path::Path,
    args: &Args,
) -> Vec<lambda::FunctionSpec> {
    manifest
        .entry_points
        .iter()
        .map(|name| {
            let settings = project.config.function(&args.stage, name);
            let mut env: BTreeMap<String, String> = settings.env.clone();
            env.insert(manifest.entry_point_variable.clone(), name.clone());
            lambda::FunctionSpec {
                function_name: format!(
                    "{}-{}-{name}",
                    project.config.app.name.get_ref(),
                    args.stage
                ),
                name: name.clone(),
                binary: binary.to_owned(),
                env,
                memory_mb: settings.memory,
                timeout: Duration::from_secs(settings.timeout.into()),
                max_processes: if name == "api" {
                    args.concurrency.max(1)
                } else {
                    1
                },
            }
        })
        .collect()
}

async fn serve(args: Args) -> Result<(), CliError> {
    let mut plan = plan(&args)?;
    let local_dir = plan.project.local_dir();
    files::create_private_dir(&local_dir)?;
    let db_path = local_dir.join("state.db");
    let store = Arc::new(store::Store::open(&db_path)?);
    let db_file = store::file_id(&db_path);
    let logs = logs::LogSink::start(Arc::clone(&store), logs::Style::detect());

    // Ports first: a port in use must fail before any binary is copied or process started.
    let api_listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}:{}: {e} (use --port to pick another)",
                args.host, args.port
            )
        })?;
    let services_port = args.services_port.unwrap_or(if args.port == 0 {
        0
    } else {
        args.port.saturating_add(1)
    });
    let services_listener = tokio::net::TcpListener::bind(SocketAddr::new(
        args.host,
        services_port,
    ))
    .await
    .map_err(|e| {
        format!(
            "cannot listen on {}:{services_port}: {e} (use --services-port to pick another)",
            args.host
        )
    })?;
    let api_addr = api_listener.local_addr()?;
    let services_addr = services_listener.local_addr()?;

    let keys = usage::ApiKeys::resolve(&plan.project.config, &store, &local_dir)?;
    // `[[secrets]]` (a stage or function env var of the same name wins), and dummy AWS
    // credentials when the user has none, so the SDK does not fall back to the instance
    // metadata service.
    let secrets = secrets::Secrets::resolve(&plan.project.config, &local_dir)?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let dummy = secrets::dummy_credentials(|name| std::env::var(name).ok(), home.as_deref());
    for function in &mut plan.functions {
        secrets.apply(&mut function.env);
        for (name, value) in &dummy {
            function.env.insert((*name).to_owned(), value.clone());
        }
    }
    // The app's SDK clients reach the local services through the standard variables.
    let services_url = format!("http://{services_addr}");
    for function in &mut plan.functions {
        for variable in ["AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL_SESV2"] {
            function
                .env
                .insert(variable.to_owned(), services_url.clone());
        }
    }
    let host = lambda::LambdaHost::start(plan.functions.clone(), logs.clone()).await?;
    let function_prefix = format!("{}-{}-", plan.project.config.app.name.get_ref(), args.stage);
    let step_functions =
        match start_step_functions(&plan, &args, &store, &host, &logs, &function_prefix) {
            Ok(started) => started,
            Err(err) => {
                host.shutdown().await;
                return Err(err);
            }
        };
    let api_url = plan.gateway.base_url(api_addr);
    let endpoint = Endpoint {
        api_url: api_url.clone(),
        services_url,
        pid: std::process::id(),
    };
    let endpoint_file = local_dir.join("endpoint.json");
    std::fs::write(&endpoint_file, serde_json::to_vec_pretty(&endpoint)?)?;

    let shutdown = tokio_util_shutdown();
    let gateway = gateway::Gateway::new(
        plan.gateway.clone(),
        Arc::clone(&host),
        Arc::clone(&store),
        keys.clone(),
        logs.clone(),
    );
    let gateway_task = tokio::spawn(gateway::serve(
        api_listener,
        Arc::new(gateway),
        shutdown.subscribe(),
    ));
    let services = services::Services::new(Arc::clone(&host), function_prefix.clone())
        .with_allowed_hosts(plan.gateway.allowed_hosts().clone(), services_addr.ip())
        .with_step_functions(Arc::clone(&step_functions.0))
        .with_ses(Arc::new(ses::Ses::new(
            local_dir.join("outbox"),
            plan.project
                .config
                .email_identities
                .iter()
                .map(|i| i.identity().to_owned()),
            Some(logs.clone()),
            endpoint.services_url.clone(),
        )));
    let services_task = tokio::spawn(services::serve_with(
        services_listener,
        Arc::new(services),
        shutdown.subscribe(),
    ));
    // `--watch` passes a rebuilt app's schedules on to the scheduler.
    let (schedule_updates, schedules) =
        tokio::sync::watch::channel(plan.manifest.schedules.clone());
    let scheduler_task = (!args.no_schedules).then(|| {
        tokio::spawn(scheduler::run_updating(
            schedules,
            function_prefix.clone(),
            Arc::clone(&host),
            logs.clone(),
            shutdown.subscribe(),
        ))
    });
    let watch_task = args.watch.then(|| {
        tokio::spawn(watch::run_with(
            plan.project.clone(),
            plan.binary.clone(),
            args.clone(),
            Arc::clone(&host),
            logs.clone(),
            watch::Followers {
                schedules: (!args.no_schedules).then_some(schedule_updates),
            },
            shutdown.subscribe(),
        ))
    });

    print_banner(
        &plan,
        &api_url,
        &endpoint.services_url,
        &keys,
        &step_functions.1,
        &args,
    );
    // Names and where the values are; never a value.
    let names: Vec<&str> = secrets.names().collect();
    if !names.is_empty() {
        println!(
            "Secrets ({}): generated, values in {}",
            names.join(", "),
            secrets::Secrets::file(&local_dir).display()
        );
    }
    if !dummy.is_empty() {
        println!(
            "AWS credentials: none in the environment or ~/.aws; the functions get dummy ones \
             for the local services (AWS_ACCESS_KEY_ID=local)"
        );
    }

    let lost = tokio::select! {
        () = wait_for_stop() => None,
        lost = state_file_lost(&db_path, db_file) => Some(lost),
    };
    if let Some(lost) = &lost {
        eprintln!("error: {lost}");
    }
    eprintln!("stopping: finishing requests in flight, then ending every function process");
    let _ = shutdown.send(true);
    // The gateway and the services endpoint stop accepting and give requests in flight their
    // few seconds of drain while the functions still run; only then do the processes go
    // (stopping them first would turn every request in flight into a 502).
    let _ = tokio::time::timeout(Duration::from_secs(6), async {
        let _ = tokio::join!(gateway_task, services_task);
    })
    .await;
    host.shutdown().await;
    for task in [scheduler_task, watch_task].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    logs.flush().await;
    let _ = std::fs::remove_file(endpoint_file);
    match lost {
        Some(lost) => Err(lost.into()),
        None => Ok(()),
    }
}

/// Returns (with what to tell the user) once the state database file at `path` is no
/// longer the file opened at start (`opened`): deleted, or replaced by another. SQLite keeps
/// writing to the open, unlinked file, so everything from then on would vanish at exit.
async fn state_file_lost(path: &std::path::Path, opened: Option<store::FileId>) -> String {
    loop {
        tokio::time::sleep(STATE_FILE_CHECK).await;
        let now = store::file_id(path);
        if now != opened {
            let what = if now.is_none() {
                "was deleted"
            } else {
                "was replaced by another file"
            };
            return format!(
                "{} {what} while portico local was running; what happened since cannot be kept. \
                 Run `portico local` again to continue with {}",
                path.display(),
                if now.is_none() {
                    "a fresh, empty database"
                } else {
                    "the file now there"
                }
            );
        }
    }
}

/// How often `portico local` checks that its state database file is still there.
const STATE_FILE_CHECK: Duration = Duration::from_secs(1);

/// The Step Functions engine with `portico.toml`'s activities and state machines created, and
/// the executions a previous run left running resumed.
fn start_step_functions(
    plan: &Plan,
    args: &Args,
    store: &Arc<store::Store>,
    host: &Arc<lambda::LambdaHost>,
    logs: &logs::LogSink,
    function_prefix: &str,
) -> Result<(Arc<sfn::StepFunctions<lambda::LambdaHost>>, sfn::Created), CliError> {
    let engine = Arc::new(sfn::StepFunctions::new(
        Arc::clone(store),
        Arc::clone(host),
        function_prefix.to_owned(),
        Arc::new(sfn::time::SystemClock),
        Some(logs.clone()),
    ));
    let created = sfn::create_from_config(
        &engine,
        &plan.project.config,
        &args.stage,
        &plan.manifest.entry_points,
        &plan.project.dir,
    )?;
    let resumed = engine.resume()?;
    if resumed > 0 {
        logs.system(&format!(
            "states: resumed {resumed} running execution(s) from the last run"
        ));
    }
    Ok((engine, created))
}

fn tokio_util_shutdown() -> tokio::sync::watch::Sender<bool> {
    tokio::sync::watch::channel(false).0
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

fn print_banner(
    plan: &Plan,
    api_url: &str,
    services_url: &str,
    keys: &usage::ApiKeys,
    step_functions: &sfn::Created,
    args: &Args,
) {
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
    if keys.iter().next().is_some() {
        let names: Vec<&str> = keys.iter().map(|(name, _)| name).collect();
        out.push_str(&format!(
            "  API keys ({}): values in {}\n",
            names.join(", "),
            usage::ApiKeys::file(&plan.project.local_dir()).display()
        ));
    }
    for (name, arn) in &step_functions.activities {
        out.push_str(&format!("  activity {name} {arn}\n"));
    }
    for (name, arn) in &step_functions.state_machines {
        out.push_str(&format!("  state machine {name} {arn}\n"));
    }
    out.push_str(&format!(
        "AWS services (Lambda, Step Functions, SES v2): {services_url}\n"
    ));
    out.push_str(&format!(
        "Outbox (SES): {}\n",
        ses::Ses::outbox_url(services_url)
    ));
    out.push_str(&format!("API: {api_url}\n"));
    print!("{out}");
}
