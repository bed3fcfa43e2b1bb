"""Intake throughput and POST→visible latency bench (run: `python bench/intake_throughput.py` or `bench/run`).

What it does, in order:

1. prints the machine (CPU, cores, RAM, kernel, Python, PostgreSQL, Kafka, wrk) and the load
   other work already puts on it (waits up to --wait-quiet seconds for it to drop);
2. starts a bare Flask + gunicorn app (bench/bare_app.py: marshmallow validation of the same
   ~1 KB body, intake's worker count) and measures its requests/s with wrk;
3. starts a LocalStack (intake, relay, query consumer, query and whatever else it runs, on
   fresh databases and topics) and logs in the four demo customers (three organisations);
4. latency phase: an open-loop offered load (default 200 tickets/s for 20 s after a 3 s
   warm-up) sent by Python threads at fixed times, and for each ticket the time from just
   before its POST (and from its scheduled time) to its first appearance in query's API;
5. throughput phase: wrk drives POST /api/tickets with N connections for the duration,
   counting 201s and every other answer; accepted tickets/s is compared to the bare app's
   requests/s (target: at least 40 %); then how long relay and query take to catch up;
6. stops everything it started, also on Ctrl-C, SIGTERM or failure, and prints and saves a
   summary (bench/results/intake-<timestamp>.json).

Load generator: wrk (C, epoll, one thread) for both throughput phases. A Python client costs
100-200 µs of CPU per request, which on a 2-core machine shared with the servers would take a
large share of a core from them at thousands of requests/s; wrk spends a few percent. The
same wrk script and body generator (bench/tickets.lua) drive the bare app and intake, so the
percentage compares like with like. The latency phase must follow each ticket, so it is
Python; at 200 tickets/s it costs well under a tenth of a core (shown in its CPU table).

Visibility: one watcher thread asks query for the newest tickets (GET /api/tickets, newest
first, as the supervisor, 50 a page, every 10 ms) and notes when each number first appears;
the resolution is one poll cycle (reported). One list request covers every ticket made
visible since the last, so polling costs the same at any rate; tickets still missing a second
after their 201 are also asked for one by one.

Every phase reports the cores each process group used (from /proc), so a figure depressed by
other work on the machine shows as such, and CPU milliseconds per request, which stays
comparable when the machine is shared.

The latency phase runs on the fresh stack before the throughput phase, so its read model is
not still digesting the throughput phase's backlog. Tickets carry
`confirmed_different_case: true` by default (intake then skips rule 6's duplicate scan), and
every case text is built from varied words anyway; `--duplicate-check` sends them unconfirmed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from intake import demo
from helpdesk_shared.localstack import PG_BASE_URL, LocalStack, Process, free_port, wait_until
from machine import TICK, command_line, machine_info, machine_ticks, print_block, save_results

BENCH = Path(__file__).resolve().parent
TARGET_PERCENT_OF_BARE = 40.0
TARGET_P99_VISIBLE_MS = 250.0
NEVER_VISIBLE_AFTER_S = 10.0
QUIET_BUSY_PERCENT = 15.0
NOT_UNDER_TEST = {"other", "unattributed", "wrk (load generator)", "bench client (python)"}
MAX_SEND_LAG_S = 10.0  # an overloaded intake must not stretch the latency phase without bound

CUSTOMERS = [  # (e-mail, desks): the demo customers of intake/demo.py, three organisations
    ("maria@clubcaracas.com.ve", ["SOPORTE"]),
    ("jose@clubcaracas.com.ve", ["SOPORTE"]),
    ("ana@countryvalencia.com.ve", ["SOPORTE", "IMPLANTACIONES"]),
    ("luis@andina.com.ve", ["IMPLANTACIONES"]),
]
SUPERVISOR = "supervisor@mesa.example"

_SUPPORT = ["BANCOS", "FACTURACION", "SOCIOS", "CARNETIZACION", "NOMINA", "CONTABILIDAD", "CXP", "CXC",
            "INVENTARIO", "SENIAT", "REPORTES", "SISTEMA"]
# Shared with bench/tickets.lua (written into its config): one vocabulary for both generators.
VOCAB = {
    "modules": {"SOPORTE": _SUPPORT, "IMPLANTACIONES": _SUPPORT + ["MIGRACION", "PARAMETRIZACION", "CAPACITACION"]},
    "subjects": ["Factura", "Retención", "Conciliación", "Nota de crédito", "Cheque", "Transferencia", "Recibo",
                 "Asiento contable", "Cuota de mantenimiento", "Carnet", "Orden de compra", "Saldo inicial",
                 "Declaración de IVA", "Libro de ventas", "Reporte de antigüedad", "Depósito", "Anticipo",
                 "Prenómina", "Liquidación", "Inventario de bar"],
    "qualifiers": ["duplicada", "mal calculada", "sin registrar", "rechazada", "descuadrada", "con fecha errada",
                   "con monto distinto", "bloqueada", "anulada por error", "sin impresora asignada",
                   "cargada dos veces", "con IVA equivocado", "sin correlativo", "con socio equivocado"],
    "places": ["el banco Mercantil", "el banco de Venezuela", "la sede Caracas", "la sede Valencia",
               "el módulo de caja", "la taquilla principal", "el restaurante", "la cuenta corriente",
               "el cierre diario", "la sucursal del este", "el portal de socios"],
    "months": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
               "noviembre", "diciembre"],
    "sentences": [
        "Al revisar la %s número %d en %s durante %s, el saldo no coincide con el comprobante del socio.",
        "El sistema muestra la %s %d de %s en el reporte de %s aunque ya fue procesada por contabilidad.",
        "Desde el cierre de la %s %d en %s el mes de %s, el reporte de movimientos bancarios sale vacío.",
        "Intentamos registrar la %s %d para %s en %s y la pantalla devuelve un mensaje de campo obligatorio.",
        "La %s %d aparece asociada a %s en %s con un número de acción que no corresponde al titular.",
        "Necesitamos revisar la %s %d emitida en %s en %s porque el total difiere del estado de cuenta.",
    ],
    "menu_paths": ["Bancos > Conciliación > Movimientos", "Facturación > Socios > Facturas emitidas",
                   "Contabilidad > Reportes > Balance de comprobación", "Nómina > Procesos > Prenómina",
                   "CxP > Proveedores > Retenciones", "SENIAT > Libros > Libro de ventas"],
}


# --------------------------------------------------------------------------- small helpers

def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def finite(value: float | None) -> float | None:
    """None for infinity (a percentile that fell on a ticket never seen)."""
    return None if value is None or value == float("inf") else value


def once(stop):
    """`stop` wrapped so that a second call does nothing (cleanup may run after an early stop)."""
    done = threading.Event()

    def call() -> None:
        if not done.is_set():
            done.set()
            stop()
    return call


def ms(seconds: float | None) -> float | None:
    """Seconds → milliseconds rounded to 0.1 ms (None stays None)."""
    return None if seconds is None else round(seconds * 1000, 1)


def only_local(url: str) -> str:
    """Refuse any target but 127.0.0.1: this bench never loads another machine."""
    if urlsplit(url).hostname != "127.0.0.1":
        raise ValueError(f"bench targets must be 127.0.0.1, not {url}")
    return url


def lua_literal(value) -> str:
    """A Python str/int/bool/list/dict as a Lua expression (for the wrk script's config)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(ch if ch not in '"\\\n' else "\\" + {"\n": "n"}.get(ch, ch) for ch in value) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


@dataclass(frozen=True)
class Client:
    """A logged-in demo customer: bearer token, desks and contact details."""

    email: str
    token: str
    desks: list[str]
    name: str
    phone: str = "+58 212 555 0100"


def ticket_body(client: Client, rng: random.Random, confirmed: bool, numbered: bool = False) -> dict:
    """A valid ~1 KB ticket for `client`: varied case words and description (mirrors tickets.lua).

    `numbered`: the case carries a number of its own (bench/issue11.lua's cases), so most tickets are
    different cases; `confirmed` False leaves the confirmation out, as a customer who did not tick it.
    """
    desk = rng.choice(client.desks)
    module = rng.choice(VOCAB["modules"][desk])
    number = f" {rng.randint(1000, 99999)}" if numbered else ""
    case = (f"{rng.choice(VOCAB['subjects'])}{number} {rng.choice(VOCAB['qualifiers'])} en {rng.choice(VOCAB['places'])}"
            f" de {rng.choice(VOCAB['months'])}")
    description = " ".join(rng.choice(VOCAB["sentences"]) % (rng.choice(VOCAB["subjects"]).lower(),
                                                             rng.randint(1000, 9999), rng.choice(VOCAB["places"]),
                                                             rng.choice(VOCAB["months"])) for _ in range(4))
    n = rng.randint(1, 9999)
    return {"desk": desk, "subject": f"{module}, {case}", "description": description,
            "contact": {"name": client.name, "email": client.email, "phone": client.phone},
            "member_number": f"{n:04d}-A", "dates": [f"2025-03-{rng.randint(1, 27):02d}", "2025-03-28"],
            "vouchers": [f"CD-{n:04d}", f"CD-{n + 1:04d}"], "menu_path": rng.choice(VOCAB["menu_paths"]),
            "urgency": "normal", **({"confirmed_different_case": True} if confirmed else {})}


def http_call(base_url: str, method: str, path: str, headers: dict, body: bytes | None = None,
              timeout: float = 10.0) -> tuple[int, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close after each response)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- the machine

def wrk_version() -> str:
    """wrk's version line, without its copyright."""
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0]


# --------------------------------------------------------------------------- CPU accounting

class CpuMeter:
    """CPU seconds per group of processes between `start()` and `stop()`, from /proc.

    Groups are process groups the bench started (gunicorn masters with their workers,
    relay, consumer, bare app) plus PostgreSQL and Kafka by command name. wrk is counted
    from its rusage (it has exited and been reaped by the time the phase ends).
    """

    def __init__(self, groups: dict[str, int], database_marker: str | None = None):
        self.groups = groups  # name -> process group id
        self.by_pgid = {pgid: name for name, pgid in groups.items()}
        # PostgreSQL serves every session on this machine: split its backends by database name.
        self.database_marker = database_marker

    def _snapshot(self) -> tuple[dict[tuple[int, str], tuple[str, float]], float, float]:
        """CPU seconds so far of every live process, keyed by (pid, start time), with its group name."""
        processes: dict[tuple[int, str], tuple[str, float]] = {}
        me = os.getpid()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1: raw.rindex(")")]
            fields_ = raw[raw.rindex(")") + 2:].split()
            pid, pgid, seconds = int(entry.name), int(fields_[2]), (int(fields_[11]) + int(fields_[12])) / TICK
            if pid == me:
                name = "bench client (python)"
            elif pgid in self.by_pgid:
                name = self.by_pgid[pgid]
            elif comm == "postgres":
                name = self._postgres_role(pid)
            elif comm == "java":
                name = "kafka"
            else:
                name = "other"
            processes[(pid, fields_[19])] = (name, seconds)
        return (processes, *machine_ticks())

    def _postgres_role(self, pid: int) -> str:
        title = command_line(pid)
        if self.database_marker and self.database_marker in title:
            return "postgresql (this stack's databases)"
        if title.startswith("postgres: ") and title.count(":") >= 2 and "(" in title:
            return "other"  # a backend of some other session's database
        return "postgresql (server processes)"

    def start(self) -> None:
        """Take the 'before' snapshot."""
        self.before, self.total0, self.idle0 = self._snapshot()
        self.children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.wall0 = time.monotonic()

    def stop(self) -> dict:
        """Cores used per group over the interval, the machine's busy percentage, the busiest 'other' processes."""
        after, total1, idle1 = self._snapshot()
        wall = time.monotonic() - self.wall0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cores: dict[str, float] = {}
        others = []
        for key, (name, seconds) in after.items():  # processes that started meanwhile count from zero
            used = (seconds - self.before.get(key, (name, 0.0))[1]) / wall
            cores[name] = cores.get(name, 0.0) + used
            if name == "other":
                others.append((used, key[0]))
        reaped = (children.ru_utime + children.ru_stime - self.children0.ru_utime - self.children0.ru_stime)
        if reaped > 0:
            cores["wrk (load generator)"] = reaped / wall
        busy = 1 - (idle1 - self.idle0) / max(total1 - self.total0, 1e-9)
        # Kernel work (loopback networking, softirqs) and processes that exited before the end.
        cores["unattributed"] = max(0.0, busy * (total1 - self.total0) / wall - sum(cores.values()))
        return {"machine_busy_percent": round(busy * 100, 1),
                "cores_used": {k: round(v, 2) for k, v in sorted(cores.items(), key=lambda kv: -kv[1]) if v >= 0.005},
                "busiest_other_processes": [f"{c:.2f} cores: pid {pid} {command_line(pid)}"
                                            for c, pid in sorted(others, reverse=True)[:3] if c >= 0.05]}


def background_load(seconds: float = 3.0) -> dict:
    """CPU in use before the bench starts anything: other work on the machine skews every figure."""
    meter = CpuMeter({})
    meter.start()
    time.sleep(seconds)
    cpu = meter.stop()
    return {"machine_busy_percent": cpu["machine_busy_percent"],
            "busiest_other_processes": cpu["busiest_other_processes"]}


def wait_for_quiet(max_wait: float, busy_limit: float = QUIET_BUSY_PERCENT) -> dict:
    """Sample the background load until it is under `busy_limit` % or `max_wait` seconds have passed."""
    deadline = time.monotonic() + max_wait
    load = background_load()
    while load["machine_busy_percent"] > busy_limit and time.monotonic() < deadline:
        print(f"[bench] machine {load['machine_busy_percent']:.0f} % busy before the run; waiting for it to calm "
              f"down (at most {max(0, deadline - time.monotonic()):.0f} s more)", flush=True)
        load = background_load()
    return load


# --------------------------------------------------------------------------- wrk

def check_wrk() -> None:
    """Exit with a clear message when wrk is not installed."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `apt-get install -y wrk` (bench/run does it when run as root)")


def run_wrk(url: str, path: str, clients: list[Client], connections: int, duration: float,
            confirmed: bool, workdir: Path, on_start=None) -> dict:
    """Drive POST `url+path` with wrk (one thread, `connections` connections); return its counts."""
    only_local(url)
    config = workdir / "wrk_config.lua"
    config.write_text("return " + lua_literal({
        "path": path, "vocab": VOCAB, "confirmed_different_case": "true" if confirmed else "false",
        "clients": [{"token": c.token, "desks": c.desks, "name": c.name, "email": c.email, "phone": c.phone}
                    for c in clients]}) + "\n")
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
            "-s", str(BENCH / "tickets.lua"), url]
    proc = subprocess.Popen(argv, env={**os.environ, "BENCH_WRK_CONFIG": str(config)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if on_start:
            on_start()
        out, err = proc.communicate(timeout=duration + 60)
    finally:
        if proc.poll() is None:  # Ctrl-C or timeout: end the wrk we started
            proc.kill()
            proc.wait(timeout=10)
    line = next((l for l in out.splitlines() if l.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip() or out.strip()}")
    result = json.loads(line[len("BENCH_JSON "):])
    seconds = result["duration_us"] / 1e6
    result["seconds"] = round(seconds, 2)
    result["per_second_2xx"] = round(sum(v for k, v in result["statuses"].items() if k.startswith("2")) / seconds, 1)
    result["per_second_201"] = round(result["statuses"].get("201", 0) / seconds, 1)
    result["not_201"] = result["requests"] - result["statuses"].get("201", 0)
    return result


# --------------------------------------------------------------------------- bare app

def start_bare_app(workers: int, workdir: Path) -> tuple[Process, str]:
    """Start bench/bare_app.py under gunicorn with `workers` sync workers; wait for /healthz."""
    port = free_port()
    url = only_local(f"http://127.0.0.1:{port}")
    proc = Process("bare-app", [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                                "--pythonpath", str(BENCH), "bare_app:create_app()"],
                   {**os.environ, "PYTHONUNBUFFERED": "1"}, workdir / "bare-app.log").start()

    def healthy() -> bool:
        try:
            return http_call(url, "GET", "/healthz", {}, timeout=1)[0] == 200
        except OSError:
            return False
    wait_until(healthy, 30, "bare app /healthz")
    return proc, url


# --------------------------------------------------------------------------- stack helpers

def log_in(stack: LocalStack) -> tuple[list[Client], dict]:
    """Bearer tokens for the demo customers, and the supervisor's headers (sees every desk)."""
    clients = []
    for email, desks in CUSTOMERS:
        status, body = http_call(stack.urls["intake"], "POST", "/api/auth/login",
                                 {"Content-Type": "application/json"},
                                 json.dumps({"email": email, "password": "mesa-demo"}).encode())
        if status != 200:
            raise RuntimeError(f"login {email}: {status} {body[:200]!r}")
        answer = json.loads(body)
        clients.append(Client(email=email, token=answer["token"], desks=desks, name=answer["user"]["name"]))
    return clients, stack.login(SUPERVISOR)


def ticket_counts(stack: LocalStack) -> dict:
    """Tickets in intake, outbox rows not yet published, tickets in query's read model."""
    # Query first: a ticket accepted between the two counts then makes query look behind, not ahead.
    with psycopg.connect(stack.env_for("query")["DATABASE_URL"]) as conn:
        query = conn.execute("select count(*) from tickets").fetchone()[0]
    with psycopg.connect(stack.env_for("intake")["DATABASE_URL"]) as conn:
        intake = conn.execute("select count(*) from tickets").fetchone()[0]
        # Intake's event store is its outbox: what waits is every event after the relay's cursor.
        # (helpdesk_shared.outbox.AFTER_CURSOR, written out so the bench also drives older checkouts)
        unpublished = conn.execute("""select count(*) from events e where (e.relay_xid, e.global_position) >
                                      ((select relay_xid from relay_cursor where relay = 'kafka'),
                                       (select position from relay_cursor where relay = 'kafka'))""").fetchone()[0]
    return {"intake_tickets": intake, "outbox_unpublished": unpublished, "query_tickets": query}


def wait_for_catch_up(stack: LocalStack, seconds: float) -> dict:
    """Wait (bounded) until the outbox is published and query holds every intake ticket."""
    started = time.monotonic()
    counts = ticket_counts(stack)
    deadline = started + seconds
    while (counts["outbox_unpublished"] or counts["query_tickets"] < counts["intake_tickets"]) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
        counts = ticket_counts(stack)
    counts["caught_up"] = counts["outbox_unpublished"] == 0 and counts["query_tickets"] >= counts["intake_tickets"]
    counts["seconds"] = round(time.monotonic() - started, 2)
    return counts


def settle_statistics(stack: LocalStack) -> None:
    """ANALYZE every database of the stack, as autovacuum does in its first minute of service.

    A run starts on fresh databases. The consumers' statements are prepared after five runs and
    PostgreSQL may keep the plan it made for an empty table: a sequential scan, which then reads
    the whole table at every batch until autovacuum's next analyze (auto_explain on a 40 s run: the
    query consumer's `timeline where event_id = any($1)` read 2,000 rows a batch). A service in
    production has statistics; the figures are meant to be its figures, so each measured phase
    starts after this, on tables that already hold the warm-up's tickets."""
    for name in stack.databases.values():
        with psycopg.connect(f"{PG_BASE_URL}/{name}", autocommit=True) as conn:
            conn.execute("analyze")


def stack_database_marker(stack: LocalStack) -> str:
    """What this stack's databases' names share (PostgreSQL backends show it in their process title)."""
    return f"mesa_t{stack.run_id}_"


def stack_groups(stack: LocalStack) -> dict[str, int]:
    """Process group id of each LocalStack process (each runs in its own session)."""
    names = {"intake": "intake (gunicorn)", "query": "query (gunicorn)", "relay": "relay",
             "query-consumer": "query consumer"}
    return {names.get(n, n): p.popen.pid for n, p in stack.processes.items()}


# --------------------------------------------------------------------------- latency phase

@dataclass
class Sent:
    """One open-loop ticket: when it was due, sent, answered, and what came back."""

    scheduled: float
    body: bytes
    headers: dict
    measured: bool
    started: float = 0.0
    answered: float = 0.0
    status: int = 0
    number: str | None = None
    error: str | None = None


@dataclass
class Watcher:
    """Polls query's list endpoint (newest first, as the supervisor) and notes when each number first shows.

    One request per cycle covers every ticket that became visible since the last one; when a
    whole page is new it reads the next page too (bounded). Tickets still missing one second
    after their 201 are also asked for one by one (GET /api/tickets/<number>), in case they
    sorted below a page.
    """

    query_url: str
    headers: dict
    interval: float
    per_page: int
    sent: list[Sent]
    seen: dict[str, float] = field(default_factory=dict)
    cycles: list[float] = field(default_factory=list)
    requests: int = 0
    found_one_by_one: int = 0
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _page(self, page: int) -> list[dict]:
        self.requests += 1
        status, body = http_call(self.query_url, "GET", f"/api/tickets?per_page={self.per_page}&page={page}",
                                 self.headers)
        if status != 200:
            raise RuntimeError(f"query list answered {status}: {body[:200]!r}")
        return json.loads(body)["items"]

    def _one_by_one(self, now: float) -> None:
        missing = [s for s in self.sent if s.number and s.number not in self.seen and now - s.answered > 1.0]
        for s in missing[:20]:
            self.requests += 1
            if http_call(self.query_url, "GET", f"/api/tickets/{s.number}", self.headers)[0] == 200:
                self.seen.setdefault(s.number, time.perf_counter())
                self.found_one_by_one += 1

    def run(self) -> None:
        """Poll until stopped (the caller bounds the phase)."""
        last_cycle = time.perf_counter()
        last_sweep = last_cycle
        while not self.stop.is_set():
            try:
                for page in range(1, 11):
                    items = self._page(page)
                    now = time.perf_counter()
                    new = [i["number"] for i in items if i["number"] not in self.seen]
                    for number in new:
                        self.seen[number] = now
                    if len(new) < self.per_page:
                        break
                if now - last_sweep > 0.25:
                    self._one_by_one(now)
                    last_sweep = now
            except (OSError, RuntimeError) as exc:  # counted and reported; the tickets it missed show as late
                self.errors.append(repr(exc))
                now = time.perf_counter()
            self.cycles.append(now - last_cycle)
            last_cycle = now
            self.stop.wait(self.interval)


def latency_phase(stack: LocalStack, clients: list[Client], supervisor: dict, rate: float, duration: float,
                  warmup: float, senders: int, poll_interval: float, per_page: int, confirmed: bool,
                  seed: int = 1) -> dict:
    """Open loop: send at fixed times t0 + i/rate; report POST→visible in query for each measured ticket."""
    intake_url = only_local(stack.urls["intake"])
    rng = random.Random(seed)
    count = int((warmup + duration) * rate)
    warm = int(warmup * rate)
    # Bodies are built before the clock starts, so the sending threads only send.
    plan = []
    for i in range(count):
        client = clients[i % len(clients)]
        plan.append(Sent(scheduled=0.0, measured=i >= warm,
                         body=json.dumps(ticket_body(client, rng, confirmed)).encode(),
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {client.token}"}))
    due: queue.Queue = queue.Queue()

    def sender() -> None:
        while (item := due.get()) is not None:
            item.started = time.perf_counter()
            if item.started - item.scheduled > MAX_SEND_LAG_S:
                item.status, item.error = 0, f"not sent: senders over {MAX_SEND_LAG_S:.0f} s behind schedule"
                continue
            try:
                item.status, answer = http_call(intake_url, "POST", "/api/tickets", item.headers, item.body)
                item.answered = time.perf_counter()
                if item.status == 201:
                    item.number = json.loads(answer)["number"]
                else:
                    item.error = answer[:200].decode(errors="replace")
            except OSError as exc:
                item.answered, item.status, item.error = time.perf_counter(), -1, repr(exc)

    watcher = Watcher(stack.urls["query"], supervisor, poll_interval, per_page, plan)
    threads = [threading.Thread(target=sender, daemon=True, name=f"sender-{i}") for i in range(senders)]
    watch = threading.Thread(target=watcher.run, daemon=True, name="watcher")
    for t in threads + [watch]:
        t.start()
    meter = CpuMeter(stack_groups(stack), stack_database_marker(stack))
    t0 = time.perf_counter() + 0.05
    try:
        for i, item in enumerate(plan):
            if i == warm:
                meter.start()
            item.scheduled = t0 + i / rate
            delay = item.scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            due.put(item)
        for _ in threads:
            due.put(None)
        for t in threads:
            t.join(timeout=60)
        cpu = meter.stop()
        # Let stragglers show up, bounded by the "never visible" limit.
        deadline = time.perf_counter() + NEVER_VISIBLE_AFTER_S
        while time.perf_counter() < deadline and any(
                s.number and s.number not in watcher.seen for s in plan if s.measured):
            time.sleep(0.05)
    finally:
        watcher.stop.set()
        watch.join(timeout=15)
        for _ in threads:
            due.put(None)

    measured = [s for s in plan if s.measured]
    accepted = [s for s in measured if s.status == 201]
    visible = [watcher.seen[s.number] - s.started for s in accepted if s.number in watcher.seen]
    visible_ok = [v for v in visible if v <= NEVER_VISIBLE_AFTER_S]
    from_due = [watcher.seen[s.number] - s.scheduled for s in accepted if s.number in watcher.seen]
    post = [s.answered - s.started for s in accepted]
    lag = [s.started - s.scheduled for s in measured if s.status]
    span = measured[-1].scheduled - measured[0].scheduled + 1 / rate
    statuses: dict[str, int] = {}
    for s in measured:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    # A ticket never seen counts as infinitely late (a p99 beyond 10 s is reported as None).
    missing = [float("inf")] * (len(accepted) - len(visible_ok))
    p99 = finite(percentile(visible_ok + missing, 99))
    due_ok = [d for d in from_due if d <= NEVER_VISIBLE_AFTER_S]
    p99_due = finite(percentile(due_ok + [float("inf")] * (len(accepted) - len(due_ok)), 99))
    sent = [s for s in measured if s.status]
    send_span = max((s.started for s in sent), default=0) - min((s.started for s in sent), default=0)
    return {
        "offered_per_second": rate, "seconds": round(span, 1), "warmup_seconds": warmup, "senders": senders,
        "scheduled": len(measured), "sent": len(sent), "statuses": statuses,
        "errors": sorted({s.error for s in measured if s.error})[:5],
        "achieved_send_rate": round(len(sent) / send_span, 1) if send_span else None,
        "send_lag_ms": {"p50": ms(percentile(lag, 50)), "p99": ms(percentile(lag, 99)), "max": ms(max(lag))},
        "post_response_ms": {"p50": ms(percentile(post, 50)), "p99": ms(percentile(post, 99)),
                             "max": ms(max(post, default=None))},
        "visible_ms": {"p50": ms(percentile(visible_ok, 50)), "p99": ms(p99),
                       "max": ms(max(visible_ok, default=None))},
        "visible_from_scheduled_ms": {"p50": ms(percentile(from_due, 50)), "p99": ms(p99_due),
                                      "max": ms(max(from_due, default=None))},
        "never_visible_within_10s": len(accepted) - len(visible_ok),
        "poll": {"method": "GET /api/tickets?per_page=%d (newest first, supervisor) every %.0f ms + "
                           "per-ticket GET for tickets missing 1 s after their 201" % (per_page, poll_interval * 1000),
                 "requests": watcher.requests, "found_one_by_one": watcher.found_one_by_one,
                 "errors": len(watcher.errors), "first_error": watcher.errors[0] if watcher.errors else None,
                 "visible_at": "arrival of the first poll answer listing the ticket (an upper bound; "
                               "resolution about one poll cycle)",
                 "cycle_ms_p50": ms(percentile(watcher.cycles[1:], 50)),
                 "cycle_ms_p99": ms(percentile(watcher.cycles[1:], 99))},
        "cpu": cpu,
        "target_p99_ms": TARGET_P99_VISIBLE_MS,
        # Judged from the scheduled send time, which also counts any backlog of the senders
        # (an overloaded intake must not look fast because the generator slowed down with it).
        "met": (p99_due is not None and p99_due * 1000 <= TARGET_P99_VISIBLE_MS
                and statuses.get("201") == len(measured)),
    }


# --------------------------------------------------------------------------- the run

def throughput(url: str, path: str, clients: list[Client], args, workdir: Path, groups: dict[str, int],
               confirmed: bool, database_marker: str | None = None) -> dict:
    """A short unreported warm-up, then the measured wrk run with CPU accounting."""
    run_wrk(url, path, clients, args.clients, args.warmup, confirmed, workdir)
    meter = CpuMeter(groups, database_marker)
    result = run_wrk(url, path, clients, args.clients, args.duration, confirmed, workdir, on_start=meter.start)
    result["cpu"] = meter.stop()
    # CPU per completed request of the system under test only (not wrk, the bench or other load):
    # steadier than requests/s when other work shares the machine.
    rate = result["requests"] / result["seconds"]
    ours = {k: v for k, v in result["cpu"]["cores_used"].items() if k not in NOT_UNDER_TEST}
    result["cpu_ms_per_request"] = {"total": round(sum(ours.values()) * 1000 / rate, 2),
                                    **{k: round(v * 1000 / rate, 2) for k, v in ours.items()}}
    return result


def intake_throughput(stack: LocalStack, clients: list[Client], args, workdir: Path) -> dict:
    """wrk against POST /api/tickets, then how long relay and query need to catch up."""
    before = ticket_counts(stack)
    result = throughput(stack.urls["intake"], "/api/tickets", clients, args, workdir, stack_groups(stack),
                        confirmed=not args.duplicate_check, database_marker=stack_database_marker(stack))
    result["at_end"] = ticket_counts(stack)
    result["at_end"]["query_behind"] = result["at_end"]["intake_tickets"] - result["at_end"]["query_tickets"]
    result["catch_up"] = wait_for_catch_up(stack, 180)
    result["tickets_before"] = before["intake_tickets"]
    return result


def run(args) -> dict:
    """Every phase, in order; returns the summary."""
    check_wrk()
    report: dict = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:])}
    report["machine"] = {**machine_info(packages=("flask", "gunicorn", "marshmallow", "psycopg", "kafka-python")),
                         "wrk": wrk_version()}
    report["machine"]["background_load_before_run"] = wait_for_quiet(args.wait_quiet)
    print_block("machine", report["machine"])
    if report["machine"]["background_load_before_run"]["machine_busy_percent"] > QUIET_BUSY_PERCENT:
        print("[bench] WARNING: the machine is already busy before the bench starts; every figure below is "
              "depressed by that load (see busiest_other_processes)", flush=True)
    confirmed = not args.duplicate_check
    report["settings"] = {"duration_s": args.duration, "clients": args.clients, "gunicorn_workers": args.workers,
                          "load_generator": "wrk -t1 (bench/tickets.lua) for throughput; Python threads for latency",
                          "confirmed_different_case": confirmed, "rate": args.rate,
                          "latency_duration_s": args.latency_duration}
    workdir = Path(tempfile.mkdtemp(prefix="mesa-bench-"))  # service logs; kept when the run fails
    succeeded = False
    with ExitStack() as cleanup:
        cleanup.callback(lambda: succeeded or print(f"[bench] service logs kept in {workdir}", flush=True))
        # Bare app, with intake's worker count and the same wrk script and body.
        bare, bare_url = start_bare_app(args.workers, workdir)
        stop_bare = cleanup.callback(once(lambda: bare.kill(signal.SIGTERM)))
        anonymous = [Client(email=e, token="none", desks=d, name="Bench Client") for e, d in CUSTOMERS]
        print(f"\n[bench] bare app: wrk -c{args.clients} for {args.duration:.0f} s ...", flush=True)
        report["bare_app"] = throughput(bare_url, "/tickets", anonymous, args, workdir,
                                        {"bare app (gunicorn)": bare.popen.pid}, confirmed)
        stop_bare()
        print_block("bare app", report["bare_app"])

        print("\n[bench] starting LocalStack ...", flush=True)
        stack = LocalStack(workdir / "stack", load_demo=demo.load, gunicorn_workers=args.workers)
        stop_stack = cleanup.callback(once(stack.stop))
        stack.start()
        clients, supervisor = log_in(stack)
        # The consumer joins its group a few seconds after start: wait for one ticket to show.
        probe = ticket_body(clients[0], random.Random(0), True)
        http_call(stack.urls["intake"], "POST", "/api/tickets",
                  {"Content-Type": "application/json", "Authorization": f"Bearer {clients[0].token}"},
                  json.dumps(probe).encode())
        wait_for_catch_up(stack, 60)

        if args.latency_duration > 0:
            print(f"\n[bench] latency: open loop {args.rate:.0f} tickets/s for {args.latency_duration:.0f} s ...",
                  flush=True)
            report["latency"] = latency_phase(stack, clients, supervisor, args.rate, args.latency_duration,
                                              warmup=3.0, senders=args.senders, poll_interval=args.poll_interval,
                                              per_page=50, confirmed=confirmed)
            print_block("latency", report["latency"])
            wait_for_catch_up(stack, 60)
            for rate in args.also_rates:
                print(f"\n[bench] latency at {rate:.0f} tickets/s (extra, not the headline) ...", flush=True)
                extra = latency_phase(stack, clients, supervisor, rate, args.latency_duration, warmup=3.0,
                                      senders=args.senders, poll_interval=args.poll_interval, per_page=50,
                                      confirmed=confirmed)
                report.setdefault("latency_other_rates", {})[f"{rate:g}"] = extra
                print_block(f"latency at {rate:g}/s", extra)
                wait_for_catch_up(stack, 60)

        print(f"\n[bench] intake: wrk -c{args.clients} for {args.duration:.0f} s ...", flush=True)
        report["intake"] = intake_throughput(stack, clients, args, workdir)
        print_block("intake", report["intake"])
        stop_stack()

        for workers in args.also_workers:
            print(f"\n[bench] intake with {workers} gunicorn workers (extra, not the headline) ...", flush=True)
            extra_stack = LocalStack(workdir / f"stack-{workers}", load_demo=demo.load, gunicorn_workers=workers)
            stop_extra = cleanup.callback(once(extra_stack.stop))
            extra_stack.start()
            extra_clients, _ = log_in(extra_stack)
            extra = intake_throughput(extra_stack, extra_clients, args, workdir)
            report.setdefault("intake_more_workers", {})[str(workers)] = extra
            print_block(f"intake, {workers} workers", extra)
            stop_extra()
        succeeded = True
    shutil.rmtree(workdir, ignore_errors=True)
    return report


def summarise(report: dict) -> dict:
    """The headline figures, with the targets met or not."""
    bare = report["bare_app"]["per_second_2xx"]
    intake = report["intake"]
    percent = round(100 * intake["per_second_201"] / bare, 1) if bare else None
    summary = {
        "machine": "{cpu_model}, {cores} cores, {ram_gib} GiB RAM, Linux {kernel}, Python {python}, "
                   "PostgreSQL {postgresql}, Kafka {kafka}".format(**report["machine"]),
        "machine_busy_before_run_percent": report["machine"]["background_load_before_run"]["machine_busy_percent"],
        "other_load_during_phases_cores": {
            phase: report[phase]["cpu"]["cores_used"].get("other", 0.0)
            for phase in ("bare_app", "latency", "intake") if phase in report},
        "load_generator": report["settings"]["load_generator"],
        "clients": report["settings"]["clients"], "gunicorn_workers": report["settings"]["gunicorn_workers"],
        "confirmed_different_case": report["settings"]["confirmed_different_case"],
        "bare_app_requests_per_s": bare,
        "intake_accepted_tickets_per_s": intake["per_second_201"],
        "cpu_ms_per_request_bare_app": report["bare_app"]["cpu_ms_per_request"]["total"],
        "cpu_ms_per_ticket_intake_pipeline": intake["cpu_ms_per_request"],
        "intake_not_201": {"count": intake["not_201"],
                           "statuses": {k: v for k, v in intake["statuses"].items() if k != "201"},
                           "socket_errors": {k: v for k, v in intake["errors"].items() if v and k != "status"}},
        "percent_of_bare_app": percent,
        "throughput_target": f">= {TARGET_PERCENT_OF_BARE:.0f} % of bare app",
        "throughput_met": percent is not None and percent >= TARGET_PERCENT_OF_BARE,
        "query_behind_at_end": intake["at_end"]["query_behind"],
        "query_caught_up_after_s": intake["catch_up"]["seconds"] if intake["catch_up"]["caught_up"] else None,
    }
    other = summary["other_load_during_phases_cores"]
    if any(cores > 0.2 for cores in other.values()):
        summary["warning"] = ("other processes used a share of the CPU during the phases "
                              f"({max(other.values()):.2f} cores at most): figures are lower than on a quiet machine")
    for rate, extra in report.get("latency_other_rates", {}).items():
        summary[f"at_{rate}_per_s_visible_ms"] = {**extra["visible_ms"],
                                                  "p99_from_scheduled": extra["visible_from_scheduled_ms"]["p99"],
                                                  "statuses": extra["statuses"], "met": extra["met"]}
    for workers, extra in report.get("intake_more_workers", {}).items():
        summary[f"intake_accepted_tickets_per_s_{workers}_workers"] = extra["per_second_201"]
        summary[f"percent_of_bare_app_{workers}_workers"] = round(100 * extra["per_second_201"] / bare, 1)
    if "latency" in report:
        lat = report["latency"]
        summary.update({
            "offered_tickets_per_s": lat["offered_per_second"],
            "visible_p50_ms": lat["visible_ms"]["p50"], "visible_p99_ms": lat["visible_ms"]["p99"],
            "visible_max_ms": lat["visible_ms"]["max"],
            "visible_from_scheduled_p99_ms": lat["visible_from_scheduled_ms"]["p99"],
            "post_response_p99_ms": lat["post_response_ms"]["p99"],
            "never_visible_within_10s": lat["never_visible_within_10s"],
            "latency_statuses": lat["statuses"],
            "latency_target": f"p99 <= {TARGET_P99_VISIBLE_MS:.0f} ms at {lat['offered_per_second']:.0f}/s",
            "latency_met": lat["met"],
            "visible_resolution_ms": lat["poll"]["cycle_ms_p50"],
        })
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=30.0, help="seconds of each wrk throughput run (default 30)")
    p.add_argument("--clients", type=int, default=16, help="concurrent wrk connections (default 16)")
    p.add_argument("--warmup", type=float, default=3.0, help="unreported wrk warm-up seconds before each run")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers for intake, query and the bare app")
    p.add_argument("--also-workers", type=int, nargs="*", default=[],
                   help="extra intake throughput runs on stacks with these worker counts (not the headline)")
    p.add_argument("--rate", type=float, default=200.0, help="offered tickets/s in the latency phase")
    p.add_argument("--latency-duration", type=float, default=20.0,
                   help="measured seconds of the latency phase (0 skips it)")
    p.add_argument("--also-rates", type=float, nargs="*", default=[],
                   help="extra latency phases at these offered rates (not the headline)")
    p.add_argument("--senders", type=int, default=64, help="sending threads of the latency phase")
    p.add_argument("--poll-interval", type=float, default=0.01, help="pause between list polls, seconds")
    p.add_argument("--wait-quiet", type=float, default=60.0,
                   help="wait up to this many seconds for other load on the machine to drop before starting")
    p.add_argument("--duplicate-check", action="store_true",
                   help="send tickets unconfirmed so rule 6's duplicate scan runs on each")
    args = p.parse_args(argv)
    if not (1 <= args.duration <= 600 and 1 <= args.clients <= 1000 and 0 <= args.latency_duration <= 600):
        p.error("duration 1..600 s, clients 1..1000, latency-duration 0..600 s")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the bench, print the summary and save it under bench/results/."""
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the ExitStack stops what was started.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("\n[bench] interrupted: everything the bench started has been stopped", file=sys.stderr)
        return 130
    report["summary"] = summarise(report)
    print_block("SUMMARY", report["summary"])
    save_results("intake", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
