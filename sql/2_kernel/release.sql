-- The release whose SQL is installed, for messages that tell what to upgrade (the worker
-- protocol's refusal; the master and the clients read the same catalog row).

CREATE FUNCTION sched._extension_version() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_sched' $$;
COMMENT ON FUNCTION sched._extension_version() IS
    'Internal: the version of pg_sched whose SQL is installed in this database (ALTER EXTENSION pg_sched UPDATE changes it).';
