use portico::prelude::*;

#[schedule("rate(1 hour)")]
async fn hourly() -> u32 {
    1
}

#[schedule("rate(1 hour)")]
fn hourly_text() -> Result<String, Error> {
    Ok(String::new())
}

fn main() {}
