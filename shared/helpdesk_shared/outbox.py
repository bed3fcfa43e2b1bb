"""The transactional outbox every event-writing service uses, and its relay to Kafka.

A writer calls `enqueue` in the transaction that stores its effect; the relay publishes
rows in id order, keyed by stream id, and marks a row only after the broker acknowledged
it (acks=all). A crash between send and mark republishes those rows on restart: a
duplicate is possible, a loss is not; consumers drop what their stored state already covers.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Callable

import psycopg
from kafka import KafkaProducer

from . import pg
from .envelope import Actor, Envelope, new_event, to_json_bytes
from .kafka import make_producer
from .topics import TOPIC_OF_EVENT

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
"""


def enqueue(conn: psycopg.Connection, events: list[Envelope], docs: list[dict] | None = None) -> None:
    """Queue events for Kafka in the caller's transaction, and wake the relay at commit.

    `docs`, when the caller already dumped the envelopes, saves dumping them again.
    """
    payloads = ([json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode() for d in docs] if docs
                else [to_json_bytes(e) for e in events])
    conn.cursor().executemany(
        "insert into outbox (event_id, topic, key, payload) values (%s, %s, %s, %s)",
        [(e.event_id, TOPIC_OF_EVENT[e.type], e.stream_id, p) for e, p in zip(events, payloads)])
    conn.execute("notify outbox")


def relay_once(conn: psycopg.Connection, producer: KafkaProducer, batch: int = 500, topic_prefix: str = "",
               after_send: Callable[[list[int]], None] | None = None) -> int:
    """Publish one batch of unpublished rows; return how many were published."""
    with conn.transaction():
        rows = conn.execute("""select id, topic, key, payload from outbox where published_at is null
                               order by id limit %s""", (batch,)).fetchall()
    if not rows:
        return 0
    futures = [producer.send(topic_prefix + r["topic"], key=r["key"], value=bytes(r["payload"])) for r in rows]
    producer.flush()
    for future in futures:
        future.get(timeout=30)  # raises if the broker did not acknowledge: nothing gets marked
    ids = [r["id"] for r in rows]
    if after_send:
        after_send(ids)
    with conn.transaction():
        conn.execute("update outbox set published_at = now() where id = any(%s)", (ids,))
    return len(rows)


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
                      sequence: int) -> datetime:
    """Publish OutboxDrained(source, through) so readers can tell a late event from a missing one."""
    with conn.transaction():
        through = conn.execute(_WATERMARK_SQL).fetchone()["through"]
    event = new_event("OutboxDrained", f"watermark-{source}", sequence, {"source": source,
                                                                        "through": through.isoformat()},
                      actor=Actor(id=f"{source}-relay", role="system"), occurred_at=through)
    producer.send(topic_prefix + TOPIC_OF_EVENT[event.type], key=event.stream_id, value=to_json_bytes(event))
    producer.flush()
    return through


def run_relay(database_url: str, bootstrap: str, topic_prefix: str, lock_id: int, stop: threading.Event,
              watermark_source: str | None = None, watermark_every: float = 0.2) -> None:
    """Publish until stopped, waking on NOTIFY outbox (or every `watermark_every` seconds).

    Only the holder of advisory lock `lock_id` publishes; a second relay waits as a hot standby.
    With `watermark_source`, an OutboxDrained watermark follows each round (see publish_watermark).
    """
    producer = make_producer(bootstrap)
    listener = pg.connect(database_url, autocommit=True)
    conn = pg.connect(database_url)
    try:
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
                publish_watermark(conn, producer, watermark_source, topic_prefix, sequence)
                last_watermark = time.monotonic()
            if published == 0:
                for _ in listener.notifies(timeout=watermark_every if watermark_source else 0.5, stop_after=1):
                    pass
    finally:
        producer.close()
        conn.close()
        listener.close()
