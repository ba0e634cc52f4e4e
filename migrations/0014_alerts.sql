-- Alert rules: a scope of runs (agent, campaign, query), a condition, and the
-- channels that hear of it. Run conditions (`run_failed`, `run_stalled`,
-- `run_timed_out`) and campaign conditions (`campaign_failed`, `campaign_live`) fire
-- in the transaction of the change that meets them; threshold conditions
-- (`failure_rate`, `p95_duration`, `no_success`) are evaluated periodically and
-- remember whether they are firing (`state`), so they fire once when crossed and
-- resolve once when back.
CREATE TABLE alert_rules (
    pk             INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    account_pk     INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    -- Scope: an agent slug, a campaign id, a query (all optional; none = every run).
    scope_agent    TEXT,
    scope_campaign TEXT,
    scope_q        TEXT,
    condition_type TEXT    NOT NULL CHECK (condition_type IN (
        'run_failed', 'run_stalled', 'run_timed_out', 'campaign_failed', 'campaign_live',
        'failure_rate', 'p95_duration', 'no_success')),
    threshold      REAL,
    window_mins    INTEGER,
    min_runs       INTEGER,
    -- A JSON array of channels: {type: "webhook" | "slack", url} or {type: "email", to}.
    channels       TEXT    NOT NULL CHECK (json_valid(channels)),
    enabled        INTEGER NOT NULL DEFAULT 1,
    state          TEXT    NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing')),
    -- The last threshold evaluation: when, and the value it measured.
    evaluated_at   INTEGER,
    last_value     REAL,
    created_by     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX alert_rules_account ON alert_rules (account_pk, condition_type) WHERE enabled;
CREATE INDEX alert_rules_threshold ON alert_rules (evaluated_at)
    WHERE enabled AND condition_type IN ('failure_rate', 'p95_duration', 'no_success');

-- What a rule did: fired, resolved, or a test the owner sent. A run or campaign
-- condition fires once per rule and run (the run that ended, or that moved the
-- campaign): the unique index de-duplicates.
CREATE TABLE alert_firings (
    pk          INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    rule_pk     INTEGER NOT NULL REFERENCES alert_rules (pk) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('fired', 'resolved', 'test')),
    run_id      TEXT,
    campaign_id TEXT,
    -- The measured value of a threshold rule.
    value       REAL,
    message     TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX alert_firings_rule ON alert_firings (rule_pk, at);
CREATE UNIQUE INDEX alert_firings_once_per_run ON alert_firings (rule_pk, run_id)
    WHERE run_id IS NOT NULL AND kind = 'fired';
-- Pruning by age.
CREATE INDEX alert_firings_at ON alert_firings (at);

-- Threshold rules read the runs that finished in their window.
CREATE INDEX runs_account_completed ON runs (account_pk, completed_at) WHERE completed_at IS NOT NULL;

-- The outbox gains alert deliveries: one row per firing and channel (`channel` is
-- webhook, slack or email; `url` the URL or the address). SQLite cannot change a
-- CHECK in place, so the table is rebuilt.
CREATE TABLE outbox_new (
    pk              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('webhook', 'dispatch', 'alert')),
    account_pk      INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    run_pk          INTEGER REFERENCES runs (pk) ON DELETE CASCADE,
    firing_pk       INTEGER REFERENCES alert_firings (pk) ON DELETE CASCADE,
    channel         TEXT,
    url             TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
INSERT INTO outbox_new (pk, kind, account_pk, run_pk, url, payload, state, attempts,
                        next_attempt_at, last_error, created_at, finished_at)
SELECT pk, kind, account_pk, run_pk, url, payload, state, attempts,
       next_attempt_at, last_error, created_at, finished_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_run ON outbox (run_pk);
CREATE INDEX outbox_firing ON outbox (firing_pk) WHERE firing_pk IS NOT NULL;
