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


def append(conn: psycopg.Connection, events: list[Envelope], expected_version: int,
           also: Sequence[tuple[str, Sequence]] = ()) -> None:
    """Append events after `expected_version` (which queues them for Kafka), in the caller's transaction.

    Raises VersionConflict when the stream moved on: the unique (stream_id, stream_version)
    index refuses the second of two writers that read the same version. Raises EventTooLarge
    (413) before writing anything when an event would not fit its topic. The events are the
    ones `new_event` built (their data validated there), so each is serialised once, unchecked.
    `also`, statements (SQL, parameters) that must stand or fall with the events (a ticket's
    snapshot and index row), run after them in the same round trip and savepoint.
    """
    for i, event in enumerate(events, start=1):
        if event.stream_version != expected_version + i:
            raise ValueError(f"event {event.type} at version {event.stream_version}, expected {expected_version + i}")
    payloads = [encode_built(event) for event in events]
    outbox.check_sizes(payloads)
    rows = [outbox.event_row(event, payload) for event, payload in zip(events, payloads)]
    try:
        # One round trip: savepoint, inserts, NOTIFY (wakes the relay at commit) and release are
        # pipelined. The savepoint lets a conflict leave the caller's transaction usable.
        with conn.pipeline(), conn.transaction():
            conn.cursor().executemany(outbox.EVENT_INSERT, rows)
            conn.execute("notify outbox")
            for sql, params in also:
                conn.execute(sql, params)
    except psycopg.errors.UniqueViolation as exc:
        v = violation("VERSION_CONFLICT", None, status=409)
        raise VersionConflict(v.code, v.field, v.message, v.status) from exc


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

