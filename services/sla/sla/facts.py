"""The facts the SLA service publishes on helpdesk.sla about a ticket's clocks (pure, SPEC §4).

Every change of a ticket's clocks becomes a fact with the policy and calendar versions it was
computed on, so that no other service recomputes business time (issue 8):

    TicketOpened ─────────────────────────▶ DeadlineSet(first_response)
    agent's public answer ────────────────▶ DeadlineMet(response clock) · ClockPaused · DeadlineSet(auto_close)
    customer's message (or "not solved") ─▶ DeadlineCleared(auto_close, customer_replied) · DeadlineSet(next_response)
    CustomerAway with a return date ──────▶ DeadlineMoved(auto_close, customer_away)
    staff answer or note with minutes ────▶ WorkTimeRecorded (its part outside business hours)
    TicketClosed ─────────────────────────▶ DeadlineCleared(running clock, closed)
    a newer calendar of the desk ─────────▶ DeadlineMoved(running clock, calendar_changed)

The facts are read off the clocks before and after one event (`ticket_facts`), not off the
event alone, so they say exactly what the fold did: an internal note, an assignment, a
replayed event or a second customer message while an answer is owed publish nothing.

A fact about a deadline carries `open_intervals`, the spans of counted time from
`counts_from` to `due_at`: their lengths add up to the target, and the time left at any
instant is their overlap with [now, due_at]. A deadline whose spans would exceed what the
schema takes (400, a 60-day target on a calendar cut in three or more pieces a day) is
published without them rather than not at all.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from helpdesk_shared.envelope import Envelope
from helpdesk_shared.lifecycle import CLOSED, WAITING_CUSTOMER

from .policy import BUSINESS, Target
from .timers import TicketClocks

MAX_INTERVALS = 400  # helpdesk_shared.schemas._DeadlineFact.open_intervals

Fact = tuple[str, dict]  # (event type, data) of one helpdesk.sla event


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


def _about(clocks: TicketClocks) -> dict:
    return {"ticket_id": clocks.ticket_id, "number": clocks.number}


def _deadline(clocks: TicketClocks, clock: str, target: Target, started_at: datetime, counts_from_raw: datetime,
              due_at: datetime, warning_at: datetime | None = None) -> dict:
    """The `_DeadlineFact` fields of one deadline, its spans counted on the pinned calendar."""
    calendar = clocks.calendar
    business = target.clock == BUSINESS
    # Filed out of hours, a business clock only starts counting at the next opening.
    counts_from = calendar.next_opening(counts_from_raw) if business else counts_from_raw
    spans = calendar.open_intervals(counts_from, due_at, MAX_INTERVALS) if business else [(counts_from, due_at)]
    data = {**_about(clocks), "desk": clocks.desk, "clock": clock, "clock_type": target.clock,
            "started_at": _iso(started_at), "counts_from": _iso(counts_from), "due_at": _iso(due_at),
            "policy_version": clocks.policy.version, "calendar_version": calendar.version,
            # An end of "00:00" is midnight at the end of the day, as the notifier reads it.
            "office_hours": [[day, f"{start:%H:%M}", f"{end:%H:%M}"] for day, start, end in calendar.weekly]}
    if warning_at is not None:
        data["warning_at"] = _iso(warning_at)
    if len(spans) <= MAX_INTERVALS:
        data["open_intervals"] = [[_iso(lo), _iso(hi)] for lo, hi in spans]
    return data


def _response_deadline(clocks: TicketClocks) -> dict:
    r = clocks.response
    return _deadline(clocks, r.kind, getattr(clocks.policy, r.kind), r.started_at, r.started_at, r.due_at)


def _auto_close_deadline(clocks: TicketClocks) -> dict:
    w = clocks.waiting
    # While the customer is away the wait counts from his return (sla.timers._waiting).
    return _deadline(clocks, "auto_close", clocks.policy.auto_close, w.since, w.away_until or w.since, w.close_at,
                     warning_at=w.warn_at)


def deadline_set_data(clocks: TicketClocks) -> dict | None:
    """The DeadlineSet data of the running response clock (SPEC §4), or None when none runs."""
    return _response_deadline(clocks) if clocks.response is not None else None


def _met(clocks: TicketClocks, before: TicketClocks, event: Envelope) -> dict:
    """DeadlineMet of the response clock `before` had, answered at the event."""
    r, calendar, met_at = before.response, clocks.calendar, event.occurred_at
    target = getattr(clocks.policy, r.kind)
    elapsed = met_at - r.started_at
    open_time = calendar.business_between(r.started_at, met_at)
    # Business time from the start equals business time from counts_from (nothing is open in
    # between), and stays 0 for an answer given before the desk even opened.
    counted = open_time if target.clock == BUSINESS else elapsed
    return {**_about(clocks), "clock": r.kind, "started_at": _iso(r.started_at), "due_at": _iso(r.due_at),
            "met_at": _iso(met_at), "met_in_time": met_at <= r.due_at,
            "business_seconds": max(0, int(counted.total_seconds())),
            "outside_hours_seconds": max(0, int((elapsed - open_time).total_seconds())),
            "answered_outside_hours": not calendar.is_open(met_at),
            "answered_by": event.data.get("author_id") or event.actor.id,
            "policy_version": clocks.policy.version, "calendar_version": calendar.version}


def work_time(clocks: TicketClocks, event: Envelope) -> dict | None:
    """WorkTimeRecorded of a staff message that records the minutes spent on it, or None.

    The minutes are taken as the span that ends when the answer or note was posted; the part of
    it the desk's calendar (the ticket's pinned versions) has closed is outside business hours."""
    d = event.data
    minutes = d.get("minutes_spent")
    if event.type != "MessagePosted" or not minutes or d.get("author_role") == "customer":
        return None
    ended_at = event.occurred_at
    started_at = ended_at - timedelta(minutes=minutes)
    open_time = clocks.calendar.business_between(started_at, ended_at)
    return {**_about(clocks), "desk": clocks.desk, "message_id": d["message_id"],
            "agent_id": d.get("author_id") or event.actor.id, "internal": bool(d.get("internal")),
            "minutes": minutes, "started_at": _iso(started_at), "ended_at": _iso(ended_at),
            "outside_hours_seconds": max(0, int((timedelta(minutes=minutes) - open_time).total_seconds())),
            "calendar_version": clocks.calendar.version}


def _cleared(clocks: TicketClocks, clock: str, due_at: datetime, at: datetime, reason: str) -> dict:
    return {**_about(clocks), "clock": clock, "due_at": _iso(due_at), "at": _iso(at), "reason": reason}


def ticket_facts(before: TicketClocks | None, after: TicketClocks, event: Envelope) -> list[Fact]:
    """The facts to publish for one ticket event, from the clocks before it (None: it opened them)
    and after it, in the order they happened; [] when the event changed no clock."""
    if before is None:
        return [("DeadlineSet", _response_deadline(after))] if after.response is not None else []
    if after.version == before.version:
        return []  # a replayed event
    facts: list[Fact] = []
    t = event.occurred_at
    br, ar = before.response, after.response
    if br is not None and (ar is None or ar.started_version != br.started_version):
        finished = next(h for h in reversed(after.history) if h.started_version == br.started_version)
        if finished.met_at is not None:
            facts.append(("DeadlineMet", _met(after, before, event)))
        else:
            facts.append(("DeadlineCleared", _cleared(after, br.kind, br.due_at, t, "closed")))
    if before.status != WAITING_CUSTOMER and after.status == WAITING_CUSTOMER:
        facts.append(("ClockPaused", {**_about(after), "at": _iso(t), "reason": "waiting_customer"}))
    bw, aw = before.waiting, after.waiting
    if bw is not None and aw is None:
        reason = "closed" if after.status == CLOSED else "customer_replied"
        facts.append(("DeadlineCleared", _cleared(after, "auto_close", bw.close_at, t, reason)))
    if ar is not None and (br is None or ar.started_version != br.started_version):
        facts.append(("DeadlineSet", _response_deadline(after)))
    if aw is not None:
        # CustomerAway recomputes the same wait (same `since`); an agent's answer starts a new one.
        restarted = bw is None or (event.type != "CustomerAway" and aw.since_version != bw.since_version)
        if restarted:
            facts.append(("DeadlineSet", _auto_close_deadline(after)))
        elif (aw.close_at, aw.warn_at) != (bw.close_at, bw.warn_at):
            facts.append(("DeadlineMoved", {**_auto_close_deadline(after), "previous_due_at": _iso(bw.close_at),
                                            "reason": "customer_away"}))
    worked = work_time(after, event)
    if worked is not None:
        facts.append(("WorkTimeRecorded", worked))
    return facts


def calendar_facts(before: TicketClocks, after: TicketClocks) -> list[Fact]:
    """DeadlineMoved(calendar_changed) for each running deadline `timers.on_calendar` moved; its
    counted spans come from the pinned calendar history (the old version before the change)."""
    facts: list[Fact] = []
    br, ar = before.response, after.response
    if br is not None and ar is not None and ar.due_at != br.due_at:
        facts.append(("DeadlineMoved", {**_response_deadline(after), "previous_due_at": _iso(br.due_at),
                                        "reason": "calendar_changed"}))
    bw, aw = before.waiting, after.waiting
    if bw is not None and aw is not None and (aw.close_at, aw.warn_at) != (bw.close_at, bw.warn_at):
        facts.append(("DeadlineMoved", {**_auto_close_deadline(after), "previous_due_at": _iso(bw.close_at),
                                        "reason": "calendar_changed"}))
    return facts
