"""SLA timers bench: the SLA service tracking N open tickets (default 1,000,000) — memory held, and
the delay between a deadline and its ResponseOverdue event (p50, p99; target p99 under 1 s).

Run: `python bench/sla_timers_bench.py [--tickets 1000000] [--probes 300] [--graces 1.0,0.3]`
(needs `bin/stack up`: PostgreSQL and Kafka on 127.0.0.1).

What it does, in order:

1. prints the machine (CPU, cores, RAM, kernel, load, Python, PostgreSQL, Kafka, client versions);
2. creates a fresh SLA database (`store.migrate` seeds the default calendars and policies) and
   fresh topics under a prefix of its own; starts the real timer process once on the empty
   database to note its resident memory with no clocks (the baseline);
3. bulk-loads N open tickets' clocks straight into the `clocks` table with COPY: the state
   the service holds after reading N TicketOpened events (no Kafka events exist for them).
   The state documents come from the real `sla.timers.open_clocks` + `store.clocks_to_doc`
   for 2,000 template tickets (desks SOPORTE/IMPLANTACIONES, 90 % normal on the default
   business-hours policy, 10 % urgent on the default 24x7 two-hour policy, opened at random
   instants of the last two days), each row taking a template's document with its own
   ticket id and number and partition `i mod 6`; only templates whose first-response
   deadline lies at least 30 min ahead are kept, so all N are tracked and none falls due
   during the run. Then VACUUM ANALYZE (what autovacuum would do), the sizes of the table
   and its indexes (pg_total_relation_size), and EXPLAIN ANALYZE of `store.fire_due`'s
   select on the N rows (nothing due, and a burst of 500 due) plus its median time;
4. adds a SOPORTE/normal policy version through `store.change_policy` (effective five
   minutes ago): 24x7 first response of --first-response seconds (30);
5. for each grace in --graces (1.0 = the service default, then a smaller one): starts the
   real timer process (`python -m sla.consumer`, env DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS,
   KAFKA_TOPIC_PREFIX, SLA_GRACE_SECONDS) and the relay (`python -m sla.relay`); publishes
   one warm-up ticket and waits until it is tracked; then publishes P probe TicketOpened
   events (`new_event` + `to_json_bytes`, keyed by stream id, to the prefixed
   helpdesk.tickets, occurred_at = the instant of sending), evenly over --spread seconds
   (30), so their deadlines (opened + 30 s) land 30-60 s after the phase starts;
6. a plain kafka-python reader (no group, all partitions of the prefixed helpdesk.sla)
   notes when each probe's ResponseOverdue arrives; per probe:
       fire delay    = event occurred_at (the firing instant) - data.due_at
       arrival delay = arrival at the reader - data.due_at  (the target's figure)
   p50 / p99 / max of both, missing and early (fired before due) counts, target p99 < 1 s;
7. the timer process's RSS (/proc/<pid>/status VmRSS) idle after start with N clocks, the
   maximum during the run and VmHWM; its CPU use; how many firing queries (one per loop) it
   ran per second, over 12 s with no events arriving and over the probe window (from
   pg_stat_user_indexes.idx_scan of `clocks_due`, calibrated per query);
8. stops everything it started (processes, database, topics), also on failure or Ctrl-C,
   prints a summary and saves bench/results/sla-timers-<timestamp>.json.

The grace (SLA_GRACE_SECONDS) is part of the delay by design: the service fires a deadline
only once every partition has been read past `due_at + grace` (`ConsumerLoop.read_past`),
so with the default 1.0 s the delay cannot be under 1 s; the smaller grace shows what the
loop itself adds.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from helpdesk_shared import keys, pg
from helpdesk_shared.config import DEFAULT_KAFKA, env
from helpdesk_shared.envelope import Actor, from_json_bytes, new_event, to_json_bytes
from helpdesk_shared.kafka import make_producer
from helpdesk_shared.localstack import Process, create_database, drop_database
from helpdesk_shared.topics import SLA, TICKETS, TOPICS, WATERMARKS, create_topics
from machine import machine_info, print_fields, proc_cpu_s, save_results
from sla import store, timers
from sla.policy import urgency_class

KAFKA = env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
TARGET_P99_S = 1.0
TEMPLATES = 2_000
PARTITIONS = next(t.partitions for t in TOPICS if t.name == TICKETS)
COPY_CHUNK = 20_000
IDLE_WINDOW_S = 12.0
CUSTOMER = Actor("u-bench-customer", "customer")
SUPERVISOR = Actor("u-bench-supervisor", "supervisor")
CONTACT = {"name": "María Pérez", "email": "maria@clubcaracas.com.ve", "phone": "+582125550100"}
# store.fire_due's select, verbatim.
FIRE_SQL = """select ticket_id, state, fired, sla_version from clocks
                           where partition = any(%s) and next_due <= %s
                           order by next_due limit %s for update skip locked"""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- /proc

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB (empty when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}


class RssSampler(threading.Thread):
    """VmRSS of some processes every half second; keeps the maximum seen."""

    def __init__(self, pids: dict[str, int]):
        super().__init__(daemon=True)
        self.pids = pids
        self.max_kib = {name: 0 for name in pids}
        self.samples = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for name, pid in self.pids.items():
                self.max_kib[name] = max(self.max_kib[name], proc_status(pid).get("VmRSS", 0))
            self.samples += 1
            self.halt.wait(0.5)


def mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


# --------------------------------------------------------------------------- processes

class Services:
    """The timer process and the relay, started with the bench's environment."""

    def __init__(self, workdir: Path, database_url: str, prefix: str):
        self.workdir, self.database_url, self.prefix = workdir, database_url, prefix
        self.started: list[Process] = []
        self.secrets = keys.fresh()  # the services refuse to start without their secrets

    def start(self, name: str, module: str, grace: float) -> Process:
        env_vars = {**os.environ, **self.secrets, "DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
                    "KAFKA_TOPIC_PREFIX": self.prefix, "SLA_GRACE_SECONDS": str(grace), "PYTHONUNBUFFERED": "1"}
        p = Process(name, [sys.executable, "-m", module], env_vars, self.workdir / f"{name}.log").start()
        self.started.append(p)
        return p

    @staticmethod
    def stop(p: Process) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 30 s."""
        try:
            p.kill(signal.SIGTERM)
        except subprocess.TimeoutExpired:
            p.kill(signal.SIGKILL)

    def stop_all(self) -> None:
        for p in self.started:
            try:
                self.stop(p)
            except Exception as exc:  # keep cleaning up
                print(f"  could not stop {p.name}: {exc}", file=sys.stderr)

    @staticmethod
    def wait_log(p: Process, needle: str, seconds: float) -> None:
        """Wait until the process's log holds `needle` (it must stay alive meanwhile)."""
        deadline = time.monotonic() + seconds
        while True:
            if p.log_path.exists() and needle in p.log_path.read_text(errors="replace"):
                return
            if not p.running:
                raise RuntimeError(f"{p.name} exited (rc {p.popen.returncode}); log:\n{tail(p.log_path)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{p.name}: no {needle!r} in its log after {seconds} s:\n{tail(p.log_path)}")
            time.sleep(0.1)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- the reader

class SlaReader(threading.Thread):
    """Reads the prefixed helpdesk.sla from the beginning; notes each ResponseOverdue's arrival."""

    def __init__(self, topic: str):
        super().__init__(daemon=True)
        self.topic = topic
        self.arrivals: dict[str, tuple[datetime, object]] = {}  # ticket_id -> (arrival, envelope)
        self.duplicates = 0
        self.other_events = 0
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition
        consumer = None
        try:
            consumer = KafkaConsumer(bootstrap_servers=KAFKA, group_id=None, enable_auto_commit=False,
                                     fetch_max_wait_ms=50, client_id="sla-bench-reader")
            deadline = time.monotonic() + 30
            while not (parts := consumer.partitions_for_topic(self.topic)):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no metadata for {self.topic}")
                time.sleep(0.2)
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            self.ready.set()
            while not self.halt.is_set():
                polled = consumer.poll(timeout_ms=100)
                arrival = utc_now()
                for messages in polled.values():
                    for m in messages:
                        event = from_json_bytes(m.value)
                        if event.type != "ResponseOverdue":
                            self.other_events += 1
                            continue
                        with self.lock:
                            key = event.data["ticket_id"]
                            if key in self.arrivals:
                                self.duplicates += 1
                            else:
                                self.arrivals[key] = (arrival, event)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.ready.set()
        finally:
            if consumer is not None:
                consumer.close()

    def count(self, ids) -> int:
        with self.lock:
            return sum(1 for i in ids if i in self.arrivals)


# --------------------------------------------------------------------------- bulk load

def ticket_opened(ticket_id: str, number: str, desk: str, urgency: str, when: datetime):
    """A valid TicketOpened envelope."""
    return new_event("TicketOpened", ticket_id, 1, {
        "ticket_id": ticket_id, "number": number, "desk": desk, "organisation_id": "club-caracas",
        "opened_by": CUSTOMER.id, "module": "BANCOS", "case": "Factura mal cargada en el banco Mercantil",
        "subject": "BANCOS, Factura mal cargada en el banco Mercantil",
        "description": "Al conciliar el banco aparece una factura cargada dos veces.", "urgency": urgency,
        "contact": CONTACT}, actor=CUSTOMER, occurred_at=when)


def build_templates(settings: store.Settings, now: datetime, rng: random.Random, count: int) -> list[dict]:
    """Open-ticket clocks whose first response is due at least 30 min from now, as JSON with placeholders."""
    templates, attempts = [], 0
    while len(templates) < count:
        attempts += 1
        if attempts > 200 * count:
            raise RuntimeError(f"only {len(templates)} templates due in the future after {attempts} attempts")
        desk = "SOPORTE" if rng.random() < 0.6 else "IMPLANTACIONES"
        urgent = rng.random() < 0.1
        urgency = rng.choice(("platform_down", "member_billing_stopped")) if urgent else "normal"
        back = rng.uniform(10 * 60, (80 * 60) if urgent else 2 * 86400)  # seconds before now
        when = (now - timedelta(seconds=back)).replace(microsecond=0)
        event = ticket_opened("template", "SOP-1", desk, urgency, when)
        clocks = timers.open_clocks(event, settings.policy_at(desk, urgency_class(urgency), when),
                                    settings.calendar_at(desk, when))
        due = timers.next_due(clocks)
        if due is None or due < now + timedelta(minutes=30):
            continue
        doc = store.clocks_to_doc(clocks)
        doc["ticket_id"], doc["number"] = "@@TID@@", "@@NUM@@"
        text = json.dumps(doc, separators=(",", ":")).replace("\\", "\\\\")  # COPY text escaping
        templates.append({"desk": desk, "code": "SOP" if desk == "SOPORTE" else "IMP", "doc": text,
                          "next_due": due.isoformat(), "due": due, "opened": when})
    return templates


def bulk_load(url: str, n: int, templates: list[dict], rng: random.Random) -> dict:
    """COPY n clocks rows (templates cycled at random); return timings."""
    seq = {"SOP": 0, "IMP": 0}
    t0 = time.perf_counter()
    gen_s = 0.0
    with psycopg.connect(url) as conn:
        with conn.cursor().copy("copy clocks (ticket_id, number, partition, status, state, next_due) "
                                "from stdin") as copy:
            for lo in range(0, n, COPY_CHUNK):
                g0 = time.perf_counter()
                lines = []
                for i in range(lo, min(n, lo + COPY_CHUNK)):
                    t = templates[rng.randrange(len(templates))]
                    seq[t["code"]] += 1
                    tid, number = str(uuid.uuid4()), f"{t['code']}-{seq[t['code']]}"
                    doc = t["doc"].replace("@@TID@@", tid).replace("@@NUM@@", number)
                    lines.append(f"{tid}\t{number}\t{i % PARTITIONS}\topen\t{doc}\t{t['next_due']}\n")
                gen_s += time.perf_counter() - g0
                copy.write("".join(lines))
                if lo and lo % 200_000 == 0:
                    print(f"  ... {lo:,} rows", flush=True)
        conn.commit()
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze clocks")
    return {"copy_seconds": round(load_s, 2), "row_generation_seconds_in_python": round(gen_s, 2),
            "rows_per_s": round(n / load_s), "vacuum_analyze_seconds": round(time.perf_counter() - t1, 2),
            "sop_rows": seq["SOP"], "imp_rows": seq["IMP"]}


def table_sizes(url: str) -> dict:
    with psycopg.connect(url) as conn:
        row = conn.execute("""select pg_total_relation_size('clocks'), pg_relation_size('clocks'),
                                     pg_indexes_size('clocks'), pg_database_size(current_database()),
                                     (select count(*) from clocks)""").fetchone()
        indexes = conn.execute("""select indexrelid::regclass::text, pg_relation_size(indexrelid)
                                  from pg_index where indrelid = 'clocks'::regclass order by 1""").fetchall()
    total, heap, idx, db, rows = row
    return {"rows": rows, "total_bytes": total, "heap_bytes": heap, "indexes_bytes": idx,
            "toast_and_maps_bytes": total - heap - idx, "bytes_per_ticket": round(total / max(rows, 1)),
            "index_bytes": dict(indexes), "database_bytes": db}


def fire_query_cost(url: str) -> dict:
    """EXPLAIN ANALYZE of fire_due's select (nothing due / 500 due) and the median of repeated runs."""
    partitions = list(range(PARTITIONS))
    out = {}
    with psycopg.connect(url) as conn:
        # the instant by which exactly 500 rows are due (a burst the size of fire_due's limit)
        burst = conn.execute("select next_due from clocks where next_due is not null "
                             "order by next_due offset 499 limit 1").fetchone()[0]
        conn.rollback()
        for name, safe in (("nothing_due", utc_now()), ("burst_500_due", burst)):
            plan = conn.execute("explain (analyze, buffers) " + FIRE_SQL, (partitions, safe, 500)).fetchall()
            conn.rollback()  # EXPLAIN ANALYZE took the row locks
            times = []
            for _ in range(21):
                t0 = time.perf_counter()
                conn.execute(FIRE_SQL, (partitions, safe, 500)).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
                conn.rollback()
            text = "\n".join(r[0] for r in plan)
            out[name] = {"safe_time": safe.isoformat(), "plan": text,
                         "uses_index": "clocks_due" in text, "median_ms": round(statistics.median(times), 3),
                         "max_ms": round(max(times), 3)}
        # idx_scan counted per query (a ScalarArrayOp scan may count once per array element);
        # a backend flushes its statistics at most once a second, so force it around the count
        conn.execute("select pg_stat_force_next_flush()")
        conn.commit()
        time.sleep(1.2)
        before = clocks_due_scans(conn)
        for _ in range(10):
            conn.execute(FIRE_SQL, (partitions, utc_now(), 500)).fetchall()
            conn.rollback()
        conn.execute("select pg_stat_force_next_flush()")
        conn.commit()
        time.sleep(1.2)
        out["idx_scans_per_query"] = max(1, round((clocks_due_scans(conn) - before) / 10))
        conn.execute("select pg_stat_force_next_flush()")
        conn.commit()
    return out


def clocks_due_scans(conn) -> int:
    n = conn.execute("select idx_scan from pg_stat_user_indexes where indexrelname = 'clocks_due'").fetchone()[0]
    conn.rollback()
    return n


# --------------------------------------------------------------------------- statistics

def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_s": r3(pct(values, 50)), "p99_s": r3(pct(values, 99)),
            "max_s": r3(max(values) if values else None), "min_s": r3(min(values) if values else None)}


def r3(x):
    return None if x is None else round(x, 3)


# --------------------------------------------------------------------------- one phase

class IntakeWatermarks(threading.Thread):
    """Stands in for intake's relay: every 0.2 s, OutboxDrained(intake, now) on helpdesk.watermarks.

    The bench publishes ticket events straight to Kafka, so "everything before now is
    published" holds; the timer process waits for this watermark before firing (as with intake).
    """

    def __init__(self, prefix: str):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.halt = threading.Event()

    def run(self) -> None:
        producer = make_producer(KAFKA)
        sequence = int(time.time() * 1000)
        try:
            while not self.halt.wait(0.2):
                sequence += 1
                now = utc_now()
                event = new_event("OutboxDrained", "watermark-intake", sequence,
                                  {"source": "intake", "through": now.isoformat()},
                                  actor=Actor("intake-relay", "system"), occurred_at=now)
                producer.send(self.prefix + WATERMARKS, key=event.stream_id, value=to_json_bytes(event))
                producer.flush()
        finally:
            producer.close()


def run_phase(services: Services, url: str, prefix: str, reader: SlaReader, grace: float, probes: int,
              spread: float, first_response: float, serial: int) -> dict:
    """Start the timer process and relay with `grace`, publish the probes, measure their delays."""
    tag = f"g{grace:g}"
    print(f"\n--- grace {grace:g} s: starting sla.consumer and sla.relay", flush=True)
    watermarks = IntakeWatermarks(prefix)
    watermarks.start()
    timer = services.start(f"sla-timers-{tag}", "sla.consumer", grace)
    relay = services.start(f"sla-relay-{tag}", "sla.relay", grace)
    started = time.monotonic()
    cpu0 = proc_cpu_s(timer.popen.pid)
    services.wait_log(timer, "partitions assigned", 90)
    services.wait_log(relay, "relay active", 60)

    producer = make_producer(KAFKA)
    try:
        topic = prefix + TICKETS
        # warm-up: one ticket through the whole path until it is tracked
        warm_id = str(uuid.uuid4())
        warm = ticket_opened(warm_id, f"SOP-{2_000_000_000 + serial * 100_000}", "SOPORTE", "normal", utc_now())
        producer.send(topic, key=warm_id, value=to_json_bytes(warm)).get(timeout=30)
        deadline = time.monotonic() + 60
        with psycopg.connect(url) as conn:
            while conn.execute("select 1 from clocks where ticket_id = %s", (warm_id,)).fetchone() is None:
                conn.rollback()
                if time.monotonic() > deadline or not timer.running:
                    raise RuntimeError(f"warm-up ticket not tracked after 60 s:\n{tail(timer.log_path)}")
                time.sleep(0.1)
        time.sleep(2)
        idle = {"timer": proc_status(timer.popen.pid), "relay": proc_status(relay.popen.pid)}
        print(f"  tracking; timer RSS idle {mib(idle['timer'].get('VmRSS'))} MiB, "
              f"relay {mib(idle['relay'].get('VmRSS'))} MiB", flush=True)

        sampler = RssSampler({"timer": timer.popen.pid, "relay": relay.popen.pid})
        sampler.start()
        # How often the loop runs its firing query, from the clocks_due index scans of the timer's
        # backend (reported about once a second): first with no events arriving, then over the probes.
        with psycopg.connect(url) as conn:
            idle_before, idle_start = clocks_due_scans(conn), time.monotonic()
        time.sleep(IDLE_WINDOW_S)
        with psycopg.connect(url) as conn:
            idle_scans, idle_window = clocks_due_scans(conn) - idle_before, time.monotonic() - idle_start
        with psycopg.connect(url) as conn:
            scans_before, window_start = clocks_due_scans(conn), time.monotonic()
        print(f"  publishing {probes} probes over {spread:g} s (first response {first_response:g} s, 24x7)",
              flush=True)
        sent: dict[str, datetime] = {}
        t0 = time.monotonic()
        futures = []
        for i in range(probes):
            wait = t0 + i * spread / probes - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            tid = str(uuid.uuid4())
            opened_at = utc_now()
            event = ticket_opened(tid, f"SOP-{2_000_000_000 + serial * 100_000 + i + 1}", "SOPORTE", "normal",
                                  opened_at)
            futures.append(producer.send(topic, key=tid, value=to_json_bytes(event)))
            sent[tid] = opened_at
        producer.flush()
        for f in futures:
            f.get(timeout=30)
        last_due = max(sent.values()) + timedelta(seconds=first_response)
        wait_until = time.monotonic() + max(0.0, (last_due - utc_now()).total_seconds()) + 30 + 2 * grace
        while reader.count(sent) < probes and time.monotonic() < wait_until:
            if reader.error:
                raise RuntimeError(f"reader failed: {reader.error!r}")
            if not timer.running or not relay.running:
                raise RuntimeError(f"a process died:\n{tail(timer.log_path)}\n{tail(relay.log_path)}")
            time.sleep(0.2)
        with psycopg.connect(url) as conn:
            scans, window = clocks_due_scans(conn) - scans_before, time.monotonic() - window_start
        sampler.halt.set()
        sampler.join(timeout=5)
        end = {"timer": proc_status(timer.popen.pid), "relay": proc_status(relay.popen.pid)}
        cpu1 = proc_cpu_s(timer.popen.pid)
    finally:
        producer.close()
        watermarks.halt.set()
        watermarks.join(timeout=5)
    wall = time.monotonic() - started
    services.stop(timer)
    services.stop(relay)

    fire, arrive, transport, early, wrong_due, versions = [], [], [], 0, 0, set()
    with reader.lock:
        got = {tid: reader.arrivals[tid] for tid in sent if tid in reader.arrivals}
    for tid, (arrival, event) in got.items():
        due = datetime.fromisoformat(event.data["due_at"])
        expected = sent[tid] + timedelta(seconds=first_response)
        if abs((due - expected).total_seconds()) > 1e-3:
            wrong_due += 1
        versions.add(event.data.get("policy_version"))
        fire.append((event.occurred_at - due).total_seconds())
        arrive.append((arrival - due).total_seconds())
        transport.append((arrival - event.occurred_at).total_seconds())
        early += event.occurred_at < due
    arrival_summary = summary(arrive)
    return {
        "grace_s": grace, "probes": probes, "received": len(got), "missing": probes - len(got),
        "fired_before_due": early, "due_at_not_opened_plus_first_response": wrong_due,
        "policy_versions_pinned": sorted(v for v in versions if v is not None),
        "fire_delay": summary(fire), "fire_delay_minus_grace": summary([f - grace for f in fire]),
        "arrival_delay": arrival_summary, "relay_to_reader": summary(transport),
        "target_p99_s": TARGET_P99_S,
        "target_met": arrival_summary["p99_s"] is not None and arrival_summary["p99_s"] < TARGET_P99_S
        and len(got) == probes,
        "deadlines_span_s": r3((max(sent.values()) - min(sent.values())).total_seconds() if sent else None),
        "timer_rss_idle_mib": mib(idle["timer"].get("VmRSS")),
        "timer_rss_max_during_run_mib": mib(sampler.max_kib["timer"]),
        "timer_vmhwm_mib": mib(end["timer"].get("VmHWM")),
        "relay_rss_idle_mib": mib(idle["relay"].get("VmRSS")),
        "relay_rss_max_during_run_mib": mib(sampler.max_kib["relay"]),
        "rss_samples": sampler.samples,
        "timer_process_wall_s": round(wall, 1),
        "timer_cpu_cores": round((cpu1 - cpu0) / wall, 3) if cpu0 is not None and cpu1 is not None else None,
        "clocks_due_idx_scans_idle": idle_scans, "idle_window_s": round(idle_window, 1),
        "clocks_due_idx_scans_in_probe_window": scans, "probe_window_s": round(window, 1),
    }


# --------------------------------------------------------------------------- main

def _interrupted(*_) -> None:
    raise KeyboardInterrupt("SIGTERM")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000, help="open tickets bulk-loaded (1000000)")
    parser.add_argument("--probes", type=int, default=300, help="probe tickets per grace (300)")
    parser.add_argument("--graces", default="1.0,0.3", help="SLA_GRACE_SECONDS values, comma-separated (1.0,0.3)")
    parser.add_argument("--spread", type=float, default=30.0, help="seconds over which probes open (30)")
    parser.add_argument("--first-response", type=float, default=30.0, help="probe policy, seconds (30)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    args = parser.parse_args(argv)
    graces = [float(g) for g in args.graces.split(",") if g.strip()]
    if args.tickets < 500 or args.probes < 1 or not graces:
        parser.error("need --tickets >= 500, --probes >= 1 and at least one grace")

    # SIGTERM behaves like Ctrl-C: the finally blocks clean up.
    signal.signal(signal.SIGTERM, _interrupted)

    machine = machine_info(packages=("psycopg", "kafka-python", "marshmallow"), pg_settings=("shared_buffers",))
    print_fields("machine", machine)

    run_id = uuid.uuid4().hex[:8]
    prefix, db = f"bsla{run_id}.", f"mesa_bsla{run_id}"
    workdir = Path(tempfile.mkdtemp(prefix="sla-timers-bench-"))
    result: dict = {"machine": machine, "tickets": args.tickets, "probes_per_grace": args.probes,
                    "graces_s": graces, "spread_s": args.spread, "first_response_s": args.first_response,
                    "seed": args.seed}
    created_db = created_topics = False
    services: Services | None = None
    reader: SlaReader | None = None
    ok = False
    try:
        print(f"\nrun {run_id}: database {db}, topic prefix {prefix!r}, logs {workdir}", flush=True)
        url = create_database(db)
        created_db = True
        create_topics(KAFKA, prefix=prefix)
        created_topics = True
        store.migrate(url)
        services = Services(workdir, url, prefix)

        # baseline: the timer process with no clocks at all
        p = services.start("sla-timers-empty", "sla.consumer", graces[0])
        services.wait_log(p, "partitions assigned", 90)
        time.sleep(3)
        result["timer_rss_empty_db_mib"] = mib(proc_status(p.popen.pid).get("VmRSS"))
        services.stop(p)
        print(f"timer process on an empty database: RSS {result['timer_rss_empty_db_mib']} MiB", flush=True)

        now = utc_now()
        rng = random.Random(args.seed)
        with pg.connect(url) as conn:
            settings = store.load_settings(conn)
        templates = build_templates(settings, now, rng, min(TEMPLATES, args.tickets))
        dues = [t["due"] for t in templates]
        print(f"\nbulk-loading {args.tickets:,} open tickets' clocks with COPY (state docs from "
              f"open_clocks + clocks_to_doc for {len(templates)} templates) ...\n"
              f"  = the state the SLA service holds after reading {args.tickets:,} TicketOpened events "
              f"(loaded directly; no Kafka events exist for them)", flush=True)
        load = bulk_load(url, args.tickets, templates, rng)
        load["first_response_due_from"] = min(dues).isoformat()
        load["first_response_due_until"] = max(dues).isoformat()
        load["templates"] = len(templates)
        result["bulk_load"] = load
        print(f"  COPY {load['copy_seconds']} s ({load['rows_per_s']:,} rows/s, of which "
              f"{load['row_generation_seconds_in_python']} s building rows in Python); "
              f"VACUUM ANALYZE {load['vacuum_analyze_seconds']} s", flush=True)
        print(f"  first-response deadlines from {min(dues):%Y-%m-%d %H:%M} to {max(dues):%Y-%m-%d %H:%M} UTC "
              f"(none due during the run)")
        sizes = table_sizes(url)
        result["clocks_table"] = sizes
        print(f"  clocks: {sizes['rows']:,} rows, {sizes['total_bytes'] / 2**20:.1f} MiB total "
              f"(heap {sizes['heap_bytes'] / 2**20:.1f}, indexes {sizes['indexes_bytes'] / 2**20:.1f}, "
              f"toast+maps {sizes['toast_and_maps_bytes'] / 2**20:.1f}); "
              f"{sizes['bytes_per_ticket']} bytes/ticket", flush=True)

        cost = fire_query_cost(url)
        result["fire_query"] = cost
        for name in ("nothing_due", "burst_500_due"):
            print(f"\nfire_due select, {name.replace('_', ' ')} (EXPLAIN ANALYZE on {sizes['rows']:,} rows; "
                  f"median of 21 runs {cost[name]['median_ms']} ms):")
            print("  " + cost[name]["plan"].replace("\n", "\n  "))

        # the probes' policy: SOPORTE/normal, 24x7 first response of a few seconds
        policy_doc = {"first_response": {"minutes": args.first_response / 60, "clock": "24x7"},
                      "next_response": {"minutes": 480, "clock": "business"},
                      "auto_close_warning": {"minutes": 480, "clock": "business"},
                      "auto_close": {"minutes": 960, "clock": "business"}}
        with pg.connect(url) as conn:
            v = store.change_policy(conn, "SOPORTE", "normal", policy_doc, utc_now() - timedelta(minutes=5),
                                    SUPERVISOR, utc_now())
        result["probe_policy"] = {"desk": "SOPORTE", "urgency_class": "normal", "version": v, "doc": policy_doc}
        print(f"\nprobe policy: SOPORTE/normal version {v}, first response {args.first_response:g} s on the "
              f"24x7 clock (store.change_policy, effective five minutes ago)")

        reader = SlaReader(prefix + SLA)
        reader.start()
        reader.ready.wait(40)
        if reader.error:
            raise RuntimeError(f"reader failed: {reader.error!r}")

        result["phases"] = []
        for serial, grace in enumerate(graces):
            phase = run_phase(services, url, prefix, reader, grace, args.probes, args.spread,
                              args.first_response, serial)
            phase["fire_queries_per_s"] = round(phase["clocks_due_idx_scans_in_probe_window"]
                                                / cost["idx_scans_per_query"] / phase["probe_window_s"], 1)
            phase["fire_queries_per_s_idle"] = round(phase["clocks_due_idx_scans_idle"]
                                                     / cost["idx_scans_per_query"] / phase["idle_window_s"], 1)
            for key in ("", "_idle"):
                rate = phase[f"fire_queries_per_s{key}"]
                phase[f"loop_period_ms{key}"] = round(1000 / rate) if rate else None
            result["phases"].append(phase)
            print_phase(phase)
        result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        result["reader_duplicates"] = reader.duplicates
        print_summary(result)
        save_results("sla-timers", result)
        ok = True
    finally:
        print("\ncleaning up ...", flush=True)
        if reader is not None:
            reader.halt.set()
            reader.join(timeout=10)
        if services is not None:
            services.stop_all()
        if created_db:
            try:
                drop_database(db)
            except Exception as exc:
                print(f"  could not drop {db}: {exc}", file=sys.stderr)
        if created_topics:
            try:
                from kafka.admin import KafkaAdminClient
                admin = KafkaAdminClient(bootstrap_servers=KAFKA, client_id="sla-bench-cleanup")
                try:
                    admin.delete_topics([prefix + t.name for t in TOPICS])
                finally:
                    admin.close()
            except Exception as exc:
                print(f"  could not delete topics {prefix}*: {exc}", file=sys.stderr)
        if ok and not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"  process logs kept in {workdir}")
        print("  done: processes stopped, database dropped, topics deleted")
    return 0


def print_phase(p: dict) -> None:
    print(f"  received {p['received']}/{p['probes']} (missing {p['missing']}, fired before due "
          f"{p['fired_before_due']}, wrong due_at {p['due_at_not_opened_plus_first_response']}, "
          f"policy versions {p['policy_versions_pinned']})")
    for name in ("fire_delay", "fire_delay_minus_grace", "arrival_delay", "relay_to_reader"):
        s = p[name]
        print(f"  {name:22} p50 {s['p50_s']} s  p99 {s['p99_s']} s  max {s['max_s']} s  min {s['min_s']} s")
    print(f"  timer RSS idle {p['timer_rss_idle_mib']} MiB, max during run {p['timer_rss_max_during_run_mib']} "
          f"MiB, VmHWM {p['timer_vmhwm_mib']} MiB; CPU {p['timer_cpu_cores']} cores; "
          f"firing queries (one per loop): ~{p['fire_queries_per_s_idle']}/s with no events arriving (a loop "
          f"every ~{p['loop_period_ms_idle']} ms), ~{p['fire_queries_per_s']}/s while probes arrive "
          f"(~{p['loop_period_ms']} ms)", flush=True)


def print_summary(r: dict) -> None:
    load, size = r["bulk_load"], r["clocks_table"]
    print("\n" + "=" * 78)
    print(f"SLA timers bench — {r['tickets']:,} open tickets tracked (bulk-loaded clocks), "
          f"{r['probes_per_grace']} probes per grace")
    print(f"machine       {r['machine']['cpu_model']}, {r['machine']['cores']} cores, "
          f"{r['machine']['ram_gib']} GiB; load {r['machine']['load_average']} -> {r['load_average_end']}")
    print(f"bulk load     COPY {load['copy_seconds']} s ({load['rows_per_s']:,} rows/s) + "
          f"VACUUM ANALYZE {load['vacuum_analyze_seconds']} s")
    print(f"PostgreSQL    clocks table + indexes {size['total_bytes'] / 2**20:.1f} MiB "
          f"({size['bytes_per_ticket']} bytes/ticket; indexes {size['indexes_bytes'] / 2**20:.1f} MiB)")
    fq = r["fire_query"]
    print(f"fire query    index clocks_due used: {fq['nothing_due']['uses_index']}; median "
          f"{fq['nothing_due']['median_ms']} ms nothing due, {fq['burst_500_due']['median_ms']} ms with 500 due")
    print(f"timer RSS     empty db {r['timer_rss_empty_db_mib']} MiB; with {r['tickets']:,} clocks: "
          + "; ".join(f"grace {p['grace_s']:g}: idle {p['timer_rss_idle_mib']}, max {p['timer_rss_max_during_run_mib']}"
                      f" MiB" for p in r["phases"]))
    for p in r["phases"]:
        a, f = p["arrival_delay"], p["fire_delay"]
        default = " (service default)" if p["grace_s"] == 1.0 else ""
        print(f"grace {p['grace_s']:g} s{default}: deadline -> event readable p50 {a['p50_s']} s, p99 {a['p99_s']} s, "
              f"max {a['max_s']} s | deadline -> fired p50 {f['p50_s']} s, p99 {f['p99_s']} s | missing "
              f"{p['missing']} | target p99 < {TARGET_P99_S:g} s: {'met' if p['target_met'] else 'NOT met'}")
    print("=" * 78)


if __name__ == "__main__":
    sys.exit(main())
