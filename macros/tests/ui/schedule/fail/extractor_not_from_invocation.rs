use portico::prelude::*;

#[schedule("rate(1 hour)")]
async fn hourly(body: Json<String>) {
    let _ = body;
}

fn main() {}
