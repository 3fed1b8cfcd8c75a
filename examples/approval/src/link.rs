//! Sealed decision links: what the approve and reject links carry instead of the task token.
//!
//! A link's `link` parameter is `base64url(version ‖ nonce ‖ XChaCha20-Poly1305(claims))`: the
//! claims (task token, request, employee, approver, expiry) are encrypted and authenticated,
//! and the decision is bound as associated data, so an approve link cannot be replayed on the
//! reject page. Without the key nobody can read the task token out of a link, nor make one.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use crate::TaskToken;

/// The first byte of every sealed value; a new format gets a new version.
const VERSION: u8 = 1;
/// XChaCha20's nonce length: random nonces of this size never repeat in practice.
const NONCE_LEN: usize = 24;
/// Poly1305's tag length.
const TAG_LEN: usize = 16;
/// Sealed values longer than this are rejected before decoding (real task tokens are at
/// most 1024 characters; the rest of the claims are small).
const MAX_SEALED_LEN: usize = 8 * 1024;

/// The manager's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Promote: `SendTaskSuccess`.
    Approve,
    /// Do not promote: `SendTaskFailure` with error `Rejected`.
    Reject,
}

impl Decision {
    /// `approve` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    /// The associated data sealing a link for this decision.
    fn associated_data(self) -> &'static [u8] {
        match self {
            Decision::Approve => b"portico-approval-link/v1/approve",
            Decision::Reject => b"portico-approval-link/v1/reject",
        }
    }
}

/// What a link stands for. Its `Debug` hides the task token (as [`TaskToken`]'s does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The Step Functions task token.
    #[serde(rename = "t")]
    pub task_token: TaskToken,
    /// The request (the execution's name), when known.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The employee to promote, for the confirmation page.
    #[serde(rename = "e")]
    pub employee: String,
    /// The manager the link was sent to; reported with the decision.
    #[serde(rename = "a")]
    pub approver: String,
    /// Expiry, seconds since the Unix epoch.
    #[serde(rename = "x")]
    pub expires_at: u64,
}

/// Why a sealed value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// Not base64url, too short or too long, or an unknown version.
    Malformed,
    /// Not sealed with this key, altered, or sealed for the other decision.
    Forged,
    /// Authentic, but past its expiry.
    Expired {
        /// The employee it was about, for the page.
        employee: String,
    },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Malformed => f.write_str("the link is malformed"),
            LinkError::Forged => f.write_str("the link was not issued by this app or was altered"),
            LinkError::Expired { .. } => f.write_str("the link has expired"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Why `APPROVAL_LINK_KEY` is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The variable is not set.
    Missing,
    /// Not base64 of exactly 32 bytes.
    Invalid(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Missing => write!(
                f,
                "{KEY_VARIABLE} is not set; `portico local` generates it from portico.toml's \
                 [[secrets]]; elsewhere set it to 32 random bytes in base64 \
                 (`openssl rand -base64 32`)"
            ),
            KeyError::Invalid(why) => write!(
                f,
                "{KEY_VARIABLE} is not a key: {why}; it must be 32 random bytes in base64 \
                 (`openssl rand -base64 32`)"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// The environment variable holding the link key.
pub const KEY_VARIABLE: &str = "APPROVAL_LINK_KEY";

/// The key links are sealed with. Its `Debug` hides it.
#[derive(Clone)]
pub struct LinkKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(<redacted>)")
    }
}

impl LinkKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }

    /// A key from base64 (standard or URL-safe, padded or not) of 32 bytes.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] when it is not base64 or not 32 bytes long.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| {
                base64::engine::general_purpose::URL_SAFE
                    .decode(text)
                    .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            })
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| KeyError::Invalid("not base64".to_owned()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError::Invalid(format!("{} bytes instead of 32", b.len())))?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The key in `APPROVAL_LINK_KEY`.
    ///
    /// # Errors
    /// [`KeyError::Missing`] when unset or empty, [`KeyError::Invalid`] when unusable.
    pub fn from_env() -> Result<Self, KeyError> {
        match std::env::var(KEY_VARIABLE) {
            Ok(value) if !value.trim().is_empty() => Self::from_base64(&value),
            _ => Err(KeyError::Missing),
        }
    }

    /// Seals `claims` for `decision`: the value of a link's `link` parameter.
    pub fn seal(&self, claims: &LinkClaims, decision: Decision) -> String {
        let plaintext = serde_json::to_vec(claims).expect("claims serialize");
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plaintext,
                    aad: decision.associated_data(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message of this size");
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// Opens a sealed value for `decision` at `now` (seconds since the Unix epoch).
    ///
    /// # Errors
    /// [`LinkError::Malformed`], [`LinkError::Forged`] (other key, altered, other decision) or
    /// [`LinkError::Expired`] (authentic but `now` is at or past its expiry).
    pub fn open(
        &self,
        sealed: &str,
        decision: Decision,
        now: u64,
    ) -> Result<LinkClaims, LinkError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(LinkError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed.trim())
            .map_err(|_| LinkError::Malformed)?;
        if bytes.len() < 1 + NONCE_LEN + TAG_LEN || bytes[0] != VERSION {
            return Err(LinkError::Malformed);
        }
        let nonce = XNonce::from_slice(&bytes[1..1 + NONCE_LEN]);
        let plaintext = self
            .cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &bytes[1 + NONCE_LEN..],
                    aad: decision.associated_data(),
                },
            )
            .map_err(|_| LinkError::Forged)?;
        // Authentic but unreadable can only be a bug on our side; treat it as forged.
        let claims: LinkClaims =
            serde_json::from_slice(&plaintext).map_err(|_| LinkError::Forged)?;
        if now >= claims.expires_at {
            return Err(LinkError::Expired {
                employee: claims.employee,
            });
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> LinkKey {
        LinkKey::from_bytes(&[byte; 32])
    }

    fn claims() -> LinkClaims {
        LinkClaims {
            task_token: TaskToken::new("AAAAKgAAAAIAAAAAAAAAAQ-secret-task-token"),
            request_id: Some("r-1".to_owned()),
            employee: "Jim".to_owned(),
            approver: "boss@example.com".to_owned(),
            expires_at: 1_000,
        }
    }

    #[test]
    fn round_trip_gives_back_every_claim() {
        let sealed = key(7).seal(&claims(), Decision::Approve);
        assert_eq!(key(7).open(&sealed, Decision::Approve, 999), Ok(claims()));
        // URL-safe without escaping, and the token is not readable in it.
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{sealed}"
        );
        assert!(!sealed.contains("secret"));
        // A fresh nonce each time: two links for the same claims differ.
        assert_ne!(sealed, key(7).seal(&claims(), Decision::Approve));
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let sealed = key(7).seal(&claims(), Decision::Approve);
        let bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in 1..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            let altered = URL_SAFE_NO_PAD.encode(altered);
            assert_eq!(
                key(7).open(&altered, Decision::Approve, 0),
                Err(LinkError::Forged),
                "byte {i}"
            );
        }
        let mut truncated = bytes.clone();
        truncated.pop();
        assert_eq!(
            key(7).open(&URL_SAFE_NO_PAD.encode(truncated), Decision::Approve, 0),
            Err(LinkError::Forged)
        );
    }

    #[test]
    fn a_link_opens_only_for_its_own_decision_and_key() {
        let approve = key(7).seal(&claims(), Decision::Approve);
        assert_eq!(
            key(7).open(&approve, Decision::Reject, 0),
            Err(LinkError::Forged)
        );
        assert_eq!(
            key(8).open(&approve, Decision::Approve, 0),
            Err(LinkError::Forged)
        );
        let reject = key(7).seal(&claims(), Decision::Reject);
        assert_eq!(key(7).open(&reject, Decision::Reject, 0), Ok(claims()));
        assert_eq!(
            key(7).open(&reject, Decision::Approve, 0),
            Err(LinkError::Forged)
        );
    }

    #[test]
    fn the_approver_is_sealed_with_the_token() {
        // Links for two managers of the same task differ in what they open to, and neither
        // can be turned into the other without the key (every byte is authenticated above).
        let mut other = claims();
        other.approver = "someone.else@example.com".to_owned();
        let sealed = key(7).seal(&other, Decision::Approve);
        let opened = key(7).open(&sealed, Decision::Approve, 0).unwrap();
        assert_eq!(opened.approver, "someone.else@example.com");
        assert_eq!(opened.task_token, claims().task_token);
    }

    #[test]
    fn expiry_is_exclusive() {
        let sealed = key(7).seal(&claims(), Decision::Approve);
        assert!(key(7).open(&sealed, Decision::Approve, 999).is_ok());
        for now in [1_000, 1_001, u64::MAX] {
            assert_eq!(
                key(7).open(&sealed, Decision::Approve, now),
                Err(LinkError::Expired {
                    employee: "Jim".to_owned()
                })
            );
        }
    }

    #[test]
    fn malformed_values_are_refused_before_decryption() {
        let k = key(7);
        for bad in [
            "",
            "not base64!",
            "AQ",
            &"A".repeat(MAX_SEALED_LEN + 1),
            // The right length, the wrong version.
            &URL_SAFE_NO_PAD.encode([2u8; 1 + NONCE_LEN + TAG_LEN + 4]),
        ] {
            assert_eq!(
                k.open(bad, Decision::Approve, 0),
                Err(LinkError::Malformed),
                "{bad:.40}"
            );
        }
    }

    #[test]
    fn keys_come_from_base64_of_32_bytes() {
        let text = STANDARD.encode([9u8; 32]);
        let sealed = LinkKey::from_base64(&text)
            .unwrap()
            .seal(&claims(), Decision::Approve);
        // The same key, URL-safe and unpadded, opens it.
        let url = URL_SAFE_NO_PAD.encode([9u8; 32]);
        assert!(
            LinkKey::from_base64(&url)
                .unwrap()
                .open(&sealed, Decision::Approve, 0)
                .is_ok()
        );
        assert_eq!(
            LinkKey::from_base64(&STANDARD.encode([9u8; 16])).unwrap_err(),
            KeyError::Invalid("16 bytes instead of 32".to_owned())
        );
        assert!(matches!(
            LinkKey::from_base64("***"),
            Err(KeyError::Invalid(_))
        ));
        assert!(KeyError::Missing.to_string().contains("APPROVAL_LINK_KEY"));
    }

    #[test]
    fn debug_output_hides_the_token_and_the_key() {
        let text = format!("{:?} {:?}", claims(), key(7));
        assert!(!text.contains("secret-task-token"), "{text}");
        assert!(text.contains("Jim"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
