"""The facts the SLA service publishes about a ticket's clocks (issue 8 "deadlines as facts"),
one transition per test, every instant worked out by hand.

Caracas is UTC-4 all year; the default calendar opens Monday to Friday 09:00-17:00 and closes
on Venezuelan holidays (Friday 24 July 2026: Natalicio de Simón Bolívar). The default normal
policy: first and next response 8 business hours, auto-close warning after 8 and auto-close
after 16 business hours of waiting; urgent: responses in 2 hours on the 24x7 clock.
"""
from __future__ import annotations

from datetime import time

import pytest

from helpdesk_shared.business_calendar import Calendar
from helpdesk_shared.envelope import new_event
from helpdesk_shared.schemas import validate_data
from sla.facts import calendar_facts, ticket_facts
from sla.policy import DEFAULT_POLICIES
from sla.timers import apply, fold, on_calendar, open_clocks, pending_timers

from test_sla_timers import AGENT, CALENDAR, CUSTOMER, at, closed, message, opened

NORMAL = DEFAULT_POLICIES[("SOPORTE", "normal")]
URGENT = DEFAULT_POLICIES[("SOPORTE", "urgent")]
THURSDAY_BEFORE_BOLIVAR = at(2026, 7, 23, 15, 0)  # Friday 24 July is a holiday, then the weekend


def steps(*events, policy=NORMAL, calendar=CALENDAR):
    """The facts of each event in turn (the first opens the clocks), each checked against its schema."""
    clocks, out = None, []
    for event in events:
        after = open_clocks(event, policy, calendar) if clocks is None else apply(clocks, event)
        facts = ticket_facts(clocks, after, event)
        for type_, data in facts:
            assert validate_data(type_, data) == data, type_
        out.append(facts)
        clocks = after
    return out


def types(facts) -> list[str]:
    return [type_ for type_, _ in facts]


def away(version: int, when, back_at):
    return new_event("CustomerAway", "t1", version, {"back_at": back_at, "note": "de viaje"},
                     actor=CUSTOMER, occurred_at=when)


def not_solved(version: int, when):
    return new_event("ResolutionConfirmed", "t1", version, {"solved": False, "body": "sigue igual"},
                     actor=CUSTOMER, occurred_at=when)


def assigned(version: int, when):
    return new_event("TicketAssigned", "t1", version, {"agent_id": AGENT.id, "assigned_by": AGENT.id},
                     actor=AGENT, occurred_at=when)


# --- a ticket's life across a holiday and a weekend ---------------------------------------

LIFE = (opened(THURSDAY_BEFORE_BOLIVAR),
        message(2, AGENT, at(2026, 7, 27, 10, 30)),      # Monday: answered in time
        message(3, CUSTOMER, at(2026, 7, 28, 9, 15)),    # Tuesday: the customer writes back
        message(4, AGENT, at(2026, 8, 1, 11, 0)),        # Saturday: answered late, out of hours
        closed(5, at(2026, 8, 3, 10, 0)))                # Monday: closed while waiting


def test_a_ticket_opened_before_a_holiday_and_a_weekend_sets_its_first_deadline_on_monday():
    ((type_, data),) = steps(*LIFE[:1])[0]
    # Thursday 15:00-17:00 counts 2 h; Friday (Bolívar), Saturday and Sunday nothing; Monday 6 h.
    assert type_ == "DeadlineSet"
    assert data == {
        "ticket_id": "t1", "number": "SOP-1", "desk": "SOPORTE", "clock": "first_response", "clock_type": "business",
        "started_at": "2026-07-23T19:00:00+00:00", "counts_from": "2026-07-23T19:00:00+00:00",
        "due_at": "2026-07-27T19:00:00+00:00", "policy_version": 1, "calendar_version": 1,
        "office_hours": [[d, "09:00", "17:00"] for d in range(5)],
        "open_intervals": [["2026-07-23T19:00:00+00:00", "2026-07-23T21:00:00+00:00"],
                           ["2026-07-27T13:00:00+00:00", "2026-07-27T19:00:00+00:00"]]}


def test_an_agents_answer_in_time_meets_the_clock_pauses_it_and_starts_the_auto_close():
    facts = steps(*LIFE[:2])[1]
    assert types(facts) == ["DeadlineMet", "ClockPaused", "DeadlineSet"]
    (_, met), (_, paused), (_, auto_close) = facts
    # Counted: Thursday 2 h + Monday 09:00-10:30 = 3.5 h; elapsed Thursday 15:00 -> Monday 10:30 = 91.5 h.
    assert met == {"ticket_id": "t1", "number": "SOP-1", "clock": "first_response",
                   "started_at": "2026-07-23T19:00:00+00:00", "due_at": "2026-07-27T19:00:00+00:00",
                   "met_at": "2026-07-27T14:30:00+00:00", "met_in_time": True,
                   "business_seconds": 12_600, "outside_hours_seconds": 316_800, "answered_outside_hours": False,
                   "answered_by": "u-carlos", "policy_version": 1, "calendar_version": 1}
    assert paused == {"ticket_id": "t1", "number": "SOP-1", "at": "2026-07-27T14:30:00+00:00",
                      "reason": "waiting_customer"}
    # 16 business hours from Monday 10:30: Monday 6.5 h, Tuesday 8 h, Wednesday 1.5 h; the warning
    # after 8: Monday 6.5 h + Tuesday 1.5 h.
    assert auto_close["clock"] == "auto_close" and auto_close["started_at"] == "2026-07-27T14:30:00+00:00"
    assert (auto_close["due_at"], auto_close["warning_at"]) == ("2026-07-29T14:30:00+00:00",
                                                                "2026-07-28T14:30:00+00:00")
    assert auto_close["open_intervals"] == [["2026-07-27T14:30:00+00:00", "2026-07-27T21:00:00+00:00"],
                                            ["2026-07-28T13:00:00+00:00", "2026-07-28T21:00:00+00:00"],
                                            ["2026-07-29T13:00:00+00:00", "2026-07-29T14:30:00+00:00"]]


def test_the_customers_message_ends_the_wait_and_starts_the_next_response_clock():
    facts = steps(*LIFE[:3])[2]
    assert types(facts) == ["DeadlineCleared", "DeadlineSet"]
    (_, cleared), (_, next_response) = facts
    assert cleared == {"ticket_id": "t1", "number": "SOP-1", "clock": "auto_close",
                       "due_at": "2026-07-29T14:30:00+00:00", "at": "2026-07-28T13:15:00+00:00",
                       "reason": "customer_replied"}
    # Tuesday 09:15-17:00 is 7.75 h; the last quarter of an hour on Wednesday.
    assert next_response["clock"] == "next_response" and next_response["due_at"] == "2026-07-29T13:15:00+00:00"
    assert next_response["open_intervals"] == [["2026-07-28T13:15:00+00:00", "2026-07-28T21:00:00+00:00"],
                                               ["2026-07-29T13:00:00+00:00", "2026-07-29T13:15:00+00:00"]]


def test_a_late_answer_on_a_saturday_is_measured_in_business_and_out_of_hours_time():
    (_, met), *_ = steps(*LIFE[:4])[3]
    # Counted: Tuesday 7.75 h + Wednesday, Thursday, Friday 8 h each = 31.75 h; elapsed Tuesday
    # 09:15 -> Saturday 11:00 = 97.75 h, so 66 h outside the office hours.
    assert (met["clock"], met["met_at"], met["met_in_time"]) == ("next_response", "2026-08-01T15:00:00+00:00", False)
    assert (met["business_seconds"], met["outside_hours_seconds"], met["answered_outside_hours"]) == (
        114_300, 237_600, True)


def test_closing_a_waiting_ticket_clears_its_auto_close():
    facts = steps(*LIFE)[4]
    # The Saturday answer's wait: 16 business hours from Monday 3 August 09:00 -> Tuesday 17:00.
    assert facts == [("DeadlineCleared", {"ticket_id": "t1", "number": "SOP-1", "clock": "auto_close",
                                          "due_at": "2026-08-04T21:00:00+00:00", "at": "2026-08-03T14:00:00+00:00",
                                          "reason": "closed"})]


def test_closing_a_ticket_nobody_answered_clears_its_response_clock():
    facts = steps(LIFE[0], closed(2, at(2026, 7, 23, 16, 0)))[1]
    assert facts == [("DeadlineCleared", {"ticket_id": "t1", "number": "SOP-1", "clock": "first_response",
                                          "due_at": "2026-07-27T19:00:00+00:00", "at": "2026-07-23T20:00:00+00:00",
                                          "reason": "closed"})]


def test_an_urgent_ticket_answered_at_night_counts_clock_time_all_of_it_out_of_hours():
    facts = steps(opened(at(2026, 11, 28, 3, 0), "platform_down"), message(2, AGENT, at(2026, 11, 28, 4, 0)),
                  policy=URGENT)
    ((_, set_),), (_, met) = facts[0], facts[1][0]
    assert (set_["clock_type"], set_["counts_from"], set_["due_at"]) == (
        "24x7", "2026-11-28T07:00:00+00:00", "2026-11-28T09:00:00+00:00")
    assert set_["open_intervals"] == [["2026-11-28T07:00:00+00:00", "2026-11-28T09:00:00+00:00"]]
    assert (met["business_seconds"], met["outside_hours_seconds"], met["answered_outside_hours"]) == (3600, 3600, True)


def test_a_saturday_ticket_answered_before_monday_counted_nothing():
    facts = steps(opened(at(2026, 11, 28, 10, 0)), message(2, AGENT, at(2026, 11, 29, 12, 0)))
    (_, met) = facts[1][0]
    assert (met["business_seconds"], met["outside_hours_seconds"]) == (0, 26 * 3600)


def test_the_customer_away_until_monday_moves_the_auto_close():
    facts = steps(opened(at(2026, 11, 25, 10, 0)), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                  away(3, at(2026, 11, 25, 12, 0), at(2026, 11, 30, 9, 0)))[2]
    ((type_, moved),) = facts
    # Before: 16 h from Wednesday 11:00 -> Friday 11:00. After: from Monday 09:00 -> Tuesday 17:00.
    assert type_ == "DeadlineMoved" and moved["reason"] == "customer_away"
    assert moved["previous_due_at"] == "2026-11-27T15:00:00+00:00"
    assert (moved["started_at"], moved["counts_from"], moved["due_at"], moved["warning_at"]) == (
        "2026-11-25T15:00:00+00:00", "2026-11-30T13:00:00+00:00", "2026-12-01T21:00:00+00:00",
        "2026-11-30T21:00:00+00:00")
    assert moved["open_intervals"] == [["2026-11-30T13:00:00+00:00", "2026-11-30T21:00:00+00:00"],
                                       ["2026-12-01T13:00:00+00:00", "2026-12-01T21:00:00+00:00"]]


def test_a_second_answer_while_waiting_restarts_the_auto_close_without_a_second_pause():
    facts = steps(opened(at(2026, 11, 25, 10, 0)), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                  message(3, AGENT, at(2026, 11, 25, 12, 0)))[2]
    ((type_, data),) = facts
    assert type_ == "DeadlineSet" and (data["started_at"], data["due_at"]) == (
        "2026-11-25T16:00:00+00:00", "2026-11-27T16:00:00+00:00")


def test_not_solved_while_waiting_clears_the_auto_close_and_starts_the_next_response():
    facts = steps(opened(at(2026, 11, 25, 10, 0)), message(2, AGENT, at(2026, 11, 25, 11, 0)),
                  not_solved(3, at(2026, 11, 25, 12, 0)))[2]
    assert [(t, d["clock"]) for t, d in facts] == [("DeadlineCleared", "auto_close"), ("DeadlineSet", "next_response")]
    assert facts[0][1]["reason"] == "customer_replied"


@pytest.mark.parametrize("event", [
    message(2, AGENT, at(2026, 11, 25, 11, 0), internal=True),
    assigned(2, at(2026, 11, 25, 11, 0)),
    message(2, CUSTOMER, at(2026, 11, 25, 11, 0)),  # the first answer is still owed: its clock runs on
    away(2, at(2026, 11, 25, 11, 0), at(2026, 11, 30, 9, 0)),  # remembered for when the wait starts
], ids=["internal note", "assignment", "second customer message", "away before any wait"])
def test_events_that_change_no_clock_publish_nothing(event):
    assert steps(opened(at(2026, 11, 25, 10, 0)), event)[1] == []


def test_a_replayed_event_publishes_nothing():
    answer = message(2, AGENT, at(2026, 11, 25, 11, 0))
    clocks = fold([opened(at(2026, 11, 25, 10, 0)), answer], NORMAL, CALENDAR)
    assert ticket_facts(clocks, apply(clocks, answer), answer) == []


def test_a_closed_ticket_publishes_nothing_more():
    clocks = fold([opened(at(2026, 11, 25, 10, 0)), closed(2, at(2026, 11, 25, 11, 0))], NORMAL, CALENDAR)
    late = message(3, CUSTOMER, at(2026, 11, 25, 12, 0))
    assert ticket_facts(clocks, apply(clocks, late), late) == []


# --- a calendar change moves running deadlines --------------------------------------------

WEDNESDAY_NOON = at(2026, 11, 25, 12, 0)


def closed_thursday(effective_from=WEDNESDAY_NOON, version=2):
    """The default calendar with Thursday 26 November 2026 declared closed."""
    return CALENDAR.with_closure(at(2026, 11, 26, 0, 0).date(), "Inventario anual", version=version,
                                 effective_from=effective_from)


def test_a_closure_declared_for_tomorrow_moves_todays_deadline_past_it():
    before = fold([opened(at(2026, 11, 25, 10, 0))], NORMAL, CALENDAR)  # due Thursday 10:00
    after = on_calendar(before, closed_thursday(), now=WEDNESDAY_NOON)
    # 2 h counted on the old calendar up to the change (Wednesday 10:00-12:00), the other 6 on
    # the new one: Wednesday 12:00-17:00 5 h, Thursday closed, Friday 09:00-10:00.
    assert after.response.due_at == at(2026, 11, 27, 10, 0) and after.calendar.version == 2
    assert pending_timers(after)[0].due_at == at(2026, 11, 27, 10, 0)
    ((type_, moved),) = calendar_facts(before, after)
    assert validate_data(type_, moved) == moved
    assert (type_, moved["reason"], moved["previous_due_at"], moved["due_at"]) == (
        "DeadlineMoved", "calendar_changed", "2026-11-26T14:00:00+00:00", "2026-11-27T14:00:00+00:00")
    assert (moved["calendar_version"], moved["policy_version"], moved["counts_from"]) == (
        2, 1, "2026-11-25T14:00:00+00:00")
    assert moved["open_intervals"] == [["2026-11-25T14:00:00+00:00", "2026-11-25T21:00:00+00:00"],
                                       ["2026-11-27T13:00:00+00:00", "2026-11-27T14:00:00+00:00"]]


def test_hours_added_on_saturday_count_only_from_the_change_on():
    friday_16 = at(2026, 11, 27, 16, 0)
    saturdays = Calendar(CALENDAR.tz, CALENDAR.weekly + ((5, time(9), time(13)),), CALENDAR.closed_days,
                         version=2, effective_from=friday_16)
    before = fold([opened(at(2026, 11, 27, 15, 0))], NORMAL, CALENDAR)  # due Monday 15:00
    after = on_calendar(before, saturdays, now=friday_16)
    # 1 h on the old calendar (Friday 15:00-16:00); 7 on the new: Friday 1 h, Saturday 4 h, Monday 2 h.
    assert after.response.due_at == at(2026, 11, 30, 11, 0)
    ((_, moved),) = calendar_facts(before, after)
    assert moved["open_intervals"] == [["2026-11-27T19:00:00+00:00", "2026-11-27T21:00:00+00:00"],
                                       ["2026-11-28T13:00:00+00:00", "2026-11-28T17:00:00+00:00"],
                                       ["2026-11-30T13:00:00+00:00", "2026-11-30T15:00:00+00:00"]]
    assert moved["office_hours"][-1] == [5, "09:00", "13:00"]


def test_an_auto_close_counting_from_a_later_return_is_counted_on_the_new_calendar_alone():
    events = [opened(at(2026, 11, 25, 10, 0)), message(2, AGENT, at(2026, 11, 25, 11, 0)),
              away(3, at(2026, 11, 25, 12, 0), at(2026, 11, 30, 9, 0))]
    before = fold(events, NORMAL, CALENDAR)  # warning Monday 30 17:00, close Tuesday 1 December 17:00
    monday_closed = CALENDAR.with_closure(at(2026, 11, 30, 0, 0).date(), "Mudanza", version=2,
                                          effective_from=at(2026, 11, 26, 12, 0))
    after = on_calendar(before, monday_closed, now=at(2026, 11, 26, 12, 0))
    assert (after.waiting.warn_at, after.waiting.close_at) == (at(2026, 12, 1, 17, 0), at(2026, 12, 2, 17, 0))
    ((_, moved),) = calendar_facts(before, after)
    assert (moved["clock"], moved["previous_due_at"], moved["warning_at"], moved["counts_from"]) == (
        "auto_close", "2026-12-01T21:00:00+00:00", "2026-12-01T21:00:00+00:00", "2026-12-01T13:00:00+00:00")
    assert moved["open_intervals"] == [["2026-12-01T13:00:00+00:00", "2026-12-01T21:00:00+00:00"],
                                       ["2026-12-02T13:00:00+00:00", "2026-12-02T21:00:00+00:00"]]


def test_a_deadline_already_past_is_not_moved_but_the_ticket_follows_the_new_calendar():
    before = fold([opened(at(2026, 11, 24, 10, 0))], NORMAL, CALENDAR)  # due Wednesday 10:00, overdue
    after = on_calendar(before, closed_thursday(), now=WEDNESDAY_NOON)
    assert after.response.due_at == before.response.due_at and after.calendar.version == 2
    assert calendar_facts(before, after) == []


def test_a_change_taking_effect_after_the_deadline_moves_nothing():
    before = fold([opened(at(2026, 11, 25, 10, 0))], NORMAL, CALENDAR)  # due Thursday 10:00
    after = on_calendar(before, closed_thursday(effective_from=at(2026, 11, 26, 11, 0)), now=WEDNESDAY_NOON)
    assert after.response.due_at == before.response.due_at and calendar_facts(before, after) == []


def test_a_24x7_clock_does_not_move_with_the_calendar():
    before = fold([opened(at(2026, 11, 25, 10, 0), "platform_down")], URGENT, CALENDAR)
    after = on_calendar(before, closed_thursday(effective_from=at(2026, 11, 25, 10, 30)),
                        now=at(2026, 11, 25, 10, 30))
    assert after.response.due_at == before.response.due_at and calendar_facts(before, after) == []


def test_a_deadline_of_more_spans_than_the_schema_takes_is_published_without_them():
    one_minute_a_week = Calendar(weekly=((0, time(9), time(9, 1)),))  # 8 hours: 480 Mondays away
    ((type_, data),) = steps(opened(at(2026, 11, 25, 10, 0)), calendar=one_minute_a_week)[0]
    assert type_ == "DeadlineSet" and "open_intervals" not in data
    assert data["due_at"] == "2036-02-04T13:01:00+00:00"  # the 480th Monday from 30 November 2026


# --- limits the mutation run found unpinned ---------------------------------------------

def test_a_change_made_at_the_very_instant_a_deadline_falls_leaves_it_where_it_was():
    before = fold([opened(at(2026, 11, 25, 10, 0))], NORMAL, CALENDAR)  # due Thursday 10:00
    due = before.response.due_at
    # The closure recounts the clock (2 h on the old calendar, then Thursday closed) unless
    # the deadline is already at `now`: its timer is firing, the past is not rewritten.
    after = on_calendar(before, closed_thursday(effective_from=at(2026, 11, 25, 12, 0)), now=due)
    assert after.response.due_at == due and calendar_facts(before, after) == []


def test_a_return_at_the_very_instant_of_the_answer_is_not_told_as_a_later_return():
    events = [opened(at(2026, 11, 25, 10, 0)), away(2, at(2026, 11, 25, 10, 30), at(2026, 11, 25, 11, 0)),
              message(3, AGENT, at(2026, 11, 25, 11, 0))]
    clocks = fold(events, NORMAL, CALENDAR)
    assert clocks.waiting.away_until is None  # the wait simply counts from the answer
    warning = next(t for t in pending_timers(clocks) if t.kind == "auto_close_warning")
    assert "away_until" not in warning.data


def test_the_explanation_names_every_calendar_version_the_ticket_followed():
    from sla.timers import explain
    before = fold([opened(at(2026, 11, 25, 10, 0))], NORMAL, CALENDAR)
    after = on_calendar(before, closed_thursday(), now=WEDNESDAY_NOON)
    assert explain(before)["calendar_versions"] == [CALENDAR.version]
    assert explain(after)["calendar_versions"] == [CALENDAR.version, 2]


def test_clocks_built_without_a_running_clock_have_no_timers():
    from sla.timers import TicketClocks, Waiting
    bare = TicketClocks(ticket_id="t1", number="SOP-1", desk="SOPORTE", urgency="normal", policy=NORMAL,
                        calendar=CALENDAR, version=1, status="open")
    assert pending_timers(bare) == []
    t = at(2026, 11, 25, 11, 0)
    waiting = TicketClocks(**{**bare.__dict__, "status": "waiting_customer",
                              "waiting": Waiting(since=t, since_version=2, warn_at=t, close_at=t)})
    assert all("away_until" not in timer.data for timer in pending_timers(waiting))


# --- time accounting (issue 12): the minutes an agent records, split by the calendar ------------

def timed(version: int, actor, when, minutes: int, internal: bool = False):
    """A MessagePosted by `actor` at `when` that records `minutes` spent on it."""
    event = message(version, actor, when, internal)
    return new_event("MessagePosted", "t1", version, {**event.data, "minutes_spent": minutes},
                     actor=actor, occurred_at=when)


def work(facts) -> list[dict]:
    return [data for type_, data in facts if type_ == "WorkTimeRecorded"]


def test_minutes_recorded_across_the_closing_time_count_outside_hours_only_after_17():
    # 90 minutes ending Thursday 23 July 17:45: 16:15-17:00 open (45 min), 17:00-17:45 closed (45 min).
    _, answered = steps(opened(THURSDAY_BEFORE_BOLIVAR), timed(2, AGENT, at(2026, 7, 23, 17, 45), 90))
    assert work(answered) == [{
        "ticket_id": "t1", "number": "SOP-1", "desk": "SOPORTE", "message_id": "m2", "agent_id": "u-carlos",
        "internal": False, "minutes": 90, "started_at": "2026-07-23T20:15:00+00:00",
        "ended_at": "2026-07-23T21:45:00+00:00", "outside_hours_seconds": 45 * 60, "calendar_version": 1}]


def test_minutes_recorded_on_a_holiday_are_all_outside_hours_and_an_internal_note_counts_too():
    # Friday 24 July 2026 (Bolívar) 10:00-12:00 is a weekday's office hours, but the desk is closed.
    _, noted = steps(opened(THURSDAY_BEFORE_BOLIVAR), timed(2, AGENT, at(2026, 7, 24, 12, 0), 120, internal=True))
    (data,) = work(noted)
    assert (data["internal"], data["minutes"], data["outside_hours_seconds"]) == (True, 120, 120 * 60)


def test_minutes_recorded_within_office_hours_are_not_outside_hours():
    _, answered = steps(opened(THURSDAY_BEFORE_BOLIVAR), timed(2, AGENT, at(2026, 7, 23, 16, 0), 30))
    assert [d["outside_hours_seconds"] for d in work(answered)] == [0]


def test_a_message_without_minutes_records_no_time_and_a_replay_records_it_once():
    answer = timed(2, AGENT, at(2026, 7, 23, 16, 0), 30)
    opening = opened(THURSDAY_BEFORE_BOLIVAR)
    assert work(steps(opening, message(2, AGENT, at(2026, 7, 23, 16, 0)))[1]) == []
    clocks = apply(open_clocks(opening, NORMAL, CALENDAR), answer)
    assert ticket_facts(clocks, apply(clocks, answer), answer) == []  # the same event again
