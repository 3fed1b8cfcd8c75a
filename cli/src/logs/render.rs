//! The one renderer of `portico logs`, for CloudWatch events and the local cloud's stored
//! lines alike: what a message is (Lambda's own line, a JSON log record, Lambda's text format,
//! plain text) and how it is printed (one text line, or one JSON object).
//!
//! Text: `<YYYY-MM-DD HH:MM:SS.mmm> <function> <stream id> [LEVEL] <message>`, UTC. The
//! stream id is the first 8 hex digits of the stream name's instance part
//! (`2026/11/26/[$LATEST]0f3c…` → `0f3c…`), which tells the execution environments apart.

use std::borrow::Cow;
use std::fmt::Write as _;

use anstyle::Style;
use serde_json::{Map, Value, json};

use crate::color;
use portico_local::clock::{rfc3339_millis, write_utc};
use portico_local::logs::is_platform_line;

/// One log event, from CloudWatch or from the local store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique within its source: CloudWatch's event id, the local store's row id.
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The function's entry point (`api`, a schedule).
    pub function: String,
    /// The log group.
    pub group: String,
    /// The log stream.
    pub stream: String,
    /// The message as written.
    pub message: String,
    /// The invocation, when the source knows it (the local store does).
    pub request_id: Option<String>,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per event.
    Text,
    /// One JSON object per line, for scripts.
    Json,
}

/// How events are printed.
#[derive(Debug, Clone, Copy)]
pub struct Renderer {
    /// Text or JSON.
    pub format: Format,
    /// ANSI colours (text only).
    pub color: bool,
    /// Escape control characters in messages (stdout is a terminal).
    pub sanitize: bool,
    /// Show Lambda's own lines (`START`, `END`, `REPORT`, …).
    pub include_platform: bool,
}

/// What a message says, once read.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    /// One of Lambda's own lines.
    pub platform: bool,
    /// The level (`INFO`, `ERROR`, …), upper case.
    pub level: Option<String>,
    /// The request id the message names.
    pub request_id: Option<String>,
    /// The text to show after the level.
    pub text: Cow<'a, str>,
    /// The message parsed, when it is a JSON object.
    pub json: Option<Value>,
}

/// Reads `message`: Lambda's text or JSON platform lines, JSON log records (tracing's JSON
/// format, Lambda's JSON log format, …), Lambda's text format
/// (`<time>\t<request id>\t<LEVEL>\t<message>`), else plain text.
pub fn parse(message: &str) -> Parsed<'_> {
    let message = message.trim_end_matches(['\n', '\r']);
    if is_platform_line(message) {
        return Parsed {
            platform: true,
            level: None,
            request_id: platform_request_id(message),
            text: summarise_platform(message),
            json: None,
        };
    }
    if message.starts_with('{')
        && let Ok(Value::Object(object)) = serde_json::from_str::<Value>(message)
    {
        return parse_json(object);
    }
    if let Some(parsed) = parse_lambda_text(message) {
        return parsed;
    }
    Parsed {
        platform: false,
        level: None,
        request_id: None,
        text: Cow::Borrowed(message),
        json: None,
    }
}

/// `RequestId: <id>` of a platform line.
fn platform_request_id(message: &str) -> Option<String> {
    let rest = message.split_once("RequestId: ")?.1;
    let id: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    (!id.is_empty()).then_some(id)
}

/// `REPORT` as `REPORT <id> 1.23 ms (billed 2 ms), 21/128 MB[, init 4.56 ms]`; other lines
/// as they are.
fn summarise_platform(message: &str) -> Cow<'_, str> {
    let Some(rest) = message.strip_prefix("REPORT RequestId: ") else {
        return Cow::Borrowed(message);
    };
    let mut fields = rest.split('\t').map(str::trim);
    let id = fields.next().unwrap_or_default();
    let mut get = std::collections::HashMap::new();
    for field in fields {
        if let Some((k, v)) = field.split_once(": ") {
            get.insert(k, v);
        }
    }
    let (Some(duration), Some(billed), Some(size), Some(used)) = (
        get.get("Duration"),
        get.get("Billed Duration"),
        get.get("Memory Size"),
        get.get("Max Memory Used"),
    ) else {
        return Cow::Borrowed(message);
    };
    Cow::Owned(report_summary(
        id,
        duration,
        billed,
        used.trim_end_matches(" MB"),
        size,
        get.get("Init Duration").copied(),
    ))
}

fn report_summary(
    id: &str,
    duration: &str,
    billed: &str,
    used_mb: &str,
    size: &str,
    init: Option<&str>,
) -> String {
    let mut out = format!("REPORT {id} {duration} (billed {billed}), {used_mb}/{size}");
    if let Some(init) = init {
        let _ = write!(out, ", init {init}");
    }
    out
}

fn parse_json(mut object: Map<String, Value>) -> Parsed<'static> {
    let raw = Value::Object(object.clone());
    // Lambda's JSON log format, platform events: {"time", "type": "platform.…", "record"}.
    if let Some(kind) = object.get("type").and_then(Value::as_str)
        && let Some(kind) = kind.strip_prefix("platform.")
    {
        let record = object.get("record").cloned().unwrap_or(Value::Null);
        let id = record
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let text = platform_json_text(kind, &record, id.as_deref());
        return Parsed {
            platform: true,
            level: None,
            request_id: id,
            text: Cow::Owned(text),
            json: Some(raw),
        };
    }
    let level = ["level", "levelname", "severity", "log.level"]
        .iter()
        .find_map(|k| object.remove(*k))
        .and_then(|v| v.as_str().map(str::to_ascii_uppercase));
    // tracing's JSON format keeps the message and the event's fields under `fields`.
    if let Some(Value::Object(fields)) = object.remove("fields") {
        for (k, v) in fields {
            object.entry(k).or_insert(v);
        }
    }
    let mut request_id = ["requestId", "request_id", "AWSRequestId", "aws_request_id"]
        .iter()
        .find_map(|k| object.remove(*k))
        .and_then(|v| v.as_str().map(str::to_owned));
    // tracing's spans: the Lambda runtime's invocation span carries `requestId`.
    let span = object.remove("span");
    let spans = object.remove("spans");
    if request_id.is_none() {
        let spans = span.iter().chain(spans.iter().flat_map(|s| {
            s.as_array()
                .map(|a| a.iter().collect::<Vec<_>>())
                .unwrap_or_default()
        }));
        request_id = spans
            .filter_map(|s| s.get("requestId").or_else(|| s.get("request_id")))
            .find_map(|v| v.as_str().map(str::to_owned));
    }
    for k in ["timestamp", "time", "@timestamp"] {
        object.remove(k);
    }
    let message = ["message", "msg"]
        .iter()
        .find_map(|k| object.remove(*k))
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        });
    let mut text = message.unwrap_or_default();
    // By name: the same line renders the same whether or not serde_json keeps key order (its
    // `preserve_order` feature, which portico-local turns on for the whole build).
    let mut rest: Vec<(&String, &Value)> = object.iter().collect();
    rest.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in rest {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(k);
        text.push('=');
        match v {
            Value::String(s) if !s.is_empty() && !s.contains([' ', '"', '=']) => text.push_str(s),
            other => text.push_str(&other.to_string()),
        }
    }
    Parsed {
        platform: false,
        level,
        request_id,
        text: Cow::Owned(text),
        json: Some(raw),
    }
}

fn platform_json_text(kind: &str, record: &Value, id: Option<&str>) -> String {
    let id = id.unwrap_or("-");
    let metric = |k: &str| record.get("metrics").and_then(|m| m.get(k));
    let ms = |k: &str| {
        metric(k)
            .and_then(Value::as_f64)
            .map(|v| format!("{v:.2} ms"))
    };
    match kind {
        "start" => format!(
            "START RequestId: {id} Version: {}",
            record
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or("$LATEST")
        ),
        "runtimeDone" => format!(
            "END RequestId: {id} {}",
            record.get("status").and_then(Value::as_str).unwrap_or("")
        )
        .trim_end()
        .to_owned(),
        "report" => {
            let mb = |k: &str| metric(k).and_then(Value::as_u64).map(|v| format!("{v} MB"));
            match (
                ms("durationMs"),
                metric("billedDurationMs").and_then(Value::as_u64),
                mb("memorySizeMB"),
                metric("maxMemoryUsedMB").and_then(Value::as_u64),
            ) {
                (Some(duration), Some(billed), Some(size), Some(used)) => report_summary(
                    id,
                    &duration,
                    &format!("{billed} ms"),
                    &used.to_string(),
                    &size,
                    ms("initDurationMs").as_deref(),
                ),
                _ => format!("REPORT {id} {record}"),
            }
        }
        other => format!("{other} {record}"),
    }
}

/// `2026-11-26T20:00:00.000Z\t<request id>\tINFO\t<message>`.
fn parse_lambda_text(message: &str) -> Option<Parsed<'_>> {
    let mut parts = message.splitn(4, '\t');
    let (time, id, level, text) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let looks_like_time = time.len() >= 19
        && time.as_bytes()[0].is_ascii_digit()
        && time.as_bytes()[4] == b'-'
        && time.as_bytes()[10] == b'T';
    let looks_like_level =
        !level.is_empty() && level.len() <= 8 && level.bytes().all(|b| b.is_ascii_uppercase());
    if !looks_like_time || !looks_like_level || id.is_empty() || id.contains(' ') {
        return None;
    }
    Some(Parsed {
        platform: false,
        level: Some(level.to_owned()),
        request_id: (id != "undefined").then(|| id.to_owned()),
        text: Cow::Borrowed(text),
        json: None,
    })
}

/// The short id of a stream: the first 8 characters after `]` in Lambda's
/// `YYYY/MM/DD/[$LATEST]<hex>`, else its last 8.
pub fn short_stream(stream: &str) -> &str {
    if let Some((_, instance)) = stream.rsplit_once(']')
        && !instance.is_empty()
    {
        return instance.get(..8).unwrap_or(instance);
    }
    let start = stream.len().saturating_sub(8);
    let start = (start..stream.len())
        .find(|i| stream.is_char_boundary(*i))
        .unwrap_or(stream.len());
    &stream[start..]
}

/// Appends `text` to `out`, escaping what could move the cursor, rewrite the line or reorder
/// it on a terminal: control characters (`\n` → `\\n`, ESC → `\\x1b`, …) and Unicode's
/// directional overrides. Tabs stay.
pub fn push_clean(out: &mut String, text: &str, sanitize: bool) {
    if !sanitize {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\t' => out.push('\t'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

impl Renderer {
    /// Appends the event's line (with its newline) to `out`; false, and nothing appended,
    /// when the event is one of Lambda's own lines and those are hidden.
    pub fn write(&self, out: &mut String, event: &Event) -> bool {
        let parsed = parse(&event.message);
        if parsed.platform && !self.include_platform {
            return false;
        }
        match self.format {
            Format::Text => self.write_text(out, event, &parsed),
            Format::Json => write_json(out, event, &parsed, self.sanitize),
        }
        out.push('\n');
        true
    }

    fn write_text(&self, out: &mut String, event: &Event, parsed: &Parsed<'_>) {
        let clean = self.sanitize;
        // Each part between its style's escape and the reset, when colour is on.
        let styled = |out: &mut String, style: Style, write: &dyn Fn(&mut String)| {
            if self.color {
                let _ = write!(out, "{style}");
                write(out);
                let _ = write!(out, "{style:#}");
            } else {
                write(out);
            }
        };
        styled(out, color::DIM, &|out| {
            write_utc(out, event.timestamp_ms, ' ')
        });
        out.push(' ');
        styled(out, color::of_name(&event.function), &|out| {
            push_clean(out, &event.function, clean);
        });
        out.push(' ');
        styled(out, color::DIM, &|out| {
            push_clean(out, short_stream(&event.stream), clean);
        });
        out.push(' ');
        if let Some(level) = &parsed.level {
            styled(out, color::level(level), &|out| {
                push_clean(out, level, clean)
            });
            out.push(' ');
        }
        let text_style = if parsed.platform {
            color::DIM
        } else {
            Style::new()
        };
        styled(out, text_style, &|out| push_clean(out, &parsed.text, clean));
    }
}

fn write_json(out: &mut String, event: &Event, parsed: &Parsed<'_>, sanitize: bool) {
    let record = json!({
        "timestamp": rfc3339_millis(event.timestamp_ms),
        "timestamp_ms": event.timestamp_ms,
        "function": event.function,
        "log_group": event.group,
        "log_stream": event.stream,
        "event_id": event.id,
        "request_id": event.request_id.as_deref().or(parsed.request_id.as_deref()),
        "platform": parsed.platform,
        "level": parsed.level,
        "message": event.message.trim_end_matches(['\n', '\r']),
        "data": parsed.json,
    });
    let text = record.to_string();
    if !sanitize {
        out.push_str(&text);
        return;
    }
    // serde_json escapes only U+0000–U+001F; on a terminal DEL, the C1 controls (U+009B is
    // a CSI) and the directional overrides are escaped too, which keeps the JSON the same.
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

/// Unicode's directional marks, embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-02-29T13:04:05.006Z
    const T: i64 = 1_709_211_845_006;
    const STREAM: &str = "2024/02/29/[$LATEST]0f3c5a7e9b1d2f4a6c8e0a2b4d6f8a1c";

    fn event(message: &str) -> Event {
        Event {
            id: "1".into(),
            timestamp_ms: T,
            function: "api".into(),
            group: "/aws/lambda/shop-dev-api".into(),
            stream: STREAM.into(),
            message: message.into(),
            request_id: None,
        }
    }

    /// The line `message` renders as, if shown; `terminal`: coloured and sanitized.
    fn render(
        format: Format,
        terminal: bool,
        include_platform: bool,
        message: &str,
    ) -> Option<String> {
        let r = Renderer {
            format,
            color: terminal,
            sanitize: terminal,
            include_platform,
        };
        let mut out = String::new();
        r.write(&mut out, &event(message)).then_some(out)
    }

    fn text(message: &str, include_platform: bool) -> Option<String> {
        render(Format::Text, false, include_platform, message)
            .map(|out| out.trim_end_matches('\n').to_owned())
    }

    /// What `message` (not a platform line) renders as in `format` on a terminal.
    fn on_terminal(format: Format, message: &str) -> String {
        render(format, true, false, message).unwrap()
    }

    #[test]
    fn plain_and_structured_messages() {
        let p = "2024-02-29 13:04:05.006 api 0f3c5a7e";
        assert_eq!(text("hello\n", false).unwrap(), format!("{p} hello"));
        assert_eq!(
            text(
                r#"{"timestamp":"2024-02-29T13:04:05.006Z","level":"WARN","fields":{"message":"slow","ms":1200},"target":"shop::db","span":{"requestId":"r-1","name":"invoke"}}"#,
                false
            )
            .unwrap(),
            format!("{p} WARN slow ms=1200 target=shop::db")
        );
        assert_eq!(
            text(
                r#"{"timestamp":"2024-02-29T13:04:05Z","level":"ERROR","message":"boom","requestId":"r-2","user":"a b"}"#,
                false
            )
            .unwrap(),
            format!(r#"{p} ERROR boom user="a b""#)
        );
        assert_eq!(
            text("2024-02-29T13:04:05.006Z\tr-3\tINFO\tfrom node", false).unwrap(),
            format!("{p} INFO from node")
        );
        assert_eq!(text("[1,2]", false).unwrap(), format!("{p} [1,2]"));
        assert_eq!(
            parse(r#"{"requestId":"r-2"}"#).request_id.as_deref(),
            Some("r-2")
        );
        assert_eq!(
            parse("2024-02-29T13:04:05.006Z\tr-3\tINFO\tx")
                .request_id
                .as_deref(),
            Some("r-3")
        );
    }

    #[test]
    fn lambda_lines_are_hidden_unless_asked_and_report_is_summarised() {
        let report = "REPORT RequestId: r-9\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 21 MB\tInit Duration: 45.67 ms\t\n";
        assert_eq!(text(report, false), None);
        assert_eq!(text("START RequestId: r-9 Version: $LATEST", false), None);
        assert_eq!(
            text(report, true).unwrap(),
            "2024-02-29 13:04:05.006 api 0f3c5a7e REPORT r-9 1.23 ms (billed 2 ms), 21/128 MB, init 45.67 ms"
        );
        assert_eq!(parse(report).request_id.as_deref(), Some("r-9"));
        let json_report = r#"{"time":"2024-02-29T13:04:05.006Z","type":"platform.report","record":{"requestId":"r-8","metrics":{"durationMs":3.5,"billedDurationMs":4,"memorySizeMB":128,"maxMemoryUsedMB":30},"status":"success"}}"#;
        assert_eq!(text(json_report, false), None);
        assert_eq!(
            text(json_report, true).unwrap(),
            "2024-02-29 13:04:05.006 api 0f3c5a7e REPORT r-8 3.50 ms (billed 4 ms), 30/128 MB"
        );
    }

    #[test]
    fn colour_and_terminal_escapes() {
        let out = on_terminal(
            Format::Text,
            r#"{"level":"error","message":"bad \u001b[2Jthing\r\nfake line \u202e"}"#,
        );
        assert!(out.contains("\x1b[1m\x1b[31mERROR\x1b[0m"), "{out:?}");
        assert!(
            out.ends_with(" bad \\x1b[2Jthing\\r\\nfake line \\u{202e}\n"),
            "{out:?}"
        );
        assert_eq!(out.matches('\n').count(), 1);
        let mut raw = String::new();
        push_clean(&mut raw, "a\x1bb", false);
        assert_eq!(raw, "a\x1bb");
    }

    #[test]
    fn json_output_keeps_the_raw_message_and_what_was_read() {
        let out = on_terminal(
            Format::Json,
            "{\"level\":\"info\",\"message\":\"hi\",\"requestId\":\"r-1\"}\n",
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(out.matches('\n').count(), 1);
        let hostile = on_terminal(Format::Json, "a\u{9b}2J\u{7f}\u{202e}b\u{1b}");
        assert!(
            !hostile.trim_end().chars().any(|c| c.is_control()),
            "{hostile:?}"
        );
        let back: Value = serde_json::from_str(&hostile).unwrap();
        assert_eq!(back["message"], "a\u{9b}2J\u{7f}\u{202e}b\u{1b}");
        assert_eq!(
            v,
            json!({
                "timestamp": "2024-02-29T13:04:05.006Z",
                "timestamp_ms": T,
                "function": "api",
                "log_group": "/aws/lambda/shop-dev-api",
                "log_stream": STREAM,
                "event_id": "1",
                "request_id": "r-1",
                "platform": false,
                "level": "INFO",
                "message": "{\"level\":\"info\",\"message\":\"hi\",\"requestId\":\"r-1\"}",
                "data": {"level": "info", "message": "hi", "requestId": "r-1"},
            })
        );
    }

    #[test]
    fn short_stream_ids() {
        assert_eq!(short_stream(STREAM), "0f3c5a7e");
        assert_eq!(short_stream("2024/02/29/[$LATEST]ab"), "ab");
        assert_eq!(short_stream("my-stream-name"), "eam-name");
        assert_eq!(short_stream("s"), "s");
    }
}
