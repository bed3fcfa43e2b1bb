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

Intake's event store is its own outbox (issue 11, one write per event): `events` carries each
event's Kafka bytes, and the relay follows a position in it instead of marking rows. See
EventLog for why that position is safe although transactions commit out of id order. The SLA
service and the notifier have no event store; they keep the `outbox` table (OutboxTable).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable, Iterator, Sequence

import psycopg
from kafka import KafkaProducer
from kafka.errors import (CorruptRecordError, InvalidRecordError, InvalidTopicError, KafkaError,
                          MessageSizeTooLargeError, RecordListTooLargeError)

from . import pg
from .clock import as_clock_time, utc_now
from .envelope import Actor, Envelope, encode_built, new_event, to_json_bytes
from .errors import Message, RuleViolation
from .kafka import STALL_DUMP_S, gather_after, make_producer
from .outage import TRANSIENT_ERRORS, Backoff, watch_for_stall
from .topics import MAX_EVENT_BYTES, TOPIC_OF_EVENT

log = logging.getLogger(__name__)

# A relay's kafka.GATHER_S: after a round that published fewer rows than its batch, the next round
# waits this long, so that it takes what the commits meanwhile stored in one read, send and flush.
# Half the consumers' wait: POST -> visible crosses intake's relay and query's consumer.
RELAY_GATHER_S = 0.05
RELAY_BATCH = 500

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


def check_sizes(payloads: list[bytes]) -> None:
    """Raise EventTooLarge when a payload would not fit its topic."""
    for payload in payloads:
        if len(payload) > MAX_EVENT_BYTES:
            raise EventTooLarge(len(payload))


def encode(events: list[Envelope], docs: list[dict] | None = None) -> list[bytes]:
    """The Kafka payload of each event; raises EventTooLarge when one would not fit its topic.

    Every event queued here was built by `new_event`, which validated its data: it is written once,
    without the schemas (`encode_built`, the same bytes as `to_json_bytes`)."""
    payloads = ([json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode() for d in docs] if docs
                else [encode_built(e) for e in events])
    check_sizes(payloads)
    return payloads


# The outbox rows of events as one VALUES list, in the events' order (ids follow it). A VALUES list
# costs psycopg less than the same rows as arrays to unnest (~90 µs for one to three events, which is
# what a command queues); at most _QUEUE_CHUNK events a statement keeps it far from PostgreSQL's
# 65,535 parameters.
_QUEUE_CHUNK = 1000


def _queued_rows(events: list[Envelope], payloads: list[bytes]) -> Iterator[list[tuple]]:
    """The outbox rows (event_id, topic, key, payload) of the events, a chunk at a time."""
    for start in range(0, len(events), _QUEUE_CHUNK):
        yield [(e.event_id, TOPIC_OF_EVENT[e.type], e.stream_id, p)
               for e, p in zip(events[start:start + _QUEUE_CHUNK], payloads[start:start + _QUEUE_CHUNK])]


def enqueue(conn: psycopg.Connection, events: list[Envelope], docs: list[dict] | None = None) -> None:
    """Queue events for Kafka in the caller's transaction, and wake the relay at commit: one
    statement (the rows as CTE, `pg_notify` as its query), where an `executemany` and NOTIFY sent a
    statement an event and one more (issue 11).

    Raises EventTooLarge (413) before writing anything when an event would not fit its topic.
    `docs`, when the caller already dumped the envelopes, saves dumping them again.
    """
    payloads = encode(events, docs)
    if not events:
        conn.execute("select pg_notify('outbox', '')")
    for rows in _queued_rows(events, payloads):
        pg.execute(conn, f"""with queued as (insert into outbox (event_id, topic, key, payload) values {pg.values_list(rows)})
                         select pg_notify('outbox', '')""", [v for row in rows for v in row])


def enqueue_with(conn: psycopg.Connection, events: list[Envelope], change: tuple[str, Sequence],
                 only_if_changed: bool = False) -> int:
    """`enqueue` of a few events (at most one chunk), together with the caller's `change` (an UPDATE
    or INSERT without RETURNING, and its positional parameters) that must stand or fall with them,
    as one statement (the change as a CTE); returns how many rows the change wrote. `only_if_changed`
    queues the events only when it wrote one (an INSERT ... ON CONFLICT DO NOTHING that did nothing
    queues nothing).

    The sender marked a mail, queued its event and notified in three statements in pipeline mode,
    whose bookkeeping in psycopg cost more CPU than the round trips it saved (~250 µs a mail, issue 11)."""
    statement, params = change
    if not events:
        return conn.execute(statement, params).rowcount
    if len(events) > _QUEUE_CHUNK:
        raise ValueError(f"enqueue_with takes at most {_QUEUE_CHUNK} events, not {len(events)}")
    [queued] = _queued_rows(events, encode(events))
    rows = ", ".join(f"(%s::uuid, %s::text, %s::text, %s::bytea, {n})" for n in range(len(queued)))
    condition = " where exists (select from change)" if only_if_changed else ""
    row = pg.execute(conn, f"""with change as ({statement} returning 1),
                               queued as (insert into outbox (event_id, topic, key, payload)
                                          select e, t, k, p from (values {rows}) as queued (e, t, k, p, n){condition}
                                          order by n)
                          select (select count(*) from change) as changed, pg_notify('outbox', '')""",
                       [*params, *(v for row in queued for v in row)]).fetchone()
    return row["changed"] if isinstance(row, dict) else row[0]


# One row per event of an event store that is its own outbox (intake's `events`, migration 0002).
# relay_xid orders the relay (EventLog); it is the appending transaction's id, raised to the
# previous event's relay_xid of the same stream when that one is larger (see EventLog, point 3).
EVENT_COLUMNS = """event_id, stream_id, stream_version, type, schema_version, occurred_at, correlation_id,
                    causation_id, payload, relay_xid"""
EVENT_VALUES = """(%s, %s, %s, %s, %s, %s, %s, %s, %s,
        greatest(pg_current_xact_id(), (select p.relay_xid from events p
                                        where p.stream_id = %s and p.stream_version = %s)))"""
EVENT_INSERT = f"insert into events ({EVENT_COLUMNS}) values {EVENT_VALUES}"


def event_row(event: Envelope, payload: bytes) -> tuple:
    """EVENT_INSERT's parameters for one event and its serialised bytes."""
    return (event.event_id, event.stream_id, event.stream_version, event.type, event.schema_version,
            event.occurred_at, event.correlation_id, event.causation_id, payload,
            event.stream_id, event.stream_version - 1)


class OutboxTable:
    """The `outbox` table: rows marked published one by one (the SLA service, the notifier)."""

    def pending(self, conn: psycopg.Connection, batch: int) -> list[dict]:
        """The oldest unpublished rows, in id order."""
        return conn.execute("""select id, event_id, topic, key, payload, stored_at from outbox
                               where published_at is null order by id limit %s""", (batch,)).fetchall()

    def done(self, conn: psycopg.Connection, rows: list[dict], published: list[int], parked: list) -> None:
        """Mark the acknowledged rows and park the refused ones, in the caller's transaction."""
        if published:  # an IN list: an array is dumped element by element in Python (issue 11)
            pg.execute(conn, f"update outbox set published_at = now() where id in ({pg.in_list(published)})", published)
        for row, error in parked:
            conn.execute("delete from outbox where id = %s", (row["id"],))
            park(conn, row, error, self)

    def append_alert(self, conn: psycopg.Connection, alert: Envelope) -> None:
        """Queue an operations alert."""
        enqueue(conn, [alert])

    def waiting(self, conn: psycopg.Connection) -> bool:
        """Rows stored but not ready for the relay: never here (each row is marked by itself)."""
        return False

    watermark_sql = """
        select least(now(),
                     (select min(stored_at) from outbox where published_at is null),
                     (select min(xact_start) from pg_stat_activity
                       where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null)
                    ) as through"""

    def watermark(self, conn: psycopg.Connection) -> datetime:
        """`through` on PostgreSQL's clock (see publish_watermark)."""
        with conn.transaction():
            return conn.execute(self.watermark_sql).fetchone()["through"]

    def backlog(self, conn: psycopg.Connection) -> dict:
        """How many rows wait, and the age in seconds of the oldest (None when none waits)."""
        # Both read the partial index outbox_unpublished; the age is the database's own clock.
        return conn.execute("""select count(*) as n, extract(epoch from now() - min(stored_at)) as age
                               from outbox where published_at is null""").fetchone()


# The events after the relay's cursor. The cursor is read by two scalar subqueries (InitPlans), so
# the row comparison can bound a scan of events_relay_order; as a join with relay_cursor it became a
# join filter, and every round read the store from its first event. A statement in relay order with
# a limit takes that scan by itself; one that reads all that follows does only when told to
# (EventLog._INDEX_WALK; tests/integration/test_relay_reads_after_its_cursor.py).
AFTER_CURSOR = """from events e
    where (e.relay_xid, e.global_position) > ((select relay_xid from relay_cursor where relay = 'kafka'),
                                             (select position from relay_cursor where relay = 'kafka'))"""


class EventLog:
    """An event store that is its own outbox: the relay follows a position in `events`.

    Why a position in `global_position` alone is not safe: it is drawn from a sequence when a row
    is inserted, not when its transaction commits. A transaction that drew 10 may commit after one
    that drew 11; a relay that published 11 and moved past it would never see 10.

    What the relay follows instead (the "outbox by transaction id" technique; PostgreSQL docs,
    9.27.11 "Transaction ID and Snapshot Information Functions"):

    1. Every row carries `relay_xid`, at least the id of the transaction that appended it
       (`pg_current_xact_id()`, a 64-bit xid8 that never wraps), and rows are published in
       (relay_xid, global_position) order, the position kept in `relay_cursor`.
    2. A round publishes only rows whose relay_xid is below a horizon H taken in the same
       statement's snapshot: the oldest transaction of this database still in progress (from
       `pg_snapshot_xip(pg_current_snapshot())`), or the snapshot's xmax when none is. Every
       transaction with an id below H has committed or aborted, so no row below H can appear
       later, and every row that appears later has relay_xid >= its own xid >= H: it sorts after
       the cursor and is not skipped. Transactions in *other* databases of the same server are
       left out of H (their ids are looked up in pg_stat_activity), so a slow transaction next
       door does not hold intake's events back; an id that cannot be placed counts as ours,
       which only delays a round, never skips a row.
    3. Order per stream: a transaction's id is given at its first write, which may come before it
       reads the stream it appends to, so the writer of version n+1 can hold a smaller id than the
       writer of version n. The append therefore stores greatest(its xid, relay_xid of version
       n): a stream's relay_xid never decreases, and version n+1 (a later position, drawn after
       version n committed) sorts after version n. Point 2 still holds (relay_xid >= own xid).

    Rejected: a published flag per row (a second write of every event, what this replaces);
    a lock serialising appends until commit (pyeventsourcing's `_lock_table`: commits of
    concurrent commands could no longer share a flush). The cost: a transaction left open in
    this database (idle in transaction) holds the relay back until it ends.
    """

    pending_sql = f"""
        with snap as materialized (select pg_current_snapshot() as s),
             elsewhere as materialized (select backend_xid from pg_stat_activity
                                        where backend_xid is not null and datname <> current_database()),
             ours as (select x from snap, pg_snapshot_xip(snap.s) as x
                      where xid(x) not in (select backend_xid from elsewhere)),
             horizon as (select coalesce((select min(x) from ours), (select pg_snapshot_xmax(s) from snap)) as h)
        select e.global_position as id, e.relay_xid, e.event_id, e.type, e.stream_id as key, e.payload,
               e.stored_at
        {AFTER_CURSOR} and e.relay_xid < (select h from horizon)
        order by e.relay_xid, e.global_position
        limit %s"""

    def pending(self, conn: psycopg.Connection, batch: int) -> list[dict]:
        """The next rows after the cursor whose transactions all ended, in relay order."""
        rows = conn.execute(self.pending_sql, (batch,)).fetchall()
        for row in rows:
            row["topic"] = TOPIC_OF_EVENT.get(row["type"], "")  # "" is no topic: Kafka refuses it, it is parked
        return rows

    def done(self, conn: psycopg.Connection, rows: list[dict], published: list[int], parked: list) -> None:
        """Move the cursor past the rows acknowledged or parked (a prefix of `rows`)."""
        settled = len(published) + len(parked)
        if settled:
            last = rows[settled - 1]
            conn.execute("update relay_cursor set relay_xid = %s, position = %s where relay = 'kafka'",
                         (last["relay_xid"], last["id"]))
        for row, error in parked:
            park(conn, row, error, self)

    def append_alert(self, conn: psycopg.Connection, alert: Envelope) -> None:
        """Append an operations alert to the event store (its own stream, one version per parked row)."""
        payload = to_json_bytes(alert)
        conn.execute(EVENT_INSERT + " on conflict do nothing", event_row(alert, payload))
        conn.execute("notify outbox")

    # The first event in relay order, not `exists (...)`: PostgreSQL planned the `exists` as a scan
    # from the store's start that stops at its first match, past every published event.
    waiting_sql = f"""select (select e.global_position {AFTER_CURSOR}
                              order by e.relay_xid, e.global_position limit 1) is not null as w"""

    def waiting(self, conn: psycopg.Connection) -> bool:
        """Whether events after the cursor wait (after a round that published none: behind an open transaction)."""
        with conn.transaction():
            return conn.execute(self.waiting_sql).fetchone()["w"]

    watermark_sql = f"""
        select least(now(),
                     (select min(e.stored_at) {AFTER_CURSOR}),
                     (select min(xact_start) from pg_stat_activity
                       where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null)
                    ) as through"""

    backlog_sql = f"select count(*) as n, extract(epoch from now() - min(e.stored_at)) as age {AFTER_CURSOR}"

    # The watermark and the backlog read every event after the cursor, in no order. Known only when
    # the statement runs, the cursor gives PostgreSQL no estimate: it guesses a third of the store
    # follows it, and for a young store, or one without statistics, it planned a sequential scan of
    # all of it, which the relay then kept (a round read 1,154 events to find none waiting, and the
    # cost grows with the store: tests/integration/test_relay_reads_after_its_cursor.py). In their
    # own transaction, with scans other than the index's switched off, every plan walks
    # events_relay_order from the cursor. These two statements run nowhere else, so no plan of
    # theirs is ever made without it.
    _INDEX_WALK = "set local enable_seqscan = off; set local enable_bitmapscan = off"

    def _walk(self, conn: psycopg.Connection, sql: str) -> dict:
        nested = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        with conn.transaction():
            conn.execute(self._INDEX_WALK)
            row = conn.execute(sql).fetchone()
            if nested:  # the caller's transaction goes on: its statements get every scan back
                conn.execute("reset enable_seqscan; reset enable_bitmapscan")
        return row

    def watermark(self, conn: psycopg.Connection) -> datetime:
        """`through` on PostgreSQL's clock (see publish_watermark)."""
        return self._walk(conn, self.watermark_sql)["through"]

    def backlog(self, conn: psycopg.Connection) -> dict:
        """How many events wait, and the age in seconds of the oldest (None when none waits)."""
        return self._walk(conn, self.backlog_sql)


def relay_source(conn: psycopg.Connection) -> OutboxTable | EventLog:
    """The event store when this database's events are its outbox (it has a relay cursor), else `outbox`."""
    if conn.execute("select to_regclass('relay_cursor') is not null as log").fetchone()["log"]:
        return EventLog()
    return OutboxTable()


def relay_once(conn: psycopg.Connection, producer: KafkaProducer, batch: int = RELAY_BATCH, topic_prefix: str = "",
               after_send: Callable[[list[int]], None] | None = None,
               source: OutboxTable | EventLog | None = None) -> int:
    """Publish one batch of unpublished rows; return how many were published or parked.

    A row Kafka refuses for what it is gets parked and the rows after it go on. Any other
    error (the broker unreachable, a timeout) stops at that row: the rows before it are
    marked, it and the rest are sent again by the next round, and the error propagates.
    The payload goes out as stored: the bytes the writer serialised once. `conn` must not be
    inside a transaction of the caller's (an open transaction holds EventLog's horizon back).
    """
    with conn.transaction():  # not a transaction left open: EventLog's horizon would wait for it
        source = source or relay_source(conn)
        rows = source.pending(conn, batch)
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
        source.done(conn, rows, published, parked)
    if failure is not None:
        raise failure
    return len(published) + len(parked)


def park(conn: psycopg.Connection, row: dict, error: str, source: OutboxTable | EventLog | None = None) -> None:
    """Copy an undeliverable row to outbox_dead_letters, in the caller's transaction, and say so.

    The row leaves the outbox (the event store's cursor moves past it), so the relay goes on and
    the watermark passes it. Operations
    hear of it twice: an error log line (JSON, `alert: ops`, with a running count of parked
    rows as the metric), and a small DeliveryParked event queued in this same outbox, which
    the notifier turns into a mail to the supervisor address. `outbox_dead_letters` keeps the
    payload for an operator to fix and re-queue.
    """
    conn.execute("""insert into outbox_dead_letters (id, event_id, topic, key, payload, stored_at, error)
                    values (%s, %s, %s, %s, %s, %s, %s) on conflict (id) do nothing""",
                 (row["id"], row["event_id"], row["topic"], row["key"], row["payload"], row["stored_at"], error))
    source = source or OutboxTable()
    database = conn.info.dbname
    alert = new_event("DeliveryParked", f"parked-{database}", row["id"], {
        "source": database, "outbox_id": row["id"], "event_id": str(row["event_id"]), "topic": row["topic"],
        "key": row["key"][:200], "size": len(row["payload"]), "error": error[:500]},
        actor=Actor(id=f"{database}-relay", role="system"), occurred_at=datetime.now(timezone.utc))
    source.append_alert(conn, alert)
    total = conn.execute("select count(*) as n from outbox_dead_letters").fetchone()["n"]
    log.error("outbox row parked: Kafka refuses it", extra={
        "alert": "ops", "metric": "outbox_dead_letters_total", "value": total, "outbox_id": row["id"],
        "event_id": str(row["event_id"]), "topic": row["topic"], "key": row["key"],
        "bytes": len(row["payload"]), "error": error})


# Everything that occurred before `through` is published: the oldest unpublished row's
# storing time, the start of any transaction still open (it may commit events that occurred
# before now), and now. Other services' databases are not ours to count. (Each source's
# watermark_sql says it for its table.)
# An idle watermark still reads the table (one probe of an index after the cursor) although no
# NOTIFY came since the last read: a commit's NOTIFY reaches the relay some time after the commit,
# so "no NOTIFY yet" does not prove "nothing appended", and a `through` of now() taken without the
# table could pass an event committed a moment ago. Measured idle (bench/idle_cpu.py, issue 11):
# the intake relay spends about 0.17 s of CPU a minute, one watermark a second included.


def publish_watermark(conn: psycopg.Connection, producer: KafkaProducer, source: str, topic_prefix: str,
                      sequence: int, clock: Callable[[], datetime] = utc_now,
                      log: OutboxTable | EventLog | None = None) -> datetime:
    """Publish OutboxDrained(source, through) so readers can tell a late event from a missing one.

    `through` is read on PostgreSQL's wall clock and told on `clock`'s time line, the one the
    source stamps its events with (the same unless a test drives the clock, helpdesk_shared.clock).
    """
    with conn.transaction():
        log = log or relay_source(conn)
    through = as_clock_time(clock, log.watermark(conn))
    event = new_event("OutboxDrained", f"watermark-{source}", sequence, {"source": source,
                                                                        "through": through.isoformat()},
                      actor=Actor(id=f"{source}-relay", role="system"), occurred_at=through)
    producer.send(topic_prefix + TOPIC_OF_EVENT[event.type], key=event.stream_id, value=to_json_bytes(event))
    producer.flush()
    return through


# How often a relay waiting for a NOTIFY looks at `stop`: SIGTERM's handler only sets it, and a
# wait of `idle_poll` (30 s) without a look outlasted LocalStack's 30 s and docker stop's 10 s.
STOP_CHECK_S = 0.5


def notified(listener: psycopg.Connection, timeout: float, stop: threading.Event,
             check_every: float = STOP_CHECK_S) -> bool:
    """Wait up to `timeout` seconds for a NOTIFY on `listener`; True when one came, False at the
    timeout or as soon as (within `check_every`) `stop` is set. A slice costs a poll of the socket,
    no query."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        for _ in listener.notifies(timeout=min(check_every, max(0.0, deadline - time.monotonic())), stop_after=1):
            return True
        if time.monotonic() >= deadline:
            return False
    return False


def run_relay(database_url: str, bootstrap: str, topic_prefix: str, lock_id: int, stop: threading.Event,
              watermark_source: str | None = None, watermark_every: float = 0.2,
              backoff: Backoff | None = None, idle_watermark_every: float = 1.0, idle_poll: float = 30.0,
              clock: Callable[[], datetime] = utc_now, gather_s: float = RELAY_GATHER_S) -> None:
    """Publish until stopped, woken by NOTIFY outbox (sent by every append or enqueue at its commit).

    Idle costs nothing but the watermark: the relay reads its table only when notified, while
    events wait behind a transaction still open (EventLog: they became ready without a NOTIFY of
    their own, so it looks again every `watermark_every`), and every `idle_poll` seconds as a
    safety net. With `watermark_source`, an OutboxDrained watermark follows the rounds that
    published within `watermark_every` (at most one per `watermark_every` while events flow or wait), and every
    `idle_watermark_every` when idle: time passing is itself news to the SLA timers, so it never
    stops, but it need not come five times a second when nothing happens.

    After a round that published and did not fill its batch, the next waits `gather_s`.

    Only the holder of advisory lock `lock_id` publishes; a second relay waits as a hot standby.
    PostgreSQL or Kafka going away is waited out: back off, reconnect both, go on from the
    outbox (what was sent and not marked goes out again; consumers drop the duplicate).
    """
    backoff = backoff or Backoff()
    pace = (watermark_every, idle_watermark_every, idle_poll, gather_s)
    while not stop.is_set():
        try:
            _relay_session(database_url, bootstrap, topic_prefix, lock_id, stop, watermark_source, pace, backoff,
                           clock)
        except TRANSIENT_ERRORS as exc:
            if backoff.wait(stop, "relay", exc):
                return


def _relay_session(database_url: str, bootstrap: str, topic_prefix: str, lock_id: int, stop: threading.Event,
                   watermark_source: str | None, pace: tuple[float, float, float, float], backoff: Backoff,
                   clock: Callable[[], datetime] = utc_now) -> None:
    """One run of the relay on fresh connections, until stopped or an outage raises."""
    watermark_every, idle_watermark_every, idle_poll, gather_s = pace
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
        source = relay_source(conn)
        conn.commit()
        # Watermark versions only grow, across restarts too: milliseconds since the epoch.
        # -inf: the first round reads and sends a watermark however long ago the machine booted
        # (time.monotonic() counts from an arbitrary point, the boot here).
        sequence, last_watermark, last_read = int(time.time() * 1000), float("-inf"), float("-inf")
        look = True  # a new session reads first: what was stored while no relay ran
        # Rounds published since the last watermark: one is owed within `watermark_every`. Not one
        # per round: under load a round publishes an event or two, and a watermark per round was a
        # second Kafka send and flush, a pg_stat_activity read, and a batch for every SLA timer
        # instance to apply (issue 11's profile); its news is the same five times a second.
        owed = False
        while not stop.is_set():
            watch_for_stall(STALL_DUMP_S)  # a relay stuck in a round dumps its stacks to its log
            published = waiting = 0
            if look or time.monotonic() - last_read >= idle_poll:
                published = relay_once(conn, producer, topic_prefix=topic_prefix, source=source)
                waiting = not published and source.waiting(conn)
                last_read = time.monotonic()
            owed = owed or bool(published)
            busy = owed or waiting
            if watermark_source and time.monotonic() - last_watermark >= (watermark_every if busy
                                                                          else idle_watermark_every):
                sequence += 1
                publish_watermark(conn, producer, watermark_source, topic_prefix, sequence, clock, source)
                last_watermark = time.monotonic()
                owed = False
            backoff.reset()
            if published:
                look = True
                pause = gather_after(published, RELAY_BATCH, gather_s)
                if pause:
                    stop.wait(pause)  # let the next round gather; a stop ends the wait at once
                continue
            timeout = watermark_every if waiting else idle_poll
            if watermark_source:
                timeout = min(timeout, max(0.0, last_watermark + (watermark_every if owed else idle_watermark_every)
                                           - time.monotonic()))
            look = notified(listener, timeout, stop) or bool(waiting)
    finally:
        watch_for_stall(None)
        # A dead connection or broker must not keep the next session from starting.
        for closing in (lambda: producer.close(timeout=5), conn and conn.close, listener and listener.close):
            if closing:
                try:
                    closing()
                except Exception:  # noqa: BLE001 - closing what is already broken
                    log.debug("close failed", exc_info=True)
