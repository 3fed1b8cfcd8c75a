use portico::prelude::*;

struct Session;

#[get("/me")]
async fn me(session: Session, Json(body): Json<Vec<String>>) -> String {
    let _ = (session, body);
    String::new()
}

fn main() {}
