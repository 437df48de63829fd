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
