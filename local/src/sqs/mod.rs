//! The local SQS: the queues `portico.toml` declares (`[[queues]]`), their messages in the
//! state database, so a restart of `portico local` loses none, in flight or waiting.
//!
//! What it keeps of SQS's semantics (the parts an app and Lambda's poller depend on):
//! - a received message is hidden for the visibility timeout (the queue's, or the receive's),
//!   each receive hands out a new receipt handle, and only the newest one deletes the message
//!   (an older one is accepted and does nothing, as SQS does);
//! - after `max_receive_count` receives a message moves to the dead-letter queue instead of
//!   being delivered again;
//! - FIFO queues deliver each message group in order, one batch of a group in flight at a
//!   time, and drop a message whose deduplication id (given, or the body's SHA-256 with
//!   content-based deduplication) was seen in the last five minutes;
//! - `DelaySeconds`, retention, the MD5 digests of body and attributes, 256 KiB bodies.
//!
//! The wire protocol (AWS JSON 1.0, `X-Amz-Target: AmazonSQS.<Operation>`) is in [`api`].

pub mod api;
mod messages;
pub mod poller;

use std::collections::BTreeMap;
use std::sync::Arc;

use portico_spec::config::{Config, ResourceKind};
use portico_spec::names::{Location, Names};
use serde_json::Value;

use crate::clock::Clock;
use crate::store::Store;

pub use messages::{Received, Sent};

/// The longest a message body (with its attributes) may be: 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// A queue as the local SQS keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// The queue's real name (`<app>-<stage>-<name>`, `.fifo` for FIFO queues).
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// A FIFO queue.
    pub fifo: bool,
    /// FIFO: deduplicate by the body's SHA-256 when a message has no deduplication id.
    pub content_based_deduplication: bool,
    /// Seconds a received message stays hidden.
    pub visibility_timeout: u32,
    /// Seconds a message is kept.
    pub retention: u32,
    /// Seconds every message is delayed.
    pub delay: u32,
    /// The dead-letter queue's real name and the receives before a message moves there.
    pub dead_letter: Option<(String, u32)>,
}

impl QueueSpec {
    /// The owned queues of `config` for a stage named by `names`, at `location` (external
    /// queues are AWS's, not the local cloud's).
    pub fn from_config(config: &Config, names: &Names, location: &Location) -> Vec<Self> {
        let resolved = config.stage_resources(names, location, None);
        let physical = |name: &str| {
            resolved
                .iter()
                .find(|r| r.kind == ResourceKind::Queue && r.name == name)
                .map(|r| (r.physical.clone(), r.arn.clone()))
        };
        config
            .queues
            .iter()
            .filter(|q| q.external.is_none())
            .filter_map(|q| {
                let (name, arn) = physical(q.name.get_ref())?;
                Some(Self {
                    name,
                    arn,
                    fifo: q.fifo,
                    content_based_deduplication: q
                        .content_based_deduplication
                        .as_ref()
                        .is_some_and(|d| *d.get_ref()),
                    visibility_timeout: q.visibility_timeout.as_ref().map_or(30, |v| *v.get_ref()),
                    retention: q
                        .message_retention
                        .as_ref()
                        .map_or(345_600, |v| *v.get_ref()),
                    delay: q.delay.as_ref().map_or(0, |v| *v.get_ref()),
                    dead_letter: q.dead_letter.as_ref().and_then(|d| {
                        physical(d.queue.get_ref())
                            .map(|(n, _)| (n, *d.max_receive_count.get_ref()))
                    }),
                })
            })
            .collect()
    }
}

/// What a caller did wrong (or what failed), as SQS names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsError {
    /// The JSON protocol's error type (`QueueDoesNotExist`, `InvalidParameterValue`, …).
    pub kind: &'static str,
    /// The query protocol's code SDKs also read (`AWS.SimpleQueueService.NonExistentQueue`).
    pub query_code: &'static str,
    /// What went wrong.
    pub message: String,
}

impl SqsError {
    fn new(kind: &'static str, query_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            query_code,
            message: message.into(),
        }
    }

    /// An invalid parameter.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", "InvalidParameterValue", message)
    }

    fn no_queue() -> Self {
        Self::new(
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        )
    }

    fn database(err: &rusqlite::Error) -> Self {
        Self::new(
            "InternalError",
            "InternalError",
            format!("the local state database failed: {err}"),
        )
    }
}

/// One message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// The body.
    pub body: String,
    /// Seconds to hide it for (the queue's `delay` when `None`; standard queues only).
    pub delay: Option<u32>,
    /// `MessageAttributes`, as the JSON protocol writes them.
    pub attributes: BTreeMap<String, Value>,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id.
    pub deduplication_id: Option<String>,
}

/// The local SQS.
pub struct Sqs {
    store: Arc<Store>,
    queues: BTreeMap<String, QueueSpec>,
    clock: Arc<dyn Clock>,
    /// Woken when a message is sent or made visible again (long polls and pollers wait on it).
    changed: tokio::sync::Notify,
}

impl Sqs {
    /// The queues `queues`, their messages in `store`.
    pub fn new(store: Arc<Store>, queues: Vec<QueueSpec>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            queues: queues.into_iter().map(|q| (q.name.clone(), q)).collect(),
            clock,
            changed: tokio::sync::Notify::new(),
        }
    }

    /// The queue named `name`.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn queue(&self, name: &str) -> Result<&QueueSpec, SqsError> {
        self.queues.get(name).ok_or_else(SqsError::no_queue)
    }

    /// Every queue, by name.
    pub fn queues(&self) -> impl Iterator<Item = &QueueSpec> {
        self.queues.values()
    }

    /// Sends `message` to queue `queue`.
    ///
    /// # Errors
    /// An unknown queue, a body or attribute SQS refuses, a missing FIFO group.
    pub fn send(&self, queue: &str, message: &Outgoing) -> Result<Sent, SqsError> {
        let spec = self.queue(queue)?;
        let now = self.clock.now_ms();
        let sent = self
            .store
            .with_connection(|conn| messages::send(conn, spec, message, now))
            .map_err(|e| SqsError::database(&e))??;
        self.changed.notify_waiters();
        Ok(sent)
    }

    /// Receives up to `max` messages of `queue`, hiding them for `visibility` seconds (the
    /// queue's timeout when `None`).
    ///
    /// # Errors
    /// An unknown queue, or a database failure.
    pub fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Option<u32>,
    ) -> Result<Vec<Received>, SqsError> {
        let spec = self.queue(queue)?;
        let dead_letter = match &spec.dead_letter {
            Some((name, count)) => Some((self.queue(name)?, *count)),
            None => None,
        };
        let now = self.clock.now_ms();
        let visibility = visibility.unwrap_or(spec.visibility_timeout);
        self.store
            .with_connection(|conn| {
                messages::receive(conn, spec, dead_letter, max, visibility, now)
            })
            .map_err(|e| SqsError::database(&e))
    }

    /// Receives like [`receive`](Self::receive), waiting up to `wait_ms` for a message when
    /// none is there (long polling).
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_waiting(
        &self,
        queue: &str,
        max: usize,
        visibility: Option<u32>,
        wait_ms: u64,
    ) -> Result<Vec<Received>, SqsError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
        loop {
            let changed = self.changed.notified();
            let got = self.receive(queue, max, visibility)?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            // Delayed and hidden messages become visible without a send: look again soon.
            let next = (now + std::time::Duration::from_millis(100)).min(deadline);
            let _ = tokio::time::timeout_at(next, changed).await;
        }
    }

    /// Deletes the message `receipt` was handed out for, if it is still the newest receipt.
    ///
    /// # Errors
    /// An unknown queue or a receipt handle this queue never issued.
    pub fn delete(&self, queue: &str, receipt: &str) -> Result<(), SqsError> {
        self.queue(queue)?;
        let id = messages::receipt_message(receipt)?;
        self.store
            .with_connection(|conn| messages::delete(conn, queue, &id, receipt))
            .map_err(|e| SqsError::database(&e))
    }

    /// Sets the visibility timeout of the in-flight message `receipt` names to `seconds` from
    /// now (0 makes it visible at once).
    ///
    /// # Errors
    /// An unknown queue, a bad receipt, a message not in flight, a timeout over 12 hours.
    pub fn change_visibility(
        &self,
        queue: &str,
        receipt: &str,
        seconds: u32,
    ) -> Result<(), SqsError> {
        self.queue(queue)?;
        if seconds > 43_200 {
            return Err(SqsError::invalid(format!(
                "Value {seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
            )));
        }
        let id = messages::receipt_message(receipt)?;
        let now = self.clock.now_ms();
        let changed = self
            .store
            .with_connection(|conn| {
                messages::change_visibility(conn, queue, &id, receipt, seconds, now)
            })
            .map_err(|e| SqsError::database(&e))?;
        if !changed {
            return Err(SqsError::new(
                "MessageNotInflight",
                "AWS.SimpleQueueService.MessageNotInflight",
                "The message referred to isn't in flight.",
            ));
        }
        self.changed.notify_waiters();
        Ok(())
    }

    /// Messages of `queue`: (visible, in flight, delayed).
    ///
    /// # Errors
    /// An unknown queue, or a database failure.
    pub fn counts(&self, queue: &str) -> Result<(u64, u64, u64), SqsError> {
        let spec = self.queue(queue)?;
        let now = self.clock.now_ms();
        self.store
            .with_connection(|conn| messages::counts(conn, spec, now))
            .map_err(|e| SqsError::database(&e))
    }

    /// Deletes every message of `queue`.
    ///
    /// # Errors
    /// An unknown queue, or a database failure.
    pub fn purge(&self, queue: &str) -> Result<(), SqsError> {
        self.queue(queue)?;
        self.store
            .with_connection(|conn| messages::purge(conn, queue))
            .map_err(|e| SqsError::database(&e))
    }
}

#[cfg(test)]
mod tests;
