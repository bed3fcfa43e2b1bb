"""A ticket's SLA clocks as a fold over its events, and the timers they make due (pure, SPEC §3).

Every instant here comes from an event's own `occurred_at`, never from when the SLA service
read it, so a late or restarted service computes the same deadlines. Deciding *when* a due
timer may fire (only once the consumer is caught up past its `due_at`) is the caller's job:
`pending_timers` only says what is due when.

    TicketOpened ─▶ first_response clock ─agent public message─▶ waiting (warning, auto-close)
                                                   ▲                     │
                    next_response clock ◀──────────┼── customer message ─┘
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterable

from helpdesk_shared.envelope import Envelope
from helpdesk_shared.lifecycle import CLOSED, OPEN, WAITING_CUSTOMER, status_set_by

from .policy import Policy, Target, deadline, policy_to_doc, urgency_class

if TYPE_CHECKING:
    from helpdesk_shared.business_calendar import Calendar, CalendarHistory

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESPONSE_OVERDUE = "response_overdue"
AUTO_CLOSE_WARNING = "auto_close_warning"
AUTO_CLOSED = "auto_closed"

# The ticket stream's events; anything else (e.g. our own helpdesk.sla events) is not folded.
# Every one of them moves the version an auto-close decision is based on (BillableMarked too).
# A duplicate merged away closes with TicketClosed (reason "merged"): its clocks stop like any close.
# The open ticket that receives it gets TicketMergedInto, which moves only its version (issue 12).
TICKET_EVENTS = ("TicketOpened", "MessagePosted", "TicketAssigned", "CustomerAway",
                 "ResolutionConfirmed", "TicketClosed", "BillableMarked", "TicketMergedInto")


@dataclass(frozen=True)
class ResponseClock:
    """A running response clock: the agents owe an answer by `due_at`."""

    kind: str  # first_response | next_response
    started_at: datetime
    started_version: int
    due_at: datetime


@dataclass(frozen=True)
class Waiting:
    """The ticket waits for the customer since an agent's public message."""

    since: datetime
    since_version: int  # the version that (re)started the count: a moved deadline warns again
    warn_at: datetime
    close_at: datetime
    away_until: datetime | None = None  # counting from the customer's return, not from `since`


@dataclass(frozen=True)
class FinishedClock:
    """A response clock that stopped: answered at `met_at`, or None if the ticket closed first."""

    kind: str
    started_at: datetime
    started_version: int
    due_at: datetime
    met_at: datetime | None


@dataclass(frozen=True)
class TicketClocks:
    """The SLA state of one ticket, with the policy and calendar pinned when it opened."""

    ticket_id: str
    number: str
    desk: str
    urgency: str
    policy: Policy
    # One version, or the versions of the desk's calendar in force from the ticket's opening on
    # (a CalendarHistory: a version added later counts from its effective_from, see on_calendar).
    calendar: "Calendar | CalendarHistory"
    version: int
    status: str  # open | waiting_customer | closed
    response: ResponseClock | None = None
    waiting: Waiting | None = None
    paused: tuple[tuple[datetime, datetime | None], ...] = ()
    history: tuple[FinishedClock, ...] = ()
    # The customer said he is away until then (rule "avise si se tiene que marchar"): while
    # the ticket waits for him, the auto-close counts from that date. His next message clears it.
    away_until: datetime | None = None


@dataclass(frozen=True)
class Timer:
    """A deadline that, once passed, becomes one helpdesk.sla event; `key` makes it fire once."""

    key: str
    kind: str  # response_overdue | auto_close_warning | auto_closed
    due_at: datetime
    event_type: str
    data: dict


def open_clocks(event: Envelope, policy: Policy, calendar: "Calendar") -> TicketClocks:
    """The clocks of a just-opened ticket: its first-response clock runs from `occurred_at`."""
    if event.type != "TicketOpened":
        raise ValueError(f"a ticket's clocks start with TicketOpened, not {event.type}")
    d = event.data
    if (policy.desk, policy.urgency_class) != (d["desk"], urgency_class(d["urgency"])):
        raise ValueError(f"policy {policy.desk}/{policy.urgency_class} does not apply to "
                         f"{d['desk']}/{d['urgency']}")
    t = event.occurred_at
    return TicketClocks(
        ticket_id=d["ticket_id"], number=d["number"], desk=d["desk"], urgency=d["urgency"],
        policy=policy, calendar=calendar, version=event.stream_version, status=OPEN,
        response=ResponseClock(FIRST_RESPONSE, t, event.stream_version,
                               deadline(policy.first_response, t, calendar)))


def apply(clocks: TicketClocks, event: Envelope) -> TicketClocks:
    """The clocks after one more event of the ticket's stream; replayed events change nothing."""
    if event.type not in TICKET_EVENTS or event.stream_version <= clocks.version:
        return clocks
    if event.stream_id != clocks.ticket_id:
        raise ValueError(f"event of stream {event.stream_id} applied to ticket {clocks.ticket_id}")
    clocks = replace(clocks, version=event.stream_version)
    if clocks.status == CLOSED:
        return clocks  # closed is final: nothing runs again
    t, d = event.occurred_at, event.data
    # Who owes the next answer is helpdesk_shared.lifecycle's reading, the same as intake's and query's.
    # (status_set_by, not next_status: a further answer while already waiting restarts the wait.)
    moved_to = None if event.type == "TicketOpened" else status_set_by(event)  # opened: open_clocks' job
    if moved_to == WAITING_CUSTOMER:
        return _agent_answered(clocks, t)
    if moved_to == OPEN:
        return _customer_wrote(clocks, t)
    if moved_to == CLOSED:
        return _closed(clocks, t)
    if event.type == "CustomerAway" and d.get("back_at") is not None:
        return _customer_away(clocks, _when(d["back_at"]), t)
    return clocks  # internal notes, TicketAssigned, BillableMarked, TicketMergedInto, CustomerAway without a date:
    #                only the version moves


def fold(events: Iterable[Envelope], policy: Policy, calendar: "Calendar") -> TicketClocks | None:
    """The clocks of a ticket from its whole stream (None for an empty stream)."""
    clocks = None
    for event in events:
        clocks = open_clocks(event, policy, calendar) if clocks is None else apply(clocks, event)
    return clocks


def _stop_response(clocks: TicketClocks, met_at: datetime | None) -> TicketClocks:
    r = clocks.response
    if r is None:
        return clocks
    finished = FinishedClock(r.kind, r.started_at, r.started_version, r.due_at, met_at)
    return replace(clocks, response=None, history=clocks.history + (finished,))


def _close_pause(clocks: TicketClocks, t: datetime) -> TicketClocks:
    if not clocks.paused or clocks.paused[-1][1] is not None:
        return clocks
    start, _ = clocks.paused[-1]
    return replace(clocks, paused=clocks.paused[:-1] + ((start, t),))


def _when(value: str | datetime) -> datetime:
    """An instant of an event's data (serialised data holds ISO 8601 strings)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _waiting(clocks: TicketClocks, since: datetime) -> Waiting:
    """The wait for the customer since `since`, counted from his return if he is away until later."""
    away = clocks.away_until if clocks.away_until is not None and clocks.away_until > since else None
    counts_from = away or since
    return Waiting(since=since, since_version=clocks.version,
                   warn_at=deadline(clocks.policy.auto_close_warning, counts_from, clocks.calendar),
                   close_at=deadline(clocks.policy.auto_close, counts_from, clocks.calendar), away_until=away)


def _agent_answered(clocks: TicketClocks, t: datetime) -> TicketClocks:
    clocks = _stop_response(clocks, met_at=t)
    if clocks.status != WAITING_CUSTOMER:
        clocks = replace(clocks, paused=clocks.paused + ((t, None),))
    # A further answer while already waiting restarts the wait from the newest message.
    return replace(clocks, status=WAITING_CUSTOMER, waiting=_waiting(clocks, t))


def _customer_away(clocks: TicketClocks, back_at: datetime, t: datetime) -> TicketClocks:
    if back_at <= t:
        return clocks  # a return already past delays nothing (intake refuses it anyway)
    clocks = replace(clocks, away_until=back_at)
    if clocks.waiting is None:
        return clocks  # remembered for when an agent's answer starts the wait
    return replace(clocks, waiting=_waiting(clocks, clocks.waiting.since))


def _customer_wrote(clocks: TicketClocks, t: datetime) -> TicketClocks:
    clocks = replace(_close_pause(clocks, t), status=OPEN, waiting=None, away_until=None)
    if clocks.response is not None:
        return clocks  # the agents already owe an answer: its clock keeps running
    return replace(clocks, response=ResponseClock(
        NEXT_RESPONSE, t, clocks.version, deadline(clocks.policy.next_response, t, clocks.calendar)))


def _closed(clocks: TicketClocks, t: datetime) -> TicketClocks:
    clocks = _close_pause(_stop_response(clocks, met_at=None), t)
    return replace(clocks, status=CLOSED, waiting=None)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


def pending_timers(clocks: TicketClocks) -> list[Timer]:
    """Every timer the current state makes due, earliest first; the caller fires those past its safe time."""
    timers = []
    r, w = clocks.response, clocks.waiting
    # SLA events live in their own stream, so each names its ticket.
    about = {"ticket_id": clocks.ticket_id, "number": clocks.number}
    if r is not None:
        timers.append(Timer(
            key=f"{clocks.ticket_id}:{r.kind}:{r.started_version}", kind=RESPONSE_OVERDUE,
            due_at=r.due_at, event_type="ResponseOverdue",
            data={**about, "clock": r.kind, "due_at": _iso(r.due_at), "policy_version": clocks.policy.version}))
    if w is not None:
        warning = {**about, "closes_at": _iso(w.close_at), "based_on_version": clocks.version}
        if w.away_until is not None:
            warning["away_until"] = _iso(w.away_until)  # the mail says the count started at his return
        timers.append(Timer(
            key=f"{clocks.ticket_id}:warning:{w.since_version}", kind=AUTO_CLOSE_WARNING,
            due_at=w.warn_at, event_type="AutoCloseWarning", data=warning))
        # Keyed by the version the decision rests on: if intake refuses the AutoClosed because
        # the ticket moved on (say, an internal note), the decision on the newer version is a
        # new timer rather than one that already fired.
        timers.append(Timer(
            key=f"{clocks.ticket_id}:close:{clocks.version}", kind=AUTO_CLOSED,
            due_at=w.close_at, event_type="AutoClosed",
            data={**about, "based_on_version": clocks.version, "due_at": _iso(w.close_at)}))
    return sorted(timers, key=lambda timer: timer.due_at)


def with_calendar_version(calendar: "Calendar | CalendarHistory", newer: "Calendar") -> "CalendarHistory":
    """A ticket's pinned calendar plus a newer version of its desk's, each in force from its effective_from."""
    from helpdesk_shared.business_calendar import CalendarHistory
    versions = calendar.versions if isinstance(calendar, CalendarHistory) else (calendar,)
    return CalendarHistory(versions + (newer,))


def on_calendar(clocks: TicketClocks, newer: "Calendar", now: datetime) -> TicketClocks:
    """The clocks re-pinned to a newer version of the desk's calendar (a closure day declared later
    counts; the policy stays pinned), each running deadline still ahead of `now` recounted.

    How time already counted is kept: the clocks pin a CalendarHistory, on which every instant
    is measured on the version in force then. So the time of a clock up to the new version's
    `effective_from` is counted on the old version and the rest on the new one, and a clock
    that only starts counting after `effective_from` (a customer away until later) is counted
    on the new version alone. A change never rewrites the past: a deadline due before the change
    takes effect stays where it is, and one at or before `now` (its timer fired or is firing) is
    not touched at all. 24x7 clocks do not move.
    """
    calendar = with_calendar_version(clocks.calendar, newer)
    policy = clocks.policy

    def recount(target: Target, start: datetime, due: datetime) -> datetime:
        return due if due <= now else deadline(target, start, calendar)

    clocks = replace(clocks, calendar=calendar)
    if clocks.response is not None:
        r = clocks.response
        clocks = replace(clocks, response=replace(r, due_at=recount(getattr(policy, r.kind), r.started_at, r.due_at)))
    if clocks.waiting is not None:
        w = clocks.waiting
        start = w.away_until or w.since  # while the customer is away the wait counts from his return
        clocks = replace(clocks, waiting=replace(w, warn_at=recount(policy.auto_close_warning, start, w.warn_at),
                                                 close_at=recount(policy.auto_close, start, w.close_at)))
    return clocks


def next_due(clocks: TicketClocks) -> datetime | None:
    """The earliest due time among the pending timers, or None when nothing runs."""
    timers = pending_timers(clocks)
    return timers[0].due_at if timers else None


def _json_value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _explain_clock(clocks: TicketClocks, kind: str, start: datetime, due: datetime,
                   met_at: datetime | None, running: bool) -> dict:
    end = met_at if met_at is not None else (None if running else due)
    paused = [{"start": _iso(s), "end": _iso(e) if e is not None else None}
              for s, e in clocks.paused
              if (end is None or s < end) and (e is None or e > start)]
    target = getattr(clocks.policy, kind, None)  # first_response, next_response, auto_close_warning, auto_close
    business = target is not None and target.clock == "business"
    return {
        "kind": kind,
        "policy_version": clocks.policy.version,
        "calendar_version": _json_value(clocks.calendar.version),
        "clock": target.clock if target is not None else None,
        "started_at": _iso(start),
        # Filed out of hours, a business clock only starts counting at the next opening.
        "counts_from": _iso(clocks.calendar.next_opening(start)) if business else _iso(start),
        "due_at": _iso(due),
        "met_at": _iso(met_at) if met_at is not None else None,
        "met_in_time": None if met_at is None else met_at <= due,
        "running": running,
        "paused": paused,
        "skipped_closed_days": [{"date": day.isoformat(), "note": note}
                                for day, note in clocks.calendar.skipped_closed_days(start, due)],
    }


def explain(clocks: TicketClocks) -> dict:
    """A JSON-ready account of every clock of the ticket: why each deadline is where it is."""
    entries = [_explain_clock(clocks, c.kind, c.started_at, c.due_at, c.met_at, running=False)
               for c in clocks.history]
    if clocks.response is not None:
        r = clocks.response
        entries.append(_explain_clock(clocks, r.kind, r.started_at, r.due_at, None, running=True))
    if clocks.waiting is not None:
        w = clocks.waiting
        entries.append(_explain_clock(clocks, AUTO_CLOSE_WARNING, w.since, w.warn_at, None, running=True))
        entries.append(_explain_clock(clocks, "auto_close", w.since, w.close_at, None, running=True))
    return {
        "ticket_id": clocks.ticket_id,
        "number": clocks.number,
        "desk": clocks.desk,
        "urgency": clocks.urgency,
        "urgency_class": clocks.policy.urgency_class,
        "status": clocks.status,
        "version": clocks.version,
        "policy": {"version": clocks.policy.version, "targets": policy_to_doc(clocks.policy)},
        "calendar_version": _json_value(clocks.calendar.version),
        # Every version the deadlines were counted on, each from its effective_from (sla.timers.on_calendar).
        "calendar_versions": [c.version for c in getattr(clocks.calendar, "versions", (clocks.calendar,))],
        "clocks": entries,
        "paused": [{"start": _iso(s), "end": _iso(e) if e is not None else None} for s, e in clocks.paused],
        "away_until": _iso(clocks.away_until) if clocks.away_until is not None else None,
        "next_due": _iso(due) if (due := next_due(clocks)) is not None else None,
    }
