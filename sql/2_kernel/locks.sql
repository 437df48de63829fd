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
-- other only for the last step, whether the instance has ended (3_engine/complete.sql).
--
-- A row lock is not queued fairly: FOR UPDATE waits until no report holds the row, and new
-- reports that share it keep coming while it waits (a stop waited 30 s behind eight workers
-- draining an instance). So shared reports also hold the instance's gate, a shared advisory
-- lock, to their commit, and an exclusive locker that finds the row taken queues at the gate
-- first: the lock manager's queue stops new reports until it is through. The gate is the
-- two-key advisory lock (the class `gate` of _lock_instances, the id's low 31 bits): a user's
-- one-key advisory locks never meet it, and two instances that share a gate only wait for each
-- other now and then. Anyone may take an advisory lock, so nobody depends on getting the gate:
-- a report that cannot get it shares nothing and locks the row alone, and an exclusive locker
-- waits at the gate a second at most, then for the row as before.

-- Locks instances, shared (one instance, never waiting) or exclusively; returns those of `ids`
-- now locked (all of them when waiting; with wait false, those locked by others in a
-- conflicting mode are skipped, after a moment at the gate for an exclusive lock).
CREATE FUNCTION sched._lock_instances(ids bigint[], shared boolean, wait boolean) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    gate    CONSTANT integer := 1935893860;
    locked  bigint[] := '{}';
    one     bigint;
    timeout text;
BEGIN
    IF shared THEN
        -- A shared lock is taken for one instance, at once or not at all: a batch that shares
        -- reports on one, and locks it alone when it cannot share. The gate first: its try
        -- fails while an exclusive locker queues there, and a report that took the row first
        -- would keep that locker waiting for it.
        one := ids[1];
        IF pg_catalog.pg_try_advisory_xact_lock_shared(gate, (one & 2147483647)::integer) THEN
            IF EXISTS (SELECT 1 FROM sched.workflow_instance wi WHERE wi.id = one FOR KEY SHARE SKIP LOCKED) THEN
                RETURN ids;
            END IF;
        END IF;
        RETURN locked;
    END IF;
    IF wait THEN
        -- One at a time, lowest id first: a row is waited for only with every lower one held.
        FOREACH one IN ARRAY ARRAY(SELECT i FROM unnest(ids) i ORDER BY i) LOOP
            IF NOT EXISTS (SELECT 1 FROM sched.workflow_instance wi WHERE wi.id = one
                           FOR UPDATE SKIP LOCKED) THEN
                -- At most a second, and less under a shorter lock_timeout of the caller's.
                timeout := pg_catalog.current_setting('lock_timeout');
                BEGIN
                    PERFORM pg_catalog.set_config('lock_timeout',
                        CASE WHEN timeout::interval = '0' OR timeout::interval > '1s' THEN '1s' ELSE timeout END, true);
                    PERFORM pg_catalog.pg_advisory_xact_lock(gate, (one & 2147483647)::integer);
                EXCEPTION WHEN lock_not_available THEN
                    NULL;
                END;
                PERFORM pg_catalog.set_config('lock_timeout', timeout, true);
                PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = one FOR UPDATE;
            END IF;
        END LOOP;
        RETURN ids;
    END IF;
    SELECT coalesce(array_agg(l.id), '{}') INTO locked FROM (
        SELECT wi.id FROM sched.workflow_instance wi WHERE wi.id = ANY(ids)
        ORDER BY wi.id FOR UPDATE SKIP LOCKED) l;
    IF cardinality(locked) = cardinality(ids) THEN
        RETURN locked;
    END IF;
    -- Taken by others: a moment at the gate lets the reports that hold it finish and keeps new
    -- ones out; a lock that stays taken (a user's open transaction) is skipped.
    FOREACH one IN ARRAY ARRAY(SELECT w.id FROM sched.workflow_instance w
                              WHERE w.id = ANY(ids) AND NOT w.id = ANY(locked) ORDER BY w.id) LOOP
        timeout := pg_catalog.current_setting('lock_timeout');
        BEGIN
            PERFORM pg_catalog.set_config('lock_timeout', '50ms', true);
            PERFORM pg_catalog.pg_advisory_xact_lock(gate, (one & 2147483647)::integer);
            PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = one FOR UPDATE;
            locked := locked || one;
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
        PERFORM pg_catalog.set_config('lock_timeout', timeout, true);
    END LOOP;
    RETURN locked;
END
$$;
COMMENT ON FUNCTION sched._lock_instances(bigint[], boolean, boolean) IS
    'Internal: locks these instances, FOR KEY SHARE with their gate (reports of successes side by side) or FOR UPDATE, queueing at the gate when taken (everything else); returns those now locked (with wait false, the others are skipped).';

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
