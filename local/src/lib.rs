//! Portico's local cloud as a library: the unmodified app binary runs under a local Lambda
//! Runtime API host ([`lambda`]), behind a local API Gateway REST emulator ([`gateway`]) that
//! enforces API keys and usage plans ([`usage`]); schedules fire ([`scheduler`]); function
//! logs are printed and kept ([`logs`]); a services endpoint ([`services`]) speaks AWS
//! protocols (Lambda Invoke, Step Functions: [`sfn`], SES v2: [`ses`]). State that must
//! survive a restart lives in [`store`] (SQLite).
//!
//! [`LocalCloud::start`] wires them together; the `portico local` command adds building,
//! watching and the banner. The crate has no command line, no AWS SDK and no Cargo: what to
//! run comes in as [`Options`] (the project's config, the app's manifest and binary).
//!
//! Module dependencies point one way: [`invoker`] (the account, the region and the [`Invoker`]
//! trait) and the helpers ([`ids`], [`clock`], [`files`], [`color`], [`hosts`], [`server`]) are leaves;
//! [`cloud`] is the only module that knows every other.

pub mod clock;
pub mod cloud;
pub mod color;
pub mod emulator;
pub mod files;
pub mod gateway;
pub mod hosts;
pub mod ids;
pub mod invoker;
pub mod lambda;
pub mod logs;
pub mod scheduler;
pub mod secrets;
pub mod server;
pub mod services;
pub mod ses;
pub mod sfn;
pub mod sqs;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod usage;

pub use cloud::{Endpoint, LocalCloud, Options, Running, function_specs};
pub use invoker::{ACCOUNT, Invoker, REGION};

/// The error type of the local cloud's fallible setup: a message for the user.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
