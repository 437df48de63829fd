-- Priorities (highest … lowest), stored as DolphinScheduler's ranks (0 = highest) so that the
-- ready queue's index sorts the most urgent work first. The names are sched-core's Priority (sched._priorities(), 1_schema/01_vocabulary.sql).

CREATE FUNCTION sched._priority_rank(value text, field text) RETURNS smallint
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    rank integer := pg_catalog.array_position(sched._priorities(), lower(value));
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    IF rank IS NULL THEN
        RAISE EXCEPTION '%: "%" is not a valid priority; allowed: %', field, value, pg_catalog.array_to_string(sched._priorities(), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN rank - 1;
END
$$;
COMMENT ON FUNCTION sched._priority_rank(text, text) IS 'Internal: priority name to rank (0 = highest), with an error naming field.';

CREATE FUNCTION sched._priority_name(rank smallint) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT (sched._priorities())[rank + 1] $$;
COMMENT ON FUNCTION sched._priority_name(smallint) IS 'Internal: priority rank to name.';
