//! `$[...]` time expressions, as DolphinScheduler's `ParameterUtils.dateTemplateParse` and
//! `TimePlaceholderUtils` evaluate them, relative to a business time D.
//!
//! An expression is `$[` followed by at least one character other than `$` and `]`, then
//! `]` (DS's regex `\$\[([^\$\]]+)]`); `$[` not followed by such text stays as written,
//! and so does a lone digit (`$[1]`), which DS skips so that shell arithmetic survives.
//! Inside, in DS's order of tests:
//!
//! - `timestamp(E)`: epoch seconds of E, a date expression below, formatted with its
//!   pattern and read back as `yyyyMMddHHmmss` (so E's pattern must produce those 14
//!   digits, e.g. `timestamp(yyyyMMdd000000)`). The time is taken as UTC, where DS takes
//!   the server's zone: the business time has no zone of its own here.
//! - `year_week(FMT[,DOW])`: `<year><-?><week>`, the week as two digits, `-` iff FMT
//!   contains one (FMT is otherwise unused). Weeks start on DOW, 1 (Monday, the default)
//!   to 7 (Sunday), and week 1 is the first with at least four days in the year. As in DS
//!   (java.util.Calendar's YEAR beside WEEK_OF_YEAR), the year is the calendar year of D,
//!   not the year the week belongs to: 2021-01-03 is `2021-53` with Monday weeks, and
//!   2024-12-30 is `2024-01`.
//! - the date functions, each giving a date-time that its FMT then formats:
//!   `add_months(FMT,N)` D + N months (the day clamped to the month's end);
//!   `month_begin(FMT,N)` / `month_end(FMT,N)` first / last day of D's month + N days;
//!   `week_begin(FMT,N)` / `week_end(FMT,N)` Monday / Sunday of D's week + N days;
//!   `month_first_day(FMT[,N])` first day of (D's month + N months);
//!   `month_last_day(FMT[,N])` last day of the month of (D + N months);
//!   `week_first_day(FMT[,N])` / `week_last_day(FMT[,N])` Monday / Sunday of D's week +
//!   N weeks; `this_day(FMT)` D; `last_day(FMT)` D - 1 day. Weeks run Monday to Sunday,
//!   so a Sunday belongs to the week of the Monday before it. The time of day is kept.
//! - otherwise `FMT` or `FMT±DEXPR`: D shifted by DEXPR days and formatted with FMT. The
//!   split is at the last `+` if the expression has one, else at the last `-`, and only
//!   when a digit follows it (so `yyyy-MM-dd` is a pattern and `yyyy-MM-dd-1` the day
//!   before). DEXPR `a/b/c` is `60*24*(a)/b/c` minutes in integer arithmetic: `N` days,
//!   `N/24` hours, `N/24/60` minutes, `7*N` weeks.
//!
//! N and DOW are integer expressions (see `arith`). FMT is a date pattern (see `pattern`).
//! Unlike DS, D is shifted as a wall-clock time, so `-1/24` is one hour earlier on the
//! clock even across a daylight-saving change; DS shifts the instant in the server's zone.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta};

use super::arith::{self, ArithError};
use super::pattern::{Pattern, PatternError};
use crate::error::quote;

const FUNCTIONS: &[&str] = &[
    "add_months",
    "month_begin",
    "month_end",
    "week_begin",
    "week_end",
    "month_first_day",
    "month_last_day",
    "week_first_day",
    "week_last_day",
    "this_day",
    "last_day",
    "year_week",
    "timestamp",
];

const DAYS_USAGE: &str = "use N, N/24 (hours), N/24/60 (minutes) or 7*N (weeks)";
const OUT_OF_RANGE: &str =
    "the resulting date is out of the range of dates that can be represented";

/// A `$[...]` that has no value: where it starts in the text expanded (a byte index), what
/// it says and why it is wrong.
pub(super) struct TimeError {
    pub(super) start: usize,
    expr: String,
    detail: String,
}

impl TimeError {
    /// `$[EXPR] at position P: what is wrong`; the caller says which character P is, of the
    /// text the user wrote, which may differ from the one expanded.
    pub(super) fn message(&self, position: usize) -> String {
        format!("$[{}] at position {position}: {}", self.expr, self.detail)
    }
}

/// Replaces every `$[...]` of `text` by its value at `at`.
pub(super) fn expand(text: &str, at: NaiveDateTime) -> Result<String, TimeError> {
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("$[") {
        let start = from + found;
        let body = start + 2;
        let end = text[body..].find(['$', ']']).map(|i| body + i);
        match end {
            Some(end) if end > body && text.as_bytes()[end] == b']' => {
                let expr = &text[body..end];
                if !(expr.len() == 1 && expr.as_bytes()[0].is_ascii_digit()) {
                    let value = evaluate(expr, at).map_err(|detail| TimeError {
                        start,
                        expr: expr.to_owned(),
                        detail,
                    })?;
                    out.push_str(&text[copied..start]);
                    out.push_str(&value);
                    copied = end + 1;
                }
                from = end + 1;
            }
            // Like the regex, try again one character on.
            _ => from = start + 1,
        }
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

fn evaluate(expr: &str, at: NaiveDateTime) -> Result<String, String> {
    match call(expr)? {
        Some(("timestamp", inner)) => timestamp(inner, at),
        Some(("year_week", args)) => year_week(args, at),
        call => {
            let (date, format) = date_expr(expr, call, at)?;
            render(expr, format, date)
        }
    }
}

/// `(name, arguments)` when `expr` is a call of a known function: its name, '(' and a
/// closing ')' at the end.
fn call(expr: &str) -> Result<Option<(&'static str, &str)>, String> {
    let Some(open) = expr.find('(') else {
        return Ok(None);
    };
    let Some(&name) = FUNCTIONS.iter().find(|&&f| f == &expr[..open]) else {
        return Ok(None);
    };
    match expr[open + 1..].strip_suffix(')') {
        Some(args) => Ok(Some((name, args))),
        None => Err(format!(
            "{name}( needs its closing ')' at the end of the expression"
        )),
    }
}

/// The date-time a date function or `FMT±DEXPR` gives, and the pattern to format it with;
/// `call` is what [`call`] made of `expr`.
fn date_expr<'e>(
    expr: &'e str,
    call: Option<(&str, &'e str)>,
    at: NaiveDateTime,
) -> Result<(NaiveDateTime, &'e str), String> {
    let Some((name, args)) = call else {
        return shifted(expr, at);
    };
    let day = |date: NaiveDate| date.and_time(at.time());
    Ok(match name {
        "add_months" => {
            let (format, months) = format_and_number(name, args, "months", false)?;
            (add_months(at, months)?, format)
        }
        "month_begin" => {
            let (format, days) = format_and_number(name, args, "days", false)?;
            (add_days(day(first_of_month(at.date())?), days)?, format)
        }
        "month_end" => {
            let (format, days) = format_and_number(name, args, "days", false)?;
            (add_days(day(last_of_month(at.date())?), days)?, format)
        }
        "week_begin" => {
            let (format, days) = format_and_number(name, args, "days", false)?;
            (add_days(day(monday(at.date())?), days)?, format)
        }
        "week_end" => {
            let (format, days) = format_and_number(name, args, "days", false)?;
            (add_days(day(sunday(at.date())?), days)?, format)
        }
        "month_first_day" => {
            let (format, months) = format_and_number(name, args, "months", true)?;
            (add_months(day(first_of_month(at.date())?), months)?, format)
        }
        "month_last_day" => {
            let (format, months) = format_and_number(name, args, "months", true)?;
            (day(last_of_month(add_months(at, months)?.date())?), format)
        }
        "week_first_day" => {
            let (format, weeks) = format_and_number(name, args, "weeks", true)?;
            (
                add_days(day(monday(at.date())?), weeks_to_days(weeks)?)?,
                format,
            )
        }
        "week_last_day" => {
            let (format, weeks) = format_and_number(name, args, "weeks", true)?;
            (
                add_days(day(sunday(at.date())?), weeks_to_days(weeks)?)?,
                format,
            )
        }
        // DS takes everything between the parentheses as the pattern, commas included.
        "this_day" => (at, args),
        "last_day" => (add_days(at, -1)?, args),
        _ => {
            return Err(format!(
                "{name}(...) gives no date to format, so it cannot stand inside timestamp(...)"
            ));
        }
    })
}

/// Splits `FORMAT,N` (or `FORMAT` alone when `optional`, N then 0). DS splits at every
/// comma, so a pattern cannot contain one.
fn format_and_number<'e>(
    name: &str,
    args: &'e str,
    unit: &str,
    optional: bool,
) -> Result<(&'e str, i64), String> {
    let parts: Vec<&str> = args.split(',').collect();
    match parts[..] {
        [format] if optional => Ok((format, 0)),
        [format, number] => Ok((format, integer(number)?)),
        _ => {
            let shape = if optional {
                format!("(pattern) or (pattern, {unit})")
            } else {
                format!("(pattern, {unit})")
            };
            Err(format!(
                "{name} takes {shape}, e.g. {name}(yyyyMMdd,-1), not {} argument(s); a \
                 pattern cannot contain ','",
                parts.len()
            ))
        }
    }
}

/// `FMT`, or `FMT±DEXPR` split by DS's rule (see the module documentation).
fn shifted(expr: &str, at: NaiveDateTime) -> Result<(NaiveDateTime, &str), String> {
    let Some(sign_at) = sign(expr) else {
        return Ok((at, expr));
    };
    let days = &expr[sign_at + 1..];
    match days.bytes().next() {
        None => Err(format!(
            "'{}' at the end needs a number of days after it; {DAYS_USAGE}",
            &expr[sign_at..]
        )),
        Some(first) if first.is_ascii_digit() => {
            let minutes = day_minutes(days)?;
            let minutes = if expr.as_bytes()[sign_at] == b'+' {
                Some(minutes)
            } else {
                minutes.checked_neg()
            };
            let shift = minutes
                .and_then(TimeDelta::try_minutes)
                .ok_or_else(|| OUT_OF_RANGE.to_owned())?;
            let date = at
                .checked_add_signed(shift)
                .ok_or_else(|| OUT_OF_RANGE.to_owned())?;
            Ok((date, &expr[..sign_at]))
        }
        Some(_) => Ok((at, expr)),
    }
}

/// Where DS looks for a day offset: the last '+' if there is one, else the last '-'.
fn sign(expr: &str) -> Option<usize> {
    expr.rfind('+').or_else(|| expr.rfind('-'))
}

/// DEXPR as DS computes it: the text up to the first '/' is put in parentheses after
/// `60*24*`, and the rest follows as written.
fn day_minutes(days: &str) -> Result<i64, String> {
    let (head, tail) = days.split_at(days.find('/').unwrap_or(days.len()));
    match arith::evaluate(&format!("60*24*({head}){tail}")) {
        Ok(minutes) => Ok(minutes),
        Err(ArithError::Syntax(_)) => Err(format!(
            "{} is not a number of days; {DAYS_USAGE}",
            quote(days)
        )),
        Err(error) => Err(arith_message(days, &error)),
    }
}

fn integer(text: &str) -> Result<i64, String> {
    arith::evaluate(text).map_err(|error| arith_message(text, &error))
}

fn arith_message(text: &str, error: &ArithError) -> String {
    let text = quote(text);
    match error {
        ArithError::Syntax(why) => format!(
            "{text} is not an integer expression ({why}); use digits, + - * / and parentheses"
        ),
        ArithError::DivisionByZero => format!("{text}: division by zero"),
        ArithError::Overflow => format!("{text}: the number does not fit in 64 bits"),
    }
}

/// Formats `date` with `format`. `expr` is the whole expression, which tells which part of
/// it is wrong when the pattern is refused.
fn render(expr: &str, format: &str, date: NaiveDateTime) -> Result<String, String> {
    let PatternError { at, message } = match Pattern::compile(format) {
        Ok(pattern) => return Ok(pattern.render(date)),
        Err(error) => error,
    };
    if format.len() < expr.len() {
        return Err(format!("in the pattern {}: {message}", quote(format)));
    }
    // The whole expression was taken for a pattern. Two likely slips read better named
    // as what they are than as a wrong pattern letter: a misspelt function, and a day
    // offset that is not a number.
    if let Some(name) = called_name(expr).filter(|name| at < name.len()) {
        return Err(format!(
            "unknown function {}; use {}",
            quote(name),
            FUNCTIONS.join(", ")
        ));
    }
    // Only after '+': '-' is also an ordinary separator in patterns (`yyyy-ww`).
    if let Some(sign_at) = expr.rfind('+').filter(|&sign_at| at > sign_at) {
        return Err(format!(
            "{} is not a number of days; {DAYS_USAGE}",
            quote(&expr[sign_at + 1..])
        ));
    }
    Err(message)
}

/// The name in `name(...`, when the expression starts like a function call.
fn called_name(expr: &str) -> Option<&str> {
    let open = expr.find('(')?;
    let name = &expr[..open];
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

fn timestamp(inner: &str, at: NaiveDateTime) -> Result<String, String> {
    let (date, format) = date_expr(inner, call(inner)?, at)?;
    let text = render(inner, format, date)?;
    let read = read_compact(&text).ok_or_else(|| {
        format!(
            "timestamp reads its date back as yyyyMMddHHmmss, and {} is not one; give the \
             inner pattern all 14 digits, e.g. timestamp(yyyyMMdd000000)",
            quote(&text)
        )
    })?;
    Ok(read.and_utc().timestamp().to_string())
}

/// Reads `yyyyMMddHHmmss` the way java.time's default (smart) resolver does: a day past
/// the month's end becomes its last day, and 24:00:00 the next midnight.
fn read_compact(text: &str) -> Option<NaiveDateTime> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    let year = i32::try_from(number(0..4)?).ok().filter(|&y| y >= 1)?;
    let (month, day) = (number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(8..10)?, number(10..12)?, number(12..14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let date = (1..=day)
        .rev()
        .find_map(|d| NaiveDate::from_ymd_opt(year, month, d))?;
    if (hour, minute, second) == (24, 0, 0) {
        return date.succ_opt()?.and_hms_opt(0, 0, 0);
    }
    date.and_hms_opt(hour, minute, second)
}

fn year_week(args: &str, at: NaiveDateTime) -> Result<String, String> {
    let (format, first_day) = match args.split_once(',') {
        None => (args, 1),
        Some((format, day)) if !day.contains(',') => (format, integer(day)?),
        Some(_) => {
            return Err(
                "year_week takes (pattern) or (pattern, first day of week 1-7), e.g. \
                 year_week(yyyy-MM-dd,7)"
                    .into(),
            );
        }
    };
    if !(1..=7).contains(&first_day) {
        return Err(format!(
            "year_week's first day of the week must be 1 (Monday) to 7 (Sunday), not {first_day}"
        ));
    }
    // Days from the week's first day to Monday, 0 for Monday-first weeks.
    let shift = (first_day - 1) as u32;
    let week_start = |date: NaiveDate| {
        let into_week = (date.weekday().num_days_from_monday() + 7 - shift) % 7;
        date.checked_sub_days(Days::new(u64::from(into_week)))
    };
    // With at least four days required, week 1 is the one that holds January 4.
    let week_one = |year: i32| NaiveDate::from_ymd_opt(year, 1, 4).and_then(week_start);
    let date = at.date();
    let year = date.year();
    let next_year = year.checked_add(1).and_then(week_one);
    let week = if next_year.is_some_and(|start| date >= start) {
        1
    } else {
        let start = week_one(year)
            .filter(|&start| date >= start)
            .or_else(|| year.checked_sub(1).and_then(week_one))
            .ok_or_else(|| OUT_OF_RANGE.to_owned())?;
        (date - start).num_days() / 7 + 1
    };
    let year_of_era = if year >= 1 { year } else { 1 - year };
    let dash = if format.contains('-') { "-" } else { "" };
    Ok(format!("{year_of_era}{dash}{week:02}"))
}

fn add_days(at: NaiveDateTime, days: i64) -> Result<NaiveDateTime, String> {
    TimeDelta::try_days(days)
        .and_then(|delta| at.checked_add_signed(delta))
        .ok_or_else(|| OUT_OF_RANGE.to_owned())
}

fn weeks_to_days(weeks: i64) -> Result<i64, String> {
    weeks.checked_mul(7).ok_or_else(|| OUT_OF_RANGE.to_owned())
}

fn add_months(at: NaiveDateTime, months: i64) -> Result<NaiveDateTime, String> {
    let count = u32::try_from(months.unsigned_abs()).ok().map(Months::new);
    let moved = match count {
        Some(count) if months >= 0 => at.checked_add_months(count),
        Some(count) => at.checked_sub_months(count),
        None => None,
    };
    moved.ok_or_else(|| OUT_OF_RANGE.to_owned())
}

fn first_of_month(date: NaiveDate) -> Result<NaiveDate, String> {
    date.checked_sub_days(Days::new(u64::from(date.day0())))
        .ok_or_else(|| OUT_OF_RANGE.to_owned())
}

/// Found without stepping into the next month, which may lie beyond the last date.
fn last_of_month(date: NaiveDate) -> Result<NaiveDate, String> {
    (28..=31)
        .rev()
        .find_map(|day| date.with_day(day))
        .ok_or_else(|| OUT_OF_RANGE.to_owned())
}

fn monday(date: NaiveDate) -> Result<NaiveDate, String> {
    date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
        .ok_or_else(|| OUT_OF_RANGE.to_owned())
}

fn sunday(date: NaiveDate) -> Result<NaiveDate, String> {
    monday(date)?
        .checked_add_days(Days::new(6))
        .ok_or_else(|| OUT_OF_RANGE.to_owned())
}
