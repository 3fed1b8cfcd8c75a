use portico::prelude::*;

#[schedule("rate(1 minutes)")]
fn every_minute() {}

fn main() {}
