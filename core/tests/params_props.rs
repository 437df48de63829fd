//! Property tests of parameter resolution: whatever text, parameters and business time it
//! is given, the answer is a resolved text or an error naming the field, never a panic.
//!
//! Plain `cargo test` runs 2000 cases per property. For a longer search:
//!
//! ```text
//! PROPTEST_CASES=200000 cargo test -p sched-core --test params_props
//! ```

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, TimeDelta};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use sched_core::{
    OutCapture, Param, ParamType, SpecError, resolve_params, resolve_params_over, resolve_template,
};

/// proptest puts PROPTEST_CASES into its default config, which a fixed case count would
/// override; 2000 applies only when the variable is unset.
fn config() -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(2000)
    }
}

/// Pieces that make up expressions and references, so that random texts often come close
/// to valid ones and reach deep into the evaluator.
const FRAGMENTS: &[&str] = &[
    "$[",
    "]",
    "${",
    "}",
    "{",
    "$",
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "'",
    "''",
    " ",
    "0",
    "1",
    "7",
    "24",
    "60",
    "9223372036854775807",
    "99999999999999999999",
    "yyyy",
    "yy",
    "MM",
    "MMMM",
    "dd",
    "D",
    "HH",
    "hh",
    "mm",
    "ss",
    "SSS",
    "EEEE",
    "a",
    "G",
    "uuuu",
    "Q",
    "w",
    "x",
    "T",
    "[",
    "add_months(",
    "month_begin(",
    "month_end(",
    "week_begin(",
    "week_end(",
    "month_first_day(",
    "month_last_day(",
    "week_first_day(",
    "week_last_day(",
    "this_day(",
    "last_day(",
    "year_week(",
    "timestamp(",
    "a",
    "b",
    "c",
    "system.biz.date",
    "é",
    "\n",
];

const NAMES: &[&str] = &["a", "b", "c", "d", "system.biz.date", "x.y"];

const PATTERN_PARTS: &[&str] = &[
    "yyyy", "MM", "dd", "HH", "mm", "ss", "-", ":", " ", "'T'", "EEE", "a", "D", "SSS", "u", "w",
    "x", "''",
];
const INTEGER_PARTS: &[&str] = &[
    "1",
    "2",
    "7",
    "24",
    "60",
    "0",
    "-",
    "+",
    "*",
    "/",
    "(",
    ")",
    "9223372036854775807",
];
const DATE_FUNCTIONS: &[&str] = &[
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
];

fn concat(parts: &'static [&'static str], len: std::ops::Range<usize>) -> BoxedStrategy<String> {
    prop::collection::vec(select(parts), len)
        .prop_map(|parts| parts.concat())
        .boxed()
}

/// Expressions of every form, mostly well formed, so that evaluation gets past parsing.
fn expression() -> impl Strategy<Value = String> {
    let pattern = || concat(PATTERN_PARTS, 1..5);
    let integer = || concat(INTEGER_PARTS, 1..6);
    let date = prop_oneof![
        pattern(),
        (pattern(), select(&["+", "-"][..]), integer()).prop_map(|(p, s, n)| format!("{p}{s}{n}")),
        (
            select(DATE_FUNCTIONS),
            pattern(),
            proptest::option::of(integer())
        )
            .prop_map(|(f, p, n)| match n {
                Some(n) => format!("{f}({p},{n})"),
                None => format!("{f}({p})"),
            }),
    ];
    prop_oneof![
        3 => date.clone(),
        1 => date.prop_map(|inner| format!("timestamp({inner})")),
        1 => (pattern(), proptest::option::of(integer())).prop_map(|(p, n)| match n {
            Some(n) => format!("year_week({p},{n})"),
            None => format!("year_week({p})"),
        }),
    ]
    .prop_map(|expr| format!("$[{expr}]"))
}

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => select(FRAGMENTS).prop_map(String::from),
        1 => expression(),
    ];
    prop_oneof![
        4 => prop::collection::vec(piece, 0..16).prop_map(|parts| parts.concat()),
        1 => any::<String>(),
    ]
}

/// Any time chrono can hold, with the extremes often, so that arithmetic reaches them.
fn business_time() -> impl Strategy<Value = NaiveDateTime> {
    let first = NaiveDateTime::MIN.and_utc().timestamp();
    let last = NaiveDateTime::MAX.and_utc().timestamp();
    prop_oneof![
        1 => Just(NaiveDateTime::MIN),
        1 => Just(NaiveDateTime::MAX),
        4 => (first..=last).prop_map(|seconds| {
            chrono::DateTime::from_timestamp(seconds, 0)
                .expect("within chrono's range")
                .naive_utc()
        }),
        4 => ordinary_date().prop_map(|date| date.and_hms_opt(12, 30, 0).expect("valid")),
    ]
}

fn ordinary_date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid");
    let last = NaiveDate::from_ymd_opt(2200, 12, 31).expect("valid");
    (0..=(last - first).num_days()).prop_map(move |days| first + TimeDelta::days(days))
}

fn param_type() -> impl Strategy<Value = ParamType> {
    select(ParamType::ALL)
}

fn params() -> impl Strategy<Value = BTreeMap<String, Param>> {
    let param = (text(), param_type()).prop_map(|(value, param_type)| Param { value, param_type });
    prop::collection::btree_map(select(NAMES).prop_map(String::from), param, 0..6)
}

fn values() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(select(NAMES).prop_map(String::from), text(), 0..4)
}

fn check_error(error: &SpecError, field: &str) -> Result<(), TestCaseError> {
    prop_assert!(error.path.starts_with(field), "{error:?}");
    prop_assert!(!error.message.is_empty(), "{error:?}");
    prop_assert_eq!(
        error.to_string(),
        format!("{}: {}", error.path, error.message)
    );
    Ok(())
}

fn eval(text: &str, at: NaiveDateTime) -> Result<String, SpecError> {
    resolve_template(text, &BTreeMap::new(), at, "t")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn resolve_template_never_panics(
        template in text(),
        values in values(),
        at in business_time(),
    ) {
        if let Err(error) = resolve_template(&template, &values, at, "tasks[0].script") {
            check_error(&error, "tasks[0].script")?;
        }
    }

    #[test]
    fn resolve_params_over_never_panics(params in params(), fixed in values(), at in business_time()) {
        match resolve_params_over(&params, &fixed, at, "tasks[0].params") {
            Ok(values) => prop_assert_eq!(values.len(), params.len()),
            Err(error) => check_error(&error, "tasks[0].params")?,
        }
    }

    #[test]
    fn capture_never_panics_and_keeps_printed_values(
        lines in proptest::collection::vec(
            concat(&["${setValue(", "#{setValue(", ")}", "=", "k", "v", "\u{e9}", " ", "${", "}"], 0..12), 0..8),
        key in "[a-z]{1,8}",
        value in "[a-z0-9 ]{0,8}",
    ) {
        let declared = sched_core::parse_out(&serde_json::json!([key]), "out").unwrap();
        let mut capture = OutCapture::new(declared);
        for line in &lines {
            capture.line(line);
        }
        // An unclosed setValue takes in the following lines until a ")}", as in DS.
        capture.line(")}");
        capture.line(&format!("x ${{setValue({key}={value})}}"));
        prop_assert_eq!(capture.values().get(&key), Some(&value));
    }

    #[test]
    fn resolve_params_never_panics(params in params(), at in business_time()) {
        match resolve_params(&params, at, "params") {
            Ok(values) => {
                prop_assert_eq!(values.keys().collect::<Vec<_>>(), params.keys().collect::<Vec<_>>());
            }
            Err(error) => check_error(&error, "params")?,
        }
    }

    #[test]
    fn text_without_dollar_is_unchanged(
        text in any::<String>().prop_map(|t| t.replace('$', "")),
        values in values(),
        at in business_time(),
    ) {
        prop_assert_eq!(resolve_template(&text, &values, at, "t").unwrap(), text.clone());
        let params = BTreeMap::from([(
            "p".to_owned(),
            Param { value: text.clone(), param_type: ParamType::Varchar },
        )]);
        prop_assert_eq!(&resolve_params(&params, at, "params").unwrap()["p"], &text);
    }

    #[test]
    fn plain_patterns_agree_with_chrono(
        date in ordinary_date(),
        seconds in 0u32..86_400,
    ) {
        let at = date.and_hms_opt(seconds / 3600, seconds / 60 % 60, seconds % 60).expect("valid");
        let cases = [
            ("$[yyyyMMdd]", "%Y%m%d"),
            ("$[yyyy-MM-dd HH:mm:ss]", "%Y-%m-%d %H:%M:%S"),
            ("$[EEEE EEE MMMM MMM]", "%A %a %B %b"),
            ("$[DDD hh a]", "%j %I %p"),
        ];
        for (expr, strftime) in cases {
            prop_assert_eq!(eval(expr, at).unwrap(), at.format(strftime).to_string(), "{}", expr);
        }
    }

    #[test]
    fn offsets_agree_with_chrono(
        date in ordinary_date(),
        days in -20_000i64..20_000,
        months in -2_000i64..2_000,
        hours in -1_000i64..1_000,
    ) {
        let at = date.and_hms_opt(13, 45, 10).expect("valid");
        let shifted = |delta: TimeDelta| (at + delta).format("%Y%m%d%H%M%S").to_string();
        let sign = |n: i64| if n < 0 { "-" } else { "+" };
        let full = "yyyyMMddHHmmss";
        prop_assert_eq!(
            eval(&format!("$[{full}{}{}]", sign(days), days.abs()), at).unwrap(),
            shifted(TimeDelta::days(days))
        );
        prop_assert_eq!(
            eval(&format!("$[{full}{}{}/24]", sign(hours), hours.abs()), at).unwrap(),
            shifted(TimeDelta::hours(hours))
        );
        prop_assert_eq!(
            eval(&format!("$[{full}{}7*{}]", sign(days), days.abs() / 7), at).unwrap(),
            shifted(TimeDelta::weeks(days.signum() * (days.abs() / 7)))
        );
        let moved = if months >= 0 {
            at.checked_add_months(Months::new(months as u32))
        } else {
            at.checked_sub_months(Months::new(months.unsigned_abs() as u32))
        }
        .expect("within range");
        prop_assert_eq!(
            eval(&format!("$[add_months({full},{months})]"), at).unwrap(),
            moved.format("%Y%m%d%H%M%S").to_string()
        );
        prop_assert_eq!(
            eval(&format!("$[timestamp({full}{}{})]", sign(days), days.abs()), at).unwrap(),
            (at + TimeDelta::days(days)).and_utc().timestamp().to_string()
        );
    }

    /// Weeks starting Monday with at least four days in week 1 are ISO weeks; the year
    /// shown is the calendar year, as in DolphinScheduler.
    #[test]
    fn year_week_is_the_iso_week_with_the_calendar_year(date in ordinary_date()) {
        let at = date.and_hms_opt(8, 0, 0).expect("valid");
        prop_assert_eq!(
            eval("$[year_week(yyyy-MM-dd)]", at).unwrap(),
            format!("{}-{:02}", date.year(), date.iso_week().week())
        );
    }

    #[test]
    fn huge_offsets_are_errors(
        function in select(&[
            "add_months", "month_begin", "month_end", "week_begin", "week_end",
            "month_first_day", "month_last_day", "week_first_day", "week_last_day",
        ][..]),
        negative in any::<bool>(),
        digits in "[1-9][0-9]{9,30}",
        times in proptest::option::of("[1-9][0-9]{0,24}"),
        at in business_time(),
    ) {
        let sign = if negative { "-" } else { "" };
        let tail = times.map(|n| format!("*{n}")).unwrap_or_default();
        let expr = format!("$[{function}(yyyyMMdd,{sign}{digits}{tail})]");
        let error = eval(&expr, at).expect_err("an offset of 10^9 or more is out of range");
        check_error(&error, "t")?;
        let days = format!("$[yyyyMMdd{}{digits}{tail}]", if negative { "-" } else { "+" });
        prop_assert!(eval(&days, at).is_err(), "{}", days);
    }
}
