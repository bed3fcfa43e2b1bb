"""CONSUMER_MODE: how a consumer's instances share its topics (issue 11)."""
import pytest

from helpdesk_shared.config import consumer_mode
from helpdesk_shared.kafka import ConsumerLoop


def test_consumers_join_their_kafka_group_unless_told_to_run_single(monkeypatch):
    monkeypatch.delenv("CONSUMER_MODE", raising=False)
    assert consumer_mode() == "group"
    monkeypatch.setenv("CONSUMER_MODE", "single")
    assert consumer_mode() == "single"


def test_every_consumers_config_joins_its_kafka_group_by_default(monkeypatch):
    # A Config built in code (not from the environment) must not fall back to another mode than
    # from_env's: both say "group".
    import dataclasses
    from intake.config import Config as IntakeConfig
    from notifier.config import Config as NotifierConfig
    from query.config import Config as QueryConfig
    from sla.config import Config as SlaConfig
    for config in (IntakeConfig, NotifierConfig, QueryConfig, SlaConfig):
        assert {f.name: f.default for f in dataclasses.fields(config)}["consumer_mode"] == "group", config


def test_an_unknown_consumer_mode_stops_the_consumer_naming_the_variable_before_it_connects():
    with pytest.raises(ValueError, match="CONSUMER_MODE must be one of group, single"):
        ConsumerLoop(bootstrap="127.0.0.1:1", database_url="postgresql://nobody@127.0.0.1:1/none",
                     consumer_name="c", topics=["t"], handle_batch=lambda conn, records: None, mode="groups")


class _RecordingConsumer:
    """A stand-in for KafkaConsumer that records the order of calls: its metadata for a topic is
    known only after `partitions_for_topic` fetched it (kafka-python fetches on a miss), and the
    first fetch of one topic finds it still without a leader, as a just-created topic can be."""

    def __init__(self, **config):
        self.calls, self.known, self.misses = [], set(), {"t.sla"}

    def partitions_for_topic(self, topic):
        self.calls.append(("partitions_for_topic", topic))
        if topic in self.misses:
            self.misses.discard(topic)
            return set()
        self.known.add(topic)
        return {0, 1}

    def subscribe(self, topics, listener=None):
        self.calls.append(("subscribe", tuple(topics), frozenset(self.known)))


def test_a_group_member_knows_every_topics_partitions_before_it_joins_so_the_leader_never_assigns_nothing(
        monkeypatch):
    # Seen in a loaded run: the group's leader joined before its metadata held the topics, the range
    # assignor logged "No partition metadata for topic" and gave the only member no partition.
    import helpdesk_shared.kafka as kafka
    monkeypatch.setattr(kafka.pg, "connect", lambda url: object())
    monkeypatch.setattr(kafka, "wait_for_topics", lambda bootstrap, topics, seconds=30: None)
    monkeypatch.setattr(kafka, "KafkaConsumer", _RecordingConsumer)
    monkeypatch.setattr(kafka.time, "sleep", lambda s: None)
    loop = ConsumerLoop(bootstrap="127.0.0.1:1", database_url="postgresql://x", consumer_name="c",
                        topics=["t.tickets", "t.sla"], handle_batch=lambda conn, records: None, mode="group")
    subscribed = [c for c in loop.consumer.calls if c[0] == "subscribe"]
    assert subscribed == [("subscribe", ("t.tickets", "t.sla"), frozenset({"t.tickets", "t.sla"}))]


def test_an_empty_poll_that_returns_at_once_waits_out_the_poll_interval_instead_of_spinning(monkeypatch):
    # Seen in a loaded run: a member with no partition polled ~2,700 times a second at 65 % of a core,
    # kafka-python returning at once because it thought a heartbeat was due.
    import helpdesk_shared.kafka as kafka
    slept = []
    monkeypatch.setattr(kafka.pg, "connect", lambda url: object())
    monkeypatch.setattr(kafka, "wait_for_topics", lambda bootstrap, topics, seconds=30: None)
    monkeypatch.setattr(kafka, "KafkaConsumer", _RecordingConsumer)
    loop = ConsumerLoop(bootstrap="127.0.0.1:1", database_url="postgresql://x", consumer_name="c",
                        topics=["t.tickets"], handle_batch=lambda conn, records: None, mode="group", poll_ms=100)
    loop.consumer.poll = lambda timeout_ms, max_records: {}
    monkeypatch.setattr(loop, "_reconcile", lambda force=False: None)
    monkeypatch.setattr(loop, "_in_sequence", lambda polled: polled)
    loop._last_generation_check = float("inf")  # the idle offsets check is not what this test is about
    monkeypatch.setattr(kafka.time, "sleep", slept.append)
    assert loop.poll_once() == 0
    assert len(slept) == 1 and 0.05 < slept[0] <= 0.1


class _LockedElsewhere:
    """A database session in which every partition lock is held by another instance."""

    def execute(self, sql, params=None):
        class Row:
            def fetchone(self):
                return {"ok": False}
        return Row()

    def commit(self):
        pass


def test_a_member_waiting_for_a_partition_lock_logs_the_wait_once_not_at_every_poll(monkeypatch, caplog):
    # Seen in a loaded run: a member assigned partitions whose old owner never let go logged
    # "partitions held ... waiting" at every poll, ~16 lines a second (1 MB in two minutes).
    import logging
    import helpdesk_shared.kafka as kafka
    from kafka import TopicPartition
    monkeypatch.setattr(kafka.pg, "connect", lambda url: _LockedElsewhere())
    monkeypatch.setattr(kafka, "wait_for_topics", lambda bootstrap, topics, seconds=30: None)
    monkeypatch.setattr(kafka, "KafkaConsumer", _RecordingConsumer)
    loop = ConsumerLoop(bootstrap="127.0.0.1:1", database_url="postgresql://x", consumer_name="c",
                        topics=["t.tickets"], handle_batch=lambda conn, records: None, mode="group")
    assigned = {TopicPartition("t.tickets", 0), TopicPartition("t.tickets", 1)}
    loop.consumer.assignment = lambda: set(assigned)
    loop.consumer.pause = loop.consumer.resume = lambda tp: None
    loop.rebalances.on_partitions_assigned(assigned)
    with caplog.at_level(logging.INFO, logger="helpdesk_shared.kafka"):
        for _ in range(20):
            loop._reconcile()
        assigned.discard(TopicPartition("t.tickets", 1))  # a rebalance: still waiting, for less
        loop.rebalances.on_partitions_assigned(set())
        for _ in range(20):
            loop._reconcile()
    waits = [r for r in caplog.records if r.getMessage() == "partitions held"]
    assert [r.waiting for r in waits] == [["t.tickets/0", "t.tickets/1"], ["t.tickets/0"]]
    assert loop.held == set()
