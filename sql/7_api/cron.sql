-- Cron helpers (what a visual cron builder calls). The rules are sched-core's
-- (core/src/cron/): Quartz (6 or 7 fields) and Unix (5 fields) expressions, IANA zones.

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
    'The next n (1 to 1000) fire times of a cron expression strictly after after (default now), in an IANA time zone (default UTC). Quartz 2.3 (6 or 7 fields: second minute hour day-of-month month day-of-week [year]; ?, L, L-n, W, LW, L-nW, n#k, nL; a range whose start is after its end wraps around, e.g. hours 22-2, FRI-MON; /n alone steps from the field''s first value) or Unix (5 fields; Sunday 0 or 7, SUN at the end of a range is 7; day-of-month and day-of-week OR''ed when both are restricted; @daily and the like). A step may not be larger than its field (59 seconds or minutes, 23 hours, 31 days of month, 12 months, 7 days of week). A local time skipped by daylight saving does not fire; a repeated one fires once.';
COMMENT ON FUNCTION sched._cron_next(regrole, text, integer, timestamptz, text) IS
    'Internal: the computation of sched.cron_next.';

CREATE FUNCTION sched.cron_prev(expr text, n integer DEFAULT 1, before timestamptz DEFAULT NULL, timezone text DEFAULT 'UTC')
RETURNS SETOF timestamptz
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._cron_prev(principal regrole, expr text, n integer, before timestamptz, timezone text)
RETURNS SETOF timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.to_timestamp(f)
    FROM sched._cron_prev_fires(expr, n, extract(epoch FROM coalesce(before, pg_catalog.now()))::float8, timezone) AS f
$$;
COMMENT ON FUNCTION sched.cron_prev(text, integer, timestamptz, text) IS
    'The previous n (1 to 1000) fire times of a cron expression strictly before before (default now), latest first, in an IANA time zone (default UTC); the same fire times as sched.cron_next, looked for backwards (none before 1970). A local time skipped by daylight saving did not fire; a repeated one fired once, at its first occurrence.';
COMMENT ON FUNCTION sched._cron_prev(regrole, text, integer, timestamptz, text) IS
    'Internal: the computation of sched.cron_prev.';

CREATE FUNCTION sched.cron_describe(expr text, lang text DEFAULT 'en') RETURNS text
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._cron_describe(principal regrole, expr text, lang text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT sched._cron_words(expr, lang) $$;
COMMENT ON FUNCTION sched.cron_describe(text, text) IS
    'A cron expression in words, in English (en) or Chinese (zh), e.g. sched.cron_describe(''0 30 2 1 * ?'') = ''At 02:30, on day 1 of the month''. A step is said as the values it lands on (Quartz ''0 0 12 ? * FRI/2'' = ''At 12:00, only on Friday'').';
COMMENT ON FUNCTION sched._cron_describe(regrole, text, text) IS 'Internal: the computation of sched.cron_describe.';

CREATE FUNCTION sched.cron_parse(expr text) RETURNS jsonb
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._cron_parse(principal regrole, expr text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$ SELECT sched._cron_structure(expr) $$;
COMMENT ON FUNCTION sched.cron_parse(text) IS
    'The structure a visual cron builder edits: {"dialect": "quartz"|"unix", "second", "minute", "hour", "day_of_month", "month", "day_of_week", "year"}, each field an array of parts {"kind": every | any | value (value) | range (from, to) | interval (start, end, step; start null for */step) | last_day (offset) | last_weekday (offset: 0 for LW, n for L-nW) | nearest_weekday (day) | last_weekday_of_month (weekday) | nth_weekday (weekday, nth)}. sched.cron_build turns it back into an expression.';
COMMENT ON FUNCTION sched._cron_parse(regrole, text) IS 'Internal: the computation of sched.cron_parse.';

CREATE FUNCTION sched.cron_build(spec jsonb) RETURNS text
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._cron_build(principal regrole, spec jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT sched._cron_text(spec) $$;
COMMENT ON FUNCTION sched.cron_build(jsonb) IS
    'The cron expression of a structure as sched.cron_parse returns it; cron_build(cron_parse(e)) gives e back (names as numbers). Values are checked as in an expression.';
COMMENT ON FUNCTION sched._cron_build(regrole, jsonb) IS 'Internal: the computation of sched.cron_build.';
