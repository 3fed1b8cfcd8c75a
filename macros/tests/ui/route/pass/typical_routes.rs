//! Typical routes: every attribute, path parameters bound by name (any `FromStr` type, greedy
//! ones too), extractors, options, sync and async handlers, visibilities, modules. The routes
//! are then served through the in-process test client, so the generated handlers really run.

use portico::prelude::*;
use portico::{RouteCors, RouteMethod};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct NewUser {
    pub name: String,
}

#[derive(Serialize)]
pub struct User {
    pub id: u64,
    pub name: String,
}

#[derive(Deserialize)]
struct Page {
    page: Option<u32>,
}

#[get("/")]
fn index() -> &'static str {
    "hello"
}

#[get("/users/{id}", name = "user")]
async fn get_user(id: u64, Query(page): Query<Page>) -> Json<User> {
    let name = format!("page {}", page.page.unwrap_or(1));
    Json(User { id, name })
}

#[post(
    "/users",
    content_types = ["application/json"],
    api_key_required = true,
)]
pub async fn create_user(Json(new): Json<NewUser>) -> Result<(StatusCode, Json<User>), HttpError> {
    if new.name.is_empty() {
        return Err(HttpError::bad_request("name must not be empty"));
    }
    Ok((
        StatusCode::CREATED,
        Json(User {
            id: 7,
            name: new.name,
        }),
    ))
}

#[put("/users/{user_id}/tags/{tag}", cors = false)]
pub(crate) async fn put_tag(tag: String, mut user_id: u32, _headers: HeaderMap) -> String {
    user_id += 1;
    format!("{tag} for {user_id}")
}

#[delete("/users/{id}")]
async fn delete_user(r#id: u64) -> StatusCode {
    let _ = id;
    StatusCode::NO_CONTENT
}

#[patch("/users/{id}")]
fn patch_user(id: String, body: Bytes) -> impl IntoResponse {
    format!("{id}: {} bytes", body.len())
}

#[route(ANY, "/files/{path+}", cors = "https://example.com")]
async fn files(path: String) -> String {
    path
}

#[head("/health")]
fn health_head() -> StatusCode {
    StatusCode::OK
}

#[options("/health")]
fn health_options() {}

#[route(GET, "/health")]
async fn health() -> &'static str {
    "ok"
}

#[portico::get("/v2/{version}")]
fn qualified(version: char) -> String {
    version.to_string()
}

mod nested {
    use portico::prelude::*;

    #[get("/nested/{flag}")]
    pub async fn nested(flag: bool) -> String {
        format!("flag={flag}")
    }
}

fn app() -> App {
    App::new().routes(routes![
        index,
        get_user,
        create_user,
        put_tag,
        delete_user,
        patch_user,
        files,
        health_head,
        health_options,
        health,
        qualified,
        nested::nested,
    ])
}

fn main() {
    let app = app();
    let routes = app.route_list();
    assert_eq!(routes.len(), 12);
    assert!(
        routes
            .iter()
            .all(|r| r.file.ends_with("typical_routes.rs") && r.line > 0)
    );
    let index = &routes[0];
    assert_eq!(
        (index.path, index.handler_name, index.name()),
        ("/", "index", "index")
    );
    assert_eq!(index.line, 25, "the line of the attribute");
    assert_eq!(routes[1].name(), "user");
    let create = &routes[2];
    assert_eq!(format!("{:?}", create.method), "One(POST)");
    assert!(create.options.api_key_required);
    assert_eq!(create.options.content_types, ["application/json"]);
    assert_eq!(routes[3].options.cors, RouteCors::Disabled);
    assert_eq!(routes[4].handler_name, "delete_user");
    assert_eq!(routes[6].method, RouteMethod::Any);
    assert_eq!(
        routes[6].options.cors,
        RouteCors::Origin("https://example.com")
    );
    assert_eq!(routes[11].handler_name, "nested");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = portico::testing::TestClient::new(app);
        assert_eq!(client.get("/").send().await.text(), "hello");

        let res = client.get("/users/42?page=3").send().await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json()["id"], 42);
        assert_eq!(res.json()["name"], "page 3");
        let res = client.get("/users/abc").send().await;
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "`id` does not parse as u64"
        );

        let res = client
            .post("/users")
            .json(&serde_json::json!({ "name": "Ada" }))
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.json()["name"], "Ada");

        let res = client.put("/users/1/tags/admin").send().await;
        assert_eq!(res.text(), "admin for 2");
        let res = client.delete("/users/1").send().await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let res = client.request("PATCH", "/users/x").body("abc").send().await;
        assert_eq!(res.text(), "x: 3 bytes");
        let res = client.post("/files/a/b/c.txt").send().await;
        assert_eq!(res.text(), "a/b/c.txt");
        assert_eq!(client.get("/health").send().await.text(), "ok");
        assert_eq!(client.get("/v2/x").send().await.text(), "x");
        assert_eq!(client.get("/nested/true").send().await.text(), "flag=true");
    });
}
