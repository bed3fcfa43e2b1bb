"""The reports' tables in query's database (adapter): appliers the consumer calls per event, and
the SQL each report reads. The arithmetic and the shapes live in reports.py.

Replays change nothing: ticket events are applied once per stream version (report_tickets
remembers the last), and a response is one row per (ticket, clock, deadline) whose columns are
set only while still empty.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg

from helpdesk_shared import pg
from helpdesk_shared.kafka import Record
from helpdesk_shared.schemas import RESPONSE_CLOCKS

from . import reports, satisfaction_store, work_time
from .batching import applies_batch, copy_rows
from .report_cache import ReportCache
from .reports import ReportQuery

PROJECTION = "reports"


# ------------------------------------------------------------------ appliers

@applies_batch
def apply_ticket_events(conn: psycopg.Connection, records: list[Record]) -> int:
    """Count tickets opened or closed on their Caracas day, and out-of-hours requests, for a run of
    ticket events set-based; return how many were applied. An event at or below its ticket's last
    version was applied before (a republish, a replay) and changes nothing."""
    ids = sorted({r.event.stream_id for r in records})
    rows = {r["ticket_id"]: r for r in pg.execute(
        conn, f"""select ticket_id, desk, module, organisation_id, last_version, closed_at, close_reason,
                         out_of_hours_requested, billable, billable_month
                  from report_tickets where ticket_id in ({pg.in_list(ids)}) for update""",
        ids).fetchall()}
    new: dict[str, dict] = {}
    changed: set[str] = set()
    daily: dict[tuple, int] = {}
    requests: dict[tuple, datetime] = {}  # (ticket, month) -> first instant asked in this run
    applied = 0

    def count(ticket: dict, day: date, movement: str) -> None:
        key = (day, ticket["desk"], ticket["module"], ticket["organisation_id"], movement)
        daily[key] = daily.get(key, 0) + 1

    def requested_out_of_hours(ticket: dict, event) -> None:
        requests.setdefault((event.stream_id, reports.month_of(event.occurred_at)), event.occurred_at)
        ticket["out_of_hours_requested"] = True

    for record in records:
        event, d = record.event, record.event.data
        row = rows.get(event.stream_id)
        if row is not None and event.stream_version <= row["last_version"]:
            continue
        if event.type == "TicketOpened":
            if row is not None:
                continue
            row = rows[event.stream_id] = new[event.stream_id] = {
                "ticket_id": event.stream_id, "number": d["number"], "desk": d["desk"], "module": d["module"],
                "organisation_id": d["organisation_id"], "opened_at": event.occurred_at, "closed_at": None,
                "close_reason": None, "out_of_hours_requested": False, "billable": None, "billable_month": None,
                "last_version": event.stream_version}
            count(row, reports.local_day(event.occurred_at), "opened")
            if d.get("out_of_hours_requested"):
                requested_out_of_hours(row, event)
            applied += 1
            continue
        if row is None:  # the tickets read model refuses this case loudly; nothing to count here
            continue
        row["last_version"] = event.stream_version
        if event.stream_id not in new:
            changed.add(event.stream_id)
        if event.type == "MessagePosted" and d.get("out_of_hours_requested"):
            requested_out_of_hours(row, event)
        elif event.type == "BillableMarked":
            row["billable"], row["billable_month"] = d["billable"], reports.month_of(event.occurred_at)
        elif event.type == "TicketClosed":
            row["closed_at"], row["close_reason"] = event.occurred_at, d["reason"]
            count(row, reports.local_day(event.occurred_at), d["reason"])
        applied += 1
    cur = conn.cursor()
    if new:
        columns = tuple(next(iter(new.values())))
        copy_rows(conn, "report_tickets", columns, [[row[c] for c in columns] for row in new.values()])
        # Facts of their responses that arrived first (another topic) now count. One statement (issue
        # 11); each ticket's rows are its own, behind the ticket's lock (store._lock_shared_rows).
        opened = [(t, row["desk"], row["module"], row["organisation_id"]) for t, row in sorted(new.items())]
        pg.execute(conn, f"""update report_responses r set desk = v.desk, module = v.module, organisation_id = v.organisation
                         from (values {pg.values_list(opened)}) as v (ticket_id, desk, module, organisation)
                         where r.ticket_id = v.ticket_id""", [v for row in opened for v in row])
    if changed:
        cur.executemany("""update report_tickets set last_version = %s, closed_at = %s, close_reason = %s,
                                                     out_of_hours_requested = %s, billable = %s, billable_month = %s
                           where ticket_id = %s""",
                        [(rows[t]["last_version"], rows[t]["closed_at"], rows[t]["close_reason"],
                          rows[t]["out_of_hours_requested"], rows[t]["billable"], rows[t]["billable_month"], t)
                         for t in sorted(changed)])
    # One statement each, rows in key order (instances of the consumer add to the same daily rows).
    if daily:
        moved = [(*key, n) for key, n in sorted(daily.items())]
        pg.execute(conn, f"""insert into report_daily (day, desk, module, organisation_id, movement, n)
                         values {pg.values_list(moved)}
                         on conflict (day, desk, module, organisation_id, movement)
                         do update set n = report_daily.n + excluded.n""", [v for row in moved for v in row])
    if requests:
        asked = [(*key, at) for key, at in sorted(requests.items())]
        pg.execute(conn, f"""insert into report_ooh_requests (ticket_id, month, first_at) values {pg.values_list(asked)}
                         on conflict do nothing""", [v for row in asked for v in row])
    return applied


def counts_responses(event) -> bool:
    """Whether applying this helpdesk.sla fact may write report_responses, so the compliance counts."""
    return event.type in ("DeadlineMet", "ResponseOverdue") or (
        event.type == "DeadlineCleared" and event.data["clock"] in RESPONSE_CLOCKS)


def responses_known(conn: psycopg.Connection, ticket_ids: list[str]) -> bool:
    """Whether any of these tickets has responses recorded (facts that came before their TicketOpened,
    which will then give them its desk: a change of the compliance counts)."""
    return conn.execute("select exists (select 1 from report_responses where ticket_id = any(%s)) as known",
                        (ticket_ids,)).fetchone()["known"]


def lock_compliance_counts(conn: psycopg.Connection) -> None:
    """Hold the compliance counts (report_compliance_*) for this transaction.

    The trigger on report_responses adds to the rows of each response's hour, minute, module and
    agent as the responses are written, one by one in the log's order, and those rows stay locked
    till commit: two consumer instances (issue 11) recording responses of different tickets took
    them in crossing orders and PostgreSQL aborted one batch as a deadlock
    (tests/integration/test_query_instances_race.py), which the loop pays with a back-off, a new
    session and the batch applied again. With this lock the batches that change the counts take
    turns; they were waiting for each other's hot count rows until commit anyway. Taken by
    store.apply_batch before any row lock (see there for the order)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('query:compliance-counts'), 0)")


def apply_sla_fact(conn: psycopg.Connection, record: Record) -> bool:
    """Record a response clock answered (with the SLA's business time), overdue, or cleared by
    the ticket's close while overdue; False for the other facts and for a replay."""
    event, d = record.event, record.event.data
    if event.type not in ("DeadlineMet", "ResponseOverdue", "DeadlineCleared"):
        return False
    ticket = conn.execute("select desk, module, organisation_id from report_tickets where ticket_id = %s",
                          (d["ticket_id"],)).fetchone() or {"desk": None, "module": None, "organisation_id": None}
    if event.type == "DeadlineMet":
        if conn.execute("""select 1 from report_responses where ticket_id = %s and clock = %s and due_at = %s
                           and met_at is not null""", (d["ticket_id"], d["clock"], d["due_at"])).fetchone():
            return False
        # A clock has one response open at a time: an unanswered row of it under an earlier deadline
        # (overdue, then moved by a calendar or policy change) is this same response, not a breach of its own.
        # due_at <= met_at keeps a later response's overdue row out of it when an old fact is replayed. The
        # row is kept, marked, so that a replayed ResponseOverdue finds it and adds nothing.
        stale = conn.execute("""update report_responses set superseded = true
                                where ticket_id = %s and clock = %s and met_at is null and cleared_at is null
                                  and not superseded and due_at <> %s and due_at <= %s returning overdue_at""",
                             (d["ticket_id"], d["clock"], d["due_at"], d["met_at"])).fetchall()
        return conn.execute(
            """insert into report_responses (ticket_id, clock, due_at, month, met_at, met_in_time, business_seconds,
                                             outside_hours_seconds, answered_outside_hours, answered_by,
                                             desk, module, organisation_id, overdue_at)
               values (%(ticket_id)s, %(clock)s, %(due_at)s, %(month)s, %(met_at)s, %(met_in_time)s,
                       %(business_seconds)s, %(outside_hours_seconds)s, %(answered_outside_hours)s, %(answered_by)s,
                       %(desk)s, %(module)s, %(organisation_id)s, %(overdue_at)s)
               on conflict (ticket_id, clock, due_at) do update set
                   month = excluded.month, met_at = excluded.met_at, met_in_time = excluded.met_in_time,
                   business_seconds = excluded.business_seconds,
                   outside_hours_seconds = excluded.outside_hours_seconds,
                   answered_outside_hours = excluded.answered_outside_hours, answered_by = excluded.answered_by
               where report_responses.met_at is null""",
            {**d, **ticket, "answered_by": d.get("answered_by"),
             "overdue_at": min((r["overdue_at"] for r in stale), default=None),
             "month": reports.month_of(_instant(d["met_at"]))}).rowcount == 1
    if event.type == "ResponseOverdue":
        return conn.execute(
            """insert into report_responses (ticket_id, clock, due_at, month, overdue_at, desk, module,
                                             organisation_id)
               values (%s, %s, %s, %s, %s, %s, %s, %s)
               on conflict (ticket_id, clock, due_at) do update set overdue_at = excluded.overdue_at
               where report_responses.overdue_at is null""",
            (d["ticket_id"], d["clock"], d["due_at"], reports.month_of(_instant(d["due_at"])),
             event.occurred_at, ticket["desk"], ticket["module"], ticket["organisation_id"])).rowcount == 1
    if d["clock"] in RESPONSE_CLOCKS:  # DeadlineCleared
        # Only an overdue response has a row: one cleared before its deadline was no breach. Matched by
        # its clock, not its deadline, which may have moved since it went overdue.
        return conn.execute("""update report_responses set cleared_at = %s
                               where ticket_id = %s and clock = %s and met_at is null and cleared_at is null
                                 and not superseded and due_at <= %s""",
                            (d["at"], d["ticket_id"], d["clock"], d["at"])).rowcount >= 1
    return False


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)  # event data holds instants in their serialised (ISO) form


# ------------------------------------------------------------------ reads

def _scope(desks: list[str], q: ReportQuery, alias: str, *, agent_column: str | None = None) -> tuple[str, list]:
    """The where clause of the desks the caller may see and the report's equality filters."""
    clauses, params = [f"{alias}.desk = any(%s)"], [desks]
    for name in ("module", "organisation_id"):
        if name in q.filters:
            clauses.append(f"{alias}.{name} = %s")
            params.append(q.filters[name])
    if agent_column and "agent" in q.filters:
        clauses.append(f"{agent_column} = %s")
        params.append(q.filters["agent"])
    return " and ".join(clauses), params


def backlog(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> dict:
    """Tickets not closed now by status, desk, module, organisation and agent; closed ones in
    total; and each day of the period's movement."""
    where, params = _scope(desks, q, "t")
    current = conn.execute(f"""select t.status, t.desk, t.module, t.organisation_id, o.name as organisation_name,
                                      t.assigned_to as agent, a.name as agent_name, count(*) as n
                               from tickets t left join organisations o on o.id = t.organisation_id
                                              left join users a on a.id = t.assigned_to
                               where t.status <> 'closed' and {where}
                               group by 1, 2, 3, 4, 5, 6, 7""", params).fetchall()
    where, params = _scope(desks, q, "d")
    closed = conn.execute(f"""select coalesce(sum(n), 0) as n from report_daily d
                              where d.movement <> 'opened' and {where}""", params).fetchone()["n"]
    open_before = conn.execute(f"""select coalesce(sum(case when d.movement = 'opened' then n else -n end), 0) as n
                                   from report_daily d where d.day < %s and {where}""",
                               [q.first] + params).fetchone()["n"]
    moves = conn.execute(f"""select d.day, d.movement, sum(n)::int as n from report_daily d
                             where d.day between %s and %s and {where} group by 1, 2""",
                         [q.first, q.last] + params).fetchall()
    counts = reports.current_counts(current)
    return {"from": q.first.isoformat(), "to": q.last.isoformat(), "timezone": "America/Caracas",
            "current": {**counts, "closed": int(closed)},
            "days": reports.daily_movement(moves, int(open_before), q.first, q.last)}


_RESPONSES = """from report_responses r join report_tickets k on k.ticket_id = r.ticket_id
                left join users u on u.id = r.answered_by
                left join organisations o on o.id = k.organisation_id"""


def compliance(conn: psycopg.Connection, desks: list[str], q: ReportQuery, cache: ReportCache | None = None
               ) -> dict:
    """compute_compliance's answer, from `cache` when the read model is in the state (consumer offsets
    and generation, read in the same snapshot as the report: report_cache) it was computed in."""
    if cache is None:
        return compute_compliance(conn, desks, q)
    key = (cache.state(conn), tuple(desks), q.first, q.last, tuple(sorted(q.filters.items())), q.group_by, q.cursor,
           q.limit)
    return cache.get_or_compute(key, lambda: compute_compliance(conn, desks, q))


def compute_compliance(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> dict:
    """Share of responses in time, with median and p90 business hours, per q.group_by and clock: a
    page of at most q.limit items after q.cursor (reports.group_order), and the next page's cursor.
    Grouped or filtered by month, desk and at most one of module or agent, read from the kept counts
    (report_compliance_*: reports.counted_dimension), a few hundred groups at most, paged in Python;
    otherwise the database counts from the responses' own columns (no join), orders the groups and
    returns only the page's, each with its answered minutes as one array (a month by organisation is
    hundreds of groups, with all five dimensions thousands: their statistics and JSON were most of the
    time). The names are looked up for the page's groups alone."""
    dimension = reports.counted_dimension(q.group_by, q.filters)
    if dimension is None:
        groups = _compliance_from_responses(conn, desks, q, page=True)
    else:
        groups = _compliance_from_counts(conn, desks, q, dimension)
    items, next_cursor = reports.compliance_page(reports.compliance(groups, q.group_by), q.group_by, q.cursor,
                                                 q.limit)
    for named, table in (("agent", "users"), ("organisation", "organisations")):
        if named in q.group_by:
            key = reports.GROUP_KEYS[named]
            names = _names(conn, table, {i[key] for i in items})
            for i in items:
                i[f"{named}_name"] = names.get(i[key])
    # The customer's verdict beside the response figures (issue 12), per the same group.
    satisfaction_store.beside_compliance(conn, desks, q, items)
    return {"from": q.first, "to": q.last, "group_by": list(q.group_by), "items": items, "next_cursor": next_cursor}


def _compliance_from_responses(conn: psycopg.Connection, desks: list[str], q: ReportQuery, *, page: bool = False
                               ) -> list[dict]:
    """Each (group, clock) of the responses: count, met, and the answered minutes; with `page`, only
    the q.limit + 1 first after q.cursor in reports.group_order (one more: is there a next page)."""
    where, params = _scope(desks, q, "r", agent_column="r.answered_by")
    # Column expressions come from reports.DIMENSION_COLUMNS, never from the caller.
    keys = [reports.DIMENSION_COLUMNS[d] for d in q.group_by] + ["r.clock"]
    chosen = [f"{reports.DIMENSION_COLUMNS[d]} as {reports.GROUP_KEYS[d]}" for d in q.group_by]
    after = order = limit = ""
    if page:
        # reports.group_order in SQL: code point order ("C": UTF-8 bytes sort as code points), None last.
        # The cursor's row comparison cannot hold a null, so it compares (is null, coalesce) pairs; the
        # order by says the same in one key per column (twice as many sort keys cost the sort a third
        # of its time: bench/README.md, "Fifth pass").
        order_key = [*(f"{c} is null, coalesce({c}, '') collate \"C\"" for c in keys[:-1]), 'r.clock collate "C"']
        order = "order by " + ", ".join([*(f'{c} collate "C" nulls last' for c in keys[:-1]), 'r.clock collate "C"'])
        if q.cursor is not None:
            *values, clock = q.cursor
            after = f"and ({', '.join(order_key)}) > ({', '.join(['%s'] * (2 * len(values) + 1))})"
            params = params + [x for v in values for x in (v is None, v or "")] + [clock]
        limit = "limit %s"
        params = params + [q.limit + 1]
    # Truncated to the minute as in report_compliance_minutes, so both paths give the same figures. The
    # minutes come in no order (reports.compliance sorts them): an ordered array_agg would make the
    # database sort every group's rows, most of a large report's time.
    # Memory to group by hashing. The planner guesses ~7 responses a group (all five dimensions over a
    # month: 11,331 groups guessed, 1,629 found) and, with an array per group, that 4 MB (work_mem)
    # would not hold them; it then sorts every response by five texts before grouping, about twice as
    # slow (PostgreSQL 15 sorts text in the database's C.UTF-8 collation by strcoll, without abbreviated
    # keys). It guessed so only when it planned for the request's own values: a prepared statement's
    # generic plan hashed, so the slow plan came on a connection's first executions only, the p99 of
    # bench/query_endpoints.py. `set local`: for this transaction; the pooled connection keeps its own.
    conn.execute("set local work_mem = '64MB'")
    return conn.execute(f"""select {", ".join([*chosen, "r.clock"])}, count(*)::int as count,
                                   (count(*) filter (where r.met_in_time))::int as met,
                                   array_agg(r.business_seconds / 60 * 60)
                                       filter (where r.business_seconds is not null) as seconds
                            from report_responses r where r.month between %s and %s and not r.superseded
                              and {where} {after}
                            group by {", ".join(keys)} {order} {limit}""", [q.first, q.last] + params).fetchall()


def _compliance_from_minutes(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> list[dict]:
    """A report grouped and filtered by month and desk alone, from the per-month-and-desk counts."""
    return _compliance_from_counts(conn, desks, q, "")


def _compliance_from_counts(conn: psycopg.Connection, desks: list[str], q: ReportQuery, dimension: str
                            ) -> list[dict]:
    """Each group's counts from the per-hour counts, then the minutes of only the hours its median
    and p90 fall in (one query for all groups). `dimension` ("", "module" or "agent": see
    reports.counted_dimension) picks the tables; every name put in the SQL is one of these literals
    or a reports.GROUP_KEYS value, never the caller's text."""
    dims = [reports.GROUP_KEYS[d] for d in q.group_by]          # month, desk, module | agent
    keys = [*dims, "clock"]
    if dimension:
        hours_table, minutes_table = "report_compliance_dimension_hours", "report_compliance_dimension_minutes"
        column = {reports.GROUP_KEYS[dimension]: "value"}
        scope = "and dimension = %(dimension)s" + (" and value = %(value)s" if dimension in q.filters else "")
    else:
        hours_table, minutes_table, column, scope = "report_compliance_hours", "report_compliance_minutes", {}, ""
    params = {"first": q.first, "last": q.last, "desks": desks, "dimension": dimension,
              "value": q.filters.get(dimension)}
    inner = ", ".join(f"{column.get(k, k)} as {k}" for k in keys)
    listed = ", ".join(keys)
    rows = conn.execute(f"""select {listed}, sum(n)::int as count, sum(met)::int as met,
                                   array_agg(hour) filter (where hour >= 0) as hours,
                                   array_agg(n) filter (where hour >= 0) as ns
                            from (select {inner}, hour, sum(n)::int as n, sum(met)::int as met
                                  from {hours_table} where month between %(first)s and %(last)s
                                   and desk = any(%(desks)s) {scope}
                                  group by {", ".join(str(i + 1) for i in range(len(keys) + 1))}
                                  having sum(n) > 0) h
                            group by {listed}""", params).fetchall()
    groups = reports.hour_groups(rows, keys)
    wanted = [(key, hour) for key, g in groups.items() for hour in sorted(reports.hours_to_read(g))]
    minutes: dict[tuple, dict] = {}
    if wanted:
        # A dimension the report groups by is matched exactly; one it does not takes the whole period
        # (desks) or the filter's value.
        month = "m.month = w.month" if "month" in dims else "m.month between %(first)s and %(last)s"
        desk = "m.desk = w.desk" if "desk" in dims else "m.desk = any(%(desks)s)"
        value = ""
        if dimension:
            value = "and m.dimension = %(dimension)s and " + (
                "m.value = w.value" if reports.GROUP_KEYS[dimension] in dims else "m.value = %(value)s")
        by = dict(zip(keys, zip(*(key for key, _ in wanted))))
        none = [""] * len(wanted)
        # One index range read per (group, hour) wanted (LATERAL): a hash join would read every minute
        # row of the table for the few hundred it needs.
        found = conn.execute(f"""
            select w.i, array_agg(x.minute) as minutes, array_agg(x.n) as ns
            from unnest(%(i)s::int[], %(month)s::text[], %(desk)s::text[], %(v)s::text[], %(clock)s::text[],
                        %(hour)s::int[]) as w(i, month, desk, value, clock, hour)
            cross join lateral (
                select m.minute, sum(m.n)::int as n from {minutes_table} m
                where {desk} and m.clock = w.clock and m.minute between w.hour * 60 and w.hour * 60 + 59
                  and {month} {value} and m.n > 0
                group by m.minute) x
            group by w.i""",
            {**params, "i": list(range(len(wanted))), "month": list(by.get("month", none)),
             "desk": list(by.get("desk", none)),
             "v": list(by.get(reports.GROUP_KEYS.get(dimension, ""), none)), "clock": list(by["clock"]),
             "hour": [hour for _, hour in wanted]}).fetchall()
        for r in found:
            key, hour = wanted[r["i"]]
            minutes.setdefault(key, {})[hour] = dict(zip(r["minutes"], r["ns"]))
    out = [{**dict(zip(keys, key)), "count": g["count"], "met": g["met"], "answered": g["answered"],
            **reports.minute_quantiles(g, minutes.get(key, {}))} for key, g in groups.items()]
    if "agent" in dims:
        for g in out:   # a response nobody answered is kept under '' (a key column cannot be null)
            g["agent"] = g["agent"] or None
    return out


def _names(conn: psycopg.Connection, table: str, ids: set) -> dict:
    # `table` is one of two literals above, never the caller's.
    rows = conn.execute(f"select id, name from {table} where id = any(%s)", (sorted(i for i in ids if i),)).fetchall()
    return {r["id"]: r["name"] for r in rows}


def breaches(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> dict:
    """Each response that missed its target, by deadline, a page after q.cursor; each links to its timeline."""
    where, params = _scope(desks, q, "r", agent_column="r.answered_by")
    after = ""
    if q.cursor:
        after = "and (r.due_at, r.ticket_id, r.clock) > (%s, %s, %s)"
        params = params + list(q.cursor)
    rows = conn.execute(f"""select k.number, r.ticket_id, r.clock, r.due_at, r.met_at, r.cleared_at, r.overdue_at,
                                   r.business_seconds, r.month, r.desk, r.module, r.organisation_id,
                                   o.name as organisation_name, r.answered_by as agent, u.name as agent_name
                            {_RESPONSES}
                            where r.met_in_time is not true and not r.superseded and r.month between %s and %s
                              and {where} {after}
                            order by r.due_at, r.ticket_id, r.clock limit %s""",
                        [q.first, q.last] + params + [q.limit + 1]).fetchall()
    page, more = rows[:q.limit], len(rows) > q.limit
    items = [{**{k: r[k] for k in ("number", "clock", "due_at", "met_at", "month", "desk", "module",
                                   "organisation_id", "organisation_name", "agent", "agent_name")},
              "kind": reports.breach_kind(r["met_at"], r["cleared_at"]),
              "business_hours": reports.hours(r["business_seconds"]),
              "timeline": f"/api/tickets/{r['number']}/timeline"} for r in page]
    last = page[-1] if page else None
    return {"items": items, "next_cursor": reports.encode_cursor(
        (last["due_at"].isoformat(), last["ticket_id"], last["clock"])) if more else None}


def _month_days(q: ReportQuery) -> tuple[date, date]:
    first = date.fromisoformat(q.first + "-01")
    after = date.fromisoformat(reports.month_shift(q.last, 1) + "-01")
    return first, after - timedelta(days=1)


def auto_closed(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> dict:
    """Tickets the SLA auto-closed per Caracas month and module."""
    where, params = _scope(desks, q, "d")
    rows = conn.execute(f"""select to_char(d.day, 'YYYY-MM') as month, d.module, sum(n)::int as count
                            from report_daily d where d.movement = 'auto_closed' and d.day between %s and %s
                              and {where} group by 1, 2 order by 1, 2""", [*_month_days(q)] + params).fetchall()
    return {"from": q.first, "to": q.last, "items": rows}


def out_of_hours(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> dict:
    """Per organisation and month: tickets that asked for out-of-hours attention, the staff answers
    given outside business hours on such tickets, the time (the SLA's outside_hours_seconds), the
    tickets the desk marked billable (their last mark, in its month), and the time staff recorded
    outside business hours on the tickets billed for it (work_time)."""
    where, params = _scope(desks, q, "k")
    # prepare=False on the two joins: planned for each request's own months and desks. Prepared (psycopg
    # does at a statement's fifth run on a connection), PostgreSQL soon took its generic plan, two to
    # three times slower here, and a pooled connection kept it (bench/README.md, "Fifth pass").
    requests = conn.execute(f"""select k.organisation_id, x.month, count(*)::int as n
                                from report_ooh_requests x join report_tickets k on k.ticket_id = x.ticket_id
                                where x.month between %s and %s and {where}
                                  and k.out_of_hours_requested   -- always, for a request: lets its index serve
                                group by 1, 2""",
                            [q.first, q.last] + params, prepare=False).fetchall()
    answers = conn.execute(f"""select k.organisation_id, r.month, count(*)::int as n,
                                      coalesce(sum(r.outside_hours_seconds), 0)::bigint as seconds
                               from report_responses r join report_tickets k on k.ticket_id = r.ticket_id
                               where k.out_of_hours_requested and r.answered_outside_hours
                                 and r.month between %s and %s and {where} group by 1, 2""",
                           [q.first, q.last] + params, prepare=False).fetchall()
    billable = conn.execute(f"""select k.organisation_id, k.billable_month as month, count(*)::int as n
                                from report_tickets k where k.billable and k.billable_month between %s and %s
                                  and {where} group by 1, 2""", [q.first, q.last] + params).fetchall()
    work = work_time.billable_by_organisation(conn, where, params, q)
    ids = sorted({r["organisation_id"] for r in [*requests, *answers, *billable, *work]})
    known = {o["id"]: o for o in conn.execute("select id, name, tax_id from organisations where id = any(%s)",
                                              (ids,)).fetchall()}
    return {"from": q.first, "to": q.last, "items": reports.billing_rows(requests, answers, known, billable, work)}
