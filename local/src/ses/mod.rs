//! Local Amazon SES v2: `SendEmail` on the services endpoint, delivered to an outbox.
//!
//! The app's SES client, pointed here by `AWS_ENDPOINT_URL_SESV2`, calls
//! `POST /v2/email/outbound-emails` (REST-JSON) exactly as on AWS. Nothing leaves the machine:
//! each accepted message is written as an RFC 5322 file, `.portico/local/outbox/<id>.eml`
//! (MIME, UTF-8, `multipart/alternative` for text and HTML), with a `<id>.json` beside it that
//! the outbox pages list. Both are plain files, so the outbox survives a restart and is cleared
//! by deleting the folder.
//!
//! Like an SES account in the sandbox, the sender (`FromEmailAddress`, or the raw message's
//! `From`) must be a declared identity: an `[[email_identities]]` address, or an address at a
//! declared domain; anything else is `MessageRejected`. Unlike the sandbox, recipients are not
//! checked, since no message is delivered.
//!
//! Pages on the same endpoint: `GET /outbox` (newest first, `PAGE_SIZE` a page,
//! `?page=2`…), `GET /outbox/<id>` (headers and the body), `GET /outbox/<id>/body` (the HTML
//! body alone, sandboxed: no scripts), `GET /outbox/<id>.eml`, and `GET /outbox.json` (the
//! same pages) for scripts and tests. The list comes from an index of the outbox kept in
//! memory: each message's `.json` is read once, and the files are read off the thread that
//! serves the API, so a large outbox or a large message does not hold the API up.
//!
//! The outbox folder and its files are owner-only (they hold live decision links).

mod address;
mod build;
mod compose;
mod pages;
mod parse;
mod service;
mod types;

pub use service::Ses;
pub(crate) use service::{is_outbox_page, is_ses_path};
