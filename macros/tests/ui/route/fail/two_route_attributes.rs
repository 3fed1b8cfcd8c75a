use portico::prelude::*;

#[get("/")]
#[post("/")]
fn index() -> &'static str {
    "hi"
}

fn main() {
    let _ = routes![index];
}
