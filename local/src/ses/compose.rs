//! A `SendEmail` request checked as SES checks it (sender identity, addresses, recipients)
//! and turned into the outbox's message.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::clock::rfc2822;
use crate::ses::build::build_message;
use crate::ses::parse::{decode_words, parse_message, split_addresses};
use crate::ses::types::{MAX_RECIPIENTS, Mail, Reply, bad_request};

/// The SES v2 `SendEmail` request; every field optional here, so that what is missing gets
/// SES's error instead of a parse error.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendEmailRequest {
    from_email_address: Option<String>,
    destination: Option<Destination>,
    reply_to_addresses: Option<Vec<String>>,
    content: Option<EmailContent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Destination {
    to_addresses: Option<Vec<String>>,
    cc_addresses: Option<Vec<String>>,
    bcc_addresses: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmailContent {
    pub(crate) simple: Option<SimpleMessage>,
    pub(crate) raw: Option<RawMessage>,
    template: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SimpleMessage {
    pub(crate) subject: Option<Content>,
    pub(crate) body: Option<MessageBody>,
    pub(crate) headers: Option<Vec<MessageHeader>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Content {
    data: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MessageBody {
    pub(crate) text: Option<Content>,
    pub(crate) html: Option<Content>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MessageHeader {
    pub(crate) name: String,
    pub(crate) value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMessage {
    data: Option<String>,
}

/// A message ready to be written: the `.eml` bytes and what the outbox lists.
pub(crate) struct Outgoing {
    pub(crate) eml: Vec<u8>,
    pub(crate) mail: Mail,
}

/// Validates the request as SES does and builds the message.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the answer, built once per request"
)]
pub(crate) fn compose(
    request: SendEmailRequest,
    id: &str,
    timestamp_ms: i64,
) -> Result<Outgoing, Reply> {
    let content = request
        .content
        .ok_or_else(|| bad_request("Missing required field: Content"))?;
    let destination = request.destination.unwrap_or_default();
    let given = |list: Option<Vec<String>>| list.unwrap_or_default();
    let mut to = given(destination.to_addresses);
    let mut cc = given(destination.cc_addresses);
    let mut bcc = given(destination.bcc_addresses);
    let reply_to = given(request.reply_to_addresses);
    match (content.simple, content.raw, content.template) {
        (Some(simple), None, None) => {
            let from = request.from_email_address.ok_or_else(|| {
                bad_request(
                    "Missing required field: FromEmailAddress (required for Simple content)",
                )
            })?;
            let subject = simple.subject.and_then(|s| s.data).ok_or_else(|| {
                bad_request("Missing required field: Content.Simple.Subject.Data")
            })?;
            let body = simple
                .body
                .ok_or_else(|| bad_request("Missing required field: Content.Simple.Body"))?;
            let text = body.text.and_then(|t| t.data);
            let html = body.html.and_then(|h| h.data);
            if text.is_none() && html.is_none() {
                return Err(bad_request(
                    "Content.Simple.Body needs Text or Html (with Data)",
                ));
            }
            for address in [&from]
                .into_iter()
                .chain(&to)
                .chain(&cc)
                .chain(&bcc)
                .chain(&reply_to)
            {
                check_address(address)?;
            }
            check_recipients(to.len() + cc.len() + bcc.len())?;
            let extra: Vec<(String, String)> = simple
                .headers
                .unwrap_or_default()
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect();
            for (name, value) in &extra {
                if name.is_empty()
                    || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                    || value.contains(['\r', '\n'])
                {
                    return Err(bad_request(&format!("invalid message header `{name}`")));
                }
            }
            let mail = Mail {
                id: id.to_owned(),
                timestamp_ms,
                from,
                to,
                cc,
                bcc,
                reply_to,
                subject,
                text,
                html,
                raw: false,
            };
            let eml = build_message(&mail, &extra);
            Ok(Outgoing { eml, mail })
        }
        (None, Some(raw), None) => {
            let data = raw
                .data
                .ok_or_else(|| bad_request("Missing required field: Content.Raw.Data"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| bad_request(&format!("Content.Raw.Data is not base64: {e}")))?;
            let parsed = parse_message(&bytes);
            if parsed.headers.is_empty() {
                return Err(bad_request(
                    "Content.Raw.Data is not an e-mail message (no headers)",
                ));
            }
            let from = match request.from_email_address {
                Some(from) => from,
                None => parsed.header("from").map(decode_words).ok_or_else(|| {
                    bad_request(
                        "the raw message has no From header and the request no FromEmailAddress",
                    )
                })?,
            };
            let listed = |name: &str| {
                parsed
                    .header(name)
                    .map(|v| split_addresses(&decode_words(v)))
                    .unwrap_or_default()
            };
            if to.is_empty() && cc.is_empty() && bcc.is_empty() {
                to = listed("to");
                cc = listed("cc");
                bcc = listed("bcc");
            }
            check_address(&from)?;
            for address in to.iter().chain(&cc).chain(&bcc) {
                check_address(address)?;
            }
            check_recipients(to.len() + cc.len() + bcc.len())?;
            let (text, html) = parsed.bodies();
            let mail = Mail {
                id: id.to_owned(),
                timestamp_ms,
                from,
                to,
                cc,
                bcc,
                reply_to: if reply_to.is_empty() {
                    listed("reply-to")
                } else {
                    reply_to
                },
                subject: parsed
                    .header("subject")
                    .map(decode_words)
                    .unwrap_or_default(),
                text,
                html,
                raw: true,
            };
            // SES adds the headers a message lacks.
            let mut eml = Vec::new();
            if parsed.header("message-id").is_none() {
                eml.extend_from_slice(format!("Message-ID: <{id}@portico.local>\r\n").as_bytes());
            }
            if parsed.header("date").is_none() {
                eml.extend_from_slice(format!("Date: {}\r\n", rfc2822(timestamp_ms)).as_bytes());
            }
            eml.extend_from_slice(&bytes);
            Ok(Outgoing { eml, mail })
        }
        (None, None, Some(_)) => Err(bad_request(
            "portico local does not render SES templates (Content.Template); send Simple or Raw content",
        )),
        _ => Err(bad_request(
            "Content needs exactly one of Simple, Raw and Template",
        )),
    }
}

#[allow(
    clippy::result_large_err,
    reason = "the refusal is the answer, built once per request"
)]
fn check_recipients(count: usize) -> Result<(), Reply> {
    if count == 0 {
        return Err(bad_request(
            "the message has no recipients: give Destination.ToAddresses, CcAddresses or BccAddresses",
        ));
    }
    if count > MAX_RECIPIENTS {
        return Err(bad_request(&format!(
            "Recipient count exceeds {MAX_RECIPIENTS}: {count} recipients"
        )));
    }
    Ok(())
}

#[allow(
    clippy::result_large_err,
    reason = "the refusal is the answer, built once per request"
)]
fn check_address(given: &str) -> Result<(), Reply> {
    mailbox(given).map(drop).map_err(|why| bad_request(&why))
}

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

/// The recipients for the list page and the terminal: To, then Cc, then Bcc.
pub(crate) fn recipients(mail: &Mail) -> Vec<String> {
    mail.to
        .iter()
        .chain(&mail.cc)
        .chain(&mail.bcc)
        .map(|r| mailbox(r).map_or_else(|_| r.clone(), |m| m.address))
        .collect()
}

/// The terminal line for a message: `mail  to a@example.com: "Subject" → <url>`.
pub(crate) fn announcement(mail: &Mail, public_url: &str) -> String {
    let printable = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    format!(
        "mail  to {}: \"{}\" → {public_url}/outbox/{}",
        printable(&recipients(mail).join(", ")),
        printable(&mail.subject),
        mail.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::{Value, json};

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

    #[test]
    fn raw_messages_are_read_and_completed() {
        let raw = "From: =?utf-8?Q?J=C3=BCrgen?= <hr@example.com>\r\nTo: a@example.com, b@example.com\r\n\
                   Subject: =?UTF-8?B?w5xiZXI=?= raw\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
                   preamble\r\n--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   caf=E9\r\n--XX\r\nContent-Type: text/html\r\nContent-Disposition: attachment\r\n\r\n<p>not the body</p>\r\n--XX--\r\n";
        let request = SendEmailRequest {
            content: Some(EmailContent {
                raw: Some(RawMessage {
                    data: Some(base64::engine::general_purpose::STANDARD.encode(raw)),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Ok(out) = compose(request, "0000000000002-def-000000", 0) else {
            panic!("the raw message is refused");
        };
        assert_eq!(out.mail.from, "Jürgen <hr@example.com>");
        assert_eq!(out.mail.to, ["a@example.com", "b@example.com"]);
        assert_eq!(out.mail.subject, "Über raw");
        assert_eq!(out.mail.text.as_deref(), Some("café"));
        assert_eq!(out.mail.html, None);
        let eml = String::from_utf8(out.eml).unwrap();
        assert!(
            eml.starts_with(
                "Message-ID: <0000000000002-def-000000@portico.local>\r\nDate: Thu, 01 Jan 1970"
            ),
            "{eml}"
        );
        assert!(eml.ends_with(raw));
    }

    #[test]
    fn ses_errors() {
        let status_and_type = |request: Value| {
            let request: SendEmailRequest = serde_json::from_value(request).unwrap();
            match compose(request, "1-2", 0) {
                Ok(_) => (200, String::new()),
                Err(reply) => (
                    reply.status().as_u16(),
                    reply.headers()["x-amzn-errortype"]
                        .to_str()
                        .unwrap()
                        .to_owned(),
                ),
            }
        };
        let simple = json!({"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}});
        let ok = json!({"FromEmailAddress": "hr@example.com", "Destination": {"ToAddresses": ["m@example.com"]}, "Content": {"Simple": simple}});
        assert_eq!(status_and_type(ok.clone()), (200, String::new()));
        let bad = (400, "BadRequestException".to_owned());
        let mut no_to = ok.clone();
        no_to["Destination"] = json!({});
        assert_eq!(status_and_type(no_to), bad);
        let mut no_body = ok.clone();
        no_body["Content"]["Simple"]["Body"] = json!({});
        assert_eq!(status_and_type(no_body), bad);
        let mut no_from = ok.clone();
        no_from.as_object_mut().unwrap().remove("FromEmailAddress");
        assert_eq!(status_and_type(no_from), bad);
        let mut bad_to = ok.clone();
        bad_to["Destination"]["ToAddresses"] = json!(["not an address"]);
        assert_eq!(status_and_type(bad_to), bad);
        let mut many = ok.clone();
        many["Destination"]["ToAddresses"] = json!(vec!["m@example.com"; 51]);
        assert_eq!(status_and_type(many), bad);
        let mut template = ok;
        template["Content"] = json!({"Template": {"TemplateName": "t"}});
        assert_eq!(status_and_type(template), bad);
    }
}
