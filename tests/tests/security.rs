//! The security model (docs/architecture.md, "Security model") as an attacker who is a sched_user would test it: identity is
//! the role executing the call, nothing running as superuser resolves names through schemas
//! others can write, roles that own workflows cannot silently vanish, and tasks never see the
//! worker's secrets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sched_tests::*;

const ALICE_SPEC: &str =
    r#"{"name": "alice_etl", "tasks": [{"name": "a", "type": "shell", "script": "echo alice"}]}"#;

/// A connection whose notices (RAISE NOTICE, also from index expressions it causes to run)
/// are collected.
fn with_notices(cluster: &Cluster, user: &str) -> (Client, Arc<Mutex<Vec<String>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = notices.clone();
    let client = <postgres::Config as std::str::FromStr>::from_str(&cluster.conn_string(user))
        .unwrap()
        .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_owned()))
        .connect(postgres::NoTls)
        .unwrap();
    (client, notices)
}

fn alice_versions(db: &mut Client) -> (i32, String) {
    let row = db
        .query_one(
            "SELECT w.current_version, v.created_by FROM sched.workflow w
             JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
             WHERE w.name = 'alice_etl'",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn index_expressions_run_by_analyze_or_autovacuum_act_as_the_table_owner() {
    let cluster = Cluster::start(&["autovacuum_naptime = 1"]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             CREATE ROLE bob LOGIN IN ROLE sched_user;
             CREATE SCHEMA bob AUTHORIZATION bob;",
        )
        .unwrap();
    define(&mut cluster.connect_as("alice"), ALICE_SPEC);

    // bob's "immutable" function tries to read and replace alice's workflow and reports what
    // it managed; an expression index makes ANALYZE run it inside the analyzing session.
    let mut bob = cluster.connect_as("bob");
    bob.batch_execute(
        r#"CREATE FUNCTION bob.probe(x integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $f$
           BEGIN
               BEGIN
                   PERFORM sched.workflow_spec('alice_etl');
                   PERFORM sched.create_workflow('{"name": "alice_etl", "tasks": [{"name": "pwn", "type": "shell", "script": "id"}]}', true);
                   RAISE NOTICE 'probe: replaced';
               EXCEPTION WHEN insufficient_privilege THEN
                   RAISE NOTICE 'probe: refused: %', SQLERRM;
               END;
               RAISE NOTICE 'probe: sees % workflows', (SELECT count(*) FROM sched.workflows);
               RETURN x;
           END $f$;
           CREATE TABLE bob.t (a integer) WITH (autovacuum_enabled = false);
           INSERT INTO bob.t SELECT generate_series(1, 50);
           CREATE INDEX t_probe ON bob.t (bob.probe(a));"#,
    )
    .unwrap();

    let (mut superuser, notices) = with_notices(&cluster, "postgres");
    superuser.batch_execute("ANALYZE bob.t").unwrap();
    let seen = notices.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|n| n.starts_with("probe: refused: permission denied for workflow \"alice_etl\"")),
        "{seen:?}"
    );
    assert!(seen.iter().all(|n| n != "probe: replaced"), "{seen:?}");
    assert!(
        seen.iter().any(|n| n == "probe: sees 0 workflows"),
        "{seen:?}"
    );

    // The same through autovacuum, which analyzes as the bootstrap superuser. (bob writes the
    // rows: whoever inserts runs index expressions as themselves.)
    bob.batch_execute(
        "ALTER TABLE bob.t SET (autovacuum_enabled = true, autovacuum_analyze_threshold = 1,
                                    autovacuum_analyze_scale_factor = 0);
             INSERT INTO bob.t SELECT generate_series(51, 100);",
    )
    .unwrap();
    wait_for(
        Duration::from_secs(90),
        "autovacuum to analyze bob.t",
        || {
            superuser
            .query_one(
                "SELECT autoanalyze_count > 0 FROM pg_stat_user_tables WHERE relid = 'bob.t'::regclass",
                &[],
            )
            .unwrap()
            .get::<_, bool>(0)
            .then_some(())
        },
    );
    assert_eq!(alice_versions(&mut superuser), (1, "alice".to_owned()));
}

#[test]
fn a_security_definer_function_acts_as_its_owner_whoever_calls_it() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             CREATE ROLE bob LOGIN IN ROLE sched_user;
             CREATE SCHEMA bob AUTHORIZATION bob;",
        )
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(&mut alice, ALICE_SPEC);

    let mut bob = cluster.connect_as("bob");
    bob.batch_execute(
        r#"CREATE FUNCTION bob.helper() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS
           $f$ SELECT sched.start_workflow('alice_etl') $f$;
           CREATE FUNCTION bob.visible() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS
           $f$ SELECT count(*) FROM sched.workflows $f$;
           GRANT USAGE ON SCHEMA bob TO PUBLIC;
           GRANT EXECUTE ON FUNCTION bob.helper(), bob.visible() TO PUBLIC;"#,
    )
    .unwrap();
    // Called by alice, who may start her workflow, or by a superuser: it acts as bob.
    for caller in [&mut alice, &mut admin] {
        let err = error_of(caller.query_one("SELECT bob.helper()", &[]));
        assert!(
            err.contains("permission denied for workflow \"alice_etl\""),
            "{err}"
        );
        let seen: i64 = caller
            .query_one("SELECT bob.visible()", &[])
            .unwrap()
            .get(0);
        assert_eq!(seen, 0, "the views see with the same identity as the API");
    }
    // SET ROLE inside a superuser session acts as that role, and is recorded as it.
    admin
        .batch_execute("SET ROLE alice; SELECT sched.start_workflow('alice_etl'); RESET ROLE;")
        .unwrap();
    let by: String = admin
        .query_one(
            "SELECT issued_by FROM sched.commands ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(by, "alice");
    // The internal functions behind the API cannot be called directly to name someone else.
    let err = error_of(alice.query_one(
        "SELECT sched._start_workflow('postgres'::regrole, 'alice_etl', '{}', '{}')",
        &[],
    ));
    assert!(err.contains("permission denied for function"), "{err}");
}

#[test]
fn every_function_that_runs_privileged_pins_its_search_path() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let unpinned: Vec<String> = db
        .query(
            "SELECT p.oid::regprocedure::text
             FROM pg_proc p
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_sched'
             WHERE (p.prosecdef OR p.proname IN ('_master_tick', '_maintain_logs', '_maintain_days',
                                                 '_archive_finished', '_expire_history'))
               AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        unpinned.is_empty(),
        "privileged without a pinned search_path: {unpinned:?}"
    );

    // Every public function is the caller-capturing trampoline (never SECURITY DEFINER itself,
    // which would make its owner the caller) over an internal function that exists. But
    // assume_api_token: it switches the session's current role as SET ROLE does, which the
    // end of a SECURITY DEFINER frame would undo; it checks its session itself, and must be
    // SECURITY INVOKER (tests/tests/api_tokens.rs).
    let invoker: bool = db
        .query_one(
            "SELECT NOT prosecdef FROM pg_proc WHERE oid = 'sched.assume_api_token(text)'::regprocedure",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(invoker, "sched.assume_api_token must be SECURITY INVOKER");
    let wrong: Vec<String> = db
        .query(
            "SELECT p.oid::regprocedure::text
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'sched'
             WHERE p.proname NOT LIKE '\\_%' AND p.prokind = 'f' AND p.proname <> 'assume_api_token'
               AND (p.prosecdef OR p.prosrc <> 'sched_as_caller'
                    OR to_regprocedure(format('sched._%s(regrole%s)', p.proname,
                         (SELECT string_agg(', ' || format_type(t, NULL), '' ORDER BY i)
                          FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, i)))) IS NULL)
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        wrong.is_empty(),
        "not a trampoline over _<name>(principal, ...): {wrong:?}"
    );
}

#[test]
fn objects_planted_in_public_never_run_as_superuser() {
    let cluster = Cluster::start(&["sched.worker_timeout = 2"]);
    let mut admin = cluster.connect();
    // mallory may create in public, as a database owner can, and uses sched as a user.
    admin
        .batch_execute(
            "CREATE ROLE mallory LOGIN IN ROLE sched_user;
             GRANT CREATE ON SCHEMA public TO mallory;
             CREATE TABLE public.planted (who text, what text);
             GRANT INSERT ON public.planted TO PUBLIC;",
        )
        .unwrap();
    let mut mallory = cluster.connect_as("mallory");
    mallory
        .batch_execute(
            "CREATE FUNCTION public.state_eq(sched.task_state, sched.task_state) RETURNS boolean
             LANGUAGE sql AS $f$ INSERT INTO public.planted VALUES (current_user, '=');
                               SELECT $1::text = $2::text $f$;
             CREATE OPERATOR public.= (LEFTARG = sched.task_state, RIGHTARG = sched.task_state,
                                       FUNCTION = public.state_eq);
             CREATE FUNCTION public.collect(bigint[], bigint) RETURNS bigint[]
             LANGUAGE sql AS $f$ INSERT INTO public.planted VALUES (current_user, 'array_agg');
                               SELECT $1 || $2 $f$;
             CREATE AGGREGATE public.array_agg(bigint) (SFUNC = public.collect, STYPE = bigint[]);",
        )
        .unwrap();
    // The planted objects do capture unpinned code in an ordinary session...
    admin
        .batch_execute(
            "SELECT array_agg(x::bigint) FROM generate_series(1, 2) x;
             SELECT 'queued'::sched.task_state = 'queued'::sched.task_state;",
        )
        .unwrap();
    let captured: i64 = admin
        .query_one(
            "SELECT count(DISTINCT what) FROM public.planted WHERE who = 'postgres'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(captured, 2, "the bait works in a plain superuser session");
    admin.batch_execute("TRUNCATE public.planted").unwrap();

    // ... but not the API called by a superuser, the worker protocol, or the master failing
    // over a dead worker's task.
    define(
        &mut admin,
        r#"{"name": "nap", "tasks": [{"name": "a", "type": "shell", "script": "sleep 600"},
                                     {"name": "b", "type": "empty"}]}"#,
    );
    let mut worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut admin, "nap");
    wait_for(Duration::from_secs(30), "the task to run", || {
        task_states(&mut admin, id)
            .iter()
            .any(|(t, s, _)| t == "a" && s == "running")
            .then_some(())
    });
    worker.signal(libc::SIGKILL);
    worker.wait_exit(Duration::from_secs(10));
    wait_for(
        Duration::from_secs(60),
        "the master to fail the task over",
        || {
            task_states(&mut admin, id)
                .iter()
                .any(|(t, s, _)| t == "a" && s == "need_fault_tolerance")
                .then_some(())
        },
    );
    admin
        .execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut admin, id, 30), "stopped");
    let ran: Vec<(String, String)> = admin
        .query("SELECT who, what FROM public.planted", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        ran.is_empty(),
        "planted objects ran inside pg_sched: {ran:?}"
    );
}

#[test]
fn drop_role_is_refused_while_it_owns_workflows_and_reassign_or_drop_owned_handle_them() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             CREATE ROLE bob LOGIN IN ROLE sched_user;
             CREATE ROLE carol LOGIN IN ROLE sched_user;
             CREATE ROLE dave LOGIN IN ROLE sched_user;",
        )
        .unwrap();
    define(&mut cluster.connect_as("alice"), ALICE_SPEC);
    let err = error_of(admin.execute("DROP ROLE alice", &[]));
    assert!(err.contains("cannot be dropped"), "{err}");

    admin
        .batch_execute("REASSIGN OWNED BY alice TO carol; DROP OWNED BY alice; DROP ROLE alice")
        .unwrap();
    let mut carol = cluster.connect_as("carol");
    let owner: String = carol
        .query_one(
            "SELECT owner::text FROM sched.workflows WHERE name = 'alice_etl'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "carol");
    start(&mut carol, "alice_etl");
    // carol now owns it, so she cannot be dropped either.
    assert!(error_of(admin.execute("DROP ROLE carol", &[])).contains("cannot be dropped"));

    // DROP OWNED drops the workflows, but not while one of them is running.
    let mut bob = cluster.connect_as("bob");
    define(
        &mut bob,
        r#"{"name": "bobs", "tasks": [{"name": "a", "type": "shell", "script": "sleep 600"}]}"#,
    );
    let running = start(&mut bob, "bobs");
    let err = error_of(admin.execute("DROP OWNED BY bob", &[]));
    assert!(err.contains("unfinished instance"), "{err}");
    bob.execute("SELECT sched.stop_workflow($1)", &[&running])
        .unwrap();
    admin
        .batch_execute("DROP OWNED BY bob; DROP ROLE bob")
        .unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM sched.workflow WHERE name = 'bobs'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    // A tenant grant holds its role too; DROP OWNED removes it.
    admin
        .batch_execute("SELECT sched.grant_tenant('dave', 'nobody')")
        .unwrap();
    assert!(error_of(admin.execute("DROP ROLE dave", &[])).contains("cannot be dropped"));
    admin
        .batch_execute("DROP OWNED BY dave; DROP ROLE dave")
        .unwrap();
    let grants: i64 = admin
        .query_one("SELECT count(*) FROM sched.tenants", &[])
        .unwrap()
        .get(0);
    assert_eq!(grants, 0);
}

#[test]
fn tenants_are_granted_by_sched_admin_and_checked_at_definition_and_start() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             CREATE ROLE bob LOGIN IN ROLE sched_user;
             CREATE ROLE ops LOGIN IN ROLE sched_admin;",
        )
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let spec = r#"{"name": "as_nobody", "tenant": "nobody", "tasks": [{"name": "a", "type": "shell", "script": "id -un"}]}"#;
    let spec_json: serde_json::Value = serde_json::from_str(spec).unwrap();
    let err = error_of(alice.query_one("SELECT sched.create_workflow($1)", &[&spec_json]));
    assert_eq!(
        err,
        "tenant: role alice may not run tasks as OS user \"nobody\""
    );
    let err = error_of(alice.query_one("SELECT sched.grant_tenant('alice', 'nobody')", &[]));
    assert!(
        err.contains("permission denied for sched.grant_tenant"),
        "{err}"
    );

    let mut ops = cluster.connect_as("ops");
    let err = error_of(ops.query_one("SELECT sched.grant_tenant('alice', 'no body')", &[]));
    assert!(
        err.starts_with("os_user: \"no body\" is not a valid OS user name"),
        "{err}"
    );
    let added: bool = ops
        .query_one("SELECT sched.grant_tenant('alice', 'nobody')", &[])
        .unwrap()
        .get(0);
    assert!(added);
    define(&mut alice, spec);

    // bob cannot pick a tenant at start that he was not granted, even on a workflow he may run.
    define(
        &mut bob_conn(&cluster),
        r#"{"name": "bobs", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let err = error_of(bob_conn(&cluster).query_one(
        "SELECT sched.start_workflow('bobs', '{}', '{\"tenant\": \"nobody\"}')",
        &[],
    ));
    assert_eq!(
        err,
        "options.tenant: role bob may not run tasks as OS user \"nobody\""
    );

    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut alice, "as_nobody");
    assert_eq!(wait(&mut alice, id, 60), "succeeded");
    assert_eq!(task_output(&mut alice, id, "a"), ["nobody"]);
    let tenant: Option<String> = alice
        .query_one(
            "SELECT tenant FROM sched.workflow_instances WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(tenant.as_deref(), Some("nobody"));

    // Revoked: the next start is refused (the owner's code would run as it).
    let revoked: bool = ops
        .query_one("SELECT sched.revoke_tenant('alice', 'nobody')", &[])
        .unwrap()
        .get(0);
    assert!(revoked);
    let err = error_of(alice.query_one("SELECT sched.start_workflow('as_nobody')", &[]));
    assert_eq!(
        err,
        "tenant: role alice may not run tasks as OS user \"nobody\""
    );

    // A tenant the worker's host does not have fails the task with the reason.
    ops.batch_execute("SELECT sched.grant_tenant('alice', 'no_such_user_here')")
        .unwrap();
    let id = alice
        .query_one(
            "SELECT sched.start_workflow('as_nobody', '{}', '{\"tenant\": \"no_such_user_here\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut alice, id, 60), "failed");
    let out = task_output(&mut alice, id, "a");
    assert!(
        out.len() == 1
            && out[0].contains("tenant \"no_such_user_here\": no such OS user on worker host"),
        "{out:?}"
    );
}

fn bob_conn(cluster: &Cluster) -> Client {
    cluster.connect_as("bob")
}

#[test]
fn tasks_see_an_allowlisted_environment_and_tenants_cannot_read_the_workers_secrets() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    let secret = cluster.dir.join("secret.txt");
    std::fs::write(&secret, "s3cret-file\n").unwrap();
    let url_file = cluster.dir.join("worker.url");
    std::fs::write(
        &url_file,
        format!("{} password=s3cret-url\n", cluster.conn_string(WORKER_ROLE)),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    for file in [&secret, &url_file] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // A connection string file that others can read is refused.
    let loose = cluster.dir.join("loose.url");
    std::fs::write(&loose, cluster.conn_string(WORKER_ROLE)).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(worker_bin())
        .arg("--database-url-file")
        .arg(&loose)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("mode 0644") && stderr.contains("chmod 600"),
        "{stderr}"
    );

    let mut cmd = cluster.worker_command("w1");
    cmd.arg("--database-url-file")
        .arg(&url_file)
        .env("SCHED_TEST_SECRET", "s3cret-env")
        .env("TZ", "Europe/Paris");
    let worker = cluster.start_worker("w1", &mut cmd);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", worker.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("s3cret"));

    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             SELECT sched.grant_tenant('alice', 'nobody');",
        )
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let probe = format!(
        "id -u; cat {secret} || echo denied-file; cat /proc/{pid}/environ || echo denied-environ; \
         cat {url} || echo denied-url; env | sort",
        secret = secret.display(),
        pid = worker.pid(),
        url = url_file.display(),
    );
    let spec = serde_json::json!({
        "name": "probe", "env": {"STAGE": "prod"},
        "tasks": [
            {"name": "plain", "type": "shell", "script": "env | sort", "env": {"MODE": "delta"}},
            {"name": "tenant", "type": "shell", "script": probe}
        ]
    });
    alice
        .query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();

    let id = start(&mut alice, "probe");
    assert_eq!(wait(&mut alice, id, 60), "succeeded");
    let plain = task_output(&mut alice, id, "plain");
    let names: Vec<&str> = plain.iter().filter_map(|l| l.split('=').next()).collect();
    for expected in [
        "MODE",
        "STAGE",
        "SCHED_TASK_NAME",
        "SCHED_TASK_INSTANCE_ID",
        "TZ",
        "PATH",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {plain:?}");
    }
    assert!(plain.contains(&"TZ=Europe/Paris".to_owned()), "{plain:?}");
    for hidden in ["SCHED_TEST_SECRET", "SCHED_DATABASE_URL_FILE", "RUST_LOG"] {
        assert!(!names.contains(&hidden), "{hidden} leaked: {plain:?}");
    }

    let started = alice
        .query_one(
            "SELECT sched.start_workflow('probe', '{}', '{\"tenant\": \"nobody\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut alice, started, 60), "succeeded");
    let out = task_stdout(&mut alice, started, "tenant");
    assert_eq!(out.first().map(String::as_str), Some("65534"), "{out:?}");
    for denied in ["denied-file", "denied-environ", "denied-url"] {
        assert!(out.iter().any(|l| l == denied), "{denied} missing: {out:?}");
    }
    assert!(
        out.iter().all(|l| !l.contains("s3cret")),
        "a tenant task read a secret: {out:?}"
    );
    assert!(out.contains(&"HOME=/nonexistent".to_owned()), "{out:?}");
}

#[test]
fn spoofed_notifications_neither_kill_tasks_nor_make_a_worker_spin() {
    let cluster = Cluster::start(&["log_statement = 'all'"]);
    let mut admin = cluster.connect();
    admin.batch_execute("CREATE ROLE mallory LOGIN").unwrap();
    define(
        &mut admin,
        r#"{"name": "nap", "tasks": [{"name": "a", "type": "shell", "script": "sleep 600"}]}"#,
    );
    define(
        &mut admin,
        r#"{"name": "quick", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let napping = start(&mut admin, "nap");
    wait_for(Duration::from_secs(30), "the task to run", || {
        (task_states(&mut admin, napping)[0].1 == "running").then_some(())
    });
    let worker_id: i64 = admin
        .query_one(
            "SELECT id FROM sched.worker WHERE name = 'w1' AND alive",
            &[],
        )
        .unwrap()
        .get(0);

    let calls = |log: &str| {
        log.matches("sched.claim_tasks(").count()
            + log.matches("sched.kill_requests(").count()
            + log.matches("pg_catalog.pg_notify($2, g)").count()
    };
    let before = calls(&cluster.server_log());
    let flood_started = std::time::Instant::now();
    // Each in its own transaction: PostgreSQL folds equal notifications within one. Wake-ups
    // naming the worker on its own channel too, which it passes on to its group when it
    // cannot claim.
    let mut mallory = cluster.connect_as("mallory");
    for _ in 0..2000 {
        mallory
            .batch_execute(&format!(
                "NOTIFY sched_ready, 'default'; NOTIFY sched_kill, '{worker_id}'; \
                 NOTIFY sched_ready_{worker_id}, 'default {worker_id}'"
            ))
            .unwrap();
    }
    // Real work still gets through behind the flood.
    let quick = start(&mut admin, "quick");
    assert_eq!(wait(&mut admin, quick, 120), "succeeded");
    let elapsed = flood_started.elapsed().as_secs_f64();
    let made = calls(&cluster.server_log()) - before;
    // 50 fruitless round trips at once, 50 per second after that, plus the real ones.
    let allowed = (50.0 + 50.0 * elapsed) as usize + 20;
    assert!(
        made <= allowed,
        "6000 spoofed notifications in {elapsed:.1} s caused {made} claims, kill checks and wake-ups passed on (allowed {allowed})"
    );
    assert!(made > 0, "the worker did look at the database");
    assert_eq!(
        task_states(&mut admin, napping)[0].1,
        "running",
        "a spoofed kill killed a task"
    );
}
