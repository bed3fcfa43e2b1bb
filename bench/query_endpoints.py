"""p50/p95/p99 of query's report (and queue) endpoints with 100,000 tickets loaded (issue 8: p99 <= 50 ms).

    python bench/query_endpoints.py [--tickets 100000] [--requests 200] [--keep]

1. creates a fresh query database (the service's own migrations, as `mesa migrate query`);
2. loads synthetic tickets through `query.store.apply_batch`, the consumer's own function, in
   transactions of --batch records, so every read model is the one the consumer builds: each
   ticket is opened on one of two desks by one of --organisations organisations, in one of 12
   modules, over the 12 months before NOW; it is assigned, answered (DeadlineMet with the SLA's
   business seconds, some late, some after an overdue, some outside hours), the customer writes
   again and is answered again (next_response), and all but the last weeks' tickets are closed;
   open ones keep a running DeadlineSet (the queue's order), some overdue;
3. asks each endpoint --requests times through the real Flask app (`app.test_client()`, a
   supervisor's bearer token, both desks) after a few warm-up requests, and prints a table.

The events are built as `Envelope`s directly (their data already in the serialised form
`new_event` would give), not through marshmallow, to keep the load at a few minutes.
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("shared", "services/query"):
    sys.path.insert(0, str(ROOT / sub))

from helpdesk_shared import auth_tokens, pg  # noqa: E402
from helpdesk_shared.auth_tokens import Claims  # noqa: E402
from helpdesk_shared.envelope import SYSTEM, Actor, Envelope  # noqa: E402
from helpdesk_shared.kafka import Record  # noqa: E402
from helpdesk_shared.localstack import create_database, drop_database  # noqa: E402
from helpdesk_shared.topics import TOPIC_OF_EVENT  # noqa: E402
from machine import machine_info, print_fields, save_results  # noqa: E402

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)   # Tue 1 Dec 11:00 in Caracas
DESKS = {"SOPORTE": "SOP", "IMPLANTACIONES": "IMP"}
MODULES = ["NOMINA", "BANCOS", "CONTABILIDAD", "INVENTARIO", "COMPRAS", "VENTAS", "ACTIVOS", "TESORERIA",
           "RRHH", "MIGRACION", "REPORTES", "SEGURIDAD"]
AGENTS_PER_DESK = 12
SUPERVISOR = Claims("u-supervisor", "supervisor", None, tuple(DESKS), "Rosa Supervisora", "supervisor@mesa.example")


def _iso(t: datetime) -> str:
    return t.isoformat()


class Load:
    """Synthetic events of one run, each stream numbered as its writer would number it."""

    def __init__(self, organisations: int, seed: int):
        self.rng = random.Random(seed)
        self.orgs = [f"org-{i:04d}" for i in range(organisations)]
        self.org_desks = {o: (list(DESKS) if i % 5 == 0 else [list(DESKS)[i % 2]]) for i, o in enumerate(self.orgs)}
        self.agents = {desk: [f"u-{desk[:3].lower()}-{i:02d}" for i in range(AGENTS_PER_DESK)] for desk in DESKS}
        self.numbers = {desk: 0 for desk in DESKS}

    def accounts(self) -> list[Envelope]:
        """The organisations, one customer each, the agents and the supervisor."""
        at = NOW - timedelta(days=400)
        events = []
        for o in self.orgs:
            events.append(self._event("OrganisationRegistered", f"org-{o}", 1, at, SYSTEM, {
                "organisation_id": o, "name": f"Organización {o[4:]}, C.A.", "tax_id": f"J-{o[4:]:0>8}-1",
                "desks": self.org_desks[o]}))
            events.append(self._event("UserRegistered", f"user-c-{o}", 1, at, SYSTEM, self._user(
                f"c-{o}", "customer", o, self.org_desks[o])))
        for desk, agents in self.agents.items():
            for a in agents:
                events.append(self._event("UserRegistered", f"user-{a}", 1, at, SYSTEM,
                                          self._user(a, "agent", None, [desk])))
        events.append(self._event("UserRegistered", "user-u-supervisor", 1, at, SYSTEM,
                                  self._user("u-supervisor", "supervisor", None, list(DESKS))))
        return events

    @staticmethod
    def _user(user_id: str, role: str, org: str | None, desks: list[str]) -> dict:
        return {"user_id": user_id, "email": f"{user_id}@mesa.example", "name": f"Persona {user_id}", "role": role,
                "organisation_id": org, "desks": desks, "language": "es", "phone": None}

    @staticmethod
    def _event(type_: str, stream: str, version: int, at: datetime, actor: Actor, data: dict) -> Envelope:
        return Envelope(type=type_, stream_id=stream, stream_version=version, occurred_at=at, actor=actor, data=data)

    def ticket(self, opened: datetime) -> list[Envelope]:
        """One ticket's events on helpdesk.tickets and helpdesk.sla, in the order they occurred."""
        rng = self.rng
        org = rng.choice(self.orgs)
        desk = rng.choice(self.org_desks[org])
        self.numbers[desk] += 1
        number = f"{DESKS[desk]}-{self.numbers[desk]}"
        tid = f"t-{uuid.uuid4()}"
        customer = Actor(f"c-{org}", "customer")
        agent = rng.choice(self.agents[desk])
        staff = Actor(agent, "agent")
        urgency = "platform_down" if rng.random() < 0.03 else "normal"
        ooh = rng.random() < 0.04
        out: list[tuple[datetime, str, dict, Actor, str]] = []   # (at, type, data, actor, stream)
        out.append((opened, "TicketOpened", {
            "ticket_id": tid, "number": number, "desk": desk, "organisation_id": org, "opened_by": customer.id,
            "module": rng.choice(MODULES), "case": "Caso de prueba", "subject": "No cuadra la nómina de octubre",
            "description": "Detalle del caso.", "urgency": urgency, "out_of_hours_requested": ooh,
            "contact": {"name": "Cliente", "email": f"{customer.id}@example.com", "phone": "+58 212 555 0100"}},
                    customer, tid))
        target = timedelta(hours=2 if urgency == "platform_down" else 8)

        def deadline_set(clock: str, started: datetime) -> None:
            out.append((started, "DeadlineSet", {
                "ticket_id": tid, "number": number, "clock": clock, "clock_type": "business",
                "started_at": _iso(started), "counts_from": _iso(started), "due_at": _iso(started + target),
                "policy_version": 1, "calendar_version": 1, "office_hours": [[0, "09:00", "17:00"]]},
                        SYSTEM, f"sla-{tid}"))

        def respond(clock: str, started: datetime) -> datetime | None:
            """The clock's answer (None: not answered yet, for a ticket still open)."""
            deadline_set(clock, started)
            due = started + target
            business = int(rng.expovariate(1 / 7200)) + 60          # mean ~2 h of business time
            late = rng.random() < 0.08
            if late:
                business = int(target.total_seconds()) + int(rng.expovariate(1 / 14400))
            met = started + timedelta(seconds=business * 2.2)          # wall time > business time
            if met > NOW:   # still unanswered: overdue once its deadline passed
                if due <= NOW:
                    out.append((due, "ResponseOverdue", {"ticket_id": tid, "number": number, "clock": clock,
                                                         "due_at": _iso(due), "policy_version": 1},
                                SYSTEM, f"sla-{tid}"))
                return None
            if late:
                out.append((due, "ResponseOverdue", {"ticket_id": tid, "number": number, "clock": clock,
                                                     "due_at": _iso(due), "policy_version": 1}, SYSTEM, f"sla-{tid}"))
            outside = rng.random() < 0.05
            out.append((met, "TicketAssigned" if clock == "first_response" else "MessagePosted",
                        {"agent_id": agent, "assigned_by": agent} if clock == "first_response" else
                        self._message(staff, False), staff, tid))
            if clock == "first_response":
                out.append((met, "MessagePosted", self._message(staff, False), staff, tid))
            out.append((met, "DeadlineMet", {
                "ticket_id": tid, "number": number, "clock": clock, "started_at": _iso(started), "due_at": _iso(due),
                "met_at": _iso(met), "met_in_time": not late, "business_seconds": business,
                "outside_hours_seconds": rng.randrange(600, 7200) if outside else 0,
                "answered_outside_hours": outside, "answered_by": agent, "policy_version": 1,
                "calendar_version": 1}, SYSTEM, f"sla-{tid}"))
            return met

        answered = respond("first_response", opened)
        if answered is not None:
            again = answered + timedelta(hours=rng.uniform(1, 48))
            if again < NOW:
                out.append((again, "MessagePosted", self._message(customer, ooh), customer, tid))
                answered = respond("next_response", again)
        closes = (answered or opened) + timedelta(days=rng.uniform(0.5, 20))
        if answered is not None and closes < NOW:
            out.append((closes, "TicketClosed", {"reason": rng.choice(
                ["solved_by_customer", "auto_closed", "closed_by_agent", "solved_by_customer"])},
                        customer, tid))
        events, versions = [], {}
        for at, type_, data, actor, stream in out:   # already in order of occurrence per stream
            versions[stream] = versions.get(stream, 0) + 1
            events.append(self._event(type_, stream, versions[stream], at, actor, data))
        return events

    @staticmethod
    def _message(actor: Actor, ooh: bool) -> dict:
        return {"message_id": str(uuid.uuid4()), "author_id": actor.id, "author_role": actor.role,
                "body": "Mensaje.", "internal": False, "out_of_hours_requested": ooh}


def _load_part(url: str, tickets: int, organisations: int, batch: int, seed: int, worker: int, workers: int,
               progress) -> None:
    """One worker's share: the tickets of the organisations numbered worker (mod workers), so that the
    workers' transactions touch different daily-count rows; a deadlock (the stats rows) is retried."""
    import psycopg
    from query import store
    gen = Load(organisations, seed + worker)
    gen.orgs = [o for i, o in enumerate(gen.orgs) if i % workers == worker]
    gen.numbers = {desk: worker * 10_000_000 for desk in DESKS}
    offset = worker * 100_000_000
    span = timedelta(days=365)

    def apply(conn, events: list[Envelope]) -> None:
        nonlocal offset
        records = [Record(TOPIC_OF_EVENT[e.type], 0, offset + i, e) for i, e in enumerate(events)]
        offset += len(records)
        for attempt in range(20):
            try:
                store.apply_batch(conn, records)
                conn.commit()
                break
            except psycopg.errors.DeadlockDetected:
                conn.rollback()
        else:
            raise RuntimeError("deadlocked 20 times")
        progress(len(records))

    with pg.connect(url) as conn:
        pending: list[Envelope] = []
        mine = range(worker, tickets, workers)
        for i in mine:
            # Opened spread evenly over the year before NOW, in Caracas office hours (13:00-21:00 UTC).
            day = NOW - span + timedelta(days=span.days * i / tickets)
            opened = day.replace(hour=13, minute=0, second=0, microsecond=0) + timedelta(
                seconds=gen.rng.randrange(0, 8 * 3600))
            pending.extend(gen.ticket(opened))
            if len(pending) >= batch:
                apply(conn, pending)
                pending = []
        apply(conn, pending)


def load(url: str, tickets: int, organisations: int, batch: int, seed: int, workers: int) -> dict:
    """Apply the accounts and `tickets` tickets through store.apply_batch in `workers` processes;
    the counts and the time it took."""
    import multiprocessing
    from query import store
    started = time.perf_counter()
    with pg.connect(url) as conn:
        events = Load(organisations, seed).accounts()
        store.apply_batch(conn, [Record(TOPIC_OF_EVENT[e.type], 0, i, e) for i, e in enumerate(events)])
        conn.commit()
    done = multiprocessing.Value("q", 0)

    def progress(n: int) -> None:
        with done.get_lock():
            done.value += n

    procs = [multiprocessing.Process(target=_load_part, args=(url, tickets, organisations, batch, seed, w, workers,
                                                                progress)) for w in range(workers)]
    for p in procs:
        p.start()
    while any(p.is_alive() for p in procs):
        time.sleep(10)
        rate = done.value / (time.perf_counter() - started)
        print(f"  {done.value:>9,} events applied, {rate:,.0f} events/s", flush=True)
    if any(p.exitcode for p in procs):
        raise SystemExit(f"a loader failed: exit codes {[p.exitcode for p in procs]}")
    with pg.connect(url) as conn:
        counts = {name: conn.execute(f"select count(*) as n from {name}").fetchone()["n"]
                  for name in ("tickets", "report_responses", "report_tickets")}
        counts["open_tickets"] = conn.execute("select count(*) as n from tickets where status <> 'closed'"
                                              ).fetchone()["n"]
        conn.commit()
    with pg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze")
    seconds = time.perf_counter() - started
    return {"events": done.value, "workers": workers, "seconds": round(seconds, 1),
            "events_per_s": round(done.value / seconds), **counts}


def replicate(url: str, copies: int) -> dict:
    """Copy every row of each per-ticket table (those with a ticket_id column) `copies - 1` times under
    new ticket ids, numbers and event ids, same times and figures; the daily counts are multiplied.
    Row triggers run as on the consumer's inserts. What it copied, and the time it took."""
    started = time.perf_counter()
    with pg.connect(url) as conn:
        tables = [r["table_name"] for r in conn.execute(
            """select table_name from information_schema.columns c join information_schema.tables t
                 using (table_schema, table_name)
               where c.table_schema = 'public' and c.column_name = 'ticket_id' and t.table_type = 'BASE TABLE'
               order by table_name = 'tickets' desc, table_name""").fetchall()]
        for k in range(1, copies):
            for table in tables:
                columns = conn.execute("""select column_name, data_type from information_schema.columns
                                          where table_schema = 'public' and table_name = %s
                                            and is_generated = 'NEVER' order by ordinal_position""",
                                       (table,)).fetchall()
                chosen = []
                for c in columns:
                    name = c["column_name"]
                    if name == "ticket_id":
                        chosen.append(f"ticket_id || '~{k}'")
                    elif name == "number":
                        chosen.append(f"split_part(number, '-', 1) || '-' || "
                                      f"(split_part(number, '-', 2)::bigint + {k * 100_000_000})")
                    elif name == "event_id" and c["data_type"] == "uuid":
                        chosen.append("gen_random_uuid()")
                    else:
                        chosen.append(f'"{name}"')
                names = ", ".join(f'"{c["column_name"]}"' for c in columns)
                conn.execute(f'insert into "{table}" ({names}) select {", ".join(chosen)} from "{table}" '
                             f"where ticket_id not like '%%~%%'")
        conn.execute("update report_daily set n = n * %s", (copies,))
        conn.commit()
    with pg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze")
    return {"copied_tables": tables, "copies": copies, "replicate_seconds": round(time.perf_counter() - started, 1)}


def last_month(now: datetime) -> str:
    """The Caracas month before `now`'s."""
    first = (now - timedelta(hours=4)).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


NEXT_PAGE = object()   # in endpoints(): the next_cursor of the same request without it


def endpoints(has_queue: bool) -> list[tuple[str, str, dict]]:
    """(label, path, query string) of each measured request."""
    month = last_month(NOW)
    chosen = [
        ("compliance default (12 months, month×desk)", "/api/reports/compliance", {}),
        ("compliance one month", "/api/reports/compliance", {"from": month, "to": month}),
        ("compliance 12 months by desk", "/api/reports/compliance", {"group_by": "desk"}),
        ("compliance one month, SOPORTE by agent", "/api/reports/compliance",
         {"from": month, "to": month, "desk": "SOPORTE", "group_by": "agent"}),
        ("compliance 12 months by module", "/api/reports/compliance", {"group_by": "module"}),
        ("compliance 12 months by agent", "/api/reports/compliance", {"group_by": "agent"}),
        ("compliance one month, NOMINA by month", "/api/reports/compliance",
         {"from": month, "to": month, "module": "NOMINA", "group_by": "month"}),
        ("compliance one month by organisation", "/api/reports/compliance",
         {"from": month, "to": month, "group_by": "organisation"}),
        ("compliance one month, all 5 dimensions", "/api/reports/compliance",
         {"from": month, "to": month, "group_by": "month,desk,module,agent,organisation"}),
        # A compliance report comes a page at a time (default 50 items): the largest page, and a later one.
        ("compliance one month by organisation, limit 200", "/api/reports/compliance",
         {"from": month, "to": month, "group_by": "organisation", "limit": "200"}),
        ("compliance one month, all 5, limit 200", "/api/reports/compliance",
         {"from": month, "to": month, "group_by": "month,desk,module,agent,organisation", "limit": "200"}),
        ("compliance one month, all 5, second page", "/api/reports/compliance",
         {"from": month, "to": month, "group_by": "month,desk,module,agent,organisation", "cursor": NEXT_PAGE}),
        ("breaches first page", "/api/reports/compliance/breaches", {}),
        ("backlog default (30 days)", "/api/reports/backlog", {}),
        ("out-of-hours default (12 months)", "/api/reports/out-of-hours", {}),
    ]
    if has_queue:
        chosen += [("queue SOPORTE first page", "/api/desks/SOPORTE/queue", {}),
                   ("queue IMPLANTACIONES first page", "/api/desks/IMPLANTACIONES/queue", {}),
                   ("queue SOPORTE overdue", "/api/desks/SOPORTE/queue", {"flag": "overdue"}),
                   ("queue IMPLANTACIONES module NOMINA", "/api/desks/IMPLANTACIONES/queue", {"module": "NOMINA"}),
                   # the cursor is the first page's next_cursor, asked for before the measured requests
                   ("queue SOPORTE second page", "/api/desks/SOPORTE/queue", {"cursor": NEXT_PAGE})]
    return chosen


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the value q of the requests took at most)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def measure(url: str, requests: int, warmup: int, only: str = "", cache: bool = True) -> list[dict]:
    """Each endpoint asked `requests` times in turn through the Flask test client; times in ms."""
    from query.app import create_app
    from query.config import Config
    key = auth_tokens.new_signing_key()
    app = create_app(Config(url, "127.0.0.1:9092", auth_tokens.verify_key_of(key)), clock=lambda: NOW)
    if not cache and hasattr(app.extensions["query"], "report_cache"):
        app.extensions["query"].report_cache = None   # every compliance request computed (a cache miss each)
    has_queue = any(rule.rule == "/api/desks/<desk>/queue" for rule in app.url_map.iter_rules())
    headers = {"Authorization": f"Bearer {auth_tokens.issue(key, SUPERVISOR, NOW, 24 * 3600)}"}
    client = app.test_client()
    rows = []
    try:
        for label, path, params in endpoints(has_queue):
            if only not in label:
                continue
            if params.get("cursor") is NEXT_PAGE:
                first = client.get(path, headers=headers, query_string={k: v for k, v in params.items()
                                                                         if k != "cursor"}).get_json()
                params = {**params, "cursor": first.get("next_cursor")}
                if not params["cursor"]:
                    print(f"  {label:48} no second page", flush=True)
                    continue
            times, size = [], 0
            for i in range(warmup + requests):
                t0 = time.perf_counter()
                response = client.get(path, headers=headers, query_string=params)
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code == 422:   # a shape this version does not serve (an older checkout)
                    print(f"  {label:48} refused: {response.get_data(as_text=True)[:120]}", flush=True)
                    break
                if response.status_code != 200:
                    raise SystemExit(f"{label}: {response.status_code} {response.get_data(as_text=True)[:300]}")
                if i >= warmup:
                    times.append(elapsed)
                size = len(response.get_data())
            if not times:
                continue
            rows.append({"endpoint": label, "path": path, "params": params, "n": len(times),
                         "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 0.95), 1),
                         "p99_ms": round(percentile(times, 0.99), 1), "max_ms": round(max(times), 1),
                         "bytes": size})
            print(f"  {label:48} p50 {rows[-1]['p50_ms']:7.1f}  p95 {rows[-1]['p95_ms']:7.1f}  "
                  f"p99 {rows[-1]['p99_ms']:7.1f} ms", flush=True)
    finally:
        app.extensions["query"].pool.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--organisations", type=int, default=400)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2000, help="events per apply_batch transaction")
    parser.add_argument("--copies", type=int, default=10,
                        help="load tickets/copies through apply_batch, then copy their rows this many times in SQL")
    parser.add_argument("--workers", type=int, default=3, help="loading processes (disjoint organisations)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database", help="reuse this already loaded database (skips the load)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--no-cache", action="store_true",
                        help="compute every compliance request (query.report_cache off): the cost of a miss")
    parser.add_argument("--only", default="", help="measure only the endpoints whose label holds this text")
    args = parser.parse_args()

    machine = machine_info(packages=("flask", "psycopg"), pg_settings=("shared_buffers", "work_mem"))
    print_fields("machine", machine)
    name = args.database or f"bench_query_endpoints_{uuid.uuid4().hex[:8]}"
    from helpdesk_shared.localstack import PG_BASE_URL
    url = f"{PG_BASE_URL}/{name}" if args.database else create_database(name)
    try:
        loaded = None
        if not args.database:
            from query.app import migrate
            migrate(url)  # `mesa migrate query`: the app only checks the version
            print(f"\nloading {args.tickets // args.copies:,} tickets into {name} through query.store.apply_batch, "
                  f"then copying them to {args.tickets:,}")
            loaded = load(url, args.tickets // args.copies, args.organisations, args.batch, args.seed, args.workers)
            if args.copies > 1:
                print(f"copying each ticket's rows {args.copies - 1} times")
                loaded.update(replicate(url, args.copies))
                with pg.connect(url) as conn:
                    loaded["tickets_after_copies"] = conn.execute("select count(*) as n from tickets").fetchone()["n"]
                    loaded["report_responses_after_copies"] = conn.execute(
                        "select count(*) as n from report_responses").fetchone()["n"]
            print_fields("loaded", loaded)
        print(f"\n{args.requests} requests per endpoint (after {args.warmup} warm-up), Flask test client, "
              f"supervisor (both desks), NOW {NOW.isoformat()}")
        rows = measure(url, args.requests, args.warmup, args.only, not args.no_cache)
        print(f"\n{'endpoint':48} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  ms   target p99 <= 50 ms")
        for r in rows:
            print(f"{r['endpoint']:48} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} {r['p99_ms']:7.1f} {r['max_ms']:7.1f}"
                  f"       {'ok' if r['p99_ms'] <= 50 else 'OVER'}")
        machine_after = {"load_average_after": [round(x, 2) for x in __import__("os").getloadavg()]}
        print_fields("", machine_after)
        save_results("query_endpoints", {"machine": machine, **machine_after, "args": vars(args),
                                         "loaded": loaded, "endpoints": rows})
    finally:
        if args.keep or args.database:
            print(f"database kept: {name}")
        else:
            drop_database(name)


if __name__ == "__main__":
    main()
