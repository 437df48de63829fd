//! Cron expressions: Quartz, as DolphinScheduler writes them and Quartz 2.3
//! reads them (6 or 7 fields, seconds first, an optional year; `?`, `L`, `L-n`, `W`, `LW`,
//! `L-nW`, `n#k`, `nL`, names; ranges that wrap around the field; `/n` for a step from the
//! field's first value; no step larger than the field), and Unix (5 fields, as Vixie cron
//! reads them: Sunday is 0 or 7, `SUN` closing a range is 7, and day-of-month and day-of-week
//! are OR'ed when both are restricted; `@daily`-style macros). The dialect follows from the
//! field count.
//!
//! Fire times are local times of an IANA time zone. Daylight saving: a local time that does
//! not exist (the hour skipped in spring) is skipped; a local time that happens twice (the
//! hour repeated in autumn) fires once, at its first occurrence. `next_fires` and
//! `prev_fires` find the same fire times, forwards and backwards.

mod describe;
#[cfg(test)]
mod props;
mod structure;

pub use describe::describe;
pub use structure::build;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use crate::error::SpecError;

/// The year after which nothing fires (Quartz's limit).
const LAST_YEAR: i32 = 2099;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Quartz,
    Unix,
}

/// One comma-separated item of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `*`
    Every,
    /// `?`: no restriction from this field (Quartz day-of-month or day-of-week).
    Any,
    Value(u32),
    Range(u32, u32),
    /// `from/step`, `from-to/step`, `*/step` (`star`).
    Step {
        from: u32,
        to: Option<u32>,
        step: u32,
        star: bool,
    },
    /// Day-of-month `L` or `L-offset`: the last day, or that many days before it.
    Last(u32),
    /// Day-of-month `LW` or `L-nW`: the weekday (Monday to Friday) nearest the last day, or
    /// nearest the day that many days before it (`LW` is the last weekday of the month).
    LastWeekday(u32),
    /// Day-of-month `nW`: the weekday nearest to day n, within the month.
    NearestWeekday(u32),
    /// Day-of-week `nL`: the last such weekday of the month.
    LastOf(u32),
    /// Day-of-week `n#k`: the k-th such weekday of the month.
    Nth(u32, u32),
}

/// The fields, in Quartz order. Day-of-week values are kept as the dialect numbers them
/// (Quartz 1 = Sunday .. 7 = Saturday; Unix 0 = Sunday .. 6, 7 also Sunday). A Quartz range
/// or stepped range whose start is after its end wraps around (hours `22-2`, `FRI-MON`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub dialect: Dialect,
    pub second: Vec<Part>,
    pub minute: Vec<Part>,
    pub hour: Vec<Part>,
    pub day_of_month: Vec<Part>,
    pub month: Vec<Part>,
    pub day_of_week: Vec<Part>,
    /// Quartz's optional seventh field; `None` is every year.
    pub year: Option<Vec<Part>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Second => "second",
            Kind::Minute => "minute",
            Kind::Hour => "hour",
            Kind::DayOfMonth => "day-of-month",
            Kind::Month => "month",
            Kind::DayOfWeek => "day-of-week",
            Kind::Year => "year",
        }
    }

    fn range(self, dialect: Dialect) -> (u32, u32) {
        match self {
            Kind::Second | Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::DayOfMonth => (1, 31),
            Kind::Month => (1, 12),
            Kind::DayOfWeek if dialect == Dialect::Quartz => (1, 7),
            Kind::DayOfWeek => (0, 7),
            Kind::Year => (1970, LAST_YEAR as u32),
        }
    }

    /// How many values the field has before it wraps around; years do not.
    fn cycle(self) -> Option<u32> {
        match self {
            Kind::Second | Kind::Minute => Some(60),
            Kind::Hour => Some(24),
            Kind::DayOfMonth => Some(31),
            Kind::Month => Some(12),
            Kind::DayOfWeek => Some(7),
            Kind::Year => None,
        }
    }

    /// The largest step Quartz accepts: under the field's cycle for the 0-based fields, the
    /// whole cycle for the 1-based ones.
    fn max_step(self) -> Option<u32> {
        match self {
            Kind::Second | Kind::Minute => Some(59),
            Kind::Hour => Some(23),
            Kind::Year => None,
            other => other.cycle(),
        }
    }

    fn rule(self, dialect: Dialect) -> String {
        let (lo, hi) = self.range(dialect);
        match self {
            Kind::Month => format!("a month {lo}-{hi} or JAN-DEC"),
            Kind::DayOfWeek if dialect == Dialect::Quartz => {
                "a day 1-7 (1 = Sunday) or SUN-SAT".to_owned()
            }
            Kind::DayOfWeek => "a day 0-7 (0 and 7 = Sunday) or SUN-SAT".to_owned(),
            Kind::DayOfMonth => format!("a day {lo}-{hi}"),
            Kind::Year => format!("a year {lo}-{hi}"),
            _ => format!("a number {lo}-{hi}"),
        }
    }

    /// A value as written: a number, or a name for months and days.
    fn value(self, token: &str, dialect: Dialect) -> Option<u32> {
        let upper = token.to_ascii_uppercase();
        let named = match self {
            Kind::Month => MONTHS
                .iter()
                .position(|m| *m == upper)
                .map(|i| i as u32 + 1),
            Kind::DayOfWeek => DAYS.iter().position(|d| *d == upper).map(|i| {
                if dialect == Dialect::Quartz {
                    i as u32 + 1
                } else {
                    i as u32
                }
            }),
            _ => None,
        };
        let value = named.or_else(|| {
            token
                .chars()
                .all(|c| c.is_ascii_digit())
                .then(|| token.parse().ok())
                .flatten()
        })?;
        let (lo, hi) = self.range(dialect);
        (lo..=hi).contains(&value).then_some(value)
    }
}

fn error(kind: Kind, position: usize, message: String) -> SpecError {
    SpecError {
        path: kind.name().to_owned(),
        message: format!("(field {position}) {message}"),
    }
}

/// Parses a cron expression; the dialect follows from its field count (5: Unix; 6 or 7:
/// Quartz) unless given.
pub fn parse(expr: &str, dialect: Option<Dialect>) -> Result<Cron, SpecError> {
    let text = expr.trim();
    let macro_expansion = match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Some("0 0 1 1 *"),
        "@monthly" => Some("0 0 1 * *"),
        "@weekly" => Some("0 0 * * 0"),
        "@daily" | "@midnight" => Some("0 0 * * *"),
        "@hourly" => Some("0 * * * *"),
        _ if text.starts_with('@') => {
            return Err(SpecError {
                path: "cron".into(),
                message: format!(
                    "{text:?} is not a cron macro; allowed: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
                ),
            });
        }
        _ => None,
    };
    let text = macro_expansion.unwrap_or(text);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let dialect = match (dialect, fields.len()) {
        (Some(d), _) => d,
        (None, 5) => Dialect::Unix,
        (None, 6 | 7) => Dialect::Quartz,
        (None, n) => {
            return Err(SpecError {
                path: "cron".into(),
                message: format!(
                    "{expr:?} has {n} fields; a Unix cron has 5 (minute hour day-of-month month day-of-week), a Quartz cron 6 or 7 (second first, year last)"
                ),
            });
        }
    };
    let expected = match dialect {
        Dialect::Unix => 5..=5,
        Dialect::Quartz => 6..=7,
    };
    if !expected.contains(&fields.len()) {
        return Err(SpecError {
            path: "cron".into(),
            message: format!(
                "{expr:?} has {} fields; this dialect takes {}",
                fields.len(),
                if dialect == Dialect::Unix {
                    "5"
                } else {
                    "6 or 7"
                }
            ),
        });
    }
    let kinds: &[Kind] = match dialect {
        Dialect::Unix => &[
            Kind::Minute,
            Kind::Hour,
            Kind::DayOfMonth,
            Kind::Month,
            Kind::DayOfWeek,
        ],
        Dialect::Quartz => &[
            Kind::Second,
            Kind::Minute,
            Kind::Hour,
            Kind::DayOfMonth,
            Kind::Month,
            Kind::DayOfWeek,
            Kind::Year,
        ],
    };
    let mut parsed = Vec::new();
    for (i, (field, kind)) in fields.iter().zip(kinds).enumerate() {
        parsed.push(parse_field(field, *kind, dialect, i + 1)?);
    }
    let mut fields = parsed.into_iter();
    let mut next = || fields.next().unwrap_or_default();
    let cron = match dialect {
        Dialect::Unix => Cron {
            dialect,
            second: vec![Part::Value(0)],
            minute: next(),
            hour: next(),
            day_of_month: next(),
            month: next(),
            day_of_week: next(),
            year: None,
        },
        Dialect::Quartz => Cron {
            dialect,
            second: next(),
            minute: next(),
            hour: next(),
            day_of_month: next(),
            month: next(),
            day_of_week: next(),
            year: {
                let year = next();
                (!year.is_empty()).then_some(year)
            },
        },
    };
    if dialect == Dialect::Quartz {
        let any = |parts: &[Part]| parts == [Part::Any];
        match (any(&cron.day_of_month), any(&cron.day_of_week)) {
            (true, true) => {
                return Err(error(
                    Kind::DayOfWeek,
                    6,
                    "\"?\" in both day-of-month and day-of-week; one of them must say which days"
                        .into(),
                ));
            }
            (false, false) => {
                return Err(error(
                    Kind::DayOfWeek,
                    6,
                    "one of day-of-month and day-of-week must be \"?\" in a Quartz cron, e.g. \"0 0 12 ? * MON\" or \"0 0 12 1 * ?\"".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(cron)
}

fn parse_field(
    text: &str,
    kind: Kind,
    dialect: Dialect,
    position: usize,
) -> Result<Vec<Part>, SpecError> {
    let fail = |token: &str, what: String| error(kind, position, format!("{token:?} {what}"));
    let value = |token: &str| {
        kind.value(token, dialect)
            .ok_or_else(|| fail(token, format!("is not {}", kind.rule(dialect))))
    };
    let quartz = dialect == Dialect::Quartz;
    // A range's end. Vixie cron reads SUN at the end of a day-of-week range as 7 (MON-SUN).
    let end = |token: &str| {
        if !quartz && kind == Kind::DayOfWeek && token.eq_ignore_ascii_case("SUN") {
            Ok(7)
        } else {
            value(token)
        }
    };
    // Quartz wraps a range whose start is after its end around the field (not years).
    let range = |item: &str, a: &str, b: &str| {
        let (a, b) = (value(a)?, end(b)?);
        if a > b && !(quartz && kind.cycle().is_some()) {
            return Err(fail(item, "is a range whose start is after its end".into()));
        }
        Ok((a, b))
    };
    let mut parts = Vec::new();
    for item in text.split(',') {
        let upper = item.to_ascii_uppercase();
        let part = match upper.as_str() {
            "" => return Err(fail(text, "has an empty item".into())),
            "*" => Part::Every,
            "?" if quartz && matches!(kind, Kind::DayOfMonth | Kind::DayOfWeek) => Part::Any,
            "?" => {
                return Err(fail(
                    "?",
                    "is only allowed in day-of-month and day-of-week of a Quartz cron".into(),
                ));
            }
            "L" if kind == Kind::DayOfMonth && quartz => Part::Last(0),
            // Quartz: L alone in day-of-week is Saturday.
            "L" if kind == Kind::DayOfWeek && quartz => Part::Value(7),
            "LW" if kind == Kind::DayOfMonth && quartz => Part::LastWeekday(0),
            _ if quartz && kind == Kind::DayOfMonth && upper.starts_with("L-") => {
                let (offset, weekday) = match upper[2..].strip_suffix('W') {
                    Some(offset) => (offset, true),
                    None => (&upper[2..], false),
                };
                let offset: u32 = offset
                    .parse()
                    .ok()
                    .filter(|n| (1..=30).contains(n))
                    .ok_or_else(|| fail(item, "is not L-n or L-nW with n from 1 to 30".into()))?;
                if weekday {
                    Part::LastWeekday(offset)
                } else {
                    Part::Last(offset)
                }
            }
            _ if quartz && kind == Kind::DayOfMonth && upper.ends_with('W') => {
                Part::NearestWeekday(value(&item[..item.len() - 1])?)
            }
            _ if quartz && kind == Kind::DayOfWeek && upper.ends_with('L') => {
                Part::LastOf(value(&item[..item.len() - 1])?)
            }
            _ if quartz && kind == Kind::DayOfWeek && upper.contains('#') => {
                let (day, nth) = item.split_once('#').unwrap_or_default();
                let nth: u32 = nth
                    .parse()
                    .ok()
                    .filter(|n| (1..=5).contains(n))
                    .ok_or_else(|| fail(item, "is not day#n with n from 1 to 5".into()))?;
                Part::Nth(value(day)?, nth)
            }
            _ if item.contains('/') => {
                let (base, step) = item.split_once('/').unwrap_or_default();
                let step: u32 = step.parse().ok().filter(|s| *s >= 1).ok_or_else(|| {
                    fail(
                        item,
                        "has a step that is not a whole number of 1 or more".into(),
                    )
                })?;
                if let Some(max) = kind.max_step().filter(|max| step > *max) {
                    return Err(fail(
                        item,
                        format!(
                            "has a step larger than the field; allowed: a step from 1 to {max}"
                        ),
                    ));
                }
                let (lo, _) = kind.range(dialect);
                match base {
                    "*" => Part::Step {
                        from: lo,
                        to: None,
                        step,
                        star: true,
                    },
                    // Quartz: a bare /n steps from the field's first value.
                    "" if quartz => Part::Step {
                        from: lo,
                        to: None,
                        step,
                        star: false,
                    },
                    "" => {
                        return Err(fail(
                            item,
                            "has no start before the step; a Unix cron writes */n".into(),
                        ));
                    }
                    _ => match base.split_once('-') {
                        Some((a, b)) => {
                            let (a, b) = range(item, a, b)?;
                            Part::Step {
                                from: a,
                                to: Some(b),
                                step,
                                star: false,
                            }
                        }
                        None => Part::Step {
                            from: value(base)?,
                            to: None,
                            step,
                            star: false,
                        },
                    },
                }
            }
            _ if item.contains('-') => {
                let (a, b) = item.split_once('-').unwrap_or_default();
                let (a, b) = range(item, a, b)?;
                Part::Range(a, b)
            }
            _ => Part::Value(value(item)?),
        };
        if matches!(part, Part::Every | Part::Any) && text.contains(',') {
            return Err(fail(text, "mixes * or ? with other items".into()));
        }
        parts.push(part);
    }
    Ok(parts)
}

/// Whether a plain part (not `L`, `W`, `#`) allows `value` of field `kind`. A stepped part
/// without an end runs to the field's last value; a Quartz range whose start is after its
/// end runs over the end of the field and on from its start.
fn plain(part: &Part, kind: Kind, dialect: Dialect, value: u32) -> bool {
    let (_, hi) = kind.range(dialect);
    let within = |from: u32, to: u32, step: u32| {
        if from <= to {
            (from..=to).contains(&value) && (value - from).is_multiple_of(step)
        } else {
            let cycle = kind.cycle().unwrap_or(1);
            let distance = (value + cycle - from) % cycle;
            distance <= to + cycle - from && distance.is_multiple_of(step)
        }
    };
    match *part {
        Part::Every => true,
        Part::Value(v) => v == value,
        Part::Range(a, b) => within(a, b, 1),
        Part::Step { from, to, step, .. } => within(from, to.unwrap_or(hi), step),
        _ => false,
    }
}

fn allows(parts: &[Part], kind: Kind, dialect: Dialect, value: u32) -> bool {
    parts.iter().any(|p| plain(p, kind, dialect, value))
}

fn last_day(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

/// Quartz's `W`: the weekday nearest day `target` of `date`'s month, not leaving the month.
fn nearest_weekday(date: NaiveDate, target: u32, last: u32) -> Option<u32> {
    let at = date.with_day(target)?;
    Some(match at.weekday().number_from_monday() {
        6 if target == 1 => target + 2,
        6 => target - 1,
        7 if target == last => target - 2,
        7 => target + 1,
        _ => target,
    })
}

/// The earliest local date looked at (the year field's first year).
const FIRST_YEAR: i32 = 1970;

impl Cron {
    fn star(parts: &[Part]) -> bool {
        matches!(
            parts.first(),
            Some(Part::Every | Part::Step { star: true, .. })
        )
    }

    fn day_of_month_matches(&self, date: NaiveDate) -> bool {
        let last = last_day(date.year(), date.month());
        let day = date.day();
        self.day_of_month.iter().any(|part| match *part {
            Part::Last(offset) => last > offset && day == last - offset,
            Part::LastWeekday(offset) => {
                last > offset && nearest_weekday(date, last - offset, last) == Some(day)
            }
            Part::NearestWeekday(n) => nearest_weekday(date, n.min(last), last) == Some(day),
            ref p => plain(p, Kind::DayOfMonth, self.dialect, day),
        })
    }

    fn day_of_week_matches(&self, date: NaiveDate) -> bool {
        // 0 = Sunday .. 6 = Saturday.
        let weekday = date.weekday().num_days_from_sunday();
        let number = |v: u32| match self.dialect {
            Dialect::Quartz => v - 1,
            Dialect::Unix => v % 7,
        };
        let last = last_day(date.year(), date.month());
        self.day_of_week.iter().any(|part| match *part {
            Part::LastOf(v) => number(v) == weekday && date.day() + 7 > last,
            Part::Nth(v, n) => number(v) == weekday && (date.day() - 1) / 7 + 1 == n,
            ref p => match self.dialect {
                Dialect::Quartz => plain(p, Kind::DayOfWeek, self.dialect, weekday + 1),
                Dialect::Unix => {
                    plain(p, Kind::DayOfWeek, self.dialect, weekday)
                        || (weekday == 0 && plain(p, Kind::DayOfWeek, self.dialect, 7))
                }
            },
        })
    }

    /// Whether the schedule fires on this local date.
    pub fn fires_on(&self, date: NaiveDate) -> bool {
        if !allows(&self.month, Kind::Month, self.dialect, date.month()) {
            return false;
        }
        if let Some(year) = &self.year
            && !allows(year, Kind::Year, self.dialect, date.year() as u32)
        {
            return false;
        }
        match self.dialect {
            Dialect::Quartz => {
                if self.day_of_month == [Part::Any] {
                    self.day_of_week_matches(date)
                } else {
                    self.day_of_month_matches(date)
                }
            }
            // Vixie cron: with either field starting with *, both must match (so the other
            // decides); with both restricted, either may.
            Dialect::Unix => {
                if Self::star(&self.day_of_month) || Self::star(&self.day_of_week) {
                    self.day_of_month_matches(date) && self.day_of_week_matches(date)
                } else {
                    self.day_of_month_matches(date) || self.day_of_week_matches(date)
                }
            }
        }
    }

    /// The allowed values of a time field from `from` on (upwards) or down to it.
    fn times(&self, kind: Kind, from: u32, up: bool) -> impl Iterator<Item = u32> + '_ {
        let parts = match kind {
            Kind::Hour => &self.hour,
            Kind::Minute => &self.minute,
            _ => &self.second,
        };
        let (_, hi) = kind.range(self.dialect);
        let values: Box<dyn Iterator<Item = u32>> = if up {
            Box::new(from..=hi)
        } else {
            Box::new((0..=from).rev())
        };
        values.filter(move |v| allows(parts, kind, self.dialect, *v))
    }

    /// The first (`up`) or last allowed time of `date`, starting from `start` (that time of
    /// the first date looked at).
    fn time_on(
        &self,
        date: NaiveDate,
        start: Option<NaiveTime>,
        up: bool,
    ) -> Option<NaiveDateTime> {
        let edge = if up {
            NaiveTime::MIN
        } else {
            NaiveTime::from_hms_opt(23, 59, 59)?
        };
        let first = start.unwrap_or(edge);
        for hour in self.times(Kind::Hour, first.hour(), up) {
            let minute_from = if hour == first.hour() {
                first.minute()
            } else {
                edge.minute()
            };
            for minute in self.times(Kind::Minute, minute_from, up) {
                let second_from = if hour == first.hour() && minute == first.minute() {
                    first.second()
                } else {
                    edge.second()
                };
                if let Some(second) = self.times(Kind::Second, second_from, up).next() {
                    return date.and_hms_opt(hour, minute, second);
                }
            }
        }
        None
    }

    /// The first local time at or after `from` (whole seconds) that the fields allow, not
    /// looking past the end of `LAST_YEAR`.
    fn next_local(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut date = from.date();
        let mut start = Some(from.time());
        while date.year() <= LAST_YEAR {
            if self.fires_on(date)
                && let Some(time) = self.time_on(date, start, true)
            {
                return Some(time);
            }
            date = date.succ_opt()?;
            start = None;
        }
        None
    }

    /// The last local time at or before `from` (whole seconds) that the fields allow, not
    /// looking before `FIRST_YEAR`.
    fn prev_local(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut date = from.date();
        let mut start = Some(from.time());
        while date.year() >= FIRST_YEAR {
            if self.fires_on(date)
                && let Some(time) = self.time_on(date, start, false)
            {
                return Some(time);
            }
            date = date.pred_opt()?;
            start = None;
        }
        None
    }

    /// The instant a local fire time fires at: none if daylight saving skips it, the first
    /// occurrence if it repeats it.
    fn instant(candidate: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
        match tz.from_local_datetime(&candidate) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
            LocalResult::None => None,
        }
    }

    /// The fire times strictly after `after`, in `tz`, at most `n` of them.
    pub fn next_fires(&self, after: DateTime<Utc>, tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::with_capacity(n.min(1000));
        let mut local = after
            .with_timezone(&tz)
            .naive_local()
            .with_nanosecond(0)
            .unwrap_or_default()
            + Duration::seconds(1);
        while fires.len() < n {
            let Some(candidate) = self.next_local(local) else {
                break;
            };
            local = candidate + Duration::seconds(1);
            let Some(instant) = Self::instant(candidate, tz) else {
                continue;
            };
            if instant > after && fires.last().is_none_or(|last| instant > *last) {
                fires.push(instant);
            }
        }
        fires
    }

    /// The fire times strictly before `before`, in `tz`, latest first, at most `n` of them:
    /// the same fire times as `next_fires`, looked for backwards.
    pub fn prev_fires(&self, before: DateTime<Utc>, tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
        let mut fires: Vec<DateTime<Utc>> = Vec::with_capacity(n.min(1000));
        let at = before.with_nanosecond(0).unwrap_or(before);
        let mut local = at.with_timezone(&tz).naive_local();
        // In the second pass of a repeated hour, later local times of that hour fired (at
        // their first occurrence) before `before`: start from the local time whose first
        // occurrence is `before`.
        if let LocalResult::Ambiguous(first, second) = tz.from_local_datetime(&local)
            && second.with_timezone(&Utc) == at
        {
            local =
                at.naive_utc() + Duration::seconds(first.offset().fix().local_minus_utc().into());
        }
        while fires.len() < n {
            let Some(candidate) = self.prev_local(local) else {
                break;
            };
            local = candidate - Duration::seconds(1);
            let Some(instant) = Self::instant(candidate, tz) else {
                continue;
            };
            if instant < before && fires.last().is_none_or(|last| instant < *last) {
                fires.push(instant);
            }
        }
        fires
    }
}

/// An IANA time zone by name.
pub fn time_zone(name: &str, field: &str) -> Result<Tz, SpecError> {
    name.parse::<Tz>().map_err(|_| SpecError {
        path: field.to_owned(),
        message: format!("{name:?} is not an IANA time zone name, e.g. \"UTC\", \"Asia/Shanghai\", \"Europe/Berlin\""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str, tz: &str, n: usize) -> Vec<String> {
        let cron = parse(expr, None).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let tz: Tz = tz.parse().unwrap();
        cron.next_fires(utc(after), tz, n)
            .iter()
            .map(|t| {
                t.with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S %a")
                    .to_string()
            })
            .collect()
    }

    fn err(expr: &str) -> String {
        parse(expr, None).unwrap_err().to_string()
    }

    #[test]
    fn quartz_documented_examples() {
        // The examples of Quartz's CronTrigger tutorial.
        assert_eq!(
            next("0 0 12 * * ?", "2024-03-15T12:00:00Z", "UTC", 2),
            ["2024-03-16 12:00:00 Sat", "2024-03-17 12:00:00 Sun"]
        );
        assert_eq!(
            next("0 15 10 ? * MON-FRI", "2024-03-15T11:00:00Z", "UTC", 2),
            ["2024-03-18 10:15:00 Mon", "2024-03-19 10:15:00 Tue"]
        );
        assert_eq!(
            next("0 15 10 L * ?", "2024-02-01T00:00:00Z", "UTC", 2),
            ["2024-02-29 10:15:00 Thu", "2024-03-31 10:15:00 Sun"]
        );
        assert_eq!(
            next("0 15 10 L-2 * ?", "2024-02-01T00:00:00Z", "UTC", 1),
            ["2024-02-27 10:15:00 Tue"]
        );
        assert_eq!(
            next("0 15 10 ? * 6L", "2024-03-01T00:00:00Z", "UTC", 2),
            ["2024-03-29 10:15:00 Fri", "2024-04-26 10:15:00 Fri"]
        );
        assert_eq!(
            next("0 15 10 ? * 6#3", "2024-03-01T00:00:00Z", "UTC", 2),
            ["2024-03-15 10:15:00 Fri", "2024-04-19 10:15:00 Fri"]
        );
        assert_eq!(
            next("0 0/5 14 * * ?", "2024-03-15T14:52:00Z", "UTC", 3),
            [
                "2024-03-15 14:55:00 Fri",
                "2024-03-16 14:00:00 Sat",
                "2024-03-16 14:05:00 Sat"
            ]
        );
        assert_eq!(
            next("0 10,44 14 ? 3 WED", "2024-01-01T00:00:00Z", "UTC", 3),
            [
                "2024-03-06 14:10:00 Wed",
                "2024-03-06 14:44:00 Wed",
                "2024-03-13 14:10:00 Wed"
            ]
        );
        assert_eq!(
            next("0 11 11 11 11 ?", "2024-01-01T00:00:00Z", "UTC", 1),
            ["2024-11-11 11:11:00 Mon"]
        );
        // Years, and nothing after the last one.
        assert_eq!(
            next("0 15 10 * * ? 2025", "2024-03-15T00:00:00Z", "UTC", 1),
            ["2025-01-01 10:15:00 Wed"]
        );
        assert!(next("0 0 0 1 1 ? 2020", "2024-01-01T00:00:00Z", "UTC", 1).is_empty());
        // W: the nearest weekday, not leaving the month; LW the last weekday.
        assert_eq!(
            next("0 0 9 15W * ?", "2024-06-01T00:00:00Z", "UTC", 1),
            ["2024-06-14 09:00:00 Fri"]
        ); // the 15th is a Saturday
        assert_eq!(
            next("0 0 9 1W * ?", "2024-06-01T00:00:00Z", "UTC", 1),
            ["2024-06-03 09:00:00 Mon"]
        ); // the 1st is a Saturday
        assert_eq!(
            next("0 0 9 LW * ?", "2024-03-01T00:00:00Z", "UTC", 1),
            ["2024-03-29 09:00:00 Fri"]
        ); // the 31st is a Sunday
        // Seconds, and a step over seconds.
        assert_eq!(
            next("*/20 * * * * ?", "2024-03-15T00:00:05Z", "UTC", 3),
            [
                "2024-03-15 00:00:20 Fri",
                "2024-03-15 00:00:40 Fri",
                "2024-03-15 00:01:00 Fri"
            ]
        );
        // L in day-of-week alone is Saturday.
        assert_eq!(
            next("0 0 0 ? * L", "2024-03-15T00:00:00Z", "UTC", 1),
            ["2024-03-16 00:00:00 Sat"]
        );
    }

    #[test]
    fn quartz_2_3_forms() {
        // L-nW: the weekday nearest n days before the last day. 2024-06: the 30th is a
        // Sunday, L-2W = the 28th (Friday); L-1W = the 29th, a Saturday, so Friday the 28th.
        assert_eq!(
            next("0 0 12 L-2W * ?", "2024-06-01T00:00:00Z", "UTC", 1),
            ["2024-06-28 12:00:00 Fri"]
        );
        assert_eq!(
            next("0 0 12 L-1W * ?", "2024-06-01T00:00:00Z", "UTC", 1),
            ["2024-06-28 12:00:00 Fri"]
        );
        // 2024-03-24 (L-7) is a Sunday: Monday the 25th.
        assert_eq!(
            next("0 0 12 L-7W * ?", "2024-03-01T00:00:00Z", "UTC", 1),
            ["2024-03-25 12:00:00 Mon"]
        );
        // Wrapped ranges: hours 13-0 are 13:00 to 23:00 and midnight.
        assert_eq!(
            next("0 0 13-0 * * ?", "2024-03-15T21:30:00Z", "UTC", 4),
            [
                "2024-03-15 22:00:00 Fri",
                "2024-03-15 23:00:00 Fri",
                "2024-03-16 00:00:00 Sat",
                "2024-03-16 13:00:00 Sat"
            ]
        );
        assert_eq!(
            next("0 0 9 ? * FRI-MON", "2024-03-13T00:00:00Z", "UTC", 5),
            [
                "2024-03-15 09:00:00 Fri",
                "2024-03-16 09:00:00 Sat",
                "2024-03-17 09:00:00 Sun",
                "2024-03-18 09:00:00 Mon",
                "2024-03-22 09:00:00 Fri"
            ]
        );
        assert_eq!(
            next("0 0 0 1 NOV-FEB ?", "2024-03-15T00:00:00Z", "UTC", 5),
            [
                "2024-11-01 00:00:00 Fri",
                "2024-12-01 00:00:00 Sun",
                "2025-01-01 00:00:00 Wed",
                "2025-02-01 00:00:00 Sat",
                "2025-11-01 00:00:00 Sat"
            ]
        );
        // A wrapped stepped range counts on over the field's end: 22, 0, 2.
        assert_eq!(
            next("0 0 22-2/2 * * ?", "2024-03-15T12:00:00Z", "UTC", 4),
            [
                "2024-03-15 22:00:00 Fri",
                "2024-03-16 00:00:00 Sat",
                "2024-03-16 02:00:00 Sat",
                "2024-03-16 22:00:00 Sat"
            ]
        );
        // A bare /n steps from the field's first value.
        assert_eq!(
            next("0 /20 * * * ?", "2024-03-15T12:05:00Z", "UTC", 3),
            [
                "2024-03-15 12:20:00 Fri",
                "2024-03-15 12:40:00 Fri",
                "2024-03-15 13:00:00 Fri"
            ]
        );
        assert_eq!(
            next("0 0 0 /10 * ?", "2024-03-02T00:00:00Z", "UTC", 3),
            [
                "2024-03-11 00:00:00 Mon",
                "2024-03-21 00:00:00 Thu",
                "2024-03-31 00:00:00 Sun"
            ]
        );
        // FRI/2 in Quartz: from Friday by 2 to Saturday, Fridays only.
        assert_eq!(
            next("0 0 12 ? * FRI/2", "2024-03-13T00:00:00Z", "UTC", 2),
            ["2024-03-15 12:00:00 Fri", "2024-03-22 12:00:00 Fri"]
        );
        // Unix: SUN at the end of a range is 7.
        assert_eq!(
            next("0 0 * * FRI-SUN", "2024-03-14T00:00:00Z", "UTC", 4),
            [
                "2024-03-15 00:00:00 Fri",
                "2024-03-16 00:00:00 Sat",
                "2024-03-17 00:00:00 Sun",
                "2024-03-22 00:00:00 Fri"
            ]
        );
        assert_eq!(
            next("0 0 * * MON-SUN", "2024-03-15T12:00:00Z", "UTC", 2),
            ["2024-03-16 00:00:00 Sat", "2024-03-17 00:00:00 Sun"]
        );
    }

    fn prev(expr: &str, before: &str, tz: &str, n: usize) -> Vec<String> {
        let cron = parse(expr, None).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let tz: Tz = tz.parse().unwrap();
        cron.prev_fires(utc(before), tz, n)
            .iter()
            .map(|t| {
                t.with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S %:z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn prev_fires_go_back_strictly_before() {
        assert_eq!(
            prev("0 15 10 ? * MON-FRI", "2024-03-18T10:15:00Z", "UTC", 3),
            [
                "2024-03-15 10:15:00 +00:00",
                "2024-03-14 10:15:00 +00:00",
                "2024-03-13 10:15:00 +00:00"
            ]
        );
        assert_eq!(
            prev("0 15 10 ? * MON-FRI", "2024-03-18T10:15:01Z", "UTC", 1),
            ["2024-03-18 10:15:00 +00:00"]
        );
        assert_eq!(
            prev("0 0 12 L-2W * ?", "2024-07-01T00:00:00Z", "UTC", 1),
            ["2024-06-28 12:00:00 +00:00"]
        );
        // Nothing before 1970 or before a year field's years.
        assert!(prev("0 0 0 1 1 ? 2030", "2029-06-01T00:00:00Z", "UTC", 1).is_empty());
        assert_eq!(
            prev("0 0 0 1 1 ?", "1971-06-01T00:00:00Z", "UTC", 5),
            ["1971-01-01 00:00:00 +00:00", "1970-01-01 00:00:00 +00:00"]
        );
        // Berlin: 02:30 does not exist on 2024-03-31 and happens twice on 2024-10-27.
        assert_eq!(
            prev("30 2 * * *", "2024-04-01T12:00:00Z", "Europe/Berlin", 2),
            ["2024-04-01 02:30:00 +02:00", "2024-03-30 02:30:00 +01:00"]
        );
        assert_eq!(
            prev("0 30 2 * * ?", "2024-10-28T12:00:00Z", "Europe/Berlin", 2),
            ["2024-10-28 02:30:00 +01:00", "2024-10-27 02:30:00 +02:00"]
        );
        // From inside the repeated hour's second pass (02:10 CET): 02:30, 02:45 and 02:15
        // fired in the first pass (CEST) and are before it.
        assert_eq!(
            prev("0 0/15 2 * * ?", "2024-10-27T01:10:00Z", "Europe/Berlin", 4),
            [
                "2024-10-27 02:45:00 +02:00",
                "2024-10-27 02:30:00 +02:00",
                "2024-10-27 02:15:00 +02:00",
                "2024-10-27 02:00:00 +02:00"
            ]
        );
    }

    #[test]
    fn unix_follows_vixie_cron() {
        // Sunday is 0 or 7.
        assert_eq!(
            next("0 0 * * 7", "2024-03-15T00:00:00Z", "UTC", 1),
            ["2024-03-17 00:00:00 Sun"]
        );
        assert_eq!(
            next("0 0 * * 0", "2024-03-15T00:00:00Z", "UTC", 1),
            ["2024-03-17 00:00:00 Sun"]
        );
        assert_eq!(
            next("0 0 * * 5-7", "2024-03-15T01:00:00Z", "UTC", 3),
            [
                "2024-03-16 00:00:00 Sat",
                "2024-03-17 00:00:00 Sun",
                "2024-03-22 00:00:00 Fri"
            ]
        );
        // Both day fields restricted: either matches (croniter's day_or, Vixie's rule).
        assert_eq!(
            next("0 0 13 * FRI", "2024-09-01T00:00:00Z", "UTC", 3),
            [
                "2024-09-06 00:00:00 Fri",
                "2024-09-13 00:00:00 Fri",
                "2024-09-20 00:00:00 Fri"
            ]
        );
        assert_eq!(
            next("0 0 1,15 * 3", "2024-05-01T00:00:00Z", "UTC", 4),
            [
                "2024-05-08 00:00:00 Wed",
                "2024-05-15 00:00:00 Wed",
                "2024-05-22 00:00:00 Wed",
                "2024-05-29 00:00:00 Wed"
            ]
        );
        // Day-of-month starting with * leaves the weekday to decide.
        assert_eq!(
            next("0 0 */2 * 1", "2024-03-01T00:00:00Z", "UTC", 2),
            ["2024-03-11 00:00:00 Mon", "2024-03-25 00:00:00 Mon"]
        );
        assert_eq!(
            next("@daily", "2024-03-15T10:00:00Z", "UTC", 1),
            ["2024-03-16 00:00:00 Sat"]
        );
        assert_eq!(
            next("@hourly", "2024-03-15T10:00:00Z", "UTC", 1),
            ["2024-03-15 11:00:00 Fri"]
        );
        assert_eq!(
            next("*/15 9-10 * JAN,mar mon", "2024-03-18T09:50:00Z", "UTC", 3),
            [
                "2024-03-18 10:00:00 Mon",
                "2024-03-18 10:15:00 Mon",
                "2024-03-18 10:30:00 Mon"
            ]
        );
        // Strictly after.
        assert_eq!(
            next("30 2 * * *", "2024-03-15T02:30:00Z", "UTC", 1),
            ["2024-03-16 02:30:00 Sat"]
        );
        // Feb 30 never happens.
        assert!(next("0 0 30 2 *", "2024-01-01T00:00:00Z", "UTC", 1).is_empty());
    }

    #[test]
    fn daylight_saving_skips_missing_times_and_fires_repeated_ones_once() {
        // Europe/Berlin: 2024-03-31 02:00 -> 03:00; 2024-10-27 03:00 -> 02:00.
        assert_eq!(
            next("30 2 * * *", "2024-03-30T00:00:00Z", "Europe/Berlin", 2),
            ["2024-03-30 02:30:00 Sat", "2024-04-01 02:30:00 Mon"]
        );
        assert_eq!(
            next("0 30 2 * * ?", "2024-10-26T12:00:00Z", "Europe/Berlin", 2),
            ["2024-10-27 02:30:00 Sun", "2024-10-28 02:30:00 Mon"]
        );
        let fires = parse("0 30 2 * * ?", None).unwrap().next_fires(
            utc("2024-10-26T12:00:00Z"),
            "Europe/Berlin".parse().unwrap(),
            1,
        );
        // The first 02:30 of the repeated hour is 00:30 UTC (summer time, +02:00).
        assert_eq!(fires[0], utc("2024-10-27T00:30:00Z"));
        // Every 30 minutes through the repeated hour: each local time once.
        let hours = next("0 0/30 * * * ?", "2024-10-26T23:45:00Z", "Europe/Berlin", 4);
        assert_eq!(
            hours,
            [
                "2024-10-27 02:00:00 Sun",
                "2024-10-27 02:30:00 Sun",
                "2024-10-27 03:00:00 Sun",
                "2024-10-27 03:30:00 Sun"
            ]
        );
        // Zones without daylight saving are plain.
        assert_eq!(
            next("0 0 8 * * ?", "2024-03-14T23:00:00Z", "Asia/Shanghai", 1),
            ["2024-03-15 08:00:00 Fri"]
        );
    }

    #[test]
    fn errors_name_the_field_and_position() {
        assert_eq!(
            err("0 0 12 ? * MOX"),
            "day-of-week: (field 6) \"MOX\" is not a day 1-7 (1 = Sunday) or SUN-SAT"
        );
        assert_eq!(
            err("61 * * * *"),
            "minute: (field 1) \"61\" is not a number 0-59"
        );
        assert_eq!(
            err("0 0 25 * * ?"),
            "hour: (field 3) \"25\" is not a number 0-23"
        );
        assert_eq!(
            err("0 0 12 * * MON"),
            "day-of-week: (field 6) one of day-of-month and day-of-week must be \"?\" in a Quartz cron, e.g. \"0 0 12 ? * MON\" or \"0 0 12 1 * ?\""
        );
        assert!(err("0 0 12 ? * ?").contains("\"?\" in both"));
        assert!(err("* * * *").starts_with("cron: \"* * * *\" has 4 fields"));
        assert!(err("@fortnightly").contains("is not a cron macro"));
        assert_eq!(
            err("0 0 ? * *"),
            "day-of-month: (field 3) \"?\" is only allowed in day-of-month and day-of-week of a Quartz cron"
        );
        assert_eq!(
            err("0 0 1 13 *"),
            "month: (field 4) \"13\" is not a month 1-12 or JAN-DEC"
        );
        assert_eq!(
            err("*/0 * * * *"),
            "minute: (field 1) \"*/0\" has a step that is not a whole number of 1 or more"
        );
        assert_eq!(
            err("0 0 0 ? * 2#6"),
            "day-of-week: (field 6) \"2#6\" is not day#n with n from 1 to 5"
        );
        assert_eq!(
            err("0 0 0 L-31 * ?"),
            "day-of-month: (field 4) \"L-31\" is not L-n or L-nW with n from 1 to 30"
        );
        assert_eq!(
            err("0 0 0 1 * ? 1969"),
            "year: (field 7) \"1969\" is not a year 1970-2099"
        );
        assert_eq!(
            err("5-1 * * * *"),
            "minute: (field 1) \"5-1\" is a range whose start is after its end"
        );
        assert_eq!(
            err("*,5 * * * *"),
            "minute: (field 1) \"*,5\" mixes * or ? with other items"
        );
        // Steps larger than their field, as Quartz refuses them.
        for (expr, message) in [
            (
                "0/120 * * * * ?",
                "second: (field 1) \"0/120\" has a step larger than the field; allowed: a step from 1 to 59",
            ),
            (
                "0 0/120 * * * ?",
                "minute: (field 2) \"0/120\" has a step larger than the field; allowed: a step from 1 to 59",
            ),
            (
                "0 0 0/120 * * ?",
                "hour: (field 3) \"0/120\" has a step larger than the field; allowed: a step from 1 to 23",
            ),
            (
                "0 0 0 ? * 1/8",
                "day-of-week: (field 6) \"1/8\" has a step larger than the field; allowed: a step from 1 to 7",
            ),
            (
                "0 0 0 1 1/13 ?",
                "month: (field 5) \"1/13\" has a step larger than the field; allowed: a step from 1 to 12",
            ),
            (
                "0 0 0 1/32 * ?",
                "day-of-month: (field 4) \"1/32\" has a step larger than the field; allowed: a step from 1 to 31",
            ),
            (
                "*/60 * * * *",
                "minute: (field 1) \"*/60\" has a step larger than the field; allowed: a step from 1 to 59",
            ),
            (
                "0 0 0 1 1 ? 2030-2025",
                "year: (field 7) \"2030-2025\" is a range whose start is after its end",
            ),
            (
                "0 0 * * FRI-MON",
                "day-of-week: (field 5) \"FRI-MON\" is a range whose start is after its end",
            ),
            (
                "/5 * * * *",
                "minute: (field 1) \"/5\" has no start before the step; a Unix cron writes */n",
            ),
            (
                "0 0 0 L-0W * ?",
                "day-of-month: (field 4) \"L-0W\" is not L-n or L-nW with n from 1 to 30",
            ),
        ] {
            assert_eq!(err(expr), message, "{expr}");
        }
        // The largest steps are accepted.
        for expr in [
            "0/59 0/59 0/23 1/31 1/12 ?",
            "0 0 0 ? * 1/7",
            "*/59 */23 */31 */12 */7",
        ] {
            parse(expr, None).unwrap_or_else(|e| panic!("{expr}: {e}"));
        }
        assert!(
            time_zone("Mars/Olympus", "timezone")
                .unwrap_err()
                .to_string()
                .starts_with("timezone: \"Mars/Olympus\" is not an IANA time zone name")
        );
    }
}
