use portico::prelude::*;

#[get("/users/")]
fn trailing_slash() {}

#[get("users")]
fn no_leading_slash() {}

#[get("")]
fn empty() {}

#[get("/users//posts")]
fn empty_segment() {}

#[get("/users/{id}.json")]
fn partial_segment(id: String) {
    let _ = id;
}

#[get("/users/{id")]
fn unclosed(id: String) {
    let _ = id;
}

#[get("/files/{rest+}/meta")]
fn greedy_not_last(rest: String) {
    let _ = rest;
}

#[get("/users/{user-id}")]
fn bad_parameter_name() {}

#[get("/search?q={q}")]
fn query_string() {}

#[get("/hello world")]
fn space() {}

fn main() {}
