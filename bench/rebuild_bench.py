"""Rebuild bench: events/s of `mesa rebuild query` against the raw kafka-python consume rate of the same topics.

Run: `python bench/rebuild_bench.py [--events 1000000] [--events-per-ticket 10] [--skip-rebuild]`
(needs `bin/stack up`: PostgreSQL and Kafka on 127.0.0.1).

What it does:

1. prints the machine and how busy it already is;
2. creates a fresh query database and fresh topics under a run prefix (both removed at the
   end, also on failure or Ctrl-C), and produces the log with kafka-python: the accounts of
   `helpdesk_shared.synthetic_log` and then its tickets (`--events-per-ticket` messages each:
   opened, assigned, answered, a mail sent, replied, a note, away, back, answered, closed), valid
   envelopes written straight to the prefixed topics, `--events` in all;
3. ceiling: a plain KafkaConsumer assigned every partition of query's four topics reads them
   from offset 0 to their end offsets (no decoding, nothing applied): messages/s;
4. decode only: the same read, each message decoded and validated as the consumer does
   (`envelope.from_json_bytes`): how much of the rebuild's time the envelope schema takes;
5. the rebuild itself, as `mesa rebuild query` runs it (`helpdesk_shared.rebuild.rebuild` with
   query's read model: replay into a scratch schema with `query.store.apply_batch`, then the
   swap): events/s, the CPU seconds of this process and of the PostgreSQL backends serving
   the bench's database (BackendCpu);
6. prints the ratio rebuild / ceiling (target of issue 8: at least 50 %) and saves everything
   to bench/results/rebuild-<timestamp>.json.

The three reads run one after the other in this one process, in the same run, on the same
topics. No query consumer runs meanwhile (the rebuild's live-consumer handshake then costs
nothing but the generation row).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("shared", "services/intake", "services/query", "services/sla", "services/notifier"):
    sys.path.insert(0, str(ROOT / sub))

from machine import machine_info, machine_ticks, print_block, print_fields, save_results  # noqa: E402

from helpdesk_shared import localstack, synthetic_log  # noqa: E402
from helpdesk_shared.config import DEFAULT_KAFKA, env  # noqa: E402
from helpdesk_shared.envelope import from_json_bytes  # noqa: E402
from helpdesk_shared.kafka import make_producer  # noqa: E402
from helpdesk_shared.topics import create_topics  # noqa: E402


def produce(bootstrap: str, prefix: str, events: int, per_ticket: int) -> dict:
    """Write the accounts and ⌈events / per_ticket⌉ tickets' messages; stop at `events`."""
    producer = make_producer(bootstrap, linger_ms=50, batch_size=512 * 1024, acks=1, enable_idempotence=False,
                             max_in_flight_requests_per_connection=5)
    started, n = time.monotonic(), 0
    for topic, key, doc in synthetic_log.accounts():
        producer.send(prefix + topic, key=key, value=synthetic_log.encode(doc))
        n += 1
    for topic, key, doc in synthetic_log.tickets(-(-(events - n) // per_ticket), per_ticket):
        if n >= events:
            break
        producer.send(prefix + topic, key=key, value=synthetic_log.encode(doc))
        n += 1
        if n % 100_000 == 0:
            print(f"  produced {n:,}", flush=True)
    producer.flush()
    producer.close()
    seconds = time.monotonic() - started
    return {"events": n, "seconds": round(seconds, 2), "events_per_s": round(n / seconds)}


def read_all(bootstrap: str, topics: list[str], decode: bool) -> dict:
    """Read every message of `topics` from offset 0 to their end offsets with a plain KafkaConsumer."""
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", fetch_max_wait_ms=100, client_id="mesa-bench")
    parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    ends = consumer.end_offsets(parts)
    total = sum(ends.values())
    cpu0, started, n, size = time.process_time(), time.monotonic(), 0, 0
    while n < total:
        for messages in consumer.poll(timeout_ms=500, max_records=2000).values():
            for m in messages:
                size += len(m.value)
                if decode:
                    from_json_bytes(m.value)
            n += len(messages)
    seconds = time.monotonic() - started
    consumer.close()
    return {"events": n, "bytes": size, "seconds": round(seconds, 2), "events_per_s": round(n / seconds),
            "cpu_s": round(time.process_time() - cpu0, 2)}


class BackendCpu:
    """CPU seconds (utime + stime) of the PostgreSQL backends serving one database, sampled in a thread.

    Summing every postgres process of the machine counted the other sessions' work on the shared
    server (and went negative when their backends exited); a backend's title names its database,
    so only this run's are counted, each at the last value seen before it exited (sampled every
    0.2 s: a backend that lives less than that is missed, e.g. a one-statement connection)."""

    def __init__(self, database: str):
        self.database, self.seen, self.stop = database, {}, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if self.database.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                self.seen[pid] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                continue

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self._sample()

    def __enter__(self) -> "BackendCpu":
        self._sample()
        self.start = dict(self.seen)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        """CPU the database's backends spent since __enter__."""
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.seen.items())


def _interrupt(*_) -> None:
    raise KeyboardInterrupt  # the `finally` below drops the database and deletes the topics


def main() -> None:
    # Also when started in the background (where SIGINT is ignored) or stopped with SIGTERM.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--events-per-ticket", type=int, default=10)
    parser.add_argument("--skip-rebuild", action="store_true", help="only the two reads")
    args = parser.parse_args()
    bootstrap = env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    info = machine_info(packages=("kafka-python", "crc32c", "psycopg", "marshmallow"), pg_settings=("shared_buffers",
                                                                                          "synchronous_commit"))
    print_fields("machine", info)
    run = uuid.uuid4().hex[:8]
    prefix, db = f"bench{run}.", f"mesa_bench{run}_query"
    results: dict = {"machine": info, "events_requested": args.events, "events_per_ticket": args.events_per_ticket,
                     "command": " ".join(["python", "bench/rebuild_bench.py", *sys.argv[1:]])}
    url = None
    try:
        url = localstack.create_database(db)
        create_topics(bootstrap, prefix=prefix)
        from query.app import migrate
        from query.rebuild import read_model
        # As `mesa migrate query` makes it: the rebuild's scratch schema takes the migrations' tables
        # but finds their SQL functions (mesa_ticket_search, ...) in the live schema.
        migrate(url)
        model = read_model(prefix)
        print(f"producing {args.events:,} events to {prefix}* ...", flush=True)
        results["produce"] = produce(bootstrap, prefix, args.events, args.events_per_ticket)
        print_block("produce", results["produce"])
        total0, idle0 = machine_ticks()
        results["ceiling_raw_consume"] = read_all(bootstrap, model.topics, decode=False)
        print_block("ceiling: raw kafka-python consume", results["ceiling_raw_consume"])
        results["read_and_decode"] = read_all(bootstrap, model.topics, decode=True)
        print_block("read + decode (envelope schema)", results["read_and_decode"])
        if not args.skip_rebuild:
            from helpdesk_shared.cli import ProgressBar
            from helpdesk_shared.rebuild import rebuild
            cpu0 = time.process_time()
            bar = ProgressBar("rebuilding query", every=10)
            with BackendCpu(db) as backends:
                done = rebuild(url, bootstrap, model, progress=bar)
            bar.close()
            results["rebuild"] = {"events": done.events, "seconds": round(done.seconds, 2),
                                  "events_per_s": round(done.events / done.seconds),
                                  "cpu_s_bench_process": round(time.process_time() - cpu0, 2),
                                  "cpu_s_postgres_backends": round(backends.seconds, 2)}
            print_block("rebuild (read, decode, apply, swap)", results["rebuild"])
            results["rebuild_share_of_ceiling"] = round(results["rebuild"]["events_per_s"]
                                                        / results["ceiling_raw_consume"]["events_per_s"], 3)
        total1, idle1 = machine_ticks()
        results["machine_busy_share_during_reads"] = round(1 - (idle1 - idle0) / (total1 - total0), 3)
        print_block("summary", {k: results.get(k) for k in ("rebuild_share_of_ceiling",
                                                             "machine_busy_share_during_reads")})
        save_results("rebuild", results)
    finally:
        if url:
            localstack.drop_database(db)
        from kafka.admin import KafkaAdminClient
        from helpdesk_shared.topics import TOPICS
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.delete_topics([prefix + t.name for t in TOPICS])
        except Exception as exc:  # noqa: BLE001 -- topics never created: nothing to delete
            print(f"topics not deleted: {exc}")
        finally:
            admin.close()


if __name__ == "__main__":
    main()
