-- Cron helpers (what a visual cron builder calls). The rules are sched-core's
-- (core/src/cron.rs): Quartz (6 or 7 fields) and Unix (5 fields) expressions, IANA zones.

CREATE FUNCTION sched.cron_next(expr text, n integer DEFAULT 1, after timestamptz DEFAULT NULL, timezone text DEFAULT 'UTC')
RETURNS SETOF timestamptz
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._cron_next(principal regrole, expr text, n integer, after timestamptz, timezone text)
RETURNS SETOF timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.to_timestamp(f)
    FROM sched._cron_fires(expr, n, extract(epoch FROM coalesce(after, pg_catalog.now()))::float8, timezone) AS f
$$;
COMMENT ON FUNCTION sched.cron_next(text, integer, timestamptz, text) IS
    'The next n (1 to 1000) fire times of a cron expression strictly after after (default now), in an IANA time zone (default UTC). Quartz (6 or 7 fields: second minute hour day-of-month month day-of-week [year]; ?, L, L-n, W, LW, n#k, nL) or Unix (5 fields; Sunday 0 or 7; day-of-month and day-of-week OR''ed when both are restricted; @daily and the like). A local time skipped by daylight saving does not fire; a repeated one fires once.';
COMMENT ON FUNCTION sched._cron_next(regrole, text, integer, timestamptz, text) IS
    'Internal: the computation of sched.cron_next.';
COMMENT ON FUNCTION sched._cron_fires(text, integer, double precision, text) IS
    'Internal: fire times of a cron expression as seconds since the epoch; pure.';
