//! A `SendEmail` request checked as SES checks it (sender identity, addresses, recipients)
//! and turned into the outbox's message.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::clock::rfc2822;
use crate::ses::address::mailbox;
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
    simple: Option<SimpleMessage>,
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
