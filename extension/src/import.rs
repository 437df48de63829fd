//! Import from other schedulers: the pure conversion, exposed to the SQL that creates what
//! it converted (sql/7_api/import.sql).

use pgrx::JsonB;
use pgrx::prelude::*;

use crate::error::fail;

/// A DolphinScheduler 3.x export converted into workflow specs, schedules and what has no
/// equivalent (see `sched_core::dolphinscheduler::convert`); raises `invalid_parameter_value`
/// naming the field of the export at fault. Nothing is validated as a spec here.
#[pg_extern(name = "_dolphinscheduler_convert", immutable, parallel_safe)]
pub fn dolphinscheduler_convert(export: JsonB, options: JsonB) -> JsonB {
    match sched_core::dolphinscheduler::convert(&export.0, &options.0) {
        Ok(converted) => JsonB(converted),
        Err(err) => fail(format!("invalid DolphinScheduler export: {err}")),
    }
}
