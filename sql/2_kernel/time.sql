-- Business time: the zone an instance's business values are computed in, and reading a time
-- given without an offset in that zone (docs/architecture.md, "Parameters").

-- A timestamp given as text: one with an offset or a zone name of its own is that instant, one
-- without is a local time of zone (the business zone), never of the session's TimeZone.
CREATE FUNCTION sched._zoned_timestamp(value text, zone text, field text) RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF value ~ '([0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*([Zz]|[+-][0-9]{1,2}(:?[0-9]{2})?)|[A-Za-z])\s*$' THEN
        RETURN value::timestamptz;
    END IF;
    RETURN value::timestamp AT TIME ZONE zone;
EXCEPTION WHEN others THEN
    RAISE EXCEPTION '%: "%" is not a timestamp, e.g. "2024-03-15", "2024-03-15 02:30" (in %) or "2024-03-15 02:30+08"', field, value, zone
        USING ERRCODE = 'invalid_parameter_value';
END
$$;
COMMENT ON FUNCTION sched._zoned_timestamp(text, text, text) IS
    'Internal: a timestamp given as text, read as a local time of zone unless it carries an offset or zone; raises naming field.';

-- The zone a workflow's business values are computed in when nothing else names one.
CREATE FUNCTION sched._workflow_time_zone(workflow_id bigint) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(v.spec->>'timezone', 'UTC')
    FROM sched.workflow w JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
    WHERE w.id = _workflow_time_zone.workflow_id
$$;
COMMENT ON FUNCTION sched._workflow_time_zone(bigint) IS
    'Internal: the timezone of a workflow''s current spec, else UTC.';
