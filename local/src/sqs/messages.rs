//! The messages in the state database (`sqs_messages`, `sqs_dedup`, `sqs_sequence`; schema in
//! `store.rs`'s migrations): sending, receiving with visibility timeouts and redrive, FIFO
//! groups and deduplication, receipts.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use md5::{Digest as _, Md5};
use rusqlite::{Connection, OptionalExtension as _, params};
use serde_json::Value;
use sha2::Sha256;

use super::{MAX_MESSAGE_BYTES, Outgoing, QueueSpec, SqsError};

/// FIFO deduplication window: five minutes.
const DEDUP_WINDOW_MS: i64 = 300_000;

/// What a send returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message's id (for a duplicate FIFO send: the first message's).
    pub message_id: String,
    /// MD5 of the body, hex.
    pub md5_of_body: String,
    /// MD5 of the message attributes, hex, when there are any.
    pub md5_of_attributes: Option<String>,
    /// FIFO: the sequence number.
    pub sequence_number: Option<String>,
}

/// A received message.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Its id.
    pub message_id: String,
    /// The receipt handle of this receive.
    pub receipt: String,
    /// The body.
    pub body: String,
    /// MD5 of the body, hex.
    pub md5_of_body: String,
    /// The message attributes, as sent.
    pub attributes: BTreeMap<String, Value>,
    /// MD5 of the message attributes, hex, when there are any.
    pub md5_of_attributes: Option<String>,
    /// When it was sent (ms).
    pub sent_ms: i64,
    /// When it was first received (ms).
    pub first_receive_ms: i64,
    /// How often it has been received, this time included.
    pub receive_count: u32,
    /// FIFO: its group.
    pub group_id: Option<String>,
    /// FIFO: its deduplication id.
    pub deduplication_id: Option<String>,
    /// FIFO: its sequence number.
    pub sequence_number: Option<String>,
}

pub(super) fn send(
    conn: &mut Connection,
    queue: &QueueSpec,
    message: &Outgoing,
    now: i64,
) -> rusqlite::Result<Result<Sent, SqsError>> {
    let checked = check(queue, message);
    let (dedup_id, delay) = match checked {
        Ok(ok) => ok,
        Err(e) => return Ok(Err(e)),
    };
    let attributes = match encode_attributes(&message.attributes) {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    let md5_of_body = md5_hex(message.body.as_bytes());
    let md5_of_attributes = attributes.as_ref().map(|(_, md5)| md5.clone());
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM sqs_dedup WHERE queue = ?1 AND expires_ms <= ?2",
        params![queue.name, now],
    )?;
    if let Some(dedup) = &dedup_id {
        let earlier: Option<(String, i64)> = tx
            .query_row(
                "SELECT message_id, seq FROM sqs_dedup WHERE queue = ?1 AND dedup_id = ?2",
                params![queue.name, dedup],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((message_id, seq)) = earlier {
            return Ok(Ok(Sent {
                message_id,
                md5_of_body,
                md5_of_attributes,
                sequence_number: Some(sequence_number(seq)),
            }));
        }
    }
    let seq: i64 = tx.query_row(
        "UPDATE sqs_sequence SET value = value + 1 RETURNING value",
        [],
        |row| row.get(0),
    )?;
    let message_id = crate::ids::uuid_v4();
    tx.execute(
        "INSERT INTO sqs_messages (id, queue, seq, body, attributes, sent_ms, visible_ms, group_id, dedup_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            message_id,
            queue.name,
            seq,
            message.body,
            attributes.as_ref().map_or_else(|| "{}".to_owned(), |(json, _)| json.clone()),
            now,
            now + i64::from(delay) * 1000,
            message.group_id,
            dedup_id,
        ],
    )?;
    if let Some(dedup) = &dedup_id {
        tx.execute(
            "INSERT INTO sqs_dedup (queue, dedup_id, message_id, seq, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![queue.name, dedup, message_id, seq, now + DEDUP_WINDOW_MS],
        )?;
    }
    tx.commit()?;
    Ok(Ok(Sent {
        message_id,
        md5_of_body,
        md5_of_attributes,
        sequence_number: queue.fifo.then(|| sequence_number(seq)),
    }))
}

/// Checks a message against its queue; returns its deduplication id and delay.
fn check(queue: &QueueSpec, message: &Outgoing) -> Result<(Option<String>, u32), SqsError> {
    if message.body.is_empty() {
        return Err(SqsError::new(
            "MissingParameter",
            "MissingParameter",
            "The request must contain the parameter MessageBody.",
        ));
    }
    let size = message.body.len()
        + message
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.to_string().len())
            .sum::<usize>();
    if size > MAX_MESSAGE_BYTES {
        return Err(SqsError::invalid(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_BYTES} bytes."
        )));
    }
    // SQS's allowed characters: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000+.
    if let Some(bad) = message.body.chars().find(|&c| {
        !matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
    }) {
        return Err(SqsError::new(
            "InvalidMessageContents",
            "InvalidMessageContents",
            format!(
                "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF (found U+{:04X})",
                u32::from(bad)
            ),
        ));
    }
    if let Some(delay) = message.delay {
        if delay > 900 {
            return Err(SqsError::invalid(format!(
                "Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )));
        }
        if queue.fifo {
            return Err(SqsError::invalid(format!(
                "Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
            )));
        }
    }
    if !queue.fifo {
        if message.deduplication_id.is_some() {
            return Err(SqsError::invalid(
                "The request include parameter MessageDeduplicationId which is not valid for this queue type",
            ));
        }
        return Ok((None, message.delay.unwrap_or(queue.delay)));
    }
    if message.group_id.as_deref().is_none_or(str::is_empty) {
        return Err(SqsError::new(
            "MissingParameter",
            "MissingParameter",
            "The request must contain the parameter MessageGroupId.",
        ));
    }
    let dedup = match &message.deduplication_id {
        Some(id) => id.clone(),
        None if queue.content_based_deduplication => {
            let digest = Sha256::digest(message.body.as_bytes());
            digest.iter().map(|b| format!("{b:02x}")).collect()
        }
        None => {
            return Err(SqsError::invalid(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
    };
    Ok((Some(dedup), queue.delay))
}

/// The attributes as stored (JSON) and their MD5, or `None` when there are none.
fn encode_attributes(
    attributes: &BTreeMap<String, Value>,
) -> Result<Option<(String, String)>, SqsError> {
    if attributes.is_empty() {
        return Ok(None);
    }
    if attributes.len() > 10 {
        return Err(SqsError::invalid(
            "Number of message attributes [11] exceeds the allowed maximum [10].",
        ));
    }
    Ok(Some((
        Value::Object(attributes.clone().into_iter().collect()).to_string(),
        attributes_md5(attributes)?,
    )))
}

/// MD5 of message attributes as SQS computes it: for each attribute in name order, the
/// name, the data type (each 4-byte big-endian length + UTF-8), a transport byte (1 for
/// String/Number, 2 for Binary) and the value (length + bytes).
pub(super) fn attributes_md5(attributes: &BTreeMap<String, Value>) -> Result<String, SqsError> {
    let mut buf = Vec::new();
    let put = |bytes: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        buf.extend_from_slice(bytes);
    };
    for (name, value) in attributes {
        let invalid =
            |why: &str| SqsError::invalid(format!("The message attribute '{name}' {why}"));
        let data_type = value
            .get("DataType")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("must contain a non-empty attribute type."))?;
        let base = data_type.split('.').next().unwrap_or_default();
        put(name.as_bytes(), &mut buf);
        put(data_type.as_bytes(), &mut buf);
        match base {
            "String" | "Number" => {
                let v = value
                    .get("StringValue")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("must contain a non-empty message attribute value for message attribute type 'String'."))?;
                if base == "Number" && v.parse::<f64>().is_err() {
                    return Err(invalid(&format!(
                        "has an invalid message attribute value '{v}' for type Number."
                    )));
                }
                buf.push(1);
                put(v.as_bytes(), &mut buf);
            }
            "Binary" => {
                let v = value
                    .get("BinaryValue")
                    .and_then(Value::as_str)
                    .and_then(|b| STANDARD.decode(b).ok())
                    .ok_or_else(|| invalid("must contain a base64 message attribute value for message attribute type 'Binary'."))?;
                buf.push(2);
                put(&v, &mut buf);
            }
            _ => {
                return Err(invalid(&format!(
                    "has an invalid message attribute type '{data_type}'; the types are String, Number and Binary."
                )));
            }
        }
    }
    Ok(md5_hex(&buf))
}

pub(super) fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sequence_number(seq: i64) -> String {
    format!("{seq:020}")
}

/// A new receipt handle for message `id`: the id and 16 random bytes, base64url.
fn new_receipt(id: &str) -> String {
    let random: [u8; 16] = crate::ids::bytes();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    URL_SAFE_NO_PAD.encode(format!("{id}:{hex}"))
}

/// The message a receipt handle was issued for.
pub(super) fn receipt_message(receipt: &str) -> Result<String, SqsError> {
    URL_SAFE_NO_PAD
        .decode(receipt)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| text.split_once(':').map(|(id, _)| id.to_owned()))
        .ok_or_else(|| {
            SqsError::new(
                "ReceiptHandleIsInvalid",
                "ReceiptHandleIsInvalid",
                format!("The input receipt handle \"{receipt}\" is not a valid receipt handle."),
            )
        })
}

struct Row {
    id: String,
    seq: i64,
    visible_ms: i64,
    in_flight: bool,
    receive_count: u32,
    group_id: Option<String>,
}

pub(super) fn receive(
    conn: &mut Connection,
    queue: &QueueSpec,
    dead_letter: Option<(&QueueSpec, u32)>,
    max: usize,
    visibility: u32,
    now: i64,
) -> rusqlite::Result<Vec<Received>> {
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM sqs_messages WHERE queue = ?1 AND sent_ms <= ?2",
        params![queue.name, now - i64::from(queue.retention) * 1000],
    )?;
    let rows: Vec<Row> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, seq, visible_ms, receipt IS NOT NULL, receive_count, group_id
             FROM sqs_messages WHERE queue = ?1 ORDER BY seq",
        )?;
        stmt.query_map(params![queue.name], |row| {
            Ok(Row {
                id: row.get(0)?,
                seq: row.get(1)?,
                visible_ms: row.get(2)?,
                in_flight: row.get::<_, bool>(3)? && row.get::<_, i64>(2)? > now,
                receive_count: row.get(4)?,
                group_id: row.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    // FIFO: a group with a message in flight delivers nothing; a group delivers in order and
    // stops at its first message that is not visible yet.
    let mut blocked: BTreeSet<Option<String>> = BTreeSet::new();
    if queue.fifo {
        blocked.extend(
            rows.iter()
                .filter(|r| r.in_flight)
                .map(|r| r.group_id.clone()),
        );
    }
    let mut ordered: Vec<&Row> = rows.iter().collect();
    if !queue.fifo {
        ordered.sort_by_key(|r| (r.visible_ms, r.seq));
    }
    for row in ordered {
        if out.len() >= max {
            break;
        }
        let visible = row.visible_ms <= now;
        if queue.fifo {
            if blocked.contains(&row.group_id) {
                continue;
            }
            if !visible {
                blocked.insert(row.group_id.clone());
                continue;
            }
        } else if !visible {
            continue;
        }
        if let Some((dlq, max_receives)) = dead_letter {
            if row.receive_count >= max_receives {
                tx.execute(
                    "UPDATE sqs_messages SET queue = ?2, visible_ms = ?3, receipt = NULL,
                     receive_count = 0, first_receive_ms = NULL WHERE id = ?1",
                    params![row.id, dlq.name, now],
                )?;
                continue;
            }
        }
        let receipt = new_receipt(&row.id);
        tx.execute(
            "UPDATE sqs_messages SET receipt = ?2, visible_ms = ?3, receive_count = receive_count + 1,
             first_receive_ms = COALESCE(first_receive_ms, ?4) WHERE id = ?1",
            params![row.id, receipt, now + i64::from(visibility) * 1000, now],
        )?;
        out.push(read(&tx, &row.id, receipt, queue.fifo)?);
    }
    tx.commit()?;
    Ok(out)
}

fn read(conn: &Connection, id: &str, receipt: String, fifo: bool) -> rusqlite::Result<Received> {
    conn.query_row(
        "SELECT body, attributes, sent_ms, first_receive_ms, receive_count, group_id, dedup_id, seq
         FROM sqs_messages WHERE id = ?1",
        params![id],
        |row| {
            let body: String = row.get(0)?;
            let attributes: BTreeMap<String, Value> =
                serde_json::from_str(&row.get::<_, String>(1)?).unwrap_or_default();
            let md5_of_attributes = if attributes.is_empty() {
                None
            } else {
                attributes_md5(&attributes).ok()
            };
            Ok(Received {
                message_id: id.to_owned(),
                receipt,
                md5_of_body: md5_hex(body.as_bytes()),
                body,
                attributes,
                md5_of_attributes,
                sent_ms: row.get(2)?,
                first_receive_ms: row.get(3)?,
                receive_count: row.get(4)?,
                group_id: row.get(5)?,
                deduplication_id: row.get(6)?,
                sequence_number: fifo.then(|| sequence_number(row.get(7).unwrap_or_default())),
            })
        },
    )
}

pub(super) fn delete(
    conn: &mut Connection,
    queue: &str,
    id: &str,
    receipt: &str,
) -> rusqlite::Result<()> {
    // Only the newest receipt deletes; an older one is accepted and does nothing (SQS).
    conn.execute(
        "DELETE FROM sqs_messages WHERE id = ?1 AND queue = ?2 AND receipt = ?3",
        params![id, queue, receipt],
    )?;
    Ok(())
}

pub(super) fn change_visibility(
    conn: &mut Connection,
    queue: &str,
    id: &str,
    receipt: &str,
    seconds: u32,
    now: i64,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE sqs_messages SET visible_ms = ?4 WHERE id = ?1 AND queue = ?2 AND receipt = ?3 AND visible_ms > ?5",
        params![id, queue, receipt, now + i64::from(seconds) * 1000, now],
    )?;
    Ok(changed == 1)
}

pub(super) fn counts(
    conn: &mut Connection,
    queue: &QueueSpec,
    now: i64,
) -> rusqlite::Result<(u64, u64, u64)> {
    conn.query_row(
        "SELECT
            COALESCE(SUM(visible_ms <= ?2), 0),
            COALESCE(SUM(visible_ms > ?2 AND receipt IS NOT NULL), 0),
            COALESCE(SUM(visible_ms > ?2 AND receipt IS NULL), 0)
         FROM sqs_messages WHERE queue = ?1 AND sent_ms > ?3",
        params![queue.name, now, now - i64::from(queue.retention) * 1000],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
}

pub(super) fn purge(conn: &mut Connection, queue: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sqs_messages WHERE queue = ?1", params![queue])?;
    conn.execute("DELETE FROM sqs_dedup WHERE queue = ?1", params![queue])?;
    Ok(())
}
