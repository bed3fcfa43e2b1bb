"""A desk's queue, its auto-close list and its agents' workload, as pure functions over rows (no I/O).

Time left is read off the SLA service's facts, never recomputed from a calendar: each deadline
fact carries `open_intervals`, the spans of counted time up to its `due_at` (closure days,
weekends and edited calendars already taken out), so the business time left at `now` is their
overlap with [now, due_at].
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from helpdesk_shared.auth_tokens import Claims
from helpdesk_shared.errors import Message, NotFound, RuleViolation
from helpdesk_shared.schemas import DESKS

# The desks' time zone: "today" of the workload is a day in Caracas (no DST since 2016).
DESK_TZ = ZoneInfo("America/Caracas")
# One business day on the default calendar (Mon-Fri 09:00-17:00): "auto-closes within the next
# business day" is "at most this much counted time left", with no calendar needed here.
BUSINESS_DAY_SECONDS = 8 * 3600

QUEUE_FLAGS = ("urgent", "waiting_customer", "customer_away", "out_of_hours", "unassigned", "overdue")

Interval = tuple[datetime, datetime]

FORBIDDEN = RuleViolation("FORBIDDEN", None, Message(
    es="Su rol o su mesa no permite esta consulta.",
    en="Your role or desk does not allow this request."), status=403)


def check_desk_staff(user: Claims, desk: str) -> None:
    """Staff of `desk` (or a supervisor of it) only: a customer or another desk's agent is a 403, an
    unknown desk a 404 (a customer learns nothing about which desks exist)."""
    if not user.is_staff:
        raise FORBIDDEN
    if desk not in DESKS:
        raise NotFound("desk")
    if desk not in user.desks:
        raise FORBIDDEN


def _instant(value: str | datetime) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def parse_intervals(raw: Iterable[Sequence[str | datetime]] | None) -> list[Interval] | None:
    """The intervals as stored (ISO 8601 pairs), as instants; None when the fact carried none."""
    if raw is None:
        return None
    return [(_instant(start), _instant(end)) for start, end in raw]


def business_seconds_left(intervals: Iterable[Interval], now: datetime, due_at: datetime) -> int:
    """Counted seconds between `now` and `due_at`: the overlap of [now, due_at] with the intervals
    (0 once `due_at` has passed)."""
    if now >= due_at:
        return 0
    total = timedelta()
    for start, end in intervals:
        overlap = min(end, due_at) - max(start, now)
        if overlap > timedelta():
            total += overlap
    return int(total.total_seconds())


def time_left(deadline: dict, now: datetime) -> dict:
    """A running deadline as the API shows it: clock, due_at, business seconds left, overdue
    (and by how long in clock time), with the versions it was computed on.

    A 24x7 clock without intervals counts every second; a business clock whose fact carried no
    intervals (a deadline published before the facts had them) shows `business_seconds_left: null`
    rather than a guess."""
    due_at = deadline["due_at"]
    intervals = parse_intervals(deadline.get("open_intervals"))
    if intervals is None and deadline.get("clock_type") == "24x7":
        intervals = [(now, due_at)]
    left = business_seconds_left(intervals, now, due_at) if intervals is not None else None
    late = now > due_at
    return {"clock": deadline["clock"], "clock_type": deadline.get("clock_type"), "due_at": due_at,
            "business_seconds_left": 0 if late else left,
            "overdue": late or bool(deadline.get("overdue")),
            "overdue_seconds": int((now - due_at).total_seconds()) if late else 0,
            "policy_version": deadline.get("policy_version"), "calendar_version": deadline.get("calendar_version")}


def flags(ticket: dict, nearest: dict | None) -> dict:
    """The queue's flags of a ticket row (`nearest` is its nearest deadline as `time_left` shows it)."""
    return {"urgent": ticket["urgency"] != "normal",
            "waiting_customer": ticket["status"] == "waiting_customer",
            "customer_away": bool(ticket["customer_away"]),
            "back_at": ticket["back_at"] if ticket["customer_away"] else None,
            "out_of_hours": is_billable(ticket),
            "unassigned": ticket["assigned_to"] is None,
            "overdue": bool(nearest and nearest["overdue"])}


def is_billable(ticket: dict) -> bool:
    """Billable out-of-hours work: the agent's mark when set, otherwise the customer's request."""
    mark = ticket.get("billable")
    return bool(ticket["out_of_hours"]) if mark is None else bool(mark)


def queue_item(row: dict, now: datetime) -> dict:
    """One row of the queue query as the API shows it."""
    nearest = time_left(row["deadline"], now) if row.get("deadline") else None
    return {"number": row["number"], "subject": row["subject"], "module": row["module"],
            "module_name": row.get("module_name") or row["module"], "status": row["status"],
            "urgency": row["urgency"],
            "organisation": {"id": row["organisation_id"], "name": row["organisation_name"]},
            "assigned_to": ({"id": row["assigned_to"], "name": row["assigned_to_name"]}
                            if row["assigned_to"] else None),
            "deadline": nearest, "flags": flags(row, nearest),
            "billable": {"requested": bool(row["out_of_hours"]), "marked": row.get("billable")}}


def auto_close_soon(rows: Iterable[dict], now: datetime, within: int = BUSINESS_DAY_SECONDS) -> list[dict]:
    """The running auto-close deadlines with at most `within` counted seconds left (overdue ones
    included: they are about to close), ordered by due_at then ticket id. A deadline without
    intervals cannot be measured and is left out rather than guessed."""
    found = []
    for row in rows:
        left = time_left(row, now)
        if left["business_seconds_left"] is None or left["business_seconds_left"] > within:
            continue
        found.append({"number": row["number"], "subject": row["subject"], "module": row["module"],
                      "organisation": {"id": row["organisation_id"], "name": row["organisation_name"]},
                      "assigned_to": ({"id": row["assigned_to"], "name": row["assigned_to_name"]}
                                      if row["assigned_to"] else None),
                      "due_at": row["due_at"], "warning_at": row["warning_at"],
                      "warning_sent": bool(row["warning_sent"]),
                      "warned_at": row.get("warned_at") if row["warning_sent"] else None,
                      "business_seconds_left": left["business_seconds_left"], "overdue": left["overdue"],
                      "_key": (row["due_at"], row["ticket_id"])})
    return sorted(found, key=lambda item: item["_key"])


def day_bounds(now: datetime, zone: ZoneInfo = DESK_TZ) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the day `now` falls on in `zone`."""
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)
