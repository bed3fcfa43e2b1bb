"""A ticket's SLA clocks as a fold over its events, with explicit times (SPEC §3).

Caracas is UTC-4 all year; the default calendar opens Monday to Friday 09:00-17:00.
"""
from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_shared.business_calendar import venezuela_default
from helpdesk_shared.envelope import Actor, new_event
from helpdesk_shared.schemas import validate_data
from sla.policy import DEFAULT_POLICIES, urgency_class
from sla.timers import apply, explain, fold, next_due, open_clocks, pending_timers

CARACAS = timezone(timedelta(hours=-4))
CALENDAR = venezuela_default(range(2026, 2028))
CUSTOMER = Actor("u-maria", "customer")
AGENT = Actor("u-carlos", "agent")
SUPERVISOR = Actor("u-ana", "supervisor")


def at(*args) -> datetime:
    """A Caracas wall time."""
    return datetime(*args, tzinfo=CARACAS)


def opened(when: datetime, urgency: str = "normal"):
    """TicketOpened t1 (version 1) at `when`."""
    return new_event("TicketOpened", "t1", 1, {
        "ticket_id": "t1", "number": "SOP-1", "desk": "SOPORTE", "organisation_id": "club-caracas",
        "opened_by": CUSTOMER.id, "module": "BANCOS", "case": "Factura mal cargada",
        "subject": "BANCOS, Factura mal cargada", "description": "...", "urgency": urgency,
        "contact": {"name": "María", "email": "m@x.ve", "phone": "+582125550100"}},
        actor=CUSTOMER, occurred_at=when)


def message(version: int, actor: Actor, when: datetime, internal: bool = False):
    """A MessagePosted by `actor` at `when`."""
    return new_event("MessagePosted", "t1", version, {
        "message_id": f"m{version}", "author_id": actor.id, "author_role": actor.role,
        "body": "texto", "internal": internal}, actor=actor, occurred_at=when)


def closed(version: int, when: datetime):
    """TicketClosed by an agent."""
    return new_event("TicketClosed", "t1", version, {"reason": "closed_by_agent"},
                     actor=AGENT, occurred_at=when)


def clocks_of(*events, urgency: str = "normal"):
    """Fold the events with the default policy of the ticket's class and the VE calendar."""
    return fold(events, DEFAULT_POLICIES[("SOPORTE", urgency_class(urgency))], CALENDAR)


def timers_by_kind(clocks) -> dict:
    """The pending timers keyed by kind."""
    return {timer.kind: timer for timer in pending_timers(clocks)}


WEDNESDAY_10 = at(2026, 11, 25, 10, 0)


# --- response clocks ------------------------------------------------------------------

def test_an_agent_reply_in_time_leaves_no_response_timer_pending():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 26, 9, 59)))
    assert "response_overdue" not in timers_by_kind(clocks)
    (first,) = clocks.history
    assert (first.kind, first.met_at, first.due_at) == \
        ("first_response", at(2026, 11, 26, 9, 59), at(2026, 11, 26, 10, 0))


def test_nobody_answers_a_wednesday_10am_ticket_so_it_is_overdue_thursday_10am():
    clocks = clocks_of(opened(WEDNESDAY_10))
    (timer,) = pending_timers(clocks)
    assert (timer.kind, timer.due_at, timer.key) == \
        ("response_overdue", at(2026, 11, 26, 10, 0), "t1:first_response:1")
    assert timer.event_type == "ResponseOverdue"
    assert timer.data == {"ticket_id": "t1", "number": "SOP-1", "clock": "first_response", "due_at": "2026-11-26T14:00:00+00:00",
                          "policy_version": 1}
    assert validate_data(timer.event_type, timer.data) == timer.data
    assert next_due(clocks) == at(2026, 11, 26, 10, 0)


def test_a_ticket_filed_friday_4pm_is_due_monday_4pm():
    assert next_due(clocks_of(opened(at(2026, 11, 27, 16, 0)))) == at(2026, 11, 30, 16, 0)


def test_a_ticket_filed_on_a_saturday_is_due_monday_at_closing_time():
    assert next_due(clocks_of(opened(at(2026, 11, 28, 10, 0)))) == at(2026, 11, 30, 17, 0)


def test_the_explanation_of_a_saturday_ticket_says_its_clock_counts_from_monday_opening():
    first = explain(clocks_of(opened(at(2026, 11, 28, 10, 0))))["clocks"][0]
    assert first["clock"] == "business"
    assert datetime.fromisoformat(first["counts_from"]) == at(2026, 11, 30, 9, 0)
    assert datetime.fromisoformat(first["started_at"]) == at(2026, 11, 28, 10, 0)


def test_an_urgent_ticket_filed_saturday_3am_is_due_two_clock_hours_later():
    clocks = clocks_of(opened(at(2026, 11, 28, 3, 0), "platform_down"), urgency="platform_down")
    assert clocks.policy.urgency_class == "urgent"
    assert next_due(clocks) == at(2026, 11, 28, 5, 0)


def test_a_customer_adding_details_before_any_answer_does_not_restart_the_first_response_clock():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, CUSTOMER, at(2026, 11, 25, 12, 0)))
    (timer,) = pending_timers(clocks)
    assert (timer.key, timer.due_at) == ("t1:first_response:1", at(2026, 11, 26, 10, 0))


def test_the_policy_must_be_the_one_of_the_tickets_desk_and_class():
    with pytest.raises(ValueError):
        open_clocks(opened(WEDNESDAY_10), DEFAULT_POLICIES[("SOPORTE", "urgent")], CALENDAR)


# --- waiting for the customer -----------------------------------------------------------

def test_an_agent_reply_warns_after_one_business_day_and_closes_after_two():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)))
    assert clocks.status == "waiting_customer"
    timers = timers_by_kind(clocks)
    assert set(timers) == {"auto_close_warning", "auto_closed"}
    warning, close = timers["auto_close_warning"], timers["auto_closed"]
    assert (warning.due_at, warning.key) == (at(2026, 11, 26, 11, 0), "t1:warning:2")
    assert (close.due_at, close.key) == (at(2026, 11, 27, 11, 0), "t1:close:2")
    assert warning.data == {"ticket_id": "t1", "number": "SOP-1", "closes_at": "2026-11-27T15:00:00+00:00", "based_on_version": 2}
    assert close.data == {"ticket_id": "t1", "number": "SOP-1", "based_on_version": 2, "due_at": "2026-11-27T15:00:00+00:00"}
    assert (close.event_type, warning.event_type) == ("AutoClosed", "AutoCloseWarning")
    for timer in (warning, close):
        assert validate_data(timer.event_type, timer.data) == timer.data
    assert clocks.paused == ((at(2026, 11, 25, 11, 0), None),)


def test_a_supervisor_answer_also_puts_the_ticket_waiting():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, SUPERVISOR, at(2026, 11, 25, 11, 0)))
    assert clocks.status == "waiting_customer" and clocks.response is None


def test_a_second_agent_message_restarts_the_wait_from_itself():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                       message(3, AGENT, at(2026, 11, 25, 15, 0)))
    timers = timers_by_kind(clocks)
    assert (timers["auto_close_warning"].key, timers["auto_close_warning"].due_at) == \
        ("t1:warning:3", at(2026, 11, 26, 15, 0))
    assert timers["auto_closed"].due_at == at(2026, 11, 27, 15, 0)
    assert clocks.paused == ((at(2026, 11, 25, 11, 0), None),)  # still the same pause


def test_the_customer_reply_ends_the_wait_and_starts_a_next_response_clock_from_it():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                       message(3, CUSTOMER, at(2026, 11, 30, 9, 30)))
    assert (clocks.status, clocks.waiting) == ("open", None)
    assert clocks.paused == ((at(2026, 11, 25, 11, 0), at(2026, 11, 30, 9, 30)),)
    (timer,) = pending_timers(clocks)
    assert (timer.key, timer.due_at) == ("t1:next_response:3", at(2026, 12, 1, 9, 30))
    assert timer.data["clock"] == "next_response"


def test_not_solved_reopens_like_a_customer_reply():
    not_solved = new_event("ResolutionConfirmed", "t1", 3, {"solved": False, "body": "sigue igual"},
                           actor=CUSTOMER, occurred_at=at(2026, 11, 26, 16, 0))
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)), not_solved)
    (timer,) = pending_timers(clocks)
    assert (timer.key, timer.due_at) == ("t1:next_response:3", at(2026, 11, 27, 16, 0))


def test_an_urgent_next_response_runs_on_the_clock():
    clocks = clocks_of(opened(at(2026, 11, 28, 3, 0), "platform_down"),
                       message(2, AGENT, at(2026, 11, 28, 4, 0)),
                       message(3, CUSTOMER, at(2026, 11, 28, 22, 0)), urgency="platform_down")
    assert next_due(clocks) == at(2026, 11, 29, 0, 0)


def test_waiting_over_carnival_skips_both_holidays():
    # Answer Friday 5 Feb 2027 15:00; Carnival is Monday 8 and Tuesday 9.
    # Warning: Fri 15-17 (2 h) + Wed 10, 09-15 (6 h) = Wednesday 15:00.
    # Close:   + Wed 15-17 (2 h) + Thu 11, 09-15 (6 h) = Thursday 15:00.
    clocks = clocks_of(opened(at(2027, 2, 5, 10, 0)), message(2, AGENT, at(2027, 2, 5, 15, 0)))
    timers = timers_by_kind(clocks)
    assert timers["auto_close_warning"].due_at == at(2027, 2, 10, 15, 0)
    assert timers["auto_closed"].due_at == at(2027, 2, 11, 15, 0)


def test_an_internal_note_while_waiting_keeps_the_times_but_moves_the_close_decision():
    before = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)))
    after = apply(before, message(3, AGENT, at(2026, 11, 26, 9, 0), internal=True))
    old, new = timers_by_kind(before), timers_by_kind(after)
    assert after.version == 3 and after.waiting == before.waiting
    assert new["auto_close_warning"].key == old["auto_close_warning"].key == "t1:warning:2"
    assert new["auto_close_warning"].due_at == old["auto_close_warning"].due_at
    assert new["auto_closed"].due_at == old["auto_closed"].due_at
    assert (new["auto_closed"].key, new["auto_closed"].data["based_on_version"]) == ("t1:close:3", 3)


@pytest.mark.parametrize("event", [
    new_event("TicketAssigned", "t1", 3, {"agent_id": "u-carlos", "assigned_by": "u-ana"},
              actor=SUPERVISOR, occurred_at=at(2026, 11, 25, 12, 0)),
    new_event("CustomerAway", "t1", 3, {"note": "vuelvo el lunes"}, actor=CUSTOMER,
              occurred_at=at(2026, 11, 25, 12, 0)),
])
def test_assignment_and_customer_away_only_move_the_version(event):
    before = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)))
    after = apply(before, event)
    assert after.version == 3
    assert after == replace(before, version=3)


# --- replays, closing, other streams ----------------------------------------------------

def test_replayed_events_change_nothing():
    events = [opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)),
              message(3, CUSTOMER, at(2026, 11, 26, 10, 0))]
    once = clocks_of(*events)
    assert clocks_of(*events, *events) == once
    assert apply(once, events[1]) is once
    assert pending_timers(clocks_of(*events, events[1])) == pending_timers(once)


def test_a_closed_ticket_has_no_pending_timer_and_stays_closed():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                       closed(3, at(2026, 11, 25, 12, 0)))
    assert clocks.status == "closed"
    assert pending_timers(clocks) == [] and next_due(clocks) is None
    assert clocks.paused == ((at(2026, 11, 25, 11, 0), at(2026, 11, 25, 12, 0)),)
    later = apply(clocks, message(4, CUSTOMER, at(2026, 11, 26, 9, 0)))
    assert (later.status, later.version, pending_timers(later)) == ("closed", 4, [])


def test_closing_an_unanswered_ticket_records_its_response_clock_as_not_met():
    clocks = clocks_of(opened(WEDNESDAY_10), closed(2, at(2026, 11, 25, 12, 0)))
    (first,) = clocks.history
    assert (first.kind, first.met_at) == ("first_response", None)
    assert pending_timers(clocks) == []


def test_our_own_sla_events_are_not_folded():
    clocks = clocks_of(opened(WEDNESDAY_10))
    overdue = new_event("ResponseOverdue", "sla-t1", 2, {"ticket_id": "t1", "clock": "first_response",
                                                     "due_at": at(2026, 11, 26, 10, 0), "policy_version": 1},
                        actor=Actor("sla", "system"), occurred_at=at(2026, 11, 26, 10, 1))
    assert apply(clocks, overdue) is clocks


def test_the_deadline_depends_on_occurred_at_not_on_when_the_event_is_read():
    # The same events folded "late" give the same state: nothing here reads a clock.
    events = [opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 26, 9, 0))]
    assert clocks_of(*events) == clocks_of(*events)
    assert "response_overdue" not in timers_by_kind(clocks_of(*events))


# --- explaining -----------------------------------------------------------------------

def test_explain_lists_the_closed_days_a_deadline_skipped_with_their_notes():
    clocks = clocks_of(opened(at(2026, 12, 23, 10, 0)))
    (first,) = explain(clocks)["clocks"]
    assert (first["kind"], first["started_at"], first["due_at"]) == \
        ("first_response", "2026-12-23T14:00:00+00:00", "2026-12-28T14:00:00+00:00")
    assert first["skipped_closed_days"] == [{"date": "2026-12-24", "note": "Nochebuena"},
                                            {"date": "2026-12-25", "note": "Día de Navidad"}]
    assert (first["policy_version"], first["calendar_version"], first["running"]) == (1, 1, True)


def test_explain_covers_answered_clocks_the_wait_and_its_pause_across_carnival():
    clocks = clocks_of(opened(at(2027, 2, 5, 10, 0)), message(2, AGENT, at(2027, 2, 5, 15, 0)))
    doc = explain(clocks)
    first, warning, close = doc["clocks"]
    assert (first["kind"], first["met_at"], first["met_in_time"], first["paused"]) == \
        ("first_response", "2027-02-05T19:00:00+00:00", True, [])
    # Its deadline (Wednesday 10:00) lay past Carnival too, even if the answer came first.
    assert first["due_at"] == "2027-02-10T14:00:00+00:00"
    assert [day["date"] for day in first["skipped_closed_days"]] == ["2027-02-08", "2027-02-09"]
    assert (warning["kind"], warning["due_at"]) == ("auto_close_warning", "2027-02-10T19:00:00+00:00")
    assert (close["kind"], close["due_at"]) == ("auto_close", "2027-02-11T19:00:00+00:00")
    assert close["skipped_closed_days"] == [{"date": "2027-02-08", "note": "Lunes de Carnaval"},
                                            {"date": "2027-02-09", "note": "Martes de Carnaval"}]
    assert close["paused"] == [{"start": "2027-02-05T19:00:00+00:00", "end": None}]
    assert doc["paused"] == close["paused"]
    assert (doc["status"], doc["version"], doc["next_due"]) == \
        ("waiting_customer", 2, "2027-02-10T19:00:00+00:00")
    assert doc["policy"]["targets"]["auto_close"] == {"minutes": 960, "clock": "business"}


# --- edges the mutation run found unpinned (bench/README.md) ------------------------------

def test_an_event_at_the_version_already_folded_is_a_replay_even_if_it_differs():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)))
    assert apply(clocks, message(2, CUSTOMER, at(2026, 11, 25, 12, 0))) is clocks


def test_every_pause_is_kept_when_the_customer_answers_twice():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                       message(3, CUSTOMER, at(2026, 11, 25, 12, 0)), message(4, AGENT, at(2026, 11, 25, 13, 0)),
                       message(5, CUSTOMER, at(2026, 11, 25, 14, 0)))
    assert clocks.paused == ((at(2026, 11, 25, 11, 0), at(2026, 11, 25, 12, 0)),
                             (at(2026, 11, 25, 13, 0), at(2026, 11, 25, 14, 0)))


def test_a_pause_that_ended_when_a_clock_started_is_not_listed_for_that_clock():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                       message(3, CUSTOMER, at(2026, 11, 25, 12, 0)))
    first, following = explain(clocks)["clocks"]
    assert following["kind"] == "next_response" and following["paused"] == []
    assert first["paused"] == []  # the pause began when the first clock was met


def test_an_answer_exactly_at_the_deadline_is_in_time():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 26, 10, 0)))
    first = explain(clocks)["clocks"][0]
    assert (first["due_at"], first["met_in_time"]) == ("2026-11-26T14:00:00+00:00", True)


def test_a_24x7_clock_counts_from_the_filing_even_out_of_hours():
    saturday_3am = at(2026, 11, 28, 3, 0)
    (first,) = explain(clocks_of(opened(saturday_3am, "platform_down"), urgency="platform_down"))["clocks"]
    assert (first["clock"], first["counts_from"]) == ("24x7", "2026-11-28T07:00:00+00:00")


def test_explain_says_which_clocks_still_run_and_whose_ticket_it_is():
    doc = explain(clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0))))
    assert [(c["kind"], c["running"]) for c in doc["clocks"]] == [
        ("first_response", False), ("auto_close_warning", True), ("auto_close", True)]
    assert {k: doc[k] for k in ("ticket_id", "number", "desk", "urgency", "urgency_class", "calendar_version")} == {
        "ticket_id": "t1", "number": "SOP-1", "desk": "SOPORTE", "urgency": "normal", "urgency_class": "normal",
        "calendar_version": 1}
    assert doc["policy"]["version"] == 1


def test_every_sla_event_names_its_ticket():
    waiting = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)))
    timers = pending_timers(clocks_of(opened(WEDNESDAY_10))) + pending_timers(waiting)
    assert [t.event_type for t in timers] == ["ResponseOverdue", "AutoCloseWarning", "AutoClosed"]
    assert all((t.data["ticket_id"], t.data["number"]) == ("t1", "SOP-1") for t in timers)


def test_misuse_is_refused_with_what_went_wrong():
    with pytest.raises(ValueError, match="^a ticket's clocks start with TicketOpened, not MessagePosted$"):
        open_clocks(message(1, CUSTOMER, WEDNESDAY_10), DEFAULT_POLICIES[("SOPORTE", "normal")], CALENDAR)
    with pytest.raises(ValueError, match="^policy SOPORTE/urgent does not apply to SOPORTE/normal$"):
        open_clocks(opened(WEDNESDAY_10), DEFAULT_POLICIES[("SOPORTE", "urgent")], CALENDAR)
    other = new_event("MessagePosted", "t2", 2, {"message_id": "m", "author_id": "u", "author_role": "agent",
                                                 "body": "x", "internal": False}, actor=AGENT, occurred_at=WEDNESDAY_10)
    with pytest.raises(ValueError, match="^event of stream t2 applied to ticket t1$"):
        apply(clocks_of(opened(WEDNESDAY_10)), other)


def test_clocks_and_timers_are_values_that_cannot_be_changed_in_place():
    clocks = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)))
    timer = pending_timers(clocks)[0]
    for value, name in ((clocks, "status"), (clocks.waiting, "since"), (clocks.history[0], "met_at"),
                        (timer, "due_at")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        clocks_of(opened(WEDNESDAY_10)).response.due_at = None


def test_a_return_announced_for_the_very_moment_of_marking_delays_nothing():
    answered = clocks_of(opened(WEDNESDAY_10), message(2, AGENT, at(2026, 11, 25, 11, 0)))
    noon = at(2026, 11, 25, 12, 0)
    back_now = new_event("CustomerAway", "t1", 3, {"back_at": noon.isoformat(), "note": None}, actor=CUSTOMER,
                         occurred_at=noon)
    after = apply(answered, back_now)
    assert after == replace(answered, version=3)
