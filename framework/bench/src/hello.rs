//! The hello example's Portico app, route for route (`examples/hello/src/main.rs` keeps its
//! `app()` private to its binary). The response bodies are the shared [`crate::model`] types,
//! which serialize exactly as the example's own structs.

use portico::prelude::*;

use crate::model::{Decision, Hello, MISSING_TOKEN, NewUser, User, UserId};

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
        _ => Err(HttpError::bad_request(MISSING_TOKEN)),
    }
}

/// The hello app, as `examples/hello` declares it.
pub fn hello_app() -> App {
    App::new()
        .name("hello")
        .routes(routes![index, get_user, create_user, succeed])
}
