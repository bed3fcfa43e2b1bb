"""Where query's apply time goes: wall and CPU per read model's applier, per event (no Kafka).

Run: `python bench/query_apply_profile.py [--events 40000]` (needs PostgreSQL on 127.0.0.1).

Decodes the synthetic log (`helpdesk_shared.synthetic_log`) once, then applies it with
`query.store.apply_batch` in batches of 2,000 ordered by topic as a poll returns them, into a fresh
query database with every index (the live consumer's case; a rebuild builds the secondary indexes
after filling its tables). Each applier, and each COPY they make, is timed from outside: the wall
time includes PostgreSQL's work, since every statement waits for its answer.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("shared", "services/query"):
    sys.path.insert(0, str(ROOT / sub))

from helpdesk_shared import localstack, pg, synthetic_log  # noqa: E402
from helpdesk_shared.envelope import from_json_bytes  # noqa: E402
from helpdesk_shared.kafka import Record  # noqa: E402
from query import reports_store, store, timeline_store  # noqa: E402
from query.app import migrate  # noqa: E402
from query.batching import takes_batches  # noqa: E402

spent: dict[str, list[float]] = {}


def timed(name: str, fn):
    """`fn` with its wall and CPU time added to spent[name]; keeps its applier contract."""
    def run(*args):
        wall, cpu = time.monotonic(), time.process_time()
        try:
            return fn(*args)
        finally:
            total = spent.setdefault(name, [0.0, 0.0])
            total[0] += time.monotonic() - wall
            total[1] += time.process_time() - cpu
    run.applies_batch = takes_batches(fn)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    args = parser.parse_args()
    for topic, appliers in store._APPLIERS.items():
        store._APPLIERS[topic] = [(p, timed(f"{topic} → {p} ({fn.__module__}.{fn.__name__})", fn))
                                  for p, fn in appliers]
    for module in (store, timeline_store, reports_store):
        copy = module.copy_rows
        module.copy_rows = lambda conn, table, cols, rows, copy=copy: timed(f"    COPY {table}", copy)(
            conn, table, cols, rows)
    db = f"mesa_profile{uuid.uuid4().hex[:8]}_query"
    url = localstack.create_database(db)
    try:
        migrate(url)  # as `mesa migrate query` makes it (the migrations' tables and SQL functions)
        raw = [(t, synthetic_log.encode(d)) for t, _, d in
               [*synthetic_log.accounts(), *synthetic_log.tickets(args.events // 10)]]
        cpu = time.process_time()
        records = [Record(t, 0, i, from_json_bytes(b)) for i, (t, b) in enumerate(raw)]
        decode = (time.process_time() - cpu) / len(records) * 1e6
        records.sort(key=lambda r: r.topic)  # a poll returns each partition's records together
        with pg.connect(url) as conn:
            wall, cpu = time.monotonic(), time.process_time()
            for k in range(0, len(records), 2000):
                with conn.transaction():
                    store.apply_batch(conn, records[k:k + 2000])
            n = len(records)
            print(f"{n:,} events; decode: CPU {decode:.1f} µs/event; apply: wall {(time.monotonic() - wall) / n * 1e6:.0f}"
                  f" µs/event, CPU {(time.process_time() - cpu) / n * 1e6:.0f} µs/event (this process)")
        for name, (w, c) in sorted(spent.items(), key=lambda x: -x[1][0]):
            print(f"  {name:75s} wall {w / n * 1e6:6.1f} µs/event   CPU {c / n * 1e6:5.1f}")
    finally:
        localstack.drop_database(db)


if __name__ == "__main__":
    main()
