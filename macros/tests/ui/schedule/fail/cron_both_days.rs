use portico::prelude::*;

#[schedule("cron(0 12 * * MON *)")]
fn both_set() {}

#[schedule("cron(0 12 ? * ? *)")]
fn both_any() {}

fn main() {}
