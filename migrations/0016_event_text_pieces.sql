-- The events' text index in pieces of bounded size (store/src/db/text_pieces.rs):
-- one FTS5 index over 20M messages held the writer for up to 2 s per merge step.
-- Each piece holds the events of one range of run keys; the index so far becomes
-- piece 1, for every run there is, and the next run created once it has taken its
-- share starts piece 2.
--
-- `first_event_pk`: the largest event key when the piece began, so that the events
-- written since (about what the newest piece holds) cost one lookup to count.
CREATE TABLE event_text_pieces (
    piece          INTEGER PRIMARY KEY,
    first_run_pk   INTEGER NOT NULL UNIQUE,
    first_event_pk INTEGER NOT NULL
);

DROP TRIGGER event_text_insert;
DROP TRIGGER event_text_delete;
ALTER TABLE event_text RENAME TO event_text_1;
INSERT INTO event_text_pieces (piece, first_run_pk, first_event_pk) VALUES (1, 0, 0);

-- Every piece at once: `SELECT key FROM event_text WHERE message MATCH ?`.
CREATE VIEW event_text AS SELECT rowid AS key, message FROM event_text_1;

-- A deleted event's message leaves its piece through this queue (cascades from a
-- deleted run included); text_pieces::flush_gone empties it.
CREATE TABLE event_text_gone (key INTEGER PRIMARY KEY);
CREATE TRIGGER event_text_queue_gone AFTER DELETE ON events WHEN old.message IS NOT NULL BEGIN
    INSERT OR IGNORE INTO event_text_gone (key) VALUES (old.run_pk * 16777216 + old.seq);
END;
