"""A desk's calendar history against a brute-force walk, quarter hour by quarter hour.

Three versions with different hours, each taking effect on a different day: whatever a
deadline crosses, every quarter hour counts as open exactly when the version in force at that
instant says so. The walk is the definition; the history's operations are the fast way to it.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from helpdesk_shared.business_calendar import Calendar, CalendarHistory

CARACAS = timezone(timedelta(hours=-4))
STEP = timedelta(minutes=15)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=CARACAS)


# Weekdays 09:00-12:00 and 13:00-17:00 (a lunch break).
V1 = Calendar(weekly=tuple((d, a, b) for d in range(5) for a, b in ((time(9), time(12)), (time(13), time(17)))),
              version=1)
# From Tuesday 1 Dec 2026 12:00: mornings only, and Wednesday closed.
V2 = Calendar(weekly=tuple((d, time(8), time(12)) for d in range(5)), closed_days={date(2026, 12, 2): "Inventario"},
              version=2, effective_from=at(2026, 12, 1, 12, 0))
# From Thursday 3 Dec 2026 10:30: long days and Saturday mornings.
V3 = Calendar(weekly=tuple((d, time(7), time(19)) for d in range(5)) + ((5, time(9), time(13)),),
              version=3, effective_from=at(2026, 12, 3, 10, 30))
HISTORY = CalendarHistory((V3, V1, V2))  # any order: kept oldest first


def in_force(t: datetime) -> Calendar:
    return max((c for c in (V1, V2, V3) if c.effective_from <= t), key=lambda c: c.effective_from)


def open_at(t: datetime) -> bool:
    return in_force(t).is_open(t)


def walk_between(a: datetime, b: datetime) -> timedelta:
    total, t = timedelta(0), a
    while t < b:
        total += STEP if open_at(t) else timedelta(0)
        t += STEP
    return total


def walk_add(t: datetime, duration: timedelta) -> datetime:
    while duration > timedelta(0):
        if open_at(t):
            duration -= STEP
        t += STEP
    return t


def walk_intervals(a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
    spans, t = [], a
    while t < b:
        if open_at(t):
            if spans and spans[-1][1] == t:
                spans[-1] = (spans[-1][0], t + STEP)
            else:
                spans.append((t, t + STEP))
        t += STEP
    return spans


def walk_next_opening(t: datetime) -> datetime:
    while not open_at(t):
        t += STEP
    return t


# Every quarter hour from Monday 30 Nov 00:00 to Friday 4 Dec 00:00 is a start, across both changes.
STARTS = [at(2026, 11, 30, 0, 0) + STEP * k for k in range(0, 4 * 24 * 4, 2)]


def test_every_instant_is_open_on_the_version_in_force_then():
    t = at(2026, 11, 30, 0, 0)
    while t < at(2026, 12, 6, 0, 0):
        assert HISTORY.is_open(t) == open_at(t), t
        t += STEP


@pytest.mark.parametrize("hours", [0.25, 3, 8, 16, 24])
def test_adding_business_hours_across_the_changes_lands_where_the_walk_does(hours):
    for start in STARTS:
        assert HISTORY.add(start, timedelta(hours=hours)) == walk_add(start, timedelta(hours=hours)), start


def test_business_time_and_open_spans_between_two_instants_are_those_of_the_walk():
    end = at(2026, 12, 5, 12, 0)
    for start in STARTS:
        assert HISTORY.business_between(start, end) == walk_between(start, end), start
        assert HISTORY.business_between(end, start) == -walk_between(start, end), start
        assert HISTORY.open_intervals(start, end) == walk_intervals(start, end), start


def test_the_next_opening_is_the_first_open_quarter_hour_of_the_walk():
    for start in STARTS:
        assert HISTORY.next_opening(start) == walk_next_opening(start), start
    assert HISTORY.add(at(2026, 12, 2, 9, 0), timedelta(0)) == at(2026, 12, 3, 8, 0)  # Wednesday closed


def test_nothing_between_an_instant_and_itself_and_a_negative_duration_is_refused():
    t = at(2026, 12, 1, 12, 0)
    assert HISTORY.business_between(t, t) == timedelta(0) and HISTORY.open_intervals(t, t) == []
    with pytest.raises(ValueError, match="^a business duration cannot be negative$"):
        HISTORY.add(t, -timedelta(minutes=1))


def test_with_a_span_limit_the_history_stops_once_it_has_more_spans_than_asked():
    a, b = at(2026, 11, 30, 0, 0), at(2026, 12, 31, 0, 0)
    full = walk_intervals(a, b)
    # The first version alone (Monday, Tuesday morning) already passes a limit of 1: the later
    # versions are not walked.
    assert HISTORY.open_intervals(a, b, limit=1) == full[:2]
    # The first version gives exactly 3 (Monday's two, Tuesday morning): not past the limit yet,
    # so the second is walked too, and the caller is told there are more than 3 (the spans past
    # the limit may be cut short: a caller only uses them to know it went past).
    spans = HISTORY.open_intervals(a, b, limit=3)
    assert spans[:3] == full[:3] and 3 < len(spans) < len(full)


def test_an_opening_at_the_very_instant_a_new_version_takes_effect_is_the_new_versions_to_give():
    mondays = Calendar(weekly=((0, time(9), time(17)),), version=1)
    # The old version would open on Monday 7 December at 09:00, just when the new one (closed
    # that day) takes effect: the new one decides, and it opens on Tuesday.
    closed_monday = Calendar(weekly=tuple((d, time(9), time(17)) for d in range(5)),
                             closed_days={date(2026, 12, 7): "Cierre"}, version=2,
                             effective_from=at(2026, 12, 7, 9, 0))
    history = CalendarHistory((mondays, closed_monday))
    assert history.next_opening(at(2026, 12, 1, 10, 0)) == at(2026, 12, 8, 9, 0)


def test_a_next_opening_found_past_a_change_is_looked_for_again_from_the_change_on():
    mondays = Calendar(weekly=((0, time(9), time(17)),), version=1)
    weekdays = Calendar(weekly=tuple((d, time(9), time(17)) for d in range(5)), version=2,
                        effective_from=at(2026, 12, 2, 12, 0))
    saturdays = Calendar(weekly=((5, time(9), time(13)),), version=3, effective_from=at(2026, 12, 4, 12, 0))
    history = CalendarHistory((mondays, weekdays, saturdays))
    # Tuesday 10:00 is open on the second version, but the first is in force then; the first
    # would open next Monday, past the change, so the second (not the third) is asked from its start.
    assert history.next_opening(at(2026, 12, 1, 10, 0)) == at(2026, 12, 2, 12, 0)
