-- Runs that never stay stuck: when a run's runner was last heard from, the lease
-- of a claimed run, when an automatic retry is due, and each agent's limits. The
-- sweeper (server/src/sweeper.rs) reads every one of these through a partial
-- index that holds only the open runs it may act on, so a sweep at 1M runs reads
-- a handful of index entries, never the table.

-- Epoch ms of the runner's last callback (any of status, events, steps,
-- artifacts, heartbeat); stamped when a run starts if nothing was heard before.
ALTER TABLE runs ADD COLUMN last_seen_at INTEGER;
-- A claimed run goes back to the queue when its runner neither starts it nor
-- heartbeats before this (epoch ms); NULL for runs that were not claimed.
ALTER TABLE runs ADD COLUMN lease_expires_at INTEGER;
-- When this finished run is to be retried automatically (epoch ms); cleared when
-- the retry is made, by hand or by the sweeper.
ALTER TABLE runs ADD COLUMN retry_at INTEGER;

-- Runs that were running before heartbeats existed count from their last update.
UPDATE runs SET last_seen_at = updated_at WHERE status = 'running';

CREATE INDEX runs_running_seen    ON runs (agent_pk, last_seen_at) WHERE status = 'running';
CREATE INDEX runs_running_started ON runs (agent_pk, started_at)   WHERE status = 'running';
CREATE INDEX runs_waiting         ON runs (agent_pk, created_at)
    WHERE status IN ('requested', 'queued');
CREATE INDEX runs_lease_expiry    ON runs (lease_expires_at)
    WHERE status = 'queued' AND lease_expires_at IS NOT NULL;
CREATE INDEX runs_retry_due       ON runs (retry_at) WHERE retry_at IS NOT NULL;

-- Per-agent limits, in seconds (NULL: off). Defaults: a running run silent for
-- 10 minutes has stalled; a claimed run must start or heartbeat within a minute.
ALTER TABLE agents ADD COLUMN heartbeat_timeout_secs INTEGER DEFAULT 600;
ALTER TABLE agents ADD COLUMN max_runtime_secs       INTEGER;
ALTER TABLE agents ADD COLUMN queue_timeout_secs     INTEGER;
ALTER TABLE agents ADD COLUMN max_attempts           INTEGER;
ALTER TABLE agents ADD COLUMN lease_secs             INTEGER DEFAULT 60;
