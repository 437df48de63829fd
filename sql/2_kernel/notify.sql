-- Waking workers: a NOTIFY per worker group that got ready tasks, sent at commit, so that an
-- idle worker claims within a commit's time instead of at its next poll.

CREATE FUNCTION sched._notify_ready(groups text[], taken_by bigint DEFAULT NULL, everyone boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    g      text;
    target bigint;
    heard  timestamptz;
BEGIN
    -- A completion asks with no group at all whenever it made nothing ready for others: the
    -- hot path pays for this test only.
    IF groups IS NULL OR cardinality(groups) = 0 THEN
        RETURN;
    END IF;
    -- One tiny notification per worker group: PostgreSQL folds duplicates within a transaction.
    -- Unless everyone is to be woken, it names one worker of the group, the one with the most
    -- free slots at its last heartbeat (any of them when several have as many), not the one
    -- (taken_by) that took all it could: waking every worker made all of them claim, all but
    -- one for nothing. The worker named claims; one that finds no slot free wakes the whole
    -- group, and one that fills its slots names the next (sched._claim_tasks). Only a worker
    -- heard from within two heartbeats is named: one that died without a word is not woken
    -- for nothing. With none such, or only workers of an older protocol, which understand only
    -- a wake-up of their whole group, the whole group is woken.
    IF NOT everyone THEN
        heard := pg_catalog.clock_timestamp() - 2 * sched._heartbeat_period(pg_catalog.current_setting('sched.worker_timeout')::interval);
    END IF;
    FOREACH g IN ARRAY groups LOOP
        IF everyone THEN
            PERFORM pg_catalog.pg_notify('sched_ready', g);
            CONTINUE;
        END IF;
        SELECT w.id INTO target
          FROM sched.worker w
         WHERE w.alive AND g = ANY (w.groups) AND w.protocol >= sched._named_wake_protocol()
           AND w.last_heartbeat >= heard AND w.id IS DISTINCT FROM taken_by
         ORDER BY w.slots - w.running DESC, pg_catalog.random()
         LIMIT 1;
        -- The one named hears it on its own channel: every other worker's process sleeps on.
        IF FOUND THEN
            PERFORM pg_catalog.pg_notify(sched._worker_channel(target), g || ' ' || target);
        ELSE
            PERFORM pg_catalog.pg_notify('sched_ready', g);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._notify_ready(text[], bigint, boolean) IS
    'Internal: wakes a worker of each of these groups (the one with the most free slots at its last heartbeat, heard from within two heartbeats, not taken_by), or all of a group''s workers with everyone or when none such speaks a protocol that names one.';
