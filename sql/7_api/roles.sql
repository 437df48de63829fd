-- What PostgreSQL's role commands do to what roles own here. Workflows and tenant grants name
-- roles by OID (regrole), as do triggers, which PostgreSQL does not track: a bare DROP ROLE would leave them
-- pointing at nothing. So a role that owns a workflow or holds a tenant grant is also granted
-- SELECT on the empty table sched.role_anchor (2_kernel/access.sql), a privilege PostgreSQL
-- does track: DROP ROLE is refused, from any database, with "privileges for table
-- sched.role_anchor". The usual sequence then works: REASSIGN OWNED BY old TO new moves old's
-- workflows to new; DROP OWNED BY old drops old's workflows (refused while one has unfinished
-- instances) and tenant grants and revokes the anchor; DROP ROLE old succeeds.
-- extension/src/owned.rs runs sched._reassign_owned and sched._drop_owned for those two
-- statements in the database where pg_sched is installed.

CREATE FUNCTION sched._reassign_owned(roles oid[], new_owner oid) RETURNS void
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

CREATE FUNCTION sched._drop_owned(roles oid[]) RETURNS void
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
