use portico::prelude::*;

struct UserId(String);

#[get("/users/{id}")]
async fn get_user(id: UserId) -> String {
    id.0
}

fn main() {}
