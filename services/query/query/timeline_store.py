"""The ticket timeline read model: every event about a ticket, stored once by event_id (adapter)."""
from __future__ import annotations

import psycopg

from helpdesk_shared import pg
from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.kafka import Record

from . import timeline
from .batching import applies_batch, copy_rows, data_json
from .queue_params import PageQuery, encode_cursor

# Names of the services that act on tickets, for the "who" of their entries.
SERVICE_NAMES = {"sla": "Mesa (SLA)", "system": "Mesa", "notifier": "Mesa (correo)", "intake": "Mesa"}


_COLUMNS = ("event_id", "ticket_id", "occurred_at", "causal_rank", "stream_version", "type", "actor_id", "actor_role",
            "correlation_id", "causation_id", "data")


@applies_batch
def apply_timeline(conn: psycopg.Connection, records: list[Record]) -> int:
    """Add the events to their tickets' timelines; return how many were new (an event seen before,
    a replay, or an event about no ticket adds nothing). The ones already stored are looked up in
    one query and the rest copied in."""
    events = {}
    for record in records:
        ticket_id = timeline.ticket_of(record.event)
        if ticket_id is not None:
            events.setdefault(record.event.event_id, (record.event, ticket_id))
    if not events:
        return 0
    ids = list(events)
    stored = {r["event_id"] for r in pg.execute(conn, f"select event_id from timeline where event_id in ({pg.in_list(ids)})",
                                                ids).fetchall()}
    rows = [(event.event_id, ticket_id, event.occurred_at, timeline.causal_rank(event), event.stream_version,
             event.type, event.actor.id, event.actor.role, event.correlation_id, event.causation_id, data_json(event))
            for event_id, (event, ticket_id) in events.items() if event_id not in stored]
    copy_rows(conn, "timeline", _COLUMNS, rows)
    return len(rows)


def ticket_timeline(conn: psycopg.Connection, user: Claims, number: str, query: PageQuery) -> dict:
    """A page of the ticket's timeline for staff of its desk. A customer of the ticket's organisation
    gets a 403 (staff only); anyone else who may not see the ticket a 404 like a missing one."""
    ticket = conn.execute("select ticket_id, desk, organisation_id from tickets where number = %s",
                          (number,)).fetchone()
    timeline.check_access(user, ticket)
    params: dict = {"ticket": ticket["ticket_id"], "limit": query.limit + 1}
    after = ""
    if query.cursor:
        after = """and (e.occurred_at, e.causal_rank, e.stream_version, e.event_id)
                       > (%(at)s::timestamptz, %(rank)s, %(version)s, %(event)s::uuid)"""
        params.update(zip(("at", "rank", "version", "event"), query.cursor))
    rows = conn.execute(f"""select e.*, c.type as cause_type from timeline e
                            left join timeline c on c.event_id = e.causation_id and c.ticket_id = e.ticket_id
                            where e.ticket_id = %(ticket)s {after}
                            order by e.occurred_at, e.causal_rank, e.stream_version, e.event_id
                            limit %(limit)s""", params).fetchall()
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    ids = {r["actor_id"] for r in rows} | timeline.people_named(rows)
    names = {**SERVICE_NAMES, **{u["id"]: u["name"] for u in conn.execute(
        "select id, name from users where id = any(%s)", (list(ids),)).fetchall()}}
    last = rows[-1] if rows else None
    cursor = encode_cursor([last["occurred_at"].isoformat(), last["causal_rank"], last["stream_version"],
                            str(last["event_id"])]) if more else None
    items = []
    for r in rows:
        items.append(timeline.entry(r, names))
        if r["type"] == "TicketMergedInto":  # the merged duplicate's messages follow the merge itself
            items.extend(timeline.merged_entries(r, names))
    return {"number": number, "items": items, "next_cursor": cursor}
