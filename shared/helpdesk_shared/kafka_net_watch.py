"""A guard around kafka-python 3's network thread: a call that waits on it forever is nudged, then bounded.

kafka-python 3.0 runs a client's network I/O on its own thread; a call from our thread (poll, seek,
end_offsets, a producer's flush) schedules a task on it and blocks on a `threading.Event` with no
timeout (`NetworkSelector.run`). Seen under load (py-spy, 2026-11-30, stacks of a loaded test run): a
consumer's main thread blocked there for minutes, in `Fetcher.fetch_records` or `send_fetches`,
while the network thread sat idle in `select()`; the process applied nothing and said nothing, and
CI lost a whole stack's read model to it. The same unbounded wait is kafka-python issue #3121 (fixed
after 3.0.12, the newest release on PyPI here).

What this module does, installed once by `helpdesk_shared.kafka`: each such wait goes in slices of
NUDGE_EVERY_S; after each empty slice the network thread is woken again (its wake-up byte), which
ends a wait that only lacked a wake-up; a wait still unanswered after WAIT_LIMIT_S raises
`NetworkThreadStalled` (a KafkaError, so the loops treat it as an outage: ConsumerLoop makes a new
client). Waits with a timeout of their own, and calls on the network thread itself, are left alone.
"""
from __future__ import annotations

import logging
import threading
import types

from kafka.errors import KafkaTimeoutError

log = logging.getLogger(__name__)

NUDGE_EVERY_S = 1.0
WAIT_LIMIT_S = 120.0

_current = threading.local()  # the NetworkSelector whose run() this thread is inside


class NetworkThreadStalled(KafkaTimeoutError):
    """kafka-python's network thread did not answer a call within WAIT_LIMIT_S, even woken again."""


class NudgingEvent(threading.Event):
    """An Event whose untimed wait wakes the caller's network selector every NUDGE_EVERY_S, up to WAIT_LIMIT_S."""

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            return super().wait(timeout)
        selector = getattr(_current, "selector", None)
        waited = 0.0
        while not super().wait(NUDGE_EVERY_S):
            waited += NUDGE_EVERY_S
            if waited >= WAIT_LIMIT_S:
                log.error("kafka-python's network thread did not answer", extra={
                    "alert": "ops", "waited_s": waited})
                raise NetworkThreadStalled(f"kafka-python's network thread did not answer in {waited:.0f} s")
            if selector is not None:
                selector.wakeup()
        if waited:
            log.warning("kafka-python's network thread answered after being woken again",
                        extra={"waited_s": waited})
        return True


def install() -> None:
    """Put the guard around kafka.net.selector.NetworkSelector.run (idempotent)."""
    from kafka.net import selector as module

    if getattr(module.NetworkSelector.run, "_mesa_guard", False):
        return
    original = module.NetworkSelector.run

    def run(self, coro, *args):
        previous = getattr(_current, "selector", None)
        _current.selector = self
        try:
            return original(self, coro, *args)
        finally:
            _current.selector = previous

    run._mesa_guard = True
    module.NetworkSelector.run = run
    # run() makes its Event through the module's `threading`: the same module, but NudgingEvent.
    module.threading = types.SimpleNamespace(**{**vars(threading), "Event": NudgingEvent})
