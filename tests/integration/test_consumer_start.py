"""A consumer process started before what it depends on waits for it and then reads (real Kafka, real
PostgreSQL): topics not created yet, a broker not listening, a database not accepting connections.

Before, a consumer's construction gave up after 30 s (topics) or at once (broker, database) and the
process exited; under `bin/up` supervisord restarted it, but a stack without a supervisor (the test
stacks, a plain `python -m query.consumer`) was left with no reader and nothing said so.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timezone

from kafka.admin import KafkaAdminClient

from helpdesk_shared.envelope import Actor, new_event, to_json_bytes
from helpdesk_shared.kafka import ConsumerLoop, make_producer
from helpdesk_shared.localstack import wait_until
from helpdesk_shared.outage import Backoff, Stopped
from helpdesk_shared.topics import TICKETS, TOPICS, create_topics

PATIENCE = 120


class Started:
    """A ConsumerLoop built and run on a thread, as `serve` does; what it applied and how it ended."""

    def __init__(self, **kwargs):
        self.stop = threading.Event()
        self.applied: list = []
        self.ended: BaseException | None | str = "running"
        self.loop: ConsumerLoop | None = None
        self.thread = threading.Thread(target=self._run, kwargs=kwargs, daemon=True)
        self.thread.start()

    def _run(self, **kwargs):
        try:
            self.loop = ConsumerLoop(handle_batch=lambda conn, records: self.applied.extend(records),
                                     stop=self.stop, startup_wait_s=0.5, backoff=Backoff(0.1, 0.5), **kwargs)
            self.loop.run(self.stop)
            self.ended = None
        except BaseException as exc:  # noqa: BLE001 - the test asserts on it
            self.ended = exc

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=PATIENCE)
        assert not self.thread.is_alive()
        return self.ended


def retried(caplog, fragment: str):
    return [r for r in caplog.records if r.getMessage() == "outage: retrying" and fragment in getattr(r, "error", "")]


def test_a_consumer_started_before_its_topics_exist_waits_for_them_then_reads(query_db, kafka_bootstrap, caplog):
    caplog.set_level(logging.INFO)
    prefix = f"t{uuid.uuid4().hex[:8]}."
    started = Started(bootstrap=kafka_bootstrap, database_url=query_db, consumer_name="early",
                      topics=[prefix + TICKETS], group_id=prefix + "early")
    try:
        wait_until(lambda: retried(caplog, "topics missing"), PATIENCE, "the consumer retrying for its topics")
        assert started.ended == "running"  # waiting, not dead
        create_topics(kafka_bootstrap, prefix=prefix)
        now = datetime.now(timezone.utc)
        event = new_event("OutboxDrained", "watermark-early", 1, {"source": "early", "through": now.isoformat()},
                          actor=Actor(id="early", role="system"), occurred_at=now)
        producer = make_producer(kafka_bootstrap)
        producer.send(prefix + TICKETS, key=event.stream_id, value=to_json_bytes(event)).get(timeout=60)
        producer.close()
        wait_until(lambda: [r for r in started.applied if r.event.event_id == event.event_id], PATIENCE,
                   "the event read by the consumer started before its topic")
    finally:
        assert started.finish() is None
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            existing = set(admin.list_topics())
            admin.delete_topics([prefix + t.name for t in TOPICS if prefix + t.name in existing])
        finally:
            admin.close()


def test_a_consumer_whose_broker_does_not_answer_keeps_trying_and_stops_when_told(query_db, caplog):
    caplog.set_level(logging.INFO)
    started = Started(bootstrap="127.0.0.1:1", database_url=query_db, consumer_name="nobroker",
                      topics=["t.nobroker"])
    wait_until(lambda: len(retried(caplog, "")) >= 2, PATIENCE, "two retries while the broker is away")
    assert started.ended == "running"
    assert isinstance(started.finish(), Stopped)  # stopped while starting (serve exits cleanly on it)


def test_a_consumer_whose_database_refuses_connections_keeps_trying_and_stops_when_told(kafka_bootstrap, caplog):
    caplog.set_level(logging.INFO)
    started = Started(bootstrap=kafka_bootstrap, database_url="postgresql://mesa:x@127.0.0.1:1/none",
                      consumer_name="nodb", topics=["t.nodb"])
    wait_until(lambda: len(retried(caplog, "OperationalError")) >= 2, PATIENCE, "two retries while the database is away")
    assert started.ended == "running"
    assert isinstance(started.finish(), Stopped)
