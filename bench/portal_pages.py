"""Portal pages bench: p95 time of the staff queue page, a ticket page and the new-ticket page with
20 concurrent staff users and 100,000 tickets loaded (issue 9: p95 <= 150 ms).

    python bench/portal_pages.py [--tickets 100000] [--users 20] [--seconds 30]
                                 [--page queue=/desks/SOPORTE/queue ...] [--keep | --database NAME]

(needs `bin/stack up`: PostgreSQL on 127.0.0.1; PYTHONPATH with the service packages, as the
other benches.)

1. prints the machine;
2. creates a fresh query database and loads it with bench/query_endpoints.py's loader: the
   tickets through `query.store.apply_batch` (the consumer's own function), then copied in SQL
   to --tickets (see bench/README.md, "Report and queue endpoints");
3. starts query, intake and the portal under gunicorn as `bin/up` starts them (`-w 2` each, the
   shared gunicorn config and worker class), query on the loaded database, intake on a fresh one
   (the queue and new-ticket pages read the desk's module catalog from intake);
4. gives each of --users staff users (SOPORTE agents) a portal session: a bearer token signed
   with this run's key (query holds its public half) in a session cookie signed with this run's
   PORTAL_SESSION_SECRET, as the portal's login would make it (intake's login is not measured);
5. for each page in turn, --users threads (one HTTP session each) ask for it for --seconds after a
   short warm-up, each pausing a random 0 to 2 × --think seconds between its requests (--think 0,
   the default: back to back, so --users requests are always in flight and the p95 is
   users ÷ pages/s, the machine's capacity; --think 1: twenty people each opening a page a second
   on average); the ticket page asks for a different SOPORTE ticket each time. Every answer must be 200 (a page
   the portal does not have yet, e.g. the queue before its helper's work is merged, is reported
   as missing and skipped); times are wall-clock per request at the client;
6. prints p50/p95/p99/max and pages/s per page, the CPU milliseconds per page each process group
   spent in the measured window (portal, query, intake, their PostgreSQL backends, this client;
   from /proc, see PagesCpu) and the load average before and after, and saves
   them to bench/results/portal-pages-<timestamp>.json.

The client threads run on the same machine as the servers and PostgreSQL: their CPU is part of
what the figures pay for. Query runs with the real clock while the loader's tickets are dated up
to query_endpoints.NOW (1 Dec 2026), so "time left" figures are not meaningful; the work is.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("shared", "services/query", "services/intake", "services/portal"):
    sys.path.insert(0, str(ROOT / sub))

import requests  # noqa: E402

from helpdesk_shared import auth_tokens, keys, pg  # noqa: E402
from helpdesk_shared.auth_tokens import Claims  # noqa: E402
from helpdesk_shared.localstack import PG_BASE_URL, create_database, drop_database, free_port, wait_until  # noqa: E402
from machine import machine_info, print_fields, save_results  # noqa: E402
from proc_cpu import ProcStat, cpu_seconds_by_group, descendants, merge_samples, parse_stat, per_unit_ms  # noqa: E402
from query_endpoints import load, percentile, replicate  # noqa: E402

TARGET_P95_MS = 150
DEFAULT_PAGES = ["queue=/desks/SOPORTE/queue", "ticket=/tickets/{number}", "new-ticket=/tickets/new"]


def start(name: str, app: str, env: dict, workdir: Path) -> tuple[subprocess.Popen, str]:
    """`app` under gunicorn as bin/up runs it (2 workers); its process and URL once /healthz answers."""
    url = f"http://127.0.0.1:{free_port()}"
    log = open(workdir / f"{name}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:helpdesk_shared.gunicorn_conf",
                             "-k", "helpdesk_shared.gunicorn_worker.JsonErrorWorker", "-w", "2",
                             "-b", url.removeprefix("http://"), app],
                            env={**os.environ, **env, "PYTHONUNBUFFERED": "1",
                                 "PYTHONPATH": os.pathsep.join([str(ROOT / s) for s in (
                                     "shared", "services/intake", "services/query", "services/sla",
                                     "services/notifier", "services/portal")] + [os.environ.get("PYTHONPATH", "")])},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def healthy() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited: see {workdir / (name + '.log')}")
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code < 500
        except requests.RequestException:
            return False
    wait_until(healthy, 60, f"{name} /healthz", interval=0.2)
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the gunicorn's process group and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def session_cookies(secret: str, signing_key: str, users: int) -> list[str]:
    """One portal session cookie per staff user, as the portal's login stores it (token, desk, user)."""
    from portal.app import create_app
    from portal.config import Config
    app = create_app(Config(intake_url="http://127.0.0.1:9", query_url="http://127.0.0.1:9",
                            sla_url="http://127.0.0.1:9", session_secret=secret, public_url="http://127.0.0.1",
                            forward_secret=secret))
    serializer = app.session_interface.get_signing_serializer(app)
    now = datetime.now(timezone.utc)
    cookies = []
    for i in range(users):
        # The loader's SOPORTE agents are u-sop-00 .. u-sop-11; more users share their ids, not their tokens.
        claims = Claims(f"u-sop-{i % 12:02d}", "agent", None, ("SOPORTE",), f"Persona u-sop-{i % 12:02d}",
                        f"u-sop-{i % 12:02d}@mesa.example")
        token = auth_tokens.issue(signing_key, claims, now, 8 * 3600)
        user = {"id": claims.user_id, "name": claims.name, "role": "agent", "organisation_id": None,
                "desks": ["SOPORTE"], "language": "es", "email": claims.email}
        cookies.append(serializer.dumps({"token": token, "desk": "SOPORTE", "user": user, "_permanent": True}))
    return cookies


TICK = os.sysconf("SC_CLK_TCK")


class PagesCpu:
    """CPU each process of the run spent between two marks, from /proc/<pid>/stat: the gunicorn
    masters and workers of portal, query and intake (by process group), the PostgreSQL backends of
    the run's two databases (by their `ps` title) and this client's threads. Sampled every
    `interval` seconds, so a backend that exits mid-window still counts (proc_cpu.merge_samples)."""

    def __init__(self, servers: dict[str, int], database: str, interval: float = 0.5):
        self.servers, self.database, self.interval = servers, database, interval
        self.names: dict[int, str] = {os.getpid(): "client (bench threads)"}
        self.samples: list[dict[int, ProcStat]] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="cpu-sampler")
        self.thread.start()

    def sample(self) -> dict[int, ProcStat]:
        stats = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stats[int(entry.name)] = parse_stat(Path(entry.path, "stat").read_text())
                except (OSError, ValueError, IndexError):
                    continue
        names = {}
        for name, pid in self.servers.items():
            for child in descendants(stats, pid):
                names[child] = name
        ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            pid_text, _, title = line.strip().partition(" ")
            if title.startswith("postgres:") and f" {self.database}_intake " in title:
                names[int(pid_text)] = "postgresql (intake db)"
            elif title.startswith("postgres:") and f" {self.database} " in title:
                names[int(pid_text)] = "postgresql (query db)"
        with self.lock:
            self.names.update(names)
            self.samples.append(stats)
            if len(self.samples) > 2000:  # one page's window is a few hundred samples
                del self.samples[1:1000]
        return stats

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def mark(self) -> dict[int, ProcStat]:
        """Every process as last seen up to now (the window's edge)."""
        self.sample()
        with self.lock:
            return merge_samples(self.samples)

    def spent(self, start: dict[int, ProcStat], end: dict[int, ProcStat]) -> dict[str, float]:
        with self.lock:
            names = dict(self.names)
        return cpu_seconds_by_group(start, end, names, TICK)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


def ticket_numbers(url: str, limit: int = 2000) -> list[str]:
    """SOPORTE ticket numbers to spread the ticket page over (open and closed alike)."""
    with pg.connect(url) as conn:
        rows = conn.execute("select number from tickets where desk = 'SOPORTE' order by random() limit %s",
                            (limit,)).fetchall()
    return [r["number"] for r in rows]


def run_page(portal: str, path: str, cookies: list[str], numbers: list[str], seconds: float,
             warmup_s: float, think: float = 0.0, cpu: PagesCpu | None = None) -> dict:
    """`len(cookies)` users asking for `path` back to back for `seconds`; latency figures in ms, and
    with `cpu` the CPU milliseconds per page each process group spent in the measured window."""
    times: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    warm_until = time.monotonic() + warmup_s
    stop_at = warm_until + seconds

    def user(k: int) -> None:
        pause = random.Random(k)
        http = requests.Session()
        http.cookies.set("mesa_portal", cookies[k])
        n = k
        while True:
            now = time.monotonic()
            if now >= stop_at:
                return
            target = portal + path.format(number=numbers[n % len(numbers)] if numbers else "")
            n += len(cookies)
            t0 = time.perf_counter()
            try:
                r = http.get(target, timeout=30, allow_redirects=False)
                status = str(r.status_code)
            except requests.RequestException as err:
                status = type(err).__name__
            elapsed = (time.perf_counter() - t0) * 1000
            if think:
                time.sleep(pause.uniform(0, 2 * think))  # a person reading the page, not a wait for an outcome
            if now < warm_until:
                continue
            with lock:
                if status == "200":
                    times.append(elapsed)
                else:
                    errors[status] = errors.get(status, 0) + 1

    threads = [threading.Thread(target=user, args=(k,)) for k in range(len(cookies))]
    for t in threads:
        t.start()
    window = {}
    if cpu is not None:
        # The pages counted are those started in the window; its edges are marked as it opens and closes.
        time.sleep(max(0.0, warm_until - time.monotonic()))
        window["start"] = cpu.mark()
        time.sleep(max(0.0, stop_at - time.monotonic()))
        window["end"] = cpu.mark()
    for t in threads:
        t.join()
    if not times:
        return {"n": 0, "errors": errors}
    cpu_ms = per_unit_ms(cpu.spent(window["start"], window["end"]), len(times)) if cpu is not None else {}
    return {"n": len(times), "pages_per_s": round(len(times) / seconds, 1),
            "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 0.95), 1),
            "p99_ms": round(percentile(times, 0.99), 1), "max_ms": round(max(times), 1), "errors": errors,
            "cpu_ms_per_page": cpu_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--organisations", type=int, default=400)
    parser.add_argument("--copies", type=int, default=10,
                        help="load tickets/copies through apply_batch, then copy their rows this many times in SQL")
    parser.add_argument("--workers", type=int, default=3, help="loading processes")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--users", type=int, default=20, help="concurrent staff users")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds per page")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each page")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds each user pauses between pages (0: back to back)")
    parser.add_argument("--page", action="append", metavar="NAME=PATH",
                        help=f"a page to measure (repeatable; {{number}} is a SOPORTE ticket); default {DEFAULT_PAGES}")
    parser.add_argument("--database", help="reuse this already loaded query database (skips the load)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    args = parser.parse_args()
    pages = [p.split("=", 1) for p in (args.page or DEFAULT_PAGES)]

    machine = machine_info(packages=("flask", "gunicorn", "psycopg", "jinja2"),
                           pg_settings=("shared_buffers", "work_mem"))
    print_fields("machine", machine)
    name = args.database or f"bench_portal_pages_{uuid.uuid4().hex[:8]}"
    url = f"{PG_BASE_URL}/{name}" if args.database else create_database(name)
    workdir = ROOT / ".run" / "bench" / name
    workdir.mkdir(parents=True, exist_ok=True)
    procs = []
    try:
        loaded = None
        if not args.database:
            from query.app import migrate
            migrate(url)  # `mesa migrate query`: the app only checks the version
            print(f"\nloading {args.tickets // args.copies:,} tickets into {name} through query.store.apply_batch"
                  + (f", then copying them to {args.tickets:,}" if args.copies > 1 else ""))
            loaded = load(url, args.tickets // args.copies, args.organisations, args.batch, args.seed, args.workers)
            if args.copies > 1:
                loaded.update(replicate(url, args.copies))
            with pg.connect(url) as conn:
                loaded["tickets_loaded"] = conn.execute("select count(*) as n from tickets").fetchone()["n"]
                loaded["open_soporte"] = conn.execute(
                    "select count(*) as n from tickets where desk = 'SOPORTE' and status <> 'closed'").fetchone()["n"]
            print_fields("loaded", loaded)

        secrets = keys.fresh()
        # The queue and new-ticket pages read the desk's module catalog from intake (the write side's,
        # current at once): intake runs too, on a fresh database of its own (default catalogs, no users;
        # it reads the bench's tokens like any other).
        intake_db = create_database(f"{name}_intake")
        from intake.app import migrate as migrate_intake
        migrate_intake(intake_db)
        intake_proc, intake_url = start("intake", "intake.app:create_app()", {
            **secrets, "DATABASE_URL": intake_db, "KAFKA_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}.",
            "ATTACHMENTS_DIR": str(workdir / "attachments"), "PUBLIC_URL": "http://127.0.0.1"}, workdir)
        procs.append(intake_proc)
        query_proc, query_url = start("query", "query.app:create_app()", {
            "DATABASE_URL": url, "TOKEN_VERIFY_KEY": secrets["TOKEN_VERIFY_KEY"],
            "KAFKA_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}."}, workdir)
        procs.append(query_proc)
        portal_proc, portal_url = start("portal", "portal.app:create_app()", {
            "PORTAL_SESSION_SECRET": secrets["PORTAL_SESSION_SECRET"],
            "PORTAL_FORWARD_SECRET": secrets["PORTAL_FORWARD_SECRET"], "QUERY_URL": query_url,
            "INTAKE_URL": intake_url, "SLA_URL": f"http://127.0.0.1:{free_port()}",
            "PUBLIC_URL": "http://127.0.0.1"}, workdir)
        procs.append(portal_proc)
        cookies = session_cookies(secrets["PORTAL_SESSION_SECRET"], secrets["TOKEN_SIGNING_KEY"], args.users)
        numbers = ticket_numbers(url)
        cpu = PagesCpu({"portal": portal_proc.pid, "query": query_proc.pid, "intake": intake_proc.pid}, name)

        print(f"\n{args.users} concurrent staff users (SOPORTE agents), "
              + (f"each pausing 0-{2 * args.think:g} s between pages, " if args.think else "back to back, ")
              + f"{args.seconds:g} s per page after {args.warmup:g} s warm-up; query and portal under "
              f"gunicorn -w 2; logs in {workdir}")
        load_before = [round(x, 2) for x in os.getloadavg()]
        rows = []
        for label, path in pages:
            probe = requests.get(portal_url + path.format(number=numbers[0] if numbers else ""), timeout=30,
                                 cookies={"mesa_portal": cookies[0]}, allow_redirects=False)
            if probe.status_code == 404 and "{number}" not in path:
                print(f"  {label:12} {path}: 404, not a page of this portal yet: skipped")
                rows.append({"page": label, "path": path, "missing": True})
                continue
            if probe.status_code != 200:
                raise SystemExit(f"{label} {path}: {probe.status_code} {probe.text[:300]}")
            result = run_page(portal_url, path, cookies, numbers, args.seconds, args.warmup, args.think, cpu)
            rows.append({"page": label, "path": path, **result})
            print(f"  {label:12} p50 {result.get('p50_ms', 0):7.1f}  p95 {result.get('p95_ms', 0):7.1f}  "
                  f"p99 {result.get('p99_ms', 0):7.1f}  max {result.get('max_ms', 0):7.1f} ms  "
                  f"{result.get('pages_per_s', 0):6.1f} pages/s  errors {result['errors'] or 0}", flush=True)
            if result.get("cpu_ms_per_page"):
                print("               CPU ms per page: " + ", ".join(
                    f"{k} {v:.1f}" for k, v in result["cpu_ms_per_page"].items()), flush=True)
        load_after = [round(x, 2) for x in os.getloadavg()]
        cpu.stop()

        print(f"\n{'page':12} {'path':28} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'pages/s':>8}"
              f"   target p95 <= {TARGET_P95_MS} ms")
        for r in rows:
            if r.get("missing"):
                print(f"{r['page']:12} {r['path']:28} {'(not on this portal)':>40}")
                continue
            verdict = "ok" if r["p95_ms"] <= TARGET_P95_MS and not r["errors"] else "OVER"
            print(f"{r['page']:12} {r['path']:28} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} {r['p99_ms']:7.1f} "
                  f"{r['max_ms']:7.1f} {r['pages_per_s']:8.1f}   {verdict}"
                  + (f"   CPU {r['cpu_ms_per_page']['total']:.1f} ms/page" if r.get("cpu_ms_per_page") else ""))
        print_fields("", {"load_average_before": load_before, "load_average_after": load_after})
        save_results("portal-pages", {"machine": machine, "load_average_before": load_before,
                                      "load_average_after": load_after, "args": vars(args), "loaded": loaded,
                                      "pages": rows})
    finally:
        for proc in procs:
            stop(proc)
        drop_database(f"{name}_intake")
        if args.keep or args.database:
            print(f"database kept: {name}")
        else:
            drop_database(name)


if __name__ == "__main__":
    main()
