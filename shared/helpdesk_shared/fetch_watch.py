"""When a Kafka client has records waiting for it and fetches none: the rule behind ConsumerLoop's fetch watchdog.

Seen under load (issue 11, py-spy): kafka-python 3.0.12 busy-looping in `KafkaConsumer.poll` ->
`fetch_records` -> `send_fetches`, every poll empty, for 90 minutes, while the relay had published
records to the partitions it held (a fetch response that never came). No single wait was long, so
neither kafka_net_watch's guard nor the loop's stall dump fired: the consumer applied nothing, silently.

The rule, pure (time is an argument; partitions are opaque keys): a client is stalled when nothing
has been fetched for `stall_s` and a lag check — position < end offset on a partition it reads — found
lag at this check AND at an earlier one with nothing fetched in between. One check alone is not
enough: records published a moment before it are still on their way in a healthy fetch (the broker
answers a waiting fetch within milliseconds of a write), so a single sighting could restart a
healthy client; a lag that outlives a whole check interval (stall_s / CHECKS_PER_STALL, far longer
than a fetch round, IDLE_POLL_MS) with nothing fetched is a fetch that is not coming back.

A check is due only after a check interval with nothing fetched, and at most once per interval: a
loop receiving records never asks for end offsets, an idle one asks once per interval.
"""
from __future__ import annotations

from typing import Hashable, Mapping

# 60 s: far longer than any pause a healthy client has with records waiting (a fetch waits at most
# IDLE_POLL_MS at the broker, a request times out after 30 s and is retried, a group rebalance ends
# within the 10 s session timeout and seeks afresh, which counts as progress), far shorter than what
# the wedge cost when nobody looked (2.5 minutes of nothing applied by an SLA instance; 90 minutes
# in group mode).
FETCH_STALL_S = 60.0
# Lag checks per stall period: every 10 s at 60 s. An idle loop then asks end offsets once per 10 s
# (one ListOffsets request) beside its 20 fetch rounds in that time (IDLE_POLL_MS = 500 ms).
CHECKS_PER_STALL = 6


def lagging(positions: Mapping[Hashable, int | None], ends: Mapping[Hashable, int]) -> dict:
    """The partitions with records past their position: {partition: (position, end offset)}.

    A position of None (not known yet: the client has not settled where to read from) counts as
    lag when the partition holds any record.
    """
    return {tp: (position, ends[tp]) for tp, position in positions.items()
            if tp in ends and (ends[tp] > 0 if position is None else position < ends[tp])}


class FetchWatch:
    """When a loop last saw its client fetch, and whether it lags without fetching (see the module)."""

    def __init__(self, now: float, stall_s: float = FETCH_STALL_S):
        if stall_s <= 0:
            raise ValueError(f"a fetch stall must last some time, not {stall_s} s")
        self.stall_s = stall_s
        self.check_every_s = stall_s / CHECKS_PER_STALL
        self.fetched_at = now
        self.checked_at: float | None = None
        self.lagging_since: float | None = None  # the earliest check that saw lag since the last fetch

    def progress(self, now: float) -> None:
        """The client fetched records for a partition read, or a batch was applied, or positions were
        sought (a fetch from them starts now): the stall period starts again."""
        self.fetched_at = now
        self.lagging_since = None

    def check_due(self, now: float) -> bool:
        """True when nothing was fetched for a check interval and none was checked within one."""
        interval = self.check_every_s
        return now - self.fetched_at >= interval and (self.checked_at is None or now - self.checked_at >= interval)

    def checked(self, now: float, lags: bool) -> bool:
        """Note a lag check's outcome (`lags`: some partition read has records past its position, or
        the check could not tell); True when the client is stalled."""
        self.checked_at = now
        if not lags:
            self.lagging_since = None
            return False
        if self.lagging_since is None:
            self.lagging_since = now
            return False
        return now - self.fetched_at >= self.stall_s
