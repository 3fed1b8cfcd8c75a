use portico::prelude::*;

#[get("/users/{id}/posts/{post_id}")]
async fn get_post(id: String) -> String {
    id
}

#[get("/files/{path+}")]
async fn get_file() -> &'static str {
    "file"
}

fn main() {}
