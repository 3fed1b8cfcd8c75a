//! EventBridge scheduled events: detection only; the event type is
//! [`ScheduledEvent`](crate::scheduled::ScheduledEvent).

use super::DecodeError;
use crate::scheduled::ScheduledEvent;

/// A scheduled rule's event: `"detail-type": "Scheduled Event"` from `"source": "aws.events"`.
/// Other EventBridge events are not Portico's.
pub(super) fn is_scheduled_event(detail_type: Option<&str>, source: Option<&str>) -> bool {
    detail_type == Some("Scheduled Event") && source == Some("aws.events")
}

/// Decodes a payload already recognized as a scheduled event.
pub(super) fn decode_scheduled_event(raw: &str) -> Result<ScheduledEvent, DecodeError> {
    serde_json::from_str(raw)
        .map_err(|err| DecodeError::Malformed(format!("EventBridge scheduled event: {err}")))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{DecodeError, Incoming, decode_event};

    const SCHEDULED: &str = include_str!("../../tests/fixtures/events/scheduled.json");

    #[test]
    fn decodes_the_documented_scheduled_event() {
        let Ok(Incoming::Scheduled(event)) = decode_event(SCHEDULED) else {
            panic!("not a scheduled event");
        };
        assert_eq!(event.id, "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c");
        assert_eq!(event.detail_type, "Scheduled Event");
        assert_eq!(event.source, "aws.events");
        assert_eq!(event.account, "123456789012");
        assert_eq!(event.region, "us-east-2");
        assert_eq!(event.time, "2019-03-01T01:23:45Z");
        assert_eq!(
            event.resources,
            ["arn:aws:events:us-east-2:123456789012:rule/my-schedule"]
        );
        assert_eq!(event.detail, json!({}));
    }

    #[test]
    fn other_eventbridge_events_are_unknown() {
        let mut event: Value = serde_json::from_str(SCHEDULED).unwrap();
        event["detail-type"] = json!("RDS DB Instance Event");
        event["source"] = json!("aws.rds");
        assert_eq!(
            decode_event(&event.to_string()).unwrap_err(),
            DecodeError::Unknown
        );

        let mut event: Value = serde_json::from_str(SCHEDULED).unwrap();
        event["source"] = json!("my.app");
        assert_eq!(
            decode_event(&event.to_string()).unwrap_err(),
            DecodeError::Unknown
        );
    }

    #[test]
    fn a_scheduled_event_of_the_wrong_shape_is_malformed() {
        let mut event: Value = serde_json::from_str(SCHEDULED).unwrap();
        event["resources"] = json!("not a list");
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed(_)), "{err:?}");
    }
}
