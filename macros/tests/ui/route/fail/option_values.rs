use portico::prelude::*;

#[post(
    "/",
    api_key_required = "yes",
    content_types = "application/json",
    cors = "https://example.com/app",
    name = ""
)]
fn wrong_types() {}

#[post("/", content_types = ["json", "text/plain; charset=utf-8"], cors = 1)]
fn wrong_values() {}

fn main() {}
