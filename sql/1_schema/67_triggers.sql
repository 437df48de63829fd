-- Triggers and datasets: what starts a workflow when something happened rather than at a time
-- (docs/architecture.md, "The life of an event"). An event is a committed row: the end of an
-- upstream instance starts its downstream in the same transaction (3_engine/triggers.sql); a
-- table's change and a dataset's update leave a row in sched.trigger_event, which the master
-- turns into a start and deletes in one transaction (4_master/events.sql); a webhook's request
-- starts its workflow in the console's transaction (7_api/triggers.sql). Each start is recorded
-- in sched.trigger_fire under a key that makes it happen once.

CREATE TABLE sched.trigger (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                 text NOT NULL CHECK (kind = ANY (sched._choices('trigger_kinds'))),
    owner                regrole NOT NULL,
    workflow_id          bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    upstream_workflow_id bigint REFERENCES sched.workflow ON DELETE CASCADE,
    end_states           sched.workflow_state[],
    table_oid            oid,
    table_name           text,
    operations           text[] CHECK (operations <@ sched._choices('table_operations')),
    datasets             text[],
    mode                 text CHECK (mode = ANY (sched._choices('dataset_modes'))),
    hook                 text UNIQUE,
    secret               text,
    params               jsonb,
    debounce             interval NOT NULL DEFAULT '0',
    max_wait             interval,
    min_rows             bigint NOT NULL DEFAULT 1,
    rate_limit           integer,
    enabled              boolean NOT NULL DEFAULT true,
    disabled_reason      text,
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_fired_at        timestamptz,
    fire_count           bigint NOT NULL DEFAULT 0,
    CHECK (CASE kind WHEN 'workflow_end' THEN upstream_workflow_id IS NOT NULL AND end_states IS NOT NULL
                     WHEN 'table_change' THEN table_oid IS NOT NULL AND operations IS NOT NULL
                     WHEN 'webhook' THEN hook IS NOT NULL AND secret IS NOT NULL AND rate_limit IS NOT NULL
                     WHEN 'dataset' THEN datasets IS NOT NULL AND mode IS NOT NULL END)
);
-- Finishing an instance asks whether anything waits for its workflow's end: a probe of this.
CREATE INDEX trigger_by_upstream ON sched.trigger (upstream_workflow_id) WHERE upstream_workflow_id IS NOT NULL;
-- A workflow's schedule_on is one trigger, replaced with its versions.
CREATE UNIQUE INDEX trigger_one_dataset_per_workflow ON sched.trigger (workflow_id) WHERE kind = 'dataset';
CREATE INDEX trigger_by_dataset ON sched.trigger USING gin (datasets) WHERE kind = 'dataset';
COMMENT ON TABLE sched.trigger IS 'What starts a workflow on an event: another workflow''s end, a table''s change, a webhook, or datasets (a workflow''s schedule_on). Read through sched.triggers.';
COMMENT ON COLUMN sched.trigger.id IS 'Trigger id.';
COMMENT ON COLUMN sched.trigger.kind IS 'workflow_end, table_change, webhook or dataset (sched._choices(''trigger_kinds'')).';
COMMENT ON COLUMN sched.trigger.owner IS 'The role that created it (a dataset trigger: the workflow''s owner): the workflow starts as it, and its rights are checked again at every start.';
COMMENT ON COLUMN sched.trigger.workflow_id IS 'The workflow it starts.';
COMMENT ON COLUMN sched.trigger.upstream_workflow_id IS 'workflow_end: the workflow whose instances'' end starts it.';
COMMENT ON COLUMN sched.trigger.end_states IS 'workflow_end: the end states that start it (default succeeded).';
COMMENT ON COLUMN sched.trigger.table_oid IS 'table_change: the table watched (its statement-level triggers are named sched_trigger_<id>_<operation>).';
COMMENT ON COLUMN sched.trigger.table_name IS 'table_change: the table''s qualified name when the trigger was created, shown once it is dropped.';
COMMENT ON COLUMN sched.trigger.operations IS 'table_change: insert, update, delete (sched._choices(''table_operations'')).';
COMMENT ON COLUMN sched.trigger.datasets IS 'dataset: the datasets of the workflow''s schedule_on.';
COMMENT ON COLUMN sched.trigger.mode IS 'dataset: all (every dataset has a new event) or any.';
COMMENT ON COLUMN sched.trigger.hook IS 'webhook: the id in its URL path, /hooks/<hook>; random, so that hooks cannot be guessed.';
COMMENT ON COLUMN sched.trigger.secret IS 'webhook: the HMAC-SHA256 key requests are signed with; shown once, by sched.create_webhook, and never by a view.';
COMMENT ON COLUMN sched.trigger.params IS 'The start parameters an event''s values map to ({"param": "source"}); NULL passes them as they come.';
COMMENT ON COLUMN sched.trigger.debounce IS 'table_change, dataset (mode any): start once there has been no event for this long.';
COMMENT ON COLUMN sched.trigger.max_wait IS 'table_change: start at the latest this long after the first event waiting, quiet or not.';
COMMENT ON COLUMN sched.trigger.min_rows IS 'table_change: start only once at least this many rows changed.';
COMMENT ON COLUMN sched.trigger.rate_limit IS 'webhook: most starts per minute; requests beyond it are refused (HTTP 429).';
COMMENT ON COLUMN sched.trigger.enabled IS 'False: its events are not recorded and it starts nothing.';
COMMENT ON COLUMN sched.trigger.disabled_reason IS 'Why it is disabled: by whom, or the right its owner lost.';
COMMENT ON COLUMN sched.trigger.last_error IS 'Why its last start failed, when it did (the trigger stays enabled unless a right was lost).';
COMMENT ON COLUMN sched.trigger.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.trigger.last_fired_at IS 'When it last started its workflow.';
COMMENT ON COLUMN sched.trigger.fire_count IS 'How many instances it started.';

-- The inbox of triggers the master serves: a row per statement that changed a watched table
-- (counting its rows) and per dataset event a consumer has not yet taken. Rows of one trigger
-- that wait for a debounce are merged into one at every tick, so the table stays small.
CREATE TABLE sched.trigger_event (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger_id   bigint NOT NULL REFERENCES sched.trigger ON DELETE CASCADE,
    first_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    last_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    committed_at timestamptz,
    statements   bigint NOT NULL DEFAULT 1,
    rows         bigint NOT NULL DEFAULT 0,
    dataset_event_ids bigint[]
);
CREATE INDEX trigger_event_by_trigger ON sched.trigger_event (trigger_id);
COMMENT ON TABLE sched.trigger_event IS 'Events a trigger has not yet turned into a start: a watched table''s changes, a dataset''s events for a consumer. Deleted by the start that takes them.';
COMMENT ON COLUMN sched.trigger_event.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.trigger_event.trigger_id IS 'The trigger.';
COMMENT ON COLUMN sched.trigger_event.first_at IS 'When the first change it counts was made.';
COMMENT ON COLUMN sched.trigger_event.last_at IS 'When the last change it counts was made.';
COMMENT ON COLUMN sched.trigger_event.committed_at IS 'When the last of its changes committed, once merged (with track_commit_timestamp; else NULL and last_at stands for it).';
COMMENT ON COLUMN sched.trigger_event.statements IS 'How many statements (or dataset events) it counts.';
COMMENT ON COLUMN sched.trigger_event.rows IS 'table_change: how many rows they changed.';
COMMENT ON COLUMN sched.trigger_event.dataset_event_ids IS 'dataset: the sched.dataset_event rows it stands for.';

CREATE TABLE sched.trigger_fire (
    trigger_id           bigint NOT NULL REFERENCES sched.trigger ON DELETE CASCADE,
    fire_key             text NOT NULL,
    workflow_instance_id bigint,
    fired_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (trigger_id, fire_key)
);
-- A webhook's rate limit counts its starts of the last minute.
CREATE INDEX trigger_fire_recent ON sched.trigger_fire (trigger_id, fired_at);
COMMENT ON TABLE sched.trigger_fire IS 'Every start a trigger made, under the key that makes it happen once: the upstream instance (workflow_end), the delivery id (webhook), the first event taken (table_change, dataset). Kept for sched.history_retention.';
COMMENT ON COLUMN sched.trigger_fire.trigger_id IS 'The trigger.';
COMMENT ON COLUMN sched.trigger_fire.fire_key IS 'What it fired for: instance:<id>, delivery:<id>, event:<id>.';
COMMENT ON COLUMN sched.trigger_fire.workflow_instance_id IS 'The instance it started (NULL when the start failed: sched.trigger.last_error says why).';
COMMENT ON COLUMN sched.trigger_fire.fired_at IS 'When.';

CREATE TABLE sched.dataset_event (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset              text NOT NULL,
    workflow_id          bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    task_name            text NOT NULL,
    workflow_instance_id bigint NOT NULL,
    task_instance_id     bigint NOT NULL,
    business_time        timestamptz NOT NULL,
    out_params           jsonb,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX dataset_event_by_dataset ON sched.dataset_event (dataset, id);
CREATE INDEX dataset_event_created ON sched.dataset_event (created_at);
COMMENT ON TABLE sched.dataset_event IS 'An update of a dataset: a success of a task that produces it. Kept for sched.history_retention; read through sched.dataset_events.';
COMMENT ON COLUMN sched.dataset_event.id IS 'Event id.';
COMMENT ON COLUMN sched.dataset_event.dataset IS 'The dataset''s name.';
COMMENT ON COLUMN sched.dataset_event.workflow_id IS 'The producer''s workflow.';
COMMENT ON COLUMN sched.dataset_event.task_name IS 'The producing task.';
COMMENT ON COLUMN sched.dataset_event.workflow_instance_id IS 'The producer''s instance.';
COMMENT ON COLUMN sched.dataset_event.task_instance_id IS 'The attempt that succeeded.';
COMMENT ON COLUMN sched.dataset_event.business_time IS 'The producer instance''s business time.';
COMMENT ON COLUMN sched.dataset_event.out_params IS 'The OUT params the attempt exported.';
COMMENT ON COLUMN sched.dataset_event.created_at IS 'When it succeeded.';
