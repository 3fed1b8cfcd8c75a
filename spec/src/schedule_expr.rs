//! EventBridge schedule expressions: `rate(5 minutes)` and `cron(0 12 * * ? *)`.
//!
//! Used by the macro crate and the local scheduler, so `#[schedule]` rejects at compile time
//! exactly what the local scheduler cannot run. It depends on nothing but `std`.
//!
//! The rules are those of EventBridge's "Schedule expressions for rules":
//! - `rate(value unit)`: `value` is a positive integer; `unit` is `minute`, `hour` or `day` when
//!   `value` is 1 and `minutes`, `hours` or `days` otherwise.
//! - `cron(minutes hours day-of-month month day-of-week year)`: six fields, all in UTC.
//!
//! | field        | values            | wildcards           |
//! |--------------|-------------------|---------------------|
//! | minutes      | 0-59              | `, - * /`           |
//! | hours        | 0-23              | `, - * /`           |
//! | day-of-month | 1-31              | `, - * / ? L W`     |
//! | month        | 1-12 or JAN-DEC   | `, - * /`           |
//! | day-of-week  | 1-7 or SUN-SAT    | `, - * / ? L #`     |
//! | year         | 1970-2199         | `, - * /`           |
//!
//! Exactly one of day-of-month and day-of-week is `?`. `L` alone is the last day of the month
//! (day-of-month) or Saturday (day-of-week); `LW` is the month's last weekday; `15W` the weekday
//! nearest the 15th, within the month; `6L` the month's last Friday; `3#2` its second Tuesday
//! (with `#` the day-of-week field holds that one expression only). Ranges may wrap around
//! (`FRI-MON`, `22-2`), except in the year field. Names are case-insensitive.

use std::fmt;

use time::{Date, Month, OffsetDateTime};

/// A parsed schedule expression.
// A few hundred bytes, parsed once per schedule: not worth a `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpr {
    /// `rate(value unit)`.
    Rate {
        /// How many units between invocations (at least 1).
        value: u32,
        /// The unit.
        unit: RateUnit,
    },
    /// `cron(minutes hours day-of-month month day-of-week year)`.
    Cron(CronExpr),
}

/// The unit of a `rate(...)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// `minute` / `minutes`.
    Minutes,
    /// `hour` / `hours`.
    Hours,
    /// `day` / `days`.
    Days,
}

impl RateUnit {
    /// The length of one unit in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Self::Minutes => 60,
            Self::Hours => 3_600,
            Self::Days => 86_400,
        }
    }
}

/// A parsed `cron(...)` expression: its six fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    minutes: ValueSet,
    hours: ValueSet,
    day_of_month: DayOfMonth,
    months: ValueSet,
    day_of_week: DayOfWeek,
    years: ValueSet,
}

/// The day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    /// `?`: the day-of-week field decides.
    Any,
    /// A set of days, 1-31.
    Days(ValueSet),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekday,
    /// `nW`: the weekday nearest day `n`, without leaving the month.
    NearestWeekday(u32),
}

/// The day-of-week field; days are 1 (Sunday) to 7 (Saturday).
#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    /// `?`: the day-of-month field decides.
    Any,
    /// A set of weekdays.
    Days(ValueSet),
    /// `nL`: the last such weekday of the month.
    LastOf(u32),
    /// `n#k`: the `k`-th such weekday of the month.
    Nth { weekday: u32, nth: u32 },
}

/// A set of field values, stored relative to the field's minimum.
#[derive(Clone, PartialEq, Eq)]
struct ValueSet {
    base: u32,
    bits: [u64; 4],
}

impl ValueSet {
    fn new(base: u32) -> Self {
        Self { base, bits: [0; 4] }
    }

    fn insert(&mut self, value: u32) {
        let i = (value - self.base) as usize;
        self.bits[i / 64] |= 1 << (i % 64);
    }

    fn contains(&self, value: u32) -> bool {
        let Some(i) = value.checked_sub(self.base).map(|i| i as usize) else {
            return false;
        };
        i < 256 && self.bits[i / 64] & (1 << (i % 64)) != 0
    }
}

impl fmt::Debug for ValueSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries((self.base..self.base + 256).filter(|v| self.contains(*v)))
            .finish()
    }
}

/// Why an expression is not a valid EventBridge schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    /// What is wrong and how to fix it; quotes the offending part.
    pub message: String,
    /// Byte offset of the offending part in the expression.
    pub offset: usize,
    /// Byte length of the offending part (0 when something is missing at `offset`).
    pub len: usize,
}

impl ScheduleError {
    fn new(message: impl Into<String>, offset: usize, len: usize) -> Self {
        Self {
            message: message.into(),
            offset,
            len,
        }
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScheduleError {}

const SYNTAX: &str = "a schedule expression is `rate(value unit)`, e.g. `rate(5 minutes)`, or \
                      `cron(minutes hours day-of-month month day-of-week year)`, e.g. \
                      `cron(0 12 * * ? *)`";

/// Parses and validates an EventBridge schedule expression.
///
/// # Errors
/// A [`ScheduleError`] naming the offending part and how to fix it.
pub fn parse_schedule(expr: &str) -> Result<ScheduleExpr, ScheduleError> {
    let (kind, inner_offset) = if expr.starts_with("rate(") {
        ("rate", 5)
    } else if expr.starts_with("cron(") {
        ("cron", 5)
    } else {
        let trimmed = expr.trim_start();
        let hint = if trimmed.len() != expr.len() {
            "remove the leading whitespace; ".to_owned()
        } else if trimmed.starts_with("at(") {
            "one-time `at(...)` schedules belong to EventBridge Scheduler, not to rules; "
                .to_owned()
        } else if trimmed.to_ascii_lowercase().starts_with("rate(")
            || trimmed.to_ascii_lowercase().starts_with("cron(")
        {
            "write `rate` and `cron` in lowercase; ".to_owned()
        } else {
            String::new()
        };
        let word_len = expr.find('(').unwrap_or(expr.len());
        return Err(ScheduleError::new(format!("{hint}{SYNTAX}"), 0, word_len));
    };
    let Some(inner) = expr[inner_offset..].strip_suffix(')') else {
        return Err(ScheduleError::new(
            format!("missing `)` at the end; {SYNTAX}"),
            expr.len(),
            0,
        ));
    };
    if kind == "rate" {
        parse_rate(inner, inner_offset)
    } else {
        parse_cron(inner, inner_offset).map(ScheduleExpr::Cron)
    }
}

/// Splits `text` (found at byte `offset` of the expression) on runs of whitespace, keeping each
/// word's offset in the expression.
fn words(text: &str, offset: usize) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((&text[s..i], offset + s));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

fn parse_rate(inner: &str, offset: usize) -> Result<ScheduleExpr, ScheduleError> {
    let parts = words(inner, offset);
    let [(value_text, value_at), (unit_text, unit_at)] = parts[..] else {
        return Err(ScheduleError::new(
            format!(
                "a rate expression is `rate(value unit)`, e.g. `rate(5 minutes)`; found {} \
                 part{}",
                parts.len(),
                if parts.len() == 1 { "" } else { "s" }
            ),
            offset,
            inner.len(),
        ));
    };
    if !value_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScheduleError::new(
            format!("rate value `{value_text}` must be a positive integer, e.g. `rate(5 minutes)`"),
            value_at,
            value_text.len(),
        ));
    }
    let value: u32 = value_text.parse().map_err(|_| {
        ScheduleError::new(
            format!("rate value `{value_text}` is too large"),
            value_at,
            value_text.len(),
        )
    })?;
    if value == 0 {
        return Err(ScheduleError::new(
            "rate value must be a positive integer; `0` is not allowed",
            value_at,
            value_text.len(),
        ));
    }
    let (unit, singular) = match unit_text {
        "minute" => (RateUnit::Minutes, true),
        "minutes" => (RateUnit::Minutes, false),
        "hour" => (RateUnit::Hours, true),
        "hours" => (RateUnit::Hours, false),
        "day" => (RateUnit::Days, true),
        "days" => (RateUnit::Days, false),
        _ => {
            return Err(ScheduleError::new(
                format!(
                    "unknown rate unit `{unit_text}`; use `minute`, `hour` or `day` for a value \
                     of 1 and `minutes`, `hours` or `days` otherwise"
                ),
                unit_at,
                unit_text.len(),
            ));
        }
    };
    let (right, must) = match (value == 1, singular) {
        (true, false) => (unit_text[..unit_text.len() - 1].to_owned(), "the singular"),
        (false, true) => (format!("{unit_text}s"), "the plural"),
        _ => return Ok(ScheduleExpr::Rate { value, unit }),
    };
    Err(ScheduleError::new(
        format!(
            "a rate of {value} needs {must} unit `{right}`, not `{unit_text}`: \
             write `rate({value} {right})`"
        ),
        unit_at,
        unit_text.len(),
    ))
}

/// How a cron field is spelled and what it accepts.
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, …, if the field has them.
    names: &'static [&'static str],
    /// Whether ranges may wrap around (`FRI-MON`).
    wraps: bool,
}

const MINUTES: FieldSpec = FieldSpec {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
    wraps: true,
};
const HOURS: FieldSpec = FieldSpec {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
    wraps: true,
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    wraps: true,
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    wraps: true,
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    wraps: true,
};
const YEAR: FieldSpec = FieldSpec {
    name: "year",
    min: 1970,
    max: 2199,
    names: &[],
    wraps: false,
};

impl FieldSpec {
    fn values_hint(&self) -> String {
        match (self.names.first(), self.names.last()) {
            (Some(first), Some(last)) => {
                format!("{}-{} or {first}-{last}", self.min, self.max)
            }
            _ => format!("{}-{}", self.min, self.max),
        }
    }

    /// Parses one value (number or name) found at byte `at`.
    fn value(&self, text: &str, at: usize) -> Result<u32, ScheduleError> {
        let err = |what: &str| {
            ScheduleError::new(
                format!(
                    "{} value `{text}` {what}; use {}",
                    self.name,
                    self.values_hint()
                ),
                at,
                text.len(),
            )
        };
        if text.is_empty() {
            return Err(ScheduleError::new(
                format!("missing {} value; use {}", self.name, self.values_hint()),
                at,
                0,
            ));
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u32>() {
                Ok(v) if (self.min..=self.max).contains(&v) => Ok(v),
                _ => Err(err("is out of range")),
            };
        }
        match self.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            Some(i) => Ok(self.min + i as u32),
            None => Err(err("is not valid")),
        }
    }

    /// Parses a whole field made of `, - * /` items into a set.
    fn set(&self, text: &str, at: usize) -> Result<ValueSet, ScheduleError> {
        let mut set = ValueSet::new(self.min);
        let mut item_at = at;
        for item in text.split(',') {
            self.add_item(&mut set, item, item_at)?;
            item_at += item.len() + 1;
        }
        Ok(set)
    }

    fn add_item(&self, set: &mut ValueSet, item: &str, at: usize) -> Result<(), ScheduleError> {
        if item.is_empty() {
            return Err(ScheduleError::new(
                format!("empty item in the {} field (check the commas)", self.name),
                at,
                0,
            ));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step_text)) => {
                let step_at = at + range.len() + 1;
                let span = self.max - self.min + 1;
                let step = match step_text.parse::<u32>() {
                    Ok(s)
                        if (1..=span).contains(&s)
                            && step_text.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        s
                    }
                    _ => {
                        return Err(ScheduleError::new(
                            format!(
                                "increment `{step_text}` in the {} field must be a number from 1 \
                                 to {span}",
                                self.name
                            ),
                            step_at,
                            step_text.len(),
                        ));
                    }
                };
                (range, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (self.min, self.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let start = self.value(a, at)?;
            let end = self.value(b, at + a.len() + 1)?;
            if end < start && !self.wraps {
                return Err(ScheduleError::new(
                    format!("{} range `{range}` is reversed; write `{b}-{a}`", self.name),
                    at,
                    range.len(),
                ));
            }
            (start, end)
        } else {
            let start = self.value(range, at)?;
            // `5/15` means from 5 to the end in steps of 15.
            (start, if step.is_some() { self.max } else { start })
        };
        let step = step.unwrap_or(1);
        // A wrapping range such as `22-2` runs 22, 23, 0, 1, 2.
        let width = self.max - self.min + 1;
        let count = if end >= start {
            end - start
        } else {
            end + width - start
        };
        let mut offset = 0;
        while offset <= count {
            let v = start + offset;
            set.insert(if v > self.max { v - width } else { v });
            offset += step;
        }
        Ok(())
    }

    /// An error for a wildcard of `wildcards` in `text`, which this field does not accept.
    ///
    /// Letters count as a wildcard only in a run of letters made of `L` and `W` alone, so that
    /// names such as `JUL` and `WED` are not mistaken for one.
    fn reject_wildcards(
        &self,
        text: &str,
        at: usize,
        wildcards: &str,
    ) -> Result<(), ScheduleError> {
        let mut found = None;
        let mut run_start = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            if c.is_ascii_alphabetic() {
                run_start.get_or_insert(i);
                continue;
            }
            if let Some(start) = run_start.take() {
                let run = &text[start..i];
                if run.chars().all(|l| "LW".contains(l.to_ascii_uppercase())) {
                    found = run
                        .char_indices()
                        .find(|(_, l)| wildcards.contains(l.to_ascii_uppercase()))
                        .map(|(j, l)| (start + j, l.to_ascii_uppercase()));
                }
            }
            if found.is_none() && wildcards.contains(c) && i < text.len() {
                found = Some((i, c));
            }
            if found.is_some() {
                break;
            }
        }
        let Some((i, c)) = found else {
            return Ok(());
        };
        let allowed_in = match c {
            '?' | 'L' => "only in the day-of-month and day-of-week fields",
            'W' => "only in the day-of-month field",
            _ => "only in the day-of-week field",
        };
        Err(ScheduleError::new(
            format!(
                "`{c}` is not allowed in the {} field (`{text}`); it may be used {allowed_in}",
                self.name
            ),
            at + i,
            1,
        ))
    }
}

fn parse_cron(inner: &str, offset: usize) -> Result<CronExpr, ScheduleError> {
    let fields = words(inner, offset);
    let [minutes, hours, dom, month, dow, year] = fields[..] else {
        let hint = if fields.len() == 5 {
            " (EventBridge cron has a year field: add `*` at the end)"
        } else if fields.len() == 7 {
            " (EventBridge cron has no seconds field)"
        } else {
            ""
        };
        return Err(ScheduleError::new(
            format!(
                "a cron expression has six fields (minutes hours day-of-month month day-of-week \
                 year), not {}{hint}",
                fields.len()
            ),
            offset,
            inner.len(),
        ));
    };
    let simple = |spec: &FieldSpec, (text, at): (&str, usize)| {
        spec.reject_wildcards(text, at, "?LW#")?;
        spec.set(text, at)
    };
    let minutes_set = simple(&MINUTES, minutes)?;
    let hours_set = simple(&HOURS, hours)?;
    let day_of_month = parse_day_of_month(dom.0, dom.1)?;
    let months = simple(&MONTH, month)?;
    let day_of_week = parse_day_of_week(dow.0, dow.1)?;
    let years = simple(&YEAR, year)?;

    match (&day_of_month, &day_of_week) {
        (DayOfMonth::Any, DayOfWeek::Any) => {
            return Err(ScheduleError::new(
                "day-of-month and day-of-week cannot both be `?`; set one of them, e.g. `*` \
                 for every day",
                dom.1,
                dow.1 + dow.0.len() - dom.1,
            ));
        }
        (DayOfMonth::Any, _) | (_, DayOfWeek::Any) => {}
        _ => {
            let (m, h, mo, y) = (minutes.0, hours.0, month.0, year.0);
            let by_month = format!("`cron({m} {h} {} {mo} ? {y})`", dom.0);
            let by_week = format!("`cron({m} {h} ? {mo} {} {y})`", dow.0);
            let fix = match (dom.0, dow.0) {
                ("*", _) => by_week,
                (_, "*") => by_month,
                _ => format!("{by_month} or {by_week}"),
            };
            return Err(ScheduleError::new(
                format!(
                    "you can't specify both day-of-month (`{}`) and day-of-week (`{}`); one of \
                     them must be `?`: write {fix}",
                    dom.0, dow.0
                ),
                dom.1,
                dow.1 + dow.0.len() - dom.1,
            ));
        }
    }

    Ok(CronExpr {
        minutes: minutes_set,
        hours: hours_set,
        day_of_month,
        months,
        day_of_week,
        years,
    })
}

fn parse_day_of_month(text: &str, at: usize) -> Result<DayOfMonth, ScheduleError> {
    let spec = &DAY_OF_MONTH;
    if text == "?" {
        return Ok(DayOfMonth::Any);
    }
    spec.reject_wildcards(text, at, "#")?;
    let upper = text.to_ascii_uppercase();
    if !upper.contains(['?', 'L', 'W']) {
        return spec.set(text, at).map(DayOfMonth::Days);
    }
    if text.contains(',') {
        return Err(ScheduleError::new(
            format!(
                "`?`, `L` and `W` can't be combined with other values in the day-of-month field \
                 (`{text}`)"
            ),
            at,
            text.len(),
        ));
    }
    match upper.as_str() {
        "L" => Ok(DayOfMonth::Last),
        "LW" => Ok(DayOfMonth::LastWeekday),
        _ => match upper.strip_suffix('W') {
            Some(day) if !day.is_empty() && day.bytes().all(|b| b.is_ascii_digit()) => {
                spec.value(day, at).map(DayOfMonth::NearestWeekday)
            }
            _ => Err(ScheduleError::new(
                format!(
                    "invalid day-of-month `{text}`; with wildcards write `?`, `L` (last day), `LW` \
                     (last weekday) or `15W` (weekday nearest the 15th)"
                ),
                at,
                text.len(),
            )),
        },
    }
}

fn parse_day_of_week(text: &str, at: usize) -> Result<DayOfWeek, ScheduleError> {
    let spec = &DAY_OF_WEEK;
    if text == "?" {
        return Ok(DayOfWeek::Any);
    }
    spec.reject_wildcards(text, at, "W")?;
    let upper = text.to_ascii_uppercase();
    if upper.contains('#') {
        if text.contains(',') {
            return Err(ScheduleError::new(
                format!(
                    "with `#` the day-of-week field holds one expression only; `{text}` has \
                     several"
                ),
                at,
                text.len(),
            ));
        }
        let (day, nth) = text.split_once('#').unwrap_or((text, ""));
        let weekday = spec.value(day, at)?;
        let nth_at = at + day.len() + 1;
        return match nth.parse::<u32>() {
            Ok(n @ 1..=5) if nth.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(DayOfWeek::Nth { weekday, nth: n })
            }
            _ => Err(ScheduleError::new(
                format!(
                    "`{text}`: the number after `#` must be 1 to 5 (which occurrence of the \
                     weekday in the month)"
                ),
                nth_at,
                nth.len(),
            )),
        };
    }
    if !upper.contains(['?', 'L']) {
        return spec.set(text, at).map(DayOfWeek::Days);
    }
    if text.contains(',') {
        return Err(ScheduleError::new(
            format!(
                "`?` and `L` can't be combined with other values in the day-of-week field \
                 (`{text}`)"
            ),
            at,
            text.len(),
        ));
    }
    if upper == "L" {
        // `L` alone is the last day of the week.
        let mut set = ValueSet::new(spec.min);
        set.insert(spec.max);
        return Ok(DayOfWeek::Days(set));
    }
    match text.strip_suffix(['L', 'l']) {
        // `FRIL`, `6L`
        Some(day) if !day.is_empty() && !day.contains(['?', 'L', 'l', '-', '/', '*']) => {
            spec.value(day, at).map(DayOfWeek::LastOf)
        }
        _ => Err(ScheduleError::new(
            format!(
                "invalid day-of-week `{text}`; with wildcards write `?`, `L` (Saturday), `6L` \
                 (last Friday of the month) or `3#2` (second Tuesday)"
            ),
            at,
            text.len(),
        )),
    }
}

// The calendar is the `time` crate's (proleptic Gregorian, UTC); the search below only walks
// it. `y` stays within `YEAR` (1970 to 2199), `m` within 1 to 12 and `d` within the month.

fn month(m: u32) -> Month {
    u8::try_from(m)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .expect("a month from 1 to 12")
}

fn date(y: i32, m: u32, d: u32) -> Date {
    u8::try_from(d)
        .ok()
        .and_then(|d| Date::from_calendar_date(y, month(m), d).ok())
        .expect("a day of the month in the supported years")
}

fn days_in_month(y: i32, m: u32) -> u32 {
    u32::from(month(m).length(y))
}

/// Day of week, 1 (Sunday) to 7 (Saturday), as cron numbers them.
fn weekday(y: i32, m: u32, d: u32) -> u32 {
    u32::from(date(y, m, d).weekday().number_from_sunday())
}

impl CronExpr {
    /// The first time this expression fires strictly after `unix_secs` (UTC), as Unix seconds;
    /// `None` when it never fires again (the year field ends at 2199 at the latest).
    pub fn next_after(&self, unix_secs: i64) -> Option<i64> {
        // The next whole minute strictly after `unix_secs`.
        let start = unix_secs.div_euclid(60).checked_add(1)?.checked_mul(60)?;
        let first = (YEAR.min as i32, 1, 1, 0, 0);
        let (mut y, mut mo, mut d, mut h, mut mi) = match OffsetDateTime::from_unix_timestamp(start)
        {
            Ok(t) if t.year() >= first.0 => (
                t.year(),
                u32::from(u8::from(t.month())),
                u32::from(t.day()),
                u32::from(t.hour()),
                u32::from(t.minute()),
            ),
            // Before the first year the field allows (or before any year `time` knows).
            Ok(_) => first,
            Err(_) if start < 0 => first,
            Err(_) => return None,
        };
        // Each step moves forward to the next candidate minute, skipping whole years, months,
        // days and hours that cannot match; the year bound ends the search.
        loop {
            if mi > 59 {
                (h, mi) = (h + 1, 0);
            }
            if h > 23 {
                (d, h) = (d + 1, 0);
            }
            // (A month skipped past December already starts on day 1.)
            if mo <= 12 && d > days_in_month(y, mo) {
                (mo, d) = (mo + 1, 1);
            }
            if mo > 12 {
                (y, mo) = (y + 1, 1);
            }
            if y > YEAR.max as i32 {
                return None;
            }
            if !self.years.contains(y as u32) {
                (y, mo, d, h, mi) = (y + 1, 1, 1, 0, 0);
            } else if !self.months.contains(mo) {
                (mo, d, h, mi) = (mo + 1, 1, 0, 0);
            } else if !self.day_matches(y, mo, d) {
                (d, h, mi) = (d + 1, 0, 0);
            } else if !self.hours.contains(h) {
                (h, mi) = (h + 1, 0);
            } else if !self.minutes.contains(mi) {
                mi += 1;
            } else {
                let midnight = date(y, mo, d).midnight().assume_utc().unix_timestamp();
                return Some(midnight + i64::from(h) * 3600 + i64::from(mi) * 60);
            }
        }
    }

    fn day_matches(&self, y: i32, m: u32, d: u32) -> bool {
        let last = days_in_month(y, m);
        let by_month = match &self.day_of_month {
            DayOfMonth::Any => None,
            DayOfMonth::Days(set) => Some(set.contains(d)),
            DayOfMonth::Last => Some(d == last),
            DayOfMonth::LastWeekday => {
                let target = match weekday(y, m, last) {
                    1 => last - 2,
                    7 => last - 1,
                    _ => last,
                };
                Some(d == target)
            }
            DayOfMonth::NearestWeekday(n) => {
                let n = *n;
                let target = if n > last {
                    None
                } else {
                    Some(match weekday(y, m, n) {
                        // Saturday: Friday before, or Monday after when the 1st is a Saturday.
                        7 if n == 1 => 3,
                        7 => n - 1,
                        // Sunday: Monday after, or Friday before when it is the last day.
                        1 if n == last => n - 2,
                        1 => n + 1,
                        _ => n,
                    })
                };
                Some(target == Some(d))
            }
        };
        let by_week = match &self.day_of_week {
            DayOfWeek::Any => None,
            DayOfWeek::Days(set) => Some(set.contains(weekday(y, m, d))),
            DayOfWeek::LastOf(w) => Some(weekday(y, m, d) == *w && d + 7 > last),
            DayOfWeek::Nth { weekday: w, nth } => {
                Some(weekday(y, m, d) == *w && (d - 1) / 7 + 1 == *nth)
            }
        };
        // Parsing guarantees that exactly one of the two is `?` (`None`).
        by_month.unwrap_or(true) && by_week.unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(expr: &str) -> CronExpr {
        match parse_schedule(expr) {
            Ok(ScheduleExpr::Cron(c)) => c,
            other => panic!("{expr}: {other:?}"),
        }
    }

    /// The error for `expr`, with the offending part cut out of it.
    fn err(expr: &str) -> (String, &str) {
        let e = parse_schedule(expr).expect_err(expr);
        (e.message, &expr[e.offset..e.offset + e.len])
    }

    /// Unix seconds of a UTC date and time.
    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        date(y, mo, d).midnight().assume_utc().unix_timestamp()
            + i64::from(h) * 3600
            + i64::from(mi) * 60
    }

    /// The first `n` firings after `from`.
    fn firings(c: &CronExpr, from: i64, n: usize) -> Vec<i64> {
        let mut out = Vec::new();
        let mut t = from;
        for _ in 0..n {
            t = c.next_after(t).expect("fires");
            out.push(t);
        }
        out
    }

    #[test]
    fn calendar() {
        assert_eq!(ts(1970, 1, 1, 0, 0), 0);
        assert_eq!(ts(2000, 1, 1, 0, 0), 946_684_800);
        assert_eq!(ts(2024, 2, 29, 0, 0), 1_709_164_800);
        assert_eq!(weekday(1970, 1, 1), 5, "a Thursday");
        assert_eq!(weekday(2024, 3, 1), 6, "a Friday");
        assert_eq!(weekday(2024, 6, 30), 1, "a Sunday");
        assert_eq!(weekday(2025, 5, 31), 7, "a Saturday");
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2025, 4), 30);
        assert_eq!(days_in_month(2025, 12), 31);
    }

    #[test]
    fn next_after_crosses_month_and_year_ends() {
        let every_minute = cron("cron(* * * * ? *)");
        // Last minute of a leap February, of a 30-day month, of a year.
        assert_eq!(
            every_minute.next_after(ts(2024, 2, 28, 23, 59)),
            Some(ts(2024, 2, 29, 0, 0))
        );
        assert_eq!(
            every_minute.next_after(ts(2024, 2, 29, 23, 59)),
            Some(ts(2024, 3, 1, 0, 0))
        );
        assert_eq!(
            every_minute.next_after(ts(2025, 2, 28, 23, 59)),
            Some(ts(2025, 3, 1, 0, 0))
        );
        assert_eq!(
            every_minute.next_after(ts(2025, 4, 30, 23, 59) + 30),
            Some(ts(2025, 5, 1, 0, 0))
        );
        assert_eq!(
            every_minute.next_after(ts(2025, 12, 31, 23, 59)),
            Some(ts(2026, 1, 1, 0, 0))
        );
        // The 31st skips the 30-day months and February.
        let c = cron("cron(30 12 31 * ? *)");
        assert_eq!(
            firings(&c, ts(2025, 1, 31, 13, 0), 4),
            [
                ts(2025, 3, 31, 12, 30),
                ts(2025, 5, 31, 12, 30),
                ts(2025, 7, 31, 12, 30),
                ts(2025, 8, 31, 12, 30)
            ]
        );
        // The 30th skips February only, in leap years too.
        let c = cron("cron(0 0 30 * ? *)");
        assert_eq!(
            firings(&c, ts(2024, 1, 30, 0, 0), 2),
            [ts(2024, 3, 30, 0, 0), ts(2024, 4, 30, 0, 0)]
        );
        // The last day of February in a century year that is not a leap year.
        let c = cron("cron(0 0 L 2 ? *)");
        assert_eq!(
            c.next_after(ts(2100, 1, 1, 0, 0)),
            Some(ts(2100, 2, 28, 0, 0))
        );
        // The year field ends at 2199: the last firing of every minute, then none.
        assert_eq!(
            every_minute.next_after(ts(2199, 12, 31, 23, 58)),
            Some(ts(2199, 12, 31, 23, 59))
        );
        assert_eq!(every_minute.next_after(ts(2199, 12, 31, 23, 59)), None);
    }

    #[test]
    fn rates() {
        let rate = |e| parse_schedule(e).unwrap();
        assert_eq!(
            rate("rate(5 minutes)"),
            ScheduleExpr::Rate {
                value: 5,
                unit: RateUnit::Minutes
            }
        );
        assert_eq!(
            rate("rate(1 minute)"),
            ScheduleExpr::Rate {
                value: 1,
                unit: RateUnit::Minutes
            }
        );
        assert_eq!(
            rate("rate(1 hour)"),
            ScheduleExpr::Rate {
                value: 1,
                unit: RateUnit::Hours
            }
        );
        assert_eq!(
            rate("rate(12 hours)"),
            ScheduleExpr::Rate {
                value: 12,
                unit: RateUnit::Hours
            }
        );
        assert_eq!(
            rate("rate(1 day)"),
            ScheduleExpr::Rate {
                value: 1,
                unit: RateUnit::Days
            }
        );
        assert_eq!(
            rate("rate(7 days)"),
            ScheduleExpr::Rate {
                value: 7,
                unit: RateUnit::Days
            }
        );
        assert_eq!(RateUnit::Hours.seconds(), 3600);
    }

    #[test]
    fn rate_unit_number() {
        let (m, part) = err("rate(5 minute)");
        assert!(
            m.contains("needs the plural unit `minutes`") && m.contains("`rate(5 minutes)`"),
            "{m}"
        );
        assert_eq!(part, "minute");
        let (m, part) = err("rate(1 minutes)");
        assert!(
            m.contains("needs the singular unit `minute`") && m.contains("`rate(1 minute)`"),
            "{m}"
        );
        assert_eq!(part, "minutes");
        let (m, _) = err("rate(2 day)");
        assert!(m.contains("`rate(2 days)`"), "{m}");
        let (m, _) = err("rate(1 hours)");
        assert!(m.contains("`rate(1 hour)`"), "{m}");
    }

    #[test]
    fn rate_errors() {
        let (m, part) = err("rate(0 minutes)");
        assert!(m.contains("positive integer"), "{m}");
        assert_eq!(part, "0");
        let (m, part) = err("rate(1.5 hours)");
        assert!(
            m.contains("rate value `1.5` must be a positive integer"),
            "{m}"
        );
        assert_eq!(part, "1.5");
        let (m, _) = err("rate(-1 hours)");
        assert!(m.contains("positive integer"), "{m}");
        let (m, _) = err("rate(99999999999 minutes)");
        assert!(m.contains("too large"), "{m}");
        let (m, part) = err("rate(5 seconds)");
        assert!(m.contains("unknown rate unit `seconds`"), "{m}");
        assert_eq!(part, "seconds");
        let (m, _) = err("rate(5 Minutes)");
        assert!(m.contains("unknown rate unit `Minutes`"), "{m}");
        let (m, part) = err("rate(5)");
        assert!(m.contains("found 1 part"), "{m}");
        assert_eq!(part, "5");
        let (m, _) = err("rate(5 minutes now)");
        assert!(m.contains("found 3 parts"), "{m}");
        let (m, _) = err("rate(5 minutes");
        assert!(m.contains("missing `)`"), "{m}");
    }

    #[test]
    fn not_an_expression() {
        let (m, part) = err("every 5 minutes");
        assert!(m.contains("`rate(value unit)`"), "{m}");
        assert_eq!(part, "every 5 minutes");
        let (m, part) = err("Rate(5 minutes)");
        assert!(m.contains("lowercase"), "{m}");
        assert_eq!(part, "Rate");
        let (m, _) = err(" rate(5 minutes)");
        assert!(m.contains("leading whitespace"), "{m}");
        let (m, _) = err("at(2024-01-01T00:00:00)");
        assert!(m.contains("EventBridge Scheduler"), "{m}");
        let (m, _) = err("");
        assert!(m.contains("`cron(0 12 * * ? *)`"), "{m}");
    }

    #[test]
    fn cron_field_count() {
        let (m, part) = err("cron(0 12 * * ?)");
        assert!(
            m.contains("has six fields")
                && m.contains(", not 5")
                && m.contains("add `*` at the end"),
            "{m}"
        );
        assert_eq!(part, "0 12 * * ?");
        let (m, _) = err("cron(0 0 12 * * ? *)");
        assert!(m.contains("not 7") && m.contains("no seconds field"), "{m}");
        let (m, _) = err("cron()");
        assert!(m.contains("not 0"), "{m}");
    }

    #[test]
    fn question_mark_rule() {
        let (m, part) = err("cron(0 12 * * MON *)");
        assert!(
            m.contains("you can't specify both day-of-month (`*`) and day-of-week (`MON`)")
                && m.ends_with("write `cron(0 12 ? * MON *)`"),
            "{m}"
        );
        assert_eq!(part, "* * MON");
        let (m, _) = err("cron(0 12 1 * * *)");
        assert!(m.ends_with("write `cron(0 12 1 * ? *)`"), "{m}");
        let (m, _) = err("cron(0 12 1 * MON *)");
        assert!(
            m.ends_with("write `cron(0 12 1 * ? *)` or `cron(0 12 ? * MON *)`"),
            "{m}"
        );
        let (m, _) = err("cron(0 12 ? * ? *)");
        assert!(m.contains("cannot both be `?`"), "{m}");
        let (m, part) = err("cron(0 12 ? ? MON *)");
        assert!(m.contains("`?` is not allowed in the month field"), "{m}");
        assert_eq!(part, "?");
    }

    #[test]
    fn out_of_range() {
        for (expr, field, bad) in [
            ("cron(60 * * * ? *)", "minutes", "60"),
            ("cron(0 24 * * ? *)", "hours", "24"),
            ("cron(0 0 32 * ? *)", "day-of-month", "32"),
            ("cron(0 0 0 * ? *)", "day-of-month", "0"),
            ("cron(0 0 1 13 ? *)", "month", "13"),
            ("cron(0 0 ? * 8 *)", "day-of-week", "8"),
            ("cron(0 0 ? * 0 *)", "day-of-week", "0"),
            ("cron(0 0 1 * ? 1969)", "year", "1969"),
            ("cron(0 0 1 * ? 2200)", "year", "2200"),
            ("cron(0 0-25 * * ? *)", "hours", "25"),
            ("cron(0 0 * JANUARY ? *)", "month", "JANUARY"),
            ("cron(0 0 ? * SUNDAY *)", "day-of-week", "SUNDAY"),
            ("cron(x 0 * * ? *)", "minutes", "x"),
        ] {
            let (m, part) = err(expr);
            assert!(
                m.starts_with(&format!("{field} value `{bad}` is")),
                "{expr}: {m}"
            );
            assert_eq!(part, bad, "{expr}");
        }
        let (m, _) = err("cron(0 0 1 13 ? *)");
        assert!(m.contains("use 1-12 or JAN-DEC"), "{m}");
    }

    #[test]
    fn misplaced_wildcards() {
        let (m, part) = err("cron(0 0 ? * 2W *)");
        assert!(
            m.contains("`W` is not allowed in the day-of-week field"),
            "{m}"
        );
        assert_eq!(part, "W");
        let (m, _) = err("cron(0 0 1#2 * ? *)");
        assert!(
            m.contains("`#` is not allowed in the day-of-month field"),
            "{m}"
        );
        let (m, _) = err("cron(L 0 1 * ? *)");
        assert!(m.contains("`L` is not allowed in the minutes field"), "{m}");
        let (m, _) = err("cron(0 0 ? * 3#1,6#3 *)");
        assert!(m.contains("one expression only"), "{m}");
        let (m, part) = err("cron(0 0 ? * 3#6 *)");
        assert!(m.contains("must be 1 to 5"), "{m}");
        assert_eq!(part, "6");
        let (m, _) = err("cron(0 0 L,15 * ? *)");
        assert!(m.contains("can't be combined"), "{m}");
        let (m, _) = err("cron(0 0 1-5W * ? *)");
        assert!(m.contains("invalid day-of-month `1-5W`"), "{m}");
        let (m, part) = err("cron(0/0 * * * ? *)");
        assert!(m.contains("increment `0`"), "{m}");
        assert_eq!(part, "0");
        let (m, _) = err("cron(0/61 * * * ? *)");
        assert!(m.contains("from 1 to 60"), "{m}");
        let (m, _) = err("cron(0 0 * * ? 2030-2020)");
        assert!(m.contains("reversed"), "{m}");
        let (m, part) = err("cron(0,,5 * * * ? *)");
        assert!(m.contains("empty item"), "{m}");
        assert_eq!(part, "");
    }

    #[test]
    fn accepted_spellings() {
        for expr in [
            "cron(0 10 * * ? *)",
            "cron(15 12 * * ? *)",
            "cron(0 18 ? * MON-FRI *)",
            "cron(0 8 1 * ? *)",
            "cron(0/15 * * * ? *)",
            "cron(0/10 * ? * MON-FRI *)",
            "cron(0/5 8-17 ? * MON-FRI *)",
            "cron(0 9 ? * 2#1 *)",
            "cron(*/5 * * * ? *)",
            "cron(0 0 L * ? *)",
            "cron(0 0 LW * ? *)",
            "cron(0 0 15W * ? *)",
            "cron(0 0 ? * L *)",
            "cron(0 0 ? * 6L *)",
            "cron(0 0 ? * fri#3 *)",
            "cron(0 0 1 jan,Jul ? 2025-2030/2)",
            "cron(0 22-2 ? * FRI-MON *)",
            "cron(0   12  *  *  ?  *)",
        ] {
            let _ = cron(expr);
        }
    }

    #[test]
    fn next_after_daily_and_strictness() {
        let c = cron("cron(0 12 * * ? *)");
        let noon = ts(2024, 1, 1, 12, 0);
        assert_eq!(
            c.next_after(noon),
            Some(ts(2024, 1, 2, 12, 0)),
            "strictly after"
        );
        assert_eq!(c.next_after(noon - 1), Some(noon));
        assert_eq!(c.next_after(noon - 30), Some(noon));
        assert_eq!(
            c.next_after(ts(2023, 12, 31, 13, 0)),
            Some(noon),
            "over a year end"
        );
    }

    #[test]
    fn next_after_steps_and_ranges() {
        let c = cron("cron(0/15 * * * ? *)");
        assert_eq!(
            firings(&c, ts(2024, 1, 1, 10, 7), 4),
            [
                ts(2024, 1, 1, 10, 15),
                ts(2024, 1, 1, 10, 30),
                ts(2024, 1, 1, 10, 45),
                ts(2024, 1, 1, 11, 0)
            ]
        );
        let c = cron("cron(5/20 8-9 * * ? *)");
        assert_eq!(
            firings(&c, ts(2024, 1, 1, 0, 0), 7),
            [
                ts(2024, 1, 1, 8, 5),
                ts(2024, 1, 1, 8, 25),
                ts(2024, 1, 1, 8, 45),
                ts(2024, 1, 1, 9, 5),
                ts(2024, 1, 1, 9, 25),
                ts(2024, 1, 1, 9, 45),
                ts(2024, 1, 2, 8, 5)
            ]
        );
        // Wrapping hour range: 22, 23, 0, 1.
        let c = cron("cron(0 22-1 * * ? *)");
        assert_eq!(
            firings(&c, ts(2024, 1, 1, 12, 0), 5),
            [
                ts(2024, 1, 1, 22, 0),
                ts(2024, 1, 1, 23, 0),
                ts(2024, 1, 2, 0, 0),
                ts(2024, 1, 2, 1, 0),
                ts(2024, 1, 2, 22, 0)
            ]
        );
    }

    #[test]
    fn next_after_weekdays_and_names() {
        // 2024-03-01 is a Friday.
        let c = cron("cron(0 18 ? * MON-FRI *)");
        assert_eq!(
            firings(&c, ts(2024, 3, 1, 18, 0), 2),
            [ts(2024, 3, 4, 18, 0), ts(2024, 3, 5, 18, 0)]
        );
        let c = cron("cron(0 0 ? * FRI-MON *)");
        assert_eq!(
            firings(&c, ts(2024, 3, 5, 0, 0), 4),
            [
                ts(2024, 3, 8, 0, 0),
                ts(2024, 3, 9, 0, 0),
                ts(2024, 3, 10, 0, 0),
                ts(2024, 3, 11, 0, 0)
            ]
        );
        let c = cron("cron(30 6 1 JAN,jul ? *)");
        assert_eq!(
            firings(&c, ts(2024, 3, 1, 0, 0), 2),
            [ts(2024, 7, 1, 6, 30), ts(2025, 1, 1, 6, 30)]
        );
        // `L` alone in day-of-week is Saturday; 2024-03-02 is one.
        let c = cron("cron(0 0 ? * L *)");
        assert_eq!(
            c.next_after(ts(2024, 3, 1, 0, 0)),
            Some(ts(2024, 3, 2, 0, 0))
        );
    }

    #[test]
    fn next_after_last_day_and_leap_years() {
        let c = cron("cron(0 0 L * ? *)");
        assert_eq!(
            firings(&c, ts(2024, 1, 31, 0, 0), 2),
            [ts(2024, 2, 29, 0, 0), ts(2024, 3, 31, 0, 0)]
        );
        assert_eq!(
            c.next_after(ts(2023, 2, 1, 0, 0)),
            Some(ts(2023, 2, 28, 0, 0))
        );
        let c = cron("cron(0 0 29 2 ? *)");
        assert_eq!(
            firings(&c, ts(2024, 3, 1, 0, 0), 2),
            [ts(2028, 2, 29, 0, 0), ts(2032, 2, 29, 0, 0)]
        );
        // 2100 is not a leap year.
        assert_eq!(
            c.next_after(ts(2096, 3, 1, 0, 0)),
            Some(ts(2104, 2, 29, 0, 0))
        );
        let c = cron("cron(0 0 31 2 ? *)");
        assert_eq!(c.next_after(ts(2024, 1, 1, 0, 0)), None, "never fires");
    }

    #[test]
    fn next_after_weekday_nearest() {
        // Last weekday: 2025-08-31 is a Sunday, so Friday the 29th.
        let c = cron("cron(0 0 LW * ? *)");
        assert_eq!(
            c.next_after(ts(2025, 8, 1, 0, 0)),
            Some(ts(2025, 8, 29, 0, 0))
        );
        // 2024-02-29 is a Thursday.
        assert_eq!(
            c.next_after(ts(2024, 2, 1, 0, 0)),
            Some(ts(2024, 2, 29, 0, 0))
        );
        // 15W: 2024-06-15 is a Saturday (→ 14th), 2024-09-15 a Sunday (→ 16th).
        let c = cron("cron(0 0 15W * ? *)");
        assert_eq!(
            c.next_after(ts(2024, 6, 1, 0, 0)),
            Some(ts(2024, 6, 14, 0, 0))
        );
        assert_eq!(
            c.next_after(ts(2024, 9, 1, 0, 0)),
            Some(ts(2024, 9, 16, 0, 0))
        );
        // 1W: 2024-06-01 is a Saturday; the month is not left, so Monday the 3rd.
        let c = cron("cron(0 0 1W * ? *)");
        assert_eq!(
            c.next_after(ts(2024, 5, 31, 0, 0)),
            Some(ts(2024, 6, 3, 0, 0))
        );
        // 30W: 2024-06-30 is a Sunday and the last day, so Friday the 28th.
        let c = cron("cron(0 0 30W * ? *)");
        assert_eq!(
            c.next_after(ts(2024, 6, 1, 0, 0)),
            Some(ts(2024, 6, 28, 0, 0))
        );
        // 31W skips 30-day months: after June 2024 comes 2024-07-31, a Wednesday.
        let c = cron("cron(0 0 31W * ? *)");
        assert_eq!(
            c.next_after(ts(2024, 6, 1, 0, 0)),
            Some(ts(2024, 7, 31, 0, 0))
        );
        assert_eq!(weekday(2024, 7, 31), 4, "a Wednesday");
    }

    #[test]
    fn next_after_nth_and_last_weekday() {
        // Second Tuesday: 2024-03-12, 2024-04-09.
        let c = cron("cron(0 9 ? * 3#2 *)");
        assert_eq!(
            firings(&c, ts(2024, 3, 1, 0, 0), 2),
            [ts(2024, 3, 12, 9, 0), ts(2024, 4, 9, 9, 0)]
        );
        // Fifth Friday: March 2024 has one (the 29th), April 2024 none, May 2024 the 31st.
        let c = cron("cron(0 0 ? * FRI#5 *)");
        assert_eq!(
            firings(&c, ts(2024, 3, 1, 0, 0), 2),
            [ts(2024, 3, 29, 0, 0), ts(2024, 5, 31, 0, 0)]
        );
        // Last Friday: 2024-03-29, 2024-04-26.
        let c = cron("cron(0 0 ? * 6L *)");
        assert_eq!(
            firings(&c, ts(2024, 3, 1, 0, 0), 2),
            [ts(2024, 3, 29, 0, 0), ts(2024, 4, 26, 0, 0)]
        );
        let c = cron("cron(0 0 ? * friL *)");
        assert_eq!(
            c.next_after(ts(2024, 3, 1, 0, 0)),
            Some(ts(2024, 3, 29, 0, 0))
        );
    }

    #[test]
    fn next_after_years() {
        let c = cron("cron(0 0 1 1 ? 2030)");
        assert_eq!(
            c.next_after(ts(2024, 5, 5, 0, 0)),
            Some(ts(2030, 1, 1, 0, 0))
        );
        assert_eq!(c.next_after(ts(2030, 1, 1, 0, 0)), None);
        let c = cron("cron(0 0 1 1 ? 2025-2031/3)");
        assert_eq!(
            firings(&c, ts(2024, 1, 1, 0, 0), 3),
            [
                ts(2025, 1, 1, 0, 0),
                ts(2028, 1, 1, 0, 0),
                ts(2031, 1, 1, 0, 0)
            ]
        );
        let every_minute = cron("cron(* * * * ? *)");
        assert_eq!(
            every_minute.next_after(-10_000_000),
            Some(0),
            "nothing before 1970"
        );
        assert_eq!(every_minute.next_after(ts(2199, 12, 31, 23, 59)), None);
        assert_eq!(every_minute.next_after(i64::MAX), None);
        assert_eq!(every_minute.next_after(i64::MIN), Some(0));
    }
}
