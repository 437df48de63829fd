-- Run by the master (4_master/tick.sql): the holders of consistent snapshots
-- (extension/src/snapshot.rs). A holder whose instance ended is released; one that has held
-- its snapshot longer than sched.snapshot_max_age fails its instance first, as failure strategy
-- end would (its active attempts killed with kill_reason snapshot_max_age, nothing started
-- after), since an open snapshot holds back vacuum. Returns when to look again, NULL when no
-- snapshot is held.
CREATE FUNCTION sched._snapshot_tick() RETURNS timestamptz
LANGUAGE plpgsql
AS $$
DECLARE
    h       record;
    holding boolean := false;
    max_age interval := current_setting('sched.snapshot_max_age')::interval;
BEGIN
    FOR h IN
        SELECT s.instance_id, to_timestamp(s.since) AS since, wi.state
        FROM sched._snapshot_holders() s
        LEFT JOIN sched.workflow_instance wi ON wi.id = s.instance_id
        ORDER BY s.instance_id
    LOOP
        IF h.state IS NULL OR h.state = ANY (sched._workflow_states_finished()) THEN
            PERFORM sched._release_snapshot(h.instance_id);
        ELSIF h.since < now() - max_age THEN
            -- Under its family's locks, as a timeout stops an instance; the next tick retries.
            IF h.instance_id <> ALL (sched._lock_family(ARRAY[h.instance_id], false)) THEN
                holding := true;
                CONTINUE;
            END IF;
            UPDATE sched.workflow_instance SET has_failure = true, failure_strategy = 'end' WHERE id = h.instance_id;
            PERFORM sched._kill_active(ARRAY[h.instance_id], 'snapshot_max_age');
            PERFORM sched._finish_if_done(ARRAY[h.instance_id]);
            PERFORM sched._release_snapshot(h.instance_id);
        ELSE
            holding := true;
        END IF;
    END LOOP;
    RETURN CASE WHEN holding THEN clock_timestamp() + interval '1 s' END;
END
$$;
COMMENT ON FUNCTION sched._snapshot_tick() IS
    'Internal, run by the master: releases the consistent snapshots of ended instances, fails the instances that held one longer than sched.snapshot_max_age; returns when to look again (NULL when none is held).';
