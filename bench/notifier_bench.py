"""Notifier bench: mails/s from a backlog, and event→SMTP-accepted delay at a steady rate.

Run: `python bench/notifier_bench.py [--backlog 10000] [--rate 50] [--duration 30]`
(needs `bin/stack up`: PostgreSQL and Kafka on 127.0.0.1; aiosmtpd, which the tests use).

What it does:

1. prints the machine (CPU, cores, RAM, kernel, Python, PostgreSQL, library versions) and the
   load other work already puts on it (the machine may be shared: every phase also reports
   how busy the whole machine was);
2. creates a fresh notifier database and fresh topics under a run prefix (both dropped /
   deleted at the end, also on failure or Ctrl-C / SIGTERM), and starts a local SMTP sink:
   an aiosmtpd Controller on 127.0.0.1 (free port) in a *subprocess* of its own, so that
   the bench's own Python work (building and publishing events, polling the database) can
   never hold a GIL the sink needs to timestamp a mail. The sink notes the wall-clock time
   of each accepted mail (at `handle_DATA`, just before it answers 250) with its
   Message-ID and subject, one line per mail, in a file the bench reads;
3. backlog phase: publishes one UserRegistered (a customer) to <prefix>helpdesk.accounts,
   then N TicketOpened events (distinct ticket ids and numbers, that customer's contact
   e-mail, occurred_at = now) to <prefix>helpdesk.tickets, all BEFORE the notifier runs;
   then starts `python -m notifier.consumer` and `python -m notifier.sender` and measures
   from their start to the N-th mail accepted by the sink (mails/s), plus when the consumer
   had recorded all N mails (polled `count(*)` of `mails`, and the table's created_at) vs
   when the sender had delivered them (sink, and the table's sent_at);
4. steady phase: with both processes running, publishes TicketOpened events open-loop at R
   events/s for D seconds (fixed schedule, not waiting for anything), each with
   occurred_at = the instant it is published; delay = sink arrival − occurred_at, reported
   as p50 / p90 / p99 / max and the count of mails missing after a bounded drain;
5. reports the CPU seconds of the consumer, the sender, their PostgreSQL backends, the sink
   and the bench itself per phase (from /proc/<pid>/stat), and the machine's busy share;
6. prints a summary block and saves everything to bench/results/notifier-<timestamp>.json.

Each TicketOpened makes exactly one mail (`ticket_opened_queue` to the desk's queue, QUEUE_ADDRESS
set below; normal urgency, so no on-call alert, and the customer's `ticket_received` waits for
the SLA service's DeadlineSet, which this bench does not publish). The bench
knows each event's id, so it computes the Message-ID the notifier derives for that mail
(`notifier.store.message_id(mail_key(...))`) and matches sink arrivals to events exactly;
duplicates (the same Message-ID accepted twice) and strays are counted.

Only the consumer and the sender run (not notifier.relay or the inbound server): the
NotificationSent rows the sender writes to its outbox stay unpublished, as with a relay that
is down; that costs the sender nothing extra. `--profile` runs both under cProfile and
prints where their time goes (figures are then inflated by the profiler; use it to explain a
bottleneck, not for the headline).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

from machine import command_line, machine_info, machine_ticks, print_block, print_fields, proc_cpu_s, save_results

SINK_MODE = "_sink"  # `python bench/notifier_bench.py _sink PORT FILE READY`: the SMTP sink subprocess
REPLY_DOMAIN = "mesa.bench"
TEMPLATE = "ticket_opened_queue"
QUEUE_ADDRESS = "cola-soporte@mesa.bench"


# --------------------------------------------------------------------------- the SMTP sink (subprocess)

def sink_main(port: int, out_path: str, ready_path: str) -> int:
    """An aiosmtpd server on 127.0.0.1:port writing `arrival<TAB>Message-ID<TAB>subject` per accepted mail."""
    import logging
    from email.header import decode_header, make_header
    from email.parser import BytesHeaderParser

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    out = open(out_path, "a", buffering=1, encoding="utf-8")  # line-buffered: one write(2) per mail
    parser = BytesHeaderParser()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            arrived = time.time()  # the whole message is in; the 250 goes out right after this returns
            content = envelope.original_content or envelope.content
            head = content.split(b"\r\n\r\n", 1)[0]
            headers = parser.parsebytes(head)
            message_id = " ".join(str(headers.get("Message-ID") or "").split())
            try:
                subject = " ".join(str(make_header(decode_header(str(headers.get("Subject") or "")))).split())
            except Exception:  # noqa: BLE001 - a garbled subject is still an accepted mail
                subject = "?"
            out.write(f"{arrived:.6f}\t{message_id}\t{subject.replace(chr(9), ' ')}\n")
            return "250 2.0.0 OK"

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    Path(ready_path).write_text(str(os.getpid()))
    try:
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()
        out.close()
    return 0


class SinkLog:
    """The bench's view of the sink's file: arrivals per Message-ID, read incrementally."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.rest = b""
        self.arrivals: dict[str, list[float]] = {}
        self.subjects: dict[str, str] = {}
        self.total = 0

    def refresh(self) -> int:
        """Read the lines appended since the last call; return how many mails the sink accepted so far."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return self.total
        self.offset += len(chunk)
        data = self.rest + chunk
        lines = data.split(b"\n")
        self.rest = lines.pop()  # an incomplete last line waits for the next call
        for raw in lines:
            arrived, message_id, subject = raw.decode("utf-8", "replace").split("\t", 2)
            self.arrivals.setdefault(message_id, []).append(float(arrived))
            self.subjects.setdefault(message_id, subject)
            self.total += 1
        return self.total


# --------------------------------------------------------------------------- machine, CPU

def background_load(seconds: float = 3.0) -> dict:
    """How busy the machine is before the bench starts anything, and by whom."""
    def snap():
        out = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                cpu = proc_cpu_s(int(entry.name))
                if cpu is not None:
                    out[int(entry.name)] = cpu
        return out
    before, (t0, i0) = snap(), machine_ticks()
    time.sleep(seconds)
    after, (t1, i1) = snap(), machine_ticks()
    top = sorted(((after[p] - before.get(p, after[p])) / seconds, p) for p in after)[::-1][:4]
    return {"machine_busy_percent": round(100 * (1 - (i1 - i0) / max(t1 - t0, 1e-9)), 1),
            "busiest_processes": [f"{c:.2f} cores: pid {p} {command_line(p)}" for c, p in top if c >= 0.05]}


class Cpu:
    """CPU seconds of the processes under test, snapshot by snapshot."""

    def __init__(self, pids: dict[str, int], pg_conn, database: str):
        self.pids = pids
        self.pg_conn = pg_conn
        self.database = database

    def _pg_backends(self) -> list[int]:
        rows = self.pg_conn.execute("select pid from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                                    (self.database,)).fetchall()
        return [r[0] for r in rows]

    def snapshot(self) -> dict:
        wall = time.monotonic()
        total, idle = machine_ticks()
        per = {name: proc_cpu_s(pid) for name, pid in self.pids.items()}
        backends = {pid: proc_cpu_s(pid) for pid in self._pg_backends()}
        return {"wall": wall, "total": total, "idle": idle, "per": per,
                "backends": {p: c for p, c in backends.items() if c is not None}}

    @staticmethod
    def between(a: dict, b: dict, mails: int | None = None) -> dict:
        """CPU seconds per process from snapshot a to b (cores = seconds / wall; ms per mail)."""
        wall = b["wall"] - a["wall"]
        used = {}
        for name, after in b["per"].items():
            before = a["per"].get(name)
            if after is not None:
                used[name] = after - (before or 0.0)
        # Backends alive at b count from a (or from zero when they started meanwhile).
        used["postgres backends (notifier db)"] = sum(c - a["backends"].get(p, 0.0) for p, c in b["backends"].items())
        busy = 1 - (b["idle"] - a["idle"]) / max(b["total"] - a["total"], 1e-9)
        out = {"wall_s": round(wall, 2), "machine_busy_percent": round(busy * 100, 1),
               "cpu_s": {k: round(v, 2) for k, v in used.items()},
               "cores": {k: round(v / wall, 2) for k, v in used.items()} if wall > 0 else {}}
        if mails:
            out["cpu_ms_per_mail"] = {k: round(1000 * v / mails, 2) for k, v in used.items()}
        return out


# --------------------------------------------------------------------------- small helpers

def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100), None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def rnd(x: float | None, n: int = 2) -> float | None:
    return None if x is None else round(x, n)


def wait_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# --------------------------------------------------------------------------- events

class Events:
    """TicketOpened events of one customer, and the Message-ID the notifier gives each one's mail."""

    def __init__(self, run_id: str):
        from helpdesk_shared.envelope import Actor, new_event, to_json_bytes
        from notifier import store
        self.new_event, self.to_json_bytes, self.store = new_event, to_json_bytes, store
        self.run_id = run_id
        self.user_id = f"bench-customer-{run_id}"
        self.organisation_id = f"bench-org-{run_id}"
        self.email = "maria.bench@clubcaracas.com.ve"
        self.name = "María Bench"
        self.actor = Actor(id=self.user_id, role="customer")

    def user_registered(self):
        from helpdesk_shared.envelope import SYSTEM
        return self.new_event("UserRegistered", f"user-{self.user_id}", 1,
                              {"user_id": self.user_id, "email": self.email, "name": self.name, "role": "customer",
                               "organisation_id": self.organisation_id, "desks": ["SOPORTE"], "language": "es",
                               "phone": "+58 212 555 0199"}, actor=SYSTEM, occurred_at=datetime.now(timezone.utc))

    def ticket_opened(self, n: int, occurred_at: datetime):
        ticket_id = f"bench-{self.run_id}-{n}"
        data = {"ticket_id": ticket_id, "number": f"SOP-{n}", "desk": "SOPORTE",
                "organisation_id": self.organisation_id, "opened_by": self.user_id, "module": "FACTURACION",
                "case": f"Factura de cuota de mantenimiento duplicada (caso {n})",
                "subject": f"Factura duplicada del socio {n}",
                "description": "La cuota de mantenimiento de noviembre aparece dos veces en el estado de cuenta.",
                "urgency": "normal", "language": "es",
                "contact": {"name": self.name, "email": self.email, "phone": "+58 212 555 0199"}}
        return self.new_event("TicketOpened", ticket_id, 1, data, actor=self.actor, occurred_at=occurred_at)

    def message_id(self, event) -> str:
        """The Message-ID of the queue mail `event` makes (the notifier's own derivation)."""
        mail = SimpleNamespace(recipient=SimpleNamespace(email=QUEUE_ADDRESS), template=TEMPLATE)
        return self.store.message_id(self.store.mail_key(event, mail), REPLY_DOMAIN)


# --------------------------------------------------------------------------- the run

class Bench:
    """Everything one run starts, and how to stop it all."""

    def __init__(self, args):
        from helpdesk_shared import keys
        from helpdesk_shared.config import DEFAULT_KAFKA, env
        from helpdesk_shared.localstack import PG_BASE_URL
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        self.secrets = keys.fresh()  # this run's own secrets (services refuse to start without them)
        self.prefix = f"nbench{self.run_id}."
        self.database = f"mesa_nbench_{self.run_id}"
        self.database_url = f"{PG_BASE_URL}/{self.database}"
        self.kafka = env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
        for host_port in self.kafka.split(","):
            if host_port.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
                raise SystemExit(f"this bench only talks to 127.0.0.1, not Kafka at {host_port}")
        if not PG_BASE_URL.split("@")[-1].startswith("127.0.0.1"):
            raise SystemExit(f"this bench only talks to 127.0.0.1, not PostgreSQL at {PG_BASE_URL}")
        self.workdir = Path(tempfile.mkdtemp(prefix="notifier-bench-"))
        self.sink_port = None
        self.sink_proc: subprocess.Popen | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.producer = None
        self.pg = None
        self.db_created = False
        self.topics_created = False
        self.cleanup_report: dict = {}

    # ---------------------------------------------------------------- setup

    def setup(self) -> None:
        import psycopg

        from helpdesk_shared.kafka import make_producer, wait_for_topics
        from helpdesk_shared.localstack import PG_BASE_URL, create_database, free_port
        from helpdesk_shared.topics import ACCOUNTS, SLA, TICKETS, create_topics
        create_database(self.database)
        self.db_created = True
        self.topics_created = True  # set first: a half-done creation is still deleted
        create_topics(self.kafka, prefix=self.prefix)
        wait_for_topics(self.kafka, [self.prefix + t for t in (TICKETS, SLA, ACCOUNTS)])
        self.pg = psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True)  # for pg_stat_activity
        self.sink_port = free_port()
        self.sink_file = self.workdir / "sink.tsv"
        ready = self.workdir / "sink.ready"
        self.logs["sink"] = self.workdir / "sink.log"
        with open(self.logs["sink"], "ab") as log:
            self.sink_proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), SINK_MODE, str(self.sink_port), str(self.sink_file),
                 str(ready)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self.sink_proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SMTP sink did not start:\n{log_tail(self.logs['sink'])}")
            time.sleep(0.05)
        wait_port(self.sink_port, 10)
        self.sink = SinkLog(self.sink_file)
        self.producer = make_producer(self.kafka)

    def service_env(self) -> dict:
        return {**os.environ, "DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                "KAFKA_TOPIC_PREFIX": self.prefix, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.sink_port),
                **self.secrets, "REPLY_DOMAIN": REPLY_DOMAIN,
                "PUBLIC_URL": "http://127.0.0.1:8001", "INTAKE_URL": "http://127.0.0.1:8001",
                "QUEUE_ADDRESS_SOPORTE": QUEUE_ADDRESS, "PYTHONUNBUFFERED": "1"}

    def start_notifier(self) -> None:
        env = self.service_env()
        senders = [("sender" if i == 0 else f"sender{i + 1}", "notifier.sender") for i in range(self.args.senders)]
        for name, module in [("consumer", "notifier.consumer"), *senders]:
            argv = [sys.executable, "-m", module]
            if self.args.profile:
                argv = [sys.executable, "-m", "cProfile", "-o", str(self.workdir / f"{name}.prof"), "-m", module]
            self.logs[name] = self.workdir / f"{name}.log"
            with open(self.logs[name], "ab") as log:
                self.procs[name] = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                    start_new_session=True)

    def check_alive(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"notifier {name} exited with {p.returncode}:\n{log_tail(self.logs[name])}")
        if self.sink_proc and self.sink_proc.poll() is not None:
            raise RuntimeError(f"SMTP sink exited:\n{log_tail(self.logs['sink'])}")

    def publish(self, event) -> None:
        from helpdesk_shared.topics import TOPIC_OF_EVENT
        self.producer.send(self.prefix + TOPIC_OF_EVENT[event.type], key=event.stream_id,
                           value=self.events.to_json_bytes(event))

    # ---------------------------------------------------------------- mails table

    def mail_counts(self, conn) -> tuple[int, int]:
        import psycopg
        try:
            row = conn.execute("select count(*), count(*) filter (where status = 'sent') from mails").fetchone()
            return row[0], row[1]
        except psycopg.errors.UndefinedTable:
            return 0, 0

    # ---------------------------------------------------------------- phases

    def backlog_phase(self) -> dict:
        import psycopg
        n = self.args.backlog
        self.events = Events(self.run_id)
        print(f"\n[backlog] building {n} TicketOpened events ...", flush=True)
        t = time.monotonic()
        now = datetime.now(timezone.utc)
        events = [self.events.ticket_opened(i + 1, now) for i in range(n)]
        self.expected = {self.events.message_id(e): ("backlog", e.occurred_at.timestamp()) for e in events}
        payloads = [(e.stream_id, self.events.to_json_bytes(e)) for e in events]
        built_s = time.monotonic() - t
        t = time.monotonic()
        self.publish(self.events.user_registered())
        from helpdesk_shared.topics import TICKETS
        for key, value in payloads:
            self.producer.send(self.prefix + TICKETS, key=key, value=value)
        self.producer.flush(timeout=120)
        published_s = time.monotonic() - t
        print(f"[backlog] built in {built_s:.1f} s, published in {published_s:.1f} s "
              f"({n / published_s:,.0f} events/s); starting notifier.consumer and notifier.sender", flush=True)

        watch = psycopg.connect(self.database_url, autocommit=True)
        try:
            t0_wall, t0 = time.time(), time.monotonic()
            self.start_notifier()
            self.cpu = Cpu({f"notifier.{name}": p.pid for name, p in self.procs.items()}
                           | {"smtp sink": self.sink_proc.pid, "bench (this process)": os.getpid()},
                           self.pg, self.database)
            snap0 = self.cpu.snapshot()
            snap_first = None
            first_recorded = all_recorded = None
            timeout = self.args.backlog_timeout or (120 + n / 20)
            deadline = t0 + timeout
            next_report = t0 + 5
            backlog_ids = set(self.expected)
            delivered = 0
            while True:
                self.check_alive()
                now_m = time.monotonic()
                recorded, sent = self.mail_counts(watch)
                if recorded and first_recorded is None:
                    first_recorded = now_m - t0
                    snap_first = self.cpu.snapshot()
                if recorded >= n and all_recorded is None:
                    all_recorded = now_m - t0
                self.sink.refresh()
                delivered = sum(1 for m in backlog_ids if m in self.sink.arrivals) if self.sink.total >= n else \
                    self.sink.total
                if delivered >= n:
                    break
                if now_m > deadline:
                    raise TimeoutError(f"backlog not delivered after {timeout:.0f} s: {recorded} recorded, "
                                       f"{sent} marked sent, {self.sink.total} accepted by the sink")
                if now_m >= next_report:
                    print(f"[backlog] +{now_m - t0:5.1f} s  recorded {recorded:>6}  accepted by sink "
                          f"{self.sink.total:>6}", flush=True)
                    next_report += 5
                time.sleep(0.1)
            snap_end = self.cpu.snapshot()
            if all_recorded is None:  # delivered before the next poll saw the count
                all_recorded = time.monotonic() - t0
            firsts = sorted(self.sink.arrivals[m][0] for m in backlog_ids)
            first_arrival, nth_arrival = firsts[0] - t0_wall, firsts[-1] - t0_wall
            table = watch.execute(
                """select count(*) as n, count(*) filter (where status = 'sent') as sent,
                          count(*) filter (where template = %s) as received_mails,
                          extract(epoch from min(created_at)) as c0, extract(epoch from max(created_at)) as c1,
                          extract(epoch from min(sent_at)) as s0, extract(epoch from max(sent_at)) as s1
                   from mails""", (TEMPLATE,)).fetchone()
        finally:
            watch.close()
        c0, c1, s0, s1 = (float(x) - t0_wall if x is not None else None for x in table[3:7])
        duplicates = sum(1 for m in backlog_ids if len(self.sink.arrivals.get(m, ())) > 1)
        strays = sum(1 for m in self.sink.arrivals if m not in self.expected)
        processing = Cpu.between(snap_first, snap_end, n) if snap_first else None
        return {
            "events": n, "build_s": rnd(built_s), "publish_s": rnd(published_s),
            "mails_in_table": table[0], "queue_mails": table[2], "marked_sent": table[1],
            "accepted_by_sink": len(firsts), "duplicates": duplicates, "strays": strays,
            "from_process_start_s": {
                "first_mail_recorded_polled": rnd(first_recorded), "all_mails_recorded_polled": rnd(all_recorded),
                "first_mail_accepted": rnd(first_arrival), "nth_mail_accepted": rnd(nth_arrival),
                "table_created_at_min": rnd(c0), "table_created_at_max": rnd(c1),
                "table_sent_at_min": rnd(s0), "table_sent_at_max": rnd(s1)},
            "mails_per_s": {
                "process_start_to_nth_accepted": rnd(n / nth_arrival, 1),
                "first_to_nth_accepted": rnd((n - 1) / (nth_arrival - first_arrival), 1)
                if nth_arrival > first_arrival else None,
                "consumer_recording": rnd((n - 1) / (all_recorded - first_recorded), 1)
                if first_recorded and all_recorded > first_recorded else None,
                "consumer_recording_table": rnd((n - 1) / (c1 - c0), 1) if c1 and c1 > c0 else None,
            },
            "cpu_process_start_to_nth": Cpu.between(snap0, snap_end, n),
            "cpu_startup": Cpu.between(snap0, snap_first) if snap_first else None,
            "cpu_first_recorded_to_nth": processing,
        }

    def steady_phase(self) -> dict:
        rate, duration = self.args.rate, self.args.duration
        count = int(round(rate * duration))
        base = self.args.backlog + 1
        time.sleep(self.args.settle)
        print(f"\n[steady] publishing {count} TicketOpened at {rate:g}/s for {duration:g} s (open loop) ...",
              flush=True)
        snap0 = self.cpu.snapshot()
        steady: dict[str, float] = {}  # Message-ID -> occurred_at (epoch)
        lags = []
        start = time.monotonic() + 0.1
        for i in range(count):
            target = start + i / rate
            pause = target - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            occurred = datetime.now(timezone.utc)
            event = self.events.ticket_opened(base + i, occurred)
            self.publish(event)
            lags.append(time.monotonic() - target)
            mid = self.events.message_id(event)
            steady[mid] = occurred.timestamp()
            self.expected[mid] = ("steady", occurred.timestamp())
            if i % int(max(rate, 1)) == 0:
                self.check_alive()
        self.producer.flush(timeout=30)
        published_at = time.monotonic()
        snap_published = self.cpu.snapshot()
        deadline = published_at + self.args.drain
        while time.monotonic() < deadline:
            self.sink.refresh()
            if all(m in self.sink.arrivals for m in steady):
                break
            self.check_alive()
            time.sleep(0.05)
        self.sink.refresh()
        snap_end = self.cpu.snapshot()
        delays = [self.sink.arrivals[m][0] - occurred for m, occurred in steady.items() if m in self.sink.arrivals]
        stages = self.stage_split(steady)
        missing = count - len(delays)
        duplicates = sum(1 for m in steady if len(self.sink.arrivals.get(m, ())) > 1)
        return {
            "offered_rate_per_s": rate, "duration_s": duration, "published": count, "delivered": len(delays),
            "missing": missing, "duplicates": duplicates, "drain_limit_s": self.args.drain,
            "drained_after_last_publish_s": rnd(time.monotonic() - published_at),
            "publish_lag_ms": {"p50": ms(percentile(lags, 50)), "p99": ms(percentile(lags, 99)),
                               "max": ms(max(lags) if lags else None)},
            "delay_ms": {"min": ms(min(delays) if delays else None), "p50": ms(percentile(delays, 50)),
                         "p90": ms(percentile(delays, 90)), "p99": ms(percentile(delays, 99)),
                         "max": ms(max(delays) if delays else None),
                         "mean": ms(sum(delays) / len(delays) if delays else None)},
            "delay_histogram_ms": histogram(delays),
            "delay_stages_ms": stages,
            "cpu_publishing": Cpu.between(snap0, snap_published, count),
            "cpu_publishing_and_drain": Cpu.between(snap0, snap_end, count),
        }

    def stage_split(self, steady: dict[str, float]) -> dict:
        """Split each delay at the mail's created_at (the consumer's clock when it began the batch that
        recorded it: after Kafka delivered and the batch was decoded, before rendering, inserts and commit)."""
        import psycopg
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute("select message_id, extract(epoch from created_at) from mails where template = %s",
                                (TEMPLATE,)).fetchall()
        created = {r[0]: float(r[1]) for r in rows}
        to_batch, to_smtp = [], []
        for m, occurred in steady.items():
            if m in created and m in self.sink.arrivals:
                to_batch.append(created[m] - occurred)
                to_smtp.append(self.sink.arrivals[m][0] - created[m])

        def stats(values):
            return {"p50": ms(percentile(values, 50)), "p90": ms(percentile(values, 90)),
                    "p99": ms(percentile(values, 99)), "max": ms(max(values) if values else None)}
        return {"event_to_consumer_batch_start": stats(to_batch),
                "consumer_batch_start_to_smtp_accepted": stats(to_smtp)}

    # ---------------------------------------------------------------- teardown

    def stop_notifier(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p in self.procs.items():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
                self.cleanup_report[f"{name}_killed"] = True

    def profiles(self, top: int) -> dict:
        import io
        import pstats
        out = {}
        for name in self.procs:
            path = self.workdir / f"{name}.prof"
            if not path.exists():
                out[name] = "(no profile written)"
                continue
            text = {}
            for key in ("tottime", "cumulative"):
                buf = io.StringIO()
                pstats.Stats(str(path), stream=buf).strip_dirs().sort_stats(key).print_stats(top)
                text[key] = buf.getvalue()
            out[name] = text
        return out

    def cleanup(self) -> None:
        """Stop every process, drop the database, delete the topics (consumers keep no group in Kafka)."""
        from helpdesk_shared.localstack import drop_database
        from helpdesk_shared.topics import TOPICS
        errors = []
        try:
            self.stop_notifier()
        except Exception as exc:  # noqa: BLE001 - cleanup goes on
            errors.append(f"stop notifier: {exc!r}")
        if self.producer is not None:
            try:
                self.producer.close(timeout=10)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"producer: {exc!r}")
        if self.sink_proc is not None and self.sink_proc.poll() is None:
            try:
                os.killpg(self.sink_proc.pid, signal.SIGTERM)
                self.sink_proc.wait(timeout=10)
            except Exception as exc:  # noqa: BLE001
                os.killpg(self.sink_proc.pid, signal.SIGKILL)
                errors.append(f"sink: {exc!r}")
        if self.pg is not None:
            self.pg.close()
        if self.db_created:
            try:
                drop_database(self.database)
                self.cleanup_report["database_dropped"] = self.database
            except Exception as exc:  # noqa: BLE001
                errors.append(f"drop database: {exc!r}")
        if self.topics_created:
            try:
                from kafka.admin import KafkaAdminClient
                admin = KafkaAdminClient(bootstrap_servers=self.kafka, client_id="notifier-bench-cleanup")
                try:
                    names = [self.prefix + t.name for t in TOPICS]
                    present = set(admin.list_topics())
                    admin.delete_topics([t for t in names if t in present])
                    self.cleanup_report["topics_deleted"] = len([t for t in names if t in present])
                finally:
                    admin.close()
            except Exception as exc:  # noqa: BLE001
                errors.append(f"delete topics/group: {exc!r}")
        shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            self.cleanup_report["errors"] = errors


def histogram(delays: list[float]) -> dict:
    edges = [0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
    out, lo = {}, 0.0
    for edge in edges:
        out[f"<{int(edge * 1000)}"] = sum(1 for d in delays if lo <= d < edge)
        lo = edge
    out[f">={int(edges[-1] * 1000)}"] = sum(1 for d in delays if d >= edges[-1])
    return out


# --------------------------------------------------------------------------- reporting

def summarise(report: dict) -> dict:
    b, s = report.get("backlog") or {}, report.get("steady") or {}
    out = {}
    if b:
        f = b["from_process_start_s"]
        out["backlog"] = {
            "events": b["events"], "mails_accepted": b["accepted_by_sink"], "duplicates": b["duplicates"],
            "mails_per_s (process start -> N-th accepted)": b["mails_per_s"]["process_start_to_nth_accepted"],
            "mails_per_s (1st -> N-th accepted)": b["mails_per_s"]["first_to_nth_accepted"],
            "consumer recorded all N at (s after start)": f["all_mails_recorded_polled"],
            "consumer recording mails/s": b["mails_per_s"]["consumer_recording"],
            "sender: 1st / N-th accepted at (s after start)": [f["first_mail_accepted"], f["nth_mail_accepted"]],
            "table: created_at max / sent_at max (s after start)": [f["table_created_at_max"],
                                                                    f["table_sent_at_max"]],
            "cpu_s (start -> N-th)": b["cpu_process_start_to_nth"]["cpu_s"],
            "cpu_ms_per_mail (1st recorded -> N-th)": (b["cpu_first_recorded_to_nth"] or {}).get("cpu_ms_per_mail"),
            "machine_busy_percent": b["cpu_process_start_to_nth"]["machine_busy_percent"],
        }
    if s:
        out["steady"] = {
            "offered": f"{s['offered_rate_per_s']:g}/s for {s['duration_s']:g} s = {s['published']} events",
            "delivered": s["delivered"], "missing": s["missing"], "duplicates": s["duplicates"],
            "delay_ms p50 / p99 / max": [s["delay_ms"]["p50"], s["delay_ms"]["p99"], s["delay_ms"]["max"]],
            "publish_lag_ms max": s["publish_lag_ms"]["max"],
            "stage p50 / p99 ms: event -> consumer batch": [
                s["delay_stages_ms"]["event_to_consumer_batch_start"]["p50"],
                s["delay_stages_ms"]["event_to_consumer_batch_start"]["p99"]],
            "stage p50 / p99 ms: consumer batch -> SMTP accepted": [
                s["delay_stages_ms"]["consumer_batch_start_to_smtp_accepted"]["p50"],
                s["delay_stages_ms"]["consumer_batch_start_to_smtp_accepted"]["p99"]],
            "cpu_s (publishing window)": s["cpu_publishing"]["cpu_s"],
            "cores (publishing window)": s["cpu_publishing"]["cores"],
            "machine_busy_percent": s["cpu_publishing"]["machine_busy_percent"],
        }
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backlog", type=int, default=10_000, help="TicketOpened events published before start (10000)")
    p.add_argument("--rate", type=float, default=50.0, help="steady phase: events/s (50)")
    p.add_argument("--duration", type=float, default=30.0, help="steady phase: seconds (30)")
    p.add_argument("--drain", type=float, default=30.0, help="steady phase: wait at most this long for stragglers")
    p.add_argument("--settle", type=float, default=2.0, help="pause between the phases, seconds")
    p.add_argument("--backlog-timeout", type=float, default=None,
                   help="give up on the backlog after this many seconds (default 120 + N/20)")
    p.add_argument("--wait-quiet", type=float, default=60.0,
                   help="wait up to this many seconds for other load on the machine to drop before starting")
    p.add_argument("--quiet-below", type=float, default=25.0, help="machine busy %% counted as quiet (25)")
    p.add_argument("--senders", type=int, default=1,
                   help="notifier.sender processes (1, as docker-compose runs it; more to test scaling)")
    p.add_argument("--profile", action="store_true", help="run consumer and sender under cProfile (slower)")
    p.add_argument("--profile-top", type=int, default=25, help="functions shown per profile")
    args = p.parse_args(argv)
    if not (1 <= args.backlog <= 1_000_000 and 0 < args.rate <= 5_000 and 0 <= args.duration <= 3600
            and 0 <= args.drain <= 600 and 1 <= args.senders <= 8):
        p.error("backlog 1..1e6, rate 0..5000 /s, duration 0..3600 s, drain 0..600 s, senders 1..8")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # unwinds like Ctrl-C so cleanup runs
    machine = machine_info(packages=("psycopg", "kafka-python", "jinja2", "marshmallow", "aiosmtpd"),
                           pg_settings=("synchronous_commit",))
    print_fields("machine", machine, width=22)
    load = background_load()
    deadline = time.monotonic() + args.wait_quiet
    while load["machine_busy_percent"] > args.quiet_below and time.monotonic() < deadline:
        print(f"  (machine {load['machine_busy_percent']} % busy: waiting up to {args.wait_quiet:g} s "
              f"for it to drop under {args.quiet_below:g} %)", flush=True)
        load = background_load()
    print(f"  {'busy before start':22} {load['machine_busy_percent']} %  {load['busiest_processes']}")
    print("  smtp sink              aiosmtpd Controller in its own subprocess (timestamps free of the bench's GIL)")
    report = {"machine": machine, "background_load": load, "args": vars(args)}
    bench = Bench(args)
    report["run"] = {"database": bench.database, "topic_prefix": bench.prefix}
    status = 0
    try:
        bench.setup()
        report["backlog"] = bench.backlog_phase()
        print_block("backlog", report["backlog"])
        if args.duration > 0:
            report["steady"] = bench.steady_phase()
            print_block("steady", report["steady"])
        if args.profile:
            bench.stop_notifier()
            report["profiles"] = bench.profiles(args.profile_top)
            for name, text in report["profiles"].items():
                for key, body in (text.items() if isinstance(text, dict) else [("", text)]):
                    print(f"\n== profile: notifier.{name} by {key} ==\n{body}")
    except KeyboardInterrupt:
        print("\n[bench] interrupted; cleaning up", file=sys.stderr)
        status = 130
    except Exception as exc:  # noqa: BLE001 - report, clean up, save what was measured
        report["error"] = f"{type(exc).__name__}: {exc}"
        print(f"\n[bench] FAILED: {report['error']}", file=sys.stderr)
        status = 1
    finally:
        bench.cleanup()
        report["cleanup"] = bench.cleanup_report
        print(f"\n[bench] cleanup: {json.dumps(bench.cleanup_report)}")
    report["summary"] = summarise(report)
    print_block("SUMMARY", report["summary"])
    save_results("notifier", report)
    return status


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == SINK_MODE:
        sys.exit(sink_main(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    sys.exit(main())
