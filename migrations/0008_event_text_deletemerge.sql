-- The events' text index reclaims the space of deleted entries when its segments
-- are next merged anyway, not as soon as a tenth of a segment is deleted
-- (FTS5's `deletemerge`, 10 % by default). Retention deletes the oldest events,
-- which sit in the index's largest segments: at 20M events, rewriting those on
-- account of their deleted entries held the database's single writer for
-- 0.1–0.6 s per merge step, for minutes (docs/performance.md, "Pruning 1M runs
-- while ingest goes on"). Searches skip deleted entries either way; the newest
-- events, which the runs list's search reads first, are in the small segments.
INSERT INTO event_text (event_text, rank) VALUES ('deletemerge', 0);
