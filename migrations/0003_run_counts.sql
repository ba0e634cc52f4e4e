-- Pre-aggregated run counts per account, UTC day, agent and status, kept in the
-- same transactions that create runs, change their status and delete them. The
-- runs list's status chips and per-day chart read these instead of aggregating
-- every matching run (at 1M runs that took about a second per page;
-- docs/performance.md).
CREATE TABLE run_counts (
    account_pk INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    day        INTEGER NOT NULL,
    agent_pk   INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (account_pk, day, agent_pk, status)
) WITHOUT ROWID;

INSERT INTO run_counts (account_pk, day, agent_pk, status, count)
SELECT account_pk, created_at / 86400000, agent_pk, status, count(*)
FROM runs GROUP BY account_pk, created_at / 86400000, agent_pk, status;
