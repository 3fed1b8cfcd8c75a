//! The axum peer as a Lambda `bootstrap`: `lambda_http::run(router)`. Deploy it with
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` (see `portico_bench::LAMBDA_HTTP_ENV`).

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(portico_bench::axum_app::axum_router()).await
}
