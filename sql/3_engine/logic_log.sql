-- The log of attempts no worker runs (logic tasks): lines written by the engine, read like any
-- task's output.

-- What a logic task decided goes to its log, where a worker task's output would be.
CREATE FUNCTION sched._logic_log(task_instance_id bigint, line text) RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO sched.task_log_line (task_instance_id, line_no, day, line)
    SELECT ti.id,
           coalesce((SELECT max(l.line_no) FROM sched.task_log_line l WHERE l.task_instance_id = ti.id), 0) + 1,
           (ti.queued_at AT TIME ZONE 'UTC')::date, line
    FROM sched.task_instance ti WHERE ti.id = task_instance_id
$$;
COMMENT ON FUNCTION sched._logic_log(bigint, text) IS 'Internal: appends a line to a logic task attempt''s log.';
