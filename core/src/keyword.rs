//! Enum-like spec values. They are accepted in any case and emitted lower case, so that
//! `"END"`, `"End"` and `"end"` all mean the same and the stored spec has one spelling.

use serde_json::Value;

use crate::error::{Path, SpecError, quote};

/// Defines a keyword enum with its lower-case spelling, a case-insensitive parser and the
/// values DolphinScheduler knows but pg_sched does not implement yet (rejected with a
/// message that says so rather than "not valid").
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $name:ident, what: $what:literal, not_yet: [$($not_yet:literal),*],
        { $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The value named `text` (as written by `as_str`, any case).
            pub fn from_name(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(text))
            }

            // Backfill options are checked by SQL, not parsed from a spec.
            #[allow(dead_code)]
            pub(crate) fn parse(value: &Value, path: Path<'_>) -> Result<Self, SpecError> {
                let text = value
                    .as_str()
                    .ok_or_else(|| SpecError::new(path, "must be a string"))?;
                let lower = text.to_ascii_lowercase();
                if let Some(&found) = Self::ALL.iter().find(|v| v.as_str() == lower) {
                    return Ok(found);
                }
                let allowed = allowed(Self::ALL.iter().map(|v| v.as_str()));
                let not_yet: &[&str] = &[$($not_yet),*];
                let message = if not_yet.contains(&lower.as_str()) {
                    format!("{} is not supported yet; allowed: {allowed}", quote(text))
                } else {
                    format!("{} is not a valid {}; allowed: {allowed}", quote(text), $what)
                };
                Err(SpecError::new(path, message))
            }
        }
    };
}

fn allowed<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values.collect::<Vec<_>>().join(", ")
}

keyword_enum! {
    /// What happens to the rest of a workflow instance when a task fails.
    FailureStrategy, what: "failure strategy", not_yet: [],
    {
        /// Tasks not downstream of the failure keep running.
        #[default]
        Continue => "continue",
        /// Running tasks are killed and nothing new starts.
        End => "end",
    }
}

keyword_enum! {
    /// How instances of one workflow run relative to each other.
    ExecutionType, what: "execution type", not_yet: [],
    {
        #[default]
        Parallel => "parallel",
        /// One at a time, the others waiting in serial_wait, first come first served.
        SerialWait => "serial_wait",
        /// A new instance is stopped at once while an earlier one is active.
        SerialDiscard => "serial_discard",
        /// A new instance stops the earlier active ones and runs.
        SerialPriority => "serial_priority",
    }
}

keyword_enum! {
    /// What a task's timeout does (DolphinScheduler's TaskTimeoutStrategy).
    TimeoutStrategy, what: "timeout strategy", not_yet: [],
    {
        /// An alert; the task keeps running.
        #[default]
        Warn => "warn",
        /// The task is killed and fails (which is retryable).
        Fail => "fail",
        /// Both.
        WarnFail => "warn_fail",
    }
}

keyword_enum! {
    /// What a workflow's timeout does.
    WorkflowTimeoutStrategy, what: "timeout strategy", not_yet: [],
    {
        /// An alert; the instance keeps running.
        #[default]
        Warn => "warn",
        /// The instance is stopped.
        Stop => "stop",
    }
}

keyword_enum! {
    /// Order in which ready work is claimed; listed from most to least urgent.
    Priority, what: "priority", not_yet: [],
    {
        Highest => "highest",
        High => "high",
        #[default]
        Medium => "medium",
        Low => "low",
        Lowest => "lowest",
    }
}

impl Priority {
    /// DolphinScheduler's numbering (0 = highest), so that sorting ascending by rank
    /// claims the most urgent work first.
    pub fn rank(self) -> i16 {
        match self {
            Priority::Highest => 0,
            Priority::High => 1,
            Priority::Medium => 2,
            Priority::Low => 3,
            Priority::Lowest => 4,
        }
    }
}

keyword_enum! {
    /// DolphinScheduler's parameter data types (`DataType`). A value is checked against its
    /// type once its references and time expressions are resolved.
    ParamType, what: "parameter type", not_yet: ["file"],
    {
        #[default]
        Varchar => "varchar",
        Integer => "integer",
        Long => "long",
        Float => "float",
        Double => "double",
        Date => "date",
        Time => "time",
        Timestamp => "timestamp",
        Boolean => "boolean",
        List => "list",
    }
}

keyword_enum! {
    /// How the results of a group's items, or of the groups, combine (CONDITIONS, DEPENDENT).
    Relation, what: "relation", not_yet: [],
    {
        #[default]
        And => "and",
        Or => "or",
    }
}

keyword_enum! {
    /// The period a DEPENDENT item's date value counts in.
    Cycle, what: "cycle", not_yet: [],
    {
        Hour => "hour",
        #[default]
        Day => "day",
        Week => "week",
        Month => "month",
    }
}

keyword_enum! {
    /// What a DEPENDENT task does when what it depends on failed.
    DependentFailure, what: "failure policy", not_yet: [],
    {
        /// It fails at once.
        #[default]
        Fail => "fail",
        /// It keeps waiting, for a rerun to succeed, until wait_for has passed.
        Wait => "wait",
    }
}

keyword_enum! {
    /// The outcome a CONDITIONS item expects of an upstream task.
    ConditionStatus, what: "status", not_yet: [],
    {
        #[default]
        Succeeded => "succeeded",
        Failed => "failed",
    }
}

keyword_enum! {
    /// Which ends of a workflow instance alert its alert group (DolphinScheduler's
    /// WarningType). Timeouts and fault tolerance alert the group whatever the strategy.
    NotifyStrategy, what: "notify strategy", not_yet: ["global"],
    {
        #[default]
        None => "none",
        /// Succeeded.
        Success => "success",
        /// Failed (a stop is not a failure).
        Failure => "failure",
        /// Any end: succeeded, failed, stopped or paused.
        All => "all",
    }
}

keyword_enum! {
    /// How a backfill runs its dates (DolphinScheduler's complement data run mode).
    BackfillMode, what: "backfill mode", not_yet: [],
    {
        /// One date after another.
        #[default]
        Serial => "serial",
        /// Up to its parallelism at once.
        Parallel => "parallel",
    }
}

keyword_enum! {
    /// The order a backfill runs its dates in.
    BackfillOrder, what: "backfill order", not_yet: [],
    {
        /// The latest date first.
        #[default]
        Desc => "desc",
        Asc => "asc",
    }
}

keyword_enum! {
    /// What a backfill does after a date's instance did not succeed, and a dynamic task after
    /// one of its elements failed for good.
    OnFailure, what: "failure policy", not_yet: [],
    {
        /// Nothing further starts (a dynamic task's running elements are killed).
        #[default]
        Stop => "stop",
        /// The others run; the whole fails once they are done.
        Continue => "continue",
    }
}

keyword_enum! {
    /// What starts a workflow besides a person and the clock (`sched.triggers`).
    TriggerKind, what: "trigger kind", not_yet: [],
    {
        /// An instance of another workflow ended (`sched.on_workflow_end`).
        #[default]
        WorkflowEnd => "workflow_end",
        /// Rows of a table changed (`sched.on_table_change`).
        TableChange => "table_change",
        /// A signed HTTP request (`sched.create_webhook`).
        Webhook => "webhook",
        /// Datasets the workflow's `schedule_on` names got events.
        Dataset => "dataset",
    }
}

keyword_enum! {
    /// The changes of a table a trigger watches.
    TableOperation, what: "table operation", not_yet: [],
    {
        #[default]
        Insert => "insert",
        Update => "update",
        Delete => "delete",
    }
}

keyword_enum! {
    /// When a workflow scheduled on datasets starts.
    DatasetMode, what: "dataset mode", not_yet: [],
    {
        /// Once every listed dataset has a new event.
        #[default]
        All => "all",
        /// On any event (debounced).
        Any => "any",
    }
}
