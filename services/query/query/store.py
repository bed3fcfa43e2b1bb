"""Applies projected changes to query's PostgreSQL read model (adapter).

Each event is applied at most once: a ticket row remembers the last stream version it
applied, and anything at or below it (a relay republish, a replay) is dropped.
"""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from helpdesk_shared import pg, revocations
from helpdesk_shared.kafka import Record
from helpdesk_shared.topics import ACCOUNTS, KNOWLEDGE, NOTIFICATIONS, SLA, TICKETS, TOPIC_OF_EVENT

from . import articles_store, catalogs, reports_store, satisfaction_store, work_time
from .batching import applies_batch, copy_rows, data_json, list_json, takes_batches
from .projector import project, project_account
from .queue_store import TICKET_FACTS, apply_sla_facts
from .queue_store import apply_ticket_events as queue_ticket_events
from .timeline_store import apply_timeline

_JSON_COLUMNS = {"contact", "details", "attachments"}


def _value(column: str, value):
    return Jsonb(value) if column in _JSON_COLUMNS else value


# The columns of a ticket row its later events change (never subject, case or description: its
# ticket_search row is made from those when it opens, and grown by its messages).
_MUTABLE = ("status", "assigned_to", "customer_away", "back_at", "out_of_hours", "billable", "close_reason",
            "updated_at", "last_version")
_MUTABLE_SET = frozenset(_MUTABLE)
_NESTED = 32  # messages of one ticket folded into its search vectors by one statement


@applies_batch
def apply_ticket_events(conn: psycopg.Connection, records: list[Record]) -> int:
    """Apply a run of ticket events set-based; return how many were applied (not already applied).

    The rows of the run's tickets are read once, the events folded over them in order with the
    pure `project`, and each ticket written once: inserted whole when it opens in this run,
    otherwise its changed columns updated. An event at or below a ticket's last version is a
    duplicate (a relay's republish, a replay) and changes nothing.
    """
    ids = sorted({r.event.stream_id for r in records})
    rows = {r["ticket_id"]: r for r in pg.execute(
        conn, f"select ticket_id, {', '.join(_MUTABLE)} from tickets where ticket_id in ({pg.in_list(ids)}) for update",
        ids).fetchall()}
    new: dict[str, dict] = {}     # opened in this run: the whole row, inserted at the end
    changed: set[str] = set()     # existing rows to update
    thread: list[tuple] = []
    applied = 0
    for record in records:
        event = record.event
        row = rows.get(event.stream_id)
        if row is not None and event.stream_version <= row["last_version"]:
            continue
        if row is None and event.type != "TicketOpened":
            raise RuntimeError(f"{event.type} v{event.stream_version} of {event.stream_id} before its TicketOpened")
        if row is not None and event.stream_version != row["last_version"] + 1:
            raise RuntimeError(f"gap in {event.stream_id}: v{event.stream_version} after v{row['last_version']}")
        change = project(event, row["status"] if row else None)
        if change.new_ticket:
            row = {**change.new_ticket, "assigned_to": None, "customer_away": False, "back_at": None,
                   "billable": None, "close_reason": None, "opened_at": event.occurred_at, "updated_at": event.occurred_at,
                   "last_version": event.stream_version}
            rows[event.stream_id] = new[event.stream_id] = row
        else:
            if not change.ticket_updates.keys() <= _MUTABLE_SET:  # would be lost by the update below
                raise RuntimeError(f"{event.type} changes {sorted(change.ticket_updates.keys() - _MUTABLE_SET)}: "
                                   "add them to store._MUTABLE")
            row.update(change.ticket_updates, updated_at=event.occurred_at, last_version=event.stream_version)
            if event.stream_id not in new:
                changed.add(event.stream_id)
        if change.thread_entry:
            e = change.thread_entry
            thread.append((event.stream_id, event.stream_version, e["type"], e["author_id"], e["author_role"],
                           e["body"], e["internal"], list_json(e["attachments"]),
                           data_json(event) if e["data"] is event.data else Jsonb(e["data"]), event.occurred_at))
        applied += 1
    if new:
        columns = tuple(next(iter(new.values())))
        copy_rows(conn, "tickets", columns, [[_value(c, row[c]) for c in columns] for row in new.values()])
        _open_search_rows(conn, list(new.values()))
    if changed:
        conn.cursor().executemany(f"update tickets set {', '.join(f'{c} = %s' for c in _MUTABLE)} where ticket_id = %s",
                                  [[rows[t][c] for c in _MUTABLE] + [t] for t in sorted(changed)])
    _grow_search_rows(conn, thread)
    # Only events applied now have a thread entry, and each at its own stream version: all new.
    copy_rows(conn, "thread", ("ticket_id", "stream_version", "type", "author_id", "author_role", "body", "internal",
                               "attachments", "data", "occurred_at"), thread)
    return applied


def _open_search_rows(conn: psycopg.Connection, opened: list[dict]) -> None:
    """A ticket_search row (migration 0007) for each ticket opened in this run: its own text."""
    rows = [tuple(row[c] for c in _SEARCH_SOURCE) for row in opened]
    pg.execute(conn, f"""
        insert into ticket_search (ticket_id, desk, organisation_id, module, opened_at, number, staff, public)
        select o.ticket_id, o.desk, o.organisation_id, o.module, o.opened_at, o.number, v, v
        from (values {pg.values_list(rows, _SEARCH_SOURCE_TYPES)}) as o ({', '.join(_SEARCH_SOURCE)}),
             mesa_ticket_search(o.subject, o.case_summary, o.description, o.module) as v""",
        [v for row in rows for v in row])


_SEARCH_SOURCE = ("ticket_id", "desk", "organisation_id", "module", "opened_at", "number", "subject", "case_summary",
                  "description")
_SEARCH_SOURCE_TYPES = ("text", "text", "text", "text", "timestamptz", "text", "text", "text", "text")


def _grow_search_rows(conn: psycopg.Connection, thread: list[tuple]) -> None:
    """Fold the run's messages into their tickets' ticket_search vectors (every message into
    `staff`, the public ones into `public`): `mesa_thread_search` once per message, in stream order,
    so a replay in batches of any size builds the same vectors. One statement per number of
    messages a ticket got; a ticket with more than `_NESTED` of them (a replay) takes one round per
    `_NESTED`."""
    messages: dict[str, list[tuple[str, bool]]] = {}
    for ticket_id, _version, type_, _author, _role, body, internal, *_ in thread:
        if type_ == "MessagePosted":
            messages.setdefault(ticket_id, []).append((body, internal))
    rounds: list[dict[int, list[list]]] = []
    for ticket_id in sorted(messages):
        bodies = messages[ticket_id]
        for r, i in enumerate(range(0, len(bodies), _NESTED)):
            chunk = bodies[i:i + _NESTED]
            if r == len(rounds):
                rounds.append({})
            rounds[r].setdefault(len(chunk), []).append(
                [body for body, _ in chunk] + [None if internal else body for body, internal in chunk] + [ticket_id])
    for shapes in rounds:
        for n, params in shapes.items():
            staff, public = "staff", "public"
            for _ in range(n):
                staff, public = f"mesa_thread_search({staff}, %s)", f"mesa_thread_search({public}, %s)"
            conn.cursor().executemany(
                f"update ticket_search set staff = {staff}, public = {public} where ticket_id = %s", params)


def apply_event(conn: psycopg.Connection, record: Record) -> bool:
    """Apply one ticket event; False when it was already applied."""
    return apply_ticket_events(conn, [record]) == 1


@applies_batch
def apply_notifications(conn: psycopg.Connection, records: list[Record]) -> int:
    """Record the mails sent (or refused for good) about tickets; return how many were new."""
    rows = [(r.event.event_id, r.event.data["ticket_id"], r.event.type, r.event.data["recipient"],
             r.event.data["template"], r.event.data.get("error"), r.event.occurred_at)
            for r in records if r.event.data.get("ticket_id")]
    if not rows:
        return 0
    return pg.execute(conn, f"""with added as (
                                   insert into notifications (event_id, ticket_id, type, recipient, template, error,
                                                              occurred_at)
                                   values {pg.values_list(rows)}
                                   on conflict (event_id) do nothing returning 1)
                               select count(*) as n from added""", [v for row in rows for v in row]).fetchone()["n"]


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
# A read model registers itself here (one line) and puts its tables in app.SCHEMA. Its applier is
# either apply(conn, record) -> bool (called per event) or, marked @batching.applies_batch,
# apply(conn, records) -> int: a run of its topic's events in order, applied set-based.
_APPLIERS: dict[str, list] = {
    TICKETS: [("tickets", apply_ticket_events), ("deadlines", queue_ticket_events), ("timeline", apply_timeline),
              (reports_store.PROJECTION, reports_store.apply_ticket_events),
              (articles_store.PROJECTION, articles_store.apply_ticket_attempt),  # issue 12: deflections
              (satisfaction_store.PROJECTION, satisfaction_store.apply_ticket_rated)],  # issue 12: the verdict
    NOTIFICATIONS: [("tickets", apply_notifications), ("timeline", apply_timeline)],
    ACCOUNTS: [("accounts", apply_account), (catalogs.PROJECTION, catalogs.apply_catalog_changed)],
    SLA: [("deadlines", apply_sla_facts), ("timeline", apply_timeline),
          (reports_store.PROJECTION, reports_store.apply_sla_fact), (work_time.PROJECTION, work_time.apply)],
    KNOWLEDGE: [(articles_store.PROJECTION, articles_store.apply_article_event)],  # issue 12
}


def _runs(records: list[Record]):
    """The batch as one run per topic, in _APPLIERS' order: (topic, its records in the batch's order).

    A polled batch holds the records of several partitions one after the other, so of one topic in
    several stretches. Each stretch used to be a run of its own: two instances' batches then wrote
    the hot rows (report_daily's counts of the day) once per run, each run in its own sorted order
    but the batch as a whole not, and crossed (tests/integration/test_query_instances_race.py: a
    deadlock). One run per topic writes them once, sorted, and costs fewer statements. The order of
    the topics within a batch carries no meaning (two instances and a rebuild interleave them
    differently; each partition's records keep their order here); the read models are the same
    in any (tests/integration/test_query_batch_apply.py)."""
    by_topic: dict[str, list[Record]] = {}
    for record in records:
        by_topic.setdefault(TOPIC_OF_EVENT[record.event.type], []).append(record)
    order = list(_APPLIERS)
    for topic in sorted(by_topic, key=lambda t: (order.index(t) if t in order else len(order), t)):
        yield topic, by_topic[topic]


# The ticket events whose appliers write what helpdesk.sla's appliers read or write, and back: an
# open (queue_order's desk; report_tickets, whose desk it copies into the responses known before it)
# and a close (stops the running deadlines, takes the ticket out of the queue). The other ticket
# events write only tables no other topic's applier touches.
_TICKET_EVENTS_SHARED_WITH_SLA = frozenset({"TicketOpened", "TicketClosed"})


def _ticket_sharing_rows(record: Record) -> str | None:
    """The ticket whose rows this record's appliers share with the other topic's, or None."""
    event = record.event
    if event.type in _TICKET_EVENTS_SHARED_WITH_SLA:
        return event.stream_id
    if event.type in TICKET_FACTS:  # every one of them refreshes the ticket's queue_order row
        return event.data["ticket_id"]
    return None


def _lock_shared_rows(conn: psycopg.Connection, records: list[Record]) -> None:
    """Lock, until the batch commits, each ticket whose rows both topics' appliers touch (see above),
    and the compliance counts when the batch changes them (reports_store.lock_compliance_counts).

    Two consumer instances (issue 11) hold different partitions of helpdesk.tickets and helpdesk.sla,
    so a ticket's close and its SLA facts may be applied at the same moment in two READ COMMITTED
    transactions, each blind to the other's uncommitted rows: a DeadlineSet read the ticket open while
    its close was in flight, and the close's `update deadlines ... where running` missed the clock the
    DeadlineSet had just inserted; the clock ran on the closed ticket
    (tests/integration/test_query_instances_race.py). With the lock the second batch waits for the
    first to commit, and its statements then see it.

    Every batch takes these locks in one order (the tickets' by key, then the compliance counts')
    and before any row lock, so a batch waiting for one of them holds nothing another waits for.

    Advisory locks rather than row locks on `tickets`: the row may not exist yet (its TicketOpened is
    in the other batch, uncommitted), and a lock on nothing waits for nothing. Per ticket, so the two
    instances wait for each other only over a ticket both have in flight. Taken in one statement, in
    one order, before the batch locks any row: two batches holding the same tickets in opposite
    orders cannot deadlock (they did on queue_order before). Cost (issue 11 counts CPU per event):
    one statement per batch for the tickets, none for a batch with no such event; one more for the
    counts when the batch changes them, and one indexed `exists` for a batch that opens tickets
    without a response fact (did facts come first?).
    """
    tickets = sorted({t for t in map(_ticket_sharing_rows, records) if t is not None})
    if tickets:
        pg.lock_keys(conn, "query:ticket", tickets)
    # Then, still before any row lock, the compliance counts when the batch will change them: by a
    # response fact, or by a ticket opening after facts of its responses. Asked after the tickets'
    # locks, so that the question sees what a batch this one waited for committed about them.
    counts = any(reports_store.counts_responses(r.event) for r in records if r.event.type in TICKET_FACTS)
    if not counts:
        opened = [r.event.stream_id for r in records if r.event.type == "TicketOpened"]
        counts = bool(opened) and reports_store.responses_known(conn, opened)
    if counts:
        reports_store.lock_compliance_counts(conn)


def apply_batch(conn: psycopg.Connection, records: list[Record], *, sole_writer: bool = False) -> None:
    """Apply a polled batch (the consumer loop commits it with its offsets).

    Set-based: the batch's events of one topic go to every read model of the topic at once, in
    their order (`_runs`), so a read model's applier sees its topic's events in order
    (tests/integration/test_query_batch_apply.py shows a batch leaves exactly what its events
    applied one at a time leave).
    """
    if not sole_writer:  # `mesa rebuild` alone writes its scratch tables: nothing to wait for
        _lock_shared_rows(conn, records)
    counts: dict[str, list[int]] = {}
    for topic, run in _runs(records):
        for projection, apply in _APPLIERS.get(topic, ()):
            applied = apply(conn, run) if takes_batches(apply) else sum(1 for r in run if apply(conn, r))
            count = counts.setdefault(projection, [0, 0])
            count[0] += applied
            count[1] += len(run) - applied
    if counts:  # one statement, rows in name order (issue 11: executemany sent one a read model)
        rows = [(projection, applied, skipped) for projection, (applied, skipped) in sorted(counts.items())]
        pg.execute(conn, f"""insert into projection_stats (name, applied, skipped) values {pg.values_list(rows)}
                         on conflict (name) do update set applied = projection_stats.applied + excluded.applied,
                                                          skipped = projection_stats.skipped + excluded.skipped""",
                     [v for row in rows for v in row])


def stats(conn: psycopg.Connection) -> dict:
    """Applied and skipped event counts."""
    row = conn.execute("select applied, skipped from projection_stats where name = 'tickets'").fetchone()
    return {"applied_events": row["applied"], "skipped_events": row["skipped"]}
