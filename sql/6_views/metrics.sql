-- Metrics for monitoring (docs/monitoring.md): one row per sample, with Prometheus names and
-- units, for postgres_exporter's custom queries or a BI tool.
--
-- Who reads it: sched_admin and pg_monitor (8_grants/grants.sql), not sched_user. The samples
-- count every role's work, so they would tell a user about other roles' workflows; they name no
-- workflow, instance or role, only worker groups, task groups and tables, names every user
-- already sees in sched.workers and sched.task_groups. The view reads the tables as its owner,
-- but a caller needs EXECUTE on what it calls: it calls no function of the schema but
-- _master_running, granted with it, and the state sets, which anyone may call.
--
-- Cost: it is read on every scrape. Every branch reads an index over what is active (the
-- active attempts, unfinished instances, pending deliveries, due schedules, task group slots)
-- or a small table (workers, schedules, task groups, pg_class), never the history of finished
-- work; the finished rows it reads are the last five minutes' instance ends, through
-- workflow_instance_finished. The worker table keeps every registration and has no index on
-- ended_at: the master's tick already scans it every second (_master_tick), so a scrape adds
-- little. Each branch's metric is a constant, so a query that filters on metric runs only the
-- branches of that metric.

-- pg_stat_activity shows other roles' backend types only to pg_read_all_stats, which
-- sched_admin need not be; this tells only whether the master runs.
CREATE FUNCTION sched._master_running() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_stat_activity a
                   WHERE a.backend_type = 'pg_sched master' AND a.datname = current_database())
$$;
COMMENT ON FUNCTION sched._master_running() IS
    'Internal, for sched.metrics: whether the pg_sched master background worker is connected to this database.';

CREATE VIEW sched.metrics AS
WITH active AS (
    -- One pass over the active attempts (task_instance_active), classified once for every
    -- metric about them. Logic attempts run in the scheduler, with no worker: a waiting
    -- DEPENDENT task has a recheck time, any other is a SUB_PROCESS waiting for its child.
    SELECT ti.worker_group,
           ti.state::text AS state,
           ti.workflow_priority,
           CASE WHEN ti.state = 'delayed' AND ti.not_before IS NOT NULL THEN 'delay'
                WHEN ti.state = 'delayed' AND ti.task_group_id IS NULL THEN 'admit_when'
                WHEN ti.state = 'delayed' THEN 'task_group'
                WHEN ti.state = 'running' AND ti.worker_id IS NULL AND ti.recheck_at IS NOT NULL THEN 'dependent'
                WHEN ti.state = 'running' AND ti.worker_id IS NULL THEN 'sub_process'
           END AS waiting,
           count(*) AS n,
           min(ti.queued_at) AS oldest
    FROM sched.task_instance ti
    WHERE ti.state = ANY(sched._task_states_active())
    GROUP BY 1, 2, 3, 4
), live AS (
    SELECT w.groups, w.slots, w.running, w.status, w.last_heartbeat
    FROM sched.worker w
    WHERE w.alive
), live_groups AS (
    SELECT g.worker_group, count(*) AS workers, sum(l.slots) AS slots
    FROM live l, unnest(l.groups) AS g(worker_group)
    GROUP BY 1
), worker_groups AS (
    -- Groups that someone serves or that have work: an unserved queue shows 0 workers, and a
    -- drained queue 0 tasks rather than no sample.
    SELECT lg.worker_group FROM live_groups lg
    UNION
    SELECT a.worker_group FROM active a
), priorities AS (
    SELECT p.name, (p.rank - 1)::smallint AS rank
    FROM unnest(sched._priorities()) WITH ORDINALITY AS p(name, rank)
), pending AS (
    SELECT d.channel->>'type' AS channel,
           count(*) AS n,
           count(*) FILTER (WHERE d.attempts > 0) AS retried,
           min(a.created_at) AS oldest
    FROM sched.alert_delivery d
    JOIN sched.alert a ON a.id = d.alert_id
    WHERE d.state = 'pending'
    GROUP BY 1
), settings AS (
    -- The defaults stand in when the library is not loaded in this session.
    SELECT coalesce(pg_catalog.current_setting('sched.misfire_threshold', true), '60s')::interval AS misfire_threshold
)
-- Joins rather than sub-selects per label set: the planner's guesses for these small sets are
-- generous, and estimated costs past jit_above_cost would have every scrape pay a second of
-- JIT compilation.
SELECT 'sched_queue_depth' AS metric,
       jsonb_build_object('worker_group', g.worker_group, 'priority', p.name) AS labels,
       coalesce(q.n, 0)::float8 AS value
FROM worker_groups g
CROSS JOIN priorities p
LEFT JOIN (SELECT a.worker_group, a.workflow_priority, sum(a.n) AS n FROM active a
           WHERE a.state = 'queued' GROUP BY 1, 2) q
       ON q.worker_group = g.worker_group AND q.workflow_priority = p.rank
UNION ALL
-- From queued_at, when the attempt became ready: a wait in delayed before (delay, retry
-- interval, task group slot) counts too.
SELECT 'sched_oldest_queued_task_age_seconds',
       jsonb_build_object('worker_group', g.worker_group),
       coalesce(extract(epoch FROM greatest(interval '0', statement_timestamp() - q.oldest)), 0)::float8
FROM worker_groups g
LEFT JOIN (SELECT a.worker_group, min(a.oldest) AS oldest FROM active a
           WHERE a.state = 'queued' GROUP BY 1) q ON q.worker_group = g.worker_group
UNION ALL
-- A running attempt here is one a worker runs; logic attempts count as waiting below.
SELECT 'sched_task_instances',
       jsonb_build_object('worker_group', g.worker_group, 'state', s.state),
       coalesce(c.n, 0)::float8
FROM worker_groups g
CROSS JOIN unnest(sched._task_states_active()::text[]) AS s(state)
LEFT JOIN (SELECT a.worker_group, a.state, sum(a.n) AS n FROM active a
           WHERE a.waiting IS NULL OR a.waiting IN ('delay', 'task_group', 'admit_when') GROUP BY 1, 2) c
       ON c.worker_group = g.worker_group AND c.state = s.state
UNION ALL
SELECT 'sched_waiting_task_instances',
       jsonb_build_object('reason', r.reason),
       coalesce(c.n, 0)::float8
FROM unnest(ARRAY['delay', 'task_group', 'admit_when', 'dependent', 'sub_process']) AS r(reason)
LEFT JOIN (SELECT a.waiting, sum(a.n) AS n FROM active a WHERE a.waiting IS NOT NULL GROUP BY 1) c
       ON c.waiting = r.reason
UNION ALL
-- Only unfinished states (workflow_instance_unfinished): counting finished instances would
-- read the whole history.
SELECT 'sched_workflow_instances',
       jsonb_build_object('state', s.state::text),
       coalesce(c.n, 0)::float8
FROM unnest(enum_range(NULL::sched.workflow_state)) AS s(state)
LEFT JOIN (SELECT wi.state, count(*) AS n FROM sched.workflow_instance wi
           WHERE wi.state <> ALL(sched._workflow_states_finished())
           GROUP BY wi.state) c ON c.state = s.state
WHERE s.state <> ALL(sched._workflow_states_finished())
UNION ALL
SELECT 'sched_workflow_instances_ended_5m',
       jsonb_build_object('state', s.state),
       coalesce(c.n, 0)::float8
FROM unnest(sched._workflow_states_finished()::text[]) AS s(state)
LEFT JOIN (SELECT wi.state::text AS state, count(*) AS n FROM sched.workflow_instance wi
           WHERE wi.ended_at IS NOT NULL AND wi.ended_at > statement_timestamp() - interval '5 minutes'
           GROUP BY wi.state) c ON c.state = s.state
UNION ALL
SELECT 'sched_schedule_lateness_seconds',
       '{}'::jsonb,
       coalesce(extract(epoch FROM greatest(interval '0', statement_timestamp() -
           (SELECT min(s.next_fire_at) FROM sched.schedule s WHERE s.enabled AND s.next_fire_at IS NOT NULL))), 0)::float8
UNION ALL
SELECT 'sched_schedules_overdue',
       '{}'::jsonb,
       (SELECT count(*) FROM sched.schedule s, settings
        WHERE s.enabled AND s.next_fire_at IS NOT NULL
          AND s.next_fire_at < statement_timestamp() - settings.misfire_threshold)::float8
UNION ALL
SELECT 'sched_schedules_online',
       '{}'::jsonb,
       (SELECT count(*) FROM sched.schedule s WHERE s.enabled AND s.next_fire_at IS NOT NULL)::float8
UNION ALL
SELECT 'sched_workers',
       jsonb_build_object('state', st.state),
       (SELECT count(*) FROM live l WHERE (l.status IS NULL) = (st.state = 'live'))::float8
FROM unnest(ARRAY['live', 'unhealthy']) AS st(state)
UNION ALL
-- Every end but a clean shutdown is a worker that died or went silent: declared dead, taken
-- over by a restart under its name, or ended after a fence.
SELECT 'sched_workers_ended_last_hour',
       jsonb_build_object('reason', r.reason),
       (SELECT count(*) FROM sched.worker w
        WHERE NOT w.alive AND w.ended_at > statement_timestamp() - interval '1 hour'
          AND (w.ended_why <> 'shutdown') = (r.reason = 'dead'))::float8
FROM unnest(ARRAY['dead', 'shutdown']) AS r(reason)
UNION ALL
SELECT 'sched_workers_slots', '{}'::jsonb, coalesce((SELECT sum(l.slots) FROM live l), 0)::float8
UNION ALL
SELECT 'sched_workers_running_tasks', '{}'::jsonb, coalesce((SELECT sum(l.running) FROM live l), 0)::float8
UNION ALL
SELECT 'sched_workers_max_heartbeat_age_seconds',
       '{}'::jsonb,
       coalesce(extract(epoch FROM greatest(interval '0', statement_timestamp() - (SELECT min(l.last_heartbeat) FROM live l))), 0)::float8
UNION ALL
SELECT 'sched_group_workers',
       jsonb_build_object('worker_group', g.worker_group),
       coalesce(lg.workers, 0)::float8
FROM worker_groups g
LEFT JOIN live_groups lg ON lg.worker_group = g.worker_group
UNION ALL
SELECT 'sched_group_slots',
       jsonb_build_object('worker_group', g.worker_group),
       coalesce(lg.slots, 0)::float8
FROM worker_groups g
LEFT JOIN live_groups lg ON lg.worker_group = g.worker_group
UNION ALL
SELECT 'sched_task_group_slots', jsonb_build_object('task_group', tg.name), tg.size::float8
FROM sched.task_group tg
UNION ALL
SELECT 'sched_task_group_slots_in_use',
       jsonb_build_object('task_group', tg.name),
       (SELECT count(*) FROM sched.task_instance h WHERE h.task_group_id = tg.id AND h.holds_slot)::float8
FROM sched.task_group tg
UNION ALL
SELECT 'sched_task_group_waiting',
       jsonb_build_object('task_group', tg.name),
       (SELECT count(*) FROM sched.task_instance w
        WHERE w.task_group_id = tg.id AND w.state = 'delayed' AND w.not_before IS NULL)::float8
FROM sched.task_group tg
UNION ALL
SELECT 'sched_alerts_pending',
       jsonb_build_object('channel', c.channel),
       coalesce((SELECT p.n FROM pending p WHERE p.channel = c.channel), 0)::float8
FROM unnest(ARRAY['email', 'webhook', 'script']) AS c(channel)
UNION ALL
SELECT 'sched_alerts_pending_retried',
       jsonb_build_object('channel', c.channel),
       coalesce((SELECT p.retried FROM pending p WHERE p.channel = c.channel), 0)::float8
FROM unnest(ARRAY['email', 'webhook', 'script']) AS c(channel)
UNION ALL
SELECT 'sched_oldest_pending_alert_age_seconds',
       '{}'::jsonb,
       coalesce(extract(epoch FROM greatest(interval '0', statement_timestamp() - (SELECT min(p.oldest) FROM pending p))), 0)::float8
UNION ALL
SELECT 'sched_master_up', '{}'::jsonb, CASE WHEN sched._master_running() THEN 1 ELSE 0 END::float8
UNION ALL
-- Leaf tables only: a partitioned table has no storage of its own, its partitions carry it
-- (labelled with the partitioned table as table). A relation dropped meanwhile has no size.
SELECT 'sched_table_size_bytes',
       jsonb_build_object('table', coalesce(root.relname, c.relname), 'partition', c.relname),
       size.bytes::float8
FROM pg_catalog.pg_class c
LEFT JOIN pg_catalog.pg_class root ON c.relispartition AND root.oid = pg_catalog.pg_partition_root(c.oid)
CROSS JOIN LATERAL (SELECT pg_catalog.pg_total_relation_size(c.oid) AS bytes) size
WHERE c.relnamespace = 'sched'::regnamespace AND c.relkind = 'r' AND size.bytes IS NOT NULL;

COMMENT ON VIEW sched.metrics IS
    'Monitoring samples, one row per metric and label set, Prometheus-style (docs/monitoring.md): the queue, waiting and active attempts, unfinished instances and recent ends, schedule lateness, workers, task group slots, the alert outbox, the master, table sizes. Counts every role''s work and names no workflow: for sched_admin and pg_monitor.';
COMMENT ON COLUMN sched.metrics.metric IS
    'Metric name with its unit (sched_queue_depth, sched_oldest_queued_task_age_seconds, sched_table_size_bytes, ...); filter on it to compute only that metric.';
COMMENT ON COLUMN sched.metrics.labels IS
    'The sample''s labels as a JSON object of strings (worker_group, priority, state, reason, task_group, channel, table, partition); {} for a metric without labels. The set of keys is fixed per metric.';
COMMENT ON COLUMN sched.metrics.value IS
    'The value: a count, seconds or bytes, as the name says; 0 rather than no row where there is nothing to count.';
