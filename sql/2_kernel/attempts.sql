-- One reader of every attempt: the live table holds the attempts of unfinished instances, the
-- history those of finished ones (4_master/retention.sql moves them). Views and functions that
-- must find an attempt wherever it is read sched._attempts; one statement's snapshot sees an
-- attempt in exactly one of the two tables, even while the master moves it.

CREATE VIEW sched._attempts AS
SELECT * FROM sched.task_instance
UNION ALL
SELECT * FROM sched.task_instance_history;
COMMENT ON VIEW sched._attempts IS
    'Internal: every task attempt, of unfinished instances (sched.task_instance) and of finished ones whose attempts the master moved to sched.task_instance_history. A filter on id, workflow_instance_id or task_id reaches both tables'' indexes.';
-- Its columns are task_instance's and mean the same.
DO $columns$
DECLARE
    col record;
BEGIN
    FOR col IN SELECT a.attname, pg_catalog.col_description(a.attrelid, a.attnum) AS doc
               FROM pg_catalog.pg_attribute a
               WHERE a.attrelid = 'sched.task_instance'::regclass AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        EXECUTE pg_catalog.format('COMMENT ON COLUMN sched._attempts.%I IS %L', col.attname, col.doc);
    END LOOP;
END
$columns$;
