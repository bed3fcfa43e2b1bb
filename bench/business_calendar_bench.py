"""Business-calendar bench: deadlines per second, ours vs the `businesstimedelta` package.

Run: `python bench/business_calendar_bench.py [--n 100000] [--seed 2026]`
(needs the `bench` extra: `pip install -e '.[bench]'`).

What it does:

1. prints the machine (CPU model, cores, RAM, kernel, load average, Python, package versions);
2. draws N start instants uniformly over 2025-2027 (UTC, whole seconds, fixed seed) and N
   durations of 1-40 business hours in whole minutes;
3. computes every deadline with `helpdesk_shared.business_calendar` (the desk's default
   calendar: Caracas, Mon-Fri 09:00-17:00, Venezuelan holidays) and with
   `businesstimedelta` (WorkDayRule 09:00-17:00 Mon-Fri + HolidayRule on the very same
   closed days, pytz America/Caracas);
4. checks the two agree on every start, and prints adds/s for each, the ratio and the
   target (ours at least 30x faster); saves the figures to
   bench/results/business-calendar-<timestamp>.json.

Conventions compared (read in businesstimedelta 1.0.1's source, `BusinessTimeDelta.__add__`
and `WorkDayRule.next`): a start outside hours begins at the next work period, as ours does
(`add(t, d)` counts from `next_opening(t)`); and `if period_delta >= td_left: return
period_start + td_left` keeps a deadline that lands exactly on 17:00 at 17:00, which is our
convention too. So no normalisation is needed beyond comparing the aware results as
instants (theirs come back in pytz Caracas time or in the start's zone, ours in UTC).
Durations are >= 1 minute; for a zero duration both return the next opening as well.

The two are timed in interleaved chunks (ours, theirs, ours, theirs, ...) so that a change
of load on a shared machine during the run weighs on both alike.
"""
from __future__ import annotations

import argparse
import random
import sys
import time as clock
from datetime import datetime, time, timedelta, timezone

import businesstimedelta
import pytz

from helpdesk_shared.business_calendar import Calendar, venezuela_default
from machine import machine_info, print_fields, save_results

TARGET_RATIO = 30.0
START_FROM = datetime(2025, 1, 1, tzinfo=timezone.utc)
START_UNTIL = datetime(2028, 1, 1, tzinfo=timezone.utc)
# Closed days well past the last start: businesstimedelta's HolidayRule looks up to five
# years ahead for "the next holiday" and fails if it finds none.
HOLIDAY_YEARS = range(2024, 2031)
CHUNK = 5_000


def workload(n: int, seed: int) -> tuple[list[datetime], list[timedelta]]:
    """N aware UTC starts over 2025-2027 and N durations of 1-40 business hours (minutes)."""
    rng = random.Random(seed)
    span = int((START_UNTIL - START_FROM).total_seconds())
    starts = [START_FROM + timedelta(seconds=rng.randrange(span)) for _ in range(n)]
    durations = [timedelta(minutes=rng.randint(60, 40 * 60)) for _ in range(n)]
    return starts, durations


def their_rules(calendar: Calendar) -> businesstimedelta.Rules:
    """The same calendar in businesstimedelta's terms."""
    tz = pytz.timezone(calendar.tz)
    workdays = businesstimedelta.WorkDayRule(
        start_time=time(9), end_time=time(17), working_days=[0, 1, 2, 3, 4], tz=tz)
    closed = businesstimedelta.HolidayRule(frozenset(calendar.closed_days), tz=tz)
    return businesstimedelta.Rules([workdays, closed])


def run(n: int, seed: int) -> dict:
    """Time both libraries on the same workload and compare every deadline."""
    calendar = venezuela_default(HOLIDAY_YEARS)
    assert calendar.weekly == tuple((d, time(9), time(17)) for d in range(5))
    rules = their_rules(calendar)
    starts, durations = workload(n, seed)

    ours: list[datetime] = []
    theirs: list[datetime] = []
    ours_s = theirs_s = 0.0
    add = calendar.add
    delta = businesstimedelta.BusinessTimeDelta
    for lo in range(0, n, CHUNK):
        chunk = list(zip(starts[lo:lo + CHUNK], durations[lo:lo + CHUNK]))
        t0 = clock.perf_counter()
        ours.extend([add(t, d) for t, d in chunk])
        t1 = clock.perf_counter()
        theirs.extend([t + delta(rules, timedelta=d) for t, d in chunk])
        t2 = clock.perf_counter()
        ours_s += t1 - t0
        theirs_s += t2 - t1

    mismatches = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    ours_rate = n / ours_s
    theirs_rate = n / theirs_s
    return {
        "n": n,
        "seed": seed,
        "starts": f"[{START_FROM.date()}, {START_UNTIL.date()}) UTC, whole seconds",
        "durations": "1-40 business hours, whole minutes",
        "calendar": f"{calendar.tz}, Mon-Fri 09:00-17:00, {len(calendar.closed_days)} "
                    f"closed days ({HOLIDAY_YEARS.start}-{HOLIDAY_YEARS.stop - 1})",
        "ours_seconds": round(ours_s, 4),
        "ours_adds_per_s": round(ours_rate),
        "businesstimedelta_seconds": round(theirs_s, 4),
        "businesstimedelta_adds_per_s": round(theirs_rate),
        "ratio": round(ours_rate / theirs_rate, 1),
        "target_ratio": TARGET_RATIO,
        "target_met": ours_rate / theirs_rate >= TARGET_RATIO,
        "mismatches": len(mismatches),
        "first_mismatches": [
            {"start": starts[i].isoformat(), "duration": str(durations[i]),
             "ours": ours[i].isoformat(), "businesstimedelta": theirs[i].isoformat()}
            for i in mismatches[:5]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    """Print the machine, run the bench, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="random starts (100000)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    args = parser.parse_args(argv)

    machine = machine_info(packages=("holidays", "businesstimedelta"), stack=False)
    print_fields("machine", machine)
    print(f"\nrunning {args.n} deadlines with each library (seed {args.seed}) ...", flush=True)
    result = run(args.n, args.seed)

    print(f"\nworkload     {result['n']} starts over {result['starts']}; {result['durations']}")
    print(f"calendar     {result['calendar']}")
    print(f"ours                {result['ours_adds_per_s']:>10,} adds/s"
          f"  ({result['ours_seconds']:.3f} s)")
    print(f"businesstimedelta   {result['businesstimedelta_adds_per_s']:>10,} adds/s"
          f"  ({result['businesstimedelta_seconds']:.3f} s)")
    print(f"ratio               {result['ratio']:>10}x  (target >= {TARGET_RATIO:g}x: "
          f"{'met' if result['target_met'] else 'NOT met'})")
    print(f"mismatches          {result['mismatches']:>10} of {result['n']}")
    for row in result["first_mismatches"]:
        print(f"  {row}")

    save_results("business-calendar", {"machine": machine, **result})
    return 1 if result["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
