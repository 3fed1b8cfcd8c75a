//! The decision pages as a manager's browser uses them, for the unit tests (`src/tests.rs`)
//! and the moto tests alike.

use portico::testing::{TestClient, TestResponse};

/// Opens the confirmation page `path` (`/respond/succeed` or `/respond/fail`) of a link.
pub async fn page(client: &TestClient, path: &str, sealed: &str) -> TestResponse {
    client.get(&format!("{path}?link={sealed}")).send().await
}

/// Submits the confirmation page's form: the decision.
pub async fn decide(client: &TestClient, path: &str, sealed: &str) -> TestResponse {
    client.post(path).form(&[("link", sealed)]).send().await
}
