use portico::prelude::*;

#[schedule("cron(60 12 * * ? *)")]
fn minute() {}

#[schedule("cron(0 12 32 * ? *)")]
fn day_of_month() {}

#[schedule("cron(0 12 ? JANUARY MON *)")]
fn month_name() {}

#[schedule("cron(0 12 ? * 8 *)")]
fn day_of_week() {}

#[schedule("cron(0 12 * * ? 2300)")]
fn year() {}

fn main() {}
