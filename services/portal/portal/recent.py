"""Reads a page repeats that change rarely (a desk's agents, its module catalog), kept for a short,
stated time by each portal worker, so the staff queue and ticket pages make one or two calls to the
other services instead of three or four (issue 9's page benchmark).

Each answer is kept under its reader's own bearer token: no reader is ever shown an answer made
for another. Only a page's side reads are kept; its main read (the queue, the ticket) always goes
to the service, whose token check (expiry, revocation) decides every page. Only successful answers
are kept: a refusal or an outage is asked again on the next page. No I/O and an injected clock.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Hashable

# A desk's agents or catalog may lag a change made elsewhere by this long (a new agent shows in
# the assign list, a renamed module in the queue's filter, within half a minute). Intake checks
# every command against its own current data, so a stale list never lets a wrong change through.
SECONDS = 30.0
# Per worker: 20 staff users × 2 reads × a few desks is well under this; more only evicts the oldest.
MAX_ENTRIES = 512


class RecentReads:
    """Successful answers by key for `seconds` (thread safe: a page's reads run side by side)."""

    def __init__(self, seconds: float = SECONDS, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic):
        self.seconds, self.max_entries, self.clock = seconds, max_entries, clock
        self._kept: dict[Hashable, tuple[float, object]] = {}  # key -> (read at, answer); oldest first
        self._lock = threading.Lock()

    def get(self, key: Hashable, read: Callable[[], object]) -> object:
        """The answer kept under `key` if younger than `seconds`, else `read()` (kept when `.ok`)."""
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] < self.seconds:
                return kept[1]
        answer = read()  # outside the lock: two pages may both read, never wait on each other
        if getattr(answer, "ok", False):
            with self._lock:
                self._kept.pop(key, None)
                self._kept[key] = (now, answer)
                if len(self._kept) > self.max_entries:
                    self._drop_expired(now)
                while len(self._kept) > self.max_entries:
                    del self._kept[next(iter(self._kept))]
        return answer

    def forget(self, matches: Callable[[Hashable], bool]) -> None:
        """Drop the answers whose key `matches` (this worker changed what they say)."""
        with self._lock:
            for key in [k for k in self._kept if matches(k)]:
                del self._kept[key]

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, (at, _) in self._kept.items() if now - at >= self.seconds]:
            del self._kept[key]
