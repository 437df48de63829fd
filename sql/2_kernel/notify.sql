-- Waking workers: a NOTIFY per worker group that got ready tasks, sent at commit, so that an
-- idle worker claims within a commit's time instead of at its next poll.

CREATE FUNCTION sched._notify_ready(groups text[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    g text;
BEGIN
    IF groups IS NULL THEN
        RETURN;
    END IF;
    -- One tiny notification per worker group: PostgreSQL folds duplicates within a transaction,
    -- and workers only need to know that their group has work.
    FOREACH g IN ARRAY groups LOOP
        PERFORM pg_catalog.pg_notify('sched_ready', g);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._notify_ready(text[]) IS 'Internal: wakes the workers of these groups.';
