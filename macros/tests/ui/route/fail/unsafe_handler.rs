use portico::prelude::*;

#[get("/")]
unsafe fn index() -> &'static str {
    "hi"
}

fn main() {}
