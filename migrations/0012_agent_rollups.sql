-- Hourly rollups per agent for its health page and `GET /api/agents/{slug}/stats`:
-- runs by status, duration and queue-wait histograms, step outcomes and token use,
-- each keyed by the hour its run was created in. A 30-day page reads these (a few
-- rows per hour) instead of the agent's runs.
--
-- Triggers keep them, in the same statement as the change to the run, step or
-- event: every writer (the status function, creation, retries, bulk jobs, pruning,
-- `runboard seed`, the scale generator) keeps them exact without knowing of them.
-- The runs triggers fire only on the columns they read (`UPDATE OF`), so the event
-- ingest, which touches a run's `event_seq` and `last_seen_at`, never runs them.

-- Histogram buckets: quarter octaves from 1 ms (each bound 2^(1/4) ≈ 1.19 times the
-- last), named by their largest value. A percentile read from them is the bound of
-- the bucket holding the exact value: at most 19 % (and 1 ms) above it.
CREATE TABLE histogram_bounds (
    upper_ms INTEGER PRIMARY KEY
);
WITH RECURSIVE bound (n, value) AS (
    SELECT 0, 1.0
    UNION ALL
    SELECT n + 1, value * 1.189207115002721 FROM bound WHERE n < 168
)
INSERT OR IGNORE INTO histogram_bounds (upper_ms)
SELECT CAST(value AS INTEGER) + (value > CAST(value AS INTEGER)) FROM bound;

-- Runs by creation hour and status; `retries` of them are retries (attempt > 1).
CREATE TABLE agent_hours (
    agent_pk INTEGER NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    hour     INTEGER NOT NULL,
    status   TEXT    NOT NULL,
    runs     INTEGER NOT NULL,
    retries  INTEGER NOT NULL,
    PRIMARY KEY (agent_pk, hour, status)
) WITHOUT ROWID;

-- Finished runs' durations (`duration`) and started runs' waits from creation to
-- start (`wait`), counted per histogram bucket.
CREATE TABLE agent_hour_times (
    agent_pk INTEGER NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (kind IN ('duration', 'wait')),
    hour     INTEGER NOT NULL,
    upper_ms INTEGER NOT NULL,
    runs     INTEGER NOT NULL,
    PRIMARY KEY (agent_pk, kind, hour, upper_ms)
) WITHOUT ROWID;

-- Steps by name, status and (for failed steps) error code; `cache_hits` of them
-- were served from a cache.
CREATE TABLE agent_hour_steps (
    agent_pk   INTEGER NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    hour       INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    steps      INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL,
    PRIMARY KEY (agent_pk, hour, name, status, code)
) WITHOUT ROWID;

-- What runners reported in event metadata: `metadata.tokens`, `metadata.costUsd`.
CREATE TABLE agent_hour_usage (
    agent_pk INTEGER NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    hour     INTEGER NOT NULL,
    tokens   INTEGER NOT NULL,
    cost_usd REAL    NOT NULL,
    PRIMARY KEY (agent_pk, hour)
) WITHOUT ROWID;

-- A histogram bucket for a value (the largest bound when beyond them all).
-- Used as: (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= value)

CREATE TRIGGER runs_rollup_insert AFTER INSERT ON runs BEGIN
    INSERT INTO agent_hours (agent_pk, hour, status, runs, retries)
    VALUES (NEW.agent_pk, NEW.created_at / 3600000, NEW.status, 1, NEW.attempt > 1)
    ON CONFLICT DO UPDATE SET runs = runs + 1, retries = retries + excluded.retries;
    INSERT INTO agent_hour_times (agent_pk, kind, hour, upper_ms, runs)
    SELECT NEW.agent_pk, 'duration', NEW.created_at / 3600000,
           (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(NEW.duration_ms, 0)), 1
    WHERE NEW.duration_ms IS NOT NULL
    ON CONFLICT DO UPDATE SET runs = runs + 1;
    INSERT INTO agent_hour_times (agent_pk, kind, hour, upper_ms, runs)
    SELECT NEW.agent_pk, 'wait', NEW.created_at / 3600000,
           (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(NEW.started_at - NEW.created_at, 0)), 1
    WHERE NEW.started_at IS NOT NULL
    ON CONFLICT DO UPDATE SET runs = runs + 1;
END;

CREATE TRIGGER runs_rollup_delete AFTER DELETE ON runs BEGIN
    UPDATE agent_hours SET runs = runs - 1, retries = retries - (OLD.attempt > 1)
    WHERE agent_pk = OLD.agent_pk AND hour = OLD.created_at / 3600000 AND status = OLD.status;
    UPDATE agent_hour_times SET runs = runs - 1
    WHERE OLD.duration_ms IS NOT NULL AND agent_pk = OLD.agent_pk AND kind = 'duration'
      AND hour = OLD.created_at / 3600000
      AND upper_ms = (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(OLD.duration_ms, 0));
    UPDATE agent_hour_times SET runs = runs - 1
    WHERE OLD.started_at IS NOT NULL AND agent_pk = OLD.agent_pk AND kind = 'wait'
      AND hour = OLD.created_at / 3600000
      AND upper_ms = (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(OLD.started_at - OLD.created_at, 0));
END;

-- A run's steps and events go with it (ON DELETE CASCADE), but by the time their
-- own triggers fire the run is gone and they cannot find its agent and hour: their
-- weight is taken off here, while both still exist.
CREATE TRIGGER runs_rollup_delete_children BEFORE DELETE ON runs BEGIN
    UPDATE agent_hour_steps SET (steps, cache_hits) = (
        SELECT agent_hour_steps.steps - count(*), agent_hour_steps.cache_hits - coalesce(sum(s.cache_hit), 0)
        FROM steps s
        WHERE s.run_pk = OLD.pk AND coalesce(s.name, s.step_id) = agent_hour_steps.name
          AND s.status = agent_hour_steps.status
          AND CASE WHEN s.status = 'failed' THEN coalesce(json_extract(s.error, '$.code'), '') ELSE '' END = agent_hour_steps.code)
    WHERE agent_pk = OLD.agent_pk AND hour = OLD.created_at / 3600000
      AND EXISTS (SELECT 1 FROM steps s WHERE s.run_pk = OLD.pk);
    UPDATE agent_hour_usage SET (tokens, cost_usd) = (
        SELECT agent_hour_usage.tokens - coalesce(sum(coalesce(CAST(json_extract(e.metadata, '$.tokens') AS INTEGER), 0)), 0),
               agent_hour_usage.cost_usd - coalesce(sum(coalesce(CAST(json_extract(e.metadata, '$.costUsd') AS REAL), 0)), 0)
        FROM events e
        WHERE e.run_pk = OLD.pk AND e.metadata IS NOT NULL
          AND (instr(e.metadata, '"tokens"') OR instr(e.metadata, '"costUsd"')))
    WHERE agent_pk = OLD.agent_pk AND hour = OLD.created_at / 3600000;
END;

CREATE TRIGGER runs_rollup_update
AFTER UPDATE OF status, attempt, duration_ms, started_at, created_at, agent_pk ON runs
WHEN OLD.status IS NOT NEW.status OR OLD.attempt IS NOT NEW.attempt
  OR OLD.duration_ms IS NOT NEW.duration_ms OR OLD.started_at IS NOT NEW.started_at
  OR OLD.created_at IS NOT NEW.created_at OR OLD.agent_pk IS NOT NEW.agent_pk
BEGIN
    UPDATE agent_hours SET runs = runs - 1, retries = retries - (OLD.attempt > 1)
    WHERE agent_pk = OLD.agent_pk AND hour = OLD.created_at / 3600000 AND status = OLD.status;
    UPDATE agent_hour_times SET runs = runs - 1
    WHERE OLD.duration_ms IS NOT NULL AND agent_pk = OLD.agent_pk AND kind = 'duration'
      AND hour = OLD.created_at / 3600000
      AND upper_ms = (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(OLD.duration_ms, 0));
    UPDATE agent_hour_times SET runs = runs - 1
    WHERE OLD.started_at IS NOT NULL AND agent_pk = OLD.agent_pk AND kind = 'wait'
      AND hour = OLD.created_at / 3600000
      AND upper_ms = (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(OLD.started_at - OLD.created_at, 0));
    INSERT INTO agent_hours (agent_pk, hour, status, runs, retries)
    VALUES (NEW.agent_pk, NEW.created_at / 3600000, NEW.status, 1, NEW.attempt > 1)
    ON CONFLICT DO UPDATE SET runs = runs + 1, retries = retries + excluded.retries;
    INSERT INTO agent_hour_times (agent_pk, kind, hour, upper_ms, runs)
    SELECT NEW.agent_pk, 'duration', NEW.created_at / 3600000,
           (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(NEW.duration_ms, 0)), 1
    WHERE NEW.duration_ms IS NOT NULL
    ON CONFLICT DO UPDATE SET runs = runs + 1;
    INSERT INTO agent_hour_times (agent_pk, kind, hour, upper_ms, runs)
    SELECT NEW.agent_pk, 'wait', NEW.created_at / 3600000,
           (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(NEW.started_at - NEW.created_at, 0)), 1
    WHERE NEW.started_at IS NOT NULL
    ON CONFLICT DO UPDATE SET runs = runs + 1;
END;

CREATE TRIGGER steps_rollup_insert AFTER INSERT ON steps BEGIN
    INSERT INTO agent_hour_steps (agent_pk, hour, name, status, code, steps, cache_hits)
    SELECT r.agent_pk, r.created_at / 3600000, coalesce(NEW.name, NEW.step_id), NEW.status,
           CASE WHEN NEW.status = 'failed' THEN coalesce(json_extract(NEW.error, '$.code'), '') ELSE '' END,
           1, NEW.cache_hit
    FROM runs r WHERE r.pk = NEW.run_pk
    ON CONFLICT DO UPDATE SET steps = steps + 1, cache_hits = cache_hits + excluded.cache_hits;
END;

CREATE TRIGGER steps_rollup_delete AFTER DELETE ON steps BEGIN
    UPDATE agent_hour_steps SET steps = steps - 1, cache_hits = cache_hits - OLD.cache_hit
    WHERE (agent_pk, hour) IN (SELECT r.agent_pk, r.created_at / 3600000 FROM runs r WHERE r.pk = OLD.run_pk)
      AND name = coalesce(OLD.name, OLD.step_id) AND status = OLD.status
      AND code = CASE WHEN OLD.status = 'failed' THEN coalesce(json_extract(OLD.error, '$.code'), '') ELSE '' END;
END;

CREATE TRIGGER steps_rollup_update AFTER UPDATE OF name, status, error, cache_hit ON steps
WHEN OLD.name IS NOT NEW.name OR OLD.status IS NOT NEW.status
  OR OLD.error IS NOT NEW.error OR OLD.cache_hit IS NOT NEW.cache_hit
BEGIN
    UPDATE agent_hour_steps SET steps = steps - 1, cache_hits = cache_hits - OLD.cache_hit
    WHERE (agent_pk, hour) IN (SELECT r.agent_pk, r.created_at / 3600000 FROM runs r WHERE r.pk = OLD.run_pk)
      AND name = coalesce(OLD.name, OLD.step_id) AND status = OLD.status
      AND code = CASE WHEN OLD.status = 'failed' THEN coalesce(json_extract(OLD.error, '$.code'), '') ELSE '' END;
    INSERT INTO agent_hour_steps (agent_pk, hour, name, status, code, steps, cache_hits)
    SELECT r.agent_pk, r.created_at / 3600000, coalesce(NEW.name, NEW.step_id), NEW.status,
           CASE WHEN NEW.status = 'failed' THEN coalesce(json_extract(NEW.error, '$.code'), '') ELSE '' END,
           1, NEW.cache_hit
    FROM runs r WHERE r.pk = NEW.run_pk
    ON CONFLICT DO UPDATE SET steps = steps + 1, cache_hits = cache_hits + excluded.cache_hits;
END;

-- Usage: only events whose metadata names one of the two keys cost more than a
-- text search.
CREATE TRIGGER events_usage_insert AFTER INSERT ON events
WHEN NEW.metadata IS NOT NULL AND (instr(NEW.metadata, '"tokens"') OR instr(NEW.metadata, '"costUsd"'))
BEGIN
    INSERT INTO agent_hour_usage (agent_pk, hour, tokens, cost_usd)
    SELECT r.agent_pk, r.created_at / 3600000,
           coalesce(CAST(json_extract(NEW.metadata, '$.tokens') AS INTEGER), 0),
           coalesce(CAST(json_extract(NEW.metadata, '$.costUsd') AS REAL), 0)
    FROM runs r WHERE r.pk = NEW.run_pk
    ON CONFLICT DO UPDATE SET tokens = tokens + excluded.tokens, cost_usd = cost_usd + excluded.cost_usd;
END;

CREATE TRIGGER events_usage_delete AFTER DELETE ON events
WHEN OLD.metadata IS NOT NULL AND (instr(OLD.metadata, '"tokens"') OR instr(OLD.metadata, '"costUsd"'))
BEGIN
    UPDATE agent_hour_usage SET
        tokens = tokens - coalesce(CAST(json_extract(OLD.metadata, '$.tokens') AS INTEGER), 0),
        cost_usd = cost_usd - coalesce(CAST(json_extract(OLD.metadata, '$.costUsd') AS REAL), 0)
    WHERE (agent_pk, hour) IN (SELECT r.agent_pk, r.created_at / 3600000 FROM runs r WHERE r.pk = OLD.run_pk);
END;

-- The runs, steps and events already stored.
INSERT INTO agent_hours (agent_pk, hour, status, runs, retries)
SELECT agent_pk, created_at / 3600000, status, count(*), sum(attempt > 1)
FROM runs GROUP BY agent_pk, created_at / 3600000, status;

INSERT INTO agent_hour_times (agent_pk, kind, hour, upper_ms, runs)
SELECT agent_pk, 'duration', created_at / 3600000,
       (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(duration_ms, 0)) AS bucket,
       count(*)
FROM runs WHERE duration_ms IS NOT NULL GROUP BY agent_pk, created_at / 3600000, bucket;

INSERT INTO agent_hour_times (agent_pk, kind, hour, upper_ms, runs)
SELECT agent_pk, 'wait', created_at / 3600000,
       (SELECT coalesce(min(upper_ms), 1099511627776) FROM histogram_bounds WHERE upper_ms >= max(started_at - created_at, 0)) AS bucket,
       count(*)
FROM runs WHERE started_at IS NOT NULL GROUP BY agent_pk, created_at / 3600000, bucket;

INSERT INTO agent_hour_steps (agent_pk, hour, name, status, code, steps, cache_hits)
SELECT r.agent_pk, r.created_at / 3600000, coalesce(s.name, s.step_id) AS step_name, s.status,
       CASE WHEN s.status = 'failed' THEN coalesce(json_extract(s.error, '$.code'), '') ELSE '' END AS step_code,
       count(*), sum(s.cache_hit)
FROM steps s JOIN runs r ON r.pk = s.run_pk
GROUP BY r.agent_pk, r.created_at / 3600000, step_name, s.status, step_code;

INSERT INTO agent_hour_usage (agent_pk, hour, tokens, cost_usd)
SELECT r.agent_pk, r.created_at / 3600000,
       sum(coalesce(CAST(json_extract(e.metadata, '$.tokens') AS INTEGER), 0)),
       sum(coalesce(CAST(json_extract(e.metadata, '$.costUsd') AS REAL), 0))
FROM events e JOIN runs r ON r.pk = e.run_pk
WHERE e.metadata IS NOT NULL AND (instr(e.metadata, '"tokens"') OR instr(e.metadata, '"costUsd"'))
GROUP BY r.agent_pk, r.created_at / 3600000;
