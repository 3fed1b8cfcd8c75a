//! What the gateway serves, resolved from `portico.toml` and the manifest: the stage,
//! CORS headers, limits, and the route table that decides which requests need an API key.

use std::net::SocketAddr;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};

use crate::BoxError;
use crate::hosts::AllowedHosts;
use crate::server::Limits;
use crate::usage::{self, PlanSpec};
use portico_spec::config::{Config, CorsSection};
use portico_spec::manifest::{Manifest, ManifestRoute};
use portico_spec::route_path::parse_route_path;

/// The entry point of the HTTP function.
pub(crate) const FUNCTION: &str = "api";
/// API Gateway's default (and, without a quota increase, maximum) integration timeout.
const DEFAULT_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);
/// API Gateway's REST API payload limit.
pub(crate) const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;
/// Lambda's synchronous invocation limit on the response payload (bytes, as Lambda's own
/// error message states it).
pub(crate) const MAX_LAMBDA_PAYLOAD: usize = 6_291_556;
/// Lambda's synchronous invocation limit on the request payload: 100 bytes less than the
/// response's ("Request must be smaller than 6291456 bytes for the InvokeFunction operation").
pub(crate) const MAX_LAMBDA_REQUEST: usize = 6_291_456;
/// API Gateway's limit on the request line plus header values.
pub(crate) const MAX_HEADER_BYTES: usize = 10_240;
/// Open connections at most; more wait to be accepted.
pub(crate) const MAX_CONNECTIONS: usize = 1024;
/// The account id the events carry.
pub(crate) const ACCOUNT_ID: &str = "123456789012";
/// The headers the console's "Enable CORS" allows.
const DEFAULT_CORS_ALLOW_HEADERS: &str =
    "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token";
/// Request headers API Gateway does not pass to the integration (hop-by-hop and framing).
pub(crate) const DROPPED_REQUEST_HEADERS: [&str; 9] = [
    "connection",
    "content-length",
    "expect",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
/// Response headers API Gateway renames to `x-amzn-Remapped-<name>` (REST APIs).
pub(crate) const REMAPPED_RESPONSE_HEADERS: [&str; 6] = [
    "authorization",
    "connection",
    "content-length",
    "date",
    "server",
    "www-authenticate",
];
/// Response headers that cannot be forwarded on a new HTTP/1.1 response.
pub(crate) const DROPPED_RESPONSE_HEADERS: [&str; 5] = [
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];
/// What the gateway serves: stage, routes that need a key, binary media types, CORS,
/// timeouts and usage plans, resolved from `portico.toml` and the app's manifest.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The API Gateway stage name.
    pub(crate) stage: String,
    /// Paths start with `/{stage}` (an execute-api URL) rather than at the root.
    pub(crate) stage_prefix: bool,
    /// Lowercased `api.binary_media_types` (`*` wildcards allowed).
    pub(crate) binary_media_types: Vec<String>,
    /// Headers added to gateway-made errors when `[api.cors]` is configured.
    pub(crate) cors: Option<Vec<(HeaderName, HeaderValue)>>,
    /// How long the gateway waits for the function (`api.timeout`).
    pub(crate) integration_timeout: Duration,
    /// The `api` function's own timeout in this stage.
    pub(crate) function_timeout: Duration,
    pub(crate) routes: RouteTable,
    pub(crate) plans: Vec<PlanSpec>,
    /// A stable fake REST API id.
    pub(crate) api_id: String,
    pub(crate) limits: Limits,
    /// The host names requests may name.
    pub(crate) hosts: AllowedHosts,
}

impl GatewayConfig {
    /// Resolves the gateway of `stage` from `config` and the app's `manifest`; `stage_prefix`
    /// serves paths under `/{stage}` (like an execute-api URL) rather than at the root.
    ///
    /// # Errors
    /// When a manifest route path is invalid or two routes conflict, or a CORS value cannot
    /// be a header value.
    pub fn from_config(
        config: &Config,
        manifest: &Manifest,
        stage: &str,
        stage_prefix: bool,
    ) -> Result<Self, BoxError> {
        let cors = config.api.cors.as_ref().map(cors_headers).transpose()?;
        let integration_timeout = config
            .api
            .timeout
            .as_ref()
            .map_or(DEFAULT_INTEGRATION_TIMEOUT, |t| {
                Duration::from_secs(u64::from(*t.get_ref()))
            });
        let function_timeout =
            Duration::from_secs(u64::from(config.function(stage, FUNCTION).timeout));
        Ok(Self {
            stage: config.api_stage_name(stage),
            stage_prefix,
            binary_media_types: config
                .api
                .binary_media_types
                .iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .collect(),
            cors,
            integration_timeout,
            function_timeout,
            routes: RouteTable::new(&manifest.routes)?,
            plans: PlanSpec::from_config(config),
            api_id: usage::short_id(&format!("{}/{stage}", config.app.name.get_ref()), 10),
            limits: Limits::default(),
            hosts: AllowedHosts::default(),
        })
    }

    /// Accepts these host names besides the loopback ones and the listening address.
    pub fn with_allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.hosts = hosts;
        self
    }

    /// The host names this gateway answers to (the services endpoint answers the same).
    pub fn allowed_hosts(&self) -> &AllowedHosts {
        &self.hosts
    }

    /// The API's base URL when served on `addr`: `http://127.0.0.1:8000/dev`, or without the
    /// stage when paths are served at the root.
    pub fn base_url(&self, addr: SocketAddr) -> String {
        let mut addr = addr;
        if addr.ip().is_unspecified() {
            // Bound to every interface: loopback is one of them and always reachable.
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if self.stage_prefix {
            format!("http://{addr}/{}", self.stage)
        } else {
            format!("http://{addr}")
        }
    }

    /// The path the API sees (stage removed) for the client's `path`, or `None` when the
    /// path is outside the stage. `/dev` is the stage's root, like `/dev/`.
    pub(crate) fn strip_stage<'p>(&self, path: &'p str) -> Option<&'p str> {
        if !self.stage_prefix {
            return path.starts_with('/').then_some(path);
        }
        let rest = path.strip_prefix('/')?.strip_prefix(self.stage.as_str())?;
        if rest.is_empty() {
            Some("/")
        } else {
            rest.starts_with('/').then_some(rest)
        }
    }

    /// `requestContext.path`: the path the client called, the stage included.
    pub(crate) fn context_path(&self, path: &str) -> String {
        if self.stage_prefix {
            format!("/{}{path}", self.stage)
        } else {
            path.to_owned()
        }
    }
}

fn cors_headers(cors: &CorsSection) -> Result<Vec<(HeaderName, HeaderValue)>, BoxError> {
    let value = |name: &str, text: &str| {
        HeaderValue::from_str(text)
            .map_err(|_| format!("`api.cors`: {name} `{text}` is not a valid header value"))
    };
    let mut out = vec![(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        value("allow_origin", &cors.allow_origin)?,
    )];
    let allow_headers = if cors.allow_headers.is_empty() {
        DEFAULT_CORS_ALLOW_HEADERS.to_owned()
    } else {
        cors.allow_headers.join(",")
    };
    out.push((
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        value("allow_headers", &allow_headers)?,
    ));
    if !cors.expose_headers.is_empty() {
        out.push((
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            value("expose_headers", &cors.expose_headers.join(","))?,
        ));
    }
    if cors.allow_credentials {
        out.push((
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        ));
    }
    Ok(out)
}

/// The app's routes, to know which requests need an API key and which explicit resource
/// (rather than `/{proxy+}`) API Gateway would match.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteTable {
    tree: matchit::Router<usize>,
    entries: Vec<RouteEntry>,
}

#[derive(Debug, Clone)]
pub(crate) struct RouteEntry {
    /// The API Gateway resource path, e.g. `/users/{id}`.
    pub(crate) template: String,
    /// The template in matchit syntax, to merge methods of one path.
    matchit: String,
    /// `(method or "ANY", api key required)`.
    methods: Vec<(String, bool)>,
}

impl RouteEntry {
    /// Deployed as its own resource: some method on it needs a key.
    pub(crate) fn is_explicit_resource(&self) -> bool {
        self.methods.iter().any(|(_, key)| *key)
    }
}

/// The route a request reaches.
#[derive(Debug)]
pub(crate) struct RouteMatch<'a> {
    pub(crate) entry: &'a RouteEntry,
    /// Path parameters, as they appear in the URL (not decoded, like API Gateway's).
    pub(crate) params: Vec<(String, String)>,
    /// The method the request dispatches to needs an API key.
    pub(crate) key_required: bool,
}

impl RouteTable {
    pub(crate) fn new(routes: &[ManifestRoute]) -> Result<Self, BoxError> {
        let mut table = Self::default();
        for route in routes {
            let parsed = parse_route_path(&route.path).map_err(|e| {
                format!(
                    "route `{}` has an invalid path `{}`: {e}; rebuild the app with this CLI's `portico` version",
                    route.name, route.path
                )
            })?;
            let matchit = parsed.to_matchit();
            let method = (
                route.method.to_ascii_uppercase(),
                route.options.api_key_required,
            );
            if let Some(entry) = table.entries.iter_mut().find(|e| e.matchit == matchit) {
                entry.methods.push(method);
                continue;
            }
            table
                .tree
                .insert(matchit.clone(), table.entries.len())
                .map_err(|e| {
                    format!(
                        "route `{}` (`{}`) conflicts with another route: {e}",
                        route.name, route.path
                    )
                })?;
            table.entries.push(RouteEntry {
                template: route.path.clone(),
                matchit,
                methods: vec![method],
            });
        }
        Ok(table)
    }

    /// The route `path` reaches, matched the way the app's router matches (static segments
    /// before parameters), and whether `method` needs a key there: the method itself, a
    /// declared `ANY`, or for `HEAD` the `GET` (the app's router serves `HEAD` with it). Any
    /// other method goes to the open `ANY` that `portico deploy` puts on every explicit
    /// resource, without a key, as on AWS; the app answers it (405).
    pub(crate) fn find(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let path = match path.strip_suffix('/') {
            Some(stripped) if !stripped.is_empty() => stripped,
            _ => path,
        };
        let found = self.tree.at(path).ok()?;
        let entry = &self.entries[*found.value];
        let pick = |wanted: &str| {
            entry
                .methods
                .iter()
                .find(|(m, _)| m == wanted)
                .or_else(|| entry.methods.iter().find(|(m, _)| m == "ANY"))
        };
        let chosen = pick(method).or_else(|| (method == "HEAD").then(|| pick("GET")).flatten());
        Some(RouteMatch {
            entry,
            params: found
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            key_required: chosen.is_some_and(|(_, key)| *key),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use portico_spec::config::Config;
    use portico_spec::manifest::Manifest;

    use crate::gateway::event::tests::{EventCase, event};
    use std::path::Path;

    pub(crate) const CONFIG: &str = include_str!("fixtures/shop.toml");

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "manifest_version": 1,
            "entry_points": ["api"],
            "entry_point_variable": "PORTICO_ENTRY_POINT",
            "routes": [
                {"name": "index", "method": "GET", "path": "/", "options": {"api_key_required": false}},
                {"name": "get_user", "method": "GET", "path": "/users/{id}", "options": {"api_key_required": true}},
                {"name": "put_user", "method": "PUT", "path": "/users/{id}", "options": {"api_key_required": false}},
                {"name": "me", "method": "GET", "path": "/users/me", "options": {"api_key_required": false}},
                {"name": "admin", "method": "ANY", "path": "/admin", "options": {"api_key_required": true}},
                {"name": "files", "method": "GET", "path": "/files/{path+}", "options": {"api_key_required": true}},
                {"name": "public", "method": "GET", "path": "/files/public", "options": {"api_key_required": false}}
            ],
            "schedules": []
        }))
        .unwrap()
    }

    pub(crate) fn gateway_config(text: &str, stage_prefix: bool) -> GatewayConfig {
        let config = Config::parse(Path::new("portico.toml"), text).unwrap();
        GatewayConfig::from_config(&config, &manifest(), "dev", stage_prefix).unwrap()
    }

    #[test]
    fn the_stage_is_a_whole_first_segment() {
        let cfg = gateway_config(CONFIG, true);
        assert_eq!(cfg.strip_stage("/dev"), Some("/"));
        assert_eq!(cfg.strip_stage("/dev/"), Some("/"));
        assert_eq!(cfg.strip_stage("/dev/users/42"), Some("/users/42"));
        assert_eq!(cfg.strip_stage("/"), None);
        assert_eq!(cfg.strip_stage("/devx/users"), None);
        assert_eq!(cfg.strip_stage("/other/x"), None);
        assert_eq!(cfg.strip_stage("/Dev/x"), None);
        assert_eq!(
            cfg.base_url("127.0.0.1:8000".parse().unwrap()),
            "http://127.0.0.1:8000/dev"
        );
        assert_eq!(
            cfg.base_url("0.0.0.0:8000".parse().unwrap()),
            "http://127.0.0.1:8000/dev"
        );
        assert_eq!(
            cfg.base_url("[::1]:9000".parse().unwrap()),
            "http://[::1]:9000/dev"
        );
    }

    #[test]
    fn an_api_stage_name_overrides_the_stage() {
        let text = format!("{CONFIG}\n[stages.dev]\napi_stage = \"v1\"\n");
        let cfg = gateway_config(&text, true);
        assert_eq!(cfg.strip_stage("/v1/x"), Some("/x"));
        assert_eq!(cfg.strip_stage("/dev/x"), None);
    }

    #[test]
    fn key_required_routes_are_explicit_resources() {
        let cfg = gateway_config(CONFIG, true);
        let got = event(
            &cfg,
            &EventCase {
                api_key: Some(("partner-key-0123456789", "abcdefghij")),
                ..EventCase::new("GET", "/users/42")
            },
        );
        assert_eq!(got["resource"], "/users/{id}");
        assert_eq!(got["requestContext"]["resourcePath"], "/users/{id}");
        assert_eq!(got["pathParameters"], serde_json::json!({"id": "42"}));
        assert_eq!(
            got["requestContext"]["identity"]["apiKey"],
            "partner-key-0123456789"
        );
        assert_eq!(got["requestContext"]["identity"]["apiKeyId"], "abcdefghij");

        let greedy = event(&cfg, &EventCase::new("GET", "/files/a/b.txt"));
        assert_eq!(greedy["resource"], "/files/{path+}");
        assert_eq!(
            greedy["pathParameters"],
            serde_json::json!({"path": "a/b.txt"})
        );
    }

    #[test]
    fn key_required_matching_follows_the_app_router() {
        let cfg = gateway_config(CONFIG, true);
        let required = |method: &str, path: &str| {
            cfg.routes
                .find(method, path)
                .is_some_and(|m| m.key_required)
        };
        assert!(required("GET", "/users/42"));
        assert!(required("GET", "/users/42/"));
        assert!(required("HEAD", "/users/42"), "HEAD is served by GET");
        assert!(!required("PUT", "/users/42"));
        assert!(
            !required("DELETE", "/users/42"),
            "no such method: the app answers 405"
        );
        // A static segment beats a parameter.
        assert!(!required("GET", "/users/me"));
        // ANY covers every method.
        for method in ["GET", "POST", "DELETE", "OPTIONS"] {
            assert!(required(method, "/admin"), "{method}");
        }
        assert!(required("GET", "/files/a/b"));
        assert!(!required("GET", "/files/public"));
        assert!(!required("GET", "/"));
        assert!(!required("GET", "/nowhere"));
    }
}
