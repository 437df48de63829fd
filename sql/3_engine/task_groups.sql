-- Task group slots: an attempt of a grouped task takes a slot when it would be queued (it
-- waits in delayed, with no time, until one is free) and gives it back when it ends in any
-- way; slots go to the waiting attempts by task_group_priority (larger first), then as the
-- queue orders them, while the group's admit_when, if any, holds (3_engine/admit_when.sql).
-- Tasks of no group touch none of this.

-- Hands free slots of these groups to their waiting attempts. The group's row lock makes
-- concurrent grants and releases of one group take turns.
CREATE FUNCTION sched._grant_slots(group_ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    g      sched.task_group;
    groups text[];
BEGIN
    FOR g IN SELECT * FROM sched.task_group tg WHERE tg.id = ANY(group_ids) ORDER BY tg.id FOR UPDATE LOOP
        -- While its admit_when does not hold, the group hands out nothing; the master asks again.
        CONTINUE WHEN g.admit_when IS NOT NULL
                  AND sched._admit_reason('task_group', g.id, format('task group "%s"', g.name), g.admit_when, g.owner) IS NOT NULL;
        WITH granted AS (
            UPDATE sched.task_instance ti SET state = 'queued', holds_slot = true
            WHERE ti.id = ANY(ARRAY(
                      SELECT w.id FROM sched.task_instance w
                      WHERE w.task_group_id = g.id AND w.state = 'delayed' AND w.not_before IS NULL
                      ORDER BY w.task_group_priority DESC, w.workflow_priority, w.task_priority, w.id
                      LIMIT greatest(0, g.size - (SELECT count(*) FROM sched.task_instance h
                                                  WHERE h.task_group_id = g.id AND h.holds_slot))))
              AND ti.state = 'delayed'
            RETURNING ti.worker_group)
        SELECT array_agg(DISTINCT worker_group) INTO groups FROM granted;
        PERFORM sched._notify_ready(groups);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._grant_slots(bigint[]) IS 'Internal: queues as many waiting attempts of these task groups as they have free slots.';

-- These attempts ended (or stopped waiting in the queue): their slots go to the next waiting.
CREATE FUNCTION sched._release_slots(task_instance_ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    groups bigint[];
BEGIN
    WITH released AS (
        UPDATE sched.task_instance ti SET holds_slot = false
        WHERE ti.id = ANY(task_instance_ids) AND ti.holds_slot
        RETURNING ti.task_group_id)
    SELECT array_agg(DISTINCT task_group_id) INTO groups FROM released;
    IF groups IS NOT NULL THEN
        PERFORM sched._grant_slots(groups);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._release_slots(bigint[]) IS 'Internal: gives back the task-group slots of these attempts and hands them on.';
