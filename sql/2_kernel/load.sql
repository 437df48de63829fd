-- The live load of the database that admit_when expressions read (sched.load): counts only,
-- never another session's query or role, read as the extension's owner so that every backend
-- counts whoever asks.

-- Takes a WAL sample when the last is older than a second; the rate is over the two latest.
CREATE FUNCTION sched._sample_load() RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    last sched.load_sample;
    here pg_lsn := CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_current_wal_insert_lsn() END;
BEGIN
    IF here IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO last FROM sched.load_sample WHERE id = 1;
    IF NOT FOUND THEN
        INSERT INTO sched.load_sample (id, sampled_at, wal_lsn, wal_rate)
        VALUES (1, pg_catalog.clock_timestamp(), here, 0) ON CONFLICT (id) DO NOTHING;
    ELSIF last.sampled_at < pg_catalog.clock_timestamp() - interval '1 s' THEN
        UPDATE sched.load_sample
           SET wal_rate = greatest(0, (here - last.wal_lsn)::double precision
                                      / greatest(0.001, extract(epoch FROM pg_catalog.clock_timestamp() - last.sampled_at))),
               wal_lsn = here, sampled_at = pg_catalog.clock_timestamp()
         WHERE id = 1;
    END IF;
END
$$;
COMMENT ON FUNCTION sched._sample_load() IS 'Internal: samples the WAL position for sched.load''s wal_rate, at most once a second.';

CREATE FUNCTION sched._load(OUT active_backends integer, OUT lock_waits integer, OUT replication_lag double precision,
                            OUT wal_rate double precision)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity a
            WHERE a.state = 'active' AND a.backend_type <> 'walsender' AND a.pid <> pg_catalog.pg_backend_pid())::integer,
           (SELECT count(*) FROM pg_catalog.pg_stat_activity a WHERE a.wait_event_type = 'Lock')::integer,
           coalesce(CASE WHEN pg_catalog.pg_is_in_recovery()
                         THEN extract(epoch FROM pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp())
                         ELSE (SELECT max(extract(epoch FROM greatest(r.write_lag, r.flush_lag, r.replay_lag)))
                               FROM pg_catalog.pg_stat_replication r) END, 0)::double precision,
           coalesce((SELECT s.wal_rate FROM sched.load_sample s WHERE s.id = 1), 0)
$$;
COMMENT ON FUNCTION sched._load() IS 'Internal, for sched.load: the live load of the database, counted over every backend.';
