-- pg_sched 0.3.0 to 0.4.0 (CHANGELOG.md): API tokens for the console's HTTP API,
-- sched.alter_schedule, paged lists of runs and attempts, and the views of the console's
-- home page. Run by ALTER EXTENSION pg_sched UPDATE, in one transaction; the test of
-- tests/tests/upgrade.rs checks that a database of an earlier release updated by it has the
-- schema of a fresh 0.4.0 install and keeps all it held. Nothing that exists changes but
-- sched._schedule, which now shares its checks with sched.alter_schedule, and the views
-- sched.workflow_instances and sched.task_instances, which gain columns.

\echo Use "ALTER EXTENSION pg_sched UPDATE" to load this file. \quit

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sched_api') THEN
        CREATE ROLE sched_api NOLOGIN;
    END IF;
END
$roles$;

-- 1_schema/66_api_tokens.sql
CREATE TABLE sched.api_token (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner        regrole NOT NULL,
    owner_name   text NOT NULL,
    name         text NOT NULL,
    hash         bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
-- A revoked token keeps its row (when it was revoked, and when last used), and its name is free.
CREATE UNIQUE INDEX api_token_name ON sched.api_token (owner, name) WHERE revoked_at IS NULL;
COMMENT ON TABLE sched.api_token IS 'API tokens, by their hash; read through sched.api_tokens.';
COMMENT ON COLUMN sched.api_token.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.api_token.owner IS 'Role that created it, and that the API acts as for it.';
COMMENT ON COLUMN sched.api_token.owner_name IS 'Its owner''s name when it was created: a token is refused once its role was dropped (a new role may get the old one''s oid) or renamed.';
COMMENT ON COLUMN sched.api_token.name IS 'Its name, unique among its owner''s tokens that are not revoked.';
COMMENT ON COLUMN sched.api_token.hash IS 'SHA-256 of the token: the token itself is kept nowhere.';
COMMENT ON COLUMN sched.api_token.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.api_token.expires_at IS 'From then on it is refused (infinity: never).';
COMMENT ON COLUMN sched.api_token.revoked_at IS 'When it was revoked; refused since. NULL while not revoked.';
COMMENT ON COLUMN sched.api_token.last_used_at IS 'When the API last acted for it.';

-- 6_views/api_tokens.sql
CREATE VIEW sched.api_tokens WITH (security_barrier) AS
SELECT t.id, t.name, t.owner::text AS owner, t.created_at, t.expires_at, t.revoked_at, t.last_used_at,
       t.revoked_at IS NULL AND t.expires_at > pg_catalog.now() AS valid
FROM sched.api_token t
WHERE t.owner = current_user::regrole OR pg_catalog.pg_has_role('sched_admin', 'MEMBER');
COMMENT ON VIEW sched.api_tokens IS 'Your API tokens (all of them for sched_admin), never the tokens themselves.';
COMMENT ON COLUMN sched.api_tokens.id IS 'Token id.';
COMMENT ON COLUMN sched.api_tokens.name IS 'Its name, unique among its owner''s tokens.';
COMMENT ON COLUMN sched.api_tokens.owner IS 'Role that created it, and that the API acts as for it.';
COMMENT ON COLUMN sched.api_tokens.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.api_tokens.expires_at IS 'From then on it is refused (infinity: never).';
COMMENT ON COLUMN sched.api_tokens.revoked_at IS 'When it was revoked; NULL while not revoked.';
COMMENT ON COLUMN sched.api_tokens.last_used_at IS 'When the API last acted for it.';
COMMENT ON COLUMN sched.api_tokens.valid IS 'Neither revoked nor expired: the API accepts it.';

-- extension/src/api_token.rs
CREATE FUNCTION sched."assume_api_token"(
	"token" TEXT /* & str */
) RETURNS TEXT /* String */
STRICT 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'assume_api_token_wrapper';

-- 7_api/api_tokens.sql
CREATE FUNCTION sched.create_api_token(name text, expires timestamptz DEFAULT pg_catalog.now() + interval '90 days') RETURNS text
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_api_token(principal regrole, name text, expires timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- gen_random_uuid draws from the operating system's strong random source: two of them
    -- give 244 random bits.
    token text := 'pgs_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
BEGIN
    PERFORM sched._check_name(name, 'name', 'token name');
    IF expires IS NULL OR expires <= now() THEN
        RAISE EXCEPTION 'expires: must be a time in the future (''infinity'' for a token that never expires), got %',
                        coalesce(expires::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = principal) THEN
        RAISE EXCEPTION 'a superuser cannot create API tokens: whoever held one would be superuser'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Create the token as a role with only the rights the program needs.';
    END IF;
    IF EXISTS (SELECT 1 FROM sched.api_token t
               WHERE t.owner = principal AND t.name = _create_api_token.name AND t.revoked_at IS NULL) THEN
        RAISE EXCEPTION 'name: you already have a token "%"; revoke it (sched.revoke_api_token) or choose another name', name
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO sched.api_token (owner, owner_name, name, hash, expires_at)
    VALUES (principal, sched._role_name(principal), name, sha256(convert_to(token, 'UTF8')), expires);
    RETURN token;
END
$$;
COMMENT ON FUNCTION sched.create_api_token(text, timestamptz) IS
    'Creates an API token for the console''s HTTP API (Authorization: Bearer <token>), which acts as you, with your rights, until it expires (default in 90 days; ''infinity'': never) or is revoked. Returns the token: it is shown only this once (only its hash is kept).';

CREATE FUNCTION sched.revoke_api_token(name text, owner regrole DEFAULT NULL) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._revoke_api_token(principal regrole, name text, owner regrole) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    whose regrole := coalesce(owner, principal);
BEGIN
    PERFORM sched._check_owner(principal, whose, format('API tokens of %s', whose));
    UPDATE sched.api_token t SET revoked_at = now()
     WHERE t.owner = whose AND t.name = _revoke_api_token.name AND t.revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name: % has no token "%" that is not revoked; sched.api_tokens lists them', whose, name
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION sched.revoke_api_token(text, regrole) IS
    'Revokes an API token by name: the API refuses it from the next request on. owner: whose token (default your own; another role''s needs sched_admin).';

-- What the console's token connection learns of a token: the role to act as, or why not. The
-- same checks as signing in with a password (the role exists, may log in and its password
-- has not expired), and the token's own (not revoked, not expired).
CREATE FUNCTION sched._api_token_role(token text, OUT role regrole, OUT refused text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t sched.api_token;
    r pg_roles;
BEGIN
    IF NOT pg_has_role(session_user, 'sched_api', 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied for API tokens'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only a session of a member of sched_api may act for a token.';
    END IF;
    SELECT * INTO t FROM sched.api_token at WHERE at.hash = sha256(convert_to(token, 'UTF8'));
    SELECT * INTO r FROM pg_roles rr WHERE rr.oid = t.owner;
    refused := CASE
        WHEN t.id IS NULL THEN 'not a token of this database'
        WHEN t.revoked_at IS NOT NULL THEN format('token "%s" was revoked at %s', t.name, t.revoked_at)
        WHEN t.expires_at <= now() THEN format('token "%s" expired at %s', t.name, t.expires_at)
        WHEN r.rolname IS DISTINCT FROM t.owner_name THEN format('role %s of token "%s" was dropped or renamed', t.owner_name, t.name)
        WHEN NOT r.rolcanlogin THEN format('role %s may not log in', r.rolname)
        WHEN r.rolvaliduntil <= now() THEN format('the password of role %s expired at %s', r.rolname, r.rolvaliduntil)
        WHEN r.rolsuper THEN format('role %s is a superuser', r.rolname)
    END;
    IF refused IS NULL THEN
        role := t.owner;
        -- To the minute: an API busy with one token does not rewrite its row on every request.
        UPDATE sched.api_token at SET last_used_at = now()
         WHERE at.id = t.id AND (at.last_used_at IS NULL OR at.last_used_at < now() - interval '1 minute');
    END IF;
END
$$;
COMMENT ON FUNCTION sched._api_token_role(text) IS
    'Internal: the role a valid API token acts as, or why the token is refused; for sessions of members of sched_api (sched.assume_api_token calls it).';

COMMENT ON FUNCTION sched.assume_api_token(text) IS
    'For the console''s token connection (a session of a member of sched_api): checks an API token and makes its creator the current role of this session, as SET ROLE would, until the next call or RESET ROLE. Refused for an unknown, revoked or expired token, and inside a SECURITY DEFINER function.';

-- 7_api/schedules.sql
-- A schedule as sched.schedule and sched.alter_schedule make it, every option checked, not
-- yet stored (id NULL).
CREATE FUNCTION sched._schedule_row(principal regrole, workflow text, cron text, options jsonb, action text)
RETURNS sched.schedule
LANGUAGE plpgsql
AS $$
DECLARE
    wf       sched.workflow;
    tz       text;
    starts   timestamptz;
    ends     timestamptz;
    enabled  boolean;
BEGIN
    wf := sched._fire_options(principal, workflow, options, ARRAY['timezone', 'start', 'end', 'enabled', 'misfire'], action);
    tz := coalesce(options->>'timezone', sched._workflow_time_zone(wf.id));
    IF options ? 'enabled' AND jsonb_typeof(options->'enabled') <> 'boolean' THEN
        RAISE EXCEPTION 'options.enabled: must be true or false' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'misfire', 'all')) NOT IN ('all', 'latest', 'none') THEN
        RAISE EXCEPTION 'options.misfire: "%" is not allowed; allowed: all, latest, none', options->>'misfire'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sched._check_time_zone(tz, 'options.timezone');
    starts := sched._zoned_timestamp(options->>'start', tz, 'options.start');
    ends := sched._zoned_timestamp(options->>'end', tz, 'options.end');
    IF starts IS NOT NULL AND ends IS NOT NULL AND ends < starts THEN
        RAISE EXCEPTION 'options.end: % is before options.start %', ends, starts USING ERRCODE = 'invalid_parameter_value';
    END IF;
    enabled := coalesce((options->>'enabled')::boolean, true);
    RETURN ROW(NULL, wf.id, cron, tz, starts, ends, enabled, lower(coalesce(options->>'misfire', 'all')),
               options - ARRAY['timezone', 'start', 'end', 'enabled', 'misfire', 'params'],
               coalesce(options->'params', '{}'), principal, now(),
               -- Checks the expression and the zone, naming them; the caller stores it only if enabled.
               sched._next_fire(cron, tz, greatest(now(), starts - interval '1 second'), ends),
               NULL, NULL)::sched.schedule;
END
$$;
COMMENT ON FUNCTION sched._schedule_row(regrole, text, text, jsonb, text) IS
    'Internal: the schedule sched.schedule and sched.alter_schedule store, its options checked (only members of the workflow''s owner may, as it fires as them).';

CREATE OR REPLACE FUNCTION sched._schedule(principal regrole, workflow text, cron text, options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      sched.schedule := sched._schedule_row(principal, workflow, cron, options, 'schedule it');
    new_id bigint;
BEGIN
    INSERT INTO sched.schedule (workflow_id, cron, timezone, start_at, end_at, enabled, misfire, run_options, params, owner, next_fire_at)
    VALUES (s.workflow_id, s.cron, s.timezone, s.start_at, s.end_at, s.enabled, s.misfire, s.run_options, s.params, s.owner,
            CASE WHEN s.enabled THEN s.next_fire_at END)
    RETURNING sched.schedule.id INTO new_id;
    PERFORM sched._wake_master();
    RETURN new_id;
END
$$;
CREATE FUNCTION sched.alter_schedule(schedule_id bigint, cron text DEFAULT NULL, options jsonb DEFAULT '{}') RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._alter_schedule(principal regrole, schedule_id bigint, cron text, options jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      sched.schedule;
    merged jsonb;
    new    sched.schedule;
BEGIN
    SELECT * INTO s FROM sched.schedule sc WHERE sc.id = schedule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule_id: schedule % does not exist', schedule_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, s.owner, format('schedule %s', schedule_id));
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- What options leaves out stays; a null removes it (its default applies).
    merged := jsonb_strip_nulls(
        s.run_options
        || jsonb_build_object('timezone', s.timezone, 'start', s.start_at, 'end', s.end_at,
                              'enabled', s.enabled, 'misfire', s.misfire, 'params', s.params)
        || options);
    new := sched._schedule_row(principal, (SELECT w.name FROM sched.workflow w WHERE w.id = s.workflow_id),
                               coalesce(cron, s.cron), merged, 'change its schedule');
    UPDATE sched.schedule sc
       SET cron = new.cron, timezone = new.timezone, start_at = new.start_at, end_at = new.end_at,
           enabled = new.enabled, misfire = new.misfire, run_options = new.run_options, params = new.params,
           owner = new.owner, next_fire_at = CASE WHEN new.enabled THEN new.next_fire_at END
     WHERE sc.id = schedule_id;
    PERFORM sched._wake_master();
END
$$;
COMMENT ON FUNCTION sched.alter_schedule(bigint, text, jsonb) IS
    'Changes a schedule in place, keeping its id and history: cron (NULL keeps it) and any option of sched.schedule (an option left out stays, a null removes it). It continues from now, and fires from then on as you (only members of the workflow''s owner may).';

-- 1_schema/20_instances.sql
CREATE INDEX workflow_instance_by_state ON sched.workflow_instance (state, id);

-- 6_views/runs.sql: the views' rows of every owner, for the list functions (7_api/lists.sql);
-- the views gain how each instance was created and its owner.
CREATE VIEW sched._workflow_instance_rows AS
SELECT i.id,
       w.name AS workflow,
       v.version,
       i.state::text AS state,
       i.state = ANY (sched._workflow_states_finished()) AS finished,
       i.failure_strategy::text AS failure_strategy,
       i.run,
       sched._priority_name(i.priority) AS priority,
       i.worker_group,
       i.param_values AS params,
       coalesce(i.out_params, '{}') AS out_params,
       i.schedule_time,
       (i.business_time AT TIME ZONE i.time_zone)::date AS business_date,
       i.time_zone,
       i.tenant,
       i.started_by,
       i.parent_instance_id,
       i.parent_task_instance_id,
       i.notify_strategy,
       i.alert_group,
       i.created_at,
       i.started_at,
       i.ended_at,
       i.ended_at - i.started_at AS duration,
       (SELECT c.command_type FROM sched.command c
        WHERE c.workflow_instance_id = i.id ORDER BY c.id LIMIT 1) AS command_type,
       w.owner
FROM sched.workflow_instance i
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN sched.workflow_version v ON v.id = i.workflow_version_id;
COMMENT ON VIEW sched._workflow_instance_rows IS 'Internal: the rows of sched.workflow_instances, of every owner; its columns mean the same.';

CREATE OR REPLACE VIEW sched.workflow_instances WITH (security_barrier) AS
SELECT r.* FROM sched._workflow_instance_rows r
WHERE sched._visible(r.owner);
COMMENT ON COLUMN sched.workflow_instances.command_type IS 'How it was created, as DolphinScheduler names it: start_process, scheduler (a cron fire), complement_data (a backfill), start_current_task_process (execute_task), ...; see sched.commands for what changed it since.';
COMMENT ON COLUMN sched.workflow_instances.owner IS 'The role that owns its workflow (its project).';

CREATE VIEW sched._task_instance_rows AS
SELECT ti.id,
       ti.workflow_instance_id,
       w.name AS workflow,
       td.name AS task,
       td.task_type AS type,
       ti.state::text AS state,
       ti.state <> ALL (sched._task_states_active()) AS finished,
       ti.started_at IS NOT NULL AS started,
       ti.attempt,
       ti.run,
       ti.retry,
       wk.name AS worker,
       ti.worker_group,
       ti.exit_code,
       ti.kill_requested,
       ti.kill_reason,
       ti.not_before,
       -- Set by the claim; an attempt not yet claimed has seen nothing.
       CASE WHEN ti.started_at IS NOT NULL OR ti.resolved IS NOT NULL
            THEN i.param_values || coalesce(ti.resolved->'params', '{}') END AS params,
       ti.out_params,
       CASE WHEN td.logic = 'sub_process' THEN (
           SELECT c.id FROM sched.workflow_instance c
           WHERE c.parent_task_instance_id = ti.id AND c.parent_instance_id = ti.workflow_instance_id) END AS child_instance_id,
       CASE WHEN ti.branch IS NOT NULL THEN (
           SELECT coalesce(array_agg(b.name ORDER BY b.name), '{}') FROM sched.task_definition b WHERE b.id = ANY(ti.branch)) END AS branch,
       ti.queued_at,
       ti.started_at,
       ti.ended_at,
       ti.ended_at - ti.started_at AS duration,
       (SELECT lr.exit_code FROM sched.late_report lr WHERE lr.task_instance_id = ti.id) AS late_exit_code,
       w.owner
FROM sched._attempts ti
JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN sched.task_definition td ON td.id = ti.task_id
LEFT JOIN sched.worker wk ON wk.id = ti.worker_id;
COMMENT ON VIEW sched._task_instance_rows IS 'Internal: the rows of sched.task_instances, of every owner; its columns mean the same.';

CREATE OR REPLACE VIEW sched.task_instances WITH (security_barrier) AS
SELECT r.* FROM sched._task_instance_rows r
WHERE sched._visible(r.owner);
COMMENT ON COLUMN sched.task_instances.owner IS 'The role that owns its workflow (its project).';

-- The internal views' columns mean what the public ones' do.
DO $columns$
DECLARE
    col record;
BEGIN
    FOR col IN SELECT c.relname, a.attname, pg_catalog.col_description(a.attrelid, a.attnum) AS doc
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
               WHERE c.relnamespace = 'sched'::regnamespace AND c.relname IN ('workflow_instances', 'task_instances')
                 AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        EXECUTE pg_catalog.format('COMMENT ON COLUMN sched.%I.%I IS %L',
                                  CASE col.relname WHEN 'workflow_instances' THEN '_workflow_instance_rows'
                                                   ELSE '_task_instance_rows' END,
                                  col.attname, col.doc);
    END LOOP;
END
$columns$;

-- 6_views/dashboard.sql
CREATE VIEW sched.instance_states_hourly WITH (security_barrier) AS
SELECT date_trunc('hour', i.created_at) AS hour, w.name AS workflow, i.state::text AS state, count(*) AS instances
FROM sched.workflow_instance i
JOIN sched.workflow w ON w.id = i.workflow_id
WHERE sched._visible(w.owner)
GROUP BY 1, 2, 3;
COMMENT ON VIEW sched.instance_states_hourly IS 'Workflow instances created in each hour, by workflow and by the state they are in now.';
COMMENT ON COLUMN sched.instance_states_hourly.hour IS 'The hour they were created in (in the session''s time zone).';
COMMENT ON COLUMN sched.instance_states_hourly.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.instance_states_hourly.state IS 'Their state now.';
COMMENT ON COLUMN sched.instance_states_hourly.instances IS 'How many.';

CREATE VIEW sched.task_states_hourly WITH (security_barrier) AS
SELECT date_trunc('hour', ti.queued_at) AS hour, w.name AS workflow, ti.state::text AS state, count(*) AS attempts
FROM sched._attempts ti
JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
WHERE sched._visible(w.owner)
GROUP BY 1, 2, 3;
COMMENT ON VIEW sched.task_states_hourly IS 'Task attempts queued in each hour, by workflow and by the state they are in now.';
COMMENT ON COLUMN sched.task_states_hourly.hour IS 'The hour they were queued in (in the session''s time zone).';
COMMENT ON COLUMN sched.task_states_hourly.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.task_states_hourly.state IS 'Their state now.';
COMMENT ON COLUMN sched.task_states_hourly.attempts IS 'How many.';

CREATE VIEW sched.schedule_lateness WITH (security_barrier) AS
SELECT i.id AS instance_id, i.schedule_id, w.name AS workflow, i.schedule_time, i.started_at,
       i.started_at - i.schedule_time AS lateness
FROM sched.workflow_instance i
JOIN sched.workflow w ON w.id = i.workflow_id
WHERE i.schedule_id IS NOT NULL AND i.started_at IS NOT NULL AND sched._visible(w.owner);
COMMENT ON VIEW sched.schedule_lateness IS 'How late each cron fire started: from its nominal fire time to the start of its instance (a misfire or a busy master shows here).';
COMMENT ON COLUMN sched.schedule_lateness.instance_id IS 'The instance the fire created.';
COMMENT ON COLUMN sched.schedule_lateness.schedule_id IS 'The schedule that fired.';
COMMENT ON COLUMN sched.schedule_lateness.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.schedule_lateness.schedule_time IS 'The nominal fire time.';
COMMENT ON COLUMN sched.schedule_lateness.started_at IS 'When its instance started.';
COMMENT ON COLUMN sched.schedule_lateness.lateness IS 'started_at - schedule_time.';

CREATE VIEW sched.worker_groups AS
SELECT g.worker_group,
       count(*) FILTER (WHERE wk.alive) AS workers,
       coalesce(sum(wk.slots) FILTER (WHERE wk.alive), 0) AS slots,
       coalesce(sum(wk.running) FILTER (WHERE wk.alive), 0) AS running,
       (SELECT count(*) FROM sched.task_instance ti
        JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
        JOIN sched.workflow w ON w.id = i.workflow_id
        WHERE ti.worker_group = g.worker_group AND ti.state = ANY (sched._task_states_waiting())
          AND sched._visible(w.owner)) AS waiting
FROM sched.worker wk, unnest(wk.groups) AS g(worker_group)
WHERE wk.alive
GROUP BY g.worker_group;
COMMENT ON VIEW sched.worker_groups IS 'Worker groups that live workers serve: their live workers, slots and load, and the attempts waiting in each. A group tasks name that no live worker serves is in sched.unserved_tasks.';
COMMENT ON COLUMN sched.worker_groups.worker_group IS 'Worker group name.';
COMMENT ON COLUMN sched.worker_groups.workers IS 'Live workers serving it.';
COMMENT ON COLUMN sched.worker_groups.slots IS 'Their task slots.';
COMMENT ON COLUMN sched.worker_groups.running IS 'Their tasks running now (of every group they serve).';
COMMENT ON COLUMN sched.worker_groups.waiting IS 'Attempts of the group that you may see waiting to run (queued, delayed, waiting for a task group slot).';

-- 7_api/lists.sql
-- The filters of a list, checked: only the keys of `conditions` ({filter: [SQL condition over
-- the values as $2, kind]}), each a string (an id may be a number), times, dates and ids
-- parsable; returns the conditions of those given (every value is bound, never spliced).
CREATE FUNCTION sched._list_conditions(filters jsonb, conditions jsonb) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    k    text;
    kind text;
    sql  text := '';
BEGIN
    IF filters IS NULL OR jsonb_typeof(filters) <> 'object' THEN
        RAISE EXCEPTION 'filters: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(filters) ORDER BY 1 LOOP
        kind := conditions->k->>1;
        IF kind IS NULL THEN
            RAISE EXCEPTION 'filters.%: not a filter; allowed: %', k,
                            (SELECT string_agg(c, ', ' ORDER BY c) FROM jsonb_object_keys(conditions) c)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        CONTINUE WHEN jsonb_typeof(filters->k) = 'null';
        IF NOT (jsonb_typeof(filters->k) = 'string' OR (kind = 'id' AND jsonb_typeof(filters->k) = 'number')) THEN
            RAISE EXCEPTION 'filters.%: must be a string', k USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            CASE kind
                WHEN 'time' THEN PERFORM (filters->>k)::timestamptz;
                WHEN 'date' THEN PERFORM (filters->>k)::date;
                WHEN 'id' THEN PERFORM (filters->>k)::bigint;
                WHEN 'workflow_state' THEN PERFORM (filters->>k)::sched.workflow_state;
                WHEN 'task_state' THEN PERFORM (filters->>k)::sched.task_state;
                ELSE NULL;
            END CASE;
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'filters.%: "%" is not %', k, filters->>k,
                            CASE kind WHEN 'date' THEN 'a date (YYYY-MM-DD)' WHEN 'id' THEN 'an id'
                                      WHEN 'workflow_state' THEN 'a workflow state; allowed: ' || array_to_string(enum_range(NULL::sched.workflow_state), ', ')
                                      WHEN 'task_state' THEN 'a task state; allowed: ' || array_to_string(enum_range(NULL::sched.task_state), ', ')
                                      ELSE 'a time (ISO 8601, e.g. 2026-12-05T08:00:00Z)' END
                USING ERRCODE = 'invalid_parameter_value';
        END;
        sql := sql || ' AND ' || (conditions->k->>0);
    END LOOP;
    RETURN sql;
END
$$;
COMMENT ON FUNCTION sched._list_conditions(jsonb, jsonb) IS
    'Internal: checks a list''s filters ({filter: value}) against its conditions ({filter: [SQL over the values as $2, text|time|date|id|workflow_state|task_state]}) and returns the conditions of those given.';

-- The ids of a list's page: the `id_column` of `source` (which joins sched.workflow as w), for
-- the principal, below `before`, filtered (sched._list_conditions), newest first.
CREATE FUNCTION sched._list_ids(principal regrole, source text, id_column text, filters jsonb, conditions jsonb,
                                before bigint, max_rows integer) RETURNS bigint[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    filtered text := sched._list_conditions(filters, conditions);
    ids      bigint[];
BEGIN
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_rows: must be between 1 and 1000, got %', coalesce(max_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF before IS NOT NULL AND before < 1 THEN
        RAISE EXCEPTION 'before: must be an id (the last id of the page before), got %', before
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format(
        'SELECT array(SELECT %1$s FROM %2$s
         WHERE (pg_catalog.pg_has_role($1, w.owner, ''MEMBER'') OR pg_catalog.pg_has_role($1, ''sched_admin'', ''MEMBER''))
           AND ($3 IS NULL OR %1$s < $3)%3$s
         ORDER BY %1$s DESC LIMIT $4)', id_column, source, filtered)
        INTO ids USING principal, filters, before, max_rows;
    RETURN ids;
END
$$;
COMMENT ON FUNCTION sched._list_ids(regrole, text, text, jsonb, jsonb, bigint, integer) IS
    'Internal: the ids of a page of a list for principal (its paging arguments and filters checked), newest first.';

CREATE FUNCTION sched.list_workflow_instances(filters jsonb DEFAULT '{}', before bigint DEFAULT NULL, max_rows integer DEFAULT 50)
RETURNS SETOF sched.workflow_instances
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._list_workflow_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.workflow_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conditions jsonb := $c${
        "workflow": ["i.workflow_id = (SELECT w1.id FROM sched.workflow w1 WHERE w1.name = $2->>'workflow')", "text"],
        "state": ["i.state = ($2->>'state')::sched.workflow_state", "workflow_state"],
        "from": ["i.created_at >= ($2->>'from')::timestamptz", "time"],
        "to": ["i.created_at < ($2->>'to')::timestamptz", "time"],
        "business_date": ["(i.business_time AT TIME ZONE i.time_zone)::date = ($2->>'business_date')::date", "date"],
        "started_by": ["i.started_by = $2->>'started_by'", "text"],
        "command_type": ["(SELECT c.command_type FROM sched.command c WHERE c.workflow_instance_id = i.id ORDER BY c.id LIMIT 1) = $2->>'command_type'", "text"]}$c$;
    ids bigint[] := sched._list_ids(principal, 'sched.workflow_instance i JOIN sched.workflow w ON w.id = i.workflow_id', 'i.id',
                                    filters, conditions, before, max_rows);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._workflow_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id DESC;
END
$$;
COMMENT ON FUNCTION sched.list_workflow_instances(jsonb, bigint, integer) IS
    'Workflow instances you may see, newest first, a page at a time: the rows of sched.workflow_instances with id below before (the last id of the page before; NULL for the first page), at most max_rows (1 to 1000). filters: workflow, state, started_by, command_type (equal), business_date (YYYY-MM-DD), from and to (created at or after, before).';

CREATE FUNCTION sched.list_task_instances(filters jsonb DEFAULT '{}', before bigint DEFAULT NULL, max_rows integer DEFAULT 50)
RETURNS SETOF sched.task_instances
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._list_task_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.task_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conditions jsonb := $c${
        "workflow": ["i.workflow_id = (SELECT w1.id FROM sched.workflow w1 WHERE w1.name = $2->>'workflow')", "text"],
        "task": ["ti.task_id IN (SELECT td.id FROM sched.task_definition td WHERE td.name = $2->>'task')", "text"],
        "state": ["ti.state = ($2->>'state')::sched.task_state", "task_state"],
        "worker": ["ti.worker_id IN (SELECT wk.id FROM sched.worker wk WHERE wk.name = $2->>'worker')", "text"],
        "instance": ["ti.workflow_instance_id = ($2->>'instance')::bigint", "id"],
        "from": ["ti.queued_at >= ($2->>'from')::timestamptz", "time"],
        "to": ["ti.queued_at < ($2->>'to')::timestamptz", "time"]}$c$;
    ids bigint[] := sched._list_ids(principal,
                                    'sched._attempts ti JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
                                     JOIN sched.workflow w ON w.id = i.workflow_id', 'ti.id',
                                    filters, conditions, before, max_rows);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._task_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id DESC;
END
$$;
COMMENT ON FUNCTION sched.list_task_instances(jsonb, bigint, integer) IS
    'Task attempts you may see, newest first, a page at a time: the rows of sched.task_instances with id below before (NULL for the first page), at most max_rows (1 to 1000). filters: workflow, task, state, worker (equal), instance (a workflow instance id), from and to (queued at or after, before).';

-- 8_grants/grants.sql
REVOKE ALL ON FUNCTION sched.create_api_token(text, timestamptz), sched._create_api_token(regrole, text, timestamptz),
    sched.revoke_api_token(text, regrole), sched._revoke_api_token(regrole, text, regrole), sched._api_token_role(text),
    sched.assume_api_token(text), sched.alter_schedule(bigint, text, jsonb), sched._alter_schedule(regrole, bigint, text, jsonb),
    sched._schedule_row(regrole, text, text, jsonb, text), sched._list_conditions(jsonb, jsonb),
    sched._list_ids(regrole, text, text, jsonb, jsonb, bigint, integer), sched.list_workflow_instances(jsonb, bigint, integer),
    sched._list_workflow_instances(regrole, jsonb, bigint, integer), sched.list_task_instances(jsonb, bigint, integer),
    sched._list_task_instances(regrole, jsonb, bigint, integer)
FROM PUBLIC;
REVOKE ALL ON sched._workflow_instance_rows, sched._task_instance_rows, sched.api_token, sched.api_tokens, sched.instance_states_hourly, sched.task_states_hourly,
    sched.schedule_lateness, sched.worker_groups FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sched.alter_schedule(bigint, text, jsonb), sched.list_workflow_instances(jsonb, bigint, integer),
    sched.list_task_instances(jsonb, bigint, integer), sched.create_api_token(text, timestamptz),
    sched.revoke_api_token(text, regrole)
TO sched_user, sched_admin;
GRANT SELECT ON sched.api_tokens, sched.instance_states_hourly, sched.task_states_hourly, sched.schedule_lateness,
    sched.worker_groups
TO sched_user, sched_admin;
GRANT EXECUTE ON FUNCTION sched.assume_api_token(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION sched._api_token_role(text) TO PUBLIC;
GRANT USAGE ON SCHEMA sched TO sched_api;
