//! Cron expressions in words (`sched.cron_describe`), in English and Chinese, in the manner
//! of cron-expression-descriptor: "At 02:30, on day 1 of the month".

use super::{Cron, Dialect, Kind, Part};
use crate::error::SpecError;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Zh,
}

const DAYS_EN: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const DAYS_ZH: [&str; 7] = [
    "星期日",
    "星期一",
    "星期二",
    "星期三",
    "星期四",
    "星期五",
    "星期六",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_ZH: [&str; 12] = [
    "一月",
    "二月",
    "三月",
    "四月",
    "五月",
    "六月",
    "七月",
    "八月",
    "九月",
    "十月",
    "十一月",
    "十二月",
];
const ORDINALS_EN: [&str; 5] = ["first", "second", "third", "fourth", "fifth"];
const ORDINALS_ZH: [&str; 5] = ["第一个", "第二个", "第三个", "第四个", "第五个"];

/// Joins items as a sentence lists them: "a, b and c" / "a、b和c".
fn list(items: &[String], lang: Lang) -> String {
    match (items, lang) {
        ([], _) => String::new(),
        ([one], _) => one.clone(),
        ([init @ .., last], Lang::En) => format!("{} and {last}", init.join(", ")),
        ([init @ .., last], Lang::Zh) => format!("{}和{last}", init.join("、")),
    }
}

fn single(parts: &[Part]) -> Option<u32> {
    match parts {
        [Part::Value(v)] => Some(*v),
        _ => None,
    }
}

/// Values a description states: `start`, `start + step`, .. `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: u32,
    step: u32,
    last: u32,
}

impl Run {
    fn values(self) -> impl Iterator<Item = u32> {
        (self.start..=self.last).step_by(self.step as usize)
    }

    fn count(self) -> u32 {
        (self.last - self.start) / self.step + 1
    }
}

/// The runs of values a plain part (not `L`, `W`, `#`) fires on, counted out as Quartz does:
/// from the start by the step up to the end (the field's last value when none is written),
/// and, when the end is before the start, on over the field's last value to its first.
fn runs(part: &Part, kind: Kind, dialect: Dialect) -> Vec<Run> {
    let (lo, hi) = kind.range(dialect);
    let (from, to, step) = match *part {
        Part::Every => (lo, hi, 1),
        Part::Value(v) => (v, v, 1),
        Part::Range(a, b) => (a, b, 1),
        Part::Step { from, to, step, .. } => (from, to.unwrap_or(hi), step),
        _ => return Vec::new(),
    };
    let upto = |start: u32, end: u32| Run {
        start,
        step,
        last: start + (end - start) / step * step,
    };
    if from <= to {
        return vec![upto(from, to)];
    }
    let first = upto(from, hi);
    let next = first.last + step - (hi - lo + 1);
    let mut runs = vec![first];
    if next <= to {
        runs.push(upto(next, to));
    }
    runs
}

fn field_runs(parts: &[Part], kind: Kind, dialect: Dialect) -> Vec<Run> {
    parts.iter().flat_map(|p| runs(p, kind, dialect)).collect()
}

/// How a run is said: a few stepped values are listed one by one.
enum Said {
    Value(u32),
    Range(u32, u32),
    Every(Run),
}

fn said(run: Run) -> Vec<Said> {
    match run {
        Run { start, last, .. } if start == last => vec![Said::Value(start)],
        Run { step: 1, .. } => vec![Said::Range(run.start, run.last)],
        _ if run.count() <= 3 => run.values().map(Said::Value).collect(),
        _ => vec![Said::Every(run)],
    }
}

/// Whether the runs are the whole field stepped evenly from its first value (`*/15` minutes):
/// "every 15 minutes" then says it all.
fn evenly(runs: &[Run], kind: Kind, dialect: Dialect) -> Option<u32> {
    let (lo, hi) = kind.range(dialect);
    match runs {
        [run] if run.start == lo && run.last + run.step > hi => {
            (hi - lo + 1).is_multiple_of(run.step).then_some(run.step)
        }
        _ => None,
    }
}

/// The phrase of a time field: seconds, minutes or hours.
fn time_phrase(parts: &[Part], kind: Kind, lang: Lang) -> Option<String> {
    let (unit, unit_zh) = match kind {
        Kind::Second => ("second", "秒"),
        Kind::Minute => ("minute", "分钟"),
        _ => ("hour", "小时"),
    };
    if parts == [Part::Every] {
        return Some(match lang {
            Lang::En => format!("every {unit}"),
            Lang::Zh => format!("每{unit_zh}"),
        });
    }
    let runs = field_runs(parts, kind, Dialect::Quartz);
    if let Some(step) = evenly(&runs, kind, Dialect::Quartz) {
        return Some(match lang {
            Lang::En => format!("every {step} {unit}s"),
            Lang::Zh => format!("每{step}{unit_zh}"),
        });
    }
    let mut values = Vec::new();
    let mut phrases = Vec::new();
    for said in runs.into_iter().flat_map(said) {
        match (said, lang) {
            (Said::Value(v), _) => values.push(v.to_string()),
            (Said::Range(a, b), Lang::En) => values.push(format!("{a} through {b}")),
            (Said::Range(a, b), Lang::Zh) => values.push(format!("{a}至{b}")),
            (Said::Every(Run { start, step, last }), Lang::En) => phrases.push(format!(
                "every {step} {unit}s, {unit}s {start} through {last}"
            )),
            (Said::Every(Run { start, step, last }), Lang::Zh) => phrases.push(format!(
                "从第{start}{unit_zh}起每{step}{unit_zh}，至第{last}{unit_zh}"
            )),
        }
    }
    if !values.is_empty() {
        phrases.insert(
            0,
            match lang {
                Lang::En => format!("at {unit} {}", list(&values, lang)),
                Lang::Zh => format!("在第{}{unit_zh}", list(&values, lang)),
            },
        );
    }
    Some(phrases.join(if lang == Lang::En { ", " } else { "，" }))
}

/// The hours as clock spans ("between 09:00 and 17:59") when they are whole runs of hours.
fn hour_spans(parts: &[Part], lang: Lang) -> Option<String> {
    let runs = field_runs(parts, Kind::Hour, Dialect::Quartz);
    if runs.iter().any(|r| r.step != 1 && r.start != r.last) {
        return None;
    }
    let spans: Vec<String> = runs
        .iter()
        .map(|r| match lang {
            Lang::En => format!("between {:02}:00 and {:02}:59", r.start, r.last),
            Lang::Zh => format!("{:02}:00 至 {:02}:59", r.start, r.last),
        })
        .collect();
    Some(match lang {
        Lang::En => list(&spans, lang),
        Lang::Zh => format!("在 {} 之间", spans.join(" 和 ")),
    })
}

/// The hours when they are a few single hours (`9,17`, `8/6`).
fn few_hours(parts: &[Part]) -> Option<Vec<u32>> {
    let mut hours = Vec::new();
    for said in field_runs(parts, Kind::Hour, Dialect::Quartz)
        .into_iter()
        .flat_map(said)
    {
        match said {
            Said::Value(h) => hours.push(h),
            _ => return None,
        }
    }
    Some(hours)
}

fn clock(hour: u32, minute: u32, second: u32) -> String {
    if second == 0 {
        format!("{hour:02}:{minute:02}")
    } else {
        format!("{hour:02}:{minute:02}:{second:02}")
    }
}

fn weekday(v: u32, dialect: Dialect) -> usize {
    match dialect {
        Dialect::Quartz => (v as usize + 6) % 7,
        Dialect::Unix => v as usize % 7,
    }
}

fn day_name(v: u32, dialect: Dialect, lang: Lang) -> String {
    let i = weekday(v, dialect);
    match lang {
        Lang::En => DAYS_EN[i].to_owned(),
        Lang::Zh => DAYS_ZH[i].to_owned(),
    }
}

fn month_name(v: u32, lang: Lang) -> String {
    let i = (v as usize).clamp(1, 12) - 1;
    match lang {
        Lang::En => MONTHS_EN[i].to_owned(),
        Lang::Zh => MONTHS_ZH[i].to_owned(),
    }
}

fn day_of_month_phrase(parts: &[Part], dialect: Dialect, lang: Lang) -> Option<String> {
    if matches!(parts, [Part::Every] | [Part::Any]) {
        return None;
    }
    let mut phrases = Vec::new();
    for part in parts {
        let text =
            match (*part, lang) {
                (Part::Last(0), Lang::En) => "on the last day of the month".into(),
                (Part::Last(0), Lang::Zh) => "每月最后一天".into(),
                (Part::Last(n), Lang::En) => format!("{n} days before the last day of the month"),
                (Part::Last(n), Lang::Zh) => format!("每月最后一天的前{n}天"),
                (Part::LastWeekday(0), Lang::En) => "on the last weekday of the month".into(),
                (Part::LastWeekday(0), Lang::Zh) => "每月最后一个工作日".into(),
                (Part::LastWeekday(n), Lang::En) => {
                    format!("on the weekday nearest {n} days before the last day of the month")
                }
                (Part::LastWeekday(n), Lang::Zh) => format!("每月离最后一天前{n}天最近的工作日"),
                (Part::NearestWeekday(d), Lang::En) => {
                    format!("on the weekday nearest day {d} of the month")
                }
                (Part::NearestWeekday(d), Lang::Zh) => format!("每月离{d}日最近的工作日"),
                (ref p, _) => {
                    let mut days = Vec::new();
                    for said in field_runs(std::slice::from_ref(p), Kind::DayOfMonth, dialect)
                        .into_iter()
                        .flat_map(said)
                    {
                        match (said, lang) {
                        (Said::Value(d), _) => days.push(d),
                        (Said::Range(a, b), Lang::En) => {
                            phrases.push(format!("between day {a} and {b} of the month"))
                        }
                        (Said::Range(a, b), Lang::Zh) => phrases.push(format!("每月{a}日至{b}日")),
                        (Said::Every(Run { start, step, last }), Lang::En) => phrases.push(format!(
                            "every {step} days from day {start} through day {last} of the month"
                        )),
                        (Said::Every(Run { start, step, last }), Lang::Zh) => {
                            phrases.push(format!("每月从{start}日起每{step}天，至{last}日"))
                        }
                    }
                    }
                    if days.is_empty() {
                        continue;
                    }
                    let names: Vec<String> = days
                        .iter()
                        .map(|d| match lang {
                            Lang::En => d.to_string(),
                            Lang::Zh => format!("{d}日"),
                        })
                        .collect();
                    match lang {
                        Lang::En => format!("on day {} of the month", list(&names, lang)),
                        Lang::Zh => format!("每月{}", list(&names, lang)),
                    }
                }
            };
        phrases.push(text);
    }
    Some(list(&phrases, lang))
}

fn day_of_week_phrase(parts: &[Part], dialect: Dialect, lang: Lang) -> Option<String> {
    if matches!(parts, [Part::Every] | [Part::Any]) {
        return None;
    }
    let mut days: Vec<String> = Vec::new();
    let mut others = Vec::new();
    for p in parts {
        match (*p, lang) {
            (Part::Value(d), _) => days.push(day_name(d, dialect, lang)),
            // Weeks go round: FRI-MON is Friday through Monday.
            (Part::Range(a, b), Lang::En) => days.push(format!(
                "{} through {}",
                day_name(a, dialect, lang),
                day_name(b, dialect, lang)
            )),
            (Part::Range(a, b), Lang::Zh) => days.push(format!(
                "{}至{}",
                day_name(a, dialect, lang),
                day_name(b, dialect, lang)
            )),
            (Part::LastOf(d), Lang::En) => others.push(format!(
                "on the last {} of the month",
                day_name(d, dialect, lang)
            )),
            (Part::LastOf(d), Lang::Zh) => {
                others.push(format!("每月最后一个{}", day_name(d, dialect, lang)))
            }
            (Part::Nth(d, n), Lang::En) => others.push(format!(
                "on the {} {} of the month",
                ORDINALS_EN[(n as usize).clamp(1, 5) - 1],
                day_name(d, dialect, lang)
            )),
            (Part::Nth(d, n), Lang::Zh) => others.push(format!(
                "每月{}{}",
                ORDINALS_ZH[(n as usize).clamp(1, 5) - 1],
                day_name(d, dialect, lang)
            )),
            // A step names the days it lands on: Quartz FRI/2 is Friday only.
            (ref p, _) => {
                for run in field_runs(std::slice::from_ref(p), Kind::DayOfWeek, dialect) {
                    for d in run.values() {
                        let name = day_name(d, dialect, lang);
                        if !days.contains(&name) {
                            days.push(name);
                        }
                    }
                }
            }
        }
    }
    if !days.is_empty() {
        let days = list(&days, lang);
        others.insert(
            0,
            match lang {
                Lang::En => format!("only on {days}"),
                Lang::Zh => format!("仅{days}"),
            },
        );
    }
    Some(list(&others, lang))
}

fn month_phrase(parts: &[Part], lang: Lang) -> Option<String> {
    if parts == [Part::Every] {
        return None;
    }
    let mut names = Vec::new();
    let mut others = Vec::new();
    for p in parts {
        match (*p, lang) {
            (Part::Value(m), _) => names.push(month_name(m, lang)),
            // Years go round: NOV-FEB is November through February.
            (Part::Range(a, b), Lang::En) => names.push(format!(
                "{} through {}",
                month_name(a, lang),
                month_name(b, lang)
            )),
            (Part::Range(a, b), Lang::Zh) => {
                names.push(format!("{}至{}", month_name(a, lang), month_name(b, lang)))
            }
            (ref p, _) => {
                for said in field_runs(std::slice::from_ref(p), Kind::Month, Dialect::Quartz)
                    .into_iter()
                    .flat_map(said)
                {
                    match (said, lang) {
                        (Said::Value(m), _) => names.push(month_name(m, lang)),
                        (Said::Range(a, b), Lang::En) => names.push(format!(
                            "{} through {}",
                            month_name(a, lang),
                            month_name(b, lang)
                        )),
                        (Said::Range(a, b), Lang::Zh) => {
                            names.push(format!("{}至{}", month_name(a, lang), month_name(b, lang)))
                        }
                        (Said::Every(Run { start, step, last }), Lang::En) => others.push(format!(
                            "every {step} months from {} through {}",
                            month_name(start, lang),
                            month_name(last, lang)
                        )),
                        (Said::Every(Run { start, step, last }), Lang::Zh) => others.push(format!(
                            "从{}起每{step}个月，至{}",
                            month_name(start, lang),
                            month_name(last, lang)
                        )),
                    }
                }
            }
        }
    }
    if !names.is_empty() {
        let names = list(&names, lang);
        others.insert(
            0,
            match lang {
                Lang::En => format!("only in {names}"),
                Lang::Zh => format!("仅在{names}"),
            },
        );
    }
    Some(list(&others, lang))
}

fn year_phrase(parts: &[Part], lang: Lang) -> Option<String> {
    if parts == [Part::Every] {
        return None;
    }
    let mut years = Vec::new();
    for said in field_runs(parts, Kind::Year, Dialect::Quartz)
        .into_iter()
        .flat_map(said)
    {
        years.push(match (said, lang) {
            (Said::Value(y), Lang::En) => y.to_string(),
            (Said::Value(y), Lang::Zh) => format!("{y}年"),
            (Said::Range(a, b), Lang::En) => format!("{a} through {b}"),
            (Said::Range(a, b), Lang::Zh) => format!("{a}年至{b}年"),
            (Said::Every(Run { start, step, last }), Lang::En) => {
                format!("every {step} years from {start} through {last}")
            }
            (Said::Every(Run { start, step, last }), Lang::Zh) => {
                format!("从{start}年起每{step}年至{last}年")
            }
        });
    }
    Some(match lang {
        Lang::En => format!("only in {}", list(&years, lang)),
        Lang::Zh => format!("仅在{}", list(&years, lang)),
    })
}

/// Whether the description says the days of month or the days of week (Unix, both
/// restricted, neither starting with `*`), rather than both.
fn either_day(cron: &Cron) -> bool {
    cron.dialect == Dialect::Unix
        && !Cron::star(&cron.day_of_month)
        && !Cron::star(&cron.day_of_week)
}

/// The expression in words, `lang` `en` or `zh`.
pub fn describe(cron: &Cron, lang: &str) -> Result<String, SpecError> {
    let lang = match lang.to_ascii_lowercase().as_str() {
        "en" => Lang::En,
        "zh" | "zh-cn" | "zh_cn" => Lang::Zh,
        other => {
            return Err(SpecError {
                path: "lang".into(),
                message: format!("{other:?} is not supported; allowed: en, zh"),
            });
        }
    };
    let mut phrases = Vec::new();
    match (
        single(&cron.second),
        single(&cron.minute),
        few_hours(&cron.hour),
    ) {
        (Some(s), Some(m), Some(hours)) => {
            let times: Vec<String> = hours.iter().map(|h| clock(*h, m, s)).collect();
            phrases.push(match lang {
                Lang::En => format!("At {}", list(&times, lang)),
                Lang::Zh => format!("在 {}", list(&times, lang)),
            });
        }
        _ => {
            if cron.second != [Part::Value(0)] {
                phrases.extend(time_phrase(&cron.second, Kind::Second, lang));
            }
            match (single(&cron.minute), &cron.hour[..]) {
                // A fixed minute of every hour.
                (Some(m), [Part::Every]) => phrases.push(match lang {
                    Lang::En => format!("at {m} minutes past the hour"),
                    Lang::Zh => format!("每小时的第{m}分钟"),
                }),
                _ => {
                    phrases.extend(time_phrase(&cron.minute, Kind::Minute, lang));
                    if cron.hour != [Part::Every] {
                        phrases.extend(
                            hour_spans(&cron.hour, lang)
                                .or_else(|| time_phrase(&cron.hour, Kind::Hour, lang)),
                        );
                    }
                }
            }
        }
    }
    let dom = day_of_month_phrase(&cron.day_of_month, cron.dialect, lang);
    let dow = day_of_week_phrase(&cron.day_of_week, cron.dialect, lang);
    match (dom, dow) {
        // Unix ORs two restricted day fields.
        (Some(dom), Some(dow)) if either_day(cron) => phrases.push(match lang {
            Lang::En => format!("{dom}, or {dow}"),
            Lang::Zh => format!("{dom}，或{dow}"),
        }),
        (dom, dow) => phrases.extend(dom.into_iter().chain(dow)),
    }
    phrases.extend(month_phrase(&cron.month, lang));
    if let Some(year) = &cron.year {
        phrases.extend(year_phrase(year, lang));
    }
    let mut text = phrases.join(if lang == Lang::En { ", " } else { "，" });
    if let Some(first) = text.get(..1) {
        let upper = first.to_ascii_uppercase();
        text.replace_range(..1, &upper);
    }
    Ok(text)
}

/// What a description says, as sets of values, for tests to hold fire times against: the
/// runs the words are made of, and the days as the words define them.
#[cfg(test)]
pub(super) mod claims {
    use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

    use super::{Cron, Dialect, Kind, Part, either_day, field_runs};

    fn stated(parts: &[Part], kind: Kind, dialect: Dialect, value: u32) -> bool {
        field_runs(parts, kind, dialect)
            .iter()
            .any(|r| r.values().any(|v| v == value))
    }

    fn month_days(date: NaiveDate) -> impl Iterator<Item = NaiveDate> {
        let first = date.with_day(1).unwrap();
        first
            .iter_days()
            .take_while(move |d| d.month() == first.month())
    }

    /// "the weekday nearest day n": the Monday-to-Friday day of the month closest to it,
    /// the earlier one on a tie.
    fn nearest_weekday(date: NaiveDate, target: u32) -> bool {
        let best = month_days(date)
            .filter(|d| d.weekday().number_from_monday() <= 5)
            .min_by_key(|d| (d.day().abs_diff(target), d.day()));
        best == Some(date)
    }

    fn last(date: NaiveDate) -> u32 {
        month_days(date).last().unwrap().day()
    }

    fn day_of_month(cron: &Cron, date: NaiveDate) -> Option<bool> {
        if matches!(cron.day_of_month[..], [Part::Every] | [Part::Any]) {
            return None;
        }
        let last = last(date);
        Some(cron.day_of_month.iter().any(|p| match *p {
            Part::Last(n) => date.day() + n == last,
            Part::LastWeekday(n) => n < last && nearest_weekday(date, last - n),
            Part::NearestWeekday(d) => nearest_weekday(date, d.min(last)),
            ref p => stated(&[*p], Kind::DayOfMonth, cron.dialect, date.day()),
        }))
    }

    fn day_of_week(cron: &Cron, date: NaiveDate) -> Option<bool> {
        if matches!(cron.day_of_week[..], [Part::Every] | [Part::Any]) {
            return None;
        }
        let name = date.weekday().num_days_from_sunday() as usize;
        let is = |v: u32| super::weekday(v, cron.dialect) == name;
        let (_, hi) = Kind::DayOfWeek.range(cron.dialect);
        Some(cron.day_of_week.iter().any(|p| match *p {
            Part::LastOf(v) => is(v) && date.day() + 7 > last(date),
            Part::Nth(v, n) => is(v) && date.day() > (n - 1) * 7 && date.day() <= n * 7,
            ref p => (0..=hi).any(|v| is(v) && stated(&[*p], Kind::DayOfWeek, cron.dialect, v)),
        }))
    }

    /// Whether what the description says allows this local time.
    pub fn allow(cron: &Cron, at: NaiveDateTime) -> bool {
        let d = cron.dialect;
        let date = at.date();
        let days = match (day_of_month(cron, date), day_of_week(cron, date)) {
            (Some(a), Some(b)) if either_day(cron) => a || b,
            (a, b) => a.unwrap_or(true) && b.unwrap_or(true),
        };
        days && stated(&cron.second, Kind::Second, d, at.second())
            && stated(&cron.minute, Kind::Minute, d, at.minute())
            && stated(&cron.hour, Kind::Hour, d, at.hour())
            && stated(&cron.month, Kind::Month, d, date.month())
            && cron
                .year
                .as_ref()
                .is_none_or(|y| stated(y, Kind::Year, d, date.year() as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn en(expr: &str) -> String {
        describe(&parse(expr, None).unwrap(), "en").unwrap()
    }

    fn zh(expr: &str) -> String {
        describe(&parse(expr, None).unwrap(), "zh").unwrap()
    }

    #[test]
    fn english() {
        assert_eq!(en("0 30 2 1 * ?"), "At 02:30, on day 1 of the month");
        assert_eq!(en("30 2 1 * *"), "At 02:30, on day 1 of the month");
        assert_eq!(
            en("0 15 10 ? * MON-FRI"),
            "At 10:15, only on Monday through Friday"
        );
        assert_eq!(
            en("0 0/5 14 * * ?"),
            "Every 5 minutes, between 14:00 and 14:59"
        );
        assert_eq!(
            en("0 10/15 * * * ?"),
            "Every 15 minutes, minutes 10 through 55"
        );
        assert_eq!(en("*/5 * * * *"), "Every 5 minutes");
        assert_eq!(
            en("0 0 12 ? * 6#3"),
            "At 12:00, on the third Friday of the month"
        );
        assert_eq!(en("0 0 12 L * ?"), "At 12:00, on the last day of the month");
        assert_eq!(
            en("0 0 12 ? * 6L"),
            "At 12:00, on the last Friday of the month"
        );
        assert_eq!(
            en("0 0 9 15W * ?"),
            "At 09:00, on the weekday nearest day 15 of the month"
        );
        assert_eq!(
            en("0 0 8,20 * * ? 2025"),
            "At 08:00 and 20:00, only in 2025"
        );
        assert_eq!(
            en("0 0 0 1 1,7 ?"),
            "At 00:00, on day 1 of the month, only in January and July"
        );
        assert_eq!(en("15 * * * *"), "At 15 minutes past the hour");
        assert_eq!(en("* * * * * ?"), "Every second, every minute");
        assert_eq!(
            en("0 0 13 * 5"),
            "At 00:00, on day 13 of the month, or only on Friday"
        );
        // With day-of-week starting with *, Vixie cron wants both days.
        assert_eq!(
            en("0 0 13 * */2"),
            "At 00:00, on day 13 of the month, only on Sunday, Tuesday, Thursday and Saturday"
        );
    }

    #[test]
    fn steps_say_the_values_they_land_on() {
        // Quartz FRI/2 runs from Friday by 2 up to Saturday: Fridays only.
        assert_eq!(en("0 0 12 ? * FRI/2"), "At 12:00, only on Friday");
        assert_eq!(zh("0 0 12 ? * FRI/2"), "在 12:00，仅星期五");
        // Quartz 1 = Sunday.
        assert_eq!(
            en("0 0 12 ? * 1-5/2"),
            "At 12:00, only on Sunday, Tuesday and Thursday"
        );
        assert_eq!(zh("0 0 12 ? * 1-5/2"), "在 12:00，仅星期日、星期二和星期四");
        assert_eq!(
            en("0 0 12 2/3 * ?"),
            "At 12:00, every 3 days from day 2 through day 29 of the month"
        );
        assert_eq!(zh("0 0 12 2/3 * ?"), "在 12:00，每月从2日起每3天，至29日");
        assert_eq!(
            en("0 0 12 1/15 * ?"),
            "At 12:00, on day 1, 16 and 31 of the month"
        );
        assert_eq!(
            en("0 0 12 1 3/2 ?"),
            "At 12:00, on day 1 of the month, every 2 months from March through November"
        );
        assert_eq!(
            zh("0 0 12 1 3/2 ?"),
            "在 12:00，每月1日，从三月起每2个月，至十一月"
        );
        assert_eq!(
            en("0 0 12 1 4/4 ?"),
            "At 12:00, on day 1 of the month, only in April, August and December"
        );
        assert_eq!(en("*/7 * * * *"), "Every 7 minutes, minutes 0 through 56");
        assert_eq!(en("0 /5 * * * ?"), "Every 5 minutes");
        assert_eq!(en("0 0 8/6 * * ?"), "At 08:00, 14:00 and 20:00");
        assert_eq!(
            en("0 0 0 1 * ? 2025/5"),
            "At 00:00, on day 1 of the month, only in every 5 years from 2025 through 2095"
        );
    }

    #[test]
    fn new_quartz_forms_in_words() {
        assert_eq!(
            en("0 0 12 L-3W * ?"),
            "At 12:00, on the weekday nearest 3 days before the last day of the month"
        );
        assert_eq!(
            zh("0 0 12 L-3W * ?"),
            "在 12:00，每月离最后一天前3天最近的工作日"
        );
        assert_eq!(
            en("0 0 9 ? * FRI-MON"),
            "At 09:00, only on Friday through Monday"
        );
        assert_eq!(zh("0 0 9 ? * FRI-MON"), "在 09:00，仅星期五至星期一");
        assert_eq!(
            en("0 0 9 1 NOV-FEB ?"),
            "At 09:00, on day 1 of the month, only in November through February"
        );
        // A wrapped hour range is two spans of the same day.
        assert_eq!(
            en("0 30 13-0 * * ?"),
            "At minute 30, between 13:00 and 23:59 and between 00:00 and 00:59"
        );
        assert_eq!(
            zh("0 30 13-0 * * ?"),
            "在第30分钟，在 13:00 至 23:59 和 00:00 至 00:59 之间"
        );
        assert_eq!(en("0 0 22-2/2 * * ?"), "At 22:00, 00:00 and 02:00");
        assert_eq!(
            en("0 0 0 28-3 * ?"),
            "At 00:00, between day 28 and 31 of the month and between day 1 and 3 of the month"
        );
        assert_eq!(
            en("0 0 * * MON-SUN"),
            "At 00:00, only on Monday through Sunday"
        );
    }

    #[test]
    fn chinese() {
        assert_eq!(zh("0 30 2 1 * ?"), "在 02:30，每月1日");
        assert_eq!(zh("0 15 10 ? * MON-FRI"), "在 10:15，仅星期一至星期五");
        assert_eq!(zh("0 0 12 ? * 6#3"), "在 12:00，每月第三个星期五");
        assert_eq!(zh("0 0 12 L * ?"), "在 12:00，每月最后一天");
        assert_eq!(zh("*/5 * * * *"), "每5分钟");
        assert_eq!(zh("0 0 0 1 1,7 ?"), "在 00:00，每月1日，仅在一月和七月");
        assert!(
            describe(&parse("* * * * *", None).unwrap(), "fr")
                .unwrap_err()
                .to_string()
                .starts_with("lang: \"fr\" is not supported")
        );
    }
}
