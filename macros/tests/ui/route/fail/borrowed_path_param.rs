use portico::prelude::*;

#[get("/users/{id}")]
async fn get_user(id: &str) -> String {
    id.to_owned()
}

fn main() {}
