-- The ready queue's dead head. A claimed attempt's entry stays in task_instance_ready, marked
-- dead, until a vacuum removes it, and every claim of its worker group starts at the head of
-- the group and steps over all of them: after two runs of 100,000 tasks a claim of the empty
-- queue read 381 index pages (1.3 ms), and an idle task started 3.2–3.7 ms after its start's
-- commit instead of 1.3–1.5 ms.
-- Autovacuum would remove them, but it visits a database only once per autovacuum_naptime (a
-- minute by default). The master asks for the same vacuum as soon as autovacuum's own rule
-- (its threshold and scale factor, the table's or the server's) finds it due, and runs it in a
-- background worker of its own (extension/src/vacuum.rs), so that a burst's dead head goes
-- seconds after the burst, not a minute. Where autovacuum is switched off, for the server or
-- for the table, so is this. Dead rows an open snapshot still sees survive a vacuum, and
-- vacuuming again removes nothing: only the dead rows beyond what the last vacuum left behind
-- (the master keeps that count) make one due.
CREATE FUNCTION sched._vacuum_due(left_behind bigint, OUT due boolean, OUT dead_rows bigint, OUT vacuums bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH options AS (
        SELECT c.oid, c.reltuples, pg_catalog.pg_stat_get_dead_tuples(c.oid) AS dead,
               (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
                WHERE o.option_name = 'autovacuum_enabled') AS enabled,
               (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
                WHERE o.option_name = 'autovacuum_vacuum_threshold') AS threshold,
               (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
                WHERE o.option_name = 'autovacuum_vacuum_scale_factor') AS scale_factor
        FROM pg_catalog.pg_class c
        WHERE c.oid = 'sched.task_instance'::regclass
    )
    SELECT pg_catalog.current_setting('autovacuum')::boolean
       AND coalesce(o.enabled, 'on')::boolean
       -- Ten thousand at least: a vacuum reads the whole table and its indexes, and a claim
       -- steps over a few thousand dead entries in a few microseconds.
       AND o.dead - greatest(_vacuum_due.left_behind, 0) >= greatest(10000,
               coalesce(o.threshold, pg_catalog.current_setting('autovacuum_vacuum_threshold'))::float8
               + coalesce(o.scale_factor, pg_catalog.current_setting('autovacuum_vacuum_scale_factor'))::float8
                 * greatest(o.reltuples, 0))
       -- Five seconds after the last vacuum ended, whoever ran it: during a long burst the
       -- head's cost to the claims and the vacuums' cost stay about even.
       AND coalesce(greatest(pg_catalog.pg_stat_get_last_vacuum_time(o.oid),
                             pg_catalog.pg_stat_get_last_autovacuum_time(o.oid))
                    < pg_catalog.now() - interval '5 seconds', true)
       -- Not beside autovacuum's: it would only wait for that one's lock and skip the table.
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_get_progress_info('VACUUM') p WHERE p.relid = o.oid),
           o.dead,
           pg_catalog.pg_stat_get_vacuum_count(o.oid)
    FROM options o
$$;
COMMENT ON FUNCTION sched._vacuum_due(bigint) IS
    'Internal: whether sched.task_instance holds, beyond the left_behind dead rows the last vacuum could not remove, as many dead rows as autovacuum''s rule for it asks to vacuum (and ten thousand at least), no vacuum of it ended in the last five seconds and none runs; how many dead rows it holds; and how many vacuums of it (not autovacuum''s) completed. The master then vacuums it at once instead of waiting for autovacuum''s next visit.';
