//! `[[tables]]`, `[[buckets]]`, `[[queues]]` and `[[topics]]`: the data resources an app
//! declares, each created per stage (or referenced, when `external`), its real name, URL or
//! ARN handed to every function through an environment variable.
//!
//! What AWS would refuse is refused here, at load, with the key named: a queue's visibility
//! timeout outside 0-43200 s, a dead-letter queue of the other kind (FIFO beside standard), a
//! table key type other than `S`/`N`/`B`, capacity on an on-demand table, a bucket name longer
//! than S3's 63 characters in some stage, and so on. The keys are documented in
//! `docs/config.md` ("Resources").

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, Config};
use crate::manifest::{EventTrigger, Manifest};
use crate::names::{Location, Names};

/// The kinds of declared resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    /// A DynamoDB table (`[[tables]]`).
    Table,
    /// An S3 bucket (`[[buckets]]`).
    Bucket,
    /// An SQS queue (`[[queues]]`).
    Queue,
    /// An SNS topic (`[[topics]]`).
    Topic,
}

impl ResourceKind {
    /// `table`, `bucket`, `queue`, `topic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Bucket => "bucket",
            Self::Queue => "queue",
            Self::Topic => "topic",
        }
    }

    /// The config's array of tables: `[[tables]]`, ….
    pub fn config_key(self) -> &'static str {
        match self {
            Self::Table => "[[tables]]",
            Self::Bucket => "[[buckets]]",
            Self::Queue => "[[queues]]",
            Self::Topic => "[[topics]]",
        }
    }

    /// The suffix of the default environment variable: `USERS_TABLE`, `JOBS_QUEUE_URL`, ….
    fn env_suffix(self) -> &'static str {
        match self {
            Self::Table => "TABLE",
            Self::Bucket => "BUCKET",
            Self::Queue => "QUEUE_URL",
            Self::Topic => "TOPIC_ARN",
        }
    }
}

/// `[[tables]]`: a DynamoDB table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The name handlers and the config use (`#[on_dynamodb_record(table = "users")]`).
    pub name: Spanned<String>,
    /// The partition (hash) key; required unless `external`.
    pub partition_key: Option<KeyAttribute>,
    /// The sort (range) key.
    pub sort_key: Option<KeyAttribute>,
    /// `PAY_PER_REQUEST` (the default) or `PROVISIONED`.
    pub billing_mode: Option<Spanned<String>>,
    /// Read capacity units (`PROVISIONED` only, and then required).
    pub read_capacity: Option<Spanned<u64>>,
    /// Write capacity units (`PROVISIONED` only, and then required).
    pub write_capacity: Option<Spanned<u64>>,
    /// The stream's view type: `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or `NEW_AND_OLD_IMAGES`
    /// (needed by `#[on_dynamodb_record]`).
    pub stream: Option<Spanned<String>>,
    /// The attribute DynamoDB's time to live reads.
    pub ttl_attribute: Option<Spanned<String>>,
    /// The environment variable with the table's name (default `<NAME>_TABLE`).
    pub env: Option<Spanned<String>>,
    /// An existing table's name or ARN: referenced, never created or deleted.
    pub external: Option<Spanned<String>>,
}

/// A table key: `{ name = "id", type = "S" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    /// The attribute's name.
    pub name: Spanned<String>,
    /// `S` (string), `N` (number) or `B` (binary).
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
}

/// `[[buckets]]`: an S3 bucket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// The name handlers and the config use (`#[on_s3_event(bucket = "uploads")]`).
    pub name: Spanned<String>,
    /// The environment variable with the bucket's name (default `<NAME>_BUCKET`).
    pub env: Option<Spanned<String>>,
    /// An existing bucket's name or ARN: referenced, never created or deleted.
    pub external: Option<Spanned<String>>,
}

/// `[[queues]]`: an SQS queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// The name handlers and the config use (`#[on_sqs_message(queue = "jobs")]`).
    pub name: Spanned<String>,
    /// A FIFO queue (its real name ends in `.fifo`).
    #[serde(default)]
    pub fifo: bool,
    /// FIFO only: deduplicate by a hash of the body when a message has no deduplication id.
    #[serde(default)]
    pub content_based_deduplication: Option<Spanned<bool>>,
    /// Seconds a received message stays hidden, 0-43200 (default 30).
    pub visibility_timeout: Option<Spanned<u32>>,
    /// Seconds a message is kept, 60-1209600 (default 345600: four days).
    pub message_retention: Option<Spanned<u32>>,
    /// Seconds every message is delayed, 0-900 (default 0).
    pub delay: Option<Spanned<u32>>,
    /// Where messages go after `max_receive_count` failed receives.
    pub dead_letter: Option<DeadLetter>,
    /// The environment variable with the queue's URL (default `<NAME>_QUEUE_URL`).
    pub env: Option<Spanned<String>>,
    /// An existing queue's name, ARN or URL: referenced, never created or deleted.
    pub external: Option<Spanned<String>>,
}

/// A queue's redrive policy: `{ queue = "jobs-dlq", max_receive_count = 5 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    /// Another `[[queues]]` entry, of the same kind (FIFO or standard).
    pub queue: Spanned<String>,
    /// Receives before a message moves there, 1-1000.
    pub max_receive_count: Spanned<u32>,
}

/// `[[topics]]`: an SNS topic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// The name handlers and the config use (`#[on_sns_message(topic = "alerts")]`).
    pub name: Spanned<String>,
    /// A FIFO topic (its real name ends in `.fifo`).
    #[serde(default)]
    pub fifo: bool,
    /// FIFO only: deduplicate by a hash of the body.
    #[serde(default)]
    pub content_based_deduplication: Option<Spanned<bool>>,
    /// The environment variable with the topic's ARN (default `<NAME>_TOPIC_ARN`).
    pub env: Option<Spanned<String>>,
    /// An existing topic's name or ARN: referenced, never created or deleted.
    pub external: Option<Spanned<String>>,
}

/// A declared resource, resolved for one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageResource {
    /// What it is.
    pub kind: ResourceKind,
    /// Its name in the config (and in handlers' attributes).
    pub name: String,
    /// Its real name: `<app>-<stage>-<name>` (buckets: lower case, with the account), or the
    /// external one.
    pub physical: String,
    /// Its ARN.
    pub arn: String,
    /// The environment variable every function gets.
    pub env: String,
    /// The variable's value: the table's or bucket's name, the queue's URL, the topic's ARN.
    pub value: String,
    /// Referenced, not owned: never created, changed or deleted.
    pub external: bool,
}

/// What every kind shares, for the checks that apply to all of them.
struct Common<'a> {
    kind: ResourceKind,
    name: &'a Spanned<String>,
    env: Option<&'a Spanned<String>>,
    external: Option<&'a Spanned<String>>,
    /// The offset of the first key that makes no sense beside `external`.
    owned_only: Option<usize>,
    /// The real name's suffix (`.fifo`).
    suffix: &'static str,
}

impl Config {
    /// Every declared resource, in config order (tables, buckets, queues, topics).
    fn common(&self) -> Vec<Common<'_>> {
        let mut out = Vec::new();
        for t in &self.tables {
            let owned_only = [
                t.partition_key.as_ref().map(|k| k.name.span().start),
                t.sort_key.as_ref().map(|k| k.name.span().start),
                t.billing_mode.as_ref().map(|s| s.span().start),
                t.read_capacity.as_ref().map(|s| s.span().start),
                t.write_capacity.as_ref().map(|s| s.span().start),
                t.stream.as_ref().map(|s| s.span().start),
                t.ttl_attribute.as_ref().map(|s| s.span().start),
            ];
            out.push(Common {
                kind: ResourceKind::Table,
                name: &t.name,
                env: t.env.as_ref(),
                external: t.external.as_ref(),
                owned_only: owned_only.into_iter().flatten().min(),
                suffix: "",
            });
        }
        for b in &self.buckets {
            out.push(Common {
                kind: ResourceKind::Bucket,
                name: &b.name,
                env: b.env.as_ref(),
                external: b.external.as_ref(),
                owned_only: None,
                suffix: "",
            });
        }
        for q in &self.queues {
            let owned_only = [
                q.content_based_deduplication
                    .as_ref()
                    .map(|s| s.span().start),
                q.visibility_timeout.as_ref().map(|s| s.span().start),
                q.message_retention.as_ref().map(|s| s.span().start),
                q.delay.as_ref().map(|s| s.span().start),
                q.dead_letter.as_ref().map(|d| d.queue.span().start),
            ];
            out.push(Common {
                kind: ResourceKind::Queue,
                name: &q.name,
                env: q.env.as_ref(),
                external: q.external.as_ref(),
                owned_only: owned_only.into_iter().flatten().min(),
                suffix: if q.fifo { ".fifo" } else { "" },
            });
        }
        for t in &self.topics {
            out.push(Common {
                kind: ResourceKind::Topic,
                name: &t.name,
                env: t.env.as_ref(),
                external: t.external.as_ref(),
                owned_only: t
                    .content_based_deduplication
                    .as_ref()
                    .map(|s| s.span().start),
                suffix: if t.fifo { ".fifo" } else { "" },
            });
        }
        out
    }

    /// Whether the config declares a resource of `kind` named `name`.
    pub fn declares(&self, kind: ResourceKind, name: &str) -> bool {
        self.common()
            .iter()
            .any(|c| c.kind == kind && c.name.get_ref() == name)
    }

    /// The declared resources of stage `stage` at `location`. A queue's URL is SQS's public
    /// one, or `<queue_endpoint>/<account>/<name>` when an endpoint is given (the local cloud's
    /// services endpoint).
    pub fn stage_resources(
        &self,
        names: &Names,
        location: &Location,
        queue_endpoint: Option<&str>,
    ) -> Vec<StageResource> {
        self.common()
            .iter()
            .map(|c| {
                let name = c.name.get_ref();
                let env = c
                    .env
                    .map_or_else(|| default_env(c.kind, name), |e| e.get_ref().clone());
                let (physical, at) = match c.external {
                    Some(external) => external_parts(c.kind, external.get_ref(), location),
                    None => {
                        let physical = match c.kind {
                            ResourceKind::Bucket => names.bucket(name, &location.account),
                            _ => format!("{}{}", names.scoped(name), c.suffix),
                        };
                        (physical, location.clone())
                    }
                };
                let arn = match c.kind {
                    ResourceKind::Table => at.table_arn(&physical),
                    ResourceKind::Bucket => at.bucket_arn(&physical),
                    ResourceKind::Queue => at.queue_arn(&physical),
                    ResourceKind::Topic => at.topic_arn(&physical),
                };
                let value = match c.kind {
                    ResourceKind::Queue => match queue_endpoint {
                        Some(base) => {
                            format!("{}/{}/{physical}", base.trim_end_matches('/'), at.account)
                        }
                        None => at.queue_url(&physical),
                    },
                    ResourceKind::Topic => arn.clone(),
                    ResourceKind::Table | ResourceKind::Bucket => physical.clone(),
                };
                StageResource {
                    kind: c.kind,
                    name: name.clone(),
                    physical,
                    arn,
                    env,
                    value,
                    external: c.external.is_some(),
                }
            })
            .collect()
    }

    pub(super) fn validate_resources(&self, c: &mut Checker<'_>) {
        let common = self.common();
        let mut seen: Vec<(ResourceKind, &str)> = Vec::new();
        let mut seen_env: BTreeMap<String, String> = self
            .secrets
            .iter()
            .map(|s| {
                (
                    s.name.get_ref().clone(),
                    format!("secret `{}`", s.name.get_ref()),
                )
            })
            .collect();
        for r in &common {
            let name = r.name.get_ref();
            let what = format!("{} `{name}`", r.kind.as_str());
            let valid = match r.kind {
                ResourceKind::Bucket => {
                    matches!(name.chars().next(), Some(ch) if ch.is_ascii_lowercase())
                        && name
                            .chars()
                            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
                }
                _ => {
                    matches!(name.chars().next(), Some(ch) if ch.is_ascii_alphabetic())
                        && name
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
                }
            };
            if !valid || name.len() > 40 {
                let rule = if r.kind == ResourceKind::Bucket {
                    "1-40 lower-case letters, digits or `-`, starting with a letter"
                } else {
                    "1-40 letters, digits, `-` or `_`, starting with a letter"
                };
                c.error(
                    r.name.span().start,
                    &format!("{} name `{name}` must be {rule}", r.kind.as_str()),
                );
            }
            if seen.contains(&(r.kind, name.as_str())) {
                c.error(r.name.span().start, &format!("{what} is declared twice"));
            }
            seen.push((r.kind, name));
            let env = r
                .env
                .map_or_else(|| default_env(r.kind, name), |e| e.get_ref().clone());
            let env_at = r.env.map_or(r.name.span().start, |e| e.span().start);
            if !is_env_name(&env) {
                c.error(
                    env_at,
                    &format!(
                        "{what}: `env` `{env}` must be an environment variable name: letters, digits or `_`, not starting with a digit"
                    ),
                );
            } else if env.starts_with("AWS_") {
                c.error(
                    env_at,
                    &format!(
                        "{what}: `{env}`: variables starting with AWS_ are reserved by Lambda"
                    ),
                );
            } else if let Some(other) = seen_env.get(&env) {
                c.error(
                    env_at,
                    &format!(
                        "{what}: variable `{env}` is also {other}'s; set `env` to another name"
                    ),
                );
            } else if self.env_sets(&env) {
                c.error(
                    env_at,
                    &format!(
                        "{what}: variable `{env}` is also set in a stage's or function's `env`; it holds the {}'s real {}: remove it there or set `env` to another name",
                        r.kind.as_str(),
                        if r.kind == ResourceKind::Queue { "URL" } else if r.kind == ResourceKind::Topic { "ARN" } else { "name" }
                    ),
                );
            }
            seen_env.insert(env, what.clone());
            match r.external {
                Some(external) => {
                    if let Some(at) = r.owned_only {
                        c.error(
                            at,
                            &format!(
                                "{what} is `external`: Portico creates and changes nothing of it, so only `name`, `env` and `external` (and `fifo` for queues and topics) belong here"
                            ),
                        );
                    }
                    if let Err(why) = check_external(r.kind, external.get_ref(), r.suffix) {
                        c.error(external.span().start, &format!("{what}: `external` {why}"));
                    }
                }
                None => self.check_owned_name(r, c),
            }
        }
        for t in &self.tables {
            t.validate(c);
        }
        for q in &self.queues {
            q.validate(&self.queues, c);
        }
        for t in &self.topics {
            if let Some(dedup) = &t.content_based_deduplication {
                if !t.fifo {
                    c.error(
                        dedup.span().start,
                        &format!(
                            "topic `{}`: `content_based_deduplication` is for FIFO topics only (set `fifo = true`)",
                            t.name.get_ref()
                        ),
                    );
                }
            }
        }
    }

    /// Whether a stage's or a function's `env` sets `name`.
    fn env_sets(&self, name: &str) -> bool {
        self.stages.values().any(|s| {
            s.env.contains_key(name) || s.functions.values().any(|f| f.env.contains_key(name))
        }) || self.functions.values().any(|f| f.env.contains_key(name))
    }

    /// The real name AWS gets, in every stage the file declares, is within AWS's limits.
    fn check_owned_name(&self, r: &Common<'_>, c: &mut Checker<'_>) {
        let (limit, service) = match r.kind {
            ResourceKind::Table => (255, "DynamoDB"),
            ResourceKind::Bucket => (63, "S3"),
            ResourceKind::Queue => (80, "SQS"),
            ResourceKind::Topic => (256, "SNS"),
        };
        for stage in self.stages.keys() {
            let names = Names {
                app: self.app.name.get_ref().clone(),
                stage: stage.clone(),
            };
            // A real account id has 12 digits: the length is the same for every account.
            let physical = match r.kind {
                ResourceKind::Bucket => names.bucket(r.name.get_ref(), "000000000000"),
                _ => format!("{}{}", names.scoped(r.name.get_ref()), r.suffix),
            };
            if physical.len() > limit {
                c.error(
                    r.name.span().start,
                    &format!(
                        "{} `{}`: its name in stage `{stage}`, `{physical}`, is {} characters; {service} allows {limit}. Use a shorter name",
                        r.kind.as_str(),
                        r.name.get_ref(),
                        physical.len()
                    ),
                );
                return;
            }
        }
    }
}

impl Config {
    /// Every event handler of `manifest` names a resource this config declares (and a table
    /// with a stream, for `#[on_dynamodb_record]`): `portico local` and `deploy` check it at
    /// start.
    ///
    /// # Errors
    /// The first handler that does not, naming the handler, its source and the missing entry.
    pub fn check_event_handlers(&self, manifest: &Manifest) -> Result<(), String> {
        for handler in &manifest.event_handlers {
            let (kind, name) = match &handler.trigger {
                EventTrigger::Sqs { queue, .. } => (ResourceKind::Queue, queue),
                EventTrigger::Sns { topic } => (ResourceKind::Topic, topic),
                EventTrigger::S3 { bucket, .. } => (ResourceKind::Bucket, bucket),
                EventTrigger::DynamoDb { table, .. } => (ResourceKind::Table, table),
                EventTrigger::EventBridge { .. } => continue,
            };
            let at = if handler.source.is_empty() {
                String::new()
            } else {
                format!(" ({})", handler.source)
            };
            if !self.declares(kind, name) {
                return Err(format!(
                    "event handler `{}`{at} names {} `{name}`, which no {} entry in {} declares; add:\n\n{}\nname = \"{name}\"",
                    handler.name,
                    kind.as_str(),
                    kind.config_key(),
                    super::FILE_NAME,
                    kind.config_key(),
                ));
            }
            if kind == ResourceKind::Table {
                let table = self.tables.iter().find(|t| t.name.get_ref() == name);
                if table.is_some_and(|t| t.stream.is_none() && t.external.is_none()) {
                    return Err(format!(
                        "event handler `{}`{at} reads the stream of table `{name}`, which has none: set `stream = \"NEW_AND_OLD_IMAGES\"` (or another view) on its [[tables]] entry in {}",
                        handler.name,
                        super::FILE_NAME
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Table {
    fn validate(&self, c: &mut Checker<'_>) {
        let what = format!("table `{}`", self.name.get_ref());
        if self.external.is_none() && self.partition_key.is_none() {
            c.error(
                self.name.span().start,
                &format!("{what} needs a `partition_key = {{ name = \"id\", type = \"S\" }}`"),
            );
        }
        for key in self.partition_key.iter().chain(&self.sort_key) {
            let n = key.name.get_ref();
            if n.is_empty() || n.len() > 255 {
                c.error(
                    key.name.span().start,
                    &format!("{what}: a key attribute name must be 1-255 characters"),
                );
            }
            if !matches!(key.kind.get_ref().as_str(), "S" | "N" | "B") {
                c.error(
                    key.kind.span().start,
                    &format!(
                        "{what}: key type `{}` must be `S` (string), `N` (number) or `B` (binary)",
                        key.kind.get_ref()
                    ),
                );
            }
        }
        if let (Some(p), Some(s)) = (&self.partition_key, &self.sort_key) {
            if p.name.get_ref() == s.name.get_ref() {
                c.error(
                    s.name.span().start,
                    &format!(
                        "{what}: the sort key must be another attribute than the partition key"
                    ),
                );
            }
        }
        let provisioned = match &self.billing_mode {
            None => false,
            Some(mode) => match mode.get_ref().as_str() {
                "PAY_PER_REQUEST" => false,
                "PROVISIONED" => true,
                other => {
                    c.error(
                        mode.span().start,
                        &format!("{what}: `billing_mode` `{other}` must be `PAY_PER_REQUEST` or `PROVISIONED`"),
                    );
                    false
                }
            },
        };
        for (key, units) in [
            ("read_capacity", &self.read_capacity),
            ("write_capacity", &self.write_capacity),
        ] {
            match units {
                Some(u) if !provisioned => c.error(
                    u.span().start,
                    &format!("{what}: `{key}` is for `billing_mode = \"PROVISIONED\"` only (on-demand tables have no capacity)"),
                ),
                Some(u) if *u.get_ref() == 0 => {
                    c.error(u.span().start, &format!("{what}: `{key}` must be at least 1"));
                }
                None if provisioned && self.external.is_none() => c.error(
                    self.name.span().start,
                    &format!("{what}: a `PROVISIONED` table needs `{key}`"),
                ),
                _ => {}
            }
        }
        if let Some(view) = &self.stream {
            if !matches!(
                view.get_ref().as_str(),
                "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES"
            ) {
                c.error(
                    view.span().start,
                    &format!(
                        "{what}: `stream` `{}` must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES",
                        view.get_ref()
                    ),
                );
            }
        }
        if let Some(ttl) = &self.ttl_attribute {
            if ttl.get_ref().is_empty() || ttl.get_ref().len() > 255 {
                c.error(
                    ttl.span().start,
                    &format!("{what}: `ttl_attribute` must be 1-255 characters"),
                );
            }
        }
    }
}

impl Queue {
    fn validate(&self, queues: &[Queue], c: &mut Checker<'_>) {
        let what = format!("queue `{}`", self.name.get_ref());
        let ranges = [
            ("visibility_timeout", &self.visibility_timeout, 0..=43_200),
            ("message_retention", &self.message_retention, 60..=1_209_600),
            ("delay", &self.delay, 0..=900),
        ];
        for (key, value, range) in ranges {
            if let Some(v) = value {
                if !range.contains(v.get_ref()) {
                    c.error(
                        v.span().start,
                        &format!(
                            "{what}: `{key}` must be {}-{} seconds",
                            range.start(),
                            range.end()
                        ),
                    );
                }
            }
        }
        if let Some(dedup) = &self.content_based_deduplication {
            if !self.fifo {
                c.error(
                    dedup.span().start,
                    &format!("{what}: `content_based_deduplication` is for FIFO queues only (set `fifo = true`)"),
                );
            }
        }
        let Some(dlq) = &self.dead_letter else { return };
        let count = dlq.max_receive_count.get_ref();
        if !(1..=1000).contains(count) {
            c.error(
                dlq.max_receive_count.span().start,
                &format!("{what}: `dead_letter.max_receive_count` must be 1-1000"),
            );
        }
        let target = dlq.queue.get_ref();
        match queues.iter().find(|q| q.name.get_ref() == target) {
            None => c.error(
                dlq.queue.span().start,
                &format!("{what}: `dead_letter.queue` `{target}` is not a [[queues]] entry"),
            ),
            Some(q) if q.name.get_ref() == self.name.get_ref() => c.error(
                dlq.queue.span().start,
                &format!("{what}: a queue cannot be its own dead-letter queue"),
            ),
            Some(q) if q.fifo != self.fifo => c.error(
                dlq.queue.span().start,
                &format!(
                    "{what}: the dead-letter queue of a {} queue must be {} too; `{target}` is not",
                    if self.fifo { "FIFO" } else { "standard" },
                    if self.fifo { "FIFO" } else { "standard" },
                ),
            ),
            Some(_) => {}
        }
    }
}

/// `USERS_TABLE` for table `users`, `JOB_RUNS_QUEUE_URL` for queue `job-runs`.
fn default_env(kind: ResourceKind, name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|ch| {
            if ch == '-' {
                '_'
            } else {
                ch.to_ascii_uppercase()
            }
        })
        .collect();
    format!("{stem}_{}", kind.env_suffix())
}

fn is_env_name(name: &str) -> bool {
    matches!(name.chars().next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// The service an ARN of `kind` names.
fn service(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Table => "dynamodb",
        ResourceKind::Bucket => "s3",
        ResourceKind::Queue => "sqs",
        ResourceKind::Topic => "sns",
    }
}

/// An external reference's real name and where it lives: a plain name is in the stage's own
/// account and region; an ARN (or a queue URL) says where.
fn external_parts(kind: ResourceKind, external: &str, stage: &Location) -> (String, Location) {
    if let Some(rest) = external.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if let [partition, _, region, account, resource] = parts[..] {
            let name = match kind {
                ResourceKind::Table => resource.strip_prefix("table/").unwrap_or(resource),
                _ => resource,
            };
            let mut at = Location::new(region, account);
            at.partition = partition.to_owned();
            if kind == ResourceKind::Bucket {
                // S3 ARNs name neither: the bucket is reached through the stage's region.
                at.region.clone_from(&stage.region);
                at.account.clone_from(&stage.account);
            }
            return (name.to_owned(), at);
        }
    }
    if kind == ResourceKind::Queue && external.starts_with("https://") {
        // https://sqs.<region>.amazonaws.com/<account>/<name>
        let mut path = external.trim_end_matches('/').rsplit('/');
        let name = path.next().unwrap_or_default();
        let account = path.next().unwrap_or_default();
        let host = path.next().unwrap_or_default();
        let region = host.split('.').nth(1).unwrap_or(&stage.region);
        return (name.to_owned(), Location::new(region, account));
    }
    (external.to_owned(), stage.clone())
}

/// `external` names a resource of this kind: a valid name, an ARN of the kind's service, or
/// (queues) an SQS URL; a FIFO queue or topic's name ends in `.fifo`.
fn check_external(kind: ResourceKind, external: &str, suffix: &str) -> Result<(), String> {
    let service = service(kind);
    let name = if let Some(rest) = external.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, svc, region, account, resource] = parts[..] else {
            return Err(format!(
                "`{external}` is not an ARN (arn:<partition>:{service}:…)"
            ));
        };
        if !partition.starts_with("aws") || svc != service {
            return Err(format!("`{external}` is not an ARN of {service}"));
        }
        let global = kind == ResourceKind::Bucket;
        if global != (region.is_empty() && account.is_empty()) {
            return Err(format!(
                "`{external}`: {}",
                if global {
                    "an S3 bucket ARN has no region or account (arn:aws:s3:::<bucket>)"
                } else {
                    "the ARN needs a region and a 12-digit account"
                }
            ));
        }
        if !global && (account.len() != 12 || !account.chars().all(|ch| ch.is_ascii_digit())) {
            return Err(format!("`{external}`: the account must be 12 digits"));
        }
        match kind {
            ResourceKind::Table => resource
                .strip_prefix("table/")
                .ok_or_else(|| format!("`{external}`: a table ARN ends in `table/<name>`"))?,
            _ => resource,
        }
    } else if kind == ResourceKind::Queue && external.starts_with("https://") {
        let (name, _) = external_parts(kind, external, &Location::new("", ""));
        let segments = external.trim_end_matches('/').split('/').count();
        if segments != 5 || !external.contains(".amazonaws.com") {
            return Err(format!(
                "`{external}` is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)"
            ));
        }
        return check_name(kind, &name, suffix, external);
    } else {
        external
    };
    check_name(kind, name, suffix, external)
}

fn check_name(kind: ResourceKind, name: &str, suffix: &str, external: &str) -> Result<(), String> {
    let valid = match kind {
        ResourceKind::Table => {
            (3..=255).contains(&name.len())
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'))
        }
        ResourceKind::Bucket => {
            (3..=63).contains(&name.len())
                && name.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                && name.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                && name.chars().all(|ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '.'
                })
        }
        ResourceKind::Queue | ResourceKind::Topic => {
            let stem = name.strip_suffix(".fifo").unwrap_or(name);
            let limit = if kind == ResourceKind::Queue { 80 } else { 256 };
            (1..=limit).contains(&name.len())
                && !stem.is_empty()
                && stem
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        }
    };
    if !valid {
        return Err(format!(
            "`{external}` is not a valid {} name",
            kind.as_str()
        ));
    }
    if matches!(kind, ResourceKind::Queue | ResourceKind::Topic)
        && name.ends_with(".fifo") != (suffix == ".fifo")
    {
        return Err(format!(
            "`{external}`: a FIFO {k}'s name ends in `.fifo` and only a FIFO {k}'s does; set `fifo` to match",
            k = kind.as_str()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("portico.toml"), text).map_err(|e| e.to_string())
    }

    const FULL: &str = r#"
[app]
name = "Shop"

[[secrets]]
name = "LINK_KEY"
generate = "hex-16"

[[tables]]
name = "users"
partition_key = { name = "id", type = "S" }
sort_key = { name = "created", type = "N" }
stream = "NEW_AND_OLD_IMAGES"
ttl_attribute = "expires"

[[tables]]
name = "legacy"
external = "arn:aws:dynamodb:eu-west-1:210987654321:table/legacy-users"

[[buckets]]
name = "uploads"
env = "UPLOADS"

[[queues]]
name = "jobs"
visibility_timeout = 60
dead_letter = { queue = "jobs-dlq", max_receive_count = 5 }

[[queues]]
name = "jobs-dlq"
message_retention = 1209600

[[queues]]
name = "orders"
fifo = true
content_based_deduplication = true

[[queues]]
name = "partner"
external = "https://sqs.eu-west-1.amazonaws.com/210987654321/partner-inbox"

[[topics]]
name = "alerts"
"#;

    #[test]
    fn resources_resolve_per_stage_with_names_arns_and_variables() {
        let config = parse(FULL).unwrap();
        let names = Names {
            app: "Shop".into(),
            stage: "dev".into(),
        };
        let at = Location::new("us-east-1", "123456789012");
        let got: Vec<(ResourceKind, String, String, String, String, bool)> = config
            .stage_resources(&names, &at, None)
            .into_iter()
            .map(|r| (r.kind, r.physical, r.arn, r.env, r.value, r.external))
            .collect();
        let row = |kind, physical: &str, arn: &str, env: &str, value: &str, external| {
            (
                kind,
                physical.into(),
                arn.into(),
                env.into(),
                value.into(),
                external,
            )
        };
        use ResourceKind::*;
        let expected = vec![
            row(
                Table,
                "Shop-dev-users",
                "arn:aws:dynamodb:us-east-1:123456789012:table/Shop-dev-users",
                "USERS_TABLE",
                "Shop-dev-users",
                false,
            ),
            row(
                Table,
                "legacy-users",
                "arn:aws:dynamodb:eu-west-1:210987654321:table/legacy-users",
                "LEGACY_TABLE",
                "legacy-users",
                true,
            ),
            row(
                Bucket,
                "shop-dev-uploads-123456789012",
                "arn:aws:s3:::shop-dev-uploads-123456789012",
                "UPLOADS",
                "shop-dev-uploads-123456789012",
                false,
            ),
            row(
                Queue,
                "Shop-dev-jobs",
                "arn:aws:sqs:us-east-1:123456789012:Shop-dev-jobs",
                "JOBS_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/Shop-dev-jobs",
                false,
            ),
            row(
                Queue,
                "Shop-dev-jobs-dlq",
                "arn:aws:sqs:us-east-1:123456789012:Shop-dev-jobs-dlq",
                "JOBS_DLQ_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/Shop-dev-jobs-dlq",
                false,
            ),
            row(
                Queue,
                "Shop-dev-orders.fifo",
                "arn:aws:sqs:us-east-1:123456789012:Shop-dev-orders.fifo",
                "ORDERS_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/Shop-dev-orders.fifo",
                false,
            ),
            row(
                Queue,
                "partner-inbox",
                "arn:aws:sqs:eu-west-1:210987654321:partner-inbox",
                "PARTNER_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/210987654321/partner-inbox",
                true,
            ),
            row(
                Topic,
                "Shop-dev-alerts",
                "arn:aws:sns:us-east-1:123456789012:Shop-dev-alerts",
                "ALERTS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:Shop-dev-alerts",
                false,
            ),
        ];
        assert_eq!(got, expected);
        assert!(config.declares(ResourceKind::Queue, "jobs"));
        assert!(!config.declares(ResourceKind::Topic, "jobs"));
    }

    #[test]
    fn local_queue_urls_point_at_the_services_endpoint() {
        let config = parse(FULL).unwrap();
        let names = Names {
            app: "Shop".into(),
            stage: "dev".into(),
        };
        let at = Location::new("us-east-1", "000000000000");
        let jobs = config
            .stage_resources(&names, &at, Some("http://127.0.0.1:4510/"))
            .into_iter()
            .find(|r| r.name == "jobs")
            .unwrap();
        assert_eq!(
            jobs.value,
            "http://127.0.0.1:4510/000000000000/Shop-dev-jobs"
        );
    }

    #[test]
    fn event_handlers_must_name_declared_resources() {
        use crate::manifest::ManifestEventHandler;
        let config = parse(FULL).unwrap();
        let handler = |trigger| ManifestEventHandler {
            name: "work".into(),
            trigger,
            source: "src/main.rs:7".into(),
        };
        let manifest = |trigger| Manifest {
            event_handlers: vec![handler(trigger)],
            ..Manifest::new("0.1.0")
        };
        let sqs = |queue: &str| EventTrigger::Sqs {
            queue: queue.into(),
            batch_size: 10,
            max_batching_window: 0,
        };
        assert_eq!(config.check_event_handlers(&manifest(sqs("jobs"))), Ok(()));
        let err = config
            .check_event_handlers(&manifest(sqs("nope")))
            .unwrap_err();
        assert!(
            err.starts_with("event handler `work` (src/main.rs:7) names queue `nope`, which no [[queues]] entry in portico.toml declares"),
            "{err}"
        );
        let table = |table: &str| EventTrigger::DynamoDb {
            table: table.into(),
            starting_position: "LATEST".into(),
            batch_size: 100,
        };
        assert_eq!(
            config.check_event_handlers(&manifest(table("users"))),
            Ok(())
        );
        let no_stream = parse(&FULL.replace("stream = \"NEW_AND_OLD_IMAGES\"\n", "")).unwrap();
        let err = no_stream
            .check_event_handlers(&manifest(table("users")))
            .unwrap_err();
        assert!(err.contains("which has none: set `stream"), "{err}");
    }

    /// Each case: a snippet appended to a minimal config, the line the error must name and a
    /// piece of its message.
    #[test]
    fn what_aws_would_refuse_is_an_error_naming_line_and_key() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[[queues]]\nname = \"q\"\nvisibility_timeout = 50000",
                6,
                "`visibility_timeout` must be 0-43200 seconds",
            ),
            (
                "[[queues]]\nname = \"q\"\nmessage_retention = 59",
                6,
                "`message_retention` must be 60-1209600",
            ),
            (
                "[[queues]]\nname = \"q\"\ndelay = 901",
                6,
                "`delay` must be 0-900",
            ),
            (
                "[[queues]]\nname = \"q\"\ndead_letter = { queue = \"nope\", max_receive_count = 3 }",
                6,
                "`nope` is not a [[queues]] entry",
            ),
            (
                "[[queues]]\nname = \"q\"\ndead_letter = { queue = \"q\", max_receive_count = 3 }",
                6,
                "its own dead-letter queue",
            ),
            (
                "[[queues]]\nname = \"q\"\ndead_letter = { queue = \"d\", max_receive_count = 0 }\n[[queues]]\nname = \"d\"",
                6,
                "`dead_letter.max_receive_count` must be 1-1000",
            ),
            (
                "[[queues]]\nname = \"q\"\ndead_letter = { queue = \"d\", max_receive_count = 2 }\n[[queues]]\nname = \"d\"\nfifo = true",
                6,
                "must be standard too",
            ),
            (
                "[[queues]]\nname = \"q\"\ncontent_based_deduplication = true",
                6,
                "FIFO queues only",
            ),
            (
                "[[queues]]\nname = \"q\"\n[[queues]]\nname = \"q\"",
                7,
                "queue `q` is declared twice",
            ),
            (
                "[[queues]]\nname = \"q\"\nbatch = 3",
                6,
                "unknown field `batch`",
            ),
            (
                "[[queues]]\nname = \"q\"\nfifo = true\nexternal = \"plain-name\"",
                7,
                "ends in `.fifo`",
            ),
            ("[[tables]]\nname = \"t\"", 5, "needs a `partition_key"),
            (
                "[[tables]]\nname = \"t\"\npartition_key = { name = \"id\", type = \"X\" }",
                6,
                "key type `X` must be `S`",
            ),
            (
                "[[tables]]\nname = \"t\"\npartition_key = { name = \"id\", type = \"S\" }\nsort_key = { name = \"id\", type = \"N\" }",
                7,
                "another attribute than the partition key",
            ),
            (
                "[[tables]]\nname = \"t\"\npartition_key = { name = \"id\", type = \"S\" }\nread_capacity = 5",
                7,
                "`read_capacity` is for `billing_mode = \"PROVISIONED\"` only",
            ),
            (
                "[[tables]]\nname = \"t\"\npartition_key = { name = \"id\", type = \"S\" }\nbilling_mode = \"PROVISIONED\"\nread_capacity = 5",
                5,
                "needs `write_capacity`",
            ),
            (
                "[[tables]]\nname = \"t\"\npartition_key = { name = \"id\", type = \"S\" }\nbilling_mode = \"ON_DEMAND\"",
                7,
                "`billing_mode` `ON_DEMAND`",
            ),
            (
                "[[tables]]\nname = \"t\"\npartition_key = { name = \"id\", type = \"S\" }\nstream = \"ALL\"",
                7,
                "`stream` `ALL` must be KEYS_ONLY",
            ),
            (
                "[[tables]]\nname = \"t\"\nexternal = \"other\"\npartition_key = { name = \"id\", type = \"S\" }",
                7,
                "is `external`",
            ),
            (
                "[[tables]]\nname = \"t\"\nexternal = \"arn:aws:sqs:us-east-1:123456789012:x\"",
                6,
                "is not an ARN of dynamodb",
            ),
            ("[[buckets]]\nname = \"Uploads\"", 5, "lower-case letters"),
            (
                "[stages.production-europe]\n[[buckets]]\nname = \"a-rather-long-bucket-name-for-s3\"",
                6,
                "S3 allows 63",
            ),
            (
                "[[buckets]]\nname = \"b\"\nexternal = \"arn:aws:s3:us-east-1:123456789012:b\"",
                6,
                "no region or account",
            ),
            (
                "[[topics]]\nname = \"t\"\ncontent_based_deduplication = true",
                6,
                "FIFO topics only",
            ),
            (
                "[[topics]]\nname = \"t\"\nenv = \"AWS_TOPIC\"",
                6,
                "reserved by Lambda",
            ),
            (
                "[[topics]]\nname = \"t\"\nenv = \"1X\"",
                6,
                "must be an environment variable name",
            ),
            (
                "[[secrets]]\nname = \"T_TOPIC_ARN\"\ngenerate = \"hex-16\"\n[[topics]]\nname = \"t\"",
                8,
                "also secret `T_TOPIC_ARN`'s",
            ),
            (
                "[stages.dev]\nenv = { T_TOPIC_ARN = \"x\" }\n[[topics]]\nname = \"t\"",
                7,
                "also set in a stage's or function's `env`",
            ),
        ];
        let mut wrong = Vec::new();
        for (snippet, line, message) in cases {
            let text = format!("[app]\nname = \"shop\"\n\n{snippet}\n");
            match parse(&text) {
                Err(err)
                    if err.contains(message)
                        && err.starts_with(&format!("portico.toml:{line}:")) => {}
                other => wrong.push(format!(
                    "for\n{snippet}\nexpected line {line} and `{message}`, got: {other:?}"
                )),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    }
}
