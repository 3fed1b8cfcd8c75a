//! `portico build`: builds the app's binary; with `--release`, the checked Lambda zip.

use std::path::PathBuf;

use crate::artifact::{self, Arch, BuildOptions};
use crate::{AppDir, CliError, project::Project};

/// Arguments of `portico build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    app: AppDir,
    /// Build with optimizations for Lambda, check the binary, and write
    /// `.portico/build/<arch>/bootstrap.zip` (what `portico deploy` ships).
    #[arg(long)]
    release: bool,
    /// Compile for this target triple instead of letting portico choose, e.g.
    /// `x86_64-unknown-linux-musl`, or `aarch64-unknown-linux-gnu.2.34` (cargo zigbuild).
    #[arg(long, value_name = "TRIPLE", requires = "release")]
    target: Option<String>,
    /// Check and zip this prebuilt binary instead of compiling (with --release).
    #[arg(
        long,
        value_name = "PATH",
        requires = "release",
        conflicts_with = "target"
    )]
    binary: Option<PathBuf>,
}

/// Builds the app and prints the binary's path; with `--release`, the checks' verdicts and
/// the zip.
pub fn run(args: Args) -> Result<(), CliError> {
    if args.release {
        return run_release(args);
    }
    let project = Project::discover(&args.app.dir)?;
    let binary = project.build(false)?;
    let manifest = crate::project::read_manifest(&binary)?;
    println!(
        "built {} ({} routes, {} schedules)",
        binary.display(),
        manifest.routes.len(),
        manifest.schedules.len()
    );
    Ok(())
}

fn run_release(args: Args) -> Result<(), CliError> {
    // A prebuilt binary needs no Cargo package: a directory with a portico.toml will do.
    let project = if args.binary.is_some() {
        Project::discover_prebuilt(&args.app.dir)?
    } else {
        Project::discover(&args.app.dir)?
    };
    let arch = Arch::from_config(&project.config);
    let options = BuildOptions {
        target: args.target,
        binary: args.binary,
    };
    let artifact = artifact::build_artifact_with(&project, arch, &options)?;
    for verdict in artifact.verdicts() {
        println!("check  {verdict}");
    }
    // An arm64 binary cannot run on an x86_64 machine (and vice versa) to describe itself.
    let app = if artifact.runs_here() {
        let manifest = crate::project::read_manifest(&artifact.binary_path)?;
        format!(
            "{} routes, {} schedules",
            manifest.routes.len(),
            manifest.schedules.len()
        )
    } else {
        format!("manifest not read: {arch} binary on this machine")
    };
    let built_with = match &artifact.build {
        Some(build) => format!("`{build}`"),
        None => "prebuilt".to_owned(),
    };
    println!(
        "built  {} ({} bytes, {built_with}, {app})",
        artifact.zip_path.display(),
        artifact.zip_len(),
    );
    println!(
        "sha256 {} (hex {})",
        artifact.sha256_base64, artifact.sha256_hex
    );
    Ok(())
}
