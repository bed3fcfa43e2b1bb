"""Issue 7 items 18 and 17 in the SLA's pure fold: while the customer is away until a date, the
auto-close counts from that date (and the warning says so); the first-response deadline is
published with the calendar and policy versions it was computed on.

Caracas is UTC-4; the default calendar opens Monday to Friday 09:00-17:00.
"""
from __future__ import annotations

from helpdesk_shared.envelope import new_event
from helpdesk_shared.schemas import validate_data
from sla.policy import DEFAULT_POLICIES
from sla.facts import deadline_set_data
from sla.timers import apply, explain, fold

from test_sla_timers import AGENT, CALENDAR, CUSTOMER, WEDNESDAY_10, at, clocks_of, message, opened, timers_by_kind


def away(version: int, when, back_at=None):
    """CustomerAway on t1, back at `back_at` (None: no date given)."""
    return new_event("CustomerAway", "t1", version, {"back_at": back_at, "note": "salgo de viaje"},
                     actor=CUSTOMER, occurred_at=when)


ANSWERED = message(2, AGENT, at(2026, 11, 25, 11, 0))  # the ticket waits for the customer from here


def test_away_until_monday_moves_the_warning_and_the_auto_close_to_count_from_monday():
    clocks = clocks_of(opened(WEDNESDAY_10), ANSWERED, away(3, at(2026, 11, 25, 12, 0), at(2026, 11, 30, 9, 0)))
    timers = timers_by_kind(clocks)
    assert timers["auto_close_warning"].due_at == at(2026, 11, 30, 17, 0)  # one business day from Monday 09:00
    assert timers["auto_closed"].due_at == at(2026, 12, 1, 17, 0)          # two business days
    assert timers["auto_close_warning"].data["away_until"] == "2026-11-30T13:00:00+00:00"
    assert timers["auto_close_warning"].data["closes_at"] == "2026-12-01T21:00:00+00:00"
    assert timers["auto_closed"].data["based_on_version"] == 3
    for timer in timers.values():
        assert validate_data(timer.event_type, timer.data) == timer.data


def test_a_warning_already_sent_is_sent_again_for_the_moved_deadline():
    before = clocks_of(opened(WEDNESDAY_10), ANSWERED)
    after = apply(before, away(3, at(2026, 11, 26, 12, 0), at(2026, 11, 30, 9, 0)))
    assert timers_by_kind(after)["auto_close_warning"].key != timers_by_kind(before)["auto_close_warning"].key


def test_away_before_the_agent_answers_makes_the_wait_count_from_the_return():
    clocks = clocks_of(opened(WEDNESDAY_10), away(2, at(2026, 11, 25, 10, 30), at(2026, 11, 30, 9, 0)),
                       message(3, AGENT, at(2026, 11, 25, 11, 0)))
    assert timers_by_kind(clocks)["auto_closed"].due_at == at(2026, 12, 1, 17, 0)


def test_an_answer_after_the_return_counts_from_the_answer_as_usual():
    clocks = clocks_of(opened(WEDNESDAY_10), away(2, at(2026, 11, 25, 10, 30), at(2026, 11, 26, 9, 0)),
                       message(3, AGENT, at(2026, 11, 27, 11, 0)))
    assert timers_by_kind(clocks)["auto_closed"].due_at == at(2026, 12, 1, 11, 0)
    assert "away_until" not in timers_by_kind(clocks)["auto_close_warning"].data


def test_the_next_customer_message_clears_the_absence():
    clocks = clocks_of(opened(WEDNESDAY_10), away(2, at(2026, 11, 25, 10, 30), at(2026, 12, 7, 9, 0)),
                       message(3, CUSTOMER, at(2026, 11, 25, 10, 45)), message(4, AGENT, at(2026, 11, 25, 11, 0)))
    assert clocks.away_until is None
    assert timers_by_kind(clocks)["auto_closed"].due_at == at(2026, 11, 27, 11, 0)


def test_away_without_a_date_changes_no_deadline():
    before = clocks_of(opened(WEDNESDAY_10), ANSWERED)
    after = apply(before, away(3, at(2026, 11, 25, 12, 0)))
    assert timers_by_kind(after)["auto_closed"].due_at == timers_by_kind(before)["auto_closed"].due_at


def test_a_return_date_already_past_changes_no_deadline():
    before = clocks_of(opened(WEDNESDAY_10), ANSWERED)
    after = apply(before, away(3, at(2026, 11, 25, 12, 0), at(2026, 11, 25, 9, 0)))
    assert timers_by_kind(after)["auto_closed"].due_at == timers_by_kind(before)["auto_closed"].due_at


def test_explain_shows_the_absence():
    clocks = clocks_of(opened(WEDNESDAY_10), ANSWERED, away(3, at(2026, 11, 25, 12, 0), at(2026, 11, 30, 9, 0)))
    assert explain(clocks)["away_until"] == "2026-11-30T13:00:00+00:00"


# --- DeadlineSet --------------------------------------------------------------------------

def test_a_saturday_ticket_publishes_its_deadline_counting_from_monday_with_the_calendar_used():
    clocks = clocks_of(opened(at(2026, 11, 28, 10, 0)))
    data = deadline_set_data(clocks)
    assert data["clock"] == "first_response" and data["clock_type"] == "business"
    assert data["started_at"] == "2026-11-28T14:00:00+00:00"
    assert data["counts_from"] == "2026-11-30T13:00:00+00:00"
    assert data["due_at"] == "2026-11-30T21:00:00+00:00"
    assert (data["policy_version"], data["calendar_version"]) == (1, CALENDAR.version)
    assert data["office_hours"][0] == [0, "09:00", "17:00"] and len(data["office_hours"]) == 5
    assert validate_data("DeadlineSet", data) == data


def test_a_closure_day_in_an_edited_calendar_is_in_the_published_deadline():
    edited = CALENDAR.with_closure(at(2026, 11, 26, 0, 0).date(), "Inventario anual", version=2,
                                   effective_from=at(2026, 11, 1, 0, 0))
    clocks = fold([opened(WEDNESDAY_10)], DEFAULT_POLICIES[("SOPORTE", "normal")], edited)
    data = deadline_set_data(clocks)
    assert data["due_at"] == "2026-11-27T14:00:00+00:00" and data["calendar_version"] == 2


def test_an_urgent_ticket_publishes_a_24x7_deadline_counting_at_once():
    clocks = clocks_of(opened(at(2026, 11, 28, 3, 0), "platform_down"), urgency="platform_down")
    data = deadline_set_data(clocks)
    assert (data["clock_type"], data["counts_from"], data["due_at"]) == (
        "24x7", "2026-11-28T07:00:00+00:00", "2026-11-28T09:00:00+00:00")


def test_no_running_response_clock_publishes_nothing():
    assert deadline_set_data(clocks_of(opened(WEDNESDAY_10), ANSWERED)) is None
