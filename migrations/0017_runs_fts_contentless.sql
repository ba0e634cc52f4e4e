-- The runs' text index deletes by tombstone, like the events' pieces: an
-- external-content index records each deleted run as delete markers in a new
-- segment, which must be merged away; at 1M runs, pruning's merge step of those
-- held the writer for 57 ms (docs/performance.md, "The newest piece left to merge
-- by itself"). Contentless with contentless_delete, a deletion marks the entries
-- in the segments that hold them and writes nothing to merge; the index is only
-- ever read for run keys (`SELECT rowid FROM runs_fts WHERE runs_fts MATCH ?`),
-- so it needs no copy of the text. Deleted entries are dropped when their
-- segments are next merged for new runs (`deletemerge` 0, as for the events).
DROP TRIGGER runs_fts_insert;
DROP TRIGGER runs_fts_delete;
DROP TRIGGER runs_fts_update;
DROP TABLE runs_fts;

CREATE VIRTUAL TABLE runs_fts USING fts5 (
    summary, input, error_message,
    content = '', contentless_delete = 1
);
INSERT INTO runs_fts (runs_fts, rank) VALUES ('deletemerge', 0);

CREATE TRIGGER runs_fts_insert AFTER INSERT ON runs BEGIN
    INSERT INTO runs_fts (rowid, summary, input, error_message)
    VALUES (new.pk, new.summary, new.input, new.error_message);
END;
CREATE TRIGGER runs_fts_delete AFTER DELETE ON runs BEGIN
    DELETE FROM runs_fts WHERE rowid = old.pk;
END;
CREATE TRIGGER runs_fts_update AFTER UPDATE OF summary, input, error_message ON runs BEGIN
    DELETE FROM runs_fts WHERE rowid = old.pk;
    INSERT INTO runs_fts (rowid, summary, input, error_message)
    VALUES (new.pk, new.summary, new.input, new.error_message);
END;

INSERT INTO runs_fts (rowid, summary, input, error_message)
SELECT pk, summary, input, error_message FROM runs;
