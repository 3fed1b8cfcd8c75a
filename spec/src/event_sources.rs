//! What AWS accepts in an event source mapping or notification: S3 event types, SQS and
//! DynamoDB stream batch limits. The event-handler attributes check their options against
//! these at compile time; deploy and the local cloud read the same values.

use std::ops::RangeInclusive;

/// The kinds of event handlers: which service's events a handler takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `#[on_sqs_message]`: messages of an SQS queue, in batches.
    Sqs,
    /// `#[on_sns_message]`: notifications of an SNS topic.
    Sns,
    /// `#[on_s3_event]`: an S3 bucket's event notifications.
    S3,
    /// `#[on_event]`: EventBridge events matching a pattern.
    EventBridge,
    /// `#[on_dynamodb_record]`: a DynamoDB table's stream records, in batches.
    DynamoDb,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 5] = [
        EventKind::Sqs,
        EventKind::Sns,
        EventKind::S3,
        EventKind::EventBridge,
        EventKind::DynamoDb,
    ];

    /// The kind's name in the manifest and on the command line: `sqs`, `sns`, `s3`,
    /// `eventbridge`, `dynamodb`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Sqs => "sqs",
            EventKind::Sns => "sns",
            EventKind::S3 => "s3",
            EventKind::EventBridge => "eventbridge",
            EventKind::DynamoDb => "dynamodb",
        }
    }

    /// The kind named `name` ([`as_str`](Self::as_str)).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether the handler gets a batch of records and may report which of them failed
    /// (`ReportBatchItemFailures`).
    pub const fn reports_batch_item_failures(self) -> bool {
        matches!(self, EventKind::Sqs | EventKind::DynamoDb)
    }
}

/// The S3 event notification types a bucket notification may subscribe to (AWS, "Supported
/// event types for SQS, SNS, and Lambda", Amazon S3 User Guide).
pub const S3_EVENT_TYPES: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

/// The S3 event types a handler subscribes to when it names none.
pub const S3_DEFAULT_EVENT_TYPES: &[&str] = &["s3:ObjectCreated:*"];

/// `BatchSize` of an SQS event source mapping (standard queues).
pub const SQS_BATCH_SIZE: RangeInclusive<u32> = 1..=10_000;

/// The largest SQS `BatchSize` allowed without a `MaximumBatchingWindowInSeconds` of at least 1.
pub const SQS_BATCH_SIZE_WITHOUT_WINDOW: u32 = 10;

/// `MaximumBatchingWindowInSeconds` of an SQS event source mapping.
pub const SQS_MAX_BATCHING_WINDOW: RangeInclusive<u32> = 0..=300;

/// The SQS `BatchSize` when none is given (Lambda's default).
pub const SQS_DEFAULT_BATCH_SIZE: u32 = 10;

/// `BatchSize` of a DynamoDB stream event source mapping.
pub const DYNAMODB_BATCH_SIZE: RangeInclusive<u32> = 1..=10_000;

/// The DynamoDB stream `BatchSize` when none is given (Lambda's default).
pub const DYNAMODB_DEFAULT_BATCH_SIZE: u32 = 100;

/// `StartingPosition` values of a DynamoDB stream event source mapping.
pub const DYNAMODB_STARTING_POSITIONS: &[&str] = &["TRIM_HORIZON", "LATEST"];

/// Why an SQS `BatchSize` and `MaximumBatchingWindowInSeconds` pair is refused, if it is.
pub fn check_sqs_batching(batch_size: u32, max_batching_window: u32) -> Result<(), String> {
    if !SQS_BATCH_SIZE.contains(&batch_size) {
        return Err(format!(
            "batch_size {batch_size} is out of range: SQS takes 1 to 10000"
        ));
    }
    if !SQS_MAX_BATCHING_WINDOW.contains(&max_batching_window) {
        return Err(format!(
            "max_batching_window {max_batching_window} is out of range: SQS takes 0 to 300 \
             seconds"
        ));
    }
    if batch_size > SQS_BATCH_SIZE_WITHOUT_WINDOW && max_batching_window < 1 {
        return Err(format!(
            "batch_size {batch_size} is over {SQS_BATCH_SIZE_WITHOUT_WINDOW}, which SQS allows \
             only with a batching window: add `max_batching_window = 1` (seconds, up to 300)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::from_name("kinesis"), None);
    }

    #[test]
    fn sqs_batching_limits() {
        assert!(check_sqs_batching(1, 0).is_ok());
        assert!(check_sqs_batching(10, 0).is_ok());
        assert!(check_sqs_batching(10_000, 1).is_ok());
        assert!(check_sqs_batching(10, 300).is_ok());
        assert!(check_sqs_batching(0, 0).unwrap_err().contains("1 to 10000"));
        assert!(
            check_sqs_batching(10_001, 5)
                .unwrap_err()
                .contains("1 to 10000")
        );
        assert!(
            check_sqs_batching(11, 0)
                .unwrap_err()
                .contains("max_batching_window = 1")
        );
        assert!(
            check_sqs_batching(10, 301)
                .unwrap_err()
                .contains("0 to 300")
        );
    }

    #[test]
    fn s3_event_types_are_distinct_and_include_the_default() {
        let mut sorted = S3_EVENT_TYPES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), S3_EVENT_TYPES.len());
        assert!(
            S3_DEFAULT_EVENT_TYPES
                .iter()
                .all(|t| S3_EVENT_TYPES.contains(t))
        );
    }
}
