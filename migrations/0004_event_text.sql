-- Event messages are indexed for full text by run: the index key is
-- run_pk * 2^24 + seq, so one FTS5 index walk, newest run first, lists the runs
-- whose logs match, and a run's own log is one key range. The runs list's text
-- search can then stop after a page of runs instead of mapping every matching
-- event to its run and sorting them all (2.8 s for a common word at 1M runs and
-- 20M events; docs/performance.md, "Scale benchmark"). Contentless: the messages
-- stay in `events` alone; contentless_delete lets a deleted event leave the index.
DROP TRIGGER events_fts_insert;
DROP TRIGGER events_fts_delete;
DROP TABLE events_fts;

CREATE VIRTUAL TABLE event_text USING fts5 (
    message,
    content = '', contentless_delete = 1
);
CREATE TRIGGER event_text_insert AFTER INSERT ON events WHEN new.message IS NOT NULL BEGIN
    INSERT INTO event_text (rowid, message) VALUES (new.run_pk * 16777216 + new.seq, new.message);
END;
CREATE TRIGGER event_text_delete AFTER DELETE ON events WHEN old.message IS NOT NULL BEGIN
    DELETE FROM event_text WHERE rowid = old.run_pk * 16777216 + old.seq;
END;

INSERT INTO event_text (rowid, message)
SELECT run_pk * 16777216 + seq, message FROM events WHERE message IS NOT NULL;
