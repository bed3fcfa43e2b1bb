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
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import IllegalStateError, KafkaError
from kafka.serializer import Serializer

from . import kafka_net_watch, pg
from .envelope import Envelope, UndecodableEvent, from_json_bytes
from .fetch_watch import FETCH_STALL_S, FetchWatch, lagging
from .outage import TRANSIENT_ERRORS, Backoff, Stopped, is_database_error, watch_for_stall
from .topics import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)
kafka_net_watch.install()  # no call into kafka-python's network thread waits forever (see that module)


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


# How a consumer's instances share its topics (each service's Config.consumer_mode, env CONSUMER_MODE):
# "group" (default): every instance joins the Kafka consumer group named after the consumer and
#   reads the partitions the group gives it, so N instances share the load (partitions are the
#   unit of scale; `kafka-consumer-groups.sh --describe` shows who holds what);
# "single": one instance takes every partition itself, another waits as a hot standby (before issue 11).
CONSUMER_MODES = ("group", "single")

# How long one round of the loop may take before its threads' stacks are dumped to the log (see run).
STALL_DUMP_S = 90.0

# A killed instance's partitions move once the broker misses its heartbeats for SESSION_TIMEOUT_MS
# (plus one rebalance): well within the 30 s the issue allows. A live instance heartbeats from
# kafka-python's IO thread every HEARTBEAT_MS; one that does not poll for MAX_POLL_INTERVAL_MS
# (a stuck batch) leaves the group, and the others take its partitions.
GROUP_TIMING = dict(session_timeout_ms=10_000, heartbeat_interval_ms=2_000, max_poll_interval_ms=30_000)

# How long a poll waits for records when there are none (also the broker's fetch wait). Records end
# the wait the moment they reach the broker (fetch_min_bytes=1), so a longer wait does not slow the
# reaction to an event; what costs CPU in an idle loop is the number of fetch rounds (kafka-python
# builds and parses a request for every partition each round). Measured on an idle loop holding 13
# partitions of two topics (issue 11): 0.37 s of CPU per 20 s at 100 ms, 0.11 s at 500 ms, 0.07 s at 1 s.
IDLE_POLL_MS = 500
# The pause after a poll that came back empty at once (see poll_once): short, since records that
# arrive meanwhile wait for it.
EMPTY_POLL_PAUSE_S = 0.1
# How long the loop waits, after a batch that did not fill max_records, before its next poll: the
# next batch then holds what was published meanwhile. Every batch pays a Kafka fetch, the loop's
# offset statements and a commit whatever it holds; with the pipeline saturated a loop that polled
# again at once got one or two events a batch, and those fixed costs were most of a ticket's CPU.
# bench/run, four runs alternated (bench/README.md, "Stop 16"): 24-28 -> 52-54 accepted tickets/s,
# 68-78 -> 34-35 ms of CPU a ticket. An idle consumer's first record is not delayed (the
# fetch returns it at once); under load a record waits at most this long more per consumer hop.
GATHER_S = 0.1
# The same wait for the loops no one watches in real time: the SLA clocks, the notifier's mails,
# intake's auto-close decisions, and the SLA's and notifier's relays. POST -> visible in the query API
# crosses intake's relay and the query consumer only, which keep GATHER_S and RELAY_GATHER_S; a
# deadline computed or a mail recorded half a second later is still at once for whoever gets it,
# and a batch five times larger pays the fixed per-batch costs a fifth as often.
BACKGROUND_GATHER_S = 0.5
# How long a lag check (see _watch_fetches) waits for end offsets and positions: ten fetch waits (a
# ListOffsets request may queue behind a fetch waiting at the broker, see fetch_max_wait_ms).
LAG_CHECK_TIMEOUT_MS = 5_000


def gather_after(done: int, full: int, gather_s: float) -> float:
    """How long a loop waits before its next round after one that handled `done` records of at most
    `full`: `gather_s` after a round that came and did not fill, nothing after an empty one (its wait
    is the fetch's or the NOTIFY's) or a full one (more is waiting)."""
    return gather_s if 0 < done < full else 0.0


class FetchStalled(KafkaError):
    """The client fetched nothing for the loop's fetch_stall_s while partitions it reads had records
    waiting (helpdesk_shared.fetch_watch): a KafkaError, so the loop treats it as an outage, and
    `recover` makes a new client as for kafka_net_watch.NetworkThreadStalled."""


class _Rebalances(ConsumerRebalanceListener):
    """Notes what the group assigned and revoked; the loop acts on it between batches.

    kafka-python calls a listener on its IO thread, maybe while the loop's thread is in the middle
    of a batch on the loop's one database connection: so the listener only records the change, and
    the loop, before its next batch, releases the revoked partitions' locks and seeks the assigned
    ones to the offsets stored in its database (`ConsumerLoop._reconcile`).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.assigned: set[TopicPartition] = set()  # to seek to the stored offsets
        self.changed = False

    def on_partitions_revoked(self, revoked):
        with self.lock:
            self.changed = True

    def on_partitions_assigned(self, assigned):
        with self.lock:
            self.assigned |= set(assigned)
            self.changed = True

    def take(self) -> tuple[bool, set[TopicPartition]]:
        with self.lock:
            changed, assigned = self.changed, self.assigned
            self.changed, self.assigned = False, set()
            return changed, assigned


class ConsumerLoop:
    """Poll, decode, apply a batch and save its offsets in one transaction; repeat.

    Group mode (the default, see CONSUMER_MODES): the instances of a consumer form a Kafka
    consumer group (group_id = the consumer's name, prefixed like its topics); nothing is
    committed to Kafka, the offsets stay in the service's database with each batch. A
    partition is read by an instance only while it holds that partition's PostgreSQL advisory
    lock (session level, on the loop's connection): the group says who should read it, the lock
    makes sure nobody else still does. An instance the group no longer trusts (it stalled past
    its session, its heartbeats were lost) keeps its locks until its loop notices the revocation,
    so the new owner waits for that instance's batch in flight to commit or roll back, then seeks
    to the offsets stored with it; an instance killed with -9 loses its locks with its database
    session. Each batch also checks, in its transaction, that the stored offsets of its
    partitions are still the ones it read from (compare-and-set): nothing is applied twice
    even if two instances ever read one partition.

    Single mode: the loop assigns every partition itself; one instance per consumer reads, another
    waits on an advisory lock as a hot standby and takes over when the first one's session ends.

    Both modes: a client that fetches nothing for `fetch_stall_s` while partitions this instance
    reads have records waiting is replaced by a new one (`_watch_fetches`); `monotonic` is the
    clock that watch uses (a test drives it).
    """

    def __init__(self, *, bootstrap: str, database_url: str, consumer_name: str, topics: list[str],
                 handle_batch: HandleBatch, max_records: int = 500, poll_ms: int = IDLE_POLL_MS,
                 group_id: str | None = None, standby_poll_s: float = 1.0, backoff: Backoff | None = None,
                 mode: str = "group", stop: threading.Event | None = None, startup_wait_s: float = 30.0,
                 fetch_stall_s: float = FETCH_STALL_S, monotonic: Callable[[], float] = time.monotonic,
                 gather_s: float = GATHER_S):
        self.name = consumer_name
        self.gather_s = gather_s
        self.topics = topics
        self.handle_batch = handle_batch
        self.max_records = max_records
        self.poll_ms = poll_ms
        self.database_url = database_url
        self.standby_poll_s = standby_poll_s
        self.backoff = backoff or Backoff()
        if mode not in CONSUMER_MODES:
            raise ValueError(f"CONSUMER_MODE must be one of {', '.join(CONSUMER_MODES)}, not {mode!r}")
        self.mode = mode
        self.group_id = group_id or consumer_name
        self.lock_key = f"consumer:{self.group_id}"
        self.bootstrap = bootstrap
        self.startup_wait_s = startup_wait_s
        self.applied_records = 0
        self.generation = 0  # of the stored offsets last sought to (pg.load_generation)
        # How many times partitions were sought to their stored offsets (assigned, taken back, moved by
        # `mesa rebuild`): what a service caching state of the partitions it holds keys that cache on.
        self.seeks = 0
        self._last_generation_check = float("-inf")  # the first poll checks (monotonic counts from boot)
        # The latest occurred_at read per partition since assignment: how far each
        # partition's event time has been seen (see `read_past`).
        self.read_until: dict[TopicPartition, datetime] = {}
        # Per partition read: the next offset to apply, as stored in the database (None: a partition
        # never read, started at its beginning). A record at another offset is not applied.
        self.expected: dict[TopicPartition, int | None] = {}
        # Group mode: the partitions whose advisory lock this instance holds (the ones it reads).
        self.held: set[TopicPartition] = set()
        # The partitions last logged as waiting for their lock: a wait is logged when it changes, not
        # at every poll (a member waiting on an owner that does not let go polls ten times a second).
        self._waiting_logged: set[TopicPartition] = set()
        self._last_assignment_check = float("-inf")
        self.monotonic = monotonic
        self.fetch_watch = FetchWatch(monotonic(), fetch_stall_s)
        self.conn: psycopg.Connection | None = None
        self.consumer: KafkaConsumer | None = None
        self._start(stop, startup_wait_s)

    def _start(self, stop: threading.Event | None, wait_s: float) -> None:
        """Connect to the database, wait for the topics, join the group (or take every partition).

        With `stop` (a process's entry point), an outage of PostgreSQL or Kafka, or topics not yet
        created, is waited out with back-off until it ends or `stop` is set (then `Stopped`): a
        process started before what it depends on never exits for it. Without `stop` (a test
        building a loop directly), the first failure is raised.
        """
        while True:
            try:
                self.conn = pg.connect(self.database_url)
                wait_for_topics(self.bootstrap, self.topics, wait_s)
                group = dict(group_id=self.group_id, **GROUP_TIMING) if self.mode == "group" else dict(group_id=None)
                self.consumer = KafkaConsumer(
                    bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                    # A fetch left waiting at the broker delays the next request on the
                    # connection, e.g. read_past's end_offsets: no longer than a poll waits.
                    fetch_max_wait_ms=self.poll_ms,
                    # A partition added to a topic is noticed within seconds.
                    metadata_max_age_ms=10_000,
                    auto_offset_reset="earliest", client_id=self.name, **group, **RECONNECT)
                if self.mode == "group":
                    self.rebalances = _Rebalances()
                    self._know_partitions(wait_seconds=wait_s)
                    self.consumer.subscribe(topics=list(self.topics), listener=self.rebalances)
                else:
                    if not self._take_lock(stop):
                        raise Stopped(self.name)
                    self.assign_all(wait_seconds=wait_s)
                self.backoff.reset()
                self.fetch_watch.progress(self.monotonic())  # a new client: its fetches start now
                return
            except (*TRANSIENT_ERRORS, TopicsNotReady) as exc:
                self.close()
                if stop is None:
                    raise
                if self.backoff.wait(stop, f"{self.name} starting", exc):
                    raise Stopped(self.name) from None

    def _know_partitions(self, wait_seconds: float) -> set[TopicPartition]:
        """Every partition of the topics, fetched until each topic has some (or `wait_seconds` pass).

        Group mode calls it before joining: the leader assigns from its own metadata, and a member
        that joined before its metadata held a topic (just created, no leader yet) was seen to get
        no partition of it, the assignor logging "No partition metadata for topic", and stay idle.
        """
        deadline = time.monotonic() + wait_seconds
        while True:
            parts = {TopicPartition(t, p) for t in self.topics for p in (self.consumer.partitions_for_topic(t) or ())}
            if all(any(tp.topic == t for tp in parts) for t in self.topics):
                return parts
            if time.monotonic() > deadline:
                raise TopicsNotReady(f"no partition metadata for {self.topics}")
            time.sleep(0.2)

    def holds(self) -> set[TopicPartition]:
        """The partitions this instance reads now (group mode: assigned and locked; single: all)."""
        return set(self.held) if self.mode == "group" else set(self.consumer.assignment())

    def _partition_lock(self, tp: TopicPartition) -> tuple[str, int]:
        return (f"consumer:{self.group_id}:{tp.topic}", tp.partition)

    def _reconcile(self, force: bool = False) -> None:
        """Group mode: act on the last rebalance; release what was revoked, lock and seek what is new.

        A partition assigned but locked by another instance (the old owner's batch in flight) is
        paused and tried again at the next poll.
        """
        changed, reassigned = self.rebalances.take()
        assigned = set(self.consumer.assignment())
        if not (changed or force or assigned - self.held):
            return
        released = self.held - assigned
        for tp in sorted(released):
            self.conn.execute("select pg_advisory_unlock(hashtext(%s), %s)", self._partition_lock(tp))
            self.expected.pop(tp, None)
            self.read_until.pop(tp, None)
        taken = []
        for tp in sorted(assigned - self.held):
            if self.conn.execute("select pg_try_advisory_lock(hashtext(%s), %s) as ok",
                                 self._partition_lock(tp)).fetchone()["ok"]:
                taken.append(tp)
        self.conn.commit()  # session-level locks outlive the transaction these statements opened
        self.held = (self.held - released) | set(taken)
        waiting = assigned - self.held
        for tp in sorted(waiting):
            _unless_moved(self.consumer.pause, tp)
        # kafka-python resets a partition's position when it is (re)assigned: seek every newly
        # assigned partition we hold, and every one just locked, to the stored offsets.
        to_seek = sorted(set(taken) | (reassigned & self.held) | (self.held if force else set()))
        if to_seek:
            for tp in to_seek:
                _unless_moved(self.consumer.resume, tp)
            self.seek_to_stored(to_seek)
        if released or taken or waiting != self._waiting_logged:
            self._waiting_logged = waiting
            log.info("partitions held", extra={"consumer": self.name, "held": len(self.held),
                                               "released": [f"{tp.topic}/{tp.partition}" for tp in sorted(released)],
                                               "waiting": [f"{tp.topic}/{tp.partition}" for tp in sorted(waiting)]})

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
        every partition is sought to the offsets stored with the last committed batch. A new
        session holds no lock: in group mode the partitions are locked again (`_reconcile`).
        """
        if isinstance(exc, (kafka_net_watch.NetworkThreadStalled, FetchStalled)):
            # The client's network thread is wedged, or its fetches never come back: a new client
            # (and session), as at start.
            log.error("kafka client stalled: starting a new one", extra={"consumer": self.name, "alert": "ops"})
            self.close()
            self.held, self.expected, self.read_until = set(), {}, {}
            self._start(stop, self.startup_wait_s)
            return
        if is_database_error(exc) or self.conn.broken or self.conn.closed:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
            self.conn = pg.connect(self.database_url)
            self.held = set()
            if self.mode == "single" and not self._take_lock(stop):
                return
        if self.mode == "group":
            self._reconcile(force=True)
        else:
            self.seek_to_stored(sorted(self.consumer.assignment()))

    def assign_all(self, wait_seconds: float = 0.0) -> None:
        """Single mode: take every partition of the topics; seek the ones new to this loop to their stored offsets."""
        parts = self._know_partitions(wait_seconds)
        new = parts - set(self.consumer.assignment())
        if new:
            self.consumer.assign(sorted(parts))
            self.seek_to_stored(sorted(new))
        self._last_assignment_check = time.monotonic()

    def seek_to_stored(self, partitions) -> None:
        """Seek to the stored next offsets, or to the beginning of a partition never read."""
        self.seeks += 1
        self.fetch_watch.progress(self.monotonic())  # a fetch from the new positions starts now
        with self.conn.transaction():
            stored = pg.load_offsets(self.conn, self.name)
            self.generation = pg.load_generation(self.conn, self.name)
        for tp in partitions:
            self.read_until.pop(tp, None)
            offset = stored.get((tp.topic, tp.partition))
            self.expected[tp] = offset
            if offset is None:
                _unless_moved(self.consumer.seek_to_beginning, tp)
            else:
                _unless_moved(self.consumer.seek, tp, offset)
        log.info("partitions assigned", extra={"partitions": [f"{tp.topic}/{tp.partition}" for tp in partitions]})

    def poll_once(self) -> int:
        """Apply one polled batch; return how many records it held."""
        if self.mode == "group":
            self._reconcile()
        elif time.monotonic() - self._last_assignment_check > 30:
            self.assign_all()
        began = time.monotonic()
        polled = self.consumer.poll(timeout_ms=self.poll_ms, max_records=self.max_records)
        if not polled:
            # kafka-python's poll returns at once, empty, when its heartbeat looks due (seen with a
            # member that held no partition): without this wait the loop spun at a full core.
            time.sleep(max(0.0, min(self.poll_ms / 1000, EMPTY_POLL_PAUSE_S) - (time.monotonic() - began)))
        if self.mode == "group":
            self._reconcile()  # the poll may have rebalanced: never apply what another instance may read
            held = self.held
            polled = {tp: messages for tp, messages in polled.items() if tp in held}
        if any(polled.values()):
            # Records for partitions this instance reads came back: the client fetches. This holds
            # even for records _in_sequence is about to drop and seek back (a position reset under
            # the loop): what the watch looks for is a client whose fetches never come back, and a
            # response with records is one that came; applying them is the batch's business.
            # Records of partitions not held (dropped above) prove nothing for the ones that are.
            self.fetch_watch.progress(self.monotonic())
        polled = self._in_sequence(polled)
        if not polled:
            # Idle: a batch would have noticed moved offsets; without one, look once a second.
            if time.monotonic() - self._last_generation_check > 1.0:
                self._last_generation_check = time.monotonic()
                with self.conn.transaction():
                    moved = pg.load_generation(self.conn, self.name) != self.generation
                if moved:
                    self._follow_moved_offsets()
            self._watch_fetches()
            return 0
        records, offsets, parked, read_until = [], {}, [], {}
        for tp, messages in polled.items():
            for m in messages:
                offsets[(tp.topic, tp.partition)] = m.offset + 1
                try:
                    record = Record(tp.topic, tp.partition, m.offset, from_json_bytes(m.value))
                    records.append(record)
                    seen = read_until.get(tp, self.read_until.get(tp))
                    if seen is None or record.event.occurred_at > seen:
                        read_until[tp] = record.event.occurred_at
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
            # Compare-and-set: the stored offsets (locked until commit) must still be the ones this
            # batch follows; another instance that applied these partitions meanwhile wins.
            stolen = [] if moved else self._stolen(list(polled))
            if not moved and not stolen:
                self.handle_batch(self.conn, records)
                pg.count_applied(self.conn, self.name, [r.event.type for r in records])
                if parked:
                    pg.park_messages(self.conn, self.name, parked)
                pg.save_offsets(self.conn, self.name, offsets)
        if moved:  # this batch is dropped: the stored offsets say where to read from now
            self._follow_moved_offsets()
            return 0
        if stolen:
            log.warning("stored offsets moved by another instance: batch dropped", extra={
                "consumer": self.name, "partitions": [f"{tp.topic}/{tp.partition}" for tp in stolen]})
            self.seek_to_stored(sorted(polled))
            return 0
        for (topic, partition), offset in offsets.items():
            self.expected[TopicPartition(topic, partition)] = offset
        self.read_until.update(read_until)
        self.applied_records += len(records)
        self.fetch_watch.progress(self.monotonic())  # time spent applying a batch is not time stalled
        log_applied(self.name, records)
        return len(records)

    def _in_sequence(self, polled: dict) -> dict:
        """Keep the partitions whose records start at the expected offset; seek the others back to it.

        kafka-python may reset a position (a partition re-assigned by a rebalance starts at the
        beginning: nothing is committed in Kafka); a record before the expected offset is never
        applied again. One after it is kept: only retention leaves such a gap (the stored offset
        expired, e.g. helpdesk.watermarks after a day down), and going on from the oldest record
        kept is what the loop always did then.
        """
        kept = {}
        for tp, messages in polled.items():
            expected = self.expected.get(tp, "unknown")
            if not messages:
                continue
            if expected == "unknown":
                self.seek_to_stored([tp])
            elif expected is not None and messages[0].offset < expected:
                log.info("position reset under the loop: seeking back", extra={
                    "consumer": self.name, "partition": f"{tp.topic}/{tp.partition}",
                    "offset": messages[0].offset, "expected": expected})
                _unless_moved(self.consumer.seek, tp, expected)
            else:
                kept[tp] = messages
        return kept

    def _watch_fetches(self) -> None:
        """After an idle poll: raise FetchStalled when the client has fetched nothing for fetch_stall_s
        while the partitions this instance reads have records waiting (see helpdesk_shared.fetch_watch).

        Partitions paused (group mode: assigned, waiting for another instance to let go of their lock)
        are not read, so their lag is not ours. A lag check that fails (a timeout of end_offsets on a
        client that fetches nothing) counts as lag: a wedged client may answer nothing at all, and
        "unknown" must not keep it forever; during a broker outage the new client then waits at
        start, with back-off, like a process started before its broker.
        """
        if not self.fetch_watch.check_due(self.monotonic()):
            return
        read = sorted(self.holds() - set(self.consumer.paused()))
        error = None
        try:
            ends = self.consumer.end_offsets(read, timeout_ms=LAG_CHECK_TIMEOUT_MS) if read else {}
            positions = {}
            for tp in read:
                try:
                    positions[tp] = self.consumer.position(tp, timeout_ms=LAG_CHECK_TIMEOUT_MS)
                except IllegalStateError:
                    pass  # a rebalance took it away meanwhile: the next _reconcile releases it
            lags = lagging(positions, ends)
        except kafka_net_watch.NetworkThreadStalled:
            raise
        except KafkaError as exc:
            error, lags = exc, {tp: (None, None) for tp in read}
        if self.fetch_watch.checked(self.monotonic(), bool(lags)):
            log.error("kafka client fetches nothing while records wait: starting a new one", extra={
                "alert": "ops", "consumer": self.name,
                "fetched_nothing_s": round(self.monotonic() - self.fetch_watch.fetched_at, 1),
                "partitions": {f"{tp.topic}/{tp.partition}": {"position": position, "end": end}
                               for tp, (position, end) in sorted(lags.items())},
                "error": error and f"{type(error).__name__}: {error}"})
            raise FetchStalled(f"{self.name}: nothing fetched for {self.fetch_watch.stall_s:.0f} s "
                               f"while {len(lags)} partitions had records waiting")

    def _stolen(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """The partitions whose stored offset is no longer the one this loop follows (rows locked till commit)."""
        stored = pg.lock_offsets(self.conn, self.name, [(tp.topic, tp.partition) for tp in partitions])
        return [tp for tp in partitions if stored.get((tp.topic, tp.partition)) != self.expected.get(tp)]

    def _follow_moved_offsets(self) -> None:
        """`mesa rebuild` or `mesa replay` stored other offsets (pg.bump_generation): read from them."""
        log.warning("stored offsets moved by another process: seeking to them", extra={"consumer": self.name})
        self.seek_to_stored(sorted(self.holds()))

    def read_past(self, now: datetime, idle_grace: timedelta) -> datetime | None:
        """The instant up to which every partition this instance holds has been read (None before any).

        Per partition: the latest occurred_at read from it, or, when the partition is caught
        up (position = end offset), `now`; minus `idle_grace` in both cases — the grace covers
        events stored just before that instant that the relay has not published yet, and
        occurred_at values that reach a partition slightly out of order (they are taken
        before their transactions commit, and commits may finish in another order). A service that fires
        deadlines only up to this instant never fires one that an event still unread
        would have met.
        """
        assigned = self.holds()
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
                # A loop that does not come round again within STALL_DUMP_S (a poll, a batch, a
                # back-off are all far shorter) writes every thread's stack to stderr, the process's
                # log: a stuck consumer is never silent.
                watch_for_stall(STALL_DUMP_S)
                try:
                    if failure is not None:
                        self.recover(failure, stop)
                        failure = None
                    applied = self.poll_once()
                    if after_poll:
                        after_poll(self)
                    self.backoff.reset()
                    pause = gather_after(applied, self.max_records, self.gather_s)
                    if pause:
                        stop.wait(pause)  # let the next batch gather (GATHER_S); a stop ends it at once
                except TRANSIENT_ERRORS as exc:
                    failure = exc
                    if self.backoff.wait(stop, self.name, exc):
                        break
        finally:
            watch_for_stall(None)
            self.close()

    def close(self) -> None:
        """Close the consumer and the database connection (which releases the standby lock)."""
        if self.consumer is not None:
            try:
                self.consumer.close()
            except TRANSIENT_ERRORS:
                log.debug("consumer close failed", exc_info=True)
        try:
            if self.conn is not None:
                self.conn.close()
        except psycopg.Error:
            pass  # already gone with the server


def _unless_moved(action, tp: TopicPartition, *args) -> None:
    """Seek, pause or resume a partition, unless a rebalance on kafka-python's IO thread took it
    away meanwhile (the loop's next `_reconcile` releases it)."""
    try:
        action(tp, *args)
    except (ValueError, KeyError):
        log.info("partition moved during a rebalance", extra={"partition": f"{tp.topic}/{tp.partition}"})


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


class TopicsNotReady(RuntimeError):
    """The broker does not list the topics yet, or has no partitions for them (created a moment ago, or
    not yet by `bin/stack up`/`mesa topics`): a process waits it out like an outage."""


def wait_for_topics(bootstrap: str, topics: list[str], seconds: float = 30.0) -> None:
    """Block until the broker lists all `topics` (fresh stacks create them asynchronously)."""
    from kafka.admin import KafkaAdminClient

    deadline = time.monotonic() + seconds
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="mesa-wait-topics")
    try:
        while missing := set(topics) - set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise TopicsNotReady(f"topics missing on {bootstrap}: {sorted(missing)}")
            time.sleep(0.2)
    finally:
        admin.close()


__all__ = ["make_producer", "ConsumerLoop", "CONSUMER_MODES", "FetchStalled", "Record", "TopicPartition",
           "TopicsNotReady", "wait_for_topics"]
