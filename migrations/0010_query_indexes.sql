-- The runs query language (docs/query.md) filters on two columns no index led
-- with the account: `error:<code>` / `has:error` on `error_code`, and
-- `progress:<0.5` on `progress`. Without these, counting their matches read
-- every run of the account (the query-plans test,
-- server/tests/it/query_plans.rs, refuses such plans).

-- Only runs with an error code: most runs have none, so the index stays small,
-- and both `error_code = ?` and `error_code IS NOT NULL` can use it.
CREATE INDEX runs_account_error ON runs (account_pk, error_code, created_at)
    WHERE error_code IS NOT NULL;

-- Progress changes with a runner's status reports; one more index entry to move
-- per report is small beside the run row itself that the report rewrites.
CREATE INDEX runs_account_progress ON runs (account_pk, progress);
