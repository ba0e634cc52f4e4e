-- Fleet control: tags on runs and saved views (named queries).

-- A run's tags as given (a JSON array of strings, at most 20 of at most 64
-- characters each, in the order set); NULL when it has none. Lists read them from
-- here; `run_tags` below answers `tag:` filters.
ALTER TABLE runs ADD COLUMN tags TEXT CHECK (tags IS NULL OR json_valid(tags));

-- One row per (run, tag), keyed like `run_input_fields` so that `tag:nightly` is
-- an index range read newest first and scoped to the account.
CREATE TABLE run_tags (
    run_pk     INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    account_pk INTEGER NOT NULL,
    tag        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_pk, tag, created_at, run_pk)
) WITHOUT ROWID;
CREATE INDEX run_tags_run ON run_tags (run_pk);

-- A saved view: a named query of the runs list, private to its owner or shared
-- with the whole account. `columns` is the list's chosen columns (a JSON array of
-- field names such as "status" or "input.company.name"), NULL for the default.
CREATE TABLE saved_views (
    pk         INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    account_pk INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    user_pk    INTEGER NOT NULL REFERENCES users (pk) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    q          TEXT    NOT NULL,
    columns    TEXT    CHECK (columns IS NULL OR json_valid(columns)),
    shared     INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX saved_views_account ON saved_views (account_pk, shared, user_pk);
