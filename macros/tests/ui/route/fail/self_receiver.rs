use portico::prelude::*;

struct Api;

impl Api {
    #[get("/")]
    async fn index(&self) -> &'static str {
        "hi"
    }
}

fn main() {}
