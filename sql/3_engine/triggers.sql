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
