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
