use portico::prelude::*;

#[get("/users/{id}")]
async fn get_user(id: String, page: u32) -> String {
    format!("{id} {page}")
}

#[get("/users")]
async fn list_users(name: &str) -> String {
    name.to_owned()
}

fn main() {}
