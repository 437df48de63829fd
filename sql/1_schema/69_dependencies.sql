-- What the SQL of each workflow version uses on the scheduler's database: the relations and
-- functions its sql and procedure tasks' statements name, as their check at definition found
-- them (2_kernel/sql_check.sql). The guard of DROP and ALTER reads it (3_engine/object_guard.sql).
CREATE TABLE sched.workflow_dependency (
    workflow_version_id bigint NOT NULL REFERENCES sched.workflow_version ON DELETE CASCADE,
    task                text NOT NULL,
    classid             regclass NOT NULL CHECK (classid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_proc'::regclass)),
    objid               oid NOT NULL,
    -- Only what its owner owns can a workflow protect: else any role that may read a table
    -- could keep its owner from changing it.
    owned               boolean NOT NULL,
    PRIMARY KEY (workflow_version_id, task, classid, objid)
);
CREATE INDEX workflow_dependency_object ON sched.workflow_dependency (classid, objid);
COMMENT ON TABLE sched.workflow_dependency IS 'The relations and functions the SQL of each workflow version uses on this database, found when it was defined.';
COMMENT ON COLUMN sched.workflow_dependency.workflow_version_id IS 'The workflow version.';
COMMENT ON COLUMN sched.workflow_dependency.task IS 'The task whose statements use it (an inline element task as <dynamic task>[]).';
COMMENT ON COLUMN sched.workflow_dependency.classid IS 'pg_class for a relation (table, view, sequence, ...), pg_proc for a function or procedure.';
COMMENT ON COLUMN sched.workflow_dependency.objid IS 'The object''s OID.';
COMMENT ON COLUMN sched.workflow_dependency.owned IS 'Whether the workflow''s owner was a member of the object''s owner when the version was defined: only such objects does protect_objects protect.';
