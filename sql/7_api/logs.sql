-- Reading task logs: pages of lines, the lines with their stream (stdout or stderr), the last
-- lines, the whole log as one text, and following a running attempt's log from a line number
-- on. Workers store what a task prints at least every 200 ms while it runs
-- (worker/src/reporter.rs), so what these return is at most that old. Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

-- Where an attempt's lines are (the UTC day it was queued, the partition key), after checking
-- the principal may read its instance.
CREATE FUNCTION sched._log_day(principal regrole, task_instance_id bigint) RETURNS date
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    inst_id bigint;
    log_day date;
BEGIN
    SELECT a.workflow_instance_id, (a.queued_at AT TIME ZONE 'UTC')::date INTO inst_id, log_day
    FROM sched._attempts a WHERE a.id = _log_day.task_instance_id;
    IF inst_id IS NULL THEN
        RAISE EXCEPTION 'task instance % does not exist', _log_day.task_instance_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._instance_for(principal, inst_id, false);
    RETURN log_day;
END
$$;
COMMENT ON FUNCTION sched._log_day(regrole, bigint) IS
    'Internal: the day partition of an attempt''s log lines, once the principal is allowed to read them.';

CREATE FUNCTION sched.task_log(task_instance_id bigint, skip_lines integer DEFAULT 0, limit_lines integer DEFAULT 1000)
RETURNS SETOF text
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

-- A page of an attempt's log lines, what sched.task_log and sched.task_log_lines show.
CREATE FUNCTION sched._log_page(principal regrole, task_instance_id bigint, skip_lines integer, limit_lines integer)
RETURNS TABLE (line_no integer, stream text, line text, logged_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    log_day date;
BEGIN
    IF skip_lines IS NULL OR skip_lines < 0 THEN
        RAISE EXCEPTION 'skip_lines: must be 0 or more, got %', skip_lines USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF limit_lines IS NULL OR limit_lines < 1 OR limit_lines > 100000 THEN
        RAISE EXCEPTION 'limit_lines: must be between 1 and 100000, got %', limit_lines USING ERRCODE = 'invalid_parameter_value';
    END IF;
    log_day := sched._log_day(principal, task_instance_id);
    RETURN QUERY
        SELECT l.line_no, l.stream::text, l.line, l.logged_at FROM sched.task_log_line l
        WHERE l.task_instance_id = _log_page.task_instance_id AND l.day = log_day
        ORDER BY l.line_no
        OFFSET skip_lines LIMIT limit_lines;
END
$$;
COMMENT ON FUNCTION sched._log_page(regrole, bigint, integer, integer) IS
    'Internal: a page of an attempt''s log lines with their streams, once the principal is allowed to read them.';

CREATE FUNCTION sched._task_log(principal regrole, task_instance_id bigint, skip_lines integer, limit_lines integer)
RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT p.line FROM sched._log_page(principal, task_instance_id, skip_lines, limit_lines) p $$;
COMMENT ON FUNCTION sched.task_log(bigint, integer, integer) IS
    'The output lines (stdout and stderr) of a task attempt, in order; page with skip_lines and limit_lines.';

CREATE FUNCTION sched.task_log_lines(task_instance_id bigint, skip_lines integer DEFAULT 0, limit_lines integer DEFAULT 1000)
RETURNS TABLE (line_no integer, stream text, line text, logged_at timestamptz)
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._task_log_lines(principal regrole, task_instance_id bigint, skip_lines integer, limit_lines integer)
RETURNS TABLE (line_no integer, stream text, line text, logged_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM sched._log_page(principal, task_instance_id, skip_lines, limit_lines) $$;
COMMENT ON FUNCTION sched.task_log_lines(bigint, integer, integer) IS
    'The output lines of a task attempt in the order the worker read them, each with its stream: out (stdout) or err (stderr, and the worker''s own lines about the attempt); page with skip_lines and limit_lines as with sched.task_log.';

CREATE FUNCTION sched.task_log_tail(task_instance_id bigint, lines integer DEFAULT 100)
RETURNS SETOF text
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._task_log_tail(principal regrole, task_instance_id bigint, lines integer)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    log_day date;
BEGIN
    IF lines IS NULL OR lines < 1 OR lines > 100000 THEN
        RAISE EXCEPTION 'lines: must be between 1 and 100000, got %', lines USING ERRCODE = 'invalid_parameter_value';
    END IF;
    log_day := sched._log_day(principal, task_instance_id);
    RETURN QUERY
        SELECT t.line FROM (
            SELECT l.line_no, l.line FROM sched.task_log_line l
            WHERE l.task_instance_id = _task_log_tail.task_instance_id AND l.day = log_day
            ORDER BY l.line_no DESC LIMIT lines) t
        ORDER BY t.line_no;
END
$$;
COMMENT ON FUNCTION sched.task_log_tail(bigint, integer) IS
    'The last lines (default 100) of a task attempt''s output, in order.';

CREATE FUNCTION sched.task_log_text(task_instance_id bigint) RETURNS text
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._task_log_text(principal regrole, task_instance_id bigint) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    log_day date;
BEGIN
    log_day := sched._log_day(principal, task_instance_id);
    RETURN coalesce((SELECT string_agg(l.line || E'\n', '' ORDER BY l.line_no) FROM sched.task_log_line l
                     WHERE l.task_instance_id = _task_log_text.task_instance_id AND l.day = log_day), '');
END
$$;
COMMENT ON FUNCTION sched.task_log_text(bigint) IS
    'The whole output of a task attempt as one text, a newline after each line (psql: \copy (SELECT sched.task_log_text(id)) TO ''task.log'' for a download).';

CREATE FUNCTION sched.task_log_follow(task_instance_id bigint, after_line integer DEFAULT 0, wait interval DEFAULT '10 s')
RETURNS TABLE (line_no integer, line text, stream text)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- Each statement of a volatile function takes a new snapshot, so the loop sees lines as
-- workers store them; it reads only lines past the cursor, through the primary key.
CREATE FUNCTION sched._task_log_follow(principal regrole, task_instance_id bigint, after_line integer, wait interval)
RETURNS TABLE (line_no integer, line text, stream text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    log_day  date;
    deadline timestamptz;
    pause    double precision := 0.005;
    found_any boolean;
BEGIN
    IF after_line IS NULL OR after_line < 0 THEN
        RAISE EXCEPTION 'after_line: must be 0 or more, got %', after_line USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF wait IS NULL OR wait < interval '0' OR wait > interval '1 hour' THEN
        RAISE EXCEPTION 'wait: must be between 0 and 1 hour, got %', wait USING ERRCODE = 'invalid_parameter_value';
    END IF;
    log_day := sched._log_day(principal, task_instance_id);
    deadline := clock_timestamp() + wait;
    LOOP
        RETURN QUERY
            SELECT l.line_no, l.line, l.stream::text FROM sched.task_log_line l
            WHERE l.task_instance_id = _task_log_follow.task_instance_id AND l.day = log_day
              AND l.line_no > after_line
            ORDER BY l.line_no LIMIT 10000;
        found_any := FOUND;
        -- Something new, the attempt has ended (its lines are all stored then), or time is up.
        EXIT WHEN found_any OR clock_timestamp() >= deadline OR NOT EXISTS (
            SELECT 1 FROM sched.task_instance ti
            WHERE ti.id = _task_log_follow.task_instance_id AND ti.state = ANY(sched._task_states_active()));
        PERFORM pg_sleep(greatest(0, least(pause, extract(epoch FROM deadline - clock_timestamp()))));
        pause := least(pause * 2, 0.1);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched.task_log_follow(bigint, integer, interval) IS
    'Follows a task attempt''s output: the lines after line number after_line (up to 10,000) with their stream (out or err), waiting up to wait (default 10 s) for some while the attempt is active. Call again with the last line_no returned; an empty result for an attempt that has ended means its log is complete.';
