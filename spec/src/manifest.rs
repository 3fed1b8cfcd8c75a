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
    /// Entry-point names: `api`, one per schedule, one per function; deploy sets
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
}
