-- pg_sched 0.2.0 to 0.3.0 (CHANGELOG.md): workers say their protocol version when they register,
-- and the extension refuses those it does not serve. Run by ALTER EXTENSION pg_sched UPDATE,
-- in one transaction; the test of tests/tests/upgrade.rs checks that a 0.2.0 database updated
-- by it has the schema of a fresh 0.3.0 install and keeps all it held.

\echo Use "ALTER EXTENSION pg_sched UPDATE" to load this file. \quit

-- The protocol versions (generated into 1_schema/01_vocabulary.sql from core/src/protocol.rs)
-- and the installed release (2_kernel/release.sql).
CREATE FUNCTION sched._worker_protocol() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 2 $$;
COMMENT ON FUNCTION sched._worker_protocol() IS 'Internal: the worker protocol of this release; register_worker serves it and the ones down to _worker_protocol_oldest().';

CREATE FUNCTION sched._worker_protocol_oldest() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1 $$;
COMMENT ON FUNCTION sched._worker_protocol_oldest() IS 'Internal: the oldest worker protocol register_worker still serves (workers of the release before keep working through an upgrade).';

CREATE FUNCTION sched._extension_version() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_sched' $$;
COMMENT ON FUNCTION sched._extension_version() IS
    'Internal: the version of pg_sched whose SQL is installed in this database (ALTER EXTENSION pg_sched UPDATE changes it).';

-- Every registration so far was made by a worker of 0.2.0: protocol 1.
ALTER TABLE sched.worker ADD COLUMN protocol integer;
UPDATE sched.worker SET protocol = 1;
ALTER TABLE sched.worker ALTER COLUMN protocol SET NOT NULL;
COMMENT ON COLUMN sched.worker.protocol IS 'The worker protocol it speaks (core/src/protocol.rs); 1 for the workers of release 0.2.0, which did not say.';

CREATE OR REPLACE VIEW sched.workers AS
SELECT wk.id,
       wk.name,
       wk.host,
       wk.groups,
       wk.slots,
       wk.running,
       wk.status,
       wk.last_heartbeat,
       wk.alive,
       wk.registered_at,
       wk.ended_at,
       wk.ended_why,
       wk.protocol
FROM sched.worker wk;
COMMENT ON COLUMN sched.workers.protocol IS 'The worker protocol it speaks: during a rolling upgrade, the workers still of the release before show the older one.';

-- register_worker gains its protocol argument: a new signature, so the old one is dropped (a
-- worker of 0.2.0 calls it with five arguments, which the default of the sixth still serves).
DROP FUNCTION sched.register_worker(text, text, text[], integer, bigint);
DROP FUNCTION sched._register_worker(regrole, text, text, text[], integer, bigint);

-- protocol defaults to 1: the workers of release 0.2.0 did not say theirs, and they keep
-- working through an upgrade (the README's "Upgrading").
CREATE FUNCTION sched.register_worker(name text, host text, groups text[] DEFAULT ARRAY['default'], slots integer DEFAULT 1,
                                      token bigint DEFAULT NULL, protocol integer DEFAULT 1)
RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._register_worker(principal regrole, name text, host text, groups text[], slots integer, token bigint,
                                       protocol integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    previous sched.worker;
    g        text;
    new_id   bigint;
BEGIN
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'name: must be 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF host IS NULL THEN
        RAISE EXCEPTION 'host: must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- No group at all is a worker that only delivers alerts: it claims no task.
    IF groups IS NULL THEN
        RAISE EXCEPTION 'groups: must be an array of worker groups (empty for a worker that runs no task)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH g IN ARRAY groups LOOP
        PERFORM sched._check_name(g, 'groups', 'name');
    END LOOP;
    IF slots IS NULL OR slots NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'slots: must be between 1 and 10000, got %', slots USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF protocol IS NULL OR protocol NOT BETWEEN sched._worker_protocol_oldest() AND sched._worker_protocol() THEN
        RAISE EXCEPTION 'protocol: this sched-worker speaks worker protocol %, and pg_sched % serves protocols % to %: %',
            coalesce(protocol::text, 'NULL'), sched._extension_version(), sched._worker_protocol_oldest(), sched._worker_protocol(),
            CASE WHEN protocol > sched._worker_protocol()
                 THEN pg_catalog.format('install the pg_sched of the worker''s release and run ALTER EXTENSION pg_sched UPDATE, or run a sched-worker of release %s', sched._extension_version())
                 ELSE pg_catalog.format('upgrade sched-worker to release %s', sched._extension_version()) END
            USING ERRCODE = 'SW002';
    END IF;

    -- A worker restarting under its old name replaces the old registration at once instead of
    -- waiting for the heartbeat timeout: whatever the old process had running is lost. A name
    -- that is still heartbeating belongs to another live process: two workers sharing a name
    -- would take each other over forever.
    SELECT * INTO previous FROM sched.worker w WHERE w.name = _register_worker.name AND w.alive FOR UPDATE;
    -- The same process asking again (its first answer was lost): the registration it made.
    IF FOUND AND previous.registration_token = token
       AND pg_catalog.pg_has_role(principal, previous.login_role, 'MEMBER') THEN
        RETURN previous.id;
    END IF;
    IF FOUND THEN
        IF previous.last_heartbeat > now() - interval '10 seconds' THEN
            RAISE EXCEPTION 'name: worker "%" is registered and alive (last heartbeat % ago)',
                _register_worker.name, date_trunc('second', now() - previous.last_heartbeat)
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Give each worker its own --name, or stop the other one; a registration silent for 10 s is taken over.';
        END IF;
        IF NOT pg_catalog.pg_has_role(principal, previous.login_role, 'MEMBER') THEN
            RAISE EXCEPTION 'name: worker "%" is already registered by role %', _register_worker.name, previous.login_role
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        UPDATE sched.worker SET alive = false, ended_at = now(), ended_why = 'replaced' WHERE id = previous.id;
        PERFORM sched._fail_over(ARRAY[previous.id]);
    END IF;

    INSERT INTO sched.worker (name, host, groups, slots, login_role, registration_token, protocol)
    VALUES (_register_worker.name, host, groups, slots, principal, token, _register_worker.protocol)
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched.register_worker(text, text, text[], integer, bigint, integer) IS
    'Worker protocol: registers a worker speaking the given protocol version and returns its id; a protocol the extension does not serve is refused (SW002) naming both and what to upgrade. A live worker of the same name is replaced and its running tasks failed over, unless it is this registration asked for again with the same token (a retry after a lost answer), whose id is returned.';


-- 8_grants/grants.sql: nothing for PUBLIC, the worker protocol for sched_worker.
REVOKE ALL ON FUNCTION
    sched._worker_protocol(),
    sched._worker_protocol_oldest(),
    sched._extension_version(),
    sched.register_worker(text, text, text[], integer, bigint, integer),
    sched._register_worker(regrole, text, text, text[], integer, bigint, integer)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sched.register_worker(text, text, text[], integer, bigint, integer) TO sched_worker;
