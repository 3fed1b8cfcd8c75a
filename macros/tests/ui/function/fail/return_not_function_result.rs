use portico::prelude::*;

#[function]
async fn text() -> String {
    "not JSON".into()
}

#[derive(Debug)]
struct NoDisplay;

#[function]
async fn opaque_error() -> Result<(), NoDisplay> {
    Err(NoDisplay)
}

fn main() {}
