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


def test_a_process_stuck_past_its_stall_time_writes_every_threads_stack_to_its_log(tmp_path):
    # The consumer loop and the relay arm this once per round; here a child process arms it and then hangs.
    code = ("import time; from helpdesk_shared.outage import watch_for_stall\n"
            "def stuck_in_a_round():\n    time.sleep(30)\n"
            "watch_for_stall(0.2); stuck_in_a_round()\n")
    assert "Thread" in stack_dump_of(code, tmp_path)


def test_a_disarmed_stall_watch_writes_nothing(tmp_path):
    import subprocess
    import sys
    code = ("import time; from helpdesk_shared.outage import watch_for_stall\n"
            "watch_for_stall(0.2); watch_for_stall(None); time.sleep(0.6); print('done')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "done" and "Thread" not in out.stderr


def test_a_loop_re_arming_its_stall_watch_every_round_restarts_the_watchdog_thread_rarely(monkeypatch):
    # Arming restarts faulthandler's watchdog thread; the loops arm once per round (issue 11's profile).
    import faulthandler
    from helpdesk_shared import outage
    armed = []
    monkeypatch.setattr(faulthandler, "dump_traceback_later", lambda *a, **k: armed.append(a))
    monkeypatch.setattr(faulthandler, "cancel_dump_traceback_later", lambda: None)
    monkeypatch.setattr(outage, "_armed", None)
    for _ in range(1000):
        outage.watch_for_stall(90.0)
    assert len(armed) == 1
    outage.watch_for_stall(None)
    outage.watch_for_stall(90.0)  # armed again after a disarm
    outage.watch_for_stall(5.0)   # and with another window at once
    assert len(armed) == 3


def test_a_loop_that_re_armed_many_times_and_then_got_stuck_still_writes_its_stacks(tmp_path):
    code = ("import time; from helpdesk_shared.outage import watch_for_stall\n"
            "def stuck_in_a_round():\n    time.sleep(30)\n"
            "end = time.monotonic() + 0.5\n"
            "while time.monotonic() < end:\n    watch_for_stall(0.3); time.sleep(0.001)\n"
            "stuck_in_a_round()\n")
    assert "Thread" in stack_dump_of(code, tmp_path)


def stack_dump_of(code: str, tmp_path) -> str:
    """Run `code` (it arms the stall watch, then hangs in `stuck_in_a_round`) in a child process whose
    output goes to a log, as a service's does; return the log once it holds the stack dump."""
    import subprocess
    import sys
    from helpdesk_shared.localstack import wait_until
    log = tmp_path / "consumer.log"
    with open(log, "wb") as out:
        child = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: "stuck_in_a_round" in log.read_text(errors="replace"), 60, "the stack dump")
        finally:
            child.kill()
            child.wait()
    return log.read_text(errors="replace")
