-- What a task's parameters are resolved from when it is claimed: the instance's values and
-- the OUT parameters of its upstream tasks. The rules are sched-core's (core/src/params).

-- What an attempt of a task with parameters runs with (DolphinScheduler's precedence,
-- lowest first: built-ins and task facts, globals, upstream OUT, local, start parameters):
-- the instance's values, the OUT values of its direct predecessors that succeeded (earliest
-- finished first, then by task id, for the conflict rule), and its local params resolved
-- over them at the instance's business time. Called by the claim, for such tasks only;
-- plpgsql, so that its statement is planned once per session, not at every claim.
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
