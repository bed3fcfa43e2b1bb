"""The issue 11 bench's pure helpers (bench/proc_cpu.py): /proc stat lines, CPU per ticket split per
process, percentiles, the mixed load's counts."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from proc_cpu import (ProcStat, cpu_seconds_by_group, descendants, merge_samples, mixed_counts,  # noqa: E402
                      parse_stat, per_unit_ms, percentile)

# A real line's shape (Linux proc(5)): pid (comm) state ppid pgrp session tty tpgid flags minflt
# cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime ...
WORKER = ("4242 (gunicorn: worker [intake) x)) S 4200 4200 4200 0 -1 4194560 1000 0 0 0 "
          "150 30 0 0 20 0 3 0 987654 123456789 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0")


def stat(pid, ticks, start=1, ppid=1, comm="python"):
    return ProcStat(pid=pid, comm=comm, ppid=ppid, pgid=pid, cpu_ticks=ticks, start_time=start)


def test_a_stat_line_is_read_from_the_last_parenthesis_so_a_command_name_with_spaces_and_parentheses_parses():
    s = parse_stat(WORKER)
    assert s == ProcStat(pid=4242, comm="gunicorn: worker [intake) x)", ppid=4200, pgid=4200,
                         cpu_ticks=180, start_time=987654)


def test_descendants_follow_parent_pids_down_every_level_and_nothing_else():
    stats = {p.pid: p for p in [stat(10, 0), stat(11, 0, ppid=10), stat(12, 0, ppid=11), stat(13, 0, ppid=1),
                                stat(14, 0, ppid=13)]}
    assert descendants(stats, 10) == {10, 11, 12}
    assert descendants(stats, 99) == set()


def test_cpu_per_group_counts_the_difference_a_new_process_from_zero_and_a_reused_pid_as_new():
    before = {1: stat(1, 100), 2: stat(2, 50), 3: stat(3, 70, start=5)}
    after = {1: stat(1, 300), 2: stat(2, 60), 3: stat(3, 20, start=9), 4: stat(4, 40)}
    groups = {1: "intake", 2: "intake", 3: "relay", 4: "postgresql", 5: "gone"}
    assert cpu_seconds_by_group(before, after, groups, ticks_per_second=100) == {
        "intake": 2.1, "relay": 0.2, "postgresql": 0.4}


def test_a_process_that_exited_between_samples_keeps_what_it_spent_until_its_last_sample():
    merged = merge_samples([{7: stat(7, 10)}, {7: stat(7, 25), 8: stat(8, 5)}, {8: stat(8, 9)}])
    assert merged == {7: stat(7, 25), 8: stat(8, 9)}
    assert cpu_seconds_by_group({7: stat(7, 10)}, merged, {7: "postgresql"}, 100) == {"postgresql": 0.15}


def test_cpu_per_ticket_is_milliseconds_per_unit_per_group_with_their_total_largest_first():
    split = per_unit_ms({"relay": 0.5, "intake": 1.5, "kafka": 0.25}, units=1000)
    assert split == {"total": 2.25, "intake": 1.5, "relay": 0.5, "kafka": 0.25}
    assert list(split) == ["total", "intake", "relay", "kafka"]
    assert per_unit_ms({"intake": 1.0}, units=0) == {}


@pytest.mark.parametrize("p, expected", [(50, 5), (99, 10), (100, 10), (1, 1), (10, 1), (11, 2)])
def test_percentiles_are_nearest_rank(p, expected):
    assert percentile([7, 3, 10, 1, 2, 4, 5, 6, 8, 9], p) == expected


def test_the_percentile_of_nothing_is_none_and_of_one_value_that_value():
    assert percentile([], 99) is None
    assert percentile([0.25], 50) == 0.25


def test_the_wrk_scripts_flat_counts_come_back_per_kind_of_request_with_the_duplicate_refusals():
    assert mixed_counts({"1:201": 90, "1:409": 4, "2:201": 5, "3:201": 3, "4:201": 1, "4:409": 1, "refused": 4}) == {
        "agent_answer": {"201": 3}, "agent_close": {"201": 1, "409": 1}, "customer_message": {"201": 5},
        "ticket": {"201": 90, "409": 4}, "duplicate_refusals": 4}
