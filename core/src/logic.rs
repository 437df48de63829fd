//! Logic tasks: SUB_PROCESS, CONDITIONS, SWITCH and DEPENDENT, which the
//! scheduler decides in the database instead of a worker running them. Here: their fields'
//! validation and normal form, the branch edges they imply, and DEPENDENT's date values.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde_json::{Map, Value, json};

use crate::error::{Path, SpecError, quote};
use crate::keyword::{ConditionStatus, Cycle, DependentFailure, Relation};
use crate::spec::TaskSpec;

/// DEPENDENT's default check interval, as DolphinScheduler's.
pub const DEFAULT_CHECK_INTERVAL: &str = "10 s";

/// The date values of each cycle, in the order the error message lists them.
pub fn date_values(cycle: Cycle) -> &'static [&'static str] {
    match cycle {
        Cycle::Hour => &[
            "currentHour",
            "last1Hour",
            "last2Hours",
            "last3Hours",
            "last24Hours",
        ],
        Cycle::Day => &["today", "last1Days", "last2Days", "last3Days", "last7Days"],
        Cycle::Week => &[
            "thisWeek",
            "lastWeek",
            "lastMonday",
            "lastTuesday",
            "lastWednesday",
            "lastThursday",
            "lastFriday",
            "lastSaturday",
            "lastSunday",
        ],
        Cycle::Month => &[
            "thisMonth",
            "thisMonthBegin",
            "lastMonth",
            "lastMonthBegin",
            "lastMonthEnd",
        ],
    }
}

/// The periods a date value stands for, relative to the dependent date `at` (the instance's
/// business time, local): half-open `[start, end)`, oldest first. A value of several
/// periods needs a success in each.
pub fn intervals(
    cycle: Cycle,
    date_value: &str,
    at: NaiveDateTime,
) -> Result<Vec<(NaiveDateTime, NaiveDateTime)>, String> {
    let hour = at
        .date()
        .and_time(NaiveTime::from_hms_opt(at.hour(), 0, 0).unwrap_or_default());
    let hours = |n: i64| -> Vec<_> {
        (1..=n)
            .rev()
            .map(|k| (hour - Duration::hours(k), hour - Duration::hours(k - 1)))
            .collect()
    };
    let day = |d: NaiveDate| {
        (
            d.and_time(NaiveTime::MIN),
            (d + Duration::days(1)).and_time(NaiveTime::MIN),
        )
    };
    let days = |from: NaiveDate, to: NaiveDate| -> Vec<_> {
        from.iter_days().take_while(|d| *d <= to).map(day).collect()
    };
    let today = at.date();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let last_monday = monday - Duration::days(7);
    let first = today.with_day(1).unwrap_or(today);
    let last_month_end = first - Duration::days(1);
    let last_month_first = last_month_end.with_day(1).unwrap_or(last_month_end);
    let weekday = |offset: i64| vec![day(last_monday + Duration::days(offset))];
    Ok(match (cycle, date_value) {
        (Cycle::Hour, "currentHour") => vec![(hour, hour + Duration::hours(1))],
        (Cycle::Hour, "last1Hour") => hours(1),
        (Cycle::Hour, "last2Hours") => hours(2),
        (Cycle::Hour, "last3Hours") => hours(3),
        (Cycle::Hour, "last24Hours") => hours(24),
        (Cycle::Day, "today") => vec![day(today)],
        (Cycle::Day, "last1Days") => days(today - Duration::days(1), today - Duration::days(1)),
        (Cycle::Day, "last2Days") => days(today - Duration::days(2), today - Duration::days(1)),
        (Cycle::Day, "last3Days") => days(today - Duration::days(3), today - Duration::days(1)),
        (Cycle::Day, "last7Days") => days(today - Duration::days(7), today - Duration::days(1)),
        (Cycle::Week, "thisWeek") => days(monday, today),
        (Cycle::Week, "lastWeek") => days(last_monday, monday - Duration::days(1)),
        (Cycle::Week, "lastMonday") => weekday(0),
        (Cycle::Week, "lastTuesday") => weekday(1),
        (Cycle::Week, "lastWednesday") => weekday(2),
        (Cycle::Week, "lastThursday") => weekday(3),
        (Cycle::Week, "lastFriday") => weekday(4),
        (Cycle::Week, "lastSaturday") => weekday(5),
        (Cycle::Week, "lastSunday") => weekday(6),
        (Cycle::Month, "thisMonth") => days(first, today),
        (Cycle::Month, "thisMonthBegin") => vec![day(first)],
        (Cycle::Month, "lastMonth") => days(last_month_first, last_month_end),
        (Cycle::Month, "lastMonthBegin") => vec![day(last_month_first)],
        (Cycle::Month, "lastMonthEnd") => vec![day(last_month_end)],
        _ => {
            return Err(format!(
                "{} is not a date value of cycle {}; allowed: {}",
                quote(date_value),
                cycle.as_str(),
                date_values(cycle).join(", ")
            ));
        }
    })
}

/// The cycle a cron schedule fires in, as DolphinScheduler's `CronUtils.getMaxCycle`: the
/// period of the gap between two fires (under a day: hour). Used to pick the DEPENDENT items a dependent
/// backfill follows.
pub fn cron_cycle(fires: &[NaiveDateTime]) -> Option<Cycle> {
    let [a, b, ..] = fires else { return None };
    let gap = *b - *a;
    Some(if gap < Duration::days(1) {
        Cycle::Hour
    } else if gap < Duration::days(7) {
        Cycle::Day
    } else if gap < Duration::days(28) {
        Cycle::Week
    } else {
        Cycle::Month
    })
}

/// A field of a logic task, validated and in normal form (lower-case keywords, defaults
/// filled).
pub(crate) fn normalize(kind: LogicField, value: &Value, path: &str) -> Result<Value, SpecError> {
    let err = |p: &str, m: String| SpecError {
        path: p.to_owned(),
        message: m,
    };
    match kind {
        LogicField::WorkflowName => match value.as_str() {
            Some(name)
                if (1..=63).contains(&name.len())
                    && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) =>
            {
                Ok(value.clone())
            }
            _ => Err(err(path, "must name a workflow".into())),
        },
        LogicField::TaskNames => {
            let names = value
                .as_array()
                .ok_or_else(|| err(path, "must be an array of task names".into()))?;
            for (i, name) in names.iter().enumerate() {
                if !name.is_string() {
                    return Err(err(&format!("{path}[{i}]"), "must be a task name".into()));
                }
            }
            Ok(value.clone())
        }
        LogicField::Conditions => groups(value, path, true, |item, p| {
            let item = object(item, p, &["task", "status"])?;
            let task = item.get("task").and_then(Value::as_str).ok_or_else(|| {
                err(
                    &format!("{p}.task"),
                    "required: the upstream task's name".into(),
                )
            })?;
            let status = match item.get("status") {
                Some(s) => keyword(s, &format!("{p}.status"), ConditionStatus::parse)?,
                None => ConditionStatus::Succeeded,
            };
            Ok(json!({"task": task, "status": status.as_str()}))
        }),
        LogicField::Cases => {
            let cases = value.as_array().filter(|c| !c.is_empty()).ok_or_else(|| {
                err(
                    path,
                    "must be a non-empty array of {\"when\": condition, \"then\": [tasks]}".into(),
                )
            })?;
            cases
                .iter()
                .enumerate()
                .map(|(i, case)| {
                    let p = format!("{path}[{i}]");
                    let case = object(case, &p, &["when", "then"])?;
                    let when = case.get("when").and_then(Value::as_str).ok_or_else(|| {
                        err(
                            &format!("{p}.when"),
                            "required: a condition such as ${x} == \"a\"".into(),
                        )
                    })?;
                    crate::expr::parse(when).map_err(|e| err(&format!("{p}.when"), e.0))?;
                    let then = case.get("then").ok_or_else(|| {
                        err(
                            &format!("{p}.then"),
                            "required: the tasks of this branch".into(),
                        )
                    })?;
                    normalize(LogicField::TaskNames, then, &format!("{p}.then"))?;
                    Ok(json!({"when": when, "then": then}))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        LogicField::Relation => Ok(keyword(value, path, Relation::parse)?.as_str().into()),
        LogicField::DependentGroups => {
            let normalized = groups(value, path, false, |item, p| {
                let item = object(
                    item,
                    p,
                    &[
                        "workflow",
                        "task",
                        "cycle",
                        "date_value",
                        "parameter_passing",
                    ],
                )?;
                let workflow = item.get("workflow").ok_or_else(|| {
                    err(
                        &format!("{p}.workflow"),
                        "required: the workflow depended on".into(),
                    )
                })?;
                normalize(LogicField::WorkflowName, workflow, &format!("{p}.workflow"))?;
                let cycle = match item.get("cycle") {
                    Some(c) => keyword(c, &format!("{p}.cycle"), Cycle::parse)?,
                    None => {
                        return Err(err(
                            &format!("{p}.cycle"),
                            "required; allowed: hour, day, week, month".into(),
                        ));
                    }
                };
                let date_value =
                    item.get("date_value")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            err(
                                &format!("{p}.date_value"),
                                format!(
                                    "required; allowed for cycle {}: {}",
                                    cycle.as_str(),
                                    date_values(cycle).join(", ")
                                ),
                            )
                        })?;
                let date_value = date_values(cycle)
                    .iter()
                    .find(|v| v.eq_ignore_ascii_case(date_value))
                    .ok_or_else(|| {
                        err(
                            &format!("{p}.date_value"),
                            format!(
                                "{} is not a date value of cycle {}; allowed: {}",
                                quote(date_value),
                                cycle.as_str(),
                                date_values(cycle).join(", ")
                            ),
                        )
                    })?;
                let mut out = json!({"workflow": workflow, "cycle": cycle.as_str(), "date_value": date_value});
                if let Some(task) = item.get("task") {
                    match task.as_str() {
                        Some(t) if !t.is_empty() => out["task"] = task.clone(),
                        _ => {
                            return Err(err(
                                &format!("{p}.task"),
                                "must be a task name of that workflow, or \"*\" for all its tasks"
                                    .into(),
                            ));
                        }
                    }
                }
                match item.get("parameter_passing") {
                    None | Some(Value::Bool(false)) => {}
                    Some(Value::Bool(true)) => out["parameter_passing"] = true.into(),
                    Some(_) => {
                        return Err(err(
                            &format!("{p}.parameter_passing"),
                            "must be true or false".into(),
                        ));
                    }
                }
                Ok(out)
            })?;
            Ok(normalized)
        }
        LogicField::Duration => {
            let text = value
                .as_str()
                .ok_or_else(|| err(path, "must be a duration such as \"10 s\"".into()))?;
            let seconds = crate::policy::parse_duration(text).map_err(|m| err(path, m))?;
            if !(1.0..=crate::policy::MAX_SECONDS).contains(&seconds) {
                return Err(err(path, "must be from 1 s to 30 d".into()));
            }
            Ok(value.clone())
        }
        LogicField::DependentFailure => Ok(keyword(value, path, DependentFailure::parse)?
            .as_str()
            .into()),
        LogicField::Over => crate::dynamic::normalize_over(value, path),
        LogicField::ElementTask => crate::dynamic::normalize_run(value, path),
        LogicField::Count => crate::dynamic::normalize_count(value, path),
        LogicField::OnFailure => crate::dynamic::normalize_on_failure(value, path),
    }
}

/// The logic task fields, each with its own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicField {
    WorkflowName,
    TaskNames,
    /// CONDITIONS' `{relation, groups: [{relation, items: [{task, status}]}]}`.
    Conditions,
    /// SWITCH's `[{when, then}]`.
    Cases,
    Relation,
    /// DEPENDENT's `[{relation, items: [{workflow, task, cycle, date_value, parameter_passing}]}]`.
    DependentGroups,
    Duration,
    DependentFailure,
    /// DYNAMIC's lists ([`crate::dynamic`]).
    Over,
    /// DYNAMIC's element task: a workflow's name or an inline task.
    ElementTask,
    /// DYNAMIC's `parallelism` and `max_items`.
    Count,
    /// DYNAMIC's `on_failure`.
    OnFailure,
}

fn keyword<T>(
    value: &Value,
    path: &str,
    parse: fn(&Value, Path<'_>) -> Result<T, SpecError>,
) -> Result<T, SpecError> {
    parse(value, Path::Field(path))
}

fn object<'v>(
    value: &'v Value,
    path: &str,
    allowed: &[&str],
) -> Result<&'v Map<String, Value>, SpecError> {
    let obj = value.as_object().ok_or_else(|| SpecError {
        path: path.to_owned(),
        message: format!("must be an object with {}", allowed.join(", ")),
    })?;
    if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(SpecError {
            path: format!("{path}.{key}"),
            message: format!("unknown field; allowed: {}", allowed.join(", ")),
        });
    }
    Ok(obj)
}

/// Two levels of AND/OR: `{relation, groups: [{relation, items}]}` for CONDITIONS' field,
/// just the groups array for DEPENDENT's (whose relation is a field of its own).
fn groups(
    value: &Value,
    path: &str,
    with_relation: bool,
    item: impl Fn(&Value, &str) -> Result<Value, SpecError>,
) -> Result<Value, SpecError> {
    let (outer, groups_value, groups_path) = match value {
        Value::Object(_) if with_relation => {
            let obj = object(value, path, &["relation", "groups"])?;
            let relation = match obj.get("relation") {
                Some(r) => keyword(r, &format!("{path}.relation"), Relation::parse)?,
                None => Relation::And,
            };
            let groups = obj.get("groups").ok_or_else(|| SpecError {
                path: format!("{path}.groups"),
                message: "required: a non-empty array of {\"relation\", \"items\"}".into(),
            })?;
            (Some(relation), groups, format!("{path}.groups"))
        }
        _ if with_relation => {
            return Err(SpecError {
                path: path.to_owned(),
                message: "must be an object: {\"relation\": \"and\"|\"or\", \"groups\": [{\"relation\", \"items\": [{\"task\", \"status\"}]}]}".into(),
            });
        }
        _ => (None, value, path.to_owned()),
    };
    let list = groups_value
        .as_array()
        .filter(|g| !g.is_empty())
        .ok_or_else(|| SpecError {
            path: groups_path.clone(),
            message:
                "must be a non-empty array of {\"relation\": \"and\"|\"or\", \"items\": [...]}"
                    .into(),
        })?;
    let groups = list
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let p = format!("{groups_path}[{g}]");
            let obj = object(group, &p, &["relation", "items"])?;
            let relation = match obj.get("relation") {
                Some(r) => keyword(r, &format!("{p}.relation"), Relation::parse)?,
                None => Relation::And,
            };
            let items = obj
                .get("items")
                .and_then(Value::as_array)
                .filter(|i| !i.is_empty())
                .ok_or_else(|| SpecError {
                    path: format!("{p}.items"),
                    message: "must be a non-empty array".into(),
                })?;
            let items = items
                .iter()
                .enumerate()
                .map(|(k, it)| item(it, &format!("{p}.items[{k}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({"relation": relation.as_str(), "items": items}))
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    Ok(match outer {
        Some(relation) => json!({"relation": relation.as_str(), "groups": groups}),
        None => Value::Array(groups),
    })
}

/// What every logic task must not have, and its defaults: it runs in the database, so it
/// takes no worker policies and declares no OUT params of its own (a sub-process passes its
/// child's, a DEPENDENT task those of the instances it passes parameters from).
pub(crate) fn check_task(
    task_type: &str,
    obj: &Map<String, Value>,
    settings: &mut Map<String, Value>,
    i: usize,
) -> Result<(), SpecError> {
    for field in [
        "retries",
        "retry_interval",
        "delay",
        "timeout",
        "task_group",
        "task_group_priority",
        "out",
    ] {
        if obj.contains_key(field) {
            return Err(SpecError {
                path: format!("tasks[{i}].{field}"),
                message: format!(
                    "a {task_type} task runs in the scheduler, not on a worker, and takes no {field}"
                ),
            });
        }
    }
    match task_type {
        "conditions" | "switch" => {
            let lists: &[&str] = if task_type == "conditions" {
                &["on_success", "on_failure"]
            } else {
                &["default"]
            };
            for list in lists {
                settings.entry(*list).or_insert_with(|| json!([]));
            }
        }
        "dependent" => {
            settings.entry("relation").or_insert_with(|| "and".into());
            settings
                .entry("check_interval")
                .or_insert_with(|| DEFAULT_CHECK_INTERVAL.into());
            let waits = settings.get("on_failure").and_then(Value::as_str) == Some("wait");
            settings
                .entry("on_failure")
                .or_insert_with(|| "fail".into());
            match (waits, settings.contains_key("wait_for")) {
                (true, false) => {
                    return Err(SpecError {
                        path: format!("tasks[{i}].wait_for"),
                        message: "required with on_failure \"wait\": how long to wait for a rerun to succeed, e.g. \"30 min\"".into(),
                    });
                }
                (false, true) => {
                    return Err(SpecError {
                        path: format!("tasks[{i}].wait_for"),
                        message: "applies only with on_failure \"wait\"".into(),
                    });
                }
                _ => {}
            }
        }
        "dynamic" => crate::dynamic::fill_defaults(settings),
        _ => {}
    }
    Ok(())
}

/// The branches of a CONDITIONS or SWITCH task: (field path, task names).
fn branches(task: &TaskSpec) -> Vec<(String, Vec<String>)> {
    let names = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    match task.task_type.as_str() {
        "conditions" => vec![
            ("on_success".into(), names(task.settings.get("on_success"))),
            ("on_failure".into(), names(task.settings.get("on_failure"))),
        ],
        "switch" => {
            let mut all: Vec<(String, Vec<String>)> = task
                .settings
                .get("cases")
                .and_then(Value::as_array)
                .map(|cases| {
                    cases
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (format!("cases[{i}].then"), names(c.get("then"))))
                        .collect()
                })
                .unwrap_or_default();
            all.push(("default".into(), names(task.settings.get("default"))));
            all
        }
        _ => Vec::new(),
    }
}

/// Branch targets depend on their CONDITIONS or SWITCH task without listing it; a task that
/// depends on one must be on one of its branches, and CONDITIONS items name its upstream
/// tasks. Runs before the graph check, which then sees the implied edges.
pub(crate) fn link_branches(
    tasks: &mut [TaskSpec],
    limits: &crate::Limits,
    edges: &mut usize,
) -> Result<(), SpecError> {
    // Most workflows have no branches: they pay nothing here.
    if !tasks
        .iter()
        .any(|t| matches!(t.task_type.as_str(), "conditions" | "switch"))
    {
        return Ok(());
    }
    let index: HashMap<String, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let mut implied: Vec<(usize, String)> = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        for (field, names) in branches(task) {
            for (k, name) in names.iter().enumerate() {
                let path = format!("tasks[{i}].{field}[{k}]");
                match index.get(name) {
                    None => {
                        return Err(SpecError {
                            path,
                            message: format!("unknown task {}", quote(name)),
                        });
                    }
                    Some(&j) if j == i => {
                        return Err(SpecError {
                            path,
                            message: format!("task {} cannot be its own branch", quote(name)),
                        });
                    }
                    Some(&j) => implied.push((j, task.name.clone())),
                }
            }
        }
    }
    for (j, from) in implied {
        if !tasks[j].deps.contains(&from) {
            tasks[j].deps.push(from);
            *edges += 1;
            limits.check_edges(*edges, Path::TaskField(j, "deps"))?;
        }
    }
    for (i, task) in tasks.iter().enumerate() {
        if task.task_type != "conditions" {
            continue;
        }
        let groups = task
            .settings
            .get("conditions")
            .and_then(|c| c.get("groups"))
            .and_then(Value::as_array);
        for (g, group) in groups.into_iter().flatten().enumerate() {
            let items = group.get("items").and_then(Value::as_array);
            for (k, item) in items.into_iter().flatten().enumerate() {
                let name = item.get("task").and_then(Value::as_str).unwrap_or_default();
                if !task.deps.iter().any(|d| d == name) {
                    return Err(SpecError {
                        path: format!("tasks[{i}].conditions.groups[{g}].items[{k}].task"),
                        message: if task.deps.is_empty() {
                            format!("{} is not one of its deps, and it has none", quote(name))
                        } else {
                            format!(
                                "{} is not one of its deps; allowed: {}",
                                quote(name),
                                task.deps.join(", ")
                            )
                        },
                    });
                }
            }
        }
    }
    for (j, task) in tasks.iter().enumerate() {
        for dep in &task.deps {
            let Some(&i) = index.get(dep) else { continue };
            let up = &tasks[i];
            if matches!(up.task_type.as_str(), "conditions" | "switch")
                && !branches(up)
                    .iter()
                    .any(|(_, names)| names.contains(&task.name))
            {
                return Err(SpecError {
                    path: format!("tasks[{j}].deps"),
                    message: format!(
                        "depends on {} task {} but is on none of its branches; list it in {}",
                        up.task_type,
                        quote(dep),
                        if up.task_type == "switch" {
                            "cases[].then or default"
                        } else {
                            "on_success or on_failure"
                        }
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn starts(cycle: Cycle, value: &str, when: &str) -> Vec<String> {
        intervals(cycle, value, at(when))
            .unwrap()
            .iter()
            .map(|(s, e)| {
                assert!(e > s);
                s.format("%Y-%m-%d %H:%M").to_string()
            })
            .collect()
    }

    #[test]
    fn hour_values() {
        let when = "2024-03-15 10:25:00";
        assert_eq!(
            starts(Cycle::Hour, "currentHour", when),
            ["2024-03-15 10:00"]
        );
        assert_eq!(starts(Cycle::Hour, "last1Hour", when), ["2024-03-15 09:00"]);
        assert_eq!(
            starts(Cycle::Hour, "last3Hours", when),
            ["2024-03-15 07:00", "2024-03-15 08:00", "2024-03-15 09:00"]
        );
        let day = starts(Cycle::Hour, "last24Hours", when);
        assert_eq!(
            (day.len(), day[0].as_str(), day[23].as_str()),
            (24, "2024-03-14 10:00", "2024-03-15 09:00")
        );
    }

    #[test]
    fn day_values_cross_month_and_year() {
        assert_eq!(
            starts(Cycle::Day, "today", "2024-03-01 00:00:00"),
            ["2024-03-01 00:00"]
        );
        assert_eq!(
            starts(Cycle::Day, "last1Days", "2024-03-01 23:59:59"),
            ["2024-02-29 00:00"]
        );
        assert_eq!(
            starts(Cycle::Day, "last2Days", "2024-01-01 05:00:00"),
            ["2023-12-30 00:00", "2023-12-31 00:00"]
        );
        assert_eq!(
            starts(Cycle::Day, "last7Days", "2024-03-15 05:00:00").len(),
            7
        );
    }

    #[test]
    fn week_values() {
        // 2024-03-15 is a Friday.
        let when = "2024-03-15 12:00:00";
        assert_eq!(starts(Cycle::Week, "thisWeek", when).len(), 5);
        let last = starts(Cycle::Week, "lastWeek", when);
        assert_eq!(
            (last.len(), last[0].as_str(), last[6].as_str()),
            (7, "2024-03-04 00:00", "2024-03-10 00:00")
        );
        assert_eq!(
            starts(Cycle::Week, "lastSunday", when),
            ["2024-03-10 00:00"]
        );
        assert_eq!(
            starts(Cycle::Week, "lastMonday", "2024-03-11 00:00:00"),
            ["2024-03-04 00:00"]
        );
    }

    #[test]
    fn month_values() {
        let when = "2024-03-15 12:00:00";
        assert_eq!(starts(Cycle::Month, "thisMonth", when).len(), 15);
        assert_eq!(
            starts(Cycle::Month, "thisMonthBegin", when),
            ["2024-03-01 00:00"]
        );
        assert_eq!(starts(Cycle::Month, "lastMonth", when).len(), 29);
        assert_eq!(
            starts(Cycle::Month, "lastMonthBegin", when),
            ["2024-02-01 00:00"]
        );
        assert_eq!(
            starts(Cycle::Month, "lastMonthEnd", "2024-01-10 00:00:00"),
            ["2023-12-31 00:00"]
        );
    }

    #[test]
    fn a_value_of_another_cycle_is_refused() {
        let err = intervals(Cycle::Day, "lastWeek", at("2024-03-15 00:00:00")).unwrap_err();
        assert!(err.contains("allowed: today, last1Days"), "{err}");
    }

    #[test]
    fn cycle_of_a_cron() {
        let t = |s: &[&str]| s.iter().map(|x| at(x)).collect::<Vec<_>>();
        assert_eq!(
            cron_cycle(&t(&["2024-01-01 00:00:00", "2024-01-01 01:00:00"])),
            Some(Cycle::Hour)
        );
        assert_eq!(
            cron_cycle(&t(&["2024-01-01 02:00:00", "2024-01-02 02:00:00"])),
            Some(Cycle::Day)
        );
        assert_eq!(
            cron_cycle(&t(&["2024-01-01 02:00:00", "2024-01-08 02:00:00"])),
            Some(Cycle::Week)
        );
        assert_eq!(
            cron_cycle(&t(&["2024-01-01 02:00:00", "2024-02-01 02:00:00"])),
            Some(Cycle::Month)
        );
    }
}
