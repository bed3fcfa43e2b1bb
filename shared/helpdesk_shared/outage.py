"""What counts as an outage of PostgreSQL or Kafka, and how long to wait before trying again.

Long-running processes catch exactly these errors, back off and reconnect; anything else
is a bug or a poison input and crashes the process, which its supervisor restarts
(bin/up's supervisord, docker-compose's `restart: unless-stopped`).
"""
from __future__ import annotations

import faulthandler
import logging
import sys
import threading
import time

import psycopg
from kafka.errors import KafkaError

log = logging.getLogger(__name__)

# A dropped or refused database connection (server restart, pg_terminate_backend, network),
# a pool that could not lend one in time (PoolTimeout is an OperationalError), and every
# error of the Kafka client (broker down, metadata or request timeouts).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError, KafkaError)


class Stopped(Exception):
    """Told to stop (SIGTERM) while still waiting for an outage to end at start: the process exits cleanly."""


def is_database_error(exc: BaseException) -> bool:
    """True for a lost or refused PostgreSQL connection (as opposed to a Kafka error)."""
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


class Backoff:
    """Bounded exponential back-off: first, 2×first, … up to `most` seconds; `reset` after a success."""

    def __init__(self, first: float = 0.5, most: float = 10.0):
        self.first, self.most = first, most
        self.current = first

    def reset(self) -> None:
        """Start again from the first delay (call after a successful round)."""
        self.current = self.first

    def wait(self, stop: threading.Event, what: str, exc: BaseException) -> bool:
        """Log the outage, sleep the current delay (or until `stop`), double it; True if stopped."""
        log.warning("outage: retrying", extra={"what": what, "error": f"{type(exc).__name__}: {exc}",
                                               "retry_in_s": self.current})
        delay, self.current = self.current, min(self.current * 2, self.most)
        return stop.wait(delay)


# When the stall dump was last armed, and for how long (None: disarmed). Arming restarts
# faulthandler's watchdog thread (cancel, join, start: ~30 us of CPU and two thread switches),
# and the loops arm once per round, tens of times a second under load (issue 11's profile: 4-9 %
# of a consumer's or relay's Python time). A re-arm with the same window within a small part of
# it changes nothing worth that: the dump then comes between `seconds` minus that part and
# `seconds` after the last round.
_armed: tuple[float, float] | None = None
REARM_SHARE = 0.02  # of the window; at most one second
REARM_MOST_S = 1.0


def watch_for_stall(seconds: float | None) -> None:
    """Arm (or re-arm) the process's stall dump: if not re-armed within `seconds`, every thread's
    stack goes to stderr (the process's log), and again every `seconds` while it stays stuck; None
    disarms it. A loop calls it once per round, so a stuck process is never silent. One per process
    (faulthandler keeps a single timer); a stream without a file descriptor (a test's capture) skips it.
    A re-arm with the same `seconds` soon after the last one is skipped (see _armed).
    """
    global _armed
    now = time.monotonic()
    if seconds is not None and _armed is not None and _armed[1] == seconds \
            and now - _armed[0] < min(REARM_MOST_S, seconds * REARM_SHARE):
        return
    try:
        if seconds is None:
            _armed = None
            faulthandler.cancel_dump_traceback_later()
        else:
            faulthandler.dump_traceback_later(seconds, repeat=True, file=sys.__stderr__)
            _armed = (now, seconds)
    except (AttributeError, ValueError, OSError):
        log.debug("no stall dump: stderr has no file descriptor")
