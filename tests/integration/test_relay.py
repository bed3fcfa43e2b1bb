"""The outbox relay and a consumer on real PostgreSQL and real Kafka: nothing lost, nothing applied twice."""
from __future__ import annotations


import pytest
from kafka import KafkaConsumer

from helpdesk_shared import outbox, pg
from helpdesk_shared.envelope import from_json_bytes
from helpdesk_shared.kafka import make_producer
from helpdesk_shared.localstack import wait_until
from helpdesk_shared.topics import TICKETS, TOPIC_OF_EVENT
from intake import handlers
from query import consumer as query_consumer, store
from configs import query_config
from samples import ticket_body

pytestmark = pytest.mark.integration


class RelayKilled(Exception):
    """Stands for the process dying after the broker acknowledged and before the mark."""


def store_tickets(url, now, tickets=3, messages=3) -> list:
    """Open tickets and post messages through intake's handlers; return every stored event id."""
    with pg.connect(url) as conn:
        maria = handlers.authenticate(conn, "maria@clubcaracas.com.ve", "mesa-demo")
        agent = handlers.authenticate(conn, "carlos@mesa.example", "mesa-demo")
        for i, case in enumerate(["Factura mal cargada en el banco Mercantil", "Socio sin carnet tras renovar cuota",
                                  "Conciliación bancaria descuadrada en noviembre"][:tickets]):
            opened = handlers.open_ticket(conn, maria, ticket_body(case), now)
            for j in range(messages):
                who = agent if j % 2 == 0 else maria
                handlers.post_message(conn, who, opened.data["number"], {"body": f"mensaje {j} del caso {i}"}, now)
        conn.commit()
        return [r["event_id"] for r in conn.execute("select event_id, type from events order by global_position")
                if TOPIC_OF_EVENT[r["type"]] == TICKETS]


def read_topic(bootstrap: str, topic: str, expected: int) -> list:
    """Every message on `topic` (polled with a deadline until at least `expected` arrived)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    messages = []
    try:
        wait_until(lambda: messages.extend(m for batch in consumer.poll(timeout_ms=200).values() for m in batch)
                   or len(messages) >= expected, 120, f"{expected} messages on {topic}")
        messages.extend(m for batch in consumer.poll(timeout_ms=500).values() for m in batch)
    finally:
        consumer.close()
    return messages


def test_relay_killed_between_send_and_mark_loses_nothing_and_consumers_apply_each_event_once(
        intake_db, query_db, kafka_bootstrap, topic_prefix, now):
    topic = topic_prefix + TICKETS

    def killed(ids):
        raise RelayKilled(ids)

    with pg.connect(intake_db) as conn:
        producer = make_producer(kafka_bootstrap)
        while outbox.relay_once(conn, producer, topic_prefix=topic_prefix):
            pass  # the demo accounts' events go out first
        stored = store_tickets(intake_db, now)
        with pytest.raises(RelayKilled):
            outbox.relay_once(conn, producer, batch=5, topic_prefix=topic_prefix, after_send=killed)
        producer.close()
        unpublished = outbox.EventLog().backlog(conn)["n"]
        assert unpublished == len(stored)  # sent, acknowledged, but not one marked

        restarted = make_producer(kafka_bootstrap)
        while outbox.relay_once(conn, restarted, batch=5, topic_prefix=topic_prefix):
            pass
        restarted.close()
        assert outbox.EventLog().backlog(conn)["n"] == 0

    messages = read_topic(kafka_bootstrap, topic, len(stored) + 5)
    events = [from_json_bytes(m.value) for m in messages]
    assert {e.event_id for e in events} == set(stored)  # every stored event is on the topic
    duplicates = len(events) - len(stored)
    assert duplicates == 5  # the batch sent before the "kill" went out twice
    for stream_id in {e.stream_id for e in events}:
        versions = [e.stream_version for e in events if e.stream_id == stream_id]
        first_seen = list(dict.fromkeys(versions))
        assert first_seen == list(range(1, len(first_seen) + 1))  # stream order kept
        assert all(m.key.decode() == stream_id for m in messages if from_json_bytes(m.value).stream_id == stream_id)

    config = query_config(query_db, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=topic_prefix)
    loop = query_consumer.build(config)
    try:
        def caught_up():
            loop.poll_once()
            with pg.connect(query_db) as conn:
                return store.stats(conn)["applied_events"] + store.stats(conn)["skipped_events"] >= len(events)
        wait_until(caught_up, 120, "query caught up")
    finally:
        loop.close()
    with pg.connect(query_db) as conn:
        stats = store.stats(conn)
        thread_rows = conn.execute("select count(*) as n from thread").fetchone()["n"]
    assert stats == {"applied_events": len(stored), "skipped_events": duplicates}
    assert thread_rows == len(stored)


def test_a_consumer_restarted_between_batches_resumes_at_its_stored_offsets(
        intake_db, query_db, kafka_bootstrap, topic_prefix, now):
    stored = store_tickets(intake_db, now, tickets=2, messages=4)
    with pg.connect(intake_db) as conn:
        producer = make_producer(kafka_bootstrap)
        while outbox.relay_once(conn, producer, topic_prefix=topic_prefix):
            pass
        producer.close()
    config = query_config(query_db, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=topic_prefix)

    def applied() -> int:
        with pg.connect(query_db) as conn:
            return store.stats(conn)["applied_events"]

    first = query_consumer.build(config)
    first.max_records = 3
    wait_until(lambda: first.poll_once() and applied() > 0, 120, "a first batch")
    first.close()  # stops between batches; its offsets are already stored
    assert 0 < applied() < len(stored)

    second = query_consumer.build(config)
    try:
        wait_until(lambda: second.poll_once() is not None and applied() == len(stored), 120, "the rest applied")
    finally:
        second.close()
    with pg.connect(query_db) as conn:
        assert store.stats(conn) == {"applied_events": len(stored), "skipped_events": 0}


def test_a_watermark_is_told_on_the_driven_clock_and_an_event_stuck_since_before_a_jump_holds_it_back(
        intake_db, kafka_bootstrap, topic_prefix, now, tmp_path):
    from datetime import datetime, timedelta, timezone
    from helpdesk_shared.clock import DrivenClock, advance
    from helpdesk_shared.topics import WATERMARKS
    clock_file = tmp_path / "clock"
    clock_file.touch()
    clock = DrivenClock(clock_file)
    producer = make_producer(kafka_bootstrap)
    try:
        with pg.connect(intake_db) as conn:
            conn.execute("""update relay_cursor set (relay_xid, position) =
                            (select relay_xid, global_position from events
                             order by relay_xid desc, global_position desc limit 1)""")  # the demo users' events: out of the way
            conn.commit()
            advance(clock_file, 3600)
            wall = datetime.now(timezone.utc)
            caught_up = outbox.publish_watermark(conn, producer, "intake", topic_prefix, 1, clock)
            assert caught_up >= wall + timedelta(minutes=59)  # nothing unpublished: now, on the driven clock
            store_tickets(intake_db, now, tickets=1, messages=0)  # stored after the jump, not yet published
            conn.execute("""update events e set stored_at = now() - interval '1 minute' from relay_cursor c
                            where (e.relay_xid, e.global_position) > (c.relay_xid, c.position)""")  # ... as if from before it
            conn.commit()
            held = outbox.publish_watermark(conn, producer, "intake", topic_prefix, 2, clock)
            assert held < datetime.now(timezone.utc)  # the stuck row's wall instant, before the jump
    finally:
        producer.close()
    published = [from_json_bytes(m.value) for m in read_topic(kafka_bootstrap, topic_prefix + WATERMARKS, 2)]
    assert [e.data["through"] for e in published] == [caught_up.isoformat(), held.isoformat()]
