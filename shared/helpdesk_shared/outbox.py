"""The transactional outbox every event-writing service uses, and its relay to Kafka.

A writer calls `enqueue` in the transaction that stores its effect; the relay publishes
rows in id order, keyed by stream id, and marks a row only after the broker acknowledged
it (acks=all). A crash between send and mark republishes those rows on restart: a
duplicate is possible, a loss is not; consumers drop what their stored state already covers.

An event too large for its topic is refused at `enqueue` (413, nothing stored). A row Kafka
still refuses for what it is (too large, invalid) is parked: moved to `outbox_dead_letters`
with its payload and error, logged as an error with a running count, and announced to
operations (see `park`), while the rows after it go on. An outage is no reason to park:
the relay backs off and retries (see outage.py).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable

import psycopg
from kafka import KafkaProducer
from kafka.errors import (CorruptRecordError, InvalidRecordError, InvalidTopicError, KafkaError,
                          MessageSizeTooLargeError, RecordListTooLargeError)

from . import pg
from .clock import as_clock_time, utc_now
from .envelope import Actor, Envelope, new_event, to_json_bytes
from .errors import Message, RuleViolation
from .kafka import make_producer
from .outage import TRANSIENT_ERRORS, Backoff
from .topics import MAX_EVENT_BYTES, TOPIC_OF_EVENT

log = logging.getLogger(__name__)

DDL = """
create table if not exists outbox (
    id           bigserial primary key,
    event_id     uuid        not null,
    topic        text        not null,
    key          text        not null,
    payload      bytea       not null,
    stored_at    timestamptz not null default now(),
    published_at timestamptz
);
create index if not exists outbox_unpublished on outbox (id) where published_at is null;
-- Rows Kafka refused for what they are; kept whole for an operator to fix and re-queue.
create table if not exists outbox_dead_letters (
    id         bigint      primary key,  -- the outbox row's id
    event_id   uuid        not null,
    topic      text        not null,
    key        text        not null,
    payload    bytea       not null,
    stored_at  timestamptz not null,
    error      text        not null,
    parked_at  timestamptz not null default now()
);
"""

# What Kafka refuses because of the record itself: sending it again cannot succeed.
UNDELIVERABLE = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError, CorruptRecordError,
                 InvalidTopicError)


class EventTooLarge(RuleViolation):
    """An event larger than its topic takes: refused before anything is stored."""

    def __init__(self, size: int):
        super().__init__("EVENT_TOO_LARGE", None, Message(
            es=f"El contenido es demasiado grande para registrarlo ({size // 1024} KB; el máximo es "
               f"{MAX_EVENT_BYTES // 1024} KB). Acorte el texto o envíelo como adjunto.",
            en=f"The content is too large to be recorded ({size // 1024} KB; the most is "
               f"{MAX_EVENT_BYTES // 1024} KB). Shorten the text or send it as an attachment."),
            status=413, extra={"max_bytes": MAX_EVENT_BYTES})


def encode(events: list[Envelope], docs: list[dict] | None = None) -> list[bytes]:
    """The Kafka payload of each event; raises EventTooLarge when one would not fit its topic."""
    payloads = ([json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode() for d in docs] if docs
                else [to_json_bytes(e) for e in events])
    for payload in payloads:
        if len(payload) > MAX_EVENT_BYTES:
            raise EventTooLarge(len(payload))
    return payloads


def enqueue(conn: psycopg.Connection, events: list[Envelope], docs: list[dict] | None = None) -> None:
    """Queue events for Kafka in the caller's transaction, and wake the relay at commit.

    Raises EventTooLarge (413) before writing anything when an event would not fit its topic.
    `docs`, when the caller already dumped the envelopes, saves dumping them again.
    """
    payloads = encode(events, docs)
    conn.cursor().executemany(
        "insert into outbox (event_id, topic, key, payload) values (%s, %s, %s, %s)",
        [(e.event_id, TOPIC_OF_EVENT[e.type], e.stream_id, p) for e, p in zip(events, payloads)])
    conn.execute("notify outbox")


def relay_once(conn: psycopg.Connection, producer: KafkaProducer, batch: int = 500, topic_prefix: str = "",
               after_send: Callable[[list[int]], None] | None = None) -> int:
    """Publish one batch of unpublished rows; return how many were published or parked.

    A row Kafka refuses for what it is gets parked and the rows after it go on. Any other
    error (the broker unreachable, a timeout) stops at that row: the rows before it are
    marked, it and the rest are sent again by the next round, and the error propagates.
    """
    with conn.transaction():
        rows = conn.execute("""select id, event_id, topic, key, payload, stored_at from outbox
                               where published_at is null order by id limit %s""", (batch,)).fetchall()
    if not rows:
        return 0
    futures = []
    for r in rows:
        try:
            futures.append(producer.send(topic_prefix + r["topic"], key=r["key"], value=bytes(r["payload"])))
        except UNDELIVERABLE as exc:  # kafka-python refuses an oversized record in send() itself
            futures.append(exc)
    producer.flush()
    published, parked, failure = [], [], None
    for row, future in zip(rows, futures):
        try:
            if isinstance(future, Exception):
                raise future
            future.get(timeout=30)
        except UNDELIVERABLE as exc:
            parked.append((row, f"{type(exc).__name__}: {exc}"))
        except KafkaError as exc:
            failure = exc  # not acknowledged: neither this row nor any after it gets marked
            break
        else:
            published.append(row["id"])
    if after_send:
        after_send(published)
    with conn.transaction():
        conn.execute("update outbox set published_at = now() where id = any(%s)", (published,))
        for row, error in parked:
            park(conn, row, error)
    if failure is not None:
        raise failure
    return len(published) + len(parked)


def park(conn: psycopg.Connection, row: dict, error: str) -> None:
    """Move an undeliverable row to outbox_dead_letters, in the caller's transaction, and say so.

    The row leaves the outbox, so the relay goes on and the watermark passes it. Operations
    hear of it twice: an error log line (JSON, `alert: ops`, with a running count of parked
    rows as the metric), and a small DeliveryParked event queued in this same outbox, which
    the notifier turns into a mail to the supervisor address. `outbox_dead_letters` keeps the
    payload for an operator to fix and re-queue.
    """
    conn.execute("""insert into outbox_dead_letters (id, event_id, topic, key, payload, stored_at, error)
                    values (%s, %s, %s, %s, %s, %s, %s) on conflict (id) do nothing""",
                 (row["id"], row["event_id"], row["topic"], row["key"], row["payload"], row["stored_at"], error))
    conn.execute("delete from outbox where id = %s", (row["id"],))
    source = conn.info.dbname
    alert = new_event("DeliveryParked", f"parked-{source}", row["id"], {
        "source": source, "outbox_id": row["id"], "event_id": str(row["event_id"]), "topic": row["topic"],
        "key": row["key"][:200], "size": len(row["payload"]), "error": error[:500]},
        actor=Actor(id=f"{source}-relay", role="system"), occurred_at=datetime.now(timezone.utc))
    enqueue(conn, [alert])
    total = conn.execute("select count(*) as n from outbox_dead_letters").fetchone()["n"]
    log.error("outbox row parked: Kafka refuses it", extra={
        "alert": "ops", "metric": "outbox_dead_letters_total", "value": total, "outbox_id": row["id"],
        "event_id": str(row["event_id"]), "topic": row["topic"], "key": row["key"],
        "bytes": len(row["payload"]), "error": error})


# Everything that occurred before `through` is published: the oldest unpublished row's
# storing time, the start of any transaction still open (it may commit events that occurred
# before now), and now. Other services' databases are not ours to count.
_WATERMARK_SQL = """
select least(now(),
             (select min(stored_at) from outbox where published_at is null),
             (select min(xact_start) from pg_stat_activity
               where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null)
            ) as through
"""


def publish_watermark(conn: psycopg.Connection, producer: KafkaProducer, source: str, topic_prefix: str,
                      sequence: int, clock: Callable[[], datetime] = utc_now) -> datetime:
    """Publish OutboxDrained(source, through) so readers can tell a late event from a missing one.

    `through` is read on PostgreSQL's wall clock and told on `clock`'s time line, the one the
    source stamps its events with (the same unless a test drives the clock, helpdesk_shared.clock).
    """
    with conn.transaction():
        through = as_clock_time(clock, conn.execute(_WATERMARK_SQL).fetchone()["through"])
    event = new_event("OutboxDrained", f"watermark-{source}", sequence, {"source": source,
                                                                        "through": through.isoformat()},
                      actor=Actor(id=f"{source}-relay", role="system"), occurred_at=through)
    producer.send(topic_prefix + TOPIC_OF_EVENT[event.type], key=event.stream_id, value=to_json_bytes(event))
    producer.flush()
    return through


def run_relay(database_url: str, bootstrap: str, topic_prefix: str, lock_id: int, stop: threading.Event,
              watermark_source: str | None = None, watermark_every: float = 0.2,
              backoff: Backoff | None = None, clock: Callable[[], datetime] = utc_now) -> None:
    """Publish until stopped, waking on NOTIFY outbox (or every `watermark_every` seconds).

    Only the holder of advisory lock `lock_id` publishes; a second relay waits as a hot standby.
    With `watermark_source`, an OutboxDrained watermark follows each round (see publish_watermark).
    PostgreSQL or Kafka going away is waited out: back off, reconnect both, go on from the
    outbox (what was sent and not marked goes out again; consumers drop the duplicate).
    """
    backoff = backoff or Backoff()
    while not stop.is_set():
        try:
            _relay_session(database_url, bootstrap, topic_prefix, lock_id, stop, watermark_source,
                           watermark_every, backoff, clock)
        except TRANSIENT_ERRORS as exc:
            if backoff.wait(stop, "relay", exc):
                return


def _relay_session(database_url: str, bootstrap: str, topic_prefix: str, lock_id: int, stop: threading.Event,
                   watermark_source: str | None, watermark_every: float, backoff: Backoff,
                   clock: Callable[[], datetime] = utc_now) -> None:
    """One run of the relay on fresh connections, until stopped or an outage raises."""
    producer = make_producer(bootstrap)
    listener = conn = None
    try:
        listener = pg.connect(database_url, autocommit=True)
        conn = pg.connect(database_url)
        listener.execute("listen outbox")
        while not listener.execute("select pg_try_advisory_lock(%s) as ok", (lock_id,)).fetchone()["ok"]:
            if stop.wait(1.0):
                return
        log.info("relay active")
        # Watermark versions only grow, across restarts too: milliseconds since the epoch.
        sequence, last_watermark = int(time.time() * 1000), 0.0
        while not stop.is_set():
            published = relay_once(conn, producer, topic_prefix=topic_prefix)
            if watermark_source and time.monotonic() - last_watermark >= watermark_every:
                sequence += 1
                publish_watermark(conn, producer, watermark_source, topic_prefix, sequence, clock)
                last_watermark = time.monotonic()
            backoff.reset()
            if published == 0:
                for _ in listener.notifies(timeout=watermark_every if watermark_source else 0.5, stop_after=1):
                    pass
    finally:
        # A dead connection or broker must not keep the next session from starting.
        for closing in (lambda: producer.close(timeout=5), conn and conn.close, listener and listener.close):
            if closing:
                try:
                    closing()
                except Exception:  # noqa: BLE001 - closing what is already broken
                    log.debug("close failed", exc_info=True)
