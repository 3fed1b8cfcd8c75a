//! Mailboxes and addresses, checked as SES checks them: `Display Name <address>`, 7-bit ASCII,
//! a dot-atom or quoted local part, a host-name domain.

/// A mailbox: `address` or `Display Name <address>`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Mailbox {
    pub(crate) name: Option<String>,
    pub(crate) address: String,
}

pub(crate) fn mailbox(given: &str) -> Result<Mailbox, String> {
    let given = given.trim();
    let (name, address) = match (given.rfind('<'), given.ends_with('>')) {
        (Some(open), true) => {
            let name = given[..open].trim().trim_matches('"').replace("\\\"", "\"");
            (
                (!name.is_empty()).then_some(name),
                given[open + 1..given.len() - 1].trim(),
            )
        }
        _ => (None, given),
    };
    if name.as_deref().is_some_and(|n| n.contains(['\r', '\n'])) {
        return Err(format!(
            "Illegal address: `{given}`: a line break in the name"
        ));
    }
    check_address_syntax(address).map_err(|why| match why {
        AddressError::NoDomain => format!("Missing final '@domain' in `{given}`"),
        why => format!("Illegal address: `{given}`: {why}"),
    })?;
    Ok(Mailbox {
        name,
        address: address.to_owned(),
    })
}

/// Why an address is not one SES sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressError {
    NoDomain,
    NotAscii,
    BadLocalPart,
    BadDomain,
    TooLong,
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoDomain => "no '@domain'",
            Self::NotAscii => {
                "SES takes 7-bit ASCII addresses only: encode a Unicode domain with Punycode \
                 (xn--…); a Unicode local part cannot be sent"
            }
            Self::BadLocalPart => {
                "the local part must be letters, digits and !#$%&'*+-/=?^_`{|}~ in dot-separated \
                 words, or a quoted string"
            }
            Self::BadDomain => {
                "the domain must be dot-separated labels of letters, digits and '-' (1 to 63 \
                 characters, not starting or ending with '-')"
            }
            Self::TooLong => "the local part is over 64 characters or the address over 320",
        })
    }
}

/// Checks `address` (`local@domain`, no display name) as SES does: SES has no SMTPUTF8, so the
/// address is 7-bit ASCII (a Unicode domain is sent in Punycode, `xn--…`); the local part is
/// an RFC 5322 dot-atom (no leading, trailing or doubled dot) or a quoted string; the domain
/// is host-name labels (no empty label, no `/`, no second `@`), with at least two labels
/// (`localhost` aside).
fn check_address_syntax(address: &str) -> Result<(), AddressError> {
    const ATEXT: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
    if !address.is_ascii() {
        return Err(AddressError::NotAscii);
    }
    let (local, domain) = address.rsplit_once('@').ok_or(AddressError::NoDomain)?;
    if domain.is_empty() {
        return Err(AddressError::NoDomain);
    }
    if local.len() > 64 || address.len() > 320 {
        return Err(AddressError::TooLong);
    }
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let local_ok = if quoted {
        let inner = &local.as_bytes()[1..local.len() - 1];
        let mut escaped = false;
        inner.iter().all(|&b| {
            let ok = (b' '..=b'~').contains(&b) && (escaped || b != b'"');
            escaped = !escaped && b == b'\\';
            ok
        }) && !escaped
    } else {
        !local.is_empty()
            && local.split('.').all(|word| {
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || ATEXT.contains(&b))
            })
    };
    if !local_ok {
        return Err(AddressError::BadLocalPart);
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if domain.len() > 253
        || !labels.iter().all(label_ok)
        || labels.len() < 2 && !domain.eq_ignore_ascii_case("localhost")
    {
        return Err(AddressError::BadDomain);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ses::parse::split_addresses;

    #[test]
    fn mailboxes_are_checked() {
        assert_eq!(
            mailbox("HR <hr@example.com>").unwrap(),
            Mailbox {
                name: Some("HR".into()),
                address: "hr@example.com".into()
            }
        );
        assert!(mailbox("hr@example.com").is_ok());
        for good in [
            "hr@example.com",
            "first.last+tag@mail.example.co.uk",
            "o'brien@example.com",
            "\"john doe\"@example.com",
            "hr@xn--exmple-cua.com",
            "Jürgen <hr@example.com>",
            "hr@localhost",
        ] {
            assert!(mailbox(good).is_ok(), "{good}: {:?}", mailbox(good));
        }
        for (bad, why) in [
            ("hr", AddressError::NoDomain),
            ("hr@", AddressError::NoDomain),
            ("@example.com", AddressError::BadLocalPart),
            ("h r@example.com", AddressError::BadLocalPart),
            ("hr@exämple.com", AddressError::NotAscii),
            ("bóss@exämple.com", AddressError::NotAscii),
            ("bóss@example.com", AddressError::NotAscii),
            ("hr@example", AddressError::BadDomain),
            ("boss@@example.com", AddressError::BadLocalPart),
            ("boss@example..com", AddressError::BadDomain),
            ("x@y.z/../", AddressError::BadDomain),
            (".boss@example.com", AddressError::BadLocalPart),
            ("boss.@example.com", AddressError::BadLocalPart),
            ("bo..ss@example.com", AddressError::BadLocalPart),
            ("boss@.example.com", AddressError::BadDomain),
            ("boss@example.com.", AddressError::BadDomain),
            ("boss@-example.com", AddressError::BadDomain),
            ("boss@exa_mple.com", AddressError::BadDomain),
            ("boss@[127.0.0.1]", AddressError::BadDomain),
            ("\"bo\"ss\"@example.com", AddressError::BadLocalPart),
        ] {
            let address = bad.rsplit_once('<').map_or(bad, |(_, a)| a);
            assert_eq!(check_address_syntax(address), Err(why), "{bad}");
            let message = mailbox(bad).unwrap_err();
            assert!(
                message.starts_with("Illegal address") || message.starts_with("Missing final"),
                "{message}"
            );
        }
        assert_eq!(
            check_address_syntax(&format!("{}@example.com", "a".repeat(65))),
            Err(AddressError::TooLong)
        );
        assert_eq!(
            split_addresses("\"Doe, J\" <j@example.com>, k@example.com"),
            ["\"Doe, J\" <j@example.com>", "k@example.com"]
        );
    }
}
