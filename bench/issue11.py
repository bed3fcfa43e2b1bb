"""Issue 11's benchmark in one run (`bench/run`; options: --help).

What it does, in order (needs `bin/stack up`: PostgreSQL and Kafka on 127.0.0.1):

1. prints the machine (bench/machine.py) and the load other work already puts on it;
2. bare app: bench/bare_app.py (Flask + marshmallow of the same ticket body, intake's worker
   count) under wrk for --duration: the yardstick of "share of the bare app";
3. starts the whole pipeline as a LocalStack (intake under gunicorn, relay, intake's SLA consumer,
   query's consumer and API, the SLA timers and relay, the notifier's consumer, sender, relay and
   inbound server with a local SMTP sink), its intake database filled like the demo loader does
   with --organisations organisations (20) and --customers customers (100) spread over them, and
   agents of both desks; every customer and agent logs in through intake's login (a token each);
4. latency: open-loop offered load (tickets sent at fixed times t0 + i/rate by Python threads,
   whatever the answers do) at 200 tickets/s and at 50/s; a sample of the tickets (--probes-per-s)
   is followed: its POST→visible is the time from just before its POST to the answer of the first
   `GET /api/tickets/<number>` on query that finds it (polled every --poll-interval); p50 and p99;
5. throughput: wrk (bench/issue11.lua) drives a mixed load on intake with --clients connections
   for --duration: ~80 % new tickets from every customer in turn (unconfirmed, so each goes through
   rule 6's duplicate-case check; refusals counted), customer messages on their own recent
   tickets, agent answers, and agent closes of answered tickets. CPU of every process of the
   pipeline (intake's gunicorn master and workers, relay, consumers, timers, notifier, the
   PostgreSQL backends of this run's databases, Kafka's JVM; pids from /proc and `ps`) is sampled
   from /proc/<pid>/stat over the window from wrk's start until query holds every accepted
   ticket (bounded), and divided by the accepted tickets: CPU per ticket, split per process;
6. backlog: --backlog events (500,000) of `helpdesk_shared.synthetic_log` written to fresh topics,
   then applied by one query consumer on a fresh database, then by two instances (one consumer
   group) on another fresh database: events/s applied, from the first applied batch to the last;
7. stops everything (also on Ctrl-C or SIGTERM) and prints and saves the figures as JSON to
   bench/results/issue11-<timestamp>.json (committed: see bench/README.md).

The figures are the machine's as much as the code's: on a shared machine, read the CPU per ticket
(steadier than rates) and the `other` cores reported with each phase.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from helpdesk_shared import pg
from helpdesk_shared.clock import utc_now
from helpdesk_shared.envelope import SYSTEM
from helpdesk_shared.localstack import LocalStack, Process, create_database, drop_database, free_port
from intake import demo, handlers
from intake_throughput import ticket_body as throughput_ticket_body
from intake_throughput import (VOCAB, Client, check_wrk, http_call, lua_literal, once, only_local, start_bare_app,
                               settle_statistics, throughput, ticket_counts, wait_for_catch_up, wait_for_quiet,
                               wrk_version)
from machine import TICK, print_block, save_results, machine_info
from proc_cpu import (cpu_seconds_by_group, descendants, merge_samples, mixed_counts, parse_stat, per_unit_ms,
                      percentile)

BENCH = Path(__file__).resolve().parent
TARGET_TICKETS_PER_S = 500.0
TARGET_SHARE_OF_BARE = 40.0
TARGET_CPU_MS_PER_TICKET = 3.0
TARGET_P99_MS = 250.0
NEVER_VISIBLE_S = 10.0
MAX_SEND_LAG_S = 10.0

# Shares of the mixed load's requests that are not new tickets (bench/issue11.lua).
SHARES = {"message": 0.08, "answer": 0.08, "close": 0.04}
MIX_VOCAB = {**VOCAB,
             "customer_messages": ["Les envío el comprobante que pidieron, ya está en el correo de contabilidad.",
                                   "Sigue pasando hoy en la mañana, ¿pueden revisarlo?",
                                   "El saldo cambió después del cierre, adjunto el reporte nuevo.",
                                   "Gracias, quedo atento a su respuesta."],
             "agent_answers": ["Revisamos el caso: el asiento quedó registrado con la fecha del cierre anterior.",
                               "Le indicamos los pasos: Bancos > Conciliación > Movimientos y volver a procesar.",
                               "Corregimos el parámetro del módulo; por favor confirme si ya le aparece bien.",
                               "Necesitamos el número de acción del socio para continuar."]}
GROUP_NAMES = {"intake": "intake (gunicorn workers)", "relay": "relay", "query-consumer": "query consumer",
               "sla-timers": "sla timers", "notifier-consumer": "notifier consumer",
               "intake-sla-consumer": "intake sla consumer", "sla-relay": "sla relay",
               "notifier-sender": "notifier sender", "notifier-relay": "notifier relay",
               "notifier-inbound": "notifier inbound", "query": "query API (gunicorn)", "sla": "sla API (gunicorn)",
               "notifier": "notifier API (gunicorn)"}
POSTGRES, KAFKA = "postgresql backends", "kafka (jvm)"


# --------------------------------------------------------------------------- the population

def population(organisations: int, customers: int, agents_per_desk: int):
    """A load_demo for LocalStack: the demo data, then `organisations` organisations (a third on both
    desks) with `customers` customers spread over them and agents of both desks, as intake.demo does."""
    def load(database_url: str) -> None:
        demo.load(database_url)
        with pg.connect(database_url) as conn:
            now = utc_now()
            orgs = []
            for i in range(organisations):
                desks = [["SOPORTE", "IMPLANTACIONES"], ["SOPORTE"], ["IMPLANTACIONES"]][i % 3]
                org_id = f"bench-org-{i:02d}"
                handlers.register_organisation(conn, name=f"Organización de prueba {i:02d}", desks=desks,
                                               tax_id=f"J-{40000000 + i:08d}-{i % 10}", organisation_id=org_id,
                                               now=now, actor=SYSTEM)
                orgs.append((org_id, desks))
            for j in range(customers):
                org_id, desks = orgs[j % organisations]
                handlers.register_user(conn, email=f"cliente{j:03d}@{org_id}.example", name=f"Cliente {j:03d}",
                                       role="customer", password=demo.PASSWORD, desks=desks, organisation_id=org_id,
                                       now=now, actor=SYSTEM, phone="+58 212 555 0100")
            for desk in ("SOPORTE", "IMPLANTACIONES"):
                for k in range(agents_per_desk):
                    handlers.register_user(conn, email=f"agente{k}-{desk.lower()}@mesa.example",
                                           name=f"Agente {k} {desk.title()}", role="agent",
                                           password=demo.PASSWORD, desks=[desk], now=now, actor=SYSTEM)
    return load


def log_in_everyone(stack: LocalStack, organisations: int, customers: int,
                    agents_per_desk: int) -> tuple[list[Client], dict[str, list[str]]]:
    """A token per customer (through intake's login) and the agents' tokens per desk."""
    def login(email: str) -> str:
        status, body = http_call(stack.urls["intake"], "POST", "/api/auth/login", {"Content-Type": "application/json"},
                                 json.dumps({"email": email, "password": demo.PASSWORD}).encode(), timeout=60)
        if status != 200:
            raise RuntimeError(f"login {email}: {status} {body[:200]!r}")
        return json.loads(body)["token"]
    people = []
    for j in range(customers):
        org = j % organisations
        people.append((f"cliente{j:03d}@bench-org-{org:02d}.example",
                       [["SOPORTE", "IMPLANTACIONES"], ["SOPORTE"], ["IMPLANTACIONES"]][org % 3]))
    agents = [(f"agente{k}-{d.lower()}@mesa.example", d) for d in ("SOPORTE", "IMPLANTACIONES")
              for k in range(agents_per_desk)]
    with ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(login, [e for e, _ in people] + [e for e, _ in agents]))
    clients = [Client(email=e, token=t, desks=d, name=f"Cliente {i:03d}")
               for i, ((e, d), t) in enumerate(zip(people, tokens))]
    by_desk: dict[str, list[str]] = {"SOPORTE": [], "IMPLANTACIONES": []}
    for (_, desk), token in zip(agents, tokens[len(people):]):
        by_desk[desk].append(token)
    return clients, by_desk


def ticket_body(client: Client, rng: random.Random) -> dict:
    """A valid ~1 KB unconfirmed ticket (mirrors bench/issue11.lua): the case carries its own number."""
    return throughput_ticket_body(client, rng, confirmed=False, numbered=True)


# --------------------------------------------------------------------------- CPU of the pipeline

class PipelineCpu:
    """Samples /proc/<pid>/stat of every process (and `ps` for PostgreSQL's and Kafka's) every
    `interval` seconds between start() and stop(); what each named group spent in between."""

    def __init__(self, stack: LocalStack, interval: float = 0.5):
        self.stack, self.interval = stack, interval
        self.marker = f"mesa_t{stack.run_id}_"
        self.samples: list[dict] = []
        self.names: dict[int, str] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="cpu-sampler")

    @staticmethod
    def _stats() -> dict:
        stats = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stats[int(entry.name)] = parse_stat(Path(entry.path, "stat").read_text())
                except (OSError, ValueError, IndexError):
                    continue
        return stats

    def _classify(self, stats: dict) -> None:
        """Name the pids of this sample: the stack's processes and their children, this run's
        PostgreSQL backends (their title names the database) and Kafka's JVM, from `ps`."""
        for name, process in self.stack.processes.items():
            if process.popen is not None:
                for pid in descendants(stats, process.popen.pid):
                    self.names[pid] = GROUP_NAMES.get(name, name)
        ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            pid_text, _, args = line.strip().partition(" ")
            if args.startswith("postgres:") and self.marker in args:
                self.names[int(pid_text)] = POSTGRES
            elif "java" in args.split(" ", 1)[0] and "kafka" in args.lower():
                self.names[int(pid_text)] = KAFKA

    def sample(self) -> dict:
        stats = self._stats()
        self._classify(stats)
        self.samples.append(stats)
        return stats

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.first = self.sample()
        self.started = time.monotonic()
        self.idle0 = _machine_idle()
        self.thread.start()

    def mark(self) -> tuple[dict, float, tuple]:
        """The figures so far (a window's end that does not stop the sampling)."""
        self.sample()
        return merge_samples(self.samples), time.monotonic() - self.started, _machine_idle()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def window(self, mark: tuple[dict, float, tuple], units: int) -> dict:
        """CPU of each group from start() to `mark`, per unit and in cores."""
        merged, seconds, (total1, idle1) = mark
        spent = cpu_seconds_by_group(self.first, merged, self.names, TICK)
        total0, idle0 = self.idle0
        busy = 1 - (idle1 - idle0) / max(total1 - total0, 1e-9)
        return {"seconds": round(seconds, 2), "units": units,
                "cpu_ms_per_ticket": per_unit_ms(spent, units),
                "cores_used": {k: round(v / seconds, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])},
                "machine_busy_percent": round(100 * busy, 1),
                "other_cores": round(max(0.0, busy * (total1 - total0) / seconds - sum(spent.values()) / seconds), 2)}


def _machine_idle() -> tuple[float, float]:
    cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(cpu) / TICK, (cpu[3] + cpu[4]) / TICK


# --------------------------------------------------------------------------- latency (open loop)

def latency_phase(stack: LocalStack, clients: list[Client], supervisor: dict, rate: float, duration: float,
                  warmup: float, senders: int, probes_per_s: float, poll_interval: float, seed: int) -> dict:
    """Tickets at fixed times t0 + i/rate; every k-th measured one is followed until query shows it."""
    intake_url, query_url = only_local(stack.urls["intake"]), only_local(stack.urls["query"])
    rng = random.Random(seed)
    every = max(1, round(rate / probes_per_s))
    count, warm = int((warmup + duration) * rate), int(warmup * rate)
    plan = []
    for i in range(count):
        client = clients[i % len(clients)]
        plan.append({"i": i, "measured": i >= warm, "probe": i >= warm and i % every == 0,
                     "body": json.dumps(ticket_body(client, rng)).encode(),
                     "headers": {"Content-Type": "application/json", "Authorization": f"Bearer {client.token}"}})
    lock = threading.Lock()
    next_index = [0]
    t0 = time.perf_counter() + 0.2

    def worker() -> None:
        while True:
            with lock:
                if next_index[0] >= len(plan):
                    return
                item = plan[next_index[0]]
                next_index[0] += 1
            item["scheduled"] = t0 + item["i"] / rate
            delay = item["scheduled"] - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            item["started"] = started = time.perf_counter()
            if started - item["scheduled"] > MAX_SEND_LAG_S:
                item["status"] = 0
                continue
            try:
                item["status"], answer = http_call(intake_url, "POST", "/api/tickets", item["headers"], item["body"])
            except OSError as exc:
                item["status"], item["error"] = -1, repr(exc)
                continue
            if item["status"] == 409 and b"R6_DUPLICATE_OPEN_CASE" in answer:
                item["refused"] = True
            if item["status"] != 201 or not item["probe"]:
                continue
            number = json.loads(answer)["number"]
            while time.perf_counter() - started < NEVER_VISIBLE_S:
                try:
                    found = http_call(query_url, "GET", f"/api/tickets/{number}", supervisor)[0] == 200
                except OSError:
                    found = False
                if found:
                    item["visible"] = time.perf_counter() - started
                    break
                time.sleep(poll_interval)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(senders)]
    # Statistics as a service in production has them, from the end of the warm-up on (settle_statistics).
    settle = threading.Timer(max(0.0, t0 + warmup - time.perf_counter()), settle_statistics, [stack])
    settle.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=warmup + duration + NEVER_VISIBLE_S + 120)
    settle.join(timeout=60)
    measured = [p for p in plan if p["measured"]]
    statuses: dict[str, int] = {}
    for p in measured:
        status = {0: "not sent (senders over 10 s behind)", -1: "socket error"}.get(p.get("status"), str(p.get("status")))
        statuses[status] = statuses.get(status, 0) + 1
    probes = [p for p in measured if p["probe"] and p.get("status") == 201]
    # A probe never seen within 10 s counts as infinitely late: its percentile is then reported as None.
    visible = [p.get("visible", float("inf")) for p in probes]
    # From the time it was due: also counts how late an overloaded intake made the senders.
    from_due = [p["started"] - p["scheduled"] + p.get("visible", float("inf")) for p in probes]
    lag = [p["started"] - p["scheduled"] for p in measured if "started" in p]
    def ms(value):
        return None if value is None or value == float("inf") else round(value * 1000, 1)
    p99 = percentile(visible, 99)
    p99_due = percentile(from_due, 99)
    return {"offered_per_s": rate, "seconds": duration, "scheduled": len(measured), "statuses": statuses,
            "duplicate_refusals": sum(1 for p in measured if p.get("refused")),
            "probed": len(probes), "probe_every": every, "poll_interval_ms": poll_interval * 1000,
            "never_visible_within_10s": sum(1 for v in visible if v == float("inf")),
            "visible_ms": {"p50": ms(percentile(visible, 50)), "p99": ms(p99), "max": ms(max(visible, default=None))},
            "visible_from_scheduled_ms": {"p50": ms(percentile(from_due, 50)), "p99": ms(percentile(from_due, 99))},
            "send_lag_ms": {"p50": ms(percentile(lag, 50)), "p99": ms(percentile(lag, 99))},
            # Judged from the due time, with every scheduled ticket sent and accepted or refused as a duplicate.
            "met": (p99_due is not None and p99_due * 1000 <= TARGET_P99_MS
                    and all(p.get("status") in (201, 409) for p in measured))}


# --------------------------------------------------------------------------- throughput (wrk, mixed load)

def mixed_throughput(stack: LocalStack, clients: list[Client], agents: dict[str, list[str]], args,
                     workdir: Path) -> dict:
    """wrk with bench/issue11.lua for --duration; CPU from its start until query caught up."""
    config = workdir / "issue11_config.lua"
    config.write_text("return " + lua_literal({
        "vocab": MIX_VOCAB, "shares": SHARES, "agents": agents,
        "clients": [{"token": c.token, "desks": c.desks, "name": c.name, "email": c.email, "phone": c.phone}
                    for c in clients]}) + "\n")
    url = only_local(stack.urls["intake"])

    def wrk(seconds: float) -> dict:
        argv = ["wrk", "-t1", f"-c{args.clients}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                "-s", str(BENCH / "issue11.lua"), url]
        out = subprocess.run(argv, env={**os.environ, "BENCH_WRK_CONFIG": str(config)}, capture_output=True,
                             text=True, timeout=seconds + 120)
        line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
        if out.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
        return json.loads(line[len("BENCH_JSON "):])

    wrk(args.warmup)
    wait_for_catch_up(stack, 120)
    settle_statistics(stack)
    before = ticket_counts(stack)["intake_tickets"]
    meter = PipelineCpu(stack)
    meter.start()
    result = wrk(args.duration)
    during = meter.mark()
    at_end = ticket_counts(stack)
    catch_up = wait_for_catch_up(stack, 300)
    after = meter.mark()
    meter.stop()
    seconds = result["duration_us"] / 1e6
    counts = mixed_counts(result["counts"])
    accepted = counts.get("ticket", {}).get("201", 0)
    return {"seconds": round(seconds, 2), "connections": args.clients, "requests": result["requests"],
            "requests_per_s": round(result["requests"] / seconds, 1), "by_kind": counts,
            "accepted_tickets": accepted, "accepted_tickets_per_s": round(accepted / seconds, 1),
            "tickets_in_intake_added": at_end["intake_tickets"] - before,
            "socket_errors": result["errors"], "latency_us": result["latency_us"],
            "query_behind_at_wrk_end": at_end["intake_tickets"] - at_end["query_tickets"],
            "catch_up": catch_up,
            "cpu_during_load": meter.window(during, accepted),
            "cpu_until_caught_up": meter.window(after, accepted)}


# --------------------------------------------------------------------------- backlog: 1 vs 2 query consumers

def backlog_phase(base_env: dict, events: int, workdir: Path, timeout: float) -> dict:
    """The synthetic log into fresh topics, then applied by 1 and by 2 query consumer instances."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient

    from helpdesk_shared.cli import migrate_services
    from helpdesk_shared.topics import TOPICS, create_topics
    from query.consumer import CONSUMER_NAME, TOPICS as QUERY_TOPICS
    from rebuild_bench import produce

    bootstrap = base_env["KAFKA_BOOTSTRAP_SERVERS"]
    run = os.urandom(4).hex()
    prefix = f"bench{run}."
    out: dict = {"events_requested": events}
    try:
        create_topics(bootstrap, prefix=prefix)
        print(f"[bench] producing {events:,} events to {prefix}* ...", flush=True)
        out["produce"] = produce(bootstrap, prefix, events, 10)
        reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        parts = [TopicPartition(prefix + t, p) for t in QUERY_TOPICS for p in reader.partitions_for_topic(prefix + t)]
        total = sum(reader.end_offsets(parts).values())
        reader.close()
        out["events_on_query_topics"] = total
        for instances in (1, 2):
            db = f"mesa_bench{run}_q{instances}"
            url = create_database(db)
            try:
                migrate_services({"query": url})
                env = {**base_env, "DATABASE_URL": url, "KAFKA_TOPIC_PREFIX": prefix, "CONSUMER_MODE": "group"}
                procs = [Process(f"backlog-{instances}-{k}", [sys.executable, "-m", "query.consumer"], env,
                                 workdir / f"backlog-{instances}-{k}.log").start() for k in range(instances)]
                try:
                    out[f"{instances}_instance{'s' if instances > 1 else ''}"] = _follow_backlog(
                        url, CONSUMER_NAME, total, timeout, procs, db)
                finally:
                    for p in procs:
                        p.kill(signal.SIGTERM)
                print_block(f"backlog, {instances} instance(s)", out[f"{instances}_instance{'s' if instances > 1 else ''}"])
            finally:
                drop_database(db)
        one, two = out.get("1_instance", {}), out.get("2_instances", {})
        if one.get("events_per_s") and two.get("events_per_s"):
            out["two_vs_one"] = round(two["events_per_s"] / one["events_per_s"], 2)
    finally:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.delete_topics([prefix + t.name for t in TOPICS])
        except Exception as exc:  # noqa: BLE001 -- topics never created: nothing to delete
            print(f"[bench] topics not deleted: {exc}", flush=True)
        finally:
            admin.close()
    return out


def _follow_backlog(url: str, consumer: str, total: int, timeout: float, procs: list[Process], db: str) -> dict:
    """Poll the stored offsets until they reach `total`; rate from the first applied batch to the last."""
    started = time.monotonic()
    cpu0 = {p.popen.pid: _tree_cpu(p.popen.pid) for p in procs}
    first = None
    applied = 0
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() - started < timeout:
            applied = conn.execute("select coalesce(sum(next_offset), 0)::bigint from consumer_offsets where consumer = %s",
                                   (consumer,)).fetchone()[0]
            now = time.monotonic()
            if applied and first is None:
                first = (now, applied)
            if applied >= total or not all(p.running for p in procs):
                break
            time.sleep(0.25)
        instances_applying = conn.execute(
            "select count(distinct pid) from pg_stat_activity where datname = %s and backend_type = 'client backend'",
            (db,)).fetchone()[0]
    end = time.monotonic()
    cpu = sum(_tree_cpu(pid) - c for pid, c in cpu0.items())
    result = {"applied": int(applied), "of": total, "complete": applied >= total,
              "seconds_from_start": round(end - started, 2),
              "consumer_cpu_us_per_event": round(cpu * 1e6 / max(1, applied), 1),
              "database_sessions_at_end": instances_applying,
              "instances_running_at_end": sum(1 for p in procs if p.running),
              # Whether every instance took part: the batches each one's log records.
              "batches_applied_per_instance": [p.log_path.read_text(errors="replace").count('"batch applied"')
                                               for p in procs]}
    if first is not None and end > first[0]:
        result["seconds_from_first_batch"] = round(end - first[0], 2)
        result["events_per_s"] = round((applied - first[1]) / (end - first[0]))
    return result


def _tree_cpu(root: int) -> float:
    stats = PipelineCpu._stats()
    return sum(stats[p].cpu_ticks for p in descendants(stats, root)) / TICK


# --------------------------------------------------------------------------- the run

def smtp_sink(workdir: Path, cleanup: ExitStack) -> int:
    """bench/notifier_bench.py's aiosmtpd sink in a subprocess; its port."""
    port = free_port()
    ready = workdir / "sink.ready"
    sink = Process("smtp-sink", [sys.executable, str(BENCH / "notifier_bench.py"), "_sink", str(port),
                                 str(workdir / "sink.tsv"), str(ready)], {**os.environ}, workdir / "sink.log").start()
    cleanup.callback(lambda: sink.kill(signal.SIGTERM))
    deadline = time.monotonic() + 20
    while not ready.exists():
        if not sink.running or time.monotonic() > deadline:
            raise RuntimeError("SMTP sink did not start: " + (workdir / "sink.log").read_text()[-500:])
        time.sleep(0.05)
    return port


def run(args, report: dict) -> dict:
    """Every phase in order, filling `report` as it goes (what was measured survives a failure)."""
    check_wrk()
    report.update({"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "command": " ".join(["bench/run"] + sys.argv[1:])})
    report["machine"] = {**machine_info(packages=("flask", "gunicorn", "marshmallow", "psycopg", "kafka-python",
                                                  "crc32c"), pg_settings=("shared_buffers", "synchronous_commit")),
                         "wrk": wrk_version()}
    report["machine"]["background_load_before_run"] = wait_for_quiet(args.wait_quiet)
    print_block("machine", report["machine"])
    report["settings"] = {k: getattr(args, k) for k in ("duration", "warmup", "clients", "workers", "organisations",
                                                        "customers", "agents_per_desk", "rates", "latency_duration",
                                                        "probes_per_s", "poll_interval", "backlog", "quick")}
    report["settings"]["mix"] = {"ticket": round(1 - sum(SHARES.values()), 2), **SHARES}
    workdir = Path(tempfile.mkdtemp(prefix="mesa-issue11-"))
    print(f"[bench] logs in {workdir}", flush=True)
    with ExitStack() as cleanup:
        bare, bare_url = start_bare_app(args.workers, workdir)
        cleanup.callback(lambda: bare.kill(signal.SIGTERM))
        print(f"\n[bench] bare app: wrk -c{args.clients} for {args.duration:.0f} s ...", flush=True)
        anonymous = [Client(email="bench@example.com", token="none", desks=["SOPORTE", "IMPLANTACIONES"],
                            name="Bench Client")]
        bare_result = throughput(bare_url, "/tickets", anonymous, args, workdir, {"bare app (gunicorn)": bare.popen.pid},
                                 confirmed=False)
        bare.kill(signal.SIGTERM)
        report["bare_app"] = {k: bare_result[k] for k in ("seconds", "requests", "per_second_2xx", "statuses",
                                                          "cpu_ms_per_request")}
        print_block("bare app", report["bare_app"])

        print("\n[bench] starting the pipeline (LocalStack with the notifier) ...", flush=True)
        sink_port = smtp_sink(workdir, cleanup)
        stack = LocalStack(workdir / "stack", gunicorn_workers=args.workers, with_notifier=True,
                           extra_env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink_port)},
                           load_demo=population(args.organisations, args.customers, args.agents_per_desk))
        stop_stack = cleanup.callback(once(stack.stop))  # stopped before the backlog phase, or on failure
        stack.start()
        clients, agents = log_in_everyone(stack, args.organisations, args.customers, args.agents_per_desk)
        supervisor = stack.login("supervisor@mesa.example")
        report["population"] = {"organisations": args.organisations, "customers": len(clients),
                                "agents": {d: len(t) for d, t in agents.items()}}
        # The consumers join their groups a few seconds after start: one ticket through first.
        http_call(stack.urls["intake"], "POST", "/api/tickets",
                  {"Content-Type": "application/json", "Authorization": f"Bearer {clients[0].token}"},
                  json.dumps(ticket_body(clients[0], random.Random(0))).encode())
        wait_for_catch_up(stack, 120)

        for k, rate in enumerate(args.rates):
            print(f"\n[bench] latency: open loop {rate:g} tickets/s for {args.latency_duration:g} s ...", flush=True)
            result = latency_phase(stack, clients, supervisor, rate, args.latency_duration, warmup=args.warmup,
                                   senders=args.senders, probes_per_s=args.probes_per_s,
                                   poll_interval=args.poll_interval, seed=k + 1)
            report.setdefault("latency", {})[f"{rate:g}"] = result
            print_block(f"latency at {rate:g}/s", result)
            wait_for_catch_up(stack, 120)

        print(f"\n[bench] mixed load: wrk -c{args.clients} for {args.duration:g} s ...", flush=True)
        report["throughput"] = mixed_throughput(stack, clients, agents, args, workdir)
        print_block("throughput (mixed load)", report["throughput"])
        report["unhandled_errors"] = stack.unhandled_errors()[:10]
        base_env = stack.env_for("query")
        stop_stack()

        if args.backlog > 0:
            print(f"\n[bench] backlog: {args.backlog:,} events, 1 then 2 query consumers ...", flush=True)
            report["backlog"] = backlog_phase(base_env, args.backlog, workdir, args.backlog_timeout)
    shutil.rmtree(workdir, ignore_errors=True)  # the services' logs are kept only when a phase failed
    return report


def summarise(report: dict) -> dict:
    """The headline figures against issue 11's targets."""
    bare = report["bare_app"]["per_second_2xx"]
    tp = report.get("throughput", {})
    rate = tp.get("accepted_tickets_per_s")
    cpu = tp.get("cpu_until_caught_up", {}).get("cpu_ms_per_ticket", {})
    summary = {
        "machine": "{cpu_model}, {cores} cores, {ram_gib} GiB, Linux {kernel}, Python {python}, PostgreSQL "
                   "{postgresql}, Kafka {kafka}".format(**report["machine"]),
        "load_average_at_start": report["machine"]["load_average"],
        "accepted_tickets_per_s": rate, "target_tickets_per_s": TARGET_TICKETS_PER_S,
        "bare_app_requests_per_s": bare,
        "share_of_bare_app_percent": round(100 * rate / bare, 1) if rate is not None and bare else None,
        "duplicate_refusals": tp.get("by_kind", {}).get("duplicate_refusals"),
        "requests_by_kind": {k: v for k, v in tp.get("by_kind", {}).items() if k != "duplicate_refusals"},
        "cpu_ms_per_ticket": cpu, "target_cpu_ms_per_ticket": TARGET_CPU_MS_PER_TICKET,
        "other_cores_during_load": tp.get("cpu_during_load", {}).get("other_cores"),
        "query_caught_up_after_s": tp.get("catch_up", {}).get("seconds"),
    }
    for rate_name, lat in report.get("latency", {}).items():
        summary[f"visible_at_{rate_name}_per_s_ms"] = {**lat["visible_ms"], "probed": lat["probed"],
                                                       "p99_from_scheduled": lat["visible_from_scheduled_ms"]["p99"],
                                                       "never_visible": lat["never_visible_within_10s"],
                                                       "statuses": lat["statuses"]}
    summary["target_p99_visible_ms_at_200"] = TARGET_P99_MS
    if "backlog" in report:
        b = report["backlog"]
        summary["backlog_events"] = b.get("events_on_query_topics")
        summary["backlog_events_per_s_1_instance"] = b.get("1_instance", {}).get("events_per_s")
        summary["backlog_events_per_s_2_instances"] = b.get("2_instances", {}).get("events_per_s")
        summary["backlog_two_vs_one"] = b.get("two_vs_one")
    summary["met"] = {
        "tickets_per_s": rate is not None and rate >= TARGET_TICKETS_PER_S,
        "share_of_bare_app": summary["share_of_bare_app_percent"] is not None
        and summary["share_of_bare_app_percent"] >= TARGET_SHARE_OF_BARE,
        "cpu_per_ticket": bool(cpu) and cpu["total"] <= TARGET_CPU_MS_PER_TICKET,
        "p99_at_200": report.get("latency", {}).get("200", {}).get("met")}
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="measured seconds of the mixed wrk load (60)")
    p.add_argument("--warmup", type=float, default=5.0, help="unreported warm-up seconds before each phase (5)")
    p.add_argument("--clients", type=int, default=16, help="wrk connections (16)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers for intake, query and the bare app (2)")
    p.add_argument("--organisations", type=int, default=20)
    p.add_argument("--customers", type=int, default=100, help="customers, spread over the organisations (100)")
    p.add_argument("--agents-per-desk", type=int, default=3)
    p.add_argument("--rates", type=float, nargs="+", default=[200.0, 50.0],
                   help="offered tickets/s of the latency phases (200 50)")
    p.add_argument("--latency-duration", type=float, default=30.0, help="measured seconds per latency phase (30)")
    p.add_argument("--probes-per-s", type=float, default=10.0,
                   help="tickets a second followed until visible (each polls query's GET; 10)")
    p.add_argument("--poll-interval", type=float, default=0.02, help="seconds between a probe's polls (0.02)")
    p.add_argument("--senders", type=int, default=64, help="sending threads of the latency phases (64)")
    p.add_argument("--backlog", type=int, default=500_000, help="events of the consumer backlog phase (0 skips it)")
    p.add_argument("--backlog-timeout", type=float, default=1800.0, help="seconds allowed per backlog run")
    p.add_argument("--wait-quiet", type=float, default=60.0, help="seconds to wait for the machine to calm down")
    p.add_argument("--quick", action="store_true",
                   help="smoke run (2-4 minutes): 10 s phases, 20,000-event backlog, no waiting for quiet")
    args = p.parse_args(argv)
    if args.quick:
        given = set(a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]))
        for option, value in (("--duration", 10.0), ("--warmup", 2.0), ("--latency-duration", 8.0),
                              ("--backlog", 20_000), ("--wait-quiet", 0.0), ("--backlog-timeout", 300.0)):
            if option not in given:
                setattr(args, option[2:].replace("-", "_"), value)
    if args.organisations < 1 or args.customers < args.organisations:
        p.error("at least one organisation and one customer per organisation")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    report: dict = {}
    status = 0
    try:
        run(args, report)
    except KeyboardInterrupt:
        print("\n[bench] interrupted: everything the bench started has been stopped", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- stopped everything; keep and save what was measured
        import traceback
        traceback.print_exc()
        report["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        status = 1
    if "bare_app" in report:
        report["summary"] = summarise(report)
        print_block("SUMMARY", report["summary"])
    save_results("failed-issue11" if status else "issue11", report)  # a failed run stays git-ignored
    return status


if __name__ == "__main__":
    sys.exit(main())
