//! Function processes: their environment, the supervisor that signals and reaps them, and
//! the one thread that spawns them and copies their binaries.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::lambda::function::{DEFAULT_REGION, FunctionSpec};

/// Between SIGTERM and SIGKILL when a process is stopped.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(2);

/// Variables of `portico`'s own environment that the functions see too. Everything else is
/// cleared, as on Lambda; AWS credentials pass so an app can reach real AWS services with the
/// developer's identity (Lambda gives it the function role's).
pub(crate) const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "LD_LIBRARY_PATH",
    "LLVM_PROFILE_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// Prefixes of inherited variables (`RUST_LOG`, `RUST_BACKTRACE`, coverage tooling).
pub(crate) const INHERITED_ENV_PREFIXES: &[&str] = &["RUST_", "CARGO_LLVM_COV"];

/// A private copy of the app binary; the file goes when the last process using it does.
pub(crate) struct BinaryCopy {
    pub(crate) path: PathBuf,
    pub(crate) generation: u64,
}

impl Drop for BinaryCopy {
    fn drop(&mut self) {
        // A running process keeps its executable's inode; only the name goes.
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    /// SIGTERM to the process group, SIGKILL after [`STOP_GRACE`].
    Stop,
    /// SIGKILL to the process group now.
    Kill,
}

/// How a process ended, in AWS's words.
#[derive(Debug, Clone)]
pub(crate) struct ExitInfo {
    /// `Runtime exited with error: exit status 1`, `… signal: killed`, or `Runtime exited
    /// without providing a reason`.
    pub(crate) detail: String,
}

/// The environment of a function process, as Lambda's `provided.al2023` runtime sets it:
/// Lambda's variables (`AWS_LAMBDA_FUNCTION_NAME`, `…_MEMORY_SIZE`, `…_LOG_STREAM_NAME`,
/// `AWS_REGION`, `LAMBDA_TASK_ROOT`, `TZ=:UTC`, …), the variables of `ours` (the host's own
/// environment) that a function may see (`PATH`, `HOME`, `LANG`, AWS credentials, `RUST_*`, …;
/// pass a filtered iterator to give it fewer), then the spec's, and last
/// `AWS_LAMBDA_RUNTIME_API=<runtime_api>`.
pub fn function_env(
    spec: &FunctionSpec,
    runtime_api: SocketAddr,
    log_stream: &str,
    task_root: &Path,
    ours: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = ours
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| {
            INHERITED_ENV.contains(&k.as_str())
                || INHERITED_ENV_PREFIXES.iter().any(|p| k.starts_with(p))
        })
        .collect();
    let region = spec
        .env
        .get("AWS_REGION")
        .or_else(|| spec.env.get("AWS_DEFAULT_REGION"))
        .map_or(DEFAULT_REGION, String::as_str)
        .to_owned();
    let task_root = task_root.to_string_lossy().into_owned();
    for (name, value) in [
        ("AWS_LAMBDA_FUNCTION_NAME", spec.function_name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", region.clone()),
        ("AWS_DEFAULT_REGION", region),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", task_root),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ] {
        env.insert(name.to_owned(), value);
    }
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.insert("AWS_LAMBDA_RUNTIME_API".to_owned(), runtime_api.to_string());
    env.into_iter().collect()
}

/// Owns a child until it is reaped: applies stop/kill requests, publishes how it ended.
pub(crate) async fn supervise(
    mut child: tokio::process::Child,
    mut control: mpsc::UnboundedReceiver<Signal>,
    exited: watch::Sender<Option<ExitInfo>>,
    on_reaped: impl FnOnce() + Send + 'static,
) {
    let pid = child.id();
    // Set once SIGTERM went out: when SIGKILL follows.
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut killed = false;
    // Signals go to the group while the child is not reaped yet, so its id cannot have been
    // reused by then.
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            signal = control.recv(), if !killed => match signal {
                Some(Signal::Stop) => {
                    if kill_at.is_none() {
                        if let Some(pid) = pid {
                            signal_group(pid, nix::sys::signal::Signal::SIGTERM);
                        }
                        kill_at = Some(tokio::time::Instant::now() + STOP_GRACE);
                    }
                }
                // `None`: the host is gone.
                Some(Signal::Kill) | None => {
                    kill(&mut child, pid).await;
                    killed = true;
                }
            },
            () = sleep_until(kill_at), if !killed => {
                kill(&mut child, pid).await;
                killed = true;
            }
        }
    };
    let detail = match status {
        Ok(status) => exit_detail(status),
        Err(err) => format!("Runtime exited with error: {err}"),
    };
    on_reaped();
    exited.send_replace(Some(ExitInfo { detail }));
}

pub(crate) async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub(crate) async fn kill(child: &mut tokio::process::Child, pid: Option<u32>) {
    if let Some(pid) = pid {
        signal_group(pid, nix::sys::signal::Signal::SIGKILL);
    }
    let _ = child.start_kill();
}

/// Sends `signal` to the process group `pgid` (its leader's pid): `killpg(2)` through nix's
/// safe wrapper, so the function's own children (spawned helpers, shells) get it too. A
/// group that is already gone (`ESRCH`) is no error here.
pub(crate) fn signal_group(pgid: u32, signal: nix::sys::signal::Signal) {
    if let Ok(pgid) = i32::try_from(pgid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), signal);
    }
}

/// AWS's wording (Go's) for how a runtime exited.
pub(crate) fn exit_detail(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => "Runtime exited without providing a reason".to_owned(),
        (Some(code), _) => format!("Runtime exited with error: exit status {code}"),
        (None, Some(signal)) => {
            let name = match signal {
                1 => "hangup".to_owned(),
                2 => "interrupt".to_owned(),
                3 => "quit".to_owned(),
                4 => "illegal instruction".to_owned(),
                5 => "trace/breakpoint trap".to_owned(),
                6 => "aborted".to_owned(),
                7 => "bus error".to_owned(),
                8 => "floating point exception".to_owned(),
                9 => "killed".to_owned(),
                11 => "segmentation fault".to_owned(),
                13 => "broken pipe".to_owned(),
                15 => "terminated".to_owned(),
                other => format!("signal {other}"),
            };
            format!("Runtime exited with error: signal: {name}")
        }
        (None, None) => "Runtime exited without providing a reason".to_owned(),
    }
}

// --- The spawner thread -------------------------------------------------------------------

/// Work for the spawner thread.
pub(crate) enum SpawnerJob {
    /// Copy a binary (written here, so no child forked elsewhere holds it open for writing
    /// when it is executed: `ETXTBSY`).
    Copy { from: PathBuf, to: PathBuf },
    Spawn {
        binary: PathBuf,
        env: Vec<(String, String)>,
        cwd: PathBuf,
    },
}

pub(crate) enum SpawnerReply {
    Copied,
    Spawned {
        child: tokio::process::Child,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
    },
}

pub(crate) type SpawnerRequest = (SpawnerJob, oneshot::Sender<io::Result<SpawnerReply>>);

/// Every child is spawned from one thread that lives as long as `portico`: Linux's
/// parent-death signal fires when the *thread* that spawned a child ends, so children
/// spawned from a short-lived thread would be killed early.
pub(crate) fn spawner() -> Option<&'static mpsc::UnboundedSender<SpawnerRequest>> {
    static SPAWNER: OnceLock<Option<mpsc::UnboundedSender<SpawnerRequest>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<SpawnerRequest>();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            std::thread::Builder::new()
                .name("portico-spawner".to_owned())
                .spawn(move || {
                    let setpriv = setpriv_works();
                    runtime.block_on(async move {
                        while let Some((job, reply)) = rx.recv().await {
                            let _ = reply.send(run_spawner_job(job, setpriv));
                        }
                    });
                })
                .ok()?;
            Some(tx)
        })
        .as_ref()
}

pub(crate) async fn spawner_call(job: SpawnerJob) -> io::Result<SpawnerReply> {
    let spawner =
        spawner().ok_or_else(|| io::Error::other("cannot start the process spawner thread"))?;
    let (reply, answer) = oneshot::channel();
    spawner
        .send((job, reply))
        .map_err(|_| io::Error::other("the process spawner thread is gone"))?;
    answer
        .await
        .map_err(|_| io::Error::other("the process spawner thread is gone"))?
}

pub(crate) fn run_spawner_job(job: SpawnerJob, setpriv: bool) -> io::Result<SpawnerReply> {
    match job {
        SpawnerJob::Copy { from, to } => {
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::copy(&from, &to)?;
            Ok(SpawnerReply::Copied)
        }
        SpawnerJob::Spawn { binary, env, cwd } => {
            let mut command = if setpriv {
                let mut command = tokio::process::Command::new("setpriv");
                command.args(["--pdeathsig", "KILL", "--"]).arg(&binary);
                command
            } else {
                tokio::process::Command::new(&binary)
            };
            command
                .env_clear()
                .envs(env)
                .current_dir(&cwd)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            let mut attempts = 0;
            let mut child = loop {
                match command.spawn() {
                    Ok(child) => break child,
                    // Another thread's fork may briefly hold a fresh copy open for writing.
                    Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && attempts < 50 => {
                        attempts += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => {
                        return Err(io::Error::new(
                            e.kind(),
                            format!("cannot start {}: {e}", binary.display()),
                        ));
                    }
                }
            };
            // The pipes move to the caller's runtime, so their readiness and the Runtime API's
            // come from one reactor (see `pump_logs`).
            let stdout = child.stdout.take().and_then(|p| p.into_owned_fd().ok());
            let stderr = child.stderr.take().and_then(|p| p.into_owned_fd().ok());
            Ok(SpawnerReply::Spawned {
                child,
                stdout,
                stderr,
            })
        }
    }
}

/// Whether `setpriv --pdeathsig` (util-linux) is there to tie children to `portico`'s life.
pub(crate) fn setpriv_works() -> bool {
    cfg!(target_os = "linux")
        && std::process::Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--", "true"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

pub(crate) async fn copy_binary(from: &Path, to: &Path, generation: u64) -> io::Result<BinaryCopy> {
    let result = spawner_call(SpawnerJob::Copy {
        from: from.to_owned(),
        to: to.to_owned(),
    })
    .await;
    match result {
        Ok(_) => Ok(BinaryCopy {
            path: to.to_owned(),
            generation,
        }),
        Err(err) => Err(io::Error::new(
            err.kind(),
            format!(
                "cannot copy the function binary {} to {}: {err}",
                from.display(),
                to.display()
            ),
        )),
    }
}

/// Removes private binary directories left by `portico local` runs that were killed.
pub(crate) fn remove_stale_bin_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    if !Path::new("/proc/self").exists() {
        return;
    }
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("portico-local-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
