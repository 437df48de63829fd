-- Statistics for the engine's own plans. Workers and the master keep the plans of their
-- plpgsql statements for the session, and a plan made while a table was small (a fresh
-- install, the first big instance) walks the whole table once it has grown: a claim of 16
-- tasks in a 100,000-task instance would read all 100,000 attempts. Autovacuum analyses a
-- table only a minute and 2 % of its rows later. The master analyses a table of the engine as
-- soon as it holds twice the rows its statistics know of, and a thousand more; the analysis
-- invalidates those plans in every session. Doubling bounds it to a few analyses over any
-- growth, and to none while a table keeps its size.
CREATE FUNCTION sched._analyze_grown() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grown    regclass;
    analysed integer := 0;
BEGIN
    FOR grown IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'sched'::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
          AND pg_catalog.pg_stat_get_live_tuples(c.oid) > greatest(2 * c.reltuples, c.reltuples + 1000)
    LOOP
        -- Never behind autovacuum's lock: the next tick looks again.
        EXECUTE pg_catalog.format('ANALYZE (SKIP_LOCKED) %s', grown);
        analysed := analysed + 1;
    END LOOP;
    RETURN analysed;
END
$$;
COMMENT ON FUNCTION sched._analyze_grown() IS
    'Internal: the master''s analysis of the engine''s tables that hold more than twice the rows (and a thousand more) their statistics know of, so that no session keeps a plan made for a small table; returns how many it analysed.';
