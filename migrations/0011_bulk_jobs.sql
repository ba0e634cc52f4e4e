-- Bulk actions by query: a job applies one action (cancel, retry, delete, tag,
-- untag) to every run matching a query, newest first, in small transactions. The
-- walk's position is stored with the counts in each transaction, so after a
-- restart the job goes on exactly where it stopped.
CREATE TABLE bulk_jobs (
    pk              INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    account_pk      INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    -- Who created it: the user (while they exist) and their email at the time.
    user_pk         INTEGER REFERENCES users (pk) ON DELETE SET NULL,
    created_by      TEXT    NOT NULL,
    action          TEXT    NOT NULL CHECK (action IN ('cancel', 'retry', 'delete', 'tag', 'untag')),
    -- The query as given, and the list's other filter parameters (a JSON object of strings).
    q               TEXT    NOT NULL,
    filter          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(filter)),
    tag             TEXT,
    status          TEXT    NOT NULL
                    CHECK (status IN ('queued', 'running', 'done', 'cancelled', 'failed')),
    matched         INTEGER NOT NULL,
    done            INTEGER NOT NULL DEFAULT 0,
    skipped         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    -- The walk goes on with the runs below (next_created_at, next_pk), newest first.
    next_created_at INTEGER NOT NULL,
    next_pk         INTEGER NOT NULL,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    -- When the live stream was last told of the job's progress (it is told at most
    -- about once a second).
    announced_at    INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX bulk_jobs_account ON bulk_jobs (account_pk, created_at);
-- The worker's queue: jobs not finished, oldest first.
CREATE INDEX bulk_jobs_open ON bulk_jobs (created_at) WHERE status IN ('queued', 'running');
