-- Who is calling, and may they touch this workflow.
--
-- Function hygiene: every public function is SECURITY DEFINER with a pinned search_path and
-- checks its caller. Internal functions (named sched._*) are executable by nobody but the
-- owner, schema-qualify every name, and run inside those pinned entry points; they carry no
-- SET clause because one blocks SQL-function inlining and costs a configuration save and
-- restore on every call of the completion hot path. The entry points that move work force
-- generic plans: their statements take id arrays, and custom plans would be re-planned on
-- every call (a tenfold cost measured on the completion path) for no better plan.

-- SECURITY DEFINER functions see their owner as current_user, so the caller is read from the
-- session: the role set with SET ROLE, else the session user. Called from inside another
-- SECURITY DEFINER function this names the session's role, never a more privileged one.
CREATE FUNCTION sched._caller() RETURNS regrole
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(
        CASE WHEN pg_catalog.current_setting('role') = 'none' THEN session_user::text
             ELSE pg_catalog.current_setting('role') END))
$$;
COMMENT ON FUNCTION sched._caller() IS 'Internal: the role on whose behalf a sched function runs.';

CREATE FUNCTION sched._check_owner(owner regrole, what text) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    caller regrole := sched._caller();
BEGIN
    IF caller IS NULL OR NOT (pg_catalog.pg_has_role(caller, owner, 'MEMBER')
                              OR pg_catalog.pg_has_role(caller, 'sched_admin', 'MEMBER')) THEN
        RAISE EXCEPTION 'permission denied for %', what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('It belongs to role %s; role %s is neither a member of it nor of sched_admin.', owner, caller);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_owner(regrole, text) IS 'Internal: raises unless the caller may act on something owned by owner.';

CREATE FUNCTION sched._priority_rank(value text, field text) RETURNS smallint
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    CASE lower(value)
        WHEN 'highest' THEN RETURN 0;
        WHEN 'high' THEN RETURN 1;
        WHEN 'medium' THEN RETURN 2;
        WHEN 'low' THEN RETURN 3;
        WHEN 'lowest' THEN RETURN 4;
        ELSE RAISE EXCEPTION '%: "%" is not a valid priority; allowed: highest, high, medium, low, lowest', field, value
            USING ERRCODE = 'invalid_parameter_value';
    END CASE;
END
$$;
COMMENT ON FUNCTION sched._priority_rank(text, text) IS 'Internal: priority name to rank (0 = highest), with an error naming field.';
