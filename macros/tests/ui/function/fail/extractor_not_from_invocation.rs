use portico::prelude::*;

#[derive(serde::Deserialize)]
struct Page {
    n: u32,
}

#[function]
async fn list(Query(page): Query<Page>) {
    let _ = page.n;
}

#[function]
async fn scheduled(event: ScheduledEvent) {
    let _ = event;
}

fn main() {}
