//! Runs and attempts a page at a time (`sched.list_workflow_instances`,
//! `sched.list_task_instances`, what the console's lists call): newest first, keyset pages
//! that neither skip nor repeat a row, filters by name that are checked, and only what the
//! caller may see. Their speed at a million runs is `make bench`'s console_lists.

use sched_tests::*;
use serde_json::json;

fn ids(
    db: &mut Client,
    sql: &str,
    filters: serde_json::Value,
    before: Option<i64>,
    n: i32,
) -> Vec<i64> {
    db.query(sql, &[&filters, &before, &n])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn lists_page_newest_first_filter_by_name_and_show_only_what_is_yours() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    define(
        &mut alice,
        r#"{"name": "ok", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty", "deps": ["a"]}]}"#,
    );
    define(
        &mut alice,
        r#"{"name": "bad", "tasks": [{"name": "x", "type": "shell", "script": "exit 3"}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "bobs", "tasks": [{"name": "b", "type": "empty"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let mut oks = Vec::new();
    for _ in 0..7 {
        let id = start(&mut alice, "ok");
        assert_eq!(wait(&mut alice, id, 60), "succeeded");
        oks.push(id);
    }
    let bad = start(&mut alice, "bad");
    assert_eq!(wait(&mut alice, bad, 60), "failed");
    let bobs = start(&mut bob, "bobs");
    assert_eq!(wait(&mut bob, bobs, 60), "succeeded");

    let runs = "SELECT id FROM sched.list_workflow_instances($1, $2, $3)";
    // Pages of 3, each from the last id of the one before: every run once, newest first.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = ids(&mut alice, runs, json!({}), before, 3);
        if page.is_empty() {
            break;
        }
        before = page.last().copied();
        seen.extend(page);
    }
    let mut expected = oks.clone();
    expected.push(bad);
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected, "alice's pages");
    // The same rows as the view, column for column.
    let same: bool = alice
        .query_one(
            "SELECT (SELECT array_agg(to_jsonb(l) ORDER BY l.id DESC) FROM sched.list_workflow_instances('{}', NULL, 100) l)
                  = (SELECT array_agg(to_jsonb(v) ORDER BY v.id DESC) FROM sched.workflow_instances v)",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(same, "a list row differs from the view's");

    // Filters by name; bob sees only his.
    assert_eq!(
        ids(&mut alice, runs, json!({"state": "failed"}), None, 50),
        [bad]
    );
    assert_eq!(
        ids(
            &mut alice,
            runs,
            json!({"workflow": "ok", "state": "succeeded"}),
            None,
            2
        ),
        [oks[6], oks[5]]
    );
    assert_eq!(
        ids(
            &mut alice,
            runs,
            json!({"command_type": "start_process", "started_by": "alice"}),
            Some(oks[1]),
            50
        ),
        [oks[0]]
    );
    assert_eq!(
        ids(&mut alice, runs, json!({"workflow": "bobs"}), None, 50),
        Vec::<i64>::new()
    );
    assert_eq!(ids(&mut bob, runs, json!({}), None, 50), [bobs]);
    let future = json!({"from": "2999-01-01T00:00:00Z"});
    assert_eq!(ids(&mut alice, runs, future, None, 50), Vec::<i64>::new());

    let attempts = "SELECT workflow_instance_id FROM sched.list_task_instances($1, $2, $3)";
    assert_eq!(
        ids(&mut alice, attempts, json!({"task": "x"}), None, 50),
        [bad]
    );
    assert_eq!(
        ids(&mut alice, attempts, json!({"instance": oks[0]}), None, 50),
        [oks[0], oks[0]]
    );
    assert_eq!(
        ids(
            &mut alice,
            attempts,
            json!({"workflow": "ok", "worker": "w1", "state": "succeeded"}),
            None,
            50
        )
        .len(),
        14
    );
    assert_eq!(ids(&mut bob, attempts, json!({}), None, 50), [bobs]);

    // Bad input names what was wrong.
    for (sql, filters, n, expected) in [
        (
            runs,
            json!({"colour": "red"}),
            10,
            "filters.colour: not a filter; allowed: business_date, command_type, from, started_by, state, to, workflow",
        ),
        (
            runs,
            json!({"state": "done"}),
            10,
            "filters.state: \"done\" is not a workflow state; allowed: submitted",
        ),
        (
            runs,
            json!({"from": "yesterday-ish"}),
            10,
            "filters.from: \"yesterday-ish\" is not a time",
        ),
        (
            runs,
            json!({"business_date": "2026-13-01"}),
            10,
            "filters.business_date: \"2026-13-01\" is not a date",
        ),
        (
            runs,
            json!({"workflow": 7}),
            10,
            "filters.workflow: must be a string",
        ),
        (runs, json!([]), 10, "filters: must be a JSON object"),
        (
            runs,
            json!({}),
            0,
            "max_rows: must be between 1 and 1000, got 0",
        ),
        (
            attempts,
            json!({"state": "done"}),
            10,
            "filters.state: \"done\" is not a task state",
        ),
        (
            attempts,
            json!({"instance": "seven"}),
            10,
            "filters.instance: \"seven\" is not an id",
        ),
    ] {
        let e = error_of(alice.query(sql, &[&filters, &None::<i64>, &n]));
        assert!(e.contains(expected), "{filters} {n}: {e}");
    }
}

/// The home page's counts over a range (`sched.hourly_instance_states`,
/// `sched.hourly_task_states`): what the hourly views count, for the range only, yours only;
/// a bad range is refused naming it.
#[test]
fn counts_by_the_hour_over_a_range_are_the_views_for_that_range() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    define(
        &mut alice,
        r#"{"name": "ok", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty", "deps": ["a"]}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "bobs", "tasks": [{"name": "b", "type": "empty"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    for _ in 0..3 {
        let id = start(&mut alice, "ok");
        assert_eq!(wait(&mut alice, id, 60), "succeeded");
    }
    let id = start(&mut bob, "bobs");
    assert_eq!(wait(&mut bob, id, 60), "succeeded");
    // A run of last year, as if it had been kept: in the views, not in a range of today.
    db.batch_execute(
        "DO $$
         DECLARE
             c text;
             v text;
         BEGIN
             SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position),
                    string_agg(CASE WHEN data_type = 'timestamp with time zone'
                                    THEN format('%I - interval ''1 year''', column_name)
                                    ELSE quote_ident(column_name) END, ', ' ORDER BY ordinal_position)
               INTO c, v
               FROM information_schema.columns
              WHERE table_schema = 'sched' AND table_name = 'workflow_instance' AND column_name <> 'id';
             EXECUTE format('INSERT INTO sched.workflow_instance (%s) SELECT %s FROM sched.workflow_instance ORDER BY id LIMIT 1', c, v);
         END
         $$",
    )
    .unwrap();

    let count = |db: &mut Client, sql: &str| -> i64 { db.query_one(sql, &[]).unwrap().get(0) };
    let today = "now() - interval '1 day', now() + interval '1 minute'";
    assert_eq!(
        count(
            &mut alice,
            &format!(
                "SELECT sum(instances)::bigint FROM sched.hourly_instance_states({today}) WHERE workflow = 'ok' AND state = 'succeeded'"
            )
        ),
        3
    );
    assert_eq!(
        count(
            &mut alice,
            "SELECT sum(instances)::bigint FROM sched.instance_states_hourly"
        ),
        4,
        "the view counts last year's run too"
    );
    assert_eq!(
        count(
            &mut alice,
            &format!("SELECT sum(attempts)::bigint FROM sched.hourly_task_states({today})")
        ),
        6
    );
    // The same rows as the views over the same range.
    let same: bool = alice
        .query_one(
            &format!(
                "SELECT (SELECT array_agg(to_jsonb(f) ORDER BY f.hour, f.workflow, f.state) FROM sched.hourly_task_states({today}) f)
                      = (SELECT array_agg(to_jsonb(v) ORDER BY v.hour, v.workflow, v.state) FROM sched.task_states_hourly v
                         WHERE hour >= date_trunc('hour', now() - interval '1 day'))"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert!(same, "hourly_task_states differs from task_states_hourly");
    assert_eq!(
        count(
            &mut bob,
            &format!(
                "SELECT count(*) FROM sched.hourly_instance_states({today}) WHERE workflow = 'ok'"
            )
        ),
        0,
        "bob sees none of alice's runs"
    );
    assert_eq!(
        count(
            &mut bob,
            &format!("SELECT sum(attempts)::bigint FROM sched.hourly_task_states({today})")
        ),
        1
    );
    let e = error_of(alice.query(
        "SELECT * FROM sched.hourly_task_states(now(), now() - interval '1 hour')",
        &[],
    ));
    assert!(
        e.contains("range_from, range_to: must both be given, range_from before range_to"),
        "{e}"
    );
    let e = error_of(alice.query(
        "SELECT * FROM sched.hourly_instance_states(NULL, now())",
        &[],
    ));
    assert!(
        e.contains("range_from, range_to: must both be given"),
        "{e}"
    );
}

/// Task runs are found two ways: run by run for a role that sees up to 1,000 runs (its
/// attempts may be older than a million of others'), newest first over every attempt for one
/// that sees more. Both walk the view's rows in its order, each once, filtered alike.
#[test]
fn task_runs_page_alike_for_a_role_that_sees_few_runs_or_many() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    define(
        &mut alice,
        r#"{"name": "ok", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty", "deps": ["a"]},
                                   {"name": "c", "type": "shell", "script": "exit 0", "deps": ["a"]}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "bobs", "tasks": [{"name": "b", "type": "empty"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let bobs = start(&mut bob, "bobs");
    assert_eq!(wait(&mut bob, bobs, 60), "succeeded");
    for _ in 0..4 {
        let id = start(&mut alice, "ok");
        assert_eq!(wait(&mut alice, id, 60), "succeeded");
    }
    let walk = |db: &mut Client, filters: serde_json::Value| {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = ids(
                db,
                "SELECT id FROM sched.list_task_instances($1, $2, $3)",
                filters.clone(),
                before,
                4,
            );
            if page.is_empty() {
                break seen;
            }
            before = page.last().copied();
            seen.extend(page);
        }
    };
    let view = |db: &mut Client, condition: &str| -> Vec<i64> {
        db.query(
            &format!("SELECT id FROM sched.task_instances WHERE {condition} ORDER BY id DESC"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let all = view(&mut alice, "true");
    assert_eq!(all.len(), 12, "alice's attempts: {all:?}");
    let shells = view(&mut alice, "task = 'c'");
    assert_eq!(walk(&mut alice, json!({})), all, "few runs");
    assert_eq!(walk(&mut alice, json!({"task": "c"})), shells, "few runs");
    assert_eq!(walk(&mut bob, json!({})), view(&mut bob, "true"));

    // Past 1,000 runs: copies of a finished run, which a long history leaves (without their
    // attempts, as retention drops history before the runs).
    db.batch_execute(
        "DO $copies$
         DECLARE
             columns text;
         BEGIN
             SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) INTO columns
               FROM information_schema.columns
              WHERE table_schema = 'sched' AND table_name = 'workflow_instance' AND column_name <> 'id';
             EXECUTE format('INSERT INTO sched.workflow_instance (%1$s)
                             SELECT %1$s FROM sched.workflow_instance, generate_series(1, 1000)
                              WHERE id = (SELECT min(i.id) FROM sched.workflow_instance i
                                            JOIN sched.workflow w ON w.id = i.workflow_id WHERE w.name = ''ok'')',
                            columns);
         END
         $copies$;",
    )
    .unwrap();
    assert_eq!(walk(&mut alice, json!({})), all, "many runs");
    assert_eq!(walk(&mut alice, json!({"task": "c"})), shells, "many runs");
    assert_eq!(walk(&mut bob, json!({})), view(&mut bob, "true"));
}
