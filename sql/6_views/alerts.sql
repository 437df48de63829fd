-- Views for people and BI tools. Each shows only what the querying role may see: rows of
-- workflows owned by a role it is a member of, everything for sched_admin and superusers.
-- The querying role is current_user, the identity the API uses (2_kernel/access.sql): an index
-- expression or another role's SECURITY DEFINER function sees what its own role may see.
-- security_barrier: a caller's own functions in WHERE must not see rows before that filter.
--
-- This file: alerts and alert groups.

CREATE VIEW sched.alerts WITH (security_barrier) AS
SELECT a.id, a.event, a.workflow_instance_id, w.name AS workflow, a.task_instance_id, a.alert_group,
       d.channel_no, d.channel->>'type' AS channel,
       CASE WHEN NOT coalesce(sched._visible(g.owner), false) THEN NULL
            -- -> and || bind alike, left to right: unparenthesised this read ((to || channel) -> 'cc').
            WHEN d.channel->>'type' = 'email' THEN array_to_string(ARRAY(SELECT jsonb_array_elements_text((d.channel->'to') || coalesce(d.channel->'cc', '[]'))), ', ')
            WHEN d.channel->>'type' = 'webhook' THEN coalesce(d.channel->>'url', 'endpoint ' || (d.channel->>'endpoint'))
            ELSE d.channel->>'command' END AS target,
       d.state, d.attempts, d.last_error, a.title, a.message, a.details,
       a.created_at, CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at, d.sent_at
FROM sched.alert a
LEFT JOIN sched.workflow_instance i ON i.id = a.workflow_instance_id
-- A missed deadline of a run that never started names its workflow in its details.
LEFT JOIN sched.workflow w ON w.id = coalesce(i.workflow_id, (a.details->>'workflow_id')::bigint)
LEFT JOIN sched.alert_delivery d ON d.alert_id = a.id
-- Addresses, URLs and commands are for the group's owner and sched_admin to see.
LEFT JOIN sched.alert_group g ON g.name = a.alert_group
-- A test of a group (no workflow) is for those who may see the group's channels.
WHERE CASE WHEN w.id IS NULL THEN coalesce(sched._visible(g.owner), false)
           ELSE coalesce(sched._visible(w.owner), false) END;
COMMENT ON VIEW sched.alerts IS 'Alerts the engine raised, for the workflows you may see, and tests of the alert groups you own: one row per alert and channel of its group (the outbox), or one row with no channel when the instance names no alert group.';
COMMENT ON COLUMN sched.alerts.id IS 'Alert id.';
COMMENT ON COLUMN sched.alerts.event IS 'workflow_succeeded, workflow_failed, workflow_stopped, workflow_paused (by the notify strategy), task_timeout, workflow_timeout, fault_tolerance, sql_result, or test (sched.test_alert_group).';
COMMENT ON COLUMN sched.alerts.workflow_instance_id IS 'Workflow instance id; NULL for a test and for a missed deadline of a run that never started.';
COMMENT ON COLUMN sched.alerts.workflow IS 'Workflow name; NULL for a test.';
COMMENT ON COLUMN sched.alerts.task_instance_id IS 'The task attempt; NULL for a workflow alert.';
COMMENT ON COLUMN sched.alerts.alert_group IS 'Alert group it went to; NULL when none was named.';
COMMENT ON COLUMN sched.alerts.channel_no IS 'Position of the channel in the group, from 1; NULL without a group.';
COMMENT ON COLUMN sched.alerts.channel IS 'email, webhook or script; NULL without a group.';
COMMENT ON COLUMN sched.alerts.target IS 'Recipients, URL (or the configured endpoint''s name) or command; shown to the alert group''s owner and sched_admin only, NULL for others.';
COMMENT ON COLUMN sched.alerts.state IS 'pending, sent or failed (after sched.alert_max_attempts attempts); NULL without a group.';
COMMENT ON COLUMN sched.alerts.attempts IS 'Attempts to send it so far.';
COMMENT ON COLUMN sched.alerts.last_error IS 'Why the last attempt failed.';
COMMENT ON COLUMN sched.alerts.title IS 'Subject line.';
COMMENT ON COLUMN sched.alerts.message IS 'What happened, where, when and how to look.';
COMMENT ON COLUMN sched.alerts.details IS 'The same as data; for sql_result the columns and rows.';
COMMENT ON COLUMN sched.alerts.created_at IS 'When it was raised.';
COMMENT ON COLUMN sched.alerts.next_attempt_at IS 'When it is next tried, while pending.';
COMMENT ON COLUMN sched.alerts.sent_at IS 'When it was sent.';

CREATE VIEW sched.alert_groups AS
SELECT g.name,
       CASE WHEN sched._visible(g.owner) THEN g.channels
            ELSE (SELECT jsonb_agg(jsonb_build_object('type', c->'type') ORDER BY n)
                  FROM jsonb_array_elements(g.channels) WITH ORDINALITY AS x(c, n)) END AS channels,
       g.description, g.owner::text AS owner,
       sched._visible(g.owner) OR EXISTS (SELECT 1 FROM sched.use_grant u
                                          WHERE u.kind = 'alert_group' AND u.name = g.name
                                            AND pg_catalog.pg_has_role(u.role, 'MEMBER')) AS usable,
       g.created_at, g.updated_at
FROM sched.alert_group g;
COMMENT ON VIEW sched.alert_groups IS 'Alert groups, for every user; their addresses, URLs and commands only for their owner and sched_admin.';
COMMENT ON COLUMN sched.alert_groups.name IS 'Name notify.alert_group and send_result.alert_group refer to.';
COMMENT ON COLUMN sched.alert_groups.channels IS 'Its channels (email, webhook, script), normalised; for others than its owner and sched_admin only their types.';
COMMENT ON COLUMN sched.alert_groups.usable IS 'Whether you may name it (you own it, are in sched_admin, or were granted it with sched.grant_alert_group).';
COMMENT ON COLUMN sched.alert_groups.description IS 'Free text.';
COMMENT ON COLUMN sched.alert_groups.owner IS 'Role that may change or drop it (with sched_admin).';
COMMENT ON COLUMN sched.alert_groups.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.alert_groups.updated_at IS 'When it last changed.';
