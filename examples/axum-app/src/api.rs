//! The app's axum router, as it was before the move to Portico: nested routers, extractors,
//! shared state and tower-http layers. Nothing here knows about Lambda, except `/links/self`
//! (see its comment).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post, put};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    greeting: Arc<str>,
}

/// The whole API.
pub fn router() -> Router {
    let users = Router::new()
        .route("/", post(create_user))
        .route("/{id}", get(get_user));
    Router::new()
        .route("/", get(index))
        .route("/echo", any(echo))
        .route("/echo/{*rest}", any(echo))
        .route("/files/{name}", put(upload))
        .route("/boom", get(boom))
        .route("/links/self", get(links))
        .nest("/users", users)
        .fallback(not_found)
        .with_state(AppState {
            greeting: Arc::from("hello from axum"),
        })
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-served-by"),
            HeaderValue::from_static("axum-app"),
        ))
}

#[derive(Serialize)]
struct Greeting {
    message: Arc<str>,
}

async fn index(State(state): State<AppState>) -> Json<Greeting> {
    Json(Greeting {
        message: state.greeting,
    })
}

#[derive(Deserialize)]
struct UserQuery {
    #[serde(default)]
    verbose: bool,
}

async fn get_user(Path(id): Path<u32>, Query(q): Query<UserQuery>) -> Json<serde_json::Value> {
    if q.verbose {
        Json(serde_json::json!({"id": id, "name": format!("user {id}"), "verbose": true}))
    } else {
        Json(serde_json::json!({"id": id}))
    }
}

#[derive(Deserialize, Serialize)]
struct NewUser {
    name: String,
}

async fn create_user(Json(user): Json<NewUser>) -> (StatusCode, Json<NewUser>) {
    (StatusCode::CREATED, Json(user))
}

/// What the handler saw: method, path, query, headers and body.
async fn echo(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Json<serde_json::Value> {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Json(serde_json::json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "body_len": body.len(),
    }))
}

/// Stores nothing: answers the bytes it got, reversed, so a test can tell them from an echo.
async fn upload(Path(name): Path<String>, body: Bytes) -> impl IntoResponse {
    let mut bytes = body.to_vec();
    bytes.reverse();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                HeaderName::from_static("x-file-name"),
                HeaderValue::from_str(&name).unwrap_or(HeaderValue::from_static("invalid")),
            ),
        ],
        bytes,
    )
}

async fn boom() -> &'static str {
    panic!("the boom handler always fails")
}

/// The one handler written for Portico (after the move): an absolute link to this API, stage
/// prefix included exactly when the client's URL has one. Outside Portico the extension is
/// absent and so is the link.
async fn links(portico: Option<Extension<portico::ServiceContext>>) -> Json<serde_json::Value> {
    let own = portico.and_then(|Extension(p)| p.url("/links/self").ok());
    Json(serde_json::json!({ "self": own }))
}

async fn not_found(uri: Uri) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": format!("nothing at {}", uri.path())})),
    )
}
