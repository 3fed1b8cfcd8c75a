//! The axum app through Portico's in-process test client: the REST API events production
//! receives (stage `test`), decoded, handed to the router, and encoded back.

use std::io::Read;

use portico::testing::TestClient;
use serde_json::json;

mod common;

fn client() -> TestClient {
    TestClient::new(axum_app::app())
}

#[tokio::test]
async fn nested_routes_and_extractors_answer_as_under_lambda_http() {
    let client = client();
    let res = client.get("/").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json(), json!({"message": "hello from axum"}));
    assert_eq!(res.header("x-served-by"), Some("axum-app"));

    let res = client.get("/users/7?verbose=true").send().await;
    assert_eq!(
        res.json(),
        json!({"id": 7, "name": "user 7", "verbose": true})
    );
    // axum's own rejection for a path that is not a number.
    assert_eq!(client.get("/users/seven").send().await.status(), 400);

    let res = client
        .post("/users")
        .json(&json!({"name": "Ada"}))
        .send()
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json(), json!({"name": "Ada"}));

    let res = client.get("/no/such/page").send().await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json(), json!({"error": "nothing at /no/such/page"}));
}

#[tokio::test]
async fn the_router_sees_the_request_without_the_stage() {
    let (method, target, (name, value), body) = common::ECHO_PATCH;
    let client = client();
    let request = client.request(method, target).header(name, value);
    common::assert_echoed_patch(&request.body(body).send().await.json());
}

#[tokio::test]
async fn binary_bodies_round_trip_and_compressed_answers_are_binary() {
    let client = client();
    let bytes: Vec<u8> = (0..=255u8).collect();
    let res = client
        .put("/files/blob.bin")
        .header("content-type", "application/octet-stream")
        .body(bytes.clone())
        .base64()
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.is_base64());
    let mut reversed = bytes;
    reversed.reverse();
    assert_eq!(res.bytes(), reversed.as_slice());
    assert_eq!(res.header("x-file-name"), Some("blob.bin"));

    let res = client
        .get("/echo/compressed")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert!(res.is_base64(), "gzip bytes go out base64-encoded");
    let mut text = String::new();
    flate2::read::GzDecoder::new(res.bytes())
        .read_to_string(&mut text)
        .expect("a gzip body");
    let seen: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(seen["path"], "/echo/compressed");
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_and_the_app_keeps_serving() {
    let client = client();
    let res = client.get("/boom").send().await;
    common::assert_panic_answer(res.status().as_u16(), &res.json());
    assert_eq!(client.get("/users/1").send().await.json(), json!({"id": 1}));
}

#[tokio::test]
async fn links_carry_the_stage_and_the_schedule_runs() {
    let client = client();
    assert_eq!(
        client.get("/links/self").send().await.json(),
        json!({"self": "https://abcdef1234.execute-api.us-east-1.amazonaws.com/test/links/self"})
    );
    client
        .fire_schedule("tidy")
        .await
        .expect("the schedule runs");
}

#[test]
fn the_manifest_has_the_proxy_route_and_the_schedule() {
    let manifest = portico::manifest::manifest(&axum_app::app());
    assert_eq!(manifest.routes.len(), 1);
    assert_eq!(
        (
            manifest.routes[0].method.as_str(),
            manifest.routes[0].path.as_str()
        ),
        ("ANY", "/{proxy+}")
    );
    assert_eq!(manifest.entry_points, ["api", "tidy"]);
}
