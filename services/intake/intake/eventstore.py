"""Intake's event store in PostgreSQL, which is also its outbox (adapter).

One INSERT per event: the row carries the bytes the relay ships to Kafka unchanged, serialised
once here (issue 11). The relay follows a position in `events` (helpdesk_shared.outbox.EventLog).
"""
from __future__ import annotations

from typing import Sequence

import psycopg

from helpdesk_shared import outbox
from helpdesk_shared.envelope import Actor, Envelope, encode_built, from_json_bytes

from .messages import violation
from .unit_of_work import VersionConflict  # the handlers' port defines it; this adapter raises it


def append(conn: psycopg.Connection, events: list[Envelope], expected_version: int) -> None:
    """Append events after `expected_version` (which queues them for Kafka), in the caller's transaction.

    Raises VersionConflict when the stream moved on: the unique (stream_id, stream_version)
    index refuses the second of two writers that read the same version; the transaction stays
    usable (an editor's command says so and goes on). Raises EventTooLarge (413) before writing
    anything when an event would not fit its topic. The events are the ones `new_event` built
    (their data validated there), so each is serialised once, unchecked.
    """
    rows = _rows(events, expected_version)
    try:
        # One round trip: savepoint, inserts, NOTIFY (wakes the relay at commit) and release are
        # pipelined. The savepoint lets a conflict leave the caller's transaction usable.
        with conn.pipeline(), conn.transaction():
            conn.cursor().executemany(outbox.EVENT_INSERT, rows)
            conn.execute("notify outbox")
    except psycopg.errors.UniqueViolation as exc:
        raise _conflict() from exc


def append_in_one_statement(conn: psycopg.Connection, events: list[Envelope], expected_version: int,
                            also: Sequence[tuple[str, Sequence]]) -> None:
    """`append`, with the statements that must stand or fall with the events (a ticket's index row
    and snapshot: INSERTs or UPDATEs, positional parameters), sent as one statement: each its own
    CTE, and the wake-up of the relay as its query (`pg_notify`, delivered at commit).

    One statement where `append` sends six (savepoint, events, NOTIFY, `also`, release) costs the
    client ~250 µs and the server ~50 µs less (issue 11). There is no savepoint: a VersionConflict
    leaves the transaction aborted, so it is for callers that let the conflict end the unit of work
    (`unit_of_work.run` runs the command again in a new one), as every ticket command does.

    Every event of the call takes the relay_xid its first would (the transaction's id, raised to that
    of the stream's event at `expected_version`): the value the sequential inserts gave each, since
    each raised to its predecessor's, and the predecessor in one statement cannot be seen.
    """
    rows = _rows(events, expected_version)
    params = [value for row in rows for value in row[:-2] + (events[0].stream_id, expected_version)]
    sql = f"with appended as (insert into events ({outbox.EVENT_COLUMNS}) values " \
          + ", ".join([outbox.EVENT_VALUES] * len(rows)) + ")"
    for i, (statement, statement_params) in enumerate(also):
        sql += f", also_{i} as ({statement})"
        params.extend(statement_params)
    try:
        conn.execute(sql + " select pg_notify('outbox', '')", params)
    except psycopg.errors.UniqueViolation as exc:
        raise _conflict() from exc


def _rows(events: list[Envelope], expected_version: int) -> list[tuple]:
    for i, event in enumerate(events, start=1):
        if event.stream_version != expected_version + i:
            raise ValueError(f"event {event.type} at version {event.stream_version}, expected {expected_version + i}")
    payloads = [encode_built(event) for event in events]
    outbox.check_sizes(payloads)
    return [outbox.event_row(event, payload) for event, payload in zip(events, payloads)]


def _conflict() -> VersionConflict:
    v = violation("VERSION_CONFLICT", None, status=409)
    return VersionConflict(v.code, v.field, v.message, v.status)


STREAM_COLUMNS = """e.payload, e.event_id, e.type, e.schema_version, e.stream_id, e.stream_version, e.occurred_at,
                    e.correlation_id, e.causation_id, e.actor, e.data"""


def load_stream(conn: psycopg.Connection, stream_id: str) -> list[Envelope]:
    """Every event of a stream, in order."""
    rows = conn.execute(f"select {STREAM_COLUMNS} from events e where e.stream_id = %s order by e.stream_version",
                        (stream_id,)).fetchall()
    return [event_of_row(r) for r in rows]


def event_of_row(r: dict) -> Envelope:
    """The event a row of `events` (its STREAM_COLUMNS) holds."""
    return from_json_bytes(r["payload"]) if r["payload"] is not None else _stored_before_payloads(r)


def _stored_before_payloads(r: dict) -> Envelope:
    """An event appended before events carried their bytes (migration 0002): read from its columns."""
    return Envelope(type=r["type"], stream_id=r["stream_id"], stream_version=r["stream_version"],
                    occurred_at=r["occurred_at"], actor=Actor(**r["actor"]), data=r["data"],
                    event_id=r["event_id"], schema_version=r["schema_version"],
                    correlation_id=r["correlation_id"], causation_id=r["causation_id"])


def stream_version(conn: psycopg.Connection, stream_id: str) -> int:
    """The last version of a stream (0 when it has no events)."""
    row = conn.execute("select coalesce(max(stream_version), 0) as v from events where stream_id = %s",
                       (stream_id,)).fetchone()
    return row["v"]

