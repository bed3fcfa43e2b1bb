"""Kafka adapters: an idempotent producer and the one consumer loop every service uses.

The loop follows "Storing offsets outside Kafka" (aiokafka docs, consumer.rst): each batch
is applied and its next offsets saved in the service's own database in one transaction;
on partition assignment the consumer seeks to the stored offsets. A crash between two
batches therefore neither loses nor doubles an effect.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.serializer import Serializer

from . import pg
from .envelope import Envelope, UndecodableEvent, from_json_bytes
from .outage import TRANSIENT_ERRORS, Backoff, is_database_error
from .topics import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)


class StringSerializer(Serializer):
    """Keys are stream ids: UTF-8 text."""

    def serialize(self, topic, headers, data):
        return data.encode()


# Reconnect within seconds of a broker's return: kafka-python backs off exponentially up to
# reconnect_backoff_max_ms (default 30 s, and a few tries made an 80 s outage cost 66 s more).
RECONNECT = dict(reconnect_backoff_ms=100, reconnect_backoff_max_ms=2000, retry_backoff_ms=200)


def make_producer(bootstrap: str, **overrides) -> KafkaProducer:
    """An idempotent producer that waits for all in-sync replicas (acks=all)."""
    config = dict(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                  max_in_flight_requests_per_connection=5, linger_ms=2,
                  max_request_size=MAX_MESSAGE_BYTES,
                  key_serializer=StringSerializer(), client_id="mesa", **RECONNECT)
    config.update(overrides)
    return KafkaProducer(**config)


@dataclass(frozen=True)
class Record:
    """One decoded event with its place in Kafka."""

    topic: str
    partition: int
    offset: int
    event: Envelope


HandleBatch = Callable[[psycopg.Connection, list[Record]], None]


class ConsumerLoop:
    """Poll, decode, apply a batch and save its offsets in one transaction; repeat.

    Partitions are assigned by the loop itself, not by a consumer group: every partition of
    its topics, sought to the offsets stored in its own database. Nothing is kept in Kafka,
    so a group would only add rebalances, heartbeats and session timeouts (a restarted
    member waited out its old session; a member that missed heartbeats stopped reading).
    One instance per consumer name reads; another one waits on an advisory lock as a hot
    standby and takes over when the first one's database session ends.
    """

    def __init__(self, *, bootstrap: str, database_url: str, consumer_name: str, topics: list[str],
                 handle_batch: HandleBatch, max_records: int = 500, poll_ms: int = 100,
                 group_id: str | None = None, standby_poll_s: float = 1.0, backoff: Backoff | None = None):
        self.name = consumer_name
        self.topics = topics
        self.handle_batch = handle_batch
        self.max_records = max_records
        self.poll_ms = poll_ms
        self.database_url = database_url
        self.standby_poll_s = standby_poll_s
        self.backoff = backoff or Backoff()
        self.lock_key = f"consumer:{group_id or consumer_name}"
        self.conn = pg.connect(database_url)
        wait_for_topics(bootstrap, topics)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      # A fetch left waiting at the broker (default 500 ms) delays the
                                      # next request on the connection, e.g. read_past's end_offsets.
                                      fetch_max_wait_ms=poll_ms,
                                      # A partition added to a topic is noticed within seconds.
                                      metadata_max_age_ms=10_000,
                                      auto_offset_reset="earliest", client_id=consumer_name, **RECONNECT)
        self._take_lock()
        self.applied_records = 0
        self.generation = 0  # of the stored offsets last sought to (pg.load_generation)
        self._last_generation_check = 0.0
        # The latest occurred_at read per partition since assignment: how far each
        # partition's event time has been seen (see `read_past`).
        self.read_until: dict[TopicPartition, datetime] = {}
        self._last_assignment_check = 0.0
        self.assign_all(wait_seconds=30)

    def _take_lock(self, stop: threading.Event | None = None) -> bool:
        """Hold this consumer's advisory lock on `self.conn`, waiting as a standby; False if stopped."""
        while not self.conn.execute("select pg_try_advisory_lock(hashtext(%s)) as ok", (self.lock_key,)
                                    ).fetchone()["ok"]:
            self.conn.rollback()
            if stop.wait(self.standby_poll_s) if stop else time.sleep(self.standby_poll_s):
                return False  # another instance reads; we waited to take over until told to stop
        self.conn.commit()  # the session-level lock outlives this transaction
        return True

    def recover(self, exc: BaseException, stop: threading.Event | None = None) -> None:
        """After an outage: a new database session when it was the database, then back to the stored offsets.

        The batch in flight rolled back while the consumer's position had moved past it, so
        every partition is sought to the offsets stored with the last committed batch.
        """
        if is_database_error(exc) or self.conn.broken or self.conn.closed:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
            self.conn = pg.connect(self.database_url)
            if not self._take_lock(stop):
                return
        self.seek_to_stored(sorted(self.consumer.assignment()))

    def assign_all(self, wait_seconds: float = 0.0) -> None:
        """Take every partition of the topics; seek the ones new to this loop to their stored offsets."""
        deadline = time.monotonic() + wait_seconds
        while True:
            parts = {TopicPartition(t, p) for t in self.topics for p in (self.consumer.partitions_for_topic(t) or ())}
            if all(any(tp.topic == t for tp in parts) for t in self.topics):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no partition metadata for {self.topics}")
            time.sleep(0.2)
        new = parts - set(self.consumer.assignment())
        if new:
            self.consumer.assign(sorted(parts))
            self.seek_to_stored(sorted(new))
        self._last_assignment_check = time.monotonic()

    def seek_to_stored(self, partitions) -> None:
        """Seek to the stored next offsets, or to the beginning of a partition never read."""
        with self.conn.transaction():
            stored = pg.load_offsets(self.conn, self.name)
            self.generation = pg.load_generation(self.conn, self.name)
        for tp in partitions:
            self.read_until.pop(tp, None)
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
        log.info("partitions assigned", extra={"partitions": [f"{tp.topic}/{tp.partition}" for tp in partitions]})

    def poll_once(self) -> int:
        """Apply one polled batch; return how many records it held."""
        if time.monotonic() - self._last_assignment_check > 30:
            self.assign_all()
        polled = self.consumer.poll(timeout_ms=self.poll_ms, max_records=self.max_records)
        if not polled:
            # Idle: a batch would have noticed moved offsets; without one, look once a second.
            if time.monotonic() - self._last_generation_check > 1.0:
                self._last_generation_check = time.monotonic()
                with self.conn.transaction():
                    moved = pg.load_generation(self.conn, self.name) != self.generation
                if moved:
                    self._follow_moved_offsets()
            return 0
        records, offsets, parked = [], {}, []
        for tp, messages in polled.items():
            for m in messages:
                offsets[(tp.topic, tp.partition)] = m.offset + 1
                try:
                    record = Record(tp.topic, tp.partition, m.offset, from_json_bytes(m.value))
                    records.append(record)
                    seen = self.read_until.get(tp)
                    if seen is None or record.event.occurred_at > seen:
                        self.read_until[tp] = record.event.occurred_at
                except UndecodableEvent as exc:
                    # The only thing we skip: a message no code of ours can read. Parked whole in
                    # consumer_dead_letters with the batch, and logged with its place as an alert.
                    parked.append((tp.topic, tp.partition, m.offset, m.key, m.value, str(exc)[:2000]))
                    log.error("undecodable message parked", extra={
                        "alert": "ops", "metric": "consumer_dead_letters_total", "consumer": self.name,
                        "topic": tp.topic, "partition": tp.partition, "offset": m.offset, "error": str(exc)})
        with self.conn.transaction():
            # First statement of the batch: waits while someone moves our stored offsets.
            moved = pg.load_generation(self.conn, self.name, share=True) != self.generation
            if not moved:
                self.handle_batch(self.conn, records)
                pg.count_applied(self.conn, self.name, [r.event.type for r in records])
                if parked:
                    pg.park_messages(self.conn, self.name, parked)
                pg.save_offsets(self.conn, self.name, offsets)
        if moved:  # this batch is dropped: the stored offsets say where to read from now
            self._follow_moved_offsets()
            return 0
        self.applied_records += len(records)
        log_applied(self.name, records)
        return len(records)

    def _follow_moved_offsets(self) -> None:
        """`mesa rebuild` or `mesa replay` stored other offsets (pg.bump_generation): read from them."""
        log.warning("stored offsets moved by another process: seeking to them", extra={"consumer": self.name})
        self.seek_to_stored(sorted(self.consumer.assignment()))

    def read_past(self, now: datetime, idle_grace: timedelta) -> datetime | None:
        """The instant up to which every assigned partition has been read (None before assignment).

        Per partition: the latest occurred_at read from it, or, when the partition is caught
        up (position = end offset), `now`; minus `idle_grace` in both cases — the grace covers
        events stored just before that instant that the relay has not published yet, and
        occurred_at values that reach a partition slightly out of order (they are taken
        before their transactions commit, and commits may finish in another order). A service that fires
        deadlines only up to this instant never fires one that an event still unread
        would have met.
        """
        assigned = self.consumer.assignment()
        if not assigned:
            return None
        ends = self.consumer.end_offsets(list(assigned))
        times = []
        for tp in assigned:
            read = self.read_until.get(tp)
            if self.consumer.position(tp) >= ends[tp]:
                times.append(max(read, now) if read else now)
            elif read is None:
                return None  # behind, and nothing read yet: no claim about time at all
            else:
                times.append(read)
        return min(times) - idle_grace

    def run(self, stop: threading.Event | None = None, after_poll: Callable[["ConsumerLoop"], None] | None = None,
            ) -> None:
        """Loop until `stop` is set, calling `after_poll` after each poll (empty or not).

        PostgreSQL or Kafka going away is waited out (bounded back-off, then `recover`); any
        other error propagates, and the supervisor restarts the process.
        """
        stop = stop or threading.Event()
        failure: BaseException | None = None
        try:
            while not stop.is_set():
                try:
                    if failure is not None:
                        self.recover(failure, stop)
                        failure = None
                    self.poll_once()
                    if after_poll:
                        after_poll(self)
                    self.backoff.reset()
                except TRANSIENT_ERRORS as exc:
                    failure = exc
                    if self.backoff.wait(stop, self.name, exc):
                        break
        finally:
            self.close()

    def close(self) -> None:
        """Close the consumer and the database connection (which releases the standby lock)."""
        self.consumer.close()
        try:
            self.conn.close()
        except psycopg.Error:
            pass  # already gone with the server


# Up to this many events a batch logs one line per event; a bigger one (a catch-up, a replay)
# logs one summary line, so replaying a million events does not write a million lines.
LOG_EACH_UP_TO = 50


def log_applied(consumer: str, records: list[Record]) -> None:
    """Log a committed batch: each event with its correlation id (ops follow a request from the
    API through every consumer with it), or a summary with the count per type."""
    if not records:
        return
    each = logging.INFO if len(records) <= LOG_EACH_UP_TO else logging.DEBUG
    if log.isEnabledFor(each):
        for r in records:
            log.log(each, "event applied", extra={
                "consumer": consumer, "type": r.event.type, "event_id": str(r.event.event_id),
                "correlation_id": str(r.event.correlation_id), "causation_id": r.event.causation_id and
                str(r.event.causation_id), "stream_id": r.event.stream_id, "topic": r.topic,
                "partition": r.partition, "offset": r.offset})
    if each == logging.DEBUG:
        types: dict[str, int] = {}
        for r in records:
            types[r.event.type] = types.get(r.event.type, 0) + 1
        log.info("batch applied", extra={"consumer": consumer, "events": len(records), "types": types})


def wait_for_topics(bootstrap: str, topics: list[str], seconds: float = 30.0) -> None:
    """Block until the broker lists all `topics` (fresh stacks create them asynchronously)."""
    from kafka.admin import KafkaAdminClient

    deadline = time.monotonic() + seconds
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="mesa-wait-topics")
    try:
        while missing := set(topics) - set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"topics missing on {bootstrap}: {sorted(missing)}")
            time.sleep(0.2)
    finally:
        admin.close()


__all__ = ["make_producer", "ConsumerLoop", "Record", "TopicPartition", "wait_for_topics"]
