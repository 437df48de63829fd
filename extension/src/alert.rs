//! The checks of alert groups' channels and of notify options, exposed to the SQL of
//! sql/3_engine/alerts.sql.

use pgrx::JsonB;
use pgrx::prelude::*;
use sched_core::alert::{Notify, normalize_channels};

use crate::error::fail;

/// An alert group's channels, normalised, or an error naming the channel field at fault.
#[pg_extern(name = "_normalize_channels", immutable, parallel_safe)]
pub fn channels(channels: JsonB) -> JsonB {
    match normalize_channels(&channels.0) {
        Ok(valid) => JsonB(valid),
        Err(err) => fail(err.to_string()),
    }
}

/// The notify an instance runs with: the workflow's (`base`, as its normalised spec holds it,
/// or NULL) with what a start's or a schedule's option `over` (NULL for none) changes.
/// `field` names the option in errors.
#[pg_extern(name = "_notify_with", immutable, parallel_safe)]
pub fn notify_with(base: Option<JsonB>, over: Option<JsonB>, field: &str) -> JsonB {
    let base = match base {
        Some(b) => match Notify::parse(&b.0, "notify", false) {
            Ok(n) => n,
            Err(err) => fail(err.to_string()),
        },
        None => Notify::default(),
    };
    let merged = match over {
        Some(o) => base.overridden(&o.0, field),
        None => Ok(base),
    };
    match merged {
        Ok(n) => JsonB(n.to_json()),
        Err(err) => fail(err.to_string()),
    }
}
