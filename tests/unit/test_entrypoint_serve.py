"""serve: how a process's run is started again after an outage at start, and ended by a stop while waiting."""
from __future__ import annotations

import psycopg
import pytest

from helpdesk_shared import entrypoint
from helpdesk_shared.outage import Backoff, Stopped


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(entrypoint, "Backoff", lambda: Backoff(first=0.001, most=0.001))
    monkeypatch.setattr(entrypoint.logs, "setup", lambda service: None)


def test_an_outage_while_starting_is_waited_out_and_the_run_started_again():
    calls = []

    def run(stop):
        calls.append(stop)
        if len(calls) < 3:
            raise psycopg.OperationalError("connection refused")

    entrypoint.serve("test-service", run)
    assert len(calls) == 3 and calls[0] is calls[2]  # the same stop event each time


def test_a_stop_while_starting_ends_the_process_without_an_error():
    calls = []

    def run(stop):
        calls.append(1)
        raise Stopped("test-service")

    entrypoint.serve("test-service", run)
    assert calls == [1]


def test_a_bug_is_not_an_outage_it_ends_the_process_for_its_supervisor_to_restart():
    def run(stop):
        raise KeyError("not an outage")

    with pytest.raises(KeyError):
        entrypoint.serve("test-service", run)
