-- Lock order: a sub-process instance has a higher id than every instance above it, and every
-- path that locks an instance locks its ancestors with it, lowest id first (_lock_family here,
-- the completion's lock in 5_protocol/worker.sql). A child's end then needs no new lock to end
-- its SUB_PROCESS attempt (the parent is locked already), and locks taken downwards (a parent's
-- stop or pause reaching its children) go to higher ids.

-- Locks instances and everything above them, lowest id first; returns those of `ids` whose
-- whole family is locked (all of them when waiting; with wait false, the others are skipped).
CREATE FUNCTION sched._lock_family(ids bigint[], wait boolean) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    family bigint[];
    locked bigint[];
BEGIN
    SELECT array_agg(DISTINCT f.id ORDER BY f.id) INTO family
    FROM sched.workflow_instance wi CROSS JOIN LATERAL unnest(wi.ancestors || wi.id) AS f(id)
    WHERE wi.id = ANY(ids);
    IF wait THEN
        PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = ANY(family) ORDER BY wi.id FOR NO KEY UPDATE;
        locked := family;
    ELSE
        SELECT array_agg(l.id) INTO locked FROM (
            SELECT wi.id FROM sched.workflow_instance wi WHERE wi.id = ANY(family)
            ORDER BY wi.id FOR NO KEY UPDATE SKIP LOCKED) l;
    END IF;
    RETURN ARRAY(SELECT wi.id FROM sched.workflow_instance wi
                 WHERE wi.id = ANY(ids) AND (wi.ancestors || wi.id) <@ coalesce(locked, '{}'));
END
$$;
COMMENT ON FUNCTION sched._lock_family(bigint[], boolean) IS
    'Internal: locks these instances with the instances above them (sub-processes), lowest id first; returns those now locked with their whole family.';
