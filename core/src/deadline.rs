//! Deadlines: the time by which a scheduled run must have succeeded, counted from its
//! schedule rather than from its start, so that a run that never started misses it too. A
//! deadline is a time of day on the run's business date (its nominal fire time's date in the
//! schedule's zone), possibly some days later, or a duration after the nominal fire time.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// What a deadline may be, as errors say it.
pub const RULE: &str = "a time of day on the business date (\"06:00\"), days after it \
                        (\"+1 day 06:00\"), or a duration after the fire time (\"2 h\", \"90 min\")";

/// The most days after the business date a deadline may fall.
const MAX_DAYS: u32 = 366;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Deadline {
    /// `time` on the business date, `days` later.
    Clock { days: u32, time: NaiveTime },
    /// This long after the nominal fire time.
    After { seconds: f64 },
}

fn clock(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
}

/// Reads a deadline; the error says what is allowed.
pub fn parse(text: &str) -> Result<Deadline, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not {RULE}");
    if let Some(rest) = text.strip_prefix('+') {
        let mut words = rest.split_whitespace();
        let days: u32 = words.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        if !matches!(words.next(), Some("day" | "days")) {
            return Err(bad());
        }
        let time = words.next().and_then(clock).ok_or_else(bad)?;
        if words.next().is_some() {
            return Err(bad());
        }
        if days > MAX_DAYS {
            return Err(format!(
                "{text:?}: at most {MAX_DAYS} days after the business date"
            ));
        }
        return Ok(Deadline::Clock { days, time });
    }
    if let Some(time) = clock(text) {
        return Ok(Deadline::Clock { days: 0, time });
    }
    let seconds = crate::policy::parse_duration(text).map_err(|_| bad())?;
    if seconds <= 0.0 || seconds > f64::from(MAX_DAYS) * 86_400.0 {
        return Err(format!(
            "{text:?}: a duration must be more than 0 and at most {MAX_DAYS} days"
        ));
    }
    Ok(Deadline::After { seconds })
}

impl Deadline {
    /// The deadline of the run fired (nominally) at `fire`, in `zone`. A time of day that the
    /// zone skips (a DST gap) is read as the first time after the gap; one it repeats, as the
    /// earlier.
    pub fn at(&self, fire: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        match *self {
            Deadline::After { seconds } => fire + Duration::milliseconds((seconds * 1000.0) as i64),
            Deadline::Clock { days, time } => {
                let date = fire.with_timezone(&zone).date_naive() + Duration::days(i64::from(days));
                let mut local = date.and_time(time);
                loop {
                    if let Some(t) = zone.from_local_datetime(&local).earliest() {
                        return t.with_timezone(&Utc);
                    }
                    local += Duration::minutes(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn clock_times_fall_on_the_business_date_in_the_zone() {
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap();
        // Fired at 02:00 in Shanghai on March 15 (18:00 UTC on the 14th).
        let fire = utc("2024-03-14T18:00:00Z");
        assert_eq!(
            parse("06:00").unwrap().at(fire, shanghai),
            utc("2024-03-14T22:00:00Z")
        );
        assert_eq!(
            parse("+1 day 06:30").unwrap().at(fire, shanghai),
            utc("2024-03-15T22:30:00Z")
        );
        assert_eq!(
            parse("90 min").unwrap().at(fire, shanghai),
            utc("2024-03-14T19:30:00Z")
        );
        assert_eq!(parse("2 s").unwrap(), Deadline::After { seconds: 2.0 });
    }

    #[test]
    fn a_time_the_zone_skips_is_read_after_the_gap() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 2024-03-31: 02:00 to 03:00 does not exist in Berlin.
        let fire = utc("2024-03-30T23:00:00Z");
        assert_eq!(
            parse("02:30").unwrap().at(fire, berlin),
            utc("2024-03-31T01:00:00Z")
        );
    }

    #[test]
    fn bad_deadlines_say_what_is_allowed() {
        for bad in [
            "",
            "6 o'clock",
            "+1 06:00",
            "+x day 06:00",
            "25:00",
            "+1 day 06:00 x",
            "0 s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("nope").unwrap_err().contains("\"+1 day 06:00\""));
        assert!(parse("+400 days 01:00").unwrap_err().contains("366"));
    }
}
