use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use sched_core::{
    OutCapture, Param, ParamType, SpecError, builtins, has_placeholders, merge, parse_out,
    parse_params, resolve_params, resolve_params_over, resolve_template, upstream_values,
};
use serde_json::{Value, json};

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// The business time of the reference's example table, a Friday.
fn d() -> NaiveDateTime {
    at("2024-03-15 02:30:00")
}

fn eval_at(text: &str, time: NaiveDateTime) -> Result<String, SpecError> {
    resolve_template(text, &BTreeMap::new(), time, "t")
}

fn eval(text: &str) -> String {
    eval_at(text, d()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn eval_error(text: &str) -> String {
    eval_at(text, d())
        .expect_err("expression should be rejected")
        .to_string()
}

fn assert_evals(cases: &[(&str, &str)], time: NaiveDateTime) {
    for (expr, expected) in cases {
        assert_eq!(
            eval_at(expr, time).unwrap_or_else(|e| panic!("{expr}: {e}")),
            *expected,
            "{expr} at {time}"
        );
    }
}

fn params(value: Value) -> BTreeMap<String, Param> {
    parse_params(&value, "params").unwrap()
}

fn resolve(value: Value) -> Result<BTreeMap<String, String>, SpecError> {
    resolve_params(&params(value), d(), "params")
}

fn resolved(value: Value) -> BTreeMap<String, String> {
    resolve(value).unwrap()
}

fn resolve_error(value: Value) -> String {
    resolve(value).expect_err("should be rejected").to_string()
}

fn varchar(value: &str) -> Param {
    Param {
        value: value.into(),
        param_type: ParamType::Varchar,
    }
}

// DolphinScheduler's table of date expressions, with D = 2024-03-15 02:30:00.

#[test]
fn reference_examples_plain_pattern_and_day_offsets() {
    assert_evals(
        &[
            ("$[yyyyMMdd]", "20240315"),
            ("$[yyyyMMdd-1]", "20240314"),
            ("$[yyyy-MM-dd+7]", "2024-03-22"),
            ("$[HHmmss-1/24]", "013000"),
            ("$[HHmm+30/24/60]", "0300"),
            ("$[yyyyMMdd-7*2]", "20240301"),
        ],
        d(),
    );
}

#[test]
fn reference_examples_month_functions() {
    assert_evals(
        &[
            ("$[add_months(yyyyMMdd,-1)]", "20240215"),
            ("$[add_months(yyyyMMdd,12*1)]", "20250315"),
            ("$[month_first_day(yyyy-MM-dd,-1)]", "2024-02-01"),
            ("$[month_last_day(yyyy-MM-dd,-1)]", "2024-02-29"),
            ("$[month_begin(yyyyMMdd,0)]", "20240301"),
            ("$[month_end(yyyyMMdd,-1)]", "20240330"),
        ],
        d(),
    );
}

#[test]
fn reference_examples_week_and_day_functions() {
    assert_evals(
        &[
            ("$[week_first_day(yyyy-MM-dd,0)]", "2024-03-11"),
            ("$[week_last_day(yyyy-MM-dd,-1)]", "2024-03-10"),
            ("$[this_day(yyyy-MM-dd)]", "2024-03-15"),
            ("$[last_day(yyyy-MM-dd)]", "2024-03-14"),
            ("$[year_week(yyyy-MM-dd)]", "2024-11"),
            ("$[year_week(yyyyMMdd)]", "202411"),
        ],
        d(),
    );
}

#[test]
fn reference_pitfall_dash_splits_only_before_a_digit() {
    assert_eq!(eval("$[yyyy-MM-dd]"), "2024-03-15");
    assert_eq!(eval("$[yyyy-MM-dd-1]"), "2024-03-14");
    assert_eq!(eval("$[HH:mm-2/24]"), "00:30");
    // The split is at the last '+', so an offset in parentheses is no offset at all, and
    // one with a '+' inside is split there; DolphinScheduler reads both the same way.
    assert_eq!(eval("$[yyyyMMdd+(2*1)]"), "20240315+(2*1)");
    assert!(eval_error("$[yyyyMMdd+(1+1)]").contains("\"1)\" is not a number of days"));
}

/// DolphinScheduler's own test of `convertParameterPlaceholders` (ParameterUtilsTest),
/// including the lone digits it leaves alone.
#[test]
fn dolphinscheduler_parameter_utils_test_string() {
    let template = "${user} is userName, '$[1]' '$[add_months(yyyyMMdd,12*2)]' \
        '$[add_months(yyyyMMdd,-12*2)]' '$[add_months(yyyyMMdd,3)]' '$[add_months(yyyyMMdd,-4)]' \
        '$[yyyyMMdd+7*2]' '$[yyyyMMdd-7*2]'  '$[yyyyMMdd+3]'  '$[0]' '$[yyyyMMdd-3]' \
        '$[HHmmss+2/24]' '$[HHmmss-1/24]' '$[HHmmss+3/24/60]' '$[HHmmss-2/24/60]'  '$[3]'";
    let values = BTreeMap::from([("user".to_owned(), "Kris".to_owned())]);
    let out = resolve_template(template, &values, at("2020-12-01 12:30:00"), "t").unwrap();
    assert_eq!(
        out,
        "Kris is userName, '$[1]' '20221201' '20181201' '20210301' '20200801' '20201215' \
         '20201117'  '20201204'  '$[0]' '20201128' '143000' '113000' '123300' '122800'  '$[3]'"
    );
}

/// The examples of DolphinScheduler's built-in parameter documentation, D = 2022-08-26.
#[test]
fn dolphinscheduler_documentation_examples() {
    assert_evals(
        &[
            ("$[this_day(yyyy-MM-dd)]", "2022-08-26"),
            ("$[last_day(yyyy-MM-dd)]", "2022-08-25"),
            ("$[year_week(yyyy-MM-dd)]", "2022-34"),
            ("$[year_week(yyyy-MM-dd,5)]", "2022-35"),
            ("$[year_week(yyyyMMdd,5)]", "202235"),
            ("$[month_first_day(yyyy-MM-dd,-1)]", "2022-07-01"),
            ("$[month_last_day(yyyy-MM-dd,-1)]", "2022-07-31"),
            ("$[week_first_day(yyyy-MM-dd,-1)]", "2022-08-15"),
            ("$[week_last_day(yyyy-MM-dd,-1)]", "2022-08-21"),
            ("$[week_first_day(yyyyMMdd,0)]", "20220822"),
            ("$[week_last_day(yyyyMMdd,0)]", "20220828"),
        ],
        at("2022-08-26 00:00:00"),
    );
}

// Month ends and leap years.

#[test]
fn add_months_clamps_to_the_end_of_the_month() {
    assert_evals(
        &[
            ("$[add_months(yyyy-MM-dd,1)]", "2024-02-29"),
            ("$[add_months(yyyy-MM-dd,13)]", "2025-02-28"),
            ("$[add_months(yyyy-MM-dd,-2)]", "2023-11-30"),
            ("$[add_months(yyyy-MM-dd HH:mm,3)]", "2024-04-30 23:59"),
        ],
        at("2024-01-31 23:59:00"),
    );
    assert_evals(
        &[("$[add_months(yyyy-MM-dd,1)]", "2023-02-28")],
        at("2023-01-31 00:00:00"),
    );
    assert_evals(
        &[("$[add_months(yyyy-MM-dd,-1)]", "2024-02-29")],
        at("2024-03-31 00:00:00"),
    );
}

#[test]
fn month_end_in_february_of_leap_and_common_years() {
    for (time, last) in [
        ("2024-02-10 08:00:00", "20240229"),
        ("2023-02-10 08:00:00", "20230228"),
        ("2000-02-01 08:00:00", "20000229"),
        ("1900-02-28 08:00:00", "19000228"),
    ] {
        assert_evals(
            &[
                ("$[month_end(yyyyMMdd,0)]", last),
                ("$[month_last_day(yyyyMMdd)]", last),
                ("$[month_last_day(yyyyMMdd,0)]", last),
            ],
            at(time),
        );
    }
    assert_evals(
        &[
            ("$[month_end(yyyyMMdd,1)]", "20240301"),
            ("$[month_begin(yyyyMMdd,-1)]", "20240131"),
            ("$[month_last_day(yyyyMMdd,1)]", "20240331"),
            ("$[month_first_day(yyyyMMdd,12)]", "20250201"),
            ("$[month_end(yyyyMMdd HHmm,0)]", "20240229 0800"),
        ],
        at("2024-02-10 08:00:00"),
    );
}

#[test]
fn leap_day_offsets() {
    assert_evals(
        &[
            ("$[yyyyMMdd+1]", "20240301"),
            ("$[yyyyMMdd-365]", "20230301"),
            ("$[add_months(yyyyMMdd,12)]", "20250228"),
            ("$[add_months(yyyyMMdd,48)]", "20280229"),
            ("$[D]", "60"),
        ],
        at("2024-02-29 12:00:00"),
    );
}

// Weeks run Monday to Sunday.

#[test]
fn week_functions_when_d_is_a_sunday() {
    assert_evals(
        &[
            ("$[week_begin(yyyyMMdd,0)]", "20240311"),
            ("$[week_end(yyyyMMdd,0)]", "20240317"),
            ("$[week_first_day(yyyyMMdd)]", "20240311"),
            ("$[week_last_day(yyyyMMdd)]", "20240317"),
            ("$[week_first_day(yyyyMMdd,1)]", "20240318"),
            ("$[week_begin(yyyyMMdd,-1)]", "20240310"),
            ("$[EEEE]", "Sunday"),
        ],
        at("2024-03-17 23:00:00"),
    );
}

#[test]
fn week_functions_when_d_is_a_monday() {
    assert_evals(
        &[
            ("$[week_begin(yyyyMMdd,0)]", "20240318"),
            ("$[week_end(yyyyMMdd,0)]", "20240324"),
            ("$[week_first_day(yyyyMMdd,-1)]", "20240311"),
            ("$[week_last_day(yyyyMMdd,-1)]", "20240317"),
            ("$[week_end(yyyyMMdd HH:mm,1)]", "20240325 00:00"),
            ("$[EEE]", "Mon"),
        ],
        at("2024-03-18 00:00:00"),
    );
}

#[test]
fn year_week_at_year_edges() {
    // The year is the calendar year of D, as in DolphinScheduler, even when the week
    // belongs to the year before or after.
    for (time, monday_weeks, sunday_weeks) in [
        ("2020-12-31 10:00:00", "2020-53", "2020-53"),
        ("2021-01-03 10:00:00", "2021-53", "2021-01"),
        ("2024-12-30 10:00:00", "2024-01", "2024-01"),
        ("2026-01-01 10:00:00", "2026-01", "2026-53"),
        ("2024-01-01 10:00:00", "2024-01", "2024-01"),
    ] {
        assert_evals(
            &[
                ("$[year_week(yyyy-MM-dd)]", monday_weeks),
                ("$[year_week(yyyy-MM-dd,1)]", monday_weeks),
                ("$[year_week(yyyy-MM-dd,7)]", sunday_weeks),
                ("$[year_week(yyyyMMdd,7)]", &sunday_weeks.replace('-', "")),
            ],
            at(time),
        );
    }
}

#[test]
fn year_week_day_of_week_is_an_integer_expression_from_1_to_7() {
    assert_eq!(
        eval("$[year_week(yyyyMMdd,3+4)]"),
        eval("$[year_week(yyyyMMdd,7)]")
    );
    assert_eq!(
        eval_error("$[year_week(yyyy-MM-dd,8)]"),
        "t: $[year_week(yyyy-MM-dd,8)] at position 0: year_week's first day of the week \
         must be 1 (Monday) to 7 (Sunday), not 8"
    );
    assert!(eval_error("$[year_week(yyyy,1,2)]").contains("year_week takes (pattern)"));
}

#[test]
fn timestamp_is_epoch_seconds_of_the_inner_date_read_as_utc() {
    assert_eq!(eval("$[timestamp(yyyyMMddHHmmss)]"), "1710469800");
    assert_eq!(eval("$[timestamp(yyyyMMdd000000)]"), "1710460800");
    assert_eq!(eval("$[timestamp(yyyyMMddHHmmss-1)]"), "1710383400");
    assert_eq!(
        eval("$[timestamp(month_begin(yyyyMMdd000000,0))]"),
        "1709251200"
    );
    assert_eq!(
        eval("$[timestamp(add_months(yyyyMMddHHmmss,-1))]"),
        "1707964200"
    );
    assert_eq!(eval("$[timestamp(19700101000000)]"), "0");
    // java.time's smart reading: a day past the month's end is its last day, and 24:00
    // is the next midnight.
    assert_eq!(
        eval("$[timestamp(yyyy0231000000)]"),
        eval("$[timestamp(yyyy0229000000)]")
    );
    assert_eq!(
        eval("$[timestamp(yyyyMMdd240000)]"),
        eval("$[timestamp(yyyyMMdd000000+1)]")
    );
}

#[test]
fn timestamp_needs_fourteen_digits() {
    assert_eq!(
        eval_error("$[timestamp(yyyyMMdd)]"),
        "t: $[timestamp(yyyyMMdd)] at position 0: timestamp reads its date back as \
         yyyyMMddHHmmss, and \"20240315\" is not one; give the inner pattern all 14 digits, \
         e.g. timestamp(yyyyMMdd000000)"
    );
    assert!(eval_error("$[timestamp(yyyy1301000000)]").contains("\"20241301000000\" is not one"));
    assert!(eval_error("$[timestamp(yyyyMMdd250000)]").contains("is not one"));
    assert!(
        eval_error("$[timestamp(year_week(yyyy))]")
            .contains("year_week(...) gives no date to format")
    );
}

// Date patterns: java.time's DateTimeFormatter letters, in English.

#[test]
fn pattern_letters() {
    assert_evals(
        &[
            ("$[yyyy yy y yyyyy uuuu u]", "2024 24 2024 02024 2024 2024"),
            ("$[M MM MMM MMMM MMMMM]", "3 03 Mar March M"),
            ("$[d dd D DD DDD]", "5 05 65 65 065"),
            ("$[E EEE EEEE EEEEE]", "Tue Tue Tuesday T"),
            ("$[H HH k K KK h hh a]", "14 14 14 2 02 2 02 PM"),
            ("$[m mm s ss S SSS SSSSSSSSS]", "7 07 9 09 0 000 000000000"),
            (
                "$[G GGGG GGGGG Q QQ QQQ QQQQ]",
                "AD Anno Domini A 1 01 Q1 1st quarter",
            ),
            ("$[yyyy-MM-dd'T'HH:mm:ss]", "2024-03-05T14:07:09"),
            ("$[HH 'o''clock' '']", "14 o'clock '"),
            ("$[yyyy/MM/dd HH:mm:ss.SSS]", "2024/03/05 14:07:09.000"),
            ("$[[yyyy]", "2024"),
            ("$[yyyy年MM月dd日]", "2024年03月05日"),
        ],
        at("2024-03-05 14:07:09"),
    );
    assert_evals(
        &[(
            "$[h hh k kk K a EEEE QQQQ]",
            "12 12 24 24 0 AM Sunday 4th quarter",
        )],
        at("2023-12-31 00:00:00"),
    );
    assert_evals(
        &[("$[h a D MMMM]", "12 PM 366 December")],
        at("2024-12-31 12:00:00"),
    );
}

#[test]
fn fraction_of_a_second_is_always_zero_as_d_has_whole_seconds() {
    let with_millis = at("2024-03-15 02:30:00") + chrono::TimeDelta::milliseconds(123);
    assert_eq!(
        eval_at("$[HH:mm:ss.SSS]", with_millis).unwrap(),
        "02:30:00.000"
    );
}

#[test]
fn years_beyond_four_digits_and_before_the_era() {
    let far = NaiveDate::from_ymd_opt(10000, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    assert_evals(&[("$[yyyy yy y G]", "+10000 00 10000 AD")], far);
    let before_christ = NaiveDate::from_ymd_opt(-43, 3, 15)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    assert_eq!(
        eval_at("$[yyyy G uuuu u]", before_christ).unwrap(),
        "0044 BC -0043 -43"
    );
}

#[test]
fn unsupported_pattern_letters_are_named() {
    assert_eq!(
        eval_error("$[yyyy-ww]"),
        "t: $[yyyy-ww] at position 0: 'w' is not supported: DolphinScheduler takes week \
         fields from the JVM's locale; use year_week(...) or the letters \
         G y u Q M D d E a H k K h m s S"
    );
    assert_eq!(
        eval_error("$[yyyyMMddb]"),
        "t: $[yyyyMMddb] at position 0: 'b' is not a date pattern letter; use \
         G y u Q M D d E a H k K h m s S, and quote other text, e.g. 'T'"
    );
    assert!(eval_error("$[HH:mm z]").contains("'z' is a time-zone letter"));
    assert!(eval_error("$[yyyy-MM-dd-x]").contains("'x' is a time-zone letter"));
    assert!(eval_error("$[LLL]").contains("'L' is not supported"));
    assert!(eval_error("$[F]").contains("'F' is not supported"));
    assert!(eval_error("$[yyyy-MM-ddTHH]").contains("'T' is not a date pattern letter"));
    assert!(
        eval_error("$[ddd]")
            .contains("\"ddd\" has too many letters; 'd' (day of month) takes at most 2")
    );
    assert!(eval_error("$[aa]").contains("'a' (AM/PM) takes at most 1"));
    assert!(eval_error("$[yyyy'T]").contains("the quoted text is not closed"));
    assert!(eval_error("$[yyyy{MM]").contains("'{' is reserved"));
    assert!(eval_error("$[add_months(yyyyb,1)]").contains("in the pattern \"yyyyb\": 'b'"));
}

// What stays as written.

#[test]
fn text_that_is_not_an_expression_stays() {
    for text in [
        "$[1]",
        "$[7]",
        "$[]",
        "$[ no end",
        "a $ b ] c [",
        "$[yyyy$]",
        "echo $((1+2))",
        "",
    ] {
        assert_eq!(eval(text), text);
    }
    assert_eq!(eval("$[$[yyyyMMdd]]"), "$[20240315]");
    // Only a lone digit is left; "10" is a pattern of two literal digits.
    assert_eq!(eval("a$[yyyy]b$[MM]c$[10]"), "a2024b03c10");
}

// Errors name the field, the expression and its position, and what is allowed.

#[test]
fn malformed_day_offset_is_named() {
    let mut params = BTreeMap::new();
    params.insert("dt".to_owned(), varchar("$[yyyyMMdd+x]"));
    assert_eq!(
        resolve_params(&params, d(), "params")
            .unwrap_err()
            .to_string(),
        "params.dt: $[yyyyMMdd+x] at position 0: \"x\" is not a number of days; use N, \
         N/24 (hours), N/24/60 (minutes) or 7*N (weeks)"
    );
    assert_eq!(
        eval_error("$[yyyyMMdd+1x]"),
        "t: $[yyyyMMdd+1x] at position 0: \"1x\" is not a number of days; use N, \
         N/24 (hours), N/24/60 (minutes) or 7*N (weeks)"
    );
    assert_eq!(
        eval_error("$[yyyy-MM-dd-]"),
        "t: $[yyyy-MM-dd-] at position 0: '-' at the end needs a number of days after it; \
         use N, N/24 (hours), N/24/60 (minutes) or 7*N (weeks)"
    );
}

#[test]
fn unknown_function_is_named_with_its_position() {
    assert_eq!(
        eval_error("echo $[add_month(yyyyMMdd,1)]"),
        "t: $[add_month(yyyyMMdd,1)] at position 5: unknown function \"add_month\"; use \
         add_months, month_begin, month_end, week_begin, week_end, month_first_day, \
         month_last_day, week_first_day, week_last_day, this_day, last_day, year_week, \
         timestamp"
    );
    // Characters, not bytes, count.
    assert!(eval_error("日付: $[foo(x)]").contains("at position 4: unknown function \"foo\""));
    // A pattern that only looks like a call is still a pattern.
    assert_eq!(eval("$[yyyy(MM)]"), "2024(03)");
}

#[test]
fn positions_count_characters_of_the_template_as_written() {
    let values: BTreeMap<String, String> = [
        ("who", "wörld, and much more"),
        ("n", "x"),
        ("expr", "$[MMdd+x]"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let error = |text: &str| {
        resolve_template(text, &values, d(), "t")
            .unwrap_err()
            .to_string()
    };
    // The second expression, after a value longer than its reference and a multi-byte
    // character: the position is where the user wrote it.
    assert!(
        error("${who} é $[yyyyMMdd] $[yyyyMMdd+x]")
            .starts_with("t: $[yyyyMMdd+x] at position 21: \"x\" is not a number of days")
    );
    // A value inside the expression: its `$[`, shown as evaluated.
    assert!(error("ab $[yyyyMMdd+${n}]").starts_with("t: $[yyyyMMdd+x] at position 3:"));
    // An expression that came in a value: the reference that brought it.
    assert!(error("${n}${n} ${expr}").starts_with("t: $[MMdd+x] at position 9:"));
    // The same for a parameter's value.
    let mut params = BTreeMap::new();
    params.insert(
        "long".to_owned(),
        varchar("a value much longer than its reference"),
    );
    params.insert("dt".to_owned(), varchar("${long} $[yyyyMMdd+x]"));
    assert!(
        resolve_params(&params, d(), "params")
            .unwrap_err()
            .to_string()
            .starts_with("params.dt: $[yyyyMMdd+x] at position 8:")
    );
}

#[test]
fn missing_parenthesis() {
    assert_eq!(
        eval_error("$[add_months(yyyyMMdd,1]"),
        "t: $[add_months(yyyyMMdd,1] at position 0: add_months( needs its closing ')' at the \
         end of the expression"
    );
    // DolphinScheduler's own test: text after the call is an error, not ignored.
    assert!(eval_error("$[week_last_day(yyyy-MM-dd,0) - 1]").contains("needs its closing ')'"));
    assert!(
        eval_error("$[add_months(yyyyMMdd,(1+2)]")
            .contains("\"(1+2\" is not an integer expression ('(' is not closed)")
    );
}

#[test]
fn integer_expressions() {
    assert_evals(
        &[
            ("$[add_months(yyyyMMdd,-12*2)]", "20220315"),
            ("$[add_months(yyyyMMdd,(1+2)*2)]", "20240915"),
            ("$[add_months(yyyyMMdd, 2 - 3 )]", "20240215"),
            ("$[add_months(yyyyMMdd,-1+2)]", "20240415"),
            ("$[add_months(yyyyMMdd,2*-1)]", "20240115"),
            ("$[add_months(yyyyMMdd,7/2)]", "20240615"),
            ("$[add_months(yyyyMMdd,-7/2)]", "20231215"),
            ("$[add_months(yyyyMMdd,--1)]", "20240415"),
            ("$[month_begin(yyyyMMdd,+3)]", "20240304"),
            ("$[yyyyMMddHHmm+1/48]", "202403150300"),
            ("$[yyyyMMdd+1*2]", "20240317"),
        ],
        d(),
    );
}

#[test]
fn bad_integer_expressions() {
    assert_eq!(
        eval_error("$[add_months(yyyyMMdd,1x)]"),
        "t: $[add_months(yyyyMMdd,1x)] at position 0: \"1x\" is not an integer expression \
         (unexpected \"x\"); use digits, + - * / and parentheses"
    );
    for (expr, why) in [
        ("$[add_months(yyyyMMdd,)]", "it is empty"),
        (
            "$[add_months(yyyyMMdd,1+)]",
            "it ends where a number should be",
        ),
        (
            "$[add_months(yyyyMMdd,*2)]",
            "'*' comes where a number should be",
        ),
        ("$[add_months(yyyyMMdd,1 2)]", "a number follows a number"),
        ("$[add_months(yyyyMMdd,2(3))]", "'(' follows a number"),
        ("$[add_months(yyyyMMdd,(1)))]", "')' has no matching '('"),
        (
            "$[add_months(yyyyMMdd,())]",
            "')' comes where a number should be",
        ),
    ] {
        let message = eval_error(expr);
        assert!(message.contains(why), "{expr}: {message}");
    }
    assert!(eval_error("$[add_months(yyyyMMdd)]").contains(
        "add_months takes (pattern, months), e.g. add_months(yyyyMMdd,-1), not 1 argument(s)"
    ));
    assert!(
        eval_error("$[week_first_day(yyyy,MM,1)]")
            .contains("week_first_day takes (pattern) or (pattern, weeks)")
    );
}

#[test]
fn division_by_zero_is_an_error() {
    assert_eq!(
        eval_error("x $[add_months(yyyyMMdd,1/0)]"),
        "t: $[add_months(yyyyMMdd,1/0)] at position 2: \"1/0\": division by zero"
    );
    assert_eq!(
        eval_error("$[yyyyMMdd+1/0]"),
        "t: $[yyyyMMdd+1/0] at position 0: \"1/0\": division by zero"
    );
    assert!(eval_error("$[year_week(yyyy,7/(1-1))]").contains("division by zero"));
}

#[test]
fn overflow_is_an_error() {
    for expr in [
        "$[add_months(yyyyMMdd,9223372036854775807+1)]",
        "$[add_months(yyyyMMdd,99999999999999999999)]",
        "$[add_months(yyyyMMdd,(-9223372036854775807-1)/-1)]",
        "$[yyyyMMdd+9223372036854775807]",
    ] {
        let message = eval_error(expr);
        assert!(
            message.contains("does not fit in 64 bits"),
            "{expr}: {message}"
        );
    }
    for expr in [
        "$[add_months(yyyyMMdd,4294967296)]",
        "$[add_months(yyyyMMdd,-9223372036854775807-1)]",
        "$[add_months(yyyyMMdd,99999999)]",
        "$[yyyyMMdd+999999999]",
        "$[month_begin(yyyyMMdd,-999999999)]",
        "$[week_first_day(yyyyMMdd,9223372036854775807)]",
    ] {
        let message = eval_error(expr);
        assert!(
            message.contains("out of the range of dates"),
            "{expr}: {message}"
        );
    }
    let last = NaiveDateTime::MAX;
    assert!(eval_at("$[month_end(yyyyMMdd,0)]", last).is_ok());
    assert!(eval_at("$[yyyyMMdd+1]", last).is_err());
    assert!(eval_at("$[year_week(yyyy)]", last).is_ok());
    assert!(eval_at("$[year_week(yyyy)]", NaiveDateTime::MIN).is_err());
}

// ${...} references.

#[test]
fn chained_references() {
    let values = resolved(json!({
        "a": "${b}-x",
        "b": "${c}",
        "c": "$[yyyyMMdd]",
        "fmt": "yyyyMMdd",
        "yesterday": "$[${fmt}-1]",
    }));
    assert_eq!(values["a"], "20240315-x");
    assert_eq!(values["b"], "20240315");
    assert_eq!(values["yesterday"], "20240314");
}

#[test]
fn reference_names_may_contain_references() {
    let values = resolved(json!({
        "env": "prod",
        "host_prod": "db1",
        "host": "${host_${env}}",
        "missing": "${host_${nope}}",
    }));
    assert_eq!(values["host"], "db1");
    assert_eq!(values["missing"], "${host_${nope}}");
}

#[test]
fn unknown_reference_stays_as_written() {
    let values = resolved(json!({"a": "${nope} and ${b}", "b": "1"}));
    assert_eq!(values["a"], "${nope} and 1");
    let values = BTreeMap::from([("x".to_owned(), "1".to_owned())]);
    assert_eq!(
        resolve_template("echo ${y} ${x} ${", &values, d(), "t").unwrap(),
        "echo ${y} 1 ${"
    );
    // An unclosed reference ends substitution, as in DolphinScheduler.
    assert_eq!(
        resolve_template("${x ${x}", &values, d(), "t").unwrap(),
        "${x ${x}"
    );
}

#[test]
fn reference_cycle_is_named() {
    assert_eq!(
        resolve_error(json!({"a": "${b}", "b": "x${a}"})),
        "params: reference cycle: a -> b -> a"
    );
    assert_eq!(
        resolve_error(json!({"x": "${x}"})),
        "params: reference cycle: x -> x"
    );
    assert_eq!(
        resolve_error(json!({"a": "${b}", "b": "${c}", "c": "${b}"})),
        "params: reference cycle: b -> c -> b"
    );
    assert_eq!(
        resolve_error(json!({"a": "${${a}}"})),
        "params: reference cycle: a -> a"
    );
}

#[test]
fn references_nested_too_deep() {
    let chain = |n: usize| {
        let mut params = BTreeMap::new();
        for i in 0..n {
            params.insert(format!("p{i:03}"), varchar(&format!("${{p{:03}}}", i + 1)));
        }
        params.insert(format!("p{n:03}"), varchar("end"));
        params
    };
    let values = resolve_params(&chain(60), d(), "params").unwrap();
    assert_eq!(values["p000"], "end");
    assert_eq!(
        resolve_params(&chain(100), d(), "params")
            .unwrap_err()
            .to_string(),
        "params.p000: ${...} references are nested more than 64 deep"
    );
    let nested = format!("{}x{}", "${".repeat(100), "}".repeat(100));
    assert!(
        resolve_template(&nested, &BTreeMap::new(), d(), "t")
            .unwrap_err()
            .to_string()
            .contains("nested more than 64 deep")
    );
}

#[test]
fn references_that_expand_too_far() {
    let mut params = BTreeMap::new();
    params.insert("a00".to_owned(), varchar(&"x".repeat(1024)));
    for i in 1..40 {
        params.insert(
            format!("a{i:02}"),
            varchar(&format!("${{a{0:02}}}${{a{0:02}}}", i - 1)),
        );
    }
    let message = resolve_params(&params, d(), "params")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("references make the text more than 16 MiB longer than written"),
        "{message}"
    );
    let values = BTreeMap::from([("big".to_owned(), "y".repeat(1 << 20))]);
    let template = "${big}".repeat(17);
    assert!(resolve_template(&template, &values, d(), "t").is_err());
    assert!(resolve_template(&"${big}".repeat(15), &values, d(), "t").is_ok());
}

#[test]
fn template_values_are_not_scanned_again() {
    let values = BTreeMap::from([
        ("a".to_owned(), "${b}".to_owned()),
        ("b".to_owned(), "no".to_owned()),
    ]);
    assert_eq!(resolve_template("${a}", &values, d(), "t").unwrap(), "${b}");
}

#[test]
fn template_errors_name_the_field() {
    let values = BTreeMap::from([("dt".to_owned(), "20240314".to_owned())]);
    assert_eq!(
        resolve_template("echo ${dt} $[yyyyMMdd]", &values, d(), "tasks[0].script").unwrap(),
        "echo 20240314 20240315"
    );
    assert_eq!(
        resolve_template("echo ${dt}\n$[yyyy-ww]", &values, d(), "tasks[0].script")
            .unwrap_err()
            .path,
        "tasks[0].script"
    );
}

// Types.

#[test]
fn typed_values_are_checked_after_resolution() {
    let typed = |value: &str, param_type: &str| {
        resolve(json!({"p": {"value": value, "type": param_type}}))
            .map(|values| values["p"].clone())
            .map_err(|e| e.to_string())
    };
    let ok = [
        ("12", "integer"),
        ("-2147483648", "integer"),
        ("+7", "integer"),
        ("2147483648", "long"),
        ("1.5", "float"),
        ("-2e3", "double"),
        ("7", "double"),
        ("true", "boolean"),
        ("FALSE", "boolean"),
        ("2024-03-15", "date"),
        ("2024-3-5", "date"),
        ("$[yyyy-MM-dd]", "date"),
        ("02:30:00", "time"),
        ("2:30:00.5", "time"),
        ("2024-03-15 02:30:00", "timestamp"),
        ("2024-03-15 02:30:00.123456", "timestamp"),
        ("$[yyyy-MM-dd HH:mm:ss]", "timestamp"),
        (r#"[1, "a", {"b": null}]"#, "list"),
        ("[]", "list"),
        ("anything at all", "varchar"),
    ];
    for (value, param_type) in ok {
        assert!(typed(value, param_type).is_ok(), "{value} as {param_type}");
    }
    assert_eq!(typed("$[yyyy-MM-dd]", "date").unwrap(), "2024-03-15");
    assert_eq!(
        typed("1x", "integer").unwrap_err(),
        "params.p: \"1x\" is not an integer; type integer takes a whole number from \
         -2147483648 to 2147483647"
    );
    let bad = [
        ("2147483648", "integer", "is not an integer"),
        ("", "integer", "is not an integer"),
        (" 1", "long", "is not an integer"),
        (
            "abc",
            "float",
            "is not a number; type float takes a decimal number",
        ),
        ("1,5", "double", "is not a number"),
        (
            "yes",
            "boolean",
            "is not a boolean; type boolean takes true or false",
        ),
        (
            "2024-02-30",
            "date",
            "is not a date; type date takes yyyy-MM-dd",
        ),
        ("20240315", "date", "is not a date"),
        (
            "25:00:00",
            "time",
            "is not a time; type time takes HH:mm:ss",
        ),
        ("2024-03-15T02:30:00", "timestamp", "is not a timestamp"),
        ("{}", "list", "is not a list; type list takes a JSON array"),
        ("1,2", "list", "is not a list"),
    ];
    for (value, param_type, expected) in bad {
        let message = typed(value, param_type).unwrap_err();
        assert!(
            message.contains(expected),
            "{value} as {param_type}: {message}"
        );
    }
}

// Precedence and built-ins.

#[test]
fn later_layers_win() {
    let layer = |value: Value| params(value);
    let builtin = builtins(at("2024-03-15 00:05:00"), &[]);
    let project = layer(json!({"dt": "project", "p": "project"}));
    let global = layer(json!({"dt": "global", "g": "global", "p": "global"}));
    let upstream = layer(json!({"dt": "upstream", "u": "upstream"}));
    let local = layer(json!({"dt": "local", "l": "local", "u": "local"}));
    let startup = layer(json!({"dt": "${system.biz.date}", "s": "startup"}));
    let merged = merge(&[&builtin, &project, &global, &upstream, &local, &startup]);
    let values = resolve_params(&merged, at("2024-03-15 00:05:00"), "params").unwrap();
    assert_eq!(values["dt"], "20240314");
    assert_eq!(values["p"], "global");
    assert_eq!(values["g"], "global");
    assert_eq!(values["u"], "local");
    assert_eq!(values["l"], "local");
    assert_eq!(values["s"], "startup");
    assert_eq!(values["system.biz.curdate"], "20240315");
    assert!(merge(&[]).is_empty());
}

#[test]
fn builtins_for_a_schedule_just_after_midnight() {
    let facts = [
        ("system.task.instance.id", "42".to_owned()),
        ("system.project.name", "analytics".to_owned()),
    ];
    let values = builtins(at("2024-03-15 00:05:00"), &facts);
    let text = |name: &str| values[name].value.as_str();
    assert_eq!(text("system.biz.date"), "20240314");
    assert_eq!(text("system.biz.curdate"), "20240315");
    assert_eq!(text("system.datetime"), "20240315000500");
    assert_eq!(text("system.task.instance.id"), "42");
    assert_eq!(text("system.project.name"), "analytics");
    assert_eq!(values.len(), 5);
    assert!(values.values().all(|p| p.param_type == ParamType::Varchar));
    let first_day = builtins(NaiveDateTime::MIN, &[]);
    assert!(!first_day.contains_key("system.biz.date"));
    assert!(first_day.contains_key("system.datetime"));
}

// Parsing params objects.

#[test]
fn params_objects_in_both_forms() {
    let parsed = params(json!({
        "dt": "$[yyyyMMdd-1]",
        "n": 5,
        "ratio": 0.5,
        "flag": true,
        "typed": {"value": "12", "type": "INTEGER"},
        "typed_number": {"value": 12, "type": "Long"},
        "empty": {"type": "varchar"},
        "bare": {},
        "system.biz.date": "override",
        "_x.y_1": "",
    }));
    assert_eq!(parsed["dt"], varchar("$[yyyyMMdd-1]"));
    assert_eq!(parsed["n"], varchar("5"));
    assert_eq!(parsed["ratio"], varchar("0.5"));
    assert_eq!(parsed["flag"], varchar("true"));
    assert_eq!(parsed["typed"].param_type, ParamType::Integer);
    assert_eq!(parsed["typed"].value, "12");
    assert_eq!(parsed["typed_number"].value, "12");
    assert_eq!(parsed["typed_number"].param_type, ParamType::Long);
    assert_eq!(parsed["empty"], varchar(""));
    assert_eq!(parsed["bare"], varchar(""));
    assert_eq!(parsed["system.biz.date"], varchar("override"));
    assert_eq!(ParamType::default(), ParamType::Varchar);
    assert_eq!(ParamType::ALL.len(), 10);
}

#[test]
fn params_object_errors_name_the_field() {
    let error = |value: Value| {
        parse_params(&value, "tasks[2].params")
            .unwrap_err()
            .to_string()
    };
    assert!(error(json!([])).starts_with("tasks[2].params: must be an object"));
    assert_eq!(
        error(json!({"1x": "a"})),
        "tasks[2].params.1x: \"1x\" is not a valid parameter name; use 1-255 letters, digits, \
         '_' or '.', starting with a letter or '_'"
    );
    for name in ["", "a-b", ".a", "a b", "é", &"a".repeat(256)] {
        assert!(
            error(json!({ name: "a" })).contains("is not a valid parameter name"),
            "{name}"
        );
    }
    params(json!({ "a".repeat(255): "ok" }));
    assert_eq!(
        error(json!({"n": null})),
        "tasks[2].params.n: must be a string, number or boolean, or an object \
         {\"value\": \"...\", \"type\": \"...\"}"
    );
    assert_eq!(
        error(json!({"n": {"value": "1", "typ": "integer"}})),
        "tasks[2].params.n.typ: unknown field; allowed: value, type"
    );
    assert_eq!(
        error(json!({"n": {"value": [1]}})),
        "tasks[2].params.n.value: must be a string, number or boolean"
    );
    assert_eq!(
        error(json!({"n": {"type": "text"}})),
        "tasks[2].params.n.type: \"text\" is not a valid parameter type; allowed: varchar, \
         integer, long, float, double, date, time, timestamp, boolean, list"
    );
    assert!(error(json!({"n": {"type": "FILE"}})).contains("\"FILE\" is not supported yet"));
    assert_eq!(
        error(json!({"n": {"type": 1}})),
        "tasks[2].params.n.type: must be a string"
    );
    assert_eq!(
        error(json!({"n": "a\u{0}b"})),
        "tasks[2].params.n: must not contain a NUL character"
    );
}

#[test]
fn placeholders_are_detected() {
    assert!(has_placeholders("echo ${dt}"));
    assert!(has_placeholders("$[yyyyMMdd]"));
    assert!(!has_placeholders("echo $dt [x] {y} $ ["));
    assert!(!has_placeholders(""));
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn locals_resolve_over_fixed_values_without_scanning_them_again() {
    let locals = parse_params(
        &json!({"path": "/data/${dt}/${part}", "part": "p${n}", "day": "$[yyyyMMdd]"}),
        "tasks[0].params",
    )
    .unwrap();
    // A fixed value is used as it is: its references were resolved where it came from.
    let fixed = values(&[("dt", "20240314"), ("n", "7"), ("raw", "${n}")]);
    let resolved = resolve_params_over(&locals, &fixed, d(), "tasks[0].params").unwrap();
    assert_eq!(resolved["path"], "/data/20240314/p7");
    assert_eq!(resolved["day"], "20240315");
    let with_raw = parse_params(&json!({"r": "${raw}"}), "p").unwrap();
    assert_eq!(
        resolve_params_over(&with_raw, &fixed, d(), "p").unwrap()["r"],
        "${n}"
    );
    // A local of the same name hides the fixed value from the other locals.
    let hiding = parse_params(&json!({"n": "8", "m": "${n}"}), "p").unwrap();
    assert_eq!(
        resolve_params_over(&hiding, &fixed, d(), "p").unwrap()["m"],
        "8"
    );
    let typed = parse_params(&json!({"k": {"value": "${dt}x", "type": "long"}}), "p").unwrap();
    assert_eq!(
        resolve_params_over(&typed, &fixed, d(), "p")
            .unwrap_err()
            .to_string(),
        "p.k: \"20240314x\" is not an integer; type long takes a whole number from \
         -9223372036854775808 to 9223372036854775807"
    );
}

#[test]
fn upstream_values_prefer_non_empty_then_the_earliest_finished() {
    // In finish order: b finished first, then c, then e.
    let b = values(&[("x", ""), ("y", "from b"), ("only_b", "1")]);
    let c = values(&[("x", "from c"), ("y", "from c"), ("z", "")]);
    let e = values(&[("x", "from e"), ("z", "")]);
    let merged = upstream_values([&b, &c, &e]);
    assert_eq!(
        merged["x"], "from c",
        "non-empty wins over an earlier empty value"
    );
    assert_eq!(
        merged["y"], "from b",
        "the earliest finished wins among non-empty ones"
    );
    assert_eq!(merged["z"], "", "all empty: empty");
    assert_eq!(merged["only_b"], "1");
    assert!(upstream_values([]).is_empty());
}

/// What lines print for the OUT params named in the lines' setValue calls of these tests.
fn captured(lines: &[&str]) -> BTreeMap<String, String> {
    let names = [
        "rows",
        "name",
        "empty",
        "no_equals",
        "spaced",
        "lower",
        "sql",
        "k",
        "big",
        "after",
    ];
    let mut capture = OutCapture::new(parse_out(&json!(names), "out").unwrap());
    for line in lines {
        capture.line(line);
    }
    capture.values().clone()
}

#[test]
fn set_value_is_captured_in_both_spellings_and_the_last_value_wins() {
    let got = captured(&[
        "starting",
        "${setValue(rows=10)}",
        "log #{setValue(rows=42)} and ${setValue(name=a=b)} trailing",
        "${setValue(empty=)}",
        "${setValue(no_equals)}",
        "${setValue( spaced =  v )}",
        "not ${setvalue(lower=1)}",
    ]);
    assert_eq!(
        got,
        values(&[
            ("rows", "42"),
            ("name", "a=b"),
            ("empty", ""),
            ("spaced", "  v ")
        ])
    );
}

#[test]
fn a_value_may_span_lines_up_to_the_limit() {
    let got = captured(&[
        "${setValue(sql=select 1",
        "from t",
        "where x)} ${setValue(k=v)}",
    ]);
    assert_eq!(got["sql"], "select 1\nfrom t\nwhere x");
    assert_eq!(got["k"], "v");
    let mut long = vec!["${setValue(big=start"];
    long.extend(std::iter::repeat_n("more", 1100));
    long.push("end)}");
    long.push("${setValue(after=1)}");
    let got = captured(&long);
    assert!(
        !got.contains_key("big"),
        "a value spanning more than 1024 lines is dropped"
    );
    assert_eq!(got["after"], "1", "and capture goes on after it");
}

#[test]
fn only_declared_outs_are_exported_with_defaults_and_types() {
    let declared = parse_out(
        &json!(["rows", {"name": "n", "type": "integer", "default": "0"}, {"name": "flag", "type": "boolean"}]),
        "out",
    )
    .unwrap();
    let mut capture = OutCapture::new(declared);
    capture.line("${setValue(rows=5)} ${setValue(undeclared=1)}");
    assert_eq!(
        capture.values(),
        &values(&[("rows", "5")]),
        "undeclared names are not kept"
    );
    assert_eq!(
        capture.export().unwrap(),
        values(&[("rows", "5"), ("n", "0"), ("flag", "")])
    );
    capture.line("#{setValue(n=many)}");
    assert_eq!(
        capture.export().unwrap_err().to_string(),
        "out.n: \"many\" is not an integer; type integer takes a whole number from -2147483648 to 2147483647"
    );
}
