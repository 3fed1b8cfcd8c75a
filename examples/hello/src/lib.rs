//! The hello example: the API every Portico benchmark serves (`src/main.rs` runs it on Lambda;
//! the benchmarks and tests call [`app`]).
//!
//! - `GET /` → `{"hello":"world"}`
//! - `GET /users/{id}` → `{"id":"<id>"}`
//! - `POST /users` with `{"name","email"}` → 201 with the new user
//! - `GET /respond/succeed?taskToken=XYZ` → `approved XYZ` (400 without a token)

use portico::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Hello {
    hello: &'static str,
}

#[derive(Serialize)]
struct UserId {
    id: String,
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    email: String,
}

#[derive(Serialize)]
struct User {
    id: &'static str,
    name: String,
    email: String,
}

#[derive(Deserialize)]
struct Decision {
    #[serde(rename = "taskToken")]
    task_token: Option<String>,
}

#[get("/")]
async fn index() -> Json<Hello> {
    Json(Hello { hello: "world" })
}

#[get("/users/{id}")]
async fn get_user(id: String) -> Json<UserId> {
    Json(UserId { id })
}

#[post("/users")]
async fn create_user(Json(new): Json<NewUser>) -> (StatusCode, Json<User>) {
    (
        StatusCode::CREATED,
        Json(User {
            id: "u-1",
            name: new.name,
            email: new.email,
        }),
    )
}

#[get("/respond/succeed")]
async fn succeed(Query(q): Query<Decision>) -> Result<String, HttpError> {
    match q.task_token {
        Some(token) if !token.is_empty() => Ok(format!("approved {token}")),
        _ => Err(HttpError::bad_request(
            "missing query parameter `taskToken`",
        )),
    }
}

/// The hello app: its routes, as `portico::run` serves them.
pub fn app() -> App {
    App::new()
        .name("hello")
        .routes(routes![index, get_user, create_user, succeed])
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico::testing::TestClient;
    use serde_json::json;

    #[tokio::test]
    async fn serves_the_benchmark_routes() {
        let client = TestClient::new(app());

        let res = client.get("/").send().await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json(), json!({"hello": "world"}));

        let res = client.get("/users/42").send().await;
        assert_eq!(res.json(), json!({"id": "42"}));

        let res = client
            .post("/users")
            .json(&json!({"name": "Ada", "email": "ada@example.com"}))
            .send()
            .await;
        assert_eq!(res.status(), 201);
        assert_eq!(
            res.json(),
            json!({"id": "u-1", "name": "Ada", "email": "ada@example.com"})
        );

        let res = client.get("/respond/succeed?taskToken=XYZ").send().await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.text(), "approved XYZ");

        assert_eq!(client.get("/respond/succeed").send().await.status(), 400);
        assert_eq!(client.get("/nope").send().await.status(), 404);
    }

    #[tokio::test]
    async fn rejects_bad_user_bodies_with_json_errors() {
        let client = TestClient::new(app());
        // Each body, and what the error message says about it.
        for (body, says) in [
            (r#"{"name": "Ada"}"#, "missing field `email`"),
            (r#"{"name": 1, "email": "x"}"#, "invalid type"),
            (r#"{"name": "#, "line 1 column"),
        ] {
            let request = client
                .post("/users")
                .header("Content-Type", "application/json");
            let res = request.body(body).send().await;
            assert_eq!(res.status(), 400, "{body}");
            let error = res.json();
            assert_eq!(error["code"], "BadRequestError", "{body}");
            let message = error["message"].as_str().unwrap();
            assert!(message.contains(says), "{body}: {message}");
        }
    }
}
