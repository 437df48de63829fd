-- Alert delivery: workers started with --alerts claim deliveries with SKIP LOCKED, send them,
-- and report, retrying failures with a doubling delay up to sched.alert_max_attempts. No
-- worker's task loop waits for any of it. How long a claimed delivery stays its worker's is
-- sched._alert_claim_lapse (3_engine/alerts.sql).

-- Worker protocol. Claims due deliveries for a worker started with --alerts: each becomes
-- this worker's until its claim lapses, and counts an attempt.
CREATE FUNCTION sched.claim_alerts(worker_id bigint, max_alerts integer DEFAULT 10)
RETURNS TABLE (alert_id bigint, channel_no integer, channel jsonb, attempt integer, event text,
               workflow_instance_id bigint, task_instance_id bigint, title text, message text, details jsonb,
               created_at timestamptz)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._claim_alerts(principal regrole, worker_id bigint, max_alerts integer)
RETURNS TABLE (alert_id bigint, channel_no integer, channel jsonb, attempt integer, event text,
               workflow_instance_id bigint, task_instance_id bigint, title text, message text, details jsonb,
               created_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    most integer := current_setting('sched.alert_max_attempts')::integer;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    -- A claim that lapsed after the last attempt: its worker went away mid-send.
    UPDATE sched.alert_delivery d
       SET state = 'failed', last_error = coalesce(d.last_error || '; ', '') || 'the worker sending the last attempt went away'
     WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND d.attempts >= most;
    RETURN QUERY
    WITH due AS (
        SELECT d.alert_id, d.channel_no FROM sched.alert_delivery d
         WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND d.attempts < most
         ORDER BY d.next_attempt_at
         LIMIT greatest(1, least(coalesce(max_alerts, 10), 1000))
         FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE sched.alert_delivery d
           SET attempts = d.attempts + 1, next_attempt_at = now() + sched._alert_claim_lapse(),
               worker_id = _claim_alerts.worker_id
          FROM due
         WHERE d.alert_id = due.alert_id AND d.channel_no = due.channel_no
        RETURNING d.alert_id, d.channel_no, d.channel, d.attempts)
    -- 0 for a test, which concerns no instance: the protocol's column has always been set.
    SELECT c.alert_id, c.channel_no, c.channel, c.attempts, a.event, coalesce(a.workflow_instance_id, 0), a.task_instance_id,
           a.title, a.message, a.details, a.created_at
      FROM claimed c JOIN sched.alert a ON a.id = c.alert_id
     ORDER BY c.alert_id, c.channel_no;
END
$$;
COMMENT ON FUNCTION sched.claim_alerts(bigint, integer) IS
    'Worker protocol: claims up to max_alerts due alert deliveries (SKIP LOCKED), each with its channel and content (workflow_instance_id 0 for a test of the group); a claim lapses after 2 minutes.';

CREATE FUNCTION sched.report_alerts(worker_id bigint, alert_ids bigint[], channel_nos integer[], errors text[])
RETURNS timestamptz
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._report_alerts(principal regrole, worker_id bigint, alert_ids bigint[], channel_nos integer[], errors text[])
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    most  integer := current_setting('sched.alert_max_attempts')::integer;
    delay interval := current_setting('sched.alert_retry_delay')::interval;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    IF cardinality(alert_ids) IS DISTINCT FROM cardinality(channel_nos)
       OR cardinality(alert_ids) IS DISTINCT FROM cardinality(errors) THEN
        RAISE EXCEPTION 'alert_ids, channel_nos and errors must have the same length' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE sched.alert_delivery d
       SET state = CASE WHEN r.error IS NULL THEN 'sent' WHEN d.attempts >= most THEN 'failed' ELSE 'pending' END,
           sent_at = CASE WHEN r.error IS NULL THEN now() END,
           last_error = left(r.error, 2000),
           -- 1, 2, 4, ... times the delay, at most an hour.
           next_attempt_at = CASE WHEN r.error IS NULL OR d.attempts >= most THEN d.next_attempt_at
                                  ELSE now() + least(delay * power(2, d.attempts - 1), interval '1 hour') END
      FROM unnest(alert_ids, channel_nos, errors) AS r(alert_id, channel_no, error)
     WHERE d.alert_id = r.alert_id AND d.channel_no = r.channel_no
       AND d.worker_id = _report_alerts.worker_id AND d.state = 'pending';
    RETURN (SELECT min(d.next_attempt_at) FROM sched.alert_delivery d WHERE d.state = 'pending');
END
$$;
COMMENT ON FUNCTION sched.report_alerts(bigint, bigint[], integer[], text[]) IS
    'Worker protocol: reports claimed deliveries sent (error NULL) or failed (the error); a failure is retried after sched.alert_retry_delay, doubling per attempt, until sched.alert_max_attempts. Returns when the next pending delivery is due (NULL for none).';
