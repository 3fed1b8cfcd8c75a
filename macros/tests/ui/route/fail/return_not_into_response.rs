use portico::prelude::*;

struct User {
    name: String,
}

#[get("/me")]
async fn me() -> User {
    User {
        name: String::new(),
    }
}

#[get("/count")]
fn count() -> Option<u32> {
    None
}

fn main() {}
