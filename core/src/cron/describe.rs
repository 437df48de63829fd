//! Cron expressions in words (`sched.cron_describe`), in English and Chinese, in the manner
//! of cron-expression-descriptor: "At 02:30, on day 1 of the month".

use super::{Cron, Dialect, Part};
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

/// The phrase of a time field: seconds, minutes or hours.
fn time_phrase(parts: &[Part], unit: &str, unit_zh: &str, lang: Lang) -> Option<String> {
    // 0/5 is */5.
    let parts: &[Part] = match parts {
        [
            Part::Step {
                from: 0,
                to: None,
                step,
                ..
            },
        ] => &[Part::Step {
            from: 0,
            to: None,
            step: *step,
            star: true,
        }],
        other => other,
    };
    let values: Vec<String> = parts
        .iter()
        .filter_map(|p| match *p {
            Part::Value(v) => Some(v.to_string()),
            Part::Range(a, b) => Some(match lang {
                Lang::En => format!("{a} through {b}"),
                Lang::Zh => format!("{a}至{b}"),
            }),
            _ => None,
        })
        .collect();
    match (parts, lang) {
        ([Part::Every], Lang::En) => Some(format!("every {unit}")),
        ([Part::Every], Lang::Zh) => Some(format!("每{unit_zh}")),
        (
            [
                Part::Step {
                    step, star: true, ..
                },
            ],
            Lang::En,
        ) => Some(format!("every {step} {unit}s")),
        (
            [
                Part::Step {
                    step, star: true, ..
                },
            ],
            Lang::Zh,
        ) => Some(format!("每{step}{unit_zh}")),
        ([Part::Step { from, to, step, .. }], Lang::En) => Some(format!(
            "every {step} {unit}s, {unit}s {from} through {}",
            to.map_or_else(
                || if unit == "hour" {
                    "23".to_owned()
                } else {
                    "59".to_owned()
                },
                |t| t.to_string()
            )
        )),
        ([Part::Step { from, to, step, .. }], Lang::Zh) => Some(format!(
            "从第{from}{unit_zh}起每{step}{unit_zh}{}",
            to.map_or(String::new(), |t| format!("，至第{t}{unit_zh}"))
        )),
        (_, Lang::En) if !values.is_empty() => Some(format!("at {unit} {}", list(&values, lang))),
        (_, Lang::Zh) if !values.is_empty() => {
            Some(format!("在第{}{unit_zh}", list(&values, lang)))
        }
        _ => None,
    }
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

fn day_of_month_phrase(parts: &[Part], lang: Lang) -> Option<String> {
    if matches!(parts, [Part::Every] | [Part::Any]) {
        return None;
    }
    let phrases: Vec<String> = parts
        .iter()
        .map(|p| match (*p, lang) {
            (Part::Value(d), Lang::En) => format!("on day {d} of the month"),
            (Part::Value(d), Lang::Zh) => format!("每月{d}日"),
            (Part::Range(a, b), Lang::En) => format!("between day {a} and {b} of the month"),
            (Part::Range(a, b), Lang::Zh) => format!("每月{a}日至{b}日"),
            (Part::Step { step, .. }, Lang::En) => format!("every {step} days"),
            (Part::Step { step, .. }, Lang::Zh) => format!("每{step}天"),
            (Part::Last(0), Lang::En) => "on the last day of the month".into(),
            (Part::Last(0), Lang::Zh) => "每月最后一天".into(),
            (Part::Last(n), Lang::En) => format!("{n} days before the last day of the month"),
            (Part::Last(n), Lang::Zh) => format!("每月最后一天的前{n}天"),
            (Part::LastWeekday, Lang::En) => "on the last weekday of the month".into(),
            (Part::LastWeekday, Lang::Zh) => "每月最后一个工作日".into(),
            (Part::NearestWeekday(d), Lang::En) => {
                format!("on the weekday nearest day {d} of the month")
            }
            (Part::NearestWeekday(d), Lang::Zh) => format!("每月离{d}日最近的工作日"),
            (_, _) => String::new(),
        })
        .filter(|p| !p.is_empty())
        .collect();
    Some(list(&phrases, lang))
}

fn day_of_week_phrase(parts: &[Part], dialect: Dialect, lang: Lang) -> Option<String> {
    if matches!(parts, [Part::Every] | [Part::Any]) {
        return None;
    }
    let mut days = Vec::new();
    let mut others = Vec::new();
    for p in parts {
        match (*p, lang) {
            (Part::Value(d), _) => days.push(day_name(d, dialect, lang)),
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
            (Part::Step { step, .. }, Lang::En) => {
                others.push(format!("every {step} days of the week"))
            }
            (Part::Step { step, .. }, Lang::Zh) => others.push(format!("每周每{step}天")),
            _ => {}
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
            (Part::Range(a, b), Lang::En) => names.push(format!(
                "{} through {}",
                month_name(a, lang),
                month_name(b, lang)
            )),
            (Part::Range(a, b), Lang::Zh) => {
                names.push(format!("{}至{}", month_name(a, lang), month_name(b, lang)))
            }
            (Part::Step { step, .. }, Lang::En) => others.push(format!("every {step} months")),
            (Part::Step { step, .. }, Lang::Zh) => others.push(format!("每{step}个月")),
            _ => {}
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
    let years: Vec<String> = parts
        .iter()
        .map(|p| match (*p, lang) {
            (Part::Value(y), Lang::En) => y.to_string(),
            (Part::Value(y), Lang::Zh) => format!("{y}年"),
            (Part::Range(a, b), Lang::En) => format!("{a} through {b}"),
            (Part::Range(a, b), Lang::Zh) => format!("{a}年至{b}年"),
            (Part::Step { step, .. }, Lang::En) => format!("every {step} years"),
            (Part::Step { step, .. }, Lang::Zh) => format!("每{step}年"),
            _ => String::new(),
        })
        .collect();
    Some(match lang {
        Lang::En => format!("only in {}", list(&years, lang)),
        Lang::Zh => format!("仅在{}", list(&years, lang)),
    })
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
    match (single(&cron.second), single(&cron.minute), &cron.hour[..]) {
        (Some(s), Some(m), hours) if hours.iter().all(|p| matches!(p, Part::Value(_))) => {
            let times: Vec<String> = hours
                .iter()
                .filter_map(|p| match p {
                    Part::Value(h) => Some(clock(*h, m, s)),
                    _ => None,
                })
                .collect();
            phrases.push(match lang {
                Lang::En => format!("At {}", list(&times, lang)),
                Lang::Zh => format!("在 {}", list(&times, lang)),
            });
        }
        _ => {
            if cron.second != [Part::Value(0)] {
                phrases.extend(time_phrase(&cron.second, "second", "秒", lang));
            }
            match (single(&cron.minute), &cron.hour[..]) {
                // A fixed minute of every hour.
                (Some(m), [Part::Every]) => phrases.push(match lang {
                    Lang::En => format!("at {m} minutes past the hour"),
                    Lang::Zh => format!("每小时的第{m}分钟"),
                }),
                _ => {
                    phrases.extend(time_phrase(&cron.minute, "minute", "分钟", lang));
                    match &cron.hour[..] {
                        [Part::Every] => {}
                        [Part::Range(a, b)] => phrases.push(match lang {
                            Lang::En => format!("between {a:02}:00 and {b:02}:59"),
                            Lang::Zh => format!("在 {a:02}:00 至 {b:02}:59 之间"),
                        }),
                        [Part::Value(h)] => phrases.push(match lang {
                            Lang::En => format!("between {h:02}:00 and {h:02}:59"),
                            Lang::Zh => format!("在 {h:02}:00 至 {h:02}:59 之间"),
                        }),
                        hours => phrases.extend(time_phrase(hours, "hour", "小时", lang)),
                    }
                }
            }
        }
    }
    let dom = day_of_month_phrase(&cron.day_of_month, lang);
    let dow = day_of_week_phrase(&cron.day_of_week, cron.dialect, lang);
    match (dom, dow) {
        // Unix ORs two restricted day fields.
        (Some(dom), Some(dow))
            if cron.dialect == Dialect::Unix && !Cron::star(&cron.day_of_month) =>
        {
            phrases.push(match lang {
                Lang::En => format!("{dom}, or {dow}"),
                Lang::Zh => format!("{dom}，或{dow}"),
            })
        }
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
            "Every 15 minutes, minutes 10 through 59"
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
