"""Issue 11, one write per event: intake's event store is its outbox. One INSERT per event, the
relay ships the stored bytes unchanged, and following a position in `events` skips no event of a
transaction that commits late nor reorders a stream (real PostgreSQL; Kafka where it matters)."""
from __future__ import annotations

import time

import pytest

from helpdesk_shared import outbox, pg
from helpdesk_shared.envelope import Actor, from_json_bytes, new_event
from helpdesk_shared.kafka import make_producer
from helpdesk_shared.topics import TICKETS
from intake import eventstore, handlers
from samples import ticket_body
from test_relay import read_topic

pytestmark = pytest.mark.integration


class Acked:
    """A send the broker acknowledged."""

    def get(self, timeout=None):
        return None


class RecordingProducer:
    """A Kafka producer that acknowledges every send and keeps (topic, key, value) in order."""

    def __init__(self):
        self.sent: list[tuple[str, str, bytes]] = []

    def send(self, topic, key=None, value=None):
        self.sent.append((topic, key, value))
        return Acked()

    def flush(self):
        pass


def appending(url: str):
    """A connection inside a command's transaction: it read the stream's version, as commands do
    (an append on an idle connection would be a transaction of its own, committed at once)."""
    conn = pg.connect(url)
    conn.execute("select 1")
    return conn


def drain(conn, producer) -> None:
    """Relay rounds until nothing more is ready."""
    while outbox.relay_once(conn, producer):
        pass


def message(stream_id: str, version: int, body: str, now):
    return new_event("MessagePosted", stream_id, version, {
        "message_id": f"m-{stream_id}-{version}", "author_id": "u", "author_role": "customer", "body": body,
        "internal": False}, actor=Actor("u", "customer"), occurred_at=now)


def open_two_tickets(url: str, now) -> tuple[str, str]:
    with pg.connect(url) as conn:
        maria = handlers.authenticate(conn, "maria@clubcaracas.com.ve", "mesa-demo")
        first = handlers.open_ticket(conn, maria, ticket_body("Factura mal cargada en el banco Mercantil"), now)
        second = handlers.open_ticket(conn, maria, ticket_body("Socio sin carnet tras renovar cuota"), now)
        conn.commit()
        return first.stream_id, second.stream_id


def test_a_command_writes_one_row_per_event_and_nothing_else(intake_db, now):
    with pg.connect(intake_db) as conn:
        maria = handlers.authenticate(conn, "maria@clubcaracas.com.ve", "mesa-demo")
        opened = handlers.open_ticket(conn, maria, ticket_body(), now)
        conn.commit()
    # A new session: PostgreSQL 15 keeps a session's counts of earlier transactions pending (and
    # shown in pg_stat_xact_*) for up to a second before it flushes them.
    with pg.connect(intake_db) as conn:
        handlers.post_message(conn, maria, opened.data["number"], {"body": "Sigue sin cargar la factura"}, now)
        # The counters of this session, whose one transaction is the command: rows inserted, per table.
        inserted = {r["relname"]: r["n_tup_ins"] for r in conn.execute(
            "select relname, n_tup_ins from pg_stat_xact_user_tables where n_tup_ins > 0")}
        conn.commit()
    assert inserted == {"events": 1}


def test_the_kafka_record_carries_the_stored_bytes_unchanged(intake_db, kafka_bootstrap, topic_prefix, now):
    first, second = open_two_tickets(intake_db, now)
    with pg.connect(intake_db) as conn:
        stored = {r["event_id"]: bytes(r["payload"]) for r in conn.execute(
            "select event_id, payload from events where stream_id = any(%s)", ([first, second],))}
        producer = make_producer(kafka_bootstrap)
        try:
            while outbox.relay_once(conn, producer, topic_prefix=topic_prefix):
                pass
        finally:
            producer.close()
    records = read_topic(kafka_bootstrap, topic_prefix + TICKETS, len(stored))
    assert {from_json_bytes(m.value).event_id: m.value for m in records} == stored


def test_an_event_whose_transaction_commits_late_is_published_not_skipped(intake_db, now):
    first, second = open_two_tickets(intake_db, now)
    producer = RecordingProducer()
    with pg.connect(intake_db) as relay, appending(intake_db) as late, appending(intake_db) as early:
        drain(relay, producer)
        eventstore.append(late, [message(first, 2, "escrito primero, confirmado al final", now)], 1)
        eventstore.append(early, [message(second, 2, "escrito después, confirmado antes", now)], 1)
        early.commit()  # its position is after the late one's, which is still uncommitted
        drain(relay, producer)
        held_back = [(from_json_bytes(v).stream_id, from_json_bytes(v).stream_version) for _, _, v in producer.sent]
        late.commit()
        drain(relay, producer)
        published = [(from_json_bytes(v).stream_id, from_json_bytes(v).stream_version) for _, _, v in producer.sent]
        assert outbox.EventLog().backlog(relay)["n"] == 0
    # Nothing was published past the open transaction's position, and then both went out.
    assert (first, 2) not in held_back
    assert published.count((first, 2)) == 1 and published.count((second, 2)) == 1


def test_a_stream_is_published_in_version_order_when_its_later_writer_began_first(intake_db, now):
    first, _ = open_two_tickets(intake_db, now)
    producer = RecordingProducer()
    with pg.connect(intake_db) as relay, appending(intake_db) as older, appending(intake_db) as newer:
        drain(relay, producer)
        older.execute("select pg_current_xact_id()")  # its transaction id is given now, by an earlier write
        eventstore.append(newer, [message(first, 2, "versión 2, transacción más nueva", now)], 1)
        newer.commit()
        eventstore.append(older, [message(first, 3, "versión 3, transacción más vieja", now)], 2)
        older.commit()
        drain(relay, producer)
    versions = [from_json_bytes(v).stream_version for _, key, v in producer.sent if key == first]
    assert versions == [1, 2, 3]


def test_an_event_appended_and_rolled_back_is_never_published(intake_db, now):
    first, _ = open_two_tickets(intake_db, now)
    producer = RecordingProducer()
    with pg.connect(intake_db) as relay, appending(intake_db) as writer:
        eventstore.append(writer, [message(first, 2, "se deshace", now)], 1)
        writer.rollback()
        writer.execute("select 1")
        eventstore.append(writer, [message(first, 2, "queda", now)], 1)
        writer.commit()
        drain(relay, producer)
    bodies = [from_json_bytes(v).data.get("body") for _, key, v in producer.sent if key == first]
    assert bodies == [None, "queda"]  # the opening, then only what was committed


def test_migration_0002_publishes_what_the_old_outbox_still_held_and_nothing_it_had_published(
        fresh_database, tmp_path, now):
    import json
    import uuid
    from helpdesk_shared import migrations
    from intake import migrations as intake_migrations

    url = fresh_database("intake")
    first = next(m for m in migrations.discover(intake_migrations.DIRECTORY) if m.version == 1)
    (tmp_path / first.path.name).write_text(first.path.read_text())
    migrations.migrate(url, tmp_path)  # the database as intake left it before issue 11
    stream = f"ticket-{uuid.uuid4()}"
    events = [message(stream, v, f"mensaje {v}", now) for v in (1, 2, 3)]
    alert = new_event("DeliveryParked", "parked-old", 7, {
        "source": "mesa_intake", "outbox_id": 7, "event_id": str(uuid.uuid4()), "topic": TICKETS, "key": "k",
        "size": 10, "error": "MessageSizeTooLargeError"}, actor=Actor("intake-relay", "system"), occurred_at=now)
    from helpdesk_shared.envelope import to_json_bytes
    from helpdesk_shared.schemas import dump_envelope
    with pg.connect(url) as conn:
        for event, published in zip(events, (True, False, False)):
            doc = dump_envelope(event)
            conn.execute("""insert into events (event_id, stream_id, stream_version, type, schema_version, occurred_at,
                                                correlation_id, causation_id, actor, data)
                            values (%s, %s, %s, %s, 1, %s, %s, null, %s, %s)""",
                         (event.event_id, stream, event.stream_version, event.type, event.occurred_at,
                          event.correlation_id, json.dumps(doc["actor"]), json.dumps(doc["data"])))
            conn.execute("""insert into outbox (event_id, topic, key, payload, published_at)
                            values (%s, %s, %s, %s, %s)""", (event.event_id, TICKETS, stream, to_json_bytes(event),
                                                             now if published else None))
        conn.execute("insert into outbox (event_id, topic, key, payload) values (%s, 'helpdesk.operations', %s, %s)",
                     (alert.event_id, alert.stream_id, to_json_bytes(alert)))
        conn.execute("insert into outbox (event_id, topic, key, payload) values (%s, %s, 'x', 'not json')",
                     (uuid.uuid4(), TICKETS))
        conn.commit()

    assert migrations.migrate(url, intake_migrations.DIRECTORY)[0] == 2  # and those after it
    producer = RecordingProducer()
    with pg.connect(url) as conn:
        drain(conn, producer)
        assert conn.execute("select to_regclass('outbox') as t").fetchone()["t"] is None
        parked = [bytes(r["payload"]) for r in conn.execute("select payload from outbox_dead_letters")]
        assert [e.stream_version for e in eventstore.load_stream(conn, stream)] == [1, 2, 3]
    sent = [(topic, from_json_bytes(value).event_id) for topic, _, value in producer.sent]
    assert sent == [(TICKETS, events[1].event_id), (TICKETS, events[2].event_id),
                    ("helpdesk.operations", alert.event_id)]
    assert [value for _, _, value in producer.sent][:2] == [to_json_bytes(events[1]), to_json_bytes(events[2])]
    assert parked == [b"not json"]


def _relay_thread(url: str, bootstrap: str, prefix: str, stop, lock_id: int, **pace):
    import threading
    relay = threading.Thread(target=outbox.run_relay, daemon=True, kwargs=dict(
        database_url=url, bootstrap=bootstrap, topic_prefix=prefix, lock_id=lock_id, stop=stop, **pace))
    relay.start()
    return relay


def test_the_running_relay_publishes_events_held_back_by_a_transaction_that_ends_without_a_notify(
        intake_db, kafka_bootstrap, topic_prefix, now):
    import threading
    from helpdesk_shared.localstack import wait_until
    first, _ = open_two_tickets(intake_db, now)
    stop = threading.Event()
    relay = _relay_thread(intake_db, kafka_bootstrap, topic_prefix, stop, 99_011, idle_poll=600.0)

    def waiting() -> int:
        with pg.connect(intake_db) as conn:
            return outbox.EventLog().backlog(conn)["n"]
    try:
        wait_until(lambda: waiting() == 0, 60, "the demo accounts and tickets published")
        with appending(intake_db) as older, appending(intake_db) as writer:
            older.execute("select pg_current_xact_id()")  # an older transaction, appending nothing
            eventstore.append(writer, [message(first, 2, "espera a la transacción vieja", now)], 1)
            writer.commit()  # its NOTIFY wakes the relay, which finds the event not ready yet
            older.commit()   # ends without a NOTIFY
        wait_until(lambda: waiting() == 0, 30, "the held-back event published")
    finally:
        stop.set()
        relay.join(timeout=30)


def test_an_idle_relay_reads_nothing_and_sends_about_one_watermark_a_second(intake_db, kafka_bootstrap, topic_prefix):
    import threading
    from kafka import KafkaConsumer
    from helpdesk_shared.localstack import wait_until
    from helpdesk_shared.topics import WATERMARKS
    stop = threading.Event()
    relay = _relay_thread(intake_db, kafka_bootstrap, topic_prefix, stop, 99_012, watermark_source="intake")
    try:
        with pg.connect(intake_db) as conn:
            wait_until(lambda: outbox.EventLog().backlog(conn)["n"] == 0 and not conn.commit(), 60, "idle")
        stop.wait(1.5)  # a window of idleness, measured, not an outcome awaited
        start = time.time()
        stop.wait(4.0)
        end = time.time()
    finally:
        stop.set()
        relay.join(timeout=30)
    consumer = KafkaConsumer(topic_prefix + WATERMARKS, bootstrap_servers=kafka_bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    stamps = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not stamps or stamps[-1] < end * 1000):
            stamps += [m.timestamp for batch in consumer.poll(timeout_ms=500).values() for m in batch]
    finally:
        consumer.close()
    in_window = [t for t in stamps if start * 1000 <= t <= end * 1000]
    assert 2 <= len(in_window) <= 6  # every 0.2 s it was 20


def test_a_busy_relay_sends_about_five_watermarks_a_second_not_one_per_round_and_the_last_covers_the_last_event(
        intake_db, kafka_bootstrap, topic_prefix, now):
    # Issue 11: a watermark per publishing round was a second send, flush and pg_stat_activity
    # read per round, and a batch for each SLA timer instance.
    import threading
    from kafka import KafkaConsumer
    from helpdesk_shared.localstack import wait_until
    from helpdesk_shared.topics import WATERMARKS
    first, _ = open_two_tickets(intake_db, now)
    stop = threading.Event()
    relay = _relay_thread(intake_db, kafka_bootstrap, topic_prefix, stop, 99_013, watermark_source="intake")
    try:
        with pg.connect(intake_db) as conn:
            wait_until(lambda: outbox.EventLog().backlog(conn)["n"] == 0 and not conn.commit(), 60, "idle")
        start = time.time()
        with pg.connect(intake_db) as writer:
            for version in range(2, 42):  # 40 commits, each its own round for the relay
                eventstore.append(writer, [message(first, version, f"mensaje {version}", now)], version - 1)
                writer.commit()
                stop.wait(0.025)
            last_stored = writer.execute("select max(stored_at) as t from events").fetchone()["t"]
        with pg.connect(intake_db) as conn:
            wait_until(lambda: outbox.EventLog().backlog(conn)["n"] == 0 and not conn.commit(), 60, "published")
        end = time.time()
        stop.wait(1.0)
    finally:
        stop.set()
        relay.join(timeout=30)
    consumer = KafkaConsumer(topic_prefix + WATERMARKS, bootstrap_servers=kafka_bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    seen = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not seen or seen[-1][0] < (end + 0.5) * 1000):
            seen += [(m.timestamp, from_json_bytes(m.value)) for batch in consumer.poll(timeout_ms=500).values()
                     for m in batch]
    finally:
        consumer.close()
    in_window = [e for t, e in seen if start * 1000 <= t <= end * 1000]
    assert len(in_window) <= 5 * (end - start) + 2, (len(in_window), end - start)
    from datetime import datetime
    assert max(datetime.fromisoformat(e.data["through"]) for _, e in seen) >= last_stored


def test_an_idle_relay_without_watermarks_stops_when_told_not_at_its_next_poll(intake_db, kafka_bootstrap,
                                                                                topic_prefix, now):
    # The notifier's and the SLA's relays send no watermark: idle, they waited for a NOTIFY for up to
    # `idle_poll` (30 s) and saw SIGTERM's `stop` only after it, so a stop that came just after a poll
    # took 30 s (LocalStack's teardown gives a process 30 s; docker stop, 10 s, then SIGKILL).
    import threading
    from helpdesk_shared.localstack import wait_until
    open_two_tickets(intake_db, now)
    stop = threading.Event()
    relay = _relay_thread(intake_db, kafka_bootstrap, topic_prefix, stop, 99_015, idle_poll=600.0)
    try:
        with pg.connect(intake_db) as conn:  # published: the relay is past its first round, waiting
            wait_until(lambda: outbox.EventLog().backlog(conn)["n"] == 0 and not conn.commit(), 60, "published")
    finally:
        stop.set()
        relay.join(timeout=10)  # generous: a stop is seen within a second; without it, 600 s
    assert not relay.is_alive()
