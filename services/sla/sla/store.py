"""The SLA service's PostgreSQL adapter: versioned calendars and policies, each ticket's
clocks, and firing due timers into the outbox — each in the caller's transaction."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from helpdesk_shared import migrations, outbox, pg
from helpdesk_shared.business_calendar import BEGINNING, Calendar, CalendarHistory
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.kafka import Record

from . import facts, timers
from .calendars import DEFAULT_DOC, calendar_from_doc
from .policy import DEFAULT_POLICIES, Policy, policy_from_doc, policy_to_doc, urgency_class

log = logging.getLogger(__name__)

SCHEMA = Path(__file__).with_name("schema.sql")
SLA_ACTOR = Actor(id="sla", role="system")
# NOTIFY channel: clocks were moved by someone other than the timer process that reads their
# partition (a calendar change), so its DueWatch is out of date.
CLOCKS_MOVED = "sla_clocks"


def migrate(database_url: str) -> None:
    """Apply the SLA's numbered migrations (tables, then version 1 of every calendar and policy)."""
    from . import migrations as folder
    migrations.migrate(database_url, folder.DIRECTORY)


def require_migrated(database_url: str) -> None:
    """Refuse to start (migrations.NotMigrated) on a database `mesa migrate sla` has not brought up to date."""
    from . import migrations as folder
    migrations.require_current(database_url, folder.DIRECTORY, "sla")


def seed_defaults(conn: psycopg.Connection) -> None:
    """Version 1 of every desk's calendar and policies, kept when they exist (migration 0001)."""
    for desk, cls in DEFAULT_POLICIES:
        conn.execute("""insert into calendars (desk, version, effective_from, doc, changed_by)
                        values (%s, 1, %s, %s, 'default') on conflict do nothing""",
                     (desk, BEGINNING, Jsonb(DEFAULT_DOC)))
        conn.execute("""insert into policies (desk, urgency_class, version, effective_from, doc, changed_by)
                        values (%s, %s, 1, %s, %s, 'default') on conflict do nothing""",
                     (desk, cls, BEGINNING, Jsonb(policy_to_doc(DEFAULT_POLICIES[desk, cls]))))


# ---------------------------------------------------------------- calendars and policies

@dataclass
class Settings:
    """Every version of every calendar and policy, to pin the ones in force when a ticket opens."""

    calendars: dict[tuple[str, int], Calendar] = field(default_factory=dict)
    policies: dict[tuple[str, str, int], tuple[datetime, Policy]] = field(default_factory=dict)
    stamp: int = -1

    def calendar_at(self, desk: str, t: datetime) -> Calendar:
        """The desk's calendar version in force at t."""
        return CalendarHistory(tuple(c for (d, _), c in self.calendars.items() if d == desk)).at(t)

    def calendar_from(self, desk: str, t: datetime) -> Calendar | CalendarHistory:
        """What a clock started at t is pinned to: the version in force at t, with the versions
        that take effect later (a change announced ahead counts from its effective_from)."""
        first = self.calendar_at(desk, t)
        later = tuple(c for (d, _), c in self.calendars.items() if d == desk and c.effective_from > t)
        return CalendarHistory((first,) + later) if later else first

    def calendar_of(self, desk: str, versions: list[int]) -> Calendar | CalendarHistory:
        """A ticket's pinned calendar from its version numbers (KeyError: a version not loaded yet)."""
        if len(versions) == 1:
            return self.calendars[desk, versions[0]]
        return CalendarHistory(tuple(self.calendars[desk, v] for v in versions))

    def policy_at(self, desk: str, cls: str, t: datetime) -> Policy:
        """The desk's policy for an urgency class in force at t."""
        return max(((since, p) for (d, c, _), (since, p) in self.policies.items()
                    if d == desk and c == cls and since <= t), key=lambda sp: (sp[0], sp[1].version))[1]


def _stamp(conn: psycopg.Connection) -> int:
    return conn.execute("select (select count(*) from calendars) + (select count(*) from policies) as n"
                        ).fetchone()["n"]


def settings_for_batch(conn: psycopg.Connection, current: Settings | None = None) -> Settings:
    """The settings a consumer batch applies ticket events with: first wait for, then hold off,
    a calendar change (its `lock table clocks in exclusive mode`, see _move_to_calendar).

    Without the lock the batch could read the calendars, a change commit meanwhile re-pinning
    every open ticket but the one the batch was about to insert, and the batch then insert that
    ticket pinned to the old version alone (no DeadlineMoved ever: a closure day ignored). ROW
    EXCLUSIVE is what the batch's writes to `clocks` take anyway, only earlier: it conflicts with
    nothing but that change (and the firing check's row locks never wait for it). One statement
    per batch.
    """
    conn.execute("lock table clocks in row exclusive mode")
    return load_settings(conn, current)


def load_settings(conn: psycopg.Connection, current: Settings | None = None) -> Settings:
    """Calendars and policies; `current` is returned as is when nothing changed (versions only grow)."""
    stamp = _stamp(conn)
    if current is not None and current.stamp == stamp:
        return current
    settings = Settings(stamp=stamp)
    for r in conn.execute("select desk, version, effective_from, doc from calendars"):
        settings.calendars[r["desk"], r["version"]] = calendar_from_doc(r["doc"], r["version"], r["effective_from"])
    for r in conn.execute("select desk, urgency_class, version, effective_from, doc from policies"):
        settings.policies[r["desk"], r["urgency_class"], r["version"]] = (
            r["effective_from"], policy_from_doc(r["doc"], r["desk"], r["urgency_class"], r["version"]))
    return settings


def _one_change_at_a_time(conn: psycopg.Connection, kind: str, of: str) -> None:
    """Hold, until commit, the right to add the next version of one desk's calendar (or policy).

    Two supervisors saving at once both read the same latest version and the second insert hit the
    primary key (a 500); with this the second waits and adds the version after the first's. Taken
    first in the transaction, and the consumers never take it: nothing waits the other way round.
    """
    conn.execute("select pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (f"sla:{kind}", of))


def change_calendar(conn: psycopg.Connection, desk: str, doc: dict, effective_from: datetime, changed_by: Actor,
                    now: datetime) -> int:
    """Add a calendar version (validated), recorded as CalendarChanged; return its number."""
    _one_change_at_a_time(conn, "calendar", desk)
    version = conn.execute("select coalesce(max(version), 0) + 1 as v from calendars where desk = %s",
                           (desk,)).fetchone()["v"]
    calendar_from_doc(doc, version, effective_from)  # validates
    conn.execute("insert into calendars (desk, version, effective_from, doc, changed_by) values (%s, %s, %s, %s, %s)",
                 (desk, version, effective_from, Jsonb(doc), changed_by.id))
    changed = new_event("CalendarChanged", f"calendar-{desk}", version, {
        "desk": desk, "version": version, "effective_from": effective_from.isoformat(), "calendar": doc,
        "changed_by": changed_by.id}, actor=changed_by, occurred_at=now)
    outbox.enqueue(conn, [changed])
    _move_to_calendar(conn, desk, version, changed, now)
    return version


def _move_to_calendar(conn: psycopg.Connection, desk: str, version: int, changed, now: datetime) -> None:
    """Re-pin every open ticket of the desk to its new calendar version, moving running deadlines
    still ahead (sla.timers.on_calendar), and queue a DeadlineMoved for each deadline that moved."""
    # EXCLUSIVE mode still lets plain reads (the explanation API) through but waits for, and then
    # holds off, the consumer's and fire_due's row locks: taken before any row is touched, it
    # cannot deadlock with a consumer batch that locks its tickets one by one in event order.
    # https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES
    conn.execute("lock table clocks in exclusive mode")
    # Deadlines may move earlier: the timer processes read their next due instant again at commit.
    conn.execute(f"notify {CLOCKS_MOVED}")
    settings = load_settings(conn)
    calendar = settings.calendars[desk, version]
    rows = conn.execute("""select ticket_id, state, fired, sla_version from clocks
                           where state->>'desk' = %s and status <> 'closed' order by ticket_id""", (desk,)).fetchall()
    for row in rows:
        before = clocks_from_doc(row["state"], settings)
        if version in _calendar_versions(before.calendar):
            continue
        after = timers.on_calendar(before, calendar, now)
        events = _fact_events(facts.calendar_facts(before, after), after.ticket_id, row["sla_version"],
                              occurred_at=now, correlation_id=changed.correlation_id, causation_id=changed.event_id)
        conn.execute("update clocks set state = %s, next_due = %s, sla_version = %s where ticket_id = %s",
                     (Jsonb(clocks_to_doc(after)), _next_unfired(after, row["fired"]),
                      row["sla_version"] + len(events), after.ticket_id))
        outbox.enqueue(conn, events)


def change_policy(conn: psycopg.Connection, desk: str, cls: str, doc: dict, effective_from: datetime,
                  changed_by: Actor, now: datetime) -> int:
    """Add a policy version (validated), recorded as PolicyChanged; return its number."""
    _one_change_at_a_time(conn, "policy", f"{desk}/{cls}")
    version = conn.execute("select coalesce(max(version), 0) + 1 as v from policies where desk = %s and "
                           "urgency_class = %s", (desk, cls)).fetchone()["v"]
    policy = policy_from_doc(doc, desk, cls, version)
    conn.execute("""insert into policies (desk, urgency_class, version, effective_from, doc, changed_by)
                    values (%s, %s, %s, %s, %s, %s)""",
                 (desk, cls, version, effective_from, Jsonb(policy_to_doc(policy)), changed_by.id))
    outbox.enqueue(conn, [new_event("PolicyChanged", f"policy-{desk}-{cls}", version, {
        "desk": desk, "urgency_class": cls, "version": version, "effective_from": effective_from.isoformat(),
        "policy": policy_to_doc(policy), "changed_by": changed_by.id}, actor=changed_by, occurred_at=now)])
    return version


# ---------------------------------------------------------------- clocks as documents

def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s is not None else None


def _calendar_versions(calendar: Calendar | CalendarHistory) -> list[int]:
    return [c.version for c in calendar.versions] if isinstance(calendar, CalendarHistory) else [calendar.version]


def clocks_to_doc(c: timers.TicketClocks) -> dict:
    """The clocks as JSON, with the policy and calendar pinned by version."""
    r, w = c.response, c.waiting
    return {
        "ticket_id": c.ticket_id, "number": c.number, "desk": c.desk, "urgency": c.urgency,
        "policy_version": c.policy.version, "calendar_version": c.calendar.version,
        "calendar_versions": _calendar_versions(c.calendar),
        "version": c.version, "status": c.status,
        "response": r and {"kind": r.kind, "started_at": _iso(r.started_at), "started_version": r.started_version,
                           "due_at": _iso(r.due_at)},
        "waiting": w and {"since": _iso(w.since), "since_version": w.since_version, "warn_at": _iso(w.warn_at),
                          "close_at": _iso(w.close_at), "away_until": _iso(w.away_until)},
        "away_until": _iso(c.away_until),
        "paused": [[_iso(s), _iso(e)] for s, e in c.paused],
        "history": [{"kind": h.kind, "started_at": _iso(h.started_at), "started_version": h.started_version,
                     "due_at": _iso(h.due_at), "met_at": _iso(h.met_at)} for h in c.history],
    }


def clocks_from_doc(doc: dict, settings: Settings) -> timers.TicketClocks:
    """The clocks back from JSON, with their pinned policy and calendar versions."""
    r, w = doc["response"], doc["waiting"]
    cls = urgency_class(doc["urgency"])
    return timers.TicketClocks(
        ticket_id=doc["ticket_id"], number=doc["number"], desk=doc["desk"], urgency=doc["urgency"],
        policy=settings.policies[doc["desk"], cls, doc["policy_version"]][1],
        # One version, or (re-pinned by a calendar change) several; rows stored before keep one.
        calendar=settings.calendar_of(doc["desk"], doc.get("calendar_versions") or [doc["calendar_version"]]),
        version=doc["version"], status=doc["status"],
        response=r and timers.ResponseClock(r["kind"], _dt(r["started_at"]), r["started_version"], _dt(r["due_at"])),
        waiting=w and timers.Waiting(_dt(w["since"]), w["since_version"], _dt(w["warn_at"]), _dt(w["close_at"]),
                                     _dt(w.get("away_until"))),
        away_until=_dt(doc.get("away_until")),  # absent in clocks stored before it was kept
        paused=tuple((_dt(s), _dt(e)) for s, e in doc["paused"]),
        history=tuple(timers.FinishedClock(h["kind"], _dt(h["started_at"]), h["started_version"], _dt(h["due_at"]),
                                           _dt(h["met_at"])) for h in doc["history"]))


def _clocks(conn: psycopg.Connection, doc: dict, settings: Settings) -> timers.TicketClocks:
    """The clocks of a row; a calendar version committed after `settings` were read (a change that
    re-pinned this ticket meanwhile) is loaded into them, in place, so the caller's copy learns it too."""
    try:
        return clocks_from_doc(doc, settings)
    except KeyError:
        fresh = load_settings(conn)
        settings.calendars, settings.policies, settings.stamp = fresh.calendars, fresh.policies, fresh.stamp
        return clocks_from_doc(doc, settings)


def _next_unfired(clocks: timers.TicketClocks, fired) -> datetime | None:
    return min((t.due_at for t in timers.pending_timers(clocks) if t.key not in fired), default=None)


# ---------------------------------------------------------------- applying ticket events

def _fact_events(facts_: list[facts.Fact], ticket_id: str, last_version: int, **envelope) -> list:
    """The facts as events of the stream "sla-<ticket_id>", numbered on from `last_version`."""
    return [new_event(type_, f"sla-{ticket_id}", last_version + i, data, actor=SLA_ACTOR, **envelope)
            for i, (type_, data) in enumerate(facts_, start=1)]


def apply_batch(conn: psycopg.Connection, records: list[Record], settings: Settings) -> datetime | None:
    """Move each ticket's clocks by its events (the consumer loop commits this with its offsets),
    and queue the facts of each change (sla.facts) in the outbox in the same transaction.

    The facts are numbered with the clocks row's `sla_version`, the one counter of the stream
    "sla-<ticket_id>" that fire_due also moves, and carry the ticket event's occurred_at,
    correlation and (as causation) id. A republished ticket event changes no clocks, so it
    publishes nothing again.

    Returns the earliest next_due written (None: none), for the timer process's DueWatch.
    """
    earliest: datetime | None = None

    def wrote(due: datetime | None) -> None:
        nonlocal earliest
        if due is not None and (earliest is None or due < earliest):
            earliest = due

    for record in records:
        event = record.event
        cause = dict(occurred_at=event.occurred_at, correlation_id=event.correlation_id,
                     causation_id=event.event_id)
        if event.type == "TicketOpened":
            d = event.data
            cls = urgency_class(d["urgency"])
            clocks = timers.open_clocks(event, settings.policy_at(d["desk"], cls, event.occurred_at),
                                        settings.calendar_from(d["desk"], event.occurred_at))
            opening = facts.ticket_facts(None, clocks, event)
            next_due = _next_unfired(clocks, ())
            # The clocks and the first deadline as computed here, for whoever quotes it (the notifier's
            # received mail): closure days and edited calendars included. One statement, and the facts
            # are queued only with the clocks, so a republished TicketOpened publishes nothing twice.
            if outbox.enqueue_with(conn, _fact_events(opening, clocks.ticket_id, 0, **cause), (
                    """insert into clocks (ticket_id, number, partition, status, state, next_due, sla_version)
                       values (%s, %s, %s, %s, %s, %s, %s) on conflict (ticket_id) do nothing""",
                    (clocks.ticket_id, clocks.number, record.partition, clocks.status, Jsonb(clocks_to_doc(clocks)),
                     next_due, len(opening))), only_if_changed=True):
                wrote(next_due)
            continue
        row = conn.execute("select state, fired, sla_version from clocks where ticket_id = %s for update",
                           (event.stream_id,)).fetchone()
        if row is None:
            log.warning("event for a ticket without clocks", extra={"type": event.type, "stream": event.stream_id})
            continue
        before = _clocks(conn, row["state"], settings)
        after = timers.apply(before, event)
        if after.version == before.version:
            continue  # already applied (a republished duplicate)
        events = _fact_events(facts.ticket_facts(before, after, event), after.ticket_id, row["sla_version"],
                              **cause)
        next_due = _next_unfired(after, row["fired"])
        outbox.enqueue_with(conn, events, (
            "update clocks set status = %s, state = %s, next_due = %s, sla_version = %s where ticket_id = %s",
            (after.status, Jsonb(clocks_to_doc(after)), next_due, row["sla_version"] + len(events), event.stream_id)))
        wrote(next_due)
    return earliest


# ---------------------------------------------------------------- firing timers

def save_watermark(conn: psycopg.Connection, source: str, through: datetime) -> None:
    """Keep the latest `through` a writer announced (OutboxDrained); in the batch's transaction."""
    conn.execute("""insert into intake_watermark (source, through) values (%s, %s) on conflict (source)
                    do update set through = greatest(intake_watermark.through, excluded.through)""", (source, through))


def load_watermark(conn: psycopg.Connection, source: str) -> datetime | None:
    """The latest watermark saved for `source` (None before the first)."""
    row = conn.execute("select through from intake_watermark where source = %s", (source,)).fetchone()
    return row["through"] if row else None


def fire_due(conn: psycopg.Connection, settings: Settings, partitions: list[int], safe_time: datetime,
             now: datetime, limit: int = 500) -> int:
    """Fire every unfired timer due at or before `safe_time` on the given partitions; return how many.

    Each fired timer is recorded by its key and its event queued in the outbox, in the
    caller's transaction: a crash before commit fires nothing, after commit never again.
    """
    if not partitions:
        return 0
    # An IN list: psycopg dumps an array parameter element by element in Python (issue 11).
    rows = pg.execute(conn, f"""select ticket_id, state, fired, sla_version from clocks
                                where partition in ({pg.in_list(partitions)}) and next_due <= %s
                                order by next_due limit %s for update skip locked""",
                      [*partitions, safe_time, limit]).fetchall()
    count = 0
    for row in rows:
        clocks = _clocks(conn, row["state"], settings)
        fired, version, events = list(row["fired"]), row["sla_version"], []
        for timer in timers.pending_timers(clocks):
            if timer.due_at > safe_time or timer.key in fired:
                continue
            version += 1
            event = new_event(timer.event_type, f"sla-{clocks.ticket_id}", version, timer.data, actor=SLA_ACTOR,
                              occurred_at=now)
            conn.execute("""insert into fired_timers (key, ticket_id, kind, due_at, fired_at, event_id)
                            values (%s, %s, %s, %s, %s, %s)""",
                         (timer.key, clocks.ticket_id, timer.kind, timer.due_at, now, event.event_id))
            fired.append(timer.key)
            events.append(event)
        outbox.enqueue_with(conn, events, ("update clocks set fired = %s, sla_version = %s, next_due = %s "
                                           "where ticket_id = %s",
                                           (fired, version, _next_unfired(clocks, fired), clocks.ticket_id)))
        count += len(events)
    return count


def earliest_due(conn: psycopg.Connection, partitions: list[int]) -> datetime | None:
    """The earliest unfired due instant on the partitions (index clocks_due); None when no timer is pending."""
    if not partitions:
        return None
    return pg.execute(conn, f"""select min(next_due) as due from clocks
                                where partition in ({pg.in_list(partitions)}) and next_due is not null""",
                      partitions).fetchone()["due"]


def explain(conn: psycopg.Connection, settings: Settings, number: str) -> dict | None:
    """The ticket's clocks explained, plus the timers fired so far (None for an unknown number)."""
    row = conn.execute("select ticket_id, state from clocks where number = %s", (number,)).fetchone()
    if row is None:
        return None
    fired = conn.execute("select kind, due_at, fired_at from fired_timers where ticket_id = %s order by fired_at",
                         (row["ticket_id"],)).fetchall()
    return {**timers.explain(clocks_from_doc(row["state"], settings)),
            "fired": [{"kind": f["kind"], "due_at": f["due_at"].isoformat(), "fired_at": f["fired_at"].isoformat()}
                      for f in fired]}
