-- Names: the rule every user-given name follows (workflows, groups, datasources; sched-core's
-- core/src/name.rs, rendered into 1_schema/01_vocabulary.sql), and
-- how roles and workflows are named in messages.

-- How an error lists what is allowed: "a", "a or b", "a, b or c".
CREATE FUNCTION sched._listed(names text[]) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN cardinality(names) <= 1 THEN names[1]
                ELSE pg_catalog.array_to_string(names[1:cardinality(names) - 1], ', ') || ' or ' || names[cardinality(names)] END
$$;
COMMENT ON FUNCTION sched._listed(text[]) IS 'Internal: names joined as an error lists them (a, b or c).';

-- How an error names a workflow: by name when the principal may see it, else only as another
-- role's, so that errors never reveal other users' workflows.
CREATE FUNCTION sched._workflow_label(principal regrole, name text, owner regrole) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN sched._may_see(principal, owner) THEN pg_catalog.format('workflow "%s"', name)
                ELSE 'a workflow of another role' END
$$;
COMMENT ON FUNCTION sched._workflow_label(regrole, text, regrole) IS
    'Internal: ''workflow "name"'' for a principal that may see it, else ''a workflow of another role''.';

-- The rule of names (worker groups, alert groups, task groups, datasources), as sched-core's
-- spec::is_name has it for specs.
CREATE FUNCTION sched._check_name(value text, field text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL OR value !~ sched._name_pattern() THEN
        RAISE EXCEPTION '%: "%" is not a valid %; use %', field, value, what, sched._name_rule()
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN value;
END
$$;
COMMENT ON FUNCTION sched._check_name(text, text, text) IS
    'Internal: returns value when it is a valid name (sched._name_rule(), sched-core''s rule), else raises naming field and what it names.';

CREATE FUNCTION sched._role_name(principal regrole) RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.pg_get_userbyid(principal)::text $$;
COMMENT ON FUNCTION sched._role_name(regrole) IS
    'Internal: the name a history row records for a role (the name at the time, so that history outlives a dropped role).';
