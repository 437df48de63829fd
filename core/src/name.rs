//! Names of workflows, task groups, datasources and alert groups: one rule, shared by the
//! modules that check them.

/// The rule of names as errors say it.
pub const NAME_RULE: &str =
    "1-63 letters, digits, '_', '-' or '.', starting with a letter or digit";

/// The same rule as a regular expression, for SQL (`sched._name_pattern()`).
pub const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$";

/// The rule of names (workflows, groups, datasources): 1 to 63 letters, digits, '_', '-' or
/// '.', starting with a letter or digit.
pub(crate) fn is_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}
