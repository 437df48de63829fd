-- API tokens (1_schema/66_api_tokens.sql): create, revoke, and the check the console's token
-- connection makes before each request it serves for one (sched.assume_api_token, a Rust
-- function in extension/src/api_token.rs, calls _api_token_role).
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.create_api_token(name text, expires timestamptz DEFAULT pg_catalog.now() + interval '90 days') RETURNS text
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_api_token(principal regrole, name text, expires timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- gen_random_uuid draws from the operating system's strong random source: two of them
    -- give 244 random bits.
    token text := 'pgs_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
BEGIN
    PERFORM sched._check_name(name, 'name', 'token name');
    IF expires IS NULL OR expires <= now() THEN
        RAISE EXCEPTION 'expires: must be a time in the future (''infinity'' for a token that never expires), got %',
                        coalesce(expires::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = principal) THEN
        RAISE EXCEPTION 'a superuser cannot create API tokens: whoever held one would be superuser'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Create the token as a role with only the rights the program needs.';
    END IF;
    IF EXISTS (SELECT 1 FROM sched.api_token t
               WHERE t.owner = principal AND t.name = _create_api_token.name AND t.revoked_at IS NULL) THEN
        RAISE EXCEPTION 'name: you already have a token "%"; revoke it (sched.revoke_api_token) or choose another name', name
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO sched.api_token (owner, owner_name, name, hash, expires_at)
    VALUES (principal, sched._role_name(principal), name, sha256(convert_to(token, 'UTF8')), expires);
    RETURN token;
END
$$;
COMMENT ON FUNCTION sched.create_api_token(text, timestamptz) IS
    'Creates an API token for the console''s HTTP API (Authorization: Bearer <token>), which acts as you, with your rights, until it expires (default in 90 days; ''infinity'': never) or is revoked. Returns the token: it is shown only this once (only its hash is kept).';

CREATE FUNCTION sched.revoke_api_token(name text, owner regrole DEFAULT NULL) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._revoke_api_token(principal regrole, name text, owner regrole) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    whose regrole := coalesce(owner, principal);
BEGIN
    PERFORM sched._check_owner(principal, whose, format('API tokens of %s', whose));
    UPDATE sched.api_token t SET revoked_at = now()
     WHERE t.owner = whose AND t.name = _revoke_api_token.name AND t.revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name: % has no token "%" that is not revoked; sched.api_tokens lists them', whose, name
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION sched.revoke_api_token(text, regrole) IS
    'Revokes an API token by name: the API refuses it from the next request on. owner: whose token (default your own; another role''s needs sched_admin).';

-- What the console's token connection learns of a token: the role to act as, or why not. The
-- same checks as signing in with a password (the role exists, may log in and its password
-- has not expired), and the token's own (not revoked, not expired).
CREATE FUNCTION sched._api_token_role(token text, OUT role regrole, OUT refused text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t sched.api_token;
    r pg_roles;
BEGIN
    IF NOT pg_has_role(session_user, 'sched_api', 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied for API tokens'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only a session of a member of sched_api may act for a token.';
    END IF;
    SELECT * INTO t FROM sched.api_token at WHERE at.hash = sha256(convert_to(token, 'UTF8'));
    SELECT * INTO r FROM pg_roles rr WHERE rr.oid = t.owner;
    refused := CASE
        WHEN t.id IS NULL THEN 'not a token of this database'
        WHEN t.revoked_at IS NOT NULL THEN format('token "%s" was revoked at %s', t.name, t.revoked_at)
        WHEN t.expires_at <= now() THEN format('token "%s" expired at %s', t.name, t.expires_at)
        WHEN r.rolname IS DISTINCT FROM t.owner_name THEN format('role %s of token "%s" was dropped or renamed', t.owner_name, t.name)
        WHEN NOT r.rolcanlogin THEN format('role %s may not log in', r.rolname)
        WHEN r.rolvaliduntil <= now() THEN format('the password of role %s expired at %s', r.rolname, r.rolvaliduntil)
        WHEN r.rolsuper THEN format('role %s is a superuser', r.rolname)
    END;
    IF refused IS NULL THEN
        role := t.owner;
        -- To the minute: an API busy with one token does not rewrite its row on every request.
        UPDATE sched.api_token at SET last_used_at = now()
         WHERE at.id = t.id AND (at.last_used_at IS NULL OR at.last_used_at < now() - interval '1 minute');
    END IF;
END
$$;
COMMENT ON FUNCTION sched._api_token_role(text) IS
    'Internal: the role a valid API token acts as, or why the token is refused; for sessions of members of sched_api (sched.assume_api_token calls it).';

COMMENT ON FUNCTION sched.assume_api_token(text) IS
    'For the console''s token connection (a session of a member of sched_api): checks an API token and makes its creator the current role of this session, as SET ROLE would, until the next call or RESET ROLE. Refused for an unknown, revoked or expired token, and inside a SECURITY DEFINER function.';
