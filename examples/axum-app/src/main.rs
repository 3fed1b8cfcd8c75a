//! The Lambda binary (`axum-app`; `portico package` zips it as `bootstrap`). Before the move to Portico this was:
//!
//! ```text
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_http::Error> {
//!     lambda_http::run(axum_app::api::router()).await
//! }
//! ```

fn main() {
    portico::run(axum_app::app());
}
