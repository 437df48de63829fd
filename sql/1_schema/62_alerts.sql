-- Alerts: alert groups and their channels, the alerts the engine raises (3_engine/alerts.sql),
-- and their outbox, one delivery per channel, which workers started with --alerts drain
-- (5_protocol/alert_delivery.sql).

CREATE TABLE sched.alert_group (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    channels    jsonb NOT NULL,
    description text NOT NULL DEFAULT '',
    owner       regrole NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sched.alert_group IS 'Alert groups: where alerts go, as channels (email, webhook, script); read through sched.alert_groups. Secrets (SMTP credentials, webhook tokens) are never here: they are in the alert workers'' configuration.';
COMMENT ON COLUMN sched.alert_group.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.alert_group.name IS 'Name that notify and send_result refer to (alert_group).';
COMMENT ON COLUMN sched.alert_group.channels IS 'The channels, normalised: {"type": "email", "to", "cc"}, {"type": "webhook", "url" or "endpoint", "format"}, {"type": "script", "command"}.';
COMMENT ON COLUMN sched.alert_group.description IS 'Free text.';
COMMENT ON COLUMN sched.alert_group.owner IS 'Role that created it; it (or sched_admin) may change or drop it.';
COMMENT ON COLUMN sched.alert_group.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.alert_group.updated_at IS 'When its channels or description last changed.';

CREATE TABLE sched.alert (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event                text NOT NULL CHECK (event IN ('workflow_succeeded', 'workflow_failed', 'workflow_stopped',
                                                        'workflow_paused', 'task_timeout', 'workflow_timeout',
                                                        'fault_tolerance', 'sql_result', 'test', 'deadline_missed')),
    workflow_instance_id bigint,
    task_instance_id     bigint,
    alert_group          text,
    title                text NOT NULL,
    message              text NOT NULL,
    details              jsonb NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- Only a test of an alert group (sched.test_alert_group) and a missed deadline of a run
    -- that never started concern no instance.
    CONSTRAINT alert_instance_unless_test CHECK (workflow_instance_id IS NOT NULL OR event IN ('test', 'deadline_missed'))
);
-- A timeout strikes once; the master and a worker's completion may both notice it.
CREATE UNIQUE INDEX alert_once ON sched.alert (event, workflow_instance_id, coalesce(task_instance_id, 0))
    WHERE event IN ('task_timeout', 'workflow_timeout');
CREATE INDEX alert_by_instance ON sched.alert (workflow_instance_id);
COMMENT ON TABLE sched.alert IS 'Alerts the engine raised, one per event, written in the transaction that caused it, and tests of alert groups; read through sched.alerts. Deleted with their workflow instance (one without an instance, once as old as sched.history_retention).';
COMMENT ON COLUMN sched.alert.id IS 'Alert id.';
COMMENT ON COLUMN sched.alert.event IS 'The event: workflow_succeeded, workflow_failed, workflow_stopped, workflow_paused, task_timeout, workflow_timeout, fault_tolerance, sql_result, deadline_missed (a scheduled run had not succeeded by its deadline), or test (sched.test_alert_group).';
COMMENT ON COLUMN sched.alert.workflow_instance_id IS 'The workflow instance concerned; NULL for a test, and for a missed deadline of a run that never started (details.workflow_id names its workflow).';
COMMENT ON COLUMN sched.alert.task_instance_id IS 'The task attempt concerned (the first one, for fault tolerance); NULL for a workflow alert.';
COMMENT ON COLUMN sched.alert.alert_group IS 'The alert group it went to; NULL when the instance names none (the alert is only recorded).';
COMMENT ON COLUMN sched.alert.title IS 'One line: the subject of its email.';
COMMENT ON COLUMN sched.alert.message IS 'What happened, where, when, and how to look, in words.';
COMMENT ON COLUMN sched.alert.details IS 'The same as data (instance, state, the tasks concerned); for sql_result the columns and rows.';
COMMENT ON COLUMN sched.alert.created_at IS 'When it was raised.';

CREATE TABLE sched.alert_delivery (
    alert_id        bigint NOT NULL REFERENCES sched.alert ON DELETE CASCADE,
    channel_no      integer NOT NULL,
    channel         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state = ANY (sched._delivery_states())),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_error      text,
    worker_id       bigint,
    sent_at         timestamptz,
    PRIMARY KEY (alert_id, channel_no)
);
CREATE INDEX alert_delivery_due ON sched.alert_delivery (next_attempt_at) WHERE state = 'pending';
COMMENT ON TABLE sched.alert_delivery IS 'The outbox: one row per alert and channel of its group; read through sched.alerts.';
COMMENT ON COLUMN sched.alert_delivery.alert_id IS 'The alert.';
COMMENT ON COLUMN sched.alert_delivery.channel_no IS 'Position of the channel in its group, from 1.';
COMMENT ON COLUMN sched.alert_delivery.channel IS 'The channel as the group had it when the alert was raised.';
COMMENT ON COLUMN sched.alert_delivery.state IS 'pending (not yet sent, or to be retried), sent, or failed (sched.alert_max_attempts attempts failed).';
COMMENT ON COLUMN sched.alert_delivery.attempts IS 'Attempts to send it so far.';
COMMENT ON COLUMN sched.alert_delivery.next_attempt_at IS 'When a worker may next try it: the retry time, or while one tries it, when its claim lapses.';
COMMENT ON COLUMN sched.alert_delivery.last_error IS 'Why the last attempt failed; NULL once sent.';
COMMENT ON COLUMN sched.alert_delivery.worker_id IS 'The worker that last tried it.';
COMMENT ON COLUMN sched.alert_delivery.sent_at IS 'When it was sent.';
