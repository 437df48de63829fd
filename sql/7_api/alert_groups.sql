-- Alert groups: create, alter and drop them, their channels checked. Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

-- An alert group's channels, checked and normalised; a script channel runs a command on the
-- alert workers' hosts, so only sched_admin may set one.
CREATE FUNCTION sched._check_channels(principal regrole, channels jsonb) RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    norm jsonb;
BEGIN
    IF channels IS NULL THEN
        RAISE EXCEPTION 'channels: required, an array of channels' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    norm := sched._normalize_channels(channels);
    IF jsonb_path_exists(norm, '$[*] ? (@.type == "script")') THEN
        PERFORM sched._require_admin(principal, 'an alert group with a script channel (it runs a command on the alert workers)');
    END IF;
    RETURN norm;
END
$$;
COMMENT ON FUNCTION sched._check_channels(regrole, jsonb) IS 'Internal: an alert group''s channels, normalised; script channels need sched_admin.';

CREATE FUNCTION sched.create_alert_group(name text, channels jsonb, description text DEFAULT '') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_alert_group(principal regrole, name text, channels jsonb, description text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    norm   jsonb := sched._check_channels(principal, channels);
    new_id bigint;
BEGIN
    INSERT INTO sched.alert_group (name, channels, description, owner)
    VALUES (sched._check_name(name, 'name', 'alert group name'), norm, coalesce(description, ''), principal)
    ON CONFLICT ON CONSTRAINT alert_group_name_key DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'name: alert group "%" already exists', name
            USING ERRCODE = 'duplicate_object', HINT = 'Change it with sched.alter_alert_group.';
    END IF;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched.create_alert_group(text, jsonb, text) IS
    'Creates an alert group and returns its id. channels: an array of {"type": "email", "to": [...], "cc": [...]}, {"type": "webhook", "url": ... or "endpoint": name, "format": "json" | "slack" | "feishu" | "dingtalk"}, {"type": "script", "command": ...} (sched_admin only; gets the alert as JSON on stdin). SMTP settings and webhook endpoints with tokens live in the alert workers'' configuration.';

CREATE FUNCTION sched.alter_alert_group(name text, channels jsonb DEFAULT NULL, description text DEFAULT NULL) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._alter_alert_group(principal regrole, name text, channels jsonb, description text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g sched.alert_group;
BEGIN
    SELECT * INTO g FROM sched.alert_group ag WHERE ag.name = _alter_alert_group.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name: alert group "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, g.owner, pg_catalog.format('alert group "%s"', name));
    UPDATE sched.alert_group ag
       SET channels = CASE WHEN _alter_alert_group.channels IS NULL THEN ag.channels
                           ELSE sched._check_channels(principal, _alter_alert_group.channels) END,
           description = coalesce(_alter_alert_group.description, ag.description),
           updated_at = now()
     WHERE ag.id = g.id;
END
$$;
COMMENT ON FUNCTION sched.alter_alert_group(text, jsonb, text) IS
    'Changes an alert group''s channels and/or description (its owner or sched_admin); alerts raised from then on go to the new channels.';

CREATE FUNCTION sched.drop_alert_group(name text) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._drop_alert_group(principal regrole, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g    sched.alert_group;
    user_of text;
BEGIN
    SELECT * INTO g FROM sched.alert_group ag WHERE ag.name = _drop_alert_group.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name: alert group "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, g.owner, pg_catalog.format('alert group "%s"', name));
    -- The row lock above makes a concurrent definition naming it wait, then see it gone.
    SELECT sched._workflow_label(principal, w.name, w.owner) INTO user_of
      FROM sched.workflow w JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
     WHERE v.spec->'notify'->>'alert_group' = g.name
        OR jsonb_path_exists(v.spec, '$.tasks[*].send_result ? (@.alert_group == $g)', jsonb_build_object('g', g.name))
     LIMIT 1;
    IF user_of IS NULL THEN
        SELECT CASE WHEN sched._may_see(principal, s.owner) THEN pg_catalog.format('schedule %s', s.id)
                    ELSE 'a schedule of another role' END INTO user_of FROM sched.schedule s
         WHERE s.run_options->'notify'->>'alert_group' = g.name LIMIT 1;
    END IF;
    IF user_of IS NULL THEN
        SELECT CASE WHEN sched._may_see(principal, w.owner) THEN pg_catalog.format('instance %s', wi.id)
                    ELSE 'an instance of another role' END INTO user_of
          FROM sched.workflow_instance wi JOIN sched.workflow w ON w.id = wi.workflow_id
         WHERE wi.alert_group = g.name AND wi.state <> ALL (sched._workflow_states_finished()) LIMIT 1;
    END IF;
    IF user_of IS NOT NULL THEN
        RAISE EXCEPTION 'alert group "%" is in use by %', name, user_of
            USING ERRCODE = 'object_in_use',
                  HINT = 'Change what names it (or let the instance end) first.';
    END IF;
    DELETE FROM sched.alert_group ag WHERE ag.id = g.id;
END
$$;
COMMENT ON FUNCTION sched.drop_alert_group(text) IS
    'Drops an alert group (its owner or sched_admin); refused while a workflow, a schedule or an unfinished instance names it. Alerts already raised keep their channels.';

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
