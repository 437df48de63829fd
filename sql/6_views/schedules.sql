-- Views for people and BI tools. Each shows only what the querying role may see: rows of
-- workflows owned by a role it is a member of, everything for sched_admin and superusers.
-- The querying role is current_user, the identity the API uses (2_kernel/access.sql): an index
-- expression or another role's SECURITY DEFINER function sees what its own role may see.
-- security_barrier: a caller's own functions in WHERE must not see rows before that filter.
--
-- This file: schedules, backfills and their dates.

CREATE VIEW sched.schedules WITH (security_barrier) AS
SELECT s.id, w.name AS workflow, s.cron, s.timezone, s.enabled, s.owner::text AS owner,
       s.start_at, s.end_at, s.misfire, s.run_options, s.params,
       s.next_fire_at, s.last_fire_at, s.last_instance_id, s.created_at,
       coalesce(s.deadline, (SELECT v.spec->>'deadline' FROM sched.workflow_version v
                             WHERE v.workflow_id = w.id AND v.version = w.current_version)) AS deadline
FROM sched.schedule s
JOIN sched.workflow w ON w.id = s.workflow_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.schedules IS 'Cron schedules of the workflows you may see.';
COMMENT ON COLUMN sched.schedules.id IS 'Schedule id.';
COMMENT ON COLUMN sched.schedules.workflow IS 'The workflow it starts.';
COMMENT ON COLUMN sched.schedules.cron IS 'Cron expression (sched.cron_describe says it in words).';
COMMENT ON COLUMN sched.schedules.timezone IS 'IANA time zone of the expression.';
COMMENT ON COLUMN sched.schedules.enabled IS 'Online (true) or offline.';
COMMENT ON COLUMN sched.schedules.owner IS 'Role it fires as.';
COMMENT ON COLUMN sched.schedules.start_at IS 'No fire before this.';
COMMENT ON COLUMN sched.schedules.end_at IS 'No fire after this.';
COMMENT ON COLUMN sched.schedules.misfire IS 'all, latest or none: fires missed for longer than sched.misfire_threshold.';
COMMENT ON COLUMN sched.schedules.run_options IS 'Start options of its instances.';
COMMENT ON COLUMN sched.schedules.params IS 'Start parameters of its instances.';
COMMENT ON COLUMN sched.schedules.next_fire_at IS 'Next fire time; NULL when offline or past its end.';
COMMENT ON COLUMN sched.schedules.last_fire_at IS 'Last fire time fired.';
COMMENT ON COLUMN sched.schedules.last_instance_id IS 'Instance of the last fire.';
COMMENT ON COLUMN sched.schedules.deadline IS 'When each fire''s run must have succeeded by: the schedule''s own deadline, else its workflow''s; NULL for none (sched.deadlines shows each fire''s).';

CREATE VIEW sched.deadlines WITH (security_barrier) AS
SELECT d.schedule_id, w.name AS workflow, d.fire_at, (d.fire_at AT TIME ZONE s.timezone)::date AS business_date,
       d.deadline_at, d.state, i.id AS instance_id, i.state AS instance_state,
       i.ended_at AS instance_ended_at, d.decided_at
FROM sched.deadline_check d
JOIN sched.schedule s ON s.id = d.schedule_id
JOIN sched.workflow w ON w.id = s.workflow_id
LEFT JOIN sched.workflow_instance i ON i.schedule_id = d.schedule_id AND i.schedule_time = d.fire_at
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.deadlines IS 'The deadline of each fire of the schedules with one (of the workflows you may see): when its run had to succeed by, and whether it did; missed ones raised an alert deadline_missed.';
COMMENT ON COLUMN sched.deadlines.schedule_id IS 'The schedule.';
COMMENT ON COLUMN sched.deadlines.workflow IS 'Its workflow.';
COMMENT ON COLUMN sched.deadlines.fire_at IS 'The nominal fire time, whether or not the schedule fired.';
COMMENT ON COLUMN sched.deadlines.business_date IS 'The fire''s date in the schedule''s zone.';
COMMENT ON COLUMN sched.deadlines.deadline_at IS 'When its run had to succeed by.';
COMMENT ON COLUMN sched.deadlines.state IS 'pending, met or missed (sched._deadline_states()).';
COMMENT ON COLUMN sched.deadlines.instance_id IS 'The fire''s instance; NULL when none started.';
COMMENT ON COLUMN sched.deadlines.instance_state IS 'Its instance''s state now.';
COMMENT ON COLUMN sched.deadlines.instance_ended_at IS 'When its instance ended.';
COMMENT ON COLUMN sched.deadlines.decided_at IS 'When the deadline was decided; NULL while pending.';
COMMENT ON COLUMN sched.schedules.created_at IS 'When it was created.';

CREATE VIEW sched.backfills WITH (security_barrier) AS
SELECT b.id, w.name AS workflow, b.mode, b.parallelism, b.on_failure,
       count(d.*) AS total,
       count(*) FILTER (WHERE wi.state = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE wi.state = ANY (sched._workflow_states_unsuccessful())) AS failed,
       count(*) FILTER (WHERE wi.state <> ALL (sched._workflow_states_finished())) AS running,
       count(*) FILTER (WHERE d.instance_id IS NULL AND NOT d.cancelled) AS pending,
       b.state, b.run_options->>'timezone' AS time_zone, b.owner::text AS owner, b.triggered_by, b.created_at, b.ended_at
FROM sched.backfill b
JOIN sched.workflow w ON w.id = b.workflow_id
LEFT JOIN sched.backfill_date d ON d.backfill_id = b.id
LEFT JOIN sched.workflow_instance wi ON wi.id = d.instance_id
WHERE sched._visible(w.owner)
GROUP BY b.id, w.name;
COMMENT ON VIEW sched.backfills IS 'Backfills and how far they got.';
COMMENT ON COLUMN sched.backfills.id IS 'Backfill id.';
COMMENT ON COLUMN sched.backfills.workflow IS 'The workflow run.';
COMMENT ON COLUMN sched.backfills.mode IS 'serial or parallel.';
COMMENT ON COLUMN sched.backfills.parallelism IS 'Instances at once at most.';
COMMENT ON COLUMN sched.backfills.on_failure IS 'stop or continue.';
COMMENT ON COLUMN sched.backfills.total IS 'Dates.';
COMMENT ON COLUMN sched.backfills.succeeded IS 'Dates whose instance succeeded.';
COMMENT ON COLUMN sched.backfills.failed IS 'Dates whose instance failed, was stopped or paused.';
COMMENT ON COLUMN sched.backfills.running IS 'Dates whose instance is unfinished.';
COMMENT ON COLUMN sched.backfills.pending IS 'Dates not started yet (and not cancelled).';
COMMENT ON COLUMN sched.backfills.state IS 'running, succeeded, failed or cancelled.';
COMMENT ON COLUMN sched.backfills.time_zone IS 'IANA zone its range was read in and its instances'' business values are computed in.';
COMMENT ON COLUMN sched.backfills.owner IS 'Role that asked for it.';
COMMENT ON COLUMN sched.backfills.triggered_by IS 'For the backfill of a workflow that DEPENDENT-depends on another (options.dependents): the backfill of that other workflow; NULL otherwise.';
COMMENT ON COLUMN sched.backfills.created_at IS 'When it was asked for.';
COMMENT ON COLUMN sched.backfills.ended_at IS 'When it ended.';

CREATE VIEW sched.backfill_dates WITH (security_barrier) AS
SELECT d.backfill_id, d.position, d.schedule_time, d.instance_id,
       CASE WHEN d.cancelled THEN 'cancelled' WHEN d.instance_id IS NULL THEN 'pending' ELSE wi.state::text END AS state
FROM sched.backfill_date d
JOIN sched.backfill b ON b.id = d.backfill_id
JOIN sched.workflow w ON w.id = b.workflow_id
LEFT JOIN sched.workflow_instance wi ON wi.id = d.instance_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.backfill_dates IS 'The dates of each backfill, in the order they run, with their instances.';
COMMENT ON COLUMN sched.backfill_dates.backfill_id IS 'The backfill.';
COMMENT ON COLUMN sched.backfill_dates.position IS 'Order, from 1.';
COMMENT ON COLUMN sched.backfill_dates.schedule_time IS 'The date (business time of its instance).';
COMMENT ON COLUMN sched.backfill_dates.instance_id IS 'Its instance; NULL while pending.';
COMMENT ON COLUMN sched.backfill_dates.state IS 'pending, cancelled, or its instance''s state.';
