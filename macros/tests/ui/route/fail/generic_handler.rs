use portico::prelude::*;

#[get("/")]
async fn generic<T: Default>() -> String {
    String::new()
}

#[get("/")]
async fn impl_argument(body: impl FromRequest) -> String {
    String::new()
}

fn main() {}
