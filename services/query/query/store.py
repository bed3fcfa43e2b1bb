"""Applies projected changes to query's PostgreSQL read model (adapter).

Each event is applied at most once: a ticket row remembers the last stream version it
applied, and anything at or below it (a relay republish, a replay) is dropped.
"""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from helpdesk_shared import revocations
from helpdesk_shared.kafka import Record
from helpdesk_shared.topics import ACCOUNTS, NOTIFICATIONS, SLA, TICKETS, TOPIC_OF_EVENT

from . import catalogs, reports_store
from .projector import project, project_account
from .queue_store import apply_sla_fact, apply_ticket_event
from .timeline_store import apply_timeline

_JSON_COLUMNS = {"contact", "details", "attachments"}


def _value(column: str, value):
    return Jsonb(value) if column in _JSON_COLUMNS else value


def apply_event(conn: psycopg.Connection, record: Record) -> bool:
    """Apply one ticket event; False when it was already applied (or arrives before its ticket)."""
    event = record.event
    row = conn.execute("select status, last_version from tickets where ticket_id = %s for update",
                       (event.stream_id,)).fetchone()
    if row is not None and event.stream_version <= row["last_version"]:
        return False
    if row is None and event.type != "TicketOpened":
        raise RuntimeError(f"{event.type} v{event.stream_version} of {event.stream_id} before its TicketOpened")
    if row is not None and event.stream_version != row["last_version"] + 1:
        raise RuntimeError(f"gap in {event.stream_id}: v{event.stream_version} after v{row['last_version']}")
    change = project(event, row["status"] if row else None)
    if change.new_ticket:
        cols = {**change.new_ticket, "opened_at": event.occurred_at, "updated_at": event.occurred_at,
                "last_version": event.stream_version}
        conn.execute(f"insert into tickets ({', '.join(cols)}) values ({', '.join(['%s'] * len(cols))})",
                     [_value(c, v) for c, v in cols.items()])
    else:
        updates = {**change.ticket_updates, "updated_at": event.occurred_at, "last_version": event.stream_version}
        conn.execute(f"update tickets set {', '.join(f'{c} = %s' for c in updates)} where ticket_id = %s",
                     [_value(c, v) for c, v in updates.items()] + [event.stream_id])
    if change.thread_entry:
        e = change.thread_entry
        conn.execute("""insert into thread (ticket_id, stream_version, type, author_id, author_role, body, internal,
                                            attachments, data, occurred_at)
                        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                     (event.stream_id, event.stream_version, e["type"], e["author_id"], e["author_role"], e["body"],
                      e["internal"], Jsonb(e["attachments"]), Jsonb(e["data"]), event.occurred_at))
    return True


def apply_notification(conn: psycopg.Connection, record: Record) -> bool:
    """Record a mail sent (or refused for good) about a ticket; False for a duplicate or no ticket."""
    d = record.event.data
    if not d.get("ticket_id"):
        return False
    return conn.execute("""insert into notifications (event_id, ticket_id, type, recipient, template, error, occurred_at)
                           values (%s, %s, %s, %s, %s, %s, %s) on conflict (event_id) do nothing""",
                        (record.event.event_id, d["ticket_id"], record.event.type, d["recipient"], d["template"],
                         d.get("error"), record.event.occurred_at)).rowcount == 1


def apply_account(conn: psycopg.Connection, record: Record) -> bool:
    """Record the name of an organisation or a person; False when nothing changed (a replay)."""
    if record.event.type == revocations.EVENT:  # the API refuses the user's older bearer tokens
        revocations.apply(conn, record.event.data["user_id"], record.event.data["valid_after"])
        return True
    if record.event.type == "UserUpdated":  # a supervisor changed the user's role, desks or organisation
        d = record.event.data
        return conn.execute("update users set role = %s, organisation_id = %s, desks = %s where id = %s",
                            (d["role"], d.get("organisation_id"), d["desks"], d["user_id"])).rowcount == 1
    change = project_account(record.event)
    changed = False
    if change.organisation:
        o = change.organisation
        changed = conn.execute("""insert into organisations (id, name, tax_id, desks) values (%s, %s, %s, %s)
                                  on conflict (id) do update set name = excluded.name, tax_id = excluded.tax_id,
                                                                 desks = excluded.desks
                                  where (organisations.name, organisations.tax_id, organisations.desks)
                                        is distinct from (excluded.name, excluded.tax_id, excluded.desks)""",
                               (o["id"], o["name"], o["tax_id"], o["desks"])).rowcount == 1
    if change.user:
        u = change.user
        changed = conn.execute("""insert into users (id, email, name, role, organisation_id, desks, phone)
                                  values (%s, %s, %s, %s, %s, %s, %s)
                                  on conflict (id) do update set email = excluded.email, name = excluded.name,
                                      role = excluded.role, organisation_id = excluded.organisation_id,
                                      desks = excluded.desks, phone = excluded.phone
                                  where (users.email, users.name, users.role, users.organisation_id, users.desks,
                                         users.phone)
                                        is distinct from (excluded.email, excluded.name, excluded.role,
                                                          excluded.organisation_id, excluded.desks, excluded.phone)""",
                               (u["id"], u["email"], u["name"], u["role"], u["organisation_id"], u["desks"],
                                u["phone"])).rowcount == 1
    return changed


# Which read models take an event, by the topic its type belongs to: (its stats row, its function).
# Every read model of an event is applied in the same transaction as the consumer's offsets.
# A read model registers itself here (one line) and puts its tables in app.SCHEMA.
_APPLIERS: dict[str, list] = {
    TICKETS: [("tickets", apply_event), ("deadlines", apply_ticket_event), ("timeline", apply_timeline),
              (reports_store.PROJECTION, reports_store.apply_ticket_event)],
    NOTIFICATIONS: [("tickets", apply_notification), ("timeline", apply_timeline)],
    ACCOUNTS: [("accounts", apply_account), (catalogs.PROJECTION, catalogs.apply_catalog_changed)],
    SLA: [("deadlines", apply_sla_fact), ("timeline", apply_timeline),
          (reports_store.PROJECTION, reports_store.apply_sla_fact)],
}


def apply_batch(conn: psycopg.Connection, records: list[Record]) -> None:
    """Apply a polled batch (the consumer loop commits it with its offsets)."""
    counts: dict[str, list[int]] = {}
    for record in records:
        for projection, apply in _APPLIERS.get(TOPIC_OF_EVENT[record.event.type], ()):
            applied, skipped = counts.setdefault(projection, [0, 0])
            counts[projection] = [applied + 1, skipped] if apply(conn, record) else [applied, skipped + 1]
    for projection, (applied, skipped) in counts.items():
        conn.execute("update projection_stats set applied = applied + %s, skipped = skipped + %s where name = %s",
                     (applied, skipped, projection))


def stats(conn: psycopg.Connection) -> dict:
    """Applied and skipped event counts."""
    row = conn.execute("select applied, skipped from projection_stats where name = 'tickets'").fetchone()
    return {"applied_events": row["applied"], "skipped_events": row["skipped"]}
