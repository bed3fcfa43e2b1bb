"""The guard around kafka-python 3's network thread (helpdesk_shared.kafka_net_watch)."""
from __future__ import annotations

import threading

import pytest
from kafka.errors import KafkaError

from helpdesk_shared import kafka_net_watch
from helpdesk_shared.kafka_net_watch import NetworkThreadStalled, NudgingEvent


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(kafka_net_watch, "NUDGE_EVERY_S", 0.01)
    monkeypatch.setattr(kafka_net_watch, "WAIT_LIMIT_S", 0.5)


class LostWakeup:
    """A selector whose first wake-up was lost: the task it should run completes on the next one."""

    def __init__(self):
        self.event = NudgingEvent()
        self.wakeups = 0

    def wakeup(self):
        self.wakeups += 1
        self.event.set()


def test_a_wait_that_lacked_a_wake_up_ends_when_the_network_thread_is_woken_again(quick):
    selector = LostWakeup()
    kafka_net_watch._current.selector = selector
    try:
        assert selector.event.wait() is True
    finally:
        kafka_net_watch._current.selector = None
    assert selector.wakeups == 1


def test_a_wait_nothing_answers_raises_a_kafka_error_the_loops_treat_as_an_outage(quick):
    kafka_net_watch._current.selector = None
    with pytest.raises(NetworkThreadStalled, match="did not answer"):
        NudgingEvent().wait()
    assert issubclass(NetworkThreadStalled, KafkaError)


def test_a_wait_with_its_own_timeout_keeps_it():
    assert NudgingEvent().wait(0.01) is False


def test_the_guard_is_installed_on_kafka_pythons_selector_once():
    import helpdesk_shared.kafka  # noqa: F401 - installs it
    from kafka.net import selector
    run = selector.NetworkSelector.run
    kafka_net_watch.install()
    assert selector.NetworkSelector.run is run and run._mesa_guard
    assert selector.threading.Event is NudgingEvent
    assert selector.threading.Lock is threading.Lock and selector.threading.Thread is threading.Thread
