//! A workflow's schedule as the arguments of `sched.schedule`.

use chrono::{NaiveDateTime, TimeZone};
use serde_json::{Map, Value, json};

use super::read::{PRIORITIES, err, keyword, number, required_text, text};
use crate::error::{SpecError, quote};

/// The schedule as `{"workflow", "cron", "options"}` for `sched.schedule`, the workflow's
/// tenant if it names one, and what is not imported.
pub(super) fn convert_schedule(
    schedule: &Map<String, Value>,
    path: &str,
    workflow: &str,
) -> Result<(Value, Option<String>, Vec<String>), SpecError> {
    let cron = required_text(schedule, "crontab", path)?.trim();
    let mut options = Map::new();
    let mut notes = Vec::new();
    let zone = text(schedule, "timezoneId", path)?.filter(|z| !z.is_empty());
    let tz = match zone {
        Some(z) => {
            let tz = crate::cron::time_zone(z, &format!("{path}.timezoneId"))?;
            options.insert("timezone".into(), z.into());
            tz
        }
        None => chrono_tz::UTC,
    };
    // Written as local times of the server ("yyyy-MM-dd HH:mm:ss"), read here in the
    // schedule's own zone.
    for (ds, ours) in [("startTime", "start"), ("endTime", "end")] {
        if let Some(t) = text(schedule, ds, path)?.filter(|t| !t.is_empty()) {
            let local =
                NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M:%S").map_err(|_| {
                    err(
                        &format!("{path}.{ds}"),
                        format!("{} is not \"yyyy-MM-dd HH:mm:ss\"", quote(t)),
                    )
                })?;
            let at = tz.from_local_datetime(&local).earliest().ok_or_else(|| {
                err(
                    &format!("{path}.{ds}"),
                    format!("{} does not exist in its time zone", quote(t)),
                )
            })?;
            options.insert(ours.into(), at.to_rfc3339().into());
        }
    }
    if let Some(f) = keyword(schedule, "failureStrategy", path, &["CONTINUE", "END"])? {
        options.insert("failure_strategy".into(), f.to_ascii_lowercase().into());
    }
    let priority_key = if schedule.contains_key("workflowInstancePriority") {
        "workflowInstancePriority"
    } else {
        "processInstancePriority"
    };
    if let Some(p) = keyword(schedule, priority_key, path, PRIORITIES)? {
        options.insert("priority".into(), p.to_ascii_lowercase().into());
    }
    if let Some(group) =
        text(schedule, "workerGroup", path)?.filter(|g| !g.is_empty() && *g != "default")
    {
        options.insert("worker_group".into(), group.into());
    }
    // The export sets every schedule OFFLINE; it comes in disabled, as DolphinScheduler's
    // own import leaves it.
    let online = keyword(schedule, "releaseState", path, &["ONLINE", "OFFLINE"])?.as_deref()
        == Some("ONLINE");
    options.insert("enabled".into(), online.into());
    if let Some(warning) = keyword(
        schedule,
        "warningType",
        path,
        &["NONE", "SUCCESS", "FAILURE", "ALL"],
    )?
    .filter(|w| w != "NONE")
    {
        let group = number(schedule, "warningGroupId", path)?.unwrap_or(0);
        notes.push(format!(
            "alerts on {} to warning group {group} are not imported; add notify with an alert group",
            warning.to_ascii_lowercase()
        ));
    }
    if let Some(env) = number(schedule, "environmentCode", path)?.filter(|c| *c > 0) {
        notes.push(format!("environment {env} is not imported"));
    }
    let tenant = text(schedule, "tenantCode", path)?
        .filter(|t| !t.is_empty() && *t != "default")
        .map(str::to_owned);
    Ok((
        json!({"workflow": workflow, "cron": cron, "options": options}),
        tenant,
        notes,
    ))
}
