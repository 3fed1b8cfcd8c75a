//! The app's description of itself, printed as JSON for the CLI to plan deployments from.
//!
//! Run the app binary with `--portico-manifest` (or with `PORTICO_MANIFEST=1` in the
//! environment): it prints the manifest on stdout and exits 0 without contacting any
//! Runtime API. The format is versioned by `manifest_version`.

use serde::Serialize;

use crate::app::{App, RouteMethod, RouteOptions};

/// Manifest format version; bumped on incompatible changes.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Serialize)]
struct Manifest<'a> {
    manifest_version: u32,
    framework_version: &'static str,
    app_name: Option<&'a str>,
    /// Entry-point names: `api`, one per schedule, one per function; deploy sets
    /// `PORTICO_HANDLER` to one.
    entry_points: Vec<&'a str>,
    entry_point_variable: &'static str,
    routes: Vec<RouteEntry<'a>>,
    schedules: Vec<ScheduleEntry<'a>>,
    /// Direct-invocation functions (added in framework 0.1 without a version bump: readers
    /// that do not know the field ignore it, and it is an empty list when there are none).
    functions: Vec<FunctionEntry<'a>>,
}

#[derive(Serialize)]
struct RouteEntry<'a> {
    name: &'a str,
    method: String,
    path: &'a str,
    handler: &'a str,
    options: &'a RouteOptions,
    source: String,
}

#[derive(Serialize)]
struct ScheduleEntry<'a> {
    name: &'a str,
    expression: &'a str,
    source: String,
}

#[derive(Serialize)]
struct FunctionEntry<'a> {
    name: &'a str,
    source: String,
}

/// The manifest of `app` as pretty JSON.
pub fn manifest_json(app: &App) -> String {
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        framework_version: env!("CARGO_PKG_VERSION"),
        app_name: app.name.as_deref(),
        entry_points: std::iter::once("api")
            .chain(app.schedules.iter().map(|s| s.name))
            .chain(app.functions.iter().map(|f| f.name))
            .collect(),
        entry_point_variable: "PORTICO_HANDLER",
        routes: app
            .routes
            .iter()
            .map(|r| RouteEntry {
                name: r.name(),
                method: match &r.method {
                    RouteMethod::Any => "ANY".to_owned(),
                    RouteMethod::One(m) => m.to_string(),
                },
                path: r.path,
                handler: r.handler_name,
                options: &r.options,
                source: format!("{}:{}", r.file, r.line),
            })
            .collect(),
        schedules: app
            .schedules
            .iter()
            .map(|s| ScheduleEntry {
                name: s.name,
                expression: s.expression,
                source: format!("{}:{}", s.file, s.line),
            })
            .collect(),
        functions: app
            .functions
            .iter()
            .map(|f| FunctionEntry {
                name: f.name,
                source: format!("{}:{}", f.file, f.line),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&manifest).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
