-- Lock order: a sub-process instance has a higher id than every instance above it, and every
-- path that locks an instance locks its ancestors with it, lowest id first (_lock_family here,
-- the completion's lock in 3_engine/complete.sql). A child's end then needs no new lock to end
-- its SUB_PROCESS attempt (the parent is locked already), and locks taken downwards (a parent's
-- stop or pause reaching its children) go to higher ids.
--
-- Two modes. Whoever changes what an instance does (stops, pauses, fails, times out, fails
-- over, recovers it) locks it exclusively, FOR UPDATE. Workers' reports of successes in one
-- instance with nothing decided in the database take FOR KEY SHARE, which such reports share
-- with each other and nothing else: they advance the instance side by side, and wait for each
-- other only for the last step, whether the instance has ended (3_engine/advance.sql).

-- Locks instances in id order, shared or exclusively; returns those of `ids` now locked (all of
-- them when waiting; with wait false, those locked by others in a conflicting mode are skipped).
CREATE FUNCTION sched._lock_instances(ids bigint[], shared boolean, wait boolean) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    locked bigint[];
BEGIN
    IF wait AND shared THEN
        PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = ANY(ids) ORDER BY wi.id FOR KEY SHARE;
        RETURN ids;
    ELSIF wait THEN
        PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = ANY(ids) ORDER BY wi.id FOR UPDATE;
        RETURN ids;
    ELSIF shared THEN
        SELECT array_agg(l.id) INTO locked FROM (
            SELECT wi.id FROM sched.workflow_instance wi WHERE wi.id = ANY(ids)
            ORDER BY wi.id FOR KEY SHARE SKIP LOCKED) l;
    ELSE
        SELECT array_agg(l.id) INTO locked FROM (
            SELECT wi.id FROM sched.workflow_instance wi WHERE wi.id = ANY(ids)
            ORDER BY wi.id FOR UPDATE SKIP LOCKED) l;
    END IF;
    RETURN coalesce(locked, '{}');
END
$$;
COMMENT ON FUNCTION sched._lock_instances(bigint[], boolean, boolean) IS
    'Internal: locks these instances in id order, FOR KEY SHARE (reports of successes side by side) or FOR UPDATE (everything else); returns those now locked (with wait false, the others are skipped).';

-- Locks instances and everything above them exclusively, lowest id first; returns those of
-- `ids` whose whole family is locked (all of them when waiting; with wait false, the others
-- are skipped).
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
    locked := sched._lock_instances(family, false, wait);
    RETURN ARRAY(SELECT wi.id FROM sched.workflow_instance wi
                 WHERE wi.id = ANY(ids) AND (wi.ancestors || wi.id) <@ locked);
END
$$;
COMMENT ON FUNCTION sched._lock_family(bigint[], boolean) IS
    'Internal: locks these instances with the instances above them (sub-processes) exclusively, lowest id first; returns those now locked with their whole family.';
