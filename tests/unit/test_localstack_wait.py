"""A timed-out wait of the test stacks says which of their processes died, and how (CI keeps no logs)."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from helpdesk_shared import localstack
from helpdesk_shared.localstack import Process, wait_until


def test_a_timed_out_wait_names_the_stack_process_that_exited_with_its_last_log_line(tmp_path, monkeypatch):
    log_path = tmp_path / "query-consumer.log"
    dead = Process("query-consumer", [sys.executable, "-c", "print('starting'); print('RuntimeError: boom'); "
                                      "raise SystemExit(3)"], {}, log_path)
    dead.start().popen.wait(timeout=60)
    alive = Process("relay", [sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / "relay.log")
    alive.start()
    try:
        monkeypatch.setattr(localstack, "STARTED", [SimpleNamespace(processes={"q": dead, "r": alive})])
        with pytest.raises(TimeoutError) as raised:
            wait_until(lambda: False, 0.01, "SOP-1 in query")
    finally:
        alive.kill()
    message = str(raised.value)
    assert message.startswith("timed out after 0.01 s waiting for SOP-1 in query")
    assert "query-consumer exited with 3: RuntimeError: boom" in message
    assert "relay" not in message


def test_a_timed_out_wait_with_every_process_running_says_only_what_it_waited_for(monkeypatch):
    monkeypatch.setattr(localstack, "STARTED", [])
    with pytest.raises(TimeoutError, match=r"^timed out after 0.01 s waiting for nothing$"):
        wait_until(lambda: False, 0.01, "nothing")


def test_a_stack_stop_with_a_process_that_ignores_sigterm_stops_the_rest_cleans_up_and_names_it(tmp_path, monkeypatch):
    """A process that does not exit on SIGTERM within the stop's patience is killed; the others are
    stopped all the same, the stack's databases and topics are dropped, and the stop then fails naming
    it (a stuck process is a defect to see, not a reason to leave the rest of the stack running)."""
    stubborn = Process("notifier-relay", [sys.executable, "-c", "import signal, time; "
                                          "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
                                          "time.sleep(120)"], {}, tmp_path / "relay.log")
    polite = [Process(f"svc{n}", [sys.executable, "-c", "import time; time.sleep(120)"], {}, tmp_path / f"s{n}.log")
              for n in range(3)]
    for p in [stubborn, *polite]:
        p.start()
    wait_until(lambda: "ready" in (tmp_path / "relay.log").read_text(), 30, "the stubborn process ignoring SIGTERM")
    dropped, deleted = [], []
    monkeypatch.setattr(localstack, "drop_database", dropped.append)
    stack = SimpleNamespace(processes={"a": polite[0], "r": stubborn, "b": polite[1], "c": polite[2]},
                            databases={"intake": "db_i", "query": "db_q"}, delete_topics=lambda: deleted.append(True))
    monkeypatch.setattr(localstack, "STARTED", [stack])
    monkeypatch.setattr(localstack, "STOP_PATIENCE_S", 1.0)
    with pytest.raises(RuntimeError, match=r"notifier-relay did not stop within 1.0 s of SIGTERM"):
        localstack.LocalStack.stop(stack)
    assert not stubborn.running and not any(p.running for p in polite)
    assert polite[0].popen.returncode == -15 and stubborn.popen.returncode == -9
    assert dropped == ["db_i", "db_q"] and deleted == [True] and localstack.STARTED == []
