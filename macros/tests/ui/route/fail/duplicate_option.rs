use portico::prelude::*;

#[get("/", cors = true, name = "home", cors = false)]
fn index() {}

fn main() {}
