"""Cost of one ticket command in intake's write path, without HTTP (run: `.venv/bin/python bench/command_cost.py`).

Issue 11, "no stream reload per command": a command on a ticket used to read its whole stream
and fold it; it now reads the ticket's snapshot row, and writes events, snapshot and ticket row
in one pipelined round trip. This measures what that changes, in the handlers themselves:

1. a fresh intake database (migrated, the demo users), one pooled connection;
2. --tickets tickets opened by a customer (confirmed_different_case: the duplicate scan is not
   what this measures), then --messages rounds over every ticket: a public message of the agent,
   then one of the customer (each command its own transaction, through `unit_of_work.run`, as
   the API runs them), so each ticket's stream grows to 1 + 2 x messages events;
3. per command: wall time (p50, p99, mean) and this process's CPU time (`time.process_time`,
   Python side only: encoding, psycopg, the fold), per round, so the growth with the stream's
   length shows; and the backend's CPU when PostgreSQL runs on this kernel (/proc/<pid>/stat).

The same script runs against any checkout: point PYTHONPATH at the one to measure. The
database is dropped at the end.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg

from helpdesk_shared import localstack, pg
from intake import demo, domain, handlers, postgres_uow, unit_of_work

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
BODY = {"desk": "SOPORTE", "description": ("Al conciliar el banco Mercantil del mes de octubre, la factura 1234 del "
                                         "socio con número de acción 55 aparece cargada dos veces en el estado de "
                                         "cuenta del club."),
        "contact": {"name": "María Pérez", "email": "maria@clubcaracas.com.ve", "phone": "+58 212 555 0101"},
        "confirmed_different_case": True}


def _backend_cpu(pid: int) -> float | None:
    """utime + stime of a PostgreSQL backend in seconds, when it is a process of this kernel we may read."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _figures(walls: list[float], cpus: list[float]) -> dict:
    walls = sorted(walls)
    return {"n": len(walls), "wall_ms_p50": round(1000 * walls[len(walls) // 2], 3),
            "wall_ms_p99": round(1000 * walls[min(len(walls) - 1, int(len(walls) * 0.99))], 3),
            "wall_ms_mean": round(1000 * statistics.fmean(walls), 3),
            "client_cpu_ms_mean": round(1000 * statistics.fmean(cpus), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10, help="rounds of agent + customer message per ticket")
    parser.add_argument("--no-pipeline", action="store_true",
                        help="psycopg's pipeline mode off (each statement its own round trip), to measure what it saves")
    args = parser.parse_args()
    if args.no_pipeline:
        psycopg.Connection.pipeline = lambda self: contextlib.nullcontext()

    name = f"mesa_bench{uuid.uuid4().hex[:8]}_intake"
    url = localstack.create_database(name)
    try:
        demo.load(url)
        pool = pg.make_pool(url, min_size=1, max_size=1)
        with pool.connection() as conn:
            users = {r["email"]: domain.claims_of_row(r) for r in conn.execute("select * from users")}
            backend = conn.execute("select pg_backend_pid() as p").fetchone()["p"]
        maria, carlos = users["maria@clubcaracas.com.ve"], users["carlos@mesa.example"]
        start = lambda: postgres_uow.transaction(pool)  # noqa: E731 - the API's own `start`

        def timed(command) -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            unit_of_work.run(start, command)
            return time.perf_counter() - wall, time.process_time() - cpu

        server_before = _backend_cpu(backend)
        numbers, opened = [], ([], [])
        for i in range(args.tickets):
            body = dict(BODY, subject=f"BANCOS, Factura {i} mal cargada en el banco")
            w, c = timed(lambda uow: numbers.append(handlers.open_ticket(uow, maria, body, NOW).data["number"]))
            opened[0].append(w), opened[1].append(c)
        rounds = []
        for r in range(args.messages):
            walls, cpus = [], []
            for who, text in ((carlos, "Revisamos la configuración del banco."), (maria, "Sigue igual.")):
                for number in numbers:
                    at = NOW + timedelta(minutes=r + 1)
                    w, c = timed(lambda uow: handlers.post_message(uow, who, number, {"body": text}, at))
                    walls.append(w), cpus.append(c)
            rounds.append({"round": r + 1, "stream_length_before": 1 + 2 * r, **_figures(walls, cpus)})
        server_after = _backend_cpu(backend)
        result = {
            "bench": "command_cost", "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
            "tickets": args.tickets, "messages_per_ticket": 2 * args.messages, "pipeline": not args.no_pipeline,
            "open_ticket": _figures(*opened), "post_message_by_round": rounds,
            "post_message_mean_wall_ms": round(statistics.fmean(r["wall_ms_mean"] for r in rounds), 3),
            "post_message_mean_client_cpu_ms": round(statistics.fmean(r["client_cpu_ms_mean"] for r in rounds), 3),
            "backend_cpu_ms_per_command": (
                None if server_before is None or server_after is None else
                round(1000 * (server_after - server_before) / (args.tickets * (1 + 2 * args.messages)), 3)),
        }
        print(json.dumps(result, indent=1))
        pool.close()
    finally:
        localstack.drop_database(name)


if __name__ == "__main__":
    main()
