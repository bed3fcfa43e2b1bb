"""The clock a test run may drive (helpdesk_shared.clock): off unless configured, forward only, one time line."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared.clock import (CLOCK_FILE_VAR, DrivenClock, advance, as_clock_time, clock_from_env,
                                   parse_jumps, utc_now)

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)


class Wall:
    """A wall clock the test sets."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_without_the_variable_every_process_reads_the_wall_clock():
    assert clock_from_env({}) is utc_now
    assert clock_from_env({CLOCK_FILE_VAR: "  "}) is utc_now


def test_a_variable_naming_a_missing_file_stops_the_process_instead_of_falling_back(tmp_path):
    with pytest.raises(FileNotFoundError):
        clock_from_env({CLOCK_FILE_VAR: str(tmp_path / "nowhere")})


def test_a_malformed_or_backward_jump_is_refused():
    with pytest.raises(ValueError):
        parse_jumps("2026-11-25T14:00:00+00:00 -60\n")
    with pytest.raises(ValueError):
        parse_jumps("2026-11-25T14:00:00 60\n")  # no zone: which instant?
    with pytest.raises(ValueError):
        parse_jumps("mañana\n")


def test_an_empty_file_is_the_wall_clock_and_each_jump_moves_now_on_from_when_it_was_made(tmp_path):
    path, wall = tmp_path / "clock", Wall(T0)
    path.touch()
    clock = DrivenClock(path, wall)
    assert clock() == T0
    advance(path, 3600, wall)
    assert clock() == T0 + timedelta(hours=1)
    wall.now = T0 + timedelta(seconds=5)
    advance(path, 60, wall)
    assert clock() == T0 + timedelta(hours=1, minutes=1, seconds=5)
    # A wall instant from before a jump stays where it was on the driven time line.
    assert clock.at(T0 - timedelta(seconds=1)) == T0 - timedelta(seconds=1)
    assert clock.at(T0 + timedelta(seconds=2)) == T0 + timedelta(hours=1, seconds=2)


def test_a_clock_read_from_the_environment_follows_jumps_another_process_writes(tmp_path):
    path = tmp_path / "clock"
    path.touch()
    clock = clock_from_env({CLOCK_FILE_VAR: str(path)})
    before = clock()
    advance(path, 7200)
    assert clock() - before >= timedelta(hours=2)


def test_a_watermark_read_on_the_wall_clock_is_told_on_the_driven_time_line(tmp_path):
    # An event stuck in an outbox since before a jump keeps the watermark before the jump: a
    # reader never takes it for published once the clock has moved past its deadline.
    path, wall = tmp_path / "clock", Wall(T0)
    path.touch()
    clock = DrivenClock(path, wall)
    wall.now = T0 + timedelta(seconds=10)
    advance(path, 3600, wall)
    assert as_clock_time(clock, T0) == T0
    assert as_clock_time(clock, T0 + timedelta(seconds=11)) == T0 + timedelta(hours=1, seconds=11)
    assert as_clock_time(utc_now, T0) == T0
