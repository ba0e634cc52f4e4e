-- Retention: pinned runs, each account's policy, the marks pruning leaves on a
-- run, artifact files waiting to be deleted, what each prune removed, and the
-- last count of rows and artifact bytes that the storage page shows.

-- A pinned run is never pruned, nor its events or artifacts.
ALTER TABLE runs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
-- When retention removed the run's events (its artifacts); NULL while they are kept.
ALTER TABLE runs ADD COLUMN events_pruned_at INTEGER;
ALTER TABLE runs ADD COLUMN artifacts_pruned_at INTEGER;

-- The runs whose events (artifacts) are still kept, by agent and age: pruning walks
-- an agent's range from the oldest, and a run leaves the index once pruned, so a
-- pass never reads the runs that earlier passes finished (at 1M runs a plain
-- (agent, created_at) range would be read again on every pass). Runs to delete
-- are read from runs_account_agent_st (account, agent, status, created_at).
CREATE INDEX runs_events_kept ON runs (agent_pk, created_at) WHERE events_pruned_at IS NULL;
CREATE INDEX runs_artifacts_kept ON runs (agent_pk, created_at) WHERE artifacts_pruned_at IS NULL;

-- Deleting a run deletes its steps, and each deleted step sets its artifacts'
-- step_pk to NULL: without an index that looked through every artifact for each
-- step (at 534k artifacts, about a third of a second per run deleted, by hand or
-- by pruning).
CREATE INDEX artifacts_step ON artifacts (step_pk) WHERE step_pk IS NOT NULL;

-- An account's retention policy, as `PUT /api/retention` takes it (JSON: days or
-- null per kind, and per-agent overrides by slug). No row: everything is kept.
CREATE TABLE retention_policies (
    account_pk INTEGER PRIMARY KEY REFERENCES accounts (pk) ON DELETE CASCADE,
    policy     TEXT    NOT NULL CHECK (json_valid(policy)),
    updated_at INTEGER NOT NULL
);

-- Stored artifact files whose rows are gone. A key is written here in the
-- transaction that deletes its artifact row; the file is deleted after that
-- commits, and the key forgotten after the file is gone. A crash in between
-- leaves the key here for the next prune, never a row pointing at a deleted file.
CREATE TABLE storage_trash (
    storage_key TEXT    PRIMARY KEY NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- What each prune removed from an account (the storage page's "last prunes").
CREATE TABLE prune_reports (
    pk              INTEGER PRIMARY KEY,
    account_pk      INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL,
    -- `server` (the background task) or `cli` (`runboard prune`).
    origin          TEXT    NOT NULL,
    runs            INTEGER NOT NULL,
    events          INTEGER NOT NULL,
    artifacts       INTEGER NOT NULL,
    artifact_bytes  INTEGER NOT NULL,
    event_logs      INTEGER NOT NULL,
    artifact_sets   INTEGER NOT NULL,
    -- The whole pass, every account's work included.
    changes         INTEGER NOT NULL,
    files           INTEGER NOT NULL,
    transactions    INTEGER NOT NULL,
    longest_hold_ms INTEGER NOT NULL
);
CREATE INDEX prune_reports_account ON prune_reports (account_pk, pk);

-- The last count of rows per table and of artifact bytes per account and agent
-- (counting reads whole tables, so it is done now and then, not per page view).
CREATE TABLE storage_census (
    pk          INTEGER PRIMARY KEY CHECK (pk = 1),
    counted_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    census      TEXT    NOT NULL CHECK (json_valid(census))
);
