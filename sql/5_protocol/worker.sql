-- The worker protocol (docs/architecture.md, "The worker protocol"). Only members of
-- sched_worker may call these. A lease is the pair (task instance id, worker id) returned by
-- claim_tasks: every report presents it, and a report for an attempt that is no longer running
-- on that worker (failed over, already reported) changes nothing. Public functions are
-- trampolines over `_<name>(principal, ...)` (2_kernel/access.sql): the principal must be the
-- role that registered the worker.

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

CREATE FUNCTION sched.register_worker(name text, host text, groups text[] DEFAULT ARRAY['default'], slots integer DEFAULT 1,
                                      token bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._register_worker(principal regrole, name text, host text, groups text[], slots integer, token bigint)
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

    INSERT INTO sched.worker (name, host, groups, slots, login_role, registration_token)
    VALUES (_register_worker.name, host, groups, slots, principal, token)
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched.register_worker(text, text, text[], integer, bigint) IS
    'Worker protocol: registers a worker and returns its id. A live worker of the same name is replaced and its running tasks failed over, unless it is this registration asked for again with the same token (a retry after a lost answer), whose id is returned.';

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

-- A commit the worker acted on can be lost (promotion of an asynchronous standby, a crash with
-- synchronous_commit off) and leave the database believing that a live worker runs an attempt
-- it never had or already finished. A claim's answer can also be in flight, or retried after a
-- lost connection, for a while; the grace covers that, so only an attempt the worker has had
-- every chance to know of is taken from it.
CREATE FUNCTION sched._reconcile(worker_id bigint, unknown bigint[]) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    stale bigint[];
BEGIN
    IF cardinality(unknown) = 0 THEN
        RETURN 0;
    END IF;
    SELECT array_agg(ti.id) INTO stale
    FROM sched.task_instance ti
    WHERE ti.id = ANY(unknown) AND ti.worker_id = _reconcile.worker_id
      AND ti.state = ANY(sched._task_states_claimed())
      AND ti.started_at < now() - sched._lease_grace();
    IF stale IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM sched._fail_over(ARRAY[worker_id], stale);
    RETURN cardinality(stale);
END
$$;
COMMENT ON FUNCTION sched._reconcile(bigint, bigint[]) IS
    'Internal: fails over (or ends killed, when they were to be killed) the given attempts of a live worker that it says it does not run, once claimed longer than sched._lease_grace() ago; returns how many.';

CREATE FUNCTION sched._lease_grace() RETURNS interval
LANGUAGE sql STABLE
AS $$
    -- A claim's answer may wait for a call timeout (half the worker timeout, at least 5 s) and
    -- a retry; the worker timeout, at least 15 s, outlasts both.
    SELECT greatest(coalesce(pg_catalog.current_setting('sched.worker_timeout', true), '30s')::interval,
                    interval '15 seconds')
$$;
COMMENT ON FUNCTION sched._lease_grace() IS
    'Internal: how long after its claim an attempt a worker does not report may be taken from it: sched.worker_timeout, at least 15 s.';

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

CREATE FUNCTION sched._claim(worker_id bigint, groups text[], max_tasks integer, claim_token bigint)
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
                                                        ti.id, ti.workflow_instance_id) END
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
BEGIN
    RETURN QUERY SELECT * FROM sched._claim(_claim_tasks.worker_id, sched._worker_guard(principal, _claim_tasks.worker_id),
                                            max_tasks, _claim_tasks.claim_token);
END
$$;
COMMENT ON FUNCTION sched.claim_tasks(bigint, integer, bigint) IS
    'Worker protocol: claims up to max_tasks ready task instances of the worker''s groups (highest priority first, then FIFO) and marks them running on it. Pass a claim_token unique per call and repeat it when retrying a call whose answer was lost: the retry returns the same tasks.';

CREATE FUNCTION sched._complete(worker_id bigint, task_instance_ids bigint[], exit_codes integer[],
                                started_at timestamptz[], ended_at timestamptz[], out_params jsonb[],
                                outcomes text[] DEFAULT '{}', OUT accepted integer, OUT ready_groups text[], OUT deferred bigint[])
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
    SELECT array_agg(DISTINCT f.id) INTO wanted
    FROM (SELECT DISTINCT ti.workflow_instance_id AS id FROM sched.task_instance ti
          WHERE ti.id = ANY(task_instance_ids)) i
    JOIN sched.workflow_instance wi ON wi.id = i.id
    CROSS JOIN LATERAL unnest(wi.ancestors || wi.id) AS f(id);
    SELECT array_agg(l.id) INTO locked FROM (
        SELECT wi.id FROM sched.workflow_instance wi WHERE wi.id = ANY(wanted)
        ORDER BY wi.id FOR NO KEY UPDATE OF wi SKIP LOCKED) l;
    IF cardinality(locked) IS DISTINCT FROM cardinality(wanted) THEN
        timeout := pg_catalog.current_setting('lock_timeout');
        BEGIN
            PERFORM pg_catalog.set_config('lock_timeout', '200ms', true);
            PERFORM 1 FROM sched.workflow_instance wi
            WHERE wi.id = ANY(wanted) AND NOT wi.id = ANY(coalesce(locked, '{}'))
            ORDER BY wi.id FOR NO KEY UPDATE OF wi;
            locked := wanted;
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
        PERFORM pg_catalog.set_config('lock_timeout', timeout, true);
        SELECT array_agg(ti.id) INTO deferred
        FROM sched.task_instance ti JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
        WHERE ti.id = ANY(task_instance_ids) AND NOT (wi.ancestors || wi.id) <@ coalesce(locked, '{}')
          AND ti.worker_id = _complete.worker_id AND ti.state = ANY (sched._task_states_claimed());
    END IF;

    -- The worker says how each attempt ended (sched._outcomes(), core/src/state.rs's Outcome);
    -- a report without one (a script calling complete_task) reads its exit code: 0 succeeded,
    -- anything else failed. An attempt killed for its timeout, by the master (kill_reason
    -- timeout) or by the worker (timed_out), failed, and may be retried.
    -- The worker's own clock says when the process really started and ended; it is kept within
    -- [claim, now] so that a skewed worker clock cannot produce impossible durations.
    WITH reported AS (
        SELECT r.id, r.exit_code, r.started_at, r.ended_at, r.out_params,
               coalesce(r.outcome, CASE WHEN r.exit_code = 0 THEN 'succeeded' ELSE 'failed' END) AS outcome
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
    IF done IS NOT NULL THEN
        accepted := cardinality(done);
        ready_groups := sched._advance(done, touched, any_failed);
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
COMMENT ON FUNCTION sched._complete(bigint, bigint[], integer[], timestamptz[], timestamptz[], jsonb[], text[]) IS
    'Internal: records outcomes (and the OUT params exported) under their leases and advances the instances; returns how many reports were accepted, the worker groups that got ready tasks, and the reports deferred because their instance stayed locked.';

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
    groups  text[] := sched._worker_guard(principal, _complete_tasks.worker_id, false);
    outcome record;
    claimed integer := 0;
    others  text[];
BEGIN
    outcome := sched._complete(_complete_tasks.worker_id, task_instance_ids, exit_codes,
                               coalesce(_complete_tasks.started_at, '{}'), coalesce(_complete_tasks.ended_at, '{}'),
                               coalesce(_complete_tasks.out_params, '{}'), coalesce(_complete_tasks.outcomes, '{}'));
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
    -- Wake other workers only for work this one could not take: groups it does not serve, and
    -- its own groups when it filled every slot it asked for (more may be waiting).
    IF outcome.ready_groups IS NOT NULL THEN
        others := ARRAY(SELECT g FROM unnest(outcome.ready_groups) g
                        WHERE groups IS NULL OR NOT (g = ANY(groups)) OR claimed >= coalesce(claim_max, 0));
        PERFORM sched._notify_ready(others);
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
