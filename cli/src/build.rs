//! `portico build`: builds the app's binary.

use crate::{AppDir, CliError, project::Project};

/// Arguments of `portico build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    app: AppDir,
    /// Build with optimizations (what `portico deploy` ships).
    #[arg(long)]
    release: bool,
}

/// Builds the app and prints the binary's path.
pub fn run(args: Args) -> Result<(), CliError> {
    let project = Project::discover(&args.app.dir)?;
    let binary = project.build(args.release)?;
    let manifest = crate::project::read_manifest(&binary)?;
    println!(
        "built {} ({} routes, {} schedules)",
        binary.display(),
        manifest.routes.len(),
        manifest.schedules.len()
    );
    Ok(())
}
