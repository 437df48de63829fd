-- SQL and procedure tasks on the scheduler's database, checked against the live catalog when
-- a workflow is defined (docs/architecture.md, "How a SQL task runs"): each statement parsed,
-- analysed and planned as its owner would run it, in the defining transaction, nothing run
-- (extension/src/sql_check.rs). A problem is a WARNING naming the task and the statement;
-- with "strict_sql": true it refuses the definition. What the statements use is recorded for
-- the version in sched.workflow_dependency.

-- The search_path a session of this role starts with: its setting in this database, its own,
-- the database's, every role's, else the server's.
CREATE FUNCTION sched._login_search_path(role regrole) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        (SELECT pg_catalog.substr(c.setting, pg_catalog.length('search_path=') + 1)
         FROM pg_catalog.pg_db_role_setting s
         CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) AS c(setting)
         WHERE s.setrole IN (role, 0)
           AND s.setdatabase IN ((SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()), 0)
           AND c.setting LIKE 'search_path=%'
         ORDER BY s.setrole = 0, s.setdatabase = 0
         LIMIT 1),
        (SELECT f.setting FROM pg_catalog.pg_file_settings f
         WHERE f.name = 'search_path' AND f.applied ORDER BY f.seqno DESC LIMIT 1),
        (SELECT p.boot_val FROM pg_catalog.pg_settings p WHERE p.name = 'search_path'))
$$;
COMMENT ON FUNCTION sched._login_search_path(regrole) IS
    'Internal: the search_path a new session of the role starts with in this database (role and database settings, else the server''s).';

-- Checks the statements of a workflow's sql and procedure tasks (inline element tasks of
-- dynamic tasks included) that run on the scheduler's database, as its owner, and records
-- what they use for the version (none when only checked).
CREATE FUNCTION sched._check_sql(owner regrole, spec jsonb, version_id bigint DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    tasks    jsonb;
    path     text;
    c        record;
    uses     jsonb;
    skip     text;
    problems text[] := '{}';
    code     text;
    problem  text;
BEGIN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('path', p.path, 'name', p.name, 'task', p.task)
                                ORDER BY p.i, p.path) INTO tasks
    FROM (SELECT t.i, pg_catalog.format('tasks[%s]', t.i - 1) AS path, t.task->>'name' AS name, t.task
          FROM pg_catalog.jsonb_array_elements(spec->'tasks') WITH ORDINALITY AS t(task, i)
          UNION ALL
          SELECT t.i, pg_catalog.format('tasks[%s].run', t.i - 1), (t.task->>'name') || '[]', t.task->'run'
          FROM pg_catalog.jsonb_array_elements(spec->'tasks') WITH ORDINALITY AS t(task, i)
          WHERE pg_catalog.jsonb_typeof(t.task->'run') = 'object') p
    WHERE p.task->>'type' IN ('sql', 'procedure') AND NOT p.task ? 'datasource';
    IF tasks IS NULL THEN
        RETURN;
    END IF;
    path := sched._login_search_path(owner);
    FOR c IN
        SELECT * FROM pg_catalog.jsonb_to_recordset(sched._sql_checks(tasks))
                      AS x(task text, name text, field text, text text, types text[])
    LOOP
        -- After a statement that may change the schema the task's later ones are checked when
        -- they run.
        CONTINUE WHEN c.task = skip;
        BEGIN
            uses := sched._analyze_as(owner, path, c.text, c.types);
            IF NOT (uses->>'more')::boolean THEN
                skip := c.task;
            END IF;
            IF version_id IS NOT NULL THEN
                INSERT INTO sched.workflow_dependency (workflow_version_id, task, classid, objid, owned)
                SELECT version_id, c.name, 'pg_catalog.pg_class'::regclass, r.oid,
                       pg_catalog.pg_has_role(owner, r.relowner, 'MEMBER')
                FROM pg_catalog.pg_class r
                WHERE r.oid IN (SELECT o::oid FROM pg_catalog.jsonb_array_elements_text(uses->'relations') o)
                UNION
                SELECT version_id, c.name, 'pg_catalog.pg_proc'::regclass, f.oid,
                       pg_catalog.pg_has_role(owner, f.proowner, 'MEMBER')
                FROM pg_catalog.pg_proc f
                WHERE f.oid IN (SELECT o::oid FROM pg_catalog.jsonb_array_elements_text(uses->'functions') o)
                ON CONFLICT DO NOTHING;
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE '%.%: not checked: %', c.task, c.field, SQLERRM
                USING HINT = 'What it uses was locked by another transaction (an ALTER, a CREATE INDEX); check_workflow checks again.';
        WHEN others THEN
            problems := problems || pg_catalog.format('%s.%s: %s', c.task, c.field, SQLERRM);
            code := coalesce(code, SQLSTATE);
        END;
    END LOOP;
    IF pg_catalog.cardinality(problems) = 0 THEN
        RETURN;
    END IF;
    IF (spec->>'strict_sql')::boolean THEN
        RAISE EXCEPTION '%', pg_catalog.array_to_string(problems, '; ')
            USING ERRCODE = code,
                  HINT = pg_catalog.format('Checked as role %s against the current catalog ("strict_sql": true); without strict_sql these are warnings.', owner);
    END IF;
    FOREACH problem IN ARRAY problems LOOP
        RAISE WARNING '%', problem
            USING HINT = pg_catalog.format('Checked as role %s against the current catalog: the task would fail so when it runs. "strict_sql": true refuses such a definition.', owner);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._check_sql(regrole, jsonb, bigint) IS
    'Internal: checks the statements of a normalised spec''s sql and procedure tasks on the scheduler''s database against the live catalog as the owner (analysed and planned, never run); warns of each problem, or raises them all when the spec has strict_sql; records what they use for version_id when given.';

-- Why the owner's SQL cannot run as that role (a real run and a test run refuse it alike):
-- a role that cannot log in, or whose password has expired; NULL when it can.
CREATE FUNCTION sched._sql_owner_refusal(owner regrole, can_login boolean, valid_until timestamptz) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT CASE
        WHEN NOT can_login THEN pg_catalog.format(
            'the workflow''s owner %s cannot log in (NOLOGIN); its sql and procedure tasks run over a connection as that role: ALTER ROLE %s LOGIN, or name a datasource',
            owner, owner)
        WHEN valid_until < pg_catalog.now() THEN pg_catalog.format(
            'the workflow''s owner %s expired at %s (VALID UNTIL); its sql and procedure tasks run as that role: ALTER ROLE %s VALID UNTIL ''infinity'' (or a later time)',
            owner, valid_until, owner)
    END
$$;
COMMENT ON FUNCTION sched._sql_owner_refusal(regrole, boolean, timestamptz) IS
    'Internal: why a workflow owner''s sql and procedure tasks cannot run as that role (NOLOGIN, expired), or NULL.';

-- An admit_when (3_engine/admit_when.sql) checked as its owner would evaluate it: one
-- expression, analysed and planned over sched.load, nothing run. Any problem refuses it,
-- naming field.
CREATE FUNCTION sched._check_admit_when(owner regrole, expr text, field text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    statement text := sched._admit_statement(expr, field);
    problem   text;
BEGIN
    PERFORM sched._analyze_as(owner, sched._login_search_path(owner), statement, '{}');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS problem = MESSAGE_TEXT;
    RAISE EXCEPTION '%: %', field, problem USING ERRCODE = 'invalid_parameter_value',
        HINT = 'admit_when is one SQL boolean expression over the columns of sched.load (active_backends, lock_waits, replication_lag, wal_rate), evaluated as the owner.';
END
$$;
COMMENT ON FUNCTION sched._check_admit_when(regrole, text, text) IS
    'Internal: refuses an admit_when its owner could not evaluate (not one boolean expression, an unknown column, no privilege), naming the field.';
