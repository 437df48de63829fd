-- GENERATED from core/src/vocabulary.rs by `make vocabulary-sql`: edit core/src (state.rs,
-- keyword.rs's Priority, name.rs, protocol.rs), not this file. Immutable functions, so that a query is
-- planned with their constants and an index whose predicate calls one still serves it.

-- The states of workflow instances and task attempts, their named sets and the states each
-- command applies in (core/src/state.rs).

CREATE TYPE sched.workflow_state AS ENUM ('submitted', 'serial_wait', 'waiting_thread', 'running', 'ready_pause', 'paused', 'ready_stop', 'stopped', 'failed', 'succeeded');
COMMENT ON TYPE sched.workflow_state IS
    'State of a workflow instance. submitted: recorded, not yet admitted (not written by this engine: an instance is admitted in the transaction that creates it); serial_wait: a serial_wait workflow''s instance waiting for the one before it to end; waiting_thread: waiting for room under sched.max_running_instances; running: admitted; its ready tasks are queued as they become ready; ready_pause: pausing: running attempts finish, nothing new starts; paused: paused with nothing running; resume continues it; ready_stop: stopping: running attempts are being killed; stopped: stopped by a user, a timeout or a parent; failed: ended with a failed task; succeeded: ended with every task done';

CREATE TYPE sched.task_state AS ENUM ('delayed', 'queued', 'dispatched', 'running', 'succeeded', 'failed', 'killed', 'paused', 'forced_success', 'need_fault_tolerance', 'skipped', 'forbidden');
COMMENT ON TYPE sched.task_state IS
    'State of one task attempt. delayed: waiting for its delay (delay_time, or a retry''s interval); queued: ready, waiting for a worker to claim it; dispatched: claimed by a worker, not yet started (not written by this engine: a claim starts the attempt); running: running on a worker, or in the database; succeeded: ended with success; failed: ended with failure, or killed for its timeout; a retry may follow; killed: killed by a user, a stop or a failed sibling; paused: not started because its instance paused; forced_success: failed or killed, then marked successful by a user; need_fault_tolerance: its worker was lost; a new attempt replaces it; skipped: on a branch a CONDITIONS or SWITCH task did not take (or all its upstream tasks were skipped); forbidden: a task with enabled false, passed through';

CREATE FUNCTION sched._task_states_active() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{delayed,queued,dispatched,running}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_active() IS 'Internal: the states of an attempt that is not over (task_instance_active''s predicate); every other state is final.';

CREATE FUNCTION sched._task_states_waiting() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{delayed,queued}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_waiting() IS 'Internal: the states of an attempt no worker holds yet.';

CREATE FUNCTION sched._task_states_claimed() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{dispatched,running}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_claimed() IS 'Internal: the states of an attempt a worker holds (task_instance_claimed''s predicate).';

CREATE FUNCTION sched._task_states_finished() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,failed,killed,paused,forced_success,need_fault_tolerance,skipped,forbidden}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_finished() IS 'Internal: the final states of an attempt: those not active.';

CREATE FUNCTION sched._task_states_success() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,forced_success}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_success() IS 'Internal: the states whose OUT parameters reach downstream tasks, and that a CONDITIONS success branch counts.';

CREATE FUNCTION sched._task_states_passed() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,forced_success,skipped,forbidden}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_passed() IS 'Internal: the states that let downstream tasks start and count as done when an instance is recovered or rerun.';

CREATE FUNCTION sched._task_states_failure() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{failed,killed}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_failure() IS 'Internal: the states of an attempt that ended in failure: the instance has a failure, and recover or force_success applies.';

CREATE FUNCTION sched._task_states_alerted() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{failed,killed,paused,need_fault_tolerance}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_alerted() IS 'Internal: the states a workflow-end alert lists the tasks of.';

CREATE FUNCTION sched._task_states_dependent_success() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,forced_success,forbidden}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_dependent_success() IS 'Internal: the states a DEPENDENT item on one task counts as succeeded.';

CREATE FUNCTION sched._task_states_bypassed() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{skipped,forbidden}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_bypassed() IS 'Internal: the states of a task passed over without running: graphs draw it dashed.';

CREATE FUNCTION sched._workflow_states_finished() RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{paused,stopped,failed,succeeded}'::sched.workflow_state[] $$;
COMMENT ON FUNCTION sched._workflow_states_finished() IS 'Internal: the states of an instance that has ended (workflow_instance_unfinished excludes them).';

CREATE FUNCTION sched._workflow_states_unfinished() RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{submitted,serial_wait,waiting_thread,running,ready_pause,ready_stop}'::sched.workflow_state[] $$;
COMMENT ON FUNCTION sched._workflow_states_unfinished() IS 'Internal: the states of an instance that has not ended.';

CREATE FUNCTION sched._workflow_states_executing() RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{running,ready_pause,ready_stop}'::sched.workflow_state[] $$;
COMMENT ON FUNCTION sched._workflow_states_executing() IS 'Internal: the states of an admitted instance that has not ended: it counts against running limits and its attempts advance it.';

CREATE FUNCTION sched._workflow_states_admitted() RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{running,ready_pause,ready_stop,waiting_thread}'::sched.workflow_state[] $$;
COMMENT ON FUNCTION sched._workflow_states_admitted() IS 'Internal: the states of an instance holding its serial turn: executing, or waiting for a thread.';

CREATE FUNCTION sched._workflow_states_advancing() RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{running,ready_pause}'::sched.workflow_state[] $$;
COMMENT ON FUNCTION sched._workflow_states_advancing() IS 'Internal: the states in which a failed attempt is retried and a forced success starts downstream tasks.';

CREATE FUNCTION sched._workflow_states_ending() RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{ready_stop,paused,stopped,failed,succeeded}'::sched.workflow_state[] $$;
COMMENT ON FUNCTION sched._workflow_states_ending() IS 'Internal: the states of an instance that is finished or being stopped: a stop, a timeout or a parent has nothing more to do.';

CREATE FUNCTION sched._workflow_states_unsuccessful() RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{paused,stopped,failed}'::sched.workflow_state[] $$;
COMMENT ON FUNCTION sched._workflow_states_unsuccessful() IS 'Internal: the states of an instance that ended without succeeding.';

CREATE FUNCTION sched._command_workflow_states(command text) RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE command
    WHEN 'pause' THEN '{running}'::sched.workflow_state[]
    WHEN 'resume' THEN '{paused,stopped}'::sched.workflow_state[]
    WHEN 'recover' THEN '{failed}'::sched.workflow_state[]
    WHEN 'rerun' THEN '{paused,stopped,failed,succeeded}'::sched.workflow_state[]
    WHEN 'execute_task' THEN '{paused,stopped,failed,succeeded}'::sched.workflow_state[]
    WHEN 'stop' THEN '{submitted,serial_wait,waiting_thread,running,ready_pause,paused,ready_stop}'::sched.workflow_state[]
END $$;
COMMENT ON FUNCTION sched._command_workflow_states(text) IS 'Internal: the instance states a command applies to (NULL for another command).';

CREATE FUNCTION sched._command_task_states(command text) RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE command
    WHEN 'force_success' THEN '{failed,killed}'::sched.task_state[]
    WHEN 'kill_task' THEN '{delayed,queued,dispatched,running}'::sched.task_state[]
END $$;
COMMENT ON FUNCTION sched._command_task_states(text) IS 'Internal: the attempt states a command applies to (NULL for another command).';

CREATE FUNCTION sched._command_reruns(command text) RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE command
    WHEN 'resume' THEN '{paused,killed}'::sched.task_state[]
    WHEN 'recover' THEN '{failed,killed}'::sched.task_state[]
END $$;
COMMENT ON FUNCTION sched._command_reruns(text) IS 'Internal: the states of the attempts a command runs again (NULL for another command).';

CREATE FUNCTION sched._outcomes() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,failed,killed,timed_out}'::text[] $$;
COMMENT ON FUNCTION sched._outcomes() IS 'Internal: what a worker may report an attempt ended as (complete_tasks'' outcomes).';

CREATE FUNCTION sched._backfill_states() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{running,succeeded,failed,cancelled}'::text[] $$;
COMMENT ON FUNCTION sched._backfill_states() IS 'Internal: the states of a backfill. running: dates are still to start or running; succeeded: every date''s instance succeeded; failed: a date''s instance did not succeed (and on_failure stop ended the backfill, or every date has ended); cancelled: cancelled by cancel_backfill: no further date starts';

CREATE FUNCTION sched._delivery_states() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{pending,sent,failed}'::text[] $$;
COMMENT ON FUNCTION sched._delivery_states() IS 'Internal: the states of an alert''s delivery to one channel. pending: not yet sent; a worker started with --alerts sends it when it is due; sent: sent to its channel; failed: every attempt failed (sched.alert_max_attempts)';

CREATE FUNCTION sched._test_states() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,failed,mocked,not_run,skipped,forbidden,not_reached}'::text[] $$;
COMMENT ON FUNCTION sched._test_states() IS 'Internal: the states of a task of a test run. succeeded: its statements ran (then were rolled back with the rest), or a logic task chose its branch; failed: a statement failed, its parameters did not resolve or its OUT values could not be read; downstream tasks are not reached; mocked: not run: options.mock gave its OUT values; not_run: a task a test run does not run (shell, python, http, a datasource''s SQL, sub_process, dependent, dynamic...); downstream tasks run as if it succeeded without OUT values; skipped: on a branch a CONDITIONS or SWITCH task did not take; forbidden: a task with enabled false, passed through; not_reached: not run because an upstream task failed or was not reached';

CREATE FUNCTION sched._deadline_states() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{pending,met,missed}'::text[] $$;
COMMENT ON FUNCTION sched._deadline_states() IS 'Internal: the states of a fire''s deadline. pending: its deadline has not come; met: its instance succeeded by the deadline; missed: it had not succeeded by the deadline (or never started): an alert deadline_missed was raised';

CREATE FUNCTION sched._test_states_success() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{succeeded,mocked,not_run}'::text[] $$;
COMMENT ON FUNCTION sched._test_states_success() IS 'Internal: the test-run states that count as a success downstream: their successors run, a CONDITIONS success item holds.';

CREATE FUNCTION sched._command_type(command text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE command
    WHEN 'pause' THEN 'pause'
    WHEN 'resume' THEN 'recover_suspended_process'
    WHEN 'recover' THEN 'start_failure_task_process'
    WHEN 'rerun' THEN 'repeat_running'
    WHEN 'execute_task' THEN 'execute_task'
    WHEN 'stop' THEN 'stop'
    WHEN 'force_success' THEN 'force_success'
    WHEN 'kill_task' THEN 'kill_task'
END $$;
COMMENT ON FUNCTION sched._command_type(text) IS 'Internal: the command type sched.command records a command as (NULL for another command).';

CREATE FUNCTION sched.state_model() RETURNS jsonb
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';
COMMENT ON FUNCTION sched.state_model() IS 'The states of workflow instances and task attempts with their colours and meanings, the named sets of them and the states each command applies to, as JSON: what the console and other clients display and filter by.';

CREATE FUNCTION sched._state_model(principal regrole) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"backfill_states":[{"colour":"#9cc9f5","doc":"dates are still to start or running","name":"running"},{"colour":"#b7e1a1","doc":"every date''s instance succeeded","name":"succeeded"},{"colour":"#f4a6a6","doc":"a date''s instance did not succeed (and on_failure stop ended the backfill, or every date has ended)","name":"failed"},{"colour":"#e4e4e4","doc":"cancelled by cancel_backfill: no further date starts","name":"cancelled"}],"commands":[{"applies_to":["running"],"name":"pause","of":"workflow","recorded_as":"pause","reruns":[]},{"applies_to":["paused","stopped"],"name":"resume","of":"workflow","recorded_as":"recover_suspended_process","reruns":["paused","killed"]},{"applies_to":["failed"],"name":"recover","of":"workflow","recorded_as":"start_failure_task_process","reruns":["failed","killed"]},{"applies_to":["paused","stopped","failed","succeeded"],"name":"rerun","of":"workflow","recorded_as":"repeat_running","reruns":[]},{"applies_to":["paused","stopped","failed","succeeded"],"name":"execute_task","of":"workflow","recorded_as":"execute_task","reruns":[]},{"applies_to":["submitted","serial_wait","waiting_thread","running","ready_pause","paused","ready_stop"],"name":"stop","of":"workflow","recorded_as":"stop","reruns":[]},{"applies_to":["failed","killed"],"name":"force_success","of":"task","recorded_as":"force_success","reruns":[]},{"applies_to":["delayed","queued","dispatched","running"],"name":"kill_task","of":"task","recorded_as":"kill_task","reruns":[]}],"deadline_states":[{"colour":"#e4e4e4","doc":"its deadline has not come","name":"pending"},{"colour":"#b7e1a1","doc":"its instance succeeded by the deadline","name":"met"},{"colour":"#f4a6a6","doc":"it had not succeeded by the deadline (or never started): an alert deadline_missed was raised","name":"missed"}],"delivery_states":[{"colour":"#e4e4e4","doc":"not yet sent; a worker started with --alerts sends it when it is due","name":"pending"},{"colour":"#b7e1a1","doc":"sent to its channel","name":"sent"},{"colour":"#f4a6a6","doc":"every attempt failed (sched.alert_max_attempts)","name":"failed"}],"task_sets":{"active":["delayed","queued","dispatched","running"],"alerted":["failed","killed","paused","need_fault_tolerance"],"bypassed":["skipped","forbidden"],"claimed":["dispatched","running"],"dependent_success":["succeeded","forced_success","forbidden"],"failure":["failed","killed"],"finished":["succeeded","failed","killed","paused","forced_success","need_fault_tolerance","skipped","forbidden"],"passed":["succeeded","forced_success","skipped","forbidden"],"success":["succeeded","forced_success"],"waiting":["delayed","queued"]},"task_states":[{"colour":"#e4e4e4","doc":"waiting for its delay (delay_time, or a retry''s interval)","name":"delayed"},{"colour":"#e4e4e4","doc":"ready, waiting for a worker to claim it","name":"queued"},{"colour":"#c4dff9","doc":"claimed by a worker, not yet started (not written by this engine: a claim starts the attempt)","name":"dispatched"},{"colour":"#9cc9f5","doc":"running on a worker, or in the database","name":"running"},{"colour":"#b7e1a1","doc":"ended with success","name":"succeeded"},{"colour":"#f4a6a6","doc":"ended with failure, or killed for its timeout; a retry may follow","name":"failed"},{"colour":"#f8c78a","doc":"killed by a user, a stop or a failed sibling","name":"killed"},{"colour":"#f3e39a","doc":"not started because its instance paused","name":"paused"},{"colour":"#d6efc7","doc":"failed or killed, then marked successful by a user","name":"forced_success"},{"colour":"#d9b3e6","doc":"its worker was lost; a new attempt replaces it","name":"need_fault_tolerance"},{"colour":"#f5f5f5","doc":"on a branch a CONDITIONS or SWITCH task did not take (or all its upstream tasks were skipped)","name":"skipped"},{"colour":"#f5f5f5","doc":"a task with enabled false, passed through","name":"forbidden"}],"test_states":[{"colour":"#b7e1a1","doc":"its statements ran (then were rolled back with the rest), or a logic task chose its branch","name":"succeeded"},{"colour":"#f4a6a6","doc":"a statement failed, its parameters did not resolve or its OUT values could not be read; downstream tasks are not reached","name":"failed"},{"colour":"#d6efc7","doc":"not run: options.mock gave its OUT values","name":"mocked"},{"colour":"#e4e4e4","doc":"a task a test run does not run (shell, python, http, a datasource''s SQL, sub_process, dependent, dynamic...); downstream tasks run as if it succeeded without OUT values","name":"not_run"},{"colour":"#f5f5f5","doc":"on a branch a CONDITIONS or SWITCH task did not take","name":"skipped"},{"colour":"#f5f5f5","doc":"a task with enabled false, passed through","name":"forbidden"},{"colour":"#ffffff","doc":"not run because an upstream task failed or was not reached","name":"not_reached"}],"workflow_sets":{"admitted":["running","ready_pause","ready_stop","waiting_thread"],"advancing":["running","ready_pause"],"ending":["ready_stop","paused","stopped","failed","succeeded"],"executing":["running","ready_pause","ready_stop"],"finished":["paused","stopped","failed","succeeded"],"unfinished":["submitted","serial_wait","waiting_thread","running","ready_pause","ready_stop"],"unsuccessful":["paused","stopped","failed"]},"workflow_states":[{"colour":"#e4e4e4","doc":"recorded, not yet admitted (not written by this engine: an instance is admitted in the transaction that creates it)","name":"submitted"},{"colour":"#e4e4e4","doc":"a serial_wait workflow''s instance waiting for the one before it to end","name":"serial_wait"},{"colour":"#e4e4e4","doc":"waiting for room under sched.max_running_instances","name":"waiting_thread"},{"colour":"#9cc9f5","doc":"admitted; its ready tasks are queued as they become ready","name":"running"},{"colour":"#f3e39a","doc":"pausing: running attempts finish, nothing new starts","name":"ready_pause"},{"colour":"#f3e39a","doc":"paused with nothing running; resume continues it","name":"paused"},{"colour":"#f8c78a","doc":"stopping: running attempts are being killed","name":"ready_stop"},{"colour":"#f8c78a","doc":"stopped by a user, a timeout or a parent","name":"stopped"},{"colour":"#f4a6a6","doc":"ended with a failed task","name":"failed"},{"colour":"#b7e1a1","doc":"ended with every task done","name":"succeeded"}]}'::jsonb $$;
COMMENT ON FUNCTION sched._state_model(regrole) IS 'Internal: what sched.state_model returns, the same for every caller.';

CREATE FUNCTION sched._priorities() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{highest,high,medium,low,lowest}'::text[] $$;
COMMENT ON FUNCTION sched._priorities() IS 'Internal: the priorities, most urgent first; a priority''s rank is its position from 0 (DolphinScheduler''s numbering).';

CREATE FUNCTION sched._name_pattern() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' $$;
COMMENT ON FUNCTION sched._name_pattern() IS 'Internal: the rule of names (workflows, groups, datasources) as a regular expression.';

CREATE FUNCTION sched._name_rule() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '1-63 letters, digits, ''_'', ''-'' or ''.'', starting with a letter or digit' $$;
COMMENT ON FUNCTION sched._name_rule() IS 'Internal: the rule of names as errors say it.';

CREATE FUNCTION sched._worker_protocol() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 3 $$;
COMMENT ON FUNCTION sched._worker_protocol() IS 'Internal: the worker protocol of this release; register_worker serves it and the ones down to _worker_protocol_oldest().';

CREATE FUNCTION sched._worker_protocol_oldest() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1 $$;
COMMENT ON FUNCTION sched._worker_protocol_oldest() IS 'Internal: the oldest worker protocol register_worker still serves (workers of the release before keep working through an upgrade).';

CREATE FUNCTION sched._named_wake_protocol() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 3 $$;
COMMENT ON FUNCTION sched._named_wake_protocol() IS 'Internal: the first worker protocol whose workers understand a wake-up naming one of them (payload ''group worker_id'' on the worker''s own channel, sched._worker_channel); older ones are woken by their whole group (payload ''group'' on sched_ready).';

CREATE FUNCTION sched._worker_channel(worker_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 'sched_ready_' || worker_id::text $$;
COMMENT ON FUNCTION sched._worker_channel(bigint) IS 'Internal: the channel on which a worker of protocol _named_wake_protocol() or later is woken by name: only its process hears it.';

CREATE FUNCTION sched._heartbeat_period(worker_timeout interval) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT least(interval '3000 ms', worker_timeout / 3) $$;
COMMENT ON FUNCTION sched._heartbeat_period(interval) IS 'Internal: how often a worker heartbeats under this sched.worker_timeout (at most every 3000 ms, three times per timeout when that is shorter).';

CREATE FUNCTION sched._spec_choices() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"backfill_modes":["serial","parallel"],"backfill_on_failure":["stop","continue"],"backfill_orders":["desc","asc"],"condition_statuses":["succeeded","failed"],"cycles":[{"cycle":"hour","date_values":["currentHour","last1Hour","last2Hours","last3Hours","last24Hours"]},{"cycle":"day","date_values":["today","last1Days","last2Days","last3Days","last7Days"]},{"cycle":"week","date_values":["thisWeek","lastWeek","lastMonday","lastTuesday","lastWednesday","lastThursday","lastFriday","lastSaturday","lastSunday"]},{"cycle":"month","date_values":["thisMonth","thisMonthBegin","lastMonth","lastMonthBegin","lastMonthEnd"]}],"dataset_modes":["all","any"],"dependent_failures":["fail","wait"],"execution_types":["parallel","serial_wait","serial_discard","serial_priority"],"failure_strategies":["continue","end"],"notify_strategies":["none","success","failure","all"],"param_types":["varchar","integer","long","float","double","date","time","timestamp","boolean","list"],"priorities":["highest","high","medium","low","lowest"],"relations":["and","or"],"table_operations":["insert","update","delete"],"timeout_strategies":["warn","fail","warn_fail"],"trigger_kinds":["workflow_end","table_change","webhook","dataset"],"workflow_timeout_strategies":["warn","stop"]}'::jsonb $$;
COMMENT ON FUNCTION sched._spec_choices() IS 'Internal: the values a spec''s enum-like fields allow (failure strategies, execution types, priorities, timeout and notify strategies, parameter types, relations, condition statuses, DEPENDENT''s failure policies and its cycles with their date values) and a backfill''s options (modes, orders, on_failure), each list in the order errors name them: what forms offer.';

CREATE FUNCTION sched._choices(kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY(SELECT pg_catalog.jsonb_array_elements_text(sched._spec_choices() OPERATOR(pg_catalog.->) kind)) $$;
COMMENT ON FUNCTION sched._choices(text) IS 'Internal: one list of sched._spec_choices(), as an array.';
