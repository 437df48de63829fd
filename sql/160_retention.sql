-- Retention (DESIGN §7): the master keeps a day partition of the log ahead of time, drops the
-- ones past sched.log_retention, and deletes finished instances past sched.history_retention.
-- Both functions take "today" / "now" as arguments so that tests can move the clock.

CREATE FUNCTION sched._maintain_logs(today date, log_retention interval) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- Attaching takes a short exclusive lock on the default partition and dropping one on the
-- log; neither may queue the hot path behind a long transaction: try again next time.
SET lock_timeout = '100ms'
AS $$
DECLARE
    d       date;
    part    text;
    cutoff  date := today - log_retention;
    old     record;
BEGIN
    FOR d IN SELECT g::date FROM generate_series(today - 1, today + 2, interval '1 day') g LOOP
        part := 'task_log_line_' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass('sched.' || part) IS NOT NULL OR d < cutoff;
        -- Lines that already went to the default partition move into the new one first:
        -- attaching refuses while the default holds rows of its range.
        EXECUTE format('CREATE TABLE sched.%I (LIKE sched.task_log_line INCLUDING DEFAULTS)', part);
        EXECUTE format('WITH moved AS (DELETE FROM sched.task_log_line_default WHERE day = %L RETURNING *)
                        INSERT INTO sched.%I SELECT * FROM moved', d, part);
        EXECUTE format('ALTER TABLE sched.task_log_line ATTACH PARTITION sched.%I FOR VALUES FROM (%L) TO (%L)',
                       part, d, d + 1);
        EXECUTE format('COMMENT ON TABLE sched.%I IS %L', part,
                       format('Log lines of attempts queued on %s (UTC); dropped after sched.log_retention.', d));
    END LOOP;
    FOR old IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'sched.task_log_line'::regclass
          AND c.relname ~ '^task_log_line_[0-9]{8}$'
          AND to_date(substr(c.relname, 15), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE sched.%I', old.relname);
    END LOOP;
    DELETE FROM sched.task_log_line_default l WHERE l.day < cutoff;
EXCEPTION WHEN lock_not_available THEN
    RAISE LOG 'pg_sched master: the task log is locked by another transaction; log partitions are maintained on a later pass';
END
$$;
COMMENT ON FUNCTION sched._maintain_logs(date, interval) IS
    'Internal, run by the master: creates the log partitions of yesterday to the day after tomorrow and drops those older than log_retention.';

CREATE FUNCTION sched._expire_history(now timestamptz, history_retention interval, batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expired bigint[];
BEGIN
    -- Finished instances only, oldest first, a batch at a time: the master comes back soon.
    -- SKIP LOCKED: an instance someone holds is not worth waiting for.
    SELECT array_agg(x.id) INTO expired FROM (
        SELECT wi.id FROM sched.workflow_instance wi
        WHERE wi.ended_at < now - history_retention
        ORDER BY wi.ended_at
        LIMIT batch
        FOR UPDATE SKIP LOCKED) x;
    IF expired IS NULL THEN
        RETURN 0;
    END IF;
    -- The bulk tables have no foreign keys (010_definitions.sql); commands cascade.
    DELETE FROM sched.task_log_line l USING sched.task_instance ti
    WHERE l.task_instance_id = ti.id AND ti.workflow_instance_id = ANY(expired);
    DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_instance ti WHERE ti.workflow_instance_id = ANY(expired);
    DELETE FROM sched.workflow_instance wi WHERE wi.id = ANY(expired);
    RETURN cardinality(expired);
END
$$;
COMMENT ON FUNCTION sched._expire_history(timestamptz, interval, integer) IS
    'Internal, run by the master: deletes up to batch finished instances that ended more than history_retention before now, with their task attempts, logs and commands; returns how many.';
