-- The functions the extension defines in Rust (extension/src), which pgrx creates before any
-- file of sql/: their comments, for the readers of the catalog. Each is a thin wrapper over
-- sched-core (core/src), named here by what SQL uses it for.

COMMENT ON FUNCTION sched._instance_values(jsonb, jsonb, jsonb, text) IS
    'Internal: the parameter values of a new instance (built-ins, facts, globals, start parameters over them) resolved at its business time.';
COMMENT ON FUNCTION sched._resolve_task(jsonb, jsonb, jsonb, jsonb, jsonb, jsonb, text) IS
    'Internal: resolves a task''s local params and settings for an attempt; never raises, a failure is returned in settings as resolve_error.';
COMMENT ON FUNCTION sched._resolve_template(text, jsonb, text) IS
    'Internal: the resolution of sched.resolve, pure; business_time is YYYY-MM-DD HH24:MI:SS.';

COMMENT ON FUNCTION sched._normalize_task_type(text, jsonb) IS
    'Internal: a task type definition validated and normalised, or an error naming its field.';
COMMENT ON FUNCTION sched._command_types(jsonb) IS
    'Internal: every command type, built-in and the given registered ones, by name.';
COMMENT ON FUNCTION sched._builtin_task_types() IS
    'Internal: the built-in task types as rows of sched.task_types.';
COMMENT ON FUNCTION sched._normalize_spec(text, jsonb) IS
    'Internal: a workflow spec validated (with the registered task types) and normalised, or an error naming the field.';
COMMENT ON FUNCTION sched._prepare_spec(text, jsonb) IS
    'Internal: from one parse of a workflow spec, what sched.create_workflow keeps: the spec normalised (JSON text), what it names that needs a right ([{kind, name, field}]: worker groups but default, datasources, alert groups, task groups) and, in the order of its tasks, each task''s depth in the DAG (the longest path to it from a task without deps), its priority''s rank (0 = highest), its successors (positions in the task list from 1, all tasks'' one after the other, successor_counts of them each) and whether all of them are enabled CONDITIONS tasks; or an error naming the field.';
COMMENT ON FUNCTION sched._successor_ids(bigint[], integer[], integer[]) IS
    'Internal: the successors _prepare_spec found, as task definition ids: task_ids in the order of the spec''s tasks; a row per task with successors, by its position from 1.';
COMMENT ON FUNCTION sched._render_graph(text, text, bigint[], text[], text[], text[], bigint[], bigint[], text[], integer[], bigint[], bigint[]) IS
    'Internal: the picture, as DOT or Mermaid, of the tasks ids (with their names and types and a line more of notes) and the dependencies edge_from[i] -> edge_to[i], by task id, both drawn in id order; when attempts are given (attempt_tasks[i]''s attempt attempt_ids[i], its state and number; in any order), each task filled by its latest attempt''s state (not run without one); an error naming format for another format.';
COMMENT ON FUNCTION sched._execute_as(oid, jsonb) IS
    'Internal: runs a sql or procedure task''s bound statements in a background worker connected as the given role.';
COMMENT ON FUNCTION sched._sql_checks(jsonb) IS
    'Internal: the statements of sql and procedure tasks that can be checked at definition, [{task, field, text, types}], parameters as $n typed as declared.';
COMMENT ON FUNCTION sched._analyze_as(oid, text, text, text[]) IS
    'Internal: parses, analyses and plans a statement as the given role with the given search_path, running nothing; returns the relations and functions it uses, and more = false after a statement that may change the schema.';

COMMENT ON FUNCTION sched._test_sql(oid, boolean, text, text, jsonb, integer) IS
    'Internal: runs a sql or procedure task''s bound statements here, as the given role (restricted when the caller is another role) with the given search_path, in a subtransaction rolled back on failure; returns its state, rows, OUT values, notices and duration, never raising for what the statements do (sched.test_run); a positive timeout_ms cancels them after that long (admit_when).';

COMMENT ON FUNCTION sched._admit_statement(text, text) IS
    'Internal: the statement that evaluates an admit_when over sched.load (one expression, no '';''); a bad one is refused naming the field.';
COMMENT ON FUNCTION sched._instance_snapshot(bigint, oid) IS
    'Internal: {"snapshot": id} of the snapshot an instance''s SQL tasks read under "snapshot": "consistent", starting its holder (a background worker connected as the owner) at the first; {"error"} when none can be had.';
COMMENT ON FUNCTION sched._release_snapshot(bigint) IS
    'Internal: asks the holder of an instance''s consistent snapshot to end; false when none holds one.';
COMMENT ON FUNCTION sched._snapshot_holders() IS
    'Internal: the instances whose consistent snapshot is held now, since when (seconds since the Unix epoch) and whether it is published.';
COMMENT ON FUNCTION sched._deadline_at(text, double precision, text, text) IS
    'Internal: the deadline of a run fired at a time (seconds since the epoch) in a zone, as seconds since the epoch; an error names the field.';

COMMENT ON FUNCTION sched._in_master() IS
    'Internal: whether the calling process is the pg_sched master.';

COMMENT ON FUNCTION sched._wake_master() IS
    'Internal: wakes the master when the calling transaction commits, for work it must do on time (a delayed attempt, a timeout).';
COMMENT ON FUNCTION sched._cron_fires(text, integer, double precision, text) IS
    'Internal: fire times of a cron expression as seconds since the epoch; pure.';
COMMENT ON FUNCTION sched._cron_prev_fires(text, integer, double precision, text) IS
    'Internal: previous fire times of a cron expression as seconds since the epoch, latest first; pure.';
COMMENT ON FUNCTION sched._cron_words(text, text) IS 'Internal: a cron expression in words; pure.';
COMMENT ON FUNCTION sched._cron_structure(text) IS 'Internal: the structure of a cron expression; pure.';
COMMENT ON FUNCTION sched._cron_text(jsonb) IS 'Internal: the expression of a cron structure; pure.';

COMMENT ON FUNCTION sched._dolphinscheduler_convert(jsonb, jsonb) IS
    'Internal: a DolphinScheduler export converted into {workflows, schedules, unmapped, skipped}; pure, nothing validated as a spec.';

COMMENT ON FUNCTION sched._webhook_signature_ok(text, text, text, bytea, text) IS
    'Internal: whether a webhook request''s signature is sha256=<hex> of the HMAC-SHA256 of <timestamp>.<delivery>.<body> keyed with the secret; constant time, pure.';
