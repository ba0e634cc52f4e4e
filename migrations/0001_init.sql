-- Runboard schema: every concept of SPEC.md, laid out for 1M runs and 100M events.
--
-- Conventions
-- * Internal keys are INTEGER rowids (`pk`); public identifiers are UUID text (`id`).
--   Child tables reference the integer key, which keeps the big tables (events,
--   input fields) and their indexes compact.
-- * Timestamps are INTEGER milliseconds since the Unix epoch (UTC); the API turns
--   them into RFC 3339.
-- * Every list an owner can ask for starts its index with `account_id`, so tenant
--   scoping and the filter share one index range; `created_at` comes next-to-last and
--   the implicit trailing rowid breaks ties, giving newest-first order and keyset
--   pagination on (created_at, pk) straight from the index.
-- * JSON columns hold valid JSON text (checked).

CREATE TABLE accounts (
    pk             INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    -- HMAC key for signing webhook deliveries of this account.
    webhook_secret TEXT    NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE users (
    pk            INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    account_pk    INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    -- Stored lower-cased; login is case-insensitive on email.
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'member', 'viewer')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX users_account ON users (account_pk);

-- Browser sessions (tower-sessions). Same shape as tower-sessions-sqlx-store's table,
-- kept here so that the whole schema lives in one place.
CREATE TABLE IF NOT EXISTS tower_sessions (
    id          TEXT    PRIMARY KEY NOT NULL,
    data        BLOB    NOT NULL,
    expiry_date INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tower_sessions_expiry ON tower_sessions (expiry_date);

-- Named owner API tokens: only a SHA-256 of the token is stored.
CREATE TABLE api_tokens (
    pk           INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    account_pk   INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    user_pk      INTEGER NOT NULL REFERENCES users (pk) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    -- First characters of the token, shown in lists so that a token can be recognised.
    prefix       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_account ON api_tokens (account_pk, created_at);

-- Server-wide settings, e.g. a generated runner-token secret when RUNNER_AUTH_SECRET is unset.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE agents (
    pk           INTEGER PRIMARY KEY,
    account_pk   INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    slug         TEXT    NOT NULL,
    name         TEXT,
    description  TEXT,
    dispatch_url TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (account_pk, slug)
);

CREATE TABLE campaigns (
    pk            INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    account_pk    INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'live', 'failed')),
    bundle_url    TEXT,
    -- No foreign key: runs reference campaigns, and a deleted run must not be blocked.
    latest_run_pk INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX campaigns_account_created ON campaigns (account_pk, created_at);

CREATE TABLE runs (
    pk             INTEGER PRIMARY KEY,
    -- UUID v7: time-sortable public id.
    id             TEXT    NOT NULL UNIQUE,
    account_pk     INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    agent_pk       INTEGER NOT NULL REFERENCES agents (pk),
    campaign_pk    INTEGER REFERENCES campaigns (pk) ON DELETE SET NULL,
    status         TEXT    NOT NULL DEFAULT 'requested'
                   CHECK (status IN ('requested', 'queued', 'running', 'completed', 'failed', 'cancelled')),
    progress       REAL    NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    initiator      TEXT,
    summary        TEXT,
    input          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(input)),
    context        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(context)),
    error_code     TEXT,
    error_message  TEXT,
    error_details  TEXT CHECK (error_details IS NULL OR json_valid(error_details)),
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    completed_at   INTEGER,
    updated_at     INTEGER NOT NULL,
    duration_ms    INTEGER,
    webhook_url    TEXT,
    webhook_status TEXT    NOT NULL DEFAULT 'none'
                   CHECK (webhook_status IN ('none', 'pending', 'delivered', 'failed')),
    retry_of_pk    INTEGER REFERENCES runs (pk) ON DELETE SET NULL,
    attempt        INTEGER NOT NULL DEFAULT 1,
    -- Sequence number of the last event; the next event gets event_seq + 1.
    event_seq      INTEGER NOT NULL DEFAULT 0
);
-- One index per list filter, each ending in created_at (+ implicit pk) for newest-first
-- order and keyset pagination.
CREATE INDEX runs_account_created   ON runs (account_pk, created_at);
CREATE INDEX runs_account_status    ON runs (account_pk, status, created_at);
CREATE INDEX runs_account_agent     ON runs (account_pk, agent_pk, created_at);
CREATE INDEX runs_account_agent_st  ON runs (account_pk, agent_pk, status, created_at);
CREATE INDEX runs_account_campaign  ON runs (account_pk, campaign_pk, created_at);
CREATE INDEX runs_account_initiator ON runs (account_pk, initiator, created_at);
CREATE INDEX runs_account_duration  ON runs (account_pk, duration_ms);
CREATE INDEX runs_retry_of          ON runs (retry_of_pk) WHERE retry_of_pk IS NOT NULL;
-- The pull model: the oldest requested run of an agent.
CREATE INDEX runs_claimable         ON runs (agent_pk, created_at) WHERE status = 'requested';

-- Every scalar leaf of a run's input, flattened to (path, value), so that equality on
-- any input field (`input.company.name=Stripe`) is an index lookup. Account and
-- created_at are copied in so that the lookup comes out tenant-scoped and newest first.
CREATE TABLE run_input_fields (
    run_pk     INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    account_pk INTEGER NOT NULL,
    path       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_pk, path, value, created_at, run_pk)
) WITHOUT ROWID;
CREATE INDEX run_input_fields_ci ON run_input_fields (account_pk, path, lower(value), created_at);
CREATE INDEX run_input_fields_run ON run_input_fields (run_pk);

-- Full text over a run's summary, input and error message.
CREATE VIRTUAL TABLE runs_fts USING fts5 (
    summary, input, error_message,
    content = 'runs', content_rowid = 'pk'
);
CREATE TRIGGER runs_fts_insert AFTER INSERT ON runs BEGIN
    INSERT INTO runs_fts (rowid, summary, input, error_message)
    VALUES (new.pk, new.summary, new.input, new.error_message);
END;
CREATE TRIGGER runs_fts_delete AFTER DELETE ON runs BEGIN
    INSERT INTO runs_fts (runs_fts, rowid, summary, input, error_message)
    VALUES ('delete', old.pk, old.summary, old.input, old.error_message);
END;
CREATE TRIGGER runs_fts_update AFTER UPDATE OF summary, input, error_message ON runs BEGIN
    INSERT INTO runs_fts (runs_fts, rowid, summary, input, error_message)
    VALUES ('delete', old.pk, old.summary, old.input, old.error_message);
    INSERT INTO runs_fts (rowid, summary, input, error_message)
    VALUES (new.pk, new.summary, new.input, new.error_message);
END;

-- Steps: one row per (stepId, attempt), so a retried step keeps its earlier attempts.
CREATE TABLE steps (
    pk                  INTEGER PRIMARY KEY,
    run_pk              INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    step_id             TEXT    NOT NULL,
    attempt             INTEGER NOT NULL DEFAULT 1,
    idx                 INTEGER NOT NULL DEFAULT 0,
    name                TEXT,
    skill_id            TEXT,
    status              TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped')),
    cache_hit           INTEGER NOT NULL DEFAULT 0 CHECK (cache_hit IN (0, 1)),
    started_at          INTEGER,
    ended_at            INTEGER,
    duration_ms         INTEGER,
    output_preview      TEXT,
    error               TEXT CHECK (error IS NULL OR json_valid(error)),
    output_artifact_ids TEXT CHECK (output_artifact_ids IS NULL OR json_valid(output_artifact_ids)),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (run_pk, step_id, attempt)
);
CREATE INDEX steps_run_order ON steps (run_pk, idx, attempt);

-- Events: the big table. Read by run in sequence order: (run_pk, seq) is unique and
-- indexed. `id` is the public UUID as 16 bytes; `client_id` is the runner's own event
-- id, unique per run, which makes retried deliveries idempotent.
CREATE TABLE events (
    pk         INTEGER PRIMARY KEY,
    run_pk     INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    id         BLOB    NOT NULL,
    client_id  TEXT,
    event_type TEXT    NOT NULL,
    message    TEXT,
    metadata   TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_run_seq ON events (run_pk, seq);
CREATE UNIQUE INDEX events_run_client_id ON events (run_pk, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX events_run_type ON events (run_pk, event_type, seq);

CREATE VIRTUAL TABLE events_fts USING fts5 (
    message,
    content = 'events', content_rowid = 'pk'
);
CREATE TRIGGER events_fts_insert AFTER INSERT ON events WHEN new.message IS NOT NULL BEGIN
    INSERT INTO events_fts (rowid, message) VALUES (new.pk, new.message);
END;
CREATE TRIGGER events_fts_delete AFTER DELETE ON events WHEN old.message IS NOT NULL BEGIN
    INSERT INTO events_fts (events_fts, rowid, message) VALUES ('delete', old.pk, old.message);
END;

-- A retried event batch answers as the first time: the first answer is kept by key.
CREATE TABLE idempotency_keys (
    run_pk     INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    response   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (run_pk, key)
) WITHOUT ROWID;

CREATE TABLE artifacts (
    pk           INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    run_pk       INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    step_pk      INTEGER REFERENCES steps (pk) ON DELETE SET NULL,
    name         TEXT,
    artifact_type TEXT   NOT NULL,
    content_type TEXT,
    size_bytes   INTEGER,
    sha256       TEXT,
    -- Generated or validated by the server; never a client-chosen filesystem path.
    storage_key  TEXT,
    -- 1 when Runboard holds the bytes in its own store (multipart upload), so that
    -- deleting the run deletes the file too.
    stored       INTEGER NOT NULL DEFAULT 0 CHECK (stored IN (0, 1)),
    url          TEXT,
    inline_text  TEXT,
    metadata     TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at   INTEGER NOT NULL
);
CREATE INDEX artifacts_run ON artifacts (run_pk, created_at);

-- Durable outbox for outgoing HTTP: webhook deliveries and push dispatch of jobs.
-- Survives restarts; a worker picks due rows by (state, next_attempt_at).
CREATE TABLE outbox (
    pk              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('webhook', 'dispatch')),
    account_pk      INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    run_pk          INTEGER REFERENCES runs (pk) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_run ON outbox (run_pk);

-- Durable change log behind the live stream: every committed change gets a sequence
-- number, so a client reconnecting with Last-Event-ID replays exactly what it missed.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY,
    account_pk INTEGER NOT NULL,
    run_id     TEXT,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX changes_account_seq ON changes (account_pk, seq);
