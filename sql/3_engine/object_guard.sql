-- DROP and ALTER of what workflows' SQL uses (sched.workflow_dependency, recorded when each
-- version was defined): a NOTICE naming the workflows with an enabled schedule whose current
-- version uses the object, and a refusal when one of the current versions asks for it
-- ("protect_objects": true) and its owner owns the object (workflow_dependency.owned). Event
-- triggers run for every role's DDL, so these run as their owner and read only the dependency
-- table by its object index.

-- Objects as [{classid, objid, identity}]; what: drop or alter.
CREATE FUNCTION sched._guard_objects(objects jsonb, what text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT o->>'identity' AS identity,
               pg_catalog.string_agg(DISTINCT w.name, ', ' ORDER BY w.name)
                   FILTER (WHERE (v.spec->>'protect_objects')::boolean AND d.owned) AS protectors,
               pg_catalog.string_agg(DISTINCT pg_catalog.format('%s (task %s)', w.name, d.task), ', '
                                     ORDER BY pg_catalog.format('%s (task %s)', w.name, d.task))
                   FILTER (WHERE EXISTS (SELECT 1 FROM sched.schedule s WHERE s.workflow_id = w.id AND s.enabled)) AS scheduled
        FROM pg_catalog.jsonb_array_elements(objects) o
        JOIN sched.workflow_dependency d ON d.classid = (o->>'classid')::oid::regclass AND d.objid = (o->>'objid')::oid
        JOIN sched.workflow_version v ON v.id = d.workflow_version_id
        JOIN sched.workflow w ON w.id = v.workflow_id AND w.current_version = v.version
        GROUP BY 1
    LOOP
        IF r.protectors IS NOT NULL THEN
            RAISE EXCEPTION 'cannot % %: the SQL of workflow % uses it ("protect_objects": true)', what, r.identity, r.protectors
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Define a version of the workflow that does not use it, or without protect_objects, first (sched.workflow_dependencies lists what each version uses).';
        ELSIF r.scheduled IS NOT NULL THEN
            RAISE NOTICE '% % is used by the SQL of scheduled workflows: %', what, r.identity, r.scheduled;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._guard_objects(jsonb, text) IS
    'Internal: for objects a DDL command drops or alters, a NOTICE naming the scheduled workflows whose current SQL uses them, or an error when one of them has protect_objects.';

CREATE FUNCTION sched._guard_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A dropped column is an ALTER of its table; drops are judged first.
    PERFORM sched._guard_objects(o.objects, o.what)
    FROM (SELECT CASE WHEN d.objsubid = 0 THEN 'drop' ELSE 'alter' END AS what,
                 jsonb_agg(jsonb_build_object('classid', d.classid, 'objid', d.objid, 'identity',
                           CASE WHEN d.objsubid = 0 THEN d.object_identity
                                ELSE d.address_names[1] || '.' || d.address_names[2] END)) AS objects
          FROM pg_event_trigger_dropped_objects() d
          WHERE d.classid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_proc'::regclass)
            AND (d.objsubid = 0 OR d.classid = 'pg_catalog.pg_class'::regclass)
            AND d.schema_name IS DISTINCT FROM 'sched'
          GROUP BY 1
          ORDER BY 1 DESC) o;
END
$$;
COMMENT ON FUNCTION sched._guard_dropped() IS
    'Internal: the sql_drop event trigger''s function: the dropped relations and functions (and tables losing a column) that workflows'' SQL uses.';

CREATE FUNCTION sched._guard_altered() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sched._guard_objects(o.objects, 'alter')
    FROM (SELECT jsonb_agg(jsonb_build_object('classid', c.classid, 'objid', c.objid, 'identity', c.object_identity)) AS objects
          FROM pg_event_trigger_ddl_commands() c
          WHERE c.command_tag LIKE 'ALTER %'
            AND c.classid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_proc'::regclass)
            AND c.schema_name IS DISTINCT FROM 'sched') o
    WHERE o.objects IS NOT NULL;
END
$$;
COMMENT ON FUNCTION sched._guard_altered() IS
    'Internal: the ddl_command_end event trigger''s function: the altered relations and functions that workflows'' SQL uses.';

CREATE EVENT TRIGGER sched_guard_dropped ON sql_drop EXECUTE FUNCTION sched._guard_dropped();
CREATE EVENT TRIGGER sched_guard_altered ON ddl_command_end WHEN TAG IN (
    'ALTER TABLE', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER FOREIGN TABLE', 'ALTER SEQUENCE',
    'ALTER FUNCTION', 'ALTER PROCEDURE', 'ALTER ROUTINE')
    EXECUTE FUNCTION sched._guard_altered();
COMMENT ON EVENT TRIGGER sched_guard_dropped IS 'pg_sched: warns of (or refuses) dropping what scheduled (or protecting) workflows'' SQL uses.';
COMMENT ON EVENT TRIGGER sched_guard_altered IS 'pg_sched: warns of (or refuses) altering what scheduled (or protecting) workflows'' SQL uses.';
