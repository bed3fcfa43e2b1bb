"""Pure parts of the issue 11 bench (bench/issue11.py): /proc/<pid>/stat lines, CPU per unit of work
split per process, percentiles, the mixed load's counts. No I/O here: the bench reads the files and
runs `ps`, these functions only compute, so tests/unit/test_bench_proc_cpu.py pins them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProcStat:
    """What the bench needs of one /proc/<pid>/stat line."""

    pid: int
    comm: str
    ppid: int
    pgid: int
    cpu_ticks: int    # utime + stime, all threads, in clock ticks
    start_time: int   # clock ticks after boot: with the pid, tells a reused pid from the process seen before


def parse_stat(line: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name sits in parentheses and may itself hold spaces
    and ')' (`(gunicorn: worker [x])`), so the fields are counted from the last ')'."""
    head, _, rest = line.rpartition(")")
    pid_text, _, comm = head.partition(" (")
    fields = rest.split()
    # After the ')': state(0) ppid(1) pgrp(2) ... utime(11) stime(12) ... starttime(19), i.e. fields 3.. of proc(5).
    return ProcStat(pid=int(pid_text), comm=comm, ppid=int(fields[1]), pgid=int(fields[2]),
                    cpu_ticks=int(fields[11]) + int(fields[12]), start_time=int(fields[19]))


def descendants(stats: dict[int, ProcStat], root: int) -> set[int]:
    """`root` and every process under it (gunicorn's workers under their master), by parent pid."""
    children: dict[int, list[int]] = {}
    for s in stats.values():
        children.setdefault(s.ppid, []).append(s.pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found or pid not in stats:
            continue
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds_by_group(before: dict[int, ProcStat], after: dict[int, ProcStat], groups: dict[int, str],
                         ticks_per_second: int) -> dict[str, float]:
    """CPU seconds each named group spent between two snapshots (pid -> ProcStat).

    `groups` names the pids to count (pid -> group name), as classified at the end. A pid seen in
    both snapshots with the same start time counts its difference; a process started in between
    counts from zero (all it spent is in the window); a pid reused by a new process is a new
    process. Processes gone by the end are not counted (the bench samples often enough for the
    long-lived ones; see `merge_samples`)."""
    spent: dict[str, float] = {}
    for pid, name in groups.items():
        now = after.get(pid)
        if now is None:
            continue
        then = before.get(pid)
        base = then.cpu_ticks if then is not None and then.start_time == now.start_time else 0
        spent[name] = spent.get(name, 0.0) + max(0, now.cpu_ticks - base) / ticks_per_second
    return spent


def merge_samples(samples: list[dict[int, ProcStat]]) -> dict[int, ProcStat]:
    """The last sample of every process seen in any of `samples` (oldest first), so that a process
    that exited before the end (a PostgreSQL backend of a closed connection) still counts what it
    spent up to its last sample. A pid reused later keeps the later process."""
    merged: dict[int, ProcStat] = {}
    for sample in samples:
        merged.update(sample)
    return merged


def per_unit_ms(seconds_by_group: dict[str, float], units: int) -> dict[str, float]:
    """CPU milliseconds per unit of work (an accepted ticket) per group, with their `total`,
    largest first; empty when no unit was done."""
    if units <= 0:
        return {}
    split = {name: round(s * 1000 / units, 3) for name, s in sorted(seconds_by_group.items(), key=lambda kv: -kv[1])}
    return {"total": round(sum(seconds_by_group.values()) * 1000 / units, 3), **split}


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100] of `values`: the smallest value with at least p % of
    the values at or below it; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-p * len(ordered) // 100)))
    return ordered[int(rank) - 1]


KINDS = {1: "ticket", 2: "customer_message", 3: "agent_answer", 4: "agent_close"}


def mixed_counts(flat: dict[str, int]) -> dict[str, dict[str, int]]:
    """The wrk script's flat counts (`"<kind>:<status>"`, `"refused"`) per kind of request:
    {"ticket": {"201": n, "409": m}, ..., "duplicate_refusals": r}."""
    out: dict[str, dict[str, int]] = {}
    refused = 0
    for key, count in flat.items():
        if key == "refused":
            refused += count
            continue
        kind, _, status = key.partition(":")
        name = KINDS.get(int(kind), f"kind {kind}") if kind.isdigit() else kind
        out.setdefault(name, {})[status] = out.get(name, {}).get(status, 0) + count
    return {**{k: dict(sorted(v.items())) for k, v in sorted(out.items())}, "duplicate_refusals": refused}
