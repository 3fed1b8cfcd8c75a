use portico::prelude::*;

#[schedule("cron(0 12 ? * 2W *)")]
fn weekday_in_day_of_week() {}

#[schedule("cron(0 12 ? * 3#1,6#3 *)")]
fn two_hash_expressions() {}

#[schedule("cron(0/0 * * * ? *)")]
fn zero_increment() {}

fn main() {}
