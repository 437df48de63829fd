-- Privileges (docs/architecture.md, "Security model"). Nothing is callable by PUBLIC but the
-- state constants; sched_user and sched_admin get the user API and the views, sched_worker
-- only the worker protocol. The internal functions behind the public ones
-- (`sched._<name>(principal, ...)`) are granted to nobody: only the trampoline, which supplies
-- the caller as principal, calls them.

REVOKE ALL ON ALL ROUTINES IN SCHEMA sched FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA sched FROM PUBLIC;
-- The vocabulary (1_schema/01_vocabulary.sql, generated from core: states, their sets, the
-- command table, priorities, the name rule) holds constants that views evaluate as their
-- readers: anyone may call them.
DO $states$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'sched'::regnamespace
               AND p.proname ~ '^(_(task|workflow)_states_\w+|_command_(workflow_states|task_states|reruns|type)|state_model|_priorities|_spec_choices|_choices|_name_pattern|_name_rule|_backfill_states|_delivery_states|_outcomes)$'
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
    END LOOP;
END
$states$;
GRANT USAGE ON SCHEMA sched TO sched_admin, sched_user, sched_worker;

GRANT EXECUTE ON FUNCTION
    sched.create_workflow(jsonb, boolean),
    sched.import_dolphinscheduler(jsonb, jsonb),
    sched.workflow_spec(text),
    sched.drop_workflow(text),
    sched.start_workflow(text, jsonb, jsonb),
    sched.wait_workflow(bigint, interval),
    sched.stop_workflow(bigint),
    sched.pause_workflow(bigint),
    sched.resume_workflow(bigint),
    sched.recover_workflow(bigint),
    sched.rerun_workflow(bigint),
    sched.execute_task(bigint, text, text),
    sched.force_success(bigint),
    sched.kill_task(bigint),
    sched.create_task_group(text, integer, text, boolean, text),
    sched.drop_task_group(text),
    sched.schedule(text, text, jsonb),
    sched.unschedule(bigint),
    sched.enable_schedule(bigint),
    sched.disable_schedule(bigint),
    sched.alter_schedule(bigint, text, jsonb),
    sched.list_workflow_instances(jsonb, bigint, integer),
    sched.list_task_instances(jsonb, bigint, integer),
    sched.hourly_instance_states(timestamptz, timestamptz),
    sched.hourly_task_states(timestamptz, timestamptz),
    sched.create_api_token(text, timestamptz),
    sched.revoke_api_token(text, regrole),
    sched.backfill(text, timestamptz, timestamptz, jsonb),
    sched.backfill(text, timestamptz[], jsonb),
    sched.backfill(text, date, date, jsonb),
    sched.backfill_preview(text, date, date, jsonb),
    sched.backfill_preview(text, timestamptz, timestamptz, jsonb),
    sched.cancel_backfill(bigint, boolean),
    sched.task_log(bigint, integer, integer),
    sched.task_log_tail(bigint, integer),
    sched.task_log_text(bigint),
    sched.task_log_lines(bigint, integer, integer),
    sched.task_log_follow(bigint, integer, interval),
    sched.create_alert_group(text, jsonb, text),
    sched.alter_alert_group(text, jsonb, text),
    sched.drop_alert_group(text),
    sched.test_alert_group(text),
    sched.check_workflow(jsonb),
    sched.test_run(text, jsonb, jsonb),
    sched.workflow_versions(text),
    sched.set_project_params(regrole, jsonb),
    sched.workflow_graph(text, text),
    sched.instance_graph(bigint, text),
    sched.instance_tasks(bigint, text, integer),
    sched.instance_attempts(bigint, text, integer),
    -- These check for sched_admin themselves, so that others get a message saying so.
    sched.grant_tenant(regrole, text),
    sched.revoke_tenant(regrole, text),
    sched.create_datasource(text, text, text),
    sched.drop_datasource(text),
    sched.grant_worker_group(regrole, text),
    sched.revoke_worker_group(regrole, text),
    sched.grant_datasource(regrole, text),
    sched.revoke_datasource(regrole, text),
    sched.grant_alert_group(regrole, text),
    sched.revoke_alert_group(regrole, text),
    sched.grant_task_group(regrole, text),
    sched.revoke_task_group(regrole, text),
    sched.register_task_type(text, jsonb, boolean),
    sched.drop_task_type(text),
    sched.on_workflow_end(text, text, jsonb),
    sched.on_table_change(regclass, text, jsonb),
    sched.create_webhook(text, jsonb),
    sched.enable_trigger(bigint),
    sched.disable_trigger(bigint),
    sched.drop_trigger(bigint)
TO sched_user, sched_admin;

GRANT EXECUTE ON FUNCTION sched.resolve(text, jsonb, timestamptz, text), sched.cron_next(text, integer, timestamptz, text),
    sched.cron_prev(text, integer, timestamptz, text), sched.cron_describe(text, text), sched.cron_parse(text), sched.cron_build(jsonb)
TO sched_user, sched_admin;
-- Pure, and called by sched.resolve's body as the caller.
GRANT EXECUTE ON FUNCTION sched._resolve_template(text, jsonb, text), sched._check_time_zone(text, text), sched._cron_fires(text, integer, double precision, text),
    sched._cron_prev_fires(text, integer, double precision, text), sched._cron_words(text, text), sched._cron_structure(text), sched._cron_text(jsonb)
TO sched_user, sched_admin;

-- The views call these as the querying role.
GRANT EXECUTE ON FUNCTION sched._priority_name(smallint), sched._visible(regrole), sched._builtin_task_types(), sched._role_name(regrole)
TO sched_user, sched_admin;
-- sched.load's counts, which admit_when expressions read as their owners.
GRANT EXECUTE ON FUNCTION sched._load() TO sched_user, sched_admin, pg_monitor;
GRANT EXECUTE ON FUNCTION sched._waiting_for(bigint, bigint) TO sched_user, sched_admin;
GRANT SELECT ON sched.load TO sched_user, sched_admin, pg_monitor;

GRANT EXECUTE ON PROCEDURE sched.wait_for_workflow(bigint, interval, text) TO sched_user, sched_admin;

GRANT SELECT ON sched.workflows, sched.workflow_instances, sched.task_instances, sched.task_logs, sched.workers,
                sched.commands, sched.tenants, sched.task_types, sched.task_results, sched.alerts,
                sched.unserved_tasks, sched.task_groups, sched.schedules, sched.deadlines, sched.backfills, sched.backfill_dates,
                sched.alert_groups, sched.datasources, sched.use_grants, sched.project_params, sched.api_tokens,
                sched.instance_states_hourly, sched.task_states_hourly, sched.schedule_lateness, sched.worker_groups,
                sched.triggers, sched.datasets, sched.dataset_events, sched.workflow_dependencies
TO sched_user, sched_admin;

-- Monitoring (6_views/metrics.sql) counts every role's work, so not for sched_user; pg_monitor is
-- PostgreSQL's role for monitoring agents, which need nothing else of the schema.
GRANT USAGE ON SCHEMA sched TO pg_monitor;
GRANT EXECUTE ON FUNCTION sched._master_running() TO sched_admin, pg_monitor;
GRANT SELECT ON sched.metrics TO sched_admin, pg_monitor;

-- The console's token connection (7_api/api_tokens.sql). assume_api_token is called again by
-- the role it switched to, so anyone may call it, and so may anyone _api_token_role, which it
-- calls as that role; both check that the session is one of a member of sched_api.
GRANT EXECUTE ON FUNCTION sched.assume_api_token(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION sched._api_token_role(text) TO PUBLIC;
GRANT USAGE ON SCHEMA sched TO sched_api;
-- Webhook requests (7_api/triggers.sql) come in on that connection: it checks their signature
-- and starts the workflow as the webhook's creator.
GRANT EXECUTE ON FUNCTION sched._receive_webhook(text, bytea, text, text, text) TO sched_api;

GRANT EXECUTE ON FUNCTION
    sched.register_worker(text, text, text[], integer, bigint, integer),
    sched.heartbeat(bigint, integer, text, bigint[], bigint),
    sched.unknown_tasks(bigint, bigint[]),
    sched.release_tasks(bigint, bigint[]),
    sched.claim_tasks(bigint, integer, bigint),
    sched.complete_tasks(bigint, bigint[], integer[], timestamptz[], timestamptz[], integer, bigint, jsonb[], text[]),
    sched.complete_task(bigint, bigint, integer, text),
    sched.append_log(bigint, bigint[], integer[], text[], text[]),
    sched.kill_requests(bigint),
    sched.deregister_worker(bigint, boolean),
    sched.run_sql_task(bigint, bigint),
    sched.store_task_result(bigint, bigint, jsonb),
    sched.claim_alerts(bigint, integer),
    sched.report_alerts(bigint, bigint[], integer[], text[])
TO sched_worker;
