use portico::prelude::*;

#[schedule("cron(0 12 * * ?)")]
fn unix_style() {}

#[schedule("cron(0 0 12 * * ? *)")]
fn with_seconds() {}

fn main() {}
