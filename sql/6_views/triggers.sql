-- Views for people and BI tools (see 6_views/schedules.sql's header for who sees what).
--
-- This file: triggers, datasets and their events (1_schema/67_triggers.sql).

CREATE VIEW sched.triggers WITH (security_barrier) AS
SELECT t.id, t.kind,
       CASE t.kind WHEN 'workflow_end' THEN up.name
                   WHEN 'table_change' THEN coalesce((SELECT c.oid::regclass::text FROM pg_catalog.pg_class c WHERE c.oid = t.table_oid),
                                                     t.table_name || ' (dropped)')
                   WHEN 'webhook' THEN '/hooks/' || t.hook
                   ELSE pg_catalog.array_to_string(t.datasets, ', ') END AS source,
       w.name AS workflow, t.owner::text AS owner, t.enabled, t.disabled_reason, t.last_error,
       jsonb_strip_nulls(jsonb_build_object(
           'states', t.end_states, 'operations', t.operations, 'mode', t.mode,
           'debounce', CASE WHEN t.debounce > interval '0' THEN t.debounce::text END,
           'max_wait', t.max_wait::text, 'min_rows', CASE WHEN t.kind = 'table_change' THEN t.min_rows END,
           'rate_limit', t.rate_limit, 'params', t.params)) AS options,
       t.created_at, t.last_fired_at, t.fire_count,
       (SELECT coalesce(sum(e.statements), 0) FROM sched.trigger_event e WHERE e.trigger_id = t.id) AS waiting_events
FROM sched.trigger t
JOIN sched.workflow w ON w.id = t.workflow_id
LEFT JOIN sched.workflow up ON up.id = t.upstream_workflow_id
WHERE sched._visible(t.owner) OR sched._visible(w.owner);
COMMENT ON VIEW sched.triggers IS 'What starts the workflows you may see on events (sched.on_workflow_end, sched.on_table_change, sched.create_webhook, a spec''s schedule_on), and the triggers you own.';
COMMENT ON COLUMN sched.triggers.id IS 'Trigger id (sched.enable_trigger, disable_trigger, drop_trigger).';
COMMENT ON COLUMN sched.triggers.kind IS 'workflow_end, table_change, webhook or dataset.';
COMMENT ON COLUMN sched.triggers.source IS 'What it listens to: the upstream workflow, the table, the webhook''s URL path, or the datasets.';
COMMENT ON COLUMN sched.triggers.workflow IS 'The workflow it starts.';
COMMENT ON COLUMN sched.triggers.owner IS 'The role the workflow starts as: who created it (a dataset trigger: the workflow''s owner).';
COMMENT ON COLUMN sched.triggers.enabled IS 'Whether its events start the workflow.';
COMMENT ON COLUMN sched.triggers.disabled_reason IS 'Why it is disabled: by whom, or the right its owner lost.';
COMMENT ON COLUMN sched.triggers.last_error IS 'Why its last start failed, if it did.';
COMMENT ON COLUMN sched.triggers.options IS 'Its options: end states, operations, debounce, max_wait, min_rows, mode, rate_limit, params mapping.';
COMMENT ON COLUMN sched.triggers.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.triggers.last_fired_at IS 'When it last started its workflow.';
COMMENT ON COLUMN sched.triggers.fire_count IS 'How many instances it started.';
COMMENT ON COLUMN sched.triggers.waiting_events IS 'Statements or dataset events waiting for it (debounce, min_rows, mode all).';

CREATE VIEW sched.dataset_events WITH (security_barrier) AS
SELECT de.id, de.dataset, w.name AS workflow, de.task_name AS task, de.workflow_instance_id, de.task_instance_id,
       de.business_time, de.out_params, de.created_at
FROM sched.dataset_event de
JOIN sched.workflow w ON w.id = de.workflow_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.dataset_events IS 'Updates of datasets by the workflows you may see: a success of a task that produces them.';
COMMENT ON COLUMN sched.dataset_events.id IS 'Event id.';
COMMENT ON COLUMN sched.dataset_events.dataset IS 'The dataset.';
COMMENT ON COLUMN sched.dataset_events.workflow IS 'The producer''s workflow.';
COMMENT ON COLUMN sched.dataset_events.task IS 'The producing task.';
COMMENT ON COLUMN sched.dataset_events.workflow_instance_id IS 'The producer''s instance.';
COMMENT ON COLUMN sched.dataset_events.task_instance_id IS 'The attempt that succeeded.';
COMMENT ON COLUMN sched.dataset_events.business_time IS 'The producer instance''s business time.';
COMMENT ON COLUMN sched.dataset_events.out_params IS 'The OUT params the attempt exported.';
COMMENT ON COLUMN sched.dataset_events.created_at IS 'When.';

-- A dataset is a name some visible workflow's current version produces or is scheduled on.
CREATE VIEW sched.datasets WITH (security_barrier) AS
WITH producer AS (
    SELECT d.name, w.name AS workflow, td.name AS task
    FROM sched.workflow w
    JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
    JOIN sched.task_definition td ON td.workflow_version_id = v.id AND td.produces IS NOT NULL
    CROSS JOIN LATERAL unnest(td.produces) AS d(name)
    WHERE sched._visible(w.owner)
), consumer AS (
    SELECT d.name, w.name AS workflow
    FROM sched.trigger t
    JOIN sched.workflow w ON w.id = t.workflow_id
    CROSS JOIN LATERAL unnest(t.datasets) AS d(name)
    WHERE t.kind = 'dataset' AND sched._visible(w.owner)
), named AS (
    SELECT p.name FROM producer p UNION SELECT c.name FROM consumer c
)
SELECT n.name,
       coalesce((SELECT jsonb_agg(jsonb_build_object('workflow', p.workflow, 'task', p.task) ORDER BY p.workflow, p.task)
                 FROM producer p WHERE p.name = n.name), '[]') AS producers,
       coalesce((SELECT jsonb_agg(c.workflow ORDER BY c.workflow) FROM consumer c WHERE c.name = n.name), '[]') AS consumers,
       (SELECT max(de.created_at) FROM sched.dataset_event de JOIN sched.workflow w ON w.id = de.workflow_id
        WHERE de.dataset = n.name AND sched._visible(w.owner)) AS last_event_at,
       (SELECT count(*) FROM sched.dataset_event de JOIN sched.workflow w ON w.id = de.workflow_id
        WHERE de.dataset = n.name AND sched._visible(w.owner)) AS events
FROM named n;
COMMENT ON VIEW sched.datasets IS 'Datasets the workflows you may see produce (a task''s produces) or are scheduled on (schedule_on): lineage across workflows.';
COMMENT ON COLUMN sched.datasets.name IS 'The dataset''s name.';
COMMENT ON COLUMN sched.datasets.producers IS 'The tasks that produce it: [{"workflow", "task"}], of current versions.';
COMMENT ON COLUMN sched.datasets.consumers IS 'The workflows scheduled on it.';
COMMENT ON COLUMN sched.datasets.last_event_at IS 'When a workflow you may see last updated it (events are kept for sched.history_retention).';
COMMENT ON COLUMN sched.datasets.events IS 'How many of its updates by workflows you may see are kept.';
