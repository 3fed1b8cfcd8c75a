//! EventBridge scheduled events and what schedule handlers return.

use serde::{Deserialize, Serialize};

/// The event EventBridge sends a scheduled rule's target (`"detail-type": "Scheduled Event"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledEvent {
    /// Event id.
    #[serde(default)]
    pub id: String,
    /// Always `Scheduled Event` for schedules.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// Always `aws.events` for schedules.
    pub source: String,
    /// The account the rule belongs to.
    #[serde(default)]
    pub account: String,
    /// When the rule fired (RFC 3339, UTC).
    #[serde(default)]
    pub time: String,
    /// The rule's region.
    #[serde(default)]
    pub region: String,
    /// The rule's ARN.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Always `{}` for schedules.
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl ScheduledEvent {
    /// An event like the one EventBridge sends at `time` (RFC 3339) for `rule_arn`.
    pub fn new(time: impl Into<String>, rule_arn: impl Into<String>) -> Self {
        let rule_arn = rule_arn.into();
        let region = rule_arn.split(':').nth(3).unwrap_or_default().to_owned();
        let account = rule_arn.split(':').nth(4).unwrap_or_default().to_owned();
        Self {
            id: String::new(),
            detail_type: "Scheduled Event".to_owned(),
            source: "aws.events".to_owned(),
            account,
            time: time.into(),
            region,
            resources: vec![rule_arn],
            detail: serde_json::Value::Object(Default::default()),
        }
    }
}

/// What a schedule handler may return: `()`, or `Result<(), E>` where `E` displays.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a schedule handler",
    note = "return `()` or `Result<(), E>` with an error type that implements `Display`"
)]
pub trait IntoScheduleResult {
    /// Converts the value.
    ///
    /// # Errors
    /// The handler's error, reported to Lambda as a failed invocation.
    fn into_schedule_result(self) -> Result<(), crate::Error>;
}

impl IntoScheduleResult for () {
    fn into_schedule_result(self) -> Result<(), crate::Error> {
        Ok(())
    }
}

impl<E: Into<crate::Error>> IntoScheduleResult for Result<(), E> {
    fn into_schedule_result(self) -> Result<(), crate::Error> {
        self.map_err(Into::into)
    }
}
