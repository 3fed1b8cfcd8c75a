use portico::prelude::*;

#[schedule("rate(0 minutes)")]
fn zero() {}

#[schedule("rate(1.5 hours)")]
fn fractional() {}

#[schedule("rate(5 seconds)")]
fn unknown_unit() {}

#[schedule("every 5 minutes")]
fn not_an_expression() {}

fn main() {}
