//! The app project on disk: where it is, how it builds, what its binary says about itself.
//!
//! The only module that calls `cargo_metadata` or runs `cargo build`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::{self, Config};

/// An app crate with its `portico.toml`.
#[derive(Debug, Clone)]
pub struct Project {
    /// The directory holding `portico.toml` and the app's `Cargo.toml`.
    pub dir: PathBuf,
    /// The parsed configuration.
    pub config: Config,
    /// The Cargo package name.
    pub package: String,
    /// The binary target name.
    pub binary: String,
}

/// Something went wrong finding or building the project.
#[derive(Debug)]
pub enum ProjectError {
    /// No `portico.toml` in the directory or its parents.
    NoConfig(PathBuf),
    /// The config file is invalid.
    Config(config::ConfigError),
    /// `cargo metadata` failed or the package is not there.
    Metadata(String),
    /// The build failed.
    Build(String),
    /// The binary did not print a valid manifest.
    Manifest(String),
}

impl std::fmt::Display for ProjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoConfig(dir) => write!(
                f,
                "no {} in {} or its parents; run `portico new NAME` to start an app, or pass --app DIR",
                config::FILE_NAME,
                dir.display()
            ),
            Self::Config(err) => err.fmt(f),
            Self::Metadata(msg) | Self::Build(msg) | Self::Manifest(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ProjectError {}

impl Project {
    /// Finds the project at `dir` (or its nearest parent with a `portico.toml`).
    ///
    /// # Errors
    /// When there is no config, it is invalid, or Cargo does not know the package.
    pub fn discover(dir: &Path) -> Result<Self, ProjectError> {
        let (dir, config) = Self::find_config(dir)?;
        Self::with_package(dir, config)
    }

    /// Finds the project at `dir` for running a binary built elsewhere (`--binary PATH`):
    /// Cargo is not asked, so a directory holding just a `portico.toml` will do, and so will an
    /// app folder whose `Cargo.toml` inherits from a workspace that is not there. The package
    /// and binary names come from `app.package` / `app.binary`, else the app's name and
    /// `bootstrap`; [`Project::discover`] asks Cargo when a build needs the real ones.
    ///
    /// # Errors
    /// When there is no config or it is invalid.
    pub fn discover_prebuilt(dir: &Path) -> Result<Self, ProjectError> {
        let (dir, config) = Self::find_config(dir)?;
        Ok(Self {
            package: config
                .app
                .package
                .clone()
                .unwrap_or_else(|| config.app.name.get_ref().clone()),
            binary: config
                .app
                .binary
                .clone()
                .unwrap_or_else(|| "bootstrap".to_owned()),
            dir,
            config,
        })
    }

    /// The nearest directory at or above `dir` with a `portico.toml`, and that file parsed.
    fn find_config(dir: &Path) -> Result<(PathBuf, Config), ProjectError> {
        let start = dir
            .canonicalize()
            .map_err(|e| ProjectError::Metadata(format!("{}: {e}", dir.display())))?;
        let dir = start
            .ancestors()
            .find(|d| d.join(config::FILE_NAME).is_file())
            .ok_or_else(|| ProjectError::NoConfig(start.clone()))?
            .to_owned();
        let config = Config::load(&dir.join(config::FILE_NAME)).map_err(ProjectError::Config)?;
        Ok((dir, config))
    }

    /// The project at `dir` (holding `config`) with its Cargo package and binary target.
    fn with_package(dir: PathBuf, config: Config) -> Result<Self, ProjectError> {
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(dir.join("Cargo.toml"))
            .no_deps()
            .exec()
            .map_err(|e| {
                ProjectError::Metadata(format!(
                    "cannot read {}: {e}",
                    dir.join("Cargo.toml").display()
                ))
            })?;
        let manifest_path = dir.join("Cargo.toml");
        let package = match &config.app.package {
            Some(name) => metadata.packages.iter().find(|p| p.name.as_str() == name),
            None => metadata
                .packages
                .iter()
                .find(|p| p.manifest_path.as_std_path() == manifest_path),
        }
        .ok_or_else(|| {
            ProjectError::Metadata(format!(
                "no Cargo package at {}; set `app.package` in {}",
                manifest_path.display(),
                config::FILE_NAME
            ))
        })?;
        let bins: Vec<&str> = package
            .targets
            .iter()
            .filter(|t| t.is_bin())
            .map(|t| t.name.as_str())
            .collect();
        let binary = match &config.app.binary {
            Some(b) if bins.contains(&b.as_str()) => b.clone(),
            Some(b) => {
                return Err(ProjectError::Metadata(format!(
                    "package `{}` has no binary `{b}` (it has: {})",
                    package.name,
                    bins.join(", ")
                )));
            }
            None if bins.contains(&"bootstrap") => "bootstrap".to_owned(),
            None if bins.len() == 1 => bins[0].to_owned(),
            None => {
                return Err(ProjectError::Metadata(format!(
                    "package `{}` has {} binaries ({}); set `app.binary` in {}",
                    package.name,
                    bins.len(),
                    bins.join(", "),
                    config::FILE_NAME
                )));
            }
        };
        Ok(Self {
            dir,
            config,
            package: package.name.to_string(),
            binary,
        })
    }

    /// Builds the app's binary for this machine and returns its path.
    ///
    /// # Errors
    /// When cargo fails (its diagnostics go to the terminal).
    pub fn build(&self, release: bool) -> Result<PathBuf, ProjectError> {
        if release {
            self.build_release(&ReleaseBuild::Host)
        } else {
            self.run_cargo("build", &[])
        }
    }

    /// Builds the app's optimized binary the way `how` says (for this machine, for another
    /// target, or through `cargo zigbuild`) and returns its path.
    ///
    /// # Errors
    /// When cargo (or cargo-zigbuild) fails; its diagnostics go to the terminal.
    pub fn build_release(&self, how: &ReleaseBuild) -> Result<PathBuf, ProjectError> {
        match how {
            ReleaseBuild::Host => self.run_cargo("build", &["--release"]),
            ReleaseBuild::Target(triple) => {
                self.run_cargo("build", &["--release", "--target", triple])
            }
            ReleaseBuild::Zig(triple) => {
                self.run_cargo("zigbuild", &["--release", "--target", triple])
            }
        }
    }

    /// Runs `cargo <subcommand>` for the app's binary and returns the executable cargo says
    /// it wrote.
    ///
    /// The path comes from cargo's own `compiler-artifact` message, never from a guess such
    /// as `target/<profile>/<bin>`: `CARGO_BUILD_TARGET`, a `[build] target` in
    /// `.cargo/config.toml`, `--target` or cargo-zigbuild all put it elsewhere, and a guess
    /// would pick up an old binary left at the guessed place.
    fn run_cargo(&self, subcommand: &str, extra: &[&str]) -> Result<PathBuf, ProjectError> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.dir).args([
            subcommand,
            "--package",
            &self.package,
            "--bin",
            &self.binary,
            // Diagnostics still reach the terminal (stderr, rendered); stdout carries JSON.
            "--message-format=json-render-diagnostics",
        ]);
        cmd.args(extra).stdout(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| ProjectError::Build(format!("cannot run cargo: {e}")))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let executable = built_executable(std::io::BufReader::new(stdout), &self.binary);
        let status = child
            .wait()
            .map_err(|e| ProjectError::Build(format!("cannot run cargo: {e}")))?;
        if !status.success() {
            return Err(ProjectError::Build(format!(
                "`cargo {subcommand}` of `{}` failed; fix the errors above and run again",
                self.package
            )));
        }
        match executable {
            Some(path) if path.is_file() => Ok(path),
            Some(path) => Err(ProjectError::Build(format!(
                "cargo reported success but {} is missing",
                path.display()
            ))),
            None => Err(ProjectError::Build(format!(
                "`cargo {subcommand}` succeeded but named no executable for binary `{}`",
                self.binary
            ))),
        }
    }

    /// The directory for local-cloud state (`.portico/local/`).
    pub fn local_dir(&self) -> PathBuf {
        self.dir.join(".portico").join("local")
    }
}

/// The executable of binary target `binary` among cargo's JSON messages (`--message-format
/// json`); the last one wins. Lines that are not cargo messages are skipped.
pub fn built_executable(messages: impl BufRead, binary: &str) -> Option<PathBuf> {
    let mut found = None;
    for message in cargo_metadata::Message::parse_stream(messages) {
        let artifact = match message {
            Ok(cargo_metadata::Message::CompilerArtifact(artifact)) => artifact,
            Ok(_) => continue,
            Err(_) => break,
        };
        if artifact.target.is_bin() && artifact.target.name.as_str() == binary {
            if let Some(path) = artifact.executable {
                found = Some(path.into_std_path_buf());
            }
        }
    }
    found
}

/// How a release binary is compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseBuild {
    /// `cargo build --release` for this machine.
    Host,
    /// `cargo build --release --target TRIPLE` (e.g. `x86_64-unknown-linux-musl`).
    Target(String),
    /// `cargo zigbuild --release --target TRIPLE`; the triple may carry a glibc version
    /// (`x86_64-unknown-linux-gnu.2.34`) that the binary then links against.
    Zig(String),
}

impl std::fmt::Display for ReleaseBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Host => f.write_str("cargo build --release"),
            Self::Target(t) => write!(f, "cargo build --release --target {t}"),
            Self::Zig(t) => write!(f, "cargo zigbuild --release --target {t}"),
        }
    }
}

/// `x86_64-unknown-linux-gnu.2.34` → `x86_64-unknown-linux-gnu` (triples have no other dots).
pub fn target_without_glibc(triple: &str) -> &str {
    triple.split('.').next().unwrap_or(triple)
}

/// What this machine can build release binaries with, beyond plain `cargo build`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Toolchain {
    /// `cargo-zigbuild` is on `PATH`.
    pub zigbuild: bool,
    /// `rustup target list --installed`; `None` when rustup is not there to ask.
    pub installed_targets: Option<Vec<String>>,
}

impl Toolchain {
    /// Looks at `PATH` and asks rustup (in `dir`, where a `rust-toolchain.toml` may pick the
    /// toolchain).
    pub fn probe(dir: &Path) -> Self {
        let installed_targets = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(dir)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect()
            });
        Self {
            zigbuild: on_path("cargo-zigbuild"),
            installed_targets,
        }
    }

    /// Whether rustup has the standard library for `triple`: `Some(false)` only when rustup
    /// says it does not, `None` when there is no rustup to ask.
    pub fn has_target(&self, triple: &str) -> Option<bool> {
        self.installed_targets
            .as_ref()
            .map(|ts| ts.iter().any(|t| t == target_without_glibc(triple)))
    }
}

/// Whether an executable named `name` is in one of `PATH`'s directories.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

pub use portico_spec::manifest::{MANIFEST_VERSION, Manifest, ManifestRoute, ManifestSchedule};

/// Runs `binary --portico-manifest` and parses what it prints.
///
/// # Errors
/// When the binary cannot run or prints something else (e.g. it is not a Portico app).
pub fn read_manifest(binary: &Path) -> Result<Manifest, ProjectError> {
    let out = Command::new(binary)
        .arg("--portico-manifest")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .map_err(|e| ProjectError::Manifest(format!("cannot run {}: {e}", binary.display())))?;
    if !out.status.success() {
        return Err(ProjectError::Manifest(format!(
            "{} --portico-manifest failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let manifest = Manifest::from_json(&out.stdout).map_err(|e| {
        ProjectError::Manifest(format!(
            "{} did not print a Portico manifest ({e}); does its main call `portico::run`?",
            binary.display()
        ))
    })?;
    if manifest.manifest_version != MANIFEST_VERSION {
        return Err(ProjectError::Manifest(format!(
            "the app's manifest has version {}, this CLI reads version {MANIFEST_VERSION}; update the CLI or the `portico` dependency",
            manifest.manifest_version
        )));
    }
    Ok(manifest)
}
