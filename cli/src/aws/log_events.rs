//! CloudWatch Logs, reading side: the events of a log group (`FilterLogEvents`), for
//! `portico logs`; and writing events, which only tests and benchmarks do.

use super::{Aws, AwsError, AwsResultExt, SdkResultExt};

/// One log event as CloudWatch returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// CloudWatch's id of the event (unique within the log group).
    pub id: String,
    /// When it happened, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The stream it is in.
    pub stream: String,
    /// The text, as written (often with a trailing newline).
    pub message: String,
}

/// One page of `FilterLogEvents`.
#[derive(Debug, Clone, Default)]
pub struct LogPage {
    /// The events, oldest first.
    pub events: Vec<LogEvent>,
    /// The token of the next page; `None` on the last.
    pub next_token: Option<String>,
}

/// What to ask `FilterLogEvents` for.
#[derive(Debug, Clone, Default)]
pub struct LogQuery<'a> {
    /// The log group.
    pub group: &'a str,
    /// Only these streams (all when empty).
    pub streams: &'a [String],
    /// From this time (inclusive), milliseconds since the epoch.
    pub start_ms: Option<i64>,
    /// Up to this time (inclusive).
    pub end_ms: Option<i64>,
    /// A CloudWatch filter pattern.
    pub pattern: Option<&'a str>,
    /// Events per page, at most (AWS's maximum, 10,000, when `None`).
    pub limit: Option<i32>,
}

impl AwsError {
    /// True when AWS refused the call for going too fast (retry later).
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "ThrottlingException"
                    | "Throttling"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "LimitExceededException"
                    | "ServiceUnavailableException"
            )
        )
    }
}

impl Aws {
    /// One page of the events of `query.group` (`FilterLogEvents`), from `token` on.
    ///
    /// # Errors
    /// When the call fails ([`AwsError::is_not_found`] for a missing log group,
    /// [`AwsError::is_throttling`] when AWS asks to slow down).
    pub async fn filter_log_events(
        &self,
        query: &LogQuery<'_>,
        token: Option<String>,
    ) -> Result<LogPage, AwsError> {
        // `interleaved` is deprecated because AWS always interleaves the streams now; emulators
        // (moto) still list stream after stream without it.
        #[allow(deprecated)]
        let request = self
            .logs
            .filter_log_events()
            .log_group_name(query.group)
            .set_log_stream_names((!query.streams.is_empty()).then(|| query.streams.to_vec()))
            .set_start_time(query.start_ms)
            .set_end_time(query.end_ms)
            .set_filter_pattern(query.pattern.map(str::to_owned))
            .set_limit(query.limit)
            .interleaved(true)
            .set_next_token(token);
        let out = request.send().await.context(
            "CloudWatch Logs",
            "FilterLogEvents",
            format!("log group {}", query.group),
        )?;
        let events = out
            .events
            .unwrap_or_default()
            .into_iter()
            .map(|e| LogEvent {
                id: e.event_id.unwrap_or_default(),
                timestamp_ms: e.timestamp.unwrap_or_default(),
                stream: e.log_stream_name.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
            })
            .collect();
        // An empty token is the end too.
        let next_token = out.next_token.filter(|t| !t.is_empty());
        Ok(LogPage { events, next_token })
    }

    /// Creates log stream `stream` in `group` (it already existing is fine).
    ///
    /// # Errors
    /// When the call fails.
    #[allow(dead_code, reason = "tests and benchmarks write events to read")]
    pub async fn create_log_stream(&self, group: &str, stream: &str) -> Result<(), AwsError> {
        self.logs
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
            .context(
                "CloudWatch Logs",
                "CreateLogStream",
                format!("log stream {group} {stream}"),
            )
            .unless_code("ResourceAlreadyExistsException")
    }

    /// Appends `events` (`(timestamp ms, message)`, oldest first) to `stream` of `group`.
    ///
    /// # Errors
    /// When the call fails.
    #[allow(dead_code, reason = "tests and benchmarks write events to read")]
    pub async fn put_log_events(
        &self,
        group: &str,
        stream: &str,
        events: &[(i64, String)],
    ) -> Result<(), AwsError> {
        let events = events
            .iter()
            .map(|(t, m)| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(*t)
                    .message(m)
                    .build()
                    .expect("timestamp and message are set")
            })
            .collect();
        self.logs
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(events))
            .send()
            .await
            .context(
                "CloudWatch Logs",
                "PutLogEvents",
                format!("log stream {group} {stream}"),
            )?;
        Ok(())
    }
}

#[cfg(test)]
impl Aws {
    /// Clients for an emulator at `endpoint` (moto) with fixed test credentials, whatever the
    /// environment and `~/.aws` say.
    pub async fn connect_for_tests(endpoint: &str) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .region(aws_config::Region::from_static("us-east-1"))
            .endpoint_url(endpoint)
            .load()
            .await;
        let counter = super::CallCounter::new(None);
        Self {
            iam: aws_sdk_iam::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            apigateway: aws_sdk_apigateway::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            s3: aws_sdk_s3::Client::new(&config),
            counter,
            region: "us-east-1".to_owned(),
            endpoint_url: Some(endpoint.to_owned()),
        }
    }
}
