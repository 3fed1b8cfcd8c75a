//! The local cloud as one value: [`LocalCloud::start`] binds the ports, opens the state
//! database, starts the Lambda host, the gateway, the services endpoint, the Step Functions
//! engine and the scheduler, and returns [`Running`]; [`Running::stop`] drains and ends them.
//!
//! What to run comes in [`Options`]: the project's config, the app's manifest and binary, and
//! where to listen. Building the binary, watching sources and printing a banner are the
//! caller's (the `portico local` command).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portico_spec::config::{Config, ResourceKind};
use portico_spec::manifest::{EventTrigger, Manifest, ManifestSchedule};
use portico_spec::names::{Location, Names};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::gateway::{self, GatewayConfig};
use crate::hosts::AllowedHosts;
use crate::lambda::{FunctionSpec, LambdaHost};
use crate::logs::{LogSink, Style};
use crate::{BoxError, emulator, files, scheduler, secrets, services, ses, sfn, sqs, store, usage};

/// What to run and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project's `portico.toml`.
    pub config: Config,
    /// The directory of `portico.toml` (state machine definitions are relative to it).
    pub config_dir: PathBuf,
    /// Where the local cloud keeps its state (`.portico/local`).
    pub local_dir: PathBuf,
    /// The app's manifest.
    pub manifest: Manifest,
    /// The app binary.
    pub binary: PathBuf,
    /// The stage whose settings (env, memory, timeouts) the functions get.
    pub stage: String,
    /// The address both ports listen on.
    pub host: IpAddr,
    /// The API port (`0` picks a free one).
    pub port: u16,
    /// The services port (`0` picks a free one); `None`: `port + 1` (or a free one with port 0).
    pub services_port: Option<u16>,
    /// More `Host` names to answer besides loopback and the listening address.
    pub allow_hosts: Vec<String>,
    /// Serve `/{stage}/...` like an execute-api URL (else paths at the root, like a custom
    /// domain).
    pub stage_prefix: bool,
    /// Fire the `#[schedule]` handlers.
    pub schedules: bool,
    /// Processes of the HTTP function (concurrent requests).
    pub concurrency: usize,
    /// How function logs are printed.
    pub style: Style,
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

impl Endpoint {
    /// Where a running local cloud writes its endpoint, under `local_dir`.
    pub fn file(local_dir: &Path) -> PathBuf {
        local_dir.join("endpoint.json")
    }
}

/// The local cloud's entry point.
#[derive(Debug)]
pub struct LocalCloud;

/// A started local cloud.
pub struct Running {
    /// Its addresses (also written to `endpoint.json`).
    pub endpoint: Endpoint,
    /// The Lambda host running the app's functions.
    pub host: Arc<LambdaHost>,
    /// Where function and platform logs go.
    pub logs: LogSink,
    /// The API keys (names and values) the gateway accepts.
    pub keys: usage::ApiKeys,
    /// The activities and state machines created from the config.
    pub step_functions: sfn::Created,
    /// DynamoDB and S3 (moto server) when tables or buckets are declared: running, or why not.
    pub emulator: Option<Result<Arc<emulator::Emulator>, String>>,
    /// The declared resources, resolved for the local cloud (queue URLs on the services
    /// endpoint).
    pub resources: Vec<portico_spec::config::StageResource>,
    /// The names of the generated secrets (never their values).
    pub secret_names: Vec<String>,
    /// Whether the functions got dummy AWS credentials (none in the environment or `~/.aws`).
    pub dummy_credentials: bool,
    /// Passes a rebuilt app's schedules on to the scheduler (`None` with schedules off).
    pub schedule_updates: Option<watch::Sender<Vec<ManifestSchedule>>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    scheduler: Option<JoinHandle<()>>,
    db_path: PathBuf,
    db_file: Option<store::FileId>,
    endpoint_file: PathBuf,
}

impl LocalCloud {
    /// Starts everything `options` describes. Ports are bound first, so a port in use fails
    /// before any process starts.
    ///
    /// # Errors
    /// A port in use, an unreadable or damaged state database, a config the local cloud
    /// cannot serve (CORS, a state machine it cannot run), or a function that cannot start.
    pub async fn start(options: Options) -> Result<Running, BoxError> {
        let Options {
            config,
            config_dir,
            local_dir,
            manifest,
            binary,
            stage,
            host: address,
            port,
            services_port,
            allow_hosts,
            stage_prefix,
            schedules,
            concurrency,
            style,
        } = options;
        let gateway_config = GatewayConfig::from_config(&config, &manifest, &stage, stage_prefix)?
            .with_allowed_hosts(AllowedHosts::new(&allow_hosts)?);
        config.check_event_handlers(&manifest)?;
        let mut functions = function_specs(&config, &manifest, &binary, &stage, concurrency);

        files::create_private_dir(&local_dir)?;
        let db_path = local_dir.join("state.db");
        let store = Arc::new(store::Store::open(&db_path)?);
        let db_file = store::file_id(&db_path);
        let logs = LogSink::start(Arc::clone(&store), style);

        // Ports first: a port in use must fail before any process is started.
        let api_listener = tokio::net::TcpListener::bind(SocketAddr::new(address, port))
            .await
            .map_err(|e| {
                format!("cannot listen on {address}:{port}: {e} (use --port to pick another)")
            })?;
        let services_port =
            services_port.unwrap_or(if port == 0 { 0 } else { port.saturating_add(1) });
        let services_listener =
            tokio::net::TcpListener::bind(SocketAddr::new(address, services_port))
                .await
                .map_err(|e| {
                    format!(
                        "cannot listen on {address}:{services_port}: {e} (use --services-port to pick another)"
                    )
                })?;
        let api_addr = api_listener.local_addr()?;
        let services_addr = services_listener.local_addr()?;

        let keys = usage::ApiKeys::resolve(&config, &store, &local_dir)?;
        // `[[secrets]]` (a stage or function env var of the same name wins), and dummy AWS
        // credentials when the user has none, so the SDK does not fall back to the instance
        // metadata service.
        let secrets = secrets::Secrets::resolve(&config, &local_dir)?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let dummy = secrets::dummy_credentials(|name| std::env::var(name).ok(), home.as_deref());
        // The app's SDK clients reach the local services through the standard variables.
        let services_url = format!("http://{services_addr}");
        let names = Names {
            app: config.app.name.get_ref().clone(),
            stage: stage.clone(),
        };
        let location = Location::new(crate::invoker::REGION, crate::invoker::ACCOUNT);
        let resources = config.stage_resources(&names, &location, Some(&services_url));
        let sqs = Arc::new(sqs::Sqs::new(
            Arc::clone(&store),
            sqs::QueueSpec::from_config(&config, &names, &location),
            Arc::new(crate::clock::SystemClock),
        ));
        for function in &mut functions {
            secrets.apply(&mut function.env);
            for (name, value) in &dummy {
                function.env.insert((*name).to_owned(), value.clone());
            }
            for variable in [
                "AWS_ENDPOINT_URL_SFN",
                "AWS_ENDPOINT_URL_SESV2",
                "AWS_ENDPOINT_URL_SQS",
                "AWS_ENDPOINT_URL_DYNAMODB",
                "AWS_ENDPOINT_URL_S3",
            ] {
                function
                    .env
                    .insert(variable.to_owned(), services_url.clone());
            }
            // Each declared resource's name, URL or ARN, under the variable the config names.
            for resource in &resources {
                function
                    .env
                    .insert(resource.env.clone(), resource.value.clone());
            }
        }
        // DynamoDB and S3 from moto server, when the config declares tables or buckets; the
        // rest of the app runs without it.
        let emulated = emulator::declared(&config, &names, &location);
        let emulator = if emulated.is_empty() {
            None
        } else {
            Some(
                emulator::Emulator::start(Arc::clone(&store), &emulated)
                    .await
                    .map(Arc::new)
                    .map_err(|e| e.to_string()),
            )
        };
        let host = LambdaHost::start(functions, logs.clone()).await?;
        let function_prefix = format!("{}-{stage}-", config.app.name.get_ref());
        let engine = Arc::new(sfn::StepFunctions::new(
            Arc::clone(&store),
            Arc::clone(&host),
            function_prefix.clone(),
            Arc::new(crate::clock::SystemClock),
            Some(logs.clone()),
        ));
        let created = match sfn::create_from_config(
            &engine,
            &config,
            &stage,
            &manifest.entry_points,
            &config_dir,
        )
        .and_then(|created| Ok((created, engine.resume().map_err(|e| e.to_string())?)))
        {
            Ok((created, resumed)) => {
                if resumed > 0 {
                    logs.system(&format!(
                        "states: resumed {resumed} running execution(s) from the last run"
                    ));
                }
                created
            }
            Err(err) => {
                host.shutdown().await;
                return Err(err.into());
            }
        };
        let endpoint = Endpoint {
            api_url: gateway_config.base_url(api_addr),
            services_url,
            pid: std::process::id(),
        };
        let endpoint_file = Endpoint::file(&local_dir);
        std::fs::write(&endpoint_file, serde_json::to_vec_pretty(&endpoint)?)?;

        let shutdown = watch::channel(false).0;
        let hosts = gateway_config.allowed_hosts().clone();
        let gateway = gateway::Gateway::new(
            gateway_config,
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
        let mut services = services::Services::new(Arc::clone(&host), function_prefix.clone())
            .with_allowed_hosts(hosts, services_addr.ip())
            .with_step_functions(engine)
            .with_sqs(Arc::clone(&sqs))
            .with_ses(Arc::new(ses::Ses::new(
                local_dir.join("outbox"),
                config
                    .email_identities
                    .iter()
                    .map(|i| i.identity().to_owned()),
                Some(logs.clone()),
                endpoint.services_url.clone(),
            )));
        if let Some(emulator) = &emulator {
            services = services.with_emulator(emulator.clone());
        }
        let services_task = tokio::spawn(services::serve_with(
            services_listener,
            Arc::new(services),
            shutdown.subscribe(),
        ));
        // Lambda's SQS poller, one loop per `#[on_sqs_message]` handler.
        let mut tasks = vec![gateway_task, services_task];
        for handler in &manifest.event_handlers {
            if let EventTrigger::Sqs {
                queue,
                batch_size,
                max_batching_window,
            } = &handler.trigger
            {
                let Some(queue) = resources
                    .iter()
                    .find(|r| r.kind == ResourceKind::Queue && &r.name == queue)
                else {
                    continue;
                };
                let mapping = sqs::poller::Mapping {
                    function: handler.name.clone(),
                    queue: queue.physical.clone(),
                    batch_size: *batch_size,
                    max_batching_window: *max_batching_window,
                };
                tasks.push(tokio::spawn(sqs::poller::run(
                    Arc::clone(&sqs),
                    Arc::clone(&host),
                    mapping,
                    Some(logs.clone()),
                    shutdown.subscribe(),
                )));
            }
        }
        let (schedule_updates, scheduler) = if schedules {
            let (updates, schedules) = watch::channel(manifest.schedules.clone());
            let task = tokio::spawn(scheduler::run_updating(
                schedules,
                function_prefix,
                Arc::clone(&host),
                logs.clone(),
                shutdown.subscribe(),
            ));
            (Some(updates), Some(task))
        } else {
            (None, None)
        };
        Ok(Running {
            endpoint,
            host,
            logs,
            keys,
            step_functions: created,
            resources,
            emulator,
            secret_names: secrets.names().map(str::to_owned).collect(),
            dummy_credentials: !dummy.is_empty(),
            schedule_updates,
            shutdown,
            tasks,
            scheduler,
            db_path,
            db_file,
            endpoint_file,
        })
    }
}

impl Running {
    /// A receiver that turns `true` when [`Running::stop`] begins (for tasks the caller runs
    /// beside the cloud, such as a source watcher).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Returns (with what to tell the user) once the state database file is no longer the
    /// file opened at start: deleted, or replaced by another. SQLite keeps writing to the
    /// open, unlinked file, so everything from then on would vanish at exit.
    pub async fn state_file_lost(&self) -> String {
        loop {
            tokio::time::sleep(STATE_FILE_CHECK).await;
            let now = store::file_id(&self.db_path);
            if now != self.db_file {
                let what = if now.is_none() {
                    "was deleted"
                } else {
                    "was replaced by another file"
                };
                return format!(
                    "{} {what} while portico local was running; what happened since cannot be \
                     kept. Run `portico local` again to continue with {}",
                    self.db_path.display(),
                    if now.is_none() {
                        "a fresh, empty database"
                    } else {
                        "the file now there"
                    }
                );
            }
        }
    }

    /// Stops: the gateway and the services endpoint stop accepting and give requests in
    /// flight their few seconds of drain while the functions still run; only then do the
    /// processes go (stopping them first would turn every request in flight into a 502).
    /// `others` are the caller's tasks that follow [`Running::shutdown_signal`].
    pub async fn stop(self, others: Vec<JoinHandle<()>>) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(6), async {
            for task in self.tasks {
                let _ = task.await;
            }
        })
        .await;
        self.host.shutdown().await;
        if let Some(Ok(emulator)) = &self.emulator {
            emulator.stop().await;
        }
        for task in self.scheduler.into_iter().chain(others) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.logs.flush().await;
        let _ = std::fs::remove_file(&self.endpoint_file);
    }
}

/// How often the state database file is checked to still be there.
const STATE_FILE_CHECK: Duration = Duration::from_secs(1);

/// The functions of `manifest`'s entry points for `stage`: each runs `binary` with its entry
/// point selected and the stage's settings; the HTTP function (`api`) gets `concurrency`
/// processes, the others one.
pub fn function_specs(
    config: &Config,
    manifest: &Manifest,
    binary: &Path,
    stage: &str,
    concurrency: usize,
) -> Vec<FunctionSpec> {
    manifest
        .entry_points
        .iter()
        .map(|name| {
            let settings = config.function(stage, name);
            let mut env: BTreeMap<String, String> = settings.env.clone();
            env.insert(manifest.entry_point_variable.clone(), name.clone());
            FunctionSpec {
                function_name: format!("{}-{stage}-{name}", config.app.name.get_ref()),
                name: name.clone(),
                binary: binary.to_owned(),
                env,
                memory_mb: settings.memory,
                timeout: Duration::from_secs(settings.timeout.into()),
                max_processes: if name == "api" { concurrency.max(1) } else { 1 },
            }
        })
        .collect()
}
