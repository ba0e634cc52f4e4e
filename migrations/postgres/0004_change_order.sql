-- The change log's positions in commit order, with write transactions running
-- side by side (docs/postgres.md, decision 3).
--
-- A change is inserted at a provisional position, the negated next value of the
-- sequence, which no reader's tail ("after my last seq") ever reaches. As its
-- transaction's last statement, `runboard_order_changes()` takes one lock and
-- gives the transaction's changes their real positions, in the order they were
-- written; the lock is held through the commit, so positions become visible in
-- the order they were given and a tail never skips one committed later.
-- Nothing is locked after it, so it cannot take part in a deadlock.
CREATE FUNCTION runboard_order_changes() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Only this transaction's own provisional rows are visible here: others'
    -- are uncommitted, and every commit leaves none behind.
    IF EXISTS (SELECT 1 FROM changes WHERE seq < 0) THEN
        PERFORM pg_advisory_xact_lock(5941311612479893347); -- "Runboard changes"
        UPDATE changes AS c SET seq = n.position
        FROM (SELECT o.provisional,
                     nextval(pg_get_serial_sequence('changes', 'seq')) AS position
              FROM (SELECT seq AS provisional FROM changes WHERE seq < 0
                    ORDER BY seq DESC) AS o) AS n
        WHERE c.seq = n.provisional;
    END IF;
END $$;
