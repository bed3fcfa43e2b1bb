"""The pure parts of /healthz: a consumer's lag from stored and end offsets, and the service's status."""
from __future__ import annotations

import threading
import time

from helpdesk_shared.health import KafkaOffsets, TopicOffsets, consumer_report, lag_by_topic, overall_status

OFFSETS = TopicOffsets(begin={("t", 0): 0, ("t", 1): 5, ("u", 0): 0},
                       end={("t", 0): 10, ("t", 1): 12, ("u", 0): 3})


def test_lag_is_the_end_offset_minus_the_stored_next_offset_summed_per_topic():
    assert lag_by_topic(["t", "u"], {("t", 0): 7, ("t", 1): 12, ("u", 0): 3}, OFFSETS) == {"t": 3, "u": 0}


def test_a_partition_never_stored_counts_from_its_first_offset_still_kept():
    assert lag_by_topic(["t"], {("t", 0): 10}, OFFSETS) == {"t": 7}  # partition 1 kept from offset 5


def test_a_stored_offset_past_the_end_counts_nothing_and_other_topics_are_ignored():
    assert lag_by_topic(["u"], {("u", 0): 9, ("t", 0): 0}, OFFSETS) == {"u": 0}


def test_a_consumer_is_caught_up_only_at_lag_zero_and_unknown_without_kafka():
    assert consumer_report("c", ["u"], {("u", 0): 3}, OFFSETS)["caught_up"] is True
    behind = consumer_report("c", ["t", "u"], {}, OFFSETS)
    assert (behind["lag"], behind["caught_up"], behind["topics"]) == (20, False, {"t": 17, "u": 3})
    assert consumer_report("c", ["t"], {}, None) == {"name": "c", "lag": None, "caught_up": None, "topics": {"t": None}}


def test_without_its_database_a_service_is_unavailable_whatever_kafka_says():
    assert overall_status(False, True, []) == "unavailable"
    assert overall_status(False, None, []) == "unavailable"


def test_kafka_away_or_a_consumer_far_behind_is_degraded_and_a_small_lag_is_ok():
    assert overall_status(True, False, []) == "degraded"
    assert overall_status(True, True, [{"lag": 1001}], degraded_lag=1000) == "degraded"
    assert overall_status(True, True, [{"lag": 1000}, {"lag": None}], degraded_lag=1000) == "ok"
    assert overall_status(True, None, []) == "ok"


class SlowBroker(KafkaOffsets):
    """KafkaOffsets whose broker answers only when the test says so."""

    def __init__(self, **kw):
        super().__init__("nowhere:9092", ["t"], **kw)
        self.answer = threading.Event()
        self.calls = 0

    def _fetch(self):
        self.calls += 1
        self.answer.wait(10)
        return OFFSETS


def test_a_probe_waits_at_most_its_timeout_on_a_broker_that_hangs_and_one_fetch_is_in_flight():
    broker = SlowBroker(timeout=0.05, ttl=60)
    started = time.monotonic()
    assert broker.get() == (None, "no answer from Kafka within 0.05 s")
    assert broker.get()[0] is None
    # Well under the 10 s the broker hangs for: the probes returned on their timeout, not on its answer
    # (a bound this loose holds on a loaded machine; what it rules out is waiting for the broker).
    assert time.monotonic() - started < 8 and not broker.answer.is_set()
    broker.answer.set()
    deadline = time.monotonic() + 60
    while broker.get()[0] is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert broker.get() == (OFFSETS, None) and broker.calls == 1


def test_a_failed_fetch_is_cached_for_the_period_so_a_dead_broker_is_not_hammered():
    class DeadBroker(KafkaOffsets):
        calls = 0

        def _fetch(self):
            DeadBroker.calls += 1
            raise ConnectionError("refused")

    now = [0.0]
    broker = DeadBroker("nowhere:9092", ["t"], ttl=5, timeout=1, monotonic=lambda: now[0])
    assert broker.get() == (None, "ConnectionError: refused")
    assert broker.get() == (None, "ConnectionError: refused") and DeadBroker.calls == 1
    now[0] = 6
    broker.get()
    assert DeadBroker.calls == 2
