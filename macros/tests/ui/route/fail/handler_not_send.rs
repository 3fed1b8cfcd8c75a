use std::rc::Rc;

use portico::prelude::*;

async fn yield_now() {}

#[get("/")]
async fn index() -> String {
    let shared = Rc::new(String::from("hi"));
    yield_now().await;
    shared.to_string()
}

fn main() {}
