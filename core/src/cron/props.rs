//! Property tests of the cron module: for structured random Quartz and Unix expressions,
//! instants and zones, the fire times found forwards and backwards are the same, and the
//! description never says something the fire times contradict.
//!
//! Plain `cargo test` runs 1000 cases per property; `PROPTEST_CASES=20000` searches longer.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use proptest::sample::select;

use super::describe::claims;
use super::{Cron, parse};

fn config() -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(1000)
    }
}

const ZONES: [&str; 4] = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// How a field's values may be written.
#[derive(Clone, Copy)]
struct Field {
    lo: u32,
    hi: u32,
    max_step: u32,
    /// Ranges may run over the end (Quartz).
    wraps: bool,
    /// `/n` alone is a step from the first value (Quartz).
    bare_step: bool,
    names: Option<&'static [&'static str]>,
}

fn value(f: Field) -> BoxedStrategy<String> {
    let number = (f.lo..=f.hi).prop_map(|v| v.to_string());
    match f.names {
        Some(names) => prop_oneof![
            number,
            select(names).prop_map(|n| n.to_owned()),
            // Lower case names are names too.
            select(names).prop_map(|n| n.to_ascii_lowercase()),
        ]
        .boxed(),
        None => number.boxed(),
    }
}

fn range(f: Field) -> BoxedStrategy<String> {
    (f.lo..=f.hi, f.lo..=f.hi)
        .prop_map(move |(a, b)| {
            let (a, b) = if f.wraps {
                (a, b)
            } else {
                (a.min(b), a.max(b))
            };
            format!("{a}-{b}")
        })
        .boxed()
}

fn item(f: Field) -> BoxedStrategy<String> {
    let step = 1..=f.max_step;
    let mut items = vec![
        value(f),
        range(f),
        (f.lo..=f.hi, step.clone())
            .prop_map(|(a, s)| format!("{a}/{s}"))
            .boxed(),
        (range(f), step.clone())
            .prop_map(|(r, s)| format!("{r}/{s}"))
            .boxed(),
        step.clone().prop_map(|s| format!("*/{s}")).boxed(),
    ];
    if f.bare_step {
        items.push(step.prop_map(|s| format!("/{s}")).boxed());
    }
    proptest::strategy::Union::new(items).boxed()
}

/// `*`, or one to three items.
fn field(f: Field, extra: Option<BoxedStrategy<String>>) -> BoxedStrategy<String> {
    let one = match extra {
        Some(extra) => prop_oneof![3 => item(f), 1 => extra].boxed(),
        None => item(f),
    };
    prop_oneof![
        1 => Just("*".to_owned()),
        4 => proptest::collection::vec(one, 1..=3).prop_map(|items| items.join(",")),
    ]
    .boxed()
}

fn quartz_field(lo: u32, hi: u32, max_step: u32) -> Field {
    Field {
        lo,
        hi,
        max_step,
        wraps: true,
        bare_step: true,
        names: None,
    }
}

fn quartz() -> impl Strategy<Value = String> {
    let dom_special = prop_oneof![
        Just("L".to_owned()),
        Just("LW".to_owned()),
        (1..=30u32).prop_map(|n| format!("L-{n}")),
        (1..=30u32).prop_map(|n| format!("L-{n}W")),
        (1..=31u32).prop_map(|n| format!("{n}W")),
    ]
    .boxed();
    let dow_special = prop_oneof![
        (1..=7u32).prop_map(|d| format!("{d}L")),
        (1..=7u32, 1..=5u32).prop_map(|(d, n)| format!("{d}#{n}")),
        Just("L".to_owned()),
    ]
    .boxed();
    let dom = prop_oneof![
        3 => field(quartz_field(1, 31, 31), None),
        1 => dom_special.clone(),
    ];
    let months = Field {
        names: Some(&MONTHS),
        ..quartz_field(1, 12, 12)
    };
    let days = Field {
        names: Some(&DAYS),
        ..quartz_field(1, 7, 7)
    };
    let dow = prop_oneof![
        3 => field(days, None),
        1 => dow_special,
    ];
    let year = Field {
        wraps: false,
        ..quartz_field(2000, 2060, 20)
    };
    (
        field(quartz_field(0, 59, 59), None),
        field(quartz_field(0, 59, 59), None),
        field(quartz_field(0, 23, 23), None),
        dom,
        field(months, None),
        dow,
        any::<bool>(),
        proptest::option::of(field(year, None)),
    )
        .prop_map(|(s, m, h, dom, mon, dow, day_of_month, year)| {
            // One of the day fields is "?".
            let (dom, dow) = if day_of_month {
                (dom, "?".to_owned())
            } else {
                ("?".to_owned(), dow)
            };
            let mut expr = format!("{s} {m} {h} {dom} {mon} {dow}");
            if let Some(year) = year {
                expr.push(' ');
                expr.push_str(&year);
            }
            expr
        })
}

fn unix_field(lo: u32, hi: u32, max_step: u32) -> Field {
    Field {
        lo,
        hi,
        max_step,
        wraps: false,
        bare_step: false,
        names: None,
    }
}

fn unix() -> impl Strategy<Value = String> {
    let months = Field {
        names: Some(&MONTHS),
        ..unix_field(1, 12, 12)
    };
    let days = Field {
        names: Some(&DAYS),
        ..unix_field(0, 7, 7)
    };
    // Vixie cron reads SUN at the end of a range as 7.
    let to_sunday = (1..=6u32)
        .prop_map(|d| format!("{}-SUN", DAYS[d as usize]))
        .boxed();
    prop_oneof![
        8 => (
            field(unix_field(0, 59, 59), None),
            field(unix_field(0, 23, 23), None),
            field(unix_field(1, 31, 31), None),
            field(months, None),
            field(days, Some(to_sunday)),
        )
            .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}")),
        1 => select(&["@yearly", "@monthly", "@weekly", "@daily", "@hourly"][..])
            .prop_map(|m| m.to_owned()),
    ]
}

fn expression() -> impl Strategy<Value = (String, Cron)> {
    prop_oneof![quartz(), unix()].prop_map(|expr| {
        let cron = parse(&expr, None).unwrap_or_else(|e| panic!("{expr}: {e}"));
        (expr, cron)
    })
}

/// An instant between 1990 and 2060.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (631_152_000i64..2_871_763_200).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn zone() -> impl Strategy<Value = Tz> {
    select(&ZONES[..]).prop_map(|z| z.parse().unwrap())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn next_and_prev_find_the_same_fire_times(
        (expr, cron) in expression(),
        t in instant(),
        tz in zone(),
    ) {
        let fires = cron.next_fires(t, tz, 20);
        prop_assert!(fires.windows(2).all(|w| w[0] < w[1]), "{expr}: {fires:?}");
        let before = cron.prev_fires(t, tz, 1);
        if let Some(&first) = fires.first() {
            prop_assert!(first > t, "{expr}");
            // prev(next(t)) <= t < next(t)
            let back = cron.prev_fires(first, tz, 1);
            if let Some(&p) = back.first() {
                prop_assert!(p <= t, "{expr}: prev({first}) = {p}, after {t}");
                prop_assert_eq!(cron.next_fires(p, tz, 1), vec![first], "{}", expr);
            }
            // The same fire times backwards over the window.
            let last = *fires.last().unwrap();
            let mut window = cron.prev_fires(last + Duration::seconds(1), tz, fires.len());
            window.reverse();
            prop_assert_eq!(&window, &fires, "{}", expr);
        }
        if let Some(&b) = before.first() {
            prop_assert!(b < t, "{expr}");
            let after_b = cron.next_fires(b, tz, 1);
            // The fire after it is t itself or the first after t.
            prop_assert!(
                after_b.first().is_none_or(|n| *n >= t)
                    && fires.first().is_none_or(|f| after_b.first().is_some_and(|n| n <= f)),
                "{expr}: next({b}) = {after_b:?}, t = {t}, next(t) = {fires:?}"
            );
        }
    }

    #[test]
    fn descriptions_never_contradict_the_fire_times(
        (expr, cron) in expression(),
        t in instant(),
        tz in zone(),
    ) {
        for lang in ["en", "zh"] {
            let text = super::describe(&cron, lang).unwrap();
            prop_assert!(!text.is_empty(), "{expr}");
        }
        for fire in cron.next_fires(t, tz, 50) {
            let local = fire.with_timezone(&tz).naive_local();
            prop_assert!(
                claims::allow(&cron, local),
                "{expr} fires at {local}, which \"{}\" does not allow",
                super::describe(&cron, "en").unwrap()
            );
        }
    }
}
