//! Method and path routing on `matchit`, with API Gateway's path syntax.
//!
//! Trailing slashes: route templates may not end in `/` (API Gateway forbids it), and a request
//! for `/users/42/` is routed as `/users/42`. An empty path is `/`.

use std::fmt;
use std::sync::Arc;

use http::Method;

use crate::route::{Route, RouteMethod};
use portico_spec::route_path::{Segment, parse_route_path, write_path};

/// Two routes that would answer the same requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConflict {
    /// `METHOD /path` and `file:line` of the route added first.
    pub first: String,
    /// `METHOD /path` and `file:line` of the route that conflicts with it.
    pub second: String,
    /// What the conflict is.
    pub reason: String,
}

impl fmt::Display for RouteConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "route conflict: {} and {} ({})",
            self.first, self.second, self.reason
        )
    }
}

impl std::error::Error for RouteConflict {}

#[derive(Debug)]
struct PathEntry {
    template: &'static str,
    segments: Vec<Segment>,
    param_names: Vec<Arc<str>>,
    /// (method, index into `routes`), in insertion order.
    methods: Vec<(RouteMethod, usize)>,
}

/// The outcome of routing one request.
pub(crate) enum RouteMatch<'r> {
    /// A handler, with its path parameters.
    Found {
        route: &'r Route,
        params: Vec<(Arc<str>, String)>,
    },
    /// The path exists but not for this method.
    MethodNotAllowed {
        allowed: Vec<&'static str>,
        routes: Vec<&'r Route>,
    },
    /// No route has this path.
    NotFound,
}

/// Compiled routes.
#[derive(Debug)]
pub(crate) struct Router {
    tree: matchit::Router<usize>,
    entries: Vec<PathEntry>,
    routes: Vec<Route>,
}

fn describe(route: &Route) -> String {
    let method = match &route.method {
        RouteMethod::Any => "ANY".to_owned(),
        RouteMethod::One(m) => m.to_string(),
    };
    format!(
        "`{method} {}` ({} at {}:{})",
        route.path, route.handler_name, route.file, route.line
    )
}

fn methods_overlap(a: &RouteMethod, b: &RouteMethod) -> bool {
    match (a, b) {
        (RouteMethod::One(x), RouteMethod::One(y)) => x == y,
        _ => true,
    }
}

impl Router {
    /// Compiles `routes`.
    ///
    /// # Errors
    /// A [`RouteConflict`] naming both source locations.
    pub(crate) fn new(routes: &[Route]) -> Result<Self, RouteConflict> {
        let mut router = Self {
            tree: matchit::Router::new(),
            entries: Vec::new(),
            routes: routes.to_vec(),
        };
        for (index, route) in routes.iter().enumerate() {
            router.insert(index, route)?;
        }
        for (i, a) in routes.iter().enumerate() {
            if let Some(b) = routes[..i].iter().find(|b| b.name() == a.name()) {
                return Err(RouteConflict {
                    first: describe(b),
                    second: describe(a),
                    reason: format!("both are named `{}`; give one a `name = \"...\"`", a.name()),
                });
            }
        }
        Ok(router)
    }

    fn insert(&mut self, index: usize, route: &Route) -> Result<(), RouteConflict> {
        // The macros validate paths at compile time; a hand-built Route is checked here.
        let parsed = parse_route_path(route.path).map_err(|e| RouteConflict {
            first: describe(route),
            second: describe(route),
            reason: format!("invalid path: {}", e.message),
        })?;
        if let Some(entry) = self.entries.iter_mut().find(|e| e.template == route.path) {
            if let Some((_, other)) = entry
                .methods
                .iter()
                .find(|(m, _)| methods_overlap(m, &route.method))
            {
                return Err(RouteConflict {
                    first: describe(&self.routes[*other]),
                    second: describe(route),
                    reason: "same path and method".to_owned(),
                });
            }
            entry.methods.push((route.method.clone(), index));
            return Ok(());
        }
        let entry_index = self.entries.len();
        let matchit_path = parsed.to_matchit();
        if let Err(err) = self.tree.insert(matchit_path, entry_index) {
            let reason = err.to_string();
            let other = match &err {
                matchit::InsertError::Conflict { with } => self
                    .entries
                    .iter()
                    .find(|e| {
                        parse_route_path(e.template)
                            .map(|p| &p.to_matchit() == with)
                            .unwrap_or(false)
                    })
                    .and_then(|e| e.methods.first())
                    .map(|(_, i)| describe(&self.routes[*i])),
                _ => None,
            };
            return Err(RouteConflict {
                first: other.unwrap_or_else(|| describe(route)),
                second: describe(route),
                reason: format!(
                    "the paths match the same requests ({reason}); API Gateway would reject them too"
                ),
            });
        }
        let param_names = parsed.params().map(Arc::from).collect();
        self.entries.push(PathEntry {
            template: route.path,
            segments: parsed.segments,
            param_names,
            methods: vec![(route.method.clone(), index)],
        });
        Ok(())
    }

    /// Routes `method path`.
    pub(crate) fn at(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        let path = normalize(path);
        let Ok(found) = self.tree.at(path) else {
            return RouteMatch::NotFound;
        };
        let entry = &self.entries[*found.value];
        let pick = |wanted: &Method| {
            entry
                .methods
                .iter()
                .find(|(m, _)| matches!(m, RouteMethod::One(x) if x == wanted))
                .or_else(|| entry.methods.iter().find(|(m, _)| *m == RouteMethod::Any))
        };
        let chosen = pick(method).or_else(|| {
            // HEAD is answered by the GET route when there is no HEAD route.
            (method == Method::HEAD)
                .then(|| pick(&Method::GET))
                .flatten()
        });
        match chosen {
            Some((_, index)) => {
                let params = entry
                    .param_names
                    .iter()
                    .zip(found.params.iter())
                    .map(|(name, (_, value))| (Arc::clone(name), value.to_owned()))
                    .collect();
                RouteMatch::Found {
                    route: &self.routes[*index],
                    params,
                }
            }
            None => {
                let mut allowed: Vec<&'static str> = Vec::new();
                for (m, _) in &entry.methods {
                    if let RouteMethod::One(m) = m {
                        allowed.push(static_method(m));
                        if *m == Method::GET && !allowed.contains(&"HEAD") {
                            allowed.push("HEAD");
                        }
                    }
                }
                allowed.sort_unstable();
                allowed.dedup();
                RouteMatch::MethodNotAllowed {
                    allowed,
                    routes: entry
                        .methods
                        .iter()
                        .map(|(_, i)| &self.routes[*i])
                        .collect(),
                }
            }
        }
    }

    /// The path of the route named `name` with its parameters filled in and percent-encoded.
    pub(crate) fn path_for(
        &self,
        name: &str,
        params: &[(&str, &str)],
    ) -> Result<String, crate::UrlError> {
        let route = self
            .routes
            .iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| crate::UrlError::UnknownRoute(name.to_owned()))?;
        let entry = self
            .entries
            .iter()
            .find(|e| e.template == route.path)
            .ok_or_else(|| crate::UrlError::UnknownRoute(name.to_owned()))?;
        let lookup = |p: &str| {
            params
                .iter()
                .find(|(k, _)| *k == p)
                .map(|(_, v)| *v)
                .ok_or_else(|| crate::UrlError::MissingParam(p.to_owned()))
        };
        write_path(&entry.segments, |out, name, greedy| {
            let value = lookup(name)?;
            if greedy {
                // A greedy value keeps its slashes; each part between them is encoded.
                let parts: Vec<String> = value
                    .split('/')
                    .map(|part| percent_encoding::utf8_percent_encode(part, SEGMENT).to_string())
                    .collect();
                out.push_str(&parts.join("/"));
            } else {
                out.extend(percent_encoding::utf8_percent_encode(value, SEGMENT));
            }
            Ok(())
        })
    }
}

/// Characters escaped in a path segment: everything but RFC 3986 unreserved and sub-delims.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

fn normalize(path: &str) -> &str {
    if path.is_empty() {
        return "/";
    }
    match path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => path,
    }
}

fn static_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "EXTENSION",
    }
}
