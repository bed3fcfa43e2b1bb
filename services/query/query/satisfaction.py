"""The customer's verdict as figures (issue 12), the pure parts: which agent a rating counts for,
the share of good ratings, and the groups of the satisfaction report in page order.

A rating counts in the Caracas month it was given (the verdict is the event counted; customers rate
from the closing mail, so in practice the month of the close) and for the agent who last answered
the customer publicly, as the compliance report's agent is the one who answered; a ticket no agent
answered publicly counts for its assignee at the close (a closed ticket is never reassigned).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from .reports import GROUP_KEYS, encode_cursor, group_order

RATINGS = ("good", "bad")
# The report's "clock" slot of reports.group_cursor: a satisfaction group has none.
NO_CLOCK = ""


def rated_agent(last_answered_by: str | None, assigned_to: str | None) -> str | None:
    """The agent a rating counts for: who last answered publicly, else the assignee at the close."""
    return last_answered_by or assigned_to


def share_good(good: int, bad: int) -> float | None:
    """The share of good ratings, rounded to four decimals (3 good, 1 bad -> 0.75); None for none."""
    total = good + bad
    return round(good / total, 4) if total else None


def figures(good: int, bad: int) -> dict:
    """The counts and share one group (or one compliance item) shows."""
    return {"good": good, "bad": bad, "total": good + bad, "share_good": share_good(good, bad)}


def items(groups: Iterable[Mapping], group_by: Sequence[str]) -> list[dict]:
    """Each group (its group_by values, good, bad) with its figures, in page order (values in code
    point order, none last: reports.group_order, as the compliance report orders its groups)."""
    keys = [GROUP_KEYS[d] for d in group_by]
    rows = [{**{k: g[k] for k in keys}, **figures(int(g["good"]), int(g["bad"]))} for g in groups]
    return sorted(rows, key=lambda r: group_order([r[k] for k in keys], NO_CLOCK))


def page(rows: list[dict], group_by: Sequence[str], cursor: tuple | None, limit: int
         ) -> tuple[list[dict], str | None]:
    """The rows after `cursor` (reports.group_cursor of an earlier page's next_cursor), at most
    `limit`, and the next page's cursor (None on the last)."""
    keys = [GROUP_KEYS[d] for d in group_by]
    if cursor is not None:
        after = group_order(cursor[:-1], NO_CLOCK)
        rows = [r for r in rows if group_order([r[k] for k in keys], NO_CLOCK) > after]
    shown = rows[:limit]
    if len(rows) <= limit:
        return shown, None
    return shown, encode_cursor([*(shown[-1][k] for k in keys), NO_CLOCK])
