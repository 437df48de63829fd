//! The per-field structure a visual cron builder edits (`sched.cron_parse`), and the text it
//! builds back (`sched.cron_build`). Building and parsing again gives the same structure;
//! names (`MON`, `JAN`) come back as numbers.

use serde_json::{Map, Value, json};

use super::{Cron, Dialect, Part};
use crate::error::SpecError;

const FIELDS: [&str; 7] = [
    "second",
    "minute",
    "hour",
    "day_of_month",
    "month",
    "day_of_week",
    "year",
];

fn part_json(part: &Part) -> Value {
    match *part {
        Part::Every => json!({"kind": "every"}),
        Part::Any => json!({"kind": "any"}),
        Part::Value(v) => json!({"kind": "value", "value": v}),
        Part::Range(a, b) => json!({"kind": "range", "from": a, "to": b}),
        Part::Step {
            from,
            to,
            step,
            star,
        } => {
            json!({"kind": "interval", "start": if star { Value::Null } else { from.into() }, "end": to, "step": step})
        }
        Part::Last(offset) => json!({"kind": "last_day", "offset": offset}),
        Part::LastWeekday(offset) => json!({"kind": "last_weekday", "offset": offset}),
        Part::NearestWeekday(day) => json!({"kind": "nearest_weekday", "day": day}),
        Part::LastOf(day) => json!({"kind": "last_weekday_of_month", "weekday": day}),
        Part::Nth(day, nth) => json!({"kind": "nth_weekday", "weekday": day, "nth": nth}),
    }
}

fn part_text(part: &Part) -> String {
    match *part {
        Part::Every => "*".into(),
        Part::Any => "?".into(),
        Part::Value(v) => v.to_string(),
        Part::Range(a, b) => format!("{a}-{b}"),
        Part::Step {
            step, star: true, ..
        } => format!("*/{step}"),
        Part::Step {
            from,
            to: None,
            step,
            ..
        } => format!("{from}/{step}"),
        Part::Step {
            from,
            to: Some(to),
            step,
            ..
        } => format!("{from}-{to}/{step}"),
        Part::Last(0) => "L".into(),
        Part::Last(offset) => format!("L-{offset}"),
        Part::LastWeekday(0) => "LW".into(),
        Part::LastWeekday(offset) => format!("L-{offset}W"),
        Part::NearestWeekday(day) => format!("{day}W"),
        Part::LastOf(day) => format!("{day}L"),
        Part::Nth(day, nth) => format!("{day}#{nth}"),
    }
}

impl Cron {
    fn field_parts(&self) -> Vec<(&'static str, Option<&Vec<Part>>)> {
        vec![
            ("second", Some(&self.second)),
            ("minute", Some(&self.minute)),
            ("hour", Some(&self.hour)),
            ("day_of_month", Some(&self.day_of_month)),
            ("month", Some(&self.month)),
            ("day_of_week", Some(&self.day_of_week)),
            ("year", self.year.as_ref()),
        ]
    }

    /// `{"dialect": "quartz"|"unix", "second": [part, ...], ...}`, each part
    /// `{"kind": "every"|"any"|"value"|"range"|"interval"|"last_day"|"last_weekday"|
    /// "nearest_weekday"|"last_weekday_of_month"|"nth_weekday", ...}`. A range or interval
    /// whose start is after its end wraps around (Quartz); `last_weekday` has an `offset`
    /// (`L-nW`), 0 for `LW`.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert(
            "dialect".into(),
            match self.dialect {
                Dialect::Quartz => "quartz",
                Dialect::Unix => "unix",
            }
            .into(),
        );
        for (name, parts) in self.field_parts() {
            if self.dialect == Dialect::Unix && matches!(name, "second" | "year") {
                continue;
            }
            obj.insert(
                name.into(),
                parts.map_or(Value::Null, |p| p.iter().map(part_json).collect()),
            );
        }
        Value::Object(obj)
    }

    /// The expression in the dialect's own syntax.
    pub fn to_text(&self) -> String {
        let field = |parts: &[Part]| parts.iter().map(part_text).collect::<Vec<_>>().join(",");
        let mut fields = Vec::new();
        if self.dialect == Dialect::Quartz {
            fields.push(field(&self.second));
        }
        fields.extend([
            field(&self.minute),
            field(&self.hour),
            field(&self.day_of_month),
            field(&self.month),
            field(&self.day_of_week),
        ]);
        if let (Dialect::Quartz, Some(year)) = (self.dialect, &self.year) {
            fields.push(field(year));
        }
        fields.join(" ")
    }
}

fn bad(path: String, message: impl Into<String>) -> SpecError {
    SpecError {
        path,
        message: message.into(),
    }
}

fn number(part: &Map<String, Value>, key: &str, path: &str) -> Result<u32, SpecError> {
    part.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad(format!("{path}.{key}"), "required, a whole number"))
}

/// The text of a structure as `to_json` writes it; it is then parsed, so every value is
/// checked as in an expression, with errors naming the field.
pub fn build(spec: &Value) -> Result<String, SpecError> {
    let obj = spec.as_object().ok_or_else(|| {
        bad(
            "spec".into(),
            "must be a JSON object with dialect and the fields",
        )
    })?;
    let dialect = match obj.get("dialect").and_then(Value::as_str) {
        Some("quartz") | None => Dialect::Quartz,
        Some("unix") => Dialect::Unix,
        Some(other) => {
            return Err(bad(
                "dialect".into(),
                format!("{other:?} is not a dialect; allowed: quartz, unix"),
            ));
        }
    };
    if let Some(key) = obj
        .keys()
        .find(|k| k.as_str() != "dialect" && !FIELDS.contains(&k.as_str()))
    {
        return Err(bad(
            key.clone(),
            format!("unknown field; allowed: dialect, {}", FIELDS.join(", ")),
        ));
    }
    let mut texts = Vec::new();
    for name in FIELDS {
        if dialect == Dialect::Unix && matches!(name, "second" | "year") {
            continue;
        }
        let parts = match obj.get(name) {
            None | Some(Value::Null) if name == "year" => continue,
            None | Some(Value::Null) => {
                return Err(bad(name.into(), "required, an array of parts"));
            }
            Some(Value::Array(parts)) if !parts.is_empty() => parts,
            Some(_) => return Err(bad(name.into(), "must be a non-empty array of parts")),
        };
        let mut items = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let path = format!("{name}[{i}]");
            let part = part
                .as_object()
                .ok_or_else(|| bad(path.clone(), "must be an object with a kind"))?;
            let kind = part.get("kind").and_then(Value::as_str).unwrap_or_default();
            let text = match kind {
                "every" => "*".to_owned(),
                "any" => "?".to_owned(),
                "value" => number(part, "value", &path)?.to_string(),
                "range" => format!(
                    "{}-{}",
                    number(part, "from", &path)?,
                    number(part, "to", &path)?
                ),
                "interval" => {
                    let step = number(part, "step", &path)?;
                    match (
                        part.get("start").filter(|v| !v.is_null()),
                        part.get("end").filter(|v| !v.is_null()),
                    ) {
                        (None, _) => format!("*/{step}"),
                        (Some(_), None) => format!("{}/{step}", number(part, "start", &path)?),
                        (Some(_), Some(_)) => format!(
                            "{}-{}/{step}",
                            number(part, "start", &path)?,
                            number(part, "end", &path)?
                        ),
                    }
                }
                "last_day" => match part.get("offset").and_then(Value::as_u64).unwrap_or(0) {
                    0 => "L".to_owned(),
                    n => format!("L-{n}"),
                },
                "last_weekday" => match part.get("offset").and_then(Value::as_u64).unwrap_or(0) {
                    0 => "LW".to_owned(),
                    n => format!("L-{n}W"),
                },
                "nearest_weekday" => format!("{}W", number(part, "day", &path)?),
                "last_weekday_of_month" => format!("{}L", number(part, "weekday", &path)?),
                "nth_weekday" => format!(
                    "{}#{}",
                    number(part, "weekday", &path)?,
                    number(part, "nth", &path)?
                ),
                other => {
                    return Err(bad(
                        format!("{path}.kind"),
                        format!(
                            "{other:?} is not a kind; allowed: every, any, value, range, interval, last_day, last_weekday, nearest_weekday, last_weekday_of_month, nth_weekday"
                        ),
                    ));
                }
            };
            items.push(text);
        }
        texts.push(items.join(","));
    }
    let text = texts.join(" ");
    super::parse(&text, Some(dialect))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn build_of_parse_round_trips() {
        for expr in [
            "0 0/5 14,18 ? * 2-6",
            "0 15 10 L-2 * ? 2025-2030",
            "0 0 9 15W 1/3 ?",
            "0 0 9 LW * ?",
            "0 15 10 ? * 6#3",
            "0 15 10 ? * 6L",
            "*/20 * * * * ?",
            "30 2 * * 1-5",
            "*/15 9-17 1,15 * *",
            // Quartz 2.3's L-nW, wrapped ranges, wrapped stepped ranges.
            "0 0 12 L-3W * ?",
            "0 0 13-0 ? * 6-2",
            "0 0 0 ? 11-2 2-6/2",
            "0 50-10/5 22-2/2 28-3 * ?",
            "0 0 * * 1-7",
        ] {
            let cron = parse(expr, None).unwrap();
            let built = build(&cron.to_json()).unwrap();
            assert_eq!(built, expr);
            assert_eq!(parse(&built, None).unwrap(), cron);
        }
        // A bare /n is the step from the field's first value; Unix MON-SUN is 1-7.
        let bare = parse("/5 /10 * /2 /3 ?", None).unwrap();
        assert_eq!(build(&bare.to_json()).unwrap(), "0/5 0/10 * 1/2 1/3 ?");
        assert_eq!(parse("0/5 0/10 * 1/2 1/3 ?", None).unwrap(), bare);
        let sunday = parse("0 0 * * MON-SUN", None).unwrap();
        assert_eq!(build(&sunday.to_json()).unwrap(), "0 0 * * 1-7");
        assert_eq!(
            parse("0 0 12 L-3W * ?", None).unwrap().to_json()["day_of_month"],
            json!([{"kind": "last_weekday", "offset": 3}])
        );
        assert_eq!(
            build(&json!({"second": [{"kind": "value", "value": 0}], "minute": [{"kind": "value", "value": 0}],
                "hour": [{"kind": "value", "value": 9}], "day_of_month": [{"kind": "last_weekday"}],
                "month": [{"kind": "every"}], "day_of_week": [{"kind": "any"}]}))
            .unwrap(),
            "0 0 9 LW * ?"
        );
        // Names come back as numbers.
        let named = parse("0 0 12 ? JAN-MAR MON,FRI", None).unwrap();
        assert_eq!(build(&named.to_json()).unwrap(), "0 0 12 ? 1-3 2,6");
        let json = parse("0 0/5 * L * ?", None).unwrap().to_json();
        assert_eq!(
            json["minute"],
            json!([{"kind": "interval", "start": 0, "end": null, "step": 5}])
        );
        assert_eq!(
            json["day_of_month"],
            json!([{"kind": "last_day", "offset": 0}])
        );
        assert_eq!(json["year"], Value::Null);
    }

    #[test]
    fn bad_structures_name_the_field() {
        let base = parse("0 0 12 * * ?", None).unwrap().to_json();
        let with = |key: &str, value: Value| {
            let mut spec = base.clone();
            spec[key] = value;
            build(&spec).unwrap_err().to_string()
        };
        assert_eq!(
            with("hour", json!([{"kind": "value", "value": 24}])),
            "hour: (field 3) \"24\" is not a number 0-23"
        );
        assert!(
            with("hour", json!([{"kind": "often"}]))
                .starts_with("hour[0].kind: \"often\" is not a kind")
        );
        assert_eq!(
            with("minute", json!([{"kind": "range", "from": 1}])),
            "minute[0].to: required, a whole number"
        );
        assert_eq!(
            with("second", json!([])),
            "second: must be a non-empty array of parts"
        );
        assert!(with("dialect", json!("cobol")).starts_with("dialect: \"cobol\" is not a dialect"));
        assert!(with("seconds", json!([])).starts_with("seconds: unknown field"));
    }
}
