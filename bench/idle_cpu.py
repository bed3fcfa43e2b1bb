"""Idle CPU bench (issue 11, "polling that costs nothing when idle"): the CPU seconds each background
process of an idle stack spends in a window (default 60 s).

Run: `python bench/idle_cpu.py [--seconds 60] [--settle 10] [--save]`
(needs PostgreSQL and Kafka on 127.0.0.1, as `bin/stack up` runs them; PYTHONPATH naming the
checkout's shared/ and services/*/ folders, as the tests use).

What it does: prints the machine (bench/machine.py); starts a helpdesk_shared.localstack.LocalStack
with the demo users (intake, query and sla APIs, the intake relay, query consumer, intake's SLA
consumer, SLA timers and SLA relay, each its own process, on fresh databases and prefixed topics);
waits until every API is healthy, then --settle seconds more (group joins, first watermarks); reads
utime + stime of each process (/proc/<pid>/stat, all its threads) at t and t + --seconds with no
request made in between, and prints per process the CPU seconds used and that as a share of one
core. The stack is stopped and its databases and topics dropped at the end.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from machine import machine_info, print_block, print_fields, proc_cpu_s, save_results

WATCHED = ("sla-timers", "relay", "sla-relay", "query-consumer", "intake-sla-consumer")


def measure(seconds: float, settle: float) -> dict:
    """Start an idle stack, and return the CPU seconds each watched process used over `seconds`."""
    from intake import demo
    from helpdesk_shared.localstack import LocalStack

    with tempfile.TemporaryDirectory(prefix="idle-cpu-") as workdir:
        stack = LocalStack(Path(workdir) / "stack", load_demo=demo.load).start()
        try:
            time.sleep(settle)  # not a test: the bench waits out the start-up work it does not measure
            pids = {name: stack.processes[name].popen.pid for name in WATCHED}
            before = {name: proc_cpu_s(pid) for name, pid in pids.items()}
            began = time.monotonic()
            time.sleep(seconds)
            elapsed = time.monotonic() - began
            after = {name: proc_cpu_s(pid) for name, pid in pids.items()}
            gone = [name for name in WATCHED if before[name] is None or after[name] is None]
            if gone:
                raise SystemExit(f"processes exited during the window: {gone} (logs in {workdir})")
            used = {name: round(after[name] - before[name], 2) for name in WATCHED}
            return {"window_s": round(elapsed, 1), "cpu_s": used,
                    "share_of_a_core_pct": {n: round(100 * s / elapsed, 2) for n, s in used.items()},
                    "total_cpu_s": round(sum(used.values()), 2)}
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--save", action="store_true", help="write bench/results/idle_cpu-<time>.json")
    args = parser.parse_args()
    import helpdesk_shared
    machine = machine_info(packages=("kafka-python", "psycopg"))
    machine["checkout"] = str(Path(helpdesk_shared.__file__).resolve().parents[2])  # whose code ran (PYTHONPATH)
    print_fields("machine", machine)
    figures = measure(args.seconds, args.settle)
    print_block(f"CPU seconds per process over {figures['window_s']} s of an idle stack", figures)
    if args.save:
        save_results("idle_cpu", {"machine": machine, **figures})


if __name__ == "__main__":
    main()
