"""What makes an FTS5 merge step long, on one piece of the events' text index.

Builds a contentless_delete=1 FTS5 table like one `event_text_N` piece
(`deletemerge` 0), fills it with `rows` messages, then deletes the oldest 60 %
in transactions of 1,000 rowids, as pruning does, in one of four ways:

  deletes          deletes only, automerge off, merge steps after each 20 deletes
  deletes+ingest   the same while ingest inserts 200 messages per delete into
                   the same table (10 transactions of 20), automerge off
  ingest           that ingest without the deletes
  deletes+notes    automerge on (FTS5's default), each delete transaction also
                   inserts 50 short notes into the same table (pruning's notes)

and prints the hold of the delete transactions and of the merge steps
(`INSERT INTO t(t, rank) VALUES ('merge', pages)`), with the longest five and
the rows each changed. Needs an SQLite with contentless_delete (3.43+), e.g.
`pip install pysqlite3-binary` in a venv:

    python docs/experiments/fts5_merge_steps.py deletes+ingest 500000 16
"""

import os
import random
import sys
import tempfile
import time

import pysqlite3 as sqlite3

WORDS = (
    "fetching page of acme globex initech umbrella hooli stark wayne OK in ms retry "
    "timeout step started completed parsing rows wrote synced contacts deals invoices "
    "events accounts from postgres salesforce hubspot stripe tool call search result "
    "tokens model"
).split()


def message():
    return " ".join(random.choice(WORDS) for _ in range(8)) + f" {random.randint(1, 5000)} ms"


def timed(db, work):
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    before = db.total_changes
    work()
    changed = db.total_changes - before
    db.execute("COMMIT")
    return (time.perf_counter() - started) * 1000, changed


def summary(name, holds):
    if not holds:
        return f"{name}: none"
    ms = sorted(h for h, _ in holds)
    top = ", ".join(f"{h:.1f} ms/{c} rows" for h, c in sorted(holds)[-5:])
    return (f"{name}: {len(ms)}, p50 {ms[len(ms) // 2]:.1f}, p99 {ms[int(len(ms) * 0.99)]:.1f}, "
            f"max {ms[-1]:.1f} ms; longest: {top}")


def main():
    mode, rows, pages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    random.seed(1)
    path = os.path.join(tempfile.mkdtemp(), "piece.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("PRAGMA synchronous=normal")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(message, content='', contentless_delete=1)")
    db.execute("INSERT INTO t(t, rank) VALUES ('deletemerge', 0)")
    for start in range(0, rows, 20_000):
        timed(db, lambda: db.executemany(
            "INSERT INTO t(rowid, message) VALUES (?, ?)",
            ((pk, message()) for pk in range(start + 1, min(start + 20_000, rows) + 1))))
    if mode != "deletes+notes":
        db.execute("INSERT INTO t(t, rank) VALUES ('automerge', 0)")
    deletes, merges, next_pk = [], [], rows + 10
    for number, first in enumerate(range(0, int(rows * 0.6), 1000)):
        if mode != "ingest":
            def delete():
                db.execute("DELETE FROM t WHERE rowid BETWEEN ? AND ?", (first + 1, first + 1000))
                if mode == "deletes+notes":
                    db.executemany("INSERT INTO t(rowid, message) VALUES (?, ?)",
                                   ((first + 1 + n, "events pruned by the retention policy") for n in range(50)))
            deletes.append(timed(db, delete))
        if mode in ("deletes+ingest", "ingest"):
            for _ in range(10):
                pks = range(next_pk, next_pk + 20)
                next_pk += 20
                timed(db, lambda: db.executemany("INSERT INTO t(rowid, message) VALUES (?, ?)",
                                                 ((pk, message()) for pk in pks)))
        if mode != "deletes+notes" and number % 20 == 19:
            while True:
                held, changed = timed(db, lambda: db.execute(
                    "INSERT INTO t(t, rank) VALUES ('merge', ?)", (pages,)))
                merges.append((held, changed))
                if changed < 2:
                    break
    print(f"{mode}, {rows} rows, merge steps of {pages} pages")
    print(" ", summary("deletes", deletes))
    print(" ", summary("merge steps", merges))


if __name__ == "__main__":
    main()
