-- Run by the master (4_master/tick.sql): attempts waiting for an admit_when are looked at again
-- while any waits, each expression at most once per sched._admit_interval()
-- (3_engine/admit_when.sql). Returns when to look again, NULL when nothing waits.
CREATE FUNCTION sched._admit_tick() RETURNS timestamptz
LANGUAGE plpgsql
AS $$
DECLARE
    held   bigint[];
    groups bigint[];
BEGIN
    held := ARRAY(SELECT ti.id FROM sched.task_instance ti
                  WHERE ti.state = 'delayed' AND ti.not_before IS NULL AND ti.task_group_id IS NULL
                  ORDER BY ti.id LIMIT 10000);
    groups := ARRAY(SELECT g.id FROM sched.task_group g
                    WHERE g.admit_when IS NOT NULL
                      AND EXISTS (SELECT 1 FROM sched.task_instance w
                                  WHERE w.task_group_id = g.id AND w.state = 'delayed' AND w.not_before IS NULL));
    IF held = '{}' AND groups = '{}' THEN
        RETURN NULL;
    END IF;
    IF held <> '{}' THEN
        PERFORM sched._admit_held(held);
    END IF;
    IF groups <> '{}' THEN
        PERFORM sched._grant_slots(groups);
    END IF;
    -- Results of gates that no longer exist or wait for nothing are not kept forever (one is
    -- added again when needed); one being written is left alone.
    DELETE FROM sched.admit_check c
    WHERE (c.gate, c.gate_id) IN (SELECT o.gate, o.gate_id FROM sched.admit_check o
                                  WHERE o.checked_at < now() - interval '1 day' FOR UPDATE SKIP LOCKED);
    RETURN clock_timestamp() + sched._admit_interval();
END
$$;
COMMENT ON FUNCTION sched._admit_tick() IS
    'Internal, run by the master: asks the admit_when of the workflows and task groups whose attempts wait for it again; returns when to look again (NULL when none waits).';
