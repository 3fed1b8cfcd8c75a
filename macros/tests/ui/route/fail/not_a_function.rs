use portico::prelude::*;

#[get("/")]
struct Index;

fn main() {}
