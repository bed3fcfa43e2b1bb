"""A consumer whose Kafka client fetches nothing while events wait on its topic gets a new client and applies
them, once (real Kafka, real PostgreSQL; issue 11, "no silent failures").

The wedge seen under load (kafka-python 3.0.12 polling in a busy loop, every poll empty, a fetch response
that never comes) is played by the client's own `poll` returning nothing: the loop cannot tell the two apart.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

import pytest

from helpdesk_shared.envelope import Actor, new_event, to_json_bytes
from helpdesk_shared.kafka import ConsumerLoop, make_producer
from helpdesk_shared.localstack import wait_until
from helpdesk_shared.outage import Backoff
from helpdesk_shared.topics import TICKETS

PATIENCE = 60
EVENTS = 5


@pytest.mark.parametrize("mode", ["single", "group"])
def test_a_client_that_fetches_nothing_while_events_wait_is_replaced_and_the_events_are_applied_once(
        query_db, kafka_bootstrap, topic_prefix, mode, caplog):
    caplog.set_level(logging.INFO)
    now = datetime.now(timezone.utc)
    events = [new_event("OutboxDrained", f"watermark-stall-{n}", 1, {"source": "stall", "through": now.isoformat()},
                        actor=Actor(id="stall", role="system"), occurred_at=now) for n in range(EVENTS)]
    producer = make_producer(kafka_bootstrap)
    for event in events:
        producer.send(topic_prefix + TICKETS, key=event.stream_id, value=to_json_bytes(event)).get(timeout=PATIENCE)
    producer.close()

    applied = []
    loop = ConsumerLoop(bootstrap=kafka_bootstrap, database_url=query_db, consumer_name="stalling",
                        topics=[topic_prefix + TICKETS], group_id=topic_prefix + "stalling", mode=mode,
                        handle_batch=lambda conn, records: applied.extend(records),
                        backoff=Backoff(0.1, 0.5), startup_wait_s=PATIENCE, fetch_stall_s=2.0)
    wedged = loop.consumer
    joining = wedged.poll

    def fetches_nothing(timeout_ms=0, max_records=None, update_offsets=True):
        """Fetches that never come back. In group mode the real poll runs until the loop holds partitions
        (it joins the group there); what it fetched meanwhile is dropped, and the loop seeks the partitions
        it then locks back to their stored offsets, so the events still wait."""
        if mode == "group" and not loop.held:
            joining(timeout_ms=timeout_ms, max_records=max_records)
        return {}

    wedged.poll = fetches_nothing
    stop = threading.Event()
    ended: list = []

    def run():
        try:
            loop.run(stop)
            ended.append(None)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            ended.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(applied) >= EVENTS, PATIENCE, "the events applied by the consumer's new client")
        assert loop.consumer is not wedged and not ended  # a new client, and the loop goes on
    finally:
        stop.set()
        thread.join(timeout=PATIENCE)
    assert not thread.is_alive() and ended == [None]
    assert sorted(str(r.event.event_id) for r in applied) == sorted(str(e.event_id) for e in events)  # each once
    alert, = [r for r in caplog.records if r.getMessage().startswith("kafka client fetches nothing")]
    assert alert.alert == "ops" and alert.partitions and all(
        p["position"] < p["end"] for p in alert.partitions.values())
