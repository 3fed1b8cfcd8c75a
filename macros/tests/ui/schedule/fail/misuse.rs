use portico::prelude::*;

#[schedule("rate(1 hour)")]
fn generic<T>() {}

#[schedule("rate(1 hour)")]
enum NotAFunction {}

fn main() {}
