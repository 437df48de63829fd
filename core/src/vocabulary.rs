//! The words SQL and Rust must agree on, rendered once into `sql/1_schema/01_vocabulary.sql`:
//! the states with their sets and the command table (`state`), the priorities in rank order
//! (`Priority`), the rule of names (`name`), the worker protocols served (`protocol`) and the
//! choices a spec's enum-like fields and a backfill's options allow (`keyword`, with
//! DEPENDENT's date values), which forms offer instead of keeping lists of their own. `make vocabulary-sql` writes the file; a
//! test fails when it differs from what this module renders.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::logic::date_values;
use crate::name::{NAME_PATTERN, NAME_RULE};
use crate::protocol::{
    HEARTBEAT_PERIOD_MAX_MS, NAMED_WAKE_PROTOCOL, READY_CHANNEL, WORKER_PROTOCOL,
    WORKER_PROTOCOL_OLDEST,
};
use crate::{
    BackfillMode, BackfillOrder, ConditionStatus, Cycle, DatasetMode, DependentFailure,
    ExecutionType, FailureStrategy, NotifyStrategy, OnFailure, ParamType, Priority, Relation,
    TableOperation, TimeoutStrategy, TriggerKind, WorkflowTimeoutStrategy,
};

/// The values of a spec's enum-like fields and of a backfill's options, for forms and for the
/// SQL that checks them: each list in the order errors name them (a backfill option's default
/// first), DEPENDENT's cycles with their date values.
pub fn spec_choices() -> Value {
    fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Value {
        all.iter().map(|v| name(*v)).collect()
    }
    json!({
        "failure_strategies": names(FailureStrategy::ALL, FailureStrategy::as_str),
        "execution_types": names(ExecutionType::ALL, ExecutionType::as_str),
        "priorities": names(Priority::ALL, Priority::as_str),
        "timeout_strategies": names(TimeoutStrategy::ALL, TimeoutStrategy::as_str),
        "workflow_timeout_strategies": names(WorkflowTimeoutStrategy::ALL, WorkflowTimeoutStrategy::as_str),
        "notify_strategies": names(NotifyStrategy::ALL, NotifyStrategy::as_str),
        "param_types": names(ParamType::ALL, ParamType::as_str),
        "relations": names(Relation::ALL, Relation::as_str),
        "condition_statuses": names(ConditionStatus::ALL, ConditionStatus::as_str),
        "dependent_failures": names(DependentFailure::ALL, DependentFailure::as_str),
        "backfill_modes": names(BackfillMode::ALL, BackfillMode::as_str),
        "backfill_orders": names(BackfillOrder::ALL, BackfillOrder::as_str),
        "backfill_on_failure": names(OnFailure::ALL, OnFailure::as_str),
        "trigger_kinds": names(TriggerKind::ALL, TriggerKind::as_str),
        "table_operations": names(TableOperation::ALL, TableOperation::as_str),
        "dataset_modes": names(DatasetMode::ALL, DatasetMode::as_str),
        "cycles": Cycle::ALL.iter().map(|c| json!({"cycle": c.as_str(), "date_values": date_values(*c)})).collect::<Vec<_>>(),
    })
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SQL of `sql/1_schema/01_vocabulary.sql`.
pub fn render_sql() -> String {
    let mut out = String::from(
        "-- GENERATED from core/src/vocabulary.rs by `make vocabulary-sql`: edit core/src (state.rs,\n\
         -- keyword.rs's Priority, name.rs, protocol.rs), not this file. Immutable functions, so that a query is\n\
         -- planned with their constants and an index whose predicate calls one still serves it.\n",
    );
    out.push_str(&crate::state::render_sql());
    let priorities: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    let _ = write!(
        out,
        "\nCREATE FUNCTION sched._priorities() RETURNS text[]\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT '{{{}}}'::text[] $$;\n\
         COMMENT ON FUNCTION sched._priorities() IS 'Internal: the priorities, most urgent first; a priority''s rank is its position from 0 (DolphinScheduler''s numbering).';\n",
        priorities.join(",")
    );
    let _ = write!(
        out,
        "\nCREATE FUNCTION sched._name_pattern() RETURNS text\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT {} $$;\n\
         COMMENT ON FUNCTION sched._name_pattern() IS 'Internal: the rule of names (workflows, groups, datasources) as a regular expression.';\n\
         \nCREATE FUNCTION sched._name_rule() RETURNS text\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT {} $$;\n\
         COMMENT ON FUNCTION sched._name_rule() IS 'Internal: the rule of names as errors say it.';\n",
        quote(NAME_PATTERN),
        quote(NAME_RULE)
    );
    let _ = write!(
        out,
        "\nCREATE FUNCTION sched._worker_protocol() RETURNS integer\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT {WORKER_PROTOCOL} $$;\n\
         COMMENT ON FUNCTION sched._worker_protocol() IS 'Internal: the worker protocol of this release; register_worker serves it and the ones down to _worker_protocol_oldest().';\n\
         \nCREATE FUNCTION sched._worker_protocol_oldest() RETURNS integer\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT {WORKER_PROTOCOL_OLDEST} $$;\n\
         COMMENT ON FUNCTION sched._worker_protocol_oldest() IS 'Internal: the oldest worker protocol register_worker still serves (workers of the release before keep working through an upgrade).';\n\
         \nCREATE FUNCTION sched._named_wake_protocol() RETURNS integer\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT {NAMED_WAKE_PROTOCOL} $$;\n\
         COMMENT ON FUNCTION sched._named_wake_protocol() IS 'Internal: the first worker protocol whose workers understand a wake-up naming one of them (payload ''group worker_id'' on the worker''s own channel, sched._worker_channel); older ones are woken by their whole group (payload ''group'' on {READY_CHANNEL}).';\n\
         \nCREATE FUNCTION sched._worker_channel(worker_id bigint) RETURNS text\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT '{READY_CHANNEL}_' || worker_id::text $$;\n\
         COMMENT ON FUNCTION sched._worker_channel(bigint) IS 'Internal: the channel on which a worker of protocol _named_wake_protocol() or later is woken by name: only its process hears it.';\n\
         \nCREATE FUNCTION sched._heartbeat_period(worker_timeout interval) RETURNS interval\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT least(interval '{HEARTBEAT_PERIOD_MAX_MS} ms', worker_timeout / 3) $$;\n\
         COMMENT ON FUNCTION sched._heartbeat_period(interval) IS 'Internal: how often a worker heartbeats under this sched.worker_timeout (at most every {HEARTBEAT_PERIOD_MAX_MS} ms, three times per timeout when that is shorter).';\n"
    );
    let _ = write!(
        out,
        "\nCREATE FUNCTION sched._spec_choices() RETURNS jsonb\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT {}::jsonb $$;\n\
         COMMENT ON FUNCTION sched._spec_choices() IS 'Internal: the values a spec''s enum-like fields allow (failure strategies, execution types, priorities, timeout and notify strategies, parameter types, relations, condition statuses, DEPENDENT''s failure policies and its cycles with their date values) and a backfill''s options (modes, orders, on_failure), each list in the order errors name them: what forms offer.';\n\
         \nCREATE FUNCTION sched._choices(kind text) RETURNS text[]\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT ARRAY(SELECT pg_catalog.jsonb_array_elements_text(sched._spec_choices() OPERATOR(pg_catalog.->) kind)) $$;\n\
         COMMENT ON FUNCTION sched._choices(text) IS 'Internal: one list of sched._spec_choices(), as an array.';\n",
        quote(&spec_choices().to_string())
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENERATED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sql/1_schema/01_vocabulary.sql"
    );

    /// `make vocabulary-sql` (SCHED_BLESS=1) writes the file; otherwise it must be what this
    /// module renders, so that the SQL cannot drift from core.
    #[test]
    fn the_sql_vocabulary_file_is_generated_from_core() {
        let rendered = render_sql();
        if std::env::var_os("SCHED_BLESS").is_some() {
            std::fs::write(GENERATED, &rendered).unwrap();
        }
        let on_disk = std::fs::read_to_string(GENERATED).unwrap_or_default();
        assert!(
            on_disk == rendered,
            "{GENERATED} is not what core/src/vocabulary.rs renders: run `make vocabulary-sql`"
        );
    }
}
