use portico::prelude::*;

#[get("/users/{id}/friends/{id}")]
async fn friend(id: String) -> String {
    id
}

fn main() {}
