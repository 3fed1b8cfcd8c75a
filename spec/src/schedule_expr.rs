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

input_error!(
    /// Why an expression is not a valid EventBridge schedule expression.
    ScheduleError,
    "expression"
);

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

    /// The text of a day field, upper-cased for matching its wildcards; `None` for `?` (any
    /// day). A wildcard of `not_here` is an error.
    fn day_text(
        &self,
        text: &str,
        at: usize,
        not_here: &str,
    ) -> Result<Option<String>, ScheduleError> {
        if text == "?" {
            return Ok(None);
        }
        self.reject_wildcards(text, at, not_here)?;
        Ok(Some(text.to_ascii_uppercase()))
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
    let Some(upper) = spec.day_text(text, at, "#")? else {
        return Ok(DayOfMonth::Any);
    };
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
    let Some(upper) = spec.day_text(text, at, "W")? else {
        return Ok(DayOfWeek::Any);
    };
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

    /// Unix seconds of a UTC `YYYY-MM-DD hh:mm`.
    fn at(text: &str) -> i64 {
        let n: Vec<u32> = text
            .split(['-', ' ', ':'])
            .map(|n| n.parse().expect(text))
            .collect();
        let &[y, mo, d, h, mi] = n.as_slice() else {
            panic!("{text}")
        };
        ts(y as i32, mo, d, h, mi)
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

    /// Checks each `(expression, after, expected next firing)` case.
    fn assert_next(cases: &[(&str, i64, Option<&str>)]) {
        for &(expr, from, want) in cases {
            let got = cron(expr).next_after(from);
            assert_eq!(got, want.map(at), "{expr} after {from}: expected {want:?}");
        }
    }

    /// Checks each `(expression, after, the firings that follow)` case.
    fn assert_firings(cases: &[(&str, &str, &[&str])]) {
        for &(expr, from, want) in cases {
            let got = firings(&cron(expr), at(from), want.len());
            let want: Vec<i64> = want.iter().map(|t| at(t)).collect();
            assert_eq!(got, want, "{expr} after {from}");
        }
    }

    #[test]
    fn next_after_crosses_month_and_year_ends() {
        assert_next(&[
            // Last minute of a leap February, of a 30-day month, of a year.
            (
                "cron(* * * * ? *)",
                at("2024-02-28 23:59"),
                Some("2024-02-29 00:00"),
            ),
            (
                "cron(* * * * ? *)",
                at("2024-02-29 23:59"),
                Some("2024-03-01 00:00"),
            ),
            (
                "cron(* * * * ? *)",
                at("2025-02-28 23:59"),
                Some("2025-03-01 00:00"),
            ),
            (
                "cron(* * * * ? *)",
                at("2025-04-30 23:59") + 30,
                Some("2025-05-01 00:00"),
            ),
            (
                "cron(* * * * ? *)",
                at("2025-12-31 23:59"),
                Some("2026-01-01 00:00"),
            ),
            // The last day of February in a century year that is not a leap year.
            (
                "cron(0 0 L 2 ? *)",
                at("2100-01-01 00:00"),
                Some("2100-02-28 00:00"),
            ),
            // The year field ends at 2199: the last firing of every minute, then none.
            (
                "cron(* * * * ? *)",
                at("2199-12-31 23:58"),
                Some("2199-12-31 23:59"),
            ),
            ("cron(* * * * ? *)", at("2199-12-31 23:59"), None),
        ]);
        assert_firings(&[
            // The 31st skips the 30-day months and February.
            (
                "cron(30 12 31 * ? *)",
                "2025-01-31 13:00",
                &[
                    "2025-03-31 12:30",
                    "2025-05-31 12:30",
                    "2025-07-31 12:30",
                    "2025-08-31 12:30",
                ],
            ),
            // The 30th skips February only, in leap years too.
            (
                "cron(0 0 30 * ? *)",
                "2024-01-30 00:00",
                &["2024-03-30 00:00", "2024-04-30 00:00"],
            ),
        ]);
    }

    #[test]
    fn rates() {
        for (expr, value, unit) in [
            ("rate(5 minutes)", 5, RateUnit::Minutes),
            ("rate(1 minute)", 1, RateUnit::Minutes),
            ("rate(1 hour)", 1, RateUnit::Hours),
            ("rate(12 hours)", 12, RateUnit::Hours),
            ("rate(1 day)", 1, RateUnit::Days),
            ("rate(7 days)", 7, RateUnit::Days),
        ] {
            assert_eq!(
                parse_schedule(expr),
                Ok(ScheduleExpr::Rate { value, unit }),
                "{expr}"
            );
        }
        assert_eq!(RateUnit::Hours.seconds(), 3600);
    }

    #[test]
    fn parse_errors() {
        // One case a line.
        #[rustfmt::skip]
        let cases = [
            // The unit's number must agree with the value.
            ("rate(5 minute)", "needs the plural unit `minutes`", "minute"),
            ("rate(5 minute)", "`rate(5 minutes)`", "minute"),
            ("rate(1 minutes)", "needs the singular unit `minute`", "minutes"),
            ("rate(1 minutes)", "`rate(1 minute)`", "minutes"),
            ("rate(2 day)", "`rate(2 days)`", "day"),
            ("rate(1 hours)", "`rate(1 hour)`", "hours"),
            ("rate(0 minutes)", "positive integer", "0"),
            ("rate(1.5 hours)", "rate value `1.5` must be a positive integer", "1.5"),
            ("rate(-1 hours)", "positive integer", "-1"),
            ("rate(99999999999 minutes)", "too large", "99999999999"),
            ("rate(5 seconds)", "unknown rate unit `seconds`", "seconds"),
            ("rate(5 Minutes)", "unknown rate unit `Minutes`", "Minutes"),
            ("rate(5)", "found 1 part", "5"),
            ("rate(5 minutes now)", "found 3 parts", "5 minutes now"),
            ("rate(5 minutes", "missing `)`", ""),
            // Not an expression at all.
            ("every 5 minutes", "`rate(value unit)`", "every 5 minutes"),
            ("Rate(5 minutes)", "lowercase", "Rate"),
            (" rate(5 minutes)", "leading whitespace", " rate"),
            ("at(2024-01-01T00:00:00)", "EventBridge Scheduler", "at"),
            ("", "`cron(0 12 * * ? *)`", ""),
            // Cron field count.
            ("cron(0 12 * * ?)", "has six fields", "0 12 * * ?"),
            ("cron(0 12 * * ?)", ", not 5", "0 12 * * ?"),
            ("cron(0 12 * * ?)", "add `*` at the end", "0 12 * * ?"),
            ("cron(0 0 12 * * ? *)", "not 7", "0 0 12 * * ? *"),
            ("cron(0 0 12 * * ? *)", "no seconds field", "0 0 12 * * ? *"),
            ("cron()", "not 0", ""),
            // One of the day fields is `?`.
            ("cron(0 12 * * MON *)", "you can't specify both day-of-month (`*`)", "* * MON"),
            ("cron(0 12 * * MON *)", "and day-of-week (`MON`)", "* * MON"),
            ("cron(0 12 ? * ? *)", "cannot both be `?`", "? * ?"),
            ("cron(0 12 ? ? MON *)", "`?` is not allowed in the month field", "?"),
            // Wildcards in the wrong place.
            ("cron(0 0 ? * 2W *)", "`W` is not allowed in the day-of-week field", "W"),
            ("cron(0 0 1#2 * ? *)", "`#` is not allowed in the day-of-month field", "#"),
            ("cron(L 0 1 * ? *)", "`L` is not allowed in the minutes field", "L"),
            ("cron(0 0 ? * 3#1,6#3 *)", "one expression only", "3#1,6#3"),
            ("cron(0 0 ? * 3#6 *)", "must be 1 to 5", "6"),
            ("cron(0 0 L,15 * ? *)", "can't be combined", "L,15"),
            ("cron(0 0 1-5W * ? *)", "invalid day-of-month `1-5W`", "1-5W"),
            ("cron(0/0 * * * ? *)", "increment `0`", "0"),
            ("cron(0/61 * * * ? *)", "from 1 to 60", "61"),
            ("cron(0 0 * * ? 2030-2020)", "reversed", "2030-2020"),
            ("cron(0,,5 * * * ? *)", "empty item", ""),
            ("cron(0 0 1 13 ? *)", "use 1-12 or JAN-DEC", "13"),
        ];
        crate::test_support::assert_errors(err, &cases);
        // The fix the question-mark rule suggests ends the message.
        for (expr, fix) in [
            ("cron(0 12 * * MON *)", "write `cron(0 12 ? * MON *)`"),
            ("cron(0 12 1 * * *)", "write `cron(0 12 1 * ? *)`"),
            (
                "cron(0 12 1 * MON *)",
                "write `cron(0 12 1 * ? *)` or `cron(0 12 ? * MON *)`",
            ),
        ] {
            let (m, _) = err(expr);
            assert!(m.ends_with(fix), "{expr}: {m}");
        }
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
    fn next_after_single_firings() {
        let noon = at("2024-01-01 12:00");
        assert_next(&[
            // Strictly after.
            ("cron(0 12 * * ? *)", noon, Some("2024-01-02 12:00")),
            ("cron(0 12 * * ? *)", noon - 1, Some("2024-01-01 12:00")),
            ("cron(0 12 * * ? *)", noon - 30, Some("2024-01-01 12:00")),
            // Over a year end.
            (
                "cron(0 12 * * ? *)",
                at("2023-12-31 13:00"),
                Some("2024-01-01 12:00"),
            ),
            // `L` alone in day-of-week is Saturday; 2024-03-02 is one.
            (
                "cron(0 0 ? * L *)",
                at("2024-03-01 00:00"),
                Some("2024-03-02 00:00"),
            ),
            (
                "cron(0 0 L * ? *)",
                at("2023-02-01 00:00"),
                Some("2023-02-28 00:00"),
            ),
            // 2100 is not a leap year.
            (
                "cron(0 0 29 2 ? *)",
                at("2096-03-01 00:00"),
                Some("2104-02-29 00:00"),
            ),
            // Never fires.
            ("cron(0 0 31 2 ? *)", at("2024-01-01 00:00"), None),
            // Last weekday: 2025-08-31 is a Sunday, so Friday the 29th.
            (
                "cron(0 0 LW * ? *)",
                at("2025-08-01 00:00"),
                Some("2025-08-29 00:00"),
            ),
            // 2024-02-29 is a Thursday.
            (
                "cron(0 0 LW * ? *)",
                at("2024-02-01 00:00"),
                Some("2024-02-29 00:00"),
            ),
            // 15W: 2024-06-15 is a Saturday (→ 14th), 2024-09-15 a Sunday (→ 16th).
            (
                "cron(0 0 15W * ? *)",
                at("2024-06-01 00:00"),
                Some("2024-06-14 00:00"),
            ),
            (
                "cron(0 0 15W * ? *)",
                at("2024-09-01 00:00"),
                Some("2024-09-16 00:00"),
            ),
            // 1W: 2024-06-01 is a Saturday; the month is not left, so Monday the 3rd.
            (
                "cron(0 0 1W * ? *)",
                at("2024-05-31 00:00"),
                Some("2024-06-03 00:00"),
            ),
            // 30W: 2024-06-30 is a Sunday and the last day, so Friday the 28th.
            (
                "cron(0 0 30W * ? *)",
                at("2024-06-01 00:00"),
                Some("2024-06-28 00:00"),
            ),
            // 31W skips 30-day months: after June 2024 comes 2024-07-31, a Wednesday.
            (
                "cron(0 0 31W * ? *)",
                at("2024-06-01 00:00"),
                Some("2024-07-31 00:00"),
            ),
            (
                "cron(0 0 ? * friL *)",
                at("2024-03-01 00:00"),
                Some("2024-03-29 00:00"),
            ),
            (
                "cron(0 0 1 1 ? 2030)",
                at("2024-05-05 00:00"),
                Some("2030-01-01 00:00"),
            ),
            ("cron(0 0 1 1 ? 2030)", at("2030-01-01 00:00"), None),
            // Nothing before 1970.
            ("cron(* * * * ? *)", -10_000_000, Some("1970-01-01 00:00")),
            ("cron(* * * * ? *)", at("2199-12-31 23:59"), None),
            ("cron(* * * * ? *)", i64::MAX, None),
            ("cron(* * * * ? *)", i64::MIN, Some("1970-01-01 00:00")),
        ]);
        assert_eq!(weekday(2024, 7, 31), 4, "a Wednesday");
    }

    #[test]
    fn next_after_series() {
        assert_firings(&[
            (
                "cron(0/15 * * * ? *)",
                "2024-01-01 10:07",
                &[
                    "2024-01-01 10:15",
                    "2024-01-01 10:30",
                    "2024-01-01 10:45",
                    "2024-01-01 11:00",
                ],
            ),
            (
                "cron(5/20 8-9 * * ? *)",
                "2024-01-01 00:00",
                &[
                    "2024-01-01 08:05",
                    "2024-01-01 08:25",
                    "2024-01-01 08:45",
                    "2024-01-01 09:05",
                    "2024-01-01 09:25",
                    "2024-01-01 09:45",
                    "2024-01-02 08:05",
                ],
            ),
            // Wrapping hour range: 22, 23, 0, 1.
            (
                "cron(0 22-1 * * ? *)",
                "2024-01-01 12:00",
                &[
                    "2024-01-01 22:00",
                    "2024-01-01 23:00",
                    "2024-01-02 00:00",
                    "2024-01-02 01:00",
                    "2024-01-02 22:00",
                ],
            ),
            // 2024-03-01 is a Friday.
            (
                "cron(0 18 ? * MON-FRI *)",
                "2024-03-01 18:00",
                &["2024-03-04 18:00", "2024-03-05 18:00"],
            ),
            (
                "cron(0 0 ? * FRI-MON *)",
                "2024-03-05 00:00",
                &[
                    "2024-03-08 00:00",
                    "2024-03-09 00:00",
                    "2024-03-10 00:00",
                    "2024-03-11 00:00",
                ],
            ),
            (
                "cron(30 6 1 JAN,jul ? *)",
                "2024-03-01 00:00",
                &["2024-07-01 06:30", "2025-01-01 06:30"],
            ),
            (
                "cron(0 0 L * ? *)",
                "2024-01-31 00:00",
                &["2024-02-29 00:00", "2024-03-31 00:00"],
            ),
            (
                "cron(0 0 29 2 ? *)",
                "2024-03-01 00:00",
                &["2028-02-29 00:00", "2032-02-29 00:00"],
            ),
            // Second Tuesday: 2024-03-12, 2024-04-09.
            (
                "cron(0 9 ? * 3#2 *)",
                "2024-03-01 00:00",
                &["2024-03-12 09:00", "2024-04-09 09:00"],
            ),
            // Fifth Friday: March 2024 has one (the 29th), April 2024 none, May 2024 the 31st.
            (
                "cron(0 0 ? * FRI#5 *)",
                "2024-03-01 00:00",
                &["2024-03-29 00:00", "2024-05-31 00:00"],
            ),
            // Last Friday: 2024-03-29, 2024-04-26.
            (
                "cron(0 0 ? * 6L *)",
                "2024-03-01 00:00",
                &["2024-03-29 00:00", "2024-04-26 00:00"],
            ),
            (
                "cron(0 0 1 1 ? 2025-2031/3)",
                "2024-01-01 00:00",
                &["2025-01-01 00:00", "2028-01-01 00:00", "2031-01-01 00:00"],
            ),
        ]);
    }
}
