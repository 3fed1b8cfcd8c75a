use portico::prelude::*;

#[route(FETCH, "/")]
fn fetch() {}

#[route(get, "/")]
fn lower_case() {}

#[route("/")]
fn no_method() {}

fn main() {}
