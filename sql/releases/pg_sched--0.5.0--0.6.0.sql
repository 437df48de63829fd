-- pg_sched 0.5.0 to 0.6.0 (CHANGELOG.md): workflows started by events. Triggers
-- (sched.trigger: another workflow's end, a table's change, a webhook, datasets), their inbox
-- (sched.trigger_event), their fires (sched.trigger_fire) and the datasets' events
-- (sched.dataset_event); tasks that produce datasets (sched.task_definition.produces); the
-- command type trigger; the functions that create, run and show them, and the engine's
-- functions that call them (_finish_if_done, _complete, _expire_history,
-- _create_workflow, _remove_workflow, _reassign_owned, _drop_owned). DYNAMIC tasks: element
-- tasks (sched.task_definition.element_of), elements (sched.task_instance.element, the same in
-- the history), their values and progress (sched.dynamic_element, sched.dynamic_progress), the
-- engine's functions that expand, count and gather them (3_engine/dynamic.sql) and those that
-- carry elements through retries, failovers, recover and the claim. SQL checked at definition:
-- sched._check_sql (2_kernel/sql_check.sql) over the Rust functions _sql_checks and
-- _analyze_as, called by _create_workflow and _check_workflow; what the SQL uses
-- (sched.workflow_dependency, sched.workflow_dependencies) and the event triggers that guard it
-- (3_engine/object_guard.sql). Test runs: sched.test_run (7_api/test_run.sql) over the Rust
-- function _test_sql, and the states of their tasks (_test_states, in sched.state_model()).
-- Deadlines: the schedule's columns deadline, deadline_through and deadline_next, the table
-- sched.deadline_check, the master's _deadline_tick (4_master/deadlines.sql), the alert event
-- deadline_missed, the views sched.deadlines and sched.schedules.deadline.
-- Reports of successes side by side: sched.workflow_version.reports_alone, computed for every
-- existing version; the two lock modes (2_kernel/locks.sql) and the functions that take them.
-- Run by ALTER EXTENSION pg_sched UPDATE, in one transaction; the test of tests/tests/upgrade.rs
-- checks that a database of an earlier release updated by it has the schema of a fresh 0.6.0
-- install and keeps all it held. Existing rows change nothing: the new columns are NULL (no task
-- produces anything, no attempt is an element) and the command types recorded so far stay
-- allowed.

\echo Use "ALTER EXTENSION pg_sched UPDATE" to load this file. \quit

-- extension/src/webhook.rs
CREATE  FUNCTION "_webhook_signature_ok"(
	"secret" TEXT, /* & str */
	"timestamp" TEXT, /* & str */
	"delivery" TEXT, /* & str */
	"body" bytea, /* & [u8] */
	"signature" TEXT /* & str */
) RETURNS bool /* bool */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'signature_ok_wrapper';

-- extension/src/sql_check.rs
CREATE  FUNCTION "_sql_checks"(
	"tasks" jsonb /* JsonB */
) RETURNS jsonb /* JsonB */
STRICT STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'sql_checks_wrapper';
CREATE  FUNCTION "_analyze_as"(
	"owner" oid, /* pg_sys :: Oid */
	"search_path" TEXT, /* & str */
	"text" TEXT, /* & str */
	"types" TEXT[] /* Vec < Option < String > > */
) RETURNS jsonb /* JsonB */
STRICT 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'analyze_as_wrapper';
CREATE  FUNCTION "_test_sql"(
	"owner" oid, /* pg_sys :: Oid */
	"restricted" bool, /* bool */
	"search_path" TEXT, /* & str */
	"task_type" TEXT, /* & str */
	"settings" jsonb, /* JsonB */
	"timeout_ms" INT DEFAULT 0 /* i32 */
) RETURNS jsonb /* JsonB */
STRICT 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'test_sql_wrapper';
CREATE  FUNCTION "_deadline_at"(
	"deadline" TEXT, /* & str */
	"fire" double precision, /* f64 */
	"timezone" TEXT, /* & str */
	"field" TEXT /* & str */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'deadline_at_wrapper';
CREATE  FUNCTION "_admit_statement"(
	"expr" TEXT, /* & str */
	"field" TEXT /* & str */
) RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'admit_statement_wrapper';
CREATE  FUNCTION "_instance_snapshot"(
	"instance" bigint, /* i64 */
	"owner" oid /* pg_sys :: Oid */
) RETURNS jsonb /* JsonB */
STRICT 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'instance_snapshot_wrapper';
CREATE  FUNCTION "_release_snapshot"(
	"instance" bigint /* i64 */
) RETURNS bool /* bool */
STRICT 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'release_snapshot_wrapper';
CREATE  FUNCTION "_snapshot_holders"() RETURNS TABLE (
	"instance_id" bigint,  /* i64 */
	"since" double precision,  /* f64 */
	"ready" bool  /* bool */
)
STRICT 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'snapshot_holders_wrapper';
CREATE  FUNCTION "_in_master"() RETURNS bool /* bool */
STRICT VOLATILE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'in_master_wrapper';

-- 1_schema/01_vocabulary.sql: the choices of triggers, table operations and dataset modes.
CREATE OR REPLACE FUNCTION sched._spec_choices() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"backfill_modes":["serial","parallel"],"backfill_on_failure":["stop","continue"],"backfill_orders":["desc","asc"],"condition_statuses":["succeeded","failed"],"cycles":[{"cycle":"hour","date_values":["currentHour","last1Hour","last2Hours","last3Hours","last24Hours"]},{"cycle":"day","date_values":["today","last1Days","last2Days","last3Days","last7Days"]},{"cycle":"week","date_values":["thisWeek","lastWeek","lastMonday","lastTuesday","lastWednesday","lastThursday","lastFriday","lastSaturday","lastSunday"]},{"cycle":"month","date_values":["thisMonth","thisMonthBegin","lastMonth","lastMonthBegin","lastMonthEnd"]}],"dataset_modes":["all","any"],"dependent_failures":["fail","wait"],"execution_types":["parallel","serial_wait","serial_discard","serial_priority"],"failure_strategies":["continue","end"],"notify_strategies":["none","success","failure","all"],"param_types":["varchar","integer","long","float","double","date","time","timestamp","boolean","list"],"priorities":["highest","high","medium","low","lowest"],"relations":["and","or"],"table_operations":["insert","update","delete"],"timeout_strategies":["warn","fail","warn_fail"],"trigger_kinds":["workflow_end","table_change","webhook","dataset"],"workflow_timeout_strategies":["warn","stop"]}'::jsonb $$;

-- 1_schema/01_vocabulary.sql: worker protocol 3, whose workers understand a wake-up naming one of
-- them, and how often workers heartbeat (a worker is named only if heard from within two).
CREATE OR REPLACE FUNCTION sched._worker_protocol() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 3 $$;
CREATE FUNCTION sched._named_wake_protocol() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 3 $$;
COMMENT ON FUNCTION sched._named_wake_protocol() IS 'Internal: the first worker protocol whose workers understand a wake-up naming one of them (payload ''group worker_id'' on the worker''s own channel, sched._worker_channel); older ones are woken by their whole group (payload ''group'' on sched_ready).';

CREATE FUNCTION sched._worker_channel(worker_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 'sched_ready_' || worker_id::text $$;
COMMENT ON FUNCTION sched._worker_channel(bigint) IS 'Internal: the channel on which a worker of protocol _named_wake_protocol() or later is woken by name: only its process hears it.';
CREATE FUNCTION sched._heartbeat_period(worker_timeout interval) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT least(interval '3000 ms', worker_timeout / 3) $$;
COMMENT ON FUNCTION sched._heartbeat_period(interval) IS 'Internal: how often a worker heartbeats under this sched.worker_timeout (at most every 3000 ms, three times per timeout when that is shorter).';

-- 1_schema/01_vocabulary.sql: the states of a test run's tasks, in the state model.
CREATE FUNCTION sched._test_states() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,failed,mocked,not_run,skipped,forbidden,not_reached}'::text[] $$;
COMMENT ON FUNCTION sched._test_states() IS 'Internal: the states of a task of a test run. succeeded: its statements ran (then were rolled back with the rest), or a logic task chose its branch; failed: a statement failed, its parameters did not resolve or its OUT values could not be read; downstream tasks are not reached; mocked: not run: options.mock gave its OUT values; not_run: a task a test run does not run (shell, python, http, a datasource''s SQL, sub_process, dependent, dynamic...); downstream tasks run as if it succeeded without OUT values; skipped: on a branch a CONDITIONS or SWITCH task did not take; forbidden: a task with enabled false, passed through; not_reached: not run because an upstream task failed or was not reached';
CREATE FUNCTION sched._test_states_success() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,mocked,not_run}'::text[] $$;
COMMENT ON FUNCTION sched._test_states_success() IS 'Internal: the test-run states that count as a success downstream: their successors run, a CONDITIONS success item holds.';
CREATE FUNCTION sched._deadline_states() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{pending,met,missed}'::text[] $$;
COMMENT ON FUNCTION sched._deadline_states() IS 'Internal: the states of a fire''s deadline. pending: its deadline has not come; met: its instance succeeded by the deadline; missed: it had not succeeded by the deadline (or never started): an alert deadline_missed was raised';
CREATE OR REPLACE FUNCTION sched._state_model(principal regrole) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"backfill_states":[{"colour":"#9cc9f5","doc":"dates are still to start or running","name":"running"},{"colour":"#b7e1a1","doc":"every date''s instance succeeded","name":"succeeded"},{"colour":"#f4a6a6","doc":"a date''s instance did not succeed (and on_failure stop ended the backfill, or every date has ended)","name":"failed"},{"colour":"#e4e4e4","doc":"cancelled by cancel_backfill: no further date starts","name":"cancelled"}],"commands":[{"applies_to":["running"],"name":"pause","of":"workflow","recorded_as":"pause","reruns":[]},{"applies_to":["paused","stopped"],"name":"resume","of":"workflow","recorded_as":"recover_suspended_process","reruns":["paused","killed"]},{"applies_to":["failed"],"name":"recover","of":"workflow","recorded_as":"start_failure_task_process","reruns":["failed","killed"]},{"applies_to":["paused","stopped","failed","succeeded"],"name":"rerun","of":"workflow","recorded_as":"repeat_running","reruns":[]},{"applies_to":["paused","stopped","failed","succeeded"],"name":"execute_task","of":"workflow","recorded_as":"execute_task","reruns":[]},{"applies_to":["submitted","serial_wait","waiting_thread","running","ready_pause","paused","ready_stop"],"name":"stop","of":"workflow","recorded_as":"stop","reruns":[]},{"applies_to":["failed","killed"],"name":"force_success","of":"task","recorded_as":"force_success","reruns":[]},{"applies_to":["delayed","queued","dispatched","running"],"name":"kill_task","of":"task","recorded_as":"kill_task","reruns":[]}],"deadline_states":[{"colour":"#e4e4e4","doc":"its deadline has not come","name":"pending"},{"colour":"#b7e1a1","doc":"its instance succeeded by the deadline","name":"met"},{"colour":"#f4a6a6","doc":"it had not succeeded by the deadline (or never started): an alert deadline_missed was raised","name":"missed"}],"delivery_states":[{"colour":"#e4e4e4","doc":"not yet sent; a worker started with --alerts sends it when it is due","name":"pending"},{"colour":"#b7e1a1","doc":"sent to its channel","name":"sent"},{"colour":"#f4a6a6","doc":"every attempt failed (sched.alert_max_attempts)","name":"failed"}],"task_sets":{"active":["delayed","queued","dispatched","running"],"alerted":["failed","killed","paused","need_fault_tolerance"],"bypassed":["skipped","forbidden"],"claimed":["dispatched","running"],"dependent_success":["succeeded","forced_success","forbidden"],"failure":["failed","killed"],"finished":["succeeded","failed","killed","paused","forced_success","need_fault_tolerance","skipped","forbidden"],"passed":["succeeded","forced_success","skipped","forbidden"],"success":["succeeded","forced_success"],"waiting":["delayed","queued"]},"task_states":[{"colour":"#e4e4e4","doc":"waiting for its delay (delay_time, or a retry''s interval)","name":"delayed"},{"colour":"#e4e4e4","doc":"ready, waiting for a worker to claim it","name":"queued"},{"colour":"#c4dff9","doc":"claimed by a worker, not yet started (not written by this engine: a claim starts the attempt)","name":"dispatched"},{"colour":"#9cc9f5","doc":"running on a worker, or in the database","name":"running"},{"colour":"#b7e1a1","doc":"ended with success","name":"succeeded"},{"colour":"#f4a6a6","doc":"ended with failure, or killed for its timeout; a retry may follow","name":"failed"},{"colour":"#f8c78a","doc":"killed by a user, a stop or a failed sibling","name":"killed"},{"colour":"#f3e39a","doc":"not started because its instance paused","name":"paused"},{"colour":"#d6efc7","doc":"failed or killed, then marked successful by a user","name":"forced_success"},{"colour":"#d9b3e6","doc":"its worker was lost; a new attempt replaces it","name":"need_fault_tolerance"},{"colour":"#f5f5f5","doc":"on a branch a CONDITIONS or SWITCH task did not take (or all its upstream tasks were skipped)","name":"skipped"},{"colour":"#f5f5f5","doc":"a task with enabled false, passed through","name":"forbidden"}],"test_states":[{"colour":"#b7e1a1","doc":"its statements ran (then were rolled back with the rest), or a logic task chose its branch","name":"succeeded"},{"colour":"#f4a6a6","doc":"a statement failed, its parameters did not resolve or its OUT values could not be read; downstream tasks are not reached","name":"failed"},{"colour":"#d6efc7","doc":"not run: options.mock gave its OUT values","name":"mocked"},{"colour":"#e4e4e4","doc":"a task a test run does not run (shell, python, http, a datasource''s SQL, sub_process, dependent, dynamic...); downstream tasks run as if it succeeded without OUT values","name":"not_run"},{"colour":"#f5f5f5","doc":"on a branch a CONDITIONS or SWITCH task did not take","name":"skipped"},{"colour":"#f5f5f5","doc":"a task with enabled false, passed through","name":"forbidden"},{"colour":"#ffffff","doc":"not run because an upstream task failed or was not reached","name":"not_reached"}],"workflow_sets":{"admitted":["running","ready_pause","ready_stop","waiting_thread"],"advancing":["running","ready_pause"],"ending":["ready_stop","paused","stopped","failed","succeeded"],"executing":["running","ready_pause","ready_stop"],"finished":["paused","stopped","failed","succeeded"],"unfinished":["submitted","serial_wait","waiting_thread","running","ready_pause","ready_stop"],"unsuccessful":["paused","stopped","failed"]},"workflow_states":[{"colour":"#e4e4e4","doc":"recorded, not yet admitted (not written by this engine: an instance is admitted in the transaction that creates it)","name":"submitted"},{"colour":"#e4e4e4","doc":"a serial_wait workflow''s instance waiting for the one before it to end","name":"serial_wait"},{"colour":"#e4e4e4","doc":"waiting for room under sched.max_running_instances","name":"waiting_thread"},{"colour":"#9cc9f5","doc":"admitted; its ready tasks are queued as they become ready","name":"running"},{"colour":"#f3e39a","doc":"pausing: running attempts finish, nothing new starts","name":"ready_pause"},{"colour":"#f3e39a","doc":"paused with nothing running; resume continues it","name":"paused"},{"colour":"#f8c78a","doc":"stopping: running attempts are being killed","name":"ready_stop"},{"colour":"#f8c78a","doc":"stopped by a user, a timeout or a parent","name":"stopped"},{"colour":"#f4a6a6","doc":"ended with a failed task","name":"failed"},{"colour":"#b7e1a1","doc":"ended with every task done","name":"succeeded"}]}'::jsonb $$;

-- 1_schema/10_definitions.sql
ALTER TABLE sched.workflow_version ADD COLUMN reports_alone boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN sched.workflow_version.reports_alone IS 'Some task is decided in the database (sub_process, conditions, switch, dependent, dynamic), or the DAG is a chain, whose tasks never run at once: a worker''s report of an attempt of its instances locks the instance alone; otherwise reports of successes in one instance proceed side by side and wait for each other only to decide whether the instance has ended.';
ALTER TABLE sched.task_definition ADD COLUMN produces text[];
CREATE INDEX task_definition_producing ON sched.task_definition (id) WHERE produces IS NOT NULL;
COMMENT ON COLUMN sched.task_definition.produces IS 'Datasets each success of it updates (its spec''s produces), an event each in sched.dataset_event; NULL when none.';
ALTER TABLE sched.task_definition ADD COLUMN element_of bigint;
CREATE INDEX task_definition_elements ON sched.task_definition (element_of) WHERE element_of IS NOT NULL;
COMMENT ON COLUMN sched.task_definition.element_of IS 'For the element task of a DYNAMIC task (named after it, with []): that task''s id; its attempts are the elements. NULL for the tasks of the DAG.';
ALTER TABLE sched.task_definition ADD COLUMN admit boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN sched.task_definition.admit IS 'Its workflow declares admit_when: an attempt is queued only while that holds.';

-- 1_schema/63_task_groups.sql, 20_instances.sql and 70_admit_when.sql: admission on live load.
ALTER TABLE sched.task_group ADD COLUMN admit_when text;
COMMENT ON COLUMN sched.task_group.admit_when IS 'SQL boolean over sched.load that must hold, evaluated as the owner, before a waiting attempt of the group gets a slot; NULL for none.';
-- Attempts waiting for their workflow's admit_when (3_engine/admit_when.sql), which the master
-- asks again.
CREATE INDEX task_instance_admit_held ON sched.task_instance (id)
    WHERE state = 'delayed' AND not_before IS NULL AND task_group_id IS NULL;
-- Admission on live load (3_engine/admit_when.sql): the last evaluation of each task group's and
-- workflow version's admit_when, so that an expression is evaluated at most once per
-- sched._admit_interval(), and the WAL position sched.load's wal_rate is measured from.

CREATE TABLE sched.admit_check (
    gate       text NOT NULL CHECK (gate IN ('task_group', 'workflow')),
    gate_id    bigint NOT NULL,
    reason     text,
    checked_at timestamptz,
    PRIMARY KEY (gate, gate_id)
);
COMMENT ON TABLE sched.admit_check IS 'The last evaluation of each admit_when: whether it held, and why not; read through sched.task_groups and sched.task_instances.waiting_for.';
COMMENT ON COLUMN sched.admit_check.gate IS 'What declares it: task_group or workflow.';
COMMENT ON COLUMN sched.admit_check.gate_id IS 'The task group''s id, or the workflow version''s.';
COMMENT ON COLUMN sched.admit_check.reason IS 'NULL when it held (or was never evaluated); else that it was false or NULL, or the error it raised.';
COMMENT ON COLUMN sched.admit_check.checked_at IS 'When the master last evaluated it; NULL before the first time.';

CREATE TABLE sched.load_sample (
    id         integer PRIMARY KEY CHECK (id = 1),
    sampled_at timestamptz NOT NULL,
    wal_lsn    pg_lsn NOT NULL,
    wal_rate   double precision NOT NULL
);
COMMENT ON TABLE sched.load_sample IS 'One row: the WAL position when an admit_when was last evaluated, and the WAL rate since the sample before.';
COMMENT ON COLUMN sched.load_sample.id IS 'Always 1.';
COMMENT ON COLUMN sched.load_sample.sampled_at IS 'When the position was read.';
COMMENT ON COLUMN sched.load_sample.wal_lsn IS 'The WAL insert position then.';
COMMENT ON COLUMN sched.load_sample.wal_rate IS 'Bytes of WAL per second between the two latest samples.';

-- 2_kernel/load.sql
-- The live load of the database that admit_when expressions read (sched.load): counts only,
-- never another session's query or role, read as the extension's owner so that every backend
-- counts whoever asks.

-- Takes a WAL sample when the last is older than a second; the rate is over the two latest.
CREATE FUNCTION sched._sample_load() RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    last sched.load_sample;
    here pg_lsn := CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_current_wal_insert_lsn() END;
BEGIN
    IF here IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO last FROM sched.load_sample WHERE id = 1;
    IF NOT FOUND THEN
        INSERT INTO sched.load_sample (id, sampled_at, wal_lsn, wal_rate)
        VALUES (1, pg_catalog.clock_timestamp(), here, 0) ON CONFLICT (id) DO NOTHING;
    ELSIF last.sampled_at < pg_catalog.clock_timestamp() - interval '1 s' THEN
        UPDATE sched.load_sample
           SET wal_rate = greatest(0, (here - last.wal_lsn)::double precision
                                      / greatest(0.001, extract(epoch FROM pg_catalog.clock_timestamp() - last.sampled_at))),
               wal_lsn = here, sampled_at = pg_catalog.clock_timestamp()
         WHERE id = 1;
    END IF;
END
$$;
COMMENT ON FUNCTION sched._sample_load() IS 'Internal: samples the WAL position for sched.load''s wal_rate, at most once a second.';

CREATE FUNCTION sched._load(OUT active_backends integer, OUT lock_waits integer, OUT replication_lag double precision,
                            OUT wal_rate double precision)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity a
            WHERE a.state = 'active' AND a.backend_type <> 'walsender' AND a.pid <> pg_catalog.pg_backend_pid())::integer,
           (SELECT count(*) FROM pg_catalog.pg_stat_activity a WHERE a.wait_event_type = 'Lock')::integer,
           coalesce(CASE WHEN pg_catalog.pg_is_in_recovery()
                         THEN extract(epoch FROM pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp())
                         ELSE (SELECT max(extract(epoch FROM greatest(r.write_lag, r.flush_lag, r.replay_lag)))
                               FROM pg_catalog.pg_stat_replication r) END, 0)::double precision,
           coalesce((SELECT s.wal_rate FROM sched.load_sample s WHERE s.id = 1), 0)
$$;
COMMENT ON FUNCTION sched._load() IS 'Internal, for sched.load: the live load of the database, counted over every backend.';

-- 3_engine/admit_when.sql
-- Admission on live load: a task group or a workflow may declare admit_when, a SQL boolean
-- over sched.load that must hold before one of its attempts is queued. An attempt of a
-- workflow with admit_when is created delayed, with neither a time nor a task group, and waits
-- so until the expression holds: then it is queued, or waits for a slot of its task group. A
-- task group's own expression is asked before it hands out slots (3_engine/task_groups.sql).
-- The master asks again while attempts wait (4_master/admit_when.sql). Tasks of workflows and
-- groups without one touch none of this.

-- How often one expression is evaluated at most.
CREATE FUNCTION sched._admit_interval() RETURNS interval
LANGUAGE sql IMMUTABLE
AS $$ SELECT interval '1 s' $$;
COMMENT ON FUNCTION sched._admit_interval() IS 'Internal: an admit_when is evaluated at most once per this interval; in between its last result stands.';

-- NULL when the expression holds, else why not. Only the master evaluates: as the owner,
-- restricted (no SET ROLE, nothing left in the session), with the owner's login search_path and
-- a second at most, in a subtransaction that is always rolled back, so that nothing it does
-- stays; an error holds the attempts too, with the error as the reason. Elsewhere (a start, a
-- completion) the last result stands while it is fresh, else the attempt waits for the master.
-- Neither waits on a lock: a result another transaction is writing is read as it was.
CREATE FUNCTION sched._admit_reason(kind text, id bigint, label text, expr text, owner regrole) RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    last   sched.admit_check;
    result jsonb;
    value  text;
    why    text;
BEGIN
    SELECT * INTO last FROM sched.admit_check c WHERE c.gate = kind AND c.gate_id = id;
    IF last.checked_at > clock_timestamp() - sched._admit_interval() THEN
        RETURN last.reason;
    END IF;
    why := coalesce(last.reason, format('admit_when of %s: to be evaluated', label));
    IF NOT sched._in_master() THEN
        RETURN why;
    END IF;
    IF last.gate IS NULL THEN
        INSERT INTO sched.admit_check AS c (gate, gate_id) VALUES (kind, id)
        ON CONFLICT ON CONSTRAINT admit_check_pkey DO NOTHING;
    END IF;
    PERFORM 1 FROM sched.admit_check c WHERE c.gate = kind AND c.gate_id = id FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN why;
    END IF;
    PERFORM sched._sample_load();
    BEGIN
        result := sched._test_sql(owner::oid, true, sched._login_search_path(owner), 'sql',
                                  jsonb_build_object('bound', jsonb_build_object('main', jsonb_build_object(
                                                         'parts', jsonb_build_array(sched._admit_statement(expr, 'admit_when')),
                                                         'args', '[]'::jsonb)),
                                                     'query', true, 'limit_rows', 1),
                                  extract(epoch FROM sched._admit_interval())::integer * 1000);
        RAISE EXCEPTION 'rolled back' USING ERRCODE = 'SCA01';
    EXCEPTION WHEN SQLSTATE 'SCA01' THEN
        NULL;
    END;
    value := result #>> '{rows,0,0}';
    why := CASE WHEN result ? 'error' THEN format('admit_when of %s failed: %s', label, result->>'error')
                WHEN value = 't' THEN NULL
                ELSE format('admit_when of %s is %s: %s', label, CASE value WHEN 'f' THEN 'false' ELSE 'NULL' END, expr) END;
    UPDATE sched.admit_check c SET reason = why, checked_at = clock_timestamp() WHERE c.gate = kind AND c.gate_id = id;
    RETURN why;
END
$$;
COMMENT ON FUNCTION sched._admit_reason(text, bigint, text, text, regrole) IS
    'Internal: whether an admit_when holds (NULL), else why not: evaluated by the master as its owner and rolled back, at most once per sched._admit_interval(); elsewhere its last fresh result, else a reason to wait for the master.';

-- Attempts waiting for their workflow's admit_when: where it holds they are queued, or wait
-- for a slot of their task group.
CREATE FUNCTION sched._admit_held(ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v       record;
    groups  text[];
    tgroups bigint[];
BEGIN
    FOR v IN
        SELECT wv.id, w.name, wv.spec->>'admit_when' AS expr, w.owner, array_agg(ti.id) AS held
        FROM sched.task_instance ti
        JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
        JOIN sched.workflow_version wv ON wv.id = wi.workflow_version_id
        JOIN sched.workflow w ON w.id = wv.workflow_id
        WHERE ti.id = ANY(ids) AND ti.state = 'delayed' AND ti.not_before IS NULL AND ti.task_group_id IS NULL
        GROUP BY wv.id, w.name, w.owner
        ORDER BY wv.id
    LOOP
        CONTINUE WHEN sched._admit_reason('workflow', v.id, format('workflow "%s"', v.name), v.expr, v.owner) IS NOT NULL;
        WITH admitted AS (
            UPDATE sched.task_instance ti
               SET state = CASE WHEN td.task_group_id IS NULL THEN 'queued' ELSE 'delayed' END::sched.task_state,
                   task_group_id = td.task_group_id,
                   task_group_priority = CASE WHEN td.task_group_id IS NOT NULL THEN td.task_group_priority END
              FROM sched.task_definition td
             WHERE ti.id = ANY(v.held) AND td.id = ti.task_id
               AND ti.state = 'delayed' AND ti.not_before IS NULL AND ti.task_group_id IS NULL
            RETURNING ti.worker_group, ti.task_group_id)
        SELECT array_agg(DISTINCT a.worker_group) FILTER (WHERE a.task_group_id IS NULL),
               array_agg(DISTINCT a.task_group_id) FILTER (WHERE a.task_group_id IS NOT NULL)
          INTO groups, tgroups
          FROM admitted a;
        PERFORM sched._notify_ready(groups);
        IF tgroups IS NOT NULL THEN
            PERFORM sched._grant_slots(tgroups);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._admit_held(bigint[]) IS
    'Internal: queues (or hands to their task group) those of these attempts, waiting for their workflow''s admit_when, whose expression holds.';

-- Why an attempt waiting with no time waits: its workflow's admit_when, its task group's, or a
-- free slot of its group.
-- Called by sched.task_instances as the querying role: it reads the scheduler's tables as their
-- owner, and tells only about the attempt the view shows.
CREATE FUNCTION sched._waiting_for(task_group_id bigint, workflow_version_id bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN task_group_id IS NULL
                THEN coalesce((SELECT c.reason FROM sched.admit_check c
                               WHERE c.gate = 'workflow' AND c.gate_id = workflow_version_id),
                              'admit_when of its workflow: to be evaluated')
                ELSE (SELECT coalesce(c.reason, format('a free slot of task group "%s"', g.name))
                      FROM sched.task_group g
                      LEFT JOIN sched.admit_check c ON c.gate = 'task_group' AND c.gate_id = g.id AND g.admit_when IS NOT NULL
                      WHERE g.id = task_group_id) END
$$;
COMMENT ON FUNCTION sched._waiting_for(bigint, bigint) IS
    'Internal, for sched.task_instances: why an attempt delayed with no time waits (admit_when, or a task group slot).';

-- 3_engine/task_groups.sql: a group hands out slots only while its admit_when holds.
CREATE OR REPLACE FUNCTION sched._grant_slots(group_ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    g      sched.task_group;
    groups text[];
BEGIN
    FOR g IN SELECT * FROM sched.task_group tg WHERE tg.id = ANY(group_ids) ORDER BY tg.id FOR UPDATE LOOP
        -- While its admit_when does not hold, the group hands out nothing; the master asks again.
        CONTINUE WHEN g.admit_when IS NOT NULL
                  AND sched._admit_reason('task_group', g.id, format('task group "%s"', g.name), g.admit_when, g.owner) IS NOT NULL;
        WITH granted AS (
            UPDATE sched.task_instance ti SET state = 'queued', holds_slot = true
            WHERE ti.id = ANY(ARRAY(
                      SELECT w.id FROM sched.task_instance w
                      WHERE w.task_group_id = g.id AND w.state = 'delayed' AND w.not_before IS NULL
                      ORDER BY w.task_group_priority DESC, w.workflow_priority, w.task_priority, w.id
                      LIMIT greatest(0, g.size - (SELECT count(*) FROM sched.task_instance h
                                                  WHERE h.task_group_id = g.id AND h.holds_slot))))
              AND ti.state = 'delayed'
            RETURNING ti.worker_group)
        SELECT array_agg(DISTINCT worker_group) INTO groups FROM granted;
        PERFORM sched._notify_ready(groups);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._grant_slots(bigint[]) IS 'Internal: queues as many waiting attempts of these task groups as they have free slots.';

-- 4_master/admit_when.sql
-- Run by the master (4_master/tick.sql): attempts waiting for an admit_when are looked at again
-- while any waits, each expression at most once per sched._admit_interval()
-- (3_engine/admit_when.sql). Returns when to look again, NULL when nothing waits.
CREATE FUNCTION sched._admit_tick() RETURNS timestamptz
LANGUAGE plpgsql
AS $$
DECLARE
    held   bigint[];
    groups bigint[];
BEGIN
    held := ARRAY(SELECT ti.id FROM sched.task_instance ti
                  WHERE ti.state = 'delayed' AND ti.not_before IS NULL AND ti.task_group_id IS NULL
                  ORDER BY ti.id LIMIT 10000);
    groups := ARRAY(SELECT g.id FROM sched.task_group g
                    WHERE g.admit_when IS NOT NULL
                      AND EXISTS (SELECT 1 FROM sched.task_instance w
                                  WHERE w.task_group_id = g.id AND w.state = 'delayed' AND w.not_before IS NULL));
    IF held = '{}' AND groups = '{}' THEN
        RETURN NULL;
    END IF;
    IF held <> '{}' THEN
        PERFORM sched._admit_held(held);
    END IF;
    IF groups <> '{}' THEN
        PERFORM sched._grant_slots(groups);
    END IF;
    -- Results of gates that no longer exist or wait for nothing are not kept forever (one is
    -- added again when needed); one being written is left alone.
    DELETE FROM sched.admit_check c
    WHERE (c.gate, c.gate_id) IN (SELECT o.gate, o.gate_id FROM sched.admit_check o
                                  WHERE o.checked_at < now() - interval '1 day' FOR UPDATE SKIP LOCKED);
    RETURN clock_timestamp() + sched._admit_interval();
END
$$;
COMMENT ON FUNCTION sched._admit_tick() IS
    'Internal, run by the master: asks the admit_when of the workflows and task groups whose attempts wait for it again; returns when to look again (NULL when none waits).';

-- 4_master/snapshots.sql
-- Run by the master (4_master/tick.sql): the holders of consistent snapshots
-- (extension/src/snapshot.rs). A holder whose instance ended is released; one that has held
-- its snapshot longer than sched.snapshot_max_age fails its instance first, as failure strategy
-- end would (its active attempts killed with kill_reason snapshot_max_age, nothing started
-- after), since an open snapshot holds back vacuum. Returns when to look again, NULL when no
-- snapshot is held.
CREATE FUNCTION sched._snapshot_tick() RETURNS timestamptz
LANGUAGE plpgsql
AS $$
DECLARE
    h       record;
    holding boolean := false;
    max_age interval := current_setting('sched.snapshot_max_age')::interval;
BEGIN
    FOR h IN
        SELECT s.instance_id, to_timestamp(s.since) AS since, wi.state
        FROM sched._snapshot_holders() s
        LEFT JOIN sched.workflow_instance wi ON wi.id = s.instance_id
        ORDER BY s.instance_id
    LOOP
        IF h.state IS NULL OR h.state = ANY (sched._workflow_states_finished()) THEN
            PERFORM sched._release_snapshot(h.instance_id);
        ELSIF h.since < now() - max_age THEN
            -- Under its family's locks, as a timeout stops an instance; the next tick retries.
            IF h.instance_id <> ALL (sched._lock_family(ARRAY[h.instance_id], false)) THEN
                holding := true;
                CONTINUE;
            END IF;
            UPDATE sched.workflow_instance SET has_failure = true, failure_strategy = 'end' WHERE id = h.instance_id;
            PERFORM sched._kill_active(ARRAY[h.instance_id], 'snapshot_max_age');
            PERFORM sched._finish_if_done(ARRAY[h.instance_id]);
            PERFORM sched._release_snapshot(h.instance_id);
        ELSE
            holding := true;
        END IF;
    END LOOP;
    RETURN CASE WHEN holding THEN clock_timestamp() + interval '1 s' END;
END
$$;
COMMENT ON FUNCTION sched._snapshot_tick() IS
    'Internal, run by the master: releases the consistent snapshots of ended instances, fails the instances that held one longer than sched.snapshot_max_age; returns when to look again (NULL when none is held).';

-- 1_schema/20_instances.sql: task_instance_active in id order within an instance, for
-- _finish_if_done's newest-first probe.
DROP INDEX sched.task_instance_active;
CREATE INDEX task_instance_active ON sched.task_instance (workflow_instance_id, id)
    WHERE state = ANY (sched._task_states_active());

-- 4_master/statistics.sql
-- Statistics for the engine's own plans. Workers and the master keep the plans of their
-- plpgsql statements for the session, and a plan made while a table was small (a fresh
-- install, the first big instance) walks the whole table once it has grown: a claim of 16
-- tasks in a 100,000-task instance would read all 100,000 attempts. Autovacuum analyses a
-- table only a minute and 2 % of its rows later. The master analyses a table of the engine as
-- soon as it holds twice the rows its statistics know of, and a thousand more; the analysis
-- invalidates those plans in every session. Doubling bounds it to a few analyses over any
-- growth, and to none while a table keeps its size.
CREATE FUNCTION sched._analyze_grown() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grown    regclass;
    analysed integer := 0;
BEGIN
    FOR grown IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'sched'::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
          AND pg_catalog.pg_stat_get_live_tuples(c.oid) > greatest(2 * c.reltuples, c.reltuples + 1000)
    LOOP
        -- Never behind autovacuum's lock: the next tick looks again.
        EXECUTE pg_catalog.format('ANALYZE (SKIP_LOCKED) %s', grown);
        analysed := analysed + 1;
    END LOOP;
    RETURN analysed;
END
$$;
COMMENT ON FUNCTION sched._analyze_grown() IS
    'Internal: the master''s analysis of the engine''s tables that hold more than twice the rows (and a thousand more) their statistics know of, so that no session keeps a plan made for a small table; returns how many it analysed.';

-- 4_master/vacuum.sql, new.
-- The ready queue's dead head. A claimed attempt's entry stays in task_instance_ready, marked
-- dead, until a vacuum removes it, and every claim of its worker group starts at the head of
-- the group and steps over all of them: after two runs of 100,000 tasks a claim of the empty
-- queue read 381 index pages (1.3 ms), and an idle task started 3.2–3.7 ms after its start's
-- commit instead of 1.3–1.5 ms.
-- Autovacuum would remove them, but it visits a database only once per autovacuum_naptime (a
-- minute by default). The master asks for the same vacuum as soon as autovacuum's own rule
-- (its threshold and scale factor, the table's or the server's) finds it due, and runs it in a
-- background worker of its own (extension/src/vacuum.rs), so that a burst's dead head goes
-- seconds after the burst, not a minute. Where autovacuum is switched off, for the server or
-- for the table, so is this. Dead rows an open snapshot still sees survive a vacuum, and
-- vacuuming again removes nothing: only the dead rows beyond what the last vacuum left behind
-- (the master keeps that count) make one due.
CREATE FUNCTION sched._vacuum_due(left_behind bigint, OUT due boolean, OUT dead_rows bigint, OUT vacuums bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH options AS (
        SELECT c.oid, c.reltuples, pg_catalog.pg_stat_get_dead_tuples(c.oid) AS dead,
               (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
                WHERE o.option_name = 'autovacuum_enabled') AS enabled,
               (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
                WHERE o.option_name = 'autovacuum_vacuum_threshold') AS threshold,
               (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
                WHERE o.option_name = 'autovacuum_vacuum_scale_factor') AS scale_factor
        FROM pg_catalog.pg_class c
        WHERE c.oid = 'sched.task_instance'::regclass
    )
    SELECT pg_catalog.current_setting('autovacuum')::boolean
       AND coalesce(o.enabled, 'on')::boolean
       -- Ten thousand at least: a vacuum reads the whole table and its indexes, and a claim
       -- steps over a few thousand dead entries in a few microseconds.
       AND o.dead - greatest(_vacuum_due.left_behind, 0) >= greatest(10000,
               coalesce(o.threshold, pg_catalog.current_setting('autovacuum_vacuum_threshold'))::float8
               + coalesce(o.scale_factor, pg_catalog.current_setting('autovacuum_vacuum_scale_factor'))::float8
                 * greatest(o.reltuples, 0))
       -- Five seconds after the last vacuum ended, whoever ran it: during a long burst the
       -- head's cost to the claims and the vacuums' cost stay about even.
       AND coalesce(greatest(pg_catalog.pg_stat_get_last_vacuum_time(o.oid),
                             pg_catalog.pg_stat_get_last_autovacuum_time(o.oid))
                    < pg_catalog.now() - interval '5 seconds', true)
       -- Not beside autovacuum's: it would only wait for that one's lock and skip the table.
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_get_progress_info('VACUUM') p WHERE p.relid = o.oid),
           o.dead,
           pg_catalog.pg_stat_get_vacuum_count(o.oid)
    FROM options o
$$;
COMMENT ON FUNCTION sched._vacuum_due(bigint) IS
    'Internal: whether sched.task_instance holds, beyond the left_behind dead rows the last vacuum could not remove, as many dead rows as autovacuum''s rule for it asks to vacuum (and ten thousand at least), no vacuum of it ended in the last five seconds and none runs; how many dead rows it holds; and how many vacuums of it (not autovacuum''s) completed. The master then vacuums it at once instead of waiting for autovacuum''s next visit.';

-- 1_schema/10_definitions.sql: each task's depth in the DAG and its deps, kept at definition,
-- so that sched.instance_tasks pages an instance's tasks in DAG order. The tasks defined so far
-- get theirs from their successors, as the DAG was walked before.
ALTER TABLE sched.task_definition ADD COLUMN depth integer, ADD COLUMN deps text[];
UPDATE sched.task_definition SET deps = '{}';
UPDATE sched.task_definition td SET deps = up.names
  FROM (SELECT s.id, array_agg(u.name ORDER BY u.name COLLATE "C") AS names
          FROM sched.task_definition u CROSS JOIN LATERAL unnest(u.successors) AS s(id) GROUP BY s.id) up
 WHERE up.id = td.id;
DO $depths$
DECLARE
    hash  text := pg_catalog.current_setting('enable_hashjoin');
    merge text := pg_catalog.current_setting('enable_mergejoin');
BEGIN
    -- Each step of the walk finds its tasks by key: a hash of every task per step would make
    -- a deep chain quadratic.
    PERFORM pg_catalog.set_config('enable_hashjoin', 'off', true);
    PERFORM pg_catalog.set_config('enable_mergejoin', 'off', true);
    WITH RECURSIVE walk AS (
        SELECT td.id, 0 AS depth FROM sched.task_definition td WHERE td.dep_count = 0 AND td.element_of IS NULL
        UNION
        SELECT s.id, w.depth + 1
          FROM walk w JOIN sched.task_definition td ON td.id = w.id CROSS JOIN LATERAL unnest(td.successors) AS s(id)
    )
    UPDATE sched.task_definition td SET depth = p.depth
      FROM (SELECT w.id, max(w.depth) AS depth FROM walk w GROUP BY w.id) p
     WHERE p.id = td.id;
    PERFORM pg_catalog.set_config('enable_hashjoin', hash, true);
    PERFORM pg_catalog.set_config('enable_mergejoin', merge, true);
END
$depths$;
UPDATE sched.task_definition td SET depth = d.depth FROM sched.task_definition d WHERE td.element_of = d.id;
ALTER TABLE sched.task_definition ALTER COLUMN depth SET NOT NULL, ALTER COLUMN deps SET NOT NULL;
CREATE INDEX task_definition_in_order ON sched.task_definition (workflow_version_id, depth, id) WHERE element_of IS NULL;
COMMENT ON COLUMN sched.task_definition.depth IS 'Depth in the DAG: the longest path to it from a task without deps (0 for those). Ordered by it, every task comes after its upstream tasks. An element task has its DYNAMIC task''s.';
COMMENT ON COLUMN sched.task_definition.deps IS 'Names of the tasks it depends on (its spec''s deps), in byte order; empty for an element task.';
-- Now that the depths are known: whether reports of each version's instances lock them alone.
UPDATE sched.workflow_version v SET reports_alone = (
    SELECT coalesce(bool_or(td.logic <> 'forbidden'), false) OR count(DISTINCT td.depth) = count(*)
    FROM sched.task_definition td WHERE td.workflow_version_id = v.id);

-- 1_schema/10_definitions.sql: specs, a join's dependency names and a fan-out's successors are
-- compressed with lz4 where PostgreSQL has it (new values; those stored keep pglz).
DO $lz4$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE sched.workflow_version ALTER COLUMN spec SET COMPRESSION lz4;
        ALTER TABLE sched.task_definition ALTER COLUMN deps SET COMPRESSION lz4,
                                          ALTER COLUMN successors SET COMPRESSION lz4;
    END IF;
END
$lz4$;

-- 1_schema/50_history.sql: a task's latest attempt in an archived instance by index.
DROP INDEX sched.task_instance_history_by_instance;
CREATE INDEX task_instance_history_by_instance ON sched.task_instance_history (workflow_instance_id, task_id);

-- 1_schema/20_instances.sql: a claim finds an earlier try of itself by its token.
DROP INDEX sched.task_instance_claimed;
CREATE INDEX task_instance_claimed ON sched.task_instance (worker_id, claim_token)
    WHERE state = ANY (sched._task_states_claimed());

-- 1_schema/20_instances.sql: the constraints on ended_at spell out their states, so that no
-- statement writing an instance plans a call of the vocabulary.
ALTER TABLE sched.workflow_instance DROP CONSTRAINT ended_at_set_exactly_when_finished;
ALTER TABLE sched.task_instance DROP CONSTRAINT ended_at_set_exactly_when_final;
DO $constraints$
BEGIN
    EXECUTE pg_catalog.format(
        'ALTER TABLE sched.workflow_instance ADD CONSTRAINT ended_at_set_exactly_when_finished
             CHECK ((ended_at IS NOT NULL) = (state = ANY (%L::sched.workflow_state[])))',
        sched._workflow_states_finished());
    EXECUTE pg_catalog.format(
        'ALTER TABLE sched.task_instance ADD CONSTRAINT ended_at_set_exactly_when_final
             CHECK ((ended_at IS NOT NULL) = (state <> ALL (%L::sched.task_state[])))',
        sched._task_states_active());
END
$constraints$;

-- 2_kernel/extension_functions.sql: what _create_workflow keeps of a spec, from one parse of it.
CREATE  FUNCTION "_prepare_spec"(
	"spec" TEXT, /* & str */
	"types" jsonb /* JsonB */
) RETURNS TABLE (
	"norm" TEXT,  /* String */
	"uses" jsonb,  /* JsonB */
	"depths" INT[],  /* Vec < i32 > */
	"priorities" smallint[],  /* Vec < i16 > */
	"successors" INT[],  /* Vec < i32 > */
	"successor_counts" INT[],  /* Vec < i32 > */
	"feeds_conditions" bool[]  /* Vec < bool > */
)
STRICT STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'prepare_spec_wrapper';
CREATE  FUNCTION "_successor_ids"(
	"task_ids" bigint[], /* Vec < i64 > */
	"successors" INT[], /* Vec < i32 > */
	"successor_counts" INT[] /* Vec < i32 > */
) RETURNS TABLE (
	"ord" INT,  /* i32 */
	"successor_ids" bigint[]  /* Vec < i64 > */
)
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'successor_ids_wrapper';
COMMENT ON FUNCTION sched._prepare_spec(text, jsonb) IS
    'Internal: from one parse of a workflow spec, what sched.create_workflow keeps: the spec normalised (JSON text), what it names that needs a right ([{kind, name, field}]: worker groups but default, datasources, alert groups, task groups) and, in the order of its tasks, each task''s depth in the DAG (the longest path to it from a task without deps), its priority''s rank (0 = highest), its successors (positions in the task list from 1, all tasks'' one after the other, successor_counts of them each) and whether all of them are enabled CONDITIONS tasks; or an error naming the field.';
COMMENT ON FUNCTION sched._successor_ids(bigint[], integer[], integer[]) IS
    'Internal: the successors _prepare_spec found, as task definition ids: task_ids in the order of the spec''s tasks; a row per task with successors, by its position from 1.';

-- 7_api/task_groups.sql: create_task_group takes admit_when.
DROP FUNCTION sched.create_task_group(text, integer, text, boolean);
DROP FUNCTION sched._create_task_group(regrole, text, integer, text, boolean);
CREATE FUNCTION sched.create_task_group(name text, size integer, description text DEFAULT '', replace boolean DEFAULT false,
                                       admit_when text DEFAULT NULL)
RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._create_task_group(principal regrole, name text, size integer, description text, replace boolean,
                                        admit_when text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing sched.task_group;
BEGIN
    PERFORM sched._check_name(name, 'name', 'task group name');
    IF size IS NULL OR size NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'size: must be between 1 and 100000, got %', size USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO existing FROM sched.task_group tg WHERE tg.name = _create_task_group.name FOR UPDATE;
    IF FOUND THEN
        IF NOT coalesce(replace, false) THEN
            RAISE EXCEPTION 'task group "%" already exists', name USING ERRCODE = 'duplicate_object',
                HINT = 'Pass replace => true to change its size, description or admit_when.';
        END IF;
        PERFORM sched._check_owner(principal, existing.owner, format('task group "%s"', name));
        IF admit_when IS NOT NULL THEN
            PERFORM sched._check_admit_when(existing.owner, admit_when, 'admit_when');
        END IF;
        UPDATE sched.task_group tg SET size = _create_task_group.size, description = coalesce(_create_task_group.description, ''),
                                       admit_when = btrim(_create_task_group.admit_when)
        WHERE tg.id = existing.id;
        -- A new expression is asked anew, not after the last one's interval.
        UPDATE sched.admit_check c SET reason = NULL, checked_at = NULL
        WHERE c.gate = 'task_group' AND c.gate_id = existing.id;
        -- A larger group has room at once; one with admit_when is looked at again by the master.
        PERFORM sched._grant_slots(ARRAY[existing.id]);
        IF admit_when IS NOT NULL THEN
            PERFORM sched._wake_master();
        END IF;
    ELSE
        IF admit_when IS NOT NULL THEN
            PERFORM sched._check_admit_when(principal, admit_when, 'admit_when');
        END IF;
        INSERT INTO sched.task_group (name, size, description, owner, admit_when)
        VALUES (name, size, coalesce(description, ''), principal, btrim(admit_when));
    END IF;
END
$$;
COMMENT ON FUNCTION sched.create_task_group(text, integer, text, boolean, text) IS
    'Creates a task group: tasks naming it (task_group) run at most size at once across all workflows, and with admit_when only while that SQL boolean over sched.load holds (evaluated as the group''s owner); with replace, changes an existing one''s size, description and admit_when (its owner or sched_admin).';

-- 6_views/task_groups.sql: admit_when and why it did not hold.
CREATE OR REPLACE VIEW sched.task_groups AS
SELECT g.name, g.size, g.description, g.owner::text AS owner,
       (SELECT count(*) FROM sched.task_instance h WHERE h.task_group_id = g.id AND h.holds_slot) AS in_use,
       (SELECT count(*) FROM sched.task_instance w
        WHERE w.task_group_id = g.id AND w.state = 'delayed' AND w.not_before IS NULL) AS waiting,
       g.created_at,
       g.admit_when,
       (SELECT c.reason FROM sched.admit_check c
        WHERE c.gate = 'task_group' AND c.gate_id = g.id AND g.admit_when IS NOT NULL) AS admit_reason
FROM sched.task_group g;
COMMENT ON COLUMN sched.task_groups.admit_when IS 'SQL boolean over sched.load that must hold before a waiting attempt gets a slot; NULL for none.';
COMMENT ON COLUMN sched.task_groups.admit_reason IS 'Why admit_when did not hold when last evaluated (false, NULL, or its error); NULL when it held or has not been evaluated.';

-- 6_views/metrics.sql: attempts waiting for admit_when.
CREATE OR REPLACE VIEW sched.metrics AS
WITH active AS (
    -- One pass over the active attempts (task_instance_active), classified once for every
    -- metric about them. Logic attempts run in the scheduler, with no worker: a waiting
    -- DEPENDENT task has a recheck time, any other is a SUB_PROCESS waiting for its child.
    SELECT ti.worker_group,
           ti.state::text AS state,
           ti.workflow_priority,
           CASE WHEN ti.state = 'delayed' AND ti.not_before IS NOT NULL THEN 'delay'
                WHEN ti.state = 'delayed' AND ti.task_group_id IS NULL THEN 'admit_when'
                WHEN ti.state = 'delayed' THEN 'task_group'
                WHEN ti.state = 'running' AND ti.worker_id IS NULL AND ti.recheck_at IS NOT NULL THEN 'dependent'
                WHEN ti.state = 'running' AND ti.worker_id IS NULL THEN 'sub_process'
           END AS waiting,
           count(*) AS n,
           min(ti.queued_at) AS oldest
    FROM sched.task_instance ti
    WHERE ti.state = ANY(sched._task_states_active())
    GROUP BY 1, 2, 3, 4
), live AS (
    SELECT w.groups, w.slots, w.running, w.status, w.last_heartbeat
    FROM sched.worker w
    WHERE w.alive
), live_groups AS (
    SELECT g.worker_group, count(*) AS workers, sum(l.slots) AS slots
    FROM live l, unnest(l.groups) AS g(worker_group)
    GROUP BY 1
), worker_groups AS (
    -- Groups that someone serves or that have work: an unserved queue shows 0 workers, and a
    -- drained queue 0 tasks rather than no sample.
    SELECT lg.worker_group FROM live_groups lg
    UNION
    SELECT a.worker_group FROM active a
), priorities AS (
    SELECT p.name, (p.rank - 1)::smallint AS rank
    FROM unnest(sched._priorities()) WITH ORDINALITY AS p(name, rank)
), pending AS (
    SELECT d.channel->>'type' AS channel,
           count(*) AS n,
           count(*) FILTER (WHERE d.attempts > 0) AS retried,
           min(a.created_at) AS oldest
    FROM sched.alert_delivery d
    JOIN sched.alert a ON a.id = d.alert_id
    WHERE d.state = 'pending'
    GROUP BY 1
), settings AS (
    -- The defaults stand in when the library is not loaded in this session.
    SELECT coalesce(pg_catalog.current_setting('sched.misfire_threshold', true), '60s')::interval AS misfire_threshold
)
-- Joins rather than sub-selects per label set: the planner's guesses for these small sets are
-- generous, and estimated costs past jit_above_cost would have every scrape pay a second of
-- JIT compilation.
SELECT 'sched_queue_depth' AS metric,
       jsonb_build_object('worker_group', g.worker_group, 'priority', p.name) AS labels,
       coalesce(q.n, 0)::float8 AS value
FROM worker_groups g
CROSS JOIN priorities p
LEFT JOIN (SELECT a.worker_group, a.workflow_priority, sum(a.n) AS n FROM active a
           WHERE a.state = 'queued' GROUP BY 1, 2) q
       ON q.worker_group = g.worker_group AND q.workflow_priority = p.rank
UNION ALL
-- From queued_at, when the attempt became ready: a wait in delayed before (delay, retry
-- interval, task group slot) counts too.
SELECT 'sched_oldest_queued_task_age_seconds',
       jsonb_build_object('worker_group', g.worker_group),
       coalesce(extract(epoch FROM greatest(interval '0', statement_timestamp() - q.oldest)), 0)::float8
FROM worker_groups g
LEFT JOIN (SELECT a.worker_group, min(a.oldest) AS oldest FROM active a
           WHERE a.state = 'queued' GROUP BY 1) q ON q.worker_group = g.worker_group
UNION ALL
-- A running attempt here is one a worker runs; logic attempts count as waiting below.
SELECT 'sched_task_instances',
       jsonb_build_object('worker_group', g.worker_group, 'state', s.state),
       coalesce(c.n, 0)::float8
FROM worker_groups g
CROSS JOIN unnest(sched._task_states_active()::text[]) AS s(state)
LEFT JOIN (SELECT a.worker_group, a.state, sum(a.n) AS n FROM active a
           WHERE a.waiting IS NULL OR a.waiting IN ('delay', 'task_group', 'admit_when') GROUP BY 1, 2) c
       ON c.worker_group = g.worker_group AND c.state = s.state
UNION ALL
SELECT 'sched_waiting_task_instances',
       jsonb_build_object('reason', r.reason),
       coalesce(c.n, 0)::float8
FROM unnest(ARRAY['delay', 'task_group', 'admit_when', 'dependent', 'sub_process']) AS r(reason)
LEFT JOIN (SELECT a.waiting, sum(a.n) AS n FROM active a WHERE a.waiting IS NOT NULL GROUP BY 1) c
       ON c.waiting = r.reason
UNION ALL
-- Only unfinished states (workflow_instance_unfinished): counting finished instances would
-- read the whole history.
SELECT 'sched_workflow_instances',
       jsonb_build_object('state', s.state::text),
       coalesce(c.n, 0)::float8
FROM unnest(enum_range(NULL::sched.workflow_state)) AS s(state)
LEFT JOIN (SELECT wi.state, count(*) AS n FROM sched.workflow_instance wi
           WHERE wi.state <> ALL(sched._workflow_states_finished())
           GROUP BY wi.state) c ON c.state = s.state
WHERE s.state <> ALL(sched._workflow_states_finished())
UNION ALL
SELECT 'sched_workflow_instances_ended_5m',
       jsonb_build_object('state', s.state),
       coalesce(c.n, 0)::float8
FROM unnest(sched._workflow_states_finished()::text[]) AS s(state)
LEFT JOIN (SELECT wi.state::text AS state, count(*) AS n FROM sched.workflow_instance wi
           WHERE wi.ended_at IS NOT NULL AND wi.ended_at > statement_timestamp() - interval '5 minutes'
           GROUP BY wi.state) c ON c.state = s.state
UNION ALL
SELECT 'sched_schedule_lateness_seconds',
       '{}'::jsonb,
       coalesce(extract(epoch FROM greatest(interval '0', statement_timestamp() -
           (SELECT min(s.next_fire_at) FROM sched.schedule s WHERE s.enabled AND s.next_fire_at IS NOT NULL))), 0)::float8
UNION ALL
SELECT 'sched_schedules_overdue',
       '{}'::jsonb,
       (SELECT count(*) FROM sched.schedule s, settings
        WHERE s.enabled AND s.next_fire_at IS NOT NULL
          AND s.next_fire_at < statement_timestamp() - settings.misfire_threshold)::float8
UNION ALL
SELECT 'sched_schedules_online',
       '{}'::jsonb,
       (SELECT count(*) FROM sched.schedule s WHERE s.enabled AND s.next_fire_at IS NOT NULL)::float8
UNION ALL
SELECT 'sched_workers',
       jsonb_build_object('state', st.state),
       (SELECT count(*) FROM live l WHERE (l.status IS NULL) = (st.state = 'live'))::float8
FROM unnest(ARRAY['live', 'unhealthy']) AS st(state)
UNION ALL
-- Every end but a clean shutdown is a worker that died or went silent: declared dead, taken
-- over by a restart under its name, or ended after a fence.
SELECT 'sched_workers_ended_last_hour',
       jsonb_build_object('reason', r.reason),
       (SELECT count(*) FROM sched.worker w
        WHERE NOT w.alive AND w.ended_at > statement_timestamp() - interval '1 hour'
          AND (w.ended_why <> 'shutdown') = (r.reason = 'dead'))::float8
FROM unnest(ARRAY['dead', 'shutdown']) AS r(reason)
UNION ALL
SELECT 'sched_workers_slots', '{}'::jsonb, coalesce((SELECT sum(l.slots) FROM live l), 0)::float8
UNION ALL
SELECT 'sched_workers_running_tasks', '{}'::jsonb, coalesce((SELECT sum(l.running) FROM live l), 0)::float8
UNION ALL
SELECT 'sched_workers_max_heartbeat_age_seconds',
       '{}'::jsonb,
       coalesce(extract(epoch FROM greatest(interval '0', statement_timestamp() - (SELECT min(l.last_heartbeat) FROM live l))), 0)::float8
UNION ALL
SELECT 'sched_group_workers',
       jsonb_build_object('worker_group', g.worker_group),
       coalesce(lg.workers, 0)::float8
FROM worker_groups g
LEFT JOIN live_groups lg ON lg.worker_group = g.worker_group
UNION ALL
SELECT 'sched_group_slots',
       jsonb_build_object('worker_group', g.worker_group),
       coalesce(lg.slots, 0)::float8
FROM worker_groups g
LEFT JOIN live_groups lg ON lg.worker_group = g.worker_group
UNION ALL
SELECT 'sched_task_group_slots', jsonb_build_object('task_group', tg.name), tg.size::float8
FROM sched.task_group tg
UNION ALL
SELECT 'sched_task_group_slots_in_use',
       jsonb_build_object('task_group', tg.name),
       (SELECT count(*) FROM sched.task_instance h WHERE h.task_group_id = tg.id AND h.holds_slot)::float8
FROM sched.task_group tg
UNION ALL
SELECT 'sched_task_group_waiting',
       jsonb_build_object('task_group', tg.name),
       (SELECT count(*) FROM sched.task_instance w
        WHERE w.task_group_id = tg.id AND w.state = 'delayed' AND w.not_before IS NULL)::float8
FROM sched.task_group tg
UNION ALL
SELECT 'sched_alerts_pending',
       jsonb_build_object('channel', c.channel),
       coalesce((SELECT p.n FROM pending p WHERE p.channel = c.channel), 0)::float8
FROM unnest(ARRAY['email', 'webhook', 'script']) AS c(channel)
UNION ALL
SELECT 'sched_alerts_pending_retried',
       jsonb_build_object('channel', c.channel),
       coalesce((SELECT p.retried FROM pending p WHERE p.channel = c.channel), 0)::float8
FROM unnest(ARRAY['email', 'webhook', 'script']) AS c(channel)
UNION ALL
SELECT 'sched_oldest_pending_alert_age_seconds',
       '{}'::jsonb,
       coalesce(extract(epoch FROM greatest(interval '0', statement_timestamp() - (SELECT min(p.oldest) FROM pending p))), 0)::float8
UNION ALL
SELECT 'sched_master_up', '{}'::jsonb, CASE WHEN sched._master_running() THEN 1 ELSE 0 END::float8
UNION ALL
-- Leaf tables only: a partitioned table has no storage of its own, its partitions carry it
-- (labelled with the partitioned table as table). A relation dropped meanwhile has no size.
SELECT 'sched_table_size_bytes',
       jsonb_build_object('table', coalesce(root.relname, c.relname), 'partition', c.relname),
       size.bytes::float8
FROM pg_catalog.pg_class c
LEFT JOIN pg_catalog.pg_class root ON c.relispartition AND root.oid = pg_catalog.pg_partition_root(c.oid)
CROSS JOIN LATERAL (SELECT pg_catalog.pg_total_relation_size(c.oid) AS bytes) size
WHERE c.relnamespace = 'sched'::regnamespace AND c.relkind = 'r' AND size.bytes IS NOT NULL;


-- 6_views/load.sql
-- The live load of the database, for admit_when expressions (3_engine/admit_when.sql) and for
-- people: one row of counts, the same for every reader.

CREATE VIEW sched.load AS
SELECT l.active_backends, l.lock_waits, l.replication_lag, l.wal_rate FROM sched._load() l;
COMMENT ON VIEW sched.load IS 'The live load of this database, one row; admit_when expressions name its columns bare.';
COMMENT ON COLUMN sched.load.active_backends IS 'Sessions running a statement now (not counting the one asking, nor WAL senders).';
COMMENT ON COLUMN sched.load.lock_waits IS 'Sessions waiting for a lock now.';
COMMENT ON COLUMN sched.load.replication_lag IS 'Seconds: on a primary the largest write, flush or replay lag of its standbys (0 with none); on a standby how old the last replayed transaction is.';
COMMENT ON COLUMN sched.load.wal_rate IS 'Bytes of WAL written per second, measured between the two latest evaluations of an admit_when (at most a second apart while attempts wait).';

-- 1_schema/20_instances.sql and 50_history.sql: an attempt may be an element of a dynamic task;
-- the history and sched._attempts (2_kernel/attempts.sql) have the same columns.
ALTER TABLE sched.task_instance ADD COLUMN element integer;
ALTER TABLE sched.task_instance_history ADD COLUMN element integer;
CREATE OR REPLACE VIEW sched._attempts AS
SELECT * FROM sched.task_instance
UNION ALL
SELECT * FROM sched.task_instance_history;
COMMENT ON COLUMN sched.task_instance.element IS 'For an attempt of a DYNAMIC task''s element task: the element''s index, from 0 (its values: sched.dynamic_element); NULL otherwise.';
COMMENT ON COLUMN sched.task_instance.kill_reason IS 'Why it was killed or asked to be: stop (its instance, or a parent, was stopped), failure_strategy_end, timeout (its own), workflow_timeout, failover, user (sched.kill_task), forced_success (a later attempt made moot by sched.force_success), element_failed (an element of the same DYNAMIC task failed under on_failure stop) or snapshot_max_age (its instance held its consistent snapshot longer than sched.snapshot_max_age); NULL otherwise.';
COMMENT ON COLUMN sched.task_instance_history.element IS 'For an attempt of a DYNAMIC task''s element task: the element''s index, from 0 (its values: sched.dynamic_element); NULL otherwise.';
COMMENT ON COLUMN sched.task_instance_history.kill_reason IS 'Why it was killed or asked to be: stop (its instance, or a parent, was stopped), failure_strategy_end, timeout (its own), workflow_timeout, failover, user (sched.kill_task), forced_success (a later attempt made moot by sched.force_success), element_failed (an element of the same DYNAMIC task failed under on_failure stop) or snapshot_max_age (its instance held its consistent snapshot longer than sched.snapshot_max_age); NULL otherwise.';
COMMENT ON COLUMN sched._attempts.element IS 'For an attempt of a DYNAMIC task''s element task: the element''s index, from 0 (its values: sched.dynamic_element); NULL otherwise.';
COMMENT ON COLUMN sched._attempts.kill_reason IS 'Why it was killed or asked to be: stop (its instance, or a parent, was stopped), failure_strategy_end, timeout (its own), workflow_timeout, failover, user (sched.kill_task), forced_success (a later attempt made moot by sched.force_success), element_failed (an element of the same DYNAMIC task failed under on_failure stop) or snapshot_max_age (its instance held its consistent snapshot longer than sched.snapshot_max_age); NULL otherwise.';

-- 1_schema/68_dynamic.sql
-- DYNAMIC tasks (docs/architecture.md, "The life of a dynamic task"): an attempt of one expands
-- its lists into elements, stored here once per run, and runs its element task once per
-- element as ordinary attempts (sched.task_instance.element), at most parallelism at a time;
-- its progress row counts them as they end (3_engine/dynamic.sql).

-- A bulk table, without foreign keys (a check per element cost more than the expansion): it is
-- cleared with its instances' attempts (4_master/retention.sql, 7_api/definitions.sql).
CREATE TABLE sched.dynamic_element (
    workflow_instance_id bigint NOT NULL,
    task_id              bigint NOT NULL,
    run                  integer NOT NULL,
    element              integer NOT NULL,
    "values"             jsonb NOT NULL,
    PRIMARY KEY (workflow_instance_id, task_id, run, element)
);
COMMENT ON TABLE sched.dynamic_element IS 'The elements of the runs of DYNAMIC tasks: the values each element''s attempts run with, set when the dynamic task expanded its lists.';
COMMENT ON COLUMN sched.dynamic_element.workflow_instance_id IS 'The workflow instance.';
COMMENT ON COLUMN sched.dynamic_element.task_id IS 'The element task (sched.task_definition.element_of names its dynamic task).';
COMMENT ON COLUMN sched.dynamic_element.run IS 'The run of the instance it belongs to; a rerun expands the lists again.';
COMMENT ON COLUMN sched.dynamic_element.element IS 'Index of the element, from 0, in the order of the list (for several lists: the combinations, the last list varying fastest).';
COMMENT ON COLUMN sched.dynamic_element."values" IS 'The element''s parameter values, {"name": "value"}: its attempts'' local params (a workflow''s start params), over any other of the same name.';

CREATE TABLE sched.dynamic_progress (
    workflow_instance_id bigint NOT NULL REFERENCES sched.workflow_instance ON DELETE CASCADE,
    task_id              bigint NOT NULL,
    run                  integer NOT NULL,
    task_instance_id     bigint NOT NULL,
    element_task         bigint NOT NULL,
    total                integer NOT NULL,
    pending              integer[],
    released             integer NOT NULL DEFAULT 0,
    ended                integer NOT NULL DEFAULT 0,
    failed               integer NOT NULL DEFAULT 0,
    parallelism          integer,
    on_failure           text NOT NULL CHECK (on_failure = ANY (sched._choices('backfill_on_failure'))),
    stopping             boolean NOT NULL DEFAULT false,
    PRIMARY KEY (workflow_instance_id, task_id, run)
);
COMMENT ON TABLE sched.dynamic_progress IS 'Per run of a DYNAMIC task in an instance: how far its elements are; its latest attempt (a resume, recover or retry runs only the elements that did not succeed) ends once they have.';
COMMENT ON COLUMN sched.dynamic_progress.workflow_instance_id IS 'The workflow instance.';
COMMENT ON COLUMN sched.dynamic_progress.task_id IS 'The dynamic task.';
COMMENT ON COLUMN sched.dynamic_progress.run IS 'The run of the instance.';
COMMENT ON COLUMN sched.dynamic_progress.task_instance_id IS 'The dynamic task''s attempt the elements now run for.';
COMMENT ON COLUMN sched.dynamic_progress.element_task IS 'The element task, whose attempts are the elements.';
COMMENT ON COLUMN sched.dynamic_progress.total IS 'Elements the lists expanded into.';
COMMENT ON COLUMN sched.dynamic_progress.pending IS 'The elements this attempt runs, in order, when not all (a resume, recover or retry: those that did not succeed); NULL for all.';
COMMENT ON COLUMN sched.dynamic_progress.released IS 'How many of them got attempts so far (parallelism holds the others back).';
COMMENT ON COLUMN sched.dynamic_progress.ended IS 'How many of those ended for good (a retry pending is not an end).';
COMMENT ON COLUMN sched.dynamic_progress.failed IS 'How many of those failed or were killed.';
COMMENT ON COLUMN sched.dynamic_progress.parallelism IS 'Most elements running at once; NULL for no limit of its own.';
COMMENT ON COLUMN sched.dynamic_progress.on_failure IS 'After an element failed: stop (the others are killed, nothing more starts) or continue; the dynamic task fails either way once the elements are done.';
COMMENT ON COLUMN sched.dynamic_progress.stopping IS 'An element failed under on_failure stop: no element starts any more.';

-- 1_schema/69_dependencies.sql
-- What the SQL of each workflow version uses on the scheduler's database: the relations and
-- functions its sql and procedure tasks' statements name, as their check at definition found
-- them (2_kernel/sql_check.sql). The guard of DROP and ALTER reads it (3_engine/object_guard.sql).
CREATE TABLE sched.workflow_dependency (
    workflow_version_id bigint NOT NULL REFERENCES sched.workflow_version ON DELETE CASCADE,
    task                text NOT NULL,
    classid             regclass NOT NULL CHECK (classid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_proc'::regclass)),
    objid               oid NOT NULL,
    -- Only what its owner owns can a workflow protect: else any role that may read a table
    -- could keep its owner from changing it.
    owned               boolean NOT NULL,
    PRIMARY KEY (workflow_version_id, task, classid, objid)
);
CREATE INDEX workflow_dependency_object ON sched.workflow_dependency (classid, objid);
COMMENT ON TABLE sched.workflow_dependency IS 'The relations and functions the SQL of each workflow version uses on this database, found when it was defined.';
COMMENT ON COLUMN sched.workflow_dependency.workflow_version_id IS 'The workflow version.';
COMMENT ON COLUMN sched.workflow_dependency.task IS 'The task whose statements use it (an inline element task as <dynamic task>[]).';
COMMENT ON COLUMN sched.workflow_dependency.classid IS 'pg_class for a relation (table, view, sequence, ...), pg_proc for a function or procedure.';
COMMENT ON COLUMN sched.workflow_dependency.objid IS 'The object''s OID.';
COMMENT ON COLUMN sched.workflow_dependency.owned IS 'Whether the workflow''s owner was a member of the object''s owner when the version was defined: only such objects does protect_objects protect.';

-- 1_schema/64_schedules.sql: deadlines.
ALTER TABLE sched.schedule ADD COLUMN deadline text, ADD COLUMN deadline_through timestamptz,
    ADD COLUMN deadline_next timestamptz;
-- The master reads only the schedules that have a deadline to watch.
CREATE INDEX schedule_deadline_due ON sched.schedule (deadline_next) WHERE deadline_next IS NOT NULL;
COMMENT ON COLUMN sched.schedule.deadline IS 'Its own deadline (options.deadline), over the workflow''s: when each fire''s run must have succeeded by; NULL for the workflow''s.';
COMMENT ON COLUMN sched.schedule.deadline_through IS 'Fires up to this time have their deadlines in sched.deadline_check; fires before the deadline was set have none.';
COMMENT ON COLUMN sched.schedule.deadline_next IS 'When the master next looks at its deadlines (a fire to record, a deadline due); NULL when neither it nor its workflow has one.';
-- Deadlines (4_master/deadlines.sql): one row per fire of a schedule with a deadline, recorded
-- when the fire time comes whether or not an instance started, decided when the deadline comes.
-- Its instance is the schedule's for that fire time (workflow_instance_one_per_fire).
CREATE TABLE sched.deadline_check (
    schedule_id bigint NOT NULL REFERENCES sched.schedule ON DELETE CASCADE,
    fire_at     timestamptz NOT NULL,
    deadline_at timestamptz NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state = ANY (sched._deadline_states())),
    decided_at  timestamptz,
    PRIMARY KEY (schedule_id, fire_at)
);
CREATE INDEX deadline_check_pending ON sched.deadline_check (schedule_id, deadline_at) WHERE state = 'pending';
COMMENT ON TABLE sched.deadline_check IS 'The deadline of each fire of a schedule with a deadline (the schedule''s or its workflow''s), and whether its run met it; read through sched.deadlines.';
COMMENT ON COLUMN sched.deadline_check.schedule_id IS 'The schedule.';
COMMENT ON COLUMN sched.deadline_check.fire_at IS 'The nominal fire time (the run''s schedule_time), whether or not the schedule fired.';
COMMENT ON COLUMN sched.deadline_check.deadline_at IS 'When its run must have succeeded by.';
COMMENT ON COLUMN sched.deadline_check.state IS 'pending (the deadline has not come), met (its instance succeeded by then) or missed (it had not: an alert deadline_missed was raised).';
COMMENT ON COLUMN sched.deadline_check.decided_at IS 'When it was decided; NULL while pending.';

-- 1_schema/62_alerts.sql: the event deadline_missed, which may concern no instance.
ALTER TABLE sched.alert DROP CONSTRAINT alert_event_check,
    ADD CONSTRAINT alert_event_check CHECK (event IN ('workflow_succeeded', 'workflow_failed', 'workflow_stopped',
                                                        'workflow_paused', 'task_timeout', 'workflow_timeout',
                                                        'fault_tolerance', 'sql_result', 'test', 'deadline_missed')),
    DROP CONSTRAINT alert_instance_unless_test,
    ADD CONSTRAINT alert_instance_unless_test CHECK (workflow_instance_id IS NOT NULL OR event IN ('test', 'deadline_missed'));
COMMENT ON TABLE sched.alert IS 'Alerts the engine raised, one per event, written in the transaction that caused it, and tests of alert groups; read through sched.alerts. Deleted with their workflow instance (one without an instance, once as old as sched.history_retention).';
COMMENT ON COLUMN sched.alert.event IS 'The event: workflow_succeeded, workflow_failed, workflow_stopped, workflow_paused, task_timeout, workflow_timeout, fault_tolerance, sql_result, deadline_missed (a scheduled run had not succeeded by its deadline), or test (sched.test_alert_group).';
COMMENT ON COLUMN sched.alert.workflow_instance_id IS 'The workflow instance concerned; NULL for a test, and for a missed deadline of a run that never started (details.workflow_id names its workflow).';

-- 3_engine/fires.sql: the deadline of a schedule's fires.
CREATE FUNCTION sched._schedule_deadline(s sched.schedule) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(s.deadline,
                    (SELECT v.spec->>'deadline' FROM sched.workflow w
                     JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
                     WHERE w.id = s.workflow_id))
$$;
COMMENT ON FUNCTION sched._schedule_deadline(sched.schedule) IS 'Internal: the deadline of a schedule''s fires, its own or its workflow''s; NULL for none.';

-- 2_kernel/use_rights.sql: what a spec names that needs a right is _prepare_spec's (Rust).
DROP FUNCTION sched._spec_uses(jsonb);

-- 1_schema/20_instances.sql: a start by a trigger is recorded as such.
ALTER TABLE sched.command DROP CONSTRAINT command_command_type_check,
    ADD CONSTRAINT command_command_type_check CHECK (command_type IN (
        'start_process', 'start_current_task_process', 'recover_tolerance_fault_process',
        'recover_suspended_process', 'start_failure_task_process', 'complement_data', 'scheduler',
        'repeat_running', 'pause', 'stop', 'recover_waiting_thread', 'recover_serial_wait',
        'execute_task', 'force_success', 'kill_task', 'trigger'));
COMMENT ON COLUMN sched.command.command_type IS 'DolphinScheduler command type in lower case, e.g. start_process, stop; force_success and kill_task (task operations DolphinScheduler records no command for) and trigger (a start by sched.triggers) are pg_sched''s.';

-- 1_schema/67_triggers.sql
-- Triggers and datasets: what starts a workflow when something happened rather than at a time
-- (docs/architecture.md, "The life of an event"). An event is a committed row: the end of an
-- upstream instance starts its downstream in the same transaction (3_engine/triggers.sql); a
-- table's change and a dataset's update leave a row in sched.trigger_event, which the master
-- turns into a start and deletes in one transaction (4_master/events.sql); a webhook's request
-- starts its workflow in the console's transaction (7_api/triggers.sql). Each start is recorded
-- in sched.trigger_fire under a key that makes it happen once.

CREATE TABLE sched.trigger (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                 text NOT NULL CHECK (kind = ANY (sched._choices('trigger_kinds'))),
    owner                regrole NOT NULL,
    workflow_id          bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    upstream_workflow_id bigint REFERENCES sched.workflow ON DELETE CASCADE,
    end_states           sched.workflow_state[],
    table_oid            oid,
    table_name           text,
    operations           text[] CHECK (operations <@ sched._choices('table_operations')),
    datasets             text[],
    mode                 text CHECK (mode = ANY (sched._choices('dataset_modes'))),
    hook                 text UNIQUE,
    secret               text,
    params               jsonb,
    debounce             interval NOT NULL DEFAULT '0',
    max_wait             interval,
    min_rows             bigint NOT NULL DEFAULT 1,
    rate_limit           integer,
    enabled              boolean NOT NULL DEFAULT true,
    disabled_reason      text,
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_fired_at        timestamptz,
    fire_count           bigint NOT NULL DEFAULT 0,
    CHECK (CASE kind WHEN 'workflow_end' THEN upstream_workflow_id IS NOT NULL AND end_states IS NOT NULL
                     WHEN 'table_change' THEN table_oid IS NOT NULL AND operations IS NOT NULL
                     WHEN 'webhook' THEN hook IS NOT NULL AND secret IS NOT NULL AND rate_limit IS NOT NULL
                     WHEN 'dataset' THEN datasets IS NOT NULL AND mode IS NOT NULL END)
);
-- Finishing an instance asks whether anything waits for its workflow's end: a probe of this.
CREATE INDEX trigger_by_upstream ON sched.trigger (upstream_workflow_id) WHERE upstream_workflow_id IS NOT NULL;
-- A workflow's schedule_on is one trigger, replaced with its versions.
CREATE UNIQUE INDEX trigger_one_dataset_per_workflow ON sched.trigger (workflow_id) WHERE kind = 'dataset';
CREATE INDEX trigger_by_dataset ON sched.trigger USING gin (datasets) WHERE kind = 'dataset';
COMMENT ON TABLE sched.trigger IS 'What starts a workflow on an event: another workflow''s end, a table''s change, a webhook, or datasets (a workflow''s schedule_on). Read through sched.triggers.';
COMMENT ON COLUMN sched.trigger.id IS 'Trigger id.';
COMMENT ON COLUMN sched.trigger.kind IS 'workflow_end, table_change, webhook or dataset (sched._choices(''trigger_kinds'')).';
COMMENT ON COLUMN sched.trigger.owner IS 'The role that created it (a dataset trigger: the workflow''s owner): the workflow starts as it, and its rights are checked again at every start.';
COMMENT ON COLUMN sched.trigger.workflow_id IS 'The workflow it starts.';
COMMENT ON COLUMN sched.trigger.upstream_workflow_id IS 'workflow_end: the workflow whose instances'' end starts it.';
COMMENT ON COLUMN sched.trigger.end_states IS 'workflow_end: the end states that start it (default succeeded).';
COMMENT ON COLUMN sched.trigger.table_oid IS 'table_change: the table watched (its statement-level triggers are named sched_trigger_<id>_<operation>).';
COMMENT ON COLUMN sched.trigger.table_name IS 'table_change: the table''s qualified name when the trigger was created, shown once it is dropped.';
COMMENT ON COLUMN sched.trigger.operations IS 'table_change: insert, update, delete (sched._choices(''table_operations'')).';
COMMENT ON COLUMN sched.trigger.datasets IS 'dataset: the datasets of the workflow''s schedule_on.';
COMMENT ON COLUMN sched.trigger.mode IS 'dataset: all (every dataset has a new event) or any.';
COMMENT ON COLUMN sched.trigger.hook IS 'webhook: the id in its URL path, /hooks/<hook>; random, so that hooks cannot be guessed.';
COMMENT ON COLUMN sched.trigger.secret IS 'webhook: the HMAC-SHA256 key requests are signed with; shown once, by sched.create_webhook, and never by a view.';
COMMENT ON COLUMN sched.trigger.params IS 'The start parameters an event''s values map to ({"param": "source"}); NULL passes them as they come.';
COMMENT ON COLUMN sched.trigger.debounce IS 'table_change, dataset (mode any): start once there has been no event for this long.';
COMMENT ON COLUMN sched.trigger.max_wait IS 'table_change: start at the latest this long after the first event waiting, quiet or not.';
COMMENT ON COLUMN sched.trigger.min_rows IS 'table_change: start only once at least this many rows changed.';
COMMENT ON COLUMN sched.trigger.rate_limit IS 'webhook: most starts per minute; requests beyond it are refused (HTTP 429).';
COMMENT ON COLUMN sched.trigger.enabled IS 'False: its events are not recorded and it starts nothing.';
COMMENT ON COLUMN sched.trigger.disabled_reason IS 'Why it is disabled: by whom, or the right its owner lost.';
COMMENT ON COLUMN sched.trigger.last_error IS 'Why its last start failed, when it did (the trigger stays enabled unless a right was lost).';
COMMENT ON COLUMN sched.trigger.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.trigger.last_fired_at IS 'When it last started its workflow.';
COMMENT ON COLUMN sched.trigger.fire_count IS 'How many instances it started.';

-- The inbox of triggers the master serves: a row per statement that changed a watched table
-- (counting its rows) and per dataset event a consumer has not yet taken. Rows of one trigger
-- that wait for a debounce are merged into one at every tick, so the table stays small.
CREATE TABLE sched.trigger_event (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger_id   bigint NOT NULL REFERENCES sched.trigger ON DELETE CASCADE,
    first_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    committed_at timestamptz,
    statements   bigint NOT NULL DEFAULT 1,
    rows         bigint NOT NULL DEFAULT 0,
    dataset_event_ids bigint[]
);
CREATE INDEX trigger_event_by_trigger ON sched.trigger_event (trigger_id);
COMMENT ON TABLE sched.trigger_event IS 'Events a trigger has not yet turned into a start: a watched table''s changes, a dataset''s events for a consumer. Deleted by the start that takes them.';
COMMENT ON COLUMN sched.trigger_event.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.trigger_event.trigger_id IS 'The trigger.';
COMMENT ON COLUMN sched.trigger_event.first_at IS 'When the first change it counts was made.';
COMMENT ON COLUMN sched.trigger_event.last_at IS 'When the last change it counts was made.';
COMMENT ON COLUMN sched.trigger_event.committed_at IS 'When the last of its changes committed, once merged (with track_commit_timestamp; else NULL and last_at stands for it).';
COMMENT ON COLUMN sched.trigger_event.statements IS 'How many statements (or dataset events) it counts.';
COMMENT ON COLUMN sched.trigger_event.rows IS 'table_change: how many rows they changed.';
COMMENT ON COLUMN sched.trigger_event.dataset_event_ids IS 'dataset: the sched.dataset_event rows it stands for.';

CREATE TABLE sched.trigger_fire (
    trigger_id           bigint NOT NULL REFERENCES sched.trigger ON DELETE CASCADE,
    fire_key             text NOT NULL,
    workflow_instance_id bigint,
    fired_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (trigger_id, fire_key)
);
-- A webhook's rate limit counts its starts of the last minute.
CREATE INDEX trigger_fire_recent ON sched.trigger_fire (trigger_id, fired_at);
COMMENT ON TABLE sched.trigger_fire IS 'Every start a trigger made, under the key that makes it happen once: the upstream instance (workflow_end), the delivery id (webhook), the first event taken (table_change, dataset). Kept for sched.history_retention.';
COMMENT ON COLUMN sched.trigger_fire.trigger_id IS 'The trigger.';
COMMENT ON COLUMN sched.trigger_fire.fire_key IS 'What it fired for: instance:<id>, delivery:<id>, event:<id>.';
COMMENT ON COLUMN sched.trigger_fire.workflow_instance_id IS 'The instance it started (NULL when the start failed: sched.trigger.last_error says why).';
COMMENT ON COLUMN sched.trigger_fire.fired_at IS 'When.';

CREATE TABLE sched.dataset_event (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset              text NOT NULL,
    workflow_id          bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    task_name            text NOT NULL,
    workflow_instance_id bigint NOT NULL,
    task_instance_id     bigint NOT NULL,
    business_time        timestamptz NOT NULL,
    out_params           jsonb,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX dataset_event_by_dataset ON sched.dataset_event (dataset, id);
CREATE INDEX dataset_event_created ON sched.dataset_event (created_at);
COMMENT ON TABLE sched.dataset_event IS 'An update of a dataset: a success of a task that produces it. Kept for sched.history_retention; read through sched.dataset_events.';
COMMENT ON COLUMN sched.dataset_event.id IS 'Event id.';
COMMENT ON COLUMN sched.dataset_event.dataset IS 'The dataset''s name.';
COMMENT ON COLUMN sched.dataset_event.workflow_id IS 'The producer''s workflow.';
COMMENT ON COLUMN sched.dataset_event.task_name IS 'The producing task.';
COMMENT ON COLUMN sched.dataset_event.workflow_instance_id IS 'The producer''s instance.';
COMMENT ON COLUMN sched.dataset_event.task_instance_id IS 'The attempt that succeeded.';
COMMENT ON COLUMN sched.dataset_event.business_time IS 'The producer instance''s business time.';
COMMENT ON COLUMN sched.dataset_event.out_params IS 'The OUT params the attempt exported.';
COMMENT ON COLUMN sched.dataset_event.created_at IS 'When it succeeded.';

-- 2_kernel/extension_functions.sql
COMMENT ON FUNCTION sched._webhook_signature_ok(text, text, text, bytea, text) IS
    'Internal: whether a webhook request''s signature is sha256=<hex> of the HMAC-SHA256 of <timestamp>.<delivery>.<body> keyed with the secret; constant time, pure.';
COMMENT ON FUNCTION sched._sql_checks(jsonb) IS
    'Internal: the statements of sql and procedure tasks that can be checked at definition, [{task, field, text, types}], parameters as $n typed as declared.';
COMMENT ON FUNCTION sched._analyze_as(oid, text, text, text[]) IS
    'Internal: parses, analyses and plans a statement as the given role with the given search_path, running nothing; returns the relations and functions it uses, and more = false after a statement that may change the schema.';
COMMENT ON FUNCTION sched._test_sql(oid, boolean, text, text, jsonb, integer) IS
    'Internal: runs a sql or procedure task''s bound statements here, as the given role (restricted when the caller is another role) with the given search_path, in a subtransaction rolled back on failure; returns its state, rows, OUT values, notices and duration, never raising for what the statements do (sched.test_run); a positive timeout_ms cancels them after that long (admit_when).';
COMMENT ON FUNCTION sched._deadline_at(text, double precision, text, text) IS
    'Internal: the deadline of a run fired at a time (seconds since the epoch) in a zone, as seconds since the epoch; an error names the field.';
COMMENT ON FUNCTION sched._admit_statement(text, text) IS
    'Internal: the statement that evaluates an admit_when over sched.load (one expression, no '';''); a bad one is refused naming the field.';
COMMENT ON FUNCTION sched._instance_snapshot(bigint, oid) IS
    'Internal: {"snapshot": id} of the snapshot an instance''s SQL tasks read under "snapshot": "consistent", starting its holder (a background worker connected as the owner) at the first; {"error"} when none can be had.';
COMMENT ON FUNCTION sched._release_snapshot(bigint) IS
    'Internal: asks the holder of an instance''s consistent snapshot to end; false when none holds one.';
COMMENT ON FUNCTION sched._snapshot_holders() IS
    'Internal: the instances whose consistent snapshot is held now, since when (seconds since the Unix epoch) and whether it is published.';
COMMENT ON FUNCTION sched._in_master() IS
    'Internal: whether the calling process is the pg_sched master.';

-- 2_kernel/sql_check.sql
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

-- 3_engine/triggers.sql
-- Starting workflows on events (1_schema/67_triggers.sql): the start itself, with the trigger's
-- rights checked again; an upstream instance's end, which starts its downstream workflows in
-- its own transaction; the statement-level trigger of a watched table; the events of the
-- datasets a succeeded attempt produced. The master turns waiting events into starts
-- (4_master/events.sql).

-- Why the trigger's owner may no longer start it, or NULL. Checked at every start: a right
-- lost since the trigger was created stops it.
CREATE FUNCTION sched._trigger_refusal(t sched.trigger) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    target   sched.workflow;
    upstream sched.workflow;
    relowner oid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = t.owner) THEN
        RETURN pg_catalog.format('its owner (role oid %s) was dropped', t.owner::oid);
    END IF;
    SELECT * INTO target FROM sched.workflow w WHERE w.id = t.workflow_id;
    IF NOT pg_catalog.pg_has_role(t.owner, target.owner, 'MEMBER') THEN
        RETURN pg_catalog.format('role %s is no longer a member of %s, which owns workflow "%s"', t.owner, target.owner, target.name);
    END IF;
    IF t.kind = 'workflow_end' THEN
        SELECT * INTO upstream FROM sched.workflow w WHERE w.id = t.upstream_workflow_id;
        IF NOT sched._may_see(t.owner, upstream.owner) THEN
            RETURN pg_catalog.format('role %s may no longer see workflow "%s"', t.owner, upstream.name);
        END IF;
    ELSIF t.kind = 'table_change' THEN
        SELECT c.relowner INTO relowner FROM pg_catalog.pg_class c WHERE c.oid = t.table_oid;
        IF NOT FOUND THEN
            RETURN pg_catalog.format('table %s was dropped', t.table_name);
        END IF;
        IF NOT (pg_catalog.pg_has_role(t.owner, relowner, 'USAGE')
                OR pg_catalog.has_table_privilege(t.owner, t.table_oid, 'TRIGGER')) THEN
            RETURN pg_catalog.format('role %s no longer owns table %s nor holds TRIGGER on it', t.owner, t.table_name);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sched._trigger_refusal(sched.trigger) IS
    'Internal: why a trigger''s owner may no longer start its workflow (dropped, not a member of the workflow''s owner, no longer sees the upstream workflow, lost the table or TRIGGER on it), or NULL.';

-- The values an event brings, as the start's parameters: mapped by the trigger's params
-- ({"param": "source"}, sources missing from the event left out; an object or array as its
-- JSON text), or all of them.
CREATE FUNCTION sched._trigger_params(mapping jsonb, vals jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN mapping IS NULL THEN coalesce(vals, '{}')
                ELSE coalesce((SELECT pg_catalog.jsonb_object_agg(m.key, vals OPERATOR(pg_catalog.#>>) pg_catalog.string_to_array(m.value, '.'))
                               FROM pg_catalog.jsonb_each_text(mapping) m
                               WHERE (vals OPERATOR(pg_catalog.#>>) pg_catalog.string_to_array(m.value, '.')) IS NOT NULL), '{}') END
$$;
COMMENT ON FUNCTION sched._trigger_params(jsonb, jsonb) IS
    'Internal: an event''s values as start parameters, through a trigger''s mapping (a source may be a dotted path into JSON) or as they are.';

-- One start for one event, under a key that makes it happen once: NULL when the key has
-- fired already, or when the start failed (recorded in last_error, or, for a right the owner
-- lost, the trigger disabled with the reason). Never raises: an upstream's end or a table's
-- change must not fail because a trigger cannot start.
CREATE FUNCTION sched._fire(t sched.trigger, params jsonb, options jsonb, fire_key text) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    refusal text;
    inst    bigint;
BEGIN
    INSERT INTO sched.trigger_fire (trigger_id, fire_key) VALUES (t.id, fire_key) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    refusal := sched._trigger_refusal(t);
    IF refusal IS NULL THEN
        BEGIN
            inst := sched._start(t.owner, (SELECT w.name FROM sched.workflow w WHERE w.id = t.workflow_id),
                                 sched._trigger_params(t.params, params), options, 'trigger', NULL);
        EXCEPTION WHEN insufficient_privilege THEN
            refusal := SQLERRM;
        WHEN OTHERS THEN
            UPDATE sched.trigger tr SET last_error = SQLERRM WHERE tr.id = t.id;
            RETURN NULL;
        END;
    END IF;
    IF refusal IS NOT NULL THEN
        UPDATE sched.trigger tr SET enabled = false, disabled_reason = refusal, last_error = refusal WHERE tr.id = t.id;
        DELETE FROM sched.trigger_event e WHERE e.trigger_id = t.id;
        RETURN NULL;
    END IF;
    UPDATE sched.trigger_fire f SET workflow_instance_id = inst WHERE f.trigger_id = t.id AND f.fire_key = _fire.fire_key;
    UPDATE sched.trigger tr SET last_fired_at = now(), fire_count = tr.fire_count + 1, last_error = NULL WHERE tr.id = t.id;
    RETURN inst;
END
$$;
COMMENT ON FUNCTION sched._fire(sched.trigger, jsonb, jsonb, text) IS
    'Internal: starts a trigger''s workflow as its owner (command type trigger) for one event, once per fire_key; a lost right disables the trigger with the reason. Returns the instance, or NULL.';

-- Called by _finish_if_done for a workflow that triggers others: each enabled trigger whose
-- end states hold the instance's starts its workflow once for this instance, with the
-- instance's OUT params and its business time, in the same transaction as the end.
CREATE FUNCTION sched._fire_workflow_end(instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    inst sched.workflow_instance;
    t    sched.trigger;
BEGIN
    SELECT * INTO inst FROM sched.workflow_instance wi WHERE wi.id = instance_id;
    FOR t IN SELECT * FROM sched.trigger tr
             WHERE tr.upstream_workflow_id = inst.workflow_id AND tr.enabled AND inst.state = ANY (tr.end_states)
             ORDER BY tr.id
    LOOP
        PERFORM sched._fire(t, inst.out_params,
                            jsonb_build_object('schedule_time', inst.business_time::text, 'timezone', inst.time_zone),
                            'instance:' || instance_id);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._fire_workflow_end(bigint) IS
    'Internal: starts the workflows triggered by the end of this instance (sched.on_workflow_end), once each, passing its OUT params and business time.';

-- The statement-level trigger of a watched table (sched.on_table_change): a row in the inbox
-- per statement that changed rows, seen by the master only once the change commits. It runs
-- for whoever changes the table, as the extension's owner, and does nothing but that insert.
CREATE FUNCTION sched._table_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid      bigint := TG_ARGV[0]::bigint;
    on_table oid;
    quiet    interval;
    n        bigint;
BEGIN
    SELECT tr.table_oid, tr.debounce INTO on_table, quiet FROM sched.trigger tr WHERE tr.id = tid AND tr.enabled;
    IF on_table IS DISTINCT FROM TG_RELID THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO n FROM changed;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO sched.trigger_event (trigger_id, rows) VALUES (tid, n);
    -- A debounced trigger is due only later, at a time the master's tick finds.
    IF quiet = interval '0' THEN
        PERFORM sched._wake_master();
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sched._table_changed() IS
    'Internal: the statement-level trigger sched.on_table_change puts on a table (argument: the sched.trigger id): records how many rows the statement changed, for the master to start the workflow once the change has committed.';

-- Whether any task produces datasets, asked by every completion before it looks at its tasks'.
-- Until autovacuum has analysed a freshly filled sched.task_definition the planner would read
-- every task definition, a cost that grows with the DAGs defined, instead of the partial index
-- task_definition_producing (empty unless some task produces): hence no sequential scan here.
-- plpgsql, which keeps its plan for the session: a SQL function with a SET clause is planned
-- again in every transaction, 60 µs of each completion batch.
CREATE FUNCTION sched._producers_exist() RETURNS boolean
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM sched.task_definition td WHERE td.produces IS NOT NULL);
END
$$;
COMMENT ON FUNCTION sched._producers_exist() IS 'Internal: whether any task definition produces datasets (through the partial index task_definition_producing).';

-- Called by _complete when some task produces datasets: an event per dataset of each
-- succeeded attempt, and for each consumer whose owner may see the producer's workflow (as a
-- DEPENDENT task must), a row in its inbox.
CREATE FUNCTION sched._produce_datasets(attempts bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    WITH produced AS (
        INSERT INTO sched.dataset_event (dataset, workflow_id, task_name, workflow_instance_id, task_instance_id,
                                         business_time, out_params)
        SELECT d.name, wi.workflow_id, td.name, ti.workflow_instance_id, ti.id, wi.business_time, ti.out_params
        FROM unnest(attempts) AS a(id)
        JOIN sched.task_instance ti ON ti.id = a.id
        JOIN sched.task_definition td ON td.id = ti.task_id
        JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
        CROSS JOIN LATERAL unnest(td.produces) AS d(name)
        WHERE td.produces IS NOT NULL AND ti.state = ANY (sched._task_states_success())
        RETURNING id, dataset, workflow_id
    )
    INSERT INTO sched.trigger_event (trigger_id, statements, dataset_event_ids)
    SELECT t.id, count(*), array_agg(p.id ORDER BY p.id)
    FROM produced p
    JOIN sched.trigger t ON t.kind = 'dataset' AND t.enabled AND t.datasets @> ARRAY[p.dataset]
    JOIN sched.workflow producer ON producer.id = p.workflow_id
    WHERE sched._may_see(t.owner, producer.owner)
    GROUP BY t.id;
    IF FOUND THEN
        PERFORM sched._wake_master();
    END IF;
END
$$;
COMMENT ON FUNCTION sched._produce_datasets(bigint[]) IS
    'Internal: records an event for each dataset the succeeded attempts produce, and hands it to the workflows scheduled on it whose owner may see the producer''s workflow.';

-- A workflow's schedule_on, as its dataset trigger: created, changed or dropped with each version.
CREATE FUNCTION sched._sync_dataset_trigger(wf sched.workflow, schedule_on jsonb) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF schedule_on IS NULL THEN
        DELETE FROM sched.trigger t WHERE t.workflow_id = wf.id AND t.kind = 'dataset';
        RETURN;
    END IF;
    INSERT INTO sched.trigger AS t (kind, owner, workflow_id, datasets, mode, debounce)
    VALUES ('dataset', wf.owner, wf.id,
            ARRAY(SELECT jsonb_array_elements_text(schedule_on->'datasets')),
            schedule_on->>'mode', coalesce((schedule_on->>'debounce')::interval, '0'))
    ON CONFLICT (workflow_id) WHERE kind = 'dataset'
    DO UPDATE SET owner = excluded.owner, datasets = excluded.datasets, mode = excluded.mode, debounce = excluded.debounce;
END
$$;
COMMENT ON FUNCTION sched._sync_dataset_trigger(sched.workflow, jsonb) IS
    'Internal: makes a workflow''s dataset trigger what its current spec''s schedule_on says (none: dropped).';

-- 3_engine/finish.sql: the workflows an instance's end triggers.
CREATE OR REPLACE FUNCTION sched._finish_if_done(instances bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    inst      bigint;
    done      bigint[] := '{}';
    ids       bigint[];
    wf_ids    bigint[];
    types     text[];
    backfills bigint[];
    parents   bigint[];
    notifies  text[];
BEGIN
    -- One instance at a time: with a scalar id the activity check is always a probe of
    -- task_instance_active, never a scan of every active task in the system. Newest attempt
    -- first: the index keeps the entries of ended attempts until vacuum, and walking them from
    -- the oldest made each completion in a 100,000-task instance read all those that ended
    -- before it. (EXISTS would drop the ORDER BY.)
    FOREACH inst IN ARRAY instances LOOP
        PERFORM ti.id FROM sched.task_instance ti
        WHERE ti.workflow_instance_id = inst
          AND ti.state = ANY (sched._task_states_active())
        ORDER BY ti.id DESC LIMIT 1;
        IF NOT FOUND THEN
            done := done || inst;
        END IF;
    END LOOP;
    IF cardinality(done) = 0 THEN
        RETURN;
    END IF;
    -- Those with nothing active end in one statement: one per instance cost a batch of
    -- one-task instances more than their claim (an executor, the constraint and the indexes
    -- each time).
    WITH ended AS (
        UPDATE sched.workflow_instance wi
           SET state = CASE WHEN wi.state = 'ready_stop' THEN 'stopped'
                            WHEN wi.state = 'ready_pause' THEN 'paused'
                            WHEN wi.has_failure THEN 'failed'
                            ELSE 'succeeded' END::sched.workflow_state,
               ended_at = now(),
               timeout_at = NULL,
               -- The last finished task wins a name: downstream tasks refine what upstream ones
               -- said. Read only where some task declares OUT params: no index serves this, so
               -- that other instances' attempts do not maintain one.
               out_params = CASE WHEN (SELECT v.has_out FROM sched.workflow_version v WHERE v.id = wi.workflow_version_id)
                            THEN (SELECT jsonb_object_agg(o.key, o.value ORDER BY ti.ended_at, ti.task_id)
                                  FROM sched.task_instance ti CROSS JOIN LATERAL jsonb_each(ti.out_params) o
                                  WHERE ti.workflow_instance_id = wi.id AND ti.out_params IS NOT NULL AND ti.element IS NULL
                                    AND ti.run = wi.run AND ti.state = ANY (sched._task_states_success())) END
         WHERE wi.id = ANY (done) AND wi.state = ANY (sched._workflow_states_executing())
        RETURNING wi.id, wi.workflow_id,
                  (SELECT v.execution_type FROM sched.workflow_version v WHERE v.id = wi.workflow_version_id) AS execution_type,
                  wi.backfill_id, wi.parent_task_instance_id, wi.notify_strategy
    )
    -- What their ends set off runs in the order the instances were given.
    SELECT array_agg(e.id ORDER BY pg_catalog.array_position(done, e.id)),
           array_agg(e.workflow_id ORDER BY pg_catalog.array_position(done, e.id)),
           array_agg(e.execution_type ORDER BY pg_catalog.array_position(done, e.id)),
           array_agg(e.backfill_id ORDER BY pg_catalog.array_position(done, e.id)),
           array_agg(e.parent_task_instance_id ORDER BY pg_catalog.array_position(done, e.id)),
           array_agg(e.notify_strategy ORDER BY pg_catalog.array_position(done, e.id))
      INTO ids, wf_ids, types, backfills, parents, notifies
      FROM ended e;
    IF ids IS NULL THEN
        RETURN;
    END IF;
    -- Join counters and dynamic tasks' progress matter only while the instance runs; the
    -- tables stay as small as the set of running instances.
    DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = ANY (ids);
    DELETE FROM sched.dynamic_progress dp WHERE dp.workflow_instance_id = ANY (ids);
    FOR i IN 1 .. cardinality(ids) LOOP
        IF types[i] = 'serial_wait' OR current_setting('sched.max_running_instances')::integer > 0 THEN
            PERFORM sched._on_instance_end(wf_ids[i], types[i]);
        END IF;
        IF backfills[i] IS NOT NULL THEN
            PERFORM sched._advance_backfill(backfills[i], false);
        END IF;
        IF parents[i] IS NOT NULL THEN
            PERFORM sched._end_parent_task(ids[i]);
        END IF;
        IF EXISTS (SELECT 1 FROM sched.dependent_watch dw WHERE dw.workflow_id = wf_ids[i]) THEN
            PERFORM sched._wake_dependents(wf_ids[i]);
        END IF;
        IF notifies[i] <> 'none' THEN
            PERFORM sched._alert_workflow_end(ids[i]);
        END IF;
        IF EXISTS (SELECT 1 FROM sched.trigger t WHERE t.upstream_workflow_id = wf_ids[i]) THEN
            PERFORM sched._fire_workflow_end(ids[i]);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._finish_if_done(bigint[]) IS
    'Internal: gives every instance with nothing left active its final state and its output parameters; ends the SUB_PROCESS attempt of a child wakes the DEPENDENT attempts waiting on its workflow and starts the workflows its end triggers.';

-- 3_engine/complete.sql: the datasets a success produces.
-- How a report ended its attempt: the worker's outcome (sched._outcomes()), or for a report
-- without one (a script calling complete_task) its exit code: 0 succeeded, anything else failed.
CREATE OR REPLACE FUNCTION sched._reported_outcome(exit_code integer, outcome text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(outcome, CASE WHEN exit_code = 0 THEN 'succeeded' ELSE 'failed' END) $$;
COMMENT ON FUNCTION sched._reported_outcome(integer, text) IS
    'Internal: the outcome a report gives its attempt: its own, else succeeded for exit code 0 and failed for any other.';
DROP FUNCTION sched._complete(bigint, bigint[], integer[], timestamptz[], timestamptz[], jsonb[], text[]);
CREATE FUNCTION sched._complete(worker_id bigint, task_instance_ids bigint[], exit_codes integer[],
                                started_at timestamptz[], ended_at timestamptz[], out_params jsonb[],
                                outcomes text[] DEFAULT '{}', settle_later boolean DEFAULT false,
                                OUT accepted integer, OUT ready_groups text[], OUT deferred bigint[], OUT unsettled bigint[])
LANGUAGE plpgsql
AS $$
DECLARE
    done       bigint[];
    touched    bigint[];
    any_failed boolean;
    wanted     bigint[];
    locked     bigint[];
    timeout    text;
    slots      bigint[];
    timed_out  bigint[];
    shared     boolean;
BEGIN
    IF cardinality(task_instance_ids) IS DISTINCT FROM cardinality(exit_codes) THEN
        RAISE EXCEPTION 'exit_codes: must have one entry per task instance id (% ids, % exit codes)',
            cardinality(task_instance_ids), cardinality(exit_codes) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(outcomes) > 0 AND (cardinality(outcomes) <> cardinality(task_instance_ids)
                                      OR NOT outcomes <@ sched._outcomes()) THEN
        RAISE EXCEPTION 'outcomes: must have one entry per task instance id, each one of %; got %',
            pg_catalog.array_to_string(sched._outcomes(), ', '), outcomes USING ERRCODE = 'invalid_parameter_value';
    END IF;
    accepted := 0;
    IF cardinality(task_instance_ids) = 0 THEN
        RETURN;
    END IF;

    -- The instances are locked in id order. A lock held by another completion is gone in a
    -- moment, but one held by a user's open transaction (a stop_workflow not yet committed)
    -- lasts as long as that user likes: the reports of such instances are handed back as
    -- deferred, for the worker to repeat, instead of stalling everyone else's in the batch.
    -- A sub-process instance is locked with the instances above it (2_kernel/locks.sql).
    -- Reports of successes only, all in one instance that decides nothing in the database,
    -- share its lock with other workers' such reports; anything else locks alone. A batch of
    -- many instances gains nothing by sharing: no other worker reports on its instances.
    SELECT array_agg(DISTINCT f.id), count(DISTINCT i.id) = 1 AND bool_and(wi.ancestors IS NULL AND NOT v.reports_alone)
    INTO wanted, shared
    FROM (SELECT DISTINCT ti.workflow_instance_id AS id FROM sched.task_instance ti
          WHERE ti.id = ANY(task_instance_ids)) i
    JOIN sched.workflow_instance wi ON wi.id = i.id
    JOIN sched.workflow_version v ON v.id = wi.workflow_version_id
    CROSS JOIN LATERAL unnest(wi.ancestors || wi.id) AS f(id);
    IF shared THEN
        shared := NOT EXISTS (SELECT 1 FROM unnest(exit_codes, outcomes) AS r(exit_code, outcome)
                              WHERE sched._reported_outcome(r.exit_code, r.outcome) <> 'succeeded');
    END IF;
    locked := sched._lock_instances(wanted, shared, false);
    -- One that cannot share (a stop queues at the gate, or someone else holds it) locks alone.
    IF shared AND cardinality(locked) < cardinality(wanted) THEN
        shared := false;
        locked := sched._lock_instances(wanted, false, false);
    END IF;
    IF cardinality(locked) < cardinality(wanted) THEN
        timeout := pg_catalog.current_setting('lock_timeout');
        BEGIN
            PERFORM pg_catalog.set_config('lock_timeout', '200ms', true);
            PERFORM sched._lock_instances(ARRAY(SELECT unnest(wanted) EXCEPT SELECT unnest(locked)), false, true);
            locked := wanted;
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
        PERFORM pg_catalog.set_config('lock_timeout', timeout, true);
        SELECT array_agg(ti.id) INTO deferred
        FROM sched.task_instance ti JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
        WHERE ti.id = ANY(task_instance_ids) AND NOT (wi.ancestors || wi.id) <@ locked
          AND ti.worker_id = _complete.worker_id AND ti.state = ANY (sched._task_states_claimed());
    END IF;

    -- The worker says how each attempt ended (sched._outcomes(), core/src/state.rs's Outcome),
    -- or its exit code does (sched._reported_outcome). An attempt killed for its timeout, by
    -- the master (kill_reason timeout) or by the worker (timed_out), failed, and may be retried.
    -- The worker's own clock says when the process really started and ended; it is kept within
    -- [claim, now] so that a skewed worker clock cannot produce impossible durations.
    WITH reported AS (
        SELECT r.id, r.exit_code, r.started_at, r.ended_at, r.out_params,
               sched._reported_outcome(r.exit_code, r.outcome) AS outcome
        FROM unnest(task_instance_ids, exit_codes, _complete.started_at, _complete.ended_at,
                    _complete.out_params, outcomes)
            AS r(id, exit_code, started_at, ended_at, out_params, outcome)
    ), finished AS (
        UPDATE sched.task_instance ti
           SET state = CASE WHEN r.outcome = 'succeeded' THEN 'succeeded'
                            WHEN r.outcome = 'killed' AND ti.kill_reason IS DISTINCT FROM 'timeout' THEN 'killed'
                            ELSE 'failed' END::sched.task_state,
               kill_reason = CASE WHEN r.outcome = 'timed_out' AND ti.timeout_at <= now() THEN 'timeout'
                                  ELSE ti.kill_reason END,
               check_at = NULL,
               exit_code = r.exit_code,
               started_at = least(greatest(r.started_at, ti.started_at), now()),
               ended_at = least(greatest(coalesce(r.ended_at, now()), r.started_at, ti.started_at), now()),
               out_params = r.out_params
          FROM reported r
         WHERE ti.id = r.id
           AND ti.worker_id = _complete.worker_id
           AND ti.state = ANY (sched._task_states_claimed())
           AND (deferred IS NULL OR NOT ti.id = ANY(deferred))
        RETURNING ti.id, ti.workflow_instance_id, ti.state, ti.holds_slot, ti.kill_reason)
    SELECT array_agg(id), array_agg(DISTINCT workflow_instance_id), bool_or(state = ANY (sched._task_states_failure())),
           array_agg(id) FILTER (WHERE holds_slot), array_agg(id) FILTER (WHERE kill_reason = 'timeout')
    INTO done, touched, any_failed, slots, timed_out
    FROM finished;

    -- Killed by the worker for its timeout before the master raised the alert.
    IF timed_out IS NOT NULL THEN
        PERFORM sched._alert_task_timeouts(timed_out);
    END IF;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    -- Looked at only where some task produces datasets (an empty partial index otherwise).
    IF done IS NOT NULL AND sched._producers_exist() THEN
        PERFORM sched._produce_datasets(done);
    END IF;
    IF done IS NOT NULL THEN
        accepted := cardinality(done);
        ready_groups := sched._advance(done, touched, any_failed, shared);
        -- A caller that claims after the reports decides the end after its claim; any other,
        -- here (a call begun before an update of the extension included).
        IF shared AND settle_later THEN
            unsettled := touched;
        ELSIF shared THEN
            PERFORM sched._settle(touched);
        END IF;
    END IF;
    -- Finished work is never thrown away: an outcome that arrives after its attempt was failed
    -- over (its worker was cut off, kept it, and reported once the database answered) is kept
    -- beside the attempt. A retry of an accepted report finds its attempt finished, not failed
    -- over, and records nothing.
    IF accepted + coalesce(cardinality(deferred), 0) < cardinality(task_instance_ids) THEN
        INSERT INTO sched.late_report (task_instance_id, workflow_instance_id, worker_id, exit_code, started_at, ended_at)
        SELECT r.id, ti.workflow_instance_id, _complete.worker_id, r.exit_code, r.started_at, r.ended_at
        FROM unnest(task_instance_ids, exit_codes, _complete.started_at, _complete.ended_at)
             AS r(id, exit_code, started_at, ended_at)
        JOIN sched.task_instance ti ON ti.id = r.id
        WHERE ti.worker_id = _complete.worker_id AND ti.state = 'need_fault_tolerance'
          AND r.exit_code IS NOT NULL
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;
COMMENT ON FUNCTION sched._complete(bigint, bigint[], integer[], timestamptz[], timestamptz[], jsonb[], text[], boolean) IS
    'Internal: records outcomes (and the OUT params exported) under their leases and advances the instances; returns how many reports were accepted, the worker groups that got ready tasks, the reports deferred because their instance stayed locked, and, with settle_later, the instance whose end is still to decide (sched._settle) when the reports shared its lock.';

-- 3_engine: elements carried through new attempts, retries, failovers, the claim, kills,
-- sub-processes and continued runs.
DROP FUNCTION sched._new_attempts(bigint[], bigint[], integer[], integer[]);
DROP FUNCTION sched._task_context(jsonb, jsonb, bigint[], text, bigint, bigint, bigint);
CREATE FUNCTION sched._new_attempts(instance_ids bigint[], task_ids bigint[], attempts integer[], retries integer[],
                                    elements integer[] DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    groups      text[];
    delayed     boolean;
    task_groups bigint[];
    logic       bigint[];
    held        bigint[];
BEGIN
    WITH created AS (
        INSERT INTO sched.task_instance (workflow_instance_id, task_id, attempt, run, retry, state, not_before,
                                         ended_at, worker_group, workflow_priority, task_priority, tenant,
                                         task_group_id, task_group_priority, started_at, element)
        SELECT n.instance_id, n.task_id, coalesce(n.attempt, 1), wi.run, coalesce(n.retry, 0),
               -- An instance being paused starts nothing: the attempt waits, paused, for resume.
               -- A task of a task group waits, delayed with no time, for a slot.
               CASE WHEN wi.state = 'ready_pause' THEN 'paused'
                    WHEN td.logic IS NOT NULL THEN 'running'
                    WHEN w.wait > interval '0' OR td.task_group_id IS NOT NULL OR td.admit THEN 'delayed'
                    ELSE 'queued' END::sched.task_state,
               CASE WHEN w.wait > interval '0' AND wi.state <> 'ready_pause' THEN now() + w.wait END,
               CASE WHEN wi.state = 'ready_pause' THEN now() END,
               coalesce(td.worker_group, wi.worker_group), wi.priority, td.priority, wi.tenant,
               -- Its workflow's admit_when comes first: the task group, if any, once it holds.
               CASE WHEN NOT td.admit THEN td.task_group_id END,
               CASE WHEN td.task_group_id IS NOT NULL AND NOT td.admit THEN td.task_group_priority END,
               CASE WHEN td.logic IS NOT NULL AND wi.state <> 'ready_pause' THEN now() END, n.element
        FROM unnest(instance_ids, task_ids, attempts, retries, elements) AS n(instance_id, task_id, attempt, retry, element)
        JOIN sched.task_definition td ON td.id = n.task_id
        JOIN sched.workflow_instance wi ON wi.id = n.instance_id
        CROSS JOIN LATERAL (
            SELECT CASE WHEN coalesce(n.retry, 0) > 0 THEN td.retry_interval
                        WHEN coalesce(n.attempt, 1) = 1 THEN td.delay END AS wait) w
        ORDER BY wi.id, td.priority, td.id, n.element
        RETURNING id, state, worker_group, not_before, task_group_id)
    SELECT array_agg(DISTINCT worker_group) FILTER (WHERE state = 'queued'),
           bool_or(state = 'delayed' AND not_before IS NOT NULL),
           array_agg(DISTINCT task_group_id) FILTER (WHERE state = 'delayed' AND not_before IS NULL),
           array_agg(id) FILTER (WHERE state = 'running'),
           array_agg(id) FILTER (WHERE state = 'delayed' AND not_before IS NULL AND task_group_id IS NULL)
    INTO groups, delayed, task_groups, logic, held
    FROM created;
    -- Attempts waiting for an admit_when: the master asks again until it holds.
    IF held IS NOT NULL THEN
        PERFORM sched._admit_held(held);
        PERFORM sched._wake_master();
    ELSIF task_groups IS NOT NULL AND EXISTS (SELECT 1 FROM sched.task_group g WHERE g.id = ANY(task_groups) AND g.admit_when IS NOT NULL) THEN
        PERFORM sched._wake_master();
    END IF;
    IF delayed THEN
        PERFORM sched._wake_master();
    END IF;
    IF task_groups IS NOT NULL THEN
        PERFORM sched._grant_slots(task_groups);
    END IF;
    IF logic IS NOT NULL THEN
        PERFORM sched._run_logic(logic);
    END IF;
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._new_attempts(bigint[], bigint[], integer[], integer[], integer[]) IS
    'Internal: creates attempts (queued, or delayed by the task''s delay or retry interval) of these tasks in these instances; attempts and retries may be NULL for first attempts, elements NULL but for the elements of dynamic tasks. Returns the worker groups that got queued ones.';
CREATE FUNCTION sched._task_context(settings jsonb, local_params jsonb, inputs_from bigint[], task_name text,
                                    task_id bigint, task_instance_id bigint, instance_id bigint,
                                    element integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    owner          regrole;
    element_values jsonb := '{}';
BEGIN
    -- A datasource's credentials are used at the claim: its grant is checked here, every time,
    -- so that a revoked grant stops the next attempt. The worker fails a refused task with the
    -- reason.
    IF settings ? 'datasource' THEN
        SELECT w.owner INTO owner FROM sched.workflow_instance wi JOIN sched.workflow w ON w.id = wi.workflow_id
        WHERE wi.id = instance_id;
        IF NOT (EXISTS (SELECT 1 FROM sched.datasource d WHERE d.name = settings->>'datasource')
                AND sched._may_use(owner, 'datasource', settings->>'datasource')) THEN
            RETURN pg_catalog.jsonb_build_object('params', '{}'::jsonb, 'settings', settings || pg_catalog.jsonb_build_object(
                'refused', pg_catalog.format('datasource "%s" does not exist or role %s (the workflow''s owner) may not use it',
                                             settings->>'datasource', owner)));
        END IF;
    END IF;
    -- An element of a dynamic task: its values win over every other of the same name, as a
    -- start parameter would.
    IF element IS NOT NULL THEN
        SELECT e."values" INTO element_values FROM sched.dynamic_element e
        WHERE e.workflow_instance_id = instance_id AND e.task_id = _task_context.task_id
          AND e.run = (SELECT wi.run FROM sched.workflow_instance wi WHERE wi.id = instance_id) AND e.element = _task_context.element;
    END IF;
    RETURN (SELECT sched._resolve_task(
        settings, local_params,
        CASE WHEN inputs_from IS NOT NULL THEN (
            SELECT pg_catalog.jsonb_agg(u.out_params ORDER BY u.ended_at, u.task_id)
            FROM sched.task_instance u
            WHERE u.workflow_instance_id = instance_id AND u.task_id = ANY(inputs_from) AND u.run = wi.run
              AND u.state = ANY (sched._task_states_success()) AND u.out_params IS NOT NULL) END,
        wi.param_values || element_values, wi.params || element_values,
        pg_catalog.jsonb_build_object('system.task.instance.id', task_instance_id::text,
                                      'system.task.definition.name', task_name,
                                      'system.task.definition.code', task_id::text),
        pg_catalog.to_char(wi.business_time AT TIME ZONE wi.time_zone, 'YYYY-MM-DD HH24:MI:SS'))
    FROM sched.workflow_instance wi WHERE wi.id = instance_id);
END
$$;
COMMENT ON FUNCTION sched._task_context(jsonb, jsonb, bigint[], text, bigint, bigint, bigint, integer) IS
    'Internal: {"params", "settings"} of an attempt of a task with parameters (of an element of a dynamic task: with the element''s values), as its claim stores them; a failure to resolve is returned in settings as resolve_error.';
CREATE FUNCTION sched._kill_attempts(ids bigint[], reason text) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    ended    integer;
    slots    bigint[];
    notified bigint;
BEGIN
    -- Never started: nothing to kill, the attempt just ends.
    WITH killed AS (
        UPDATE sched.task_instance ti SET state = 'killed', ended_at = now(), kill_reason = reason
        WHERE ti.id = ANY(ids) AND ti.state = ANY (sched._task_states_waiting())
        RETURNING ti.id, ti.holds_slot)
    SELECT count(*), array_agg(id) FILTER (WHERE holds_slot) INTO ended, slots FROM killed;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;

    WITH asked AS (
        UPDATE sched.task_instance ti SET kill_requested = true, kill_reason = reason
        WHERE ti.id = ANY(ids) AND ti.state = ANY (sched._task_states_claimed())
          AND NOT ti.kill_requested AND ti.worker_id IS NOT NULL
        RETURNING ti.worker_id)
    SELECT count(pg_catalog.pg_notify('sched_kill', w::text))
    INTO notified
    FROM (SELECT DISTINCT worker_id AS w FROM asked) s;
    RETURN ended;
END
$$;
COMMENT ON FUNCTION sched._kill_attempts(bigint[], text) IS
    'Internal: ends these attempts for a reason: queued and delayed ones at once as killed, running ones through their workers; returns how many ended at once.';
CREATE OR REPLACE FUNCTION sched._kill_active(instances bigint[], reason text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM sched._kill_attempts(ARRAY(SELECT ti.id FROM sched.task_instance ti
                                       WHERE ti.workflow_instance_id = ANY(instances)
                                         AND ti.state = ANY (sched._task_states_active())), reason);

    -- Last, once every worker's attempt has been dealt with: a sub-process child that stops
    -- at once ends its attempt and advances the instance, which must find nothing else to kill.
    IF EXISTS (SELECT 1 FROM sched.task_instance ti
               WHERE ti.workflow_instance_id = ANY(instances) AND ti.state = 'running' AND ti.worker_id IS NULL) THEN
        PERFORM sched._kill_logic(instances, NULL, reason);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._kill_active(bigint[], text) IS
    'Internal: ends queued and delayed attempts of these instances as killed, asks workers to kill the running ones and stops sub-process children, recording the reason.';
DROP FUNCTION sched._advance(bigint[], bigint[], boolean);
CREATE FUNCTION sched._advance(finished bigint[], touched bigint[], any_failed boolean, shared boolean DEFAULT false)
RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    ending     bigint[];
    groups     text[];
    retried    bigint[];
    r_inst     bigint[];
    r_task     bigint[];
    r_attempt  integer[];
    r_retry    integer[];
    r_element  integer[];
    first      boolean := true;
    w_inst     bigint[];
    w_task     bigint[];
    passed     bigint[];
    deciding   bigint[];
    p_inst     bigint[];
    p_task     bigint[];
    p_skip     boolean[];
BEGIN
    -- One round per wave of attempts that end where they become ready (skipped, forbidden,
    -- CONDITIONS, SWITCH): a long chain of them is a loop, never a recursion.
    LOOP
        IF any_failed THEN
            -- ---------- Retry or fail: the one place that decides ----------
            -- A failed attempt (never a killed one) of a task with retries left, in an instance
            -- that still runs, gets a new attempt; only when none is left does it count as a failure.
            SELECT array_agg(ti.id), array_agg(ti.workflow_instance_id), array_agg(ti.task_id),
                   array_agg(ti.attempt + 1), array_agg(ti.retry + 1), array_agg(ti.element)
            INTO retried, r_inst, r_task, r_attempt, r_retry, r_element
            FROM unnest(finished) AS f(id)
            JOIN sched.task_instance ti ON ti.id = f.id
            JOIN sched.task_definition td ON td.id = ti.task_id
            JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
            WHERE ti.state = 'failed' AND ti.retry < td.retries
              AND wi.state = ANY (sched._workflow_states_advancing()) AND NOT (wi.has_failure AND wi.failure_strategy = 'end');
            IF retried IS NOT NULL THEN
                groups := sched._new_attempts(r_inst, r_task, r_attempt, r_retry, r_element);
            END IF;

            -- ---------- Failures: the first one decides; under "end" it stops everything ----------
            -- A failure that only CONDITIONS tasks follow is theirs to judge, not the instance's;
            -- an element's is its dynamic task's.
            WITH failing AS (
                UPDATE sched.workflow_instance wi SET has_failure = true
                WHERE wi.id IN (SELECT ti.workflow_instance_id
                                FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
                                WHERE ti.id = ANY(finished) AND ti.state = ANY (sched._task_states_failure())
                                  AND NOT ti.id = ANY(coalesce(retried, '{}')) AND ti.element IS NULL
                                  AND NOT (ti.state = 'failed' AND td.feeds_conditions
                                           AND EXISTS (SELECT 1 FROM sched.workflow_instance s
                                                       WHERE s.id = ti.workflow_instance_id
                                                         AND (s.scope IS NULL OR td.successors && s.scope))))
                  AND NOT wi.has_failure
                RETURNING wi.id, wi.failure_strategy)
            SELECT array_agg(id) INTO ending FROM failing WHERE failure_strategy = 'end';
            IF ending IS NOT NULL THEN
                PERFORM sched._kill_active(ending, 'failure_strategy_end');
            END IF;
        END IF;

        -- ---------- Elements of dynamic tasks: counted for their dynamic attempt ----------
        -- Only while an instance with a dynamic task runs does a completion look (the table is
        -- empty otherwise); elements end only in the first round, the later ones pass logic tasks.
        IF first AND EXISTS (SELECT 1 FROM sched.dynamic_progress) THEN
            passed := ARRAY(SELECT f.id FROM unnest(finished) AS f(id) WHERE NOT f.id = ANY(coalesce(retried, '{}')));
            groups := groups || sched._elements_ended(passed);
        END IF;
        first := false;

        -- ---------- Successors: of tasks that are done, only in instances still running ----------
        -- A task with one upstream task is ready as soon as that one is done; a join counts its
        -- done upstream tasks in join_progress, so no completion ever rescans the DAG. Done is
        -- succeeded, forced_success, skipped or forbidden, and for a CONDITIONS task also failed.
        -- A successor that a CONDITIONS or SWITCH task did not choose, or of a skipped task, counts
        -- as skipped; a task whose upstream tasks are all skipped is skipped too.
        -- Driven by the ids, so that each is one primary-key probe. The lateral subqueries fence
        -- the join order (OFFSET 0 keeps them from being flattened): a plan cached while the
        -- tables were small and unanalysed otherwise starts from the running instance and walks
        -- all its attempts in task_instance_by_instance, which makes every completion batch of a
        -- 100,000-task instance cost O(N).
        WITH ok AS (
            SELECT ti.workflow_instance_id, ti.task_id, ti.state, ti.branch, wi.scope
            FROM unnest(finished) AS f(id)
            CROSS JOIN LATERAL (SELECT t.id, t.workflow_instance_id, t.task_id, t.state, t.branch
                                FROM sched.task_instance t WHERE t.id = f.id OFFSET 0) ti
            CROSS JOIN LATERAL (SELECT w.state, w.scope, w.has_failure, w.failure_strategy
                                FROM sched.workflow_instance w WHERE w.id = ti.workflow_instance_id OFFSET 0) wi
            WHERE (ti.state = ANY (sched._task_states_passed())
                   OR (any_failed AND ti.state = 'failed' AND NOT ti.id = ANY(coalesce(retried, '{}'))))
              AND wi.state = 'running'
              AND NOT (wi.has_failure AND wi.failure_strategy = 'end')
        ), successor AS (
            SELECT ok.workflow_instance_id, next.task_id, count(*)::integer AS n,
                   count(*) FILTER (WHERE ok.state = 'skipped'
                                       OR (ok.branch IS NOT NULL AND NOT next.task_id = ANY(ok.branch)))::integer AS skipped,
                   min(td.dep_count) AS dep_count, min(td.logic) AS logic
            FROM ok
            JOIN sched.task_definition done ON done.id = ok.task_id
            CROSS JOIN LATERAL unnest(done.successors) AS next(task_id)
            JOIN sched.task_definition td ON td.id = next.task_id
            -- A run limited to some tasks (start_tasks, execute_task) makes only those ready.
            WHERE (ok.scope IS NULL OR next.task_id = ANY(ok.scope))
              AND (ok.state <> 'failed' OR td.logic = 'conditions')
            GROUP BY ok.workflow_instance_id, next.task_id
        ), joined AS (
            INSERT INTO sched.join_progress AS jp (workflow_instance_id, task_id, deps_done, deps_skipped)
            SELECT s.workflow_instance_id, s.task_id, s.n, s.skipped FROM successor s WHERE s.dep_count > 1
            ORDER BY s.workflow_instance_id, s.task_id
            ON CONFLICT (workflow_instance_id, task_id)
                DO UPDATE SET deps_done = jp.deps_done + excluded.deps_done,
                              deps_skipped = jp.deps_skipped + excluded.deps_skipped
            RETURNING jp.workflow_instance_id, jp.task_id, jp.deps_done, jp.deps_skipped
        ), ready AS (
            SELECT s.workflow_instance_id, s.task_id, s.skipped = 1 AS skip, s.logic
            FROM successor s WHERE s.dep_count = 1
            UNION ALL
            SELECT j.workflow_instance_id, j.task_id, j.deps_skipped = td.dep_count, td.logic
            FROM joined j JOIN sched.task_definition td ON td.id = j.task_id
            WHERE j.deps_done = td.dep_count
        )
        SELECT array_agg(r.workflow_instance_id) FILTER (WHERE r.skip OR r.logic IN ('forbidden', 'conditions', 'switch')),
               array_agg(r.task_id) FILTER (WHERE r.skip OR r.logic IN ('forbidden', 'conditions', 'switch')),
               array_agg(r.skip) FILTER (WHERE r.skip OR r.logic IN ('forbidden', 'conditions', 'switch')),
               w_inst || array_agg(r.workflow_instance_id) FILTER (WHERE NOT (r.skip OR coalesce(r.logic IN ('forbidden', 'conditions', 'switch'), false))),
               w_task || array_agg(r.task_id) FILTER (WHERE NOT (r.skip OR coalesce(r.logic IN ('forbidden', 'conditions', 'switch'), false)))
        INTO p_inst, p_task, p_skip, w_inst, w_task
        FROM ready r;
        EXIT WHEN p_inst IS NULL;
        -- Skipped and forbidden tasks pass here; CONDITIONS and SWITCH attempts start here and
        -- are decided at once; their successors come in the next round. Tasks with none of
        -- these never get here.
        WITH passing AS (
            INSERT INTO sched.task_instance (workflow_instance_id, task_id, run, state, started_at, ended_at,
                                             worker_group, workflow_priority, task_priority, tenant)
            SELECT p.instance_id, p.task_id, wi.run,
                   CASE WHEN p.skip THEN 'skipped' WHEN td.logic = 'forbidden' THEN 'forbidden'
                        ELSE 'running' END::sched.task_state,
                   CASE WHEN NOT p.skip AND td.logic <> 'forbidden' THEN now() END,
                   CASE WHEN p.skip OR td.logic = 'forbidden' THEN now() END,
                   coalesce(td.worker_group, wi.worker_group), wi.priority, td.priority, wi.tenant
            FROM unnest(p_inst, p_task, p_skip) AS p(instance_id, task_id, skip)
            JOIN sched.workflow_instance wi ON wi.id = p.instance_id
            JOIN sched.task_definition td ON td.id = p.task_id
            ORDER BY p.instance_id, td.priority, td.id
            RETURNING id, state)
        SELECT array_agg(p.id ORDER BY p.id), array_agg(p.id ORDER BY p.id) FILTER (WHERE p.state = 'running')
        INTO passed, deciding
        FROM passing p;
        any_failed := deciding IS NOT NULL AND sched._decide_branches(deciding);
        finished := passed;
    END LOOP;
    IF w_inst IS NOT NULL THEN
        -- A group twice is one notification: PostgreSQL folds them.
        groups := groups || sched._new_attempts(w_inst, w_task, NULL, NULL);
    END IF;

    IF NOT shared THEN
        PERFORM sched._finish_if_done(touched);
    END IF;
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._advance(bigint[], bigint[], boolean, boolean) IS
    'Internal: reacts to task attempts that reached a final state: records failures (and applies failure strategy end), makes ready the successors whose upstream tasks are all done (skipping those only skipped tasks lead to, passing forbidden ones), and finishes instances with nothing left to run. Returns the worker groups that got ready tasks; the caller decides whom to wake.';
CREATE OR REPLACE FUNCTION sched._run_logic(ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r      record;
    failed boolean;
BEGIN
    FOR r IN
        SELECT ti.id, td.logic
        FROM unnest(ids) AS i(id)
        JOIN sched.task_instance ti ON ti.id = i.id
        JOIN sched.task_definition td ON td.id = ti.task_id
        ORDER BY ti.id
    LOOP
        -- An earlier decision may have ended it already (failure strategy end).
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM sched.task_instance t WHERE t.id = r.id AND t.state = 'running');
        CASE r.logic
        WHEN 'forbidden' THEN
            UPDATE sched.task_instance t SET state = 'forbidden', ended_at = now() WHERE t.id = r.id;
            PERFORM sched._notify_ready(sched._advance(ARRAY[r.id], '{}', false));
        WHEN 'conditions', 'switch' THEN
            failed := sched._decide_branches(ARRAY[r.id]);
            PERFORM sched._notify_ready(sched._advance(ARRAY[r.id], '{}', failed));
        WHEN 'sub_process' THEN
            PERFORM sched._start_child(r.id);
        WHEN 'dependent' THEN
            PERFORM sched._check_dependent(r.id);
        WHEN 'dynamic' THEN
            PERFORM sched._expand(r.id);
        END CASE;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._run_logic(bigint[]) IS
    'Internal: decides new attempts of logic tasks: forbidden tasks pass, CONDITIONS and SWITCH choose their branch, a SUB_PROCESS starts (or continues) its child, a DEPENDENT task looks at what it depends on, a DYNAMIC task expands its elements.';

-- 3_engine/branches.sql: conditions decided by one evaluator, for the engine and test runs.
CREATE FUNCTION sched._conditions_hold(conditions jsonb, outcomes jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(CASE WHEN conditions->>'relation' = 'or' THEN bool_or(g.ok) ELSE bool_and(g.ok) END, false)
    FROM (
        SELECT CASE WHEN grp->>'relation' = 'or' THEN bool_or(it.ok) ELSE bool_and(it.ok) END AS ok
        FROM jsonb_array_elements(conditions->'groups') WITH ORDINALITY AS x(grp, n)
        CROSS JOIN LATERAL (
            SELECT coalesce(outcomes->>(item->>'task')
                            = CASE WHEN item->>'status' = 'failed' THEN 'failed' ELSE 'success' END, false) AS ok
            FROM jsonb_array_elements(x.grp->'items') AS item) it
        GROUP BY x.n, x.grp) g
$$;
COMMENT ON FUNCTION sched._conditions_hold(jsonb, jsonb) IS
    'Internal: whether a CONDITIONS task''s two-level AND/OR over {task, status} items holds, given each task''s outcome (success or failed).';
CREATE OR REPLACE FUNCTION sched._condition_holds(instance_id bigint, run integer, version_id bigint, conditions jsonb)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT sched._conditions_hold(conditions, (
        SELECT jsonb_object_agg(n.name, CASE WHEN l.state = 'failed' THEN 'failed'
                                             WHEN l.state = ANY (sched._task_states_success()) THEN 'success' END)
        FROM (SELECT DISTINCT item->>'task' AS name
              FROM jsonb_array_elements(conditions->'groups') AS grp
              CROSS JOIN LATERAL jsonb_array_elements(grp->'items') AS item) n
        CROSS JOIN LATERAL (
            SELECT a.state FROM sched.task_instance a JOIN sched.task_definition td ON td.id = a.task_id
            WHERE a.workflow_instance_id = instance_id AND a.run = _condition_holds.run
              AND td.workflow_version_id = version_id AND td.name = n.name
            ORDER BY a.id DESC LIMIT 1) l))
$$;
COMMENT ON FUNCTION sched._condition_holds(bigint, integer, bigint, jsonb) IS
    'Internal: whether a CONDITIONS task''s two-level AND/OR over {task, status} items holds in an instance''s run.';

-- 5_protocol/sql_tasks.sql: the owner's refusal shared with test runs.
CREATE OR REPLACE FUNCTION sched._run_sql_task(principal regrole, worker_id bigint, task_instance_id bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    task      record;
    slots     integer := current_setting('sched.max_sql_task_workers')::integer;
    slot      integer;
    refusal   text;
    snapshot  jsonb;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    SELECT ti.state, ti.kill_requested, td.task_type,
           CASE WHEN td.parameterized THEN ti.resolved->'settings' ELSE td.settings END AS settings,
           w.owner, r.rolcanlogin, r.rolvaliduntil, ti.workflow_instance_id,
           v.spec->>'snapshot' IS NOT DISTINCT FROM 'consistent' AS consistent
      INTO task
      FROM sched.task_instance ti
      JOIN sched.task_definition td ON td.id = ti.task_id
      JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
      JOIN sched.workflow_version v ON v.id = wi.workflow_version_id
      JOIN sched.workflow w ON w.id = wi.workflow_id
      JOIN pg_catalog.pg_roles r ON r.oid = w.owner
     WHERE ti.id = task_instance_id AND ti.worker_id = _run_sql_task.worker_id;
    IF NOT FOUND OR task.state <> ALL (sched._task_states_claimed()) THEN
        RAISE EXCEPTION 'task instance % is not running on worker %', task_instance_id, worker_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF task.task_type NOT IN ('sql', 'procedure') OR task.settings ? 'datasource' THEN
        RAISE EXCEPTION 'task instance % is not a sql or procedure task on the scheduler''s database', task_instance_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF task.kill_requested THEN
        RETURN jsonb_build_object('error', 'killed before it started');
    END IF;
    -- A role that cannot log in, or whose password expired, does not run SQL as itself here.
    refusal := sched._sql_owner_refusal(task.owner, task.rolcanlogin, task.rolvaliduntil);
    IF refusal IS NOT NULL THEN
        RETURN jsonb_build_object('error', refusal);
    END IF;
    -- "snapshot": "consistent": the statements read the instance's one snapshot
    -- (extension/src/snapshot.rs), taken at its first SQL task.
    IF task.consistent THEN
        snapshot := sched._instance_snapshot(task.workflow_instance_id, task.owner::oid);
        IF snapshot ? 'error' THEN
            RETURN snapshot;
        END IF;
        task.settings := task.settings || snapshot;
    END IF;
    SELECT s.slot INTO slot FROM sched.sql_task_slot s WHERE s.slot <= slots
    ORDER BY s.slot LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF slot IS NULL THEN
        -- All taken: wait for one, spread over them.
        PERFORM 1 FROM sched.sql_task_slot s WHERE s.slot = 1 + (task_instance_id % slots)::integer FOR UPDATE;
    END IF;
    RETURN sched._execute_as(task.owner::oid, task.settings);
END
$$;
COMMENT ON FUNCTION sched.run_sql_task(bigint, bigint) IS
    'Worker protocol: runs a claimed sql or procedure task that names no datasource, as its workflow''s owner in a background worker connected as that role (on the instance''s one snapshot under "snapshot": "consistent"), and returns {"log", "columns", "rows", "row_count", "truncated"} or {"error"}. Waits while sched.max_sql_task_workers run; a cancel stops the statements.';
CREATE OR REPLACE FUNCTION sched._start_child(task_instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t        record;
    parent   sched.workflow_instance;
    child    sched.workflow_instance;
    owner    regrole;
    ctx      jsonb;
    params   jsonb;
    child_id bigint;
    rerun    boolean;
BEGIN
    SELECT ti.id, ti.task_id, ti.run, ti.element, ti.workflow_instance_id, td.settings, td.params AS local_params,
           td.inputs_from, td.name
    INTO t
    FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
    WHERE ti.id = task_instance_id;
    SELECT * INTO parent FROM sched.workflow_instance wi WHERE wi.id = t.workflow_instance_id;
    SELECT c.* INTO child FROM sched.workflow_instance c
    WHERE c.parent_instance_id = parent.id
      AND c.parent_task_instance_id IN (SELECT p.id FROM sched.task_instance p
                                        WHERE p.workflow_instance_id = parent.id AND p.task_id = t.task_id
                                          AND p.element IS NOT DISTINCT FROM t.element)
    ORDER BY c.id DESC LIMIT 1
    FOR UPDATE;

    IF FOUND THEN
        -- The child runs again from the start when its parent does: a new run of the parent
        -- (rerun_workflow, however it was paused or recovered since) or execute_task.
        rerun := (SELECT c.command_type FROM sched.command c
                  WHERE c.workflow_instance_id = parent.id ORDER BY c.id DESC LIMIT 1) = 'execute_task'
                 OR (SELECT p.run FROM sched.task_instance p WHERE p.id = child.parent_task_instance_id) < t.run;
        UPDATE sched.workflow_instance SET parent_task_instance_id = t.id WHERE id = child.id;
        PERFORM sched._logic_log(t.id, format('sub_process: continues instance %s (%s) of workflow "%s"',
                                              child.id, child.state, t.settings->>'workflow'));
        -- As the parent workflow's owner, who runs its children, through the commands a user
        -- would issue (which check that right again, and record them).
        owner := (SELECT w.owner FROM sched.workflow w WHERE w.id = parent.workflow_id);
        IF rerun THEN
            PERFORM sched._rerun_workflow(owner, child.id);
        ELSIF child.state = ANY (sched._command_workflow_states('resume')) THEN
            PERFORM sched._resume_workflow(owner, child.id);
        ELSIF child.state = 'failed' THEN
            PERFORM sched._recover_workflow(owner, child.id);
        ELSIF child.state = 'succeeded' THEN
            PERFORM sched._end_parent_task(child.id, false);
        END IF;
        RETURN;
    END IF;

    -- The child's start parameters: the parent's globals and start parameters, under the task's
    -- own (upstream OUT values, its local params), so that they override the child's globals.
    ctx := sched._task_context(t.settings, t.local_params, t.inputs_from, t.name, t.task_id, t.id, parent.id, t.element);
    SELECT coalesce(jsonb_object_agg(k, parent.param_values->k), '{}') INTO params
    FROM (SELECT jsonb_object_keys(coalesce(v.spec->'params', '{}')) AS k
          FROM sched.workflow_version v WHERE v.id = parent.workflow_version_id
          UNION SELECT jsonb_object_keys(parent.params)) keys
    WHERE parent.param_values ? k;
    SELECT params || coalesce(jsonb_object_agg(p.key, p.value), '{}') INTO params
    FROM jsonb_each(coalesce(ctx->'params', '{}')) p WHERE p.key NOT LIKE 'system.%';
    -- An element of a dynamic task starts its child with its values.
    IF t.element IS NOT NULL THEN
        params := params || (SELECT e."values" FROM sched.dynamic_element e
                             WHERE e.workflow_instance_id = parent.id AND e.task_id = t.task_id
                               AND e.run = t.run AND e.element = t.element);
    END IF;
    BEGIN
        IF ctx->'settings' ? 'resolve_error' THEN
            RAISE EXCEPTION 'cannot resolve parameters: %', ctx#>>'{settings,resolve_error}';
        END IF;
        child_id := sched._start((SELECT w.owner FROM sched.workflow w WHERE w.id = parent.workflow_id),
                                 t.settings->>'workflow', params, '{}',
                                 (SELECT c.command_type FROM sched.command c WHERE c.workflow_instance_id = parent.id
                                  ORDER BY c.id LIMIT 1),
                                 NULL, t.id);
    EXCEPTION WHEN others THEN
        -- One child that cannot start fails its task, not the transaction that made it ready.
        UPDATE sched.task_instance ti SET state = 'failed', ended_at = now() WHERE ti.id = t.id;
        PERFORM sched._logic_log(t.id, format('sub_process: cannot start workflow "%s": %s', t.settings->>'workflow', SQLERRM));
        PERFORM sched._notify_ready(sched._advance(ARRAY[t.id], '{}', true));
        RETURN;
    END;
    PERFORM sched._logic_log(t.id, format('sub_process: started instance %s of workflow "%s"', child_id, t.settings->>'workflow'));
END
$$;
COMMENT ON FUNCTION sched._start_child(bigint) IS
    'Internal: gives a SUB_PROCESS attempt its child instance: a new one, or the one it had, resumed, recovered or rerun as its parent was.';
CREATE OR REPLACE FUNCTION sched._kill_logic(instances bigint[], only_task bigint, reason text) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    c      record;
    killed bigint[];
BEGIN
    FOR c IN
        SELECT ch.id, ch.workflow_id, ti.id AS attempt FROM sched.workflow_instance ch
        JOIN sched.task_instance ti ON ti.id = ch.parent_task_instance_id
        WHERE ch.parent_instance_id = ANY(instances) AND ti.state = 'running'
          AND (only_task IS NULL OR ti.id = only_task)
          AND ch.state <> ALL (sched._workflow_states_ending())
        ORDER BY ch.id
        FOR UPDATE OF ch
    LOOP
        -- The attempt ends killed, for this reason, once its child has stopped.
        UPDATE sched.task_instance ti SET kill_requested = true, kill_reason = reason WHERE ti.id = c.attempt;
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        VALUES ('stop', c.workflow_id, c.id, 'pg_sched', jsonb_build_object('reason', reason));
        UPDATE sched.workflow_instance SET state = 'ready_stop' WHERE id = c.id;
        PERFORM sched._kill_active(ARRAY[c.id], reason);
        PERFORM sched._finish_if_done(ARRAY[c.id]);
    END LOOP;
    WITH ended AS (
        UPDATE sched.task_instance ti SET state = 'killed', ended_at = now(), kill_reason = reason, recheck_at = NULL
        WHERE ti.workflow_instance_id = ANY(instances) AND ti.state = 'running' AND ti.worker_id IS NULL
          AND (only_task IS NULL OR ti.id = only_task)
          AND NOT EXISTS (SELECT 1 FROM sched.workflow_instance ch
                          WHERE ch.parent_task_instance_id = ti.id AND ch.parent_instance_id = ti.workflow_instance_id
                            AND ch.state <> ALL (sched._workflow_states_finished()))
        RETURNING ti.id)
    SELECT array_agg(id) INTO killed FROM ended;
    DELETE FROM sched.dependent_watch dw WHERE dw.task_instance_id = ANY(killed);
    -- A dynamic attempt's elements go with it.
    IF EXISTS (SELECT 1 FROM sched.dynamic_progress p WHERE p.task_instance_id = ANY(killed)) THEN
        PERFORM sched._kill_elements(killed, reason);
    END IF;
    RETURN killed;
END
$$;
COMMENT ON FUNCTION sched._kill_logic(bigint[], bigint, text) IS
    'Internal: ends running logic attempts of these instances (or just only_task): stops sub-process children, kills the rest (a dynamic attempt with its elements); returns those killed at once.';
CREATE OR REPLACE FUNCTION sched._continue(instance_id bigint, rerun sched.task_state[], redo bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    wi        sched.workflow_instance;
    r_inst    bigint[];
    r_task    bigint[];
    r_attempt integer[];
BEGIN
    PERFORM sched._unarchive(instance_id);
    UPDATE sched.workflow_instance i SET state = 'running', ended_at = NULL, out_params = NULL
    WHERE i.id = instance_id RETURNING * INTO wi;
    DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = instance_id;
    WITH tasks AS (
        SELECT td.id, td.successors, td.dep_count, td.logic FROM sched.task_definition td
        WHERE td.workflow_version_id = wi.workflow_version_id AND (wi.scope IS NULL OR td.id = ANY(wi.scope))
          AND td.element_of IS NULL
    ), latest AS (
        SELECT DISTINCT ON (ti.task_id) ti.task_id, ti.state, ti.attempt, ti.branch
        FROM sched.task_instance ti
        WHERE ti.workflow_instance_id = instance_id AND ti.run = wi.run AND ti.element IS NULL
        ORDER BY ti.task_id, ti.id DESC
    ), done AS (
        SELECT l.task_id FROM latest l
        WHERE l.state = ANY (sched._task_states_passed()) AND NOT l.task_id = ANY(coalesce(redo, '{}'))
    ), ups AS (
        -- As _advance counts them: a failure is done for a CONDITIONS task, and what a skipped
        -- task or an unchosen branch leads to counts as skipped.
        SELECT next.task_id, count(*) AS in_scope,
               count(*) FILTER (WHERE d.task_id IS NOT NULL
                                   OR (lu.state = 'failed' AND t.logic = 'conditions'
                                       AND NOT up.id = ANY(coalesce(redo, '{}')))) AS done,
               count(*) FILTER (WHERE d.task_id IS NOT NULL
                                  AND (lu.state = 'skipped' OR NOT next.task_id = ANY(coalesce(lu.branch, ARRAY[next.task_id])))) AS skipped
        FROM tasks up
        CROSS JOIN LATERAL unnest(up.successors) AS next(task_id)
        JOIN tasks t ON t.id = next.task_id
        LEFT JOIN done d ON d.task_id = up.id
        LEFT JOIN latest lu ON lu.task_id = up.id
        GROUP BY next.task_id
    ), pending AS (
        SELECT t.id, t.dep_count, coalesce(u.in_scope, 0) AS in_scope, coalesce(u.done, 0) AS ups_done,
               coalesce(u.skipped, 0) AS ups_skipped, l.state AS last_state, l.attempt
        FROM tasks t
        LEFT JOIN ups u ON u.task_id = t.id
        LEFT JOIN latest l ON l.task_id = t.id
        WHERE t.id NOT IN (SELECT d.task_id FROM done d)
    ), joins AS (
        -- Upstream tasks outside the scope count as done.
        INSERT INTO sched.join_progress (workflow_instance_id, task_id, deps_done, deps_skipped)
        SELECT instance_id, p.id, p.dep_count - p.in_scope + p.ups_done, p.ups_skipped FROM pending p
        WHERE p.dep_count > 1 AND p.ups_done < p.in_scope AND p.dep_count - p.in_scope + p.ups_done > 0
    )
    SELECT array_agg(instance_id), array_agg(p.id ORDER BY p.id), array_agg(coalesce(p.attempt, 0) + 1 ORDER BY p.id)
    INTO r_inst, r_task, r_attempt
    FROM pending p
    WHERE p.ups_done = p.in_scope
      AND (p.last_state IS NULL OR p.last_state = ANY(rerun) OR p.id = ANY(coalesce(redo, '{}')));

    -- A failure stands while its task's last attempt is still a failure (and no CONDITIONS task
    -- judges it), and the task does not run again now: decided before the new attempts, which
    -- may end the instance at once (logic tasks).
    UPDATE sched.workflow_instance i SET has_failure = EXISTS (
        SELECT 1 FROM (SELECT DISTINCT ON (ti.task_id) ti.state, ti.task_id
                       FROM sched.task_instance ti
                       WHERE ti.workflow_instance_id = instance_id AND ti.run = wi.run AND ti.element IS NULL
                         AND (wi.scope IS NULL OR ti.task_id = ANY(wi.scope))
                       ORDER BY ti.task_id, ti.id DESC) l
        JOIN sched.task_definition td ON td.id = l.task_id
        WHERE (l.state = 'killed' OR (l.state = 'failed' AND NOT (td.feeds_conditions
                                                                  AND (wi.scope IS NULL OR td.successors && wi.scope))))
          AND NOT l.task_id = ANY(coalesce(r_task, '{}')))
    WHERE i.id = instance_id;
    IF r_inst IS NOT NULL THEN
        PERFORM sched._notify_ready(sched._new_attempts(r_inst, r_task, r_attempt, NULL));
    END IF;
    PERFORM sched._finish_if_done(ARRAY[instance_id]);
END
$$;
COMMENT ON FUNCTION sched._continue(bigint, sched.task_state[], bigint[]) IS
    'Internal: makes a finished instance run again: new attempts of the tasks that are due (never run, last attempt in rerun, or in redo, with their upstream tasks done), join counters rebuilt.';
CREATE OR REPLACE FUNCTION sched._fail_over(workers bigint[], attempts bigint[] DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    instances bigint[];
    groups    text[];
    r_inst    bigint[];
    r_task    bigint[];
    r_attempt integer[];
    r_retry   integer[];
    r_element integer[];
    slots     bigint[];
    lost_ids  bigint[];
    ended     bigint[];
BEGIN
    SELECT array_agg(DISTINCT ti.workflow_instance_id) INTO instances
    FROM sched.task_instance ti
    WHERE ti.worker_id = ANY(workers) AND ti.state = ANY(sched._task_states_claimed())
      AND (attempts IS NULL OR ti.id = ANY(attempts));
    IF instances IS NULL THEN
        RETURN;
    END IF;
    -- An instance locked by someone else (a user's open stop_workflow) is skipped, not waited
    -- for: its attempts stay on the dead registration, which the master's next ticks retry.
    instances := sched._lock_family(instances, false);
    IF cardinality(instances) = 0 THEN
        RETURN;
    END IF;

    -- As in DolphinScheduler's fault tolerance: the lost attempt becomes need_fault_tolerance and a new attempt
    -- of the same task is queued, unless the instance is being stopped or is ending.
    -- Only in the instances locked above: an attempt claimed since is the next tick's.
    -- A live worker's attempt that it says it does not run (attempts given) went with a lost
    -- commit: one it was asked to kill ends as the kill would have ended it.
    WITH lost AS (
        UPDATE sched.task_instance ti
           SET state = CASE WHEN attempts IS NULL OR NOT ti.kill_requested THEN 'need_fault_tolerance'
                            WHEN ti.kill_reason = 'timeout' THEN 'failed'
                            ELSE 'killed' END::sched.task_state,
               ended_at = now(),
               kill_reason = coalesce(ti.kill_reason, 'failover')
        WHERE ti.worker_id = ANY(workers) AND ti.state = ANY(sched._task_states_claimed())
          AND (attempts IS NULL OR ti.id = ANY(attempts))
          AND ti.workflow_instance_id = ANY(instances)
        RETURNING ti.*)
    SELECT array_agg(l.workflow_instance_id ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.task_id ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.attempt + 1 ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.retry ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.element ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.id) FILTER (WHERE l.holds_slot),
           array_agg(l.id) FILTER (WHERE l.state = 'need_fault_tolerance'),
           array_agg(l.id) FILTER (WHERE l.state <> 'need_fault_tolerance')
    INTO r_inst, r_task, r_attempt, r_retry, r_element, slots, lost_ids, ended
    FROM lost l
    JOIN sched.workflow_instance wi ON wi.id = l.workflow_instance_id
    CROSS JOIN LATERAL (SELECT wi.state = 'running' AND NOT (wi.has_failure AND wi.failure_strategy = 'end')
                               AND NOT l.kill_requested AS requeue) q;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    IF r_inst IS NOT NULL THEN
        groups := sched._new_attempts(r_inst, r_task, r_attempt, r_retry, r_element);
        -- The engine's own command, which no user can issue.
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        SELECT 'recover_tolerance_fault_process', wi.workflow_id, wi.id, 'pg_sched', jsonb_build_object('workers', workers)
        FROM sched.workflow_instance wi WHERE wi.id IN (SELECT DISTINCT unnest(r_inst)) ORDER BY wi.id;
    END IF;

    IF groups IS NOT NULL THEN
        PERFORM sched._notify_ready(groups);
    END IF;
    IF lost_ids IS NOT NULL THEN
        PERFORM sched._alert_fault_tolerance(lost_ids);
    END IF;
    IF ended IS NOT NULL THEN
        PERFORM sched._notify_ready(sched._advance(ended, instances, true));
    END IF;
    PERFORM sched._finish_if_done(instances);
END
$$;
COMMENT ON FUNCTION sched._fail_over(bigint[], bigint[]) IS
    'Internal: moves the running attempts of dead workers (or only the attempts given, which a live worker does not run; those to be killed end killed) to need_fault_tolerance and queues new attempts.';
CREATE OR REPLACE FUNCTION sched._claim(worker_id bigint, groups text[], max_tasks integer, claim_token bigint)
RETURNS TABLE (task_instance_id bigint, workflow_instance_id bigint, task_name text, task_type text,
               settings jsonb, attempt integer, tenant text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    already       integer;
    grp           text;
    got           integer;
    left_to_claim integer;
BEGIN
    IF max_tasks IS NULL OR max_tasks < 1 THEN
        RETURN;
    END IF;
    -- A call retried after its answer was lost (the connection dropped after the commit) must
    -- get the tasks the first call claimed, or they would sit running on a live worker that
    -- never heard of them.
    IF _claim.claim_token IS NOT NULL THEN
        RETURN QUERY
        SELECT ti.id, ti.workflow_instance_id, td.name, td.task_type,
               CASE WHEN td.parameterized THEN ti.resolved->'settings' ELSE td.settings END,
               ti.attempt, ti.tenant
        FROM sched.task_instance ti
        JOIN sched.task_definition td ON td.id = ti.task_id
        WHERE ti.worker_id = _claim.worker_id AND ti.state = ANY (sched._task_states_claimed())
          AND ti.claim_token = _claim.claim_token;
        GET DIAGNOSTICS already = ROW_COUNT;
        IF already > 0 THEN
            RETURN;
        END IF;
    END IF;
    -- One group at a time, each read in index order from its own part of the ready index; a
    -- worker of several groups fills its slots from them in the order it lists them.
    -- The picked ids come as an array from an uncorrelated sub-select, which runs once, with
    -- LIMIT and SKIP LOCKED, before the UPDATE joins anything; and an id array keeps the
    -- (generic) plan on the primary key whatever the size of the table: joining a CTE was
    -- planned as a hash join over every row once the table held a large backlog.
    left_to_claim := least(_claim.max_tasks, 1000);
    FOREACH grp IN ARRAY _claim.groups LOOP
        RETURN QUERY
        UPDATE sched.task_instance ti
           SET state = 'running', worker_id = _claim.worker_id, claim_token = _claim.claim_token,
               started_at = now(),
               timeout_at = now() + td.timeout_after,
               check_at = CASE WHEN td.timeout_strategy = 'fail' THEN now() + td.timeout_after + interval '15 s'
                               ELSE now() + td.timeout_after END,
               -- Resolved once per attempt and stored: a retried claim returns the same.
               resolved = CASE WHEN td.parameterized
                               THEN sched._task_context(td.settings, td.params, td.inputs_from, td.name, td.id,
                                                        ti.id, ti.workflow_instance_id, ti.element) END
          FROM sched.task_definition td
         WHERE ti.id = ANY(ARRAY(
                   SELECT q.id
                   FROM sched.task_instance q
                   WHERE q.state = 'queued' AND q.worker_group = grp
                   ORDER BY q.workflow_priority, q.task_priority, q.id
                   LIMIT left_to_claim
                   FOR UPDATE SKIP LOCKED))
           AND td.id = ti.task_id
        RETURNING ti.id, ti.workflow_instance_id, td.name, td.task_type,
                  CASE WHEN td.parameterized THEN ti.resolved->'settings' ELSE td.settings END,
                  ti.attempt, ti.tenant;
        GET DIAGNOSTICS got = ROW_COUNT;
        left_to_claim := left_to_claim - got;
        EXIT WHEN left_to_claim <= 0;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._claim(bigint, text[], integer, bigint) IS
    'Internal: claims up to max_tasks queued task instances of these groups for a worker, group by group in the order given: highest priority first, then FIFO. With a claim token already used by this worker, returns what that call claimed instead.';

-- 3_engine/dynamic.sql
-- DYNAMIC tasks (docs/architecture.md, "The life of a dynamic task"): no worker runs the
-- dynamic task itself. Its attempt expands its lists into elements in two set-based
-- statements (their values, then the first attempts of its element task), counts the
-- elements as they end (each end is a completion like any other, advanced by _advance), lets
-- the held-back ones start as others end, and ends once they are done, with their OUT params
-- gathered into lists, in element order.

-- The parameter values the lists are read from: the instance's, under the task's own layer
-- (upstream OUT values, its local params), as its claim would resolve them.
CREATE FUNCTION sched._dynamic_lists(t record) RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    ctx    jsonb;
    vals   jsonb;
    lists  jsonb := '[]';
    entry  record;
    list   jsonb;
BEGIN
    ctx := sched._task_context(t.settings, t.local_params, t.inputs_from, t.name, t.task_id, t.id, t.workflow_instance_id);
    IF ctx->'settings' ? 'resolve_error' THEN
        RAISE EXCEPTION 'cannot resolve parameters: %', ctx#>>'{settings,resolve_error}';
    END IF;
    vals := (SELECT wi.param_values FROM sched.workflow_instance wi WHERE wi.id = t.workflow_instance_id)
            || coalesce(ctx->'params', '{}');
    FOR entry IN SELECT o.key, o.value FROM jsonb_each(t.settings->'over') o LOOP
        IF jsonb_typeof(entry.value) = 'array' THEN
            list := entry.value;
        ELSIF NOT vals ? (entry.value#>>'{}') THEN
            RAISE EXCEPTION 'over.%: no parameter "%" (an upstream OUT param, a local, global or start param)',
                entry.key, entry.value#>>'{}';
        ELSE
            BEGIN
                list := (vals->>(entry.value#>>'{}'))::jsonb;
            EXCEPTION WHEN others THEN
                list := NULL;
            END;
            IF jsonb_typeof(list) IS DISTINCT FROM 'array' THEN
                RAISE EXCEPTION 'over.%: parameter "%" is not a list: % (a JSON array is, e.g. ["a", "b"])',
                    entry.key, entry.value#>>'{}', left(vals->>(entry.value#>>'{}'), 200);
            END IF;
        END IF;
        lists := lists || jsonb_build_array(jsonb_build_object('name', entry.key, 'list', list));
    END LOOP;
    RETURN lists;
END
$$;
COMMENT ON FUNCTION sched._dynamic_lists(record) IS
    'Internal: the lists a dynamic attempt runs over, [{name, list}] in the order of over''s names; raises, naming the field, when one is missing or not a list.';

-- A new attempt of a dynamic task: the lists expanded into elements (or, when this run
-- expanded them already, for a resume, recover or retry, the elements that did not succeed),
-- and the first of them started.
CREATE FUNCTION sched._expand(attempt_id bigint) RETURNS void
LANGUAGE plpgsql
-- The expansion's estimates (a million rows) set off JIT, which took longer than the statement.
SET jit = off
AS $$
DECLARE
    t         record;
    lists     jsonb;
    n         bigint := 1;
    cap       bigint;
    k         integer;
    list_name text;
    list      jsonb;
    elements  jsonb[] := ARRAY['{}'::jsonb];
    redo      integer[];
    again     boolean;
BEGIN
    SELECT ti.id, ti.task_id, ti.run, ti.workflow_instance_id, td.settings, td.params AS local_params,
           td.inputs_from, td.name, e.id AS element_task
    INTO t
    FROM sched.task_instance ti
    JOIN sched.task_definition td ON td.id = ti.task_id
    JOIN sched.task_definition e ON e.element_of = td.id
    WHERE ti.id = attempt_id;
    -- Its run expanded the lists already when it has elements: a resume, recover or retry.
    -- min() reads the primary key for its first entry, whatever the estimates say: EXISTS was
    -- planned as a scan of every run's elements.
    again := (SELECT min(e.element) FROM sched.dynamic_element e
              WHERE e.workflow_instance_id = t.workflow_instance_id AND e.task_id = t.element_task AND e.run = t.run) IS NOT NULL;
    IF again THEN
        WITH latest AS (
            SELECT DISTINCT ON (a.element) a.element, a.state
            FROM sched.task_instance a
            WHERE a.workflow_instance_id = t.workflow_instance_id AND a.task_id = t.element_task AND a.run = t.run
            ORDER BY a.element, a.id DESC)
        SELECT coalesce(array_agg(e.element ORDER BY e.element)
                            FILTER (WHERE l.state IS NULL OR l.state <> ALL (sched._task_states_success())), '{}'),
               count(*)
        INTO redo, n
        FROM sched.dynamic_element e LEFT JOIN latest l ON l.element = e.element
        WHERE e.workflow_instance_id = t.workflow_instance_id AND e.task_id = t.element_task AND e.run = t.run;
        PERFORM sched._logic_log(t.id, format('dynamic: runs again the %s of %s elements that did not succeed', cardinality(redo), n));
    ELSE
        BEGIN
            lists := sched._dynamic_lists(t);
            FOR k IN 0 .. jsonb_array_length(lists) - 1 LOOP
                n := n * jsonb_array_length(lists->k->'list');
            END LOOP;
            cap := least((t.settings->>'max_items')::bigint, current_setting('sched.max_dynamic_items')::bigint);
            IF n > cap THEN
                RAISE EXCEPTION 'over: the lists make % elements, more than % allowed (max_items %, sched.max_dynamic_items %)',
                    n, cap, t.settings->>'max_items', current_setting('sched.max_dynamic_items');
            END IF;
        EXCEPTION WHEN others THEN
            UPDATE sched.task_instance ti SET state = 'failed', ended_at = now() WHERE ti.id = t.id;
            PERFORM sched._logic_log(t.id, format('dynamic: %s', SQLERRM));
            PERFORM sched._notify_ready(sched._advance(ARRAY[t.id], '{}', true));
            RETURN;
        END;
        -- Every element's values, the last list varying fastest: each list's items are read
        -- once and crossed with the combinations of the lists before it (a value as text, as
        -- every parameter value is); then one insert.
        FOR k IN 0 .. jsonb_array_length(lists) - 1 LOOP
            list_name := lists->k->>'name';
            list := lists->k->'list';
            elements := ARRAY(
                SELECT c.v || jsonb_build_object(list_name, CASE WHEN jsonb_typeof(x.v) = 'string' THEN x.v ELSE to_jsonb(x.v::text) END)
                FROM unnest(elements) WITH ORDINALITY AS c(v, j)
                CROSS JOIN jsonb_array_elements(list) WITH ORDINALITY AS x(v, i)
                ORDER BY c.j, x.i);
        END LOOP;
        INSERT INTO sched.dynamic_element (workflow_instance_id, task_id, run, element, "values")
        SELECT t.workflow_instance_id, t.element_task, t.run, e.i - 1, e.v
        FROM unnest(elements) WITH ORDINALITY AS e(v, i);
        PERFORM sched._logic_log(t.id, format('dynamic: %s elements over %s', n,
                                              (SELECT string_agg(format('%s (%s)', l->>'name', jsonb_array_length(l->'list')), ' × ')
                                               FROM jsonb_array_elements(lists) l)));
    END IF;
    INSERT INTO sched.dynamic_progress AS p (workflow_instance_id, task_id, run, task_instance_id, element_task, total,
                                             pending, parallelism, on_failure)
    VALUES (t.workflow_instance_id, t.task_id, t.run, t.id, t.element_task, n, redo,
            (t.settings->>'parallelism')::integer, t.settings->>'on_failure')
    ON CONFLICT (workflow_instance_id, task_id, run) DO UPDATE
        SET task_instance_id = excluded.task_instance_id, total = excluded.total, pending = excluded.pending,
            released = 0, ended = 0, failed = 0, stopping = false;
    PERFORM sched._notify_ready(sched._release_elements(t.id));
END
$$;
COMMENT ON FUNCTION sched._expand(bigint) IS
    'Internal: starts an attempt of a dynamic task: expands its lists into elements (or takes those of its run that did not succeed), starts as many as its parallelism allows, and ends it at once when there are none.';

-- Elements started while parallelism allows; the attempt ends when none is left running and
-- none may start. Returns the worker groups that got queued attempts.
CREATE FUNCTION sched._release_elements(attempt_id bigint) RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    p      sched.dynamic_progress;
    todo   integer;
    wi     sched.workflow_instance;
    more   integer;
    picked integer[];
    groups text[];
    outcome sched.task_state;
BEGIN
    SELECT * INTO p FROM sched.dynamic_progress dp WHERE dp.task_instance_id = attempt_id FOR UPDATE;
    SELECT * INTO wi FROM sched.workflow_instance i WHERE i.id = p.workflow_instance_id;
    todo := coalesce(cardinality(p.pending), p.total);
    IF NOT p.stopping AND wi.state = 'running' AND p.released < todo THEN
        more := least(todo - p.released, coalesce(p.parallelism - (p.released - p.ended), todo));
        IF more > 0 THEN
            picked := CASE WHEN p.pending IS NULL THEN ARRAY(SELECT generate_series(p.released, p.released + more - 1))
                           ELSE p.pending[p.released + 1 : p.released + more] END;
            UPDATE sched.dynamic_progress dp SET released = dp.released + more
            WHERE dp.task_instance_id = attempt_id RETURNING * INTO p;
            groups := sched._new_attempts(array_fill(p.workflow_instance_id, ARRAY[more]),
                                          array_fill(p.element_task, ARRAY[more]), NULL, NULL, picked);
            -- Sub-process elements that could not start ended at once, counted already.
            SELECT * INTO p FROM sched.dynamic_progress dp WHERE dp.task_instance_id = attempt_id;
        END IF;
    END IF;
    IF p.ended = p.released AND (p.released = todo OR p.stopping OR wi.state <> 'running')
       AND EXISTS (SELECT 1 FROM sched.task_instance d WHERE d.id = attempt_id AND d.state = 'running') THEN
        outcome := CASE WHEN p.failed > 0 OR p.stopping THEN 'failed'
                        WHEN p.released < todo THEN 'paused' ELSE 'succeeded' END;
        UPDATE sched.task_instance d
           SET state = outcome, ended_at = now(),
               out_params = CASE WHEN outcome = 'succeeded'
                                 THEN sched._gather_elements(p.workflow_instance_id, p.element_task, p.run) END
         WHERE d.id = attempt_id;
        PERFORM sched._logic_log(attempt_id, format('dynamic: %s of %s elements ended, %s failed: %s',
                                                    p.ended, todo, p.failed, outcome));
        groups := groups || sched._advance(ARRAY[attempt_id], '{}', outcome = 'failed');
    END IF;
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._release_elements(bigint) IS
    'Internal: starts the elements of a dynamic attempt that its parallelism now allows, and ends it (succeeded with the gathered OUT params, failed, or paused) once none runs and none may start.';

-- Attempts of elements that ended for good (a pending retry is no end): counted for their
-- dynamic attempt, which starts the next ones, stops the others after a failure under
-- on_failure stop, or ends. Elements of an attempt that ended already (killed, paused) count
-- for nothing. Returns the worker groups that got queued attempts.
CREATE FUNCTION sched._elements_ended(ids bigint[]) RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    d      record;
    groups text[];
BEGIN
    FOR d IN
        WITH ended AS (
            SELECT ti.workflow_instance_id, td.element_of, ti.run, count(*)::integer AS n,
                   count(*) FILTER (WHERE ti.state = ANY (sched._task_states_failure()))::integer AS failed
            FROM unnest(ids) AS f(id)
            JOIN sched.task_instance ti ON ti.id = f.id
            JOIN sched.task_definition td ON td.id = ti.task_id
            WHERE ti.element IS NOT NULL AND ti.state <> ALL (sched._task_states_active())
            GROUP BY 1, 2, 3)
        UPDATE sched.dynamic_progress p
           SET ended = p.ended + e.n, failed = p.failed + e.failed,
               stopping = p.stopping OR (e.failed > 0 AND p.on_failure = 'stop')
          FROM ended e
         WHERE p.workflow_instance_id = e.workflow_instance_id AND p.task_id = e.element_of AND p.run = e.run
           AND EXISTS (SELECT 1 FROM sched.task_instance a WHERE a.id = p.task_instance_id AND a.state = 'running')
        RETURNING p.task_instance_id, p.stopping
    LOOP
        IF d.stopping THEN
            PERFORM sched._kill_elements(ARRAY[d.task_instance_id], 'element_failed');
        END IF;
        groups := groups || sched._release_elements(d.task_instance_id);
    END LOOP;
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._elements_ended(bigint[]) IS
    'Internal: counts element attempts that ended for good for their dynamic attempt, which then starts more, stops the others (on_failure stop) or ends.';

-- The elements of dynamic attempts that end early (kill_task, a failure under on_failure stop):
-- those not started end at once (counted here), running ones are killed through their
-- workers, sub-process ones stop their children (their ends are counted as they come).
CREATE FUNCTION sched._kill_elements(attempts bigint[], reason text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    p      sched.dynamic_progress;
    killed integer;
    c      record;
BEGIN
    FOR p IN SELECT * FROM sched.dynamic_progress dp WHERE dp.task_instance_id = ANY(attempts) LOOP
        killed := sched._kill_attempts(ARRAY(SELECT ti.id FROM sched.task_instance ti
                                             WHERE ti.workflow_instance_id = p.workflow_instance_id
                                               AND ti.task_id = p.element_task AND ti.run = p.run
                                               AND ti.state = ANY (sched._task_states_active())), reason);
        UPDATE sched.dynamic_progress dp SET ended = dp.ended + killed WHERE dp.task_instance_id = p.task_instance_id;
        FOR c IN
            SELECT ti.id FROM sched.task_instance ti
            WHERE ti.workflow_instance_id = p.workflow_instance_id AND ti.task_id = p.element_task
              AND ti.run = p.run AND ti.state = 'running' AND ti.worker_id IS NULL
            ORDER BY ti.id
        LOOP
            PERFORM sched._kill_logic(ARRAY[p.workflow_instance_id], c.id, reason);
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._kill_elements(bigint[], text) IS
    'Internal: ends the elements of these dynamic attempts: those not started at once, running ones through their workers, sub-process ones by stopping their children.';

-- The OUT params of a dynamic task: each name any element exported, as a list (JSON text, as
-- a list parameter is) of every element's value in element order, null where one had none.
CREATE FUNCTION sched._gather_elements(instance_id bigint, element_task bigint, run integer) RETURNS jsonb
LANGUAGE sql STABLE
-- Estimated at a row or two, the latest attempts were joined to the elements in a nested loop:
-- seconds at 10,000; hashed, milliseconds. JIT, set off by the estimates, only added to it.
SET enable_nestloop = off
SET jit = off
AS $$
    WITH latest AS MATERIALIZED (
        SELECT DISTINCT ON (a.element) a.element, a.out_params
        FROM sched.task_instance a
        WHERE a.workflow_instance_id = instance_id AND a.task_id = element_task AND a.run = _gather_elements.run
          AND a.state = ANY (sched._task_states_success())
        ORDER BY a.element, a.id DESC
    ), elements AS (
        SELECT e.element FROM sched.dynamic_element e
        WHERE e.workflow_instance_id = instance_id AND e.task_id = element_task AND e.run = _gather_elements.run
    ), names AS (
        SELECT DISTINCT o.key FROM latest l CROSS JOIN LATERAL jsonb_object_keys(l.out_params) AS o(key)
        WHERE l.out_params IS NOT NULL
    )
    SELECT jsonb_object_agg(n.key, (
        SELECT jsonb_agg(l.out_params->n.key ORDER BY e.element)
        FROM elements e LEFT JOIN latest l ON l.element = e.element)::text)
    FROM names n
$$;
COMMENT ON FUNCTION sched._gather_elements(bigint, bigint, integer) IS
    'Internal: the OUT params of a dynamic task''s run: every name its elements exported, each a JSON array of the elements'' values in element order; NULL when none exported any.';

-- 3_engine/object_guard.sql
-- DROP and ALTER of what workflows' SQL uses (sched.workflow_dependency, recorded when each
-- version was defined): a NOTICE naming the workflows with an enabled schedule whose current
-- version uses the object, and a refusal when one of the current versions asks for it
-- ("protect_objects": true) and its owner owns the object (workflow_dependency.owned). Event
-- triggers run for every role's DDL, so these run as their owner and read only the dependency
-- table by its object index.

-- Objects as [{classid, objid, identity}]; what: drop or alter.
CREATE FUNCTION sched._guard_objects(objects jsonb, what text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT o->>'identity' AS identity,
               pg_catalog.string_agg(DISTINCT w.name, ', ' ORDER BY w.name)
                   FILTER (WHERE (v.spec->>'protect_objects')::boolean AND d.owned) AS protectors,
               pg_catalog.string_agg(DISTINCT pg_catalog.format('%s (task %s)', w.name, d.task), ', '
                                     ORDER BY pg_catalog.format('%s (task %s)', w.name, d.task))
                   FILTER (WHERE EXISTS (SELECT 1 FROM sched.schedule s WHERE s.workflow_id = w.id AND s.enabled)) AS scheduled
        FROM pg_catalog.jsonb_array_elements(objects) o
        JOIN sched.workflow_dependency d ON d.classid = (o->>'classid')::oid::regclass AND d.objid = (o->>'objid')::oid
        JOIN sched.workflow_version v ON v.id = d.workflow_version_id
        JOIN sched.workflow w ON w.id = v.workflow_id AND w.current_version = v.version
        GROUP BY 1
    LOOP
        IF r.protectors IS NOT NULL THEN
            RAISE EXCEPTION 'cannot % %: the SQL of workflow % uses it ("protect_objects": true)', what, r.identity, r.protectors
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Define a version of the workflow that does not use it, or without protect_objects, first (sched.workflow_dependencies lists what each version uses).';
        ELSIF r.scheduled IS NOT NULL THEN
            RAISE NOTICE '% % is used by the SQL of scheduled workflows: %', what, r.identity, r.scheduled;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._guard_objects(jsonb, text) IS
    'Internal: for objects a DDL command drops or alters, a NOTICE naming the scheduled workflows whose current SQL uses them, or an error when one of them has protect_objects.';

CREATE FUNCTION sched._guard_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A dropped column is an ALTER of its table; drops are judged first.
    PERFORM sched._guard_objects(o.objects, o.what)
    FROM (SELECT CASE WHEN d.objsubid = 0 THEN 'drop' ELSE 'alter' END AS what,
                 jsonb_agg(jsonb_build_object('classid', d.classid, 'objid', d.objid, 'identity',
                           CASE WHEN d.objsubid = 0 THEN d.object_identity
                                ELSE d.address_names[1] || '.' || d.address_names[2] END)) AS objects
          FROM pg_event_trigger_dropped_objects() d
          WHERE d.classid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_proc'::regclass)
            AND (d.objsubid = 0 OR d.classid = 'pg_catalog.pg_class'::regclass)
            AND d.schema_name IS DISTINCT FROM 'sched'
          GROUP BY 1
          ORDER BY 1 DESC) o;
END
$$;
COMMENT ON FUNCTION sched._guard_dropped() IS
    'Internal: the sql_drop event trigger''s function: the dropped relations and functions (and tables losing a column) that workflows'' SQL uses.';

CREATE FUNCTION sched._guard_altered() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sched._guard_objects(o.objects, 'alter')
    FROM (SELECT jsonb_agg(jsonb_build_object('classid', c.classid, 'objid', c.objid, 'identity', c.object_identity)) AS objects
          FROM pg_event_trigger_ddl_commands() c
          WHERE c.command_tag LIKE 'ALTER %'
            AND c.classid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_proc'::regclass)
            AND c.schema_name IS DISTINCT FROM 'sched') o
    WHERE o.objects IS NOT NULL;
END
$$;
COMMENT ON FUNCTION sched._guard_altered() IS
    'Internal: the ddl_command_end event trigger''s function: the altered relations and functions that workflows'' SQL uses.';

CREATE EVENT TRIGGER sched_guard_dropped ON sql_drop EXECUTE FUNCTION sched._guard_dropped();
CREATE EVENT TRIGGER sched_guard_altered ON ddl_command_end WHEN TAG IN (
    'ALTER TABLE', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER FOREIGN TABLE', 'ALTER SEQUENCE',
    'ALTER FUNCTION', 'ALTER PROCEDURE', 'ALTER ROUTINE')
    EXECUTE FUNCTION sched._guard_altered();
COMMENT ON EVENT TRIGGER sched_guard_dropped IS 'pg_sched: warns of (or refuses) dropping what scheduled (or protecting) workflows'' SQL uses.';
COMMENT ON EVENT TRIGGER sched_guard_altered IS 'pg_sched: warns of (or refuses) altering what scheduled (or protecting) workflows'' SQL uses.';

-- 6_views/definitions.sql: what each version's SQL uses.
CREATE VIEW sched.workflow_dependencies WITH (security_barrier) AS
SELECT w.name AS workflow,
       v.version,
       v.version = w.current_version AS current,
       d.task,
       CASE WHEN d.classid = 'pg_catalog.pg_class'::regclass THEN 'relation' ELSE 'function' END AS kind,
       CASE WHEN d.classid = 'pg_catalog.pg_class'::regclass THEN d.objid::regclass::text
            ELSE d.objid::regprocedure::text END AS object
FROM sched.workflow_dependency d
JOIN sched.workflow_version v ON v.id = d.workflow_version_id
JOIN sched.workflow w ON w.id = v.workflow_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.workflow_dependencies IS 'What each workflow version''s SQL uses on this database (relations and functions), found when it was defined; DROP and ALTER of them warn while a schedule runs the workflow, and are refused under protect_objects.';
COMMENT ON COLUMN sched.workflow_dependencies.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.workflow_dependencies.version IS 'Its version.';
COMMENT ON COLUMN sched.workflow_dependencies.current IS 'Whether it is the current version (the one the guard of DROP and ALTER reads).';
COMMENT ON COLUMN sched.workflow_dependencies.task IS 'The task whose statements use it.';
COMMENT ON COLUMN sched.workflow_dependencies.kind IS 'relation (table, view, sequence, ...) or function (procedures too).';
COMMENT ON COLUMN sched.workflow_dependencies.object IS 'The object, schema-qualified where not on the reader''s search_path; an OID once it was dropped.';

-- 4_master/events.sql
-- The master's part of triggers (1_schema/67_triggers.sql): events waiting in
-- sched.trigger_event become starts. A start and the deletion of the events it takes are one
-- transaction, the master's tick: a crash or a failover before its commit leaves the events
-- for the next master, after it leaves nothing to do again, so each event starts once.

-- The master calls it at every wake, in a transaction of its own before _policy_tick's, so
-- that a start waits for nothing else. Returns when a waiting trigger is next due, or NULL.
CREATE FUNCTION sched._drain_events() RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t         sched.trigger;
    ids       bigint[];
    first_at  timestamptz;
    last_at   timestamptz;
    committed timestamptz;
    n_stmts   bigint;
    n_rows    bigint;
    events    jsonb;
    present   text[];
    due       boolean;
    next_at   timestamptz;
    exact     boolean := pg_catalog.current_setting('track_commit_timestamp')::boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sched.trigger_event) THEN
        RETURN NULL;
    END IF;
    -- SKIP LOCKED: a trigger being dropped or disabled is served at the next tick.
    FOR t IN SELECT * FROM sched.trigger tr
             WHERE tr.id IN (SELECT DISTINCT e.trigger_id FROM sched.trigger_event e)
             ORDER BY tr.id FOR NO KEY UPDATE OF tr SKIP LOCKED
    LOOP
        IF NOT t.enabled THEN
            DELETE FROM sched.trigger_event e WHERE e.trigger_id = t.id;
            CONTINUE;
        END IF;
        -- Only the rows read here are taken: others may commit meanwhile, and wait.
        SELECT array_agg(e.id ORDER BY e.id), min(e.first_at), max(e.last_at),
               max(coalesce(e.committed_at, CASE WHEN exact THEN pg_catalog.pg_xact_commit_timestamp(e.xmin) END, e.last_at)),
               sum(e.statements), sum(e.rows)
        INTO ids, first_at, last_at, committed, n_stmts, n_rows
        FROM sched.trigger_event e WHERE e.trigger_id = t.id;

        IF t.kind = 'table_change' THEN
            due := n_rows >= t.min_rows
                   AND (t.debounce = interval '0' OR now() >= last_at + t.debounce OR now() >= first_at + t.max_wait);
            IF due THEN
                DELETE FROM sched.trigger_event e WHERE e.id = ANY(ids);
                PERFORM sched._fire(t, jsonb_build_object('changed_rows', n_rows, 'changed_statements', n_stmts,
                                                          'commit_time', committed::text),
                                    '{}', 'event:' || ids[1]);
                CONTINUE;
            END IF;
            IF n_rows >= t.min_rows THEN
                next_at := least(next_at, last_at + t.debounce, first_at + t.max_wait);
            END IF;
        ELSE
            SELECT array_agg(DISTINCT de.dataset),
                   jsonb_agg(jsonb_build_object('dataset', de.dataset, 'workflow', w.name, 'task', de.task_name,
                                                'workflow_instance_id', de.workflow_instance_id,
                                                'business_time', de.business_time) ORDER BY de.id)
            INTO present, events
            FROM sched.trigger_event e
            CROSS JOIN LATERAL unnest(e.dataset_event_ids) AS x(id)
            JOIN sched.dataset_event de ON de.id = x.id
            JOIN sched.workflow w ON w.id = de.workflow_id
            WHERE e.id = ANY(ids) AND de.dataset = ANY(t.datasets);
            -- Events of a dropped producer, or of datasets no longer listed, start nothing.
            IF present IS NULL THEN
                DELETE FROM sched.trigger_event e WHERE e.id = ANY(ids);
                CONTINUE;
            END IF;
            due := CASE WHEN t.mode = 'all' THEN t.datasets <@ coalesce(present, '{}')
                        ELSE t.debounce = interval '0' OR now() >= last_at + t.debounce END;
            IF due THEN
                DELETE FROM sched.trigger_event e WHERE e.id = ANY(ids);
                PERFORM sched._fire(t, jsonb_build_object('dataset_events', events::text), '{}', 'event:' || ids[1]);
                CONTINUE;
            END IF;
            IF t.mode = 'any' THEN
                next_at := least(next_at, last_at + t.debounce);
            END IF;
            -- Dataset events are few (one per producing success): they wait as they came.
            CONTINUE;
        END IF;
        -- A table changing all the time leaves one row per trigger, not one per statement.
        IF cardinality(ids) > 1 THEN
            DELETE FROM sched.trigger_event e WHERE e.id = ANY(ids);
            INSERT INTO sched.trigger_event (trigger_id, first_at, last_at, committed_at, statements, rows)
            VALUES (t.id, first_at, last_at, committed, n_stmts, n_rows);
        END IF;
    END LOOP;
    RETURN next_at;
END
$$;
COMMENT ON FUNCTION sched._drain_events() IS
    'Internal, run by the master at every wake, in a transaction of its own: starts the table-change and dataset triggers whose events are due (debounce, max_wait, min_rows; all or any of the datasets), deleting the events each start takes in the same transaction, and merges the events of those still waiting; returns when one is next due.';

-- 4_master/retention.sql
CREATE OR REPLACE FUNCTION sched._expire_history(now timestamptz, history_retention interval, batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expired bigint[];
BEGIN
    PERFORM sched._maintain_days('sched.task_instance_history', 'ended_at',
                                 (now AT TIME ZONE 'UTC')::date, history_retention);
    -- Tests of alert groups and missed deadlines of runs that never started concern no
    -- instance: they go by their own age.
    DELETE FROM sched.alert a WHERE a.workflow_instance_id IS NULL AND a.created_at < now - history_retention;
    -- Triggers' fires and dataset events go by their age too; an event a consumer has yet to
    -- take stays.
    DELETE FROM sched.trigger_fire f WHERE f.fired_at < now - history_retention;
    DELETE FROM sched.dataset_event de
    WHERE de.created_at < now - history_retention
      AND de.id < coalesce((SELECT min(x.id) FROM sched.trigger_event e CROSS JOIN LATERAL unnest(e.dataset_event_ids) AS x(id)),
                           9223372036854775807);
    -- Finished instances only, oldest first, a batch at a time: the master comes back soon.
    SELECT array_agg(x.id) INTO expired FROM (
        SELECT wi.id FROM sched.workflow_instance wi
        WHERE wi.ended_at < now - history_retention
        ORDER BY wi.ended_at
        LIMIT batch
        FOR UPDATE SKIP LOCKED) x;
    IF expired IS NULL THEN
        RETURN 0;
    END IF;
    -- What the dropped partitions did not take. The bulk tables have no foreign keys
    -- (1_schema/10_definitions.sql); commands cascade.
    DELETE FROM sched.task_log_line l USING sched.task_instance ti
    WHERE l.task_instance_id = ti.id AND ti.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_log_line l USING sched.task_instance_history th
    WHERE l.task_instance_id = th.id AND th.workflow_instance_id = ANY(expired);
    DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = ANY(expired);
    DELETE FROM sched.dynamic_element e WHERE e.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_result r WHERE r.workflow_instance_id = ANY(expired);
    DELETE FROM sched.late_report lr WHERE lr.workflow_instance_id = ANY(expired);
    DELETE FROM sched.alert a WHERE a.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_instance ti WHERE ti.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_instance_history th WHERE th.workflow_instance_id = ANY(expired);
    DELETE FROM sched.workflow_instance wi WHERE wi.id = ANY(expired);
    RETURN cardinality(expired);
END
$$;
COMMENT ON FUNCTION sched._expire_history(timestamptz, interval, integer) IS
    'Internal, run by the master: keeps the day partitions of the history, drops those older than history_retention, deletes the tests of alert groups, the fires of triggers and the dataset events (but those a consumer has yet to take) older than history_retention, and deletes up to batch finished instances that ended more than history_retention before now with what is left of their attempts, logs and commands; returns how many instances.';

-- 6_views/triggers.sql
-- Views for people and BI tools (see 6_views/schedules.sql's header for who sees what).
--
-- This file: triggers, datasets and their events (1_schema/67_triggers.sql).

CREATE VIEW sched.triggers WITH (security_barrier) AS
SELECT t.id, t.kind,
       CASE t.kind WHEN 'workflow_end' THEN up.name
                   WHEN 'table_change' THEN coalesce((SELECT c.oid::regclass::text FROM pg_catalog.pg_class c WHERE c.oid = t.table_oid),
                                                     t.table_name || ' (dropped)')
                   WHEN 'webhook' THEN '/hooks/' || t.hook
                   ELSE pg_catalog.array_to_string(t.datasets, ', ') END AS source,
       w.name AS workflow, t.owner::text AS owner, t.enabled, t.disabled_reason, t.last_error,
       jsonb_strip_nulls(jsonb_build_object(
           'states', t.end_states, 'operations', t.operations, 'mode', t.mode,
           'debounce', CASE WHEN t.debounce > interval '0' THEN t.debounce::text END,
           'max_wait', t.max_wait::text, 'min_rows', CASE WHEN t.kind = 'table_change' THEN t.min_rows END,
           'rate_limit', t.rate_limit, 'params', t.params)) AS options,
       t.created_at, t.last_fired_at, t.fire_count,
       (SELECT coalesce(sum(e.statements), 0) FROM sched.trigger_event e WHERE e.trigger_id = t.id) AS waiting_events
FROM sched.trigger t
JOIN sched.workflow w ON w.id = t.workflow_id
LEFT JOIN sched.workflow up ON up.id = t.upstream_workflow_id
WHERE sched._visible(t.owner) OR sched._visible(w.owner);
COMMENT ON VIEW sched.triggers IS 'What starts the workflows you may see on events (sched.on_workflow_end, sched.on_table_change, sched.create_webhook, a spec''s schedule_on), and the triggers you own.';
COMMENT ON COLUMN sched.triggers.id IS 'Trigger id (sched.enable_trigger, disable_trigger, drop_trigger).';
COMMENT ON COLUMN sched.triggers.kind IS 'workflow_end, table_change, webhook or dataset.';
COMMENT ON COLUMN sched.triggers.source IS 'What it listens to: the upstream workflow, the table, the webhook''s URL path, or the datasets.';
COMMENT ON COLUMN sched.triggers.workflow IS 'The workflow it starts.';
COMMENT ON COLUMN sched.triggers.owner IS 'The role the workflow starts as: who created it (a dataset trigger: the workflow''s owner).';
COMMENT ON COLUMN sched.triggers.enabled IS 'Whether its events start the workflow.';
COMMENT ON COLUMN sched.triggers.disabled_reason IS 'Why it is disabled: by whom, or the right its owner lost.';
COMMENT ON COLUMN sched.triggers.last_error IS 'Why its last start failed, if it did.';
COMMENT ON COLUMN sched.triggers.options IS 'Its options: end states, operations, debounce, max_wait, min_rows, mode, rate_limit, params mapping.';
COMMENT ON COLUMN sched.triggers.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.triggers.last_fired_at IS 'When it last started its workflow.';
COMMENT ON COLUMN sched.triggers.fire_count IS 'How many instances it started.';
COMMENT ON COLUMN sched.triggers.waiting_events IS 'Statements or dataset events waiting for it (debounce, min_rows, mode all).';

CREATE VIEW sched.dataset_events WITH (security_barrier) AS
SELECT de.id, de.dataset, w.name AS workflow, de.task_name AS task, de.workflow_instance_id, de.task_instance_id,
       de.business_time, de.out_params, de.created_at
FROM sched.dataset_event de
JOIN sched.workflow w ON w.id = de.workflow_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.dataset_events IS 'Updates of datasets by the workflows you may see: a success of a task that produces them.';
COMMENT ON COLUMN sched.dataset_events.id IS 'Event id.';
COMMENT ON COLUMN sched.dataset_events.dataset IS 'The dataset.';
COMMENT ON COLUMN sched.dataset_events.workflow IS 'The producer''s workflow.';
COMMENT ON COLUMN sched.dataset_events.task IS 'The producing task.';
COMMENT ON COLUMN sched.dataset_events.workflow_instance_id IS 'The producer''s instance.';
COMMENT ON COLUMN sched.dataset_events.task_instance_id IS 'The attempt that succeeded.';
COMMENT ON COLUMN sched.dataset_events.business_time IS 'The producer instance''s business time.';
COMMENT ON COLUMN sched.dataset_events.out_params IS 'The OUT params the attempt exported.';
COMMENT ON COLUMN sched.dataset_events.created_at IS 'When.';

-- A dataset is a name some visible workflow's current version produces or is scheduled on.
CREATE VIEW sched.datasets WITH (security_barrier) AS
WITH producer AS (
    SELECT d.name, w.name AS workflow, td.name AS task
    FROM sched.workflow w
    JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
    JOIN sched.task_definition td ON td.workflow_version_id = v.id AND td.produces IS NOT NULL
    CROSS JOIN LATERAL unnest(td.produces) AS d(name)
    WHERE sched._visible(w.owner)
), consumer AS (
    SELECT d.name, w.name AS workflow
    FROM sched.trigger t
    JOIN sched.workflow w ON w.id = t.workflow_id
    CROSS JOIN LATERAL unnest(t.datasets) AS d(name)
    WHERE t.kind = 'dataset' AND sched._visible(w.owner)
), named AS (
    SELECT p.name FROM producer p UNION SELECT c.name FROM consumer c
)
SELECT n.name,
       coalesce((SELECT jsonb_agg(jsonb_build_object('workflow', p.workflow, 'task', p.task) ORDER BY p.workflow, p.task)
                 FROM producer p WHERE p.name = n.name), '[]') AS producers,
       coalesce((SELECT jsonb_agg(c.workflow ORDER BY c.workflow) FROM consumer c WHERE c.name = n.name), '[]') AS consumers,
       (SELECT max(de.created_at) FROM sched.dataset_event de JOIN sched.workflow w ON w.id = de.workflow_id
        WHERE de.dataset = n.name AND sched._visible(w.owner)) AS last_event_at,
       (SELECT count(*) FROM sched.dataset_event de JOIN sched.workflow w ON w.id = de.workflow_id
        WHERE de.dataset = n.name AND sched._visible(w.owner)) AS events
FROM named n;
COMMENT ON VIEW sched.datasets IS 'Datasets the workflows you may see produce (a task''s produces) or are scheduled on (schedule_on): lineage across workflows.';
COMMENT ON COLUMN sched.datasets.name IS 'The dataset''s name.';
COMMENT ON COLUMN sched.datasets.producers IS 'The tasks that produce it: [{"workflow", "task"}], of current versions.';
COMMENT ON COLUMN sched.datasets.consumers IS 'The workflows scheduled on it.';
COMMENT ON COLUMN sched.datasets.last_event_at IS 'When a workflow you may see last updated it (events are kept for sched.history_retention).';
COMMENT ON COLUMN sched.datasets.events IS 'How many of its updates by workflows you may see are kept.';

-- 6_views/runs.sql: elements and their counts.
CREATE OR REPLACE VIEW sched._task_instance_rows AS
SELECT ti.id,
       ti.workflow_instance_id,
       w.name AS workflow,
       td.name AS task,
       td.task_type AS type,
       ti.state::text AS state,
       ti.state <> ALL (sched._task_states_active()) AS finished,
       ti.started_at IS NOT NULL AS started,
       ti.attempt,
       ti.run,
       ti.retry,
       wk.name AS worker,
       ti.worker_group,
       ti.exit_code,
       ti.kill_requested,
       ti.kill_reason,
       ti.not_before,
       -- Set by the claim; an attempt not yet claimed has seen nothing.
       CASE WHEN ti.started_at IS NOT NULL OR ti.resolved IS NOT NULL
            THEN i.param_values || coalesce(ti.resolved->'params', '{}') END AS params,
       ti.out_params,
       CASE WHEN td.logic = 'sub_process' THEN (
           SELECT c.id FROM sched.workflow_instance c
           WHERE c.parent_task_instance_id = ti.id AND c.parent_instance_id = ti.workflow_instance_id) END AS child_instance_id,
       CASE WHEN ti.branch IS NOT NULL THEN (
           SELECT coalesce(array_agg(b.name ORDER BY b.name), '{}') FROM sched.task_definition b WHERE b.id = ANY(ti.branch)) END AS branch,
       ti.queued_at,
       ti.started_at,
       ti.ended_at,
       ti.ended_at - ti.started_at AS duration,
       (SELECT lr.exit_code FROM sched.late_report lr WHERE lr.task_instance_id = ti.id) AS late_exit_code,
       w.owner,
       ti.element,
       CASE WHEN ti.element IS NOT NULL THEN (
           SELECT e."values" FROM sched.dynamic_element e
           WHERE e.workflow_instance_id = ti.workflow_instance_id AND e.task_id = ti.task_id
             AND e.run = ti.run AND e.element = ti.element) END AS element_values,
       -- A dynamic attempt's run: how many elements its lists made, and how many are in each
       -- state of their latest attempt.
       CASE WHEN td.logic = 'dynamic' THEN (
           SELECT count(*)::integer FROM sched.dynamic_element e JOIN sched.task_definition et ON et.id = e.task_id
           WHERE et.element_of = ti.task_id AND e.workflow_instance_id = ti.workflow_instance_id AND e.run = ti.run) END AS element_count,
       CASE WHEN td.logic = 'dynamic' THEN (
           SELECT coalesce(jsonb_object_agg(l.state, l.n), '{}') FROM (
               SELECT s.state, count(*) AS n FROM (
                   SELECT DISTINCT ON (a.element) a.state::text AS state
                   FROM sched._attempts a JOIN sched.task_definition et ON et.id = a.task_id
                   WHERE et.element_of = ti.task_id AND a.workflow_instance_id = ti.workflow_instance_id AND a.run = ti.run
                   ORDER BY a.element, a.id DESC) s
               GROUP BY s.state) l) END AS element_states,
       CASE WHEN ti.state = 'delayed' AND ti.not_before IS NULL
            THEN sched._waiting_for(ti.task_group_id, i.workflow_version_id) END AS waiting_for
FROM sched._attempts ti
JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN sched.task_definition td ON td.id = ti.task_id
LEFT JOIN sched.worker wk ON wk.id = ti.worker_id;
CREATE OR REPLACE VIEW sched.task_instances WITH (security_barrier) AS
SELECT r.* FROM sched._task_instance_rows r
WHERE sched._visible(r.owner);
COMMENT ON COLUMN sched.task_instances.element IS 'For an attempt of a DYNAMIC task''s element (its task is named after the dynamic task, with []): the element''s index from 0; NULL otherwise.';
COMMENT ON COLUMN sched._task_instance_rows.element IS 'For an attempt of a DYNAMIC task''s element (its task is named after the dynamic task, with []): the element''s index from 0; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.element_values IS 'For an attempt of a DYNAMIC task''s element: the values it runs with, {"name": "value"}; NULL otherwise.';
COMMENT ON COLUMN sched._task_instance_rows.element_values IS 'For an attempt of a DYNAMIC task''s element: the values it runs with, {"name": "value"}; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.element_count IS 'For a DYNAMIC attempt: how many elements its lists expanded into (NULL until they did, or for other tasks).';
COMMENT ON COLUMN sched._task_instance_rows.element_count IS 'For a DYNAMIC attempt: how many elements its lists expanded into (NULL until they did, or for other tasks).';
COMMENT ON COLUMN sched.task_instances.element_states IS 'For a DYNAMIC attempt: its elements by the state of their latest attempt, {"succeeded": n, "running": n, ...}; elements not started yet have none. NULL for other tasks.';
COMMENT ON COLUMN sched._task_instance_rows.element_states IS 'For a DYNAMIC attempt: its elements by the state of their latest attempt, {"succeeded": n, "running": n, ...}; elements not started yet have none. NULL for other tasks.';
COMMENT ON COLUMN sched.task_instances.waiting_for IS 'For an attempt delayed with no time: why it waits (its workflow''s or its task group''s admit_when, with the reason it does not hold, or a free slot of its task group); NULL otherwise.';
COMMENT ON COLUMN sched._task_instance_rows.waiting_for IS 'For an attempt delayed with no time: why it waits (its workflow''s or its task group''s admit_when, with the reason it does not hold, or a free slot of its task group); NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.kill_reason IS 'Why it was killed or asked to be: stop (its instance, or a parent, was stopped), failure_strategy_end, timeout (its own), workflow_timeout, failover, user (sched.kill_task), forced_success (a later attempt made moot by sched.force_success) or snapshot_max_age (its instance held its consistent snapshot longer than sched.snapshot_max_age); NULL otherwise.';
COMMENT ON COLUMN sched._task_instance_rows.kill_reason IS 'Why it was killed or asked to be: stop (its instance, or a parent, was stopped), failure_strategy_end, timeout (its own), workflow_timeout, failover, user (sched.kill_task), forced_success (a later attempt made moot by sched.force_success) or snapshot_max_age (its instance held its consistent snapshot longer than sched.snapshot_max_age); NULL otherwise.';

-- 7_api/triggers.sql
-- Triggers (1_schema/67_triggers.sql): start a workflow on another's end, on a table's change,
-- on a signed HTTP request; enable, disable, drop them. Whoever creates one must own the
-- workflow it starts (a member of its owner: the start passes parameters to its code) and be
-- allowed the source (see the upstream workflow; own the table or hold TRIGGER on it); the
-- workflow then starts as the creator, and those rights are checked again at every start
-- (3_engine/triggers.sql). A workflow's schedule_on is its dataset trigger, made by
-- create_workflow. Public functions are trampolines over `_<name>(principal, ...)`.

-- The options of a trigger: only those listed, each checked, naming the field.
CREATE FUNCTION sched._trigger_options(options jsonb, allowed text[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    opt text;
BEGIN
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR opt IN SELECT jsonb_object_keys(options) LOOP
        IF opt <> ALL(allowed) THEN
            RAISE EXCEPTION 'options.%: unknown option; allowed: %', opt, array_to_string(allowed, ', ')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    IF options ? 'params' AND (jsonb_typeof(options->'params') <> 'object'
                               OR EXISTS (SELECT 1 FROM jsonb_each(options->'params') p WHERE jsonb_typeof(p.value) <> 'string')) THEN
        RAISE EXCEPTION 'options.params: must map start parameters to the event''s values, e.g. {"dt": "biz_date"} (a JSON object of strings)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._trigger_options(jsonb, text[]) IS 'Internal: refuses options outside allowed and a params mapping that is not an object of strings.';

CREATE FUNCTION sched._trigger_interval(options jsonb, field text, dflt interval) RETURNS interval
LANGUAGE plpgsql
AS $$
DECLARE
    value interval;
BEGIN
    IF NOT options ? field THEN
        RETURN dflt;
    END IF;
    BEGIN
        value := (options->>field)::interval;
    EXCEPTION WHEN others THEN
        value := NULL;
    END;
    IF jsonb_typeof(options->field) <> 'string' OR value IS NULL OR value < interval '0' OR value > interval '30 days' THEN
        RAISE EXCEPTION 'options.%: "%" is not a duration from 0 s to 30 days, e.g. "30 s", "5 min"', field, options->>field
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN value;
END
$$;
COMMENT ON FUNCTION sched._trigger_interval(jsonb, text, interval) IS 'Internal: a duration option of a trigger, or dflt; raises naming the option.';

-- The workflow a trigger starts: it exists and the principal owns it (as a member of its owner).
CREATE FUNCTION sched._trigger_target(principal regrole, name text) RETURNS sched.workflow
LANGUAGE plpgsql
AS $$
DECLARE
    wf sched.workflow;
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _trigger_target.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow: "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner_strict(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name),
                                      'start it from a trigger');
    RETURN wf;
END
$$;
COMMENT ON FUNCTION sched._trigger_target(regrole, text) IS 'Internal: the workflow a new trigger starts, after checking the principal is a member of its owner.';

CREATE FUNCTION sched.on_workflow_end(upstream text, downstream text, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._on_workflow_end(principal regrole, upstream text, downstream text, options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    up     sched.workflow;
    down   sched.workflow;
    states sched.workflow_state[];
    bad    text;
    id     bigint;
BEGIN
    PERFORM sched._trigger_options(options, ARRAY['states', 'params']);
    SELECT * INTO up FROM sched.workflow w WHERE w.name = upstream;
    IF NOT FOUND OR NOT sched._may_see(principal, up.owner) THEN
        RAISE EXCEPTION 'upstream: workflow "%" does not exist or role % may not see it', upstream, principal
            USING ERRCODE = 'undefined_object';
    END IF;
    down := sched._trigger_target(principal, downstream);
    IF up.id = down.id THEN
        RAISE EXCEPTION 'downstream: workflow "%" cannot start itself when it ends', downstream
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A circle of triggers would start its workflows forever.
    IF EXISTS (WITH RECURSIVE reach(wf) AS (
                   SELECT down.id
                   UNION
                   SELECT t.workflow_id FROM sched.trigger t JOIN reach r ON t.upstream_workflow_id = r.wf
                   WHERE t.kind = 'workflow_end')
               SELECT 1 FROM reach WHERE reach.wf = up.id) THEN
        RAISE EXCEPTION 'downstream: workflow "%" already starts "%" through triggers; this one would close a circle', downstream, upstream
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'states' THEN
        IF jsonb_typeof(options->'states') <> 'array' OR jsonb_array_length(options->'states') = 0 THEN
            RAISE EXCEPTION 'options.states: must be a non-empty array of end states; allowed: %',
                array_to_string(sched._workflow_states_finished()::text[], ', ') USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT s INTO bad FROM jsonb_array_elements_text(options->'states') s
        WHERE s <> ALL (sched._workflow_states_finished()::text[]) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'options.states: "%" is not an end state; allowed: %', bad,
                array_to_string(sched._workflow_states_finished()::text[], ', ') USING ERRCODE = 'invalid_parameter_value';
        END IF;
        states := ARRAY(SELECT DISTINCT s::sched.workflow_state FROM jsonb_array_elements_text(options->'states') s);
    ELSE
        states := ARRAY['succeeded']::sched.workflow_state[];
    END IF;
    INSERT INTO sched.trigger (kind, owner, workflow_id, upstream_workflow_id, end_states, params)
    VALUES ('workflow_end', principal, down.id, up.id, states, options->'params')
    RETURNING trigger.id INTO id;
    PERFORM sched._anchor_role(principal);
    RETURN id;
END
$$;
COMMENT ON FUNCTION sched.on_workflow_end(text, text, jsonb) IS
    'Starts downstream whenever an instance of upstream ends in one of options.states (default ["succeeded"]), once per upstream instance, in the transaction that ends it: as you, with the upstream instance''s OUT params as start params (options.params maps them: {"param": "out_param"}) and its business time. You must own downstream and see upstream. Returns the trigger id (sched.triggers).';

CREATE FUNCTION sched.on_table_change(tbl regclass, workflow text, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._on_table_change(principal regrole, tbl regclass, workflow text, options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf   sched.workflow;
    rel  pg_class;
    nsp  text;
    ops  text[];
    bad  text;
    id   bigint;
    op   text;
    rows bigint;
BEGIN
    PERFORM sched._trigger_options(options, ARRAY['operations', 'debounce', 'max_wait', 'min_rows', 'params']);
    SELECT * INTO rel FROM pg_class c WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tbl: no table with oid %', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    SELECT n.nspname INTO nsp FROM pg_namespace n WHERE n.oid = rel.relnamespace;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'tbl: % is not a table; allowed: an ordinary or partitioned table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF nsp IN ('sched', 'pg_catalog', 'information_schema') OR nsp LIKE 'pg\_toast%' THEN
        RAISE EXCEPTION 'tbl: % belongs to schema %, which cannot be watched', tbl, nsp USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT (pg_has_role(principal, rel.relowner, 'USAGE') OR has_table_privilege(principal, tbl, 'TRIGGER')) THEN
        RAISE EXCEPTION 'permission denied for table %', tbl
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('Role %s neither owns it nor holds TRIGGER on it.', principal);
    END IF;
    wf := sched._trigger_target(principal, workflow);
    IF options ? 'operations' THEN
        IF jsonb_typeof(options->'operations') <> 'array' OR jsonb_array_length(options->'operations') = 0 THEN
            RAISE EXCEPTION 'options.operations: must be a non-empty array; allowed: %',
                array_to_string(sched._choices('table_operations'), ', ') USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT o INTO bad FROM jsonb_array_elements(options->'operations') e(v), LATERAL (SELECT lower(e.v #>> '{}') AS o) x
        WHERE jsonb_typeof(e.v) <> 'string' OR o <> ALL (sched._choices('table_operations')) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'options.operations: "%" is not a table operation; allowed: %', bad,
                array_to_string(sched._choices('table_operations'), ', ') USING ERRCODE = 'invalid_parameter_value';
        END IF;
        ops := ARRAY(SELECT DISTINCT lower(o) FROM jsonb_array_elements_text(options->'operations') o ORDER BY 1);
    ELSE
        ops := sched._choices('table_operations');
    END IF;
    IF options ? 'min_rows' THEN
        IF jsonb_typeof(options->'min_rows') <> 'number' OR (options->>'min_rows')::numeric <> trunc((options->>'min_rows')::numeric)
           OR (options->>'min_rows')::numeric NOT BETWEEN 1 AND 1000000000000 THEN
            RAISE EXCEPTION 'options.min_rows: must be a whole number from 1, got %', options->'min_rows'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        rows := (options->>'min_rows')::bigint;
    END IF;
    INSERT INTO sched.trigger (kind, owner, workflow_id, table_oid, table_name, operations, debounce, max_wait, min_rows, params)
    VALUES ('table_change', principal, wf.id, tbl, tbl::text, ops,
            sched._trigger_interval(options, 'debounce', interval '0'),
            sched._trigger_interval(options, 'max_wait', NULL), coalesce(rows, 1), options->'params')
    RETURNING trigger.id INTO id;
    -- One statement-level trigger per operation: a trigger with transition tables has one event.
    FOREACH op IN ARRAY ops LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION sched._table_changed(%L)',
            'sched_trigger_' || id || '_' || op, upper(op), tbl, CASE WHEN op = 'delete' THEN 'OLD' ELSE 'NEW' END, id);
    END LOOP;
    PERFORM sched._anchor_role(principal);
    RETURN id;
END
$$;
COMMENT ON FUNCTION sched.on_table_change(regclass, text, jsonb) IS
    'Starts workflow, as you, when committed statements change rows of tbl: options.operations (default ["insert", "update", "delete"]), debounce (start once the table was quiet that long; default "0 s", at once), max_wait (start at the latest that long after the first change waiting), min_rows (default 1), params (maps {"param": "changed_rows" | "changed_statements" | "commit_time"}; default all three). You must own tbl or hold TRIGGER on it, and own workflow. Returns the trigger id (sched.triggers).';

CREATE FUNCTION sched.create_webhook(workflow text, options jsonb DEFAULT '{}')
RETURNS TABLE (id bigint, path text, secret text)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_webhook(principal regrole, workflow text, options jsonb)
RETURNS TABLE (id bigint, path text, secret text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf    sched.workflow;
    limit_per_minute integer := 60;
    -- gen_random_uuid draws from the operating system's strong random source.
    hook  text := replace(gen_random_uuid()::text, '-', '');
    key   text := 'whsec_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
BEGIN
    PERFORM sched._trigger_options(options, ARRAY['params', 'rate_limit']);
    wf := sched._trigger_target(principal, workflow);
    IF options ? 'rate_limit' THEN
        IF jsonb_typeof(options->'rate_limit') <> 'number' OR (options->>'rate_limit')::numeric <> trunc((options->>'rate_limit')::numeric)
           OR (options->>'rate_limit')::numeric NOT BETWEEN 1 AND 100000 THEN
            RAISE EXCEPTION 'options.rate_limit: must be a whole number of starts per minute from 1 to 100000, got %', options->'rate_limit'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        limit_per_minute := (options->>'rate_limit')::integer;
    END IF;
    INSERT INTO sched.trigger AS t (kind, owner, workflow_id, hook, secret, rate_limit, params)
    VALUES ('webhook', principal, wf.id, hook, key, limit_per_minute, options->'params')
    RETURNING t.id INTO id;
    PERFORM sched._anchor_role(principal);
    path := '/hooks/' || hook;
    secret := key;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION sched.create_webhook(text, jsonb) IS
    'Creates a webhook that starts workflow as you: sched-console accepts POST <path> with a JSON object body, headers X-Sched-Timestamp (Unix seconds, within 5 minutes), X-Sched-Delivery (a unique id, refused when repeated) and X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of "<timestamp>.<delivery>.<body>" keyed with secret>. The body''s top-level fields are the start params, or options.params maps them ({"param": "field.path"}); options.rate_limit: starts per minute (default 60). The secret is shown only this once.';

-- The console's entry for a webhook request (its token connection's role, sched_api). The
-- answer is an HTTP status with a message, never an error, so that the console does not need
-- to know the cases; nothing is said about a hook before its signature is checked.
CREATE FUNCTION sched._receive_webhook(hook text, body bytea, sent_at text, delivery text, signature text,
                                      OUT status integer, OUT workflow_instance_id bigint, OUT message text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t     sched.trigger;
    doc   jsonb;
    vals  jsonb;
    ts    bigint;
BEGIN
    SELECT * INTO t FROM sched.trigger tr WHERE tr.hook = _receive_webhook.hook AND tr.kind = 'webhook' FOR NO KEY UPDATE;
    IF NOT FOUND OR coalesce(delivery, '') = '' OR coalesce(sent_at, '') = ''
       OR NOT sched._webhook_signature_ok(t.secret, sent_at, delivery, body, coalesce(signature, '')) THEN
        status := 401;
        message := 'unknown webhook, or the signature does not match (X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of "<X-Sched-Timestamp>.<X-Sched-Delivery>.<body>">)';
        RETURN;
    END IF;
    ts := CASE WHEN sent_at ~ '^[0-9]{1,12}$' THEN sent_at::bigint END;
    IF ts IS NULL OR abs(extract(epoch FROM now()) - ts) > 300 THEN
        status := 401;
        message := pg_catalog.format('X-Sched-Timestamp: %s is not within 300 seconds of the database''s clock (%s)', sent_at, trunc(extract(epoch FROM now())));
        RETURN;
    END IF;
    IF length(delivery) > 200 THEN
        status := 400;
        message := 'X-Sched-Delivery: at most 200 characters';
        RETURN;
    END IF;
    IF NOT t.enabled THEN
        status := 403;
        message := pg_catalog.format('the webhook is disabled: %s', coalesce(t.disabled_reason, 'by its owner'));
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM sched.trigger_fire f WHERE f.trigger_id = t.id AND f.fire_key = 'delivery:' || delivery) THEN
        status := 409;
        message := pg_catalog.format('delivery "%s" was received before; a replay starts nothing', delivery);
        RETURN;
    END IF;
    IF (SELECT count(*) FROM sched.trigger_fire f WHERE f.trigger_id = t.id AND f.fired_at > now() - interval '1 minute') >= t.rate_limit THEN
        status := 429;
        message := pg_catalog.format('more than %s starts in the last minute; try again later', t.rate_limit);
        RETURN;
    END IF;
    BEGIN
        doc := convert_from(body, 'UTF8')::jsonb;
    EXCEPTION WHEN others THEN
        doc := NULL;
    END;
    IF doc IS NULL OR jsonb_typeof(doc) <> 'object' THEN
        status := 400;
        message := 'the body must be a JSON object';
        RETURN;
    END IF;
    -- Without a mapping, the top-level values that are not objects or arrays.
    vals := CASE WHEN t.params IS NULL
                 THEN coalesce((SELECT jsonb_object_agg(e.key, e.value #>> '{}') FROM jsonb_each(doc) e
                                WHERE jsonb_typeof(e.value) NOT IN ('object', 'array', 'null')), '{}')
                 ELSE doc END;
    workflow_instance_id := sched._fire(t, vals, '{}', 'delivery:' || delivery);
    IF workflow_instance_id IS NULL THEN
        SELECT tr.last_error INTO message FROM sched.trigger tr WHERE tr.id = t.id;
        status := 422;
        message := pg_catalog.format('the workflow could not start: %s', message);
        RETURN;
    END IF;
    status := 202;
    message := 'started';
END
$$;
COMMENT ON FUNCTION sched._receive_webhook(text, bytea, text, text, text) IS
    'Internal, for sched-console (sched_api): checks a webhook request (signature, timestamp within 5 minutes, a delivery id not seen, the rate limit) and starts its workflow as the webhook''s creator; returns the HTTP status, the instance and a message.';

-- The trigger a principal may change: its owner's members, or sched_admin.
CREATE FUNCTION sched._trigger_for(principal regrole, trigger_id bigint) RETURNS sched.trigger
LANGUAGE plpgsql
AS $$
DECLARE
    t sched.trigger;
BEGIN
    SELECT * INTO t FROM sched.trigger tr WHERE tr.id = trigger_id FOR UPDATE;
    IF NOT FOUND OR NOT sched._may_see(principal, t.owner) THEN
        RAISE EXCEPTION 'id: trigger % does not exist or role % may not change it', trigger_id, principal
            USING ERRCODE = 'undefined_object', HINT = 'sched.triggers lists those you may see.';
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION sched._trigger_for(regrole, bigint) IS 'Internal: a trigger, locked, after checking the principal may change it (a member of its owner, or of sched_admin).';

CREATE FUNCTION sched.enable_trigger(id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._enable_trigger(principal regrole, id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t       sched.trigger := sched._trigger_for(principal, id);
    refusal text := sched._trigger_refusal(t);
BEGIN
    IF refusal IS NOT NULL THEN
        RAISE EXCEPTION 'trigger % cannot start its workflow: %', id, refusal USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE sched.trigger tr SET enabled = true, disabled_reason = NULL WHERE tr.id = t.id;
END
$$;
COMMENT ON FUNCTION sched.enable_trigger(bigint) IS 'Enables a trigger again, once its owner holds the rights it needs; events from then on start its workflow.';

CREATE FUNCTION sched.disable_trigger(id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._disable_trigger(principal regrole, id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t sched.trigger := sched._trigger_for(principal, id);
BEGIN
    UPDATE sched.trigger tr SET enabled = false, disabled_reason = pg_catalog.format('disabled by %s', principal) WHERE tr.id = t.id;
    DELETE FROM sched.trigger_event e WHERE e.trigger_id = t.id;
END
$$;
COMMENT ON FUNCTION sched.disable_trigger(bigint) IS 'Disables a trigger: the events waiting are dropped and new ones are not recorded until it is enabled.';

-- Drops a trigger and, for a table, its statement-level triggers (gone already with a dropped table).
CREATE FUNCTION sched._remove_trigger(t sched.trigger) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    op text;
BEGIN
    IF t.kind = 'table_change' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.table_oid) THEN
        FOREACH op IN ARRAY t.operations LOOP
            EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 'sched_trigger_' || t.id || '_' || op, t.table_oid::regclass);
        END LOOP;
    END IF;
    DELETE FROM sched.trigger tr WHERE tr.id = t.id;
END
$$;
COMMENT ON FUNCTION sched._remove_trigger(sched.trigger) IS 'Internal: deletes a trigger with its events and fires, and the statement-level triggers of a watched table.';

CREATE FUNCTION sched.drop_trigger(id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._drop_trigger(principal regrole, id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t sched.trigger := sched._trigger_for(principal, id);
BEGIN
    IF t.kind = 'dataset' THEN
        RAISE EXCEPTION 'id: trigger % is the schedule_on of its workflow; remove schedule_on from the spec (or disable the trigger)', id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sched._remove_trigger(t);
END
$$;
COMMENT ON FUNCTION sched.drop_trigger(bigint) IS 'Drops a trigger (not a dataset trigger, which is its workflow''s schedule_on), with its waiting events and its table''s statement-level triggers.';

-- 7_api/definitions.sql: produces and schedule_on stored; a watched table freed with its workflow.
CREATE OR REPLACE FUNCTION sched._create_workflow(principal regrole, spec jsonb, replace boolean) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    norm       jsonb;
    wf_name    text;
    wf         sched.workflow;
    new_version integer;
    version_id bigint;
    wf_env     jsonb;
    any_env    boolean;
    types      jsonb;
    cmd_types  jsonb;
    any_cmd    boolean;
    uses       jsonb;
    refs       boolean;
    gathers    boolean;
    alone      boolean;
    groups     text[];
    checks_sql boolean;
    depths     integer[];
    ranks      smallint[];
    next_ords  integer[];
    next_count integer[];
    feeds      boolean[];
BEGIN
    -- Validation is pure Rust (sched-core) so that the rules are unit tested; it raises with the
    -- offending field's path before anything is written.
    IF spec IS NULL THEN
        RAISE EXCEPTION 'spec: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    types := coalesce((SELECT jsonb_object_agg(tt.name, tt.definition) FROM sched.task_type tt), '{}');
    SELECT p.norm::jsonb, p.uses, p.depths, p.priorities, p.successors, p.successor_counts, p.feeds_conditions
      INTO norm, uses, depths, ranks, next_ords, next_count, feeds
      FROM sched._prepare_spec(spec::text, types) p;
    wf_name := norm->>'name';

    SELECT * INTO wf FROM sched.workflow w WHERE w.name = wf_name FOR UPDATE;
    IF FOUND AND norm ? 'project' AND sched._project_owner(principal, norm->>'project') <> wf.owner THEN
        RAISE EXCEPTION 'project: workflow "%" belongs to another project; REASSIGN OWNED moves a project''s workflows', wf_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF FOUND THEN
        IF NOT replace THEN
            RAISE EXCEPTION 'workflow "%" already exists', wf_name
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Call sched.create_workflow(spec, replace => true) to add a new version.';
        END IF;
        PERFORM sched._check_owner_strict(principal, wf.owner, pg_catalog.format('workflow "%s"', wf_name),
                                          'replace its definition');
        new_version := wf.current_version + 1;
        UPDATE sched.workflow SET current_version = new_version, updated_at = now() WHERE id = wf.id;
    ELSE
        new_version := 1;
        INSERT INTO sched.workflow (name, owner, current_version)
        VALUES (wf_name, coalesce(sched._project_owner(principal, norm->>'project'), principal), new_version)
        RETURNING * INTO wf;
        PERFORM sched._anchor_role(wf.owner);
    END IF;
    -- The owner's code runs as the tenant, on the worker group's hosts, with the datasources'
    -- credentials, into the alert groups and task groups it names: the owner needs each right.
    PERFORM sched._check_tenant(wf.owner, norm->>'tenant', 'tenant');
    PERFORM sched._check_uses(wf.owner, uses);

    INSERT INTO sched.workflow_version (workflow_id, version, description, failure_strategy,
                                        execution_type, priority, worker_group, tenant, has_out,
                                        timeout_after, timeout_strategy, spec, uses, created_by)
    VALUES (wf.id, new_version, norm->>'description',
            (norm->>'failure_strategy')::sched.failure_strategy, norm->>'execution_type',
            sched._priority_rank(norm->>'priority', 'priority'), norm->>'worker_group', norm->>'tenant',
            false,
            (norm#>>'{timeout,after}')::interval, norm#>>'{timeout,strategy}', norm, uses, sched._role_name(principal))
    RETURNING id INTO version_id;
    wf_env := coalesce(norm->'env', '{}');
    any_env := wf_env <> '{}' OR jsonb_path_exists(norm, '$.tasks[*].env');
    -- A task of a command type carries its type's definition as it is now: a later change
    -- of the type does not change what this version runs.
    cmd_types := sched._command_types(types);
    any_cmd := EXISTS (SELECT 1 FROM jsonb_array_elements(norm->'tasks') t WHERE cmd_types ? (t->>'type'));

    -- One statement for the whole DAG, so that a 10,000-task workflow is not 10,000 round
    -- trips: ids are drawn first so that each task can list its successors' ids, which
    -- sched-core found (by their positions in the spec). The workflow's environment is merged
    -- into each task's settings here, so that dispatch reads one row.
    -- Tasks that pass OUT params on: those that declare them, sub-processes (their child's) and
    -- DEPENDENT tasks passing parameters (their upstream instances').
    -- A DYNAMIC task's element task is a task of its own, outside the DAG: named after it, its
    -- inline task or a SUB_PROCESS of the workflow it names.
    WITH listed AS (
        SELECT t, ord, nextval('sched.task_definition_id_seq') AS id, NULL::bigint AS element_of, depths[ord] AS depth,
               ranks[ord] AS rank, feeds[ord] AS feeds_conditions
        FROM jsonb_array_elements(norm->'tasks') WITH ORDINALITY AS e(t, ord)
    ), task AS (
        SELECT l.t, l.ord, l.id, l.element_of, l.depth, l.rank, l.feeds_conditions,
               l.t ? 'out' OR l.t->>'type' IN ('sub_process', 'dynamic')
                   OR (l.t->>'type' = 'dependent' AND jsonb_path_exists(l.t, '$.groups[*].items[*] ? (@.parameter_passing == true)')) AS outputs,
               CASE WHEN l.t->>'enabled' = 'false' THEN 'forbidden'
                    WHEN l.t->>'type' IN ('sub_process', 'conditions', 'switch', 'dependent', 'dynamic') THEN l.t->>'type' END AS logic
        FROM (SELECT * FROM listed
              UNION ALL
              SELECT CASE WHEN jsonb_typeof(d.t->'run') = 'string'
                          THEN jsonb_build_object('type', 'sub_process', 'workflow', d.t->'run', 'priority', d.t->'priority')
                          ELSE d.t->'run' END
                     || jsonb_build_object('name', (d.t->>'name') || '[]', 'deps', '[]'::jsonb)
                     || CASE WHEN d.t ? 'env' AND NOT d.t->'run' ? 'env' THEN jsonb_build_object('env', d.t->'env') ELSE '{}' END,
                     NULL, nextval('sched.task_definition_id_seq'), d.id, d.depth, NULL, false
              FROM listed d WHERE d.t->>'type' = 'dynamic') l
    ), successor AS (
        SELECT s.ord, s.successor_ids AS ids
        FROM sched._successor_ids((SELECT array_agg(l.id ORDER BY l.ord) FROM listed l), next_ords, next_count) s
    ), source AS (
        -- Looked for only where some task passes OUT params on (the uncorrelated condition is
        -- checked once, before anything is joined).
        SELECT down.id AS down_id, array_agg(up.id ORDER BY up.id) AS ids
        FROM task down
        CROSS JOIN LATERAL jsonb_array_elements_text(down.t->'deps') AS d(dep)
        JOIN task up ON up.t->>'name' = d.dep
        WHERE up.outputs AND (SELECT bool_or(o.outputs) FROM task o) GROUP BY down.id
    ), created AS (
    INSERT INTO sched.task_definition (id, workflow_version_id, name, task_type, priority, worker_group,
                                       settings, params, inputs_from, parameterized, dep_count, successors,
                                       retries, retry_interval, delay, timeout_after, timeout_strategy,
                                       task_group_id, task_group_priority, logic, feeds_conditions, produces, element_of, admit,
                                       depth, deps)
    SELECT task.id, version_id, task.t->>'name', task.t->>'type',
           coalesce(task.rank, sched._priority_rank(task.t->>'priority', 'priority')), task.t->>'worker_group',
           CASE WHEN any_env
                THEN (task.t - ARRAY['name', 'type', 'deps', 'priority', 'worker_group', 'description', 'env', 'params',
                                     'retries', 'retry_interval', 'delay', 'enabled', 'produces'])
                     || jsonb_build_object('env', wf_env || coalesce(task.t->'env', '{}'))
                ELSE task.t - ARRAY['name', 'type', 'deps', 'priority', 'worker_group', 'description', 'params',
                                    'retries', 'retry_interval', 'delay', 'enabled', 'produces'] END
               || CASE WHEN any_cmd AND cmd_types ? (task.t->>'type')
                       THEN jsonb_build_object('command_type', cmd_types->(task.t->>'type')) ELSE '{}' END,
           task.t->'params', source.ids,
           (task.t - ARRAY['name', 'type', 'deps', 'priority', 'worker_group', 'description', 'env', 'params', 'out'])::text ~ '\$[[{]'
               OR task.t ? 'params' OR source.ids IS NOT NULL OR (any_cmd AND cmd_types ? (task.t->>'type'))
               OR task.t->>'type' IN ('sql', 'procedure'),
           -- An element task counts its dynamic task as its one upstream task, so that it is no
           -- root; no task lists it as a successor.
           CASE WHEN task.element_of IS NOT NULL THEN 1 ELSE jsonb_array_length(task.t->'deps') END,
           coalesce(successor.ids, '{}'),
           coalesce((task.t->>'retries')::integer, 0), (task.t->>'retry_interval')::interval,
           (task.t->>'delay')::interval, (task.t#>>'{timeout,after}')::interval, task.t#>>'{timeout,strategy}',
           CASE WHEN task.t ? 'task_group' THEN (SELECT g.id FROM sched.task_group g WHERE g.name = task.t->>'task_group') END,
           coalesce((task.t->>'task_group_priority')::integer, 0),
           task.logic, task.feeds_conditions,
           CASE WHEN task.t ? 'produces' THEN ARRAY(SELECT jsonb_array_elements_text(task.t->'produces')) END,
           task.element_of, norm ? 'admit_when',
           task.depth,
           CASE jsonb_array_length(task.t->'deps')
                WHEN 0 THEN '{}'
                WHEN 1 THEN ARRAY[task.t->'deps'->>0]
                -- Byte order: a join's 100,000 names sort in a fifth of the time of a locale's order.
                ELSE ARRAY(SELECT d FROM jsonb_array_elements_text(task.t->'deps') AS d ORDER BY d COLLATE "C") END
    FROM task LEFT JOIN successor ON successor.ord = task.ord
              LEFT JOIN source ON source.down_id = task.id)
    SELECT bool_or(t.logic IN ('sub_process', 'dependent')), bool_or(t.outputs),
           bool_or(t.logic <> 'forbidden') OR count(DISTINCT t.depth) = count(*),
           coalesce(array_agg(DISTINCT t.t->>'worker_group') FILTER (WHERE t.logic IS NULL), '{}'),
           bool_or(t.t->>'type' IN ('sql', 'procedure') AND NOT t.t ? 'datasource')
    INTO refs, gathers, alone, groups, checks_sql
    FROM task t;

    -- Known only now that the tasks are read: whether the instances gather OUT params, whether
    -- reports of their attempts lock them alone, which worker groups their tasks need, whether
    -- logic tasks name other workflows, which run and are read as the owner, and whether SQL
    -- runs on this database, checked as the owner.
    UPDATE sched.workflow_version SET has_out = coalesce(gathers, false), reports_alone = coalesce(alone, false),
                                      worker_groups = groups
    WHERE id = version_id;
    IF refs THEN
        PERFORM sched._check_logic_refs(wf.owner, wf_name, norm);
    END IF;
    IF checks_sql THEN
        PERFORM sched._check_sql(wf.owner, norm, version_id);
    END IF;
    IF norm ? 'admit_when' THEN
        PERFORM sched._check_admit_when(wf.owner, norm->>'admit_when', 'admit_when');
    END IF;
    IF norm ? 'schedule_on' OR EXISTS (SELECT 1 FROM sched.trigger t WHERE t.workflow_id = wf.id AND t.kind = 'dataset') THEN
        PERFORM sched._sync_dataset_trigger(wf, norm->'schedule_on');
    END IF;
    -- Its schedules watch the new deadline (or stop watching one it no longer has); the master
    -- records their fires from now on.
    IF norm ? 'deadline' OR EXISTS (SELECT 1 FROM sched.schedule sc WHERE sc.workflow_id = wf.id AND sc.deadline_next IS NOT NULL) THEN
        UPDATE sched.schedule sc
           SET deadline_through = CASE WHEN sc.deadline_next IS NULL THEN now() ELSE sc.deadline_through END,
               deadline_next = CASE WHEN coalesce(sc.deadline, norm->>'deadline') IS NOT NULL THEN coalesce(sc.deadline_next, now()) END
         WHERE sc.workflow_id = wf.id;
        PERFORM sched._wake_master();
    END IF;
    RETURN version_id;
END
$$;
CREATE OR REPLACE FUNCTION sched._remove_workflow(wf sched.workflow) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    unfinished bigint;
BEGIN
    SELECT count(*) INTO unfinished FROM sched.workflow_instance i
    WHERE i.workflow_id = wf.id AND i.state <> ALL (sched._workflow_states_finished());
    IF unfinished > 0 THEN
        RAISE EXCEPTION 'workflow "%" has % unfinished instance(s)', wf.name, unfinished
            USING ERRCODE = 'object_in_use',
                  HINT = 'Stop them with sched.stop_workflow(id) or wait for them to finish, then drop.';
    END IF;
    -- The bulk tables have no foreign keys (1_schema/10_definitions.sql): clear them first.
    DELETE FROM sched.task_log_line l USING sched.task_instance ti, sched.workflow_instance i
    WHERE l.task_instance_id = ti.id AND ti.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.join_progress j USING sched.workflow_instance i
    WHERE j.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.dynamic_element e USING sched.workflow_instance i
    WHERE e.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.task_log_line l USING sched.task_instance_history th, sched.workflow_instance i
    WHERE l.task_instance_id = th.id AND th.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.task_instance ti USING sched.workflow_instance i
    WHERE ti.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.task_instance_history th USING sched.workflow_instance i
    WHERE th.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.task_definition td USING sched.workflow_version v
    WHERE td.workflow_version_id = v.id AND v.workflow_id = wf.id;
    -- Triggers cascade; a watched table's statement-level triggers must go too.
    PERFORM sched._remove_trigger(t) FROM sched.trigger t WHERE t.workflow_id = wf.id AND t.kind = 'table_change';
    DELETE FROM sched.workflow WHERE id = wf.id;
END
$$;
COMMENT ON FUNCTION sched._remove_workflow(sched.workflow) IS
    'Internal: deletes a workflow and its history, refused while an instance is unfinished; the caller holds its row lock and has checked the principal.';

-- 7_api/definitions.sql: check_workflow checks SQL as create_workflow does.
CREATE OR REPLACE FUNCTION sched._check_workflow(principal regrole, spec jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    norm  jsonb;
    owner regrole;
BEGIN
    IF spec IS NULL THEN
        RAISE EXCEPTION 'spec: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    norm := sched._normalize_spec(spec::text,
                                  coalesce((SELECT jsonb_object_agg(tt.name, tt.definition) FROM sched.task_type tt), '{}'));
    owner := coalesce((SELECT w.owner FROM sched.workflow w WHERE w.name = norm->>'name'),
                      sched._project_owner(principal, norm->>'project'), principal);
    PERFORM sched._check_sql(owner, norm);
    IF norm ? 'admit_when' THEN
        PERFORM sched._check_admit_when(owner, norm->>'admit_when', 'admit_when');
    END IF;
    RETURN norm;
END
$$;
COMMENT ON FUNCTION sched.check_workflow(jsonb) IS
    'Validates a workflow spec as create_workflow would (its SQL checked against the catalog, warnings included) and returns it normalised, storing nothing; workflow_spec(name) = check_workflow(spec) means the spec changes nothing.';

-- 7_api/definitions.sql: the workflows a dynamic task runs per element are checked as sub-processes.
CREATE FUNCTION sched._subprocess_refs(tasks jsonb)
RETURNS TABLE (i integer, field text, workflow text)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT (t.n - 1)::integer, r.field, r.workflow
    FROM jsonb_array_elements(tasks) WITH ORDINALITY AS t(task, n)
    CROSS JOIN LATERAL (
        SELECT 'workflow' AS field, t.task->>'workflow' AS workflow WHERE t.task->>'type' = 'sub_process'
        UNION ALL
        SELECT 'run', t.task->>'run' WHERE t.task->>'type' = 'dynamic' AND jsonb_typeof(t.task->'run') = 'string'
        UNION ALL
        SELECT 'run.workflow', t.task#>>'{run,workflow}'
        WHERE t.task->>'type' = 'dynamic' AND t.task#>>'{run,type}' = 'sub_process') r
$$;
COMMENT ON FUNCTION sched._subprocess_refs(jsonb) IS
    'Internal: the workflows a spec''s tasks run as sub-processes (SUB_PROCESS tasks, DYNAMIC tasks'' elements), with the task''s index and the field naming each.';
CREATE OR REPLACE FUNCTION sched._check_logic_refs(owner regrole, wf_name text, norm jsonb) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
    w sched.workflow;
BEGIN
    FOR r IN
        SELECT x.i, x.field, x.name, x.task, x.runs FROM (
            SELECT sp.i, sp.field, sp.workflow AS name, NULL::text AS task, true AS runs
            FROM sched._subprocess_refs(norm->'tasks') sp
            UNION ALL
            SELECT (t.i - 1)::integer, format('groups[%s].items[%s].workflow', g.n - 1, it.k - 1), it.item->>'workflow',
                   it.item->>'task', false
            FROM jsonb_array_elements(norm->'tasks') WITH ORDINALITY AS t(task, i)
            CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN t.task->>'type' = 'dependent' THEN t.task->'groups' ELSE '[]' END)
                 WITH ORDINALITY AS g(grp, n)
            CROSS JOIN LATERAL jsonb_array_elements(g.grp->'items') WITH ORDINALITY AS it(item, k)) x
        ORDER BY x.i
    LOOP
        IF r.name = wf_name THEN
            IF r.runs THEN
                RAISE EXCEPTION 'tasks[%].%: workflow "%" cannot run itself as a sub-process', r.i, r.field, wf_name
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            CONTINUE;
        END IF;
        SELECT * INTO w FROM sched.workflow wf WHERE wf.name = r.name;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'tasks[%].%: no workflow "%"', r.i, r.field, r.name USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- A sub-process runs the other workflow's code as its owner, with parameters from this
        -- one: only its owner's members may (sched_admin does not suffice). A DEPENDENT task
        -- only looks at its instances.
        IF r.runs THEN
            PERFORM sched._check_owner_strict(owner, w.owner, format('workflow "%s" (tasks[%s].%s)', r.name, r.i, r.field),
                                              'run it as a sub-process');
        ELSE
            PERFORM sched._check_owner(owner, w.owner, format('workflow "%s" (tasks[%s].%s)', r.name, r.i, r.field));
        END IF;
        IF r.task IS NOT NULL AND r.task <> '*' AND NOT EXISTS (
            SELECT 1 FROM sched.task_definition td JOIN sched.workflow_version v ON v.id = td.workflow_version_id
            WHERE v.workflow_id = w.id AND v.version = w.current_version AND td.name = r.task) THEN
            RAISE EXCEPTION 'tasks[%].%: workflow "%" has no task "%"', r.i, replace(r.field, '.workflow', '.task'), r.name, r.task
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;

    -- The workflows named are locked (shared) first, so that two definitions racing to name
    -- each other serialize, and the second sees the first.
    PERFORM 1 FROM sched.workflow wf
    WHERE wf.name IN (SELECT sp.workflow FROM sched._subprocess_refs(norm->'tasks') sp)
    ORDER BY wf.id FOR SHARE;
    SELECT s.i, s.field, array_to_string(s.path, ' -> ') AS path INTO r FROM (
        WITH RECURSIVE sub(i, field, path, wf) AS (
            SELECT sp.i, sp.field, ARRAY[wf_name, sp.workflow], sp.workflow
            FROM sched._subprocess_refs(norm->'tasks') sp
          UNION ALL
            SELECT s.i, s.field, s.path || t.workflow, t.workflow
            FROM sub s
            JOIN sched.workflow up ON up.name = s.wf AND s.wf <> wf_name
            JOIN sched.workflow_version v ON v.workflow_id = up.id AND v.version = up.current_version
            CROSS JOIN LATERAL sched._subprocess_refs(v.spec->'tasks') AS t
            WHERE NOT t.workflow = ANY(s.path[2:])
        )
        SELECT sub.i, sub.field, sub.path FROM sub WHERE sub.wf = wf_name ORDER BY sub.i, cardinality(sub.path) LIMIT 1) s;
    IF FOUND THEN
        RAISE EXCEPTION 'tasks[%].%: workflow "%" would include itself as a sub-process: %', r.i, r.field, wf_name, r.path
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_logic_refs(regrole, text, jsonb) IS
    'Internal: refuses logic tasks naming workflows (or tasks) that do not exist or that the owner may not run, and sub-process cycles, naming the path.';

-- 3_engine/start.sql: a start's values, shared with test runs.
CREATE FUNCTION sched._start_values(wf sched.workflow, spec jsonb, params jsonb, instance_id bigint, business_time text)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT sched._instance_values(
        coalesce((SELECT pp.params FROM sched.project_param pp WHERE pp.role = wf.owner), '{}')
            || coalesce(spec->'params', '{}'),
        params,
        pg_catalog.jsonb_build_object('system.workflow.definition.name', wf.name,
                                      'system.workflow.definition.code', wf.id::text,
                                      'system.workflow.instance.id', instance_id::text,
                                      'system.project.name', sched._role_name(wf.owner)),
        business_time)
$$;
COMMENT ON FUNCTION sched._start_values(sched.workflow, jsonb, jsonb, bigint, text) IS
    'Internal: the parameter values of a start (built-ins, project parameters, the workflow''s globals, start params), resolved at the business time; a test run''s instance id is 0.';
CREATE OR REPLACE FUNCTION sched._start(principal regrole, name text, params jsonb, options jsonb,
                             command_type text, schedule_id bigint, parent_task bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    wf       sched.workflow;
    v        sched.workflow_version;
    opt      text;
    prio     smallint;
    strategy sched.failure_strategy;
    grp      text;
    tenant   text;
    sched_at timestamptz;
    biz_at   timestamptz;
    vals     jsonb;
    inst_id  bigint;
    roots    bigint[];
    scope    bigint[];
    initial  sched.workflow_state := 'running';
    who      text := sched._role_name(principal);
    parent   sched.workflow_instance;
    zone     text;
    notify   jsonb;
    unserved text;
    options_allowed text[] := ARRAY['priority', 'worker_group', 'failure_strategy', 'tenant', 'schedule_time', 'timezone',
                                    'start_tasks', 'task_scope', 'notify'];
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _start.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow "%" does not exist', _start.name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name));

    IF params IS NULL OR jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'params: must be a JSON object, e.g. {"dt": "20260101"}' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF params <> '{}' THEN
        PERFORM sched._check_owner_strict(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name),
                                          'start it with parameters');
    END IF;
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR opt IN SELECT jsonb_object_keys(options) LOOP
        IF opt <> ALL(options_allowed) THEN
            RAISE EXCEPTION 'options.%: unknown option; allowed: %', opt, array_to_string(options_allowed, ', ')
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF opt = 'notify' THEN
            NULL;
        ELSIF opt = 'start_tasks' THEN
            IF jsonb_typeof(options->opt) <> 'array' OR jsonb_array_length(options->opt) = 0
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(options->opt) e WHERE jsonb_typeof(e) <> 'string') THEN
                RAISE EXCEPTION 'options.start_tasks: must be a non-empty array of task names' USING ERRCODE = 'invalid_parameter_value';
            END IF;
        ELSIF jsonb_typeof(options->opt) <> 'string' THEN
            RAISE EXCEPTION 'options.%: must be a string', opt USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;

    SELECT * INTO v FROM sched.workflow_version wv
    WHERE wv.workflow_id = wf.id AND wv.version = wf.current_version;

    -- start_tasks and task_scope (DolphinScheduler's start node list with TASK_ONLY, TASK_POST,
    -- TASK_PRE): the run is limited to those tasks, their downstream or their upstream.
    IF options ? 'task_scope' AND NOT options ? 'start_tasks' THEN
        RAISE EXCEPTION 'options.task_scope: needs options.start_tasks' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'start_tasks' THEN
        IF lower(coalesce(options->>'task_scope', 'downstream')) NOT IN ('only', 'downstream', 'upstream') THEN
            RAISE EXCEPTION 'options.task_scope: "%" is not allowed; allowed: only, downstream, upstream', options->>'task_scope'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT e.name INTO opt FROM jsonb_array_elements_text(options->'start_tasks') e(name)
        WHERE NOT EXISTS (SELECT 1 FROM sched.task_definition td WHERE td.workflow_version_id = v.id AND td.name = e.name)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'options.start_tasks: workflow "%" has no task "%"', wf.name, opt USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT array_agg(td.id) INTO roots FROM sched.task_definition td
        WHERE td.workflow_version_id = v.id AND td.name IN (SELECT jsonb_array_elements_text(options->'start_tasks'));
        scope := CASE lower(coalesce(options->>'task_scope', 'downstream'))
                     WHEN 'only' THEN roots
                     WHEN 'downstream' THEN sched._reach(roots, true)
                     ELSE sched._reach(roots, false) END;
    END IF;

    prio := coalesce(sched._priority_rank(options->>'priority', 'options.priority'), v.priority);
    IF options ? 'failure_strategy' THEN
        IF lower(options->>'failure_strategy') NOT IN ('continue', 'end') THEN
            RAISE EXCEPTION 'options.failure_strategy: "%" is not a valid failure strategy; allowed: continue, end',
                options->>'failure_strategy' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        strategy := lower(options->>'failure_strategy')::sched.failure_strategy;
    ELSE
        strategy := v.failure_strategy;
    END IF;
    grp := coalesce(options->>'worker_group', v.worker_group);
    PERFORM sched._check_name(grp, 'options.worker_group', 'name');
    -- A worker group given at start must be one the starter may use; the owner's rights are
    -- checked below for everything the instance runs with.
    IF options ? 'worker_group' THEN
        PERFORM sched._check_use(principal, 'worker_group', grp, 'options.worker_group');
    END IF;
    -- A tenant given at start must be one the starter may use; either way the owner, whose
    -- code runs as it, must be allowed it (grants may have been revoked since the definition).
    IF options ? 'tenant' THEN
        tenant := options->>'tenant';
        PERFORM sched._check_tenant(principal, tenant, 'options.tenant');
        PERFORM sched._check_tenant(wf.owner, tenant, 'options.tenant');
    ELSE
        tenant := v.tenant;
        PERFORM sched._check_tenant(wf.owner, tenant, 'tenant');
    END IF;

    -- Business values are computed in this zone (DolphinScheduler's schedule time zone): a
    -- schedule's fire and a backfill pass theirs; a manual start may name one, else the
    -- workflow's, else UTC, never the session's.
    IF options ? 'timezone' THEN
        zone := sched._check_time_zone(options->>'timezone', 'options.timezone');
    ELSE
        zone := coalesce(v.spec->>'timezone', 'UTC');
    END IF;
    IF options ? 'schedule_time' THEN
        sched_at := sched._zoned_timestamp(options->>'schedule_time', zone, 'options.schedule_time');
    END IF;
    -- A manual run's business time is its start, fixed for the whole run.
    biz_at := coalesce(sched_at, now());
    IF parent_task IS NOT NULL THEN
        SELECT wi.* INTO parent FROM sched.workflow_instance wi
        JOIN sched.task_instance ti ON ti.workflow_instance_id = wi.id WHERE ti.id = parent_task;
        prio := parent.priority;
        strategy := parent.failure_strategy;
        grp := parent.worker_group;
        sched_at := parent.schedule_time;
        biz_at := parent.business_time;
        zone := parent.time_zone;
    END IF;
    -- Who hears of the end: the workflow's notify, changed by the start's (or the schedule's).
    -- A sub-process's instance alerts nothing of its own, as in DolphinScheduler.
    IF parent_task IS NULL AND (options ? 'notify' OR v.spec ? 'notify') THEN
        notify := sched._notify_with(v.spec->'notify', options->'notify', 'options.notify');
        IF options->'notify' ? 'alert_group' THEN
            PERFORM sched._check_use(principal, 'alert_group', notify->>'alert_group', 'options.notify.alert_group');
            PERFORM sched._check_use(wf.owner, 'alert_group', notify->>'alert_group', 'options.notify.alert_group');
        END IF;
    END IF;
    -- Everything the instance runs with, for the owner whose code runs with it (grants may have
    -- been revoked since the definition); nothing to look up for a workflow that names nothing.
    IF v.uses <> '[]' THEN
        PERFORM sched._check_uses(wf.owner, jsonb_path_query_array(v.uses, '$[*] ? (@.field != "worker_group")'));
    END IF;
    IF grp <> 'default' THEN
        PERFORM sched._check_use(wf.owner, 'worker_group', grp,
                                 CASE WHEN options ? 'worker_group' THEN 'options.worker_group' ELSE 'worker_group' END);
    END IF;
    IF parent_task IS NOT NULL THEN
        PERFORM sched._count_descendant(parent);
    ELSIF current_setting('sched.max_unfinished_instances_per_role')::integer > 0 THEN
        PERFORM sched._check_unfinished_cap(who);
    END IF;
    -- The id is drawn first: it is one of the values (system.workflow.instance.id).
    inst_id := nextval('sched.workflow_instance_id_seq');
    vals := sched._start_values(wf, v.spec, params, inst_id, to_char(biz_at AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI:SS'));

    -- Parallel workflows under no running limit start at once, without a lock.
    IF parent_task IS NULL AND (v.execution_type <> 'parallel' OR current_setting('sched.max_running_instances')::integer > 0) THEN
        initial := sched._admit(wf.id, v.execution_type, who);
    END IF;
    INSERT INTO sched.workflow_instance (id, workflow_id, workflow_version_id, state, failure_strategy, priority,
                                         worker_group, params, schedule_time, business_time, time_zone,
                                         param_values, tenant, started_by, started_at, ended_at,
                                         timeout_at, timeout_strategy, scope, schedule_id,
                                         parent_instance_id, parent_task_instance_id, ancestors,
                                         notify_strategy, alert_group)
    OVERRIDING SYSTEM VALUE
    VALUES (inst_id, wf.id, v.id, initial, strategy, prio, grp, params, sched_at, biz_at, zone,
            vals, tenant, who, CASE WHEN initial = 'running' THEN now() END,
            CASE WHEN initial = 'stopped' THEN now() END,
            now() + v.timeout_after, v.timeout_strategy, scope, _start.schedule_id,
            parent.id, parent_task, CASE WHEN parent.id IS NOT NULL THEN coalesce(parent.ancestors, '{}') || parent.id END,
            coalesce(notify->>'strategy', 'none'), notify->>'alert_group');
    IF v.timeout_after IS NOT NULL THEN
        PERFORM sched._wake_master();
    END IF;

    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES (_start.command_type, wf.id, inst_id, who,
            jsonb_build_object('params', params, 'options', options)
            || CASE WHEN parent_task IS NOT NULL THEN jsonb_build_object('parent_task_instance_id', parent_task) ELSE '{}' END);
    IF initial = 'stopped' THEN
        -- serial_discard: an earlier instance is active, this one never runs.
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        VALUES ('stop', wf.id, inst_id, who, '{"reason": "serial_discard"}');
    END IF;
    -- A group no live worker serves (a typo, its workers down) would leave tasks queued with no
    -- word: say so now. Logic tasks are decided in the database and need no worker; every
    -- other task is claimed by one (sql tasks too, which then run here).
    IF parent_task IS NULL THEN
        SELECT pg_catalog.string_agg(pg_catalog.format('"%s"', x.g), ', ' ORDER BY x.g) INTO unserved
        FROM (SELECT DISTINCT coalesce(g, grp) AS g FROM unnest(v.worker_groups) AS g) x
        WHERE NOT EXISTS (SELECT 1 FROM sched.worker wk WHERE wk.alive AND x.g = ANY(wk.groups));
        IF unserved IS NOT NULL THEN
            RAISE NOTICE 'no live worker serves worker group %; instance %''s tasks there wait in queued until one does', unserved, inst_id
                USING HINT = 'Start a worker with --group, or see sched.unserved_tasks.';
        END IF;
    END IF;
    IF initial <> 'running' THEN
        RETURN inst_id;
    END IF;

    PERFORM sched._queue_roots(inst_id);
    RETURN inst_id;
END
$$;
COMMENT ON FUNCTION sched._start(regrole, text, jsonb, jsonb, text, bigint, bigint) IS
    'Internal: starts a workflow for a principal, recording the command type (start_process, scheduler, complement_data), the schedule of a fire and, for a sub-process, the SUB_PROCESS attempt it runs for.';

-- 4_master/deadlines.sql
-- Deadlines (docs/architecture.md, "Deadlines"): for a schedule whose fires have a deadline
-- (its own or its workflow's), the master records each nominal fire when its time comes,
-- whether or not an instance started (the schedule may be offline, the instance waiting behind
-- a serial predecessor), and decides it when its deadline comes: met when the fire's instance
-- had succeeded by then, else missed, with one alert deadline_missed. Only schedules with a
-- deadline are read (schedule_deadline_due), so others cost the master nothing.

-- Runs as the bootstrap superuser in the master: search_path pinned as for _master_tick.
CREATE FUNCTION sched._deadline_tick() RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      record;
    c      record;
    inst   record;
    t      timestamptz;
    fire   timestamptz;
    n      integer;
    why    text;
BEGIN
    FOR s IN
        SELECT sc.*, w.name AS workflow, w.owner AS workflow_owner, sched._schedule_deadline(sc) AS effective,
               coalesce(sc.run_options#>>'{notify,alert_group}', v.spec#>>'{notify,alert_group}') AS alert_group
        FROM sched.schedule sc
        JOIN sched.workflow w ON w.id = sc.workflow_id
        JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
        WHERE sc.deadline_next <= now()
        ORDER BY sc.deadline_next
        FOR UPDATE OF sc SKIP LOCKED
    LOOP
        IF s.effective IS NULL THEN
            UPDATE sched.schedule sc SET deadline_next = NULL WHERE sc.id = s.id;
            CONTINUE;
        END IF;
        -- The fires whose time has come, at most 1000 a tick (the rest at the next).
        t := coalesce(s.deadline_through, now());
        n := 0;
        LOOP
            fire := sched._next_fire(s.cron, s.timezone, greatest(t, s.start_at - interval '1 second'), s.end_at);
            EXIT WHEN fire IS NULL OR fire > now() OR n >= 1000;
            INSERT INTO sched.deadline_check (schedule_id, fire_at, deadline_at)
            VALUES (s.id, fire, to_timestamp(sched._deadline_at(s.effective, extract(epoch FROM fire)::float8, s.timezone, 'deadline')))
            ON CONFLICT DO NOTHING;
            t := fire;
            n := n + 1;
        END LOOP;
        FOR c IN
            SELECT dc.fire_at, dc.deadline_at FROM sched.deadline_check dc
            WHERE dc.schedule_id = s.id AND dc.state = 'pending' AND dc.deadline_at <= now()
            ORDER BY dc.fire_at
        LOOP
            SELECT wi.id, wi.state, wi.ended_at INTO inst
            FROM sched.workflow_instance wi WHERE wi.schedule_id = s.id AND wi.schedule_time = c.fire_at;
            IF inst.state = 'succeeded' AND inst.ended_at <= c.deadline_at THEN
                UPDATE sched.deadline_check dc SET state = 'met', decided_at = now()
                WHERE dc.schedule_id = s.id AND dc.fire_at = c.fire_at;
                CONTINUE;
            END IF;
            UPDATE sched.deadline_check dc SET state = 'missed', decided_at = now()
            WHERE dc.schedule_id = s.id AND dc.fire_at = c.fire_at;
            why := CASE WHEN inst.id IS NULL
                        THEN 'no instance of it started' || CASE WHEN NOT s.enabled THEN ' (the schedule is offline)' ELSE '' END
                        WHEN inst.state = 'succeeded' THEN format('instance %s succeeded only at %s', inst.id, inst.ended_at)
                        ELSE format('instance %s is %s', inst.id, inst.state) END;
            -- The group is used now: the roles it was granted to at definition must still have it,
            -- else the alert is only recorded.
            PERFORM sched._raise_alert(
                'deadline_missed', inst.id, NULL,
                CASE WHEN sched._may_use(s.owner, 'alert_group', s.alert_group)
                      AND sched._may_use(s.workflow_owner, 'alert_group', s.alert_group) THEN s.alert_group END,
                format('pg_sched: workflow %s missed its deadline (fire of %s)', s.workflow, c.fire_at),
                format(E'Workflow %s, fired by schedule %s at %s (business date %s), had not succeeded by its deadline %s (%s): %s.%s',
                       s.workflow, s.id, c.fire_at, (c.fire_at AT TIME ZONE s.timezone)::date, c.deadline_at, s.effective, why,
                       CASE WHEN inst.id IS NOT NULL THEN E'\n' || sched._alert_look(inst.id) ELSE '' END),
                jsonb_build_object('workflow', s.workflow, 'workflow_id', s.workflow_id, 'schedule_id', s.id,
                                   'fire_at', c.fire_at, 'deadline_at', c.deadline_at, 'deadline', s.effective,
                                   'workflow_instance_id', inst.id, 'state', inst.state));
        END LOOP;
        -- fire is now the first one not recorded: its time, the next pending deadline, or now
        -- when a thousand were recorded and more are due.
        UPDATE sched.schedule sc
           SET deadline_through = t,
               deadline_next = least((SELECT min(dc.deadline_at) FROM sched.deadline_check dc
                                      WHERE dc.schedule_id = s.id AND dc.state = 'pending'), fire)
         WHERE sc.id = s.id;
    END LOOP;
    RETURN (SELECT min(sc.deadline_next) FROM sched.schedule sc WHERE sc.deadline_next IS NOT NULL);
END
$$;
COMMENT ON FUNCTION sched._deadline_tick() IS
    'Internal, run by the master: records the fires of schedules with a deadline whose time has come, decides those whose deadline has come (met, or missed with an alert deadline_missed); returns when it next has something to do.';

-- 4_master/tick.sql: the policy tick looks at deadlines too.
CREATE OR REPLACE FUNCTION sched._policy_tick() RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    groups  text[];
    inst    record;
    next_at     timestamptz;
    killed      bigint;
    task_groups bigint[];
    held        bigint[];
BEGIN
    PERFORM sched._fire_schedules();

    -- Delayed attempts whose time has come: queued, or for a task of a task group, waiting
    -- for a slot, or for a workflow with admit_when, waiting for it to hold.
    WITH released AS (
        UPDATE sched.task_instance ti
           SET state = CASE WHEN ti.task_group_id IS NULL AND NOT td.admit THEN 'queued' ELSE 'delayed' END::sched.task_state,
               not_before = NULL
          FROM sched.task_definition td
        WHERE ti.id = ANY(ARRAY(
                  SELECT d.id FROM sched.task_instance d
                  WHERE d.state = 'delayed' AND d.not_before <= now()
                  ORDER BY d.not_before LIMIT 10000
                  FOR UPDATE SKIP LOCKED))
          AND ti.state = 'delayed' AND td.id = ti.task_id
        RETURNING ti.id, ti.worker_group, ti.task_group_id, td.admit)
    SELECT array_agg(DISTINCT worker_group) FILTER (WHERE task_group_id IS NULL AND NOT admit),
           array_agg(DISTINCT task_group_id) FILTER (WHERE task_group_id IS NOT NULL),
           array_agg(id) FILTER (WHERE admit)
    INTO groups, task_groups, held FROM released;
    PERFORM sched._notify_ready(groups);
    IF task_groups IS NOT NULL THEN
        PERFORM sched._grant_slots(task_groups);
    END IF;
    IF held IS NOT NULL THEN
        PERFORM sched._admit_held(held);
    END IF;

    -- Task timeouts: warn alerts once; fail is the worker's to enforce (it kills the process
    -- group at the timeout and reports it timed_out), and the master asks for the kill 15 s later if
    -- the attempt still runs.
    PERFORM sched._alert_task_timeouts(array(
        SELECT ti.id FROM sched.task_instance ti
        WHERE ti.check_at <= now() AND ti.check_at IS NOT NULL AND ti.state = ANY (sched._task_states_claimed())));
    WITH due AS (
        SELECT ti.id, ti.workflow_instance_id, ti.worker_id, ti.timeout_at, ti.kill_requested,
               td.name, td.timeout_after, td.timeout_strategy
        FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
        WHERE ti.check_at <= now() AND ti.check_at IS NOT NULL AND ti.state = ANY (sched._task_states_claimed())
        FOR NO KEY UPDATE OF ti SKIP LOCKED
    ), checked AS (
        UPDATE sched.task_instance ti
           SET check_at = CASE WHEN d.timeout_strategy = 'warn_fail' AND ti.check_at < d.timeout_at + interval '15 s'
                               THEN d.timeout_at + interval '15 s' END,
               kill_requested = ti.kill_requested OR (d.timeout_strategy IN ('fail', 'warn_fail')
                                                      AND now() >= d.timeout_at + interval '15 s'),
               kill_reason = CASE WHEN d.timeout_strategy IN ('fail', 'warn_fail') AND now() >= d.timeout_at + interval '15 s'
                                       AND NOT ti.kill_requested THEN 'timeout' ELSE ti.kill_reason END
          FROM due d
         WHERE ti.id = d.id
        RETURNING ti.worker_id, ti.kill_requested AND NOT d.kill_requested AS newly_killed)
    SELECT count(pg_notify('sched_kill', w::text)) INTO killed
    FROM (SELECT DISTINCT worker_id AS w FROM checked WHERE newly_killed) s;

    -- Workflow timeouts: an alert, and under stop the instance is stopped.
    FOR inst IN
        SELECT wi.id, wi.workflow_id, wi.timeout_strategy, wi.state, v.timeout_after, wi.alert_group, wi.started_at,
               (SELECT w.name FROM sched.workflow w WHERE w.id = wi.workflow_id) AS workflow
        FROM sched.workflow_instance wi JOIN sched.workflow_version v ON v.id = wi.workflow_version_id
        WHERE wi.timeout_at <= now() AND wi.timeout_at IS NOT NULL
        ORDER BY wi.id
    LOOP
        -- A sub-process instance is stopped only with its parents locked too; never waited for
        -- long. Under the lock, the instance may have ended meanwhile.
        CONTINUE WHEN inst.id <> ALL(sched._lock_family(ARRAY[inst.id], false));
        SELECT wi.state INTO inst.state FROM sched.workflow_instance wi WHERE wi.id = inst.id AND wi.timeout_at <= now();
        CONTINUE WHEN NOT FOUND;
        UPDATE sched.workflow_instance SET timeout_at = NULL WHERE id = inst.id;
        PERFORM sched._raise_alert(
            'workflow_timeout', inst.id, NULL, inst.alert_group,
            format('pg_sched: workflow %s timed out (instance %s)', inst.workflow, inst.id),
            format(E'Workflow %s, instance %s (started at %s), has run longer than its timeout of %s%s.\n%s',
                   inst.workflow, inst.id, inst.started_at, inst.timeout_after,
                   CASE WHEN inst.timeout_strategy = 'stop' THEN '; it is being stopped' ELSE '' END,
                   sched._alert_look(inst.id)),
            jsonb_build_object('workflow', inst.workflow, 'workflow_instance_id', inst.id,
                               'timeout', inst.timeout_after::text, 'timeout_strategy', inst.timeout_strategy));
        IF inst.timeout_strategy = 'stop' AND inst.state <> ALL (sched._workflow_states_ending()) THEN
            INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
            VALUES ('stop', inst.workflow_id, inst.id, 'pg_sched master', '{"reason": "timeout"}');
            UPDATE sched.workflow_instance SET state = 'ready_stop' WHERE id = inst.id;
            PERFORM sched._kill_active(ARRAY[inst.id], 'workflow_timeout');
            PERFORM sched._finish_if_done(ARRAY[inst.id]);
        END IF;
    END LOOP;

    SELECT least(sched._dependent_tick(), sched._deadline_tick(), sched._admit_tick(), sched._snapshot_tick(),
                 (SELECT min(d.not_before) FROM sched.task_instance d WHERE d.state = 'delayed'),
                 (SELECT min(t.check_at) FROM sched.task_instance t
                  WHERE t.check_at IS NOT NULL AND t.state = ANY (sched._task_states_claimed())),
                 (SELECT min(wi.timeout_at) FROM sched.workflow_instance wi WHERE wi.timeout_at IS NOT NULL),
                 (SELECT min(sc.next_fire_at) FROM sched.schedule sc WHERE sc.enabled AND sc.next_fire_at IS NOT NULL))
    INTO next_at;
    RETURN next_at;
END
$$;
COMMENT ON FUNCTION sched._policy_tick() IS
    'Internal, run by the master: fires due schedules, queues delayed attempts whose time has come, raises timeout alerts, asks for the kill of attempts past a fail timeout that their worker did not kill, stops instances past a stop timeout, looks at due DEPENDENT attempts, due deadlines, attempts waiting for an admit_when and consistent snapshots to release; returns when it next has something to do.';

-- 6_views/alerts.sql: a missed deadline without an instance is its workflow's.
CREATE OR REPLACE VIEW sched.alerts WITH (security_barrier) AS
SELECT a.id, a.event, a.workflow_instance_id, w.name AS workflow, a.task_instance_id, a.alert_group,
       d.channel_no, d.channel->>'type' AS channel,
       CASE WHEN NOT coalesce(sched._visible(g.owner), false) THEN NULL
            -- -> and || bind alike, left to right: unparenthesised this read ((to || channel) -> 'cc').
            WHEN d.channel->>'type' = 'email' THEN array_to_string(ARRAY(SELECT jsonb_array_elements_text((d.channel->'to') || coalesce(d.channel->'cc', '[]'))), ', ')
            WHEN d.channel->>'type' = 'webhook' THEN coalesce(d.channel->>'url', 'endpoint ' || (d.channel->>'endpoint'))
            ELSE d.channel->>'command' END AS target,
       d.state, d.attempts, d.last_error, a.title, a.message, a.details,
       a.created_at, CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at, d.sent_at
FROM sched.alert a
LEFT JOIN sched.workflow_instance i ON i.id = a.workflow_instance_id
-- A missed deadline of a run that never started names its workflow in its details.
LEFT JOIN sched.workflow w ON w.id = coalesce(i.workflow_id, (a.details->>'workflow_id')::bigint)
LEFT JOIN sched.alert_delivery d ON d.alert_id = a.id
-- Addresses, URLs and commands are for the group's owner and sched_admin to see.
LEFT JOIN sched.alert_group g ON g.name = a.alert_group
-- A test of a group (no workflow) is for those who may see the group's channels.
WHERE CASE WHEN w.id IS NULL THEN coalesce(sched._visible(g.owner), false)
           ELSE coalesce(sched._visible(w.owner), false) END;
COMMENT ON COLUMN sched.alerts.workflow_instance_id IS 'Workflow instance id; NULL for a test and for a missed deadline of a run that never started.';

-- 6_views/schedules.sql: the deadline in force, and each fire's.
CREATE OR REPLACE VIEW sched.schedules WITH (security_barrier) AS
SELECT s.id, w.name AS workflow, s.cron, s.timezone, s.enabled, s.owner::text AS owner,
       s.start_at, s.end_at, s.misfire, s.run_options, s.params,
       s.next_fire_at, s.last_fire_at, s.last_instance_id, s.created_at,
       coalesce(s.deadline, (SELECT v.spec->>'deadline' FROM sched.workflow_version v
                             WHERE v.workflow_id = w.id AND v.version = w.current_version)) AS deadline
FROM sched.schedule s
JOIN sched.workflow w ON w.id = s.workflow_id
WHERE sched._visible(w.owner);
COMMENT ON COLUMN sched.schedules.deadline IS 'When each fire''s run must have succeeded by: the schedule''s own deadline, else its workflow''s; NULL for none (sched.deadlines shows each fire''s).';
CREATE VIEW sched.deadlines WITH (security_barrier) AS
SELECT d.schedule_id, w.name AS workflow, d.fire_at, (d.fire_at AT TIME ZONE s.timezone)::date AS business_date,
       d.deadline_at, d.state, i.id AS instance_id, i.state AS instance_state,
       i.ended_at AS instance_ended_at, d.decided_at
FROM sched.deadline_check d
JOIN sched.schedule s ON s.id = d.schedule_id
JOIN sched.workflow w ON w.id = s.workflow_id
LEFT JOIN sched.workflow_instance i ON i.schedule_id = d.schedule_id AND i.schedule_time = d.fire_at
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.deadlines IS 'The deadline of each fire of the schedules with one (of the workflows you may see): when its run had to succeed by, and whether it did; missed ones raised an alert deadline_missed.';
COMMENT ON COLUMN sched.deadlines.schedule_id IS 'The schedule.';
COMMENT ON COLUMN sched.deadlines.workflow IS 'Its workflow.';
COMMENT ON COLUMN sched.deadlines.fire_at IS 'The nominal fire time, whether or not the schedule fired.';
COMMENT ON COLUMN sched.deadlines.business_date IS 'The fire''s date in the schedule''s zone.';
COMMENT ON COLUMN sched.deadlines.deadline_at IS 'When its run had to succeed by.';
COMMENT ON COLUMN sched.deadlines.state IS 'pending, met or missed (sched._deadline_states()).';
COMMENT ON COLUMN sched.deadlines.instance_id IS 'The fire''s instance; NULL when none started.';
COMMENT ON COLUMN sched.deadlines.instance_state IS 'Its instance''s state now.';
COMMENT ON COLUMN sched.deadlines.instance_ended_at IS 'When its instance ended.';
COMMENT ON COLUMN sched.deadlines.decided_at IS 'When the deadline was decided; NULL while pending.';

-- 7_api/schedules.sql: options.deadline.
CREATE OR REPLACE FUNCTION sched._schedule_row(principal regrole, workflow text, cron text, options jsonb, action text)
RETURNS sched.schedule
LANGUAGE plpgsql
AS $$
DECLARE
    wf       sched.workflow;
    tz       text;
    starts   timestamptz;
    ends     timestamptz;
    enabled  boolean;
BEGIN
    wf := sched._fire_options(principal, workflow, options, ARRAY['timezone', 'start', 'end', 'enabled', 'misfire', 'deadline'], action);
    tz := coalesce(options->>'timezone', sched._workflow_time_zone(wf.id));
    IF options ? 'enabled' AND jsonb_typeof(options->'enabled') <> 'boolean' THEN
        RAISE EXCEPTION 'options.enabled: must be true or false' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'misfire', 'all')) NOT IN ('all', 'latest', 'none') THEN
        RAISE EXCEPTION 'options.misfire: "%" is not allowed; allowed: all, latest, none', options->>'misfire'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sched._check_time_zone(tz, 'options.timezone');
    starts := sched._zoned_timestamp(options->>'start', tz, 'options.start');
    ends := sched._zoned_timestamp(options->>'end', tz, 'options.end');
    IF starts IS NOT NULL AND ends IS NOT NULL AND ends < starts THEN
        RAISE EXCEPTION 'options.end: % is before options.start %', ends, starts USING ERRCODE = 'invalid_parameter_value';
    END IF;
    enabled := coalesce((options->>'enabled')::boolean, true);
    IF options ? 'deadline' THEN
        IF jsonb_typeof(options->'deadline') <> 'string' THEN
            RAISE EXCEPTION 'options.deadline: must be a string such as "06:00", "+1 day 06:00" or "2 h"' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM sched._deadline_at(options->>'deadline', 0, tz, 'options.deadline');
    END IF;
    RETURN ROW(NULL, wf.id, cron, tz, starts, ends, enabled, lower(coalesce(options->>'misfire', 'all')),
               options - ARRAY['timezone', 'start', 'end', 'enabled', 'misfire', 'params', 'deadline'],
               coalesce(options->'params', '{}'), principal, now(),
               -- Checks the expression and the zone, naming them; the caller stores it only if enabled.
               sched._next_fire(cron, tz, greatest(now(), starts - interval '1 second'), ends),
               NULL, NULL, nullif(trim(options->>'deadline'), ''), NULL, NULL)::sched.schedule;
END
$$;
COMMENT ON FUNCTION sched._schedule_row(regrole, text, text, jsonb, text) IS
    'Internal: the schedule sched.schedule and sched.alter_schedule store, its options checked (only members of the workflow''s owner may, as it fires as them).';
CREATE OR REPLACE FUNCTION sched._schedule(principal regrole, workflow text, cron text, options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      sched.schedule := sched._schedule_row(principal, workflow, cron, options, 'schedule it');
    new_id bigint;
BEGIN
    INSERT INTO sched.schedule (workflow_id, cron, timezone, start_at, end_at, enabled, misfire, run_options, params, owner,
                                next_fire_at, deadline, deadline_through, deadline_next)
    VALUES (s.workflow_id, s.cron, s.timezone, s.start_at, s.end_at, s.enabled, s.misfire, s.run_options, s.params, s.owner,
            CASE WHEN s.enabled THEN s.next_fire_at END, s.deadline, now(),
            CASE WHEN sched._schedule_deadline(s) IS NOT NULL THEN now() END)
    RETURNING sched.schedule.id INTO new_id;
    PERFORM sched._wake_master();
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched.schedule(text, text, jsonb) IS
    'Schedules a workflow on a cron expression and returns the schedule id. options: timezone (IANA; default the workflow''s timezone, else UTC: the expression and the business values of its instances are in it), start, end (local times of the zone unless they carry an offset), enabled (default true), misfire (all, latest, none: what happens to fires missed for longer than sched.misfire_threshold; default all), deadline (when each fire''s run must have succeeded by, over the workflow''s deadline: "06:00" on the business date, "+1 day 06:00", or a duration after the fire such as "2 h"; a miss raises the alert deadline_missed once, even when the run never started), and run options failure_strategy, priority, worker_group, params, notify (over the workflow''s). It fires as you, with schedule_time the nominal fire time.';
CREATE OR REPLACE FUNCTION sched._alter_schedule(principal regrole, schedule_id bigint, cron text, options jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      sched.schedule;
    merged jsonb;
    new    sched.schedule;
BEGIN
    SELECT * INTO s FROM sched.schedule sc WHERE sc.id = schedule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule_id: schedule % does not exist', schedule_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, s.owner, format('schedule %s', schedule_id));
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- What options leaves out stays; a null removes it (its default applies).
    merged := jsonb_strip_nulls(
        s.run_options
        || jsonb_build_object('timezone', s.timezone, 'start', s.start_at, 'end', s.end_at,
                              'enabled', s.enabled, 'misfire', s.misfire, 'params', s.params, 'deadline', s.deadline)
        || options);
    new := sched._schedule_row(principal, (SELECT w.name FROM sched.workflow w WHERE w.id = s.workflow_id),
                               coalesce(cron, s.cron), merged, 'change its schedule');
    UPDATE sched.schedule sc
       SET cron = new.cron, timezone = new.timezone, start_at = new.start_at, end_at = new.end_at,
           enabled = new.enabled, misfire = new.misfire, run_options = new.run_options, params = new.params,
           owner = new.owner, next_fire_at = CASE WHEN new.enabled THEN new.next_fire_at END,
           deadline = new.deadline,
           deadline_through = CASE WHEN sc.deadline_next IS NULL THEN now() ELSE sc.deadline_through END,
           deadline_next = CASE WHEN sched._schedule_deadline(new) IS NOT NULL THEN coalesce(sc.deadline_next, now()) END
     WHERE sc.id = schedule_id;
    PERFORM sched._wake_master();
END
$$;

-- 7_api/test_run.sql
-- Test runs (docs/architecture.md, "Test runs"): a workflow's SQL, PROCEDURE and logic tasks run
-- in the caller's transaction, as its owner, in DAG order, and everything they did is rolled
-- back at the end. No instance is created: nothing is written to the scheduler's tables.

CREATE FUNCTION sched.test_run(workflow text, params jsonb DEFAULT '{}', options jsonb DEFAULT '{}')
RETURNS TABLE (task text, task_type text, state text, reason text, columns text[], "rows" jsonb,
               row_count bigint, "out" jsonb, notices text[], log text[], duration interval)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- Each task is decided as the engine would (sql/3_engine/advance.sql, branches.sql): a task whose
-- upstream failed is not reached (a CONDITIONS task judges the failure), a task on a branch not
-- taken is skipped, a forbidden task passes. Its parameters are resolved as its claim would
-- resolve them (sched._resolve_task), its statements run by sched._test_sql in a subtransaction
-- of their own, so that a failure undoes that task alone and later tasks see what earlier ones
-- did. The walk itself runs in a block that always ends in an exception, which rolls it all back.
CREATE FUNCTION sched._test_run(principal regrole, workflow text, params jsonb, options jsonb)
RETURNS TABLE (task text, task_type text, state text, reason text, columns text[], "rows" jsonb,
               row_count bigint, "out" jsonb, notices text[], log text[], duration interval)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf       sched.workflow;
    v        sched.workflow_version;
    opt      text;
    allowed  text[] := ARRAY['mock', 'schedule_time', 'timezone', 'spec'];
    mock     jsonb := coalesce(options->'mock', '{}');
    zone     text;
    biz_at   timestamptz;
    biz_text text;
    vals     jsonb;
    path     text;
    refusal  text;
    t        record;
    up       record;
    done     jsonb := '{}';
    results  jsonb[] := '{}';
    result   jsonb;
    ctx      jsonb;
    choice   jsonb;
    holds    boolean;
BEGIN
    IF params IS NULL OR jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'params: must be a JSON object, e.g. {"dt": "20260101"}' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR opt IN SELECT jsonb_object_keys(options) LOOP
        IF opt <> ALL (allowed) THEN
            RAISE EXCEPTION 'options.%: unknown option; allowed: %', opt, array_to_string(allowed, ', ')
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF opt NOT IN ('mock', 'spec') AND jsonb_typeof(options->opt) <> 'string' THEN
            RAISE EXCEPTION 'options.%: must be a string', opt USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    -- Everything from here on is rolled back at the end, the spec tested (defined as the
    -- workflow's new version, as create_workflow(spec, true) would) included.
    BEGIN
        IF options ? 'spec' THEN
            IF jsonb_typeof(options->'spec') <> 'object' OR options->'spec'->>'name' IS DISTINCT FROM workflow THEN
                RAISE EXCEPTION 'options.spec: must be a workflow spec named "%" (what create_workflow takes), tested without being saved', workflow
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            PERFORM sched._create_workflow(principal, options->'spec', true);
        END IF;
        SELECT * INTO wf FROM sched.workflow w WHERE w.name = _test_run.workflow;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'workflow "%" does not exist', _test_run.workflow USING ERRCODE = 'undefined_object';
        END IF;
        -- It runs the owner's statements now, in the caller's session, with values the caller
        -- chooses (params, mocked OUT values): the owner's members alone may.
        PERFORM sched._check_owner_strict(principal, wf.owner, format('workflow "%s"', wf.name), 'test-run it');
        SELECT * INTO v FROM sched.workflow_version wv WHERE wv.workflow_id = wf.id AND wv.version = wf.current_version;
        IF jsonb_typeof(mock) <> 'object' THEN
            RAISE EXCEPTION 'options.mock: must be an object of task names and their OUT values, e.g. {"extract": {"rows": "42"}}'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR opt IN SELECT jsonb_object_keys(mock) LOOP
            IF NOT EXISTS (SELECT 1 FROM sched.task_definition td
                           WHERE td.workflow_version_id = v.id AND td.name = opt AND td.element_of IS NULL) THEN
                RAISE EXCEPTION 'options.mock.%: workflow "%" has no task "%"', opt, wf.name, opt
                    USING ERRCODE = 'invalid_parameter_value';
            ELSIF jsonb_typeof(mock->opt) <> 'object' THEN
                RAISE EXCEPTION 'options.mock.%: must be an object of OUT values, e.g. {"rows": "42"}', opt
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;

        -- The business time and values as a manual start would have them; no instance exists, so
        -- system.workflow.instance.id and system.task.instance.id are 0.
        zone := CASE WHEN options ? 'timezone' THEN sched._check_time_zone(options->>'timezone', 'options.timezone')
                     ELSE coalesce(v.spec->>'timezone', 'UTC') END;
        biz_at := CASE WHEN options ? 'schedule_time' THEN sched._zoned_timestamp(options->>'schedule_time', zone, 'options.schedule_time')
                       ELSE now() END;
        biz_text := to_char(biz_at AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI:SS');
        vals := sched._start_values(wf, v.spec, params, 0, biz_text);
        path := sched._login_search_path(wf.owner);
        -- What a real run's SQL tasks would fail with.
        SELECT sched._sql_owner_refusal(wf.owner, r.rolcanlogin, r.rolvaliduntil) INTO refusal
          FROM pg_roles r WHERE r.oid = wf.owner;

        -- In DAG order, so that every task's upstream tasks are decided before it.
        FOR t IN
            SELECT td.id, td.name, td.task_type, td.logic, td.settings, td.params AS local_params,
                   td.parameterized, o.upstream
            FROM sched._task_order(v.id, NULL) o
            JOIN sched.task_definition td ON td.id = o.id
            ORDER BY o.depth, td.id
        LOOP
            result := jsonb_build_object('task', t.name, 'task_type', t.task_type, 'seq', cardinality(results));
            SELECT u.name, done->u.name->>'state' AS state INTO up
            FROM unnest(t.upstream) AS u(name)
            WHERE done->u.name->>'state' = 'not_reached'
               OR (done->u.name->>'state' = 'failed' AND t.logic IS DISTINCT FROM 'conditions')
            LIMIT 1;
            IF FOUND THEN
                result := result || jsonb_build_object('state', 'not_reached',
                    'reason', format('upstream task %s %s', up.name,
                                     CASE WHEN up.state = 'failed' THEN 'failed' ELSE 'was not reached' END));
            ELSIF cardinality(t.upstream) > 0 AND NOT EXISTS (
                    SELECT 1 FROM unnest(t.upstream) AS u(name)
                    WHERE done->u.name->>'state' <> 'skipped'
                      AND NOT (done->u.name ? 'branch' AND NOT done->u.name->'branch' ? t.name)) THEN
                result := result || jsonb_build_object('state', 'skipped', 'reason', 'on a branch not taken');
            ELSIF t.logic = 'forbidden' THEN
                result := result || jsonb_build_object('state', 'forbidden', 'reason', 'enabled is false: passed through');
            ELSIF mock ? t.name THEN
                result := result || jsonb_build_object('state', 'mocked', 'reason', 'OUT values from options.mock',
                    'out', (SELECT jsonb_object_agg(m.key, CASE WHEN jsonb_typeof(m.value) = 'string' THEN m.value
                                                                ELSE to_jsonb(m.value::text) END)
                            FROM jsonb_each(mock->t.name) m));
            ELSIF t.task_type = 'empty' THEN
                result := result || jsonb_build_object('state', 'succeeded', 'reason', 'an empty task does nothing');
            ELSIF t.logic = 'conditions' THEN
                holds := sched._conditions_hold(t.settings->'conditions', (
                    SELECT jsonb_object_agg(d.key, CASE WHEN d.value->>'state' = 'failed' THEN 'failed'
                                                        WHEN d.value->>'state' = ANY (sched._test_states_success()) THEN 'success' END)
                    FROM jsonb_each(done) d));
                result := result || jsonb_build_object('state', 'succeeded',
                    'branch', t.settings->CASE WHEN holds THEN 'on_success' ELSE 'on_failure' END,
                    'reason', format('conditions %s: runs %s', CASE WHEN holds THEN 'hold' ELSE 'do not hold' END,
                                     CASE WHEN holds THEN 'on_success ' ELSE 'on_failure ' END
                                         || (t.settings->CASE WHEN holds THEN 'on_success' ELSE 'on_failure' END)::text));
            ELSIF t.logic = 'switch' OR (t.task_type IN ('sql', 'procedure') AND NOT t.settings ? 'datasource') THEN
                ctx := CASE WHEN t.parameterized OR t.logic = 'switch' THEN sched._resolve_task(
                           t.settings, t.local_params,
                           (SELECT jsonb_agg(done->u.name->'out' ORDER BY (done->u.name->>'seq')::integer) FROM unnest(t.upstream) AS u(name)
                            WHERE done->u.name->>'state' = ANY (sched._test_states_success()) AND done->u.name->'out' <> 'null'),
                           vals, params,
                           jsonb_build_object('system.task.instance.id', '0',
                                              'system.task.definition.name', t.name,
                                              'system.task.definition.code', t.id::text),
                           biz_text)
                       ELSE jsonb_build_object('settings', t.settings) END;
                IF ctx->'settings' ? 'resolve_error' THEN
                    result := result || jsonb_build_object('state', 'failed',
                        'reason', 'cannot resolve parameters: ' || (ctx#>>'{settings,resolve_error}'));
                ELSIF t.logic = 'switch' THEN
                    choice := sched._switch_choose(t.settings->'cases', vals || (ctx->'params'));
                    result := result || jsonb_build_object('state', 'succeeded',
                        'branch', CASE WHEN jsonb_typeof(choice->'case') = 'number'
                                       THEN t.settings->'cases'->((choice->>'case')::integer)->'then'
                                       ELSE t.settings->'default' END,
                        'notices', choice->'errors',
                        'reason', CASE WHEN jsonb_typeof(choice->'case') = 'number'
                                       THEN format('switch: cases[%s] (%s) holds: runs %s', choice->>'case',
                                                   t.settings->'cases'->((choice->>'case')::integer)->>'when',
                                                   t.settings->'cases'->((choice->>'case')::integer)->'then')
                                       ELSE format('switch: no case holds: runs default %s', t.settings->'default') END);
                ELSIF refusal IS NOT NULL THEN
                    result := result || jsonb_build_object('state', 'failed', 'reason', refusal);
                ELSE
                    result := result || sched._test_sql(wf.owner::oid, principal <> wf.owner, path, t.task_type, ctx->'settings');
                    result := result || jsonb_build_object('reason', result->'error');
                END IF;
            ELSE
                result := result || jsonb_build_object('state', 'not_run', 'reason',
                    CASE WHEN t.settings ? 'datasource'
                         THEN format('runs on datasource %s through a worker: not run in a test run; options.mock gives its OUT values', t.settings->>'datasource')
                         ELSE format('%s tasks do not run in a test run; options.mock gives their OUT values', t.task_type) END);
            END IF;
            done := done || jsonb_build_object(t.name, result);
            results := results || result;
        END LOOP;
        RAISE EXCEPTION USING ERRCODE = 'SCT01';
    EXCEPTION WHEN SQLSTATE 'SCT01' THEN
        NULL;
    END;
    RETURN QUERY
    SELECT r->>'task', r->>'task_type', r->>'state', r->>'reason',
           CASE WHEN r ? 'columns' THEN ARRAY(SELECT jsonb_array_elements_text(r->'columns')) END,
           r->'rows', (r->>'row_count')::bigint, nullif(r->'out', 'null'),
           ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'notices', '[]'))),
           ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'log', '[]'))),
           CASE WHEN r ? 'duration_ms' THEN make_interval(secs => (r->>'duration_ms')::double precision) / 1000 END
    FROM unnest(results) WITH ORDINALITY AS x(r, i)
    ORDER BY x.i;
END
$$;
COMMENT ON FUNCTION sched.test_run(text, jsonb, jsonb) IS
    'Runs the current version of a workflow''s sql and procedure tasks (on the scheduler''s database) and its logic tasks in DAG order, in the caller''s transaction, as the workflow''s owner, then rolls back everything they did; returns one row per task: state (sched._test_states()), reason, the rows its statement returned (columns, rows, row_count), its OUT values, what it said (notices), what each statement did (log) and how long it took. Other tasks (shell, python, a datasource''s SQL...) are not run; options.mock ({"task": {"out_param": "value"}}) gives their OUT values. Nothing is written to the scheduler''s tables. params: start parameters; options: mock, schedule_time, timezone, spec (a spec of the workflow to test instead of its current version, defined for the test run and rolled back with it: test before saving). Only members of the owner may.';
COMMENT ON FUNCTION sched._test_run(regrole, text, jsonb, jsonb) IS
    'Internal: what sched.test_run returns, for the calling role.';

-- 7_api/control.sql: force_success on an element.
CREATE OR REPLACE FUNCTION sched._force_success(principal regrole, task_instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target record := sched._command_attempt(principal, task_instance_id, 'force_success',
                                            'does not exist (or its instance finished and was archived: recover it first)');
    ti     sched.task_instance := target.ti;
    inst   sched.workflow_instance := target.inst;
    slots  bigint[];
    retry_cancelled boolean;
    dynamic_attempt bigint;
BEGIN
    IF ti.run <> inst.run OR EXISTS (
        SELECT 1 FROM sched.task_instance t
        WHERE t.workflow_instance_id = ti.workflow_instance_id AND t.task_id = ti.task_id AND t.run = ti.run
          AND t.element IS NOT DISTINCT FROM ti.element
          AND t.id > ti.id AND t.state <> ALL (sched._task_states_waiting())) THEN
        RAISE EXCEPTION 'task instance % is not its task''s last attempt; force the last one', task_instance_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES (sched._command_type('force_success'), inst.workflow_id, inst.id, sched._role_name(principal),
            jsonb_build_object('task_instance_id', task_instance_id));
    -- A pending retry is cancelled.
    WITH cancelled AS (
        UPDATE sched.task_instance t SET state = 'killed', ended_at = now(), kill_reason = 'forced_success'
        WHERE t.workflow_instance_id = ti.workflow_instance_id AND t.task_id = ti.task_id AND t.run = ti.run
          AND t.element IS NOT DISTINCT FROM ti.element
          AND t.id > ti.id AND t.state = ANY (sched._task_states_waiting())
        RETURNING t.id, t.holds_slot)
    SELECT array_agg(id) FILTER (WHERE holds_slot), count(*) > 0 INTO slots, retry_cancelled FROM cancelled;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    UPDATE sched.task_instance t SET state = 'forced_success' WHERE t.id = ti.id;
    -- An element, for a dynamic attempt that still runs: one counted as failed is a failure no
    -- more, one whose retry was cancelled has ended. After its dynamic task ended, recover runs
    -- only the elements that did not succeed.
    IF ti.element IS NOT NULL THEN
        UPDATE sched.dynamic_progress p
           SET failed = p.failed - CASE WHEN retry_cancelled THEN 0 ELSE 1 END,
               ended = p.ended + CASE WHEN retry_cancelled THEN 1 ELSE 0 END
        FROM sched.task_definition e
        WHERE e.id = ti.task_id AND p.workflow_instance_id = ti.workflow_instance_id AND p.task_id = e.element_of
          AND p.run = ti.run
          AND EXISTS (SELECT 1 FROM sched.task_instance d WHERE d.id = p.task_instance_id AND d.state = 'running')
        RETURNING p.task_instance_id INTO dynamic_attempt;
        IF dynamic_attempt IS NOT NULL THEN
            PERFORM sched._notify_ready(sched._release_elements(dynamic_attempt));
            PERFORM sched._finish_if_done(ARRAY[inst.id]);
        END IF;
        RETURN;
    END IF;
    IF inst.state = ANY (sched._workflow_states_advancing()) THEN
        UPDATE sched.workflow_instance i SET has_failure = EXISTS (
            SELECT 1 FROM (SELECT DISTINCT ON (t.task_id) t.state, t.task_id FROM sched.task_instance t
                           WHERE t.workflow_instance_id = inst.id AND t.run = inst.run AND t.element IS NULL
                           ORDER BY t.task_id, t.id DESC) l
            JOIN sched.task_definition td ON td.id = l.task_id
            WHERE l.state = 'killed' OR (l.state = 'failed' AND NOT td.feeds_conditions))
        WHERE i.id = inst.id;
        PERFORM sched._notify_ready(sched._advance(ARRAY[ti.id], ARRAY[inst.id], false));
    END IF;
END
$$;

-- 7_api/graphs.sql: a dynamic task is one node, with its counts; graphs drawn by sched-core
-- (sched._render_graph), from tasks and edges gathered by id.
DROP FUNCTION sched._render_graph(text, text, text[], text[], text[], text[], text[]);
DROP FUNCTION sched._state_colour(text);
DROP FUNCTION sched._version_edges(bigint);
CREATE  FUNCTION "_render_graph"(
	"title" TEXT, /* & str */
	"format" TEXT, /* Option < & str > */
	"ids" bigint[], /* :: std :: option :: Option < Array < '_, i64 > > */
	"names" TEXT[], /* :: std :: option :: Option < Array < '_, & str > > */
	"types" TEXT[], /* :: std :: option :: Option < Array < '_, & str > > */
	"notes" TEXT[], /* :: std :: option :: Option < Array < '_, & str > > */
	"attempt_tasks" bigint[], /* :: std :: option :: Option < Array < '_, i64 > > */
	"attempt_ids" bigint[], /* :: std :: option :: Option < Array < '_, i64 > > */
	"attempt_states" TEXT[], /* :: std :: option :: Option < Array < '_, & str > > */
	"attempt_numbers" INT[], /* :: std :: option :: Option < Array < '_, i32 > > */
	"edge_from" bigint[], /* :: std :: option :: Option < Array < '_, i64 > > */
	"edge_to" bigint[] /* :: std :: option :: Option < Array < '_, i64 > > */
) RETURNS TEXT /* String */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'render_graph_wrapper';
COMMENT ON FUNCTION sched._render_graph(text, text, bigint[], text[], text[], text[], bigint[], bigint[], text[], integer[], bigint[], bigint[]) IS
    'Internal: the picture, as DOT or Mermaid, of the tasks ids (with their names and types and a line more of notes) and the dependencies edge_from[i] -> edge_to[i], by task id, both drawn in id order; when attempts are given (attempt_tasks[i]''s attempt attempt_ids[i], its state and number; in any order), each task filled by its latest attempt''s state (not run without one); an error naming format for another format.';
-- The dependencies of a workflow version, by task id, in no order: sched._render_graph
-- orders them. One row; a set so that it is inlined where it is used.
CREATE FUNCTION sched._version_edges(version_id bigint) RETURNS TABLE (edge_from bigint[], edge_to bigint[])
LANGUAGE sql STABLE
AS $$
    -- unnest in the select list: a lateral join over the successor arrays cost twice as much.
    SELECT array_agg(e.up), array_agg(e.down)
      FROM (SELECT up.id AS up, unnest(up.successors) AS down
              FROM sched.task_definition up WHERE up.workflow_version_id = version_id) e
$$;
COMMENT ON FUNCTION sched._version_edges(bigint) IS 'Internal: a workflow version''s dependencies as parallel arrays of task ids (upstream, downstream).';

CREATE OR REPLACE FUNCTION sched._workflow_graph(principal regrole, name text, format text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    wf sched.workflow;
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _workflow_graph.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow "%" does not exist', _workflow_graph.name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name));
    -- One statement: an array kept in a PL/pgSQL variable is expanded element by element.
    RETURN (SELECT sched._render_graph(wf.name, format, t.ids, t.names, t.types, NULL, NULL, NULL, NULL, NULL, e.edge_from, e.edge_to)
              FROM sched.workflow_version v
             CROSS JOIN LATERAL (SELECT array_agg(td.id) AS ids, array_agg(td.name) AS names, array_agg(td.task_type) AS types
                                   FROM sched.task_definition td
                                  WHERE td.workflow_version_id = v.id AND td.element_of IS NULL) t
             CROSS JOIN LATERAL sched._version_edges(v.id) e
             WHERE v.workflow_id = wf.id AND v.version = wf.current_version);
END
$$;
CREATE OR REPLACE FUNCTION sched._instance_graph(principal regrole, instance_id bigint, format text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._instance_for(principal, instance_id, false);
    -- One statement: an array kept in a PL/pgSQL variable is expanded element by element.
    -- All the instance's attempts go to sched._render_graph, which picks each task's latest:
    -- sorting 100,000 attempts by task and joining them to the tasks here cost a third of
    -- the picture.
    RETURN (SELECT sched._render_graph((SELECT w.name FROM sched.workflow w WHERE w.id = inst.workflow_id) || ' #' || instance_id,
                                       format, t.ids, t.names, t.types, t.notes,
                                       coalesce(a.tasks, '{}'), a.ids, a.states, a.numbers, e.edge_from, e.edge_to)
              FROM (SELECT array_agg(td.id) AS ids, array_agg(td.name) AS names, array_agg(td.task_type) AS types,
                           -- A dynamic task is one node, with its elements counted by state (read
                           -- for it alone: joined, the view's counts would be worked out for every task).
                           array_agg(CASE WHEN td.logic = 'dynamic'
                                          THEN (SELECT ep.element_count || ' elements'
                                                       || coalesce((SELECT string_agg(pg_catalog.format(', %s %s', s.value, s.key), '' ORDER BY s.key)
                                                                      FROM jsonb_each_text(ep.element_states) s), '')
                                                  FROM sched._task_instance_rows ep
                                                 WHERE ep.id = (SELECT max(la.id) FROM sched._attempts la
                                                                 WHERE la.workflow_instance_id = instance_id AND la.task_id = td.id)
                                                   AND ep.element_count IS NOT NULL) END) AS notes
                      FROM sched.task_definition td
                     WHERE td.workflow_version_id = inst.workflow_version_id AND td.element_of IS NULL) t,
                   -- Live or archived; a task that never became ready has none.
                   (SELECT array_agg(ta.task_id) AS tasks, array_agg(ta.id) AS ids, array_agg(ta.state::text) AS states,
                           array_agg(ta.attempt) AS numbers
                      FROM sched._attempts ta WHERE ta.workflow_instance_id = instance_id) a,
                   sched._version_edges(inst.workflow_version_id) e);
END
$$;
CREATE FUNCTION sched._task_order(version_id bigint, scope bigint[])
RETURNS TABLE (id bigint, depth integer, upstream text[])
LANGUAGE sql STABLE
-- Estimates over the recursive walk are far off; see instance_tasks.
SET enable_nestloop = off
SET jit = off
AS $$
    SELECT td.id, td.depth, td.deps
      FROM sched.task_definition td
     WHERE scope IS NULL AND td.workflow_version_id = version_id AND td.element_of IS NULL
    UNION ALL
    (WITH RECURSIVE tasks AS (
        SELECT td.id, td.name, td.successors
          FROM sched.task_definition td
         WHERE scope IS NOT NULL AND td.workflow_version_id = version_id AND td.id = ANY(scope)
           AND td.element_of IS NULL
    ), edges AS (
        SELECT t.id AS up, s.id AS down FROM tasks t CROSS JOIN LATERAL unnest(t.successors) AS s(id)
        WHERE s.id IN (SELECT tasks.id FROM tasks)
    ), walk AS (
        SELECT t.id, 0 AS depth FROM tasks t WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.down = t.id)
        UNION
        SELECT e.down, w.depth + 1 FROM walk w JOIN edges e ON e.up = w.id
    ), placed AS (
        SELECT w.id, max(w.depth) AS depth FROM walk w GROUP BY w.id
    ), upstream AS (
        -- Grouped once: a subquery per task over the edges took 28 s at 10,000 tasks.
        SELECT e.down AS id, array_agg(u.name ORDER BY u.name) AS names
          FROM edges e JOIN tasks u ON u.id = e.up GROUP BY e.down
    )
    SELECT p.id, p.depth, coalesce(up.names, '{}')
      FROM placed p LEFT JOIN upstream up ON up.id = p.id)
$$;
COMMENT ON FUNCTION sched._task_order(bigint, bigint[]) IS
    'Internal: the tasks of a workflow version (within scope when given) with their depth (the longest path from a root: ordered by it, every task follows its upstream tasks) and their upstream tasks'' names.';
DROP FUNCTION sched.instance_tasks(bigint);
DROP FUNCTION sched._instance_tasks(regrole, bigint);
-- One row, inlined where it is called: a task's latest attempt in an instance, through the
-- instance's index on both tables, or a row saying not run.
CREATE FUNCTION sched._latest_attempt(instance_id bigint, task_id bigint)
RETURNS TABLE (task_instance_id bigint, state text, attempt integer, worker text, exit_code integer,
               started_at timestamptz, ended_at timestamptz, duration interval)
LANGUAGE sql STABLE
AS $$
    SELECT a.id, coalesce(a.state::text, 'not run'), a.attempt, wk.name, a.exit_code,
           a.started_at, a.ended_at, a.ended_at - a.started_at
      FROM (SELECT) one
      LEFT JOIN LATERAL (SELECT ta.id, ta.state, ta.attempt, ta.worker_id, ta.exit_code, ta.started_at, ta.ended_at
                           FROM sched._attempts ta
                          WHERE ta.workflow_instance_id = instance_id AND ta.task_id = _latest_attempt.task_id
                          ORDER BY ta.id DESC LIMIT 1) a ON true
      LEFT JOIN sched.worker wk ON wk.id = a.worker_id
$$;
COMMENT ON FUNCTION sched._latest_attempt(bigint, bigint) IS
    'Internal: the latest attempt of a task in an instance (state not run, and the rest NULL, when it has none).';

CREATE FUNCTION sched.instance_tasks(instance_id bigint, after text DEFAULT NULL, max_rows integer DEFAULT NULL)
RETURNS TABLE (task text, type text, deps text[], depth integer, task_instance_id bigint, state text, attempt integer,
               worker text, exit_code integer, started_at timestamptz, ended_at timestamptz, duration interval)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- A page of an instance's tasks in DAG order: at most max_rows after the task named after.
-- For instance_tasks and instance_attempts, which read each task's attempts through the
-- instance's index on both tables: a page of a 100,000-task instance reads the page.
CREATE FUNCTION sched._instance_page(inst sched.workflow_instance, after text, max_rows integer)
RETURNS TABLE (id bigint, depth integer, upstream text[], name text, task_type text)
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    after_id    bigint;
    after_depth integer;
BEGIN
    IF max_rows IS NOT NULL AND max_rows NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_rows: must be between 1 and 1000 (NULL for every task), got %', max_rows
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF after IS NOT NULL THEN
        SELECT td.id, td.depth INTO after_id, after_depth
          FROM sched.task_definition td
         WHERE td.workflow_version_id = inst.workflow_version_id AND td.name = after AND td.element_of IS NULL
           AND (inst.scope IS NULL OR td.id = ANY (inst.scope));
        IF NOT FOUND THEN
            RAISE EXCEPTION 'after: instance % has no task "%" (give the last task of the page before)', inst.id, after
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF inst.scope IS NOT NULL THEN
            after_depth := (SELECT o.depth FROM sched._task_order(inst.workflow_version_id, inst.scope) o WHERE o.id = after_id);
        END IF;
    END IF;
    -- A whole version's page is read in its index's order on the kept depths, a scope's walked.
    -- The two are apart because under a UNION ALL the planner no longer sees the index's order
    -- and sorts every task, and the depth bound is there because under the row comparison
    -- alone it expects a few rows and sorts them all.
    IF inst.scope IS NULL THEN
        RETURN QUERY
        SELECT td.id, td.depth, td.deps, td.name, td.task_type FROM sched.task_definition td
         WHERE td.workflow_version_id = inst.workflow_version_id AND td.element_of IS NULL
           AND (after IS NULL OR (td.depth >= after_depth AND (td.depth, td.id) > (after_depth, after_id)))
         ORDER BY td.depth, td.id LIMIT max_rows;
    ELSE
        RETURN QUERY
        SELECT o.id, o.depth, o.upstream, td.name, td.task_type
          FROM (SELECT o.id, o.depth, o.upstream FROM sched._task_order(inst.workflow_version_id, inst.scope) o
                 WHERE after IS NULL OR (o.depth, o.id) > (after_depth, after_id)
                 ORDER BY o.depth, o.id LIMIT max_rows) o
          JOIN sched.task_definition td ON td.id = o.id
         ORDER BY o.depth, o.id;
    END IF;
END
$$;
COMMENT ON FUNCTION sched._instance_page(sched.workflow_instance, text, integer) IS
    'Internal: a page of an instance''s tasks (those in its scope) in DAG order, with their depth and upstream tasks.';

CREATE FUNCTION sched._instance_tasks(principal regrole, instance_id bigint, after text, max_rows integer)
RETURNS TABLE (task text, type text, deps text[], depth integer, task_instance_id bigint, state text, attempt integer,
               worker text, exit_code integer, started_at timestamptz, ended_at timestamptz, duration interval)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    SELECT p.name, p.task_type, p.upstream, p.depth, a.*
      FROM sched._instance_page(sched._instance_for(principal, instance_id, false), after, max_rows) p
      CROSS JOIN LATERAL sched._latest_attempt(instance_id, p.id) a
     ORDER BY p.depth, p.id
$$;
COMMENT ON FUNCTION sched.instance_tasks(bigint, text, integer) IS
    'The tasks of an instance (those in its scope) in DAG order (depth: the longest path from a root), each with its upstream tasks and its latest attempt: state (not run when none), attempt, worker, exit code, times. A page at a time: at most max_rows (1 to 1000; NULL for all) after the task named after (the last of the page before; NULL for the first page).';
CREATE FUNCTION sched.instance_attempts(instance_id bigint, after text DEFAULT NULL, max_rows integer DEFAULT NULL)
RETURNS SETOF sched.task_instances
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._instance_attempts(principal regrole, instance_id bigint, after text, max_rows integer)
RETURNS SETOF sched.task_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    -- By the page's tasks: ordering the instance's attempts by id would read them all, since
    -- its index on both tables is by task.
    ids bigint[] := ARRAY(SELECT a.id
                            FROM sched._instance_page(sched._instance_for(principal, instance_id, false), after, max_rows) p
                            CROSS JOIN LATERAL (SELECT ta.id FROM sched._attempts ta
                                                 WHERE ta.workflow_instance_id = instance_id AND ta.task_id = p.id) a);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._task_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id;
END
$$;
COMMENT ON FUNCTION sched.instance_attempts(bigint, text, integer) IS
    'The attempts (every run, retry and failover; not a dynamic task''s elements) of a page of an instance''s tasks, the page sched.instance_tasks gives for the same after and max_rows, ordered by id: the rows of sched.task_instances.';

-- 5_protocol/worker.sql: a registration's first heartbeat is when it is made, not when its transaction began.
CREATE OR REPLACE FUNCTION sched._register_worker(principal regrole, name text, host text, groups text[], slots integer, token bigint,
                                       protocol integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    previous sched.worker;
    g        text;
    new_id   bigint;
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'name: must be 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF host IS NULL THEN
        RAISE EXCEPTION 'host: must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- No group at all is a worker that only delivers alerts: it claims no task.
    IF groups IS NULL THEN
        RAISE EXCEPTION 'groups: must be an array of worker groups (empty for a worker that runs no task)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH g IN ARRAY groups LOOP
        PERFORM sched._check_name(g, 'groups', 'name');
    END LOOP;
    IF slots IS NULL OR slots NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'slots: must be between 1 and 10000, got %', slots USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF protocol IS NULL OR protocol NOT BETWEEN sched._worker_protocol_oldest() AND sched._worker_protocol() THEN
        RAISE EXCEPTION 'protocol: this sched-worker speaks worker protocol %, and pg_sched % serves protocols % to %: %',
            coalesce(protocol::text, 'NULL'), sched._extension_version(), sched._worker_protocol_oldest(), sched._worker_protocol(),
            CASE WHEN protocol > sched._worker_protocol()
                 THEN pg_catalog.format('install the pg_sched of the worker''s release and run ALTER EXTENSION pg_sched UPDATE, or run a sched-worker of release %s', sched._extension_version())
                 ELSE pg_catalog.format('upgrade sched-worker to release %s', sched._extension_version()) END
            USING ERRCODE = 'SW002';
    END IF;

    -- A worker restarting under its old name replaces the old registration at once instead of
    -- waiting for the heartbeat timeout: whatever the old process had running is lost. A name
    -- that is still heartbeating belongs to another live process: two workers sharing a name
    -- would take each other over forever.
    SELECT * INTO previous FROM sched.worker w WHERE w.name = _register_worker.name AND w.alive FOR UPDATE;
    -- The same process asking again (its first answer was lost): the registration it made.
    IF FOUND AND previous.registration_token = token
       AND pg_catalog.pg_has_role(principal, previous.login_role, 'MEMBER') THEN
        RETURN previous.id;
    END IF;
    IF FOUND THEN
        IF previous.last_heartbeat > now() - interval '10 seconds' THEN
            RAISE EXCEPTION 'name: worker "%" is registered and alive (last heartbeat % ago)',
                _register_worker.name, date_trunc('second', now() - previous.last_heartbeat)
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Give each worker its own --name, or stop the other one; a registration silent for 10 s is taken over.';
        END IF;
        IF NOT pg_catalog.pg_has_role(principal, previous.login_role, 'MEMBER') THEN
            RAISE EXCEPTION 'name: worker "%" is already registered by role %', _register_worker.name, previous.login_role
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        UPDATE sched.worker SET alive = false, ended_at = now(), ended_why = 'replaced' WHERE id = previous.id;
        PERFORM sched._fail_over(ARRAY[previous.id]);
    END IF;

    -- Its first heartbeat is now, not when this transaction began: taking over the old
    -- registration may have waited on a lock of the attempts (a LOCK TABLE, a VACUUM FULL) long
    -- enough for the master to find the new one silent the moment it committed.
    INSERT INTO sched.worker (name, host, groups, slots, login_role, registration_token, protocol, last_heartbeat)
    VALUES (_register_worker.name, host, groups, slots, principal, token, _register_worker.protocol,
            pg_catalog.clock_timestamp())
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- 2_kernel/notify.sql, 5_protocol/worker.sql: a wake-up names one worker of the group, not all
-- of them; a claim that gets all it asked for names the next; a completion that fills its slots
-- wakes them all, as before.
DROP FUNCTION sched._notify_ready(text[]);
CREATE FUNCTION sched._notify_ready(groups text[], taken_by bigint DEFAULT NULL, everyone boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    g      text;
    target bigint;
    heard  timestamptz;
BEGIN
    -- A completion asks with no group at all whenever it made nothing ready for others: the
    -- hot path pays for this test only.
    IF groups IS NULL OR cardinality(groups) = 0 THEN
        RETURN;
    END IF;
    -- One tiny notification per worker group: PostgreSQL folds duplicates within a transaction.
    -- Unless everyone is to be woken, it names one worker of the group, the one with the most
    -- free slots at its last heartbeat (any of them when several have as many), not the one
    -- (taken_by) that took all it could: waking every worker made all of them claim, all but
    -- one for nothing. The worker named claims; one that finds no slot free wakes the whole
    -- group, and one that fills its slots names the next (sched._claim_tasks). Only a worker
    -- heard from within two heartbeats is named: one that died without a word is not woken
    -- for nothing. With none such, or only workers of an older protocol, which understand only
    -- a wake-up of their whole group, the whole group is woken.
    IF NOT everyone THEN
        heard := pg_catalog.clock_timestamp() - 2 * sched._heartbeat_period(pg_catalog.current_setting('sched.worker_timeout')::interval);
    END IF;
    FOREACH g IN ARRAY groups LOOP
        IF everyone THEN
            PERFORM pg_catalog.pg_notify('sched_ready', g);
            CONTINUE;
        END IF;
        SELECT w.id INTO target
          FROM sched.worker w
         WHERE w.alive AND g = ANY (w.groups) AND w.protocol >= sched._named_wake_protocol()
           AND w.last_heartbeat >= heard AND w.id IS DISTINCT FROM taken_by
         ORDER BY w.slots - w.running DESC, pg_catalog.random()
         LIMIT 1;
        -- The one named hears it on its own channel: every other worker's process sleeps on.
        IF FOUND THEN
            PERFORM pg_catalog.pg_notify(sched._worker_channel(target), g || ' ' || target);
        ELSE
            PERFORM pg_catalog.pg_notify('sched_ready', g);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._notify_ready(text[], bigint, boolean) IS
    'Internal: wakes a worker of each of these groups (the one with the most free slots at its last heartbeat, heard from within two heartbeats, not taken_by), or all of a group''s workers with everyone or when none such speaks a protocol that names one.';
CREATE OR REPLACE FUNCTION sched._claim_tasks(principal regrole, worker_id bigint, max_tasks integer, claim_token bigint)
RETURNS TABLE (task_instance_id bigint, workflow_instance_id bigint, task_name text, task_type text,
               settings jsonb, attempt integer, tenant text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    groups  text[] := sched._worker_guard(principal, _claim_tasks.worker_id);
    claimed integer;
BEGIN
    RETURN QUERY SELECT * FROM sched._claim(_claim_tasks.worker_id, groups, max_tasks, _claim_tasks.claim_token);
    -- It took all it asked for: more may be waiting, for another worker of its groups.
    GET DIAGNOSTICS claimed = ROW_COUNT;
    IF claimed > 0 AND claimed >= max_tasks THEN
        PERFORM sched._notify_ready(groups, _claim_tasks.worker_id);
    END IF;
END
$$;
COMMENT ON FUNCTION sched.claim_tasks(bigint, integer, bigint) IS
    'Worker protocol: claims up to max_tasks ready task instances of the worker''s groups (highest priority first, then FIFO) and marks them running on it; when it gets max_tasks, wakes another worker of its groups, since more may be ready. Pass a claim_token unique per call and repeat it when retrying a call whose answer was lost: the retry returns the same tasks.';
CREATE OR REPLACE FUNCTION sched._complete_tasks(principal regrole, worker_id bigint, task_instance_ids bigint[], exit_codes integer[],
                                      started_at timestamptz[], ended_at timestamptz[],
                                      claim_max integer, claim_token bigint, out_params jsonb[], outcomes text[])
RETURNS TABLE (task_instance_id bigint, workflow_instance_id bigint, task_name text, task_type text,
               settings jsonb, attempt integer, tenant text, deferred boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    -- A registration declared dead may still report what it finished (its leases decide);
    -- it claims nothing.
    groups    text[] := sched._worker_guard(principal, _complete_tasks.worker_id, false);
    outcome   record;
    claimed   integer := 0;
    others    text[];
    unsettled bigint[];
BEGIN
    outcome := sched._complete(_complete_tasks.worker_id, task_instance_ids, exit_codes,
                               coalesce(_complete_tasks.started_at, '{}'), coalesce(_complete_tasks.ended_at, '{}'),
                               coalesce(_complete_tasks.out_params, '{}'), coalesce(_complete_tasks.outcomes, '{}'),
                               settle_later => true);
    -- Claiming in the same transaction saves the hot path a commit per task: the slots these
    -- completions free are refilled, often with the successors they just made ready.
    IF groups IS NOT NULL THEN
        RETURN QUERY SELECT c.*, false FROM sched._claim(_complete_tasks.worker_id, groups, claim_max, _complete_tasks.claim_token) c;
        GET DIAGNOSTICS claimed = ROW_COUNT;
    END IF;
    IF outcome.deferred IS NOT NULL THEN
        RETURN QUERY SELECT d, NULL::bigint, NULL::text, NULL::text, NULL::jsonb, NULL::integer, NULL::text, true
                     FROM unnest(outcome.deferred) d;
    END IF;
    -- Wake other workers only for work this one could not take: groups it does not serve (one
    -- of their workers), and its own groups when it filled every slot it asked for. More may be
    -- waiting then, behind a backlog that keeps every worker busy: all of them are woken, as
    -- any claim of theirs finds work (a drain of 1,000-slot workers lost a tenth when only
    -- one other was).
    IF outcome.ready_groups IS NOT NULL THEN
        others := ARRAY(SELECT g FROM unnest(outcome.ready_groups) g WHERE groups IS NULL OR NOT (g = ANY(groups)));
        PERFORM sched._notify_ready(others);
        IF claimed >= coalesce(claim_max, 0) THEN
            PERFORM sched._notify_ready(ARRAY(SELECT g FROM unnest(outcome.ready_groups) g WHERE g = ANY(groups)),
                                        everyone => true);
        END IF;
    END IF;
    -- Last: reports that shared an instance's lock decide its end one at a time. Not where
    -- this call claimed a task of the instance: that attempt is still active at the commit,
    -- and until then nobody else can end it (this transaction holds its row), so the instance
    -- cannot end now; the report of that task settles it. This spares a drain of one big
    -- instance the instance row's lock, held to the commit, in every batch.
    unsettled := outcome.unsettled;
    IF unsettled IS NOT NULL AND claimed > 0 THEN
        unsettled := ARRAY(SELECT i FROM unnest(unsettled) i
                           WHERE NOT EXISTS (SELECT FROM sched.task_instance ti
                                             WHERE ti.worker_id = _complete_tasks.worker_id
                                               AND ti.claim_token = _complete_tasks.claim_token
                                               AND ti.state = ANY (sched._task_states_claimed())
                                               AND ti.workflow_instance_id = i));
    END IF;
    IF cardinality(unsettled) > 0 THEN
        PERFORM sched._settle(unsettled);
    END IF;
END
$$;

-- 7_api/lists.sql: one run's attempts are read newest first through its rows; no page is JIT-compiled.
CREATE OR REPLACE FUNCTION sched._list_ids(principal regrole, source text, id_column text, filters jsonb, conditions jsonb,
                                before bigint, max_rows integer, by_runs text DEFAULT NULL) RETURNS bigint[]
LANGUAGE plpgsql STABLE
-- A page is milliseconds of work; estimates over the history's partitions reach JIT's
-- thresholds, and compiling took 1.5 s of every page once a 100,000-task run was archived.
SET jit = off
-- Each call planned for its own values: a plan cached for any role reads a role's few runs by
-- scanning everyone's (0.2 s at a million where its own plan takes milliseconds).
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    filtered text := sched._list_conditions(filters, conditions);
    visible  bigint[] := sched._visible_workflow_ids(principal);
    runs     bigint[];
    oldest   timestamptz;
    ids      bigint[];
BEGIN
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_rows: must be between 1 and 1000, got %', coalesce(max_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF before IS NOT NULL AND before < 1 THEN
        RAISE EXCEPTION 'before: must be an id (the last id of the page before), got %', before
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A role that sees a few runs among many: newest first, the scan below would step over
    -- every other role's attempts before it finds the page (seconds at a million, the planner
    -- cannot know that they are old). Up to 1,000 runs holding up to 10,000 matching rows are
    -- read whole instead, through the runs' index, and sorted.
    IF by_runs IS NOT NULL THEN
        SELECT array_agg(r.id), min(r.created_at) INTO runs, oldest
          FROM (SELECT i.id, i.created_at FROM sched.workflow_instance i
                 WHERE i.workflow_id = ANY (visible) LIMIT 1001) r;
        IF coalesce(cardinality(runs), 0) <= 1000 THEN
            EXECUTE format(
                'SELECT array(SELECT %1$s FROM %2$s
                 WHERE %4$s AND i.workflow_id = ANY ($5)
                   AND ($3 IS NULL OR %1$s < $3)%3$s
                 LIMIT 10001)', id_column, source, filtered, by_runs)
                INTO ids
                USING principal, filters, before, max_rows, visible, coalesce(runs, '{}'), oldest;
            IF cardinality(ids) <= 10000 THEN
                RETURN ARRAY(SELECT x FROM unnest(ids) x ORDER BY x DESC LIMIT max_rows);
            END IF;
        END IF;
    END IF;
    -- Visibility on the run's own column: for a role that sees few runs the planner reads those
    -- through workflow_instance_by_workflow instead of walking every other role's newest first.
    EXECUTE format(
        'SELECT array(SELECT %1$s FROM %2$s
         WHERE i.workflow_id = ANY ($5)
           AND ($3 IS NULL OR %1$s < $3)%3$s
         ORDER BY %1$s DESC LIMIT $4)', id_column, source, filtered)
        INTO ids
        USING principal, filters, before, max_rows, visible;
    RETURN ids;
END
$$;
COMMENT ON FUNCTION sched._list_ids(regrole, text, text, jsonb, jsonb, bigint, integer, text) IS
    'Internal: the ids of a page of a list for principal (its paging arguments and filters checked), newest first; by_runs (a condition on $6, the ids of the runs principal may see, and $7, the oldest one''s creation) lets a list of what runs hold read them run by run when principal sees few.';
CREATE OR REPLACE FUNCTION sched._list_workflow_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.workflow_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- As _list_ids: no page is worth compiling.
SET jit = off
AS $$
DECLARE
    conditions jsonb := $c${
        "workflow": ["i.workflow_id = (SELECT w1.id FROM sched.workflow w1 WHERE w1.name = $2->>'workflow')", "text"],
        "state": ["i.state = ($2->>'state')::sched.workflow_state", "workflow_state"],
        "from": ["i.created_at >= ($2->>'from')::timestamptz", "time"],
        "to": ["i.created_at < ($2->>'to')::timestamptz", "time"],
        "business_date": ["(i.business_time AT TIME ZONE i.time_zone)::date = ($2->>'business_date')::date", "date"],
        "started_by": ["i.started_by = $2->>'started_by'", "text"],
        "command_type": ["(SELECT c.command_type FROM sched.command c WHERE c.workflow_instance_id = i.id ORDER BY c.id LIMIT 1) = $2->>'command_type'", "text"]}$c$;
    ids bigint[] := sched._list_ids(principal, 'sched.workflow_instance i', 'i.id',
                                    filters, conditions, before, max_rows);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._workflow_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id DESC;
END
$$;
CREATE OR REPLACE FUNCTION sched._list_task_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.task_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- As _list_ids: no page is worth compiling.
SET jit = off
AS $$
DECLARE
    conditions jsonb := $c${
        "workflow": ["i.workflow_id = (SELECT w1.id FROM sched.workflow w1 WHERE w1.name = $2->>'workflow')", "text"],
        "task": ["ti.task_id IN (SELECT td.id FROM sched.task_definition td WHERE td.name = $2->>'task')", "text"],
        "state": ["ti.state = ($2->>'state')::sched.task_state", "task_state"],
        "worker": ["ti.worker_id IN (SELECT wk.id FROM sched.worker wk WHERE wk.name = $2->>'worker')", "text"],
        "instance": ["ti.workflow_instance_id = ($2->>'instance')::bigint", "id"],
        "from": ["ti.queued_at >= ($2->>'from')::timestamptz", "time"],
        "to": ["ti.queued_at < ($2->>'to')::timestamptz", "time"]}$c$;
    ids bigint[] := sched._list_ids(principal,
                                    'sched._attempts ti JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id', 'ti.id',
                                    filters, conditions, before, max_rows,
                                    -- An attempt ends after its run began: days of history before the oldest run are not read.
                                    -- One run's attempts are read newest first through its own rows
                                    -- instead: it may hold more than the 10,000 read whole.
                                    CASE WHEN NOT coalesce(filters ? 'instance', false)
                                         THEN 'ti.workflow_instance_id = ANY ($6) AND (ti.ended_at IS NULL OR ti.ended_at >= $7)' END);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._task_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id DESC;
END
$$;

-- 7_api/roles.sql: triggers name their owner by OID, as workflows do.
CREATE OR REPLACE FUNCTION sched._reassign_owned(roles oid[], new_owner oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    moved integer;
BEGIN
    UPDATE sched.workflow w SET owner = new_owner::regrole WHERE w.owner = ANY(roles::regrole[]);
    GET DIAGNOSTICS moved = ROW_COUNT;
    UPDATE sched.trigger t SET owner = new_owner::regrole WHERE t.owner = ANY(roles::regrole[]);
    IF FOUND THEN
        moved := moved + 1;
    END IF;
    -- Project parameters go with the workflows, unless the new owner has its own (of several
    -- old roles', the first's).
    DELETE FROM sched.project_param pp
    WHERE pp.role = ANY(roles::regrole[])
      AND (EXISTS (SELECT 1 FROM sched.project_param n WHERE n.role = new_owner::regrole)
           OR pp.role::oid > (SELECT min(o.role::oid) FROM sched.project_param o WHERE o.role = ANY(roles::regrole[])));
    UPDATE sched.project_param pp SET role = new_owner::regrole WHERE pp.role = ANY(roles::regrole[]);
    IF FOUND THEN
        moved := moved + 1;
    END IF;
    IF moved > 0 THEN
        PERFORM sched._anchor_role(new_owner::regrole);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._reassign_owned(oid[], oid) IS
    'Internal, run after REASSIGN OWNED: the workflows and triggers of roles now belong to new_owner, and their project parameters unless new_owner has its own.';
CREATE OR REPLACE FUNCTION sched._drop_owned(roles oid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf sched.workflow;
    t  sched.trigger;
BEGIN
    FOR t IN SELECT * FROM sched.trigger tr WHERE tr.owner = ANY(roles::regrole[]) AND tr.kind <> 'dataset' ORDER BY tr.id FOR UPDATE LOOP
        PERFORM sched._remove_trigger(t);
    END LOOP;
    FOR wf IN SELECT * FROM sched.workflow w WHERE w.owner = ANY(roles::regrole[]) ORDER BY w.id FOR UPDATE LOOP
        PERFORM sched._remove_workflow(wf);
    END LOOP;
    DELETE FROM sched.tenant_grant g WHERE g.role = ANY(roles::regrole[]);
    DELETE FROM sched.use_grant u WHERE u.role = ANY(roles::regrole[]);
    DELETE FROM sched.project_param pp WHERE pp.role = ANY(roles::regrole[]);
END
$$;
COMMENT ON FUNCTION sched._drop_owned(oid[]) IS
    'Internal, run before DROP OWNED: drops the triggers and workflows of roles (refused while one has unfinished instances), their tenant grants, use grants and project parameters.';

-- 2_kernel/locks.sql, 3_engine/complete.sql and advance.sql: workers' reports of successes in
-- one instance that decides nothing in the database share its lock (FOR KEY SHARE) and take it
-- exclusively only to decide whether it has ended; whoever changes what an instance does locks
-- it FOR UPDATE, and a shared report decides the instance's end last (sched._settle).
CREATE OR REPLACE FUNCTION sched._lock_instances(ids bigint[], shared boolean, wait boolean) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    gate    CONSTANT integer := 1935893860;
    locked  bigint[] := '{}';
    one     bigint;
    timeout text;
BEGIN
    IF shared THEN
        -- A shared lock is taken for one instance, at once or not at all: a batch that shares
        -- reports on one, and locks it alone when it cannot share. The gate first: its try
        -- fails while an exclusive locker queues there, and a report that took the row first
        -- would keep that locker waiting for it.
        one := ids[1];
        IF pg_catalog.pg_try_advisory_xact_lock_shared(gate, (one & 2147483647)::integer) THEN
            IF EXISTS (SELECT 1 FROM sched.workflow_instance wi WHERE wi.id = one FOR KEY SHARE SKIP LOCKED) THEN
                RETURN ids;
            END IF;
        END IF;
        RETURN locked;
    END IF;
    IF wait THEN
        -- One at a time, lowest id first: a row is waited for only with every lower one held.
        FOREACH one IN ARRAY ARRAY(SELECT i FROM unnest(ids) i ORDER BY i) LOOP
            IF NOT EXISTS (SELECT 1 FROM sched.workflow_instance wi WHERE wi.id = one
                           FOR UPDATE SKIP LOCKED) THEN
                -- At most a second, and less under a shorter lock_timeout of the caller's.
                timeout := pg_catalog.current_setting('lock_timeout');
                BEGIN
                    PERFORM pg_catalog.set_config('lock_timeout',
                        CASE WHEN timeout::interval = '0' OR timeout::interval > '1s' THEN '1s' ELSE timeout END, true);
                    PERFORM pg_catalog.pg_advisory_xact_lock(gate, (one & 2147483647)::integer);
                EXCEPTION WHEN lock_not_available THEN
                    NULL;
                END;
                PERFORM pg_catalog.set_config('lock_timeout', timeout, true);
                PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = one FOR UPDATE;
            END IF;
        END LOOP;
        RETURN ids;
    END IF;
    SELECT coalesce(array_agg(l.id), '{}') INTO locked FROM (
        SELECT wi.id FROM sched.workflow_instance wi WHERE wi.id = ANY(ids)
        ORDER BY wi.id FOR UPDATE SKIP LOCKED) l;
    IF cardinality(locked) = cardinality(ids) THEN
        RETURN locked;
    END IF;
    -- Taken by others: a moment at the gate lets the reports that hold it finish and keeps new
    -- ones out; a lock that stays taken (a user's open transaction) is skipped.
    FOREACH one IN ARRAY ARRAY(SELECT w.id FROM sched.workflow_instance w
                              WHERE w.id = ANY(ids) AND NOT w.id = ANY(locked) ORDER BY w.id) LOOP
        timeout := pg_catalog.current_setting('lock_timeout');
        BEGIN
            PERFORM pg_catalog.set_config('lock_timeout', '50ms', true);
            PERFORM pg_catalog.pg_advisory_xact_lock(gate, (one & 2147483647)::integer);
            PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = one FOR UPDATE;
            locked := locked || one;
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
        PERFORM pg_catalog.set_config('lock_timeout', timeout, true);
    END LOOP;
    RETURN locked;
END
$$;
COMMENT ON FUNCTION sched._lock_instances(bigint[], boolean, boolean) IS
    'Internal: locks these instances, FOR KEY SHARE with their gate (reports of successes side by side) or FOR UPDATE, queueing at the gate when taken (everything else); returns those now locked (with wait false, the others are skipped).';
CREATE OR REPLACE FUNCTION sched._lock_family(ids bigint[], wait boolean) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    family bigint[];
    locked bigint[];
BEGIN
    SELECT array_agg(DISTINCT f.id ORDER BY f.id) INTO family
    FROM sched.workflow_instance wi CROSS JOIN LATERAL unnest(wi.ancestors || wi.id) AS f(id)
    WHERE wi.id = ANY(ids);
    locked := sched._lock_instances(family, false, wait);
    RETURN ARRAY(SELECT wi.id FROM sched.workflow_instance wi
                 WHERE wi.id = ANY(ids) AND (wi.ancestors || wi.id) <@ locked);
END
$$;
COMMENT ON FUNCTION sched._lock_family(bigint[], boolean) IS
    'Internal: locks these instances with the instances above them (sub-processes) exclusively, lowest id first; returns those now locked with their whole family.';
CREATE OR REPLACE FUNCTION sched._admit(workflow_id bigint, execution_type text, principal_name text) RETURNS sched.workflow_state
LANGUAGE plpgsql
AS $$
DECLARE
    earlier bigint[];
BEGIN
    IF execution_type <> 'parallel' THEN
        -- The workflow's row: the foreign keys of parallel starts take only KEY SHARE on it,
        -- which this does not wait for.
        PERFORM 1 FROM sched.workflow w WHERE w.id = _admit.workflow_id FOR NO KEY UPDATE;
        -- Sub-process instances are admitted with their parents, not here.
        SELECT array_agg(wi.id ORDER BY wi.id) INTO earlier
        FROM sched.workflow_instance wi
        WHERE wi.workflow_id = _admit.workflow_id AND wi.state <> ALL (sched._workflow_states_finished())
          AND wi.parent_instance_id IS NULL;
        IF earlier IS NOT NULL THEN
            IF execution_type = 'serial_wait' THEN
                RETURN 'serial_wait';
            ELSIF execution_type = 'serial_discard' THEN
                RETURN 'stopped';
            END IF;
            -- serial_priority: the earlier ones are stopped, the new one runs.
            PERFORM sched._lock_family(earlier, true);
            INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
            SELECT 'stop', _admit.workflow_id, e, principal_name, '{"reason": "serial_priority"}' FROM unnest(earlier) e;
            UPDATE sched.workflow_instance wi SET state = 'ready_stop' WHERE wi.id = ANY(earlier) AND wi.state <> 'ready_stop';
            PERFORM sched._kill_active(earlier, 'stop');
            PERFORM sched._finish_if_done(earlier);
        END IF;
    END IF;
    IF NOT sched._below_running_limit() THEN
        RETURN 'waiting_thread';
    END IF;
    RETURN 'running';
END
$$;
COMMENT ON FUNCTION sched._admit(bigint, text, text) IS
    'Internal: the state a new instance starts in: serial_wait behind an active instance of a serial_wait workflow, stopped behind one of a serial_discard workflow, waiting_thread past sched.max_running_instances, else running (serial_priority stops the active ones first).';
CREATE OR REPLACE FUNCTION sched._pause_instance(instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    slots bigint[];
    c     record;
BEGIN
    UPDATE sched.workflow_instance SET state = 'ready_pause' WHERE id = instance_id;
    -- What has not started waits, paused; what runs finishes.
    WITH paused AS (
        UPDATE sched.task_instance ti SET state = 'paused', ended_at = now(), not_before = NULL
        WHERE ti.workflow_instance_id = instance_id AND ti.state = ANY (sched._task_states_waiting())
        RETURNING ti.id, ti.holds_slot)
    SELECT array_agg(id) FILTER (WHERE holds_slot) INTO slots FROM paused;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    FOR c IN
        SELECT ch.id, ch.workflow_id FROM sched.workflow_instance ch
        JOIN sched.task_instance ti ON ti.id = ch.parent_task_instance_id
        WHERE ch.parent_instance_id = instance_id AND ti.state = 'running' AND ch.state = 'running'
        ORDER BY ch.id
        FOR UPDATE OF ch
    LOOP
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        VALUES ('pause', c.workflow_id, c.id, 'pg_sched', jsonb_build_object('parent_instance_id', instance_id));
        PERFORM sched._pause_instance(c.id);
    END LOOP;
    WITH paused AS (
        UPDATE sched.task_instance ti SET state = 'paused', ended_at = now(), recheck_at = NULL
        WHERE ti.workflow_instance_id = instance_id AND ti.state = 'running' AND ti.worker_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM sched.workflow_instance ch
                          WHERE ch.parent_task_instance_id = ti.id AND ch.parent_instance_id = instance_id
                            AND ch.state <> ALL (sched._workflow_states_finished()))
        RETURNING ti.id)
    DELETE FROM sched.dependent_watch dw WHERE dw.task_instance_id IN (SELECT id FROM paused);
    PERFORM sched._finish_if_done(ARRAY[instance_id]);
END
$$;
COMMENT ON FUNCTION sched._pause_instance(bigint) IS
    'Internal: puts an instance in ready_pause: queued and delayed attempts pause, sub-process children pause with it, waiting DEPENDENT attempts pause; paused once nothing runs.';
CREATE OR REPLACE FUNCTION sched._settle(instances bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = ANY(instances) ORDER BY wi.id FOR NO KEY UPDATE;
    PERFORM sched._finish_if_done(instances);
END
$$;
COMMENT ON FUNCTION sched._settle(bigint[]) IS
    'Internal: after reports that shared these instances'' lock, ends those with nothing left active, one report at a time.';

-- 8_grants/grants.sql: nothing new for PUBLIC; the public functions and views for users, the
-- webhook entry for sched_api.
DO $revoke$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'sched'::regnamespace
               AND p.proname IN ('_webhook_signature_ok', '_trigger_refusal', '_trigger_params', '_fire', '_fire_workflow_end',
                                 '_table_changed', '_produce_datasets', '_sync_dataset_trigger', '_drain_events',
                                 '_trigger_options', '_trigger_interval', '_trigger_target', 'on_workflow_end',
                                 '_on_workflow_end', 'on_table_change', '_on_table_change', 'create_webhook',
                                 '_create_webhook', '_receive_webhook', '_trigger_for', 'enable_trigger', '_enable_trigger',
                                 'disable_trigger', '_disable_trigger', '_remove_trigger', 'drop_trigger', '_drop_trigger',
                                 '_new_attempts', '_task_context', '_dynamic_lists', '_expand', '_release_elements',
                                 '_elements_ended', '_kill_elements', '_gather_elements', '_subprocess_refs', '_kill_attempts',
                                 '_sql_checks', '_analyze_as', '_login_search_path', '_check_sql',
                                 '_guard_objects', '_guard_dropped', '_guard_altered',
                                 '_test_sql', 'test_run', '_test_run', '_start_values',
                                 '_deadline_at', '_deadline_states', '_schedule_deadline', '_deadline_tick',
                                 '_task_order', '_conditions_hold', '_sql_owner_refusal', '_test_states', '_test_states_success',
                                 '_admit_statement', '_check_admit_when', '_sample_load', '_load', '_admit_interval',
                                 '_admit_reason', '_admit_held', '_waiting_for', '_admit_tick', 'create_task_group',
                                 '_create_task_group', '_instance_snapshot', '_release_snapshot', '_snapshot_holders',
                                 '_snapshot_tick', '_in_master', '_producers_exist', '_analyze_grown', '_vacuum_due',
                                 '_prepare_spec', 'instance_tasks', '_instance_tasks', '_latest_attempt', '_instance_page',
                                 'instance_attempts', '_instance_attempts', '_render_graph', '_version_edges', '_successor_ids',
                                 '_notify_ready', '_named_wake_protocol', '_worker_channel', '_heartbeat_period', '_lock_instances', '_advance',
                                 '_complete', '_settle', '_reported_outcome')
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$revoke$;
GRANT EXECUTE ON FUNCTION
    sched.on_workflow_end(text, text, jsonb),
    sched.on_table_change(regclass, text, jsonb),
    sched.create_webhook(text, jsonb),
    sched.enable_trigger(bigint),
    sched.disable_trigger(bigint),
    sched.drop_trigger(bigint),
    sched.test_run(text, jsonb, jsonb),
    sched.create_task_group(text, integer, text, boolean, text),
    sched.instance_tasks(bigint, text, integer),
    sched.instance_attempts(bigint, text, integer)
TO sched_user, sched_admin;
GRANT EXECUTE ON FUNCTION sched._load() TO sched_user, sched_admin, pg_monitor;
GRANT EXECUTE ON FUNCTION sched._waiting_for(bigint, bigint) TO sched_user, sched_admin;
GRANT SELECT ON sched.load TO sched_user, sched_admin, pg_monitor;
-- As REVOKE ALL ON ALL TABLES does for a fresh install: their privileges spelled out, none for PUBLIC.
REVOKE ALL ON sched.trigger, sched.trigger_event, sched.trigger_fire, sched.dataset_event,
              sched.dynamic_element, sched.dynamic_progress, sched.workflow_dependency, sched.deadline_check,
              sched.admit_check, sched.load_sample FROM PUBLIC;
GRANT SELECT ON sched.triggers, sched.datasets, sched.dataset_events, sched.workflow_dependencies, sched.deadlines
    TO sched_user, sched_admin;
GRANT EXECUTE ON FUNCTION sched._receive_webhook(text, bytea, text, text, text) TO sched_api;
