"""ConsumerLoop's fetch watchdog (helpdesk_shared.fetch_watch): a client holding partitions with records
waiting, and fetching none, is replaced; an idle, caught-up or busy one never is (issue 11).

The loop runs against a fake broker and fake clients (the calls ConsumerLoop makes of KafkaConsumer), a
fake database session and a driven monotonic clock: each poll advances the clock by its timeout, as an
empty poll of a real client takes that long.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections import namedtuple
from datetime import datetime, timezone

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError

import helpdesk_shared.kafka as kafka
from helpdesk_shared.envelope import Actor, new_event, to_json_bytes
from helpdesk_shared.fetch_watch import FetchWatch, lagging
from helpdesk_shared.kafka import ConsumerLoop
from helpdesk_shared.outage import Backoff

TOPIC = "t.tickets"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
STALL_S = 60.0
Message = namedtuple("Message", "offset key value")


class Clock:
    """A monotonic clock the test drives."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event_bytes(n: int) -> bytes:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    return to_json_bytes(new_event("OutboxDrained", f"watermark-{n}", 1, {"source": "test", "through": at.isoformat()},
                                   actor=Actor(id="test", role="system"), occurred_at=at))


class Broker:
    """The partitions' logs, and the clients made against them, in order."""

    def __init__(self, clock: Clock, records: dict[TopicPartition, int] | None = None):
        self.clock = clock
        self.logs = {P0: [], P1: []}
        for tp, count in (records or {}).items():
            self.publish(tp, count)
        self.clients: list[FakeClient] = []
        self.wedged = 0  # how many of the next clients made fetch nothing, ever
        self.fetch_every = 1  # a fetch comes back every this many polls (the others are empty)
        self.end_offsets_fail = False

    def publish(self, tp: TopicPartition, count: int) -> None:
        start = len(self.logs[tp])
        self.logs[tp] += [event_bytes(start + i) for i in range(count)]

    def client(self, **config) -> "FakeClient":
        wedged = self.wedged > 0
        self.wedged -= wedged
        self.clients.append(FakeClient(self, wedged))
        return self.clients[-1]


class FakeClient:
    """The KafkaConsumer calls ConsumerLoop makes; a wedged one answers everything but never fetches."""

    def __init__(self, broker: Broker, wedged: bool):
        self.broker, self.wedged = broker, wedged
        self.positions: dict[TopicPartition, int] = {}
        self.assigned: set[TopicPartition] = set()
        self.paused_set: set[TopicPartition] = set()
        self.listener = None
        self.polls = self.end_offsets_calls = 0
        self.closed = False

    def partitions_for_topic(self, topic):
        return {tp.partition for tp in self.broker.logs if tp.topic == topic}

    def assign(self, partitions):
        self.assigned = set(partitions)

    def subscribe(self, topics, listener=None):
        self.listener = listener
        self.assigned = set(self.broker.logs)  # the group gives this only member every partition
        listener.on_partitions_assigned(set(self.assigned))

    def assignment(self):
        return set(self.assigned)

    def seek(self, tp, offset):
        self.positions[tp] = offset

    def seek_to_beginning(self, tp):
        self.positions[tp] = 0

    def pause(self, tp):
        self.paused_set.add(tp)

    def resume(self, tp):
        self.paused_set.discard(tp)

    def paused(self):
        return set(self.paused_set)

    def position(self, tp, timeout_ms=None):
        return self.positions.get(tp)

    def end_offsets(self, partitions, timeout_ms=None):
        self.end_offsets_calls += 1
        if self.broker.end_offsets_fail:
            raise KafkaTimeoutError("Failed to get offsets by timestamps in 5000 ms")
        return {tp: len(self.broker.logs[tp]) for tp in partitions}

    def poll(self, timeout_ms, max_records):
        self.polls += 1
        polled = {}
        if not self.wedged and self.polls % self.broker.fetch_every == 0:
            for tp in sorted(self.assigned - self.paused_set):
                start = self.positions.get(tp, 0)
                batch = self.broker.logs[tp][start:start + max_records]
                if batch:
                    polled[tp] = [Message(start + i, None, value) for i, value in enumerate(batch)]
                    self.positions[tp] = start + len(batch)
        if not polled:
            self.broker.clock.now += timeout_ms / 1000  # an empty poll waits its timeout out
        return polled

    def close(self):
        self.closed = True


class FakeSession:
    """A database session: offsets stored in `stored`; advisory locks of `locked_elsewhere` held by another instance."""

    def __init__(self, stored: dict, locked_elsewhere: set[int]):
        self.stored, self.locked_elsewhere = stored, locked_elsewhere
        self.broken = self.closed = False

    def execute(self, sql, params=None):
        ok = not ("pg_try_advisory_lock" in sql and params and len(params) == 2 and params[1] in self.locked_elsewhere)
        return type("Row", (), {"fetchone": lambda self: {"ok": ok}})()

    def commit(self):
        pass

    def rollback(self):
        pass

    def transaction(self):
        return contextlib.nullcontext()

    def close(self):
        self.closed = True


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def world(monkeypatch, clock):
    """A broker, a database of stored offsets, and ConsumerLoop wired to both."""
    broker = Broker(clock)
    stored: dict = {}
    locked_elsewhere: set[int] = set()
    monkeypatch.setattr(kafka, "KafkaConsumer", broker.client)
    monkeypatch.setattr(kafka, "wait_for_topics", lambda bootstrap, topics, seconds=30: None)
    monkeypatch.setattr(kafka.time, "sleep", lambda s: None)
    monkeypatch.setattr(kafka.pg, "connect", lambda url: FakeSession(stored, locked_elsewhere))
    monkeypatch.setattr(kafka.pg, "load_offsets", lambda conn, name: dict(stored))
    monkeypatch.setattr(kafka.pg, "lock_offsets", lambda conn, name, partitions: dict(stored))
    monkeypatch.setattr(kafka.pg, "save_offsets", lambda conn, name, offsets: stored.update(offsets))
    monkeypatch.setattr(kafka.pg, "load_generation", lambda conn, name, share=False: 0)
    monkeypatch.setattr(kafka.pg, "count_applied", lambda conn, name, types: None)
    return type("World", (), {"broker": broker, "stored": stored, "locked_elsewhere": locked_elsewhere})


def make_loop(clock, mode="single", handle_batch=None, applied=None):
    applied = applied if applied is not None else []
    return ConsumerLoop(bootstrap="fake:9092", database_url="postgresql://fake", consumer_name="c", topics=[TOPIC],
                        handle_batch=handle_batch or (lambda conn, records: applied.extend(records)),
                        mode=mode, backoff=Backoff(0.0, 0.0), fetch_stall_s=STALL_S, monotonic=clock)


def run_until(loop: ConsumerLoop, clock: Clock, done, seconds: float) -> None:
    """Run the loop until `done(loop)` or `seconds` of driven time pass."""
    stop = threading.Event()
    deadline = clock.now + seconds

    def after_poll(loop):
        if done(loop) or clock.now >= deadline:
            stop.set()

    loop.run(stop, after_poll=after_poll)


def applied_offsets(applied) -> list[tuple[int, int]]:
    return sorted((r.partition, r.offset) for r in applied)


def test_a_client_that_fetches_nothing_while_its_partitions_have_records_waiting_is_replaced_and_the_loop_goes_on(
        world, clock, caplog):
    world.broker.publish(P0, 3)
    world.broker.publish(P1, 2)
    world.broker.wedged = 1
    applied = []
    loop = make_loop(clock, applied=applied)
    began = clock.now
    with caplog.at_level(logging.INFO, logger="helpdesk_shared.kafka"):
        run_until(loop, clock, lambda loop: len(applied) == 5, seconds=10 * STALL_S)
    assert len(world.broker.clients) == 2 and world.broker.clients[0].closed
    assert STALL_S <= clock.now - began < 2 * STALL_S
    assert applied_offsets(applied) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]  # each once, by the new client
    alert, = [r for r in caplog.records if r.getMessage().startswith("kafka client fetches nothing")]
    assert alert.alert == "ops"
    assert alert.partitions == {"t.tickets/0": {"position": 0, "end": 3}, "t.tickets/1": {"position": 0, "end": 2}}


def test_a_caught_up_idle_consumer_is_never_replaced_and_asks_end_offsets_once_per_check_interval(world, clock):
    world.broker.publish(P0, 3)
    applied = []
    loop = make_loop(clock, applied=applied)
    began = clock.now
    run_until(loop, clock, lambda loop: False, seconds=10 * STALL_S)
    assert clock.now - began >= 10 * STALL_S
    assert len(world.broker.clients) == 1 and len(applied) == 3
    client = world.broker.clients[0]
    checks_allowed = 10 * STALL_S / loop.fetch_watch.check_every_s + 1
    assert 1 <= client.end_offsets_calls <= checks_allowed < client.polls / 10


def test_a_partition_waited_for_but_not_held_does_not_count_as_lag_in_group_mode(world, clock):
    world.broker.publish(P1, 4)  # records waiting on the partition another instance still holds
    world.locked_elsewhere.add(1)
    loop = make_loop(clock, mode="group")
    run_until(loop, clock, lambda loop: False, seconds=10 * STALL_S)
    assert loop.held == {P0}
    assert len(world.broker.clients) == 1
    assert world.broker.clients[0].end_offsets_calls >= 1  # it did look, and saw no lag of its own


def test_a_consumer_receiving_records_all_along_is_never_replaced_even_while_it_lags(world, clock):
    world.broker.publish(P0, 100)
    world.broker.fetch_every = 30  # a fetch comes back every 15 s (29 empty polls between): lag all along
    applied = []
    loop = ConsumerLoop(bootstrap="fake:9092", database_url="postgresql://fake", consumer_name="c", topics=[TOPIC],
                        handle_batch=lambda conn, records: applied.extend(records), mode="single",
                        backoff=Backoff(0.0, 0.0), fetch_stall_s=STALL_S, monotonic=clock, max_records=2)

    def publishing(loop):
        if loop.consumer.polls % 10 == 0:
            world.broker.publish(P0, 1)
        return False

    began = clock.now
    run_until(loop, clock, publishing, seconds=10 * STALL_S)
    assert clock.now - began >= 10 * STALL_S
    assert len(world.broker.clients) == 1 and len(applied) >= 60
    assert loop.consumer.end_offsets_calls >= 10  # it looked, and saw lag, at every quiet stretch


def test_a_consumer_busy_applying_long_batches_is_not_stalled(world, clock):
    world.broker.publish(P0, 6)
    world.broker.publish(P1, 6)
    world.broker.fetch_every = 30  # after each batch, 15 s of empty polls with records still waiting
    applied = []

    def slow(conn, records):
        clock.now += 3 * STALL_S  # one batch takes three stall periods
        applied.extend(records)

    loop = ConsumerLoop(bootstrap="fake:9092", database_url="postgresql://fake", consumer_name="c", topics=[TOPIC],
                        handle_batch=slow, mode="single", backoff=Backoff(0.0, 0.0), fetch_stall_s=STALL_S,
                        monotonic=clock, max_records=2)
    run_until(loop, clock, lambda loop: len(applied) == 12, seconds=100 * STALL_S)
    assert len(applied) == 12 and len(world.broker.clients) == 1
    assert loop.consumer.end_offsets_calls >= 3  # it looked after the batches, and saw lag


def test_end_offsets_failing_on_a_client_that_fetches_nothing_replaces_it_without_ending_the_loop(world, clock, caplog):
    world.broker.publish(P0, 2)
    world.broker.wedged = 1
    world.broker.end_offsets_fail = True
    applied = []
    loop = make_loop(clock, applied=applied)

    def healed(loop):
        if len(world.broker.clients) == 2:
            world.broker.end_offsets_fail = False  # the new client's broker answers
        return len(applied) == 2

    with caplog.at_level(logging.INFO, logger="helpdesk_shared.kafka"):
        run_until(loop, clock, healed, seconds=10 * STALL_S)
    assert len(world.broker.clients) == 2 and applied_offsets(applied) == [(0, 0), (0, 1)]
    alert, = [r for r in caplog.records if r.getMessage().startswith("kafka client fetches nothing")]
    assert "KafkaTimeoutError" in alert.error


def test_lag_is_a_position_behind_the_end_offset_or_unknown_on_a_partition_with_records():
    assert lagging({"a": 3, "b": 5, "c": None, "d": None}, {"a": 5, "b": 5, "c": 2, "d": 0}) == {
        "a": (3, 5), "c": (None, 2)}


def test_one_sighting_of_lag_is_not_a_stall_it_must_outlive_a_check_interval_with_nothing_fetched():
    watch = FetchWatch(now=0.0, stall_s=60.0)
    assert not watch.check_due(5.0) and watch.check_due(10.0)
    assert not watch.checked(70.0, lags=True)  # first sighting: records published a moment ago may be on their way
    assert not watch.check_due(75.0) and watch.check_due(80.0)
    assert watch.checked(80.0, lags=True)
    watch.progress(81.0)
    assert not watch.check_due(90.0)
    assert not watch.checked(91.0, lags=True) and not watch.checked(150.0, lags=False)
    assert not watch.checked(160.0, lags=True)  # caught up in between: the lag seen now is new
