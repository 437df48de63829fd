-- Completing: the outcomes a worker reports become its attempts' end states, under their
-- leases, and the instances advance. The worker's entry points, with their guard, are
-- complete_tasks and complete_task (5_protocol/worker.sql).

-- How a report ended its attempt: the worker's outcome (sched._outcomes()), or for a report
-- without one (a script calling complete_task) its exit code: 0 succeeded, anything else failed.
CREATE FUNCTION sched._reported_outcome(exit_code integer, outcome text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(outcome, CASE WHEN exit_code = 0 THEN 'succeeded' ELSE 'failed' END) $$;
COMMENT ON FUNCTION sched._reported_outcome(integer, text) IS
    'Internal: the outcome a report gives its attempt: its own, else succeeded for exit code 0 and failed for any other.';

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

-- Reports that shared an instance's lock decide one at a time whether it has ended: each looks
-- under the exclusive row lock, so the last of them sees the others' ends committed. The lock
-- is held to commit, so it is taken last, after the claim that follows the reports.
CREATE FUNCTION sched._settle(instances bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = ANY(instances) ORDER BY wi.id FOR NO KEY UPDATE;
    PERFORM sched._finish_if_done(instances);
END
$$;
COMMENT ON FUNCTION sched._settle(bigint[]) IS
    'Internal: after reports that shared these instances'' lock, ends those with nothing left active, one report at a time.';
