"""The deadlines read model and the SQL of the desk pages: queue, auto-close, workload (adapter).

Deadlines come from the SLA service's facts on helpdesk.sla. The topic is keyed by the ticket's
sla stream, so a ticket's facts arrive in the order they were published and each one is applied
over what is known; a fact whose event_id was already applied (a relay's republish, a replay of
the topic) is dropped (`deadline_facts`), so applying one twice changes nothing. That holds
whatever the SLA service numbers its stream versions (`sla_version` only records the last one).
A ticket's close (helpdesk.tickets) stops whatever still runs.
"""
from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from helpdesk_shared import pg
from helpdesk_shared.kafka import Record
from helpdesk_shared.schemas import RESPONSE_CLOCKS

from . import catalogs, queue
from .batching import applies_batch
from .filters import UNASSIGNED
from .queue_params import PageQuery, encode_cursor

# Columns a DeadlineSet or DeadlineMoved replaces (the whole deadline as the SLA service now sees it).
_FACT_COLUMNS = ("running", "clock_type", "due_at", "warning_at", "open_intervals", "policy_version",
                 "calendar_version", "overdue", "sla_version", "event_id")


def _upsert(conn: psycopg.Connection, record: Record, clock: str, insert: dict, update: tuple[str, ...]) -> None:
    """Insert the (ticket, clock) row, or update its columns `update`."""
    event = record.event
    row = {"ticket_id": event.data["ticket_id"], "clock": clock, "sla_version": event.stream_version,
           "event_id": event.event_id, **insert}
    columns = ", ".join(row)
    sets = ", ".join(f"{c} = excluded.{c}" for c in (*update, "sla_version", "event_id"))
    conn.execute(f"""insert into deadlines ({columns}) values ({', '.join(['%s'] * len(row))})
                     on conflict (ticket_id, clock) do update set {sets}""",
                 [Jsonb(v) if c == "open_intervals" and v is not None else v for c, v in row.items()])


def _refresh_order(conn: psycopg.Connection, ticket_ids: set[str]) -> None:
    """Keep each ticket's place in the queue: its nearest running deadline, and whether it was
    reported missed (one statement for the tickets a run of facts touched, in key order)."""
    ids = sorted(ticket_ids)
    pg.execute(conn, f"""insert into queue_order (ticket_id, sort_due, overdue)
                    select t.ticket_id, coalesce(n.due_at, 'infinity'), coalesce(n.overdue, false)
                    from (values {pg.values_list([(i,) for i in ids])}) as t (ticket_id) left join lateral (
                        select due_at, overdue from deadlines d where d.ticket_id = t.ticket_id and running
                        order by due_at, clock limit 1) n on true
                    order by t.ticket_id
                    on conflict (ticket_id) do update set sort_due = excluded.sort_due, overdue = excluded.overdue""",
               ids)


def _closed(conn: psycopg.Connection, ticket_ids: set[str]) -> set[str]:
    """Which of the tickets are closed."""
    ids = sorted(ticket_ids)
    return {r["ticket_id"] for r in pg.execute(
        conn, f"select ticket_id from tickets where ticket_id in ({pg.in_list(ids)}) and status = 'closed'", ids)}


# The response clocks as an SQL list of literals (constants of the schema, never input).
_RESPONSE_CLOCKS = ", ".join(f"'{c}'" for c in RESPONSE_CLOCKS)

# The helpdesk.sla facts about one ticket's clocks (data.ticket_id); store.apply_batch locks their tickets.
TICKET_FACTS = ("DeadlineSet", "DeadlineMoved", "DeadlineMet", "DeadlineCleared", "ClockPaused", "ResponseOverdue",
                "AutoCloseWarning", "AutoClosed")


@applies_batch
def apply_sla_facts(conn: psycopg.Connection, records: list[Record]) -> int:
    """Apply a run of helpdesk.sla facts to the deadlines, in order; returns how many changed
    something. A replay changes nothing, nor does a fact about no ticket clock (CalendarChanged,
    PolicyChanged: a DeadlineMoved follows for each deadline they move).

    Per run, not per fact (issue 11: four statements a fact before): one statement records which
    facts are new, one reads which of their tickets are closed (no applier of a run of facts closes
    one), then each new fact's own upsert in order, and one statement refreshes the queue places of
    the tickets they touched."""
    facts = [r for r in records if r.event.type in TICKET_FACTS]
    if not facts:
        return 0
    ids = [(r.event.event_id,) for r in facts]
    new = {row["event_id"] for row in pg.execute(
        conn, f"insert into deadline_facts (event_id) values {pg.values_list(ids)} on conflict do nothing returning event_id",
        [i for i, in ids])}
    applied = []
    for record in facts:
        if record.event.event_id in new:
            new.discard(record.event.event_id)  # a fact the run holds twice (a republish) is applied once
            applied.append(record)
    if not applied:
        return 0
    tickets = {r.event.data["ticket_id"] for r in applied}
    closed = _closed(conn, tickets)
    for record in applied:
        _apply_sla_fact(conn, record, record.event.data["ticket_id"] in closed)
    _refresh_order(conn, tickets)
    return len(applied)


def _apply_sla_fact(conn: psycopg.Connection, record: Record, closed: bool) -> None:
    """One new fact onto its (ticket, clock) row; `closed`, whether the ticket is: a closed ticket's
    clock never runs, whatever the order the two topics are read in (a rebuild, say)."""
    event, d = record.event, record.event.data
    if event.type in ("DeadlineSet", "DeadlineMoved"):
        fact = {"running": not closed, "clock_type": d["clock_type"], "due_at": d["due_at"],
                "warning_at": d.get("warning_at"), "open_intervals": d.get("open_intervals"),
                "policy_version": d["policy_version"], "calendar_version": d["calendar_version"],
                "overdue": False}
        _upsert(conn, record, d["clock"], fact, _FACT_COLUMNS[:-2])
    elif event.type in ("DeadlineMet", "DeadlineCleared"):
        _upsert(conn, record, d["clock"], {"running": False, "due_at": d["due_at"]}, ("running",))
    elif event.type == "ResponseOverdue":
        # Marks the running deadline; inserted when its DeadlineSet is unknown (published before the facts existed).
        _upsert(conn, record, d["clock"], {"running": not closed, "due_at": d["due_at"],
                                           "overdue": True, "policy_version": d.get("policy_version")}, ("overdue",))
    elif event.type == "AutoCloseWarning":
        _upsert(conn, record, "auto_close", {"running": not closed, "due_at": d["closes_at"],
                                             "warned_closes_at": d["closes_at"], "warned_at": event.occurred_at},
                ("warned_closes_at", "warned_at"))
    elif event.type == "AutoClosed":
        _upsert(conn, record, "auto_close", {"running": False, "due_at": d["due_at"]}, ("running",))
    elif event.type == "ClockPaused":
        # The response clocks stop counting while the ticket waits for the customer.
        conn.execute(f"""update deadlines set running = false, sla_version = %s, event_id = %s
                         where ticket_id = %s and clock in ({_RESPONSE_CLOCKS}) and running""",
                     (event.stream_version, event.event_id, d["ticket_id"]))


@applies_batch
def apply_ticket_events(conn: psycopg.Connection, records: list[Record]) -> int:
    """A ticket enters its desk's queue when it opens and leaves it when it closes, its clocks
    stopped (applying either again changes nothing); other ticket events do not touch deadlines.
    Returns how many events changed something. A ticket never opens after its close, so the
    run's opens are applied before its closes."""
    opened = {r.event.stream_id: r.event.data["desk"] for r in records if r.event.type == "TicketOpened"}
    closes = [r.event.stream_id for r in records if r.event.type == "TicketClosed"]
    applied = 0
    if opened:
        desks = sorted(opened.items())
        applied += pg.execute(conn, f"""with changed as (
                                           insert into queue_order (ticket_id, desk) values {pg.values_list(desks)}
                                           on conflict (ticket_id) do update set desk = excluded.desk
                                           where queue_order.desk is distinct from excluded.desk returning 1)
                                       select count(*) as n from changed""",
                              [v for row in desks for v in row]).fetchone()["n"]
    if closes:
        # Each ticket counted once however many of its closes the run holds (a republish changes nothing).
        closing = sorted(set(closes))
        applied += pg.execute(conn, f"""with closing as (select * from (values {pg.values_list([(t,) for t in closing])})
                                                   as v (ticket_id)),
                                   stopped as (update deadlines d set running = false from closing c
                                               where d.ticket_id = c.ticket_id and d.running returning d.ticket_id),
                                   closed as (insert into queue_order (ticket_id, open)
                                              select ticket_id, false from closing
                                              on conflict (ticket_id) do update
                                              set open = false, sort_due = 'infinity', overdue = false
                                              where queue_order.open returning ticket_id)
                                   select count(distinct ticket_id) as n
                                   from (select ticket_id from stopped union all select ticket_id from closed) x""",
                              closing).fetchone()["n"]
    return applied


# ---------------------------------------------------------------- the desk pages

_NEAREST = """left join lateral (select d.clock, d.clock_type, d.due_at, d.open_intervals, d.overdue,
                                        d.policy_version, d.calendar_version
                                 from deadlines d where d.ticket_id = t.ticket_id and d.running
                                 order by d.due_at, d.clock limit 1) n on true"""
# Tickets without a running deadline sort last ('infinity').
_SORT = "q.sort_due"
_FLAG_SQL = {
    "urgent": "t.urgency <> 'normal'",
    "waiting_customer": "t.status = 'waiting_customer'",
    "customer_away": "t.customer_away",
    "out_of_hours": "coalesce(t.billable, t.out_of_hours)",  # the agent's mark, else the customer's request
    "unassigned": "t.assigned_to is null",
    # The nearest running deadline is the earliest: if any has passed, that one has.
    "overdue": "(q.overdue or q.sort_due < %(now)s)",
}


def _key_of(row: dict) -> list:
    due = row["deadline"]["due_at"].isoformat() if row["deadline"] else "infinity"
    return [due, row["ticket_id"]]


def desk_queue(conn: psycopg.Connection, desk: str, query: PageQuery, now: datetime) -> dict:
    """A page of the desk's open tickets, nearest deadline first, with the cursor of the next page."""
    params = {"desk": desk, "now": now, "limit": query.limit + 1}
    clauses = ["q.desk = %(desk)s", "q.open"]
    for name, value in query.filters.items():  # names come from QUEUE_FILTERS, never from the caller
        if name == "flag":
            clauses.append(_FLAG_SQL[value])
        elif value is UNASSIGNED:
            clauses.append("t.assigned_to is null")
        else:
            clauses.append(f"t.{name} = %({name})s")
            params[name] = value
    if query.cursor:
        clauses.append(f"({_SORT}, q.ticket_id) > (%(after_due)s::timestamptz, %(after_id)s)")
        params.update(after_due=query.cursor[0], after_id=query.cursor[1])
    rows = conn.execute(f"""select t.ticket_id, t.number, t.subject, t.desk, t.module, m.name as module_name,
                                   t.status, t.urgency, t.organisation_id,
                                   o.name as organisation_name, t.assigned_to, a.name as assigned_to_name,
                                   t.customer_away, t.back_at, t.out_of_hours, t.billable,
                                   case when n.due_at is null then null else jsonb_build_object(
                                       'clock', n.clock, 'clock_type', n.clock_type,
                                       'open_intervals', n.open_intervals, 'overdue', n.overdue,
                                       'policy_version', n.policy_version,
                                       'calendar_version', n.calendar_version) end as deadline, n.due_at
                            from queue_order q join tickets t on t.ticket_id = q.ticket_id
                                 left join users a on a.id = t.assigned_to
                                 left join organisations o on o.id = t.organisation_id
                                 left join desk_modules m on m.desk = t.desk and m.code = t.module
                                 {_NEAREST}
                            where {' and '.join(clauses)}
                            order by {_SORT}, q.ticket_id limit %(limit)s""", params).fetchall()
    for row in rows:
        if row["deadline"] is not None:
            row["deadline"]["due_at"] = row["due_at"]
    more = len(rows) > query.limit
    rows = catalogs.named(rows[:query.limit])
    return {"desk": desk, "items": [queue.queue_item(r, now) for r in rows],
            "next_cursor": encode_cursor(_key_of(rows[-1])) if more else None}


def auto_close_soon(conn: psycopg.Connection, desk: str, query: PageQuery, now: datetime) -> dict:
    """A page of the desk's tickets whose auto-close falls within the next business day, by due_at."""
    rows = conn.execute("""select t.ticket_id, t.number, t.subject, t.module, t.organisation_id,
                                  o.name as organisation_name, t.assigned_to, a.name as assigned_to_name,
                                  d.clock, d.clock_type, d.due_at, d.warning_at, d.warned_at,
                                  coalesce(d.warned_closes_at = d.due_at, false) as warning_sent, d.open_intervals,
                                  d.overdue, d.policy_version, d.calendar_version
                           from deadlines d join tickets t on t.ticket_id = d.ticket_id
                                left join users a on a.id = t.assigned_to
                                left join organisations o on o.id = t.organisation_id
                           where d.clock = 'auto_close' and d.running and t.desk = %s and t.status <> 'closed'
                           order by d.due_at, t.ticket_id""", (desk,)).fetchall()
    items = queue.auto_close_soon(rows, now)
    if query.cursor:
        after = (datetime.fromisoformat(query.cursor[0]), query.cursor[1])
        items = [i for i in items if i["_key"] > after]
    page, more = items[:query.limit], len(items) > query.limit
    cursor = encode_cursor([page[-1]["_key"][0].isoformat(), page[-1]["_key"][1]]) if more else None
    for item in page:
        del item["_key"]
    return {"desk": desk, "within_business_seconds": queue.BUSINESS_DAY_SECONDS, "items": page,
            "next_cursor": cursor}


def workload(conn: psycopg.Connection, desk: str, now: datetime) -> dict:
    """Per agent of the desk: open and waiting tickets assigned, public answers today; and the unassigned count."""
    start, end = queue.day_bounds(now)
    agents = conn.execute("""select u.id, u.name, u.role,
                                    count(t.ticket_id) filter (where t.status <> 'closed') as assigned,
                                    count(t.ticket_id) filter (where t.status = 'open') as open,
                                    count(t.ticket_id) filter (where t.status = 'waiting_customer') as waiting_customer
                             from users u left join tickets t on t.assigned_to = u.id and t.desk = %(desk)s
                             where u.role in ('agent', 'supervisor') and %(desk)s = any(u.desks)
                             group by u.id, u.name, u.role order by u.name, u.id""", {"desk": desk}).fetchall()
    answered = {r["author_id"]: r["n"] for r in conn.execute(
        """select e.author_id, count(*) as n from thread e join tickets t on t.ticket_id = e.ticket_id
           where t.desk = %s and e.type = 'MessagePosted' and not e.internal
                 and e.author_role in ('agent', 'supervisor') and e.occurred_at >= %s and e.occurred_at < %s
           group by e.author_id""", (desk, start, end)).fetchall()}
    unassigned = conn.execute("""select count(*) as n from tickets where desk = %s and status <> 'closed'
                                 and assigned_to is null""", (desk,)).fetchone()["n"]
    return {"desk": desk, "day": start.astimezone(queue.DESK_TZ).date().isoformat(),
            "agents": [{**a, "answered_today": answered.get(a["id"], 0)} for a in agents], "unassigned": unassigned}
