-- Views for people and BI tools (see 6_views/task_groups.sql for what every view shows).
--
-- This file: API tokens.

CREATE VIEW sched.api_tokens WITH (security_barrier) AS
SELECT t.id, t.name, t.owner::text AS owner, t.created_at, t.expires_at, t.revoked_at, t.last_used_at,
       t.revoked_at IS NULL AND t.expires_at > pg_catalog.now() AS valid
FROM sched.api_token t
WHERE t.owner = current_user::regrole OR pg_catalog.pg_has_role('sched_admin', 'MEMBER');
COMMENT ON VIEW sched.api_tokens IS 'Your API tokens (all of them for sched_admin), never the tokens themselves.';
COMMENT ON COLUMN sched.api_tokens.id IS 'Token id.';
COMMENT ON COLUMN sched.api_tokens.name IS 'Its name, unique among its owner''s tokens.';
COMMENT ON COLUMN sched.api_tokens.owner IS 'Role that created it, and that the API acts as for it.';
COMMENT ON COLUMN sched.api_tokens.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.api_tokens.expires_at IS 'From then on it is refused (infinity: never).';
COMMENT ON COLUMN sched.api_tokens.revoked_at IS 'When it was revoked; NULL while not revoked.';
COMMENT ON COLUMN sched.api_tokens.last_used_at IS 'When the API last acted for it.';
COMMENT ON COLUMN sched.api_tokens.valid IS 'Neither revoked nor expired: the API accepts it.';
