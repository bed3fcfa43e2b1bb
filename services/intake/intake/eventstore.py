"""Intake's event store in PostgreSQL, with the transactional outbox (adapter)."""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from helpdesk_shared import outbox
from helpdesk_shared.envelope import Actor, Envelope
from helpdesk_shared.schemas import dump_envelope

from .messages import violation
from .unit_of_work import VersionConflict  # the handlers' port defines it; this adapter raises it


def append(conn: psycopg.Connection, events: list[Envelope], expected_version: int) -> None:
    """Append events after `expected_version` and queue them for Kafka, in the caller's transaction.

    Raises VersionConflict when the stream moved on: the unique (stream_id, stream_version)
    index refuses the second of two writers that read the same version.
    """
    rows, docs = [], []
    for i, event in enumerate(events, start=1):
        if event.stream_version != expected_version + i:
            raise ValueError(f"event {event.type} at version {event.stream_version}, expected {expected_version + i}")
        doc = dump_envelope(event)
        docs.append(doc)
        rows.append((doc["event_id"], doc["stream_id"], doc["stream_version"], doc["type"], doc["schema_version"],
                     event.occurred_at, doc["correlation_id"], doc["causation_id"], Jsonb(doc["actor"]),
                     Jsonb(doc["data"])))
    try:
        with conn.transaction():  # a savepoint, so a conflict leaves the caller's transaction usable
            cur = conn.cursor()
            cur.executemany(
                """insert into events (event_id, stream_id, stream_version, type, schema_version, occurred_at,
                                       correlation_id, causation_id, actor, data)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""", rows)
            outbox.enqueue(conn, events, docs)
    except psycopg.errors.UniqueViolation as exc:
        v = violation("VERSION_CONFLICT", None, status=409)
        raise VersionConflict(v.code, v.field, v.message, v.status) from exc


def load_stream(conn: psycopg.Connection, stream_id: str) -> list[Envelope]:
    """Every event of a stream, in order."""
    rows = conn.execute(
        """select event_id, type, schema_version, stream_id, stream_version, occurred_at, correlation_id,
                  causation_id, actor, data
           from events where stream_id = %s order by stream_version""", (stream_id,)).fetchall()
    return [Envelope(type=r["type"], stream_id=r["stream_id"], stream_version=r["stream_version"],
                     occurred_at=r["occurred_at"], actor=Actor(**r["actor"]), data=r["data"],
                     event_id=r["event_id"], schema_version=r["schema_version"],
                     correlation_id=r["correlation_id"], causation_id=r["causation_id"]) for r in rows]


def stream_version(conn: psycopg.Connection, stream_id: str) -> int:
    """The last version of a stream (0 when it has no events)."""
    row = conn.execute("select coalesce(max(stream_version), 0) as v from events where stream_id = %s",
                       (stream_id,)).fetchone()
    return row["v"]

