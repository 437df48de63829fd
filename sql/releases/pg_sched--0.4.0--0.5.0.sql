-- pg_sched 0.4.0 to 0.5.0 (CHANGELOG.md): the choices of a spec's enum-like fields and of a
-- backfill's options for forms and checks (sched._spec_choices, sched._choices), and the list
-- functions finding a role's runs through the workflows it may see
-- (sched._visible_workflow_ids) and its attempts run by run when it sees few,
-- sched.instance_tasks fast at 10,000 tasks, and the home page's counts over a range
-- (sched.hourly_instance_states, sched.hourly_task_states, the index workflow_instance_created).
-- Run by ALTER EXTENSION pg_sched UPDATE, in one transaction; the test of tests/tests/upgrade.rs
-- checks that a database of an earlier release updated by it has the schema of a fresh 0.5.0
-- install and keeps all it held. Tables: the one index, sched.alert takes tests of alert
-- groups (sched.test_alert_group), which concern no instance, and sched.backfill's checks of
-- mode and on_failure read the vocabulary (the same values).

\echo Use "ALTER EXTENSION pg_sched UPDATE" to load this file. \quit

-- 1_schema/01_vocabulary.sql
CREATE FUNCTION sched._spec_choices() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"backfill_modes":["serial","parallel"],"backfill_on_failure":["stop","continue"],"backfill_orders":["desc","asc"],"condition_statuses":["succeeded","failed"],"cycles":[{"cycle":"hour","date_values":["currentHour","last1Hour","last2Hours","last3Hours","last24Hours"]},{"cycle":"day","date_values":["today","last1Days","last2Days","last3Days","last7Days"]},{"cycle":"week","date_values":["thisWeek","lastWeek","lastMonday","lastTuesday","lastWednesday","lastThursday","lastFriday","lastSaturday","lastSunday"]},{"cycle":"month","date_values":["thisMonth","thisMonthBegin","lastMonth","lastMonthBegin","lastMonthEnd"]}],"dependent_failures":["fail","wait"],"execution_types":["parallel","serial_wait","serial_discard","serial_priority"],"failure_strategies":["continue","end"],"notify_strategies":["none","success","failure","all"],"param_types":["varchar","integer","long","float","double","date","time","timestamp","boolean","list"],"priorities":["highest","high","medium","low","lowest"],"relations":["and","or"],"timeout_strategies":["warn","fail","warn_fail"],"workflow_timeout_strategies":["warn","stop"]}'::jsonb $$;
COMMENT ON FUNCTION sched._spec_choices() IS 'Internal: the values a spec''s enum-like fields allow (failure strategies, execution types, priorities, timeout and notify strategies, parameter types, relations, condition statuses, DEPENDENT''s failure policies and its cycles with their date values) and a backfill''s options (modes, orders, on_failure), each list in the order errors name them: what forms offer.';

CREATE FUNCTION sched._choices(kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY(SELECT pg_catalog.jsonb_array_elements_text(sched._spec_choices() OPERATOR(pg_catalog.->) kind)) $$;
COMMENT ON FUNCTION sched._choices(text) IS 'Internal: one list of sched._spec_choices(), as an array.';
-- As 8_grants does: revoked from PUBLIC with everything, then granted again.
REVOKE ALL ON FUNCTION sched._spec_choices(), sched._choices(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sched._spec_choices(), sched._choices(text) TO PUBLIC;

-- 1_schema/64_schedules.sql: a backfill's mode and failure policy are the vocabulary's.
ALTER TABLE sched.backfill
    DROP CONSTRAINT backfill_mode_check,
    ADD CONSTRAINT backfill_mode_check CHECK (mode = ANY (sched._choices('backfill_modes'))),
    DROP CONSTRAINT backfill_on_failure_check,
    ADD CONSTRAINT backfill_on_failure_check CHECK (on_failure = ANY (sched._choices('backfill_on_failure')));

-- 7_api/backfill.sql
CREATE OR REPLACE FUNCTION sched._backfill_checked(principal regrole, workflow text, dates timestamptz[], options jsonb)
RETURNS sched.workflow
LANGUAGE plpgsql
AS $$
DECLARE
    wf   sched.workflow;
    mode text := lower(coalesce(options->>'mode', 'serial'));
BEGIN
    IF dates IS NOT NULL AND cardinality(dates) > 10000 THEN
        RAISE EXCEPTION 'dates: % dates; a backfill runs at most 10000', cardinality(dates)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'Split it into several backfills.';
    END IF;
    wf := sched._fire_options(principal, workflow, options, ARRAY['mode', 'parallelism', 'order', 'on_failure', 'timezone', 'dependents', 'dry_run'],
                              CASE WHEN options->'params' <> '{}' THEN 'backfill it with parameters' END);
    IF options ? 'dry_run' AND jsonb_typeof(options->'dry_run') <> 'boolean' THEN
        RAISE EXCEPTION 'options.dry_run: must be true or false' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'dependents' AND jsonb_typeof(options->'dependents') <> 'boolean' THEN
        RAISE EXCEPTION 'options.dependents: must be true or false' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF mode <> ALL (sched._choices('backfill_modes')) THEN
        RAISE EXCEPTION 'options.mode: "%" is not allowed; allowed: %', options->>'mode', array_to_string(sched._choices('backfill_modes'), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'order', 'desc')) <> ALL (sched._choices('backfill_orders')) THEN
        RAISE EXCEPTION 'options.order: "%" is not allowed; allowed: %', options->>'order', array_to_string(sched._choices('backfill_orders'), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'on_failure', 'stop')) <> ALL (sched._choices('backfill_on_failure')) THEN
        RAISE EXCEPTION 'options.on_failure: "%" is not allowed; allowed: %', options->>'on_failure', array_to_string(sched._choices('backfill_on_failure'), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'parallelism' THEN
        IF jsonb_typeof(options->'parallelism') <> 'number' OR (options->>'parallelism')::numeric NOT BETWEEN 1 AND 1000
           OR (options->>'parallelism')::numeric <> trunc((options->>'parallelism')::numeric) THEN
            RAISE EXCEPTION 'options.parallelism: must be a whole number from 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF mode <> 'parallel' THEN
            RAISE EXCEPTION 'options.parallelism: applies to mode parallel' USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    RETURN wf;
END
$$;


-- 2_kernel/access.sql
-- Lists and counts filter runs on their own workflow_id column with this (`= ANY`): the planner
-- then knows how many rows a role that sees few of many leaves and reads them through
-- workflow_instance_by_workflow, where a check of each row's owner walks every other role's.
CREATE FUNCTION sched._visible_workflow_ids(principal regrole) RETURNS bigint[]
LANGUAGE sql STABLE
AS $$ SELECT ARRAY(SELECT w.id FROM sched.workflow w WHERE sched._may_see(principal, w.owner)) $$;
COMMENT ON FUNCTION sched._visible_workflow_ids(regrole) IS
    'Internal: the ids of the workflows principal may see (sched._may_see).';
REVOKE ALL ON FUNCTION sched._visible_workflow_ids(regrole) FROM PUBLIC;

-- 7_api/lists.sql
DROP FUNCTION sched._list_ids(regrole, text, text, jsonb, jsonb, bigint, integer);
CREATE FUNCTION sched._list_ids(principal regrole, source text, id_column text, filters jsonb, conditions jsonb,
                                before bigint, max_rows integer, by_runs text DEFAULT NULL) RETURNS bigint[]
LANGUAGE plpgsql STABLE
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
REVOKE ALL ON FUNCTION sched._list_ids(regrole, text, text, jsonb, jsonb, bigint, integer, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sched._list_workflow_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.workflow_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
                                    'ti.workflow_instance_id = ANY ($6) AND (ti.ended_at IS NULL OR ti.ended_at >= $7)');
BEGIN
    RETURN QUERY SELECT r.* FROM sched._task_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id DESC;
END
$$;

-- 7_api/graphs.sql
CREATE OR REPLACE FUNCTION sched._instance_tasks(principal regrole, instance_id bigint)
RETURNS TABLE (task text, type text, deps text[], depth integer, task_instance_id bigint, state text, attempt integer,
               worker text, exit_code integer, started_at timestamptz, ended_at timestamptz, duration interval)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The walk's row estimates are wild (a recursive CTE over CTEs), and a nested loop chosen on a
-- version whose tasks have no statistics yet took a minute at 10,000 tasks; hash joins take
-- under a second, and JIT, triggered by those estimates, only added to it.
SET enable_nestloop = off
SET jit = off
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._instance_for(principal, instance_id, false);
    RETURN QUERY
    WITH RECURSIVE tasks AS (
        SELECT td.id, td.name, td.task_type, td.successors
          FROM sched.task_definition td
         WHERE td.workflow_version_id = inst.workflow_version_id AND (inst.scope IS NULL OR td.id = ANY(inst.scope))
    ), edges AS (
        SELECT t.id AS up, s.id AS down FROM tasks t CROSS JOIN LATERAL unnest(t.successors) AS s(id)
        WHERE s.id IN (SELECT id FROM tasks)
    ), walk AS (
        -- The longest path from a root: every task comes after all its upstream tasks.
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
    SELECT t.name, t.task_type, coalesce(up.names, '{}'),
           p.depth, a.id, coalesce(a.state, 'not run'), a.attempt, wk.name, a.exit_code,
           a.started_at, a.ended_at, a.ended_at - a.started_at
      FROM tasks t
      JOIN placed p ON p.id = t.id
      LEFT JOIN upstream up ON up.id = t.id
      LEFT JOIN sched._latest_attempts(instance_id) a ON a.task_id = t.id
      LEFT JOIN sched.worker wk ON wk.id = a.worker_id
     ORDER BY p.depth, t.id;
END
$$;

-- 1_schema/20_instances.sql
CREATE INDEX workflow_instance_created ON sched.workflow_instance (created_at);

-- 7_api/dashboard.sql
-- The range of a dashboard function, checked: both ends given, from before to.
CREATE FUNCTION sched._check_range(range_from timestamptz, range_to timestamptz) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF range_from IS NULL OR range_to IS NULL OR range_from >= range_to THEN
        RAISE EXCEPTION 'range_from, range_to: must both be given, range_from before range_to; got % and %',
                        coalesce(range_from::text, 'NULL'), coalesce(range_to::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_range(timestamptz, timestamptz) IS 'Internal: raises unless range_from and range_to are given and range_from is before range_to.';

CREATE FUNCTION sched.hourly_instance_states(range_from timestamptz, range_to timestamptz)
RETURNS TABLE (hour timestamptz, workflow text, state text, instances bigint)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._hourly_instance_states(principal regrole, range_from timestamptz, range_to timestamptz)
RETURNS TABLE (hour timestamptz, workflow text, state text, instances bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Planned for its range: a day reads an index, a month may not.
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    PERFORM sched._check_range(range_from, range_to);
    RETURN QUERY
    SELECT date_trunc('hour', i.created_at), w.name, i.state::text, count(*)
      FROM sched.workflow_instance i
      JOIN sched.workflow w ON w.id = i.workflow_id
     WHERE i.workflow_id = ANY (sched._visible_workflow_ids(principal))
       AND i.created_at >= range_from AND i.created_at < range_to
     GROUP BY 1, 2, 3;
END
$$;
COMMENT ON FUNCTION sched.hourly_instance_states(timestamptz, timestamptz) IS
    'Workflow instances you may see created in [range_from, range_to), by the hour (in the session''s time zone), workflow and the state they are in now: sched.instance_states_hourly for a range, read through an index.';

CREATE FUNCTION sched.hourly_task_states(range_from timestamptz, range_to timestamptz)
RETURNS TABLE (hour timestamptz, workflow text, state text, attempts bigint)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._hourly_task_states(principal regrole, range_from timestamptz, range_to timestamptz)
RETURNS TABLE (hour timestamptz, workflow text, state text, attempts bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    visible bigint[];
BEGIN
    PERFORM sched._check_range(range_from, range_to);
    visible := sched._visible_workflow_ids(principal);
    RETURN QUERY
    WITH alive AS (
        SELECT i.id, i.workflow_id FROM sched.workflow_instance i
         WHERE i.workflow_id = ANY (visible) AND i.created_at < range_to AND i.ended_at >= range_from
        UNION ALL
        SELECT i.id, i.workflow_id FROM sched.workflow_instance i
         WHERE i.workflow_id = ANY (visible) AND i.created_at < range_to
           AND i.state <> ALL (sched._workflow_states_finished())
    )
    SELECT date_trunc('hour', ti.queued_at), w.name, ti.state::text, count(*)
      FROM alive a
      JOIN sched._attempts ti ON ti.workflow_instance_id = a.id
      JOIN sched.workflow w ON w.id = a.workflow_id
     WHERE ti.queued_at >= range_from AND ti.queued_at < range_to
     GROUP BY 1, 2, 3;
END
$$;
COMMENT ON FUNCTION sched.hourly_task_states(timestamptz, timestamptz) IS
    'Task attempts you may see queued in [range_from, range_to), by the hour (in the session''s time zone), workflow and the state they are in now: sched.task_states_hourly for a range, read through the runs alive in it.';

-- 8_grants/grants.sql: nothing for PUBLIC, the public functions for users.
REVOKE ALL ON FUNCTION
    sched._check_range(timestamptz, timestamptz),
    sched.hourly_instance_states(timestamptz, timestamptz),
    sched._hourly_instance_states(regrole, timestamptz, timestamptz),
    sched.hourly_task_states(timestamptz, timestamptz),
    sched._hourly_task_states(regrole, timestamptz, timestamptz)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    sched.hourly_instance_states(timestamptz, timestamptz),
    sched.hourly_task_states(timestamptz, timestamptz)
TO sched_user, sched_admin;

-- 1_schema/62_alerts.sql: a test of an alert group concerns no instance.
ALTER TABLE sched.alert ALTER COLUMN workflow_instance_id DROP NOT NULL;
ALTER TABLE sched.alert DROP CONSTRAINT alert_event_check;
ALTER TABLE sched.alert ADD CONSTRAINT alert_event_check
    CHECK (event IN ('workflow_succeeded', 'workflow_failed', 'workflow_stopped',
                     'workflow_paused', 'task_timeout', 'workflow_timeout',
                     'fault_tolerance', 'sql_result', 'test'));
ALTER TABLE sched.alert ADD CONSTRAINT alert_instance_unless_test CHECK (workflow_instance_id IS NOT NULL OR event = 'test');
COMMENT ON TABLE sched.alert IS 'Alerts the engine raised, one per event, written in the transaction that caused it, and tests of alert groups; read through sched.alerts. Deleted with their workflow instance (a test, once as old as sched.history_retention).';
COMMENT ON COLUMN sched.alert.event IS 'The event: workflow_succeeded, workflow_failed, workflow_stopped, workflow_paused, task_timeout, workflow_timeout, fault_tolerance, sql_result, or test (sched.test_alert_group).';
COMMENT ON COLUMN sched.alert.workflow_instance_id IS 'The workflow instance concerned; NULL for a test.';

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
    -- Tests of alert groups concern no instance: they go by their own age.
    DELETE FROM sched.alert a WHERE a.workflow_instance_id IS NULL AND a.created_at < now - history_retention;
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
    'Internal, run by the master: keeps the day partitions of the history, drops those older than history_retention, deletes the tests of alert groups older than history_retention, and deletes up to batch finished instances that ended more than history_retention before now with what is left of their attempts, logs and commands; returns how many instances.';

-- 5_protocol/alert_delivery.sql
CREATE OR REPLACE FUNCTION sched._claim_alerts(principal regrole, worker_id bigint, max_alerts integer)
RETURNS TABLE (alert_id bigint, channel_no integer, channel jsonb, attempt integer, event text,
               workflow_instance_id bigint, task_instance_id bigint, title text, message text, details jsonb,
               created_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    most integer := current_setting('sched.alert_max_attempts')::integer;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    -- A claim that lapsed after the last attempt: its worker went away mid-send.
    UPDATE sched.alert_delivery d
       SET state = 'failed', last_error = coalesce(d.last_error || '; ', '') || 'the worker sending the last attempt went away'
     WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND d.attempts >= most;
    RETURN QUERY
    WITH due AS (
        SELECT d.alert_id, d.channel_no FROM sched.alert_delivery d
         WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND d.attempts < most
         ORDER BY d.next_attempt_at
         LIMIT greatest(1, least(coalesce(max_alerts, 10), 1000))
         FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE sched.alert_delivery d
           SET attempts = d.attempts + 1, next_attempt_at = now() + sched._alert_claim_lapse(),
               worker_id = _claim_alerts.worker_id
          FROM due
         WHERE d.alert_id = due.alert_id AND d.channel_no = due.channel_no
        RETURNING d.alert_id, d.channel_no, d.channel, d.attempts)
    -- 0 for a test, which concerns no instance: the protocol's column has always been set.
    SELECT c.alert_id, c.channel_no, c.channel, c.attempts, a.event, coalesce(a.workflow_instance_id, 0), a.task_instance_id,
           a.title, a.message, a.details, a.created_at
      FROM claimed c JOIN sched.alert a ON a.id = c.alert_id
     ORDER BY c.alert_id, c.channel_no;
END
$$;
COMMENT ON FUNCTION sched.claim_alerts(bigint, integer) IS
    'Worker protocol: claims up to max_alerts due alert deliveries (SKIP LOCKED), each with its channel and content (workflow_instance_id 0 for a test of the group); a claim lapses after 2 minutes.';

-- 6_views/alerts.sql
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
LEFT JOIN sched.workflow w ON w.id = i.workflow_id
LEFT JOIN sched.alert_delivery d ON d.alert_id = a.id
-- Addresses, URLs and commands are for the group's owner and sched_admin to see.
LEFT JOIN sched.alert_group g ON g.name = a.alert_group
-- A test of a group (no instance) is for those who may see the group's channels.
WHERE CASE WHEN a.workflow_instance_id IS NULL THEN coalesce(sched._visible(g.owner), false)
           ELSE coalesce(sched._visible(w.owner), false) END;
COMMENT ON VIEW sched.alerts IS 'Alerts the engine raised, for the workflows you may see, and tests of the alert groups you own: one row per alert and channel of its group (the outbox), or one row with no channel when the instance names no alert group.';
COMMENT ON COLUMN sched.alerts.id IS 'Alert id.';
COMMENT ON COLUMN sched.alerts.event IS 'workflow_succeeded, workflow_failed, workflow_stopped, workflow_paused (by the notify strategy), task_timeout, workflow_timeout, fault_tolerance, sql_result, or test (sched.test_alert_group).';
COMMENT ON COLUMN sched.alerts.workflow_instance_id IS 'Workflow instance id; NULL for a test.';
COMMENT ON COLUMN sched.alerts.workflow IS 'Workflow name; NULL for a test.';
COMMENT ON COLUMN sched.alerts.task_instance_id IS 'The task attempt; NULL for a workflow alert.';
COMMENT ON COLUMN sched.alerts.alert_group IS 'Alert group it went to; NULL when none was named.';
COMMENT ON COLUMN sched.alerts.channel_no IS 'Position of the channel in the group, from 1; NULL without a group.';
COMMENT ON COLUMN sched.alerts.channel IS 'email, webhook or script; NULL without a group.';
COMMENT ON COLUMN sched.alerts.target IS 'Recipients, URL (or the configured endpoint''s name) or command; shown to the alert group''s owner and sched_admin only, NULL for others.';
COMMENT ON COLUMN sched.alerts.state IS 'pending, sent or failed (after sched.alert_max_attempts attempts); NULL without a group.';
COMMENT ON COLUMN sched.alerts.attempts IS 'Attempts to send it so far.';
COMMENT ON COLUMN sched.alerts.last_error IS 'Why the last attempt failed.';
COMMENT ON COLUMN sched.alerts.title IS 'Subject line.';
COMMENT ON COLUMN sched.alerts.message IS 'What happened, where, when and how to look.';
COMMENT ON COLUMN sched.alerts.details IS 'The same as data; for sql_result the columns and rows.';
COMMENT ON COLUMN sched.alerts.created_at IS 'When it was raised.';
COMMENT ON COLUMN sched.alerts.next_attempt_at IS 'When it is next tried, while pending.';
COMMENT ON COLUMN sched.alerts.sent_at IS 'When it was sent.';

-- 7_api/alert_groups.sql
CREATE FUNCTION sched.test_alert_group(name text) RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._test_alert_group(principal regrole, name text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g sched.alert_group;
BEGIN
    SELECT * INTO g FROM sched.alert_group ag WHERE ag.name = _test_alert_group.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name: alert group "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, g.owner, pg_catalog.format('alert group "%s"', name));
    RETURN sched._raise_alert(
        'test', NULL, NULL, g.name,
        pg_catalog.format('pg_sched: test of alert group %s', g.name),
        pg_catalog.format(E'A test of alert group %s, sent by %s at %s.\nNo workflow is concerned: if this arrived, the channel works.',
                          g.name, principal, pg_catalog.now()),
        jsonb_build_object('alert_group', g.name, 'sent_by', principal::text));
END
$$;

COMMENT ON FUNCTION sched.test_alert_group(text) IS
    'Sends a test alert (event test, no workflow instance) to each channel of an alert group (its owner or sched_admin), as an alert of the engine would go: returns its id; sched.alerts shows each delivery and its last error.';
REVOKE ALL ON FUNCTION sched.test_alert_group(text), sched._test_alert_group(regrole, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sched.test_alert_group(text) TO sched_user, sched_admin;

-- 6_views/metrics.sql: the priorities from the vocabulary, not a list of its own.
CREATE OR REPLACE VIEW sched.metrics AS
WITH active AS (
    -- One pass over the active attempts (task_instance_active), classified once for every
    -- metric about them. Logic attempts run in the scheduler, with no worker: a waiting
    -- DEPENDENT task has a recheck time, any other is a SUB_PROCESS waiting for its child.
    SELECT ti.worker_group,
           ti.state::text AS state,
           ti.workflow_priority,
           CASE WHEN ti.state = 'delayed' AND ti.not_before IS NOT NULL THEN 'delay'
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
           WHERE a.waiting IS NULL OR a.waiting IN ('delay', 'task_group') GROUP BY 1, 2) c
       ON c.worker_group = g.worker_group AND c.state = s.state
UNION ALL
SELECT 'sched_waiting_task_instances',
       jsonb_build_object('reason', r.reason),
       coalesce(c.n, 0)::float8
FROM unnest(ARRAY['delay', 'task_group', 'dependent', 'sub_process']) AS r(reason)
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
