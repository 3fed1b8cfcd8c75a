//! An ordinary axum app ([`api::router`]) on Portico: `portico local`, `portico deploy`,
//! `portico logs` and a schedule beside it, without rewriting a route.
//!
//! The move changed `main` (from `lambda_http::run(router)` to `portico::run(app())`) and
//! added [`app`] and one `#[schedule]`; see `docs/from-lambda-http.md`.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let client = portico::testing::TestClient::new(axum_app::app());
//! let res = client.get("/users/7").send().await;
//! assert_eq!(res.json()["id"], 7);
//! # });
//! ```

pub mod api;

use portico::prelude::*;

/// Hourly housekeeping, run by the same binary as the API (its own Lambda function once
/// deployed, fired by `portico local`'s scheduler locally).
#[schedule("rate(1 hour)")]
async fn tidy(event: ScheduledEvent) -> Result<(), Error> {
    println!("axum-app: tidying up at {}", event.time);
    Ok(())
}

/// The axum router behind Portico, with the schedule.
pub fn app() -> App {
    App::new()
        .name("axum-app")
        .service(api::router())
        .schedules(schedules![tidy])
}
