-- The master's part of triggers (1_schema/67_triggers.sql): events waiting in
-- sched.trigger_event become starts. A start and the deletion of the events it takes are one
-- transaction, the master's tick: a crash or a failover before its commit leaves the events
-- for the next master, after it leaves nothing to do again, so each event starts once.

-- The master calls it at every wake, in a transaction of its own before _policy_tick's, so
-- that a start waits for nothing else. Returns when a waiting trigger is next due, or NULL.
CREATE FUNCTION sched._drain_events() RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t         sched.trigger;
    ids       bigint[];
    first_at  timestamptz;
    last_at   timestamptz;
    committed timestamptz;
    n_stmts   bigint;
    n_rows    bigint;
    events    jsonb;
    present   text[];
    due       boolean;
    next_at   timestamptz;
    exact     boolean := pg_catalog.current_setting('track_commit_timestamp')::boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sched.trigger_event) THEN
        RETURN NULL;
    END IF;
    -- SKIP LOCKED: a trigger being dropped or disabled is served at the next tick.
    FOR t IN SELECT * FROM sched.trigger tr
             WHERE tr.id IN (SELECT DISTINCT e.trigger_id FROM sched.trigger_event e)
             ORDER BY tr.id FOR NO KEY UPDATE OF tr SKIP LOCKED
    LOOP
        IF NOT t.enabled THEN
            DELETE FROM sched.trigger_event e WHERE e.trigger_id = t.id;
            CONTINUE;
        END IF;
        -- Only the rows read here are taken: others may commit meanwhile, and wait.
        SELECT array_agg(e.id ORDER BY e.id), min(e.first_at), max(e.last_at),
               max(coalesce(e.committed_at, CASE WHEN exact THEN pg_catalog.pg_xact_commit_timestamp(e.xmin) END, e.last_at)),
               sum(e.statements), sum(e.rows)
        INTO ids, first_at, last_at, committed, n_stmts, n_rows
        FROM sched.trigger_event e WHERE e.trigger_id = t.id;

        IF t.kind = 'table_change' THEN
            due := n_rows >= t.min_rows
                   AND (t.debounce = interval '0' OR now() >= last_at + t.debounce OR now() >= first_at + t.max_wait);
            IF due THEN
                DELETE FROM sched.trigger_event e WHERE e.id = ANY(ids);
                PERFORM sched._fire(t, jsonb_build_object('changed_rows', n_rows, 'changed_statements', n_stmts,
                                                          'commit_time', committed::text),
                                    '{}', 'event:' || ids[1]);
                CONTINUE;
            END IF;
            IF n_rows >= t.min_rows THEN
                next_at := least(next_at, last_at + t.debounce, first_at + t.max_wait);
            END IF;
        ELSE
            SELECT array_agg(DISTINCT de.dataset),
                   jsonb_agg(jsonb_build_object('dataset', de.dataset, 'workflow', w.name, 'task', de.task_name,
                                                'workflow_instance_id', de.workflow_instance_id,
                                                'business_time', de.business_time) ORDER BY de.id)
            INTO present, events
            FROM sched.trigger_event e
            CROSS JOIN LATERAL unnest(e.dataset_event_ids) AS x(id)
            JOIN sched.dataset_event de ON de.id = x.id
            JOIN sched.workflow w ON w.id = de.workflow_id
            WHERE e.id = ANY(ids) AND de.dataset = ANY(t.datasets);
            -- Events of a dropped producer, or of datasets no longer listed, start nothing.
            IF present IS NULL THEN
                DELETE FROM sched.trigger_event e WHERE e.id = ANY(ids);
                CONTINUE;
            END IF;
            due := CASE WHEN t.mode = 'all' THEN t.datasets <@ coalesce(present, '{}')
                        ELSE t.debounce = interval '0' OR now() >= last_at + t.debounce END;
            IF due THEN
                DELETE FROM sched.trigger_event e WHERE e.id = ANY(ids);
                PERFORM sched._fire(t, jsonb_build_object('dataset_events', events::text), '{}', 'event:' || ids[1]);
                CONTINUE;
            END IF;
            IF t.mode = 'any' THEN
                next_at := least(next_at, last_at + t.debounce);
            END IF;
            -- Dataset events are few (one per producing success): they wait as they came.
            CONTINUE;
        END IF;
        -- A table changing all the time leaves one row per trigger, not one per statement.
        IF cardinality(ids) > 1 THEN
            DELETE FROM sched.trigger_event e WHERE e.id = ANY(ids);
            INSERT INTO sched.trigger_event (trigger_id, first_at, last_at, committed_at, statements, rows)
            VALUES (t.id, first_at, last_at, committed, n_stmts, n_rows);
        END IF;
    END LOOP;
    RETURN next_at;
END
$$;
COMMENT ON FUNCTION sched._drain_events() IS
    'Internal, run by the master at every wake, in a transaction of its own: starts the table-change and dataset triggers whose events are due (debounce, max_wait, min_rows; all or any of the datasets), deleting the events each start takes in the same transaction, and merges the events of those still waiting; returns when one is next due.';
