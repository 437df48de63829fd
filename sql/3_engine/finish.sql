-- Ending an instance once nothing of it is active, and what its end sets off: the next
-- waiting instance (admission), the next backfill dates, a parent's SUB_PROCESS attempt, the
-- DEPENDENT attempts waiting for it, its end alert, and the workflows triggered by its end.

CREATE FUNCTION sched._finish_if_done(instances bigint[]) RETURNS void
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
