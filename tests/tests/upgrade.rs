//! Releases and upgrades (CHANGELOG.md, the README's "Upgrading"): every earlier release's
//! kept install script, updated with ALTER EXTENSION pg_sched UPDATE under this build's
//! library, has the schema of a fresh install and keeps every row it held; a worker of the
//! release before runs on through the update and finishes what it runs, once; the master waits
//! while the SQL is older than its library and goes on after the update; workers and clients of
//! another version are refused, saying what to upgrade.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use postgres::Client;
use sched_tests::*;
use serde_json::json;

const CURRENT: &str = env!("CARGO_PKG_VERSION");

/// Everything of the `sched` schema a user, a tool or the engine depends on, a line per
/// object, as the catalogs say it (pg_dump leaves an extension's objects out): relations with
/// their options, owners, privileges and comments; columns in order with types, defaults,
/// compression, privileges and comments; constraints, indexes, triggers, policies; functions with their
/// whole definition (body, settings, volatility), privileges and comments; views' queries;
/// types and enum values in order; the extension's members. Names are schema-qualified
/// (search_path is pg_catalog), never OIDs. The engine's day partitions are data, not schema.
const DESCRIBE: &str = r#"
SET search_path = pg_catalog;
WITH rel AS (
    SELECT c.* FROM pg_class c
    WHERE c.relnamespace = 'sched'::regnamespace AND NOT c.relispartition
)
SELECT line FROM (
    SELECT 'schema sched owner=' || n.nspowner::regrole || ' acl=' || coalesce(n.nspacl::text, '')
           || ' comment=' || coalesce(obj_description(n.oid, 'pg_namespace'), '') AS line
    FROM pg_namespace n WHERE n.nspname = 'sched'
    UNION ALL
    SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
           || ' owner=' || c.relowner::regrole || ' options=' || coalesce(c.reloptions::text, '')
           || ' acl=' || coalesce(c.relacl::text, '') || ' rls=' || c.relrowsecurity
           || ' partitioned_by=' || coalesce(pg_get_partkeydef(c.oid), '')
           || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
           || CASE WHEN c.relkind IN ('v', 'm') THEN ' query=' || pg_get_viewdef(c.oid) ELSE '' END
    FROM rel c
    UNION ALL
    SELECT 'column ' || c.oid::regclass || '.' || quote_ident(a.attname)
           || ' position=' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
           || ' type=' || format_type(a.atttypid, a.atttypmod) || ' not_null=' || a.attnotnull
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
           || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
           || ' collation=' || coalesce(nullif(a.attcollation, 0)::regcollation::text, '')
           || ' compression=' || a.attcompression::text
           || ' acl=' || coalesce(a.attacl::text, '')
           || ' comment=' || coalesce(col_description(c.oid, a.attnum), '')
    FROM rel c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    UNION ALL
    SELECT 'constraint ' || coalesce(c.oid::regclass::text, con.contypid::regtype::text) || ' '
           || quote_ident(con.conname) || ' ' || pg_get_constraintdef(con.oid)
           || ' deferrable=' || con.condeferrable || ' deferred=' || con.condeferred
           || ' comment=' || coalesce(obj_description(con.oid, 'pg_constraint'), '')
    FROM pg_constraint con LEFT JOIN pg_class c ON c.oid = con.conrelid
    WHERE con.connamespace = 'sched'::regnamespace AND NOT coalesce(c.relispartition, false)
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
           || ' comment=' || coalesce(obj_description(i.indexrelid, 'pg_class'), '')
    FROM pg_index i JOIN rel c ON c.oid = i.indrelid
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
           || ' comment=' || coalesce(obj_description(t.oid, 'pg_trigger'), '')
    FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'policy ' || p.polrelid::regclass || ' ' || quote_ident(p.polname) || ' cmd=' || p.polcmd::text
           || ' permissive=' || p.polpermissive || ' roles=' || p.polroles::regrole[]::text
           || ' using=' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
           || ' check=' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
    FROM pg_policy p JOIN rel c ON c.oid = p.polrelid
    UNION ALL
    SELECT 'routine ' || p.oid::regprocedure || ' kind=' || p.prokind::text || ' owner=' || p.proowner::regrole
           || ' acl=' || coalesce(p.proacl::text, '')
           || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
           || ' definition=' || CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid)
                                     ELSE p.prosrc END
    FROM pg_proc p WHERE p.pronamespace = 'sched'::regnamespace
    UNION ALL
    SELECT 'type ' || t.oid::regtype || ' kind=' || t.typtype::text || ' owner=' || t.typowner::regrole
           || ' acl=' || coalesce(t.typacl::text, '')
           || ' comment=' || coalesce(obj_description(t.oid, 'pg_type'), '')
           || ' base=' || coalesce(nullif(t.typbasetype, 0)::regtype::text, '')
           || ' values=' || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                      FROM pg_enum e WHERE e.enumtypid = t.oid), '')
    FROM pg_type t
    WHERE t.typnamespace = 'sched'::regnamespace AND t.typtype IN ('e', 'd', 'r', 'm', 'b')
    UNION ALL
    SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
    FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
    WHERE x.extname = 'pg_sched' AND d.deptype = 'e'
    UNION ALL
    SELECT 'extension version=' || x.extversion || ' schema=' || x.extnamespace::regnamespace
           || ' config=' || coalesce(x.extconfig::regclass[]::text, '')
           || ' conditions=' || coalesce(x.extcondition::text, '')
    FROM pg_extension x WHERE x.extname = 'pg_sched'
) described
ORDER BY line
"#;

fn describe(db: &mut Client) -> Vec<String> {
    db.simple_query(DESCRIBE)
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("").to_owned()),
            _ => None,
        })
        .collect()
}

/// What one side has that the other has not, a line each, marked like a diff.
fn differences(fresh: &[String], updated: &[String]) -> Vec<String> {
    let only = |a: &[String], b: &[String], mark: &str| -> Vec<String> {
        a.iter()
            .filter(|l| b.binary_search(l).is_err())
            .map(|l| format!("{mark} {}", l.chars().take(600).collect::<String>()))
            .collect()
    };
    let mut out = only(fresh, updated, "fresh install only:");
    out.extend(only(updated, fresh, "updated only:"));
    out
}

#[test]
fn every_earlier_release_updates_to_the_schema_of_a_fresh_install() {
    let releases = earlier_releases();
    assert!(
        !releases.is_empty(),
        "sql/releases/ keeps no earlier release"
    );
    let cluster = Cluster::start(&[]);
    let mut fresh = cluster.connect();
    let want = describe(&mut fresh);
    assert!(
        want.iter()
            .any(|l| l.starts_with("routine sched.register_worker(")),
        "{want:?}"
    );
    for release in releases {
        let db = format!("from_{}", release.replace('.', "_"));
        fresh
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let mut updated = Client::connect(
            &format!("host={} user=postgres dbname={db}", cluster.dir.display()),
            postgres::NoTls,
        )
        .unwrap();
        updated
            .batch_execute(&format!("CREATE EXTENSION pg_sched VERSION '{release}'"))
            .unwrap();
        updated
            .batch_execute("ALTER EXTENSION pg_sched UPDATE")
            .unwrap();
        let got = describe(&mut updated);
        let diff = differences(&want, &got);
        assert!(
            diff.is_empty(),
            "release {release} updated to {CURRENT} differs from a fresh {CURRENT} install in {} place(s):\n{}",
            diff.len(),
            diff.join("\n")
        );
    }
}

/// Every table's rows as of now, on the columns it has now: a count and a digest per table.
fn tables(db: &mut Client) -> BTreeMap<String, Vec<String>> {
    db.query(
        "SELECT c.oid::regclass::text, array_agg(quote_ident(a.attname) ORDER BY a.attnum)
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relnamespace = 'sched'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         GROUP BY 1",
        &[],
    )
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// A count and a digest of each table's rows, on the given columns.
fn digest(
    db: &mut impl postgres::GenericClient,
    tables: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, (i64, String)> {
    tables
        .iter()
        .map(|(table, columns)| {
            let row = db
                .query_one(
                    &format!(
                        "SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) \
                         FROM (SELECT {} FROM {table}) r",
                        columns.join(", ")
                    ),
                    &[],
                )
                .unwrap();
            (table.clone(), (row.get(0), row.get(1)))
        })
        .collect()
}

fn marks(dir: &Path, task: &str) -> usize {
    std::fs::read_to_string(dir.join(task)).map_or(0, |t| t.lines().count())
}

#[test]
fn an_update_keeps_every_row_and_a_worker_of_the_release_before_finishes_what_runs_once() {
    for release in earlier_releases() {
        update_keeps_everything(&release);
    }
}

fn update_keeps_everything(release: &str) {
    let cluster = Cluster::start_release(release, &[]);
    let mut su = cluster.connect();
    let marks_dir = cluster.dir.join("marks");
    std::fs::create_dir_all(&marks_dir).unwrap();
    std::fs::set_permissions(
        &marks_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let mark = |task: &str| format!("echo run >> {}/{task}", marks_dir.display());

    // Who may do what: roles, a tenant, grants on a worker group, a datasource, a task group
    // and an alert group, a project's parameters.
    su.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         CREATE ROLE analytics NOLOGIN;
         GRANT analytics TO alice;
         SELECT sched.grant_tenant('alice', 'nobody');
         SELECT sched.grant_worker_group('alice', 'etl');
         SELECT sched.create_datasource('warehouse', 'postgresql', 'the warehouse');
         SELECT sched.grant_datasource('alice', 'warehouse');
         SELECT sched.create_task_group('loads', 2, 'two loads at a time');
         SELECT sched.grant_task_group('alice', 'loads');
         SELECT sched.create_alert_group('oncall', '[{\"type\": \"email\", \"to\": [\"ops@example.com\"]}]', 'the on-call');
         SELECT sched.grant_alert_group('alice', 'oncall');
         SELECT sched.set_project_params('analytics', '{\"team\": \"red\"}');",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    // Every task type: those a worker here can run, in workflows that run; MapReduce and
    // Spark (command types) defined only.
    define(
        &mut alice,
        &json!({"name": "child", "tasks": [{"name": "c", "type": "shell", "script": mark("child")}]}).to_string(),
    );
    define(
        &mut alice,
        &json!({"name": "every_type", "tenant": "nobody", "params": {"x": "1"},
            "tasks": [
            {"name": "sh", "type": "shell", "script": format!("{}; echo out", mark("sh")), "task_group": "loads"},
            {"name": "py", "type": "python", "script": "print('from python')", "deps": ["sh"]},
            {"name": "nothing", "type": "empty", "deps": ["sh"]},
            {"name": "q", "type": "sql", "sql": "SELECT 41 + 1 AS answer", "out": ["answer"], "deps": ["sh"]},
            {"name": "judge", "type": "conditions", "deps": ["q"],
             "conditions": {"groups": [{"items": [{"task": "q", "status": "succeeded"}]}]},
             "on_success": ["pick"], "on_failure": ["never"]},
            {"name": "pick", "type": "switch", "cases": [{"when": "${x} == 1", "then": ["sub"]}], "default": ["never"]},
            {"name": "never", "type": "shell", "script": "true"},
            {"name": "sub", "type": "sub_process", "workflow": "child"},
            {"name": "waits", "type": "dependent", "deps": ["sub"], "check_interval": "1 s",
             "groups": [{"items": [{"workflow": "child", "cycle": "day", "date_value": "today"}]}]}]})
        .to_string(),
    );
    define(
        &mut alice,
        &json!({"name": "daily", "tasks": [{"name": "d", "type": "shell", "script": "echo ${system.biz.date}"}]})
            .to_string(),
    );
    define(
        &mut alice,
        &json!({"name": "in_project", "project": "analytics", "tasks": [{"name": "e", "type": "empty"}]})
            .to_string(),
    );
    define(
        &mut su,
        &json!({"name": "defined_only", "tasks": [
            {"name": "jar", "type": "mr", "main_jar": "job.jar"},
            {"name": "spark", "type": "spark", "program_type": "python", "main_file": "job.py"},
            {"name": "call", "type": "procedure", "procedure": "public.nothing", "deps": ["jar"]}]})
        .to_string(),
    );
    define(
        &mut alice,
        &json!({"name": "long", "tasks": [
            {"name": "first", "type": "shell", "script": mark("first")},
            {"name": "slow", "type": "shell", "deps": ["first"],
             "script": format!("{}; echo started; while [ ! -e {}/go ]; do sleep 0.1; done; echo done", mark("slow"), marks_dir.display())},
            {"name": "last", "type": "shell", "deps": ["slow"], "script": mark("last")}]})
        .to_string(),
    );
    alice
        .batch_execute(
            "SELECT sched.schedule('child', '* * * * * ?', '{\"timezone\": \"Asia/Shanghai\"}');
             SELECT sched.schedule('daily', '0 0 4 * * ?', '{\"timezone\": \"UTC\"}');",
        )
        .unwrap();

    // A worker of the release before runs everything up to the update.
    let old_bin = release_worker_bin(release);
    assert!(
        old_bin.exists(),
        "{} is missing: make earlier-releases builds it",
        old_bin.display()
    );
    let mut old = Command::new(&old_bin);
    old.args([
        "--name",
        "old",
        "--slots",
        "4",
        "--group",
        "default",
        "--group",
        "etl",
        "--work-dir",
    ])
    .arg(cluster.dir.join("work-old"))
    .arg("--database-url")
    .arg(cluster.conn_string(WORKER_ROLE))
    .env("RUST_LOG", "info");
    let _old = cluster.start_worker("old", &mut old);

    define(
        &mut alice,
        &json!({"name": "flaky", "notify": {"strategy": "failure", "alert_group": "oncall"},
                "tasks": [{"name": "fails", "type": "shell", "script": "echo failing; exit 1"}]})
        .to_string(),
    );
    let failed = start(&mut alice, "flaky");
    assert_eq!(wait(&mut alice, failed, 60), "failed");
    let finished = start(&mut alice, "every_type");
    assert_eq!(wait(&mut alice, finished, 120), "succeeded");
    let running = start(&mut alice, "long");
    wait_for(Duration::from_secs(60), "the slow task to start", || {
        (marks(&marks_dir, "slow") == 1).then_some(())
    });
    alice
        .batch_execute("SELECT sched.backfill('daily', date '2026-01-01', date '2026-01-03', '{\"mode\": \"parallel\", \"parallelism\": 2}')")
        .unwrap();
    let backfill: i64 = su
        .query_one("SELECT max(id) FROM sched.backfill", &[])
        .unwrap()
        .get(0);

    // The master waits while the SQL is older than its library: no cron fire under it.
    wait_for(
        Duration::from_secs(30),
        "the master to say it waits",
        || {
            cluster
            .server_log()
            .contains(&format!("the extension's SQL in this database is version {release} and the library {CURRENT}"))
            .then_some(())
        },
    );
    let fired: i64 = su
        .query_one(
            "SELECT count(*) FROM sched.workflow_instance WHERE schedule_id IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        fired, 0,
        "the master fired schedules under the SQL of {release}"
    );

    // The update, with every table locked first so that the rows before and after it are
    // those of one moment; the old worker's calls wait for it.
    let tables_before = tables(&mut su);
    let names: Vec<&str> = tables_before.keys().map(String::as_str).collect();
    let lock = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", names.join(", "));
    // Taking many locks while workers take theirs in another order may deadlock: again then.
    let mut deadlocks = 0;
    let mut tx = loop {
        let mut tx = su.transaction().unwrap();
        tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .unwrap();
        match tx.batch_execute(&lock) {
            Ok(()) => break tx,
            Err(e)
                if e.code() == Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
                    && deadlocks < 50 =>
            {
                deadlocks += 1;
            }
            Err(e) => panic!("locking every table: {e}"),
        }
    };
    let before = digest(&mut tx, &tables_before);
    // The protocol the release's workers speak: 1 before the releases that say theirs.
    let says: bool = tx
        .query_one(
            "SELECT to_regprocedure('sched._worker_protocol()') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    let release_protocol: i32 = if says {
        tx.query_one("SELECT sched._worker_protocol()", &[])
            .unwrap()
            .get(0)
    } else {
        1
    };
    tx.batch_execute("ALTER EXTENSION pg_sched UPDATE").unwrap();
    let after = digest(&mut tx, &tables_before);
    let old_protocols: Vec<i32> = tx
        .query("SELECT DISTINCT protocol FROM sched.worker", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.commit().unwrap();
    let changed: Vec<String> = before
        .iter()
        .filter(|(t, v)| after.get(*t) != Some(v))
        .map(|(t, v)| format!("{t}: {v:?} -> {:?}", after.get(t)))
        .collect();
    assert!(
        changed.is_empty(),
        "the update changed rows:\n{}",
        changed.join("\n")
    );
    for table in [
        "sched.workflow",
        "sched.workflow_version",
        "sched.schedule",
        "sched.backfill",
        "sched.task_log_line",
        "sched.tenant_grant",
        "sched.use_grant",
        "sched.alert_group",
        "sched.task_group",
        "sched.datasource",
        "sched.alert",
        "sched.project_param",
    ] {
        assert!(
            before[table].0 > 0,
            "the state before the update has no row in {table}: {before:?}"
        );
    }
    assert_eq!(
        old_protocols,
        vec![release_protocol],
        "registrations of {release} are of protocol {release_protocol}"
    );
    let version = extension_version(&mut su);
    assert_eq!(version, CURRENT);

    // Tasks defined before the update have their depth in the DAG and their deps, which
    // sched.instance_tasks pages by, as tasks defined now do.
    let kept: Vec<(String, i32, Vec<String>)> = su
        .query(
            "SELECT td.name, td.depth, td.deps FROM sched.task_definition td
               JOIN sched.workflow_version v ON v.id = td.workflow_version_id
               JOIN sched.workflow w ON w.id = v.workflow_id
              WHERE w.name = 'every_type' ORDER BY td.depth, td.name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected: Vec<(String, i32, Vec<String>)> = [
        ("sh", 0, &[][..]),
        ("nothing", 1, &["sh"]),
        ("py", 1, &["sh"]),
        ("q", 1, &["sh"]),
        ("judge", 2, &["q"]),
        // A branch's targets depend on its CONDITIONS or SWITCH task.
        ("pick", 3, &["judge"]),
        ("never", 4, &["judge", "pick"]),
        ("sub", 4, &["pick"]),
        ("waits", 5, &["sub"]),
    ]
    .iter()
    .map(|(n, d, deps)| {
        (
            n.to_string(),
            *d,
            deps.iter().map(|x| x.to_string()).collect(),
        )
    })
    .collect();
    assert_eq!(kept, expected);

    // The master goes on, the old worker finishes what runs, and runs nothing twice.
    wait_for(Duration::from_secs(30), "the master to go on", || {
        cluster
            .server_log()
            .contains("the master goes on")
            .then_some(())
    });
    std::fs::write(marks_dir.join("go"), "").unwrap();
    assert_eq!(wait(&mut alice, running, 120), "succeeded");
    for task in ["first", "slow", "last"] {
        assert_eq!(
            marks(&marks_dir, task),
            1,
            "{task} ran {} times",
            marks(&marks_dir, task)
        );
    }
    let attempts: i64 = su
        .query_one(
            "SELECT count(*) FROM sched._attempts WHERE workflow_instance_id = $1",
            &[&running],
        )
        .unwrap()
        .get(0);
    assert_eq!(attempts, 3);
    let ran_on: Vec<String> = su
        .query(
            "SELECT DISTINCT w.name FROM sched._attempts a JOIN sched.worker w ON w.id = a.worker_id
             WHERE a.workflow_instance_id = $1",
            &[&running],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ran_on, vec!["old".to_owned()]);
    wait_for(Duration::from_secs(120), "the backfill to finish", || {
        let state: String = su
            .query_one(
                "SELECT state::text FROM sched.backfill WHERE id = $1",
                &[&backfill],
            )
            .unwrap()
            .get(0);
        (state == "succeeded").then_some(())
    });
    wait_for(
        Duration::from_secs(30),
        "a cron fire after the update",
        || {
            let fired: i64 = su
                .query_one(
                    "SELECT count(*) FROM sched.workflow_instance WHERE schedule_id IS NOT NULL",
                    &[],
                )
                .unwrap()
                .get(0);
            (fired > 0).then_some(())
        },
    );

    // The finished instance reads as before, logs and results included.
    let out = task_stdout(&mut alice, finished, "sh");
    assert_eq!(out, vec!["out".to_owned()]);
    let answer: serde_json::Value = su
        .query_one(
            "SELECT out_params FROM sched._attempts a JOIN sched.task_definition d ON d.id = a.task_id
             WHERE a.workflow_instance_id = $1 AND d.name = 'q'",
            &[&finished],
        )
        .unwrap()
        .get(0);
    assert_eq!(answer["answer"], json!("42"), "{answer}");

    // A worker of this release joins beside the old one and runs new work.
    let _new = cluster.worker("new", &["--group", "default", "--group", "etl"]);
    let protocols: Vec<(String, i32)> = su
        .query(
            "SELECT name, protocol FROM sched.workers WHERE alive ORDER BY name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let current_protocol: i32 = su
        .query_one("SELECT sched._worker_protocol()", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        protocols,
        vec![
            ("new".to_owned(), current_protocol),
            ("old".to_owned(), release_protocol)
        ]
    );
    let again = start(&mut alice, "every_type");
    assert_eq!(wait(&mut alice, again, 120), "succeeded");
}

#[test]
fn workers_and_clients_of_another_version_are_refused_saying_what_to_upgrade() {
    // The oldest release: its SQL serves no protocol this release's worker speaks. (A release
    // whose SQL does serve it, as 0.3.0's serves 0.4.0's protocol 2, runs this worker.)
    let Some(release) = earlier_releases().first().cloned() else {
        panic!("sql/releases/ keeps no earlier release");
    };
    let cluster = Cluster::start_release(&release, &[]);
    let mut su = cluster.connect();
    su.batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();

    // This release's worker against SQL that serves none of its protocols: it exits, saying so.
    let out = Command::new(worker_bin())
        .args(["--name", "too_new", "--work-dir"])
        .arg(cluster.dir.join("work"))
        .arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "pg_sched {release} in this database is older than this sched-worker {CURRENT}"
        )) && err.contains("ALTER EXTENSION pg_sched UPDATE"),
        "{err}"
    );

    // The command line and the console, the same.
    let out = cluster.sched("alice", &["ls", "workflows"]);
    let err = lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "pg_sched {release} in this database is older than this sched {CURRENT}"
        )) && err.contains("ALTER EXTENSION pg_sched UPDATE"),
        "{err}"
    );
    require_passwords(&cluster);
    su.batch_execute("ALTER ROLE alice PASSWORD 'secret-alice'")
        .unwrap();
    let console = Console::start(&cluster);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let sign_in = |agent: &ureq::Agent| {
        let mut r = agent
            .post(&format!("{}/api/login", console.base))
            .send_json(json!({"user": "alice", "password": "secret-alice"}))
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    };
    let (status, body) = sign_in(&agent);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains(&format!(
            "pg_sched {release} in this database is older than this sched-console {CURRENT}"
        )),
        "{body}"
    );

    su.batch_execute("ALTER EXTENSION pg_sched UPDATE").unwrap();
    cluster.sched_expect("postgres", &["ls", "workflows"], 0);
    let (status, body) = sign_in(&agent);
    assert_eq!(status, 200, "{body}");

    // A protocol the extension does not serve, either way.
    let current: i32 = su
        .query_one("SELECT sched._worker_protocol()", &[])
        .unwrap()
        .get(0);
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let newer = error_of(worker.query_one(
        "SELECT sched.register_worker('w', 'h', protocol => $1)",
        &[&(current + 1)],
    ));
    assert!(
        newer.contains(&format!("protocol: this sched-worker speaks worker protocol {}, and pg_sched {CURRENT} serves protocols 1 to {current}", current + 1))
            && newer.contains("ALTER EXTENSION pg_sched UPDATE"),
        "{newer}"
    );
    let older =
        error_of(worker.query_one("SELECT sched.register_worker('w', 'h', protocol => 0)", &[]));
    assert!(
        older.contains(&format!("upgrade sched-worker to release {CURRENT}")),
        "{older}"
    );
    let nothing: i64 = su
        .query_one("SELECT count(*) FROM sched.worker", &[])
        .unwrap()
        .get(0);
    assert_eq!(nothing, 0, "a refused registration left a row");
}
