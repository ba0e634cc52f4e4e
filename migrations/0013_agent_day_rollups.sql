-- Daily copies of the two rollups a long window reads most of: duration and
-- queue-wait histograms, and step outcomes. A 30-day health page read ~40,000
-- hourly histogram rows per agent at 1M runs; by day it reads ~3,000.
--
-- They are kept from the hourly tables themselves, by triggers on those tables:
-- whatever changes an hour's row (the run, step and event triggers of 0012)
-- changes its day's row by the same amount, so a day is always the sum of its
-- hours and no writer has a second rule to follow.

CREATE TABLE agent_day_times (
    agent_pk INTEGER NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (kind IN ('duration', 'wait')),
    day      INTEGER NOT NULL,
    upper_ms INTEGER NOT NULL,
    runs     INTEGER NOT NULL,
    PRIMARY KEY (agent_pk, kind, day, upper_ms)
) WITHOUT ROWID;

CREATE TABLE agent_day_steps (
    agent_pk   INTEGER NOT NULL REFERENCES agents (pk) ON DELETE CASCADE,
    day        INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    steps      INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL,
    PRIMARY KEY (agent_pk, day, name, status, code)
) WITHOUT ROWID;

CREATE TRIGGER agent_hour_times_day_insert AFTER INSERT ON agent_hour_times BEGIN
    INSERT INTO agent_day_times (agent_pk, kind, day, upper_ms, runs)
    VALUES (NEW.agent_pk, NEW.kind, NEW.hour / 24, NEW.upper_ms, NEW.runs)
    ON CONFLICT DO UPDATE SET runs = runs + excluded.runs;
END;

CREATE TRIGGER agent_hour_times_day_update AFTER UPDATE OF runs ON agent_hour_times
WHEN NEW.runs != OLD.runs BEGIN
    UPDATE agent_day_times SET runs = runs + NEW.runs - OLD.runs
    WHERE agent_pk = NEW.agent_pk AND kind = NEW.kind AND day = NEW.hour / 24
      AND upper_ms = NEW.upper_ms;
END;

CREATE TRIGGER agent_hour_times_day_delete AFTER DELETE ON agent_hour_times BEGIN
    UPDATE agent_day_times SET runs = runs - OLD.runs
    WHERE agent_pk = OLD.agent_pk AND kind = OLD.kind AND day = OLD.hour / 24
      AND upper_ms = OLD.upper_ms;
END;

CREATE TRIGGER agent_hour_steps_day_insert AFTER INSERT ON agent_hour_steps BEGIN
    INSERT INTO agent_day_steps (agent_pk, day, name, status, code, steps, cache_hits)
    VALUES (NEW.agent_pk, NEW.hour / 24, NEW.name, NEW.status, NEW.code, NEW.steps, NEW.cache_hits)
    ON CONFLICT DO UPDATE SET steps = steps + excluded.steps,
                              cache_hits = cache_hits + excluded.cache_hits;
END;

CREATE TRIGGER agent_hour_steps_day_update AFTER UPDATE OF steps, cache_hits ON agent_hour_steps
WHEN NEW.steps != OLD.steps OR NEW.cache_hits != OLD.cache_hits BEGIN
    UPDATE agent_day_steps SET steps = steps + NEW.steps - OLD.steps,
                               cache_hits = cache_hits + NEW.cache_hits - OLD.cache_hits
    WHERE agent_pk = NEW.agent_pk AND day = NEW.hour / 24 AND name = NEW.name
      AND status = NEW.status AND code = NEW.code;
END;

CREATE TRIGGER agent_hour_steps_day_delete AFTER DELETE ON agent_hour_steps BEGIN
    UPDATE agent_day_steps SET steps = steps - OLD.steps, cache_hits = cache_hits - OLD.cache_hits
    WHERE agent_pk = OLD.agent_pk AND day = OLD.hour / 24 AND name = OLD.name
      AND status = OLD.status AND code = OLD.code;
END;

-- The hours already counted.
INSERT INTO agent_day_times (agent_pk, kind, day, upper_ms, runs)
SELECT agent_pk, kind, hour / 24, upper_ms, sum(runs)
FROM agent_hour_times GROUP BY agent_pk, kind, hour / 24, upper_ms;

INSERT INTO agent_day_steps (agent_pk, day, name, status, code, steps, cache_hits)
SELECT agent_pk, hour / 24, name, status, code, sum(steps), sum(cache_hits)
FROM agent_hour_steps GROUP BY agent_pk, hour / 24, name, status, code;
