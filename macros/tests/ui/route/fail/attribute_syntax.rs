use portico::prelude::*;

#[get]
fn no_path() {}

#[get(GET, "/")]
fn method_in_shortcut() {}

#[get(/users)]
fn unquoted_path() {}

#[get("/", cors)]
fn option_without_value() {}

fn main() {}
