"""The customer's verdict in query's database (adapter): the applier of TicketRated and the SQL of
the satisfaction report, its comments and the figures the compliance report shows beside its own.
The arithmetic lives in satisfaction.py; the rules of who may rate, in intake."""
from __future__ import annotations

import psycopg

from helpdesk_shared.kafka import Record

from . import reports, satisfaction
from .batching import applies_batch
from .reports import ReportQuery

PROJECTION = "satisfaction"

# How each report dimension is read from report_ratings s (never the caller's text).
COLUMNS = {"month": "s.month", "desk": "s.desk", "module": "s.module", "agent": "s.agent",
           "organisation": "s.organisation_id"}


@applies_batch
def apply_ticket_rated(conn: psycopg.Connection, records: list[Record]) -> int:
    """One row per rated ticket; the other ticket events are not this model's. The ticket's row and
    thread are read from query's own tables: the ticket applier (registered before this one in
    store._APPLIERS) has applied the run already, and a ticket's events share one partition, so its
    TicketOpened and answers are there. A replay inserts nothing (one rating per ticket)."""
    applied = 0
    for record in records:
        event = record.event
        if event.type != "TicketRated":
            continue
        ticket = conn.execute(
            """select t.number, t.desk, t.module, t.organisation_id, t.assigned_to,
                      (select h.author_id from thread h
                        where h.ticket_id = t.ticket_id and h.type = 'MessagePosted' and not h.internal
                          and h.author_role in ('agent', 'supervisor')
                        order by h.stream_version desc limit 1) as last_answered_by
               from tickets t where t.ticket_id = %s""", (event.stream_id,)).fetchone()
        if ticket is None:  # cannot be: its TicketOpened is earlier on its partition
            continue
        d = event.data
        applied += conn.execute(
            """insert into report_ratings (ticket_id, number, month, desk, module, organisation_id, agent, rating,
                                           comment, rated_by, rated_at)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (ticket_id) do nothing""",
            (event.stream_id, ticket["number"], reports.month_of(event.occurred_at), ticket["desk"], ticket["module"],
             ticket["organisation_id"], satisfaction.rated_agent(ticket["last_answered_by"], ticket["assigned_to"]),
             d["rating"], d.get("comment"), d["rated_by"], event.occurred_at)).rowcount
    return applied


def _scope(desks: list[str], q: ReportQuery) -> tuple[str, list]:
    clauses, params = ["s.desk = any(%s)", "s.month between %s and %s"], [desks, q.first, q.last]
    for name, column in (("module", "s.module"), ("organisation_id", "s.organisation_id"), ("agent", "s.agent")):
        if name in q.filters:
            clauses.append(f"{column} = %s")
            params.append(q.filters[name])
    return " and ".join(clauses), params


def _groups(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> list[dict]:
    where, params = _scope(desks, q)
    chosen = [f"{COLUMNS[d]} as {reports.GROUP_KEYS[d]}" for d in q.group_by]
    group = f"group by {', '.join(COLUMNS[d] for d in q.group_by)}" if q.group_by else ""
    return conn.execute(f"""select {''.join(c + ', ' for c in chosen)}
                                   (count(*) filter (where s.rating = 'good'))::int as good,
                                   (count(*) filter (where s.rating = 'bad'))::int as bad
                            from report_ratings s where {where} {group}""", params).fetchall()


def _name(conn: psycopg.Connection, items: list[dict], group_by) -> None:
    for named, table in (("agent", "users"), ("organisation", "organisations")):
        if named in group_by:
            key = reports.GROUP_KEYS[named]
            ids = sorted({i[key] for i in items if i[key] is not None})
            names = {r["id"]: r["name"] for r in conn.execute(f"select id, name from {table} where id = any(%s)",
                                                               (ids,)).fetchall()}
            for i in items:
                i[f"{named}_name"] = names.get(i[key])


def report(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> dict:
    """Ratings good and bad and the share good per q.group_by (month, desk, module, agent,
    organisation), a page of q.limit groups after q.cursor."""
    items, next_cursor = satisfaction.page(satisfaction.items(_groups(conn, desks, q), q.group_by), q.group_by,
                                           q.cursor, q.limit)
    _name(conn, items, q.group_by)
    return {"from": q.first, "to": q.last, "group_by": list(q.group_by), "items": items, "next_cursor": next_cursor}


def comments(conn: psycopg.Connection, desks: list[str], q: ReportQuery) -> dict:
    """The ratings that came with a comment, oldest first, a page after q.cursor; each links to its
    ticket's timeline (staff only, like every figure here)."""
    where, params = _scope(desks, q)
    after = ""
    if q.cursor:
        after = "and (s.rated_at, s.ticket_id) > (%s, %s)"
        params = params + list(q.cursor[:2])
    rows = conn.execute(f"""select s.ticket_id, s.number, s.rated_at, s.month, s.rating, s.comment, s.desk, s.module,
                                   s.organisation_id, o.name as organisation_name, s.agent, u.name as agent_name
                            from report_ratings s left join organisations o on o.id = s.organisation_id
                                                  left join users u on u.id = s.agent
                            where s.comment is not null and {where} {after}
                            order by s.rated_at, s.ticket_id limit %s""", params + [q.limit + 1]).fetchall()
    shown, more = rows[:q.limit], len(rows) > q.limit
    items = [{**{k: r[k] for k in r if k != "ticket_id"}, "timeline": f"/api/tickets/{r['number']}/timeline"}
             for r in shown]
    last = shown[-1] if shown else None
    return {"items": items, "next_cursor": reports.encode_cursor(
        (last["rated_at"].isoformat(), last["ticket_id"], last["number"])) if more else None}


def beside_compliance(conn: psycopg.Connection, desks: list[str], q: ReportQuery, items: list[dict]) -> None:
    """Put each compliance item's group's satisfaction figures in it (`satisfaction`): the same group
    (month, desk, module, agent, organisation as the report groups them), the same filters."""
    keys = [reports.GROUP_KEYS[d] for d in q.group_by]
    counted = {tuple(g[k] for k in keys): g for g in _groups(conn, desks, q)}
    for item in items:
        found = counted.get(tuple(item[k] for k in keys))
        item["satisfaction"] = satisfaction.figures(found["good"], found["bad"]) if found else \
            satisfaction.figures(0, 0)
