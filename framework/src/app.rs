//! The application: routes, schedules, functions, shared state and CORS put together
//! ([`App`]), checked and frozen for serving ([`BuiltApp`]).

use std::sync::Arc;

use crate::cors::Cors;
use crate::error::UrlError;
use crate::events::EventHandler;
use crate::function::Function;
use crate::request::{AppLinks, StateMap};
use crate::route::{Route, Schedule};
use crate::router::{RouteConflict, Router};

/// An application: what `portico::run` serves.
///
/// ```
/// use portico::prelude::*;
///
/// #[get("/")]
/// async fn index() -> &'static str { "hi" }
///
/// let app = App::new().routes(routes![index]);
/// assert_eq!(app.route_list().len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct App {
    pub(crate) name: Option<String>,
    pub(crate) routes: Vec<Route>,
    pub(crate) schedules: Vec<Schedule>,
    pub(crate) functions: Vec<Function>,
    pub(crate) event_handlers: Vec<EventHandler>,
    pub(crate) state: StateMap,
    pub(crate) cors: Option<Cors>,
    pub(crate) public_url: Option<String>,
    #[cfg(feature = "tower")]
    pub(crate) service: Option<crate::service::ServiceFallback>,
}

impl App {
    /// An empty app.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the app (shown in the manifest; the CLI's config name wins for deployment).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds routes (see [`routes!`](crate::routes)).
    pub fn routes(mut self, routes: impl IntoIterator<Item = Route>) -> Self {
        self.routes.extend(routes);
        self
    }

    /// Adds scheduled handlers (see [`schedules!`](crate::schedules)).
    pub fn schedules(mut self, schedules: impl IntoIterator<Item = Schedule>) -> Self {
        self.schedules.extend(schedules);
        self
    }

    /// Adds direct-invocation functions (see [`functions!`](crate::functions)).
    pub fn functions(mut self, functions: impl IntoIterator<Item = Function>) -> Self {
        self.functions.extend(functions);
        self
    }

    /// Adds event handlers (see [`event_handlers!`](crate::event_handlers)).
    pub fn event_handlers(mut self, handlers: impl IntoIterator<Item = EventHandler>) -> Self {
        self.event_handlers.extend(handlers);
        self
    }

    /// Serves every request no route matches — all of them when the app has no routes — with
    /// a tower [`Service`](tower_service::Service): an axum `Router`, a router wrapped in
    /// tower-http layers, a `BoxCloneService`, ….
    ///
    /// The service gets what Portico's routes get: the event decoded whatever its source
    /// (REST API, HTTP API, function URL, ALB), the path without the stage or base path, the
    /// query, the headers and the whole body (base64-decoded), plus a
    /// [`ServiceContext`](crate::ServiceContext) extension for the gateway's context and the
    /// public URLs. Its response goes back as a Portico route's would (binary bodies
    /// base64-encoded); a service error or panic is a 500 JSON
    /// (`{"code":"InternalServerError",…}`, the details logged) and the next request is
    /// served. The app's [`cors`](Self::cors) policy applies to its routes only: a service
    /// brings its own (tower-http's `CorsLayer`).
    ///
    /// A request for a route's path with a method the route lacks goes to the service too
    /// (except a CORS preflight the route's policy answers). The manifest describes the
    /// service as `ANY /{proxy+}`, so `portico local`, `deploy` and `logs` work unchanged.
    ///
    /// Needs the `tower` feature.
    ///
    /// ```
    /// use axum::{Router, extract::Path, routing::get};
    /// use portico::prelude::*;
    ///
    /// #[get("/health")]
    /// async fn health() -> &'static str { "ok" }
    ///
    /// async fn user(Path(id): Path<u32>) -> String { format!("user {id}") }
    ///
    /// let router = Router::new().route("/users/{id}", get(user));
    /// let app = App::new().routes(routes![health]).service(router);
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let client = portico::testing::TestClient::new(app);
    /// assert_eq!(client.get("/users/7").send().await.text(), "user 7");
    /// assert_eq!(client.get("/health").send().await.text(), "ok");
    /// # });
    /// ```
    ///
    /// # Panics
    /// When the app has a service already (merge or nest the routers into one instead).
    #[cfg(feature = "tower")]
    #[track_caller]
    pub fn service<S, B>(mut self, service: S) -> Self
    where
        S: tower_service::Service<http::Request<crate::ServiceBody>, Response = http::Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let location = std::panic::Location::caller();
        if let Some(first) = &self.service {
            panic!(
                "App::service: this app has a service already (set at {}); merge or nest the \
                 routers into one service",
                first.location
            );
        }
        self.service = Some(crate::service::ServiceFallback::new(service, location));
        self
    }

    /// Shares a value with every handler through the [`State`](crate::State) extractor.
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Sets the app-wide CORS policy (routes may override it).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Sets the public base URL links are built on ([`Request::url_for`](crate::Request::url_for),
    /// [`Request::public_base_url`](crate::Request::public_base_url)), e.g. `https://api.example.com` or
    /// `https://abc.execute-api.eu-west-1.amazonaws.com/prod`: scheme, host and any base path,
    /// without a trailing slash. It wins over what the event says, for every event source.
    /// `portico::run` reads `PORTICO_PUBLIC_URL` when this is not set.
    ///
    /// Set it when the app sits behind an Application Load Balancer (whose `Host` header the
    /// client chooses: without it `url_for` refuses), or when links must name a domain other
    /// than the one the request came through.
    ///
    /// # Panics
    /// When `url` does not start with `http://` or `https://`, or has a query or fragment.
    #[track_caller]
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        if let Err(why) = check_public_url(&url) {
            panic!("App::public_url: {why}");
        }
        self.public_url = Some(url.trim_end_matches('/').to_owned());
        self
    }

    /// The routes added so far.
    pub fn route_list(&self) -> &[Route] {
        &self.routes
    }

    /// The schedules added so far.
    pub fn schedule_list(&self) -> &[Schedule] {
        &self.schedules
    }

    /// The functions added so far.
    pub fn function_list(&self) -> &[Function] {
        &self.functions
    }

    /// The event handlers added so far.
    pub fn event_handler_list(&self) -> &[EventHandler] {
        &self.event_handlers
    }

    /// Validates the app and compiles its router.
    ///
    /// # Errors
    /// [`BuildError`] when two routes conflict (naming both source locations), two schedules
    /// share a name, a function shares its name with a schedule or another function (naming
    /// both), or an entry point is named `api`.
    pub fn build(self) -> Result<BuiltApp, BuildError> {
        let router = Router::new(&self.routes).map_err(BuildError::RouteConflict)?;
        for (i, a) in self.schedules.iter().enumerate() {
            if let Some(b) = self.schedules[..i].iter().find(|b| b.name == a.name) {
                return Err(BuildError::DuplicateSchedule {
                    name: a.name,
                    first: format!("{}:{}", b.file, b.line),
                    second: format!("{}:{}", a.file, a.line),
                });
            }
        }
        // Every entry point in declaration order: schedules, functions, event handlers.
        let entries: Vec<(&'static str, String)> = self
            .schedules
            .iter()
            .map(|s| (s.name, format!("schedule at {}:{}", s.file, s.line)))
            .chain(
                self.functions
                    .iter()
                    .map(|f| (f.name, format!("function at {}:{}", f.file, f.line))),
            )
            .chain(
                self.event_handlers
                    .iter()
                    .map(|h| (h.name, format!("event handler at {}:{}", h.file, h.line))),
            )
            .collect();
        for (i, (name, source)) in entries.iter().enumerate() {
            if *name == "api" {
                return Err(BuildError::ReservedEntryPoint {
                    name,
                    source: source.clone(),
                });
            }
            if let Some((_, first)) = entries[..i].iter().find(|(other, _)| other == name) {
                return Err(BuildError::DuplicateEntryPoint {
                    name,
                    first: first.clone(),
                    second: source.clone(),
                });
            }
        }
        let inner = Arc::new(AppInner {
            router,
            cors: self.cors,
            public_url: self.public_url,
            #[cfg(feature = "tower")]
            service: self.service,
        });
        Ok(BuiltApp {
            inner,
            schedules: self.schedules,
            functions: self.functions,
            event_handlers: self.event_handlers,
            state: Arc::new(self.state),
        })
    }
}

/// Why an [`App`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// Two routes match the same requests.
    RouteConflict(RouteConflict),
    /// Two schedule handlers have the same name.
    DuplicateSchedule {
        /// The shared name.
        name: &'static str,
        /// `file:line` of the first.
        first: String,
        /// `file:line` of the second.
        second: String,
    },
    /// A function has the name of a schedule or of another function.
    DuplicateEntryPoint {
        /// The shared name.
        name: &'static str,
        /// What and where the first is (`schedule at src/main.rs:12`).
        first: String,
        /// What and where the second is (`function at src/main.rs:30`).
        second: String,
    },
    /// A schedule or function is named `api`, the HTTP entry point's name.
    ReservedEntryPoint {
        /// The name (`api`).
        name: &'static str,
        /// What and where it is (`function at src/main.rs:30`).
        source: String,
    },
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RouteConflict(c) => c.fmt(f),
            Self::DuplicateSchedule {
                name,
                first,
                second,
            } => write!(
                f,
                "two schedules are named `{name}`: at {first} and at {second}; rename one"
            ),
            Self::DuplicateEntryPoint {
                name,
                first,
                second,
            } => write!(
                f,
                "two entry points are named `{name}`: the {first} and the {second}; rename one \
                 (`name = \"...\"` in the attribute)"
            ),
            Self::ReservedEntryPoint { name, source } => write!(
                f,
                "the {source} is named `{name}`, the name of the HTTP entry point; rename it \
                 (`name = \"...\"` in the attribute)"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// The parts every request needs a reference to.
#[derive(Debug)]
pub(crate) struct AppInner {
    pub(crate) router: Router,
    pub(crate) cors: Option<Cors>,
    /// Scheme, host and base path links are built on, when configured.
    pub(crate) public_url: Option<String>,
    /// The service that answers what no route matches.
    #[cfg(feature = "tower")]
    pub(crate) service: Option<crate::service::ServiceFallback>,
}

impl AppLinks for AppInner {
    fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    fn path_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlError> {
        self.router.path_for(name, params)
    }
}

/// Checks a configured public base URL: `http(s)://host[/base]`, no query or fragment.
pub(crate) fn check_public_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` does not start with https:// or http://"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(format!("`{url}` names no host"));
    }
    if url.contains(['?', '#']) || url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(format!(
            "`{url}` has a query, a fragment or spaces; give scheme, host and base path only"
        ));
    }
    Ok(())
}

/// A validated app, ready to serve events.
#[derive(Debug, Clone)]
pub struct BuiltApp {
    pub(crate) inner: Arc<AppInner>,
    pub(crate) schedules: Vec<Schedule>,
    pub(crate) functions: Vec<Function>,
    pub(crate) event_handlers: Vec<EventHandler>,
    pub(crate) state: Arc<StateMap>,
}
