use portico::prelude::*;

#[get("/", api_key = true)]
fn typo() {}

#[post("/", timeout = 30)]
fn unknown() {}

fn main() {}
