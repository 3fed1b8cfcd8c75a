//! The hello API as an axum router, served with `lambda_http::run(router)`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::model::{Decision, ErrorBody, Hello, MISSING_TOKEN, NewUser, User, UserId};

/// The hello API's routes. Behind `lambda_http`, the request URI carries the stage unless
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set (see [`crate::LAMBDA_HTTP_ENV`]).
pub fn axum_router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(get_user))
        .route("/users", post(create_user))
        .route("/respond/succeed", get(succeed))
        .fallback(not_found)
}

async fn index() -> Json<Hello> {
    Json(Hello { hello: "world" })
}

async fn get_user(Path(id): Path<String>) -> Json<UserId> {
    Json(UserId { id })
}

async fn create_user(
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let Json(new) = body.map_err(|rejection| match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "UnsupportedMediaType",
            message: rejection.body_text(),
        },
        other => ApiError::bad_request(format!("invalid JSON body: {}", other.body_text())),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(User {
            id: "u-1",
            name: new.name,
            email: new.email,
        }),
    ))
}

async fn succeed(query: Result<Query<Decision>, QueryRejection>) -> Result<String, ApiError> {
    let Query(q) = query.map_err(|rejection| {
        ApiError::bad_request(format!("invalid query string: {}", rejection.body_text()))
    })?;
    match q.task_token {
        Some(token) if !token.is_empty() => Ok(format!("approved {token}")),
        _ => Err(ApiError::bad_request(MISSING_TOKEN.to_owned())),
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "NotFoundError",
        message: format!("no route for {method} {}", uri.path()),
    }
}

/// Portico's `{"code","message"}` errors, for identical answers.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequestError",
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
