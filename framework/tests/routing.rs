//! Routing, extractors, responses, errors, CORS, stages and schedules through the in-process
//! test client, which runs the production decode → route → encode path on REST v1 events.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portico::prelude::*;
use portico::testing::TestClient;
use portico::{BinaryBody, EventSource, HeaderValue, Method, Text, header};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[get("/")]
async fn index() -> &'static str {
    "index"
}

#[get("/users/{id}")]
async fn user(id: u64) -> String {
    format!("user {id}")
}

#[get("/users/me")]
async fn me() -> &'static str {
    "me"
}

#[delete("/users/{id}")]
async fn delete_user(id: u64) -> StatusCode {
    let _ = id;
    StatusCode::NO_CONTENT
}

#[route(ANY, "/any")]
async fn any(method: Method) -> String {
    method.to_string()
}

#[get("/files/{path+}", name = "file")]
async fn file(path: String) -> String {
    format!("file {path}")
}

#[derive(Deserialize)]
struct Search {
    q: String,
    #[serde(default)]
    tag: Vec<String>,
    page: Option<u32>,
}

#[get("/search")]
async fn search(Query(s): Query<Search>) -> Json<serde_json::Value> {
    Json(json!({"q": s.q, "tag": s.tag, "page": s.page}))
}

#[derive(Deserialize, Serialize)]
struct NewUser {
    name: String,
    age: u8,
}

#[post("/users", content_types = ["application/json"])]
async fn create(Json(new): Json<NewUser>) -> (StatusCode, Json<NewUser>) {
    (StatusCode::CREATED, Json(new))
}

#[derive(Deserialize)]
struct Login {
    user: String,
    #[serde(default)]
    role: Vec<String>,
}

#[post("/login")]
async fn login(Form(form): Form<Login>) -> String {
    format!("{} {}", form.user, form.role.join(","))
}

#[post("/raw")]
async fn raw(body: Bytes, headers: HeaderMap) -> String {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    format!("{} bytes of {ct}", body.len())
}

#[post("/text")]
async fn text(Text(body): Text) -> String {
    body.to_uppercase()
}

#[derive(Clone)]
struct Counter(Arc<AtomicUsize>);

#[get("/count")]
async fn count(State(counter): State<Counter>) -> String {
    (counter.0.fetch_add(1, Ordering::SeqCst) + 1).to_string()
}

#[get("/context")]
async fn context(
    ctx: RequestContext,
    lambda: LambdaContext,
    source: EventSource,
) -> Json<serde_json::Value> {
    Json(json!({
        "request_id": ctx.request_id,
        "stage": ctx.stage,
        "source_ip": ctx.source_ip,
        "base_path": ctx.base_path,
        "claims": ctx.authorizer.as_ref().and_then(|a| a.get("claims")).cloned(),
        "lambda_request_id": lambda.request_id,
        "source": format!("{source:?}"),
    }))
}

#[get("/html")]
async fn html() -> Html<&'static str> {
    Html("<h1>hi</h1>")
}

#[get("/redirect")]
async fn redirect() -> Redirect {
    Redirect::to("/html")
}

#[get("/png")]
async fn png() -> BinaryBody {
    BinaryBody::new("image/png", vec![0x89, b'P', b'N', b'G', 0, 0xff])
}

#[get("/cookies")]
async fn cookies() -> (HeaderMap, &'static str) {
    let mut h = HeaderMap::new();
    h.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
    h.append(header::SET_COOKIE, HeaderValue::from_static("b=2; Path=/"));
    h.insert("x-custom", HeaderValue::from_static("yes"));
    (h, "cookies")
}

#[get("/panic")]
async fn panics() -> &'static str {
    panic!("boom with a secret detail")
}

#[get("/fail")]
async fn fails() -> Result<&'static str, Error> {
    Err("database exploded".into())
}

#[get("/errors/{status}")]
async fn errors(status: u16) -> Result<(), HttpError> {
    Err(match status {
        400 => HttpError::bad_request("bad"),
        401 => HttpError::unauthorized("who"),
        403 => HttpError::forbidden("no"),
        404 => HttpError::not_found("none"),
        405 => HttpError::method_not_allowed(&["GET"]),
        408 => HttpError::request_timeout("slow"),
        409 => HttpError::conflict("clash"),
        413 => HttpError::payload_too_large("big"),
        415 => HttpError::unsupported_media_type("type"),
        422 => HttpError::unprocessable("invalid"),
        429 => HttpError::too_many_requests("slow down"),
        _ => HttpError::internal("hidden detail"),
    })
}

#[get("/link/{id}")]
async fn link(id: u64, req_ctx: RequestContext) -> String {
    let _ = req_ctx;
    format!("{id}")
}

#[get("/urls")]
async fn urls(req: UrlProbe) -> String {
    req.0
}

/// A custom extractor that builds URLs with `url_for` from the request.
struct UrlProbe(String);

impl portico::FromRequest for UrlProbe {
    type Rejection = HttpError;
    fn from_request(req: &mut portico::Request) -> Result<Self, HttpError> {
        let a = req
            .url_for("link", &[("id", "7")])
            .map_err(HttpError::internal)?;
        let b = req
            .url_for("file", &[("path", "a b/c.txt")])
            .map_err(HttpError::internal)?;
        Ok(UrlProbe(format!("{a} {b}")))
    }
}

#[get("/cors-off", cors = false)]
async fn cors_off() -> &'static str {
    "no cors"
}

#[get("/cors-origin", cors = "https://app.example.com")]
async fn cors_origin() -> &'static str {
    "origin"
}

fn app() -> App {
    App::new()
        .routes(routes![
            index,
            user,
            me,
            delete_user,
            any,
            file,
            search,
            create,
            login,
            raw,
            text,
            count,
            context,
            html,
            redirect,
            png,
            cookies,
            panics,
            fails,
            errors,
            link,
            urls,
            cors_off,
            cors_origin
        ])
        .state(Counter(Arc::new(AtomicUsize::new(0))))
}

fn client() -> TestClient {
    TestClient::new(app())
}

#[tokio::test]
async fn routes_by_method_and_path() {
    let c = client();
    assert_eq!(c.get("/").send().await.text(), "index");
    assert_eq!(c.get("/users/42").send().await.text(), "user 42");
    // A static segment wins over a parameter, as in API Gateway.
    assert_eq!(c.get("/users/me").send().await.text(), "me");
    assert_eq!(c.delete("/users/42").send().await.status(), 204);
    assert_eq!(
        c.get("/files/a/b/c.txt").send().await.text(),
        "file a/b/c.txt"
    );
    for method in ["GET", "POST", "PATCH", "PUT"] {
        assert_eq!(c.request(method, "/any").send().await.text(), method);
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let c = client();
    let res = c.get("/nope").send().await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json()["code"], "NotFoundError");
    // The greedy parameter needs at least one segment.
    assert_eq!(c.get("/files").send().await.status(), 404);

    let res = c.put("/users/42").send().await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("allow"), Some("DELETE, GET, HEAD"));
    assert_eq!(res.json()["code"], "MethodNotAllowedError");
}

#[tokio::test]
async fn head_is_served_by_get_without_a_body() {
    let c = client();
    let res = c.request("HEAD", "/users/42").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), "");
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}

#[tokio::test]
async fn a_trailing_slash_routes_like_the_path_without_it() {
    let c = client();
    assert_eq!(c.get("/users/42/").send().await.text(), "user 42");
    assert_eq!(c.get("/").send().await.text(), "index");
    assert_eq!(c.get("/users/me/").send().await.text(), "me");
    assert_eq!(c.get("/users/42//").send().await.status(), 404);
}

#[tokio::test]
async fn typed_path_parameters_reject_bad_values_with_400() {
    let res = client().get("/users/abc").send().await;
    assert_eq!(res.status(), 400);
    let body = res.json();
    assert_eq!(body["code"], "BadRequestError");
    assert!(body["message"].as_str().unwrap().contains("`id`"), "{body}");
}

#[tokio::test]
async fn query_single_and_multi_value() {
    let c = client();
    let res = c.get("/search?q=rust&tag=a&tag=b%20c&page=2").send().await;
    assert_eq!(
        res.json(),
        json!({"q": "rust", "tag": ["a", "b c"], "page": 2})
    );
    let res = c.get("/search?q=x").send().await;
    assert_eq!(res.json(), json!({"q": "x", "tag": [], "page": null}));
    let res = c.get("/search?page=2").send().await;
    assert_eq!(res.status(), 400);
    assert!(res.json()["message"].as_str().unwrap().contains("q"));
}

#[tokio::test]
async fn json_bodies_and_their_failures() {
    let c = client();
    let res = c
        .post("/users")
        .json(&json!({"name": "Ada", "age": 36}))
        .send()
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json(), json!({"name": "Ada", "age": 36}));

    let res = c
        .post("/users")
        .header("Content-Type", "application/json")
        .body("{\n  \"name\": \"Ada\",\n  \"age\": 300\n}")
        .send()
        .await;
    assert_eq!(res.status(), 400);
    let message = res.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("line 3 column"), "{message}");

    let res = c
        .post("/users")
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await;
    assert_eq!(res.status(), 415);
    assert_eq!(res.json()["code"], "UnsupportedMediaType");

    let res = c
        .post("/users")
        .header("Content-Type", "application/json; charset=utf-8")
        .body("{\"name\":\"B\",\"age\":1}")
        .send()
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn forms_headers_bytes_and_text() {
    let c = client();
    let res = c
        .post("/login")
        .form(&[("user", "ada"), ("role", "admin"), ("role", "dev")])
        .send()
        .await;
    assert_eq!(res.text(), "ada admin,dev");
    let res = c
        .post("/login")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await;
    assert_eq!(res.status(), 415);

    let res = c
        .post("/raw")
        .header("Content-Type", "application/octet-stream")
        .body(vec![0u8, 1, 2, 255])
        .base64()
        .send()
        .await;
    assert_eq!(res.text(), "4 bytes of application/octet-stream");

    assert_eq!(c.post("/text").body("shout").send().await.text(), "SHOUT");
    let res = c.post("/text").body(vec![0xff, 0xfe]).base64().send().await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn shared_state_is_shared() {
    let c = client();
    assert_eq!(c.get("/count").send().await.text(), "1");
    assert_eq!(c.get("/count").send().await.text(), "2");
}

#[tokio::test]
async fn request_and_lambda_context() {
    let res = client()
        .get("/context")
        .source_ip("198.51.100.9")
        .authorizer(json!({"claims": {"sub": "user-1", "email": "a@example.com"}}))
        .send()
        .await;
    let body = res.json();
    assert_eq!(body["request_id"], "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
    assert_eq!(body["stage"], "test");
    assert_eq!(body["base_path"], "/test");
    assert_eq!(body["source_ip"], "198.51.100.9");
    assert_eq!(body["claims"]["sub"], "user-1");
    assert_eq!(body["source"], "RestApi");
    assert_eq!(body["lambda_request_id"], "");
}

#[tokio::test]
async fn response_types() {
    let c = client();
    let res = c.get("/html").send().await;
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(res.text(), "<h1>hi</h1>");

    let res = c.get("/redirect").send().await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.header("location"), Some("/html"));

    let res = c.get("/png").send().await;
    assert!(res.is_base64());
    assert_eq!(res.bytes(), &[0x89, b'P', b'N', b'G', 0, 0xff]);
    assert_eq!(res.header("content-type"), Some("image/png"));

    let res = c.get("/cookies").send().await;
    assert_eq!(
        res.header_all("set-cookie"),
        vec!["a=1; Path=/", "b=2; Path=/"]
    );
    assert_eq!(res.header("x-custom"), Some("yes"));
    assert!(!res.is_base64());
}

#[tokio::test]
async fn typed_errors_have_stable_status_code_and_body() {
    let c = client();
    for (status, code) in [
        (400, "BadRequestError"),
        (401, "UnauthorizedError"),
        (403, "ForbiddenError"),
        (404, "NotFoundError"),
        (405, "MethodNotAllowedError"),
        (408, "RequestTimeoutError"),
        (409, "ConflictError"),
        (413, "RequestEntityTooLargeError"),
        (415, "UnsupportedMediaType"),
        (422, "UnprocessableEntityError"),
        (429, "TooManyRequestsError"),
        (500, "InternalServerError"),
    ] {
        let res = c.get(&format!("/errors/{status}")).send().await;
        assert_eq!(res.status().as_u16(), status);
        assert_eq!(res.header("content-type"), Some("application/json"));
        let body = res.json();
        assert_eq!(body["code"], code, "{status}");
        assert!(body["message"].is_string());
    }
    let res = c.get("/errors/500").send().await;
    assert!(!res.text().contains("hidden detail"));
}

#[tokio::test]
async fn panics_and_errors_become_500_and_serving_continues() {
    let c = client();
    let res = c.get("/panic").send().await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.json()["code"], "InternalServerError");
    assert!(!res.text().contains("secret"));
    let res = c.get("/fail").send().await;
    assert_eq!(res.status(), 500);
    assert!(!res.text().contains("database"));
    assert_eq!(c.get("/users/1").send().await.text(), "user 1");
}

#[tokio::test]
async fn urls_carry_the_stage_only_on_execute_api_hosts() {
    let res = client().get("/urls").send().await;
    assert_eq!(
        res.text(),
        "https://abcdef1234.execute-api.us-east-1.amazonaws.com/test/link/7 \
         https://abcdef1234.execute-api.us-east-1.amazonaws.com/test/files/a%20b/c.txt"
    );
    let res = client()
        .with_host("api.example.com")
        .get("/urls")
        .send()
        .await;
    assert_eq!(
        res.text(),
        "https://api.example.com/link/7 https://api.example.com/files/a%20b/c.txt"
    );
}

fn cors_client() -> TestClient {
    TestClient::new(app().cors(portico::Cors::new().max_age(600)))
}

#[tokio::test]
async fn cors_headers_on_success_and_errors() {
    let c = cors_client();
    for path in ["/", "/nope", "/users/abc", "/panic"] {
        let res = c
            .get(path)
            .header("Origin", "https://x.example")
            .send()
            .await;
        assert_eq!(
            res.header("access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
    }
    let res = c.put("/users/1").send().await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    // Without an app policy there are no CORS headers.
    let res = client().get("/").send().await;
    assert_eq!(res.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let c = cors_client();
    let res = c
        .request("OPTIONS", "/users/1")
        .header("Origin", "https://x.example")
        .header("Access-Control-Request-Method", "DELETE")
        .send()
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        res.header("access-control-allow-methods"),
        Some("DELETE,GET,HEAD,OPTIONS")
    );
    assert!(
        res.header("access-control-allow-headers")
            .unwrap()
            .contains("X-Api-Key")
    );
    assert_eq!(res.header("access-control-max-age"), Some("600"));
}

#[tokio::test]
async fn cors_per_route_overrides() {
    let c = cors_client();
    let res = c.get("/cors-off").send().await;
    assert_eq!(res.header("access-control-allow-origin"), None);
    let res = c.get("/cors-origin").send().await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    // Per-route CORS works without an app policy too.
    let res = client().get("/cors-origin").send().await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

#[tokio::test]
async fn route_content_types_are_enforced_before_the_handler() {
    let res = client()
        .post("/users")
        .header("Content-Type", "application/xml")
        .body("<x/>")
        .send()
        .await;
    assert_eq!(res.status(), 415);
    assert!(
        res.json()["message"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
}

mod conflicts {
    use super::*;

    #[get("/a/{id}")]
    async fn first(id: String) -> String {
        id
    }

    #[get("/a/{name}")]
    async fn second(name: String) -> String {
        name
    }

    #[get("/a/{id}", name = "other")]
    async fn same(id: String) -> String {
        id
    }

    #[test]
    fn conflicting_routes_name_both_source_locations() {
        let err = App::new()
            .routes(routes![first, second])
            .build()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("first") && text.contains("second"), "{text}");
        assert_eq!(text.matches("routing.rs:").count(), 2, "{text}");

        let err = App::new().routes(routes![first, same]).build().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("same path and method"), "{text}");
        assert!(text.contains("first") && text.contains("same"), "{text}");
    }

    #[test]
    #[should_panic(expected = "route conflict")]
    fn the_test_client_refuses_a_conflicting_app() {
        let _ = TestClient::new(App::new().routes(routes![first, second]));
    }
}

mod schedules {
    use super::*;
    use std::sync::atomic::AtomicBool;

    static FIRED: AtomicBool = AtomicBool::new(false);

    #[schedule("rate(5 minutes)")]
    async fn tick(event: ScheduledEvent) {
        assert_eq!(event.detail_type, "Scheduled Event");
        FIRED.store(true, Ordering::SeqCst);
    }

    #[schedule("cron(0 12 ? * MON-FRI *)")]
    async fn broken() -> Result<(), Error> {
        Err("report failed".into())
    }

    #[tokio::test]
    async fn schedule_handlers_run_and_report_errors() {
        let c = TestClient::new(App::new().schedules(schedules![tick, broken]));
        c.fire_schedule("tick").await.unwrap();
        assert!(FIRED.load(Ordering::SeqCst));
        let (kind, message) = c.fire_schedule("broken").await.unwrap_err();
        assert_eq!(kind, "portico.ScheduleHandlerError");
        assert_eq!(message, "report failed");
    }

    #[test]
    fn the_manifest_round_trips_through_the_schema_the_cli_reads() {
        let app = App::new()
            .name("demo")
            .routes(routes![super::create, super::index])
            .schedules(schedules![tick]);
        let written = portico::manifest::manifest_json(&app);
        let read = portico_spec::manifest::Manifest::from_json(written.as_bytes()).unwrap();
        assert_eq!(read, portico::manifest::manifest(&app));
        assert_eq!(read.to_json_pretty(), written);
        // The format of manifest version 1, field order included.
        let keys = [
            "manifest_version",
            "framework_version",
            "app_name",
            "entry_points",
            "entry_point_variable",
            "routes",
            "name",
            "method",
            "path",
            "handler",
            "options",
            "api_key_required",
            "content_types",
            "cors",
            "source",
            "schedules",
            "expression",
            "functions",
        ];
        let mut at = 0;
        for key in keys {
            let found = written[at..].find(&format!("\"{key}\":"));
            at += found.unwrap_or_else(|| panic!("`{key}` after byte {at}: {written}"));
        }
        let options: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(
            options["routes"][1]["options"],
            json!({"api_key_required": false, "content_types": [], "cors": {"mode": "inherit"}, "name": null})
        );
        assert_eq!(options["entry_point_variable"], "PORTICO_HANDLER");
    }

    #[test]
    fn the_manifest_lists_routes_schedules_and_entry_points() {
        let app = App::new()
            .name("demo")
            .routes(routes![super::create, super::index])
            .schedules(schedules![tick]);
        let manifest: serde_json::Value =
            serde_json::from_str(&portico::manifest::manifest_json(&app)).unwrap();
        assert_eq!(manifest["app_name"], "demo");
        assert_eq!(manifest["entry_points"], json!(["api", "tick"]));
        assert_eq!(manifest["routes"][0]["method"], "POST");
        assert_eq!(manifest["routes"][0]["path"], "/users");
        assert_eq!(
            manifest["routes"][0]["options"]["content_types"],
            json!(["application/json"])
        );
        assert_eq!(manifest["schedules"][0]["expression"], "rate(5 minutes)");
        assert!(
            manifest["schedules"][0]["source"]
                .as_str()
                .unwrap()
                .contains("routing.rs:")
        );
    }
}

#[test]
fn test_events_hit_the_resource_api_gateway_would() {
    let client = TestClient::new(App::new().routes(routes![index]));
    // `{proxy+}` does not match the root: AWS sends the `/` resource without parameters.
    let root = client.get("/").to_event();
    assert_eq!(root["resource"], "/");
    assert_eq!(root["requestContext"]["resourcePath"], "/");
    assert_eq!(root["pathParameters"], serde_json::Value::Null);
    let deep = client.get("/users/7/").to_event();
    assert_eq!(deep["resource"], "/{proxy+}");
    assert_eq!(deep["pathParameters"], json!({"proxy": "users/7"}));
    assert_eq!(deep["requestContext"]["path"], "/test/users/7/");
}
