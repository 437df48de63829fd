//! Date patterns of `$[...]` expressions. DolphinScheduler formats them with java.time's
//! `DateTimeFormatter.ofPattern` (its `DateUtils.format`), not with `SimpleDateFormat`, so
//! the letters mean what they mean there: `u` is the year and `S` a fraction of a second.
//! Text comes out in English.
//!
//! Supported letters, by number of letters (example: 2024-03-15 14:05:09, a Friday):
//!
//! | letter | field | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|---|
//! | `G` | era | AD | AD | AD | Anno Domini | A |
//! | `y` | year of era | 2024 | 24 | 2024 | 2024 (more letters pad with zeros, up to 19) | 02024 |
//! | `u` | year (0 = 1 BC, negative before) | like `y` | | | | |
//! | `Q` | quarter | 1 | 01 | Q1 | 1st quarter | 1 |
//! | `M` | month | 3 | 03 | Mar | March | M |
//! | `D` | day of year | 75 | 75 | 075 | | |
//! | `d` | day of month | 15 | 15 | | | |
//! | `E` | day of week | Fri | Fri | Fri | Friday | F |
//! | `a` | AM/PM | PM | | | | |
//! | `H` | hour 0-23 | 14 | 14 | | | |
//! | `k` | hour 1-24 | 14 | 14 | | | |
//! | `K` | hour 0-11 | 2 | 02 | | | |
//! | `h` | hour 1-12 | 2 | 02 | | | |
//! | `m` | minute | 5 | 05 | | | |
//! | `s` | second | 9 | 09 | | | |
//! | `S` | fraction of second, one digit per letter (up to 9) | 0 | 00 | 000 | | |
//!
//! Text between single quotes is copied (`'T'`), `''` is a quote, and any character that
//! is not an ASCII letter is copied as is. `[` opens an optional section, which always
//! prints because a date-time has every field; `]` never reaches a pattern, as the
//! `$[...]` syntax ends at the first `]`. Every other letter is an error that names it:
//! week fields (`w W Y e c`) depend on the JVM's locale, `L` and `q` printed differently
//! across Java versions, zones (`z Z X x O V v`) do not exist for a business time, and
//! the rest (`F A n N g B p`) are not implemented.

use chrono::{Datelike, NaiveDateTime, Timelike};

pub(super) struct Pattern {
    items: Vec<Item>,
}

enum Item {
    Text(String),
    Field(Field, usize),
}

/// Why a pattern was refused, and the byte offset in the pattern of the character at fault.
#[derive(Debug)]
pub(super) struct PatternError {
    pub(super) at: usize,
    pub(super) message: String,
}

pub(super) const SUPPORTED: &str = "G y u Q M D d E a H k K h m s S";

impl Pattern {
    pub(super) fn compile(pattern: &str) -> Result<Pattern, PatternError> {
        let mut items = Vec::new();
        let mut text = String::new();
        let mut chars = pattern.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                _ if c.is_ascii_alphabetic() => {
                    let mut count = 1;
                    while chars.next_if(|&(_, next)| next == c).is_some() {
                        count += 1;
                    }
                    let field = Field::of(c).map_err(|message| PatternError { at, message })?;
                    if count > field.max_letters() {
                        return Err(PatternError {
                            at,
                            message: format!(
                                "{:?} has too many letters; '{c}' ({}) takes at most {}",
                                c.to_string().repeat(count),
                                field.name(),
                                field.max_letters()
                            ),
                        });
                    }
                    if !text.is_empty() {
                        items.push(Item::Text(std::mem::take(&mut text)));
                    }
                    items.push(Item::Field(field, count));
                }
                '\'' => {
                    let mut quoted = String::new();
                    let mut closed = false;
                    while let Some((_, q)) = chars.next() {
                        if q != '\'' {
                            quoted.push(q);
                        } else if chars.next_if(|&(_, next)| next == '\'').is_some() {
                            quoted.push('\'');
                        } else {
                            closed = true;
                            break;
                        }
                    }
                    if !closed {
                        return Err(PatternError {
                            at,
                            message: "the quoted text is not closed; end it with ' and write '' \
                                      for a quote character"
                                .into(),
                        });
                    }
                    // Java reads the empty quotation `''` as one quote character.
                    if quoted.is_empty() {
                        text.push('\'');
                    } else {
                        text.push_str(&quoted);
                    }
                }
                // An optional section prints when its fields exist, which for a date-time
                // they all do.
                '[' => {}
                '{' | '}' | '#' => {
                    return Err(PatternError {
                        at,
                        message: format!("'{c}' is reserved in date patterns; quote it: '{c}'"),
                    });
                }
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            items.push(Item::Text(text));
        }
        Ok(Pattern { items })
    }

    pub(super) fn render(&self, at: NaiveDateTime) -> String {
        let mut out = String::new();
        for item in &self.items {
            match item {
                Item::Text(text) => out.push_str(text),
                Item::Field(field, count) => field.render(at, *count, &mut out),
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Era,
    YearOfEra,
    Year,
    Quarter,
    Month,
    DayOfYear,
    DayOfMonth,
    DayOfWeek,
    AmPm,
    HourOfDay,
    ClockHourOfDay,
    HourOfAmPm,
    ClockHourOfAmPm,
    Minute,
    Second,
    Fraction,
}

const MONTHS: [&str; 12] = [
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
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const QUARTERS: [&str; 4] = ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"];

impl Field {
    fn of(letter: char) -> Result<Field, String> {
        Ok(match letter {
            'G' => Field::Era,
            'y' => Field::YearOfEra,
            'u' => Field::Year,
            'Q' => Field::Quarter,
            'M' => Field::Month,
            'D' => Field::DayOfYear,
            'd' => Field::DayOfMonth,
            'E' => Field::DayOfWeek,
            'a' => Field::AmPm,
            'H' => Field::HourOfDay,
            'k' => Field::ClockHourOfDay,
            'K' => Field::HourOfAmPm,
            'h' => Field::ClockHourOfAmPm,
            'm' => Field::Minute,
            's' => Field::Second,
            'S' => Field::Fraction,
            'w' | 'W' | 'Y' | 'e' | 'c' => {
                return Err(format!(
                    "'{letter}' is not supported: DolphinScheduler takes week fields from the \
                     JVM's locale; use year_week(...) or the letters {SUPPORTED}"
                ));
            }
            'L' | 'q' => {
                let instead = if letter == 'L' { 'M' } else { 'Q' };
                return Err(format!(
                    "'{letter}' is not supported: its text differs between Java versions; \
                     use '{instead}'"
                ));
            }
            'z' | 'Z' | 'X' | 'x' | 'O' | 'V' | 'v' => {
                return Err(format!(
                    "'{letter}' is a time-zone letter, and a business time has no zone; use \
                     the letters {SUPPORTED}"
                ));
            }
            'F' | 'A' | 'n' | 'N' | 'g' | 'B' | 'p' => {
                return Err(format!(
                    "'{letter}' is not supported; use the letters {SUPPORTED}"
                ));
            }
            _ => {
                return Err(format!(
                    "'{letter}' is not a date pattern letter; use {SUPPORTED}, and quote other \
                     text, e.g. 'T'"
                ));
            }
        })
    }

    /// The most letters java.time accepts for the field; more is an error there too.
    fn max_letters(self) -> usize {
        match self {
            Field::YearOfEra | Field::Year => 19,
            Field::Fraction => 9,
            Field::Era | Field::Quarter | Field::Month | Field::DayOfWeek => 5,
            Field::DayOfYear => 3,
            Field::AmPm => 1,
            Field::DayOfMonth
            | Field::HourOfDay
            | Field::ClockHourOfDay
            | Field::HourOfAmPm
            | Field::ClockHourOfAmPm
            | Field::Minute
            | Field::Second => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Field::Era => "era",
            Field::YearOfEra => "year of era",
            Field::Year => "year",
            Field::Quarter => "quarter",
            Field::Month => "month",
            Field::DayOfYear => "day of year",
            Field::DayOfMonth => "day of month",
            Field::DayOfWeek => "day of week",
            Field::AmPm => "AM/PM",
            Field::HourOfDay => "hour 0-23",
            Field::ClockHourOfDay => "hour 1-24",
            Field::HourOfAmPm => "hour 0-11",
            Field::ClockHourOfAmPm => "hour 1-12",
            Field::Minute => "minute",
            Field::Second => "second",
            Field::Fraction => "fraction of second",
        }
    }

    fn render(self, at: NaiveDateTime, count: usize, out: &mut String) {
        let year = at.year();
        let hour = at.hour();
        match self {
            Field::Era => out.push_str(match (count, year >= 1) {
                (4, true) => "Anno Domini",
                (4, false) => "Before Christ",
                (5, true) => "A",
                (5, false) => "B",
                (_, true) => "AD",
                (_, false) => "BC",
            }),
            Field::YearOfEra => {
                let year_of_era = if year >= 1 { year } else { 1 - year };
                push_year(out, i64::from(year_of_era), count);
            }
            Field::Year => push_year(out, i64::from(year), count),
            Field::Quarter => {
                let quarter = at.month0() / 3;
                match count {
                    3 => out.push_str(&format!("Q{}", quarter + 1)),
                    4 => out.push_str(QUARTERS[quarter as usize]),
                    5 => push_number(out, quarter + 1, 1),
                    _ => push_number(out, quarter + 1, count),
                }
            }
            Field::Month => push_text(out, at.month(), count, MONTHS[at.month0() as usize]),
            Field::DayOfWeek => {
                let day = WEEKDAYS[at.weekday().num_days_from_monday() as usize];
                match count {
                    4 => out.push_str(day),
                    5 => out.push_str(&day[..1]),
                    _ => out.push_str(&day[..3]),
                }
            }
            Field::AmPm => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            Field::DayOfYear => push_number(out, at.ordinal(), count),
            Field::DayOfMonth => push_number(out, at.day(), count),
            Field::HourOfDay => push_number(out, hour, count),
            Field::ClockHourOfDay => push_number(out, if hour == 0 { 24 } else { hour }, count),
            Field::HourOfAmPm => push_number(out, hour % 12, count),
            Field::ClockHourOfAmPm => {
                let hour = hour % 12;
                push_number(out, if hour == 0 { 12 } else { hour }, count);
            }
            Field::Minute => push_number(out, at.minute(), count),
            Field::Second => push_number(out, at.second(), count),
            Field::Fraction => {
                // A leap second is stored as nanoseconds beyond 999,999,999.
                let digits = format!("{:09}", at.nanosecond() % 1_000_000_000);
                out.push_str(&digits[..count]);
            }
        }
    }
}

fn push_number(out: &mut String, value: u32, width: usize) {
    out.push_str(&format!("{value:0width$}"));
}

/// Numbers for one or two letters, abbreviation for three, full name for four, initial
/// for five.
fn push_text(out: &mut String, value: u32, count: usize, name: &str) {
    match count {
        3 => out.push_str(&name[..3]),
        4 => out.push_str(name),
        5 => out.push_str(&name[..1]),
        _ => push_number(out, value, count),
    }
}

/// java.time's year printing: two letters keep the last two digits; one or three print
/// the year padded to that width; four or more also put a '+' before a year wider than
/// the letters (`yyyy` prints year 10000 as `+10000`).
fn push_year(out: &mut String, year: i64, count: usize) {
    let digits = year.unsigned_abs();
    if count == 2 {
        out.push_str(&format!("{:02}", digits % 100));
        return;
    }
    if year < 0 {
        out.push('-');
    } else if count >= 4 && digits.to_string().len() > count {
        out.push('+');
    }
    out.push_str(&format!("{digits:0count$}"));
}
