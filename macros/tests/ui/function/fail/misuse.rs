use portico::prelude::*;

#[function]
fn not_async() {}

#[function]
async fn generic<T>() {}

#[function]
enum NotAFunction {}

#[function(name = "api")]
async fn http_name() {}

#[function]
async fn api() {}

#[function(name = "notify manager")]
async fn bad_name() {}

#[function(nmae = "notify")]
async fn unknown_option() {}

#[function("notify")]
async fn positional() {}

#[function]
#[schedule("rate(1 hour)")]
async fn two_attributes() {}

fn main() {}
