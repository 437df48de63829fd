-- API tokens (DolphinScheduler's Open API tokens): a secret a program sends to the console's
-- HTTP API as `Authorization: Bearer`, acting as the role that created it (7_api/api_tokens.sql).
-- Only a hash is kept: the token itself is shown once, by sched.create_api_token.

CREATE TABLE sched.api_token (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner        regrole NOT NULL,
    owner_name   text NOT NULL,
    name         text NOT NULL,
    hash         bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
-- A revoked token keeps its row (when it was revoked, and when last used), and its name is free.
CREATE UNIQUE INDEX api_token_name ON sched.api_token (owner, name) WHERE revoked_at IS NULL;
COMMENT ON TABLE sched.api_token IS 'API tokens, by their hash; read through sched.api_tokens.';
COMMENT ON COLUMN sched.api_token.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.api_token.owner IS 'Role that created it, and that the API acts as for it.';
COMMENT ON COLUMN sched.api_token.owner_name IS 'Its owner''s name when it was created: a token is refused once its role was dropped (a new role may get the old one''s oid) or renamed.';
COMMENT ON COLUMN sched.api_token.name IS 'Its name, unique among its owner''s tokens that are not revoked.';
COMMENT ON COLUMN sched.api_token.hash IS 'SHA-256 of the token: the token itself is kept nowhere.';
COMMENT ON COLUMN sched.api_token.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.api_token.expires_at IS 'From then on it is refused (infinity: never).';
COMMENT ON COLUMN sched.api_token.revoked_at IS 'When it was revoked; refused since. NULL while not revoked.';
COMMENT ON COLUMN sched.api_token.last_used_at IS 'When the API last acted for it.';
