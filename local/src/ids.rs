//! Random ids and secrets, from one place: the operating system's random source through
//! `getrandom`, UUIDs through `uuid`.
//!
//! There is no fallback. Task tokens, API keys and generated secrets are bearer secrets: if
//! the operating system cannot give randomness (it practically never fails on Linux or macOS),
//! the caller gets the error ([`fill`]) or, for the infallible helpers used on request paths,
//! the process panics with the reason, instead of handing out something guessable.

/// Fills `buf` from the operating system's random source.
///
/// # Errors
/// When the operating system cannot give random bytes.
pub fn fill(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// `N` random bytes.
///
/// # Panics
/// When the operating system cannot give random bytes.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if let Err(err) = fill(&mut out) {
        panic!("the operating system's random source failed: {err}");
    }
    out
}

/// A random `u64`.
///
/// # Panics
/// When the operating system cannot give random bytes.
pub fn u64() -> u64 {
    u64::from_le_bytes(bytes())
}

/// A random (version 4) UUID, hyphenated lower case, like AWS's request ids.
///
/// # Panics
/// When the operating system cannot give random bytes.
pub fn uuid_v4() -> String {
    uuid_from(bytes())
}

/// The version 4 UUID made of 16 random bytes (for callers that draw several ids at once).
pub fn uuid_from(random: [u8; 16]) -> String {
    uuid::Builder::from_random_bytes(random)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let a = uuid_v4();
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(a.len(), 36);
        assert_eq!(a, a.to_ascii_lowercase());
        assert_ne!(uuid_v4(), a);
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(bytes::<32>(), bytes::<32>());
        assert_ne!(u64(), u64());
        assert_eq!(
            uuid_from([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
    }
}
