//! Task tokens: bearer secrets, so unguessable, and checked for shape before any lookup.

use base64::Engine as _;

/// What a task token starts with; the rest is 64 random bytes, base64url.
const TOKEN_PREFIX: &str = "ptk1.";

/// A new task token: unguessable (the operating system's random source, no fallback).
pub fn random_token() -> String {
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::ids::bytes::<64>())
    )
}

/// Whether `token` has the shape of a token this engine hands out (else `InvalidToken`).
pub fn token_is_well_formed(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(rest)
            .is_ok_and(|bytes| bytes.len() == 64)
    })
}
