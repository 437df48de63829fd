-- History and retention. A minute after an instance finishes, the master moves its task
-- attempts to sched.task_instance_history, partitioned by the UTC day they ended. Task output is
-- partitioned by the day its attempt was queued (1_schema/30_workers.sql). The master makes day
-- partitions ahead of time and drops those past sched.log_retention and
-- sched.history_retention; instances past the latter are deleted with what is left of them.
-- The functions take "today" / "now" as arguments so that tests can move the clock.

-- Day partitions of parent (named <parent>_YYYYMMDD) for yesterday to the day after tomorrow,
-- and none older than retention. Rows that went to the default partition meanwhile move into
-- the new one first: attaching refuses while the default holds rows of its range.
CREATE FUNCTION sched._maintain_days(parent regclass, key text, today date, retention interval) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- Attaching takes a short exclusive lock on the default partition and dropping one on the
-- parent; neither may queue the hot path behind a long transaction: try again next time.
SET lock_timeout = '100ms'
AS $$
DECLARE
    base     text := (SELECT c.relname FROM pg_class c WHERE c.oid = parent);
    d        date;
    part     text;
    cutoff   date := today - retention;
    lo       text;
    hi       text;
    occupied boolean;
    old      record;
BEGIN
    FOR d IN SELECT g::date FROM generate_series(today - 1, today + 2, interval '1 day') g LOOP
        part := base || '_' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass('sched.' || part) IS NOT NULL OR d < cutoff;
        -- A date key takes the day; a timestamptz key the day's UTC midnights.
        IF key = 'day' THEN
            lo := quote_literal(d);
            hi := quote_literal(d + 1);
        ELSE
            lo := quote_literal(d::timestamp AT TIME ZONE 'UTC');
            hi := quote_literal((d + 1)::timestamp AT TIME ZONE 'UTC');
        END IF;
        -- A day that already has rows in the default partition (it began while no master ran,
        -- as on a fresh install) keeps them there, with the rest of its rows, until retention.
        -- Moving them to a new partition is not atomic to readers: a query planned after the
        -- attach and reading a snapshot from before it prunes the default partition and does
        -- not see the new one's rows, and an instance or its lines would vanish for a moment.
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM sched.%I WHERE %I >= %s AND %I < %s)',
                       base || '_default', key, lo, key, hi) INTO occupied;
        CONTINUE WHEN occupied;
        EXECUTE format('CREATE TABLE sched.%I (LIKE sched.%I INCLUDING DEFAULTS)', part, base);
        EXECUTE format('ALTER TABLE sched.%I ATTACH PARTITION sched.%I FOR VALUES FROM (%s) TO (%s)',
                       base, part, lo, hi);
        EXECUTE format('COMMENT ON TABLE sched.%I IS %L', part,
                       format('Day partition of sched.%s for %s (UTC).', base, d));
    END LOOP;
    FOR old IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent
          AND c.relname ~ ('^' || base || '_[0-9]{8}$')
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE sched.%I', old.relname);
    END LOOP;
EXCEPTION WHEN lock_not_available OR check_violation THEN
    -- Locked, or a row of the day arrived in the default partition since the look above.
    RAISE LOG 'pg_sched master: % is locked by another transaction or just got rows of a new day; its partitions are maintained on a later pass', parent;
END
$$;
COMMENT ON FUNCTION sched._maintain_days(regclass, text, date, interval) IS
    'Internal, run by the master: creates the day partitions of parent (partition key column key) from yesterday to the day after tomorrow and drops those older than retention.';

CREATE FUNCTION sched._maintain_logs(today date, log_retention interval) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sched._maintain_days('sched.task_log_line', 'day', today, log_retention);
    DELETE FROM sched.task_log_line_default l WHERE l.day < today - log_retention;
END
$$;
COMMENT ON FUNCTION sched._maintain_logs(date, interval) IS
    'Internal, run by the master: keeps the day partitions of the task log and drops those older than log_retention.';

CREATE FUNCTION sched._archive_finished(now timestamptz, batch integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done bigint[];
BEGIN
    -- A minute after the end, so that whoever waited for the instance reads its attempts
    -- where they were; SKIP LOCKED: an instance someone holds waits for the next pass. A
    -- batch stops at about 20,000 attempts (but takes at least one instance), so that a wide
    -- instance moves in a transaction of its own.
    SELECT array_agg(x.id) INTO done FROM (
        SELECT c.id, sum(c.n) OVER (ORDER BY c.ended_at, c.id) AS running_total, c.n
        FROM (SELECT wi.id, wi.ended_at,
                     (SELECT count(*) FROM sched.task_instance ti WHERE ti.workflow_instance_id = wi.id) AS n
              FROM sched.workflow_instance wi
              WHERE wi.ended_at IS NOT NULL AND NOT wi.archived AND wi.ended_at < now - interval '1 minute'
              ORDER BY wi.ended_at
              LIMIT batch
              FOR UPDATE SKIP LOCKED) c) x
    WHERE x.running_total - x.n < 20000;
    IF done IS NULL THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM sched.task_instance ti WHERE ti.workflow_instance_id = ANY(done) RETURNING ti.*)
    INSERT INTO sched.task_instance_history SELECT * FROM moved;
    UPDATE sched.workflow_instance wi SET archived = true WHERE wi.id = ANY(done);
    RETURN cardinality(done);
END
$$;
COMMENT ON FUNCTION sched._archive_finished(timestamptz, integer) IS
    'Internal, run by the master: moves the task attempts of up to batch instances that finished over a minute before now to sched.task_instance_history; returns how many instances.';

CREATE FUNCTION sched._expire_history(now timestamptz, history_retention interval, batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expired bigint[];
BEGIN
    PERFORM sched._maintain_days('sched.task_instance_history', 'ended_at',
                                 (now AT TIME ZONE 'UTC')::date, history_retention);
    -- Tests of alert groups and missed deadlines of runs that never started concern no
    -- instance: they go by their own age.
    DELETE FROM sched.alert a WHERE a.workflow_instance_id IS NULL AND a.created_at < now - history_retention;
    -- Triggers' fires and dataset events go by their age too; an event a consumer has yet to
    -- take stays.
    DELETE FROM sched.trigger_fire f WHERE f.fired_at < now - history_retention;
    DELETE FROM sched.dataset_event de
    WHERE de.created_at < now - history_retention
      AND de.id < coalesce((SELECT min(x.id) FROM sched.trigger_event e CROSS JOIN LATERAL unnest(e.dataset_event_ids) AS x(id)),
                           9223372036854775807);
    -- Finished instances only, oldest first, a batch at a time: the master comes back soon.
    SELECT array_agg(x.id) INTO expired FROM (
        SELECT wi.id FROM sched.workflow_instance wi
        WHERE wi.ended_at < now - history_retention
        ORDER BY wi.ended_at
        LIMIT batch
        FOR UPDATE SKIP LOCKED) x;
    IF expired IS NULL THEN
        RETURN 0;
    END IF;
    -- What the dropped partitions did not take. The bulk tables have no foreign keys
    -- (1_schema/10_definitions.sql); commands cascade.
    DELETE FROM sched.task_log_line l USING sched.task_instance ti
    WHERE l.task_instance_id = ti.id AND ti.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_log_line l USING sched.task_instance_history th
    WHERE l.task_instance_id = th.id AND th.workflow_instance_id = ANY(expired);
    DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = ANY(expired);
    DELETE FROM sched.dynamic_element e WHERE e.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_result r WHERE r.workflow_instance_id = ANY(expired);
    DELETE FROM sched.late_report lr WHERE lr.workflow_instance_id = ANY(expired);
    DELETE FROM sched.alert a WHERE a.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_instance ti WHERE ti.workflow_instance_id = ANY(expired);
    DELETE FROM sched.task_instance_history th WHERE th.workflow_instance_id = ANY(expired);
    DELETE FROM sched.workflow_instance wi WHERE wi.id = ANY(expired);
    RETURN cardinality(expired);
END
$$;
COMMENT ON FUNCTION sched._expire_history(timestamptz, interval, integer) IS
    'Internal, run by the master: keeps the day partitions of the history, drops those older than history_retention, deletes the tests of alert groups, the fires of triggers and the dataset events (but those a consumer has yet to take) older than history_retention, and deletes up to batch finished instances that ended more than history_retention before now with what is left of their attempts, logs and commands; returns how many instances.';
