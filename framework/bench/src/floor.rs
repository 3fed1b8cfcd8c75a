//! The floor: `lambda_http::run(service_fn(floor_handler))` with a hand-written `match` on
//! method and path, the least a `lambda_http` user can write for the hello API.

use std::convert::Infallible;

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::{Method, Response, StatusCode};
use lambda_http::{Body, Request, RequestExt};
use serde::Serialize;

use crate::model::{
    Decision, ErrorBody, Hello, MISSING_TOKEN, NewUser, User, UserId, is_json_media_type,
};

/// The hello API as one `lambda_http` handler function.
///
/// The path is the event's `path` (`raw_http_path`): unlike the request URI, it never
/// carries the stage.
///
/// # Errors
/// Never: every failure is an HTTP response.
pub async fn floor_handler(req: Request) -> Result<Response<Body>, Infallible> {
    let path = req.raw_http_path();
    Ok(match *req.method() {
        Method::GET => match path {
            "/" => json(StatusCode::OK, &Hello { hello: "world" }),
            "/respond/succeed" => succeed(&req),
            _ => match user_id(path) {
                Some(id) => json(StatusCode::OK, &UserId { id: id.to_owned() }),
                None => not_found(&req, path),
            },
        },
        Method::POST if path == "/users" => create_user(&req),
        _ => not_found(&req, path),
    })
}

fn user_id(path: &str) -> Option<&str> {
    path.strip_prefix("/users/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

fn create_user(req: &Request) -> Response<Body> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default());
    match content_type {
        Some(ct) if is_json_media_type(ct) => {}
        other => {
            let got = other.map_or_else(|| "no Content-Type".to_owned(), |ct| format!("`{ct}`"));
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                &format!("expected a JSON body (Content-Type: application/json), got {got}"),
            );
        }
    }
    match serde_json::from_slice::<NewUser>(req.body()) {
        Ok(new) => json(
            StatusCode::CREATED,
            &User {
                id: "u-1",
                name: new.name,
                email: new.email,
            },
        ),
        Err(err) => error(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            &format!("invalid JSON body: {err}"),
        ),
    }
}

fn succeed(req: &Request) -> Response<Body> {
    let decision = Decision {
        task_token: req
            .query_string_parameters_ref()
            .and_then(|q| q.first("taskToken"))
            .map(str::to_owned),
    };
    match decision.task_token {
        Some(token) if !token.is_empty() => Response::builder()
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::Text(format!("approved {token}")))
            .expect("a valid response"),
        _ => error(StatusCode::BAD_REQUEST, "BadRequestError", MISSING_TOKEN),
    }
}

fn not_found(req: &Request, path: &str) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "NotFoundError",
        &format!("no route for {} {path}", req.method()),
    )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(status, &ErrorBody { code, message })
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::Text(
            serde_json::to_string(value).expect("the API's bodies serialize"),
        ))
        .expect("a valid response")
}
