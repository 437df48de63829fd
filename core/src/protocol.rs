//! Versions across processes. The worker protocol's version is what a `sched-worker` and the
//! extension's `sched_worker` functions must agree on; the clients (`sched`, `sched-console`)
//! need the extension of their own minor release (`check_client`). The extension serves the workers of its own protocol and of the
//! one before, so that workers can be restarted one by one after `ALTER EXTENSION pg_sched
//! UPDATE` (the README's "Upgrading"). Raise `WORKER_PROTOCOL` when a release changes what a
//! worker calls or what the calls mean, and keep the older calls working until
//! `WORKER_PROTOCOL_OLDEST` moves past them.
//!
//! | protocol | first release | change |
//! |---|---|---|
//! | 1 | 0.2.0 | the baseline (`register_worker` without a protocol argument) |
//! | 2 | 0.3.0 | `register_worker` says the worker's protocol |
//! | 3 | 0.6.0 | a wake-up may name one worker, on that worker's own channel ([`worker_channel`], [`ready_payload`]) |

/// The protocol this build's worker speaks and its extension serves.
pub const WORKER_PROTOCOL: i32 = 3;

/// The first protocol whose workers understand a wake-up that names one of them, sent on the
/// worker's own channel ([`worker_channel`]): the extension wakes one such worker of a group
/// instead of all of them, and a worker of an older protocol only by a wake-up of its whole
/// group.
pub const NAMED_WAKE_PROTOCOL: i32 = 3;

/// The longest a worker waits between heartbeats; with a short `sched.worker_timeout` it
/// beats three times per timeout instead.
pub const HEARTBEAT_PERIOD_MAX_MS: u64 = 3_000;

/// The channel on which workers are told that tasks became ready.
pub const READY_CHANNEL: &str = "sched_ready";

/// The channel on which one worker is woken by name. PostgreSQL signals every listening
/// backend of the database at each NOTIFY, but hands a notification only to the clients that
/// listen on its channel: a wake-up on [`READY_CHANNEL`] naming one worker woke every idle
/// worker's process, which on two cores delayed the one named by about 0.2 ms.
pub fn worker_channel(worker_id: i64) -> String {
    format!("{READY_CHANNEL}_{worker_id}")
}

/// A wake-up's payload: the worker group, and the one worker it is for after a space
/// (`default 42`, on that worker's [`worker_channel`]), or none (`default`, on
/// [`READY_CHANNEL`]: every worker of the group). Group names hold no space
/// (`crate::NAME_RULE`).
pub fn ready_payload(group: &str, worker: Option<i64>) -> String {
    match worker {
        Some(id) => format!("{group} {id}"),
        None => group.to_owned(),
    }
}

/// The group and the worker a wake-up's payload names; `None` for a payload that is neither
/// form (a worker ignores it).
pub fn parse_ready(payload: &str) -> Option<(&str, Option<i64>)> {
    match payload.split_once(' ') {
        None => Some((payload, None)),
        Some((group, id)) => Some((group, Some(id.parse().ok()?))),
    }
}

/// The oldest protocol the extension still serves.
pub const WORKER_PROTOCOL_OLDEST: i32 = 1;

/// The version of pg_sched whose SQL the database has (no row: not installed), as every
/// process that checks it reads it: the catalog, which every release has.
pub const EXTENSION_VERSION: &str =
    "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_sched'";

/// Whether a client of release `mine` (`sched`, `sched-console`, and `sched-worker` when the
/// SQL is too old to say its protocol) can use the SQL API of the
/// pg_sched installed in the database (`installed`, None when it is not): the same minor
/// release (before 1.0, a minor release may change the API; a patch does not). The error says
/// what to upgrade.
pub fn check_client(tool: &str, mine: &str, installed: Option<&str>) -> Result<(), String> {
    let Some(installed) = installed else {
        return Err(
            "the pg_sched extension is not installed in this database: CREATE EXTENSION \
                    pg_sched (as a superuser), or connect to the database that has it"
                .to_owned(),
        );
    };
    let minor = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??))
    };
    match (minor(installed), minor(mine)) {
        (Some(theirs), Some(ours)) if theirs == ours => Ok(()),
        (Some(theirs), Some(ours)) if theirs < ours => Err(format!(
            "pg_sched {installed} in this database is older than this {tool} {mine}: install the \
             pg_sched of release {mine} and run ALTER EXTENSION pg_sched UPDATE, or use a {tool} \
             of release {installed}"
        )),
        _ => Err(format!(
            "pg_sched {installed} in this database is newer than this {tool} {mine}: upgrade \
             {tool} to release {installed}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_up_names_its_group_and_maybe_one_worker() {
        assert_eq!(ready_payload("etl", None), "etl");
        assert_eq!(ready_payload("etl", Some(42)), "etl 42");
        assert_eq!(parse_ready("etl"), Some(("etl", None)));
        assert_eq!(parse_ready("etl 42"), Some(("etl", Some(42))));
        assert_eq!(parse_ready("etl x"), None);
        assert_eq!(worker_channel(42), "sched_ready_42");
    }

    #[test]
    fn a_client_needs_the_extension_of_its_minor_release() {
        assert_eq!(check_client("sched", "0.3.0", Some("0.3.0")), Ok(()));
        assert_eq!(check_client("sched", "0.3.2", Some("0.3.0")), Ok(()));
        let older = check_client("sched", "0.3.0", Some("0.2.0")).unwrap_err();
        assert!(
            older.contains("pg_sched 0.2.0 in this database is older than this sched 0.3.0"),
            "{older}"
        );
        assert!(older.contains("ALTER EXTENSION pg_sched UPDATE"), "{older}");
        let newer = check_client("sched-console", "0.3.0", Some("0.4.0")).unwrap_err();
        assert!(
            newer.contains("upgrade sched-console to release 0.4.0"),
            "{newer}"
        );
        let absent = check_client("sched", "0.3.0", None).unwrap_err();
        assert!(absent.contains("CREATE EXTENSION pg_sched"), "{absent}");
    }
}
