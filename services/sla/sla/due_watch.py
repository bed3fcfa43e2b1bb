"""When the timer process must look for due timers: at the next due instant, not after every poll (pure).

The timer check (a Kafka round trip for the end offsets, then a transaction reading the intake
watermark, the settings and the clocks due) ran after every poll, ten times a second, to find
nothing almost always. The process is the single writer of its partitions' clocks, so it can know
the earliest unfired due instant on them (issue 11, "polling that costs nothing when idle"):

- read from the database (`clocks.next_due`) after each check, for the partitions held then;
- lowered, without a read, by every batch that writes a clock (`lowered`): a due instant moving
  later leaves the known one early, which costs one check that fires nothing and reads it again;
- forgotten (`DueWatch()`) when something else may have moved a clock: the partitions held changed
  or were sought again (a rebalance, `mesa rebuild`), a calendar change re-pinned open tickets
  (the SLA API, NOTIFY sla_clocks), the database session was replaced.

A check is skipped only while that instant lies beyond the furthest `read_past` could reach now
(`reach`): the safe instant never passes now or the latest event time read, minus the grace. The
clock is read at every poll, so a jump of the driven test clock (helpdesk_shared.clock) past a due
instant makes the next poll check.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Hashable, Iterable


@dataclass(frozen=True)
class DueWatch:
    """The earliest unfired due instant on the partitions held, as known since it was last read."""

    holding: Hashable | None = None    # what it was read for (partitions + assignment count); None: not known
    earliest: datetime | None = None   # None with `holding` set: no timer pending there

    def lowered(self, due: datetime | None) -> "DueWatch":
        """After a batch wrote a clock whose next unfired timer is due at `due` (None: none)."""
        if due is None or self.holding is None:
            return self
        return DueWatch(self.holding, due if self.earliest is None else min(self.earliest, due))

    def must_check(self, holding: Hashable, reach: datetime) -> bool:
        """Whether the timer check must run: not known for what is held now, or a timer may be due by `reach`."""
        if self.holding is None or self.holding != holding:
            return True
        return self.earliest is not None and self.earliest <= reach


def reach(now: datetime, read_until: Iterable[datetime], grace: timedelta) -> datetime:
    """The furthest instant `ConsumerLoop.read_past(now, grace)` may return: now or the latest event time read, less the grace."""
    return max([now, *read_until]) - grace
