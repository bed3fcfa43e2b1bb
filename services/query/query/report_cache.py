"""Compliance reports remembered per state of query's read model (adapter: in memory, per app).

Why: a 12-month report grouped by module or agent sums the hour rows of 12 months x 2 desks x 2
clocks x every module or agent, then reads the minutes of the hours its medians and p90s fall in:
15-25 ms of database and Python work on an idle machine, two to four times that on a loaded one,
for an answer that changes only when the consumer applies a batch. Every write to the read model
goes through the consumer loop, which stores its offsets in the same transaction (store.apply_batch
+ pg.save_offsets); `mesa rebuild` and `mesa replay` bump the consumer's generation. So the
generation and the stored offsets, read in the same snapshot as the report, name exactly the state
the report was computed from: an entry is served only for that state, never after any batch has
moved an offset (no time to live, nothing to invalidate by hand). What this does not see is a row
changed by hand in the database (what `mesa check query` is for).

A gunicorn worker holds its own entries, at most ENTRIES (least recently used dropped first); one
entry is one page (at most reports.MAX_LIMIT items).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable

import psycopg
from psycopg.pq import TransactionStatus

ENTRIES = 128


def snapshot_state(conn: psycopg.Connection, consumer: str) -> tuple:
    """The consumer's generation and stored offsets, read as the first statement of a repeatable-read
    transaction, so that every later read of the same transaction sees exactly that state. Raises
    if `conn` is already in a transaction (the snapshot would be older than the key)."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("snapshot_state must start the transaction")
    conn.execute("set transaction isolation level repeatable read")
    row = conn.execute("""select coalesce((select generation from consumer_generations where consumer = %(c)s), 0)
                                     as generation,
                                 array(select array[topic, partition::text, next_offset::text] from consumer_offsets
                                       where consumer = %(c)s order by topic, partition) as offsets""",
                       {"c": consumer}).fetchone()
    return (row["generation"], tuple(tuple(o) for o in row["offsets"]))


class ReportCache:
    """At most `entries` answers by key, least recently used dropped first; safe across threads."""

    def __init__(self, consumer: str, entries: int = ENTRIES):
        self.consumer, self.entries = consumer, entries
        self._answers: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def state(self, conn: psycopg.Connection) -> tuple:
        """The read model's state as `conn`'s new transaction sees it (snapshot_state)."""
        return snapshot_state(conn, self.consumer)

    def get_or_compute(self, key: Hashable, compute: Callable[[], object]) -> object:
        """The answer remembered for `key`, or compute()'s (then remembered). Two threads missing the
        same key both compute it: the same answer, and no lock held while the database works."""
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                self.hits += 1
                return self._answers[key]
            self.misses += 1
        answer = compute()
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.entries:
                self._answers.popitem(last=False)
        return answer
