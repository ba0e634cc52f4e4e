-- Runboard's PostgreSQL schema: the same schema as SQLite's migrations 0001–0017
-- (migrations/0*.sql) applied in order, for the PostgreSQL backend.
--
-- Types, one rule each: INTEGER -> BIGINT (0/1 flags stay BIGINT with their CHECK),
-- TEXT -> TEXT (JSON included), BLOB -> BYTEA, REAL -> DOUBLE PRECISION. Timestamps are
-- BIGINT milliseconds since the Unix epoch (UTC). A rowid key the code leaves out
-- is an identity column (BY DEFAULT, so explicit keys still insert).
--
-- PostgreSQL only: full text is a generated `search tsvector` column (last) on
-- runs and on events, with the GIN indexes runs_search and events_search.
-- SQLite only: the FTS5 tables (runs_fts, event_text_1 and their shadow tables),
-- the event_text view and the pieces' bookkeeping (event_text_pieces,
-- event_text_gone), with the triggers that feed them.
--
-- Every other trigger is here as a PL/pgSQL function `<trigger>_fn` and a trigger
-- with SQLite's timing, events, WHEN and effect. The `sqlite_*` functions below
-- give the values SQLite's JSON functions and casts give, so that both backends
-- keep the same rollups from the same data.

-- SQLite semantics ------------------------------------------------------------

-- json_valid(X): X is well-formed JSON (NULL for NULL, so a CHECK passes).
CREATE FUNCTION json_valid(doc text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    PERFORM doc::json;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END $$;

-- The first member `key` of the JSON object `doc` (SQLite's json_extract(doc, '$.key')
-- takes the first of duplicate keys); NULL when there is none.
CREATE FUNCTION sqlite_json_member(doc text, key text) RETURNS json
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT m.value FROM json_each(CASE WHEN json_typeof(doc::json) = 'object' THEN doc::json END)
        WITH ORDINALITY AS m (key, value, n)
    WHERE m.key = sqlite_json_member.key ORDER BY m.n LIMIT 1
$$;

-- A decimal number's double, out-of-range values to infinity or zero as SQLite's.
CREATE FUNCTION sqlite_real(t text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN t::double precision;
EXCEPTION WHEN numeric_value_out_of_range THEN
    RETURN (CASE WHEN t ~ '^\s*-' THEN '-' ELSE '' END
            || CASE WHEN t ~ '[eE]-' THEN '0' ELSE 'Infinity' END)::double precision;
END $$;

-- CAST(json_extract(doc, '$.key') AS INTEGER): numbers truncated and saturated,
-- strings by their leading integer (else 0), true 1, false 0, objects and arrays 0.
CREATE FUNCTION sqlite_json_int(doc text, key text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    v json := sqlite_json_member(doc, key);
    t text;
    n numeric;
    d double precision;
BEGIN
    CASE json_typeof(v)
    WHEN 'number' THEN
        t := v::text;
        IF t ~ '^-?[0-9]+$' THEN
            n := t::numeric;
        ELSE
            d := sqlite_real(t);
            RETURN CASE WHEN d >= 9223372036854775807::double precision THEN 9223372036854775807
                        WHEN d <= -9223372036854775808::double precision THEN -9223372036854775808
                        ELSE trunc(d)::bigint END;
        END IF;
    WHEN 'string' THEN
        n := coalesce(substring(v #>> '{}' FROM '^[ \t\n\v\f\r]*([+-]?[0-9]+)')::numeric, 0);
    WHEN 'boolean' THEN
        RETURN CASE WHEN v::text = 'true' THEN 1 ELSE 0 END;
    WHEN 'object', 'array' THEN
        RETURN 0;
    ELSE
        RETURN NULL;
    END CASE;
    RETURN greatest(least(n, 9223372036854775807), -9223372036854775808)::bigint;
END $$;

-- CAST(json_extract(doc, '$.key') AS REAL): strings by their leading number (else 0).
CREATE FUNCTION sqlite_json_real(doc text, key text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    v json := sqlite_json_member(doc, key);
BEGIN
    RETURN CASE json_typeof(v)
        WHEN 'number' THEN CASE WHEN v::text ~ '^-?[0-9]{1,18}$' THEN v::text::bigint::double precision
                                ELSE sqlite_real(v::text) END
        WHEN 'string' THEN coalesce(sqlite_real(substring(v #>> '{}'
            FROM '^[ \t\n\v\f\r]*([+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)')),
            CASE WHEN v #>> '{}' ~ '^[ \t\n\v\f\r]*-' THEN '-0' ELSE '0' END::double precision)
        WHEN 'boolean' THEN CASE WHEN v::text = 'true' THEN 1 ELSE 0 END
        WHEN 'object' THEN 0
        WHEN 'array' THEN 0
    END;
END $$;

-- json_extract(doc, '$.key') as a TEXT column stores it: strings as themselves,
-- integers in decimal, true '1', false '0', other numbers as SQLite prints a REAL
-- (printf '%!.15g'), objects and arrays as JSON without whitespace.
CREATE FUNCTION sqlite_json_text(doc text, key text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    v json := sqlite_json_member(doc, key);
    t text;
    d double precision;
    n numeric;
    e integer;
BEGIN
    CASE json_typeof(v)
    WHEN 'string' THEN
        RETURN v #>> '{}';
    WHEN 'boolean' THEN
        RETURN CASE WHEN v::text = 'true' THEN '1' ELSE '0' END;
    WHEN 'object', 'array' THEN
        RETURN regexp_replace(v::text, '("(?:[^"\\]|\\.)*")|[ \t\n\r]+', '\1', 'g');
    WHEN 'number' THEN
        t := v::text;
        IF t ~ '^-?[0-9]+$' AND t::numeric BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
            RETURN t::bigint::text;
        END IF;
        d := sqlite_real(t);
        IF d = 'Infinity' THEN RETURN 'Inf'; END IF;
        IF d = '-Infinity' THEN RETURN '-Inf'; END IF;
        n := d::numeric;  -- PostgreSQL converts with 15 significant digits, as %.15g
        e := CASE WHEN n = 0 THEN 0 ELSE floor(log(abs(n)))::integer END;
        IF e < -4 OR e >= 15 THEN
            n := CASE WHEN e < 0 THEN n * 10::numeric ^ (-e) ELSE n / 10::numeric ^ e END;
            t := rtrim(round(n, 14)::text, '0');
            RETURN t || CASE WHEN t LIKE '%.' THEN '0' ELSE '' END
                || 'e' || CASE WHEN e < 0 THEN '-' ELSE '+' END
                || CASE WHEN abs(e) < 10 THEN '0' ELSE '' END || abs(e);
        END IF;
        t := n::text;
        IF t LIKE '%.%' THEN
            t := rtrim(t, '0');
        ELSE
            t := t || '.';
        END IF;
        RETURN t || CASE WHEN t LIKE '%.' THEN '0' ELSE '' END;
    ELSE
        RETURN NULL;
    END CASE;
END $$;

-- sum() over REAL values as SQLite sums them (Kahan–Babuška–Neumaier).
CREATE FUNCTION sqlite_sum_step(state double precision[], x double precision)
RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN x IS NULL THEN state
                WHEN state IS NULL THEN ARRAY[x, 0]
                ELSE ARRAY[state[1] + x, state[2] + CASE WHEN abs(state[1]) > abs(x)
                    THEN (state[1] - (state[1] + x)) + x ELSE (x - (state[1] + x)) + state[1] END]
           END
$$;
CREATE FUNCTION sqlite_sum_final(state double precision[]) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN state[2] IN ('Infinity', '-Infinity', 'NaN') THEN state[1]
                ELSE state[1] + state[2] END
$$;
CREATE AGGREGATE sqlite_sum(double precision) (
    SFUNC = sqlite_sum_step, STYPE = double precision[], FINALFUNC = sqlite_sum_final
);

-- Accounts, users, sessions, tokens, settings -----------------------------------

CREATE TABLE accounts (
    pk             BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    -- HMAC key for signing webhook deliveries of this account.
    webhook_secret TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL
);

CREATE TABLE users (
    pk            BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    account_pk    BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    -- Stored lower-cased; login is case-insensitive on email.
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'member', 'viewer')),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    -- Raised by a password or role change and a removal: ends sessions and JWTs.
    auth_epoch    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX users_account ON users (account_pk);

-- Browser sessions (tower-sessions), as SQLite's table.
CREATE TABLE IF NOT EXISTS tower_sessions (
    id          TEXT    PRIMARY KEY NOT NULL,
    data        BYTEA   NOT NULL,
    expiry_date BIGINT  NOT NULL
);
CREATE INDEX IF NOT EXISTS tower_sessions_expiry ON tower_sessions (expiry_date);

-- Named owner API tokens: only a SHA-256 of the token is stored.
CREATE TABLE api_tokens (
    pk           BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    account_pk   BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    user_pk      BIGINT  NOT NULL REFERENCES users (pk) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    -- First characters of the token, shown in lists so that a token can be recognised.
    prefix       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    expires_at   BIGINT
);
CREATE INDEX api_tokens_account ON api_tokens (account_pk, created_at);
CREATE INDEX api_tokens_user ON api_tokens (user_pk, created_at);

-- Server-wide settings, e.g. a generated runner-token secret.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- One-time links that let a user added without a password set one (SHA-256 only).
CREATE TABLE invites (
    pk         BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_pk    BIGINT  NOT NULL REFERENCES users (pk) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX invites_user ON invites (user_pk);

-- Every mutation by a person or an API token; `actor` keeps the email of the time.
CREATE TABLE audit_log (
    pk            BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    account_pk    BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    actor_user_pk BIGINT  REFERENCES users (pk) ON DELETE SET NULL,
    actor         TEXT    NOT NULL,
    via           TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    target_type   TEXT,
    target_id     TEXT,
    detail        TEXT,
    ip            TEXT
);
CREATE INDEX audit_log_account ON audit_log (account_pk, pk);
CREATE INDEX audit_log_account_action ON audit_log (account_pk, action, pk);
CREATE INDEX audit_log_account_actor ON audit_log (account_pk, actor, pk);

-- Agents, campaigns, runs ------------------------------------------------------

CREATE TABLE agents (
    pk                     BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    account_pk             BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    slug                   TEXT    NOT NULL,
    name                   TEXT,
    description            TEXT,
    dispatch_url           TEXT,
    created_at             BIGINT  NOT NULL,
    updated_at             BIGINT  NOT NULL,
    -- Limits in seconds (NULL: off).
    heartbeat_timeout_secs BIGINT  DEFAULT 600,
    max_runtime_secs       BIGINT,
    queue_timeout_secs     BIGINT,
    max_attempts           BIGINT,
    lease_secs             BIGINT  DEFAULT 60,
    UNIQUE (account_pk, slug)
);

CREATE TABLE campaigns (
    pk            BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    account_pk    BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'live', 'failed')),
    bundle_url    TEXT,
    -- No foreign key: runs reference campaigns, and a deleted run must not be blocked.
    latest_run_pk BIGINT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX campaigns_account_created ON campaigns (account_pk, created_at);

CREATE TABLE runs (
    pk                  BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    -- UUID v7: time-sortable public id.
    id                  TEXT    NOT NULL UNIQUE,
    account_pk          BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    agent_pk            BIGINT  NOT NULL REFERENCES agents (pk),
    campaign_pk         BIGINT  REFERENCES campaigns (pk) ON DELETE SET NULL,
    status              TEXT    NOT NULL DEFAULT 'requested'
                        CHECK (status IN ('requested', 'queued', 'running', 'completed', 'failed', 'cancelled')),
    progress            DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    initiator           TEXT,
    summary             TEXT,
    input               TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(input)),
    context             TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(context)),
    error_code          TEXT,
    error_message       TEXT,
    error_details       TEXT    CHECK (error_details IS NULL OR json_valid(error_details)),
    created_at          BIGINT  NOT NULL,
    started_at          BIGINT,
    completed_at        BIGINT,
    updated_at          BIGINT  NOT NULL,
    duration_ms         BIGINT,
    webhook_url         TEXT,
    webhook_status      TEXT    NOT NULL DEFAULT 'none'
                        CHECK (webhook_status IN ('none', 'pending', 'delivered', 'failed')),
    retry_of_pk         BIGINT  REFERENCES runs (pk) ON DELETE SET NULL,
    attempt             BIGINT  NOT NULL DEFAULT 1,
    -- Sequence number of the last event; the next event gets event_seq + 1.
    event_seq           BIGINT  NOT NULL DEFAULT 0,
    -- The runner's last callback, a claimed run's lease, when a retry is due.
    last_seen_at        BIGINT,
    lease_expires_at    BIGINT,
    retry_at            BIGINT,
    -- A pinned run is never pruned, nor its events or artifacts.
    pinned              BIGINT  NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    events_pruned_at    BIGINT,
    artifacts_pruned_at BIGINT,
    -- The run's tags as given (a JSON array of strings); `run_tags` answers `tag:`.
    tags                TEXT    CHECK (tags IS NULL OR json_valid(tags)),
    -- PostgreSQL only: full text over summary, input and error message.
    search              tsvector GENERATED ALWAYS AS (to_tsvector('simple',
                            coalesce(summary, '') || ' ' || coalesce(input, '') || ' ' ||
                            coalesce(error_message, ''))) STORED
);
-- One index per list filter, each ending in created_at for newest-first keyset pages.
CREATE INDEX runs_account_created   ON runs (account_pk, created_at, status);
CREATE INDEX runs_account_status    ON runs (account_pk, status, created_at);
CREATE INDEX runs_account_agent     ON runs (account_pk, agent_pk, created_at);
CREATE INDEX runs_account_agent_st  ON runs (account_pk, agent_pk, status, created_at);
CREATE INDEX runs_account_campaign  ON runs (account_pk, campaign_pk, created_at);
CREATE INDEX runs_account_initiator ON runs (account_pk, initiator, created_at);
CREATE INDEX runs_account_duration  ON runs (account_pk, duration_ms);
CREATE INDEX runs_retry_of          ON runs (retry_of_pk) WHERE retry_of_pk IS NOT NULL;
CREATE INDEX runs_claimable         ON runs (agent_pk, created_at) WHERE status = 'requested';
CREATE INDEX runs_running_seen      ON runs (agent_pk, last_seen_at) WHERE status = 'running';
CREATE INDEX runs_running_started   ON runs (agent_pk, started_at)   WHERE status = 'running';
CREATE INDEX runs_waiting           ON runs (agent_pk, created_at)
    WHERE status IN ('requested', 'queued');
CREATE INDEX runs_lease_expiry      ON runs (lease_expires_at)
    WHERE status = 'queued' AND lease_expires_at IS NOT NULL;
CREATE INDEX runs_retry_due         ON runs (retry_at) WHERE retry_at IS NOT NULL;
CREATE INDEX runs_events_kept       ON runs (agent_pk, created_at) WHERE events_pruned_at IS NULL;
CREATE INDEX runs_artifacts_kept    ON runs (agent_pk, created_at) WHERE artifacts_pruned_at IS NULL;
CREATE INDEX runs_account_error     ON runs (account_pk, error_code, created_at)
    WHERE error_code IS NOT NULL;
CREATE INDEX runs_account_progress  ON runs (account_pk, progress);
CREATE INDEX runs_account_completed ON runs (account_pk, completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX runs_search            ON runs USING gin (search);

-- Every scalar leaf of a run's input as (path, value), for index lookups on input fields.
CREATE TABLE run_input_fields (
    run_pk     BIGINT  NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    account_pk BIGINT  NOT NULL,
    path       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (account_pk, path, value, created_at, run_pk)
);
CREATE INDEX run_input_fields_ci ON run_input_fields (account_pk, path, lower(value), created_at);
CREATE INDEX run_input_fields_run ON run_input_fields (run_pk);

-- One row per (run, tag), keyed like run_input_fields.
CREATE TABLE run_tags (
    run_pk     BIGINT  NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    account_pk BIGINT  NOT NULL,
    tag        TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (account_pk, tag, created_at, run_pk)
);
CREATE INDEX run_tags_run ON run_tags (run_pk);

-- Steps: one row per (stepId, attempt), so a retried step keeps its earlier attempts.
CREATE TABLE steps (
    pk                  BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    run_pk              BIGINT  NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    step_id             TEXT    NOT NULL,
    attempt             BIGINT  NOT NULL DEFAULT 1,
    idx                 BIGINT  NOT NULL DEFAULT 0,
    name                TEXT,
    skill_id            TEXT,
    status              TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped')),
    cache_hit           BIGINT  NOT NULL DEFAULT 0 CHECK (cache_hit IN (0, 1)),
    started_at          BIGINT,
    ended_at            BIGINT,
    duration_ms         BIGINT,
    output_preview      TEXT,
    error               TEXT    CHECK (error IS NULL OR json_valid(error)),
    output_artifact_ids TEXT    CHECK (output_artifact_ids IS NULL OR json_valid(output_artifact_ids)),
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    UNIQUE (run_pk, step_id, attempt)
);
CREATE INDEX steps_run_order ON steps (run_pk, idx, attempt);

-- Events: the big table, read by run in sequence order. `id` is the public UUID as
-- 16 bytes; `client_id` is the runner's own id, unique per run (idempotent retries).
CREATE TABLE events (
    pk         BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    run_pk     BIGINT  NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    seq        BIGINT  NOT NULL,
    id         BYTEA   NOT NULL,
    client_id  TEXT,
    event_type TEXT    NOT NULL,
    message    TEXT,
    metadata   TEXT    CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at BIGINT  NOT NULL,
    -- PostgreSQL only: full text over the message.
    search     tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(message, ''))) STORED
);
CREATE UNIQUE INDEX events_run_seq ON events (run_pk, seq);
CREATE UNIQUE INDEX events_run_client_id ON events (run_pk, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX events_run_type ON events (run_pk, event_type, seq);
CREATE INDEX events_search ON events USING gin (search);

-- A retried event batch answers as the first time: the first answer is kept by key.
CREATE TABLE idempotency_keys (
    run_pk     BIGINT  NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    response   TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (run_pk, key)
);

CREATE TABLE artifacts (
    pk            BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    run_pk        BIGINT  NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    step_pk       BIGINT  REFERENCES steps (pk) ON DELETE SET NULL,
    name          TEXT,
    artifact_type TEXT    NOT NULL,
    content_type  TEXT,
    size_bytes    BIGINT,
    sha256        TEXT,
    -- Generated or validated by the server; never a client-chosen filesystem path.
    storage_key   TEXT,
    -- 1 when Runboard holds the bytes in its own store, so deleting the run deletes the file.
    stored        BIGINT  NOT NULL DEFAULT 0 CHECK (stored IN (0, 1)),
    url           TEXT,
    inline_text   TEXT,
    metadata      TEXT    CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at    BIGINT  NOT NULL
);
CREATE INDEX artifacts_run ON artifacts (run_pk, created_at);
CREATE INDEX artifacts_step ON artifacts (step_pk) WHERE step_pk IS NOT NULL;

-- Durable change log behind the live stream (Last-Event-ID replays by seq).
CREATE TABLE changes (
    seq        BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    account_pk BIGINT  NOT NULL,
    run_id     TEXT,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX changes_account_seq ON changes (account_pk, seq);

-- Run counts per account, UTC day, agent and status: kept by the code, in the
-- transactions that create runs, change their status and delete them.
CREATE TABLE run_counts (
    account_pk BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    day        BIGINT  NOT NULL,
    agent_pk   BIGINT  NOT NULL,
    status     TEXT    NOT NULL,
    count      BIGINT  NOT NULL,
    PRIMARY KEY (account_pk, day, agent_pk, status)
);

-- Retention, views, bulk jobs -------------------------------------------------

-- An account's retention policy (JSON); no row: everything is kept.
CREATE TABLE retention_policies (
    account_pk BIGINT  PRIMARY KEY REFERENCES accounts (pk) ON DELETE CASCADE,
    policy     TEXT    NOT NULL CHECK (json_valid(policy)),
    updated_at BIGINT  NOT NULL
);

-- Stored artifact files whose rows are gone, until the file is deleted.
CREATE TABLE storage_trash (
    storage_key TEXT    PRIMARY KEY NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- What each prune removed from an account.
CREATE TABLE prune_reports (
    pk              BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    account_pk      BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    started_at      BIGINT  NOT NULL,
    finished_at     BIGINT  NOT NULL,
    -- `server` (the background task) or `cli` (`runboard prune`).
    origin          TEXT    NOT NULL,
    runs            BIGINT  NOT NULL,
    events          BIGINT  NOT NULL,
    artifacts       BIGINT  NOT NULL,
    artifact_bytes  BIGINT  NOT NULL,
    event_logs      BIGINT  NOT NULL,
    artifact_sets   BIGINT  NOT NULL,
    -- The whole pass, every account's work included.
    changes         BIGINT  NOT NULL,
    files           BIGINT  NOT NULL,
    transactions    BIGINT  NOT NULL,
    longest_hold_ms BIGINT  NOT NULL
);
CREATE INDEX prune_reports_account ON prune_reports (account_pk, pk);

-- The last count of rows and artifact bytes: one row, pk 1 (given by the code).
CREATE TABLE storage_census (
    pk          BIGINT  PRIMARY KEY CHECK (pk = 1),
    counted_at  BIGINT  NOT NULL,
    duration_ms BIGINT  NOT NULL,
    census      TEXT    NOT NULL CHECK (json_valid(census))
);

-- A named query of the runs list, private or shared with the account.
CREATE TABLE saved_views (
    pk         BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    account_pk BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    user_pk    BIGINT  NOT NULL REFERENCES users (pk) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    q          TEXT    NOT NULL,
    columns    TEXT    CHECK (columns IS NULL OR json_valid(columns)),
    shared     BIGINT  NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);
CREATE INDEX saved_views_account ON saved_views (account_pk, shared, user_pk);

-- One action applied to every run matching a query, newest first, in small steps.
CREATE TABLE bulk_jobs (
    pk              BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    account_pk      BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    -- Who created it: the user (while they exist) and their email at the time.
    user_pk         BIGINT  REFERENCES users (pk) ON DELETE SET NULL,
    created_by      TEXT    NOT NULL,
    action          TEXT    NOT NULL CHECK (action IN ('cancel', 'retry', 'delete', 'tag', 'untag')),
    -- The query as given, and the list's other filter parameters (a JSON object of strings).
    q               TEXT    NOT NULL,
    filter          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(filter)),
    tag             TEXT,
    status          TEXT    NOT NULL
                    CHECK (status IN ('queued', 'running', 'done', 'cancelled', 'failed')),
    matched         BIGINT  NOT NULL,
    done            BIGINT  NOT NULL DEFAULT 0,
    skipped         BIGINT  NOT NULL DEFAULT 0,
    failed          BIGINT  NOT NULL DEFAULT 0,
    -- The walk goes on with the runs below (next_created_at, next_pk), newest first.
    next_created_at BIGINT  NOT NULL,
    next_pk         BIGINT  NOT NULL,
    error           TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    -- When the live stream was last told of the job's progress.
    announced_at    BIGINT  NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX bulk_jobs_account ON bulk_jobs (account_pk, created_at);
CREATE INDEX bulk_jobs_open ON bulk_jobs (created_at) WHERE status IN ('queued', 'running');

-- Alerts and the outbox -------------------------------------------------------

CREATE TABLE alert_rules (
    pk             BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    account_pk     BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    -- Scope: an agent slug, a campaign id, a query (all optional; none = every run).
    scope_agent    TEXT,
    scope_campaign TEXT,
    scope_q        TEXT,
    condition_type TEXT    NOT NULL CHECK (condition_type IN (
        'run_failed', 'run_stalled', 'run_timed_out', 'campaign_failed', 'campaign_live',
        'failure_rate', 'p95_duration', 'no_success')),
    threshold      DOUBLE PRECISION,
    window_mins    BIGINT,
    min_runs       BIGINT,
    -- A JSON array of channels: {type: "webhook" | "slack", url} or {type: "email", to}.
    channels       TEXT    NOT NULL CHECK (json_valid(channels)),
    enabled        BIGINT  NOT NULL DEFAULT 1,
    state          TEXT    NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing')),
    -- The last threshold evaluation: when, and the value it measured.
    evaluated_at   BIGINT,
    last_value     DOUBLE PRECISION,
    created_by     TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
-- SQLite's `WHERE enabled` (true when not 0).
CREATE INDEX alert_rules_account ON alert_rules (account_pk, condition_type) WHERE enabled <> 0;
CREATE INDEX alert_rules_threshold ON alert_rules (evaluated_at)
    WHERE enabled <> 0 AND condition_type IN ('failure_rate', 'p95_duration', 'no_success');

-- What a rule did; a run or campaign condition fires once per rule and run.
CREATE TABLE alert_firings (
    pk          BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    rule_pk     BIGINT  NOT NULL REFERENCES alert_rules (pk) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('fired', 'resolved', 'test')),
    run_id      TEXT,
    campaign_id TEXT,
    -- The measured value of a threshold rule.
    value       DOUBLE PRECISION,
    message     TEXT    NOT NULL,
    at          BIGINT  NOT NULL
);
CREATE INDEX alert_firings_rule ON alert_firings (rule_pk, at);
CREATE UNIQUE INDEX alert_firings_once_per_run ON alert_firings (rule_pk, run_id)
    WHERE run_id IS NOT NULL AND kind = 'fired';
CREATE INDEX alert_firings_at ON alert_firings (at);

-- Durable outbox for outgoing HTTP: webhooks, push dispatch, alert deliveries.
CREATE TABLE outbox (
    pk              BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('webhook', 'dispatch', 'alert')),
    account_pk      BIGINT  NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    run_pk          BIGINT  REFERENCES runs (pk) ON DELETE CASCADE,
    firing_pk       BIGINT  REFERENCES alert_firings (pk) ON DELETE CASCADE,
    channel         TEXT,
    url             TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_run ON outbox (run_pk);
CREATE INDEX outbox_firing ON outbox (firing_pk) WHERE firing_pk IS NOT NULL;

-- Rollups ---------------------------------------------------------------------
-- Kept by triggers in the statement of every change to a run, step or event, so
-- no writer has to know of them. The runs triggers fire only on the columns they
-- read (UPDATE OF), so event ingest (event_seq, last_seen_at) never runs them.

-- Histogram buckets: quarter octaves from 1 ms, named by their largest value. A
-- value's bucket: (SELECT coalesce(min(upper_ms), 1099511627776) FROM
-- histogram_bounds WHERE upper_ms >= value).
CREATE TABLE histogram_bounds (
    upper_ms BIGINT PRIMARY KEY
);
WITH RECURSIVE bound (n, value) AS (
    SELECT 0, 1.0::double precision
    UNION ALL
    SELECT n + 1, value * 1.189207115002721::double precision FROM bound WHERE n < 168
)
INSERT INTO histogram_bounds (upper_ms)
SELECT ceil(value)::bigint FROM bound
ON CONFLICT DO NOTHING;

-- Runs by agent, creation hour and status; `retries` of them have attempt > 1.
CREATE TABLE agent_hours (
    agent_pk BIGINT  NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    hour     BIGINT  NOT NULL,
    status   TEXT    NOT NULL,
    runs     BIGINT  NOT NULL,
    retries  BIGINT  NOT NULL,
    PRIMARY KEY (agent_pk, hour, status)
);

-- Finished runs' durations and started runs' waits, per histogram bucket.
CREATE TABLE agent_hour_times (
    agent_pk BIGINT  NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (kind IN ('duration', 'wait')),
    hour     BIGINT  NOT NULL,
    upper_ms BIGINT  NOT NULL,
    runs     BIGINT  NOT NULL,
    PRIMARY KEY (agent_pk, kind, hour, upper_ms)
);

-- Steps by name, status and (for failed steps) error code.
CREATE TABLE agent_hour_steps (
    agent_pk   BIGINT  NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    hour       BIGINT  NOT NULL,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    steps      BIGINT  NOT NULL,
    cache_hits BIGINT  NOT NULL,
    PRIMARY KEY (agent_pk, hour, name, status, code)
);

-- What runners reported in event metadata: `metadata.tokens`, `metadata.costUsd`.
CREATE TABLE agent_hour_usage (
    agent_pk BIGINT  NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    hour     BIGINT  NOT NULL,
    tokens   BIGINT  NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (agent_pk, hour)
);

-- Daily copies of agent_hour_times and agent_hour_steps, kept from the hourly
-- tables by their own triggers: a day is always the sum of its hours.
CREATE TABLE agent_day_times (
    agent_pk BIGINT  NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (kind IN ('duration', 'wait')),
    day      BIGINT  NOT NULL,
    upper_ms BIGINT  NOT NULL,
    runs     BIGINT  NOT NULL,
    PRIMARY KEY (agent_pk, kind, day, upper_ms)
);

CREATE TABLE agent_day_steps (
    agent_pk   BIGINT  NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    day        BIGINT  NOT NULL,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    steps      BIGINT  NOT NULL,
    cache_hits BIGINT  NOT NULL,
    PRIMARY KEY (agent_pk, day, name, status, code)
);

-- A campaign's runs by status.
CREATE TABLE campaign_counts (
    campaign_pk BIGINT  NOT NULL REFERENCES campaigns (pk) ON DELETE CASCADE,
    status      TEXT    NOT NULL,
    count       BIGINT  NOT NULL,
    PRIMARY KEY (campaign_pk, status)
);

-- Runs: agent_hours and agent_hour_times.

CREATE FUNCTION runs_rollup_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_hours AS h (agent_pk, hour, status, runs, retries)
    VALUES (NEW.agent_pk, NEW.created_at / 3600000, NEW.status, 1, (NEW.attempt > 1)::integer)
    ON CONFLICT (agent_pk, hour, status)
    DO UPDATE SET runs = h.runs + 1, retries = h.retries + excluded.retries;
    INSERT INTO agent_hour_times AS h (agent_pk, kind, hour, upper_ms, runs)
    SELECT NEW.agent_pk, 'duration', NEW.created_at / 3600000,
           (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds
            WHERE upper_ms >= greatest(NEW.duration_ms, 0)), 1
    WHERE NEW.duration_ms IS NOT NULL
    ON CONFLICT (agent_pk, kind, hour, upper_ms) DO UPDATE SET runs = h.runs + 1;
    INSERT INTO agent_hour_times AS h (agent_pk, kind, hour, upper_ms, runs)
    SELECT NEW.agent_pk, 'wait', NEW.created_at / 3600000,
           (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds
            WHERE upper_ms >= greatest(NEW.started_at - NEW.created_at, 0)), 1
    WHERE NEW.started_at IS NOT NULL
    ON CONFLICT (agent_pk, kind, hour, upper_ms) DO UPDATE SET runs = h.runs + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER runs_rollup_insert AFTER INSERT ON runs
FOR EACH ROW EXECUTE FUNCTION runs_rollup_insert_fn();

CREATE FUNCTION runs_rollup_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_hours SET runs = runs - 1, retries = retries - (OLD.attempt > 1)::integer
    WHERE agent_pk = OLD.agent_pk AND hour = OLD.created_at / 3600000 AND status = OLD.status;
    UPDATE agent_hour_times SET runs = runs - 1
    WHERE OLD.duration_ms IS NOT NULL AND agent_pk = OLD.agent_pk AND kind = 'duration'
      AND hour = OLD.created_at / 3600000
      AND upper_ms = (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds
                      WHERE upper_ms >= greatest(OLD.duration_ms, 0));
    UPDATE agent_hour_times SET runs = runs - 1
    WHERE OLD.started_at IS NOT NULL AND agent_pk = OLD.agent_pk AND kind = 'wait'
      AND hour = OLD.created_at / 3600000
      AND upper_ms = (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds
                      WHERE upper_ms >= greatest(OLD.started_at - OLD.created_at, 0));
    RETURN NULL;
END $$;
CREATE TRIGGER runs_rollup_delete AFTER DELETE ON runs
FOR EACH ROW EXECUTE FUNCTION runs_rollup_delete_fn();

-- A run's steps and events go with it (ON DELETE CASCADE), but by the time their
-- own triggers fire the run is gone and they cannot find its agent and hour: their
-- weight is taken off here, while both still exist.
CREATE FUNCTION runs_rollup_delete_children_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_hour_steps SET (steps, cache_hits) = (
        SELECT agent_hour_steps.steps - count(*),
               agent_hour_steps.cache_hits - coalesce(sum(s.cache_hit), 0)::bigint
        FROM steps s
        WHERE s.run_pk = OLD.pk AND coalesce(s.name, s.step_id) = agent_hour_steps.name
          AND s.status = agent_hour_steps.status
          AND CASE WHEN s.status = 'failed' THEN coalesce(sqlite_json_text(s.error, 'code'), '')
                   ELSE '' END = agent_hour_steps.code)
    WHERE agent_pk = OLD.agent_pk AND hour = OLD.created_at / 3600000
      AND EXISTS (SELECT 1 FROM steps s WHERE s.run_pk = OLD.pk);
    UPDATE agent_hour_usage SET (tokens, cost_usd) = (
        SELECT agent_hour_usage.tokens
                   - coalesce(sum(coalesce(sqlite_json_int(e.metadata, 'tokens'), 0)), 0)::bigint,
               agent_hour_usage.cost_usd
                   - coalesce(sqlite_sum(coalesce(sqlite_json_real(e.metadata, 'costUsd'), 0)
                                         ORDER BY e.seq), 0)
        FROM events e
        WHERE e.run_pk = OLD.pk AND e.metadata IS NOT NULL
          AND (strpos(e.metadata, '"tokens"') > 0 OR strpos(e.metadata, '"costUsd"') > 0))
    WHERE agent_pk = OLD.agent_pk AND hour = OLD.created_at / 3600000;
    RETURN OLD;
END $$;
CREATE TRIGGER runs_rollup_delete_children BEFORE DELETE ON runs
FOR EACH ROW EXECUTE FUNCTION runs_rollup_delete_children_fn();

-- The old row's weight off, the new row's on.
CREATE FUNCTION runs_rollup_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_hours SET runs = runs - 1, retries = retries - (OLD.attempt > 1)::integer
    WHERE agent_pk = OLD.agent_pk AND hour = OLD.created_at / 3600000 AND status = OLD.status;
    UPDATE agent_hour_times SET runs = runs - 1
    WHERE OLD.duration_ms IS NOT NULL AND agent_pk = OLD.agent_pk AND kind = 'duration'
      AND hour = OLD.created_at / 3600000
      AND upper_ms = (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds
                      WHERE upper_ms >= greatest(OLD.duration_ms, 0));
    UPDATE agent_hour_times SET runs = runs - 1
    WHERE OLD.started_at IS NOT NULL AND agent_pk = OLD.agent_pk AND kind = 'wait'
      AND hour = OLD.created_at / 3600000
      AND upper_ms = (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds
                      WHERE upper_ms >= greatest(OLD.started_at - OLD.created_at, 0));
    INSERT INTO agent_hours AS h (agent_pk, hour, status, runs, retries)
    VALUES (NEW.agent_pk, NEW.created_at / 3600000, NEW.status, 1, (NEW.attempt > 1)::integer)
    ON CONFLICT (agent_pk, hour, status)
    DO UPDATE SET runs = h.runs + 1, retries = h.retries + excluded.retries;
    INSERT INTO agent_hour_times AS h (agent_pk, kind, hour, upper_ms, runs)
    SELECT NEW.agent_pk, 'duration', NEW.created_at / 3600000,
           (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds
            WHERE upper_ms >= greatest(NEW.duration_ms, 0)), 1
    WHERE NEW.duration_ms IS NOT NULL
    ON CONFLICT (agent_pk, kind, hour, upper_ms) DO UPDATE SET runs = h.runs + 1;
    INSERT INTO agent_hour_times AS h (agent_pk, kind, hour, upper_ms, runs)
    SELECT NEW.agent_pk, 'wait', NEW.created_at / 3600000,
           (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds
            WHERE upper_ms >= greatest(NEW.started_at - NEW.created_at, 0)), 1
    WHERE NEW.started_at IS NOT NULL
    ON CONFLICT (agent_pk, kind, hour, upper_ms) DO UPDATE SET runs = h.runs + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER runs_rollup_update
AFTER UPDATE OF status, attempt, duration_ms, started_at, created_at, agent_pk ON runs
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.attempt IS DISTINCT FROM NEW.attempt
   OR OLD.duration_ms IS DISTINCT FROM NEW.duration_ms OR OLD.started_at IS DISTINCT FROM NEW.started_at
   OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.agent_pk IS DISTINCT FROM NEW.agent_pk)
EXECUTE FUNCTION runs_rollup_update_fn();

-- Steps: agent_hour_steps. A failed step's code is its error's `code`.

CREATE FUNCTION steps_rollup_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_hour_steps AS h (agent_pk, hour, name, status, code, steps, cache_hits)
    SELECT r.agent_pk, r.created_at / 3600000, coalesce(NEW.name, NEW.step_id), NEW.status,
           CASE WHEN NEW.status = 'failed' THEN coalesce(sqlite_json_text(NEW.error, 'code'), '')
                ELSE '' END,
           1, NEW.cache_hit
    FROM runs r WHERE r.pk = NEW.run_pk
    ON CONFLICT (agent_pk, hour, name, status, code)
    DO UPDATE SET steps = h.steps + 1, cache_hits = h.cache_hits + excluded.cache_hits;
    RETURN NULL;
END $$;
CREATE TRIGGER steps_rollup_insert AFTER INSERT ON steps
FOR EACH ROW EXECUTE FUNCTION steps_rollup_insert_fn();

CREATE FUNCTION steps_rollup_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_hour_steps SET steps = steps - 1, cache_hits = cache_hits - OLD.cache_hit
    WHERE (agent_pk, hour) IN (SELECT r.agent_pk, r.created_at / 3600000 FROM runs r WHERE r.pk = OLD.run_pk)
      AND name = coalesce(OLD.name, OLD.step_id) AND status = OLD.status
      AND code = CASE WHEN OLD.status = 'failed' THEN coalesce(sqlite_json_text(OLD.error, 'code'), '')
                      ELSE '' END;
    RETURN NULL;
END $$;
CREATE TRIGGER steps_rollup_delete AFTER DELETE ON steps
FOR EACH ROW EXECUTE FUNCTION steps_rollup_delete_fn();

CREATE FUNCTION steps_rollup_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_hour_steps SET steps = steps - 1, cache_hits = cache_hits - OLD.cache_hit
    WHERE (agent_pk, hour) IN (SELECT r.agent_pk, r.created_at / 3600000 FROM runs r WHERE r.pk = OLD.run_pk)
      AND name = coalesce(OLD.name, OLD.step_id) AND status = OLD.status
      AND code = CASE WHEN OLD.status = 'failed' THEN coalesce(sqlite_json_text(OLD.error, 'code'), '')
                      ELSE '' END;
    INSERT INTO agent_hour_steps AS h (agent_pk, hour, name, status, code, steps, cache_hits)
    SELECT r.agent_pk, r.created_at / 3600000, coalesce(NEW.name, NEW.step_id), NEW.status,
           CASE WHEN NEW.status = 'failed' THEN coalesce(sqlite_json_text(NEW.error, 'code'), '')
                ELSE '' END,
           1, NEW.cache_hit
    FROM runs r WHERE r.pk = NEW.run_pk
    ON CONFLICT (agent_pk, hour, name, status, code)
    DO UPDATE SET steps = h.steps + 1, cache_hits = h.cache_hits + excluded.cache_hits;
    RETURN NULL;
END $$;
CREATE TRIGGER steps_rollup_update AFTER UPDATE OF name, status, error, cache_hit ON steps
FOR EACH ROW
WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.status IS DISTINCT FROM NEW.status
   OR OLD.error IS DISTINCT FROM NEW.error OR OLD.cache_hit IS DISTINCT FROM NEW.cache_hit)
EXECUTE FUNCTION steps_rollup_update_fn();

-- Events: agent_hour_usage. Only events whose metadata names one of the two keys
-- cost more than a text search.

CREATE FUNCTION events_usage_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_hour_usage AS h (agent_pk, hour, tokens, cost_usd)
    SELECT r.agent_pk, r.created_at / 3600000,
           coalesce(sqlite_json_int(NEW.metadata, 'tokens'), 0),
           coalesce(sqlite_json_real(NEW.metadata, 'costUsd'), 0)
    FROM runs r WHERE r.pk = NEW.run_pk
    ON CONFLICT (agent_pk, hour)
    DO UPDATE SET tokens = h.tokens + excluded.tokens, cost_usd = h.cost_usd + excluded.cost_usd;
    RETURN NULL;
END $$;
CREATE TRIGGER events_usage_insert AFTER INSERT ON events
FOR EACH ROW
WHEN (NEW.metadata IS NOT NULL
      AND (strpos(NEW.metadata, '"tokens"') > 0 OR strpos(NEW.metadata, '"costUsd"') > 0))
EXECUTE FUNCTION events_usage_insert_fn();

CREATE FUNCTION events_usage_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_hour_usage SET
        tokens = tokens - coalesce(sqlite_json_int(OLD.metadata, 'tokens'), 0),
        cost_usd = cost_usd - coalesce(sqlite_json_real(OLD.metadata, 'costUsd'), 0)
    WHERE (agent_pk, hour) IN (SELECT r.agent_pk, r.created_at / 3600000 FROM runs r WHERE r.pk = OLD.run_pk);
    RETURN NULL;
END $$;
CREATE TRIGGER events_usage_delete AFTER DELETE ON events
FOR EACH ROW
WHEN (OLD.metadata IS NOT NULL
      AND (strpos(OLD.metadata, '"tokens"') > 0 OR strpos(OLD.metadata, '"costUsd"') > 0))
EXECUTE FUNCTION events_usage_delete_fn();

-- Days from hours: agent_day_times and agent_day_steps.

CREATE FUNCTION agent_hour_times_day_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_day_times AS d (agent_pk, kind, day, upper_ms, runs)
    VALUES (NEW.agent_pk, NEW.kind, NEW.hour / 24, NEW.upper_ms, NEW.runs)
    ON CONFLICT (agent_pk, kind, day, upper_ms) DO UPDATE SET runs = d.runs + excluded.runs;
    RETURN NULL;
END $$;
CREATE TRIGGER agent_hour_times_day_insert AFTER INSERT ON agent_hour_times
FOR EACH ROW EXECUTE FUNCTION agent_hour_times_day_insert_fn();

CREATE FUNCTION agent_hour_times_day_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_day_times SET runs = runs + NEW.runs - OLD.runs
    WHERE agent_pk = NEW.agent_pk AND kind = NEW.kind AND day = NEW.hour / 24
      AND upper_ms = NEW.upper_ms;
    RETURN NULL;
END $$;
CREATE TRIGGER agent_hour_times_day_update AFTER UPDATE OF runs ON agent_hour_times
FOR EACH ROW WHEN (NEW.runs <> OLD.runs)
EXECUTE FUNCTION agent_hour_times_day_update_fn();

CREATE FUNCTION agent_hour_times_day_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_day_times SET runs = runs - OLD.runs
    WHERE agent_pk = OLD.agent_pk AND kind = OLD.kind AND day = OLD.hour / 24
      AND upper_ms = OLD.upper_ms;
    RETURN NULL;
END $$;
CREATE TRIGGER agent_hour_times_day_delete AFTER DELETE ON agent_hour_times
FOR EACH ROW EXECUTE FUNCTION agent_hour_times_day_delete_fn();

CREATE FUNCTION agent_hour_steps_day_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_day_steps AS d (agent_pk, day, name, status, code, steps, cache_hits)
    VALUES (NEW.agent_pk, NEW.hour / 24, NEW.name, NEW.status, NEW.code, NEW.steps, NEW.cache_hits)
    ON CONFLICT (agent_pk, day, name, status, code)
    DO UPDATE SET steps = d.steps + excluded.steps, cache_hits = d.cache_hits + excluded.cache_hits;
    RETURN NULL;
END $$;
CREATE TRIGGER agent_hour_steps_day_insert AFTER INSERT ON agent_hour_steps
FOR EACH ROW EXECUTE FUNCTION agent_hour_steps_day_insert_fn();

CREATE FUNCTION agent_hour_steps_day_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_day_steps SET steps = steps + NEW.steps - OLD.steps,
                               cache_hits = cache_hits + NEW.cache_hits - OLD.cache_hits
    WHERE agent_pk = NEW.agent_pk AND day = NEW.hour / 24 AND name = NEW.name
      AND status = NEW.status AND code = NEW.code;
    RETURN NULL;
END $$;
CREATE TRIGGER agent_hour_steps_day_update AFTER UPDATE OF steps, cache_hits ON agent_hour_steps
FOR EACH ROW WHEN (NEW.steps <> OLD.steps OR NEW.cache_hits <> OLD.cache_hits)
EXECUTE FUNCTION agent_hour_steps_day_update_fn();

CREATE FUNCTION agent_hour_steps_day_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_day_steps SET steps = steps - OLD.steps, cache_hits = cache_hits - OLD.cache_hits
    WHERE agent_pk = OLD.agent_pk AND day = OLD.hour / 24 AND name = OLD.name
      AND status = OLD.status AND code = OLD.code;
    RETURN NULL;
END $$;
CREATE TRIGGER agent_hour_steps_day_delete AFTER DELETE ON agent_hour_steps
FOR EACH ROW EXECUTE FUNCTION agent_hour_steps_day_delete_fn();

-- Campaigns: campaign_counts.

CREATE FUNCTION campaign_counts_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_counts AS c (campaign_pk, status, count) VALUES (NEW.campaign_pk, NEW.status, 1)
    ON CONFLICT (campaign_pk, status) DO UPDATE SET count = c.count + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER campaign_counts_insert AFTER INSERT ON runs
FOR EACH ROW WHEN (NEW.campaign_pk IS NOT NULL)
EXECUTE FUNCTION campaign_counts_insert_fn();

CREATE FUNCTION campaign_counts_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE campaign_counts SET count = count - 1
    WHERE campaign_pk = OLD.campaign_pk AND status = OLD.status;
    RETURN NULL;
END $$;
CREATE TRIGGER campaign_counts_delete AFTER DELETE ON runs
FOR EACH ROW WHEN (OLD.campaign_pk IS NOT NULL)
EXECUTE FUNCTION campaign_counts_delete_fn();

CREATE FUNCTION campaign_counts_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE campaign_counts SET count = count - 1
    WHERE OLD.campaign_pk IS NOT NULL AND campaign_pk = OLD.campaign_pk AND status = OLD.status;
    INSERT INTO campaign_counts AS c (campaign_pk, status, count)
    SELECT NEW.campaign_pk, NEW.status, 1 WHERE NEW.campaign_pk IS NOT NULL
    ON CONFLICT (campaign_pk, status) DO UPDATE SET count = c.count + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER campaign_counts_update AFTER UPDATE OF status, campaign_pk ON runs
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.campaign_pk IS DISTINCT FROM NEW.campaign_pk)
EXECUTE FUNCTION campaign_counts_update_fn();
