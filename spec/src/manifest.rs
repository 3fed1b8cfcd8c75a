//! The app manifest: what a compiled app says about itself, as JSON.
//!
//! The app binary writes it (`bootstrap --portico-manifest`, through `portico`'s
//! `manifest_json`) and the CLI reads it to plan deployments and to run the local cloud, both
//! through [`Manifest`]. The format is versioned by [`Manifest::manifest_version`]; fields added
//! without a version bump are optional when read (`#[serde(default)]`), so a newer CLI reads an
//! older app's manifest.
//!
//! ```
//! use portico_spec::manifest::{MANIFEST_VERSION, Manifest, ManifestRoute, RouteOptions};
//!
//! let manifest = Manifest {
//!     routes: vec![ManifestRoute {
//!         name: "get_user".into(),
//!         method: "GET".into(),
//!         path: "/users/{id}".into(),
//!         handler: "get_user".into(),
//!         options: RouteOptions { api_key_required: true, ..RouteOptions::default() },
//!         source: "src/main.rs:12".into(),
//!     }],
//!     ..Manifest::new("0.1.0")
//! };
//! let json = manifest.to_json_pretty();
//! let read = Manifest::from_json(json.as_bytes()).unwrap();
//! assert_eq!(read, manifest);
//! assert_eq!(read.manifest_version, MANIFEST_VERSION);
//! assert_eq!(read.entry_points, ["api"]);
//! ```

use serde::{Deserialize, Serialize};

/// Manifest format version; bumped on incompatible changes.
pub const MANIFEST_VERSION: u32 = 1;

/// The variable that selects a function's entry point (`api`, a schedule or a function name).
pub const ENTRY_POINT_VARIABLE: &str = "PORTICO_HANDLER";

/// The entry point that serves HTTP routes.
pub const API_ENTRY_POINT: &str = "api";

/// What an app binary prints with `--portico-manifest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub manifest_version: u32,
    /// The `portico` version the app was built with.
    #[serde(default)]
    pub framework_version: String,
    /// The app's name, when it set one.
    #[serde(default)]
    pub app_name: Option<String>,
    /// Entry-point names: `api`, one per schedule, function and event handler; deploy sets
    /// [`entry_point_variable`](Self::entry_point_variable) to one.
    pub entry_points: Vec<String>,
    /// The variable that selects the entry point ([`ENTRY_POINT_VARIABLE`]).
    pub entry_point_variable: String,
    /// HTTP routes.
    pub routes: Vec<ManifestRoute>,
    /// `#[schedule]` handlers.
    pub schedules: Vec<ManifestSchedule>,
    /// Direct-invocation functions (added in framework 0.1 without a version bump: readers
    /// that do not know the field ignore it, and it is an empty list when there are none).
    #[serde(default)]
    pub functions: Vec<ManifestFunction>,
    /// Event handlers (`#[on_sqs_message]`, …; added without a version bump, like
    /// `functions`): each its own entry point, fired by the resource it names.
    #[serde(default)]
    pub event_handlers: Vec<ManifestEventHandler>,
}

/// A route in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRoute {
    /// The name `url_for` knows the route by.
    pub name: String,
    /// `GET`, …, or `ANY`.
    pub method: String,
    /// API Gateway path template, e.g. `/users/{id}`.
    pub path: String,
    /// The handler function's name.
    #[serde(default)]
    pub handler: String,
    /// Options given in the attribute.
    #[serde(default)]
    pub options: RouteOptions,
    /// `file:line` of the attribute.
    #[serde(default)]
    pub source: String,
}

/// Per-route options given in the attribute (`api_key_required = true`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteOptions {
    /// The gateway demands an API key (`x-api-key`) on this route.
    #[serde(default)]
    pub api_key_required: bool,
    /// Accepted request media types; empty means any.
    #[serde(default)]
    pub content_types: Vec<String>,
    /// CORS override.
    #[serde(default)]
    pub cors: RouteCors,
    /// The name given with `name = "..."`, if any.
    #[serde(default)]
    pub name: Option<String>,
}

/// How a route overrides the app's CORS setting: `{"mode": "inherit"}`,
/// `{"mode": "origin", "origin": "https://example.com"}`, ….
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "origin")]
pub enum RouteCors {
    /// Use the app's setting.
    #[default]
    Inherit,
    /// No CORS headers on this route.
    Disabled,
    /// The app's setting, or the defaults if the app has none.
    Enabled,
    /// Allow exactly this origin.
    Origin(String),
}

/// A `#[schedule]` handler in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSchedule {
    /// Entry-point name.
    pub name: String,
    /// EventBridge expression, e.g. `rate(5 minutes)`.
    pub expression: String,
    /// `file:line` of the attribute.
    #[serde(default)]
    pub source: String,
}

/// A `#[function]` handler in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFunction {
    /// Entry-point name.
    pub name: String,
    /// `file:line` of the attribute.
    #[serde(default)]
    pub source: String,
}

/// An event handler in the manifest: its entry point, what fires it and the attribute's place.
///
/// On the wire the trigger's fields sit beside the name, tagged by `kind`:
/// `{"name": "resize", "kind": "sqs", "queue": "jobs", "batch_size": 10,
/// "max_batching_window": 0, "source": "src/main.rs:12"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEventHandler {
    /// Entry-point name.
    pub name: String,
    /// What fires the handler, with the attribute's options.
    #[serde(flatten)]
    pub trigger: EventTrigger,
    /// `file:line` of the attribute.
    #[serde(default)]
    pub source: String,
}

/// What fires an event handler: the kind, the logical name of the resource the app declares
/// in `portico.toml` (none for EventBridge), and the kind's options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EventTrigger {
    /// `#[on_sqs_message]`.
    Sqs {
        /// The queue's logical name.
        queue: String,
        /// Records per invocation (`BatchSize`).
        batch_size: u32,
        /// Seconds to gather a batch (`MaximumBatchingWindowInSeconds`).
        max_batching_window: u32,
    },
    /// `#[on_sns_message]`.
    Sns {
        /// The topic's logical name.
        topic: String,
    },
    /// `#[on_s3_event]`.
    S3 {
        /// The bucket's logical name.
        bucket: String,
        /// S3 event types (`s3:ObjectCreated:*`, …).
        events: Vec<String>,
        /// Object key prefix filter.
        #[serde(default)]
        prefix: Option<String>,
        /// Object key suffix filter.
        #[serde(default)]
        suffix: Option<String>,
    },
    /// `#[on_event]`.
    #[serde(rename = "eventbridge")]
    EventBridge {
        /// The rule's event pattern (validated at compile time).
        pattern: serde_json::Value,
    },
    /// `#[on_dynamodb_record]`.
    #[serde(rename = "dynamodb")]
    DynamoDb {
        /// The table's logical name (its stream fires the handler).
        table: String,
        /// `TRIM_HORIZON` or `LATEST`.
        starting_position: String,
        /// Records per invocation (`BatchSize`).
        batch_size: u32,
    },
}

impl EventTrigger {
    /// The kind of handler.
    pub fn kind(&self) -> crate::event_sources::EventKind {
        use crate::event_sources::EventKind;
        match self {
            EventTrigger::Sqs { .. } => EventKind::Sqs,
            EventTrigger::Sns { .. } => EventKind::Sns,
            EventTrigger::S3 { .. } => EventKind::S3,
            EventTrigger::EventBridge { .. } => EventKind::EventBridge,
            EventTrigger::DynamoDb { .. } => EventKind::DynamoDb,
        }
    }

    /// The logical name of the resource that fires the handler (none for EventBridge rules).
    pub fn resource(&self) -> Option<&str> {
        match self {
            EventTrigger::Sqs { queue, .. } => Some(queue),
            EventTrigger::Sns { topic } => Some(topic),
            EventTrigger::S3 { bucket, .. } => Some(bucket),
            EventTrigger::EventBridge { .. } => None,
            EventTrigger::DynamoDb { table, .. } => Some(table),
        }
    }
}

impl Manifest {
    /// An empty manifest (only the `api` entry point) for `framework_version`.
    pub fn new(framework_version: impl Into<String>) -> Self {
        Self {
            manifest_version: MANIFEST_VERSION,
            framework_version: framework_version.into(),
            app_name: None,
            entry_points: vec![API_ENTRY_POINT.to_owned()],
            entry_point_variable: ENTRY_POINT_VARIABLE.to_owned(),
            routes: Vec::new(),
            schedules: Vec::new(),
            functions: Vec::new(),
            event_handlers: Vec::new(),
        }
    }

    /// The manifest as pretty JSON, as the app binary prints it.
    pub fn to_json_pretty(&self) -> String {
        // Only strings, numbers and lists: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Parses a manifest.
    ///
    /// # Errors
    /// When `json` is not a manifest (of any version: check
    /// [`manifest_version`](Self::manifest_version) afterwards).
    pub fn from_json(json: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_one_manifest_without_the_later_fields_still_reads() {
        let old = r#"{
            "manifest_version": 1,
            "entry_points": ["api", "tick"],
            "entry_point_variable": "PORTICO_HANDLER",
            "routes": [{"name": "r", "method": "GET", "path": "/", "options": {"api_key_required": true}}],
            "schedules": [{"name": "tick", "expression": "rate(1 minute)"}]
        }"#;
        let manifest = Manifest::from_json(old.as_bytes()).unwrap();
        assert!(manifest.routes[0].options.api_key_required);
        assert_eq!(manifest.routes[0].options.cors, RouteCors::Inherit);
        assert!(manifest.functions.is_empty());
        assert!(manifest.event_handlers.is_empty());
        assert_eq!(manifest.schedules[0].expression, "rate(1 minute)");
    }

    #[test]
    fn cors_overrides_are_adjacently_tagged() {
        let options = RouteOptions {
            cors: RouteCors::Origin("https://example.com".into()),
            ..RouteOptions::default()
        };
        let json = serde_json::to_string(&options).unwrap();
        assert_eq!(
            json,
            r#"{"api_key_required":false,"content_types":[],"cors":{"mode":"origin","origin":"https://example.com"},"name":null}"#
        );
        assert_eq!(
            serde_json::from_str::<RouteOptions>(&json).unwrap(),
            options
        );
        assert_eq!(
            serde_json::to_string(&RouteCors::Disabled).unwrap(),
            r#"{"mode":"disabled"}"#
        );
    }

    #[test]
    fn event_handlers_carry_their_kind_beside_the_name() {
        let handler = ManifestEventHandler {
            name: "resize".into(),
            trigger: EventTrigger::Sqs {
                queue: "jobs".into(),
                batch_size: 10,
                max_batching_window: 0,
            },
            source: "src/main.rs:12".into(),
        };
        let json = serde_json::to_string(&handler).unwrap();
        assert_eq!(
            json,
            r#"{"name":"resize","kind":"sqs","queue":"jobs","batch_size":10,"max_batching_window":0,"source":"src/main.rs:12"}"#
        );
        assert_eq!(
            serde_json::from_str::<ManifestEventHandler>(&json).unwrap(),
            handler
        );
        let rule: ManifestEventHandler = serde_json::from_str(
            r#"{"name": "orders", "kind": "eventbridge", "pattern": {"source": ["shop.orders"]}}"#,
        )
        .unwrap();
        assert_eq!(rule.trigger.kind().as_str(), "eventbridge");
        assert_eq!(rule.trigger.resource(), None);
        assert_eq!(handler.trigger.resource(), Some("jobs"));
    }
}
