//! The hello API's request and response bodies, shared by the three implementations so that
//! they serialize the same bytes.

use serde::{Deserialize, Serialize};

/// `GET /` → `{"hello":"world"}`.
#[derive(Debug, Serialize)]
pub struct Hello {
    /// Always `"world"`.
    pub hello: &'static str,
}

/// `GET /users/{id}` → `{"id":"<id>"}`.
#[derive(Debug, Serialize)]
pub struct UserId {
    /// The path parameter.
    pub id: String,
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    /// The user's name.
    pub name: String,
    /// The user's e-mail address.
    pub email: String,
}

/// `POST /users` → 201 with the new user.
#[derive(Debug, Serialize)]
pub struct User {
    /// Always `"u-1"`.
    pub id: &'static str,
    /// From the request.
    pub name: String,
    /// From the request.
    pub email: String,
}

/// The query of `GET /respond/succeed`.
#[derive(Debug, Deserialize)]
pub struct Decision {
    /// The Step Functions task token; the request is a 400 without it.
    #[serde(rename = "taskToken")]
    pub task_token: Option<String>,
}

/// Portico's error body, `{"code","message"}`, which the peers answer with too.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Stable code, e.g. `BadRequestError`.
    pub code: &'a str,
    /// Human-readable message.
    pub message: &'a str,
}

/// The message of the 400 for `GET /respond/succeed` without a token.
pub const MISSING_TOKEN: &str = "missing query parameter `taskToken`";

/// Whether `content_type` is a JSON media type, as Portico's `Json` extractor decides.
pub fn is_json_media_type(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/json")
        || (media.len() > "application/".len() + "+json".len()
            && media[.."application/".len()].eq_ignore_ascii_case("application/")
            && media[media.len() - "+json".len()..].eq_ignore_ascii_case("+json"))
}
