-- What DEPENDENT tasks wait for: an entry per waiting attempt and workflow it depends on, so
-- that an instance's end wakes only the attempts that wait for its workflow
-- (3_engine/dependent.sql).

CREATE TABLE sched.dependent_watch (
    workflow_id      bigint NOT NULL,
    task_instance_id bigint NOT NULL,
    PRIMARY KEY (workflow_id, task_instance_id)
);
CREATE INDEX dependent_watch_by_task ON sched.dependent_watch (task_instance_id);
COMMENT ON TABLE sched.dependent_watch IS 'Waiting DEPENDENT attempts and the workflows they wait on: an instance of such a workflow that ends has them looked at again at once.';
COMMENT ON COLUMN sched.dependent_watch.workflow_id IS 'A workflow the attempt waits on.';
COMMENT ON COLUMN sched.dependent_watch.task_instance_id IS 'The waiting DEPENDENT attempt.';
