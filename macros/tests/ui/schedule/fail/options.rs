use portico::prelude::*;

#[schedule("rate(1 day)", nme = "nightly")]
fn typo() {}

#[schedule("rate(1 day)", name = "nightly job")]
fn bad_name() {}

#[schedule]
fn no_expression() {}

#[schedule(rate(1 day))]
fn unquoted() {}

fn main() {}
