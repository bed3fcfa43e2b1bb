"""The wall clock: the one place Mesa reads it. Composition roots pass it in; domain code takes time as an argument.

Test runs may drive it (issue 10 item 6): when MESA_TEST_CLOCK_FILE names a file, the processes of a
stack read "now" as the wall clock plus the jumps a test appended to that file, so a test waits for a
deadline by moving the clock past it instead of racing a window of a few seconds. Off unless that
variable is set (no production setting turns it on), and a set variable naming a file that is missing
or does not parse stops the process at start rather than falling back to the wall clock silently.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Mapping

CLOCK_FILE_VAR = "MESA_TEST_CLOCK_FILE"


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(timezone.utc)


def parse_jumps(text: str) -> list[tuple[datetime, timedelta]]:
    """The clock file's lines `<wall instant ISO 8601> <seconds>`: from that wall instant on, now moves on by seconds.

    A jump is never negative: time that went backwards would re-open what the services already
    decided (a fired timer, a sent mail).
    """
    jumps = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        at, seconds = line.split()
        when, delta = datetime.fromisoformat(at), timedelta(seconds=float(seconds))
        if when.tzinfo is None or delta < timedelta(0):
            raise ValueError(f"{CLOCK_FILE_VAR} line {number}: needs a zoned instant and seconds >= 0: {line!r}")
        jumps.append((when, delta))
    return jumps


def offset_at(jumps: list[tuple[datetime, timedelta]], wall: datetime) -> timedelta:
    """How far ahead of the wall clock the driven clock was at wall instant `wall`."""
    return sum((delta for when, delta in jumps if when <= wall), timedelta(0))


class DrivenClock:
    """The wall clock plus the jumps written to a file by a test (see the module docstring)."""

    def __init__(self, path: Path, wall: Callable[[], datetime] = utc_now):
        self.path, self.wall = Path(path), wall
        self._seen: tuple[int, int] | None = None
        self._jumps: list[tuple[datetime, timedelta]] = []
        self._load()  # a missing or malformed file fails here, when the process starts

    def _load(self) -> None:
        stat = self.path.stat()
        if (stat.st_mtime_ns, stat.st_size) != self._seen:
            self._jumps = parse_jumps(self.path.read_text())
            self._seen = (stat.st_mtime_ns, stat.st_size)

    def __call__(self) -> datetime:
        return self.at(self.wall())

    def at(self, wall: datetime) -> datetime:
        """The driven instant that wall instant `wall` was (or is): wall plus the jumps made by then."""
        self._load()
        return wall + offset_at(self._jumps, wall)


def clock_from_env(environ: Mapping[str, str] = os.environ) -> Callable[[], datetime]:
    """The clock a process runs on: the wall clock, or a DrivenClock when MESA_TEST_CLOCK_FILE is set."""
    path = environ.get(CLOCK_FILE_VAR, "").strip()
    return DrivenClock(Path(path)) if path else utc_now


def as_clock_time(clock: Callable[[], datetime], wall: datetime) -> datetime:
    """A wall instant (e.g. PostgreSQL's now()) on `clock`'s time line (the same instant on the wall clock)."""
    at = getattr(clock, "at", None)
    return at(wall) if at else wall


def advance(path: Path, seconds: float, wall: Callable[[], datetime] = utc_now) -> None:
    """Move a driven clock forward by `seconds` from now on (tests: every process of the stack follows)."""
    with open(path, "a") as f:
        f.write(f"{wall().isoformat()} {float(seconds)}\n")
