-- The worker protocol (docs/architecture.md, "The worker protocol"). Only members of
-- sched_worker may call these. A lease is the pair (task instance id, worker id) returned by
-- claim_tasks: every report presents it, and a report for an attempt that is no longer running
-- on that worker (failed over, already reported) changes nothing. Public functions are
-- trampolines over `_<name>(principal, ...)` (2_kernel/access.sql): the principal must be the
-- role that registered the worker. Each is the guard (_worker_guard) around an engine
-- function: claiming is 3_engine/claim.sql, completing 3_engine/complete.sql, a heartbeat's
-- reconciliation 3_engine/failover.sql.

CREATE FUNCTION sched._worker_guard(principal regrole, worker_id bigint, alive_only boolean DEFAULT true) RETURNS text[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    w sched.worker;
BEGIN
    SELECT * INTO w FROM sched.worker wk WHERE wk.id = worker_id;
    IF NOT FOUND OR (alive_only AND NOT w.alive) THEN
        RAISE EXCEPTION 'worker % is not registered or was declared dead', worker_id
            USING ERRCODE = 'SW001', HINT = 'Register again with sched.register_worker.';
    END IF;
    IF NOT coalesce(pg_catalog.pg_has_role(principal, w.login_role, 'MEMBER'), false) THEN
        RAISE EXCEPTION 'permission denied for worker %', worker_id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('It was registered by role %s.', w.login_role);
    END IF;
    RETURN CASE WHEN w.alive THEN w.groups END;
END
$$;
COMMENT ON FUNCTION sched._worker_guard(regrole, bigint, boolean) IS
    'Internal: raises SW001 unless the worker is registered (and alive, with alive_only), insufficient_privilege unless the principal registered it; returns its groups, NULL for a dead registration.';

-- protocol defaults to 1: the workers of release 0.2.0 did not say theirs, and they keep
-- working through an upgrade (the README's "Upgrading").
CREATE FUNCTION sched.register_worker(name text, host text, groups text[] DEFAULT ARRAY['default'], slots integer DEFAULT 1,
                                      token bigint DEFAULT NULL, protocol integer DEFAULT 1)
RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._register_worker(principal regrole, name text, host text, groups text[], slots integer, token bigint,
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
COMMENT ON FUNCTION sched.register_worker(text, text, text[], integer, bigint, integer) IS
    'Worker protocol: registers a worker speaking the given protocol version and returns its id; a protocol the extension does not serve is refused (SW002) naming both and what to upgrade. A live worker of the same name is replaced and its running tasks failed over, unless it is this registration asked for again with the same token (a retry after a lost answer), whose id is returned.';

CREATE FUNCTION sched.heartbeat(worker_id bigint, running integer DEFAULT 0, status text DEFAULT NULL,
                                leases bigint[] DEFAULT NULL, token bigint DEFAULT NULL) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._heartbeat(principal regrole, worker_id bigint, running integer, status text, leases bigint[],
                                 token bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lock_timeout text;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    -- Liveness must not wait for a standby: with the only synchronous standby gone, every
    -- commit waits, and workers would fence and kill their tasks for a database that answers.
    -- What this transaction fails over is found again if it is lost with a promotion.
    PERFORM pg_catalog.set_config('synchronous_commit', 'local', true);
    -- Re-checked under the row lock: the master may have declared it dead in between. The
    -- token tells this registration from another that got the same id from a promoted
    -- standby whose sequence had not seen the first.
    UPDATE sched.worker w SET last_heartbeat = now(), running = coalesce(_heartbeat.running, 0),
                              status = left(_heartbeat.status, 1000)
    WHERE w.id = worker_id AND w.alive
      AND (_heartbeat.token IS NULL OR w.registration_token IS NOT DISTINCT FROM _heartbeat.token);
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- The heartbeat must get through whatever locks the attempts (VACUUM FULL, ALTER TABLE, a
    -- completion): reconciling waits for no lock, and is the next heartbeat's if one is held.
    IF leases IS NOT NULL THEN
        lock_timeout := pg_catalog.current_setting('lock_timeout');
        BEGIN
            PERFORM pg_catalog.set_config('lock_timeout', '50ms', true);
            PERFORM sched._reconcile(worker_id, ARRAY(
                SELECT ti.id FROM sched.task_instance ti
                WHERE ti.worker_id = _heartbeat.worker_id AND ti.state = ANY(sched._task_states_claimed())
                  AND NOT ti.id = ANY(leases)));
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
        PERFORM pg_catalog.set_config('lock_timeout', lock_timeout, true);
    END IF;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'SW001' THEN
    -- Declared dead: its tasks were failed over; it must kill what it runs and register anew.
    RETURN false;
END
$$;
COMMENT ON FUNCTION sched.heartbeat(bigint, integer, text, bigint[], bigint) IS
    'Worker protocol: records that the worker is alive, how many tasks it runs and, when it is not healthy, why (status); token, when given, must be the one it registered with. With leases (the task instance ids it runs or has yet to report), an attempt the database believes runs on it but that it does not list, claimed longer than the grace ago, is failed over (or ends killed if it was to be killed): its claim or its report was lost with a commit. false means it was declared dead: it must kill its tasks and register again.';

CREATE FUNCTION sched.unknown_tasks(worker_id bigint, task_instance_ids bigint[]) RETURNS integer
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._unknown_tasks(principal regrole, worker_id bigint, task_instance_ids bigint[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sched._worker_guard(principal, _unknown_tasks.worker_id);
    RETURN sched._reconcile(_unknown_tasks.worker_id, task_instance_ids);
END
$$;
COMMENT ON FUNCTION sched.unknown_tasks(bigint, bigint[]) IS
    'Worker protocol: the worker was asked to kill (or holds leases of) these task instances but does not run them; those it was asked to kill end killed, the others are failed over, once claimed longer than the grace (sched.worker_timeout, at least 15 s) ago. Returns how many were taken from it.';

CREATE FUNCTION sched.release_tasks(worker_id bigint, task_instance_ids bigint[]) RETURNS SETOF bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._release_tasks(principal regrole, worker_id bigint, task_instance_ids bigint[]) RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    groups   text[];
BEGIN
    PERFORM sched._worker_guard(principal, _release_tasks.worker_id);
    -- The attempt never started: it goes back to the queue as it was, counting as nothing,
    -- for any worker (this one backs off). No instance lock is needed: nothing about the
    -- instance changes, and a concurrent stop either killed it already or finds it queued.
    WITH back AS (
        UPDATE sched.task_instance ti
           SET state = 'queued', worker_id = NULL, claim_token = NULL, started_at = NULL
         WHERE ti.id = ANY(task_instance_ids) AND ti.worker_id = _release_tasks.worker_id
           AND ti.state = ANY (sched._task_states_claimed()) AND NOT ti.kill_requested
        RETURNING ti.worker_group)
    SELECT array_agg(DISTINCT worker_group) INTO groups FROM back;
    PERFORM sched._notify_ready(groups);
    -- Those asked to be killed meanwhile are not queued again: the worker reports them killed.
    RETURN QUERY
        SELECT ti.id FROM sched.task_instance ti
        WHERE ti.id = ANY(task_instance_ids) AND ti.worker_id = _release_tasks.worker_id
          AND ti.state = ANY (sched._task_states_claimed()) AND ti.kill_requested;
END
$$;
COMMENT ON FUNCTION sched.release_tasks(bigint, bigint[]) IS
    'Worker protocol: hands back claimed tasks the worker could not start (its task directory or process could not be created): they are queued again as they were, without counting as a failure. Returns the ones not handed back because a kill was requested meanwhile; the worker reports those as killed.';

CREATE FUNCTION sched.claim_tasks(worker_id bigint, max_tasks integer, claim_token bigint DEFAULT NULL)
RETURNS TABLE (task_instance_id bigint, workflow_instance_id bigint, task_name text, task_type text,
               settings jsonb, attempt integer, tenant text)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._claim_tasks(principal regrole, worker_id bigint, max_tasks integer, claim_token bigint)
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

CREATE FUNCTION sched.complete_tasks(worker_id bigint, task_instance_ids bigint[], exit_codes integer[],
                                     started_at timestamptz[] DEFAULT NULL, ended_at timestamptz[] DEFAULT NULL,
                                     claim_max integer DEFAULT 0, claim_token bigint DEFAULT NULL,
                                     out_params jsonb[] DEFAULT NULL, outcomes text[] DEFAULT NULL)
RETURNS TABLE (task_instance_id bigint, workflow_instance_id bigint, task_name text, task_type text,
               settings jsonb, attempt integer, tenant text, deferred boolean)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._complete_tasks(principal regrole, worker_id bigint, task_instance_ids bigint[], exit_codes integer[],
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
COMMENT ON FUNCTION sched.complete_tasks(bigint, bigint[], integer[], timestamptz[], timestamptz[], integer, bigint, jsonb[], text[]) IS
    'Worker protocol: reports finished tasks under their leases (exit codes; outcomes, each one of succeeded, failed, killed (at a kill request) or timed_out (killed at its own timeout), read from the exit code (0 succeeded, else failed) when NULL; the worker''s start and end times of each process; and the OUT params each exported, NULL for a task that declares none) and advances their workflow instances, then claims up to claim_max ready tasks, all in one transaction; returns the claimed tasks as claim_tasks does (claim_token as there), plus a row with deferred = true for each report to repeat later because its instance is locked by an open transaction. Reports whose lease is no longer valid change nothing, so the whole call can be retried.';

CREATE FUNCTION sched.complete_task(worker_id bigint, task_instance_id bigint, exit_code integer, outcome text DEFAULT NULL)
RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._complete_task(principal regrole, worker_id bigint, task_instance_id bigint, exit_code integer, outcome text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    done record;
BEGIN
    PERFORM sched._worker_guard(principal, _complete_task.worker_id);
    done := sched._complete(_complete_task.worker_id, ARRAY[task_instance_id], ARRAY[exit_code], '{}', '{}', '{}',
                            CASE WHEN _complete_task.outcome IS NULL THEN '{}' ELSE ARRAY[_complete_task.outcome] END);
    PERFORM sched._notify_ready(done.ready_groups);
    RETURN done.accepted = 1;
END
$$;
COMMENT ON FUNCTION sched.complete_task(bigint, bigint, integer, text) IS
    'Worker protocol: reports one finished task, its outcome as in complete_tasks (from exit_code when NULL); true when its lease was valid and the report accepted.';

CREATE FUNCTION sched.append_log(worker_id bigint, task_instance_ids bigint[], line_nos integer[], lines text[], streams text[] DEFAULT NULL)
RETURNS integer
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._append_log(principal regrole, worker_id bigint, task_instance_ids bigint[], line_nos integer[], lines text[], streams text[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stored integer;
BEGIN
    -- A dead registration's lines still belong to attempts it holds until they are failed over.
    PERFORM sched._worker_guard(principal, _append_log.worker_id, false);
    -- Idempotent per (task, line): a batch retried after a lost connection is not stored twice.
    INSERT INTO sched.task_log_line (task_instance_id, line_no, day, line, stream)
    SELECT u.id, u.line_no, (ti.queued_at AT TIME ZONE 'UTC')::date, u.line, coalesce(u.stream::sched.log_stream, 'out')
    FROM unnest(task_instance_ids, line_nos, lines, streams) AS u(id, line_no, line, stream)
    JOIN sched.task_instance ti ON ti.id = u.id
    WHERE ti.worker_id = _append_log.worker_id AND ti.state = ANY(sched._task_states_claimed())
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS stored = ROW_COUNT;
    RETURN stored;
END
$$;
COMMENT ON FUNCTION sched.append_log(bigint, bigint[], integer[], text[], text[]) IS
    'Worker protocol: stores a batch of log lines of tasks running on the worker, each from stream out (stdout) or err (stderr), parallel to lines; streams NULL (or shorter than lines) means out. Returns how many were stored.';

CREATE FUNCTION sched.kill_requests(worker_id bigint) RETURNS SETOF bigint
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._kill_requests(principal regrole, worker_id bigint) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sched._worker_guard(principal, _kill_requests.worker_id);
    RETURN QUERY
        SELECT ti.id FROM sched.task_instance ti
        WHERE ti.worker_id = _kill_requests.worker_id AND ti.state = ANY (sched._task_states_claimed())
          AND ti.kill_requested;
END
$$;
COMMENT ON FUNCTION sched.kill_requests(bigint) IS
    'Worker protocol: the task instances running on the worker that it must kill.';

CREATE FUNCTION sched.deregister_worker(worker_id bigint, fenced boolean DEFAULT false) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._deregister_worker(principal regrole, worker_id bigint, fenced boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    PERFORM sched._worker_guard(principal, _deregister_worker.worker_id);
    UPDATE sched.worker SET alive = false, ended_at = now(),
                            ended_why = CASE WHEN fenced THEN 'fenced' ELSE 'shutdown' END
    WHERE id = _deregister_worker.worker_id;
    PERFORM sched._fail_over(ARRAY[_deregister_worker.worker_id]);
END
$$;
COMMENT ON FUNCTION sched.deregister_worker(bigint, boolean) IS
    'Worker protocol: ends the registration, a clean shutdown, or (fenced) one whose tasks the worker killed when its heartbeats did not get through; anything still running on it is failed over.';
