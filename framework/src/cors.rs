//! Cross-origin resource sharing: app-wide policy, per-route overrides, preflight answers.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::response::{Body, Response};
use crate::route::RouteCors;

/// A CORS policy. The defaults match what API Gateway's console enables: any origin and the
/// headers AWS clients send.
///
/// ```
/// use portico::{App, Cors};
/// let app = App::new().cors(Cors::new().allow_origin("https://example.com").max_age(600));
/// # let _ = app;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    allow_origin: String,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age: Option<u32>,
    allow_credentials: bool,
}

impl Default for Cors {
    fn default() -> Self {
        Self::new()
    }
}

impl Cors {
    /// Any origin (`*`), the standard AWS request headers, no credentials.
    pub fn new() -> Self {
        Self {
            allow_origin: "*".to_owned(),
            allow_headers: [
                "Authorization",
                "Content-Type",
                "X-Amz-Date",
                "X-Amz-Security-Token",
                "X-Api-Key",
            ]
            .map(str::to_owned)
            .to_vec(),
            expose_headers: Vec::new(),
            max_age: None,
            allow_credentials: false,
        }
    }

    /// The allowed origin (`*` or one origin such as `https://example.com`).
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allow_origin = origin.into();
        self
    }

    /// Adds request headers the browser may send.
    pub fn allow_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, headers: I) -> Self {
        self.allow_headers
            .extend(headers.into_iter().map(Into::into));
        self
    }

    /// Response headers the browser may read.
    pub fn expose_headers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        headers: I,
    ) -> Self {
        self.expose_headers
            .extend(headers.into_iter().map(Into::into));
        self
    }

    /// How long (seconds) a browser may cache a preflight answer.
    pub fn max_age(mut self, seconds: u32) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// Allow cookies and credentials (needs a specific origin, not `*`).
    pub fn allow_credentials(mut self, yes: bool) -> Self {
        self.allow_credentials = yes;
        self
    }

    /// The effective policy for a route, given the app's policy and the route's override.
    pub(crate) fn resolve(app: Option<&Cors>, route: RouteCors) -> Option<Cors> {
        match route {
            RouteCors::Inherit => app.cloned(),
            RouteCors::Disabled => None,
            RouteCors::Enabled => Some(app.cloned().unwrap_or_default()),
            RouteCors::Origin(origin) => {
                Some(app.cloned().unwrap_or_default().allow_origin(origin))
            }
        }
    }

    /// Adds the headers every CORS response carries (also error responses).
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(&self.allow_origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if self.allow_origin != "*" {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        if !self.expose_headers.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&self.expose_headers.join(",")) {
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
        }
        if self.allow_credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// The answer to a preflight `OPTIONS` for a path allowing `methods`.
    pub(crate) fn preflight(&self, methods: &[&str]) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::NO_CONTENT;
        let headers = res.headers_mut();
        self.apply(headers);
        let mut list: Vec<&str> = methods.to_vec();
        if !list.contains(&"OPTIONS") {
            list.push("OPTIONS");
        }
        if let Ok(v) = HeaderValue::from_str(&list.join(",")) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.allow_headers.join(",")) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(age) = self.max_age {
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        res
    }
}

/// Whether a request is a CORS preflight.
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}
