//! The states of a workflow instance and of a task attempt, the named sets of them, and which
//! command applies in which state. They are named here once: `sql/1_schema/01_vocabulary.sql`
//! (the enum types and one immutable function per set or table) is generated from this module
//! by `make vocabulary-sql` (`vocabulary.rs`), a test fails when the file differs, the console reads
//! `sched.state_model()`, and the layering test fails on a list of state literals anywhere
//! else. docs/architecture.md, "States", says who moves an instance or attempt between them.

use std::fmt::Write;

/// A state of one of the two enums: its name, the colour graphs and the console fill it with
/// (task states), and what it means.
#[derive(Debug, Clone, Copy)]
pub struct State {
    pub name: &'static str,
    pub colour: &'static str,
    pub doc: &'static str,
}

const fn st(name: &'static str, colour: &'static str, doc: &'static str) -> State {
    State { name, colour, doc }
}

/// `sched.workflow_state`, in enum order.
#[rustfmt::skip]
pub const WORKFLOW_STATES: &[State] = &[
    st("submitted", "#e4e4e4", "recorded, not yet admitted (not written by this engine: an instance is admitted in the transaction that creates it)"),
    st("serial_wait", "#e4e4e4", "a serial_wait workflow's instance waiting for the one before it to end"),
    st("waiting_thread", "#e4e4e4", "waiting for room under sched.max_running_instances"),
    st("running", "#9cc9f5", "admitted; its ready tasks are queued as they become ready"),
    st("ready_pause", "#f3e39a", "pausing: running attempts finish, nothing new starts"),
    st("paused", "#f3e39a", "paused with nothing running; resume continues it"),
    st("ready_stop", "#f8c78a", "stopping: running attempts are being killed"),
    st("stopped", "#f8c78a", "stopped by a user, a timeout or a parent"),
    st("failed", "#f4a6a6", "ended with a failed task"),
    st("succeeded", "#b7e1a1", "ended with every task done"),
];

/// `sched.task_state`, in enum order.
#[rustfmt::skip]
pub const TASK_STATES: &[State] = &[
    st("delayed", "#e4e4e4", "waiting for its delay (delay_time, or a retry's interval)"),
    st("queued", "#e4e4e4", "ready, waiting for a worker to claim it"),
    st("dispatched", "#c4dff9", "claimed by a worker, not yet started (not written by this engine: a claim starts the attempt)"),
    st("running", "#9cc9f5", "running on a worker, or in the database"),
    st("succeeded", "#b7e1a1", "ended with success"),
    st("failed", "#f4a6a6", "ended with failure, or killed for its timeout; a retry may follow"),
    st("killed", "#f8c78a", "killed by a user, a stop or a failed sibling"),
    st("paused", "#f3e39a", "not started because its instance paused"),
    st("forced_success", "#d6efc7", "failed or killed, then marked successful by a user"),
    st("need_fault_tolerance", "#d9b3e6", "its worker was lost; a new attempt replaces it"),
    st("skipped", "#f5f5f5", "on a branch a CONDITIONS or SWITCH task did not take (or all its upstream tasks were skipped)"),
    st("forbidden", "#f5f5f5", "a task with enabled false, passed through"),
];

/// The states of a backfill (`sched.backfill.state`): text, checked against
/// `sched._backfill_states()`.
#[rustfmt::skip]
pub const BACKFILL_STATES: &[State] = &[
    st("running", "#9cc9f5", "dates are still to start or running"),
    st("succeeded", "#b7e1a1", "every date's instance succeeded"),
    st("failed", "#f4a6a6", "a date's instance did not succeed (and on_failure stop ended the backfill, or every date has ended)"),
    st("cancelled", "#e4e4e4", "cancelled by cancel_backfill: no further date starts"),
];

/// The states of an alert's delivery to one channel (`sched.alert_delivery.state`): text,
/// checked against `sched._delivery_states()`.
#[rustfmt::skip]
pub const DELIVERY_STATES: &[State] = &[
    st("pending", "#e4e4e4", "not yet sent; a worker started with --alerts sends it when it is due"),
    st("sent", "#b7e1a1", "sent to its channel"),
    st("failed", "#f4a6a6", "every attempt failed (sched.alert_max_attempts)"),
];

/// The states of a fire's deadline (`sched.deadline_check.state`): text, checked against
/// `sched._deadline_states()`.
#[rustfmt::skip]
pub const DEADLINE_STATES: &[State] = &[
    st("pending", "#e4e4e4", "its deadline has not come"),
    st("met", "#b7e1a1", "its instance succeeded by the deadline"),
    st("missed", "#f4a6a6", "it had not succeeded by the deadline (or never started): an alert deadline_missed was raised"),
];

/// What a task of a test run (`sched.test_run`) came to: text, checked against
/// `sched._test_states()`. Nothing of a test run is stored; these name its result rows.
#[rustfmt::skip]
pub const TEST_STATES: &[State] = &[
    st("succeeded", "#b7e1a1", "its statements ran (then were rolled back with the rest), or a logic task chose its branch"),
    st("failed", "#f4a6a6", "a statement failed, its parameters did not resolve or its OUT values could not be read; downstream tasks are not reached"),
    st("mocked", "#d6efc7", "not run: options.mock gave its OUT values"),
    st("not_run", "#e4e4e4", "a task a test run does not run (shell, python, http, a datasource's SQL, sub_process, dependent, dynamic...); downstream tasks run as if it succeeded without OUT values"),
    st("skipped", "#f5f5f5", "on a branch a CONDITIONS or SWITCH task did not take"),
    st("forbidden", "#f5f5f5", "a task with enabled false, passed through"),
    st("not_reached", "#ffffff", "not run because an upstream task failed or was not reached"),
];

/// The test states that count as a success downstream: their successors run, a CONDITIONS
/// success item holds.
pub const TEST_STATES_SUCCESS: &[&str] = &["succeeded", "mocked", "not_run"];

/// Which enum a set or a command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of {
    Workflow,
    Task,
}

impl Of {
    pub fn states(self) -> &'static [State] {
        match self {
            Of::Workflow => WORKFLOW_STATES,
            Of::Task => TASK_STATES,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Of::Workflow => "workflow",
            Of::Task => "task",
        }
    }
}

/// A named set of states, `sched._<of>_states_<name>()` in SQL.
#[derive(Debug, Clone, Copy)]
pub struct StateSet {
    pub of: Of,
    pub name: &'static str,
    pub states: &'static [&'static str],
    pub doc: &'static str,
}

const fn set(
    of: Of,
    name: &'static str,
    states: &'static [&'static str],
    doc: &'static str,
) -> StateSet {
    StateSet {
        of,
        name,
        states,
        doc,
    }
}

#[rustfmt::skip]
pub const SETS: &[StateSet] = &[
    set(Of::Task, "active", &["delayed", "queued", "dispatched", "running"], "the states of an attempt that is not over (task_instance_active's predicate); every other state is final"),
    set(Of::Task, "waiting", &["delayed", "queued"], "the states of an attempt no worker holds yet"),
    set(Of::Task, "claimed", &["dispatched", "running"], "the states of an attempt a worker holds (task_instance_claimed's predicate)"),
    set(Of::Task, "finished", &["succeeded", "failed", "killed", "paused", "forced_success", "need_fault_tolerance", "skipped", "forbidden"], "the final states of an attempt: those not active"),
    set(Of::Task, "success", &["succeeded", "forced_success"], "the states whose OUT parameters reach downstream tasks, and that a CONDITIONS success branch counts"),
    set(Of::Task, "passed", &["succeeded", "forced_success", "skipped", "forbidden"], "the states that let downstream tasks start and count as done when an instance is recovered or rerun"),
    set(Of::Task, "failure", &["failed", "killed"], "the states of an attempt that ended in failure: the instance has a failure, and recover or force_success applies"),
    set(Of::Task, "alerted", &["failed", "killed", "paused", "need_fault_tolerance"], "the states a workflow-end alert lists the tasks of"),
    set(Of::Task, "dependent_success", &["succeeded", "forced_success", "forbidden"], "the states a DEPENDENT item on one task counts as succeeded"),
    set(Of::Task, "bypassed", &["skipped", "forbidden"], "the states of a task passed over without running: graphs draw it dashed"),
    set(Of::Workflow, "finished", &["paused", "stopped", "failed", "succeeded"], "the states of an instance that has ended (workflow_instance_unfinished excludes them)"),
    set(Of::Workflow, "unfinished", &["submitted", "serial_wait", "waiting_thread", "running", "ready_pause", "ready_stop"], "the states of an instance that has not ended"),
    set(Of::Workflow, "executing", &["running", "ready_pause", "ready_stop"], "the states of an admitted instance that has not ended: it counts against running limits and its attempts advance it"),
    set(Of::Workflow, "admitted", &["running", "ready_pause", "ready_stop", "waiting_thread"], "the states of an instance holding its serial turn: executing, or waiting for a thread"),
    set(Of::Workflow, "advancing", &["running", "ready_pause"], "the states in which a failed attempt is retried and a forced success starts downstream tasks"),
    set(Of::Workflow, "ending", &["ready_stop", "paused", "stopped", "failed", "succeeded"], "the states of an instance that is finished or being stopped: a stop, a timeout or a parent has nothing more to do"),
    set(Of::Workflow, "unsuccessful", &["paused", "stopped", "failed"], "the states of an instance that ended without succeeding"),
];

/// A user's command on an instance or an attempt: the states it applies to (refused in any
/// other, changing nothing) and, for commands that continue a finished instance, the states
/// of the attempts that run again.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    pub name: &'static str,
    pub of: Of,
    pub applies_to: &'static [&'static str],
    pub reruns: &'static [&'static str],
    /// The command type `sched.command` records it as (DolphinScheduler's, where it has one).
    pub recorded_as: &'static str,
}

#[rustfmt::skip]
pub const COMMANDS: &[Command] = &[
    Command { name: "pause", of: Of::Workflow, applies_to: &["running"], reruns: &[], recorded_as: "pause" },
    Command { name: "resume", of: Of::Workflow, applies_to: &["paused", "stopped"], reruns: &["paused", "killed"], recorded_as: "recover_suspended_process" },
    Command { name: "recover", of: Of::Workflow, applies_to: &["failed"], reruns: &["failed", "killed"], recorded_as: "start_failure_task_process" },
    Command { name: "rerun", of: Of::Workflow, applies_to: &["paused", "stopped", "failed", "succeeded"], reruns: &[], recorded_as: "repeat_running" },
    Command { name: "execute_task", of: Of::Workflow, applies_to: &["paused", "stopped", "failed", "succeeded"], reruns: &[], recorded_as: "execute_task" },
    Command { name: "stop", of: Of::Workflow, applies_to: &["submitted", "serial_wait", "waiting_thread", "running", "ready_pause", "paused", "ready_stop"], reruns: &[], recorded_as: "stop" },
    Command { name: "force_success", of: Of::Task, applies_to: &["failed", "killed"], reruns: &[], recorded_as: "force_success" },
    Command { name: "kill_task", of: Of::Task, applies_to: &["delayed", "queued", "dispatched", "running"], reruns: &[], recorded_as: "kill_task" },
];

/// What a worker reports an attempt ended as: `complete_tasks`' outcomes, `sched._outcomes()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The task succeeded: the attempt is succeeded.
    Succeeded,
    /// The task failed: the attempt is failed, and retried if it has retries left.
    Failed,
    /// The worker killed it at a kill request: killed, or failed when the master asked for the
    /// kill at the attempt's timeout.
    Killed,
    /// The worker killed it at its own timeout: failed with kill_reason timeout, and retried if
    /// it has retries left.
    TimedOut,
}

impl Outcome {
    pub const ALL: &'static [Outcome] = &[
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::Killed,
        Outcome::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Killed => "killed",
            Outcome::TimedOut => "timed_out",
        }
    }
}

/// The named set `name` of `of`'s states.
pub fn set_of(of: Of, name: &str) -> Option<&'static StateSet> {
    SETS.iter().find(|s| s.of == of && s.name == name)
}

fn sql_array(states: &[&str]) -> String {
    format!("'{{{}}}'", states.join(","))
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The states' part of `sql/1_schema/01_vocabulary.sql` (`vocabulary.rs`).
pub fn render_sql() -> String {
    let mut out = String::from(
        "\n-- The states of workflow instances and task attempts, their named sets and the states each\n\
         -- command applies in (core/src/state.rs).\n",
    );
    for of in [Of::Workflow, Of::Task] {
        let noun = of.noun();
        let names: Vec<String> = of.states().iter().map(|s| quote(s.name)).collect();
        let _ = write!(
            out,
            "\nCREATE TYPE sched.{noun}_state AS ENUM ({});\nCOMMENT ON TYPE sched.{noun}_state IS\n    {};\n",
            names.join(", "),
            quote(&format!(
                "State of {}. {}",
                if of == Of::Workflow {
                    "a workflow instance"
                } else {
                    "one task attempt"
                },
                of.states()
                    .iter()
                    .map(|s| format!("{}: {}", s.name, s.doc))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        );
    }
    for s in SETS {
        let noun = s.of.noun();
        let _ = write!(
            out,
            "\nCREATE FUNCTION sched._{noun}_states_{name}() RETURNS sched.{noun}_state[]\n\
             LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
             AS $$ SELECT {array}::sched.{noun}_state[] $$;\n\
             COMMENT ON FUNCTION sched._{noun}_states_{name}() IS {doc};\n",
            name = s.name,
            array = sql_array(s.states),
            doc = quote(&format!("Internal: {}.", s.doc)),
        );
    }
    let applies = |of: Of| -> Vec<(&str, &[&str])> {
        COMMANDS
            .iter()
            .filter(|c| c.of == of)
            .map(|c| (c.name, c.applies_to))
            .collect()
    };
    let reruns: Vec<(&str, &[&str])> = COMMANDS
        .iter()
        .filter(|c| !c.reruns.is_empty())
        .map(|c| (c.name, c.reruns))
        .collect();
    command_function(
        &mut out,
        "_command_workflow_states",
        Of::Workflow,
        &applies(Of::Workflow),
        "the instance states a command applies to",
    );
    command_function(
        &mut out,
        "_command_task_states",
        Of::Task,
        &applies(Of::Task),
        "the attempt states a command applies to",
    );
    command_function(
        &mut out,
        "_command_reruns",
        Of::Task,
        &reruns,
        "the states of the attempts a command runs again",
    );
    let outcomes: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    let _ = write!(
        out,
        "\nCREATE FUNCTION sched._outcomes() RETURNS text[]\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT {}::text[] $$;\n\
         COMMENT ON FUNCTION sched._outcomes() IS 'Internal: what a worker may report an attempt ended as (complete_tasks'' outcomes).';\n",
        sql_array(&outcomes)
    );
    for (function, states, of) in [
        ("_backfill_states", BACKFILL_STATES, "a backfill"),
        (
            "_delivery_states",
            DELIVERY_STATES,
            "an alert's delivery to one channel",
        ),
        ("_test_states", TEST_STATES, "a task of a test run"),
        ("_deadline_states", DEADLINE_STATES, "a fire's deadline"),
    ] {
        let names: Vec<&str> = states.iter().map(|s| s.name).collect();
        let _ = write!(
            out,
            "\nCREATE FUNCTION sched.{function}() RETURNS text[]\n\
             LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
             AS $$ SELECT {}::text[] $$;\n\
             COMMENT ON FUNCTION sched.{function}() IS {};\n",
            sql_array(&names),
            quote(&format!(
                "Internal: the states of {of}. {}",
                states
                    .iter()
                    .map(|s| format!("{}: {}", s.name, s.doc))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        );
    }
    let _ = write!(
        out,
        "\nCREATE FUNCTION sched._test_states_success() RETURNS text[]\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\n\
         AS $$ SELECT {}::text[] $$;\n\
         COMMENT ON FUNCTION sched._test_states_success() IS 'Internal: the test-run states that count as a success downstream: their successors run, a CONDITIONS success item holds.';\n",
        sql_array(TEST_STATES_SUCCESS)
    );
    out.push_str("\nCREATE FUNCTION sched._command_type(command text) RETURNS text\nLANGUAGE sql IMMUTABLE PARALLEL SAFE\nAS $$ SELECT CASE command\n");
    for c in COMMANDS {
        let _ = writeln!(
            out,
            "    WHEN {} THEN {}",
            quote(c.name),
            quote(c.recorded_as)
        );
    }
    out.push_str(
        "END $$;\nCOMMENT ON FUNCTION sched._command_type(text) IS 'Internal: the command type sched.command records a command as (NULL for another command).';\n",
    );
    let _ = write!(
        out,
        "\nCREATE FUNCTION sched.state_model() RETURNS jsonb\n\
         LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';\n\
         COMMENT ON FUNCTION sched.state_model() IS 'The states of workflow instances and task attempts with their colours and meanings, the named sets of them and the states each command applies to, as JSON: what the console and other clients display and filter by.';\n\
         \nCREATE FUNCTION sched._state_model(principal regrole) RETURNS jsonb\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\nAS $$ SELECT {}::jsonb $$;\n\
         COMMENT ON FUNCTION sched._state_model(regrole) IS 'Internal: what sched.state_model returns, the same for every caller.';\n",
        quote(&model_json().to_string())
    );
    out
}

/// `sched.<function>(command)`: the states of `of` each command maps to, NULL for another.
fn command_function(
    out: &mut String,
    function: &str,
    of: Of,
    rows: &[(&str, &[&str])],
    what: &str,
) {
    let noun = of.noun();
    let _ = write!(
        out,
        "\nCREATE FUNCTION sched.{function}(command text) RETURNS sched.{noun}_state[]\n\
         LANGUAGE sql IMMUTABLE PARALLEL SAFE\nAS $$ SELECT CASE command\n"
    );
    for (name, states) in rows {
        let _ = writeln!(
            out,
            "    WHEN {} THEN {}::sched.{noun}_state[]",
            quote(name),
            sql_array(states)
        );
    }
    let _ = write!(
        out,
        "END $$;\nCOMMENT ON FUNCTION sched.{function}(text) IS {};\n",
        quote(&format!("Internal: {what} (NULL for another command)."))
    );
}

/// What `sched.state_model()` returns.
pub fn model_json() -> serde_json::Value {
    let sets = |of: Of| -> serde_json::Value {
        SETS.iter()
            .filter(|s| s.of == of)
            .map(|s| (s.name.to_owned(), serde_json::json!(s.states)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let listed = |states: &[State]| -> serde_json::Value {
        states
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "colour": s.colour, "doc": s.doc}))
            .collect()
    };
    serde_json::json!({
        "workflow_states": listed(WORKFLOW_STATES),
        "task_states": listed(TASK_STATES),
        "backfill_states": listed(BACKFILL_STATES),
        "delivery_states": listed(DELIVERY_STATES),
        "test_states": listed(TEST_STATES),
        "deadline_states": listed(DEADLINE_STATES),
        "workflow_sets": sets(Of::Workflow),
        "task_sets": sets(Of::Task),
        "commands": COMMANDS.iter().map(|c| serde_json::json!({
            "name": c.name, "of": c.of.noun(), "applies_to": c.applies_to, "reruns": c.reruns,
            "recorded_as": c.recorded_as,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_and_command_names_only_states_of_its_enum() {
        for s in SETS {
            for state in s.states {
                assert!(
                    s.of.states().iter().any(|x| x.name == *state),
                    "set {}: {state}",
                    s.name
                );
            }
        }
        for c in COMMANDS {
            for state in c.applies_to {
                assert!(
                    c.of.states().iter().any(|x| x.name == *state),
                    "command {}: {state}",
                    c.name
                );
            }
            for state in c.reruns {
                assert!(
                    TASK_STATES.iter().any(|x| x.name == *state),
                    "command {}: {state}",
                    c.name
                );
            }
        }
    }

    #[test]
    fn finished_is_the_complement_of_active_and_unfinished_of_finished() {
        for (of, a, b) in [
            (Of::Task, "active", "finished"),
            (Of::Workflow, "finished", "unfinished"),
        ] {
            let (a, b) = (set_of(of, a).unwrap(), set_of(of, b).unwrap());
            for s in of.states() {
                assert!(
                    a.states.contains(&s.name) ^ b.states.contains(&s.name),
                    "{}",
                    s.name
                );
            }
        }
    }
}
