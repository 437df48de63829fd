-- pg_sched 0.5.0 to 0.6.0 (CHANGELOG.md): workflows started by events. Triggers
-- (sched.trigger: another workflow's end, a table's change, a webhook, datasets), their inbox
-- (sched.trigger_event), their fires (sched.trigger_fire) and the datasets' events
-- (sched.dataset_event); tasks that produce datasets (sched.task_definition.produces); the
-- command type trigger; the functions that create, run and show them, and the engine's
-- functions that call them (_finish_if_done, _complete, _expire_history,
-- _create_workflow, _remove_workflow, _reassign_owned, _drop_owned).
-- Run by ALTER EXTENSION pg_sched UPDATE, in one transaction; the test of tests/tests/upgrade.rs
-- checks that a database of an earlier release updated by it has the schema of a fresh 0.6.0
-- install and keeps all it held. Existing rows change nothing: the new column is NULL (no task
-- produces anything) and the command types recorded so far stay allowed.

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

-- 1_schema/01_vocabulary.sql: the choices of triggers, table operations and dataset modes.
CREATE OR REPLACE FUNCTION sched._spec_choices() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"backfill_modes":["serial","parallel"],"backfill_on_failure":["stop","continue"],"backfill_orders":["desc","asc"],"condition_statuses":["succeeded","failed"],"cycles":[{"cycle":"hour","date_values":["currentHour","last1Hour","last2Hours","last3Hours","last24Hours"]},{"cycle":"day","date_values":["today","last1Days","last2Days","last3Days","last7Days"]},{"cycle":"week","date_values":["thisWeek","lastWeek","lastMonday","lastTuesday","lastWednesday","lastThursday","lastFriday","lastSaturday","lastSunday"]},{"cycle":"month","date_values":["thisMonth","thisMonthBegin","lastMonth","lastMonthBegin","lastMonthEnd"]}],"dataset_modes":["all","any"],"dependent_failures":["fail","wait"],"execution_types":["parallel","serial_wait","serial_discard","serial_priority"],"failure_strategies":["continue","end"],"notify_strategies":["none","success","failure","all"],"param_types":["varchar","integer","long","float","double","date","time","timestamp","boolean","list"],"priorities":["highest","high","medium","low","lowest"],"relations":["and","or"],"table_operations":["insert","update","delete"],"timeout_strategies":["warn","fail","warn_fail"],"trigger_kinds":["workflow_end","table_change","webhook","dataset"],"workflow_timeout_strategies":["warn","stop"]}'::jsonb $$;

-- 1_schema/10_definitions.sql
ALTER TABLE sched.task_definition ADD COLUMN produces text[];
CREATE INDEX task_definition_producing ON sched.task_definition (id) WHERE produces IS NOT NULL;
COMMENT ON COLUMN sched.task_definition.produces IS 'Datasets each success of it updates (its spec''s produces), an event each in sched.dataset_event; NULL when none.';

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
    wf_id     bigint;
    exec_type text;
    backfill  bigint;
    parent    bigint;
    notify    text;
BEGIN
    -- One instance at a time: with a scalar id the activity check is always a probe of
    -- task_instance_active, never a scan of every active task in the system.
    FOREACH inst IN ARRAY instances LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM sched.task_instance ti
            WHERE ti.workflow_instance_id = inst
              AND ti.state = ANY (sched._task_states_active()));
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
                                  WHERE ti.workflow_instance_id = inst AND ti.out_params IS NOT NULL
                                    AND ti.run = wi.run AND ti.state = ANY (sched._task_states_success())) END
         WHERE wi.id = inst AND wi.state = ANY (sched._workflow_states_executing())
        RETURNING wi.workflow_id, (SELECT v.execution_type FROM sched.workflow_version v WHERE v.id = wi.workflow_version_id),
                  wi.backfill_id, wi.parent_task_instance_id, wi.notify_strategy
        INTO wf_id, exec_type, backfill, parent, notify;
        -- Join counters matter only while the instance runs; the table stays as small as
        -- the set of running instances.
        IF FOUND THEN
            DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = inst;
            IF exec_type = 'serial_wait' OR current_setting('sched.max_running_instances')::integer > 0 THEN
                PERFORM sched._on_instance_end(wf_id, exec_type);
            END IF;
            IF backfill IS NOT NULL THEN
                PERFORM sched._advance_backfill(backfill, false);
            END IF;
            IF parent IS NOT NULL THEN
                PERFORM sched._end_parent_task(inst);
            END IF;
            IF EXISTS (SELECT 1 FROM sched.dependent_watch dw WHERE dw.workflow_id = wf_id) THEN
                PERFORM sched._wake_dependents(wf_id);
            END IF;
            IF notify <> 'none' THEN
                PERFORM sched._alert_workflow_end(inst);
            END IF;
            IF EXISTS (SELECT 1 FROM sched.trigger t WHERE t.upstream_workflow_id = wf_id) THEN
                PERFORM sched._fire_workflow_end(inst);
            END IF;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._finish_if_done(bigint[]) IS
    'Internal: gives every instance with nothing left active its final state and its output parameters; ends the SUB_PROCESS attempt of a child wakes the DEPENDENT attempts waiting on its workflow and starts the workflows its end triggers.';

-- 3_engine/complete.sql: the datasets a success produces.
CREATE OR REPLACE FUNCTION sched._complete(worker_id bigint, task_instance_ids bigint[], exit_codes integer[],
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
    -- Looked at only where some task produces datasets (an empty partial index otherwise).
    IF done IS NOT NULL AND EXISTS (SELECT 1 FROM sched.task_definition td WHERE td.produces IS NOT NULL) THEN
        PERFORM sched._produce_datasets(done);
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
    -- Tests of alert groups concern no instance: they go by their own age.
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
    groups     text[];
BEGIN
    -- Validation is pure Rust (sched-core) so that the rules are unit tested; it raises with the
    -- offending field's path before anything is written.
    IF spec IS NULL THEN
        RAISE EXCEPTION 'spec: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    types := coalesce((SELECT jsonb_object_agg(tt.name, tt.definition) FROM sched.task_type tt), '{}');
    norm := sched._normalize_spec(spec::text, types);
    wf_name := norm->>'name';
    uses := sched._spec_uses(norm);

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
    -- trips: ids are drawn first so that each task can list its successors' ids. The workflow's
    -- environment is merged into each task's settings here, so that dispatch reads one row.
    -- Tasks that pass OUT params on: those that declare them, sub-processes (their child's) and
    -- DEPENDENT tasks passing parameters (their upstream instances').
    WITH task AS (
        SELECT t, nextval('sched.task_definition_id_seq') AS id,
               t ? 'out' OR t->>'type' = 'sub_process'
                   OR (t->>'type' = 'dependent' AND jsonb_path_exists(t, '$.groups[*].items[*] ? (@.parameter_passing == true)')) AS outputs,
               CASE WHEN t->>'enabled' = 'false' THEN 'forbidden'
                    WHEN t->>'type' IN ('sub_process', 'conditions', 'switch', 'dependent') THEN t->>'type' END AS logic
        FROM jsonb_array_elements(norm->'tasks') AS t
    ), edge AS (
        SELECT up.id AS up_id, down.id AS down_id, down.logic AS down_logic
        FROM task down
        CROSS JOIN LATERAL jsonb_array_elements_text(down.t->'deps') AS d(dep)
        JOIN task up ON up.t->>'name' = d.dep
    ), successor AS (
        SELECT up_id, array_agg(down_id ORDER BY down_id) AS ids,
               bool_and(down_logic IS NOT DISTINCT FROM 'conditions') AS feeds_conditions
        FROM edge GROUP BY up_id
    ), source AS (
        SELECT e.down_id, array_agg(e.up_id ORDER BY e.up_id) AS ids
        FROM edge e JOIN task up ON up.id = e.up_id
        WHERE up.outputs GROUP BY e.down_id
    ), created AS (
    INSERT INTO sched.task_definition (id, workflow_version_id, name, task_type, priority, worker_group,
                                       settings, params, inputs_from, parameterized, dep_count, successors,
                                       retries, retry_interval, delay, timeout_after, timeout_strategy,
                                       task_group_id, task_group_priority, logic, feeds_conditions, produces)
    SELECT task.id, version_id, task.t->>'name', task.t->>'type',
           sched._priority_rank(task.t->>'priority', 'priority'), task.t->>'worker_group',
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
           jsonb_array_length(task.t->'deps'), coalesce(successor.ids, '{}'),
           coalesce((task.t->>'retries')::integer, 0), (task.t->>'retry_interval')::interval,
           (task.t->>'delay')::interval, (task.t#>>'{timeout,after}')::interval, task.t#>>'{timeout,strategy}',
           (SELECT g.id FROM sched.task_group g WHERE g.name = task.t->>'task_group'),
           coalesce((task.t->>'task_group_priority')::integer, 0),
           task.logic, coalesce(successor.feeds_conditions, false),
           CASE WHEN task.t ? 'produces' THEN ARRAY(SELECT jsonb_array_elements_text(task.t->'produces')) END
    FROM task LEFT JOIN successor ON successor.up_id = task.id
              LEFT JOIN source ON source.down_id = task.id)
    SELECT bool_or(t.logic IN ('sub_process', 'dependent')), bool_or(t.outputs),
           coalesce(array_agg(DISTINCT t.t->>'worker_group') FILTER (WHERE t.logic IS NULL), '{}')
    INTO refs, gathers, groups
    FROM task t;

    -- Known only now that the tasks are read: whether the instances gather OUT params, which
    -- worker groups their tasks need, and whether logic tasks name other workflows, which run
    -- and are read as the owner.
    UPDATE sched.workflow_version SET has_out = coalesce(gathers, false), worker_groups = groups WHERE id = version_id;
    IF refs THEN
        PERFORM sched._check_logic_refs(wf.owner, wf_name, norm);
    END IF;
    IF norm ? 'schedule_on' OR EXISTS (SELECT 1 FROM sched.trigger t WHERE t.workflow_id = wf.id AND t.kind = 'dataset') THEN
        PERFORM sched._sync_dataset_trigger(wf, norm->'schedule_on');
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
                                 'disable_trigger', '_disable_trigger', '_remove_trigger', 'drop_trigger', '_drop_trigger')
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
    sched.drop_trigger(bigint)
TO sched_user, sched_admin;
-- As REVOKE ALL ON ALL TABLES does for a fresh install: their privileges spelled out, none for PUBLIC.
REVOKE ALL ON sched.trigger, sched.trigger_event, sched.trigger_fire, sched.dataset_event FROM PUBLIC;
GRANT SELECT ON sched.triggers, sched.datasets, sched.dataset_events TO sched_user, sched_admin;
GRANT EXECUTE ON FUNCTION sched._receive_webhook(text, bytea, text, text, text) TO sched_api;
