"""The outbox relay (entry point `python -m intake.relay`): publishes stored events to Kafka.

Rows go out in id order, keyed by stream id, and are marked published only after the
broker acknowledged them (acks=all). A crash between send and mark republishes those rows
on restart: a duplicate is possible, a loss is not; consumers drop what their stored
stream version already covers.
"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

import psycopg
from kafka import KafkaProducer

from helpdesk_shared import logs, pg
from helpdesk_shared.kafka import make_producer

from .config import Config

log = logging.getLogger(__name__)

# Only one relay publishes at a time; a second one waits as a hot standby.
RELAY_LOCK = 4_242_001


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


def run(config: Config, stop: threading.Event) -> None:
    """Publish until stopped, waking on NOTIFY outbox (or every half second)."""
    producer = make_producer(config.kafka_bootstrap_servers)
    listener = pg.connect(config.database_url, autocommit=True)
    conn = pg.connect(config.database_url)
    try:
        listener.execute("listen outbox")
        while not listener.execute("select pg_try_advisory_lock(%s) as ok", (RELAY_LOCK,)).fetchone()["ok"]:
            if stop.wait(1.0):
                return
        log.info("relay active")
        while not stop.is_set():
            if relay_once(conn, producer, topic_prefix=config.kafka_topic_prefix) == 0:
                for _ in listener.notifies(timeout=0.5, stop_after=1):
                    pass
    finally:
        producer.close()
        conn.close()
        listener.close()


def main() -> None:
    """Entry point: run the relay until SIGTERM/SIGINT."""
    logs.setup("intake-relay")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run(Config.from_env(), stop)


if __name__ == "__main__":
    main()
