-- DYNAMIC tasks (docs/architecture.md, "The life of a dynamic task"): an attempt of one expands
-- its lists into elements, stored here once per run, and runs its element task once per
-- element as ordinary attempts (sched.task_instance.element), at most parallelism at a time;
-- its progress row counts them as they end (3_engine/dynamic.sql).

-- A bulk table, without foreign keys (a check per element cost more than the expansion): it is
-- cleared with its instances' attempts (4_master/retention.sql, 7_api/definitions.sql).
CREATE TABLE sched.dynamic_element (
    workflow_instance_id bigint NOT NULL,
    task_id              bigint NOT NULL,
    run                  integer NOT NULL,
    element              integer NOT NULL,
    "values"             jsonb NOT NULL,
    PRIMARY KEY (workflow_instance_id, task_id, run, element)
);
COMMENT ON TABLE sched.dynamic_element IS 'The elements of the runs of DYNAMIC tasks: the values each element''s attempts run with, set when the dynamic task expanded its lists.';
COMMENT ON COLUMN sched.dynamic_element.workflow_instance_id IS 'The workflow instance.';
COMMENT ON COLUMN sched.dynamic_element.task_id IS 'The element task (sched.task_definition.element_of names its dynamic task).';
COMMENT ON COLUMN sched.dynamic_element.run IS 'The run of the instance it belongs to; a rerun expands the lists again.';
COMMENT ON COLUMN sched.dynamic_element.element IS 'Index of the element, from 0, in the order of the list (for several lists: the combinations, the last list varying fastest).';
COMMENT ON COLUMN sched.dynamic_element."values" IS 'The element''s parameter values, {"name": "value"}: its attempts'' local params (a workflow''s start params), over any other of the same name.';

CREATE TABLE sched.dynamic_progress (
    workflow_instance_id bigint NOT NULL REFERENCES sched.workflow_instance ON DELETE CASCADE,
    task_id              bigint NOT NULL,
    run                  integer NOT NULL,
    task_instance_id     bigint NOT NULL,
    element_task         bigint NOT NULL,
    total                integer NOT NULL,
    pending              integer[],
    released             integer NOT NULL DEFAULT 0,
    ended                integer NOT NULL DEFAULT 0,
    failed               integer NOT NULL DEFAULT 0,
    parallelism          integer,
    on_failure           text NOT NULL CHECK (on_failure = ANY (sched._choices('backfill_on_failure'))),
    stopping             boolean NOT NULL DEFAULT false,
    PRIMARY KEY (workflow_instance_id, task_id, run)
);
COMMENT ON TABLE sched.dynamic_progress IS 'Per run of a DYNAMIC task in an instance: how far its elements are; its latest attempt (a resume, recover or retry runs only the elements that did not succeed) ends once they have.';
COMMENT ON COLUMN sched.dynamic_progress.workflow_instance_id IS 'The workflow instance.';
COMMENT ON COLUMN sched.dynamic_progress.task_id IS 'The dynamic task.';
COMMENT ON COLUMN sched.dynamic_progress.run IS 'The run of the instance.';
COMMENT ON COLUMN sched.dynamic_progress.task_instance_id IS 'The dynamic task''s attempt the elements now run for.';
COMMENT ON COLUMN sched.dynamic_progress.element_task IS 'The element task, whose attempts are the elements.';
COMMENT ON COLUMN sched.dynamic_progress.total IS 'Elements the lists expanded into.';
COMMENT ON COLUMN sched.dynamic_progress.pending IS 'The elements this attempt runs, in order, when not all (a resume, recover or retry: those that did not succeed); NULL for all.';
COMMENT ON COLUMN sched.dynamic_progress.released IS 'How many of them got attempts so far (parallelism holds the others back).';
COMMENT ON COLUMN sched.dynamic_progress.ended IS 'How many of those ended for good (a retry pending is not an end).';
COMMENT ON COLUMN sched.dynamic_progress.failed IS 'How many of those failed or were killed.';
COMMENT ON COLUMN sched.dynamic_progress.parallelism IS 'Most elements running at once; NULL for no limit of its own.';
COMMENT ON COLUMN sched.dynamic_progress.on_failure IS 'After an element failed: stop (the others are killed, nothing more starts) or continue; the dynamic task fails either way once the elements are done.';
COMMENT ON COLUMN sched.dynamic_progress.stopping IS 'An element failed under on_failure stop: no element starts any more.';
