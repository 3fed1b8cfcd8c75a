//! The floor as a Lambda `bootstrap`: `lambda_http::run(service_fn(..))` with a hand-written
//! `match`, as `lambda_http`'s documentation starts a function.

use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(portico_bench::floor::floor_handler)).await
}
