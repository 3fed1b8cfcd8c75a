//! The contracts of Portico, each defined once.
//!
//! Every part of Portico that produces or consumes one of these uses this crate, so the two
//! sides cannot drift apart: the `#[route]` macros, the runtime's router and the local gateway
//! accept the same paths; `#[schedule]` accepts what the local scheduler runs; the app binary
//! writes the manifest the CLI reads; the local gateway, the test client and the end-to-end
//! harness build the same API Gateway events and read proxy responses the same way.
//!
//! - [`route_path`]: API Gateway's route path grammar (`/users/{id}`, `/files/{path+}`);
//! - [`schedule_expr`]: EventBridge schedule expressions (`rate(5 minutes)`, `cron(...)`);
//! - `manifest` (feature `serde`): the app manifest, written and read through one type;
//! - `apigw` (feature `serde`): REST v1 and HTTP API v2 event builders and the proxy-response
//!   parser;
//! - [`event_sources`]: what AWS accepts in event source mappings and S3 notifications;
//! - `event_pattern` (feature `serde`): EventBridge event patterns, validated and matched;
//! - `event_samples` (feature `serde`): sample events of each event-handler kind;
//! - [`names`]: the names and ARNs of a stage's resources (deploy and local cloud alike);
//! - `config` and `definition` (feature `config`): the project file `portico.toml` and the
//!   `${...}` references of the state machine definitions it names;
//! - `lambda_zip` (feature `zip`): the deployment package of a custom-runtime function.
//!
//! Without features the crate depends on `std` and `time` (no features: the calendar of cron
//! next-fire times) only; the macro crate uses it so.
//!
//! ```
//! use portico_spec::route_path::{Segment, parse_route_path};
//! use portico_spec::schedule_expr::{RateUnit, ScheduleExpr, parse_schedule};
//!
//! let path = parse_route_path("/files/{path+}").unwrap();
//! assert_eq!(path.segments[1], Segment::Greedy("path".into()));
//! assert_eq!(path.to_matchit(), "/files/{*path}");
//! assert!(parse_route_path("/users/{id}/").is_err());
//!
//! assert_eq!(
//!     parse_schedule("rate(5 minutes)").unwrap(),
//!     ScheduleExpr::Rate { value: 5, unit: RateUnit::Minutes }
//! );
//! let error = parse_schedule("rate(1 minutes)").unwrap_err();
//! assert!(error.message.contains("minute"), "{}", error.message);
//! ```

#![warn(missing_docs)]

/// Defines the error type of a parser: what is wrong with the input (`$input` names it in the
/// docs) and the span of it the error points at, for a caret under the culprit.
macro_rules! input_error {
    ($(#[$attr:meta])* $name:ident, $input:literal) => {
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// What is wrong and how to fix it; quotes the offending part.
            pub message: String,
            #[doc = concat!("Byte offset of the offending part in the ", $input, ".")]
            pub offset: usize,
            /// Byte length of the offending part (0 when something is missing at `offset`).
            pub len: usize,
        }

        impl $name {
            fn new(message: impl Into<String>, offset: usize, len: usize) -> Self {
                Self {
                    message: message.into(),
                    offset,
                    len,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.message)
            }
        }

        impl std::error::Error for $name {}
    };
}

#[cfg(feature = "serde")]
pub mod apigw;
#[cfg(feature = "config")]
pub mod config;
#[cfg(feature = "config")]
pub mod definition;
#[cfg(feature = "serde")]
pub mod event_pattern;
#[cfg(feature = "serde")]
pub mod event_samples;
pub mod event_sources;
#[cfg(feature = "zip")]
pub mod lambda_zip;
#[cfg(feature = "serde")]
pub mod manifest;
pub mod names;
pub mod route_path;
pub mod schedule_expr;
#[cfg(test)]
mod test_support;
