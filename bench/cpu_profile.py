"""CPU per ticket of each pipeline process at a fixed offered rate (issue 11's cost hunt).

`bench/issue11.py` saturates intake with wrk, so what each process spends per ticket there depends on
how many tickets the saturated machine got through: a process that polls on a timer costs more per
ticket the fewer tickets there are. This driver offers a *fixed* rate instead (Python threads, open
loop, issue11's mix: 80 % unconfirmed tickets through rule 6, 8 % customer messages, 8 % agent
answers, 4 % closes), so two runs of two versions of the code compare: same work, same seconds.

    PYTHONPATH=... .venv/bin/python bench/cpu_profile.py [--rate 20] [--duration 30] [--idle 15]
        [--spy DIR] [--statements N]

What it prints (and writes as JSON with --out):
- idle: CPU milliseconds per second of each process with no request for --idle seconds;
- load: CPU milliseconds per accepted ticket of each process from the load's start until query
  holds every ticket, as bench/issue11.py counts it (PipelineCpu: gunicorn workers, PostgreSQL
  backends of this run's databases, Kafka's JVM);
- with --spy DIR: py-spy raw profiles of every Python process of the stack during the load
  (/tmp/spy/bin/py-spy; the profiler's own cost lands on the machine, not in the figures it samples,
  but do not compare a --spy run's CPU with a run without it);
- with --statements N: the N PostgreSQL statements that cost most during the load, from
  pg_stat_statements (needs a server started with it in shared_preload_libraries: point
  PG_BASE_URL at a private cluster, never restart the shared one).
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from contextlib import ExitStack
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpdesk_shared.localstack import PG_BASE_URL, LocalStack  # noqa: E402
from intake_throughput import http_call, only_local, once, settle_statistics, wait_for_catch_up  # noqa: E402
from issue11 import (MIX_VOCAB, PipelineCpu, log_in_everyone, population, smtp_sink,  # noqa: E402
                     ticket_body)

PY_SPY = "/tmp/spy/bin/py-spy"


class SplitCpu(PipelineCpu):
    """PipelineCpu with the PostgreSQL backends split by the service whose database they serve."""

    def _classify(self, stats: dict) -> None:
        super()._classify(stats)
        ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            pid_text, _, args = line.strip().partition(" ")
            if args.startswith("postgres:") and self.marker in args:
                database = next((w for w in args.split() if w.startswith(self.marker)), "")
                self.names[int(pid_text)] = "postgresql " + database.removeprefix(self.marker)


class Mix:
    """Issue11.lua's mix in Python: which request comes next, from what the earlier answers said."""

    def __init__(self, clients, agents, rng: random.Random):
        self.clients, self.agents, self.rng = clients, agents, rng
        self.lock = threading.Lock()
        self.sent = 0
        self.mine: dict[int, list[str]] = {}
        self.answerable = {"SOPORTE": deque(), "IMPLANTACIONES": deque()}
        self.answered = {"SOPORTE": deque(), "IMPLANTACIONES": deque()}
        self.closed: set[str] = set()
        self.counts: dict[str, int] = {}

    def next(self) -> tuple[str, int, str, dict, bytes]:
        with self.lock:
            self.sent += 1
            r = self.rng.random()
            if r < 0.08:
                c = self.rng.randrange(len(self.clients))
                numbers = [n for n in self.mine.get(c, []) if n not in self.closed]
                if numbers:
                    return ("message", c, f"/api/tickets/{self.rng.choice(numbers)}/messages",
                            self._auth(self.clients[c].token),
                            json.dumps({"body": self.rng.choice(MIX_VOCAB["customer_messages"])}).encode())
            elif r < 0.16:
                desk = self.rng.choice(["SOPORTE", "IMPLANTACIONES"])
                if self.answerable[desk]:
                    number = self.answerable[desk].popleft()
                    self.answered[desk].append(number)
                    return ("answer", 0, f"/api/tickets/{number}/messages", self._auth(self.rng.choice(self.agents[desk])),
                            json.dumps({"body": self.rng.choice(MIX_VOCAB["agent_answers"])}).encode())
            elif r < 0.20:
                desk = self.rng.choice(["SOPORTE", "IMPLANTACIONES"])
                if self.answered[desk]:
                    number = self.answered[desk].popleft()
                    self.closed.add(number)
                    return ("close", 0, f"/api/tickets/{number}/close", self._auth(self.rng.choice(self.agents[desk])),
                            b'{"reason":"closed_by_agent"}')
            c = self.sent % len(self.clients)
            body = ticket_body(self.clients[c], self.rng)
            return ("ticket:" + body["desk"], c, "/api/tickets", self._auth(self.clients[c].token),
                    json.dumps(body).encode())

    @staticmethod
    def _auth(token: str) -> dict:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def answer(self, kind: str, client: int, status: int, body: bytes) -> None:
        kind, _, desk = kind.partition(":")
        with self.lock:
            key = f"{kind}:{status}"
            self.counts[key] = self.counts.get(key, 0) + 1
            if kind == "ticket" and status == 201:
                number = json.loads(body)["number"]
                self.mine.setdefault(client, []).append(number)
                self.answerable[desk].append(number)


def offer(url: str, mix: Mix, rate: float, seconds: float, senders: int = 16) -> dict:
    """Requests at t0 + i/rate (open loop) for `seconds`; how many of each kind and status."""
    count = int(rate * seconds)
    index = [0]
    lock = threading.Lock()
    late = [0]
    t0 = time.perf_counter() + 0.1

    def worker() -> None:
        while True:
            with lock:
                i = index[0]
                index[0] += 1
            if i >= count:
                return
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                late[0] += 1
            kind, client, path, headers, body = mix.next()
            try:
                status, answer = http_call(url, "POST", path, headers, body, timeout=30)
            except OSError:
                status, answer = -1, b""
            mix.answer(kind, client, status, answer)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"late_over_1s": late[0], "counts": dict(sorted(mix.counts.items()))}


def statements(stack: LocalStack, top: int, reset: bool) -> list[dict]:
    """pg_stat_statements of this run's databases: reset, or the `top` by total time."""
    with psycopg.connect(f"{PG_BASE_URL}/postgres", autocommit=True) as conn:
        conn.execute("create extension if not exists pg_stat_statements")
        if reset:
            conn.execute("select pg_stat_statements_reset()")
            return []
        rows = conn.execute(
            """select d.datname, s.calls, round(s.total_exec_time::numeric, 1), round(s.total_plan_time::numeric, 1),
                      s.rows, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 300)
               from pg_stat_statements s join pg_database d on d.oid = s.dbid
               where d.datname like %s order by s.total_exec_time + s.total_plan_time desc limit %s""",
            (f"mesa_t{stack.run_id}_%", top)).fetchall()
    return [{"db": r[0].rsplit("_", 1)[-1], "calls": r[1], "exec_ms": float(r[2]), "plan_ms": float(r[3]),
             "rows": r[4], "query": r[5]} for r in rows]


def python_pids(stack: LocalStack) -> dict[str, list[int]]:
    """Each stack process's Python pids (gunicorn: its workers, not the master)."""
    out = {}
    for name, process in stack.processes.items():
        if process.popen is None:
            continue
        children = subprocess.run(["pgrep", "-P", str(process.popen.pid)], capture_output=True, text=True).stdout.split()
        out[name] = [int(c) for c in children] if name in ("intake", "query", "sla", "notifier") and children \
            else [process.popen.pid]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=20.0, help="requests/s offered (20; 80 %% of them tickets)")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--idle", type=float, default=15.0, help="seconds of idle CPU measured first (0 skips)")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--spy", type=Path, help="directory for py-spy raw profiles taken during the load")
    p.add_argument("--statements", type=int, default=0, help="top N PostgreSQL statements (pg_stat_statements)")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    p.add_argument("--organisations", type=int, default=20)
    p.add_argument("--customers", type=int, default=100)
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mesa-cpu-"))
    report: dict = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    with ExitStack() as cleanup:
        sink_port = smtp_sink(workdir, cleanup)
        stack = LocalStack(workdir / "stack", gunicorn_workers=2, with_notifier=True,
                           extra_env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink_port)},
                           load_demo=population(args.organisations, args.customers, 3))
        cleanup.callback(once(stack.stop))
        stack.start()
        clients, agents = log_in_everyone(stack, args.organisations, args.customers, 3)
        url = only_local(stack.urls["intake"])
        mix = Mix(clients, agents, random.Random(7))
        offer(url, mix, args.rate, args.warmup)
        wait_for_catch_up(stack, 120)
        settle_statistics(stack)
        if args.idle > 0:
            time.sleep(3)
            meter = SplitCpu(stack)
            meter.start()
            time.sleep(args.idle)
            window = meter.window(meter.mark(), 1)
            meter.stop()
            report["idle_cpu_ms_per_s"] = {k: round(v / args.idle, 2) for k, v in window["cpu_ms_per_ticket"].items()}
            print("idle ms/s:", json.dumps(report["idle_cpu_ms_per_s"], indent=1), flush=True)
        if args.statements:
            statements(stack, 0, reset=True)
        mix.counts.clear()
        spies = []
        if args.spy:
            args.spy.mkdir(parents=True, exist_ok=True)
            for name, pids in python_pids(stack).items():
                for pid in pids:
                    spies.append(subprocess.Popen(
                        [PY_SPY, "record", "--format", "raw", "--gil", "-r", "100", "-d", str(int(args.duration)), "-p", str(pid),
                         "-o", str(args.spy / f"{name}-{pid}.txt")], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL))
        meter = SplitCpu(stack)
        meter.start()
        load = offer(url, mix, args.rate, args.duration)
        caught = wait_for_catch_up(stack, 120)
        time.sleep(1.0)  # the notifier's mails and SLA's facts trail query by a little
        window = meter.window(meter.mark(), mix.counts.get("ticket:201", 0))
        meter.stop()
        for s in spies:
            s.wait(timeout=60)
        report["load"] = {**load, "caught_up": caught, "seconds": window["seconds"],
                          "accepted_tickets": window["units"], "cpu_ms_per_ticket": window["cpu_ms_per_ticket"],
                          "machine_busy_percent": window["machine_busy_percent"], "other_cores": window["other_cores"]}
        print("load:", json.dumps(report["load"], indent=1), flush=True)
        if args.statements:
            report["statements"] = statements(stack, args.statements, reset=False)
            for s in report["statements"]:
                print(f"{s['db']:9} {s['calls']:7} {s['exec_ms']:9.1f} {s['plan_ms']:7.1f} {s['rows']:7} {s['query'][:200]}")
        report["unhandled_errors"] = stack.unhandled_errors()[:10]
        if args.out:  # before the stack stops: a process slow to stop on a loaded machine loses nothing
            args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
