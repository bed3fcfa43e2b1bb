"""Under load, a consumer loop and a relay let a batch gather before the next round (issue 11).

Every consumer batch pays a Kafka fetch, the loop's offset statements and a commit, and every relay
round a read of its table, a send and a flush, whatever they hold. With the pipeline saturated, a
consumer that polls again the moment it committed gets one or two events a batch, and those fixed
costs were most of a ticket's CPU (bench/README.md, issue 11's "Stop 16"). So after a batch that did
not fill its maximum the loop waits a short while before the next poll; after an empty poll (the
fetch already waited, and its first record ends that wait at once) or a full batch (more is
waiting) it does not, so an idle desk's first event is not delayed.

The pacing is pure: `gather_after` says how long to wait, `ConsumerLoop.run` waits it on its stop
event (a stop ends the wait at once). The loop here is a ConsumerLoop whose poll is a script.
"""
from __future__ import annotations

import threading

import pytest

from helpdesk_shared.kafka import GATHER_S, ConsumerLoop, gather_after
from helpdesk_shared.outage import Backoff
from helpdesk_shared.outbox import RELAY_GATHER_S


@pytest.mark.parametrize("done, full, expected", [
    (0, 500, 0.0),      # nothing came: the fetch wait already paced the loop
    (1, 500, 0.1),      # a batch of one under load: let the next one gather
    (499, 500, 0.1),
    (500, 500, 0.0),    # a full batch: more is waiting, poll again at once
    (501, 500, 0.0),
])
def test_a_loop_waits_only_after_a_batch_that_came_and_did_not_fill(done, full, expected):
    assert gather_after(done, full, 0.1) == expected


def test_no_gathering_when_turned_off():
    assert gather_after(3, 500, 0.0) == 0.0


def test_the_gathering_is_short_beside_the_latency_the_issue_allows():
    # p99 POST -> visible <= 250 ms crosses one relay and one consumer: each may add its wait.
    assert 0 < GATHER_S <= 0.1 and 0 < RELAY_GATHER_S <= 0.05


class ScriptedLoop(ConsumerLoop):
    """A ConsumerLoop whose polls return a script of batch sizes (no Kafka, no database)."""

    def __init__(self, script: list[int], max_records: int, gather_s: float, stop: threading.Event):
        self.script, self.max_records, self.gather_s, self.stop = list(script), max_records, gather_s, stop
        self.name, self.backoff, self.consumer, self.conn = "scripted", Backoff(), None, None

    def poll_once(self) -> int:
        if not self.script:
            self.stop.set()
            return 0
        return self.script.pop(0)


class RecordingStop(threading.Event):
    """A stop event that records the waits asked of it (and does not sleep)."""

    def __init__(self):
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return self.is_set()


def test_the_loop_waits_on_its_stop_event_after_each_partial_batch_only():
    stop = RecordingStop()
    loop = ScriptedLoop([0, 2, 500, 0, 7, 0], max_records=500, gather_s=0.1, stop=stop)
    polls_seen = []
    loop.run(stop, after_poll=lambda lp: polls_seen.append(len(lp.script)))
    assert stop.waits == [0.1, 0.1]      # after the 2 and the 7; not after the empty polls or the full one
    assert len(polls_seen) == 7          # the timers' check (after_poll) still follows every poll


def test_a_stop_during_the_wait_ends_the_loop_without_another_poll():
    stop = RecordingStop()

    class StopsWhileWaiting(ScriptedLoop):
        def poll_once(self) -> int:
            self.polls = getattr(self, "polls", 0) + 1
            return 3

    loop = StopsWhileWaiting([], max_records=500, gather_s=0.1, stop=stop)
    original = stop.wait

    def wait_and_stop(timeout=None):
        stop.set()
        return original(timeout)

    stop.wait = wait_and_stop
    loop.run(stop)
    assert loop.polls == 1


def test_the_loops_no_one_waits_on_gather_longer_than_the_path_to_the_query_api(monkeypatch):
    """POST -> visible crosses intake's relay and the query consumer only: they keep the short waits.
    The SLA clocks, the notifier's mails, intake's auto-close decisions and the SLA's and notifier's
    relays are off that path (a deadline or a mail half a second later is still at once for the
    person who gets it), so they gather BACKGROUND_GATHER_S and pay their per-batch costs less often."""
    from configs import intake_config, notifier_config, query_config, sla_config
    from helpdesk_shared import entrypoint, kafka, outbox
    from intake import relay as intake_relay, sla_consumer as intake_sla
    from notifier import consumer as notifier_consumer, relay as notifier_relay, store as notifier_store
    from query import consumer as query_consumer
    from sla import consumer as sla_consumer, relay as sla_relay, store as sla_store

    monkeypatch.setattr(kafka.ConsumerLoop, "_start", lambda self, stop, wait_s: None)  # no Kafka, no database
    monkeypatch.setattr(intake_sla, "require_migrated", lambda url: None)
    monkeypatch.setattr(notifier_store, "require_migrated", lambda url: None)
    monkeypatch.setattr(sla_store, "require_migrated", lambda url: None)
    monkeypatch.setattr(query_consumer, "require_migrated", lambda url: None)
    url = "postgresql://mesa:mesa@127.0.0.1:9/mesa_nowhere"
    assert 0.1 < kafka.BACKGROUND_GATHER_S <= 1.0
    assert intake_sla.build(intake_config(url, "/tmp")).gather_s == kafka.BACKGROUND_GATHER_S
    assert notifier_consumer.build(notifier_config(url)).gather_s == kafka.BACKGROUND_GATHER_S
    assert sla_consumer.TimerService(sla_config(url)).loop.gather_s == kafka.BACKGROUND_GATHER_S
    assert query_consumer.build(query_config(url)).gather_s == kafka.GATHER_S

    relays = {}
    monkeypatch.setattr(entrypoint, "serve_relay", lambda service, *a, **k: relays.update({service: k}))
    for module in (intake_relay, sla_relay, notifier_relay):
        monkeypatch.setattr(module, "serve_relay", entrypoint.serve_relay)
        monkeypatch.setattr(module.Config, "from_env", classmethod(lambda cls: None))
        module.main()
    assert relays["intake-relay"].get("gather_s", outbox.RELAY_GATHER_S) == outbox.RELAY_GATHER_S
    assert relays["sla-relay"]["gather_s"] == relays["notifier-relay"]["gather_s"] == kafka.BACKGROUND_GATHER_S
