use portico::prelude::*;

#[schedule("rate(5 hour)")]
fn every_five_hours() {}

fn main() {}
