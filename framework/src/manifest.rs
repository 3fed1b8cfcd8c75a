//! The app's description of itself, printed as JSON for the CLI to plan deployments from.
//!
//! Run the app binary with `--portico-manifest` (or with `PORTICO_MANIFEST=1` in the
//! environment): it prints the manifest on stdout and exits 0 without contacting any
//! Runtime API. The schema is [`portico_spec::manifest::Manifest`], which the CLI reads; the
//! format is versioned by `manifest_version`.

use portico_spec::manifest::{self as spec, Manifest};

use crate::app::App;
use crate::events::EventTrigger;
use crate::route::{RouteCors, RouteMethod, RouteOptions};

pub use portico_spec::manifest::MANIFEST_VERSION;

/// The name of the manifest route that stands for an app's service (`App::service`,
/// feature `tower`): `ANY /{proxy+}`.
pub const SERVICE_ROUTE_NAME: &str = "service";

/// The manifest of `app`.
pub fn manifest(app: &App) -> Manifest {
    let mut manifest = Manifest::new(env!("CARGO_PKG_VERSION"));
    manifest.app_name = app.name.clone();
    manifest.entry_points.extend(
        app.schedules
            .iter()
            .map(|s| s.name)
            .chain(app.functions.iter().map(|f| f.name))
            .chain(app.event_handlers.iter().map(|h| h.name))
            .map(str::to_owned),
    );
    manifest.routes = app
        .routes
        .iter()
        .map(|r| spec::ManifestRoute {
            name: r.name().to_owned(),
            method: match &r.method {
                RouteMethod::Any => "ANY".to_owned(),
                RouteMethod::One(m) => m.to_string(),
            },
            path: r.path.to_owned(),
            handler: r.handler_name.to_owned(),
            options: route_options(&r.options),
            source: format!("{}:{}", r.file, r.line),
        })
        .collect();
    #[cfg(feature = "tower")]
    if let Some(service) = &app.service {
        // What API Gateway sends everything else through; `/` too (deploy always creates
        // `ANY /` beside `ANY /{proxy+}`).
        manifest.routes.push(spec::ManifestRoute {
            name: SERVICE_ROUTE_NAME.to_owned(),
            method: "ANY".to_owned(),
            path: "/{proxy+}".to_owned(),
            handler: SERVICE_ROUTE_NAME.to_owned(),
            options: spec::RouteOptions::default(),
            source: format!("{}:{}", service.location.file(), service.location.line()),
        });
    }
    manifest.schedules = app
        .schedules
        .iter()
        .map(|s| spec::ManifestSchedule {
            name: s.name.to_owned(),
            expression: s.expression.to_owned(),
            source: format!("{}:{}", s.file, s.line),
        })
        .collect();
    manifest.functions = app
        .functions
        .iter()
        .map(|f| spec::ManifestFunction {
            name: f.name.to_owned(),
            source: format!("{}:{}", f.file, f.line),
        })
        .collect();
    manifest.event_handlers = app
        .event_handlers
        .iter()
        .map(|h| spec::ManifestEventHandler {
            name: h.name.to_owned(),
            trigger: trigger(&h.trigger),
            source: format!("{}:{}", h.file, h.line),
        })
        .collect();
    manifest
}

/// The manifest's form of a handler's trigger.
pub(crate) fn trigger(trigger: &EventTrigger) -> spec::EventTrigger {
    let owned = |names: &[&str]| names.iter().map(|&n| n.to_owned()).collect();
    match *trigger {
        EventTrigger::Sqs {
            queue,
            batch_size,
            max_batching_window,
        } => spec::EventTrigger::Sqs {
            queue: queue.to_owned(),
            batch_size,
            max_batching_window,
        },
        EventTrigger::Sns { topic } => spec::EventTrigger::Sns {
            topic: topic.to_owned(),
        },
        EventTrigger::S3 {
            bucket,
            events,
            prefix,
            suffix,
        } => spec::EventTrigger::S3 {
            bucket: bucket.to_owned(),
            events: owned(events),
            prefix: prefix.map(str::to_owned),
            suffix: suffix.map(str::to_owned),
        },
        EventTrigger::EventBridge { pattern } => spec::EventTrigger::EventBridge {
            // Validated as JSON by the attribute at compile time.
            pattern: serde_json::from_str(pattern).unwrap_or(serde_json::Value::Null),
        },
        EventTrigger::DynamoDb {
            table,
            starting_position,
            batch_size,
        } => spec::EventTrigger::DynamoDb {
            table: table.to_owned(),
            starting_position: starting_position.to_owned(),
            batch_size,
        },
    }
}

/// The manifest of `app` as pretty JSON.
pub fn manifest_json(app: &App) -> String {
    manifest(app).to_json_pretty()
}

fn route_options(options: &RouteOptions) -> spec::RouteOptions {
    spec::RouteOptions {
        api_key_required: options.api_key_required,
        content_types: options
            .content_types
            .iter()
            .map(|&t| t.to_owned())
            .collect(),
        cors: match options.cors {
            RouteCors::Inherit => spec::RouteCors::Inherit,
            RouteCors::Disabled => spec::RouteCors::Disabled,
            RouteCors::Enabled => spec::RouteCors::Enabled,
            RouteCors::Origin(origin) => spec::RouteCors::Origin(origin.to_owned()),
        },
        name: options.name.map(str::to_owned),
    }
}
