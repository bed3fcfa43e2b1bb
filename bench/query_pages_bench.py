"""Query desk pages bench: latency of the queue, auto-close, workload and timeline routes with many tickets.

Run: `python bench/query_pages_bench.py [--tickets 100000] [--requests 200]`
(needs `bin/stack up`: PostgreSQL on 127.0.0.1; PYTHONPATH with the service packages).

What it does:

1. prints the machine;
2. creates a fresh query database (dropped at the end) and loads it through query's own
   `store.apply_batch`, as the consumer would: N tickets on two desks (TicketOpened), each
   with a first-response DeadlineSet carrying its counted intervals; a third are assigned, a
   fifth answered by an agent (DeadlineMet, ClockPaused, an auto-close DeadlineSet), a
   tenth overdue (ResponseOverdue) and 60 % closed — so about 40 % of them are in a queue;
3. builds query's Flask app with a fixed clock and calls each route `--requests` times
   in-process (Flask test client: no network, no gunicorn), the queue also with a filter and
   one page further by cursor, and reports p50 / p99 / max per route;
4. saves the figures to bench/results/query-pages-<timestamp>.json.

The issue's target: p99 of the queue endpoint ≤ 50 ms with 100,000 tickets loaded.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from machine import machine_info, print_fields, save_results

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from configs import bearer, query_config  # noqa: E402
from helpdesk_shared import localstack, pg  # noqa: E402
from helpdesk_shared.auth_tokens import Claims  # noqa: E402
from helpdesk_shared.envelope import Actor, new_event  # noqa: E402
from helpdesk_shared.kafka import Record  # noqa: E402
from helpdesk_shared.topics import TOPIC_OF_EVENT  # noqa: E402
from query import store  # noqa: E402
from query.app import create_app, migrate  # noqa: E402

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Caracas
CARLOS = Claims("u-carlos", "agent", None, ("SOPORTE", "IMPLANTACIONES"), "Carlos", "carlos@mesa.example")
SLA = Actor("sla", "system")


def _ticket_events(i: int) -> list:
    """The events of ticket i, in stream order per stream."""
    ticket_id, number = f"t-{i}", f"SOP-{i}"
    opened_at = NOW - timedelta(minutes=(i * 7) % (60 * 24 * 10))
    due = opened_at + timedelta(hours=4)
    desk = "SOPORTE" if i % 2 else "IMPLANTACIONES"
    customer = Actor("u-maria", "customer")
    events = [new_event("TicketOpened", ticket_id, 1, {
        "ticket_id": ticket_id, "number": number, "desk": desk, "organisation_id": f"org-{i % 40}",
        "opened_by": "u-maria", "module": f"MOD{i % 12}", "case": "Caso", "subject": f"Asunto {i}",
        "description": "Descripción.", "urgency": "platform_down" if i % 25 == 0 else "normal",
        "contact": {"name": "María", "email": "maria@clubcaracas.com.ve", "phone": "+58 212 555 0100"}},
        actor=customer, occurred_at=opened_at)]
    sla = [("DeadlineSet", {"clock": "first_response", "clock_type": "business", "desk": desk,
                            "started_at": opened_at.isoformat(), "counts_from": opened_at.isoformat(),
                            "due_at": due.isoformat(), "policy_version": 1, "calendar_version": 1,
                            "open_intervals": [[opened_at.isoformat(), due.isoformat()]]})]
    version = 1
    if i % 3 == 0:
        version += 1
        events.append(new_event("TicketAssigned", ticket_id, version, {"agent_id": "u-carlos",
                                                                       "assigned_by": "u-carlos"},
                                actor=Actor("u-carlos", "agent"), occurred_at=opened_at + timedelta(minutes=1)))
    if i % 5 == 0:
        version += 1
        at = opened_at + timedelta(minutes=30)
        events.append(new_event("MessagePosted", ticket_id, version, {
            "message_id": f"m-{i}", "author_id": "u-carlos", "author_role": "agent", "body": "Respuesta.",
            "internal": False}, actor=Actor("u-carlos", "agent"), occurred_at=at))
        close_at = at + timedelta(days=3)
        sla += [("DeadlineMet", {"clock": "first_response", "started_at": opened_at.isoformat(),
                                 "due_at": due.isoformat(), "met_at": at.isoformat(), "met_in_time": True,
                                 "business_seconds": 1800, "outside_hours_seconds": 0,
                                 "answered_outside_hours": False, "answered_by": "u-carlos",
                                 "policy_version": 1, "calendar_version": 1}),
                ("ClockPaused", {"at": at.isoformat(), "reason": "waiting_customer"}),
                ("DeadlineSet", {"clock": "auto_close", "clock_type": "business", "desk": desk,
                                 "started_at": at.isoformat(), "counts_from": at.isoformat(),
                                 "due_at": close_at.isoformat(), "warning_at": (close_at - timedelta(days=1)).isoformat(),
                                 "policy_version": 1, "calendar_version": 1,
                                 "open_intervals": [[at.isoformat(), close_at.isoformat()]]})]
    elif i % 10 == 1:
        sla.append(("ResponseOverdue", {"clock": "first_response", "due_at": due.isoformat(), "policy_version": 1}))
    if i % 5 in (2, 3, 4):   # 60 % closed
        version += 1
        events.append(new_event("TicketClosed", ticket_id, version, {"reason": "closed_by_agent"},
                                actor=Actor("u-carlos", "agent"), occurred_at=opened_at + timedelta(hours=1)))
    for n, (type_, data) in enumerate(sla, start=1):
        events.append(new_event(type_, f"sla-{ticket_id}", n, {"ticket_id": ticket_id, "number": number, **data},
                                actor=SLA, occurred_at=opened_at))
    return events


def load(url: str, tickets: int, batch: int = 500) -> float:
    """Apply every ticket's events through store.apply_batch; return the seconds it took."""
    started, offset, records = time.perf_counter(), 0, []
    accounts = [new_event("UserRegistered", "user-u-carlos", 1, {
        "user_id": "u-carlos", "email": "carlos@mesa.example", "name": "Carlos", "role": "agent",
        "organisation_id": None, "desks": ["SOPORTE", "IMPLANTACIONES"], "language": "es", "phone": None},
        actor=SLA, occurred_at=NOW)]
    with pg.connect(url) as conn:
        store.apply_batch(conn, [Record(TOPIC_OF_EVENT[e.type], 0, 0, e) for e in accounts])
    for i in range(1, tickets + 1):
        for event in _ticket_events(i):
            records.append(Record(TOPIC_OF_EVENT[event.type], 0, offset, event))
            offset += 1
        if len(records) >= batch or i == tickets:
            with pg.connect(url) as conn:
                store.apply_batch(conn, records)
            records = []
            if i % 10_000 == 0:
                print(f"  loaded {i} tickets ({offset} events) in {time.perf_counter() - started:.0f} s", flush=True)
    with pg.connect(url) as conn:
        conn.execute("analyze")
    return time.perf_counter() - started


def measure(client, path: str, headers: dict, n: int) -> dict:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (path, response.get_json())
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p99_ms": round(times[int(len(times) * 0.99) - 1], 1),
            "max_ms": round(times[-1], 1), "requests": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    machine = machine_info()
    print_fields("machine", machine)
    name = f"mesa_b{uuid.uuid4().hex[:8]}_query"
    url = localstack.create_database(name)
    try:
        migrate(url)  # `mesa migrate query`: the app only checks the version
        load_s = load(url, args.tickets)
        print(f"loaded {args.tickets} tickets in {load_s:.0f} s")
        app = create_app(query_config(url), clock=lambda: NOW)
        client, headers = app.test_client(), bearer(CARLOS, NOW)
        second_page = client.get("/api/desks/SOPORTE/queue?limit=50", headers=headers).get_json()["next_cursor"]
        routes = {"queue": "/api/desks/SOPORTE/queue?limit=50",
                  "queue_overdue": "/api/desks/SOPORTE/queue?flag=overdue&limit=50",
                  "queue_mine": "/api/desks/SOPORTE/queue?assigned_to=me&limit=50",
                  "queue_page_2": f"/api/desks/SOPORTE/queue?limit=50&cursor={second_page}",
                  "auto_close": "/api/desks/SOPORTE/auto-close",
                  "workload": "/api/desks/SOPORTE/workload",
                  "timeline": "/api/tickets/SOP-5/timeline"}
        figures = {route: measure(client, path, headers, args.requests) for route, path in routes.items()}
        app.extensions["query"].pool.close()
        for route, f in figures.items():
            print_fields(route, f)
        path = save_results("query-pages", {"machine": machine, "tickets": args.tickets, "load_s": round(load_s, 1),
                                            "routes": figures})
        print(f"saved {path}")
    finally:
        localstack.drop_database(name)


if __name__ == "__main__":
    main()
