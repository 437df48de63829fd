//! Admission on live load (`admit_when`): a SQL boolean expression that a task group or a
//! workflow declares, which must hold before the engine queues one of its attempts. It is
//! read over the row of `sched.load` (active backends, lock waits, replication lag, WAL
//! rate), so that its columns can be named bare, and may read anything its owner may.

/// The longest expression accepted.
pub const MAX_LEN: usize = 2000;

/// What an expression may be, as errors say it.
pub const RULE: &str = "one SQL boolean expression over the columns of sched.load \
                        (e.g. \"replication_lag < 30\"), without ';'";

/// Checks an expression as written; the error says what is allowed.
pub fn check(expr: &str) -> Result<&str, String> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(format!("must not be empty: {RULE}"));
    }
    if trimmed.len() > MAX_LEN {
        return Err(format!(
            "is {} characters long, more than {MAX_LEN}",
            trimmed.len()
        ));
    }
    if trimmed.contains(';') || trimmed.contains('\0') {
        return Err(format!("must be {RULE}"));
    }
    Ok(trimmed)
}

/// The statement that evaluates an expression: one row, its value as a boolean.
pub fn statement(expr: &str) -> Result<String, String> {
    check(expr).map(|expr| format!("SELECT ({expr})::boolean FROM sched.load"))
}

/// Workflow options that choose how its SQL tasks read the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Snapshot {
    /// Each SQL task reads what is committed when its statements run.
    #[default]
    Own,
    /// Every SQL task of an instance on the scheduler's database reads one snapshot, taken
    /// at its first SQL task.
    Consistent,
}

impl Snapshot {
    pub const RULE: &str = "\"consistent\" (every SQL task of a run reads one snapshot) or \
                            \"own\" (each reads its own, the default)";

    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "consistent" => Ok(Self::Consistent),
            "own" => Ok(Self::Own),
            _ => Err(format!("{text:?} is not {}", Self::RULE)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Consistent => "consistent",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expression_is_one_statement_over_the_load() {
        assert_eq!(
            statement(" replication_lag < 30 ").unwrap(),
            "SELECT (replication_lag < 30)::boolean FROM sched.load"
        );
        assert!(check("").unwrap_err().starts_with("must not be empty"));
        assert!(
            check("true; DROP TABLE t")
                .unwrap_err()
                .contains("without ';'")
        );
        assert!(
            check(&"x".repeat(MAX_LEN + 1))
                .unwrap_err()
                .contains("more than 2000")
        );
    }

    #[test]
    fn snapshot_is_consistent_or_own() {
        assert_eq!(Snapshot::parse("consistent"), Ok(Snapshot::Consistent));
        assert_eq!(Snapshot::parse("own"), Ok(Snapshot::Own));
        assert!(
            Snapshot::parse("serializable")
                .unwrap_err()
                .contains("\"consistent\"")
        );
    }
}
